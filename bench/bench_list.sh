#!/usr/bin/env bash
# fntrace-flamescope's profile listing over 10,000 small generated traces (BENCH_LIST_N)
# in a directory store:
#   - the background indexing of them all, started by a first listing (one thread);
#   - one page (100 traces, newest first, then by samples) of GET /api/v1/profiles in a
#     freshly started daemon (cold: every summary read from an index header) and again
#     in the same daemon (warm: from the summary cache), medians of 5 for warm;
#   - beside `ls -lR` of the same folder (best of 3: the metadata alone), and upstream
#     FlameScope's /profile/ on the same folder when FLAMESCOPE_UPSTREAM names a checkout
#     of github.com/Netflix/flamescope (it walks the folder and reads each file's first
#     bytes to tell its type; it has no sample counts).
# The page cache is warm for every reader: the figures compare work, not the disk.
set -eu
. "$(dirname "$0")/common.sh"
BENCH_NAME=list
BUILD=${BUILD:-build}
BIN=$BUILD/bin/fntrace-flamescope
N=${BENCH_LIST_N:-10000}
work=$(mktemp -d)
pid=
cleanup() {
    stop
    rm -rf "$work"
}
trap cleanup EXIT
if [ ! -x "$BIN" ]; then
    echo "bench: list FAILED (missing $BIN: run make all)"
    exit 1
fi

# N traces in 50 function folders: 1 to 300 samples, 0 to 4 invocations each
/usr/bin/python3 - "$work/traces" "$N" <<'EOF'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for k in range(n):
    d = os.path.join(root, "fn%02d" % (k % 50))
    os.makedirs(d, exist_ok=True)
    out = ["# ========", "# captured on : bench", "# ========"]
    out += ["# fntrace invocation : id=i%d fn=f start=10.0 end=10.5" % i for i in range(k % 5)]
    for i in range(1 + (k * 7919) % 300):
        t = 10.0 + i * 0.005
        out += ["app 7/7 [000] %.6f: 5000000 cpu-clock:" % t,
                "\t    4010 work_%d+0x10 (/srv/app)" % (i % 7),
                "\t    4030 main+0x30 (/srv/app)", ""]
    p = os.path.join(d, "20261121T%06dZ-%05d.perf" % (k % 240000, k))
    with open(p, "w") as f:
        f.write("\n".join(out) + "\n")
    os.utime(p, (1790000000 + k, 1790000000 + k))
EOF
bytes=$(du -sb "$work/traces" | cut -f1)

ls_s=9999
for _ in 1 2 3; do
    t0=$(date +%s%N); ls -lR "$work/traces" >/dev/null; t1=$(date +%s%N)
    ls_s=$(awk -v a="$ls_s" -v b="$(( t1 - t0 ))" 'BEGIN{b/=1e9; print (b<a)?b:a}')
done

port=$(bench_free_port)
url=http://127.0.0.1:$port
start() {
    # index files outside the folder, so that upstream's walk (which does not skip
    # dot-folders) sees the traces only
    "$BIN" --port "$port" --dir "$work/traces" --index-dir "$work/index" --quiet 2>>"$work/log" &
    pid=$!
    wait_up
}
stat_of() {   # stat_of KEY: a counter of /api/v1/stats' "list" object
    curl -s "$url/api/v1/stats" | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['list']['$1'])"
}
PAGE="/api/v1/profiles?limit=100"
BYSAMPLES="/api/v1/profiles?limit=100&sort=samples"

# background indexing: listings hand traces to the indexer (its queue holds 256)
start
t0=$(date +%s%N)
while :; do
    t "$PAGE" >/dev/null
    done_n=$(( $(stat_of background_written) + $(stat_of background_failed) ))
    [ "$done_n" -ge "$N" ] && break
    [ $(( $(date +%s%N) - t0 )) -gt 600000000000 ] && { echo "bench: list error=indexing_timeout"; exit 1; }
    sleep 0.2
done
t1=$(date +%s%N)
index_s=$(awk -v d="$(( t1 - t0 ))" 'BEGIN{printf "%.2f", d/1e9}')
stop

start
cold=$(t "$PAGE")
warm=$(median 5 "$PAGE")
warm_samples=$(median 5 "$BYSAMPLES")
reads=$(stat_of header_reads)
stop
start
cold_samples=$(t "$BYSAMPLES")
stop
over() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", (b>0)?a/b:0}'; }
echo "bench: list traces=$N bytes=$bytes load=\"$(cut -d' ' -f1-3 /proc/loadavg)\" background_index_all_s=$index_s"
echo "bench: list page_cold_s=$cold page_warm_s=$warm by_samples_cold_s=$cold_samples by_samples_warm_s=$warm_samples header_reads_cold=$reads"
echo "bench: list ls_lR_s=$ls_s cold_vs_ls=$(over "$cold" "$ls_s")x warm_vs_ls=$(over "$warm" "$ls_s")x (lower is better: 1.00x costs what ls -lR of the folder costs)"

bench_upstream_ok || exit 0
bench_upstream_start "$work/traces" 0
up_first=$(t "/profile/")
up=$(median 3 "/profile/")          # about a minute each: libmagic on every file
stop
echo "bench: list_upstream profile_list_first_s=$up_first profile_list_s=$up (every trace, filename and type only)"
echo "bench: list_vs_upstream page_cold=$(over "$up_first" "$cold")x page_warm=$(over "$up" "$warm")x (upstream time over ours: higher is better)"
