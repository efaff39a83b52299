#!/usr/bin/env bash
# GPU smoke test, for a machine with an NVIDIA GPU: checks the device and its driver, builds the CUDA
# distribution (Maven profile cuda-cu124: DJL 0.33.0, libtorch 2.5.1+cu124 from Maven Central; the
# first build downloads the 2.5 GB native jar), checks the fixture packages against their goldens on
# the GPU, then times them, float32 and half precision, and prints a table.
#
#   bash infra/gpu/smoke.sh                 # gpu:0
#   GENLOOM_SMOKE_DEVICE=gpu:1 bash infra/gpu/smoke.sh
#
# Exits non-zero naming the first thing that failed. Results: out/gpu-smoke/*.json.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
die() { echo "gpu-smoke: $*" >&2; exit 1; }
device=${GENLOOM_SMOKE_DEVICE:-gpu:0}
case "$device" in gpu:[0-9]*) ;; *) die "GENLOOM_SMOKE_DEVICE: expected gpu:N, got '$device'" ;; esac
index=${device#gpu:}

# 1. The device: nvidia-smi sees it, and its driver runs CUDA 12.4 (driver 550 or later).
command -v nvidia-smi >/dev/null 2>&1 || die "nvidia-smi not found: this needs an NVIDIA GPU and its driver"
line=$(nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv,noheader -i "$index") \
  || die "nvidia-smi does not list GPU $index"
echo "gpu-smoke: $line"
driver=$(echo "$line" | cut -d, -f3 | tr -d ' ')
[ "${driver%%.*}" -ge 550 ] || die "driver $driver is older than 550, which CUDA 12.4 needs"

# 2. The CUDA distribution (the launcher rebuilds when the profile changes).
export GENLOOM_BUILD_PROFILE=cuda-cu124
./genloom --version >/dev/null || die "the cuda-cu124 build failed (.genloom-build.log)"
ls cli/target/lib/pytorch-native-cu124-*-linux-x86_64.jar >/dev/null 2>&1 \
  || die "the distribution holds no pytorch-native-cu124 jar"

# 3. Conformance on the GPU: every component and sampling golden, with the tolerances of each
#    package's precision (a GPU's kernels differ from the CPU's in the last bits).
fixtures=(fixture-sd15 fixture-sd15-fp16 fixture-sdxl fixture-sd3 fixture-flux tiny-ldm)
./genloom models check --device "$device" --component-tolerance 1e-3 --latent-tolerance 1e-3 \
  --pixel-tolerance 1e-2 "${fixtures[@]}" || die "models check failed on $device"

# 4. Timings: load, seconds per image (median of 5), peak host memory.
out=out/gpu-smoke
mkdir -p "$out"
printf '%-20s %8s %10s %10s %12s\n' model load_s median_s weights_MB peak_host_MB
for model in "${fixtures[@]}"; do
  ./genloom bench image --device "$device" --model "$model" --steps 10 --repeats 5 --json "$out/$model.json" \
    >/dev/null || die "bench image failed for $model on $device"
  /usr/bin/env python3 - "$out/$model.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"{r['model']:<20} {r['load_s']:8.2f} {r['median_s']:10.3f} {r['weights_resident_bytes'] / 1e6:10.1f} "
      f"{r['peak_rss_kib'] / 1024:12.1f}")
PY
done
echo "gpu-smoke: ok ($device)"
