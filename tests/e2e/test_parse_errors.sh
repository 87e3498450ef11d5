#!/bin/sh
# test_parse_errors.sh: one check per class of malformed .vir input.  Each
# must exit 1 with a located "FILE:LINE:COL: error:" line on stderr and
# print nothing on stdout, from both "aotb fmt" and "aotb hash".
. "$(dirname "$0")/lib.sh"

# bad NAME LINE COL PHRASE: $T_TMP/in.vir must be rejected at LINE:COL with
# a message containing PHRASE (a fixed string).
bad () {
    name=$1 line=$2 col=$3 phrase=$4
    for cmd in fmt hash; do
        run_capture "$AOTB" "$cmd" "$T_TMP/in.vir"
        first=$(printf '%s\n' "$T_ERR" | head -n 1)
        want="$T_TMP/in.vir:$line:$col: error: "
        case $first in
        "$want"*"$phrase"*) loc=1 ;;
        *) loc=0 ;;
        esac
        if [ "$T_RC" = 1 ] && [ -z "$T_OUT" ] && [ $loc = 1 ]; then
            ok "$name ($cmd)"
        else
            not_ok "$name ($cmd)" "exit $T_RC (wanted 1), stdout bytes: ${#T_OUT}" \
                "first stderr line: $first" "wanted: $want...$phrase"
        fi
    done
}

put () { printf "$@" >"$T_TMP/in.vir"; }

put ''
bad "empty file" 1 1 "program has no blocks"
put '; just a comment\n\n   \n'
bad "comments only" 1 1 "program has no blocks"
put 'data 0 u8 1\n'
bad "data but no blocks" 1 1 "program has no blocks"
put 'block 0x10 {\n    movi r1, 1\n'
bad "truncated block" 1 1 "missing '}' at end of file"
put 'block 0x10 {\n    movi r1, 1\n}\n'
bad "block without terminator" 3 1 "has no terminator"
put 'block 0x10 {\n    ret\n    nop\n}\n'
bad "op after terminator" 3 5 "after the terminator"
put 'add r1, r2, r3\n'
bad "op outside a block" 1 1 "outside a block"
put '}\n'
bad "stray brace" 1 1 "without an open block"
put 'block 0 {\nblock 1 {\n ret\n}\n'
bad "nested block" 2 1 "inside block"
put 'block 0 {\n ret\n}\nblock 0x0 {\n ret\n}\n'
bad "duplicate block" 4 1 "duplicate block 0x0 (first defined at line 1)"
put 'block 0 {\n  frobnicate r1\n  ret\n}\n'
bad "unknown mnemonic" 2 3 "unknown mnemonic 'frobnicate'"
put 'block 0 {\n  ADD r1, r2, r3\n  ret\n}\n'
bad "upper-case mnemonic" 2 3 "lower case"
put 'block 0 {\n  add r1, r2\n  ret\n}\n'
bad "missing operand" 2 13 "expected ','"
put 'block 0 {\n  mov r1, r256\n  ret\n}\n'
bad "register out of range" 2 11 "r0 ... r255"
put 'block 0 {\n  movi r1, 0x1_0000_0000_0000_0000\n  ret\n}\n'
bad "huge number" 2 12 "out of range"
put 'block 0 {\n  addi r1, r1, 9223372036854775808\n  ret\n}\n'
bad "immediate too big for addi" 2 16 "-2^63 ... 2^63-1"
put 'block 0 {\n  slli r1, r1, 64\n  ret\n}\n'
bad "shift amount" 2 16 "0 ... 63"
put 'block 0 {\n  movi r1, 0xzz\n  ret\n}\n'
bad "malformed number" 2 12 "malformed number"
put 'block 0 {\n  load r1, [r2], u128\n  ret\n}\n'
bad "bad memory type" 2 18 "memory type"
put 'block 0 {\n  load r1, [r2 + r3], u8\n  ret\n}\n'
bad "register as offset" 2 18 "expected offset"
put 'block 0 {\n  jmp\n}\n'
bad "terminator without operand" 2 6 "expected jump target"
put 'entry 0\nentry 0\nblock 0 {\n ret\n}\n'
bad "second entry" 2 1 "first is at line 1"
put 'memory 0x10000000001\nblock 0 {\n ret\n}\n'
bad "memory too big" 1 8 "1 ... 2^40"
put 'memory 16\ndata 8 u64 1, 2\nblock 0 {\n ret\n}\n'
bad "data outside memory" 2 1 "outside memory"
put 'data 16 u64 1\ndata 20 u8 1\nblock 0 {\n ret\n}\n'
bad "overlapping data" 2 1 "overlaps the data at line 1"
put 'data 0 "\\q"\nblock 0 {\n ret\n}\n'
bad "bad string escape" 1 9 "unknown escape"
put 'data 0 "abc\nblock 0 {\n ret\n}\n'
bad "unterminated string" 1 8 "unterminated string"
put 'data 0 u8 256\nblock 0 {\n ret\n}\n'
bad "data value too wide" 1 11 "-128 ... 255"
put 'data 0 hex\nblock 0 {\n ret\n}\n'
bad "empty data" 1 1 "no bytes"
put 'block 0 {\n ret\n} extra\n'
bad "junk after brace" 3 3 "expected end of line"
put 'block 0 {\n ret\n}\n\000\001\002\n'
bad "NUL and control bytes" 4 1 "unexpected character 0x00"
put '\377\376\375garbage\n'
bad "high bytes" 1 1 "unexpected character 0xff"

# Random binary garbage: never a crash, always exit 1 with a located error.
i=0
while [ $i -lt 5 ]; do
    head -c 4096 /dev/urandom >"$T_TMP/in.vir"
    run_capture "$AOTB" fmt "$T_TMP/in.vir"
    if [ "$T_RC" = 1 ] && [ -z "$T_OUT" ] &&
        printf '%s\n' "$T_ERR" | grep -Eq "^$T_TMP/in.vir:[0-9]+:[0-9]+: error: "; then
        ok "random garbage $i"
    else
        cp "$T_TMP/in.vir" "${TMPDIR:-/tmp}/aotb-garbage-$$-$i.vir"
        not_ok "random garbage $i" "exit $T_RC; input kept in ${TMPDIR:-/tmp}/aotb-garbage-$$-$i.vir"
    fi
    i=$((i + 1))
done

# Several errors in one file are all reported, in order.
put 'block 0 {\n  add r1\n  frob\n  movi r1, 0x\n  ret\n}\n'
run_capture "$AOTB" fmt "$T_TMP/in.vir"
n=$(printf '%s\n' "$T_ERR" | grep -c ': error: ')
lines=$(printf '%s\n' "$T_ERR" | sed -n 's/^[^:]*:\([0-9]*\):.*/\1/p' | tr '\n' ' ')
if [ "$T_RC" = 1 ] && [ "$n" = 3 ] && [ "$lines" = "2 3 4 " ]; then ok "three errors reported"
else not_ok "three errors reported" "exit $T_RC, $n errors on lines $lines"; fi

# At most 20 errors, then "too many errors".
i=0; : >"$T_TMP/in.vir"
while [ $i -lt 100 ]; do echo "bogus $i" >>"$T_TMP/in.vir"; i=$((i + 1)); done
run_capture "$AOTB" fmt "$T_TMP/in.vir"
n=$(printf '%s\n' "$T_ERR" | grep -c ': error: ')
if [ "$T_RC" = 1 ] && [ "$n" = 21 ] && printf '%s\n' "$T_ERR" | tail -n 1 | grep -q "too many errors"
then ok "error limit"; else not_ok "error limit" "exit $T_RC, $n lines"; fi

# A 10 MB line: a clear error, quickly, with a short message.
head -c 10485760 /dev/zero | tr '\0' 'q' >"$T_TMP/in.vir"
start=$(date +%s)
run_capture "$AOTB" fmt "$T_TMP/in.vir"
secs=$(( $(date +%s) - start ))
if [ "$T_RC" = 1 ] && [ ${#T_ERR} -lt 300 ] && [ $secs -lt 10 ] &&
    printf '%s\n' "$T_ERR" | grep -q ":1:1: error: unknown statement 'qqqq"
then ok "10 MB line"; else not_ok "10 MB line" "exit $T_RC in ${secs}s, ${#T_ERR} bytes of stderr"; fi

# A 10 MB comment line is fine.
{ printf ';'; head -c 10485760 /dev/zero | tr '\0' 'c'; printf '\nblock 0 {\n ret\n}\n'; } >"$T_TMP/in.vir"
expect_rc "10 MB comment line" 0 "$AOTB" hash "$T_TMP/in.vir"

# Unreadable input.
expect_err "missing file" "no-such\.vir: cannot open" "$AOTB" fmt "$T_TMP/no-such.vir"
expect_err "directory" "is a directory" "$AOTB" hash "$T_TMP"

# Errors on standard input are reported as <stdin>.
run_capture sh -c "printf 'block 0 {\n' | \"$AOTB\" fmt -"
if [ "$T_RC" = 1 ] && printf '%s\n' "$T_ERR" | grep -q '^<stdin>:1:1: error: '
then ok "stdin error location"; else not_ok "stdin error location" "exit $T_RC: $T_ERR"; fi

t_done
