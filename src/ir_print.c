/* ir_print.c: the canonical text form of a program.
 *
 * Canonical choices (documented in aotb-ir(5)): addresses, targets and sizes
 * in lower-case hex; signed immediates (addi, muli, movi, jmpreg, offsets)
 * in decimal when their absolute value is below 65536, else in hex with a
 * sign; shift amounts, fault causes and interrupt vectors in decimal; data
 * as "hex" lines of at most 16 bytes in address order; an explicit "entry"
 * when the default one (the first block in the file) would otherwise move. */
#include <stdlib.h>
#include <string.h>

#include "ir.h"

#define SMALL 65536

static void put_hex(buf *out, uint64_t v)
{
    buf_printf(out, "0x%llx", (unsigned long long)v);
}

/* A magnitude: decimal when small, else hex. */
static void put_mag(buf *out, uint64_t mag)
{
    if (mag < SMALL)
        buf_printf(out, "%llu", (unsigned long long)mag);
    else
        put_hex(out, mag);
}

/* A 64-bit pattern shown as the signed value it also stands for. */
static void put_signed(buf *out, uint64_t v)
{
    if (v >> 63) {
        buf_put8(out, '-');
        put_mag(out, (uint64_t)0 - v);
    } else {
        put_mag(out, v);
    }
}

static void put_mem(buf *out, unsigned a, uint64_t imm)
{
    buf_printf(out, "[r%u", a);
    if (imm >> 63) {
        buf_printf(out, " - ");
        put_mag(out, (uint64_t)0 - imm);
    } else if (imm) {
        buf_printf(out, " + ");
        put_mag(out, imm);
    }
    buf_put8(out, ']');
}

static void print_op(const ir_op *o, buf *out)
{
    if (o->op >= IR_NUM_OPS) {
        buf_printf(out, "    ; bad op %u\n", o->op);
        return;
    }
    buf_printf(out, "    %s", ir_op_names[o->op]);
    const char *mt = o->mt < IR_NUM_MEMTYPES ? ir_memtype_names[o->mt] : "u64";
    switch (ir_op_shapes[o->op]) {
    case IR_SHAPE_NONE:
        break;
    case IR_SHAPE_DAB:
        buf_printf(out, " r%u, r%u, r%u", o->d, o->a, o->b);
        break;
    case IR_SHAPE_DA:
        buf_printf(out, " r%u, r%u", o->d, o->a);
        break;
    case IR_SHAPE_DAI:
        buf_printf(out, " r%u, r%u, ", o->d, o->a);
        put_signed(out, o->imm);
        break;
    case IR_SHAPE_DI:
        buf_printf(out, " r%u, ", o->d);
        put_signed(out, o->imm);
        break;
    case IR_SHAPE_DAS:
        buf_printf(out, " r%u, r%u, %llu", o->d, o->a, (unsigned long long)o->imm);
        break;
    case IR_SHAPE_DCAB:
        buf_printf(out, " r%u, r%u, r%u, r%u", o->d, o->c, o->a, o->b);
        break;
    case IR_SHAPE_LOAD:
        buf_printf(out, " r%u, ", o->d);
        put_mem(out, o->a, o->imm);
        buf_printf(out, ", %s", mt);
        break;
    case IR_SHAPE_STORE:
        buf_put8(out, ' ');
        put_mem(out, o->a, o->imm);
        buf_printf(out, ", r%u, %s", o->b, mt);
        break;
    }
    buf_put8(out, '\n');
}

static void print_term(const ir_term *t, buf *out)
{
    switch (t->kind) {
    case IR_T_RET:
        buf_printf(out, "    ret\n");
        return;
    case IR_T_JMP:
        buf_printf(out, "    jmp ");
        put_hex(out, t->target);
        break;
    case IR_T_JMPREG:
        buf_printf(out, "    jmpreg r%u, ", t->reg);
        put_signed(out, t->imm);
        break;
    case IR_T_CONDJMP:
        buf_printf(out, "    condjmp r%u, ", t->reg);
        put_hex(out, t->target);
        buf_printf(out, ", ");
        put_hex(out, t->other);
        break;
    case IR_T_CALL:
        buf_printf(out, "    call ");
        put_hex(out, t->target);
        buf_printf(out, ", ");
        put_hex(out, t->other);
        break;
    case IR_T_FAULT:
        buf_printf(out, "    fault %llu", (unsigned long long)t->imm);
        break;
    case IR_T_INTERRUPT:
        buf_printf(out, "    interrupt %llu", (unsigned long long)t->imm);
        if (t->has_resume) {
            buf_printf(out, ", ");
            put_hex(out, t->other);
        }
        break;
    default:
        buf_printf(out, "    ; bad terminator %u\n", t->kind);
        return;
    }
    buf_put8(out, '\n');
}

void ir_print_block(const ir_block *b, buf *out)
{
    buf_printf(out, "block ");
    put_hex(out, b->pc);
    buf_printf(out, " {\n");
    for (uint32_t i = 0; i < b->nops; i++)
        print_op(&b->ops[i], out);
    print_term(&b->term, out);
    buf_printf(out, "}\n");
}

static int cmp_data(const void *x, const void *y)
{
    const ir_data *a = *(const ir_data *const *)x, *b = *(const ir_data *const *)y;
    if (a->addr != b->addr)
        return a->addr < b->addr ? -1 : 1;
    return a->line < b->line ? -1 : a->line > b->line;
}

static int cmp_block(const void *x, const void *y)
{
    const ir_block *a = *(const ir_block *const *)x, *b = *(const ir_block *const *)y;
    return a->pc < b->pc ? -1 : a->pc > b->pc;
}

static void print_data(const ir_data *dt, buf *out)
{
    for (uint64_t off = 0; off < dt->len; off += 16) {
        uint64_t n = dt->len - off < 16 ? dt->len - off : 16;
        buf_printf(out, "data ");
        put_hex(out, dt->addr + off);
        buf_printf(out, " hex");
        for (uint64_t i = 0; i < n; i++)
            buf_printf(out, " %02x", dt->bytes[off + i]);
        buf_put8(out, '\n');
    }
}

void ir_print_program(const ir_program *p, buf *out)
{
    int top = 0;
    /* Blocks come out in pc order, so a default entry (the first block in
     * the file) is written out when that block is not also the lowest. */
    uint64_t entry = 0;
    bool explicit_entry = p->has_entry;
    if (!p->has_entry && p->nblocks > 0) {
        entry = p->blocks[0].pc;
        for (size_t i = 1; i < p->nblocks; i++)
            if (p->blocks[i].pc < entry)
                explicit_entry = true;
    } else {
        entry = p->entry;
    }
    if (explicit_entry) {
        buf_printf(out, "entry ");
        put_hex(out, entry);
        buf_put8(out, '\n');
        top = 1;
    }
    if (p->has_memory) {
        buf_printf(out, "memory ");
        put_hex(out, p->memsize);
        buf_put8(out, '\n');
        top = 1;
    }
    if (p->ndata) {
        const ir_data **order = xreallocarray(NULL, p->ndata, sizeof *order);
        if (!order) {
            out->oom = 1;
            return;
        }
        for (size_t i = 0; i < p->ndata; i++)
            order[i] = &p->data[i];
        qsort(order, p->ndata, sizeof *order, cmp_data);
        for (size_t i = 0; i < p->ndata; i++)
            print_data(order[i], out);
        free(order);
        top = 1;
    }
    /* Blocks in ascending pc order: by_pc when the program is indexed,
     * else a sorted copy of pointers. */
    const ir_block **blocks = xreallocarray(NULL, p->nblocks, sizeof *blocks);
    if (!blocks) {
        out->oom = 1;
        return;
    }
    for (size_t i = 0; i < p->nblocks; i++)
        blocks[i] = &p->blocks[p->by_pc ? p->by_pc[i] : i];
    if (!p->by_pc)
        qsort(blocks, p->nblocks, sizeof *blocks, cmp_block);
    for (size_t i = 0; i < p->nblocks; i++) {
        if (top || i > 0)
            buf_put8(out, '\n');
        ir_print_block(blocks[i], out);
    }
    free(blocks);
}
