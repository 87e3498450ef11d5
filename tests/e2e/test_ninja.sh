#!/bin/sh
# test_ninja.sh: the build-system plugin.  Each scenario checks what Ninja
# itself ran (its status lines) and that the image runs like the interpreter.
. "$(dirname "$0")/lib.sh"
command -v ninja >/dev/null || { not_ok "ninja is installed"; t_done; }
W="$T_TMP/w"; mkdir -p "$W"
P="$W/prog.vir"
sh "$HERE/genprog.sh" 200 > "$P"

# nbuild: runs ninja aot-image in $W/aot; sets COMPILES (block compile edges
# that ran), LINKS, GENS, and keeps the log in $W/ninja.log.
nbuild () {
    NINJA_STATUS='[ran] ' ninja -C "$W/aot" aot-image >"$W/ninja.log" 2>&1
    NRC=$?
    COMPILES=$(grep -Ec '^\[ran\] AOTB (.*/)?obj/[0-9a-f]{16}\.o$' "$W/ninja.log")
    METAS=$(grep -Ec '^\[ran\] AOTB (.*/)?obj/meta\.o$' "$W/ninja.log")
    LINKS=$(grep -c '^\[ran\] LINK ' "$W/ninja.log")
}
# same_as_interp NAME: the image's output equals the interpreter's.
same_as_interp () {
    "$AOTB" interp "$P" --dump-mem 0:64 --dump-mem 0x8000:8 >"$W/want" 2>&1; wrc=$?
    "$AOTB" run "$W/aot/prog.aot" --dump-mem 0:64 --dump-mem 0x8000:8 >"$W/got" 2>&1; grc=$?
    if [ "$wrc" = "$grc" ] && cmp -s "$W/want" "$W/got"; then ok "$1"; else
        not_ok "$1" "interp exit $wrc, run exit $grc" "$(diff "$W/want" "$W/got" | head)"; fi
}
expect_counts () {  # NAME COMPILES LINKS
    if [ "$NRC" = 0 ] && [ "$COMPILES" = "$2" ] && [ "$LINKS" = "$3" ]; then ok "$1"; else
        not_ok "$1" "ninja exit $NRC, $COMPILES compile edges (wanted $2), $LINKS links (wanted $3)" "$(tail -5 "$W/ninja.log")"; fi
}

(cd "$W" && "$AOTB" gen prog.vir -o aot --stats) >"$W/gen.out" 2>&1 &&
    ok "aotb gen writes the build" || not_ok "aotb gen writes the build" "$(cat "$W/gen.out")"
grep -q 'added 200, modified 0, removed 0, unchanged 0' "$W/gen.out" &&
    ok "gen --stats reports 200 added" || not_ok "gen --stats reports 200 added" "$(cat "$W/gen.out")"
[ "$(ls "$W/aot/blocks" | wc -l)" = 200 ] && ok "one file per block" || not_ok "one file per block"

nbuild; expect_counts "fresh build runs 200 compile edges and one link" 200 1
same_as_interp "fresh image runs like the interpreter"
"$AOTB" verify "$W/aot/prog.aot" >/dev/null 2>&1 && ok "fresh image verifies" || not_ok "fresh image verifies"

nbuild
grep -q 'no work to do' "$W/ninja.log" && [ "$COMPILES" = 0 ] && ok "no-op rebuild runs nothing" ||
    not_ok "no-op rebuild runs nothing" "$(cat "$W/ninja.log")"
# without --fold a compile reads only its own block file: no depfiles, so
# Ninja's deps log stays empty (it is loaded on every run)
ninja -C "$W/aot" -t deps >"$W/deps.txt" 2>&1
[ ! -s "$W/deps.txt" ] && [ -z "$(find "$W/aot/obj" -name '*.d')" ] &&
    ok "without --fold: no depfiles, no deps records" ||
    not_ok "without --fold: no depfiles, no deps records" "$(head -5 "$W/deps.txt")"
ninja -C "$W/aot" -d explain aot-image >"$W/explain.log" 2>&1
grep -q 'is dirty' "$W/explain.log" && not_ok "ninja -d explain finds nothing dirty after a build" "$(head "$W/explain.log")" ||
    ok "ninja -d explain finds nothing dirty after a build"
(cd "$W" && "$AOTB" gen prog.vir -o aot --json) >"$W/gen.json" 2>&1
grep -q '^{"added":0,"modified":0,"removed":0,"unchanged":200,"blocks":\[{"pc":"0x0000000000001000","change":"unchanged","old_hash":"[0-9a-f]\{32\}","new_hash":"[0-9a-f]\{32\}"}' "$W/gen.json" &&
    ok "gen --json classifies every block" || not_ok "gen --json classifies every block" "$(head -c 300 "$W/gen.json")"

before=$("$AOTB" run "$W/aot/prog.aot" 2>&1)
sed -i 's/addi r1, r1, 57$/addi r1, r1, 1057/' "$P"
# gen --stats on a copy: block 57 (pc 0x1000 + 16 * 56 = 0x1380) is the one
# modified, the other 199 unchanged, one line each, then the totals.
cp -r "$W/aot" "$W/aot-stats"
(cd "$W" && "$AOTB" gen prog.vir -o aot-stats --stats) >"$W/stats.out" 2>&1
[ "$(grep -c '^0x[0-9a-f]\{16\} unchanged$' "$W/stats.out")" = 199 ] &&
    grep -q '^0x0000000000001380 modified$' "$W/stats.out" &&
    [ "$(tail -1 "$W/stats.out")" = "added 0, modified 1, removed 0, unchanged 199" ] &&
    ok "gen --stats names the modified block and counts the rest" ||
    not_ok "gen --stats names the modified block and counts the rest" "$(grep -v unchanged "$W/stats.out")"
rm -rf "$W/aot-stats"
ninja -C "$W/aot" -n -d explain aot-image >"$W/explain.log" 2>&1
grep -q 'build.ninja older than most recent input' "$W/explain.log" &&
    ok "ninja -d explain: the program is newer than build.ninja" || not_ok "ninja -d explain: the program is newer than build.ninja" "$(head "$W/explain.log")"
nbuild; expect_counts "one changed immediate: one compile edge + the link" 1 1
grep -q '0000000000001380\.o$' "$W/ninja.log" && ok "the edited block (0x1380) is the one recompiled" ||
    not_ok "the edited block (0x1380) is the one recompiled" "$(cat "$W/ninja.log")"
after=$("$AOTB" run "$W/aot/prog.aot" 2>&1)
[ "$before" != "$after" ] && ok "the run output changed" || not_ok "the run output changed"
same_as_interp "edited image runs like the interpreter"

# comments, whitespace, number spelling and block order: nothing to compile
awk 'BEGIN{srand(7)} /^block/{if (b) out[++n]=b; b=$0 "   ; moved\n"; next}
     b{b=b "   " $0 "\n"; next} {print}
     END{out[++n]=b; for (i=n;i>=1;i--) printf "%s", out[i]}' "$P" > "$P.new" && mv "$P.new" "$P"
sed -i 's/movi r2, 16$/movi r2, 0x1_0/' "$P"
nbuild; expect_counts "comment / whitespace / order / spelling edits compile nothing" 0 0
same_as_interp "reordered program still runs like the interpreter"

# a block removed: its object is no longer linked, a jump to it is nocode
awk '/^block 0x1640 /{skip=1} skip&&/^ *}/{skip=0; next} !skip' "$P" > "$P.new" && mv "$P.new" "$P"
nbuild; expect_counts "a removed block: no compile edge, one link" 0 1
[ ! -e "$W/aot/blocks/0000000000001640.vir" ] && ok "the removed block's file is deleted" || not_ok "the removed block's file is deleted"
grep -q '0000000000001640' "$W/aot/build.ninja" && not_ok "build.ninja forgets the removed block" || ok "build.ninja forgets the removed block"
"$AOTB" run "$W/aot/prog.aot" >"$W/got" 2>&1
grep -q '^status: nocode 0x0000000000001640$' "$W/got" && ok "a jump to the removed block gives nocode" || not_ok "a jump to the removed block gives nocode" "$(cat "$W/got")"
same_as_interp "image without the block runs like the interpreter"

printf 'block 0x1640 {\n    addi r1, r1, 100\n    jmp 0x1650\n}\n' >> "$P"
nbuild; expect_counts "an added block: one compile edge" 1 1
same_as_interp "image with the added block runs like the interpreter"

sed -i 's/^data 0x8000 u64 7$/data 0x8000 u64 8/' "$P"
nbuild; expect_counts "a data-only change relinks without compiling blocks" 0 1
[ "$METAS" = 1 ] && ok "the data change recompiles meta.o" || not_ok "the data change recompiles meta.o"
"$AOTB" run "$W/aot/prog.aot" --dump-mem 0x8000:8 | grep -q '^mem 0x0000000000008000: 08 00 00 00 00 00 00 00$' &&
    ok "the image holds the new data" || not_ok "the image holds the new data"
same_as_interp "image after the data change runs like the interpreter"

# killed mid-build, then built again: a correct image
# (killed once 20 objects are new, so always mid-way, before the link)
sed -i 's/addi r1, r1, \([0-9]*\)$/addi r1, r1, 2\1/' "$P"
touch "$W/mark"; sleep 0.01
(cd "$W/aot" && exec ninja aot-image) >/dev/null 2>&1 & pid=$!
i=0
while [ "$(find "$W/aot/obj" -name '*.o' -newer "$W/mark" | wc -l)" -lt 20 ] && [ $i -lt 1000 ]; do
    sleep 0.01; i=$((i + 1)); done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
[ "$W/aot/prog.aot" -nt "$W/mark" ] && not_ok "the build was killed before its link" ||
    ok "the build was killed before its link"
sleep 1  # the compiles the killed ninja had started finish on their own
nbuild
[ "$NRC" = 0 ] && [ "$LINKS" = 1 ] && ok "build after an interrupted build succeeds" || not_ok "build after an interrupted build succeeds" "$(tail -5 "$W/ninja.log")"
same_as_interp "image after an interrupted build runs like the interpreter"
"$AOTB" verify "$W/aot/prog.aot" >/dev/null 2>&1 && ok "image after an interrupted build verifies" || not_ok "image after an interrupted build verifies"

# Ninja's own tools behave
ninja -C "$W/aot" -t compdb >"$W/compdb.json" 2>&1 && grep -q '"command"' "$W/compdb.json" &&
    ok "ninja -t compdb lists the commands" || not_ok "ninja -t compdb lists the commands"
ninja -C "$W/aot" -t cleandead >/dev/null 2>&1 && ok "ninja -t cleandead runs" || not_ok "ninja -t cleandead runs"
ninja -C "$W/aot" -t clean >/dev/null 2>&1 && [ ! -e "$W/aot/prog.aot" ] &&
    ok "ninja -t clean removes the image" || not_ok "ninja -t clean removes the image"
nbuild; expect_counts "rebuild after clean compiles every block" 200 1

# superblocks: with --fold, a block folds its small jmp successors; when a
# folded block changes, exactly the blocks that folded it recompile (their
# depfiles, as recorded by Ninja, name the folded block's file).
F="$T_TMP/fold"; mkdir -p "$F"
sh "$HERE/genprog.sh" 40 > "$F/prog.vir"
(cd "$F" && "$AOTB" gen prog.vir -o aot --fold 4 >/dev/null) && ok "gen --fold" || not_ok "gen --fold"
ninja -C "$F/aot" aot-image >/dev/null 2>&1 && ok "fold build" || not_ok "fold build"
ninja -C "$F/aot" -t deps > "$F/deps.txt" 2>&1
want=$(awk '/^obj\/[0-9a-f]+\.o:/{o=$1; sub(":","",o)} /blocks\/0000000000001100\.vir/{print o}' "$F/deps.txt" | sort -u)
nwant=$(printf '%s\n' "$want" | grep -c .)
[ "$nwant" -gt 1 ] && ok "blocks fold their successors ($nwant objects depend on block 0x1100)" ||
    not_ok "blocks fold their successors" "$(head -20 "$F/deps.txt")"
# every block of the chain has 3 ops (<= 4) and ends in jmp, and a superblock
# is at most eight blocks deep (aotb(1)): 0x1100 (block 16) is folded into
# blocks 9 .. 15 and is its own block 16, and nothing else
fold_dependents () {  # the objects that hold the code of block $1 (of a chain)
    k=$(($1 - 7)); [ "$k" -lt 0 ] && k=0
    while [ "$k" -le "$1" ]; do printf '%s/%016x.o\n' "${2:-obj}" $((0x1000 + 16 * k)); k=$((k + 1)); done
}
[ "$want" = "$(fold_dependents 16)" ] && ok "the depfiles name exactly the blocks that fold 0x1100" ||
    not_ok "the depfiles name exactly the blocks that fold 0x1100" "recorded: $want" "expected: $(fold_dependents 16)"
# same_from_each NAME DIR PROG IMAGE: the image runs like the interpreter when
# started at each block that folds 0x1100 (from the entry, only some of the
# superblocks run)
same_from_each () {
    bad=
    for o in $(fold_dependents 16); do
        e=0x${o#obj/}; e=${e%.o}
        "$AOTB" interp "$3" --entry "$e" >"$2/want" 2>&1; "$AOTB" run "$4" --entry "$e" >"$2/got" 2>&1
        cmp -s "$2/want" "$2/got" || bad="$bad $e"
    done
    [ -z "$bad" ] && ok "$1" || not_ok "$1" "differs from the interpreter when started at:$bad"
}
sed -i 's/addi r1, r1, 17$/addi r1, r1, 1700/' "$F/prog.vir"
NINJA_STATUS='[ran] ' ninja -C "$F/aot" aot-image >"$F/log" 2>&1
got=$(sed -n 's/^\[ran\] AOTB \(obj\/[0-9a-f]\{16\}\.o\)$/\1/p' "$F/log" | sort -u)
[ -n "$got" ] && [ "$got" = "$want" ] && ok "a folded block changed: exactly its dependents recompile" ||
    not_ok "a folded block changed: exactly its dependents recompile" "ran: $got" "wanted: $want"
"$AOTB" interp "$F/prog.vir" --dump-mem 0:64 >"$F/want" 2>&1; "$AOTB" run "$F/aot/prog.aot" --dump-mem 0:64 >"$F/got" 2>&1
cmp -s "$F/want" "$F/got" && ok "superblock image runs like the interpreter" || not_ok "superblock image runs like the interpreter" "$(diff "$F/want" "$F/got")"
same_from_each "superblock image runs like the interpreter from every block that folds 0x1100" "$F" "$F/prog.vir" "$F/aot/prog.aot"
"$AOTB" dump "$F/aot/obj/00000000000010f0.o" 2>/dev/null | grep -q '^folded block: 0x0000000000001100 ' && ok "dump shows the folded blocks" || not_ok "dump shows the folded blocks"
# the folded block removed: the blocks that folded it recompile (a file named
# by their depfiles is gone), nothing else, and jump to nocode like the
# interpreter
awk '/^block 0x1100 /{skip=1} skip&&/^ *}/{skip=0; next} !skip' "$F/prog.vir" > "$F/p.new" && mv "$F/p.new" "$F/prog.vir"
NINJA_STATUS='[ran] ' ninja -C "$F/aot" aot-image >"$F/log" 2>&1; rc=$?
got=$(sed -n 's/^\[ran\] AOTB \(obj\/[0-9a-f]\{16\}\.o\)$/\1/p' "$F/log" | sort -u)
[ "$rc" = 0 ] && [ "$got" = "$(fold_dependents 16 | grep -v 1100)" ] && ok "a folded block removed: exactly the blocks that folded it recompile" ||
    not_ok "a folded block removed: exactly the blocks that folded it recompile" "ninja exit $rc, ran: $got" "$(tail -3 "$F/log")"
same_from_each "image without the folded block runs like the interpreter from every block that folded it" "$F" "$F/prog.vir" "$F/aot/prog.aot"

# --batch: K blocks per edge; a change still recompiles only that block inside
B="$T_TMP/batch"; mkdir -p "$B"
sh "$HERE/genprog.sh" 40 > "$B/prog.vir"
(cd "$B" && "$AOTB" gen prog.vir -o aot --batch 8 >/dev/null)
n=$(grep -c '^build .*: aotb_compile_batch ' "$B/aot/build.ninja")
[ "$n" = 5 ] && ok "--batch 8 makes 5 compile edges for 40 blocks" || not_ok "--batch 8 makes 5 compile edges for 40 blocks" "$n"
ninja -C "$B/aot" aot-image >/dev/null 2>&1 && ok "batch build" || not_ok "batch build"
ls -l --time-style=+%s.%N "$B/aot/obj" > "$B/before"
sleep 0.01; sed -i 's/addi r1, r1, 17$/addi r1, r1, 1700/' "$B/prog.vir"
NINJA_STATUS='[ran] ' ninja -C "$B/aot" aot-image >"$B/log" 2>&1
ls -l --time-style=+%s.%N "$B/aot/obj" > "$B/after"
changed=$(diff "$B/before" "$B/after" | grep '^>' | grep -c '[0-9a-f]\{16\}\.o$')
[ "$(grep -c 'AOTB batch' "$B/log")" = 1 ] && [ "$changed" = 1 ] && ok "a change reruns one batch edge and rewrites one object" ||
    not_ok "a change reruns one batch edge and rewrites one object" "$(cat "$B/log")" "objects rewritten: $changed"
"$AOTB" interp "$B/prog.vir" >"$B/want" 2>&1; "$AOTB" run "$B/aot/prog.aot" >"$B/got" 2>&1
cmp -s "$B/want" "$B/got" && ok "batch image runs like the interpreter" || not_ok "batch image runs like the interpreter"

# --batch with --fold: a block folded into blocks of another batch; that
# batch's depfile names it, so both batches rerun and no stale copy of the
# folded block's code stays in the image
BF="$T_TMP/batchfold"; mkdir -p "$BF"
sh "$HERE/genprog.sh" 40 > "$BF/prog.vir"
(cd "$BF" && "$AOTB" gen prog.vir -o aot --batch 8 --fold 4 >/dev/null) &&
    ninja -C "$BF/aot" aot-image >"$BF/log" 2>&1 && ok "batch + fold build" || not_ok "batch + fold build" "$(tail -3 "$BF/log")"
sed -i 's/addi r1, r1, 17$/addi r1, r1, 1700/' "$BF/prog.vir"
NINJA_STATUS='[ran] ' ninja -C "$BF/aot" aot-image >"$BF/log" 2>&1
# blocks 9..15 are in the batch of block 8 (0x1080), block 16 starts the next
n=$(grep -c '^\[ran\] AOTB batch of obj/0000000000001080\.o .*obj/00000000000010f0\.o$' "$BF/log")
m=$(grep -c '^\[ran\] AOTB batch of obj/0000000000001100\.o ' "$BF/log")
[ "$n" = 1 ] && [ "$m" = 1 ] && [ "$(grep -c '^\[ran\] AOTB batch' "$BF/log")" = 2 ] &&
    ok "batch + fold: the folded block's batch and the batch folding it rerun, no other" ||
    not_ok "batch + fold: the folded block's batch and the batch folding it rerun, no other" "$(cat "$BF/log")"
same_from_each "batch + fold image runs like the interpreter from every block that folds 0x1100" "$BF" "$BF/prog.vir" "$BF/aot/prog.aot"

# subninja from a user's project one directory up
U="$T_TMP/user"; mkdir -p "$U"; sh "$HERE/genprog.sh" 50 > "$U/prog.vir"
(cd "$U" && "$AOTB" gen prog.vir -o gen/aot --root . >/dev/null) &&
printf 'subninja gen/aot/build.ninja\nbuild build.ninja: phony gen/aot/build.ninja\nbuild all: phony aot-image\n' > "$U/build.ninja"
if ninja -C "$U" all >"$W/u.log" 2>&1 && [ -f "$U/gen/aot/prog.aot" ]; then ok "subninja from a user's build.ninja"; else
    not_ok "subninja from a user's build.ninja" "$(tail -5 "$W/u.log")"; fi
sed -i 's/addi r1, r1, 3$/addi r1, r1, 3003/' "$U/prog.vir"
NINJA_STATUS='[ran] ' ninja -C "$U" all >"$W/u.log" 2>&1
n=$(grep -Ec '^\[ran\] AOTB (.*/)?obj/[0-9a-f]{16}\.o$' "$W/u.log")
g=$(grep -c '^\[ran\] GEN ' "$W/u.log")
if [ "$n" = 1 ] && [ "$g" = 1 ]; then ok "subninja: an edit regenerates and recompiles one block"; else
    not_ok "subninja: an edit regenerates and recompiles one block" "$(cat "$W/u.log")"; fi
"$AOTB" interp "$U/prog.vir" >"$W/want" 2>&1; "$AOTB" run "$U/gen/aot/prog.aot" >"$W/got" 2>&1
cmp -s "$W/want" "$W/got" && ok "subninja image runs like the interpreter" || not_ok "subninja image runs like the interpreter"
ninja -C "$U" all 2>&1 | grep -q 'no work to do' && ok "subninja: then nothing to do" || not_ok "subninja: then nothing to do"
# the aotb binary in a directory whose name needs quoting: the commands quote
# it, the implicit input on every edge must still name the real file
S="$T_TMP/bin dir"; mkdir -p "$S/w"
cp "$AOTB" "$S/aotb"
sh "$HERE/genprog.sh" 6 > "$S/w/prog.vir"
(cd "$S/w" && "$S/aotb" gen prog.vir -o aot >/dev/null) &&
    ninja -C "$S/w/aot" aot-image >"$S/log" 2>&1 && [ -f "$S/w/aot/prog.aot" ] &&
    ok "an aotb path with a space builds" || not_ok "an aotb path with a space builds" "$(tail -3 "$S/log")"
"$AOTB" interp "$S/w/prog.vir" >"$S/want" 2>&1; "$AOTB" run "$S/w/aot/prog.aot" >"$S/got" 2>&1
cmp -s "$S/want" "$S/got" && ok "image built by an aotb path with a space runs like the interpreter" ||
    not_ok "image built by an aotb path with a space runs like the interpreter"
ninja -C "$S/w/aot" aot-image 2>&1 | grep -q 'no work to do' && ok "aotb path with a space: then nothing to do" ||
    not_ok "aotb path with a space: then nothing to do"
touch "$S/aotb"
NINJA_STATUS='[ran] ' ninja -C "$S/w/aot" aot-image >"$S/log" 2>&1
n=$(grep -Ec '^\[ran\] AOTB obj/[0-9a-f]{16}\.o$' "$S/log")
[ "$n" = 6 ] && ok "a newer aotb binary (path with a space) recompiles every block" ||
    not_ok "a newer aotb binary (path with a space) recompiles every block" "$(cat "$S/log")"
# the compile edges name the binary by its identity, not as an input
grep -q '^build obj/[0-9a-f]*\.o: aotb_compile blocks/[0-9a-f]*\.vir$' "$S/w/aot/build.ninja" &&
    grep -q "^  command = exec '$S/aotb' compile --binary '[0-9a-f:.]*' " "$S/w/aot/build.ninja" &&
    ok "compile edges name the binary by its identity" ||
    not_ok "compile edges name the binary by its identity" "$(sed -n '/^rule aotb_compile$/,+1p;/^build obj/p' "$S/w/aot/build.ninja" | head -4)"
# a binary replaced by a copy with the same mtime: Ninja sees nothing new,
# but the next generation (after an edit) names the new binary, so every
# block recompiles
cp -p "$S/aotb" "$S/aotb.new" && mv "$S/aotb.new" "$S/aotb"
sed -i 's/addi r1, r1, 3$/addi r1, r1, 3003/' "$S/w/prog.vir"
NINJA_STATUS='[ran] ' ninja -C "$S/w/aot" aot-image >"$S/log" 2>&1
n=$(grep -Ec '^\[ran\] AOTB obj/[0-9a-f]{16}\.o$' "$S/log")
[ "$n" = 6 ] && ok "a binary replaced with the same mtime: the next edit recompiles every block" ||
    not_ok "a binary replaced with the same mtime: the next edit recompiles every block" "$(cat "$S/log")"
ninja -C "$S/w/aot" aot-image 2>&1 | grep -q 'no work to do' && ok "then nothing to do" ||
    not_ok "then nothing to do"
# compile --binary only marks the command: any identity compiles the same
b1="$S/w/aot/blocks/$(ls "$S/w/aot/blocks" | head -1)"
"$S/aotb" compile "$b1" -o "$S/x.o" &&
    "$S/aotb" compile --binary 0:0:0:0.000000000 "$b1" -o "$S/y.o" && cmp -s "$S/x.o" "$S/y.o" &&
    ok "compile --binary ID does not change the object" || not_ok "compile --binary ID does not change the object"
# a refused gen (bad --image directory, bad --root, a malformed program)
# exits 1 with a message naming the culprit and creates nothing
R="$T_TMP/refused"; mkdir -p "$R"
sh "$HERE/genprog.sh" 3 > "$R/prog.vir"
printf 'block 0 {\n  bogus\n}\n' > "$R/bad.vir"
for args in "prog.vir -o out1 --image $R/nonexist/x.aot" "prog.vir -o out2 --root $R/nonexist" \
            "bad.vir -o out3"; do
    # shellcheck disable=SC2086
    (cd "$R" && "$AOTB" gen $args) >"$R/log" 2>&1; rc=$?
    out=$(echo "$args" | sed 's/.* -o \(out[0-9]\).*/\1/')
    if [ "$rc" = 1 ] && [ ! -e "$R/$out" ] && grep -q 'nonexist\|bad.vir:2:3: error' "$R/log"; then
        ok "gen $args: refused, nothing created"
    else
        not_ok "gen $args: refused, nothing created" "exit $rc" "$(ls "$R")" "$(cat "$R/log")"
    fi
done
t_done
