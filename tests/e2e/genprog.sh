#!/bin/sh
# genprog.sh N [FIRST_IMM]: prints a program of N blocks, a chain
# 0x1000 -> 0x1010 -> ... where block i adds i to r1 and stores r1 at 8*i,
# the last one returns.  Used by the Ninja / Make tests.
n=$1
awk -v n="$n" 'BEGIN {
    print "; generated chain of " n " blocks"
    print "entry 0x1000"
    print "memory 0x10000"
    print "data 0x8000 u64 7"
    for (i = 0; i < n; i++) {
        pc = 4096 + 16 * i
        printf "block 0x%x {\n    addi r1, r1, %d\n    movi r2, %d\n    store [r2], r1, u64\n", pc, i + 1, 8 * i
        if (i + 1 < n) printf "    jmp 0x%x\n}\n", pc + 16
        else print "    ret\n}"
    }
}'
