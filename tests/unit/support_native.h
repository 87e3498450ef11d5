/* support_native.h: run an ir_program as native code in-process, and
 * compare a native run with the reference interpreter.  Shared by every
 * suite that wants a differential check. */
#ifndef AOTB_SUPPORT_NATIVE_H
#define AOTB_SUPPORT_NATIVE_H

#include <stddef.h>
#include <stdint.h>

#include "codegen.h"
#include "codemap.h"
#include "cpu.h"
#include "ir.h"

typedef struct native_prog {
    cg_code *codes;
    size_t ncodes;
    codemap *map;
} native_prog;

/* Compiles every block with cg_compile_block and places them with
 * codemap_build.  Returns 0, or -1 after printing the diagnostics. */
int native_build(const ir_program *p, native_prog *np);
/* The same with code generator options (o may be NULL); folding looks
 * blocks up in p. */
int native_build_opts(const ir_program *p, const cg_options *o,
                      native_prog *np);
void native_free(native_prog *np);
/* rt_run on cpu from pc. */
void native_run(const native_prog *np, aotb_cpu *cpu, uint64_t pc);

/* How to set up both CPUs of a comparison. */
typedef struct native_setup {
    uint64_t max_blocks;       /* 0 means no limit */
    uint64_t rcap;             /* 0 means the default capacity */
    unsigned fold;             /* cg_options.fold_max_ops for the native run */
    const uint64_t *regs;      /* initial r0..r(nregs-1), may be NULL */
    size_t nregs;
} native_setup;

/* Sets up a fresh CPU for p (memory, data, registers, budget). */
int native_cpu_setup(const ir_program *p, const native_setup *s,
                     aotb_cpu *cpu);

/* Runs p from its entry on the interpreter and natively (setup may be
 * NULL) and compares status, pc, info, every register, the return stack,
 * the budget and all of guest memory.  Returns 0 if they agree, else prints
 * the first differences to stderr and returns -1.  If out is not NULL the
 * native CPU is left there for further checks (free with cpu_free). */
int native_compare(const ir_program *p, const native_setup *setup,
                   aotb_cpu *out);

/* The same for .vir text; -1 also if the text does not parse or compile. */
int native_compare_text(const char *text, const native_setup *setup,
                        aotb_cpu *out);

#endif
