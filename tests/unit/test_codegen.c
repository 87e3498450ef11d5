/* test_codegen.c: native code against the reference interpreter.  Every
 * program runs twice, natively (cg_compile_block + codemap + rt_run) and in
 * interp_run, and the complete CPU state must agree (native_compare).  Where
 * a value is also checked directly, it was worked out by hand from the
 * semantics table of ir-format.md. */
#include <elf.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codegen.h"
#include "codemap.h"
#include "cpu.h"
#include "interp.h"
#include "ir.h"
#include "runtime.h"
#include "support_native.h"
#include "testutil.h"

#define ONES 0xffffffffffffffffull
#define MIN64 0x8000000000000000ull
#define MAX64 0x7fffffffffffffffull

static const uint64_t specials[] = {
    0, 1, 2, 3, 7, ONES, ONES - 1, MIN64, MAX64, MIN64 + 1, 0x80, 0xff,
    0x8000, 0xffff, 0x80000000ull, 0xffffffffull, 0x100000000ull,
    0x123456789abcdef0ull, 63, 64, 65,
};
#define NSPECIAL (sizeof specials / sizeof specials[0])

/* Compares and keeps the native CPU for extra hand-checked assertions. */
static int run_text(const char *text, const native_setup *s, aotb_cpu *cpu)
{
    int rc = native_compare_text(text, s, cpu);
    CU_ASSERT_EQUAL(rc, 0);
    return rc;
}

static void check_text(const char *text, const native_setup *s)
{
    CU_ASSERT_EQUAL(native_compare_text(text, s, NULL), 0);
}

/* ---- whole programs ------------------------------------------------------ */

static void test_example(void)
{
    static const char *text =
        "entry 0x1000\nmemory 0x10000\ndata 0x100 u64 10\n"
        "block 0x1000 {\n movi r1, 0x100\n load r3, [r1], u64\n movi r2, 0\n"
        " jmp 0x1010\n}\n"
        "block 0x1010 {\n add r2, r2, r3\n addi r3, r3, -1\n"
        " cmpne r4, r3, r0\n condjmp r4, 0x1010, 0x1020\n}\n"
        "block 0x1020 {\n store [r1 + 8], r2, u64\n ret\n}\n";
    aotb_cpu cpu;
    if (run_text(text, NULL, &cpu) != 0)
        return;
    CU_ASSERT_EQUAL(cpu.status, AOTB_ST_RET);
    CU_ASSERT_EQUAL(cpu.pc, 0x1020);
    CU_ASSERT_EQUAL(cpu.r[2], 55);
    CU_ASSERT_EQUAL(get_le64(cpu.mem + 0x108), 55);
    cpu_free(&cpu);
}

/* Every op once, with destinations and sources both cached (used often)
 * and uncached (r200 and up, used once). */
static void test_every_op(void)
{
    static const char *text =
        "memory 0x1000\n"
        "data 0x10 hex 80 ff 7f 01 fe ff ff 7f 99 88 77 66 55 44 33 22\n"
        "block 0 {\n"
        " nop\n movi r1, -7\n movi r2, 3\n movi r200, 0x123456789\n"
        " add r3, r1, r2\n sub r4, r1, r2\n mul r5, r1, r2\n"
        " and r6, r1, r200\n or r7, r1, r2\n xor r8, r1, r200\n"
        " divs r9, r1, r2\n divu r10, r1, r2\n rems r11, r1, r2\n"
        " remu r12, r1, r2\n not r13, r1\n sll r14, r200, r2\n"
        " srl r15, r1, r2\n sra r16, r1, r2\n addi r17, r1, 100\n"
        " muli r18, r1, -3\n mov r19, r1\n slli r20, r1, 4\n srli r21, r1, 60\n"
        " srai r22, r1, 1\n cmpeq r23, r1, r1\n cmpne r24, r1, r2\n"
        " cmplt r25, r1, r2\n cmpltu r26, r1, r2\n cmpge r27, r1, r2\n"
        " cmpgeu r28, r1, r2\n select r29, r2, r1, r200\n"
        " select r30, r0, r1, r200\n"
        " movi r31, 0x10\n load r32, [r31], s8\n load r33, [r31], u8\n"
        " load r34, [r31 + 1], s16\n load r35, [r31 + 4], s32\n"
        " load r36, [r31 + 4], u32\n load r37, [r31 + 8], u64\n"
        " load r38, [r31 + 0], u16\n"
        " store [r31 + 0x20], r200, u64\n store [r31 + 0x30], r1, u8\n"
        " store [r31 + 0x32], r1, u16\n store [r31 + 0x34], r200, u32\n"
        " add r201, r202, r203\n sub r204, r200, r205\n mul r206, r200, r200\n"
        " divs r207, r200, r2\n cmplt r208, r200, r2\n"
        " select r209, r210, r200, r2\n load r211, [r31 + 8], u64\n"
        " store [r31 + 0x40], r200, u64\n"
        " ret\n}\n";
    aotb_cpu cpu;
    if (run_text(text, NULL, &cpu) != 0)
        return;
    CU_ASSERT_EQUAL(cpu.r[3], (uint64_t)-4);
    CU_ASSERT_EQUAL(cpu.r[4], (uint64_t)-10);
    CU_ASSERT_EQUAL(cpu.r[5], (uint64_t)-21);
    CU_ASSERT_EQUAL(cpu.r[9], (uint64_t)-2);         /* -7 / 3 truncates */
    CU_ASSERT_EQUAL(cpu.r[10], 0x5555555555555553ull); /* (2^64-7) / 3 */
    CU_ASSERT_EQUAL(cpu.r[11], (uint64_t)-1);
    CU_ASSERT_EQUAL(cpu.r[12], 0);                   /* 2^64-7 = 3*.. + 0 */
    CU_ASSERT_EQUAL(cpu.r[13], 6);
    CU_ASSERT_EQUAL(cpu.r[16], (uint64_t)-1);        /* -7 >> 3 arith */
    CU_ASSERT_EQUAL(cpu.r[18], 21);
    CU_ASSERT_EQUAL(cpu.r[21], 0xf);
    CU_ASSERT_EQUAL(cpu.r[25], 1);
    CU_ASSERT_EQUAL(cpu.r[26], 0);
    CU_ASSERT_EQUAL(cpu.r[29], (uint64_t)-7);
    CU_ASSERT_EQUAL(cpu.r[30], 0x123456789ull);
    CU_ASSERT_EQUAL(cpu.r[32], 0xffffffffffffff80ull);
    CU_ASSERT_EQUAL(cpu.r[33], 0x80);
    CU_ASSERT_EQUAL(cpu.r[34], 0x7fff);
    CU_ASSERT_EQUAL(cpu.r[35], 0x7ffffffe);
    CU_ASSERT_EQUAL(cpu.r[38], 0xff80);
    CU_ASSERT_EQUAL(cpu.mem[0x40], 0xf9);
    CU_ASSERT_EQUAL(get_le32(cpu.mem + 0x44), 0x23456789u);
    cpu_free(&cpu);
}

/* Binary ops over pairs of special values, in every aliasing shape
 * (d = a, d = b, a = b, all distinct) and with cached (r1..r3, used
 * repeatedly) and uncached (r250..r252) registers. */
static void test_binary_specials(void)
{
    static const char *ops[] = {
        "add", "sub", "mul", "and", "or", "xor", "divs", "divu", "rems",
        "remu", "sll", "srl", "sra", "cmpeq", "cmpne", "cmplt", "cmpltu",
        "cmpge", "cmpgeu",
    };
    const size_t nops = sizeof ops / sizeof ops[0];
    buf t = {0};
    int failures = 0;
    for (size_t o = 0; o < nops; o++) {
        t.len = 0;
        buf_printf(&t, "memory 0x100\nblock 0 {\n");
        /* cached: r1, r2 read many times */
        buf_printf(&t, " %s r3, r1, r2\n %s r4, r2, r1\n %s r5, r1, r1\n",
                   ops[o], ops[o], ops[o]);
        buf_printf(&t, " mov r6, r1\n %s r6, r6, r2\n", ops[o]);
        buf_printf(&t, " mov r7, r2\n %s r7, r1, r7\n", ops[o]);
        buf_printf(&t, " mov r8, r1\n %s r8, r8, r8\n", ops[o]);
        /* uncached: each read once */
        buf_printf(&t, " mov r250, r1\n mov r251, r2\n"
                       " %s r252, r250, r251\n", ops[o]);
        buf_printf(&t, " %s r249, r1, r251\n %s r248, r250, r2\n",
                   ops[o], ops[o]);
        buf_printf(&t, " ret\n}\n");
        buf_put8(&t, 0);
        for (size_t i = 0; i < NSPECIAL; i++)
            for (size_t k = 0; k < NSPECIAL; k++) {
                uint64_t regs[3] = { 0, specials[i], specials[k] };
                native_setup s = { .regs = regs, .nregs = 3 };
                if (native_compare_text((const char *)t.data, &s, NULL) != 0 &&
                    failures++ < 5)
                    fprintf(stderr, "  %s with 0x%" PRIx64 ", 0x%" PRIx64 "\n",
                            ops[o], specials[i], specials[k]);
            }
    }
    CU_ASSERT_EQUAL(failures, 0);
    buf_free(&t);
}

/* The division corners by hand (d = r3: divs, r4 divu, r5 rems, r6 remu). */
static void test_division_corners(void)
{
    static const char *text =
        "block 0 {\n divs r3, r1, r2\n divu r4, r1, r2\n rems r5, r1, r2\n"
        " remu r6, r1, r2\n ret\n}\n";
    static const struct {
        uint64_t a, b, divs, divu, rems, remu;
    } c[] = {
        { 5, 0, ONES, ONES, 5, 5 },
        { MIN64, ONES, MIN64, 0, 0, MIN64 },
        { MIN64, 0, ONES, ONES, MIN64, MIN64 },
        { 7, ONES, (uint64_t)-7, 0, 0, 7 },
        { (uint64_t)-7, 2, (uint64_t)-3, 0x7ffffffffffffffcull, (uint64_t)-1,
          1 },
        { 0, 0, ONES, ONES, 0, 0 },
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        uint64_t regs[3] = { 0, c[i].a, c[i].b };
        native_setup s = { .regs = regs, .nregs = 3 };
        aotb_cpu cpu;
        if (run_text(text, &s, &cpu) != 0)
            continue;
        CU_ASSERT_EQUAL(cpu.r[3], c[i].divs);
        CU_ASSERT_EQUAL(cpu.r[4], c[i].divu);
        CU_ASSERT_EQUAL(cpu.r[5], c[i].rems);
        CU_ASSERT_EQUAL(cpu.r[6], c[i].remu);
        cpu_free(&cpu);
    }
}

/* Immediate forms with immediates that fit imm8, imm32 and only imm64. */
static void test_immediates(void)
{
    static const char *imms[] = {
        "0", "1", "-1", "127", "128", "-128", "-129", "0x7fffffff",
        "0x80000000", "-0x80000000", "-0x80000001", "0xffffffff",
        "0x100000000", "0x7fffffffffffffff", "-0x8000000000000000",
        "-0x7fffffffffffffff", "0x123456789abcdef0",
    };
    buf t = {0};
    for (size_t i = 0; i < sizeof imms / sizeof imms[0]; i++) {
        t.len = 0;
        buf_printf(&t,
                   "block 0 {\n addi r2, r1, %s\n muli r3, r1, %s\n"
                   " movi r4, %s\n addi r1, r1, %s\n muli r5, r5, %s\n"
                   " addi r200, r1, %s\n muli r201, r1, %s\n movi r202, %s\n"
                   " addi r203, r204, %s\n muli r205, r206, %s\n"
                   " add r7, r4, r5\n add r7, r7, r2\n add r7, r7, r3\n"
                   " jmpreg r4, %s\n}\n",
                   imms[i], imms[i], imms[i], imms[i], imms[i], imms[i],
                   imms[i], imms[i], imms[i], imms[i], imms[i]);
        buf_put8(&t, 0);
        for (size_t k = 0; k < NSPECIAL; k += 3) {
            uint64_t regs[6] = { 0, specials[k], 0, 0, 0, specials[k] ^ 5 };
            native_setup s = { .regs = regs, .nregs = 6, .max_blocks = 10 };
            check_text((const char *)t.data, &s);
        }
    }
    buf_free(&t);
}

static void test_shift_imm(void)
{
    buf t = {0};
    for (unsigned sh = 0; sh < 64; sh++) {
        t.len = 0;
        buf_printf(&t, "block 0 {\n slli r2, r1, %u\n srli r3, r1, %u\n"
                       " srai r4, r1, %u\n srai r200, r1, %u\n"
                       " slli r1, r1, %u\n ret\n}\n", sh, sh, sh, sh, sh);
        buf_put8(&t, 0);
        uint64_t regs[2] = { 0, 0x8123456789abcdefull };
        native_setup s = { .regs = regs, .nregs = 2 };
        aotb_cpu cpu;
        if (run_text((const char *)t.data, &s, &cpu) != 0)
            continue;
        CU_ASSERT_EQUAL(cpu.r[2], regs[1] << sh);
        CU_ASSERT_EQUAL(cpu.r[3], regs[1] >> sh);
        /* arithmetic shift by hand: fill the vacated bits with the sign */
        uint64_t want = regs[1] >> sh;
        if (sh)
            want |= ~(ONES >> sh);
        CU_ASSERT_EQUAL(cpu.r[4], want);
        cpu_free(&cpu);
    }
    buf_free(&t);
}

/* Loads of every type with zero and sign extension, at the last valid
 * address, and stores that must change exactly their bytes. */
static void test_extension_and_bounds(void)
{
    static const char *text =
        "memory 0x100\n"
        "data 0xf0 hex 81 82 83 84 85 86 87 88 89 8a 8b 8c 8d 8e 8f 90\n"
        "block 0 {\n"
        " movi r1, 0xf8\n"
        " load r2, [r1 + 7], u8\n load r3, [r1 + 7], s8\n"
        " load r4, [r1 + 6], u16\n load r5, [r1 + 6], s16\n"
        " load r6, [r1 + 4], u32\n load r7, [r1 + 4], s32\n"
        " load r8, [r1], u64\n load r9, [r1], s64\n"
        " store [r1 - 8], r0, u64\n store [r1 - 0x10], r3, u16\n"
        " ret\n}\n";
    aotb_cpu cpu;
    if (run_text(text, NULL, &cpu) != 0)
        return;
    CU_ASSERT_EQUAL(cpu.r[2], 0x90);
    CU_ASSERT_EQUAL(cpu.r[3], 0xffffffffffffff90ull);
    CU_ASSERT_EQUAL(cpu.r[4], 0x908f);
    CU_ASSERT_EQUAL(cpu.r[5], 0xffffffffffff908full);
    CU_ASSERT_EQUAL(cpu.r[6], 0x908f8e8dull);
    CU_ASSERT_EQUAL(cpu.r[7], 0xffffffff908f8e8dull);
    CU_ASSERT_EQUAL(cpu.r[8], 0x908f8e8d8c8b8a89ull);
    CU_ASSERT_EQUAL(cpu.r[9], 0x908f8e8d8c8b8a89ull);
    CU_ASSERT_EQUAL(get_le64(cpu.mem + 0xf0), 0);
    CU_ASSERT_EQUAL(cpu.mem[0xe8], 0x90);
    CU_ASSERT_EQUAL(cpu.mem[0xe9], 0xff);
    CU_ASSERT_EQUAL(cpu.mem[0xea], 0);
    cpu_free(&cpu);
}

/* One access just past the end for each size, and wrapping addresses. */
static void test_out_of_bounds(void)
{
    static const struct {
        const char *access;
        uint64_t addr;
    } c[] = {
        { "load r2, [r1 + 0x100], u8", 0x100 },
        { "load r2, [r1 + 0xff], u16", 0xff },
        { "load r2, [r1 + 0xfd], s32", 0xfd },
        { "load r2, [r1 + 0xf9], u64", 0xf9 },
        { "store [r1 + 0x100], r1, u8", 0x100 },
        { "store [r1 + 0xff], r1, u16", 0xff },
        { "store [r1 + 0xfd], r1, u32", 0xfd },
        { "store [r1 + 0xf9], r1, u64", 0xf9 },
        { "load r2, [r1 - 1], u8", ONES },
        { "load r2, [r1 + 0x7fffffffffffffff], u8", MAX64 },
        { "load r2, [r1 - 0x80000001], u64", (uint64_t)-0x80000001ll },
        { "store [r1 + 0xffffffffffffff00], r1, u64", 0xffffffffffffff00ull },
    };
    buf t = {0};
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        t.len = 0;
        buf_printf(&t, "memory 0x100\nblock 0x40 {\n movi r3, 1\n %s\n"
                       " movi r3, 2\n ret\n}\n", c[i].access);
        buf_put8(&t, 0);
        aotb_cpu cpu;
        if (run_text((const char *)t.data, NULL, &cpu) != 0)
            continue;
        CU_ASSERT_EQUAL(cpu.status, AOTB_ST_MEMFAULT);
        CU_ASSERT_EQUAL(cpu.info, c[i].addr);
        CU_ASSERT_EQUAL(cpu.pc, 0x40);
        CU_ASSERT_EQUAL(cpu.r[3], 1);
        cpu_free(&cpu);
    }
    /* a wrapping address that lands inside memory is fine */
    check_text("memory 0x100\nblock 0 {\n movi r1, -1\n"
               " store [r1 + 0x11], r1, u64\n load r2, [r1 + 0x11], u64\n"
               " ret\n}\n", NULL);
    buf_free(&t);
}

/* A fault after many cached registers were modified: every op before the
 * fault (registers and stores) has taken effect, none after it. */
static void test_memfault_precise(void)
{
    static const char *text =
        "memory 0x1000\n"
        "block 0x2000 {\n"
        " movi r1, 11\n movi r2, 22\n addi r1, r1, 1\n addi r2, r2, 1\n"
        " movi r3, 0x800\n store [r3], r1, u64\n addi r3, r3, 8\n"
        " load r4, [r3 - 8], u64\n addi r4, r4, 100\n"
        " movi r5, 0x1000\n"
        " store [r5 + 8], r2, u64\n"       /* r5 is dirty too */
        " movi r1, 99\n movi r2, 99\n movi r4, 99\n store [r3], r1, u64\n"
        " ret\n}\n";
    aotb_cpu cpu;
    if (run_text(text, NULL, &cpu) != 0)
        return;
    CU_ASSERT_EQUAL(cpu.status, AOTB_ST_MEMFAULT);
    CU_ASSERT_EQUAL(cpu.pc, 0x2000);
    CU_ASSERT_EQUAL(cpu.info, 0x1008);
    CU_ASSERT_EQUAL(cpu.r[1], 12);
    CU_ASSERT_EQUAL(cpu.r[2], 23);
    CU_ASSERT_EQUAL(cpu.r[3], 0x808);
    CU_ASSERT_EQUAL(cpu.r[4], 112);
    CU_ASSERT_EQUAL(cpu.r[5], 0x1000);
    CU_ASSERT_EQUAL(get_le64(cpu.mem + 0x800), 12);
    CU_ASSERT_EQUAL(get_le64(cpu.mem + 0x808), 0);
    cpu_free(&cpu);
}

/* ---- control ------------------------------------------------------------- */

static void test_budget_self_loop(void)
{
    native_setup s = { .max_blocks = 1000 };
    aotb_cpu cpu;
    if (run_text("block 0 {\n addi r1, r1, 1\n jmp 0\n}\n", &s, &cpu) != 0)
        return;
    CU_ASSERT_EQUAL(cpu.status, AOTB_ST_BUDGET);
    CU_ASSERT_EQUAL(cpu.pc, 0);
    CU_ASSERT_EQUAL(cpu.r[1], 1000);
    CU_ASSERT_EQUAL(cpu.budget, 0);
    cpu_free(&cpu);

    /* a budget stop reports the block that would run next */
    static const char *chain =
        "block 0x10 {\n addi r1, r1, 1\n jmp 0x20\n}\n"
        "block 0x20 {\n addi r2, r2, 1\n condjmp r2, 0x10, 0x10\n}\n";
    for (uint64_t n = 1; n <= 6; n++) {
        native_setup s2 = { .max_blocks = n };
        if (run_text(chain, &s2, &cpu) != 0)
            continue;
        CU_ASSERT_EQUAL(cpu.status, AOTB_ST_BUDGET);
        CU_ASSERT_EQUAL(cpu.pc, n % 2 ? 0x20 : 0x10);
        CU_ASSERT_EQUAL(cpu.r[1], (n + 1) / 2);
        CU_ASSERT_EQUAL(cpu.r[2], n / 2);
        cpu_free(&cpu);
    }
}

static void test_call_ret(void)
{
    static const char *text =
        "entry 0x100\n"
        "block 0x100 {\n movi r1, 1\n call 0x200, 0x110\n}\n"
        "block 0x110 {\n addi r1, r1, 1000\n ret\n}\n"
        "block 0x200 {\n addi r1, r1, 10\n call 0x300, 0x210\n}\n"
        "block 0x210 {\n addi r1, r1, 100\n ret\n}\n"
        "block 0x300 {\n muli r1, r1, 2\n ret\n}\n";
    aotb_cpu cpu;
    if (run_text(text, NULL, &cpu) != 0)
        return;
    CU_ASSERT_EQUAL(cpu.status, AOTB_ST_RET);
    CU_ASSERT_EQUAL(cpu.pc, 0x110);
    CU_ASSERT_EQUAL(cpu.r[1], (1 + 10) * 2 + 100 + 1000);
    CU_ASSERT_EQUAL(cpu.rsp, 0);
    cpu_free(&cpu);
    /* a return address that does not fit imm32 */
    check_text("block 0 {\n call 0x10, 0x8000000000000000\n}\n"
               "block 0x10 {\n ret\n}\n", NULL);
}

static void test_callstack_overflow(void)
{
    native_setup s = { .rcap = 10 };
    aotb_cpu cpu;
    if (run_text("block 0 {\n addi r1, r1, 1\n call 0, 0x100\n}\n", &s,
                 &cpu) != 0)
        return;
    CU_ASSERT_EQUAL(cpu.status, AOTB_ST_CALLSTACK);
    CU_ASSERT_EQUAL(cpu.pc, 0);
    CU_ASSERT_EQUAL(cpu.rsp, 10);
    CU_ASSERT_EQUAL(cpu.r[1], 11);
    cpu_free(&cpu);
    /* the full default capacity */
    check_text("block 0 {\n addi r1, r1, 1\n call 0, 0x100\n}\n", NULL);
}

/* Host calls (codegen.c): a guest call is a host call, a guest ret a host
 * ret, with at most HOST_FRAMES (256) host frames, written to the return
 * stack when dropped; a ret with none left pops the return stack.  The recursion below returns
 * to one of two blocks by the depth's parity, and each mixes r2 its own
 * way, so a ret that reached the wrong frame changes r2.  Depths around
 * and far past 256, run whole and resumed after every budget stop (so
 * the rets of frames pushed by an earlier entry pop the return stack). */
static const char host_calls_text[] =
    "entry 0x100\n"
    "block 0x100 {\n movi r2, 0\n call 0x200, 0x110\n}\n"
    "block 0x110 {\n ret\n}\n"
    "block 0x200 {\n condjmp r1, 0x208, 0x220\n}\n"
    "block 0x208 {\n slli r3, r1, 63\n condjmp r3, 0x210, 0x214\n}\n"
    "block 0x210 {\n addi r1, r1, -1\n call 0x200, 0x230\n}\n"
    "block 0x214 {\n addi r1, r1, -1\n call 0x200, 0x240\n}\n"
    "block 0x220 {\n movi r2, 7\n ret\n}\n"
    "block 0x230 {\n addi r1, r1, 1\n muli r2, r2, 3\n add r2, r2, r1\n"
    " ret\n}\n"
    "block 0x240 {\n addi r1, r1, 1\n muli r2, r2, 5\n xor r2, r2, r1\n"
    " ret\n}\n";

/* The same recursion in C: r2 for depth d. */
static uint64_t host_calls_model(uint64_t d)
{
    if (d == 0)
        return 7;
    uint64_t r = host_calls_model(d - 1);
    return d % 2 ? r * 3 + d : (r * 5) ^ d;
}

static void test_host_calls(void)
{
    static const uint64_t depths[] = {1, 2, 255, 256, 257, 258, 511, 512,
                                      513, 1000, 3001};
    static const uint64_t budgets[] = {1, 2, 3, 5, 64, 255, 256, 257, 700};
    ir_program p;
    aotb_diag d = {0};
    CU_ASSERT_EQUAL_FATAL(ir_parse("host", host_calls_text,
                                   strlen(host_calls_text), &p, &d), 0);
    native_prog np;
    CU_ASSERT_EQUAL_FATAL(native_build(&p, &np), 0);
    size_t bad = 0;
    for (size_t i = 0; i < sizeof depths / sizeof depths[0]; i++) {
        uint64_t regs[2] = {0, depths[i]};
        native_setup s = {.regs = regs, .nregs = 2};
        aotb_cpu cpu;
        /* whole: everything against the interpreter, r2 against C */
        if (native_compare(&p, &s, &cpu) != 0) {
            bad++;
            continue;
        }
        if (cpu.status != AOTB_ST_RET || cpu.pc != 0x110 || cpu.rsp != 0 ||
            cpu.r[2] != host_calls_model(depths[i]))
            bad++;
        cpu_free(&cpu);
        /* resumed after every budget stop */
        for (size_t k = 0; k < sizeof budgets / sizeof budgets[0]; k++) {
            if (native_cpu_setup(&p, &s, &cpu) != 0) {
                bad++;
                continue;
            }
            uint64_t pc = p.entry, stops = 0;
            for (;;) {
                cpu.budget = budgets[k];
                native_run(&np, &cpu, pc);
                if (cpu.status != AOTB_ST_BUDGET || stops > 100000)
                    break;
                stops++;
                pc = cpu.pc;
            }
            /* 3 blocks per level down, 1 up, 4 at the ends */
            uint64_t blocks = 4 * depths[i] + 4;
            if (cpu.status != AOTB_ST_RET || cpu.pc != 0x110 ||
                cpu.rsp != 0 || cpu.r[2] != host_calls_model(depths[i]) ||
                cpu.r[1] != depths[i] ||
                stops != (blocks - 1) / budgets[k])
                bad++;
            cpu_free(&cpu);
        }
    }
    CU_ASSERT_EQUAL(bad, 0);
    native_free(&np);

    /* Stops with host frames live (the frames then go to the return
     * stack): budget stops on the way down, at the deepest point and on
     * the way up, and a fault at the deepest point, each compared whole
     * (status, pc, registers, the return stack entry by entry) with the
     * interpreter. */
    bad = 0;
    for (size_t i = 0; i < sizeof depths / sizeof depths[0]; i++) {
        uint64_t dd = depths[i];
        uint64_t stops[] = {2, 3, 3 * dd - 1, 3 * dd, 3 * dd + 1,
                            3 * dd + 2 + dd / 2, 4 * dd + 3};
        uint64_t regs[2] = {0, dd};
        for (size_t k = 0; k < sizeof stops / sizeof stops[0]; k++) {
            native_setup s = {.regs = regs, .nregs = 2,
                              .max_blocks = stops[k]};
            aotb_cpu cpu;
            if (native_compare(&p, &s, &cpu) != 0) {
                bad++;
                continue;
            }
            bad += cpu.status != AOTB_ST_BUDGET;
            cpu_free(&cpu);
        }
    }
    CU_ASSERT_EQUAL(bad, 0);
    ir_program_free(&p);
    /* The leaf loads from r9 = -1, out of range, instead of movi. */
    const char *leaf = strstr(host_calls_text, " movi r2, 7\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(leaf);
    size_t at = (size_t)(leaf - host_calls_text);
    char faulting[sizeof host_calls_text + 16];
    snprintf(faulting, sizeof faulting, "%.*s load r2, [r9], u64%s", (int)at,
             host_calls_text, leaf + strlen(" movi r2, 7"));
    CU_ASSERT_EQUAL_FATAL(ir_parse("fault", faulting, strlen(faulting), &p,
                                   &d), 0);
    bad = 0;
    for (size_t i = 0; i < sizeof depths / sizeof depths[0]; i++) {
        uint64_t regs[10] = {0, depths[i], 0, 0, 0, 0, 0, 0, 0, UINT64_MAX};
        native_setup s = {.regs = regs, .nregs = 10};
        aotb_cpu cpu;
        if (native_compare(&p, &s, &cpu) != 0) {
            bad++;
            continue;
        }
        bad += cpu.status != AOTB_ST_MEMFAULT || cpu.rsp != depths[i] + 1;
        cpu_free(&cpu);
    }
    CU_ASSERT_EQUAL(bad, 0);
    ir_program_free(&p);
    diag_free(&d);
}

/* The cap on host frames: 65,536 nested calls (a full return stack)
 * would take 512 KB of host stack as host frames; run on a thread with a
 * 128 KB stack they must still end in the callstack stop. */
typedef struct deep_run {
    const native_prog *np;
    aotb_cpu *cpu;
} deep_run;

static void *deep_thread(void *arg)
{
    deep_run *r = arg;
    native_run(r->np, r->cpu, 0);
    return NULL;
}

static void test_host_frames_capped(void)
{
    static const char text[] = "block 0 {\n addi r1, r1, 1\n call 0, 0x100\n}\n";
    ir_program p;
    aotb_diag d = {0};
    CU_ASSERT_EQUAL_FATAL(ir_parse("deep", text, strlen(text), &p, &d), 0);
    native_prog np;
    aotb_cpu cpu;
    CU_ASSERT_EQUAL_FATAL(native_build(&p, &np), 0);
    CU_ASSERT_EQUAL_FATAL(native_cpu_setup(&p, NULL, &cpu), 0);
    pthread_attr_t a;
    pthread_t t;
    deep_run r = {&np, &cpu};
    CU_ASSERT_EQUAL(pthread_attr_init(&a), 0);
    CU_ASSERT_EQUAL(pthread_attr_setstacksize(&a, 128 * 1024), 0);
    if (pthread_create(&t, &a, deep_thread, &r) == 0) {
        pthread_join(t, NULL);
        CU_ASSERT_EQUAL(cpu.status, AOTB_ST_CALLSTACK);
        CU_ASSERT_EQUAL(cpu.rsp, IR_RSTACK_ENTRIES);
        CU_ASSERT_EQUAL(cpu.r[1], IR_RSTACK_ENTRIES + 1);
    } else {
        CU_FAIL("pthread_create");
    }
    pthread_attr_destroy(&a);
    cpu_free(&cpu);
    native_free(&np);
    ir_program_free(&p);
    diag_free(&d);
}

static void test_jmpreg(void)
{
    static const uint64_t targets[] = {
        0x30, 0x40, 0x31, 0x7fff00001234ull, 0x7fffffffffffffffull, ONES, 0,
        MIN64,
    };
    static const char *text =
        "block 0 {\n mov r3, r1\n jmpreg r1, 0\n}\n"
        "block 0x30 {\n movi r2, 3\n jmpreg r4, 0x40\n}\n"
        "block 0x40 {\n addi r2, r2, 4\n ret\n}\n"
        "block 0x50 {\n jmpreg r200, -0x10\n}\n";
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        uint64_t regs[2] = { 0, targets[i] };
        native_setup s = { .regs = regs, .nregs = 2, .max_blocks = 100 };
        aotb_cpu cpu;
        if (run_text(text, &s, &cpu) != 0)
            continue;
        switch (targets[i]) {
        case 0:
            CU_ASSERT_EQUAL(cpu.status, AOTB_ST_BUDGET);
            break;
        case 0x30:
            CU_ASSERT_EQUAL(cpu.status, AOTB_ST_RET);
            CU_ASSERT_EQUAL(cpu.r[2], 7);
            break;
        case 0x40:
            CU_ASSERT_EQUAL(cpu.status, AOTB_ST_RET);
            CU_ASSERT_EQUAL(cpu.r[2], 4);
            break;
        default:
            CU_ASSERT_EQUAL(cpu.status, AOTB_ST_NOCODE);
            CU_ASSERT_EQUAL(cpu.pc, targets[i]);
        }
        cpu_free(&cpu);
    }
    /* uncached register and an imm64 offset */
    check_text("block 0 {\n jmpreg r200, 0x123456789\n}\n", NULL);
    check_text("block 0x50 {\n movi r200, 0x70\n jmpreg r200, -0x10\n}\n",
               NULL);
}

static void test_missing_targets(void)
{
    static const char *progs[] = {
        "block 0 {\n addi r1, r1, 1\n jmp 0x5000\n}\n",
        "block 0 {\n movi r1, 1\n condjmp r1, 0x5000, 0\n}\n",
        "block 0 {\n condjmp r1, 0, 0x6000\n}\n",
        "block 0 {\n call 0x7000, 0x10\n}\n",
        "block 0 {\n condjmp r1, 0x8000, 0x8000\n}\n",
    };
    static const uint64_t want[] = { 0x5000, 0x5000, 0x6000, 0x7000, 0x8000 };
    for (size_t i = 0; i < sizeof progs / sizeof progs[0]; i++) {
        /* a missing pc costs no budget: one block is enough */
        native_setup s = { .max_blocks = 1 };
        aotb_cpu cpu;
        if (run_text(progs[i], &s, &cpu) != 0)
            continue;
        CU_ASSERT_EQUAL(cpu.status, AOTB_ST_NOCODE);
        CU_ASSERT_EQUAL(cpu.pc, want[i]);
        CU_ASSERT_EQUAL(cpu.budget, 0);
        cpu_free(&cpu);
    }
}

static void test_fault_interrupt(void)
{
    aotb_cpu cpu;
    if (run_text("block 0x10 {\n movi r1, 5\n fault 0xffffffffffffffff\n}\n",
                 NULL, &cpu) == 0) {
        CU_ASSERT_EQUAL(cpu.status, AOTB_ST_FAULT);
        CU_ASSERT_EQUAL(cpu.info, ONES);
        CU_ASSERT_EQUAL(cpu.pc, 0x10);
        CU_ASSERT_EQUAL(cpu.r[1], 5);
        cpu_free(&cpu);
    }
    if (run_text("block 0x10 {\n interrupt 0x80, 0x123456789abc\n}\n", NULL,
                 &cpu) == 0) {
        CU_ASSERT_EQUAL(cpu.status, AOTB_ST_INTERRUPT);
        CU_ASSERT_EQUAL(cpu.info, 0x80);
        CU_ASSERT_EQUAL(cpu.pc, 0x123456789abcull);
        cpu_free(&cpu);
    }
    check_text("block 0x8000000000000000 {\n interrupt 3\n}\n", NULL);
    check_text("block 0xffffffffffffff00 {\n fault 7\n}\n", NULL);
}

/* condjmp right after the compare that produced its condition branches on
 * the compare's flags; also across a nop and across a superblock seam
 * (where the budget check clobbers the flags). */
static void test_compare_branch(void)
{
    static const char *cmps[] = { "cmpeq", "cmpne", "cmplt", "cmpltu",
                                  "cmpge", "cmpgeu" };
    static const uint64_t vals[] = { 0, 1, ONES, MIN64, MAX64 };
    buf t = {0};
    for (size_t k = 0; k < 6; k++)
        for (int shape = 0; shape < 4; shape++) {
            t.len = 0;
            if (shape == 0)
                buf_printf(&t, "block 0 {\n %s r3, r1, r2\n"
                               " condjmp r3, 0x10, 0x20\n}\n", cmps[k]);
            else if (shape == 1)
                buf_printf(&t, "block 0 {\n %s r1, r1, r2\n nop\n"
                               " condjmp r1, 0x10, 0x20\n}\n", cmps[k]);
            else if (shape == 2)
                buf_printf(&t, "block 0 {\n %s r3, r1, r2\n"
                               " condjmp r4, 0x10, 0x20\n}\n", cmps[k]);
            else
                buf_printf(&t, "block 0 {\n %s r200, r1, r2\n jmp 0x30\n}\n"
                               "block 0x30 {\n condjmp r200, 0x10, 0x20\n}\n",
                           cmps[k]);
            buf_printf(&t, "block 0x10 {\n interrupt 1\n}\n"
                           "block 0x20 {\n interrupt 2\n}\n");
            buf_put8(&t, 0);
            for (size_t i = 0; i < 5; i++)
                for (size_t j = 0; j < 5; j++) {
                    uint64_t regs[5] = { 0, vals[i], vals[j], 0, vals[j] };
                    native_setup st = { .regs = regs, .nregs = 5, .fold = 4 };
                    check_text((const char *)t.data, &st);
                }
        }
    buf_free(&t);
}

/* A self loop whose last op compares into the condition's register: the
 * register holds the compare's value at every stop, including budget stops
 * and faults in a later iteration (where it is the previous iteration's
 * result) and in the first (where it is still the initial value), for a
 * loop on either edge and a compare that reads its own destination.  The
 * loads and stores address through a cached register, so a fault reports
 * the address from that register. */
static void test_loop_compare(void)
{
    static const char *loops[] = {
        /* loops while taken; the load faults at 0x1000 in iteration 5 */
        "memory 0x1000\nblock 0 {\n load r5, [r2], u64\n addi r2, r2, 0x400\n"
        " addi r1, r1, 1\n cmpltu r4, r1, r3\n condjmp r4, 0, 0x10\n}\n"
        "block 0x10 {\n interrupt 1\n}\n",
        /* loops while not taken; the compare reads its destination */
        "memory 0x1000\nblock 0 {\n addi r1, r1, 1\n store [r2 + 8], r1, u64\n"
        " addi r2, r2, 0x400\n sub r4, r3, r1\n cmpeq r4, r4, r0\n"
        " condjmp r4, 0x10, 0\n}\n"
        "block 0x10 {\n interrupt 1\n}\n",
    };
    static const uint64_t limits[] = { 0, 1, 2, 3, 4, 9 };
    for (size_t l = 0; l < 2; l++)
        for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++)
            for (uint64_t n = 0; n <= 7; n++) {
                uint64_t regs[6] = { 0, 0, 0, limits[i], 7, 7 };
                native_setup st = { .max_blocks = n, .regs = regs,
                                    .nregs = 6 };
                check_text(loops[l], &st);
            }

    /* Worked by hand: a budget stop before iteration 3 of the first loop
     * (limit 9) sees r4 = 1 from iteration 2; the fault in iteration 5 sees
     * r4 = 1 and address 0x1000; a stop before iteration 3 of the second
     * sees r4 = 0. */
    aotb_cpu cpu;
    uint64_t regs[6] = { 0, 0, 0, 9, 7, 7 };
    native_setup st = { .max_blocks = 2, .regs = regs, .nregs = 6 };
    if (run_text(loops[0], &st, &cpu) == 0) {
        CU_ASSERT_EQUAL(cpu.status, AOTB_ST_BUDGET);
        CU_ASSERT_EQUAL(cpu.r[1], 2);
        CU_ASSERT_EQUAL(cpu.r[4], 1);
        cpu_free(&cpu);
    }
    st.max_blocks = 0;
    if (run_text(loops[0], &st, &cpu) == 0) {
        CU_ASSERT_EQUAL(cpu.status, AOTB_ST_MEMFAULT);
        CU_ASSERT_EQUAL(cpu.info, 0x1000);
        CU_ASSERT_EQUAL(cpu.r[1], 4);
        CU_ASSERT_EQUAL(cpu.r[4], 1);
        cpu_free(&cpu);
    }
    st.max_blocks = 2;
    if (run_text(loops[1], &st, &cpu) == 0) {
        CU_ASSERT_EQUAL(cpu.status, AOTB_ST_BUDGET);
        CU_ASSERT_EQUAL(cpu.r[1], 2);
        CU_ASSERT_EQUAL(cpu.r[4], 0);
        cpu_free(&cpu);
    }
}

/* Small self loops are unrolled (codegen.c: after the first iteration,
 * eight copies of bodies of up to 8 ops, four of bodies of up to 16, the
 * bounds checks of addi-stepped address registers done at the copies'
 * head; the loops below have 8, 5, 10, 9, 3 and 6 ops).  Every stop must still match the interpreter: exits,
 * budget stops and faults in each copy, the fallback to checked iterations
 * near the end of memory, steps down through 0, uncached and unqualified
 * address registers, a condition register written twice, and loops with
 * no exit. */
static void test_unrolled_loops(void)
{
    static const char *loops[] = {
        /* two pointers up, accesses before and after the steps, 3 sizes */
        "memory 0x100\nblock 0 {\n load r5, [r2], u64\n"
        " store [r6 + 4], r5, u32\n addi r2, r2, 8\n addi r6, r6, 8\n"
        " store [r6 - 2], r1, u16\n addi r1, r1, 1\n cmpltu r4, r1, r3\n"
        " condjmp r4, 0, 0x10\n}\nblock 0x10 {\n interrupt 1\n}\n",
        /* down through 0, byte loads at an offset, exit on the other edge */
        "memory 0x100\nblock 0 {\n load r5, [r2 + 16], s8\n add r7, r7, r5\n"
        " addi r2, r2, -4\n addi r1, r1, 1\n cmpeq r4, r1, r3\n"
        " condjmp r4, 0x10, 0\n}\nblock 0x10 {\n interrupt 1\n}\n",
        /* more registers than cache slots: r200 steps uncached; r6 is
         * loop-invariant */
        "memory 0x100\nblock 0 {\n load r20, [r200 + 1], u16\n"
        " add r21, r21, r20\n xor r22, r22, r21\n or r23, r23, r22\n"
        " sub r24, r24, r23\n and r25, r25, r24\n store [r6], r25, u64\n"
        " addi r200, r200, 3\n addi r1, r1, 1\n cmpltu r4, r1, r3\n"
        " condjmp r4, 0, 0x10\n}\nblock 0x10 {\n interrupt 1\n}\n",
        /* no hoisting: r2 changes by mov, r8 has a large offset; r4 is
         * written (0) before the last compare writes it too */
        "memory 0x100\nblock 0 {\n cmpgeu r4, r2, r6\n load r5, [r2], u32\n"
        " mov r2, r6\n addi r6, r6, 4\n store [r2 + 8], r5, u8\n"
        " addi r8, r8, 1\n load r9, [r8 + 0x1000000], u8\n"
        " addi r1, r1, 1\n cmpltu r4, r1, r3\n condjmp r4, 0, 0x10\n}\n"
        "block 0x10 {\n interrupt 1\n}\n",
        /* no exit: ends at a budget stop or a fault */
        "memory 0x100\nblock 0 {\n store [r2], r1, u64\n addi r2, r2, 8\n"
        " addi r1, r1, 1\n jmp 0\n}\n",
        /* one register, a small and a large offset: the large one leaves
         * guest memory first and must stay checked */
        "memory 0x1000100\nblock 0 {\n load r5, [r2], u64\n"
        " load r6, [r2 + 0x1000000], u64\n addi r2, r2, 8\n addi r1, r1, 1\n"
        " cmpltu r4, r1, r3\n condjmp r4, 0, 0x10\n}\n"
        "block 0x10 {\n interrupt 1\n}\n",
    };
    static const uint64_t limits[] = { 1, 2, 3, 4, 5, 6, 7, 9, 13, 40 };
    static const uint64_t starts[] = { 0, 0x80, 0xc8, 0xd0, 0xd8, 0xe0,
                                       0xe8, 0xf0, 0xf8, 0xff, 0x20, 8,
                                       0x14, 0x1c, UINT64_C(-8) };
    const size_t nstarts = sizeof starts / sizeof starts[0];
    for (size_t l = 0; l < sizeof loops / sizeof loops[0]; l++)
        for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++)
            for (size_t a = 0; a < nstarts; a++)
                for (uint64_t n = 0; n <= 20; n += 1 + (n > 6)) {
                    uint64_t regs[9] = { 0, 0, starts[a], limits[i], 7, 7,
                                         starts[(a + 3) % nstarts], 0,
                                         UINT64_C(-0x1000000) + 0xe0 };
                    native_setup st = { .max_blocks = n, .regs = regs,
                                        .nregs = 9 };
                    check_text(loops[l], &st);
                }

    /* Worked by hand: from r2 = 0xd0, iteration j (from 1) loads 8 bytes
     * at 0xd0 + 8 (j - 1); iterations 1..6 load 0xd0..0xf8, the seventh
     * faults at 0x100 after six iterations (the copies' head finds that
     * the eighth copy's load would fail, and the loop goes on checked). */
    static const char *walk =
        "memory 0x100\nblock 0 {\n load r5, [r2], u64\n add r7, r7, r5\n"
        " addi r2, r2, 8\n addi r1, r1, 1\n cmpltu r4, r1, r3\n"
        " condjmp r4, 0, 0x10\n}\nblock 0x10 {\n interrupt 1\n}\n";
    aotb_cpu cpu;
    uint64_t regs[7] = { 0, 0, 0xd0, 100, 7, 7, 0 };
    native_setup st = { .regs = regs, .nregs = 7 };
    if (run_text(walk, &st, &cpu) == 0) {
        CU_ASSERT_EQUAL(cpu.status, AOTB_ST_MEMFAULT);
        CU_ASSERT_EQUAL(cpu.info, 0x100);
        CU_ASSERT_EQUAL(cpu.r[1], 6);
        CU_ASSERT_EQUAL(cpu.r[2], 0x100);
        CU_ASSERT_EQUAL(cpu.r[4], 1);
        cpu_free(&cpu);
    }
    /* Ten iterations from 0 leave with r4 = 0 (the exit is in the first
     * copy of the second unrolled round: 1 + 8 + 1); a budget of 8 blocks
     * stops before iteration 9, with r1 = 8 and pc = 0. */
    regs[2] = 0;
    regs[3] = 10;
    if (run_text(walk, &st, &cpu) == 0) {
        CU_ASSERT_EQUAL(cpu.status, AOTB_ST_INTERRUPT);
        CU_ASSERT_EQUAL(cpu.r[1], 10);
        CU_ASSERT_EQUAL(cpu.r[2], 80);
        CU_ASSERT_EQUAL(cpu.r[4], 0);
        cpu_free(&cpu);
    }
    st.max_blocks = 8;
    if (run_text(walk, &st, &cpu) == 0) {
        CU_ASSERT_EQUAL(cpu.status, AOTB_ST_BUDGET);
        CU_ASSERT_EQUAL(cpu.pc, 0);
        CU_ASSERT_EQUAL(cpu.r[1], 8);
        CU_ASSERT_EQUAL(cpu.r[4], 1);
        CU_ASSERT_EQUAL(cpu.budget, 0);
        cpu_free(&cpu);
    }
}

/* Counted self loops (codegen.c: loop_counted): the copies' head tests
 * once that the exit tests of all copies but the last go on, and the
 * copies leave the compare out; when no copy can stop, the addi steps of
 * registers only used as addresses or by the last compare are summed and
 * done once (foldable_steps).  Every form, each with the induction
 * register starting around the limit and around the points where it
 * would wrap (unsigned at 0 and 2^64 - 1, signed at INT64_MAX and
 * INT64_MIN), and loops that look counted but are not: every stop must
 * match the interpreter. */
static void test_counted_loops(void)
{
#define LOOP(body) "memory 0x100\nblock 0 {\n" body " condjmp r4, 0, 0x10\n}\n" \
                   "block 0x10 {\n interrupt 1\n}\n"
    static const char *loops[] = {
        /* cmpne up by 1; r1 only compared, r2 only an address: both summed */
        LOOP(" load r5, [r2], u8\n add r7, r7, r5\n addi r2, r2, 1\n"
             " addi r1, r1, 1\n cmpne r4, r1, r3\n"),
        /* cmpne down by 1, the limit first; r1 also stored: not summed */
        LOOP(" store [r2 + 8], r1, u8\n addi r2, r2, -1\n addi r1, r1, -1\n"
             " cmpne r4, r3, r1\n"),
        /* cmplt up by 3 in two steps around an access */
        LOOP(" addi r1, r1, 5\n load r5, [r2], u16\n addi r1, r1, -2\n"
             " addi r2, r2, 2\n cmplt r4, r1, r3\n"),
        /* cmpltu down by 2 (limit < r1), r1 read by xor, no access */
        LOOP(" addi r1, r1, -2\n xor r7, r7, r1\n cmpltu r4, r3, r1\n"),
        /* cmplt down by 1 (limit < r1), 8-byte loads */
        LOOP(" load r5, [r2], u64\n addi r2, r2, 8\n addi r1, r1, -1\n"
             " cmplt r4, r3, r1\n"),
        /* cmpltu up by 7, the induction register also the address */
        LOOP(" store [r1], r7, u8\n addi r1, r1, 7\n cmpltu r4, r1, r3\n"),
        /* not counted: the limit moves too */
        LOOP(" addi r3, r3, 1\n addi r1, r1, 2\n cmpltu r4, r1, r3\n"),
        /* not counted: cmpne with a step of 2 can step over the limit */
        LOOP(" addi r1, r1, 2\n store [r2], r1, u16\n cmpne r4, r1, r3\n"),
        /* not counted: no step */
        LOOP(" addi r1, r1, 0\n add r7, r7, r1\n cmpne r4, r1, r3\n"),
        /* nine ops (four copies), an access through an unhoisted register
         * (moved by mov): counted, nothing summed */
        LOOP(" load r5, [r2], u32\n mov r6, r2\n addi r2, r6, 4\n"
             " add r7, r7, r5\n load r8, [r9], u8\n addi r9, r9, 1\n"
             " or r7, r7, r8\n addi r1, r1, 1\n cmpltu r4, r1, r3\n"),
    };
#undef LOOP
    static const uint64_t limits[] = { 0, 5, UINT64_C(0x7ffffffffffffffe),
                                       UINT64_C(0x8000000000000003),
                                       UINT64_C(0xfffffffffffffffc) };
    /* Around the limit by 0 ... 9 and by the spans of the steps above
     * over one, two and three rounds of copies (1 + 8k iterations). */
    static const int64_t deltas[] = { -51, -48, -45, -25, -24, -23, -17,
                                      -16, -15, -9,  -8,  -7,  -3,  -1,
                                      0,   1,   2,   3,   7,   8,   9,
                                      14,  15,  16,  17,  23,  24,  25 };
    static const uint64_t addrs[] = { 0x40, 0xf0 };
    static const uint64_t budgets[] = { 5, 12, 30, 100 };
    for (size_t l = 0; l < sizeof loops / sizeof loops[0]; l++)
        for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++)
            for (size_t j = 0; j < sizeof deltas / sizeof deltas[0]; j++)
                for (size_t a = 0; a < 2; a++)
                    for (size_t n = 0; n < 4; n++) {
                        uint64_t regs[10] = {
                            0, limits[i] + (uint64_t)deltas[j], addrs[a],
                            limits[i], 7, 0, 0, 7, 0, addrs[1 - a] };
                        native_setup st = { .max_blocks = budgets[n],
                                            .regs = regs, .nregs = 10 };
                        check_text(loops[l], &st);
                    }

    /* Worked by hand: the first loop from r1 = 0 to 20, r2 = 0x40, over
     * bytes 0x40..0x53 that are all 0: 20 iterations (1 + two rounds of
     * eight + three checked), leaving r1 = 20, r2 = 0x54, r4 = 0. */
    aotb_cpu cpu;
    uint64_t regs[10] = { 0, 0, 0x40, 20, 7, 0, 0, 7, 0, 0 };
    native_setup st = { .regs = regs, .nregs = 10 };
    if (run_text(loops[0], &st, &cpu) == 0) {
        CU_ASSERT_EQUAL(cpu.status, AOTB_ST_INTERRUPT);
        CU_ASSERT_EQUAL(cpu.r[1], 20);
        CU_ASSERT_EQUAL(cpu.r[2], 0x54);
        CU_ASSERT_EQUAL(cpu.r[4], 0);
        CU_ASSERT_EQUAL(cpu.r[7], 7);
        cpu_free(&cpu);
    }
    /* cmplt up by 3 from INT64_MAX - 10 to the limit INT64_MAX: after
     * M - 7, M - 4 and M - 1 the fourth step wraps around to INT64_MIN + 1,
     * which is below the limit again, so the loop goes on (the copies' head
     * sees the overflow and runs those iterations checked) until a budget
     * of 30 blocks stops it: 30 iterations, r2 = 0x40 + 60. */
    regs[1] = UINT64_C(0x7fffffffffffffff) - 10;
    regs[3] = UINT64_C(0x7fffffffffffffff);
    st.max_blocks = 30;
    if (run_text(loops[2], &st, &cpu) == 0) {
        CU_ASSERT_EQUAL(cpu.status, AOTB_ST_BUDGET);
        CU_ASSERT_EQUAL(cpu.pc, 0);
        CU_ASSERT_EQUAL(cpu.r[1], UINT64_C(0x7fffffffffffffff) - 10 + 3 * 30);
        CU_ASSERT_EQUAL(cpu.r[2], 0x40 + 60);
        CU_ASSERT_EQUAL(cpu.r[4], 1);
        cpu_free(&cpu);
    }
}

/* ---- random programs ----------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

static unsigned rnd_reg(void)
{
    /* mostly a few registers (so they get cached), sometimes far ones */
    static const unsigned far[] = { 16, 100, 200, 254, 255 };
    return rnd() % 4 ? (unsigned)(rnd() % 10) : far[rnd() % 5];
}

static uint64_t rnd_value(void)
{
    switch (rnd() % 4) {
    case 0: return specials[rnd() % NSPECIAL];
    case 1: return rnd() % 0x1100;             /* near memory */
    case 2: return (uint64_t)-(int64_t)(rnd() % 16);
    default: return rnd();
    }
}

static void rnd_op(buf *t)
{
    static const char *dab[] = {
        "add", "sub", "mul", "and", "or", "xor", "divs", "divu", "rems",
        "remu", "sll", "srl", "sra", "cmpeq", "cmpne", "cmplt", "cmpltu",
        "cmpge", "cmpgeu",
    };
    static const char *lt[] = { "u8", "s8", "u16", "s16", "u32", "s32", "u64" };
    static const char *st[] = { "u8", "u16", "u32", "u64" };
    unsigned d = rnd_reg(), a = rnd_reg(), b = rnd_reg();
    switch (rnd() % 12) {
    case 0: case 1: case 2:
        buf_printf(t, " %s r%u, r%u, r%u\n", dab[rnd() % 19], d, a, b);
        break;
    case 3:
        buf_printf(t, " movi r%u, 0x%" PRIx64 "\n", d, rnd_value());
        break;
    case 4:
        buf_printf(t, " %s r%u, r%u, %" PRId64 "\n",
                   rnd() % 2 ? "addi" : "muli", d, a, (int64_t)rnd_value());
        break;
    case 5:
        buf_printf(t, " %s r%u, r%u, %u\n",
                   (const char *[]){ "slli", "srli", "srai" }[rnd() % 3], d, a,
                   (unsigned)(rnd() % 64));
        break;
    case 6:
        buf_printf(t, " %s r%u, r%u\n", rnd() % 2 ? "mov" : "not", d, a);
        break;
    case 7:
        buf_printf(t, " select r%u, r%u, r%u, r%u\n", d, rnd_reg(), a, b);
        break;
    case 8: case 9:
        buf_printf(t, " load r%u, [r%u + 0x%" PRIx64 "], %s\n", d, a,
                   rnd() % 2 ? rnd() % 0x1010 : rnd_value(), lt[rnd() % 7]);
        break;
    default:
        buf_printf(t, " store [r%u + 0x%" PRIx64 "], r%u, %s\n", a,
                   rnd() % 2 ? rnd() % 0x1010 : rnd_value(), b, st[rnd() % 4]);
        break;
    }
}

/* pcs that fit a sign-extended imm32, and pcs that do not. */
static const uint64_t lo_pcs[] = { 0x1000, 0x1100, 0x1200, 0x1300 };
static const uint64_t hi_pcs[] = { 0xffffffff80001000ull, 0x7fffffff00000000ull,
                                   0x80000000ull, 0xfffffffffffffff0ull };
static int use_hi_pcs;

static void rnd_program(buf *t, unsigned nblocks, int straight)
{
    const uint64_t *pcs = use_hi_pcs ? hi_pcs : lo_pcs;
    t->len = 0;
    buf_printf(t, "memory 0x1000\ndata 0x0 u64 0x8000000000000000, -1, 7\n");
    for (unsigned i = 0; i < nblocks; i++) {
        buf_printf(t, "block 0x%" PRIx64 " {\n", pcs[i]);
        unsigned n = (unsigned)(rnd() % 12);
        for (unsigned k = 0; k < n; k++)
            rnd_op(t);
        uint64_t T = pcs[rnd() % nblocks], F = pcs[rnd() % nblocks];
        if (rnd() % 8 == 0)
            T = 0x9000;                       /* missing */
        switch (straight ? rnd() % 3 : rnd() % 8) {
        case 0: buf_printf(t, " ret\n"); break;
        case 1: buf_printf(t, " fault %u\n", (unsigned)(rnd() % 5)); break;
        case 2: buf_printf(t, " interrupt %u\n", (unsigned)(rnd() % 5)); break;
        case 3: buf_printf(t, " jmp 0x%" PRIx64 "\n", T); break;
        case 4:
            buf_printf(t, " condjmp r%u, 0x%" PRIx64 ", 0x%" PRIx64 "\n",
                       rnd_reg(), T, F);
            break;
        case 5:
            buf_printf(t, " call 0x%" PRIx64 ", 0x%" PRIx64 "\n", T, F);
            break;
        case 6:
            buf_printf(t, " jmpreg r%u, 0x%" PRIx64 "\n", rnd_reg(),
                       pcs[rnd() % nblocks]);
            break;
        default: buf_printf(t, " ret\n"); break;
        }
        buf_printf(t, "}\n");
    }
    buf_put8(t, 0);
}

static unsigned fold_for_random;

static void random_runs(unsigned count, int straight)
{
    buf t = {0};
    int failures = 0;
    for (unsigned i = 0; i < count && failures < 3; i++) {
        rnd_program(&t, straight ? 1 : 1 + (unsigned)(rnd() % 4), straight);
        uint64_t regs[10];
        for (unsigned k = 0; k < 10; k++)
            regs[k] = rnd_value();
        native_setup s = { .regs = regs, .nregs = 10, .max_blocks = 200,
                           .rcap = 16, .fold = fold_for_random };
        if (native_compare_text((const char *)t.data, &s, NULL) != 0)
            failures++;
    }
    CU_ASSERT_EQUAL(failures, 0);
    buf_free(&t);
}

static void test_random_straight(void)
{
    random_runs(600, 1);
}

static void test_random_programs(void)
{
    random_runs(600, 0);
    use_hi_pcs = 1;
    random_runs(300, 0);
    use_hi_pcs = 0;
}

/* The same generator with superblocks: every small jmp successor folded. */
static void test_random_folded(void)
{
    fold_for_random = 12;
    random_runs(600, 0);
    use_hi_pcs = 1;
    random_runs(300, 0);
    use_hi_pcs = 0;
    fold_for_random = 0;
}

/* A chain 0 -> 0x10 -> 0x20 folded into block 0: budget stops at each
 * seam and a fault in a folded block report the folded block's pc, with
 * the registers of the blocks before it written back. */
static void test_fold_exact(void)
{
    static const char *text =
        "memory 0x100\n"
        "block 0 {\n addi r1, r1, 1\n jmp 0x10\n}\n"
        "block 0x10 {\n addi r1, r1, 2\n addi r2, r1, 0x1000\n jmp 0x20\n}\n"
        "block 0x20 {\n addi r1, r1, 4\n load r3, [r2], u8\n ret\n}\n";
    ir_program p;
    if (tu_parse(text, &p) != 0)
        return;
    native_prog np;
    cg_options o = { .fold_max_ops = 4 };
    CU_ASSERT_EQUAL_FATAL(native_build_opts(&p, &o, &np), 0);
    CU_ASSERT_EQUAL(np.codes[0].ndeps, 2);
    if (np.codes[0].ndeps == 2) {
        CU_ASSERT_EQUAL(np.codes[0].deps[0], 0x10);
        CU_ASSERT_EQUAL(np.codes[0].deps[1], 0x20);
    }
    CU_ASSERT_EQUAL(np.codes[1].ndeps, 1);
    CU_ASSERT_EQUAL(np.codes[2].ndeps, 0);
    native_free(&np);
    ir_program_free(&p);

    static const struct {
        uint64_t max, pc, r1;
        uint32_t status;
    } c[] = {
        { 1, 0x10, 1, AOTB_ST_BUDGET },
        { 2, 0x20, 3, AOTB_ST_BUDGET },
        { 3, 0x20, 7, AOTB_ST_MEMFAULT },
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        native_setup s = { .max_blocks = c[i].max, .fold = 4 };
        aotb_cpu cpu;
        if (run_text(text, &s, &cpu) != 0)
            continue;
        CU_ASSERT_EQUAL(cpu.status, c[i].status);
        CU_ASSERT_EQUAL(cpu.pc, c[i].pc);
        CU_ASSERT_EQUAL(cpu.r[1], c[i].r1);
        if (c[i].status == AOTB_ST_MEMFAULT) {
            CU_ASSERT_EQUAL(cpu.info, 0x1003);
            CU_ASSERT_EQUAL(cpu.r[2], 0x1003);
        }
        cpu_free(&cpu);
    }
    /* a self loop and a two-block loop end the chain */
    native_setup s = { .max_blocks = 50, .fold = 4 };
    check_text("block 0 {\n addi r1, r1, 1\n jmp 0\n}\n", &s);
    check_text("block 0 {\n addi r1, r1, 1\n jmp 0x10\n}\n"
               "block 0x10 {\n addi r2, r2, 1\n jmp 0\n}\n", &s);
    /* no folding without fold_max_ops, or for a block that is too big */
    ir_program q;
    if (tu_parse(text, &q) != 0)
        return;
    cg_code code;
    aotb_diag d = {0};
    o.fold_max_ops = 1;
    CU_ASSERT_EQUAL_FATAL(cg_compile_block(&q.blocks[0], &o, NULL, NULL, &code,
                                           &d), 0);
    CU_ASSERT_EQUAL(code.ndeps, 0);      /* no find function */
    cg_code_free(&code);
    diag_free(&d);
    ir_program_free(&q);
}

/* ---- the compiler's output ----------------------------------------------- */

static void test_relocations(void)
{
    ir_program p;
    if (tu_parse("block 0x10 {\n condjmp r1, 0x20, 0x30\n}\n"
                 "block 0x20 {\n ret\n}\n", &p) != 0)
        return;
    aotb_diag d = {0};
    cg_code c, c2;
    cg_options o = {0};
    CU_ASSERT_EQUAL_FATAL(cg_compile_block(&p.blocks[0], &o, NULL, NULL, &c,
                                           &d), 0);
    CU_ASSERT_EQUAL_FATAL(cg_compile_block(&p.blocks[0], &o, NULL, NULL, &c2,
                                           &d), 0);
    /* deterministic */
    CU_ASSERT_EQUAL(c.code.len, c2.code.len);
    CU_ASSERT(memcmp(c.code.data, c2.code.data, c.code.len) == 0);
    CU_ASSERT_EQUAL(c.nrelocs, c2.nrelocs);
    /* the budget stop jumps to exit; condjmp makes jne 0x20 + jmp 0x30 */
    int seen_t = 0, seen_f = 0, seen_exit = 0;
    for (size_t i = 0; i < c.nrelocs; i++) {
        const cg_reloc *r = &c.relocs[i];
        CU_ASSERT_EQUAL(r->type, R_X86_64_PLT32);
        CU_ASSERT_EQUAL(r->addend, -4);
        CU_ASSERT(r->offset >= 1 && r->offset + 4 <= c.code.len);
        if (r->kind == CG_TGT_BLOCK && r->target == 0x20) {
            seen_t++;
            /* 0f 85 = jne rel32 */
            CU_ASSERT_EQUAL(c.code.data[r->offset - 2], 0x0f);
            CU_ASSERT_EQUAL(c.code.data[r->offset - 1], 0x85);
        } else if (r->kind == CG_TGT_BLOCK && r->target == 0x30) {
            seen_f++;
            CU_ASSERT_EQUAL(c.code.data[r->offset - 1], 0xe9);  /* jmp */
        } else if (r->kind == CG_TGT_RT && r->target == CG_RT_EXIT) {
            seen_exit++;
        }
        CU_ASSERT_EQUAL(get_le32(c.code.data + r->offset), 0);
    }
    CU_ASSERT_EQUAL(seen_t, 1);
    CU_ASSERT_EQUAL(seen_f, 1);
    CU_ASSERT_EQUAL(seen_exit, 1);
    /* the block starts with the budget check: sub r14, 1 (49 83 ee 01) */
    static const uint8_t sub_r14[] = { 0x49, 0x83, 0xee, 0x01 };
    CU_ASSERT(c.code.len > 4 && memcmp(c.code.data, sub_r14, 4) == 0);
    cg_code_free(&c);
    cg_code_free(&c2);

    /* the missing stub: no budget check, pc then lookup */
    CU_ASSERT_EQUAL_FATAL(cg_compile_missing(0x1234, &c, &d), 0);
    CU_ASSERT_EQUAL(c.nrelocs, 1);
    CU_ASSERT_EQUAL(c.relocs[0].kind, CG_TGT_RT);
    CU_ASSERT_EQUAL(c.relocs[0].target, CG_RT_LOOKUP);
    CU_ASSERT(memcmp(c.code.data, sub_r14, 4) != 0);
    cg_code_free(&c);

    CU_ASSERT_EQUAL_FATAL(cg_compile_runtime(&c, &d), 0);
    CU_ASSERT_EQUAL(c.ndefs, 3);
    CU_ASSERT_EQUAL(c.nrelocs, 0);
    cg_code_free(&c);
    diag_free(&d);
    ir_program_free(&p);
}

static void test_invalid_block(void)
{
    ir_op op = { .op = IR_NUM_OPS };
    ir_block b = { .pc = 0x10, .ops = &op, .nops = 1 };
    b.term.kind = IR_T_RET;
    aotb_diag d = {0};
    cg_code c;
    CU_ASSERT_EQUAL(cg_compile_block(&b, NULL, NULL, NULL, &c, &d), -1);
    CU_ASSERT(strstr(diag_text(&d), "0x0000000000000010") != NULL);
    diag_free(&d);
    op = (ir_op){ .op = IR_SLLI, .imm = 64 };
    CU_ASSERT_EQUAL(cg_compile_block(&b, NULL, NULL, NULL, &c, &d), -1);
    diag_free(&d);
    op = (ir_op){ .op = IR_LOAD, .mt = IR_NUM_MEMTYPES };
    CU_ASSERT_EQUAL(cg_compile_block(&b, NULL, NULL, NULL, &c, &d), -1);
    diag_free(&d);
    b.term.kind = 99;
    op = (ir_op){ .op = IR_NOP };
    CU_ASSERT_EQUAL(cg_compile_block(&b, NULL, NULL, NULL, &c, &d), -1);
    diag_free(&d);
}

static void test_fingerprint_features(void)
{
    char fp[256], names[64];
    cg_options o = {0};
    cg_fingerprint(&o, fp, sizeof fp);
    CU_ASSERT(strstr(fp, "aotb " AOTB_VERSION " ") == fp);
    CU_ASSERT(strstr(fp, "features=x86-64") != NULL);
    CU_ASSERT(strstr(fp, "fold=0") != NULL);
    cg_options o4 = { .fold_max_ops = 4 };
    char fp4[256];
    cg_fingerprint(&o4, fp4, sizeof fp4);
    CU_ASSERT(strstr(fp4, "fold=4") != NULL);
    CU_ASSERT(strcmp(fp, fp4) != 0);
    CU_ASSERT_EQUAL(cg_required_features(&o), CG_FEAT_X86_64);
    cg_feature_names(CG_FEAT_X86_64 | CG_FEAT_BMI2 | CG_FEAT_LZCNT, names,
                     sizeof names);
    CU_ASSERT_STRING_EQUAL(names, "x86-64,bmi2,lzcnt");
    cg_feature_names(CG_FEAT_BMI2, names, sizeof names);
    CU_ASSERT_STRING_EQUAL(names, "bmi2");
    cg_feature_names(0, names, sizeof names);
    CU_ASSERT_STRING_EQUAL(names, "");
    /* this test runs on an x86-64 host */
    CU_ASSERT(cg_host_features() & CG_FEAT_X86_64);
}

static void test_codemap(void)
{
    ir_program p;
    if (tu_parse("block 0x20 {\n jmp 0x10\n}\nblock 0x10 {\n jmp 0x99\n}\n",
                 &p) != 0)
        return;
    native_prog np;
    CU_ASSERT_EQUAL_FATAL(native_build(&p, &np), 0);
    const void *a = codemap_lookup(np.map, 0x10);
    const void *b = codemap_lookup(np.map, 0x20);
    CU_ASSERT(a != NULL && b != NULL && a != b);
    CU_ASSERT((uintptr_t)a % 16 == 0 && (uintptr_t)b % 16 == 0);
    CU_ASSERT(codemap_lookup(np.map, 0x99) == NULL);    /* stub, not a block */
    CU_ASSERT(codemap_lookup(np.map, 0x11) == NULL);
    /* the code is mapped read+execute, not writable */
    FILE *maps = fopen("/proc/self/maps", "r");
    if (maps) {
        char line[512];
        int found = 0;
        while (fgets(line, sizeof line, maps)) {
            unsigned long lo, hi;
            char perms[8];
            if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 &&
                (uintptr_t)a >= lo && (uintptr_t)a < hi) {
                found = 1;
                CU_ASSERT_STRING_EQUAL(perms, "r-xp");
            }
        }
        fclose(maps);
        CU_ASSERT(found);
    }
    native_free(&np);

    /* duplicate pcs are refused */
    cg_code c[2];
    aotb_diag d = {0};
    codemap *m = NULL;
    CU_ASSERT_EQUAL_FATAL(cg_compile_block(&p.blocks[0], NULL, NULL, NULL,
                                           &c[0], &d), 0);
    CU_ASSERT_EQUAL_FATAL(cg_compile_block(&p.blocks[0], NULL, NULL, NULL,
                                           &c[1], &d), 0);
    CU_ASSERT_EQUAL(codemap_build(c, 2, &m, &d), -1);
    CU_ASSERT(m == NULL);
    CU_ASSERT(strstr(diag_text(&d), "two blocks") != NULL);
    cg_code_free(&c[0]);
    cg_code_free(&c[1]);
    diag_free(&d);
    ir_program_free(&p);
}

/* ---- the native lookup (jmpreg / ret through the hash table) ------------ */

/* The first slot of pc in a table of 2^k slots, from the layout documented
 * in runtime.h: the top k bits of (pc ^ pc >> 32) * 0x9e3779b97f4a7c15. */
static unsigned home_slot(uint64_t pc, unsigned k)
{
    return (unsigned)(((pc ^ pc >> 32) * 0x9e3779b97f4a7c15ull) >> (64 - k));
}

/* Distinct pcs (0 first) that all share pc 0's home slot in every table of
 * up to 256 slots, so they form one long probe chain; none is ONES or one
 * of the other pcs the tests below use. */
static size_t colliding_pcs(uint64_t *out, size_t n)
{
    size_t got = 0;
    out[got++] = 0;
    for (uint64_t k = 1; got < n && k < 10000000; k++) {
        uint64_t pc = k * 0x1230 ^ (k & 7) << 45;
        if (home_slot(pc, 8) == home_slot(0, 8) && pc != ONES && pc >= 0x1000)
            out[got++] = pc;
    }
    return got;
}

/* rt_run with the codemap's own rt_code except that the C lookup counts
 * its calls: one call means every jmpreg / ret was resolved natively. */
typedef struct counting {
    const codemap *map;
    unsigned calls;
} counting;

static const void *count_lookup(void *ctx, uint64_t pc)
{
    counting *c = ctx;
    c->calls++;
    return codemap_lookup(c->map, pc);
}

static int run_counting(const char *text, const native_setup *setup,
                        int keep_table, aotb_cpu *cpu, unsigned *calls)
{
    ir_program p;
    if (tu_parse(text, &p) != 0)
        return -1;
    native_prog np;
    if (native_build(&p, &np) != 0) {
        ir_program_free(&p);
        return -1;
    }
    int rc = native_cpu_setup(&p, setup, cpu);
    if (rc == 0) {
        counting c = { np.map, 0 };
        rt_code rt = *codemap_rt(np.map);
        rt.lookup = count_lookup;
        rt.ctx = &c;
        if (!keep_table)
            rt.table = NULL;
        rt_run(&rt, cpu, p.entry);
        *calls = c.calls;
    }
    native_free(&np);
    ir_program_free(&p);
    return rc;
}

/* A chain through NCOLL blocks whose pcs collide (pc 0 first), alternately
 * by jmpreg and by call / ret, entered from 0x100 with a call that returns
 * to pc ONES. */
#define NCOLL 40
static void coll_program(buf *t, const uint64_t *pcs)
{
    t->len = 0;
    buf_printf(t, "entry 0x100\nmemory 0x1000\n"
               "block 0x100 {\n movi r2, 1\n call 0, 0xffffffffffffffff\n}\n"
               "block 0xffffffffffffffff {\n addi r2, r2, 7\n ret\n}\n");
    for (size_t i = 0; i < NCOLL; i++) {
        buf_printf(t, "block 0x%" PRIx64 " {\n muli r2, r2, 3\n"
                   " addi r2, r2, %zu\n", pcs[i], i);
        if (i + 1 == NCOLL)
            buf_printf(t, " ret\n}\n");
        else if (i % 2 == 0)
            buf_printf(t, " movi r5, 0x%" PRIx64 "\n jmpreg r5, 0\n}\n",
                       pcs[i + 1]);
        else    /* call the next one; it returns to a block that rets */
            buf_printf(t, " call 0x%" PRIx64 ", 0x%" PRIx64 "\n}\n",
                       pcs[i + 1], pcs[i] + 1);
        if (i % 2 == 1 && i + 1 < NCOLL)
            buf_printf(t, "block 0x%" PRIx64 " {\n addi r2, r2, 5\n ret\n}\n",
                       pcs[i] + 1);
    }
}

static void test_lookup_collisions(void)
{
    uint64_t pcs[NCOLL];
    CU_ASSERT_EQUAL_FATAL(colliding_pcs(pcs, NCOLL), NCOLL);
    buf t = {0};
    coll_program(&t, pcs);
    const char *text = (const char *)t.data;

    /* By hand: r2 goes r2 = 3 * r2 + i through the chain; each returning
     * call adds 5 on the way back (innermost first), then ONES adds 7. */
    uint64_t want = 1;
    for (size_t i = 0; i < NCOLL; i++)
        want = want * 3 + i;
    for (size_t i = NCOLL - 1; i-- > 0;)
        if (i % 2 == 1)
            want += 5;
    want += 7;
    /* blocks run: 0x100, the chain, one return block per call, ONES */
    uint64_t nrun = 1 + NCOLL + (NCOLL - 1) / 2 + 1;

    aotb_cpu cpu;
    if (run_text(text, NULL, &cpu) == 0) {
        CU_ASSERT_EQUAL(cpu.status, AOTB_ST_RET);
        CU_ASSERT_EQUAL(cpu.pc, ONES);
        CU_ASSERT_EQUAL(cpu.r[2], want);
        CU_ASSERT_EQUAL(cpu.budget, ONES - nrun);   /* one per block run */
        cpu_free(&cpu);
    }

    /* every jmpreg and ret was a native hit: the C lookup ran once, for
     * the entry; without a table every jmpreg comes back to C, while a
     * ret never does (it jumps to the address its call recorded) */
    unsigned calls = 0;
    if (run_counting(text, NULL, 1, &cpu, &calls) == 0) {
        CU_ASSERT_EQUAL(cpu.status, AOTB_ST_RET);
        CU_ASSERT_EQUAL(cpu.r[2], want);
        CU_ASSERT_EQUAL(calls, 1);
        cpu_free(&cpu);
    }
    if (run_counting(text, NULL, 0, &cpu, &calls) == 0) {
        CU_ASSERT_EQUAL(cpu.status, AOTB_ST_RET);
        CU_ASSERT_EQUAL(cpu.r[2], want);
        /* the entry and NCOLL / 2 jmpregs */
        CU_ASSERT_EQUAL(calls, 1 + NCOLL / 2);
        cpu_free(&cpu);
    }

    /* every budget, including exhaustion exactly at a ret target (pc ONES
     * with nrun - 1, the return blocks in between) */
    for (uint64_t n = 1; n <= nrun + 1; n++) {
        native_setup s = { .max_blocks = n };
        if (run_text(text, &s, &cpu) != 0)
            continue;
        if (n == nrun - 1) {
            CU_ASSERT_EQUAL(cpu.status, AOTB_ST_BUDGET);
            CU_ASSERT_EQUAL(cpu.pc, ONES);
            CU_ASSERT_EQUAL(cpu.rsp, 0);
            CU_ASSERT_EQUAL(cpu.budget, 0);
        }
        if (n >= nrun)
            CU_ASSERT_EQUAL(cpu.status, AOTB_ST_RET);
        cpu_free(&cpu);
    }
    buf_free(&t);
}

/* jmpreg / ret to pcs that collide with existing blocks but have none:
 * a miss, reported as nocode without costing budget, from the C side. */
static void test_lookup_misses(void)
{
    uint64_t pcs[NCOLL + 4];
    CU_ASSERT_EQUAL_FATAL(colliding_pcs(pcs, NCOLL + 4), NCOLL + 4);
    const uint64_t m = pcs[NCOLL];          /* colliding, no block */
    buf t = {0};
    buf_printf(&t, "entry 0x100\nmemory 0x1000\n"
               "block 0x100 {\n jmpreg r1, 0\n}\n"
               "block 0x200 {\n call 0x300, 0x%" PRIx64 "\n}\n"
               "block 0x300 {\n ret\n}\n", m);
    for (size_t i = 0; i < NCOLL; i++)
        buf_printf(&t, "block 0x%" PRIx64 " {\n addi r2, r2, 1\n"
                   " jmpreg r3, 0\n}\n", pcs[i]);
    const char *text = (const char *)t.data;
    /* r1: where 0x100 goes; r3: where a chain block goes.  Budget 50. */
    const struct {
        uint64_t r1, r3, pc, budget, r2;
        unsigned status, calls;
    } cases[] = {
        { 1, 0, 1, 49, 0, AOTB_ST_NOCODE, 2 },
        { ONES, 0, ONES, 49, 0, AOTB_ST_NOCODE, 2 },
        { 0x200, 0, m, 47, 0, AOTB_ST_NOCODE, 2 },    /* ret to a miss */
        { pcs[5], pcs[NCOLL + 1], pcs[NCOLL + 1], 48, 1, AOTB_ST_NOCODE, 2 },
        { pcs[NCOLL + 2], 0, pcs[NCOLL + 2], 49, 0, AOTB_ST_NOCODE, 2 },
        { pcs[NCOLL + 3], 0, pcs[NCOLL + 3], 49, 0, AOTB_ST_NOCODE, 2 },
        /* pc 0 exists: it jumps to itself until the budget runs out */
        { 0, 0, 0, 0, 49, AOTB_ST_BUDGET, 1 },
        { pcs[NCOLL - 1], pcs[1], pcs[1], 0, 49, AOTB_ST_BUDGET, 1 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t regs[4] = { 0, cases[i].r1, 0, cases[i].r3 };
        native_setup s = { .regs = regs, .nregs = 4, .max_blocks = 50 };
        aotb_cpu cpu;
        if (run_text(text, &s, &cpu) != 0)
            continue;
        CU_ASSERT_EQUAL(cpu.status, cases[i].status);
        CU_ASSERT_EQUAL(cpu.pc, cases[i].pc);
        CU_ASSERT_EQUAL(cpu.budget, cases[i].budget);
        CU_ASSERT_EQUAL(cpu.r[2], cases[i].r2);
        cpu_free(&cpu);
        unsigned calls = 0;
        if (run_counting(text, &s, 1, &cpu, &calls) != 0)
            continue;
        CU_ASSERT_EQUAL(cpu.status, cases[i].status);
        CU_ASSERT_EQUAL(cpu.pc, cases[i].pc);
        CU_ASSERT_EQUAL(calls, cases[i].calls);
        cpu_free(&cpu);
    }
    buf_free(&t);
}

/* The table itself: a power of two of slots, at most half full, every block
 * found by probing from its home slot as runtime.h describes, and mapped
 * read-only. */
static void test_lookup_table(void)
{
    for (size_t n = 0; n <= 70; n += 7) {
        buf t = {0};
        buf_printf(&t, "memory 0x1000\n");
        for (size_t i = 0; i < n; i++)
            buf_printf(&t, "block 0x%" PRIx64 " {\n ret\n}\n",
                       (uint64_t)(i == 1 ? ONES : i * 0x40));
        if (n == 0)
            buf_printf(&t, "\n");
        ir_program p;
        memset(&p, 0, sizeof p);
        if (n > 0 && tu_parse((const char *)t.data, &p) != 0) {
            buf_free(&t);
            continue;
        }
        native_prog np;
        if (native_build(&p, &np) != 0) {
            CU_FAIL("native_build");
            ir_program_free(&p);
            buf_free(&t);
            continue;
        }
        const rt_code *rt = codemap_rt(np.map);
        CU_ASSERT_FATAL(rt->table != NULL);
        uint64_t nslots = rt->table_mask / sizeof(rt_slot) + 1;
        unsigned k = 0;
        while (((uint64_t)1 << k) < nslots)
            k++;
        CU_ASSERT_EQUAL(((uint64_t)1 << k), nslots);
        CU_ASSERT(k >= 1);
        CU_ASSERT_EQUAL(rt->table_shift, 60 - k);
        CU_ASSERT(2 * n <= nslots);
        size_t used = 0;
        for (uint64_t i = 0; i < nslots; i++)
            used += rt->table[i].code != NULL;
        CU_ASSERT_EQUAL(used, n);
        for (size_t i = 0; i < p.nblocks; i++) {
            uint64_t pc = p.blocks[i].pc;
            uint64_t slot = home_slot(pc, k);
            while (rt->table[slot].code && rt->table[slot].pc != pc)
                slot = (slot + 1) & (nslots - 1);
            CU_ASSERT(rt->table[slot].code == codemap_lookup(np.map, pc));
            CU_ASSERT(rt->table[slot].code != NULL);
        }
        FILE *maps = fopen("/proc/self/maps", "r");
        if (maps) {
            char line[512];
            int found = 0;
            while (fgets(line, sizeof line, maps)) {
                unsigned long lo, hi;
                char perms[8];
                if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 &&
                    (uintptr_t)rt->table >= lo && (uintptr_t)rt->table < hi) {
                    found = 1;
                    CU_ASSERT_STRING_EQUAL(perms, "r--p");
                }
            }
            fclose(maps);
            CU_ASSERT(found);
        }
        native_free(&np);
        if (n > 0)
            ir_program_free(&p);
        buf_free(&t);
    }
}

/* Not a correctness test: prints code size per op and compile speed for the
 * report (and checks that the numbers are sane). */
static void test_measure(void)
{
    buf t = {0};
    rng_state = 12345;
    ir_program progs[8];
    size_t nops = 0, bytes = 0, nblocks = 0;
    for (int i = 0; i < 8; i++) {
        rnd_program(&t, 4, 0);
        if (tu_parse((const char *)t.data, &progs[i]) != 0)
            return;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    aotb_diag d = {0};
    for (int rep = 0; rep < 3125; rep++)
        for (int i = 0; i < 8; i++)
            for (size_t k = 0; k < progs[i].nblocks; k++) {
                cg_code c;
                if (cg_compile_block(&progs[i].blocks[k], NULL, NULL, NULL, &c,
                                     &d) != 0)
                    continue;
                if (rep == 0) {
                    nops += progs[i].blocks[k].nops + 1;
                    bytes += c.code.len;
                }
                nblocks++;
                cg_code_free(&c);
            }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) +
                  (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    fprintf(stderr, "\n  codegen: %zu blocks in %.3f s = %.0f blocks/s; "
            "%.1f code bytes per IR op (terminator counted as an op)\n",
            nblocks, secs, (double)nblocks / secs,
            (double)bytes / (double)nops);
    CU_ASSERT_EQUAL(nblocks, 100000);
    CU_ASSERT(bytes > 0 && bytes / nops < 64);
    for (int i = 0; i < 8; i++)
        ir_program_free(&progs[i]);
    diag_free(&d);
    buf_free(&t);
}

static CU_TestInfo tests[] = {
    { "example program", test_example },
    { "every op", test_every_op },
    { "binary ops on special values, all aliasings", test_binary_specials },
    { "division corners", test_division_corners },
    { "imm8/imm32/imm64 immediates", test_immediates },
    { "constant shifts 0..63", test_shift_imm },
    { "load extension and last valid bytes", test_extension_and_bounds },
    { "out of bounds and wrapping addresses", test_out_of_bounds },
    { "memfault with dirty cached registers", test_memfault_precise },
    { "budget in a native self loop", test_budget_self_loop },
    { "call and ret", test_call_ret },
    { "host calls: deep, and resumed after budget stops", test_host_calls },
    { "host calls: host frames capped (a 128 KB thread stack)",
      test_host_frames_capped },
    { "callstack overflow", test_callstack_overflow },
    { "jmpreg to existing, missing, host-like pcs", test_jmpreg },
    { "missing direct targets", test_missing_targets },
    { "fault and interrupt", test_fault_interrupt },
    { "compare and branch", test_compare_branch },
    { "self loops ending in a compare", test_loop_compare },
    { "unrolled self loops", test_unrolled_loops },
    { "counted self loops", test_counted_loops },
    { "random straight-line blocks", test_random_straight },
    { "random programs", test_random_programs },
    { "random programs with superblocks", test_random_folded },
    { "superblock budget and fault pcs", test_fold_exact },
    { "relocations and stubs", test_relocations },
    { "invalid blocks are refused", test_invalid_block },
    { "fingerprint and features", test_fingerprint_features },
    { "codemap", test_codemap },
    { "native lookup: colliding pcs, pc 0 and ONES, budgets",
      test_lookup_collisions },
    { "native lookup: missing and colliding pcs", test_lookup_misses },
    { "native lookup: the table", test_lookup_table },
    { "code size and compile speed", test_measure },
    CU_TEST_INFO_NULL
};

static CU_SuiteInfo suites[] = {
    { "codegen", NULL, NULL, NULL, NULL, tests },
    CU_SUITE_INFO_NULL
};

int main(void)
{
    return tu_run(suites);
}
