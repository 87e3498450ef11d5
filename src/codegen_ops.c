/* codegen_ops.c: code for each IR op (see cg_block.h).  Results are
 * computed in the destination's cache register when it has one, else in
 * rax and stored; rax, rcx and rdx are free scratch registers. */
#include "cg_block.h"

static const int alu_ext[] = {
    [IR_ADD] = ARITH_ADD, [IR_SUB] = ARITH_SUB, [IR_AND] = ARITH_AND,
    [IR_OR] = ARITH_OR, [IR_XOR] = ARITH_XOR,
};

static void gen_alu(cg_state *s, const ir_op *op)
{
    int D = cgb_dst_reg(s, op->d);
    opnd A = cgb_opnd_of(s, op->a), B = cgb_opnd_of(s, op->b);
    bool commutes = op->op != IR_SUB;
    int opc = op->op == IR_MUL ? OPC_IMUL_GvEv
                               : OPC_ARITH_GvEv | alu_ext[op->op] << 3;
    opc |= P_REXW;

    if (B.reg == D && op->a != op->b) {
        if (commutes) {
            opnd t = A;
            A = B;
            B = t;
        } else {
            /* d = a - d  ==  -d + a */
            x86_rr(s->c, OPC_GRP3_Ev | P_REXW, EXT3_NEG, D);
            cgb_op_ro(s, OPC_ARITH_GvEv | ARITH_ADD << 3 | P_REXW, D, A);
            cgb_dst_done(s, op->d, D);
            return;
        }
    }
    cgb_mov_to(s, D, A);
    cgb_op_ro(s, opc, D, B);
    cgb_dst_done(s, op->d, D);
}

static void gen_div(cg_state *s, const ir_op *op)
{
    cg_code *c = s->c;
    bool is_signed = op->op == IR_DIVS || op->op == IR_REMS;
    bool is_rem = op->op == IR_REMS || op->op == IR_REMU;

    cgb_mov_to(s, X86_RCX, cgb_opnd_of(s, op->b));
    cgb_mov_to(s, X86_RAX, cgb_opnd_of(s, op->a));
    x86_rr(c, OPC_TEST_EvGv | P_REXW, X86_RCX, X86_RCX);
    uint32_t j_zero = x86_jcc8_fwd(c, X86_CC_E);
    uint32_t j_m1 = 0;
    if (is_signed) {
        /* idiv traps on INT64_MIN / -1: handle -1 apart (q = -a, r = 0). */
        x86_arith_ri(c, ARITH_CMP, X86_RCX, -1);
        j_m1 = x86_jcc8_fwd(c, X86_CC_E);
        x86_op(c, OPC_CQO, X86_NOREG);
        x86_rr(c, OPC_GRP3_Ev | P_REXW, EXT3_IDIV, X86_RCX);
    } else {
        x86_rr(c, OPC_ARITH_GvEv | ARITH_XOR << 3, X86_RDX, X86_RDX);
        x86_rr(c, OPC_GRP3_Ev | P_REXW, EXT3_DIV, X86_RCX);
    }
    uint32_t j_done1 = x86_jmp8_fwd(c);

    /* b == 0: quotient all ones, remainder a. */
    x86_patch8(c, j_zero, x86_here(c));
    if (is_rem)
        x86_mov_rr(c, X86_RDX, X86_RAX);
    else
        x86_arith_ri(c, ARITH_OR, X86_RAX, -1);
    uint32_t j_done2 = 0;
    if (is_signed) {
        j_done2 = x86_jmp8_fwd(c);
        x86_patch8(c, j_m1, x86_here(c));
        if (is_rem)
            x86_rr(c, OPC_ARITH_GvEv | ARITH_XOR << 3, X86_RDX, X86_RDX);
        else
            x86_rr(c, OPC_GRP3_Ev | P_REXW, EXT3_NEG, X86_RAX);
    }
    x86_patch8(c, j_done1, x86_here(c));
    if (is_signed)
        x86_patch8(c, j_done2, x86_here(c));
    cgb_dst_done(s, op->d, is_rem ? X86_RDX : X86_RAX);
}

static void gen_shift_var(cg_state *s, const ir_op *op)
{
    static const int ext[] = { [IR_SLL] = SHIFT_SHL, [IR_SRL] = SHIFT_SHR,
                               [IR_SRA] = SHIFT_SAR };
    int D = cgb_dst_reg(s, op->d);
    /* cl first: d may be the cache register of b.  The CPU masks the
     * count to 6 bits for 64-bit operands, as the IR does. */
    cgb_mov_to(s, X86_RCX, cgb_opnd_of(s, op->b));
    cgb_mov_to(s, D, cgb_opnd_of(s, op->a));
    x86_rr(s->c, OPC_SHIFT_cl | P_REXW, ext[op->op], D);
    cgb_dst_done(s, op->d, D);
}

static void gen_shift_imm(cg_state *s, const ir_op *op)
{
    static const int ext[] = { [IR_SLLI] = SHIFT_SHL, [IR_SRLI] = SHIFT_SHR,
                               [IR_SRAI] = SHIFT_SAR };
    int D = cgb_dst_reg(s, op->d);
    cgb_mov_to(s, D, cgb_opnd_of(s, op->a));
    if (op->imm != 0) {
        x86_rr(s->c, OPC_SHIFT_Ib | P_REXW, ext[op->op], D);
        x86_imm8(s->c, (int8_t)op->imm);
    }
    cgb_dst_done(s, op->d, D);
}

static void gen_addi(cg_state *s, const ir_op *op)
{
    int slot = s->slot_of[op->d];
    if (op->d == op->a && slot >= 0 && s->step_slots & 1u << slot) {
        s->pend[slot] += (int64_t)op->imm;     /* small: loop_step */
        return;
    }
    int D = cgb_dst_reg(s, op->d);
    opnd A = cgb_opnd_of(s, op->a);
    int64_t imm = (int64_t)op->imm;
    if (x86_fits_i32(imm)) {
        if (imm == 0) {
            cgb_mov_to(s, D, A);
        } else if (A.reg >= 0 && A.reg != D) {
            x86_rm(s->c, OPC_LEA | P_REXW, D, A.reg, (int32_t)imm);
        } else {
            cgb_mov_to(s, D, A);
            x86_arith_ri(s->c, ARITH_ADD, D, (int32_t)imm);
        }
    } else {
        x86_movi(s->c, X86_RCX, op->imm);
        if (A.reg >= 0) {
            x86_rmx(s->c, OPC_LEA | P_REXW, D, A.reg, X86_RCX, 0, 0);
        } else {
            cgb_mov_to(s, D, A);
            x86_rr(s->c, OPC_ARITH_GvEv | ARITH_ADD << 3 | P_REXW, D, X86_RCX);
        }
    }
    cgb_dst_done(s, op->d, D);
}

static void gen_muli(cg_state *s, const ir_op *op)
{
    int D = cgb_dst_reg(s, op->d);
    opnd A = cgb_opnd_of(s, op->a);
    int64_t imm = (int64_t)op->imm;
    if (x86_fits_i8(imm)) {
        cgb_op_ro(s, OPC_IMUL_GvEvIb | P_REXW, D, A);
        x86_imm8(s->c, (int8_t)imm);
    } else if (x86_fits_i32(imm)) {
        cgb_op_ro(s, OPC_IMUL_GvEvIz | P_REXW, D, A);
        x86_imm32(s->c, (int32_t)imm);
    } else {
        x86_movi(s->c, X86_RCX, op->imm);
        cgb_mov_to(s, D, A);
        x86_rr(s->c, OPC_IMUL_GvEv | P_REXW, D, X86_RCX);
    }
    cgb_dst_done(s, op->d, D);
}

static void gen_movi(cg_state *s, const ir_op *op)
{
    int slot = s->slot_of[op->d];
    if (slot >= 0) {
        x86_movi(s->c, cgb_cache_regs[slot], op->imm);
        s->dirty |= 1u << slot;
    } else {
        x86_st_imm64(s->c, X86_RBX, CPU_OFF_R(op->d), op->imm, X86_RAX);
    }
}

static void gen_mov(cg_state *s, const ir_op *op)
{
    if (op->d == op->a)
        return;
    opnd A = cgb_opnd_of(s, op->a);
    int slot = s->slot_of[op->d];
    if (slot >= 0) {
        cgb_mov_to(s, cgb_cache_regs[slot], A);
        s->dirty |= 1u << slot;
    } else {
        x86_st(s->c, cgb_in_reg(s, A, X86_RAX), X86_RBX, CPU_OFF_R(op->d));
    }
}

static void gen_not(cg_state *s, const ir_op *op)
{
    int D = cgb_dst_reg(s, op->d);
    cgb_mov_to(s, D, cgb_opnd_of(s, op->a));
    x86_rr(s->c, OPC_GRP3_Ev | P_REXW, EXT3_NOT, D);
    cgb_dst_done(s, op->d, D);
}

static void gen_cmp(cg_state *s, const ir_op *op)
{
    static const int cc[] = {
        [IR_CMPEQ] = X86_CC_E, [IR_CMPNE] = X86_CC_NE, [IR_CMPLT] = X86_CC_L,
        [IR_CMPLTU] = X86_CC_B, [IR_CMPGE] = X86_CC_GE,
        [IR_CMPGEU] = X86_CC_AE,
    };
    int A = cgb_in_reg(s, cgb_opnd_of(s, op->a), X86_RCX);
    s->defer_put = s->defer_cmp && op->d != op->a && op->d != op->b;
    if (s->defer_put && !s->defer_known)
        cgb_put_bool(s->c, cgb_host_of(s, op->d), s->defer_val);
    cgb_op_ro(s, OPC_ARITH_GvEv | ARITH_CMP << 3 | P_REXW, A,
              cgb_opnd_of(s, op->b));
    if (!s->defer_cmp) {
        x86_rr(s->c, OPC_SETCC + cc[op->op], 0, X86_RAX);
        int D = cgb_dst_reg(s, op->d);
        x86_rr(s->c, OPC_MOVZBL, D, X86_RAX);    /* movzx D32, al */
        cgb_dst_done(s, op->d, D);
    }
    /* setcc, movzx and mov leave the flags alone: a condjmp on d right
     * after this can branch on them directly. */
    s->flags_live = true;
    s->flag_cc = cc[op->op];
    s->flag_reg = op->d;
}

/* Sets ZF from guest register g (ZF = 1 iff it is 0). */
void cgb_test_guest(cg_state *s, unsigned g)
{
    int h = cgb_host_of(s, g);
    if (h >= 0)
        x86_rr(s->c, OPC_TEST_EvGv | P_REXW, h, h);
    else
        x86_arith_mi(s->c, ARITH_CMP, X86_RBX, CPU_OFF_R(g), 0);
}

static void gen_select(cg_state *s, const ir_op *op)
{
    opnd A = cgb_opnd_of(s, op->a), B = cgb_opnd_of(s, op->b);
    if (op->a == op->b) {
        gen_mov(s, &(ir_op){ .op = IR_MOV, .d = op->d, .a = op->a });
        return;
    }
    int D = cgb_dst_reg(s, op->d);
    /* Build b in the result register first, unless that would overwrite c
     * or a before they are read. */
    if (D == cgb_host_of(s, op->c) || D == A.reg)
        D = X86_RAX;
    cgb_mov_to(s, D, B);
    cgb_test_guest(s, op->c);
    cgb_op_ro(s, (OPC_CMOVCC + X86_CC_NE) | P_REXW, D, A);
    cgb_dst_done(s, op->d, D);
}

/* The address g + imm in a register: g's own cache register when imm is
 * 0, else rax.  Returns that register. */
int cgb_addr(cg_state *s, unsigned g, uint64_t imm)
{
    cg_code *c = s->c;
    opnd A = cgb_opnd_of(s, g);
    int64_t v = (int64_t)imm;
    if (A.reg >= 0 && v == 0)
        return A.reg;
    if (A.reg >= 0 && x86_fits_i32(v)) {
        x86_rm(c, OPC_LEA | P_REXW, X86_RAX, A.reg, (int32_t)v);
        return X86_RAX;
    }
    cgb_mov_to(s, X86_RAX, A);
    if (v != 0 && x86_fits_i32(v)) {
        x86_arith_ri(c, ARITH_ADD, X86_RAX, (int32_t)v);
    } else if (v != 0) {
        x86_movi(c, X86_RCX, imm);
        x86_rr(c, OPC_ARITH_GvEv | ARITH_ADD << 3 | P_REXW, X86_RAX, X86_RCX);
    }
    return X86_RAX;
}

/* The access's address as a register plus *disp: after the bounds check
 * for 1 << k bytes, the address in a register (cgb_addr) and 0; when the
 * head of an unrolled loop did the check, a cached register itself and the
 * offset (with the steps not yet done) if that fits.  A failed check
 * branches to the memory fault path with the current dirty set. */
static int gen_addr(cg_state *s, const ir_op *op, unsigned k, int32_t *disp)
{
    *disp = 0;
    if (cgb_hoisted(s, op->a, k)) {
        int h = cgb_host_of(s, op->a);
        uint64_t off = op->imm + (uint64_t)cgb_pending(s, op->a);
        if (h >= 0 && x86_fits_i32((int64_t)off)) {
            *disp = (int32_t)off;
            return h;
        }
        return cgb_addr(s, op->a, off);
    }
    int R = cgb_addr(s, op->a, op->imm);
    x86_rm(s->c, OPC_ARITH_GvEv | ARITH_CMP << 3 | P_REXW, R, X86_RBX,
           CPU_OFF_BOUND(k));
    cgb_jcc_memfault(s, X86_CC_AE, R);
    return R;
}

static void gen_load(cg_state *s, const ir_op *op)
{
    static const int opc[IR_NUM_MEMTYPES] = {
        [IR_U8] = OPC_MOVZBL, [IR_S8] = OPC_MOVSBL | P_REXW,
        [IR_U16] = OPC_MOVZWL, [IR_S16] = OPC_MOVSWL | P_REXW,
        [IR_U32] = OPC_MOVL_GvEv,      /* 32-bit writes zero-extend */
        [IR_S32] = OPC_MOVSLQ, [IR_U64] = OPC_MOVL_GvEv | P_REXW,
    };
    int32_t disp;
    int R = gen_addr(s, op, cgb_mt_log2(op->mt), &disp);
    int D = cgb_dst_reg(s, op->d);
    x86_rmx(s->c, opc[op->mt], D, X86_R12, R, 0, disp);
    cgb_dst_done(s, op->d, D);
}

static void gen_store(cg_state *s, const ir_op *op)
{
    static const int opc[4] = {
        OPC_MOVB_EvGv | P_REXB_R, OPC_MOVL_EvGv | P_DATA16, OPC_MOVL_EvGv,
        OPC_MOVL_EvGv | P_REXW,
    };
    unsigned k = cgb_mt_log2(op->mt);
    int32_t disp;
    int R = gen_addr(s, op, k, &disp);
    int B = cgb_in_reg(s, cgb_opnd_of(s, op->b), X86_RCX);
    x86_rmx(s->c, opc[k], B, X86_R12, R, 0, disp);
}

void cgb_gen_op(cg_state *s, const ir_op *op)
{
    if (op->op != IR_NOP)
        s->flags_live = false;
    switch ((ir_opcode)op->op) {
    case IR_NOP: break;
    case IR_ADD: case IR_SUB: case IR_MUL: case IR_AND: case IR_OR:
    case IR_XOR: gen_alu(s, op); break;
    case IR_DIVS: case IR_DIVU: case IR_REMS: case IR_REMU:
        gen_div(s, op); break;
    case IR_NOT: gen_not(s, op); break;
    case IR_SLL: case IR_SRL: case IR_SRA: gen_shift_var(s, op); break;
    case IR_ADDI: gen_addi(s, op); break;
    case IR_MULI: gen_muli(s, op); break;
    case IR_MOV: gen_mov(s, op); break;
    case IR_MOVI: gen_movi(s, op); break;
    case IR_SLLI: case IR_SRLI: case IR_SRAI: gen_shift_imm(s, op); break;
    case IR_CMPEQ: case IR_CMPNE: case IR_CMPLT: case IR_CMPLTU:
    case IR_CMPGE: case IR_CMPGEU: gen_cmp(s, op); break;
    case IR_SELECT: gen_select(s, op); break;
    case IR_LOAD: gen_load(s, op); break;
    case IR_STORE: gen_store(s, op); break;
    case IR_NUM_OPS: break;
    }
}

