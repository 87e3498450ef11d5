/* ld-driver.c: a stand-alone C driver linked by GNU ld (through cc) with
 * block objects from "aotb compile -d" and the runtime object from "aotb
 * compile --runtime".  It proves the objects are standard: nothing of aotb
 * is linked in except those objects.
 *
 * Build:  cc -DENTRY_SYM=aotb_blk_<entry pc> -DMEMSIZE=<bytes> -Isrc
 *            ld-driver.c OBJDIR/*.o runtime.o
 * Run:    ./prog [MAX_BLOCKS]
 * It sets up a CPU laid out like aotb_cpu (src/cpu.h), enters the entry
 * block through aotb_rt_enter and prints the status, pc and non-zero
 * registers in the format of "aotb interp".  Programs must not need the
 * dispatcher's pc lookup (no jmpreg); ret goes straight to the return
 * block's address that call recorded, which ld resolved. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"

#ifndef ENTRY_SYM
#error "define ENTRY_SYM to the entry block's symbol"
#endif
#ifndef MEMSIZE
#define MEMSIZE 0x100000
#endif

extern uint32_t aotb_rt_enter(aotb_cpu *cpu, const void *code);
extern const unsigned char ENTRY_SYM[];

static aotb_cpu cpu;

int main(int argc, char **argv)
{
    uint64_t memsize = MEMSIZE;
    cpu.mem = calloc(memsize, 1);
    cpu.rstack = calloc(IR_RSTACK_ENTRIES, sizeof *cpu.rstack);
    cpu.hstack = calloc(IR_RSTACK_ENTRIES, sizeof *cpu.hstack);
    if (!cpu.mem || !cpu.rstack || !cpu.hstack) {
        perror("calloc");
        return 2;
    }
    cpu.memsize = memsize;
    for (unsigned k = 0; k < 4; k++) {
        uint64_t size = (uint64_t)1 << k;
        cpu.bound[k] = memsize >= size ? memsize - size + 1 : 0;
    }
    cpu.rcap = IR_RSTACK_ENTRIES;
    cpu.budget = argc > 1 ? strtoull(argv[1], NULL, 0) : UINT64_MAX;

    uint32_t st = aotb_rt_enter(&cpu, ENTRY_SYM);
    if (st != cpu.status) {
        fprintf(stderr, "aotb_rt_enter returned %u but cpu.status is %u\n",
                (unsigned)st, (unsigned)cpu.status);
        return 2;
    }
    switch (st) {
    case AOTB_ST_RET: printf("status: ret\n"); break;
    case AOTB_ST_FAULT: printf("status: fault %" PRIu64 "\n", cpu.info); break;
    case AOTB_ST_MEMFAULT:
        printf("status: memfault 0x%016" PRIx64 "\n", cpu.info);
        break;
    case AOTB_ST_INTERRUPT:
        printf("status: interrupt %" PRIu64 "\n", cpu.info);
        break;
    case AOTB_ST_NOCODE: printf("status: nocode 0x%016" PRIx64 "\n", cpu.pc);
        break;
    case AOTB_ST_BUDGET: printf("status: budget\n"); break;
    case AOTB_ST_CALLSTACK: printf("status: callstack\n"); break;
    default:
        fprintf(stderr, "status %u needs the dispatcher (pc 0x%016" PRIx64
                ")\n", (unsigned)st, cpu.pc);
        return 2;
    }
    printf("pc: 0x%016" PRIx64 "\n", cpu.pc);
    for (unsigned i = 0; i < IR_NREGS; i++)
        if (cpu.r[i])
            printf("r%u: 0x%016" PRIx64 "\n", i, cpu.r[i]);
    return st == AOTB_ST_RET || st == AOTB_ST_INTERRUPT ? 0 : 3;
}
