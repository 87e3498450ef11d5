/* image_link.c: aotb link.  Merges per-block objects into one image
 * (man/aotb-image.5) in passes over a context struct:
 *   collect   the meta object, the fingerprint, the blocks
 *   resolve   sort by pc, duplicates, block targets with no block -> stubs
 *   lay out   blocks into ~16 KiB chunks, 16-byte aligned
 *   compress  one zstd frame per chunk behind an Elf64_Chdr
 *   write     sections, symbols, relocations, index, data, checksums
 * Errors are collected so that one run reports all of them.  The output is
 * a pure function of the set of objects (and, in incremental mode, of the
 * old image): their order does not matter.
 *
 * Incremental mode (img_link_opts.old): while laying out, a run of blocks
 * that exactly matches one of the old image's chunks (same pcs, code
 * checksums, offsets and relocations) takes that chunk's compressed bytes
 * as they are; only the other blocks are packed into new chunks and
 * compressed.  Compression is most of a link's time, so relinking after a
 * few changes costs a small fraction of a full link.  Relocation sections
 * are always rewritten: symbol numbers shift when blocks come and go. */
#include "image.h"

#include <elf.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#define XXH_STATIC_LINKING_ONLY   /* XXH3_state_t on the stack */
#include <xxhash.h>
#include <zstd.h>

typedef struct lblock {
    uint64_t pc;
    size_t obj;            /* index into objs */
    uint32_t chunk, offset;
    uint8_t sum[IMG_SUM_SIZE];   /* of the code */
} lblock;

typedef struct lchunk {
    uint32_t first, n;     /* blocks */
    buf z;                 /* Elf64_Chdr + zstd frame */
    buf rela;
    int reused;            /* z points into the old image (not owned) */
    int rela_reused;       /* so does rela (same symbol numbering) */
    uint32_t old_shndx;    /* reused: the old chunk's section, whose
                              checksums (verified by img_parse) are the
                              new sections' */
    uint64_t size;         /* uncompressed size */
} lchunk;

typedef struct lsec {
    const char *name;
    uint32_t type, link, info;
    uint64_t flags, align, entsize;
    buf *data;
    uint64_t offset;
    uint32_t name_off;
} lsec;

typedef struct link_ctx {
    const obj_file *objs;
    const char *const *names;
    size_t n;
    aotb_diag *d;
    int errors;
    size_t meta;           /* index of the meta object, or n */
    size_t fp_from;        /* the object whose fingerprint is the image's */
    uint32_t features;
    lblock *blocks;
    size_t nblocks;
    cg_code *missing;      /* stubs for targets with no block, by pc */
    size_t nmissing, missing_cap;
    uint64_t *syms;        /* every block symbol's pc, sorted */
    size_t nsyms;
    lchunk *chunks;
    size_t nchunks;
    buf missing_code, missing_rela;
    uint32_t *missing_off;
    const img_image *old;  /* incremental mode, or NULL */
    uint32_t max_chunk_blocks;
    int level;
    uint8_t root[IMG_SUM_SIZE];  /* the written image's root checksum */
    const uint32_t *from_old;    /* img_link_opts.from_old */
    const uint32_t *from_old_features;   /* and .from_old_features */
    int same_syms;               /* old has exactly our symbols, in order:
                                    its relocation records are ours */
    uint8_t **old_code;          /* old chunks decompressed for from_old */
} link_ctx;

static void lerr(link_ctx *c, const char *fmt, ...) AOTB_PRINTF(2, 3);
static void lerr(link_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_vadd(c->d, fmt, ap);
    va_end(ap);
    c->errors++;
}

/* ---- objects --------------------------------------------------------- */

/* An object with from_old set is the old image's block: everything but its
 * CPU features comes from there and objs[i] is not looked at (cmd_link
 * leaves it zero, so that 10,000 unchanged objects cost no memory). */
static const img_block *old_of(const link_ctx *c, size_t i)
{
    return c->from_old && c->from_old[i] != UINT32_MAX
               ? &c->old->blocks[c->from_old[i]] : NULL;
}

static size_t o_len(const link_ctx *c, size_t i)
{
    const img_block *x = old_of(c, i);
    return x ? x->size : c->objs[i].code_len;
}

static size_t o_nrelocs(const link_ctx *c, size_t i)
{
    const img_block *x = old_of(c, i);
    return x ? x->reloc_count : c->objs[i].nrelocs;
}

static const char *o_fp(const link_ctx *c, size_t i)
{
    return old_of(c, i) ? c->old->fingerprint : c->objs[i].fingerprint;
}

static uint32_t o_features(const link_ctx *c, size_t i)
{
    if (old_of(c, i) && c->from_old_features)
        return c->from_old_features[i];
    return c->objs[i].features;
}

/* Relocation k of img's block x translated back to kind + target, as
 * image_load.c does (img_parse checked every symbol index and offset). */
static cg_reloc img_reloc(const img_image *img, const img_block *x, size_t k)
{
    const uint8_t *e = img->chunks[x->chunk].rela +
                       (size_t)(x->reloc_first + k) * sizeof(Elf64_Rela);
    uint64_t info = get_le64(e + 8);
    uint32_t sym = (uint32_t)ELF64_R_SYM(info), nb = img->nblocks + img->nmissing;
    cg_reloc r;
    r.offset = (uint32_t)(get_le64(e) - x->offset);
    r.type = (uint32_t)ELF64_R_TYPE(info);
    r.addend = (int64_t)get_le64(e + 16);
    r.kind = sym <= nb ? CG_TGT_BLOCK : CG_TGT_RT;
    r.target = sym <= nb ? img->sympc[sym] : sym - nb - 1;
    return r;
}

/* Relocation k of object i (an old block's from the old image). */
static cg_reloc o_reloc(const link_ctx *c, size_t i, size_t k)
{
    const img_block *x = old_of(c, i);
    return x ? img_reloc(c->old, x, k) : c->objs[i].relocs[k];
}

void img_sum(const void *p, size_t n, uint8_t out[IMG_SUM_SIZE])
{
    XXH128_canonical_t cs;
    XXH128_canonicalFromHash(&cs, XXH3_128bits(p, n));
    memcpy(out, cs.digest, IMG_SUM_SIZE);
}

void img_sum_root(const struct iovec *iov, int n, int sums,
                  uint8_t out[IMG_SUM_SIZE])
{
    static const uint8_t zero[IMG_SUM_SIZE];
    XXH3_state_t st;
    XXH3_INITSTATE(&st);
    XXH3_128bits_reset(&st);
    for (int i = 0; i < n; i++) {
        const uint8_t *p = iov[i].iov_base;
        size_t len = iov[i].iov_len;
        if (i == sums && len >= 16 + IMG_SUM_SIZE) {
            XXH3_128bits_update(&st, p, 16);
            XXH3_128bits_update(&st, zero, IMG_SUM_SIZE);
            XXH3_128bits_update(&st, p + 16 + IMG_SUM_SIZE,
                                len - 16 - IMG_SUM_SIZE);
        } else {
            XXH3_128bits_update(&st, p, len);
        }
    }
    XXH128_canonical_t cs;
    XXH128_canonicalFromHash(&cs, XXH3_128bits_digest(&st));
    memcpy(out, cs.digest, IMG_SUM_SIZE);
}

void img_block_sym(uint64_t pc, char *out, size_t size)
{
    /* CG_BLOCK_SYM_FMT by hand: a link names every block, and snprintf
     * was most of that. */
    static const char hex[] = "0123456789abcdef";
    char t[26] = "aotb_blk_";
    for (int i = 0; i < 16; i++)
        t[9 + i] = hex[(pc >> (60 - 4 * i)) & 15];
    t[25] = '\0';
    if (size == 0)
        return;
    size_t n = size < sizeof t ? size - 1 : sizeof t - 1;
    memcpy(out, t, n);
    out[n] = '\0';
}

/* ---- collect ---------------------------------------------------------- */

static int check_relocs(link_ctx *c, size_t i)
{
    const obj_file *o = &c->objs[i];
    for (size_t k = 0; k < o->nrelocs; k++) {
        const cg_reloc *r = &o->relocs[k];
        if (o->code_len < 4 || r->offset > o->code_len - 4 ||
            (r->type != R_X86_64_PC32 && r->type != R_X86_64_PLT32) ||
            r->addend < INT32_MIN || r->addend > INT32_MAX ||
            (r->kind != CG_TGT_BLOCK && r->kind != CG_TGT_RT) ||
            (r->kind == CG_TGT_RT && r->target >= CG_RT_NUM)) {
            lerr(c, "%s: relocation %zu is invalid", c->names[i], k);
            return -1;
        }
    }
    return 0;
}

static void pass_collect(link_ctx *c)
{
    c->meta = c->n;
    /* The image's fingerprint is that of the first object this aotb could
     * have compiled, so that the objects an older (or newer) aotb compiled
     * are the ones reported; with none, the first object is reported: its
     * image could not be run by this aotb. */
    c->fp_from = 0;
    while (c->fp_from < c->n && !cg_fingerprint_compatible(o_fp(c, c->fp_from)))
        c->fp_from++;
    if (c->fp_from == c->n) {
        c->fp_from = 0;
        if (c->n > 0)
            lerr(c, "%s: compiled by another aotb (fingerprint '%s'; this "
                    "is aotb %s, codegen %d); recompile", c->names[0],
                 o_fp(c, 0), AOTB_VERSION, cg_version());
    }
    for (size_t i = 0; i < c->n; i++) {
        const img_block *x = old_of(c, i);
        if (i != c->fp_from && strcmp(o_fp(c, i), o_fp(c, c->fp_from)) != 0) {
            lerr(c, "%s: compiled by a different aotb than %s; recompile "
                    "(fingerprint '%s', expected '%s')",
                 c->names[i], c->names[c->fp_from], o_fp(c, i),
                 o_fp(c, c->fp_from));
        }
        c->features |= o_features(c, i);
        if (x) {            /* img_parse checked it */
            c->blocks[c->nblocks].pc = x->pc;
            c->blocks[c->nblocks].obj = i;
            c->nblocks++;
            continue;
        }
        const obj_file *o = &c->objs[i];
        if (o->kind == OBJ_META) {
            if (c->meta != c->n)
                lerr(c, "%s: a second meta object (the first is %s); "
                        "link exactly one",
                     c->names[i], c->names[c->meta]);
            else
                c->meta = i;
            continue;
        }
        if (o->kind != OBJ_BLOCK) {
            lerr(c, "%s: unknown object kind", c->names[i]);
            continue;
        }
        if (o->code_len > IMG_MAX_CHUNK_SIZE) {
            lerr(c, "%s: block code of %zu bytes is too large", c->names[i],
                 o->code_len);
            continue;
        }
        if (check_relocs(c, i) != 0)
            continue;
        c->blocks[c->nblocks].pc = o->pc;
        c->blocks[c->nblocks].obj = i;
        c->nblocks++;
    }
    if (c->meta == c->n)
        lerr(c, "aotb link: no meta object among the %zu input%s (the program's entry, "
                "memory and data: aotb compile -d writes meta.o)",
             c->n, c->n == 1 ? "" : "s");
}

/* ---- resolve ---------------------------------------------------------- */

static int cmp_lblock(const void *a, const void *b)
{
    const lblock *x = a, *y = b;
    if (x->pc != y->pc)
        return x->pc < y->pc ? -1 : 1;
    return x->obj < y->obj ? -1 : x->obj > y->obj;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* u64_search for a pc expected near v[hint] (a block's jump targets are
 * mostly its neighbours): gallops out from hint, then searches the
 * bracket, so a near target costs a few probes instead of a search over
 * every block. */
static int find_pc_near(const uint64_t *v, size_t n, uint64_t pc,
                        size_t hint, size_t *at)
{
    if (hint >= n)
        return u64_search(v, n, pc, at);
    size_t lo, hi, step = 1;
    if (v[hint] < pc) {
        lo = hint + 1;          /* v[lo - 1] < pc */
        while (lo + step - 1 < n && v[lo + step - 1] < pc) {
            lo += step;
            step *= 2;
        }
        hi = lo + step - 1 < n ? lo + step : n;
    } else {
        hi = hint + 1;          /* pc <= v[hi - 1] */
        while (hi > step && v[hi - step - 1] >= pc) {
            hi -= step;
            step *= 2;
        }
        lo = hi > step ? hi - step : 0;
    }
    size_t k;
    int found = u64_search(v + lo, hi - lo, pc, &k);
    *at = lo + k;
    return found;
}

static void pass_resolve(link_ctx *c)
{
    /* Objects usually come in pc order already (aotb build, sorted
     * response files): then there is nothing to sort. */
    size_t w = 1;
    while (w < c->nblocks && c->blocks[w - 1].pc < c->blocks[w].pc)
        w++;
    if (w < c->nblocks)
        qsort(c->blocks, c->nblocks, sizeof *c->blocks, cmp_lblock);
    w = 0;
    for (size_t i = 0; i < c->nblocks; i++) {
        if (w > 0 && c->blocks[w - 1].pc == c->blocks[i].pc) {
            lerr(c, "%s: block 0x%" PRIx64 " is also defined by %s",
                 c->names[c->blocks[i].obj], c->blocks[i].pc,
                 c->names[c->blocks[w - 1].obj]);
            continue;
        }
        c->blocks[w++] = c->blocks[i];
    }
    c->nblocks = w;
    if (c->errors)
        return;

    /* Every block target with no block gets a missing stub. */
    uint64_t *bpcs = xcalloc(c->nblocks ? c->nblocks : 1, sizeof *bpcs);
    size_t ntargets = 0;
    for (size_t i = 0; i < c->nblocks; i++)
        ntargets += o_nrelocs(c, c->blocks[i].obj);
    uint64_t *miss = xcalloc(ntargets ? ntargets : 1, sizeof *miss);
    if (!bpcs || !miss) {
        lerr(c, "out of memory");
        free(bpcs);
        free(miss);
        return;
    }
    for (size_t i = 0; i < c->nblocks; i++)
        bpcs[i] = c->blocks[i].pc;
    size_t nm = 0, at;
    for (size_t i = 0; i < c->nblocks; i++) {
        size_t oi = c->blocks[i].obj, nr = o_nrelocs(c, oi);
        for (size_t k = 0; k < nr; k++) {
            cg_reloc r = o_reloc(c, oi, k);
            if (r.kind == CG_TGT_BLOCK &&
                !find_pc_near(bpcs, c->nblocks, r.target, i, &at))
                miss[nm++] = r.target;
        }
    }
    qsort(miss, nm, sizeof *miss, cmp_u64);
    size_t u = 0;
    for (size_t i = 0; i < nm; i++)
        if (u == 0 || miss[u - 1] != miss[i])
            miss[u++] = miss[i];
    c->missing = xcalloc(u ? u : 1, sizeof *c->missing);
    c->syms = xcalloc(c->nblocks + u + 1, sizeof *c->syms);
    c->missing_off = xcalloc(u ? u : 1, sizeof *c->missing_off);
    if (!c->missing || !c->syms || !c->missing_off) {
        lerr(c, "out of memory");
        free(bpcs);
        free(miss);
        return;
    }
    for (size_t i = 0; i < u; i++) {
        c->nmissing++;
        if (cg_compile_missing(miss[i], &c->missing[i], c->d) != 0) {
            c->errors++;
            break;
        }
    }
    /* Merge the two sorted, disjoint pc lists: the symbol order. */
    size_t i = 0, j = 0;
    while (i < c->nblocks || j < u)
        c->syms[c->nsyms++] =
            (j >= u || (i < c->nblocks && bpcs[i] < miss[j])) ? bpcs[i++]
                                                              : miss[j++];
    free(bpcs);
    free(miss);
    /* Relocation records hold symbol numbers: when the old image numbers
     * exactly these symbols (every block and stub pc, then the runtime's),
     * a chunk copied from it keeps its relocation section too. */
    const img_image *old = c->old;
    c->same_syms = old && !c->errors &&
                   (size_t)old->nblocks + old->nmissing == c->nsyms &&
                   (c->nsyms == 0 ||
                    memcmp(old->sympc + 1, c->syms,
                           c->nsyms * sizeof *c->syms) == 0);
}

/* ---- lay out ---------------------------------------------------------- */

static uint32_t align16(uint64_t v)
{
    return (uint32_t)((v + IMG_BLOCK_ALIGN - 1) & ~(uint64_t)(IMG_BLOCK_ALIGN - 1));
}

static void pad_to(buf *b, size_t len, uint8_t fill)
{
    while (b->len < len && !b->oom)
        buf_put8(b, fill);
}

/* hint: where in c->syms to look first. */
static uint32_t sym_index_pc(const link_ctx *c, uint64_t pc, size_t hint)
{
    size_t at;
    find_pc_near(c->syms, c->nsyms, pc, hint, &at);   /* resolve made it
                                                         present */
    return (uint32_t)(1 + at);
}

static uint32_t sym_index_rt(const link_ctx *c, uint64_t rt)
{
    return (uint32_t)(1 + c->nsyms + rt);
}

static void put_rela(const link_ctx *c, buf *out, uint64_t base,
                     const cg_reloc *r, size_t hint)
{
    uint32_t sym = r->kind == CG_TGT_BLOCK ? sym_index_pc(c, r->target, hint)
                                           : sym_index_rt(c, r->target);
    buf_put64(out, base + r->offset);
    buf_put64(out, ELF64_R_INFO((uint64_t)sym, r->type));
    buf_put64(out, (uint64_t)r->addend);
}

/* Does old block ob hold exactly the code and relocations of object o
 * placed at offset off? */
static int same_as_old(const link_ctx *c, const lblock *b, uint32_t ob,
                       uint32_t off)
{
    const img_image *old = c->old;
    const img_block *x = &old->blocks[ob];
    if (c->from_old && c->from_old[b->obj] == ob)
        return x->offset == off;     /* the object is that block */
    const obj_file *o = &c->objs[b->obj];
    if (old_of(c, b->obj) || x->pc != b->pc || x->offset != off ||
        x->size != o->code_len || x->reloc_count != o->nrelocs ||
        memcmp(x->sum, b->sum, IMG_SUM_SIZE) != 0)
        return 0;
    const img_chunk *ch = &old->chunks[x->chunk];
    uint32_t nb = old->nblocks + old->nmissing;
    for (uint32_t k = 0; k < x->reloc_count; k++) {
        const uint8_t *e = ch->rela + (size_t)(x->reloc_first + k) * 24;
        const cg_reloc *r = &o->relocs[k];
        uint64_t info = get_le64(e + 8);
        uint32_t sym = (uint32_t)ELF64_R_SYM(info);
        int kind = sym <= nb ? CG_TGT_BLOCK : CG_TGT_RT;
        uint64_t target = sym <= nb ? old->sympc[sym] : sym - nb - 1;
        if (get_le64(e) != (uint64_t)off + r->offset ||
            ELF64_R_TYPE(info) != r->type ||
            (int64_t)get_le64(e + 16) != r->addend || kind != r->kind ||
            target != r->target)
            return 0;
    }
    return 1;
}

uint32_t img_find_block(const img_image *old, uint64_t pc)
{
    uint32_t lo = 0, hi = old->nblocks;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (old->blocks[mid].pc == pc)
            return mid;
        if (old->blocks[mid].pc < pc)
            lo = mid + 1;
        else
            hi = mid;
    }
    return UINT32_MAX;
}

/* If blocks i.. start an old chunk that can be reused as it is, its
 * number; else UINT32_MAX. */
static uint32_t reusable_chunk(const link_ctx *c, size_t i)
{
    const img_image *old = c->old;
    if (!old || strcmp(old->fingerprint, o_fp(c, c->fp_from)))
        return UINT32_MAX;
    uint32_t ob = img_find_block(old, c->blocks[i].pc);
    if (ob == UINT32_MAX)
        return UINT32_MAX;
    const img_chunk *ch = &old->chunks[old->blocks[ob].chunk];
    if (ch->first_block != ob || ch->nblocks > c->nblocks - i)
        return UINT32_MAX;
    for (uint32_t k = 0; k < ch->nblocks; k++) {
        const lblock *b = &c->blocks[i + k];
        uint32_t off = k ? align16((uint64_t)old->blocks[ob + k - 1].offset +
                                   old->blocks[ob + k - 1].size) : 0;
        if (!same_as_old(c, b, ob + k, off))
            return UINT32_MAX;
    }
    return old->blocks[ob].chunk;
}

/* Object i's code: its own, or (from_old) the old block's, decompressing
 * that block's chunk the first time and checking the block's checksum.
 * NULL after an error. */
static const uint8_t *obj_code(link_ctx *c, size_t i)
{
    uint32_t ob = c->from_old ? c->from_old[i] : UINT32_MAX;
    if (ob == UINT32_MAX)
        return c->objs[i].code;
    const img_block *x = &c->old->blocks[ob];
    uint8_t **z = &c->old_code[x->chunk];
    if (!*z && img_chunk_decompress(c->old, x->chunk, z, c->d) != 0) {
        c->errors++;
        return NULL;
    }
    uint8_t sum[IMG_SUM_SIZE];
    img_sum(*z + x->offset, x->size, sum);
    if (memcmp(sum, x->sum, IMG_SUM_SIZE) != 0) {
        lerr(c, "%s: block 0x%" PRIx64 " (chunk %" PRIu32 "): code checksum "
                "mismatch", c->old->name, x->pc, x->chunk);
        return NULL;
    }
    return *z + x->offset;
}

/* Block b at offset off of chunk ch (its code is copied in when the chunk
 * is compressed: pass_compress). */
static void place(link_ctx *c, lchunk *ch, lblock *b, uint32_t off)
{
    size_t len = o_len(c, b->obj);
    b->chunk = (uint32_t)(ch - c->chunks);
    b->offset = off;
    if (!ch->rela_reused) {
        size_t nr = o_nrelocs(c, b->obj);
        for (size_t k = 0; k < nr; k++) {
            cg_reloc r = o_reloc(c, b->obj, k);
            put_rela(c, &ch->rela, off, &r, (size_t)(b - c->blocks));
        }
    }
    ch->n++;
    ch->size = (uint64_t)off + len;
}

/* A relink recompresses every chunk that holds a changed block, so chunks
 * are small; but a program so big that they would outgrow the ELF section
 * numbers gets bigger ones (which are reused the same way, as long as its
 * size stays within the same power of two). */
uint64_t img_chunk_target(uint64_t code_bytes)
{
    uint64_t target = IMG_CHUNK_TARGET;
    while (code_bytes / target >= IMG_CHUNK_SOFT_MAX &&
           target < IMG_MAX_CHUNK_SIZE)
        target *= 2;
    return target;
}

static void pass_layout(link_ctx *c)
{
    c->chunks = xcalloc(c->nblocks ? c->nblocks : 1, sizeof *c->chunks);
    if (!c->chunks) {
        lerr(c, "out of memory");
        return;
    }
    for (size_t i = 0; i < c->nblocks; i++) {
        size_t oi = c->blocks[i].obj;
        if (c->from_old && c->from_old[oi] != UINT32_MAX)
            memcpy(c->blocks[i].sum, c->old->blocks[c->from_old[oi]].sum,
                   IMG_SUM_SIZE);
        else
            img_sum(c->objs[oi].code, c->objs[oi].code_len,
                    c->blocks[i].sum);
    }
    uint64_t total = 0;
    for (size_t i = 0; i < c->nblocks; i++)
        total += align16(o_len(c, c->blocks[i].obj));
    uint64_t target = img_chunk_target(total);
    lchunk *ch = NULL;      /* the open chunk of new code */
    for (size_t i = 0; i < c->nblocks;) {
        uint32_t oc = reusable_chunk(c, i);
        if (oc != UINT32_MAX) {
            const img_chunk *och = &c->old->chunks[oc];
            const img_section *s = &c->old->secs[och->shndx];
            lchunk *r = &c->chunks[c->nchunks++];
            r->first = (uint32_t)i;
            r->reused = 1;
            r->old_shndx = och->shndx;
            /* Borrowed, not copied: the old image outlives the link. */
            r->z.data = (uint8_t *)(uintptr_t)(c->old->data + s->offset);
            r->z.len = s->size;
            if (c->same_syms) {
                /* same_as_old compared every record of these blocks;
                 * with the same symbol numbers they are these bytes. */
                r->rela_reused = 1;
                r->rela.data = (uint8_t *)(uintptr_t)och->rela;
                r->rela.len = (size_t)och->nrelas * sizeof(Elf64_Rela);
            }
            for (uint32_t k = 0; k < och->nblocks; k++)
                place(c, r, &c->blocks[i + k],
                      c->old->blocks[och->first_block + k].offset);
            i += och->nblocks;
            ch = NULL;
            continue;
        }
        lblock *b = &c->blocks[i];
        uint64_t off = ch ? align16(ch->size) : 0;
        if (!ch || (ch->n > 0 && off + o_len(c, b->obj) > target) ||
            (c->max_chunk_blocks && ch->n >= c->max_chunk_blocks)) {
            ch = &c->chunks[c->nchunks++];
            ch->first = (uint32_t)i;
            off = 0;
        }
        place(c, ch, b, (uint32_t)off);
        if (c->errors)
            return;
        if (ch->size > IMG_MAX_CHUNK_SIZE) {
            lerr(c, "chunk %zu is too large", c->nchunks - 1);
            return;
        }
        i++;
    }
    for (size_t i = 0; i < c->nmissing; i++) {
        const cg_code *m = &c->missing[i];
        uint32_t off = align16(c->missing_code.len);
        pad_to(&c->missing_code, off, 0xcc);
        c->missing_off[i] = off;
        buf_append(&c->missing_code, m->code.data, m->code.len);
        for (size_t k = 0; k < m->nrelocs; k++)
            put_rela(c, &c->missing_rela, off, &m->relocs[k], 0);
    }
}

/* ---- compress --------------------------------------------------------- */

/* Chunk ch's code, its blocks at their offsets with int3 between them,
 * into code (NULL after an error). */
static const buf *chunk_code(link_ctx *c, size_t ci, buf *code)
{
    const lchunk *ch = &c->chunks[ci];
    code->len = 0;
    for (uint32_t k = 0; k < ch->n; k++) {
        const lblock *b = &c->blocks[ch->first + k];
        const uint8_t *p = obj_code(c, b->obj);
        if (!p)
            return NULL;
        pad_to(code, b->offset, 0xcc);
        buf_append(code, p, o_len(c, b->obj));
    }
    if (code->oom) {
        lerr(c, "out of memory");
        return NULL;
    }
    if (code->len != ch->size) {
        lerr(c, "internal error: chunk %zu holds %zu bytes, laid out as "
                "%" PRIu64, ci, code->len, ch->size);
        return NULL;
    }
    return code;
}

static void pass_compress(link_ctx *c)
{
    /* One context for every chunk: a fresh one per chunk would allocate
     * and clear its match tables each time.  One buffer, too: each chunk's
     * code is put together in it and compressed from there, so the
     * uncompressed code is never held whole. */
    ZSTD_CCtx *z = ZSTD_createCCtx();
    buf scratch = {0};
    if (!z) {
        lerr(c, "out of memory");
        return;
    }
    for (size_t i = 0; i < c->nchunks; i++) {
        lchunk *ch = &c->chunks[i];
        if (ch->reused)
            continue;
        const buf *code = chunk_code(c, i, &scratch);
        if (!code)
            break;
        size_t bound = ZSTD_compressBound(code->len);
        if (buf_reserve(&ch->z, sizeof(Elf64_Chdr) + bound) != 0) {
            lerr(c, "out of memory");
            break;
        }
        buf_put32(&ch->z, IMG_ELFCOMPRESS_ZSTD);     /* ch_type */
        buf_put32(&ch->z, 0);                        /* ch_reserved */
        buf_put64(&ch->z, code->len);                /* ch_size */
        buf_put64(&ch->z, IMG_BLOCK_ALIGN);          /* ch_addralign */
        size_t zn = ZSTD_compressCCtx(z, ch->z.data + ch->z.len, bound,
                                      code->data, code->len, c->level);
        if (ZSTD_isError(zn)) {
            lerr(c, "chunk %zu: zstd: %s", i, ZSTD_getErrorName(zn));
            break;
        }
        ch->z.len += zn;
    }
    buf_free(&scratch);
    ZSTD_freeCCtx(z);
}

/* ---- write ------------------------------------------------------------ */

static void build_header(const link_ctx *c, buf *h)
{
    const obj_file *m = &c->objs[c->meta];
    char fp[IMG_FP_SIZE] = {0};
    snprintf(fp, sizeof fp, "%s", o_fp(c, c->fp_from));
    buf_append(h, IMG_MAGIC, 8);
    buf_put32(h, IMG_FORMAT_VERSION);
    buf_put32(h, c->features);
    buf_put64(h, m->has_entry ? m->entry : 0);
    buf_put32(h, m->has_entry ? 1 : 0);
    buf_put32(h, (uint32_t)c->nblocks);
    buf_put64(h, m->memsize);
    buf_put32(h, (uint32_t)c->nchunks);
    buf_put32(h, (uint32_t)c->nmissing);
    buf_append(h, fp, sizeof fp);
}

static void build_index(const link_ctx *c, buf *x)
{
    for (size_t ci = 0; ci < c->nchunks; ci++) {
        const lchunk *ch = &c->chunks[ci];
        uint32_t rfirst = 0;
        for (uint32_t k = 0; k < ch->n; k++) {
            const lblock *b = &c->blocks[ch->first + k];
            const img_block *ob = old_of(c, b->obj);
            const obj_file *o = ob ? NULL : &c->objs[b->obj];
            uint32_t nr = (uint32_t)o_nrelocs(c, b->obj);
            ir_hash h = ob ? ob->hash : o->hash;
            buf_put64(x, b->pc);
            buf_put32(x, b->chunk);
            buf_put32(x, b->offset);
            buf_put32(x, (uint32_t)o_len(c, b->obj));
            buf_put32(x, rfirst);
            buf_put32(x, nr);
            buf_put32(x, 0);
            buf_put64(x, h.hi);
            buf_put64(x, h.lo);
            buf_append(x, b->sum, sizeof b->sum);
            rfirst += nr;
        }
    }
}

/* .aotb.deps: per block (pc order), the blocks folded into it. */
static void build_deps(const link_ctx *c, buf *x)
{
    for (size_t i = 0; i < c->nblocks; i++) {
        const img_block *ob = old_of(c, c->blocks[i].obj);
        if (ob) {
            for (uint32_t k = 0; k < ob->dep_count; k++) {
                const img_dep *dp = &c->old->deps[ob->dep_first + k];
                buf_put64(x, ob->pc);
                buf_put64(x, dp->dep_pc);
                buf_put64(x, dp->dep_hash.hi);
                buf_put64(x, dp->dep_hash.lo);
            }
            continue;
        }
        const obj_file *o = &c->objs[c->blocks[i].obj];
        for (size_t k = 0; k < o->ndeps; k++) {
            buf_put64(x, o->pc);
            buf_put64(x, o->deps[k].pc);
            buf_put64(x, o->deps[k].hash.hi);
            buf_put64(x, o->deps[k].hash.lo);
        }
    }
}

static void build_data(const link_ctx *c, buf *x)
{
    const obj_file *m = &c->objs[c->meta];
    buf_put32(x, (uint32_t)m->ndata);
    buf_put32(x, 0);
    for (size_t i = 0; i < m->ndata; i++) {
        buf_put64(x, m->data[i].addr);
        buf_put64(x, m->data[i].len);
    }
    for (size_t i = 0; i < m->ndata; i++) {
        buf_append(x, m->data[i].bytes, m->data[i].len);
        pad_to(x, (x->len + 7) & ~(size_t)7, 0);
    }
}

static void put_sym(buf *st, uint32_t name, uint16_t shndx, uint64_t value,
                    uint64_t size)
{
    buf_put32(st, name);
    buf_put8(st, ELF64_ST_INFO(STB_GLOBAL, STT_FUNC));
    buf_put8(st, STV_DEFAULT);
    buf_put8(st, (uint8_t)shndx);
    buf_put8(st, (uint8_t)(shndx >> 8));
    buf_put64(st, value);
    buf_put64(st, size);
}

static void build_symbols(const link_ctx *c, buf *st, buf *str)
{
    static const char *const rt[CG_RT_NUM] = {CG_SYM_ENTER, CG_SYM_EXIT,
                                              CG_SYM_LOOKUP};
    char name[32];
    buf_put8(str, 0);
    for (int i = 0; i < 24; i++)
        buf_put8(st, 0);
    size_t bi = 0, mi = 0;
    for (size_t s = 0; s < c->nsyms; s++) {
        uint64_t pc = c->syms[s];
        img_block_sym(pc, name, sizeof name);
        uint32_t noff = (uint32_t)str->len;
        buf_append(str, name, strlen(name) + 1);
        if (bi < c->nblocks && c->blocks[bi].pc == pc) {
            const lblock *b = &c->blocks[bi++];
            put_sym(st, noff, (uint16_t)(IMG_SEC_CHUNK0 + 2 * b->chunk),
                    b->offset, o_len(c, b->obj));
        } else {
            put_sym(st, noff, IMG_SEC_MISSING, c->missing_off[mi],
                    c->missing[mi].code.len);
            mi++;
        }
    }
    for (int r = 0; r < CG_RT_NUM; r++) {
        uint32_t noff = (uint32_t)str->len;
        buf_append(str, rt[r], strlen(rt[r]) + 1);
        put_sym(st, noff, SHN_UNDEF, 0, 0);
    }
}

static void put_shdr(buf *o, const lsec *s)
{
    buf_put32(o, s->name_off);
    buf_put32(o, s->type);
    buf_put64(o, s->flags);
    buf_put64(o, 0);                /* sh_addr */
    buf_put64(o, s->offset);
    buf_put64(o, s->data ? s->data->len : 0);
    buf_put32(o, s->link);
    buf_put32(o, s->info);
    buf_put64(o, s->align);
    buf_put64(o, s->entsize);
}

static void put_ehdr(buf *o, uint64_t shoff, uint16_t shnum)
{
    static const uint8_t ident[EI_NIDENT] = {
        ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS64, ELFDATA2LSB,
        EV_CURRENT, ELFOSABI_NONE, 0};
    buf_append(o, ident, sizeof ident);
    uint8_t t[4];
    t[0] = ET_REL; t[1] = 0; t[2] = EM_X86_64; t[3] = 0;
    buf_append(o, t, 4);
    buf_put32(o, EV_CURRENT);
    buf_put64(o, 0);                 /* e_entry */
    buf_put64(o, 0);                 /* e_phoff */
    buf_put64(o, shoff);
    buf_put32(o, 0);                 /* e_flags */
    uint16_t h[6] = {sizeof(Elf64_Ehdr), 0, 0, sizeof(Elf64_Shdr), shnum,
                     (uint16_t)(shnum - 1)};
    for (int i = 0; i < 6; i++) {
        buf_put8(o, (uint8_t)h[i]);
        buf_put8(o, (uint8_t)(h[i] >> 8));
    }
}

/* Where pass_write puts the file: memory (out), or a file descriptor
 * written from the pieces (file_write_iov). */
typedef struct sink {
    buf *out;
    int fd;
    const char *path;             /* for messages */
    uint64_t len;                 /* bytes of the file */
} sink;

static void pass_write(link_ctx *c, sink *snk)
{
    buf head = {0}, shdrs = {0};
    struct iovec *iov = NULL;
    size_t nsec = IMG_NSECS(c->nchunks);
    lsec *s = xcalloc(nsec, sizeof *s);
    buf *bufs = xcalloc(8, sizeof *bufs);
    char (*cname)[48] = xcalloc(2 * c->nchunks + 1, sizeof *cname);
    if (!s || !bufs || !cname || nsec > 0xff00) {
        lerr(c, nsec > 0xff00 ? "too many chunks" : "out of memory");
        goto out;
    }
    buf *hdr = &bufs[0], *idx = &bufs[1], *dat = &bufs[2], *sym = &bufs[3],
        *str = &bufs[4], *sums = &bufs[5], *shstr = &bufs[6], *deps = &bufs[7];
    /* Sized once: these grow to tens of thousands of records. */
    buf_reserve(idx, c->nblocks * IMG_INDEX_REC);
    buf_reserve(sym, (c->nsyms + 1 + CG_RT_NUM) * sizeof(Elf64_Sym));
    buf_reserve(str, (c->nsyms + CG_RT_NUM) * 26 + 1);
    build_header(c, hdr);
    build_index(c, idx);
    build_deps(c, deps);
    build_data(c, dat);
    build_symbols(c, sym, str);

    uint32_t shstrndx = (uint32_t)(nsec - 1), sumsndx = (uint32_t)(nsec - 2);
    s[nsec - 3] = (lsec){".aotb.deps", SHT_PROGBITS, 0, 0, 0, 8, IMG_DEP_REC,
                         deps, 0, 0};
    s[IMG_SEC_HEADER] = (lsec){".aotb.header", SHT_PROGBITS, 0, 0, 0, 8, 0,
                               hdr, 0, 0};
    s[IMG_SEC_INDEX] = (lsec){".aotb.index", SHT_PROGBITS, 0, 0, 0, 8,
                              IMG_INDEX_REC, idx, 0, 0};
    s[IMG_SEC_DATA] = (lsec){".aotb.data", SHT_PROGBITS, 0, 0, 0, 8, 0, dat,
                             0, 0};
    s[IMG_SEC_SYMTAB] = (lsec){".symtab", SHT_SYMTAB, IMG_SEC_STRTAB, 1, 0,
                               8, sizeof(Elf64_Sym), sym, 0, 0};
    s[IMG_SEC_STRTAB] = (lsec){".strtab", SHT_STRTAB, 0, 0, 0, 1, 0, str, 0,
                               0};
    s[IMG_SEC_MISSING] = (lsec){".text.aotb.missing", SHT_PROGBITS, 0, 0,
                                SHF_EXECINSTR, IMG_BLOCK_ALIGN, 0,
                                &c->missing_code, 0, 0};
    s[IMG_SEC_MISSING_RELA] = (lsec){".rela.text.aotb.missing", SHT_RELA,
                                     IMG_SEC_SYMTAB, IMG_SEC_MISSING,
                                     SHF_INFO_LINK, 8, sizeof(Elf64_Rela),
                                     &c->missing_rela, 0, 0};
    for (size_t i = 0; i < c->nchunks; i++) {
        uint32_t k = (uint32_t)(IMG_SEC_CHUNK0 + 2 * i);
        snprintf(cname[2 * i], sizeof cname[0], ".text.aotb.%zu", i);
        snprintf(cname[2 * i + 1], sizeof cname[0], ".rela.text.aotb.%zu", i);
        s[k] = (lsec){cname[2 * i], SHT_PROGBITS, 0, 0,
                      SHF_EXECINSTR | SHF_COMPRESSED, 8, 0, &c->chunks[i].z,
                      0, 0};
        s[k + 1] = (lsec){cname[2 * i + 1], SHT_RELA, IMG_SEC_SYMTAB, k,
                          SHF_INFO_LINK, 8, sizeof(Elf64_Rela),
                          &c->chunks[i].rela, 0, 0};
    }
    /* .aotb.sums is sized now and filled in at the end. */
    size_t sums_len = 32 + (size_t)IMG_SUM_SIZE * nsec;
    pad_to(sums, sums_len, 0);
    s[sumsndx] = (lsec){".aotb.sums", SHT_PROGBITS, 0, 0, 0, 8, 0, sums, 0,
                        0};
    s[shstrndx] = (lsec){".shstrtab", SHT_STRTAB, 0, 0, 0, 1, 0, shstr, 0,
                         0};
    buf_put8(shstr, 0);
    for (size_t i = 1; i < nsec; i++) {
        s[i].name_off = (uint32_t)shstr->len;
        buf_append(shstr, s[i].name, strlen(s[i].name) + 1);
    }

    /* Lay the file out: ELF header, sections in index order, headers. */
    uint64_t off = sizeof(Elf64_Ehdr);
    for (size_t i = 1; i < nsec; i++) {
        off = (off + s[i].align - 1) & ~(s[i].align - 1);
        s[i].offset = off;
        off += s[i].data->len;
    }
    uint64_t shoff = (off + 7) & ~(uint64_t)7;
    put_ehdr(&head, shoff, (uint16_t)nsec);
    for (size_t i = 0; i < nsec; i++)
        put_shdr(&shdrs, &s[i]);
    int bad = head.oom || shdrs.oom || c->missing_code.oom ||
              c->missing_rela.oom;
    for (int i = 0; i < 8; i++)
        bad |= bufs[i].oom;
    for (size_t i = 0; i < c->nchunks; i++)
        bad |= c->chunks[i].z.oom || c->chunks[i].rela.oom;
    /* The file as pieces, so that the chunks (most of it, and for an
     * incremental link mostly the old image's bytes) are never copied
     * into one buffer when the file is written straight from them. */
    static const uint8_t zeros[16];    /* padding: alignments are <= 16 */
    /* riov: the pieces of the root checksum, what no section checksum
     * covers (the headers, the padding and .aotb.sums). */
    iov = xcalloc(2 * (2 * nsec + 2), sizeof *iov);
    if (bad || !iov) {
        lerr(c, "out of memory");
        goto out;
    }
    struct iovec *riov = iov + 2 * nsec + 2;
    int niov = 0, nriov = 0, sums_piece = -1;
    uint64_t at = 0;
    iov[niov++] = riov[nriov++] = (struct iovec){head.data, head.len};
    at += head.len;
    for (size_t i = 1; i < nsec; i++) {
        if (s[i].offset > at)
            iov[niov++] = riov[nriov++] =
                (struct iovec){(void *)zeros, s[i].offset - at};
        iov[niov++] = (struct iovec){s[i].data->data, s[i].data->len};
        if (i == sumsndx) {
            sums_piece = nriov;
            riov[nriov++] = iov[niov - 1];
        }
        at = s[i].offset + s[i].data->len;
    }
    if (shoff > at)
        iov[niov++] = riov[nriov++] =
            (struct iovec){(void *)zeros, shoff - at};
    iov[niov++] = riov[nriov++] = (struct iovec){shdrs.data, shdrs.len};

    /* Checksums: each section's bytes (a reused chunk's are the old
     * image's, which img_parse checked), then the root over the rest,
     * which includes the section checksums. */
    uint8_t *sm = sums->data;
    put_le32(sm, (uint32_t)nsec);
    const uint8_t *old_sums = NULL;
    if (c->old)
        old_sums = c->old->data + c->old->secs[c->old->nsecs - 2].offset + 32;
    for (size_t i = 1; i < nsec; i++) {
        const lchunk *ch = i >= IMG_SEC_CHUNK0 && i < IMG_SEC_CHUNK0 + 2 * c->nchunks
                               ? &c->chunks[(i - IMG_SEC_CHUNK0) / 2] : NULL;
        int odd = ch && (i - IMG_SEC_CHUNK0) % 2;
        if (ch && ch->reused && (!odd || ch->rela_reused))
            memcpy(sm + 32 + IMG_SUM_SIZE * i,
                   old_sums + IMG_SUM_SIZE * (ch->old_shndx + (uint32_t)odd),
                   IMG_SUM_SIZE);
        else if (i != sumsndx)
            img_sum(s[i].data->data, s[i].data->len,
                    sm + 32 + IMG_SUM_SIZE * i);
    }
    img_sum_root(riov, nriov, sums_piece, c->root);
    memcpy(sm + 16, c->root, IMG_SUM_SIZE);

    /* Out: into memory, or straight from the pieces to the file. */
    if (snk->out) {
        if (buf_reserve(snk->out, shoff + shdrs.len) != 0) { /* one allocation */
            lerr(c, "out of memory");
        } else {
            for (int i = 0; i < niov; i++)
                buf_append(snk->out, iov[i].iov_base, iov[i].iov_len);
        }
    } else if (file_write_iov(snk->fd, iov, niov) != 0) {
        lerr(c, "%s: cannot write: %s", snk->path, strerror(errno));
    }
    snk->len = shoff + shdrs.len;
out:
    if (bufs)
        for (int i = 0; i < 8; i++)
            buf_free(&bufs[i]);
    buf_free(&head);
    buf_free(&shdrs);
    free(iov);
    free(bufs);
    free(cname);
    free(s);
}

_Static_assert(sizeof(((obj_file *)0)->fingerprint) == IMG_FP_SIZE,
               "img_block_obj copies the fingerprint whole");

int img_block_obj(const img_image *img, uint32_t b, const uint8_t *chunk,
                  uint32_t features, obj_file *out, aotb_diag *d)
{
    const img_block *x = &img->blocks[b];
    memset(out, 0, sizeof *out);
    out->kind = OBJ_BLOCK;
    /* Both are IMG_FP_SIZE bytes, NUL-terminated (img_parse). */
    memcpy(out->fingerprint, img->fingerprint, sizeof out->fingerprint);
    out->features = features;
    out->pc = x->pc;
    out->hash = x->hash;
    out->code_len = x->size;
    if (chunk) {
        if (img_check_block_sum(img, b, chunk, d) != 0)
            return -1;
        out->code = malloc(x->size ? x->size : 1);
        if (!out->code)
            goto oom;
        memcpy(out->code, chunk + x->offset, x->size);
    }
    if (x->reloc_count) {
        out->relocs = xcalloc(x->reloc_count, sizeof *out->relocs);
        if (!out->relocs)
            goto oom;
        for (uint32_t k = 0; k < x->reloc_count; k++)
            out->relocs[k] = img_reloc(img, x, k);
        out->nrelocs = x->reloc_count;
    }
    if (x->dep_count) {
        out->deps = xcalloc(x->dep_count, sizeof *out->deps);
        if (!out->deps)
            goto oom;
        for (uint32_t k = 0; k < x->dep_count; k++) {
            out->deps[k].pc = img->deps[x->dep_first + k].dep_pc;
            out->deps[k].hash = img->deps[x->dep_first + k].dep_hash;
        }
        out->ndeps = x->dep_count;
    }
    return 0;
oom:
    obj_free(out);
    diag_add(d, "%s: out of memory", img->name);
    return -1;
}

int img_link(const obj_file *objs, const char *const *names, size_t n,
             buf *out, aotb_diag *d)
{
    return img_link_ex(objs, names, n, NULL, NULL, out, d);
}

static int link_run(const obj_file *objs, const char *const *names,
                    size_t n, const img_link_opts *opts,
                    img_link_stats *stats, sink *k, aotb_diag *d);

int img_link_ex(const obj_file *objs, const char *const *names, size_t n,
                const img_link_opts *opts, img_link_stats *stats, buf *out,
                aotb_diag *d)
{
    sink k = {.out = out, .fd = -1};
    int rc = link_run(objs, names, n, opts, stats, &k, d);
    if (rc != 0)
        buf_free(out);
    return rc;
}

int img_link_fd(const obj_file *objs, const char *const *names, size_t n,
                const img_link_opts *opts, img_link_stats *stats, int fd,
                const char *path, uint64_t *len, aotb_diag *d)
{
    sink k = {.fd = fd, .path = path};
    int rc = link_run(objs, names, n, opts, stats, &k, d);
    *len = rc == 0 ? k.len : 0;
    return rc;
}

static int link_run(const obj_file *objs, const char *const *names,
                    size_t n, const img_link_opts *opts,
                    img_link_stats *stats, sink *k, aotb_diag *d)
{
    link_ctx c = {0};
    if (stats)
        memset(stats, 0, sizeof *stats);
    if (opts) {
        c.old = opts->old;
        c.max_chunk_blocks = opts->max_chunk_blocks;
        c.level = opts->zstd_level;
        c.from_old = opts->old ? opts->from_old : NULL;
        c.from_old_features = c.from_old ? opts->from_old_features : NULL;
    }
    if (c.level == 0)
        c.level = IMG_ZSTD_LEVEL;
    c.objs = objs;
    c.names = names;
    c.n = n;
    c.d = d;
    c.blocks = xcalloc(n ? n : 1, sizeof *c.blocks);
    if (c.from_old)
        c.old_code = xcalloc(c.old->nchunks ? c.old->nchunks : 1,
                             sizeof *c.old_code);
    if (!c.blocks || (c.from_old && !c.old_code)) {
        free(c.blocks);
        free(c.old_code);
        diag_add(d, "out of memory");
        return -1;
    }
    pass_collect(&c);
    pass_resolve(&c);       /* duplicates are reported even after errors */
    if (!c.errors)
        pass_layout(&c);
    if (!c.errors)
        pass_compress(&c);
    if (!c.errors)
        pass_write(&c, k);
    if (!c.errors && stats) {
        stats->chunks = (uint32_t)c.nchunks;
        memcpy(stats->root, c.root, IMG_SUM_SIZE);
        stats->fresh = xcalloc(c.nchunks ? c.nchunks : 1, 1);
        if (!stats->fresh) {
            lerr(&c, "out of memory");
        } else {
            for (size_t i = 0; i < c.nchunks; i++) {
                stats->fresh[i] = !c.chunks[i].reused;
                stats->chunks_reused += (uint32_t)c.chunks[i].reused;
            }
        }
    }

    for (size_t i = 0; i < c.nmissing; i++)
        cg_code_free(&c.missing[i]);
    for (size_t i = 0; i < c.nchunks; i++) {
        if (!c.chunks[i].reused)
            buf_free(&c.chunks[i].z);
        if (!c.chunks[i].rela_reused)
            buf_free(&c.chunks[i].rela);
    }
    free(c.chunks);
    if (c.old_code)
        for (uint32_t i = 0; i < c.old->nchunks; i++)
            free(c.old_code[i]);
    free(c.old_code);
    free(c.missing);
    free(c.missing_off);
    free(c.syms);
    free(c.blocks);
    buf_free(&c.missing_code);
    buf_free(&c.missing_rela);
    return c.errors ? -1 : 0;
}
