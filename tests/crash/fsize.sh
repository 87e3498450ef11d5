#!/bin/sh
# fsize.sh (part of make check-crash): writers under a file size limit
# (ulimit -f, RLIMIT_FSIZE).  A write past the limit raises SIGXFSZ, which
# kills a process that does not ignore it; aotb must instead fail with a
# clean error (exit 1), leave the old image intact and leave no temporary.
. "$(dirname "$0")/../e2e/lib.sh"
W="$T_TMP/w"; mkdir -p "$W"
sh "$TOP/tests/e2e/genprog.sh" 300 > "$W/a.vir"
sed 's/addi r1, r1, \([0-9]*\)$/addi r1, r1, 5\1/' "$W/a.vir" > "$W/b.vir"
for v in a b; do
    "$AOTB" compile "$W/$v.vir" -d "$W/o$v" >/dev/null 2>&1 && ls "$W/o$v"/*.o > "$W/$v.rsp" &&
        "$AOTB" link -o "$W/$v.aot" "@$W/$v.rsp" >/dev/null 2>&1 || { not_ok "reference image $v"; t_done; }
done
# limited NAME CMD...: CMD under a limit of 16 blocks (8 or 16 KiB, smaller
# than the image) must exit 1, keep $W/x.aot == a.aot, leave no temporary.
limited () {
    name=$1; shift
    cp "$W/a.aot" "$W/x.aot"
    (ulimit -f 16; exec "$@") >/dev/null 2>"$W/err"; rc=$?
    tmps=$(find "$W" -maxdepth 1 -name 'x.aot.tmp.*')
    if [ $rc = 1 ] && cmp -s "$W/x.aot" "$W/a.aot" && [ -z "$tmps" ]; then ok "$name"; else
        not_ok "$name" "exit $rc (wanted 1)$( [ $rc -gt 128 ] && echo ": killed by signal $((rc - 128))")" \
            "stderr: $(head -2 "$W/err")" "old image intact: $(cmp -s "$W/x.aot" "$W/a.aot" && echo yes || echo no)" \
            "temporaries left: $tmps"
    fi
    rm -f $tmps
}
limited "aotb link over RLIMIT_FSIZE: clean error, old image kept, no temporary" \
    "$AOTB" link -o "$W/x.aot" "@$W/b.rsp"
if "$AOTB" build --help >/dev/null 2>&1; then
    limited "aotb build over RLIMIT_FSIZE: clean error, old image kept, no temporary" \
        "$AOTB" build "$W/b.vir" -o "$W/x.aot"
fi
t_done
