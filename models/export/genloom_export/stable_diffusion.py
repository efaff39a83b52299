#!/usr/bin/env python3
"""Export a diffusers Stable-Diffusion-class pipeline folder as a Genloom `latent_diffusion` package.

Input: a local diffusers pipeline folder with subfolders `unet/` (UNet2DConditionModel), `vae/`
(AutoencoderKL), `text_encoder/` (a transformers text model, e.g. CLIPTextModel), `tokenizer/` and
`scheduler/scheduler_config.json` (SD 1.x / 2.x base layout). Output: one package folder in the
format of models/PACKAGE_FORMAT.md:

  text_encoder.pt     input_ids [B,L] int64 -> last_hidden_state [B,L,D]
  vae_encoder.pt      pixels [B,3,H,W] in [-1,1] -> posterior mean (unscaled)
  vae_decoder.pt      latent [B,C,h,w] (already divided by scale_factor) -> pixels in [-1,1]
  unet/<block>.pt     time_embedding (time_proj + time_embedding), conv_in, down_blocks.<i>
                      (returns the hidden state and each residual/skip tensor by name), mid_block,
                      up_blocks.<i> (takes its skip tensors by name), conv_out
                      (conv_norm_out + conv_act + conv_out)
  tokenizer.json      the pipeline's fast tokenizer (see TOKENIZER below)
  golden/<component>.npz, manifest.json (validated against proto/.../model.proto)

Every component is traced with torch.jit.trace on CPU in float32 at one resolution (spatial shapes
are fixed, the batch is dynamic), reloaded and compared with eager PyTorch, and gets a golden file
at batch 2. The exported blocks are then run in manifest order at batch 3 and compared with the
full eager UNet (`--atol`, default 1e-4); the export fails if they differ by more.

TOKENIZER -- read this before using such a package:
  The script writes the pipeline's tokenizer.json (copied when the pipeline ships one, otherwise
  converted with transformers' fast tokenizer). For Stable Diffusion that is CLIP's byte-level BPE
  tokenizer. Genloom's Java runtime currently implements the WordLevel tokenizer only
  (generators/.../text/WordLevelTokenizer.java): it refuses a BPE tokenizer.json when a generator
  opens the package. So a package exported from a real CLIP pipeline loads and passes its component
  golden checks, but cannot serve prompts until a BPE tokenizer is added to the Java runtime.
  Nothing here claims end-to-end generation with such a package works.

Other limits (the script stops with a message when it meets them): epsilon prediction only (no
v-prediction, e.g. SD 2.x 768-v); beta schedules "scaled_linear" and "linear" only; no SDXL-style
added conditioning (addition_embed_type), class embeddings or timestep_cond; latent height and
width must be multiples of 2**num_upsamplers. Genloom's DDIM and DPM-Solver++(2M) use "leading"
timestep spacing with steps_offset; a scheduler configured otherwise is recorded with a warning.
Export with a PyTorch no newer than the Java runtime's libtorch (DJL pytorch-native 2.7.1), since
TorchScript files are not guaranteed to load in an older libtorch.

Usage (diffusers, transformers and the `tokenizers` package must be installed for a real export):

  PYTHONPATH=models/export python3 -m genloom_export.stable_diffusion --pipeline PATH/TO/pipeline --out models/my-sd \\
      [--name my-sd] [--height 512 --width 512] [--variant fp16] [--atol 1e-4]

  PYTHONPATH=models/export python3 -m genloom_export.stable_diffusion --self-test [--keep DIR]

--self-test needs only torch and numpy: it builds small stand-in modules with diffusers' attribute
names and call signatures (UNet2DConditionModel: conv_in, time_proj, time_embedding, down_blocks,
mid_block, up_blocks, conv_norm_out, conv_act, conv_out; an AutoencoderKL-like VAE; a text
encoder), writes a fake pipeline folder (scheduler_config.json, a BPE tokenizer.json), runs the same
export code into a temporary package and checks that the exported block graph reproduces the
stand-in UNet's full forward. It does not load diffusers or any real checkpoint.
"""
import hashlib
import importlib
import json
import math
import os
import shutil
import sys
import tempfile
import types

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import cli as C

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
TRAIN_DIR = os.path.join(REPO, "models", "train")
F32, I64 = "DTYPE_FLOAT32", "DTYPE_INT64"


# ------------------------------------------------------------------------------------ shared helpers


def genloom_export():
    """models/train/genloom_models/export.py: trace+save, goldens, manifest validation."""
    if TRAIN_DIR not in sys.path:
        sys.path.insert(0, TRAIN_DIR)
    return importlib.import_module("genloom_models.export")


def require_hf():
    """Import diffusers and transformers or stop with a clear message."""
    missing = []
    mods = {}
    for name in ("diffusers", "transformers"):
        try:
            mods[name] = importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        sys.exit("error: this export needs the Python packages " + " and ".join(missing)
                 + " (pip install diffusers transformers tokenizers). Without them only --self-test "
                   "runs, which exercises the export code on small stand-in modules.")
    return mods["diffusers"], mods["transformers"]


def cfg(module, key, default=None):
    """A config value of a diffusers/transformers module (FrozenDict, dict or attribute object)."""
    c = getattr(module, "config", None)
    if c is None:
        return default
    if isinstance(c, dict):
        return c.get(key, default)
    return getattr(c, key, default)


def spec(name, t):
    """TensorSpec dict with a dynamic batch dimension."""
    dt = I64 if t.dtype == torch.int64 else F32
    return {"name": name, "dtype": dt, "shape": [-1] + [int(s) for s in t.shape[1:]]}


def as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


class TextEncoder(nn.Module):
    """input_ids -> last_hidden_state (element 0 of a transformers ModelOutput or tuple)."""

    def __init__(self, text_encoder):
        super().__init__()
        self.text_encoder = text_encoder

    def forward(self, input_ids):
        return self.text_encoder(input_ids)[0]


class VaeEncoder(nn.Module):
    """pixels in [-1,1] -> posterior mean minus shift_factor (unscaled; the runtime multiplies by
    scale_factor, so the scaled latent is (mean - shift) * scale as diffusers computes it)."""

    def __init__(self, vae, shift=0.0):
        super().__init__()
        self.vae = vae
        self.shift = float(shift)

    def forward(self, pixels):
        mean = self.vae.encode(pixels, return_dict=False)[0].mean
        return mean - self.shift if self.shift else mean


class VaeDecoder(nn.Module):
    """latent / scale_factor -> pixels; adds shift_factor back first (diffusers: z / scale + shift)."""

    def __init__(self, vae, shift=0.0):
        super().__init__()
        self.vae = vae
        self.shift = float(shift)

    def forward(self, latent):
        if self.shift:
            latent = latent + self.shift
        return self.vae.decode(latent, return_dict=False)[0]


def read_json(path):
    with open(path) as f:
        return json.load(f)


def tokenizer_lowercases(tok_json):
    """Whether a tokenizer.json normalizer lower-cases (Lowercase, or BertNormalizer lowercase)."""
    def walk(n):
        if not isinstance(n, dict):
            return False
        if n.get("type") == "Lowercase" or (n.get("type") == "BertNormalizer" and n.get("lowercase")):
            return True
        return any(walk(c) for c in n.get("normalizers", []) or [])
    return walk(tok_json.get("normalizer"))


def write_tokenizer(pipeline_dir, pkg_dir, subfolder="tokenizer", hf_tokenizer=None):
    """Copy <pipeline>/<subfolder>/tokenizer.json, or save the fast tokenizer's backend; returns the
    tokenizer.json model type (e.g. "BPE", "WordLevel") and whether it lower-cases."""
    src = os.path.join(pipeline_dir, subfolder, "tokenizer.json")
    dst = os.path.join(pkg_dir, "tokenizer.json")
    if os.path.isfile(src):
        shutil.copyfile(src, dst)
    elif hf_tokenizer is not None and getattr(hf_tokenizer, "is_fast", False):
        hf_tokenizer.backend_tokenizer.save(dst)
    else:
        sys.exit(f"error: {subfolder}/ has no tokenizer.json and no fast tokenizer could be built "
                 "(install the `tokenizers` package so transformers can convert the slow tokenizer)")
    j = read_json(dst)
    return (j.get("model") or {}).get("type", "?"), tokenizer_lowercases(j)


def hf_tokenizer_spec(tok, max_length, lowercase):
    """TokenizerSpec dict from a transformers tokenizer (ids may be None for some tokenizers)."""
    def tid(x):
        return int(x) if x is not None else 0
    return {"file": "tokenizer.json", "maxLength": int(max_length), "padId": tid(tok.pad_token_id),
            "bosId": tid(tok.bos_token_id), "eosId": tid(tok.eos_token_id), "unkId": tid(tok.unk_token_id),
            "lowercase": bool(lowercase)}


def tokenizer_note(model_type):
    if model_type == "WordLevel":
        return "WordLevel tokenizer: supported by the Java runtime"
    return (f"{model_type} tokenizer: Genloom's Java runtime implements the WordLevel tokenizer only, so this "
            "package loads and passes its component golden checks but cannot serve prompts until a "
            f"{model_type} tokenizer is added to the Java runtime")


class GraphRunner:
    """Runs exported TorchScript blocks in the order of a BlockGraph dict (as the Java runtime does)."""

    def __init__(self, pkg_dir, components, denoiser):
        files = {c["name"]: c["file"] for c in components}
        self.blocks = [(b, torch.jit.load(os.path.join(pkg_dir, files[b["component"]])))
                       for b in denoiser["blocks"]]
        self.output = denoiser["output"]

    @torch.no_grad()
    def __call__(self, **graph_inputs):
        env = dict(graph_inputs)
        for b, m in self.blocks:
            r = as_tuple(m(*[env[i] for i in b["inputs"]]))
            assert len(r) == len(b["outputs"]), (b["name"], len(r), len(b["outputs"]))
            env.update(zip(b["outputs"], r))
        return env[self.output]


class Exporter:
    """Runs modules eagerly on an environment of named tensors, exports each as a component with a
    golden file, and records the block list."""

    def __init__(self, pkg_dir, atol):
        self.E = genloom_export()
        self.pkg = pkg_dir
        self.atol = atol
        self.components, self.goldens, self.blocks = [], [], []
        os.makedirs(os.path.join(pkg_dir, "golden"), exist_ok=True)

    def component(self, cname, module, args, in_names, out_names=None, file=None):
        """Trace+save `module` on `args`; out_names: list, or a function of the output count."""
        module = module.eval()
        with torch.no_grad():
            outs = as_tuple(module(*args))
        names = out_names(len(outs)) if callable(out_names) else list(out_names)
        assert len(names) == len(outs), (cname, names, len(outs))
        c, g = self.E.export_component(self.pkg, cname, module, tuple(args),
                                       [spec(n, a) for n, a in zip(in_names, args)],
                                       [spec(n, o) for n, o in zip(names, outs)],
                                       file=file, atol=self.atol)
        self.components.append(c)
        self.goldens.append(g)
        return names, outs

    def block(self, env, name, cname, module, in_names, out_names, cacheable, group=None, file=None):
        names, outs = self.component(cname, module, tuple(env[i] for i in in_names), in_names, out_names,
                                     file=file)
        env.update(zip(names, outs))
        self.blocks.append(self.E.block(name, cname, in_names, names, cacheable, group))
        return names


def max_abs(a, b):
    return (a.double() - b.double()).abs().max().item()


def versions():
    v = {"torch": torch.__version__}
    for m in ("diffusers", "transformers"):
        mod = sys.modules.get(m)
        if mod is not None:
            v[m] = getattr(mod, "__version__", "?")
    return ", ".join(f"{k} {x}" for k, x in v.items())


# ------------------------------------------------------------------------------------ UNet blocks


class TimeEmbedding(nn.Module):
    """timestep [B] float32 (0..999) -> temb: time_proj, time_embedding, optional time_embed_act."""

    def __init__(self, unet):
        super().__init__()
        self.time_proj = unet.time_proj
        self.time_embedding = unet.time_embedding
        self.act = getattr(unet, "time_embed_act", None)

    def forward(self, timestep):
        t_emb = self.time_proj(timestep).to(torch.float32)
        emb = self.time_embedding(t_emb)
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
            h, res = self.block(hidden_states=hidden_states, temb=temb,
                                encoder_hidden_states=encoder_hidden_states)
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
    Skips are in the order diffusers accumulated them (the block pops from the end)."""

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


def check_unet_supported(unet, lat_h, lat_w):
    problems = []
    for key in ("addition_embed_type", "class_embed_type", "num_class_embeds", "encoder_hid_dim_type",
                "time_cond_proj_dim"):
        if cfg(unet, key) is not None:
            problems.append(f"unet config {key}={cfg(unet, key)!r} (extra conditioning inputs are not "
                            "part of Genloom's sample/timestep/encoder_hidden_states graph)")
    up = 2 ** int(getattr(unet, "num_upsamplers", 0) or 0)
    if lat_h % up or lat_w % up:
        problems.append(f"latent {lat_h}x{lat_w} is not a multiple of {up} (2**num_upsamplers)")
    if problems:
        sys.exit("error: unsupported UNet:\n  " + "\n  ".join(problems))


def noise_schedule(sched_cfg, warnings):
    """NoiseSchedule dict (proto3 JSON) from a diffusers scheduler_config.json dict."""
    pred = sched_cfg.get("prediction_type", "epsilon")
    if pred != "epsilon":
        sys.exit(f"error: scheduler prediction_type {pred!r}: Genloom latent diffusion supports epsilon only")
    kind = sched_cfg.get("beta_schedule", "linear")
    if kind not in ("scaled_linear", "linear") or sched_cfg.get("trained_betas"):
        sys.exit(f"error: beta_schedule {kind!r} (or trained_betas): Genloom implements scaled_linear and linear")
    if sched_cfg.get("rescale_betas_zero_snr"):
        sys.exit("error: rescale_betas_zero_snr is not implemented by Genloom's schedule")
    spacing = sched_cfg.get("timestep_spacing", "leading")
    if spacing != "leading":
        warnings.append(f"scheduler timestep_spacing={spacing!r}; Genloom's DDIM/DPM-Solver++ use 'leading' "
                        "spacing with steps_offset, so its timesteps differ from this pipeline's")
    if sched_cfg.get("clip_sample"):
        warnings.append("scheduler clip_sample=true; Genloom's samplers do not clip the predicted x0")
    return {"type": kind, "betaStart": float(sched_cfg.get("beta_start", 0.0001)),
            "betaEnd": float(sched_cfg.get("beta_end", 0.02)),
            "numTrainTimesteps": int(sched_cfg.get("num_train_timesteps", 1000)),
            "stepsOffset": int(sched_cfg.get("steps_offset", 0)),
            "setAlphaToOne": bool(sched_cfg.get("set_alpha_to_one", False))}


@torch.no_grad()
def export_unet_blocks(ex, unet, env):
    """Export the UNet as blocks over `env` (graph inputs sample, timestep, encoder_hidden_states)."""
    ex.block(env, "time_embedding", "unet.time_embedding", TimeEmbedding(unet), ["timestep"], ["temb"],
             False, file="unet/time_embedding.pt")
    ex.block(env, "conv_in", "unet.conv_in", ConvIn(unet), ["sample"], ["h_in"], False, file="unet/conv_in.pt")
    skips, h = ["h_in"], "h_in"
    for i, blk in enumerate(unet.down_blocks):
        mod = DownBlock(blk)
        ins = [h, "temb"] + (["encoder_hidden_states"] if mod.cross else [])
        names = ex.block(env, f"down_blocks.{i}", f"unet.down_blocks.{i}", mod, ins,
                         lambda n, i=i: [f"down{i}_out"] + [f"down{i}_res{j}" for j in range(n - 1)],
                         True, file=f"unet/down_blocks.{i}.pt")
        h = names[0]
        skips += names[1:]
    if getattr(unet, "mid_block", None) is not None:
        mod = MidBlock(unet.mid_block)
        ins = [h, "temb"] + (["encoder_hidden_states"] if mod.cross else [])
        ex.block(env, "mid_block", "unet.mid_block", mod, ins, ["mid_out"], True, file="unet/mid_block.pt")
        h = "mid_out"
    for i, blk in enumerate(unet.up_blocks):
        n = len(blk.resnets)
        mine, skips = skips[-n:], skips[:-n]
        mod = UpBlock(blk, n)
        ins = [h] + mine + ["temb"] + (["encoder_hidden_states"] if mod.cross else [])
        ex.block(env, f"up_blocks.{i}", f"unet.up_blocks.{i}", mod, ins, [f"up{i}_out"], True,
                 file=f"unet/up_blocks.{i}.pt")
        h = f"up{i}_out"
    assert not skips, f"skip tensors left unconsumed: {skips}"
    ex.block(env, "conv_out", "unet.conv_out", ConvOut(unet), [h], ["noise_pred"], False, file="unet/conv_out.pt")
    return {"inputs": ["sample", "timestep", "encoder_hidden_states"], "blocks": ex.blocks,
            "output": "noise_pred", "prediction": "PREDICTION_EPSILON", "timestepInput": "discrete",
            "timestepScale": 1.0}


@torch.no_grad()
def export_latent_diffusion(p, out, name, atol=1e-4, height=None, width=None):
    """Write the package. `p`: namespace with unet, vae, text_encoder, encode(prompts)->ids,
    tokenizer (spec dict, model type), scheduler_config (dict), source (str), command (str)."""
    if os.path.exists(os.path.join(out, "manifest.json")):
        sys.exit(f"error: {out} already holds a package; choose an empty --out")
    os.makedirs(out, exist_ok=True)
    warnings = []
    schedule = noise_schedule(p.scheduler_config, warnings)
    unet, vae, te = p.unet.eval(), p.vae.eval(), p.text_encoder.eval()
    down = 2 ** (len(cfg(vae, "block_out_channels", [0])) - 1)
    scale = float(cfg(vae, "scaling_factor", 0.18215))
    shift = float(cfg(vae, "shift_factor", None) or 0.0)
    lat_c = int(cfg(unet, "in_channels", 4))
    H = int(height or cfg(unet, "sample_size", 64) * down)
    W = int(width or cfg(unet, "sample_size", 64) * down)
    if H % down or W % down:
        sys.exit(f"error: {W}x{H} is not a multiple of the VAE downsampling factor {down}")
    lat_h, lat_w = H // down, W // down
    check_unet_supported(unet, lat_h, lat_w)

    ex = Exporter(out, atol)
    g = torch.Generator().manual_seed(0)
    ids = p.encode(["a photograph of an astronaut riding a horse", ""])
    L = int(ids.shape[1])
    ex.component("text_encoder", TextEncoder(te), (ids,), ["input_ids"], ["last_hidden_state"])
    ehs = TextEncoder(te)(ids)
    pix = torch.rand(2, 3, H, W, generator=g) * 2 - 1
    _, (lat,) = ex.component("vae_encoder", VaeEncoder(vae, shift), (pix,), ["pixels"], ["latent"])
    ex.component("vae_decoder", VaeDecoder(vae, shift), (lat,), ["latent"], ["pixels"])
    assert tuple(lat.shape[1:]) == (lat_c, lat_h, lat_w), (lat.shape, lat_c, lat_h, lat_w)

    env = {"sample": torch.randn(2, lat_c, lat_h, lat_w, generator=g),
           "timestep": torch.tensor([981.0, 421.0]), "encoder_hidden_states": ehs}
    denoiser = export_unet_blocks(ex, unet, env)

    # The exported blocks in manifest order against the full eager UNet, at another batch size.
    runner = GraphRunner(out, ex.components, denoiser)
    x3 = torch.randn(3, lat_c, lat_h, lat_w, generator=g)
    t3 = torch.tensor([999.0, 1.0, 437.0])
    c3 = TextEncoder(te)(p.encode(["", "an oil painting of a lighthouse", "a red cube on a table"]))
    ref = unet(x3, t3, c3, return_dict=False)[0]
    got = runner(sample=x3, timestep=t3, encoder_hidden_states=c3)
    err = max_abs(ref, got)
    print(f"block graph vs full UNet forward (batch 3): max abs diff {err:.3e} "
          f"(output max abs {ref.abs().max().item():.3g})", flush=True)
    if not err <= atol:
        sys.exit(f"error: exported blocks differ from the full UNet by {err} > --atol {atol}")

    tok_spec, tok_type = p.tokenizer
    manifest = {
        "format": "genloom/v1", "name": name, "version": "1.0.0", "kind": "MODEL_KIND_LATENT_DIFFUSION",
        "description": f"{p.source} exported from a diffusers pipeline: {type(te).__name__} text encoder, "
                       f"{type(unet).__name__} as a block graph (epsilon), {type(vae).__name__} "
                       f"({W}x{H} pixels -> {lat_c}x{lat_h}x{lat_w} latents).",
        "components": ex.components, "denoiser": denoiser, "tokenizer": tok_spec,
        "latent": {"channels": lat_c, "height": lat_h, "width": lat_w, "frames": 1, "scaleFactor": scale,
                   "downsample": down},
        "schedule": schedule,
        "defaults": {"sampler": "ddim", "steps": 50, "guidanceScale": 7.5, "eta": 0.0, "width": W, "height": H,
                     "strength": 0.75},
        "supportedSizes": [{"width": W, "height": H}],
        "goldens": ex.goldens,
        "training": {
            "source": p.source,
            "command": p.command,
            "versions": versions(),
            "classes": f"unet {type(unet).__name__}, vae {type(vae).__name__}, text_encoder {type(te).__name__}, "
                       f"scheduler {p.scheduler_config.get('_class_name', '?')}",
            "text_max_length": str(L),
            "vae_shift_factor": f"{shift} (folded into vae_encoder/vae_decoder)",
            "blocks_vs_full_max_abs_err": f"{err:.3e}",
            "tokenizer": tokenizer_note(tok_type),
            "notes": "; ".join(warnings) if warnings else "none",
        },
    }
    ex.E.write_manifest(os.path.join(out, "manifest.json"), manifest)
    print(f"wrote {out}: {len(ex.components)} components, {ex.E.package_size(out) / 1e6:.1f} MB", flush=True)
    for w in warnings + ([tokenizer_note(tok_type)] if tok_type != "WordLevel" else []):
        print("warning:", w, flush=True)
    return manifest, err


def load_pipeline(folder, variant=None):
    """Load the pipeline parts with diffusers/transformers (float32, CPU)."""
    diffusers, transformers = require_hf()
    kw = {"torch_dtype": torch.float32}
    if variant:
        kw["variant"] = variant
    unet = diffusers.UNet2DConditionModel.from_pretrained(os.path.join(folder, "unet"), **kw)
    vae = diffusers.AutoencoderKL.from_pretrained(os.path.join(folder, "vae"), **kw)
    te = load_text_encoder(transformers, os.path.join(folder, "text_encoder"), kw)
    tok = transformers.AutoTokenizer.from_pretrained(os.path.join(folder, "tokenizer"), use_fast=True)
    return unet, vae, te, tok


def load_text_encoder(transformers, path, kw):
    arch = (read_json(os.path.join(path, "config.json")).get("architectures") or ["CLIPTextModel"])[0]
    cls = getattr(transformers, arch)
    try:  # plain attention traces everywhere; older transformers do not know the argument
        return cls.from_pretrained(path, attn_implementation="eager", **kw)
    except TypeError:
        return cls.from_pretrained(path, **kw)


def hf_encoder(tok, max_length):
    def encode(prompts):
        return tok(prompts, padding="max_length", max_length=max_length, truncation=True,
                   return_tensors="pt").input_ids.to(torch.int64)
    return encode


def text_max_length(tok, te):
    m = getattr(tok, "model_max_length", None)
    if m is None or m > 100000:
        m = cfg(te, "max_position_embeddings", 77)
    return int(m)


def main_export(a):
    torch.set_grad_enabled(False)
    unet, vae, te, tok = load_pipeline(a.pipeline, a.variant)
    L = text_max_length(tok, te)
    out = os.path.abspath(a.out)
    os.makedirs(out, exist_ok=True)
    tok_type, lower = write_tokenizer(a.pipeline, out, "tokenizer", tok)
    p = types.SimpleNamespace(
        unet=unet, vae=vae, text_encoder=te, encode=hf_encoder(tok, L),
        tokenizer=(hf_tokenizer_spec(tok, L, lower), tok_type),
        scheduler_config=read_json(os.path.join(a.pipeline, "scheduler", "scheduler_config.json")),
        source=os.path.basename(os.path.normpath(a.pipeline)),
        command="PYTHONPATH=models/export python3 -m genloom_export.stable_diffusion " + " ".join(sys.argv[1:]))
    export_latent_diffusion(p, out, a.name or os.path.basename(out), a.atol, a.height, a.width)


# ------------------------------------------------------------------------------------ self-test stand-ins
# Small modules with diffusers' attribute names and call signatures (simplified internals).


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

    def forward(self, hidden_states, encoder_hidden_states=None, attention_mask=None, cross_attention_kwargs=None,
                encoder_attention_mask=None, return_dict=True):
        b, c, h, w = hidden_states.shape
        x = self.proj_in(self.norm(hidden_states)).reshape(b, c, h * w).transpose(1, 2)
        q, k, v = self.to_q(x), self.to_k(encoder_hidden_states), self.to_v(encoder_hidden_states)
        a = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(c), dim=-1) @ v
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
    models/unets/unet_2d_condition.py), with two down blocks (cross-attention + downsample, plain),
    a cross-attention mid block and two up blocks (plain + upsample, cross-attention)."""

    def __init__(self, in_channels=4, ch=(32, 64), cross_dim=24, layers=2, sample_size=16):
        super().__init__()
        self.config = {"in_channels": in_channels, "sample_size": sample_size, "center_input_sample": False,
                       "addition_embed_type": None, "class_embed_type": None, "num_class_embeds": None,
                       "encoder_hid_dim_type": None, "time_cond_proj_dim": None}
        temb = ch[0] * 4
        self.conv_in = nn.Conv2d(in_channels, ch[0], 3, padding=1)
        self.time_proj = Timesteps(ch[0], True, 0)
        self.time_embedding = TimestepEmbedding(ch[0], temb)
        self.time_embed_act = None
        self.down_blocks = nn.ModuleList([CrossAttnDownBlock2D(ch[0], ch[0], temb, cross_dim, layers, True),
                                          DownBlock2D(ch[0], ch[1], temb, layers, False)])
        self.mid_block = UNetMidBlock2DCrossAttn(ch[1], temb, cross_dim)
        self.up_blocks = nn.ModuleList([UpBlock2D(ch[0], ch[1], ch[1], temb, layers + 1, True),
                                        CrossAttnUpBlock2D(ch[0], ch[1], ch[0], temb, layers + 1, False, cross_dim)])
        self.num_upsamplers = 1
        self.conv_norm_out = nn.GroupNorm(8, ch[0])
        self.conv_act = nn.SiLU()
        self.conv_out = nn.Conv2d(ch[0], in_channels, 3, padding=1)

    def forward(self, sample, timestep, encoder_hidden_states, return_dict=True):
        forward_upsample_size = any(d % (2 ** self.num_upsamplers) for d in sample.shape[-2:])
        upsample_size = None
        timesteps = timestep.expand(sample.shape[0])
        emb = self.time_embedding(self.time_proj(timesteps).to(sample.dtype), None)
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

    def __init__(self, latent_channels=4, scaling_factor=0.18215, shift_factor=None):
        super().__init__()
        self.config = {"block_out_channels": [16, 32, 32], "scaling_factor": scaling_factor,
                       "shift_factor": shift_factor, "latent_channels": latent_channels}
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


class FakeTextModel(nn.Module):
    """A transformers-style text model: forward(input_ids) -> (last_hidden_state, pooled)."""

    def __init__(self, vocab, max_len, dim):
        super().__init__()
        self.config = {"max_position_embeddings": max_len}
        self.token_embedding = nn.Embedding(vocab, dim)
        self.position_embedding = nn.Parameter(torch.randn(1, max_len, dim) * 0.02)
        self.layer = nn.TransformerEncoderLayer(dim, 2, 2 * dim, dropout=0.0, batch_first=True)
        self.final_layer_norm = nn.LayerNorm(dim)

    def forward(self, input_ids):
        h = self.token_embedding(input_ids) + self.position_embedding[:, :input_ids.shape[1]]
        h = self.final_layer_norm(self.layer(h))
        return h, h[:, -1]


SD15_SCHEDULER = {"_class_name": "PNDMScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear",
                  "beta_start": 0.00085, "num_train_timesteps": 1000, "set_alpha_to_one": False,
                  "skip_prk_steps": True, "steps_offset": 1, "trained_betas": None, "clip_sample": False}

SELF_TEST_WORDS = ["a", "photograph", "of", "an", "astronaut", "riding", "horse", "oil", "painting",
                   "lighthouse", "red", "cube", "on", "table"]


def write_fake_bpe_tokenizer(path, words):
    """A small tokenizer.json in the layout of CLIP's (BPE model, Lowercase normalizer)."""
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for w in words:
        vocab[w + "</w>"] = len(vocab)
    tj = {"version": "1.0", "truncation": None, "padding": None,
          "added_tokens": [{"id": 0, "content": "<|startoftext|>", "special": True, "single_word": False,
                            "lstrip": False, "rstrip": False, "normalized": True},
                           {"id": 1, "content": "<|endoftext|>", "special": True, "single_word": False,
                            "lstrip": False, "rstrip": False, "normalized": True}],
          "normalizer": {"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "Lowercase"}]},
          "pre_tokenizer": {"type": "Whitespace"}, "post_processor": None, "decoder": None,
          "model": {"type": "BPE", "dropout": None, "unk_token": "<|endoftext|>", "continuing_subword_prefix": "",
                    "end_of_word_suffix": "</w>", "fuse_unk": False, "vocab": vocab, "merges": []}}
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(tj, f)
    return vocab


def fake_encoder(vocab, max_length, bos=0, eos=1, pad=1):
    def encode(prompts):
        rows = []
        for p in prompts:
            ids = [bos] + [vocab.get(w + "</w>", eos) for w in p.lower().split()][:max_length - 2] + [eos]
            rows.append(ids + [pad] * (max_length - len(ids)))
        return torch.tensor(rows, dtype=torch.int64)
    return encode


def make_fake_pipeline(folder, scheduler_config, words):
    """Writes the on-disk parts the export reads without diffusers (scheduler config, tokenizer.json)."""
    os.makedirs(os.path.join(folder, "scheduler"), exist_ok=True)
    with open(os.path.join(folder, "scheduler", "scheduler_config.json"), "w") as f:
        json.dump(scheduler_config, f)
    return write_fake_bpe_tokenizer(os.path.join(folder, "tokenizer", "tokenizer.json"), words)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def check_package_files(pkg, manifest):
    """Every component's sha256 and golden arrays against the manifest (what the Java loader checks)."""
    for c in manifest["components"]:
        assert sha256(os.path.join(pkg, c["file"])) == c["sha256"], c["name"]
        g = np.load(os.path.join(pkg, "golden", c["name"] + ".npz"))
        ins = {s["name"] for s in c["inputs"]}
        for s in c["inputs"]:
            assert s["name"] in g.files, (c["name"], s["name"])
        for s in c["outputs"]:
            key = s["name"] + ".out" if s["name"] in ins else s["name"]
            assert key in g.files, (c["name"], key, g.files)
            assert list(g[key].shape[1:]) == s["shape"][1:], (c["name"], key, g[key].shape, s["shape"])
        m = torch.jit.load(os.path.join(pkg, c["file"]))
        outs = as_tuple(m(*[torch.from_numpy(g[s["name"]]) for s in c["inputs"]]))
        for s, o in zip(c["outputs"], outs):
            key = s["name"] + ".out" if s["name"] in ins else s["name"]
            assert np.abs(o.detach().numpy() - g[key]).max() <= 1e-5, (c["name"], key)


def self_test(keep=None):
    torch.manual_seed(0)
    torch.set_num_threads(2)
    root = keep or tempfile.mkdtemp(prefix="genloom-unet-selftest-")
    pipe_dir, out = os.path.join(root, "fake-sd-pipeline"), os.path.join(root, "models", "selftest-sd")
    if os.path.exists(out):
        shutil.rmtree(out)
    vocab = make_fake_pipeline(pipe_dir, SD15_SCHEDULER, SELF_TEST_WORDS)
    L, D = 12, 24
    os.makedirs(out, exist_ok=True)
    tok_type, lower = write_tokenizer(pipe_dir, out, "tokenizer")
    unet = FakeUNet2DConditionModel(cross_dim=D, sample_size=16)
    p = types.SimpleNamespace(
        unet=unet, vae=FakeAutoencoderKL(), text_encoder=FakeTextModel(len(vocab), L, D),
        encode=fake_encoder(vocab, L),
        tokenizer=({"file": "tokenizer.json", "maxLength": L, "padId": 1, "bosId": 0, "eosId": 1, "unkId": 1,
                    "lowercase": lower}, tok_type),
        scheduler_config=read_json(os.path.join(pipe_dir, "scheduler", "scheduler_config.json")),
        source="self-test stand-in pipeline", command="PYTHONPATH=models/export python3 -m genloom_export.stable_diffusion --self-test")
    manifest, err = export_latent_diffusion(p, out, "selftest-sd", atol=1e-5)
    names = [b["name"] for b in manifest["denoiser"]["blocks"]]
    assert names == ["time_embedding", "conv_in", "down_blocks.0", "down_blocks.1", "mid_block", "up_blocks.0",
                     "up_blocks.1", "conv_out"], names
    d0 = manifest["denoiser"]["blocks"][2]
    assert d0["outputs"] == ["down0_out", "down0_res0", "down0_res1", "down0_res2"], d0
    u0, u1 = manifest["denoiser"]["blocks"][5], manifest["denoiser"]["blocks"][6]
    assert u0["inputs"] == ["mid_out", "down0_res2", "down1_res0", "down1_res1", "temb"], u0
    assert u1["inputs"] == ["up0_out", "h_in", "down0_res0", "down0_res1", "temb", "encoder_hidden_states"], u1
    assert manifest["schedule"] == {"type": "scaled_linear", "betaStart": 0.00085, "betaEnd": 0.012,
                                    "numTrainTimesteps": 1000, "stepsOffset": 1, "setAlphaToOne": False}
    assert manifest["latent"]["height"] == 16 and manifest["latent"]["downsample"] == 4
    assert tok_type == "BPE" and lower and "WordLevel tokenizer only" in manifest["training"]["tokenizer"]
    check_package_files(out, manifest)
    # The block graph at a third batch size and new inputs, against the stand-in's full forward.
    runner = GraphRunner(out, manifest["components"], manifest["denoiser"])
    x, t, c = torch.randn(5, 4, 16, 16), torch.tensor([0.0, 10.0, 500.0, 998.0, 999.0]), torch.randn(5, L, D)
    with torch.no_grad():
        d = max_abs(unet(x, t, c, return_dict=False)[0], runner(sample=x, timestep=t, encoder_hidden_states=c))
    assert d <= 1e-5, d
    return C.finish_self_test(out, root, keep,
                              f" (block graph vs full forward: {err:.2e} at batch 3, {d:.2e} at batch 5)")


def main():
    ap = C.parser(__doc__)
    ap.add_argument("--pipeline", help="diffusers pipeline folder (unet/, vae/, text_encoder/, tokenizer/, scheduler/)")
    ap.add_argument("--out", help="package folder to create, e.g. models/my-sd")
    ap.add_argument("--name", help="package name (default: the --out folder name)")
    ap.add_argument("--height", type=int, help="pixel height to trace at (default: unet sample_size * VAE factor)")
    ap.add_argument("--width", type=int, help="pixel width to trace at (default: unet sample_size * VAE factor)")
    ap.add_argument("--variant", help="diffusers weight variant to load, e.g. fp16 (weights are cast to float32)")
    ap.add_argument("--atol", type=float, default=1e-4, help="max abs difference allowed between the exported "
                                                             "blocks and the full UNet, and reload vs eager")
    C.add_self_test_args(ap, "export small stand-in modules and check them")
    C.run(ap, ("pipeline", "out"), main_export, self_test)


if __name__ == "__main__":
    main()
