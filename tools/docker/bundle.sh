#!/bin/sh
# bundle.sh BINARY DESTDIR RUNDIR — makes BINARY independent of the distribution it runs on:
# copies it to DESTDIR with every shared library it loads (glibc and the dynamic loader
# included) under DESTDIR/lib, and points its interpreter and run path at RUNDIR/lib,
# where DESTDIR will be in the final image (DT_RPATH, which also serves the libraries'
# own dependencies, unlike DT_RUNPATH).  The Azure Functions base images are not the
# Debian release the build stage compiles on, so the custom handler carries its own libs.
# Runs in a build stage (needs ldd and patchelf).
set -eu
bin=$1 dest=$2 run=$3
mkdir -p "$dest/lib"
cp "$bin" "$dest/"
ldd "$bin" | awk '/=> \// { print $3 } /^[[:space:]]*\/[^ ]*ld-linux/ { print $1 }' | sort -u |
while read -r lib; do
    cp -L "$lib" "$dest/lib/"
done
interp=$(patchelf --print-interpreter "$bin")
patchelf --set-interpreter "$run/lib/$(basename "$interp")" --force-rpath --set-rpath "$run/lib" \
    "$dest/$(basename "$bin")"
