#!/bin/sh
# Installs every Debian package (tools/debian-packages.txt) and npm lock file the build,
# tests, demo and benchmarks need.  Does nothing when all of it is present.
set -eu
cd "$(dirname "$0")/.."
want=$(sed -e 's/#.*//' tools/debian-packages.txt | tr -s ' \t' '\n' | grep -v '^$')
missing=""
for p in $want; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
# node from another source (nodesource) brings its own npm; Debian's node needs the npm package
command -v npm >/dev/null 2>&1 || missing="$missing npm"
if [ -n "$missing" ]; then
    echo "deps: installing:$missing" >&2
    if [ "$(id -u)" != 0 ]; then
        echo "deps: not root; run: sudo apt-get install$missing" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >&2
fi
# npm projects: one per folder that has a lock file
for lock in $(find . -name package-lock.json -not -path '*/node_modules/*' | sort); do
    dir=$(dirname "$lock")
    if [ ! -d "$dir/node_modules" ] || [ "$lock" -nt "$dir/node_modules/.package-lock.json" ]; then
        echo "deps: npm ci in $dir" >&2
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
    fi
done
