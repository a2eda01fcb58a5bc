#!/usr/bin/env bash
# `make demo`: the whole pipeline on this machine, loopback only.
#   1. starts fntrace-collector (traces into ./traces) and fntrace-flamescope on it,
#   2. starts the example function app with tracing on (FNTRACE=1, 200 Hz, 5 s windows),
#   3. sends a mix of requests (hello, circle-area, pi, fibonacci, queue-echo),
#   4. waits for the first trace to reach the collector and prints its flamescope URL,
#   5. leaves everything running until Ctrl-C, then stops the three services by pid.
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
stop_all() {
    trap - INT TERM EXIT
    echo
    echo "demo: stopping"
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$logs"
    echo "demo: stopped; the traces stay in $DIR"
}
trap 'stop_all; exit 0' INT TERM
trap 'stop_all' EXIT

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
        sleep 0.05
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

echo "demo: collector  http://127.0.0.1:$pc/   (traces in $DIR)"
echo "demo: flamescope http://127.0.0.1:$pf/"
echo "demo: app        http://127.0.0.1:$pa/{hello,circle-area,pi,fibonacci,queue-echo}"
grep -m1 -E 'msg="tracing (on|off)' "$logs/app.log" | sed 's/^/demo: app says: /'

echo "demo: sending requests for 6 seconds (pi, fibonacci, hello, circle-area, queue-echo)"
before=$(find "$DIR/examples" -name '*.perf*' 2>/dev/null | wc -l)
u=http://127.0.0.1:$pa
end=$(( SECONDS + 6 ))
get() { curl -s -o /dev/null "$@"; }
load() { while [ $SECONDS -lt $end ]; do "$@"; done; }
mix() {
    get "$u/hello?name=demo"; get "$u/circle-area?radius=2"
    get -H 'Content-Type: application/json' -d '{"Data":{"item":"demo message"},"Metadata":{}}' "$u/queue-echo"
}
load get "$u/pi?digits=3000" & l1=$!
load get "$u/fibonacci?n=30" & l2=$!
load mix & l3=$!
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
    sleep 0.1
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
        kill -0 "$p" 2>/dev/null || { echo "demo: a service exited" >&2; exit 1; }
    done
    sleep 1
done
