# Sourced by the benchmarks.  bench_profile MB: path of the deterministic generated
# profile of MB megabytes under $BUILD/bench/ (made once by tests/progs/gen_profile,
# shared by every benchmark that reads it); exits the benchmark if it cannot be made.
bench_profile() {
    local mb=$1 gen=$BUILD/tests/progs/gen_profile f=$BUILD/bench/profile-$1mb.perf
    mkdir -p "$BUILD/bench"
    if [ ! -s "$f" ]; then
        "$gen" "$mb" >"$f.tmp" && mv "$f.tmp" "$f" || { echo "bench: cannot generate $f" >&2; rm -f "$f.tmp"; exit 1; }
    fi
    echo "$f"
}
