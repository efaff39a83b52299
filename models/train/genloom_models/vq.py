"""VQ tokenizer for the AR packages: 32x32x3 pixels in [-1, 1] <-> 8x8 grid of int64 codes.

The codes quantise the continuous 8x8x4 latent of the autoencoder shared with tiny-ldm and
tiny-dit-video: each 4-d latent vector is replaced by its nearest k-means centre
(`train_latent_vq`). An earlier tokenizer trained end to end (conv encoder, EMA codebook, conv
decoder) lost the shape's outline in the round trip (shapes-features shape accuracy about 0.55 on
reconstructions) and capped both AR models there; see models/train/README.md.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


def nearest_code(z, codebook):
    """z [B,D,H,W], codebook [K,D] -> index of the nearest centre per position, [B,H,W] int64."""
    B, D, H, W = z.shape
    flat = z.permute(0, 2, 3, 1).reshape(-1, D)
    d = (flat.pow(2).sum(1, keepdim=True) - 2 * flat @ codebook.t() + codebook.pow(2).sum(1)[None])
    return d.argmin(1).view(B, H, W)


class LatentVQ(nn.Module):
    """`encoder`: the frozen autoencoder encoder (pixels -> unscaled latent [B,4,8,8]);
    `decoder`: an autoencoder decoder (latent -> pixels); `codebook` [K,4] k-means centres."""

    def __init__(self, encoder, decoder, codebook):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder
        self.K, self.dim = codebook.shape
        self.register_buffer("codebook", codebook.clone())

    def lookup(self, codes):
        return F.embedding(codes, self.codebook).permute(0, 3, 1, 2)

    def encode(self, x):
        return nearest_code(self.encoder(x), self.codebook)

    def decode(self, codes):
        return self.decoder(self.lookup(codes))


def kmeans(x, k, iters, g):
    """Lloyd's k-means with k-means++ seeding; x [N,D] -> centres [k,D]. Empty clusters are
    re-seeded from the points farthest from their centre."""
    n = x.shape[0]
    centres = [x[torch.randint(0, n, (1,), generator=g)]]
    d2 = (x - centres[0]).pow(2).sum(1)
    for _ in range(1, k):
        i = torch.multinomial(d2 / d2.sum(), 1, generator=g)
        centres.append(x[i])
        d2 = torch.minimum(d2, (x - x[i]).pow(2).sum(1))
    c = torch.cat(centres)
    for _ in range(iters):
        dist = torch.cdist(x, c)
        a = dist.argmin(1)
        s = torch.zeros_like(c).index_add_(0, a, x)
        cnt = torch.bincount(a, minlength=k).to(x.dtype)
        ok = cnt > 0
        c[ok] = s[ok] / cnt[ok, None]
        if (~ok).any():
            far = dist.gather(1, a[:, None]).squeeze(1).topk(int((~ok).sum())).indices
            c[~ok] = x[far]
    return c


class VQEncoderExport(nn.Module):
    """pixels [-1,3,32,32] in [-1,1] -> codes int64 [-1,8,8]."""

    def __init__(self, vq):
        super().__init__()
        self.encoder = vq.encoder
        self.register_buffer("codebook", vq.codebook.clone())

    def forward(self, pixels):
        return nearest_code(self.encoder(pixels), self.codebook)


class VQDecoderExport(nn.Module):
    """codes int64 [-1,8,8] -> pixels [-1,3,32,32] in [-1,1]."""

    def __init__(self, vq):
        super().__init__()
        self.decoder = vq.decoder
        self.register_buffer("codebook", vq.codebook.clone())

    def forward(self, codes):
        q = F.embedding(codes, self.codebook).permute(0, 3, 1, 2)
        return self.decoder(q).clamp(-1, 1)
