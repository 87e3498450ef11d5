/* test_builder.c: the incremental builder API (<aotb/builder.h>): every
 * call and config switch, the seed's scenarios (no change -> nothing
 * compiled, a few -> only those, all -> full rebuild), dependencies of
 * folded blocks, fingerprints, -j independence, in-memory programs,
 * atomic updates, incremental vs full verification, and compaction.
 * Expected results are derived by hand: a chain of blocks that each add a
 * known constant to r1 ends with r1 = the sum of the constants. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "aotb/aotb.h"
#include "aotb/builder.h"
#include "image.h"
#include "testutil.h"

#define NB 300

/* Block i at 0x1000 + 16 i adds k[i] to r1 and jumps on; the last returns. */
static char *chain(const uint64_t *k, size_t n)
{
    buf b = {0};
    buf_printf(&b, "entry 0x1000\nmemory 0x10000\n");
    for (size_t i = 0; i < n; i++) {
        buf_printf(&b, "block 0x%zx {\n    addi r1, r1, %llu\n",
                   0x1000 + 16 * i, (unsigned long long)k[i]);
        if (i + 1 < n)
            buf_printf(&b, "    jmp 0x%zx\n}\n", 0x1000 + 16 * (i + 1));
        else
            buf_printf(&b, "    ret\n}\n");
    }
    buf_put8(&b, 0);
    return (char *)b.data;
}

static uint64_t ksum(const uint64_t *k, size_t n)
{
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += k[i];
    return s;
}

static void init_k(uint64_t *k)
{
    for (size_t i = 0; i < NB; i++)
        k[i] = 3 * i + 1;
}

/* Runs image bytes from the entry; returns r1 (status must be ret). */
static uint64_t run_r1(const void *data, size_t len)
{
    aotb_image *img = NULL;
    aotb_cpu *cpu = NULL;
    char *err = NULL;
    uint64_t r1 = UINT64_MAX, pc;
    if (aotb_image_open_memory(data, len, "t.aot", &img, &err) != 0) {
        fprintf(stderr, "%s\n", err);
        aotb_error_free(err);
        CU_FAIL("image does not open");
        return r1;
    }
    CU_ASSERT_EQUAL_FATAL(aotb_cpu_new(img, &cpu, &err), 0);
    CU_ASSERT_EQUAL(aotb_image_entry(img, &pc), 1);
    CU_ASSERT_EQUAL(aotb_run(img, cpu, pc, AOTB_NO_LIMIT), AOTB_STOP_RET);
    r1 = aotb_cpu_get_reg(cpu, 1);
    aotb_cpu_free(cpu);
    aotb_image_close(img);
    return r1;
}

static const char *tpath(const char *name)
{
    static char p[4][512];
    static int i;
    i = (i + 1) % 4;
    snprintf(p[i], sizeof p[i], "%s/%s", tu_tmpdir(), name);
    return p[i];
}

/* One update cycle on path with cfg; returns the stats. */
static aotb_build_stats update(const aotb_build_config *cfg, const char *text,
                               const char *path)
{
    aotb_builder *b = NULL;
    char *err = NULL;
    aotb_build_stats st;
    memset(&st, 0xff, sizeof st);
    CU_ASSERT_EQUAL_FATAL(aotb_builder_new(cfg, &b, &err), 0);
    CU_ASSERT_EQUAL(aotb_builder_set_program_text(b, "t.vir", text,
                                                  strlen(text), &err), 0);
    if (aotb_builder_update(b, path, &err) != 0) {
        fprintf(stderr, "%s\n", err);
        aotb_error_free(err);
        CU_FAIL("update failed");
    } else {
        aotb_builder_stats(b, &st);
    }
    aotb_builder_free(b);
    return st;
}

static void *read_file(const char *path, size_t *len)
{
    uint8_t *data = NULL;
    aotb_diag d = {0};
    if (file_read_all(path, &data, len, &d) != 0)
        CU_FAIL("read");
    diag_free(&d);
    return data;
}

static uint64_t run_file(const char *path)
{
    size_t len;
    void *data = read_file(path, &len);
    uint64_t r = data ? run_r1(data, len) : 0;
    free(data);
    return r;
}

/* ---- the seed's scenarios ---------------------------------------------- */

static void test_scenarios(void)
{
    uint64_t k[NB];
    init_k(k);
    const char *path = tpath("seed.aot");
    char *t = chain(k, NB);

    /* No image: every block is added and compiled. */
    aotb_build_stats s = update(NULL, t, path);
    CU_ASSERT_EQUAL(s.added, NB);
    CU_ASSERT_EQUAL(s.compiled, NB);
    CU_ASSERT_EQUAL(s.copied, 0);
    CU_ASSERT_EQUAL(s.total_changes, NB);
    CU_ASSERT(s.has_changes);
    CU_ASSERT_EQUAL(run_file(path), ksum(k, NB));
    size_t len1;
    void *first = read_file(path, &len1);

    /* Nothing changed: nothing compiled, every chunk reused, same bytes. */
    s = update(NULL, t, path);
    CU_ASSERT_EQUAL(s.unchanged, NB);
    CU_ASSERT_EQUAL(s.compiled, 0);
    CU_ASSERT_EQUAL(s.copied, NB);
    CU_ASSERT_EQUAL(s.total_changes, 0);
    CU_ASSERT_FALSE(s.has_changes);
    CU_ASSERT_EQUAL(s.chunks_reused, s.chunks);
    CU_ASSERT_EQUAL(s.chunks_verified, 0);
    size_t len2;
    void *second = read_file(path, &len2);
    CU_ASSERT(len1 == len2 && memcmp(first, second, len1) == 0);
    free(second);
    free(t);

    /* A few changes: only those compiled. */
    k[7] += 100;
    k[250] += 1000;
    t = chain(k, NB);
    s = update(NULL, t, path);
    CU_ASSERT_EQUAL(s.modified, 2);
    CU_ASSERT_EQUAL(s.unchanged, NB - 2);
    CU_ASSERT_EQUAL(s.compiled, 2);
    CU_ASSERT_EQUAL(s.copied, NB - 2);
    CU_ASSERT(s.chunks_verified >= 1 && s.chunks_verified <= 2);
    CU_ASSERT_EQUAL(run_file(path), ksum(k, NB));
    free(t);

    /* Everything changed: a full rebuild. */
    for (size_t i = 0; i < NB; i++)
        k[i] += 5;
    t = chain(k, NB);
    s = update(NULL, t, path);
    CU_ASSERT_EQUAL(s.modified, NB);
    CU_ASSERT_EQUAL(s.compiled, NB);
    CU_ASSERT_EQUAL(s.chunks_reused, 0);
    CU_ASSERT_EQUAL(run_file(path), ksum(k, NB));
    free(t);

    /* Removing and adding blocks: the chain made shorter. */
    t = chain(k, NB - 10);
    s = update(NULL, t, path);
    CU_ASSERT_EQUAL(s.removed, 10);
    CU_ASSERT_EQUAL(s.modified, 1);       /* the new last block returns */
    CU_ASSERT_EQUAL(s.compiled, 1);
    CU_ASSERT_EQUAL(run_file(path), ksum(k, NB - 10));
    free(t);
    t = chain(k, NB);
    s = update(NULL, t, path);
    CU_ASSERT_EQUAL(s.added, 10);
    CU_ASSERT_EQUAL(s.compiled, 11);
    CU_ASSERT_EQUAL(run_file(path), ksum(k, NB));
    free(t);
    free(first);
}

/* ---- the config switches ----------------------------------------------- */

static void test_config(void)
{
    uint64_t k[NB];
    init_k(k);
    char *t = chain(k, NB);
    const char *path = tpath("cfg.aot");
    aotb_build_config c;
    update(NULL, t, path);
    size_t len0;
    void *base = read_file(path, &len0);

    for (int mask = 0; mask < 8; mask++) {
        aotb_build_config_init(&c);
        c.enabled = mask & 1;
        c.detect_changes = (mask >> 1) & 1;
        c.preserve_unchanged = (mask >> 2) & 1;
        aotb_build_stats s = update(&c, t, path);
        int incremental = mask == 7;
        CU_ASSERT_EQUAL(s.compiled, incremental ? 0 : NB);
        CU_ASSERT_EQUAL(s.copied, incremental ? NB : 0);
        /* detect_changes off reports every block Modified. */
        CU_ASSERT_EQUAL(s.modified, c.detect_changes ? 0 : NB);
        CU_ASSERT_EQUAL(s.unchanged, c.detect_changes ? NB : 0);
        CU_ASSERT_EQUAL(run_file(path), ksum(k, NB));
        /* Whatever the switches, the same program gives the same bytes. */
        size_t len;
        void *now = read_file(path, &len);
        CU_ASSERT(len == len0 && memcmp(now, base, len) == 0);
        free(now);
    }
    free(base);
    free(t);
}

/* ---- steps one by one, errors ------------------------------------------ */

static void test_steps_and_errors(void)
{
    uint64_t k[NB];
    init_k(k);
    char *t = chain(k, 20);
    aotb_builder *b = NULL;
    char *err = NULL;
    CU_ASSERT_EQUAL_FATAL(aotb_builder_new(NULL, &b, &err), 0);
    /* No program yet. */
    CU_ASSERT_EQUAL(aotb_builder_detect_changes(b, &err), -1);
    CU_ASSERT_PTR_NOT_NULL(err && strstr(err, "no program"));
    aotb_error_free(err);
    CU_ASSERT_EQUAL(aotb_builder_change_count(b), 0);
    /* A parse error is returned with its location. */
    CU_ASSERT_EQUAL(aotb_builder_set_program_text(b, "bad.vir", "block 1 {\n"
                                                  " frob r1\n ret\n}\n", 21,
                                                  &err), -1);
    CU_ASSERT_PTR_NOT_NULL(err && strstr(err, "bad.vir:2"));
    aotb_error_free(err);
    /* Missing image: fine, everything added. */
    CU_ASSERT_EQUAL(aotb_builder_load_image(b, tpath("none.aot"), &err), 0);
    CU_ASSERT_EQUAL(aotb_builder_set_program_text(b, "t.vir", t, strlen(t),
                                                  &err), 0);
    CU_ASSERT_EQUAL(aotb_builder_detect_changes(b, &err), 0);
    CU_ASSERT_EQUAL(aotb_builder_change_count(b), 20);
    aotb_block_change c;
    CU_ASSERT_EQUAL(aotb_builder_change(b, 0, &c), 0);
    CU_ASSERT_EQUAL(c.pc, 0x1000);
    CU_ASSERT_EQUAL(c.kind, AOTB_ADDED);
    static const uint8_t zero[16];
    CU_ASSERT(memcmp(c.old_hash, zero, 16) == 0);
    CU_ASSERT(memcmp(c.new_hash, zero, 16) != 0);
    CU_ASSERT_EQUAL(aotb_builder_change(b, 20, &c), -1);
    CU_ASSERT_EQUAL(aotb_builder_compile(b, &err), 0);
    aotb_build_stats s;
    aotb_builder_stats(b, &s);
    CU_ASSERT_EQUAL(s.compiled, 20);
    const char *path = tpath("steps.aot");
    CU_ASSERT_EQUAL(aotb_builder_save(b, path, &err), 0);
    CU_ASSERT_EQUAL(run_file(path), ksum(k, 20));
    /* Load it back: every block Unchanged with equal old and new hashes
     * (IR hashes from the index, not machine-code hashes). */
    CU_ASSERT_EQUAL(aotb_builder_load_image(b, path, &err), 0);
    CU_ASSERT_EQUAL(aotb_builder_detect_changes(b, &err), 0);
    for (size_t i = 0; i < aotb_builder_change_count(b); i++) {
        CU_ASSERT_EQUAL(aotb_builder_change(b, i, &c), 0);
        CU_ASSERT_EQUAL(c.kind, AOTB_UNCHANGED);
        CU_ASSERT(memcmp(c.old_hash, c.new_hash, 16) == 0);
    }
    void *data;
    size_t len;
    CU_ASSERT_EQUAL(aotb_builder_build(b, &data, &len, &err), 0);
    aotb_builder_stats(b, &s);
    CU_ASSERT_EQUAL(s.compiled, 0);
    CU_ASSERT_EQUAL(run_r1(data, len), ksum(k, 20));
    free(data);
    /* A damaged image is an error, and update leaves it as it was. */
    const char *bad = tpath("bad.aot");
    FILE *f = fopen(bad, "wb");
    fputs("\177ELF garbage", f);
    fclose(f);
    CU_ASSERT_EQUAL(aotb_builder_load_image(b, bad, &err), -1);
    CU_ASSERT_PTR_NOT_NULL(err && strstr(err, "bad.aot"));
    aotb_error_free(err);
    CU_ASSERT_EQUAL(aotb_builder_update(b, bad, &err), -1);
    aotb_error_free(err);
    void *after = read_file(bad, &len);
    CU_ASSERT(len == 12 && memcmp(after, "\177ELF garbage", 12) == 0);
    free(after);
    /* With enabled off (a full rebuild) the damaged image is replaced. */
    aotb_build_config off;
    aotb_build_config_init(&off);
    off.enabled = 0;
    aotb_builder *fb = NULL;
    CU_ASSERT_EQUAL_FATAL(aotb_builder_new(&off, &fb, &err), 0);
    CU_ASSERT_EQUAL(aotb_builder_set_program_text(fb, "t.vir", t, strlen(t),
                                                  &err), 0);
    CU_ASSERT_EQUAL(aotb_builder_update(fb, bad, &err), 0);
    aotb_builder_stats(fb, &s);
    CU_ASSERT_EQUAL(s.added, 20);
    CU_ASSERT_EQUAL(s.compiled, 20);
    CU_ASSERT_EQUAL(run_file(bad), ksum(k, 20));
    aotb_builder_free(fb);
    /* but an explicit load of a damaged image is still an error. */
    f = fopen(bad, "wb");
    fputs("\177ELF garbage", f);
    fclose(f);
    CU_ASSERT_EQUAL(aotb_builder_load_image(b, bad, &err), -1);
    aotb_error_free(err);
    err = NULL;
    /* An aotb image of another format version (2, an older aotb's) is no
     * base: update rebuilds it, every block Added; an explicit load says
     * which version it is. */
    const char *oldv = tpath("oldversion.aot");
    aotb_builder *vb = NULL;
    CU_ASSERT_EQUAL_FATAL(aotb_builder_new(NULL, &vb, &err), 0);
    CU_ASSERT_EQUAL(aotb_builder_set_program_text(vb, "t.vir", t, strlen(t),
                                                  &err), 0);
    CU_ASSERT_EQUAL_FATAL(aotb_builder_update(vb, oldv, &err), 0);
    void *img = read_file(oldv, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(img);
    uint8_t *hdr = (uint8_t *)img + get_le64((uint8_t *)img +
                                             get_le64((uint8_t *)img + 40) +
                                             64 * IMG_SEC_HEADER + 24);
    CU_ASSERT_EQUAL(get_le32(hdr + 8), IMG_FORMAT_VERSION);
    put_le32(hdr + 8, 2);
    f = fopen(oldv, "wb");
    CU_ASSERT_EQUAL(fwrite(img, 1, len, f), len);
    fclose(f);
    free(img);
    CU_ASSERT_EQUAL(aotb_builder_load_image(vb, oldv, &err), -1);
    CU_ASSERT_PTR_NOT_NULL(err && strstr(err, "format version 2"));
    aotb_error_free(err);
    err = NULL;
    CU_ASSERT_EQUAL(aotb_builder_update(vb, oldv, &err), 0);
    aotb_builder_stats(vb, &s);
    CU_ASSERT_EQUAL(s.added, 20);
    CU_ASSERT_EQUAL(s.compiled, 20);
    CU_ASSERT_EQUAL(run_file(oldv), ksum(k, 20));
    /* the rebuilt image is of this version, and a base again */
    CU_ASSERT_EQUAL(aotb_builder_update(vb, oldv, &err), 0);
    aotb_builder_stats(vb, &s);
    CU_ASSERT_EQUAL(s.unchanged, 20);
    CU_ASSERT_EQUAL(s.compiled, 0);
    aotb_builder_free(vb);
    /* Saving into a missing directory fails cleanly. */
    CU_ASSERT_EQUAL(aotb_builder_save(b, tpath("no/such/dir.aot"), &err), -1);
    CU_ASSERT_PTR_NOT_NULL(err);
    aotb_error_free(err);
    aotb_builder_free(b);
    aotb_builder_free(NULL);
    free(t);
}

/* ---- fingerprint and dependencies ---------------------------------------- */

static void test_fingerprint_and_deps(void)
{
    uint64_t k[NB];
    init_k(k);
    char *t = chain(k, 40);
    const char *path = tpath("fold.aot");
    aotb_build_config c;
    aotb_build_config_init(&c);
    update(&c, t, path);
    /* Another fold setting: another fingerprint: every block Modified. */
    c.fold_max_ops = 4;
    aotb_build_stats s = update(&c, t, path);
    CU_ASSERT_EQUAL(s.modified, 40);
    CU_ASSERT_EQUAL(s.compiled, 40);
    CU_ASSERT_EQUAL(run_file(path), ksum(k, 40));
    /* With folding, block i folded block i+1 (one op): the image records
     * it.  Changing block 20 recompiles block 20 and the block that folded
     * it, reported as a dependency. */
    size_t len;
    uint8_t *data = read_file(path, &len);
    img_image img;
    aotb_diag d = {0};
    CU_ASSERT_EQUAL_FATAL(img_parse("fold.aot", data, len, &img, &d), 0);
    CU_ASSERT(img.ndeps > 0);
    int folded19 = 0;
    for (uint32_t i = 0; i < img.ndeps; i++)
        if (img.deps[i].pc == 0x1000 + 16 * 19 &&
            img.deps[i].dep_pc == 0x1000 + 16 * 20)
            folded19 = 1;
    img_free(&img);
    free(data);
    free(t);
    k[20] += 7;
    t = chain(k, 40);
    s = update(&c, t, path);
    CU_ASSERT_EQUAL(s.modified - s.modified_dependency, 1);
    if (folded19)
        CU_ASSERT(s.modified_dependency >= 1);
    CU_ASSERT_EQUAL(s.compiled, s.modified);
    CU_ASSERT_EQUAL(run_file(path), ksum(k, 40));
    free(t);
}

/* ---- threads, in-memory programs ----------------------------------------- */

static void *build_bytes(const aotb_build_config *c, const char *text,
                         size_t *len)
{
    aotb_builder *b = NULL;
    char *err = NULL;
    void *data = NULL;
    CU_ASSERT_EQUAL_FATAL(aotb_builder_new(c, &b, &err), 0);
    CU_ASSERT_EQUAL(aotb_builder_set_program_text(b, "t.vir", text,
                                                  strlen(text), &err), 0);
    CU_ASSERT_EQUAL(aotb_builder_build(b, &data, len, &err), 0);
    aotb_builder_free(b);
    return data;
}

static void test_jobs_identical(void)
{
    uint64_t k[NB];
    init_k(k);
    char *t = chain(k, NB);
    aotb_build_config c;
    aotb_build_config_init(&c);
    size_t l1, l8;
    c.jobs = 1;
    void *a = build_bytes(&c, t, &l1);
    c.jobs = 8;
    void *b = build_bytes(&c, t, &l8);
    CU_ASSERT(a && b && l1 == l8 && memcmp(a, b, l1) == 0);
    free(a);
    free(b);
    free(t);
}

static void test_program_in_memory(void)
{
    uint64_t k[NB];
    init_k(k);
    char *t = chain(k, 50);
    aotb_program *p = NULL;
    char *err = NULL;
    CU_ASSERT_EQUAL_FATAL(aotb_program_new(&p, &err), 0);
    CU_ASSERT_EQUAL(aotb_program_set_memory(p, 0x10000, &err), 0);
    CU_ASSERT_EQUAL(aotb_program_set_memory(p, 0, &err), -1);
    aotb_error_free(err);
    /* Added in reverse order: the entry is set explicitly. */
    CU_ASSERT_EQUAL(aotb_program_set_entry(p, 0x1000), 0);
    for (size_t i = 50; i-- > 0;) {
        aotb_op op = {AOTB_OP_ADDI, 1, 1, 0, 0, 0, k[i]};
        aotb_term term;
        memset(&term, 0, sizeof term);
        term.kind = i + 1 < 50 ? AOTB_T_JMP : AOTB_T_RET;
        term.target = 0x1000 + 16 * (i + 1);
        CU_ASSERT_EQUAL(aotb_program_add_block(p, 0x1000 + 16 * i, &op, 1,
                                               &term, &err), 0);
    }
    aotb_op bad = {99, 0, 0, 0, 0, 0, 0};
    aotb_term ret;
    memset(&ret, 0, sizeof ret);
    CU_ASSERT_EQUAL(aotb_program_add_block(p, 0x9000, &bad, 1, &ret, &err),
                    -1);
    CU_ASSERT_PTR_NOT_NULL(err && strstr(err, "unknown opcode"));
    aotb_error_free(err);
    uint8_t bytes[3] = {1, 2, 3};
    CU_ASSERT_EQUAL(aotb_program_add_data(p, 0x100, bytes, 3, &err), 0);

    aotb_builder *b = NULL;
    CU_ASSERT_EQUAL_FATAL(aotb_builder_new(NULL, &b, &err), 0);
    CU_ASSERT_EQUAL(aotb_builder_set_program(b, p, &err), 0);
    void *data;
    size_t len;
    CU_ASSERT_EQUAL(aotb_builder_build(b, &data, &len, &err), 0);
    CU_ASSERT_EQUAL(run_r1(data, len), ksum(k, 50));
    /* The same blocks as text hash the same: nothing to compile. */
    const char *path = tpath("mem.aot");
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, len, f);
    fclose(f);
    free(data);
    CU_ASSERT_EQUAL(aotb_builder_set_program_text(b, "t.vir", t, strlen(t),
                                                  &err), 0);
    CU_ASSERT_EQUAL(aotb_builder_load_image(b, path, &err), 0);
    CU_ASSERT_EQUAL(aotb_builder_compile(b, &err), 0);
    aotb_build_stats s;
    aotb_builder_stats(b, &s);
    CU_ASSERT_EQUAL(s.unchanged, 50);
    CU_ASSERT_EQUAL(s.compiled, 0);
    aotb_builder_free(b);
    aotb_program_free(p);
    free(t);
}

/* aotb_builder_set_program_file: a good file builds; a missing one and a
 * malformed one fail with the path (and line) in the message, and leave the
 * program set before in place. */
static void test_program_file(void)
{
    uint64_t k[NB];
    init_k(k);
    char *t = chain(k, 30);
    const char *good = tpath("file.vir"), *bad = tpath("filebad.vir");
    FILE *f = fopen(good, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(t, f);
    fclose(f);
    f = fopen(bad, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("block 0x10 {\n    ret\n}\nblock 0x20 {\n    slli r1, r1, 64\n"
          "    ret\n}\n", f);
    fclose(f);
    aotb_builder *b = NULL;
    char *err = NULL;
    CU_ASSERT_EQUAL_FATAL(aotb_builder_new(NULL, &b, &err), 0);
    CU_ASSERT_EQUAL(aotb_builder_set_program_file(b, good, &err), 0);
    CU_ASSERT_PTR_NULL(err);
    CU_ASSERT_EQUAL(aotb_builder_set_program_file(b, tpath("nofile.vir"),
                                                  &err), -1);
    CU_ASSERT_PTR_NOT_NULL(err && strstr(err, "nofile.vir") &&
                           strstr(err, "No such file"));
    aotb_error_free(err);
    err = NULL;
    CU_ASSERT_EQUAL(aotb_builder_set_program_file(b, bad, &err), -1);
    CU_ASSERT_PTR_NOT_NULL(err && strstr(err, "filebad.vir:5:"));
    aotb_error_free(err);
    err = NULL;
    /* The failures kept the good program: it builds and runs. */
    const char *path = tpath("file.aot");
    CU_ASSERT_EQUAL(aotb_builder_update(b, path, &err), 0);
    aotb_build_stats s;
    aotb_builder_stats(b, &s);
    CU_ASSERT_EQUAL(s.added, 30);
    CU_ASSERT_EQUAL(run_file(path), ksum(k, 30));
    aotb_builder_free(b);
    free(t);
}

/* 1 if msg has "<program>:" followed by a digit (a line number). */
static int has_line_number(const char *msg)
{
    for (const char *p = msg; p && (p = strstr(p, "<program>:")) != NULL;
         p++)
        if (p[10] >= '0' && p[10] <= '9')
            return 1;
    return 0;
}

/* Errors found when an in-memory program is handed to a builder name the
 * block and op (the caller never saw the program's .vir text, so its line
 * numbers would mean nothing). */
static void test_program_errors_located(void)
{
    aotb_program *p = NULL;
    aotb_builder *b = NULL;
    char *err = NULL;
    aotb_term ret;
    memset(&ret, 0, sizeof ret);
    ret.kind = AOTB_T_RET;
    aotb_op ops[2] = {{AOTB_OP_ADDI, 1, 1, 0, 0, 0, 1},
                      {AOTB_OP_SRAI, 2, 1, 0, 0, 0, 70}};
    CU_ASSERT_EQUAL_FATAL(aotb_program_new(&p, &err), 0);
    CU_ASSERT_EQUAL(aotb_program_add_block(p, 0x40, NULL, 0, &ret, &err), 0);
    CU_ASSERT_EQUAL(aotb_program_add_block(p, 0x80, ops, 2, &ret, &err), 0);
    CU_ASSERT_EQUAL_FATAL(aotb_builder_new(NULL, &b, &err), 0);
    CU_ASSERT_EQUAL(aotb_builder_set_program(b, p, &err), -1);
    CU_ASSERT_PTR_NOT_NULL(err && strstr(err, "block 0x80, op 1: error: "));
    CU_ASSERT_FALSE(has_line_number(err));
    aotb_error_free(err);
    aotb_program_free(p);

    /* A duplicate pc, a data segment outside memory, overlapping ones. */
    CU_ASSERT_EQUAL_FATAL(aotb_program_new(&p, &err), 0);
    CU_ASSERT_EQUAL(aotb_program_set_memory(p, 0x1000, &err), 0);
    uint8_t bytes[8] = {0};
    CU_ASSERT_EQUAL(aotb_program_add_data(p, 0x10, bytes, 8, &err), 0);
    CU_ASSERT_EQUAL(aotb_program_add_data(p, 0xffc, bytes, 8, &err), 0);
    CU_ASSERT_EQUAL(aotb_program_add_data(p, 0x14, bytes, 4, &err), 0);
    CU_ASSERT_EQUAL(aotb_program_add_block(p, 0x40, NULL, 0, &ret, &err), 0);
    CU_ASSERT_EQUAL(aotb_program_add_block(p, 0x50, ops, 1, &ret, &err), 0);
    CU_ASSERT_EQUAL(aotb_program_add_block(p, 0x40, ops, 1, &ret, &err), 0);
    CU_ASSERT_EQUAL(aotb_builder_set_program(b, p, &err), -1);
    CU_ASSERT_PTR_NOT_NULL(err && strstr(err, "data segment 1: error: "));
    CU_ASSERT_PTR_NOT_NULL(err && strstr(err, "block 0x40: error: duplicate"));
    CU_ASSERT_FALSE(has_line_number(err));
    CU_ASSERT_PTR_NOT_NULL(err && strstr(err, "data segment 2: error: data "
                                         "overlaps data segment 0"));
    CU_ASSERT_PTR_NULL(err ? strstr(err, "line") : NULL);
    aotb_error_free(err);
    aotb_program_free(p);
    aotb_builder_free(b);
}

/* ---- verification and compaction ----------------------------------------- */

/* Recomputes .aotb.sums after an edit; the image must then parse. */
static void fix_sums(uint8_t *f, size_t len)
{
    img_image img;
    aotb_diag d = {0};
    tu_refresh_image_sums(f, len);
    CU_ASSERT_EQUAL(img_parse("fixed", f, len, &img, &d), 0);
    img_free(&img);
    diag_free(&d);
}

static void test_verify_incremental(void)
{
    static uint64_t k[6000];
    for (size_t i = 0; i < 6000; i++)
        k[i] = i;
    char *t = chain(k, 6000);
    const char *path = tpath("ver.aot");
    update(NULL, t, path);
    size_t len;
    uint8_t *f = read_file(path, &len);
    img_image img;
    aotb_diag d = {0};
    CU_ASSERT_EQUAL_FATAL(img_parse("v", f, len, &img, &d), 0);
    CU_ASSERT_FATAL(img.nchunks >= 2);
    /* Damage block 0's code checksum in the index (chunk 0), then make
     * every section checksum agree, as a careless rewrite could. */
    uint64_t idx = img.secs[IMG_SEC_INDEX].offset;
    img_free(&img);
    f[idx + 48] ^= 0x40;
    fix_sums(f, len);
    CU_ASSERT_EQUAL_FATAL(img_parse("v", f, len, &img, &d), 0);
    uint8_t *which = calloc(img.nchunks, 1);
    which[img.nchunks - 1] = 1;          /* only the last chunk "changed" */
    uint32_t checked = 0;
    CU_ASSERT_EQUAL(img_verify_chunks(&img, which, &checked, &d), 0);
    CU_ASSERT_EQUAL(checked, 1);
    which[0] = 1;
    CU_ASSERT_EQUAL(img_verify_chunks(&img, which, &checked, &d), -1);
    diag_clear(&d);
    /* The full check catches it. */
    CU_ASSERT_EQUAL(img_verify(&img, &d), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(diag_text(&d), "block 0x1000"));
    img_free(&img);
    diag_free(&d);
    free(which);
    free(f);

    /* Through an update: damage the code of chunk 0 (a byte of its zstd
     * frame) and make every section checksum agree.  An update that changes
     * only the last block re-verifies only the chunk it compressed, so it
     * succeeds and carries chunk 0 over as it is; the full check of the
     * result still finds the damage. */
    update(NULL, t, path);
    f = read_file(path, &len);
    CU_ASSERT_EQUAL_FATAL(img_parse("v", f, len, &img, &d), 0);
    uint32_t nchunks = img.nchunks;
    size_t at = (size_t)(img.chunks[0].zframe - f) + img.chunks[0].zsize / 2;
    img_free(&img);
    f[at] ^= 0x01;
    fix_sums(f, len);
    FILE *fp = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
    CU_ASSERT_EQUAL(fwrite(f, 1, len, fp), len);
    fclose(fp);
    free(f);
    free(t);
    k[5999] += 1;
    t = chain(k, 6000);
    aotb_build_stats s = update(NULL, t, path);
    CU_ASSERT_EQUAL(s.modified, 1);
    CU_ASSERT_EQUAL(s.compiled, 1);
    CU_ASSERT_EQUAL(s.chunks, nchunks);
    CU_ASSERT_EQUAL(s.chunks_verified, 1);
    CU_ASSERT_EQUAL(s.chunks_reused, nchunks - 1);
    f = read_file(path, &len);
    CU_ASSERT_EQUAL_FATAL(img_parse("v", f, len, &img, &d), 0);
    CU_ASSERT_EQUAL(img_verify(&img, &d), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(diag_text(&d), "(chunk 0): code checksum"));
    img_free(&img);
    diag_free(&d);
    free(f);
    free(t);
}

static void test_compact(void)
{
    uint64_t k[NB];
    init_k(k);
    char *t = chain(k, NB);
    size_t len;
    void *full = build_bytes(NULL, t, &len);
    img_image img;
    aotb_diag d = {0};
    CU_ASSERT_EQUAL_FATAL(img_parse("c", full, len, &img, &d), 0);
    /* A fragmented image: the same blocks, one per chunk. */
    uint8_t *chunk = NULL;
    obj_file *objs = calloc(img.nblocks + 1, sizeof *objs);
    const char **names = calloc(img.nblocks + 1, sizeof *names);
    for (uint32_t i = 0; i < img.nblocks; i++) {
        cg_code c;
        if (img.chunks[img.blocks[i].chunk].first_block == i) {
            free(chunk);
            CU_ASSERT_EQUAL_FATAL(img_chunk_decompress(&img,
                                      img.blocks[i].chunk, &chunk, &d), 0);
        }
        CU_ASSERT_EQUAL_FATAL(img_block_code(&img, i, chunk, &c, &d), 0);
        objs[i].kind = OBJ_BLOCK;
        memcpy(objs[i].fingerprint, img.fingerprint, IMG_FP_SIZE);
        objs[i].features = img.features;
        objs[i].pc = img.blocks[i].pc;
        objs[i].hash = img.blocks[i].hash;
        objs[i].code = c.code.data;
        objs[i].code_len = c.code.len;
        objs[i].relocs = c.relocs;
        objs[i].nrelocs = c.nrelocs;
        names[i] = "b";
    }
    free(chunk);
    obj_file *m = &objs[img.nblocks];
    m->kind = OBJ_META;
    memcpy(m->fingerprint, img.fingerprint, IMG_FP_SIZE);
    m->has_entry = img.has_entry;
    m->entry = img.entry;
    m->memsize = img.memsize;
    names[img.nblocks] = "meta";
    img_link_opts o;
    memset(&o, 0, sizeof o);
    o.max_chunk_blocks = 1;
    buf frag = {0}, comp = {0};
    CU_ASSERT_EQUAL_FATAL(img_link_ex(objs, names, img.nblocks + 1, &o, NULL,
                                      &frag, &d), 0);
    img_image fi;
    CU_ASSERT_EQUAL_FATAL(img_parse("frag", frag.data, frag.len, &fi, &d), 0);
    CU_ASSERT_EQUAL(fi.nchunks, NB);
    CU_ASSERT_EQUAL(run_r1(frag.data, frag.len), ksum(k, NB));
    CU_ASSERT_EQUAL(img_compact(&fi, 0, &comp, &d), 0);
    /* Compacted: the canonical layout, i.e. a full link's bytes; smaller
     * than the fragmented one and running identically. */
    CU_ASSERT(comp.len < frag.len);
    CU_ASSERT(comp.len == len && memcmp(comp.data, full, len) == 0);
    CU_ASSERT_EQUAL(run_r1(comp.data, comp.len), ksum(k, NB));
    img_free(&fi);
    for (uint32_t i = 0; i < img.nblocks; i++) {
        free(objs[i].code);
        free(objs[i].relocs);
    }
    img_free(&img);
    free(objs);
    free(names);
    buf_free(&frag);
    buf_free(&comp);
    diag_free(&d);
    free(full);
    free(t);
}

static CU_TestInfo tests[] = {
    {"seed scenarios: none / few / all changed, removed, added",
     test_scenarios},
    {"every combination of enabled / detect / preserve", test_config},
    {"API steps one by one; errors; atomic update", test_steps_and_errors},
    {"fingerprint change and folded-block dependencies",
     test_fingerprint_and_deps},
    {"-j 1 and -j 8 give identical bytes", test_jobs_identical},
    {"in-memory programs", test_program_in_memory},
    {"programs from .vir files", test_program_file},
    {"in-memory program errors name block and op",
     test_program_errors_located},
    {"incremental vs full verification", test_verify_incremental},
    {"compaction of a fragmented image", test_compact},
    CU_TEST_INFO_NULL};

static CU_SuiteInfo suites[] = {
    {"builder", NULL, NULL, NULL, NULL, tests}, CU_SUITE_INFO_NULL};

int main(void)
{
    return tu_run(suites);
}
