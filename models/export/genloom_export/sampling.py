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

StableDiffusion3Pipeline (family "sd3"): the text conditioning is diffusers' own
StableDiffusion3Pipeline.encode_prompt (with its _get_clip_prompt_embeds and _get_t5_prompt_embeds),
called item by item with the item's negative prompt, clip_skip None and the package's
max_sequence_length, over the eager text encoders and the package's tokenizers; the transformer takes
(hidden_states, timestep expanded to the batch, encoder_hidden_states, pooled_projections) and
pixels = vae.decode(latents / scaling_factor + shift_factor), as that pipeline runs them.
FluxPipeline (family "flux", record_flux_goldens): diffusers' own FluxPipeline.encode_prompt, prepare_latents,
_unpack_latents, calculate_shift and retrieve_timesteps in that pipeline's loop (packed latents, timestep / 1000,
the guidance scale as the transformer's input, no negative prompt and no guidance pass); init_noise and
latent_final are stored unpacked.
Every random draw is kept: the initial noise, and the scheduler's step noise, captured by wrapping
the `randn_tensor` name inside the scheduler's module.

The same loop is then run again with the package's TorchScript files in place of the eager modules
(text encoders combined as the manifest's `text` says, the block graph, vae_decoder.pt), replaying
the recorded draws; the final latents must agree to GoldenOptions.sampling_atol.

Files: golden/sampling_<sampler>_<W>x<H>.npz (float32 init_noise [B,C,h,w], step_noise
[steps,B,C,h,w] when the scheduler draws noise, timesteps [steps], latent_final [B,C,h,w] in the
scaled latent space, pixels [B,3,H,W] raw decoder output; int64 input_ids_<k> and uncond_ids_<k>
[B,L_k] for each text encoder k in manifest order) and a .json sidecar with the settings. An extra
golden (--golden-extra) carries a tag after the size: sampling_<sampler>_<W>x<H>_<tag>.npz, subject
sampling/<sampler>/<W>x<H>/<tag>.
"""
import argparse
import ast
import importlib
import importlib.util
import inspect
import json
import os
import types

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
                 sampling_atol=1e-3, frames=None, dynamic_cfg=()):
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
        self.frames = [int(n) for n in frames] if frames else None  # latent video: frame counts per size
        self.dynamic_cfg = list(dynamic_cfg)  # latent video: samplers whose goldens use use_dynamic_cfg

    @classmethod
    def from_args(cls, a):
        return cls(samplers=a.golden_samplers, sizes=a.golden_sizes, steps=a.golden_steps, guidance=a.golden_guidance,
                   guidance_rescale=a.golden_guidance_rescale, eta=a.golden_eta, extras=a.golden_extra or (),
                   seeds=a.golden_seeds, sampling_atol=a.sampling_atol,
                   frames=getattr(a, "golden_frames", None), dynamic_cfg=getattr(a, "golden_dynamic_cfg", None) or ())

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
        if self.guidance is None:  # the pipelines' defaults (Flux: FLUX.1-dev's documented 3.5, schnell's 0)
            self.guidance = getattr(pipeline, "default_guidance", None)
            if self.guidance is None:
                self.guidance = {"sdxl": 5.0, "sd3": 7.0}.get(pipeline.family, 7.5)
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
    ap.add_argument("--golden-guidance", type=float, help="guidance scale (default: the package's, 7.5, SDXL 5, "
                                                          "SD3 7, Flux 3.5 with guidance_embeds, else 0)")
    ap.add_argument("--golden-guidance-rescale", type=float, default=0.0, help="guidance_rescale (default 0)")
    ap.add_argument("--golden-eta", type=float, default=0.0, help="DDIM eta (default 0)")
    ap.add_argument("--golden-extra", type=parse_extra, action="append",
                    help="one more golden at the first golden size, e.g. ddim:eta=0.3 (keys: "
                         f"{', '.join(EXTRA_KEYS)}); repeatable")
    ap.add_argument("--golden-seeds", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2],
                    help="one seed per golden prompt (default 1,2)")
    ap.add_argument("--golden-frames", type=lambda s: [int(x) for x in s.split(",") if x],
                    help="CogVideoX only: frame counts of the sampling goldens (default: the two smallest served)")
    ap.add_argument("--golden-dynamic-cfg", type=lambda s: [x for x in s.split(",") if x],
                    help="CogVideoX only: samplers whose goldens run with the pipeline's use_dynamic_cfg")
    ap.add_argument("--sampling-atol", type=float, default=1e-3,
                    help="max abs difference of the final latents, exported replay vs eager (default 1e-3)")


# ------------------------------------------------------------------------------------------ diffusers parts


def _unavailable(name, why):
    """A class standing in for a name whose import failed: nothing is an instance of it, and it cannot be
    built (what `isinstance(self, SD3LoraLoaderMixin)` in a pipeline method needs)."""
    def init(self, *args, **kwargs):
        raise ImportError(f"{name} did not import ({why})")
    return type(name, (), {"__init__": init, "__doc__": f"{name} did not import ({why})"})


def _import_namespace(tree, module, path):
    """A namespace with what the module's top-level imports give (each name alone; one that fails becomes
    _unavailable) and its logger."""
    package = module.rsplit(".", 1)[0]
    ns = {"__name__": module}
    for node in tree.body:
        if isinstance(node, ast.Import):
            for a in node.names:
                try:
                    ns[a.asname or a.name.split(".")[0]] = importlib.import_module(
                        a.name if a.asname else a.name.split(".")[0])
                except ImportError:
                    pass
        elif isinstance(node, ast.ImportFrom):
            base = importlib.util.resolve_name("." * node.level + (node.module or ""), package)
            for a in node.names:
                try:
                    src = importlib.import_module(base)
                    ns[a.asname or a.name] = (getattr(src, a.name) if hasattr(src, a.name)
                                              else importlib.import_module(f"{base}.{a.name}"))
                except (ImportError, AttributeError) as e:
                    ns[a.asname or a.name] = _unavailable(a.name, e)
        elif isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["logger"]:
            exec(compile(ast.Module(body=[node], type_ignores=[]), path, "exec"), ns)
    return ns


def diffusers_functions(diffusers, module, names, class_name=None, raw=False):
    """{name: function} of a diffusers pipeline module, or methods of its class `class_name` as plain functions
    (raw: as the class body defines them, static methods as staticmethod objects, for building a class).
    Such a module imports transformers' tokenizer and model classes when it loads; where that import fails, the
    functions are compiled alone from the module's source file, in a namespace of what the module's own imports
    give (_import_namespace); their decorators apply, so a static method is a staticmethod object there."""
    try:
        mod = importlib.import_module(module)
        owner = getattr(mod, class_name) if class_name else mod
        get = inspect.getattr_static if raw and class_name else getattr
        return {n: get(owner, n) for n in names}
    except ImportError:
        pass
    path = os.path.join(os.path.dirname(diffusers.__file__), *module.split(".")[1:]) + ".py"
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    body = tree.body
    if class_name:
        body = next((n.body for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name), [])
    fns = [n for n in body if isinstance(n, ast.FunctionDef) and n.name in names]
    missing = sorted(set(names) - {f.name for f in fns})
    if missing:
        raise Refused(f"diffusers {diffusers.__version__}: no {', '.join(missing)} in {path}")
    ns = _import_namespace(tree, module, path)
    exec(compile(ast.Module(body=fns, type_ignores=[]), path, "exec"), ns)
    return {n: ns[n] for n in names}


def rescale_noise_cfg_of(diffusers):
    """diffusers' rescale_noise_cfg (it needs only torch)."""
    return diffusers_functions(diffusers, "diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion",
                               ["rescale_noise_cfg"])["rescale_noise_cfg"]


SD3_ENCODE = ("encode_prompt", "_get_clip_prompt_embeds", "_get_t5_prompt_embeds")


class TokenizerCall:
    """The calls diffusers' SD3 encode_prompt makes on a transformers tokenizer, served by a Genloom tokenizer
    (text.PromptTokenizer or text.T5PromptTokenizer, with its reference encoder): padding="max_length" at the
    tokenizer's own length (exactly its encode()), padding="longest" without truncation, batch_decode."""

    def __init__(self, tok):
        self.tok = tok
        self.model_max_length = tok.max_length
        if getattr(tok, "bpe", None) is not None:
            self._encode, self.pad = tok.bpe.encode, tok.settings["pad_id"]
            self._tokens = {i: t for t, i in tok.bpe.vocab.items()}
        else:
            self._encode, self.pad = tok.reference.encode, tok.pad_id
            self._tokens = dict(enumerate(p for p, _ in tok.reference.model.pieces))

    def __call__(self, prompts, padding="max_length", max_length=None, truncation=False, add_special_tokens=True,
                 return_tensors=None, return_length=False, return_overflowing_tokens=False):
        prompts = [prompts] if isinstance(prompts, str) else list(prompts)
        if not add_special_tokens:
            raise Refused("the pipeline asked for ids without special tokens")
        if return_length or return_overflowing_tokens:
            raise Refused("the pipeline asked for lengths or overflowing tokens")
        if padding == "max_length":
            if max_length != self.tok.max_length or not truncation:
                raise Refused(f"the pipeline asked for {max_length} ids (truncation {truncation}); the package's "
                              f"tokenizer gives {self.tok.max_length}")
            return types.SimpleNamespace(input_ids=self.tok.encode(prompts)[0])
        if padding != "longest":
            raise Refused(f"the pipeline asked for padding={padding!r}")
        rows = []
        for p in prompts:
            ids, n = self._encode(p, self.tok.max_length, self.pad)
            rows.append(self._encode(p, n, self.pad)[0] if n > self.tok.max_length else ids[:n])
        n = max(len(r) for r in rows)
        return types.SimpleNamespace(input_ids=torch.tensor([r + [self.pad] * (n - len(r)) for r in rows]))

    def batch_decode(self, rows):
        return [" ".join(self._tokens.get(int(i), "?") for i in row) for row in rows]


class Sd3Encoding:
    """`self` for diffusers' SD3 encode_prompt and the two methods it calls: the eager text encoders, the
    tokenizers (transformers' own when installed, else TokenizerCall), the CLIP length, the transformer."""

    def __init__(self, methods, encoders, tokenizers, transformer):
        def call(tok):
            return tok.hf if tok.hf is not None else TokenizerCall(tok)

        self._execution_device = torch.device("cpu")
        self.text_encoder, self.text_encoder_2 = encoders[0], encoders[1]
        self.tokenizer, self.tokenizer_2 = call(tokenizers[0]), call(tokenizers[1])
        self.text_encoder_3 = encoders[2] if len(encoders) > 2 else None
        self.tokenizer_3 = call(tokenizers[2]) if len(tokenizers) > 2 else None
        self.tokenizer_max_length = self.tokenizer.model_max_length
        self.transformer = transformer
        for name, fn in methods.items():
            setattr(self, name, types.MethodType(fn, self))


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
def sd3_reference_text(diffusers, encoders, tokenizers, transformer, prompts, negatives, guided, max_sequence_length):
    """SD3 text conditioning by diffusers' StableDiffusion3Pipeline.encode_prompt, item by item. Returns
    (cond, uncond, pooled_cond, pooled_uncond); the unconditional ones are None unless guided."""
    methods = diffusers_functions(diffusers, "diffusers.pipelines.stable_diffusion_3.pipeline_stable_diffusion_3",
                                  SD3_ENCODE, "StableDiffusion3Pipeline")
    enc = Sd3Encoding(methods, encoders, tokenizers, transformer)
    out = []
    for p, n in zip(prompts, negatives):
        out.append(enc.encode_prompt(prompt=[p], prompt_2=None, prompt_3=None, device=torch.device("cpu"),
                                     num_images_per_prompt=1, do_classifier_free_guidance=guided,
                                     negative_prompt=[n], clip_skip=None, max_sequence_length=max_sequence_length))
    cond, uncond, pc, pu = (torch.cat(x) if x[0] is not None else None for x in zip(*out))
    return cond, uncond, pc, pu


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
def package_text(pkg, manifest, ids, uncond_ids, negatives, loaded=None):
    """Text conditioning from the package's text encoder components, combined as manifest["text"] says (as the
    Java runtime's TextConditioner combines them): feature-joined encoders concatenated along the features,
    zero-padded to contextDim with the JOIN_SEQUENCE encoder's states (or zeroContextLength zero rows)
    appended along the sequence when contextDim is set, JOIN_NONE encoders left out of them; the pooled
    embedding from pooledFrom, or the pooledComponents' pooled outputs concatenated; empty negatives zeroed
    under zeroEmptyNegative.
    Returns (cond, uncond, pooled_cond, pooled_uncond)."""
    text = manifest["text"]
    comps = {c["name"]: c for c in manifest["components"]}
    pooled_names = [text["pooledFrom"]] if text.get("pooledFrom") else list(text.get("pooledComponents", []))
    context_dim = int(text.get("contextDim", 0))

    def encode(rows):
        hidden, appended, pooled = [], None, {}
        for enc, x in zip(text["encoders"], rows):
            c = comps[enc["component"]]
            m = package_module(pkg, manifest, enc["component"], loaded)
            args = (x,)
            if [s["name"] for s in c["inputs"]] == ["input_ids", "hidden_layer"]:
                args += (torch.tensor([enc["hiddenLayer"] + text["defaultClipSkip"]], dtype=torch.int64),)
            outs = as_tuple(m(*args))
            if enc.get("join") == "JOIN_SEQUENCE":
                appended = outs[0]
            elif enc.get("join") != "JOIN_NONE":  # JOIN_NONE: only the pooled output is used (Flux's CLIP)
                hidden.append(outs[0])
            if enc["component"] in pooled_names:
                pooled[enc["component"]] = outs[[s["name"] for s in c["outputs"]].index("pooled")]
        states = torch.cat(hidden, dim=-1)
        if context_dim:
            if states.shape[-1] > context_dim:
                raise Refused(f"the feature-joined text encoders give {states.shape[-1]} features, more than "
                              f"text.contextDim {context_dim}")
            states = torch.nn.functional.pad(states, (0, context_dim - states.shape[-1]))
            if appended is None:
                appended = torch.zeros(states.shape[0], int(text.get("zeroContextLength", 0)), context_dim)
            states = torch.cat([states, appended], dim=1)
        return states, (torch.cat([pooled[n] for n in pooled_names], dim=-1) if pooled_names else None)

    c, pc = encode(ids)
    u, pu = encode(uncond_ids)
    if text["zeroEmptyNegative"]:
        for i, n in enumerate(negatives):
            if not n:
                u[i] = 0.0
                if pu is not None:
                    pu[i] = 0.0
    return c, u, pc, pu


def package_module(pkg, manifest, name, loaded=None):
    """Component `name` of the package: from `loaded` where it is there, else loaded from its file."""
    if loaded and name in loaded:
        return loaded[name]
    files = {c["name"]: c["file"] for c in manifest["components"]}
    return torch.jit.load(os.path.join(pkg, files[name]))


def checked_replay(sampler, size, tag, golden, lat, lat_x, pixels, pixels_x, loop):
    """The exported package's replay of one golden against the eager run, reported and refused past
    --sampling-atol; returns (the golden's file base, its subject, the report line)."""
    d_lat, d_pix = max_abs(lat, lat_x), max_abs(pixels, pixels_x)
    base, subject = golden_names(sampler, size, tag)
    line = f"{subject}: latents {d_lat:.2e}, pixels {d_pix:.2e}"
    print(f"sampling golden {line} (exported replay vs eager; latent max abs {lat.abs().max().item():.3g})",
          flush=True)
    if not d_lat <= golden.sampling_atol:
        raise Refused(f"{subject}: the exported package in {loop} ends {d_lat:.3e} from the eager run "
                      f"(> --sampling-atol {golden.sampling_atol})")
    return base, subject, line


def golden_names(sampler, size, tag):
    base = f"sampling_{sampler}_{size[0]}x{size[1]}" + (f"_{tag}" if tag else "")
    subject = f"sampling/{sampler}/{size[0]}x{size[1]}" + (f"/{tag}" if tag else "")
    return base, subject


@torch.no_grad()
def record_goldens(diffusers, pkg, manifest, golden, pipeline, denoiser, vae, encoders, tokenizers, loaded=None):
    """Record every golden of `golden.runs()` into pkg/golden and replay it with the package's TorchScript.
    `denoiser`: the eager UNet, or (family "sd3") transformer; `loaded`: the package's components already
    loaded, by name (see GraphRunner). Returns (manifest golden entries, report lines)."""
    from diffusers.utils.torch_utils import randn_tensor
    rescale_fn = rescale_noise_cfg_of(diffusers)
    prompts, negatives = golden.prompts, golden.negatives
    encoded = [t.encode(prompts) for t in tokenizers]
    ids = [e[0] for e in encoded]
    uncond = [t.encode(negatives) for t in tokenizers]
    uncond_ids = [e[0] for e in uncond]
    # per item, the tokens dropped from its prompt and negative prompt, the largest count over the tokenizers
    truncated = [max(p[i] + n[i] for (_, p), (_, n) in zip(encoded, uncond)) for i in range(len(prompts))]
    sdxl, sd3 = pipeline.family == "sdxl", pipeline.family == "sd3"
    if sd3:
        guided = any(float(over.get("guidance_scale", golden.guidance)) > 1.0 for _, _, over, _ in golden.runs())
        ref = sd3_reference_text(diffusers, encoders, tokenizers, denoiser, prompts, negatives, guided,
                                 pipeline.max_sequence_length)
    else:
        ref = reference_text(pipeline.family, encoders, ids, uncond_ids, negatives, pipeline.zero_empty_negative)
    exp = package_text(pkg, manifest, ids, uncond_ids, negatives, loaded)
    text_err = max(max_abs(a, b) for a, b in zip(ref, exp) if a is not None)
    if sdxl:
        proj = int(cfg(encoders[-1], "projection_dim"))
        want = int(cfg(denoiser, "addition_time_embed_dim")) * 6 + proj
        have = int(denoiser.add_embedding.linear_1.in_features)
        if want != have:
            raise Refused(f"unet add_embedding takes {have} features; addition_time_embed_dim x 6 + the pooled "
                          f"projection_dim gives {want}")
    runner = GraphRunner(pkg, manifest["components"], manifest["denoiser"], loaded)
    decoder = package_module(pkg, manifest, "vae_decoder", loaded)
    scale = float(manifest["latent"]["scaleFactor"])
    # SD3's pipeline decodes latents / scaling_factor + shift_factor (the package's decoder adds the shift)
    shift = float(cfg(vae, "shift_factor", None) or 0.0) if sd3 else 0.0
    f = int(manifest["latent"]["downsample"])
    C = int(manifest["latent"]["channels"])
    B = len(prompts)

    def eager_unet(x, t, ehs, added):
        if sd3:
            return denoiser(hidden_states=x, timestep=t.expand(x.shape[0]), encoder_hidden_states=ehs,
                            pooled_projections=added["text_embeds"], return_dict=False)[0]
        return denoiser(x, t, encoder_hidden_states=ehs, added_cond_kwargs=added, return_dict=False)[0]

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
        if sd3:
            added_ref = {"text_embeds": (ref[3], ref[2])}
            added_exp = {"text_embeds": (exp[3], exp[2])}
        if sdxl:
            tid = torch.tensor([[H, W, 0, 0, H, W]] * B, dtype=torch.float32)
            added_ref = {"text_embeds": (ref[3], ref[2]), "time_ids": (tid, tid)}
            added_exp = {"text_embeds": (exp[3], exp[2]), "time_ids": (tid, tid)}
        gens = [torch.Generator().manual_seed(s) for s in golden.seeds]
        init = randn_tensor((B, C, H // f, W // f), generator=gens, dtype=torch.float32)
        lat, timesteps, draws, sched_name, eta_used = denoise(
            diffusers, pipeline.scheduler_config, sampler, steps, init, gens, ref[0], ref[1], added_ref, eager_unet,
            guidance, rescale, eta, rescale_fn)
        pixels = vae.decode(lat / scale + shift, return_dict=False)[0]
        lat_x, _, _, _, _ = denoise(
            diffusers, pipeline.scheduler_config, sampler, steps, init, None, exp[0], exp[1], added_exp,
            exported_unet, guidance, rescale, eta, rescale_fn, replay=draws)
        pixels_x = decoder(lat_x / scale)
        base, subject, line = checked_replay(sampler, (W, H), tag, golden, lat, lat_x, pixels, pixels_x,
                                             "diffusers' loop")
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


# ------------------------------------------------------------------------------------------ FluxPipeline


FLUX_MODULE = "diffusers.pipelines.flux.pipeline_flux"
FLUX_METHODS = ("encode_prompt", "_get_clip_prompt_embeds", "_get_t5_prompt_embeds", "prepare_latents",
                "_pack_latents", "_unpack_latents", "_prepare_latent_image_ids")


def flux_pipeline_parts(diffusers, **attributes):
    """An object standing for FluxPipeline's `self`: the FLUX_METHODS of diffusers' own FluxPipeline (static
    methods stay static) over the given attributes (text encoders, tokenizers, vae_scale_factor, ...)."""
    methods = diffusers_functions(diffusers, FLUX_MODULE, FLUX_METHODS, "FluxPipeline", raw=True)
    parts = type("FluxPipelineParts", (), dict(methods))()
    parts.__dict__.update(attributes)
    return parts


def flux_functions(diffusers):
    """FluxPipeline's module functions calculate_shift and retrieve_timesteps."""
    return diffusers_functions(diffusers, FLUX_MODULE, ["calculate_shift", "retrieve_timesteps"])


@torch.no_grad()
def record_flux_goldens(diffusers, pkg, manifest, golden, pipeline, transformer, vae, encoders, tokenizers,
                        loaded=None):
    """The goldens of a Flux package, recorded in FluxPipeline's denoising loop (diffusers 0.30.3's __call__):
    encode_prompt (the CLIP pooled output and T5's states, the prompts as one batch, max_sequence_length the
    package's T5 length); prepare_latents (randn [B, in_channels/4, H/8, W/8] with one generator per item, then
    packed) with _prepare_latent_image_ids; sigmas linspace(1, 1/N, N) and calculate_shift's mu of the packed
    sequence length from the scheduler config through retrieve_timesteps; per step the transformer on (packed
    latents, timestep / 1000, guidance = the scale expanded to the batch when it has guidance_embeds, pooled
    and T5 embeddings, txt_ids, img_ids) and scheduler.step; finally _unpack_latents and
    vae.decode(latents / scaling_factor + shift_factor). There is no negative prompt and no classifier-free
    guidance pass. init_noise and latent_final are stored unpacked, [B, C, h, w], the runtime's latent layout.

    The replay runs the same scheduler on those 4-D latents with the package's files: the text encoders as the
    manifest's `text` combines them, the block graph (sample, timestep = t, ..., guidance), vae_decoder.pt.
    `loaded`: the package's components already loaded, by name (see GraphRunner).
    Returns (manifest golden entries, report lines)."""
    fns = flux_functions(diffusers)

    def call(tok):
        return tok.hf if tok.hf is not None else TokenizerCall(tok)

    vae_scale_factor = 2 ** len(cfg(vae, "block_out_channels"))  # FluxPipeline's (twice the VAE's factor)
    parts = flux_pipeline_parts(
        diffusers, text_encoder=encoders[0], text_encoder_2=encoders[1], tokenizer=call(tokenizers[0]),
        tokenizer_2=call(tokenizers[1]), tokenizer_max_length=tokenizers[0].max_length, transformer=transformer,
        vae=vae, vae_scale_factor=vae_scale_factor, _execution_device=torch.device("cpu"))
    prompts, negatives = golden.prompts, golden.negatives
    encoded = [t.encode(prompts) for t in tokenizers]
    ids = [e[0] for e in encoded]
    uncond = [t.encode(negatives) for t in tokenizers]
    uncond_ids = [e[0] for e in uncond]
    truncated = [max(p[i] + n[i] for (_, p), (_, n) in zip(encoded, uncond)) for i in range(len(prompts))]
    prompt_embeds, pooled, text_ids = parts.encode_prompt(prompt=list(prompts), prompt_2=None,
                                                          device=torch.device("cpu"), num_images_per_prompt=1,
                                                          max_sequence_length=pipeline.max_sequence_length)
    exp = package_text(pkg, manifest, ids, uncond_ids, negatives, loaded)
    text_err = max(max_abs(prompt_embeds, exp[0]), max_abs(pooled, exp[2]))
    runner = GraphRunner(pkg, manifest["components"], manifest["denoiser"], loaded)
    decoder = package_module(pkg, manifest, "vae_decoder", loaded)
    scale = float(manifest["latent"]["scaleFactor"])
    shift = float(cfg(vae, "shift_factor", None) or 0.0)
    in_channels = int(cfg(transformer, "in_channels"))
    distilled = bool(cfg(transformer, "guidance_embeds", False))
    B = len(prompts)

    def schedule(steps, seq_len):
        sched = getattr(diffusers, FLOW_MATCH).from_config(pipeline.scheduler_config)
        sigmas = np.linspace(1.0, 1 / steps, steps)
        c = sched.config
        mu = fns["calculate_shift"](seq_len, c.base_image_seq_len, c.max_image_seq_len, c.base_shift, c.max_shift)
        timesteps, _ = fns["retrieve_timesteps"](sched, steps, torch.device("cpu"), None, sigmas, mu=mu)
        return sched, timesteps

    entries, lines = [], []
    for sampler, (W, H), over, tag in golden.runs():
        steps = int(over.get("steps", golden.steps))
        guidance_scale = float(over.get("guidance_scale", golden.guidance))
        gens = [torch.Generator().manual_seed(s) for s in golden.seeds]
        latents, image_ids = parts.prepare_latents(B, in_channels // 4, H, W, prompt_embeds.dtype,
                                                   torch.device("cpu"), gens)
        init = parts._unpack_latents(latents, H, W, vae_scale_factor)
        sched, timesteps = schedule(steps, latents.shape[1])
        for t in timesteps:
            timestep = t.expand(latents.shape[0]).to(latents.dtype)
            guidance = torch.tensor([guidance_scale]).expand(latents.shape[0]) if distilled else None
            noise_pred = transformer(hidden_states=latents, timestep=timestep / 1000, guidance=guidance,
                                     pooled_projections=pooled, encoder_hidden_states=prompt_embeds, txt_ids=text_ids,
                                     img_ids=image_ids, return_dict=False)[0]
            latents = sched.step(noise_pred, t, latents, return_dict=False)[0]
        lat = parts._unpack_latents(latents, H, W, vae_scale_factor)
        pixels = vae.decode(lat / scale + shift, return_dict=False)[0]

        sched_x, timesteps_x = schedule(steps, (H // vae_scale_factor) * (W // vae_scale_factor))
        x = init.clone()
        for t in timesteps_x:
            inputs = {"sample": x, "timestep": torch.full((B,), float(t), dtype=torch.float32),
                      "encoder_hidden_states": exp[0], "text_embeds": exp[2]}
            if "guidance" in manifest["denoiser"]["inputs"]:
                inputs["guidance"] = torch.full((B,), guidance_scale, dtype=torch.float32)
            x = sched_x.step(runner(**inputs), t, x, return_dict=False)[0]
        pixels_x = decoder(x / scale)
        base, subject, line = checked_replay(sampler, (W, H), tag, golden, lat, x, pixels, pixels_x,
                                             "FluxPipeline's loop")
        arrays = {"init_noise": init, "timesteps": timesteps.to(torch.float32), "latent_final": lat, "pixels": pixels}
        for k in range(len(ids)):
            arrays[f"input_ids_{k}"] = ids[k]
            arrays[f"uncond_ids_{k}"] = uncond_ids[k]
        np.savez(os.path.join(pkg, "golden", base + ".npz"),
                 **{k: v.detach().numpy().astype(np.int64 if v.dtype == torch.int64 else np.float32)
                    for k, v in arrays.items()})
        # guidance_scale is the transformer's guidance input (FLUX.1-dev) or unused (schnell); FluxPipeline
        # runs no classifier-free guidance pass, and its negative prompts are empty
        sidecar = {"sampler": sampler, "scheduler": type(sched).__name__, "steps": steps,
                   "guidance_scale": guidance_scale, "guidance_rescale": 0.0, "eta": 0.0,
                   "clip_skip": golden.clip_skip, "width": W, "height": H, "prompts": prompts,
                   "negative_prompts": negatives, "truncated_tokens": truncated,
                   "classifier_free_guidance": False, "diffusers_version": diffusers.__version__}
        with open(os.path.join(pkg, "golden", base + ".json"), "w", encoding="utf-8") as fh:
            json.dump(sidecar, fh, indent=2)
            fh.write("\n")
        entries.append({"subject": subject, "file": f"golden/{base}.npz"})
        lines.append(line)
    lines.insert(0, f"text conditioning {text_err:.2e}")
    return entries, lines
