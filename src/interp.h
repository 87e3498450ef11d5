/* interp.h: the reference interpreter, the oracle for native code.  Written
 * for obvious correctness first. */
#ifndef AOTB_INTERP_H
#define AOTB_INTERP_H

#include <stdint.h>

#include "cpu.h"
#include "ir.h"

/* Runs p from pc on cpu (memory, registers, budget already set up) until it
 * stops; cpu->status, pc and info describe the stop. */
void interp_run(const ir_program *p, aotb_cpu *cpu, uint64_t pc);

/* Executes one op; returns 0, or -1 on a memory fault (cpu->info = address,
 * nothing written).  Exposed for unit tests and the differential harness. */
int interp_op(const ir_op *op, aotb_cpu *cpu);

#endif
