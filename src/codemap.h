/* codemap.h: places compiled code in executable memory.  Takes the runtime
 * stubs and the blocks (each a cg_code: bytes + relocations), lays them out
 * in one mapping, resolves every relocation (S + A - P, range-checked; a
 * block symbol with no block resolves to a generated "missing" stub), then
 * makes the mapping read+execute.  It is never writable and executable at
 * once.  codemap_build takes code compiled in memory (the native tests and
 * the differential fuzzer); the image loader uses the staged path below,
 * which lays out the same way. */
#ifndef AOTB_CODEMAP_H
#define AOTB_CODEMAP_H

#include <stddef.h>
#include <stdint.h>

#include "codegen.h"
#include "runtime.h"
#include "util.h"

typedef struct codemap codemap;

/* blocks[i].pc must be distinct.  The runtime stubs are generated inside.
 * Returns 0 and *out, or -1 + message. */
int codemap_build(const cg_code *blocks, size_t nblocks, codemap **out,
                  aotb_diag *d);

/* Staged building, for a loader that writes the block bytes itself (the
 * image loader decompresses straight into the mapping, with no copy):
 *   codemap_begin     lays out the runtime stubs at 0, then nblocks blocks
 *                     (pcs strictly ascending, sizes[i] bytes) in that
 *                     order, each at the 16-aligned end of the one before,
 *                     then one missing stub per missing[] pc (strictly
 *                     ascending, none a block); maps the memory read+write
 *                     (never executable yet), places and relocates the
 *                     stubs and fills every gap with int3;
 *   codemap_block_dst where block i's bytes go (NULL once finished);
 *   codemap_*_offset  mapping offsets of block i, missing stub j and the
 *                     runtime symbol (SIZE_MAX: not defined), for:
 *   codemap_patch     writes S + A - P (S = target, P = at, offsets in the
 *                     mapping) as a 32-bit field at at, range-checked;
 *   codemap_finish    builds the lookup table, then makes the code
 *                     read+execute and the table read-only.
 * On -1 (+ message) from any of them the caller frees *out with
 * codemap_free; *out may be non-NULL even when codemap_begin fails. */
int codemap_begin(const uint64_t *pcs, const size_t *sizes, size_t nblocks,
                  const uint64_t *missing, size_t nmissing, codemap **out,
                  aotb_diag *d);
uint8_t *codemap_block_dst(codemap *m, size_t i);
size_t codemap_block_offset(const codemap *m, size_t i);
size_t codemap_missing_offset(const codemap *m, size_t j);
size_t codemap_rt_offset(const codemap *m, cg_rt_sym sym);
int codemap_patch(codemap *m, size_t at, size_t target, int64_t addend,
                  aotb_diag *d);
int codemap_finish(codemap *m, aotb_diag *d);

/* The rt_code to hand to rt_run (lookup finds blocks by pc). */
const rt_code *codemap_rt(const codemap *m);

/* Host address of block pc's code, or NULL. */
const void *codemap_lookup(const codemap *m, uint64_t pc);

void codemap_free(codemap *m);

#endif
