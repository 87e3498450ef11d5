/* codegen.h: the x86-64 code generator.  One IR block becomes one function
 * (symbol aotb_blk_<pc as 16 hex digits>) plus the relocations it needs.
 * The runtime stubs (enter, exit, lookup) are generated here too, so every
 * byte of native code comes from one emitter.
 *
 * Native calling convention inside generated code:
 *   rbx = aotb_cpu *      r12 = guest memory base
 *   r13 = frames in rstack/hstack (cpu->rsp, but for the host frames)
 *   r14 = remaining block budget (cpu->budget while running)
 * Enter loads r13 and r14 from the cpu struct, exit stores them back.
 *   rsp: a guest call is a host call to the callee's code (and a guest
 *   ret a host ret); the host frames of one entry, at most HOST_FRAMES,
 *   are the return stack's top.  They go to rstack/hstack only when they
 *   are dropped (too many, and at every stop, where exit also restores
 *   rsp): every stop leaves the host stack as enter found it and the
 *   return stack as the interpreter keeps it.  Blocks call nothing else.
 * A block starts with the budget check (sub r14,1; jb -> stop with
 * AOTB_ST_BUDGET and pc = this block).  To stop, code stores status, pc and
 * info into the cpu struct and jumps to aotb_rt_exit.  To continue at a
 * computed pc it stores the pc in cpu->pc and jumps to aotb_rt_lookup. */
#ifndef AOTB_CODEGEN_H
#define AOTB_CODEGEN_H

#include <stddef.h>
#include <stdint.h>

#include "cpu.h"
#include "ir.h"
#include "util.h"

#define CG_BLOCK_SYM_FMT "aotb_blk_%016" PRIx64
#define CG_SYM_ENTER  "aotb_rt_enter"   /* uint32_t enter(aotb_cpu *, void *) */
#define CG_SYM_EXIT   "aotb_rt_exit"
#define CG_SYM_LOOKUP "aotb_rt_lookup"

typedef enum cg_target_kind {
    CG_TGT_BLOCK,      /* target = guest pc; symbol aotb_blk_<pc> */
    CG_TGT_RT          /* target = cg_rt_sym */
} cg_target_kind;

typedef enum cg_rt_sym { CG_RT_ENTER, CG_RT_EXIT, CG_RT_LOOKUP, CG_RT_NUM }
    cg_rt_sym;

/* One relocation, recorded in the same step as the placeholder it patches.
 * The patched field is 4 bytes at offset; value = S + A - P (PC-relative),
 * ELF type R_X86_64_PLT32 (branches) or R_X86_64_PC32 (data). */
typedef struct cg_reloc {
    uint32_t offset;
    uint32_t type;     /* R_X86_64_* from <elf.h> */
    int64_t addend;
    uint8_t kind;      /* cg_target_kind */
    uint64_t target;
} cg_reloc;

typedef struct cg_code {
    uint64_t pc;           /* the block's pc (unused for runtime stubs) */
    buf code;
    cg_reloc *relocs;
    size_t nrelocs, relocs_cap;
    /* Symbols defined in this code other than the block itself (runtime
     * stubs only): name offset pairs. */
    struct { cg_rt_sym sym; uint32_t offset; } defs[CG_RT_NUM];
    size_t ndefs;
    /* Runtime stubs only: the offset of the return lookup, where a ret of a
     * frame whose host address is not trusted lands (cpu.h: hstack).  It
     * sets cpu->pc to the return pc and goes on into the lookup.  Nothing
     * jumps there by symbol, so it has none. */
    uint32_t ret_lookup;
    uint64_t *deps;        /* pcs of other blocks whose IR was folded in */
    size_t ndeps;
} cg_code;

typedef struct cg_options {
    unsigned fold_max_ops;   /* fold a jmp successor of at most this many ops
                                (superblock); 0 = never */
} cg_options;

/* Looks up another block's IR (for folding); may be NULL. */
typedef const ir_block *(*cg_find_fn)(void *ctx, uint64_t pc);

/* Compiles one block.  Returns 0 or -1 + message (only on out of memory or
 * an invalid block: every valid block compiles). */
int cg_compile_block(const ir_block *b, const cg_options *o, cg_find_fn find,
                     void *find_ctx, cg_code *out, aotb_diag *d);

/* Emits the runtime stubs: aotb_rt_enter, aotb_rt_exit, aotb_rt_lookup, all
 * recorded in out->defs. */
int cg_compile_runtime(cg_code *out, aotb_diag *d);

/* A stub that continues at a missing block's pc: stores pc, jumps to
 * aotb_rt_lookup (which then reports nocode).  The linker uses it for every
 * block symbol that no object defines. */
int cg_compile_missing(uint64_t pc, cg_code *out, aotb_diag *d);

void cg_code_free(cg_code *c);

/* The compiler fingerprint: aotb version, code generator version and
 * options, required CPU features, as one printable line. */
void cg_fingerprint(const cg_options *o, char *out, size_t size);

/* True when code with fingerprint fp can be loaded by this aotb: same aotb
 * version and code generator version (the options, such as fold=N, may
 * differ: they change the code, not its ABI).  Rebuild decisions compare
 * fingerprints exactly instead. */
int cg_fingerprint_compatible(const char *fp);
/* The code generator's version (in every fingerprint). */
int cg_version(void);

/* CPU features the generated code needs (CG_FEAT_* bits) and the host has. */
#define CG_FEAT_X86_64  (1u << 0)   /* baseline x86-64 (SSE2, CMOV) */
#define CG_FEAT_BMI2    (1u << 1)
#define CG_FEAT_LZCNT   (1u << 2)
uint32_t cg_required_features(const cg_options *o);
uint32_t cg_host_features(void);
/* "x86-64,bmi2": the names of the bits in f. */
void cg_feature_names(uint32_t f, char *out, size_t size);

#endif
