/* cg_block.h: internal to the code generator (codegen.c compiles blocks,
 * codegen_ops.c the ops inside them): the per-block compile state, the
 * guest register cache and the helpers both halves use. */
#ifndef AOTB_CG_BLOCK_H
#define AOTB_CG_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codegen.h"
#include "cpu.h"
#include "x86_emit.h"

/* Host registers that cache guest registers (rsi rdi r8 r9 r10 r11 r15
 * rbp), in allocation order. */
#define NCACHE 8
extern const int cgb_cache_regs[NCACHE];

enum { COLD_BUDGET, COLD_MEMFAULT, COLD_CALLSTACK, COLD_RET };

/* One out-of-line path and the rel32 branch sites that lead to it. */
typedef struct cold_path {
    int kind;
    uint64_t pc;              /* the block reported (folded blocks differ) */
    unsigned dirty;           /* registers to write back */
    int areg;                 /* memory faults: the register holding the
                               * faulting address */
    unsigned refund;          /* budget taken for iterations of an unrolled
                               * loop that did not start, given back */
    uint32_t *sites;
    size_t nsites, cap;
} cold_path;

/* At most this many blocks in one superblock (the block + folded ones). */
#define MAX_SEGS 8

typedef struct cg_state {
    cg_code *c;
    const ir_block *seg[MAX_SEGS];  /* the block, then the blocks folded in */
    unsigned nseg;
    uint64_t pc;                    /* pc of the segment being compiled */
    int16_t slot_of[IR_NREGS];     /* guest reg -> cache slot, or -1 */
    int guest_of[NCACHE];          /* cache slot -> guest reg, or -1 */
    unsigned dirty;                /* bit per cache slot */
    cold_path *cold;
    size_t ncold, coldcap;
    int oom;
    /* Set by a compare as the last op: its flags still hold, and condition
     * flag_cc is true iff guest register flag_reg is non-zero. */
    bool flags_live;
    int flag_cc;
    unsigned flag_reg;
    /* Set by the caller before the last op of a self loop: a compare into
     * the loop condition's (cached) register only sets the flags, and the
     * register gets defer_val (the condition's value on the back edge) and
     * on the exit edge its negation.  The compare puts defer_val first when
     * it reads other registers (defer_put), so the compare and the branch
     * stay adjacent and fuse; else the loop terminator puts it. */
    bool defer_cmp, defer_val, defer_put;
    /* The deferred compare's register already holds defer_val here (the
     * unrolled copies of a loop, entered only by a back edge): nothing
     * puts it again. */
    bool defer_known;
    /* In copy k of a loop unrolled U times: the U - 1 - k iterations that
     * the copy's budget check took but that have not started; a fault
     * gives them back. */
    unsigned refund;
    /* In the unrolled copies of a loop: the accesses through these guest
     * registers with these sizes (bit k: 1 << k bytes) were bounds-checked
     * for all the copies at their head, and check nothing themselves. */
    unsigned nhoist;
    struct { uint8_t reg, kmask; } hoist[4];
    /* In the copies of a counted loop that no copy can leave: the "addi g,
     * g, imm" steps of the guest registers in these cache slots are summed
     * in pend, not done; accesses through them add pend to their offset,
     * and the loop does the sums before its last compare. */
    unsigned step_slots;
    int64_t pend[NCACHE];
} cg_state;

/* An operand: a host register, or the guest register's slot in the cpu
 * struct ([rbx + off]) when reg < 0. */
typedef struct opnd {
    int reg;
    int32_t off;
} opnd;

/* A guest register's cache register, or X86_NOREG; as an operand.  Inline:
 * every operand of every op asks. */
static inline int cgb_host_of(const cg_state *s, unsigned g)
{
    int slot = s->slot_of[g];
    return slot < 0 ? X86_NOREG : cgb_cache_regs[slot];
}

static inline opnd cgb_opnd_of(const cg_state *s, unsigned g)
{
    return (opnd){ cgb_host_of(s, g), CPU_OFF_R(g) };
}

/* The steps of guest register g not yet done (see step_slots). */
static inline int64_t cgb_pending(const cg_state *s, unsigned g)
{
    int slot = s->slot_of[g];
    return slot >= 0 && s->step_slots & 1u << slot ? s->pend[slot] : 0;
}

/* opc r, operand (register-direct or [rbx + off]). */
void cgb_op_ro(cg_state *s, int opc, int r, opnd o);
/* The operand in a register: its cache register, or loaded into scratch. */
int cgb_in_reg(cg_state *s, opnd o, int scratch);
void cgb_mov_to(cg_state *s, int dst, opnd src);
/* Where an op computes its result: the destination's cache register, or
 * rax for an uncached destination; and the step that files it. */
static inline int cgb_dst_reg(const cg_state *s, unsigned d)
{
    int h = cgb_host_of(s, d);
    return h >= 0 ? h : X86_RAX;
}

void cgb_dst_done(cg_state *s, unsigned d, int reg);
/* A jcc rel32 to an out-of-line stop of this kind (COLD_*). */
void cgb_jcc_cold(cg_state *s, int cc, int kind, unsigned dirty);
/* A jcc rel32 to the memory fault stop, the address being in host register
 * areg, with the current dirty set. */
void cgb_jcc_memfault(cg_state *s, int cc, int areg);

/* reg = v (0 or 1), by a mov that leaves the flags alone. */
void cgb_put_bool(cg_code *c, int reg, bool v);

/* The address g + imm in a register (g's cache register, or rax). */
int cgb_addr(cg_state *s, unsigned g, uint64_t imm);

/* log2 of the size of an access of memory type mt. */
static inline unsigned cgb_mt_log2(unsigned mt)
{
    static const uint8_t lg[IR_NUM_MEMTYPES] = {
        [IR_U8] = 0, [IR_S8] = 0, [IR_U16] = 1, [IR_S16] = 1,
        [IR_U32] = 2, [IR_S32] = 2, [IR_U64] = 3,
    };
    return lg[mt];
}

/* Whether accesses of 1 << k bytes through guest register g are covered by
 * the checks at the head of an unrolled loop. */
bool cgb_hoisted(const cg_state *s, unsigned g, unsigned k);

/* codegen_ops.c: one op; ZF from a guest register (ZF = 1 iff zero). */
void cgb_gen_op(cg_state *s, const ir_op *op);
void cgb_test_guest(cg_state *s, unsigned g);

#endif
