#!/bin/sh
# test_fmt_hash.sh: "aotb fmt" and "aotb hash" on files, standard input and
# the test programs; the round trip through the CLI; exit statuses.
. "$(dirname "$0")/lib.sh"
PROGS="$TOP/tests/programs"

# The canonical form of the example in ir-format.md, written by hand from
# the rules in aotb-ir(5): hex addresses, small immediates in decimal, data
# as hex bytes, blocks in pc order separated by blank lines.
cat >"$T_TMP/sum.want" <<'X'
entry 0x1000
memory 0x10000
data 0x100 hex 0a 00 00 00 00 00 00 00

block 0x1000 {
    movi r1, 256
    load r3, [r1], u64
    movi r2, 0
    jmp 0x1010
}

block 0x1010 {
    add r2, r2, r3
    addi r3, r3, -1
    cmpne r4, r3, r0
    condjmp r4, 0x1010, 0x1020
}

block 0x1020 {
    store [r1 + 8], r2, u64
    ret
}
X
expect_stdout "fmt example" "$T_TMP/sum.want" 0 "$AOTB" fmt "$PROGS/sum.vir"
expect_rc "fmt -o" 0 "$AOTB" fmt "$PROGS/sum.vir" -o "$T_TMP/out.vir"
if cmp -s "$T_TMP/out.vir" "$T_TMP/sum.want" && [ -z "$T_OUT" ]; then ok "fmt -o content"
else not_ok "fmt -o content" "$(diff "$T_TMP/sum.want" "$T_TMP/out.vir" | head)"; fi
expect_rc "fmt -o before the file" 0 "$AOTB" fmt -o "$T_TMP/out2.vir" "$PROGS/sum.vir"
if cmp -s "$T_TMP/out2.vir" "$T_TMP/sum.want"; then ok "fmt -o first"; else not_ok "fmt -o first"; fi
run_capture sh -c "\"$AOTB\" fmt - <\"$PROGS/sum.vir\""
if [ "$T_RC" = 0 ] && printf '%s\n' "$T_OUT" | cmp -s - "$T_TMP/sum.want"; then ok "fmt stdin"
else not_ok "fmt stdin" "exit $T_RC"; fi

# hash: one line per block, ascending pc, "0x" + 16 hex digits, space, 32.
run_capture "$AOTB" hash "$PROGS/sum.vir"
pcs=$(printf '%s\n' "$T_OUT" | cut -d' ' -f1 | tr '\n' ' ')
if [ "$T_RC" = 0 ] && [ "$(printf '%s\n' "$T_OUT" | grep -Ec '^0x[0-9a-f]{16} [0-9a-f]{32}$')" = 3 ] &&
    [ "$pcs" = "0x0000000000001000 0x0000000000001010 0x0000000000001020 " ]; then ok "hash format"
else not_ok "hash format" "exit $T_RC" "$T_OUT"; fi
sum_hash=$T_OUT

# Every test program: fmt output parses, is a fixed point, and keeps every
# block hash; hash lines are sorted by pc and have the right count.
for f in "$PROGS"/*.vir; do
    n=$(basename "$f" .vir)
    "$AOTB" fmt "$f" >"$T_TMP/$n.1" 2>"$T_TMP/err" &&
    "$AOTB" fmt "$T_TMP/$n.1" >"$T_TMP/$n.2" 2>>"$T_TMP/err" &&
    "$AOTB" hash "$f" >"$T_TMP/$n.h1" 2>>"$T_TMP/err" &&
    "$AOTB" hash "$T_TMP/$n.1" >"$T_TMP/$n.h2" 2>>"$T_TMP/err"
    rc=$?
    blocks=$(grep -c '^ *block ' "$f")
    if [ $rc = 0 ] && cmp -s "$T_TMP/$n.1" "$T_TMP/$n.2" && cmp -s "$T_TMP/$n.h1" "$T_TMP/$n.h2" &&
        [ "$(wc -l <"$T_TMP/$n.h1")" = "$blocks" ] &&
        sort -c "$T_TMP/$n.h1" 2>/dev/null; then
        ok "round trip $n"
    else
        not_ok "round trip $n" "rc $rc" "$(cat "$T_TMP/err")"
    fi
done

# Hash invariance through the CLI: comments, spacing, number spelling,
# aliases and block order do not change any hash.
cat >"$T_TMP/other.vir" <<'X'
; the same program, written differently
entry 4096
data 256 hex 0A 0 0 0 0 0 0 0
memory 0x1_0000
block 0x1020 {
	store [ r1 + 0x8 ] , r2 , s64
	ret                         ; done
}
block 4112 {
  add r2,r2,r3
  addi r3, r3, -0x1
  cmpne r4 , r3 , r0
  br r4, 0x1010, 0x1020
}
block 0x1000 {
  movi r1, 0x100
  load r3, [r1 + 0], s64
  movi r2, -0
  jmp 0x10_10
}
X
run_capture "$AOTB" hash "$T_TMP/other.vir"
if [ "$T_RC" = 0 ] && [ "$T_OUT" = "$sum_hash" ]; then ok "hash invariance"
else not_ok "hash invariance" "exit $T_RC" "$T_OUT" "wanted:" "$sum_hash"; fi

# One operand edited: only that block's hash changes.
sed 's/addi  r3, r3, -1/addi  r3, r3, -2/' "$PROGS/sum.vir" >"$T_TMP/edit.vir"
run_capture "$AOTB" hash "$T_TMP/edit.vir"
changed=$(printf '%s\n' "$T_OUT" | diff - "$(printf '%s\n' "$sum_hash" >"$T_TMP/h0"; echo "$T_TMP/h0")" |
    grep -c '^<')
if [ "$T_RC" = 0 ] && [ "$changed" = 1 ] && printf '%s\n' "$T_OUT" | grep -q '^0x0000000000001000 ' &&
    [ "$(printf '%s\n' "$T_OUT" | sed -n 2p)" != "$(printf '%s\n' "$sum_hash" | sed -n 2p)" ]
then ok "edit changes one hash"; else not_ok "edit changes one hash" "$changed lines changed"; fi

# Bad input: exit 1, nothing on stdout, no output file.
printf 'block 0 {\n  nop\n' >"$T_TMP/bad.vir"
run_capture "$AOTB" fmt "$T_TMP/bad.vir" -o "$T_TMP/bad.out"
if [ "$T_RC" = 1 ] && [ -z "$T_OUT" ] && [ ! -e "$T_TMP/bad.out" ] &&
    printf '%s\n' "$T_ERR" | grep -q "^$T_TMP/bad.vir:1:1: error: "
then ok "fmt -o on bad input writes nothing"; else not_ok "fmt -o on bad input writes nothing" "exit $T_RC"; fi
expect_err "hash bad input" "^$T_TMP/bad.vir:1:1: error: block 0x0 is not closed" "$AOTB" hash "$T_TMP/bad.vir"
# An existing output file survives a failed fmt.
echo keep >"$T_TMP/keep.vir"
"$AOTB" fmt "$T_TMP/bad.vir" -o "$T_TMP/keep.vir" 2>/dev/null
if [ "$(cat "$T_TMP/keep.vir")" = keep ]; then ok "old output kept"; else not_ok "old output kept"; fi
expect_rc "fmt -o into a missing directory" 1 "$AOTB" fmt "$PROGS/sum.vir" -o "$T_TMP/no/dir/x.vir"

# Usage errors: exit 2.
expect_rc "fmt without a file" 2 "$AOTB" fmt
expect_rc "hash without a file" 2 "$AOTB" hash
expect_rc "fmt two files" 2 "$AOTB" fmt "$PROGS/sum.vir" "$PROGS/sum.vir"
expect_rc "hash two files" 2 "$AOTB" hash "$PROGS/sum.vir" "$PROGS/sum.vir"
expect_rc "fmt unknown option" 2 "$AOTB" fmt --frob "$PROGS/sum.vir"
expect_rc "hash unknown option" 2 "$AOTB" hash -x "$PROGS/sum.vir"
expect_rc "fmt -o without a value" 2 "$AOTB" fmt "$PROGS/sum.vir" -o
expect_rc "fmt --help" 0 "$AOTB" fmt --help
expect_rc "hash --help" 0 "$AOTB" hash --help
expect_rc "hash of stdin" 0 sh -c "\"$AOTB\" hash - <\"$PROGS/sum.vir\""

t_done
