#!/bin/sh
# test_make.sh: the same incremental scenarios through the GNU Make fragment
# (aotb gen --make): a user's Makefile includes aot/aot.mk and runs
# "make incremental".  Counts the compile commands Make itself ran.
. "$(dirname "$0")/lib.sh"
W="$T_TMP/u"; mkdir -p "$W"
P="$W/prog.vir"
sh "$HERE/genprog.sh" 200 > "$P"
printf 'all: incremental\ninclude aot/aot.mk\n' > "$W/Makefile"

mbuild () {
    make -C "$W" incremental >"$W/make.log" 2>&1
    MRC=$?
    COMPILES=$(grep -c ' compile .*aot/blocks/[0-9a-f]\{16\}\.vir ' "$W/make.log")
    LINKS=$(grep -c ' link -o ' "$W/make.log")
    GENS=$(grep -c ' gen prog.vir ' "$W/make.log")
}
expect_counts () {  # NAME COMPILES LINKS
    if [ "$MRC" = 0 ] && [ "$COMPILES" = "$2" ] && [ "$LINKS" = "$3" ]; then ok "$1"; else
        not_ok "$1" "make exit $MRC, $COMPILES compiles (wanted $2), $LINKS links (wanted $3)" "$(tail -5 "$W/make.log")"; fi
}
same_as_interp () {
    "$AOTB" interp "$P" --dump-mem 0:64 --dump-mem 0x8000:8 >"$W/want" 2>&1; wrc=$?
    "$AOTB" run "$W/aot/prog.aot" --dump-mem 0:64 --dump-mem 0x8000:8 >"$W/got" 2>&1; grc=$?
    if [ "$wrc" = "$grc" ] && cmp -s "$W/want" "$W/got"; then ok "$1"; else
        not_ok "$1" "interp exit $wrc, run exit $grc" "$(diff "$W/want" "$W/got" | head)"; fi
}

(cd "$W" && "$AOTB" gen prog.vir -o aot --make --root .) >"$W/gen.out" 2>&1 &&
    [ -f "$W/aot/aot.mk" ] && ok "aotb gen --make writes aot.mk" || not_ok "aotb gen --make writes aot.mk" "$(cat "$W/gen.out")"

mbuild; expect_counts "make incremental: fresh build compiles 200 blocks and links" 200 1
same_as_interp "fresh image runs like the interpreter"
mbuild; expect_counts "no-op make compiles nothing" 0 0
[ "$GENS" = 0 ] && ok "no-op make does not regenerate" || not_ok "no-op make does not regenerate" "$(cat "$W/make.log")"

sed -i 's/addi r1, r1, 57$/addi r1, r1, 1057/' "$P"
mbuild; expect_counts "one changed immediate: one compile and the link" 1 1
grep -q 'blocks/0000000000001380\.vir' "$W/make.log" && ok "the edited block is the one recompiled" || not_ok "the edited block is the one recompiled"
same_as_interp "edited image runs like the interpreter"

sed -i 's/^block 0x1010 {$/block 0x1010 {   ; a comment/; s/movi r2, 16$/movi   r2,  0x10/' "$P"
mbuild; expect_counts "comment / whitespace / spelling edits compile nothing" 0 0
awk '/^block/{if (b) out[++n]=b; b=$0 "\n"; next} b{b=b $0 "\n"; next} {print}
     END{out[++n]=b; for (i=n;i>=1;i--) printf "%s", out[i]}' "$P" > "$P.new" && mv "$P.new" "$P"
mbuild; expect_counts "reversing the block order compiles nothing" 0 0
same_as_interp "reordered program still runs like the interpreter"

awk '/^block 0x1640 /{skip=1} skip&&/^ *}/{skip=0; next} !skip' "$P" > "$P.new" && mv "$P.new" "$P"
mbuild; expect_counts "a removed block: no compile, one link" 0 1
"$AOTB" run "$W/aot/prog.aot" | grep -q '^status: nocode 0x0000000000001640$' && ok "a jump to the removed block gives nocode" || not_ok "a jump to the removed block gives nocode"

printf 'block 0x1640 {\n    addi r1, r1, 100\n    jmp 0x1650\n}\n' >> "$P"
mbuild; expect_counts "an added block: one compile" 1 1
same_as_interp "image with the added block runs like the interpreter"

sed -i 's/^data 0x8000 u64 7$/data 0x8000 u64 9/' "$P"
mbuild; expect_counts "a data-only change relinks without compiling blocks" 0 1
same_as_interp "image after the data change runs like the interpreter"
(cd "$W" && "$AOTB" gen prog.vir -o aot --make --root . --json) >"$W/gen.json" 2>&1
grep -q '"removed":0,"unchanged":' "$W/gen.json" && ok "gen --make --json" || not_ok "gen --make --json" "$(head -c 200 "$W/gen.json")"

# killed mid-build, then built again: a correct image
# (killed once 20 objects are new, so always mid-way, before the link)
sed -i 's/addi r1, r1, \([0-9]*\)$/addi r1, r1, 3\1/' "$P"
touch "$W/mark"; sleep 0.01
make -C "$W" incremental >/dev/null 2>&1 & pid=$!
i=0
while [ "$(find "$W/aot/obj" -name '*.o' -newer "$W/mark" | wc -l)" -lt 20 ] && [ $i -lt 1000 ]; do
    sleep 0.01; i=$((i + 1)); done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
[ "$W/aot/prog.aot" -nt "$W/mark" ] && not_ok "make was killed before its link" ||
    ok "make was killed before its link"
sleep 1  # a compile the killed make had started finishes on its own
mbuild
[ "$MRC" = 0 ] && [ "$LINKS" = 1 ] && ok "make after an interrupted make succeeds" || not_ok "make after an interrupted make succeeds" "$(tail -5 "$W/make.log")"
same_as_interp "image after an interrupted make runs like the interpreter"
"$AOTB" verify "$W/aot/prog.aot" >/dev/null 2>&1 && ok "image after an interrupted make verifies" || not_ok "image after an interrupted make verifies"

# superblocks through Make: the depfiles (.o.d) name the folded blocks' files
F="$T_TMP/fold"; mkdir -p "$F"
sh "$HERE/genprog.sh" 40 > "$F/prog.vir"
printf 'all: incremental\ninclude aot/aot.mk\n' > "$F/Makefile"
(cd "$F" && "$AOTB" gen prog.vir -o aot --make --root . --fold 4 >/dev/null)
make -C "$F" incremental >/dev/null 2>&1 && ok "make with --fold builds" || not_ok "make with --fold builds"
want=$(grep -l 'blocks/0000000000001100\.vir' "$F"/aot/obj/*.o.d | sed 's|.*/\([0-9a-f]\{16\}\)\.o\.d$|\1|' | sort)
[ "$(printf '%s\n' "$want" | grep -c .)" -gt 1 ] && ok "make: blocks fold their successors" || not_ok "make: blocks fold their successors" "$want"
sed -i 's/addi r1, r1, 17$/addi r1, r1, 1700/' "$F/prog.vir"
make -C "$F" incremental >"$F/log" 2>&1
got=$(sed -n 's|.* compile .*aot/blocks/\([0-9a-f]\{16\}\)\.vir .*|\1|p' "$F/log" | sort)
[ -n "$got" ] && [ "$got" = "$want" ] && ok "make: a folded block changed: exactly its dependents recompile" ||
    not_ok "make: a folded block changed: exactly its dependents recompile" "ran: $got" "wanted: $want"
"$AOTB" interp "$F/prog.vir" >"$F/want" 2>&1; "$AOTB" run "$F/aot/prog.aot" >"$F/got" 2>&1
cmp -s "$F/want" "$F/got" && ok "make: superblock image runs like the interpreter" || not_ok "make: superblock image runs like the interpreter"
# the folded block removed: its file, named by the depfiles of the blocks
# that folded it, is gone; Make must not stop ("No rule to make target") and
# recompiles exactly those blocks (9..15: a superblock is at most eight deep)
awk '/^block 0x1100 /{skip=1} skip&&/^ *}/{skip=0; next} !skip' "$F/prog.vir" > "$F/p.new" && mv "$F/p.new" "$F/prog.vir"
make -C "$F" incremental >"$F/log" 2>&1; rc=$?
got=$(sed -n 's|.* compile .*aot/blocks/\([0-9a-f]\{16\}\)\.vir .*|\1|p' "$F/log" | sort | tr '\n' ' ')
want="0000000000001090 00000000000010a0 00000000000010b0 00000000000010c0 00000000000010d0 00000000000010e0 00000000000010f0 "
[ "$rc" = 0 ] && [ "$got" = "$want" ] && ok "make: a folded block removed: exactly the blocks that folded it recompile" ||
    not_ok "make: a folded block removed: exactly the blocks that folded it recompile" "make exit $rc, ran: $got" "$(tail -3 "$F/log")"
bad=
for e in 0x1090 0x10a0 0x10b0 0x10c0 0x10d0 0x10e0 0x10f0; do
    "$AOTB" interp "$F/prog.vir" --entry $e >"$F/want" 2>&1; "$AOTB" run "$F/aot/prog.aot" --entry $e >"$F/got" 2>&1
    cmp -s "$F/want" "$F/got" || bad="$bad $e"
done
[ -z "$bad" ] && ok "make: image without the folded block runs like the interpreter from every block that folded it" ||
    not_ok "make: image without the folded block runs like the interpreter from every block that folded it" "differs at:$bad"

# other compile options: Make cannot see a changed command, so the objects
# depend on aot.cflags; all 39 blocks (0x1100 was removed) recompile (no
# fingerprint mismatch at the link), and once only
(cd "$F" && "$AOTB" gen prog.vir -o aot --make --root . >/dev/null)
make -C "$F" incremental >"$F/log" 2>&1; rc=$?
n=$(grep -c ' compile .*aot/blocks/[0-9a-f]\{16\}\.vir ' "$F/log")
[ "$rc" = 0 ] && [ "$n" = 39 ] && ok "make: dropping --fold recompiles every block" ||
    not_ok "make: dropping --fold recompiles every block" "make exit $rc, $n compiles" "$(tail -3 "$F/log")"
"$AOTB" dump "$F/aot/prog.aot" 2>/dev/null | grep -q 'fold=0' && ok "make: the image is built without folding" ||
    not_ok "make: the image is built without folding"
"$AOTB" interp "$F/prog.vir" >"$F/want" 2>&1; "$AOTB" run "$F/aot/prog.aot" >"$F/got" 2>&1
cmp -s "$F/want" "$F/got" && ok "make: image after an option change runs like the interpreter" ||
    not_ok "make: image after an option change runs like the interpreter"
make -C "$F" incremental 2>&1 | grep -q 'Nothing to be done' && ok "make: then nothing to do" || not_ok "make: then nothing to do"
# --batch through Make: the batches of build.ninja as grouped targets.  40
# blocks in batches of 8 (first blocks 0x1000, 0x1080, 0x1100, 0x1180,
# 0x1200); block 17 (pc 0x1100, "addi r1, r1, 17") edited: one batch recipe
# runs, the one that starts at 0x1100, and only that block's object changes.
BT="$T_TMP/batch"; mkdir -p "$BT"
sh "$HERE/genprog.sh" 40 > "$BT/prog.vir"
printf 'all: incremental\ninclude aot/aot.mk\n' > "$BT/Makefile"
(cd "$BT" && "$AOTB" gen prog.vir -o aot --make --root . --batch 8 >/dev/null)
make -C "$BT" incremental >"$BT/log" 2>&1; rc=$?
n=$(grep -c ' compile .*--batch ' "$BT/log")
[ "$rc" = 0 ] && [ "$n" = 5 ] && ok "make --batch 8: 40 blocks in 5 batch recipes" ||
    not_ok "make --batch 8: 40 blocks in 5 batch recipes" "make exit $rc, $n batch recipes" "$(tail -3 "$BT/log")"
"$AOTB" interp "$BT/prog.vir" >"$BT/want" 2>&1; "$AOTB" run "$BT/aot/prog.aot" >"$BT/got" 2>&1
cmp -s "$BT/want" "$BT/got" && ok "make --batch: image runs like the interpreter" || not_ok "make --batch: image runs like the interpreter"
make -C "$BT" incremental 2>&1 | grep -q 'Nothing to be done' && ok "make --batch: then nothing to do" || not_ok "make --batch: then nothing to do"
(cd "$BT/aot/obj" && md5sum *.o) > "$BT/before"
sed -i 's/addi r1, r1, 17$/addi r1, r1, 1700/' "$BT/prog.vir"
make -C "$BT" incremental >"$BT/log" 2>&1; rc=$?
ran=$(sed -n 's|.* --depfile aot/obj/\([0-9a-f]\{16\}\)\.batch\.d .*|\1|p' "$BT/log" | tr '\n' ' ')
(cd "$BT/aot/obj" && md5sum *.o) > "$BT/after"
changed=$(diff "$BT/before" "$BT/after" | sed -n 's/^> [0-9a-f]*  //p' | tr '\n' ' ')
[ "$rc" = 0 ] && [ "$ran" = "0000000000001100 " ] && [ "$changed" = "0000000000001100.o " ] &&
    ok "make --batch: one edited block reruns its batch and rewrites only its object" ||
    not_ok "make --batch: one edited block reruns its batch and rewrites only its object" "batches: $ran" "objects changed: $changed"
"$AOTB" interp "$BT/prog.vir" >"$BT/want" 2>&1; "$AOTB" run "$BT/aot/prog.aot" >"$BT/got" 2>&1
cmp -s "$BT/want" "$BT/got" && ok "make --batch: edited image runs like the interpreter" || not_ok "make --batch: edited image runs like the interpreter"
# from a clean tree: the Makefile of aotb(1) creates the fragment itself
C="$T_TMP/clean"; mkdir -p "$C/guest"
sh "$HERE/genprog.sh" 5 > "$C/guest/prog.vir"
printf '%s\n' 'AOTB ?= aotb' 'all: incremental' 'ifeq ($(wildcard out/aot/aot.mk),)' \
    'out/aot/aot.mk:' '	$(AOTB) gen guest/prog.vir -o out/aot --root . --make' 'endif' \
    'include out/aot/aot.mk' > "$C/Makefile"
make -C "$C" AOTB="$AOTB" >"$C/log" 2>&1; rc=$?
"$AOTB" interp "$C/guest/prog.vir" >"$C/want" 2>&1; "$AOTB" run "$C/out/aot/prog.aot" >"$C/got" 2>&1
[ "$rc" = 0 ] && cmp -s "$C/want" "$C/got" && ok "make from a clean tree generates, builds and runs like the interpreter" ||
    not_ok "make from a clean tree generates, builds and runs like the interpreter" "make exit $rc" "$(tail -3 "$C/log")"
make -C "$C" AOTB="$AOTB" 2>&1 | grep -q 'Nothing to be done' && ok "make from a clean tree: then nothing to do" ||
    not_ok "make from a clean tree: then nothing to do"
t_done
