#!/usr/bin/env python3
"""Export a diffusers flow-matching DiT (SD3-style `transformer_blocks`) as a Genloom block graph.

Supported transformer layout: diffusers' SD3Transformer2DModel attribute names and call signatures
-- pos_embed (patchify + positions), time_text_embed(timestep, pooled_projections), context_embedder,
transformer_blocks (JointTransformerBlock: block(hidden_states=, encoder_hidden_states=, temb=) ->
(encoder_hidden_states or None, hidden_states)), norm_out(hidden_states, temb), proj_out, and
config.patch_size / out_channels. Output: a MODEL_KIND_DIT_VIDEO package (Genloom's flow-matching
generator) with one frame:

  transformer.embed         sample [B,C,1,h,w], timestep [B] (sigma * 1000), encoder_hidden_states
                            [B,L,Dt], pooled_projections [B,P] -> hidden_states [B,L+N,D], temb [B,D]
  transformer_blocks.<i>    hidden_states, temb -> hidden_states   (group "transformer_blocks")
  transformer.final_layer   hidden_states, temb -> velocity [B,C,1,h,w]
  vae_encoder / vae_decoder per-frame AutoencoderKL (posterior mean; shift_factor folded in)
  text_encoder + tokenizer.json, only when the pipeline has a single text encoder

The joint blocks update the text and image streams together; Genloom's block caches (FORA,
TeaCache) treat a group as one residual stream (first input -> first output), so the two streams
are carried as one tensor, [context tokens | image tokens] along the sequence, and each block
wrapper splits and re-joins them (the last, context_pre_only block passes the context through).
Prediction: flow velocity (v = noise - x0), timestep_input "sigma", timestep_scale
num_train_timesteps.

What does NOT work yet, stated plainly:
  * Graph input `pooled_projections`: Genloom's DiT generator feeds sample, timestep,
    encoder_hidden_states, cond_latent and cond_mask only, so an SD3-style package passes its
    component golden checks but cannot generate until the runtime supplies pooled text embeddings.
  * SD3 pipelines have three text encoders (two CLIP, one T5) whose outputs are concatenated; a
    Genloom package has one `text_encoder` component with one tokenizer, so for such pipelines the
    text encoder is not exported (the script says so) and the package cannot serve prompts.
  * Tokenizers: Genloom's Java runtime implements the WordLevel tokenizer only; a BPE or
    SentencePiece tokenizer.json is written but cannot be used until the Java runtime has one.
  * The scheduler's `shift` (SD3: 3.0) has no field in the manifest; Genloom's Euler sampler uses
    the "linear" or "linear_quadratic" sigma schedules, so sampling differs from diffusers'.

Usage:
  PYTHONPATH=models/export python3 -m genloom_export.dit --pipeline PATH/TO/pipeline --out models/my-dit \\
      [--name my-dit] [--height 1024 --width 1024] [--text-length 333] [--atol 1e-4]
  PYTHONPATH=models/export python3 -m genloom_export.dit --self-test [--keep DIR]

--self-test needs only torch and numpy: a stand-in transformer with the SD3 attribute names and
forward() control flow (and stand-in VAE and text encoder from stable_diffusion.py) is exported
into a temporary package, and the exported blocks run in order must reproduce its full forward.
"""
import math
import os
import shutil
import sys
import tempfile
import types

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import cli as C
from . import stable_diffusion as U  # shared helpers and stand-ins


# ------------------------------------------------------------------------------------ block wrappers


class Embed(nn.Module):
    """(sample [B,C,1,h,w], timestep, encoder_hidden_states, pooled) -> (joint [B,L+N,D], temb)."""

    def __init__(self, tr):
        super().__init__()
        self.pos_embed, self.time_text_embed, self.context_embedder = tr.pos_embed, tr.time_text_embed, \
            tr.context_embedder

    def forward(self, sample, timestep, encoder_hidden_states, pooled_projections):
        hidden = self.pos_embed(sample[:, :, 0])
        temb = self.time_text_embed(timestep, pooled_projections)
        context = self.context_embedder(encoder_hidden_states)
        return torch.cat([context, hidden], dim=1), temb


class JointBlock(nn.Module):
    """joint [B,L+N,D], temb -> joint; splits at the (fixed) text length L."""

    def __init__(self, block, text_len):
        super().__init__()
        self.block = block
        self.L = int(text_len)

    def forward(self, hidden_states, temb):
        context, hidden = hidden_states[:, :self.L], hidden_states[:, self.L:]
        new_context, hidden = self.block(hidden_states=hidden, encoder_hidden_states=context, temb=temb)
        if new_context is None:  # context_pre_only (last SD3 block): the text stream is not updated
            new_context = context
        return torch.cat([new_context, hidden], dim=1)


class FinalLayer(nn.Module):
    """joint, temb -> velocity [B,C,1,h,w] (norm_out, proj_out, SD3's unpatchify)."""

    def __init__(self, tr, text_len, lat_h, lat_w):
        super().__init__()
        self.norm_out, self.proj_out = tr.norm_out, tr.proj_out
        self.L, self.p = int(text_len), int(U.cfg(tr, "patch_size"))
        self.c = int(getattr(tr, "out_channels", None) or U.cfg(tr, "out_channels"))
        self.h, self.w = lat_h // self.p, lat_w // self.p

    def forward(self, hidden_states, temb):
        x = self.proj_out(self.norm_out(hidden_states[:, self.L:], temb))
        p, c = self.p, self.c
        x = x.reshape(x.shape[0], self.h, self.w, p, p, c)
        x = torch.einsum("nhwpqc->nchpwq", x)
        return x.reshape(x.shape[0], c, self.h * p, self.w * p).unsqueeze(2)


def check_layout(tr):
    missing = [a for a in ("pos_embed", "time_text_embed", "context_embedder", "transformer_blocks", "norm_out",
                           "proj_out") if getattr(tr, a, None) is None]
    if missing or U.cfg(tr, "patch_size") is None:
        sys.exit(f"error: {type(tr).__name__} does not have the SD3-style layout this script supports "
                 f"(missing: {', '.join(missing) or 'config.patch_size'})")


@torch.no_grad()
def export_dit(p, out, name, atol=1e-4, height=None, width=None):
    """`p`: namespace with transformer, vae, text_encoder (or None), encode (or None), tokenizer
    ((spec, type) or None), text_length, scheduler_config, source, command."""
    if os.path.exists(os.path.join(out, "manifest.json")):
        sys.exit(f"error: {out} already holds a package; choose an empty --out")
    os.makedirs(out, exist_ok=True)
    tr, vae = p.transformer.eval(), p.vae.eval()
    check_layout(tr)
    notes = []
    down = 2 ** (len(U.cfg(vae, "block_out_channels", [0])) - 1)
    scale = float(U.cfg(vae, "scaling_factor", 1.0))
    shift = float(U.cfg(vae, "shift_factor", None) or 0.0)
    lat_c = int(U.cfg(tr, "in_channels", 16))
    H = int(height or U.cfg(tr, "sample_size", 128) * down)
    W = int(width or U.cfg(tr, "sample_size", 128) * down)
    patch = int(U.cfg(tr, "patch_size"))
    if H % (down * patch) or W % (down * patch):
        sys.exit(f"error: {W}x{H} must be a multiple of VAE factor {down} x patch size {patch}")
    lat_h, lat_w = H // down, W // down
    sc = p.scheduler_config
    n_train = int(sc.get("num_train_timesteps", 1000))
    if sc.get("shift", 1.0) != 1.0 or sc.get("use_dynamic_shifting"):
        notes.append(f"scheduler shift={sc.get('shift')} use_dynamic_shifting={sc.get('use_dynamic_shifting')} "
                     "is not representable; Genloom's Euler uses unshifted linear / linear_quadratic sigmas")
    pooled_dim = int(U.cfg(tr, "pooled_projection_dim"))
    notes.append("graph input pooled_projections is not supplied by Genloom's DiT generator yet")

    ex = U.Exporter(out, atol)
    g = torch.Generator().manual_seed(0)
    if p.text_encoder is not None:
        ids = p.encode(["a photograph of an astronaut riding a horse", ""])
        ex.component("text_encoder", U.TextEncoder(p.text_encoder.eval()), (ids,), ["input_ids"],
                     ["last_hidden_state"])
        ehs = U.TextEncoder(p.text_encoder)(ids)
        L = int(ehs.shape[1])
    else:
        L = int(p.text_length)
        ehs = torch.randn(2, L, int(U.cfg(tr, "joint_attention_dim")), generator=g)
        notes.append("no text_encoder component (the pipeline has several text encoders); encoder_hidden_states "
                     f"[B,{L},{ehs.shape[2]}] must come from elsewhere")
    pix = torch.rand(2, 3, H, W, generator=g) * 2 - 1
    _, (lat,) = ex.component("vae_encoder", U.VaeEncoder(vae, shift), (pix,), ["pixels"], ["latent"])
    ex.component("vae_decoder", U.VaeDecoder(vae, shift), (lat,), ["latent"], ["pixels"])

    sig = torch.tensor([0.7, 0.3])
    x0 = lat.unsqueeze(2) * scale
    noise = torch.randn(x0.shape, generator=g)
    env = {"sample": (1 - sig.view(-1, 1, 1, 1, 1)) * x0 + sig.view(-1, 1, 1, 1, 1) * noise,
           "timestep": sig * n_train, "encoder_hidden_states": ehs,
           "pooled_projections": torch.randn(2, pooled_dim, generator=g)}
    graph_inputs = ["sample", "timestep", "encoder_hidden_states", "pooled_projections"]
    ex.block(env, "transformer.embed", "transformer.embed", Embed(tr), graph_inputs, ["hidden_states", "temb"],
             False)
    for i, blk in enumerate(tr.transformer_blocks):
        ex.block(env, f"transformer_blocks.{i}", f"transformer_blocks.{i}", JointBlock(blk, L),
                 ["hidden_states", "temb"], ["hidden_states"], True, group="transformer_blocks")
    ex.block(env, "transformer.final_layer", "transformer.final_layer", FinalLayer(tr, L, lat_h, lat_w),
             ["hidden_states", "temb"], ["velocity"], False)
    denoiser = {"inputs": graph_inputs, "blocks": ex.blocks, "output": "velocity",
                "prediction": "PREDICTION_FLOW_VELOCITY", "timestepInput": "sigma", "timestepScale": float(n_train)}

    runner = U.GraphRunner(out, ex.components, denoiser)
    x3 = torch.randn(3, lat_c, 1, lat_h, lat_w, generator=g)
    t3 = torch.tensor([1.0, 0.5, 0.02]) * n_train
    e3 = torch.randn(3, L, ehs.shape[2], generator=g)
    p3 = torch.randn(3, pooled_dim, generator=g)
    ref = tr(hidden_states=x3[:, :, 0], encoder_hidden_states=e3, pooled_projections=p3, timestep=t3,
             return_dict=False)[0]
    got = runner(sample=x3, timestep=t3, encoder_hidden_states=e3, pooled_projections=p3)[:, :, 0]
    err = U.max_abs(ref, got)
    print(f"block graph vs full transformer forward (batch 3): max abs diff {err:.3e} "
          f"(output max abs {ref.abs().max().item():.3g})", flush=True)
    if not err <= atol:
        sys.exit(f"error: exported blocks differ from the full transformer by {err} > --atol {atol}")

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
            "source": p.source, "command": p.command, "versions": U.versions(),
            "classes": f"transformer {type(tr).__name__}, vae {type(vae).__name__}, scheduler "
                       f"{sc.get('_class_name', '?')}",
            "text_length": str(L),
            "vae_shift_factor": f"{shift} (folded into vae_encoder/vae_decoder)",
            "blocks_vs_full_max_abs_err": f"{err:.3e}",
            "notes": "; ".join(notes),
        },
    }
    if p.tokenizer is not None:
        manifest["tokenizer"] = p.tokenizer[0]
        manifest["training"]["tokenizer"] = U.tokenizer_note(p.tokenizer[1])
        if p.tokenizer[1] != "WordLevel":
            notes.append(U.tokenizer_note(p.tokenizer[1]))
    U.genloom_export().write_manifest(os.path.join(out, "manifest.json"), manifest)
    print(f"wrote {out}: {len(ex.components)} components", flush=True)
    for n in notes:
        print("warning:", n, flush=True)
    return manifest, err


def main_export(a):
    torch.set_grad_enabled(False)
    diffusers, transformers = U.require_hf()
    kw = {"torch_dtype": torch.float32}
    if a.variant:
        kw["variant"] = a.variant
    pipe = a.pipeline
    tr_cfg = U.read_json(os.path.join(pipe, "transformer", "config.json"))
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
        te = U.load_text_encoder(transformers, os.path.join(pipe, "text_encoder"), kw)
        tok = transformers.AutoTokenizer.from_pretrained(os.path.join(pipe, "tokenizer"), use_fast=True)
        L = a.text_length or U.text_max_length(tok, te)
        tok_type, lower = U.write_tokenizer(pipe, out, "tokenizer", tok)
        encode, tok_info = U.hf_encoder(tok, L), (U.hf_tokenizer_spec(tok, L, lower), tok_type)
    elif not text_length:
        sys.exit("error: the pipeline has several text encoders; give --text-length (SD3 with T5: 333)")
    p = types.SimpleNamespace(
        transformer=tr, vae=vae, text_encoder=te, encode=encode, tokenizer=tok_info, text_length=text_length,
        scheduler_config=U.read_json(os.path.join(pipe, "scheduler", "scheduler_config.json")),
        source=os.path.basename(os.path.normpath(pipe)),
        command="PYTHONPATH=models/export python3 -m genloom_export.dit " + " ".join(sys.argv[1:]))
    export_dit(p, out, a.name or os.path.basename(out), a.atol, a.height, a.width)


# ------------------------------------------------------------------------------------ self-test stand-ins


class PatchEmbed(nn.Module):
    def __init__(self, n_tokens, patch, cin, dim):
        super().__init__()
        self.proj = nn.Conv2d(cin, dim, patch, stride=patch)
        self.pos_embed = nn.Parameter(torch.randn(1, n_tokens, dim) * 0.02)

    def forward(self, latent):
        return self.proj(latent).flatten(2).transpose(1, 2) + self.pos_embed


class CombinedTimestepTextProjEmbeddings(nn.Module):
    def __init__(self, dim, pooled_dim):
        super().__init__()
        self.time_proj = U.Timesteps(64, True, 1)
        self.timestep_embedder = U.TimestepEmbedding(64, dim)
        self.text_embedder = nn.Sequential(nn.Linear(pooled_dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, timestep, pooled_projection):
        return self.timestep_embedder(self.time_proj(timestep)) + self.text_embedder(pooled_projection)


class AdaLayerNormContinuous(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.linear = nn.Linear(dim, 2 * dim)
        self.norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)

    def forward(self, x, conditioning_embedding):
        scale, shift = self.linear(F.silu(conditioning_embedding)).chunk(2, dim=1)
        return self.norm(x) * (1 + scale)[:, None, :] + shift[:, None, :]


class JointTransformerBlock(nn.Module):
    """Joint attention over [context | image] with adaLN; returns (context or None, hidden)."""

    def __init__(self, dim, heads, context_pre_only=False):
        super().__init__()
        self.heads, self.context_pre_only = heads, context_pre_only
        self.norm1 = nn.Linear(dim, 3 * dim)
        self.norm1_context = nn.Linear(dim, 3 * dim)
        self.ln = nn.LayerNorm(dim, elementwise_affine=False)
        self.qkv, self.qkv_context = nn.Linear(dim, 3 * dim), nn.Linear(dim, 3 * dim)
        self.to_out, self.to_add_out = nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.ff = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(approximate="tanh"), nn.Linear(2 * dim, dim))
        self.ff_context = None if context_pre_only else nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(),
                                                                      nn.Linear(2 * dim, dim))

    def forward(self, hidden_states, encoder_hidden_states, temb, joint_attention_kwargs=None):
        B, N, D = hidden_states.shape
        L = encoder_hidden_states.shape[1]
        sh, sc, gate = self.norm1(F.silu(temb))[:, None].chunk(3, dim=-1)
        csh, csc, cgate = self.norm1_context(F.silu(temb))[:, None].chunk(3, dim=-1)
        h = self.ln(hidden_states) * (1 + sc) + sh
        c = self.ln(encoder_hidden_states) * (1 + csc) + csh
        qkv = torch.cat([self.qkv_context(c), self.qkv(h)], dim=1)
        q, k, v = (t.reshape(B, L + N, self.heads, D // self.heads).transpose(1, 2) for t in qkv.chunk(3, dim=-1))
        a = (torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(D // self.heads), -1) @ v)
        a = a.transpose(1, 2).reshape(B, L + N, D)
        hidden_states = hidden_states + gate * self.to_out(a[:, L:])
        hidden_states = hidden_states + self.ff(self.ln(hidden_states))
        if self.context_pre_only:
            return None, hidden_states
        encoder_hidden_states = encoder_hidden_states + cgate * self.to_add_out(a[:, :L])
        encoder_hidden_states = encoder_hidden_states + self.ff_context(self.ln(encoder_hidden_states))
        return encoder_hidden_states, hidden_states


class FakeSD3Transformer2DModel(nn.Module):
    """SD3Transformer2DModel's attributes and forward() (diffusers models/transformers/transformer_sd3.py)."""

    def __init__(self, sample_size=16, patch_size=2, in_channels=4, num_layers=3, dim=48, heads=4,
                 joint_attention_dim=24, pooled_projection_dim=20):
        super().__init__()
        self.config = {"sample_size": sample_size, "patch_size": patch_size, "in_channels": in_channels,
                       "out_channels": in_channels, "joint_attention_dim": joint_attention_dim,
                       "pooled_projection_dim": pooled_projection_dim}
        self.out_channels = in_channels
        self.pos_embed = PatchEmbed((sample_size // patch_size) ** 2, patch_size, in_channels, dim)
        self.time_text_embed = CombinedTimestepTextProjEmbeddings(dim, pooled_projection_dim)
        self.context_embedder = nn.Linear(joint_attention_dim, dim)
        self.transformer_blocks = nn.ModuleList([JointTransformerBlock(dim, heads, i == num_layers - 1)
                                                 for i in range(num_layers)])
        self.norm_out = AdaLayerNormContinuous(dim)
        self.proj_out = nn.Linear(dim, patch_size * patch_size * in_channels)

    def forward(self, hidden_states, encoder_hidden_states=None, pooled_projections=None, timestep=None,
                return_dict=True):
        height, width = hidden_states.shape[-2:]
        hidden_states = self.pos_embed(hidden_states)
        temb = self.time_text_embed(timestep, pooled_projections)
        encoder_hidden_states = self.context_embedder(encoder_hidden_states)
        for block in self.transformer_blocks:
            encoder_hidden_states, hidden_states = block(hidden_states=hidden_states,
                                                         encoder_hidden_states=encoder_hidden_states, temb=temb)
        hidden_states = self.proj_out(self.norm_out(hidden_states, temb))
        p = self.config["patch_size"]
        height, width = height // p, width // p
        hidden_states = hidden_states.reshape(hidden_states.shape[0], height, width, p, p, self.out_channels)
        hidden_states = torch.einsum("nhwpqc->nchpwq", hidden_states)
        output = hidden_states.reshape(hidden_states.shape[0], self.out_channels, height * p, width * p)
        return (output,) if not return_dict else types.SimpleNamespace(sample=output)


SD3_SCHEDULER = {"_class_name": "FlowMatchEulerDiscreteScheduler", "num_train_timesteps": 1000, "shift": 3.0}


def self_test(keep=None):
    torch.manual_seed(0)
    torch.set_num_threads(2)
    root = keep or tempfile.mkdtemp(prefix="genloom-dit-selftest-")
    pipe_dir, out = os.path.join(root, "fake-dit-pipeline"), os.path.join(root, "models", "selftest-dit")
    if os.path.exists(out):
        shutil.rmtree(out)
    vocab = U.make_fake_pipeline(pipe_dir, SD3_SCHEDULER, U.SELF_TEST_WORDS)
    L, Dt = 10, 24
    os.makedirs(out, exist_ok=True)
    tok_type, lower = U.write_tokenizer(pipe_dir, out, "tokenizer")
    tr = FakeSD3Transformer2DModel(joint_attention_dim=Dt)
    for blk in tr.transformer_blocks:  # non-trivial gates so every path contributes
        nn.init.normal_(blk.norm1.weight, std=0.2)
        nn.init.normal_(blk.norm1_context.weight, std=0.2)
    p = types.SimpleNamespace(
        transformer=tr, vae=U.FakeAutoencoderKL(scaling_factor=1.5305, shift_factor=0.0609),
        text_encoder=U.FakeTextModel(len(vocab), L, Dt), encode=U.fake_encoder(vocab, L),
        tokenizer=({"file": "tokenizer.json", "maxLength": L, "padId": 1, "bosId": 0, "eosId": 1, "unkId": 1,
                    "lowercase": lower}, tok_type),
        text_length=None, scheduler_config=U.read_json(os.path.join(pipe_dir, "scheduler", "scheduler_config.json")),
        source="self-test stand-in SD3-style pipeline",
        command="PYTHONPATH=models/export python3 -m genloom_export.dit --self-test")
    manifest, err = export_dit(p, out, "selftest-dit", atol=1e-5)
    blocks = manifest["denoiser"]["blocks"]
    assert [b["name"] for b in blocks] == ["transformer.embed", "transformer_blocks.0", "transformer_blocks.1",
                                           "transformer_blocks.2", "transformer.final_layer"]
    assert all(b["group"] == "transformer_blocks" and b["cacheable"] for b in blocks[1:4])
    assert manifest["denoiser"]["timestepScale"] == 1000.0 and manifest["latent"]["frames"] == 1
    U.check_package_files(out, manifest)
    # The shift_factor round trip: decoder(encoder(x)) matches the VAE's own decode(encode(x)).
    enc, dec = (torch.jit.load(os.path.join(out, f)) for f in ("vae_encoder.pt", "vae_decoder.pt"))
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        z = enc(x) * 1.5305  # what the runtime does: scaled latent
        own = p.vae.decode(p.vae.encode(x, return_dict=False)[0].mean, return_dict=False)[0]
        assert U.max_abs(dec(z / 1.5305), own) <= 1e-5
    runner = U.GraphRunner(out, manifest["components"], manifest["denoiser"])
    xs, ts = torch.randn(4, 4, 1, 16, 16), torch.tensor([1000.0, 700.0, 300.0, 5.0])
    es, ps = torch.randn(4, L, Dt), torch.randn(4, 20)
    with torch.no_grad():
        d = U.max_abs(tr(xs[:, :, 0], es, ps, ts, return_dict=False)[0],
                      runner(sample=xs, timestep=ts, encoder_hidden_states=es, pooled_projections=ps)[:, :, 0])
    assert d <= 1e-5, d
    return C.finish_self_test(out, root, keep,
                              f" (block graph vs full forward: {err:.2e} at batch 3, {d:.2e} at batch 4)")


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
    C.add_self_test_args(ap, "export a stand-in SD3-style model and check it")
    C.run(ap, ("pipeline", "out"), main_export, self_test)


if __name__ == "__main__":
    main()
