/* test_fuzz_corpus.c: runs every file of the fuzz seed corpora
 * (tests/fuzz/corpus/<harness>/, which also holds every crash the fuzzers
 * found, as regression inputs) through the libFuzzer harnesses, built here
 * as plain functions, so that make check (and its sanitizer run) replays
 * them.  A harness aborts on a failed check; a crash fails the suite. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define LLVMFuzzerTestOneInput fuzz_parse_one
#include "../fuzz/fuzz_parse.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_object_one
#include "../fuzz/fuzz_object.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_image_one
#include "../fuzz/fuzz_image.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_diff_one
#include "../fuzz/fuzz_diff.c"
#undef LLVMFuzzerTestOneInput

typedef int (*one_fn)(const uint8_t *, size_t);

/* Feeds every regular file of tests/fuzz/corpus/NAME to fn; returns how
 * many there were. */
static int replay(const char *name, one_fn fn)
{
    const char *src = getenv("SRCDIR");
    char dir[4096], path[8192];
    snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/%s", src && *src ? src : ".", name);
    DIR *dp = opendir(dir);
    CU_ASSERT_PTR_NOT_NULL_FATAL(dp);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dp)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        uint8_t *data;
        size_t len;
        aotb_diag d = {0};
        if (file_read_all(path, &data, &len, &d) != 0) {
            fprintf(stderr, "%s", diag_text(&d));
            CU_FAIL("a corpus file cannot be read");
            diag_free(&d);
            continue;
        }
        CU_ASSERT_EQUAL(fn(data, len), 0);
        free(data);
        n++;
    }
    closedir(dp);
    return n;
}

static void test_parse(void) { CU_ASSERT(replay("parse", fuzz_parse_one) >= 10); }
static void test_object(void) { CU_ASSERT(replay("object", fuzz_object_one) >= 4); }
static void test_image(void) { CU_ASSERT(replay("image", fuzz_image_one) >= 3); }
static void test_diff(void) { CU_ASSERT(replay("diff", fuzz_diff_one) >= 3); }

/* The harnesses must be able to fail: a program whose text does not parse
 * gives a message, and the diff harness really runs both engines (a
 * budget-bound self-loop ends identically, not with a skipped check). */
static void test_harness_sanity(void)
{
    static const char junk[] = "block 0x10 {\n  frob r1\n}\n";
    CU_ASSERT_EQUAL(fuzz_parse_one((const uint8_t *)junk, sizeof junk - 1), 0);
    static const uint8_t loop[] = { 11, 0, 0, 1, 0 };  /* 1 block: jmp self */
    CU_ASSERT_EQUAL(fuzz_diff_one(loop, sizeof loop), 0);
}

static CU_TestInfo tests[] = {
    {"replay tests/fuzz/corpus/parse", test_parse},
    {"replay tests/fuzz/corpus/object", test_object},
    {"replay tests/fuzz/corpus/image", test_image},
    {"replay tests/fuzz/corpus/diff", test_diff},
    {"harness sanity", test_harness_sanity},
    CU_TEST_INFO_NULL,
};
static CU_SuiteInfo suites[] = {
    {"fuzz corpus", NULL, NULL, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};
int main(void) { return tu_run(suites); }
