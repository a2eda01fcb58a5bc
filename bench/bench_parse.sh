#!/usr/bin/env bash
# bench_parse — lib/perfscript's parser over a 100 MB profile, against `cat` (raw read
# speed from the page cache) and `wc -l` (the cheapest line scan), measured in the same
# run on the same file. The profile is generated once (deterministic: gen_profile) into
# $BUILD/bench/ and read twice before timing so that every reader reads from memory.
# Each figure is the best of 5 runs of the whole process (wall clock).
#   BENCH_PARSE_MB=N changes the profile size.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
MB=${BENCH_PARSE_MB:-100}
gen=$BUILD/tests/progs/gen_profile
prog=$BUILD/bench/bin/parse_bench
if [ ! -x "$gen" ] || [ ! -x "$prog" ]; then
    echo "bench: parse FAILED (missing $gen or $prog: run make all)"
    exit 1
fi
. "$(dirname "$0")/common.sh"
f=$(bench_profile "$MB") || exit 1
bytes=$(stat -c %s "$f")
cat "$f" >/dev/null
cat "$f" >/dev/null

# best wall-clock nanoseconds of 5 runs of "$@"
best_ns() {
    local best="" s e d i
    for i in 1 2 3 4 5; do
        s=$(date +%s%N)
        "$@" >/dev/null
        e=$(date +%s%N)
        d=$((e - s))
        if [ -z "$best" ] || [ "$d" -lt "$best" ]; then best=$d; fi
    done
    echo "$best"
}
mbs() { awk -v b="$bytes" -v ns="$1" 'BEGIN { printf "%.1f", b / 1e6 / (ns / 1e9) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b / a }'; }

cat_ns=$(best_ns cat "$f")
wc_ns=$(best_ns wc -l "$f")
parse_ns=$(best_ns "$prog" --repeat 1 "$f")
intern_ns=$(best_ns "$prog" --repeat 1 --intern "$f")
stats=$("$prog" --repeat 1 "$f")
mem=$("$prog" --repeat 3 --mem "$f")

echo "bench: parse_input file=$(basename "$f") ${stats% seconds=*}"
echo "bench: parse_cat mb_s=$(mbs "$cat_ns") seconds=$(awk -v n="$cat_ns" 'BEGIN{printf "%.4f", n/1e9}')"
echo "bench: parse_wc mb_s=$(mbs "$wc_ns") ratio=$(ratio "$wc_ns" "$cat_ns") (vs cat)"
echo "bench: parse mb_s=$(mbs "$parse_ns") ratio=$(ratio "$parse_ns" "$cat_ns") (vs cat)"
echo "bench: parse_intern mb_s=$(mbs "$intern_ns") ratio=$(ratio "$intern_ns" "$cat_ns") (vs cat)"
echo "bench: parse_mem_in_process seconds=${mem#* seconds=} (parser alone, text already in memory)"
