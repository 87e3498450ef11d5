/* x86_emit.c: the x86-64 instruction encoder (see x86_emit.h). */
#include "x86_emit.h"

#include <elf.h>
#include <stdlib.h>

/* The encoder itself, inlined into each wrapper below so that each one is
 * compiled for its own operand form (the code generator's hot path). */
static inline __attribute__((always_inline)) void
enc(cg_code *c, int opc, int r, int rm, int index, int shift, int32_t disp,
    x86_form form)
{
    /* The instruction (at most 66 REX 0f op modrm sib disp32: 11 bytes)
     * is written straight into the buffer after one capacity check. */
    buf *b = &c->code;
    if (b->oom || (b->cap - b->len < 16 && buf_reserve(b, 16) != 0))
        return;
    uint8_t *i = b->data + b->len;
    unsigned n = 0;
    int rex = 0;

    if (opc & P_REXW)
        rex |= 8;
    if (r >= 8)
        rex |= 4;                       /* REX.R */
    if (form == X86_F_MEM && index >= 8)
        rex |= 2;                       /* REX.X */
    if (rm >= 8)
        rex |= 1;                       /* REX.B */
    /* spl, bpl, sil, dil exist only with a REX prefix (else ah..bh). */
    bool need_rex = rex != 0 || ((opc & P_REXB_R) && r >= 4) ||
                    ((opc & P_REXB_RM) && form == X86_F_REG && rm >= 4);

    if (opc & P_DATA16)
        i[n++] = 0x66;
    if (need_rex)
        i[n++] = (uint8_t)(0x40 | rex);
    if (opc & P_EXT)
        i[n++] = 0x0f;

    if (form == X86_F_NONE) {
        i[n++] = (uint8_t)((opc & 0xff) + (rm == X86_NOREG ? 0 : rm & 7));
    } else if (form == X86_F_REG) {
        i[n++] = (uint8_t)opc;
        i[n++] = (uint8_t)(0xc0 | (r & 7) << 3 | (rm & 7));
    } else if (form == X86_F_RIP) {
        i[n++] = (uint8_t)opc;
        i[n++] = (uint8_t)((r & 7) << 3 | 5);       /* mod=00 rm=101 */
    } else {
        /* Memory operand.  mod=00 with base low bits 101 means rip/disp32,
         * so rbp and r13 always need a displacement; base low bits 100
         * means "SIB follows", so rsp and r12 always need a SIB byte. */
        int mod;
        if (disp == 0 && (rm & 7) != X86_RBP)
            mod = 0;
        else if (x86_fits_i8(disp))
            mod = 1;
        else
            mod = 2;
        i[n++] = (uint8_t)opc;
        if (index != X86_NOREG || (rm & 7) == X86_RSP) {
            int idx = index == X86_NOREG ? X86_RSP : index;  /* 100 = none */
            i[n++] = (uint8_t)(mod << 6 | (r & 7) << 3 | 4);
            i[n++] = (uint8_t)(shift << 6 | (idx & 7) << 3 | (rm & 7));
        } else {
            i[n++] = (uint8_t)(mod << 6 | (r & 7) << 3 | (rm & 7));
        }
        if (mod == 1) {
            i[n++] = (uint8_t)(int8_t)disp;
        } else if (mod == 2) {
            uint32_t u = (uint32_t)disp;
            for (int k = 0; k < 4; k++)
                i[n++] = (uint8_t)(u >> (8 * k));
        }
    }
    b->len += n;
}

void x86_enc(cg_code *c, int opc, int r, int rm, int index, int shift,
             int32_t disp, x86_form form)
{
    enc(c, opc, r, rm, index, shift, disp, form);
}

void x86_op(cg_code *c, int opc, int rm)
{
    enc(c, opc, 0, rm, X86_NOREG, 0, 0, X86_F_NONE);
}

void x86_rr(cg_code *c, int opc, int r, int rm)
{
    enc(c, opc, r, rm, X86_NOREG, 0, 0, X86_F_REG);
}

void x86_rm(cg_code *c, int opc, int r, int base, int32_t disp)
{
    enc(c, opc, r, base, X86_NOREG, 0, disp, X86_F_MEM);
}

void x86_rmx(cg_code *c, int opc, int r, int base, int index, int shift,
             int32_t disp)
{
    enc(c, opc, r, base, index, shift, disp, X86_F_MEM);
}

void x86_imm8(cg_code *c, int8_t v)
{
    buf_put8(&c->code, (uint8_t)v);
}

void x86_imm16(cg_code *c, uint16_t v)
{
    buf_put8(&c->code, (uint8_t)v);
    buf_put8(&c->code, (uint8_t)(v >> 8));
}

void x86_imm32(cg_code *c, int32_t v)
{
    buf_put32(&c->code, (uint32_t)v);
}

void x86_imm64(cg_code *c, uint64_t v)
{
    buf_put64(&c->code, v);
}

void x86_mov_rr(cg_code *c, int dst, int src)
{
    x86_rr(c, OPC_MOVL_GvEv | P_REXW, dst, src);
}

void x86_ld(cg_code *c, int dst, int base, int32_t disp)
{
    x86_rm(c, OPC_MOVL_GvEv | P_REXW, dst, base, disp);
}

void x86_st(cg_code *c, int src, int base, int32_t disp)
{
    x86_rm(c, OPC_MOVL_EvGv | P_REXW, src, base, disp);
}

void x86_movi(cg_code *c, int reg, uint64_t v)
{
    if (v == 0) {
        /* xor r32, r32 zero-extends to 64 bits */
        x86_rr(c, OPC_ARITH_GvEv | ARITH_XOR << 3, reg, reg);
    } else if (v <= UINT32_MAX) {
        x86_op(c, OPC_MOVL_Iv, reg);          /* zero-extending imm32 */
        x86_imm32(c, (int32_t)(uint32_t)v);
    } else if (x86_fits_i32((int64_t)v)) {
        x86_rr(c, OPC_MOVL_EvIz | P_REXW, 0, reg);  /* sign-extending */
        x86_imm32(c, (int32_t)(int64_t)v);
    } else {
        x86_op(c, OPC_MOVL_Iv | P_REXW, reg);  /* movabs */
        x86_imm64(c, v);
    }
}

void x86_st_imm64(cg_code *c, int base, int32_t disp, uint64_t v, int scratch)
{
    if (x86_fits_i32((int64_t)v)) {
        x86_rm(c, OPC_MOVL_EvIz | P_REXW, 0, base, disp);
        x86_imm32(c, (int32_t)(int64_t)v);
    } else {
        x86_movi(c, scratch, v);
        x86_st(c, scratch, base, disp);
    }
}

void x86_st_imm32(cg_code *c, int base, int32_t disp, uint32_t v)
{
    x86_rm(c, OPC_MOVL_EvIz, 0, base, disp);
    x86_imm32(c, (int32_t)v);
}

void x86_arith_ri(cg_code *c, int ext, int reg, int32_t imm)
{
    if (x86_fits_i8(imm)) {
        x86_rr(c, OPC_ARITH_EvIb | P_REXW, ext, reg);
        x86_imm8(c, (int8_t)imm);
    } else {
        x86_rr(c, OPC_ARITH_EvIz | P_REXW, ext, reg);
        x86_imm32(c, imm);
    }
}

void x86_arith_mi(cg_code *c, int ext, int base, int32_t disp, int32_t imm)
{
    if (x86_fits_i8(imm)) {
        x86_rm(c, OPC_ARITH_EvIb | P_REXW, ext, base, disp);
        x86_imm8(c, (int8_t)imm);
    } else {
        x86_rm(c, OPC_ARITH_EvIz | P_REXW, ext, base, disp);
        x86_imm32(c, imm);
    }
}

void x86_reloc(cg_code *c, uint32_t off, uint32_t type, int64_t addend,
               cg_target_kind kind, uint64_t target)
{
    if (c->nrelocs == c->relocs_cap) {
        size_t cap = c->relocs_cap ? c->relocs_cap * 2 : 8;
        cg_reloc *r = xreallocarray(c->relocs, cap, sizeof *r);
        if (!r) {
            c->code.oom = 1;     /* reported by the caller's final check */
            return;
        }
        c->relocs = r;
        c->relocs_cap = cap;
    }
    c->relocs[c->nrelocs++] = (cg_reloc){ .offset = off, .type = type,
        .addend = addend, .kind = (uint8_t)kind, .target = target };
}

/* The rel32 field is the last 4 bytes of the instruction and the CPU adds
 * it to the address of the next instruction: addend -4 (S + A - P).
 * Branches use PLT32, data references (lea) PC32. */
static void rel32_sym(cg_code *c, uint32_t type, cg_target_kind kind,
                      uint64_t target)
{
    uint32_t at = x86_here(c);
    x86_imm32(c, 0);
    x86_reloc(c, at, type, -4, kind, target);
}

void x86_lea_sym(cg_code *c, int reg, cg_target_kind kind, uint64_t target)
{
    x86_enc(c, OPC_LEA | P_REXW, reg, X86_NOREG, X86_NOREG, 0, 0, X86_F_RIP);
    rel32_sym(c, R_X86_64_PC32, kind, target);
}

void x86_jmp_sym(cg_code *c, cg_target_kind kind, uint64_t target)
{
    x86_op(c, OPC_JMP_long, X86_NOREG);
    rel32_sym(c, R_X86_64_PLT32, kind, target);
}

void x86_call_sym(cg_code *c, cg_target_kind kind, uint64_t target)
{
    x86_op(c, OPC_CALL_long, X86_NOREG);
    rel32_sym(c, R_X86_64_PLT32, kind, target);
}

void x86_jcc_sym(cg_code *c, int cc, cg_target_kind kind, uint64_t target)
{
    x86_op(c, OPC_JCC_long + cc, X86_NOREG);
    rel32_sym(c, R_X86_64_PLT32, kind, target);
}

uint32_t x86_jcc32_fwd(cg_code *c, int cc)
{
    x86_op(c, OPC_JCC_long + cc, X86_NOREG);
    x86_imm32(c, 0);
    return x86_here(c);
}

uint32_t x86_jcc8_fwd(cg_code *c, int cc)
{
    x86_op(c, OPC_JCC_short + cc, X86_NOREG);
    x86_imm8(c, 0);
    return x86_here(c);
}

void x86_align(cg_code *c, uint32_t a)
{
    /* The recommended multi-byte nops (Intel SDM, "NOP"), longest first. */
    static const uint8_t nops[8][8] = {
        { 0x90 }, { 0x66, 0x90 }, { 0x0f, 0x1f, 0x00 },
        { 0x0f, 0x1f, 0x40, 0x00 }, { 0x0f, 0x1f, 0x44, 0x00, 0x00 },
        { 0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00 },
        { 0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00 },
        { 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00 },
    };
    uint32_t pad = (a - x86_here(c) % a) % a;
    while (pad > 0) {
        uint32_t n = pad < 8 ? pad : 8;
        buf_append(&c->code, nops[n - 1], n);
        pad -= n;
    }
}

uint32_t x86_jmp32_fwd(cg_code *c)
{
    x86_op(c, OPC_JMP_long, X86_NOREG);
    x86_imm32(c, 0);
    return x86_here(c);
}

uint32_t x86_lea_fwd(cg_code *c, int reg)
{
    enc(c, OPC_LEA | P_REXW, reg, X86_NOREG, X86_NOREG, 0, 0, X86_F_RIP);
    x86_imm32(c, 0);
    return x86_here(c);
}

uint32_t x86_jmp8_fwd(cg_code *c)
{
    x86_op(c, OPC_JMP_short, X86_NOREG);
    x86_imm8(c, 0);
    return x86_here(c);
}

void x86_patch32(cg_code *c, uint32_t end, uint32_t target)
{
    if (c->code.oom || end > c->code.len)
        return;
    put_le32(c->code.data + end - 4, (uint32_t)((int64_t)target - end));
}

void x86_patch8(cg_code *c, uint32_t end, uint32_t target)
{
    int64_t rel = (int64_t)target - end;
    if (c->code.oom || end > c->code.len)
        return;
    if (!x86_fits_i8(rel)) {
        c->code.oom = 1;   /* internal error: callers keep short jumps short */
        return;
    }
    c->code.data[end - 1] = (uint8_t)(int8_t)rel;
}

void x86_jmp_back(cg_code *c, uint32_t target)
{
    int64_t rel8 = (int64_t)target - (x86_here(c) + 2);
    if (x86_fits_i8(rel8)) {
        x86_op(c, OPC_JMP_short, X86_NOREG);
        x86_imm8(c, (int8_t)rel8);
    } else {
        x86_op(c, OPC_JMP_long, X86_NOREG);
        x86_imm32(c, (int32_t)((int64_t)target - (x86_here(c) + 4)));
    }
}
