/* testutil.h: shared helpers for the CUnit suites.  Each tests/unit/test_X.c
 * is its own executable:
 *
 *     static CU_TestInfo tests[] = { { "name", fn }, CU_TEST_INFO_NULL };
 *     static CU_SuiteInfo suites[] = {
 *         { "X", NULL, NULL, NULL, NULL, tests }, CU_SUITE_INFO_NULL };
 *     int main(void) { return tu_run(suites); }
 */
#ifndef AOTB_TESTUTIL_H
#define AOTB_TESTUTIL_H

#include <CUnit/CUnit.h>
#include <stddef.h>
#include <stdint.h>

#include "ir.h"

/* Runs the suites, prints CUnit's report and one line
 * "TESTS <run> <failed>" for tests/run-tests.sh.  Returns the exit status. */
int tu_run(CU_SuiteInfo *suites);

/* Parses .vir text that must be valid; on failure prints the diagnostics and
 * records a CUnit failure.  Returns 0 on success. */
int tu_parse(const char *text, ir_program *p);

/* A fresh empty directory under $TMPDIR, removed at exit.  Static storage. */
const char *tu_tmpdir(void);

/* Recomputes every section checksum and the root checksum of the image
 * f[0, len) after a test edited it (so that the edit reaches the checks
 * behind them): a re-implementation from man/aotb-image.5, not the
 * linker's code.  The section headers must lie inside f. */
void tu_refresh_image_sums(uint8_t *f, size_t len);

#endif
