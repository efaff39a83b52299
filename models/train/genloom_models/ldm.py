"""tiny-ldm networks: transformer text encoder and a block-structured UNet with cross-attention.

The UNet's attributes follow diffusers (time_embedding, conv_in, down_blocks, mid_block, up_blocks,
conv_out); each block is exported as its own TorchScript component (see export_ldm.py) with the
named inputs/outputs listed in UNET_GRAPH.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class TextEncoder(nn.Module):
    """input_ids [B,L] int64 -> last_hidden_state [B,L,D].  Pre-LN transformer, no padding mask
    (PAD positions are ordinary tokens, so the output is a pure function of the padded ids)."""

    def __init__(self, vocab_size, max_length=16, dim=128, layers=2, heads=4):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab_size, dim)
        self.position_embedding = nn.Parameter(torch.zeros(1, max_length, dim))
        nn.init.normal_(self.position_embedding, std=0.02)
        self.layers = nn.ModuleList([EncoderLayer(dim, heads) for _ in range(layers)])
        self.final_layer_norm = nn.LayerNorm(dim)

    def forward(self, input_ids):
        h = self.token_embedding(input_ids) + self.position_embedding[:, : input_ids.shape[1]]
        for layer in self.layers:
            h = layer(h)
        return self.final_layer_norm(h)


class EncoderLayer(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x):
        B, L, D = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(B, L, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(D // self.heads), -1) @ v
        x = x + self.out(a.transpose(1, 2).reshape(B, L, D))
        return x + self.mlp(self.ln2(x))


def timestep_embedding(t, dim):
    """diffusers get_timestep_embedding(flip_sin_to_cos=True, downscale_freq_shift=0)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], -1)


class TimeEmbedding(nn.Module):
    """timestep [B] float32 (0..999) -> temb [B, E]."""

    def __init__(self, base=64, dim=256):
        super().__init__()
        self.base = base
        self.linear_1 = nn.Linear(base, dim)
        self.linear_2 = nn.Linear(dim, dim)

    def forward(self, timestep):
        return self.linear_2(F.silu(self.linear_1(timestep_embedding(timestep, self.base))))


def gn(c):
    return nn.GroupNorm(8, c)


class ResnetBlock(nn.Module):
    def __init__(self, cin, cout, temb):
        super().__init__()
        self.norm1, self.conv1 = gn(cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.time_emb_proj = nn.Linear(temb, cout)
        self.norm2, self.conv2 = gn(cout), nn.Conv2d(cout, cout, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time_emb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return h + (self.conv_shortcut(x) if self.conv_shortcut is not None else x)


def _attend(q, k, v, heads):
    """q [B,C,N] (channels-first), k/v [B,C,M] -> [B,C,N]."""
    B, C, N = q.shape
    d = C // heads
    q = q.view(B, heads, d, N).transpose(-1, -2)  # B h N d
    k = k.view(B, heads, d, -1)  # B h d M
    v = v.view(B, heads, d, -1).transpose(-1, -2)  # B h M d
    a = torch.softmax((q @ k) / math.sqrt(d), -1) @ v  # B h N d
    return a.transpose(-1, -2).reshape(B, C, N)


class AttentionBlock(nn.Module):
    """Transformer2D-like block on a feature map: [optional self-attention], cross-attention to
    text, feed-forward; projections are 1x1 convolutions."""

    def __init__(self, c, ctx_dim, heads=4, self_attn=False, ff_mult=2):
        super().__init__()
        self.heads = heads
        self.self_attn = self_attn
        if self_attn:
            self.norm_sa = gn(c)
            self.to_qkv = nn.Conv2d(c, 3 * c, 1)
            self.sa_out = nn.Conv2d(c, c, 1)
        self.norm_ca = gn(c)
        self.to_q = nn.Conv2d(c, c, 1)
        self.to_kv = nn.Linear(ctx_dim, 2 * c)
        self.ca_out = nn.Conv2d(c, c, 1)
        self.norm_ff = gn(c)
        self.ff = nn.Sequential(nn.Conv2d(c, ff_mult * c, 1), nn.GELU(), nn.Conv2d(ff_mult * c, c, 1))

    def forward(self, x, ctx):
        B, C, H, W = x.shape
        if self.self_attn:
            q, k, v = self.to_qkv(self.norm_sa(x)).flatten(2).chunk(3, 1)
            x = x + self.sa_out(_attend(q, k, v, self.heads).view(B, C, H, W))
        q = self.to_q(self.norm_ca(x)).flatten(2)
        k, v = self.to_kv(ctx).transpose(1, 2).chunk(2, 1)  # [B,C,L] each
        x = x + self.ca_out(_attend(q, k.contiguous(), v.contiguous(), self.heads).view(B, C, H, W))
        return x + self.ff(self.norm_ff(x))


class DownBlock0(nn.Module):
    """(h, temb, ctx) -> (skip [B,c0,8,8], out [B,c0,4,4])."""

    def __init__(self, c0, temb, ctx):
        super().__init__()
        self.resnet = ResnetBlock(c0, c0, temb)
        self.attention = AttentionBlock(c0, ctx)
        self.downsample = nn.Conv2d(c0, c0, 3, stride=2, padding=1)

    def forward(self, h, temb, ctx):
        s = self.attention(self.resnet(h, temb), ctx)
        return s, self.downsample(s)


class DownBlock1(nn.Module):
    """(h [B,c0,4,4], temb, ctx) -> out [B,c1,4,4] (also the skip of up_blocks.0)."""

    def __init__(self, c0, c1, temb, ctx):
        super().__init__()
        self.resnet = ResnetBlock(c0, c1, temb)
        self.attention = AttentionBlock(c1, ctx)

    def forward(self, h, temb, ctx):
        return self.attention(self.resnet(h, temb), ctx)


class MidBlock(nn.Module):
    def __init__(self, c1, temb, ctx):
        super().__init__()
        self.resnet_1 = ResnetBlock(c1, c1, temb)
        self.attention = AttentionBlock(c1, ctx, self_attn=True)
        self.resnet_2 = ResnetBlock(c1, c1, temb)

    def forward(self, h, temb, ctx):
        return self.resnet_2(self.attention(self.resnet_1(h, temb), ctx), temb)


class UpBlock0(nn.Module):
    """(h [B,c1,4,4], skip [B,c1,4,4], temb, ctx) -> [B,c1,8,8]."""

    def __init__(self, c1, temb, ctx):
        super().__init__()
        self.resnet = ResnetBlock(2 * c1, c1, temb)
        self.attention = AttentionBlock(c1, ctx)
        self.upsample = nn.Conv2d(c1, c1, 3, padding=1)

    def forward(self, h, skip, temb, ctx):
        h = self.attention(self.resnet(torch.cat([h, skip], 1), temb), ctx)
        return self.upsample(F.interpolate(h, scale_factor=2.0, mode="nearest"))


class UpBlock1(nn.Module):
    """(h [B,c1,8,8], skip [B,c0,8,8], temb, ctx) -> [B,c0,8,8]."""

    def __init__(self, c0, c1, temb, ctx):
        super().__init__()
        self.resnet = ResnetBlock(c1 + c0, c0, temb)
        self.attention = AttentionBlock(c0, ctx)

    def forward(self, h, skip, temb, ctx):
        return self.attention(self.resnet(torch.cat([h, skip], 1), temb), ctx)


class ConvOut(nn.Module):
    def __init__(self, c0, out=4):
        super().__init__()
        self.norm = gn(c0)
        self.conv = nn.Conv2d(c0, out, 3, padding=1)

    def forward(self, h):
        return self.conv(F.silu(self.norm(h)))


# (block name, attribute path, input env names, output env names, cacheable)
UNET_GRAPH = [
    ("time_embedding", ["timestep"], ["temb"], False),
    ("conv_in", ["sample"], ["h_in"], False),
    ("down_blocks.0", ["h_in", "temb", "encoder_hidden_states"], ["down0_skip", "down0_out"], True),
    ("down_blocks.1", ["down0_out", "temb", "encoder_hidden_states"], ["down1_out"], True),
    ("mid_block", ["down1_out", "temb", "encoder_hidden_states"], ["mid_out"], True),
    ("up_blocks.0", ["mid_out", "down1_out", "temb", "encoder_hidden_states"], ["up0_out"], True),
    ("up_blocks.1", ["up0_out", "down0_skip", "temb", "encoder_hidden_states"], ["up1_out"], True),
    ("conv_out", ["up1_out"], ["noise_pred"], False),
]


class UNet(nn.Module):
    def __init__(self, in_channels=4, c0=48, c1=96, temb=192, ctx=128):
        super().__init__()
        self.config = {"in_channels": in_channels, "c0": c0, "c1": c1, "temb": temb, "ctx": ctx}
        self.time_embedding = TimeEmbedding(64, temb)
        self.conv_in = nn.Conv2d(in_channels, c0, 3, padding=1)
        self.down_blocks = nn.ModuleList([DownBlock0(c0, temb, ctx), DownBlock1(c0, c1, temb, ctx)])
        self.mid_block = MidBlock(c1, temb, ctx)
        self.up_blocks = nn.ModuleList([UpBlock0(c1, temb, ctx), UpBlock1(c0, c1, temb, ctx)])
        self.conv_out = ConvOut(c0, in_channels)

    def block(self, name):
        m = self
        for part in name.split("."):
            m = m[int(part)] if part.isdigit() else getattr(m, part)
        return m

    def forward(self, sample, timestep, encoder_hidden_states):
        env = {"sample": sample, "timestep": timestep, "encoder_hidden_states": encoder_hidden_states}
        for name, ins, outs, _ in UNET_GRAPH:
            r = self.block(name)(*[env[i] for i in ins])
            r = r if isinstance(r, tuple) else (r,)
            env.update(zip(outs, r))
        return env["noise_pred"]
