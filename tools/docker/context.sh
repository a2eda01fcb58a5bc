#!/bin/sh
# context.sh TEMPLATE_DIR OUT_DIR [FUNCTION_DIR] — a Docker build context for a template:
# the template's files, with fntrace's source (the files git tracks, as they are in the
# work tree, or the whole tree when it is no git checkout; without tests/, bench/,
# docs/ and the templates, which the images do not build, so editing them rebuilds no image) under
# OUT_DIR/fntrace/, and,
# when given, FUNCTION_DIR copied over OUT_DIR/function/ — the layout `faas-cli build`
# makes (build/NAME/ = template + function/), so the template builds without a registry.
set -eu
tmpl=$1 out=$2 fn=${3:-}
top=$(cd "$(dirname "$0")/../.." && pwd)
[ -f "$tmpl/Dockerfile" ] || { echo "context: $tmpl has no Dockerfile" >&2; exit 2; }
rm -rf "$out"
mkdir -p "$out/fntrace"
cp -R "$tmpl/." "$out/"
if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
    (cd "$top" && git ls-files -z --cached --others --exclude-standard |
        xargs -0 sh -c 'for f; do case $f in tests/*|bench/*|docs/*|handler/templates/*) continue ;; esac
                                 [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
        tar --null -T - -cf -) | tar -C "$out/fntrace" -xf -
else
    (cd "$top" && tar --exclude=./build --exclude=./build-asan --exclude=./build-fuzz \
        --exclude=node_modules --exclude=./traces --exclude=./tests --exclude=./bench \
        --exclude=./docs --exclude=./handler/templates -cf - .) | tar -C "$out/fntrace" -xf -
fi
if [ -n "$fn" ]; then
    rm -rf "$out/function"
    cp -R "$fn" "$out/function"
fi
