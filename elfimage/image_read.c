/* image_read.c: parses an image in memory and checks it.  The bytes are
 * hostile until img_parse returns 0: every field is read through bounds
 * checks, no count is trusted before it is compared with the size of the
 * bytes that must hold it, and the layout must be exactly the one the
 * linker writes (man/aotb-image.5).  The first problem found is reported,
 * naming the section or block. */
#include "image.h"

#include <elf.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <zstd.h>

typedef struct rd {
    img_image *img;
    aotb_diag *d;
} rd;

static int fail(rd *r, const char *fmt, ...) AOTB_PRINTF(2, 3);
static int fail(rd *r, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    diag_add(r->d, "%s: %s", r->img->name, msg);
    return -1;
}

static uint16_t get_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

/* The section's bytes (bounds were checked when the headers were read). */
static const uint8_t *sec_data(const img_image *img, uint32_t i)
{
    return img->data + img->secs[i].offset;
}

static int sec_fail(rd *r, uint32_t i, const char *what)
{
    return fail(r, "section %" PRIu32 " (%s): %s", i, r->img->secs[i].name,
                what);
}

/* ---- ELF header and section headers ----------------------------------- */

static int read_ehdr(rd *r, uint64_t *shoff, uint32_t *shnum)
{
    const img_image *img = r->img;
    const uint8_t *e = img->data;
    if (img->len < sizeof(Elf64_Ehdr))
        return fail(r, "truncated: %zu bytes is shorter than an ELF header",
                    img->len);
    if (memcmp(e, ELFMAG, SELFMAG) != 0)
        return fail(r, "not an ELF file (bad magic)");
    if (e[EI_CLASS] != ELFCLASS64 || e[EI_DATA] != ELFDATA2LSB ||
        e[EI_VERSION] != EV_CURRENT)
        return fail(r, "not a little-endian ELF64 file");
    for (int i = EI_OSABI; i < EI_NIDENT; i++)
        if (e[i] != 0)
            return fail(r, "ELF header: unexpected e_ident byte %d", i);
    if (get_le16(e + 16) != ET_REL)
        return fail(r, "ELF header: e_type %u is not ET_REL",
                    get_le16(e + 16));
    if (get_le16(e + 18) != EM_X86_64)
        return fail(r, "wrong machine %u: the image is not for x86-64",
                    get_le16(e + 18));
    if (get_le32(e + 20) != EV_CURRENT || get_le64(e + 24) != 0 ||
        get_le64(e + 32) != 0 || get_le32(e + 48) != 0 ||
        get_le16(e + 52) != sizeof(Elf64_Ehdr) || get_le16(e + 54) != 0 ||
        get_le16(e + 56) != 0 || get_le16(e + 58) != sizeof(Elf64_Shdr))
        return fail(r, "ELF header: unexpected version, entry, program "
                       "headers, flags or header sizes");
    *shoff = get_le64(e + 40);
    *shnum = get_le16(e + 60);
    if (*shnum < IMG_NSECS(0) || *shnum >= SHN_LORESERVE)
        return fail(r, "ELF header: %" PRIu32 " sections is not a valid "
                       "image layout", *shnum);
    if (get_le16(e + 62) != *shnum - 1)
        return fail(r, "ELF header: e_shstrndx is not the last section");
    if (*shoff % 8 != 0 || *shoff < sizeof(Elf64_Ehdr) ||
        *shoff > img->len ||
        img->len - *shoff < (uint64_t)*shnum * sizeof(Elf64_Shdr))
        return fail(r, "truncated or bad section header table (offset %"
                       PRIu64 ", %" PRIu32 " headers, file %zu bytes)",
                    *shoff, *shnum, img->len);
    return 0;
}

typedef struct range {
    uint64_t lo, hi;
    uint32_t sec;
} range;

static int cmp_range(const void *a, const void *b)
{
    const range *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static int read_shdrs(rd *r, uint64_t shoff, uint32_t shnum)
{
    img_image *img = r->img;
    img->nsecs = shnum;
    img->secs = xcalloc(shnum, sizeof *img->secs);
    range *rg = xcalloc(shnum + 1, sizeof *rg);
    uint32_t *nameoff = xcalloc(shnum, sizeof *nameoff);
    int rc = -1;
    if (!img->secs || !rg || !nameoff) {
        fail(r, "out of memory");
        goto out;
    }
    static const uint8_t zero[sizeof(Elf64_Shdr)];
    if (memcmp(img->data + shoff, zero, sizeof zero) != 0) {
        fail(r, "section header 0 is not all zeros");
        goto out;
    }
    size_t nr = 0;
    rg[nr++] = (range){0, sizeof(Elf64_Ehdr), 0};
    rg[nr++] = (range){shoff, shoff + (uint64_t)shnum * sizeof(Elf64_Shdr),
                       UINT32_MAX};
    for (uint32_t i = 1; i < shnum; i++) {
        const uint8_t *h = img->data + shoff + (uint64_t)i * 64;
        img_section *s = &img->secs[i];
        nameoff[i] = get_le32(h);
        s->type = get_le32(h + 4);
        s->flags = get_le64(h + 8);
        s->offset = get_le64(h + 24);
        s->size = get_le64(h + 32);
        s->link = get_le32(h + 40);
        s->info = get_le32(h + 44);
        s->addralign = get_le64(h + 48);
        s->entsize = get_le64(h + 56);
        snprintf(s->name, sizeof s->name, "#%" PRIu32, i);
        if (get_le64(h + 16) != 0 || s->type == SHT_NOBITS ||
            s->offset > img->len || img->len - s->offset < s->size) {
            fail(r, "section %" PRIu32 ": address, type or extent out of "
                    "range (offset %" PRIu64 ", size %" PRIu64 ", file %zu "
                    "bytes)", i, s->offset, s->size, img->len);
            goto out;
        }
        if (s->addralign == 0 || (s->addralign & (s->addralign - 1)) ||
            s->offset % s->addralign != 0) {
            fail(r, "section %" PRIu32 ": bad alignment", i);
            goto out;
        }
        if (s->size > 0)
            rg[nr++] = (range){s->offset, s->offset + s->size, i};
    }
    qsort(rg, nr, sizeof *rg, cmp_range);
    for (size_t i = 1; i < nr; i++)
        if (rg[i].lo < rg[i - 1].hi) {
            fail(r, "section %" PRIu32 " overlaps %s", rg[i].sec,
                 rg[i - 1].sec == 0 ? "the ELF header"
                 : rg[i - 1].sec == UINT32_MAX ? "the section headers"
                                               : "another section");
            goto out;
        }
    /* Section names. */
    const img_section *ss = &img->secs[shnum - 1];
    if (ss->type != SHT_STRTAB || ss->size == 0) {
        fail(r, "section %" PRIu32 ": the section name table is missing",
             shnum - 1);
        goto out;
    }
    const char *names = (const char *)img->data + ss->offset;
    if (names[ss->size - 1] != '\0') {
        fail(r, "section name table is not NUL-terminated");
        goto out;
    }
    for (uint32_t i = 1; i < shnum; i++) {
        if (nameoff[i] >= ss->size) {
            fail(r, "section %" PRIu32 ": name offset out of range", i);
            goto out;
        }
        snprintf(img->secs[i].name, sizeof img->secs[i].name, "%s",
                 names + nameoff[i]);
    }
    rc = 0;
out:
    free(rg);
    free(nameoff);
    return rc;
}

/* ---- header, checksums, layout ---------------------------------------- */

static int read_header(rd *r)
{
    img_image *img = r->img;
    const img_section *s = &img->secs[IMG_SEC_HEADER];
    if (strcmp(s->name, ".aotb.header") != 0 || s->size < 12)
        return sec_fail(r, IMG_SEC_HEADER, "not an aotb image header");
    const uint8_t *h = sec_data(img, IMG_SEC_HEADER);
    if (memcmp(h, IMG_MAGIC, 8) != 0)
        return sec_fail(r, IMG_SEC_HEADER, "bad magic: not an aotb image");
    img->version = get_le32(h + 8);
    if (img->version != IMG_FORMAT_VERSION)
        return fail(r, "image format version %" PRIu32 " is not supported "
                       "by this aotb (supports %u); rebuild the image",
                    img->version, IMG_FORMAT_VERSION);
    if (s->size != IMG_HEADER_SIZE)
        return sec_fail(r, IMG_SEC_HEADER, "wrong size");
    img->features = get_le32(h + 12);
    img->entry = get_le64(h + 16);
    uint32_t he = get_le32(h + 24);
    img->nblocks = get_le32(h + 28);
    img->memsize = get_le64(h + 32);
    img->nchunks = get_le32(h + 40);
    img->nmissing = get_le32(h + 44);
    memcpy(img->fingerprint, h + 48, IMG_FP_SIZE);
    if (he > 1 || (!he && img->entry != 0))
        return sec_fail(r, IMG_SEC_HEADER, "bad entry fields");
    img->has_entry = (int)he;
    if (img->memsize == 0)
        return sec_fail(r, IMG_SEC_HEADER, "memory size 0");
    size_t fl = strnlen(img->fingerprint, IMG_FP_SIZE);
    if (fl == IMG_FP_SIZE)
        return sec_fail(r, IMG_SEC_HEADER, "fingerprint not NUL-terminated");
    for (size_t i = fl; i < IMG_FP_SIZE; i++)
        if (img->fingerprint[i] != 0)
            return sec_fail(r, IMG_SEC_HEADER, "fingerprint padding not zero");
    if ((uint64_t)img->nchunks * 2 + IMG_NSECS(0) != img->nsecs)
        return sec_fail(r, IMG_SEC_HEADER, "chunk count does not match the "
                                           "sections");
    return 0;
}

static int cmp_sec_offset(const void *a, const void *b, void *secs)
{
    const img_section *s = secs;
    uint64_t x = s[*(const uint32_t *)a].offset;
    uint64_t y = s[*(const uint32_t *)b].offset;
    return x < y ? -1 : x > y;
}

/* The root checksum of img (img_sum_root): the bytes outside the sections
 * (checked inside the file and apart from each other) and section sumsndx,
 * in file order.  0, or -1 when out of memory. */
static int root_sum(const img_image *img, uint32_t sumsndx,
                    uint8_t out[IMG_SUM_SIZE])
{
    uint32_t *order = xreallocarray(NULL, img->nsecs, sizeof *order);
    struct iovec *iov = xreallocarray(NULL, 2 * (size_t)img->nsecs + 1,
                                      sizeof *iov);
    if (!order || !iov) {
        free(order);
        free(iov);
        return -1;
    }
    uint32_t n = 0;
    for (uint32_t i = 1; i < img->nsecs; i++)
        if (img->secs[i].size > 0)
            order[n++] = i;
    qsort_r(order, n, sizeof *order, cmp_sec_offset, (void *)img->secs);
    int niov = 0, sums = -1;
    uint64_t at = 0;
    for (uint32_t k = 0; k < n; k++) {
        const img_section *s = &img->secs[order[k]];
        if (s->offset > at)
            iov[niov++] = (struct iovec){(void *)(uintptr_t)(img->data + at),
                                         s->offset - at};
        if (order[k] == sumsndx) {
            sums = niov;
            iov[niov++] = (struct iovec){
                (void *)(uintptr_t)(img->data + s->offset), s->size};
        }
        if (s->offset + s->size > at)
            at = s->offset + s->size;
    }
    if (img->len > at)
        iov[niov++] = (struct iovec){(void *)(uintptr_t)(img->data + at),
                                     img->len - at};
    img_sum_root(iov, niov, sums, out);
    free(order);
    free(iov);
    return 0;
}

static int check_sums(rd *r)
{
    img_image *img = r->img;
    uint32_t si = img->nsecs - 2;
    const img_section *s = &img->secs[si];
    if (strcmp(s->name, ".aotb.sums") != 0 || s->type != SHT_PROGBITS ||
        s->size != 32 + (uint64_t)IMG_SUM_SIZE * img->nsecs)
        return sec_fail(r, si, "the checksum section is missing or has the "
                               "wrong size");
    const uint8_t *sm = sec_data(img, si);
    if (get_le32(sm) != img->nsecs || get_le32(sm + 4) != 0 ||
        get_le64(sm + 8) != 0)
        return sec_fail(r, si, "bad checksum section header");
    uint8_t got[IMG_SUM_SIZE];
    static const uint8_t zero[IMG_SUM_SIZE];
    for (uint32_t i = 0; i < img->nsecs; i++) {
        const uint8_t *want = sm + 32 + (size_t)IMG_SUM_SIZE * i;
        if (i == 0 || i == si) {
            if (memcmp(want, zero, IMG_SUM_SIZE) != 0)
                return sec_fail(r, si, "checksum slot must be zero");
            continue;
        }
        img_sum(sec_data(img, i), img->secs[i].size, got);
        if (memcmp(got, want, IMG_SUM_SIZE) != 0)
            return sec_fail(r, i, "checksum mismatch (the file is damaged)");
    }
    /* The root covers everything else, in file order: ELF header,
     * section headers, padding, and .aotb.sums, the checksums above. */
    if (root_sum(img, si, got) != 0)
        return fail(r, "out of memory");
    memcpy(img->root, sm + 16, IMG_SUM_SIZE);
    if (memcmp(got, img->root, IMG_SUM_SIZE) != 0)
        return fail(r, "root checksum mismatch: the ELF header, section "
                       "headers, padding or checksums are damaged");
    return 0;
}

/* Type, flags, link, info, alignment, entry size of every section. */
static int check_layout(rd *r)
{
    img_image *img = r->img;
    typedef struct want {
        const char *name;
        uint32_t type, link, info;
        uint64_t flags, align, entsize;
    } want;
    const want fixed[] = {
        {NULL, 0, 0, 0, 0, 0, 0},
        {".aotb.header", SHT_PROGBITS, 0, 0, 0, 8, 0},
        {".aotb.index", SHT_PROGBITS, 0, 0, 0, 8, IMG_INDEX_REC},
        {".aotb.data", SHT_PROGBITS, 0, 0, 0, 8, 0},
        {".symtab", SHT_SYMTAB, IMG_SEC_STRTAB, 1, 0, 8, sizeof(Elf64_Sym)},
        {".strtab", SHT_STRTAB, 0, 0, 0, 1, 0},
        {".text.aotb.missing", SHT_PROGBITS, 0, 0, SHF_EXECINSTR,
         IMG_BLOCK_ALIGN, 0},
        {".rela.text.aotb.missing", SHT_RELA, IMG_SEC_SYMTAB, IMG_SEC_MISSING,
         SHF_INFO_LINK, 8, sizeof(Elf64_Rela)},
    };
    for (uint32_t i = 1; i < img->nsecs; i++) {
        want w;
        char nm[48];
        if (i < IMG_SEC_CHUNK0) {
            w = fixed[i];
        } else if (i == img->nsecs - 3) {
            w = (want){".aotb.deps", SHT_PROGBITS, 0, 0, 0, 8, IMG_DEP_REC};
        } else if (i == img->nsecs - 2) {
            w = (want){".aotb.sums", SHT_PROGBITS, 0, 0, 0, 8, 0};
        } else if (i == img->nsecs - 1) {
            w = (want){".shstrtab", SHT_STRTAB, 0, 0, 0, 1, 0};
        } else if ((i - IMG_SEC_CHUNK0) % 2 == 0) {
            snprintf(nm, sizeof nm, ".text.aotb.%" PRIu32,
                     (i - IMG_SEC_CHUNK0) / 2);
            w = (want){nm, SHT_PROGBITS, 0, 0, SHF_EXECINSTR | SHF_COMPRESSED,
                       8, 0};
        } else {
            snprintf(nm, sizeof nm, ".rela.text.aotb.%" PRIu32,
                     (i - IMG_SEC_CHUNK0) / 2);
            w = (want){nm, SHT_RELA, IMG_SEC_SYMTAB, i - 1, SHF_INFO_LINK, 8,
                       sizeof(Elf64_Rela)};
        }
        const img_section *s = &img->secs[i];
        if (strcmp(s->name, w.name) != 0)
            return fail(r, "section %" PRIu32 " is '%s', expected '%s'", i,
                        s->name, w.name);
        if (s->type != w.type || s->link != w.link || s->info != w.info ||
            s->flags != w.flags || s->addralign != w.align ||
            s->entsize != w.entsize)
            return sec_fail(r, i, "unexpected type, flags, link, info, "
                                  "alignment or entry size");
        if (w.entsize && s->size % w.entsize != 0)
            return sec_fail(r, i, "size is not a multiple of the entry size");
    }
    return 0;
}

/* ---- chunks, symbols, index, relocations ------------------------------ */

static int read_chunks(rd *r)
{
    img_image *img = r->img;
    img->chunks = xcalloc(img->nchunks ? img->nchunks : 1,
                          sizeof *img->chunks);
    if (!img->chunks)
        return fail(r, "out of memory");
    for (uint32_t c = 0; c < img->nchunks; c++) {
        img_chunk *ch = &img->chunks[c];
        uint32_t si = IMG_SEC_CHUNK0 + 2 * c;
        const img_section *s = &img->secs[si];
        if (s->size <= sizeof(Elf64_Chdr))
            return sec_fail(r, si, "truncated compression header");
        const uint8_t *p = sec_data(img, si);
        if (get_le32(p) != IMG_ELFCOMPRESS_ZSTD)
            return sec_fail(r, si, "compression type is not zstd (2)");
        ch->size = get_le64(p + 8);
        if (get_le32(p + 4) != 0 || get_le64(p + 16) != IMG_BLOCK_ALIGN)
            return sec_fail(r, si, "bad compression header");
        if (ch->size == 0 || ch->size > IMG_MAX_CHUNK_SIZE)
            return sec_fail(r, si, "uncompressed size out of range");
        ch->shndx = si;
        ch->zframe = p + sizeof(Elf64_Chdr);
        ch->zsize = s->size - sizeof(Elf64_Chdr);
        unsigned long long fs = ZSTD_getFrameContentSize(ch->zframe,
                                                         ch->zsize);
        if (fs != ch->size)
            return sec_fail(r, si, "zstd frame content size does not match "
                                   "ch_size");
        if (ZSTD_findFrameCompressedSize(ch->zframe, ch->zsize) != ch->zsize)
            return sec_fail(r, si, "not exactly one zstd frame");
        ch->rela = sec_data(img, si + 1);
        ch->nrelas = (uint32_t)(img->secs[si + 1].size / sizeof(Elf64_Rela));
    }
    img->missing_code = sec_data(img, IMG_SEC_MISSING);
    img->missing_rela = sec_data(img, IMG_SEC_MISSING_RELA);
    img->missing_nrelas =
        (uint32_t)(img->secs[IMG_SEC_MISSING_RELA].size / sizeof(Elf64_Rela));
    return 0;
}

/* "aotb_blk_" + 16 lower-case hex digits. */
static int parse_block_sym(const char *s, size_t max, uint64_t *pc)
{
    if (max < 26 || strncmp(s, "aotb_blk_", 9) != 0 || s[25] != '\0')
        return -1;
    uint64_t v = 0;
    for (int i = 9; i < 25; i++) {
        int c = s[i], x;
        if (c >= '0' && c <= '9')
            x = c - '0';
        else if (c >= 'a' && c <= 'f')
            x = c - 'a' + 10;
        else
            return -1;
        v = v << 4 | (uint64_t)x;
    }
    *pc = v;
    return 0;
}

static int read_symbols(rd *r)
{
    static const char *const rt[CG_RT_NUM] = {CG_SYM_ENTER, CG_SYM_EXIT,
                                              CG_SYM_LOOKUP};
    img_image *img = r->img;
    const img_section *st = &img->secs[IMG_SEC_SYMTAB];
    const img_section *ss = &img->secs[IMG_SEC_STRTAB];
    uint64_t want = 1 + (uint64_t)img->nblocks + img->nmissing + CG_RT_NUM;
    if (st->size / sizeof(Elf64_Sym) != want)
        return sec_fail(r, IMG_SEC_SYMTAB, "symbol count does not match the "
                                           "header's block and stub counts");
    img->nsyms = (uint32_t)want;
    img->sympc = xcalloc(want, sizeof *img->sympc);
    img->missing = xcalloc(img->nmissing ? img->nmissing : 1,
                           sizeof *img->missing);
    if (!img->sympc || !img->missing)
        return fail(r, "out of memory");
    const uint8_t *sym = sec_data(img, IMG_SEC_SYMTAB);
    const char *str = (const char *)sec_data(img, IMG_SEC_STRTAB);
    if (ss->size == 0 || str[ss->size - 1] != '\0' || str[0] != '\0')
        return sec_fail(r, IMG_SEC_STRTAB, "not a string table");
    static const uint8_t zero[sizeof(Elf64_Sym)];
    if (memcmp(sym, zero, sizeof zero) != 0)
        return sec_fail(r, IMG_SEC_SYMTAB, "symbol 0 is not all zeros");
    uint32_t nm = 0, nb = 0;
    uint64_t mend = 0;
    for (uint32_t k = 1; k < want; k++) {
        const uint8_t *e = sym + (size_t)k * sizeof(Elf64_Sym);
        uint32_t name = get_le32(e);
        uint8_t info = e[4], other = e[5];
        uint16_t shndx = get_le16(e + 6);
        uint64_t value = get_le64(e + 8), size = get_le64(e + 16);
        if (name >= ss->size)
            return fail(r, "symbol %" PRIu32 ": name out of range", k);
        const char *nmstr = str + name;
        size_t room = ss->size - name;
        if (info != ELF64_ST_INFO(STB_GLOBAL, STT_FUNC) || other != 0)
            return fail(r, "symbol %" PRIu32 ": not a global function", k);
        if (k > img->nblocks + img->nmissing) {
            uint32_t ri = k - 1 - img->nblocks - img->nmissing;
            if (strcmp(nmstr, rt[ri]) != 0 || shndx != SHN_UNDEF ||
                value != 0 || size != 0)
                return fail(r, "symbol %" PRIu32 ": expected the undefined "
                               "runtime symbol %s", k, rt[ri]);
            continue;
        }
        uint64_t pc;
        if (parse_block_sym(nmstr, room, &pc) != 0)
            return fail(r, "symbol %" PRIu32 ": bad block symbol name", k);
        if (k > 1 && pc <= img->sympc[k - 1])
            return fail(r, "symbol %" PRIu32 ": block symbols not sorted by "
                           "pc", k);
        img->sympc[k] = pc;
        if (shndx == IMG_SEC_MISSING) {
            if (nm >= img->nmissing)
                return fail(r, "symbol %" PRIu32 ": more missing stubs than "
                               "the header says", k);
            if (value % IMG_BLOCK_ALIGN != 0 || value < mend ||
                size == 0 || value > img->secs[IMG_SEC_MISSING].size ||
                img->secs[IMG_SEC_MISSING].size - value < size)
                return fail(r, "missing stub 0x%" PRIx64 ": offset or size "
                               "out of range", pc);
            img_missing *m = &img->missing[nm++];
            m->pc = pc;
            m->offset = (uint32_t)value;
            m->size = (uint32_t)size;
            mend = value + size;
            continue;
        }
        /* A block symbol: it must agree with the next index record. */
        if (nb >= img->nblocks)
            return fail(r, "symbol %" PRIu32 ": more block symbols than "
                           "index records", k);
        const img_block *b = &img->blocks[nb++];
        if (b->pc != pc || shndx != IMG_SEC_CHUNK0 + 2 * b->chunk ||
            value != b->offset || size != b->size)
            return fail(r, "block 0x%" PRIx64 ": symbol table and index "
                           "disagree", pc);
    }
    if (nm != img->nmissing || nb != img->nblocks)
        return sec_fail(r, IMG_SEC_SYMTAB, "symbol counts do not match the "
                                           "header");
    if (mend != img->secs[IMG_SEC_MISSING].size)
        return sec_fail(r, IMG_SEC_MISSING, "size does not match the stubs");
    return 0;
}

static int read_index(rd *r)
{
    img_image *img = r->img;
    const img_section *s = &img->secs[IMG_SEC_INDEX];
    if (s->size / IMG_INDEX_REC != img->nblocks)
        return sec_fail(r, IMG_SEC_INDEX, "record count does not match the "
                                          "header's block count");
    if (img->nblocks < img->nchunks)
        return sec_fail(r, IMG_SEC_INDEX, "fewer blocks than chunks");
    img->blocks = xcalloc(img->nblocks ? img->nblocks : 1,
                          sizeof *img->blocks);
    if (!img->blocks)
        return fail(r, "out of memory");
    const uint8_t *x = sec_data(img, IMG_SEC_INDEX);
    uint64_t end = 0, rnext = 0;
    for (uint32_t i = 0; i < img->nblocks; i++, x += IMG_INDEX_REC) {
        img_block *b = &img->blocks[i];
        b->pc = get_le64(x);
        b->chunk = get_le32(x + 8);
        b->offset = get_le32(x + 12);
        b->size = get_le32(x + 16);
        b->reloc_first = get_le32(x + 20);
        b->reloc_count = get_le32(x + 24);
        b->hash.hi = get_le64(x + 32);
        b->hash.lo = get_le64(x + 40);
        memcpy(b->sum, x + 48, IMG_SUM_SIZE);
        if (get_le32(x + 28) != 0)
            return fail(r, "block 0x%" PRIx64 ": index padding not zero",
                        b->pc);
        if (i > 0 && b->pc <= img->blocks[i - 1].pc)
            return fail(r, "block 0x%" PRIx64 ": index not sorted by pc",
                        b->pc);
        uint32_t prev = i ? img->blocks[i - 1].chunk : 0;
        int first_in_chunk = i == 0 || b->chunk != prev;
        if (first_in_chunk) {
            if (i > 0 && img->chunks[prev].size != end)
                return fail(r, "chunk %" PRIu32 ": uncompressed size does "
                               "not end at its last block", prev);
            if (b->chunk != (i ? prev + 1 : 0))
                return fail(r, "block 0x%" PRIx64 ": chunk %" PRIu32 " out "
                               "of order", b->pc, b->chunk);
            end = 0;
            rnext = 0;
        }
        if (b->chunk >= img->nchunks)
            return fail(r, "block 0x%" PRIx64 ": chunk %" PRIu32 " out of "
                           "range", b->pc, b->chunk);
        img_chunk *ch = &img->chunks[b->chunk];
        if (first_in_chunk)
            ch->first_block = i;
        ch->nblocks++;
        if (b->size == 0 || b->offset % IMG_BLOCK_ALIGN != 0 ||
            b->offset < end || b->offset > ch->size ||
            ch->size - b->offset < b->size ||
            b->offset - end >= IMG_BLOCK_ALIGN)
            return fail(r, "block 0x%" PRIx64 ": offset %" PRIu32 " / size %"
                           PRIu32 " out of range in chunk %" PRIu32,
                        b->pc, b->offset, b->size, b->chunk);
        end = (uint64_t)b->offset + b->size;
        if (b->reloc_first != rnext ||
            (uint64_t)b->reloc_first + b->reloc_count > ch->nrelas)
            return fail(r, "block 0x%" PRIx64 ": relocation range out of "
                           "range", b->pc);
        rnext += b->reloc_count;
        if (i + 1 == img->nblocks || get_le32(x + IMG_INDEX_REC + 8) !=
                                         b->chunk) {
            if (rnext != ch->nrelas)
                return fail(r, "chunk %" PRIu32 ": relocations not covered "
                               "by its blocks", b->chunk);
        }
    }
    if (img->nblocks > 0) {
        const img_block *last = &img->blocks[img->nblocks - 1];
        if (last->chunk + 1 != img->nchunks ||
            img->chunks[last->chunk].size != end)
            return fail(r, "the last chunk does not end at the last block");
    }
    return 0;
}

/* One relocation record, checked against the code range it must patch. */
static int check_rela(rd *r, const uint8_t *e, uint64_t lo, uint64_t hi,
                      const char *what, uint64_t pc)
{
    const img_image *img = r->img;
    uint64_t off = get_le64(e), info = get_le64(e + 8);
    int64_t add = (int64_t)get_le64(e + 16);
    uint32_t sym = (uint32_t)ELF64_R_SYM(info),
             type = (uint32_t)ELF64_R_TYPE(info);
    if (off < lo || off > hi || hi - off < 4 || sym == 0 ||
        sym >= img->nsyms || (type != R_X86_64_PC32 &&
                              type != R_X86_64_PLT32) ||
        add < INT32_MIN || add > INT32_MAX)
        return fail(r, "%s 0x%" PRIx64 ": relocation out of range or of an "
                       "unexpected type", what, pc);
    return 0;
}

static int check_relocs(rd *r)
{
    img_image *img = r->img;
    for (uint32_t i = 0; i < img->nblocks; i++) {
        const img_block *b = &img->blocks[i];
        const img_chunk *ch = &img->chunks[b->chunk];
        for (uint32_t k = 0; k < b->reloc_count; k++)
            if (check_rela(r, ch->rela + (size_t)(b->reloc_first + k) * 24,
                           b->offset, (uint64_t)b->offset + b->size, "block",
                           b->pc) != 0)
                return -1;
    }
    /* Missing stubs own the relocations that fall inside them, in order. */
    uint32_t k = 0;
    for (uint32_t i = 0; i < img->nmissing; i++) {
        img_missing *m = &img->missing[i];
        m->reloc_first = k;
        while (k < img->missing_nrelas) {
            const uint8_t *e = img->missing_rela + (size_t)k * 24;
            uint64_t off = get_le64(e);
            if (off >= (uint64_t)m->offset + m->size)
                break;
            if (check_rela(r, e, m->offset, (uint64_t)m->offset + m->size,
                           "missing stub", m->pc) != 0)
                return -1;
            k++;
        }
        m->reloc_count = k - m->reloc_first;
    }
    if (k != img->missing_nrelas)
        return sec_fail(r, IMG_SEC_MISSING_RELA, "relocations outside the "
                                                 "missing stubs");
    return 0;
}

/* .aotb.deps: records in block order, each naming a block of the index. */
static int read_deps(rd *r)
{
    img_image *img = r->img;
    uint32_t si = img->nsecs - 3;
    const img_section *s = &img->secs[si];
    uint64_t n = s->size / IMG_DEP_REC;
    if (n > UINT32_MAX)
        return sec_fail(r, si, "too many records");
    img->ndeps = (uint32_t)n;
    img->deps = xcalloc(n ? n : 1, sizeof *img->deps);
    if (!img->deps)
        return fail(r, "out of memory");
    const uint8_t *x = sec_data(img, si);
    uint32_t b = 0;
    for (uint32_t i = 0; i < img->ndeps; i++, x += IMG_DEP_REC) {
        img_dep *e = &img->deps[i];
        e->pc = get_le64(x);
        e->dep_pc = get_le64(x + 8);
        e->dep_hash.hi = get_le64(x + 16);
        e->dep_hash.lo = get_le64(x + 24);
        while (b < img->nblocks && img->blocks[b].pc < e->pc)
            b++;
        if (b == img->nblocks || img->blocks[b].pc != e->pc)
            return fail(r, "dependency record %" PRIu32 ": block 0x%" PRIx64
                           " is not in the index or records not sorted",
                        i, e->pc);
        if (img->blocks[b].dep_count++ == 0)
            img->blocks[b].dep_first = i;
    }
    return 0;
}

static int read_data(rd *r)
{
    img_image *img = r->img;
    const img_section *s = &img->secs[IMG_SEC_DATA];
    const uint8_t *p = sec_data(img, IMG_SEC_DATA);
    if (s->size < 8)
        return sec_fail(r, IMG_SEC_DATA, "truncated");
    uint32_t n = get_le32(p);
    if (get_le32(p + 4) != 0 || n > (s->size - 8) / IMG_DATA_REC)
        return sec_fail(r, IMG_SEC_DATA, "segment count out of range");
    img->datas = xcalloc(n ? n : 1, sizeof *img->datas);
    if (!img->datas)
        return fail(r, "out of memory");
    img->ndata = n;
    uint64_t pos = 8 + (uint64_t)n * IMG_DATA_REC;
    for (uint32_t i = 0; i < n; i++) {
        ir_data *dt = &img->datas[i];
        dt->addr = get_le64(p + 8 + (size_t)i * IMG_DATA_REC);
        dt->len = get_le64(p + 16 + (size_t)i * IMG_DATA_REC);
        uint64_t padded = (dt->len + 7) & ~(uint64_t)7;
        if (dt->len > s->size - pos || padded > s->size - pos ||
            dt->addr > img->memsize || img->memsize - dt->addr < dt->len)
            return fail(r, "data segment %" PRIu32 " (0x%" PRIx64 ", %" PRIu64
                           " bytes) out of range", i, dt->addr, dt->len);
        dt->bytes = (uint8_t *)(uintptr_t)(p + pos);
        for (uint64_t z = dt->len; z < padded; z++)
            if (p[pos + z] != 0)
                return sec_fail(r, IMG_SEC_DATA, "padding not zero");
        pos += padded;
    }
    if (pos != s->size)
        return sec_fail(r, IMG_SEC_DATA, "size does not match the segments");
    return 0;
}

int img_parse(const char *name, const uint8_t *data, size_t len,
              img_image *out, aotb_diag *d)
{
    memset(out, 0, sizeof *out);
    out->name = name;
    out->data = data;
    out->len = len;
    rd r = {out, d};
    uint64_t shoff = 0;
    uint32_t shnum = 0;
    if (read_ehdr(&r, &shoff, &shnum) != 0 ||
        read_shdrs(&r, shoff, shnum) != 0 || read_header(&r) != 0 ||
        check_sums(&r) != 0 || check_layout(&r) != 0 ||
        read_chunks(&r) != 0 || read_index(&r) != 0 ||
        read_symbols(&r) != 0 || check_relocs(&r) != 0 ||
        read_deps(&r) != 0 || read_data(&r) != 0) {
        img_free(out);
        return -1;
    }
    return 0;
}

void img_free(img_image *img)
{
    free(img->secs);
    free(img->chunks);
    free(img->blocks);
    free(img->missing);
    free(img->sympc);
    free(img->datas);
    free(img->deps);
    img->deps = NULL;
    img->secs = NULL;
    img->chunks = NULL;
    img->blocks = NULL;
    img->missing = NULL;
    img->sympc = NULL;
    img->datas = NULL;
}
