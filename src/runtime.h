/* runtime.h: the dispatcher.  Runs native code produced by the code generator
 * once it has been placed and relocated in executable memory (by the image
 * loader, or by a test), handling every exit that needs the host: lookups of
 * computed pcs (jmpreg, ret) and pcs that have no block. */
#ifndef AOTB_RUNTIME_H
#define AOTB_RUNTIME_H

#include <stdint.h>

#include "cpu.h"

typedef uint32_t (*rt_enter_fn)(aotb_cpu *cpu, const void *code);

/* The native lookup (the aotb_rt_lookup stub, for jmpreg and ret) probes
 * an open-addressing hash table of rt_slot entries, read-only, 2^k slots
 * (k >= 1) at most half full, linear probing.  A slot with code == NULL is
 * empty (so any pc, 0 included, can be a key) and ends a probe: a miss,
 * which leaves to rt_run exactly as a lookup always did.  The first slot
 * of pc is at byte offset rt_hash(pc) >> shift & mask, with
 * shift = 60 - k and mask = (2^k - 1) * sizeof(rt_slot). */
typedef struct rt_slot {
    uint64_t pc;
    const void *code;
} rt_slot;

#define RT_HASH_MUL 0x9e3779b97f4a7c15ull   /* odd: 2^64 / golden ratio */

/* Mixes every bit of pc into the top bits (multiplication carries only
 * upwards, so the high half is folded down first).  The stub computes
 * exactly this. */
static inline uint64_t rt_hash(uint64_t pc)
{
    return (pc ^ pc >> 32) * RT_HASH_MUL;
}

typedef struct rt_code {
    rt_enter_fn enter;     /* address of aotb_rt_enter in the mapping */
    /* Host address of the code of block pc, or NULL if there is none. */
    const void *(*lookup)(void *ctx, uint64_t pc);
    void *ctx;
    /* The hash table above, or NULL (then every native lookup misses). */
    const rt_slot *table;
    uint64_t table_mask;
    uint64_t table_shift;
    /* The return lookup (codegen.h: cg_code.ret_lookup: it looks up the
     * return pc of the frame being returned from), and an id unique to
     * this code map in the process (0: none), for the host return stack
     * (cpu.h). */
    const void *lookup_stub;
    uint64_t map_id;
} rt_code;

/* Runs from pc until the program stops; cpu->status, pc and info describe
 * the stop (never AOTB_ST_RUNNING or AOTB_ST_LOOKUP). */
void rt_run(const rt_code *code, aotb_cpu *cpu, uint64_t pc);

#endif
