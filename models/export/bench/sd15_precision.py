#!/usr/bin/env python3
"""An SD 1.5-sized package in float32 and in fp16, side by side in one run: size, load, memory, images.

The pipeline is sd15_vs_diffusers.py's (Stable Diffusion 1.5's UNet and VAE configurations with seeded
random weights, a small stand-in CLIP text encoder). It is exported twice with the exporter's command line,
once with float32 weights and once with --precision fp16, at a 256x256 default serving up to 512x512.

Then, alternating, in fresh processes, for each package: `./genloom bench image` (every component loaded and
timed, the resident memory the weights added, one warm-up image of --warmup-steps steps, --repeats timed
images at --width x --height, peak resident memory from wait4), and `./genloom generate` of one image with
the same prompt and seed, whose pixels are compared (mean and largest difference in 8-bit levels, PSNR).
Last, one worker per precision serving two copies of the package (hard links under another name) makes one
image with each, and its /metrics give the process's and each model's resident memory.

Needs torch, numpy, regex and diffusers importable (PYTHONPATH), protoc and python3-grpcio for the worker
client. Run from the repository root:

  PYTHONPATH=models/export:<diffusers> python3 models/export/bench/sd15_precision.py \\
      --work /tmp/sd15-precision --json docs/bench/sd15-precision.json
"""
import argparse
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from side_by_side import (PROMPT, REPO, engine_env, exporter_env, genloom_image,  # noqa: E402
                          report_round, summarize, write_json)

PACKAGES = {"fp32": "bench-sd15-f32", "fp16": "bench-sd15-fp16"}
CLIENT = os.path.join(REPO, "clients", "python", "genloom_client.py")


def export(pipeline, models, precision, threads):
    name = PACKAGES[precision]
    cmd = [sys.executable, "-m", "genloom_export.stable_diffusion", "--pipeline", pipeline, "--out",
           os.path.join(models, name), "--name", name, "--width", "256", "--height", "256", "--max-width", "512",
           "--max-height", "512", "--golden-sizes", "64x64", "--golden-steps", "2", "--golden-samplers", "ddim",
           "--precision", precision, "--threads", str(threads)]
    print("+", " ".join(cmd[1:]), flush=True)
    subprocess.run(cmd, env=exporter_env(), check=True)


def folder_bytes(folder):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(folder) for f in files)


def generate(models, model, out, env, a):
    cmd = [os.path.join(REPO, "genloom"), "generate", "--models", models, "--model", model, "--prompt", PROMPT,
           "--seed", "7", "--steps", str(a.steps), "--width", str(a.width), "--height", str(a.height), "--sampler",
           "ddim", "--out", out]
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)


def compare_png(a_path, b_path):
    """(mean abs difference, largest difference, PSNR in dB) of two PNGs, in 8-bit levels."""
    import numpy as np
    import zlib

    def pixels(path):
        with open(path, "rb") as f:
            data = f.read()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", path
        pos, idat, width, height = 8, b"", 0, 0
        while pos < len(data):
            n = int.from_bytes(data[pos:pos + 4], "big")
            kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
            if kind == b"IHDR":
                width, height = int.from_bytes(body[:4], "big"), int.from_bytes(body[4:8], "big")
                assert body[8] == 8 and body[9] == 2, f"{path}: expected 8-bit RGB"
            elif kind == b"IDAT":
                idat += body
            pos += 12 + n
        raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(height, 1 + 3 * width)
        out = np.zeros((height, 3 * width), dtype=np.int32)
        prev = np.zeros(3 * width, dtype=np.int32)
        for y in range(height):
            f, line = raw[y, 0], raw[y, 1:].astype(np.int32)
            cur = np.zeros_like(line)
            for x in range(3 * width):
                left = cur[x - 3] if x >= 3 else 0
                up, ul = prev[x], (prev[x - 3] if x >= 3 else 0)
                if f == 0:
                    pred = 0
                elif f == 1:
                    pred = left
                elif f == 2:
                    pred = up
                elif f == 3:
                    pred = (left + up) // 2
                else:
                    p = left + up - ul
                    pa, pb, pc = abs(p - left), abs(p - up), abs(p - ul)
                    pred = left if pa <= pb and pa <= pc else up if pb <= pc else ul
                cur[x] = (line[x] + pred) & 0xFF
            out[y], prev = cur, cur
        return out

    a, b = pixels(a_path), pixels(b_path)
    d = np.abs(a - b)
    mse = float((d.astype(np.float64) ** 2).mean())
    return float(d.mean()), int(d.max()), (math.inf if mse == 0 else 10 * math.log10(255 ** 2 / mse))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def metrics(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        return r.read().decode()


def worker_memory(models, precision, env, work):
    """One worker serving two copies of the package; returns its /metrics memory figures after one image each."""
    folder = os.path.join(work, f"worker-{precision}")
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    src = os.path.join(models, PACKAGES[precision])
    names = [PACKAGES[precision] + "-a", PACKAGES[precision] + "-b"]
    for name in names:
        dst = os.path.join(folder, name)
        shutil.copytree(src, dst, copy_function=os.link)
        manifest = os.path.join(dst, "manifest.json")
        with open(manifest) as f:
            m = json.load(f)
        m["name"] = name
        os.remove(manifest)  # a hard link: write a file of its own
        with open(manifest, "w") as f:
            json.dump(m, f, indent=2)
    port, mport = free_port(), free_port()
    proc = subprocess.Popen([os.path.join(REPO, "genloom"), "worker", "--models", folder, "--port", str(port),
                             "--metrics-port", str(mport)], env=env, stdout=subprocess.PIPE, text=True)
    try:
        for line in proc.stdout:
            if line.startswith("ready:"):
                break
        else:
            sys.exit(f"error: the {precision} worker exited before it was ready")
        for name in names:
            subprocess.run([sys.executable, CLIENT, "--target", f"127.0.0.1:{port}", "generate", "--model", name,
                            "--prompt", PROMPT, "--steps", "2", "--out", os.path.join(work, name + ".png")],
                           check=True, stdout=subprocess.DEVNULL)
        text = metrics(mport)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
    figure = {"process_resident_bytes": int(re.search(r"^genloom_process_resident_bytes (\d+)$", text, re.M)[1])}
    for name in names:
        figure[name] = {k: int(re.search(rf'^genloom_model_{k}{{model="{re.escape(name)}"}} (\d+)$', text, re.M)[1])
                        for k in ("resident_bytes", "weight_bytes")}
    return figure


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", help="folder for the pipeline and the packages (default: a temporary one)")
    ap.add_argument("--rounds", type=int, default=2, help="alternating rounds, one process per package each")
    ap.add_argument("--repeats", type=int, default=1, help="timed images per process")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup-steps", type=int, default=2)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--height", type=int, default=256)
    ap.add_argument("--guidance", type=float, default=7.5)
    ap.add_argument("--threads", type=int, default=2, help="libtorch threads")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--prepare-only", action="store_true",
                    help="build the pipeline and export both packages under --work, then stop (nothing is timed)")
    a = ap.parse_args()
    for what, v in (("--rounds", a.rounds), ("--repeats", a.repeats), ("--steps", a.steps),
                    ("--warmup-steps", a.warmup_steps), ("--threads", a.threads)):
        if v < 1:
            ap.error(f"{what} must be at least 1, got {v}")
    import sd15_vs_diffusers
    work = a.work or tempfile.mkdtemp(prefix="genloom-sd15-precision-")
    pipeline = os.path.join(work, "sd15-pipeline")
    models = os.path.join(work, "models")
    if not os.path.isfile(os.path.join(pipeline, "model_index.json")):
        shutil.rmtree(pipeline, ignore_errors=True)
        os.makedirs(pipeline)
        sd15_vs_diffusers.build_pipeline(pipeline)
    for precision, name in PACKAGES.items():
        if not os.path.isfile(os.path.join(models, name, "manifest.json")):
            shutil.rmtree(os.path.join(models, name), ignore_errors=True)
            os.makedirs(models, exist_ok=True)
            t0 = time.perf_counter()
            export(pipeline, models, precision, a.threads)
            print(f"export {precision}: {time.perf_counter() - t0:.0f} s", flush=True)
    if a.prepare_only:
        return
    env = engine_env(a.threads)
    sizes = {p: folder_bytes(os.path.join(models, n)) for p, n in PACKAGES.items()}
    print(f"package size: fp32 {sizes['fp32'] / 1e9:.2f} GB, fp16 {sizes['fp16'] / 1e9:.2f} GB "
          f"(ratio {sizes['fp16'] / sizes['fp32']:.3f})", flush=True)
    results = {"fp32": [], "fp16": []}
    for rnd in range(a.rounds):
        for precision in results:
            r = genloom_image(models, PACKAGES[precision], os.path.join(work, f"bench-{precision}-{rnd}.json"), env,
                              width=a.width, height=a.height, steps=a.steps, sampler="ddim", guidance=a.guidance,
                              repeats=a.repeats, warmup_steps=a.warmup_steps, preload=True)
            results[precision].append(r)
            report_round(rnd, precision, r)
            print(f"  load {r['load_s']:.1f} s, weights resident {r['weights_resident_bytes'] / 1e9:.2f} GB",
                  flush=True)
    images = {}
    for precision, name in PACKAGES.items():
        images[precision] = os.path.join(work, f"image-{precision}.png")
        generate(models, name, images[precision], env, a)
    mean, largest, psnr = compare_png(images["fp32"], images["fp16"])
    print(f"fp16 image against fp32: mean {mean:.3f} levels, largest {largest} levels, PSNR {psnr:.1f} dB",
          flush=True)
    workers = {}
    for precision in PACKAGES:
        workers[precision] = worker_memory(models, precision, env, work)
        print(f"worker with two {precision} packages: process RSS "
              f"{workers[precision]['process_resident_bytes'] / 1e9:.2f} GB; "
              + ", ".join(f"{k} {v['resident_bytes'] / 1e9:.2f} GB" for k, v in workers[precision].items()
                          if isinstance(v, dict)), flush=True)
    summary = summarize(results)
    for precision, runs in results.items():
        summary[precision]["load_s_median"] = sorted(r["load_s"] for r in runs)[len(runs) // 2]
        summary[precision]["weights_resident_gb_median"] = sorted(
            r["weights_resident_bytes"] for r in runs)[len(runs) // 2] / 1e9
        summary[precision]["package_gb"] = sizes[precision] / 1e9
    if a.json:
        write_json(a.json, {"settings": {"width": a.width, "height": a.height, "steps": a.steps, "sampler": "ddim",
                                         "warmup_steps": a.warmup_steps, "guidance": a.guidance,
                                         "threads": a.threads, "rounds": a.rounds, "repeats": a.repeats},
                            "summary": summary, "image_fp16_vs_fp32": {"mean_levels": mean, "max_levels": largest,
                                                                       "psnr_db": psnr},
                            "workers": workers, "runs": results})


if __name__ == "__main__":
    main()
