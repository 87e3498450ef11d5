/* cmd_run.c: "aotb run [OPTION]... PROG.aot": loads an image through the
 * public API (<aotb/aotb.h>) and runs its native code.  Same options and
 * byte-identical standard output as "aotb interp" (report_print). */
#include <stdio.h>
#include <string.h>

#include "aotb/aotb.h"
#include "cli.h"
#include "cpu.h"

int cmd_run(int argc, char **argv)
{
    const char *cmd = "run";
    run_opts o;
    const char *path;
    int st = cli_parse_run_args(cmd, "image", argc, argv, &o, &path);
    if (st >= 0)
        return st;

    aotb_image *img;
    aotb_cpu *cpu = NULL;
    char *err = NULL;
    int rc;
    if (aotb_image_open(path, &img, &err) != 0) {
        fprintf(stderr, "%s\n", err ? err : "aotb run: out of memory");
        aotb_error_free(err);
        return EXIT_BADINPUT;
    }
    uint64_t entry = o.entry;
    if (cli_run_opts_check(cmd, &o, aotb_image_memsize(img)) != 0) {
        rc = EXIT_USAGE;
        goto out;
    }
    if (!o.has_entry && !aotb_image_entry(img, &entry)) {
        fprintf(stderr, "%s: error: the program has no blocks and no entry\n",
                path);
        rc = EXIT_BADINPUT;
        goto out;
    }
    if (aotb_cpu_new(img, &cpu, &err) != 0) {
        fprintf(stderr, "aotb %s: %s\n", cmd, err ? err : "out of memory");
        aotb_error_free(err);
        rc = EXIT_BADINPUT;
        goto out;
    }
    /* The public aotb_cpu is cpu.h's struct: the shared option and report
     * code applies unchanged. */
    run_opts_apply(&o, cpu);
    aotb_run(img, cpu, entry, o.max_blocks);
    rc = report_print(stdout, cpu, &o);
    if (fflush(stdout) != 0) {
        perror("aotb run: standard output");
        rc = EXIT_BADINPUT;
    }
out:
    aotb_cpu_free(cpu);
    aotb_image_close(img);
    return rc;
}
