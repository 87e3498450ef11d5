/* runtime.c: the dispatcher loop around native code.  Native blocks chain
 * to each other directly; they come back here only to stop, or to continue
 * at a pc known only at run time (jmpreg, ret, a missing direct target),
 * which is looked up here. */
#include "runtime.h"

void rt_run(const rt_code *code, aotb_cpu *cpu, uint64_t pc)
{
    cpu->info = 0;
    for (;;) {
        /* A missing block is reported before the budget is looked at, as
         * the interpreter does: a missing pc never costs budget. */
        const void *p = code->lookup(code->ctx, pc);
        if (!p) {
            cpu->status = AOTB_ST_NOCODE;
            cpu->pc = pc;
            cpu->info = 0;
            return;
        }
        cpu->status = AOTB_ST_RUNNING;
        uint32_t st = code->enter(cpu, p);
        if (st != AOTB_ST_LOOKUP)
            return;     /* status, pc and info are in the cpu struct */
        pc = cpu->pc;
    }
}
