/* test_linkstate.c: the link-state sidecar (elfimage/linkstate.c): format
 * and parse round trip, every rejection, lookups, the racy-entry rule,
 * stat, alone and of many paths in parallel; and the link side: img_block_obj gives back the objects an image
 * was linked from, and a link that takes unchanged objects from the old
 * image (img_link_opts.from_old) writes the same bytes as one given every
 * object. */
#include <elf.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "image.h"
#include "linkstate.h"
#include "testutil.h"

static const uint8_t root_a[IMG_SUM_SIZE] = {
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
    0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};

/* ls_parse takes a malloc'd copy. */
static int parse_bytes(const uint8_t *bytes, size_t len,
                       const uint8_t root[IMG_SUM_SIZE], linkstate *out)
{
    uint8_t *copy = malloc(len + 1);
    memcpy(copy, bytes, len);
    copy[len] = 0;
    return ls_parse(copy, len, root, out);
}

/* Recomputes the trailing checksum of sidecar bytes (for well-formed
 * files with a bad record). */
static void resum(uint8_t *p, size_t len)
{
    img_sum(p, len - IMG_SUM_SIZE, p + len - IMG_SUM_SIZE);
}

static void two_entries(linkstate *a)
{
    static const ls_stat s1 = {1120, 42, 65024, 1795608190690445324LL,
                               1795608190690445999LL};
    static const ls_stat s2 = {0, UINT64_MAX, 0, -5, 0};
    memset(a, 0, sizeof *a);
    memcpy(a->root, root_a, IMG_SUM_SIZE);
    CU_ASSERT_EQUAL(ls_add(a, "obj/0000000000001000.o", &s1, 0x1000, 1), 0);
    CU_ASSERT_EQUAL(ls_add(a, "dir with spaces/x y.o", &s2, UINT64_MAX, 0xffffffffu), 0);
    CU_ASSERT_EQUAL(ls_add(a, "new\nline.o", &s1, 0x2000, 1), 0);   /* skipped */
    CU_ASSERT_EQUAL(ls_add(a, "", &s1, 0x2000, 1), 0);              /* skipped */
    CU_ASSERT_EQUAL(ls_add_read_always(a, "obj/meta.o"), 0);
    CU_ASSERT_EQUAL(a->n, 3);
}

static void test_round_trip(void)
{
    linkstate a, b;
    two_entries(&a);
    buf t = {0};
    ls_format(&a, &t);
    /* The layout, field by field from the format in linkstate.c. */
    size_t plen = strlen("obj/0000000000001000.o") + 1 +
                  strlen("dir with spaces/x y.o") + 1 + strlen("obj/meta.o") + 1;
    CU_ASSERT_EQUAL_FATAL(t.len, 48 + 3 * 56 + plen + 16);
    CU_ASSERT(memcmp(t.data, "aotb-linkstate 2", 16) == 0);
    CU_ASSERT(memcmp(t.data + 16, root_a, 16) == 0);
    CU_ASSERT_EQUAL(get_le64(t.data + 32), 3);
    CU_ASSERT_EQUAL(get_le64(t.data + 40), plen);
    const uint8_t *r = t.data + 48;
    CU_ASSERT_EQUAL(get_le64(r), 0x1000);
    CU_ASSERT_EQUAL(get_le64(r + 8), 1120);
    CU_ASSERT_EQUAL(get_le64(r + 16), 1795608190690445324ULL);
    CU_ASSERT_EQUAL(get_le64(r + 24), 1795608190690445999ULL);
    CU_ASSERT_EQUAL(get_le64(r + 32), 42);
    CU_ASSERT_EQUAL(get_le64(r + 40), 65024);
    CU_ASSERT_EQUAL(get_le32(r + 48), 1);
    CU_ASSERT(r[52] == 22 && r[53] == 0 && r[54] == 0 && r[55] == 0);
    CU_ASSERT(r[56 + 56 + 52] == 10 && r[56 + 56 + 54] == LS_READ_ALWAYS);
    CU_ASSERT(memcmp(t.data + 48 + 3 * 56, "obj/0000000000001000.o\0dir", 26) == 0);
    uint8_t sum[IMG_SUM_SIZE];
    img_sum(t.data, t.len - 16, sum);
    CU_ASSERT(memcmp(t.data + t.len - 16, sum, 16) == 0);

    CU_ASSERT_EQUAL_FATAL(parse_bytes(t.data, t.len, root_a, &b), 0);
    CU_ASSERT_EQUAL_FATAL(b.n, 3);
    CU_ASSERT(memcmp(b.root, root_a, IMG_SUM_SIZE) == 0);
    const ls_entry *e = ls_find(&b, "dir with spaces/x y.o");
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_EQUAL(e->pc, UINT64_MAX);
    CU_ASSERT_EQUAL(e->features, 0xffffffffu);
    CU_ASSERT_EQUAL(e->st.ino, UINT64_MAX);
    CU_ASSERT_EQUAL(e->st.mtime_ns, -5);
    CU_ASSERT_EQUAL(e->flags, 0);
    e = ls_find(&b, "obj/0000000000001000.o");
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_EQUAL(e->pc, 0x1000);
    CU_ASSERT_EQUAL(e->st.size, 1120);
    CU_ASSERT_EQUAL(e->st.mtime_ns, 1795608190690445324LL);
    CU_ASSERT_EQUAL(e->st.ctime_ns, 1795608190690445999LL);
    CU_ASSERT_EQUAL(e->st.dev, 65024);
    e = ls_find(&b, "obj/meta.o");
    CU_ASSERT(e && e->flags == LS_READ_ALWAYS);
    CU_ASSERT_PTR_NULL(ls_find(&b, "obj/0000000000001000"));
    CU_ASSERT_PTR_NULL(ls_find(&b, "new\nline.o"));
    /* Formatting what was parsed gives the same bytes. */
    buf t2 = {0};
    ls_format(&b, &t2);
    CU_ASSERT(t2.len == t.len && memcmp(t2.data, t.data, t.len) == 0);
    buf_free(&t2);
    /* No entries at all. */
    linkstate z = {0};
    memcpy(z.root, root_a, IMG_SUM_SIZE);
    ls_format(&z, &t2);
    CU_ASSERT_EQUAL(t2.len, 48 + 16);
    CU_ASSERT_EQUAL(parse_bytes(t2.data, t2.len, root_a, &z), 0);
    CU_ASSERT_EQUAL(z.n, 0);
    ls_free(&z);
    buf_free(&t2);
    buf_free(&t);
    ls_free(&b);
    ls_free(&a);
}

/* The bytes of two_entries' sidecar, malloc'd. */
static uint8_t *good_bytes(size_t *len)
{
    linkstate a;
    two_entries(&a);
    buf t = {0};
    ls_format(&a, &t);
    ls_free(&a);
    *len = t.len;
    return t.data;
}

static void expect_rejected(const uint8_t *p, size_t len, const char *what)
{
    linkstate ls;
    int rc = parse_bytes(p, len, root_a, &ls);
    if (rc == 0)
        printf("accepted: %s\n", what);
    CU_ASSERT_EQUAL(rc, -1);
    CU_ASSERT_EQUAL(ls.n, 0);
    CU_ASSERT_PTR_NULL(ls.v);
}

static void test_rejects(void)
{
    size_t len;
    uint8_t *g = good_bytes(&len);
    linkstate ls;
    CU_ASSERT_EQUAL(parse_bytes(g, len, root_a, &ls), 0);
    ls_free(&ls);
    /* Every truncation, and one byte more. */
    for (size_t k = 0; k < len; k++)
        expect_rejected(g, k, "truncated");
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, g, len);
    longer[len] = 0;
    expect_rejected(longer, len + 1, "a byte appended");
    free(longer);
    /* Any flipped bit: the checksum (or the size, signature, root). */
    for (size_t k = 0; k < len; k++)
        for (int bit = 0; bit < 8; bit += 3) {
            g[k] ^= (uint8_t)(1u << bit);
            expect_rejected(g, len, "bit flipped");
            g[k] ^= (uint8_t)(1u << bit);
        }
    /* Another image's root (the file is otherwise right). */
    uint8_t other[IMG_SUM_SIZE];
    memcpy(other, root_a, IMG_SUM_SIZE);
    other[15] ^= 1;
    CU_ASSERT_EQUAL(parse_bytes(g, len, other, &ls), -1);
    CU_ASSERT_EQUAL(ls.n, 0);
    /* Other versions, with the checksum right. */
    static const char *const sigs[] = {"aotb-linkstate 1", "aotb-linkstate 3",
                                       "aotb-linkstate 0", "AOTB-LINKSTATE 2"};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
        memcpy(g, sigs[i], 16);
        resum(g, len);
        expect_rejected(g, len, sigs[i]);
    }
    memcpy(g, LS_SIGNATURE, 16);
    resum(g, len);
    CU_ASSERT_EQUAL(parse_bytes(g, len, root_a, &ls), 0);
    ls_free(&ls);
    /* Well-formed checksums over bad records (what a writer bug would
     * leave).  Record 0's path length (22) at 48 + 52, its path at
     * 48 + 3 * 56. */
    size_t rec0 = 48, path0 = 48 + 3 * 56;
    struct { size_t at; uint8_t v; const char *what; } bad[] = {
        {rec0 + 52, 0, "empty path"},
        {rec0 + 52, 21, "path length short (no NUL after it)"},
        {rec0 + 52, 23, "path length long"},
        {rec0 + 53, 1, "path length past the end"},
        {rec0 + 54, 2, "unknown flag"},
        {rec0 + 55, 0x80, "unknown flag (high byte)"},
        {path0 + 3, 0, "NUL inside a path"},
        {path0 + 3, '\n', "newline inside a path"},
        {32, 4, "more records than the file holds"},
        {32, 2, "fewer records than the paths"},
        {39, 0x80, "huge record count"},
        {40, 1, "paths size wrong"},
        {47, 0x40, "huge paths size"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        uint8_t keep = g[bad[i].at];
        g[bad[i].at] = bad[i].v;
        resum(g, len);
        expect_rejected(g, len, bad[i].what);
        g[bad[i].at] = keep;
    }
    resum(g, len);
    CU_ASSERT_EQUAL(parse_bytes(g, len, root_a, &ls), 0);
    ls_free(&ls);
    free(g);
    /* A version 1 (text) file. */
    const char *v1 = "aotb-linkstate 1\nroot 00112233445566778899aabbccddeeff\n"
                     "1000 1 1 5 6 42 1 a.o\n";
    expect_rejected((const uint8_t *)v1, strlen(v1), "version 1 text");
    expect_rejected((const uint8_t *)"", 0, "empty");
    /* Missing file. */
    CU_ASSERT_EQUAL(ls_load("/nonexistent/x.linkstate", root_a, &ls), -1);
    CU_ASSERT_EQUAL(ls.n, 0);
}

static void test_find_order(void)
{
    linkstate ls = {0};
    ls_stat s = {1, 2, 3, 4, 5};
    char names[50][16];
    for (int i = 0; i < 50; i++) {
        snprintf(names[i], sizeof names[i], "o%02d.o", 49 - i);  /* descending */
        ls_add(&ls, names[i], &s, (uint64_t)i, 0);
    }
    /* In order (the fast path), then out of order, then after a miss. */
    for (int i = 0; i < 50; i++) {
        const ls_entry *e = ls_find(&ls, names[i]);
        CU_ASSERT(e && e->pc == (uint64_t)i);
    }
    for (int i = 0; i < 50; i += 7) {
        const ls_entry *e = ls_find(&ls, names[(i * 13) % 50]);
        CU_ASSERT(e && e->pc == (uint64_t)((i * 13) % 50));
    }
    CU_ASSERT_PTR_NULL(ls_find(&ls, "o50.o"));
    CU_ASSERT_PTR_NULL(ls_find(&ls, ""));
    const ls_entry *e = ls_find(&ls, names[10]);
    CU_ASSERT(e && e->pc == 10);
    e = ls_find(&ls, names[11]);
    CU_ASSERT(e && e->pc == 11);
    ls_free(&ls);
}

static void test_racy_and_stat(void)
{
    int64_t now = 2000000000LL * 1000000000LL + 500000000LL;
    ls_stat s = {0, 0, 0, now - 1000000000LL + 1, now - 1000000000LL + 1};
    CU_ASSERT_FALSE(ls_is_racy(&s, now));          /* a second ago */
    s.mtime_ns = now - 1000000;                     /* 1 ms ago */
    CU_ASSERT_TRUE(ls_is_racy(&s, now));
    s.mtime_ns = now - 1000000000LL + 1;
    s.ctime_ns = now;                               /* ctime counts too */
    CU_ASSERT_TRUE(ls_is_racy(&s, now));
    /* Whole-second timestamps: a file system with coarse times. */
    s.mtime_ns = s.ctime_ns = 1999999999LL * 1000000000LL;   /* 1.5 s ago */
    CU_ASSERT_TRUE(ls_is_racy(&s, now));
    s.mtime_ns = s.ctime_ns = 1999999997LL * 1000000000LL;   /* 3.5 s ago */
    CU_ASSERT_FALSE(ls_is_racy(&s, now));
    CU_ASSERT_TRUE(ls_now_ns() > 1700000000LL * 1000000000LL);

    char path[512];
    snprintf(path, sizeof path, "%s/f.o", tu_tmpdir());
    FILE *f = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fwrite("12345", 1, 5, f);
    fclose(f);
    struct stat st;
    CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
    ls_stat a;
    CU_ASSERT_EQUAL(ls_stat_file(path, &a), 0);
    CU_ASSERT_EQUAL(a.size, 5);
    CU_ASSERT_EQUAL(a.ino, (uint64_t)st.st_ino);
    CU_ASSERT_EQUAL(a.mtime_ns, (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec);
    /* ls_read_file: the bytes and the same status. */
    uint8_t *data = NULL;
    size_t len = 0;
    ls_stat b;
    int have = 0;
    aotb_diag d = {0};
    CU_ASSERT_EQUAL(ls_read_file(path, &data, &len, &b, &have, &d), 0);
    CU_ASSERT(len == 5 && data && memcmp(data, "12345", 6) == 0);
    CU_ASSERT(have && b.size == a.size && b.ino == a.ino && b.dev == a.dev &&
              b.mtime_ns == a.mtime_ns && b.ctime_ns == a.ctime_ns);
    free(data);
    CU_ASSERT_EQUAL(ls_read_file(tu_tmpdir(), &data, &len, &b, &have, &d), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(diag_text(&d), "is a directory"));
    CU_ASSERT_EQUAL(have, 0);
    diag_free(&d);
    CU_ASSERT_EQUAL(ls_stat_file(tu_tmpdir(), &a), -1);         /* a directory */
    snprintf(path, sizeof path, "%s/missing.o", tu_tmpdir());
    CU_ASSERT_EQUAL(ls_stat_file(path, &a), -1);
    CU_ASSERT_EQUAL(ls_read_file(path, &data, &len, &b, &have, &d), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(diag_text(&d), "missing.o: cannot open:"));
    diag_free(&d);
    char *sc = ls_sidecar_path("x/p.aot");
    CU_ASSERT_STRING_EQUAL(sc, "x/p.aot.linkstate");
    free(sc);
}

/* ls_stat_start splits the paths between threads, each with its own
 * directory descriptor: every path must get what stat by path gives, in
 * its own slot, whichever share it falls in and however the directories
 * alternate.  The sizes are also checked against what was written. */
static void test_stat_many(void)
{
    enum { N = 3 * LS_STAT_MIN_PART + 7 };
    char dir[2][512];
    for (int k = 0; k < 2; k++) {
        snprintf(dir[k], sizeof dir[k], "%s/d%d", tu_tmpdir(), k);
        CU_ASSERT_EQUAL_FATAL(mkdir(dir[k], 0755), 0);
    }
    char **paths = calloc(N, sizeof *paths);
    CU_ASSERT_PTR_NOT_NULL_FATAL(paths);
    for (size_t i = 0; i < N; i++) {
        /* Runs of 500 in one directory, then the other. */
        const char *dn = dir[(i / 500) % 2];
        char p[600];
        snprintf(p, sizeof p, "%s/%zu.o", dn, i);
        paths[i] = strdup(p);
        if (i % 97 == 5)
            continue;                           /* missing */
        if (i % 101 == 7) {
            CU_ASSERT_EQUAL(mkdir(p, 0755), 0); /* not a regular file */
            continue;
        }
        FILE *f = fopen(p, "wb");
        CU_ASSERT_PTR_NOT_NULL_FATAL(f);
        fwrite("0123456789abc", 1, i % 13, f);
        fclose(f);
    }
    ls_stat *st = calloc(N, sizeof *st);
    unsigned char *ok = calloc(N, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ok);
    memset(ok, 2, N);
    ls_stat_wait(ls_stat_start((const char *const *)paths, N, st, ok));
    size_t bad = 0;
    for (size_t i = 0; i < N; i++) {
        ls_stat want;
        int exists = ls_stat_file(paths[i], &want) == 0;
        int regular = i % 97 != 5 && i % 101 != 7;
        if (ok[i] != regular || exists != regular ||
            (regular && (st[i].size != i % 13 || st[i].size != want.size ||
                         st[i].ino != want.ino || st[i].dev != want.dev ||
                         st[i].mtime_ns != want.mtime_ns ||
                         st[i].ctime_ns != want.ctime_ns)))
            bad++;
    }
    CU_ASSERT_EQUAL(bad, 0);
    /* The synchronous form gives the same; nothing to wait for is fine. */
    ls_stat *st2 = calloc(N, sizeof *st2);
    unsigned char *ok2 = calloc(N, 1);
    ls_stat_files((const char *const *)paths, N, st2, ok2);
    CU_ASSERT_EQUAL(memcmp(ok, ok2, N), 0);
    CU_ASSERT_EQUAL(memcmp(st, st2, N * sizeof *st), 0);
    ls_stat_wait(NULL);
    ls_stat_wait(ls_stat_start((const char *const *)paths, 0, st, ok));
    for (size_t i = 0; i < N; i++)
        free(paths[i]);
    free(paths);
    free(st);
    free(ok);
    free(st2);
    free(ok2);
}

/* ---- the link side ----------------------------------------------------- */

#define NB 40
typedef struct objs {
    obj_file o[NB + 1];
    const char *names[NB + 1];
    char nb[NB + 1][24];
} objs;

/* Block i at 0x1000 + 0x10 i: 20 + 7 (i % 5) bytes (byte k = i + k), a
 * relocation to the next block (the last one: to a pc with no block),
 * blocks divisible by 3 a folded-block record; then the meta object. */
static void make_objs(objs *s, int change, size_t change_size)
{
    memset(s, 0, sizeof *s);
    for (int i = 0; i < NB; i++) {
        obj_file *o = &s->o[i];
        o->kind = OBJ_BLOCK;
        img_host_fingerprint(o->fingerprint, sizeof o->fingerprint);
        o->features = 1u | (i == 7 ? 2u : 0u);
        o->pc = 0x1000 + 0x10 * (uint64_t)i;
        o->hash.hi = o->pc * 7;
        o->hash.lo = ~o->pc;
        o->code_len = i == change ? change_size : 20 + 7 * (size_t)(i % 5);
        o->code = malloc(o->code_len);
        for (size_t k = 0; k < o->code_len; k++)
            o->code[k] = (uint8_t)(i + (int)k + (i == change ? 100 : 0));
        o->relocs = calloc(2, sizeof *o->relocs);
        o->relocs[0] = (cg_reloc){1, R_X86_64_PLT32, -4, CG_TGT_BLOCK,
                                  i + 1 < NB ? o->pc + 0x10 : 0x9990};
        o->relocs[1] = (cg_reloc){8, R_X86_64_PC32, -4, CG_TGT_RT, 1};
        o->nrelocs = 2;
        if (i % 3 == 0) {
            o->deps = calloc(1, sizeof *o->deps);
            o->deps[0].pc = o->pc + 0x10;
            o->deps[0].hash.hi = 5;
            o->deps[0].hash.lo = (uint64_t)i;
            o->ndeps = 1;
        }
        snprintf(s->nb[i], sizeof s->nb[i], "b%d.o", i);
        s->names[i] = s->nb[i];
    }
    obj_file *m = &s->o[NB];
    m->kind = OBJ_META;
    img_host_fingerprint(m->fingerprint, sizeof m->fingerprint);
    m->features = 1;
    m->entry = 0x1000;
    m->has_entry = 1;
    m->memsize = 0x10000;
    snprintf(s->nb[NB], sizeof s->nb[NB], "meta.o");
    s->names[NB] = s->nb[NB];
}

static void free_objs(objs *s)
{
    for (int i = 0; i <= NB; i++)
        obj_free(&s->o[i]);
}

static void same_obj(const obj_file *a, const obj_file *b, int with_code)
{
    CU_ASSERT_EQUAL(a->kind, b->kind);
    CU_ASSERT_STRING_EQUAL(a->fingerprint, b->fingerprint);
    CU_ASSERT_EQUAL(a->features, b->features);
    CU_ASSERT_EQUAL(a->pc, b->pc);
    CU_ASSERT(a->hash.hi == b->hash.hi && a->hash.lo == b->hash.lo);
    CU_ASSERT_EQUAL(a->code_len, b->code_len);
    if (with_code) {
        CU_ASSERT(b->code && memcmp(a->code, b->code, a->code_len) == 0);
    } else {
        CU_ASSERT_PTR_NULL(b->code);
    }
    CU_ASSERT_EQUAL_FATAL(a->nrelocs, b->nrelocs);
    for (size_t k = 0; k < a->nrelocs; k++) {
        CU_ASSERT_EQUAL(a->relocs[k].offset, b->relocs[k].offset);
        CU_ASSERT_EQUAL(a->relocs[k].type, b->relocs[k].type);
        CU_ASSERT_EQUAL(a->relocs[k].addend, b->relocs[k].addend);
        CU_ASSERT_EQUAL(a->relocs[k].kind, b->relocs[k].kind);
        CU_ASSERT_EQUAL(a->relocs[k].target, b->relocs[k].target);
    }
    CU_ASSERT_EQUAL_FATAL(a->ndeps, b->ndeps);
    for (size_t k = 0; k < a->ndeps; k++) {
        CU_ASSERT_EQUAL(a->deps[k].pc, b->deps[k].pc);
        CU_ASSERT(a->deps[k].hash.hi == b->deps[k].hash.hi &&
                  a->deps[k].hash.lo == b->deps[k].hash.lo);
    }
}

static void test_block_obj(void)
{
    objs s;
    make_objs(&s, -1, 0);
    img_link_opts lo;
    memset(&lo, 0, sizeof lo);
    lo.max_chunk_blocks = 4;
    buf img = {0};
    aotb_diag d = {0};
    CU_ASSERT_EQUAL_FATAL(img_link_ex(s.o, s.names, NB + 1, &lo, NULL, &img, &d), 0);
    img_image old;
    CU_ASSERT_EQUAL_FATAL(img_parse("old", img.data, img.len, &old, &d), 0);
    CU_ASSERT_EQUAL(img_find_block(&old, 0x1000 + 0x10 * 39), 39);
    CU_ASSERT_EQUAL(img_find_block(&old, 0x1008), UINT32_MAX);
    CU_ASSERT_EQUAL(img_find_block(&old, 0x9990), UINT32_MAX);  /* a stub */
    for (int i = 0; i < NB; i++) {
        uint32_t b = img_find_block(&old, s.o[i].pc);
        CU_ASSERT_FATAL(b != UINT32_MAX);
        obj_file lazy, full;
        uint8_t *chunk = NULL;
        CU_ASSERT_EQUAL_FATAL(img_block_obj(&old, b, NULL, s.o[i].features, &lazy, &d), 0);
        same_obj(&s.o[i], &lazy, 0);
        CU_ASSERT_EQUAL_FATAL(img_chunk_decompress(&old, old.blocks[b].chunk, &chunk, &d), 0);
        CU_ASSERT_EQUAL_FATAL(img_block_obj(&old, b, chunk, s.o[i].features, &full, &d), 0);
        same_obj(&s.o[i], &full, 1);
        /* A damaged copy of the code is refused. */
        chunk[old.blocks[b].offset] ^= 1;
        obj_file bad;
        CU_ASSERT_EQUAL(img_block_obj(&old, b, chunk, 1, &bad, &d), -1);
        free(chunk);
        obj_free(&lazy);
        obj_free(&full);
    }
    CU_ASSERT_PTR_NOT_NULL(strstr(diag_text(&d), "checksum mismatch"));
    img_free(&old);
    buf_free(&img);
    diag_free(&d);
    free_objs(&s);
}

/* Relink after block `change' became change_size bytes of other code: with
 * every object given, and with all others taken from the old image. */
static void relink_case(int change, size_t change_size, int max_chunk)
{
    objs s, s2;
    make_objs(&s, -1, 0);
    img_link_opts lo;
    memset(&lo, 0, sizeof lo);
    lo.max_chunk_blocks = (uint32_t)max_chunk;
    buf img = {0}, a = {0}, b = {0};
    aotb_diag d = {0};
    CU_ASSERT_EQUAL_FATAL(img_link_ex(s.o, s.names, NB + 1, &lo, NULL, &img, &d), 0);
    img_image old;
    CU_ASSERT_EQUAL_FATAL(img_parse("old", img.data, img.len, &old, &d), 0);

    make_objs(&s2, change, change_size);
    img_link_opts inc = lo;
    inc.old = &old;
    img_link_stats sa, sb;
    if (img_link_ex(s2.o, s2.names, NB + 1, &inc, &sa, &a, &d) != 0)
        printf("%s", diag_text(&d));
    CU_ASSERT_EQUAL_FATAL(d.count, 0);

    /* The same objects, unchanged ones without their code. */
    objs s3;
    memset(&s3, 0, sizeof s3);
    uint32_t from[NB + 1];
    for (int i = 0; i <= NB; i++) {
        s3.names[i] = s2.names[i];
        from[i] = UINT32_MAX;
    }
    for (int i = 0; i < NB; i++) {
        if (i == change) {
            s3.o[i] = s2.o[i];
            memset(&s2.o[i], 0, sizeof s2.o[i]);
            continue;
        }
        uint32_t ob = img_find_block(&old, s2.o[i].pc);
        CU_ASSERT_EQUAL_FATAL(img_block_obj(&old, ob, NULL, s2.o[i].features, &s3.o[i], &d), 0);
        from[i] = ob;
    }
    s3.o[NB] = s2.o[NB];
    memset(&s2.o[NB], 0, sizeof s2.o[NB]);
    inc.from_old = from;
    CU_ASSERT_EQUAL_FATAL(img_link_ex(s3.o, s3.names, NB + 1, &inc, &sb, &b, &d), 0);
    CU_ASSERT_EQUAL(a.len, b.len);
    CU_ASSERT(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    CU_ASSERT_EQUAL(sa.chunks, sb.chunks);
    CU_ASSERT_EQUAL(sa.chunks_reused, sb.chunks_reused);
    if (max_chunk) {     /* several chunks: only the changed one is new */
        CU_ASSERT(sb.chunks_reused > 0);
        CU_ASSERT_EQUAL(sb.chunks_reused + 1, sb.chunks);
    }
    CU_ASSERT(memcmp(sa.root, sb.root, IMG_SUM_SIZE) == 0);
    /* As cmd_link does it: the unchanged objects left all zeros, their
     * features given on the side. */
    {
        obj_file bare[NB + 1];
        uint32_t feat[NB + 1];
        memset(bare, 0, sizeof bare);
        for (int i = 0; i <= NB; i++) {
            feat[i] = s3.o[i].features;
            if (from[i] == UINT32_MAX)
                bare[i] = s3.o[i];
        }
        img_link_opts io = inc;
        io.from_old_features = feat;
        buf c = {0};
        CU_ASSERT_EQUAL_FATAL(img_link_ex(bare, s3.names, NB + 1, &io, NULL, &c, &d), 0);
        CU_ASSERT(c.len == b.len && memcmp(c.data, b.data, b.len) == 0);
        buf_free(&c);
        /* Another object's features: the header's union changes. */
        feat[change == 0 ? 1 : 0] |= 0x40;
        CU_ASSERT_EQUAL_FATAL(img_link_ex(bare, s3.names, NB + 1, &io, NULL, &c, &d), 0);
        CU_ASSERT(c.len == b.len && memcmp(c.data, b.data, b.len) != 0);
        buf_free(&c);
    }
    /* And the result holds the changed code: parse + verify it. */
    img_image nw;
    CU_ASSERT_EQUAL_FATAL(img_parse("new", b.data, b.len, &nw, &d), 0);
    CU_ASSERT(memcmp(nw.root, sb.root, IMG_SUM_SIZE) == 0);
    CU_ASSERT_EQUAL(img_verify(&nw, &d), 0);
    uint32_t cb = img_find_block(&nw, 0x1000 + 0x10 * (uint64_t)change);
    uint8_t *chunk = NULL;
    obj_file got;
    CU_ASSERT_EQUAL_FATAL(img_chunk_decompress(&nw, nw.blocks[cb].chunk, &chunk, &d), 0);
    CU_ASSERT_EQUAL_FATAL(img_block_obj(&nw, cb, chunk, 1, &got, &d), 0);
    CU_ASSERT_EQUAL(got.code_len, change_size);
    CU_ASSERT_EQUAL(got.code[0], (uint8_t)(change + 100));
    obj_free(&got);
    free(chunk);
    /* Every block holds its object's code, relocations and the rest (the
     * relocation sections copied from the old image included). */
    for (int i = 0; i < NB; i++) {
        uint32_t nb = img_find_block(&nw, 0x1000 + 0x10 * (uint64_t)i);
        CU_ASSERT_FATAL(nb != UINT32_MAX);
        uint8_t *ck = NULL;
        CU_ASSERT_EQUAL_FATAL(img_chunk_decompress(&nw, nw.blocks[nb].chunk, &ck, &d), 0);
        CU_ASSERT_EQUAL_FATAL(img_block_obj(&nw, nb, ck, s3.o[i].features, &got, &d), 0);
        same_obj(i == change ? &s3.o[i] : &s2.o[i], &got, 1);
        obj_free(&got);
        free(ck);
    }
    img_free(&nw);
    if (d.count)
        printf("%s", diag_text(&d));
    free(sa.fresh);
    free(sb.fresh);
    img_free(&old);
    buf_free(&img);
    buf_free(&a);
    buf_free(&b);
    diag_free(&d);
    free_objs(&s);
    free_objs(&s2);
    for (int i = 0; i <= NB; i++)
        obj_free(&s3.o[i]);
}

static void test_relink_same_bytes(void)
{
    relink_case(17, 20 + 7 * (17 % 5), 4);   /* same size */
    relink_case(17, 90, 4);                  /* larger: later offsets move */
    relink_case(0, 13, 5);                   /* first block, smaller */
    relink_case(NB - 1, 60, 0);              /* canonical chunking */
}

/* A block inserted at a new pc renumbers the symbols after it: chunks
 * copied from the old image get their relocation records rewritten, and
 * every block still resolves to the right targets. */
static void test_relink_renumbered(void)
{
    objs s, s2;
    make_objs(&s, -1, 0);
    make_objs(&s2, -1, 0);
    img_link_opts lo;
    memset(&lo, 0, sizeof lo);
    lo.max_chunk_blocks = 4;
    buf img = {0}, out = {0};
    aotb_diag d = {0};
    CU_ASSERT_EQUAL_FATAL(img_link_ex(s.o, s.names, NB + 1, &lo, NULL, &img, &d), 0);
    img_image old, nw;
    CU_ASSERT_EQUAL_FATAL(img_parse("old", img.data, img.len, &old, &d), 0);
    obj_file all[NB + 2];
    const char *names[NB + 2];
    memcpy(all, s2.o, sizeof s2.o);
    memcpy(names, s2.names, sizeof s2.names);
    obj_file *x = &all[NB + 1];
    memset(x, 0, sizeof *x);
    x->kind = OBJ_BLOCK;
    img_host_fingerprint(x->fingerprint, sizeof x->fingerprint);
    x->features = 1;
    x->pc = 0x1108;                 /* between blocks 16 and 17 */
    x->code_len = 12;
    x->code = calloc(1, 12);
    x->relocs = calloc(1, sizeof *x->relocs);
    x->relocs[0] = (cg_reloc){2, R_X86_64_PLT32, -4, CG_TGT_BLOCK, 0x1000};
    x->nrelocs = 1;
    names[NB + 1] = "extra.o";
    lo.old = &old;
    img_link_stats st;
    CU_ASSERT_EQUAL_FATAL(img_link_ex(all, names, NB + 2, &lo, &st, &out, &d), 0);
    CU_ASSERT(st.chunks_reused > 0);
    CU_ASSERT_EQUAL_FATAL(img_parse("new", out.data, out.len, &nw, &d), 0);
    CU_ASSERT_EQUAL(img_verify(&nw, &d), 0);
    for (int i = 0; i < NB + 2; i++) {
        if (i == NB)
            continue;
        uint32_t b = img_find_block(&nw, all[i].pc);
        CU_ASSERT_FATAL(b != UINT32_MAX);
        uint8_t *ck = NULL;
        obj_file got;
        CU_ASSERT_EQUAL_FATAL(img_chunk_decompress(&nw, nw.blocks[b].chunk, &ck, &d), 0);
        CU_ASSERT_EQUAL_FATAL(img_block_obj(&nw, b, ck, all[i].features, &got, &d), 0);
        same_obj(&all[i], &got, 1);
        obj_free(&got);
        free(ck);
    }
    if (d.count)
        printf("%s", diag_text(&d));
    free(st.fresh);
    obj_free(x);
    img_free(&nw);
    img_free(&old);
    buf_free(&img);
    buf_free(&out);
    diag_free(&d);
    free_objs(&s);
    free_objs(&s2);
}

static CU_TestInfo tests[] = {
    {"relink with the symbols renumbered", test_relink_renumbered},
    {"format / parse round trip", test_round_trip},
    {"malformed sidecars rejected", test_rejects},
    {"lookups in and out of order", test_find_order},
    {"racy entries and stat", test_racy_and_stat},
    {"stat of many paths in parallel", test_stat_many},
    {"img_block_obj gives the objects back", test_block_obj},
    {"relink from the old image == relink reading all", test_relink_same_bytes},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"linkstate", NULL, NULL, NULL, NULL, tests}, CU_SUITE_INFO_NULL};

int main(void)
{
    return tu_run(suites);
}
