/* builder.c: the incremental builder of <aotb/builder.h>: the builder's
 * state, loading the base image, change detection and writing images.
 *
 * Change detection compares each block's IR hash with the IR hash the
 * image's index stores for it (changes_classify), so a freshly loaded image
 * and an unchanged program give all Unchanged.  On top of that:
 *   - an image from another compiler fingerprint (compared as exact
 *     strings: a different fold setting counts) makes every block Modified;
 *   - an unchanged block whose code folded in a block (the image's
 *     .aotb.deps records the pc and IR hash it folded) that changed or
 *     vanished is Modified "because of a dependency";
 *   - detect_changes off makes every block Modified. */
#include "builder_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#define LOCK_WAIT_MS 60000

_Static_assert((int)AOTB_OP_STORE == (int)IR_STORE &&
                   (int)AOTB_OP_LOAD == (int)IR_LOAD &&
                   (int)AOTB_OP_SELECT == (int)IR_SELECT,
               "public op numbers match ir.h");
_Static_assert((int)AOTB_U64 == (int)IR_U64 &&
                   (int)AOTB_T_INTERRUPT == (int)IR_T_INTERRUPT &&
                   (int)AOTB_T_CONDJMP == (int)IR_T_CONDJMP,
               "public memory types and terminators match ir.h");
_Static_assert((int)AOTB_UNCHANGED == (int)CHANGE_UNCHANGED &&
                   (int)AOTB_ADDED == (int)CHANGE_ADDED &&
                   (int)AOTB_MODIFIED == (int)CHANGE_MODIFIED &&
                   (int)AOTB_REMOVED == (int)CHANGE_REMOVED,
               "public change kinds match changes.h");

/* Moves a diag's text into *err (without the final newline). */
static int give_err(aotb_diag *d, char **err)
{
    if (err)
        *err = diag_take(d);
    else
        diag_free(d);
    return -1;
}

void aotb_build_config_init(aotb_build_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->enabled = 1;
    cfg->detect_changes = 1;
    cfg->preserve_unchanged = 1;
}

int aotb_builder_new(const aotb_build_config *cfg, aotb_builder **out,
                     char **err)
{
    aotb_diag d = {0};
    *out = NULL;
    if (err)
        *err = NULL;
    aotb_builder *b = xcalloc(1, sizeof *b);
    if (!b) {
        diag_add(&d, "aotb builder: out of memory");
        return give_err(&d, err);
    }
    if (cfg)
        b->cfg = *cfg;
    else
        aotb_build_config_init(&b->cfg);
    b->cgo.fold_max_ops = b->cfg.fold_max_ops;
    cg_fingerprint(&b->cgo, b->fp, sizeof b->fp);
    b->features = cg_required_features(&b->cgo);
    *out = b;
    return 0;
}

/* Forgets the classification and everything after it. */
static void reset_changes(aotb_builder *b)
{
    bld_free_objs(b);
    changes_free(&b->changes);
    free(b->why);
    b->why = NULL;
    b->detected = 0;
    memset(&b->st, 0, sizeof b->st);
}

static void drop_old(aotb_builder *b)
{
    if (b->has_old)
        img_free(&b->old);
    file_unmap(&b->old_file);
    free(b->old_name);
    b->old_name = NULL;
    b->has_old = 0;
}

void aotb_builder_free(aotb_builder *b)
{
    if (!b)
        return;
    reset_changes(b);
    drop_old(b);
    if (b->has_prog)
        ir_program_free(&b->prog);
    free(b);
}

/* ---- the program -------------------------------------------------------- */

static int take_program(aotb_builder *b, int rc, ir_program *p, aotb_diag *d,
                        char **err)
{
    if (rc != 0)
        return give_err(d, err);
    reset_changes(b);
    if (b->has_prog)
        ir_program_free(&b->prog);
    b->prog = *p;
    b->has_prog = 1;
    diag_free(d);
    return 0;
}

int aotb_builder_set_program_text(aotb_builder *b, const char *name,
                                  const char *text, size_t len, char **err)
{
    aotb_diag d = {0};
    ir_program p;
    if (err)
        *err = NULL;
    int rc = ir_parse(name ? name : "<program>", text, len, &p, &d);
    return take_program(b, rc, &p, &d, err);
}

int aotb_builder_set_program_file(aotb_builder *b, const char *path,
                                  char **err)
{
    aotb_diag d = {0};
    ir_program p;
    if (err)
        *err = NULL;
    int rc = ir_parse_file(path, &p, &d);
    return take_program(b, rc, &p, &d, err);
}

int aotb_builder_set_program(aotb_builder *b, const aotb_program *prog,
                             char **err)
{
    size_t len;
    const char *text = bld_program_text(prog, &len);
    if (!text) {
        aotb_diag d = {0};
        diag_add(&d, "<program>: out of memory");
        return give_err(&d, err);
    }
    aotb_diag d = {0}, located = {0};
    ir_program p;
    if (err)
        *err = NULL;
    int rc = ir_parse("<program>", text, len, &p, &d);
    if (rc != 0) {
        bld_program_locate("<program>", text, len, &d, &located);
        diag_free(&d);
        return give_err(&located, err);
    }
    return take_program(b, rc, &p, &d, err);
}

/* ---- the base image ----------------------------------------------------- */

/* load_old's result for an aotb image of another format version: no base
 * to build on, but nothing damaged either. */
#define OLD_OTHER_VERSION (-2)

/* Reads and parses the image at path; a missing file leaves no base.
 * 0, -1 + message, or OLD_OTHER_VERSION + message. */
static int load_old(aotb_builder *b, const char *path, aotb_diag *d)
{
    reset_changes(b);
    drop_old(b);
    struct stat sb;
    if (stat(path, &sb) != 0 && errno == ENOENT)
        return 0;
    b->old_name = xstrdup(path);
    if (!b->old_name) {
        diag_add(d, "%s: out of memory", path);
        return -1;
    }
    if (file_map(path, &b->old_file, d) != 0) {
        drop_old(b);
        return -1;
    }
    if (img_parse(b->old_name, b->old_file.data, b->old_file.len, &b->old,
                  d) != 0) {
        uint32_t v = b->old.version;
        drop_old(b);
        return v != 0 && v != IMG_FORMAT_VERSION ? OLD_OTHER_VERSION : -1;
    }
    b->has_old = 1;
    return 0;
}

int aotb_builder_load_image(aotb_builder *b, const char *path, char **err)
{
    aotb_diag d = {0};
    if (err)
        *err = NULL;
    if (load_old(b, path, &d) != 0)
        return give_err(&d, err);
    diag_free(&d);
    return 0;
}

/* ---- change detection --------------------------------------------------- */

/* Did a block folded into old block ob change or vanish? */
static int dep_changed(const aotb_builder *b, uint32_t ob)
{
    const img_block *x = &b->old.blocks[ob];
    for (uint32_t k = 0; k < x->dep_count; k++) {
        const img_dep *e = &b->old.deps[x->dep_first + k];
        const block_change *c = changes_find(&b->changes, e->dep_pc);
        if (!c || c->kind == CHANGE_REMOVED ||
            !ir_hash_eq(c->new_hash, e->dep_hash))
            return 1;
    }
    return 0;
}

static int detect(aotb_builder *b, aotb_diag *d)
{
    if (!b->has_prog) {
        diag_add(d, "aotb builder: no program to build (set one first)");
        return -1;
    }
    reset_changes(b);
    size_t nnew = 0, nold = b->has_old ? b->old.nblocks : 0;
    block_hash *nw = changes_hash_program(&b->prog, &nnew);
    block_hash *ol = xcalloc(nold ? nold : 1, sizeof *ol);
    if ((!nw && b->prog.nblocks) || !ol) {
        free(nw);
        free(ol);
        diag_add(d, "aotb builder: out of memory");
        return -1;
    }
    for (size_t i = 0; i < nold; i++) {
        ol[i].pc = b->old.blocks[i].pc;
        ol[i].hash = b->old.blocks[i].hash;
    }
    int rc = changes_classify(ol, nold, nw, nnew, &b->changes, d);
    free(nw);
    free(ol);
    if (rc != 0)
        return -1;
    b->why = xcalloc(b->changes.n ? b->changes.n : 1, 1);
    if (!b->why) {
        changes_free(&b->changes);
        diag_add(d, "aotb builder: out of memory");
        return -1;
    }
    int other_fp = b->has_old && strcmp(b->old.fingerprint, b->fp) != 0;
    change_stats *s = &b->changes.stats;
    uint32_t ob = 0;
    for (size_t i = 0; i < b->changes.n; i++) {
        block_change *c = &b->changes.items[i];
        if (c->kind == CHANGE_MODIFIED)
            b->why[i] = AOTB_WHY_IR;
        if (c->kind != CHANGE_UNCHANGED)
            continue;
        while (b->old.blocks[ob].pc < c->pc)   /* both ascend; present */
            ob++;
        uint8_t why = !b->cfg.detect_changes ? AOTB_WHY_NO_DETECT
                      : other_fp             ? AOTB_WHY_FINGERPRINT
                      : dep_changed(b, ob)   ? AOTB_WHY_DEPENDENCY
                                             : AOTB_WHY_NONE;
        if (why != AOTB_WHY_NONE) {
            c->kind = CHANGE_MODIFIED;
            b->why[i] = why;
            s->unchanged--;
            s->modified++;
            if (why == AOTB_WHY_DEPENDENCY)
                b->st.modified_dependency++;
        }
    }
    b->detected = 1;
    return 0;
}

int aotb_builder_detect_changes(aotb_builder *b, char **err)
{
    aotb_diag d = {0};
    if (err)
        *err = NULL;
    if (detect(b, &d) != 0)
        return give_err(&d, err);
    diag_free(&d);
    return 0;
}

size_t aotb_builder_change_count(const aotb_builder *b)
{
    return b->detected ? b->changes.n : 0;
}

static void hash_bytes(ir_hash h, uint8_t out[16])
{
    for (int i = 0; i < 8; i++) {
        out[i] = (uint8_t)(h.hi >> (56 - 8 * i));
        out[8 + i] = (uint8_t)(h.lo >> (56 - 8 * i));
    }
}

int aotb_builder_change(const aotb_builder *b, size_t i,
                        aotb_block_change *out)
{
    if (!b->detected || i >= b->changes.n)
        return -1;
    const block_change *c = &b->changes.items[i];
    memset(out, 0, sizeof *out);
    out->pc = c->pc;
    out->kind = (int)c->kind;
    out->why = b->why[i];
    if (c->kind != CHANGE_ADDED)
        hash_bytes(c->old_hash, out->old_hash);
    if (c->kind != CHANGE_REMOVED)
        hash_bytes(c->new_hash, out->new_hash);
    return 0;
}

/* ---- compile, build, save ----------------------------------------------- */

static int compile(aotb_builder *b, aotb_diag *d)
{
    if (!b->detected && detect(b, d) != 0)
        return -1;
    if (b->compiled)
        return 0;
    return bld_compile(b, d);
}

int aotb_builder_compile(aotb_builder *b, char **err)
{
    aotb_diag d = {0};
    if (err)
        *err = NULL;
    if (compile(b, &d) != 0)
        return give_err(&d, err);
    diag_free(&d);
    return 0;
}

/* The objects' names for the linker's messages and its options: the base
 * image's chunks are reused when allowed.  NULL when out of memory. */
static const char **link_setup(aotb_builder *b, img_link_opts *o,
                               aotb_diag *d)
{
    const char **names = xcalloc(b->nobjs, sizeof *names);
    if (!names) {
        diag_add(d, "aotb builder: out of memory");
        return NULL;
    }
    /* The meta object is the last; the others are blocks (those taken
     * from the base image are zero: not read here). */
    for (size_t i = 0; i < b->nobjs; i++)
        names[i] = i + 1 == b->nobjs ? "<meta>" : "<block>";
    memset(o, 0, sizeof *o);
    if (b->from_old) {           /* bld_compile took blocks from the base */
        o->old = &b->old;
        o->from_old = b->from_old;
        o->from_old_features = b->from_old_features;
    }
    return names;
}

/* Checks the image just linked as a reader would (img_parse: every section
 * checksum) and decompresses and checks only the chunks compressed now:
 * reused chunks are byte copies of chunks whose checksums img_parse
 * checked in the base image.  Frees ls->fresh. */
static int check_new(aotb_builder *b, const uint8_t *data, size_t len,
                     img_link_stats *ls, aotb_diag *d)
{
    img_image img;
    uint32_t checked = 0;
    int rc = img_parse("<new image>", data, len, &img, d);
    if (rc == 0) {
        rc = img_verify_chunks(&img, ls->fresh, &checked, d);
        img_free(&img);
    }
    b->st.chunks = ls->chunks;
    b->st.chunks_reused = ls->chunks_reused;
    b->st.chunks_verified = checked;
    free(ls->fresh);
    ls->fresh = NULL;
    if (rc != 0)
        diag_add(d, "aotb builder: internal error: the new image does not "
                    "verify");
    return rc;
}

/* Both ways to link: compiles what changed and sets up the link (options
 * and object names, or NULL on error). */
static const char **begin_link(aotb_builder *b, img_link_opts *o,
                               aotb_diag *d)
{
    if (compile(b, d) != 0)
        return NULL;
    return link_setup(b, o, d);
}

/* Links b->objs into memory and checks the result. */
static int build(aotb_builder *b, buf *out, aotb_diag *d)
{
    img_link_opts o;
    const char **names = begin_link(b, &o, d);
    if (!names)
        return -1;
    img_link_stats ls;
    int rc = img_link_ex(b->objs, names, b->nobjs, &o, &ls, out, d);
    free(names);
    if (rc != 0)
        return -1;
    rc = check_new(b, out->data, out->len, &ls, d);
    if (rc != 0)
        buf_free(out);
    return rc;
}

int aotb_builder_build(aotb_builder *b, void **data, size_t *len, char **err)
{
    aotb_diag d = {0};
    buf out = {0};
    if (err)
        *err = NULL;
    *data = NULL;
    *len = 0;
    if (build(b, &out, &d) != 0)
        return give_err(&d, err);
    *data = out.data;
    *len = out.len;
    diag_free(&d);
    return 0;
}

/* Links b->objs straight into a temporary next to path (img_link_fd: the
 * image is never copied whole into memory), checks it there through a
 * read-only mapping, then fsyncs it and renames it over path. */
static int write_image(aotb_builder *b, const char *path, aotb_diag *d)
{
    img_link_opts o;
    const char **names = begin_link(b, &o, d);
    if (!names)
        return -1;
    char *tmp;
    int fd = file_tmp_open(path, &tmp, d);
    if (fd < 0) {
        free(names);
        return -1;
    }
    img_link_stats ls;
    uint64_t len = 0;
    int rc = img_link_fd(b->objs, names, b->nobjs, &o, &ls, fd, path, &len,
                         d);
    free(names);
    if (rc == 0) {
        void *map = len && len < SIZE_MAX
                        ? mmap(NULL, (size_t)len, PROT_READ, MAP_SHARED, fd, 0)
                        : MAP_FAILED;
        if (map == MAP_FAILED) {
            diag_add(d, "%s: cannot map the new image to check it: %s", path,
                     strerror(errno));
            free(ls.fresh);
            rc = -1;
        } else {
            rc = check_new(b, map, (size_t)len, &ls, d);
            munmap(map, (size_t)len);
        }
    }
    if (rc != 0) {
        file_tmp_abort(fd, tmp);
        return -1;
    }
    return file_tmp_commit(fd, tmp, path, 1, d);
}

int aotb_builder_save(aotb_builder *b, const char *path, char **err)
{
    aotb_diag d = {0};
    if (err)
        *err = NULL;
    int fd = file_lock(path, LOCK_WAIT_MS, &d);
    if (fd < 0)
        return give_err(&d, err);
    int rc = write_image(b, path, &d);
    file_unlock(fd);
    if (rc != 0)
        return give_err(&d, err);
    diag_free(&d);
    return 0;
}

int aotb_builder_update(aotb_builder *b, const char *path, char **err)
{
    aotb_diag d = {0};
    if (err)
        *err = NULL;
    if (!b->has_prog) {
        diag_add(&d, "aotb builder: no program to build (set one first)");
        return give_err(&d, err);
    }
    int fd = file_lock(path, LOCK_WAIT_MS, &d);
    if (fd < 0)
        return give_err(&d, err);
    int rc = load_old(b, path, &d);
    if (rc == OLD_OTHER_VERSION || (rc != 0 && !b->cfg.enabled)) {
        /* An image of another format version is rebuilt, as one from
         * another code generator is; and a full rebuild takes nothing
         * from the old image, so a damaged one is replaced too (every
         * block is then Added). */
        diag_clear(&d);
        rc = 0;
    }
    if (rc == 0)
        rc = detect(b, &d);
    if (rc == 0)
        rc = write_image(b, path, &d);
    file_unlock(fd);
    if (rc != 0)
        return give_err(&d, err);
    diag_free(&d);
    return 0;
}

void aotb_builder_stats(const aotb_builder *b, aotb_build_stats *out)
{
    *out = b->st;
    if (!b->detected)
        return;
    const change_stats *s = &b->changes.stats;
    out->added = s->added;
    out->modified = s->modified;
    out->removed = s->removed;
    out->unchanged = s->unchanged;
    out->total_changes = change_stats_total(s);
    out->has_changes = out->total_changes != 0;
}
