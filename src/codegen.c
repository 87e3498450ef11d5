/* codegen.c: IR block -> x86-64 code (see the ABI comment in codegen.h).
 *
 * Per block: the budget check, then the ops in order, then the terminator,
 * then the out-of-line "cold" paths (budget stop, memory faults, return
 * stack over/underflow).  The most used guest registers of the block live
 * in host registers; the set of those modified so far ("dirty") is known at
 * every point because a block is straight-line code, so every exit writes
 * back exactly the registers that changed before it.  A self loop keeps
 * its registers across iterations and small ones are unrolled, with some
 * bounds checks done once per group of iterations and, in counted loops,
 * the exit tests too (gen_self_loop).  Guest
 * calls and rets are host calls and rets, for the return predictor (see
 * cg_compile_runtime). */
#include "codegen.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_block.h"
#include "runtime.h"

#define CG_VERSION 9   /* 2: call records host return addresses; 3: fault
                        * addresses in cache registers, deferred loop
                        * compares; 4: the return stack depth lives in r13;
                        * 5: ret leaves cpu->pc to the return lookup;
                        * 6: small self loops unrolled; 7: host calls;
                        * 8: host frames written to the return stack only
                        * when dropped; 9: counted loops' copies without
                        * exit tests, their steps summed */

/* Host calls: at most this many host frames (8 bytes each) below the
 * caller of enter; the return predictor of a CPU holds far fewer. */
#define HOST_FRAMES 256
/* A call's return address is the jmp to R's code (5 bytes); R's guest pc
 * follows it, for the runtime to read when it writes the frame to the
 * return stack. */
#define RET_PC_AT 5

/* Host registers that cache guest registers, in allocation order. */
const int cgb_cache_regs[NCACHE] = { X86_RSI, X86_RDI, X86_R8, X86_R9, X86_R10,
                                     X86_R11, X86_R15, X86_RBP };

/* ---- register cache ---------------------------------------------------- */

/* Reads and writes of each op, in the order the op does them. */
static inline int op_reads(const ir_op *op, unsigned regs[3])
{
    switch ((ir_shape)ir_op_shapes[op->op]) {
    case IR_SHAPE_DAB: regs[0] = op->a; regs[1] = op->b; return 2;
    case IR_SHAPE_DA:
    case IR_SHAPE_DAI:
    case IR_SHAPE_DAS:
    case IR_SHAPE_LOAD: regs[0] = op->a; return 1;
    case IR_SHAPE_DCAB:
        regs[0] = op->c; regs[1] = op->a; regs[2] = op->b; return 3;
    case IR_SHAPE_STORE: regs[0] = op->a; regs[1] = op->b; return 2;
    case IR_SHAPE_NONE:
    case IR_SHAPE_DI: return 0;
    }
    return 0;
}

static inline int op_writes(const ir_op *op)
{
    switch ((ir_shape)ir_op_shapes[op->op]) {
    case IR_SHAPE_NONE:
    case IR_SHAPE_STORE: return 0;
    default: return 1;
    }
}

static int term_reads(const ir_term *t)
{
    return t->kind == IR_T_JMPREG || t->kind == IR_T_CONDJMP;
}

/* Picks the cached registers (most uses first, ties to the lower number so
 * the choice is deterministic) and returns the mask of slots that must be
 * loaded at entry: those read before the block writes them.  A register
 * used once is worth a slot only in a self loop, where the load at entry
 * serves every iteration. */
static unsigned alloc_regs(cg_state *s, bool loop)
{
    uint32_t min_uses = loop ? 1 : 2;
    const ir_block *last = s->seg[s->nseg - 1];
    /* Use counts of the registers the block mentions, listed once each
     * (the candidates: scanning all 256 registers per slot cost more than
     * the rest of the compilation of a typical block), and whether each
     * one's first access is a read: a read before any write, live at entry
     * (an op reads its operands before it writes its result). */
    uint32_t uses[IR_NREGS];
    uint8_t seen[IR_NREGS];
    bool read_first[IR_NREGS];
    unsigned nseen = 0;
    memset(uses, 0, sizeof uses);
#define USE(reg, rd) do { unsigned u_ = (reg); \
        if (uses[u_]++ == 0) { seen[nseen++] = (uint8_t)u_; \
                               read_first[u_] = (rd); } } while (0)
    for (unsigned g = 0; g < s->nseg; g++) {
        const ir_block *b = s->seg[g];
        for (uint32_t i = 0; i < b->nops; i++) {
            unsigned r[3];
            int n = op_reads(&b->ops[i], r);
            for (int k = 0; k < n; k++)
                USE(r[k], true);
            if (op_writes(&b->ops[i]))
                USE(b->ops[i].d, false);
        }
    }
    if (term_reads(&last->term))
        USE(last->term.reg, true);
#undef USE

    /* The best NCACHE candidates in order, by insertion in one pass.  A
     * candidate's rank is one number: its uses, then the lower register
     * first (all distinct, so the order is total). */
    uint64_t top[NCACHE + 1];
    unsigned ntop = 0;
    for (unsigned j = 0; j < nseen; j++) {
        unsigned g = seen[j];
        if (uses[g] < min_uses)
            continue;
        uint64_t key = (uint64_t)uses[g] << 8 | (IR_NREGS - 1 - g);
        unsigned pos = ntop;
        while (pos > 0 && key > top[pos - 1]) {
            top[pos] = top[pos - 1];         /* top[NCACHE]: falls off */
            pos--;
        }
        top[pos] = key;
        if (ntop < NCACHE)
            ntop++;
    }
    memset(s->slot_of, 0xff, sizeof s->slot_of);     /* every entry -1 */
    unsigned live_in = 0;
    for (int k = 0; k < NCACHE; k++) {
        int g = (unsigned)k < ntop ? IR_NREGS - 1 - (int)(top[k] & 0xff) : -1;
        s->guest_of[k] = g;
        if (g >= 0) {
            s->slot_of[g] = (int16_t)k;
            if (read_first[g])
                live_in |= 1u << k;
        }
    }
    return live_in;
}

static void writeback(cg_state *s, unsigned dirty)
{
    for (int k = 0; k < NCACHE; k++)
        if (dirty & 1u << k)
            x86_st(s->c, cgb_cache_regs[k], X86_RBX, CPU_OFF_R(s->guest_of[k]));
}

/* ---- operands ---------------------------------------------------------- */

/* opc r, operand (register-direct or [rbx + off]). */
void cgb_op_ro(cg_state *s, int opc, int r, opnd o)
{
    if (o.reg >= 0)
        x86_rr(s->c, opc, r, o.reg);
    else
        x86_rm(s->c, opc, r, X86_RBX, o.off);
}

/* The operand in a register: its cache register, or loaded into scratch. */
int cgb_in_reg(cg_state *s, opnd o, int scratch)
{
    if (o.reg >= 0)
        return o.reg;
    x86_ld(s->c, scratch, X86_RBX, o.off);
    return scratch;
}

void cgb_mov_to(cg_state *s, int dst, opnd src)
{
    if (src.reg != dst)
        cgb_op_ro(s, OPC_MOVL_GvEv | P_REXW, dst, src);
}

/* The result is in reg: store it if d is uncached, else mark it dirty. */
void cgb_dst_done(cg_state *s, unsigned d, int reg)
{
    int slot = s->slot_of[d];
    if (slot < 0) {
        x86_st(s->c, reg, X86_RBX, CPU_OFF_R(d));
    } else {
        if (cgb_cache_regs[slot] != reg)
            x86_mov_rr(s->c, cgb_cache_regs[slot], reg);
        s->dirty |= 1u << slot;
    }
}

/* ---- cold paths -------------------------------------------------------- */

/* A jcc rel32 to the cold path of this kind for the current segment's pc,
 * one per distinct dirty set and fault address register. */
static void jcc_cold(cg_state *s, int cc, int kind, unsigned dirty, int areg)
{
    cold_path *p = NULL;
    for (size_t i = 0; i < s->ncold; i++)
        if (s->cold[i].kind == kind && s->cold[i].dirty == dirty &&
            s->cold[i].pc == s->pc && s->cold[i].areg == areg &&
            s->cold[i].refund == s->refund)
            p = &s->cold[i];
    if (!p) {
        if (s->ncold == s->coldcap) {
            size_t cap = s->coldcap ? s->coldcap * 2 : 4;
            cold_path *n = xreallocarray(s->cold, cap, sizeof *n);
            if (!n) {
                s->oom = 1;
                return;
            }
            s->cold = n;
            s->coldcap = cap;
        }
        p = &s->cold[s->ncold++];
        *p = (cold_path){ .kind = kind, .pc = s->pc, .dirty = dirty,
                          .areg = areg, .refund = s->refund };
    }
    if (p->nsites == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 4;
        uint32_t *n = xreallocarray(p->sites, cap, sizeof *n);
        if (!n) {
            s->oom = 1;
            return;
        }
        p->sites = n;
        p->cap = cap;
    }
    p->sites[p->nsites++] = x86_jcc32_fwd(s->c, cc);
}

void cgb_jcc_cold(cg_state *s, int cc, int kind, unsigned dirty)
{
    jcc_cold(s, cc, kind, dirty, X86_RAX);
}

void cgb_jcc_memfault(cg_state *s, int cc, int areg)
{
    jcc_cold(s, cc, COLD_MEMFAULT, s->dirty, areg);
}

/* Stores status and pc (info already set when it matters) and leaves. */
static void emit_stop(cg_state *s, aotb_status st, uint64_t pc)
{
    x86_st_imm64(s->c, X86_RBX, CPU_OFF_PC, pc, X86_RCX);
    x86_st_imm32(s->c, X86_RBX, CPU_OFF_STATUS, (uint32_t)st);
    x86_jmp_sym(s->c, CG_TGT_RT, CG_RT_EXIT);
}

/* Every cold path stops with the pc of its (possibly folded) block.  Paths
 * that share a pc set status (and info) and jump to one tail that stores the
 * pc and leaves; tails come first so that the jumps back to them are short. */
static void emit_cold_paths(cg_state *s)
{
    cg_code *c = s->c;
    uint32_t tail[MAX_SEGS];
    bool has_tail[MAX_SEGS] = { false };
    for (unsigned g = 0; g < s->nseg; g++) {
        size_t n = 0;
        for (size_t i = 0; i < s->ncold; i++)
            n += s->cold[i].pc == s->seg[g]->pc;
        /* A pc repeated in the chain (cannot happen: folding never revisits
         * a block) would simply reuse the first tail. */
        for (unsigned h = 0; h < g; h++)
            if (s->seg[h]->pc == s->seg[g]->pc)
                n = 0;
        if (n > 1) {
            has_tail[g] = true;
            tail[g] = x86_here(c);
            x86_st_imm64(c, X86_RBX, CPU_OFF_PC, s->seg[g]->pc, X86_RCX);
            x86_jmp_sym(c, CG_TGT_RT, CG_RT_EXIT);
        }
    }
    for (size_t i = 0; i < s->ncold; i++) {
        cold_path *p = &s->cold[i];
        aotb_status st = AOTB_ST_RET;
        for (size_t k = 0; k < p->nsites; k++)
            x86_patch32(c, p->sites[k], x86_here(c));
        writeback(s, p->dirty);
        if (p->refund)
            x86_arith_ri(c, ARITH_ADD, X86_R14, (int32_t)p->refund);
        switch (p->kind) {
        case COLD_BUDGET:
            /* Undo the decrement: this block did not run. */
            x86_arith_ri(c, ARITH_ADD, X86_R14, 1);
            st = AOTB_ST_BUDGET;
            break;
        case COLD_MEMFAULT:
            x86_st(c, p->areg, X86_RBX, CPU_OFF_INFO);
            st = AOTB_ST_MEMFAULT;
            break;
        case COLD_CALLSTACK:
            st = AOTB_ST_CALLSTACK;
            break;
        case COLD_RET:
            st = AOTB_ST_RET;
            break;
        }
        unsigned g = 0;
        while (g < s->nseg && s->seg[g]->pc != p->pc)
            g++;
        if (g < s->nseg && has_tail[g]) {
            x86_st_imm32(c, X86_RBX, CPU_OFF_STATUS, (uint32_t)st);
            x86_jmp_back(c, tail[g]);
        } else {
            emit_stop(s, st, p->pc);
        }
    }
}

/* ---- terminators ------------------------------------------------------- */

static void gen_term(cg_state *s)
{
    cg_code *c = s->c;
    const ir_term *t = &s->seg[s->nseg - 1]->term;
    uint64_t pc = s->pc;

    writeback(s, s->dirty);
    switch ((ir_termkind)t->kind) {
    case IR_T_JMP:
        x86_jmp_sym(c, CG_TGT_BLOCK, t->target);
        break;
    case IR_T_CONDJMP:
        if (t->target != t->other) {
            /* The write-back above is movs only, so the flags of a compare
             * that produced the condition are still valid. */
            int cc = X86_CC_NE;
            if (s->flags_live && s->flag_reg == t->reg)
                cc = s->flag_cc;
            else
                cgb_test_guest(s, t->reg);
            x86_jcc_sym(c, cc, CG_TGT_BLOCK, t->target);
        }
        x86_jmp_sym(c, CG_TGT_BLOCK, t->other);
        break;
    case IR_T_CALL: {
        /* A host call to T's code (see cg_compile_runtime), returning to
         * a jmp to R's code with R's guest pc after it.  Past hlim (too
         * many host frames, or no room for them in the return stack)
         * deep first has the runtime write the host frames to the return
         * stack, or reports it full. */
        x86_rm(c, OPC_ARITH_GvEv | ARITH_CMP << 3 | P_REXW, X86_RSP, X86_RBX,
               CPU_OFF_HLIM);
        uint32_t to_deep = x86_jcc32_fwd(c, X86_CC_BE);
        uint32_t back = x86_here(c);
        x86_call_sym(c, CG_TGT_BLOCK, t->target);
        x86_jmp_sym(c, CG_TGT_BLOCK, t->other);
        x86_imm64(c, t->other);                 /* at RET_PC_AT */
        /* deep: the runtime's deep stub returns to rdx, eax = 0 when the
         * host frames are written and the call may go on. */
        x86_patch32(c, to_deep, x86_here(c));
        uint32_t lea_end = x86_lea_fwd(c, X86_RDX);
        x86_rm(c, OPC_GRP5, EXT5_JMPN_Ev, X86_RBX, CPU_OFF_HDEEP);
        x86_patch32(c, lea_end, x86_here(c));
        x86_rr(c, OPC_TEST_EvGv, X86_RAX, X86_RAX);
        cgb_jcc_cold(s, X86_CC_NE, COLD_CALLSTACK, 0);
        x86_jmp_back(c, back);
        break;
    }
    case IR_T_RET: {
        /* A host ret to the jmp after the matching host call, unless no
         * host frame is left (the call came before this entry, or its
         * frame was written to the return stack): then the runtime's pop
         * stub takes the return stack's top, or the stack is empty. */
        x86_rm(c, OPC_ARITH_GvEv | ARITH_CMP << 3 | P_REXW, X86_RSP, X86_RBX,
               CPU_OFF_HRSP);
        uint32_t to_pop = x86_jcc8_fwd(c, X86_CC_E);
        x86_op(c, OPC_RET, X86_NOREG);
        x86_patch8(c, to_pop, x86_here(c));
        x86_rr(c, OPC_TEST_EvGv | P_REXW, X86_R13, X86_R13);
        cgb_jcc_cold(s, X86_CC_E, COLD_RET, 0);
        x86_rm(c, OPC_GRP5, EXT5_JMPN_Ev, X86_RBX, CPU_OFF_HPOP);
        break;
    }
    case IR_T_JMPREG:
        /* The target goes through the dispatcher's lookup: guest data never
         * becomes a host address. */
        cgb_mov_to(s, X86_RAX, cgb_opnd_of(s, t->reg));
        if (t->imm != 0 && x86_fits_i32((int64_t)t->imm)) {
            x86_arith_ri(c, ARITH_ADD, X86_RAX, (int32_t)(int64_t)t->imm);
        } else if (t->imm != 0) {
            x86_movi(c, X86_RCX, t->imm);
            x86_rr(c, OPC_ARITH_GvEv | ARITH_ADD << 3 | P_REXW, X86_RAX,
                   X86_RCX);
        }
        x86_st(c, X86_RAX, X86_RBX, CPU_OFF_PC);
        x86_jmp_sym(c, CG_TGT_RT, CG_RT_LOOKUP);
        break;
    case IR_T_FAULT:
        x86_st_imm64(c, X86_RBX, CPU_OFF_INFO, t->imm, X86_RAX);
        emit_stop(s, AOTB_ST_FAULT, pc);
        break;
    case IR_T_INTERRUPT:
        x86_st_imm64(c, X86_RBX, CPU_OFF_INFO, t->imm, X86_RAX);
        emit_stop(s, AOTB_ST_INTERRUPT, t->has_resume ? t->other : pc);
        break;
    }
}

/* ---- self loops --------------------------------------------------------- */

/* A block that branches to itself (jmp PC, or condjmp with PC as one of
 * its targets) keeps its cached registers in host registers across
 * iterations: every cached register is loaded once at entry, every written
 * one counts as dirty from the start (so each exit writes back exactly what
 * the block may have changed, with the loaded value where this iteration
 * has not written it yet), and the back edge jumps to a budget check right
 * after the loads instead of leaving through the block's symbol. */
static bool is_self_loop(const cg_state *s)
{
    const ir_block *b = s->seg[0];
    if (s->nseg != 1)
        return false;
    if (b->term.kind == IR_T_JMP)
        return b->term.target == b->pc;
    return b->term.kind == IR_T_CONDJMP &&
           (b->term.target == b->pc || b->term.other == b->pc);
}

static unsigned written_slots(const cg_state *s)
{
    unsigned w = 0;
    const ir_block *b = s->seg[0];
    for (uint32_t i = 0; i < b->nops; i++)
        if (op_writes(&b->ops[i]) && s->slot_of[b->ops[i].d] >= 0)
            w |= 1u << s->slot_of[b->ops[i].d];
    return w;
}

void cgb_put_bool(cg_code *c, int reg, bool v)
{
    x86_op(c, OPC_MOVL_Iv, reg);
    x86_imm32(c, v ? 1 : 0);
}

/* Whether the last op of self loop b is a compare that can set only the
 * flags (see cg_state.defer_cmp): it writes the cached register the
 * loop's condjmp tests, and the condjmp has two different targets. */
static bool can_defer_cmp(const cg_state *s)
{
    const ir_block *b = s->seg[0];
    const ir_term *t = &b->term;
    if (b->nops == 0 || t->kind != IR_T_CONDJMP || t->target == t->other)
        return false;
    const ir_op *last = &b->ops[b->nops - 1];
    return last->op >= IR_CMPEQ && last->op <= IR_CMPGEU &&
           last->d == t->reg && s->slot_of[t->reg] >= 0;
}

/* Small self loops are unrolled: after its first iteration the loop runs
 * U iterations per budget check (8 for bodies of up to 8 ops, else 4),
 * each copy leaving by its own exit test.  Larger bodies are not worth
 * the code. */
#define UNROLL_MAX 8
#define UNROLL_MAX_OPS 16

static unsigned unroll_count(const ir_block *b)
{
    return b->nops > UNROLL_MAX_OPS ? 1 : b->nops > 8 ? 4 : UNROLL_MAX;
}

/* Op i of the self loop. */
static void gen_loop_op(cg_state *s, uint32_t i)
{
    const ir_block *b = s->seg[0];
    s->defer_cmp = i + 1 == b->nops && can_defer_cmp(s);
    s->defer_val = b->term.target == b->pc;
    cgb_gen_op(s, &b->ops[i]);
}

/* The ops of the self loop, once (without the last when skip_last: a
 * counted loop's compare, whose value is known or comes later). */
static void gen_loop_ops(cg_state *s, bool skip_last)
{
    const ir_block *b = s->seg[0];
    s->flags_live = false;
    for (uint32_t i = 0; i + skip_last < b->nops; i++)
        gen_loop_op(s, i);
}

/* Whether the loop's condjmp chooses between two targets. */
static bool loop_is_cond(const cg_state *s)
{
    const ir_term *t = &s->seg[0]->term;
    return t->kind == IR_T_CONDJMP && t->target != t->other;
}

/* After the ops of a conditional self loop: the x86 condition under which
 * the loop goes on (testing the register if no compare left flags), with
 * the deferred compare's register put to its back-edge value. */
static int loop_continue_cc(cg_state *s)
{
    const ir_term *t = &s->seg[0]->term;
    int cc = X86_CC_NE;
    if (s->flags_live && s->flag_reg == t->reg)
        cc = s->flag_cc;
    else
        cgb_test_guest(s, t->reg);
    /* A deferred compare's register is 1 where its condition holds, else
     * 0; mov leaves the flags alone. */
    if (s->defer_cmp && !s->defer_put && !s->defer_known)
        cgb_put_bool(s->c, cgb_host_of(s, t->reg), s->defer_val);
    /* x86 condition codes come in pairs that differ in bit 0. */
    return t->target == s->seg[0]->pc ? cc : cc ^ 1;
}

/* The loop's exit edge: the deferred register gets the negation, the
 * registers go back, on to the other target. */
static void gen_loop_exit(cg_state *s)
{
    const ir_term *t = &s->seg[0]->term;
    if (s->defer_cmp)
        cgb_put_bool(s->c, cgb_host_of(s, t->reg), !s->defer_val);
    writeback(s, s->dirty);
    x86_jmp_sym(s->c, CG_TGT_BLOCK,
                t->target == s->seg[0]->pc ? t->other : t->target);
}

/* Whether only the last op writes the deferred compare's register, so that
 * it holds defer_val on every back edge. */
static bool defer_reg_stays(const cg_state *s)
{
    const ir_block *b = s->seg[0];
    if (!can_defer_cmp(s))
        return false;
    for (uint32_t i = 0; i + 1 < b->nops; i++)
        if (op_writes(&b->ops[i]) && b->ops[i].d == b->term.reg)
            return false;
    return true;
}

/* ---- bounds checks hoisted out of unrolled copies ----------------------- */

/* An access's address register qualifies when the body changes it only by
 * "addi g, g, c": then in copy k the access's address is p + K + k * C,
 * with p the register's value at the copies' head, K the access's offset
 * plus the steps before it and C the step per iteration.  For each
 * register and size the head checks the least and the greatest K + k * C
 * (both within +-2^30, so the addresses in between cannot wrap around and
 * lie between them: guest memory, a host mapping, is far smaller than
 * 2^64 - 2^30); when either fails, the loop runs one checked iteration
 * instead. */
#define HOIST_LIMIT (1LL << 24)

typedef struct hoist_range {
    unsigned reg, k;
    int64_t lo, hi;
} hoist_range;

bool cgb_hoisted(const cg_state *s, unsigned g, unsigned k)
{
    for (unsigned i = 0; i < s->nhoist; i++)
        if (s->hoist[i].reg == g && s->hoist[i].kmask & 1u << k)
            return true;
    return false;
}

static bool small(int64_t v)
{
    return v > -HOIST_LIMIT && v < HOIST_LIMIT;
}

/* The per-iteration step of register g, or false if the body changes it
 * otherwise than by small addi steps or accesses memory through it at an
 * offset that is not small (every access through a hoisted register and
 * size goes unchecked in the copies, so each must be in the range). */
static bool loop_step(const ir_block *b, unsigned g, int64_t *step)
{
    int64_t c = 0;
    for (uint32_t i = 0; i < b->nops; i++) {
        const ir_op *op = &b->ops[i];
        if ((op->op == IR_LOAD || op->op == IR_STORE) && op->a == g &&
            !small((int64_t)op->imm))
            return false;
        if (!op_writes(op) || op->d != g)
            continue;
        if (op->op != IR_ADDI || op->a != g || !small((int64_t)op->imm))
            return false;
        c += (int64_t)op->imm;
    }
    *step = c;
    return small(c);
}

/* Fills r with the ranges to check for u copies (at most max); returns how
 * many. */
static unsigned hoist_ranges(const ir_block *b, unsigned u, hoist_range *r,
                             unsigned max)
{
    unsigned n = 0;
    int64_t pre[IR_NREGS];              /* steps taken so far, per register */
    memset(pre, 0, sizeof pre);
    for (uint32_t i = 0; i < b->nops; i++) {
        const ir_op *op = &b->ops[i];
        /* Exact for the registers that qualify (all their steps small, at
         * most UNROLL_MAX_OPS of them); ignored for the others. */
        if (op->op == IR_ADDI && op->d == op->a && small((int64_t)op->imm))
            pre[op->d] += (int64_t)op->imm;
        if (op->op != IR_LOAD && op->op != IR_STORE)
            continue;
        int64_t step;
        if (!loop_step(b, op->a, &step))
            continue;
        int64_t first = (int64_t)op->imm + pre[op->a];
        int64_t last = first + (int64_t)(u - 1) * step;
        unsigned k = cgb_mt_log2(op->mt), j = 0;
        while (j < n && (r[j].reg != op->a || r[j].k != k))
            j++;
        if (j == n) {
            if (n == max)
                continue;
            r[n++] = (hoist_range){ op->a, k, first, first };
        }
        int64_t lo = first < last ? first : last;
        int64_t hi = first < last ? last : first;
        if (lo < r[j].lo)
            r[j].lo = lo;
        if (hi > r[j].hi)
            r[j].hi = hi;
    }
    return n;
}

/* Whether guest register g + off is a valid address for 1 << k bytes, or
 * jae fail. */
static void check_at(cg_state *s, unsigned g, unsigned k, int64_t off,
                     uint32_t fail)
{
    int R = cgb_addr(s, g, (uint64_t)off);
    x86_rm(s->c, OPC_ARITH_GvEv | ARITH_CMP << 3 | P_REXW, R, X86_RBX,
           CPU_OFF_BOUND(k));
    x86_patch32(s->c, x86_jcc32_fwd(s->c, X86_CC_AE), fail);
}

/* The checks at the head of the unrolled copies, each failing to fail;
 * records what they cover in s->hoist. */
static void hoist_checks(cg_state *s, unsigned u, uint32_t fail)
{
    hoist_range r[4];
    unsigned n = hoist_ranges(s->seg[0], u, r, 4);
    s->nhoist = 0;
    for (unsigned i = 0; i < n; i++) {
        check_at(s, r[i].reg, r[i].k, r[i].lo, fail);
        if (r[i].hi != r[i].lo)
            check_at(s, r[i].reg, r[i].k, r[i].hi, fail);
        unsigned j = 0;
        while (j < s->nhoist && s->hoist[j].reg != r[i].reg)
            j++;
        if (j == s->nhoist) {
            s->hoist[j].reg = (uint8_t)r[i].reg;
            s->hoist[j].kmask = 0;
            s->nhoist++;
        }
        s->hoist[j].kmask |= (uint8_t)(1u << r[i].k);
    }
}

/* ---- exit tests that the copies' head does once -------------------------- */

/* A conditional self loop that goes on while its last op's compare holds
 * is counted when that compare is between an induction register I, which
 * the body changes only by small addi steps (C per iteration, not 0), and
 * a register N that the body does not write, in one of these forms:
 *   cmpltu / cmplt  d, I, N   with C > 0   (counting up to N)
 *   cmpltu / cmplt  d, N, I   with C < 0   (counting down to N)
 *   cmpne d, I, N  or  d, N, I  with C = +1 or -1
 * Copy k of the U copies tests I0 + (k + 1) C, I0 being I at the copies'
 * head, and the values I0 + C ... I0 + (U - 1) C lie between I0 and
 * I0 + (U - 1) C without wrapping around (the head checks that it does not
 * wrap).  So one test at the head shows that the first U - 1 copies all go
 * on, and they leave out the compare and its exit; the last copy keeps
 * both.  When the head's test fails, the loop runs one checked iteration
 * instead, as for a failed bounds check.  The compare's register holds
 * defer_val all through the copies (defer_known). */
enum { CNT_LTU_UP, CNT_LT_UP, CNT_LTU_DOWN, CNT_LT_DOWN, CNT_NE };

typedef struct counted {
    int kind;
    unsigned i, n;
    int64_t step;
} counted;

static bool writes_reg(const ir_block *b, unsigned g)
{
    for (uint32_t k = 0; k < b->nops; k++)
        if (op_writes(&b->ops[k]) && b->ops[k].d == g)
            return true;
    return false;
}

static bool loop_counted(const cg_state *s, counted *out)
{
    const ir_block *b = s->seg[0];
    if (!loop_is_cond(s) || b->term.target != b->pc || !defer_reg_stays(s))
        return false;
    const ir_op *cmp = &b->ops[b->nops - 1];
    bool ne = cmp->op == IR_CMPNE;
    if (!ne && cmp->op != IR_CMPLTU && cmp->op != IR_CMPLT)
        return false;
    for (int up = 0; up < 2; up++) {        /* I as operand a, then as b */
        unsigned i = up ? cmp->b : cmp->a, n = up ? cmp->a : cmp->b;
        int64_t c;
        if (i == n || writes_reg(b, n) || !loop_step(b, i, &c) || c == 0)
            continue;
        bool fits = ne ? c == 1 || c == -1 : up ? c < 0 : c > 0;
        if (!fits || !small(c * (int64_t)(UNROLL_MAX - 1)))
            continue;
        out->kind = ne                      ? CNT_NE
                    : cmp->op == IR_CMPLTU ? (up ? CNT_LTU_DOWN : CNT_LTU_UP)
                                           : (up ? CNT_LT_DOWN : CNT_LT_UP);
        out->i = i;
        out->n = n;
        out->step = c;
        return true;
    }
    return false;
}

/* At the copies' head: on to fail unless the exit tests of the first u - 1
 * copies all go on.  rax is free here (the bounds checks use it too). */
static void counted_check(cg_state *s, const counted *k, unsigned u,
                          uint32_t fail)
{
    cg_code *c = s->c;
    int32_t span = (int32_t)(k->step * (int64_t)(u - 1));
    if (k->kind == CNT_NE) {
        /* No I0 + j C (1 <= j < u) equals N: the distance from I0 to N in
         * the direction of C, less 1, is at least u - 1 (unsigned). */
        cgb_mov_to(s, X86_RAX, cgb_opnd_of(s, k->step > 0 ? k->n : k->i));
        cgb_op_ro(s, OPC_ARITH_GvEv | ARITH_SUB << 3 | P_REXW, X86_RAX,
                  cgb_opnd_of(s, k->step > 0 ? k->i : k->n));
        x86_arith_ri(c, ARITH_SUB, X86_RAX, 1);
        x86_arith_ri(c, ARITH_CMP, X86_RAX, (int32_t)(u - 1));
        x86_patch32(c, x86_jcc32_fwd(c, X86_CC_B), fail);
        return;
    }
    /* rax = I0 + (u - 1) C, failing on wrap-around (unsigned: a carry or
     * borrow; signed: overflow), then the last test itself. */
    bool sgn = k->kind == CNT_LT_UP || k->kind == CNT_LT_DOWN;
    cgb_mov_to(s, X86_RAX, cgb_opnd_of(s, k->i));
    if (k->step > 0)
        x86_arith_ri(c, ARITH_ADD, X86_RAX, span);
    else
        x86_arith_ri(c, ARITH_SUB, X86_RAX, -span);
    x86_patch32(c, x86_jcc32_fwd(c, sgn ? X86_CC_O : X86_CC_B), fail);
    cgb_op_ro(s, OPC_ARITH_GvEv | ARITH_CMP << 3 | P_REXW, X86_RAX,
              cgb_opnd_of(s, k->n));
    static const int fails[] = {
        [CNT_LTU_UP] = X86_CC_AE,   /* not rax < N */
        [CNT_LT_UP] = X86_CC_GE,
        [CNT_LTU_DOWN] = X86_CC_BE, /* not N < rax */
        [CNT_LT_DOWN] = X86_CC_LE,
    };
    x86_patch32(c, x86_jcc32_fwd(c, fails[k->kind]), fail);
}

/* The cache slots whose steps the copies of a counted loop sum up (see
 * step_slots): none unless every access is hoisted, for then, with the
 * exit tests gone, nothing in the copies stops; else those of the cached
 * registers that qualify as in loop_step and that only accesses (as the
 * address) and their own steps read, apart from the last compare, which
 * comes after the sums are done. */
static unsigned foldable_steps(const cg_state *s)
{
    const ir_block *b = s->seg[0];
    unsigned slots = 0, read = 0;
    for (uint32_t i = 0; i < b->nops; i++) {
        const ir_op *op = &b->ops[i];
        bool access = op->op == IR_LOAD || op->op == IR_STORE;
        if (access && !cgb_hoisted(s, op->a, cgb_mt_log2(op->mt)))
            return 0;
        int64_t step;
        int slot = s->slot_of[op->d];
        if (op->op == IR_ADDI && op->d == op->a && slot >= 0 &&
            loop_step(b, op->d, &step))
            slots |= 1u << slot;
        unsigned regs[3];
        int n = i + 1 < b->nops ? op_reads(op, regs) : 0;
        for (int r = 0; r < n; r++) {
            bool own = r == 0 && (access || (op->op == IR_ADDI &&
                                             op->d == op->a));
            if (!own && s->slot_of[regs[r]] >= 0)
                read |= 1u << s->slot_of[regs[r]];
        }
    }
    return slots & ~read;
}

/* Does the steps that step_slots summed up, and stops summing. */
static void flush_steps(cg_state *s)
{
    for (unsigned k = 0; k < NCACHE; k++)
        if (s->step_slots & 1u << k && s->pend[k] != 0) {
            x86_arith_ri(s->c, ARITH_ADD, cgb_cache_regs[k],
                         (int32_t)s->pend[k]);
            s->dirty |= 1u << k;
        }
    s->step_slots = 0;
    memset(s->pend, 0, sizeof s->pend);
}

/* A self loop after its entry's budget check and loads:
 *
 *     jmp body
 *   undo:  add r14, U             (fewer than U blocks may start, or
 *                                  an access may fail)
 *   head:  sub r14, 1; jb stop
 *   body:  ops; jcc unrolled; exit: write back, jmp other
 *   unrolled: sub r14, U; jb undo; hoisted bounds checks (jae undo);
 *          a counted loop's test (jcc undo)
 *          U times: ops; exit test (the last: jcc unrolled; jmp exit;
 *          a counted loop's others: neither the compare nor the test)
 *
 * An exit or fault in copy k gives back the U - 1 - k iterations that
 * did not start.  Without unrolling the body's back edge goes to head. */
static void gen_self_loop(cg_state *s)
{
    cg_code *c = s->c;
    bool cond = loop_is_cond(s);
    unsigned u = unroll_count(s->seg[0]);
    bool unroll = u > 1;
    uint32_t to_body = x86_jmp8_fwd(c), undo = 0, back = 0, exit_tail = 0;
    if (unroll) {
        undo = x86_here(c);
        x86_arith_ri(c, ARITH_ADD, X86_R14, (int32_t)u);
    }
    uint32_t head = x86_here(c);
    x86_arith_ri(c, ARITH_SUB, X86_R14, 1);
    cgb_jcc_cold(s, X86_CC_B, COLD_BUDGET, s->dirty);
    x86_patch8(c, to_body, x86_here(c));
    gen_loop_ops(s, false);
    if (!unroll) {
        if (cond) {
            x86_patch32(c, x86_jcc32_fwd(c, loop_continue_cc(s)), head);
            gen_loop_exit(s);
        } else {
            x86_jmp_back(c, head);
        }
        return;
    }
    if (cond) {
        back = x86_jcc32_fwd(c, loop_continue_cc(s));
        exit_tail = x86_here(c);
        gen_loop_exit(s);
    } else {
        back = x86_jmp32_fwd(c);
    }

    x86_align(c, 16);     /* blocks start 16-byte aligned in the image */
    uint32_t unrolled = x86_here(c);
    x86_patch32(c, back, unrolled);
    x86_arith_ri(c, ARITH_SUB, X86_R14, (int32_t)u);
    x86_patch32(c, x86_jcc32_fwd(c, X86_CC_B), undo);
    hoist_checks(s, u, undo);
    counted cnt;
    bool is_counted = loop_counted(s, &cnt);
    if (is_counted)
        counted_check(s, &cnt, u, undo);
    uint32_t mid[UNROLL_MAX];
    s->defer_known = cond && defer_reg_stays(s);
    s->step_slots = is_counted ? foldable_steps(s) : 0;
    for (unsigned k = 0; k < u; k++) {
        s->refund = u - 1 - k;
        bool goes_on = is_counted && k + 1 < u;   /* known to, that is */
        if (is_counted && !goes_on) {     /* the last copy */
            gen_loop_ops(s, true);
            flush_steps(s);
            gen_loop_op(s, s->seg[0]->nops - 1);
        } else {
            gen_loop_ops(s, goes_on);
        }
        if (!cond) {
            if (k + 1 == u)
                x86_jmp_back(c, unrolled);
            continue;
        }
        if (goes_on)
            continue;
        int cc = loop_continue_cc(s);
        if (k + 1 < u) {
            mid[k] = x86_jcc32_fwd(c, cc ^ 1);
        } else {
            x86_patch32(c, x86_jcc32_fwd(c, cc), unrolled);
            x86_jmp_back(c, exit_tail);
        }
    }
    s->refund = 0;
    s->defer_known = false;
    s->nhoist = 0;
    if (cond && !is_counted)
        for (unsigned k = 0; k + 1 < u; k++) {
            x86_patch32(c, mid[k], x86_here(c));
            x86_arith_ri(c, ARITH_ADD, X86_R14, (int32_t)(u - 1 - k));
            x86_jmp_back(c, exit_tail);
        }
}

/* ---- entry points ------------------------------------------------------ */

static int check_block(const ir_block *b, aotb_diag *d)
{
    for (uint32_t i = 0; i < b->nops; i++) {
        const ir_op *op = &b->ops[i];
        if (op->op >= IR_NUM_OPS) {
            diag_add(d, "block 0x%016" PRIx64 ": op %u: invalid opcode %u",
                     b->pc, i, op->op);
            return -1;
        }
        if ((op->op == IR_LOAD || op->op == IR_STORE) &&
            op->mt >= IR_NUM_MEMTYPES) {
            diag_add(d, "block 0x%016" PRIx64 ": op %u: invalid memory type",
                     b->pc, i);
            return -1;
        }
        if ((op->op == IR_SLLI || op->op == IR_SRLI || op->op == IR_SRAI) &&
            op->imm > 63) {
            diag_add(d, "block 0x%016" PRIx64 ": op %u: shift out of range",
                     b->pc, i);
            return -1;
        }
    }
    if (b->term.kind > IR_T_INTERRUPT) {
        diag_add(d, "block 0x%016" PRIx64 ": invalid terminator %u", b->pc,
                 b->term.kind);
        return -1;
    }
    return 0;
}

static int finish(cg_code *out, int oom, aotb_diag *d)
{
    if (oom || out->code.oom || out->code.len > INT32_MAX) {
        diag_add(d, "code generator: out of memory");
        cg_code_free(out);
        return -1;
    }
    return 0;
}

/* Superblock: while the last block ends in "jmp T" and T is small, T's ops
 * are compiled right after it (no jump, registers stay cached).  T still
 * counts as a block of its own: a budget check at the seam stops with pc =
 * T, and faults inside it report T.  A block is folded at most once per
 * chain, so loops end the chain. */
static void fold_chain(cg_state *s, const cg_options *o, cg_find_fn find,
                       void *find_ctx)
{
    if (!o || !o->fold_max_ops || !find)
        return;
    while (s->nseg < MAX_SEGS) {
        const ir_block *last = s->seg[s->nseg - 1];
        if (last->term.kind != IR_T_JMP)
            return;
        const ir_block *t = find(find_ctx, last->term.target);
        if (!t || t->nops > o->fold_max_ops || t->pc != last->term.target)
            return;
        aotb_diag quiet = {0};
        int bad = check_block(t, &quiet);   /* an invalid block is not folded */
        diag_free(&quiet);
        if (bad)
            return;
        for (unsigned g = 0; g < s->nseg; g++)
            if (s->seg[g]->pc == t->pc)
                return;
        s->seg[s->nseg++] = t;
    }
}

int cg_compile_block(const ir_block *b, const cg_options *o, cg_find_fn find,
                     void *find_ctx, cg_code *out, aotb_diag *d)
{
    memset(out, 0, sizeof *out);
    out->pc = b->pc;

    cg_state s;
    memset(&s, 0, sizeof s);
    s.c = out;
    s.seg[0] = b;
    s.nseg = 1;
    fold_chain(&s, o, find, find_ctx);
    for (unsigned g = 0; g < s.nseg; g++)
        if (check_block(s.seg[g], d) != 0)
            return -1;
    if (s.nseg > 1) {
        out->deps = xcalloc(s.nseg - 1, sizeof *out->deps);
        if (!out->deps) {
            diag_add(d, "code generator: out of memory");
            return -1;
        }
        for (unsigned g = 1; g < s.nseg; g++)
            out->deps[out->ndeps++] = s.seg[g]->pc;
    }
    /* Room for a typical block at once (it would grow 64, 128, 256...);
     * a failure shows as out of memory in finish(). */
    buf_reserve(&out->code, 16 * (b->nops + 8));
    bool loop = is_self_loop(&s);
    unsigned live_in = alloc_regs(&s, loop);
    if (loop) {
        live_in = 0;
        for (int k = 0; k < NCACHE; k++)
            if (s.guest_of[k] >= 0)
                live_in |= 1u << k;
        s.dirty = written_slots(&s);
    }

    /* Budget: r14 = blocks that may still start. */
    s.pc = b->pc;
    x86_arith_ri(out, ARITH_SUB, X86_R14, 1);
    cgb_jcc_cold(&s, X86_CC_B, COLD_BUDGET, 0);
    for (int k = 0; k < NCACHE; k++)
        if (live_in & 1u << k)
            x86_ld(out, cgb_cache_regs[k], X86_RBX, CPU_OFF_R(s.guest_of[k]));
    if (loop) {
        gen_self_loop(&s);
    } else {
        for (unsigned g = 0; g < s.nseg; g++) {
            const ir_block *sb = s.seg[g];
            if (g > 0) {
                /* The seam: the folded block starts here, as if jumped
                 * to. */
                s.pc = sb->pc;
                s.flags_live = false;           /* sub clobbers them */
                x86_arith_ri(out, ARITH_SUB, X86_R14, 1);
                cgb_jcc_cold(&s, X86_CC_B, COLD_BUDGET, s.dirty);
            }
            for (uint32_t i = 0; i < sb->nops; i++)
                cgb_gen_op(&s, &sb->ops[i]);
        }
        gen_term(&s);
    }
    emit_cold_paths(&s);

    for (size_t i = 0; i < s.ncold; i++)
        free(s.cold[i].sites);
    free(s.cold);
    return finish(out, s.oom, d);
}

/* hlim = hrsp - 8 * min(HOST_FRAMES, rcap - r13), or hrsp when r13 >=
 * rcap: a call finds rsp at or below it when the host frames have to be
 * dropped.  Uses rax, rcx. */
static void emit_hlim(cg_code *out)
{
    x86_ld(out, X86_RAX, X86_RBX, CPU_OFF_RCAP);
    x86_rr(out, OPC_ARITH_GvEv | ARITH_SUB << 3 | P_REXW, X86_RAX, X86_R13);
    x86_movi(out, X86_RCX, HOST_FRAMES);
    x86_rr(out, OPC_ARITH_GvEv | ARITH_CMP << 3 | P_REXW, X86_RAX, X86_RCX);
    x86_rr(out, (OPC_CMOVCC + X86_CC_G) | P_REXW, X86_RAX, X86_RCX);
    x86_rr(out, OPC_ARITH_GvEv | ARITH_XOR << 3, X86_RCX, X86_RCX);
    x86_rr(out, OPC_TEST_EvGv | P_REXW, X86_RAX, X86_RAX);
    x86_rr(out, (OPC_CMOVCC + X86_CC_L) | P_REXW, X86_RAX, X86_RCX);
    x86_rr(out, OPC_SHIFT_Ib | P_REXW, SHIFT_SHL, X86_RAX);
    x86_imm8(out, 3);
    x86_ld(out, X86_RCX, X86_RBX, CPU_OFF_HRSP);
    x86_rr(out, OPC_ARITH_GvEv | ARITH_SUB << 3 | P_REXW, X86_RCX, X86_RAX);
    x86_st(out, X86_RCX, X86_RBX, CPU_OFF_HLIM);
}

/* Writes the host frames, oldest first, to rstack/hstack (r13 grows by
 * their number; hlim keeps them within rcap) and drops them.  Each is the
 * return address of a call (a jmp to R's code: hstack's entry) with R's
 * guest pc RET_PC_AT bytes on (rstack's).  Uses rax, rsi, rdi, r8. */
static void emit_spill(cg_code *out)
{
    x86_ld(out, X86_RSI, X86_RBX, CPU_OFF_HRSP);
    x86_ld(out, X86_RDI, X86_RBX, CPU_OFF_RSTACK);
    x86_ld(out, X86_R8, X86_RBX, CPU_OFF_HSTACK);
    uint32_t loop = x86_here(out);
    x86_arith_ri(out, ARITH_SUB, X86_RSI, 8);
    x86_rr(out, OPC_ARITH_GvEv | ARITH_CMP << 3 | P_REXW, X86_RSI, X86_RSP);
    uint32_t to_done = x86_jcc8_fwd(out, X86_CC_B);
    x86_ld(out, X86_RAX, X86_RSI, 0);
    x86_rmx(out, OPC_MOVL_EvGv | P_REXW, X86_RAX, X86_R8, X86_R13, 3, 0);
    x86_ld(out, X86_RAX, X86_RAX, RET_PC_AT);
    x86_rmx(out, OPC_MOVL_EvGv | P_REXW, X86_RAX, X86_RDI, X86_R13, 3, 0);
    x86_arith_ri(out, ARITH_ADD, X86_R13, 1);
    x86_jmp_back(out, loop);
    x86_patch8(out, to_done, x86_here(out));
    x86_ld(out, X86_RSP, X86_RBX, CPU_OFF_HRSP);
}

int cg_compile_runtime(cg_code *out, aotb_diag *d)
{
    static const int saved[] = { X86_RBX, X86_RBP, X86_R12, X86_R13, X86_R14,
                                 X86_R15 };
    const int nsaved = (int)(sizeof saved / sizeof saved[0]);
    memset(out, 0, sizeof *out);

    /* enter(cpu = rdi, code = rsi) */
    out->defs[out->ndefs].sym = CG_RT_ENTER;
    out->defs[out->ndefs++].offset = x86_here(out);
    for (int i = 0; i < nsaved; i++)
        x86_op(out, OPC_PUSH_r, saved[i]);
    x86_mov_rr(out, X86_RBX, X86_RDI);
    x86_ld(out, X86_R12, X86_RBX, CPU_OFF_MEM);
    x86_ld(out, X86_R13, X86_RBX, CPU_OFF_RSP);
    x86_ld(out, X86_R14, X86_RBX, CPU_OFF_BUDGET);
    /* Host calls: a guest call is a host call to the callee's code and a
     * guest ret a host ret, which the CPU's return predictor gets right,
     * where an indirect jmp through hstack often missed.  The host frames
     * of this entry, each the return address of one guest call, lie
     * between rsp and hrsp, above them in rstack/hstack the older frames.
     * They are written to rstack/hstack (spill) only when they are
     * dropped: at a call with HOST_FRAMES of them already, or with no
     * room left for them in the return stack (hlim; deep), and at every
     * stop (exit), so the return stack is exact whenever the interpreter
     * or the caller sees it.  A ret with no host frame left pops rstack/
     * hstack (pop). */
    x86_st(out, X86_RSP, X86_RBX, CPU_OFF_HRSP);
    emit_hlim(out);
    uint32_t deep_lea = x86_lea_fwd(out, X86_RAX);
    x86_st(out, X86_RAX, X86_RBX, CPU_OFF_HDEEP);
    uint32_t pop_lea = x86_lea_fwd(out, X86_RAX);
    x86_st(out, X86_RAX, X86_RBX, CPU_OFF_HPOP);
    x86_rr(out, OPC_GRP5, EXT5_JMPN_Ev, X86_RSI);

    /* deep (rdx = where to go on in the block): eax = 1 when the host
     * frames do not fit in the return stack, else they are spilled and
     * eax = 0. */
    x86_patch32(out, deep_lea, x86_here(out));
    x86_ld(out, X86_RAX, X86_RBX, CPU_OFF_HRSP);
    x86_rr(out, OPC_ARITH_GvEv | ARITH_SUB << 3 | P_REXW, X86_RAX, X86_RSP);
    x86_rr(out, OPC_SHIFT_Ib | P_REXW, SHIFT_SHR, X86_RAX);
    x86_imm8(out, 3);
    x86_rr(out, OPC_ARITH_GvEv | ARITH_ADD << 3 | P_REXW, X86_RAX, X86_R13);
    x86_rm(out, OPC_ARITH_GvEv | ARITH_CMP << 3 | P_REXW, X86_RAX, X86_RBX,
           CPU_OFF_RCAP);
    uint32_t to_full = x86_jcc8_fwd(out, X86_CC_AE);
    emit_spill(out);
    emit_hlim(out);
    x86_rr(out, OPC_ARITH_GvEv | ARITH_XOR << 3, X86_RAX, X86_RAX);
    x86_rr(out, OPC_GRP5, EXT5_JMPN_Ev, X86_RDX);
    x86_patch8(out, to_full, x86_here(out));
    x86_movi(out, X86_RAX, 1);
    x86_rr(out, OPC_GRP5, EXT5_JMPN_Ev, X86_RDX);

    /* pop (r13 > 0): the return stack's top frame. */
    x86_patch32(out, pop_lea, x86_here(out));
    x86_arith_ri(out, ARITH_SUB, X86_R13, 1);
    x86_ld(out, X86_RCX, X86_RBX, CPU_OFF_HSTACK);
    x86_rmx(out, OPC_GRP5, EXT5_JMPN_Ev, X86_RCX, X86_R13, 3, 0);

    /* lookup(pc in cpu->pc): probes the hash table rt_run put in the cpu
     * struct (see rt_slot in runtime.h) and jumps to the block on a hit,
     * where the block's own budget check runs as on any arrival.  Guest
     * data becomes a host address only through a slot whose key is exactly
     * the pc.  An empty slot is a miss: it falls through into exit with
     * status LOOKUP, and rt_run reports nocode as before.  rax, rcx, rdx
     * and rsi are free here (blocks wrote their registers back and load
     * them again at entry); r12..r14 are kept. */
    /* return lookup: the return pc of the frame just popped (r13 is its
     * index) becomes cpu->pc, and on into lookup. */
    out->ret_lookup = x86_here(out);
    x86_ld(out, X86_RCX, X86_RBX, CPU_OFF_RSTACK);
    x86_rmx(out, OPC_MOVL_GvEv | P_REXW, X86_RCX, X86_RCX, X86_R13, 3, 0);
    x86_st(out, X86_RCX, X86_RBX, CPU_OFF_PC);
    /* falls through into lookup */

    out->defs[out->ndefs].sym = CG_RT_LOOKUP;
    out->defs[out->ndefs++].offset = x86_here(out);
    x86_ld(out, X86_RAX, X86_RBX, CPU_OFF_PC);
    x86_mov_rr(out, X86_RDX, X86_RAX);                  /* rt_hash(pc) */
    x86_rr(out, OPC_SHIFT_Ib | P_REXW, SHIFT_SHR, X86_RDX);
    x86_imm8(out, 32);
    x86_rr(out, OPC_ARITH_GvEv | ARITH_XOR << 3 | P_REXW, X86_RDX, X86_RAX);
    x86_movi(out, X86_RCX, RT_HASH_MUL);
    x86_rr(out, OPC_IMUL_GvEv | P_REXW, X86_RDX, X86_RCX);
    x86_ld(out, X86_RCX, X86_RBX, CPU_OFF_LKP_SHIFT);
    x86_rr(out, OPC_SHIFT_cl | P_REXW, SHIFT_SHR, X86_RDX);
    x86_rm(out, OPC_ARITH_GvEv | ARITH_AND << 3 | P_REXW, X86_RDX, X86_RBX,
           CPU_OFF_LKP_MASK);                           /* slot offset */
    x86_ld(out, X86_RCX, X86_RBX, CPU_OFF_LKP_TABLE);
    uint32_t probe = x86_here(out);
    x86_rmx(out, OPC_MOVL_GvEv | P_REXW, X86_RSI, X86_RCX, X86_RDX, 0,
            (int32_t)offsetof(rt_slot, code));
    x86_rr(out, OPC_TEST_EvGv | P_REXW, X86_RSI, X86_RSI);
    uint32_t to_miss = x86_jcc8_fwd(out, X86_CC_E);
    x86_rmx(out, OPC_ARITH_GvEv | ARITH_CMP << 3 | P_REXW, X86_RAX, X86_RCX,
            X86_RDX, 0, (int32_t)offsetof(rt_slot, pc));
    uint32_t to_next = x86_jcc8_fwd(out, X86_CC_NE);
    x86_rr(out, OPC_GRP5, EXT5_JMPN_Ev, X86_RSI);       /* hit */
    x86_patch8(out, to_next, x86_here(out));
    x86_arith_ri(out, ARITH_ADD, X86_RDX, (int32_t)sizeof(rt_slot));
    x86_rm(out, OPC_ARITH_GvEv | ARITH_AND << 3 | P_REXW, X86_RDX, X86_RBX,
           CPU_OFF_LKP_MASK);
    x86_jmp_back(out, probe);
    x86_patch8(out, to_miss, x86_here(out));
    x86_st_imm32(out, X86_RBX, CPU_OFF_STATUS, AOTB_ST_LOOKUP);
    /* falls through into exit */

    out->defs[out->ndefs].sym = CG_RT_EXIT;
    out->defs[out->ndefs++].offset = x86_here(out);
    emit_spill(out);                                    /* no host frames */
    x86_st(out, X86_R14, X86_RBX, CPU_OFF_BUDGET);
    x86_st(out, X86_R13, X86_RBX, CPU_OFF_RSP);
    x86_rm(out, OPC_MOVL_GvEv, X86_RAX, X86_RBX, CPU_OFF_STATUS);
    for (int i = nsaved - 1; i >= 0; i--)
        x86_op(out, OPC_POP_r, saved[i]);
    x86_op(out, OPC_RET, X86_NOREG);
    return finish(out, 0, d);
}

int cg_compile_missing(uint64_t pc, cg_code *out, aotb_diag *d)
{
    memset(out, 0, sizeof *out);
    out->pc = pc;
    x86_st_imm64(out, X86_RBX, CPU_OFF_PC, pc, X86_RAX);
    x86_jmp_sym(out, CG_TGT_RT, CG_RT_LOOKUP);
    return finish(out, 0, d);
}

void cg_code_free(cg_code *c)
{
    buf_free(&c->code);
    free(c->relocs);
    free(c->deps);
    memset(c, 0, sizeof *c);
}

uint32_t cg_required_features(const cg_options *o)
{
    (void)o;
    return CG_FEAT_X86_64;
}

void cg_feature_names(uint32_t f, char *out, size_t size)
{
    static const char *const names[] = { "x86-64", "bmi2", "lzcnt" };
    size_t len = 0;
    if (size == 0)
        return;
    out[0] = '\0';
    for (unsigned i = 0; i < 32; i++) {
        if (!(f & 1u << i))
            continue;
        char unknown[16];
        const char *n = names[0];
        if (i < sizeof names / sizeof names[0]) {
            n = names[i];
        } else {
            snprintf(unknown, sizeof unknown, "bit%u", i);
            n = unknown;
        }
        int w = snprintf(out + len, size - len, "%s%s", len ? "," : "", n);
        if (w < 0 || (size_t)w >= size - len)
            return;             /* truncated, still NUL-terminated */
        len += (size_t)w;
    }
}

int cg_version(void)
{
    return CG_VERSION;
}

int cg_fingerprint_compatible(const char *fp)
{
    char prefix[64];
    int n = snprintf(prefix, sizeof prefix, "aotb %s codegen %d ", AOTB_VERSION,
                     CG_VERSION);
    return n > 0 && (size_t)n < sizeof prefix &&
           strncmp(fp, prefix, (size_t)n) == 0;
}

void cg_fingerprint(const cg_options *o, char *out, size_t size)
{
    char feats[128];
    cg_feature_names(cg_required_features(o), feats, sizeof feats);
    snprintf(out, size, "aotb %s codegen %d fold=%u features=%s", AOTB_VERSION,
             CG_VERSION, o ? o->fold_max_ops : 0u, feats);
}
