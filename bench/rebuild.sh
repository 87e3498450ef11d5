#!/bin/sh
# bench/rebuild.sh: full build, no-op and one-block rebuild, side by side in
# one run, through Ninja (1,000 and 10,000 blocks) and in one process
# (aotb build: 10,000 and 100,000 blocks, with aotb hash, the parse + hash
# floor, beside it).  One run each: the machine is shared, so read the
# numbers against each other, not as absolutes.  Programs from progen.
#
# Usage (after make and make build/bench/progen):  sh bench/rebuild.sh
# Environment: AOTB [./aotb], PROGEN [build/bench/progen], BENCH_DIR
# (scratch) [build/bench/rebuild].
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
AOTB=${AOTB:-$top/aotb}
PROGEN=${PROGEN:-$top/build/bench/progen}
W=${BENCH_DIR:-$top/build/bench/rebuild}
rm -rf "$W"
mkdir -p "$W"

# t CMD...: seconds CMD took (its output discarded; a failure stops).
t () {
    s=$(date +%s%N)
    "$@" >/dev/null 2>&1 || { echo "rebuild.sh: failed: $*" >&2; exit 1; }
    e=$(date +%s%N)
    awk -v a="$s" -v b="$e" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'
}

# progs DIR N: DIR/base.vir (N blocks), DIR/one.vir (one block changed),
# DIR/prog.vir (a copy of base.vir: the program the builds read).
progs () {
    mkdir -p "$1"
    "$PROGEN" "$2" > "$1/base.vir"
    "$PROGEN" "$2" --change 1 > "$1/one.vir"
    cp "$1/base.vir" "$1/prog.vir"
}

for n in 1000 10000; do
    d=$W/ninja$n
    progs "$d" "$n"
    full=$(t sh -c "cd '$d' && '$AOTB' gen prog.vir -o aot && ninja -C aot aot-image")
    noop=$(t ninja -C "$d/aot" aot-image)
    cp "$d/one.vir" "$d/prog.vir"
    one=$(t ninja -C "$d/aot" aot-image)
    echo "ninja, $n blocks: full $full s, no-op $noop s, one block changed $one s"
done

for n in 10000 100000; do
    d=$W/single$n
    progs "$d" "$n"
    full=$(t "$AOTB" build "$d/prog.vir" -o "$d/p.aot" -j 1)
    cp "$d/one.vir" "$d/prog.vir"
    one=$(t "$AOTB" build "$d/prog.vir" -o "$d/p.aot" -j 1)
    hash=$(t "$AOTB" hash "$d/prog.vir")
    echo "aotb build -j 1, $n blocks: full $full s, one block changed $one s," \
         "parse + hash (aotb hash) $hash s"
done
