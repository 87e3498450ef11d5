/* builder_program.c: programs assembled in memory (aotb_program_*).  Each
 * block is checked for what could not be printed (opcode, memory type,
 * terminator kind), built as an ir_block and printed in canonical .vir
 * form; the builder then parses the text, so an in-memory program gets
 * exactly the checks, the hashes and the messages of a .vir file. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "builder_int.h"

struct aotb_program {
    buf head;              /* entry, memory, data statements */
    buf blocks;            /* block text */
    buf all;               /* head + blocks, made on demand */
    uint64_t entry, memsize;
    int has_entry, has_memory;
};

static int fail(char **err, const char *fmt, ...) AOTB_PRINTF(2, 3);
static int fail(char **err, const char *fmt, ...)
{
    if (err) {
        char msg[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        *err = xstrdup(msg);
    }
    return -1;
}

int aotb_program_new(aotb_program **out, char **err)
{
    if (err)
        *err = NULL;
    *out = xcalloc(1, sizeof **out);
    return *out ? 0 : fail(err, "<program>: out of memory");
}

void aotb_program_free(aotb_program *p)
{
    if (!p)
        return;
    buf_free(&p->head);
    buf_free(&p->blocks);
    buf_free(&p->all);
    free(p);
}

int aotb_program_set_entry(aotb_program *p, uint64_t pc)
{
    p->entry = pc;
    p->has_entry = 1;
    return 0;
}

int aotb_program_set_memory(aotb_program *p, uint64_t size, char **err)
{
    if (err)
        *err = NULL;
    if (size == 0)
        return fail(err, "<program>: memory size 0");
    p->memsize = size;
    p->has_memory = 1;
    return 0;
}

int aotb_program_add_data(aotb_program *p, uint64_t addr, const void *bytes,
                          size_t len, char **err)
{
    if (err)
        *err = NULL;
    if (len == 0)
        return 0;
    buf_printf(&p->head, "data 0x%" PRIx64 " hex", addr);
    for (size_t i = 0; i < len; i++)
        buf_printf(&p->head, " %02x", ((const uint8_t *)bytes)[i]);
    buf_put8(&p->head, '\n');
    return p->head.oom ? fail(err, "<program>: out of memory") : 0;
}

int aotb_program_add_block(aotb_program *p, uint64_t pc, const aotb_op *ops,
                           size_t nops, const aotb_term *term, char **err)
{
    if (err)
        *err = NULL;
    if (nops > UINT32_MAX || (nops && !ops) || !term)
        return fail(err, "block 0x%" PRIx64 ": bad arguments", pc);
    if (term->kind < AOTB_T_RET || term->kind > AOTB_T_INTERRUPT)
        return fail(err, "block 0x%" PRIx64 ": unknown terminator %d", pc,
                    term->kind);
    ir_block b;
    memset(&b, 0, sizeof b);
    b.pc = pc;
    b.nops = (uint32_t)nops;
    b.ops = xcalloc(nops ? nops : 1, sizeof *b.ops);
    if (!b.ops)
        return fail(err, "block 0x%" PRIx64 ": out of memory", pc);
    for (size_t i = 0; i < nops; i++) {
        const aotb_op *o = &ops[i];
        ir_op *x = &b.ops[i];
        if (o->op < 0 || o->op >= IR_NUM_OPS) {
            free(b.ops);
            return fail(err, "block 0x%" PRIx64 ": op %zu: unknown opcode %d",
                        pc, i, o->op);
        }
        int mem = o->op == IR_LOAD || o->op == IR_STORE;
        if (mem && (o->memtype < 0 || o->memtype >= IR_NUM_MEMTYPES)) {
            free(b.ops);
            return fail(err, "block 0x%" PRIx64 ": op %zu: unknown memory "
                        "type %d", pc, i, o->memtype);
        }
        /* Only the fields of the op's shape are kept (the canonical form
         * has zeros elsewhere); the printer writes exactly those. */
        x->op = (uint8_t)o->op;
        x->d = o->d;
        x->a = o->a;
        x->b = o->b;
        x->c = o->c;
        x->mt = mem ? (uint8_t)o->memtype : 0;
        x->imm = o->imm;
    }
    b.term.kind = (uint8_t)term->kind;
    b.term.reg = term->reg;
    b.term.has_resume = term->has_resume ? 1 : 0;
    b.term.imm = term->imm;
    b.term.target = term->target;
    b.term.other = term->other;
    ir_print_block(&b, &p->blocks);
    free(b.ops);
    if (!p->has_entry) {
        /* .vir's default entry is the first block in the file: keep it
         * explicit, since the printed blocks need not stay in that order. */
        p->entry = pc;
        p->has_entry = 2;
    }
    return p->blocks.oom ? fail(err, "<program>: out of memory") : 0;
}

const char *bld_program_text(const aotb_program *cp, size_t *len)
{
    aotb_program *p = (aotb_program *)cp;   /* the cache is not state */
    p->all.len = 0;
    if (p->has_entry)
        buf_printf(&p->all, "entry 0x%" PRIx64 "\n", p->entry);
    if (p->has_memory)
        buf_printf(&p->all, "memory 0x%" PRIx64 "\n", p->memsize);
    buf_append(&p->all, p->head.data, p->head.len);
    buf_append(&p->all, p->blocks.data, p->blocks.len);
    buf_put8(&p->all, '\0');
    if (p->all.oom)
        return NULL;
    *len = p->all.len - 1;
    return (const char *)p->all.data;
}
