"""Tiny Movie Gen-style video DiT over per-frame autoencoder latents.

Latents [B, 4, F, 8, 8]; patchify 1x2x2 -> F*16 tokens. Blocks: adaLN modulation from the timestep
(shift/scale/gate, DiT / PixArt style), bidirectional self-attention over all frames, cross-attention
to the text encoder's hidden states, MLP. Flow matching: x_sigma = (1 - sigma) x0 + sigma eps,
prediction v = eps - x0; the timestep fed to the graph is sigma * 1000.

First-frame conditioning: `cond_latent` (the reference latent at frame 0, zeros elsewhere) and
`cond_mask` (1 where given) are concatenated to the noisy sample channels before patchify.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def attention(q, k, v, heads):
    B, Tq, D = q.shape
    Tk = k.shape[1]
    hd = D // heads
    q = q.view(B, Tq, heads, hd).transpose(1, 2)
    k = k.view(B, Tk, heads, hd).transpose(1, 2)
    v = v.view(B, Tk, heads, hd).transpose(1, 2)
    a = ((q @ k.transpose(-1, -2)) / math.sqrt(hd)).softmax(-1)
    return (a @ v).transpose(1, 2).reshape(B, Tq, D)


class TextEncoder(nn.Module):
    """input_ids [B,L] -> last_hidden_state [B,L,D]: embedding + positions + 1 self-attention layer."""

    def __init__(self, vocab, max_len, d=64, heads=4):
        super().__init__()
        self.heads = heads
        self.emb = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(torch.randn(1, max_len, d) * 0.02)
        self.n1, self.n2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.o = nn.Linear(d, d)
        self.mlp = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Linear(2 * d, d))
        self.out = nn.LayerNorm(d)

    def forward(self, input_ids):
        x = self.emb(input_ids) + self.pos
        q, k, v = self.qkv(self.n1(x)).chunk(3, dim=-1)
        x = x + self.o(attention(q, k, v, self.heads))
        x = x + self.mlp(self.n2(x))
        return self.out(x)


def timestep_embedding(t, dim, max_period=10000.0):
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half)
    args = t[:, None].float() * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class Embed(nn.Module):
    """(sample, timestep, encoder_hidden_states, cond_latent, cond_mask) -> (hidden, temb, context)."""

    def __init__(self, d, text_dim, frames=8, lat_ch=4, grid=8, pooled_text=False, fixed_pos=False):
        super().__init__()
        self.d = d
        # pooled_text: the mean of the text encoder's hidden states is added to the timestep
        # embedding, so the adaLN modulation of every block is also text-conditioned (global colour /
        # direction signal); cross-attention stays as the per-token path.
        self.pool = (nn.Sequential(nn.Linear(text_dim, d), nn.SiLU(), nn.Linear(d, d))
                     if pooled_text else None)
        self.patch = nn.Conv3d(2 * lat_ch + 1, d, kernel_size=(1, 2, 2), stride=(1, 2, 2))
        n_sp = (grid // 2) ** 2
        self.pos_t = nn.Parameter(torch.randn(1, frames, 1, d) * 0.02)
        self.pos_s = nn.Parameter(torch.randn(1, 1, n_sp, d) * 0.02)
        # fixed_pos: fixed sin-cos embeddings of the frame index and of the (row, column) patch
        # position, elements in [-1, 1] (as DiT's fixed 2D embedding), added to the learned ones.
        # At high noise a token's content is noise of norm ~sqrt(d)-scale; learned embeddings
        # initialised at 0.02 left frames indistinguishable there, so text-to-video could not
        # learn where the shape is in which frame (the direction of motion).
        self.fixed_pos = fixed_pos
        if fixed_pos:
            g = grid // 2
            ft = timestep_embedding(torch.arange(frames), d, max_period=64.0)
            rows = timestep_embedding(torch.arange(g).repeat_interleave(g), d // 2, max_period=64.0)
            cols = timestep_embedding(torch.arange(g).repeat(g), d // 2, max_period=64.0)
            self.register_buffer("pos_fixed", ft.view(1, frames, 1, d)
                                 + torch.cat([rows, cols], -1).view(1, 1, n_sp, d))
        self.t_mlp = nn.Sequential(nn.Linear(d, d), nn.SiLU(), nn.Linear(d, d))
        self.txt = nn.Sequential(nn.Linear(text_dim, d), nn.GELU(), nn.Linear(d, d))

    def forward(self, sample, timestep, encoder_hidden_states, cond_latent, cond_mask):
        x = self.patch(torch.cat([sample, cond_latent, cond_mask], dim=1))  # B,d,F,4,4
        B, D, Fr, H, W = x.shape
        x = x.permute(0, 2, 3, 4, 1).reshape(B, Fr, H * W, D) + self.pos_t + self.pos_s
        if self.fixed_pos:
            x = x + self.pos_fixed
        hidden = x.reshape(B, Fr * H * W, D)
        temb = self.t_mlp(timestep_embedding(timestep, self.d))
        if self.pool is not None:
            temb = temb + self.pool(encoder_hidden_states.mean(1))
        context = self.txt(encoder_hidden_states)
        return hidden, temb, context


class DiTBlock(nn.Module):
    """(hidden, temb, context) -> hidden."""

    def __init__(self, d, heads, mlp_mult=3):
        super().__init__()
        self.heads = heads
        self.ada = nn.Linear(d, 6 * d)
        nn.init.zeros_(self.ada.weight)
        nn.init.zeros_(self.ada.bias)
        self.n1 = nn.LayerNorm(d, elementwise_affine=False)
        self.qkv = nn.Linear(d, 3 * d)
        self.o = nn.Linear(d, d)
        self.n2 = nn.LayerNorm(d)
        self.cq = nn.Linear(d, d)
        self.ckv = nn.Linear(d, 2 * d)
        self.co = nn.Linear(d, d)
        self.n3 = nn.LayerNorm(d, elementwise_affine=False)
        self.mlp = nn.Sequential(nn.Linear(d, mlp_mult * d), nn.GELU(), nn.Linear(mlp_mult * d, d))

    def forward(self, hidden, temb, context):
        sh1, sc1, g1, sh2, sc2, g2 = self.ada(F.silu(temb)).unsqueeze(1).chunk(6, dim=-1)
        h = self.n1(hidden) * (1 + sc1) + sh1
        q, k, v = self.qkv(h).chunk(3, dim=-1)
        hidden = hidden + (1 + g1) * self.o(attention(q, k, v, self.heads))
        k, v = self.ckv(context).chunk(2, dim=-1)
        hidden = hidden + self.co(attention(self.cq(self.n2(hidden)), k, v, self.heads))
        h = self.n3(hidden) * (1 + sc2) + sh2
        return hidden + (1 + g2) * self.mlp(h)


class FinalLayer(nn.Module):
    """(hidden, temb) -> velocity [B,4,F,8,8]."""

    def __init__(self, d, frames=8, lat_ch=4, grid=8, out_maps=0):
        super().__init__()
        self.frames, self.c, self.g = frames, lat_ch, grid // 2
        self.norm = nn.LayerNorm(d, elementwise_affine=False)
        self.ada = nn.Linear(d, 2 * d)
        self.out = nn.Linear(d, lat_ch * 4)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        # out_maps K: a conditioned space-time output shift. K learned velocity maps [F*patches,
        # c*2*2] are mixed per sample with bilinear weights (A temb) * (B temb) of the adaLN
        # embedding (timestep + pooled text). Where the shape is in which frame depends on the
        # direction word, but how a shape shows in the latent depends on its colours, so the
        # direction's effect on the expected video is a colour x direction product that averages
        # to zero over colours: a term linear in the text gets no first-order gradient towards it,
        # and the plain DiT never learnt it. The product weights have that interaction from the
        # start. Zero maps: a no-op until trained, so it can extend a trained checkpoint.
        self.out_maps = out_maps
        if out_maps:
            self.om_a = nn.Linear(d, out_maps)
            self.om_b = nn.Linear(d, out_maps)
            self.om_maps = nn.Parameter(torch.zeros(out_maps, frames * self.g * self.g, lat_ch * 4))

    def forward(self, hidden, temb):
        sh, sc = self.ada(F.silu(temb)).unsqueeze(1).chunk(2, dim=-1)
        x = self.out(self.norm(hidden) * (1 + sc) + sh)  # B, F*16, c*2*2
        B = x.shape[0]
        if self.out_maps:
            w = self.om_a(temb) * self.om_b(temb)  # B,K
            x = x + (w @ self.om_maps.view(self.out_maps, -1)).view(B, x.shape[1], x.shape[2])
        g, c = self.g, self.c
        x = x.view(B, self.frames, g, g, c, 2, 2).permute(0, 4, 1, 2, 5, 3, 6)
        return x.reshape(B, c, self.frames, g * 2, g * 2)


class VideoDiT(nn.Module):
    def __init__(self, vocab, text_len, d=128, layers=4, heads=4, text_dim=64, frames=8, pooled_text=False,
                 fixed_pos=False, out_maps=0):
        super().__init__()
        self.text_encoder = TextEncoder(vocab, text_len, text_dim, heads)
        self.embed = Embed(d, text_dim, frames, pooled_text=pooled_text, fixed_pos=fixed_pos)
        self.blocks = nn.ModuleList([DiTBlock(d, heads) for _ in range(layers)])
        self.final_layer = FinalLayer(d, frames, out_maps=out_maps)

    def denoise(self, sample, timestep, ehs, cond_latent, cond_mask):
        h, temb, ctx = self.embed(sample, timestep, ehs, cond_latent, cond_mask)
        for b in self.blocks:
            h = b(h, temb, ctx)
        return self.final_layer(h, temb)

    def forward(self, sample, timestep, input_ids, cond_latent, cond_mask):
        return self.denoise(sample, timestep, self.text_encoder(input_ids), cond_latent, cond_mask)


def first_frame_cond(x0, use):
    """x0 [B,4,F,8,8], use bool [B] -> cond_latent, cond_mask (frame 0 only, where use)."""
    mask = torch.zeros(x0.shape[0], 1, *x0.shape[2:])
    mask[:, :, 0] = 1.0
    mask = mask * use.float().view(-1, 1, 1, 1, 1)
    return x0 * mask, mask


def frame_noise(shape, corr, generator=None):
    """Gaussian noise [B,C,F,H,W] with correlation `corr` between frames: a per-video component
    shared by all frames (variance corr) plus an independent per-frame one (variance 1 - corr), so
    each element stays unit-variance (a mixed noise prior for video diffusion). corr 0 is i.i.d."""
    ind = torch.randn(shape, generator=generator)
    if corr == 0.0:
        return ind
    B, Ch, _, H, W = shape
    return mix_frame_noise(ind, torch.randn(B, Ch, 1, H, W, generator=generator), corr)


def mix_frame_noise(per_frame, shared, corr):
    """sqrt(corr) shared + sqrt(1 - corr) per_frame; shared [B,C,1,H,W] broadcasts over frames."""
    return per_frame if corr == 0.0 else math.sqrt(corr) * shared + math.sqrt(1.0 - corr) * per_frame
