/* cpu.h: the guest CPU state shared by the reference interpreter, the native
 * code (which addresses it by the fixed offsets below, base register rbx) and
 * the runtime.  Also the stop statuses of the run/interp output contract. */
#ifndef AOTB_CPU_H
#define AOTB_CPU_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ir.h"
#include "util.h"

typedef enum aotb_status {
    AOTB_ST_RUNNING = 0,  /* internal: not stopped */
    AOTB_ST_RET,          /* ret with an empty return stack */
    AOTB_ST_FAULT,        /* info = cause */
    AOTB_ST_MEMFAULT,     /* info = faulting address */
    AOTB_ST_INTERRUPT,    /* info = vector */
    AOTB_ST_NOCODE,       /* pc = missing address */
    AOTB_ST_BUDGET,       /* pc = block that would have run next */
    AOTB_ST_CALLSTACK,    /* call with a full return stack */
    AOTB_ST_LOOKUP        /* internal (native code only): continue at pc,
                             which the runtime must look up */
} aotb_status;

typedef struct aotb_cpu {
    uint64_t r[IR_NREGS];   /* guest registers */
    uint8_t *mem;           /* guest memory, memsize bytes */
    uint64_t bound[4];      /* an access of 1 << k bytes at addr is valid iff
                               addr < bound[k]  (memsize - size + 1, or 0) */
    uint64_t memsize;
    uint64_t budget;        /* blocks that may still start; UINT64_MAX = no
                               limit */
    uint64_t *rstack;       /* return stack, rcap entries */
    uint64_t rsp;           /* entries in use */
    uint64_t rcap;
    uint64_t pc;            /* at a stop: the contract's "pc:" */
    uint64_t info;          /* cause / faulting address / vector */
    uint32_t status;        /* aotb_status */
    uint32_t pad_;
    /* private to cpu.c */
    size_t map_len_;
    /* Set by rt_run for the native lookup stub (see runtime.h): the code
     * map's pc -> code hash table, its byte mask and its hash shift. */
    const void *lkp_table;
    uint64_t lkp_mask;
    uint64_t lkp_shift;
    /* The host side of the return stack: next to the guest return pc in
     * rstack[i], the host address its call returns to (code after a
     * link-time relocation, never guest data) in hstack[i], both copied
     * from the host frame when it is dropped; a ret with no host frame
     * left jumps straight there (the others return through host frames,
     * codegen.c).  The entries below rsp belong to the code map whose
     * id is hstack_map (0: none); rt_run resets them to the return lookup
     * when it runs another map, so a stale address is never used. */
    const void **hstack;
    uint64_t hstack_map;
    /* Private to the native code (codegen.c, "host calls"): the host stack
     * pointer at entry, the lowest it may go before the host frames are
     * written to rstack/hstack and dropped, and the addresses of the stubs
     * that do that (deep) and that a ret with no host frame left takes
     * (pop). */
    uint64_t hrsp;
    uint64_t hlim;
    const void *hdeep;
    const void *hpop;
} aotb_cpu;

/* Offsets used by the code generator (checked by static asserts in cpu.c). */
#define CPU_OFF_R(i)    ((int32_t)(8 * (i)))
#define CPU_OFF_MEM     2048
#define CPU_OFF_BOUND(k) (2056 + 8 * (k))
#define CPU_OFF_MEMSIZE 2088
#define CPU_OFF_BUDGET  2096
#define CPU_OFF_RSTACK  2104
#define CPU_OFF_RSP     2112
#define CPU_OFF_RCAP    2120
#define CPU_OFF_PC      2128
#define CPU_OFF_INFO    2136
#define CPU_OFF_STATUS  2144
#define CPU_OFF_LKP_TABLE 2160
#define CPU_OFF_LKP_MASK  2168
#define CPU_OFF_LKP_SHIFT 2176
#define CPU_OFF_HSTACK  2184
#define CPU_OFF_HRSP    2200
#define CPU_OFF_HLIM    2208
#define CPU_OFF_HDEEP   2216
#define CPU_OFF_HPOP    2224

/* Sets up a CPU: registers 0, zeroed guest memory of memsize bytes (mapped
 * lazily, so 2^32 and more is fine), an empty return stack of
 * IR_RSTACK_ENTRIES, no budget limit.  Returns 0 or -1 + message. */
int cpu_init(aotb_cpu *cpu, uint64_t memsize, aotb_diag *d);
void cpu_free(aotb_cpu *cpu);
/* Copies initial data into guest memory; -1 + message when out of range. */
int cpu_load_data(aotb_cpu *cpu, uint64_t addr, const uint8_t *bytes,
                  uint64_t len, aotb_diag *d);

/* Options shared by "aotb run" and "aotb interp". */
typedef struct run_opts {
    uint64_t entry;
    int has_entry;
    uint64_t max_blocks;      /* UINT64_MAX: no limit */
    struct { unsigned reg; uint64_t val; } sets[IR_NREGS * 4];
    size_t nsets;
    struct { uint64_t addr, len; } dumps[64];
    size_t ndumps;
} run_opts;

/* Applies --set and --max-blocks to a CPU. */
void run_opts_apply(const run_opts *o, aotb_cpu *cpu);

/* Prints the output contract (status, pc, non-zero registers, memory dumps)
 * to out.  Returns the contract's exit status: 0 for ret / interrupt, 3 for
 * every other stop. */
int report_print(FILE *out, const aotb_cpu *cpu, const run_opts *o);

#endif
