#!/bin/sh
# Builds each libFuzzer target given on the command line against the fuzz build's
# libraries and runs it for FUZZ_TIME seconds on its seed corpus (tests/fuzz/corpus/NAME).
set -eu
BUILD=${BUILD:-build-fuzz}
FUZZ_TIME=${FUZZ_TIME:-30}
libs=$(ls "$BUILD"/lib/libfntrace-*.a 2>/dev/null || true)
pkglibs=$(pkg-config --libs libmicrohttpd libcjson libcurl libelf zlib libseccomp libbpf libcrypto libxxhash)
fail=0
for src in "$@"; do
    name=$(basename "$src" .c)
    out="$BUILD/fuzz/$name"
    mkdir -p "$BUILD/fuzz" "$BUILD/fuzz/corpus-$name"
    clang -std=gnu11 -O1 -g -fsanitize=fuzzer,address,undefined -Ilib -I"$BUILD/gen" \
        $(pkg-config --cflags libmicrohttpd libcjson) \
        -o "$out" "$src" $libs "$BUILD/lib/libfntrace.a" $pkglibs -lpthread -lm
    seeds=""
    [ -d "tests/fuzz/corpus/$name" ] && seeds="tests/fuzz/corpus/$name"
    echo "fuzz: $name for ${FUZZ_TIME}s"
    # UBSan findings abort the run (the libraries are built recoverable)
    if ! UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1} \
            "$out" -max_total_time="$FUZZ_TIME" -max_len=65536 -print_final_stats=1 \
            -artifact_prefix="$BUILD/fuzz/$name-" "$BUILD/fuzz/corpus-$name" $seeds \
            >"$BUILD/fuzz/$name.log" 2>&1; then
        echo "fuzz: $name FAILED (see $BUILD/fuzz/$name.log)"; tail -30 "$BUILD/fuzz/$name.log"; fail=1
    else
        grep -E 'stat::number_of_executed_units' "$BUILD/fuzz/$name.log" || true
    fi
done
exit $fail
