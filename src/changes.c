/* changes.c: Added / Modified / Removed / Unchanged classification. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "changes.h"

static int cmp_pc(const void *a, const void *b)
{
    uint64_t x = ((const block_hash *)a)->pc, y = ((const block_hash *)b)->pc;
    return x < y ? -1 : x > y;
}

/* *out = v itself when it is sorted by pc without duplicates (programs
 * and images usually are: *copy stays NULL), else a sorted copy (also in
 * *copy, for the caller to free).  -1 + message on duplicates or out of
 * memory. */
static int sorted(const block_hash *v, size_t n, const block_hash **out,
                  block_hash **copy, const char *side, aotb_diag *d)
{
    *out = v;
    *copy = NULL;
    size_t k = 1;
    while (k < n && v[k - 1].pc < v[k].pc)
        k++;
    if (k >= n)
        return 0;
    block_hash *c = xreallocarray(NULL, n, sizeof *c);
    if (!c) {
        diag_add(d, "out of memory");
        return -1;
    }
    memcpy(c, v, n * sizeof *c);
    qsort(c, n, sizeof *c, cmp_pc);
    for (size_t i = 1; i < n; i++)
        if (c[i].pc == c[i - 1].pc) {
            diag_add(d, "%s program has two blocks at pc 0x%llx", side,
                     (unsigned long long)c[i].pc);
            free(c);
            return -1;
        }
    *out = *copy = c;
    return 0;
}

int changes_classify(const block_hash *old_blocks, size_t nold,
                     const block_hash *new_blocks, size_t nnew,
                     change_set *out, aotb_diag *d)
{
    memset(out, 0, sizeof *out);
    block_hash *oc = NULL, *nc = NULL;
    const block_hash *o, *n;
    int ok = sorted(old_blocks, nold, &o, &oc, "old", d) == 0 &&
             sorted(new_blocks, nnew, &n, &nc, "new", d) == 0;
    block_change *items =
        ok ? xreallocarray(NULL, nold + nnew ? nold + nnew : 1, sizeof *items)
           : NULL;
    if (!items) {
        if (ok)
            diag_add(d, "out of memory");
        free(oc);
        free(nc);
        return -1;
    }
    size_t i = 0, j = 0, k = 0;
    while (i < nold || j < nnew) {
        block_change *c = &items[k++];
        memset(c, 0, sizeof *c);
        if (j >= nnew || (i < nold && o[i].pc < n[j].pc)) {
            c->pc = o[i].pc;
            c->kind = CHANGE_REMOVED;
            c->old_hash = o[i++].hash;
            out->stats.removed++;
        } else if (i >= nold || n[j].pc < o[i].pc) {
            c->pc = n[j].pc;
            c->kind = CHANGE_ADDED;
            c->new_hash = n[j++].hash;
            out->stats.added++;
        } else {
            c->pc = n[j].pc;
            c->old_hash = o[i++].hash;
            c->new_hash = n[j++].hash;
            c->kind = ir_hash_eq(c->old_hash, c->new_hash) ? CHANGE_UNCHANGED
                                                           : CHANGE_MODIFIED;
            if (c->kind == CHANGE_UNCHANGED)
                out->stats.unchanged++;
            else
                out->stats.modified++;
        }
    }
    free(oc);
    free(nc);
    out->items = items;
    out->n = k;
    return 0;
}

const block_change *changes_find(const change_set *c, uint64_t pc)
{
    size_t lo = 0, hi = c->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->items[mid].pc == pc)
            return &c->items[mid];
        if (c->items[mid].pc < pc)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

void changes_free(change_set *c)
{
    free(c->items);
    memset(c, 0, sizeof *c);
}

const char *change_kind_name(change_kind k)
{
    switch (k) {
    case CHANGE_ADDED: return "added";
    case CHANGE_MODIFIED: return "modified";
    case CHANGE_REMOVED: return "removed";
    case CHANGE_UNCHANGED: break;
    }
    return "unchanged";
}

block_hash *changes_hash_program(const ir_program *p, size_t *n)
{
    block_hash *v = xreallocarray(NULL, p->nblocks, sizeof *v);
    if (!v)
        return NULL;
    for (size_t i = 0; i < p->nblocks; i++) {
        v[i].pc = p->blocks[i].pc;
        v[i].hash = ir_hash_block(&p->blocks[i]);
    }
    *n = p->nblocks;
    return v;
}

void changes_print(const change_set *c, int json, FILE *out)
{
    const change_stats *s = &c->stats;
    if (!json) {
        /* One line per block, as aotb diff prints them, then the totals. */
        for (size_t i = 0; i < c->n; i++)
            fprintf(out, "0x%016llx %s\n", (unsigned long long)c->items[i].pc,
                    change_kind_name(c->items[i].kind));
        fprintf(out, "added %zu, modified %zu, removed %zu, unchanged %zu\n",
                s->added, s->modified, s->removed, s->unchanged);
        return;
    }
    fprintf(out, "{\"added\":%zu,\"modified\":%zu,\"removed\":%zu,"
                 "\"unchanged\":%zu,\"blocks\":[",
            s->added, s->modified, s->removed, s->unchanged);
    for (size_t i = 0; i < c->n; i++) {
        const block_change *b = &c->items[i];
        char oh[33] = "", nh[33] = "";
        if (b->kind != CHANGE_ADDED)
            ir_hash_hex(b->old_hash, oh);
        if (b->kind != CHANGE_REMOVED)
            ir_hash_hex(b->new_hash, nh);
        fprintf(out, "%s{\"pc\":\"0x%016llx\",\"change\":\"%s\",",
                i ? "," : "", (unsigned long long)b->pc, change_kind_name(b->kind));
        if (oh[0])
            fprintf(out, "\"old_hash\":\"%s\",", oh);
        else
            fprintf(out, "\"old_hash\":null,");
        if (nh[0])
            fprintf(out, "\"new_hash\":\"%s\"}", nh);
        else
            fprintf(out, "\"new_hash\":null}");
    }
    fprintf(out, "]}\n");
}
