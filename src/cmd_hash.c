/* cmd_hash.c: "aotb hash PROG.vir": one line per block in ascending pc
 * order, "0x<16 hex digits> <32 hex digits>", pc then IR hash. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "ir.h"

int cmd_hash(int argc, char **argv)
{
    const char *cmd = argv[0], *in = NULL;
    int opts_done = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!opts_done && strcmp(a, "--") == 0)
            opts_done = 1;
        else if (!opts_done && a[0] == '-' && a[1] != '\0')
            return cli_usage_error(cmd, "unknown option '%s'", a);
        else if (in)
            return cli_usage_error(cmd, "only one program file, got '%s' and '%s'",
                                   in, a);
        else
            in = a;
    }
    if (!in)
        return cli_usage_error(cmd, "no program file given");

    aotb_diag d = {0};
    ir_program p;
    if (ir_parse_file(in, &p, &d) != 0) {
        cli_print_diag(&d);
        diag_free(&d);
        return EXIT_BADINPUT;
    }
    /* Build the whole text first so that a failure prints nothing. */
    buf out = {0};
    for (size_t i = 0; i < p.nblocks; i++) {
        const ir_block *b = &p.blocks[p.by_pc[i]];
        char hex[33];
        ir_hash_hex(ir_hash_block(b), hex);
        buf_printf(&out, "0x%016llx %s\n", (unsigned long long)b->pc, hex);
    }
    ir_program_free(&p);
    int rc = 0;
    if (out.oom) {
        fprintf(stderr, "aotb %s: out of memory\n", cmd);
        rc = EXIT_BADINPUT;
    } else if (fwrite(out.data, 1, out.len, stdout) != out.len ||
               fflush(stdout) != 0) {
        fprintf(stderr, "aotb %s: cannot write standard output\n", cmd);
        rc = EXIT_BADINPUT;
    }
    buf_free(&out);
    return rc;
}
