/* codemap.c: lays compiled code out in one anonymous mapping, resolves its
 * relocations and makes it read+execute (see codemap.h).
 *
 * Layout, deterministic for a given input: the runtime stubs at offset 0,
 * then the blocks in the order given, then one "missing" stub per block
 * target that has no block, in ascending pc order; every piece starts on a
 * 16-byte boundary and the gaps are int3.  After the code, on pages of
 * their own, comes the read-only pc -> code hash table that the native
 * lookup stub probes (rt_slot, runtime.h). */
#include "codemap.h"

#include <elf.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "x86_emit.h"

typedef struct cm_entry {
    uint64_t pc;
    size_t off;
} cm_entry;

struct codemap {
    uint8_t *base;
    size_t size;
    cm_entry *blocks;          /* sorted by pc */
    size_t nblocks;
    rt_code rt;
};

static int cmp_entry(const void *x, const void *y)
{
    const cm_entry *a = x, *b = y;
    return a->pc < b->pc ? -1 : a->pc > b->pc;
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

static const cm_entry *find(const cm_entry *v, size_t n, uint64_t pc)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid].pc < pc)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && v[lo].pc == pc ? &v[lo] : NULL;
}

const void *codemap_lookup(const codemap *m, uint64_t pc)
{
    const cm_entry *e = find(m->blocks, m->nblocks, pc);
    return e ? m->base + e->off : NULL;
}

static const void *rt_lookup(void *ctx, uint64_t pc)
{
    return codemap_lookup(ctx, pc);
}

const rt_code *codemap_rt(const codemap *m)
{
    return &m->rt;
}

void codemap_free(codemap *m)
{
    if (!m)
        return;
    if (m->base)
        munmap(m->base, m->size);
    free(m->blocks);
    free(m);
}

/* Everything needed while building, freed in one place. */
typedef struct cm_build {
    cg_code rt;
    cg_code *missing;
    size_t nmissing;
    uint64_t *mpcs;           /* missing pcs, sorted, distinct */
    cm_entry *mstubs;         /* missing pc -> offset, sorted */
    size_t *block_off;        /* offset of blocks[i] */
} cm_build;

static void build_free(cm_build *b)
{
    cg_code_free(&b->rt);
    for (size_t i = 0; i < b->nmissing; i++)
        cg_code_free(&b->missing[i]);
    free(b->missing);
    free(b->mpcs);
    free(b->mstubs);
    free(b->block_off);
}

static size_t align16(size_t v)
{
    return (v + 15) & ~(size_t)15;
}

/* Resolves the relocations of one piece placed at offset off. */
static int relocate(codemap *m, const cm_build *b, const cg_code *c,
                    size_t off, aotb_diag *d)
{
    for (size_t i = 0; i < c->nrelocs; i++) {
        const cg_reloc *r = &c->relocs[i];
        if ((r->type != R_X86_64_PLT32 && r->type != R_X86_64_PC32) ||
            r->offset > c->code.len || c->code.len - r->offset < 4) {
            diag_add(d, "code of 0x%016" PRIx64 ": bad relocation %zu", c->pc,
                     i);
            return -1;
        }
        size_t s_off;
        if (r->kind == CG_TGT_BLOCK) {
            const cm_entry *e = find(m->blocks, m->nblocks, r->target);
            if (!e)
                e = find(b->mstubs, b->nmissing, r->target);
            if (!e) {
                diag_add(d, "code of 0x%016" PRIx64 ": unresolved block "
                         "0x%016" PRIx64, c->pc, r->target);
                return -1;
            }
            s_off = e->off;
        } else {
            size_t k = 0;
            while (k < b->rt.ndefs && b->rt.defs[k].sym != (cg_rt_sym)r->target)
                k++;
            if (k == b->rt.ndefs) {
                diag_add(d, "code of 0x%016" PRIx64 ": unknown runtime "
                         "symbol %" PRIu64, c->pc, r->target);
                return -1;
            }
            s_off = b->rt.defs[k].offset;
        }
        /* S + A - P, all relative to the same mapping. */
        int64_t v = (int64_t)s_off + r->addend - (int64_t)(off + r->offset);
        if (v < INT32_MIN || v > INT32_MAX) {
            diag_add(d, "code of 0x%016" PRIx64 ": relocation %zu out of "
                     "range", c->pc, i);
            return -1;
        }
        put_le32(m->base + off + r->offset, (uint32_t)(int32_t)v);
    }
    return 0;
}

static int build(const cg_code *blocks, size_t nblocks, codemap *m,
                 cm_build *b, aotb_diag *d)
{
    if (cg_compile_runtime(&b->rt, d) != 0)
        return -1;

    m->blocks = xcalloc(nblocks, sizeof *m->blocks);
    b->block_off = xcalloc(nblocks, sizeof *b->block_off);
    size_t nrel = 0;
    for (size_t i = 0; i < nblocks; i++)
        nrel += blocks[i].nrelocs;
    b->mpcs = xcalloc(nrel, sizeof *b->mpcs);
    if (!m->blocks || !b->block_off || !b->mpcs) {
        diag_add(d, "codemap: out of memory");
        return -1;
    }

    size_t off = align16(b->rt.code.len);
    for (size_t i = 0; i < nblocks; i++) {
        b->block_off[i] = off;
        m->blocks[i] = (cm_entry){ blocks[i].pc, off };
        off = align16(off + blocks[i].code.len);
    }
    m->nblocks = nblocks;
    qsort(m->blocks, nblocks, sizeof *m->blocks, cmp_entry);
    for (size_t i = 1; i < nblocks; i++)
        if (m->blocks[i].pc == m->blocks[i - 1].pc) {
            diag_add(d, "codemap: two blocks at pc 0x%016" PRIx64,
                     m->blocks[i].pc);
            return -1;
        }

    /* Block targets with no block get a stub that reports them. */
    size_t nm = 0;
    for (size_t i = 0; i < nblocks; i++)
        for (size_t k = 0; k < blocks[i].nrelocs; k++) {
            const cg_reloc *r = &blocks[i].relocs[k];
            if (r->kind == CG_TGT_BLOCK &&
                !find(m->blocks, nblocks, r->target))
                b->mpcs[nm++] = r->target;
        }
    qsort(b->mpcs, nm, sizeof *b->mpcs, cmp_u64);
    size_t u = 0;
    for (size_t i = 0; i < nm; i++)
        if (u == 0 || b->mpcs[u - 1] != b->mpcs[i])
            b->mpcs[u++] = b->mpcs[i];
    b->missing = xcalloc(u, sizeof *b->missing);
    b->mstubs = xcalloc(u, sizeof *b->mstubs);
    if (!b->missing || !b->mstubs) {
        diag_add(d, "codemap: out of memory");
        return -1;
    }
    for (size_t i = 0; i < u; i++) {
        if (cg_compile_missing(b->mpcs[i], &b->missing[i], d) != 0)
            return -1;
        b->nmissing++;
        b->mstubs[i] = (cm_entry){ b->mpcs[i], off };
        off = align16(off + b->missing[i].code.len);
    }

    /* The lookup table: at least twice as many slots as blocks (load
     * factor <= 0.5, so every probe reaches an empty slot), a power of two,
     * in its own pages right after the code (read-only, not executable). */
    unsigned bits = 1;
    while (bits < 40 && ((size_t)1 << bits) / 2 < nblocks)
        bits++;
    size_t nslots = (size_t)1 << bits;
    if (((size_t)1 << bits) / 2 < nblocks ||
        nslots > SIZE_MAX / sizeof(rt_slot)) {
        diag_add(d, "codemap: too many blocks (%zu)", nblocks);
        return -1;
    }
    long page = sysconf(_SC_PAGESIZE);
    size_t pg = page > 0 ? (size_t)page : 4096;
    size_t code_size = (off + pg - 1) / pg * pg;
    if (code_size == 0)
        code_size = pg;
    size_t tbytes = nslots * sizeof(rt_slot);
    if (tbytes > SIZE_MAX - code_size - pg) {
        diag_add(d, "codemap: too many blocks (%zu)", nblocks);
        return -1;
    }
    m->size = code_size + (tbytes + pg - 1) / pg * pg;
    void *p = mmap(NULL, m->size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        diag_add(d, "codemap: cannot map %zu bytes of code", m->size);
        return -1;
    }
    m->base = p;
    memset(m->base, OPC_INT3, m->size);

    memcpy(m->base, b->rt.code.data, b->rt.code.len);
    for (size_t i = 0; i < nblocks; i++)
        if (blocks[i].code.len)
            memcpy(m->base + b->block_off[i], blocks[i].code.data,
                   blocks[i].code.len);
    for (size_t i = 0; i < b->nmissing; i++)
        memcpy(m->base + b->mstubs[i].off, b->missing[i].code.data,
               b->missing[i].code.len);

    for (size_t i = 0; i < nblocks; i++)
        if (relocate(m, b, &blocks[i], b->block_off[i], d) != 0)
            return -1;
    for (size_t i = 0; i < b->nmissing; i++)
        if (relocate(m, b, &b->missing[i], b->mstubs[i].off, d) != 0)
            return -1;

    /* Linear probing from each pc's home slot; the mapping came zeroed
     * where the table is only after this memset (code == NULL: empty). */
    rt_slot *table = (rt_slot *)(void *)(m->base + code_size);
    memset(table, 0, tbytes);
    uint64_t mask = (uint64_t)(nslots - 1) * sizeof(rt_slot);
    uint64_t shift = 60 - bits;
    for (size_t i = 0; i < nblocks; i++) {
        uint64_t o = rt_hash(m->blocks[i].pc) >> shift & mask;
        while (table[o / sizeof(rt_slot)].code)
            o = (o + sizeof(rt_slot)) & mask;
        table[o / sizeof(rt_slot)] = (rt_slot){
            m->blocks[i].pc, m->base + m->blocks[i].off };
    }

    /* Writable until now, executable (code) or read-only (table) from now
     * on: never writable and executable at once. */
    if (mprotect(m->base, code_size, PROT_READ | PROT_EXEC) != 0 ||
        mprotect(table, m->size - code_size, PROT_READ) != 0) {
        diag_add(d, "codemap: cannot make code executable");
        return -1;
    }

    size_t enter = 0;
    for (size_t k = 0; k < b->rt.ndefs; k++)
        if (b->rt.defs[k].sym == CG_RT_ENTER)
            enter = b->rt.defs[k].offset;
    /* ISO C has no object-to-function pointer conversion; POSIX (dlsym)
     * guarantees it works, and memcpy keeps -Wpedantic quiet. */
    const void *ep = m->base + enter;
    memcpy(&m->rt.enter, &ep, sizeof ep);
    m->rt.lookup = rt_lookup;
    m->rt.ctx = m;
    m->rt.table = table;
    m->rt.table_mask = mask;
    m->rt.table_shift = shift;
    return 0;
}

int codemap_build(const cg_code *blocks, size_t nblocks, codemap **out,
                  aotb_diag *d)
{
    *out = NULL;
    codemap *m = xcalloc(1, sizeof *m);
    if (!m) {
        diag_add(d, "codemap: out of memory");
        return -1;
    }
    cm_build b;
    memset(&b, 0, sizeof b);
    int rc = build(blocks, nblocks, m, &b, d);
    build_free(&b);
    if (rc != 0) {
        codemap_free(m);
        return -1;
    }
    *out = m;
    return 0;
}
