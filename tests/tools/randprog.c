/* randprog.c: a random .vir program generator for the differential test
 * (tests/e2e/test_differential.sh): native code vs the reference interpreter.
 *
 *   randprog SEED [--blocks N] [--ops N]          one program on stdout
 *   randprog --out DIR FIRST COUNT [--blocks N] [--ops N]
 *                                                 DIR/FIRST.vir ... one per seed
 *
 * The output for a seed is deterministic (our own splitmix64, never rand()).
 * The first line of every program is a comment naming the run options the
 * program is meant to be run with, the second the options for compiling it:
 *     ; opts: --max-blocks 1234 --set r3=0x10 --dump-mem 0x100:32
 *     ; compile: --fold 4
 * so a failing program carries everything needed to reproduce it.
 *
 * What it aims at: every op and terminator of the IR, special values (0, -1,
 * INT64_MIN, shift counts 63/64, powers of two), division by zero and
 * INT64_MIN / -1, loads and stores in bounds, at the very end of memory,
 * wrapping around 2^64 and far outside, computed jumps to blocks, to missing
 * and to host-looking addresses, calls and returns (sometimes deep recursion
 * up to and past the return stack's capacity), direct jumps to missing
 * blocks, every data statement form, entry statements and odd memory sizes.
 * Control flow is mostly loops between blocks, so programs usually run until
 * the --max-blocks budget stops them. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- random numbers ---------------------------------------------------- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in 0 .. n-1 (n > 0); the tiny modulo bias does not matter here. */
static uint64_t below(uint64_t n)
{
    return n ? rnd() % n : 0;
}

static uint64_t range(uint64_t lo, uint64_t hi)
{
    return lo + below(hi - lo + 1);
}

static int chance(unsigned percent)
{
    return below(100) < percent;
}

/* Picks an index by weight. */
static unsigned pick(const unsigned *w, unsigned n)
{
    unsigned total = 0;
    for (unsigned i = 0; i < n; i++)
        total += w[i];
    uint64_t x = below(total ? total : 1);
    for (unsigned i = 0; i < n; i++) {
        if (x < w[i])
            return i;
        x -= w[i];
    }
    return 0;
}

/* ---- output ------------------------------------------------------------ */

static FILE *out;

static void emit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void emit(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(out, fmt, ap);
    va_end(ap);
}

/* Number formatting.  A few rotating buffers so several numbers can appear in
 * one emit() call. */
static char numbuf[8][48];
static unsigned numidx;

static char *nbuf(void)
{
    numidx = (numidx + 1) % 8;
    return numbuf[numidx];
}

/* Digits of v in base 10 or 16, with '_' every `group` digits sometimes. */
static void digits(char *dst, uint64_t v, int hex, int underscores)
{
    char tmp[40];
    int n = 0;
    do {
        unsigned dgt = (unsigned)(hex ? v % 16 : v % 10);
        tmp[n++] = (char)(dgt < 10 ? '0' + dgt : 'a' + dgt - 10);
        v = hex ? v / 16 : v / 10;
    } while (v);
    int group = hex ? 4 : 3, k = 0;
    for (int i = n - 1; i >= 0; i--) {
        dst[k++] = tmp[i];
        if (underscores && i > 0 && i % group == 0)
            dst[k++] = '_';
    }
    dst[k] = '\0';
}

/* An unsigned value, as decimal or hex. */
static const char *fu(uint64_t v)
{
    char *b = nbuf();
    int hex = v > 9 ? chance(70) : 0;
    if (hex) {
        b[0] = '0';
        b[1] = 'x';
        digits(b + 2, v, 1, chance(10));
    } else {
        digits(b, v, 0, chance(5));
    }
    return b;
}

/* A signed value (two's complement of v), as decimal or hex with '-'. */
static const char *fs(uint64_t v)
{
    char *b = nbuf();
    int neg = (int64_t)v < 0;
    uint64_t mag = neg ? (uint64_t)0 - v : v;
    int hex = mag > 9 ? chance(50) : 0;
    char *p = b;
    if (neg)
        *p++ = '-';
    if (hex) {
        *p++ = '0';
        *p++ = 'x';
    }
    digits(p, mag, hex, chance(5));
    return b;
}

/* A value for movi: -2^63 .. 2^64-1, so either form. */
static const char *fany(uint64_t v)
{
    return ((int64_t)v < 0 && chance(40)) ? fs(v) : fu(v);
}

/* ---- program model ----------------------------------------------------- */

#define MAXB 600
#define MAXMISS 16

static uint64_t memsize;
static int has_memory;
static uint64_t blk[MAXB];     /* block pcs, in generation order */
static unsigned nblk;
static uint64_t miss[MAXMISS]; /* addresses that are not blocks */
static unsigned nmiss;
static unsigned hot[24];       /* registers most ops use */
static unsigned nhot;
static uint64_t window;        /* a small memory area most accesses hit */
static uint64_t window_len;
static unsigned maxops;
static unsigned term_w[10];    /* terminator weights for this program */
static unsigned recurse_reg;   /* counter register of the recursion snippet */
static unsigned oob_pct;       /* how often an access aims out of bounds */
static unsigned jmpreg_miss;   /* how often a jmpreg aims at no block */
static unsigned cond_miss;     /* ... and a condjmp or call target */
static int calm;               /* a program that rarely stops early */
static unsigned exit_block;    /* in a calm program: the one block that
                                  may stop the program */

static int is_block(uint64_t pc)
{
    for (unsigned i = 0; i < nblk; i++)
        if (blk[i] == pc)
            return 1;
    return 0;
}

/* An interesting 64-bit value. */
static uint64_t special(void)
{
    static const uint64_t fixed[] = {
        0, 1, 2, 3, 7, 8, 15, 16, 31, 32, 33, 63, 64, 65, 127, 128, 255, 256,
        0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff, 0x100000000,
        0x7fffffffffffffff, 0x8000000000000000, 0x8000000000000001,
        0xffffffffffffffff, 0xfffffffffffffffe, 0xfffffffffffffff0,
        0xffffffff80000000, 0xffffffff7fffffff, 0x00000000ffffff80,
        0x5555555555555555, 0xaaaaaaaaaaaaaaaa, 0x0123456789abcdef,
    };
    switch (below(9)) {
    case 0:
    case 1:
    case 2:
        return fixed[below(sizeof fixed / sizeof fixed[0])];
    case 3:
        return (uint64_t)1 << below(64);
    case 4:
        return ((uint64_t)1 << below(64)) - 1 + (below(3) - 1);
    case 5:
        return (uint64_t)0 - range(1, 20);        /* small negatives */
    case 6:
        return range(0, 300);
    case 7:
        return memsize - range(0, 16) + range(0, 16);
    default:
        return rnd();
    }
}

static unsigned any_reg(void)
{
    switch (below(4)) {
    case 0:
        return (unsigned)range(200, 255);
    case 1:
        return (unsigned)range(16, 127);
    default:
        return (unsigned)below(256);
    }
}

/* A register for an op operand: mostly the hot set so values flow. */
static unsigned reg(void)
{
    return chance(92) ? hot[below(nhot)] : any_reg();
}

/* Some other block, or (rarely, per `missp` percent) a missing address. */
static uint64_t target(unsigned missp)
{
    if (nmiss && chance(missp))
        return miss[below(nmiss)];
    return blk[below(nblk)];
}

static const char *const load_types[] = {"u8", "s8", "u16", "s16", "u32",
                                         "s32", "u64", "s64"};
static const unsigned load_size[] = {1, 1, 2, 2, 4, 4, 8, 8};
static const char *const store_types[] = {"u8", "u16", "u32", "u64",
                                          "s8", "s16", "s32", "s64"};
static const unsigned store_size[] = {1, 2, 4, 8, 1, 2, 4, 8};

static void indent(void)
{
    static const char *const ind[] = {"    ", "\t", "  ", "", "        "};
    emit("%s", ind[chance(85) ? 0 : below(5)]);
}

/* Chooses the effective address of an access of `size` bytes and emits the
 * ops that set the base register; fills *base and *imm. */
static void address(unsigned size, unsigned *base, uint64_t *imm)
{
    uint64_t addr;
    /* oob_pct of the accesses pick from the (mostly) out-of-bounds modes */
    unsigned mode = chance(oob_pct) ? (unsigned)range(55, 99)
                                    : (unsigned)below(55);
    *base = reg();
    if (mode >= 93) {
        /* whatever the register holds now (data flow), small offset */
        *imm = chance(50) ? 0 : special() & 0xff;
        return;
    }
    if (mode < 55) {
        /* in bounds, mostly in the window */
        uint64_t lim = memsize >= size ? memsize - size : 0;
        if (memsize >= size && chance(70) && window + size <= memsize) {
            uint64_t wl = window_len > size ? window_len - size : 0;
            addr = window + below(wl + 1);
        } else {
            addr = below(lim + 1);
        }
    } else if (mode < 72) {
        /* around the end of memory: memsize-8 .. memsize+8 */
        addr = memsize - size + range(0, 16) - 8;
    } else if (mode < 80) {
        /* near 0, often via a negative offset that wraps */
        addr = range(0, 16) - 8;
    } else if (mode < 87) {
        /* around 2^64, where addr + size overflows */
        addr = (uint64_t)0 - range(1, 16);
    } else {
        /* huge or host-looking */
        static const uint64_t far[] = {
            0x7fffffffffffffff, 0x8000000000000000, 0x00007ffff7dd1000,
            0x0000555555554000, 0x400000, 0xffffffff81000000,
            0x100000000, 0xffffffff,
        };
        addr = chance(50) ? far[below(8)] : rnd();
        if (chance(30))
            addr = memsize + special();
    }
    /* split addr into base value + imm, sometimes wrapping around 2^64 */
    switch (below(5)) {
    case 0:
    case 1:
        *imm = 0;
        break;
    case 2:
        *imm = range(0, 64);
        break;
    case 3:
        *imm = (uint64_t)0 - range(1, 64);
        break;
    default:
        *imm = special();
        break;
    }
    indent();
    emit("movi r%u, %s\n", *base, fany(addr - *imm));
}

/* "[rA]", "[rA + imm]" or "[rA - imm]". */
static const char *addr_text(unsigned base, uint64_t imm)
{
    char *b = nbuf();
    if (imm == 0 && chance(70))
        snprintf(b, 48, "[r%u]", base);
    else if ((int64_t)imm < 0 && chance(70))
        snprintf(b, 48, "[r%u - %s]", base, fu((uint64_t)0 - imm));
    else if ((int64_t)imm < 0)  /* the offset is taken modulo 2^64 */
        snprintf(b, 48, "[r%u + %s]", base, fu(imm));
    else
        snprintf(b, 48, "[r%u + %s]", base, fs(imm));
    return b;
}

enum { O_NOP, O_ALU, O_DIV, O_NOT, O_SHIFT, O_IMM, O_MOV, O_MOVI, O_SHIFTI,
       O_CMP, O_SELECT, O_LOAD, O_STORE, O_NKIND };

static void gen_op(void)
{
    static const unsigned w[O_NKIND] = {2, 10, 6, 2, 5, 6, 3, 10, 5, 6, 3,
                                        9, 9};
    static const char *const alu[] = {"add", "sub", "mul", "and", "or", "xor"};
    static const char *const divs[] = {"divs", "divu", "rems", "remu"};
    static const char *const shifts[] = {"sll", "srl", "sra"};
    static const char *const shiftis[] = {"slli", "srli", "srai"};
    static const char *const cmps[] = {"cmpeq", "cmpne", "cmplt", "cmpltu",
                                       "cmpge", "cmpgeu"};
    unsigned kind = pick(w, O_NKIND);
    unsigned d = reg(), a = reg(), b = reg();
    if (kind == O_LOAD || kind == O_STORE) {
        unsigned t = (unsigned)below(8);
        unsigned size = kind == O_LOAD ? load_size[t] : store_size[t];
        unsigned base;
        uint64_t imm;
        address(size, &base, &imm); /* may emit a movi for the base */
        indent();
        if (kind == O_LOAD)
            emit("load r%u, %s, %s\n", d, addr_text(base, imm), load_types[t]);
        else
            emit("store %s, r%u, %s\n", addr_text(base, imm), b,
                 store_types[t]);
        return;
    }
    if (kind == O_DIV && chance(35)) {
        /* make the interesting cases likely: b = 0, -1; a = INT64_MIN */
        unsigned sel = (unsigned)below(3);
        if (sel == 0 || sel == 2) {
            indent();
            emit("movi r%u, %s\n", b, sel == 0 ? "0" : fany((uint64_t)-1));
        }
        if (sel == 2 || chance(30)) {
            if (a == b)
                a = hot[(below(nhot))];
            if (a != b) {
                indent();
                emit("movi r%u, %s\n", a, fany(0x8000000000000000));
            }
        }
    }
    indent();
    switch (kind) {
    case O_NOP:
        emit("nop\n");
        break;
    case O_ALU:
        emit("%s r%u, r%u, r%u\n", alu[below(6)], d, a, b);
        break;
    case O_DIV:
        emit("%s r%u, r%u, r%u\n", divs[below(4)], d, a, b);
        break;
    case O_NOT:
        emit("not r%u, r%u\n", d, a);
        break;
    case O_SHIFT:
        emit("%s r%u, r%u, r%u\n", shifts[below(3)], d, a, b);
        break;
    case O_IMM:
        emit("%s r%u, r%u, %s\n", chance(50) ? "addi" : "muli", d, a,
             fs(special()));
        break;
    case O_MOV:
        emit("mov r%u, r%u\n", d, a);
        break;
    case O_MOVI:
        emit("movi r%u, %s\n", d, fany(special()));
        break;
    case O_SHIFTI: {
        static const unsigned sh[] = {0, 1, 31, 32, 63};
        unsigned s = chance(50) ? sh[below(5)] : (unsigned)below(64);
        emit("%s r%u, r%u, %u\n", shiftis[below(3)], d, a, s);
        break;
    }
    case O_CMP:
        emit("%s r%u, r%u, r%u\n", cmps[below(6)], d, a, b);
        break;
    case O_SELECT:
        emit("select r%u, r%u, r%u, r%u\n", d, reg(), a, b);
        break;
    default:
        break;
    }
}

enum { T_RET, T_JMP, T_JMPMISS, T_JMPREG, T_CONDJMP, T_CALL, T_FAULT,
       T_INTR, T_INTR_R, T_NTERM };

/* The terminator of block i. */
static void gen_term(unsigned i)
{
    static const unsigned wild_w[T_NTERM] = {8, 25, 3, 8, 30, 12, 3, 3, 3};
    unsigned k = calm && i == exit_block ? pick(wild_w, T_NTERM)
                                         : pick(term_w, T_NTERM);
    uint64_t next = blk[(i + 1) % nblk];
    indent();
    switch (k) {
    case T_RET:
        emit("ret\n");
        break;
    case T_JMP:
        emit("jmp %s\n", fu(chance(30) ? next : target(0)));
        break;
    case T_JMPMISS:
        emit("jmp %s\n", fu(target(100)));
        break;
    case T_JMPREG: {
        unsigned r = reg();
        uint64_t to, imm;
        unsigned how = (unsigned)below(10);
        if (!chance(jmpreg_miss))
            to = target(0);
        else if (how < 7)
            to = target(100);
        else
            to = special();
        imm = chance(40) ? 0 : special();
        if (chance(85)) {
            /* r + imm == to, modulo 2^64 */
            emit("movi r%u, %s\n", r, fany(to - imm));
            indent();
        }
        emit("jmpreg r%u, %s\n", r, fs(imm));
        break;
    }
    case T_CONDJMP: {
        unsigned c = reg();
        if (chance(15)) {
            /* a counted self-loop: a tight native loop the budget must stop */
            emit("addi r%u, r%u, -1\n", c, c);
            indent();
            emit("condjmp r%u, %s, %s\n", c, fu(blk[i]), fu(next));
            break;
        }
        if (chance(15)) {
            /* a self loop counted by a compare (what codegen.c's
             * loop_counted looks for, and forms it must reject), sometimes
             * with a pointer stepped by addi */
            static const char *const cmps[] = {"cmpne", "cmpltu", "cmplt"};
            static const int64_t steps[] = {1, -1, 2, -2, 3, -7, 8};
            unsigned iv = reg(), n = reg(), p = reg();
            if (chance(50)) {
                emit("load r%u, [r%u + %u], u%u\n", reg(), p,
                     (unsigned)below(16), 8u << below(4));
                indent();
                emit("addi r%u, r%u, %d\n", p, p,
                     (int)steps[below(7)] * (int)(1u << below(4)));
                indent();
            }
            emit("addi r%u, r%u, %" PRId64 "\n", iv, iv, steps[below(7)]);
            indent();
            if (chance(50))
                emit("%s r%u, r%u, r%u\n", cmps[below(3)], c, iv, n);
            else
                emit("%s r%u, r%u, r%u\n", cmps[below(3)], c, n, iv);
            indent();
            emit("condjmp r%u, %s, %s\n", c, fu(blk[i]), fu(next));
            break;
        }
        if (chance(40)) {
            static const char *const cmps[] = {"cmpeq", "cmpne", "cmplt",
                                               "cmpltu", "cmpge", "cmpgeu"};
            emit("%s r%u, r%u, r%u\n", cmps[below(6)], c, reg(), reg());
            indent();
        }
        emit("%s r%u, %s, %s\n", chance(20) ? "br" : "condjmp", c,
             fu(target(cond_miss)), fu(chance(40) ? next : target(cond_miss)));
        break;
    }
    case T_CALL:
        emit("call %s, %s\n", fu(target(cond_miss)),
             fu(chance(60) ? next : target(cond_miss)));
        break;
    case T_FAULT:
        emit("fault %s\n", fu(special()));
        break;
    case T_INTR:
        emit("interrupt %s\n", fu(special()));
        break;
    default:
        emit("interrupt %s, %s\n", fu(special()), fu(target(20)));
        break;
    }
}

static void block_open(uint64_t pc)
{
    emit("\nblock %s {\n", fu(pc));
}

/* Block pcs: a base and gaps, all distinct; sometimes near the top of the
 * address space so that pc arithmetic wraps. */
static void layout(unsigned n)
{
    static const uint64_t bases[] = {0, 0x1000, 0x400000, 0x8000000000000000,
                                     0xffffffffffffff00, 0x7ffffffffffffff0};
    uint64_t pc = chance(70) ? bases[below(6)] : rnd() & ~(uint64_t)0xf;
    unsigned gapkind = (unsigned)below(4);
    nblk = 0;
    while (nblk < n) {
        if (!is_block(pc))
            blk[nblk++] = pc;
        uint64_t gap;
        switch (gapkind) {
        case 0:
            gap = 0x10;
            break;
        case 1:
            gap = range(1, 8);
            break;
        case 2:
            gap = range(1, 0x1000);
            break;
        default:
            gap = chance(80) ? 4 : rnd();
            break;
        }
        pc += gap;
    }
    /* missing addresses: neighbours of blocks and host-looking ones */
    static const uint64_t hosty[] = {0x00007ffff7dd1000, 0x0000555555554000,
                                     0x400000, 0xffffffff81000000, 0,
                                     0xffffffffffffffff, 0x7fffffffffffffff};
    nmiss = 0;
    for (unsigned tries = 0; nmiss < 8 && tries < 64; tries++) {
        uint64_t m;
        if (chance(50))
            m = blk[below(nblk)] + (chance(50) ? 1 : (uint64_t)-1) *
                range(1, 0x10);
        else if (chance(60))
            m = hosty[below(7)];
        else
            m = rnd();
        if (!is_block(m))
            miss[nmiss++] = m;
    }
}

static void gen_data(void)
{
    uint64_t used[16][2];
    unsigned nused = 0, want = (unsigned)below(5);
    for (unsigned tries = 0; nused < want && tries < 20; tries++) {
        unsigned form = (unsigned)below(6); /* string hex u8 u16 u32 u64 */
        static const unsigned unit[] = {1, 1, 1, 2, 4, 8};
        uint64_t count = range(1, 12), len = count * unit[form];
        if (len > memsize)
            continue;
        uint64_t a;
        if (chance(60) && window + len <= memsize)
            a = window + below(window_len);
        else if (chance(30))
            a = memsize - len;  /* right at the end */
        else
            a = below(memsize - len + 1);
        if (a > memsize - len)
            a = memsize - len;
        int clash = 0;
        for (unsigned k = 0; k < nused; k++)
            if (a < used[k][1] && used[k][0] < a + len)
                clash = 1;
        if (clash)
            continue;
        used[nused][0] = a;
        used[nused][1] = a + len;
        nused++;
        emit("data %s ", fu(a));
        if (form == 0) {
            emit("\"");
            int prev_esc_hex = 0, prev_nul = 0;
            for (uint64_t k = 0; k < count; k++) {
                unsigned c = (unsigned)(chance(50) ? range(0x20, 0x7e)
                                                   : below(256));
                int isdig = c >= '0' && c <= '9';
                int ishex = isdig || (c >= 'a' && c <= 'f') ||
                            (c >= 'A' && c <= 'F');
                /* never let a digit extend a previous \0 or \xHH escape */
                if ((prev_esc_hex && ishex) || (prev_nul && isdig)) {
                    emit("\\x%02x", c);
                    prev_esc_hex = 1, prev_nul = 0;
                    continue;
                }
                prev_esc_hex = prev_nul = 0;
                if (c == '\n')
                    emit("\\n");
                else if (c == '\t')
                    emit("\\t");
                else if (c == '\\')
                    emit("\\\\");
                else if (c == '"')
                    emit("\\\"");
                else if (c == 0 && chance(50))
                    emit("\\0"), prev_nul = 1;
                else if (c < 0x20 || c >= 0x7f || c == ';')
                    emit("\\x%02x", c), prev_esc_hex = 1;
                else
                    emit("%c", (char)c);
            }
            emit("\"\n");
        } else if (form == 1) {
            emit("hex");
            for (uint64_t k = 0; k < count; k++)
                emit(" %02x", (unsigned)below(256));
            emit("\n");
        } else {
            static const char *const nm[] = {"", "", "u8", "u16", "u32", "u64"};
            emit("%s", nm[form]);
            for (uint64_t k = 0; k < count; k++) {
                uint64_t v = special();
                if (unit[form] < 8)
                    v &= ((uint64_t)1 << (8 * unit[form])) - 1;
                emit("%s %s", k ? "," : "", fu(v));
            }
            emit("\n");
        }
    }
}

/* The recursion snippet: E sets a counter to N and enters A; A counts down
 * and calls itself through B until the counter reaches 0, then C and the D
 * blocks return all the way up.  With N near 65,536 the return stack's
 * capacity is hit exactly. */
static uint64_t snip[5];

static void gen_recursion(uint64_t n)
{
    unsigned r = recurse_reg;
    block_open(snip[0]);
    indent();
    emit("movi r%u, %s\n", r, fu(n));
    indent();
    emit("jmp %s\n}\n", fu(snip[1]));
    block_open(snip[1]);
    indent();
    emit("addi r%u, r%u, -1\n", r, r);
    if (chance(50)) {
        indent();
        emit("add r%u, r%u, r%u\n", hot[0], hot[0], r);
    }
    indent();
    emit("condjmp r%u, %s, %s\n}\n", r, fu(snip[2]), fu(snip[3]));
    block_open(snip[2]);
    indent();
    emit("call %s, %s\n", fu(snip[1]), fu(snip[4]));
    emit("}\n");
    block_open(snip[3]);
    indent();
    emit("ret\n}\n");
    block_open(snip[4]);
    if (chance(50)) {
        indent();
        emit("addi r%u, r%u, 1\n", hot[0], hot[0]);
    }
    indent();
    emit("ret\n}\n");
}

static void gen_program(uint64_t seed, unsigned nblocks_opt, int ops_opt)
{
    rng_state = seed * 0x2545f4914f6cdd1dull + 0x1234567;
    rnd();
    numidx = 0;

    /* memory */
    static const uint64_t sizes[] = {1, 7, 8, 9, 64, 100, 4096, 0x10000,
                                     0x100001, 0x100000000, 0x100000007};
    has_memory = chance(45);
    memsize = has_memory ? sizes[below(11)] : 0x100000;
    if (memsize >= 0x100000000 && chance(50))
        memsize = 0x10000; /* keep 4 GiB memories rarer */
    window_len = memsize < 64 ? memsize : 64;
    window = below(memsize - window_len + 1);
    if (chance(30))
        window = memsize - window_len;

    /* registers */
    nhot = (unsigned)range(3, 16);
    if (chance(70)) {
        for (unsigned i = 0; i < nhot; i++)
            hot[i] = i;
    } else {
        for (unsigned i = 0; i < nhot; i++)
            hot[i] = chance(50) ? (unsigned)below(16) : any_reg();
    }
    recurse_reg = 199;

    /* control-flow profile */
    /* Most programs are "calm": they rarely stop early, so they run long
     * loops until the budget; the others stop in every possible way. */
    static const unsigned calm_w[T_NTERM] = {3, 25, 0, 8, 30, 12, 0, 0, 0};
    static const unsigned wild_w[T_NTERM] = {8, 25, 3, 8, 30, 12, 3, 3, 3};
    calm = chance(65);
    for (unsigned k = 0; k < T_NTERM; k++)
        term_w[k] = calm ? calm_w[k]
                         : chance(20) ? (unsigned)below(40) : wild_w[k];
    term_w[T_JMP] += 1;
    oob_pct = calm ? (unsigned)below(3) : (unsigned)range(3, 50);
    jmpreg_miss = calm ? 2 : (unsigned)range(10, 60);
    cond_miss = calm ? 0 : (unsigned)range(1, 8);

    /* a few programs have many blocks, for the dispatcher's pc lookup */
    unsigned nb = nblocks_opt ? nblocks_opt
                  : chance(2) ? (unsigned)range(50, 400)
                              : (unsigned)range(1, 24);
    if (nb > MAXB - 5)
        nb = MAXB - 5;
    maxops = ops_opt >= 0 ? (unsigned)ops_opt
             : chance(5)    ? (unsigned)range(60, 200) /* long blocks */
                            : (unsigned)range(0, 14);
    layout(nb);
    exit_block = (unsigned)below(nblk);

    /* the recursion snippet takes five more block addresses */
    int recursion = chance(12);
    uint64_t depth = 0;
    if (recursion) {
        uint64_t base = chance(50) ? 0x90000 : rnd() & ~(uint64_t)0xff;
        for (unsigned k = 0; k < 5; k++) {
            uint64_t pc = base + 0x40 * k;
            while (is_block(pc))
                pc += 0x8;
            snip[k] = pc;
        }
        depth = chance(40) ? range(65530, 65540) : range(1, 3000);
        /* make the snippet's entry a regular jump target */
        blk[nblk++] = snip[0];
        for (unsigned k = 1; k < 5; k++)
            if (is_block(snip[k]) || snip[k] == snip[0])
                recursion = 0;   /* address clash: give up on it */
        if (!recursion)
            nblk--;
    }

    /* run options */
    uint64_t maxb;
    if (recursion && chance(70))
        maxb = 3 * depth + range(0, 2000);
    else if (chance(5))
        maxb = below(4);
    else
        maxb = range(200, 5000);
    char opts[2048];
    int n = snprintf(opts, sizeof opts, "--max-blocks %" PRIu64, maxb);
    uint64_t entry_pc = blk[0];
    if (chance(10)) {
        entry_pc = chance(80) ? blk[below(nblk)] : miss[below(nmiss ? nmiss : 1)];
        n += snprintf(opts + n, sizeof opts - (size_t)n, " --entry %s",
                      fu(entry_pc));
    }
    unsigned nsets = chance(40) ? (unsigned)range(1, 5) : 0;
    for (unsigned k = 0; k < nsets && n < 1500; k++)
        n += snprintf(opts + n, sizeof opts - (size_t)n, " --set r%u=%s",
                      reg(), fany(special()));
    unsigned ndumps = chance(50) ? (unsigned)range(1, 3) : 0;
    for (unsigned k = 0; k < ndumps && n < 1900; k++) {
        uint64_t a, len;
        if (chance(70)) {
            a = window;
            len = window_len;
        } else {
            len = below(memsize < 40 ? memsize + 1 : 40);
            a = below(memsize - len + 1);
        }
        n += snprintf(opts + n, sizeof opts - (size_t)n, " --dump-mem %s:%s",
                      fu(a), fu(len));
    }

    emit("; opts: %s\n", opts);
    /* Compile options (line 2): half of the programs are compiled with
     * superblocks.  Drawn from the seed on its own so the program text does
     * not depend on it. */
    {
        static const char *const folds[] = {"--fold 1", "--fold 4",
                                            "--fold 16", "--fold 1000"};
        uint64_t h = (seed + 0x51) * 0x9e3779b97f4a7c15ull;
        h ^= h >> 29;
        emit("; compile: %s\n", (h & 0x100) ? folds[(h >> 9) & 3] : "");
    }
    emit("; randprog seed %" PRIu64 ": %u blocks, memory 0x%" PRIx64 ", %s\n",
         seed, nblk, memsize, calm ? "calm" : "wild");

    /* top-level statements, in a random order */
    int entry_stmt = chance(20);
    uint64_t entry_val = chance(80) ? blk[below(nblk)] : blk[0];
    if (chance(5) && nmiss)
        entry_val = miss[below(nmiss)];   /* entry at a missing block */
    unsigned order = (unsigned)below(3);
    for (unsigned s = 0; s < 3; s++) {
        unsigned which = (s + order) % 3;
        if (which == 0 && has_memory)
            emit("memory %s\n", fu(memsize));
        else if (which == 1 && entry_stmt)
            emit("entry %s\n", fu(entry_val));
        else if (which == 2)
            gen_data();
    }

    /* blocks, sometimes printed in a shuffled order (the first one printed
     * is the default entry) */
    unsigned ord[MAXB];
    for (unsigned i = 0; i < nblk; i++)
        ord[i] = i;
    if (chance(25))
        for (unsigned i = nblk - 1; i > 0; i--) {
            unsigned j = (unsigned)below(i + 1), t = ord[i];
            ord[i] = ord[j];
            ord[j] = t;
        }
    for (unsigned oi = 0; oi < nblk; oi++) {
        unsigned i = ord[oi];
        if (recursion && blk[i] == snip[0]) {
            gen_recursion(depth);
            continue;
        }
        block_open(blk[i]);
        if (chance(10))
            emit("    ; block %u\n", i);
        unsigned nops = (unsigned)below(maxops + 1);
        for (unsigned k = 0; k < nops; k++)
            gen_op();
        gen_term(i);
        emit("}\n");
    }
}

static int usage(void)
{
    fprintf(stderr,
            "usage: randprog SEED [--blocks N] [--ops N]\n"
            "       randprog --out DIR FIRST COUNT [--blocks N] [--ops N]\n");
    return 2;
}

static int num_arg(const char *s, uint64_t *v)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 0);
    if (errno || *s == '\0' || *s == '-' || *end)
        return -1;
    *v = x;
    return 0;
}

int main(int argc, char **argv)
{
    uint64_t seed = 0, count = 1, nb = 0, nops = 0;
    int ops_opt = -1;  /* -1: random per program */
    const char *dir = NULL;
    int have_seed = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--blocks") == 0 && i + 1 < argc) {
            if (num_arg(argv[++i], &nb) || nb == 0)
                return usage();
        } else if (strcmp(argv[i], "--ops") == 0 && i + 1 < argc) {
            if (num_arg(argv[++i], &nops) || nops > 1000)
                return usage();
            ops_opt = (int)nops;
        } else if (strcmp(argv[i], "--out") == 0 && i + 3 < argc) {
            dir = argv[++i];
            if (num_arg(argv[++i], &seed) || num_arg(argv[++i], &count))
                return usage();
            have_seed = 1;
        } else if (!have_seed && num_arg(argv[i], &seed) == 0) {
            have_seed = 1;
        } else {
            return usage();
        }
    }
    if (!have_seed)
        return usage();
    for (uint64_t k = 0; k < count; k++) {
        char path[4096];
        if (dir) {
            snprintf(path, sizeof path, "%s/%" PRIu64 ".vir", dir, seed + k);
            out = fopen(path, "w");
            if (!out) {
                perror(path);
                return 1;
            }
        } else {
            out = stdout;
        }
        gen_program(seed + k, (unsigned)nb, ops_opt);
        if (ferror(out) || (dir && fclose(out) != 0)) {
            perror(dir ? path : "stdout");
            return 1;
        }
    }
    if (!dir && fflush(stdout) != 0)
        return 1;
    return 0;
}
