/* test_ir_hash.c: the canonical block encoding and the 128-bit block hash
 * (src/ir_hash.c).  The encoding is checked byte by byte against a layout
 * written out by hand; the hash against libxxhash called directly. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "changes.h"
#include "testutil.h"

static ir_hash hash_of_text(const char *text, uint64_t pc)
{
    ir_program p;
    ir_hash h = {0, 0};
    if (tu_parse(text, &p) != 0)
        return h;
    const ir_block *b = ir_program_find(&p, pc);
    CU_ASSERT_PTR_NOT_NULL(b);
    if (b)
        h = ir_hash_block(b);
    ir_program_free(&p);
    return h;
}

/* ---- encoding ---- */

static void test_encoding_layout(void)
{
    const char *text =
        "block 0x1122334455667788 {\n"
        "  addi r1, r2, -2\n"
        "  load r3, [r4 + 5], s16\n"
        "  condjmp r7, 0x10, 0x0102030405060708\n"
        "}\n";
    static const uint8_t want[] = {
        1,                                               /* version */
        0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,  /* pc */
        2, 0, 0, 0,                                      /* op count */
        /* addi: opcode 15, d 1, a 2, b 0, c 0, mt 0, imm -2 */
        IR_ADDI, 1, 2, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        /* load: opcode 29, d 3, a 4, b 0, c 0, mt s16 (3), imm 5 */
        IR_LOAD, 3, 4, 0, 0, IR_S16, 5, 0, 0, 0, 0, 0, 0, 0,
        /* condjmp: kind 3, reg 7, has_resume 0, imm 0, target, other */
        IR_T_CONDJMP, 7, 0,
        0, 0, 0, 0, 0, 0, 0, 0,
        0x10, 0, 0, 0, 0, 0, 0, 0,
        8, 7, 6, 5, 4, 3, 2, 1,
    };
    /* the enum values are part of the format */
    CU_ASSERT_EQUAL(IR_ADDI, 15);
    CU_ASSERT_EQUAL(IR_LOAD, 29);
    CU_ASSERT_EQUAL(IR_S16, 3);
    CU_ASSERT_EQUAL(IR_T_CONDJMP, 3);
    ir_program p;
    if (tu_parse(text, &p) != 0)
        return;
    buf b = {0};
    buf_put8(&b, 0xaa);   /* ir_encode_block appends */
    ir_encode_block(&p.blocks[0], &b);
    CU_ASSERT_EQUAL(b.len, 1 + sizeof want);
    CU_ASSERT_EQUAL(b.data[0], 0xaa);
    if (b.len == 1 + sizeof want)
        CU_ASSERT(memcmp(b.data + 1, want, sizeof want) == 0);

    ir_hash h = ir_hash_block(&p.blocks[0]);
    XXH128_hash_t x = XXH3_128bits(want, sizeof want);
    CU_ASSERT_EQUAL(h.hi, x.high64);
    CU_ASSERT_EQUAL(h.lo, x.low64);
    buf_free(&b);
    ir_program_free(&p);
}

static void test_interrupt_encoding(void)
{
    ir_program p;
    if (tu_parse("block 0 {\n interrupt 9, 0x44\n}\n", &p) != 0)
        return;
    buf b = {0};
    ir_encode_block(&p.blocks[0], &b);
    static const uint8_t want[] = {
        1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        IR_T_INTERRUPT, 0, 1,
        9, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0,
        0x44, 0, 0, 0, 0, 0, 0, 0,
    };
    CU_ASSERT_EQUAL(b.len, sizeof want);
    if (b.len == sizeof want)
        CU_ASSERT(memcmp(b.data, want, sizeof want) == 0);
    buf_free(&b);
    ir_program_free(&p);
}

/* A block too big for the stack buffer is hashed in a stream: same value
 * as one-shot XXH3 over the whole encoding. */
static void test_big_block(void)
{
    buf t = {0};
    buf_printf(&t, "block 0x40 {\n");
    for (int i = 0; i < 5000; i++)
        buf_printf(&t, " muli r%d, r%d, %d\n", i % 256, (i * 7) % 256, i * 3);
    buf_printf(&t, " jmp 0x40\n}\n");
    buf_put8(&t, 0);
    ir_program p;
    if (tu_parse((const char *)t.data, &p) == 0) {
        buf e = {0};
        ir_encode_block(&p.blocks[0], &e);
        CU_ASSERT_EQUAL(e.len, 13 + 5000 * 14 + 27);
        XXH128_hash_t x = XXH3_128bits(e.data, e.len);
        ir_hash h = ir_hash_block(&p.blocks[0]);
        CU_ASSERT_EQUAL(h.hi, x.high64);
        CU_ASSERT_EQUAL(h.lo, x.low64);
        buf_free(&e);
        ir_program_free(&p);
    }
    buf_free(&t);
}

static void test_hex(void)
{
    ir_hash h = {UINT64_C(0x0123456789abcdef), UINT64_C(0xfedcba9876543210)};
    char s[33];
    ir_hash_hex(h, s);
    CU_ASSERT_STRING_EQUAL(s, "0123456789abcdeffedcba9876543210");
    ir_hash z = {0, 1};
    ir_hash_hex(z, s);
    CU_ASSERT_STRING_EQUAL(s, "00000000000000000000000000000001");

    ir_hash g;
    CU_ASSERT_EQUAL(ir_hash_parse("0123456789abcdeffedcba9876543210", &g), 0);
    CU_ASSERT(ir_hash_eq(g, h));
    CU_ASSERT_EQUAL(ir_hash_parse("0123456789ABCDEFFEDCBA9876543210", &g), 0);
    CU_ASSERT(ir_hash_eq(g, h));
    CU_ASSERT_EQUAL(ir_hash_parse("0123456789abcdeffedcba987654321", &g), -1);
    CU_ASSERT_EQUAL(ir_hash_parse("0123456789abcdeffedcba98765432100", &g), -1);
    CU_ASSERT_EQUAL(ir_hash_parse("0123456789abcdeffedcba987654321g", &g), -1);
    CU_ASSERT_EQUAL(ir_hash_parse(" 123456789abcdeffedcba9876543210", &g), -1);
    CU_ASSERT_EQUAL(ir_hash_parse("", &g), -1);
    CU_ASSERT(!ir_hash_eq((ir_hash){1, 2}, (ir_hash){1, 3}));
    CU_ASSERT(!ir_hash_eq((ir_hash){1, 2}, (ir_hash){0, 2}));
}

/* ---- sensitivity: every field of every op and of the terminator ---- */

/* One op of every opcode, every field used set to a value that can still
 * be changed both ways. */
static const char *const all_ops_text =
    "block 0x1000 {\n"
    "  nop\n"
    "  add r1, r2, r3\n  sub r1, r2, r3\n  mul r1, r2, r3\n"
    "  and r1, r2, r3\n  or r1, r2, r3\n  xor r1, r2, r3\n"
    "  divs r1, r2, r3\n  divu r1, r2, r3\n  rems r1, r2, r3\n"
    "  remu r1, r2, r3\n  not r4, r5\n  sll r1, r2, r3\n"
    "  srl r1, r2, r3\n  sra r1, r2, r3\n  addi r6, r7, 100\n"
    "  muli r6, r7, -100\n  mov r8, r9\n  movi r10, 12345\n"
    "  slli r11, r12, 5\n  srli r11, r12, 5\n  srai r11, r12, 5\n"
    "  cmpeq r1, r2, r3\n  cmpne r1, r2, r3\n  cmplt r1, r2, r3\n"
    "  cmpltu r1, r2, r3\n  cmpge r1, r2, r3\n  cmpgeu r1, r2, r3\n"
    "  select r13, r14, r15, r16\n"
    "  load r17, [r18 + 8], u16\n"
    "  store [r19 - 8], r20, s32\n"
    "  ret\n"
    "}\n";

static int used_fields(unsigned shape, const char *f)
{
    /* which of d a b c mt imm the shape uses */
    static const char *const use[] = {
        [IR_SHAPE_NONE] = "", [IR_SHAPE_DAB] = "dab", [IR_SHAPE_DA] = "da",
        [IR_SHAPE_DAI] = "dai", [IR_SHAPE_DI] = "di", [IR_SHAPE_DAS] = "dai",
        [IR_SHAPE_DCAB] = "dcab", [IR_SHAPE_LOAD] = "dami",
        [IR_SHAPE_STORE] = "bami"};
    return strchr(use[shape], f[0]) != NULL;
}

typedef struct hash_list {
    ir_hash *v;
    size_t n, cap;
} hash_list;

static void hl_add(hash_list *l, ir_hash h)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 256;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = h;
}

static int cmp_hash(const void *x, const void *y)
{
    const ir_hash *a = x, *b = y;
    if (a->hi != b->hi)
        return a->hi < b->hi ? -1 : 1;
    return a->lo < b->lo ? -1 : a->lo > b->lo;
}

/* All hashes in the list must be different (each is a different block). */
static void hl_check_distinct(hash_list *l)
{
    qsort(l->v, l->n, sizeof *l->v, cmp_hash);
    size_t dups = 0;
    for (size_t i = 1; i < l->n; i++)
        dups += ir_hash_eq(l->v[i - 1], l->v[i]);
    CU_ASSERT_EQUAL(dups, 0);
    free(l->v);
}

static void test_every_op_field(void)
{
    ir_program p;
    if (tu_parse(all_ops_text, &p) != 0)
        return;
    ir_block *b = &p.blocks[0];
    CU_ASSERT_EQUAL_FATAL(b->nops, IR_NUM_OPS);
    hash_list seen = {0};
    const ir_hash base = ir_hash_block(b);
    hl_add(&seen, base);
    size_t mutations = 0;
    for (uint32_t i = 0; i < b->nops; i++) {
        ir_op *o = &b->ops[i];
        const ir_op saved = *o;
        unsigned shape = ir_op_shapes[o->op];
        /* the opcode: every other opcode */
        for (unsigned op = 0; op < IR_NUM_OPS; op++) {
            if (op == saved.op)
                continue;
            o->op = (uint8_t)op;
            ir_hash h = ir_hash_block(b);
            CU_ASSERT(!ir_hash_eq(h, base));
            if (ir_op_shapes[op] == shape)   /* a real, valid edit */
                hl_add(&seen, h);
            mutations++;
            *o = saved;
        }
        /* each register field the shape uses, to a few other registers */
        static const uint8_t regs[] = {0, 1, 100, 255};
        for (int f = 0; f < 4; f++) {
            static const char *const name[] = {"d", "a", "b", "c"};
            uint8_t *field = f == 0 ? &o->d : f == 1 ? &o->a : f == 2 ? &o->b : &o->c;
            if (!used_fields(shape, name[f]))
                continue;
            for (size_t k = 0; k < sizeof regs; k++) {
                if (regs[k] == *field)
                    continue;
                *field = regs[k];
                ir_hash h = ir_hash_block(b);
                CU_ASSERT(!ir_hash_eq(h, base));
                hl_add(&seen, h);
                mutations++;
                *o = saved;
            }
        }
        /* the memory type */
        if (used_fields(shape, "m")) {
            for (unsigned mt = 0; mt < IR_NUM_MEMTYPES; mt++) {
                if (mt == saved.mt)
                    continue;
                o->mt = (uint8_t)mt;
                ir_hash h = ir_hash_block(b);
                CU_ASSERT(!ir_hash_eq(h, base));
                hl_add(&seen, h);
                mutations++;
                *o = saved;
            }
        }
        /* the immediate: every single-bit flip (shifts: only valid ones) */
        if (used_fields(shape, "i")) {
            for (int bit = 0; bit < 64; bit++) {
                uint64_t v = saved.imm ^ (UINT64_C(1) << bit);
                if (shape == IR_SHAPE_DAS && v > 63)
                    continue;
                o->imm = v;
                ir_hash h = ir_hash_block(b);
                CU_ASSERT(!ir_hash_eq(h, base));
                hl_add(&seen, h);
                mutations++;
                *o = saved;
            }
        }
    }
    /* the pc, every bit */
    for (int bit = 0; bit < 64; bit++) {
        b->pc ^= UINT64_C(1) << bit;
        ir_hash h = ir_hash_block(b);
        CU_ASSERT(!ir_hash_eq(h, base));
        hl_add(&seen, h);
        b->pc ^= UINT64_C(1) << bit;
    }
    /* the op list: drop the last op, swap two ops, append a nop */
    b->nops--;
    hl_add(&seen, ir_hash_block(b));
    b->nops++;
    ir_op t = b->ops[1];
    b->ops[1] = b->ops[2];
    b->ops[2] = t;
    hl_add(&seen, ir_hash_block(b));
    b->ops[2] = b->ops[1];
    b->ops[1] = t;
    CU_ASSERT(ir_hash_eq(ir_hash_block(b), base));   /* restored */
    CU_ASSERT(mutations > 1000);
    hl_check_distinct(&seen);
    ir_program_free(&p);
}

static void test_every_terminator_field(void)
{
    static const char *const terms[] = {
        "ret", "jmp 0x2000", "jmpreg r5, 16", "condjmp r6, 0x10, 0x20",
        "call 0x400, 0x1004", "fault 7", "interrupt 3", "interrupt 3, 0x80"};
    static const char *const uses[] = {"", "t", "ri", "rto", "to", "i", "i", "iho"};
    hash_list seen = {0};
    for (size_t k = 0; k < sizeof terms / sizeof terms[0]; k++) {
        char text[128];
        snprintf(text, sizeof text, "block 0x1000 {\n movi r1, 2\n %s\n}\n", terms[k]);
        ir_program p;
        if (tu_parse(text, &p) != 0)
            continue;
        ir_block *b = &p.blocks[0];
        const ir_term saved = b->term;
        const ir_hash base = ir_hash_block(b);
        hl_add(&seen, base);
        /* the kind */
        for (uint8_t kind = IR_T_RET; kind <= IR_T_INTERRUPT; kind++) {
            if (kind == saved.kind)
                continue;
            b->term.kind = kind;
            CU_ASSERT(!ir_hash_eq(ir_hash_block(b), base));
            b->term = saved;
        }
        const char *u = uses[k];
        if (strchr(u, 'r'))
            for (int v = 0; v < 256; v += 51) {
                if (v == saved.reg)
                    continue;
                b->term.reg = (uint8_t)v;
                ir_hash h = ir_hash_block(b);
                CU_ASSERT(!ir_hash_eq(h, base));
                hl_add(&seen, h);
                b->term = saved;
            }
        if (strchr(u, 'h')) {
            b->term.has_resume = 0;
            b->term.other = 0;
            ir_hash h = ir_hash_block(b);
            CU_ASSERT(!ir_hash_eq(h, base));
            b->term = saved;
        }
        uint64_t *fields[] = {&b->term.imm, &b->term.target, &b->term.other};
        const char fch[] = {'i', 't', 'o'};
        for (int f = 0; f < 3; f++) {
            if (!strchr(u, fch[f]))
                continue;
            for (int bit = 0; bit < 64; bit++) {
                *fields[f] ^= UINT64_C(1) << bit;
                ir_hash h = ir_hash_block(b);
                CU_ASSERT(!ir_hash_eq(h, base));
                hl_add(&seen, h);
                b->term = saved;
            }
        }
        CU_ASSERT(ir_hash_eq(ir_hash_block(b), base));
        ir_program_free(&p);
    }
    hl_check_distinct(&seen);
}

/* Text-level: every operand token of every line, edited in the source,
 * changes that block's hash (parser and hash together). */
static void test_text_edits(void)
{
    const ir_hash base = hash_of_text(all_ops_text, 0x1000);
    const char *text = all_ops_text;
    size_t len = strlen(text);
    size_t edits = 0;
    for (size_t i = 0; i < len; i++) {
        /* a token starts here if the previous char is not a word char */
        if (i > 0 && (text[i - 1] == '_' || (text[i - 1] >= '0' && text[i - 1] <= '9') ||
                      (text[i - 1] >= 'a' && text[i - 1] <= 'z')))
            continue;
        const char *line_start = text + i;
        while (line_start > text && line_start[-1] != '\n')
            line_start--;
        if (strncmp(line_start, "block", 5) == 0 || text[i] == '\n')
            continue;
        char repl[32] = "";
        size_t tlen = 0;
        if (text[i] == 'r' && text[i + 1] >= '0' && text[i + 1] <= '9') {
            unsigned v = (unsigned)strtoul(text + i + 1, NULL, 10);
            tlen = 1 + strspn(text + i + 1, "0123456789");
            snprintf(repl, sizeof repl, "r%u", (v + 1) % 256);
        } else if ((text[i] >= '0' && text[i] <= '9') ||
                   (text[i] == '-' && text[i + 1] >= '0' && text[i + 1] <= '9')) {
            long long v = strtoll(text + i, NULL, 10);
            tlen = strspn(text + i, "-0123456789");
            snprintf(repl, sizeof repl, "%lld", v ^ 1);
        } else if (strncmp(text + i, "u16", 3) == 0) {
            tlen = 3;
            strcpy(repl, "s16");
        } else if (strncmp(text + i, "s32", 3) == 0) {
            tlen = 3;
            strcpy(repl, "u64");
        } else {
            continue;
        }
        buf t = {0};
        buf_append(&t, text, i);
        buf_append(&t, repl, strlen(repl));
        buf_append(&t, text + i + tlen, len - i - tlen);
        buf_put8(&t, 0);
        ir_hash h = hash_of_text((const char *)t.data, 0x1000);
        if (ir_hash_eq(h, base))
            fprintf(stderr, "\nedit at offset %zu ('%s') kept the hash\n", i, repl);
        CU_ASSERT(!ir_hash_eq(h, base));
        buf_free(&t);
        edits++;
    }
    /* 10 + 18 DAB ops * 3 regs + ... : at least one edit per operand */
    CU_ASSERT(edits >= 80);
}

/* ---- invariance ---- */

static void test_invariance(void)
{
    const char *a =
        "block 0x10 {\n"
        "    movi r1, 16\n"
        "    addi r2, r1, -8\n"
        "    load r3, [r1 + 0], s64\n"
        "    load r3, [r1 - 8], u8\n"
        "    store [r1], r3, s16\n"
        "    movi r4, -1\n"
        "    br r1, 0x20, 0x10\n"
        "}\n"
        "block 0x20 {\n"
        "    fault 3\n"
        "}\n";
    /* comments, blank lines, spacing, number spellings, aliases, order */
    const char *b =
        "; a different layout of the same program\n"
        "block 32 { ; the fault block first\n"
        "fault 0x3\n"
        "}\n"
        "\n"
        "block 0x1_0 {\r\n"
        "\tmovi   r1 ,0x10 ; sixteen\n"
        "  addi r2,r1,-0x8\n"
        "  load r3,[ r1 ],u64\n"
        "  load r3 , [r1 + 0xfffffffffffffff8] , u8\n"
        "  store [r1 + 0], r3, u16\n"
        "  movi r4, 0xffff_ffff_ffff_ffff\n"
        "  condjmp r1, 32, 1_6\n"
        "}\n";
    CU_ASSERT(ir_hash_eq(hash_of_text(a, 0x10), hash_of_text(b, 0x10)));
    CU_ASSERT(ir_hash_eq(hash_of_text(a, 0x20), hash_of_text(b, 0x20)));
    CU_ASSERT(!ir_hash_eq(hash_of_text(a, 0x10), hash_of_text(a, 0x20)));
    /* the same ops at another pc hash differently */
    CU_ASSERT(!ir_hash_eq(hash_of_text("block 1 {\n ret\n}\n", 1),
                          hash_of_text("block 2 {\n ret\n}\n", 2)));
    /* the block's position in the file and its neighbours do not matter */
    CU_ASSERT(ir_hash_eq(hash_of_text("block 1 {\n ret\n}\n", 1),
                         hash_of_text("entry 5\nmemory 64\ndata 0 u8 1\n"
                                      "block 9 {\n ret\n}\nblock 1 {\n ret\n}\n", 1)));
}

/* changes_classify takes sorted lists as they are and sorts the others;
 * a duplicate pc is refused either way. */
static void test_classify(void)
{
    block_hash o[] = {{0x10, {1, 1}}, {0x20, {2, 2}}, {0x30, {3, 3}}};
    block_hash n[] = {{0x40, {4, 4}}, {0x10, {1, 1}}, {0x30, {3, 9}}};
    change_set c;
    aotb_diag d = {0};
    for (int round = 0; round < 2; round++) {
        CU_ASSERT_EQUAL_FATAL(changes_classify(o, 3, n, 3, &c, &d), 0);
        CU_ASSERT_EQUAL(c.n, 4);
        static const uint64_t pcs[] = {0x10, 0x20, 0x30, 0x40};
        static const change_kind k[] = {CHANGE_UNCHANGED, CHANGE_REMOVED,
                                        CHANGE_MODIFIED, CHANGE_ADDED};
        for (size_t i = 0; i < 4 && i < c.n; i++) {
            CU_ASSERT_EQUAL(c.items[i].pc, pcs[i]);
            CU_ASSERT_EQUAL(c.items[i].kind, k[i]);
        }
        CU_ASSERT_EQUAL(c.stats.unchanged + c.stats.removed +
                            c.stats.modified + c.stats.added, 4);
        changes_free(&c);
        /* the same, new side sorted */
        block_hash t = n[0];
        n[0] = n[1];
        n[1] = n[2];
        n[2] = t;
    }
    CU_ASSERT_EQUAL(changes_classify(NULL, 0, NULL, 0, &c, &d), 0);
    CU_ASSERT_EQUAL(c.n, 0);
    changes_free(&c);
    n[0].pc = 0x10;                 /* in order, but the same pc twice */
    n[1].pc = 0x10;
    n[2].pc = 0x30;
    CU_ASSERT_EQUAL(changes_classify(o, 3, n, 3, &c, &d), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(diag_text(&d), "new program has two "
                                                 "blocks at pc 0x10"));
    diag_clear(&d);
    o[1].pc = 0x10;
    CU_ASSERT_EQUAL(changes_classify(o, 3, NULL, 0, &c, &d), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(diag_text(&d), "old program has two "
                                                 "blocks at pc 0x10"));
    diag_free(&d);
}

static CU_TestInfo tests[] = {
    {"encoding layout", test_encoding_layout},
    {"interrupt encoding", test_interrupt_encoding},
    {"big block", test_big_block},
    {"hex", test_hex},
    {"every op field changes the hash", test_every_op_field},
    {"every terminator field changes the hash", test_every_terminator_field},
    {"every operand edited in the text", test_text_edits},
    {"invariance", test_invariance},
    {"change classification", test_classify},
    CU_TEST_INFO_NULL};

static CU_SuiteInfo suites[] = {
    {"ir_hash", NULL, NULL, NULL, NULL, tests}, CU_SUITE_INFO_NULL};

int main(void)
{
    return tu_run(suites);
}
