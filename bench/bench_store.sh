#!/usr/bin/env bash
# The blob store (azblob) against the directory store, in the same run:
#   - uploads per second of 100 KB perf-script bodies (16 concurrent clients, curl
#     --parallel) through one collector into Azurite, through two collectors sharing the
#     container (the clients split between them), and through one collector into a
#     directory (fsync on, as the blob store's 201 also means durable);
#   - flamescope's cold heatmap of a generated 100 MB profile read from the blob store
#     (an empty blob cache: download and index) against the same file on disk.
# Azurite (tests/azurite, `make deps`) runs on a loopback port in a temporary directory.
# BENCH_STORE_UPLOADS sets the uploads per round (default 400), BENCH_STORE_MB the profile.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
COLLECTOR=$BUILD/bin/fntrace-collector
FLAMESCOPE=$BUILD/bin/fntrace-flamescope
AZURITE=tests/azurite/node_modules/azurite/dist/src/blob/main.js
N=${BENCH_STORE_UPLOADS:-400}
MB=${BENCH_STORE_MB:-100}
CLIENTS=16
[ -x "$COLLECTOR" ] && [ -x "$FLAMESCOPE" ] || { echo "bench: store skipped (not built)"; exit 0; }
[ -f "$AZURITE" ] || { echo "bench: store skipped (Azurite not installed: make deps)"; exit 0; }

tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 300); do curl -s -o /dev/null "$1" && return 0; sleep 0.05; done; return 1; }
calc() { awk "BEGIN { printf \"%.3f\", $1 }"; }

aport=$(free_port)
mkdir -p "$tmp/azurite"
node "$AZURITE" --blobHost 127.0.0.1 --blobPort "$aport" --location "$tmp/azurite" --silent \
    >"$tmp/azurite.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$aport/" || { echo "bench: store FAILED (Azurite did not start)"; exit 1; }
export AZURE_STORAGE_CONNECTION_STRING="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:$aport/devstoreaccount1;"

start_collector() {   # store args... ; sets port
    port=$(free_port)
    "$COLLECTOR" --port "$port" --quiet --max-body 0 "$@" >>"$tmp/collector.log" 2>&1 &
    pids+=($!)
    wait_http "http://127.0.0.1:$port/healthz" || { echo "bench: store FAILED (collector did not start)"; cat "$tmp/collector.log"; exit 1; }
}

src=tests/data/perf-threads.stacks
: > "$tmp/body"
while [ "$(stat -c %s "$tmp/body")" -lt 102400 ]; do cat "$src" >> "$tmp/body"; done
truncate -s 102400 "$tmp/body"

load() {   # ports... -> "secs ok": N uploads split over the ports, CLIENTS in all
    local n=$(( N / $# )) par=$(( CLIENTS / $# )) t0 t1 i=0
    t0=$(date +%s.%N)
    for port in "$@"; do
        curl -s --parallel --parallel-max "$par" -X POST -H 'X-name: bench' \
            --data-binary "@$tmp/body" -o /dev/null -w '%{http_code}\n' \
            "http://127.0.0.1:$port/?n=[1-$n]" > "$tmp/codes.$i" 2>/dev/null &
        i=$((i + 1))
    done
    wait $(jobs -p | grep -vxF -f <(printf '%s\n' "${pids[@]}"))
    t1=$(date +%s.%N)
    echo "$(calc "$t1 - $t0") $(cat "$tmp"/codes.* | grep -c '^201$')"
    rm -f "$tmp"/codes.*
}

start_collector --store azblob://devstoreaccount1/bench; c1=$port
start_collector --store azblob://devstoreaccount1/bench; c2=$port
start_collector --dir "$tmp/dirstore"; cd_=$port
best() {   # label ports... : best of 3 rounds
    local label=$1 bs=0 ok=0; shift
    for _ in 1 2 3; do
        read -r s k < <(load "$@")
        local r; r=$(calc "$k / $s")
        if awk -v a="$r" -v b="$bs" 'BEGIN{exit !(a>b)}'; then bs=$r; ok=$k; fi
    done
    echo "$bs $ok"
}
read -r one one_ok < <(best one "$c1")
read -r two two_ok < <(best two "$c1" "$c2")
read -r dir dir_ok < <(best dir "$cd_")
echo "bench: store_upload size=100K clients=$CLIENTS uploads=$N azblob_1_collector_per_s=$(printf %.0f "$one") azblob_2_collectors_per_s=$(printf %.0f "$two") dir_per_s=$(printf %.0f "$dir") ok=$one_ok/$two_ok/$dir_ok ratio=$(calc "$one / $dir") (azblob vs directory, one collector) scale=$(calc "$two / $one") (two collectors vs one)"

# flamescope: cold heatmap from the blob store vs from disk
. bench/common.sh
prof=$(bench_profile "$MB") || exit 1
bytes=$(stat -c %s "$prof")
id=$(curl -s -X POST -H 'X-name: big' --data-binary "@$prof" "http://127.0.0.1:$c1/" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])') \
    || { echo "bench: store FAILED (upload of the profile)"; exit 1; }
mkdir -p "$tmp/disk/big"
ln "$prof" "$tmp/disk/big/p.perf" 2>/dev/null || cp "$prof" "$tmp/disk/big/p.perf"
heat() {   # port filename -> seconds
    curl -s -o /dev/null -w '%{http_code} %{time_total}\n' "http://127.0.0.1:$1/heatmap/?filename=$2&type=perf"
}
fs_start() {   # args... ; sets port, fspid
    port=$(free_port)
    "$FLAMESCOPE" --port "$port" --quiet "$@" >>"$tmp/flamescope.log" 2>&1 &
    fspid=$!
    wait_http "http://127.0.0.1:$port/profile/" || { echo "bench: store FAILED (flamescope did not start)"; kill "$fspid"; exit 1; }
}
fs_stop() { kill "$fspid"; wait "$fspid" 2>/dev/null; }
blob_s=9999 disk_s=9999 warm_s=9999
for round in 1 2 3; do      # a fresh daemon and an empty blob cache each round: cold
    fs_start --store azblob://devstoreaccount1/bench --blob-cache "$tmp/cache$round"
    read -r code s < <(heat "$port" "$id")
    [ "$code" = 200 ] || { echo "bench: store FAILED (blob heatmap HTTP $code)"; fs_stop; exit 1; }
    blob_s=$(awk -v a="$blob_s" -v b="$s" 'BEGIN{print (b<a)?b:a}')
    fs_stop
    fs_start --store azblob://devstoreaccount1/bench --blob-cache "$tmp/cache$round"
    read -r code s < <(heat "$port" "$id")       # a new daemon, the blob on local disk
    warm_s=$(awk -v a="$warm_s" -v b="$s" 'BEGIN{print (b<a)?b:a}')
    fs_stop
    fs_start --dir "$tmp/disk"
    read -r code s < <(heat "$port" big/p.perf)
    [ "$code" = 200 ] || { echo "bench: store FAILED (disk heatmap HTTP $code)"; fs_stop; exit 1; }
    disk_s=$(awk -v a="$disk_s" -v b="$s" 'BEGIN{print (b<a)?b:a}')
    fs_stop
    rm -rf "$tmp/cache$round"
done
echo "bench: store_flamescope file_mb=$(calc "$bytes / 1048576") cold_heatmap_blob_s=$blob_s cold_heatmap_blob_cached_s=$warm_s cold_heatmap_disk_s=$disk_s ratio=$(calc "$blob_s / $disk_s") (blob vs disk, best of 3)"
