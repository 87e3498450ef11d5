/* fuzz_parse.c: libFuzzer harness for the .vir parser.  Any bytes must give
 * either a program or diagnostics, never a crash or a hang; a program that
 * parses must print canonically, and the canonical text must parse again to
 * the same text and the same block hashes (the printer/parser round trip the
 * incremental build relies on). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fp_fail(const char *what, const buf *text)
{
    fprintf(stderr, "fuzz_parse: %s\n--- canonical text ---\n%.*s\n", what,
            (int)(text->len < 4000 ? text->len : 4000), (const char *)text->data);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ir_program p;
    aotb_diag d = {0};
    unsigned flags = size > 0 && (data[0] & 1) ? IR_PARSE_NO_BLOCKS_OK : 0;
    if (ir_parse_ex("fuzz.vir", (const char *)data, size, flags, &p, &d) != 0) {
        /* Every failure must say why. */
        if (diag_text(&d)[0] == '\0') {
            fprintf(stderr, "fuzz_parse: failure without a message\n");
            abort();
        }
        diag_free(&d);
        return 0;
    }
    diag_free(&d);

    buf t1 = {0}, t2 = {0};
    ir_print_program(&p, &t1);
    ir_program q;
    if (ir_parse_ex("canon.vir", (const char *)t1.data, t1.len, flags, &q,
                    &d) != 0) {
        fprintf(stderr, "%s", diag_text(&d));
        fp_fail("canonical text does not parse", &t1);
    }
    ir_print_program(&q, &t2);
    if (t1.len != t2.len ||
        (t1.len && memcmp(t1.data, t2.data, t1.len) != 0))
        fp_fail("canonical text is not a fixed point", &t1);
    if (p.nblocks != q.nblocks)
        fp_fail("block count changed", &t1);
    for (size_t i = 0; i < p.nblocks; i++) {
        const ir_block *b = ir_program_find(&q, p.blocks[i].pc);
        if (!b || !ir_hash_eq(ir_hash_block(&p.blocks[i]), ir_hash_block(b)))
            fp_fail("a block's hash changed through the printer", &t1);
    }
    ir_program_free(&q);
    ir_program_free(&p);
    buf_free(&t1);
    buf_free(&t2);
    diag_free(&d);
    return 0;
}
