"""Records scheduler conformance goldens with diffusers itself.

For every case below a diffusers scheduler is built with `<Scheduler>.from_config(config)` and
`set_timesteps(steps)`, then a teacher-forced trajectory is run on seeded random model outputs the
way diffusers' pipelines run it (sample_0 = randn * init_noise_sigma; scale_model_input, then step).
Each noise tensor the scheduler draws is recorded by wrapping the `randn_tensor` its module
imported. Genloom's SchedulerConformanceTest builds the same samplers from the same configs
and compares.

  PYTHONPATH=<folder holding the diffusers 0.30.3 package> python3 \
      models/export/conformance/record_scheduler_goldens.py

writes generators/src/test/resources/sampling/<case>.npz, cases.json and guidance.npz. Needs torch,
numpy and diffusers (transformers is not needed: the guidance rescale function is taken from the
installed pipeline module's source without importing the pipeline).
"""
import argparse
import ast
import inspect
import json
import os
import sys

import numpy as np
import torch

import diffusers

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
OUT = os.path.join(REPO, "generators", "src", "test", "resources", "sampling")
SHAPE = (2, 4, 4, 4)

CLASSES = {
    "ddim": "DDIMScheduler",
    "dpmpp2m": "DPMSolverMultistepScheduler",
    "euler": "EulerDiscreteScheduler",
    "euler_a": "EulerAncestralDiscreteScheduler",
}

# Stable Diffusion 1.5's scheduler_config.json (PNDM).
SD15 = {"_class_name": "PNDMScheduler", "_diffusers_version": "0.6.0", "beta_end": 0.012,
        "beta_schedule": "scaled_linear", "beta_start": 0.00085, "num_train_timesteps": 1000,
        "set_alpha_to_one": False, "skip_prk_steps": True, "steps_offset": 1, "trained_betas": None,
        "clip_sample": False}
# Stable Diffusion 2's 768-v config (v-prediction).
SD2V = {"_class_name": "DDIMScheduler", "_diffusers_version": "0.8.0", "beta_end": 0.012,
        "beta_schedule": "scaled_linear", "beta_start": 0.00085, "clip_sample": False,
        "num_train_timesteps": 1000, "prediction_type": "v_prediction", "set_alpha_to_one": False,
        "skip_prk_steps": True, "steps_offset": 1, "trained_betas": None}
# Zero terminal SNR (Lin et al.), trailing spacing, v-prediction.
ZSNR = {"_class_name": "DDIMScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear",
        "beta_start": 0.00085, "clip_sample": False, "num_train_timesteps": 1000,
        "prediction_type": "v_prediction", "rescale_betas_zero_snr": True, "set_alpha_to_one": False,
        "steps_offset": 1, "timestep_spacing": "trailing"}
# Cosine betas with x0 ("sample") prediction; clip_sample left at DDIM's default (true).
COSINE = {"beta_schedule": "squaredcos_cap_v2", "num_train_timesteps": 1000, "prediction_type": "sample"}
# Stable Diffusion XL base's scheduler_config.json (Euler, leading spacing).
SDXL = {"_class_name": "EulerDiscreteScheduler", "_diffusers_version": "0.19.0.dev0", "beta_end": 0.012,
        "beta_schedule": "scaled_linear", "beta_start": 0.00085, "clip_sample": False,
        "interpolation_type": "linear", "num_train_timesteps": 1000, "prediction_type": "epsilon",
        "sample_max_value": 1.0, "set_alpha_to_one": False, "skip_prk_steps": True, "steps_offset": 1,
        "timestep_spacing": "leading", "trained_betas": None, "use_karras_sigmas": False}
# Stable Diffusion 3's scheduler_config.json.
SD3 = {"_class_name": "FlowMatchEulerDiscreteScheduler", "_diffusers_version": "0.29.0.dev0",
       "num_train_timesteps": 1000, "shift": 3.0}
# A Flux-style config with dynamic shifting (mu given at set_timesteps).
FLUX = {"_class_name": "FlowMatchEulerDiscreteScheduler", "base_image_seq_len": 256, "base_shift": 0.5,
        "max_image_seq_len": 4096, "max_shift": 1.15, "num_train_timesteps": 1000, "shift": 3.0,
        "use_dynamic_shifting": True}


# FLUX.1-schnell's scheduler_config.json: no shift, no dynamic shifting.
FLUX_SCHNELL = {"_class_name": "FlowMatchEulerDiscreteScheduler", "base_image_seq_len": 256,
                "base_shift": 0.5, "max_image_seq_len": 4096, "max_shift": 1.15,
                "num_train_timesteps": 1000, "shift": 1.0, "use_dynamic_shifting": False}


# CogVideoX-2b's scheduler_config.json (the text-to-video pipeline's DDIM).
COG_2B = {"_class_name": "CogVideoXDDIMScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear",
          "beta_start": 0.00085, "clip_sample": False, "clip_sample_range": 1.0, "num_train_timesteps": 1000,
          "prediction_type": "v_prediction", "rescale_betas_zero_snr": True, "sample_max_value": 1.0,
          "set_alpha_to_one": True, "snr_shift_scale": 3.0, "steps_offset": 0, "timestep_spacing": "trailing",
          "trained_betas": None}


def case(cid, base, sampler, steps, eta=0.0, mu=None, image_seq_len=None, **overrides):
    config = dict(base)
    config.update(overrides)
    named = str(config.get("_class_name", ""))
    if named.startswith("CogVideoX"):
        scheduler = named
    else:
        scheduler = "FlowMatchEulerDiscreteScheduler" if base in (SD3, FLUX, FLUX_SCHNELL) else CLASSES[sampler]
    c = {"id": cid, "scheduler": scheduler, "config": config, "sampler": sampler, "steps": steps,
         "eta": eta}
    if mu is not None:
        c["mu"] = mu
    if image_seq_len is not None:
        # FluxPipeline's schedule: its own sigmas and, with dynamic shifting, calculate_shift's mu
        c["image_seq_len"] = image_seq_len
    return c


def all_cases():
    cs = [
        case("sd15-ddim-eta0-s25", SD15, "ddim", 25),
        case("sd15-ddim-eta05-s10", SD15, "ddim", 10, eta=0.5),
        case("sd15-dpmpp2m-s25", SD15, "dpmpp2m", 25),
        case("sd15-dpmpp2m-s10", SD15, "dpmpp2m", 10),
        case("sd15-euler-s25", SD15, "euler", 25),
        case("sd15-euler_a-s25", SD15, "euler_a", 25),
        case("sd15-dpmpp2m-karras-s25", SD15, "dpmpp2m", 25, use_karras_sigmas=True),
        case("sd15-dpmpp2m-karras-s7", SD15, "dpmpp2m", 7, use_karras_sigmas=True),
        case("sd15-dpmpp2m-sigmamin-s10", SD15, "dpmpp2m", 10, final_sigmas_type="sigma_min"),
        case("sd15-dpmpp2m-sigmamin-nolof-s20", SD15, "dpmpp2m", 20, final_sigmas_type="sigma_min",
             lower_order_final=False),
        case("sd15-dpmpp2m-heun-s10", SD15, "dpmpp2m", 10, solver_type="heun"),
        case("sd15-dpmpp2m-order1-s10", SD15, "dpmpp2m", 10, solver_order=1),
        case("sd15-dpmpp2m-euleratfinal-s20", SD15, "dpmpp2m", 20, euler_at_final=True,
             final_sigmas_type="sigma_min"),
        case("sd15-euler-karras-s10", SD15, "euler", 10, use_karras_sigmas=True),
        case("sd15-euler-karras-sigmas-s10", SD15, "euler", 10, use_karras_sigmas=True,
             sigma_min=0.1, sigma_max=10.0),
        case("sd15-euler-sigmamin-s10", SD15, "euler", 10, final_sigmas_type="sigma_min"),
        case("sd15-ddim-s1", SD15, "ddim", 1),
        case("sd15-ddim-s2", SD15, "ddim", 2),
        case("sd15-dpmpp2m-s1", SD15, "dpmpp2m", 1),
        case("sd15-dpmpp2m-s2", SD15, "dpmpp2m", 2),
        case("sd15-euler-s1", SD15, "euler", 1),
        case("sd15-euler-s2", SD15, "euler", 2),
        case("sd15-euler_a-s1", SD15, "euler_a", 1),
        case("sd15-euler_a-s2", SD15, "euler_a", 2),
        case("sdxl-euler-s25", SDXL, "euler", 25),
        case("sdxl-euler_a-s25", SDXL, "euler_a", 25),
        case("sdxl-dpmpp2m-s25", SDXL, "dpmpp2m", 25),
        case("sdxl-ddim-s25", SDXL, "ddim", 25),
        case("cosine-sample-ddim-s10", COSINE, "ddim", 10),
        case("cosine-sample-dpmpp2m-s10", COSINE, "dpmpp2m", 10),
        case("cosine-lambdaclip-dpmpp2m-s10", COSINE, "dpmpp2m", 10, prediction_type="epsilon",
             lambda_min_clipped=-5.1),
        case("sd3-flow-s28", SD3, "euler", 28),
        case("sd3-flow-s10", SD3, "euler", 10),
        case("sd3-flow-s1", SD3, "euler", 1),
        case("flux-flow-mu-s10", FLUX, "euler", 10, mu=0.8),
        case("sd15-euler-continuous-v-s10", SD15, "euler", 10, prediction_type="v_prediction",
             timestep_type="continuous"),
        # an Euler config's sigma_min / sigma_max reach DPM-Solver's Karras sigmas: diffusers
        # registers the keys DPM-Solver does not take into its config, where hasattr finds them
        case("sdxl-sigmas-dpmpp2m-karras-s10", SDXL, "dpmpp2m", 10, use_karras_sigmas=True,
             sigma_min=0.05, sigma_max=12.0),
        case("trained-betas-ddim-s10", {"trained_betas": [0.0001 + 0.0199 * i / 999 for i in range(1000)],
                                        "clip_sample": False, "set_alpha_to_one": False}, "ddim", 10),
    ]
    for sampler in ("ddim", "dpmpp2m", "euler", "euler_a"):
        cs.append(case(f"sd2v-{sampler}-s10", SD2V, sampler, 10, eta=0.3 if sampler == "ddim" else 0.0))
        cs.append(case(f"zsnr-{sampler}-s10", ZSNR, sampler, 10))
        cs.append(case(f"zsnr-{sampler}-s25", ZSNR, sampler, 25))
        for spacing in ("leading", "trailing", "linspace"):
            cs.append(case(f"sd15-{sampler}-{spacing}-s7", SD15, sampler, 7, timestep_spacing=spacing))
    # appended last: each case's seed is its index
    cs += [
        case("fluxpipe-dev-s28-seq4096", FLUX, "euler", 28, image_seq_len=4096),
        case("fluxpipe-dev-s6-seq16", FLUX, "euler", 6, image_seq_len=16),
        case("fluxpipe-dev-s10-seq1024", FLUX, "euler", 10, image_seq_len=1024),
        case("fluxpipe-schnell-s4-seq1024", FLUX_SCHNELL, "euler", 4, image_seq_len=1024),
        case("cogvideox-ddim-s6", COG_2B, "ddim", 6),
        case("cogvideox-ddim-s7", COG_2B, "ddim", 7),
        case("cogvideox-ddim-s50", COG_2B, "ddim", 50),
        case("cogvideox-ddim-snr1-s10", COG_2B, "ddim", 10, snr_shift_scale=1.0),
        case("cogvideox-ddim-eps-leading-s10", COG_2B, "ddim", 10, prediction_type="epsilon",
             rescale_betas_zero_snr=False, set_alpha_to_one=False, timestep_spacing="leading", steps_offset=1),
        case("cogvideox-dpm-s6", COG_2B, "dpmpp2m", 6, _class_name="CogVideoXDPMScheduler"),
        case("cogvideox-dpm-snr1-s10", COG_2B, "dpmpp2m", 10, _class_name="CogVideoXDPMScheduler",
             snr_shift_scale=1.0),
        case("cogvideox-dpm-linspace-s7", COG_2B, "dpmpp2m", 7, _class_name="CogVideoXDPMScheduler",
             timestep_spacing="linspace"),
    ]
    return cs


def calculate_shift_from_diffusers():
    """FluxPipeline's calculate_shift, compiled from the installed pipeline module's source."""
    path = os.path.join(os.path.dirname(diffusers.__file__), "pipelines", "flux", "pipeline_flux.py")
    tree = ast.parse(open(path).read())
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "calculate_shift")
    ns = {}
    exec(compile(ast.Module(body=[fn], type_ignores=[]), path, "exec"), ns)
    return ns["calculate_shift"]


class NoiseRecorder:
    """Wraps the randn_tensor a scheduler module imported and keeps what it returned."""

    def __init__(self, module):
        self.module = module
        self.original = getattr(module, "randn_tensor", None)
        self.draws = []

    def __enter__(self):
        if self.original is None:  # a scheduler that never draws noise
            return self

        def recording(*args, **kwargs):
            out = self.original(*args, **kwargs)
            self.draws.append(out.clone())
            return out
        self.module.randn_tensor = recording
        return self

    def __exit__(self, *exc):
        if self.original is not None:
            self.module.randn_tensor = self.original


def build(c, steps=None):
    cls = getattr(diffusers, c["scheduler"])
    sched = cls.from_config(c["config"])
    n = steps or c["steps"]
    if "image_seq_len" in c:
        # as FluxPipeline.__call__ sets the schedule (diffusers 0.30.3)
        cfg = sched.config
        mu = calculate_shift_from_diffusers()(c["image_seq_len"], cfg.base_image_seq_len,
                                              cfg.max_image_seq_len, cfg.base_shift, cfg.max_shift)
        sched.set_timesteps(sigmas=np.linspace(1.0, 1 / n, n), mu=mu)
        return sched
    kwargs = {"mu": c["mu"]} if "mu" in c else {}
    sched.set_timesteps(n, **kwargs)
    return sched


def noise_is_used(c):
    """Whether the scheduler's draws reach the sample (diffusers' Euler draws and discards them)."""
    return (c["sampler"] == "ddim" and c["eta"] > 0) or c["sampler"] == "euler_a"


def record(c, seed):
    sched = build(c)
    module = sys.modules[type(sched).__module__]
    timesteps = sched.timesteps
    steps = len(timesteps)
    init_sigma = float(getattr(sched, "init_noise_sigma", 1.0))
    g = torch.Generator().manual_seed(seed)
    sample = torch.randn(SHAPE, generator=g) * getattr(sched, "init_noise_sigma", 1.0)
    model_outputs = torch.randn((steps,) + SHAPE, generator=g)
    step_gen = torch.Generator().manual_seed(seed + 1)
    samples, scaled, noise = [sample], [], []
    accepts = set(inspect.signature(sched.step).parameters)
    extra = {}
    if "eta" in accepts:
        extra["eta"] = c["eta"]
    if "generator" in accepts:
        extra["generator"] = step_gen
    cog_dpm = c["scheduler"] == "CogVideoXDPMScheduler"
    draws_per_step = []
    old_x0 = None
    with NoiseRecorder(module) as rec:
        for i, t in enumerate(timesteps):
            x = samples[-1]
            scaled.append(sched.scale_model_input(x, t) if hasattr(sched, "scale_model_input") else x)
            before = len(rec.draws)
            if cog_dpm:
                # as the CogVideoX pipelines call it: the previous prediction and timestep go back in
                out, old_x0 = sched.step(model_outputs[i], old_x0, t, timesteps[i - 1] if i > 0 else None, x,
                                         generator=step_gen, return_dict=False)
                samples.append(out)
            else:
                samples.append(sched.step(model_outputs[i], t, x, **extra, return_dict=False)[0])
            drawn = rec.draws[before:]
            draws_per_step.append(len(drawn))
            if cog_dpm:
                noise.extend(drawn)
                continue
            assert len(drawn) <= 1, "one draw per step at most"
            noise.append(drawn[0] if drawn else None)
    arrays = {
        "timesteps": timesteps.to(torch.float32),
        "init_noise_sigma": torch.tensor([init_sigma], dtype=torch.float32),
        "samples": torch.stack(samples),
        "model_outputs": model_outputs,
        "scaled_inputs": torch.stack(scaled),
    }
    if cog_dpm:
        arrays["step_noise"] = torch.stack(noise)
        arrays["draws_per_step"] = torch.tensor(draws_per_step, dtype=torch.int64)
    elif noise_is_used(c):
        assert all(n is not None for n in noise), "a draw at every step"
        arrays["step_noise"] = torch.stack(noise)
    if hasattr(sched, "betas"):
        arrays["betas"] = sched.betas.to(torch.float32)
        arrays["alphas_cumprod"] = sched.alphas_cumprod.to(torch.float32)
    if c["scheduler"].startswith("CogVideoX"):
        arrays["alphas_cumprod_f64"] = sched.alphas_cumprod.to(torch.float64)
    if hasattr(sched, "sigmas"):
        arrays["sigmas"] = torch.as_tensor(sched.sigmas).to(torch.float32)
    # add_noise at a few step indices, as img2img pipelines call it (begin index set first)
    clean = torch.randn(SHAPE, generator=g)
    fresh = torch.randn(SHAPE, generator=g)
    indices = sorted({0, steps // 2, steps - 1})
    noised = []
    for i in indices:
        s = build(c)
        if hasattr(s, "set_begin_index"):
            s.set_begin_index(i)
        t = s.timesteps[i:i + 1].repeat(SHAPE[0])
        if hasattr(s, "add_noise"):
            noised.append(s.add_noise(clean, fresh, t))
        else:
            noised.append(s.scale_noise(clean, t, fresh))
    arrays["add_noise_index"] = torch.tensor(indices, dtype=torch.int64)
    arrays["add_noise_clean"] = clean
    arrays["add_noise_noise"] = fresh
    arrays["add_noise"] = torch.stack(noised)
    return arrays


def rescale_noise_cfg_from_diffusers():
    """diffusers' rescale_noise_cfg, compiled from the installed pipeline module's source."""
    path = os.path.join(os.path.dirname(diffusers.__file__), "pipelines", "stable_diffusion",
                        "pipeline_stable_diffusion.py")
    tree = ast.parse(open(path).read())
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "rescale_noise_cfg")
    ns = {"torch": torch}
    exec(compile(ast.Module(body=[fn], type_ignores=[]), path, "exec"), ns)
    return ns["rescale_noise_cfg"]


def guidance_golden():
    rescale_noise_cfg = rescale_noise_cfg_from_diffusers()
    g = torch.Generator().manual_seed(99)
    uncond = torch.randn((2, 4, 8, 8), generator=g)
    cond = torch.randn((2, 4, 8, 8), generator=g) * 1.5 + 0.2
    scale, rescale = 7.5, 0.7
    # the pipelines' guidance, then rescale_noise_cfg
    cfg = uncond + scale * (cond - uncond)
    out = rescale_noise_cfg(cfg, cond, guidance_rescale=rescale)
    return {"uncond": uncond, "cond": cond, "guidance_scale": torch.tensor([scale], dtype=torch.float64),
            "guidance_rescale": torch.tensor([rescale], dtype=torch.float64), "cfg": cfg, "result": out}


def save(path, arrays):
    np.savez(path, **{k: v.detach().cpu().numpy() for k, v in arrays.items()})


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=OUT)
    args = ap.parse_args()
    assert diffusers.__version__ == "0.30.3", f"recorded with diffusers 0.30.3, found {diffusers.__version__}"
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    cases = all_cases()
    ids = [c["id"] for c in cases]
    assert len(set(ids)) == len(ids), "case ids are unique"
    for k, c in enumerate(cases):
        arrays = record(c, 1000 + k)
        save(os.path.join(args.out, c["id"] + ".npz"), arrays)
        print(c["id"], "steps", len(arrays["timesteps"]), "init_noise_sigma",
              float(arrays["init_noise_sigma"][0]), flush=True)
    meta = {"diffusers_version": diffusers.__version__, "torch_version": torch.__version__,
            "shape": list(SHAPE), "cases": cases}
    with open(os.path.join(args.out, "cases.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    save(os.path.join(args.out, "guidance.npz"), guidance_golden())
    print("wrote", len(cases), "cases to", args.out)


if __name__ == "__main__":
    main()
