/* object.c: per-block ELF relocatable objects, written and read with libelf.
 *
 * Section layout (indices are fixed; the reader finds sections by name):
 *   block / runtime object    1 .text       2 .rela.text   3 .aotb.note
 *                             4 .symtab     5 .strtab      6 .shstrtab
 *   meta object               1 .aotb.note  2 .aotb.meta   3 .aotb.data
 *                             4 .shstrtab
 * None but .text is SHF_ALLOC.
 *
 * .symtab: [0] null, [1] STT_SECTION for .text, then the globals sorted by
 * name (strcmp): the defined FUNC symbols (aotb_blk_<pc>, or aotb_rt_* in the
 * runtime object) and one undefined NOTYPE symbol per other relocation target.
 * sh_info = 2, the first global.  Every relocation names a global symbol.
 *
 * .aotb.note holds one record in ELF note form, every integer little-endian:
 * u32 namesz = 5, u32 descsz, u32 type = 1 (OBJ_NOTE_TYPE), "aotb\0" + 3
 * zero bytes, then the descriptor (descsz is a multiple of 4).  It is
 * SHT_PROGBITS, not SHT_NOTE: eu-elflint (elfutils 0.188) reports every
 * object-file note whose owner is not GNU / GA / FDO as an error, and the
 * objects must pass eu-elflint.  The descriptor, offsets from its start:
 *     0  u32  format version (OBJ_FORMAT_VERSION = 1)
 *     4  u32  kind: 0 block, 1 meta, 2 runtime stubs
 *     8  u64  block pc (0 for meta / runtime)
 *    16  u64  IR hash, high half   (0 for meta / runtime)
 *    24  u64  IR hash, low half
 *    32  u32  required CPU features (CG_FEAT_* bits)
 *    36  u32  F = fingerprint length in bytes (0 .. 255)
 *    40  F bytes of fingerprint (printable ASCII, no NUL), then zero bytes up
 *        to the next multiple of 4: P = 40 + F rounded up to 4
 *     P  u32  N = number of blocks folded into this one
 *   P+4  N x { u64 pc, u64 hash high, u64 hash low }
 * descsz is exactly P + 4 + 24 N.  Readers check the version first (a later
 * version may change everything after it).
 *
 * .aotb.meta (32 bytes): u32 version (1), u32 has_entry (0 / 1), u64 entry
 * (0 without one), u64 memory size (>= 1), u64 number of data segments.
 * .aotb.data: per segment u64 addr, u64 len, len bytes, zeros to a multiple
 * of 8; segments sorted by (addr, len), inside memory and not overlapping.
 *
 * Output is a pure function of the input: libelf lays the file out the same
 * way every time, the file is a fresh memfd (zero-filled gaps), and every
 * field is set explicitly. */
#include "object.h"

#include <elf.h>
#include <errno.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define NOTE_NAME "aotb"
#define NOTE_FIXED 40          /* descriptor bytes before the fingerprint */
#define META_SIZE 32
#define SYM_NAME_MAX 32        /* "aotb_blk_" + 16 hex digits + NUL = 26 */

enum { KIND_BLOCK = 0, KIND_META = 1, KIND_RUNTIME = 2 };

static const char *const rt_names[CG_RT_NUM] = {
    [CG_RT_ENTER] = CG_SYM_ENTER,
    [CG_RT_EXIT] = CG_SYM_EXIT,
    [CG_RT_LOOKUP] = CG_SYM_LOOKUP,
};

/* ---------------------------------------------------------------- libelf */

static pthread_once_t elf_once = PTHREAD_ONCE_INIT;
static int elf_ready;

static void elf_init(void)
{
    elf_ready = elf_version(EV_CURRENT) != EV_NONE;
}

static int libelf_init(aotb_diag *d)
{
    pthread_once(&elf_once, elf_init);
    if (!elf_ready) {
        diag_add(d, "libelf: version mismatch: %s", elf_errmsg(-1));
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- names */

static void block_sym(uint64_t pc, char out[SYM_NAME_MAX])
{
    snprintf(out, SYM_NAME_MAX, CG_BLOCK_SYM_FMT, pc);
}

/* Classifies a global symbol name: a block symbol (exactly 16 lower-case hex
 * digits) or a runtime stub.  0 or -1. */
static int sym_parse(const char *name, uint8_t *kind, uint64_t *target)
{
    static const char pfx[] = "aotb_blk_";
    if (strncmp(name, pfx, sizeof pfx - 1) == 0) {
        const char *h = name + sizeof pfx - 1;
        uint64_t v = 0;
        int i;
        for (i = 0; i < 16; i++) {
            char ch = h[i];
            unsigned dig;
            if (ch >= '0' && ch <= '9')
                dig = (unsigned)(ch - '0');
            else if (ch >= 'a' && ch <= 'f')
                dig = (unsigned)(ch - 'a' + 10);
            else
                return -1;
            v = v << 4 | dig;
        }
        if (h[16] != '\0')
            return -1;
        *kind = CG_TGT_BLOCK;
        *target = v;
        return 0;
    }
    for (unsigned r = 0; r < CG_RT_NUM; r++)
        if (strcmp(name, rt_names[r]) == 0) {
            *kind = CG_TGT_RT;
            *target = r;
            return 0;
        }
    return -1;
}

/* ---------------------------------------------------------------- writing */

typedef struct osec {
    const char *name;
    uint32_t type;
    uint64_t flags;
    uint64_t align, entsize;
    uint32_t link, info;
    Elf_Type dtype;
    const void *data;
    size_t size;
} osec;

static int read_back(int fd, size_t size, buf *out, aotb_diag *d)
{
    if (buf_reserve(out, size) != 0) {
        diag_add(d, "out of memory");
        return -1;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t n = pread(fd, out->data + out->len + got, size - got,
                          (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            diag_add(d, "reading back the object: %s",
                     n < 0 ? strerror(errno) : "short read");
            return -1;
        }
        got += (size_t)n;
    }
    out->len += size;
    return 0;
}

/* Writes an ET_REL file holding secs (then .shstrtab) and appends its bytes
 * to out.  libelf only writes to file descriptors, so the file is a memfd. */
static int write_elf(const osec *secs, size_t n, buf *out, aotb_diag *d)
{
    buf shstr = {0};
    uint32_t name_off[8];
    int fd = -1, rc = -1;
    Elf *e = NULL;

    if (n + 1 > sizeof name_off / sizeof name_off[0] || libelf_init(d) != 0)
        return -1;
    buf_put8(&shstr, 0);
    for (size_t i = 0; i <= n; i++) {
        const char *nm = i < n ? secs[i].name : ".shstrtab";
        name_off[i] = (uint32_t)shstr.len;
        buf_append(&shstr, nm, strlen(nm) + 1);
    }
    if (shstr.oom) {
        diag_add(d, "out of memory");
        goto done;
    }
    fd = memfd_create("aotb-object", MFD_CLOEXEC);
    if (fd < 0) {
        diag_add(d, "memfd_create: %s", strerror(errno));
        goto done;
    }
    e = elf_begin(fd, ELF_C_WRITE, NULL);
    if (!e)
        goto elf_error;
    Elf64_Ehdr *eh = elf64_newehdr(e);
    if (!eh)
        goto elf_error;
    memset(eh->e_ident, 0, EI_NIDENT);
    memcpy(eh->e_ident, ELFMAG, SELFMAG);
    eh->e_ident[EI_CLASS] = ELFCLASS64;
    eh->e_ident[EI_DATA] = ELFDATA2LSB;
    eh->e_ident[EI_VERSION] = EV_CURRENT;
    eh->e_ident[EI_OSABI] = ELFOSABI_NONE;
    eh->e_type = ET_REL;
    eh->e_machine = EM_X86_64;
    eh->e_version = EV_CURRENT;
    eh->e_entry = 0;
    eh->e_phoff = 0;
    eh->e_flags = 0;
    for (size_t i = 0; i <= n; i++) {
        osec sh_str = {".shstrtab", SHT_STRTAB, 0, 1, 0, 0, 0, ELF_T_BYTE,
                       shstr.data, shstr.len};
        const osec *s = i < n ? &secs[i] : &sh_str;
        Elf_Scn *scn = elf_newscn(e);
        if (!scn)
            goto elf_error;
        Elf_Data *dd = elf_newdata(scn);
        if (!dd)
            goto elf_error;
        dd->d_buf = s->size ? (void *)s->data : NULL;
        dd->d_type = s->dtype;
        dd->d_size = s->size;
        dd->d_off = 0;
        dd->d_align = s->align;
        dd->d_version = EV_CURRENT;
        Elf64_Shdr *sh = elf64_getshdr(scn);
        if (!sh)
            goto elf_error;
        sh->sh_name = name_off[i];
        sh->sh_type = s->type;
        sh->sh_flags = s->flags;
        sh->sh_addr = 0;
        sh->sh_link = s->link;
        sh->sh_info = s->info;
        sh->sh_addralign = s->align;
        sh->sh_entsize = s->entsize;
        if (elf_flagshdr(scn, ELF_C_SET, ELF_F_DIRTY) == 0)
            goto elf_error;
    }
    eh->e_shstrndx = (Elf64_Half)(n + 1);
    if (elf_flagehdr(e, ELF_C_SET, ELF_F_DIRTY) == 0)
        goto elf_error;
    off_t size = elf_update(e, ELF_C_WRITE);
    if (size < 0)
        goto elf_error;
    if (elf_end(e) != 0) {
        e = NULL;
        goto elf_error;
    }
    e = NULL;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        diag_add(d, "fstat: %s", strerror(errno));
        goto done;
    }
    if (st.st_size != size) {
        diag_add(d, "libelf wrote %jd bytes but reported %jd",
                 (intmax_t)st.st_size, (intmax_t)size);
        goto done;
    }
    rc = read_back(fd, (size_t)size, out, d);
    goto done;
elf_error:
    diag_add(d, "libelf: %s", elf_errmsg(-1));
done:
    if (e)
        elf_end(e);
    if (fd >= 0)
        close(fd);
    buf_free(&shstr);
    return rc;
}

static int check_fingerprint(const char *fp, aotb_diag *d)
{
    size_t n = strlen(fp);
    if (n > 255) {
        diag_add(d, "compiler fingerprint longer than 255 bytes");
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (fp[i] < 0x20 || fp[i] > 0x7e) {
            diag_add(d, "compiler fingerprint has a non-printable byte");
            return -1;
        }
    return 0;
}

static void note_build(buf *b, uint32_t kind, uint64_t pc, ir_hash h,
                       uint32_t features, const char *fp,
                       const obj_dep *deps, size_t ndeps)
{
    size_t fplen = strlen(fp);
    buf desc = {0};
    buf_put32(&desc, OBJ_FORMAT_VERSION);
    buf_put32(&desc, kind);
    buf_put64(&desc, pc);
    buf_put64(&desc, h.hi);
    buf_put64(&desc, h.lo);
    buf_put32(&desc, features);
    buf_put32(&desc, (uint32_t)fplen);
    buf_append(&desc, fp, fplen);
    while (desc.len % 4)
        buf_put8(&desc, 0);
    buf_put32(&desc, (uint32_t)ndeps);
    for (size_t i = 0; i < ndeps; i++) {
        buf_put64(&desc, deps[i].pc);
        buf_put64(&desc, deps[i].hash.hi);
        buf_put64(&desc, deps[i].hash.lo);
    }
    buf_put32(b, sizeof NOTE_NAME);
    buf_put32(b, (uint32_t)desc.len);
    buf_put32(b, OBJ_NOTE_TYPE);
    buf_append(b, NOTE_NAME "\0\0\0", 8);   /* "aotb\0" padded to 4 */
    buf_append(b, desc.data, desc.len);
    if (desc.oom)
        b->oom = 1;
    buf_free(&desc);
}

typedef struct gsym {
    char name[SYM_NAME_MAX];
    int defined;
    uint64_t value, size;
} gsym;

static int gsym_cmp(const void *a, const void *b)
{
    return strcmp(((const gsym *)a)->name, ((const gsym *)b)->name);
}

static void reloc_sym(const cg_reloc *r, char out[SYM_NAME_MAX])
{
    if (r->kind == CG_TGT_BLOCK)
        block_sym(r->target, out);
    else
        snprintf(out, SYM_NAME_MAX, "%s", rt_names[r->target]);
}

/* The block / runtime object: defs are the defined global symbols. */
static int build_code_object(const cg_code *c, uint32_t kind, uint64_t pc,
                             ir_hash hash, const obj_dep *deps, size_t ndeps,
                             const char *fp, uint32_t features,
                             const gsym *defs, size_t ndefs, buf *out,
                             aotb_diag *d)
{
    size_t len = c->code.len;
    gsym *g = NULL;
    size_t ng = 0;
    Elf64_Sym *syms = NULL;
    Elf64_Rela *rela = NULL;
    buf strtab = {0}, note = {0};
    int rc = -1;

    if (check_fingerprint(fp, d) != 0)
        return -1;
    if (len == 0 || len > UINT32_MAX || c->code.oom) {
        diag_add(d, "block 0x%016" PRIx64 ": %s", pc,
                 len == 0 ? "no code" : "code too large");
        return -1;
    }
    if (ndeps > (UINT32_MAX - 4096) / 24) {
        diag_add(d, "block 0x%016" PRIx64 ": too many folded blocks", pc);
        return -1;
    }
    for (size_t i = 0; i < c->nrelocs; i++) {
        const cg_reloc *r = &c->relocs[i];
        if (len < 4 || r->offset > len - 4 ||
            (r->type != R_X86_64_PLT32 && r->type != R_X86_64_PC32) ||
            (r->kind != CG_TGT_BLOCK &&
             (r->kind != CG_TGT_RT || r->target >= CG_RT_NUM))) {
            diag_add(d, "block 0x%016" PRIx64 ": invalid relocation %zu "
                     "(offset %" PRIu32 ", type %" PRIu32 ")", pc, i,
                     r->offset, r->type);
            return -1;
        }
    }
    g = xcalloc(ndefs + c->nrelocs + 1, sizeof *g);
    rela = xcalloc(c->nrelocs + 1, sizeof *rela);
    if (!g || !rela)
        goto oom;
    for (size_t i = 0; i < ndefs; i++)
        g[ng++] = defs[i];
    /* One undefined symbol per distinct target that is not defined here. */
    for (size_t i = 0; i < c->nrelocs; i++) {
        char nm[SYM_NAME_MAX];
        reloc_sym(&c->relocs[i], nm);
        size_t j;
        for (j = 0; j < ng && strcmp(g[j].name, nm) != 0; j++)
            ;
        if (j == ng) {
            memset(&g[ng], 0, sizeof g[ng]);
            memcpy(g[ng].name, nm, sizeof nm);
            ng++;
        }
    }
    qsort(g, ng, sizeof *g, gsym_cmp);
    for (size_t i = 1; i < ng; i++)
        if (strcmp(g[i - 1].name, g[i].name) == 0) {
            diag_add(d, "symbol %s defined twice", g[i].name);
            goto done;
        }

    syms = xcalloc(ng + 2, sizeof *syms);
    if (!syms)
        goto oom;
    buf_put8(&strtab, 0);
    syms[1].st_info = ELF64_ST_INFO(STB_LOCAL, STT_SECTION);
    syms[1].st_shndx = 1;
    for (size_t i = 0; i < ng; i++) {
        Elf64_Sym *s = &syms[i + 2];
        s->st_name = (Elf64_Word)strtab.len;
        buf_append(&strtab, g[i].name, strlen(g[i].name) + 1);
        s->st_info = ELF64_ST_INFO(STB_GLOBAL,
                                   g[i].defined ? STT_FUNC : STT_NOTYPE);
        s->st_other = STV_DEFAULT;
        s->st_shndx = g[i].defined ? 1 : SHN_UNDEF;
        s->st_value = g[i].value;
        s->st_size = g[i].size;
    }
    for (size_t i = 0; i < c->nrelocs; i++) {
        const cg_reloc *r = &c->relocs[i];
        gsym key;
        memset(&key, 0, sizeof key);
        reloc_sym(r, key.name);
        const gsym *hit = bsearch(&key, g, ng, sizeof *g, gsym_cmp);
        size_t idx = (size_t)(hit - g) + 2;   /* always found: added above */
        rela[i].r_offset = r->offset;
        rela[i].r_info = ELF64_R_INFO(idx, r->type);
        rela[i].r_addend = r->addend;
    }
    note_build(&note, kind, pc, hash, features, fp, deps, ndeps);
    if (strtab.oom || note.oom)
        goto oom;

    osec secs[] = {
        {".text", SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR, 16, 0, 0, 0,
         ELF_T_BYTE, c->code.data, len},
        {".rela.text", SHT_RELA, SHF_INFO_LINK, 8, sizeof(Elf64_Rela), 4, 1,
         ELF_T_RELA, rela, c->nrelocs * sizeof *rela},
        {".aotb.note", SHT_PROGBITS, 0, 4, 0, 0, 0, ELF_T_BYTE, note.data,
         note.len},
        {".symtab", SHT_SYMTAB, 0, 8, sizeof(Elf64_Sym), 5, 2, ELF_T_SYM,
         syms, (ng + 2) * sizeof *syms},
        {".strtab", SHT_STRTAB, 0, 1, 0, 0, 0, ELF_T_BYTE, strtab.data,
         strtab.len},
    };
    rc = write_elf(secs, sizeof secs / sizeof secs[0], out, d);
    goto done;
oom:
    diag_add(d, "out of memory");
done:
    free(g);
    free(syms);
    free(rela);
    buf_free(&strtab);
    buf_free(&note);
    return rc;
}

int obj_build_block(const cg_code *c, ir_hash hash, const obj_dep *deps,
                    size_t ndeps, const char *fingerprint, uint32_t features,
                    buf *out, aotb_diag *d)
{
    gsym self;
    memset(&self, 0, sizeof self);
    block_sym(c->pc, self.name);
    self.defined = 1;
    self.value = 0;
    self.size = c->code.len;
    return build_code_object(c, KIND_BLOCK, c->pc, hash, deps, ndeps,
                             fingerprint, features, &self, 1, out, d);
}

int obj_build_runtime(const cg_code *c, const char *fingerprint,
                      uint32_t features, buf *out, aotb_diag *d)
{
    gsym defs[CG_RT_NUM];
    size_t n = c->ndefs;
    ir_hash zero = {0, 0};
    if (n == 0 || n > CG_RT_NUM) {
        diag_add(d, "runtime stubs: %zu symbols", n);
        return -1;
    }
    memset(defs, 0, sizeof defs);
    for (size_t i = 0; i < n; i++) {
        if ((unsigned)c->defs[i].sym >= CG_RT_NUM ||
            c->defs[i].offset >= c->code.len) {
            diag_add(d, "runtime stubs: bad symbol %zu", i);
            return -1;
        }
        snprintf(defs[i].name, SYM_NAME_MAX, "%s", rt_names[c->defs[i].sym]);
        defs[i].defined = 1;
        defs[i].value = c->defs[i].offset;
        /* Size: up to the next stub (or the end of the code). */
        uint64_t end = c->code.len;
        for (size_t j = 0; j < n; j++)
            if (c->defs[j].offset > c->defs[i].offset &&
                c->defs[j].offset < end)
                end = c->defs[j].offset;
        defs[i].size = end - c->defs[i].offset;
    }
    return build_code_object(c, KIND_RUNTIME, 0, zero, NULL, 0, fingerprint,
                             features, defs, n, out, d);
}

/* Segments sorted by (addr, len); checks range and overlap.  name prefixes
 * the messages. */
static int seg_cmp(const void *a, const void *b)
{
    const ir_data *x = *(const ir_data *const *)a;
    const ir_data *y = *(const ir_data *const *)b;
    if (x->addr != y->addr)
        return x->addr < y->addr ? -1 : 1;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return 0;
}

static int check_segments(const char *name, const ir_data *const *s,
                          size_t n, uint64_t memsize, aotb_diag *d)
{
    uint64_t end = 0;   /* end of the previous non-empty segment */
    for (size_t i = 0; i < n; i++) {
        if (s[i]->addr > memsize || s[i]->len > memsize - s[i]->addr) {
            diag_add(d, "%s: data segment %zu (0x%" PRIx64 ", %" PRIu64
                     " bytes) is outside memory (0x%" PRIx64 " bytes)",
                     name, i, s[i]->addr, s[i]->len, memsize);
            return -1;
        }
        if (s[i]->len == 0)
            continue;
        if (s[i]->addr < end) {
            diag_add(d, "%s: data segment %zu at 0x%" PRIx64
                     " overlaps the one before", name, i, s[i]->addr);
            return -1;
        }
        end = s[i]->addr + s[i]->len;
    }
    return 0;
}

int obj_build_meta(const ir_program *p, const char *fingerprint, buf *out,
                   aotb_diag *d)
{
    const ir_data **segs = NULL;
    buf meta = {0}, data = {0}, note = {0};
    int rc = -1;
    uint64_t entry = 0;
    ir_hash zero = {0, 0};

    if (check_fingerprint(fingerprint, d) != 0)
        return -1;
    if (p->memsize == 0) {
        diag_add(d, "%s: memory size 0", p->file ? p->file : "program");
        return -1;
    }
    int has_entry = ir_program_entry(p, &entry) ? 1 : 0;
    if (!has_entry)
        entry = 0;
    segs = xcalloc(p->ndata + 1, sizeof *segs);
    if (!segs)
        goto oom;
    for (size_t i = 0; i < p->ndata; i++)
        segs[i] = &p->data[i];
    qsort(segs, p->ndata, sizeof *segs, seg_cmp);
    if (check_segments(p->file ? p->file : "program", segs, p->ndata,
                       p->memsize, d) != 0)
        goto done;

    buf_put32(&meta, OBJ_FORMAT_VERSION);
    buf_put32(&meta, (uint32_t)has_entry);
    buf_put64(&meta, entry);
    buf_put64(&meta, p->memsize);
    buf_put64(&meta, p->ndata);
    for (size_t i = 0; i < p->ndata; i++) {
        buf_put64(&data, segs[i]->addr);
        buf_put64(&data, segs[i]->len);
        if (segs[i]->len)
            buf_append(&data, segs[i]->bytes, segs[i]->len);
        while (data.len % 8)
            buf_put8(&data, 0);
    }
    note_build(&note, KIND_META, 0, zero, 0, fingerprint, NULL, 0);
    if (meta.oom || data.oom || note.oom)
        goto oom;
    osec secs[] = {
        {".aotb.note", SHT_PROGBITS, 0, 4, 0, 0, 0, ELF_T_BYTE, note.data,
         note.len},
        {".aotb.meta", SHT_PROGBITS, 0, 8, 0, 0, 0, ELF_T_BYTE, meta.data,
         meta.len},
        {".aotb.data", SHT_PROGBITS, 0, 8, 0, 0, 0, ELF_T_BYTE, data.data,
         data.len},
    };
    rc = write_elf(secs, sizeof secs / sizeof secs[0], out, d);
    goto done;
oom:
    diag_add(d, "out of memory");
done:
    free(segs);
    buf_free(&meta);
    buf_free(&data);
    buf_free(&note);
    return rc;
}

/* ---------------------------------------------------------------- reading */

enum { S_TEXT, S_RELA, S_NOTE, S_SYMTAB, S_STRTAB, S_META, S_DATA, S_SHSTR,
       S_NUM };

static const struct {
    const char *name;
    uint32_t type;
    uint64_t flags;
    uint64_t align, entsize;
} sec_spec[S_NUM] = {
    [S_TEXT] = {".text", SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR, 16, 0},
    [S_RELA] = {".rela.text", SHT_RELA, SHF_INFO_LINK, 8, sizeof(Elf64_Rela)},
    [S_NOTE] = {".aotb.note", SHT_PROGBITS, 0, 4, 0},
    [S_SYMTAB] = {".symtab", SHT_SYMTAB, 0, 8, sizeof(Elf64_Sym)},
    [S_STRTAB] = {".strtab", SHT_STRTAB, 0, 1, 0},
    [S_META] = {".aotb.meta", SHT_PROGBITS, 0, 8, 0},
    [S_DATA] = {".aotb.data", SHT_PROGBITS, 0, 8, 0},
    [S_SHSTR] = {".shstrtab", SHT_STRTAB, 0, 1, 0},
};

typedef struct reader {
    const char *name;
    aotb_diag *d;
    Elf *e;
    size_t idx[S_NUM];          /* section index, 0 = absent */
    Elf_Data *data[S_NUM];
    char unknown[64];           /* first unexpected section name */
    size_t nsyms, first_global;
} reader;

static int rfail(aotb_diag *d, const char *fmt, ...) AOTB_PRINTF(2, 3);
/* Adds a message and returns -1, so checks read "return rfail(...)". */
static int rfail(aotb_diag *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_vadd(d, fmt, ap);
    va_end(ap);
    return -1;
}

/* Checks the ELF header and that the section header table and every
 * section's bytes lie inside the file, before libelf looks at them. */
static int precheck(reader *r, const uint8_t *p, size_t len)
{
    Elf64_Ehdr eh;
    if (len < SELFMAG || memcmp(p, ELFMAG, SELFMAG) != 0)
        return rfail(r->d, "%s: not an ELF file", r->name);
    if (len < EI_NIDENT || p[EI_CLASS] != ELFCLASS64)
        return rfail(r->d, "%s: not a 64-bit ELF file", r->name);
    if (p[EI_DATA] != ELFDATA2LSB)
        return rfail(r->d, "%s: not a little-endian ELF file", r->name);
    if (len < sizeof eh)
        return rfail(r->d, "%s: truncated ELF header (%zu bytes)", r->name, len);
    memcpy(&eh, p, sizeof eh);
    if (p[EI_VERSION] != EV_CURRENT || eh.e_version != EV_CURRENT)
        return rfail(r->d, "%s: unknown ELF version", r->name);
    if (eh.e_machine != EM_X86_64)
        return rfail(r->d, "%s: not an x86-64 object (e_machine %u)", r->name,
                   (unsigned)eh.e_machine);
    if (eh.e_type != ET_REL)
        return rfail(r->d, "%s: not a relocatable object (e_type %u)", r->name,
                   (unsigned)eh.e_type);
    if (eh.e_ehsize != sizeof eh)
        return rfail(r->d, "%s: bad ELF header size %u", r->name,
                   (unsigned)eh.e_ehsize);
    if (eh.e_phnum != 0 || eh.e_phoff != 0 || eh.e_phentsize != 0)
        return rfail(r->d, "%s: an object has no program headers", r->name);
    if (eh.e_shentsize != sizeof(Elf64_Shdr))
        return rfail(r->d, "%s: bad section header size %u", r->name,
                   (unsigned)eh.e_shentsize);
    if (eh.e_shnum < 2 || eh.e_shnum > 16)
        return rfail(r->d, "%s: %u sections (expected 2 to 16)", r->name,
                   (unsigned)eh.e_shnum);
    if (eh.e_shoff > len || (len - eh.e_shoff) / sizeof(Elf64_Shdr) <
        eh.e_shnum)
        return rfail(r->d, "%s: section header table is outside the file "
                   "(truncated?)", r->name);
    if (eh.e_shstrndx == 0 || eh.e_shstrndx >= eh.e_shnum)
        return rfail(r->d, "%s: bad section name table index %u", r->name,
                   (unsigned)eh.e_shstrndx);
    for (unsigned i = 0; i < eh.e_shnum; i++) {
        Elf64_Shdr sh;
        memcpy(&sh, p + eh.e_shoff + i * sizeof sh, sizeof sh);
        if (i == 0) {
            static const Elf64_Shdr zero;
            if (memcmp(&sh, &zero, sizeof sh) != 0)
                return rfail(r->d, "%s: section 0 is not empty", r->name);
            continue;
        }
        if (sh.sh_type != SHT_NOBITS &&
            (sh.sh_offset > len || sh.sh_size > len - sh.sh_offset))
            return rfail(r->d, "%s: section %u lies outside the file "
                       "(truncated?)", r->name, i);
        if (sh.sh_addralign > 4096 ||
            (sh.sh_addralign & (sh.sh_addralign - 1)) != 0)
            return rfail(r->d, "%s: section %u: bad alignment %" PRIu64,
                       r->name, i, (uint64_t)sh.sh_addralign);
    }
    return 0;
}

/* Finds the known sections by name and checks their types and flags. */
static int scan_sections(reader *r)
{
    size_t n, shstrndx;
    if (elf_getshdrnum(r->e, &n) != 0 || elf_getshdrstrndx(r->e, &shstrndx)
        != 0)
        return rfail(r->d, "%s: %s", r->name, elf_errmsg(-1));
    for (size_t i = 1; i < n; i++) {
        Elf_Scn *scn = elf_getscn(r->e, i);
        GElf_Shdr sh;
        if (!scn || !gelf_getshdr(scn, &sh))
            return rfail(r->d, "%s: section %zu: %s", r->name, i, elf_errmsg(-1));
        const char *nm = elf_strptr(r->e, shstrndx, sh.sh_name);
        if (!nm)
            return rfail(r->d, "%s: section %zu has a bad name", r->name, i);
        unsigned k;
        for (k = 0; k < S_NUM && strcmp(nm, sec_spec[k].name) != 0; k++)
            ;
        if (k == S_NUM) {
            if (!r->unknown[0])
                snprintf(r->unknown, sizeof r->unknown, "%s", nm);
            continue;
        }
        if (r->idx[k])
            return rfail(r->d, "%s: two sections named %s", r->name, nm);
        if (sh.sh_type != sec_spec[k].type || sh.sh_flags != sec_spec[k].flags
            || sh.sh_addralign != sec_spec[k].align ||
            sh.sh_entsize != sec_spec[k].entsize || sh.sh_addr != 0)
            return rfail(r->d, "%s: section %s has the wrong type, flags, "
                       "alignment or entry size", r->name, nm);
        if (sec_spec[k].entsize && sh.sh_size % sec_spec[k].entsize != 0)
            return rfail(r->d, "%s: section %s: size %" PRIu64 " is not a "
                       "multiple of its entry size", r->name, nm,
                       (uint64_t)sh.sh_size);
        Elf_Data *dd = elf_getdata(scn, NULL);
        if (!dd && sh.sh_size != 0)
            return rfail(r->d, "%s: section %s: %s", r->name, nm, elf_errmsg(-1));
        if (dd && (dd->d_size != sh.sh_size || elf_getdata(scn, dd) != NULL))
            return rfail(r->d, "%s: section %s: unexpected data layout", r->name,
                       nm);
        if (k != S_RELA && k != S_SYMTAB && (sh.sh_link || sh.sh_info))
            return rfail(r->d, "%s: section %s: unexpected link", r->name, nm);
        r->idx[k] = i;
        r->data[k] = dd;
    }
    if (r->idx[S_SHSTR] != shstrndx)
        return rfail(r->d, "%s: section names are not in .shstrtab", r->name);
    return 0;
}

static const uint8_t *sec_bytes(const reader *r, int k, size_t *len)
{
    Elf_Data *dd = r->data[k];
    *len = dd ? dd->d_size : 0;
    return dd && dd->d_size ? dd->d_buf : NULL;
}

/* Parses .aotb.note into out (kind, pc, hash, features, fingerprint, deps). */
static int read_note(reader *r, obj_file *out)
{
    size_t len;
    const uint8_t *base = sec_bytes(r, S_NOTE, &len);
    if (!r->idx[S_NOTE])
        return rfail(r->d, "%s: no .aotb.note section: not an aotb object",
                     r->name);
    if (len < 20 || get_le32(base) != sizeof NOTE_NAME ||
        get_le32(base + 8) != OBJ_NOTE_TYPE ||
        memcmp(base + 12, NOTE_NAME "\0\0\0", 8) != 0)
        return rfail(r->d, "%s: .aotb.note: not an aotb note", r->name);
    const uint8_t *p = base + 20;
    size_t n = get_le32(base + 4);
    if (n % 4 || n != len - 20)
        return rfail(r->d, "%s: .aotb.note: descriptor size %zu does not "
                     "match the section (%zu bytes)", r->name, n, len);
    if (n < 4)
        return rfail(r->d, "%s: .aotb.note: descriptor too short", r->name);
    uint32_t version = get_le32(p);
    if (version != OBJ_FORMAT_VERSION)
        return rfail(r->d, "%s: object format version %" PRIu32 " is not "
                   "supported (expected %d); recompile", r->name, version,
                   OBJ_FORMAT_VERSION);
    if (n < NOTE_FIXED)
        return rfail(r->d, "%s: .aotb.note: descriptor too short", r->name);
    uint32_t kind = get_le32(p + 4);
    if (kind == KIND_RUNTIME)
        return rfail(r->d, "%s: holds the runtime stubs (aotb compile --runtime),"
                   " not a block or meta object", r->name);
    if (kind != KIND_BLOCK && kind != KIND_META)
        return rfail(r->d, "%s: .aotb.note: unknown object kind %" PRIu32,
                   r->name, kind);
    out->kind = kind == KIND_BLOCK ? OBJ_BLOCK : OBJ_META;
    out->pc = get_le64(p + 8);
    out->hash.hi = get_le64(p + 16);
    out->hash.lo = get_le64(p + 24);
    out->features = get_le32(p + 32);
    uint32_t fplen = get_le32(p + 36);
    if (fplen > 255 || fplen > n - NOTE_FIXED)
        return rfail(r->d, "%s: .aotb.note: bad fingerprint length %" PRIu32,
                   r->name, fplen);
    for (uint32_t i = 0; i < fplen; i++)
        if (p[NOTE_FIXED + i] < 0x20 || p[NOTE_FIXED + i] > 0x7e)
            return rfail(r->d, "%s: .aotb.note: non-printable fingerprint",
                       r->name);
    memcpy(out->fingerprint, p + NOTE_FIXED, fplen);
    out->fingerprint[fplen] = '\0';
    size_t pos = NOTE_FIXED + fplen;
    for (; pos % 4; pos++)
        if (pos >= n || p[pos] != 0)
            return rfail(r->d, "%s: .aotb.note: bad fingerprint padding", r->name);
    if (n - pos < 4)
        return rfail(r->d, "%s: .aotb.note: descriptor too short", r->name);
    uint32_t ndeps = get_le32(p + pos);
    pos += 4;
    if (ndeps > (n - pos) / 24 || n - pos != (size_t)ndeps * 24)
        return rfail(r->d, "%s: .aotb.note: %" PRIu32 " folded blocks do not fit "
                   "the descriptor", r->name, ndeps);
    if (out->kind == OBJ_META &&
        (out->pc || out->hash.hi || out->hash.lo || ndeps))
        return rfail(r->d, "%s: .aotb.note: a meta object with a block pc, hash "
                   "or folded blocks", r->name);
    if (ndeps) {
        out->deps = xcalloc(ndeps, sizeof *out->deps);
        if (!out->deps)
            return rfail(r->d, "out of memory");
        for (uint32_t i = 0; i < ndeps; i++, pos += 24) {
            out->deps[i].pc = get_le64(p + pos);
            out->deps[i].hash.hi = get_le64(p + pos + 8);
            out->deps[i].hash.lo = get_le64(p + pos + 16);
        }
    }
    out->ndeps = ndeps;
    return 0;
}

/* Checks .symtab: null symbol, locals (only STT_SECTION of .text), then the
 * globals in strictly ascending name order: exactly one defined, this
 * block's FUNC symbol covering the whole code, the rest undefined NOTYPE. */
static int read_symbols(reader *r, obj_file *out)
{
    GElf_Shdr sh;
    Elf_Scn *scn = elf_getscn(r->e, r->idx[S_SYMTAB]);
    if (!scn || !gelf_getshdr(scn, &sh))
        return rfail(r->d, "%s: .symtab: %s", r->name, elf_errmsg(-1));
    if (sh.sh_link != r->idx[S_STRTAB])
        return rfail(r->d, "%s: .symtab is not linked to .strtab", r->name);
    r->nsyms = sh.sh_size / sizeof(Elf64_Sym);
    r->first_global = sh.sh_info;
    if (r->nsyms < 2 || r->first_global < 1 || r->first_global > r->nsyms)
        return rfail(r->d, "%s: .symtab: bad symbol counts (%zu, first global "
                   "%zu)", r->name, r->nsyms, r->first_global);
    char own[SYM_NAME_MAX];
    block_sym(out->pc, own);
    const char *prev = NULL;
    int have_own = 0;
    for (size_t i = 0; i < r->nsyms; i++) {
        GElf_Sym s;
        if (!gelf_getsym(r->data[S_SYMTAB], (int)i, &s))
            return rfail(r->d, "%s: symbol %zu: %s", r->name, i, elf_errmsg(-1));
        int bind = GELF_ST_BIND(s.st_info), type = GELF_ST_TYPE(s.st_info);
        if (i == 0) {
            if (s.st_name || s.st_info || s.st_other || s.st_shndx ||
                s.st_value || s.st_size)
                return rfail(r->d, "%s: symbol 0 is not empty", r->name);
            continue;
        }
        if (i < r->first_global) {
            if (bind != STB_LOCAL || type != STT_SECTION ||
                s.st_shndx != r->idx[S_TEXT] || s.st_value || s.st_size)
                return rfail(r->d, "%s: symbol %zu: unexpected local symbol",
                           r->name, i);
            continue;
        }
        const char *nm = elf_strptr(r->e, r->idx[S_STRTAB], s.st_name);
        uint8_t kind;
        uint64_t target;
        if (!nm || sym_parse(nm, &kind, &target) != 0)
            return rfail(r->d, "%s: symbol %zu: unexpected name '%.40s'", r->name,
                       i, nm ? nm : "?");
        if (prev && strcmp(prev, nm) >= 0)
            return rfail(r->d, "%s: symbols not sorted or duplicated at %s",
                       r->name, nm);
        prev = nm;
        if (bind != STB_GLOBAL || s.st_other != STV_DEFAULT)
            return rfail(r->d, "%s: symbol %s is not global", r->name, nm);
        if (s.st_shndx == SHN_UNDEF) {
            if (type != STT_NOTYPE || s.st_value || s.st_size ||
                strcmp(nm, own) == 0)
                return rfail(r->d, "%s: undefined symbol %s is malformed",
                           r->name, nm);
            continue;
        }
        if (strcmp(nm, own) != 0 || s.st_shndx != r->idx[S_TEXT] ||
            type != STT_FUNC || s.st_value != 0 || s.st_size != out->code_len)
            return rfail(r->d, "%s: symbol %s: only %s may be defined, as a "
                       "function covering all of .text", r->name, nm, own);
        have_own = 1;
    }
    if (!have_own)
        return rfail(r->d, "%s: no symbol %s for the block", r->name, own);
    return 0;
}

static int read_relocs(reader *r, obj_file *out)
{
    GElf_Shdr sh;
    Elf_Scn *scn = elf_getscn(r->e, r->idx[S_RELA]);
    if (!scn || !gelf_getshdr(scn, &sh))
        return rfail(r->d, "%s: .rela.text: %s", r->name, elf_errmsg(-1));
    if (sh.sh_link != r->idx[S_SYMTAB] || sh.sh_info != r->idx[S_TEXT])
        return rfail(r->d, "%s: .rela.text is not linked to .symtab and .text",
                   r->name);
    size_t n = sh.sh_size / sizeof(Elf64_Rela);
    if (n == 0)
        return 0;
    out->relocs = xcalloc(n, sizeof *out->relocs);
    if (!out->relocs)
        return rfail(r->d, "out of memory");
    for (size_t i = 0; i < n; i++) {
        GElf_Rela ra;
        GElf_Sym s;
        if (!gelf_getrela(r->data[S_RELA], (int)i, &ra))
            return rfail(r->d, "%s: relocation %zu: %s", r->name, i,
                       elf_errmsg(-1));
        uint64_t sym = GELF_R_SYM(ra.r_info);
        uint32_t type = (uint32_t)GELF_R_TYPE(ra.r_info);
        if (type != R_X86_64_PLT32 && type != R_X86_64_PC32)
            return rfail(r->d, "%s: relocation %zu: type %" PRIu32 " is not "
                       "R_X86_64_PLT32 or R_X86_64_PC32", r->name, i, type);
        if (out->code_len < 4 || ra.r_offset > out->code_len - 4)
            return rfail(r->d, "%s: relocation %zu: offset 0x%" PRIx64 " is "
                       "outside the code (%zu bytes)", r->name, i,
                       (uint64_t)ra.r_offset, out->code_len);
        if (sym < r->first_global || sym >= r->nsyms)
            return rfail(r->d, "%s: relocation %zu: bad symbol index %" PRIu64,
                       r->name, i, sym);
        if (!gelf_getsym(r->data[S_SYMTAB], (int)sym, &s))
            return rfail(r->d, "%s: relocation %zu: %s", r->name, i,
                       elf_errmsg(-1));
        const char *nm = elf_strptr(r->e, r->idx[S_STRTAB], s.st_name);
        cg_reloc *c = &out->relocs[i];
        if (!nm || sym_parse(nm, &c->kind, &c->target) != 0)
            return rfail(r->d, "%s: relocation %zu: bad symbol", r->name, i);
        c->offset = (uint32_t)ra.r_offset;
        c->type = type;
        c->addend = ra.r_addend;
        out->nrelocs = i + 1;
    }
    return 0;
}

static int read_block(reader *r, obj_file *out)
{
    static const int need[] = {S_TEXT, S_RELA, S_SYMTAB, S_STRTAB};
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        if (!r->idx[need[i]])
            return rfail(r->d, "%s: block object without %s", r->name,
                       sec_spec[need[i]].name);
    if (r->idx[S_META] || r->idx[S_DATA])
        return rfail(r->d, "%s: block object with meta sections", r->name);
    size_t len;
    const uint8_t *code = sec_bytes(r, S_TEXT, &len);
    if (len == 0 || len > UINT32_MAX)
        return rfail(r->d, "%s: .text: bad size %zu", r->name, len);
    out->code = malloc(len);
    if (!out->code)
        return rfail(r->d, "out of memory");
    memcpy(out->code, code, len);
    out->code_len = len;
    if (read_symbols(r, out) != 0 || read_relocs(r, out) != 0)
        return -1;
    return 0;
}

static int read_meta(reader *r, obj_file *out)
{
    if (!r->idx[S_META] || !r->idx[S_DATA])
        return rfail(r->d, "%s: meta object without .aotb.meta or .aotb.data",
                   r->name);
    if (r->idx[S_TEXT] || r->idx[S_RELA] || r->idx[S_SYMTAB] ||
        r->idx[S_STRTAB])
        return rfail(r->d, "%s: meta object with code sections", r->name);
    size_t mlen, dlen;
    const uint8_t *m = sec_bytes(r, S_META, &mlen);
    const uint8_t *p = sec_bytes(r, S_DATA, &dlen);
    if (mlen != META_SIZE)
        return rfail(r->d, "%s: .aotb.meta: %zu bytes (expected %d)", r->name,
                   mlen, META_SIZE);
    uint32_t version = get_le32(m);
    if (version != OBJ_FORMAT_VERSION)
        return rfail(r->d, "%s: .aotb.meta: format version %" PRIu32 " is not "
                   "supported (expected %d); recompile", r->name, version,
                   OBJ_FORMAT_VERSION);
    uint32_t has_entry = get_le32(m + 4);
    out->entry = get_le64(m + 8);
    out->memsize = get_le64(m + 16);
    uint64_t ndata = get_le64(m + 24);
    if (has_entry > 1 || (!has_entry && out->entry))
        return rfail(r->d, "%s: .aotb.meta: bad entry", r->name);
    out->has_entry = (int)has_entry;
    if (out->memsize == 0)
        return rfail(r->d, "%s: .aotb.meta: memory size 0", r->name);
    if (ndata > dlen / 16)
        return rfail(r->d, "%s: .aotb.meta: %" PRIu64 " data segments do not fit "
                   ".aotb.data (%zu bytes)", r->name, ndata, dlen);
    if (ndata) {
        out->data = xcalloc((size_t)ndata, sizeof *out->data);
        if (!out->data)
            return rfail(r->d, "out of memory");
    }
    size_t pos = 0;
    for (size_t i = 0; i < ndata; i++) {
        if (dlen - pos < 16)
            return rfail(r->d, "%s: .aotb.data: segment %zu is truncated",
                       r->name, i);
        uint64_t addr = get_le64(p + pos), n = get_le64(p + pos + 8);
        pos += 16;
        if (n > dlen - pos)
            return rfail(r->d, "%s: .aotb.data: segment %zu (%" PRIu64 " bytes) "
                       "is truncated", r->name, i, n);
        ir_data *sd = &out->data[i];
        sd->addr = addr;
        sd->len = n;
        sd->bytes = malloc(n ? (size_t)n : 1);
        if (!sd->bytes)
            return rfail(r->d, "out of memory");
        out->ndata = i + 1;
        if (n)
            memcpy(sd->bytes, p + pos, (size_t)n);
        pos += (size_t)n;
        for (; pos % 8; pos++)
            if (pos >= dlen || p[pos] != 0)
                return rfail(r->d, "%s: .aotb.data: segment %zu: bad padding",
                           r->name, i);
    }
    if (pos != dlen)
        return rfail(r->d, "%s: .aotb.data: %zu bytes after the last segment",
                   r->name, dlen - pos);
    /* Written sorted: check order, range and overlap in one pass. */
    const ir_data **segs = xcalloc(out->ndata + 1, sizeof *segs);
    if (!segs)
        return rfail(r->d, "out of memory");
    int rc = 0;
    for (size_t i = 0; i < out->ndata; i++) {
        segs[i] = &out->data[i];
        if (i && seg_cmp(&segs[i - 1], &segs[i]) > 0) {
            rc = rfail(r->d, "%s: .aotb.data: segments not sorted", r->name);
            break;
        }
    }
    if (rc == 0)
        rc = check_segments(r->name, segs, out->ndata, out->memsize, r->d);
    free(segs);
    return rc;
}

int obj_read(const char *name, const uint8_t *data, size_t len, obj_file *out,
             aotb_diag *d)
{
    reader r;
    char *copy = NULL;
    int rc = -1;

    memset(out, 0, sizeof *out);
    memset(&r, 0, sizeof r);
    r.name = name;
    r.d = d;
    if (libelf_init(d) != 0 || precheck(&r, data, len) != 0)
        return -1;
    /* libelf wants a writable, suitably aligned image. */
    copy = malloc(len);
    if (!copy)
        return rfail(r.d, "out of memory");
    memcpy(copy, data, len);
    r.e = elf_memory(copy, len);
    if (!r.e || elf_kind(r.e) != ELF_K_ELF) {
        rfail(r.d, "%s: not an ELF object: %s", name, elf_errmsg(-1));
        goto done;
    }
    if (scan_sections(&r) != 0 || read_note(&r, out) != 0)
        goto done;
    if (r.unknown[0]) {
        rfail(r.d, "%s: unexpected section %s", name, r.unknown);
        goto done;
    }
    rc = out->kind == OBJ_BLOCK ? read_block(&r, out) : read_meta(&r, out);
done:
    if (r.e)
        elf_end(r.e);
    free(copy);
    if (rc != 0)
        obj_free(out);
    return rc;
}

void obj_free(obj_file *o)
{
    if (!o)
        return;
    free(o->code);
    free(o->relocs);
    free(o->deps);
    for (size_t i = 0; i < o->ndata; i++)
        free(o->data[i].bytes);
    free(o->data);
    memset(o, 0, sizeof *o);
}
