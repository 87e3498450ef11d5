#!/bin/sh
# test_differential.sh: native code against the reference interpreter.
# For every random program from build/tools/randprog (seeds DIFF_FIRST ..
# DIFF_FIRST+DIFF_COUNT-1, default 1..2000) and every examples/*.vir and
# tests/programs/*.vir:  aotb interp OPTS PROG.vir  and
#   aotb compile COPTS PROG.vir -d DIR; aotb link -o P.aot DIR/*.o;
#   aotb run OPTS P.aot
# must print byte-identical standard output and exit with the same status.
# A generated program names its OPTS in its first line ("; opts: ...") and
# its COPTS (e.g. --fold N, superblocks) in its second ("; compile: ...").
#
# Cost: four processes per program is the floor (each needs its own image),
# so the work is done in batches, JOBS workers in parallel, with one
# comparison (diff -r) per batch instead of one per program.
#   DIFF_COUNT=N DIFF_FIRST=S DIFF_JOBS=J DIFF_BATCH=B  (make fuzz-diff runs
#   DIFF_COUNT=20000); DIFF_GEN_ARGS="--ops 40" passes options to randprog
#   (then the seed alone no longer reproduces a program).
# A failing program is kept, with both outputs and stderr, in the directory
# named in its "not ok" line (under $TMPDIR); the line names the seed.
# shellcheck disable=SC3045  # ulimit -t: in dash and bash; elsewhere it just fails
. "$(dirname "$0")/lib.sh"
: "${BUILD:=$TOP/build}"
GEN=$BUILD/tools/randprog
COUNT=${DIFF_COUNT:-2000}
FIRST=${DIFF_FIRST:-1}
JOBS=${DIFF_JOBS:-$(nproc 2>/dev/null || echo 2)}
BATCH=${DIFF_BATCH:-250}
CPU_LIMIT=${DIFF_CPU_LIMIT:-30}   # seconds of CPU per command: a hang fails
KEEP=$(mktemp -d "${TMPDIR:-/tmp}/aotb-diff-XXXXXX") || exit 99
# Scratch space for the programs, objects and images: compile and link fsync
# every file they write, which costs far more than the work on a disk, so
# prefer a tmpfs (DIFF_SCRATCH=DIR overrides).
SCRATCH=$T_TMP
if [ -n "${DIFF_SCRATCH:-}" ]; then
    SCRATCH=$(mktemp -d "$DIFF_SCRATCH/aotb-diff-XXXXXX") || exit 99
elif [ -d /dev/shm ] && [ -w /dev/shm ]; then
    SCRATCH=$(mktemp -d /dev/shm/aotb-diff-XXXXXX 2>/dev/null) || SCRATCH=$T_TMP
fi
trap 'rm -rf "$T_TMP" "$SCRATCH"; rmdir "$KEEP" 2>/dev/null' EXIT
WORKERS=
trap 'kill $WORKERS 2>/dev/null; exit 130' INT TERM

if [ ! -x "$GEN" ]; then
    not_ok "differential: generator $GEN not built"
    t_done
fi

# one_program NAME FILE OPTS...: runs both sides for one program inside the
# batch directory $W ($COPTS: extra compile options).  Outputs go to
# $W/i/NAME and $W/n/NAME (stdout, then an "exit N" line), stderr of every
# step to $W/e/NAME.  Each command runs in a subshell that execs it, so the
# CPU limit (exit 137/152 when hit) costs no extra process.
one_program () {
    name=$1 file=$2; shift 2
    (ulimit -t "$CPU_LIMIT" 2>/dev/null; exec "$AOTB" interp "$@" "$file") \
        >"$W/i/$name" 2>"$W/e/$name"
    echo "exit $?" >>"$W/i/$name"
    mkdir "$W/o/$name"
    # shellcheck disable=SC2086  # COPTS is a list of words
    (ulimit -t "$CPU_LIMIT" 2>/dev/null; exec "$AOTB" compile $COPTS "$file" -d "$W/o/$name") \
        >/dev/null 2>>"$W/e/$name"
    rc=$?
    if [ "$rc" -ne 0 ]; then
        echo "compile failed: exit $rc" >"$W/n/$name"
        return
    fi
    (ulimit -t "$CPU_LIMIT" 2>/dev/null; exec "$AOTB" link -o "$W/o/$name.aot" "$W/o/$name"/*.o) \
        >/dev/null 2>>"$W/e/$name"
    rc=$?
    if [ "$rc" -ne 0 ]; then
        echo "link failed: exit $rc" >"$W/n/$name"
        return
    fi
    (ulimit -t "$CPU_LIMIT" 2>/dev/null; exec "$AOTB" run "$@" "$W/o/$name.aot") \
        >"$W/n/$name" 2>>"$W/e/$name"
    echo "exit $?" >>"$W/n/$name"
}

# opts_of FILE: the generated program's run options (OPTS) and compile
# options (COPTS), from its first two lines.
opts_of () {
    { IFS= read -r first; IFS= read -r second; } <"$1"
    case $first in
    "; opts: "*) OPTS=${first#"; opts: "} ;;
    *) OPTS="--max-blocks 5000" ;;
    esac
    case $second in
    "; compile:"*) COPTS=${second#"; compile:"} ;;
    *) COPTS= ;;
    esac
}

# run_batch K: seeds of batch K into $SCRATCH/bK; writes $SCRATCH/bK/done.
run_batch () {
    k=$1
    W=$SCRATCH/b$k
    lo=$((FIRST + k * BATCH))
    n=$BATCH
    [ $((lo + n)) -gt $((FIRST + COUNT)) ] && n=$((FIRST + COUNT - lo))
    mkdir -p "$W/p" "$W/i" "$W/n" "$W/e" "$W/o"
    # shellcheck disable=SC2086  # DIFF_GEN_ARGS: extra generator options
    if ! "$GEN" --out "$W/p" "$lo" "$n" ${DIFF_GEN_ARGS:-} 2>"$W/generr"; then
        echo "generator failed" >"$W/done"
        return
    fi
    s=$lo
    while [ "$s" -lt $((lo + n)) ]; do
        opts_of "$W/p/$s.vir"
        # shellcheck disable=SC2086  # OPTS is a list of words
        one_program "$s" "$W/p/$s.vir" $OPTS
        s=$((s + 1))
    done
    rm -rf "$W/o"
    echo "$lo $n" >"$W/done"
}

# report_batch K: one ok line for a clean batch, one not-ok line per failing
# seed (with its options and a diff), keeping the failing programs in $KEEP.
report_batch () {
    k=$1
    W=$SCRATCH/b$k
    read -r lo n <"$W/done" 2>/dev/null
    case $lo in
    ''|*[!0-9]*)
        not_ok "differential batch $k: $(cat "$W/done")" "$(head -5 "$W/generr")"
        return ;;
    esac
    last=$((lo + n - 1))
    # every generated program must be valid: the interpreter accepts it
    bad=$(grep -l '^exit [12]$' "$W/i"/* 2>/dev/null | head -5)
    if [ -z "$bad" ] && diff -rq "$W/i" "$W/n" >/dev/null 2>&1; then
        ok "differential: seeds $lo..$last ($n programs): run == interp"
        return
    fi
    for f in $bad; do
        s=${f##*/}
        cp "$W/p/$s.vir" "$KEEP/$s.vir"
        opts_of "$W/p/$s.vir"
        not_ok "differential seed $s: the interpreter rejects the generated program (kept: $KEEP/$s.vir)" \
            "$(head -5 "$W/e/$s")"
    done
    for f in $(diff -rq "$W/i" "$W/n" 2>/dev/null | sed -n 's|^Files .*/i/\([^ ]*\) and .*differ$|\1|p'); do
        s=$f
        cp "$W/p/$s.vir" "$KEEP/$s.vir"
        cp "$W/i/$s" "$KEEP/$s.interp"
        cp "$W/n/$s" "$KEEP/$s.run"
        cp "$W/e/$s" "$KEEP/$s.stderr"
        opts_of "$W/p/$s.vir"
        not_ok "differential seed $s: run != interp (kept: $KEEP/$s.vir)" \
            "options: $OPTS${COPTS:+ (compiled with$COPTS)}" \
            "reproduce: $GEN $s ${DIFF_GEN_ARGS:-}>p.vir; aotb interp $OPTS p.vir; aotb compile $COPTS p.vir -d o; aotb link -o p.aot o/*.o; aotb run $OPTS p.aot" \
            "diff (< interp, > run):"
        diff "$W/i/$s" "$W/n/$s" | head -20 | sed 's/^/#     /'
        head -5 "$W/e/$s" | sed 's/^/#   stderr: /'
    done
}

# The generated programs, JOBS workers, each taking every JOBS-th batch.
start=$(date +%s)
nbatch=$(((COUNT + BATCH - 1) / BATCH))
j=0
while [ "$j" -lt "$JOBS" ]; do
    (
        k=$j
        while [ "$k" -lt "$nbatch" ]; do
            run_batch "$k"
            k=$((k + JOBS))
        done
    ) &
    WORKERS="$WORKERS $!"
    j=$((j + 1))
done
wait
k=0
while [ "$k" -lt "$nbatch" ]; do
    report_batch "$k"
    k=$((k + 1))
done
end=$(date +%s)
echo "# $COUNT generated programs in $((end - start)) s with $JOBS jobs"

# The generator itself: deterministic, and the programs of this run use
# every op, terminator form, access type, data form and run option.
if [ "$COUNT" -ge 500 ] && [ -z "${DIFF_GEN_ARGS:-}" ]; then
    "$GEN" "$FIRST" >"$SCRATCH/again.vir"
    if cmp -s "$SCRATCH/again.vir" "$SCRATCH/b0/p/$FIRST.vir"; then
        ok "randprog: the same seed gives the same program"
    else
        not_ok "randprog: seed $FIRST gave two different programs"
    fi
    missing=$(awk '
        BEGIN {
            n = split("nop add sub mul and or xor divs divu rems remu not sll srl sra addi muli mov movi slli srli srai cmpeq cmpne cmplt cmpltu cmpge cmpgeu select ret jmp jmpreg condjmp br call fault interrupt interrupt,R entry memory data\" data-hex data-u8 data-u16 data-u32 data-u64 --set --entry --dump-mem --max-blocks --fold", want, " ")
            for (t = split("u8 s8 u16 s16 u32 s32 u64 s64", ty, " "); t > 0; t--) {
                want[++n] = "load," ty[t]; want[++n] = "store," ty[t]
            }
        }
        $1 == "data" { k = $3 ~ /^"/ ? "data\"" : "data-" $3; seen[k] = 1; next }
        $1 == "load" || $1 == "store" { seen[$1 "," $NF] = 1; next }
        $1 == "interrupt" && /,/ { seen["interrupt,R"] = 1 }
        $1 == ";" && ($2 == "opts:" || $2 == "compile:") { for (i = 3; i <= NF; i++) seen[$i] = 1; next }
        { seen[$1] = 1 }
        END { for (i = 1; i <= n; i++) if (!(want[i] in seen)) printf " %s", want[i] }
    ' "$SCRATCH"/b*/p/*.vir)
    if [ -z "$missing" ]; then
        ok "randprog: the $COUNT programs cover every op, terminator, access type and data form"
    else
        not_ok "randprog: never generated:$missing"
    fi
fi

# The examples and the hand-written test programs, each with a generous
# budget and with a small one (so "budget" stops land mid-loop).
W=$SCRATCH/ex
mkdir -p "$W/i" "$W/n" "$W/e" "$W/o"
nf=0
for f in "$TOP"/examples/*.vir "$TOP"/tests/programs/*.vir; do
    [ -e "$f" ] || continue
    nf=$((nf + 1))
    for mb in 1000000 777; do
        name=$nf.$mb
        COPTS=
        [ "$mb" = 777 ] && COPTS="--fold 8"
        one_program "$name" "$f" --max-blocks "$mb"
        if grep -q '^exit 1$' "$W/i/$name" &&
            grep -q '^compile failed: exit 1$' "$W/n/$name"; then
            ok "differential $f: interp and compile both reject it"
        elif grep -q '^exit [12]$' "$W/i/$name"; then
            not_ok "differential $f --max-blocks $mb: interp rejects it" \
                "$(head -5 "$W/e/$name")"
        elif cmp -s "$W/i/$name" "$W/n/$name"; then
            ok "differential $f --max-blocks $mb: run == interp"
        else
            cp "$f" "$KEEP/"
            not_ok "differential $f --max-blocks $mb: run != interp" \
                "diff (< interp, > run):"
            diff "$W/i/$name" "$W/n/$name" | head -20 | sed 's/^/#     /'
            head -5 "$W/e/$name" | sed 's/^/#   stderr: /'
        fi
    done
done

rmdir "$KEEP" 2>/dev/null   # only kept when something failed
t_done
