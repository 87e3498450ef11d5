#!/bin/sh
# test_gen_reuse.sh: aotb gen takes the blocks whose text the previous
# generation parsed from its state instead of parsing them again.  After
# every edit below, a generation on top of the previous one must write
# exactly what a generation from scratch writes (every file, the state
# included), and fail with exactly its messages.
. "$(dirname "$0")/lib.sh"
W="$T_TMP/w"; mkdir -p "$W"
# a private copy of the binary: its identity keys the reuse
cp "$AOTB" "$W/aotb"
A="$W/aotb"
sh "$HERE/genprog.sh" 30 > "$W/v0.vir"
V="$W/v0.vir"

# same_as_fresh NAME FILE: gen FILE on top of the last generation in $W/inc
# and from scratch in $W/fresh; same exit status, messages and files.
same_as_fresh () {
    cp "$2" "$W/prog.vir"
    (cd "$W" && "$A" gen prog.vir -o inc) >"$W/inc.out" 2>&1; irc=$?
    rm -rf "$W/fresh"
    (cd "$W" && "$A" gen prog.vir -o fresh) >"$W/fresh.out" 2>&1; frc=$?
    sed 's/fresh/inc/g' "$W/fresh.out" > "$W/fresh.cmp"
    if [ "$irc" != "$frc" ] || ! cmp -s "$W/inc.out" "$W/fresh.cmp"; then
        not_ok "$1" "exit $irc on top of the last generation, $frc from scratch" \
            "$(diff "$W/inc.out" "$W/fresh.cmp" | head -5)"
        return
    fi
    # the state's line naming the build.ninja it wrote holds the file's
    # inode and mtime: compare the states without it
    if [ "$irc" = 0 ] && ! diff -r -x .aotb-gen-state "$W/inc" "$W/fresh" >"$W/diff.out" 2>&1; then
        not_ok "$1" "$(head -5 "$W/diff.out")"
        return
    fi
    if [ "$irc" = 0 ] && ! { grep -v '^ninja ' "$W/inc/.aotb-gen-state" > "$W/inc.state" &&
                             grep -v '^ninja ' "$W/fresh/.aotb-gen-state" > "$W/fresh.state" &&
                             cmp -s "$W/inc.state" "$W/fresh.state"; }; then
        not_ok "$1" "the states differ" "$(diff "$W/inc.state" "$W/fresh.state" | head -5)"
        return
    fi
    ok "$1 (exit $irc)"
}

same_as_fresh "first generation" "$V"
{ cat "$V"; printf 'block 0x9000 {\n    ret\n}\n'; } > "$W/add.vir"
same_as_fresh "a block added" "$W/add.vir"
awk '/^block 0x1050 /{skip=1} skip&&/^}/{skip=0; next} !skip' "$V" > "$W/del.vir"
same_as_fresh "a block removed" "$W/del.vir"
same_as_fresh "back to the original" "$V"
# every block's line in reverse order
awk '/^block/{if (b) out[++n]=b; b=$0 "\n"; next} b{b=b $0 "\n"; next} {print}
     END{out[++n]=b; for (i=n;i>=1;i--) printf "%s", out[i]}' "$V" > "$W/rev.vir"
same_as_fresh "blocks in reverse order" "$W/rev.vir"
same_as_fresh "back to the original" "$V"
grep -v '^entry' "$W/rev.vir" > "$W/noentry.vir"
same_as_fresh "no entry line: the first block in the file, now another, is the entry" "$W/noentry.vir"
sed 's/addi r1, r1, 1$/addi r1, r1, 1001/' "$W/noentry.vir" > "$W/noentry2.vir"
same_as_fresh "no entry line, the last block edited: the entry is still the first" "$W/noentry2.vir"
same_as_fresh "back to the original" "$V"
{ cat "$V"; sed -n '/^block 0x1010 /,/^}/p' "$V"; } > "$W/dup.vir"
same_as_fresh "a block copied: duplicate pc" "$W/dup.vir"
{ cat "$V"; sed -n '/^block 0x1010 /,/^}/p' "$V" | sed 's/addi r1, r1, 2$/addi r1, r1, 22/'; } > "$W/dup2.vir"
same_as_fresh "a second, different block at a pc" "$W/dup2.vir"
same_as_fresh "back to the original" "$V"
sed 's/$/\r/; s/^}/}  ; end/; s/^block/  block/' "$V" > "$W/crlf.vir"
same_as_fresh "CRLF, indented block lines, comments after '}'" "$W/crlf.vir"
same_as_fresh "CRLF again" "$W/crlf.vir"
same_as_fresh "back to the original" "$V"
# a block opened by "block" and a carriage return, closed by a '}' after a
# reused block: a full parse finds 'block' inside a block
{ cat "$V"; printf 'block\r0x5000 {\n  ret\n'; sed -n '/^block 0x1020 /,/^}/p' "$V"; echo '}'; } > "$W/cr.vir"
same_as_fresh "a reused block inside a block opened by 'block\\r'" "$W/cr.vir"
same_as_fresh "back to the original" "$V"
sed 's/addi r1, r1, 5$/addi r1, r1, bogus/' "$V" > "$W/bad.vir"
same_as_fresh "a syntax error in an edited block" "$W/bad.vir"
same_as_fresh "back to the original" "$V"
awk '/^block 0x1050 /{b=1} b && /^}/{b=0; next} {print}' "$V" > "$W/open.vir"
same_as_fresh "a block's '}' missing" "$W/open.vir"
same_as_fresh "back to the original" "$V"
printf '%s' "$(cat "$V")" > "$W/nonl.vir"
same_as_fresh "no newline at the end of the last block" "$W/nonl.vir"
same_as_fresh "back to the original" "$V"
grep -v '^block\|^ \|^}' "$V" > "$W/none.vir"
same_as_fresh "every block removed" "$W/none.vir"
same_as_fresh "back to the original" "$V"
sed 's/^memory 0x10000/memory 0x10000 junk/' "$V" > "$W/top.vir"
same_as_fresh "an error in a top-level line" "$W/top.vir"
sed 's/^data 0x8000 u64 7/data 0x8000 u64 9/' "$V" > "$W/data.vir"
same_as_fresh "a data change" "$W/data.vir"
sed 's/^memory 0x10000/memory 0x8004/' "$V" > "$W/mem.vir"
same_as_fresh "data outside the memory" "$W/mem.vir"
same_as_fresh "back to the original" "$V"
sed 's/^    jmp 0x1030$/\n    ; a comment\n    jmp 0x1030/' "$V" > "$W/inner.vir"
same_as_fresh "blank and comment lines inside a block" "$W/inner.vir"
sed 's/^}$/} x/' "$V" > "$W/junk.vir"
same_as_fresh "junk after '}'" "$W/junk.vir"
same_as_fresh "back to the original" "$V"
sed 's/^block 0x1030 {/block\t0x1030 {/; s/^block 0x1040 {/BLOCK 0x1040 {/' "$V" > "$W/spell.vir"
same_as_fresh "a tab after 'block', 'BLOCK'" "$W/spell.vir"
same_as_fresh "back to the original" "$V"
rm "$W/inc/blocks/0000000000001040.vir"
same_as_fresh "a reused block's file deleted: written again" "$V"

# build.ninja is not written again while the blocks' pcs, the options and
# the binary are the same and the file is the one gen wrote (same size,
# inode and mtime): here it is altered in place and its mtime put back, so
# it is left as it is; a new mtime, or a new pc, writes it again.
ls -l --time-style=+%s.%N "$W/inc/build.ninja" > "$W/before"
sed 's/addi r1, r1, 3$/addi r1, r1, 3003/' "$V" > "$W/edit.vir"
same_as_fresh "one block edited" "$W/edit.vir"
ls -l --time-style=+%s.%N "$W/inc/build.ninja" > "$W/after"
cmp -s "$W/before" "$W/after" && ok "one block edited: build.ninja untouched" ||
    not_ok "one block edited: build.ninja untouched" "$(cat "$W/before" "$W/after")"
cp -p "$W/inc/build.ninja" "$W/saved.ninja"
printf 'X' | dd of="$W/inc/build.ninja" bs=1 conv=notrunc 2>/dev/null
touch -r "$W/saved.ninja" "$W/inc/build.ninja"
(cd "$W" && "$A" gen prog.vir -o inc) >/dev/null 2>&1
[ "$(head -c 1 "$W/inc/build.ninja")" = "X" ] &&
    ok "the same build.ninja (size, inode, mtime) is not read or written" ||
    not_ok "the same build.ninja (size, inode, mtime) is not read or written"
touch "$W/inc/build.ninja"
(cd "$W" && "$A" gen prog.vir -o inc) >/dev/null 2>&1
cmp -s "$W/inc/build.ninja" "$W/saved.ninja" && ok "a build.ninja with another mtime is written again" ||
    not_ok "a build.ninja with another mtime is written again"
same_as_fresh "back to the original" "$V"
for opt in "--batch 4" "--fold 3" "--make" "--image x.aot"; do
    # shellcheck disable=SC2086
    (cd "$W" && "$A" gen prog.vir -o inc $opt) >/dev/null 2>&1
    rm -rf "$W/fresh"
    # shellcheck disable=SC2086
    (cd "$W" && "$A" gen prog.vir -o fresh $opt) >/dev/null 2>&1
    cmp -s "$W/inc/build.ninja" "$W/fresh/build.ninja" && ok "gen $opt writes its build.ninja" ||
        not_ok "gen $opt writes its build.ninja" "$(diff "$W/inc/build.ninja" "$W/fresh/build.ninja" | head -5)"
done
rm -rf "$W/inc/aot.mk" "$W/inc/aot.rsp" "$W/inc/aot.cflags"
same_as_fresh "back to the original" "$V"

# The reuse is real, and keyed by the binary: an unchanged block's text
# takes the IR hash the state holds (here a wrong one), until the binary
# changes.
sed -i 's/^\(0000000000001010\) [0-9a-f]\{32\} /\1 00000000000000000000000000000000 /' "$W/inc/.aotb-gen-state"
(cd "$W" && "$A" gen prog.vir -o inc --stats) >"$W/stats.out" 2>&1
grep -q '^0x0000000000001010 unchanged$' "$W/stats.out" &&
    ok "an unchanged block's text is not parsed again" ||
    not_ok "an unchanged block's text is not parsed again" "$(grep -v unchanged "$W/stats.out")"
sed -i 's/^\(0000000000001010\) [0-9a-f]\{32\} /\1 00000000000000000000000000000000 /' "$W/inc/.aotb-gen-state"
touch "$A"
(cd "$W" && "$A" gen prog.vir -o inc --stats) >"$W/stats.out" 2>&1
grep -q '^0x0000000000001010 modified$' "$W/stats.out" &&
    ok "another aotb binary parses every block" ||
    not_ok "another aotb binary parses every block" "$(grep -v unchanged "$W/stats.out")"
same_as_fresh "then the state is as from scratch" "$V"

# a state of version 1 (pc and IR hash only) still classifies the blocks
{ echo 'aotb-gen-state 1'; sed -n 's/^\([0-9a-f]\{16\} [0-9a-f]\{32\}\) [0-9a-f]\{32\}$/\1/p' "$W/inc/.aotb-gen-state"; } > "$W/v1"
mv "$W/v1" "$W/inc/.aotb-gen-state"
(cd "$W" && "$A" gen prog.vir -o inc --stats) >"$W/stats.out" 2>&1
[ "$(tail -1 "$W/stats.out")" = "added 0, modified 0, removed 0, unchanged 30" ] &&
    ok "a version 1 state is read" || not_ok "a version 1 state is read" "$(tail -1 "$W/stats.out")"
same_as_fresh "then the state is as from scratch" "$V"
t_done
