/* cmd_link.c: "aotb link -o PROG.aot OBJ.o... | @RSPFILE": reads every
 * object, links them (elfimage/image_link.c) and writes the image through a
 * temporary file renamed over the target, so a failed link leaves the old
 * image untouched.  Every error found is reported before failing.
 *
 * When the output image already exists and parses (every section checksum
 * checked), the link is incremental: its compressed chunks whose blocks
 * all come out with identical code and relocations are copied instead of
 * recompressed (img_link_fd).  A damaged or older-format image is simply
 * not reused.  The image's lock (IMAGE.lock) is held from reading the old
 * image to renaming the new one; a second writer waits up to 60 s.
 *
 * The link state (IMAGE.linkstate, elfimage/linkstate.h) written next to
 * the image lets the next link skip even reading most objects: an object
 * whose path, size, mtime, ctime, inode and device are what they were when
 * the old image was linked from it is the old image's block
 * (img_link_opts.from_old: nothing of it is built here, and its code never
 * leaves the old compressed chunk unless its chunk must be rewritten).
 * Only stat remains per unchanged object, and those stats run in threads
 * while the old image is read (obj_stats).  The result is the same image
 * as when every object is read. */
#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "image.h"
#include "linkstate.h"
#include "object.h"

typedef struct names {
    char **v;
    size_t n, cap;
} names;

static int names_add(names *l, const char *s, size_t len)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        char **v = xreallocarray(l->v, cap, sizeof *v);
        if (!v)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    char *p = malloc(len + 1);
    if (!p)
        return -1;
    memcpy(p, s, len);
    p[len] = '\0';
    l->v[l->n++] = p;
    return 0;
}

/* @RSPFILE: whitespace-separated paths. */
static int read_rsp(const char *path, names *l, aotb_diag *d)
{
    uint8_t *data;
    size_t len;
    if (file_read_all(path, &data, &len, d) != 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < len && rc == 0;) {
        while (i < len && isspace(data[i]))
            i++;
        size_t s = i;
        while (i < len && !isspace(data[i]))
            i++;
        if (i > s)
            rc = names_add(l, (const char *)data + s, i - s);
    }
    free(data);
    if (rc != 0)
        diag_add(d, "%s: out of memory", path);
    return rc;
}

/* The previous link of the same image: the old image (its compressed
 * chunks are reused, img_link_fd) and its linkstate sidecar (objects whose
 * file status it still matches are taken from the old image unread). */
typedef struct prev_link {
    uint8_t *olddata;      /* mapped (mapped = 1) or malloc'd */
    size_t oldlen;
    int mapped;
    img_image old;
    int have_old;
    linkstate prev;        /* empty when there is none that matches */
    uint32_t *from_old;    /* per object: its old block, or UINT32_MAX */
    uint32_t *features;    /* per object from_old: its CPU features */
    uint32_t hint;         /* from_old: the old block after the last found */
    linkstate next;        /* what this link records */
    int next_oom;
    int64_t now;
    size_t reused;
} prev_link;

/* The old image, mapped rather than read: most of it is only checksummed
 * and copied once into the new image.  Every writer replaces the image by
 * renaming (file_write_atomic, under the lock we hold), so the mapped file
 * never changes under us. */
static int map_file(prev_link *pl, const char *path, aotb_diag *d)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
        st.st_size > 0 && (uint64_t)st.st_size <= SIZE_MAX) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd,
                       0);
        if (p != MAP_FAILED) {
            close(fd);
            pl->olddata = p;
            pl->oldlen = (size_t)st.st_size;
            pl->mapped = 1;
            return 0;
        }
    }
    if (fd >= 0)
        close(fd);
    return file_read_all(path, &pl->olddata, &pl->oldlen, d);
}

static void prev_open(prev_link *pl, const char *out)
{
    aotb_diag scratch = {0};
    memset(pl, 0, sizeof *pl);
    pl->now = ls_now_ns();
    char *sc = ls_sidecar_path(out);
    if (sc)
        ls_remove_stale(sc);       /* we hold the lock (see linkstate.h) */
    free(sc);
    /* A damaged or older-format image is simply not reused. */
    if (map_file(pl, out, &scratch) == 0 &&
        img_parse(out, pl->olddata, pl->oldlen, &pl->old, &scratch) == 0)
        pl->have_old = 1;
    diag_free(&scratch);
    if (!pl->have_old)
        return;
    char *lsp = ls_sidecar_path(out);
    if (lsp)
        ls_load(lsp, pl->old.root, &pl->prev);   /* none: read everything */
    free(lsp);
}

static void prev_close(prev_link *pl)
{
    free(pl->from_old);
    free(pl->features);
    if (pl->have_old)
        img_free(&pl->old);
    if (pl->mapped)
        munmap(pl->olddata, pl->oldlen);
    else
        free(pl->olddata);
    ls_free(&pl->prev);
    ls_free(&pl->next);
}

static int same_stat(const ls_stat *a, const ls_stat *b)
{
    return a->size == b->size && a->mtime_ns == b->mtime_ns &&
           a->ctime_ns == b->ctime_ns && a->ino == b->ino && a->dev == b->dev;
}

/* Object `path' from the old image if the linkstate vouches for it: its
 * entry, with pl->from_old[i] and pl->features[i] set (img_link_fd takes
 * everything else from the old block; objs[i] stays zero), or NULL (read
 * the file instead). */
static const ls_entry *from_old(prev_link *pl, size_t i, const char *path,
                                const ls_stat *st)
{
    const ls_entry *e = ls_find(&pl->prev, path);
    if (!e || (e->flags & LS_READ_ALWAYS) || !same_stat(&e->st, st))
        return NULL;
    /* Objects usually come in pc order: try the block after the last. */
    uint32_t b = pl->hint < pl->old.nblocks &&
                         pl->old.blocks[pl->hint].pc == e->pc
                     ? pl->hint
                     : img_find_block(&pl->old, e->pc);
    if (b == UINT32_MAX)
        return NULL;
    pl->hint = b + 1;
    pl->from_old[i] = b;
    pl->features[i] = e->features;
    return e;
}

/* The objects' file status.  When a previous link left an image and a
 * link state, the stats are started (ls_stat_start) before the old image
 * is read and checked, and run meanwhile: on a relink they are most of
 * the time, and that work hides part of them. */
typedef struct obj_stats {
    ls_stat *st;
    unsigned char *have;   /* have[i]: st[i] is set */
    ls_stat_job *job;
    int taken;             /* started, or done */
} obj_stats;

/* 0, or -1 with neither array kept (out of memory). */
static int obj_stats_alloc(obj_stats *os, size_t n)
{
    os->st = xcalloc(n, sizeof *os->st);
    os->have = xcalloc(n, 1);
    if (os->st && os->have)
        return 0;
    free(os->st);
    free(os->have);
    os->st = NULL;
    os->have = NULL;
    return -1;
}

static void obj_stats_start(obj_stats *os, const char *out, const names *in)
{
    memset(os, 0, sizeof *os);
    char *lsp = ls_sidecar_path(out);
    int likely = lsp && access(out, F_OK) == 0 && access(lsp, F_OK) == 0;
    free(lsp);
    if (!likely)
        return;
    if (obj_stats_alloc(os, in->n) == 0) {
        os->job = ls_stat_start((const char *const *)in->v, in->n, os->st,
                                os->have);
        os->taken = 1;
    }
}

/* Waits for the stats, taking them now if they are needed (there is a
 * link state to compare them with) and were not started; 0, or -1 when
 * they are not there. */
static int obj_stats_get(obj_stats *os, const names *in, int needed)
{
    ls_stat_wait(os->job);
    os->job = NULL;
    if (!os->taken) {
        if (!needed || obj_stats_alloc(os, in->n) != 0)
            return -1;
        ls_stat_files((const char *const *)in->v, in->n, os->st, os->have);
        os->taken = 1;
    }
    return 0;
}

static void obj_stats_free(obj_stats *os)
{
    ls_stat_wait(os->job);    /* the threads write into st and have */
    free(os->st);
    free(os->have);
    memset(os, 0, sizeof *os);
}

/* Fills objs[i] for every input read, or marks it as taken from the old
 * image (pl->from_old); records each object's status in pl->next.  Returns 1 if
 * some object could not be read (messages in d), else 0. */
static int read_objects(prev_link *pl, const names *in, obj_stats *os,
                        obj_file *objs, unsigned char *ok, aotb_diag *d)
{
    int bad = 0;
    if (pl->prev.n) {
        pl->from_old = xcalloc(in->n, sizeof *pl->from_old);
        pl->features = xcalloc(in->n, sizeof *pl->features);
        if (!pl->from_old || !pl->features)
            ls_free(&pl->prev);            /* read everything */
    }
    for (size_t i = 0; pl->from_old && i < in->n; i++)
        pl->from_old[i] = UINT32_MAX;
    /* One record per object: sized once, not grown by doubling. */
    pl->next.v = xcalloc(in->n, sizeof *pl->next.v);
    pl->next.cap = pl->next.v ? in->n : 0;
    /* With a link state, every object is stat'ed (obj_stats); objects
     * read get the status of the file they read from fstat (ls_read_file),
     * so a full link needs no stat by path. */
    const ls_stat *sts = NULL;
    const unsigned char *have = NULL;
    if (obj_stats_get(os, in, pl->prev.n != 0) == 0 && pl->prev.n) {
        sts = os->st;
        have = os->have;
    }
    for (size_t i = 0; i < in->n; i++) {
        const char *path = in->v[i];
        ls_stat st;
        int have_st = have && have[i];
        const ls_entry *e = NULL;
        if (have_st)
            st = sts[i];
        if (have_st && (e = from_old(pl, i, path, &st)) != NULL) {
            pl->reused++;
            if (ls_add(&pl->next, path, &st, e->pc, e->features) != 0)
                pl->next_oom = 1;
            continue;
        }
        uint8_t *data;
        size_t len;
        if (ls_read_file(path, &data, &len, &st, &have_st, d) != 0) {
            bad = 1;
            continue;
        }
        int r = obj_read(path, data, len, &objs[i], d);
        free(data);
        if (r != 0) {
            bad = 1;
            continue;
        }
        ok[i] = 1;
        /* Every object gets an entry, in link order, so that the next
         * link's lookups all hit in order; the meta object and objects
         * that could still change within a timestamp tick are marked to
         * be read again. */
        r = have_st && objs[i].kind == OBJ_BLOCK && !ls_is_racy(&st, pl->now)
                ? ls_add(&pl->next, path, &st, objs[i].pc, objs[i].features)
                : ls_add_read_always(&pl->next, path);
        if (r != 0)
            pl->next_oom = 1;
    }
    return bad;
}

/* Writes IMAGE.linkstate for the image just written.  Failing to is not
 * an error (the next link reads every object), but is reported. */
static void write_state(prev_link *pl, const char *out,
                        const uint8_t root[IMG_SUM_SIZE])
{
    aotb_diag w = {0};
    char *lsp = ls_sidecar_path(out);
    buf b = {0};
    memcpy(pl->next.root, root, IMG_SUM_SIZE);
    ls_format(&pl->next, &b);
    /* file_write_cache removes the old one before its rename: a crash
     * there leaves no link state, which only means a full read next
     * time. */
    if (!lsp || pl->next_oom || b.oom)
        diag_add(&w, "%s%s: out of memory", out, LS_SUFFIX);
    else
        file_write_cache(lsp, b.data, b.len, &w);   /* checked by root */
    if (w.count) {
        fprintf(stderr, "aotb link: warning: %s%s not written (the next "
                        "link reads every object):\n", out, LS_SUFFIX);
        cli_print_diag(&w);
    }
    diag_free(&w);
    buf_free(&b);
    free(lsp);
}

/* Links into a temporary next to out, renamed into place only when the
 * whole link succeeded.  The link state is written while the image goes
 * to disk (sync_file_range starts that; the fsync of file_tmp_commit then
 * waits for less).  It names the new image by its root checksum, so if
 * the rename fails, or a crash comes first, it is simply not used. */
static int write_image(prev_link *pl, const names *in, const obj_file *objs,
                       const char *out, img_link_stats *st, aotb_diag *d)
{
    img_link_opts lo;
    memset(&lo, 0, sizeof lo);
    lo.old = pl->have_old ? &pl->old : NULL;
    lo.from_old = pl->from_old;
    lo.from_old_features = pl->features;
    char *tmp;
    int fd = file_tmp_open(out, &tmp, d);
    if (fd < 0)
        return -1;
    uint64_t len;
    if (img_link_fd(objs, (const char *const *)in->v, in->n, &lo, st, fd, out,
                    &len, d) != 0) {
        file_tmp_abort(fd, tmp);
        return -1;
    }
    free(st->fresh);
    st->fresh = NULL;
    (void)sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE); /* fsync checks */
    write_state(pl, out, st->root);
    return file_tmp_commit(fd, tmp, out, 1, d);
}

int cmd_link(int argc, char **argv)
{
    const char *cmd = "link", *out = NULL;
    names in = {0};
    aotb_diag d = {0};
    int only_files = 0, rc = EXIT_BADINPUT;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_files && strcmp(a, "--") == 0) {
            only_files = 1;
        } else if (!only_files && strcmp(a, "-o") == 0) {
            if (i + 1 >= argc) {
                rc = cli_usage_error(cmd, "-o needs a file");
                goto done;
            }
            out = argv[++i];
        } else if (!only_files && a[0] == '-' && a[1] != '\0') {
            rc = cli_usage_error(cmd, "unknown option '%s'", a);
            goto done;
        } else if (a[0] == '@' && !only_files) {
            if (read_rsp(a + 1, &in, &d) != 0)
                goto fail;
        } else if (names_add(&in, a, strlen(a)) != 0) {
            diag_add(&d, "aotb link: out of memory");
            goto fail;
        }
    }
    if (!out) {
        rc = cli_usage_error(cmd, "missing -o IMAGE");
        goto done;
    }
    if (in.n == 0) {
        rc = cli_usage_error(cmd, "no objects to link");
        goto done;
    }

    obj_file *objs = xcalloc(in.n, sizeof *objs);
    unsigned char *ok = xcalloc(in.n, 1);
    if (!objs || !ok) {
        free(objs);
        free(ok);
        diag_add(&d, "aotb link: out of memory");
        goto fail;
    }
    int lock = file_lock(out, 60000, &d);
    if (lock >= 0) {
        prev_link pl;
        obj_stats os;
        obj_stats_start(&os, out, &in);
        prev_open(&pl, out);
        int bad = read_objects(&pl, &in, &os, objs, ok, &d);
        obj_stats_free(&os);
        img_link_stats st;
        if (!bad && write_image(&pl, &in, objs, out, &st, &d) == 0) {
            rc = 0;
            /* For tests and curious users (man/aotb.1). */
            if (getenv("AOTB_LINK_STATS"))
                fprintf(stderr, "aotb link: %s: %zu objects: %zu read, "
                                "%zu unchanged (not read); %" PRIu32
                                " chunks, %" PRIu32 " reused\n",
                        out, in.n, in.n - pl.reused, pl.reused, st.chunks,
                        st.chunks_reused);
        }
        prev_close(&pl);
        file_unlock(lock);
    }
    for (size_t i = 0; i < in.n; i++)
        if (ok[i])
            obj_free(&objs[i]);
    free(ok);
    free(objs);
    if (rc == 0)
        goto done;
fail:
    cli_print_diag(&d);
    rc = EXIT_BADINPUT;
done:
    for (size_t i = 0; i < in.n; i++)
        free(in.v[i]);
    free(in.v);
    diag_free(&d);
    return rc;
}
