/* test_interp.c: the reference interpreter against the semantics table of
 * ir-format.md.  Every expected value below was worked out by hand from the
 * table, never taken from the interpreter's output. */
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "interp.h"
#include "ir.h"
#include "testutil.h"

#define ONES 0xffffffffffffffffull
#define MIN64 0x8000000000000000ull
#define MAX64 0x7fffffffffffffffull

/* ---- single ops through interp_op --------------------------------------- */

static aotb_cpu cpu;

static void cpu_setup(uint64_t memsize)
{
    aotb_diag d = {0};
    int rc = cpu_init(&cpu, memsize, &d);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    diag_free(&d);
}

/* d = r3, a = r1, b = r2, c = r4 */
static uint64_t run_op(ir_opcode opc, uint64_t a, uint64_t b, uint64_t imm)
{
    ir_op op = {.op = (uint8_t)opc, .d = 3, .a = 1, .b = 2, .c = 4,
                .imm = imm};
    cpu.r[1] = a;
    cpu.r[2] = b;
    cpu.r[3] = 0x5a5a5a5a5a5a5a5aull;    /* must be overwritten */
    CU_ASSERT_EQUAL(interp_op(&op, &cpu), 0);
    return cpu.r[3];
}

typedef struct {
    ir_opcode op;
    uint64_t a, b, imm, want;
} op_case;

static void check_cases(const op_case *c, size_t n)
{
    cpu_setup(64);
    for (size_t i = 0; i < n; i++) {
        uint64_t got = run_op(c[i].op, c[i].a, c[i].b, c[i].imm);
        if (got != c[i].want)
            fprintf(stderr, "case %zu: %s 0x%llx, 0x%llx, imm 0x%llx = 0x%llx, "
                            "wanted 0x%llx\n", i, ir_op_names[c[i].op],
                    (unsigned long long)c[i].a, (unsigned long long)c[i].b,
                    (unsigned long long)c[i].imm, (unsigned long long)got,
                    (unsigned long long)c[i].want);
        CU_ASSERT_EQUAL(got, c[i].want);
    }
    cpu_free(&cpu);
}

#define CHECK_CASES(arr) check_cases(arr, sizeof arr / sizeof arr[0])

static void test_arith(void)
{
    static const op_case c[] = {
        {IR_ADD, 5, 7, 0, 12},
        {IR_ADD, ONES, 2, 0, 1},                      /* wraps */
        {IR_ADD, MAX64, 1, 0, MIN64},
        {IR_SUB, 0, 1, 0, ONES},
        {IR_SUB, 10, 3, 0, 7},
        {IR_SUB, MIN64, 1, 0, MAX64},
        {IR_MUL, 0x100000000ull, 0x100000000ull, 0, 0},  /* low 64 bits */
        {IR_MUL, ONES, ONES, 0, 1},                   /* -1 * -1 */
        {IR_MUL, 3, 0xfffffffffffffffcull, 0, 0xfffffffffffffff4ull},
        {IR_MUL, 0x123456789ull, 0x10, 0, 0x1234567890ull},
        {IR_AND, 0xf0f0, 0xff00, 0, 0xf000},
        {IR_OR, 0xf0f0, 0xff00, 0, 0xfff0},
        {IR_XOR, 0xf0f0, 0xff00, 0, 0x0ff0},
        {IR_XOR, ONES, 0x1, 0, 0xfffffffffffffffeull},
        {IR_NOT, 0, 0, 0, ONES},
        {IR_NOT, 0x0f, 0, 0, 0xfffffffffffffff0ull},
        {IR_ADDI, 5, 0, ONES, 4},                     /* imm -1 */
        {IR_ADDI, ONES, 0, 1, 0},
        {IR_ADDI, 0x1000, 0, 0xfffffffffffffff0ull, 0xff0},
        {IR_MULI, 3, 0, 0xfffffffffffffffcull, 0xfffffffffffffff4ull},
        {IR_MULI, MIN64, 0, 2, 0},
        {IR_MULI, 7, 0, 6, 42},
        {IR_MOV, 0xdeadbeef, 0, 0, 0xdeadbeef},
        {IR_MOVI, 0, 0, MIN64, MIN64},
        {IR_MOVI, 99, 0, ONES, ONES},
    };
    CHECK_CASES(c);
}

static void test_division(void)
{
    static const op_case c[] = {
        {IR_DIVS, 7, 2, 0, 3},
        {IR_DIVS, (uint64_t)-7, 2, 0, (uint64_t)-3},  /* toward zero */
        {IR_DIVS, 7, (uint64_t)-2, 0, (uint64_t)-3},
        {IR_DIVS, (uint64_t)-7, (uint64_t)-2, 0, 3},
        {IR_DIVS, MIN64, ONES, 0, MIN64},             /* INT64_MIN / -1 */
        {IR_DIVS, MIN64, 1, 0, MIN64},
        {IR_DIVS, MIN64, 2, 0, 0xc000000000000000ull},
        {IR_DIVS, MAX64, ONES, 0, 0x8000000000000001ull},
        {IR_DIVS, 12345, 0, 0, ONES},                 /* b = 0 */
        {IR_DIVS, 0, 0, 0, ONES},
        {IR_DIVS, MIN64, 0, 0, ONES},
        {IR_DIVU, 7, 2, 0, 3},
        {IR_DIVU, ONES, 2, 0, MAX64},                 /* unsigned */
        {IR_DIVU, MIN64, ONES, 0, 0},
        {IR_DIVU, 12345, 0, 0, ONES},
        {IR_DIVU, 0, 0, 0, ONES},
        {IR_REMS, 7, 2, 0, 1},
        {IR_REMS, (uint64_t)-7, 2, 0, ONES},          /* sign of dividend */
        {IR_REMS, 7, (uint64_t)-2, 0, 1},
        {IR_REMS, (uint64_t)-7, (uint64_t)-2, 0, ONES},
        {IR_REMS, MIN64, ONES, 0, 0},                 /* INT64_MIN rem -1 */
        {IR_REMS, MIN64, 3, 0, (uint64_t)-2},         /* -2^63 = 3*q - 2 */
        {IR_REMS, 5, 0, 0, 5},                        /* b = 0 → a */
        {IR_REMS, (uint64_t)-5, 0, 0, 0xfffffffffffffffbull},
        {IR_REMU, ONES, 10, 0, 5},                    /* 18446744073709551615 */
        {IR_REMU, 7, 0, 0, 7},
        {IR_REMU, MIN64, ONES, 0, MIN64},
    };
    CHECK_CASES(c);
}

static void test_shifts(void)
{
    static const op_case c[] = {
        {IR_SLL, 1, 63, 0, MIN64},
        {IR_SLL, 1, 64, 0, 1},                        /* 64 & 63 = 0 */
        {IR_SLL, 1, 65, 0, 2},
        {IR_SLL, 1, ONES, 0, MIN64},                  /* -1 & 63 = 63 */
        {IR_SLL, 0x8000000000000001ull, 1, 0, 2},
        {IR_SRL, MIN64, 63, 0, 1},
        {IR_SRL, MIN64, 64, 0, MIN64},
        {IR_SRL, MIN64, 65, 0, 0x4000000000000000ull},
        {IR_SRL, MIN64, ONES, 0, 1},
        {IR_SRL, ONES, 4, 0, 0x0fffffffffffffffull},
        {IR_SRA, MIN64, 63, 0, ONES},
        {IR_SRA, MIN64, 1, 0, 0xc000000000000000ull},
        {IR_SRA, 0xfffffffffffffff0ull, 2, 0, 0xfffffffffffffffcull},
        {IR_SRA, 0x7000000000000000ull, 4, 0, 0x0700000000000000ull},
        {IR_SRA, MIN64, 64, 0, MIN64},
        {IR_SRA, MIN64, 65, 0, 0xc000000000000000ull},
        {IR_SRA, MIN64, ONES, 0, ONES},
        {IR_SRA, MAX64, ONES, 0, 0},
        {IR_SRA, ONES, 0, 0, ONES},
        {IR_SLLI, 1, 0, 0, 1},
        {IR_SLLI, 3, 0, 62, 0xc000000000000000ull},
        {IR_SLLI, 1, 0, 63, MIN64},
        {IR_SRLI, ONES, 0, 63, 1},
        {IR_SRLI, 0xf0, 0, 4, 0x0f},
        {IR_SRLI, 0xf0, 0, 0, 0xf0},
        {IR_SRAI, MIN64, 0, 63, ONES},
        {IR_SRAI, 0xff00000000000000ull, 0, 8, 0xffff000000000000ull},
        {IR_SRAI, 0x7f00000000000000ull, 0, 8, 0x007f000000000000ull},
        {IR_SRAI, 0x80, 0, 0, 0x80},
    };
    CHECK_CASES(c);
}

static void test_compare_select(void)
{
    static const op_case c[] = {
        {IR_CMPEQ, 5, 5, 0, 1},
        {IR_CMPEQ, 5, 6, 0, 0},
        {IR_CMPNE, 5, 5, 0, 0},
        {IR_CMPNE, 0, MIN64, 0, 1},
        {IR_CMPLT, ONES, 0, 0, 1},                    /* -1 < 0 */
        {IR_CMPLT, 0, ONES, 0, 0},
        {IR_CMPLT, MIN64, MAX64, 0, 1},
        {IR_CMPLT, 4, 4, 0, 0},
        {IR_CMPLTU, ONES, 0, 0, 0},
        {IR_CMPLTU, 0, ONES, 0, 1},
        {IR_CMPLTU, MIN64, MAX64, 0, 0},
        {IR_CMPLTU, 4, 4, 0, 0},
        {IR_CMPGE, ONES, 0, 0, 0},
        {IR_CMPGE, 0, ONES, 0, 1},
        {IR_CMPGE, 4, 4, 0, 1},
        {IR_CMPGE, MAX64, MIN64, 0, 1},
        {IR_CMPGEU, ONES, 0, 0, 1},
        {IR_CMPGEU, 0, ONES, 0, 0},
        {IR_CMPGEU, 4, 4, 0, 1},
        {IR_CMPGEU, MAX64, MIN64, 0, 0},
    };
    CHECK_CASES(c);

    /* select d=r3, c=r4, a=r1, b=r2 */
    cpu_setup(64);
    cpu.r[4] = 0;
    CU_ASSERT_EQUAL(run_op(IR_SELECT, 11, 22, 0), 22);
    cpu.r[4] = 2;
    CU_ASSERT_EQUAL(run_op(IR_SELECT, 11, 22, 0), 11);
    cpu.r[4] = MIN64;
    CU_ASSERT_EQUAL(run_op(IR_SELECT, 11, 22, 0), 11);
    cpu_free(&cpu);
}

static void test_nop_and_aliasing(void)
{
    cpu_setup(64);
    for (unsigned i = 0; i < IR_NREGS; i++)
        cpu.r[i] = i * 3 + 1;
    ir_op nop = {.op = IR_NOP};
    CU_ASSERT_EQUAL(interp_op(&nop, &cpu), 0);
    for (unsigned i = 0; i < IR_NREGS; i++)
        CU_ASSERT_EQUAL(cpu.r[i], i * 3 + 1);
    /* add r7, r7, r7: both sources read before the write */
    ir_op add = {.op = IR_ADD, .d = 7, .a = 7, .b = 7};
    interp_op(&add, &cpu);
    CU_ASSERT_EQUAL(cpu.r[7], 44);
    /* r255 works like any other register, r0 is not hard-wired */
    ir_op movi = {.op = IR_MOVI, .d = 255, .imm = 9};
    interp_op(&movi, &cpu);
    CU_ASSERT_EQUAL(cpu.r[255], 9);
    ir_op movi0 = {.op = IR_MOVI, .d = 0, .imm = 77};
    interp_op(&movi0, &cpu);
    CU_ASSERT_EQUAL(cpu.r[0], 77);
    cpu_free(&cpu);
}

/* ---- loads and stores --------------------------------------------------- */

/* load r3, [r1 + imm], mt */
static int do_load(unsigned mt, uint64_t base, uint64_t imm, uint64_t *out)
{
    ir_op op = {.op = IR_LOAD, .d = 3, .a = 1, .mt = (uint8_t)mt, .imm = imm};
    cpu.r[1] = base;
    cpu.r[3] = 0x5a5a5a5a5a5a5a5aull;
    cpu.info = 0;
    int rc = interp_op(&op, &cpu);
    *out = cpu.r[3];
    return rc;
}

/* store [r1 + imm], r2, mt */
static int do_store(unsigned mt, uint64_t base, uint64_t imm, uint64_t v)
{
    ir_op op = {.op = IR_STORE, .a = 1, .b = 2, .mt = (uint8_t)mt, .imm = imm};
    cpu.r[1] = base;
    cpu.r[2] = v;
    cpu.info = 0;
    return interp_op(&op, &cpu);
}

static void test_load_extension(void)
{
    static const uint8_t pat[] = {
        0x80, 0x7f, 0x80, 0xff, 0xff, 0x7f, 0x00, 0x00,   /* 0x00 */
        0x00, 0x80, 0xff, 0xff, 0xff, 0x7f, 0x00, 0x00,   /* 0x08 */
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,   /* 0x10 */
        0xf0, 0xde, 0xbc, 0x9a, 0x78, 0x56, 0x34, 0x92,   /* 0x18 */
    };
    uint64_t v;
    cpu_setup(64);
    memcpy(cpu.mem, pat, sizeof pat);
    CU_ASSERT_EQUAL(do_load(IR_U8, 0, 0, &v), 0); CU_ASSERT_EQUAL(v, 0x80);
    CU_ASSERT_EQUAL(do_load(IR_S8, 0, 0, &v), 0);
    CU_ASSERT_EQUAL(v, 0xffffffffffffff80ull);
    CU_ASSERT_EQUAL(do_load(IR_S8, 1, 0, &v), 0); CU_ASSERT_EQUAL(v, 0x7f);
    CU_ASSERT_EQUAL(do_load(IR_U8, 3, 0, &v), 0); CU_ASSERT_EQUAL(v, 0xff);
    CU_ASSERT_EQUAL(do_load(IR_S8, 3, 0, &v), 0); CU_ASSERT_EQUAL(v, ONES);
    /* bytes 80 ff at 2 → 0xff80 */
    CU_ASSERT_EQUAL(do_load(IR_U16, 2, 0, &v), 0); CU_ASSERT_EQUAL(v, 0xff80);
    CU_ASSERT_EQUAL(do_load(IR_S16, 2, 0, &v), 0);
    CU_ASSERT_EQUAL(v, 0xffffffffffffff80ull);
    /* bytes ff 7f at 4 → 0x7fff (positive) */
    CU_ASSERT_EQUAL(do_load(IR_S16, 4, 0, &v), 0); CU_ASSERT_EQUAL(v, 0x7fff);
    /* bytes 80 7f at 0 → 0x7f80, unaligned 7f 80 at 1 → 0x807f */
    CU_ASSERT_EQUAL(do_load(IR_U16, 0, 0, &v), 0); CU_ASSERT_EQUAL(v, 0x7f80);
    CU_ASSERT_EQUAL(do_load(IR_S16, 1, 0, &v), 0);
    CU_ASSERT_EQUAL(v, 0xffffffffffff807full);
    /* bytes 00 00 00 80 at 6 → 0x80000000 */
    CU_ASSERT_EQUAL(do_load(IR_U32, 6, 0, &v), 0);
    CU_ASSERT_EQUAL(v, 0x80000000ull);
    CU_ASSERT_EQUAL(do_load(IR_S32, 6, 0, &v), 0);
    CU_ASSERT_EQUAL(v, 0xffffffff80000000ull);
    /* bytes ff ff ff 7f at 0x0a → 0x7fffffff */
    CU_ASSERT_EQUAL(do_load(IR_S32, 0x0a, 0, &v), 0);
    CU_ASSERT_EQUAL(v, 0x7fffffffull);
    CU_ASSERT_EQUAL(do_load(IR_U32, 0x10, 0, &v), 0);
    CU_ASSERT_EQUAL(v, 0x04030201ull);
    CU_ASSERT_EQUAL(do_load(IR_U32, 0x11, 0, &v), 0);     /* unaligned */
    CU_ASSERT_EQUAL(v, 0x05040302ull);
    CU_ASSERT_EQUAL(do_load(IR_U64, 0x10, 0, &v), 0);
    CU_ASSERT_EQUAL(v, 0x0807060504030201ull);
    CU_ASSERT_EQUAL(do_load(IR_U64, 0x18, 0, &v), 0);     /* top bit set */
    CU_ASSERT_EQUAL(v, 0x923456789abcdef0ull);
    CU_ASSERT_EQUAL(do_load(IR_U64, 0x13, 0, &v), 0);     /* unaligned */
    CU_ASSERT_EQUAL(v, 0xbcdef00807060504ull);
    /* base + imm: imm -8 from 0x18 */
    CU_ASSERT_EQUAL(do_load(IR_U8, 0x18, (uint64_t)-8, &v), 0);
    CU_ASSERT_EQUAL(v, 0x01);
    CU_ASSERT_EQUAL(do_load(IR_U8, 0x10, 2, &v), 0); CU_ASSERT_EQUAL(v, 0x03);
    cpu_free(&cpu);
}

static void test_store_widths(void)
{
    const uint64_t v = 0x1122334455667788ull;
    static const struct { unsigned mt, size; } w[] = {
        {IR_U8, 1}, {IR_S8, 1}, {IR_U16, 2}, {IR_S16, 2},
        {IR_U32, 4}, {IR_S32, 4}, {IR_U64, 8}};
    /* the bytes of v, little-endian */
    static const uint8_t le[8] = {0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22,
                                  0x11};
    cpu_setup(64);
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) {
        memset(cpu.mem, 0xaa, 64);
        /* odd address: unaligned for every width above 1 */
        CU_ASSERT_EQUAL(do_store(w[i].mt, 0x10, 3, v), 0);
        for (unsigned k = 0; k < 64; k++) {
            uint8_t want = 0xaa;
            if (k >= 0x13 && k < 0x13 + w[i].size)
                want = le[k - 0x13];
            if (cpu.mem[k] != want)
                fprintf(stderr, "store %u: byte 0x%x = 0x%02x, wanted 0x%02x\n",
                        w[i].size, k, cpu.mem[k], want);
            CU_ASSERT_EQUAL(cpu.mem[k], want);
        }
    }
    /* a store then a load of the same width gives the value back */
    CU_ASSERT_EQUAL(do_store(IR_U16, 0, 0x20, 0xbeef), 0);
    uint64_t got;
    CU_ASSERT_EQUAL(do_load(IR_U16, 0x20, 0, &got), 0);
    CU_ASSERT_EQUAL(got, 0xbeef);
    cpu_free(&cpu);
}

/* Every size at the last valid address and one past, with memsize 64. */
static void test_bounds(void)
{
    static const struct { unsigned ld, st, size; } w[] = {
        {IR_U8, IR_U8, 1}, {IR_U16, IR_U16, 2}, {IR_U32, IR_U32, 4},
        {IR_U64, IR_U64, 8}, {IR_S8, IR_S8, 1}, {IR_S16, IR_S16, 2},
        {IR_S32, IR_S32, 4}};
    uint64_t v;
    cpu_setup(64);
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) {
        uint64_t last = 64 - w[i].size;
        memset(cpu.mem, 0, 64);
        CU_ASSERT_EQUAL(do_store(w[i].st, last, 0, ONES), 0);
        CU_ASSERT_EQUAL(cpu.mem[63], 0xff);
        CU_ASSERT_EQUAL(do_load(w[i].ld, last, 0, &v), 0);
        CU_ASSERT_NOT_EQUAL(v, 0x5a5a5a5a5a5a5a5aull);
        /* one past: fault, info = address, nothing written */
        memset(cpu.mem, 0, 64);
        CU_ASSERT_EQUAL(do_load(w[i].ld, last + 1, 0, &v), -1);
        CU_ASSERT_EQUAL(cpu.info, last + 1);
        CU_ASSERT_EQUAL(v, 0x5a5a5a5a5a5a5a5aull);      /* d untouched */
        CU_ASSERT_EQUAL(do_store(w[i].st, last + 1, 0, ONES), -1);
        CU_ASSERT_EQUAL(cpu.info, last + 1);
        /* the same through the immediate */
        CU_ASSERT_EQUAL(do_load(w[i].ld, 0, last + 1, &v), -1);
        CU_ASSERT_EQUAL(cpu.info, last + 1);
        CU_ASSERT_EQUAL(do_store(w[i].st, last, 1, ONES), -1);
        CU_ASSERT_EQUAL(cpu.info, last + 1);
        /* far away */
        CU_ASSERT_EQUAL(do_load(w[i].ld, 64, 0, &v), -1);
        CU_ASSERT_EQUAL(do_load(w[i].ld, 0x100000000ull, 0, &v), -1);
        CU_ASSERT_EQUAL(cpu.info, 0x100000000ull);
        CU_ASSERT_EQUAL(do_load(w[i].ld, ONES, 0, &v), -1);
        CU_ASSERT_EQUAL(cpu.info, ONES);
        for (unsigned k = 0; k < 64; k++)
            CU_ASSERT_EQUAL(cpu.mem[k], 0);
    }
    cpu_free(&cpu);
}

static void test_address_wrap(void)
{
    uint64_t v;
    cpu_setup(64);
    cpu.mem[0] = 0x42;
    cpu.mem[5] = 0x43;
    /* ONES + 1 wraps to 0 */
    CU_ASSERT_EQUAL(do_load(IR_U8, ONES, 1, &v), 0);
    CU_ASSERT_EQUAL(v, 0x42);
    /* 8 + (-3) = 5 */
    CU_ASSERT_EQUAL(do_load(IR_U8, 8, (uint64_t)-3, &v), 0);
    CU_ASSERT_EQUAL(v, 0x43);
    /* 8 + (-9) = 2^64 - 1: fault at that address */
    CU_ASSERT_EQUAL(do_load(IR_U8, 8, (uint64_t)-9, &v), -1);
    CU_ASSERT_EQUAL(cpu.info, ONES);
    /* an 8-byte access at 2^64 - 7 would end at 1 after wrapping */
    CU_ASSERT_EQUAL(do_load(IR_U64, 0xfffffffffffffff9ull, 0, &v), -1);
    CU_ASSERT_EQUAL(cpu.info, 0xfffffffffffffff9ull);
    CU_ASSERT_EQUAL(do_store(IR_U64, 0xfffffffffffffff0ull, 0xc, 1), -1);
    CU_ASSERT_EQUAL(cpu.info, 0xfffffffffffffffcull);
    CU_ASSERT_EQUAL(do_store(IR_U16, ONES, 0, 1), -1);
    CU_ASSERT_EQUAL(cpu.info, ONES);
    cpu_free(&cpu);
}

static void test_tiny_memory(void)
{
    uint64_t v;
    cpu_setup(3);       /* smaller than a u32 or u64 access */
    CU_ASSERT_EQUAL(do_load(IR_U32, 0, 0, &v), -1);
    CU_ASSERT_EQUAL(cpu.info, 0);
    CU_ASSERT_EQUAL(do_load(IR_U64, 0, 0, &v), -1);
    CU_ASSERT_EQUAL(do_store(IR_U32, 0, 0, 1), -1);
    CU_ASSERT_EQUAL(do_load(IR_U16, 1, 0, &v), 0);
    CU_ASSERT_EQUAL(do_load(IR_U16, 2, 0, &v), -1);
    CU_ASSERT_EQUAL(do_load(IR_U8, 2, 0, &v), 0);
    CU_ASSERT_EQUAL(do_load(IR_U8, 3, 0, &v), -1);
    cpu_free(&cpu);

    cpu_setup(0);       /* nothing is accessible */
    CU_ASSERT_EQUAL(do_load(IR_U8, 0, 0, &v), -1);
    CU_ASSERT_EQUAL(do_store(IR_U8, 0, 0, 1), -1);
    cpu_free(&cpu);

    cpu_setup(8);       /* exactly one u64 */
    CU_ASSERT_EQUAL(do_store(IR_U64, 0, 0, 0x0102030405060708ull), 0);
    CU_ASSERT_EQUAL(do_load(IR_U64, 0, 0, &v), 0);
    CU_ASSERT_EQUAL(v, 0x0102030405060708ull);
    CU_ASSERT_EQUAL(do_load(IR_U64, 1, 0, &v), -1);
    cpu_free(&cpu);
}

/* ---- whole programs ----------------------------------------------------- */

static ir_program prog;

/* Parses src, sets up a CPU for its memory with its data, applies sets of
 * r1..: returns 0 if ready. */
static int load_prog(const char *src)
{
    if (tu_parse(src, &prog) != 0)
        return -1;
    aotb_diag d = {0};
    int rc = cpu_init(&cpu, prog.memsize, &d);
    for (size_t k = 0; rc == 0 && k < prog.ndata; k++)
        rc = cpu_load_data(&cpu, prog.data[k].addr, prog.data[k].bytes,
                           prog.data[k].len, &d);
    if (rc != 0)
        fprintf(stderr, "%s", diag_text(&d));
    diag_free(&d);
    CU_ASSERT_EQUAL(rc, 0);
    return rc;
}

static void run_prog(void)
{
    uint64_t entry = 0;
    CU_ASSERT_TRUE(ir_program_entry(&prog, &entry));
    interp_run(&prog, &cpu, entry);
}

static void done_prog(void)
{
    cpu_free(&cpu);
    ir_program_free(&prog);
}

/* Registers other than those listed must be zero. */
static void check_regs_zero_except(unsigned n, const unsigned *regs)
{
    for (unsigned i = 0; i < IR_NREGS; i++) {
        int listed = 0;
        for (unsigned k = 0; k < n; k++)
            listed |= regs[k] == i;
        if (!listed)
            CU_ASSERT_EQUAL(cpu.r[i], 0);
    }
}

static const char sum_src[] =
    "; sum 1..10 into r2\n"
    "entry 0x1000\n"
    "memory 0x10000\n"
    "data 0x100 u64 10\n"
    "block 0x1000 {\n"
    "    movi  r1, 0x100\n"
    "    load  r3, [r1], u64\n"
    "    movi  r2, 0\n"
    "    jmp   0x1010\n"
    "}\n"
    "block 0x1010 {\n"
    "    add   r2, r2, r3\n"
    "    addi  r3, r3, -1\n"
    "    cmpne r4, r3, r0\n"
    "    condjmp r4, 0x1010, 0x1020\n"
    "}\n"
    "block 0x1020 {\n"
    "    store [r1 + 8], r2, u64\n"
    "    ret\n"
    "}\n";

static void test_worked_example(void)
{
    if (load_prog(sum_src) != 0)
        return;
    run_prog();
    CU_ASSERT_EQUAL(cpu.status, AOTB_ST_RET);
    CU_ASSERT_EQUAL(cpu.pc, 0x1020);
    CU_ASSERT_EQUAL(cpu.r[1], 0x100);
    CU_ASSERT_EQUAL(cpu.r[2], 55);
    static const unsigned nz[] = {1, 2};
    check_regs_zero_except(2, nz);
    CU_ASSERT_EQUAL(get_le64(cpu.mem + 0x108), 55);
    CU_ASSERT_EQUAL(get_le64(cpu.mem + 0x100), 10);
    /* 12 blocks ran: 0x1000 once, 0x1010 ten times, 0x1020 once */
    CU_ASSERT_EQUAL(cpu.budget, UINT64_MAX - 12);
    done_prog();
}

/* The worked example needs 12 blocks; --max-blocks N stops before block
 * N + 1 with pc = that block. */
static void test_budget(void)
{
    static const struct {
        uint64_t max;
        uint32_t status;
        uint64_t pc, r2, r3, r4, m108;
    } c[] = {
        {0, AOTB_ST_BUDGET, 0x1000, 0, 0, 0, 0},
        {1, AOTB_ST_BUDGET, 0x1010, 0, 10, 0, 0},
        {2, AOTB_ST_BUDGET, 0x1010, 10, 9, 1, 0},
        {3, AOTB_ST_BUDGET, 0x1010, 19, 8, 1, 0},
        {11, AOTB_ST_BUDGET, 0x1020, 55, 0, 0, 0},
        {12, AOTB_ST_RET, 0x1020, 55, 0, 0, 55},
        {13, AOTB_ST_RET, 0x1020, 55, 0, 0, 55},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        if (load_prog(sum_src) != 0)
            return;
        cpu.budget = c[i].max;
        run_prog();
        CU_ASSERT_EQUAL(cpu.status, c[i].status);
        CU_ASSERT_EQUAL(cpu.pc, c[i].pc);
        CU_ASSERT_EQUAL(cpu.r[1], c[i].max == 0 ? 0 : 0x100);
        CU_ASSERT_EQUAL(cpu.r[2], c[i].r2);
        CU_ASSERT_EQUAL(cpu.r[3], c[i].r3);
        CU_ASSERT_EQUAL(cpu.r[4], c[i].r4);
        CU_ASSERT_EQUAL(get_le64(cpu.mem + 0x108), c[i].m108);
        CU_ASSERT_EQUAL(cpu.budget, c[i].max > 12 ? c[i].max - 12 : 0);
        done_prog();
    }

    /* a tight self-loop stops after exactly N iterations */
    if (load_prog("block 0 {\n addi r1, r1, 1\n jmp 0\n}\n") != 0)
        return;
    cpu.budget = 1000;
    run_prog();
    CU_ASSERT_EQUAL(cpu.status, AOTB_ST_BUDGET);
    CU_ASSERT_EQUAL(cpu.pc, 0);
    CU_ASSERT_EQUAL(cpu.r[1], 1000);
    CU_ASSERT_EQUAL(cpu.budget, 0);
    done_prog();

    /* a missing block is reported even with no budget left */
    if (load_prog("block 0 {\n jmp 0x40\n}\n") != 0)
        return;
    cpu.budget = 1;
    run_prog();
    CU_ASSERT_EQUAL(cpu.status, AOTB_ST_NOCODE);
    CU_ASSERT_EQUAL(cpu.pc, 0x40);
    done_prog();
}

static void test_jumps(void)
{
    /* jmpreg to r5 + imm, both signs of imm; condjmp both ways */
    static const char src[] =
        "block 0 {\n"
        "    movi r5, 0x2000\n"
        "    jmpreg r5, 0x10\n"
        "}\n"
        "block 0x2010 {\n"
        "    addi r6, r6, 1\n"
        "    movi r5, 0x3040\n"
        "    jmpreg r5, -0x40\n"
        "}\n"
        "block 0x3000 {\n"
        "    condjmp r7, 0x3100, 0x3200\n"
        "}\n"
        "block 0x3100 {\n fault 1\n}\n"
        "block 0x3200 {\n"
        "    movi r7, -1\n"
        "    br r7, 0x3300, 0x3100\n"
        "}\n"
        "block 0x3300 {\n fault 2\n}\n";
    if (load_prog(src) != 0)
        return;
    run_prog();
    CU_ASSERT_EQUAL(cpu.status, AOTB_ST_FAULT);
    CU_ASSERT_EQUAL(cpu.info, 2);
    CU_ASSERT_EQUAL(cpu.pc, 0x3300);
    CU_ASSERT_EQUAL(cpu.r[6], 1);
    CU_ASSERT_EQUAL(cpu.r[7], ONES);
    done_prog();

    /* jmpreg wraps modulo 2^64 */
    if (load_prog("block 0x10 {\n movi r1, -1\n jmpreg r1, 0x21\n}\n"
                  "block 0x20 {\n fault 3\n}\n") != 0)
        return;
    run_prog();
    CU_ASSERT_EQUAL(cpu.status, AOTB_ST_FAULT);
    CU_ASSERT_EQUAL(cpu.info, 3);
    CU_ASSERT_EQUAL(cpu.pc, 0x20);
    done_prog();
}

static void test_stops(void)
{
    /* fault: largest cause, pc = the faulting block */
    if (load_prog("block 0x10 {\n movi r1, 5\n fault 0xffffffffffffffff\n}\n"))
        return;
    run_prog();
    CU_ASSERT_EQUAL(cpu.status, AOTB_ST_FAULT);
    CU_ASSERT_EQUAL(cpu.info, ONES);
    CU_ASSERT_EQUAL(cpu.pc, 0x10);
    CU_ASSERT_EQUAL(cpu.r[1], 5);          /* ops before run */
    done_prog();

    /* interrupt without resume: pc = the block */
    if (load_prog("block 0x10 {\n jmp 0x20\n}\nblock 0x20 {\n interrupt 0x80\n}\n"))
        return;
    run_prog();
    CU_ASSERT_EQUAL(cpu.status, AOTB_ST_INTERRUPT);
    CU_ASSERT_EQUAL(cpu.info, 0x80);
    CU_ASSERT_EQUAL(cpu.pc, 0x20);
    done_prog();

    /* interrupt with resume R: pc = R (which needs no block) */
    if (load_prog("block 0x10 {\n movi r9, 1\n interrupt 3, 0x5000\n}\n"))
        return;
    run_prog();
    CU_ASSERT_EQUAL(cpu.status, AOTB_ST_INTERRUPT);
    CU_ASSERT_EQUAL(cpu.info, 3);
    CU_ASSERT_EQUAL(cpu.pc, 0x5000);
    CU_ASSERT_EQUAL(cpu.r[9], 1);
    done_prog();

    /* nocode: pc = the missing address, also for a bad entry */
    if (load_prog("block 0x10 {\n movi r9, 1\n jmp 0x11\n}\n"))
        return;
    run_prog();
    CU_ASSERT_EQUAL(cpu.status, AOTB_ST_NOCODE);
    CU_ASSERT_EQUAL(cpu.pc, 0x11);
    CU_ASSERT_EQUAL(cpu.r[9], 1);
    interp_run(&prog, &cpu, 0xffffffffffffffffull);
    CU_ASSERT_EQUAL(cpu.status, AOTB_ST_NOCODE);
    CU_ASSERT_EQUAL(cpu.pc, ONES);
    done_prog();

    /* ret with an empty stack: pc = the block */
    if (load_prog("block 0x10 {\n jmp 0x30\n}\nblock 0x30 {\n ret\n}\n"))
        return;
    run_prog();
    CU_ASSERT_EQUAL(cpu.status, AOTB_ST_RET);
    CU_ASSERT_EQUAL(cpu.pc, 0x30);
    done_prog();
}

static void test_call_ret(void)
{
    static const char src[] =
        "block 0 {\n call 0x100, 0x200\n}\n"
        "block 0x100 {\n movi r1, 1\n call 0x300, 0x180\n}\n"
        "block 0x180 {\n addi r1, r1, 10\n ret\n}\n"
        "block 0x200 {\n movi r2, 2\n ret\n}\n"
        "block 0x300 {\n movi r3, 3\n ret\n}\n";
    if (load_prog(src) != 0)
        return;
    run_prog();
    CU_ASSERT_EQUAL(cpu.status, AOTB_ST_RET);
    CU_ASSERT_EQUAL(cpu.pc, 0x200);
    CU_ASSERT_EQUAL(cpu.r[1], 11);
    CU_ASSERT_EQUAL(cpu.r[2], 2);
    CU_ASSERT_EQUAL(cpu.r[3], 3);
    CU_ASSERT_EQUAL(cpu.rsp, 0);
    CU_ASSERT_EQUAL(cpu.budget, UINT64_MAX - 5);   /* 5 blocks ran */
    done_prog();
}

/* Recurse to depth r3 - 1, then return all the way. */
static const char deep_src[] =
    "block 0 {\n"
    "    addi r1, r1, 1\n"
    "    cmpltu r2, r1, r3\n"
    "    condjmp r2, 0x10, 0x20\n"
    "}\n"
    "block 0x10 {\n call 0, 0x30\n}\n"
    "block 0x20 {\n ret\n}\n"
    "block 0x30 {\n addi r4, r4, 1\n ret\n}\n";

static void test_callstack(void)
{
    /* 65,536 pushes fit: pushes happen for r1 = 1 .. 65536 */
    if (load_prog(deep_src) != 0)
        return;
    cpu.r[3] = 65537;
    run_prog();
    CU_ASSERT_EQUAL(cpu.status, AOTB_ST_RET);
    CU_ASSERT_EQUAL(cpu.pc, 0x30);
    CU_ASSERT_EQUAL(cpu.r[1], 65537);
    CU_ASSERT_EQUAL(cpu.r[4], 65536);      /* every return arrived */
    CU_ASSERT_EQUAL(cpu.rsp, 0);
    done_prog();

    /* the 65,537th push stops with callstack at the calling block */
    if (load_prog(deep_src) != 0)
        return;
    cpu.r[3] = 65538;
    run_prog();
    CU_ASSERT_EQUAL(cpu.status, AOTB_ST_CALLSTACK);
    CU_ASSERT_EQUAL(cpu.pc, 0x10);
    CU_ASSERT_EQUAL(cpu.r[1], 65537);
    CU_ASSERT_EQUAL(cpu.r[4], 0);
    CU_ASSERT_EQUAL(cpu.rsp, 65536);
    CU_ASSERT_EQUAL(cpu.rstack[0], 0x30);
    CU_ASSERT_EQUAL(cpu.rstack[65535], 0x30);
    done_prog();

    /* a self-call: the ops of the failing block still ran */
    if (load_prog("block 8 {\n addi r1, r1, 1\n call 8, 0x99\n}\n") != 0)
        return;
    run_prog();
    CU_ASSERT_EQUAL(cpu.status, AOTB_ST_CALLSTACK);
    CU_ASSERT_EQUAL(cpu.pc, 8);
    CU_ASSERT_EQUAL(cpu.r[1], 65537);
    CU_ASSERT_EQUAL(cpu.rsp, 65536);
    done_prog();
}

static void test_memfault_precise(void)
{
    static const char src[] =
        "memory 0x100\n"
        "block 0x40 {\n"
        "    movi r1, 0x11\n"
        "    store [r0 + 0x10], r1, u8\n"
        "    movi r9, 0xfc\n"
        "    store [r9 + 0], r1, u64\n"   /* 0xfc + 8 > 0x100: faults */
        "    movi r2, 0x22\n"
        "    store [r0 + 0x20], r2, u8\n"
        "    jmp 0x80\n"
        "}\n"
        "block 0x80 {\n ret\n}\n";
    if (load_prog(src) != 0)
        return;
    run_prog();
    CU_ASSERT_EQUAL(cpu.status, AOTB_ST_MEMFAULT);
    CU_ASSERT_EQUAL(cpu.info, 0xfc);
    CU_ASSERT_EQUAL(cpu.pc, 0x40);
    CU_ASSERT_EQUAL(cpu.r[1], 0x11);
    CU_ASSERT_EQUAL(cpu.r[9], 0xfc);
    CU_ASSERT_EQUAL(cpu.r[2], 0);          /* after the fault: not run */
    CU_ASSERT_EQUAL(cpu.mem[0x10], 0x11);
    CU_ASSERT_EQUAL(cpu.mem[0x20], 0);
    for (unsigned k = 0xfc; k < 0x100; k++)
        CU_ASSERT_EQUAL(cpu.mem[k], 0);    /* no partial store */
    done_prog();

    /* a faulting load leaves its destination alone; address wraps */
    if (load_prog("memory 0x100\nblock 0 {\n movi r3, 7\n movi r1, 0x10\n"
                  " load r3, [r1 - 0x11], u8\n movi r4, 1\n ret\n}\n") != 0)
        return;
    run_prog();
    CU_ASSERT_EQUAL(cpu.status, AOTB_ST_MEMFAULT);
    CU_ASSERT_EQUAL(cpu.info, ONES);
    CU_ASSERT_EQUAL(cpu.pc, 0);
    CU_ASSERT_EQUAL(cpu.r[3], 7);
    CU_ASSERT_EQUAL(cpu.r[4], 0);
    done_prog();
}

static CU_TestInfo op_tests[] = {
    {"arithmetic", test_arith},
    {"division corner cases", test_division},
    {"shifts", test_shifts},
    {"compare and select", test_compare_select},
    {"nop and aliasing", test_nop_and_aliasing},
    {"load extension", test_load_extension},
    {"store widths", test_store_widths},
    {"bounds of every size", test_bounds},
    {"address wraps", test_address_wrap},
    {"tiny memory", test_tiny_memory},
    CU_TEST_INFO_NULL};

static CU_TestInfo prog_tests[] = {
    {"worked example", test_worked_example},
    {"budget", test_budget},
    {"jumps", test_jumps},
    {"stops", test_stops},
    {"call and ret", test_call_ret},
    {"callstack", test_callstack},
    {"memfault is precise", test_memfault_precise},
    CU_TEST_INFO_NULL};

static CU_SuiteInfo suites[] = {
    {"interp ops", NULL, NULL, NULL, NULL, op_tests},
    {"interp programs", NULL, NULL, NULL, NULL, prog_tests},
    CU_SUITE_INFO_NULL};

int main(void)
{
    return tu_run(suites);
}
