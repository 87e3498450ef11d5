/* x86_emit.h: the x86-64 instruction emitter (in the style of QEMU's
 * tcg/i386 backend).  Every opcode is a constant whose high bits carry its
 * prefixes (P_*); one function, x86_enc, writes prefixes, REX, the 0x0f
 * escape, opcode, ModRM, SIB and displacement for all of them.  The code
 * generator never writes instruction bytes by hand: it picks an opcode
 * constant and operands.
 *
 * Instructions go into a cg_code (bytes + relocations), so a branch to a
 * symbol records its relocation in the same call that writes the
 * placeholder. */
#ifndef AOTB_X86_EMIT_H
#define AOTB_X86_EMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "codegen.h"

enum {
    X86_RAX, X86_RCX, X86_RDX, X86_RBX, X86_RSP, X86_RBP, X86_RSI, X86_RDI,
    X86_R8, X86_R9, X86_R10, X86_R11, X86_R12, X86_R13, X86_R14, X86_R15
};
#define X86_NOREG (-1)

/* Prefix flags, above the opcode byte. */
#define P_EXT     0x100    /* 0x0f escape */
#define P_DATA16  0x200    /* 0x66 operand size prefix */
#define P_REXW    0x400    /* REX.W: 64-bit operand */
#define P_REXB_R  0x800    /* reg field is a byte register: spl..dil need REX */
#define P_REXB_RM 0x1000   /* r/m field is a byte register */

/* Opcodes (Intel SDM operand notation: G = ModRM.reg, E = ModRM.r/m). */
#define OPC_ARITH_EvIz  0x81          /* group 1, /ext, imm32 */
#define OPC_ARITH_EvIb  0x83          /* group 1, /ext, imm8 sign-extended */
#define OPC_ARITH_GvEv  0x03          /* | ARITH_x << 3: G = G op E */
#define OPC_ARITH_EvGv  0x01          /* | ARITH_x << 3: E = E op G */
#define OPC_TEST_EvGv   0x85
#define OPC_MOVB_EvGv   0x88
#define OPC_MOVL_EvGv   0x89
#define OPC_MOVL_GvEv   0x8b
#define OPC_LEA         0x8d
#define OPC_MOVL_EvIz   0xc7          /* /0 */
#define OPC_MOVL_Iv     0xb8          /* + reg: imm32, or imm64 with REX.W */
#define OPC_MOVZBL      (0xb6 | P_EXT)
#define OPC_MOVZWL      (0xb7 | P_EXT)
#define OPC_MOVSBL      (0xbe | P_EXT)
#define OPC_MOVSWL      (0xbf | P_EXT)
#define OPC_MOVSLQ      (0x63 | P_REXW)
#define OPC_SHIFT_Ib    0xc1          /* group 2, /ext */
#define OPC_SHIFT_cl    0xd3
#define OPC_GRP3_Ev     0xf7          /* group 3, /ext */
#define OPC_IMUL_GvEv   (0xaf | P_EXT)
#define OPC_IMUL_GvEvIb 0x6b
#define OPC_IMUL_GvEvIz 0x69
#define OPC_CQO         (0x99 | P_REXW)
#define OPC_SETCC       (0x90 | P_EXT) /* + cc */
#define OPC_CMOVCC      (0x40 | P_EXT) /* + cc */
#define OPC_JCC_long    (0x80 | P_EXT) /* + cc, rel32 */
#define OPC_JCC_short   0x70           /* + cc, rel8 */
#define OPC_CALL_long   0xe8
#define OPC_JMP_long    0xe9
#define OPC_JMP_short   0xeb
#define OPC_GRP5        0xff           /* group 5, /ext */
#define OPC_PUSH_r      0x50           /* + reg */
#define OPC_POP_r       0x58           /* + reg */
#define OPC_RET         0xc3
#define OPC_INT3        0xcc

/* Group 1 extensions. */
enum { ARITH_ADD, ARITH_OR, ARITH_ADC, ARITH_SBB, ARITH_AND, ARITH_SUB,
       ARITH_XOR, ARITH_CMP };
/* Group 2. */
enum { SHIFT_SHL = 4, SHIFT_SHR = 5, SHIFT_SAR = 7 };
/* Group 3. */
enum { EXT3_NOT = 2, EXT3_NEG = 3, EXT3_MUL = 4, EXT3_IMUL = 5, EXT3_DIV = 6,
       EXT3_IDIV = 7 };
/* Group 5. */
enum { EXT5_JMPN_Ev = 4, EXT5_PUSH_Ev = 6 };

/* Condition codes. */
enum { X86_CC_O, X86_CC_NO, X86_CC_B, X86_CC_AE, X86_CC_E, X86_CC_NE,
       X86_CC_BE, X86_CC_A, X86_CC_S, X86_CC_NS, X86_CC_P, X86_CC_NP,
       X86_CC_L, X86_CC_GE, X86_CC_LE, X86_CC_G };

/* Operand forms for x86_enc. */
typedef enum x86_form {
    X86_F_NONE,  /* opcode only; rm (if not X86_NOREG) is added to the
                    opcode byte (push, pop, mov imm) */
    X86_F_REG,   /* ModRM mod=11: r, rm registers */
    X86_F_MEM,   /* ModRM memory: [rm + index << shift + disp] */
    X86_F_RIP    /* ModRM memory [rip + disp32]; rm, index and disp are
                    unused: the caller appends the disp32 (x86_lea_sym) */
} x86_form;

/* The encoder: writes one instruction without its immediate.  r is the
 * ModRM.reg register or opcode extension; rm the r/m register or memory
 * base; index X86_NOREG for none (rsp cannot be an index); shift 0..3. */
void x86_enc(cg_code *c, int opc, int r, int rm, int index, int shift,
             int32_t disp, x86_form form);

/* Shorthands for the three forms. */
void x86_op(cg_code *c, int opc, int rm);                 /* F_NONE */
void x86_rr(cg_code *c, int opc, int r, int rm);          /* F_REG */
void x86_rm(cg_code *c, int opc, int r, int base, int32_t disp);
void x86_rmx(cg_code *c, int opc, int r, int base, int index, int shift,
             int32_t disp);

/* Immediates, little-endian, appended after x86_enc. */
void x86_imm8(cg_code *c, int8_t v);
void x86_imm16(cg_code *c, uint16_t v);
void x86_imm32(cg_code *c, int32_t v);
void x86_imm64(cg_code *c, uint64_t v);

static inline bool x86_fits_i8(int64_t v) { return v >= -128 && v <= 127; }
static inline bool x86_fits_i32(int64_t v)
{
    return v >= INT32_MIN && v <= INT32_MAX;
}

/* Common instructions (64-bit operands unless stated). */
void x86_mov_rr(cg_code *c, int dst, int src);
void x86_ld(cg_code *c, int dst, int base, int32_t disp);   /* mov r, [m] */
void x86_st(cg_code *c, int src, int base, int32_t disp);   /* mov [m], r */
/* Shortest move of a constant into a register.  May use xor (clobbers
 * flags) for 0. */
void x86_movi(cg_code *c, int reg, uint64_t v);
/* mov qword [base + disp], v; via scratch when v does not fit a
 * sign-extended imm32. */
void x86_st_imm64(cg_code *c, int base, int32_t disp, uint64_t v, int scratch);
void x86_st_imm32(cg_code *c, int base, int32_t disp, uint32_t v); /* dword */
/* reg = reg <ext> imm (group 1), imm8 form when it fits. */
void x86_arith_ri(cg_code *c, int ext, int reg, int32_t imm);
/* qword [base + disp] <ext> imm. */
void x86_arith_mi(cg_code *c, int ext, int base, int32_t disp, int32_t imm);

/* Records a relocation at code offset off (placeholder already written). */
void x86_reloc(cg_code *c, uint32_t off, uint32_t type, int64_t addend,
               cg_target_kind kind, uint64_t target);
/* lea reg, [rip + symbol]: placeholder + R_X86_64_PC32 relocation in one
 * step (the host address of a block, for the return stack). */
void x86_lea_sym(cg_code *c, int reg, cg_target_kind kind, uint64_t target);
/* jmp / call / jcc rel32 to a symbol: placeholder + relocation in one step. */
void x86_jmp_sym(cg_code *c, cg_target_kind kind, uint64_t target);
void x86_call_sym(cg_code *c, cg_target_kind kind, uint64_t target);
void x86_jcc_sym(cg_code *c, int cc, cg_target_kind kind, uint64_t target);

/* Forward branches inside one piece of code: emit with a zero placeholder,
 * returning the offset just past the instruction (the placeholder's end),
 * then x86_patch8/32 when the target offset is known. */
uint32_t x86_jcc32_fwd(cg_code *c, int cc);
uint32_t x86_jcc8_fwd(cg_code *c, int cc);
uint32_t x86_jmp8_fwd(cg_code *c);
uint32_t x86_jmp32_fwd(cg_code *c);
/* lea reg, [rip + ?] to an address later in the same code, patched the
 * same way (x86_patch32). */
uint32_t x86_lea_fwd(cg_code *c, int reg);
/* Nops up to the next multiple of a bytes (a power of two <= 64). */
void x86_align(cg_code *c, uint32_t a);
void x86_patch32(cg_code *c, uint32_t end, uint32_t target);
void x86_patch8(cg_code *c, uint32_t end, uint32_t target);   /* in range */
/* jmp to an offset already emitted in this code: rel8 when it reaches. */
void x86_jmp_back(cg_code *c, uint32_t target);

static inline uint32_t x86_here(const cg_code *c)
{
    return (uint32_t)c->code.len;
}

#endif
