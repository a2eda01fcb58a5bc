#!/bin/sh
# runtime-packages.sh BINARY… — the Debian packages that hold the shared libraries the
# binaries link directly (their DT_NEEDED entries), one per line, for the runtime stage of
# an image to install.  Runs in a build stage (needs binutils and dpkg).
set -eu
for bin in "$@"; do
    objdump -p "$bin" | awk '$1 == "NEEDED" { print $2 }'
done | sort -u | while read -r lib; do
    case $lib in ld-linux*|libc.so.*|libm.so.*|libpthread.so.*|libdl.so.*|librt.so.*) continue ;; esac
    pkg=$(dpkg -S "*/$lib" 2>/dev/null | grep -v -- '-dev' | head -1 | cut -d: -f1)
    [ -n "$pkg" ] || { echo "runtime-packages: no package holds $lib" >&2; exit 1; }
    echo "$pkg"
done | sort -u
