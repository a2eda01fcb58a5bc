#!/usr/bin/env bash
# bench_handler: requests per second and p99 latency of the example app's `hello` under
# wrk (64 connections), side by side with the reference servers measured in the same run:
#   nginx returning a fixed 200 (the ceiling for an HTTP server on this machine), and
#   node's http server doing the same work as hello (query → "Hello from C, NAME!");
# then the cost of in-process tracing (FNTRACE=1 at 200 Hz, uploads to a local collector
# when one is built) with each sampler (FNTRACE_SAMPLER=timer and perf) against tracing
# off, beside the cost of `perf record -F 200 -g -p` on the same server (when perf is
# installed and allowed).  So that the ratios hold still, every server is pinned to one
# CPU and wrk to another (taskset; BENCH_SERVER_CPU, BENCH_WRK_CPU), nginx runs one
# worker, rounds alternate and medians are reported.
# Goals: >= 3x node, >= 0.9x nginx, tracing < 1% with the timer sampler.
# BENCH_SECONDS (default 2) per wrk run and BENCH_ROUNDS (default 7) alternating rounds
# for the servers; BENCH_TRACE_SECONDS (default 1) and BENCH_TRACE_ROUNDS (default 15)
# for the tracing rounds, taken in turn by BENCH_TRACE_PROCS (default 3) processes of each
# kind, whose costs are medians of PAIRED ratios (adjacent runs of one round) with their
# quartiles, in req/s and in CPU per request (the processes' schedstat nanoseconds over
# wrk's request count), and the CPU per request over all rounds.  Every server is
# started here and stopped by its pid.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SECS=${BENCH_SECONDS:-2}
CONNS=64
APP=$BUILD/bin/fnhandler-examples
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$work"
}
trap cleanup EXIT

for tool in wrk nginx node curl taskset; do
    command -v "$tool" >/dev/null || { echo "bench: handler skipped=1 reason=\"$tool not installed\""; exit 0; }
done
[ -x "$APP" ] || { echo "bench_handler: $APP is not built" >&2; exit 1; }

# server on one CPU, wrk on another (on a 1-CPU machine both share it)
ncpu=$(nproc)
SCPU=${BENCH_SERVER_CPU:-$((ncpu > 1 ? 1 : 0))}
WCPU=${BENCH_WRK_CPU:-0}
on_server() { exec taskset -c "$SCPU" "$@"; }   # only as `on_server CMD &`: $! is CMD
echo "bench: handler-setup server_cpu=$SCPU wrk_cpu=$WCPU cpus=$ncpu"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_http() {   # url
    for _ in $(seq 1 200); do
        curl -s -o /dev/null "$1" && return 0
        sleep 0.05
    done
    echo "bench_handler: nothing answers at $1" >&2
    return 1
}

# wrk → "RPS P99_MS"
measure() {     # url
    taskset -c "$WCPU" wrk -t1 -c$CONNS -d"${SECS}s" --latency "$1" >"$work/wrk.out" 2>&1 || { cat "$work/wrk.out" >&2; echo "0 0"; return; }
    awk '
        /Requests\/sec:/ { rps = $2 }
        $1 == "99%" { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
                      p99 = (u == "us") ? v / 1000 : (u == "s") ? v * 1000 : v }
        /Non-2xx or 3xx responses:/ { bad = $NF }
        / requests in / { reqs = $1 }
        END { printf "%.0f %.3f %d %d\n", rps, p99, bad, reqs }' "$work/wrk.out"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }'; }

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

# CPU time of a process in nanoseconds (the sum of its threads' schedstat runtimes: the
# scheduler's own clock, not the 10 ms ticks of /proc/PID/stat), and of its threads named
# COMM.  hello runs on the I/O threads, which live as long as the process.
cpu_ns() {      # pid [comm]
    local t sum=0 v
    for t in /proc/"$1"/task/*; do
        [ -n "${2:-}" ] && [ "$(cat "$t/comm" 2>/dev/null)" != "$2" ] && continue
        read -r v _ <"$t/schedstat" 2>/dev/null && sum=$((sum + v))
    done
    echo "$sum"
}
# --- the example app (local mode, tracing off) ---------------------------------------------
p_app=$(free_port)
FNTRACE= on_server "$APP" --port "$p_app" 2>"$work/app.log" &
app_pid=$!
pids+=($app_pid)
wait_http "http://127.0.0.1:$p_app/hello" || exit 1
# the same app with libmicrohttpd's zeroing of the 32 KiB connection pool after every
# keep-alive request kept (FNHANDLER_POOL_ZEROING=1): what skipping it saves
p_appz=$(free_port)
FNTRACE= FNHANDLER_POOL_ZEROING=1 on_server "$APP" --port "$p_appz" 2>"$work/appz.log" &
appz_pid=$!
pids+=($appz_pid)
wait_http "http://127.0.0.1:$p_appz/hello" || exit 1

# --- nginx: fixed 200 -----------------------------------------------------------------------
p_nginx=$(free_port)
mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    server {
        listen 127.0.0.1:$p_nginx;
        location / { default_type text/plain; return 200 "Hello from C, bench!"; }
    }
}
EOF
on_server nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" 2>"$work/nginx/stderr" &
nginx_pid=$!
pids+=($nginx_pid)
wait_http "http://127.0.0.1:$p_nginx/hello" || exit 1

# --- node: the same work as hello ---------------------------------------------------------------
p_node=$(free_port)
cat >"$work/hello.js" <<'EOF'
const http = require("http");
http.createServer((req, res) => {
    const name = new URL(req.url, "http://localhost").searchParams.get("name") || "World";
    res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8" });
    res.end(`Hello from C, ${name}!`);
}).listen(Number(process.argv[2]), "127.0.0.1");
EOF
on_server node "$work/hello.js" "$p_node" &
node_pid=$!
pids+=($node_pid)
wait_http "http://127.0.0.1:$p_node/hello" || exit 1

# Rounds alternate between the servers so that load from other processes on this machine
# falls on all of them alike; each figure is the median over the rounds.
ROUNDS=${BENCH_ROUNDS:-7}
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
rounds() {      # name url pid ... → $work/NAME.rps, .p99, .bad, .cpu ("CPU-ns requests")
    local c0 c1 q
    while [ $# -ge 3 ]; do
        c0=0; c1=0
        for q in $3; do c0=$((c0 + $(cpu_ns "$q"))); done
        measure "$2" >"$work/m"
        for q in $3; do c1=$((c1 + $(cpu_ns "$q"))); done
        read -r r p b n <"$work/m"
        echo "$r" >>"$work/$1.rps"; echo "$p" >>"$work/$1.p99"; echo "${b:-0}" >>"$work/$1.bad"
        echo "$((c1 - c0)) ${n:-0}" >>"$work/$1.cpu"
        shift 3
    done
}
for _ in $(seq 1 "$ROUNDS"); do
    rounds app "http://127.0.0.1:$p_app/hello?name=bench" "$app_pid" \
           appz "http://127.0.0.1:$p_appz/hello?name=bench" "$appz_pid" \
           nginx "http://127.0.0.1:$p_nginx/hello?name=bench" "$nginx_pid $(ps --ppid "$nginx_pid" -o pid= | tr '\n' ' ')" \
           node "http://127.0.0.1:$p_node/hello?name=bench" "$node_pid"
done
app_rps=$(median <"$work/app.rps"); app_p99=$(median <"$work/app.p99"); app_bad=$(awk '{ s += $1 } END { print s + 0 }' "$work/app.bad")
ngx_rps=$(median <"$work/nginx.rps"); ngx_p99=$(median <"$work/nginx.p99")
node_rps=$(median <"$work/node.rps"); node_p99=$(median <"$work/node.p99")
echo "bench: handler-hello rps=$app_rps p99_ms=$app_p99 non2xx=$app_bad connections=$CONNS seconds=$SECS rounds=$ROUNDS"
echo "bench: nginx-fixed-200 rps=$ngx_rps p99_ms=$ngx_p99"
echo "bench: node-hello rps=$node_rps p99_ms=$node_p99"
pair_ratio() {  # A B → median over the rounds of B's req/s over A's in the same round
    paste "$work/$1.rps" "$work/$2.rps" | awk '$1 > 0 { print $2 / $1 }' | median
}
pr_ngx=$(pair_ratio nginx app)
echo "bench: handler-hello-vs-nginx rps=$app_rps ratio=$(ratio "$app_rps" "$ngx_rps") paired_ratio=$(printf '%.3f' "$pr_ngx") spread=$(paste "$work/nginx.rps" "$work/app.rps" | awk '$1 > 0 { printf "%.2f\n", $2 / $1 }' | sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s..%s", lo, hi }') (vs nginx, goal >= 0.9)"
echo "bench: handler-hello-vs-node rps=$app_rps ratio=$(ratio "$app_rps" "$node_rps") (vs node, goal >= 3)"
ns_req() { awk '$2 > 0 { printf "%.0f\n", $1 / $2 }' "$work/$1.cpu" | median; }
pool_pct=$(paste "$work/app.cpu" "$work/appz.cpu" | awk '$2 > 0 && $4 > 0 { print 100 * (($3 / $4) / ($1 / $2) - 1) }' | median)
echo "bench: handler-hello-cpu ns_per_req=$(ns_req app) nginx_ns_per_req=$(ns_req nginx) node_ns_per_req=$(ns_req node) ratio_vs_nginx=$(ratio "$(ns_req nginx)" "$(ns_req app)") (CPU per request, medians; > 1: less CPU than nginx)"
echo "bench: handler-hello-pool-zeroing rps=$(median <"$work/appz.rps") ns_per_req=$(ns_req appz) paired_cpu_change_pct=$(printf '%.2f' "$pool_pct") (FNHANDLER_POOL_ZEROING=1, libmicrohttpd's zeroing of the 32 KiB pool kept, against it skipped, median of paired rounds)"
kill "$nginx_pid" "$node_pid" "$appz_pid" 2>/dev/null     # the references are done: less load for the next part

# --- tracing on (200 Hz) against off, measured back to back -------------------------------------
coll=$BUILD/bin/fntrace-collector
# the default window (10 s): each one writes up to FNTRACE_INVOCATIONS (10,000) invocation
# lines, gzips and uploads them, so shorter windows cost the tracing thread more
env_trace=(FNTRACE=1 FNTRACE_FREQ=200 FNTRACE_NAME=bench FNTRACE_SPOOL="$work/spool")
if [ -x "$coll" ]; then
    p_coll=$(free_port)
    "$coll" --listen 127.0.0.1 --port "$p_coll" --dir "$work/traces" 2>"$work/collector.log" &
    pids+=($!)
    wait_http "http://127.0.0.1:$p_coll/healthz" || exit 1
    env_trace+=(FNTRACE_COLLECTOR="http://127.0.0.1:$p_coll/")
fi
# Fresh processes of the same binary: tracing off, tracing on with the timer sampler and
# with the perf sampler, in alternating rounds.  Besides req/s, the CPU time each process
# spent per request (/proc/PID/stat utime+stime over wrk's request count) measures the
# cost of tracing with far less noise from other load.  BENCH_TRACE_PROCS (default 3)
# processes of each kind take the rounds in turn: two processes of one binary and one
# configuration differ by up to 3 % in CPU per request on this machine (where the
# kernel put their memory), as much as the cost measured, so one pair alone would
# measure its own layout.
kill "$app_pid" 2>/dev/null
TPROCS=${BENCH_TRACE_PROCS:-3}
declare -a off_ports off_pids timer_ports timer_pids on_ports on_pids perf_ports perf_pids
for k in $(seq 0 $((TPROCS - 1))); do
    p=$(free_port); off_ports[k]=$p
    FNTRACE= on_server "$APP" --port "$p" 2>"$work/app-off$k.log" &
    off_pids[k]=$!; pids+=($!)
    p=$(free_port); timer_ports[k]=$p
    env "${env_trace[@]}" FNTRACE_SAMPLER=timer taskset -c "$SCPU" "$APP" --port "$p" 2>"$work/app-timer$k.log" &
    timer_pids[k]=$!; pids+=($!)
    p=$(free_port); on_ports[k]=$p
    env "${env_trace[@]}" FNTRACE_SAMPLER=perf taskset -c "$SCPU" "$APP" --port "$p" 2>"$work/app-traced$k.log" &
    on_pids[k]=$!; pids+=($!)
done
for p in "${off_ports[@]}" "${timer_ports[@]}" "${on_ports[@]}"; do
    wait_http "http://127.0.0.1:$p/hello" || exit 1
done
p_timer=${timer_ports[0]}; timer_pid=${timer_pids[0]}
# The reference for the cost of sampling: processes of the same binary, tracing off,
# each sampled by the real `perf record -F 200 -g -p PID` (the same kind of events: per
# thread and CPU, inherited, cpu-clock, callchains).  Its cost counts the CPU of the
# app and of perf itself, as ours counts the app's tracing thread.
perf_ok=
if command -v perf >/dev/null; then
    perf_ok=1
    for k in $(seq 0 $((TPROCS - 1))); do
        p=$(free_port); perf_ports[k]=$p
        FNTRACE= on_server "$APP" --port "$p" 2>"$work/app-perf$k.log" &
        app=$!; pids+=($app)
        wait_http "http://127.0.0.1:$p/hello" || exit 1
        on_server perf record -F 200 -g -p "$app" -o "$work/perf$k.data" >"$work/perf$k.log" 2>&1 &
        perf_pids[k]="$app $!"; pids+=($!)
    done
    sleep 1
    for k in $(seq 0 $((TPROCS - 1))); do
        read -r _ rec <<<"${perf_pids[k]}"
        kill -0 "$rec" 2>/dev/null && continue
        perf_ok=; echo "bench: handler-tracing-perf skipped=1 reason=\"perf record -p failed: $(tail -n1 "$work/perf$k.log" | tr -d '"')\""
        break
    done
fi
TROUNDS=${BENCH_TRACE_ROUNDS:-15}
TSECS=${BENCH_TRACE_SECONDS:-1}
# one short wrk run: rps, p99 and "CPU-ns requests tracing-thread-ns" appended
cpu_round() {   # name url pid...
    local name=$1 url=$2 t0=0 t1=0 p f0 f1 r p99 b n
    shift 2
    for p in "$@"; do t0=$((t0 + $(cpu_ns "$p"))); done
    f0=$(cpu_ns "$1" fntrace)
    SECS=$TSECS measure "$url" >"$work/m"
    for p in "$@"; do t1=$((t1 + $(cpu_ns "$p"))); done
    f1=$(cpu_ns "$1" fntrace)
    read -r r p99 b n <"$work/m"
    echo "$r" >>"$work/$name.rps"; echo "$p99" >>"$work/$name.p99"
    echo "$((t1 - t0)) $n $((f1 - f0))" >>"$work/$name.cpu"
}
# Many short rounds; within a round the servers run back to back, in an order that turns
# round by round (off first, then last), so that each round gives a PAIRED ratio of
# adjacent runs and a slow drift of the machine's load falls on both sides alike.
servers=(off timer on)
[ -n "$perf_ok" ] && servers+=(perf)
url_of() { echo "http://127.0.0.1:$1/hello?name=bench"; }
for i in $(seq 1 "$TROUNDS"); do
    order=$(seq 0 $((${#servers[@]} - 1)))
    [ $((i % 2)) -eq 0 ] && order=$(echo "$order" | tac)
    j=$(((i - 1) % TPROCS))
    for k in $order; do
        case ${servers[$k]} in
            off) port=${off_ports[j]}; spid=${off_pids[j]} ;;
            timer) port=${timer_ports[j]}; spid=${timer_pids[j]} ;;
            on) port=${on_ports[j]}; spid=${on_pids[j]} ;;
            perf) port=${perf_ports[j]}; spid=${perf_pids[j]} ;;
        esac
        # shellcheck disable=SC2086  # the perf row's pids are two words
        cpu_round "${servers[$k]}" "$(url_of "$port")" $spid
    done
done
pct() { awk -v on="$1" -v off="$2" 'BEGIN { printf "%.2f", (off > 0) ? 100 * (on - off) / off : 0 }'; }
spread() { sort -n "$1" | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s..%s", lo, hi }'; }
# paired ratios of round i (B over A): "median p25..p75 min..max" of the percent change
paired() {      # kind A B; kind rps (B's req/s over A's) or cpu (B's CPU per request over A's)
    paste "$work/$2.$1" "$work/$3.$1" | awk -v kind="$1" '
        kind == "rps" && $1 > 0 { print 100 * ($2 / $1 - 1) }
        kind == "cpu" && $2 > 0 && $5 > 0 { print 100 * (($4 / $5) / ($1 / $2) - 1) }' |
        sort -g | awk '{ v[NR] = $1 }
        function q(f,  x, i) { x = 1 + (NR - 1) * f; i = int(x); return v[i] + (x - i) * (v[i + 1] - v[i]) }
        END { if (NR == 0) { print "0 0..0 0..0"; exit }
              v[NR + 1] = v[NR]
              printf "%.2f %.2f..%.2f %.2f..%.2f\n", q(0.5), q(0.25), q(0.75), v[1], v[NR] }'
}
cpu_per_req() { awk '{ t += $1; n += $2 } END { printf "%.3f", (n > 0) ? t / 1000 / n : 0 }' "$1"; }
off_us=$(cpu_per_req "$work/off.cpu"); off_rps=$(median <"$work/off.rps")
echo "bench: handler-tracing-rounds off=$(spread "$work/off.rps") timer=$(spread "$work/timer.rps") perf=$(spread "$work/on.rps") rounds=$TROUNDS seconds=$TSECS"
for s in timer on; do
    label=$([ "$s" = on ] && echo perf || echo timer)
    goal=$([ "$s" = timer ] && echo "goal cost < 1%" || echo "the perf sampler")
    us=$(cpu_per_req "$work/$s.cpu"); rps=$(median <"$work/$s.rps"); p99=$(median <"$work/$s.p99")
    read -r rmed riqr rrange <<<"$(paired rps off "$s")"
    read -r cmed ciqr crange <<<"$(paired cpu off "$s")"
    echo "bench: handler-tracing-$label rps_on=$rps rps_off=$off_rps p99_ms_on=$p99 paired_rps_change_pct=$rmed iqr=$riqr range=$rrange (median of $TROUNDS paired rounds vs tracing off, $goal)"
    echo "bench: handler-tracing-$label-cpu cpu_us_per_req_on=$us cpu_us_per_req_off=$off_us all_rounds_cpu_cost_pct=$(pct "$us" "$off_us") paired_cpu_cost_pct=$cmed iqr=$ciqr range=$crange (CPU per request: all rounds of the $TPROCS processes of each kind, and the median of paired rounds, vs tracing off)"
    thr_pct=$(awk '{ t += $1; f += $3 } END { printf "%.2f", (t > 0) ? 100 * f / t : 0 }' "$work/$s.cpu")
    thr_ms=$(awk -v secs="$TSECS" '{ f += $3; n++ } END { printf "%.2f", (n > 0) ? f / 1e6 / (n * secs) : 0 }' "$work/$s.cpu")
    echo "bench: handler-tracing-$label-thread cpu_share_pct=$thr_pct cpu_ms_per_s=$thr_ms (the tracing thread: draining, symbolizing, writing and uploading the windows; its CPU per second of wall time is fixed, so its share of a server that uses a whole CPU is cpu_ms_per_s / 10 %)"
done
if [ -n "$perf_ok" ]; then
    read -r pmed piqr prange <<<"$(paired cpu off perf)"
    read -r tmed _ _ <<<"$(paired cpu off timer)"
    pus=$(cpu_per_req "$work/perf.cpu")
    echo "bench: handler-tracing-vs-perf cpu_us_per_req_perf_record=$pus perf_record_all_rounds_cpu_cost_pct=$(pct "$pus" "$off_us") perf_record_paired_cpu_cost_pct=$pmed iqr=$piqr timer_paired_cpu_cost_pct=$tmed (perf record -F 200 -g -p on processes of a fourth kind, perf's own CPU included)"
    for k in $(seq 0 $((TPROCS - 1))); do
        read -r _ rec <<<"${perf_pids[k]}"
        kill -INT "$rec" 2>/dev/null
    done
fi
# Where the timer sampler's cost goes, measured so that other load on the machine cannot
# move it: fntrace itself (perf backend, 997 Hz) records the timer-traced app under wrk,
# and the share of the app's samples spent in tracing is counted: the tracing thread,
# the SIGPROF path (the handler, the kernel's timer expiry and signal delivery) and the
# invocation log.  The sum is what tracing costs that server, at equal fidelity.
FNTRACE_BIN=$BUILD/bin/fntrace
if [ -x "$FNTRACE_BIN" ]; then
    # 11 s: at least one window's write and upload falls inside
    taskset -c "$WCPU" wrk -t1 -c$CONNS -d13s "http://127.0.0.1:$p_timer/hello?name=bench" >/dev/null 2>&1 &
    wrk_pid=$!
    sleep 1
    taskset -c "$WCPU" "$FNTRACE_BIN" record -F 997 -d 11 -p "$timer_pid" -o "$work/attr.perf" 2>"$work/attr.log"
    wait "$wrk_pid" 2>/dev/null
    python3 - "$work/attr.perf" <<'PY' || true
import sys
text = open(sys.argv[1], errors="replace").read()
blocks = [b for b in text.split("\n\n") if " cpu-clock:" in b]
sig_keys = ("on_sigprof", "handle_signal", "arch_do_signal_or_restart", "setup_rt_frame",
            "__restore_rt", "rt_sigreturn", "posix_cpu_timer", "handle_posix_cpu_timers",
            "run_posix_cpu_timers", "send_sigqueue", "posixtimer", "cpu_timer_fire")
n = len(blocks) or 1
got = {"thread": 0, "signal": 0, "invlog": 0}
for b in blocks:
    lines = b.splitlines()
    comm = lines[0].split()[0] if lines else ""
    syms = [l.split()[1] for l in lines[1:] if l.startswith("\t") and len(l.split()) > 1]
    if comm == "fntrace":
        got["thread"] += 1
    elif any(k in s for s in syms for k in sig_keys):
        got["signal"] += 1
    elif any(s.startswith("invlog_push") for s in syms):   # invlog_now_ns runs untraced too
        got["invlog"] += 1
pct = {k: 100.0 * v / n for k, v in got.items()}
total = sum(pct.values())
print(f"bench: handler-tracing-timer-attributed samples={len(blocks)} app_cpus={len(blocks) / 997 / 11:.2f} tracing_thread_pct={pct['thread']:.2f} "
      f"sigprof_pct={pct['signal']:.2f} invlog_pct={pct['invlog']:.2f} total_pct={total:.2f} "
      f"goal=1% {'met' if total < 1 else 'missed'} (share of the timer-traced app's CPU, recorded by fntrace -F 997)")
PY
fi
echo "bench: handler-load loadavg=\"$(cut -d' ' -f1-3 /proc/loadavg)\" (other load on the machine moves req/s; the attributed cost does not depend on it)"
for l in timer traced; do
    grep -m1 -E 'msg="tracing (on|off)' "$work/app-${l}0.log" | sed 's/^/bench: handler-tracing-log /' || true
done
exit 0
