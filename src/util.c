/* util.c: diagnostics, byte buffers and atomic file writes. */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

void diag_vadd(aotb_diag *d, const char *fmt, va_list ap)
{
    d->count++;
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return;
    size_t need = d->len + (size_t)n + 2;
    if (need > d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 256;
        while (cap < need)
            cap *= 2;
        char *t = realloc(d->text, cap);
        if (!t)
            return;
        d->text = t;
        d->cap = cap;
    }
    vsnprintf(d->text + d->len, (size_t)n + 1, fmt, ap);
    d->len += (size_t)n;
    d->text[d->len++] = '\n';
    d->text[d->len] = '\0';
}

void diag_add(aotb_diag *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_vadd(d, fmt, ap);
    va_end(ap);
}

void diag_at(aotb_diag *d, const char *file, unsigned line, unsigned col,
             const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    diag_add(d, "%s:%u:%u: error: %s", file, line, col, msg);
}

const char *diag_text(const aotb_diag *d)
{
    return d->text ? d->text : "";
}

char *diag_take(aotb_diag *d)
{
    const char *t = diag_text(d);
    size_t n = strlen(t);
    while (n > 0 && t[n - 1] == '\n')
        n--;
    char *m = malloc(n + 1);
    if (m) {
        memcpy(m, t, n);
        m[n] = '\0';
    }
    diag_free(d);
    return m;
}

void diag_clear(aotb_diag *d)
{
    d->len = 0;
    d->count = 0;
    if (d->text)
        d->text[0] = '\0';
}

void diag_free(aotb_diag *d)
{
    free(d->text);
    memset(d, 0, sizeof *d);
}

int buf_reserve(buf *b, size_t extra)
{
    if (b->oom)
        return -1;
    if (extra <= b->cap - b->len)
        return 0;
    if (extra > SIZE_MAX / 2 - b->len) {
        b->oom = 1;
        return -1;
    }
    size_t cap = b->cap ? b->cap : 64;
    while (cap - b->len < extra)
        cap *= 2;
    uint8_t *p = realloc(b->data, cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

void buf_append_grow(buf *b, const void *p, size_t n)
{
    if (n == 0 || buf_reserve(b, n) != 0)
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void buf_put32(buf *b, uint32_t v)
{
    uint8_t t[4];
    put_le32(t, v);
    buf_append(b, t, 4);
}

void buf_put64(buf *b, uint64_t v)
{
    uint8_t t[8];
    put_le64(t, v);
    buf_append(b, t, 8);
}

void buf_printf(buf *b, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n >= 0 && buf_reserve(b, (size_t)n + 1) == 0) {
        vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap2);
        b->len += (size_t)n;
    }
    va_end(ap2);
}

void buf_free(buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

void *xcalloc(size_t n, size_t size)
{
    return calloc(n ? n : 1, size ? size : 1);
}

void *xreallocarray(void *p, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    size_t total = n * size;
    return realloc(p, total ? total : 1);
}

char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

int file_read_all(const char *path, uint8_t **data, size_t *len, aotb_diag *d)
{
    int fd = strcmp(path, "-") == 0 ? 0 : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        diag_add(d, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    int have_st = fstat(fd, &st) == 0;
    if (have_st && S_ISDIR(st.st_mode)) {
        diag_add(d, "%s: is a directory", path);
        if (fd)
            close(fd);
        return -1;
    }
    buf b = {0};
    /* A regular file's size is known: one allocation, no regrowing (the
     * loop still reads until end of file, should the file grow). */
    if (have_st && S_ISREG(st.st_mode) && st.st_size > 0 &&
        (uint64_t)st.st_size < SIZE_MAX / 2 &&
        buf_reserve(&b, (size_t)st.st_size + 1) != 0) {
        diag_add(d, "%s: out of memory", path);
        goto fail;
    }
    for (;;) {
        if (b.cap - b.len < 2 && buf_reserve(&b, 65536) != 0) {
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
    if (fd)
        close(fd);
    b.data[b.len] = 0;
    *data = b.data;
    *len = b.len;
    return 0;
fail:
    if (fd)
        close(fd);
    buf_free(&b);
    return -1;
}

int file_map(const char *path, file_view *v, aotb_diag *d)
{
    memset(v, 0, sizeof *v);
    if (strcmp(path, "-") != 0) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            diag_add(d, "%s: cannot open: %s", path, strerror(errno));
            return -1;
        }
        struct stat st;
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
            (uint64_t)st.st_size < SIZE_MAX / 2) {
            void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE,
                           fd, 0);
            close(fd);
            if (p != MAP_FAILED) {
                v->data = p;
                v->len = (size_t)st.st_size;
                v->mapped = 1;
                return 0;
            }
        } else {
            close(fd);
        }
    }
    uint8_t *data;
    if (file_read_all(path, &data, &v->len, d) != 0)
        return -1;
    v->data = data;
    return 0;
}

void file_unmap(file_view *v)
{
    if (v->mapped)
        munmap((void *)(uintptr_t)v->data, v->len);
    else
        free((void *)(uintptr_t)v->data);
    memset(v, 0, sizeof *v);
}

int file_write_iov(int fd, const struct iovec *iov, int n)
{
    struct iovec part[64];
    int i = 0;
    size_t done = 0;            /* bytes of iov[i] already written */
    while (i < n) {
        int k = 0;
        for (int j = i; j < n && k < (int)(sizeof part / sizeof *part); j++) {
            size_t skip = j == i ? done : 0;
            part[k].iov_base = (uint8_t *)iov[j].iov_base + skip;
            part[k].iov_len = iov[j].iov_len - skip;
            k++;
        }
        ssize_t w = writev(fd, part, k);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        size_t left = (size_t)w;
        while (i < n && left >= iov[i].iov_len - done) {
            left -= iov[i].iov_len - done;
            done = 0;
            i++;
        }
        done += left;
    }
    return 0;
}

int file_tmp_open(const char *path, char **tmp, aotb_diag *d)
{
    size_t n = strlen(path);
    *tmp = malloc(n + 16);
    if (!*tmp) {
        diag_add(d, "%s: out of memory", path);
        return -1;
    }
    memcpy(*tmp, path, n);
    memcpy(*tmp + n, ".tmp.XXXXXX", 12);
    int fd = mkostemp(*tmp, O_CLOEXEC);
    if (fd < 0) {
        diag_add(d, "%s: cannot create temporary file: %s", path, strerror(errno));
        free(*tmp);
        *tmp = NULL;
    }
    return fd;
}

void file_tmp_abort(int fd, char *tmp)
{
    close(fd);
    unlink(tmp);
    free(tmp);
}

/* file_tmp_commit, and for a cache (drop_old) the old file removed just
 * before the rename: ext4 takes a rename over an existing file as its cue
 * to write the new file's data out at once (auto_da_alloc), about 1 ms for
 * a file of 800 KB, while a rename onto no file leaves that to writeback.
 * A crash in between leaves no cache, which only costs work. */
static int tmp_commit(int fd, char *tmp, const char *path, int sync,
                      int drop_old, aotb_diag *d)
{
    if (fchmod(fd, 0644) != 0 || (sync && fsync(fd) != 0)) {
        diag_add(d, "%s: cannot write: %s", path, strerror(errno));
        file_tmp_abort(fd, tmp);
        return -1;
    }
    if (close(fd) != 0) {
        diag_add(d, "%s: cannot write: %s", path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    if (drop_old)
        (void)unlink(path);
    if (rename(tmp, path) != 0) {
        diag_add(d, "%s: cannot rename into place: %s", path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}

int file_tmp_commit(int fd, char *tmp, const char *path, int sync,
                    aotb_diag *d)
{
    return tmp_commit(fd, tmp, path, sync, 0, d);
}

/* sync: fsync before the rename; cache: see tmp_commit. */
static int write_atomic(const char *path, const void *data, size_t len,
                        int sync, int cache, aotb_diag *d)
{
    char *tmp;
    int fd = file_tmp_open(path, &tmp, d);
    if (fd < 0)
        return -1;
    struct iovec v = {(void *)(uintptr_t)data, len};
    if (file_write_iov(fd, &v, 1) != 0) {
        diag_add(d, "%s: cannot write: %s", path, strerror(errno));
        file_tmp_abort(fd, tmp);
        return -1;
    }
    return tmp_commit(fd, tmp, path, sync, cache, d);
}

int file_write_atomic(const char *path, const void *data, size_t len,
                      aotb_diag *d)
{
    return write_atomic(path, data, len, 1, 0, d);
}

int file_write_cache(const char *path, const void *data, size_t len,
                     aotb_diag *d)
{
    return write_atomic(path, data, len, 0, 1, d);
}

int file_identity(const char *path, char out[FILE_ID_MAX])
{
    struct stat st;
    out[0] = '\0';
    if (stat(path, &st) != 0)
        return -1;
    snprintf(out, FILE_ID_MAX, "%jx:%jx:%jx:%jd.%09ld", (uintmax_t)st.st_dev,
             (uintmax_t)st.st_ino, (uintmax_t)st.st_size,
             (intmax_t)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec);
    return 0;
}

static int write_if_changed(const char *path, const void *data, size_t len,
                            int cache, aotb_diag *d)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        struct stat st;
        int same = 0;
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
            (uint64_t)st.st_size == (uint64_t)len) {
            uint8_t tmp[65536];
            size_t off = 0;
            same = 1;
            while (off < len) {
                ssize_t r = read(fd, tmp, sizeof tmp);
                if (r <= 0 || memcmp(tmp, (const uint8_t *)data + off, (size_t)r) != 0) {
                    same = 0;
                    break;
                }
                off += (size_t)r;
            }
        }
        close(fd);
        if (same)
            return 0;
    }
    /* No fsync here: these are build intermediates (per-block files,
     * objects, build.ninja) that a build tool recreates; rename still makes
     * them appear whole or not at all.  The image is synced. */
    return write_atomic(path, data, len, 0, cache, d) == 0 ? 1 : -1;
}

int file_write_if_changed(const char *path, const void *data, size_t len,
                          aotb_diag *d)
{
    return write_if_changed(path, data, len, 0, d);
}

int file_write_cache_if_changed(const char *path, const void *data,
                                size_t len, aotb_diag *d)
{
    return write_if_changed(path, data, len, 1, d);
}

int file_mkdirs(const char *path, aotb_diag *d)
{
    char tmp[PATH_MAX];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof tmp) {
        diag_add(d, "%s: bad directory name", path);
        return -1;
    }
    memcpy(tmp, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] == '/' || tmp[i] == '\0') {
            char c = tmp[i];
            tmp[i] = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST) {
                diag_add(d, "%s: cannot create directory: %s", tmp, strerror(errno));
                return -1;
            }
            tmp[i] = c;
        }
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        diag_add(d, "%s: not a directory", path);
        return -1;
    }
    return 0;
}

int file_lock(const char *path, int timeout_ms, aotb_diag *d)
{
    size_t n = strlen(path);
    char *lp = malloc(n + 8);
    if (!lp) {
        diag_add(d, "%s: out of memory", path);
        return -1;
    }
    memcpy(lp, path, n);
    memcpy(lp + n, ".lock", 6);
    int fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        diag_add(d, "%s: cannot create lock file: %s", lp, strerror(errno));
        free(lp);
        return -1;
    }
    struct timespec nap = {0, 10 * 1000 * 1000};
    for (int waited = 0;; waited += 10) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            break;
        if (errno != EWOULDBLOCK && errno != EINTR) {
            diag_add(d, "%s: cannot lock: %s", lp, strerror(errno));
            goto fail;
        }
        if (timeout_ms >= 0 && waited >= timeout_ms) {
            diag_add(d, "%s is being written by another process (lock %s)",
                     path, lp);
            goto fail;
        }
        nanosleep(&nap, NULL);
    }
    /* Every writer of path holds this lock while its temporary exists, so
     * a PATH.tmp.* seen now was left by a writer that was killed. */
    memcpy(lp + n, ".tmp.*", 7);
    glob_t g;
    if (glob(lp, GLOB_NOSORT, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; i++)
            unlink(g.gl_pathv[i]);
        globfree(&g);
    }
    free(lp);
    return fd;
fail:
    close(fd);
    free(lp);
    return -1;
}

void file_unlock(int fd)
{
    if (fd >= 0)
        close(fd);
}
