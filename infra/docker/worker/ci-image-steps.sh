#!/usr/bin/env bash
# The CPU worker image's build and run steps, without a container engine (CI has none):
#   1. the image's build stage: the distribution, then assemble.sh into a staging root
#      (/opt/genloom, /opt/libtorch) and the baked models (BAKE_MODELS=true variant);
#   2. the image's runtime: the same environment (PYTORCH_LIBRARY_PATH at the staged libtorch,
#      PYTORCH_VERSION/FLAVOR, DJL offline) and the same entrypoint and arguments;
#   3. the HEALTHCHECK's question (grpc.health.v1 Check of genloom.v1.GenerationService), asked
#      with a Python stand-in for grpc_health_probe, until SERVING;
#   4. STOPSIGNAL: SIGTERM, and the worker must exit.
# What it cannot do: pull base images, build grpc_health_probe, or run as the image's non-root
# user; infra/check.py checks those lines of the Dockerfiles.
#
#   bash infra/docker/worker/ci-image-steps.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."

stage=$(mktemp -d)
trap 'kill "${pid:-0}" 2>/dev/null || true; rm -rf "$stage"' EXIT

[ -f cli/target/genloom.jar ] || mvn -B -q -DskipTests -Dspotless.check.skip=true -pl cli -am package
PYTORCH_VERSION=2.7.1 bash infra/docker/worker/assemble.sh cli/target "$stage" cpu
mkdir -p "$stage/models"
for d in models/*/; do
  case "$d" in models/fixture-*) continue ;; esac  # conformance fixtures stay out of the image (.dockerignore)
  if [ -f "$d/manifest.json" ]; then cp -r "$d" "$stage/models/"; fi
done
echo "image-steps: staged $(ls "$stage/models" | wc -l) model packages, libtorch $(ls "$stage/opt/libtorch/lib" | wc -l) files"

port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
(
  cd "$stage"
  export PYTORCH_LIBRARY_PATH="$stage/opt/libtorch/lib" PYTORCH_VERSION=2.7.1 PYTORCH_FLAVOR=cpu \
    DJL_OFFLINE=true DJL_CACHE_DIR="$stage/djl" GENLOOM_MODELS="$stage/models" OMP_NUM_THREADS=1 \
    JAVA_TOOL_OPTIONS="-Dai.djl.pytorch.num_threads=1 -Dai.djl.pytorch.num_interop_threads=1"
  exec java -Dai.djl.offline=true -Xss4m -XX:MaxRAMPercentage=50 -jar "$stage/opt/genloom/genloom.jar" \
    worker --models="$stage/models" --device=cpu --port="$port" --metrics-port=-1
) > "$stage/worker.log" 2>&1 &
pid=$!

# grpc.health.v1.Health/Check with hand-encoded protobuf: request field 1 (service), response
# field 1 (status; 1 = SERVING).
/usr/bin/python3 - "$port" <<'PY'
import sys, time
import grpc
port = sys.argv[1]
service = b"genloom.v1.GenerationService"
request = b"\x0a" + bytes([len(service)]) + service
channel = grpc.insecure_channel(f"127.0.0.1:{port}")
check = channel.unary_unary("/grpc.health.v1.Health/Check")
deadline = time.time() + 300
status = None
while time.time() < deadline:
    try:
        reply = check(request, timeout=3)
        status = reply[1] if len(reply) >= 2 and reply[0] == 0x08 else 0
        if status == 1:
            print(f"image-steps: health SERVING on port {port}")
            sys.exit(0)
    except grpc.RpcError as e:
        status = e.code()
    time.sleep(1)
print(f"image-steps: never SERVING (last: {status})", file=sys.stderr)
sys.exit(1)
PY

kill -TERM "$pid"
for _ in $(seq 1 60); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 1
done
if kill -0 "$pid" 2>/dev/null; then
  echo "image-steps: the worker did not exit after SIGTERM" >&2
  tail -20 "$stage/worker.log" >&2
  exit 1
fi
grep -q "ready: serving" "$stage/worker.log" || { tail -20 "$stage/worker.log" >&2; exit 1; }
echo "image-steps: the worker drained and exited on SIGTERM"
