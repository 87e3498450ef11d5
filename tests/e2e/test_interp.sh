#!/bin/sh
# test_interp.sh: "aotb interp" against the output contract of ir-format.md.
# Every expected output below is written by hand from the contract.
. "$(dirname "$0")/lib.sh"

EX="$TOP/examples"
W="$T_TMP/want"

# The worked example of ir-format.md, byte for byte.
cat >"$W" <<'EOF'
status: ret
pc: 0x0000000000001020
r1: 0x0000000000000100
r2: 0x0000000000000037
mem 0x0000000000000108: 37 00 00 00 00 00 00 00
EOF
expect_stdout "worked example" "$W" 0 "$AOTB" interp "$EX/sum.vir" --dump-mem 0x108:8
expect_stdout "options before the file" "$W" 0 "$AOTB" interp --dump-mem 0x108:8 "$EX/sum.vir"
expect_stdout "--opt=value form" "$W" 0 "$AOTB" interp "$EX/sum.vir" --dump-mem=0x108:8
expect_stdout "program from stdin" "$W" 0 sh -c '"$1" interp --dump-mem 0x108:8 - <"$2"' sh "$AOTB" "$EX/sum.vir"

# Dumps: 16 bytes a line, each line with its own address; LEN 0 prints
# nothing; dumps in the order given.
cat >"$W" <<'EOF'
status: ret
pc: 0x0000000000001020
r1: 0x0000000000000100
r2: 0x0000000000000037
mem 0x00000000000000ff: 00 0a 00 00 00 00 00 00 00 37 00 00 00 00 00 00
mem 0x000000000000010f: 00 00
mem 0x000000000000fffe: 00 00
EOF
expect_stdout "dump lines" "$W" 0 "$AOTB" interp "$EX/sum.vir" --dump-mem 0xff:18 --dump-mem 0x5:0 --dump-mem 65534:2

# --max-blocks: the example needs 12 blocks.
cat >"$W" <<'EOF'
status: budget
pc: 0x0000000000001000
EOF
expect_stdout "budget 0" "$W" 3 "$AOTB" interp "$EX/sum.vir" --max-blocks 0
cat >"$W" <<'EOF'
status: budget
pc: 0x0000000000001010
r1: 0x0000000000000100
r3: 0x000000000000000a
EOF
expect_stdout "budget 1" "$W" 3 "$AOTB" interp "$EX/sum.vir" --max-blocks=1
cat >"$W" <<'EOF'
status: budget
pc: 0x0000000000001020
r1: 0x0000000000000100
r2: 0x0000000000000037
mem 0x0000000000000108: 00 00 00 00 00 00 00 00
EOF
expect_stdout "budget 11" "$W" 3 "$AOTB" interp "$EX/sum.vir" --max-blocks 11 --dump-mem 0x108:8
cat >"$W" <<'EOF'
status: ret
pc: 0x0000000000001020
r1: 0x0000000000000100
r2: 0x0000000000000037
EOF
expect_stdout "budget 12 is enough" "$W" 0 "$AOTB" interp "$EX/sum.vir" --max-blocks 12

# One program per stop status.
P="$T_TMP/p.vir"
cat >"$P" <<'EOF'
block 0x10 {
    movi r1, 5
    fault 42
}
EOF
printf 'status: fault 42\npc: 0x0000000000000010\nr1: 0x0000000000000005\n' >"$W"
expect_stdout "fault" "$W" 3 "$AOTB" interp "$P"

cat >"$P" <<'EOF'
memory 0x100
block 0 {
    movi  r1, 0xff
    store [r1], r1, u8
    load  r2, [r1 + 1], u8
    movi  r3, 1
    ret
}
EOF
printf 'status: memfault 0x0000000000000100\npc: 0x0000000000000000\nr1: 0x00000000000000ff\nmem 0x00000000000000ff: ff\n' >"$W"
expect_stdout "memfault" "$W" 3 "$AOTB" interp "$P" --dump-mem 0xff:1

cat >"$P" <<'EOF'
block 0x20 {
    interrupt 7, 0x40
}
EOF
printf 'status: interrupt 7\npc: 0x0000000000000040\n' >"$W"
expect_stdout "interrupt with resume" "$W" 0 "$AOTB" interp "$P"

cat >"$P" <<'EOF'
block 0x20 {
    interrupt 18446744073709551615
}
EOF
printf 'status: interrupt 18446744073709551615\npc: 0x0000000000000020\n' >"$W"
expect_stdout "interrupt without resume" "$W" 0 "$AOTB" interp "$P"

cat >"$P" <<'EOF'
block 0 {
    jmp 0x1234
}
EOF
printf 'status: nocode 0x0000000000001234\npc: 0x0000000000001234\n' >"$W"
expect_stdout "nocode" "$W" 3 "$AOTB" interp "$P"

cat >"$P" <<'EOF'
block 0 {
    addi r1, r1, 1
    call 0, 8
}
EOF
# 65,536 calls fit; the 65,537th block's call overflows
printf 'status: callstack\npc: 0x0000000000000000\nr1: 0x0000000000010001\n' >"$W"
expect_stdout "callstack" "$W" 3 "$AOTB" interp "$P"

# --set and --entry
cat >"$P" <<'EOF'
block 0 {
    add r3, r1, r2
    ret
}
block 0x20 {
    movi r4, 4
    jmp 0
}
EOF
printf 'status: ret\npc: 0x0000000000000000\nr1: 0x0000000000000005\nr2: 0x0000000000000010\nr3: 0x0000000000000015\nr255: 0xffffffffffffffff\n' >"$W"
expect_stdout "--set" "$W" 0 "$AOTB" interp --set r1=5 "$P" --set=r2=0x10 --set r255=-1
printf 'status: ret\npc: 0x0000000000000000\nr1: 0x0000000000000002\nr3: 0x0000000000000002\n' >"$W"
expect_stdout "--set twice: the last wins" "$W" 0 "$AOTB" interp "$P" --set r1=1 --set r1=2
printf 'status: ret\npc: 0x0000000000000000\nr4: 0x0000000000000004\n' >"$W"
expect_stdout "--entry" "$W" 0 "$AOTB" interp "$P" --entry 0x20
expect_stdout "--entry=" "$W" 0 "$AOTB" interp --entry=32 "$P"
printf 'status: nocode 0x0000000000000099\npc: 0x0000000000000099\n' >"$W"
expect_stdout "--entry without a block" "$W" 3 "$AOTB" interp "$P" --entry 0x99

# The other examples.
cat >"$W" <<'EOF'
status: ret
pc: 0x0000000000000010
r2: 0x0000000000001a6d
r3: 0x0000000000001055
r30: 0x0000000000010000
EOF
expect_stdout "examples/fib.vir: fib(20) = 6765" "$W" 0 "$AOTB" interp "$EX/fib.vir"
run_capture "$AOTB" interp "$EX/sieve.vir" --dump-mem 0x1000:16
if [ "$T_RC" = 0 ] && printf '%s\n' "$T_OUT" | grep -qx 'r12: 0x00000000000000a8' &&
   printf '%s\n' "$T_OUT" | grep -qx 'mem 0x0000000000001000: 00 00 00 00 01 00 01 00 01 01 01 00 01 00 01 01'; then
    ok "examples/sieve.vir: 168 primes below 1000"
else not_ok "examples/sieve.vir: 168 primes below 1000" "exit $T_RC" "$T_OUT"; fi
run_capture "$AOTB" interp "$EX/loop.vir" --dump-mem 0:8
if [ "$T_RC" = 0 ] && printf '%s\n' "$T_OUT" | grep -qx 'r1: 0x0000000001312d00' &&
   printf '%s\n' "$T_OUT" | grep -qx 'r2: 0x0000b5e6218d1680' &&
   printf '%s\n' "$T_OUT" | grep -qx 'mem 0x0000000000000000: 80 16 8d 21 e6 b5 00 00'; then
    ok "examples/loop.vir: sum of 1..20000000"
else not_ok "examples/loop.vir: sum of 1..20000000" "exit $T_RC" "$T_OUT"; fi

# Usage errors: exit 2, nothing on stdout.
expect_rc "unknown option" 2 "$AOTB" interp --bogus "$EX/sum.vir"
expect_rc "no program" 2 "$AOTB" interp
expect_rc "no program, options only" 2 "$AOTB" interp --max-blocks 3
expect_rc "two programs" 2 "$AOTB" interp "$EX/sum.vir" "$EX/sum.vir"
expect_rc "bad --set register" 2 "$AOTB" interp --set r256=1 "$EX/sum.vir"
expect_rc "bad --set form" 2 "$AOTB" interp --set x=1 "$EX/sum.vir"
expect_rc "bad --set value" 2 "$AOTB" interp --set r1=zz "$EX/sum.vir"
expect_rc "--max-blocks without value" 2 "$AOTB" interp "$EX/sum.vir" --max-blocks
expect_rc "negative --max-blocks" 2 "$AOTB" interp "$EX/sum.vir" --max-blocks -1
expect_rc "--dump-mem past the end" 2 "$AOTB" interp "$EX/sum.vir" --dump-mem 0xfff8:9
expect_rc "--dump-mem start past the end" 2 "$AOTB" interp "$EX/sum.vir" --dump-mem 0x10001:0
expect_rc "--dump-mem without colon" 2 "$AOTB" interp "$EX/sum.vir" --dump-mem 0x100
if [ -z "$T_OUT" ]; then ok "usage error prints nothing on stdout"; else
    not_ok "usage error prints nothing on stdout" "$T_OUT"; fi
expect_rc "--help" 0 "$AOTB" interp --help
if printf '%s\n' "$T_OUT" | grep -q -- '--max-blocks'; then ok "--help lists the options"; else
    not_ok "--help lists the options" "$T_OUT"; fi

# Bad input: exit 1 with a message.
expect_err "missing file" 'nosuch\.vir' "$AOTB" interp "$T_TMP/nosuch.vir"
printf 'block 0 {\n    bogus r1\n    ret\n}\n' >"$P"
expect_err "malformed file" 'p\.vir:2:[0-9]+: error: ' "$AOTB" interp "$P"
if [ -z "$T_OUT" ]; then ok "malformed file prints nothing on stdout"; else
    not_ok "malformed file prints nothing on stdout" "$T_OUT"; fi
printf 'memory 0x100\n' >"$P"
expect_err "no blocks and no entry" 'error' "$AOTB" interp "$P"

t_done
