#!/bin/sh
# bin2c.sh NAME [FILE] — prints FILE's bytes as a C array `static const unsigned char NAME[]`
# and its length as `static const size_t NAME_len`.  No FILE, or one that cannot be read:
# an empty array (one pad byte, length 0), so the header always compiles.  Used for what the
# build embeds in a binary (tracer/module.mk: the BPF program's minimal BTF).
set -eu
name=$1
file=${2:-}
if [ -n "$file" ] && [ -r "$file" ] && bytes=$(od -An -v -tx1 "$file"); then
    len=$(printf '%s' "$bytes" | wc -w)
else
    bytes=""
    len=0
fi
printf 'static const unsigned char %s[] = {\n' "$name"
if [ "$len" -gt 0 ]; then
    printf '%s\n' "$bytes" | sed -e 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g' -e 's/^/   /'
else
    printf '    0\n'
fi
printf '};\nstatic const size_t %s_len = %s;\n' "$name" "$len"
