/* cli.c: helpers shared by the commands: help, usage errors, run options. */
#include "cli.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

const cli_command *cli_find(const char *name)
{
    for (const cli_command *c = cli_commands; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

void cli_help(const cli_command *c, FILE *out)
{
    fprintf(out, "usage: %s\n\n%s.\n", c->synopsis, c->summary);
    if (c->options && *c->options)
        fprintf(out, "\nOptions:\n%s", c->options);
    fprintf(out, "  -h, --help            print this help\n");
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "aotb %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    const cli_command *c = cli_find(cmd);
    fprintf(stderr, "\nusage: %s\nTry 'aotb %s --help'.\n",
            c ? c->synopsis : "aotb COMMAND", cmd);
    return EXIT_USAGE;
}

void cli_print_diag(const aotb_diag *d)
{
    fputs(diag_text(d), stderr);
}

int cli_is_help(const char *arg)
{
    return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

void run_opts_init(run_opts *o)
{
    memset(o, 0, sizeof *o);
    o->max_blocks = UINT64_MAX;
}

/* Splits "--opt=value" or "--opt value". */
static const char *opt_value(const char *cmd, const char *name, int argc,
                             char **argv, int *i, int *err)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0)
        return NULL;
    if (a[n] == '=')
        return a + n + 1;
    if (a[n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        cli_usage_error(cmd, "%s needs a value", name);
        *err = 1;
        return NULL;
    }
    return argv[++*i];
}

int cli_run_option(const char *cmd, int argc, char **argv, int *i,
                   run_opts *o)
{
    int err = 0;
    const char *v;
    if ((v = opt_value(cmd, "--entry", argc, argv, i, &err))) {
        if (ir_number_u64(v, &o->entry) != 0)
            return cli_usage_error(cmd, "--entry: bad address '%s'", v), -1;
        o->has_entry = 1;
        return 1;
    }
    if (err)
        return -1;
    if ((v = opt_value(cmd, "--max-blocks", argc, argv, i, &err))) {
        if (v[0] == '-' || ir_number_u64(v, &o->max_blocks) != 0)
            return cli_usage_error(cmd, "--max-blocks: bad count '%s'", v), -1;
        return 1;
    }
    if (err)
        return -1;
    if ((v = opt_value(cmd, "--set", argc, argv, i, &err))) {
        const char *eq = strchr(v, '=');
        char reg[16];
        unsigned long r = 0;
        char *end = NULL;
        if (!eq || v[0] != 'r' || (size_t)(eq - v) >= sizeof reg || eq - v < 2)
            return cli_usage_error(cmd, "--set: expected rN=VALUE, got '%s'", v), -1;
        memcpy(reg, v + 1, (size_t)(eq - v - 1));
        reg[eq - v - 1] = '\0';
        r = strtoul(reg, &end, 10);
        if (*end || reg[0] < '0' || reg[0] > '9' || r >= IR_NREGS ||
            (reg[0] == '0' && reg[1]))
            return cli_usage_error(cmd, "--set: no register '%.*s'", (int)(eq - v), v), -1;
        uint64_t val;
        if (ir_number_u64(eq + 1, &val) != 0)
            return cli_usage_error(cmd, "--set: bad value '%s'", eq + 1), -1;
        if (o->nsets >= sizeof o->sets / sizeof o->sets[0])
            return cli_usage_error(cmd, "too many --set options"), -1;
        o->sets[o->nsets].reg = (unsigned)r;
        o->sets[o->nsets].val = val;
        o->nsets++;
        return 1;
    }
    if (err)
        return -1;
    if ((v = opt_value(cmd, "--dump-mem", argc, argv, i, &err))) {
        const char *colon = strchr(v, ':');
        char a[64];
        uint64_t addr, len;
        if (!colon || (size_t)(colon - v) >= sizeof a)
            return cli_usage_error(cmd, "--dump-mem: expected ADDR:LEN, got '%s'", v), -1;
        memcpy(a, v, (size_t)(colon - v));
        a[colon - v] = '\0';
        if (a[0] == '-' || colon[1] == '-' || ir_number_u64(a, &addr) != 0 ||
            ir_number_u64(colon + 1, &len) != 0)
            return cli_usage_error(cmd, "--dump-mem: bad range '%s'", v), -1;
        if (o->ndumps >= sizeof o->dumps / sizeof o->dumps[0])
            return cli_usage_error(cmd, "too many --dump-mem options"), -1;
        o->dumps[o->ndumps].addr = addr;
        o->dumps[o->ndumps].len = len;
        o->ndumps++;
        return 1;
    }
    if (err)
        return -1;
    return 0;
}

int cli_run_opts_check(const char *cmd, const run_opts *o, uint64_t memsize)
{
    for (size_t k = 0; k < o->ndumps; k++) {
        uint64_t a = o->dumps[k].addr, n = o->dumps[k].len;
        if (a > memsize || n > memsize - a) {
            cli_usage_error(cmd,
                            "--dump-mem 0x%llx:%llu is outside guest memory "
                            "(0x%llx bytes)",
                            (unsigned long long)a, (unsigned long long)n,
                            (unsigned long long)memsize);
            return -1;
        }
    }
    return 0;
}

int cli_parse_run_args(const char *cmd, const char *what, int argc,
                       char **argv, run_opts *o, const char **path)
{
    int only_files = 0;
    run_opts_init(o);
    *path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_files && strcmp(a, "--") == 0) {
            only_files = 1;
            continue;
        }
        if (!only_files && cli_is_help(a)) {
            cli_help(cli_find(cmd), stdout);
            return 0;
        }
        if (!only_files && a[0] == '-' && a[1] != '\0') {
            int r = cli_run_option(cmd, argc, argv, &i, o);
            if (r < 0)
                return EXIT_USAGE;
            if (r == 0)
                return cli_usage_error(cmd, "unknown option '%s'", a);
            continue;
        }
        if (*path)
            return cli_usage_error(cmd, "only one %s, got '%s' and '%s'",
                                   what, *path, a);
        *path = a;
    }
    if (!*path)
        return cli_usage_error(cmd, "missing the %s file", what);
    return -1;
}
