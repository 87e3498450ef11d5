/* gen.h: "aotb gen": splits a program into one canonical .vir file per block
 * plus meta.vir (entry, memory, data), and writes the build graph for Ninja
 * (build.ninja) and optionally GNU Make (aot.mk).  Every file is written only
 * when its bytes change, so a build tool's mtime check becomes a content
 * check per block. */
#ifndef AOTB_GEN_H
#define AOTB_GEN_H

#include <stddef.h>

#include "changes.h"
#include "ir.h"
#include "util.h"

typedef struct gen_options {
    const char *prog;        /* the program, as given */
    const char *outdir;      /* output directory (created) */
    const char *image;       /* image path, as given (NULL: OUTDIR/<prog>.aot) */
    const char *aotb;        /* absolute path of the aotb binary */
    const char *root;        /* the directory the build tool runs in; paths
                                in the build files are relative to it
                                (NULL: the output directory) */
    int make;                /* also write OUTDIR/aot.mk */
    unsigned batch;          /* blocks per compile edge, >= 1 */
    unsigned fold;           /* aotb compile --fold N (superblocks); 0 off */
} gen_options;

/* Paths derived from the options by gen_run: absolute ones, and the r_
 * forms relative to the root that the build files use. */
typedef struct gen_paths {
    char *prog, *outdir, *image, *blocks, *obj, *root;
    char *r_prog, *r_outdir, *r_image, *r_blocks, *r_obj;
} gen_paths;

/* The path of absolute path to relative to absolute directory from ("." if
 * equal).  malloc'd; NULL when out of memory. */
char *gen_relpath(const char *from, const char *to);

typedef struct gen_result {
    change_set changes;      /* against the previous generation */
    size_t files_written;    /* block files and meta.vir actually rewritten */
    size_t files_removed;
    size_t blocks_reused;    /* taken from the previous generation unparsed */
    int ninja_written;       /* build.ninja rewritten */
    int make_written;
} gen_result;

/* A block of the previous generation: the hash of its text, its pc and IR
 * hash (gen_parse.c). */
typedef struct gen_cached {
    ir_hash raw;
    uint64_t pc;
    ir_hash hash;
} gen_cached;

typedef struct gen_block {
    uint64_t pc;
    ir_hash hash;            /* IR hash */
    int has_raw;             /* raw, off and len are set */
    ir_hash raw;             /* XXH3-128 of its text, "block" to "}" line */
    size_t off, len;         /* that text in gen_program.text */
    const ir_block *blk;     /* parsed, or NULL: taken from the cache */
} gen_block;

/* The program for gen: top-level statements, every block's pc and hash. */
typedef struct gen_program {
    ir_program ir;           /* the top-level statements (entry always set)
                                and the blocks that were parsed */
    char *text;              /* the program's text */
    size_t len;
    gen_block *blocks;       /* every block, in file order (>= 1) */
    size_t nblocks;
    uint64_t *pcs;           /* their pcs, ascending */
    size_t reused;           /* blocks taken from the cache */
} gen_program;

/* Reads and checks the program as ir_parse_file would, parsing only the
 * blocks whose text is not in cache (ncache entries from the previous
 * generation of this aotb binary).  0, or -1 + ir_parse's messages. */
int gen_program_read(const char *path, const gen_cached *cache, size_t ncache,
                     gen_program *g, aotb_diag *d);
void gen_program_free(gen_program *g);

/* Runs the generator.  Returns 0, or -1 + messages (nothing half-written:
 * each file is replaced atomically). */
int gen_run(const gen_options *o, gen_result *r, aotb_diag *d);
void gen_result_free(gen_result *r);

/* Object file name for a block: "<pc as 16 hex digits>". */
void gen_block_name(uint64_t pc, char out[17]);

/* The build files' text (ninja_file.c, make_file.c), for the blocks at
 * pcs[0..n) (ascending).  aotb_id: the binary's file_identity, or "". */
void gen_write_ninja(const gen_options *o, const gen_paths *p,
                     const char *aotb_id, const uint64_t *pcs, size_t n,
                     buf *out);
void gen_write_make(const gen_options *o, const gen_paths *p,
                    const uint64_t *pcs, size_t n, buf *out);

/* aot.rsp for aot.mk: the objects to link, one per line. */
void gen_write_make_rsp(const gen_paths *p, const uint64_t *pcs, size_t n,
                        buf *out);

/* The text of meta.vir: entry (always explicit), memory, data. */
void gen_meta_text(const ir_program *p, buf *out);

#endif
