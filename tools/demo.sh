#!/usr/bin/env bash
# `make demo`: the whole pipeline on this machine, loopback only.
#   1. starts fntrace-collector (traces into ./traces) and fntrace-flamescope on it,
#   2. starts the example function app with tracing on (FNTRACE=1, 200 Hz, 5 s windows),
#   3. sends a mix of requests (hello, circle-area, pi, fibonacci, queue-echo),
#   4. waits for the first trace to reach the collector and prints its flamescope URL,
#   5. leaves everything running until Ctrl-C, then stops the three services by pid.
# Stopping: Ctrl-C (SIGINT to the process group), SIGINT/SIGTERM/SIGHUP to this script,
# SIGTERM to make (make forwards it), or SIGINT/SIGHUP/SIGQUIT to make's pid alone: make
# does not forward those (it waits for its children), so the script watches the make
# that runs it (DEMO_PARENT, set by `make demo`) and stops when make's handler for them
# has run (/proc: make resets its handler to the default before it waits) or make is
# gone.  Every process the script started, and their children, are stopped by pid.
# A command started with `&` by a shell without job control has SIGINT ignored (POSIX),
# and an ignored signal cannot be seen: `make demo &` from a script stops on SIGTERM; use
# `set -m` (or setsid) before it to have SIGINT work too.  The script says so at start.
# Ports: the embedded defaults (collector 8081, flamescope 5000, app 8080) when free,
# otherwise free ones; DEMO_DIR (default ./traces) is where the traces go.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
DIR=${DEMO_DIR:-./traces}
BIN=$BUILD/bin
for b in fntrace-collector fntrace-flamescope fnhandler-examples; do
    [ -x "$BIN/$b" ] || { echo "demo: $BIN/$b is not built (run make)" >&2; exit 1; }
done
command -v curl >/dev/null || { echo "demo: curl is needed (apt-get install curl)" >&2; exit 1; }

pids=()
logs=$(mktemp -d)

# every descendant of pid $1 (children first found, then theirs)
descendants() {
    local table todo=("$1") p c pp
    table=$(ps -e -o pid=,ppid=)
    while [ ${#todo[@]} -gt 0 ]; do
        p=${todo[0]}; todo=("${todo[@]:1}")
        while read -r c pp; do
            [ "$pp" = "$p" ] && [ "$c" != "$BASHPID" ] && { echo "$c"; todo+=("$c"); }
        done <<<"$table"
    done
}
alive() {   # a process that exists and is not a zombie
    local st
    st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) && [ -n "$st" ] && [ "$st" != Z ]
}
stop_all() {
    trap - INT TERM HUP EXIT
    echo
    echo "demo: stopping"
    local kids left p
    kids=$(descendants $$)
    # shellcheck disable=SC2086
    [ -n "$kids" ] && kill -TERM $kids 2>/dev/null
    for _ in $(seq 1 100); do           # up to 10 s for the services to drain
        left=
        for p in $kids; do alive "$p" && left="$left $p"; done
        [ -z "$left" ] && break
        sleep 0.1
    done
    # shellcheck disable=SC2086
    [ -n "$left" ] && { echo "demo: killing$left" >&2; kill -KILL $left 2>/dev/null; }
    wait 2>/dev/null
    rm -rf "$logs"
    echo "demo: stopped; the traces stay in $DIR"
}
trap 'stop_all; exit 0' INT TERM HUP
trap 'stop_all' EXIT

# the make that runs the demo: its fatal-signal handlers (SIGHUP, SIGINT, SIGQUIT: bits
# 0-2 of SigCgt) are reset to the default once one of them arrived
parent=${DEMO_PARENT:-}
caught() { sed -n 's/^SigCgt:[[:space:]]*//p' "/proc/$1/status" 2>/dev/null; }
parent_mask=0
if [ -n "$parent" ] && [ -r "/proc/$parent/status" ]; then
    parent_mask=$(( 0x$(caught "$parent") & 7 ))
fi
check_parent() {
    [ -n "$parent" ] || return 0
    local now
    if ! alive "$parent"; then
        echo; echo "demo: make is gone"
        stop_all; exit 0
    fi
    now=$(caught "$parent")
    if [ "$parent_mask" != 0 ] && [ -n "$now" ] && [ $(( 0x$now & parent_mask )) != "$parent_mask" ]; then
        echo; echo "demo: make was interrupted"
        stop_all; exit 0
    fi
}
nap() { check_parent; sleep "${1:-0.2}"; check_parent; }
if grep -q '^SigIgn:' /proc/$$/status && \
   [ $(( 0x$(sed -n 's/^SigIgn:[[:space:]]*//p' /proc/$$/status) & 2 )) != 0 ]; then
    echo "demo: SIGINT is ignored here (started with & by a shell without job control);" \
         "stop it with SIGTERM (kill $$ or kill the make), or start it after set -m" >&2
fi

in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() {   # default
    local p=$1
    if in_use "$p"; then
        for _ in $(seq 1 50); do
            p=$(( 20000 + RANDOM % 40000 ))
            in_use "$p" || break
        done
    fi
    echo "$p"
}
wait_up() {     # url name pid
    for _ in $(seq 1 200); do
        curl -s -o /dev/null "$1" && return 0
        kill -0 "$3" 2>/dev/null || break
        nap 0.05
    done
    echo "demo: $2 did not start; its log:" >&2
    cat "$logs/$2.log" >&2
    exit 1
}

mkdir -p "$DIR"
pc=$(pick_port 8081); pf=$(pick_port 5000); pa=$(pick_port 8080)

"$BIN/fntrace-collector" --listen 127.0.0.1 --port "$pc" --dir "$DIR" 2>"$logs/collector.log" &
pids+=($!); wait_up "http://127.0.0.1:$pc/healthz" collector $!
"$BIN/fntrace-flamescope" --listen 127.0.0.1 --port "$pf" --dir "$DIR" 2>"$logs/flamescope.log" &
pids+=($!); wait_up "http://127.0.0.1:$pf/profile/" flamescope $!
FNTRACE=1 FNTRACE_FREQ=200 FNTRACE_WINDOW=5s FNTRACE_NAME=examples \
FNTRACE_COLLECTOR="http://127.0.0.1:$pc/" FNTRACE_SPOOL="$BUILD/demo-spool" \
    "$BIN/fnhandler-examples" --port "$pa" 2>"$logs/app.log" &
app_pid=$!
pids+=($app_pid); wait_up "http://127.0.0.1:$pa/hello" app $app_pid

echo "demo: collector  http://127.0.0.1:$pc/   (a status page with the curl upload line; traces in $DIR)"
echo "demo: flamescope http://127.0.0.1:$pf/"
echo "demo: app        http://127.0.0.1:$pa/{hello,circle-area,pi,fibonacci,queue-echo}"
grep -m1 -E 'msg="tracing (on|off)' "$logs/app.log" | sed 's/^/demo: app says: /'

echo "demo: sending requests for 6 seconds (pi, fibonacci, hello, circle-area, queue-echo)"
before=$(find "$DIR/examples" -name '*.perf*' 2>/dev/null | wc -l)
u=http://127.0.0.1:$pa
end=$(( SECONDS + 6 ))
load() { while [ $SECONDS -lt $end ]; do "$@"; done; }
mix() {
    get "$u/hello?name=demo"; get "$u/circle-area?radius=2"
    get -H 'Content-Type: application/json' -d '{"Data":{"item":"demo message"},"Metadata":{}}' "$u/queue-echo"
}
get() { curl -s -o /dev/null --max-time 5 "$@"; }
load get "$u/pi?digits=3000" & l1=$!
load get "$u/fibonacci?n=30" & l2=$!
load mix & l3=$!
while alive $l1 || alive $l2 || alive $l3; do nap 0.2; done
wait $l1 $l2 $l3
echo "demo: $(curl -s "$u/hello?name=demo")  $(curl -s "$u/pi?digits=20")"

echo "demo: waiting for the first trace upload (every 5 s)"
trace=
for _ in $(seq 1 300); do
    n=$(find "$DIR/examples" -name '*.perf*' 2>/dev/null | wc -l)
    if [ "$n" -gt "$before" ]; then
        trace=$(find "$DIR/examples" -name '*.perf*' -printf '%T@ %P\n' | sort -n | tail -1 | cut -d' ' -f2)
        break
    fi
    kill -0 "$app_pid" 2>/dev/null || break
    nap 0.1
done
if [ -z "$trace" ]; then
    echo "demo: no trace arrived; the app's log:" >&2
    tail -20 "$logs/app.log" >&2
    exit 1
fi
file="examples/$trace"
enc=$(printf '%s' "$file" | sed 's|/|%2F|g')
echo
echo "demo: first trace: $DIR/$file"
echo "demo: open it in flamescope: http://127.0.0.1:$pf/#file=$enc"
echo "demo: (JSON: http://127.0.0.1:$pf/heatmap/?filename=$enc&type=perf)"
echo "demo: services keep running, one trace every 5 s while requests come; Ctrl-C stops them"
while :; do
    for p in "${pids[@]}"; do
        alive "$p" || { echo "demo: a service exited" >&2; exit 1; }
    done
    nap 0.5
done
