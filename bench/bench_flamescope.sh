#!/usr/bin/env bash
# fntrace-flamescope on a generated 100 MB perf-script profile, each cold figure in a
# freshly started daemon:
#   - cold heatmap and cold whole flame graph with no index file (the text is parsed;
#     the heatmap run also writes the index file), and with the index file present
#     (mapped and checked instead of parsed);
#   - warm heatmap and warm whole flame graph (median of 5, index in memory), warm
#     2-second range flame graphs (median of 20);
#   - index file size over trace size, the daemon's peak memory (parsing, loading);
#   - upstream FlameScope (its Python backend on Debian's python3-flask) on the same
#     file, when FLAMESCOPE_UPSTREAM names a checkout of github.com/Netflix/flamescope:
#     its cold heatmap and flame graph and our speedup ratios.  Its nflxprofile
#     dependency (not in Debian, unused for perf files) is replaced by an empty stub.
# The parse rate is printed beside `cat` reading the same file (page cache warm for
# both).  BENCH_FLAMESCOPE_MB sets the profile size (default 100).
set -eu
BUILD=${BUILD:-build}
BIN=$BUILD/bin/fntrace-flamescope
MB=${BENCH_FLAMESCOPE_MB:-100}
GEN=$BUILD/tests/progs/gen_profile
UPSTREAM=${FLAMESCOPE_UPSTREAM:-}
work=$(mktemp -d)
pid=
stop() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; fi
    pid=
}
cleanup() {
    stop
    rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/traces"
prof=$work/traces/bench.perf
idx=$work/traces/.index/bench.perf.fsidx

if [ ! -x "$GEN" ] || [ ! -x "$BIN" ]; then
    echo "bench: flamescope FAILED (missing $GEN or $BIN: run make all)"
    exit 1
fi
# the same deterministic profile bench_parse uses, generated once into $BUILD/bench/
. "$(dirname "$0")/common.sh"
src=$(bench_profile "$MB") || exit 1
ln "$src" "$prof" 2>/dev/null || cp "$src" "$prof"
bytes=$(stat -c %s "$prof")
samples=$(grep -c '^[^#[:space:]]' "$prof" || true)

# cat: best of 3 with the page cache warm
cat_s=9999
for _ in 1 2 3; do
    t0=$(date +%s%N); cat "$prof" >/dev/null; t1=$(date +%s%N)
    cat_s=$(awk -v a="$cat_s" -v b="$(( t1 - t0 ))" 'BEGIN{b/=1e9; print (b<a)?b:a}')
done

port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port
wait_up() {
    for _ in $(seq 600); do
        curl -s -o /dev/null "$url/profile/" && return 0
        sleep 0.05
    done
    echo "bench: flamescope error=server_did_not_start"; exit 1
}
start() {   # start [options]: a fresh daemon (nothing cached in memory)
    "$BIN" --port "$port" --dir "$work/traces" --quiet "$@" 2>>"$work/log" &
    pid=$!
    wait_up
}
t() {   # t PATH: seconds of one request (fails the benchmark on a non-200)
    local code s
    read -r code s < <(curl -s -o /dev/null -w '%{http_code} %{time_total}\n' "$url$1")
    [ "$code" = 200 ] || { echo "bench: flamescope error=http_${code}_$1" >&2; exit 1; }
    echo "$s"
}
median() {   # median N PATH: median seconds of N requests
    for _ in $(seq "$1"); do t "$2"; done | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'
}
hwm() { awk '/VmHWM/{print int($2/1024)}' "/proc/$pid/status"; }
HEAT="/heatmap/?filename=bench.perf&type=perf"
FLAME="/flamegraph/?filename=bench.perf&type=perf"

# no index file: parse (and write the index), then warm figures from memory
rm -rf "$work/traces/.index"
start
heat_noidx=$(t "$HEAT")
warm_heat=$(median 5 "$HEAT")
warm_flame=$(median 5 "$FLAME")
ranges=$work/ranges
for i in $(seq 20); do
    s=$(( i % 5 )); e=$(( s + 2 ))
    t "$FLAME&start=$s.5&end=$e" >>"$ranges"
done
warm_ms=$(awk '{print $1*1000}' "$ranges" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
hwm_parse=$(hwm)
stop
[ -s "$idx" ] || { echo "bench: flamescope error=no_index_file_written"; exit 1; }
idx_bytes=$(stat -c %s "$idx")

# index file present: a fresh daemon loads it
start
heat_idx=$(t "$HEAT")
hwm_load=$(hwm)
stop
start
flame_idx=$(t "$FLAME")
stop
# no index file, and none written: the whole flame graph from the text
start --no-index
flame_noidx=$(t "$FLAME")
stop

mb=$(awk -v b="$bytes" 'BEGIN{printf "%.1f", b/1048576}')
parse=$(awk -v b="$bytes" -v s="$heat_noidx" 'BEGIN{printf "%.0f", b/1048576/s}')
catr=$(awk -v b="$bytes" -v s="$cat_s" 'BEGIN{printf "%.0f", (s>0)? b/1048576/s : 0}')
ratio=$(awk -v p="$parse" -v c="$catr" 'BEGIN{printf "%.3f", (c>0)? p/c : 0}')
mem=$(awk -v k="$hwm_parse" -v b="$bytes" 'BEGIN{printf "%.3f", k*1048576/b}')
idx_ratio=$(awk -v i="$idx_bytes" -v b="$bytes" 'BEGIN{printf "%.3f", i/b}')
over() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.1f", (b>0)? a/b : 0}'; }
echo "bench: flamescope file_mb=$mb samples=$samples cold_heatmap_s=$heat_noidx cold_flamegraph_s=$flame_noidx warm_range_ms=$warm_ms peak_rss_mb=$hwm_parse"
echo "bench: flamescope_index index_mb=$(awk -v i="$idx_bytes" 'BEGIN{printf "%.1f", i/1048576}') index_over_trace=$idx_ratio goal=<0.15 cold_heatmap_indexed_s=$heat_idx cold_flamegraph_indexed_s=$flame_idx peak_rss_loaded_mb=$hwm_load"
echo "bench: flamescope_warm warm_heatmap_s=$warm_heat warm_flamegraph_s=$warm_flame cold_indexed_over_warm heatmap=$(over "$heat_idx" "$warm_heat") flamegraph=$(over "$flame_idx" "$warm_flame") goal=<=2"
echo "bench: flamescope_parse parse_mb_s=$parse cat_mb_s=$catr ratio=$ratio (vs cat)"
echo "bench: flamescope_memory peak_rss_over_file=$mem goal=<1 cold_heatmap_goal_s=0.5 warm_range_goal_ms=50"

# upstream FlameScope on the same file
if [ -z "$UPSTREAM" ]; then
    echo "bench: flamescope_upstream skipped (set FLAMESCOPE_UPSTREAM to a checkout of Netflix/flamescope)"
    exit 0
fi
if ! /usr/bin/python3 -c 'import flask, cachetools, magic' 2>/dev/null; then
    echo "bench: flamescope_upstream skipped (python3-flask, python3-cachetools, python3-magic: make deps)"
    exit 0
fi
stub=$work/stub/nflxprofile
mkdir -p "$stub"
: >"$stub/__init__.py"
: >"$stub/nflxprofile_pb2.py"
printf 'class StackProcessor: pass\nclass NodeJsStackProcessor: pass\nclass NodeJsPackageStackProcessor: pass\ndef get_flame_graph(*a, **k): raise NotImplementedError\n' >"$stub/flamegraph.py"
up_start() {
    (cd "$UPSTREAM" && PYTHONPATH="$UPSTREAM:$work/stub" exec /usr/bin/python3 -c "
import logging, sys
from app import config
config.PROFILE_DIR = sys.argv[1]
from app import APP
logging.getLogger('werkzeug').setLevel(logging.ERROR)
APP.run(host='127.0.0.1', port=int(sys.argv[2]), threaded=True, debug=False,
        use_reloader=False)" "$work/traces" "$port") \
        2>>"$work/upstream.log" &
    pid=$!
    wait_up
}
up_start
up_heat=$(t "$HEAT")
stop
up_start
up_flame=$(t "$FLAME")
stop
echo "bench: flamescope_upstream cold_heatmap_s=$up_heat cold_flamegraph_s=$up_flame"
echo "bench: flamescope_vs_upstream heatmap_no_index=$(over "$up_heat" "$heat_noidx")x heatmap_indexed=$(over "$up_heat" "$heat_idx")x flamegraph_no_index=$(over "$up_flame" "$flame_noidx")x flamegraph_indexed=$(over "$up_flame" "$flame_idx")x goal=>=50x"
