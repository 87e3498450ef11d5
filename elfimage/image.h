/* image.h: the AOT image (man/aotb-image.5), internal API.
 *
 *   img_link      merges per-block objects (obj_file) into image bytes
 *   img_parse     bounds-checked parse + checksum/structure verification of
 *                 an image in memory (hostile input until this returns 0)
 *   img_verify    img_parse plus decompression of every chunk, per-block
 *                 code checksums, the missing stubs and the fingerprint
 *   img_load      decompresses each chunk straight into executable memory
 *                 laid out by codemap_begin, checks and relocates it there
 *   img_dump      human-readable description (aotb dump)
 *
 * Every function returns 0 / -1 and adds messages to an aotb_diag; none
 * prints or exits. */
#ifndef AOTB_IMAGE_H
#define AOTB_IMAGE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "codegen.h"
#include "codemap.h"
#include "ir.h"
#include "object.h"
#include "util.h"

#define IMG_MAGIC "AOTBIMG"            /* 8 bytes with the NUL */
#define IMG_FORMAT_VERSION 3u          /* 2: adds .aotb.deps; 3: the root
                                          covers what no section
                                          checksum does */
/* A new chunk starts after IMG_CHUNK_TARGET bytes of code, or after twice,
 * four times... that when the code would need IMG_CHUNK_SOFT_MAX chunks or
 * more (each chunk takes two of the 65,280 ELF section numbers).  16 KiB:
 * a relink recompresses every chunk holding a changed block, and with
 * 64 KiB, 10 scattered changes in 1,000 blocks were every chunk; the cost
 * is about 6% more image than with 64 KiB. */
#define IMG_CHUNK_TARGET (16u * 1024u)
#define IMG_CHUNK_SOFT_MAX 16384u
#define IMG_BLOCK_ALIGN 16u
#define IMG_ELFCOMPRESS_ZSTD 2u        /* not in Debian 12's <elf.h> */
#define IMG_ZSTD_LEVEL 3
#define IMG_MAX_CHUNK_SIZE (256u * 1024u * 1024u) /* refuse bigger ch_size */
#define IMG_FP_SIZE 256                /* fingerprint field, NUL padded */

/* Fixed section indices (the writer's layout; the reader insists on it). */
#define IMG_SEC_HEADER 1u
#define IMG_SEC_INDEX 2u
#define IMG_SEC_DATA 3u
#define IMG_SEC_SYMTAB 4u
#define IMG_SEC_STRTAB 5u
#define IMG_SEC_MISSING 6u
#define IMG_SEC_MISSING_RELA 7u
#define IMG_SEC_CHUNK0 8u   /* chunk i at 8 + 2i, its relocations at 9 + 2i;
                               then .aotb.deps, .aotb.sums, .shstrtab */
#define IMG_NSECS(nchunks) (IMG_SEC_CHUNK0 + 2u * (nchunks) + 3u)

/* Byte sizes of the on-disk records. */
#define IMG_HEADER_SIZE (48u + IMG_FP_SIZE)
#define IMG_INDEX_REC 64u
#define IMG_DATA_REC 16u
#define IMG_SUM_SIZE 16u
#define IMG_DEP_REC 32u

/* One index record (.aotb.index). */
typedef struct img_block {
    uint64_t pc;
    uint32_t chunk, offset, size, reloc_first, reloc_count;
    ir_hash hash;                 /* IR hash from the block's object */
    uint8_t sum[IMG_SUM_SIZE];    /* XXH3-128 of the uncompressed code */
    uint32_t dep_first, dep_count;  /* its records in img_image.deps */
} img_block;

/* One .aotb.deps record: block pc folded in another block's IR (dep_pc,
 * with the IR hash it had when the block was compiled). */
typedef struct img_dep {
    uint64_t pc, dep_pc;
    ir_hash dep_hash;
} img_dep;

/* A missing-target stub in .text.aotb.missing. */
typedef struct img_missing {
    uint64_t pc;
    uint32_t offset, size, reloc_first, reloc_count;
} img_missing;

typedef struct img_chunk {
    uint32_t shndx;               /* section of .text.aotb.N */
    const uint8_t *zframe;        /* the zstd frame after the Elf64_Chdr */
    size_t zsize;
    uint64_t size;                /* ch_size: uncompressed bytes */
    uint32_t first_block, nblocks;
    const uint8_t *rela;          /* Elf64_Rela records */
    uint32_t nrelas;
} img_chunk;

typedef struct img_section {
    char name[40];                /* truncated for display only */
    uint32_t type, link, info;
    uint64_t flags, offset, size, addralign, entsize;
} img_section;

/* A verified image.  Pointers point into the caller's bytes, which must
 * outlive it. */
typedef struct img_image {
    const char *name;             /* for messages */
    const uint8_t *data;
    size_t len;
    uint32_t version, features;
    char fingerprint[IMG_FP_SIZE];
    uint64_t entry, memsize;
    int has_entry;
    uint32_t nblocks, nchunks, nmissing, nsyms;
    img_block *blocks;            /* sorted by pc */
    img_chunk *chunks;
    img_missing *missing;         /* sorted by pc */
    const uint8_t *missing_code;
    const uint8_t *missing_rela;
    uint32_t missing_nrelas;
    ir_data *datas;               /* bytes point into data */
    size_t ndata;
    img_section *secs;
    uint32_t nsecs;
    uint64_t *sympc;              /* pc of block symbol k (1..nblocks +
                                     nmissing), for relocation translation */
    img_dep *deps;                /* sorted by pc (block order) */
    uint32_t ndeps;
    uint8_t root[IMG_SUM_SIZE];
} img_image;

/* Links objects (names[i] names objs[i] in messages) into image bytes.
 * Collects every error it can find before failing.  The result does not
 * depend on the order of the objects. */
int img_link(const obj_file *objs, const char *const *names, size_t n,
             buf *out, aotb_diag *d);

/* Options of img_link_ex. */
typedef struct img_link_opts {
    /* Incremental mode: an old image (from img_parse, so every section
     * checksum was checked) whose compressed chunks are copied instead of
     * recompressed when the chunk holds exactly the same blocks, each with
     * the same code (XXH3-128 equal to the old index's) and the same
     * relocations, and the fingerprints are equal.  NULL: full link. */
    const img_image *old;
    /* Testing and compaction: start a new chunk after this many blocks
     * (0: no limit; the canonical layout). */
    uint32_t max_chunk_blocks;
    int zstd_level;               /* 0: IMG_ZSTD_LEVEL */
    /* With old: per object, the old block the object is (from
     * img_block_obj without its code, or see from_old_features), or
     * UINT32_MAX for an ordinary object.  Such an object is taken from
     * the old image (its code's chunk decompressed only if the block lands
     * in a new chunk).  NULL: every object carries its code. */
    const uint32_t *from_old;
    /* With from_old: per object, the CPU features of an object taken from
     * the old image (the image records only their union).  Every other
     * field of such an object comes from its old block, and objs[i] is
     * not looked at: it may be left zero.  NULL: objs[i].features (the
     * object from img_block_obj). */
    const uint32_t *from_old_features;
} img_link_opts;

typedef struct img_link_stats {
    uint32_t chunks, chunks_reused;   /* chunks written / of them copied */
    uint8_t *fresh;                   /* malloc'd, one byte per chunk: 1 if
                                         compressed now (NULL: not asked) */
    uint8_t root[IMG_SUM_SIZE];       /* the new image's root checksum */
} img_link_stats;

/* img_link with options; stats may be NULL, else the caller frees
 * stats->fresh.  The result of an incremental link holds the same blocks,
 * code and relocations as a full link, possibly in another chunk layout
 * ("aotb compact" restores the canonical one). */
int img_link_ex(const obj_file *objs, const char *const *names, size_t n,
                const img_link_opts *opts, img_link_stats *stats, buf *out,
                aotb_diag *d);

/* img_link_ex that writes the image to fd (at its file offset) instead of
 * into memory: the pieces go out with writev as they are, so the chunks
 * taken over from opts->old are written straight from the old image's bytes
 * and the whole image never sits in one buffer.  *len receives the bytes
 * written (with file_write_iov).  A failed write gives -1 + "PATH: cannot
 * write: reason"; what was written before an error is the caller's to
 * discard (aotb link and the builder write into a temporary, renamed into
 * place only on success). */
int img_link_fd(const obj_file *objs, const char *const *names, size_t n,
                const img_link_opts *opts, img_link_stats *stats, int fd,
                const char *path, uint64_t *len, aotb_diag *d);

/* The chunk size limit the linker uses for code_bytes of (16-byte aligned)
 * block code: IMG_CHUNK_TARGET, doubled while that would take
 * IMG_CHUNK_SOFT_MAX chunks or more, at most IMG_MAX_CHUNK_SIZE. */
uint64_t img_chunk_target(uint64_t code_bytes);

/* Index of img's block with this pc, or UINT32_MAX. */
uint32_t img_find_block(const img_image *img, uint64_t pc);

/* Rebuilds the object block b was linked from, as obj_read would give it
 * (code, relocations, IR hash, folded blocks; fingerprint the image's;
 * features as given: the image records only their union).  With chunk (b's
 * decompressed chunk) the code is copied after checking its checksum; with
 * chunk NULL, out->code stays NULL (code_len is set): such an object may
 * only be linked with img_link_opts.from_old naming b.  The caller frees
 * out with obj_free. */
int img_block_obj(const img_image *img, uint32_t b, const uint8_t *chunk,
                  uint32_t features, obj_file *out, aotb_diag *d);

/* Rewrites img (from img_parse) in the canonical layout of a full link,
 * compressing every chunk at zstd level (0: IMG_ZSTD_LEVEL); each block's
 * code checksum is checked on the way.  0, or -1 + message. */
int img_compact(const img_image *img, int level, buf *out, aotb_diag *d);

/* Parses and checks an image: ELF structure, version, every section's
 * checksum and the root checksum, the index, symbols, relocations, data.
 * Does not decompress and does not compare the fingerprint or the CPU
 * features with this host.  0, or -1 + "NAME: message"; then out holds
 * nothing to free, but out->version is the file's format version when it
 * got that far (an aotb image's magic), else 0. */
int img_parse(const char *name, const uint8_t *data, size_t len,
              img_image *out, aotb_diag *d);
void img_free(img_image *img);

/* Decompresses chunk i into a new buffer (exact size checked).  The caller
 * frees *out with free(). */
int img_chunk_decompress(const img_image *img, uint32_t i, uint8_t **out,
                         aotb_diag *d);

/* Checks block b's code in its decompressed chunk against the index's
 * XXH3-128; 0, or -1 + "NAME: block 0xPC (chunk C): code checksum
 * mismatch". */
int img_check_block_sum(const img_image *img, uint32_t b,
                        const uint8_t *chunk, aotb_diag *d);

/* Rebuilds block b's cg_code (code copied from the decompressed chunk,
 * relocations translated back to kind + target) after checking its code
 * checksum. */
int img_block_code(const img_image *img, uint32_t b, const uint8_t *chunk,
                   cg_code *out, aotb_diag *d);

/* The fingerprint this aotb's loader accepts. */
void img_host_fingerprint(char *out, size_t size);

/* Everything: img_parse's checks, the fingerprint, every chunk decompressed,
 * every block checksum, every relocation, the missing stubs compared with
 * cg_compile_missing.  img must come from img_parse. */
int img_verify(const img_image *img, aotb_diag *d);

/* Incremental verification: img_verify's checks for the chunks c with
 * which[c] != 0 only (decompression, padding, block checksums and
 * relocations), plus the fingerprint and the missing stubs.  The other
 * chunks are covered by img_parse's section checksums alone.  *checked
 * (may be NULL) receives the number of chunks decompressed. */
int img_verify_chunks(const img_image *img, const uint8_t *which,
                      uint32_t *checked, aotb_diag *d);

/* Load-time policy: fingerprint and CPU features against this host. */
int img_check_host(const img_image *img, aotb_diag *d);

/* Lays the blocks out with codemap_begin, decompresses every chunk into
 * its place there, checks each block's code checksum, applies the
 * relocations and finishes the map (read+execute). */
int img_load(const img_image *img, codemap **out, aotb_diag *d);

/* aotb dump: an image's header, sections and blocks (disasm: run objdump
 * on each block's code). */
int img_dump(FILE *out, const img_image *img, int disasm, aotb_diag *d);
/* aotb dump of an object. */
int img_dump_object(FILE *out, const char *name, const obj_file *o,
                    int disasm, aotb_diag *d);

/* Shared by link / read: XXH3-128 in canonical (big-endian) byte order. */
void img_sum(const void *p, size_t n, uint8_t out[IMG_SUM_SIZE]);
/* The root checksum: img_sum of the pieces iov[0..n) one after the
 * other, with the root slot (bytes 16..31) of piece `sums' (.aotb.sums,
 * at least 32 bytes) taken as zeros.  The pieces are what no section
 * checksum covers, in file order (aotb-image(5)). */
struct iovec;
void img_sum_root(const struct iovec *iov, int n, int sums,
                  uint8_t out[IMG_SUM_SIZE]);
/* "aotb_blk_<16 hex>" into out (at least 26 bytes). */
void img_block_sym(uint64_t pc, char *out, size_t size);

#endif
