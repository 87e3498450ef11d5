/* test_ir_parse.c: the .vir lexer and parser (src/ir_parse.c, src/ir.c).
 * Expected values are worked out by hand from the format description. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"

static const uint64_t TWO63 = UINT64_C(1) << 63;

/* Parses text that must fail; checks the first message's location and that
 * it contains the phrase; checks the program came back empty. */
static void check_error_n(const char *text, size_t len, unsigned line,
                          unsigned col, const char *phrase)
{
    ir_program p;
    aotb_diag d = {0};
    memset(&p, 0x5a, sizeof p);
    int rc = ir_parse("t.vir", text, len, &p, &d);
    CU_ASSERT_EQUAL(rc, -1);
    CU_ASSERT(d.count >= 1);
    CU_ASSERT_EQUAL(p.nblocks, 0);
    CU_ASSERT_PTR_NULL(p.blocks);
    CU_ASSERT_EQUAL(p.ndata, 0);
    CU_ASSERT_PTR_NULL(p.data);
    CU_ASSERT_PTR_NULL(p.by_pc);
    char want[64];
    snprintf(want, sizeof want, "t.vir:%u:%u: error: ", line, col);
    const char *t = diag_text(&d);
    const char *nl = strchr(t, '\n');
    size_t first = nl ? (size_t)(nl - t) : strlen(t);
    int ok_loc = strncmp(t, want, strlen(want)) == 0;
    char *msg = strndup(t, first);
    int ok_phrase = msg && strstr(msg, phrase) != NULL;
    if (!ok_loc || !ok_phrase)
        fprintf(stderr, "\ninput: %.60s\nwanted %s...%s\ngot: %s", text, want,
                phrase, t);
    CU_ASSERT(ok_loc);
    CU_ASSERT(ok_phrase);
    free(msg);
    diag_free(&d);
}

static void check_error(const char *text, unsigned line, unsigned col,
                        const char *phrase)
{
    check_error_n(text, strlen(text), line, col, phrase);
}

/* Wraps one statement in a block: the statement is on line 2 and starts at
 * column 5. */
static void check_op_error(const char *op, unsigned col, const char *phrase)
{
    char text[256];
    snprintf(text, sizeof text, "block 0 {\n    %s\n    ret\n}\n", op);
    check_error(text, 2, col, phrase);
}

static int parse_ok(const char *text, ir_program *p)
{
    return tu_parse(text, p);
}

/* ---- lexical rules ---- */

static void test_numbers(void)
{
    static const struct {
        const char *spelling;
        uint64_t value;
    } cases[] = {
        {"42", 42}, {"0", 0}, {"-5", (uint64_t)-5}, {"0x2a", 42},
        {"0x2A", 42}, {"-0x10", (uint64_t)-16}, {"0x1000_0000", 0x10000000},
        {"1_000_000", 1000000}, {"18446744073709551615", UINT64_MAX},
        {"0xffff_ffff_ffff_ffff", UINT64_MAX},
        {"-9223372036854775808", TWO63}, {"-0", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[128];
        ir_program p;
        snprintf(text, sizeof text, "block 0 {\n movi r1, %s\n ret\n}\n",
                 cases[i].spelling);
        if (parse_ok(text, &p) == 0) {
            CU_ASSERT_EQUAL(p.blocks[0].ops[0].imm, cases[i].value);
            ir_program_free(&p);
        }
    }
}

static void test_comments_and_layout(void)
{
    const char *text =
        "; a comment line\n"
        "\n"
        "   \t ; indented comment\n"
        "block 0x10 { ; comment after the brace\r\n"
        "\tadd r1,r2,r3;no space before the comment\r\n"
        "        \r\n"
        "  ret   \n"
        "}   ; done\n"
        "data 0 \"a;b\" ; a ';' inside a string is not a comment\n";
    ir_program p;
    if (parse_ok(text, &p) != 0)
        return;
    CU_ASSERT_EQUAL(p.nblocks, 1);
    CU_ASSERT_EQUAL(p.blocks[0].pc, 0x10);
    CU_ASSERT_EQUAL(p.blocks[0].nops, 1);
    CU_ASSERT_EQUAL(p.blocks[0].ops[0].op, IR_ADD);
    CU_ASSERT_EQUAL(p.blocks[0].ops[0].line, 5);
    CU_ASSERT_EQUAL(p.blocks[0].ops[0].col, 2);
    CU_ASSERT_EQUAL(p.blocks[0].term.line, 7);
    CU_ASSERT_EQUAL(p.blocks[0].term.col, 3);
    CU_ASSERT_EQUAL(p.blocks[0].line, 4);
    CU_ASSERT_EQUAL(p.ndata, 1);
    CU_ASSERT_EQUAL(p.data[0].len, 3);
    CU_ASSERT(memcmp(p.data[0].bytes, "a;b", 3) == 0);
    CU_ASSERT_EQUAL(p.data[0].line, 9);
    ir_program_free(&p);
}

static void test_no_final_newline(void)
{
    ir_program p;
    if (parse_ok("block 1 {\nret\n}", &p) == 0) {
        CU_ASSERT_EQUAL(p.nblocks, 1);
        ir_program_free(&p);
    }
}

static void test_registers(void)
{
    ir_program p;
    if (parse_ok("block 0 {\n mov r0, r255\n select r9, r10, r100, r199\n ret\n}\n",
                 &p) != 0)
        return;
    const ir_op *o = p.blocks[0].ops;
    CU_ASSERT_EQUAL(o[0].d, 0);
    CU_ASSERT_EQUAL(o[0].a, 255);
    CU_ASSERT_EQUAL(o[1].d, 9);
    CU_ASSERT_EQUAL(o[1].c, 10);
    CU_ASSERT_EQUAL(o[1].a, 100);
    CU_ASSERT_EQUAL(o[1].b, 199);
    ir_program_free(&p);
}

/* ---- ops and terminators ---- */

static void test_every_op(void)
{
    /* One line per op in enum order, with operands chosen so that each
     * field is distinct. */
    const char *text =
        "block 0x100 {\n"
        "  nop\n"
        "  add r1, r2, r3\n"
        "  sub r4, r5, r6\n"
        "  mul r7, r8, r9\n"
        "  and r10, r11, r12\n"
        "  or r13, r14, r15\n"
        "  xor r16, r17, r18\n"
        "  divs r19, r20, r21\n"
        "  divu r22, r23, r24\n"
        "  rems r25, r26, r27\n"
        "  remu r28, r29, r30\n"
        "  not r31, r32\n"
        "  sll r33, r34, r35\n"
        "  srl r36, r37, r38\n"
        "  sra r39, r40, r41\n"
        "  addi r42, r43, -44\n"
        "  muli r45, r46, 47\n"
        "  mov r48, r49\n"
        "  movi r50, -51\n"
        "  slli r52, r53, 1\n"
        "  srli r54, r55, 62\n"
        "  srai r56, r57, 63\n"
        "  cmpeq r58, r59, r60\n"
        "  cmpne r61, r62, r63\n"
        "  cmplt r64, r65, r66\n"
        "  cmpltu r67, r68, r69\n"
        "  cmpge r70, r71, r72\n"
        "  cmpgeu r73, r74, r75\n"
        "  select r76, r77, r78, r79\n"
        "  load r80, [r81 + 82], s16\n"
        "  store [r83 - 84], r85, u32\n"
        "  ret\n"
        "}\n";
    ir_program p;
    if (parse_ok(text, &p) != 0)
        return;
    const ir_block *b = &p.blocks[0];
    CU_ASSERT_EQUAL_FATAL(b->nops, IR_NUM_OPS);
    for (unsigned i = 0; i < IR_NUM_OPS; i++) {
        CU_ASSERT_EQUAL(b->ops[i].op, i);
        CU_ASSERT_EQUAL(b->ops[i].line, i + 2);
        CU_ASSERT_EQUAL(b->ops[i].col, 3);
    }
    const ir_op *o = b->ops;
    /* nop: all zero */
    CU_ASSERT(o[0].d == 0 && o[0].a == 0 && o[0].b == 0 && o[0].c == 0 &&
              o[0].mt == 0 && o[0].imm == 0);
    /* DAB ops: d a b, rest zero */
    static const unsigned dab[] = {IR_ADD, IR_SUB, IR_MUL, IR_AND, IR_OR, IR_XOR,
                                   IR_DIVS, IR_DIVU, IR_REMS, IR_REMU};
    for (size_t k = 0; k < sizeof dab / sizeof dab[0]; k++) {
        const ir_op *x = &o[dab[k]];
        unsigned base = 1 + 3 * (unsigned)k;
        CU_ASSERT_EQUAL(x->d, base);
        CU_ASSERT_EQUAL(x->a, base + 1);
        CU_ASSERT_EQUAL(x->b, base + 2);
        CU_ASSERT(x->c == 0 && x->mt == 0 && x->imm == 0);
    }
    CU_ASSERT(o[IR_NOT].d == 31 && o[IR_NOT].a == 32 && o[IR_NOT].b == 0);
    CU_ASSERT(o[IR_SLL].d == 33 && o[IR_SLL].a == 34 && o[IR_SLL].b == 35);
    CU_ASSERT(o[IR_SRA].d == 39 && o[IR_SRA].a == 40 && o[IR_SRA].b == 41);
    CU_ASSERT(o[IR_ADDI].d == 42 && o[IR_ADDI].a == 43 && o[IR_ADDI].b == 0);
    CU_ASSERT_EQUAL(o[IR_ADDI].imm, (uint64_t)-44);
    CU_ASSERT(o[IR_MULI].d == 45 && o[IR_MULI].a == 46 && o[IR_MULI].imm == 47);
    CU_ASSERT(o[IR_MOV].d == 48 && o[IR_MOV].a == 49 && o[IR_MOV].imm == 0);
    CU_ASSERT(o[IR_MOVI].d == 50 && o[IR_MOVI].a == 0);
    CU_ASSERT_EQUAL(o[IR_MOVI].imm, (uint64_t)-51);
    CU_ASSERT(o[IR_SLLI].d == 52 && o[IR_SLLI].a == 53 && o[IR_SLLI].imm == 1);
    CU_ASSERT(o[IR_SRLI].d == 54 && o[IR_SRLI].a == 55 && o[IR_SRLI].imm == 62);
    CU_ASSERT(o[IR_SRAI].d == 56 && o[IR_SRAI].a == 57 && o[IR_SRAI].imm == 63);
    CU_ASSERT(o[IR_CMPEQ].d == 58 && o[IR_CMPEQ].a == 59 && o[IR_CMPEQ].b == 60);
    CU_ASSERT(o[IR_CMPGEU].d == 73 && o[IR_CMPGEU].a == 74 && o[IR_CMPGEU].b == 75);
    CU_ASSERT(o[IR_SELECT].d == 76 && o[IR_SELECT].c == 77 &&
              o[IR_SELECT].a == 78 && o[IR_SELECT].b == 79);
    CU_ASSERT(o[IR_LOAD].d == 80 && o[IR_LOAD].a == 81 && o[IR_LOAD].b == 0 &&
              o[IR_LOAD].imm == 82 && o[IR_LOAD].mt == IR_S16);
    CU_ASSERT(o[IR_STORE].d == 0 && o[IR_STORE].a == 83 && o[IR_STORE].b == 85 &&
              o[IR_STORE].imm == (uint64_t)-84 && o[IR_STORE].mt == IR_U32);
    CU_ASSERT_EQUAL(b->term.kind, IR_T_RET);
    CU_ASSERT_EQUAL(b->term.line, IR_NUM_OPS + 2);
    ir_program_free(&p);
}

static void test_terminators(void)
{
    static const struct {
        const char *text;
        ir_term want;
    } cases[] = {
        {"ret", {IR_T_RET, 0, 0, 0, 0, 0, 0, 0}},
        {"jmp 0x1234", {IR_T_JMP, 0, 0, 0, 0x1234, 0, 0, 0}},
        {"jmp 18446744073709551615", {IR_T_JMP, 0, 0, 0, UINT64_MAX, 0, 0, 0}},
        {"jmpreg r7, -8", {IR_T_JMPREG, 7, 0, (uint64_t)-8, 0, 0, 0, 0}},
        {"jmpreg r7, 0xffffffffffffffff", {IR_T_JMPREG, 7, 0, UINT64_MAX, 0, 0, 0, 0}},
        {"condjmp r3, 0x10, 0x20", {IR_T_CONDJMP, 3, 0, 0, 0x10, 0x20, 0, 0}},
        {"br r255, 1, 2", {IR_T_CONDJMP, 255, 0, 0, 1, 2, 0, 0}},
        {"call 0x400, 0x104", {IR_T_CALL, 0, 0, 0, 0x400, 0x104, 0, 0}},
        {"fault 0", {IR_T_FAULT, 0, 0, 0, 0, 0, 0, 0}},
        {"fault 18446744073709551615", {IR_T_FAULT, 0, 0, UINT64_MAX, 0, 0, 0, 0}},
        {"interrupt 3", {IR_T_INTERRUPT, 0, 0, 3, 0, 0, 0, 0}},
        {"interrupt 0x80, 0x2000", {IR_T_INTERRUPT, 0, 1, 0x80, 0, 0x2000, 0, 0}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[128];
        ir_program p;
        snprintf(text, sizeof text, "block 0 {\n  %s\n}\n", cases[i].text);
        if (parse_ok(text, &p) != 0)
            continue;
        const ir_term *t = &p.blocks[0].term, *w = &cases[i].want;
        CU_ASSERT_EQUAL(t->kind, w->kind);
        CU_ASSERT_EQUAL(t->reg, w->reg);
        CU_ASSERT_EQUAL(t->has_resume, w->has_resume);
        CU_ASSERT_EQUAL(t->imm, w->imm);
        CU_ASSERT_EQUAL(t->target, w->target);
        CU_ASSERT_EQUAL(t->other, w->other);
        CU_ASSERT_EQUAL(t->line, 2);
        CU_ASSERT_EQUAL(t->col, 3);
        CU_ASSERT_EQUAL(p.blocks[0].nops, 0);
        ir_program_free(&p);
    }
}

static void test_memory_operands(void)
{
    static const struct {
        const char *text;
        uint8_t a, mt;
        uint64_t imm;
    } cases[] = {
        {"load r1, [r2], u8", 2, IR_U8, 0},
        {"load r1, [ r2 ], s8", 2, IR_S8, 0},
        {"load r1, [r2+8], u16", 2, IR_U16, 8},
        {"load r1, [r2 + 0x10], s16", 2, IR_S16, 16},
        {"load r1, [r2 - 8], u32", 2, IR_U32, (uint64_t)-8},
        {"load r1, [r2-8], s32", 2, IR_S32, (uint64_t)-8},
        {"load r1, [r2 -8], u64", 2, IR_U64, (uint64_t)-8},
        {"load r1, [r2 + 0xffffffffffffffff], s64", 2, IR_U64, UINT64_MAX},
        {"load r1, [r2 - 0x8000000000000000], u8", 2, IR_U8, TWO63},
        {"store [r3], r1, u8", 3, IR_U8, 0},
        {"store [r3 + 1], r1, s8", 3, IR_U8, 1},
        {"store [r3], r1, s16", 3, IR_U16, 0},
        {"store [r3], r1, s32", 3, IR_U32, 0},
        {"store [r3], r1, s64", 3, IR_U64, 0},
        {"store [r3 - 1], r1, u64", 3, IR_U64, UINT64_MAX},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[128];
        ir_program p;
        snprintf(text, sizeof text, "block 0 {\n  %s\n  ret\n}\n", cases[i].text);
        if (parse_ok(text, &p) != 0)
            continue;
        const ir_op *o = &p.blocks[0].ops[0];
        CU_ASSERT_EQUAL(o->a, cases[i].a);
        CU_ASSERT_EQUAL(o->mt, cases[i].mt);
        CU_ASSERT_EQUAL(o->imm, cases[i].imm);
        CU_ASSERT_EQUAL(o->op == IR_LOAD ? o->d : o->b, 1);
        ir_program_free(&p);
    }
}

static void test_immediate_ranges_ok(void)
{
    ir_program p;
    const char *text =
        "block 0 {\n"
        "  addi r1, r1, 9223372036854775807\n"
        "  addi r1, r1, -9223372036854775808\n"
        "  muli r1, r1, -0x8000000000000000\n"
        "  movi r1, 18446744073709551615\n"
        "  movi r1, -9223372036854775808\n"
        "  slli r1, r1, 0\n"
        "  srai r1, r1, 63\n"
        "  ret\n}\n";
    if (parse_ok(text, &p) != 0)
        return;
    const ir_op *o = p.blocks[0].ops;
    CU_ASSERT_EQUAL(o[0].imm, TWO63 - 1);
    CU_ASSERT_EQUAL(o[1].imm, TWO63);
    CU_ASSERT_EQUAL(o[2].imm, TWO63);
    CU_ASSERT_EQUAL(o[3].imm, UINT64_MAX);
    CU_ASSERT_EQUAL(o[4].imm, TWO63);
    CU_ASSERT_EQUAL(o[5].imm, 0);
    CU_ASSERT_EQUAL(o[6].imm, 63);
    ir_program_free(&p);
}

/* ---- top level ---- */

static void test_data_forms(void)
{
    const char *text =
        "memory 0x1000\n"
        "data 0x0 \"A\\n\\t\\\\\\\"\\x7F\\0\\xff\xc3\xa9\"\n"
        "data 0x20 hex 01 2 ff A0 0b\n"
        "data 0x30 u8 1, 255, -1, -128, 0x7f\n"
        "data 0x40 u16 0x1234, -2, 65535, -32768\n"
        "data 0x50 u32 0xdeadbeef, -1\n"
        "data 0x60 u64 -2, 0x0102030405060708\n"
        "block 0 {\n ret\n}\n";
    static const uint8_t s[] = {'A', '\n', '\t', '\\', '"', 0x7f, 0, 0xff, 0xc3, 0xa9};
    static const uint8_t h[] = {0x01, 0x02, 0xff, 0xa0, 0x0b};
    static const uint8_t u8[] = {1, 255, 255, 128, 127};
    static const uint8_t u16[] = {0x34, 0x12, 0xfe, 0xff, 0xff, 0xff, 0x00, 0x80};
    static const uint8_t u32[] = {0xef, 0xbe, 0xad, 0xde, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t u64[] = {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                  8, 7, 6, 5, 4, 3, 2, 1};
    static const struct {
        uint64_t addr;
        const uint8_t *bytes;
        size_t len;
    } want[] = {{0, s, sizeof s}, {0x20, h, sizeof h}, {0x30, u8, sizeof u8},
                {0x40, u16, sizeof u16}, {0x50, u32, sizeof u32},
                {0x60, u64, sizeof u64}};
    ir_program p;
    if (parse_ok(text, &p) != 0)
        return;
    CU_ASSERT_EQUAL_FATAL(p.ndata, 6);
    for (size_t i = 0; i < 6; i++) {
        CU_ASSERT_EQUAL(p.data[i].addr, want[i].addr);
        CU_ASSERT_EQUAL(p.data[i].len, want[i].len);
        CU_ASSERT_EQUAL(p.data[i].line, i + 2);
        if (p.data[i].len == want[i].len)
            CU_ASSERT(memcmp(p.data[i].bytes, want[i].bytes, want[i].len) == 0);
    }
    CU_ASSERT(p.has_memory);
    CU_ASSERT_EQUAL(p.memsize, 0x1000);
    ir_program_free(&p);
}

static void test_data_edges(void)
{
    ir_program p;
    /* data may come before memory; data may end exactly at the end of
     * memory; adjacent (touching) ranges do not overlap */
    if (parse_ok("data 0xc u32 1\ndata 8 u32 2\nmemory 16\nblock 0 {\n ret\n}\n",
                 &p) != 0)
        return;
    CU_ASSERT_EQUAL(p.ndata, 2);
    CU_ASSERT_EQUAL(p.memsize, 16);
    ir_program_free(&p);
    if (parse_ok("memory 0x10000000000\nblock 0 {\n ret\n}\n", &p) == 0) {
        CU_ASSERT_EQUAL(p.memsize, UINT64_C(1) << 40);
        ir_program_free(&p);
    }
}

static void test_defaults_and_entry(void)
{
    ir_program p;
    uint64_t pc = 0;
    if (parse_ok("block 0x30 {\n ret\n}\nblock 0x10 {\n ret\n}\n", &p) != 0)
        return;
    CU_ASSERT(!p.has_entry);
    CU_ASSERT(!p.has_memory);
    CU_ASSERT_EQUAL(p.memsize, IR_DEFAULT_MEMORY);
    CU_ASSERT_EQUAL(p.memsize, 0x100000);
    CU_ASSERT(ir_program_entry(&p, &pc));
    CU_ASSERT_EQUAL(pc, 0x30);          /* the first block in the file */
    CU_ASSERT_EQUAL(p.entry, 0x30);
    CU_ASSERT_STRING_EQUAL(p.file, "test.vir");
    ir_program_free(&p);

    if (parse_ok("block 0x30 {\n ret\n}\nentry 0x99\n", &p) != 0)
        return;
    CU_ASSERT(p.has_entry);
    CU_ASSERT(ir_program_entry(&p, &pc));
    CU_ASSERT_EQUAL(pc, 0x99);          /* need not name a block */
    ir_program_free(&p);

    ir_program empty;
    memset(&empty, 0, sizeof empty);
    CU_ASSERT(!ir_program_entry(&empty, &pc));
}

static void test_index_and_find(void)
{
    /* blocks out of order; by_pc must list them in ascending pc order */
    const char *text =
        "block 0x500 {\n ret\n}\nblock 0x100 {\n ret\n}\n"
        "block 0xffffffffffffffff {\n ret\n}\nblock 0 {\n ret\n}\n"
        "block 0x300 {\n ret\n}\n";
    static const uint64_t sorted[] = {0, 0x100, 0x300, 0x500, UINT64_MAX};
    ir_program p;
    if (parse_ok(text, &p) != 0)
        return;
    CU_ASSERT_PTR_NOT_NULL_FATAL(p.by_pc);
    for (size_t i = 0; i < 5; i++) {
        CU_ASSERT_EQUAL(p.blocks[p.by_pc[i]].pc, sorted[i]);
        const ir_block *b = ir_program_find(&p, sorted[i]);
        CU_ASSERT_PTR_NOT_NULL(b);
        if (b)
            CU_ASSERT_EQUAL(b->pc, sorted[i]);
    }
    CU_ASSERT_PTR_NULL(ir_program_find(&p, 1));
    CU_ASSERT_PTR_NULL(ir_program_find(&p, 0x301));
    CU_ASSERT_PTR_NULL(ir_program_find(&p, UINT64_MAX - 1));
    /* rebuilding after an in-memory edit, and detecting duplicates */
    aotb_diag d = {0};
    p.blocks[0].pc = 0x100;
    CU_ASSERT_EQUAL(ir_program_index(&p, &d), -1);
    CU_ASSERT(strstr(diag_text(&d), "duplicate block 0x100") != NULL);
    diag_free(&d);
    p.blocks[0].pc = 0x200;
    CU_ASSERT_EQUAL(ir_program_index(&p, &d), 0);
    CU_ASSERT_EQUAL(d.count, 0);
    CU_ASSERT_PTR_NOT_NULL(ir_program_find(&p, 0x200));
    CU_ASSERT_PTR_NULL(ir_program_find(&p, 0x500));
    ir_program_free(&p);
}

static void test_tables(void)
{
    CU_ASSERT_STRING_EQUAL(ir_op_names[IR_NOP], "nop");
    CU_ASSERT_STRING_EQUAL(ir_op_names[IR_CMPGEU], "cmpgeu");
    CU_ASSERT_STRING_EQUAL(ir_op_names[IR_STORE], "store");
    CU_ASSERT_EQUAL(ir_op_shapes[IR_SELECT], IR_SHAPE_DCAB);
    CU_ASSERT_EQUAL(ir_op_shapes[IR_SRAI], IR_SHAPE_DAS);
    CU_ASSERT_EQUAL(ir_op_shapes[IR_MOVI], IR_SHAPE_DI);
    CU_ASSERT_STRING_EQUAL(ir_memtype_names[IR_S16], "s16");
    CU_ASSERT_EQUAL(ir_memtype_size(IR_U8), 1);
    CU_ASSERT_EQUAL(ir_memtype_size(IR_S8), 1);
    CU_ASSERT_EQUAL(ir_memtype_size(IR_S16), 2);
    CU_ASSERT_EQUAL(ir_memtype_size(IR_U32), 4);
    CU_ASSERT_EQUAL(ir_memtype_size(IR_S32), 4);
    CU_ASSERT_EQUAL(ir_memtype_size(IR_U64), 8);
}

/* ---- errors ---- */

static void test_errors_structure(void)
{
    check_error("", 1, 1, "program has no blocks");
    check_error("; nothing\n\ndata 0 u8 1\nentry 0\n", 1, 1, "program has no blocks");
    check_error("add r1, r2, r3\n", 1, 1, "'add' outside a block");
    check_error("ret\n", 1, 1, "'ret' outside a block");
    check_error("frob 1\n", 1, 1, "unknown statement 'frob'");
    check_error("BLOCK 0 {\n", 1, 1, "lower case");
    check_error("}\n", 1, 1, "'}' without an open block");
    check_error("block 0 {\n ret\n nop\n}\n", 3, 2, "after the terminator");
    check_error("block 0 {\n ret\n jmp 4\n}\n", 3, 2, "after the terminator");
    check_error("block 0 {\n nop\n}\n", 3, 1, "has no terminator");
    check_error("block 0 {\n}\n", 2, 1, "has no terminator");
    check_error("block 0 {\n ret\n", 1, 1, "not closed");
    check_error("  block 7 {", 1, 3, "not closed");
    check_error("block 0 {\nblock 4 {\n ret\n}\n", 2, 1, "'block' inside block 0x0");
    check_error("block 0 {\n ret\n}\nblock 0x0 {\n ret\n}\n", 4, 1,
                "duplicate block 0x0 (first defined at line 1)");
    check_error("block 0 {\n ret\n}\nblock 1 {\n ret\n}\n  block 00 {\n ret\n}\n",
                7, 3, "duplicate block 0x0 (first defined at line 1)");
    check_error("block 0\n", 1, 8, "expected '{'");
    check_error("block 0 { ret }\n", 1, 11, "expected end of line, got 'ret'");
    check_error("block 0 {\n ret\n} x\n", 3, 3, "expected end of line after '}'");
    check_error("block -1 {\n", 1, 7, "block address '-1' out of range (0 ... 2^64-1)");
    check_error("block 0 {\n ret\n data 0 u8 1\n}\n", 3, 2, "'data' inside block");
    check_error("entry 1\nentry 2\nblock 0 {\n ret\n}\n", 2, 1,
                "second 'entry' (the first is at line 1)");
    check_error("memory 16\n memory 16\nblock 0 {\n ret\n}\n", 2, 2,
                "second 'memory' (the first is at line 1)");
    check_error("entry 0x10 0x20\n", 1, 12, "expected end of line");
}

static void test_errors_operands(void)
{
    check_op_error("frob r1", 5, "unknown mnemonic 'frob'");
    check_op_error("ADD r1, r2, r3", 5, "lower case");
    check_op_error("add r1, r2", 15, "expected ','");
    check_op_error("add r1 r2, r3", 12, "expected ','");
    check_op_error("add r1, r2, r3, r4", 19, "expected end of line");
    check_op_error("mov r256, r1", 9, "register 'r256' out of range (r0 ... r255)");
    check_op_error("mov r01, r1", 9, "leading zeros");
    check_op_error("mov R1, r1", 9, "expected a register");
    check_op_error("mov r1, 5", 13, "expected a register");
    check_op_error("mov r-1, r2", 9, "expected a register");
    check_op_error("slli r1, r1, 64", 18, "shift amount '64' out of range (0 ... 63)");
    check_op_error("srai r1, r1, -1", 18, "(0 ... 63)");
    check_op_error("addi r1, r1, 0x8000000000000000", 18, "(-2^63 ... 2^63-1)");
    check_op_error("muli r1, r1, -9223372036854775809", 18, "(-2^63 ... 2^63-1)");
    check_op_error("movi r1, 18446744073709551616", 14, "out of range (-2^63 ... 2^64-1)");
    check_op_error("movi r1, -9223372036854775809", 14, "(-2^63 ... 2^64-1)");
    check_op_error("movi r1, 0x", 14, "malformed number '0x'");
    check_op_error("movi r1, 1__0", 14, "malformed number");
    check_op_error("movi r1, _1", 14, "expected immediate");
    check_op_error("movi r1, 12ab", 14, "malformed number '12ab'");
    check_op_error("movi r1, - 5", 14, "expected immediate (a number), got '-'");
    check_op_error("load r1, [r2], u128", 20, "expected a memory type");
    check_op_error("load r1, [r2], U8", 20, "expected a memory type");
    check_op_error("load r1, [r2 + -8], u8", 20, "offset '-8' out of range (0 ... 2^64-1)");
    check_op_error("load r1, [r2 - 0x8000000000000001], u8", 20, "(0 ... 2^63)");
    check_op_error("load r1, [r2, u8", 17, "expected '+', '-' or ']'");
    check_op_error("load r1, r2, u8", 14, "expected '['");
    check_op_error("store r1, [r2], u8", 11, "expected '['");
    check_op_error("store [r1], r2, u8 extra", 24, "expected end of line");
    /* terminators */
    check_error("block 0 {\n jmp -4\n}\n", 2, 6, "jump target '-4' out of range");
    check_error("block 0 {\n jmp r1\n}\n", 2, 6, "expected jump target");
    check_error("block 0 {\n condjmp r1, 0x10\n}\n", 2, 18, "expected ','");
    check_error("block 0 {\n interrupt 1, 2, 3\n}\n", 2, 16, "expected end of line, got ','");
    check_error("block 0 {\n fault -1\n}\n", 2, 8, "fault cause '-1' out of range");
    check_error("block 0 {\n call 0x10\n}\n", 2, 11, "expected ','");
    check_error("block 0 {\n jmpreg r1, 18446744073709551616\n}\n", 2, 13,
                "(-2^63 ... 2^64-1)");
    check_error("block 0 {\n ret 5\n}\n", 2, 6, "expected end of line, got '5'");
}

static void test_errors_data(void)
{
    check_error("memory 0\n", 1, 8, "memory size '0' out of range (1 ... 2^40)");
    check_error("memory 0x10000000001\n", 1, 8, "(1 ... 2^40)");
    check_error("memory 16\ndata 12 u32 1, 2\nblock 0 {\n ret\n}\n", 2, 1,
                "outside memory (0x10 bytes, set at line 1)");
    check_error("data 0x100000 u8 1\nblock 0 {\n ret\n}\n", 1, 1,
                "outside memory (0x100000 bytes, the default)");
    check_error("data 0xffffffffffffffff u16 1\nblock 0 {\n ret\n}\n", 1, 1,
                "outside memory");
    check_error("data 0 u32 1\n  data 3 u8 1\nblock 0 {\n ret\n}\n", 2, 3,
                "overlaps the data at line 1");
    /* the later statement is the one reported, even at a lower address */
    check_error("data 8 hex 01 02\ndata 0 u64 1, 2\nblock 0 {\n ret\n}\n", 2, 1,
                "overlaps the data at line 1");
    check_error("data 0 \"a\\qb\"\n", 1, 10, "unknown escape '\\q'");
    check_error("data 0 \"abc\n", 1, 8, "unterminated string");
    check_error("data 0 \"abc\\\"\n", 1, 8, "unterminated string");
    check_error("data 0 \"\\x4\"\n", 1, 9, "exactly two hex digits");
    check_error("data 0 \"a\tb\"\n", 1, 10, "unexpected character 0x09 in string");
    check_error("data 0 \"\"\n", 1, 1, "data statement has no bytes");
    check_error("data 0 hex\n", 1, 1, "data statement has no bytes");
    check_error("data 0 u8\n", 1, 1, "data statement has no bytes");
    check_error("data 0 u8 1,\n", 1, 13, "expected u8 value");
    check_error("data 0 u8 300\n", 1, 11, "u8 value '300' out of range (-128 ... 255)");
    check_error("data 0 u8 -129\n", 1, 11, "(-128 ... 255)");
    check_error("data 0 u16 65536\n", 1, 12, "(-32768 ... 65535)");
    check_error("data 0 u16 -32769\n", 1, 12, "(-32768 ... 65535)");
    check_error("data 0 u32 0x100000000\n", 1, 12, "(-2^31 ... 2^32-1)");
    check_error("data 0 u64 -0x8000000000000001\n", 1, 12, "(-2^63 ... 2^64-1)");
    check_error("data 0 hex 123\n", 1, 12, "malformed hex byte '123'");
    check_error("data 0 hex 0g\n", 1, 12, "malformed hex byte");
    check_error("data 0 hex 01, 02\n", 1, 14, "expected end of line, got ','");
    check_error("data 0 u24 1\n", 1, 8, "expected a string, 'hex', 'u8'");
    check_error("data -1 u8 1\n", 1, 6, "data address '-1' out of range");
}

static void test_errors_garbage(void)
{
    check_error_n("block 0 {\n\0\n ret\n}\n", 19, 2, 1, "unexpected character 0x00");
    check_error("\xff\xfe garbage\n", 1, 1, "unexpected character 0xff");
    check_error("block 0 {\n ret @\n}\n", 2, 6, "unexpected character '@'");
    check_error("block 0 {\n add r1, r2, \x01r3\n ret\n}\n", 2, 14,
                "unexpected character 0x01");
    check_error("block 0 {\n ret\n}\n\x7f\n", 4, 1, "unexpected character 0x7f");
    check_error("#include <x>\n", 1, 1, "unexpected character '#'");
    /* a UTF-8 letter outside a string or comment */
    check_error("block 0 {\n movi r1, 1\xc3\xa9\n ret\n}\n", 2, 12, "unexpected character 0xc3");
    /* UTF-8 and garbage inside a comment are fine */
    ir_program p;
    if (parse_ok("; caf\xc3\xa9 \x01\x7f\xff\nblock 0 {\n ret\n}\n", &p) == 0)
        ir_program_free(&p);
}

/* Every error is reported, one per line, up to 20, then "too many errors". */
static void test_error_recovery_and_limit(void)
{
    aotb_diag d = {0};
    ir_program p;
    const char *three = "block 0 {\n add r1\n frob\n movi r1, 0x\n ret\n}\n";
    CU_ASSERT_EQUAL(ir_parse("t.vir", three, strlen(three), &p, &d), -1);
    CU_ASSERT_EQUAL(d.count, 3);
    CU_ASSERT(strstr(diag_text(&d), "t.vir:2:") != NULL);
    CU_ASSERT(strstr(diag_text(&d), "t.vir:3:2: error: unknown mnemonic") != NULL);
    CU_ASSERT(strstr(diag_text(&d), "t.vir:4:11: error: malformed number") != NULL);
    diag_free(&d);

    buf many = {0};
    for (int i = 0; i < 50; i++)
        buf_printf(&many, "bogus %d\n", i);
    CU_ASSERT_EQUAL(ir_parse("t.vir", (const char *)many.data, many.len, &p, &d), -1);
    CU_ASSERT_EQUAL(d.count, 21);
    CU_ASSERT(strstr(diag_text(&d), "t.vir:20:1: error: unknown statement 'bogus'") != NULL);
    CU_ASSERT(strstr(diag_text(&d), "t.vir:21:1: error: too many errors") != NULL);
    CU_ASSERT(strstr(diag_text(&d), "t.vir:22:") == NULL);
    buf_free(&many);
    diag_free(&d);
}

/* Long lines and big inputs: linear time, short messages. */
static void test_huge_inputs(void)
{
    const size_t n = 10u << 20;
    char *text = malloc(n + 64);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    clock_t t0 = clock();

    /* a 10 MB comment line */
    text[0] = ';';
    memset(text + 1, 'x', n);
    strcpy(text + 1 + n, "\nblock 0 {\n ret\n}\n");
    ir_program p;
    if (parse_ok(text, &p) == 0)
        ir_program_free(&p);

    /* a 10 MB word: one error with a shortened quote */
    memset(text, 'a', n);
    strcpy(text + n, "\n");
    aotb_diag d = {0};
    CU_ASSERT_EQUAL(ir_parse("t.vir", text, strlen(text), &p, &d), -1);
    CU_ASSERT_EQUAL(d.count, 1);
    CU_ASSERT(strstr(diag_text(&d), "t.vir:1:1: error: unknown statement 'aaaa") != NULL);
    CU_ASSERT(d.len < 200);
    diag_free(&d);

    /* a 10 MB line of garbage bytes: one error */
    memset(text, 0x80, n);
    CU_ASSERT_EQUAL(ir_parse("t.vir", text, n, &p, &d), -1);
    CU_ASSERT_EQUAL(d.count, 1);
    diag_free(&d);

    /* a 10 MB number */
    memcpy(text, "block 0 {\n movi r1, ", 20);
    memset(text + 20, '9', n - 20);
    CU_ASSERT_EQUAL(ir_parse("t.vir", text, n, &p, &d), -1);
    CU_ASSERT(strstr(diag_text(&d), "t.vir:2:11: error: immediate '9999") != NULL);
    diag_free(&d);

    /* a data line with 2.5 million values */
    buf b = {0};
    buf_printf(&b, "memory 0x1000000\ndata 0 u8 7");
    for (int i = 0; i < 2500000; i++)
        buf_append(&b, ", 7", 3);
    buf_printf(&b, "\nblock 0 {\n ret\n}\n");
    CU_ASSERT_EQUAL(ir_parse("t.vir", (const char *)b.data, b.len, &p, &d), 0);
    CU_ASSERT_EQUAL(p.ndata, 1);
    if (p.ndata == 1) {
        CU_ASSERT_EQUAL(p.data[0].len, 2500001);
        CU_ASSERT_EQUAL(p.data[0].bytes[2500000], 7);
    }
    ir_program_free(&p);
    buf_free(&b);

    /* 10 MB of newlines and 1 MB of '}' lines */
    memset(text, '\n', n);
    CU_ASSERT_EQUAL(ir_parse("t.vir", text, n, &p, &d), -1);
    CU_ASSERT(strstr(diag_text(&d), "t.vir:1:1: error: program has no blocks") != NULL);
    diag_free(&d);

    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    CU_ASSERT(secs < 20.0);   /* generous: even sanitizer builds take ~1 s */
    free(text);
}

static void test_one_big_block(void)
{
    buf b = {0};
    buf_printf(&b, "block 0 {\n");
    for (int i = 0; i < 200000; i++)
        buf_printf(&b, " addi r%d, r%d, %d\n", i % 256, (i + 1) % 256, i);
    buf_printf(&b, " ret\n}\n");
    ir_program p;
    aotb_diag d = {0};
    CU_ASSERT_EQUAL_FATAL(ir_parse("t.vir", (const char *)b.data, b.len, &p, &d), 0);
    CU_ASSERT_EQUAL(p.blocks[0].nops, 200000);
    CU_ASSERT_EQUAL(p.blocks[0].ops[199999].imm, 199999);
    CU_ASSERT_EQUAL(p.blocks[0].ops[199999].d, 199999 % 256);
    ir_program_free(&p);
    buf_free(&b);
    diag_free(&d);
}

static void test_parse_file(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/prog.vir", tu_tmpdir());
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("block 0x10 {\n fault 1\n}\n", f);
    fclose(f);
    ir_program p;
    aotb_diag d = {0};
    CU_ASSERT_EQUAL(ir_parse_file(path, &p, &d), 0);
    CU_ASSERT_EQUAL(p.nblocks, 1);
    CU_ASSERT_STRING_EQUAL(p.file, path);
    ir_program_free(&p);
    snprintf(path, sizeof path, "%s/missing.vir", tu_tmpdir());
    CU_ASSERT_EQUAL(ir_parse_file(path, &p, &d), -1);
    CU_ASSERT(strstr(diag_text(&d), "missing.vir") != NULL);
    CU_ASSERT_EQUAL(p.nblocks, 0);
    diag_free(&d);
}

static CU_TestInfo tests[] = {
    {"numbers", test_numbers},
    {"comments and layout", test_comments_and_layout},
    {"no final newline", test_no_final_newline},
    {"registers", test_registers},
    {"every op", test_every_op},
    {"terminators", test_terminators},
    {"memory operands", test_memory_operands},
    {"immediate ranges", test_immediate_ranges_ok},
    {"data forms", test_data_forms},
    {"data edges", test_data_edges},
    {"defaults and entry", test_defaults_and_entry},
    {"index and find", test_index_and_find},
    {"tables", test_tables},
    {"errors: structure", test_errors_structure},
    {"errors: operands", test_errors_operands},
    {"errors: data", test_errors_data},
    {"errors: garbage", test_errors_garbage},
    {"error recovery and limit", test_error_recovery_and_limit},
    {"huge inputs", test_huge_inputs},
    {"one big block", test_one_big_block},
    {"parse file", test_parse_file},
    CU_TEST_INFO_NULL};

static CU_SuiteInfo suites[] = {
    {"ir_parse", NULL, NULL, NULL, NULL, tests}, CU_SUITE_INFO_NULL};

int main(void)
{
    return tu_run(suites);
}
