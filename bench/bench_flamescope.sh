#!/usr/bin/env bash
# fntrace-flamescope on a generated 100 MB perf-script profile, each cold figure in a
# freshly started daemon:
#   - cold heatmap and cold whole flame graph with no index file (the text is parsed;
#     the heatmap run also writes the index file), and with the index file present
#     (mapped and checked instead of parsed);
#   - with the index file present, BENCH_FLAMESCOPE_ROUNDS (default 5) fresh daemons in
#     turn, each timing its first request (cold) and the next two (warm): the medians;
#     warm 2-second range flame graphs (median of 20);
#   - index file size over trace size, the daemon's peak memory (parsing, loading);
#   - upstream FlameScope (its Python backend on Debian's python3-flask) on the same
#     file, when FLAMESCOPE_UPSTREAM names a checkout of github.com/Netflix/flamescope:
#     its cold heatmap and flame graph and our speedup ratios.  Its nflxprofile
#     dependency (not in Debian, unused for perf files) is replaced by an empty stub.
# The parse rate is printed beside `cat` reading the same file (page cache warm for
# both).  BENCH_FLAMESCOPE_MB sets the profile size (default 100).
# Then the same cold figures on a large generated profile (BENCH_FLAMESCOPE_BIG_MB,
# default 1024; 0 skips it), each with the daemon's peak memory (VmHWM), and upstream
# on it too, bounded: BENCH_UPSTREAM_TIMEOUT seconds (default 300) and
# BENCH_UPSTREAM_MEM_MB of address space (default 8192) per request, reported as
# timed_out/failed with the bound when it does not finish inside it.
set -eu
. "$(dirname "$0")/common.sh"
BENCH_NAME=flamescope
BUILD=${BUILD:-build}
BIN=$BUILD/bin/fntrace-flamescope
MB=${BENCH_FLAMESCOPE_MB:-100}
BIG_MB=${BENCH_FLAMESCOPE_BIG_MB:-1024}
UP_TIMEOUT=${BENCH_UPSTREAM_TIMEOUT:-300}
UP_MEM_MB=${BENCH_UPSTREAM_MEM_MB:-8192}
GEN=$BUILD/tests/progs/gen_profile
work=$(mktemp -d)
pid=
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

port=$(bench_free_port)
url=http://127.0.0.1:$port
start() {   # start [options]: a fresh daemon (nothing cached in memory)
    "$BIN" --port "$port" --dir "$work/traces" --quiet "$@" 2>>"$work/log" &
    pid=$!
    wait_up
}
hwm() { awk '/VmHWM/{print int($2/1024)}' "/proc/$pid/status"; }
HEAT="/heatmap/?filename=bench.perf&type=perf"
FLAME="/flamegraph/?filename=bench.perf&type=perf"

# no index file: parse (and write the index), then warm figures from memory
rm -rf "$work/traces/.index"
start
heat_noidx=$(t "$HEAT")
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

# index file present: fresh daemons load it; each round's first request (cold) and the
# next two (warm) in the same daemon, rounds alternating, medians over the rounds
med() { sort -n "$1" | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
cold_warm() {   # cold_warm ROUNDS PATH: "cold warm peak": medians, the last daemon's VmHWM
    : >"$work/cw_cold"; : >"$work/cw_warm"
    for _ in $(seq "$1"); do
        start
        t "$2" >>"$work/cw_cold"
        t "$2" >>"$work/cw_warm"
        t "$2" >>"$work/cw_warm"
        peak=$(hwm)
        stop
    done
    echo "$(med "$work/cw_cold") $(med "$work/cw_warm") $peak"
}
ROUNDS=${BENCH_FLAMESCOPE_ROUNDS:-5}
read -r heat_idx warm_heat hwm_load < <(cold_warm "$ROUNDS" "$HEAT")
read -r flame_idx warm_flame _ < <(cold_warm "$ROUNDS" "$FLAME")
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
up_ok=0
bench_upstream_ok && up_ok=1
up_start() { bench_upstream_start "$work/traces" "$UP_MEM_MB"; }
up_t() {   # up_t PATH: upstream's seconds for one request, or timed_out / failed
    local code s
    read -r code s < <(curl -s -o /dev/null -m "$UP_TIMEOUT" -w '%{http_code} %{time_total}\n' "$url$1")
    if [ "$code" = 200 ]; then echo "$s"
    elif [ "$code" = 000 ]; then echo "timed_out_at_${UP_TIMEOUT}s"
    else echo "failed_http_${code}_mem_bound_${UP_MEM_MB}mb"; fi
}
num() { case $1 in ''|*[!0-9.]*) return 1 ;; esac; }
vs() {   # vs UPSTREAM OURS: the ratio, or what upstream did
    if num "$1"; then over "$1" "$2"; echo x; else echo "n/a($1)"; fi
}
if [ "$up_ok" = 1 ]; then
    up_start
    up_heat=$(up_t "$HEAT")
    stop
    up_start
    up_flame=$(up_t "$FLAME")
    stop
    echo "bench: flamescope_upstream cold_heatmap_s=$up_heat cold_flamegraph_s=$up_flame"
    echo "bench: flamescope_vs_upstream heatmap_no_index=$(vs "$up_heat" "$heat_noidx" | tr -d '\n') heatmap_indexed=$(vs "$up_heat" "$heat_idx" | tr -d '\n') flamegraph_no_index=$(vs "$up_flame" "$flame_noidx" | tr -d '\n') flamegraph_indexed=$(vs "$up_flame" "$flame_idx" | tr -d '\n') goal=>=50x"
fi

# the large profile: cold figures only, each in a fresh daemon, with its peak memory
[ "$BIG_MB" -gt 0 ] 2>/dev/null || exit 0
big=$(bench_profile "$BIG_MB") || exit 1
rm -f "$prof"
ln "$big" "$prof" 2>/dev/null || cp "$big" "$prof"
bbytes=$(stat -c %s "$prof")
rm -rf "$work/traces/.index"
start
b_heat_noidx=$(t "$HEAT"); b_hwm_heat_noidx=$(hwm)
stop
start --no-index
b_flame_noidx=$(t "$FLAME"); b_hwm_flame_noidx=$(hwm)
stop
read -r b_heat_idx b_warm_heat b_hwm_heat_idx < <(cold_warm "${BENCH_FLAMESCOPE_BIG_ROUNDS:-3}" "$HEAT")
read -r b_flame_idx b_warm_flame b_hwm_flame_idx < <(cold_warm "${BENCH_FLAMESCOPE_BIG_ROUNDS:-3}" "$FLAME")
start
b_flame_bytes=$(curl -s -o /dev/null -w '%{size_download}' "$url$FLAME")
stop
b_idx_bytes=$(stat -c %s "$work/traces/.index/bench.perf.fsidx")
bmb=$(awk -v b="$bbytes" 'BEGIN{printf "%.1f", b/1048576}')
fmb=$(awk -v b="$bbytes" 'BEGIN{printf "%.0f", b/1048576}')
echo "bench: flamescope_big file_mb=$bmb index_over_trace=$(awk -v i="$b_idx_bytes" -v b="$bbytes" 'BEGIN{printf "%.3f", i/b}') flamegraph_json_mb=$(awk -v b="$b_flame_bytes" 'BEGIN{printf "%.0f", b/1048576}')"
echo "bench: flamescope_big no_index cold_heatmap_s=$b_heat_noidx peak_rss_mb=$b_hwm_heat_noidx cold_flamegraph_s=$b_flame_noidx peak_rss_mb=$b_hwm_flame_noidx"
echo "bench: flamescope_big indexed cold_heatmap_s=$b_heat_idx peak_rss_mb=$b_hwm_heat_idx cold_flamegraph_s=$b_flame_idx peak_rss_mb=$b_hwm_flame_idx warm_heatmap_s=$b_warm_heat warm_flamegraph_s=$b_warm_flame (file $fmb MB: goal peak < file size)"
if [ "$up_ok" = 1 ]; then
    up_start
    b_up_heat=$(up_t "$HEAT")
    stop
    up_start
    b_up_flame=$(up_t "$FLAME")
    stop
    echo "bench: flamescope_big_upstream cold_heatmap_s=$b_up_heat cold_flamegraph_s=$b_up_flame (bounds ${UP_TIMEOUT}s, ${UP_MEM_MB} MB of address space)"
    echo "bench: flamescope_big_vs_upstream heatmap_no_index=$(vs "$b_up_heat" "$b_heat_noidx" | tr -d '\n') heatmap_indexed=$(vs "$b_up_heat" "$b_heat_idx" | tr -d '\n') flamegraph_no_index=$(vs "$b_up_flame" "$b_flame_noidx" | tr -d '\n') flamegraph_indexed=$(vs "$b_up_flame" "$b_flame_idx" | tr -d '\n') goal=>=50x"
fi
