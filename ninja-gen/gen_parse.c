/* gen_parse.c: the program as "aotb gen" reads it, reusing the previous
 * generation's parse.  Ninja reruns aotb gen whenever the program changes,
 * so an edit of one block must not cost a parse of every block.
 *
 * The parser is line based: a block opens at a line whose first token is
 * "block" and closes at the first following line whose first token is '}'.
 * Each block's text, from the start of its "block" line to the end of its
 * '}' line, is hashed (XXH3-128).  A block whose exact text the previous
 * generation parsed without error, with this same aotb binary, is taken
 * from that generation's state (its pc and IR hash) instead of being parsed
 * again: the parser reads the program without those blocks' text, which
 * leaves the top-level statements and the other blocks as they are.
 *
 * Why that gives what a full parse gives.  Parsing a block's lines starts
 * outside any block and, when they parse without error, ends outside one,
 * adds exactly that block and touches nothing else (top-level statements
 * inside a block are errors); the lines do not depend on anything before
 * them but on being outside a block.  The reduced parse must therefore
 * produce one block per block text it kept, each opened on that text's
 * first line, and nothing else: then no block was open where a reused text
 * begins (a block opens only on a kept text's first line and closes at the
 * end of that text, where the '}' line is), in the full text as well.  The
 * checks that span blocks are redone over all of them: duplicate pcs and
 * "no blocks".  Any failure, and anything the splitting below does not
 * understand, falls back to parsing the full text, which also gives the
 * messages of a malformed program exactly as ir_parse writes them. */
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "gen.h"

/* One block's text in the program. */
typedef struct chunk {
    size_t off, len;
    size_t nl;             /* newlines in it */
    uint32_t line;         /* of its "block" line */
    uint32_t rline;        /* that line in the reduced text */
    ir_hash raw;           /* XXH3-128 of the text */
    long hit;              /* index into the cache, or -1 */
} chunk;

static int is_blank(char c)
{
    /* the parser's blanks (ir_parse.c) */
    return c == ' ' || c == '\t' || c == '\r';
}

/* Splits text into block texts.  0, or -1 when the structure is anything
 * but "block" lines each closed by a '}' line (the full parse then says
 * what is wrong), or on running out of memory. */
static int split_blocks(const char *t, size_t n, chunk **out, size_t *nout)
{
    chunk *v = NULL;
    size_t nv = 0, cap = 0;
    size_t pos = 0, start = 0, nl = 0;
    uint64_t line = 1, start_line = 0;
    int inside = 0;
    while (pos < n) {
        const char *e = memchr(t + pos, '\n', n - pos);
        size_t end = e ? (size_t)(e - t) + 1 : n;
        size_t i = pos;
        while (end - i > 4 && memcmp(t + i, "    ", 4) == 0)
            i += 4;
        while (i < end && is_blank(t[i]))
            i++;
        int open = end - i > 5 && memcmp(t + i, "block", 5) == 0 &&
                   (t[i + 5] == ' ' || t[i + 5] == '\t');
        int close = i < end && t[i] == '}';
        if (!inside && open) {
            inside = 1;
            start = pos;
            start_line = line;
            nl = 0;
        } else if (inside && open) {
            goto fail;
        }
        if (e)
            nl++;
        if (inside && close) {
            if (nv == cap) {
                cap = cap ? cap * 2 : 1024;
                chunk *w = xreallocarray(v, cap, sizeof *v);
                if (!w)
                    goto fail;
                v = w;
            }
            v[nv++] = (chunk){start, end - start, nl, (uint32_t)start_line,
                              (uint32_t)start_line, {0, 0}, -1};
            inside = 0;
        }
        if (e)
            line++;
        /* line numbers saturate in the parser: stop matching by them */
        if (line >= UINT32_MAX)
            goto fail;
        pos = end;
    }
    if (inside)
        goto fail;
    *out = v;
    *nout = nv;
    return 0;
fail:
    free(v);
    *out = NULL;
    *nout = 0;
    return -1;
}

/* An open-addressing table from a text hash to an index of the cache. */
typedef struct cache_index {
    long *slot;            /* -1: empty */
    size_t mask;
} cache_index;

static int index_build(cache_index *ix, const gen_cached *c, size_t n)
{
    size_t size = 16;
    while (size < 2 * n)
        size *= 2;
    ix->slot = xreallocarray(NULL, size, sizeof *ix->slot);
    ix->mask = size - 1;
    if (!ix->slot)
        return -1;
    for (size_t i = 0; i < size; i++)
        ix->slot[i] = -1;
    for (size_t i = 0; i < n; i++) {
        size_t h = (size_t)c[i].raw.lo & ix->mask;
        while (ix->slot[h] >= 0)
            h = (h + 1) & ix->mask;
        ix->slot[h] = (long)i;
    }
    return 0;
}

static long index_find(const cache_index *ix, const gen_cached *c, ir_hash raw)
{
    for (size_t h = (size_t)raw.lo & ix->mask; ix->slot[h] >= 0;
         h = (h + 1) & ix->mask)
        if (ir_hash_eq(c[ix->slot[h]].raw, raw))
            return ix->slot[h];
    return -1;
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

/* The blocks of the parse (p) and of the cache, in file order, if the
 * parse kept exactly the chunks that were not reused (see above).  With
 * chunks == NULL, the parse stands alone (no text hashes).  Fills g's
 * block list and pcs; 0, 1 when they do not fit together (duplicate pcs
 * included), -1 when out of memory. */
static int merge(gen_program *g, const chunk *ch, size_t nch,
                 const gen_cached *cache)
{
    const ir_program *p = &g->ir;
    size_t n = ch ? nch : p->nblocks;
    gen_block *b = xreallocarray(NULL, n ? n : 1, sizeof *b);
    uint64_t *pcs = xreallocarray(NULL, n ? n : 1, sizeof *pcs);
    if (!b || !pcs) {
        free(b);
        free(pcs);
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        memset(&b[i], 0, sizeof b[i]);
        if (ch && ch[i].hit >= 0) {
            const gen_cached *c = &cache[ch[i].hit];
            b[i].pc = c->pc;
            b[i].hash = c->hash;
        } else {
            if (k >= p->nblocks || (ch && p->blocks[k].line != ch[i].rline))
                goto mismatch;
            b[i].blk = &p->blocks[k++];
            b[i].pc = b[i].blk->pc;
            b[i].hash = ir_hash_block(b[i].blk);
        }
        if (ch) {
            b[i].has_raw = 1;
            b[i].raw = ch[i].raw;
            b[i].off = ch[i].off;
            b[i].len = ch[i].len;
        }
        pcs[i] = b[i].pc;
    }
    if (k != p->nblocks)
        goto mismatch;
    /* usually already in pc order */
    size_t s = 1;
    while (s < n && pcs[s - 1] < pcs[s])
        s++;
    if (s < n) {
        qsort(pcs, n, sizeof *pcs, cmp_u64);
        for (size_t i = 1; i < n; i++)
            if (pcs[i] == pcs[i - 1])
                goto mismatch;
    }
    g->blocks = b;
    g->nblocks = n;
    g->pcs = pcs;
    return 0;
mismatch:
    free(b);
    free(pcs);
    return 1;
}

/* The text without the reused blocks.  Their lines go as well: the
 * reduced parse's messages are never shown (a failure parses the full
 * text), and the kept blocks' lines in the reduced text go to rline. */
static int reduced_text(const char *t, size_t n, chunk *ch, size_t nch,
                        buf *out)
{
    size_t pos = 0, gone = 0;
    for (size_t i = 0; i < nch; i++) {
        if (ch[i].hit < 0) {
            ch[i].rline = ch[i].line - (uint32_t)gone;
            continue;
        }
        buf_append(out, t + pos, ch[i].off - pos);
        pos = ch[i].off + ch[i].len;
        gone += ch[i].nl;
    }
    buf_append(out, t + pos, n - pos);
    return out->oom ? -1 : 0;
}

int gen_program_read(const char *path, const gen_cached *cache, size_t ncache,
                     gen_program *g, aotb_diag *d)
{
    uint8_t *data;
    size_t len;
    memset(g, 0, sizeof *g);
    if (file_read_all(path, &data, &len, d) != 0)
        return -1;
    const char *text = (const char *)data;
    const char *name = strcmp(path, "-") == 0 ? "<stdin>" : path;
    chunk *ch = NULL;
    size_t nch = 0, nhit = 0;
    cache_index ix = {0};
    buf reduced = {0};
    int rc = -1, m = 1;
    int split = split_blocks(text, len, &ch, &nch) == 0;
    if (split && ncache && index_build(&ix, cache, ncache) != 0)
        goto oom;
    for (size_t i = 0; split && i < nch; i++) {
        XXH128_hash_t h = XXH3_128bits(text + ch[i].off, ch[i].len);
        ch[i].raw.hi = h.high64;
        ch[i].raw.lo = h.low64;
        ch[i].hit = ncache ? index_find(&ix, cache, ch[i].raw) : -1;
        if (ch[i].hit >= 0)
            nhit++;
    }
    if (nhit) {
        aotb_diag scratch = {0};
        if (reduced_text(text, len, ch, nch, &reduced) != 0) {
            diag_free(&scratch);
            goto oom;
        }
        if (ir_parse_ex(name, (const char *)reduced.data, reduced.len,
                        IR_PARSE_NO_BLOCKS_OK, &g->ir, &scratch) == 0) {
            m = merge(g, ch, nch, cache);
            if (m != 0)
                ir_program_free(&g->ir);
        }
        diag_free(&scratch);
        buf_free(&reduced);
        if (m < 0)
            goto oom;
        if (m == 0)
            g->reused = nhit;
    }
    if (m != 0) {
        /* the full text: nothing reused */
        for (size_t i = 0; split && i < nch; i++) {
            ch[i].hit = -1;
            ch[i].rline = ch[i].line;
        }
        if (ir_parse_ex(name, text, len, 0, &g->ir, d) != 0)
            goto out;
        /* the text hashes are kept when the blocks are the chunks */
        m = split ? merge(g, ch, nch, cache) : 1;
        if (m == 1)
            m = merge(g, NULL, 0, cache);
        if (m != 0) {
            ir_program_free(&g->ir);
            if (m < 0)
                goto oom;
            diag_add(d, "%s: internal error: duplicate blocks after parsing",
                     name);
            goto out;
        }
    }
    /* every block is now known: the default entry is the first in the file */
    if (!g->ir.has_entry) {
        g->ir.entry = g->blocks[0].pc;
        g->ir.has_entry = true;
    }
    g->text = (char *)data;
    g->len = len;
    data = NULL;
    rc = 0;
    goto out;
oom:
    diag_add(d, "out of memory");
    goto out;
out:
    buf_free(&reduced);
    free(ix.slot);
    free(ch);
    free(data);
    return rc;
}

void gen_program_free(gen_program *g)
{
    ir_program_free(&g->ir);
    free(g->blocks);
    free(g->pcs);
    free(g->text);
    memset(g, 0, sizeof *g);
}
