/* cmd_compile.c: "aotb compile": IR blocks to ELF relocatable objects.
 *
 *   aotb compile BLOCK.vir -o BLOCK.o     a file holding exactly one block
 *   aotb compile PROG.vir -d OBJDIR       OBJDIR/<pc>.o per block + meta.o
 *   aotb compile PROG.vir --meta FILE     only the entry / memory / data
 *   aotb compile --runtime -o FILE        the runtime stubs, for GNU ld
 *   --depfile FILE                        Makefile-style "OUTPUTS: INPUTS"
 *
 * Every object is written with file_write_if_changed, so an object that
 * comes out byte-identical keeps its mtime (Ninja's restat relies on it).
 * -d never deletes objects of blocks that are no longer in the program: the
 * directory may be shared, and the link step only reads the objects it is
 * given. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "codegen.h"
#include "ir.h"
#include "object.h"

static const char *const CMD = "compile";

typedef struct compile_args {
    const char *input, *out, *dir, *meta, *depfile;
    int runtime;
} compile_args;

static const ir_block *find_block(void *ctx, uint64_t pc)
{
    return ir_program_find(ctx, pc);
}

/* Compiles block b of p into object bytes. */
static int compile_block(const ir_program *p, const ir_block *b,
                         const cg_options *o, const char *fp, uint32_t feat,
                         buf *out, aotb_diag *d)
{
    cg_code c;
    obj_dep *deps = NULL;
    int rc = -1;

    memset(&c, 0, sizeof c);
    if (cg_compile_block(b, o, find_block, (void *)p, &c, d) != 0)
        return -1;
    if (c.pc != b->pc) {
        diag_add(d, "%s:%u: internal error: code generated for pc 0x%016"
                 PRIx64 " instead of 0x%016" PRIx64, p->file, b->line, c.pc,
                 b->pc);
        goto done;
    }
    if (c.ndeps) {
        deps = xcalloc(c.ndeps, sizeof *deps);
        if (!deps) {
            diag_add(d, "out of memory");
            goto done;
        }
        for (size_t i = 0; i < c.ndeps; i++) {
            const ir_block *f = ir_program_find(p, c.deps[i]);
            if (!f) {
                diag_add(d, "%s:%u: internal error: folded block 0x%016"
                         PRIx64 " not found", p->file, b->line, c.deps[i]);
                goto done;
            }
            deps[i].pc = f->pc;
            deps[i].hash = ir_hash_block(f);
        }
    }
    rc = obj_build_block(&c, ir_hash_block(b), deps, c.ndeps, fp, feat, out,
                         d);
done:
    free(deps);
    cg_code_free(&c);
    return rc;
}

/* Appends a path to a depfile line, escaped for Make and Ninja. */
static int dep_path(buf *b, const char *path, aotb_diag *d)
{
    for (const char *s = path; *s; s++) {
        if (*s == '\n' || *s == '\r') {
            diag_add(d, "%s: a file name with a newline cannot go in a "
                     "depfile", path);
            return -1;
        }
        if (*s == ' ' || *s == '#' || *s == '\\')
            buf_put8(b, '\\');
        else if (*s == '$')
            buf_put8(b, '$');
        buf_put8(b, (uint8_t)*s);
    }
    return 0;
}

/* "OUT1 OUT2: INPUT\n".  Every .vir file read is an input; today that is the
 * one input file (folded blocks come from the same file). */
static int write_depfile(const char *path, char *const *outs, size_t nouts,
                         const char *input, aotb_diag *d)
{
    buf b = {0};
    int rc = -1;
    for (size_t i = 0; i < nouts; i++) {
        if (i)
            buf_put8(&b, ' ');
        if (dep_path(&b, outs[i], d) != 0)
            goto done;
    }
    buf_append(&b, ": ", 2);
    if (dep_path(&b, input, d) != 0)
        goto done;
    buf_put8(&b, '\n');
    if (b.oom) {
        diag_add(d, "out of memory");
        goto done;
    }
    rc = file_write_if_changed(path, b.data, b.len, d) < 0 ? -1 : 0;
done:
    buf_free(&b);
    return rc;
}

static int write_obj(const char *path, const buf *b, aotb_diag *d)
{
    return file_write_if_changed(path, b->data, b->len, d) < 0 ? -1 : 0;
}

static int do_runtime(const compile_args *a, const char *fp, uint32_t feat,
                      aotb_diag *d)
{
    cg_code c;
    buf b = {0};
    int rc = -1;
    memset(&c, 0, sizeof c);
    if (cg_compile_runtime(&c, d) == 0 &&
        obj_build_runtime(&c, fp, feat, &b, d) == 0 &&
        write_obj(a->out, &b, d) == 0)
        rc = 0;
    cg_code_free(&c);
    buf_free(&b);
    return rc;
}

/* -o: the file must hold exactly one block. */
static int do_single(const compile_args *a, const ir_program *p,
                     const cg_options *o, const char *fp, uint32_t feat,
                     aotb_diag *d)
{
    buf b = {0};
    int rc = -1;
    if (p->nblocks != 1) {
        diag_add(d, "%s: error: holds %zu blocks; -o needs exactly one "
                 "(use -d DIR for a whole program)", a->input, p->nblocks);
        return -1;
    }
    if (compile_block(p, &p->blocks[0], o, fp, feat, &b, d) == 0 &&
        write_obj(a->out, &b, d) == 0)
        rc = 0;
    buf_free(&b);
    return rc;
}

static char *join_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s/%s", dir, name);
    return s;
}

/* -d: one object per block (in pc order) plus meta.o.  outs receives the
 * paths written (for the depfile). */
static int do_dir(const compile_args *a, const ir_program *p,
                  const cg_options *o, const char *fp, uint32_t feat,
                  char **outs, size_t *nouts, aotb_diag *d)
{
    buf b = {0};
    if (file_mkdirs(a->dir, d) != 0)
        return -1;
    for (size_t k = 0; k <= p->nblocks; k++) {
        char name[32];
        int rc;
        b.len = 0;
        if (k < p->nblocks) {
            const ir_block *blk = &p->blocks[p->by_pc[k]];
            snprintf(name, sizeof name, "%016" PRIx64 ".o", blk->pc);
            rc = compile_block(p, blk, o, fp, feat, &b, d);
        } else {
            snprintf(name, sizeof name, "meta.o");
            rc = obj_build_meta(p, fp, &b, d);
        }
        char *path = rc == 0 ? join_path(a->dir, name) : NULL;
        if (rc == 0 && !path)
            diag_add(d, "out of memory");
        if (!path || write_obj(path, &b, d) != 0) {
            free(path);
            buf_free(&b);
            return -1;
        }
        outs[(*nouts)++] = path;
    }
    buf_free(&b);
    return 0;
}

static int do_meta(const compile_args *a, const ir_program *p,
                   const char *fp, aotb_diag *d)
{
    buf b = {0};
    int rc = obj_build_meta(p, fp, &b, d) == 0 && write_obj(a->meta, &b, d)
             == 0 ? 0 : -1;
    buf_free(&b);
    return rc;
}

/* "--opt VALUE" or "--opt=VALUE" (and "-o VALUE").  1 matched, 0 not, -1
 * usage error (printed). */
static int opt_value(const char *name, int argc, char **argv, int *i,
                     const char **val)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0)
        return 0;
    if (a[n] == '=' && name[1] == '-') {
        *val = a + n + 1;
    } else if (a[n] == '\0') {
        if (*i + 1 >= argc) {
            cli_usage_error(CMD, "%s needs a value", name);
            return -1;
        }
        *val = argv[++*i];
    } else {
        return 0;
    }
    if (**val == '\0') {
        cli_usage_error(CMD, "%s needs a non-empty value", name);
        return -1;
    }
    return 1;
}

/* Parses the command line; returns -1 when done (help printed, rc set). */
static int parse_args(int argc, char **argv, compile_args *a, int *rc)
{
    static const char *const names[] = {"-o", "-d", "--meta", "--depfile"};
    int only_files = 0;
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (!only_files && strcmp(s, "--") == 0) {
            only_files = 1;
            continue;
        }
        if (!only_files && cli_is_help(s)) {
            cli_help(cli_find(CMD), stdout);
            *rc = 0;
            return -1;
        }
        if (!only_files && strcmp(s, "--runtime") == 0) {
            a->runtime = 1;
            continue;
        }
        if (!only_files && s[0] == '-' && s[1] != '\0') {
            const char **slot[] = {&a->out, &a->dir, &a->meta, &a->depfile};
            int matched = 0;
            for (size_t k = 0; k < 4 && !matched; k++) {
                const char *v = NULL;
                int r = opt_value(names[k], argc, argv, &i, &v);
                if (r < 0) {
                    *rc = EXIT_USAGE;
                    return -1;
                }
                if (r > 0) {
                    if (*slot[k]) {
                        *rc = cli_usage_error(CMD, "%s given twice",
                                              names[k]);
                        return -1;
                    }
                    *slot[k] = v;
                    matched = 1;
                }
            }
            if (!matched) {
                *rc = cli_usage_error(CMD, "unknown option '%s'", s);
                return -1;
            }
            continue;
        }
        if (a->input) {
            *rc = cli_usage_error(CMD, "only one input file, got '%s' and "
                                  "'%s'", a->input, s);
            return -1;
        }
        a->input = s;
    }
    int modes = !!a->out + !!a->dir + !!a->meta;
    if (a->runtime) {
        if (a->input || a->dir || a->meta || a->depfile || !a->out) {
            *rc = cli_usage_error(CMD, "--runtime takes only -o FILE");
            return -1;
        }
        return 0;
    }
    if (!a->input) {
        *rc = cli_usage_error(CMD, "missing the input .vir file");
        return -1;
    }
    if (modes != 1) {
        *rc = cli_usage_error(CMD, modes ? "-o, -d and --meta exclude each "
                              "other" : "one of -o FILE, -d DIR or --meta "
                              "FILE is needed");
        return -1;
    }
    return 0;
}

int cmd_compile(int argc, char **argv)
{
    compile_args a;
    int rc = 0;
    if (parse_args(argc, argv, &a, &rc) != 0)
        return rc;

    cg_options o;
    memset(&o, 0, sizeof o);
    o.fold_max_ops = 0;
    char fp[256];
    cg_fingerprint(&o, fp, sizeof fp);
    uint32_t feat = cg_required_features(&o);
    aotb_diag d = {0};

    if (a.runtime) {
        rc = do_runtime(&a, fp, feat, &d) == 0 ? 0 : EXIT_BADINPUT;
        cli_print_diag(&d);
        diag_free(&d);
        return rc;
    }

    ir_program p;
    if (ir_parse_file_ex(a.input, a.meta ? IR_PARSE_NO_BLOCKS_OK : 0, &p, &d) != 0) {
        cli_print_diag(&d);
        diag_free(&d);
        return EXIT_BADINPUT;
    }
    char **outs = xcalloc(p.nblocks + 2, sizeof *outs);
    size_t nouts = 0;
    int ok;
    if (!outs) {
        diag_add(&d, "out of memory");
        ok = -1;
    } else if (a.dir) {
        ok = do_dir(&a, &p, &o, fp, feat, outs, &nouts, &d);
    } else if (a.meta) {
        ok = do_meta(&a, &p, fp, &d);
        outs[nouts++] = xstrdup(a.meta);
    } else {
        ok = do_single(&a, &p, &o, fp, feat, &d);
        outs[nouts++] = xstrdup(a.out);
    }
    if (ok == 0 && a.depfile) {
        for (size_t i = 0; i < nouts; i++)
            if (!outs[i]) {
                diag_add(&d, "out of memory");
                ok = -1;
            }
        if (ok == 0)
            ok = write_depfile(a.depfile, outs, nouts, a.input, &d);
    }
    for (size_t i = 0; outs && i < nouts; i++)
        free(outs[i]);
    free(outs);
    ir_program_free(&p);
    cli_print_diag(&d);
    diag_free(&d);
    return ok == 0 ? 0 : EXIT_BADINPUT;
}
