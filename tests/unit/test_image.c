/* test_image.c: the AOT image: link + parse round trip, determinism,
 * chunking, link errors, each structural check, the host checks, and
 * truncation / bit flips at every position rejected without a crash. */
#include <dirent.h>
#include <elf.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <xxhash.h>

#include "aotb/aotb.h"
#include "codegen.h"
#include "codemap.h"
#include "cpu.h"
#include "image.h"
#include "interp.h"
#include "runtime.h"
#include "testutil.h"

static const char *const sum_prog =
    "entry 0x1000\n"
    "memory 0x10000\n"
    "data 0x100 u64 10\n"
    "block 0x1000 {\n"
    "    movi r1, 0x100\n"
    "    load r3, [r1], u64\n"
    "    movi r2, 0\n"
    "    jmp 0x1010\n"
    "}\n"
    "block 0x1010 {\n"
    "    add r2, r2, r3\n"
    "    addi r3, r3, -1\n"
    "    cmpne r4, r3, r0\n"
    "    condjmp r4, 0x1010, 0x1020\n"
    "}\n"
    "block 0x1020 {\n"
    "    store [r1 + 8], r2, u64\n"
    "    call 0x7000, 0x1030\n"
    "}\n";

/* ---- hand-made objects ------------------------------------------------- */

typedef struct objset {
    obj_file o[128];
    const char *names[128];
    char namebuf[128][32];
    size_t n;
} objset;

static void set_free(objset *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->o[i].code);
        free(s->o[i].relocs);
        for (size_t k = 0; k < s->o[i].ndata; k++)
            free(s->o[i].data[k].bytes);
        free(s->o[i].data);
    }
    memset(s, 0, sizeof *s);
}

static obj_file *set_add(objset *s, obj_kind kind, const char *name)
{
    obj_file *o = &s->o[s->n];
    memset(o, 0, sizeof *o);
    o->kind = kind;
    img_host_fingerprint(o->fingerprint, sizeof o->fingerprint);
    o->features = CG_FEAT_X86_64;
    snprintf(s->namebuf[s->n], sizeof s->namebuf[0], "%s", name);
    s->names[s->n] = s->namebuf[s->n];
    s->n++;
    return o;
}

static void add_meta(objset *s, uint64_t entry, uint64_t memsize)
{
    obj_file *m = set_add(s, OBJ_META, "meta.o");
    m->entry = entry;
    m->has_entry = 1;
    m->memsize = memsize;
}

/* A fake block: size bytes of nop, one jmp-style relocation to target. */
static obj_file *add_fake(objset *s, uint64_t pc, size_t size, uint64_t target)
{
    char name[32];
    snprintf(name, sizeof name, "%" PRIx64 ".o", pc);
    obj_file *o = set_add(s, OBJ_BLOCK, name);
    o->pc = pc;
    o->hash.hi = pc * 3 + 1;
    o->hash.lo = ~pc;
    o->code = malloc(size);
    memset(o->code, 0x90, size);
    o->code_len = size;
    o->relocs = calloc(1, sizeof *o->relocs);
    o->relocs[0] = (cg_reloc){1, R_X86_64_PLT32, -4, CG_TGT_BLOCK, target};
    o->nrelocs = 1;
    return o;
}

/* Real objects: the program's blocks compiled by the code generator. */
static int add_program(objset *s, const ir_program *p)
{
    cg_options opt;
    memset(&opt, 0, sizeof opt);
    obj_file *m = set_add(s, OBJ_META, "meta.o");
    m->has_entry = ir_program_entry(p, &m->entry);
    m->memsize = p->memsize;
    m->data = calloc(p->ndata + 1, sizeof *m->data);
    m->ndata = p->ndata;
    for (size_t i = 0; i < p->ndata; i++) {
        m->data[i] = p->data[i];
        m->data[i].bytes = malloc(p->data[i].len + 1);
        memcpy(m->data[i].bytes, p->data[i].bytes, p->data[i].len);
    }
    for (size_t i = 0; i < p->nblocks; i++) {
        cg_code c;
        aotb_diag d = {0};
        memset(&c, 0, sizeof c);
        if (cg_compile_block(&p->blocks[i], &opt, NULL, NULL, &c, &d) != 0) {
            printf("%s", diag_text(&d));
            diag_free(&d);
            return -1;
        }
        char name[32];
        snprintf(name, sizeof name, "%" PRIx64 ".o", p->blocks[i].pc);
        obj_file *o = set_add(s, OBJ_BLOCK, name);
        o->pc = p->blocks[i].pc;
        o->hash = ir_hash_block(&p->blocks[i]);
        o->code = malloc(c.code.len);
        memcpy(o->code, c.code.data, c.code.len);
        o->code_len = c.code.len;
        o->relocs = calloc(c.nrelocs + 1, sizeof *o->relocs);
        memcpy(o->relocs, c.relocs, c.nrelocs * sizeof *c.relocs);
        o->nrelocs = c.nrelocs;
        o->features = cg_required_features(&opt);
        cg_code_free(&c);
    }
    return 0;
}

static int link_set(const objset *s, buf *out, aotb_diag *d)
{
    memset(out, 0, sizeof *out);
    return img_link(s->o, s->names, s->n, out, d);
}

static uint64_t sec_off(const uint8_t *f, unsigned i)
{
    return get_le64(f + get_le64(f + 40) + 64 * i + 24);
}

/* Expects img_parse to fail with a message containing want. */
static void expect_parse_error(const uint8_t *f, size_t len, const char *want)
{
    aotb_diag d = {0};
    img_image img;
    int rc = img_parse("t.aot", f, len, &img, &d);
    CU_ASSERT_EQUAL(rc, -1);
    if (rc == 0)
        img_free(&img);
    if (!strstr(diag_text(&d), want))
        printf("\nwanted '%s', got: %s", want, diag_text(&d));
    CU_ASSERT_PTR_NOT_NULL(strstr(diag_text(&d), want));
    CU_ASSERT_PTR_NOT_NULL(strstr(diag_text(&d), "t.aot: "));
    diag_free(&d);
}

/* ---- tests ------------------------------------------------------------- */

static void test_round_trip(void)
{
    ir_program p;
    if (tu_parse(sum_prog, &p) != 0)
        return;
    objset s = {0};
    CU_ASSERT_EQUAL_FATAL(add_program(&s, &p), 0);
    buf out;
    aotb_diag d = {0};
    CU_ASSERT_EQUAL_FATAL(link_set(&s, &out, &d), 0);
    img_image img;
    int rc = img_parse("t.aot", out.data, out.len, &img, &d);
    if (rc != 0)
        printf("%s", diag_text(&d));
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_EQUAL(img.version, IMG_FORMAT_VERSION);
    CU_ASSERT_EQUAL(img.entry, 0x1000);
    CU_ASSERT(img.has_entry);
    CU_ASSERT_EQUAL(img.memsize, 0x10000);
    CU_ASSERT_EQUAL(img.nblocks, 3);
    CU_ASSERT_EQUAL(img.nchunks, 1);
    /* call 0x7000, 0x1030: neither has a block, so each gets a missing
     * stub (the return address is relocated too: call records the host
     * address of its code for ret). */
    CU_ASSERT_EQUAL(img.nmissing, 2);
    CU_ASSERT_EQUAL(img.missing[0].pc, 0x1030);
    CU_ASSERT_EQUAL(img.missing[1].pc, 0x7000);
    CU_ASSERT_EQUAL(img.ndata, 1);
    CU_ASSERT_EQUAL(img.datas[0].addr, 0x100);
    CU_ASSERT_EQUAL(img.datas[0].len, 8);
    CU_ASSERT_EQUAL(img.datas[0].bytes[0], 10);
    uint64_t want_pc[3] = {0x1000, 0x1010, 0x1020};
    uint8_t *chunk;
    CU_ASSERT_EQUAL_FATAL(img_chunk_decompress(&img, 0, &chunk, &d), 0);
    for (uint32_t i = 0; i < 3; i++) {
        const img_block *b = &img.blocks[i];
        CU_ASSERT_EQUAL(b->pc, want_pc[i]);
        CU_ASSERT_EQUAL(b->offset % 16, 0);
        /* The IR hash stored is the IR hash, not a hash of code. */
        CU_ASSERT(ir_hash_eq(b->hash, ir_hash_block(ir_program_find(
                                          &p, want_pc[i]))));
        const obj_file *o = &s.o[1 + i];
        CU_ASSERT_EQUAL(o->pc, b->pc);
        cg_code c;
        CU_ASSERT_EQUAL_FATAL(img_block_code(&img, i, chunk, &c, &d), 0);
        CU_ASSERT_EQUAL(c.pc, o->pc);
        CU_ASSERT_EQUAL(c.code.len, o->code_len);
        CU_ASSERT(memcmp(c.code.data, o->code, o->code_len) == 0);
        CU_ASSERT_EQUAL_FATAL(c.nrelocs, o->nrelocs);
        for (size_t k = 0; k < c.nrelocs; k++) {
            CU_ASSERT_EQUAL(c.relocs[k].offset, o->relocs[k].offset);
            CU_ASSERT_EQUAL(c.relocs[k].type, o->relocs[k].type);
            CU_ASSERT_EQUAL(c.relocs[k].addend, o->relocs[k].addend);
            CU_ASSERT_EQUAL(c.relocs[k].kind, o->relocs[k].kind);
            CU_ASSERT_EQUAL(c.relocs[k].target, o->relocs[k].target);
        }
        cg_code_free(&c);
    }
    free(chunk);
    CU_ASSERT_EQUAL(img_verify(&img, &d), 0);
    CU_ASSERT_EQUAL(img_check_host(&img, &d), 0);
    if (d.count)
        printf("%s", diag_text(&d));

    /* Native run through the loader equals the reference interpreter. */
    codemap *map;
    CU_ASSERT_EQUAL_FATAL(img_load(&img, &map, &d), 0);
    CU_ASSERT_PTR_NOT_NULL(codemap_lookup(map, 0x1010));
    CU_ASSERT_PTR_NULL(codemap_lookup(map, 0x1011));
    aotb_cpu a, b;
    CU_ASSERT_EQUAL_FATAL(cpu_init(&a, p.memsize, &d), 0);
    CU_ASSERT_EQUAL_FATAL(cpu_init(&b, p.memsize, &d), 0);
    for (size_t i = 0; i < img.ndata; i++)
        cpu_load_data(&a, img.datas[i].addr, img.datas[i].bytes,
                      img.datas[i].len, &d);
    cpu_load_data(&b, p.data[0].addr, p.data[0].bytes, p.data[0].len, &d);
    rt_run(codemap_rt(map), &a, 0x1000);
    interp_run(&p, &b, 0x1000);
    CU_ASSERT_EQUAL(a.status, AOTB_ST_NOCODE);
    CU_ASSERT_EQUAL(a.status, b.status);
    CU_ASSERT_EQUAL(a.pc, b.pc);
    CU_ASSERT_EQUAL(a.r[2], 55);
    CU_ASSERT(memcmp(a.r, b.r, sizeof a.r) == 0);
    CU_ASSERT(memcmp(a.mem + 0x100, b.mem + 0x100, 16) == 0);
    cpu_free(&a);
    cpu_free(&b);
    codemap_free(map);
    img_free(&img);

    /* The public API on the same bytes. */
    aotb_image *pi;
    aotb_cpu *pc;
    char *err = NULL;
    CU_ASSERT_EQUAL_FATAL(aotb_image_open_memory(out.data, out.len, "t.aot",
                                                 &pi, &err), 0);
    uint64_t entry;
    CU_ASSERT_EQUAL(aotb_image_entry(pi, &entry), 1);
    CU_ASSERT_EQUAL(entry, 0x1000);
    CU_ASSERT_EQUAL(aotb_image_block_count(pi), 3);
    CU_ASSERT_EQUAL(aotb_image_memsize(pi), 0x10000);
    CU_ASSERT_PTR_NOT_NULL(aotb_image_lookup(pi, 0x1020));
    CU_ASSERT_EQUAL_FATAL(aotb_cpu_new(pi, &pc, &err), 0);
    CU_ASSERT_EQUAL(aotb_cpu_set_reg(pc, 256, 1), -1);
    CU_ASSERT_EQUAL(aotb_run(pi, pc, entry, AOTB_NO_LIMIT), AOTB_STOP_NOCODE);
    CU_ASSERT_EQUAL(aotb_cpu_pc(pc), 0x7000);
    CU_ASSERT_EQUAL(aotb_cpu_get_reg(pc, 2), 55);
    uint8_t m[8];
    CU_ASSERT_EQUAL(aotb_cpu_read_mem(pc, 0x108, m, 8), 0);
    CU_ASSERT_EQUAL(m[0], 55);
    CU_ASSERT_EQUAL(aotb_cpu_read_mem(pc, 0xfffc, m, 8), -1);
    /* A budget of 3 blocks: 0x1000, 0x1010, 0x1010, then stop. */
    aotb_cpu_set_reg(pc, 2, 0);
    CU_ASSERT_EQUAL(aotb_run(pi, pc, entry, 3), AOTB_STOP_BUDGET);
    CU_ASSERT_EQUAL(aotb_cpu_pc(pc), 0x1010);
    CU_ASSERT_STRING_EQUAL(aotb_status_name(AOTB_STOP_BUDGET), "budget");
    aotb_cpu_free(pc);
    aotb_image_close(pi);

    buf_free(&out);
    set_free(&s);
    ir_program_free(&p);
    diag_free(&d);
}

static void test_deterministic(void)
{
    objset s = {0}, r = {0};
    add_meta(&s, 0x10, 0x1000);
    for (int i = 0; i < 20; i++)
        add_fake(&s, 0x10 + 0x10 * (uint64_t)i, 5 + (size_t)i, 0x10);
    /* The same objects in reverse order. */
    for (size_t i = s.n; i-- > 0;) {
        r.o[r.n] = s.o[i];
        r.names[r.n] = s.names[i];
        r.n++;
    }
    buf a, b;
    aotb_diag d = {0};
    CU_ASSERT_EQUAL_FATAL(link_set(&s, &a, &d), 0);
    CU_ASSERT_EQUAL_FATAL(link_set(&r, &b, &d), 0);
    CU_ASSERT_EQUAL(a.len, b.len);
    CU_ASSERT(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    buf_free(&a);
    buf_free(&b);
    set_free(&s);
    diag_free(&d);
}

/* img_link_fd writes the bytes img_link_ex gives (here across several
 * chunks, so many pieces), and a descriptor it cannot write to gives a
 * clean error. */
static void test_link_fd(void)
{
    objset s = {0};
    add_meta(&s, 0, 0x1000);
    for (int i = 0; i < 60; i++)
        add_fake(&s, 0x100 * (uint64_t)i, 3000 + (size_t)i, 0x100 * 61);
    buf a;
    aotb_diag d = {0};
    img_link_stats st;
    CU_ASSERT_EQUAL_FATAL(link_set(&s, &a, &d), 0);
    FILE *f = tmpfile();
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    uint64_t len = 1;
    CU_ASSERT_EQUAL(img_link_fd(s.o, s.names, s.n, NULL, &st, fileno(f),
                                "t.aot", &len, &d), 0);
    free(st.fresh);
    CU_ASSERT_TRUE(st.chunks >= 3);
    CU_ASSERT_EQUAL(len, a.len);
    uint8_t *back = malloc(a.len + 1);
    rewind(f);
    CU_ASSERT_EQUAL(fread(back, 1, a.len + 1, f), a.len);
    CU_ASSERT(memcmp(back, a.data, a.len) == 0);
    free(back);
    fclose(f);
    int fd = open("/dev/null", O_RDONLY);
    CU_ASSERT_EQUAL(img_link_fd(s.o, s.names, s.n, NULL, NULL, fd, "t.aot",
                                &len, &d), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(diag_text(&d), "t.aot: cannot write: "));
    CU_ASSERT_EQUAL(len, 0);
    close(fd);
    buf_free(&a);
    set_free(&s);
    diag_free(&d);
}

static void test_chunks(void)
{
    /* 50 blocks of 750 bytes: at 16-byte alignment each takes 752; a
     * chunk holds k blocks while 752 * (k - 1) + 750 <= 16384, so 21,
     * and 50 blocks need 21 + 21 + 8: three chunks. */
    objset s = {0};
    add_meta(&s, 0, 0x1000);
    for (int i = 0; i < 50; i++)
        add_fake(&s, 0x1000 * (uint64_t)i, 750, 0x1000 * (uint64_t)(i + 1));
    buf out;
    aotb_diag d = {0};
    CU_ASSERT_EQUAL_FATAL(link_set(&s, &out, &d), 0);
    img_image img;
    CU_ASSERT_EQUAL_FATAL(img_parse("t.aot", out.data, out.len, &img, &d), 0);
    CU_ASSERT_EQUAL(img.nchunks, 3);
    CU_ASSERT_EQUAL(img.chunks[0].nblocks, 21);
    CU_ASSERT_EQUAL(img.chunks[1].nblocks, 21);
    CU_ASSERT_EQUAL(img.chunks[2].nblocks, 8);
    CU_ASSERT_EQUAL(img.chunks[0].size, 752 * 20 + 750);
    CU_ASSERT_EQUAL(img.blocks[21].chunk, 1);
    CU_ASSERT_EQUAL(img.blocks[21].offset, 0);
    CU_ASSERT_EQUAL(img.blocks[22].offset, 752);
    CU_ASSERT_EQUAL(img.nmissing, 1);          /* the last block's target */
    CU_ASSERT_EQUAL(img.missing[0].pc, 0x1000 * 50);
    CU_ASSERT_EQUAL(img_verify(&img, &d), 0);
    if (d.count)
        printf("%s", diag_text(&d));
    img_free(&img);
    buf_free(&out);
    set_free(&s);
    diag_free(&d);
}

static void test_chunk_target(void)
{
    /* 16 KiB until the code would need 16384 chunks of it (256 MiB), then
     * doubling at each power of two, and never beyond the largest chunk a
     * reader accepts. */
    const uint64_t k16 = 16384, mib = 1024 * 1024;
    CU_ASSERT_EQUAL(img_chunk_target(0), k16);
    CU_ASSERT_EQUAL(img_chunk_target(256 * mib - 1), k16);
    CU_ASSERT_EQUAL(img_chunk_target(256 * mib), 2 * k16);
    CU_ASSERT_EQUAL(img_chunk_target(512 * mib - 1), 2 * k16);
    CU_ASSERT_EQUAL(img_chunk_target(512 * mib), 4 * k16);
    CU_ASSERT_EQUAL(img_chunk_target(UINT64_MAX), 256 * mib);
    /* What it gives always fits the section numbers, up to 4 TiB. */
    for (uint64_t t = mib; t <= 4 * mib * mib; t = t * 3 + 7)
        CU_ASSERT(t / img_chunk_target(t) < 16384 ||
                  img_chunk_target(t) == 256 * mib);
}

static void test_link_errors(void)
{
    objset s = {0};
    buf out;
    aotb_diag d = {0};
    /* No meta object. */
    add_fake(&s, 0x10, 8, 0x10);
    CU_ASSERT_EQUAL(link_set(&s, &out, &d), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(diag_text(&d), "no meta object"));
    diag_clear(&d);
    /* A duplicate pc and a different fingerprint: both reported. */
    add_meta(&s, 0x10, 0x1000);
    obj_file *o = add_fake(&s, 0x10, 8, 0x10);
    snprintf(s.namebuf[s.n - 1], 32, "dup.o");
    o = add_fake(&s, 0x20, 8, 0x10);
    snprintf(o->fingerprint, sizeof o->fingerprint, "aotb 9.9 other");
    snprintf(s.namebuf[s.n - 1], 32, "other.o");
    add_meta(&s, 0x10, 0x1000);
    snprintf(s.namebuf[s.n - 1], 32, "meta2.o");
    CU_ASSERT_EQUAL(link_set(&s, &out, &d), -1);
    const char *t = diag_text(&d);
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "dup.o: block 0x10 is also defined by "
                                     "10.o"));
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "other.o: compiled by a different aotb "
                                     "than 10.o; recompile"));
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "meta2.o: a second meta object (the "
                                     "first is meta.o)"));
    CU_ASSERT(d.count >= 3);
    CU_ASSERT_PTR_NULL(out.data);
    /* Objects another aotb compiled (codegen 1 is long gone): the link
     * says so once, rather than making an image this aotb cannot run. */
    diag_clear(&d);
    set_free(&s);
    static const char old_fp[] = "aotb 0.1.0 codegen 1 fold=0 features=x86-64";
    add_meta(&s, 0x10, 0x1000);
    add_fake(&s, 0x10, 8, 0x20);
    add_fake(&s, 0x20, 8, 0x10);
    for (size_t i = 0; i < s.n; i++)
        snprintf(s.o[i].fingerprint, sizeof s.o[i].fingerprint, "%s", old_fp);
    CU_ASSERT_EQUAL(link_set(&s, &out, &d), -1);
    t = diag_text(&d);
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "meta.o: compiled by another aotb "
                                     "(fingerprint 'aotb 0.1.0 codegen 1 "));
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "recompile"));
    CU_ASSERT_EQUAL(d.count, 1);
    CU_ASSERT_PTR_NULL(out.data);
    /* One stale object, second or first: it is the one reported, against
     * the first object this aotb could have compiled. */
    static const struct { size_t stale; const char *msg; } one[] = {
        {1, "10.o: compiled by a different aotb than meta.o; recompile"},
        {0, "meta.o: compiled by a different aotb than 10.o; recompile"},
    };
    for (size_t k = 0; k < 2; k++) {
        diag_clear(&d);
        for (size_t i = 0; i < s.n; i++)
            img_host_fingerprint(s.o[i].fingerprint, sizeof s.o[i].fingerprint);
        snprintf(s.o[one[k].stale].fingerprint, sizeof s.o[0].fingerprint,
                 "%s", old_fp);
        CU_ASSERT_EQUAL(link_set(&s, &out, &d), -1);
        CU_ASSERT_PTR_NOT_NULL(strstr(diag_text(&d), one[k].msg));
        CU_ASSERT_EQUAL(d.count, 1);
    }
    /* A relocation outside the code. */
    diag_clear(&d);
    set_free(&s);
    add_meta(&s, 0x10, 0x1000);
    o = add_fake(&s, 0x10, 8, 0x10);
    o->relocs[0].offset = 6;
    CU_ASSERT_EQUAL(link_set(&s, &out, &d), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(diag_text(&d), "10.o: relocation 0 is "
                                                 "invalid"));
    set_free(&s);
    diag_free(&d);
}

/* A small valid image for the malformed cases. */
static void small_image(buf *out)
{
    objset s = {0};
    aotb_diag d = {0};
    add_meta(&s, 0x10, 0x1000);
    add_fake(&s, 0x10, 20, 0x20);
    add_fake(&s, 0x20, 9, 0x30);   /* 0x30: missing */
    obj_file *m = &s.o[0];
    m->data = calloc(1, sizeof *m->data);
    m->data[0].addr = 0x40;
    m->data[0].len = 3;
    m->data[0].bytes = (uint8_t *)strdup("abc");
    m->ndata = 1;
    CU_ASSERT_EQUAL(link_set(&s, out, &d), 0);
    set_free(&s);
    diag_free(&d);
}

static void test_malformed(void)
{
    buf im;
    small_image(&im);
    CU_ASSERT_PTR_NOT_NULL_FATAL(im.data);
    uint8_t *f = malloc(im.len);
    size_t n = im.len;
    uint64_t hdr = sec_off(im.data, IMG_SEC_HEADER);
    uint64_t idx = sec_off(im.data, IMG_SEC_INDEX);
    uint64_t shoff = get_le64(im.data + 40);
#define FRESH() memcpy(f, im.data, n)

    FRESH();
    expect_parse_error(f, 40, "truncated");
    FRESH();
    put_le32(f + hdr + 8, 1);                  /* version, no fix-up */
    expect_parse_error(f, n, "image format version 1 is not supported by "
                             "this aotb (supports 3); rebuild the image");
    FRESH();
    f[18] = 3;                                 /* EM_386 */
    expect_parse_error(f, n, "wrong machine 3");
    FRESH();
    f[idx + 60] ^= 1;                          /* a block's code checksum */
    expect_parse_error(f, n, "section 2 (.aotb.index): checksum mismatch");
    FRESH();
    f[shoff + 64 * 3 + 16] = 1;                /* sh_addr of .aotb.data */
    tu_refresh_image_sums(f, n);
    expect_parse_error(f, n, "section 3: address");
    FRESH();
    f[shoff - 1] ^= 0;                         /* no change: still fine */
    f[IMG_SEC_HEADER] ^= 0;
    {
        aotb_diag d = {0};
        img_image img;
        CU_ASSERT_EQUAL(img_parse("t.aot", f, n, &img, &d), 0);
        img_free(&img);
        diag_free(&d);
    }
    {
        /* Padding between sections and before the section headers: only
         * the root covers it (hashed around .aotb.sums, so both sides of
         * it count). */
        unsigned shnum = (unsigned)(f[60] | f[61] << 8);
        uint64_t sums = sec_off(im.data, shnum - 2);
        int before = 0, after = 0;
        for (unsigned i = 1; i < shnum; i++) {
            uint64_t end = get_le64(im.data + shoff + 64 * i + 24) +
                           get_le64(im.data + shoff + 64 * i + 32);
            uint64_t next = i + 1 < shnum ? sec_off(im.data, i + 1) : shoff;
            if (end >= next)
                continue;
            before |= end < sums;
            after |= end > sums;
            FRESH();
            f[end] ^= 0x40;
            expect_parse_error(f, n, "root checksum mismatch");
        }
        CU_ASSERT_TRUE(before);
        CU_ASSERT_TRUE(after);
    }
    FRESH();
    put_le32(f + hdr + 28, 0xffffffffu);       /* oversized block count */
    tu_refresh_image_sums(f, n);
    expect_parse_error(f, n, "record count does not match the header's "
                             "block count");
    FRESH();
    /* Overlap: .aotb.data (section 3) placed on .aotb.index. */
    put_le64(f + shoff + 64 * 3 + 24, idx);
    tu_refresh_image_sums(f, n);
    expect_parse_error(f, n, "overlaps");
    FRESH();
    /* Index not sorted: swap the pcs of the two records. */
    put_le64(f + idx, 0x20);
    put_le64(f + idx + IMG_INDEX_REC, 0x10);
    tu_refresh_image_sums(f, n);
    expect_parse_error(f, n, "block 0x10: index not sorted by pc");
    FRESH();
    /* Index and symbol table disagree on a size. */
    put_le32(f + idx + 16, 19);
    tu_refresh_image_sums(f, n);
    expect_parse_error(f, n, "block 0x10: symbol table and index disagree");
    FRESH();
    /* A relocation pointing past its block. */
    uint64_t rela = sec_off(im.data, IMG_SEC_CHUNK0 + 1);
    put_le64(f + rela, 19);
    tu_refresh_image_sums(f, n);
    expect_parse_error(f, n, "block 0x10: relocation out of range");
    FRESH();
    /* ch_size disagrees with the zstd frame. */
    uint64_t ch = sec_off(im.data, IMG_SEC_CHUNK0);
    put_le64(f + ch + 8, get_le64(f + ch + 8) + 1);
    tu_refresh_image_sums(f, n);
    expect_parse_error(f, n, "content size does not match ch_size");
    FRESH();
    put_le32(f + ch, 1);                       /* zlib */
    tu_refresh_image_sums(f, n);
    expect_parse_error(f, n, "compression type is not zstd");
    FRESH();
    /* A data segment beyond memory. */
    uint64_t dat = sec_off(im.data, IMG_SEC_DATA);
    put_le64(f + dat + 8, 0xfff);
    tu_refresh_image_sums(f, n);
    expect_parse_error(f, n, "data segment 0 (0xfff, 3 bytes) out of range");
    FRESH();
    f[hdr + 48] ^= 0x20;                       /* "aotb" -> "Aotb" */
    tu_refresh_image_sums(f, n);
    {
        aotb_diag d = {0};
        img_image img;
        CU_ASSERT_EQUAL_FATAL(img_parse("t.aot", f, n, &img, &d), 0);
        CU_ASSERT_EQUAL(img_verify(&img, &d), -1);
        CU_ASSERT_PTR_NOT_NULL(strstr(diag_text(&d), "built by a different "
                                                     "aotb/codegen"));
        diag_clear(&d);
        CU_ASSERT_EQUAL(img_check_host(&img, &d), -1);
        img_free(&img);
        diag_free(&d);
    }
    FRESH();
    put_le32(f + hdr + 12, CG_FEAT_X86_64 | 1u << 30);  /* unknown feature */
    tu_refresh_image_sums(f, n);
    {
        aotb_diag d = {0};
        img_image img;
        CU_ASSERT_EQUAL_FATAL(img_parse("t.aot", f, n, &img, &d), 0);
        CU_ASSERT_EQUAL(img_check_host(&img, &d), -1);
        CU_ASSERT_PTR_NOT_NULL(strstr(diag_text(&d), "this CPU lacks "
                                                     "features the image's "
                                                     "code needs: bit30"));
        img_free(&img);
        diag_free(&d);
    }
    /* A decompressed block whose code checksum fails is named. */
    FRESH();
    {
        aotb_diag d = {0};
        img_image img;
        CU_ASSERT_EQUAL_FATAL(img_parse("t.aot", f, n, &img, &d), 0);
        img.blocks[1].sum[0] ^= 1;
        CU_ASSERT_EQUAL(img_verify(&img, &d), -1);
        CU_ASSERT_PTR_NOT_NULL(strstr(diag_text(&d), "block 0x20 (chunk 0): "
                                                     "code checksum "
                                                     "mismatch"));
        img_free(&img);
        diag_free(&d);
    }
#undef FRESH
    free(f);
    buf_free(&im);
}

/* Every truncation and one bit flipped in every byte: all rejected, the
 * untouched image accepted (so the loop can fail). */
static void test_damage(void)
{
    buf im;
    small_image(&im);
    CU_ASSERT_PTR_NOT_NULL_FATAL(im.data);
    aotb_diag d = {0};
    img_image img;
    CU_ASSERT_EQUAL_FATAL(img_parse("t.aot", im.data, im.len, &img, &d), 0);
    CU_ASSERT_EQUAL(img_verify(&img, &d), 0);
    img_free(&img);
    size_t accepted = 0;
    uint8_t *f = malloc(im.len);
    for (size_t len = 0; len < im.len; len++) {
        memcpy(f, im.data, len);
        if (img_parse("t.aot", f, len, &img, &d) == 0) {
            accepted++;
            img_free(&img);
        }
        diag_clear(&d);
    }
    CU_ASSERT_EQUAL(accepted, 0);
    accepted = 0;
    for (size_t i = 0; i < im.len; i++) {
        memcpy(f, im.data, im.len);
        f[i] ^= (uint8_t)(1u << (i % 8));
        if (img_parse("t.aot", f, im.len, &img, &d) == 0) {
            if (img_verify(&img, &d) == 0) {
                accepted++;
                printf("\nbit flip at byte %zu accepted\n", i);
            }
            img_free(&img);
        }
        diag_clear(&d);
    }
    CU_ASSERT_EQUAL(accepted, 0);
    free(f);
    diag_free(&d);
    buf_free(&im);
}


/* Links .vir text into image bytes in *out; 0 on success. */
static int image_of(const char *text, buf *out)
{
    ir_program p;
    if (tu_parse(text, &p) != 0)
        return -1;
    objset s = {0};
    aotb_diag d = {0};
    int rc = add_program(&s, &p) == 0 && link_set(&s, out, &d) == 0 ? 0 : -1;
    if (rc != 0)
        printf("%s", diag_text(&d));
    set_free(&s);
    ir_program_free(&p);
    diag_free(&d);
    return rc;
}

/* A CPU stopped inside two calls (interrupt with resume) and resumed with
 * another image: every ret must reach the new image's code for the pushed
 * guest pc, never an address recorded in the old mapping (which would run
 * the old 0x2010 while the old image is open, and could crash once it is
 * closed).  Expected by hand: r1 = 1 + 10 + 20000, then 5000 (the new
 * 0x2010) and 100.  Then the same CPU back on the old image: its 0x2010
 * adds 1000 again. */
static void test_cpu_moves_image(void)
{
    static const char *const v1 =
        "entry 0x1000\nmemory 0x1000\n"
        "block 0x1000 {\n movi r1, 1\n call 0x2000, 0x1010\n}\n"
        "block 0x1010 {\n addi r1, r1, 100\n ret\n}\n"
        "block 0x2000 {\n addi r1, r1, 10\n call 0x3000, 0x2010\n}\n"
        "block 0x2010 {\n addi r1, r1, 1000\n ret\n}\n"
        "block 0x3000 {\n addi r1, r1, 20000\n interrupt 5, 0x3010\n}\n"
        "block 0x3010 {\n ret\n}\n";
    static const char *const v2 =
        "entry 0x1000\nmemory 0x1000\n"
        "block 0x1000 {\n movi r1, 1\n call 0x2000, 0x1010\n}\n"
        "block 0x1010 {\n addi r1, r1, 100\n ret\n}\n"
        "block 0x2000 {\n addi r1, r1, 10\n call 0x3000, 0x2010\n}\n"
        "block 0x2010 {\n addi r1, r1, 5000\n ret\n}\n"
        "block 0x3000 {\n addi r1, r1, 20000\n interrupt 5, 0x3010\n}\n"
        "block 0x3010 {\n ret\n}\n";
    buf a = {0}, b = {0};
    CU_ASSERT_EQUAL_FATAL(image_of(v1, &a), 0);
    CU_ASSERT_EQUAL_FATAL(image_of(v2, &b), 0);
    aotb_image *ia, *ib;
    aotb_cpu *cpu;
    char *err = NULL;
    CU_ASSERT_EQUAL_FATAL(aotb_image_open_memory(a.data, a.len, "a.aot", &ia,
                                                 &err), 0);
    CU_ASSERT_EQUAL_FATAL(aotb_cpu_new(ia, &cpu, &err), 0);
    CU_ASSERT_EQUAL(aotb_run(ia, cpu, 0x1000, AOTB_NO_LIMIT),
                    AOTB_STOP_INTERRUPT);
    CU_ASSERT_EQUAL(aotb_cpu_pc(cpu), 0x3010);
    CU_ASSERT_EQUAL(aotb_cpu_get_reg(cpu, 1), 20011);
    CU_ASSERT_EQUAL_FATAL(aotb_image_open_memory(b.data, b.len, "b.aot", &ib,
                                                 &err), 0);
    CU_ASSERT_EQUAL(aotb_run(ib, cpu, 0x3010, AOTB_NO_LIMIT), AOTB_STOP_RET);
    CU_ASSERT_EQUAL(aotb_cpu_pc(cpu), 0x1010);
    CU_ASSERT_EQUAL(aotb_cpu_get_reg(cpu, 1), 25111);

    /* Into the calls on b, resumed on a. */
    CU_ASSERT_EQUAL(aotb_run(ib, cpu, 0x1000, AOTB_NO_LIMIT),
                    AOTB_STOP_INTERRUPT);
    CU_ASSERT_EQUAL(aotb_run(ia, cpu, 0x3010, AOTB_NO_LIMIT), AOTB_STOP_RET);
    CU_ASSERT_EQUAL(aotb_cpu_get_reg(cpu, 1), 21111);
    aotb_cpu_free(cpu);
    aotb_image_close(ia);
    aotb_image_close(ib);
    buf_free(&a);
    buf_free(&b);
}

/* img_block_sym writes CG_BLOCK_SYM_FMT (by hand), truncating like
 * snprintf. */
static void test_block_sym(void)
{
    static const uint64_t pcs[] = {0, 1, 0x10, 0x1000, 0x1234abcd5678ef09ull,
                                   0xdeadbeefcafef00dull,
                                   0x0123456789abcdefull, UINT64_MAX};
    for (size_t i = 0; i < sizeof pcs / sizeof pcs[0]; i++) {
        char want[40], got[40];
        snprintf(want, sizeof want, CG_BLOCK_SYM_FMT, pcs[i]);
        memset(got, 'x', sizeof got);
        img_block_sym(pcs[i], got, sizeof got);
        CU_ASSERT_STRING_EQUAL(got, want);
        memset(got, 'x', sizeof got);
        img_block_sym(pcs[i], got, 12);               /* too small: cut */
        CU_ASSERT_EQUAL(strlen(got), 11);
        CU_ASSERT_EQUAL(memcmp(got, want, 11), 0);
    }
}

/* img_sum_root, the root checksum over pieces, is img_sum over their bytes
 * one after the other with the root slot (bytes 16..31) of the .aotb.sums
 * piece zeroed, however the bytes are cut into pieces; and the root slot's
 * own bytes do not count, any other byte does. */
static void test_sum_root(void)
{
    uint8_t data[10000], copy[10000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 131 + 7);
    /* {cut points..., 0}: the pieces; sums: which piece is .aotb.sums */
    static const struct { size_t cut[6]; int sums; } cases[] = {
        {{10000}, 0},
        {{32, 10000}, 0},
        {{5, 4101, 9000, 10000}, 1},
        {{100, 9000, 9968, 10000}, 2},
        {{0, 64, 64, 10000}, 1},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        struct iovec iov[6];
        int n = 0;
        size_t at = 0, sums_at = 0;
        for (; at < sizeof data; n++) {
            size_t end = cases[c].cut[n];
            iov[n] = (struct iovec){data + at, end - at};
            if (n == cases[c].sums)
                sums_at = at;
            at = end;
        }
        uint8_t a[IMG_SUM_SIZE], b[IMG_SUM_SIZE];
        memcpy(copy, data, sizeof data);
        memset(copy + sums_at + 16, 0, IMG_SUM_SIZE);
        img_sum(copy, sizeof copy, a);
        img_sum_root(iov, n, cases[c].sums, b);
        CU_ASSERT(memcmp(a, b, IMG_SUM_SIZE) == 0);
        /* a byte of the root slot does not count; the bytes around it do */
        data[sums_at + 16 + 5] ^= 1;
        img_sum_root(iov, n, cases[c].sums, b);
        CU_ASSERT(memcmp(a, b, IMG_SUM_SIZE) == 0);
        data[sums_at + 16 + 5] ^= 1;
        size_t other[] = {sums_at + 15, sums_at + 32, sizeof data - 1};
        for (size_t k = 0; k < 3; k++) {
            data[other[k]] ^= 1;
            img_sum_root(iov, n, cases[c].sums, b);
            CU_ASSERT(memcmp(a, b, IMG_SUM_SIZE) != 0);
            data[other[k]] ^= 1;
        }
    }
}

/* file_write_iov: many pieces (more than one writev takes), empty ones
 * among them, give the bytes one after the other, and a descriptor it
 * cannot write to fails; and a link written straight to a file
 * (img_link_fd) is the image img_link gives in memory. */
static void test_write_pieces(void)
{
    enum { N = 200 };
    struct iovec iov[N];
    uint8_t *want = malloc(N * 300), *p = want;
    static uint8_t bytes[N][300];
    for (int i = 0; i < N; i++) {
        size_t len = (size_t)(i * 37 % 300);
        if (i % 17 == 0)
            len = 0;
        for (size_t k = 0; k < len; k++)
            bytes[i][k] = (uint8_t)(i + k);
        iov[i] = (struct iovec){bytes[i], len};
        memcpy(p, bytes[i], len);
        p += len;
    }
    FILE *f = tmpfile();
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL_FATAL(file_write_iov(fileno(f), iov, N), 0);
    CU_ASSERT_EQUAL_FATAL(file_write_iov(fileno(f), iov, 0), 0);
    size_t wlen = (size_t)(p - want);
    uint8_t *back = malloc(wlen + 1);
    rewind(f);
    CU_ASSERT(fread(back, 1, wlen + 1, f) == wlen &&
              memcmp(back, want, wlen) == 0);
    free(back);
    fclose(f);
    free(want);
    int fd = open("/dev/null", O_RDONLY);
    CU_ASSERT_EQUAL(file_write_iov(fd, iov, N), -1);
    close(fd);

    /* 40 chunks (max_chunk_blocks 1), so well over one writev's pieces. */
    aotb_diag d = {0};
    objset o = {0};
    add_meta(&o, 0, 0x1000);
    for (int i = 0; i < 40; i++)
        add_fake(&o, 0x1000 * (uint64_t)i, 100 + 13 * (size_t)i,
                 0x1000 * (uint64_t)(i + 1));
    img_link_opts lo;
    memset(&lo, 0, sizeof lo);
    lo.max_chunk_blocks = 1;
    buf mem = {0};
    img_link_stats sa, sb;
    CU_ASSERT_EQUAL_FATAL(img_link_ex(o.o, o.names, o.n, &lo, &sa, &mem, &d), 0);
    f = tmpfile();
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    uint64_t flen = 0;
    CU_ASSERT_EQUAL_FATAL(img_link_fd(o.o, o.names, o.n, &lo, &sb, fileno(f),
                                      "direct.aot", &flen, &d), 0);
    CU_ASSERT_EQUAL(flen, mem.len);
    back = malloc(mem.len + 1);
    rewind(f);
    CU_ASSERT(fread(back, 1, mem.len + 1, f) == mem.len &&
              memcmp(back, mem.data, mem.len) == 0);
    CU_ASSERT(memcmp(sa.root, sb.root, IMG_SUM_SIZE) == 0);
    free(back);
    fclose(f);
    free(sb.fresh);
    /* A write that fails is the link's error, named by the path given. */
    fd = open("/dev/null", O_RDONLY);
    CU_ASSERT_EQUAL(img_link_fd(o.o, o.names, o.n, &lo, &sb, fd, "x.aot",
                                &flen, &d), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(diag_text(&d), "x.aot: cannot write"));
    CU_ASSERT_EQUAL(flen, 0);
    close(fd);
    free(sa.fresh);
    buf_free(&mem);
    set_free(&o);
    diag_free(&d);
}

/* The file writers: each replaces the file whole and leaves no temporary;
 * the _if_changed ones leave identical bytes alone (same inode, returns 0)
 * and write different ones (returns 1); what they write is a new file
 * with mode 0644 (the temporary's 0600 changed); a directory that is not
 * there is an error that names the path.  (That a cache's old file goes
 * before the rename shows only in the time the rename takes.) */
static int count_tmps(const char *dir)
{
    DIR *dh = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (dh && (e = readdir(dh)))
        n += strstr(e->d_name, ".tmp.") != NULL;
    if (dh)
        closedir(dh);
    return n;
}

static int holds(const char *path, const char *text)
{
    char got[64] = {0};
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(got, 1, sizeof got - 1, f) : 0;
    if (f)
        fclose(f);
    return n == strlen(text) && memcmp(got, text, n) == 0;
}

static void test_file_writers(void)
{
    char path[512], bad[512];
    snprintf(path, sizeof path, "%s/writers.out", tu_tmpdir());
    snprintf(bad, sizeof bad, "%s/no-such-dir/x.out", tu_tmpdir());
    aotb_diag d = {0};
    struct stat a, b;
    int (*cache_kind[])(const char *, const void *, size_t, aotb_diag *) = {
        file_write_if_changed, file_write_cache_if_changed};
    for (int k = 0; k < 2; k++) {
        unlink(path);
        CU_ASSERT_EQUAL(cache_kind[k](path, "one", 3, &d), 1);
        CU_ASSERT(holds(path, "one"));
        CU_ASSERT_EQUAL_FATAL(stat(path, &a), 0);
        CU_ASSERT_EQUAL(cache_kind[k](path, "one", 3, &d), 0);
        CU_ASSERT_EQUAL_FATAL(stat(path, &b), 0);
        CU_ASSERT_EQUAL(a.st_ino, b.st_ino);
        CU_ASSERT_EQUAL(cache_kind[k](path, "two!", 4, &d), 1);
        CU_ASSERT(holds(path, "two!"));
        CU_ASSERT_EQUAL(cache_kind[k](bad, "x", 1, &d), -1);
    }
    CU_ASSERT_EQUAL_FATAL(stat(path, &a), 0);
    CU_ASSERT_EQUAL(file_write_cache(path, "three", 5, &d), 0);
    CU_ASSERT(holds(path, "three"));
    CU_ASSERT_EQUAL_FATAL(stat(path, &b), 0);
    CU_ASSERT(a.st_ino != b.st_ino);
    CU_ASSERT_EQUAL(b.st_mode & 0777, 0644);
    CU_ASSERT_EQUAL(file_write_atomic(path, "five", 4, &d), 0);
    CU_ASSERT(holds(path, "five"));
    CU_ASSERT_EQUAL(count_tmps(tu_tmpdir()), 0);
    CU_ASSERT_EQUAL(d.count, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(diag_text(&d), bad));
    diag_clear(&d);
    CU_ASSERT_EQUAL(file_write_cache(bad, "x", 1, &d), -1);
    CU_ASSERT_EQUAL(file_write_atomic(bad, "x", 1, &d), -1);
    CU_ASSERT_EQUAL(d.count, 2);
    unlink(path);
    diag_free(&d);
}

static CU_TestInfo tests[] = {
    {"block symbol names", test_block_sym},
    {"the root checksum over its pieces", test_sum_root},
    {"writes from pieces", test_write_pieces},
    {"file writers replace whole, if_changed keeps", test_file_writers},
    {"link + parse + load round trip", test_round_trip},
    {"output independent of object order", test_deterministic},
    {"blocks split into ~16 KiB chunks", test_chunks},
    {"the chunk size limit grows with the code", test_chunk_target},
    {"linked straight into a file", test_link_fd},
    {"link errors collected and named", test_link_errors},
    {"each structural check", test_malformed},
    {"truncation and bit flips rejected", test_damage},
    {"a CPU resumed with another image", test_cpu_moves_image},
    CU_TEST_INFO_NULL};

static CU_SuiteInfo suites[] = {
    {"image", NULL, NULL, NULL, NULL, tests}, CU_SUITE_INFO_NULL};

int main(void)
{
    return tu_run(suites);
}
