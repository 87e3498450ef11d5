/* aotb/builder.h: build and update AOT images from inside a program (a VM,
 * an emulator, a build tool) with the same modules as "aotb build".
 * Link with -laotb (pkg-config --static aotb).
 *
 * The builder compares the blocks you give it with the IR hashes stored in
 * an existing image (never hashes of machine code), compiles only the
 * blocks that were added or modified (and blocks that folded in a block
 * that changed), copies the native code of the others from the old image,
 * drops removed blocks, and writes the new image to a temporary file that
 * is renamed over the target, so the old image survives any failure.
 *
 * Typical use:
 *
 *     aotb_build_config cfg;
 *     aotb_builder *b;  char *err;
 *     aotb_build_config_init(&cfg);
 *     if (aotb_builder_new(&cfg, &b, &err) != 0) ...
 *     if (aotb_builder_set_program_file(b, "prog.vir", &err) != 0 ||
 *         aotb_builder_update(b, "prog.aot", &err) != 0) {
 *         fprintf(stderr, "%s\n", err);  aotb_error_free(err);
 *     }
 *     aotb_build_stats st;
 *     aotb_builder_stats(b, &st);     (st.compiled blocks were compiled)
 *     aotb_builder_free(b);
 *
 * The steps of aotb_builder_update can also be taken one by one:
 * aotb_builder_load_image, aotb_builder_detect_changes,
 * aotb_builder_compile, aotb_builder_save.
 *
 * Errors follow <aotb/aotb.h>: 0 on success, -1 on failure with a malloc'd
 * message in *err (when err is not NULL) to free with aotb_error_free.  The
 * library never prints and never exits.  A builder is used by one thread
 * at a time (it runs its own worker threads while compiling). */
#ifndef AOTB_BUILDER_H
#define AOTB_BUILDER_H

#include <stddef.h>
#include <stdint.h>

#include "aotb/aotb.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- configuration ----------------------------------------------------- */

typedef struct aotb_build_config {
    /* 0: ignore the old image's code entirely (full rebuild);
     * aotb_builder_update then also replaces an existing image that is
     * damaged instead of failing. */
    int enabled;
    /* 0: treat every block as changed (compile all of them), but still
     * report the classification. */
    int detect_changes;
    /* 0: compile unchanged blocks again instead of copying their code. */
    int preserve_unchanged;
    /* Worker threads for compiling; 0 = one per online CPU.  The image is
     * byte-identical for any value. */
    unsigned jobs;
    /* Code generator: fold a jmp successor of at most this many ops into
     * its predecessor (superblocks); 0 = never.  Part of the compiler
     * fingerprint: changing it makes every block Modified. */
    unsigned fold_max_ops;
    /* Called now and then while compiling, from a worker thread (calls are
     * serialised): done of total blocks compiled.  May be NULL. */
    void (*progress)(void *ctx, size_t done, size_t total);
    void *progress_ctx;
} aotb_build_config;

/* Fills *cfg with the defaults: enabled, detect_changes and
 * preserve_unchanged on, jobs 0, fold_max_ops 0, no progress callback.
 * Returns nothing. */
void aotb_build_config_init(aotb_build_config *cfg);

/* ---- programs built in memory ------------------------------------------ */

/* A program assembled block by block, so that a VM can hand over its IR
 * without printing .vir text.  Each call is checked as the .vir parser
 * checks the same text (man aotb-ir(5)). */
typedef struct aotb_program aotb_program;

/* Operations: the same set and operand meaning as in .vir. */
enum {
    AOTB_OP_NOP, AOTB_OP_ADD, AOTB_OP_SUB, AOTB_OP_MUL, AOTB_OP_AND,
    AOTB_OP_OR, AOTB_OP_XOR, AOTB_OP_DIVS, AOTB_OP_DIVU, AOTB_OP_REMS,
    AOTB_OP_REMU, AOTB_OP_NOT, AOTB_OP_SLL, AOTB_OP_SRL, AOTB_OP_SRA,
    AOTB_OP_ADDI, AOTB_OP_MULI, AOTB_OP_MOV, AOTB_OP_MOVI, AOTB_OP_SLLI,
    AOTB_OP_SRLI, AOTB_OP_SRAI, AOTB_OP_CMPEQ, AOTB_OP_CMPNE, AOTB_OP_CMPLT,
    AOTB_OP_CMPLTU, AOTB_OP_CMPGE, AOTB_OP_CMPGEU, AOTB_OP_SELECT,
    AOTB_OP_LOAD, AOTB_OP_STORE
};
/* Memory access types of load / store. */
enum { AOTB_U8, AOTB_S8, AOTB_U16, AOTB_S16, AOTB_U32, AOTB_S32, AOTB_U64 };
/* Terminators. */
enum {
    AOTB_T_RET, AOTB_T_JMP, AOTB_T_JMPREG, AOTB_T_CONDJMP, AOTB_T_CALL,
    AOTB_T_FAULT, AOTB_T_INTERRUPT
};

/* One operation.  Fields an operation does not use are ignored.
 *   d = a OP b (add ...), d = OP a (not, mov), d = a OP imm (addi, muli,
 *   slli, srli, srai), d = imm (movi), d = c ? a : b (select),
 *   d = mem[a + imm] (load), mem[a + imm] = b (store). */
typedef struct aotb_op {
    int op;                 /* AOTB_OP_* */
    uint8_t d, a, b, c;     /* registers 0..255 */
    int memtype;            /* AOTB_U8 ... (load / store) */
    uint64_t imm;
} aotb_op;

/* The terminator:  jmp target;  condjmp reg ? target : other;
 * call target returning to other;  jmpreg reg + imm;  fault imm;
 * interrupt imm, resuming at other when has_resume;  ret. */
typedef struct aotb_term {
    int kind;               /* AOTB_T_* */
    uint8_t reg;
    int has_resume;
    uint64_t imm, target, other;
} aotb_term;

/* A new empty program (memory size as .vir's default).  0 / -1 + *err. */
int aotb_program_new(aotb_program **out, char **err);
/* Frees it.  NULL is fine.  Returns nothing. */
void aotb_program_free(aotb_program *p);
/* Sets the entry pc (default: the first block added).  Returns 0. */
int aotb_program_set_entry(aotb_program *p, uint64_t pc);
/* Sets the guest memory size in bytes.  0, or -1 + *err for 0. */
int aotb_program_set_memory(aotb_program *p, uint64_t size, char **err);
/* Adds an initial data segment (bytes copied).  0, or -1 + *err. */
int aotb_program_add_data(aotb_program *p, uint64_t addr, const void *bytes,
                          size_t len, char **err);
/* Adds one block.  0, or -1 + *err (bad opcode, memory type, terminator;
 * further checks, such as a shift amount or a duplicate pc, are made when
 * the program is handed to a builder, whose messages then name the place
 * as "<program>: block 0xPC, op N: error: ..." (ops counted from 0),
 * "block 0xPC, terminator", or "data segment N" (the N-th
 * aotb_program_add_data, from 0)). */
int aotb_program_add_block(aotb_program *p, uint64_t pc, const aotb_op *ops,
                           size_t nops, const aotb_term *term, char **err);

/* ---- the builder ------------------------------------------------------- */

typedef struct aotb_builder aotb_builder;

/* A new builder with a copy of *cfg (NULL: the defaults).  0 / -1 + *err. */
int aotb_builder_new(const aotb_build_config *cfg, aotb_builder **out,
                     char **err);
/* Frees it.  NULL is fine.  Returns nothing. */
void aotb_builder_free(aotb_builder *b);

/* The program to build, replacing any earlier one: .vir text (name is used
 * in messages), a .vir file, or an in-memory program (copied; p stays the
 * caller's).  0, or -1 + every parse error in *err. */
int aotb_builder_set_program_text(aotb_builder *b, const char *name,
                                  const char *text, size_t len, char **err);
int aotb_builder_set_program_file(aotb_builder *b, const char *path,
                                  char **err);
int aotb_builder_set_program(aotb_builder *b, const aotb_program *p,
                             char **err);

/* Loads the existing image at path as the base of an incremental build.
 * A missing file is not an error (the base is then empty: every block is
 * Added) and returns 0; a damaged or unsupported image returns -1 + *err. */
int aotb_builder_load_image(aotb_builder *b, const char *path, char **err);

/* Change kinds. */
enum {
    AOTB_UNCHANGED, AOTB_ADDED, AOTB_MODIFIED, AOTB_REMOVED
};
/* Why a block is Modified. */
enum {
    AOTB_WHY_NONE,          /* not modified */
    AOTB_WHY_IR,            /* its own IR hash differs */
    AOTB_WHY_DEPENDENCY,    /* a block folded into it changed or vanished */
    AOTB_WHY_FINGERPRINT,   /* the image came from another compiler
                               fingerprint (version, options, features) */
    AOTB_WHY_NO_DETECT      /* detect_changes is off */
};

typedef struct aotb_block_change {
    uint64_t pc;
    int kind;               /* AOTB_UNCHANGED ... */
    int why;                /* AOTB_WHY_* */
    uint8_t old_hash[16];   /* IR hashes, big-endian; zero where the side */
    uint8_t new_hash[16];   /* has no block */
} aotb_block_change;

/* Classifies every block of the program and of the loaded image.  Needs a
 * program.  0, or -1 + *err. */
int aotb_builder_detect_changes(aotb_builder *b, char **err);
/* Number of classified blocks (after detect_changes; else 0). */
size_t aotb_builder_change_count(const aotb_builder *b);
/* The i-th classification (ascending pc).  0, or -1 when i is out of
 * range. */
int aotb_builder_change(const aotb_builder *b, size_t i,
                        aotb_block_change *out);

/* Compiles what the classification and the config ask for (detecting
 * changes first if that was not done) on the worker threads and copies
 * the code of the others from the loaded image.  0, or -1 + *err. */
int aotb_builder_compile(aotb_builder *b, char **err);

/* Links the compiled and copied blocks into image bytes (compiling first
 * if needed), reusing the loaded image's compressed chunks where every
 * block is unchanged, and verifies the new chunks.  *data is malloc'd; free
 * it with aotb_error_free or free().  0, or -1 + *err. */
int aotb_builder_build(aotb_builder *b, void **data, size_t *len,
                       char **err);
/* aotb_builder_build, then writes the image to path atomically (temporary
 * file + rename) while holding path's lock file (PATH.lock: a second
 * writer waits up to 60 seconds, then fails with a message).  0 / -1. */
int aotb_builder_save(aotb_builder *b, const char *path, char **err);
/* The whole cycle on one path: lock, load the image there (missing is
 * fine, and so is an aotb image of another format version: every block is
 * then Added; damaged is an error unless cfg.enabled is 0), detect
 * changes, compile, write atomically, unlock.  0 / -1. */
int aotb_builder_update(aotb_builder *b, const char *path, char **err);

typedef struct aotb_build_stats {
    size_t added, modified, removed, unchanged;
    size_t modified_dependency;   /* of modified: because of a folded block */
    size_t total_changes;         /* added + modified + removed */
    int has_changes;              /* total_changes != 0 */
    size_t compiled;              /* blocks compiled by the last compile */
    size_t copied;                /* blocks whose code came from the image */
    size_t chunks, chunks_reused; /* of the last image built */
    size_t chunks_verified;       /* decompressed and checked after it */
} aotb_build_stats;

/* The statistics so far (zeros before detect_changes).  Returns nothing. */
void aotb_builder_stats(const aotb_builder *b, aotb_build_stats *out);

#ifdef __cplusplus
}
#endif
#endif
