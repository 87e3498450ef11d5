#!/bin/sh
# demo.sh AOTB [ninja|make]: the incremental AOT build, end to end.
# Builds a copy of examples/sum.vir into an image with "ninja aot-image"
# (or, with "make", with "make incremental" through the generated Make
# fragment), runs it, edits one block, rebuilds (exactly that block is
# recompiled) and runs the new image.  Everything goes to demo-out/.
set -eu
AOTB=${1:-./aotb}
tool=${2:-ninja}
top=$(cd "$(dirname "$0")/.." && pwd)
out="$top/demo-out"
rm -rf "$out"
mkdir -p "$out"
cp "$top/examples/sum.vir" "$out/prog.vir"
if [ -t 1 ]; then
    step () { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
    step () { printf '\n== %s\n' "$*"; }
fi
# build LOG: one incremental build with the chosen tool, its output in LOG.
build () {
    if [ "$tool" = make ]; then
        make --no-print-directory -C "$out" incremental | tee "$1"
    else
        NINJA_STATUS='[%f/%t] ' ninja -C "$out/aot" aot-image | tee "$1"
    fi
}

step "the program (demo-out/prog.vir): sum 1..10, result stored at 0x108"
cat "$out/prog.vir"

step "reference interpreter: aotb interp prog.vir --dump-mem 0x108:8"
"$AOTB" interp "$out/prog.vir" --dump-mem 0x108:8 || true

if [ "$tool" = make ]; then
    step "aotb gen --make: one file per block and the Make fragment aot/aot.mk"
    (cd "$out" && "$AOTB" gen prog.vir -o aot --make --root . --stats)
    printf 'all: incremental\ninclude aot/aot.mk\n' > "$out/Makefile"
    echo "demo-out/Makefile:"; cat "$out/Makefile"
    step "make incremental: one compile per block, then the link"
else
    step "aotb gen: one file per block and build.ninja"
    (cd "$out" && "$AOTB" gen prog.vir -o aot --stats)
    step "ninja aot-image: one compile edge per block, then the link"
fi
ls "$out/aot/blocks"
build "$out/build.log"

step "aotb run: the native code, same output as the interpreter"
"$AOTB" run "$out/aot/prog.aot" --dump-mem 0x108:8 || true
"$AOTB" verify "$out/aot/prog.aot"

step "edit one block: movi r2, 0  ->  movi r2, 100 (start the sum at 100)"
cp "$out/prog.vir" "$out/prog-old.vir"
sed -i 's/movi  r2, 0 *$/movi  r2, 100/' "$out/prog.vir"
grep -n 'movi  r2' "$out/prog.vir"

step "aotb diff: what changed against the image"
"$AOTB" diff "$out/aot/prog.aot" "$out/prog.vir"
if command -v dot >/dev/null 2>&1; then
    "$AOTB" diff --dot "$out/prog-old.vir" "$out/prog.vir" > "$out/changes.dot" &&
        dot -Tpng -o "$out/changes.png" "$out/changes.dot" &&
        echo "control-flow graph with the change coloured: demo-out/changes.png"
fi

step "rebuild: the generator reruns by itself, then exactly one block is recompiled"
build "$out/rebuild.log"
n=$(grep -Ec '(AOTB |compile )(.*/)?(obj|blocks)/[0-9a-f]{16}\.(o|vir)' "$out/rebuild.log" || true)
echo "blocks recompiled: $n"

step "aotb run: the new result (155 = 0x9b)"
"$AOTB" run "$out/aot/prog.aot" --dump-mem 0x108:8 || true

step "a no-op rebuild"
build "$out/noop.log"

step "the single-process path: aotb build (incremental when the image exists)"
"$AOTB" build "$out/prog-old.vir" -o "$out/single.aot" --stats
"$AOTB" build "$out/prog.vir" -o "$out/single.aot" --stats
"$AOTB" run "$out/single.aot" --dump-mem 0x108:8 || true
