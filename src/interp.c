/* interp.c: the reference interpreter.  It is the oracle that native code is
 * checked against, so it is a plain switch over ops written to be read
 * against the semantics table of man/aotb-ir.5.  All arithmetic is done on
 * uint64_t, so wrapping is defined and nothing here depends on signed
 * overflow or implementation-defined conversions. */
#include "interp.h"

#include <string.h>

#define SIGN_BIT ((uint64_t)1 << 63)

/* Signed comparison through unsigned values: flipping the sign bit maps
 * INT64_MIN..INT64_MAX onto 0..UINT64_MAX in order. */
static int slt(uint64_t a, uint64_t b)
{
    return (a ^ SIGN_BIT) < (b ^ SIGN_BIT);
}

/* Sign-extends the low `bits` bits of v. */
static uint64_t sext(uint64_t v, unsigned bits)
{
    uint64_t m = (uint64_t)1 << (bits - 1);
    v &= bits == 64 ? ~(uint64_t)0 : ((uint64_t)1 << bits) - 1;
    return (v ^ m) - m;
}

/* Arithmetic right shift, s in 0..63: the same bias trick as sext. */
static uint64_t sra(uint64_t a, unsigned s)
{
    return ((a ^ SIGN_BIT) >> s) - (SIGN_BIT >> s);
}

static uint64_t neg_if(uint64_t v, int neg)
{
    return neg ? 0 - v : v;
}

/* Signed division on magnitudes, truncating toward zero.  INT64_MIN / -1
 * needs no special case here: |a| = 2^63, q = 2^63 with a positive sign,
 * which is INT64_MIN again, as the table requires; its remainder is 0. */
static uint64_t divs(uint64_t a, uint64_t b)
{
    if (b == 0)
        return ~(uint64_t)0;
    int na = (a & SIGN_BIT) != 0, nb = (b & SIGN_BIT) != 0;
    uint64_t q = neg_if(a, na) / neg_if(b, nb);
    return neg_if(q, na != nb);
}

static uint64_t rems(uint64_t a, uint64_t b)
{
    if (b == 0)
        return a;
    int na = (a & SIGN_BIT) != 0, nb = (b & SIGN_BIT) != 0;
    uint64_t r = neg_if(a, na) % neg_if(b, nb);
    return neg_if(r, na);    /* the remainder takes the dividend's sign */
}

/* log2 of the access size of each memory type, indexed by ir_memtype. */
static const uint8_t mt_log2[IR_NUM_MEMTYPES] = {
    [IR_U8] = 0, [IR_S8] = 0, [IR_U16] = 1, [IR_S16] = 1,
    [IR_U32] = 2, [IR_S32] = 2, [IR_U64] = 3,
};

/* Bounds check: an access of 1 << k bytes at addr is inside guest memory iff
 * addr < bound[k] (i.e. addr + size <= memsize, with no overflow). */
static int mem_ok(const aotb_cpu *cpu, uint64_t addr, unsigned k)
{
    return addr < cpu->bound[k];
}

static int do_load(const ir_op *op, aotb_cpu *cpu)
{
    uint64_t addr = cpu->r[op->a] + op->imm;
    unsigned mt = op->mt < IR_NUM_MEMTYPES ? op->mt : IR_U64;
    unsigned k = mt_log2[mt];
    if (!mem_ok(cpu, addr, k)) {
        cpu->info = addr;
        return -1;
    }
    /* Little-endian, any alignment: assemble the value byte by byte. */
    const uint8_t *p = cpu->mem + addr;
    uint64_t v = 0;
    for (unsigned i = 0; i < (1u << k); i++)
        v |= (uint64_t)p[i] << (8 * i);
    switch (mt) {
    case IR_S8: v = sext(v, 8); break;
    case IR_S16: v = sext(v, 16); break;
    case IR_S32: v = sext(v, 32); break;
    default: break;    /* u forms: already zero-extended */
    }
    cpu->r[op->d] = v;
    return 0;
}

static int do_store(const ir_op *op, aotb_cpu *cpu)
{
    uint64_t addr = cpu->r[op->a] + op->imm;
    unsigned mt = op->mt < IR_NUM_MEMTYPES ? op->mt : IR_U64;
    unsigned k = mt_log2[mt];
    if (!mem_ok(cpu, addr, k)) {
        cpu->info = addr;
        return -1;
    }
    uint8_t *p = cpu->mem + addr;
    uint64_t v = cpu->r[op->b];
    for (unsigned i = 0; i < (1u << k); i++)
        p[i] = (uint8_t)(v >> (8 * i));
    return 0;
}

int interp_op(const ir_op *op, aotb_cpu *cpu)
{
    uint64_t *r = cpu->r;
    uint64_t a = r[op->a], b = r[op->b];
    switch ((ir_opcode)op->op) {
    case IR_NOP: break;
    case IR_ADD: r[op->d] = a + b; break;
    case IR_SUB: r[op->d] = a - b; break;
    case IR_MUL: r[op->d] = a * b; break;
    case IR_AND: r[op->d] = a & b; break;
    case IR_OR: r[op->d] = a | b; break;
    case IR_XOR: r[op->d] = a ^ b; break;
    case IR_DIVS: r[op->d] = divs(a, b); break;
    case IR_DIVU: r[op->d] = b ? a / b : ~(uint64_t)0; break;
    case IR_REMS: r[op->d] = rems(a, b); break;
    case IR_REMU: r[op->d] = b ? a % b : a; break;
    case IR_NOT: r[op->d] = ~a; break;
    case IR_SLL: r[op->d] = a << (b & 63); break;
    case IR_SRL: r[op->d] = a >> (b & 63); break;
    case IR_SRA: r[op->d] = sra(a, (unsigned)(b & 63)); break;
    case IR_ADDI: r[op->d] = a + op->imm; break;
    case IR_MULI: r[op->d] = a * op->imm; break;
    case IR_MOV: r[op->d] = a; break;
    case IR_MOVI: r[op->d] = op->imm; break;
    /* The parser keeps sh in 0..63; the mask only guards hand-built IR
     * against an undefined C shift. */
    case IR_SLLI: r[op->d] = a << (op->imm & 63); break;
    case IR_SRLI: r[op->d] = a >> (op->imm & 63); break;
    case IR_SRAI: r[op->d] = sra(a, (unsigned)(op->imm & 63)); break;
    case IR_CMPEQ: r[op->d] = a == b; break;
    case IR_CMPNE: r[op->d] = a != b; break;
    case IR_CMPLT: r[op->d] = (uint64_t)slt(a, b); break;
    case IR_CMPLTU: r[op->d] = a < b; break;
    case IR_CMPGE: r[op->d] = (uint64_t)!slt(a, b); break;
    case IR_CMPGEU: r[op->d] = a >= b; break;
    case IR_SELECT: r[op->d] = r[op->c] ? a : b; break;
    case IR_LOAD: return do_load(op, cpu);
    case IR_STORE: return do_store(op, cpu);
    case IR_NUM_OPS: break;
    }
    /* Unknown opcodes cannot come from the parser; they do nothing. */
    return 0;
}

static void stop(aotb_cpu *cpu, aotb_status st, uint64_t pc, uint64_t info)
{
    cpu->status = st;
    cpu->pc = pc;
    cpu->info = info;
}

/* A small direct-mapped cache of pc -> block in front of the binary search;
 * an entry is used only when its pc matches exactly, so it can never change
 * the result of ir_program_find. */
#define BCACHE_SIZE 256u
typedef struct bcache {
    uint64_t pc[BCACHE_SIZE];
    const ir_block *blk[BCACHE_SIZE];
} bcache;

static const ir_block *find_block(const ir_program *p, bcache *c, uint64_t pc)
{
    unsigned slot = (unsigned)((pc ^ (pc >> 8) ^ (pc >> 16)) % BCACHE_SIZE);
    if (c->blk[slot] && c->pc[slot] == pc)
        return c->blk[slot];
    const ir_block *b = ir_program_find(p, pc);
    if (b) {
        c->pc[slot] = pc;
        c->blk[slot] = b;
    }
    return b;
}

void interp_run(const ir_program *p, aotb_cpu *cpu, uint64_t pc)
{
    bcache cache;
    memset(&cache, 0, sizeof cache);
    cpu->status = AOTB_ST_RUNNING;
    cpu->info = 0;
    cpu->hstack_map = 0;   /* its calls leave the host return stack alone */
    for (;;) {
        const ir_block *b = find_block(p, &cache, pc);
        if (!b) {
            stop(cpu, AOTB_ST_NOCODE, pc, 0);
            return;
        }
        if (cpu->budget == 0) {
            stop(cpu, AOTB_ST_BUDGET, pc, 0);
            return;
        }
        /* UINT64_MAX ("no limit") is decremented too: 2^64 blocks cannot
         * run out in practice, and native code does the same. */
        cpu->budget--;
        for (uint32_t i = 0; i < b->nops; i++) {
            if (interp_op(&b->ops[i], cpu) != 0) {
                /* interp_op left the faulting address in info. */
                stop(cpu, AOTB_ST_MEMFAULT, b->pc, cpu->info);
                return;
            }
        }
        const ir_term *t = &b->term;
        switch ((ir_termkind)t->kind) {
        case IR_T_RET:
            if (cpu->rsp == 0) {
                stop(cpu, AOTB_ST_RET, b->pc, 0);
                return;
            }
            pc = cpu->rstack[--cpu->rsp];
            break;
        case IR_T_JMP:
            pc = t->target;
            break;
        case IR_T_JMPREG:
            pc = cpu->r[t->reg] + t->imm;
            break;
        case IR_T_CONDJMP:
            pc = cpu->r[t->reg] ? t->target : t->other;
            break;
        case IR_T_CALL:
            if (cpu->rsp >= cpu->rcap) {
                stop(cpu, AOTB_ST_CALLSTACK, b->pc, 0);
                return;
            }
            cpu->rstack[cpu->rsp++] = t->other;
            pc = t->target;
            break;
        case IR_T_FAULT:
            stop(cpu, AOTB_ST_FAULT, b->pc, t->imm);
            return;
        case IR_T_INTERRUPT:
            stop(cpu, AOTB_ST_INTERRUPT, t->has_resume ? t->other : b->pc,
                 t->imm);
            return;
        default:
            /* Cannot come from the parser: treat as a fault with the
             * largest cause rather than run on. */
            stop(cpu, AOTB_ST_FAULT, b->pc, ~(uint64_t)0);
            return;
        }
    }
}
