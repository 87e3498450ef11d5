/* image_compact.c: rewrites an image into the canonical layout, the one a
 * full link of the same blocks gives (chunks packed to img_chunk_target,
 * 16 KiB for most programs, in pc order, every chunk compressed afresh at
 * the given zstd level).  Incremental links keep old chunks as they are,
 * so after many updates an image can hold more, smaller chunks than
 * needed; compaction merges them.  The blocks, their code, relocations,
 * dependency records, data, entry and fingerprint are carried over
 * unchanged, so the image runs identically. */
#include "image.h"

#include <stdlib.h>
#include <string.h>

int img_compact(const img_image *img, int level, buf *out, aotb_diag *d)
{
    size_t n = (size_t)img->nblocks + 1;
    obj_file *objs = xcalloc(n, sizeof *objs);
    const char **names = xcalloc(n, sizeof *names);
    uint8_t *chunk = NULL;
    int rc = -1;
    if (!objs || !names) {
        diag_add(d, "%s: out of memory", img->name);
        goto out;
    }
    for (uint32_t i = 0; i < img->nblocks; i++) {
        const img_block *b = &img->blocks[i];
        obj_file *o = &objs[i];
        names[i] = img->name;
        if (!chunk || i == img->chunks[b->chunk].first_block) {
            free(chunk);
            chunk = NULL;
            if (img_chunk_decompress(img, b->chunk, &chunk, d) != 0)
                goto out;
        }
        cg_code c;
        if (img_block_code(img, i, chunk, &c, d) != 0)
            goto out;
        o->kind = OBJ_BLOCK;
        memcpy(o->fingerprint, img->fingerprint, IMG_FP_SIZE);
        o->features = img->features;
        o->pc = b->pc;
        o->hash = b->hash;
        o->code = c.code.data;
        o->code_len = c.code.len;
        o->relocs = c.relocs;
        o->nrelocs = c.nrelocs;
        c.code.data = NULL;
        c.relocs = NULL;
        cg_code_free(&c);
        if (b->dep_count) {
            o->deps = xcalloc(b->dep_count, sizeof *o->deps);
            if (!o->deps) {
                diag_add(d, "%s: out of memory", img->name);
                goto out;
            }
            o->ndeps = b->dep_count;
            for (uint32_t k = 0; k < b->dep_count; k++) {
                o->deps[k].pc = img->deps[b->dep_first + k].dep_pc;
                o->deps[k].hash = img->deps[b->dep_first + k].dep_hash;
            }
        }
    }
    obj_file *m = &objs[n - 1];
    names[n - 1] = img->name;
    m->kind = OBJ_META;
    memcpy(m->fingerprint, img->fingerprint, IMG_FP_SIZE);
    m->features = img->features;
    m->entry = img->entry;
    m->has_entry = img->has_entry;
    m->memsize = img->memsize;
    m->data = img->datas;
    m->ndata = img->ndata;
    img_link_opts o;
    memset(&o, 0, sizeof o);
    o.zstd_level = level;
    rc = img_link_ex(objs, names, n, &o, NULL, out, d);
out:
    free(chunk);
    for (size_t i = 0; objs && i + 1 < n; i++) {
        free(objs[i].code);
        free(objs[i].relocs);
        free(objs[i].deps);
    }
    free(objs);
    free(names);
    return rc;
}
