/* gen.c: the generation pass of "aotb gen": parse, classify against the
 * previous generation, write per-block files, meta.vir and the build files. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "gen.h"

#define STATE_NAME ".aotb-gen-state"
#define STATE_SIG "aotb-gen-state 2\n"
#define STATE_SIG_1 "aotb-gen-state 1\n"

/* Hex digits by hand, a byte at a time: names, build lines and state lines
 * take several per block per run. */
static const char hex_pairs[] =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
    "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
    "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
    "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
    "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
    "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
    "e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

/* 16 lower-case hex digits, no NUL. */
static void put_hex64(char *out, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        memcpy(out + 2 * i, hex_pairs + 2 * (v & 255), 2);
}

void gen_block_name(uint64_t pc, char out[17])
{
    put_hex64(out, pc);
    out[16] = '\0';
}

/* 1 + the value of a lower-case hex digit, 0 for any other character. */
static const uint8_t hex_val[256] = {
    ['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6,
    ['6'] = 7, ['7'] = 8, ['8'] = 9, ['9'] = 10, ['a'] = 11, ['b'] = 12,
    ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
};

/* Exactly 16 lower-case hex digits at s (more may follow). */
static int hex_u64(const char *s, uint64_t *v)
{
    uint64_t x = 0;
    for (int i = 0; i < 16; i++) {
        unsigned d = hex_val[(unsigned char)s[i]];
        if (!d)
            return -1;   /* also stops at a NUL */
        x = x << 4 | (d - 1);
    }
    *v = x;
    return 0;
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

/* The state: the previous generation's blocks, one line each,
 * "<pc: 16 hex digits> <IR hash: 32> <text hash: 32>" (the text hash may be
 * missing), after a line naming the aotb binary that wrote it: text hashes
 * are only reused by the same binary, whose parser made them (gen_parse.c).
 * Version 1 states (no binary, no text hashes) are read as well. */
typedef struct gen_state {
    block_hash *blocks;      /* the previous generation's (pc, IR hash) */
    size_t n;
    gen_cached *cache;       /* blocks with a text hash, when the binary is
                                this one */
    size_t ncache;
    char ninja[160];         /* which build.ninja it wrote (ninja_key) */
} gen_state;

static int hex_hash(const char *s, ir_hash *h)
{
    return hex_u64(s, &h->hi) == 0 && hex_u64(s + 16, &h->lo) == 0 ? 0 : -1;
}

static void state_free(gen_state *st)
{
    free(st->blocks);
    free(st->cache);
    memset(st, 0, sizeof *st);
}

/* A missing or unreadable state, or one of another version, counts as "no
 * previous generation". */
static void state_read(const char *outdir, const char *key, gen_state *st)
{
    char *path = path_join(outdir, STATE_NAME);
    uint8_t *data = NULL;
    size_t len = 0, cap = 0;
    aotb_diag ignore = {0};
    memset(st, 0, sizeof *st);
    if (!path || file_read_all(path, &data, &len, &ignore) != 0)
        goto out;
    char *line = (char *)data;
    int cached = 0;
    if (len >= sizeof STATE_SIG - 1 &&
        memcmp(data, STATE_SIG, sizeof STATE_SIG - 1) == 0) {
        line += sizeof STATE_SIG - 1;
        char *nl = strchr(line, '\n');
        size_t klen = strlen(key);
        if (!nl || (size_t)(nl - line) < 7 || memcmp(line, "parser ", 7) != 0)
            goto out;
        cached = klen && (size_t)(nl - line) == 7 + klen &&
                 memcmp(line + 7, key, klen) == 0;
        line = nl + 1;
        nl = strchr(line, '\n');
        if (nl && memcmp(line, "ninja ", 6) == 0) {
            if ((size_t)(nl - line - 6) < sizeof st->ninja) {
                memcpy(st->ninja, line + 6, (size_t)(nl - line - 6));
                st->ninja[nl - line - 6] = '\0';
            }
            line = nl + 1;
        }
    } else if (len < sizeof STATE_SIG_1 - 1 ||
               memcmp(data, STATE_SIG_1, sizeof STATE_SIG_1 - 1) != 0) {
        goto out;
    } else {
        line += sizeof STATE_SIG_1 - 1;
    }
    while (*line) {
        char *nl = strchr(line, '\n');
        if (!nl)
            break;
        size_t n = (size_t)(nl - line);
        block_hash bh;
        ir_hash raw;
        int has_raw = n == 16 + 1 + 32 + 1 + 32;
        if ((n != 16 + 1 + 32 && !has_raw) || line[16] != ' ' ||
            hex_u64(line, &bh.pc) != 0 || hex_hash(line + 17, &bh.hash) != 0 ||
            (has_raw && (line[49] != ' ' || hex_hash(line + 50, &raw) != 0)))
            goto bad;
        if (st->n == cap) {
            cap = cap ? cap * 2 : 256;
            block_hash *t = xreallocarray(st->blocks, cap, sizeof *t);
            gen_cached *c = t && cached ? xreallocarray(st->cache, cap, sizeof *c)
                                        : st->cache;
            if (t)
                st->blocks = t;
            if (!t || (cached && !c))
                goto bad;
            st->cache = c;
        }
        st->blocks[st->n++] = bh;
        if (cached && has_raw)
            st->cache[st->ncache++] = (gen_cached){raw, bh.pc, bh.hash};
        line = nl + 1;
    }
    goto out;
bad:
    state_free(st);
out:
    free(path);
    free(data);
    diag_free(&ignore);
}

typedef struct pc_index {
    uint64_t pc;
    size_t i;
} pc_index;

static int cmp_pc_index(const void *x, const void *y)
{
    uint64_t a = ((const pc_index *)x)->pc, b = ((const pc_index *)y)->pc;
    return a < b ? -1 : a > b;
}

static int state_write(const char *outdir, const char *key,
                       const char *ninja, const gen_program *g, aotb_diag *d)
{
    buf b = {0};
    buf_append(&b, STATE_SIG, sizeof STATE_SIG - 1);
    buf_printf(&b, "parser %s\n", *key ? key : "-");
    if (*ninja)
        buf_printf(&b, "ninja %s\n", ninja);
    /* in pc order, as the programs themselves usually are */
    pc_index *order = xreallocarray(NULL, g->nblocks, sizeof *order);
    if (!order) {
        diag_add(d, "out of memory");
        buf_free(&b);
        return -1;
    }
    int sorted = 1;
    for (size_t i = 0; i < g->nblocks; i++) {
        order[i] = (pc_index){g->blocks[i].pc, i};
        sorted &= i == 0 || order[i - 1].pc < order[i].pc;
    }
    if (!sorted)
        qsort(order, g->nblocks, sizeof *order, cmp_pc_index);
    for (size_t i = 0; i < g->nblocks; i++) {
        const gen_block *gb = &g->blocks[order[i].i];
        char line[16 + 1 + 32 + 1 + 32 + 1];
        size_t n = 16 + 1 + 32;
        put_hex64(line, gb->pc);
        line[16] = ' ';
        put_hex64(line + 17, gb->hash.hi);
        put_hex64(line + 33, gb->hash.lo);
        if (gb->has_raw && *key) {
            line[49] = ' ';
            put_hex64(line + 50, gb->raw.hi);
            put_hex64(line + 66, gb->raw.lo);
            n = sizeof line - 1;
        }
        line[n++] = '\n';
        buf_append(&b, line, n);
    }
    free(order);
    char *path = path_join(outdir, STATE_NAME);
    int rc = -1;
    if (b.oom || !path)
        diag_add(d, "out of memory");
    else
        rc = file_write_cache_if_changed(path, b.data, b.len, d) < 0 ? -1 : 0;
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
    return strlen(name) == 20 && strcmp(name + 16, ".vir") == 0 &&
           hex_u64(name, pc) == 0;
}

/* Sorts v[0..n) (a directory's order: no order), a byte at a time,
 * skipping the bytes all values share. */
static int sort_u64(uint64_t *v, size_t n)
{
    uint64_t *tmp = xreallocarray(NULL, n ? n : 1, sizeof *tmp);
    if (!tmp)
        return -1;
    uint64_t *from = v, *to = tmp;
    for (int shift = 0; shift < 64; shift += 8) {
        size_t count[256] = {0};
        for (size_t i = 0; i < n; i++)
            count[(from[i] >> shift) & 255]++;
        if (n == 0 || count[(from[0] >> shift) & 255] == n)
            continue;
        size_t at = 0;
        for (int k = 0; k < 256; k++) {
            size_t c = count[k];
            count[k] = at;
            at += c;
        }
        for (size_t i = 0; i < n; i++)
            to[count[(from[i] >> shift) & 255]++] = from[i];
        uint64_t *t = from;
        from = to;
        to = t;
    }
    if (from != v)
        memcpy(v, from, n * sizeof *v);
    free(tmp);
    return 0;
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
    if (sort_u64(*out, *n) != 0) {
        diag_add(d, "out of memory");
        return -1;
    }
    return 0;
}

/* Deletes the block files (present, from list_block_files) whose block is
 * not in the program. */
static int remove_stale(const gen_paths *p, const gen_program *g,
                        const uint64_t *present, size_t npresent,
                        size_t *removed, aotb_diag *d)
{
    int rc = 0;
    for (size_t i = 0; i < npresent; i++) {
        size_t at;
        if (u64_search(g->pcs, g->nblocks, present[i], &at))
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

/* Which build.ninja this run would write and which one is there: a hash
 * of everything its text depends on (the binary that writes it, the
 * options, the paths, the blocks' pcs), then the file's size, inode and
 * mtime.  When the state holds the same, the file is left alone without
 * writing its text again ("" when there is none). */
static void ninja_key(const gen_options *o, const gen_paths *p,
                      const char *key, const gen_program *g, char out[160])
{
    struct stat st;
    char *path = path_join(p->outdir, "build.ninja");
    out[0] = '\0';
    if (!*key || !path || stat(path, &st) != 0) {
        free(path);
        return;
    }
    free(path);
    XXH3_state_t *x = XXH3_createState();
    if (!x)
        return;
    const char *strs[] = {key, o->aotb, p->r_prog, p->r_outdir, p->r_image,
                          p->r_blocks, p->r_obj};
    unsigned opts[] = {(unsigned)o->make, o->batch, o->fold};
    XXH3_128bits_reset(x);
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        XXH3_128bits_update(x, strs[i], strlen(strs[i]) + 1);
    XXH3_128bits_update(x, opts, sizeof opts);
    XXH3_128bits_update(x, g->pcs, g->nblocks * sizeof *g->pcs);
    XXH128_hash_t h = XXH3_128bits_digest(x);
    XXH3_freeState(x);
    char hex[33];
    put_hex64(hex, h.high64);
    put_hex64(hex + 16, h.low64);
    hex[32] = '\0';
    snprintf(out, 160, "%s %jd:%jx:%jd.%09ld", hex, (intmax_t)st.st_size,
             (uintmax_t)st.st_ino, (intmax_t)st.st_mtim.tv_sec,
             (long)st.st_mtim.tv_nsec);
}

/* The canonical text of block i: a block taken from the cache is parsed
 * on its own (its file was missing). */
static int block_text(const gen_program *g, size_t i, buf *out, aotb_diag *d)
{
    const gen_block *gb = &g->blocks[i];
    if (gb->blk) {
        ir_print_block(gb->blk, out);
        return 0;
    }
    ir_program one;
    if (ir_parse(g->ir.file, g->text + gb->off, gb->len, &one, d) != 0)
        return -1;
    int rc = 0;
    if (one.nblocks != 1 || one.blocks[0].pc != gb->pc ||
        !ir_hash_eq(ir_hash_block(&one.blocks[0]), gb->hash)) {
        diag_add(d, "%s: internal error: block 0x%016" PRIx64 " reads "
                 "differently on its own", g->ir.file, gb->pc);
        rc = -1;
    } else {
        ir_print_block(&one.blocks[0], out);
    }
    ir_program_free(&one);
    return rc;
}

int gen_run(const gen_options *o, gen_result *r, aotb_diag *d)
{
    gen_program g;
    gen_paths p;
    gen_state st;
    char key[FILE_ID_MAX];
    memset(r, 0, sizeof *r);
    /* the state before the program: its blocks need not be parsed again
     * (the output directory need not exist yet) */
    /* who parsed: the aotb binary's identity */
    if (!o->aotb || file_identity(o->aotb, key) != 0)
        key[0] = '\0';
    state_read(o->outdir, key, &st);
    if (gen_program_read(o->prog, st.cache, st.ncache, &g, d) != 0) {
        state_free(&st);
        return -1;
    }
    if (paths_make(o, &p, d) != 0) {
        gen_program_free(&g);
        state_free(&st);
        return -1;
    }
    int rc = -1;
    size_t npresent = 0;
    block_hash *cur = xreallocarray(NULL, g.nblocks, sizeof *cur);
    uint64_t *present = NULL;
    buf b = {0};
    if (!cur) {
        diag_add(d, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < g.nblocks; i++)
        cur[i] = (block_hash){g.blocks[i].pc, g.blocks[i].hash};
    if (list_block_files(&p, &present, &npresent, d) != 0)
        goto out;
    if (changes_classify(st.blocks, st.n, cur, g.nblocks, &r->changes, d) != 0)
        goto out;

    /* Per-block files: rewrite a block whose hash changed, or whose file is
     * missing; file_write_if_changed keeps the mtime of identical bytes. */
    for (size_t i = 0; i < g.nblocks; i++) {
        uint64_t pc = g.blocks[i].pc;
        const block_change *c = changes_find(&r->changes, pc);
        size_t at;
        if (c && c->kind == CHANGE_UNCHANGED &&
            u64_search(present, npresent, pc, &at))
            continue;
        char name[32];
        gen_block_name(pc, name);
        memcpy(name + 16, ".vir", 5);
        b.len = 0;
        if (block_text(&g, i, &b, d) != 0)
            goto out;
        int w = write_text(p.blocks, name, &b, d);
        if (w < 0)
            goto out;
        r->files_written += (size_t)w;
    }
    if (remove_stale(&p, &g, present, npresent, &r->files_removed, d) != 0)
        goto out;

    b.len = 0;
    gen_meta_text(&g.ir, &b);
    int w = write_text(p.outdir, "meta.vir", &b, d);
    if (w < 0)
        goto out;
    r->files_written += (size_t)w;

    char nkey[160];
    ninja_key(o, &p, key, &g, nkey);
    if (!*nkey || strcmp(nkey, st.ninja) != 0) {
        b.len = 0;
        gen_write_ninja(o, &p, key, g.pcs, g.nblocks, &b);
        if ((w = write_text(p.outdir, "build.ninja", &b, d)) < 0)
            goto out;
        r->ninja_written = w;
        ninja_key(o, &p, key, &g, nkey);
    }
    if (o->make) {
        b.len = 0;
        gen_write_make(o, &p, g.pcs, g.nblocks, &b);
        if ((w = write_text(p.outdir, "aot.mk", &b, d)) < 0)
            goto out;
        r->make_written = w;
        b.len = 0;
        gen_write_make_rsp(&p, g.pcs, g.nblocks, &b);
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
    r->blocks_reused = g.reused;
    /* The state goes last: if anything above failed, the next run compares
     * against the older generation and rewrites what is needed. */
    rc = state_write(p.outdir, key, nkey, &g, d);
out:
    buf_free(&b);
    free(present);
    free(cur);
    state_free(&st);
    paths_free(&p);
    gen_program_free(&g);
    return rc;
}

void gen_result_free(gen_result *r)
{
    changes_free(&r->changes);
}
