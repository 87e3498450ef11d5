/* image_load.c: from a parsed image to runnable code.  Decompresses the
 * chunks (sizes already limited and checked by img_parse), splits them into
 * one cg_code per block with the relocations translated back to block pcs
 * and runtime symbols (for verification and incremental links).  The
 * loader itself (img_load) skips that step: it decompresses each chunk
 * straight into its place in the code map (codemap_begin), checks each
 * block's code checksum there, applies the relocation records in place and
 * lets codemap_finish make the code read+execute.  Also the full
 * verification of aotb verify and the host checks (fingerprint, CPU
 * features). */
#include "image.h"

#include <elf.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

void img_host_fingerprint(char *out, size_t size)
{
    /* The loader's runtime stubs come from this aotb's code generator; code
     * compiled with its default options is what it can run. */
    cg_options o;
    memset(&o, 0, sizeof o);
    cg_fingerprint(&o, out, size);
}

/* Chunk i's ch->size bytes into dst, with context z (NULL: a new one). */
static int decompress_into(const img_image *img, uint32_t i, ZSTD_DCtx *z,
                           uint8_t *dst, aotb_diag *d)
{
    const img_chunk *ch = &img->chunks[i];
    size_t n = z ? ZSTD_decompressDCtx(z, dst, ch->size, ch->zframe, ch->zsize)
                 : ZSTD_decompress(dst, ch->size, ch->zframe, ch->zsize);
    if (ZSTD_isError(n) || n != ch->size) {
        diag_add(d, "%s: section %" PRIu32 " (.text.aotb.%" PRIu32 "): "
                    "decompression failed: %s", img->name, ch->shndx, i,
                 ZSTD_isError(n) ? ZSTD_getErrorName(n) : "wrong size");
        return -1;
    }
    return 0;
}

int img_chunk_decompress(const img_image *img, uint32_t i, uint8_t **out,
                         aotb_diag *d)
{
    const img_chunk *ch = &img->chunks[i];
    *out = NULL;
    uint8_t *p = malloc(ch->size ? ch->size : 1);
    if (!p) {
        diag_add(d, "%s: chunk %" PRIu32 ": out of memory", img->name, i);
        return -1;
    }
    if (decompress_into(img, i, NULL, p, d) != 0) {
        free(p);
        return -1;
    }
    *out = p;
    return 0;
}

int img_check_block_sum(const img_image *img, uint32_t bi,
                        const uint8_t *chunk, aotb_diag *d)
{
    const img_block *b = &img->blocks[bi];
    uint8_t sum[IMG_SUM_SIZE];
    img_sum(chunk + b->offset, b->size, sum);
    if (memcmp(sum, b->sum, IMG_SUM_SIZE) != 0) {
        diag_add(d, "%s: block 0x%" PRIx64 " (chunk %" PRIu32 "): code "
                    "checksum mismatch", img->name, b->pc, b->chunk);
        return -1;
    }
    return 0;
}

/* Translates relocation records back to cg_relocs (offsets made relative
 * to base). */
static int translate(const img_image *img, const uint8_t *rela, uint32_t n,
                     uint64_t base, cg_code *out, aotb_diag *d)
{
    if (n == 0)
        return 0;
    out->relocs = xcalloc(n, sizeof *out->relocs);
    if (!out->relocs) {
        diag_add(d, "%s: out of memory", img->name);
        return -1;
    }
    out->relocs_cap = n;
    for (uint32_t k = 0; k < n; k++) {
        const uint8_t *e = rela + (size_t)k * sizeof(Elf64_Rela);
        uint64_t info = get_le64(e + 8);
        uint32_t sym = (uint32_t)ELF64_R_SYM(info);
        cg_reloc *r = &out->relocs[out->nrelocs++];
        r->offset = (uint32_t)(get_le64(e) - base);
        r->type = (uint32_t)ELF64_R_TYPE(info);
        r->addend = (int64_t)get_le64(e + 16);
        uint32_t nb = img->nblocks + img->nmissing;
        if (sym <= nb) {          /* img_parse: 1 <= sym < nsyms */
            r->kind = CG_TGT_BLOCK;
            r->target = img->sympc[sym];
        } else {
            r->kind = CG_TGT_RT;
            r->target = sym - nb - 1;
        }
    }
    return 0;
}

int img_block_code(const img_image *img, uint32_t bi, const uint8_t *chunk,
                   cg_code *out, aotb_diag *d)
{
    const img_block *b = &img->blocks[bi];
    const img_chunk *ch = &img->chunks[b->chunk];
    memset(out, 0, sizeof *out);
    out->pc = b->pc;
    if (img_check_block_sum(img, bi, chunk, d) != 0)
        return -1;
    buf_append(&out->code, chunk + b->offset, b->size);
    if (out->code.oom ||
        translate(img, ch->rela + (size_t)b->reloc_first * 24, b->reloc_count,
                  b->offset, out, d) != 0) {
        if (out->code.oom)
            diag_add(d, "%s: out of memory", img->name);
        cg_code_free(out);
        return -1;
    }
    return 0;
}

static int check_fingerprint(const img_image *img, aotb_diag *d)
{
    char fp[IMG_FP_SIZE];
    img_host_fingerprint(fp, sizeof fp);
    if (!cg_fingerprint_compatible(img->fingerprint)) {
        diag_add(d, "%s: built by a different aotb/codegen ('%s'; this aotb "
                    "is '%s'); rebuild the image", img->name,
                 img->fingerprint, fp);
        return -1;
    }
    return 0;
}

int img_check_host(const img_image *img, aotb_diag *d)
{
    if (check_fingerprint(img, d) != 0)
        return -1;
    uint32_t host = cg_host_features();
    uint32_t lack = img->features & ~host;
    if (lack) {
        char need[128], has[128], miss[128];
        cg_feature_names(lack, miss, sizeof miss);
        cg_feature_names(img->features, need, sizeof need);
        cg_feature_names(host, has, sizeof has);
        diag_add(d, "%s: this CPU lacks features the image's code needs: %s "
                    "(image needs %s; host has %s)", img->name, miss, need,
                 has);
        return -1;
    }
    return 0;
}

static int same_code(const cg_code *a, const uint8_t *code, size_t len,
                     const cg_code *b)
{
    if (a->code.len != len || memcmp(a->code.data, code, len) != 0 ||
        a->nrelocs != b->nrelocs)
        return 0;
    for (size_t k = 0; k < a->nrelocs; k++) {
        const cg_reloc *x = &a->relocs[k], *y = &b->relocs[k];
        if (x->offset != y->offset || x->type != y->type ||
            x->addend != y->addend || x->kind != y->kind ||
            x->target != y->target)
            return 0;
    }
    return 1;
}

static int verify_missing(const img_image *img, aotb_diag *d)
{
    for (uint32_t i = 0; i < img->nmissing; i++) {
        const img_missing *m = &img->missing[i];
        cg_code want, got;
        memset(&want, 0, sizeof want);
        memset(&got, 0, sizeof got);
        if (cg_compile_missing(m->pc, &want, d) != 0)
            return -1;
        int ok = translate(img, img->missing_rela + (size_t)m->reloc_first * 24,
                           m->reloc_count, m->offset, &got, d) == 0;
        if (ok && !same_code(&want, img->missing_code + m->offset, m->size,
                             &got)) {
            diag_add(d, "%s: missing stub 0x%" PRIx64 " differs from this "
                        "aotb's stub", img->name, m->pc);
            ok = 0;
        }
        cg_code_free(&want);
        cg_code_free(&got);
        if (!ok)
            return -1;
    }
    return 0;
}

/* Bytes between blocks (and after the last missing stub) are int3. */
static int check_padding(const img_image *img, uint32_t c, const uint8_t *p,
                         aotb_diag *d)
{
    const img_chunk *ch = &img->chunks[c];
    uint64_t pos = 0;
    for (uint32_t i = ch->first_block; i < ch->first_block + ch->nblocks;
         i++) {
        const img_block *b = &img->blocks[i];
        for (; pos < b->offset; pos++)
            if (p[pos] != 0xcc) {
                diag_add(d, "%s: chunk %" PRIu32 ": padding before block 0x%"
                            PRIx64 " is not int3", img->name, c, b->pc);
                return -1;
            }
        pos = (uint64_t)b->offset + b->size;
    }
    return 0;
}

/* Visits every block of every chunk: fn gets the decompressed chunk. */
typedef int (*block_fn)(const img_image *img, uint32_t b, const uint8_t *chunk,
                        void *ctx, aotb_diag *d);

static int each_block(const img_image *img, block_fn fn, void *ctx,
                      int padding, const uint8_t *which, aotb_diag *d)
{
    for (uint32_t c = 0; c < img->nchunks; c++) {
        uint8_t *p;
        if (which && !which[c])
            continue;
        if (img_chunk_decompress(img, c, &p, d) != 0)
            return -1;
        const img_chunk *ch = &img->chunks[c];
        int rc = padding ? check_padding(img, c, p, d) : 0;
        for (uint32_t i = ch->first_block;
             rc == 0 && i < ch->first_block + ch->nblocks; i++)
            rc = fn(img, i, p, ctx, d);
        free(p);
        if (rc != 0)
            return -1;
    }
    return 0;
}

static int verify_block(const img_image *img, uint32_t b, const uint8_t *chunk,
                        void *ctx, aotb_diag *d)
{
    (void)ctx;
    cg_code c;
    if (img_block_code(img, b, chunk, &c, d) != 0)
        return -1;
    cg_code_free(&c);
    return 0;
}

int img_verify(const img_image *img, aotb_diag *d)
{
    if (check_fingerprint(img, d) != 0)
        return -1;
    if (each_block(img, verify_block, NULL, 1, NULL, d) != 0)
        return -1;
    return verify_missing(img, d);
}

int img_verify_chunks(const img_image *img, const uint8_t *which,
                      uint32_t *checked, aotb_diag *d)
{
    if (checked) {
        *checked = 0;
        for (uint32_t c = 0; c < img->nchunks; c++)
            *checked += which[c] != 0;
    }
    if (check_fingerprint(img, d) != 0)
        return -1;
    if (each_block(img, verify_block, NULL, 1, which, d) != 0)
        return -1;
    return verify_missing(img, d);
}

/* Where relocation symbol k (1 ... nsyms-1) lives in the mapping: block
 * and missing-stub symbols are sorted by pc (img_parse), as are the
 * blocks and the stubs, so one merge walk finds them; the runtime symbols
 * follow. */
static int symbol_offsets(const img_image *img, const codemap *m,
                          size_t *off, aotb_diag *d)
{
    uint32_t bi = 0, mi = 0, nb = img->nblocks + img->nmissing;
    off[0] = SIZE_MAX;
    for (uint32_t k = 1; k < img->nsyms; k++) {
        if (k > nb)
            off[k] = codemap_rt_offset(m, (cg_rt_sym)(k - nb - 1));
        else if (bi < img->nblocks && img->blocks[bi].pc == img->sympc[k])
            off[k] = codemap_block_offset(m, bi++);
        else if (mi < img->nmissing && img->missing[mi].pc == img->sympc[k])
            off[k] = codemap_missing_offset(m, mi++);
        else
            off[k] = SIZE_MAX;
        if (off[k] == SIZE_MAX) {
            diag_add(d, "%s: symbol %" PRIu32 " has no code", img->name, k);
            return -1;
        }
    }
    return 0;
}

/* Chunk c straight into its place in the mapping (img_parse checked that
 * a chunk's blocks sit where the code map puts them: the first at 0, each
 * next one at the 16-aligned end of the one before, the chunk ending at
 * its last block), then each block's checksum and relocations. */
static int load_chunk(const img_image *img, uint32_t c, codemap *m,
                      ZSTD_DCtx *z, const size_t *symoff, aotb_diag *d)
{
    const img_chunk *ch = &img->chunks[c];
    if (ch->nblocks == 0)
        return 0;
    size_t base = codemap_block_offset(m, ch->first_block);
    uint32_t last = ch->first_block + ch->nblocks - 1;
    for (uint32_t i = ch->first_block; i <= last; i++)
        if (codemap_block_offset(m, i) != base + img->blocks[i].offset) {
            diag_add(d, "%s: block 0x%" PRIx64 ": chunk layout differs from "
                        "the code map's", img->name, img->blocks[i].pc);
            return -1;
        }
    if (ch->size != (uint64_t)img->blocks[last].offset + img->blocks[last].size) {
        diag_add(d, "%s: chunk %" PRIu32 " does not end at its last block",
                 img->name, c);
        return -1;
    }
    uint8_t *dst = codemap_block_dst(m, ch->first_block);
    if (decompress_into(img, c, z, dst, d) != 0)
        return -1;
    for (uint32_t i = ch->first_block; i <= last; i++)
        if (img_check_block_sum(img, i, dst, d) != 0)
            return -1;
    /* The chunk's relocations, offsets relative to the chunk (checked
     * against their blocks by img_parse). */
    for (uint32_t k = 0; k < ch->nrelas; k++) {
        const uint8_t *e = ch->rela + (size_t)k * sizeof(Elf64_Rela);
        uint32_t sym = (uint32_t)ELF64_R_SYM(get_le64(e + 8));
        if (codemap_patch(m, base + get_le64(e), symoff[sym],
                          (int64_t)get_le64(e + 16), d) != 0) {
            diag_add(d, "%s: chunk %" PRIu32 ": relocation %" PRIu32
                        " cannot be applied", img->name, c, k);
            return -1;
        }
    }
    return 0;
}

int img_load(const img_image *img, codemap **out, aotb_diag *d)
{
    *out = NULL;
    size_t nb = img->nblocks ? img->nblocks : 1;
    uint64_t *pcs = xcalloc(nb, sizeof *pcs);
    size_t *sizes = xcalloc(nb, sizeof *sizes);
    uint64_t *mpcs = xcalloc(img->nmissing ? img->nmissing : 1, sizeof *mpcs);
    size_t *symoff = xcalloc(img->nsyms ? img->nsyms : 1, sizeof *symoff);
    ZSTD_DCtx *z = ZSTD_createDCtx();
    int rc = -1;
    if (!pcs || !sizes || !mpcs || !symoff || !z) {
        diag_add(d, "%s: out of memory", img->name);
        goto out;
    }
    for (uint32_t i = 0; i < img->nblocks; i++) {
        pcs[i] = img->blocks[i].pc;
        sizes[i] = img->blocks[i].size;
    }
    for (uint32_t i = 0; i < img->nmissing; i++)
        mpcs[i] = img->missing[i].pc;
    if (codemap_begin(pcs, sizes, img->nblocks, mpcs, img->nmissing, out,
                      d) != 0 ||
        symbol_offsets(img, *out, symoff, d) != 0)
        goto out;
    for (uint32_t c = 0; c < img->nchunks; c++)
        if (load_chunk(img, c, *out, z, symoff, d) != 0)
            goto out;
    rc = codemap_finish(*out, d);
out:
    if (rc != 0) {
        diag_add(d, "%s: the code could not be placed in memory", img->name);
        if (*out)
            codemap_free(*out);
        *out = NULL;
    }
    ZSTD_freeDCtx(z);
    free(pcs);
    free(sizes);
    free(mpcs);
    free(symoff);
    return rc;
}
