/* builder_compile.c: turns the classified program into objects in memory
 * (obj_file, no ELF files): the blocks to compile go to a pool of worker
 * threads that take the next block from a shared counter and write its
 * result into the block's own slot, so the objects, and with them the
 * image, are the same for any number of threads; the other blocks are
 * taken from the base image by the linker (img_link_opts.from_old: their
 * objects stay zero, so 100,000 unchanged blocks cost no memory and no
 * copying here; the linker checks each one's code checksum when it has to
 * decompress it). */
#include "builder_int.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct job {
    const ir_block *blk;
    obj_file *obj;
} job;

typedef struct pool {
    aotb_builder *b;
    job *jobs;
    size_t njobs, next, done;
    int failed;
    aotb_diag *diags;          /* one per job, merged in order */
    pthread_mutex_t mu;
} pool;

static const ir_block *find_block(void *ctx, uint64_t pc)
{
    return ir_program_find(ctx, pc);
}

_Static_assert(sizeof(((obj_file *)0)->fingerprint) ==
                   sizeof(((aotb_builder *)0)->fp),
               "obj_init copies the fingerprint whole");

static void obj_init(const aotb_builder *b, obj_file *o, uint64_t pc,
                     ir_hash h)
{
    /* o is zeroed (calloc); b->fp is NUL-terminated and the same size. */
    o->kind = OBJ_BLOCK;
    memcpy(o->fingerprint, b->fp, sizeof o->fingerprint);
    o->features = b->features;
    o->pc = pc;
    o->hash = h;
}

/* Moves a cg_code's bytes and relocations into o. */
static void take_code(obj_file *o, cg_code *c)
{
    o->code = c->code.data;
    o->code_len = c->code.len;
    o->relocs = c->relocs;
    o->nrelocs = c->nrelocs;
    c->code.data = NULL;
    c->relocs = NULL;
}

static int compile_one(aotb_builder *b, const job *j, aotb_diag *d)
{
    cg_code c;
    memset(&c, 0, sizeof c);
    if (cg_compile_block(j->blk, &b->cgo, find_block, &b->prog, &c, d) != 0)
        return -1;
    int rc = 0;
    if (c.ndeps) {
        j->obj->deps = xcalloc(c.ndeps, sizeof *j->obj->deps);
        if (!j->obj->deps) {
            diag_add(d, "out of memory");
            rc = -1;
        }
        for (size_t k = 0; rc == 0 && k < c.ndeps; k++) {
            const ir_block *f = ir_program_find(&b->prog, c.deps[k]);
            if (!f) {
                diag_add(d, "%s:%u: internal error: folded block 0x%016"
                         PRIx64 " not found", b->prog.file, j->blk->line,
                         c.deps[k]);
                rc = -1;
                break;
            }
            j->obj->deps[k].pc = f->pc;
            j->obj->deps[k].hash = ir_hash_block(f);
        }
        j->obj->ndeps = c.ndeps;
    }
    if (rc == 0)
        take_code(j->obj, &c);
    cg_code_free(&c);
    return rc;
}

static void *worker(void *arg)
{
    pool *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        size_t i = p->next < p->njobs && !p->failed ? p->next++ : p->njobs;
        pthread_mutex_unlock(&p->mu);
        if (i >= p->njobs)
            break;
        int rc = compile_one(p->b, &p->jobs[i], &p->diags[i]);
        pthread_mutex_lock(&p->mu);
        if (rc != 0)
            p->failed = 1;
        p->done++;
        const aotb_build_config *cfg = &p->b->cfg;
        if (cfg->progress && (p->done % 64 == 0 || p->done == p->njobs))
            cfg->progress(cfg->progress_ctx, p->done, p->njobs);
        pthread_mutex_unlock(&p->mu);
    }
    return NULL;
}

static unsigned nthreads(const aotb_builder *b, size_t njobs)
{
    long n = b->cfg.jobs ? (long)b->cfg.jobs : sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    if (n > 256)
        n = 256;
    if ((size_t)n > njobs)
        n = (long)(njobs ? njobs : 1);
    return (unsigned)n;
}

static int run_pool(aotb_builder *b, job *jobs, size_t njobs, aotb_diag *d)
{
    if (njobs == 0)
        return 0;
    pool p;
    memset(&p, 0, sizeof p);
    p.b = b;
    p.jobs = jobs;
    p.njobs = njobs;
    p.diags = xcalloc(njobs, sizeof *p.diags);
    if (!p.diags) {
        diag_add(d, "aotb builder: out of memory");
        return -1;
    }
    pthread_mutex_init(&p.mu, NULL);
    unsigned n = nthreads(b, njobs), started = 0;
    pthread_t *t = xcalloc(n, sizeof *t);
    for (unsigned i = 1; t && i < n; i++, started++)
        if (pthread_create(&t[i], NULL, worker, &p) != 0)
            break;
    worker(&p);                 /* this thread works too */
    for (unsigned i = 1; i <= started; i++)
        pthread_join(t[i], NULL);
    free(t);
    pthread_mutex_destroy(&p.mu);
    for (size_t i = 0; i < njobs; i++) {
        if (p.diags[i].count)
            diag_add(d, "%s", diag_text(&p.diags[i]));
        diag_free(&p.diags[i]);
    }
    free(p.diags);
    return p.failed ? -1 : 0;
}

void bld_free_objs(aotb_builder *b)
{
    /* An object taken from the base image is left zero (from_old): its
     * slot is not even read, so that its page of the array is never
     * touched. */
    for (size_t i = 0; i < b->nobjs; i++) {
        if (b->from_old && b->from_old[i] != UINT32_MAX)
            continue;
        free(b->objs[i].code);
        free(b->objs[i].relocs);
        free(b->objs[i].deps);
    }
    free(b->objs);
    free(b->from_old);
    free(b->from_old_features);
    b->objs = NULL;
    b->from_old = NULL;
    b->from_old_features = NULL;
    b->nobjs = 0;
    b->compiled = 0;
}

int bld_compile(aotb_builder *b, aotb_diag *d)
{
    bld_free_objs(b);
    const ir_program *p = &b->prog;
    size_t n = p->nblocks;
    b->objs = xcalloc(n + 1, sizeof *b->objs);
    job *jobs = xcalloc(n ? n : 1, sizeof *jobs);
    if (!b->objs || !jobs) {
        free(jobs);
        diag_add(d, "aotb builder: out of memory");
        return -1;
    }
    b->nobjs = n + 1;
    int reuse = b->has_old && b->cfg.enabled && b->cfg.preserve_unchanged;
    if (reuse) {
        b->from_old = malloc((n + 1) * sizeof *b->from_old);
        b->from_old_features = malloc((n + 1) * sizeof *b->from_old_features);
        if (!b->from_old || !b->from_old_features) {
            free(jobs);
            bld_free_objs(b);
            diag_add(d, "aotb builder: out of memory");
            return -1;
        }
        memset(b->from_old, 0xff, (n + 1) * sizeof *b->from_old);
        for (size_t k = 0; k <= n; k++)
            b->from_old_features[k] = b->features;
    }
    size_t njobs = 0, ci = 0;
    uint32_t ob = 0;
    int rc = 0;
    for (size_t k = 0; k < n && rc == 0; k++) {
        const ir_block *blk = &p->blocks[p->by_pc[k]];
        while (b->changes.items[ci].pc < blk->pc)   /* a superset, sorted */
            ci++;
        const block_change *c = &b->changes.items[ci];
        if (reuse && c->kind == CHANGE_UNCHANGED) {
            while (b->old.blocks[ob].pc < blk->pc)
                ob++;
            b->from_old[k] = ob;   /* b->objs[k] stays zero */
            b->st.copied++;
        } else {
            obj_init(b, &b->objs[k], blk->pc, c->new_hash);
            jobs[njobs].blk = blk;
            jobs[njobs++].obj = &b->objs[k];
        }
    }
    if (rc == 0)
        rc = run_pool(b, jobs, njobs, d);
    free(jobs);
    b->st.compiled = rc == 0 ? njobs : 0;
    /* The meta object: entry, memory size, data (pointing into the
     * program, which outlives the objects). */
    obj_file *m = &b->objs[n];
    memset(m, 0, sizeof *m);
    m->kind = OBJ_META;
    snprintf(m->fingerprint, sizeof m->fingerprint, "%s", b->fp);
    m->features = b->features;
    m->has_entry = ir_program_entry(p, &m->entry);
    m->memsize = p->memsize;
    m->data = p->data;
    m->ndata = p->ndata;
    if (rc != 0) {
        bld_free_objs(b);
        return -1;
    }
    b->compiled = 1;
    return 0;
}
