"""What the side-by-side benchmarks against diffusers share.

Each benchmark alternates fresh processes, one per engine and round: a diffusers process (this interpreter,
the script itself with --child) and `./genloom bench image`. Peak resident memory is the maximum RSS the
kernel reports for each process when it exits (wait4), the same measure for both engines. A diffusers
process may also report its peak after loading (`sampling_peak_rss_kib`: the high-water mark reset once its
weights are in memory), which shows how much of its peak comes from loading.
"""
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
EXPORT = os.path.dirname(HERE)
REPO = os.path.dirname(os.path.dirname(EXPORT))
STANDINS = os.path.join(EXPORT, "tests", "standins")
DATA = os.path.join(EXPORT, "tests", "data")
PROMPT = "a photograph of an astronaut riding a horse"


def paths():
    """The exporter package and the stand-in text encoders on sys.path."""
    for p in (EXPORT, STANDINS):
        if p not in sys.path:
            sys.path.insert(0, p)


def exporter_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([EXPORT, STANDINS] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep)
                                                              if p])
    return env


def write_json(path, obj):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def reset_peak_rss():
    """Resets this process's resident high-water mark (Linux: 5 to /proc/self/clear_refs); False where it
    cannot."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_kib():
    """This process's resident high-water mark (VmHWM) in KiB, or None where /proc does not give it."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def run_child(cmd, env):
    """Runs one measurement process; returns (its last stdout line, its peak RSS in KiB)."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"error: {' '.join(cmd)} exited with {code}")
    lines = out.strip().splitlines()
    if not lines:
        sys.exit(f"error: {' '.join(cmd)} printed nothing")
    return lines[-1], usage.ru_maxrss


def engine_env(threads):
    """The environment both engines run in: `threads` threads, glibc's default allocator settings unless the
    launcher sets its own."""
    env = dict(os.environ)
    env.pop("MALLOC_MMAP_THRESHOLD_", None)
    env["GENLOOM_TORCH_THREADS"] = str(threads)
    env["OMP_NUM_THREADS"] = str(threads)
    return env


def genloom_image(models, model, out_json, env, *, width, height, steps, sampler, guidance, repeats,
                  warmup_steps=None, preload=False):
    """One `./genloom bench image` process; returns its JSON result with peak_rss_kib (wait4) added."""
    cmd = [os.path.join(REPO, "genloom"), "bench", "image", "--models", models, "--model", model, "--width",
           str(width), "--height", str(height), "--steps", str(steps), "--sampler", sampler, "--guidance",
           str(guidance), "--prompt", PROMPT, "--repeats", str(repeats), "--json", out_json]
    if warmup_steps is not None:
        cmd += ["--warmup-steps", str(warmup_steps)]
    if preload:
        cmd.append("--preload")
    _, rss = run_child(cmd, env)
    with open(out_json) as f:
        r = json.load(f)
    r["peak_rss_kib"] = rss
    return r


def diffusers_child(script, args, env):
    """One diffusers process of `script` (its --child diffusers mode); returns its JSON line with peak_rss_kib
    (wait4) added."""
    line, rss = run_child([sys.executable, os.path.abspath(script), "--child", "diffusers"] + args, env)
    r = json.loads(line)
    r["peak_rss_kib"] = rss
    return r


def report_round(rnd, engine, r):
    print(f"round {rnd + 1} {engine}: {', '.join(f'{s:.1f}' for s in r['seconds_per_image'])} s per image, "
          f"peak RSS {r['peak_rss_kib'] / 1048576:.2f} GiB", flush=True)


def summarize(results):
    """Per engine: the median seconds per image over every timed image, and the processes' peak RSS."""
    summary = {}
    for engine, runs in results.items():
        times = [s for r in runs for s in r["seconds_per_image"]]
        summary[engine] = {"median_s_per_image": statistics.median(times), "images": len(times),
                           "peak_rss_gib_max": max(r["peak_rss_kib"] for r in runs) / 1048576,
                           "peak_rss_gib_median": statistics.median(r["peak_rss_kib"] for r in runs) / 1048576}
        after_load = [r["sampling_peak_rss_kib"] for r in runs if r.get("sampling_peak_rss_kib")]
        if after_load:
            summary[engine]["sampling_peak_rss_gib_median"] = statistics.median(after_load) / 1048576
    return summary


def ratios(summary, baseline="diffusers"):
    """(time ratio, memory ratio) of Genloom over the baseline engine, printed."""
    g, d = summary["genloom"], summary[baseline]
    ratio = g["median_s_per_image"] / d["median_s_per_image"]
    mem = g["peak_rss_gib_median"] / d["peak_rss_gib_median"]
    print(f"\nmedian seconds per image: diffusers {d['median_s_per_image']:.1f}, "
          f"Genloom {g['median_s_per_image']:.1f} (Genloom / diffusers {ratio:.2f})")
    print(f"peak RSS (median of processes): diffusers {d['peak_rss_gib_median']:.2f} GiB, "
          f"Genloom {g['peak_rss_gib_median']:.2f} GiB (ratio {mem:.2f})")
    if "sampling_peak_rss_gib_median" in d:
        print(f"diffusers' peak after loading its weights: {d['sampling_peak_rss_gib_median']:.2f} GiB")
    return ratio, mem
