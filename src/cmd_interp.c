/* cmd_interp.c: "aotb interp [OPTION]... PROG.vir": runs a program with the
 * reference interpreter and prints the run/interp output contract. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cpu.h"
#include "interp.h"
#include "ir.h"

int cmd_interp(int argc, char **argv)
{
    const char *cmd = "interp";
    run_opts o;
    const char *path;
    int st = cli_parse_run_args(cmd, "program", argc, argv, &o, &path);
    if (st >= 0)
        return st;

    aotb_diag d = {0};
    ir_program prog;
    if (ir_parse_file(path, &prog, &d) != 0) {
        cli_print_diag(&d);
        diag_free(&d);
        return EXIT_BADINPUT;
    }
    int rc;
    aotb_cpu cpu;
    uint64_t entry = o.entry;
    if (cli_run_opts_check(cmd, &o, prog.memsize) != 0) {
        rc = EXIT_USAGE;
        goto out_prog;
    }
    if (!o.has_entry && !ir_program_entry(&prog, &entry)) {
        fprintf(stderr, "%s: error: the program has no blocks and no entry\n",
                path);
        rc = EXIT_BADINPUT;
        goto out_prog;
    }
    if (cpu_init(&cpu, prog.memsize, &d) != 0) {
        fprintf(stderr, "aotb %s: %s", cmd, diag_text(&d));
        rc = EXIT_BADINPUT;
        goto out_prog;
    }
    for (size_t k = 0; k < prog.ndata; k++) {
        const ir_data *dt = &prog.data[k];
        if (cpu_load_data(&cpu, dt->addr, dt->bytes, dt->len, &d) != 0) {
            fprintf(stderr, "%s:%u: error: %s", path, (unsigned)dt->line,
                    diag_text(&d));
            rc = EXIT_BADINPUT;
            goto out_cpu;
        }
    }
    run_opts_apply(&o, &cpu);
    interp_run(&prog, &cpu, entry);
    rc = report_print(stdout, &cpu, &o);
    if (fflush(stdout) != 0) {
        perror("aotb interp: standard output");
        rc = EXIT_BADINPUT;
    }
out_cpu:
    cpu_free(&cpu);
out_prog:
    ir_program_free(&prog);
    diag_free(&d);
    return rc;
}
