"""Export a diffusers CogVideoXPipeline or CogVideoXImageToVideoPipeline folder as a Genloom `latent_video`
package (ModelKind MODEL_KIND_LATENT_VIDEO).

Called by genloom_export.stable_diffusion (its command line dispatches CogVideoX pipeline folders here).
Input: a local pipeline folder with model_index.json, transformer/ (CogVideoXTransformer3DModel), vae/
(AutoencoderKLCogVideoX), text_encoder/ (T5EncoderModel) with tokenizer/, and
scheduler/scheduler_config.json (CogVideoXDDIMScheduler or CogVideoXDPMScheduler). Output:

  manifest.json                  genloom.v1.ModelManifest, kind MODEL_KIND_LATENT_VIDEO, `video` set
  text_encoder.pt                input_ids [B,T] (T = --max-sequence-length, default 226) -> hidden_states
                                 [B,T,d_model] (encoder_hidden_states; join JOIN_FEATURES)
  tokenizer/tokenizer.json
  transformer/<block>.pt         the block graph below
  vae_decoder.head.pt            latent [B,C,3,h,w] -> pixels [B,3,9,H,W], cache_0..K-1
  vae_decoder.step.pt            latent [B,C,2,h,w], cache_0..K-1 -> pixels [B,3,8,H,W], cache_0..K-1
  vae_encoder.pt                 (image-to-video only) pixels [B,3,H,W] -> mean, std [B,C,1,h,w]
  scheduler/scheduler_config.json  copied verbatim
  golden/...                     component goldens and sampling goldens

Latents are diffusers' [B, F', C, h, w] with F' = 1 + (F - 1) / t (t the VAE's temporal compression). The
block graph:

  transformer.embed        sample [B,F',Cin,h,w], timestep [B] (discrete), encoder_hidden_states [B,L,Dt]
                           -> joint_in [B,L+N,D], temb [B,E], image_rotary_emb [2,N,d] (cos, sin)
                           (N = F'(h/p)(w/p); the 3D rotary embedding of the pipeline's
                           _prepare_rotary_positional_embeddings, computed from sample's shape)
  transformer_blocks.<i>   joint, temb, image_rotary_emb, encoder_hidden_states -> joint
                           (CogVideoXBlock on [text | video] tokens, group "transformer_blocks")
  transformer.final_layer  joint, temb, encoder_hidden_states, sample -> noise_pred [B,F',C,h,w]
                           (norm_final, norm_out, proj_out, unpatchify)

The text length L is read from encoder_hidden_states and F', h and w from sample inside forward(), so one
trace serves every size, frame count and text length. The rotary embedding's crop region (Python's round,
half to even) and numpy's float32 linspace are computed with float64 tensor arithmetic on shape reads.

The VAE decodes as diffusers' AutoencoderKLCogVideoX._decode does: the first chunk of 3 latent frames, then
chunks of 2, the causal convolutions' frame caches carried from chunk to chunk. A decoder with a dynamic
frame count cannot be traced (Python branches on the chunk length, caches kept as module state), so the
two chunk shapes are separate components whose caches are explicit inputs and outputs; the runtime runs the
chunk loop. An odd F' >= 3 is required: diffusers decodes an even F' to 4F' frames rather than 1 + 4(F' - 1),
so supported_frame_counts lists 1 + t(F' - 1) for odd F' from 3 up to diffusers' limit of 49 frames.

Image-to-video (CogVideoXImageToVideoPipeline): the transformer takes 2C channels, the latents concatenated
with the first frame's latent (the VAE posterior sample of the image, one image at a time, times the scaling
factor, followed by F' - 1 zero frames); vae_encoder gives that posterior's mean and std.

Every component is traced once at a size, frame count and text length that no check uses, then compared
with eager PyTorch, and the block graph with the full eager transformer (fed the rotary embedding computed
by the pipeline's own method), at the default size, 1.5x its width, twice its height and the smallest size,
each at F' 3 and 5 and text lengths --max-sequence-length and 77; the chunked decode is compared with
vae.decode at the same sizes and F' 3, 5 and 7, the encoder with vae.encode's latent_dist. The export stops
above --atol. Sampling goldens are recorded by calling the pipeline's own __call__ (output_type "latent",
then its decode_latents) with every randn_tensor draw tapped; the exported components replay them in the
runtime's loop, with CogVideoX's schedulers computed in double precision, to --sampling-atol.

What it refuses, by name: pipeline classes other than the two (CogVideoXVideoToVideoPipeline among them);
schedulers other than CogVideoXDDIMScheduler and CogVideoXDPMScheduler, beta_schedule other than
scaled_linear, trained_betas; a transformer other than CogVideoXTransformer3DModel, config keys the
installed class does not take (ofs_embed_dim, patch_size_t, ...), attention_head_dim not a multiple of 8,
in_channels other than C (text-to-video) or 2C (image-to-video), out_channels other than C,
temporal_compression_ratio unlike the VAE's, positional embeddings without rotary ones (sincos or learned:
not exported in this version); a VAE other than AutoencoderKLCogVideoX, use_quant_conv /
use_post_quant_conv, shift_factor, latents_mean / latents_std, a temporal compression that is not a power of
2; text encoders other than T5EncoderModel with d_model = text_embed_dim; even latent frame counts, frame
counts above 49, golden samplers other than ddim and dpmpp2m.
"""
import json
import math
import os
import shutil
import types

import numpy as np
import torch
import torch.nn as nn

from . import mmdit, sampling
from .common import GraphRunner, Refused, cfg, max_abs, read_json, versions, write_json
from .stable_diffusion import (DiffusersLoader, PipelineFolder, Sizes, compare, finish_package, package_export,
                               size_name, unique)
from .text import T5_ARCHS, T5EncoderComponent, T5PromptTokenizer, check_t5_component, load_text_encoder, \
    text_encoder_arch

T2V, I2V = "CogVideoXPipeline", "CogVideoXImageToVideoPipeline"
PIPELINES = {T2V: "diffusers.pipelines.cogvideo.pipeline_cogvideox",
             I2V: "diffusers.pipelines.cogvideo.pipeline_cogvideox_image2video"}
TRANSFORMER_CLASS = "CogVideoXTransformer3DModel"
VAE_CLASS = "AutoencoderKLCogVideoX"
SCHEDULERS = {"ddim": "CogVideoXDDIMScheduler", "dpmpp2m": "CogVideoXDPMScheduler"}
SCHEDULER_MODULES = {"CogVideoXDDIMScheduler": "diffusers.schedulers.scheduling_ddim_cogvideox",
                     "CogVideoXDPMScheduler": "diffusers.schedulers.scheduling_dpm_cogvideox"}
# CogVideoX{DDIM,DPM}Scheduler.__init__ defaults (diffusers 0.30.3)
SCHEDULER_DEFAULTS = {"num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012,
                      "beta_schedule": "scaled_linear", "trained_betas": None, "clip_sample": True,
                      "set_alpha_to_one": True, "steps_offset": 0, "prediction_type": "epsilon",
                      "timestep_spacing": "leading", "rescale_betas_zero_snr": False, "snr_shift_scale": 3.0}
DEFAULT_MAX_SEQUENCE_LENGTH = 226  # the pipelines' max_sequence_length default
MAX_FRAMES = 49  # the pipelines' check on num_frames
HEAD_FRAMES, STEP_FRAMES = 3, 2  # AutoencoderKLCogVideoX._decode: first chunk 2 + the odd remainder, then 2
BASE_WIDTH, BASE_HEIGHT = 720, 480  # _prepare_rotary_positional_embeddings' base grid, in pixels
GROUP = "transformer_blocks"
FPS = 8  # the pipelines' documented export_to_video(..., fps=8)
F64 = torch.float64


class CogVideoXPipelineFolder(PipelineFolder):
    """What a CogVideoX pipeline folder's JSON files say, checked before any weights are loaded."""

    family = "cogvideox"
    size_rule = "8 (the pipelines' check) and VAE factor x patch size"
    zero_empty_negative = False

    def __init__(self, folder, max_sequence_length=None):
        super().__init__(folder)
        cls = self.index.get("_class_name")
        if cls not in PIPELINES:
            raise Refused(f"pipeline _class_name {cls!r}: only {T2V} and {I2V} are exported as latent video "
                          "packages")
        self.class_name, self.image_to_video = cls, cls == I2V
        self._read_scheduler()
        sc = dict(SCHEDULER_DEFAULTS, **{k: v for k, v in self.scheduler_config.items() if not k.startswith("_")})
        self.scheduler = sc
        sched_cls = self.scheduler_config.get("_class_name")
        if sched_cls not in SCHEDULERS.values():
            raise Refused(f"scheduler config _class_name {sched_cls!r}: a CogVideoX pipeline is exported with "
                          f"{' or '.join(SCHEDULERS.values())} only")
        if sc["beta_schedule"] != "scaled_linear":
            raise Refused(f"scheduler config beta_schedule={sc['beta_schedule']!r}: only scaled_linear (float64 "
                          "betas, as every CogVideoX checkpoint) is exported")
        if sc["trained_betas"] is not None:
            raise Refused("scheduler config trained_betas: only the scaled_linear schedule is exported")
        if sc["prediction_type"] not in ("epsilon", "v_prediction", "sample"):
            raise Refused(f"scheduler config prediction_type={sc['prediction_type']!r}")
        self.prediction = {"epsilon": "PREDICTION_EPSILON", "v_prediction": "PREDICTION_V",
                           "sample": "PREDICTION_SAMPLE"}[sc["prediction_type"]]
        self.default_sampler = {v: k for k, v in SCHEDULERS.items()}[sched_cls]

        self.vae_config = self._config("vae")
        vc = self.vae_config
        if vc.get("_class_name", VAE_CLASS) != VAE_CLASS:
            raise Refused(f"vae _class_name {vc.get('_class_name')!r} is not {VAE_CLASS}")
        for k in ("use_quant_conv", "use_post_quant_conv"):
            if vc.get(k, False):
                raise Refused(f"vae config {k}=true: {VAE_CLASS} builds that convolution with 2 x out_channels "
                              "and the pipelines' decode would not match its encode; not exported")
        for k in ("shift_factor", "latents_mean", "latents_std"):
            if vc.get(k) is not None:
                raise Refused(f"vae config {k}={vc[k]!r}: diffusers 0.30.3's CogVideoX pipelines ignore it, so a "
                              "package cannot say what applying it would mean; not exported")
        self.latent_channels = int(vc.get("latent_channels", 16))
        self.temporal = int(vc.get("temporal_compression_ratio", 4))
        if self.temporal < 1 or self.temporal & (self.temporal - 1):
            raise Refused(f"vae config temporal_compression_ratio={self.temporal} is not a power of 2")
        self.vae_factor = 2 ** (len(vc.get("block_out_channels", [128, 256, 256, 512])) - 1)
        self.scaling_factor = float(vc.get("scaling_factor", 1.15258426))

        tc = self.transformer_config = self._config("transformer")
        if tc.get("_class_name", TRANSFORMER_CLASS) != TRANSFORMER_CLASS:
            raise Refused(f"transformer _class_name {tc.get('_class_name')!r} is not {TRANSFORMER_CLASS}")
        head_dim = int(tc.get("attention_head_dim", 64))
        if head_dim % 8:
            raise Refused(f"transformer config attention_head_dim={head_dim}: the 3D rotary embedding splits it "
                          "d/4 (time) + 3d/8 + 3d/8 (height, width), so it must be a multiple of 8")
        c = self.latent_channels
        want_in = 2 * c if self.image_to_video else c
        if int(tc.get("in_channels", 16)) != want_in:
            raise Refused(f"transformer config in_channels={tc.get('in_channels', 16)}: {self.class_name} feeds "
                          f"{want_in} channels ({'2 x ' if self.image_to_video else ''}the VAE's latent_channels "
                          f"{c})")
        if int(tc.get("out_channels", 16) or 16) != c:
            raise Refused(f"transformer config out_channels={tc.get('out_channels')} is not the VAE's "
                          f"latent_channels {c}")
        if int(tc.get("temporal_compression_ratio", 4)) != self.temporal:
            raise Refused(f"transformer config temporal_compression_ratio={tc.get('temporal_compression_ratio', 4)}"
                          f" differs from the VAE's {self.temporal}")
        rope = bool(tc.get("use_rotary_positional_embeddings", False))
        learned = bool(tc.get("use_learned_positional_embeddings", False))
        if learned and not rope:
            raise Refused("transformer config use_learned_positional_embeddings without "
                          "use_rotary_positional_embeddings: diffusers refuses that combination")
        if not rope or learned:
            what = "learned" if learned else "sincos (use_rotary_positional_embeddings false, as CogVideoX-2b)"
            raise Refused(f"transformer config: {what} positional embeddings are not exported in this version; "
                          "only rotary ones (use_rotary_positional_embeddings true, no learned embeddings) are")
        self.patch = int(tc.get("patch_size", 2))

        entry = self.index.get("text_encoder")
        if not entry or entry[0] is None:
            raise Refused("model_index.json has no text_encoder: the CogVideoX pipelines need their T5 encoder")
        self.encoder_arch = text_encoder_arch(os.path.join(folder, "text_encoder"), T5_ARCHS)
        d_model = read_json(os.path.join(folder, "text_encoder", "config.json")).get("d_model")
        if int(tc.get("text_embed_dim", 4096)) != d_model:
            raise Refused(f"transformer config text_embed_dim={tc.get('text_embed_dim', 4096)} differs from "
                          f"text_encoder's d_model {d_model}")
        self.max_sequence_length = int(max_sequence_length or DEFAULT_MAX_SEQUENCE_LENGTH)
        if self.max_sequence_length < 1:
            raise Refused(f"--max-sequence-length {self.max_sequence_length} is not positive")

        self.multiple_of = math.lcm(8, self.vae_factor * self.patch)
        self.default_size = (int(tc.get("sample_width", 90)) * self.vae_factor,
                             int(tc.get("sample_height", 60)) * self.vae_factor)
        self.frame_counts = [1 + self.temporal * (k - 1) for k in range(3, MAX_FRAMES + 1, 2)
                             if 1 + self.temporal * (k - 1) <= MAX_FRAMES]
        if not self.frame_counts:
            raise Refused(f"temporal compression {self.temporal}: no frame count up to {MAX_FRAMES} has an odd "
                          "latent frame count of at least 3")

    def latent_frames(self, frames, what="frame count"):
        """F' of F frames; raises Refused for what the package does not serve."""
        t = self.temporal
        if frames > MAX_FRAMES:
            raise Refused(f"{what} {frames}: the CogVideoX pipelines take at most {MAX_FRAMES} frames")
        if (frames - 1) % t:
            raise Refused(f"{what} {frames}: (frames - 1) must be a multiple of the temporal compression {t}")
        n = (frames - 1) // t + 1
        if n < HEAD_FRAMES or n % 2 == 0:
            raise Refused(f"{what} {frames} gives {n} latent frames: diffusers decodes an even latent frame count "
                          f"F' to {t}F' frames (not 1 + {t}(F' - 1)) and cannot decode fewer than 2, so only odd "
                          f"F' >= 3 are served: {', '.join(map(str, self.frame_counts))}")
        return n


# ------------------------------------------------------------------------------------------ the block graph


def size64(x, dim):
    """x.shape[dim] as a float64 0-dim tensor; under torch.jit.trace a shape read, not a constant."""
    return torch.ones((), dtype=F64) * x.shape[dim]


def linspace32(start, stop, num, num64):
    """numpy's linspace(start, stop, num, endpoint=False, dtype=float32): start + i * step in float64, cast to
    float32. `num` is the (traced) integer count, num64 the same as a float64 tensor."""
    return (torch.arange(num, dtype=F64) * ((stop - start) / num64) + start).float()


class Rope3D(nn.Module):
    """sample [B,F',C,h,w] -> [2, F'(h/p)(w/p), d] (cos, sin): the pipelines' _prepare_rotary_positional_embeddings
    (the grid of (h/p, w/p) patches, resized to cover the centre of the base grid of 720x480 pixels as
    get_resize_crop_region_for_grid does, then get_3d_rotary_pos_embed with use_real) from sample's shape."""

    def __init__(self, head_dim, patch, vae_factor, theta=10000.0):
        super().__init__()
        self.d, self.p, self.theta = head_dim, patch, theta
        self.base_w = float(BASE_WIDTH // (vae_factor * patch))
        self.base_h = float(BASE_HEIGHT // (vae_factor * patch))

    def freqs(self, pos, dim):
        f = 1.0 / (self.theta ** (torch.arange(0, dim, 2).float() / dim))
        return torch.einsum("n,f->nf", pos, f).repeat_interleave(2, dim=-1)

    def forward(self, sample):
        gh_n, gw_n, t_n = sample.shape[3] // self.p, sample.shape[4] // self.p, sample.shape[1]
        gh, gw = torch.floor(size64(sample, 3) / self.p), torch.floor(size64(sample, 4) / self.p)
        th, tw = self.base_h, self.base_w
        tall = (gh / gw) > (th / tw)
        rh = torch.where(tall, torch.full_like(gh, th), torch.round(tw / gw * gh))  # round: half to even
        rw = torch.where(tall, torch.round(th / gh * gw), torch.full_like(gw, tw))
        top, left = torch.round((th - rh) / 2.0), torch.round((tw - rw) / 2.0)
        pos_h = linspace32(top, top + rh, gh_n, gh)
        pos_w = linspace32(left, left + rw, gw_n, gw)
        frames = size64(sample, 1)
        pos_t = linspace32(torch.zeros((), dtype=F64), frames, t_n, frames)
        dt, dh = self.d // 4, self.d // 8 * 3
        ft, fh, fw = self.freqs(pos_t, dt), self.freqs(pos_h, dh), self.freqs(pos_w, dh)
        T, H, W = ft.shape[0], fh.shape[0], fw.shape[0]
        fr = torch.cat([ft[:, None, None, :].expand(T, H, W, dt), fh[None, :, None, :].expand(T, H, W, dh),
                        fw[None, None, :, :].expand(T, H, W, dh)], dim=-1).reshape(T * H * W, -1)
        return torch.stack([fr.cos(), fr.sin()])


class Embed(nn.Module):
    """(sample [B,F',Cin,h,w], timestep [B], encoder_hidden_states [B,L,Dt]) -> (joint [B,L+N,D], temb [B,E],
    image_rotary_emb [2,N,d]), as the transformer's forward and the pipeline compute them."""

    def __init__(self, tr, vae_factor):
        super().__init__()
        self.time_proj, self.time_embedding, self.patch_embed = tr.time_proj, tr.time_embedding, tr.patch_embed
        self.rope = Rope3D(int(cfg(tr, "attention_head_dim")), int(cfg(tr, "patch_size")), vae_factor)

    def forward(self, sample, timestep, encoder_hidden_states):
        temb = self.time_embedding(self.time_proj(timestep).to(sample.dtype), None)
        joint = self.patch_embed(encoder_hidden_states, sample)
        return joint, temb, self.rope(sample)


class JointBlock(nn.Module):
    """(joint, temb, image_rotary_emb, encoder_hidden_states [B,L,Dt]) -> joint: CogVideoXBlock on the video
    (tokens L:) and text (tokens :L) streams; CogVideoXBlock returns (hidden_states, encoder_hidden_states)."""

    def __init__(self, block):
        super().__init__()
        self.block = block

    def forward(self, joint, temb, image_rotary_emb, encoder_hidden_states):
        L = encoder_hidden_states.shape[1]
        hidden, context = self.block(hidden_states=joint[:, L:], encoder_hidden_states=joint[:, :L], temb=temb,
                                     image_rotary_emb=(image_rotary_emb[0], image_rotary_emb[1]))
        return torch.cat([context, hidden], dim=1)


class FinalLayer(nn.Module):
    """(joint, temb, encoder_hidden_states, sample) -> noise_pred [B,F',C,h,w]: norm_final (per token, so over
    [text | video] as the rotary branch of the forward), the video tokens, norm_out, proj_out, unpatchify with
    F', h, w read from sample."""

    def __init__(self, tr):
        super().__init__()
        self.norm_final, self.norm_out, self.proj_out = tr.norm_final, tr.norm_out, tr.proj_out
        self.p = int(cfg(tr, "patch_size"))

    def forward(self, joint, temb, encoder_hidden_states, sample):
        x = self.norm_final(joint)[:, encoder_hidden_states.shape[1]:]
        x = self.proj_out(self.norm_out(x, temb=temb))
        p = self.p
        B, F, _, H, W = sample.shape
        x = x.reshape(B, F, H // p, W // p, -1, p, p)
        return x.permute(0, 1, 4, 2, 5, 3, 6).flatten(5, 6).flatten(3, 4)


def blocks(tr, vae_factor):
    """The graph over inputs sample, timestep, encoder_hidden_states; output noise_pred."""
    for a in ("time_proj", "time_embedding", "patch_embed", "transformer_blocks", "norm_final", "norm_out",
              "proj_out"):
        if getattr(tr, a, None) is None:
            raise Refused(f"{type(tr).__name__} has no {a}: not the {TRANSFORMER_CLASS} layout this exporter "
                          "supports")
    out = [mmdit.Block("transformer.embed", "transformer/embed.pt", Embed(tr, vae_factor),
                       ["sample", "timestep", "encoder_hidden_states"], ["joint_in", "temb", "image_rotary_emb"],
                       False)]
    prev = "joint_in"
    for i, blk in enumerate(tr.transformer_blocks):
        out.append(mmdit.Block(f"{GROUP}.{i}", f"transformer/{GROUP}.{i}.pt", JointBlock(blk),
                               [prev, "temb", "image_rotary_emb", "encoder_hidden_states"], [f"joint_{i}"], True,
                               GROUP))
        prev = f"joint_{i}"
    out.append(mmdit.Block("transformer.final_layer", "transformer/final_layer.pt", FinalLayer(tr),
                           [prev, "temb", "encoder_hidden_states", "sample"], ["noise_pred"], False))
    return out


GRAPH_DIMS = {"sample": (0, 1, 3, 4), "noise_pred": (0, 1, 3, 4), "timestep": (0,), "temb": (0,),
              "encoder_hidden_states": (0, 1), "image_rotary_emb": (1,)}


def graph_dims(name, t):
    """Dynamic dimensions by tensor name: batch, latent frames, height, width; text and joint sequence."""
    return GRAPH_DIMS.get(name, (0, 1) if name.startswith("joint") else (0,))


def vae_dims(name, t):
    """Chunks have a fixed frame count: batch, height and width are dynamic; the encoder's pixels
    [B,3,H,W]."""
    return (0, 2, 3) if t.dim() == 4 else (0, 3, 4)


def pipeline_rope(methods, tr, vae_factor, sample):
    """The pipeline's own _prepare_rotary_positional_embeddings for a latent `sample` [B,F',C,h,w]."""
    self = types.SimpleNamespace(vae_scale_factor_spatial=vae_factor, transformer=tr)
    _, F, _, h, w = sample.shape
    return methods["_prepare_rotary_positional_embeddings"](self, h * vae_factor, w * vae_factor, F,
                                                            torch.device("cpu"))


# ------------------------------------------------------------------------------------------ the VAE


def causal_convs(vae):
    cls = type(vae).__module__
    mod = __import__(cls, fromlist=["CogVideoXCausalConv3d"])
    conv = getattr(mod, "CogVideoXCausalConv3d")
    every = [m for m in vae.decoder.modules() if isinstance(m, conv)]
    return every, [m for m in every if m.time_kernel_size > 1]


class DecoderChunk(nn.Module):
    """(latent [B,C,n,h,w], cache_0..K-1) -> (pixels, cache_0..K-1): vae.decoder on one chunk with the causal
    convolutions' caches set from the inputs (none for the first chunk, which pads by repeating its first
    frame), their new caches returned; module state is cleared before and after."""

    def __init__(self, vae):
        super().__init__()
        self.vae = vae
        self.every, self.stateful = causal_convs(vae)

    def forward(self, latent, *caches):
        for m in self.every:
            m.conv_cache = None
        for m, c in zip(self.stateful, caches):
            m.conv_cache = c
        out = self.vae.decoder(latent)
        new = [m.conv_cache for m in self.stateful]
        for m in self.every:
            m.conv_cache = None
        return (out, *new)


class Encoder(nn.Module):
    """pixels [B,3,H,W] in [-1,1] -> (mean, std) [B,C,1,h,w] of vae.encode(one-frame video).latent_dist."""

    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    def forward(self, pixels):
        d = self.vae.encode(pixels.unsqueeze(2), return_dict=False)[0]
        return d.mean, d.std


def decode_chunks(head, step, z):
    """z [B,C,F',h,w] (odd F' >= 3, already times 1/scaling_factor) -> pixels [B,3,F,H,W]: the head on the first
    3 frames, the step on each following 2, caches carried."""
    outs = head(z[:, :, :HEAD_FRAMES].contiguous())
    pixels, caches = [outs[0]], outs[1:]
    for s in range(HEAD_FRAMES, z.shape[2], STEP_FRAMES):
        outs = step(z[:, :, s:s + STEP_FRAMES].contiguous(), *caches)
        pixels.append(outs[0])
        caches = outs[1:]
    return torch.cat(pixels, dim=2)


# ------------------------------------------------------------------------------------------ the schedulers


class Schedule:
    """CogVideoX{DDIM,DPM}Scheduler's schedule and steps in double precision, each coefficient rounded to float32
    where it meets a float32 tensor (as diffusers' float64 0-dim tensors do)."""

    def __init__(self, config, steps):
        c = dict(SCHEDULER_DEFAULTS, **{k: v for k, v in config.items() if not k.startswith("_")})
        n = int(c["num_train_timesteps"])
        betas = torch.linspace(c["beta_start"] ** 0.5, c["beta_end"] ** 0.5, n, dtype=F64) ** 2
        a = torch.cumprod(1.0 - betas, 0)
        s = float(c["snr_shift_scale"])
        a = a / (s + (1 - s) * a)
        if c["rescale_betas_zero_snr"]:
            r = a.sqrt()
            r0, rT = r[0].clone(), r[-1].clone()
            a = ((r - rT) * (r0 / (r0 - rT))) ** 2
        self.alphas = a.tolist()
        self.final = 1.0 if c["set_alpha_to_one"] else self.alphas[0]
        self.prediction = c["prediction_type"]
        self.ratio = n // steps
        spacing = c["timestep_spacing"]
        if spacing == "linspace":
            ts = np.linspace(0, n - 1, steps).round()[::-1].astype(np.int64)
        elif spacing == "leading":
            ts = (np.arange(0, steps) * self.ratio).round()[::-1].astype(np.int64) + int(c["steps_offset"])
        elif spacing == "trailing":
            ts = np.round(np.arange(n, 0, -n / steps)).astype(np.int64) - 1
        else:
            raise Refused(f"scheduler config timestep_spacing={spacing!r}")
        self.timesteps = [int(t) for t in ts]

    def alpha(self, t):
        return self.alphas[t] if t >= 0 else self.final

    def x0(self, a, x, out):
        f = np.float32
        if self.prediction == "v_prediction":
            return float(f(math.sqrt(a))) * x - float(f(math.sqrt(1 - a))) * out
        if self.prediction == "epsilon":
            return (x - float(f(math.sqrt(1 - a))) * out) / float(f(math.sqrt(a)))
        return out

    def ddim(self, i, out, x):
        t = self.timesteps[i]
        a, ap = self.alphas[t], self.alpha(t - self.ratio)
        x0 = self.x0(a, x, out)
        at = math.sqrt((1 - ap) / (1 - a))
        bt = math.sqrt(ap) - math.sqrt(a) * at
        return float(np.float32(at)) * x + float(np.float32(bt)) * x0

    def dpm(self, i, out, x, old, draw):
        """Returns (x_prev, x0); `draw()` gives the next noise draw."""
        f = lambda v: float(np.float32(v))  # noqa: E731
        t = self.timesteps[i]
        prev = t - self.ratio
        a, ap = self.alphas[t], self.alpha(prev)

        def lam(q):
            return math.log(math.sqrt(q / (1 - q))) if 0 < q < 1 else (-math.inf if q == 0 else math.inf)
        x0 = self.x0(a, x, out)
        h = lam(ap) - lam(a)
        m1 = math.sqrt((1 - ap) / (1 - a)) * math.exp(-h)
        m2 = math.expm1(-2 * h) * math.sqrt(ap)
        mn = math.sqrt(1 - ap) * math.sqrt(1 - math.exp(-2 * h))
        first = f(m1) * x - f(m2) * x0 + f(mn) * draw()
        if old is None or prev < 0:
            return first, x0
        r = (lam(a) - lam(self.alphas[self.timesteps[i - 1]])) / h
        d = f(1 + 1 / (2 * r)) * x0 - f(1 / (2 * r)) * old
        return f(m1) * x - f(m2) * d + f(mn) * draw(), x0


def dynamic_guidance(scale, t, steps):
    """diffusers' use_dynamic_cfg: the scale at timestep value t (not the step index)."""
    return 1 + scale * ((1 - math.cos(math.pi * ((steps - t) / steps) ** 5.0)) / 2)


# ------------------------------------------------------------------------------------------ the export


@torch.no_grad()
def export(pipeline_dir, out, *, name=None, description=None, width=None, height=None, max_width=None,
           max_height=None, atol=1e-4, loader=None, golden=None, command=None, max_sequence_length=None,
           num_frames=None):
    """Export the CogVideoX pipeline folder into the package folder `out`; returns the manifest (see the module
    docstring). Raises Refused for what it does not export; a package folder it created is removed again when
    the export fails."""
    p = CogVideoXPipelineFolder(pipeline_dir, max_sequence_length)
    sizes = Sizes(p, width, height, max_width, max_height, [])
    default_frames = int(num_frames or p.frame_counts[-1])
    p.latent_frames(default_frames, "--num-frames")
    diffusers = sampling.require_diffusers()
    mmdit.check_config(p.transformer_config, getattr(diffusers, TRANSFORMER_CLASS), diffusers.__version__)
    golden = golden or sampling.GoldenOptions()
    runs = golden_runs(golden, p, sizes)
    if os.path.exists(os.path.join(out, "manifest.json")):
        raise Refused(f"{out} already holds a package; choose an empty --out")
    loader = loader or DiffusersLoader()
    tr = loader.transformer(pipeline_dir, TRANSFORMER_CLASS)
    vae = getattr(diffusers, VAE_CLASS).from_pretrained(os.path.join(pipeline_dir, "vae"),
                                                          torch_dtype=torch.float32).eval()
    te = load_text_encoder(os.path.join(pipeline_dir, "text_encoder"), T5_ARCHS)
    tok = T5PromptTokenizer(os.path.join(pipeline_dir, "tokenizer"), p.max_sequence_length)

    with package_export(out, atol) as w:
        notes, report = [], {}
        g = torch.Generator().manual_seed(0)
        how = tok.write_tokenizer_json(os.path.join(out, "tokenizer", "tokenizer.json"))
        notes.append(f"tokenizer/tokenizer.json {how}")
        ids = tok.encode(golden.prompts)[0]
        comp = T5EncoderComponent(te).eval()
        check_t5_component(te, comp, ids)
        (ehs,) = w.component("text_encoder", comp, (ids,), (ids,), ["input_ids"], ["hidden_states"])
        ids3 = tok.encode(list(golden.prompts) + [""])[0]
        compare("text_encoder", comp(ids3), w.traced["text_encoder"](ids3), atol, report, " (batch 3)")
        text = {"encoders": [{"component": "text_encoder", "tokenizer": tok.spec("tokenizer/tokenizer.json"),
                              "join": "JOIN_FEATURES"}],
                "zeroEmptyNegative": False, "defaultClipSkip": 0}
        os.makedirs(os.path.join(out, "scheduler"), exist_ok=True)
        shutil.copyfile(p.scheduler_path, os.path.join(out, "scheduler", "scheduler_config.json"))

        video, vae_err = export_vae(w, p, sizes, vae, g, report)
        lengths = unique([p.max_sequence_length, 77 if p.max_sequence_length != 77 else 13])
        methods = sampling.diffusers_functions(diffusers, PIPELINES[T2V], ["_prepare_rotary_positional_embeddings"],
                                               class_name=T2V)
        denoiser, graph_err, trace = export_transformer(w, p, sizes, tr, ehs, lengths, g, report, methods)
        W, H = sizes.default
        default_latent = p.latent_frames(default_frames)
        manifest = {
            "format": "genloom/v1", "name": name or os.path.basename(os.path.normpath(out)), "version": "1.0.0",
            "kind": "MODEL_KIND_LATENT_VIDEO",
            "description": (description + " " if description else "")
            + f"{p.class_name} exported from diffusers: text_encoder {type(te).__name__}; {type(tr).__name__} as a "
              f"block graph with the 3D rotary embedding inside ({p.prediction}); {type(vae).__name__} decoded in "
              f"chunks of {HEAD_FRAMES} then {STEP_FRAMES} latent frames (factor {p.vae_factor}, temporal "
              f"compression {p.temporal}); default {W}x{H}, {default_frames} frames, sizes in multiples of "
              f"{sizes.multiple_of} up to {size_name(sizes.max)}, frame counts "
              f"{', '.join(map(str, p.frame_counts))}.",
            "components": w.components, "denoiser": denoiser,
            "latent": {"channels": p.latent_channels, "height": H // p.vae_factor, "width": W // p.vae_factor,
                       "frames": default_latent, "scaleFactor": p.scaling_factor, "downsample": p.vae_factor},
            "schedule": {"configFile": "scheduler/scheduler_config.json"},
            # the pipelines' __call__ defaults: 50 steps, guidance 6, use_dynamic_cfg False, fps 8
            "defaults": {"sampler": p.default_sampler, "steps": 50, "guidanceScale": 6.0, "eta": 0.0, "width": W,
                         "height": H, "numFrames": default_frames, "fps": FPS,
                         "cfgSchedule": {"shape": "SHAPE_CONSTANT"}, "guidanceRescale": 0.0},
            "sizeConstraint": sizes.constraint(),
            "supportedFrameCounts": list(p.frame_counts),
            "goldens": w.goldens,
            "training": {
                "versions": versions(),
                "classes": f"pipeline {p.class_name}, transformer {type(tr).__name__}, vae {type(vae).__name__}, "
                           f"text_encoder {type(te).__name__}, scheduler {p.scheduler_config.get('_class_name')}",
                "text_max_length": str(p.max_sequence_length),
                "source": os.path.basename(os.path.normpath(pipeline_dir)),
                "command": command or "genloom_export.stable_diffusion.export()",
                "trace_size": trace,
                "checked_sizes": ", ".join(size_name(s) for s in sizes.checks) + " at latent frames 3, 5 and text "
                                 f"lengths {', '.join(map(str, lengths))} (batch 3); VAE decode at latent frames "
                                 "3, 5, 7",
                "components_vs_eager_max_abs": ", ".join(f"{k} {v:.2e}" for k, v in report.items()),
                "blocks_vs_full_transformer_max_abs": ", ".join(f"{k} {v:.2e}" for k, v in graph_err.items()),
                "chunked_decode_vs_vae_decode_max_abs": ", ".join(f"{k} {v:.2e}" for k, v in vae_err.items()),
            },
            "text": text,
            "sizeConstraint": sizes.constraint(),
            "video": video,
        }
        entries, lines = record_goldens(diffusers, out, manifest, golden, runs, p, tr=tr, vae=vae, te=te, tok=tok)
        manifest["goldens"] += entries
        manifest["training"]["sampling_goldens"] = (
            f"recorded with diffusers {diffusers.__version__} by calling {p.class_name}.__call__ (output_type "
            "latent, then decode_latents) over the eager modules with every randn_tensor draw kept; exported "
            "text encoder, blocks and VAE chunks in the runtime's loop with double-precision CogVideoX schedulers, "
            "replaying the draws, vs diffusers: " + "; ".join(lines))
        finish_package(w, out, manifest, notes + [
            "VAE tiling and slicing are off in the pipelines and not exported"])
    print(f"wrote {out}: {len(w.components)} components, {w.E.package_size(out) / 1e6:.2f} MB", flush=True)
    return manifest


def export_transformer(w, p, sizes, tr, ehs, lengths, g, report, methods):
    """The block graph traced at the trace size, 2 latent frames and a text length no check uses; goldens at the
    default size and 3 latent frames with the golden prompts' conditioning; every block and the graph checked
    at each check size x F' {3, 5} x text length. Returns (denoiser, {check: graph max abs}, trace description)."""
    graph = blocks(tr, p.vae_factor)
    f, cin, dt = p.vae_factor, int(cfg(tr, "in_channels")), ehs.shape[-1]
    trace_len = max(lengths) + 3

    def inputs(size, batch, frames, length, timesteps):
        w_, h_ = size
        return {"sample": torch.randn(batch, frames, cin, h_ // f, w_ // f, generator=g), "timestep": timesteps,
                "encoder_hidden_states": torch.randn(batch, length, dt, generator=g)}

    env_t = mmdit.run(graph, inputs(sizes.trace, 2, 2, trace_len, torch.tensor([937.0, 212.0])))
    env = inputs(sizes.default, 2, HEAD_FRAMES, ehs.shape[1], torch.tensor([999.0, 421.0]))
    env["encoder_hidden_states"] = ehs
    mmdit.run(graph, env)
    for b in graph:
        w.component(b.component, b.module, [env_t[i] for i in b.inputs], [env[i] for i in b.inputs], b.inputs,
                    b.outputs, file=b.file, named_dims=graph_dims)
    denoiser = {"inputs": list(graph[0].inputs),
                "blocks": [w.E.block(b.name, b.component, b.inputs, b.outputs, b.cacheable, b.group) for b in graph],
                "output": "noise_pred", "prediction": p.prediction, "timestepInput": "discrete", "timestepScale": 1.0}
    runner = GraphRunner(w.pkg, w.components, denoiser, w.traced)
    graph_err = {}
    for size in sizes.checks:
        for frames in (3, 5):
            for length in lengths:
                where = f"{size_name(size)} F'{frames} L{length}"
                env_c = inputs(size, 3, frames, length, torch.tensor([999.0, 500.0, 1.0]))
                graph_in = {k: env_c[k] for k in denoiser["inputs"]}
                mmdit.run(graph, env_c)
                for b in graph:
                    compare(b.component, tuple(env_c[o] for o in b.outputs),
                            w.traced[b.component](*[env_c[i] for i in b.inputs]), w.atol, report, f" at {where}")
                cos, sin = pipeline_rope(methods, tr, f, graph_in["sample"])
                d_rope = max(max_abs(cos, env_c["image_rotary_emb"][0]), max_abs(sin, env_c["image_rotary_emb"][1]))
                if d_rope != 0.0:
                    raise Refused(f"the in-graph rotary embedding differs from the pipeline's at {where} by "
                                  f"{d_rope:.3e}")
                ref = tr(hidden_states=graph_in["sample"], encoder_hidden_states=graph_in["encoder_hidden_states"],
                         timestep=graph_in["timestep"].to(torch.int64), image_rotary_emb=(cos, sin),
                         return_dict=False)[0]
                d = max_abs(ref, runner(**graph_in))
                graph_err[where] = d
                print(f"block graph vs full transformer at {where} (batch 3): max abs diff {d:.3e} "
                      f"(output max abs {ref.abs().max().item():.3g}; rotary embedding vs pipeline {d_rope:.1e})",
                      flush=True)
                if not d <= w.atol:
                    raise Refused(f"the exported blocks differ from the full transformer at {where} by {d:.3e} "
                                  f"> --atol {w.atol}")
    return denoiser, graph_err, f"{size_name(sizes.trace)}, 2 latent frames, text length {trace_len}"


def export_vae(w, p, sizes, vae, g, report):
    """vae_decoder.head, vae_decoder.step (and vae_encoder for image-to-video), traced at the trace size, goldens at
    the default size; the chunked decode checked against vae.decode at each check size x F' {3, 5, 7}, the encoder
    against vae.encode per image. Returns (manifest `video`, {check: decode max abs})."""
    f, c = p.vae_factor, p.latent_channels
    dec = DecoderChunk(vae).eval()
    n = len(dec.stateful)
    cache_names = [f"cache_{i}" for i in range(n)]

    def latent(size, batch, frames):
        return torch.randn(batch, c, frames, size[1] // f, size[0] // f, generator=g)

    zt, zg = latent(sizes.trace, 2, HEAD_FRAMES + STEP_FRAMES), latent(sizes.default, 1, HEAD_FRAMES + STEP_FRAMES)
    head_t, head_g = dec(zt[:, :, :HEAD_FRAMES]), dec(zg[:, :, :HEAD_FRAMES])
    w.component("vae_decoder.head", dec, [zt[:, :, :HEAD_FRAMES]], [zg[:, :, :HEAD_FRAMES]], ["latent"],
                ["pixels"] + cache_names, named_dims=vae_dims)
    w.component("vae_decoder.step", dec, [zt[:, :, HEAD_FRAMES:]] + list(head_t[1:]),
                [zg[:, :, HEAD_FRAMES:]] + list(head_g[1:]), ["latent"] + cache_names, ["pixels"] + cache_names,
                named_dims=vae_dims)
    video = {"temporalCompression": p.temporal, "decoderHead": "vae_decoder.head",
             "decoderStep": "vae_decoder.step", "headFrames": HEAD_FRAMES, "stepFrames": STEP_FRAMES,
             "imageConditioning": "IMAGE_CONDITIONING_CHANNEL_CONCAT" if p.image_to_video
             else "IMAGE_CONDITIONING_NONE"}
    if p.image_to_video:
        enc = Encoder(vae).eval()
        pix = lambda size, b: torch.rand(b, 3, size[1], size[0], generator=g) * 2 - 1  # noqa: E731
        w.component("vae_encoder", enc, [pix(sizes.trace, 1)], [pix(sizes.default, 1)], ["pixels"],
                    ["mean", "std"], named_dims=vae_dims)
        video["encoder"] = "vae_encoder"
    err = {}
    for size in sizes.checks:
        for frames in (3, 5, 7):
            z = latent(size, 2, frames)
            ref = vae.decode(z, return_dict=False)[0]
            got = decode_chunks(w.traced["vae_decoder.head"], w.traced["vae_decoder.step"], z)
            where = f"{size_name(size)} F'{frames}"
            if got.shape != ref.shape:
                raise Refused(f"chunked decode at {where}: {tuple(got.shape)} frames, vae.decode {tuple(ref.shape)}")
            err[where] = d = max_abs(ref, got)
            print(f"chunked decode vs vae.decode at {where} (batch 2): max abs diff {d:.3e}", flush=True)
            if not d <= w.atol:
                raise Refused(f"the exported decoder chunks differ from vae.decode at {where} by {d:.3e} > "
                              f"--atol {w.atol}")
        if p.image_to_video:
            x = torch.rand(1, 3, size[1], size[0], generator=g) * 2 - 1
            dist = vae.encode(x.unsqueeze(2)).latent_dist
            compare("vae_encoder", (dist.mean, dist.std), w.traced["vae_encoder"](x), w.atol, report,
                    f" at {size_name(size)}")
    return video, err


# ------------------------------------------------------------------------------------------ sampling goldens


def golden_runs(golden, p, sizes):
    """[(sampler, size, frames, use_dynamic_cfg)] of the sampling goldens; raises Refused for what cannot be
    recorded."""
    samplers = golden.samplers or list(SCHEDULERS)
    for s in samplers:
        if s not in SCHEDULERS:
            raise Refused(f"golden sampler {s!r}: a CogVideoX schedule is sampled by "
                          f"{' or '.join(SCHEDULERS)} ({', '.join(SCHEDULERS.values())}) only")
    if golden.extras or golden.guidance_rescale or golden.eta:
        raise Refused("golden extras, guidance_rescale and eta: the CogVideoX pipelines have no guidance_rescale, "
                      "and CogVideoXDDIMScheduler ignores eta")
    frames = golden.frames or p.frame_counts[:2]
    for n in frames:
        p.latent_frames(n, "golden frame count")
    for s in golden.dynamic_cfg:
        if s not in samplers:
            raise Refused(f"--golden-dynamic-cfg {s}: not a golden sampler")
    gsizes = golden.sizes or [sizes.default]
    for s in gsizes:
        sizes.check("golden size", s)
    if golden.guidance is None:
        golden.guidance = 6.0  # the pipelines' default
    if not (len(golden.prompts) == len(golden.negatives) == len(golden.seeds)):
        raise Refused("golden prompts, negative prompts and seeds must be as many")
    runs = [(s, size, n, s in golden.dynamic_cfg) for size in gsizes for n in frames for s in samplers]
    return runs


class DrawTap:
    """Records every randn_tensor draw of the pipeline, VAE posterior and scheduler modules, in order."""

    def __init__(self, modules):
        self.modules = [m for m in modules if hasattr(m, "randn_tensor")]  # CogVideoXDDIMScheduler draws none
        self.draws = []

    def __enter__(self):
        self.orig = [m.randn_tensor for m in self.modules]

        def wrap(fn, where):
            def tapped(*a, **k):
                y = fn(*a, **k)
                self.draws.append((where, y.clone()))
                return y
            return tapped
        for m, fn in zip(self.modules, self.orig):
            m.randn_tensor = wrap(fn, m.__name__.rsplit(".", 1)[-1])
        return self

    def __exit__(self, *exc):
        for m, fn in zip(self.modules, self.orig):
            m.randn_tensor = fn


def golden_image(size, batch, seed=3):
    """A seeded uint8 image per item, as the runtime reads a reference (u8 / 127.5 - 1)."""
    u8 = torch.randint(0, 256, (batch, 3, size[1], size[0]), generator=torch.Generator().manual_seed(seed))
    return u8.to(torch.float32) / 127.5 - 1.0


@torch.no_grad()
def record_goldens(diffusers, pkg, manifest, golden, runs, p, *, tr, vae, te, tok):
    """Runs the pipeline's __call__ for each golden run, stores its draws, final latents and pixels, and replays it
    through the package's TorchScript files (replay()); returns (golden entries, report lines)."""
    import importlib
    pipe_mod = importlib.import_module(PIPELINES[p.class_name])
    vae_mod = importlib.import_module("diffusers.models.autoencoders.vae")
    Pipe = getattr(pipe_mod, p.class_name)
    prompts, negatives, seeds = list(golden.prompts), list(golden.negatives), list(golden.seeds)
    B = len(prompts)
    ids, truncated = tok.encode(prompts)
    uncond_ids = tok.encode(negatives)[0]
    package = Package(pkg, manifest)
    entries, lines = [], []
    for sampler, size, frames, dynamic in runs:
        sched_name = SCHEDULERS[sampler]
        sched_mod = importlib.import_module(SCHEDULER_MODULES[sched_name])
        scheduler = getattr(diffusers, sched_name).from_config(p.scheduler_config)
        pipe = Pipe(tokenizer=sampling.TokenizerCall(tok), text_encoder=te, vae=vae, transformer=tr,
                    scheduler=scheduler)
        pipe.set_progress_bar_config(disable=True)
        W, H = size
        image = golden_image(size, B) if p.image_to_video else None
        kw = {"image": image} if image is not None else {}
        with DrawTap([pipe_mod, vae_mod, sched_mod]) as tap:
            lat = pipe(prompt=prompts, negative_prompt=negatives, height=H, width=W, num_frames=frames,
                       num_inference_steps=golden.steps, guidance_scale=golden.guidance, use_dynamic_cfg=dynamic,
                       generator=[torch.Generator().manual_seed(s) for s in seeds], output_type="latent",
                       max_sequence_length=p.max_sequence_length, return_dict=False, **kw)[0]
            pixels = pipe.decode_latents(lat)
        streams = [[] for _ in range(B)]
        nxt = 0
        kinds = []
        for where, d in tap.draws:
            if d.shape[0] == B:  # one [1, ...] draw per item's generator, concatenated
                for b in range(B):
                    streams[b].append(d[b:b + 1])
            else:  # the posterior sample of one image, drawn with that item's generator
                streams[nxt].append(d)
                nxt = (nxt + 1) % B
            kinds.append(where)
        n_image = kinds.count("vae") / B
        flat = [torch.cat([s[k] for s in streams]) for k in range(len(streams[0]))]
        arrays = {"input_ids_0": ids, "uncond_ids_0": uncond_ids}
        if p.image_to_video:
            if n_image != 1:
                raise Refused(f"{p.class_name} drew {n_image} posterior samples per item, expected 1")
            arrays["image"] = image
            arrays["image_noise"] = flat.pop(0)
        arrays["init_noise"] = flat.pop(0)
        if flat:
            arrays["step_noise"] = torch.stack(flat)
        sched = Schedule(p.scheduler_config, golden.steps)
        if list(scheduler.timesteps.tolist()) != sched.timesteps:
            raise Refused(f"{sched_name} timesteps {scheduler.timesteps.tolist()} differ from the planned "
                          f"{sched.timesteps}")
        arrays["timesteps"] = torch.tensor(sched.timesteps, dtype=torch.float32)
        arrays["latent_final"], arrays["pixels"] = lat, pixels
        lat_x, pix_x = package.replay(arrays, sampler, golden.guidance, dynamic)
        d_lat, d_pix = max_abs(lat, lat_x), max_abs(pixels, pix_x)
        base = f"sampling_{sampler}_{W}x{H}_f{frames}"
        subject = f"sampling/{sampler}/{W}x{H}/f{frames}"
        line = f"{subject}: latents {d_lat:.2e}, pixels {d_pix:.2e}"
        print(f"sampling golden {line} (exported replay vs diffusers' __call__; latent max abs "
              f"{lat.abs().max().item():.3g}; {len(tap.draws)} draws)", flush=True)
        if not d_lat <= golden.sampling_atol or not d_pix <= 10 * golden.sampling_atol:
            raise Refused(f"{subject}: the exported package in the runtime's loop ends {d_lat:.3e} (pixels "
                          f"{d_pix:.3e}) from diffusers' run (> --sampling-atol {golden.sampling_atol})")
        np.savez(os.path.join(pkg, "golden", base + ".npz"),
                 **{k: v.detach().numpy().astype(np.int64 if v.dtype == torch.int64 else np.float32)
                    for k, v in arrays.items()})
        write_json(os.path.join(pkg, "golden", base + ".json"), {
            "sampler": sampler, "scheduler": sched_name, "pipeline": p.class_name, "steps": golden.steps,
            "guidance_scale": golden.guidance, "use_dynamic_cfg": dynamic, "num_frames": frames, "width": W,
            "height": H, "prompts": prompts, "negative_prompts": negatives, "truncated_tokens": truncated,
            "max_sequence_length": p.max_sequence_length, "diffusers_version": diffusers.__version__})
        entries.append({"subject": subject, "file": f"golden/{base}.npz"})
        lines.append(line)
    return entries, lines


class Package:
    """The runtime's loop over a latent video package's TorchScript files (used to replay the goldens)."""

    def __init__(self, pkg, manifest):
        files = {c["name"]: os.path.join(pkg, c["file"]) for c in manifest["components"]}
        self.text = torch.jit.load(files["text_encoder"])
        self.graph = GraphRunner(pkg, manifest["components"], manifest["denoiser"])
        v = manifest["video"]
        self.head, self.step = torch.jit.load(files[v["decoderHead"]]), torch.jit.load(files[v["decoderStep"]])
        self.encoder = torch.jit.load(files[v["encoder"]]) if v.get("encoder") else None
        self.scale = float(manifest["latent"]["scaleFactor"])
        with open(os.path.join(pkg, manifest["schedule"]["configFile"])) as f:
            self.config = json.load(f)

    @torch.no_grad()
    def replay(self, arrays, sampler, guidance, dynamic):
        """(final latents [B,F',C,h,w], pixels [B,3,F,H,W]) from a golden's ids, image and draws."""
        ids, uncond = arrays["input_ids_0"], arrays["uncond_ids_0"]
        guided = guidance > 1
        ehs = torch.cat([self.text(uncond), self.text(ids)]) if guided else self.text(ids)
        x = arrays["init_noise"].clone()
        B, F = x.shape[0], x.shape[1]
        image = None
        if "image" in arrays:
            ms = [self.encoder(arrays["image"][b:b + 1]) for b in range(B)]
            mean, std = torch.cat([m for m, _ in ms]), torch.cat([s for _, s in ms])
            z = (mean + std * arrays["image_noise"]).permute(0, 2, 1, 3, 4) * self.scale
            image = torch.cat([z, torch.zeros(B, F - 1, *z.shape[2:])], dim=1)
        steps = len(arrays["timesteps"])
        sched = Schedule(self.config, steps)
        draws = list(arrays["step_noise"]) if "step_noise" in arrays else []
        old = None
        for i, t in enumerate(sched.timesteps):
            inp = torch.cat([x, x]) if guided else x
            if image is not None:
                inp = torch.cat([inp, torch.cat([image, image]) if guided else image], dim=2)
            v = self.graph(sample=inp, timestep=torch.full((inp.shape[0],), float(t)), encoder_hidden_states=ehs)
            if guided:
                g = dynamic_guidance(guidance, t, steps) if dynamic else guidance
                vu, vc = v.chunk(2)
                v = vu + float(np.float32(g)) * (vc - vu)
            if sampler == "ddim":
                x = sched.ddim(i, v, x)
            else:
                x, old = sched.dpm(i, v, x, old, lambda: draws.pop(0))
        if draws:
            raise Refused(f"{len(draws)} recorded step draws were not used by the {sampler} replay")
        z = (1 / self.scale) * x.permute(0, 2, 1, 3, 4)
        return x, decode_chunks(self.head, self.step, z)
