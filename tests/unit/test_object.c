/* test_object.c: the per-block ELF object writer and reader (object.c).
 * Objects are built from hand-made cg_code values, then checked two ways:
 * parsed independently here with <elf.h> structs against the layout the
 * format defines (section set, symbol order, note descriptor bytes, meta and
 * data bytes written out by hand), and read back with obj_read.  Malformed
 * input of every class must give -1 and a message naming the file. */
#include <elf.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "object.h"
#include "testutil.h"

#define FP "aotb 0.1.0 test-fingerprint"

/* ---------------------------------------------------------------- helpers */

static void code_init(cg_code *c, uint64_t pc, size_t len)
{
    memset(c, 0, sizeof *c);
    c->pc = pc;
    for (size_t i = 0; i < len; i++)
        buf_put8(&c->code, (uint8_t)(0x90 + i * 7));
}

static void add_reloc(cg_code *c, uint32_t off, uint32_t type, int64_t add,
                      uint8_t kind, uint64_t target)
{
    cg_reloc *n = realloc(c->relocs, (c->nrelocs + 1) * sizeof *n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(n);
    c->relocs = n;
    memset(&n[c->nrelocs], 0, sizeof *n);
    n[c->nrelocs].offset = off;
    n[c->nrelocs].type = type;
    n[c->nrelocs].addend = add;
    n[c->nrelocs].kind = kind;
    n[c->nrelocs].target = target;
    c->nrelocs++;
}

static void code_free(cg_code *c)
{
    buf_free(&c->code);
    free(c->relocs);
    memset(c, 0, sizeof *c);
}

static const ir_hash H1 = {0x0123456789abcdefULL, 0xfedcba9876543210ULL};

static void build_block_ok(const cg_code *c, const obj_dep *deps, size_t nd,
                           buf *out)
{
    aotb_diag d = {0};
    int rc = obj_build_block(c, H1, deps, nd, FP, CG_FEAT_X86_64 | CG_FEAT_BMI2,
                             out, &d);
    if (rc != 0)
        fprintf(stderr, "obj_build_block: %s", diag_text(&d));
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    diag_free(&d);
}

/* Independent view of an ELF64 file, trusting nothing but <elf.h>. */
typedef struct view {
    const uint8_t *p;
    size_t len;
    Elf64_Ehdr eh;
} view;

static int view_init(view *v, const buf *b)
{
    v->p = b->data;
    v->len = b->len;
    if (b->len < sizeof v->eh)
        return -1;
    memcpy(&v->eh, b->data, sizeof v->eh);
    return 0;
}

static Elf64_Shdr view_shdr(const view *v, unsigned i)
{
    Elf64_Shdr sh;
    memcpy(&sh, v->p + v->eh.e_shoff + i * sizeof sh, sizeof sh);
    return sh;
}

static const char *view_secname(const view *v, unsigned i)
{
    Elf64_Shdr str = view_shdr(v, v->eh.e_shstrndx);
    return (const char *)v->p + str.sh_offset + view_shdr(v, i).sh_name;
}

/* Index of the named section, 0 if none. */
static unsigned view_find(const view *v, const char *name)
{
    for (unsigned i = 1; i < v->eh.e_shnum; i++)
        if (strcmp(view_secname(v, i), name) == 0)
            return i;
    return 0;
}

static Elf64_Sym view_sym(const view *v, unsigned i)
{
    Elf64_Shdr st = view_shdr(v, view_find(v, ".symtab"));
    Elf64_Sym s;
    memcpy(&s, v->p + st.sh_offset + i * sizeof s, sizeof s);
    return s;
}

static const char *view_symname(const view *v, unsigned i)
{
    Elf64_Shdr str = view_shdr(v, view_find(v, ".strtab"));
    return (const char *)v->p + str.sh_offset + view_sym(v, i).st_name;
}

/* Offset in the file of the note descriptor. */
static size_t view_desc(const view *v, uint32_t *descsz)
{
    Elf64_Shdr n = view_shdr(v, view_find(v, ".aotb.note"));
    Elf64_Nhdr nh;
    memcpy(&nh, v->p + n.sh_offset, sizeof nh);
    *descsz = nh.n_descsz;
    return n.sh_offset + sizeof nh + 8;
}

static int read_obj(const buf *b, obj_file *o, aotb_diag *d)
{
    return obj_read("t.o", b->data, b->len, o, d);
}

static void read_ok(const buf *b, obj_file *o)
{
    aotb_diag d = {0};
    int rc = read_obj(b, o, &d);
    if (rc != 0)
        fprintf(stderr, "obj_read: %s", diag_text(&d));
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    diag_free(&d);
}

/* obj_read must fail with a message naming the file; returns the text. */
static void read_bad(const uint8_t *p, size_t len, const char *want)
{
    obj_file o;
    aotb_diag d = {0};
    int rc = obj_read("bad.o", p, len, &o, &d);
    CU_ASSERT_EQUAL(rc, -1);
    CU_ASSERT_TRUE(d.count > 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(diag_text(&d), "bad.o"));
    if (want && !strstr(diag_text(&d), want)) {
        fprintf(stderr, "wanted '%s' in: %s", want, diag_text(&d));
        CU_FAIL("message");
    }
    if (rc == 0)
        obj_free(&o);
    diag_free(&d);
}

static void check_roundtrip(const cg_code *c, const obj_dep *deps, size_t nd)
{
    buf b = {0};
    obj_file o;
    build_block_ok(c, deps, nd, &b);
    read_ok(&b, &o);
    CU_ASSERT_EQUAL(o.kind, OBJ_BLOCK);
    CU_ASSERT_EQUAL(o.pc, c->pc);
    CU_ASSERT_TRUE(ir_hash_eq(o.hash, H1));
    CU_ASSERT_STRING_EQUAL(o.fingerprint, FP);
    CU_ASSERT_EQUAL(o.features, CG_FEAT_X86_64 | CG_FEAT_BMI2);
    CU_ASSERT_EQUAL_FATAL(o.code_len, c->code.len);
    CU_ASSERT_EQUAL(memcmp(o.code, c->code.data, o.code_len), 0);
    CU_ASSERT_EQUAL_FATAL(o.nrelocs, c->nrelocs);
    for (size_t i = 0; i < o.nrelocs; i++) {
        CU_ASSERT_EQUAL(o.relocs[i].offset, c->relocs[i].offset);
        CU_ASSERT_EQUAL(o.relocs[i].type, c->relocs[i].type);
        CU_ASSERT_EQUAL(o.relocs[i].addend, c->relocs[i].addend);
        CU_ASSERT_EQUAL(o.relocs[i].kind, c->relocs[i].kind);
        CU_ASSERT_EQUAL(o.relocs[i].target, c->relocs[i].target);
    }
    CU_ASSERT_EQUAL_FATAL(o.ndeps, nd);
    for (size_t i = 0; i < nd; i++) {
        CU_ASSERT_EQUAL(o.deps[i].pc, deps[i].pc);
        CU_ASSERT_TRUE(ir_hash_eq(o.deps[i].hash, deps[i].hash));
    }
    obj_free(&o);
    buf_free(&b);
}

/* ---------------------------------------------------------------- blocks */

static void test_block_no_relocs(void)
{
    cg_code c;
    code_init(&c, 0x1000, 13);
    check_roundtrip(&c, NULL, 0);
    code_free(&c);
}

static void test_block_one_reloc_each(void)
{
    cg_code c;
    code_init(&c, 0x2000, 32);
    add_reloc(&c, 10, R_X86_64_PLT32, -4, CG_TGT_BLOCK, 0x3000);
    check_roundtrip(&c, NULL, 0);
    code_free(&c);
    for (unsigned r = 0; r < CG_RT_NUM; r++) {
        code_init(&c, 0x2000, 32);
        add_reloc(&c, 28, R_X86_64_PC32, -4, CG_TGT_RT, r);  /* last 4 bytes */
        check_roundtrip(&c, NULL, 0);
        code_free(&c);
    }
    /* A branch to itself (a loop) uses the block's own defined symbol. */
    code_init(&c, 0x2000, 32);
    add_reloc(&c, 0, R_X86_64_PLT32, -4, CG_TGT_BLOCK, 0x2000);
    check_roundtrip(&c, NULL, 0);
    code_free(&c);
}

static void test_block_many_relocs(void)
{
    cg_code c;
    code_init(&c, 0xffffffffffff0000ULL, 600);
    for (unsigned i = 0; i < 140; i++) {
        if (i % 4 == 3)
            add_reloc(&c, i * 4, R_X86_64_PC32, -(int64_t)i, CG_TGT_RT,
                      i % CG_RT_NUM);
        else
            add_reloc(&c, i * 4 + 1, R_X86_64_PLT32, INT64_MIN + i,
                      CG_TGT_BLOCK, (uint64_t)(i % 37) * 0x1111111111ULL);
    }
    add_reloc(&c, 596, R_X86_64_PLT32, 0, CG_TGT_BLOCK, UINT64_MAX);
    obj_dep deps[3] = {{0x10, {1, 2}}, {UINT64_MAX, {UINT64_MAX, 0}},
                       {0, {0, 0}}};
    check_roundtrip(&c, deps, 3);
    code_free(&c);
}

/* The layout checked byte by byte against the format's definition. */
static void test_block_layout(void)
{
    cg_code c;
    buf b = {0};
    view v;
    code_init(&c, 0x1234, 20);
    add_reloc(&c, 4, R_X86_64_PLT32, -4, CG_TGT_BLOCK, 0x5000);
    add_reloc(&c, 9, R_X86_64_PC32, -8, CG_TGT_RT, CG_RT_EXIT);
    add_reloc(&c, 14, R_X86_64_PLT32, -4, CG_TGT_BLOCK, 0x5000);
    add_reloc(&c, 16, R_X86_64_PLT32, -4, CG_TGT_BLOCK, 0x1000);
    aotb_diag d = {0};
    CU_ASSERT_EQUAL_FATAL(obj_build_block(&c, H1, NULL, 0, "ab", 5, &b, &d),
                          0);
    CU_ASSERT_EQUAL_FATAL(view_init(&v, &b), 0);
    CU_ASSERT_EQUAL(memcmp(v.eh.e_ident, ELFMAG, SELFMAG), 0);
    CU_ASSERT_EQUAL(v.eh.e_ident[EI_CLASS], ELFCLASS64);
    CU_ASSERT_EQUAL(v.eh.e_ident[EI_DATA], ELFDATA2LSB);
    CU_ASSERT_EQUAL(v.eh.e_type, ET_REL);
    CU_ASSERT_EQUAL(v.eh.e_machine, EM_X86_64);
    CU_ASSERT_EQUAL(v.eh.e_phnum, 0);
    CU_ASSERT_EQUAL_FATAL(v.eh.e_shnum, 7);
    static const char *const names[] = {"", ".text", ".rela.text",
        ".aotb.note", ".symtab", ".strtab", ".shstrtab"};
    for (unsigned i = 1; i < 7; i++)
        CU_ASSERT_STRING_EQUAL(view_secname(&v, i), names[i]);
    Elf64_Shdr text = view_shdr(&v, 1), rela = view_shdr(&v, 2),
               note = view_shdr(&v, 3), sym = view_shdr(&v, 4);
    CU_ASSERT_EQUAL(text.sh_type, SHT_PROGBITS);
    CU_ASSERT_EQUAL(text.sh_flags, SHF_ALLOC | SHF_EXECINSTR);
    CU_ASSERT_EQUAL(text.sh_addralign, 16);
    CU_ASSERT_EQUAL(text.sh_offset % 16, 0);
    CU_ASSERT_EQUAL(text.sh_size, 20);
    CU_ASSERT_EQUAL(memcmp(b.data + text.sh_offset, c.code.data, 20), 0);
    CU_ASSERT_EQUAL(rela.sh_type, SHT_RELA);
    CU_ASSERT_EQUAL(rela.sh_flags, SHF_INFO_LINK);
    CU_ASSERT_EQUAL(rela.sh_link, 4);
    CU_ASSERT_EQUAL(rela.sh_info, 1);
    CU_ASSERT_EQUAL(rela.sh_entsize, 24);
    CU_ASSERT_EQUAL(rela.sh_size, 4 * 24);
    CU_ASSERT_EQUAL(note.sh_type, SHT_PROGBITS);
    CU_ASSERT_EQUAL(note.sh_flags, 0);
    CU_ASSERT_EQUAL(note.sh_addralign, 4);
    CU_ASSERT_EQUAL(sym.sh_type, SHT_SYMTAB);
    CU_ASSERT_EQUAL(sym.sh_link, 5);
    CU_ASSERT_EQUAL(sym.sh_info, 2);
    CU_ASSERT_EQUAL(sym.sh_entsize, 24);
    /* null, section, then globals sorted: blk_1000, blk_1234 (own),
     * blk_5000, aotb_rt_exit sorts before aotb_blk?  'b' < 'r': no. */
    CU_ASSERT_EQUAL_FATAL(sym.sh_size, 6 * 24);
    Elf64_Sym s0 = view_sym(&v, 0), s1 = view_sym(&v, 1);
    CU_ASSERT_EQUAL(s0.st_info | s0.st_name | s0.st_shndx, 0);
    CU_ASSERT_EQUAL(s1.st_info, ELF64_ST_INFO(STB_LOCAL, STT_SECTION));
    CU_ASSERT_EQUAL(s1.st_shndx, 1);
    static const char *const want[] = {"aotb_blk_0000000000001000",
        "aotb_blk_0000000000001234", "aotb_blk_0000000000005000",
        "aotb_rt_exit"};
    for (unsigned i = 0; i < 4; i++) {
        Elf64_Sym s = view_sym(&v, i + 2);
        CU_ASSERT_STRING_EQUAL(view_symname(&v, i + 2), want[i]);
        CU_ASSERT_EQUAL(ELF64_ST_BIND(s.st_info), STB_GLOBAL);
        if (i == 1) {
            CU_ASSERT_EQUAL(ELF64_ST_TYPE(s.st_info), STT_FUNC);
            CU_ASSERT_EQUAL(s.st_shndx, 1);
            CU_ASSERT_EQUAL(s.st_value, 0);
            CU_ASSERT_EQUAL(s.st_size, 20);
        } else {
            CU_ASSERT_EQUAL(ELF64_ST_TYPE(s.st_info), STT_NOTYPE);
            CU_ASSERT_EQUAL(s.st_shndx, SHN_UNDEF);
        }
    }
    /* Relocations in order, against the symbols above. */
    static const struct { uint64_t off; unsigned sym, type; int64_t add; }
        wr[] = {{4, 4, R_X86_64_PLT32, -4}, {9, 5, R_X86_64_PC32, -8},
                {14, 4, R_X86_64_PLT32, -4}, {16, 2, R_X86_64_PLT32, -4}};
    for (unsigned i = 0; i < 4; i++) {
        Elf64_Rela r;
        memcpy(&r, b.data + rela.sh_offset + i * sizeof r, sizeof r);
        CU_ASSERT_EQUAL(r.r_offset, wr[i].off);
        CU_ASSERT_EQUAL(ELF64_R_SYM(r.r_info), wr[i].sym);
        CU_ASSERT_EQUAL(ELF64_R_TYPE(r.r_info), wr[i].type);
        CU_ASSERT_EQUAL(r.r_addend, wr[i].add);
    }
    /* The note: header, "aotb\0" padded, then the descriptor. */
    static const uint8_t wnote[] = {
        5, 0, 0, 0, 48, 0, 0, 0, 1, 0, 0, 0, 'a', 'o', 't', 'b', 0, 0, 0, 0,
        1, 0, 0, 0,                                 /* version */
        0, 0, 0, 0,                                 /* kind block */
        0x34, 0x12, 0, 0, 0, 0, 0, 0,               /* pc */
        0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01,   /* hash hi */
        0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe,   /* hash lo */
        5, 0, 0, 0,                                 /* features */
        2, 0, 0, 0, 'a', 'b', 0, 0,                 /* fingerprint */
        0, 0, 0, 0,                                 /* no folded blocks */
    };
    CU_ASSERT_EQUAL_FATAL(note.sh_size, sizeof wnote);
    CU_ASSERT_EQUAL(memcmp(b.data + note.sh_offset, wnote, sizeof wnote), 0);
    diag_free(&d);
    buf_free(&b);
    code_free(&c);
}

static void test_block_deps_layout(void)
{
    cg_code c;
    buf b = {0};
    view v;
    obj_dep dep = {0x40, {0x1111, 0x2222}};
    code_init(&c, 0x30, 8);
    build_block_ok(&c, &dep, 1, &b);
    CU_ASSERT_EQUAL_FATAL(view_init(&v, &b), 0);
    uint32_t n;
    size_t off = view_desc(&v, &n);
    size_t fpl = strlen(FP), p = (40 + fpl + 3) / 4 * 4;
    CU_ASSERT_EQUAL_FATAL(n, p + 4 + 24);
    CU_ASSERT_EQUAL(get_le32(b.data + off + 36), fpl);
    CU_ASSERT_EQUAL(memcmp(b.data + off + 40, FP, fpl), 0);
    CU_ASSERT_EQUAL(get_le32(b.data + off + p), 1);
    CU_ASSERT_EQUAL(get_le64(b.data + off + p + 4), 0x40);
    CU_ASSERT_EQUAL(get_le64(b.data + off + p + 12), 0x1111);
    CU_ASSERT_EQUAL(get_le64(b.data + off + p + 20), 0x2222);
    buf_free(&b);
    code_free(&c);
}

static void test_determinism(void)
{
    cg_code c1, c2;
    buf b1 = {0}, b2 = {0};
    code_init(&c1, 0x77, 50);
    add_reloc(&c1, 3, R_X86_64_PLT32, -4, CG_TGT_BLOCK, 0x99);
    add_reloc(&c1, 9, R_X86_64_PC32, -4, CG_TGT_RT, CG_RT_LOOKUP);
    /* Same content in different memory, with garbage in the unused bytes of
     * the allocations around it. */
    code_init(&c2, 0x77, 0);
    buf_reserve(&c2.code, 4096);
    memset(c2.code.data, 0xa5, 4096);
    buf_append(&c2.code, c1.code.data, c1.code.len);
    add_reloc(&c2, 3, R_X86_64_PLT32, -4, CG_TGT_BLOCK, 0x99);
    add_reloc(&c2, 9, R_X86_64_PC32, -4, CG_TGT_RT, CG_RT_LOOKUP);
    build_block_ok(&c1, NULL, 0, &b1);
    build_block_ok(&c2, NULL, 0, &b2);
    CU_ASSERT_EQUAL_FATAL(b1.len, b2.len);
    CU_ASSERT_EQUAL(memcmp(b1.data, b2.data, b1.len), 0);
    /* A different input gives different bytes. */
    buf b3 = {0};
    c2.relocs[0].target = 0x98;
    build_block_ok(&c2, NULL, 0, &b3);
    CU_ASSERT_TRUE(b3.len != b1.len || memcmp(b1.data, b3.data, b1.len));
    buf_free(&b1);
    buf_free(&b2);
    buf_free(&b3);
    code_free(&c1);
    code_free(&c2);
}

static void test_writer_rejects(void)
{
    cg_code c;
    buf b = {0};
    aotb_diag d = {0};
    char longfp[300];
    code_init(&c, 0x10, 8);
    add_reloc(&c, 5, R_X86_64_PLT32, -4, CG_TGT_BLOCK, 0);   /* 5 + 4 > 8 */
    CU_ASSERT_EQUAL(obj_build_block(&c, H1, NULL, 0, FP, 0, &b, &d), -1);
    c.relocs[0].offset = 4;
    c.relocs[0].type = R_X86_64_64;
    CU_ASSERT_EQUAL(obj_build_block(&c, H1, NULL, 0, FP, 0, &b, &d), -1);
    c.relocs[0].type = R_X86_64_PC32;
    c.relocs[0].kind = CG_TGT_RT;
    c.relocs[0].target = CG_RT_NUM;
    CU_ASSERT_EQUAL(obj_build_block(&c, H1, NULL, 0, FP, 0, &b, &d), -1);
    c.relocs[0].target = CG_RT_EXIT;
    memset(longfp, 'x', sizeof longfp - 1);
    longfp[sizeof longfp - 1] = '\0';
    CU_ASSERT_EQUAL(obj_build_block(&c, H1, NULL, 0, longfp, 0, &b, &d), -1);
    CU_ASSERT_EQUAL(obj_build_block(&c, H1, NULL, 0, "a\nb", 0, &b, &d), -1);
    CU_ASSERT_EQUAL(d.count, 5);
    CU_ASSERT_EQUAL(b.len, 0);
    code_free(&c);
    code_init(&c, 0x10, 0);
    CU_ASSERT_EQUAL(obj_build_block(&c, H1, NULL, 0, FP, 0, &b, &d), -1);
    CU_ASSERT_EQUAL(b.len, 0);
    code_free(&c);
    diag_free(&d);
}

/* ---------------------------------------------------------------- meta */

static void test_meta_empty(void)
{
    ir_program p;
    buf b = {0};
    aotb_diag d = {0};
    obj_file o;
    view v;
    memset(&p, 0, sizeof p);
    p.file = "empty.vir";
    p.memsize = 0x10000;
    CU_ASSERT_EQUAL_FATAL(obj_build_meta(&p, FP, &b, &d), 0);
    CU_ASSERT_EQUAL_FATAL(view_init(&v, &b), 0);
    CU_ASSERT_EQUAL(v.eh.e_type, ET_REL);
    CU_ASSERT_EQUAL(v.eh.e_shnum, 5);
    unsigned mi = view_find(&v, ".aotb.meta"), di = view_find(&v, ".aotb.data");
    CU_ASSERT_FATAL(mi && di && view_find(&v, ".aotb.note"));
    Elf64_Shdr m = view_shdr(&v, mi), dd = view_shdr(&v, di);
    CU_ASSERT_EQUAL(m.sh_type, SHT_PROGBITS);
    CU_ASSERT_EQUAL(m.sh_flags & SHF_ALLOC, 0);
    static const uint8_t wmeta[32] = {1, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0};
    CU_ASSERT_EQUAL_FATAL(m.sh_size, 32);
    CU_ASSERT_EQUAL(memcmp(b.data + m.sh_offset, wmeta, 32), 0);
    CU_ASSERT_EQUAL(dd.sh_size, 0);
    uint32_t n;
    size_t off = view_desc(&v, &n);
    CU_ASSERT_EQUAL(get_le32(b.data + off + 4), 1);    /* kind meta */
    read_ok(&b, &o);
    CU_ASSERT_EQUAL(o.kind, OBJ_META);
    CU_ASSERT_EQUAL(o.has_entry, 0);
    CU_ASSERT_EQUAL(o.memsize, 0x10000);
    CU_ASSERT_EQUAL(o.ndata, 0);
    CU_ASSERT_STRING_EQUAL(o.fingerprint, FP);
    obj_free(&o);
    buf_free(&b);
    diag_free(&d);
}

static void test_meta_many(void)
{
    ir_program p;
    ir_data seg[40];
    uint8_t bytes[40][50];
    buf b = {0};
    aotb_diag d = {0};
    obj_file o;
    memset(&p, 0, sizeof p);
    memset(seg, 0, sizeof seg);
    /* Given in descending address order; the object holds them sorted. */
    for (unsigned i = 0; i < 40; i++) {
        seg[i].addr = 0x1000 * (40 - i);
        seg[i].len = i % 7 == 0 ? 0 : i + 1;
        for (unsigned k = 0; k < 50; k++)
            bytes[i][k] = (uint8_t)(i * 3 + k);
        seg[i].bytes = bytes[i];
    }
    p.file = "many.vir";
    p.memsize = 0x100000000ULL;
    p.data = seg;
    p.ndata = 40;
    p.has_entry = true;
    p.entry = 0xabc;
    CU_ASSERT_EQUAL_FATAL(obj_build_meta(&p, FP, &b, &d), 0);
    read_ok(&b, &o);
    CU_ASSERT_EQUAL(o.has_entry, 1);
    CU_ASSERT_EQUAL(o.entry, 0xabc);
    CU_ASSERT_EQUAL(o.memsize, 0x100000000ULL);
    CU_ASSERT_EQUAL_FATAL(o.ndata, 40);
    for (unsigned j = 0; j < 40; j++) {
        unsigned i = 39 - j;
        CU_ASSERT_EQUAL(o.data[j].addr, seg[i].addr);
        CU_ASSERT_EQUAL_FATAL(o.data[j].len, seg[i].len);
        CU_ASSERT_EQUAL(memcmp(o.data[j].bytes, bytes[i], seg[i].len), 0);
    }
    obj_free(&o);
    buf_free(&b);

    /* The data section, byte by byte, for two small segments. */
    ir_data two[2] = {{0x20, (uint8_t *)"xyz", 3, 0},
                      {0x8, (uint8_t *)"0123456789", 10, 0}};
    static const uint8_t wdata[] = {
        8, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0,
        '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 0, 0, 0, 0, 0, 0,
        0x20, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0,
        'x', 'y', 'z', 0, 0, 0, 0, 0};
    view v;
    p.data = two;
    p.ndata = 2;
    CU_ASSERT_EQUAL_FATAL(obj_build_meta(&p, FP, &b, &d), 0);
    CU_ASSERT_EQUAL_FATAL(view_init(&v, &b), 0);
    Elf64_Shdr dd = view_shdr(&v, view_find(&v, ".aotb.data"));
    CU_ASSERT_EQUAL_FATAL(dd.sh_size, sizeof wdata);
    CU_ASSERT_EQUAL(memcmp(b.data + dd.sh_offset, wdata, sizeof wdata), 0);
    buf b2 = {0};
    CU_ASSERT_EQUAL_FATAL(obj_build_meta(&p, FP, &b2, &d), 0);
    CU_ASSERT_TRUE(b.len == b2.len && memcmp(b.data, b2.data, b.len) == 0);
    buf_free(&b2);
    buf_free(&b);

    /* Overlapping or out-of-range data is refused by the writer. */
    two[1].len = 0x19;
    CU_ASSERT_EQUAL(obj_build_meta(&p, FP, &b, &d), -1);
    two[1].len = 10;
    p.memsize = 0x22;
    CU_ASSERT_EQUAL(obj_build_meta(&p, FP, &b, &d), -1);
    CU_ASSERT_EQUAL(b.len, 0);
    diag_free(&d);
}

/* ---------------------------------------------------------------- runtime */

static void test_runtime_object(void)
{
    cg_code c;
    buf b = {0};
    aotb_diag d = {0};
    view v;
    code_init(&c, 0, 64);
    c.defs[0].sym = CG_RT_EXIT;   c.defs[0].offset = 32;
    c.defs[1].sym = CG_RT_ENTER;  c.defs[1].offset = 0;
    c.defs[2].sym = CG_RT_LOOKUP; c.defs[2].offset = 48;
    c.ndefs = 3;
    add_reloc(&c, 40, R_X86_64_PLT32, -4, CG_TGT_RT, CG_RT_EXIT);
    CU_ASSERT_EQUAL_FATAL(obj_build_runtime(&c, FP, 1, &b, &d), 0);
    CU_ASSERT_EQUAL_FATAL(view_init(&v, &b), 0);
    static const struct { const char *n; uint64_t val, size; } w[] = {
        {"aotb_rt_enter", 0, 32}, {"aotb_rt_exit", 32, 16},
        {"aotb_rt_lookup", 48, 16}};
    Elf64_Shdr sym = view_shdr(&v, view_find(&v, ".symtab"));
    CU_ASSERT_EQUAL_FATAL(sym.sh_size, 5 * 24);
    for (unsigned i = 0; i < 3; i++) {
        Elf64_Sym s = view_sym(&v, i + 2);
        CU_ASSERT_STRING_EQUAL(view_symname(&v, i + 2), w[i].n);
        CU_ASSERT_EQUAL(s.st_info, ELF64_ST_INFO(STB_GLOBAL, STT_FUNC));
        CU_ASSERT_EQUAL(s.st_value, w[i].val);
        CU_ASSERT_EQUAL(s.st_size, w[i].size);
        CU_ASSERT_EQUAL(s.st_shndx, 1);
    }
    read_bad(b.data, b.len, "runtime");
    buf_free(&b);
    code_free(&c);
    diag_free(&d);
}

/* ---------------------------------------------------------------- malformed */

static void small_block(buf *b)
{
    cg_code c;
    code_init(&c, 0x40, 16);
    add_reloc(&c, 2, R_X86_64_PLT32, -4, CG_TGT_BLOCK, 0x50);
    add_reloc(&c, 10, R_X86_64_PC32, -4, CG_TGT_RT, CG_RT_EXIT);
    obj_dep dep = {0x50, {3, 4}};
    build_block_ok(&c, &dep, 1, b);
    code_free(&c);
}

static void small_meta(buf *b)
{
    ir_program p;
    ir_data seg[2] = {{0x10, (uint8_t *)"hello", 5, 0},
                      {0x100, (uint8_t *)"\1\2\3\4\5\6\7\10\11", 9, 0}};
    aotb_diag d = {0};
    memset(&p, 0, sizeof p);
    p.file = "m.vir";
    p.memsize = 0x1000;
    p.has_entry = true;
    p.entry = 0x40;
    p.data = seg;
    p.ndata = 2;
    CU_ASSERT_EQUAL_FATAL(obj_build_meta(&p, FP, b, &d), 0);
    diag_free(&d);
}

static void test_truncated(void)
{
    buf b[2] = {{0}, {0}};
    small_block(&b[0]);
    small_meta(&b[1]);
    for (int k = 0; k < 2; k++) {
        for (size_t n = 0; n < b[k].len; n++) {
            /* An exact-size copy, so ASan sees any read past the end. */
            uint8_t *p = malloc(n ? n : 1);
            CU_ASSERT_PTR_NOT_NULL_FATAL(p);
            memcpy(p, b[k].data, n);
            read_bad(p, n, NULL);
            free(p);
        }
        buf_free(&b[k]);
    }
}

/* Every single-bit flip: no crash; most are refused.  Flips in the code or
 * hash change the content but are valid objects; everything in the headers
 * and tables must be caught. */
static void test_bit_flips(void)
{
    buf b[2] = {{0}, {0}};
    small_block(&b[0]);
    small_meta(&b[1]);
    for (int k = 0; k < 2; k++) {
        view v;
        CU_ASSERT_EQUAL_FATAL(view_init(&v, &b[k]), 0);
        size_t refused = 0, total = 0, hdr_missed = 0;
        uint8_t *p = malloc(b[k].len);
        CU_ASSERT_PTR_NOT_NULL_FATAL(p);
        for (size_t i = 0; i < b[k].len; i++)
            for (int bit = 0; bit < 8; bit++) {
                obj_file o;
                aotb_diag d = {0};
                memcpy(p, b[k].data, b[k].len);
                p[i] ^= (uint8_t)(1u << bit);
                int rc = obj_read("flip.o", p, b[k].len, &o, &d);
                total++;
                if (rc == 0) {
                    obj_free(&o);
                    /* e_ident padding, e_entry, e_flags: not meaningful */
                    if (i < sizeof(Elf64_Ehdr) && !(i >= EI_OSABI && i <
                        EI_NIDENT) && !(i >= 24 && i < 32) &&
                        !(i >= 48 && i < 52))
                        hdr_missed++;
                } else {
                    refused++;
                    CU_ASSERT_PTR_NOT_NULL(strstr(diag_text(&d), "flip.o"));
                }
                diag_free(&d);
            }
        free(p);
        CU_ASSERT_EQUAL(hdr_missed, 0);
        CU_ASSERT_TRUE(refused > total / 2);
        buf_free(&b[k]);
    }
}

/* Random multi-byte damage (fixed seed): bytes set to random values, to
 * 0xff / 0 (oversized counts and offsets), or the file cut short. */
static void test_random_damage(void)
{
    buf b[2] = {{0}, {0}};
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    small_block(&b[0]);
    small_meta(&b[1]);
    for (int k = 0; k < 2; k++) {
        uint8_t *p = malloc(b[k].len);
        CU_ASSERT_PTR_NOT_NULL_FATAL(p);
        size_t refused = 0;
        for (int iter = 0; iter < 20000; iter++) {
            memcpy(p, b[k].data, b[k].len);
            size_t len = b[k].len;
            int nbytes = 1 + iter % 8;
            for (int j = 0; j < nbytes; j++) {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                size_t at = (size_t)(x % len);
                p[at] = (uint8_t)(iter % 3 == 0 ? x >> 32 :
                                  iter % 3 == 1 ? 0xff : 0);
            }
            if (iter % 5 == 0)
                len -= (size_t)(x >> 40) % 64 + 1;
            obj_file o;
            aotb_diag d = {0};
            if (obj_read("r.o", p, len, &o, &d) == 0)
                obj_free(&o);
            else
                refused++;
            diag_free(&d);
        }
        CU_ASSERT_TRUE(refused > 10000);
        free(p);
        buf_free(&b[k]);
    }
}

static void patch_shdr(buf *b, unsigned idx, size_t field_off, uint64_t v,
                       unsigned width)
{
    view vw;
    view_init(&vw, b);
    uint8_t *p = b->data + vw.eh.e_shoff + idx * sizeof(Elf64_Shdr) +
                 field_off;
    if (width == 4)
        put_le32(p, (uint32_t)v);
    else
        put_le64(p, v);
}

static void test_specific_errors(void)
{
    buf b = {0};
    view v;
    uint32_t n;

    read_bad(NULL, 0, "not an ELF");
    read_bad((const uint8_t *)"hello world, not an object", 26, "not an ELF");

    /* Wrong machine. */
    small_block(&b);
    b.data[18] = EM_386;
    b.data[19] = 0;
    read_bad(b.data, b.len, "x86-64");
    buf_free(&b);

    /* ELFCLASS32. */
    small_block(&b);
    b.data[EI_CLASS] = ELFCLASS32;
    read_bad(b.data, b.len, "64-bit");
    buf_free(&b);

    /* An executable, not ET_REL. */
    small_block(&b);
    b.data[16] = ET_EXEC;
    read_bad(b.data, b.len, "relocatable");
    buf_free(&b);

    /* Unknown format version: the exact message. */
    small_block(&b);
    view_init(&v, &b);
    put_le32(b.data + view_desc(&v, &n), 7);
    read_bad(b.data, b.len,
             "bad.o: object format version 7 is not supported (expected 1); "
             "recompile");
    buf_free(&b);

    /* Relocation offset: code is 16 bytes, so 13 is the first bad one. */
    small_block(&b);
    view_init(&v, &b);
    Elf64_Shdr rela = view_shdr(&v, view_find(&v, ".rela.text"));
    put_le64(b.data + rela.sh_offset, 12);
    {
        obj_file o;
        aotb_diag d = {0};
        CU_ASSERT_EQUAL(obj_read("ok.o", b.data, b.len, &o, &d), 0);
        CU_ASSERT_EQUAL(o.relocs[0].offset, 12);
        obj_free(&o);
        diag_free(&d);
    }
    put_le64(b.data + rela.sh_offset, 13);
    read_bad(b.data, b.len, "outside the code");
    buf_free(&b);

    /* Relocation type R_X86_64_64. */
    small_block(&b);
    view_init(&v, &b);
    rela = view_shdr(&v, view_find(&v, ".rela.text"));
    b.data[rela.sh_offset + 8] = R_X86_64_64;
    read_bad(b.data, b.len, "type 1");
    buf_free(&b);

    /* Symbol index out of range, and against the local section symbol. */
    small_block(&b);
    view_init(&v, &b);
    rela = view_shdr(&v, view_find(&v, ".rela.text"));
    put_le32(b.data + rela.sh_offset + 12, 1000);
    read_bad(b.data, b.len, "symbol index");
    put_le32(b.data + rela.sh_offset + 12, 1);
    read_bad(b.data, b.len, "symbol index");
    buf_free(&b);

    /* A symbol name that is not of the expected forms. */
    small_block(&b);
    view_init(&v, &b);
    Elf64_Shdr str = view_shdr(&v, view_find(&v, ".strtab"));
    char *s = memmem(b.data + str.sh_offset, str.sh_size, "aotb_rt_exit", 12);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    s[8] = 'X';
    read_bad(b.data, b.len, "unexpected name");
    buf_free(&b);
    small_block(&b);
    view_init(&v, &b);
    str = view_shdr(&v, view_find(&v, ".strtab"));
    s = memmem(b.data + str.sh_offset, str.sh_size, "aotb_blk_", 9);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    s[9 + 15] = 'A';                       /* upper-case hex digit */
    read_bad(b.data, b.len, NULL);
    buf_free(&b);

    /* Section table outside the file; a section outside the file. */
    small_block(&b);
    put_le64(b.data + 40, b.len - 10);
    read_bad(b.data, b.len, "outside the file");
    buf_free(&b);
    small_block(&b);
    patch_shdr(&b, 1, offsetof(Elf64_Shdr, sh_size), UINT64_MAX - 4, 8);
    read_bad(b.data, b.len, "outside the file");
    buf_free(&b);

    /* .symtab's sh_info (first global) out of range. */
    small_block(&b);
    view_init(&v, &b);
    patch_shdr(&b, view_find(&v, ".symtab"), offsetof(Elf64_Shdr, sh_info),
               99, 4);
    read_bad(b.data, b.len, NULL);
    buf_free(&b);

    /* Note descriptor: fingerprint length too long, deps count too big. */
    small_block(&b);
    view_init(&v, &b);
    size_t off = view_desc(&v, &n);
    put_le32(b.data + off + 36, 200);
    read_bad(b.data, b.len, "fingerprint");
    buf_free(&b);
    small_block(&b);
    view_init(&v, &b);
    off = view_desc(&v, &n);
    put_le32(b.data + off + (40 + strlen(FP) + 3) / 4 * 4, 0x7fffffff);
    read_bad(b.data, b.len, "folded");
    buf_free(&b);

    /* Meta: data segment count larger than the data, bad padding, a segment
     * outside memory. */
    small_meta(&b);
    view_init(&v, &b);
    Elf64_Shdr m = view_shdr(&v, view_find(&v, ".aotb.meta"));
    Elf64_Shdr dd = view_shdr(&v, view_find(&v, ".aotb.data"));
    put_le64(b.data + m.sh_offset + 24, UINT64_MAX);
    read_bad(b.data, b.len, "do not fit");
    put_le64(b.data + m.sh_offset + 24, 2);
    b.data[dd.sh_offset + 16 + 6] = 1;   /* padding after "hello" */
    read_bad(b.data, b.len, "padding");
    b.data[dd.sh_offset + 16 + 6] = 0;
    put_le64(b.data + m.sh_offset + 16, 0x104);   /* memsize */
    read_bad(b.data, b.len, "outside memory");
    put_le64(b.data + m.sh_offset + 16, 0x1000);
    put_le32(b.data + m.sh_offset, 2);
    read_bad(b.data, b.len, "version 2");
    buf_free(&b);
}

static CU_TestInfo tests[] = {
    {"block without relocations", test_block_no_relocs},
    {"block with one relocation of each kind", test_block_one_reloc_each},
    {"block with many relocations and folded deps", test_block_many_relocs},
    {"block layout byte by byte", test_block_layout},
    {"note descriptor with folded deps", test_block_deps_layout},
    {"determinism", test_determinism},
    {"writer refuses invalid input", test_writer_rejects},
    {"meta without data", test_meta_empty},
    {"meta with many data segments", test_meta_many},
    {"runtime object", test_runtime_object},
    {"truncation at every length", test_truncated},
    {"single-bit flips", test_bit_flips},
    {"random multi-byte damage", test_random_damage},
    {"specific malformed objects", test_specific_errors},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"object", NULL, NULL, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(void)
{
    return tu_run(suites);
}
