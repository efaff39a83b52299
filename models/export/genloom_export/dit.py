#!/usr/bin/env python3
"""Export a diffusers flow-matching DiT (SD3-style `transformer_blocks`) as a Genloom dit_video block graph.

A StableDiffusion3Pipeline folder is refused here: genloom_export.stable_diffusion exports it as a
latent_diffusion package with its three text encoders, pooled embedding and flow-match schedule; so is a
FluxPipeline folder or a FluxTransformer2DModel (genloom_export.flux, through the same command).

Supported transformer layout: diffusers' SD3Transformer2DModel attribute names and call signatures
-- pos_embed (patchify + positions cropped from a pos_embed_max_size grid), time_text_embed(timestep,
pooled_projections), context_embedder, transformer_blocks (JointTransformerBlock:
block(hidden_states=, encoder_hidden_states=, temb=) -> (encoder_hidden_states or None,
hidden_states)), norm_out(hidden_states, temb), proj_out, and config.patch_size / out_channels.
The blocks are genloom_export.mmdit's (the text length read from encoder_hidden_states, the latent
size and frame count from sample), with frames folded into the batch around them. Output: a
MODEL_KIND_DIT_VIDEO package (Genloom's flow-matching generator) with one frame:

  transformer.embed         sample [B,C,F,h,w], timestep [B] (sigma * 1000), encoder_hidden_states
                            [B,L,Dt], pooled_projections [B,P] -> joint_in [B*F,L+N,D], temb [B*F,D]
  transformer_blocks.<i>    joint, temb, encoder_hidden_states -> joint   (group "transformer_blocks")
  transformer.final_layer   joint, temb, encoder_hidden_states, sample -> velocity [B,C,F,h,w]
  vae_encoder / vae_decoder per-frame AutoencoderKL (posterior mean; shift_factor folded in)
  text_encoder + tokenizer.json, only when the pipeline has a single text encoder

Prediction: flow velocity (v = noise - x0), timestep_input "sigma", timestep_scale
num_train_timesteps.

What does NOT work yet, stated plainly:
  * Graph input `pooled_projections`: Genloom's DiT generator feeds sample, timestep,
    encoder_hidden_states, cond_latent and cond_mask only, so such a package passes its component
    golden checks but cannot generate until that runtime supplies pooled text embeddings.
  * A pipeline with several text encoders gets no text encoder component here (the script says so):
    a dit_video package has one `text_encoder` with one tokenizer.
  * The scheduler's `shift` has no field in a dit_video manifest; Genloom's DiT Euler sampler uses
    the "linear" or "linear_quadratic" sigma schedules, so sampling differs from diffusers'.
  * The DiT generator samples at the manifest's latent size only, although the exported blocks take
    any size the position grid covers.

Usage:
  PYTHONPATH=models/export python3 -m genloom_export.dit --pipeline PATH/TO/pipeline --out models/my-dit \\
      [--name my-dit] [--height 1024 --width 1024] [--text-length 333] [--atol 1e-4]

models/export/tests/test_dit_export.py exports a stand-in transformer with the SD3 attribute names
and forward() control flow (tests/standins/dit_modules.py) through the same code and checks that the
exported blocks run in order reproduce its full forward at two sizes and two text lengths.
"""
import importlib
import os
import shutil
import sys
import types

import torch
import torch.nn as nn

from . import cli as C
from . import mmdit
from .common import GraphRunner, Refused, VaeDecoder, VaeEncoder, as_tuple, cfg, max_abs, read_json, \
    strip_debug_sources, spec, train_export, versions


# ------------------------------------------------------------------------------------ helpers


def require_hf():
    """Import diffusers and transformers or stop with a clear message."""
    missing, mods = [], {}
    for name in ("diffusers", "transformers"):
        try:
            mods[name] = importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        sys.exit("error: this export needs the Python packages " + " and ".join(missing)
                 + " (pip install diffusers transformers tokenizers)")
    return mods["diffusers"], mods["transformers"]


class TextEncoder(nn.Module):
    """input_ids -> last_hidden_state (element 0 of a transformers ModelOutput or tuple)."""

    def __init__(self, text_encoder):
        super().__init__()
        self.text_encoder = text_encoder

    def forward(self, input_ids):
        return self.text_encoder(input_ids)[0]


def load_text_encoder(transformers, path, kw):
    arch = (read_json(os.path.join(path, "config.json")).get("architectures") or ["CLIPTextModel"])[0]
    cls = getattr(transformers, arch)
    try:  # plain attention traces everywhere; older transformers do not know the argument
        return cls.from_pretrained(path, attn_implementation="eager", **kw)
    except TypeError:
        return cls.from_pretrained(path, **kw)


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


class Exporter:
    """Runs modules eagerly on an environment of named tensors, exports each as a component with a
    golden file, and records the block list."""

    def __init__(self, pkg_dir, atol):
        self.E = train_export()
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
        strip_debug_sources(os.path.join(self.pkg, c["file"]))
        c["sha256"] = self.E.sha256_file(os.path.join(self.pkg, c["file"]))
        self.components.append(c)
        self.goldens.append(g)
        return names, outs

    def block(self, env, name, cname, module, in_names, out_names, cacheable, group=None, file=None):
        names, outs = self.component(cname, module, tuple(env[i] for i in in_names), in_names, out_names,
                                     file=file)
        env.update(zip(names, outs))
        self.blocks.append(self.E.block(name, cname, in_names, names, cacheable, group))
        return names


# ------------------------------------------------------------------------------------ block wrappers


def frames_to_batch(x, frames):
    """[B, ...] -> [B*F, ...], each item repeated for its F frames (frame-major within an item)."""
    return x.unsqueeze(1).expand(x.shape[0], frames, *x.shape[1:]).flatten(0, 1)


class FramesEmbed(nn.Module):
    """mmdit.Embed over frames folded into the batch: (sample [B,C,F,h,w], timestep [B], encoder_hidden_states
    [B,L,Dt], pooled_projections [B,P]) -> (joint [B*F,L+N,D], temb [B*F,D]); F from sample.shape[2]."""

    def __init__(self, tr):
        super().__init__()
        self.embed = mmdit.Embed(tr)

    def forward(self, sample, timestep, encoder_hidden_states, pooled_projections):
        frames = sample.shape[2]
        return self.embed(sample.transpose(1, 2).flatten(0, 1), frames_to_batch(timestep, frames),
                          frames_to_batch(encoder_hidden_states, frames), frames_to_batch(pooled_projections, frames))


class FramesFinalLayer(nn.Module):
    """mmdit.FinalLayer, unfolded: (joint, temb, encoder_hidden_states, sample [B,C,F,h,w]) -> [B,C,F,h,w]."""

    def __init__(self, tr):
        super().__init__()
        self.final = mmdit.FinalLayer(tr)

    def forward(self, joint, temb, encoder_hidden_states, sample):
        x = self.final(joint, temb, encoder_hidden_states, sample)
        return x.reshape(sample.shape[0], sample.shape[2], *x.shape[1:]).transpose(1, 2)


def unique_sizes(sizes):
    out = []
    for x in sizes:
        if x not in out:
            out.append(x)
    return out


@torch.no_grad()
def export_dit(p, out, name, atol=1e-4, height=None, width=None):
    """`p`: namespace with transformer, vae, text_encoder (or None), encode (or None), tokenizer
    ((spec, type) or None), text_length, scheduler_config, source, command."""
    if os.path.exists(os.path.join(out, "manifest.json")):
        sys.exit(f"error: {out} already holds a package; choose an empty --out")
    tr, vae = p.transformer.eval(), p.vae.eval()
    mmdit.check_layout(tr)
    os.makedirs(out, exist_ok=True)
    notes = []
    down = 2 ** (len(cfg(vae, "block_out_channels", [0])) - 1)
    scale = float(cfg(vae, "scaling_factor", 1.0))
    shift = float(cfg(vae, "shift_factor", None) or 0.0)
    lat_c = int(cfg(tr, "in_channels", 16))
    H = int(height or cfg(tr, "sample_size", 128) * down)
    W = int(width or cfg(tr, "sample_size", 128) * down)
    patch = int(cfg(tr, "patch_size"))
    if H % (down * patch) or W % (down * patch):
        sys.exit(f"error: {W}x{H} must be a multiple of VAE factor {down} x patch size {patch}")
    lat_h, lat_w = H // down, W // down
    sc = p.scheduler_config
    n_train = int(sc.get("num_train_timesteps", 1000))
    if sc.get("shift", 1.0) != 1.0 or sc.get("use_dynamic_shifting"):
        notes.append(f"scheduler shift={sc.get('shift')} use_dynamic_shifting={sc.get('use_dynamic_shifting')} "
                     "is not representable; Genloom's Euler uses unshifted linear / linear_quadratic sigmas")
    pooled_dim = int(cfg(tr, "pooled_projection_dim"))
    notes.append("graph input pooled_projections is not supplied by Genloom's DiT generator yet")

    ex = Exporter(out, atol)
    g = torch.Generator().manual_seed(0)
    if p.text_encoder is not None:
        ids = p.encode(["a photograph of an astronaut riding a horse", ""])
        ex.component("text_encoder", TextEncoder(p.text_encoder.eval()), (ids,), ["input_ids"],
                     ["last_hidden_state"])
        ehs = TextEncoder(p.text_encoder)(ids)
        L = int(ehs.shape[1])
    else:
        L = int(p.text_length)
        ehs = torch.randn(2, L, int(cfg(tr, "joint_attention_dim")), generator=g)
        notes.append("no text_encoder component (the pipeline has several text encoders); encoder_hidden_states "
                     f"[B,{L},{ehs.shape[2]}] must come from elsewhere")
    pix = torch.rand(2, 3, H, W, generator=g) * 2 - 1
    _, (lat,) = ex.component("vae_encoder", VaeEncoder(vae, shift), (pix,), ["pixels"], ["latent"])
    ex.component("vae_decoder", VaeDecoder(vae, shift), (lat,), ["latent"], ["pixels"])

    sig = torch.tensor([0.7, 0.3])
    x0 = lat.unsqueeze(2) * scale
    noise = torch.randn(x0.shape, generator=g)
    env = {"sample": (1 - sig.view(-1, 1, 1, 1, 1)) * x0 + sig.view(-1, 1, 1, 1, 1) * noise,
           "timestep": sig * n_train, "encoder_hidden_states": ehs,
           "pooled_projections": torch.randn(2, pooled_dim, generator=g)}
    graph_inputs = ["sample", "timestep", "encoder_hidden_states", "pooled_projections"]
    ex.block(env, "transformer.embed", "transformer.embed", FramesEmbed(tr), graph_inputs, ["joint_in", "temb"],
             False)
    prev = "joint_in"
    for i, blk in enumerate(tr.transformer_blocks):
        ex.block(env, f"transformer_blocks.{i}", f"transformer_blocks.{i}", mmdit.JointBlock(blk),
                 [prev, "temb", "encoder_hidden_states"], [f"joint_{i}"], True, group=mmdit.GROUP)
        prev = f"joint_{i}"
    ex.block(env, "transformer.final_layer", "transformer.final_layer", FramesFinalLayer(tr),
             [prev, "temb", "encoder_hidden_states", "sample"], ["velocity"], False)
    denoiser = {"inputs": graph_inputs, "blocks": ex.blocks, "output": "velocity",
                "prediction": "PREDICTION_FLOW_VELOCITY", "timestepInput": "sigma", "timestepScale": float(n_train)}

    runner = GraphRunner(out, ex.components, denoiser)
    # The graph against the full transformer run frame by frame (frames folded into the batch, as FramesEmbed
    # does) at the package size and a narrower one, each at 1 and 3 frames.
    patch = int(cfg(tr, "patch_size"))
    checks = unique_sizes([(lat_h, lat_w), (lat_h, max(patch, lat_w // 2 // patch * patch))])
    t3 = torch.tensor([1.0, 0.5, 0.02]) * n_train
    e3 = torch.randn(3, L, ehs.shape[2], generator=g)
    p3 = torch.randn(3, pooled_dim, generator=g)
    worst = 0.0
    for h_, w_ in checks:
        for frames in (1, 3):
            x3 = torch.randn(3, lat_c, frames, h_, w_, generator=g)
            ref = tr(hidden_states=x3.transpose(1, 2).flatten(0, 1),
                     encoder_hidden_states=e3.repeat_interleave(frames, 0),
                     pooled_projections=p3.repeat_interleave(frames, 0), timestep=t3.repeat_interleave(frames, 0),
                     return_dict=False)[0]
            ref = ref.reshape(3, frames, *ref.shape[1:]).transpose(1, 2)
            got = runner(sample=x3, timestep=t3, encoder_hidden_states=e3, pooled_projections=p3)
            err = max_abs(ref, got)
            worst = max(worst, err)
            print(f"block graph vs full transformer at {h_}x{w_} latents, {frames} frames (batch 3): max abs diff "
                  f"{err:.3e} (output max abs {ref.abs().max().item():.3g})", flush=True)
            if not err <= atol:
                sys.exit(f"error: exported blocks differ from the full transformer at {h_}x{w_} latents, {frames} "
                         f"frames by {err} > --atol {atol}")

    manifest = {
        "format": "genloom/v1", "name": name, "version": "1.0.0", "kind": "MODEL_KIND_DIT_VIDEO",
        "description": f"{p.source}: {type(tr).__name__} exported as a block graph (flow velocity, one frame), "
                       f"{type(vae).__name__} ({W}x{H} pixels -> {lat_c}x{lat_h}x{lat_w} latents).",
        "components": ex.components, "denoiser": denoiser,
        "latent": {"channels": lat_c, "height": lat_h, "width": lat_w, "frames": 1, "scaleFactor": scale,
                   "downsample": down},
        "schedule": {"type": "flow_matching", "numTrainTimesteps": n_train},
        "defaults": {"sampler": "euler", "steps": 28, "guidanceScale": 7.0, "width": W, "height": H, "numFrames": 1,
                     "sigmaSchedule": "linear"},
        "supportedSizes": [{"width": W, "height": H}],
        "supportedFrameCounts": [1],
        "goldens": ex.goldens,
        "training": {
            "source": p.source, "command": p.command, "versions": versions(),
            "classes": f"transformer {type(tr).__name__}, vae {type(vae).__name__}, scheduler "
                       f"{sc.get('_class_name', '?')}",
            "text_length": str(L),
            "vae_shift_factor": f"{shift} (folded into vae_encoder/vae_decoder)",
            "blocks_vs_full_max_abs_err": f"{worst:.3e} (worst of "
                                          + ", ".join(f"{h_}x{w_}" for h_, w_ in checks) + " latents x 1, 3 frames)",
            "notes": "; ".join(notes),
        },
    }
    if p.tokenizer is not None:
        manifest["tokenizer"] = p.tokenizer[0]
        manifest["training"]["tokenizer"] = f"{p.tokenizer[1]} tokenizer.json"
    train_export().write_manifest(os.path.join(out, "manifest.json"), manifest)
    print(f"wrote {out}: {len(ex.components)} components", flush=True)
    for n in notes:
        print("warning:", n, flush=True)
    return manifest, worst


def main_export(a):
    index = os.path.join(a.pipeline, "model_index.json")
    if os.path.isfile(index) and read_json(index).get("_class_name") == "StableDiffusion3Pipeline":
        sys.exit("error: a StableDiffusion3Pipeline folder: export it with genloom_export.stable_diffusion (a "
                 "latent_diffusion package with its three text encoders, pooled embedding and flow-match schedule)")
    tr_config = os.path.join(a.pipeline, "transformer", "config.json")
    if (os.path.isfile(index) and read_json(index).get("_class_name") == "FluxPipeline") or (
            os.path.isfile(tr_config) and read_json(tr_config).get("_class_name") == "FluxTransformer2DModel"):
        sys.exit("error: a Flux pipeline (FluxTransformer2DModel: double- and single-stream blocks, rotary "
                 "positions, 2x2 latent packing) is not an SD3-layout DiT: export a FluxPipeline folder with "
                 "genloom_export.stable_diffusion (a latent_diffusion package, see genloom_export.flux)")
    torch.set_grad_enabled(False)
    diffusers, transformers = require_hf()
    kw = {"torch_dtype": torch.float32}
    if a.variant:
        kw["variant"] = a.variant
    pipe = a.pipeline
    tr_cfg = read_json(os.path.join(pipe, "transformer", "config.json"))
    cls = getattr(diffusers, tr_cfg.get("_class_name", "SD3Transformer2DModel"))
    tr = cls.from_pretrained(os.path.join(pipe, "transformer"), **kw)
    vae = diffusers.AutoencoderKL.from_pretrained(os.path.join(pipe, "vae"), **kw)
    out = os.path.abspath(a.out)
    os.makedirs(out, exist_ok=True)
    te = encode = tok_info = None
    text_length = a.text_length
    single = (os.path.isdir(os.path.join(pipe, "text_encoder"))
              and not os.path.isdir(os.path.join(pipe, "text_encoder_2")))
    if single:
        te = load_text_encoder(transformers, os.path.join(pipe, "text_encoder"), kw)
        tok = transformers.AutoTokenizer.from_pretrained(os.path.join(pipe, "tokenizer"), use_fast=True)
        L = a.text_length or text_max_length(tok, te)
        tok_type, lower = write_tokenizer(pipe, out, "tokenizer", tok)
        encode, tok_info = hf_encoder(tok, L), (hf_tokenizer_spec(tok, L, lower), tok_type)
    elif not text_length:
        sys.exit("error: the pipeline has several text encoders; give --text-length (the encoder_hidden_states "
                 "length its pipeline builds)")
    p = types.SimpleNamespace(
        transformer=tr, vae=vae, text_encoder=te, encode=encode, tokenizer=tok_info, text_length=text_length,
        scheduler_config=read_json(os.path.join(pipe, "scheduler", "scheduler_config.json")),
        source=os.path.basename(os.path.normpath(pipe)),
        command="PYTHONPATH=models/export python3 -m genloom_export.dit " + " ".join(sys.argv[1:]))
    try:
        export_dit(p, out, a.name or os.path.basename(out), a.atol, a.height, a.width)
    except Refused as e:
        sys.exit(f"error: {e}")


def main():
    ap = C.parser(__doc__)
    ap.add_argument("--pipeline", help="diffusers pipeline folder (transformer/, vae/, scheduler/, text encoders)")
    ap.add_argument("--out", help="package folder to create")
    ap.add_argument("--name", help="package name (default: the --out folder name)")
    ap.add_argument("--height", type=int, help="pixel height to trace at (default: sample_size * VAE factor)")
    ap.add_argument("--width", type=int, help="pixel width to trace at (default: sample_size * VAE factor)")
    ap.add_argument("--text-length", type=int, help="encoder_hidden_states length when no text encoder is exported")
    ap.add_argument("--variant", help="diffusers weight variant to load, e.g. fp16 (cast to float32)")
    ap.add_argument("--atol", type=float, default=1e-4, help="max abs difference blocks vs full forward")
    C.run(ap, ("pipeline", "out"), main_export)


if __name__ == "__main__":
    main()
