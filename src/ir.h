/* ir.h: the in-memory form of a .vir program (see man/aotb-ir.5), its parser,
 * canonical printer, canonical binary encoding and 128-bit block hash. */
#ifndef AOTB_IR_H
#define AOTB_IR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define IR_NREGS 256
#define IR_DEFAULT_MEMORY 0x100000u
#define IR_RSTACK_ENTRIES 65536u   /* return stack capacity (contract minimum) */

/* X-macro of every op: name, mnemonic, operand shape.
 * Shapes: DAB  d, a, b      DA   d, a      DAI  d, a, imm     DI  d, imm
 *         DAS  d, a, sh     DCAB d, c, a, b  LOAD / STORE  see below
 *         NONE (nop)
 * Keep the order stable: the enum value is part of the canonical encoding. */
#define IR_OPS(X)                         \
    X(NOP, "nop", NONE)                   \
    X(ADD, "add", DAB)                    \
    X(SUB, "sub", DAB)                    \
    X(MUL, "mul", DAB)                    \
    X(AND, "and", DAB)                    \
    X(OR, "or", DAB)                      \
    X(XOR, "xor", DAB)                    \
    X(DIVS, "divs", DAB)                  \
    X(DIVU, "divu", DAB)                  \
    X(REMS, "rems", DAB)                  \
    X(REMU, "remu", DAB)                  \
    X(NOT, "not", DA)                     \
    X(SLL, "sll", DAB)                    \
    X(SRL, "srl", DAB)                    \
    X(SRA, "sra", DAB)                    \
    X(ADDI, "addi", DAI)                  \
    X(MULI, "muli", DAI)                  \
    X(MOV, "mov", DA)                     \
    X(MOVI, "movi", DI)                   \
    X(SLLI, "slli", DAS)                  \
    X(SRLI, "srli", DAS)                  \
    X(SRAI, "srai", DAS)                  \
    X(CMPEQ, "cmpeq", DAB)                \
    X(CMPNE, "cmpne", DAB)                \
    X(CMPLT, "cmplt", DAB)                \
    X(CMPLTU, "cmpltu", DAB)              \
    X(CMPGE, "cmpge", DAB)                \
    X(CMPGEU, "cmpgeu", DAB)              \
    X(SELECT, "select", DCAB)             \
    X(LOAD, "load", LOAD)                 \
    X(STORE, "store", STORE)

typedef enum ir_opcode {
#define X(name, mn, shape) IR_##name,
    IR_OPS(X)
#undef X
    IR_NUM_OPS
} ir_opcode;

typedef enum ir_shape {
    IR_SHAPE_NONE, IR_SHAPE_DAB, IR_SHAPE_DA, IR_SHAPE_DAI, IR_SHAPE_DI,
    IR_SHAPE_DAS, IR_SHAPE_DCAB, IR_SHAPE_LOAD, IR_SHAPE_STORE
} ir_shape;

/* Memory access types.  Canonical: s64 is stored as U64; store's s forms are
 * stored as the u forms. */
typedef enum ir_memtype {
    IR_U8, IR_S8, IR_U16, IR_S16, IR_U32, IR_S32, IR_U64, IR_NUM_MEMTYPES
} ir_memtype;

/* One op.  Unused fields are always 0 so that the encoding is canonical.
 *   DAB:   d = a OP b          DA: d = OP a      DAI: d = a OP imm
 *   DI:    d = imm             DAS: d = a shift imm (0..63)
 *   DCAB:  d = c ? a : b       (select)
 *   LOAD:  d = mem[a + imm] as mt      STORE: mem[a + imm] = b as mt   */
typedef struct ir_op {
    uint8_t op;        /* ir_opcode */
    uint8_t d, a, b, c;
    uint8_t mt;        /* ir_memtype, LOAD/STORE only */
    uint64_t imm;
    uint32_t line, col; /* source position of the mnemonic (not hashed) */
} ir_op;

typedef enum ir_termkind {
    IR_T_RET, IR_T_JMP, IR_T_JMPREG, IR_T_CONDJMP, IR_T_CALL, IR_T_FAULT,
    IR_T_INTERRUPT
} ir_termkind;

/* The terminator.  Unused fields are 0.
 *   RET                        JMP       target = T
 *   JMPREG   reg = a, imm      CONDJMP   reg = c, target = T, other = F
 *   CALL     target = T, other = R (return address)
 *   FAULT    imm = cause
 *   INTERRUPT imm = V; has_resume and other = R if given */
typedef struct ir_term {
    uint8_t kind;      /* ir_termkind */
    uint8_t reg;
    uint8_t has_resume;
    uint64_t imm;
    uint64_t target, other;
    uint32_t line, col;
} ir_term;

typedef struct ir_block {
    uint64_t pc;
    ir_op *ops;
    uint32_t nops;
    ir_term term;
    uint32_t line;     /* line of "block PC {" */
} ir_block;

typedef struct ir_data {
    uint64_t addr;
    uint8_t *bytes;
    uint64_t len;
    uint32_t line;
} ir_data;

typedef struct ir_program {
    char *file;              /* name used in diagnostics */
    ir_block *blocks;        /* in file order */
    size_t nblocks;
    ir_data *data;           /* in file order */
    size_t ndata;
    uint64_t entry;          /* valid when has_entry or nblocks > 0 */
    bool has_entry;          /* "entry" statement present */
    uint64_t memsize;        /* IR_DEFAULT_MEMORY unless "memory" given */
    bool has_memory;
    uint32_t *by_pc;         /* block indices sorted by pc (built by ir_parse
                                or ir_program_index) */
} ir_program;

extern const char *const ir_op_names[IR_NUM_OPS];
extern const uint8_t ir_op_shapes[IR_NUM_OPS];    /* ir_shape */
extern const char *const ir_memtype_names[IR_NUM_MEMTYPES];
unsigned ir_memtype_size(unsigned mt);             /* 1, 2, 4 or 8 */

/* Scans a number with the IR's lexical rules: optional '-', decimal or 0x
 * hex, '_' between digits.  Exactly len characters must form the number.
 * Returns 0 with *neg and the magnitude *mag, -1 if malformed, -2 if the
 * magnitude exceeds 2^64-1. */
int ir_scan_number(const char *s, size_t len, bool *neg, uint64_t *mag);
/* A whole string as a 64-bit value: -2^63 .. 2^64-1 (negatives wrap to
 * their two's complement).  0 or -1. */
int ir_number_u64(const char *s, uint64_t *out);

/* Parses .vir text (text[len] need not be NUL).  Every error goes to d as
 * "FILE:LINE:COL: error: MESSAGE"; parsing goes on after an error where it
 * can, so several are reported.  Returns 0 and fills *out, or -1 (out is then
 * empty and needs no freeing). */
int ir_parse(const char *file, const char *text, size_t len, ir_program *out,
             aotb_diag *d);
/* Reads and parses a file ("-" is standard input). */
int ir_parse_file(const char *path, ir_program *out, aotb_diag *d);

/* Flags for the _ex forms. */
#define IR_PARSE_NO_BLOCKS_OK 1u   /* top-level statements only (meta.vir) */
int ir_parse_ex(const char *file, const char *text, size_t len,
                unsigned flags, ir_program *out, aotb_diag *d);
int ir_parse_file_ex(const char *path, unsigned flags, ir_program *out,
                     aotb_diag *d);
void ir_program_free(ir_program *p);

/* The entry pc: "entry" if given, else the first block's pc.  Returns false
 * when the program has neither. */
bool ir_program_entry(const ir_program *p, uint64_t *pc);

/* (Re)builds p->by_pc after blocks were added or changed in memory; fails
 * (-1 + message) on duplicate pcs.  ir_parse calls it. */
int ir_program_index(ir_program *p, aotb_diag *d);
/* Finds a block by pc in O(log n) using by_pc; NULL if none. */
const ir_block *ir_program_find(const ir_program *p, uint64_t pc);

/* Canonical text.  ir_print_program: top-level statements (entry, memory,
 * data) then blocks in ascending pc order.  ir_print_block: one block.
 * Parsing the output gives the same program. */
void ir_print_program(const ir_program *p, buf *out);
void ir_print_block(const ir_block *b, buf *out);

/* Canonical binary encoding of a block (version byte, pc, ops, terminator;
 * no positions).  Appends to out. */
void ir_encode_block(const ir_block *b, buf *out);

/* 128-bit block hash: XXH3-128 over ir_encode_block. */
typedef struct ir_hash {
    uint64_t hi, lo;
} ir_hash;
ir_hash ir_hash_block(const ir_block *b);
/* 32 lower-case hex digits + NUL. */
void ir_hash_hex(ir_hash h, char out[33]);
int ir_hash_parse(const char *hex, ir_hash *h);    /* 0 ok, -1 bad */
static inline bool ir_hash_eq(ir_hash a, ir_hash b)
{
    return a.hi == b.hi && a.lo == b.lo;
}

#endif
