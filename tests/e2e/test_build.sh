#!/bin/sh
# test_build.sh: aotb build (the single-process incremental path), aotb
# diff, aotb compact and the incremental aotb link.  Expected counts come
# from the edits the script makes; results are compared with the
# interpreter's.
. "$(dirname "$0")/lib.sh"
W=$T_TMP
sh "$HERE/genprog.sh" 3000 > "$W/p.vir"
# count FIELD: an integer field of the last --json line.
field () { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" "$W/out" | tail -n 1; }
build () { "$AOTB" build "$@" --json >"$W/out" 2>"$W/err"; }
same_run () {   # NAME IMAGE VIR: aotb run prints what aotb interp prints
    "$AOTB" run --dump-mem 0x0:64 "$2" >"$W/r1" 2>&1
    "$AOTB" interp --dump-mem 0x0:64 "$3" >"$W/r2" 2>&1
    cmp -s "$W/r1" "$W/r2" && ok "$1" || not_ok "$1" "$(diff "$W/r1" "$W/r2" | head -5)"
}

build "$W/p.vir" -o "$W/p.aot" && [ "$(field compiled)" = 3000 ] && [ "$(field added)" = 3000 ] &&
    ok "first build compiles every block" || not_ok "first build compiles every block" "$(cat "$W/out" "$W/err")"
[ ! -s "$W/err" ] && ok "quiet when stderr is not a terminal" || not_ok "quiet when stderr is not a terminal" "$(cat "$W/err")"
same_run "the image runs like the interpreter" "$W/p.aot" "$W/p.vir"
# On a terminal (script(1) from util-linux gives the command a pty) the
# build draws a progress bar on stderr that ends at 3000/3000 blocks, and
# writes the same image.
if command -v script >/dev/null 2>&1; then
    script -qec "\"$AOTB\" build \"$W/p.vir\" -o \"$W/tty.aot\"" /dev/null >"$W/tty.txt" 2>&1 </dev/null; rc=$?
    tr '\r' '\n' < "$W/tty.txt" > "$W/tty.lines"
    [ $rc = 0 ] && grep -q '^\[#\{40\}\] 3000/3000 blocks' "$W/tty.lines" &&
        [ "$(grep -c '^\[[# ]\{40\}\] [0-9]*/3000 blocks' "$W/tty.lines")" -ge 3 ] &&
        cmp -s "$W/tty.aot" "$W/p.aot" &&
        ok "progress bar on a terminal" || not_ok "progress bar on a terminal" "exit $rc" "$(tail -c 200 "$W/tty.txt")"
    script -qec "\"$AOTB\" build \"$W/p.vir\" -o \"$W/tty.aot\"" /dev/null >"$W/tty.txt" 2>&1 </dev/null
    [ ! -s "$W/tty.txt" ] && ok "no progress bar on a terminal when nothing is compiled" ||
        not_ok "no progress bar on a terminal when nothing is compiled" "$(head -c 200 "$W/tty.txt")"
fi
cp "$W/p.aot" "$W/first.aot"
build "$W/p.vir" -o "$W/p.aot" && [ "$(field compiled)" = 0 ] && [ "$(field unchanged)" = 3000 ] &&
    [ "$(field has_changes)" = "" ] && grep -q '"has_changes":false' "$W/out" &&
    ok "second build compiles zero blocks" || not_ok "second build compiles zero blocks" "$(cat "$W/out" "$W/err")"
cmp -s "$W/p.aot" "$W/first.aot" && ok "an unchanged rebuild gives the same bytes" || not_ok "an unchanged rebuild gives the same bytes"

# One edit: block 1500 (0x1000 + 16 * 1500 = 0x6dc0) adds 1501.
sed 's/^    addi r1, r1, 1501$/    addi r1, r1, 7/' "$W/p.vir" > "$W/q.vir"
"$AOTB" diff "$W/p.aot" "$W/q.vir" > "$W/diff.txt"
grep -q '^0x0000000000006dc0 modified$' "$W/diff.txt" && tail -n 1 "$W/diff.txt" | grep -q '^added 0, modified 1 (dependency 0), removed 0, unchanged 2999$' &&
    ok "diff OLD.aot PROG.vir: the edited block" || not_ok "diff OLD.aot PROG.vir: the edited block" "$(grep -v unchanged "$W/diff.txt")"
"$AOTB" diff --json "$W/p.vir" "$W/q.vir" > "$W/out"
[ "$(field modified)" = 1 ] && [ "$(field added)" = 0 ] && [ "$(field removed)" = 0 ] && [ "$(field unchanged)" = 2999 ] &&
    grep -q '{"pc":"0x0000000000006dc0","change":"modified","old_hash":"[0-9a-f]\{32\}","new_hash":"[0-9a-f]\{32\}"' "$W/out" &&
    ok "diff --json OLD.vir NEW.vir" || not_ok "diff --json OLD.vir NEW.vir" "$(head -c 300 "$W/out")"
"$AOTB" diff --dot "$W/p.aot" "$W/q.vir" > "$W/g.dot"
head -n 1 "$W/g.dot" | grep -q '^digraph' && grep -q 'b6dc0 \[label="0x6dc0\\nmodified", fillcolor=orange' "$W/g.dot" &&
    grep -q 'b6dc0 -> b6dd0' "$W/g.dot" && ok "diff --dot colours the modified block" || not_ok "diff --dot colours the modified block" "$(grep 6dc0 "$W/g.dot")"
if command -v dot >/dev/null 2>&1; then
    dot -Tpng "$W/g.dot" -o "$W/g.png" 2>"$W/dot.err" && [ -s "$W/g.png" ] && ok "graphviz renders the diff" || not_ok "graphviz renders the diff" "$(head -3 "$W/dot.err")"
fi
build "$W/q.vir" -o "$W/p.aot" && [ "$(field compiled)" = 1 ] && [ "$(field modified)" = 1 ] &&
    ok "after one edit, one block compiled" || not_ok "after one edit, one block compiled" "$(cat "$W/out" "$W/err")"
same_run "the updated image runs like the interpreter" "$W/p.aot" "$W/q.vir"
expect_rc "verify --full after an update" 0 "$AOTB" verify --full "$W/p.aot"

# -j independence and option mapping.
build "$W/q.vir" -o "$W/j1.aot" -j 1 && build "$W/q.vir" -o "$W/j8.aot" -j 8
cmp -s "$W/j1.aot" "$W/j8.aot" && ok "-j 1 and -j 8 give identical images" || not_ok "-j 1 and -j 8 give identical images"
build "$W/q.vir" -o "$W/p.aot" --full && [ "$(field compiled)" = 3000 ] && ok "--full recompiles everything" || not_ok "--full recompiles everything" "$(cat "$W/out")"
build "$W/q.vir" -o "$W/p.aot" --no-detect-changes && [ "$(field compiled)" = 3000 ] && [ "$(field modified)" = 3000 ] &&
    ok "--no-detect-changes treats every block as changed" || not_ok "--no-detect-changes treats every block as changed" "$(cat "$W/out")"
build "$W/q.vir" -o "$W/p.aot" --no-preserve-unchanged && [ "$(field compiled)" = 3000 ] && [ "$(field unchanged)" = 3000 ] &&
    ok "--no-preserve-unchanged recompiles unchanged blocks" || not_ok "--no-preserve-unchanged recompiles unchanged blocks" "$(cat "$W/out")"
build "$W/q.vir" -o "$W/p.aot" --fold 4 && [ "$(field modified)" = 3000 ] &&
    ok "another --fold is another fingerprint: all modified" || not_ok "another --fold is another fingerprint: all modified" "$(cat "$W/out")"
same_run "a folded image runs like the interpreter" "$W/p.aot" "$W/q.vir"
sed 's/^    addi r1, r1, 2001$/    addi r1, r1, 9/' "$W/q.vir" > "$W/r.vir"
"$AOTB" diff --dot --fold 4 "$W/p.aot" "$W/r.vir" > "$W/dep.dot"
grep -q '^  b[0-9a-f]* \[label="0x[0-9a-f]*\\nmodified\\n(dependency)", fillcolor=gold\];$' "$W/dep.dot" &&
    [ "$(grep -c 'nmodified", fillcolor=orange' "$W/dep.dot")" = 1 ] &&
    ok "diff --dot marks a dependency-modified block" || not_ok "diff --dot marks a dependency-modified block" "$(grep modified "$W/dep.dot" | head -3)"
build "$W/r.vir" -o "$W/p.aot" --fold 4 && [ "$(field modified)" -gt 1 ] && [ "$(field modified_dependency)" -ge 1 ] &&
    [ "$(field compiled)" = "$(field modified)" ] &&
    ok "blocks that folded the edited block are recompiled (dependency)" || not_ok "blocks that folded the edited block are recompiled (dependency)" "$(cat "$W/out")"
same_run "after a dependency update it runs like the interpreter" "$W/p.aot" "$W/r.vir"

# Atomic: a failing build leaves the old image as it was.
cp "$W/p.aot" "$W/keep.aot"
printf 'block 0x1000 {\n    frob r1\n}\n' > "$W/bad.vir"
expect_err "a bad program is reported" "bad.vir:2" "$AOTB" build "$W/bad.vir" -o "$W/p.aot"
cmp -s "$W/p.aot" "$W/keep.aot" && ok "the old image survives a failed build" || not_ok "the old image survives a failed build"
ls "$W" | grep -q '\.tmp' && not_ok "no temporary files left" "$(ls "$W")" || ok "no temporary files left"
printf 'garbage' > "$W/g.aot"
expect_err "a damaged image is refused" "g.aot" "$AOTB" build "$W/q.vir" -o "$W/g.aot"
cp "$W/g.aot" "$W/g0.aot"
build "$W/q.vir" -o "$W/g.aot" --full && [ "$(field added)" = 3000 ] && [ "$(field compiled)" = 3000 ] &&
    "$AOTB" verify "$W/g.aot" >/dev/null 2>&1 && ok "--full replaces a damaged image" ||
    not_ok "--full replaces a damaged image" "$(cat "$W/out" "$W/err")"
same_run "the image that replaced a damaged one runs like the interpreter" "$W/g.aot" "$W/q.vir"
cp "$W/g0.aot" "$W/g.aot"
# An image of an older format version (the version field set to 2, the
# header found by readelf) is rebuilt, not refused.
hdr=$(readelf -S -W "$W/p.aot" 2>/dev/null | sed -n 's/.*\.aotb\.header *PROGBITS *[0-9a-f]* \([0-9a-f]*\) .*/\1/p')
if [ -n "$hdr" ]; then
    cp "$W/p.aot" "$W/v2.aot"
    printf '\002' | dd of="$W/v2.aot" bs=1 seek=$((0x$hdr + 8)) conv=notrunc 2>/dev/null
    expect_err "an older-format image: verify names its version" "v2.aot: image format version 2 is not supported" "$AOTB" verify "$W/v2.aot"
    build "$W/q.vir" -o "$W/v2.aot" && [ "$(field added)" = 3000 ] && [ "$(field compiled)" = 3000 ] &&
        "$AOTB" verify "$W/v2.aot" >/dev/null 2>&1 && ok "build rebuilds an older-format image" ||
        not_ok "build rebuilds an older-format image" "$(cat "$W/out" "$W/err")"
    same_run "the rebuilt image runs like the interpreter" "$W/v2.aot" "$W/q.vir"
else
    not_ok "readelf finds the image header" "$(readelf -S -W "$W/p.aot" 2>&1 | head -5)"
fi
expect_err "diff: a damaged image is reported as an image" "^[^:]*g\.aot: .*(truncated|ELF)" "$AOTB" diff "$W/g.aot" "$W/q.vir"
: > "$W/empty.aot"
expect_err "diff: an empty image is reported as an image" "empty\.aot: truncated" "$AOTB" diff "$W/empty.aot" "$W/q.vir"
expect_rc "usage error without -o" 2 "$AOTB" build "$W/q.vir"

# Compaction: runs identically and is no larger.
build "$W/q.vir" -o "$W/c.aot"
cp "$W/c.aot" "$W/c0.aot"
expect_rc "compact" 0 "$AOTB" compact "$W/c.aot" -o "$W/c2.aot"
[ "$(wc -c < "$W/c2.aot")" -le "$(wc -c < "$W/c0.aot")" ] && ok "compacted image is no larger" || not_ok "compacted image is no larger"
same_run "compacted image runs like the interpreter" "$W/c2.aot" "$W/q.vir"
expect_rc "compacted image verifies" 0 "$AOTB" verify "$W/c2.aot"
expect_err "compact of a missing image" "nosuch\.aot: cannot open" "$AOTB" compact "$W/nosuch.aot"
[ ! -e "$W/nosuch.aot.lock" ] && [ ! -e "$W/nosuch.aot" ] && ok "compact of a missing image creates nothing" ||
    not_ok "compact of a missing image creates nothing" "$(ls "$W" | grep nosuch)"

# The Ninja path: same program, same image; the relink reuses chunks.
if command -v ninja >/dev/null 2>&1; then
    mkdir -p "$W/n" && cp "$W/p.vir" "$W/n/prog.vir"
    (cd "$W/n" && "$AOTB" gen prog.vir -o aot >/dev/null && ninja -C aot aot-image >/dev/null 2>&1)
    img=$(ls "$W"/n/aot/*.aot 2>/dev/null | head -n 1)
    build "$W/p.vir" -o "$W/full.aot" --full
    cmp -s "$img" "$W/full.aot" && ok "aotb build and ninja aot-image give the same image" ||
        not_ok "aotb build and ninja aot-image give the same image" "$img"
    same_run "the Ninja image runs like the interpreter" "$img" "$W/p.vir"
    cp "$W/q.vir" "$W/n/prog.vir"
    (cd "$W/n" && ninja -C aot aot-image >/dev/null 2>&1)
    same_run "after an edit the relinked Ninja image runs like the interpreter" "$img" "$W/q.vir"
    expect_rc "the incrementally relinked image verifies" 0 "$AOTB" verify "$img"
fi
t_done
