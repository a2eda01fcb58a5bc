#!/usr/bin/env bash
# fntrace-flamescope on a generated 100 MB perf-script profile: cold heatmap (index
# build included), cold whole flame graph (the file touched so the index is rebuilt),
# warm range flame graphs (median of 20), and the daemon's peak memory against the
# file's size.  The parse rate is printed beside `cat` reading the same file (page cache
# warm for both) as the physical reference.
# BENCH_FLAMESCOPE_MB sets the profile size (default 100).
set -eu
BUILD=${BUILD:-build}
BIN=$BUILD/bin/fntrace-flamescope
MB=${BENCH_FLAMESCOPE_MB:-100}
GEN=$BUILD/tests/progs/gen_profile
work=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/traces"
prof=$work/traces/bench.perf

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
"$BIN" --port "$port" --dir "$work/traces" --quiet 2>"$work/log" &
pid=$!
for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$port/profile/" && break
    sleep 0.05
done
url=http://127.0.0.1:$port
t() { curl -s -o /dev/null -w '%{http_code} %{time_total}\n' "$url$1"; }

read -r code heat_s < <(t "/heatmap/?filename=bench.perf&type=perf")
[ "$code" = 200 ] || { echo "bench: flamescope error=heatmap_http_$code"; exit 1; }
touch "$prof"      # new mtime: the next request builds the index again
read -r code flame_s < <(t "/flamegraph/?filename=bench.perf&type=perf")
[ "$code" = 200 ] || { echo "bench: flamescope error=flamegraph_http_$code"; exit 1; }
ranges=$work/ranges
for i in $(seq 20); do
    s=$(( i % 5 )); e=$(( s + 2 ))
    t "/flamegraph/?filename=bench.perf&type=perf&start=$s.5&end=$e" >>"$ranges"
done
warm_ms=$(awk '{print $2*1000}' "$ranges" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
hwm_kb=$(awk '/VmHWM/{print $2}' "/proc/$pid/status")

mb=$(awk -v b="$bytes" 'BEGIN{printf "%.1f", b/1048576}')
parse=$(awk -v b="$bytes" -v s="$heat_s" 'BEGIN{printf "%.0f", b/1048576/s}')
catr=$(awk -v b="$bytes" -v s="$cat_s" 'BEGIN{printf "%.0f", (s>0)? b/1048576/s : 0}')
ratio=$(awk -v p="$parse" -v c="$catr" 'BEGIN{printf "%.3f", (c>0)? p/c : 0}')
mem=$(awk -v k="$hwm_kb" -v b="$bytes" 'BEGIN{printf "%.3f", k*1024/b}')
echo "bench: flamescope file_mb=$mb samples=$samples cold_heatmap_s=$heat_s cold_flamegraph_s=$flame_s warm_range_ms=$warm_ms peak_rss_mb=$((hwm_kb / 1024))"
echo "bench: flamescope_parse parse_mb_s=$parse cat_mb_s=$catr ratio=$ratio (vs cat)"
echo "bench: flamescope_memory peak_rss_over_file=$mem goal=<1 cold_heatmap_goal_s=0.5 warm_range_goal_ms=50"
