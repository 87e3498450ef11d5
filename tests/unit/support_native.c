/* support_native.c: in-process native runs and native/interpreter
 * comparison for the unit suites (see support_native.h). */
#include "support_native.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interp.h"
#include "runtime.h"

static const ir_block *find_block(void *ctx, uint64_t pc)
{
    return ir_program_find(ctx, pc);
}

int native_build(const ir_program *p, native_prog *np)
{
    return native_build_opts(p, NULL, np);
}

int native_build_opts(const ir_program *p, const cg_options *opts,
                      native_prog *np)
{
    aotb_diag d = {0};
    cg_options o = {0};
    if (opts)
        o = *opts;
    memset(np, 0, sizeof *np);
    np->codes = xcalloc(p->nblocks, sizeof *np->codes);
    if (!np->codes)
        return -1;
    for (size_t i = 0; i < p->nblocks; i++) {
        if (cg_compile_block(&p->blocks[i], &o, find_block, (void *)p,
                             &np->codes[i], &d) != 0)
            goto fail;
        np->ncodes++;
    }
    if (codemap_build(np->codes, np->ncodes, &np->map, &d) != 0)
        goto fail;
    diag_free(&d);
    return 0;
fail:
    fprintf(stderr, "native_build: %s", diag_text(&d));
    diag_free(&d);
    native_free(np);
    return -1;
}

void native_free(native_prog *np)
{
    for (size_t i = 0; i < np->ncodes; i++)
        cg_code_free(&np->codes[i]);
    free(np->codes);
    codemap_free(np->map);
    memset(np, 0, sizeof *np);
}

void native_run(const native_prog *np, aotb_cpu *cpu, uint64_t pc)
{
    rt_run(codemap_rt(np->map), cpu, pc);
}

int native_cpu_setup(const ir_program *p, const native_setup *s,
                     aotb_cpu *cpu)
{
    aotb_diag d = {0};
    if (cpu_init(cpu, p->memsize, &d) != 0)
        goto fail;
    for (size_t i = 0; i < p->ndata; i++)
        if (cpu_load_data(cpu, p->data[i].addr, p->data[i].bytes,
                          p->data[i].len, &d) != 0) {
            cpu_free(cpu);
            goto fail;
        }
    if (s) {
        if (s->max_blocks)
            cpu->budget = s->max_blocks;
        if (s->rcap && s->rcap < cpu->rcap)
            cpu->rcap = s->rcap;
        for (size_t i = 0; i < s->nregs && i < IR_NREGS; i++)
            cpu->r[i] = s->regs[i];
    }
    diag_free(&d);
    return 0;
fail:
    fprintf(stderr, "native_cpu_setup: %s", diag_text(&d));
    diag_free(&d);
    return -1;
}

static int diff_u64(const char *what, uint64_t want, uint64_t got, int *n)
{
    if (want == got)
        return 0;
    if ((*n)++ < 8)
        fprintf(stderr, "  %s: interp 0x%016" PRIx64 ", native 0x%016" PRIx64
                "\n", what, want, got);
    return 1;
}

static int compare_cpus(const aotb_cpu *a, const aotb_cpu *b)
{
    int n = 0;
    char name[32];
    diff_u64("status", a->status, b->status, &n);
    diff_u64("pc", a->pc, b->pc, &n);
    diff_u64("info", a->info, b->info, &n);
    diff_u64("budget", a->budget, b->budget, &n);
    diff_u64("rsp", a->rsp, b->rsp, &n);
    for (unsigned i = 0; i < IR_NREGS; i++) {
        snprintf(name, sizeof name, "r%u", i);
        diff_u64(name, a->r[i], b->r[i], &n);
    }
    for (uint64_t i = 0; i < a->rsp && i < b->rsp && i < a->rcap; i++) {
        snprintf(name, sizeof name, "rstack[%" PRIu64 "]", i);
        diff_u64(name, a->rstack[i], b->rstack[i], &n);
    }
    if (memcmp(a->mem, b->mem, (size_t)a->memsize) != 0) {
        for (uint64_t i = 0; i < a->memsize; i++)
            if (a->mem[i] != b->mem[i]) {
                snprintf(name, sizeof name, "mem[0x%" PRIx64 "]", i);
                diff_u64(name, a->mem[i], b->mem[i], &n);
            }
    }
    return n ? -1 : 0;
}

int native_compare(const ir_program *p, const native_setup *setup,
                   aotb_cpu *out)
{
    uint64_t entry = 0;
    native_prog np;
    aotb_cpu ci, cn;
    if (!ir_program_entry(p, &entry)) {
        fprintf(stderr, "native_compare: program has no entry\n");
        return -1;
    }
    cg_options o = { .fold_max_ops = setup ? setup->fold : 0 };
    if (native_build_opts(p, &o, &np) != 0)
        return -1;
    if (native_cpu_setup(p, setup, &ci) != 0) {
        native_free(&np);
        return -1;
    }
    if (native_cpu_setup(p, setup, &cn) != 0) {
        cpu_free(&ci);
        native_free(&np);
        return -1;
    }
    interp_run(p, &ci, entry);
    native_run(&np, &cn, entry);
    int rc = compare_cpus(&ci, &cn);
    if (rc != 0) {
        buf t = {0};
        ir_print_program(p, &t);
        fprintf(stderr, "native and interpreter differ on:\n%.*s\n",
                (int)t.len, t.data ? (const char *)t.data : "");
        buf_free(&t);
    }
    cpu_free(&ci);
    if (out)
        *out = cn;
    else
        cpu_free(&cn);
    native_free(&np);
    return rc;
}

int native_compare_text(const char *text, const native_setup *setup,
                        aotb_cpu *out)
{
    ir_program p;
    aotb_diag d = {0};
    if (ir_parse("test.vir", text, strlen(text), &p, &d) != 0) {
        fprintf(stderr, "native_compare_text: %s", diag_text(&d));
        diag_free(&d);
        return -1;
    }
    diag_free(&d);
    int rc = native_compare(&p, setup, out);
    ir_program_free(&p);
    return rc;
}
