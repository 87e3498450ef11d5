#!/bin/sh
# valgrind.sh (make check-valgrind): every CLI path (build, diff, verify
# --full and compact included) on small programs under
# valgrind --leak-check=full; any memory error or leak (definite, indirect
# or possible) fails.  valgrind's own error exit code is 99 so that it is
# told apart from aotb's exit 1 for bad input, which some cases expect.
. "$(dirname "$0")/../e2e/lib.sh"
command -v valgrind >/dev/null || { not_ok "valgrind is installed (configure --install-deps)"; t_done; }
W="$T_TMP/w"; mkdir -p "$W"
VG="valgrind -q --leak-check=full --show-leak-kinds=all --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99 --track-fds=no"
N=0
# vg NAME RC CMD...: aotb CMD under valgrind must exit RC with no report.
vg () {
    name=$1 want=$2; shift 2
    N=$((N + 1))
    # shellcheck disable=SC2086
    $VG "$AOTB" "$@" >"$W/out" 2>"$W/vg"; rc=$?
    if [ $rc = "$want" ] && ! grep -q '^==[0-9]*==' "$W/vg"; then ok "valgrind: aotb $name (exit $rc)"; else
        not_ok "valgrind: aotb $name" "exit $rc (wanted $want)" "$(grep '^==' "$W/vg" | head -20)"; fi
}
P="$TOP/tests/programs"
cp "$P/calls.vir" "$W/calls.vir"
sh "$TOP/tests/e2e/genprog.sh" 40 > "$W/chain.vir"
printf 'block 0x10 {\n    addi r1, r1, 1\n    ret\n}\n' > "$W/one.vir"
printf 'block 0x10 {\n    bogus r1\n    ret\n}\nblock 0x10 {\n    ret\n}\n' > "$W/bad.vir"

vg "fmt" 0 fmt "$W/calls.vir"
vg "fmt (parse errors)" 1 fmt "$W/bad.vir"
vg "hash" 0 hash "$W/calls.vir"
vg "interp" 0 interp "$W/calls.vir" --dump-mem 0:32
vg "interp (memfault)" 3 interp "$P/memfault.vir"
vg "interp (callstack)" 3 interp "$P/callstack.vir"
vg "compile -d" 0 compile "$W/calls.vir" -d "$W/obj"
vg "compile -o one block" 0 compile "$W/one.vir" -o "$W/one.o"
vg "compile --meta" 0 compile --meta "$W/meta.o" "$W/calls.vir"
vg "compile --runtime" 0 compile --runtime -o "$W/rt.o"
vg "compile (parse errors)" 1 compile "$W/bad.vir" -d "$W/badobj"
ls "$W"/obj/*.o > "$W/rsp"
vg "link" 0 link -o "$W/calls.aot" "@$W/rsp"
vg "link (not an object)" 1 link -o "$W/x.aot" "$W/calls.vir"
vg "verify" 0 verify "$W/calls.aot"
vg "run" 0 run "$W/calls.aot" --dump-mem 0:32
vg "run --max-blocks" 3 run "$W/calls.aot" --max-blocks 2
vg "dump image" 0 dump "$W/calls.aot"
vg "dump object" 0 dump "$W/one.o"
head -c 1000 "$W/calls.aot" > "$W/trunc.aot"
vg "verify (truncated image)" 1 verify "$W/trunc.aot"
vg "run (truncated image)" 1 run "$W/trunc.aot"
vg "dump (truncated image)" 1 dump "$W/trunc.aot"
vg "gen" 0 gen "$W/chain.vir" -o "$W/aot" --make --stats
sed -i 's/addi r1, r1, 7$/addi r1, r1, 70/' "$W/chain.vir"
vg "gen (update)" 0 gen "$W/chain.vir" -o "$W/aot" --stats
vg "interp (missing file)" 1 interp "$W/nope.vir"
if "$AOTB" build --help >/dev/null 2>&1; then
    vg "build" 0 build "$W/chain.vir" -o "$W/chain.aot" -j 2
    sed -i 's/addi r1, r1, 9$/addi r1, r1, 90/' "$W/chain.vir"
    vg "build (incremental)" 0 build "$W/chain.vir" -o "$W/chain.aot" -j 2 --stats
    vg "run (built image)" 0 run "$W/chain.aot"
    vg "build --fold (fingerprint change)" 0 build "$W/chain.vir" -o "$W/chain.aot" --fold 4 --json
    sed -i 's/addi r1, r1, 11$/addi r1, r1, 110/' "$W/chain.vir"
    vg "build --fold (dependency)" 0 build "$W/chain.vir" -o "$W/chain.aot" --fold 4 --stats
    vg "build --full --no-preserve-unchanged" 0 build "$W/chain.vir" -o "$W/chain.aot" --full --no-preserve-unchanged
    vg "build (parse errors)" 1 build "$W/bad.vir" -o "$W/chain.aot"
    vg "build (damaged image)" 1 build "$W/chain.vir" -o "$W/trunc.aot"
    cp "$W/chain.vir" "$W/chain2.vir"
    sed -i 's/addi r1, r1, 13$/addi r1, r1, 130/' "$W/chain2.vir"
    vg "diff OLD.aot PROG.vir" 0 diff "$W/chain.aot" "$W/chain2.vir"
    vg "diff --json OLD.vir NEW.vir" 0 diff --json "$W/chain.vir" "$W/chain2.vir"
    vg "diff --dot --fold" 0 diff --dot --fold 4 "$W/chain.aot" "$W/chain2.vir"
    vg "diff (damaged image)" 1 diff "$W/trunc.aot" "$W/chain2.vir"
    vg "verify --full" 0 verify --full "$W/chain.aot"
    vg "compact -o" 0 compact "$W/chain.aot" -o "$W/compact.aot"
    vg "compact (damaged image)" 1 compact "$W/trunc.aot" -o "$W/compact2.aot"
fi
echo "# $N CLI runs under valgrind"
t_done
