/* cmd_build.c: "aotb build PROG.vir -o PROG.aot": the single-process path
 * through the builder API (<aotb/builder.h>): lock the image, load it if it
 * exists, detect changes, compile the changed blocks on -j threads, copy
 * the rest, write the new image atomically.  Quiet unless asked (--stats,
 * --json); a progress bar on stderr only when stderr is a terminal. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aotb/builder.h"
#include "cli.h"

static const char *const CMD = "build";

static void progress(void *ctx, size_t done, size_t total)
{
    (void)ctx;
    int width = 40, fill = total ? (int)(done * (size_t)width / total) : width;
    fprintf(stderr, "\r[%-*.*s] %zu/%zu blocks", width, fill,
            "########################################", done, total);
    if (done == total)
        fputc('\n', stderr);
    fflush(stderr);
}

/* A decimal unsigned option value; -1 on error (message printed). */
static int uint_arg(const char *opt, const char *v, unsigned max,
                    unsigned *out)
{
    char *end;
    unsigned long n = strtoul(v, &end, 10);
    if (!*v || *end || v[0] == '-' || n > max) {
        cli_usage_error(CMD, "%s needs a number from 0 to %u, got '%s'", opt,
                        max, v);
        return -1;
    }
    *out = (unsigned)n;
    return 0;
}

static void print_stats(const aotb_build_stats *s, int json)
{
    if (json) {
        printf("{\"added\":%zu,\"modified\":%zu,\"modified_dependency\":%zu,"
               "\"removed\":%zu,\"unchanged\":%zu,\"total_changes\":%zu,"
               "\"has_changes\":%s,\"compiled\":%zu,\"copied\":%zu,"
               "\"chunks\":%zu,\"chunks_reused\":%zu,"
               "\"chunks_verified\":%zu}\n",
               s->added, s->modified, s->modified_dependency, s->removed,
               s->unchanged, s->total_changes,
               s->has_changes ? "true" : "false", s->compiled, s->copied,
               s->chunks, s->chunks_reused, s->chunks_verified);
        return;
    }
    printf("added %zu, modified %zu (dependency %zu), removed %zu, "
           "unchanged %zu; compiled %zu, copied %zu; chunks %zu (reused %zu, "
           "verified %zu)\n",
           s->added, s->modified, s->modified_dependency, s->removed,
           s->unchanged, s->compiled, s->copied, s->chunks, s->chunks_reused,
           s->chunks_verified);
}

int cmd_build(int argc, char **argv)
{
    const char *in = NULL, *out = NULL;
    int stats = 0, json = 0, only_files = 0;
    aotb_build_config cfg;
    aotb_build_config_init(&cfg);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_files && strcmp(a, "--") == 0) {
            only_files = 1;
        } else if (!only_files && (strcmp(a, "-o") == 0 ||
                                   strcmp(a, "-j") == 0 ||
                                   strcmp(a, "--fold") == 0)) {
            if (i + 1 >= argc)
                return cli_usage_error(CMD, "%s needs a value", a);
            const char *v = argv[++i];
            if (a[1] == 'o')
                out = v;
            else if (a[1] == 'j' ? uint_arg(a, v, 1024, &cfg.jobs)
                                 : uint_arg(a, v, 1000, &cfg.fold_max_ops))
                return EXIT_USAGE;
        } else if (!only_files && strncmp(a, "-j", 2) == 0) {
            if (uint_arg("-j", a + 2, 1024, &cfg.jobs))
                return EXIT_USAGE;
        } else if (!only_files && strcmp(a, "--full") == 0) {
            cfg.enabled = 0;
        } else if (!only_files && strcmp(a, "--no-detect-changes") == 0) {
            cfg.detect_changes = 0;
        } else if (!only_files && strcmp(a, "--no-preserve-unchanged") == 0) {
            cfg.preserve_unchanged = 0;
        } else if (!only_files && strcmp(a, "--stats") == 0) {
            stats = 1;
        } else if (!only_files && strcmp(a, "--json") == 0) {
            json = 1;
        } else if (!only_files && a[0] == '-' && a[1] != '\0') {
            return cli_usage_error(CMD, "unknown option '%s'", a);
        } else if (in) {
            return cli_usage_error(CMD, "only one program, got '%s' and '%s'",
                                   in, a);
        } else {
            in = a;
        }
    }
    if (!in)
        return cli_usage_error(CMD, "missing the program (.vir)");
    if (!out)
        return cli_usage_error(CMD, "missing -o IMAGE");
    if (isatty(STDERR_FILENO))
        cfg.progress = progress;

    aotb_builder *b = NULL;
    char *err = NULL;
    int rc = EXIT_BADINPUT;
    if (aotb_builder_new(&cfg, &b, &err) == 0 &&
        aotb_builder_set_program_file(b, in, &err) == 0 &&
        aotb_builder_update(b, out, &err) == 0) {
        aotb_build_stats s;
        aotb_builder_stats(b, &s);
        if (stats || json)
            print_stats(&s, json);
        rc = fflush(stdout) == 0 ? 0 : EXIT_BADINPUT;
    } else if (err) {
        fprintf(stderr, "%s\n", err);
    }
    aotb_error_free(err);
    aotb_builder_free(b);
    return rc;
}
