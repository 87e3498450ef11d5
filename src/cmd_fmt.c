/* cmd_fmt.c: "aotb fmt PROG.vir [-o FILE]": the canonical text of a
 * program, on standard output or written atomically to FILE. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "ir.h"

int cmd_fmt(int argc, char **argv)
{
    const char *cmd = argv[0], *in = NULL, *outpath = NULL;
    int opts_done = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!opts_done && strcmp(a, "--") == 0) {
            opts_done = 1;
        } else if (!opts_done && strcmp(a, "-o") == 0) {
            if (i + 1 >= argc)
                return cli_usage_error(cmd, "-o needs a file name");
            if (outpath)
                return cli_usage_error(cmd, "-o given twice");
            outpath = argv[++i];
        } else if (!opts_done && a[0] == '-' && a[1] != '\0') {
            return cli_usage_error(cmd, "unknown option '%s'", a);
        } else if (in) {
            return cli_usage_error(cmd, "only one program file, got '%s' and '%s'",
                                   in, a);
        } else {
            in = a;
        }
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
    buf out = {0};
    ir_print_program(&p, &out);
    ir_program_free(&p);
    int rc = 0;
    if (out.oom) {
        fprintf(stderr, "aotb %s: out of memory\n", cmd);
        rc = EXIT_BADINPUT;
    } else if (outpath) {
        if (file_write_atomic(outpath, out.data, out.len, &d) != 0) {
            cli_print_diag(&d);
            rc = EXIT_BADINPUT;
        }
    } else if (fwrite(out.data, 1, out.len, stdout) != out.len ||
               fflush(stdout) != 0) {
        fprintf(stderr, "aotb %s: cannot write standard output\n", cmd);
        rc = EXIT_BADINPUT;
    }
    buf_free(&out);
    diag_free(&d);
    return rc;
}
