#!/usr/bin/env python3
"""Export a Stable Diffusion 1.x, 2.x, SDXL, SD3 or Flux diffusers pipeline folder as a Genloom `latent_diffusion`
package.

A StableDiffusion3Pipeline folder (three text encoders, an MMDiT transformer, flow matching) is exported by
genloom_export.sd3, a FluxPipeline folder (CLIP pooled output and T5, double- and single-stream transformer
blocks, FluxPipeline's shifted schedule) by genloom_export.flux; this command dispatches to them (see their
docstrings; --max-sequence-length applies to them).

Input: a local diffusers pipeline folder (StableDiffusionPipeline or StableDiffusionXLPipeline):
model_index.json, unet/ (UNet2DConditionModel), vae/ (AutoencoderKL), text_encoder/ and tokenizer/
(CLIPTextModel), for SDXL also text_encoder_2/ and tokenizer_2/ (CLIPTextModelWithProjection), and
scheduler/scheduler_config.json. Output, in the format of models/PACKAGE_FORMAT.md:

  manifest.json                  genloom.v1.ModelManifest (validated against model.proto)
  text_encoder.pt (+ text_encoder_2.pt)
                                 input_ids [B,L] int64, hidden_layer [1] int64 -> hidden_states [B,L,D]
                                 (+ pooled [B,P] from the encoder SDXL's pooled embedding comes from)
  tokenizer/tokenizer.json (+ tokenizer_2/tokenizer.json)
                                 copied, or written from vocab.json + merges.txt
  vae_encoder.pt, vae_decoder.pt pixels [B,3,H,W] in [-1,1] <-> latent [B,C,h,w] (unscaled)
  unet/<block>.pt                time_embedding (time_proj + time_embedding, for SDXL plus add_time_proj and
                                 add_embedding), conv_in, down_blocks.<i> (returns its skip tensors by name),
                                 mid_block, up_blocks.<i> (takes them by name), conv_out
  scheduler/scheduler_config.json  the pipeline's file, copied verbatim
  golden/<component>.npz         every component's inputs and outputs at batch 2 and the default size
  golden/sampling_<sampler>_<W>x<H>.npz + .json
                                 full sampling runs recorded with diffusers' schedulers over the eager
                                 diffusers modules, with every random draw

Batch, height and width are dynamic: every component is traced once with torch.jit.trace (CPU,
float32) at a size other than the default, then compared with eager PyTorch at the default size,
1.5x the default width, twice the default height and the smallest size, and the exported block
graph is compared with the full eager UNet at those sizes; the export stops if anything differs by
more than --atol. The sampling goldens are then replayed with the exported TorchScript blocks,
text encoders and decoder inside the same diffusers loop, and the export stops if the final
latents differ from the eager run by more than --sampling-atol.

What it refuses, by name: pipelines outside the SD / SDXL text-to-image family (inpainting,
refiner with requires_aesthetics_score, ...), UNet configs with class_embed_type, num_class_embeds,
encoder_hid_dim_type, time_cond_proj_dim, an addition_embed_type other than null / "text_time",
resnet_time_scale_shift other than "default", attention_type other than "default", 9 input
channels; VAE configs with latents_mean / latents_std; text encoders other than CLIPTextModel and
CLIPTextModelWithProjection; scheduler configs with thresholding or a prediction_type other than
epsilon, v_prediction and sample, and flow-matching ones (FlowMatchEulerDiscreteScheduler, exported with
velocity prediction and the euler sampler) with use_dynamic_shifting; sizes that are not multiples of the size constraint.

Usage (torch, numpy, regex, diffusers and transformers installed; export with a PyTorch no newer
than the Java runtime's libtorch, DJL pytorch-native 2.7.1):

  PYTHONPATH=models/export python3 -m genloom_export.stable_diffusion --pipeline PATH/TO/pipeline \\
      --out models/my-sd [--name my-sd] [--width 512 --height 512] [--buckets 512x512,768x512]
"""
import argparse
import contextlib
import os
import shlex
import shutil
import sys

import torch
import torch.nn as nn

from . import cli as C
from . import sampling
from .common import (GraphRunner, Refused, VaeDecoder, VaeEncoder, as_tuple, cfg, check_package_files, max_abs,
                     read_json, strip_debug_sources, spec, train_export, versions)
from .precision import MANIFEST as PRECISION_MANIFEST
from .precision import check_half, check_precision, trace_half
from .text import PromptTokenizer, TextEncoderComponent, check_component, load_text_encoder, text_encoder_arch

FAMILIES = {"StableDiffusionPipeline": "sd", "StableDiffusionXLPipeline": "sdxl"}
PREDICTIONS = {"epsilon": "PREDICTION_EPSILON", "v_prediction": "PREDICTION_V", "sample": "PREDICTION_SAMPLE"}
# SDXL's published aspect-ratio buckets (width x height) around 1024x1024.
SDXL_BUCKETS = [(1024, 1024), (1152, 896), (896, 1152), (1216, 832), (832, 1216), (1344, 768), (768, 1344),
                (1536, 640), (640, 1536)]
GOLDEN_PROMPTS = [
    "a photograph of an astronaut riding a horse on the moon",
    "an extremely detailed oil painting of a quiet harbour town at dawn, with small wooden fishing boats, "
    "red and white lighthouses, gulls over the water, soft pink clouds, long reflections on calm water, "
    "stone houses with blue shutters, a church tower, old nets drying on the pier, and distant green hills "
    "covered in morning mist, painted in the style of a nineteenth century landscape master, warm light",
]
GOLDEN_NEGATIVES = ["", "blurry, low quality"]


def parse_size(text):
    try:
        w, h = text.lower().split("x")
        return int(w), int(h)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxHEIGHT") from None


def parse_sizes(text):
    return [parse_size(s) for s in text.split(",") if s.strip()]


def size_name(size):
    return f"{size[0]}x{size[1]}"


# ------------------------------------------------------------------------------------------ pipeline folder


def read_model_index(folder):
    index_path = os.path.join(folder, "model_index.json")
    if not os.path.isfile(index_path):
        raise Refused(f"{folder}: no model_index.json (not a diffusers pipeline folder)")
    return read_json(index_path)


class Pipeline:
    """What the pipeline folder's JSON files say, checked before any weights are loaded."""

    size_rule = "VAE factor x 2**num_upsamplers"

    def __init__(self, folder):
        self.folder = folder
        self.index = read_model_index(folder)
        cls = self.index.get("_class_name")
        if cls not in FAMILIES:
            raise Refused(f"pipeline _class_name {cls!r} is not exported (supported: "
                          f"{', '.join(list(FAMILIES) + ['StableDiffusion3Pipeline', 'FluxPipeline'])})")
        self.class_name = cls
        self.family = FAMILIES[cls]
        if self.index.get("requires_aesthetics_score"):
            raise Refused("model_index.json requires_aesthetics_score is true (an SDXL refiner): not exported")
        # force_zeros_for_empty_prompt is an SDXL pipeline setting (default true); SD 1.x/2.x have none.
        self.zero_empty_negative = self.family == "sdxl" and bool(self.index.get("force_zeros_for_empty_prompt", True))
        self.unet_config = self._config("unet")
        self.vae_config = self._config("vae")
        self.scheduler_path = os.path.join(folder, "scheduler", "scheduler_config.json")
        if not os.path.isfile(self.scheduler_path):
            raise Refused("the pipeline has no scheduler/scheduler_config.json")
        self.scheduler_config = read_json(self.scheduler_path)
        check_unet_config(self.unet_config, self.vae_config, self.family)
        check_vae_config(self.vae_config)
        self.prediction = check_scheduler_config(self.scheduler_config)
        names = ["text_encoder"] + (["text_encoder_2"] if self.family == "sdxl" else [])
        self.encoders = []
        for i, name in enumerate(names):
            tok = "tokenizer" if i == 0 else f"tokenizer_{i + 1}"
            arch = text_encoder_arch(os.path.join(folder, name))
            self.encoders.append((name, tok, arch))
        self.pooled_from = "text_encoder_2" if self.family == "sdxl" else None
        if self.pooled_from and self.encoders[-1][2] != "CLIPTextModelWithProjection":
            raise Refused(f"{self.pooled_from}: architecture {self.encoders[-1][2]!r}; the pooled embedding of an "
                          "SDXL pipeline comes from a CLIPTextModelWithProjection")
        self.vae_factor = 2 ** (len(self.vae_config.get("block_out_channels", [0])) - 1)
        self.num_upsamplers = len(self.unet_config.get("block_out_channels", [0])) - 1
        self.multiple_of = self.vae_factor * 2 ** self.num_upsamplers
        ss = self.unet_config.get("sample_size", 64)
        sh, sw = (ss, ss) if isinstance(ss, int) else (ss[0], ss[1])
        self.default_size = (int(sw) * self.vae_factor, int(sh) * self.vae_factor)

    def _config(self, sub):
        path = os.path.join(self.folder, sub, "config.json")
        if not os.path.isfile(path):
            raise Refused(f"the pipeline has no {sub}/config.json")
        return read_json(path)


def check_unet_config(c, vae_config, family):
    for key in ("class_embed_type", "num_class_embeds", "encoder_hid_dim_type", "time_cond_proj_dim"):
        if c.get(key) is not None:
            raise Refused(f"unet config {key}={c[key]!r}: extra conditioning inputs are not part of Genloom's "
                          "latent diffusion graph")
    aet = c.get("addition_embed_type")
    if aet not in (None, "text_time"):
        raise Refused(f"unet config addition_embed_type={aet!r}: only null and \"text_time\" (SDXL) are exported")
    if family == "sdxl" and aet != "text_time":
        raise Refused(f"unet config addition_embed_type={aet!r}: an SDXL pipeline's UNet takes \"text_time\"")
    if family == "sd" and aet is not None:
        raise Refused(f"unet config addition_embed_type={aet!r} in a StableDiffusionPipeline (no pooled embedding)")
    shift = c.get("resnet_time_scale_shift", "default")
    if shift != "default":
        raise Refused(f"unet config resnet_time_scale_shift={shift!r}: only \"default\" is exported")
    att = c.get("attention_type", "default")
    if att not in (None, "default"):
        raise Refused(f"unet config attention_type={att!r}: only \"default\" is exported")
    cin = c.get("in_channels", 4)
    if cin == 9:
        raise Refused("unet config in_channels=9: an inpainting UNet (mask and masked image inputs) is not exported")
    lat = vae_config.get("latent_channels", 4)
    if cin != lat:
        raise Refused(f"unet config in_channels={cin} differs from the VAE's latent_channels={lat}")


def check_vae_config(c):
    for key in ("latents_mean", "latents_std"):
        if c.get(key) is not None:
            raise Refused(f"vae config {key} is set: per-channel latent normalisation is not exported")


def check_scheduler_config(c):
    if sampling.is_flow_matching(c):
        # a rectified-flow fine-tune of the UNet family: velocity outputs, sigma x 1000 timesteps
        if c.get("use_dynamic_shifting"):
            raise Refused("scheduler config use_dynamic_shifting=true: the Stable Diffusion pipelines pass no mu "
                          "(image sequence length shift); not exported")
        return "PREDICTION_FLOW_VELOCITY"
    if c.get("thresholding"):
        raise Refused("scheduler config thresholding=true: dynamic thresholding is not implemented by Genloom")
    pred = c.get("prediction_type", "epsilon")
    if pred not in PREDICTIONS:
        raise Refused(f"scheduler config prediction_type={pred!r}: Genloom implements "
                      f"{', '.join(PREDICTIONS)}")
    return PREDICTIONS[pred]


class Sizes:
    """The size constraint of a package and the sizes the export checks."""

    def __init__(self, p, width=None, height=None, max_width=None, max_height=None, buckets=None):
        m = p.multiple_of
        self.multiple_of = m
        self.rule = getattr(p, "size_rule", Pipeline.size_rule)
        self.default = (int(width or p.default_size[0]), int(height or p.default_size[1]))
        self.check("default size", self.default)
        self.max = (int(max_width or 2 * self.default[0] // m * m), int(max_height or 2 * self.default[1] // m * m))
        self.check("maximum size", self.max, bounded=False)
        if self.max[0] < self.default[0] or self.max[1] < self.default[1]:
            raise Refused(f"maximum size {size_name(self.max)} is below the default size {size_name(self.default)}")
        if buckets is None:
            buckets = SDXL_BUCKETS if p.family == "sdxl" and self.default == (1024, 1024) else []
        for b in buckets:
            self.check("bucket", b)
        self.buckets = list(buckets)
        self.trace = (self.default[0] + m, self.default[1] + m)
        self.checks = unique([self.default, (self.default[0] * 3 // 2 // m * m, self.default[1]),
                              (self.default[0], 2 * self.default[1]), (m, m)])
        self.checks = [s for s in self.checks if s != self.trace]

    def check(self, what, size, bounded=True):
        m = self.multiple_of
        w, h = size
        if w % m or h % m or w <= 0 or h <= 0:
            raise Refused(f"{what} {size_name(size)} is not a multiple of {m} ({self.rule})")
        if bounded and hasattr(self, "max") and (w > self.max[0] or h > self.max[1]):
            raise Refused(f"{what} {size_name(size)} exceeds the maximum size {size_name(self.max)}")

    def constraint(self):
        c = {"multipleOf": self.multiple_of, "minWidth": self.multiple_of, "maxWidth": self.max[0],
             "minHeight": self.multiple_of, "maxHeight": self.max[1]}
        if self.buckets:
            c["buckets"] = [{"width": w, "height": h} for w, h in self.buckets]
        return c


def unique(items):
    out = []
    for x in items:
        if x not in out:
            out.append(x)
    return out


class DiffusersLoader:
    """Loads the UNet and VAE with diffusers (float32, CPU)."""

    def __init__(self, variant=None):
        self.variant = variant

    def _kw(self):
        kw = {"torch_dtype": torch.float32}
        if self.variant:
            kw["variant"] = self.variant
        return kw

    def unet(self, folder):
        return sampling.require_diffusers().UNet2DConditionModel.from_pretrained(os.path.join(folder, "unet"),
                                                                                 **self._kw()).eval()

    def vae(self, folder):
        return sampling.require_diffusers().AutoencoderKL.from_pretrained(os.path.join(folder, "vae"),
                                                                          **self._kw()).eval()

    def transformer(self, folder, class_name):
        cls = getattr(sampling.require_diffusers(), class_name)
        return cls.from_pretrained(os.path.join(folder, "transformer"), **self._kw()).eval()


# ------------------------------------------------------------------------------------------ UNet blocks


class TimeEmbedding(nn.Module):
    """timestep [B] float32 (+ text_embeds [B,P], time_ids [B,6] for SDXL) -> temb, as the UNet's forward
    computes it: time_embedding(time_proj(t)) + add_embedding([text_embeds, add_time_proj(time_ids)]),
    then time_embed_act when the UNet has one."""

    def __init__(self, unet):
        super().__init__()
        self.time_proj = unet.time_proj
        self.time_embedding = unet.time_embedding
        self.text_time = cfg(unet, "addition_embed_type") == "text_time"
        if self.text_time:
            self.add_time_proj = unet.add_time_proj
            self.add_embedding = unet.add_embedding
        self.act = getattr(unet, "time_embed_act", None)

    def forward(self, timestep, text_embeds=None, time_ids=None):
        # The sinusoidal projection is float32; the UNet casts it to its weights' dtype (diffusers:
        # t_emb.to(dtype=sample.dtype)), which a half-precision export records as such.
        emb = self.time_embedding(self.time_proj(timestep).to(self.time_embedding.linear_1.weight.dtype))
        if self.text_time:
            time_embeds = self.add_time_proj(time_ids.flatten()).reshape((text_embeds.shape[0], -1))
            emb = emb + self.add_embedding(torch.cat([text_embeds, time_embeds], dim=-1).to(emb.dtype))
        if self.act is not None:
            emb = self.act(emb)
        return emb


class ConvIn(nn.Module):
    def __init__(self, unet):
        super().__init__()
        self.conv_in = unet.conv_in
        self.center = bool(cfg(unet, "center_input_sample", False))

    def forward(self, sample):
        if self.center:
            sample = 2 * sample - 1.0
        return self.conv_in(sample)


class DownBlock(nn.Module):
    """(hidden_states, temb[, encoder_hidden_states]) -> (hidden_states, *res_samples)."""

    def __init__(self, block):
        super().__init__()
        self.block = block
        self.cross = bool(getattr(block, "has_cross_attention", False))

    def forward(self, hidden_states, temb, encoder_hidden_states=None):
        if self.cross:
            h, res = self.block(hidden_states=hidden_states, temb=temb, encoder_hidden_states=encoder_hidden_states)
        else:
            h, res = self.block(hidden_states=hidden_states, temb=temb)
        return (h,) + tuple(res)


class MidBlock(nn.Module):
    def __init__(self, block):
        super().__init__()
        self.block = block
        self.cross = bool(getattr(block, "has_cross_attention", False))

    def forward(self, hidden_states, temb, encoder_hidden_states=None):
        if self.cross:
            return self.block(hidden_states, temb, encoder_hidden_states=encoder_hidden_states)
        return self.block(hidden_states, temb)


class UpBlock(nn.Module):
    """(hidden_states, skip_0..skip_{n-1}, temb[, encoder_hidden_states]) -> hidden_states.
    Skips are in the order diffusers accumulated them (the block pops from the end). Sizes are multiples
    of the package's constraint, so the UNet never passes an explicit upsample_size."""

    def __init__(self, block, n_skips):
        super().__init__()
        self.block = block
        self.n = n_skips
        self.cross = bool(getattr(block, "has_cross_attention", False))

    def forward(self, hidden_states, *rest):
        res = tuple(rest[:self.n])
        temb = rest[self.n]
        if self.cross:
            return self.block(hidden_states=hidden_states, temb=temb, res_hidden_states_tuple=res,
                              encoder_hidden_states=rest[self.n + 1])
        return self.block(hidden_states=hidden_states, temb=temb, res_hidden_states_tuple=res)


class ConvOut(nn.Module):
    def __init__(self, unet):
        super().__init__()
        self.norm = getattr(unet, "conv_norm_out", None)
        self.act = getattr(unet, "conv_act", None)
        self.conv_out = unet.conv_out

    def forward(self, h):
        if self.norm is not None:
            h = self.norm(h)
            h = self.act(h)
        return self.conv_out(h)


class BlockDef:
    def __init__(self, name, module, inputs, outputs, cacheable):
        self.name, self.module, self.inputs, self.outputs, self.cacheable = name, module, inputs, outputs, cacheable
        self.component = "unet." + name
        self.file = f"unet/{name}.pt"


def unet_blocks(unet, sdxl):
    """The UNet as an ordered list of BlockDefs over named tensors (output names of down blocks follow
    the number of skip tensors each returns: down<i>_out, down<i>_res<j>)."""
    t_in = ["timestep"] + (["text_embeds", "time_ids"] if sdxl else [])
    blocks = [BlockDef("time_embedding", TimeEmbedding(unet), t_in, ["temb"], False),
              BlockDef("conv_in", ConvIn(unet), ["sample"], ["h_in"], False)]
    skips, h = ["h_in"], "h_in"
    for i, blk in enumerate(unet.down_blocks):
        mod = DownBlock(blk)
        n_res = len(blk.resnets) + (len(blk.downsamplers) if getattr(blk, "downsamplers", None) is not None else 0)
        outs = [f"down{i}_out"] + [f"down{i}_res{j}" for j in range(n_res)]
        blocks.append(BlockDef(f"down_blocks.{i}", mod, [h, "temb"] + (["encoder_hidden_states"] if mod.cross else []),
                               outs, True))
        h = outs[0]
        skips += outs[1:]
    if getattr(unet, "mid_block", None) is not None:
        mod = MidBlock(unet.mid_block)
        blocks.append(BlockDef("mid_block", mod, [h, "temb"] + (["encoder_hidden_states"] if mod.cross else []),
                               ["mid_out"], True))
        h = "mid_out"
    for i, blk in enumerate(unet.up_blocks):
        n = len(blk.resnets)
        mine, skips = skips[-n:], skips[:-n]
        mod = UpBlock(blk, n)
        blocks.append(BlockDef(f"up_blocks.{i}", mod,
                               [h] + mine + ["temb"] + (["encoder_hidden_states"] if mod.cross else []),
                               [f"up{i}_out"], True))
        h = f"up{i}_out"
    if skips:
        raise Refused(f"UNet layout: skip tensors left unconsumed by the up blocks: {skips}")
    blocks.append(BlockDef("conv_out", ConvOut(unet), [h], ["noise_pred"], False))
    return blocks


@torch.no_grad()
def run_blocks(blocks, env, modules=None):
    """Run BlockDefs over env (eager modules, or the given {name: module}); returns env."""
    for b in blocks:
        m = modules[b.name] if modules is not None else b.module
        outs = as_tuple(m(*[env[i] for i in b.inputs]))
        if len(outs) != len(b.outputs):
            raise Refused(f"{b.name}: {len(outs)} outputs, expected {len(b.outputs)} ({b.outputs})")
        env.update(zip(b.outputs, outs))
    return env


# ------------------------------------------------------------------------------------------ the export


def dims_for(t):
    """Dynamic dimensions of a tensor crossing a component boundary: batch, and height/width of 4-D ones."""
    return (0, 2, 3) if t.dim() == 4 else (0,)


class PackageWriter:
    """Traces components at one set of inputs, writes their goldens at another, records manifest entries."""

    def __init__(self, pkg, atol, precision="fp32", keep_fp32=()):
        """`precision`: the weights' precision of every component but those named in `keep_fp32`
        (genloom_export.precision)."""
        self.E = train_export()
        self.pkg = pkg
        self.atol = atol
        self.precision = check_precision(precision)
        self.keep_fp32 = set(keep_fp32)
        self.components, self.goldens = [], []
        self.traced = {}
        self.precision_notes = []
        os.makedirs(os.path.join(pkg, "golden"), exist_ok=True)

    def precision_of(self, name):
        return "fp32" if name in self.keep_fp32 else self.precision

    def unused_keep_fp32(self):
        """Names given to keep in fp32 that no component has."""
        names = {c["name"] for c in self.components}
        return sorted(self.keep_fp32 - names)

    @torch.no_grad()
    def component(self, name, module, trace_args, golden_args, in_names, out_names, file=None, dims=dims_for,
                  named_dims=None):
        """`dims`: the dynamic dimensions of a float tensor (default dims_for); `named_dims(name, tensor)`, where
        given, decides them by tensor name instead."""
        if named_dims is not None:
            dims = None
        file = file or f"{name}.pt"
        path = os.path.join(self.pkg, file)
        module = module.eval()
        # Contiguous inputs, as a golden file gives them back (a strided view may take another kernel path).
        trace_args = [a.contiguous() for a in trace_args]
        golden_args = [a.contiguous() for a in golden_args]
        prec = self.precision_of(name)
        if prec == "fp32":
            self.E.trace_save(module, tuple(trace_args), path)
            strip_debug_sources(path)
            sha = self.E.sha256_file(path)
            self.E.verify_reload(path, module, tuple(trace_args), self.atol)
            loaded = torch.jit.load(path)
        else:
            # The float32 trace (in memory, sharing the eager weights) is what the exporters' size and
            # graph checks and the goldens use; the file holds the half-precision trace.
            loaded = torch.jit.trace(module, tuple(trace_args), check_trace=False)
            compare(name, module(*trace_args), loaded(*trace_args), self.atol, {}, " (float32 trace)")
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            torch.jit.save(trace_half(module, trace_args, in_names, prec, name), path)
            strip_debug_sources(path)
            sha = self.E.sha256_file(path)
        outs = as_tuple(loaded(*golden_args))
        if prec != "fp32":
            _, note = check_half(name, path, prec, golden_args, outs)
            self.precision_notes.append(note)
        if len(outs) != len(out_names):
            raise Refused(f"{name}: {len(outs)} outputs, expected {out_names}")
        arrays = dict(zip(in_names, golden_args))
        arrays.update({(n + ".out" if n in in_names else n): o for n, o in zip(out_names, outs)})
        self.E.write_golden(os.path.join(self.pkg, "golden", f"{name}.npz"), arrays)
        dyn = (lambda n, t: named_dims(n, t)) if named_dims is not None else (lambda n, t: dims(t))
        in_specs = [spec(n, a, dyn(n, a) if a.dtype != torch.int64 else (0,) if n == "input_ids" else ())
                    for n, a in zip(in_names, golden_args)]
        out_specs = [spec(n, o, dyn(n, o)) for n, o in zip(out_names, outs)]
        entry = self.E.component(name, file, in_specs, out_specs, sha)
        if prec != "fp32":
            entry["precision"] = PRECISION_MANIFEST[prec]
        self.components.append(entry)
        self.goldens.append(self.E.golden_entry(name, f"golden/{name}.npz"))
        self.traced[name] = loaded
        return outs


def compare(component, eager_outs, traced_outs, atol, report, where=""):
    """Max abs difference of a traced component's outputs from eager PyTorch; report keeps the worst per
    component. Raises Refused above atol."""
    d = max((max_abs(a, b) for a, b in zip(as_tuple(eager_outs), as_tuple(traced_outs))), default=0.0)
    report[component] = max(report.get(component, 0.0), d)
    if not d <= atol:
        raise Refused(f"{component}{where}: the traced component differs from eager PyTorch by {d:.3e} "
                      f"> --atol {atol}")
    return d


def graph_inputs(size, batch, latent_c, vae_factor, ehs_shape, pooled_dim, g, sdxl, timesteps=None):
    w, h = size
    env = {"sample": torch.randn(batch, latent_c, h // vae_factor, w // vae_factor, generator=g),
           "timestep": (timesteps if timesteps is not None
                        else torch.rand(batch, generator=g) * 999.0).to(torch.float32),
           "encoder_hidden_states": torch.randn(batch, *ehs_shape, generator=g)}
    if sdxl:
        env["text_embeds"] = torch.randn(batch, pooled_dim, generator=g)
        env["time_ids"] = torch.tensor([[h, w, 0, 0, h, w]] * batch, dtype=torch.float32)
        env["time_ids"][0, :2] += torch.tensor([32.0, -32.0])  # an original size other than the target
    return env


def sampler_default(scheduler_config):
    cls = scheduler_config.get("_class_name")
    if cls in sampling.SCHEDULER_SAMPLER:
        return sampling.SCHEDULER_SAMPLER[cls], None
    return "ddim", f"the pipeline's scheduler {cls} has no Genloom sampler; defaults.sampler is ddim"


@torch.no_grad()
def export(pipeline_dir, out, *, name=None, description=None, width=None, height=None, max_width=None,
           max_height=None, buckets=None, atol=1e-4, loader=None, golden=None, command=None,
           max_sequence_length=None, num_frames=None, precision="fp32", keep_fp32=()):
    """Export the pipeline folder into the package folder `out`; returns the manifest. `loader` supplies
    the UNet and VAE (default DiffusersLoader); text encoders load with transformers. `golden`: a
    sampling.GoldenOptions, or None for the defaults. Raises Refused for what it does not export; a
    package folder it created is removed again when the export fails. A StableDiffusion3Pipeline folder
    goes to genloom_export.sd3.export, a FluxPipeline folder to genloom_export.flux.export
    (max_sequence_length: their T5 tokens per prompt, default 256 for SD3, 512 for Flux). A folder of a
    CogVideoX pipeline class goes to genloom_export.cogvideox.export (a latent video package; num_frames: its
    default frame count), which refuses the classes it does not export by name. `precision` (fp32, fp16,
    bf16): the weights of every component but those named in `keep_fp32` (genloom_export.precision)."""
    check_precision(precision)
    cls = read_model_index(pipeline_dir).get("_class_name")
    if isinstance(cls, str) and cls.startswith("CogVideoX"):
        from . import cogvideox
        if buckets:
            raise Refused(f"--buckets is not exported for {cls} folders")
        if precision != "fp32" or keep_fp32:
            raise Refused(f"--precision {precision}: {cls} packages are exported in fp32 only (their 3D "
                          "convolutions have no bf16 trace on every torch the exporter supports)")
        return cogvideox.export(pipeline_dir, out, name=name, description=description, width=width, height=height,
                                max_width=max_width, max_height=max_height, atol=atol, loader=loader, golden=golden,
                                command=command, max_sequence_length=max_sequence_length, num_frames=num_frames)
    if num_frames is not None:
        raise Refused("--num-frames applies to CogVideoX pipeline folders (latent video) only")
    golden = golden or sampling.GoldenOptions()
    if golden.frames or golden.dynamic_cfg:
        raise Refused("--golden-frames and --golden-dynamic-cfg apply to CogVideoX pipeline folders only")
    if cls in ("StableDiffusion3Pipeline", "FluxPipeline"):
        from . import flux, sd3
        if buckets:
            raise Refused(f"--buckets is not exported for {cls} folders")
        return (sd3 if cls == "StableDiffusion3Pipeline" else flux).export(
            pipeline_dir, out, name=name, description=description, width=width, height=height, max_width=max_width,
            max_height=max_height, atol=atol, loader=loader, golden=golden, command=command,
            max_sequence_length=max_sequence_length, precision=precision, keep_fp32=keep_fp32)
    if max_sequence_length is not None:
        raise Refused("--max-sequence-length applies to StableDiffusion3Pipeline and FluxPipeline folders (T5) only")
    p = Pipeline(pipeline_dir)
    sizes = Sizes(p, width, height, max_width, max_height, buckets)
    diffusers = sampling.optional_diffusers()
    golden.resolve(sizes, p)
    if os.path.exists(os.path.join(out, "manifest.json")):
        raise Refused(f"{out} already holds a package; choose an empty --out")
    loader = loader or DiffusersLoader()
    unet, vae = loader.unet(pipeline_dir), loader.vae(pipeline_dir)
    n_up = getattr(unet, "num_upsamplers", None)
    if n_up is not None and int(n_up) != p.num_upsamplers:
        raise Refused(f"unet has {n_up} upsamplers, its config says {p.num_upsamplers}")
    encoders, tokenizers = [], []
    for te_name, tok_name, _ in p.encoders:
        te = load_text_encoder(os.path.join(pipeline_dir, te_name))
        encoders.append(te)
        tokenizers.append(PromptTokenizer(os.path.join(pipeline_dir, tok_name), cfg(te, "max_position_embeddings")))
    if len({t.max_length for t in tokenizers}) != 1:
        raise Refused(f"the tokenizers pad to different lengths {sorted({t.max_length for t in tokenizers})}; "
                      "their hidden states are concatenated, so they must agree")

    with package_export(out, atol, precision, keep_fp32) as w:
        notes, report = [], {}
        g = torch.Generator().manual_seed(0)
        text, ehs, pooled = export_text(w, p, encoders, tokenizers, golden.prompts, notes, report)
        cross = cfg(unet, "cross_attention_dim")
        if cross is not None and not isinstance(cross, (list, tuple)) and int(cross) != ehs.shape[-1]:
            raise Refused(f"the text encoders give {ehs.shape[-1]} features, the UNet's cross_attention_dim is "
                          f"{cross}")
        os.makedirs(os.path.join(out, "scheduler"), exist_ok=True)
        shutil.copyfile(p.scheduler_path, os.path.join(out, "scheduler", "scheduler_config.json"))
        latent = export_vae(w, p, sizes, vae, int(cfg(unet, "in_channels", 4)), g, notes, report)
        denoiser, graph_err = export_unet(w, p, sizes, unet, latent, ehs, pooled, g, report)
        manifest = build_manifest(p, sizes, w, text, latent, denoiser, notes,
                                  name=name or os.path.basename(os.path.normpath(out)), description=description,
                                  classes=(unet, vae, encoders), tokenizers=tokenizers)
        manifest["training"].update({
            "source": os.path.basename(os.path.normpath(pipeline_dir)),
            "command": command or "genloom_export.stable_diffusion.export()",
            "trace_size": size_name(sizes.trace),
            "checked_sizes": ", ".join(size_name(s) for s in sizes.checks)
                             + " (batch 3; text encoders at every hidden_layer)",
            "components_vs_eager_max_abs": ", ".join(f"{k} {v:.2e}" for k, v in report.items()),
            "blocks_vs_full_unet_max_abs": ", ".join(f"{k} {v:.2e}" for k, v in graph_err.items())})

        # Sampling goldens with diffusers' own schedulers, replayed with the exported TorchScript.
        if diffusers is not None:
            entries, lines = sampling.record_goldens(diffusers, out, manifest, golden, p, denoiser=unet, vae=vae,
                                                     encoders=encoders, tokenizers=tokenizers, loaded=w.traced)
            manifest["goldens"] += entries
            manifest["training"]["sampling_goldens"] = (
                f"recorded with diffusers {diffusers.__version__} over the eager modules (prompt ids from "
                f"{tokenizers[0].source}); exported blocks, text encoders and decoder in the same loop vs eager: "
                + "; ".join(lines))
        else:
            manifest["training"]["sampling_goldens"] = "not recorded: diffusers is not importable"
            notes.append("no sampling goldens (diffusers is not importable)")
        finish_package(w, out, manifest, notes)
    print(f"wrote {out}: {len(w.components)} components, {w.E.package_size(out) / 1e6:.2f} MB", flush=True)
    return manifest


class PipelineFolder:
    """A diffusers pipeline folder whose JSON files an exporter reads and checks before any weights are loaded:
    its model_index.json, a component's config.json, its scheduler config."""

    def __init__(self, folder):
        self.folder = folder
        self.index = read_model_index(folder)

    def _config(self, sub):
        path = os.path.join(self.folder, sub, "config.json")
        if not os.path.isfile(path):
            raise Refused(f"the pipeline has no {sub}/config.json")
        return read_json(path)

    def _read_scheduler(self):
        """Sets scheduler_path and scheduler_config from scheduler/scheduler_config.json."""
        self.scheduler_path = os.path.join(self.folder, "scheduler", "scheduler_config.json")
        if not os.path.isfile(self.scheduler_path):
            raise Refused("the pipeline has no scheduler/scheduler_config.json")
        self.scheduler_config = read_json(self.scheduler_path)


@contextlib.contextmanager
def package_export(out, atol, precision="fp32", keep_fp32=()):
    """One export into `out`: yields its PackageWriter; a folder this export created is removed again when the
    export fails, so a failed export leaves nothing behind."""
    created = not os.path.exists(out)
    try:
        os.makedirs(out, exist_ok=True)
        yield PackageWriter(out, atol, precision, keep_fp32)
    except BaseException:
        if created:
            shutil.rmtree(out, ignore_errors=True)
        raise


def finish_package(w, out, manifest, notes):
    """Writes the manifest with the export's notes and checks every file it lists."""
    unused = w.unused_keep_fp32()
    if unused:
        raise Refused(f"--keep-fp32: no component is named {', '.join(unused)} (components: "
                      f"{', '.join(c['name'] for c in w.components)})")
    if w.precision != "fp32":
        manifest["training"]["precision"] = (
            f"{w.precision} weights" + (f" but {', '.join(sorted(w.keep_fp32))} (float32)" if w.keep_fp32 else "")
            + "; tensors at every component boundary float32; checked against float32: "
            + "; ".join(w.precision_notes))
    manifest["training"]["notes"] = "; ".join(notes) if notes else "none"
    w.E.write_manifest(os.path.join(out, "manifest.json"), manifest)
    check_package_files(out, manifest)


def export_text(w, p, encoders, tokenizers, prompts, notes, report):
    """Tokenizer files and text encoder components; returns (manifest `text`, the golden prompts'
    encoder_hidden_states, their pooled embedding or None)."""
    sdxl = p.family == "sdxl"
    specs, ehs, pooled = [], [], None
    for (te_name, tok_name, _), te, tok in zip(p.encoders, encoders, tokenizers):
        how = tok.write_tokenizer_json(os.path.join(w.pkg, tok_name, "tokenizer.json"))
        notes.append(f"{tok_name}/tokenizer.json {how}")
        hidden_layer = 2 if sdxl else 1
        comp = TextEncoderComponent(te, final_norm=not sdxl, pooled=(te_name == p.pooled_from)).eval()
        ids = tok.encode(prompts)[0]
        check_component(te, comp, ids)
        hl = torch.tensor([hidden_layer], dtype=torch.int64)
        outs = w.component(te_name, comp, (ids, hl), (ids, hl), ["input_ids", "hidden_layer"],
                           ["hidden_states"] + (["pooled"] if comp.pooled else []))
        ids3 = tok.encode(list(prompts) + [""])[0]
        for k in range(1, comp.n + 1):
            kk = torch.tensor([k], dtype=torch.int64)
            compare(te_name, comp(ids3, kk), w.traced[te_name](ids3, kk), w.atol, report,
                    f" (batch 3, hidden_layer {k})")
        ehs.append(outs[0])
        if comp.pooled:
            pooled = outs[1]
        specs.append({"component": te_name, "tokenizer": tok.spec(f"{tok_name}/tokenizer.json"),
                      "hiddenLayer": hidden_layer, "numHiddenStates": comp.n})
    text = {"encoders": specs, "zeroEmptyNegative": p.zero_empty_negative, "defaultClipSkip": 0}
    if p.pooled_from:
        text["pooledFrom"] = p.pooled_from
    return text, torch.cat(ehs, dim=-1), pooled


def export_vae(w, p, sizes, vae, latent_channels, g, notes, report, fold_shift=False):
    """vae_encoder and vae_decoder, traced at the trace size and checked at the others; returns the
    manifest `latent`. fold_shift: the VAE's shift_factor goes into both components (SD3: the pipeline
    decodes latents / scaling_factor + shift_factor), else it is ignored as the SD/SDXL pipelines ignore it."""
    shift = float(cfg(vae, "shift_factor", None) or 0.0)
    if shift and fold_shift:
        notes.append(f"vae shift_factor {shift} is folded into vae_encoder (mean - shift) and vae_decoder "
                     "(latent + shift)")
    elif shift:
        notes.append(f"vae shift_factor {shift} is ignored, as the SD/SDXL pipelines ignore it")
        shift = 0.0
    f = p.vae_factor
    (W, H), (TW, TH) = sizes.default, sizes.trace
    pix_t = torch.rand(2, 3, TH, TW, generator=g) * 2 - 1
    pix = torch.rand(2, 3, H, W, generator=g) * 2 - 1
    enc, dec = VaeEncoder(vae, shift).eval(), VaeDecoder(vae, shift).eval()
    (lat,) = w.component("vae_encoder", enc, (pix_t,), (pix,), ["pixels"], ["latent"])
    if tuple(lat.shape[1:]) != (latent_channels, H // f, W // f):
        raise Refused(f"vae_encoder gives latents {tuple(lat.shape[1:])}, expected "
                      f"{(latent_channels, H // f, W // f)}")
    w.component("vae_decoder", dec, (enc(pix_t),), (lat,), ["latent"], ["pixels"])
    for cw, ch in sizes.checks:
        x = torch.rand(3, 3, ch, cw, generator=g) * 2 - 1
        compare("vae_encoder", enc(x), w.traced["vae_encoder"](x), w.atol, report, f" at {cw}x{ch}")
        z = torch.randn(3, latent_channels, ch // f, cw // f, generator=g)
        compare("vae_decoder", dec(z), w.traced["vae_decoder"](z), w.atol, report, f" at {cw}x{ch}")
    return {"channels": latent_channels, "height": H // f, "width": W // f, "frames": 1,
            "scaleFactor": float(cfg(vae, "scaling_factor", 0.18215)), "downsample": f}


def export_unet(w, p, sizes, unet, latent, ehs, pooled, g, report):
    """The UNet's blocks, traced at the trace size, goldens at the default size (batch 2), every block and
    the whole graph (against the full UNet) checked at the other sizes; returns (manifest `denoiser`,
    {size: graph max abs difference})."""
    sdxl = p.family == "sdxl"
    f, c = latent["downsample"], latent["channels"]
    W, H = sizes.default
    blocks = unet_blocks(unet, sdxl)
    pooled_dim = pooled.shape[-1] if pooled is not None else 0
    env_t = run_blocks(blocks, graph_inputs(sizes.trace, 2, c, f, ehs.shape[1:], pooled_dim, g, sdxl))
    env = graph_inputs(sizes.default, 2, c, f, ehs.shape[1:], pooled_dim, g, sdxl,
                       timesteps=torch.tensor([981.0, 421.0]))
    env["encoder_hidden_states"] = ehs
    if sdxl:
        env["text_embeds"] = pooled
        env["time_ids"] = torch.tensor([[H, W, 0, 0, H, W]] * 2, dtype=torch.float32)
    run_blocks(blocks, env)
    for b in blocks:
        w.component(b.component, b.module, [env_t[i] for i in b.inputs], [env[i] for i in b.inputs], b.inputs,
                    b.outputs, file=b.file)
    denoiser = {"inputs": ["sample", "timestep", "encoder_hidden_states"] + (["text_embeds", "time_ids"] if sdxl
                                                                            else []),
                "blocks": [w.E.block(b.name, b.component, b.inputs, b.outputs, b.cacheable) for b in blocks],
                "output": "noise_pred", "prediction": p.prediction, "timestepInput": "discrete",
                "timestepScale": 1.0}
    runner = GraphRunner(w.pkg, w.components, denoiser, w.traced)
    graph_err = {}
    for size in sizes.checks:
        env_c = graph_inputs(size, 3, c, f, ehs.shape[1:], pooled_dim, g, sdxl,
                             timesteps=torch.tensor([999.0, 500.5, 1.0]))
        graph_in = {k: env_c[k] for k in denoiser["inputs"]}
        run_blocks(blocks, env_c)
        for b in blocks:
            compare(b.component, tuple(env_c[o] for o in b.outputs),
                    w.traced[b.component](*[env_c[i] for i in b.inputs]), w.atol, report, f" at {size_name(size)}")
        added = {"text_embeds": graph_in["text_embeds"], "time_ids": graph_in["time_ids"]} if sdxl else None
        ref = unet(graph_in["sample"], graph_in["timestep"], graph_in["encoder_hidden_states"],
                   added_cond_kwargs=added, return_dict=False)[0]
        d = max_abs(ref, runner(**graph_in))
        graph_err[size_name(size)] = d
        print(f"block graph vs full UNet at {size_name(size)} (batch 3): max abs diff {d:.3e} "
              f"(output max abs {ref.abs().max().item():.3g})", flush=True)
        if not d <= w.atol:
            raise Refused(f"the exported blocks differ from the full UNet at {size_name(size)} by {d:.3e} "
                          f"> --atol {w.atol}")
    return denoiser, graph_err


def build_manifest(p, sizes, w, text, latent, denoiser, notes, *, name, description, classes, tokenizers):
    unet, vae, encoders = classes
    sampler, note = sampler_default(p.scheduler_config)
    if note:
        notes.append(note)
    W, H = sizes.default
    te_classes = ", ".join(f"{n} {type(te).__name__}" for (n, _, _), te in zip(p.encoders, encoders))
    return {
        "format": "genloom/v1", "name": name, "version": "1.0.0", "kind": "MODEL_KIND_LATENT_DIFFUSION",
        "description": (description + " " if description else "")
        + f"{p.class_name} exported from diffusers: {te_classes}; {type(unet).__name__} as a block graph "
          f"({p.prediction}); {type(vae).__name__} (factor {p.vae_factor}); default {W}x{H}, sizes in multiples "
          f"of {sizes.multiple_of} up to {size_name(sizes.max)}.",
        "components": w.components, "denoiser": denoiser, "latent": latent,
        "schedule": {"configFile": "scheduler/scheduler_config.json"},
        "defaults": {"sampler": sampler, "steps": 50, "guidanceScale": 5.0 if p.family == "sdxl" else 7.5,
                     "eta": 0.0, "width": W, "height": H, "strength": 0.75, "guidanceRescale": 0.0},
        "supportedSizes": [{"width": W, "height": H}],
        "goldens": w.goldens,
        "training": {
            "versions": versions(),
            "classes": f"pipeline {p.class_name}, unet {type(unet).__name__}, vae {type(vae).__name__}, {te_classes}, "
                       f"scheduler {p.scheduler_config.get('_class_name', '?')}",
            "text_max_length": str(tokenizers[0].max_length),
        },
        "text": text,
        "sizeConstraint": sizes.constraint(),
    }


def return_freed_memory():
    """glibc only: hand blocks of 128 KiB and more back to the system when they are freed, as the ./genloom
    launcher does (MALLOC_MMAP_THRESHOLD_). Loading a real-size checkpoint frees a copy of its weights,
    which glibc's growing threshold would otherwise keep resident (an SD3-medium-sized export: 21 GB peak
    instead of 18)."""
    if os.environ.get("MALLOC_MMAP_THRESHOLD_"):
        return
    try:
        import ctypes
        ctypes.CDLL("libc.so.6").mallopt(-3, 131072)  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        pass


def main(argv=None):
    ap = C.parser(__doc__)
    ap.add_argument("--pipeline", required=True, help="diffusers pipeline folder (model_index.json, unet/, vae/, ...)")
    ap.add_argument("--out", required=True, help="package folder to create, e.g. models/my-sd")
    ap.add_argument("--name", help="package name (default: the --out folder name)")
    ap.add_argument("--description", help="text put before the generated description")
    ap.add_argument("--width", type=int, help="default width (default: unet sample_size x VAE factor)")
    ap.add_argument("--height", type=int, help="default height (default: unet sample_size x VAE factor)")
    ap.add_argument("--max-width", type=int, help="sizeConstraint.maxWidth (default: twice the default width, "
                                                  "rounded down to multipleOf)")
    ap.add_argument("--max-height", type=int, help="sizeConstraint.maxHeight (default: twice the default height)")
    ap.add_argument("--buckets", type=parse_sizes, help="aspect-ratio buckets WxH,... (default: SDXL's published "
                                                       "buckets for an SDXL pipeline at 1024x1024, else none)")
    ap.add_argument("--variant", help="diffusers weight variant to load, e.g. fp16 (weights are cast to float32)")
    ap.add_argument("--max-sequence-length", type=int, help="SD3 and Flux only: T5 tokens per prompt, diffusers' "
                                                             "max_sequence_length (default 256 for SD3, 512 for "
                                                             "Flux; at most 512)")
    ap.add_argument("--num-frames", type=int, help="CogVideoX only: the default frame count (default: the largest "
                                                   "served, at most 49)")
    ap.add_argument("--atol", type=float, default=1e-4, help="max abs difference allowed between traced components "
                                                             "and eager PyTorch, and the block graph and the UNet")
    ap.add_argument("--precision", default="fp32", choices=sorted(PRECISION_MANIFEST),
                    help="weights' precision of the components (default: fp32); tensors at component "
                         "boundaries stay float32")
    ap.add_argument("--keep-fp32", type=lambda v: [n for n in v.split(",") if n], default=[],
                    metavar="NAME,...", help="components kept in float32 under --precision fp16/bf16, e.g. "
                                             "vae_decoder")
    ap.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's own choice)")
    sampling.add_golden_args(ap)
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.set_grad_enabled(False)
    return_freed_memory()
    try:
        export(a.pipeline, os.path.abspath(a.out), name=a.name, description=a.description, width=a.width,
               height=a.height, max_width=a.max_width, max_height=a.max_height, buckets=a.buckets, atol=a.atol,
               loader=DiffusersLoader(a.variant), golden=sampling.GoldenOptions.from_args(a),
               max_sequence_length=a.max_sequence_length, num_frames=a.num_frames, precision=a.precision,
               keep_fp32=a.keep_fp32, command="python3 -m genloom_export.stable_diffusion " + shlex.join(sys.argv[1:] if argv is None
                                                                                   else argv))
    except Refused as e:
        sys.exit(f"error: {e}")


if __name__ == "__main__":
    main()
