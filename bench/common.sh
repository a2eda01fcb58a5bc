# Sourced by the benchmarks.  bench_profile MB: path of the deterministic generated
# profile of MB megabytes under $BUILD/bench/ (made once by tests/progs/gen_profile,
# shared by every benchmark that reads it); exits the benchmark if it cannot be made.
bench_profile() {
    local mb=$1 gen=$BUILD/tests/progs/gen_profile f=$BUILD/bench/profile-$1mb.perf
    mkdir -p "$BUILD/bench"
    if [ ! -s "$f" ]; then
        "$gen" "$mb" >"$f.tmp" && mv "$f.tmp" "$f" || { echo "bench: cannot generate $f" >&2; rm -f "$f.tmp"; exit 1; }
    fi
    echo "$f"
}

# A daemon on loopback, for the benchmarks that time HTTP requests.  They set BENCH_NAME,
# work (their temp folder), url and pid; stop ends the daemon in $pid, wait_up waits for
# $url/profile/ to answer, t PATH is the seconds of one request (a non-200 fails the
# benchmark), median N PATH the median of N.
bench_free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
stop() {
    if [ -n "${pid:-}" ]; then kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; fi
    pid=
}
wait_up() {
    for _ in $(seq 600); do
        curl -s -o /dev/null "$url/profile/" && return 0
        sleep 0.05
    done
    echo "bench: $BENCH_NAME error=server_did_not_start"; exit 1
}
t() {
    local code s
    read -r code s < <(curl -s -o /dev/null -w '%{http_code} %{time_total}\n' "$url$1")
    [ "$code" = 200 ] || { echo "bench: $BENCH_NAME error=http_${code}_$1" >&2; exit 1; }
    echo "$s"
}
median() {
    for _ in $(seq "$1"); do t "$2"; done | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'
}

# Upstream FlameScope (a checkout in $FLAMESCOPE_UPSTREAM) on DIR at $url's port, in $pid,
# with MEM_MB of address space (0: unbounded).  Its nflxprofile import is stubbed: the
# perf-script paths timed here never use it.
bench_upstream_ok() {
    if [ -z "${FLAMESCOPE_UPSTREAM:-}" ]; then
        echo "bench: ${BENCH_NAME}_upstream skipped (set FLAMESCOPE_UPSTREAM to a checkout of Netflix/flamescope)"
        return 1
    fi
    if ! /usr/bin/python3 -c 'import flask, cachetools, magic' 2>/dev/null; then
        echo "bench: ${BENCH_NAME}_upstream skipped (python3-flask, python3-cachetools, python3-magic: make deps)"
        return 1
    fi
}
bench_upstream_start() {   # bench_upstream_start DIR MEM_MB
    local stub=$work/stub/nflxprofile port=${url##*:}
    mkdir -p "$stub"
    : >"$stub/__init__.py"
    : >"$stub/nflxprofile_pb2.py"
    printf 'class StackProcessor: pass\nclass NodeJsStackProcessor: pass\nclass NodeJsPackageStackProcessor: pass\ndef get_flame_graph(*a, **k): raise NotImplementedError\n' >"$stub/flamegraph.py"
    (cd "$FLAMESCOPE_UPSTREAM" && { [ "$2" = 0 ] || ulimit -v $(( $2 * 1024 )); } &&
     PYTHONPATH="$FLAMESCOPE_UPSTREAM:$work/stub" exec /usr/bin/python3 -c "
import logging, sys
from app import config
config.PROFILE_DIR = sys.argv[1]
from app import APP
logging.getLogger('werkzeug').setLevel(logging.ERROR)
APP.run(host='127.0.0.1', port=int(sys.argv[2]), threaded=True, debug=False,
        use_reloader=False)" "$1" "$port") >>"$work/upstream.log" 2>&1 &
    pid=$!
    wait_up
}
