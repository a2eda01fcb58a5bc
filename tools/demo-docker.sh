#!/bin/sh
# `make demo-docker`: docker-compose.yml on this machine's Docker — the fntrace image built
# from this tree, the collector, flamescope and the traced example function (fntrace-perf
# seccomp profile, non-root, no capabilities), all on 127.0.0.1.  Sends a few requests
# once the function serves and prints where to look; Ctrl-C stops the stack.
# Ports: FNTRACE_COLLECTOR_PORT (8081), FNTRACE_FLAMESCOPE_PORT (5000),
# FNTRACE_FUNCTION_PORT (8080).
set -eu
cd "$(dirname "$0")/.."
if docker compose version >/dev/null 2>&1; then
    compose="docker compose"
elif command -v docker-compose >/dev/null 2>&1; then
    compose=docker-compose
else
    echo "demo-docker: neither 'docker compose' nor docker-compose is installed" >&2
    exit 1
fi
docker info >/dev/null 2>&1 || {
    echo "demo-docker: no Docker daemon answers (start it, or set DOCKER_HOST)" >&2
    exit 1
}
fn=http://127.0.0.1:${FNTRACE_FUNCTION_PORT:-8080}
ui=http://127.0.0.1:${FNTRACE_FLAMESCOPE_PORT:-5000}
(
    i=0
    until curl -fsS -o /dev/null "$fn/_/health" 2>/dev/null; do
        i=$((i + 1)); [ $i -lt 900 ] || exit 0; sleep 1
    done
    for n in 30 31 32 33 30 31 32 33 34 34; do curl -fsS -o /dev/null "$fn/?n=$n"; done
    echo
    echo "demo-docker: traces of the 'fibonacci' function: $ui/  (more calls: curl '$fn/?n=32')"
) &
exec $compose up --build
