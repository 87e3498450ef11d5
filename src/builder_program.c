/* builder_program.c: programs assembled in memory (aotb_program_*).  Each
 * block is checked for what could not be printed (opcode, memory type,
 * terminator kind), built as an ir_block and printed in canonical .vir
 * form; the builder then parses the text, so an in-memory program gets
 * exactly the checks, the hashes and the messages of a .vir file; the
 * messages' line numbers of that text, which the caller never sees, are
 * turned into block pcs and op indexes (bld_program_locate). */
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

/* The statement on line `line` (1-based) of text: "block 0xPC, op N",
 * "block 0xPC, terminator", "data segment N" (ops and segments counted
 * from 0 in the order they were added, as in aotb_program_add_block's own
 * messages), "entry", "memory", or "" for a line that is not there. */
static void describe_line(const char *text, size_t len, unsigned long line,
                          char *out, size_t outsz)
{
    unsigned long n = 1, data = 0, in_block = 0, op = 0;
    uint64_t pc = 0;
    size_t i = 0;
    out[0] = '\0';
    while (i < len) {
        const char *s = text + i;
        size_t e = i;
        while (e < len && text[e] != '\n')
            e++;
        size_t l = e - i;
        int is_block = l > 6 && memcmp(s, "block ", 6) == 0;
        int is_end = l >= 1 && s[0] == '}';
        if (is_block) {
            pc = strtoull(s + 6, NULL, 0);
            in_block = 1;
            op = 0;
        } else if (!in_block && l > 5 && memcmp(s, "data ", 5) == 0) {
            data++;
        }
        if (n == line) {
            if (is_block || is_end)
                snprintf(out, outsz, "block 0x%" PRIx64, pc);
            else if (in_block) {
                int term = e + 1 < len && text[e + 1] == '}';
                if (term)
                    snprintf(out, outsz, "block 0x%" PRIx64 ", terminator",
                             pc);
                else
                    snprintf(out, outsz, "block 0x%" PRIx64 ", op %lu", pc,
                             op);
            } else if (l > 5 && memcmp(s, "data ", 5) == 0)
                snprintf(out, outsz, "data segment %lu", data - 1);
            else if (l > 6 && memcmp(s, "entry ", 6) == 0)
                snprintf(out, outsz, "entry");
            else if (l > 7 && memcmp(s, "memory ", 7) == 0)
                snprintf(out, outsz, "memory");
            return;
        }
        if (in_block && !is_block) {
            if (is_end)
                in_block = 0;
            else
                op++;
        }
        n++;
        i = e + 1;
    }
}

/* Copies msg to out with the parser's references to other lines of the
 * hidden text replaced: "(first defined at line N)" is dropped (the message
 * names the pc), "set at line N" becomes "set by aotb_program_set_memory"
 * and "the data at line N" "data segment K". */
static void relocate_refs(const char *text, size_t len, const char *msg,
                          size_t mlen, char *out, size_t outsz)
{
    static const struct { const char *from, *to; } pats[] = {
        {" (first defined at line ", ""},
        {"set at line ", "set by aotb_program_set_memory"},
        {"the data at line ", NULL},
    };
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < mlen && o + 1 < outsz;) {
        size_t k, pl = 0;
        for (k = 0; k < sizeof pats / sizeof pats[0]; k++) {
            pl = strlen(pats[k].from);
            if (i + pl < mlen && memcmp(msg + i, pats[k].from, pl) == 0 &&
                msg[i + pl] >= '0' && msg[i + pl] <= '9')
                break;
        }
        if (k == sizeof pats / sizeof pats[0]) {
            out[o++] = msg[i++];
            out[o] = '\0';
            continue;
        }
        size_t j = i + pl;
        unsigned long line = 0;
        while (j < mlen && msg[j] >= '0' && msg[j] <= '9')
            line = line * 10 + (unsigned long)(msg[j++] - '0');
        char rep[128];
        if (pats[k].to) {
            snprintf(rep, sizeof rep, "%s", pats[k].to);
            if (pats[k].from[0] == ' ' && j < mlen && msg[j] == ')')
                j++;                       /* the dropped parenthesis */
        } else {
            describe_line(text, len, line, rep, sizeof rep);
        }
        int n = snprintf(out + o, outsz - o, "%s", rep);
        o = n < 0 ? o : o + (size_t)n >= outsz ? outsz - 1 : o + (size_t)n;
        i = j;
    }
}

void bld_program_locate(const char *name, const char *text, size_t len,
                        const aotb_diag *in, aotb_diag *out)
{
    const char *t = diag_text(in);
    size_t nl = strlen(name);
    while (*t) {
        const char *e = strchr(t, '\n');
        size_t l = e ? (size_t)(e - t) : strlen(t);
        char where[128];
        where[0] = '\0';
        const char *msg = t;
        size_t mlen = l;
        if (l > nl + 1 && memcmp(t, name, nl) == 0 && t[nl] == ':') {
            char *p;
            unsigned long line = strtoul(t + nl + 1, &p, 10);
            if (*p == ':') {
                strtoul(p + 1, &p, 10);
                static const char tag[] = ": error: ";
                if (strncmp(p, tag, sizeof tag - 1) == 0) {
                    describe_line(text, len, line, where, sizeof where);
                    msg = p + sizeof tag - 1;
                    mlen = l - (size_t)(msg - t);
                }
            }
        }
        char fixed[1024];
        relocate_refs(text, len, msg, mlen, fixed, sizeof fixed);
        if (where[0])
            diag_add(out, "%s: %s: error: %s", name, where, fixed);
        else
            diag_add(out, "%s", fixed);
        t += l;
        if (*t == '\n')
            t++;
    }
}
