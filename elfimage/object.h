/* object.h: per-block ELF relocatable objects (ET_REL, EM_X86_64), written
 * and read with libelf.  Two kinds:
 *   block object  .text (code), .rela.text, .symtab with the global
 *                 FUNC symbol aotb_blk_<pc> and undefined symbols for its
 *                 targets, and .aotb.note (an ELF-note-formatted record in a
 *                 SHT_PROGBITS section: pc, IR hash, fingerprint,
 *                 required CPU features, pcs + hashes of folded blocks);
 *   meta object   the program's top level: .aotb.meta (entry, memory size)
 *                 and .aotb.data (data segments), plus the same note fields.
 * Output is a pure function of the input: no timestamps, no pointers, no
 * uninitialised padding. */
#ifndef AOTB_OBJECT_H
#define AOTB_OBJECT_H

#include <stddef.h>
#include <stdint.h>

#include "codegen.h"
#include "ir.h"
#include "util.h"

/* The exact layout (sections, note descriptor, meta and data sections) is
 * described at the top of object.c.  Objects of another version are refused
 * with "NAME: object format version N is not supported (expected 1);
 * recompile". */
#define OBJ_FORMAT_VERSION 1
#define OBJ_NOTE_TYPE 1             /* n_type of the "aotb" note */

typedef enum obj_kind { OBJ_BLOCK, OBJ_META } obj_kind;

typedef struct obj_dep {
    uint64_t pc;
    ir_hash hash;
} obj_dep;

typedef struct obj_file {
    obj_kind kind;
    char fingerprint[256];
    uint32_t features;          /* CG_FEAT_* the code needs */
    /* OBJ_BLOCK */
    uint64_t pc;
    ir_hash hash;               /* IR hash of the block itself */
    uint8_t *code;
    size_t code_len;
    cg_reloc *relocs;
    size_t nrelocs;
    obj_dep *deps;              /* blocks folded into this one */
    size_t ndeps;
    /* OBJ_META */
    uint64_t entry;
    int has_entry;              /* 0: the program has no blocks and no entry */
    uint64_t memsize;
    ir_data *data;
    size_t ndata;
} obj_file;

/* Serialises a compiled block as an ELF object into out.  0 or -1 + msg. */
int obj_build_block(const cg_code *c, ir_hash hash, const obj_dep *deps,
                    size_t ndeps, const char *fingerprint, uint32_t features,
                    buf *out, aotb_diag *d);
/* Serialises a program's entry, memory size and data segments. */
int obj_build_meta(const ir_program *p, const char *fingerprint,
                   buf *out, aotb_diag *d);
/* Serialises the runtime stubs (cg_compile_runtime) as an object defining
 * the global functions aotb_rt_enter / _exit / _lookup, so that block objects
 * can be linked with a standard linker (GNU ld).  obj_read refuses it: it is
 * neither a block nor a meta object. */
int obj_build_runtime(const cg_code *c, const char *fingerprint,
                      uint32_t features, buf *out, aotb_diag *d);
/* Parses an object written by obj_build_block / obj_build_meta; name is
 * used in messages.
 * Malformed input of any kind gives -1 + message, never a crash. */
int obj_read(const char *name, const uint8_t *data, size_t len, obj_file *out,
             aotb_diag *d);
void obj_free(obj_file *o);

#endif
