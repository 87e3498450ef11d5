/* cmd_diff.c: "aotb diff OLD.aot|OLD.vir PROG.vir": what a build would
 * see.  Against an image it is the builder's own classification (IR hashes
 * from the image's index, the compiler fingerprint, folded-block
 * dependencies); between two programs it compares their IR hashes.
 * Output: one line per block and a totals line, --json for tools, or --dot
 * for a Graphviz picture of the new program's control-flow graph with
 * added / modified / removed blocks coloured. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "aotb/builder.h"
#include "changes.h"
#include "cli.h"
#include "ir.h"

static const char *const CMD = "diff";

typedef struct diffset {
    aotb_block_change *v;
    size_t n;
    aotb_build_stats st;
} diffset;

static const char *kind_name(int k)
{
    return change_kind_name((change_kind)k);
}

static const char *why_name(int w)
{
    switch (w) {
    case AOTB_WHY_IR: return "ir";
    case AOTB_WHY_DEPENDENCY: return "dependency";
    case AOTB_WHY_FINGERPRINT: return "fingerprint";
    case AOTB_WHY_NO_DETECT: return "no-detect";
    default: return NULL;
    }
}

/* OLD is read as an image when it starts with the ELF magic or its name
 * ends in ".aot" (so a damaged or empty image is reported as an image, not
 * as a program without blocks). */
static int is_image(const char *path)
{
    size_t pl = strlen(path);
    if (pl >= 4 && strcmp(path + pl - 4, ".aot") == 0)
        return 1;
    FILE *f = fopen(path, "rb");
    char m[4] = {0};
    if (!f)
        return 0;
    size_t n = fread(m, 1, 4, f);
    fclose(f);
    return n == 4 && memcmp(m, "\177ELF", 4) == 0;
}

static void hex16(const uint8_t h[16], char out[33])
{
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

/* OLD.aot: the builder's classification. */
static int diff_image(const char *old, const char *prog, unsigned fold,
                      diffset *ds, char **err)
{
    aotb_builder *b = NULL;
    aotb_build_config cfg;
    aotb_build_config_init(&cfg);
    cfg.fold_max_ops = fold;
    int rc = -1;
    if (aotb_builder_new(&cfg, &b, err) == 0 &&
        aotb_builder_load_image(b, old, err) == 0 &&
        aotb_builder_set_program_file(b, prog, err) == 0 &&
        aotb_builder_detect_changes(b, err) == 0) {
        ds->n = aotb_builder_change_count(b);
        ds->v = calloc(ds->n ? ds->n : 1, sizeof *ds->v);
        if (ds->v) {
            for (size_t i = 0; i < ds->n; i++)
                aotb_builder_change(b, i, &ds->v[i]);
            aotb_builder_stats(b, &ds->st);
            rc = 0;
        } else if (err) {
            *err = strdup("aotb diff: out of memory");
        }
    }
    aotb_builder_free(b);
    return rc;
}

static void put_hash(ir_hash h, uint8_t out[16])
{
    for (int i = 0; i < 8; i++) {
        out[i] = (uint8_t)(h.hi >> (56 - 8 * i));
        out[8 + i] = (uint8_t)(h.lo >> (56 - 8 * i));
    }
}

/* OLD.vir: IR hashes of both programs. */
static int diff_programs(const ir_program *o, const ir_program *p,
                         diffset *ds, aotb_diag *d)
{
    size_t no, np;
    block_hash *ho = changes_hash_program(o, &no);
    block_hash *hp = changes_hash_program(p, &np);
    change_set cs;
    int rc = -1;
    if ((ho || !o->nblocks) && (hp || !p->nblocks) &&
        changes_classify(ho, no, hp, np, &cs, d) == 0) {
        ds->n = cs.n;
        ds->v = calloc(cs.n ? cs.n : 1, sizeof *ds->v);
        if (ds->v) {
            for (size_t i = 0; i < cs.n; i++) {
                const block_change *c = &cs.items[i];
                aotb_block_change *x = &ds->v[i];
                x->pc = c->pc;
                x->kind = (int)c->kind;
                x->why = c->kind == CHANGE_MODIFIED ? AOTB_WHY_IR
                                                    : AOTB_WHY_NONE;
                if (c->kind != CHANGE_ADDED)
                    put_hash(c->old_hash, x->old_hash);
                if (c->kind != CHANGE_REMOVED)
                    put_hash(c->new_hash, x->new_hash);
            }
            ds->st.added = cs.stats.added;
            ds->st.modified = cs.stats.modified;
            ds->st.removed = cs.stats.removed;
            ds->st.unchanged = cs.stats.unchanged;
            rc = 0;
        } else {
            diag_add(d, "aotb diff: out of memory");
        }
        changes_free(&cs);
    } else if (!d->count) {
        diag_add(d, "aotb diff: out of memory");
    }
    free(ho);
    free(hp);
    return rc;
}

static void print_text(const diffset *ds)
{
    for (size_t i = 0; i < ds->n; i++) {
        const aotb_block_change *c = &ds->v[i];
        const char *w = why_name(c->why);
        printf("0x%016" PRIx64 " %s", c->pc, kind_name(c->kind));
        if (w && c->why != AOTB_WHY_IR)
            printf(" (%s)", w);
        putchar('\n');
    }
    const aotb_build_stats *s = &ds->st;
    printf("added %zu, modified %zu (dependency %zu), removed %zu, "
           "unchanged %zu\n", s->added, s->modified, s->modified_dependency,
           s->removed, s->unchanged);
}

static void print_json(const diffset *ds)
{
    const aotb_build_stats *s = &ds->st;
    printf("{\"added\":%zu,\"modified\":%zu,\"modified_dependency\":%zu,"
           "\"removed\":%zu,\"unchanged\":%zu,\"blocks\":[",
           s->added, s->modified, s->modified_dependency, s->removed,
           s->unchanged);
    for (size_t i = 0; i < ds->n; i++) {
        const aotb_block_change *c = &ds->v[i];
        char oh[33], nh[33];
        hex16(c->old_hash, oh);
        hex16(c->new_hash, nh);
        printf("%s{\"pc\":\"0x%016" PRIx64 "\",\"change\":\"%s\",", i ? "," : "",
               c->pc, kind_name(c->kind));
        if (c->kind == AOTB_ADDED)
            printf("\"old_hash\":null,");
        else
            printf("\"old_hash\":\"%s\",", oh);
        if (c->kind == AOTB_REMOVED)
            printf("\"new_hash\":null");
        else
            printf("\"new_hash\":\"%s\"", nh);
        if (why_name(c->why))
            printf(",\"reason\":\"%s\"", why_name(c->why));
        putchar('}');
    }
    printf("]}\n");
}

static const aotb_block_change *find(const diffset *ds, uint64_t pc)
{
    size_t lo = 0, hi = ds->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ds->v[mid].pc == pc)
            return &ds->v[mid];
        if (ds->v[mid].pc < pc)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static void edge(uint64_t from, uint64_t to, const char *style)
{
    printf("  b%" PRIx64 " -> b%" PRIx64 "%s;\n", from, to, style);
}

/* Graphviz: the new program's blocks and edges, plus the removed blocks. */
static void print_dot(const diffset *ds, const ir_program *p)
{
    printf("digraph aotb_diff {\n  node [shape=box, style=filled, "
           "fontname=monospace, fillcolor=white];\n");
    for (size_t i = 0; i < ds->n; i++) {
        const aotb_block_change *c = &ds->v[i];
        static const char *const fill[] = {"white", "palegreen", "orange",
                                           "lightcoral"};
        /* Modified for another reason than its own IR: say why, and a
         * lighter colour for a block recompiled because of a folded one. */
        const char *why = c->kind == AOTB_MODIFIED && c->why != AOTB_WHY_IR
                          ? why_name(c->why) : NULL;
        printf("  b%" PRIx64 " [label=\"0x%" PRIx64 "\\n%s%s%s%s\", "
               "fillcolor=%s%s];\n",
               c->pc, c->pc, kind_name(c->kind), why ? "\\n(" : "",
               why ? why : "", why ? ")" : "",
               c->why == AOTB_WHY_DEPENDENCY ? "gold" : fill[c->kind & 3],
               c->kind == AOTB_REMOVED ? ", style=\"filled,dashed\"" : "");
    }
    for (size_t i = 0; i < p->nblocks; i++) {
        const ir_block *b = &p->blocks[p->by_pc[i]];
        const ir_term *t = &b->term;
        switch (t->kind) {
        case IR_T_JMP:
            edge(b->pc, t->target, "");
            break;
        case IR_T_CONDJMP:
            edge(b->pc, t->target, " [label=T]");
            edge(b->pc, t->other, " [label=F]");
            break;
        case IR_T_CALL:
            edge(b->pc, t->target, " [label=call]");
            edge(b->pc, t->other, " [style=dashed, label=return]");
            break;
        case IR_T_INTERRUPT:
            if (t->has_resume)
                edge(b->pc, t->other, " [style=dashed, label=resume]");
            break;
        default:
            break;
        }
        /* Targets with no block: a point node so the edge has an end. */
        uint64_t tg[2] = {t->target, t->other};
        int nt = t->kind == IR_T_JMP ? 1
                 : t->kind == IR_T_CONDJMP || t->kind == IR_T_CALL ? 2 : 0;
        for (int k = 0; k < nt; k++)
            if (!find(ds, tg[k]))
                printf("  b%" PRIx64 " [label=\"0x%" PRIx64 "\\nno block\", "
                       "style=dotted];\n", tg[k], tg[k]);
    }
    printf("}\n");
}

int cmd_diff(int argc, char **argv)
{
    const char *files[2] = {NULL, NULL};
    int json = 0, dot = 0, only_files = 0, nfiles = 0;
    unsigned fold = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_files && strcmp(a, "--") == 0) {
            only_files = 1;
        } else if (!only_files && strcmp(a, "--fold") == 0) {
            char *end;
            unsigned long v = i + 1 < argc ? strtoul(argv[i + 1], &end, 10)
                                           : 0;
            if (i + 1 >= argc || !*argv[i + 1] || *end || v > 1000)
                return cli_usage_error(CMD, "--fold needs a number from 0 "
                                       "to 1000");
            fold = (unsigned)v;
            i++;
        }
        else if (!only_files && strcmp(a, "--json") == 0)
            json = 1;
        else if (!only_files && strcmp(a, "--dot") == 0)
            dot = 1;
        else if (!only_files && a[0] == '-' && a[1] != '\0')
            return cli_usage_error(CMD, "unknown option '%s'", a);
        else if (nfiles == 2)
            return cli_usage_error(CMD, "too many files: '%s'", a);
        else
            files[nfiles++] = a;
    }
    if (nfiles != 2)
        return cli_usage_error(CMD, "needs OLD.aot or OLD.vir, then PROG.vir");
    if (json && dot)
        return cli_usage_error(CMD, "--json and --dot exclude each other");

    aotb_diag d = {0};
    diffset ds;
    memset(&ds, 0, sizeof ds);
    ir_program o, p;
    int have_o = 0, have_p = 0, rc = EXIT_BADINPUT;
    char *err = NULL;
    if (is_image(files[0])) {
        if (diff_image(files[0], files[1], fold, &ds, &err) != 0)
            goto out;
    } else {
        have_o = ir_parse_file(files[0], &o, &d) == 0;
        if (!have_o)
            goto out;
    }
    have_p = ir_parse_file(files[1], &p, &d) == 0;
    if (!have_p)
        goto out;
    if (have_o && diff_programs(&o, &p, &ds, &d) != 0)
        goto out;
    ds.st.total_changes = ds.st.added + ds.st.modified + ds.st.removed;
    if (dot)
        print_dot(&ds, &p);
    else if (json)
        print_json(&ds);
    else
        print_text(&ds);
    rc = fflush(stdout) == 0 ? 0 : EXIT_BADINPUT;
out:
    if (err)
        fprintf(stderr, "%s\n", err);
    aotb_error_free(err);
    cli_print_diag(&d);
    diag_free(&d);
    if (have_o)
        ir_program_free(&o);
    if (have_p)
        ir_program_free(&p);
    free(ds.v);
    return rc;
}
