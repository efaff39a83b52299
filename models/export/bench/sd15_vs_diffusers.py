#!/usr/bin/env python3
"""Genloom against diffusers on an SD 1.5-sized random-weight pipeline, side by side in one run.

The pipeline has Stable Diffusion 1.5's UNet2DConditionModel and AutoencoderKL configurations (the
real block widths and depths: 320/640/1280/1280 channels, two layers per block, 768-d cross
attention, 8 heads; the VAE's 128/256/512/512) with seeded random weights, a small stand-in CLIP
text encoder (768-d, two layers: text encoding is not what is measured) and the CLIP-format
fixture tokenizer. It is exported once into a Genloom package with the exporter command line.

Then, alternating, in fresh processes: diffusers (its UNet, VAE and scheduler in the loop its
pipelines run, with this interpreter's torch) and Genloom (`./genloom bench image`, DJL's libtorch)
each load the model, make one untimed warm-up image, then time --repeats images: 512x512, DDIM,
10 steps, guidance 7.5 (classifier-free guidance as one batch of 2). Peak resident memory is each
process's maximum RSS as the kernel reports it to this script (wait4), so both sides are measured the
same way. Both use --threads threads. The `./genloom` launcher fixes glibc's mmap threshold
(MALLOC_MMAP_THRESHOLD_=131072, so freed activations go back to the system); diffusers is measured
twice, with its defaults and with that same setting, so the allocator's share is visible.

Needs torch, numpy, regex and diffusers importable (PYTHONPATH), and the stand-in text encoders of
models/export/tests/standins (added to the path here). Run from the repository root:

  PYTHONPATH=models/export:<diffusers> python3 models/export/bench/sd15_vs_diffusers.py \\
      --work /tmp/sd15-bench --json docs/bench/sd15-vs-diffusers.json
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from side_by_side import (DATA, PROMPT, diffusers_child, engine_env, exporter_env,  # noqa: E402
                          genloom_image, paths, ratios, report_round, summarize, write_json)

# Stable Diffusion 1.5's published configurations (unet/config.json and vae/config.json).
SD15_UNET = dict(sample_size=64, in_channels=4, out_channels=4, layers_per_block=2,
                 block_out_channels=(320, 640, 1280, 1280), cross_attention_dim=768, attention_head_dim=8,
                 norm_num_groups=32, down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
                 up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3)
SD15_VAE = dict(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(128, 256, 512, 512),
                layers_per_block=2, norm_num_groups=32, sample_size=512, scaling_factor=0.18215,
                down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4)
SD15_SCHEDULER = {"_class_name": "PNDMScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear",
                  "beta_start": 0.00085, "num_train_timesteps": 1000, "set_alpha_to_one": False,
                  "skip_prk_steps": True, "steps_offset": 1, "trained_betas": None, "clip_sample": False}


def build_pipeline(folder):
    """The SD 1.5-sized pipeline folder, seeded."""
    paths()
    import torch
    import diffusers
    import transformers  # the stand-in of tests/standins
    from genloom_export.clip_tokenizer import read_tokenizer_settings
    shutil.copytree(os.path.join(DATA, "clip-sd15"), os.path.join(folder, "tokenizer"))
    tok = read_tokenizer_settings(os.path.join(folder, "tokenizer"))
    with open(os.path.join(folder, "tokenizer", "vocab.json")) as f:
        vocab = len(json.load(f))
    torch.manual_seed(0)
    config = transformers.CLIPTextConfig(vocab_size=vocab, hidden_size=768, intermediate_size=1536,
                                         projection_dim=768, num_hidden_layers=2, num_attention_heads=12,
                                         max_position_embeddings=77, hidden_act="quick_gelu",
                                         bos_token_id=tok["bos_id"], eos_token_id=tok["eos_id"],
                                         pad_token_id=tok["pad_id"])
    transformers.CLIPTextModel(config).save_pretrained(os.path.join(folder, "text_encoder"))
    torch.manual_seed(1)
    diffusers.UNet2DConditionModel(**SD15_UNET).save_pretrained(os.path.join(folder, "unet"),
                                                                safe_serialization=False)
    torch.manual_seed(2)
    diffusers.AutoencoderKL(**SD15_VAE).save_pretrained(os.path.join(folder, "vae"), safe_serialization=False)
    write_json(os.path.join(folder, "scheduler", "scheduler_config.json"), SD15_SCHEDULER)
    write_json(os.path.join(folder, "model_index.json"),
               {"_class_name": "StableDiffusionPipeline", "_diffusers_version": diffusers.__version__,
                "scheduler": ["diffusers", "PNDMScheduler"], "text_encoder": ["transformers", "CLIPTextModel"],
                "tokenizer": ["transformers", "CLIPTokenizer"], "unet": ["diffusers", "UNet2DConditionModel"],
                "vae": ["diffusers", "AutoencoderKL"], "safety_checker": [None, None],
                "feature_extractor": [None, None], "requires_safety_checker": False})


def export(pipeline, models, threads):
    """Exports at a 256x256 default (cheap export checks) serving up to 512x512."""
    env = exporter_env()
    cmd = [sys.executable, "-m", "genloom_export.stable_diffusion", "--pipeline", pipeline, "--out",
           os.path.join(models, "bench-sd15"), "--name", "bench-sd15", "--width", "256", "--height", "256",
           "--max-width", "512", "--max-height", "512", "--golden-sizes", "64x64", "--golden-steps", "2",
           "--golden-samplers", "ddim", "--threads", str(threads)]
    print("+", " ".join(cmd[1:]), flush=True)
    subprocess.run(cmd, env=env, check=True)


def child_diffusers(a):
    """One diffusers process: load, warm up, time --repeats images; prints one JSON line."""
    paths()
    import torch
    torch.set_num_threads(a.threads)
    import diffusers
    import transformers
    from genloom_export import sampling
    from genloom_export.clip_tokenizer import load_clip_bpe, read_tokenizer_settings
    start = time.perf_counter()
    unet = diffusers.UNet2DConditionModel.from_pretrained(os.path.join(a.pipeline, "unet")).eval()
    vae = diffusers.AutoencoderKL.from_pretrained(os.path.join(a.pipeline, "vae")).eval()
    te = transformers.CLIPTextModel.from_pretrained(os.path.join(a.pipeline, "text_encoder")).eval()
    load_s = time.perf_counter() - start
    with open(os.path.join(a.pipeline, "scheduler", "scheduler_config.json")) as f:
        scheduler_config = json.load(f)
    tok = load_clip_bpe(os.path.join(a.pipeline, "tokenizer"))
    pad = read_tokenizer_settings(os.path.join(a.pipeline, "tokenizer"))["pad_id"]
    ids = torch.tensor([tok.encode(PROMPT, 77, pad)[0]])
    empty = torch.tensor([tok.encode("", 77, pad)[0]])
    rescale = sampling.rescale_noise_cfg_of(diffusers)

    def unet_fn(x, t, ehs, added):
        return unet(x, t, encoder_hidden_states=ehs, return_dict=False)[0]

    @torch.no_grad()
    def image(seed):
        cond = te(ids)[0]
        uncond = te(empty)[0]
        g = torch.Generator().manual_seed(seed)
        noise = torch.randn(1, 4, a.height // 8, a.width // 8, generator=g)
        latents, *_ = sampling.denoise(diffusers, scheduler_config, "ddim", a.steps, noise, [g], cond, uncond, None,
                                       unet_fn, a.guidance, 0.0, 0.0, rescale)
        return vae.decode(latents / vae.config.scaling_factor, return_dict=False)[0]

    image(-1 & 0xFFFF)
    seconds = []
    for r in range(a.repeats):
        t0 = time.perf_counter()
        image(r)
        seconds.append(time.perf_counter() - t0)
        print(f"  diffusers image {r + 1}: {seconds[-1]:.2f} s", file=sys.stderr, flush=True)
    print(json.dumps({"engine": "diffusers", "diffusers": diffusers.__version__, "torch": torch.__version__,
                      "load_s": load_s, "seconds_per_image": seconds}), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", help="folder for the pipeline and the package (default: a temporary one)")
    ap.add_argument("--rounds", type=int, default=2, help="alternating rounds, one process per engine each")
    ap.add_argument("--repeats", type=int, default=2, help="timed images per process")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--width", type=int, default=512)
    ap.add_argument("--height", type=int, default=512)
    ap.add_argument("--guidance", type=float, default=7.5)
    ap.add_argument("--threads", type=int, default=2, help="torch / libtorch threads on both sides")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--child", choices=["diffusers"], help=argparse.SUPPRESS)
    ap.add_argument("--pipeline", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        return child_diffusers(a)
    work = a.work or tempfile.mkdtemp(prefix="genloom-sd15-bench-")
    pipeline = os.path.join(work, "sd15-pipeline")
    models = os.path.join(work, "models")
    if not os.path.isdir(pipeline):
        os.makedirs(work, exist_ok=True)
        build_pipeline(pipeline)
    if not os.path.isfile(os.path.join(models, "bench-sd15", "manifest.json")):
        os.makedirs(models, exist_ok=True)
        export(pipeline, models, a.threads)
    env = engine_env(a.threads)
    tuned = dict(env, MALLOC_MMAP_THRESHOLD_="131072")
    results = {"diffusers": [], "diffusers_mmap_threshold": [], "genloom": []}
    for rnd in range(a.rounds):
        for engine in results:
            if engine.startswith("diffusers"):
                args = ["--pipeline", pipeline, "--repeats", str(a.repeats), "--steps", str(a.steps), "--width",
                        str(a.width), "--height", str(a.height), "--guidance", str(a.guidance), "--threads",
                        str(a.threads)]
                r = diffusers_child(__file__, args, tuned if engine == "diffusers_mmap_threshold" else env)
            else:
                r = genloom_image(models, "bench-sd15", os.path.join(work, f"genloom-{rnd}.json"), env,
                                  width=a.width, height=a.height, steps=a.steps, sampler="ddim",
                                  guidance=a.guidance, repeats=a.repeats)
            results[engine].append(r)
            report_round(rnd, engine, r)
    summary = summarize(results)
    ratio, mem = ratios(summary)
    tuned_summary = summary["diffusers_mmap_threshold"]
    print(f"diffusers with the launcher's mmap threshold: {tuned_summary['median_s_per_image']:.1f} s per image, "
          f"peak RSS {tuned_summary['peak_rss_gib_median']:.2f} GiB")
    if a.json:
        write_json(a.json, {"settings": {"width": a.width, "height": a.height, "steps": a.steps, "sampler": "ddim",
                                         "guidance": a.guidance, "threads": a.threads, "rounds": a.rounds,
                                         "repeats": a.repeats},
                            "summary": summary, "time_ratio_genloom_over_diffusers": ratio,
                            "rss_ratio_genloom_over_diffusers": mem, "runs": results})


if __name__ == "__main__":
    main()
