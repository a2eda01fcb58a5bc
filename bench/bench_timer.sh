#!/usr/bin/env bash
# bench_timer — which CPU timer the timer sampler should use (issue 11: "measure and
# choose"): the CPU per context-switch round of two ping-ponging threads on one CPU
# (bench/timer_switch.c) with no timer, a CPU timer per thread (the sampler's choice) and
# one process CPU timer, all at 200 Hz; alternating rounds, medians.  Ratios against no
# timer; the per-thread timer should cost nothing measurable per switch.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
BIN=$BUILD/bench/bin/timer_switch
[ -x "$BIN" ] || { echo "bench: timer skipped ($BIN is not built)"; exit 0; }
command -v taskset >/dev/null || { echo "bench: timer skipped (no taskset)"; exit 0; }
CPU=$(( $(nproc) > 1 ? 1 : 0 ))
ROUNDS=${BENCH_TIMER_ROUNDS:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for _ in $(seq 1 "$ROUNDS"); do
    for m in none thread process; do
        taskset -c "$CPU" "$BIN" "$m" 200000 | sed -n 's/.*cpu_ns_per_round=//p' >>"$work/$m"
    done
done
med() { sort -n "$1" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
none=$(med "$work/none"); thread=$(med "$work/thread"); process=$(med "$work/process")
r() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b > 0) ? a / b : 0 }'; }
echo "bench: timer_switch_cost none_ns=$none thread_timer_ns=$thread process_timer_ns=$process thread_ratio=$(r "$thread" "$none") process_ratio=$(r "$process" "$none") rounds=$ROUNDS (CPU per ping-pong round on one CPU, 200 Hz timers, vs no timer)"
