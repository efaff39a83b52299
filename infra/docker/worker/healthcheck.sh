#!/bin/sh
# Container HEALTHCHECK for the Genloom worker images: the standard gRPC health check
# (grpc.health.v1.Health/Check) of genloom.v1.GenerationService on the worker's own port.
#
# Health needs no bearer token (the worker applies --auth-token-file to the generation service
# only), but it does speak TLS when the worker was started with --tls-cert/--tls-key:
#   GENLOOM_HEALTH_PORT         gRPC port (default 50051; match --port)
#   GENLOOM_HEALTH_SERVICE      service to check (default genloom.v1.GenerationService; "" = overall)
#   GENLOOM_HEALTH_TLS          true when the worker serves TLS (the certificate is not verified:
#                               this is the container talking to itself over loopback)
#   GENLOOM_HEALTH_CLIENT_CERT, GENLOOM_HEALTH_CLIENT_KEY
#                               a client certificate, when the worker requires one (--tls-client-ca)
#   GENLOOM_HEALTH_PROBE        the probe binary (default /usr/local/bin/grpc_health_probe)
# Exit status 0 = SERVING; anything else is unhealthy (grpc_health_probe: 2 connection failure,
# 3 RPC failure, 4 NOT_SERVING).
set -eu

set -- "-addr=127.0.0.1:${GENLOOM_HEALTH_PORT:-50051}" \
  "-service=${GENLOOM_HEALTH_SERVICE-genloom.v1.GenerationService}" \
  -connect-timeout=3s -rpc-timeout=3s
if [ "${GENLOOM_HEALTH_TLS:-false}" = "true" ]; then
  set -- "$@" -tls -tls-no-verify
  if [ -n "${GENLOOM_HEALTH_CLIENT_CERT:-}" ]; then
    set -- "$@" "-tls-client-cert=${GENLOOM_HEALTH_CLIENT_CERT}" \
      "-tls-client-key=${GENLOOM_HEALTH_CLIENT_KEY:?GENLOOM_HEALTH_CLIENT_KEY is required with GENLOOM_HEALTH_CLIENT_CERT}"
  fi
fi
exec "${GENLOOM_HEALTH_PROBE:-/usr/local/bin/grpc_health_probe}" "$@"
