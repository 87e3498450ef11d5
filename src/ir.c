/* ir.c: the op tables and the program container (free, entry, pc index). */
#include <stdlib.h>
#include <string.h>

#include "ir.h"

const char *const ir_op_names[IR_NUM_OPS] = {
#define X(name, mn, shape) mn,
    IR_OPS(X)
#undef X
};

const uint8_t ir_op_shapes[IR_NUM_OPS] = {
#define X(name, mn, shape) IR_SHAPE_##shape,
    IR_OPS(X)
#undef X
};

const char *const ir_memtype_names[IR_NUM_MEMTYPES] = {
    "u8", "s8", "u16", "s16", "u32", "s32", "u64"};

unsigned ir_memtype_size(unsigned mt)
{
    switch (mt) {
    case IR_U8:
    case IR_S8:
        return 1;
    case IR_U16:
    case IR_S16:
        return 2;
    case IR_U32:
    case IR_S32:
        return 4;
    default:
        return 8;
    }
}

void ir_program_free(ir_program *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nblocks; i++)
        free(p->blocks[i].ops);
    for (size_t i = 0; i < p->ndata; i++)
        free(p->data[i].bytes);
    free(p->blocks);
    free(p->data);
    free(p->by_pc);
    free(p->file);
    memset(p, 0, sizeof *p);
    p->memsize = IR_DEFAULT_MEMORY;
}

bool ir_program_entry(const ir_program *p, uint64_t *pc)
{
    if (p->has_entry) {
        *pc = p->entry;
        return true;
    }
    if (p->nblocks > 0) {
        *pc = p->blocks[0].pc;
        return true;
    }
    return false;
}

typedef struct pc_idx {
    uint64_t pc;
    uint32_t idx;
} pc_idx;

/* Ties are broken by file position so that, among duplicates, the earlier
 * block comes first. */
static int cmp_pc_idx(const void *x, const void *y)
{
    const pc_idx *a = x, *b = y;
    if (a->pc != b->pc)
        return a->pc < b->pc ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

int ir_program_index(ir_program *p, aotb_diag *d)
{
    free(p->by_pc);
    p->by_pc = NULL;
    if (p->nblocks > UINT32_MAX) {
        diag_add(d, "%s: too many blocks", p->file ? p->file : "program");
        return -1;
    }
    pc_idx *t = xreallocarray(NULL, p->nblocks, sizeof *t);
    uint32_t *by = xreallocarray(NULL, p->nblocks, sizeof *by);
    if (!t || !by) {
        free(t);
        free(by);
        diag_add(d, "%s: out of memory", p->file ? p->file : "program");
        return -1;
    }
    /* Most programs list their blocks in ascending order: skip the sort. */
    int sorted = 1;
    for (size_t i = 0; i < p->nblocks; i++) {
        t[i].pc = p->blocks[i].pc;
        t[i].idx = (uint32_t)i;
        if (i > 0 && t[i].pc <= t[i - 1].pc)
            sorted = 0;
    }
    if (!sorted)
        qsort(t, p->nblocks, sizeof *t, cmp_pc_idx);
    int rc = 0;
    for (size_t i = 0; i < p->nblocks; i++) {
        by[i] = t[i].idx;
        if (i > 0 && t[i].pc == t[i - 1].pc) {
            const ir_block *first = &p->blocks[t[i - 1].idx];
            const ir_block *second = &p->blocks[t[i].idx];
            diag_add(d, "%s:%u:1: error: duplicate block 0x%llx (first defined at line %u)",
                     p->file ? p->file : "program", second->line,
                     (unsigned long long)second->pc, first->line);
            rc = -1;
        }
    }
    free(t);
    /* by_pc is kept even on failure: the parser walks it to report the
     * duplicates at their exact columns. */
    p->by_pc = by;
    return rc;
}

const ir_block *ir_program_find(const ir_program *p, uint64_t pc)
{
    if (!p->by_pc) {
        for (size_t i = 0; i < p->nblocks; i++)
            if (p->blocks[i].pc == pc)
                return &p->blocks[i];
        return NULL;
    }
    size_t lo = 0, hi = p->nblocks;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint64_t v = p->blocks[p->by_pc[mid]].pc;
        if (v == pc)
            return &p->blocks[p->by_pc[mid]];
        if (v < pc)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}
