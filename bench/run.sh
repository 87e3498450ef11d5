#!/bin/sh
# bench/run.sh: the benchmark suite behind "make bench" (then bench/rebuild.sh).
# Every target of the performance issue is measured as a ratio of two
# times taken side by side in this one run (the machine is shared and
# noisy: absolute times mean little); each time is the median of $REPS runs.
# Writes bench/results.md, bench/results-*.dat and, when gnuplot is
# installed, bench/rebuild-*.png.
#
# Environment: AOTB (the aotb binary), BUILD (the build directory with
# bench/progen and bench/benchtool), CC (for the C kernels), REPS [3],
# BENCH_QUICK=1 (smaller programs and kernels, for a fast smoke run),
# BENCH_DIR (scratch space) [$BUILD/bench/work].
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
AOTB=${AOTB:-$top/aotb}
BUILD=${BUILD:-$top/build}
CC=${CC:-cc}
REPS=${REPS:-3}
QUICK=${BENCH_QUICK:-0}
PROGEN=$BUILD/bench/progen
TOOL=$BUILD/bench/benchtool
W=${BENCH_DIR:-$BUILD/bench/work}
OUT=$top/bench/results.md
rm -rf "$W"
mkdir -p "$W"
# A private copy of the binary: the tree may be rebuilt while this runs.
cp "$AOTB" "$W/aotb"
AOTB=$W/aotb
start=$(date +%s)

if [ "$QUICK" = 1 ]; then
    N_SMALL=1000 N_MID=2000 N_BIG=5000 KSCALE=10
else
    N_SMALL=1000 N_MID=10000 N_BIG=100000 KSCALE=1
fi
have_build=0
if "$AOTB" build --help >/dev/null 2>&1; then have_build=1; fi

log () { printf '%s\n' "bench: $*" >&2; }
# now: nanoseconds.  secs START END: the difference in seconds.
now () { date +%s%N; }
secs () { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", (b - a) / 1e9 }'; }
# timeit CMD...: seconds one run of the program CMD took (its output
# discarded), from fork to wait (benchtool time), so that the start of a
# date process (about 1 ms) is not counted in it.
timeit () {
    "$TOOL" time "$@" || { log "failed: $*"; exit 1; }
}
# timefn FUNCTION...: the same for a shell function, timed with date.
timefn () {
    t0=$(now)
    "$@" >/dev/null 2>&1 || { log "failed: $*"; exit 1; }
    t1=$(now)
    secs "$t0" "$t1"
}
# median V...: the median of the values.
median () {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
        END { if (NR % 2) print v[(NR + 1) / 2];
              else printf "%.6f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# ratio A B: A / B.
ratio () { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", (b > 0 ? a / b : 0) }'; }

# The results table: one row per target.
ROWS=$W/rows
: > "$ROWS"
# row TARGET MEASURED(text) VALUE OP LIMIT: met when VALUE OP LIMIT.
row () {
    met=$(awk -v v="$3" -v l="$5" -v op="$4" 'BEGIN {
        ok = op == "<=" ? v <= l : v >= l; print ok ? "met" : "**not met**" }')
    printf '| %s | %s | %s %s | %s |\n' "$1" "$2" "$4" "$5" "$met" >> "$ROWS"
    log "$1: $2 ($met)"
}
pct () { awk -v r="$1" 'BEGIN { printf "%.2f%%", 100 * r }'; }
times_ () { awk -v r="$1" 'BEGIN { printf "%.2fx", r }'; }

# ---- programs ----------------------------------------------------------
log "generating programs ($N_SMALL, $N_MID, $N_BIG blocks)"
for n in $N_SMALL $N_MID $N_BIG; do
    "$PROGEN" "$n" > "$W/p$n.vir"
done

# ---- the Ninja path ----------------------------------------------------
# ninja_clean N: an empty build directory with p$N.vir in it (not timed:
# deleting the last build's tree is no part of a build).
ninja_clean () {
    rm -rf "$W/n$1"
    mkdir -p "$W/n$1"
    cp "$W/p$1.vir" "$W/n$1/prog.vir"
}
# ninja_full N: a clean build (aotb gen + ninja aot-image) of p$N.vir.
ninja_full () {
    (cd "$W/n$1" && "$AOTB" gen prog.vir -o aot >/dev/null &&
        ninja -C aot aot-image >/dev/null)
}
# ninja_changed N K SEED: put a version with K changed blocks in place and
# time the incremental build; then go back to the base program (untimed).
ninja_changed () {
    if [ "$2" -gt 0 ]; then
        "$PROGEN" "$1" --change "$2" --change-seed "$3" > "$W/n$1/prog.vir"
    fi
    t=$(timeit ninja -C "$W/n$1/aot" aot-image)
    cp "$W/p$1.vir" "$W/n$1/prog.vir"
    ninja -C "$W/n$1/aot" aot-image >/dev/null
    echo "$t"
}

ninja_measure () {
    n=$1 k=$2
    full="" inc="" noop=""
    for r in $(seq "$REPS"); do
        ninja_clean "$n"
        full="$full $(timefn ninja_full "$n")"
        inc="$inc $(ninja_changed "$n" "$k" "$r")"
        noop="$noop $(timeit ninja -C "$W/n$n/aot" aot-image)"
    done
    eval "NFULL_$n=$(median $full) NINC_$n=$(median $inc) NNOOP_$n=$(median $noop)"
}
log "Ninja path, $N_SMALL blocks"
ninja_measure "$N_SMALL" 10
log "Ninja path, $N_MID blocks"
ninja_measure "$N_MID" 1
eval "f1=\$NFULL_$N_SMALL i1=\$NINC_$N_SMALL f2=\$NFULL_$N_MID i2=\$NINC_$N_MID o2=\$NNOOP_$N_MID"
r=$(ratio "$i1" "$f1")
row "Ninja: 10 of $N_SMALL blocks changed / full build" \
    "$(pct "$r") (${i1} s / ${f1} s)" "$r" "<=" 0.03
r=$(ratio "$i2" "$f2")
row "Ninja: 1 of $N_MID blocks changed / full build" \
    "$(pct "$r") (${i2} s / ${f2} s)" "$r" "<=" 0.01
r=$(ratio "$o2" "$f2")
row "Ninja: no-op build / full build ($N_MID blocks)" \
    "$(pct "$r") (${o2} s / ${f2} s)" "$r" "<=" 0.01

# Rebuild time against the fraction of changed blocks (one run each).
log "Ninja path: rebuild time against the fraction changed ($N_MID blocks)"
: > "$W/ninja.dat"
for frac in 0 0.001 0.01 0.1 1; do
    k=$(awk -v n="$N_MID" -v f="$frac" 'BEGIN { printf "%d", n * f }')
    t=$(ninja_changed "$N_MID" "$k" 99)
    echo "$frac $k $t" >> "$W/ninja.dat"
done

# ---- link ---------------------------------------------------------------
# A full link of the $N_MID objects against a relink after one object
# changed, with the previous image in place (what the Ninja link edge does).
log "link, $N_MID blocks"
L=$W/n$N_MID/aot
(cd "$L" && find obj -name '*.o' | sort > "$W/objs.rsp")
cp "$L/prog.aot" "$W/link-base.aot"
one=$(cd "$L" && ls obj/*.o | grep -v meta | head -1)
lfull="" lre=""
for r in $(seq "$REPS"); do
    rm -f "$W/link.aot"
    lfull="$lfull $(cd "$L" && timeit "$AOTB" link -o "$W/link.aot" @"$W/objs.rsp")"
    # Change one object: compile a modified block into its place.
    pc=$(basename "$one" .o)
    printf 'block 0x%s {\n    addi r1, r1, %d\n    ret\n}\n' "$pc" "$r" > "$W/one.vir"
    cp "$L/$one" "$W/one.o.orig"
    "$AOTB" compile "$W/one.vir" -o "$L/$one"
    lre="$lre $(cd "$L" && timeit "$AOTB" link -o "$W/link.aot" @"$W/objs.rsp")"
    cp "$W/one.o.orig" "$L/$one"
done
lf=$(median $lfull) lr=$(median $lre)
r=$(ratio "$lr" "$lf")
row "Link: relink after 1 of $N_MID changed / full link" \
    "$(pct "$r") (${lr} s / ${lf} s)" "$r" "<=" 0.20

# ---- image size and load time ------------------------------------------
log "image size and load time"
IMG=$W/link-base.aot
"$TOOL" code "$IMG" "$W/code.bin"
zstd -3 -q -f -o "$W/code.bin.zst" "$W/code.bin"
isz=$(wc -c < "$IMG") csz=$(wc -c < "$W/code.bin.zst") rsz=$(wc -c < "$W/code.bin")
r=$(ratio "$isz" "$csz")
row "Image size / code compressed whole by zstd -3 ($N_MID blocks)" \
    "$(times_ "$r") ($isz / $csz bytes; code $rsz bytes)" "$r" "<=" 1.25
set -- $("$TOOL" load "$IMG" $((REPS * 5)))
r=$(ratio "$1" "$2")
row "Load + verify + relocate / decompress only ($N_MID blocks)" \
    "$(times_ "$r") ($1 s / $2 s)" "$r" "<=" 2

# ---- the single-process path -------------------------------------------
log "single process, $N_BIG blocks"
hash_t="" ; for r in $(seq "$REPS"); do
    hash_t="$hash_t $(timeit "$AOTB" hash "$W/p$N_BIG.vir")"; done
hash_t=$(median $hash_t)
set -- $("$TOOL" compile "$W/p$N_BIG.vir" "$REPS")
ip_hash=$1 ip_full=$2 ip_one=$3
: > "$W/single.dat"
if [ "$have_build" = 1 ]; then
    S=$W/s$N_BIG
    mkdir -p "$S"
    full="" one=""
    for r in $(seq "$REPS"); do
        rm -f "$S/prog.aot"
        cp "$W/p$N_BIG.vir" "$S/prog.vir"
        full="$full $(timeit "$AOTB" build "$S/prog.vir" -o "$S/prog.aot" -j 1)"
        "$PROGEN" "$N_BIG" --change 1 --change-seed "$r" > "$S/prog.vir"
        one="$one $(timeit "$AOTB" build "$S/prog.vir" -o "$S/prog.aot" -j 1)"
    done
    sfull=$(median $full) sone=$(median $one)
    bps=$(awk -v n="$N_BIG" -v t="$sfull" 'BEGIN { printf "%.0f", n / t }')
    row "Single process: full compile of $N_BIG blocks, one core (aotb build -j 1)" \
        "$bps blocks/s ($sfull s)" "$bps" ">=" 200000
    r=$(ratio "$sone" "$hash_t")
    row "Single process: 1 of $N_BIG changed / aotb hash (parse + hash)" \
        "$(times_ "$r") ($sone s / $hash_t s)" "$r" "<=" 1.5
    cp "$W/p$N_BIG.vir" "$S/prog.vir"
    "$AOTB" build "$S/prog.vir" -o "$S/prog.aot" >/dev/null
    for frac in 0 0.001 0.01 0.1 1; do
        k=$(awk -v n="$N_BIG" -v f="$frac" 'BEGIN { printf "%d", n * f }')
        "$PROGEN" "$N_BIG" --change "$k" --change-seed 77 > "$S/prog.vir"
        t=$(timeit "$AOTB" build "$S/prog.vir" -o "$S/prog.aot")
        echo "$frac $k $t" >> "$W/single.dat"
        cp "$W/p$N_BIG.vir" "$S/prog.vir"
        "$AOTB" build "$S/prog.vir" -o "$S/prog.aot" >/dev/null
    done
else
    bps=$(awk -v n="$N_BIG" -v t="$ip_full" 'BEGIN { printf "%.0f", n / t }')
    row "Single process: full compile of $N_BIG blocks, one core (in-process model: no aotb build yet)" \
        "$bps blocks/s ($ip_full s)" "$bps" ">=" 200000
    r=$(ratio "$ip_one" "$hash_t")
    row "Single process: 1 of $N_BIG changed / aotb hash (in-process model: parse + hash + 1 compile)" \
        "$(times_ "$r") ($ip_one s / $hash_t s)" "$r" "<=" 1.5
fi

# ---- generated code: the kernels ---------------------------------------
log "kernels"
K=$top/bench/kernels
KROWS=$W/krows
: > "$KROWS"
# name:N:result-register, N sized so that gcc -O2 takes 30 ms or more
# (process start-up, about 1 ms for the C program and 4 ms for aotb run,
# stays small beside it)
for spec in sum:200000000:r2 xorshift:100000000:r3 sieve:30000000:r2 \
            memcpy:80000:r2 fib:37:r2 matmul:256:r2; do
    name=${spec%%:*} rest=${spec#*:}
    n=${rest%%:*} reg=${rest#*:}
    if [ "$KSCALE" != 1 ]; then
        case $name in
            fib) n=$((n - 7)) ;; matmul) n=$((n / 2)) ;; *) n=$((n / KSCALE)) ;;
        esac
    fi
    "$CC" -O2 -o "$W/k_$name" "$K/$name.c"
    rm -rf "$W/ko_$name"
    "$AOTB" compile "$K/$name.vir" -d "$W/ko_$name" >/dev/null
    "$AOTB" link -o "$W/k_$name.aot" "$W/ko_$name"/*.o
    # The same result from all three, or the kernel is wrong.
    cres=$("$W/k_$name" "$n")
    rres=$("$AOTB" run "$W/k_$name.aot" --set "r1=$n" | awk -v r="$reg:" '$1 == r { print $2 }')
    ires=$("$AOTB" interp "$K/$name.vir" --set "r1=$n" | awk -v r="$reg:" '$1 == r { print $2 }')
    if [ "$cres" != "$rres" ] || [ "$cres" != "$ires" ]; then
        log "$name: results differ: C $cres, aotb run $rres, aotb interp $ires"
        echo "| $name | RESULTS DIFFER: C $cres, run $rres, interp $ires | | |" >> "$KROWS"
        echo "| Kernel $name | results differ | | **not met** |" >> "$ROWS"
        continue
    fi
    tc="" tr="" ti=""
    for r in $(seq "$REPS"); do
        tc="$tc $(timeit "$W/k_$name" "$n")"
        tr="$tr $(timeit "$AOTB" run "$W/k_$name.aot" --set "r1=$n")"
        ti="$ti $(timeit "$AOTB" interp "$K/$name.vir" --set "r1=$n")"
    done
    tc=$(median $tc) tr=$(median $tr) ti=$(median $ti)
    speed=$(ratio "$ti" "$tr") slow=$(ratio "$tr" "$tc")
    echo "| $name | $n | $cres | $tc | $tr | $ti |" >> "$KROWS"
    row "Kernel $name: aotb interp / aotb run" "$(times_ "$speed") ($ti s / $tr s)" "$speed" ">=" 20
    row "Kernel $name: aotb run / gcc -O2" "$(times_ "$slow") ($tr s / $tc s)" "$slow" "<=" 2.5
done

# ---- per-process overhead ----------------------------------------------
log "per-process overhead"
printf 'block 0x1000 {\n    addi r1, r1, 1\n    store [r1 + 8], r1, u64\n    ret\n}\n' > "$W/tiny.vir"
loop () { i=0; while [ $i -lt 200 ]; do "$@"; i=$((i + 1)); done; }
tt="" ta=""
for r in $(seq "$REPS"); do
    tt="$tt $(timefn loop /bin/true)"
    ta="$ta $(timefn loop "$AOTB" compile "$W/tiny.vir" -o "$W/tiny.o")"
done
tt=$(median $tt) ta=$(median $ta)
r=$(ratio "$ta" "$tt")
row "aotb compile of one block / /bin/true (200 processes each)" \
    "$(times_ "$r") ($ta s / $tt s)" "$r" "<=" 1.5

# ---- the report ---------------------------------------------------------
end=$(date +%s)
{
    echo "# aotb benchmark results"
    echo
    echo "Generated by \`make bench\` (bench/run.sh) on $(date -u '+%Y-%m-%d %H:%M UTC'),"
    echo "$(nproc) cores, $(uname -m), aotb $("$AOTB" --version 2>/dev/null | head -1)."
    echo "Each time is the median of $REPS runs; each ratio compares two times"
    echo "measured side by side in this run. Took $((end - start)) s."
    echo "A program's time runs from fork to wait (benchtool time); the Ninja"
    echo "full builds and the 200-process loops, which are shell functions, are"
    echo "timed with date."
    [ "$QUICK" = 1 ] && echo "BENCH_QUICK=1: smaller sizes than the targets name."
    echo
    echo "| target | measured | limit | result |"
    echo "|---|---|---|---|"
    cat "$ROWS"
    echo
    echo "## Kernels (times in seconds, whole process)"
    echo
    echo "| kernel | N | result | gcc -O2 | aotb run | aotb interp |"
    echo "|---|---|---|---|---|---|"
    cat "$KROWS"
    echo
    echo "## Rebuild time against the fraction of changed blocks"
    echo
    echo "Ninja path (\`ninja aot-image\`), $N_MID blocks:"
    echo
    echo "| fraction | blocks changed | seconds |"
    echo "|---|---|---|"
    awk '{ printf "| %s | %s | %s |\n", $1, $2, $3 }' "$W/ninja.dat"
    echo
    if [ -s "$W/single.dat" ]; then
        echo "Single process (\`aotb build\`), $N_BIG blocks:"
        echo
        echo "| fraction | blocks changed | seconds |"
        echo "|---|---|---|"
        awk '{ printf "| %s | %s | %s |\n", $1, $2, $3 }' "$W/single.dat"
    else
        echo "Single process: \`aotb build\` is not available in this build."
        echo "In-process model ($N_BIG blocks): parse + hash $ip_hash s,"
        echo "parse + compile everything $ip_full s, parse + hash + one block $ip_one s."
    fi
} > "$OUT"
cp "$W/ninja.dat" "$top/bench/results-ninja.dat"
[ -s "$W/single.dat" ] && cp "$W/single.dat" "$top/bench/results-single.dat"
if command -v gnuplot >/dev/null 2>&1; then
    for path in ninja single; do
        [ -s "$top/bench/results-$path.dat" ] || continue
        gnuplot <<EOF
set terminal png size 800,500
set output "$top/bench/rebuild-$path.png"
set title "aotb rebuild time against the fraction of changed blocks ($path path)"
set xlabel "fraction of blocks changed"
set ylabel "seconds"
set logscale x
set grid
plot "< awk '\$1 > 0' $top/bench/results-$path.dat" using 1:3 with linespoints title "rebuild", \
     "< awk '\$1 == 0' $top/bench/results-$path.dat" using (0.0001):3 with points pt 7 title "no change (at 1e-4)"
EOF
        echo >> "$OUT"
        echo "![$path](rebuild-$path.png)" >> "$OUT"
    done
else
    echo >> "$OUT"
    echo "(gnuplot is not installed: no plots; the data is in bench/results-*.dat)" >> "$OUT"
fi
log "wrote $OUT ($((end - start)) s)"
cat "$OUT"
