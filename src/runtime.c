/* runtime.c: the dispatcher loop around native code.  Native blocks chain
 * to each other directly; they come back here only to stop, or to continue
 * at a pc known only at run time (jmpreg, ret, a missing direct target),
 * which is looked up here.  jmpreg and ret first try the native lookup
 * (a hash table probed by the aotb_rt_lookup stub); only its misses come
 * here, and they are exactly the pcs without a block. */
#include "runtime.h"

/* Two empty slots: what the stub probes when the code has no table. */
static const rt_slot empty_table[2];

void rt_run(const rt_code *code, aotb_cpu *cpu, uint64_t pc)
{
    cpu->info = 0;
    if (code->table) {
        cpu->lkp_table = code->table;
        cpu->lkp_mask = code->table_mask;
        cpu->lkp_shift = code->table_shift;
    } else {
        cpu->lkp_table = empty_table;
        cpu->lkp_mask = sizeof(rt_slot);
        cpu->lkp_shift = 59;
    }
    /* Host return addresses recorded by another code map (or by none) are
     * not trusted: their entries go through the lookup stub instead. */
    if (code->map_id == 0 || cpu->hstack_map != code->map_id) {
        for (uint64_t i = 0; i < cpu->rsp && i < cpu->rcap; i++)
            cpu->hstack[i] = code->lookup_stub;
        cpu->hstack_map = code->map_id;
    }
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
