/* testutil.c: the CUnit runner wrapper and small helpers for the suites. */
#include "testutil.h"

#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
