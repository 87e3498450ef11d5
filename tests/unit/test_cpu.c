/* test_cpu.c: CPU set-up (memory, bounds, data loading, run options) and the
 * byte-exact output contract of report_print.  The expected texts are
 * written by hand from ir-format.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "testutil.h"

static void init_ok(aotb_cpu *cpu, uint64_t memsize)
{
    aotb_diag d = {0};
    int rc = cpu_init(cpu, memsize, &d);
    if (rc != 0)
        fprintf(stderr, "cpu_init(0x%llx): %s", (unsigned long long)memsize,
                diag_text(&d));
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_EQUAL(d.count, 0);
    diag_free(&d);
}

/* run_opts_init lives in the CLI, which the unit tests do not link. */
static void opts_init(run_opts *o)
{
    memset(o, 0, sizeof *o);
    o->max_blocks = UINT64_MAX;
}

static void test_init_state(void)
{
    aotb_cpu cpu;
    init_ok(&cpu, 0x10000);
    for (unsigned i = 0; i < IR_NREGS; i++)
        CU_ASSERT_EQUAL(cpu.r[i], 0);
    CU_ASSERT_EQUAL(cpu.memsize, 0x10000);
    CU_ASSERT_EQUAL(cpu.bound[0], 0x10000);
    CU_ASSERT_EQUAL(cpu.bound[1], 0xffff);
    CU_ASSERT_EQUAL(cpu.bound[2], 0xfffd);
    CU_ASSERT_EQUAL(cpu.bound[3], 0xfff9);
    CU_ASSERT_EQUAL(cpu.budget, UINT64_MAX);
    CU_ASSERT_EQUAL(cpu.rsp, 0);
    CU_ASSERT_EQUAL(cpu.rcap, 65536);
    CU_ASSERT_PTR_NOT_NULL(cpu.rstack);
    CU_ASSERT_PTR_NOT_NULL(cpu.mem);
    CU_ASSERT_EQUAL(cpu.status, AOTB_ST_RUNNING);
    int zero = 1;
    for (unsigned k = 0; k < 0x10000; k++)
        zero &= cpu.mem[k] == 0;
    CU_ASSERT_TRUE(zero);
    cpu.rstack[65535] = 1;           /* the whole stack is usable */
    cpu.mem[0xffff] = 1;             /* and the whole memory */
    cpu_free(&cpu);
    CU_ASSERT_PTR_NULL(cpu.mem);
    CU_ASSERT_PTR_NULL(cpu.rstack);
}

static void test_bounds_small(void)
{
    static const struct { uint64_t size, b0, b1, b2, b3; } c[] = {
        {0, 0, 0, 0, 0},
        {1, 1, 0, 0, 0},
        {2, 2, 1, 0, 0},
        {3, 3, 2, 0, 0},
        {4, 4, 3, 1, 0},
        {7, 7, 6, 4, 0},
        {8, 8, 7, 5, 1},
        {9, 9, 8, 6, 2},
        {4097, 4097, 4096, 4094, 4090},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        aotb_cpu cpu;
        init_ok(&cpu, c[i].size);
        CU_ASSERT_EQUAL(cpu.bound[0], c[i].b0);
        CU_ASSERT_EQUAL(cpu.bound[1], c[i].b1);
        CU_ASSERT_EQUAL(cpu.bound[2], c[i].b2);
        CU_ASSERT_EQUAL(cpu.bound[3], c[i].b3);
        cpu_free(&cpu);
    }
}

static void test_big_memory(void)
{
    aotb_cpu cpu;
    init_ok(&cpu, 0x100000000ull);           /* 4 GiB, mapped lazily */
    CU_ASSERT_EQUAL(cpu.bound[0], 0x100000000ull);
    CU_ASSERT_EQUAL(cpu.bound[3], 0xfffffff9ull);
    cpu.mem[0xffffffffull] = 0xab;           /* last byte is writable */
    CU_ASSERT_EQUAL(cpu.mem[0xffffffffull], 0xab);
    CU_ASSERT_EQUAL(cpu.mem[0x80000000ull], 0);
    cpu_free(&cpu);

    init_ok(&cpu, 0x100000001ull);           /* not a page multiple */
    CU_ASSERT_EQUAL(cpu.bound[0], 0x100000001ull);
    cpu.mem[0x100000000ull] = 1;
    cpu_free(&cpu);
}

static void test_init_errors(void)
{
    static const uint64_t bad[] = {UINT64_MAX, 0xfffffffffffff000ull,
                                   0x4000000000000000ull};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        aotb_cpu cpu;
        aotb_diag d = {0};
        CU_ASSERT_EQUAL(cpu_init(&cpu, bad[i], &d), -1);
        CU_ASSERT_EQUAL(d.count, 1);
        /* the message names the size that failed */
        char hex[32];
        snprintf(hex, sizeof hex, "0x%llx", (unsigned long long)bad[i]);
        CU_ASSERT_PTR_NOT_NULL(strstr(diag_text(&d), hex));
        CU_ASSERT_PTR_NOT_NULL(strstr(diag_text(&d), "guest memory"));
        CU_ASSERT_PTR_NULL(cpu.mem);
        CU_ASSERT_PTR_NULL(cpu.rstack);
        diag_free(&d);
    }
}

static void test_load_data(void)
{
    aotb_cpu cpu;
    aotb_diag d = {0};
    static const uint8_t bytes[4] = {1, 2, 3, 4};
    init_ok(&cpu, 16);
    CU_ASSERT_EQUAL(cpu_load_data(&cpu, 3, bytes, 4, &d), 0);
    CU_ASSERT_EQUAL(cpu.mem[2], 0);
    CU_ASSERT_EQUAL(cpu.mem[3], 1);
    CU_ASSERT_EQUAL(cpu.mem[6], 4);
    CU_ASSERT_EQUAL(cpu.mem[7], 0);
    /* ends exactly at memsize */
    CU_ASSERT_EQUAL(cpu_load_data(&cpu, 12, bytes, 4, &d), 0);
    CU_ASSERT_EQUAL(cpu.mem[15], 4);
    /* empty at memsize */
    CU_ASSERT_EQUAL(cpu_load_data(&cpu, 16, bytes, 0, &d), 0);
    CU_ASSERT_EQUAL(d.count, 0);
    /* one byte past */
    CU_ASSERT_EQUAL(cpu_load_data(&cpu, 13, bytes, 4, &d), -1);
    CU_ASSERT_EQUAL(d.count, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(diag_text(&d), "outside guest memory"));
    CU_ASSERT_EQUAL(cpu.mem[12], 1);         /* nothing was copied */
    /* starts past the end; length that would wrap */
    CU_ASSERT_EQUAL(cpu_load_data(&cpu, 17, bytes, 0, &d), -1);
    CU_ASSERT_EQUAL(cpu_load_data(&cpu, 8, bytes, UINT64_MAX, &d), -1);
    CU_ASSERT_EQUAL(cpu_load_data(&cpu, UINT64_MAX, bytes, 2, &d), -1);
    CU_ASSERT_EQUAL(d.count, 4);
    diag_free(&d);
    cpu_free(&cpu);
}

static void test_run_opts_apply(void)
{
    aotb_cpu cpu;
    run_opts o;
    init_ok(&cpu, 64);
    opts_init(&o);
    run_opts_apply(&o, &cpu);
    CU_ASSERT_EQUAL(cpu.budget, UINT64_MAX);
    o.sets[0].reg = 5;   o.sets[0].val = 7;
    o.sets[1].reg = 255; o.sets[1].val = UINT64_MAX;
    o.sets[2].reg = 5;   o.sets[2].val = 9;        /* the later one wins */
    o.nsets = 3;
    o.max_blocks = 0;
    run_opts_apply(&o, &cpu);
    CU_ASSERT_EQUAL(cpu.r[5], 9);
    CU_ASSERT_EQUAL(cpu.r[255], UINT64_MAX);
    CU_ASSERT_EQUAL(cpu.r[0], 0);
    CU_ASSERT_EQUAL(cpu.budget, 0);
    cpu_free(&cpu);
}

/* Runs report_print into a string; returns its exit status. */
static int report(const aotb_cpu *cpu, const run_opts *o, char **text)
{
    size_t len = 0;
    FILE *f = open_memstream(text, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    int rc = report_print(f, cpu, o);
    fclose(f);
    return rc;
}

static void expect_report(const aotb_cpu *cpu, const run_opts *o,
                          const char *want, int want_rc)
{
    char *got = NULL;
    int rc = report(cpu, o, &got);
    if (strcmp(got, want) != 0)
        fprintf(stderr, "report_print gave:\n%s---\nwanted:\n%s---\n", got,
                want);
    CU_ASSERT_STRING_EQUAL(got, want);
    CU_ASSERT_EQUAL(rc, want_rc);
    free(got);
}

static void test_report_example(void)
{
    /* the state the worked example of ir-format.md ends in */
    aotb_cpu cpu;
    run_opts o;
    init_ok(&cpu, 0x10000);
    opts_init(&o);
    cpu.status = AOTB_ST_RET;
    cpu.pc = 0x1020;
    cpu.r[1] = 0x100;
    cpu.r[2] = 0x37;
    cpu.mem[0x100] = 10;
    cpu.mem[0x108] = 0x37;
    o.dumps[0].addr = 0x108;
    o.dumps[0].len = 8;
    o.ndumps = 1;
    expect_report(&cpu, &o,
                  "status: ret\n"
                  "pc: 0x0000000000001020\n"
                  "r1: 0x0000000000000100\n"
                  "r2: 0x0000000000000037\n"
                  "mem 0x0000000000000108: 37 00 00 00 00 00 00 00\n",
                  0);
    cpu_free(&cpu);
}

static void test_report_dumps(void)
{
    aotb_cpu cpu;
    run_opts o;
    init_ok(&cpu, 0x40);
    opts_init(&o);
    for (unsigned k = 0; k < 0x40; k++)
        cpu.mem[k] = (uint8_t)(0xf0 + k);    /* f0 f1 ... ff 00 01 ... */
    cpu.status = AOTB_ST_BUDGET;
    cpu.pc = 0xfedcba9876543210ull;
    cpu.r[0] = 1;
    cpu.r[10] = 0xffffffffffffffffull;
    cpu.r[255] = 0xabcdef;
    o.dumps[0].addr = 0x2e;                  /* 18 bytes: 16 + 2 */
    o.dumps[0].len = 18;
    o.dumps[1].addr = 5;                     /* empty: prints nothing */
    o.dumps[1].len = 0;
    o.dumps[2].addr = 0x3f;                  /* the last byte */
    o.dumps[2].len = 1;
    o.dumps[3].addr = 0;                     /* exactly 16 */
    o.dumps[3].len = 16;
    o.ndumps = 4;
    expect_report(&cpu, &o,
                  "status: budget\n"
                  "pc: 0xfedcba9876543210\n"
                  "r0: 0x0000000000000001\n"
                  "r10: 0xffffffffffffffff\n"
                  "r255: 0x0000000000abcdef\n"
                  "mem 0x000000000000002e: 1e 1f 20 21 22 23 24 25 26 27 28 "
                  "29 2a 2b 2c 2d\n"
                  "mem 0x000000000000003e: 2e 2f\n"
                  "mem 0x000000000000003f: 2f\n"
                  "mem 0x0000000000000000: f0 f1 f2 f3 f4 f5 f6 f7 f8 f9 fa "
                  "fb fc fd fe ff\n",
                  3);
    cpu_free(&cpu);
}

static void test_report_statuses(void)
{
    static const struct {
        uint32_t status;
        uint64_t pc, info;
        const char *want;
        int rc;
    } c[] = {
        {AOTB_ST_RET, 0, 0, "status: ret\npc: 0x0000000000000000\n", 0},
        {AOTB_ST_FAULT, 0x10, 18446744073709551615ull,
         "status: fault 18446744073709551615\npc: 0x0000000000000010\n", 3},
        {AOTB_ST_FAULT, 0x10, 0,
         "status: fault 0\npc: 0x0000000000000010\n", 3},
        {AOTB_ST_MEMFAULT, 0x20, 0xfffffffffffffff9ull,
         "status: memfault 0xfffffffffffffff9\npc: 0x0000000000000020\n", 3},
        {AOTB_ST_INTERRUPT, 0x5000, 128,
         "status: interrupt 128\npc: 0x0000000000005000\n", 0},
        {AOTB_ST_NOCODE, 0x1234, 0,
         "status: nocode 0x0000000000001234\npc: 0x0000000000001234\n", 3},
        {AOTB_ST_BUDGET, 0x30, 0, "status: budget\npc: 0x0000000000000030\n",
         3},
        {AOTB_ST_CALLSTACK, 0x40, 0,
         "status: callstack\npc: 0x0000000000000040\n", 3},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        aotb_cpu cpu;
        init_ok(&cpu, 16);
        cpu.status = c[i].status;
        cpu.pc = c[i].pc;
        cpu.info = c[i].info;
        expect_report(&cpu, NULL, c[i].want, c[i].rc);
        cpu_free(&cpu);
    }
}

static CU_TestInfo tests[] = {
    {"initial state", test_init_state},
    {"bounds of small memories", test_bounds_small},
    {"4 GiB memory", test_big_memory},
    {"init errors", test_init_errors},
    {"load data", test_load_data},
    {"run options", test_run_opts_apply},
    {"report: worked example", test_report_example},
    {"report: dumps and registers", test_report_dumps},
    {"report: every status", test_report_statuses},
    CU_TEST_INFO_NULL};

static CU_SuiteInfo suites[] = {
    {"cpu", NULL, NULL, NULL, NULL, tests}, CU_SUITE_INFO_NULL};

int main(void)
{
    return tu_run(suites);
}
