/* util.h: diagnostics, growable byte buffers and file access shared by every
 * module.  Functions return 0 (or a pointer) on success and add a message to
 * an aotb_diag on failure; nothing here prints or exits on its own. */
#ifndef AOTB_UTIL_H
#define AOTB_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__)
#define AOTB_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define AOTB_PRINTF(f, a)
#endif

/* A list of error messages, each one line ending in '\n'.  Collect as many as
 * make sense (a parser reports every error it can find) and print them once. */
typedef struct aotb_diag {
    char *text;   /* NUL-terminated concatenation of messages, or NULL */
    size_t len, cap;
    int count;    /* number of messages */
} aotb_diag;

/* Appends one message (a '\n' is added).  Never fails: on allocation failure
 * the message is dropped but count still increases. */
void diag_add(aotb_diag *d, const char *fmt, ...) AOTB_PRINTF(2, 3);
void diag_vadd(aotb_diag *d, const char *fmt, va_list ap);
/* GCC style located error: "FILE:LINE:COL: error: MESSAGE". */
void diag_at(aotb_diag *d, const char *file, unsigned line, unsigned col,
             const char *fmt, ...) AOTB_PRINTF(5, 6);
/* The messages so far, or "" if none. */
const char *diag_text(const aotb_diag *d);
/* The messages as one malloc'd string without the final newline (NULL if
 * out of memory); d is freed.  For APIs that hand errors to their caller. */
char *diag_take(aotb_diag *d);
void diag_clear(aotb_diag *d);
void diag_free(aotb_diag *d);

/* Growable byte buffer. */
typedef struct buf {
    uint8_t *data;
    size_t len, cap;
    int oom;      /* set once an allocation failed; later appends are no-ops */
} buf;

int buf_reserve(buf *b, size_t extra);          /* 0 ok, -1 out of memory */
/* buf_append when the bytes do not fit (grows the buffer). */
void buf_append_grow(buf *b, const void *p, size_t n);
/* Appends n bytes: a copy when they fit (the code generator's and the
 * linker's hot path), else buf_append_grow. */
static inline void buf_append(buf *b, const void *p, size_t n)
{
    if (n != 0 && !b->oom && n <= b->cap - b->len) {
        memcpy(b->data + b->len, p, n);
        b->len += n;
    } else {
        buf_append_grow(b, p, n);
    }
}
static inline void buf_put8(buf *b, uint8_t v)
{
    buf_append(b, &v, 1);
}
void buf_put32(buf *b, uint32_t v);             /* little-endian */
void buf_put64(buf *b, uint64_t v);             /* little-endian */
void buf_printf(buf *b, const char *fmt, ...) AOTB_PRINTF(2, 3);
void buf_free(buf *b);

/* Binary search of ascending v[0..n) for key: 1 and its index in *at, or 0
 * and the index where it would go. */
static inline int u64_search(const uint64_t *v, size_t n, uint64_t key,
                             size_t *at)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] == key) {
            *at = mid;
            return 1;
        }
        if (v[mid] < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    *at = lo;
    return 0;
}

static inline uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}
static inline uint64_t get_le64(const uint8_t *p)
{
    return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}
static inline void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline void put_le64(uint8_t *p, uint64_t v)
{
    put_le32(p, (uint32_t)v);
    put_le32(p + 4, (uint32_t)(v >> 32));
}

/* Reads a whole file.  *data is malloc'd and NUL-terminated (not counted in
 * *len).  Returns 0, or -1 with "PATH: reason" added to d. */
int file_read_all(const char *path, uint8_t **data, size_t *len, aotb_diag *d);

/* A file's bytes, mapped read-only (a regular, non-empty file) or read
 * into memory (anything else: standard input "-", pipes, empty files).
 * Mapping spares the copy and the fresh pages of a big file; the file must
 * then not be truncated or rewritten in place while the view is open (aotb
 * only ever replaces files by rename). */
typedef struct file_view {
    const uint8_t *data;      /* NUL-terminated when read, not when mapped */
    size_t len;
    int mapped;
} file_view;
/* 0, or -1 with "PATH: reason" added to d. */
int file_map(const char *path, file_view *v, aotb_diag *d);
void file_unmap(file_view *v);

/* Writes data to a temporary file in the target's directory, fsyncs it and
 * renames it over path.  On any failure the temporary is removed, the old file
 * is left untouched, and -1 is returned with a message. */
int file_write_atomic(const char *path, const void *data, size_t len,
                      aotb_diag *d);

/* file_write_atomic's steps, for a writer that writes the bytes itself:
 * file_tmp_open creates the temporary PATH.tmp.XXXXXX (its name in *tmp,
 * malloc'd) and returns its descriptor (or -1 + message); file_tmp_commit
 * fsyncs it (if sync) and renames it over path (0, or -1 + message, the
 * temporary then removed); file_tmp_abort removes it.  Both close fd and
 * free tmp. */
int file_tmp_open(const char *path, char **tmp, aotb_diag *d);
int file_tmp_commit(int fd, char *tmp, const char *path, int sync,
                    aotb_diag *d);
void file_tmp_abort(int fd, char *tmp);

/* Writes every byte of iov[0..n) (n >= 0; the entries are not changed) to
 * fd at its offset, one after the other, with writev: large pieces need not
 * be copied into one buffer.  0, or -1 with errno set.  The one writer of
 * file_write_atomic and its kin and of the image (img_link_fd). */
struct iovec;
int file_write_iov(int fd, const struct iovec *iov, int n);

/* file_write_atomic without the fsync, for caches that are checked when
 * read (a stale or lost one costs work, never a wrong result): the file
 * still appears whole or not at all.  The old file is removed just before
 * the rename (ext4 would write the new file out at once on a rename over
 * it), so a crash may leave none. */
int file_write_cache(const char *path, const void *data, size_t len,
                     aotb_diag *d);

/* Like file_write_atomic (without the fsync: for build intermediates that a
 * build tool can recreate), but when path already holds exactly these bytes
 * it is left alone (mtime kept).  Returns 1 if written, 0 if unchanged, -1 on
 * error. */
int file_write_if_changed(const char *path, const void *data, size_t len,
                          aotb_diag *d);
/* file_write_if_changed for a cache: when written, written as by
 * file_write_cache. */
int file_write_cache_if_changed(const char *path, const void *data,
                                size_t len, aotb_diag *d);

/* Takes an exclusive advisory lock (flock) on the file "PATH.lock", creating
 * it, so two processes never write the same PATH at once.  Waits up to
 * timeout_ms (0: do not wait; negative: wait forever).  Returns the lock's
 * file descriptor, or -1 + "PATH is being written by another process (lock
 * PATH.lock)" or the system error.  Once the lock is held, temporaries
 * PATH.tmp.* that a killed writer left behind are removed (every writer of
 * PATH holds the lock while its temporary exists). */
int file_lock(const char *path, int timeout_ms, aotb_diag *d);
/* Releases a lock from file_lock (the lock file itself stays). */
void file_unlock(int fd);

/* A file's identity as text, "DEV:INODE:SIZE:MTIME" (hex, hex, hex,
 * seconds.nanoseconds): it changes whenever the file is replaced or
 * rewritten.  0, or -1 (out[0] = NUL) when the file cannot be stat'ed. */
#define FILE_ID_MAX 96
int file_identity(const char *path, char out[FILE_ID_MAX]);

/* Creates a directory and its parents (like mkdir -p).  0 or -1 + message. */
int file_mkdirs(const char *path, aotb_diag *d);

/* xmalloc-style helpers return NULL on overflow or out of memory. */
void *xcalloc(size_t n, size_t size);
void *xreallocarray(void *p, size_t n, size_t size);
char *xstrdup(const char *s);

#endif
