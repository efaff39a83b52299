"""Deterministic autoencoder 32x32x3 ([-1,1]) <-> 8x8x4 latent, shared by tiny-ldm and tiny-dit-video.

  from genloom_models.autoencoder import load_autoencoder
  ae, scale_factor = load_autoencoder()          # checkpoints/autoencoder.pt
  z = ae.encode(x) * scale_factor               # x [B,3,32,32] in [-1,1] -> [B,4,8,8]
  x = ae.decode(z / scale_factor)

Checkpoint keys: state_dict, config (constructor kwargs), scale_factor (1/std of latents).
"""
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

TRAIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_CKPT = os.path.join(TRAIN_DIR, "checkpoints", "autoencoder.pt")


def gn(c):
    return nn.GroupNorm(8, c)


class ResBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.n1, self.c1 = gn(c), nn.Conv2d(c, c, 3, padding=1)
        self.n2, self.c2 = gn(c), nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        h = self.c1(F.silu(self.n1(x)))
        return x + self.c2(F.silu(self.n2(h)))


class Encoder(nn.Module):
    """pixels [B,3,32,32] in [-1,1] -> latent [B,4,8,8] (posterior mean, unscaled)."""

    def __init__(self, ch=32, ch2=64, latent_channels=4):
        super().__init__()
        self.conv_in = nn.Conv2d(3, ch, 3, padding=1)
        self.down1 = nn.Conv2d(ch, ch2, 3, stride=2, padding=1)
        self.down2 = nn.Conv2d(ch2, ch2, 3, stride=2, padding=1)
        self.res = ResBlock(ch2)
        self.norm_out = gn(ch2)
        self.conv_out = nn.Conv2d(ch2, latent_channels, 3, padding=1)

    def forward(self, pixels):
        h = F.silu(self.conv_in(pixels))
        h = F.silu(self.down1(h))
        h = self.down2(h)
        h = self.res(h)
        return self.conv_out(F.silu(self.norm_out(h)))


class Decoder(nn.Module):
    """latent [B,4,8,8] (unscaled) -> pixels [B,3,32,32] (~[-1,1])."""

    def __init__(self, ch=32, ch2=64, latent_channels=4):
        super().__init__()
        self.conv_in = nn.Conv2d(latent_channels, ch2, 3, padding=1)
        self.res1, self.res2 = ResBlock(ch2), ResBlock(ch2)
        self.up1 = nn.Conv2d(ch2, ch2, 3, padding=1)
        self.up2 = nn.Conv2d(ch2, ch, 3, padding=1)
        self.conv_mid = nn.Conv2d(ch, ch, 3, padding=1)
        self.norm_out = gn(ch)
        self.conv_out = nn.Conv2d(ch, 3, 3, padding=1)

    def forward(self, latent):
        h = self.res2(self.res1(self.conv_in(latent)))
        h = F.silu(self.up1(F.interpolate(h, scale_factor=2.0, mode="nearest")))
        h = F.silu(self.up2(F.interpolate(h, scale_factor=2.0, mode="nearest")))
        h = F.silu(self.conv_mid(h))
        return self.conv_out(F.silu(self.norm_out(h)))


class AutoEncoder(nn.Module):
    def __init__(self, ch=32, ch2=64, latent_channels=4):
        super().__init__()
        self.config = {"ch": ch, "ch2": ch2, "latent_channels": latent_channels}
        self.encoder = Encoder(ch, ch2, latent_channels)
        self.decoder = Decoder(ch, ch2, latent_channels)

    def encode(self, pixels):
        return self.encoder(pixels)

    def decode(self, latent):
        return self.decoder(latent)

    def forward(self, pixels):
        z = self.encoder(pixels)
        return self.decoder(z), z


def load_autoencoder(path=DEFAULT_CKPT):
    ck = torch.load(path, map_location="cpu")
    ae = AutoEncoder(**ck["config"])
    ae.load_state_dict(ck["state_dict"])
    return ae.eval(), float(ck["scale_factor"])
