#!/usr/bin/env bash
# The OpenAI images API through the official openai npm client (version pinned in package.json and
# package-lock.json): a worker started with ./genloom worker, serving tiny-ldm with a bearer token
# and --openai-port, answers images.generate, models.list, a bad size, a wrong token and an
# overloaded queue. Needs node and npm.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../.."
out=$(mktemp -d)
log="$out/worker.log"
mkdir "$out/models"
ln -s "$PWD/models/tiny-ldm" "$out/models/tiny-ldm"
token="openai-test-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
printf '%s\n' "$token" >"$out/token"
./genloom worker --models "$out/models" --port 0 --metrics-port -1 --openai-port 0 \
  --auth-token-file "$out/token" --max-queue 2 --max-batch 1 --max-queue-delay-ms 0 >"$log" 2>&1 &
worker=$!
trap 'kill -TERM $worker 2>/dev/null || true; wait $worker 2>/dev/null || true; rm -rf "$out"' EXIT
for _ in $(seq 1 120); do
  if grep -q "^ready:" "$log"; then break; fi
  if ! kill -0 $worker 2>/dev/null; then cat "$log"; echo "openai: worker exited" >&2; exit 1; fi
  sleep 1
done
grep -q "^ready:" "$log" || { cat "$log"; echo "openai: worker not ready" >&2; exit 1; }
base=$(sed -n 's/^OpenAI images API on \(http[^ ]*\)$/\1/p' "$log")
[ -n "$base" ] || { cat "$log"; echo "openai: the worker printed no OpenAI API address" >&2; exit 1; }
(cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
if ! GENLOOM_OPENAI_BASE_URL="$base" GENLOOM_OPENAI_TOKEN="$token" \
  node --test "$here/test/openai.test.mjs"; then
  echo "openai: the node openai client tests failed; worker log:" >&2
  tail -n 40 "$log" >&2
  exit 1
fi
echo "openai: the openai npm client generated images, listed models and got 400, 401, 404 and 429"
