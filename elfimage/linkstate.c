/* linkstate.c: the IMAGE.linkstate sidecar (see linkstate.h).
 *
 * Text, one object a line, so that it can be inspected and so that any
 * damage shows up as a line that does not parse:
 *
 *   aotb-linkstate 1
 *   root <32 hex digits: the image's root checksum>
 *   <pc hex> <features hex> <size> <mtime ns> <ctime ns> <inode> <device> <path>
 *   ...
 *
 * The path is the rest of the line, exactly as the object was named on the
 * command line (or in the @RSPFILE).  ctime is recorded besides the mtime
 * that Make and Ninja use: nobody can set it back, so an object rewritten
 * in place and then given its old mtime (touch -d) is still noticed. */
#include "linkstate.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
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

void ls_stat_files(const char *const *paths, size_t n, ls_stat *st,
                   unsigned char *ok)
{
    /* Objects come in a few directories: each is looked up once and its
     * files by name in it (fstatat), saving part of the path walks that
     * are most of a relink's time.  Tried too: splitting the list between
     * threads gains nothing (the walks serialise in the kernel). */
    int dfd = -1;
    const char *dir = NULL;     /* dfd's directory: dir[0..dirlen) */
    size_t dirlen = 0;
    for (size_t i = 0; i < n; i++) {
        const char *p = paths[i], *slash = strrchr(p, '/');
        size_t dl = slash ? (size_t)(slash - p) : 0;
        if (dl == 0) {
            ok[i] = ls_stat_file(p, &st[i]) == 0;
            continue;
        }
        if (!dir || dl != dirlen || memcmp(dir, p, dl) != 0) {
            if (dfd >= 0)
                close(dfd);
            char *d = strndup(p, dl);
            dfd = d ? open(d, O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
            free(d);
            dir = p;
            dirlen = dl;
        }
        ok[i] = (dfd >= 0 ? stat_at(dfd, slash + 1, &st[i])
                          : ls_stat_file(p, &st[i])) == 0;
    }
    if (dfd >= 0)
        close(dfd);
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

typedef struct lsp {
    const char *p, *end;
} lsp;

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

/* An unsigned number in base 10 or 16 followed by one space. */
static int get_u64(lsp *s, int base, uint64_t *out)
{
    uint64_t v = 0;
    const char *start = s->p;
    while (s->p < s->end && *s->p != ' ') {
        int dv = hexval((unsigned char)*s->p);
        if (dv < 0 || dv >= base ||
            __builtin_mul_overflow(v, (uint64_t)base, &v) ||
            __builtin_add_overflow(v, (uint64_t)dv, &v))
            return -1;
        s->p++;
    }
    if (s->p == start || s->p == s->end || s->p - start > 20)
        return -1;
    s->p++;
    *out = v;
    return 0;
}

static int get_i64(lsp *s, int64_t *out)
{
    int neg = s->p < s->end && *s->p == '-';
    if (neg)
        s->p++;
    uint64_t v;
    if (get_u64(s, 10, &v) != 0 || v > (uint64_t)INT64_MAX)
        return -1;
    *out = neg ? -(int64_t)v : (int64_t)v;
    return 0;
}

/* The next line (without its newline); -1 if there is no complete line. */
static int get_line(lsp *s, lsp *line)
{
    const char *nl = memchr(s->p, '\n', (size_t)(s->end - s->p));
    if (!nl)
        return -1;
    line->p = s->p;
    line->end = nl;
    s->p = nl + 1;
    return 0;
}

/* An entry line; its path is NUL-terminated in place (l->end was the
 * newline). */
static int parse_entry(linkstate *ls, lsp *l)
{
    uint64_t pc, feat, size, ino, dev;
    int64_t mt, ct;
    if (get_u64(l, 16, &pc) != 0 || get_u64(l, 16, &feat) != 0 ||
        feat > UINT32_MAX || get_u64(l, 10, &size) != 0 ||
        get_i64(l, &mt) != 0 || get_i64(l, &ct) != 0 ||
        get_u64(l, 10, &ino) != 0 || get_u64(l, 10, &dev) != 0 ||
        l->p == l->end || memchr(l->p, '\0', (size_t)(l->end - l->p)))
        return -1;
    *(char *)(uintptr_t)l->end = '\0';
    ls_stat st = {size, ino, dev, mt, ct};
    return ls_add(ls, l->p, &st, pc, (uint32_t)feat);
}

static int cmp_path(const void *a, const void *b, void *ctx)
{
    const linkstate *ls = ctx;
    return strcmp(ls->v[*(const size_t *)a].path, ls->v[*(const size_t *)b].path);
}

int ls_parse(uint8_t *data, size_t len, const uint8_t root[IMG_SUM_SIZE],
             linkstate *out)
{
    memset(out, 0, sizeof *out);
    out->text = (char *)data;
    lsp s = {(const char *)data, (const char *)data + len}, l;
    if (get_line(&s, &l) != 0 ||
        (size_t)(l.end - l.p) != strlen(LS_SIGNATURE) ||
        memcmp(l.p, LS_SIGNATURE, strlen(LS_SIGNATURE)) != 0)
        goto bad;
    if (get_line(&s, &l) != 0 || l.end - l.p != 5 + 2 * IMG_SUM_SIZE ||
        memcmp(l.p, "root ", 5) != 0)
        goto bad;
    for (unsigned i = 0; i < IMG_SUM_SIZE; i++) {
        int hi = hexval((unsigned char)l.p[5 + 2 * i]);
        int lo = hexval((unsigned char)l.p[6 + 2 * i]);
        if (hi < 0 || lo < 0)
            goto bad;
        out->root[i] = (uint8_t)(hi << 4 | lo);
    }
    if (memcmp(out->root, root, IMG_SUM_SIZE) != 0)
        goto bad;
    while (s.p < s.end)
        if (get_line(&s, &l) != 0 || parse_entry(out, &l) != 0)
            goto bad;
    return 0;
bad:
    ls_free(out);
    return -1;
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

int ls_add(linkstate *ls, const char *path, const ls_stat *st, uint64_t pc,
           uint32_t features)
{
    if (strchr(path, '\n') || path[0] == '\0')
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
    return 0;
}

/* Decimal / hex without printf: the sidecar of a large image has tens of
 * thousands of lines and is written on every link. */
static char *put_u(char *p, uint64_t v, unsigned base)
{
    char t[24];
    int n = 0;
    do {
        t[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    while (n)
        *p++ = t[--n];
    return p;
}

static char *put_i(char *p, int64_t v)
{
    if (v < 0) {
        *p++ = '-';
        return put_u(p, (uint64_t)0 - (uint64_t)v, 10);
    }
    return put_u(p, (uint64_t)v, 10);
}

void ls_format(const linkstate *ls, buf *out)
{
    buf_printf(out, "%s\nroot ", LS_SIGNATURE);
    for (unsigned i = 0; i < IMG_SUM_SIZE; i++)
        buf_printf(out, "%02x", ls->root[i]);
    buf_put8(out, '\n');
    for (size_t i = 0; i < ls->n; i++) {
        const ls_entry *e = &ls->v[i];
        size_t plen = strlen(e->path);
        if (buf_reserve(out, 8 * 24 + plen + 1) != 0)
            return;
        char *p = (char *)out->data + out->len;
        p = put_u(p, e->pc, 16);
        *p++ = ' ';
        p = put_u(p, e->features, 16);
        *p++ = ' ';
        p = put_u(p, e->st.size, 10);
        *p++ = ' ';
        p = put_i(p, e->st.mtime_ns);
        *p++ = ' ';
        p = put_i(p, e->st.ctime_ns);
        *p++ = ' ';
        p = put_u(p, e->st.ino, 10);
        *p++ = ' ';
        p = put_u(p, e->st.dev, 10);
        *p++ = ' ';
        memcpy(p, e->path, plen);
        p += plen;
        *p++ = '\n';
        out->len = (size_t)(p - (char *)out->data);
    }
}

void ls_free(linkstate *ls)
{
    free(ls->text);
    free(ls->v);
    free(ls->by_path);
    memset(ls, 0, sizeof *ls);
}
