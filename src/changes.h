/* changes.h: classifies blocks as Added / Modified / Removed / Unchanged by
 * comparing IR hashes (never hashes of machine code), and counts them.  Used
 * by "aotb gen" (against the previous generation), "aotb diff" and the
 * incremental builder (against an image's stored IR hashes). */
#ifndef AOTB_CHANGES_H
#define AOTB_CHANGES_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ir.h"
#include "util.h"

typedef enum change_kind {
    CHANGE_UNCHANGED, CHANGE_ADDED, CHANGE_MODIFIED, CHANGE_REMOVED
} change_kind;

typedef struct block_hash {
    uint64_t pc;
    ir_hash hash;
} block_hash;

typedef struct block_change {
    uint64_t pc;
    change_kind kind;
    ir_hash old_hash, new_hash;   /* zero where the side has no block */
} block_change;

typedef struct change_stats {
    size_t added, modified, removed, unchanged;
} change_stats;

typedef struct change_set {
    block_change *items;          /* ascending pc */
    size_t n;
    change_stats stats;
} change_set;

/* Compares two lists of (pc, hash); neither needs to be sorted (they are
 * copied and sorted).  Duplicate pcs on one side are an error.
 * Returns 0 and fills *out, or -1 + message. */
int changes_classify(const block_hash *old_blocks, size_t nold,
                     const block_hash *new_blocks, size_t nnew,
                     change_set *out, aotb_diag *d);
void changes_free(change_set *c);
/* The change of the block at pc, or NULL. */
const block_change *changes_find(const change_set *c, uint64_t pc);

/* Total changes: added + modified + removed. */
static inline size_t change_stats_total(const change_stats *s)
{
    return s->added + s->modified + s->removed;
}

const char *change_kind_name(change_kind k);   /* "added", ... */

/* Hashes every block of a program into a malloc'd array (*n = nblocks). */
block_hash *changes_hash_program(const ir_program *p, size_t *n);

/* Prints "added N, modified N, removed N, unchanged N" or, with json, the
 * object {"added":N,...,"blocks":[{"pc":"0x..","change":"..",
 * "old_hash":"..","new_hash":".."},...]}. */
void changes_print(const change_set *c, int json, FILE *out);

#endif
