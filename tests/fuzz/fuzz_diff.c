/* fuzz_diff.c: differential libFuzzer harness.  The fuzzer's bytes are
 * decoded into a program (blocks of ops and terminators chosen byte by byte,
 * biased towards the interesting corners: tiny memories, boundary addresses,
 * wrapping immediates, division by 0 and -1, computed jumps), printed as .vir
 * and parsed back (so only programs the parser accepts are used), compiled
 * to native code and run both natively and on the reference interpreter with
 * a block budget.  Any difference in status, pc, registers, return stack or
 * memory aborts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"
#include "../unit/support_native.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct fd_in {
    const uint8_t *p;
    size_t n, i;
} fd_in;

static uint8_t fd_byte(fd_in *in)
{
    return in->i < in->n ? in->p[in->i++] : 0;
}

static uint64_t fd_u64(fd_in *in)
{
    uint64_t v = 0;
    for (int k = 0; k < 8; k++)
        v |= (uint64_t)fd_byte(in) << (8 * k);
    return v;
}

#define FD_BASE 0x1000u
/* The last is more than 2^24: accesses at offsets too large for the code
 * generator's hoisted loop checks (codegen.c) can then be in bounds. */
static const uint64_t fd_memsizes[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 64, 4096,
                                        (UINT64_C(1) << 24) + 64 };

/* A 64-bit value: mostly from a table of corners relative to memsize. */
static uint64_t fd_value(fd_in *in, uint64_t memsize, size_t nblocks)
{
    uint8_t k = fd_byte(in);
    switch (k % 20) {
    case 0: return 0;
    case 1: return 1;
    case 2: return UINT64_MAX;             /* -1 */
    case 3: return memsize;
    case 4: return memsize - 1;
    case 5: return memsize - 8;            /* wraps when memsize < 8 */
    case 6: return memsize - 4;
    case 7: return memsize - 2;
    case 8: return UINT64_C(0x8000000000000000);
    case 9: return UINT64_C(0x7fffffffffffffff);
    case 10: return UINT64_MAX - 7;
    case 11: return FD_BASE + 16u * (fd_byte(in) % (nblocks + 1));
    case 12: return FD_BASE + 16u * (fd_byte(in) % nblocks) + 1 + fd_byte(in) % 15;
    case 13: return fd_byte(in);
    case 14: return (uint64_t)-(int64_t)(fd_byte(in) % 16);
    case 15: return (uint64_t)1 << (fd_byte(in) % 64);
    default: return fd_u64(in);
    }
}

static uint8_t fd_reg(fd_in *in)
{
    uint8_t b = fd_byte(in);
    return (b & 0xe0) == 0xe0 ? (uint8_t)(b | 0xf0) : (uint8_t)(b % 8);
}

static uint64_t fd_target(fd_in *in, size_t nblocks)
{
    uint8_t b = fd_byte(in);
    if (b < 224)
        return FD_BASE + 16u * (b % nblocks);
    if (b < 240)
        return FD_BASE + 16u * nblocks;      /* no block there: nocode */
    return fd_u64(in);
}

static const uint8_t fd_store_types[] = { IR_U8, IR_U16, IR_U32, IR_U64 };

static void fd_op(fd_in *in, ir_op *o, uint64_t memsize, size_t nblocks)
{
    memset(o, 0, sizeof *o);
    o->op = (uint8_t)(fd_byte(in) % IR_NUM_OPS);
    switch (ir_op_shapes[o->op]) {
    case IR_SHAPE_NONE:
        break;
    case IR_SHAPE_DAB:
        o->d = fd_reg(in); o->a = fd_reg(in); o->b = fd_reg(in);
        break;
    case IR_SHAPE_DA:
        o->d = fd_reg(in); o->a = fd_reg(in);
        break;
    case IR_SHAPE_DAI:
        o->d = fd_reg(in); o->a = fd_reg(in);
        o->imm = fd_value(in, memsize, nblocks);
        break;
    case IR_SHAPE_DI:
        o->d = fd_reg(in);
        o->imm = fd_value(in, memsize, nblocks);
        break;
    case IR_SHAPE_DAS:
        o->d = fd_reg(in); o->a = fd_reg(in);
        o->imm = fd_byte(in) % 64;
        break;
    case IR_SHAPE_DCAB:
        o->d = fd_reg(in); o->c = fd_reg(in); o->a = fd_reg(in); o->b = fd_reg(in);
        break;
    case IR_SHAPE_LOAD:
        o->d = fd_reg(in); o->a = fd_reg(in);
        o->imm = fd_value(in, memsize, nblocks);
        o->mt = (uint8_t)(fd_byte(in) % IR_NUM_MEMTYPES);
        break;
    case IR_SHAPE_STORE:
        o->a = fd_reg(in); o->b = fd_reg(in);
        o->imm = fd_value(in, memsize, nblocks);
        o->mt = fd_store_types[fd_byte(in) % 4];
        break;
    }
}

static void fd_term(fd_in *in, ir_term *t, uint64_t memsize, size_t nblocks)
{
    memset(t, 0, sizeof *t);
    uint8_t k = fd_byte(in);
    switch (k % 10) {
    case 0: t->kind = IR_T_RET; break;
    case 1: case 2:
        t->kind = IR_T_JMP; t->target = fd_target(in, nblocks); break;
    case 3:
        t->kind = IR_T_JMPREG; t->reg = fd_reg(in);
        t->imm = fd_value(in, memsize, nblocks); break;
    case 4: case 5:
        t->kind = IR_T_CONDJMP; t->reg = fd_reg(in);
        t->target = fd_target(in, nblocks); t->other = fd_target(in, nblocks);
        break;
    case 6: case 7:
        t->kind = IR_T_CALL; t->target = fd_target(in, nblocks);
        t->other = fd_target(in, nblocks); break;
    case 8:
        t->kind = IR_T_FAULT; t->imm = fd_value(in, memsize, nblocks); break;
    default:
        t->kind = IR_T_INTERRUPT; t->imm = fd_value(in, memsize, nblocks);
        t->has_resume = fd_byte(in) & 1;
        if (t->has_resume)
            t->other = fd_target(in, nblocks);
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fd_in in = { data, size, 0 };
    uint8_t h = fd_byte(&in);
    ir_program p;
    memset(&p, 0, sizeof p);
    p.memsize = fd_memsizes[h % (sizeof fd_memsizes / sizeof fd_memsizes[0])];
    p.has_memory = true;
    p.nblocks = 1 + fd_byte(&in) % 8;
    ir_block blocks[8];
    ir_op ops[8][16];
    memset(blocks, 0, sizeof blocks);
    p.blocks = blocks;
    for (size_t i = 0; i < p.nblocks; i++) {
        blocks[i].pc = FD_BASE + 16u * i;
        blocks[i].ops = ops[i];
        blocks[i].nops = fd_byte(&in) % 16;
        for (uint32_t j = 0; j < blocks[i].nops; j++)
            fd_op(&in, &ops[i][j], p.memsize, p.nblocks);
        fd_term(&in, &blocks[i].term, p.memsize, p.nblocks);
    }
    uint8_t dat[4] = { 0x81, 0x02, 0xff, 0x7f };
    ir_data seg = { 0, dat, p.memsize < 4 ? p.memsize : 4, 0 };
    if (h & 0x80) {
        p.data = &seg;
        p.ndata = 1;
    }

    /* Through the printer and the parser: the program under test is exactly
     * what a user could have written. */
    buf text = {0};
    ir_print_program(&p, &text);
    ir_program q;
    aotb_diag d = {0};
    if (ir_parse("fuzz.vir", (const char *)text.data, text.len, &q, &d) != 0) {
        fprintf(stderr, "fuzz_diff: the printed program does not parse:\n%s%.*s",
                diag_text(&d), (int)text.len, (const char *)text.data);
        abort();
    }
    diag_free(&d);

    uint64_t regs[8];
    for (int i = 0; i < 8; i++)
        regs[i] = fd_value(&in, p.memsize, p.nblocks);
    uint8_t o = fd_byte(&in);
    native_setup s = { 0 };
    s.max_blocks = 1 + (o & 0x0f) * 100u;
    s.rcap = (o & 0x10) ? 4 : 0;
    s.fold = (o & 0x20) ? 4 : 0;
    s.regs = regs;
    s.nregs = (o & 0x40) ? 8 : 0;
    if (native_compare(&q, &s, NULL) != 0) {
        fprintf(stderr, "fuzz_diff: native run differs from the interpreter on\n%.*s",
                (int)text.len, (const char *)text.data);
        abort();
    }
    ir_program_free(&q);
    buf_free(&text);
    return 0;
}
