"""VQ tokenizer for the AR packages: 32x32x3 pixels in [-1, 1] <-> 8x8 grid of int64 codes.

Conv encoder (stride-2 convs), EMA codebook (van den Oord et al. 2017, EMA variant) with a
commitment loss, and a decoder built from nearest-upsample + conv (ConvTranspose2d is slow on
a 2-core CPU).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class ResBlock(nn.Module):
    def __init__(self, ch, k2=1):
        super().__init__()
        self.c1 = nn.Conv2d(ch, ch, 3, padding=1)
        self.c2 = nn.Conv2d(ch, ch, k2, padding=k2 // 2)

    def forward(self, x):
        return x + self.c2(F.silu(self.c1(F.silu(x))))


class VQEncoderNet(nn.Module):
    def __init__(self, ch=64, dim=32, n_res=1):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, ch, 3, padding=1), nn.SiLU(),
            nn.Conv2d(ch, ch, 4, stride=2, padding=1), nn.SiLU(),   # 16x16
            nn.Conv2d(ch, ch, 4, stride=2, padding=1),              # 8x8
            *[ResBlock(ch) for _ in range(n_res)], nn.SiLU(),
            nn.Conv2d(ch, dim, 1))

    def forward(self, x):
        return self.net(x)


class VQDecoderNet(nn.Module):
    """dec_res > 1: a wider 8x8 trunk (dec_ch) of 3x3 res blocks, so each code sees its neighbours
    (colours of the shape interior / background) before upsampling; dec_res=1 is the original."""

    def __init__(self, ch=64, dim=32, dec_ch=64, dec_res=1):
        super().__init__()
        if dec_res > 1:
            self.net = nn.Sequential(
                nn.Conv2d(dim, dec_ch, 3, padding=1), *[ResBlock(dec_ch, 3) for _ in range(dec_res)],
                nn.SiLU(),
                nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(dec_ch, ch, 3, padding=1),
                ResBlock(ch), nn.SiLU(),
                nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(ch, ch, 3, padding=1), nn.SiLU(),
                nn.Conv2d(ch, 3, 3, padding=1))
            return
        self.net = nn.Sequential(
            nn.Conv2d(dim, ch, 3, padding=1), ResBlock(ch), nn.SiLU(),
            nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(ch, ch, 3, padding=1), nn.SiLU(),
            nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(ch, ch, 3, padding=1), nn.SiLU(),
            nn.Conv2d(ch, 3, 3, padding=1))

    def forward(self, z):
        return self.net(z)


class VQModel(nn.Module):
    def __init__(self, codebook_size=128, dim=32, ch=64, decay=0.95, beta=0.25, enc_res=1, dec_ch=64,
                 dec_res=1):
        super().__init__()
        self.K, self.dim, self.decay, self.beta = codebook_size, dim, decay, beta
        self.arch = {"enc_res": enc_res, "dec_ch": dec_ch, "dec_res": dec_res}
        self.encoder = VQEncoderNet(ch, dim, enc_res)
        self.decoder = VQDecoderNet(ch, dim, dec_ch, dec_res)
        self.register_buffer("codebook", torch.randn(codebook_size, dim) * 0.1)
        self.register_buffer("ema_count", torch.ones(codebook_size))
        self.register_buffer("ema_sum", self.codebook.clone())

    def quantize(self, z):
        # z [B,D,H,W] -> codes [B,H,W]
        B, D, H, W = z.shape
        flat = z.permute(0, 2, 3, 1).reshape(-1, D)
        d = (flat.pow(2).sum(1, keepdim=True) - 2 * flat @ self.codebook.t()
             + self.codebook.pow(2).sum(1)[None])
        return d.argmin(1).view(B, H, W)

    def lookup(self, codes):
        return F.embedding(codes, self.codebook).permute(0, 3, 1, 2)

    def encode(self, x):
        return self.quantize(self.encoder(x))

    def decode(self, codes):
        return self.decoder(self.lookup(codes))

    def forward(self, x):
        z = self.encoder(x)
        codes = self.quantize(z)
        q = self.lookup(codes)
        if self.training:
            with torch.no_grad():
                flat = z.permute(0, 2, 3, 1).reshape(-1, self.dim)
                onehot = F.one_hot(codes.view(-1), self.K).float()
                self.ema_count.mul_(self.decay).add_(onehot.sum(0), alpha=1 - self.decay)
                self.ema_sum.mul_(self.decay).add_(onehot.t() @ flat, alpha=1 - self.decay)
                n = self.ema_count.sum()
                count = (self.ema_count + 1e-5) / (n + self.K * 1e-5) * n
                self.codebook.copy_(self.ema_sum / count[:, None])
                # restart dead codes from random encoder outputs
                dead = self.ema_count < 1e-3
                if dead.any():
                    idx = torch.randint(0, flat.shape[0], (int(dead.sum()),))
                    self.codebook[dead] = flat[idx]
                    self.ema_sum[dead] = flat[idx]
                    self.ema_count[dead] = 1.0
        commit = F.mse_loss(z, q.detach())
        q_st = z + (q - z).detach()
        return self.decoder(q_st), commit, codes


class VQEncoderExport(nn.Module):
    """pixels [-1,3,32,32] in [-1,1] -> codes int64 [-1,8,8]."""

    def __init__(self, vq):
        super().__init__()
        self.encoder = vq.encoder
        self.register_buffer("codebook", vq.codebook.clone())

    def forward(self, pixels):
        z = self.encoder(pixels)
        B, D, H, W = z.shape
        flat = z.permute(0, 2, 3, 1).reshape(-1, D)
        d = (flat.pow(2).sum(1, keepdim=True) - 2 * flat @ self.codebook.t()
             + self.codebook.pow(2).sum(1)[None])
        return d.argmin(1).view(B, H, W)


class VQDecoderExport(nn.Module):
    """codes int64 [-1,8,8] -> pixels [-1,3,32,32] in [-1,1]."""

    def __init__(self, vq):
        super().__init__()
        self.decoder = vq.decoder
        self.register_buffer("codebook", vq.codebook.clone())

    def forward(self, codes):
        q = F.embedding(codes, self.codebook).permute(0, 3, 1, 2)
        return self.decoder(q).clamp(-1, 1)
