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
    size_t code_end;           /* exact end of the last piece */
    size_t code_size;          /* code pages; the table follows */
    cm_entry *blocks;          /* sorted by pc */
    size_t nblocks;
    size_t *block_off;         /* offset of the i-th block given (staged) */
    cm_entry *mstubs;          /* missing pc -> stub offset, sorted */
    size_t nmissing;
    size_t rt_off[CG_RT_NUM];  /* offsets of the runtime symbols */
    size_t ret_lookup_off;     /* and of the return lookup (no symbol) */
    int finished;              /* read+execute from now on */
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
    free(m->block_off);
    free(m->mstubs);
    free(m);
}

static size_t align16(size_t v)
{
    return (v + 15) & ~(size_t)15;
}

/* S + A - P for the 4-byte field at offset at, all relative to the same
 * mapping; -1 when the value does not fit 32 bits signed. */
static int patch(codemap *m, size_t at, size_t s_off, int64_t addend)
{
    int64_t v = (int64_t)s_off + addend - (int64_t)at;
    if (v < INT32_MIN || v > INT32_MAX)
        return -1;
    put_le32(m->base + at, (uint32_t)(int32_t)v);
    return 0;
}

/* Resolves the relocations of one piece placed at offset off. */
static int relocate(codemap *m, const cg_code *c, size_t off, aotb_diag *d)
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
                e = find(m->mstubs, m->nmissing, r->target);
            if (!e) {
                diag_add(d, "code of 0x%016" PRIx64 ": unresolved block "
                         "0x%016" PRIx64, c->pc, r->target);
                return -1;
            }
            s_off = e->off;
        } else {
            if (r->target >= CG_RT_NUM || m->rt_off[r->target] == SIZE_MAX) {
                diag_add(d, "code of 0x%016" PRIx64 ": unknown runtime "
                         "symbol %" PRIu64, c->pc, r->target);
                return -1;
            }
            s_off = m->rt_off[r->target];
        }
        if (patch(m, off + r->offset, s_off, r->addend) != 0) {
            diag_add(d, "code of 0x%016" PRIx64 ": relocation %zu out of "
                     "range", c->pc, i);
            return -1;
        }
    }
    return 0;
}

/* The common first stage: the runtime stubs at 0, blocks (pcs[i], sizes[i])
 * in the order given, then one missing stub per pc of missing[] (sorted,
 * distinct, none a block); maps the memory read+write, copies and
 * relocates the stubs and fills every gap with int3.  Block bytes are left
 * to the caller.  m->blocks ends up sorted by pc. */
static int begin(codemap *m, const uint64_t *pcs, const size_t *sizes,
                 size_t nblocks, const uint64_t *missing, size_t nmissing,
                 int sorted, aotb_diag *d)
{
    cg_code rt;
    cg_code *stubs = NULL;
    size_t nstubs = 0;
    int rc = -1;
    memset(&rt, 0, sizeof rt);
    if (cg_compile_runtime(&rt, d) != 0)
        return -1;
    for (size_t k = 0; k < CG_RT_NUM; k++)
        m->rt_off[k] = SIZE_MAX;
    for (size_t k = 0; k < rt.ndefs; k++)
        if ((size_t)rt.defs[k].sym < CG_RT_NUM)
            m->rt_off[rt.defs[k].sym] = rt.defs[k].offset;
    m->ret_lookup_off = rt.ret_lookup;

    m->blocks = xcalloc(nblocks ? nblocks : 1, sizeof *m->blocks);
    m->block_off = xcalloc(nblocks ? nblocks : 1, sizeof *m->block_off);
    m->mstubs = xcalloc(nmissing ? nmissing : 1, sizeof *m->mstubs);
    stubs = xcalloc(nmissing ? nmissing : 1, sizeof *stubs);
    if (!m->blocks || !m->block_off || !m->mstubs || !stubs) {
        diag_add(d, "codemap: out of memory");
        goto out;
    }
    size_t off = align16(rt.code.len);
    size_t last_end = rt.code.len;   /* the exact end of the last piece */
    for (size_t i = 0; i < nblocks; i++) {
        m->block_off[i] = off;
        m->blocks[i] = (cm_entry){ pcs[i], off };
        last_end = off + sizes[i];
        off = align16(last_end);
    }
    m->nblocks = nblocks;
    if (!sorted)
        qsort(m->blocks, nblocks, sizeof *m->blocks, cmp_entry);
    for (size_t i = 1; i < nblocks; i++)
        if (m->blocks[i].pc <= m->blocks[i - 1].pc) {
            diag_add(d, "codemap: %s at pc 0x%016" PRIx64,
                     m->blocks[i].pc == m->blocks[i - 1].pc ?
                         "two blocks" : "blocks not sorted",
                     m->blocks[i].pc);
            goto out;
        }
    for (size_t i = 0; i < nmissing; i++) {
        if ((i > 0 && missing[i] <= missing[i - 1]) ||
            find(m->blocks, nblocks, missing[i])) {
            diag_add(d, "codemap: bad missing stub pc 0x%016" PRIx64,
                     missing[i]);
            goto out;
        }
        if (cg_compile_missing(missing[i], &stubs[i], d) != 0)
            goto out;
        nstubs++;
        m->mstubs[i] = (cm_entry){ missing[i], off };
        last_end = off + stubs[i].code.len;
        off = align16(last_end);
    }
    m->nmissing = nmissing;
    m->code_end = last_end;

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
        goto out;
    }
    long page = sysconf(_SC_PAGESIZE);
    size_t pg = page > 0 ? (size_t)page : 4096;
    size_t code_size = (off + pg - 1) / pg * pg;
    if (code_size == 0)
        code_size = pg;
    size_t tbytes = nslots * sizeof(rt_slot);
    if (tbytes > SIZE_MAX - code_size - pg) {
        diag_add(d, "codemap: too many blocks (%zu)", nblocks);
        goto out;
    }
    m->code_size = code_size;
    m->size = code_size + (tbytes + pg - 1) / pg * pg;
    m->rt.table_shift = 60 - bits;
    m->rt.table_mask = (uint64_t)(nslots - 1) * sizeof(rt_slot);
    /* Anonymous memory comes zeroed: the table needs no clearing.  Every
     * code page is written at once, so they are populated in one go rather
     * than faulted in one by one. */
    void *p = mmap(NULL, m->size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (p == MAP_FAILED) {
        diag_add(d, "codemap: cannot map %zu bytes of code", m->size);
        goto out;
    }
    m->base = p;

    /* int3 in every gap (block bytes are written later, by the caller). */
    memcpy(m->base, rt.code.data, rt.code.len);
    size_t end = rt.code.len;
    for (size_t i = 0; i < nblocks; i++) {
        memset(m->base + end, OPC_INT3, m->block_off[i] - end);
        end = m->block_off[i] + sizes[i];
    }
    for (size_t i = 0; i < nmissing; i++) {
        memset(m->base + end, OPC_INT3, m->mstubs[i].off - end);
        memcpy(m->base + m->mstubs[i].off, stubs[i].code.data,
               stubs[i].code.len);
        end = m->mstubs[i].off + stubs[i].code.len;
    }
    memset(m->base + end, OPC_INT3, code_size - end);

    for (size_t i = 0; i < nmissing; i++)
        if (relocate(m, &stubs[i], m->mstubs[i].off, d) != 0)
            goto out;
    rc = 0;
out:
    cg_code_free(&rt);
    for (size_t i = 0; i < nstubs; i++)
        cg_code_free(&stubs[i]);
    free(stubs);
    return rc;
}

int codemap_begin(const uint64_t *pcs, const size_t *sizes, size_t nblocks,
                  const uint64_t *missing, size_t nmissing, codemap **out,
                  aotb_diag *d)
{
    *out = xcalloc(1, sizeof **out);
    if (!*out) {
        diag_add(d, "codemap: out of memory");
        return -1;
    }
    return begin(*out, pcs, sizes, nblocks, missing, nmissing, 1, d);
}

uint8_t *codemap_block_dst(codemap *m, size_t i)
{
    return m->finished ? NULL : m->base + m->block_off[i];
}

size_t codemap_block_offset(const codemap *m, size_t i)
{
    return m->block_off[i];
}

size_t codemap_missing_offset(const codemap *m, size_t j)
{
    return m->mstubs[j].off;
}

size_t codemap_rt_offset(const codemap *m, cg_rt_sym sym)
{
    return (size_t)sym < CG_RT_NUM ? m->rt_off[sym] : SIZE_MAX;
}

int codemap_patch(codemap *m, size_t at, size_t target, int64_t addend,
                  aotb_diag *d)
{
    if (m->finished || target >= m->code_end || at < m->block_off[0] ||
        at > m->code_end || m->code_end - at < 4 ||
        patch(m, at, target, addend) != 0) {
        diag_add(d, "codemap: relocation at offset %zu out of range", at);
        return -1;
    }
    return 0;
}

/* The hash table, then read+execute (code) and read-only (table). */
int codemap_finish(codemap *m, aotb_diag *d)
{
    if (m->finished) {
        diag_add(d, "codemap: already finished");
        return -1;
    }
    /* Linear probing from each pc's home slot. */
    rt_slot *table = (rt_slot *)(void *)(m->base + m->code_size);
    uint64_t mask = m->rt.table_mask, shift = m->rt.table_shift;
    for (size_t i = 0; i < m->nblocks; i++) {
        uint64_t o = rt_hash(m->blocks[i].pc) >> shift & mask;
        while (table[o / sizeof(rt_slot)].code)
            o = (o + sizeof(rt_slot)) & mask;
        table[o / sizeof(rt_slot)] = (rt_slot){
            m->blocks[i].pc, m->base + m->blocks[i].off };
    }

    /* Writable until now, executable (code) or read-only (table) from now
     * on: never writable and executable at once. */
    m->finished = 1;
    if (mprotect(m->base, m->code_size, PROT_READ | PROT_EXEC) != 0 ||
        mprotect(table, m->size - m->code_size, PROT_READ) != 0) {
        diag_add(d, "codemap: cannot make code executable");
        return -1;
    }
    size_t enter = m->rt_off[CG_RT_ENTER] == SIZE_MAX ? 0
                                                      : m->rt_off[CG_RT_ENTER];
    /* ISO C has no object-to-function pointer conversion; POSIX (dlsym)
     * guarantees it works, and memcpy keeps -Wpedantic quiet. */
    const void *ep = m->base + enter;
    memcpy(&m->rt.enter, &ep, sizeof ep);
    m->rt.lookup = rt_lookup;
    m->rt.ctx = m;
    m->rt.table = table;
    m->rt.lookup_stub = m->base + m->ret_lookup_off;
    static _Atomic uint64_t next_id = 1;
    m->rt.map_id = next_id++;
    return 0;
}

static int build(const cg_code *blocks, size_t nblocks, codemap *m,
                 aotb_diag *d)
{
    uint64_t *pcs = xcalloc(nblocks ? nblocks : 1, sizeof *pcs);
    size_t *sizes = xcalloc(nblocks ? nblocks : 1, sizeof *sizes);
    size_t nrel = 0;
    for (size_t i = 0; i < nblocks; i++)
        nrel += blocks[i].nrelocs;
    uint64_t *mpcs = xcalloc(nrel ? nrel : 1, sizeof *mpcs);
    cm_entry *sorted = xcalloc(nblocks ? nblocks : 1, sizeof *sorted);
    int rc = -1;
    if (!pcs || !sizes || !mpcs || !sorted) {
        diag_add(d, "codemap: out of memory");
        goto out;
    }
    for (size_t i = 0; i < nblocks; i++) {
        pcs[i] = blocks[i].pc;
        sizes[i] = blocks[i].code.len;
        sorted[i] = (cm_entry){ blocks[i].pc, i };
    }
    qsort(sorted, nblocks, sizeof *sorted, cmp_entry);

    /* Block targets with no block get a stub that reports them. */
    size_t nm = 0;
    for (size_t i = 0; i < nblocks; i++)
        for (size_t k = 0; k < blocks[i].nrelocs; k++) {
            const cg_reloc *r = &blocks[i].relocs[k];
            if (r->kind == CG_TGT_BLOCK &&
                !find(sorted, nblocks, r->target))
                mpcs[nm++] = r->target;
        }
    qsort(mpcs, nm, sizeof *mpcs, cmp_u64);
    size_t u = 0;
    for (size_t i = 0; i < nm; i++)
        if (u == 0 || mpcs[u - 1] != mpcs[i])
            mpcs[u++] = mpcs[i];

    if (begin(m, pcs, sizes, nblocks, mpcs, u, 0, d) != 0)
        goto out;
    for (size_t i = 0; i < nblocks; i++) {
        if (blocks[i].code.len)
            memcpy(m->base + m->block_off[i], blocks[i].code.data,
                   blocks[i].code.len);
        if (relocate(m, &blocks[i], m->block_off[i], d) != 0)
            goto out;
    }
    rc = codemap_finish(m, d);
out:
    free(pcs);
    free(sizes);
    free(mpcs);
    free(sorted);
    return rc;
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
    if (build(blocks, nblocks, m, d) != 0) {
        codemap_free(m);
        return -1;
    }
    *out = m;
    return 0;
}
