/* runtime.h: the dispatcher.  Runs native code produced by the code generator
 * once it has been placed and relocated in executable memory (by the image
 * loader, or by a test), handling every exit that needs the host: lookups of
 * computed pcs (jmpreg, ret) and pcs that have no block. */
#ifndef AOTB_RUNTIME_H
#define AOTB_RUNTIME_H

#include <stdint.h>

#include "cpu.h"

typedef uint32_t (*rt_enter_fn)(aotb_cpu *cpu, const void *code);

typedef struct rt_code {
    rt_enter_fn enter;     /* address of aotb_rt_enter in the mapping */
    /* Host address of the code of block pc, or NULL if there is none. */
    const void *(*lookup)(void *ctx, uint64_t pc);
    void *ctx;
} rt_code;

/* Runs from pc until the program stops; cpu->status, pc and info describe
 * the stop (never AOTB_ST_RUNNING or AOTB_ST_LOOKUP). */
void rt_run(const rt_code *code, aotb_cpu *cpu, uint64_t pc);

#endif
