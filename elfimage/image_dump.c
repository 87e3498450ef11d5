/* image_dump.c: aotb dump.  Describes a parsed image (header, sections,
 * blocks, missing stubs, data) or a per-block object, and optionally
 * disassembles code with binutils' objdump on a temporary file. */
#include "image.h"

#include <elf.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void hex(FILE *out, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%02x", p[i]);
}

static const char *reloc_type(uint32_t t)
{
    return t == R_X86_64_PC32 ? "R_X86_64_PC32"
           : t == R_X86_64_PLT32 ? "R_X86_64_PLT32" : "?";
}

static void print_reloc(FILE *out, const cg_reloc *r)
{
    static const char *const rt[CG_RT_NUM] = {CG_SYM_ENTER, CG_SYM_EXIT,
                                              CG_SYM_LOOKUP};
    char sym[40];
    if (r->kind == CG_TGT_BLOCK)
        img_block_sym(r->target, sym, sizeof sym);
    else
        snprintf(sym, sizeof sym, "%s",
                 r->target < CG_RT_NUM ? rt[r->target] : "?");
    fprintf(out, "    %08" PRIx32 " %-15s %s%+" PRId64 "\n", r->offset,
            reloc_type(r->type), sym, r->addend);
}

static int have_objdump(void)
{
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/bin:/bin";
    while (*path) {
        const char *e = strchr(path, ':');
        size_t n = e ? (size_t)(e - path) : strlen(path);
        char full[4096];
        if (n > 0 && n < sizeof full - 9) {
            memcpy(full, path, n);
            memcpy(full + n, "/objdump", 9);
            if (access(full, X_OK) == 0)
                return 1;
        }
        path += n + (e != NULL);
    }
    return 0;
}

/* Disassembles code as if loaded at vma; objdump's output (minus its file
 * header) goes to out. */
static int disasm(FILE *out, const uint8_t *code, size_t len, uint64_t vma,
                  aotb_diag *d)
{
    if (!have_objdump()) {
        fprintf(out, "    (objdump not found: install binutils to "
                     "disassemble)\n");
        return 0;
    }
    const char *tmp = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/aotb-disasm-XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0) {
        diag_add(d, "%s: cannot create a temporary file", path);
        return -1;
    }
    int rc = -1;
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, code + done, len - done);
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    close(fd);
    if (done != len) {
        diag_add(d, "%s: write failed", path);
        goto out;
    }
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "objdump -D -b binary -mi386:x86-64 "
             "--adjust-vma=0x%" PRIx64 " '%s' 2>&1", vma, path);
    fflush(out);
    FILE *p = popen(cmd, "r");
    if (!p) {
        diag_add(d, "cannot run objdump");
        goto out;
    }
    char line[512];
    int body = 0;
    while (fgets(line, sizeof line, p)) {
        if (!body) {                  /* skip up to "<.data>:" */
            body = strstr(line, "<.data>:") != NULL;
            continue;
        }
        fprintf(out, "  %s", line);
    }
    rc = pclose(p) == 0 ? 0 : -1;
    if (rc != 0)
        diag_add(d, "objdump failed");
out:
    unlink(path);
    return rc;
}

static const char *sec_type(uint32_t t)
{
    switch (t) {
    case SHT_NULL: return "NULL";
    case SHT_PROGBITS: return "PROGBITS";
    case SHT_SYMTAB: return "SYMTAB";
    case SHT_STRTAB: return "STRTAB";
    case SHT_RELA: return "RELA";
    default: return "?";
    }
}

int img_dump(FILE *out, const img_image *img, int dis, aotb_diag *d)
{
    char feats[128];
    cg_feature_names(img->features, feats, sizeof feats);
    fprintf(out, "image: %s\n", img->name);
    fprintf(out, "format version: %" PRIu32 "\n", img->version);
    fprintf(out, "fingerprint: %s\n", img->fingerprint);
    fprintf(out, "cpu features: %s\n", feats);
    if (img->has_entry)
        fprintf(out, "entry: 0x%016" PRIx64 "\n", img->entry);
    else
        fprintf(out, "entry: none\n");
    fprintf(out, "memory: 0x%" PRIx64 "\n", img->memsize);
    fprintf(out, "blocks: %" PRIu32 "\nchunks: %" PRIu32
                 "\nmissing stubs: %" PRIu32 "\ndata segments: %zu\n",
            img->nblocks, img->nchunks, img->nmissing, img->ndata);
    fprintf(out, "root checksum: ");
    hex(out, img->root, IMG_SUM_SIZE);
    fprintf(out, "\n\nsections:\n  [Nr] %-24s %-8s %-5s %10s %10s\n", "name",
            "type", "flags", "offset", "size");
    for (uint32_t i = 1; i < img->nsecs; i++) {
        const img_section *s = &img->secs[i];
        char fl[8] = "";
        size_t n = 0;
        if (s->flags & SHF_EXECINSTR)
            fl[n++] = 'X';
        if (s->flags & SHF_INFO_LINK)
            fl[n++] = 'I';
        if (s->flags & SHF_COMPRESSED)
            fl[n++] = 'C';
        fprintf(out, "  [%2" PRIu32 "] %-24s %-8s %-5s 0x%08" PRIx64
                     " 0x%08" PRIx64 "\n",
                i, s->name, sec_type(s->type), fl, s->offset, s->size);
    }
    for (uint32_t c = 0; c < img->nchunks; c++)
        fprintf(out, "  chunk %" PRIu32 ": %zu bytes compressed, %" PRIu64
                     " uncompressed, %" PRIu32 " blocks, %" PRIu32
                     " relocations\n",
                c, img->chunks[c].zsize, img->chunks[c].size,
                img->chunks[c].nblocks, img->chunks[c].nrelas);
    fprintf(out, "\nblocks:\n  %-18s %6s %5s %8s %6s  %s\n", "pc", "size",
            "chunk", "offset", "relocs", "ir-hash");
    for (uint32_t i = 0; i < img->nblocks; i++) {
        const img_block *b = &img->blocks[i];
        char h[33];
        ir_hash_hex(b->hash, h);
        fprintf(out, "  0x%016" PRIx64 " %6" PRIu32 " %5" PRIu32 " %8" PRIu32
                     " %6" PRIu32 "  %s\n",
                b->pc, b->size, b->chunk, b->offset, b->reloc_count, h);
    }
    if (img->nmissing) {
        fprintf(out, "\nmissing stubs (targets with no block):\n");
        for (uint32_t i = 0; i < img->nmissing; i++)
            fprintf(out, "  0x%016" PRIx64 " %6" PRIu32 "\n",
                    img->missing[i].pc, img->missing[i].size);
    }
    if (img->ndata) {
        fprintf(out, "\ndata segments:\n");
        for (size_t i = 0; i < img->ndata; i++)
            fprintf(out, "  0x%016" PRIx64 " %" PRIu64 " bytes\n",
                    img->datas[i].addr, img->datas[i].len);
    }
    if (!dis)
        return 0;
    for (uint32_t c = 0; c < img->nchunks; c++) {
        uint8_t *p;
        if (img_chunk_decompress(img, c, &p, d) != 0)
            return -1;
        const img_chunk *ch = &img->chunks[c];
        int rc = 0;
        for (uint32_t i = ch->first_block;
             rc == 0 && i < ch->first_block + ch->nblocks; i++) {
            cg_code code;
            rc = img_block_code(img, i, p, &code, d);
            if (rc != 0)
                break;
            fprintf(out, "\nblock 0x%016" PRIx64 " (chunk %" PRIu32
                         ", offset 0x%" PRIx32 "):\n",
                    code.pc, c, img->blocks[i].offset);
            rc = disasm(out, code.code.data, code.code.len,
                        img->blocks[i].offset, d);
            for (size_t k = 0; rc == 0 && k < code.nrelocs; k++) {
                if (k == 0)
                    fprintf(out, "  relocations (offsets in the block):\n");
                print_reloc(out, &code.relocs[k]);
            }
            cg_code_free(&code);
        }
        free(p);
        if (rc != 0)
            return -1;
    }
    return 0;
}

int img_dump_object(FILE *out, const char *name, const obj_file *o, int dis,
                    aotb_diag *d)
{
    char feats[128], h[33];
    cg_feature_names(o->features, feats, sizeof feats);
    fprintf(out, "object: %s\nkind: %s\nfingerprint: %s\ncpu features: %s\n",
            name, o->kind == OBJ_META ? "meta" : "block", o->fingerprint,
            feats);
    if (o->kind == OBJ_META) {
        if (o->has_entry)
            fprintf(out, "entry: 0x%016" PRIx64 "\n", o->entry);
        else
            fprintf(out, "entry: none\n");
        fprintf(out, "memory: 0x%" PRIx64 "\ndata segments: %zu\n",
                o->memsize, o->ndata);
        for (size_t i = 0; i < o->ndata; i++)
            fprintf(out, "  0x%016" PRIx64 " %" PRIu64 " bytes\n",
                    o->data[i].addr, o->data[i].len);
        return 0;
    }
    ir_hash_hex(o->hash, h);
    fprintf(out, "pc: 0x%016" PRIx64 "\nir hash: %s\ncode size: %zu\n", o->pc,
            h, o->code_len);
    for (size_t i = 0; i < o->ndeps; i++) {
        ir_hash_hex(o->deps[i].hash, h);
        fprintf(out, "folded block: 0x%016" PRIx64 " %s\n", o->deps[i].pc, h);
    }
    fprintf(out, "relocations: %zu\n", o->nrelocs);
    for (size_t i = 0; i < o->nrelocs; i++)
        print_reloc(out, &o->relocs[i]);
    if (dis) {
        fprintf(out, "\ncode:\n");
        return disasm(out, o->code, o->code_len, 0, d);
    }
    return 0;
}
