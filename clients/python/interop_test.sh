#!/usr/bin/env bash
# Interoperability check: a Python client built from the .proto alone lists models and generates an
# image from a worker started with ./genloom worker. Needs python3-grpcio, python3-protobuf, protoc.
set -euo pipefail
cd "$(dirname "$0")/../.."
port=${GENLOOM_INTEROP_PORT:-50077}
out=$(mktemp -d)
log="$out/worker.log"
./genloom worker --port "$port" --metrics-port -1 --max-queue-delay-ms 0 >"$log" 2>&1 &
worker=$!
trap 'kill -TERM $worker 2>/dev/null || true; wait $worker 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  if grep -q "^ready:" "$log"; then break; fi
  if ! kill -0 $worker 2>/dev/null; then cat "$log"; echo "interop: worker exited" >&2; exit 1; fi
  sleep 1
done
grep -q "^ready:" "$log" || { cat "$log"; echo "interop: worker not ready" >&2; exit 1; }
client="/usr/bin/python3 clients/python/genloom_client.py --target localhost:$port"
$client list | tee "$out/models.txt"
grep -q "^tiny-ldm" "$out/models.txt"
$client generate --model tiny-ldm --prompt "a red circle on a blue background" --seed 3 --steps 10 --out "$out/red.png"
head -c 8 "$out/red.png" | od -An -c | grep -q "P   N   G"
echo "interop: python client listed models and generated a PNG"
