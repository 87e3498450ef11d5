/* test_codemap.c: the code map's layout, relocation and protection rules
 * (codemap.h), for the one-shot codemap_build and the staged path the image
 * loader uses (begin, write the bytes, patch, finish).  Expected offsets
 * and rel32 values are worked out from the layout rule (runtime stubs at 0,
 * then each piece at the 16-aligned end of the one before) and from
 * S + A - P, not taken from the code under test. */
#include <elf.h>
#include <stdlib.h>
#include <string.h>

#include "codemap.h"
#include "testutil.h"

static size_t align16(size_t v)
{
    return (v + 15) & ~(size_t)15;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

/* The size of the runtime stubs, the start of the first block. */
static size_t rt_size(void)
{
    cg_code rt;
    aotb_diag d = {0};
    memset(&rt, 0, sizeof rt);
    CU_ASSERT_FATAL(cg_compile_runtime(&rt, &d) == 0);
    size_t n = rt.code.len;
    cg_code_free(&rt);
    diag_free(&d);
    return n;
}

static void test_staged_layout(void)
{
    const uint64_t pcs[] = { 0x1000, 0x1010, 0x2000 };
    const size_t sizes[] = { 5, 17, 1 };
    const uint64_t missing[] = { 0x1008, 0x3000 };
    aotb_diag d = {0};
    codemap *m = NULL;
    CU_ASSERT_FATAL(codemap_begin(pcs, sizes, 3, missing, 2, &m, &d) == 0);
    size_t want = align16(rt_size());
    for (size_t i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(codemap_block_offset(m, i), want);
        want = align16(want + sizes[i]);
    }
    /* The missing stubs follow the last block, in pc order. */
    CU_ASSERT_EQUAL(codemap_missing_offset(m, 0), want);
    CU_ASSERT(codemap_missing_offset(m, 1) > codemap_missing_offset(m, 0));
    CU_ASSERT(codemap_rt_offset(m, CG_RT_ENTER) < align16(rt_size()));
    CU_ASSERT(codemap_rt_offset(m, CG_RT_LOOKUP) < align16(rt_size()));
    CU_ASSERT_EQUAL(codemap_rt_offset(m, CG_RT_NUM), SIZE_MAX);

    /* Block bytes: a jmp rel32 in block 1 to block 2, one to a missing
     * stub from block 0, and int3 filler for the rest. */
    uint8_t *b0 = codemap_block_dst(m, 0), *b1 = codemap_block_dst(m, 1);
    uint8_t *b2 = codemap_block_dst(m, 2);
    CU_ASSERT_FATAL(b0 && b1 && b2);
    memset(b0, 0xcc, 5);
    b0[0] = 0xe9;
    memset(b1, 0xcc, 17);
    b1[0] = 0xe9;
    b2[0] = 0xc3;
    size_t o0 = codemap_block_offset(m, 0), o1 = codemap_block_offset(m, 1);
    size_t o2 = codemap_block_offset(m, 2), ms = codemap_missing_offset(m, 1);
    CU_ASSERT(codemap_patch(m, o1 + 1, o2, -4, &d) == 0);
    CU_ASSERT(codemap_patch(m, o0 + 1, ms, -4, &d) == 0);
    CU_ASSERT_FATAL(codemap_finish(m, &d) == 0);
    CU_ASSERT_PTR_NULL(codemap_block_dst(m, 0));

    /* Lookup gives the same relative placement, and the rel32 fields hold
     * S + A - P. */
    const uint8_t *c0 = codemap_lookup(m, 0x1000);
    const uint8_t *c1 = codemap_lookup(m, 0x1010);
    const uint8_t *c2 = codemap_lookup(m, 0x2000);
    CU_ASSERT_FATAL(c0 && c1 && c2);
    CU_ASSERT_PTR_NULL(codemap_lookup(m, 0x1008));   /* a stub, no block */
    CU_ASSERT_EQUAL((size_t)(c1 - c0), o1 - o0);
    CU_ASSERT_EQUAL((size_t)(c2 - c0), o2 - o0);
    CU_ASSERT_EQUAL(c1[0], 0xe9);
    CU_ASSERT_EQUAL((int32_t)le32(c1 + 1), (int32_t)(o2 - 4 - (o1 + 1)));
    CU_ASSERT_EQUAL((int32_t)le32(c0 + 1), (int32_t)(ms - 4 - (o0 + 1)));
    CU_ASSERT_EQUAL(c2[0], 0xc3);
    /* The gap after block 0 (5 bytes of 16) is int3. */
    for (size_t k = 5; k < o1 - o0; k++)
        CU_ASSERT_EQUAL(c0[k], 0xcc);

    /* Finished: no more patching, no second finish. */
    CU_ASSERT(codemap_patch(m, o1 + 1, o2, -4, &d) != 0);
    CU_ASSERT(codemap_finish(m, &d) != 0);
    codemap_free(m);
    diag_free(&d);
}

static void test_staged_errors(void)
{
    aotb_diag d = {0};
    codemap *m = NULL;
    const size_t sizes[] = { 4, 4 };

    const uint64_t unsorted[] = { 0x2000, 0x1000 };
    CU_ASSERT(codemap_begin(unsorted, sizes, 2, NULL, 0, &m, &d) != 0);
    CU_ASSERT(strstr(diag_text(&d), "not sorted") != NULL);
    codemap_free(m);
    m = NULL;
    diag_clear(&d);

    const uint64_t twice[] = { 0x1000, 0x1000 };
    CU_ASSERT(codemap_begin(twice, sizes, 2, NULL, 0, &m, &d) != 0);
    CU_ASSERT(strstr(diag_text(&d), "two blocks") != NULL);
    codemap_free(m);
    m = NULL;
    diag_clear(&d);

    const uint64_t pcs[] = { 0x1000, 0x2000 };
    const uint64_t clash[] = { 0x2000 };
    CU_ASSERT(codemap_begin(pcs, sizes, 2, clash, 1, &m, &d) != 0);
    codemap_free(m);
    m = NULL;
    diag_clear(&d);

    /* Patches outside the code, over its end, or out of rel32 range. */
    CU_ASSERT_FATAL(codemap_begin(pcs, sizes, 2, NULL, 0, &m, &d) == 0);
    size_t o0 = codemap_block_offset(m, 0), o1 = codemap_block_offset(m, 1);
    CU_ASSERT(codemap_patch(m, 0, o1, 0, &d) != 0);          /* in the stubs */
    CU_ASSERT(codemap_patch(m, o1 + 1, o0, 0, &d) != 0);     /* past the end */
    CU_ASSERT(codemap_patch(m, o0, o1 + 4, 0, &d) != 0);     /* target past */
    CU_ASSERT(codemap_patch(m, o0, o1, (int64_t)1 << 40, &d) != 0);
    CU_ASSERT(codemap_patch(m, o0, o1, 0, &d) == 0);
    codemap_free(m);
    diag_free(&d);
}

/* codemap_build: blocks given out of pc order are laid out in the order
 * given; a target with no block gets a missing stub. */
static void test_build(void)
{
    cg_code c[2];
    memset(c, 0, sizeof c);
    c[0].pc = 0x2000;
    buf_append(&c[0].code, "\xc3", 1);
    c[1].pc = 0x1000;
    buf_append(&c[1].code, "\xe9\0\0\0\0", 5);
    c[1].relocs = calloc(1, sizeof *c[1].relocs);
    CU_ASSERT_FATAL(c[1].relocs != NULL);
    c[1].relocs[0] = (cg_reloc){ .offset = 1, .type = R_X86_64_PLT32,
                                 .addend = -4, .kind = CG_TGT_BLOCK,
                                 .target = 0x5000 };
    c[1].nrelocs = c[1].relocs_cap = 1;
    aotb_diag d = {0};
    codemap *m = NULL;
    CU_ASSERT_FATAL(codemap_build(c, 2, &m, &d) == 0);
    const uint8_t *a = codemap_lookup(m, 0x2000), *b = codemap_lookup(m, 0x1000);
    CU_ASSERT_FATAL(a && b);
    CU_ASSERT_EQUAL((size_t)(b - a), 16);      /* 1 byte, then align 16 */
    /* The jump lands after both blocks: on the missing stub of 0x5000. */
    const uint8_t *t = b + 5 + (int32_t)le32(b + 1);
    CU_ASSERT(t >= b + 16);
    CU_ASSERT_PTR_NULL(codemap_lookup(m, 0x5000));
    codemap_free(m);
    for (int i = 0; i < 2; i++)
        cg_code_free(&c[i]);

    /* Two blocks at one pc are refused. */
    memset(c, 0, sizeof c);
    c[0].pc = c[1].pc = 0x1000;
    buf_append(&c[0].code, "\xc3", 1);
    buf_append(&c[1].code, "\xc3", 1);
    CU_ASSERT(codemap_build(c, 2, &m, &d) != 0);
    for (int i = 0; i < 2; i++)
        cg_code_free(&c[i]);
    diag_free(&d);
}

static CU_TestInfo tests[] = {
    { "staged layout, patches and protection", test_staged_layout },
    { "staged errors", test_staged_errors },
    { "one-shot build", test_build },
    CU_TEST_INFO_NULL
};
static CU_SuiteInfo suites[] = {
    { "codemap", NULL, NULL, NULL, NULL, tests }, CU_SUITE_INFO_NULL
};

int main(void)
{
    return tu_run(suites);
}
