"""Sampling goldens of a latent diffusion package, recorded with diffusers' own schedulers.

For each sampler and size, the denoising loop that diffusers' StableDiffusionPipeline and
StableDiffusionXLPipeline run is run over the eager diffusers modules: `<Scheduler>.from_config(the
pipeline's scheduler config)`, `set_timesteps(steps)`, initial latents = unit noise (one seeded
torch.Generator per item, diffusers' randn_tensor) x init_noise_sigma, then per timestep the
classifier-free-guidance batch [unconditional rows; conditional rows], scale_model_input, the UNet
(SDXL: added_cond_kwargs text_embeds and time_ids), guidance, guidance_rescale with diffusers'
rescale_noise_cfg, scheduler.step (with eta where the step takes one, and the per-item generators);
finally pixels = vae.decode(latents / scaling_factor). The text conditioning is computed as the
pipelines' encode_prompt computes it, item by item (so that "an empty negative prompt" means
negative_prompt=None for that item, which zeroes it under SDXL's force_zeros_for_empty_prompt).
Every random draw is kept: the initial noise, and the scheduler's step noise, captured by wrapping
the `randn_tensor` name inside the scheduler's module.

The same loop is then run again with the package's TorchScript files in place of the eager modules
(text encoders combined as the manifest's `text` says, the block graph, vae_decoder.pt), replaying
the recorded draws; the final latents must agree to GoldenOptions.sampling_atol.

Files: golden/sampling_<sampler>_<W>x<H>.npz (float32 init_noise [B,C,h,w], step_noise
[steps,B,C,h,w] when the scheduler draws noise, timesteps [steps], latent_final [B,C,h,w] in the
scaled latent space, pixels [B,3,H,W] raw decoder output; int64 input_ids_<k> and uncond_ids_<k>
[B,L] for each text encoder k in manifest order) and a .json sidecar with the settings. An extra
golden (--golden-extra) carries a tag after the size: sampling_<sampler>_<W>x<H>_<tag>.npz, subject
sampling/<sampler>/<W>x<H>/<tag>.
"""
import argparse
import ast
import importlib
import inspect
import json
import os

import numpy as np
import torch

from .common import GraphRunner, Refused, as_tuple, cfg, max_abs

SAMPLERS = {"ddim": "DDIMScheduler", "dpmpp2m": "DPMSolverMultistepScheduler", "euler": "EulerDiscreteScheduler",
            "euler_a": "EulerAncestralDiscreteScheduler"}
SCHEDULER_SAMPLER = {v: k for k, v in SAMPLERS.items()}
# A flow-matching schedule has one sampler: euler builds FlowMatchEulerDiscreteScheduler from it.
FLOW_MATCH = "FlowMatchEulerDiscreteScheduler"
SCHEDULER_SAMPLER[FLOW_MATCH] = "euler"


def is_flow_matching(scheduler_config):
    return scheduler_config.get("_class_name") == FLOW_MATCH


def scheduler_class(sampler, scheduler_config):
    """The diffusers scheduler class that `sampler` builds from the pipeline's scheduler config (raises
    Refused where that schedule cannot be sampled so)."""
    if sampler not in SAMPLERS:
        raise Refused(f"golden sampler {sampler!r} is not one of {', '.join(SAMPLERS)}")
    if is_flow_matching(scheduler_config):
        if sampler != "euler":
            raise Refused(f"golden sampler {sampler!r} cannot sample the pipeline's flow-matching schedule "
                          f"({FLOW_MATCH}); use euler")
        return FLOW_MATCH
    return SAMPLERS[sampler]
EXTRA_KEYS = {"eta": float, "guidance_rescale": float, "guidance_scale": float, "steps": int}


def optional_diffusers():
    try:
        return importlib.import_module("diffusers")
    except ImportError:
        return None


def require_diffusers():
    d = optional_diffusers()
    if d is None:
        raise Refused("this export needs the Python package diffusers (pip install diffusers transformers)")
    return d


# ------------------------------------------------------------------------------------------ options


def parse_extra(text):
    """"SAMPLER:key=value[,key=value]" -> (sampler, {key: value})."""
    try:
        sampler, rest = text.split(":", 1)
        over = {}
        for kv in rest.split(","):
            k, v = kv.split("=")
            over[k.strip()] = EXTRA_KEYS[k.strip()](v)
    except (ValueError, KeyError):
        raise argparse.ArgumentTypeError(f"{text!r} is not SAMPLER:key=value,... with keys "
                                         f"{', '.join(EXTRA_KEYS)}") from None
    return sampler.strip(), over


def tag_of(over):
    return "_".join(f"{k}{v:g}" if isinstance(v, float) else f"{k}{v}" for k, v in sorted(over.items()))


class GoldenOptions:
    """What the sampling goldens record: samplers (None: every sampler the pipeline's schedule allows),
    sizes (None: the default size and 1.5x its width),
    steps, guidance (None: the package default), guidance_rescale, DDIM eta, extra runs at the first
    size, prompts with their negatives and seeds, and the tolerance of the exported replay."""

    def __init__(self, samplers=None, sizes=None, steps=20, guidance=None,
                 guidance_rescale=0.0, eta=0.0, extras=(), seeds=(1, 2), prompts=None, negatives=None,
                 sampling_atol=1e-3):
        from .stable_diffusion import GOLDEN_NEGATIVES, GOLDEN_PROMPTS
        self.samplers = list(samplers) if samplers else None
        self.sizes = list(sizes) if sizes else None
        self.steps, self.guidance, self.guidance_rescale, self.eta = int(steps), guidance, guidance_rescale, eta
        self.extras = list(extras)
        self.seeds = [int(s) for s in seeds]
        self.prompts = list(prompts or GOLDEN_PROMPTS)
        self.negatives = list(negatives if negatives is not None else GOLDEN_NEGATIVES)
        self.sampling_atol = float(sampling_atol)
        self.clip_skip = 0

    @classmethod
    def from_args(cls, a):
        return cls(samplers=a.golden_samplers, sizes=a.golden_sizes, steps=a.golden_steps, guidance=a.golden_guidance,
                   guidance_rescale=a.golden_guidance_rescale, eta=a.golden_eta, extras=a.golden_extra or (),
                   seeds=a.golden_seeds, sampling_atol=a.sampling_atol)

    def resolve(self, sizes, pipeline):
        """Fill the defaults that depend on the package and check everything (raises Refused)."""
        config = pipeline.scheduler_config
        if self.samplers is None:
            self.samplers = ["euler"] if is_flow_matching(config) else list(SAMPLERS)
        for s in self.samplers + [e[0] for e in self.extras]:
            scheduler_class(s, config)
        if self.sizes is None:
            m = sizes.multiple_of
            w, h = sizes.default
            self.sizes = [sizes.default, (w * 3 // 2 // m * m, h)]
        for s in self.sizes:
            sizes.check("golden size", s)
        if self.guidance is None:
            self.guidance = 5.0 if pipeline.family == "sdxl" else 7.5
        if not (len(self.prompts) == len(self.negatives) == len(self.seeds)):
            raise Refused("golden prompts, negative prompts and seeds must be as many")
        if not 0.0 <= self.guidance_rescale <= 1.0:
            raise Refused(f"guidance_rescale {self.guidance_rescale} is not in [0, 1]")

    def runs(self):
        """(sampler, size, overrides, tag) for every golden."""
        out = [(s, size, {}, "") for size in self.sizes for s in self.samplers]
        out += [(s, self.sizes[0], over, tag_of(over)) for s, over in self.extras]
        return out


def add_golden_args(ap):
    from .stable_diffusion import parse_sizes
    ap.add_argument("--golden-samplers", type=lambda s: [x for x in s.split(",") if x],
                    help="samplers of the sampling goldens (default: ddim,dpmpp2m,euler,euler_a; euler alone on a "
                         "flow-matching schedule)")
    ap.add_argument("--golden-sizes", type=parse_sizes, help="WxH,... (default: the default size and 1.5x its width)")
    ap.add_argument("--golden-steps", type=int, default=20, help="steps of each sampling golden (default 20)")
    ap.add_argument("--golden-guidance", type=float, help="guidance scale (default: the package's, 7.5 or SDXL 5)")
    ap.add_argument("--golden-guidance-rescale", type=float, default=0.0, help="guidance_rescale (default 0)")
    ap.add_argument("--golden-eta", type=float, default=0.0, help="DDIM eta (default 0)")
    ap.add_argument("--golden-extra", type=parse_extra, action="append",
                    help="one more golden at the first golden size, e.g. ddim:eta=0.3 (keys: "
                         f"{', '.join(EXTRA_KEYS)}); repeatable")
    ap.add_argument("--golden-seeds", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2],
                    help="one seed per golden prompt (default 1,2)")
    ap.add_argument("--sampling-atol", type=float, default=1e-3,
                    help="max abs difference of the final latents, exported replay vs eager (default 1e-3)")


# ------------------------------------------------------------------------------------------ diffusers parts


def rescale_noise_cfg_of(diffusers):
    """diffusers' rescale_noise_cfg. Its pipeline module imports transformers' tokenizer and image classes
    when it loads; where that import fails, the function is compiled alone from that module's source file
    (it needs only torch)."""
    try:
        mod = importlib.import_module("diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion")
        return mod.rescale_noise_cfg
    except ImportError:
        path = os.path.join(os.path.dirname(diffusers.__file__), "pipelines", "stable_diffusion",
                            "pipeline_stable_diffusion.py")
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
        fn = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "rescale_noise_cfg"]
        if not fn:
            raise Refused(f"diffusers {diffusers.__version__}: no rescale_noise_cfg in {path}") from None
        ns = {"torch": torch}
        exec(compile(ast.Module(body=fn, type_ignores=[]), path, "exec"), ns)
        return ns["rescale_noise_cfg"]


class NoiseTap:
    """Wraps `randn_tensor` in the scheduler's module: records what every call returns, or (replay)
    returns recorded tensors in order instead of drawing."""

    def __init__(self, scheduler, replay=None):
        self.globals = type(scheduler).step.__globals__
        self.replay = list(replay) if replay is not None else None
        self.draws = []

    def __enter__(self):
        self.orig = self.globals.get("randn_tensor")

        def draw(*args, **kwargs):
            if self.replay is not None:
                if not self.replay:
                    raise Refused("the replayed scheduler asked for more noise than was recorded")
                x = self.replay.pop(0)
            else:
                x = self.orig(*args, **kwargs)
            self.draws.append(x.clone())
            return x

        if self.orig is not None:
            self.globals["randn_tensor"] = draw
        return self

    def __exit__(self, *exc):
        if self.orig is not None:
            self.globals["randn_tensor"] = self.orig
        return False


@torch.no_grad()
def denoise(diffusers, scheduler_config, sampler, steps, init_noise, generators, cond, uncond, added, unet_fn,
            guidance, guidance_rescale, eta, rescale_fn, replay=None):
    """The pipelines' denoising loop. cond/uncond: encoder_hidden_states rows; added: None or
    {"text_embeds": (uncond, cond), "time_ids": (uncond, cond)}. Returns (latents, timesteps, draws,
    scheduler class name, eta passed)."""
    sched = getattr(diffusers, scheduler_class(sampler, scheduler_config)).from_config(scheduler_config)
    sched.set_timesteps(steps)
    # FlowMatchEulerDiscreteScheduler has neither (its pipelines start from unit noise, unscaled input)
    latents = init_noise * getattr(sched, "init_noise_sigma", 1.0)
    scale_input = getattr(sched, "scale_model_input", lambda x, t: x)
    cfg_on = guidance > 1.0
    ehs = torch.cat([uncond, cond]) if cfg_on else cond
    added_kw = None
    if added is not None:
        added_kw = {k: (torch.cat(v) if cfg_on else v[1]) for k, v in added.items()}
    params = inspect.signature(sched.step).parameters
    extra = {}
    if "eta" in params:
        extra["eta"] = eta
    if "generator" in params:
        extra["generator"] = generators
    with NoiseTap(sched, replay) as tap:
        for t in sched.timesteps:
            x = torch.cat([latents] * 2) if cfg_on else latents
            x = scale_input(x, t)
            eps = unet_fn(x, t, ehs, added_kw)
            if cfg_on:
                eps_u, eps_c = eps.chunk(2)
                eps = eps_u + guidance * (eps_c - eps_u)
                if guidance_rescale > 0.0:
                    eps = rescale_fn(eps, eps_c, guidance_rescale=guidance_rescale)
            latents = sched.step(eps, t, latents, **extra, return_dict=False)[0]
    return latents, sched.timesteps.clone(), tap.draws, type(sched).__name__, extra.get("eta", 0.0)


@torch.no_grad()
def reference_text(family, encoders, ids, uncond_ids, negatives, zero_empty):
    """Text conditioning as diffusers' encode_prompt computes it (clip_skip None), item by item.
    Returns (cond, uncond, pooled_cond, pooled_uncond); pooled are None outside SDXL."""
    def encode(rows):
        if family == "sd":
            return encoders[0](rows[0])[0], None
        hs, pooled = [], None
        for te, x in zip(encoders, rows):
            o = te(x, output_hidden_states=True)
            pooled = o[0]
            hs.append(o.hidden_states[-2])
        return torch.cat(hs, dim=-1), pooled

    cond, uncond, pc, pu = [], [], [], []
    for i in range(ids[0].shape[0]):
        c, p = encode([x[i:i + 1] for x in ids])
        if family == "sdxl" and zero_empty and not negatives[i]:
            u, q = torch.zeros_like(c), torch.zeros_like(p)
        else:
            u, q = encode([x[i:i + 1] for x in uncond_ids])
        cond.append(c), uncond.append(u), pc.append(p), pu.append(q)
    cat = (lambda xs: torch.cat(xs) if xs[0] is not None else None)
    return cat(cond), cat(uncond), cat(pc), cat(pu)


@torch.no_grad()
def package_text(pkg, manifest, ids, uncond_ids, negatives):
    """Text conditioning from the package's text encoder components, combined as manifest["text"] says."""
    text = manifest["text"]
    files = {c["name"]: c["file"] for c in manifest["components"]}

    def encode(rows):
        hs, pooled = [], None
        for enc, x in zip(text["encoders"], rows):
            m = torch.jit.load(os.path.join(pkg, files[enc["component"]]))
            outs = as_tuple(m(x, torch.tensor([enc["hiddenLayer"] + text["defaultClipSkip"]], dtype=torch.int64)))
            hs.append(outs[0])
            if enc["component"] == text.get("pooledFrom"):
                pooled = outs[1]
        return torch.cat(hs, dim=-1), pooled

    c, pc = encode(ids)
    u, pu = encode(uncond_ids)
    if text["zeroEmptyNegative"]:
        for i, n in enumerate(negatives):
            if not n:
                u[i] = 0.0
                if pu is not None:
                    pu[i] = 0.0
    return c, u, pc, pu


def golden_names(sampler, size, tag):
    base = f"sampling_{sampler}_{size[0]}x{size[1]}" + (f"_{tag}" if tag else "")
    subject = f"sampling/{sampler}/{size[0]}x{size[1]}" + (f"/{tag}" if tag else "")
    return base, subject


@torch.no_grad()
def record_goldens(diffusers, pkg, manifest, golden, pipeline, unet, vae, encoders, tokenizers):
    """Record every golden of `golden.runs()` into pkg/golden and replay it with the package's TorchScript.
    Returns (manifest golden entries, report lines)."""
    from diffusers.utils.torch_utils import randn_tensor
    rescale_fn = rescale_noise_cfg_of(diffusers)
    prompts, negatives = golden.prompts, golden.negatives
    encoded = [t.encode(prompts) for t in tokenizers]
    ids = [e[0] for e in encoded]
    truncated = encoded[0][1]
    uncond_ids = [t.encode(negatives)[0] for t in tokenizers]
    sdxl = pipeline.family == "sdxl"
    ref = reference_text(pipeline.family, encoders, ids, uncond_ids, negatives, pipeline.zero_empty_negative)
    exp = package_text(pkg, manifest, ids, uncond_ids, negatives)
    text_err = max(max_abs(a, b) for a, b in zip(ref, exp) if a is not None)
    if sdxl:
        proj = int(cfg(encoders[-1], "projection_dim"))
        want = int(cfg(unet, "addition_time_embed_dim")) * 6 + proj
        have = int(unet.add_embedding.linear_1.in_features)
        if want != have:
            raise Refused(f"unet add_embedding takes {have} features; addition_time_embed_dim x 6 + the pooled "
                          f"projection_dim gives {want}")
    runner = GraphRunner(pkg, manifest["components"], manifest["denoiser"])
    files = {c["name"]: c["file"] for c in manifest["components"]}
    decoder = torch.jit.load(os.path.join(pkg, files["vae_decoder"]))
    scale = float(manifest["latent"]["scaleFactor"])
    f = int(manifest["latent"]["downsample"])
    C = int(manifest["latent"]["channels"])
    B = len(prompts)

    def eager_unet(x, t, ehs, added):
        return unet(x, t, encoder_hidden_states=ehs, added_cond_kwargs=added, return_dict=False)[0]

    def exported_unet(x, t, ehs, added):
        inputs = {"sample": x, "timestep": torch.full((x.shape[0],), float(t), dtype=torch.float32),
                  "encoder_hidden_states": ehs}
        if added is not None:
            inputs.update(added)
        return runner(**inputs)

    entries, lines = [], []
    for sampler, (W, H), over, tag in golden.runs():
        steps = int(over.get("steps", golden.steps))
        guidance = float(over.get("guidance_scale", golden.guidance))
        rescale = float(over.get("guidance_rescale", golden.guidance_rescale))
        eta = float(over.get("eta", golden.eta))
        added_ref = added_exp = None
        if sdxl:
            tid = torch.tensor([[H, W, 0, 0, H, W]] * B, dtype=torch.float32)
            added_ref = {"text_embeds": (ref[3], ref[2]), "time_ids": (tid, tid)}
            added_exp = {"text_embeds": (exp[3], exp[2]), "time_ids": (tid, tid)}
        gens = [torch.Generator().manual_seed(s) for s in golden.seeds]
        init = randn_tensor((B, C, H // f, W // f), generator=gens, dtype=torch.float32)
        lat, timesteps, draws, sched_name, eta_used = denoise(
            diffusers, pipeline.scheduler_config, sampler, steps, init, gens, ref[0], ref[1], added_ref, eager_unet,
            guidance, rescale, eta, rescale_fn)
        pixels = vae.decode(lat / scale, return_dict=False)[0]
        lat_x, _, _, _, _ = denoise(
            diffusers, pipeline.scheduler_config, sampler, steps, init, None, exp[0], exp[1], added_exp,
            exported_unet, guidance, rescale, eta, rescale_fn, replay=draws)
        pixels_x = decoder(lat_x / scale)
        d_lat, d_pix = max_abs(lat, lat_x), max_abs(pixels, pixels_x)
        base, subject = golden_names(sampler, (W, H), tag)
        line = f"{subject}: latents {d_lat:.2e}, pixels {d_pix:.2e}"
        print(f"sampling golden {line} (exported replay vs eager; latent max abs {lat.abs().max().item():.3g})",
              flush=True)
        if not d_lat <= golden.sampling_atol:
            raise Refused(f"{subject}: the exported package in diffusers' loop ends {d_lat:.3e} from the eager run "
                          f"(> --sampling-atol {golden.sampling_atol})")
        if draws and len(draws) != steps:
            raise Refused(f"{sched_name} drew noise {len(draws)} times in {steps} steps")
        arrays = {"init_noise": init, "timesteps": timesteps.to(torch.float32), "latent_final": lat,
                  "pixels": pixels}
        if draws:
            arrays["step_noise"] = torch.stack(draws)
        for k in range(len(ids)):
            arrays[f"input_ids_{k}"] = ids[k]
            arrays[f"uncond_ids_{k}"] = uncond_ids[k]
        np.savez(os.path.join(pkg, "golden", base + ".npz"),
                 **{k: v.detach().numpy().astype(np.int64 if v.dtype == torch.int64 else np.float32)
                    for k, v in arrays.items()})
        sidecar = {"sampler": sampler, "scheduler": sched_name, "steps": steps, "guidance_scale": guidance,
                   "guidance_rescale": rescale, "eta": float(eta_used), "clip_skip": golden.clip_skip, "width": W,
                   "height": H, "prompts": prompts, "negative_prompts": negatives, "truncated_tokens": truncated,
                   "diffusers_version": diffusers.__version__}
        with open(os.path.join(pkg, "golden", base + ".json"), "w", encoding="utf-8") as fh:
            json.dump(sidecar, fh, indent=2)
            fh.write("\n")
        entries.append({"subject": subject, "file": f"golden/{base}.npz"})
        lines.append(line)
    lines.insert(0, f"text conditioning {text_err:.2e}")
    return entries, lines
