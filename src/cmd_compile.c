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
    const char *input, *out, *dir, *meta, *depfile, *fold, *binary;
    int runtime, batch;
    char **inputs;             /* --batch: every input file */
    int ninputs;
} compile_args;

/* Where folded successor blocks come from: the program itself, or (for a
 * one-block file from aotb gen) the sibling file DIR/<pc>.vir.  Every
 * sibling read is remembered for the depfile, so Ninja recompiles this
 * block when a block folded into it changes. */
typedef struct block_source {
    const ir_program *p;
    char *dir;                 /* directory of the input, or NULL */
    ir_program *sib;           /* siblings parsed so far */
    char **sib_paths;
    size_t nsib;
} block_source;

static const ir_block *find_block(void *ctx, uint64_t pc)
{
    block_source *src = ctx;
    const ir_block *b = ir_program_find(src->p, pc);
    if (b || !src->dir)
        return b;
    for (size_t i = 0; i < src->nsib; i++)
        if (src->sib[i].nblocks == 1 && src->sib[i].blocks[0].pc == pc)
            return &src->sib[i].blocks[0];
    size_t n = strlen(src->dir) + 32;
    char *path = malloc(n);
    if (!path)
        return NULL;
    snprintf(path, n, "%s/%016" PRIx64 ".vir", src->dir, pc);
    ir_program sp;
    aotb_diag ignore = {0};
    /* A missing or unparsable sibling just means "do not fold": the jump
     * then goes through a relocation like any other. */
    int rc = ir_parse_file(path, &sp, &ignore);
    diag_free(&ignore);
    if (rc != 0 || sp.nblocks != 1 || sp.blocks[0].pc != pc) {
        if (rc == 0)
            ir_program_free(&sp);
        free(path);
        return NULL;
    }
    ir_program *ns = xreallocarray(src->sib, src->nsib + 1, sizeof *ns);
    char **np = ns ? xreallocarray(src->sib_paths, src->nsib + 1, sizeof *np) : NULL;
    if (ns)
        src->sib = ns;
    if (!np) {
        ir_program_free(&sp);
        free(path);
        return NULL;
    }
    src->sib_paths = np;
    src->sib[src->nsib] = sp;
    src->sib_paths[src->nsib] = path;
    return &src->sib[src->nsib++].blocks[0];
}

static void source_free(block_source *src)
{
    for (size_t i = 0; i < src->nsib; i++) {
        ir_program_free(&src->sib[i]);
        free(src->sib_paths[i]);
    }
    free(src->sib);
    free(src->sib_paths);
    free(src->dir);
    memset(src, 0, sizeof *src);
}

/* The directory part of a path ("." if none). */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return xstrdup(".");
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, path, n);
        d[n] = '\0';
    }
    return d;
}

/* Compiles block b of p into object bytes. */
static int compile_block(block_source *src, const ir_block *b,
                         const cg_options *o, const char *fp, uint32_t feat,
                         buf *out, aotb_diag *d)
{
    const ir_program *p = src->p;
    cg_code c;
    obj_dep *deps = NULL;
    int rc = -1;

    memset(&c, 0, sizeof c);
    if (cg_compile_block(b, o, find_block, src, &c, d) != 0)
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
            const ir_block *f = find_block(src, c.deps[i]);
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

/* "OUT1 OUT2: INPUT SIBLING...\n": every .vir file read is an input,
 * including the sibling files of folded blocks. */
static int write_depfile(const char *path, char *const *outs, size_t nouts,
                         const char *input, const block_source *src,
                         aotb_diag *d)
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
    for (size_t i = 0; i < src->nsib; i++) {
        buf_put8(&b, ' ');
        if (dep_path(&b, src->sib_paths[i], d) != 0)
            goto done;
    }
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
static int do_single(const compile_args *a, block_source *src,
                     const cg_options *o, const char *fp, uint32_t feat,
                     aotb_diag *d)
{
    const ir_program *p = src->p;
    buf b = {0};
    int rc = -1;
    if (p->nblocks != 1) {
        diag_add(d, "%s: error: holds %zu blocks; -o needs exactly one "
                 "(use -d DIR for a whole program)", a->input, p->nblocks);
        return -1;
    }
    if (compile_block(src, &p->blocks[0], o, fp, feat, &b, d) == 0 &&
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
static int do_dir(const compile_args *a, block_source *src,
                  const cg_options *o, const char *fp, uint32_t feat,
                  char **outs, size_t *nouts, aotb_diag *d)
{
    const ir_program *p = src->p;
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
            rc = compile_block(src, blk, o, fp, feat, &b, d);
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

/* True when DIR's object for this block already holds exactly this block
 * compiled by this compiler (no folded blocks, whose files are not known
 * here): then the batch need not compile it again. */
static int object_current(const char *path, const ir_block *b,
                          const char *fp)
{
    uint8_t *data;
    size_t len;
    aotb_diag ignore = {0};
    obj_file of;
    int same = 0;
    if (file_read_all(path, &data, &len, &ignore) == 0) {
        if (obj_read(path, data, len, &of, &ignore) == 0) {
            same = of.kind == OBJ_BLOCK && of.pc == b->pc && of.ndeps == 0 &&
                   ir_hash_eq(of.hash, ir_hash_block(b)) &&
                   strcmp(of.fingerprint, fp) == 0;
            obj_free(&of);
        }
        free(data);
    }
    diag_free(&ignore);
    return same;
}

/* --batch -d DIR FILE... [--depfile F]: one-block files, each to
 * DIR/<pc>.o.  A block whose object is already current is skipped, so a
 * batch edge that Ninja reruns for one changed block compiles only that
 * block.  The depfile names every object of the batch as an output and every
 * .vir file read as an input (the batch's own files and, with --fold, the
 * sibling files of folded blocks, which may belong to another batch). */
static int do_batch(const compile_args *a, const cg_options *o,
                    const char *fp, uint32_t feat, aotb_diag *d)
{
    int rc = 0;
    buf outs = {0}, ins = {0};
    if (file_mkdirs(a->dir, d) != 0)
        return -1;
    for (int i = 0; i < a->ninputs; i++) {
        ir_program p;
        if (ir_parse_file(a->inputs[i], &p, d) != 0) {
            rc = -1;
            continue;
        }
        block_source src = {.p = &p, .dir = dir_of(a->inputs[i])};
        buf b = {0};
        char name[32];
        char *path = NULL;
        if (p.nblocks != 1) {
            diag_add(d, "%s: error: holds %zu blocks; --batch needs one per "
                     "file", a->inputs[i], p.nblocks);
            rc = -1;
        } else if (!src.dir || (snprintf(name, sizeof name, "%016" PRIx64 ".o",
                                         p.blocks[0].pc),
                                !(path = join_path(a->dir, name)))) {
            diag_add(d, "out of memory");
            rc = -1;
        } else if (!(o->fold_max_ops == 0 && object_current(path, &p.blocks[0], fp)) &&
                   (compile_block(&src, &p.blocks[0], o, fp, feat, &b, d) != 0 ||
                    write_obj(path, &b, d) != 0)) {
            rc = -1;
        }
        if (rc == 0 && a->depfile) {
            if (outs.len)
                buf_put8(&outs, ' ');
            buf_put8(&ins, ' ');
            if (dep_path(&outs, path, d) != 0 ||
                dep_path(&ins, a->inputs[i], d) != 0)
                rc = -1;
            for (size_t k = 0; rc == 0 && k < src.nsib; k++) {
                buf_put8(&ins, ' ');
                if (dep_path(&ins, src.sib_paths[k], d) != 0)
                    rc = -1;
            }
        }
        free(path);
        buf_free(&b);
        source_free(&src);
        ir_program_free(&p);
    }
    if (rc == 0 && a->depfile) {
        buf_put8(&outs, ':');
        buf_append(&outs, ins.data, ins.len);
        buf_put8(&outs, '\n');
        if (outs.oom || ins.oom) {
            diag_add(d, "out of memory");
            rc = -1;
        } else if (file_write_if_changed(a->depfile, outs.data, outs.len, d) < 0) {
            rc = -1;
        }
    }
    buf_free(&outs);
    buf_free(&ins);
    return rc;
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
static int parse_args(int argc, char **argv, compile_args *a, char **inputs,
                      int *rc)
{
    static const char *const names[] = {"-o", "-d", "--meta", "--depfile",
                                        "--fold", "--binary"};
    int only_files = 0;
    memset(a, 0, sizeof *a);
    a->inputs = inputs;
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
        if (!only_files && strcmp(s, "--batch") == 0) {
            a->batch = 1;
            continue;
        }
        if (!only_files && s[0] == '-' && s[1] != '\0') {
            const char **slot[] = {&a->out, &a->dir, &a->meta, &a->depfile,
                                   &a->fold, &a->binary};
            int matched = 0;
            for (size_t k = 0; k < 6 && !matched; k++) {
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
        if (a->batch || !a->input)
            a->inputs[a->ninputs++] = argv[i];
        if (a->input && !a->batch) {
            *rc = cli_usage_error(CMD, "only one input file, got '%s' and "
                                  "'%s' (--batch compiles several)", a->input, s);
            return -1;
        }
        a->input = a->inputs[0];
    }
    if (a->fold) {
        char *end;
        unsigned long v = strtoul(a->fold, &end, 10);
        if (*end || a->fold[0] == '-' || v > 1000) {
            *rc = cli_usage_error(CMD, "--fold: expected 0..1000 ops, got '%s'", a->fold);
            return -1;
        }
    }
    if (a->batch) {
        if (!a->dir || a->out || a->meta || a->runtime) {
            *rc = cli_usage_error(CMD, "--batch takes -d DIR, block files "
                                  "and an optional --depfile FILE");
            return -1;
        }
        if (!a->ninputs) {
            *rc = cli_usage_error(CMD, "--batch: no block files given");
            return -1;
        }
        return 0;
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
    char **inputs = xcalloc((size_t)argc, sizeof *inputs);
    if (!inputs) {
        fprintf(stderr, "aotb compile: out of memory\n");
        return EXIT_BADINPUT;
    }
    if (parse_args(argc, argv, &a, inputs, &rc) != 0) {
        free(inputs);
        return rc;
    }

    /* --binary ID is not checked: it only makes the command name the
     * binary (see ninja_file.c); a binary run under a wrapper such as
     * valgrind could not tell its own identity anyway */
    cg_options o;
    memset(&o, 0, sizeof o);
    o.fold_max_ops = a.fold ? (unsigned)strtoul(a.fold, NULL, 10) : 0;
    char fp[256];
    cg_fingerprint(&o, fp, sizeof fp);
    uint32_t feat = cg_required_features(&o);
    aotb_diag d = {0};

    if (a.runtime || a.batch) {
        if (a.runtime)
            rc = do_runtime(&a, fp, feat, &d) == 0 ? 0 : EXIT_BADINPUT;
        else
            rc = do_batch(&a, &o, fp, feat, &d) == 0 ? 0 : EXIT_BADINPUT;
        cli_print_diag(&d);
        diag_free(&d);
        free(inputs);
        return rc;
    }

    ir_program p;
    if (ir_parse_file_ex(a.input, a.meta ? IR_PARSE_NO_BLOCKS_OK : 0, &p, &d) != 0) {
        cli_print_diag(&d);
        diag_free(&d);
        free(inputs);
        return EXIT_BADINPUT;
    }
    char **outs = xcalloc(p.nblocks + 2, sizeof *outs);
    size_t nouts = 0;
    int ok;
    block_source src = {.p = &p, .dir = a.out ? dir_of(a.input) : NULL};
    if (!outs || (a.out && !src.dir)) {
        diag_add(&d, "out of memory");
        ok = -1;
    } else if (a.dir) {
        ok = do_dir(&a, &src, &o, fp, feat, outs, &nouts, &d);
    } else if (a.meta) {
        ok = do_meta(&a, &p, fp, &d);
        outs[nouts++] = xstrdup(a.meta);
    } else {
        ok = do_single(&a, &src, &o, fp, feat, &d);
        outs[nouts++] = xstrdup(a.out);
    }
    if (ok == 0 && a.depfile) {
        for (size_t i = 0; i < nouts; i++)
            if (!outs[i]) {
                diag_add(&d, "out of memory");
                ok = -1;
            }
        if (ok == 0)
            ok = write_depfile(a.depfile, outs, nouts, a.input, &src, &d);
    }
    for (size_t i = 0; outs && i < nouts; i++)
        free(outs[i]);
    free(outs);
    source_free(&src);
    free(inputs);
    ir_program_free(&p);
    cli_print_diag(&d);
    diag_free(&d);
    return ok == 0 ? 0 : EXIT_BADINPUT;
}
