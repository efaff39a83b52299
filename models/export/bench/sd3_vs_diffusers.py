#!/usr/bin/env python3
"""Genloom against diffusers on an SD3-medium-sized random-weight pipeline, side by side in one run.

The pipeline has Stable Diffusion 3 medium's SD3Transformer2DModel configuration (24 joint blocks, 24 heads
of 64, 1536-d, joint_attention_dim 4096, pooled_projection_dim 2048, patch size 2, position grid 192: 2.03 B
parameters) and its 16-channel AutoencoderKL (128/256/512/512, scaling 1.5305, shift 0.0609, no quant
convs), with seeded random weights, and SD3-medium's scheduler config (FlowMatchEulerDiscreteScheduler,
shift 3). The three text encoders are small stand-ins with the real widths where the transformer sees them
(CLIP-L 768 and CLIP-G 1280, each with its projection; T5 with d_model 4096), two or one layers each: text
encoding is not what is measured. Tokenizers are the CLIP-format and T5 fixture tokenizers. The pipeline
is exported once with the exporter's command line (cheap export checks at 128x128, serving up to 512x512).

Then, alternating, in fresh processes: diffusers (its transformer, VAE and scheduler in the loop its
StableDiffusion3Pipeline runs, its encode_prompt for the text, this interpreter's torch) and Genloom
(`./genloom bench image`, DJL's libtorch) each load the model, make one untimed warm-up image of
--warmup-steps steps, then time --repeats images: 512x512, 8 steps, guidance 7 (both CFG branches as one
batch of 2). Peak resident memory is each process's maximum RSS as the kernel reports it (wait4); the
diffusers process also reports its peak after its weights are loaded. Both sides use --threads threads.

Needs torch, numpy, regex and diffusers importable (PYTHONPATH), about 18 GB of memory for the export and
about 20 GB of disk under --work. Run from the repository root:

  PYTHONPATH=models/export:<diffusers> python3 models/export/bench/sd3_vs_diffusers.py \\
      --work /tmp/sd3-bench --json docs/bench/sd3-vs-diffusers.json
"""
import argparse
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from side_by_side import (DATA, PROMPT, diffusers_child, engine_env, exporter_env, genloom_image,  # noqa: E402
                          paths, peak_rss_kib, ratios, report_round, reset_peak_rss, summarize, write_json)

MODEL = "bench-sd3"
# Stable Diffusion 3 medium's published configurations (transformer/config.json, vae/config.json and
# scheduler/scheduler_config.json).
SD3_MEDIUM_TRANSFORMER = dict(sample_size=128, patch_size=2, in_channels=16, out_channels=16, num_layers=24,
                              attention_head_dim=64, num_attention_heads=24, joint_attention_dim=4096,
                              caption_projection_dim=1536, pooled_projection_dim=2048, pos_embed_max_size=192)
SD3_MEDIUM_VAE = dict(in_channels=3, out_channels=3, latent_channels=16, block_out_channels=(128, 256, 512, 512),
                      layers_per_block=2, norm_num_groups=32, sample_size=1024, scaling_factor=1.5305,
                      shift_factor=0.0609, use_quant_conv=False, use_post_quant_conv=False,
                      down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4)
SD3_MEDIUM_SCHEDULER = {"_class_name": "FlowMatchEulerDiscreteScheduler", "num_train_timesteps": 1000, "shift": 3.0}
MAX_SEQUENCE_LENGTH = 256  # StableDiffusion3Pipeline's default T5 length


def copy_tokenizer(name, dst):
    shutil.copytree(os.path.join(DATA, name), dst)


def vocab_size(folder):
    if os.path.isfile(os.path.join(folder, "vocab.json")):
        with open(os.path.join(folder, "vocab.json")) as f:
            return len(json.load(f))
    with open(os.path.join(folder, "tokenizer.json")) as f:
        return len(json.load(f)["model"]["vocab"])


def build_pipeline(folder):
    """The SD3-medium-sized pipeline folder, seeded."""
    paths()
    import torch
    import diffusers
    import transformers  # the stand-in of tests/standins
    from genloom_export.clip_tokenizer import read_tokenizer_settings
    for name, data in (("tokenizer", "clip-sd15"), ("tokenizer_2", "clip-sd2"), ("tokenizer_3", "t5-fixture")):
        copy_tokenizer(data, os.path.join(folder, name))
    for seed, (te, tok, hidden, layers, act) in enumerate((("text_encoder", "tokenizer", 768, 2, "quick_gelu"),
                                                           ("text_encoder_2", "tokenizer_2", 1280, 2, "gelu"))):
        s = read_tokenizer_settings(os.path.join(folder, tok))
        torch.manual_seed(seed)
        config = transformers.CLIPTextConfig(vocab_size=vocab_size(os.path.join(folder, tok)), hidden_size=hidden,
                                             intermediate_size=2 * hidden, projection_dim=hidden,
                                             num_hidden_layers=layers, num_attention_heads=hidden // 64,
                                             max_position_embeddings=77, hidden_act=act, bos_token_id=s["bos_id"],
                                             eos_token_id=s["eos_id"], pad_token_id=s["pad_id"])
        transformers.CLIPTextModelWithProjection(config).save_pretrained(os.path.join(folder, te))
    torch.manual_seed(2)
    config = transformers.T5Config(vocab_size=vocab_size(os.path.join(folder, "tokenizer_3")), d_model=4096, d_kv=64,
                                   num_heads=8, d_ff=1024, num_layers=1, relative_attention_num_buckets=32,
                                   relative_attention_max_distance=128, feed_forward_proj="gated-gelu",
                                   layer_norm_epsilon=1e-6, pad_token_id=0, eos_token_id=1)
    transformers.T5EncoderModel(config).save_pretrained(os.path.join(folder, "text_encoder_3"))
    torch.manual_seed(3)
    tr = diffusers.SD3Transformer2DModel(**SD3_MEDIUM_TRANSFORMER)
    tr.save_pretrained(os.path.join(folder, "transformer"), safe_serialization=False)
    del tr
    gc.collect()
    torch.manual_seed(4)
    diffusers.AutoencoderKL(**SD3_MEDIUM_VAE).save_pretrained(os.path.join(folder, "vae"), safe_serialization=False)
    write_json(os.path.join(folder, "scheduler", "scheduler_config.json"), SD3_MEDIUM_SCHEDULER)
    write_json(os.path.join(folder, "model_index.json"),
               {"_class_name": "StableDiffusion3Pipeline", "_diffusers_version": diffusers.__version__,
                "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"],
                "text_encoder": ["transformers", "CLIPTextModelWithProjection"],
                "text_encoder_2": ["transformers", "CLIPTextModelWithProjection"],
                "text_encoder_3": ["transformers", "T5EncoderModel"], "tokenizer": ["transformers", "CLIPTokenizer"],
                "tokenizer_2": ["transformers", "CLIPTokenizer"], "tokenizer_3": ["transformers", "T5TokenizerFast"],
                "transformer": ["diffusers", "SD3Transformer2DModel"], "vae": ["diffusers", "AutoencoderKL"]})


def export(pipeline, models, threads):
    """Exports at a 128x128 default (cheap export checks) serving up to 512x512."""
    cmd = [sys.executable, "-m", "genloom_export.stable_diffusion", "--pipeline", pipeline, "--out",
           os.path.join(models, MODEL), "--name", MODEL, "--width", "128", "--height", "128", "--max-width", "512",
           "--max-height", "512", "--golden-sizes", "64x64", "--golden-steps", "2", "--threads", str(threads)]
    print("+", " ".join(cmd[1:]), flush=True)
    subprocess.run(cmd, env=exporter_env(), check=True)


def child_diffusers(a):
    """One diffusers process: load, warm up, time --repeats images; prints one JSON line."""
    paths()
    import torch
    torch.set_num_threads(a.threads)
    import diffusers
    from diffusers.utils.torch_utils import randn_tensor
    from genloom_export import sampling
    from genloom_export.text import PromptTokenizer, T5PromptTokenizer, load_text_encoder
    start = time.perf_counter()
    tr = diffusers.SD3Transformer2DModel.from_pretrained(os.path.join(a.pipeline, "transformer")).eval()
    vae = diffusers.AutoencoderKL.from_pretrained(os.path.join(a.pipeline, "vae")).eval()
    clips = [load_text_encoder(os.path.join(a.pipeline, te), ("CLIPTextModelWithProjection",)).eval()
             for te in ("text_encoder", "text_encoder_2")]
    t5 = load_text_encoder(os.path.join(a.pipeline, "text_encoder_3"), ("T5EncoderModel",)).eval()
    load_s = time.perf_counter() - start
    gc.collect()
    after_load_reset = reset_peak_rss()
    tokenizers = [PromptTokenizer(os.path.join(a.pipeline, "tokenizer"), 77),
                  PromptTokenizer(os.path.join(a.pipeline, "tokenizer_2"), 77),
                  T5PromptTokenizer(os.path.join(a.pipeline, "tokenizer_3"), MAX_SEQUENCE_LENGTH)]
    with open(os.path.join(a.pipeline, "scheduler", "scheduler_config.json")) as f:
        scheduler_config = json.load(f)
    rescale = sampling.rescale_noise_cfg_of(diffusers)
    scale, shift = vae.config.scaling_factor, vae.config.shift_factor

    def transformer_fn(x, t, ehs, added):
        return tr(hidden_states=x, timestep=t.expand(x.shape[0]), encoder_hidden_states=ehs,
                  pooled_projections=added["text_embeds"], return_dict=False)[0]

    @torch.no_grad()
    def image(seed, steps):
        cond, uncond, pooled, pooled_uncond = sampling.sd3_reference_text(
            diffusers, clips + [t5], tokenizers, tr, [PROMPT], [""], True, MAX_SEQUENCE_LENGTH)
        g = torch.Generator().manual_seed(seed)
        noise = randn_tensor((1, 16, a.height // 8, a.width // 8), generator=[g], dtype=torch.float32)
        latents, *_ = sampling.denoise(diffusers, scheduler_config, "euler", steps, noise, [g], cond, uncond,
                                       {"text_embeds": (pooled_uncond, pooled)}, transformer_fn, a.guidance, 0.0,
                                       0.0, rescale)
        return vae.decode(latents / scale + shift, return_dict=False)[0]

    image(0xFFFF, a.warmup_steps)
    seconds = []
    for r in range(a.repeats):
        t0 = time.perf_counter()
        image(r, a.steps)
        seconds.append(time.perf_counter() - t0)
        print(f"  diffusers image {r + 1}: {seconds[-1]:.2f} s", file=sys.stderr, flush=True)
    print(json.dumps({"engine": "diffusers", "diffusers": diffusers.__version__, "torch": torch.__version__,
                      "load_s": load_s, "seconds_per_image": seconds,
                      "sampling_peak_rss_kib": peak_rss_kib() if after_load_reset else None}), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", help="folder for the pipeline and the package (default: a temporary one)")
    ap.add_argument("--rounds", type=int, default=2, help="alternating rounds, one process per engine each")
    ap.add_argument("--repeats", type=int, default=1, help="timed images per process")
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--warmup-steps", type=int, default=2, help="steps of the untimed warm-up image")
    ap.add_argument("--width", type=int, default=512)
    ap.add_argument("--height", type=int, default=512)
    ap.add_argument("--guidance", type=float, default=7.0)
    ap.add_argument("--threads", type=int, default=2, help="torch / libtorch threads on both sides")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--child", choices=["diffusers"], help=argparse.SUPPRESS)
    ap.add_argument("--pipeline", help=argparse.SUPPRESS)
    a = ap.parse_args()
    for what, v in (("--rounds", a.rounds), ("--repeats", a.repeats), ("--steps", a.steps),
                    ("--warmup-steps", a.warmup_steps), ("--threads", a.threads)):
        if v < 1:
            ap.error(f"{what} must be at least 1, got {v}")
    if a.child:
        return child_diffusers(a)
    work = a.work or tempfile.mkdtemp(prefix="genloom-sd3-bench-")
    pipeline = os.path.join(work, "sd3-pipeline")
    models = os.path.join(work, "models")
    if not os.path.isfile(os.path.join(pipeline, "model_index.json")):
        shutil.rmtree(pipeline, ignore_errors=True)
        os.makedirs(pipeline)
        build_pipeline(pipeline)
    if not os.path.isfile(os.path.join(models, MODEL, "manifest.json")):
        shutil.rmtree(os.path.join(models, MODEL), ignore_errors=True)
        os.makedirs(models, exist_ok=True)
        t0 = time.perf_counter()
        export(pipeline, models, a.threads)
        print(f"export: {time.perf_counter() - t0:.0f} s", flush=True)
    env = engine_env(a.threads)
    results = {"diffusers": [], "genloom": []}
    for rnd in range(a.rounds):
        for engine in results:
            if engine == "diffusers":
                args = ["--pipeline", pipeline, "--repeats", str(a.repeats), "--steps", str(a.steps),
                        "--warmup-steps", str(a.warmup_steps), "--width", str(a.width), "--height", str(a.height),
                        "--guidance", str(a.guidance), "--threads", str(a.threads)]
                r = diffusers_child(__file__, args, env)
            else:
                r = genloom_image(models, MODEL, os.path.join(work, f"genloom-{rnd}.json"), env, width=a.width,
                                  height=a.height, steps=a.steps, sampler="euler", guidance=a.guidance,
                                  repeats=a.repeats, warmup_steps=a.warmup_steps)
            results[engine].append(r)
            report_round(rnd, engine, r)
    summary = summarize(results)
    ratio, mem = ratios(summary)
    if a.json:
        write_json(a.json, {"settings": {"width": a.width, "height": a.height, "steps": a.steps, "sampler": "euler",
                                         "warmup_steps": a.warmup_steps, "guidance": a.guidance,
                                         "threads": a.threads, "rounds": a.rounds, "repeats": a.repeats,
                                         "transformer": SD3_MEDIUM_TRANSFORMER},
                            "summary": summary, "time_ratio_genloom_over_diffusers": ratio,
                            "rss_ratio_genloom_over_diffusers": mem, "runs": results})


if __name__ == "__main__":
    main()
