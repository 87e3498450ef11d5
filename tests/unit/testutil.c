/* testutil.c: the CUnit runner wrapper and small helpers for the suites. */
#include "testutil.h"

#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

static char tmpdir[256];

static void remove_tmpdir(void)
{
    char cmd[300];
    if (tmpdir[0]) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "warning: could not remove %s\n", tmpdir);
    }
}

const char *tu_tmpdir(void)
{
    if (!tmpdir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(tmpdir, sizeof tmpdir, "%s/aotb-test-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(tmpdir)) {
            perror("mkdtemp");
            exit(2);
        }
        atexit(remove_tmpdir);
    }
    return tmpdir;
}

int tu_parse(const char *text, ir_program *p)
{
    aotb_diag d = {0};
    int rc = ir_parse("test.vir", text, strlen(text), p, &d);
    if (rc != 0)
        fprintf(stderr, "unexpected parse failure:\n%s", diag_text(&d));
    diag_free(&d);
    CU_ASSERT_EQUAL(rc, 0);
    return rc;
}

int tu_run(CU_SuiteInfo *suites)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    if (CU_register_suites(suites) != CUE_SUCCESS) {
        fprintf(stderr, "CU_register_suites: %s\n", CU_get_error_msg());
        CU_cleanup_registry();
        return 2;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned run = CU_get_number_of_tests_run();
    unsigned failed = CU_get_number_of_tests_failed();
    unsigned sfailed = CU_get_number_of_suites_failed();
    CU_cleanup_registry();
    printf("TESTS %u %u\n", run, failed + sfailed);
    return failed || sfailed ? 1 : 0;
}

/* ---- a re-implementation of the image checksums, from man/aotb-image.5 -- */

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void sum16(const uint8_t *p, size_t n, uint8_t *out)
{
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(p, n));
    memcpy(out, c.digest, 16);
}

void tu_refresh_image_sums(uint8_t *f, size_t len)
{
    uint64_t shoff = le64(f + 40);
    unsigned shnum = (unsigned)(f[60] | f[61] << 8);
    unsigned si = shnum - 2;
    const uint8_t *sh = f + shoff;
    uint64_t soff = le64(sh + 64 * si + 24);
    for (unsigned i = 1; i < shnum; i++) {
        if (i == si)
            continue;
        uint64_t o = le64(sh + 64 * i + 24), n = le64(sh + 64 * i + 32);
        if (o <= len && n <= len - o)
            sum16(f + o, n, f + soff + 32 + 16 * i);
    }
    /* The root: the bytes no other section covers, in file order, with
     * the root slot zero. */
    uint8_t *covered = calloc(len ? len : 1, 1), *rest = malloc(len ? len : 1);
    if (!covered || !rest) {
        perror("tu_refresh_image_sums");
        exit(2);
    }
    for (unsigned i = 1; i < shnum; i++) {
        uint64_t o = le64(sh + 64 * i + 24), n = le64(sh + 64 * i + 32);
        if (i != si && o <= len && n <= len - o)
            memset(covered + o, 1, n);
    }
    memset(f + soff + 16, 0, 16);
    size_t k = 0;
    for (size_t i = 0; i < len; i++)
        if (!covered[i])
            rest[k++] = f[i];
    sum16(rest, k, f + soff + 16);
    free(covered);
    free(rest);
}
