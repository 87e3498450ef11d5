/* cmd_gen.c: "aotb gen": per-block files and the Ninja / Make build graph. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "gen.h"

int cmd_gen(int argc, char **argv)
{
    gen_options o = {0};
    int stats = 0, json = 0;
    o.outdir = "aot";
    o.batch = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if ((strcmp(a, "-o") == 0 || strcmp(a, "--image") == 0 ||
             strcmp(a, "--batch") == 0 || strcmp(a, "--root") == 0 ||
             strcmp(a, "--fold") == 0) &&
            i + 1 >= argc)
            return cli_usage_error(argv[0], "%s needs a value", a);
        if (strcmp(a, "-o") == 0)
            o.outdir = argv[++i];
        else if (strcmp(a, "--image") == 0)
            o.image = argv[++i];
        else if (strcmp(a, "--root") == 0)
            o.root = argv[++i];
        else if (strcmp(a, "--batch") == 0) {
            char *end;
            unsigned long k = strtoul(argv[++i], &end, 10);
            if (*end || k < 1 || k > 100000 || argv[i][0] == '-')
                return cli_usage_error(argv[0], "--batch: expected 1..100000, got '%s'", argv[i]);
            o.batch = (unsigned)k;
        } else if (strcmp(a, "--fold") == 0) {
            char *end;
            unsigned long k = strtoul(argv[++i], &end, 10);
            if (*end || k > 1000 || argv[i][0] == '-')
                return cli_usage_error(argv[0], "--fold: expected 0..1000, got '%s'", argv[i]);
            o.fold = (unsigned)k;
        } else if (strcmp(a, "--make") == 0)
            o.make = 1;
        else if (strcmp(a, "--stats") == 0)
            stats = 1;
        else if (strcmp(a, "--json") == 0)
            json = 1;
        else if (a[0] == '-' && a[1])
            return cli_usage_error(argv[0], "unknown option '%s'", a);
        else if (o.prog)
            return cli_usage_error(argv[0], "more than one program given");
        else
            o.prog = a;
    }
    if (!o.prog)
        return cli_usage_error(argv[0], "no program given");
    static char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        fprintf(stderr, "aotb gen: cannot find the aotb binary's path\n");
        return EXIT_BADINPUT;
    }
    self[n] = '\0';
    o.aotb = self;

    aotb_diag d = {0};
    gen_result r;
    if (gen_run(&o, &r, &d) != 0) {
        cli_print_diag(&d);
        diag_free(&d);
        return EXIT_BADINPUT;
    }
    if (json)
        changes_print(&r.changes, 1, stdout);
    else if (stats)
        changes_print(&r.changes, 0, stdout);
    gen_result_free(&r);
    diag_free(&d);
    return 0;
}
