/* linkstate.c: the IMAGE.linkstate sidecar (see linkstate.h).
 *
 * Binary, little-endian, version 2 (man/aotb-image.5):
 *
 *   0   16  signature "aotb-linkstate 2"
 *   16  16  the image's root checksum
 *   32   8  number of records n
 *   40   8  bytes of paths P
 *   48  56n records: pc, size, mtime ns, ctime ns, inode, device (8 each),
 *           features (4), path length (2), flags (2: LS_READ_ALWAYS)
 *   ..   P  the paths in record order, each followed by a NUL
 *   ..  16  XXH3-128 of every byte before it
 *
 * Version 1 was text, one line per object; parsing and formatting it was
 * a quarter of a relink's instructions.  Reading this one is a size check,
 * one checksum and a walk over the records, and the paths are used in
 * place.  The checksum makes any damage (not only one that breaks the
 * syntax) read as "no link state": a flipped bit in a record's pc could
 * otherwise take the wrong block for an object.
 *
 * The path is exactly as the object was named on the command line (or in
 * the @RSPFILE).  ctime is recorded besides the mtime that Make and Ninja
 * use: nobody can set it back, so an object rewritten in place and then
 * given its old mtime (touch -d) is still noticed. */
#include "linkstate.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Entries newer than this (before the link started) are not recorded.
 * Sub-second timestamps lag the clock by at most a timer tick; file systems
 * with whole-second timestamps get two seconds. */
#define LS_RACY_NS (50 * 1000 * 1000LL)
#define LS_RACY_COARSE_NS (2 * 1000 * 1000 * 1000LL)

char *ls_sidecar_path(const char *image)
{
    size_t n = strlen(image);
    char *p = malloc(n + sizeof LS_SUFFIX);
    if (p) {
        memcpy(p, image, n);
        memcpy(p + n, LS_SUFFIX, sizeof LS_SUFFIX);
    }
    return p;
}

static void fill(const struct stat *s, ls_stat *out)
{
    out->size = (uint64_t)s->st_size;
    out->ino = (uint64_t)s->st_ino;
    out->dev = (uint64_t)s->st_dev;
    out->mtime_ns = (int64_t)s->st_mtim.tv_sec * 1000000000LL + s->st_mtim.tv_nsec;
    out->ctime_ns = (int64_t)s->st_ctim.tv_sec * 1000000000LL + s->st_ctim.tv_nsec;
}

static int stat_at(int dfd, const char *name, ls_stat *out)
{
    struct stat s;
    memset(out, 0, sizeof *out);
    if (fstatat(dfd, name, &s, 0) != 0 || !S_ISREG(s.st_mode))
        return -1;
    fill(&s, out);
    return 0;
}

int ls_stat_file(const char *path, ls_stat *out)
{
    return stat_at(AT_FDCWD, path, out);
}

/* ls_stat_start's work: the paths in slices of LS_STAT_SLICE, which the
 * threads, and the caller once it waits, take in turn from `next', so
 * that nobody idles while slices remain.  Each path is looked up by name
 * in its directory (fstatat), which each taker opens once for consecutive
 * paths in it: that saves part of the path walks that are most of a
 * relink's time.  Every taker has its own directory descriptor: threads
 * that shared one would contend on its reference count. */
struct ls_stat_job {
    const char *const *paths;
    size_t n;
    ls_stat *st;
    unsigned char *ok;
    atomic_size_t next;         /* first path of the next slice */
    int nthreads;
    pthread_t thread[LS_STAT_THREADS];
};

typedef struct stat_dir {
    int fd;
    const char *dir;            /* fd's directory: dir[0..len) */
    size_t len;
} stat_dir;

static void stat_one(stat_dir *sd, const char *path, ls_stat *st,
                     unsigned char *ok)
{
    const char *slash = strrchr(path, '/');
    size_t dl = slash ? (size_t)(slash - path) : 0;
    if (dl == 0) {
        *ok = ls_stat_file(path, st) == 0;
        return;
    }
    if (!sd->dir || dl != sd->len || memcmp(sd->dir, path, dl) != 0) {
        if (sd->fd >= 0)
            close(sd->fd);
        char *d = strndup(path, dl);
        sd->fd = d ? open(d, O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
        free(d);
        sd->dir = path;
        sd->len = dl;
    }
    *ok = (sd->fd >= 0 ? stat_at(sd->fd, slash + 1, st)
                       : ls_stat_file(path, st)) == 0;
}

static void *stat_slices(void *arg)
{
    ls_stat_job *job = arg;
    stat_dir sd = {-1, NULL, 0};
    for (;;) {
        size_t lo = atomic_fetch_add(&job->next, LS_STAT_SLICE);
        if (lo >= job->n)
            break;
        size_t hi = job->n - lo < LS_STAT_SLICE ? job->n : lo + LS_STAT_SLICE;
        for (size_t i = lo; i < hi; i++)
            stat_one(&sd, job->paths[i], &job->st[i], &job->ok[i]);
    }
    if (sd.fd >= 0)
        close(sd.fd);
    return NULL;
}

ls_stat_job *ls_stat_start(const char *const *paths, size_t n, ls_stat *st,
                           unsigned char *ok)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t threads = n / LS_STAT_MIN_PART;
    if (cpus > 0 && threads > (size_t)cpus)
        threads = (size_t)cpus;
    if (threads > LS_STAT_THREADS)
        threads = LS_STAT_THREADS;
    ls_stat_job here, *job = calloc(1, sizeof *job);
    ls_stat_job *j = job ? job : &here;
    j->paths = paths;
    j->n = n;
    j->st = st;
    j->ok = ok;
    atomic_init(&j->next, 0);
    j->nthreads = 0;
    if (!job) {                     /* out of memory: all of it, now */
        stat_slices(&here);
        return NULL;
    }
    for (size_t k = 0; k < threads; k++)
        if (pthread_create(&job->thread[job->nthreads], NULL, stat_slices,
                           job) == 0)
            job->nthreads++;
    return job;
}

void ls_stat_wait(ls_stat_job *job)
{
    if (!job)
        return;
    stat_slices(job);               /* what is left, alongside the threads */
    for (int k = 0; k < job->nthreads; k++)
        pthread_join(job->thread[k], NULL);
    free(job);
}

void ls_stat_files(const char *const *paths, size_t n, ls_stat *st,
                   unsigned char *ok)
{
    ls_stat_wait(ls_stat_start(paths, n, st, ok));
}

int ls_read_file(const char *path, uint8_t **data, size_t *len,
                 ls_stat *st, int *have_st, aotb_diag *d)
{
    *have_st = 0;
    if (strcmp(path, "-") == 0)
        return file_read_all(path, data, len, d);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        diag_add(d, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    struct stat s;
    if (fstat(fd, &s) == 0) {
        if (S_ISDIR(s.st_mode)) {
            diag_add(d, "%s: is a directory", path);
            close(fd);
            return -1;
        }
        if (S_ISREG(s.st_mode)) {
            fill(&s, st);
            *have_st = 1;
        }
    }
    buf b = {0};
    for (;;) {
        /* A regular file: its size in one read, plus one to see the end. */
        size_t want = *have_st && b.len == 0 ? (size_t)s.st_size + 1 : 65536;
        if (b.cap - b.len < 2 && buf_reserve(&b, want + 1) != 0) {
            diag_add(d, "%s: out of memory", path);
            goto fail;
        }
        ssize_t n = read(fd, b.data + b.len, b.cap - b.len - 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            diag_add(d, "%s: read error: %s", path, strerror(errno));
            goto fail;
        }
        if (n == 0)
            break;
        b.len += (size_t)n;
    }
    close(fd);
    b.data[b.len] = 0;
    *data = b.data;
    *len = b.len;
    return 0;
fail:
    close(fd);
    buf_free(&b);
    *have_st = 0;
    return -1;
}

void ls_remove_stale(const char *sidecar)
{
    size_t n = strlen(sidecar);
    char *pat = malloc(n + 7);
    if (!pat)
        return;
    memcpy(pat, sidecar, n);
    memcpy(pat + n, ".tmp.*", 7);
    glob_t g;
    if (glob(pat, GLOB_NOSORT, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; i++)
            unlink(g.gl_pathv[i]);
        globfree(&g);
    }
    free(pat);
}

int64_t ls_now_ns(void)
{
    struct timespec t;
    if (clock_gettime(CLOCK_REALTIME, &t) != 0)
        return INT64_MAX;          /* unknown: everything is racy */
    return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int racy_time(int64_t t, int64_t now)
{
    int64_t win = t % 1000000000LL == 0 ? LS_RACY_COARSE_NS : LS_RACY_NS;
    return t > now - win;
}

int ls_is_racy(const ls_stat *st, int64_t now_ns)
{
    return racy_time(st->mtime_ns, now_ns) || racy_time(st->ctime_ns, now_ns);
}

/* ---- parse ------------------------------------------------------------ */

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

int ls_parse(uint8_t *data, size_t len, const uint8_t root[IMG_SUM_SIZE],
             linkstate *out)
{
    memset(out, 0, sizeof *out);
    out->text = (char *)data;
    /* The sizes first (nothing is read past them), then the checksum (so
     * that no damaged record is looked at), then every record. */
    if (len < LS_HEADER_SIZE + IMG_SUM_SIZE ||
        memcmp(data, LS_SIGNATURE, LS_SIGNATURE_LEN) != 0 ||
        memcmp(data + 16, root, IMG_SUM_SIZE) != 0)
        goto bad;
    uint64_t n = get_le64(data + 32), plen = get_le64(data + 40);
    size_t room = len - LS_HEADER_SIZE - IMG_SUM_SIZE;
    if (n > room / LS_RECORD_SIZE ||
        plen != room - (size_t)n * LS_RECORD_SIZE)
        goto bad;
    uint8_t sum[IMG_SUM_SIZE];
    img_sum(data, len - IMG_SUM_SIZE, sum);
    if (memcmp(sum, data + len - IMG_SUM_SIZE, IMG_SUM_SIZE) != 0)
        goto bad;
    if (n) {
        out->v = xcalloc((size_t)n, sizeof *out->v);
        if (!out->v)
            goto bad;
        out->cap = (size_t)n;
    }
    const uint8_t *r = data + LS_HEADER_SIZE;
    const char *path = (const char *)r + (size_t)n * LS_RECORD_SIZE;
    const char *pend = path + plen;
    for (size_t i = 0; i < n; i++, r += LS_RECORD_SIZE) {
        size_t pl = le16(r + 52);
        uint16_t flags = le16(r + 54);
        if (pl == 0 || pl >= (size_t)(pend - path) || path[pl] != '\0' ||
            memchr(path, '\0', pl) || (flags & ~LS_READ_ALWAYS) ||
            memchr(path, '\n', pl))
            goto bad;
        ls_entry *e = &out->v[out->n++];
        e->path = path;
        e->pc = get_le64(r);
        e->st.size = get_le64(r + 8);
        e->st.mtime_ns = (int64_t)get_le64(r + 16);
        e->st.ctime_ns = (int64_t)get_le64(r + 24);
        e->st.ino = get_le64(r + 32);
        e->st.dev = get_le64(r + 40);
        e->features = get_le32(r + 48);
        e->flags = flags;
        path += pl + 1;
    }
    if (path != pend)
        goto bad;
    memcpy(out->root, root, IMG_SUM_SIZE);
    return 0;
bad:
    ls_free(out);
    return -1;
}

static int cmp_path(const void *a, const void *b, void *ctx)
{
    const linkstate *ls = ctx;
    return strcmp(ls->v[*(const size_t *)a].path, ls->v[*(const size_t *)b].path);
}

int ls_load(const char *path, const uint8_t root[IMG_SUM_SIZE],
            linkstate *out)
{
    aotb_diag scratch = {0};
    uint8_t *data;
    size_t len;
    memset(out, 0, sizeof *out);
    int rc = -1;
    if (file_read_all(path, &data, &len, &scratch) == 0)
        rc = ls_parse(data, len, root, out);
    diag_free(&scratch);
    return rc;
}

const ls_entry *ls_find(linkstate *ls, const char *path)
{
    if (ls->cursor < ls->n && strcmp(ls->v[ls->cursor].path, path) == 0)
        return &ls->v[ls->cursor++];
    if (!ls->by_path && ls->n) {
        ls->by_path = xcalloc(ls->n, sizeof *ls->by_path);
        if (!ls->by_path)
            return NULL;
        for (size_t i = 0; i < ls->n; i++)
            ls->by_path[i] = i;
        qsort_r(ls->by_path, ls->n, sizeof *ls->by_path, cmp_path, ls);
    }
    size_t lo = 0, hi = ls->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        size_t k = ls->by_path[mid];
        int c = strcmp(ls->v[k].path, path);
        if (c == 0) {
            ls->cursor = k + 1;
            return &ls->v[k];
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* ---- build ------------------------------------------------------------ */

static int add(linkstate *ls, const char *path, const ls_stat *st,
               uint64_t pc, uint32_t features, uint16_t flags)
{
    size_t pl = strlen(path);
    if (pl == 0 || pl > LS_MAX_PATH || memchr(path, '\n', pl))
        return 0;
    if (ls->n == ls->cap) {
        size_t cap = ls->cap ? 2 * ls->cap : 64;
        ls_entry *v = xreallocarray(ls->v, cap, sizeof *v);
        if (!v)
            return -1;
        ls->v = v;
        ls->cap = cap;
    }
    ls_entry *e = &ls->v[ls->n++];
    e->path = path;
    e->st = *st;
    e->pc = pc;
    e->features = features;
    e->flags = flags;
    return 0;
}

int ls_add(linkstate *ls, const char *path, const ls_stat *st, uint64_t pc,
           uint32_t features)
{
    return add(ls, path, st, pc, features, 0);
}

int ls_add_read_always(linkstate *ls, const char *path)
{
    static const ls_stat zero;
    return add(ls, path, &zero, 0, 0, LS_READ_ALWAYS);
}

void ls_format(const linkstate *ls, buf *out)
{
    size_t plen = 0;
    for (size_t i = 0; i < ls->n; i++)
        plen += strlen(ls->v[i].path) + 1;
    size_t total = LS_HEADER_SIZE + ls->n * LS_RECORD_SIZE + plen +
                   IMG_SUM_SIZE;
    if (buf_reserve(out, total) != 0)
        return;
    uint8_t *base = out->data + out->len, *p = base;
    memcpy(p, LS_SIGNATURE, LS_SIGNATURE_LEN);
    memcpy(p + 16, ls->root, IMG_SUM_SIZE);
    put_le64(p + 32, ls->n);
    put_le64(p + 40, plen);
    p += LS_HEADER_SIZE;
    char *path = (char *)p + ls->n * LS_RECORD_SIZE;
    for (size_t i = 0; i < ls->n; i++, p += LS_RECORD_SIZE) {
        const ls_entry *e = &ls->v[i];
        size_t pl = strlen(e->path);
        put_le64(p, e->pc);
        put_le64(p + 8, e->st.size);
        put_le64(p + 16, (uint64_t)e->st.mtime_ns);
        put_le64(p + 24, (uint64_t)e->st.ctime_ns);
        put_le64(p + 32, e->st.ino);
        put_le64(p + 40, e->st.dev);
        put_le32(p + 48, e->features);
        p[52] = (uint8_t)pl;
        p[53] = (uint8_t)(pl >> 8);
        p[54] = (uint8_t)e->flags;
        p[55] = (uint8_t)(e->flags >> 8);
        memcpy(path, e->path, pl + 1);
        path += pl + 1;
    }
    img_sum(base, total - IMG_SUM_SIZE, base + total - IMG_SUM_SIZE);
    out->len += total;
}

void ls_free(linkstate *ls)
{
    free(ls->text);
    free(ls->v);
    free(ls->by_path);
    memset(ls, 0, sizeof *ls);
}
