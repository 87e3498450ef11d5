/* gen.c: the generation pass of "aotb gen": parse, classify against the
 * previous generation, write per-block files, meta.vir and the build files. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gen.h"

#define STATE_NAME ".aotb-gen-state"
#define STATE_SIG "aotb-gen-state 1\n"

void gen_block_name(uint64_t pc, char out[17])
{
    /* "%016" PRIx64 by hand: this runs several times per block per run. */
    static const char hex[] = "0123456789abcdef";
    for (int i = 15; i >= 0; i--, pc >>= 4)
        out[i] = hex[pc & 15];
    out[16] = '\0';
}

static char *path_join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", a, b);
    return p;
}

/* Absolute form of a path whose parent directory exists. */
static char *abs_path(const char *path, aotb_diag *d)
{
    char *copy = xstrdup(path), *res = NULL;
    if (!copy)
        return NULL;
    char *slash = strrchr(copy, '/');
    const char *dir = ".", *base = copy;
    if (slash) {
        *slash = '\0';
        dir = slash == copy ? "/" : copy;
        base = slash + 1;
    }
    char real[PATH_MAX];
    if (!realpath(dir, real))
        diag_add(d, "%s: %s", dir, strerror(errno));
    else if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
        diag_add(d, "%s: not a file name", path);
    else
        res = path_join(strcmp(real, "/") == 0 ? "" : real, base);
    free(copy);
    return res;
}

char *gen_relpath(const char *from, const char *to)
{
    /* the longest common prefix that ends at a component boundary */
    size_t common = 0, i = 0;
    if (strcmp(from, "/") == 0)
        from = "";
    for (; from[i] && from[i] == to[i]; i++)
        if (from[i] == '/')
            common = i;
    if (!from[i] && (to[i] == '/' || !to[i]))
        common = i;
    size_t ups = 0;
    for (const char *s = from + common; *s; s++)
        if (*s == '/')
            ups++;
    const char *rest = to + common;
    if (*rest == '/')
        rest++;
    size_t n = ups * 3 + strlen(rest) + 2;
    char *r = malloc(n), *w = r;
    if (!r)
        return NULL;
    for (size_t k = 0; k < ups; k++, w += 3)
        memcpy(w, "../", 3);
    strcpy(w, rest);
    if (!*r)
        strcpy(r, ".");
    else if (w > r && !*rest)
        w[-1] = '\0';
    return r;
}

static void paths_free(gen_paths *p)
{
    char **f[] = {&p->prog, &p->outdir, &p->image, &p->blocks, &p->obj,
                  &p->root, &p->r_prog, &p->r_outdir, &p->r_image,
                  &p->r_blocks, &p->r_obj};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        free(*f[i]);
    memset(p, 0, sizeof *p);
}

static int paths_make(const gen_options *o, gen_paths *p, aotb_diag *d)
{
    char real[PATH_MAX], root[PATH_MAX];
    int errors = d->count;
    memset(p, 0, sizeof *p);
    /* Everything that can be wrong with the arguments is found before the
     * output directory is created: a refused run leaves nothing behind. */
    p->prog = abs_path(o->prog, d);
    if (o->image)
        p->image = abs_path(o->image, d);
    if (o->root && !realpath(o->root, root))
        diag_add(d, "%s: %s", o->root, strerror(errno));
    if (d->count > errors || file_mkdirs(o->outdir, d) != 0) {
        paths_free(p);
        return -1;
    }
    if (!realpath(o->outdir, real)) {
        diag_add(d, "%s: %s", o->outdir, strerror(errno));
        paths_free(p);
        return -1;
    }
    p->outdir = xstrdup(real);
    p->blocks = path_join(real, "blocks");
    p->obj = path_join(real, "obj");
    if (!o->image) {
        const char *base = strrchr(o->prog, '/');
        base = base ? base + 1 : o->prog;
        size_t n = strlen(base);
        if (n > 4 && strcmp(base + n - 4, ".vir") == 0)
            n -= 4;
        char name[NAME_MAX + 1];
        snprintf(name, sizeof name, "%.*s.aot", (int)(n > 200 ? 200 : n), base);
        p->image = path_join(real, name);
    }
    if (!p->outdir || !p->prog || !p->blocks || !p->obj || !p->image) {
        if (d->count == 0)
            diag_add(d, "out of memory");
        paths_free(p);
        return -1;
    }
    if (file_mkdirs(p->blocks, d) != 0 || file_mkdirs(p->obj, d) != 0) {
        paths_free(p);
        return -1;
    }
    p->root = xstrdup(o->root ? root : p->outdir);
    if (p->root) {
        p->r_prog = gen_relpath(p->root, p->prog);
        p->r_outdir = gen_relpath(p->root, p->outdir);
        p->r_image = gen_relpath(p->root, p->image);
        p->r_blocks = gen_relpath(p->root, p->blocks);
        p->r_obj = gen_relpath(p->root, p->obj);
    }
    if (!p->root || !p->r_prog || !p->r_outdir || !p->r_image ||
        !p->r_blocks || !p->r_obj) {
        diag_add(d, "out of memory");
        paths_free(p);
        return -1;
    }
    return 0;
}

/* The previous generation's (pc, hash) list.  A missing or unreadable
 * state, or one of another version, counts as "no previous generation". */
static block_hash *state_read(const char *outdir, size_t *n)
{
    char *path = path_join(outdir, STATE_NAME);
    uint8_t *data = NULL;
    size_t len = 0;
    aotb_diag ignore = {0};
    block_hash *v = NULL;
    size_t cap = 0;
    *n = 0;
    if (!path || file_read_all(path, &data, &len, &ignore) != 0 ||
        len < sizeof STATE_SIG - 1 || memcmp(data, STATE_SIG, sizeof STATE_SIG - 1) != 0)
        goto out;
    for (char *line = (char *)data + sizeof STATE_SIG - 1; *line;) {
        char *nl = strchr(line, '\n');
        if (!nl)
            break;
        *nl = '\0';
        /* "<16 hex digits> <32 hex digits>", as state_write writes it */
        block_hash bh;
        char *end;
        if (nl - line != 16 + 1 + 32 || line[16] != ' ' ||
            strspn(line, "0123456789abcdef") != 16)
            goto bad;
        line[16] = '\0';
        errno = 0;
        bh.pc = strtoull(line, &end, 16);
        if (*end || errno || ir_hash_parse(line + 17, &bh.hash) != 0)
            goto bad;
        if (*n == cap) {
            cap = cap ? cap * 2 : 256;
            block_hash *t = xreallocarray(v, cap, sizeof *v);
            if (!t)
                goto bad;
            v = t;
        }
        v[(*n)++] = bh;
        line = nl + 1;
    }
    goto out;
bad:
    free(v);
    v = NULL;
    *n = 0;
out:
    free(path);
    free(data);
    diag_free(&ignore);
    return v;
}

static int state_write(const char *outdir, const block_hash *v, size_t n,
                       aotb_diag *d)
{
    buf b = {0};
    buf_append(&b, STATE_SIG, sizeof STATE_SIG - 1);
    for (size_t i = 0; i < n; i++) {
        char h[33];
        ir_hash_hex(v[i].hash, h);
        buf_printf(&b, "%016" PRIx64 " %s\n", v[i].pc, h);
    }
    char *path = path_join(outdir, STATE_NAME);
    int rc = -1;
    if (b.oom || !path)
        diag_add(d, "out of memory");
    else
        rc = file_write_if_changed(path, b.data, b.len, d) < 0 ? -1 : 0;
    free(path);
    buf_free(&b);
    return rc;
}

void gen_meta_text(const ir_program *p, buf *out)
{
    uint64_t entry;
    buf_printf(out, "; entry, memory and data of the program (aotb gen)\n");
    if (ir_program_entry(p, &entry))
        buf_printf(out, "entry 0x%" PRIx64 "\n", entry);
    buf_printf(out, "memory 0x%" PRIx64 "\n", p->memsize);
    for (size_t i = 0; i < p->ndata; i++) {
        const ir_data *dt = &p->data[i];
        for (uint64_t off = 0; off < dt->len; off += 16) {
            uint64_t n = dt->len - off < 16 ? dt->len - off : 16;
            buf_printf(out, "data 0x%" PRIx64 " hex", dt->addr + off);
            for (uint64_t k = 0; k < n; k++)
                buf_printf(out, " %02x", dt->bytes[off + k]);
            buf_put8(out, '\n');
        }
    }
}

static int write_text(const char *dir, const char *name, const buf *b,
                      aotb_diag *d)
{
    char *path = path_join(dir, name);
    if (!path || b->oom) {
        free(path);
        diag_add(d, "out of memory");
        return -1;
    }
    int rc = file_write_if_changed(path, b->data, b->len, d);
    free(path);
    return rc;
}

static int is_block_file(const char *name, uint64_t *pc)
{
    size_t n = strlen(name);
    if (n != 20 || strcmp(name + 16, ".vir") != 0)
        return 0;
    char *end;
    char hex[17];
    memcpy(hex, name, 16);
    hex[16] = '\0';
    if (strspn(hex, "0123456789abcdef") != 16)
        return 0;
    *pc = strtoull(hex, &end, 16);
    return 1;
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

/* The pcs of the block files in the blocks directory, sorted: one
 * directory read instead of a stat per block.  *out is malloc'd. */
static int list_block_files(const gen_paths *p, uint64_t **out, size_t *n,
                            aotb_diag *d)
{
    DIR *dir = opendir(p->blocks);
    *out = NULL;
    *n = 0;
    if (!dir) {
        diag_add(d, "%s: %s", p->blocks, strerror(errno));
        return -1;
    }
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        uint64_t pc;
        if (!is_block_file(e->d_name, &pc))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 256;
            uint64_t *t = xreallocarray(*out, cap, sizeof *t);
            if (!t) {
                closedir(dir);
                diag_add(d, "out of memory");
                return -1;
            }
            *out = t;
        }
        (*out)[(*n)++] = pc;
    }
    closedir(dir);
    if (*n)
        qsort(*out, *n, sizeof **out, cmp_u64);
    return 0;
}

static int has_pc(const uint64_t *v, size_t n, uint64_t pc)
{
    return bsearch(&pc, v, n, sizeof *v, cmp_u64) != NULL;
}

/* Deletes the block files (present, from list_block_files) whose block is
 * not in the program. */
static int remove_stale(const gen_paths *p, const ir_program *prog,
                        const uint64_t *present, size_t npresent,
                        size_t *removed, aotb_diag *d)
{
    int rc = 0;
    for (size_t i = 0; i < npresent; i++) {
        if (ir_program_find(prog, present[i]))
            continue;
        char name[32];
        gen_block_name(present[i], name);
        strcat(name, ".vir");
        char *path = path_join(p->blocks, name);
        if (!path || (unlink(path) != 0 && errno != ENOENT)) {
            diag_add(d, "%s: cannot remove: %s", path ? path : name,
                     strerror(errno));
            rc = -1;
        } else {
            (*removed)++;
        }
        free(path);
    }
    return rc;
}

int gen_run(const gen_options *o, gen_result *r, aotb_diag *d)
{
    ir_program prog;
    gen_paths p;
    memset(r, 0, sizeof *r);
    if (ir_parse_file(o->prog, &prog, d) != 0)
        return -1;
    if (paths_make(o, &p, d) != 0) {
        ir_program_free(&prog);
        return -1;
    }
    int rc = -1;
    size_t nold = 0, nnew = 0, npresent = 0;
    block_hash *old = state_read(p.outdir, &nold);
    block_hash *cur = changes_hash_program(&prog, &nnew);
    uint64_t *present = NULL;
    buf b = {0};
    if (!cur) {
        diag_add(d, "out of memory");
        goto out;
    }
    if (list_block_files(&p, &present, &npresent, d) != 0)
        goto out;
    if (changes_classify(old, nold, cur, nnew, &r->changes, d) != 0)
        goto out;

    /* Per-block files: rewrite a block whose hash changed, or whose file is
     * missing; file_write_if_changed keeps the mtime of identical bytes. */
    for (size_t i = 0; i < prog.nblocks; i++) {
        const ir_block *blk = &prog.blocks[i];
        char name[32];
        gen_block_name(blk->pc, name);
        strcat(name, ".vir");
        const block_change *c = NULL;
        for (size_t lo = 0, hi = r->changes.n; lo < hi;) {
            size_t mid = lo + (hi - lo) / 2;
            if (r->changes.items[mid].pc < blk->pc)
                lo = mid + 1;
            else if (r->changes.items[mid].pc > blk->pc)
                hi = mid;
            else {
                c = &r->changes.items[mid];
                break;
            }
        }
        if (c && c->kind == CHANGE_UNCHANGED &&
            has_pc(present, npresent, blk->pc))
            continue;
        b.len = 0;
        ir_print_block(blk, &b);
        int w = write_text(p.blocks, name, &b, d);
        if (w < 0)
            goto out;
        r->files_written += (size_t)w;
    }
    if (remove_stale(&p, &prog, present, npresent, &r->files_removed, d) != 0)
        goto out;

    b.len = 0;
    gen_meta_text(&prog, &b);
    int w = write_text(p.outdir, "meta.vir", &b, d);
    if (w < 0)
        goto out;
    r->files_written += (size_t)w;

    b.len = 0;
    gen_write_ninja(o, &p, &prog, &b);
    if ((w = write_text(p.outdir, "build.ninja", &b, d)) < 0)
        goto out;
    r->ninja_written = w;
    if (o->make) {
        b.len = 0;
        gen_write_make(o, &p, &prog, &b);
        if ((w = write_text(p.outdir, "aot.mk", &b, d)) < 0)
            goto out;
        r->make_written = w;
        b.len = 0;
        gen_write_make_rsp(&p, &prog, &b);
        if (write_text(p.outdir, "aot.rsp", &b, d) < 0)
            goto out;
        /* Make cannot see a changed command: the objects depend on this
         * file, rewritten only when the compile options change */
        b.len = 0;
        buf_printf(&b, "aotb compile options:");
        if (o->fold)
            buf_printf(&b, " --fold %u", o->fold);
        buf_put8(&b, '\n');
        if (write_text(p.outdir, "aot.cflags", &b, d) < 0)
            goto out;
    }
    /* The state goes last: if anything above failed, the next run compares
     * against the older generation and rewrites what is needed. */
    rc = state_write(p.outdir, cur, nnew, d);
out:
    buf_free(&b);
    free(present);
    free(old);
    free(cur);
    paths_free(&p);
    ir_program_free(&prog);
    return rc;
}

void gen_result_free(gen_result *r)
{
    changes_free(&r->changes);
}
