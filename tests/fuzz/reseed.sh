#!/bin/sh
# reseed.sh AOTB: rebuilds the binary fuzz seeds (images and objects) with
# this aotb.  Run it (make fuzz-seeds) whenever the code generator's
# fingerprint changes: seeds with an old fingerprint are refused at the
# fingerprint check and no longer reach the loader's deeper paths.
set -eu
AOTB=${1:?usage: reseed.sh AOTB}
top=$(cd "$(dirname "$0")/../.." && pwd)
C=$top/tests/fuzz/corpus
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
for p in calls sum nocode memory; do
    "$AOTB" compile "$top/tests/programs/$p.vir" -d "$T/$p" >/dev/null
done
for p in calls sum nocode; do
    "$AOTB" link -o "$T/$p.aot" "$T/$p"/*.o
    cp "$T/$p.aot" "$C/image/$p.aot"
done
for p in calls memory; do
    blk=$(ls "$T/$p" | grep -v meta | head -1)
    cp "$T/$p/$blk" "$C/object/$p-block.elf"
    cp "$T/$p/meta.o" "$C/object/$p-meta.elf"
done
"$AOTB" dump "$C/image/sum.aot" | grep '^fingerprint:'
