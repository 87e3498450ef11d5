/* linkstate.h: the link-state sidecar IMAGE.linkstate (man/aotb-image.5).
 *
 * aotb link records, for every block object an image was linked from, the
 * object's path as given, its size, mtime, ctime, inode and device and the
 * block pc (and CPU features) it provided, together with the image's root
 * checksum (the meta object, and objects too new to trust, get a record
 * that says "read always", so that lookups in link order keep hitting).
 * The next link of the same image takes every object whose file status
 * still matches from the old image instead of opening it: relinking after
 * one change then costs a stat per object, not a parse per object.
 *
 * The sidecar is only a cache.  A missing, unreadable, damaged or
 * other-version file, or one whose root checksum is not the image's, reads
 * as empty (every object is read), never as an error. */
#ifndef AOTB_LINKSTATE_H
#define AOTB_LINKSTATE_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"
#include "util.h"

/* The first 16 bytes of the file: the format and its version. */
#define LS_SIGNATURE "aotb-linkstate 2"
#define LS_SIGNATURE_LEN 16
#define LS_SUFFIX ".linkstate"
#define LS_HEADER_SIZE 48
#define LS_RECORD_SIZE 56
#define LS_MAX_PATH 65535     /* longer paths are not recorded */
#define LS_READ_ALWAYS 1u     /* ls_entry.flags: an object that is always
                                 read (the meta object), recorded only so
                                 that lookups in link order keep hitting */

/* What stat says about an object file. */
typedef struct ls_stat {
    uint64_t size, ino, dev;
    int64_t mtime_ns, ctime_ns;
} ls_stat;

typedef struct ls_entry {
    const char *path;     /* borrowed: see ls_add, ls_parse */
    ls_stat st;
    uint64_t pc;
    uint32_t features;
    uint16_t flags;       /* LS_READ_ALWAYS */
} ls_entry;

typedef struct linkstate {
    uint8_t root[IMG_SUM_SIZE];
    ls_entry *v;
    size_t n, cap;
    size_t *by_path;      /* indices of v sorted by path, built by ls_find
                             on its first miss */
    size_t cursor;        /* ls_find tries the entry after its last hit */
    char *text;           /* ls_parse: the file's bytes, which the paths
                             point into */
} linkstate;

/* "IMAGE.linkstate", malloc'd (NULL: out of memory). */
char *ls_sidecar_path(const char *image);

/* stat(2) of path into *out; 0, or -1 (no message: the caller reads the
 * file and reports what is wrong with it). */
int ls_stat_file(const char *path, ls_stat *out);

/* ls_stat_file for each of n paths (ok[i]: 1 if st[i] is set). */
void ls_stat_files(const char *const *paths, size_t n, ls_stat *st,
                   unsigned char *ok);

/* ls_stat_files in the background, so that the caller can do other work
 * meanwhile: up to LS_STAT_THREADS threads (one per LS_STAT_MIN_PART
 * paths, at most one per CPU) take slices of LS_STAT_SLICE paths in turn,
 * and ls_stat_wait takes what is left alongside them, because on a
 * relink of thousands of objects these stats are most of the time and
 * the kernel runs them in parallel.  paths, st and ok must stay valid and
 * untouched until ls_stat_wait, which every start must be paired with.
 * Returns the job, or NULL when it did the stats at once (out of memory);
 * with no thread started, ls_stat_wait does them all. */
typedef struct ls_stat_job ls_stat_job;
#define LS_STAT_THREADS 4
#define LS_STAT_MIN_PART 256   /* a thread for 256 stats already gains */
#define LS_STAT_SLICE 256
ls_stat_job *ls_stat_start(const char *const *paths, size_t n, ls_stat *st,
                           unsigned char *ok);
/* Waits for the job's stats (NULL: nothing to wait for) and frees it. */
void ls_stat_wait(ls_stat_job *job);

/* file_read_all (same messages) that also gives the status of the file
 * it read, from fstat of the open file before reading (*have_st: 0 if not
 * a regular file): if the file changes while it is read, the status is
 * the older one, so the next link reads it again. */
int ls_read_file(const char *path, uint8_t **data, size_t *len,
                 ls_stat *st, int *have_st, aotb_diag *d);

/* Removes SIDECAR.tmp.* left by a writer that was killed.  Only call it
 * holding the image's file_lock (every writer of the sidecar holds it while
 * its temporary exists), as file_lock does for the image's own. */
void ls_remove_stale(const char *sidecar);

/* Now, in ns since the epoch, for ls_is_racy. */
int64_t ls_now_ns(void);

/* A file modified within the file system's timestamp granularity of
 * `now' could be modified again with the same mtime: such entries are not
 * recorded (the next link reads the object again). */
int ls_is_racy(const ls_stat *st, int64_t now_ns);

/* Parses sidecar bytes (data: len bytes, malloc'd, as from file_read_all;
 * out takes it over, even on failure).  Returns 0 and fills *out only if
 * the signature (so the version), the sizes, the file's checksum, every
 * record and the root checksum (equal to root) are right; otherwise -1 and
 * *out is empty.  Never adds messages. */
int ls_parse(uint8_t *data, size_t len, const uint8_t root[IMG_SUM_SIZE],
             linkstate *out);

/* Reads and parses the sidecar at path (ls_parse's rules). */
int ls_load(const char *path, const uint8_t root[IMG_SUM_SIZE],
            linkstate *out);

/* The entry for this object path, or NULL.  Fast when asked in the order
 * of the entries (a link's objects come in the same order every time). */
const ls_entry *ls_find(linkstate *ls, const char *path);

/* Appends an entry.  path is not copied: it must outlive ls.  Empty paths,
 * paths with a newline and paths longer than LS_MAX_PATH are skipped.  0,
 * or -1 on out of memory. */
int ls_add(linkstate *ls, const char *path, const ls_stat *st, uint64_t pc,
           uint32_t features);

/* Appends an LS_READ_ALWAYS entry (no status, pc or features) for an
 * object that is read on every link, as ls_add. */
int ls_add_read_always(linkstate *ls, const char *path);

/* The sidecar's bytes for ls (its root and entries in order). */
void ls_format(const linkstate *ls, buf *out);

void ls_free(linkstate *ls);

#endif
