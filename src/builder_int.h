/* builder_int.h: internal to the incremental builder (builder.c: the API
 * and the change detection; builder_compile.c: the worker threads and the
 * copying of unchanged code; builder_program.c: in-memory programs). */
#ifndef AOTB_BUILDER_INT_H
#define AOTB_BUILDER_INT_H

#include "aotb/builder.h"
#include "changes.h"
#include "codegen.h"
#include "image.h"
#include "ir.h"
#include "object.h"

struct aotb_builder {
    aotb_build_config cfg;
    cg_options cgo;
    char fp[IMG_FP_SIZE];          /* this build's compiler fingerprint */
    uint32_t features;
    ir_program prog;
    int has_prog;
    /* The base image (aotb_builder_load_image). */
    file_view old_file;            /* its bytes (img_image points in) */
    char *old_name;
    img_image old;
    int has_old;
    /* detect_changes */
    change_set changes;
    uint8_t *why;                  /* AOTB_WHY_* per changes.items */
    int detected;
    /* compile: one object per block (pc order) and the meta object last */
    obj_file *objs;
    size_t nobjs;
    /* per object: the base image block it is (img_link_opts.from_old;
     * the object itself is then left zero and never read), or UINT32_MAX;
     * NULL: none */
    uint32_t *from_old;
    uint32_t *from_old_features;   /* with from_old: b->features each */
    int compiled;
    aotb_build_stats st;
};

/* builder_compile.c: fills b->objs (compiling or copying each block).
 * 0 or -1 + message. */
int bld_compile(aotb_builder *b, aotb_diag *d);
/* Frees b->objs. */
void bld_free_objs(aotb_builder *b);

/* builder_program.c: the .vir text of an in-memory program. */
const char *bld_program_text(const aotb_program *p, size_t *len);
/* Copies the messages of parsing that text (as file `name`) from in to out
 * with each "NAME:LINE:COL: error:" turned into "NAME: block 0xPC, op N:
 * error:" (or terminator, data segment N, entry, memory). */
void bld_program_locate(const char *name, const char *text, size_t len,
                        const aotb_diag *in, aotb_diag *out);

#endif
