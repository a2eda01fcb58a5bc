#!/usr/bin/env bash
# Collector upload throughput against nginx (Debian's, WebDAV PUT into a directory), same
# bodies, same load generator (one `curl --parallel` with 32 transfers in flight), for 100 KB
# and 10 MB perf-script traces.  Neither fsyncs: nginx's WebDAV module cannot, so the
# collector runs with --no-fsync for the comparison; a third line shows the collector with
# its default fsync.  Also prints the collector's peak RSS after each size (memory must
# stay flat as bodies grow: bodies stream to disk).
# Everything runs on 127.0.0.1 on free ports, in a temporary directory, stopped by pid.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
COLLECTOR=$BUILD/bin/fntrace-collector
CLIENTS=32
[ -x "$COLLECTOR" ] || { echo "bench: collector skipped (not built)"; exit 0; }
command -v nginx >/dev/null || { echo "bench: collector skipped (no nginx; install nginx-light)"; exit 0; }

tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    [ -f "$tmp/nginx/nginx.pid" ] && kill "$(cat "$tmp/nginx/nginx.pid")" 2>/dev/null
    sleep 0.2
    rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0; sleep 0.05; done; return 1; }

# bodies: real perf-script text, repeated to size
src=tests/data/perf-threads.stacks
for spec in 100K:102400 10M:10485760; do
    name=${spec%%:*} size=${spec#*:}
    : > "$tmp/body.$name"
    while [ "$(stat -c %s "$tmp/body.$name")" -lt "$size" ]; do cat "$src" >> "$tmp/body.$name"; done
    truncate -s "$size" "$tmp/body.$name"
done

# nginx with WebDAV PUT into $tmp/nginx/www/up/
mkdir -p "$tmp/nginx/www/up" "$tmp/nginx/body" "$tmp/nginx/logs"
nport=$(free_port)
cat > "$tmp/nginx/nginx.conf" <<CONF
user root root;
worker_processes 2;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/logs/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $tmp/nginx/body;
    client_max_body_size 100m;
    server {
        listen 127.0.0.1:$nport;
        root $tmp/nginx/www;
        location /up/ { dav_methods PUT; create_full_put_path on; dav_access user:rw group:r all:r; }
        location = / { return 200 "ok\n"; }
    }
}
CONF
nginx -c "$tmp/nginx/nginx.conf" -p "$tmp/nginx" -g 'daemon off;' 2>"$tmp/nginx/logs/stderr" &
pids+=($!)
wait_port "$nport" || { echo "bench: collector skipped (nginx did not start: $(cat "$tmp/nginx/logs/stderr"))"; exit 0; }

start_collector() {   # $1: extra args; sets cport, cpid
    cport=$(free_port)
    rm -rf "$tmp/store"
    "$COLLECTOR" --port "$cport" --dir "$tmp/store" --quiet --max-body 64M $1 2>"$tmp/collector.log" &
    cpid=$!
    pids+=($cpid)
    wait_port "$cport" || { echo "bench: collector did not start"; cat "$tmp/collector.log"; exit 1; }
}

calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }
rss_kb() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }

result() {   # label size n secs ok nsecs nok
    local label=$1 name=$2 n=$3 cs=$4 cok=$5 ns=$6 nok=$7 bytes
    bytes=$(stat -c %s "$tmp/body.$name")
    local cups cmbs nups nmbs ratio
    cups=$(calc "$cok / $cs"); cmbs=$(calc "$cok * $bytes / $cs / 1048576")
    nups=$(calc "$nok / $ns"); nmbs=$(calc "$nok * $bytes / $ns / 1048576")
    ratio=$(calc "$cups / $nups")
    printf 'bench: collector_upload size=%s clients=%d uploads=%d %s collector_uploads_per_s=%.0f collector_mb_per_s=%.1f nginx_uploads_per_s=%.0f nginx_mb_per_s=%.1f collector_ok=%d nginx_ok=%d ratio=%.2f (vs nginx WebDAV PUT)\n' \
        "$name" "$CLIENTS" "$n" "$label" "$cups" "$cmbs" "$nups" "$nmbs" "$cok" "$nok" "$ratio"
}

load_collector() {   # size n -> "secs ok"
    curl_args=(-s --parallel --parallel-max "$CLIENTS" -X POST -H 'X-name: bench'
               --data-binary "@$tmp/body.$1" -o /dev/null -w '%{http_code}\n'
               "http://127.0.0.1:$cport/?n=[1-$2]")
    local t0 t1; t0=$(date +%s.%N)
    curl "${curl_args[@]}" > "$tmp/codes" 2>/dev/null
    t1=$(date +%s.%N)
    echo "$(calc "$t1 - $t0") $(grep -c '^201$' "$tmp/codes")"
}

load_nginx() {   # size n -> "secs ok"
    rm -rf "$tmp/nginx/www/up"; mkdir -p "$tmp/nginx/www/up"
    local t0 t1; t0=$(date +%s.%N)
    curl -s --parallel --parallel-max "$CLIENTS" -T "$tmp/body.$1" -o /dev/null -w '%{http_code}\n' \
        "http://127.0.0.1:$nport/up/t[1-$2].perf" > "$tmp/codes" 2>/dev/null
    t1=$(date +%s.%N)
    echo "$(calc "$t1 - $t0") $(grep -cE '^(201|204)$' "$tmp/codes")"
}

best() {   # "secs ok" lines on stdin -> the fastest run that completed every upload
    sort -n | awk -v n="$1" '$2 == n {print; found=1; exit} END {if (!found) print "1e9 0"}'
}

ROUNDS=${ROUNDS:-3}
for mode in "--no-fsync:fsync=no" ":fsync=collector_only(nginx_cannot)"; do
    args=${mode%%:*} label=${mode#*:}
    start_collector "$args"
    for spec in 100K:1000 10M:48; do
        name=${spec%%:*} n=${spec#*:}
        load_collector "$name" 4 >/dev/null; load_nginx "$name" 4 >/dev/null    # warm up
        : > "$tmp/c.runs"; : > "$tmp/n.runs"
        for _ in $(seq "$ROUNDS"); do           # interleaved, best of ROUNDS for each
            load_collector "$name" "$n" >> "$tmp/c.runs"
            rm -rf "$tmp/store/bench"
            load_nginx "$name" "$n" >> "$tmp/n.runs"
        done
        read -r cs cok < <(best "$n" < "$tmp/c.runs")
        read -r ns nok < <(best "$n" < "$tmp/n.runs")
        result "$label" "$name" "$n" "$cs" "$cok" "$ns" "$nok"
        echo "bench: collector_memory size=$name $label peak_rss_kb=$(rss_kb "$cpid")"
    done
    kill "$cpid"; wait "$cpid" 2>/dev/null
done
