/* codemap.h: places compiled code in executable memory.  Takes the runtime
 * stubs and the blocks (each a cg_code: bytes + relocations), lays them out
 * in one mapping, resolves every relocation (S + A - P, range-checked; a
 * block symbol with no block resolves to a generated "missing" stub), then
 * makes the mapping read+execute.  It is never writable and executable at
 * once.  Used by the image loader after decompression, and by tests. */
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

/* The rt_code to hand to rt_run (lookup finds blocks by pc). */
const rt_code *codemap_rt(const codemap *m);

/* Host address of block pc's code, or NULL. */
const void *codemap_lookup(const codemap *m, uint64_t pc);

void codemap_free(codemap *m);

#endif
