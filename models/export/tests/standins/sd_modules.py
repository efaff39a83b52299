"""Stand-ins for diffusers' UNet2DConditionModel and AutoencoderKL, for the tests that run without
diffusers (CI). They have diffusers' attribute names, config keys and call signatures, with simplified
internals: the exporter wraps their blocks exactly as it wraps diffusers' own, so exporting them runs
the same code path as a real export. Each is built from the config dict a pipeline folder's
unet/config.json or vae/config.json holds (see make_unet_config / make_vae_config).

The UNet has two down blocks (cross-attention + downsample, plain), a cross-attention mid block and
two up blocks (plain + upsample, cross-attention): num_upsamplers 1. With addition_embed_type
"text_time" it adds SDXL's micro-conditioning (add_time_proj, add_embedding) to the timestep
embedding. The VAE has three levels (downsampling 4).
"""
import math
import types

import torch
import torch.nn as nn
import torch.nn.functional as F


def timestep_embedding(timesteps, dim, flip_sin_to_cos=True, downscale_freq_shift=0.0, max_period=10000):
    half = dim // 2
    exponent = -math.log(max_period) * torch.arange(0, half, dtype=torch.float32) / (half - downscale_freq_shift)
    emb = timesteps[:, None].float() * torch.exp(exponent)[None, :]
    emb = torch.cat([torch.sin(emb), torch.cos(emb)], dim=-1)
    if flip_sin_to_cos:
        emb = torch.cat([emb[:, half:], emb[:, :half]], dim=-1)
    return emb


class Timesteps(nn.Module):
    def __init__(self, num_channels, flip_sin_to_cos=True, downscale_freq_shift=0.0):
        super().__init__()
        self.num_channels, self.flip, self.shift = num_channels, flip_sin_to_cos, downscale_freq_shift

    def forward(self, timesteps):
        return timestep_embedding(timesteps, self.num_channels, self.flip, self.shift)


class TimestepEmbedding(nn.Module):
    def __init__(self, in_channels, time_embed_dim):
        super().__init__()
        self.linear_1 = nn.Linear(in_channels, time_embed_dim)
        self.act = nn.SiLU()
        self.linear_2 = nn.Linear(time_embed_dim, time_embed_dim)

    def forward(self, sample, condition=None):
        return self.linear_2(self.act(self.linear_1(sample)))


class ResnetBlock2D(nn.Module):
    def __init__(self, in_channels, out_channels, temb_channels, groups=8):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.time_emb_proj = nn.Linear(temb_channels, out_channels)
        self.norm2 = nn.GroupNorm(groups, out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else None

    def forward(self, input_tensor, temb):
        h = self.conv1(F.silu(self.norm1(input_tensor)))
        h = h + self.time_emb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        x = self.conv_shortcut(input_tensor) if self.conv_shortcut is not None else input_tensor
        return x + h


class Transformer2DModel(nn.Module):
    """Cross-attention to encoder_hidden_states (single head), returns a tuple like return_dict=False."""

    def __init__(self, channels, cross_dim, groups=8):
        super().__init__()
        self.norm = nn.GroupNorm(groups, channels)
        self.proj_in = nn.Conv2d(channels, channels, 1)
        self.to_q = nn.Linear(channels, channels)
        self.to_k = nn.Linear(cross_dim, channels)
        self.to_v = nn.Linear(cross_dim, channels)
        self.proj_out = nn.Conv2d(channels, channels, 1)
        self.scale = 1.0 / math.sqrt(channels)

    def forward(self, hidden_states, encoder_hidden_states=None, attention_mask=None, cross_attention_kwargs=None,
                encoder_attention_mask=None, return_dict=True):
        b, c, h, w = hidden_states.shape
        x = self.proj_in(self.norm(hidden_states)).reshape(b, c, h * w).transpose(1, 2)
        q, k, v = self.to_q(x), self.to_k(encoder_hidden_states), self.to_v(encoder_hidden_states)
        a = torch.softmax(q @ k.transpose(1, 2) * self.scale, dim=-1) @ v
        out = hidden_states + self.proj_out(a.transpose(1, 2).reshape(b, c, h, w))
        return (out,)


class Downsample2D(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, hidden_states):
        return self.conv(hidden_states)


class Upsample2D(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, hidden_states, output_size=None):
        if output_size is None:
            hidden_states = F.interpolate(hidden_states, scale_factor=2.0, mode="nearest")
        else:
            hidden_states = F.interpolate(hidden_states, size=output_size, mode="nearest")
        return self.conv(hidden_states)


class CrossAttnDownBlock2D(nn.Module):
    def __init__(self, cin, cout, temb, cross, layers=2, downsample=True):
        super().__init__()
        self.has_cross_attention = True
        self.resnets = nn.ModuleList([ResnetBlock2D(cin if i == 0 else cout, cout, temb) for i in range(layers)])
        self.attentions = nn.ModuleList([Transformer2DModel(cout, cross) for _ in range(layers)])
        self.downsamplers = nn.ModuleList([Downsample2D(cout)]) if downsample else None

    def forward(self, hidden_states, temb=None, encoder_hidden_states=None, attention_mask=None,
                cross_attention_kwargs=None, encoder_attention_mask=None, additional_residuals=None):
        output_states = ()
        for resnet, attn in zip(self.resnets, self.attentions):
            hidden_states = resnet(hidden_states, temb)
            hidden_states = attn(hidden_states, encoder_hidden_states=encoder_hidden_states, return_dict=False)[0]
            output_states = output_states + (hidden_states,)
        if self.downsamplers is not None:
            for d in self.downsamplers:
                hidden_states = d(hidden_states)
            output_states = output_states + (hidden_states,)
        return hidden_states, output_states


class DownBlock2D(nn.Module):
    def __init__(self, cin, cout, temb, layers=2, downsample=False):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock2D(cin if i == 0 else cout, cout, temb) for i in range(layers)])
        self.downsamplers = nn.ModuleList([Downsample2D(cout)]) if downsample else None

    def forward(self, hidden_states, temb=None, *args, **kwargs):
        output_states = ()
        for resnet in self.resnets:
            hidden_states = resnet(hidden_states, temb)
            output_states = output_states + (hidden_states,)
        if self.downsamplers is not None:
            for d in self.downsamplers:
                hidden_states = d(hidden_states)
            output_states = output_states + (hidden_states,)
        return hidden_states, output_states


class UNetMidBlock2DCrossAttn(nn.Module):
    def __init__(self, c, temb, cross):
        super().__init__()
        self.has_cross_attention = True
        self.resnets = nn.ModuleList([ResnetBlock2D(c, c, temb), ResnetBlock2D(c, c, temb)])
        self.attentions = nn.ModuleList([Transformer2DModel(c, cross)])

    def forward(self, hidden_states, temb=None, encoder_hidden_states=None, attention_mask=None,
                cross_attention_kwargs=None, encoder_attention_mask=None):
        hidden_states = self.resnets[0](hidden_states, temb)
        hidden_states = self.attentions[0](hidden_states, encoder_hidden_states=encoder_hidden_states,
                                           return_dict=False)[0]
        return self.resnets[1](hidden_states, temb)


class _UpBase(nn.Module):
    def __init__(self, cin, prev, cout, temb, layers, upsample, cross=None):
        super().__init__()
        self.resnets = nn.ModuleList([
            ResnetBlock2D((prev if i == 0 else cout) + (cin if i == layers - 1 else cout), cout, temb)
            for i in range(layers)])
        self.attentions = nn.ModuleList([Transformer2DModel(cout, cross) for _ in range(layers)]) if cross else None
        self.upsamplers = nn.ModuleList([Upsample2D(cout)]) if upsample else None

    def run(self, hidden_states, res_hidden_states_tuple, temb, encoder_hidden_states, upsample_size):
        for i, resnet in enumerate(self.resnets):
            res = res_hidden_states_tuple[-1]
            res_hidden_states_tuple = res_hidden_states_tuple[:-1]
            hidden_states = resnet(torch.cat([hidden_states, res], dim=1), temb)
            if self.attentions is not None:
                hidden_states = self.attentions[i](hidden_states, encoder_hidden_states=encoder_hidden_states,
                                                   return_dict=False)[0]
        if self.upsamplers is not None:
            for u in self.upsamplers:
                hidden_states = u(hidden_states, upsample_size)
        return hidden_states


class UpBlock2D(_UpBase):
    def forward(self, hidden_states, res_hidden_states_tuple, temb=None, upsample_size=None, *args, **kwargs):
        return self.run(hidden_states, res_hidden_states_tuple, temb, None, upsample_size)


class CrossAttnUpBlock2D(_UpBase):
    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.has_cross_attention = True

    def forward(self, hidden_states, res_hidden_states_tuple, temb=None, encoder_hidden_states=None,
                cross_attention_kwargs=None, upsample_size=None, attention_mask=None, encoder_attention_mask=None):
        return self.run(hidden_states, res_hidden_states_tuple, temb, encoder_hidden_states, upsample_size)


class FakeUNet2DConditionModel(nn.Module):
    """UNet2DConditionModel's attributes and forward() control flow (diffusers
    models/unets/unet_2d_condition.py), built from a unet/config.json dict."""

    def __init__(self, config):
        super().__init__()
        self.config = dict(config)
        ch = tuple(self.config["block_out_channels"])
        cin = self.config["in_channels"]
        cross = self.config["cross_attention_dim"]
        layers = self.config["layers_per_block"]
        temb = ch[0] * 4
        self.conv_in = nn.Conv2d(cin, ch[0], 3, padding=1)
        self.time_proj = Timesteps(ch[0], True, 0)
        self.time_embedding = TimestepEmbedding(ch[0], temb)
        if self.config.get("addition_embed_type") == "text_time":
            self.add_time_proj = Timesteps(self.config["addition_time_embed_dim"], True, 0)
            self.add_embedding = TimestepEmbedding(self.config["projection_class_embeddings_input_dim"], temb)
        self.time_embed_act = None
        self.down_blocks = nn.ModuleList([CrossAttnDownBlock2D(ch[0], ch[0], temb, cross, layers, True),
                                          DownBlock2D(ch[0], ch[1], temb, layers, False)])
        self.mid_block = UNetMidBlock2DCrossAttn(ch[1], temb, cross)
        self.up_blocks = nn.ModuleList([UpBlock2D(ch[0], ch[1], ch[1], temb, layers + 1, True),
                                        CrossAttnUpBlock2D(ch[0], ch[1], ch[0], temb, layers + 1, False, cross)])
        self.num_upsamplers = 1
        self.conv_norm_out = nn.GroupNorm(8, ch[0])
        self.conv_act = nn.SiLU()
        self.conv_out = nn.Conv2d(ch[0], cin, 3, padding=1)

    def forward(self, sample, timestep, encoder_hidden_states, added_cond_kwargs=None, return_dict=True):
        forward_upsample_size = any(d % (2 ** self.num_upsamplers) for d in sample.shape[-2:])
        upsample_size = None
        timesteps = timestep.expand(sample.shape[0])
        emb = self.time_embedding(self.time_proj(timesteps).to(sample.dtype), None)
        if self.config.get("addition_embed_type") == "text_time":
            text_embeds = added_cond_kwargs["text_embeds"]
            time_embeds = self.add_time_proj(added_cond_kwargs["time_ids"].flatten())
            time_embeds = time_embeds.reshape((text_embeds.shape[0], -1))
            emb = emb + self.add_embedding(torch.concat([text_embeds, time_embeds], dim=-1))
        sample = self.conv_in(sample)
        down_block_res_samples = (sample,)
        for blk in self.down_blocks:
            if getattr(blk, "has_cross_attention", False):
                sample, res = blk(hidden_states=sample, temb=emb, encoder_hidden_states=encoder_hidden_states)
            else:
                sample, res = blk(hidden_states=sample, temb=emb)
            down_block_res_samples += res
        sample = self.mid_block(sample, emb, encoder_hidden_states=encoder_hidden_states)
        for i, blk in enumerate(self.up_blocks):
            is_final = i == len(self.up_blocks) - 1
            res = down_block_res_samples[-len(blk.resnets):]
            down_block_res_samples = down_block_res_samples[:-len(blk.resnets)]
            if not is_final and forward_upsample_size:
                upsample_size = down_block_res_samples[-1].shape[2:]
            if getattr(blk, "has_cross_attention", False):
                sample = blk(hidden_states=sample, temb=emb, res_hidden_states_tuple=res,
                             encoder_hidden_states=encoder_hidden_states, upsample_size=upsample_size)
            else:
                sample = blk(hidden_states=sample, temb=emb, res_hidden_states_tuple=res, upsample_size=upsample_size)
        sample = self.conv_out(self.conv_act(self.conv_norm_out(sample)))
        return (sample,) if not return_dict else types.SimpleNamespace(sample=sample)


class DiagonalGaussianDistribution:
    def __init__(self, parameters):
        self.mean, self.logvar = torch.chunk(parameters, 2, dim=1)


class FakeAutoencoderKL(nn.Module):
    """AutoencoderKL's encode()/decode() return conventions; downsampling 4 (3 block_out_channels)."""

    def __init__(self, config):
        super().__init__()
        self.config = dict(config)
        latent_channels = self.config["latent_channels"]
        self.encoder = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1), nn.SiLU(), nn.Conv2d(16, 32, 3, 2, 1), nn.SiLU(),
                                     nn.Conv2d(32, 2 * latent_channels, 3, padding=1))
        self.quant_conv = nn.Conv2d(2 * latent_channels, 2 * latent_channels, 1)
        self.post_quant_conv = nn.Conv2d(latent_channels, latent_channels, 1)
        self.decoder = nn.Sequential(nn.Conv2d(latent_channels, 32, 3, padding=1), nn.SiLU(),
                                     nn.Upsample(scale_factor=2.0, mode="nearest"), nn.Conv2d(32, 16, 3, padding=1),
                                     nn.SiLU(), nn.Upsample(scale_factor=2.0, mode="nearest"),
                                     nn.Conv2d(16, 3, 3, padding=1))

    def encode(self, x, return_dict=True):
        post = DiagonalGaussianDistribution(self.quant_conv(self.encoder(x)))
        return (post,) if not return_dict else types.SimpleNamespace(latent_dist=post)

    def decode(self, z, return_dict=True):
        dec = self.decoder(self.post_quant_conv(z))
        return (dec,) if not return_dict else types.SimpleNamespace(sample=dec)


def make_unet_config(cross_attention_dim, sample_size=8, text_time=None):
    """A unet/config.json dict for FakeUNet2DConditionModel. text_time: None, or
    (addition_time_embed_dim, pooled dim) for SDXL-style added conditioning."""
    c = {"_class_name": "UNet2DConditionModel", "in_channels": 4, "out_channels": 4, "sample_size": sample_size,
         "block_out_channels": [32, 64], "layers_per_block": 2, "cross_attention_dim": cross_attention_dim,
         "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"],
         "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"], "mid_block_type": "UNetMidBlock2DCrossAttn",
         "center_input_sample": False, "addition_embed_type": None, "class_embed_type": None,
         "num_class_embeds": None, "encoder_hid_dim_type": None, "time_cond_proj_dim": None,
         "resnet_time_scale_shift": "default"}
    if text_time:
        time_dim, pooled = text_time
        c.update(addition_embed_type="text_time", addition_time_embed_dim=time_dim,
                 projection_class_embeddings_input_dim=pooled + 6 * time_dim)
    return c


def make_vae_config(scaling_factor=0.18215):
    return {"_class_name": "AutoencoderKL", "in_channels": 3, "out_channels": 3, "latent_channels": 4,
            "block_out_channels": [16, 32, 32], "scaling_factor": scaling_factor, "shift_factor": None}
