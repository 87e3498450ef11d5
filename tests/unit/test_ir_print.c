/* test_ir_print.c: the canonical printer (src/ir_print.c) and the
 * parse -> print -> parse round trip on every .vir file in tests/programs. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static void check_round_trip(const char *name, const ir_program *p1);

static char *print_text(const ir_program *p)
{
    buf b = {0};
    ir_print_program(p, &b);
    buf_put8(&b, 0);
    CU_ASSERT(!b.oom);
    return (char *)b.data;
}

static void check_prints_as(const char *in, const char *want)
{
    ir_program p;
    if (tu_parse(in, &p) != 0)
        return;
    char *got = print_text(&p);
    if (strcmp(got, want) != 0)
        fprintf(stderr, "\n--- wanted\n%s--- got\n%s---\n", want, got);
    CU_ASSERT_STRING_EQUAL(got, want);
    free(got);
    ir_program_free(&p);
}

/* The canonical form, written out by hand from the rules in aotb-ir(5). */
static void test_canonical_text(void)
{
    const char *in =
        "; comment\n"
        "memory   4096\n"
        "entry 32\n"
        "data 0x10 u16 1, -1\n"
        "data 0 \"ab\"\n"
        "block 0x20 {\n"
        "  nop\n"
        "  add r1,r2,r3\n"
        "  not r4 , r5\n"
        "  addi r1, r1, -0x10\n"
        "  muli r1, r1, 65536\n"
        "  movi r2, 0xffffffffffffffff\n"
        "  movi r3, 65535\n"
        "  movi r3, -65536\n"
        "  slli r4, r4, 0x3f\n"
        "  select r5, r6, r7, r8\n"
        "  load r9, [r10+0], s64\n"
        "  load r9, [r10 - 1], s8\n"
        "  store [r11 + 0x10], r12, s32\n"
        "  store [r11 - 0x8000_0000_0000_0000], r12, u8\n"
        "  br r1, 16, 0x20\n"
        "}\n"
        "block 0x10 {\n"
        "  jmpreg r0, -65535\n"
        "}\n"
        "block 0 { ; first in pc order\n"
        "  interrupt 0x10, 32\n"
        "}\n";
    const char *want =
        "entry 0x20\n"
        "memory 0x1000\n"
        "data 0x0 hex 61 62\n"
        "data 0x10 hex 01 00 ff ff\n"
        "\n"
        "block 0x0 {\n"
        "    interrupt 16, 0x20\n"
        "}\n"
        "\n"
        "block 0x10 {\n"
        "    jmpreg r0, -65535\n"
        "}\n"
        "\n"
        "block 0x20 {\n"
        "    nop\n"
        "    add r1, r2, r3\n"
        "    not r4, r5\n"
        "    addi r1, r1, -16\n"
        "    muli r1, r1, 0x10000\n"
        "    movi r2, -1\n"
        "    movi r3, 65535\n"
        "    movi r3, -0x10000\n"
        "    slli r4, r4, 63\n"
        "    select r5, r6, r7, r8\n"
        "    load r9, [r10], u64\n"
        "    load r9, [r10 - 1], s8\n"
        "    store [r11 + 16], r12, u32\n"
        "    store [r11 - 0x8000000000000000], r12, u8\n"
        "    condjmp r1, 0x10, 0x20\n"
        "}\n";
    check_prints_as(in, want);
}

static void test_terminator_text(void)
{
    check_prints_as("block 5 {\nret\n}\n", "block 0x5 {\n    ret\n}\n");
    check_prints_as("block 5 {\njmp 0xABC\n}\n", "block 0x5 {\n    jmp 0xabc\n}\n");
    check_prints_as("block 5 {\ncall 0x10, 6\n}\n",
                    "block 0x5 {\n    call 0x10, 0x6\n}\n");
    check_prints_as("block 5 {\nfault 0x10\n}\n", "block 0x5 {\n    fault 16\n}\n");
    check_prints_as("block 5 {\ninterrupt 7\n}\n", "block 0x5 {\n    interrupt 7\n}\n");
    check_prints_as("block 5 {\njmpreg r3, 0x8000000000000000\n}\n",
                    "block 0x5 {\n    jmpreg r3, -0x8000000000000000\n}\n");
}

static void test_default_entry_kept(void)
{
    /* first block is not the lowest: the entry is made explicit */
    check_prints_as("block 0x20 {\n ret\n}\nblock 0x10 {\n ret\n}\n",
                    "entry 0x20\n\nblock 0x10 {\n    ret\n}\n\n"
                    "block 0x20 {\n    ret\n}\n");
    /* first block is the lowest: nothing to add */
    check_prints_as("block 0x10 {\n ret\n}\nblock 0x20 {\n ret\n}\n",
                    "block 0x10 {\n    ret\n}\n\nblock 0x20 {\n    ret\n}\n");
    ir_program p;
    if (tu_parse("block 0x20 {\n ret\n}\nblock 0x10 {\n ret\n}\n", &p) == 0) {
        check_round_trip("default entry", &p);
        ir_program_free(&p);
    }
}

static void test_data_chunks(void)
{
    /* 20 bytes: one line of 16 and one of 4, each with its own address */
    check_prints_as(
        "data 0xfff0 \"0123456789abcdefWXYZ\"\nblock 0 {\n ret\n}\n",
        "data 0xfff0 hex 30 31 32 33 34 35 36 37 38 39 61 62 63 64 65 66\n"
        "data 0x10000 hex 57 58 59 5a\n"
        "\n"
        "block 0x0 {\n    ret\n}\n");
}

/* ---- structural comparison ---- */

typedef struct run {
    uint64_t addr;
    buf bytes;
} run;

static int cmp_data_ptr(const void *x, const void *y)
{
    const ir_data *a = *(const ir_data *const *)x, *b = *(const ir_data *const *)y;
    return a->addr < b->addr ? -1 : a->addr > b->addr;
}

/* The initial memory a program describes, as maximal runs of bytes in
 * address order: independent of how the data statements were split. */
static size_t data_runs(const ir_program *p, run **out)
{
    const ir_data **v = calloc(p->ndata + 1, sizeof *v);
    run *r = calloc(p->ndata + 1, sizeof *r);
    size_t n = 0;
    for (size_t i = 0; i < p->ndata; i++)
        v[i] = &p->data[i];
    qsort(v, p->ndata, sizeof *v, cmp_data_ptr);
    for (size_t i = 0; i < p->ndata; i++) {
        if (n == 0 || r[n - 1].addr + r[n - 1].bytes.len != v[i]->addr) {
            r[n].addr = v[i]->addr;
            n++;
        }
        buf_append(&r[n - 1].bytes, v[i]->bytes, v[i]->len);
    }
    free(v);
    *out = r;
    return n;
}

static void free_runs(run *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf_free(&r[i].bytes);
    free(r);
}

static int same_program(const ir_program *a, const ir_program *b)
{
    /* has_entry may differ: the printer makes a default entry explicit
     * when the blocks are reordered; the effective entry must not change. */
    int same = a->nblocks == b->nblocks && a->has_memory == b->has_memory &&
               a->memsize == b->memsize;
    uint64_t ea = 0, eb = 0;
    if (ir_program_entry(a, &ea) != ir_program_entry(b, &eb) || ea != eb)
        same = 0;
    if (a->has_entry && !b->has_entry)
        same = 0;
    for (size_t i = 0; same && i < a->nblocks; i++) {
        const ir_block *x = &a->blocks[i];
        const ir_block *y = ir_program_find(b, x->pc);
        if (!y) {
            same = 0;
            break;
        }
        buf ex = {0}, ey = {0};
        ir_encode_block(x, &ex);
        ir_encode_block(y, &ey);
        if (ex.len != ey.len || memcmp(ex.data, ey.data, ex.len) != 0)
            same = 0;
        buf_free(&ex);
        buf_free(&ey);
    }
    run *ra, *rb;
    size_t na = data_runs(a, &ra), nb = data_runs(b, &rb);
    if (na != nb)
        same = 0;
    for (size_t i = 0; same && i < na; i++)
        if (ra[i].addr != rb[i].addr || ra[i].bytes.len != rb[i].bytes.len ||
            memcmp(ra[i].bytes.data, rb[i].bytes.data, ra[i].bytes.len) != 0)
            same = 0;
    free_runs(ra, na);
    free_runs(rb, nb);
    return same;
}

/* parse(print(P)) == P and print is a fixed point. */
static void check_round_trip(const char *name, const ir_program *p1)
{
    char *t1 = print_text(p1);
    ir_program p2;
    aotb_diag d = {0};
    int rc = ir_parse("printed.vir", t1, strlen(t1), &p2, &d);
    if (rc != 0)
        fprintf(stderr, "\n%s: printed text does not parse:\n%s", name, diag_text(&d));
    CU_ASSERT_EQUAL(rc, 0);
    diag_free(&d);
    if (rc != 0) {
        free(t1);
        return;
    }
    int same = same_program(p1, &p2);
    if (!same)
        fprintf(stderr, "\n%s: round trip changed the program\n", name);
    CU_ASSERT(same);
    char *t2 = print_text(&p2);
    CU_ASSERT_STRING_EQUAL(t1, t2);
    free(t1);
    free(t2);
    ir_program_free(&p2);
}

static void test_round_trip_extremes(void)
{
    const char *in =
        "entry 0xffffffffffffffff\n"
        "memory 0x10000000000\n"
        "data 0xffffffffff u8 -1\n"
        "block 0xffffffffffffffff {\n"
        "  movi r255, -9223372036854775808\n"
        "  movi r0, 9223372036854775807\n"
        "  movi r0, 0x8000000000000001\n"
        "  addi r1, r2, -9223372036854775808\n"
        "  addi r1, r2, 9223372036854775807\n"
        "  muli r1, r2, -1\n"
        "  muli r1, r2, 65536\n"
        "  muli r1, r2, -65536\n"
        "  load r1, [r2 + 0xffffffffffffffff], u8\n"
        "  load r1, [r2 - 0x8000000000000000], u8\n"
        "  load r1, [r2 + 0x7fffffffffffffff], u8\n"
        "  store [r2 + 65535], r3, u16\n"
        "  store [r2 + 65536], r3, u16\n"
        "  srai r1, r1, 0\n"
        "  interrupt 18446744073709551615, 0xffffffffffffffff\n"
        "}\n"
        "block 0 {\n"
        "  jmpreg r1, 18446744073709551615\n"
        "}\n"
        "block 1 {\n"
        "  jmpreg r1, -9223372036854775808\n"
        "}\n"
        "block 2 {\n"
        "  fault 18446744073709551615\n"
        "}\n";
    ir_program p;
    if (tu_parse(in, &p) != 0)
        return;
    check_round_trip("extremes", &p);
    ir_program_free(&p);
}

/* A program built in memory (not indexed) prints its blocks in pc order. */
static void test_unindexed_program(void)
{
    ir_block blocks[2];
    memset(blocks, 0, sizeof blocks);
    blocks[0].pc = 0x20;
    blocks[0].term.kind = IR_T_RET;
    blocks[1].pc = 0x10;
    blocks[1].term.kind = IR_T_JMP;
    blocks[1].term.target = 0x20;
    ir_program p;
    memset(&p, 0, sizeof p);
    p.blocks = blocks;
    p.nblocks = 2;
    p.memsize = IR_DEFAULT_MEMORY;
    char *t = print_text(&p);
    CU_ASSERT_STRING_EQUAL(t, "entry 0x20\n\nblock 0x10 {\n    jmp 0x20\n}\n\n"
                              "block 0x20 {\n    ret\n}\n");
    free(t);
    buf b = {0};
    ir_print_block(&blocks[1], &b);
    buf_put8(&b, 0);
    CU_ASSERT_STRING_EQUAL((char *)b.data, "block 0x10 {\n    jmp 0x20\n}\n");
    buf_free(&b);
}

/* ---- every test program ---- */

static void test_round_trip_programs(void)
{
    const char *src = getenv("SRCDIR");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/tests/programs", src && *src ? src : ".");
    DIR *dp = opendir(dir);
    CU_ASSERT_PTR_NOT_NULL_FATAL(dp);
    int nfiles = 0, has_entry = 0, has_memory = 0, has_resume = 0;
    int ops_seen[IR_NUM_OPS] = {0}, terms_seen[8] = {0};
    int form_str = 0, form_hex = 0, form_w[4] = {0};
    struct dirent *e;
    while ((e = readdir(dp)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".vir") != 0)
            continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        ir_program p;
        aotb_diag d = {0};
        int rc = ir_parse_file(path, &p, &d);
        if (rc != 0)
            fprintf(stderr, "\n%s", diag_text(&d));
        CU_ASSERT_EQUAL(rc, 0);
        diag_free(&d);
        if (rc != 0)
            continue;
        nfiles++;
        check_round_trip(e->d_name, &p);
        has_entry |= p.has_entry;
        has_memory |= p.has_memory;
        for (size_t i = 0; i < p.nblocks; i++) {
            for (uint32_t k = 0; k < p.blocks[i].nops; k++)
                ops_seen[p.blocks[i].ops[k].op] = 1;
            terms_seen[p.blocks[i].term.kind & 7] = 1;
            has_resume |= p.blocks[i].term.has_resume;
        }
        ir_program_free(&p);
        /* which data forms the source uses */
        uint8_t *text;
        size_t len;
        if (file_read_all(path, &text, &len, &d) == 0) {
            static const char *const w[] = {" u8 ", " u16 ", " u32 ", " u64 "};
            for (char *line = (char *)text; line; ) {
                char *nl = strchr(line, '\n');
                if (nl)
                    *nl = 0;
                if (strncmp(line, "data ", 5) == 0) {
                    form_str |= strchr(line, '"') != NULL;
                    form_hex |= strstr(line, " hex ") != NULL;
                    for (int k = 0; k < 4; k++)
                        form_w[k] |= strstr(line, w[k]) != NULL;
                }
                line = nl ? nl + 1 : NULL;
            }
            free(text);
        }
        diag_free(&d);
    }
    closedir(dp);
    /* the collection must cover the whole language */
    CU_ASSERT(nfiles >= 6);
    for (int i = 0; i < IR_NUM_OPS; i++) {
        if (!ops_seen[i])
            fprintf(stderr, "\nno test program uses '%s'\n", ir_op_names[i]);
        CU_ASSERT(ops_seen[i]);
    }
    for (int k = IR_T_RET; k <= IR_T_INTERRUPT; k++)
        CU_ASSERT(terms_seen[k]);
    CU_ASSERT(has_entry && has_memory && has_resume);
    CU_ASSERT(form_str && form_hex);
    CU_ASSERT(form_w[0] && form_w[1] && form_w[2] && form_w[3]);
}

static CU_TestInfo tests[] = {
    {"canonical text", test_canonical_text},
    {"terminator text", test_terminator_text},
    {"data chunks", test_data_chunks},
    {"default entry kept", test_default_entry_kept},
    {"round trip: extremes", test_round_trip_extremes},
    {"unindexed program", test_unindexed_program},
    {"round trip: tests/programs", test_round_trip_programs},
    CU_TEST_INFO_NULL};

static CU_SuiteInfo suites[] = {
    {"ir_print", NULL, NULL, NULL, NULL, tests}, CU_SUITE_INFO_NULL};

int main(void)
{
    return tu_run(suites);
}
