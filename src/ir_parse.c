/* ir_parse.c: the .vir lexer and parser (format: man/aotb-ir.5).
 *
 * The lexer is pull based and never looks past the current line, so memory
 * use does not depend on line length and every step is linear in the input.
 * After an error the parser skips to the next line and goes on, so one run
 * reports up to MAX_ERRORS problems.  Ops of the block being parsed collect
 * in one scratch array that is reused for every block (one allocation per
 * block, none per token or op). */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"

#define MAX_ERRORS 20
#define MAX_MEMORY (UINT64_C(1) << 40)
#define SHOW_MAX 40 /* longest token text quoted in a message */

enum tok_type {
    T_EOL, T_WORD, T_NUM, T_STR, T_BADSTR, T_COMMA, T_LBRACK, T_RBRACK,
    T_PLUS, T_MINUS, T_LBRACE, T_RBRACE, T_BAD
};

typedef struct token {
    int type;
    const char *s;
    size_t len;
    uint32_t col;
} token;

/* Number kinds: each names the range a field accepts. */
enum num_kind {
    K_U64, K_ANY, K_S64, K_SHIFT, K_MEM, K_NEGOFF, K_W8, K_W16, K_W32, K_W64
};
static const char *const kind_range[] = {
    "0 ... 2^64-1", "-2^63 ... 2^64-1", "-2^63 ... 2^63-1", "0 ... 63",
    "1 ... 2^40", "0 ... 2^63", "-128 ... 255", "-32768 ... 65535",
    "-2^31 ... 2^32-1", "-2^63 ... 2^64-1"};

typedef struct parser {
    const char *file;
    const char *text;
    size_t len, pos, line_start;
    uint32_t line;
    token tok;
    aotb_diag *d;
    int nerr;
    bool stop;
    ir_program *p;
    size_t cap_blocks, cap_data;
    uint32_t *block_cols, *data_cols;   /* parallel to p->blocks / p->data */
    /* the open block */
    bool in_block, have_term;
    ir_block cur;
    uint32_t cur_col, term_line;
    ir_op *ops;
    size_t nops, cap_ops;
    buf bytes;                          /* scratch for a data statement */
    uint32_t entry_line, memory_line;
    bool oom;
} parser;

/* ---- diagnostics ---- */

static int err_at(parser *ps, uint32_t line, uint32_t col, const char *fmt, ...)
    AOTB_PRINTF(4, 5);

static int err_at(parser *ps, uint32_t line, uint32_t col, const char *fmt, ...)
{
    if (ps->stop)
        return -1;
    if (ps->nerr >= MAX_ERRORS) {
        diag_at(ps->d, ps->file, line, col, "too many errors, stopping");
        ps->stop = true;
        return -1;
    }
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ps->nerr++;
    diag_at(ps->d, ps->file, line, col, "%s", msg);
    return -1;
}

/* Quotes a token for a message, shortened so that a 10 MB word stays a
 * short line. */
static void tok_show(const token *k, char *out, size_t n)
{
    switch (k->type) {
    case T_EOL:
        snprintf(out, n, "end of line");
        break;
    case T_STR:
    case T_BADSTR:
        snprintf(out, n, "a string");
        break;
    default:
        snprintf(out, n, "'%.*s%s'", (int)(k->len > SHOW_MAX ? SHOW_MAX : k->len),
                 k->s, k->len > SHOW_MAX ? "..." : "");
    }
}

static int err_bad_char(parser *ps, const token *k)
{
    unsigned char c = (unsigned char)k->s[0];
    if (c > 0x20 && c < 0x7f)
        return err_at(ps, ps->line, k->col, "unexpected character '%c'", c);
    return err_at(ps, ps->line, k->col, "unexpected character 0x%02x", c);
}

/* "expected WHAT, got X" for the current token. */
static int err_tok(parser *ps, const char *what)
{
    const token *k = &ps->tok;
    if (k->type == T_BAD)
        return err_bad_char(ps, k);
    if (k->type == T_BADSTR)
        return err_at(ps, ps->line, k->col, "unterminated string");
    char got[64];
    tok_show(k, got, sizeof got);
    return err_at(ps, ps->line, k->col, "expected %s, got %s", what, got);
}

/* ---- lexer ---- */

/* Character classes, one table lookup per character of the input. */
enum { C_WORD = 1, C_DIGIT = 2, C_BLANK = 4 };
static const uint8_t char_class[256] = {
    ['\t'] = C_BLANK, ['\r'] = C_BLANK, [' '] = C_BLANK,
    ['0'] = C_WORD | C_DIGIT, ['1'] = C_WORD | C_DIGIT,
    ['2'] = C_WORD | C_DIGIT, ['3'] = C_WORD | C_DIGIT,
    ['4'] = C_WORD | C_DIGIT, ['5'] = C_WORD | C_DIGIT,
    ['6'] = C_WORD | C_DIGIT, ['7'] = C_WORD | C_DIGIT,
    ['8'] = C_WORD | C_DIGIT, ['9'] = C_WORD | C_DIGIT, ['A'] = C_WORD,
    ['B'] = C_WORD, ['C'] = C_WORD, ['D'] = C_WORD, ['E'] = C_WORD,
    ['F'] = C_WORD, ['G'] = C_WORD, ['H'] = C_WORD, ['I'] = C_WORD,
    ['J'] = C_WORD, ['K'] = C_WORD, ['L'] = C_WORD, ['M'] = C_WORD,
    ['N'] = C_WORD, ['O'] = C_WORD, ['P'] = C_WORD, ['Q'] = C_WORD,
    ['R'] = C_WORD, ['S'] = C_WORD, ['T'] = C_WORD, ['U'] = C_WORD,
    ['V'] = C_WORD, ['W'] = C_WORD, ['X'] = C_WORD, ['Y'] = C_WORD,
    ['Z'] = C_WORD, ['_'] = C_WORD, ['a'] = C_WORD, ['b'] = C_WORD,
    ['c'] = C_WORD, ['d'] = C_WORD, ['e'] = C_WORD, ['f'] = C_WORD,
    ['g'] = C_WORD, ['h'] = C_WORD, ['i'] = C_WORD, ['j'] = C_WORD,
    ['k'] = C_WORD, ['l'] = C_WORD, ['m'] = C_WORD, ['n'] = C_WORD,
    ['o'] = C_WORD, ['p'] = C_WORD, ['q'] = C_WORD, ['r'] = C_WORD,
    ['s'] = C_WORD, ['t'] = C_WORD, ['u'] = C_WORD, ['v'] = C_WORD,
    ['w'] = C_WORD, ['x'] = C_WORD, ['y'] = C_WORD, ['z'] = C_WORD,
};

static bool is_digit(unsigned char c)
{
    return char_class[c] & C_DIGIT;
}

static bool is_word(unsigned char c)
{
    return char_class[c] & C_WORD;
}

static uint32_t col_of(const parser *ps, size_t i)
{
    size_t c = i - ps->line_start + 1;
    return c > UINT32_MAX ? UINT32_MAX : (uint32_t)c;
}

static void next(parser *ps)
{
    const char *t = ps->text;
    size_t n = ps->len, i = ps->pos, j;
    while (i < n && (char_class[(unsigned char)t[i]] & C_BLANK))
        i++;
    token *k = &ps->tok;
    k->s = t + i;
    k->col = col_of(ps, i);
    if (i >= n || t[i] == '\n' || t[i] == ';') {
        k->type = T_EOL;
        k->len = 0;
        ps->pos = i;
        return;
    }
    unsigned char c = (unsigned char)t[i];
    j = i + 1;
    if (is_word(c) || (c == '-' && j < n && is_digit((unsigned char)t[j]))) {
        while (j < n && is_word((unsigned char)t[j]))
            j++;
        k->type = c == '-' || is_digit(c) ? T_NUM : T_WORD;
    } else if (c == '"') {
        while (j < n && t[j] != '"' && t[j] != '\n') {
            if (t[j] == '\\' && j + 1 < n && t[j + 1] != '\n')
                j++;
            j++;
        }
        if (j < n && t[j] == '"') {
            j++;
            k->type = T_STR;
        } else {
            k->type = T_BADSTR;
        }
    } else {
        switch (c) {
        case ',': k->type = T_COMMA; break;
        case '[': k->type = T_LBRACK; break;
        case ']': k->type = T_RBRACK; break;
        case '+': k->type = T_PLUS; break;
        case '-': k->type = T_MINUS; break;
        case '{': k->type = T_LBRACE; break;
        case '}': k->type = T_RBRACE; break;
        default: k->type = T_BAD; break;
        }
    }
    k->len = j - i;
    ps->pos = j;
}

/* Moves to the start of the next line (whatever is left of this one, a
 * comment or the rest of a line with an error, is skipped). */
static void skip_line(parser *ps)
{
    const char *nl = memchr(ps->text + ps->pos, '\n', ps->len - ps->pos);
    if (!nl) {
        ps->pos = ps->len;
        return;
    }
    ps->pos = (size_t)(nl - ps->text) + 1;
    ps->line_start = ps->pos;
    if (ps->line < UINT32_MAX)
        ps->line++;
}

static bool tok_is(const token *k, const char *word)
{
    size_t n = strlen(word);
    return k->type == T_WORD && k->len == n && memcmp(k->s, word, n) == 0;
}

/* ---- operands ---- */

static int expect(parser *ps, int type, const char *what)
{
    if (ps->tok.type != type)
        return err_tok(ps, what);
    next(ps);
    return 0;
}

static int parse_reg(parser *ps, uint8_t *r)
{
    const token *k = &ps->tok;
    if (k->type != T_WORD || k->s[0] != 'r' || k->len < 2)
        return err_tok(ps, "a register (r0 ... r255)");
    for (size_t i = 1; i < k->len; i++)
        if (!is_digit((unsigned char)k->s[i]))
            return err_tok(ps, "a register (r0 ... r255)");
    unsigned v = 0;
    for (size_t i = 1; i < k->len && v < 1000; i++)
        v = v * 10 + (unsigned)(k->s[i] - '0');
    if ((k->s[1] == '0' && k->len > 2) || v >= IR_NREGS) {
        /* Format the token only on the error path: this runs per operand. */
        char shown[64];
        tok_show(k, shown, sizeof shown);
        if (k->s[1] == '0' && k->len > 2)
            return err_at(ps, ps->line, k->col,
                          "malformed register %s (no leading zeros)", shown);
        return err_at(ps, ps->line, k->col,
                      "register %s out of range (r0 ... r255)", shown);
    }
    *r = (uint8_t)v;
    next(ps);
    return 0;
}

static bool fits(int kind, bool neg, uint64_t mag)
{
    const uint64_t two63 = UINT64_C(1) << 63;
    if (neg && mag == 0)
        neg = false;   /* -0 is 0 */
    switch (kind) {
    case K_U64: return !neg;
    case K_ANY: case K_W64: return !neg || mag <= two63;
    case K_S64: return neg ? mag <= two63 : mag < two63;
    case K_SHIFT: return !neg && mag <= 63;
    case K_MEM: return !neg && mag >= 1 && mag <= MAX_MEMORY;
    case K_NEGOFF: return !neg && mag <= two63;
    case K_W8: return neg ? mag <= 0x80 : mag <= 0xff;
    case K_W16: return neg ? mag <= 0x8000 : mag <= 0xffff;
    case K_W32: return neg ? mag <= UINT64_C(0x80000000) : mag <= UINT32_MAX;
    default: return false;
    }
}

/* A number token of the given kind; *out gets the value (negatives as their
 * two's complement; for K_NEGOFF the magnitude). */
static int parse_num_tok(parser *ps, const token *k, int kind, const char *what,
                         uint64_t *out)
{
    char shown[64];
    if (k->type != T_NUM) {
        char buf2[80];
        snprintf(buf2, sizeof buf2, "%s (a number)", what);
        return err_tok(ps, buf2);
    }
    bool neg;
    uint64_t mag;
    int rc = ir_scan_number(k->s, k->len, &neg, &mag);
    if (rc == 0 && fits(kind, neg, mag)) {
        *out = neg ? (uint64_t)0 - mag : mag;
        return 0;
    }
    tok_show(k, shown, sizeof shown);   /* only on the error path */
    if (rc == -1)
        return err_at(ps, ps->line, k->col, "malformed number %s", shown);
    if (rc == -2 || !fits(kind, neg, mag))
        return err_at(ps, ps->line, k->col, "%s %s out of range (%s)", what,
                      shown, kind_range[kind]);
    *out = neg ? (uint64_t)0 - mag : mag;
    return 0;
}

static int parse_num(parser *ps, int kind, const char *what, uint64_t *out)
{
    if (parse_num_tok(ps, &ps->tok, kind, what, out) != 0)
        return -1;
    next(ps);
    return 0;
}

static int comma(parser *ps)
{
    return expect(ps, T_COMMA, "','");
}

/* [a], [a + N], [a - N] */
static int parse_mem(parser *ps, uint8_t *a, uint64_t *imm)
{
    uint64_t v = 0;
    *imm = 0;
    if (expect(ps, T_LBRACK, "'['") || parse_reg(ps, a))
        return -1;
    if (ps->tok.type == T_PLUS) {
        next(ps);
        if (parse_num(ps, K_U64, "offset", &v))
            return -1;
        *imm = v;
    } else if (ps->tok.type == T_MINUS) {
        next(ps);
        if (parse_num(ps, K_NEGOFF, "offset", &v))
            return -1;
        *imm = (uint64_t)0 - v;
    } else if (ps->tok.type == T_NUM && ps->tok.s[0] == '-') {
        /* "[r1 -8]": the lexer glued the minus to the number */
        token k = ps->tok;
        k.s++;
        k.len--;
        k.col++;
        if (parse_num_tok(ps, &k, K_NEGOFF, "offset", &v))
            return -1;
        next(ps);
        *imm = (uint64_t)0 - v;
    }
    return expect(ps, T_RBRACK, "'+', '-' or ']'");
}

static int parse_memtype(parser *ps, bool store, uint8_t *mt)
{
    static const char *const names[] = {"u8", "s8", "u16", "s16", "u32",
                                        "s32", "u64", "s64"};
    static const uint8_t load_mt[] = {IR_U8, IR_S8, IR_U16, IR_S16,
                                      IR_U32, IR_S32, IR_U64, IR_U64};
    static const uint8_t store_mt[] = {IR_U8, IR_U8, IR_U16, IR_U16,
                                       IR_U32, IR_U32, IR_U64, IR_U64};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (tok_is(&ps->tok, names[i])) {
            *mt = store ? store_mt[i] : load_mt[i];
            next(ps);
            return 0;
        }
    return err_tok(ps, "a memory type (u8 s8 u16 s16 u32 s32 u64 s64)");
}

static int parse_op_operands(parser *ps, ir_op *o)
{
    switch (ir_op_shapes[o->op]) {
    case IR_SHAPE_NONE:
        return 0;
    case IR_SHAPE_DAB:
        return parse_reg(ps, &o->d) || comma(ps) || parse_reg(ps, &o->a) ||
               comma(ps) || parse_reg(ps, &o->b) ? -1 : 0;
    case IR_SHAPE_DA:
        return parse_reg(ps, &o->d) || comma(ps) || parse_reg(ps, &o->a) ? -1 : 0;
    case IR_SHAPE_DAI:
        return parse_reg(ps, &o->d) || comma(ps) || parse_reg(ps, &o->a) ||
               comma(ps) || parse_num(ps, K_S64, "immediate", &o->imm) ? -1 : 0;
    case IR_SHAPE_DI:
        return parse_reg(ps, &o->d) || comma(ps) ||
               parse_num(ps, K_ANY, "immediate", &o->imm) ? -1 : 0;
    case IR_SHAPE_DAS:
        return parse_reg(ps, &o->d) || comma(ps) || parse_reg(ps, &o->a) ||
               comma(ps) || parse_num(ps, K_SHIFT, "shift amount", &o->imm) ? -1 : 0;
    case IR_SHAPE_DCAB:
        return parse_reg(ps, &o->d) || comma(ps) || parse_reg(ps, &o->c) ||
               comma(ps) || parse_reg(ps, &o->a) || comma(ps) ||
               parse_reg(ps, &o->b) ? -1 : 0;
    case IR_SHAPE_LOAD:
        return parse_reg(ps, &o->d) || comma(ps) || parse_mem(ps, &o->a, &o->imm) ||
               comma(ps) || parse_memtype(ps, false, &o->mt) ? -1 : 0;
    case IR_SHAPE_STORE:
        return parse_mem(ps, &o->a, &o->imm) || comma(ps) || parse_reg(ps, &o->b) ||
               comma(ps) || parse_memtype(ps, true, &o->mt) ? -1 : 0;
    }
    return -1;
}

static int parse_term_operands(parser *ps, ir_term *t)
{
    switch (t->kind) {
    case IR_T_RET:
        return 0;
    case IR_T_JMP:
        return parse_num(ps, K_U64, "jump target", &t->target);
    case IR_T_JMPREG:
        return parse_reg(ps, &t->reg) || comma(ps) ||
               parse_num(ps, K_ANY, "offset", &t->imm) ? -1 : 0;
    case IR_T_CONDJMP:
        return parse_reg(ps, &t->reg) || comma(ps) ||
               parse_num(ps, K_U64, "branch target", &t->target) || comma(ps) ||
               parse_num(ps, K_U64, "branch target", &t->other) ? -1 : 0;
    case IR_T_CALL:
        return parse_num(ps, K_U64, "call target", &t->target) || comma(ps) ||
               parse_num(ps, K_U64, "return address", &t->other) ? -1 : 0;
    case IR_T_FAULT:
        return parse_num(ps, K_U64, "fault cause", &t->imm);
    case IR_T_INTERRUPT:
        if (parse_num(ps, K_U64, "interrupt vector", &t->imm))
            return -1;
        if (ps->tok.type == T_COMMA) {
            next(ps);
            t->has_resume = 1;
            return parse_num(ps, K_U64, "resume address", &t->other);
        }
        return 0;
    }
    return -1;
}

/* ---- mnemonics ---- */

#define MN_TERM 0x100   /* + ir_termkind */

static const struct {
    const char *name;
    int kind;
} terms[] = {
    {"ret", IR_T_RET},         {"jmp", IR_T_JMP},
    {"jmpreg", IR_T_JMPREG},   {"condjmp", IR_T_CONDJMP},
    {"br", IR_T_CONDJMP},      {"call", IR_T_CALL},
    {"fault", IR_T_FAULT},     {"interrupt", IR_T_INTERRUPT},
};

/* Mnemonics by first letter, built once from ir_op_names and terms, so a
 * lookup compares the few names that start with the token's letter, not
 * all of them.  A name that is not lower case or a bucket that is full
 * would be left out: test_ir_print parses a program with every op and
 * test_ir_parse every terminator spelling. */
#define MN_BUCKET 12
static struct {
    struct { const char *name; size_t len; int code; } e[26][MN_BUCKET];
    unsigned n[26];
} mn_index;
static pthread_once_t mn_once = PTHREAD_ONCE_INIT;

static void mn_add(const char *name, int code)
{
    unsigned f = (unsigned)(unsigned char)name[0] - 'a';
    if (f < 26 && mn_index.n[f] < MN_BUCKET) {
        mn_index.e[f][mn_index.n[f]].name = name;
        mn_index.e[f][mn_index.n[f]].len = strlen(name);
        mn_index.e[f][mn_index.n[f]++].code = code;
    }
}

static void mn_build(void)
{
    for (int i = 0; i < IR_NUM_OPS; i++)
        mn_add(ir_op_names[i], i);
    for (size_t i = 0; i < sizeof terms / sizeof terms[0]; i++)
        mn_add(terms[i].name, MN_TERM + terms[i].kind);
}

/* An op (0 ... IR_NUM_OPS-1), MN_TERM + a terminator kind, or -1. */
static int lookup_mnemonic(const char *s, size_t len)
{
    unsigned f = (unsigned)(unsigned char)s[0] - 'a';
    if (f >= 26)
        return -1;
    pthread_once(&mn_once, mn_build);
    for (unsigned i = 0; i < mn_index.n[f]; i++) {
        /* Names are a few bytes: a loop beats a call to memcmp. */
        const char *name = mn_index.e[f][i].name;
        size_t k = 1;
        if (mn_index.e[f][i].len != len)
            continue;
        while (k < len && name[k] == s[k])
            k++;
        if (k == len)
            return mn_index.e[f][i].code;
    }
    return -1;
}

/* True if the word, lower-cased, is a mnemonic or keyword: used to say
 * "mnemonics are lower case" instead of just "unknown". */
static bool is_upper_spelling(const token *k)
{
    static const char *const kw[] = {"block", "entry", "memory", "data"};
    char low[16];
    bool upper = false;
    if (k->len >= sizeof low)
        return false;
    for (size_t i = 0; i < k->len; i++) {
        char c = k->s[i];
        if (c >= 'A' && c <= 'Z') {
            c = (char)(c - 'A' + 'a');
            upper = true;
        }
        low[i] = c;
    }
    low[k->len] = '\0';
    if (!upper)
        return false;
    if (lookup_mnemonic(low, k->len) >= 0)
        return true;
    for (size_t i = 0; i < sizeof kw / sizeof kw[0]; i++)
        if (strcmp(low, kw[i]) == 0)
            return true;
    return false;
}

/* ---- program building ---- */

static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
    size_t c = *cap ? *cap : 16;
    while (c < need)
        c *= 2;
    void *q = xreallocarray(p, c, elem);
    if (q)
        *cap = c;
    return q;
}

static int out_of_memory(parser *ps)
{
    if (!ps->oom)
        diag_add(ps->d, "%s: out of memory", ps->file);
    ps->oom = true;
    ps->stop = true;
    ps->nerr++;
    return -1;
}

static int add_block(parser *ps)
{
    ir_program *p = ps->p;
    if (p->nblocks == ps->cap_blocks) {
        size_t cap = ps->cap_blocks;
        ir_block *b = grow(p->blocks, &cap, p->nblocks + 1, sizeof *b);
        if (!b)
            return out_of_memory(ps);
        p->blocks = b;
        uint32_t *c = xreallocarray(ps->block_cols, cap, sizeof *c);
        if (!c)
            return out_of_memory(ps);
        ps->block_cols = c;
        ps->cap_blocks = cap;
    }
    ir_block *b = &p->blocks[p->nblocks];
    *b = ps->cur;
    b->ops = NULL;
    b->nops = (uint32_t)ps->nops;
    if (ps->nops) {
        b->ops = xreallocarray(NULL, ps->nops, sizeof *b->ops);
        if (!b->ops)
            return out_of_memory(ps);
        memcpy(b->ops, ps->ops, ps->nops * sizeof *b->ops);
    }
    ps->block_cols[p->nblocks++] = ps->cur_col;
    return 0;
}

static int add_op(parser *ps, const ir_op *o)
{
    if (ps->nops == ps->cap_ops) {
        if (ps->nops >= UINT32_MAX)
            return err_at(ps, o->line, o->col, "too many ops in one block");
        ir_op *n = grow(ps->ops, &ps->cap_ops, ps->nops + 1, sizeof *n);
        if (!n)
            return out_of_memory(ps);
        ps->ops = n;
    }
    ps->ops[ps->nops++] = *o;
    return 0;
}

static int add_data(parser *ps, uint64_t addr, uint32_t line, uint32_t col)
{
    ir_program *p = ps->p;
    if (ps->bytes.oom)
        return out_of_memory(ps);
    if (p->ndata == ps->cap_data) {
        size_t cap = ps->cap_data;
        ir_data *n = grow(p->data, &cap, p->ndata + 1, sizeof *n);
        if (!n)
            return out_of_memory(ps);
        p->data = n;
        uint32_t *c = xreallocarray(ps->data_cols, cap, sizeof *c);
        if (!c)
            return out_of_memory(ps);
        ps->data_cols = c;
        ps->cap_data = cap;
    }
    uint8_t *bytes = malloc(ps->bytes.len);
    if (!bytes)
        return out_of_memory(ps);
    memcpy(bytes, ps->bytes.data, ps->bytes.len);
    ir_data *dt = &p->data[p->ndata];
    dt->addr = addr;
    dt->bytes = bytes;
    dt->len = ps->bytes.len;
    dt->line = line;
    ps->data_cols[p->ndata++] = col;
    return 0;
}

/* ---- statements ---- */

static int hexval(unsigned char c)
{
    if (is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes the current string token into ps->bytes. */
static int decode_string(parser *ps)
{
    const token *k = &ps->tok;
    const unsigned char *s = (const unsigned char *)k->s;
    size_t n = k->len - 1;   /* index of the closing quote */
    for (size_t i = 1; i < n; i++) {
        unsigned char c = s[i];
        uint32_t col = k->col + (uint32_t)i;
        if (c == '\\') {
            unsigned char e = s[++i];
            int h1, h2;
            switch (e) {
            case 'n': buf_put8(&ps->bytes, '\n'); break;
            case 't': buf_put8(&ps->bytes, '\t'); break;
            case '\\': buf_put8(&ps->bytes, '\\'); break;
            case '"': buf_put8(&ps->bytes, '"'); break;
            case '0': buf_put8(&ps->bytes, 0); break;
            case 'x':
                h1 = i + 1 < n ? hexval(s[i + 1]) : -1;
                h2 = i + 2 < n ? hexval(s[i + 2]) : -1;
                if (h1 < 0 || h2 < 0)
                    return err_at(ps, ps->line, col,
                                  "\\x in a string needs exactly two hex digits");
                buf_put8(&ps->bytes, (uint8_t)(h1 * 16 + h2));
                i += 2;
                break;
            default:
                if (e > 0x20 && e < 0x7f)
                    return err_at(ps, ps->line, col,
                                  "unknown escape '\\%c' in string (known: \\n \\t "
                                  "\\\\ \\\" \\xHH \\0)", e);
                return err_at(ps, ps->line, col,
                              "unknown escape in string (known: \\n \\t \\\\ \\\" "
                              "\\xHH \\0)");
            }
        } else if (c < 0x20 || c == 0x7f) {
            return err_at(ps, ps->line, col,
                          "unexpected character 0x%02x in string (use an escape)", c);
        } else {
            buf_put8(&ps->bytes, c);
        }
    }
    next(ps);
    return 0;
}

static int parse_data(parser *ps, uint32_t line, uint32_t col)
{
    static const char *const widths[] = {"u8", "u16", "u32", "u64"};
    uint64_t addr, v;
    ps->bytes.len = 0;
    if (parse_num(ps, K_U64, "data address", &addr))
        return -1;
    if (ps->tok.type == T_STR) {
        if (decode_string(ps))
            return -1;
    } else if (tok_is(&ps->tok, "hex")) {
        next(ps);
        while (ps->tok.type == T_NUM || ps->tok.type == T_WORD) {
            const token *k = &ps->tok;
            int h1 = hexval((unsigned char)k->s[0]);
            int h2 = k->len == 2 ? hexval((unsigned char)k->s[1]) : 0;
            if (k->len > 2 || h1 < 0 || h2 < 0) {
                char shown[64];
                tok_show(k, shown, sizeof shown);
                return err_at(ps, ps->line, k->col,
                              "malformed hex byte %s (one or two hex digits)", shown);
            }
            buf_put8(&ps->bytes,
                     (uint8_t)(k->len == 2 ? h1 * 16 + h2 : h1));
            next(ps);
        }
    } else {
        int w = -1;
        for (int i = 0; i < 4; i++)
            if (tok_is(&ps->tok, widths[i]))
                w = i;
        if (w < 0)
            return err_tok(ps, "a string, 'hex', 'u8', 'u16', 'u32' or 'u64'");
        next(ps);
        if (ps->tok.type != T_EOL) {
            for (;;) {
                char what[16];
                snprintf(what, sizeof what, "%s value", widths[w]);
                if (parse_num(ps, K_W8 + w, what, &v))
                    return -1;
                for (unsigned b = 0; b < 1u << w; b++)
                    buf_put8(&ps->bytes, (uint8_t)(v >> (8 * b)));
                if (ps->tok.type != T_COMMA)
                    break;
                next(ps);
            }
        }
    }
    if (ps->tok.type != T_EOL)
        return err_tok(ps, "end of line");
    if (ps->bytes.len == 0)
        return err_at(ps, line, col, "data statement has no bytes");
    return add_data(ps, addr, line, col);
}

static void close_block(parser *ps)
{
    ps->in_block = false;
    add_block(ps);
}

static int parse_block_header(parser *ps, uint32_t col)
{
    uint64_t pc;
    if (ps->in_block) {
        err_at(ps, ps->line, col,
               "'block' inside block 0x%llx (line %u): missing '}'?",
               (unsigned long long)ps->cur.pc, ps->cur.line);
        ps->in_block = false;   /* drop the unclosed block and go on */
    }
    if (parse_num(ps, K_U64, "block address", &pc) || expect(ps, T_LBRACE, "'{'"))
        return -1;
    memset(&ps->cur, 0, sizeof ps->cur);
    ps->cur.pc = pc;
    ps->cur.line = ps->line;
    ps->cur_col = col;
    ps->nops = 0;
    ps->have_term = false;
    ps->in_block = true;
    return 0;
}

static int parse_instruction(parser *ps, int mn, uint32_t col)
{
    const token k = ps->tok;
    if (ps->have_term)
        return err_at(ps, ps->line, col,
                      "'%.*s' after the terminator (line %u) of block 0x%llx",
                      (int)k.len, k.s, ps->term_line,
                      (unsigned long long)ps->cur.pc);
    next(ps);
    if (mn >= MN_TERM) {
        ir_term t;
        memset(&t, 0, sizeof t);
        t.kind = (uint8_t)(mn - MN_TERM);
        t.line = ps->line;
        t.col = col;
        /* Even a malformed terminator ends the block, so that '}' does not
         * report a second, bogus "no terminator" error. */
        ps->have_term = true;
        ps->term_line = ps->line;
        if (parse_term_operands(ps, &t))
            return -1;
        ps->cur.term = t;
        return 0;
    }
    ir_op o;
    memset(&o, 0, sizeof o);
    o.op = (uint8_t)mn;
    o.line = ps->line;
    o.col = col;
    if (parse_op_operands(ps, &o))
        return -1;
    return add_op(ps, &o);
}

static void parse_line(parser *ps)
{
    next(ps);
    token k = ps->tok;
    if (k.type == T_EOL)
        return;
    if (k.type == T_RBRACE) {
        next(ps);
        if (ps->tok.type != T_EOL) {
            err_tok(ps, "end of line after '}'");
            return;
        }
        if (!ps->in_block) {
            err_at(ps, ps->line, k.col, "'}' without an open block");
            return;
        }
        if (!ps->have_term) {
            err_at(ps, ps->line, k.col,
                   "block 0x%llx (line %u) has no terminator (ret, jmp, jmpreg, "
                   "condjmp, call, fault or interrupt)",
                   (unsigned long long)ps->cur.pc, ps->cur.line);
            ps->in_block = false;
            return;
        }
        close_block(ps);
        return;
    }
    if (k.type != T_WORD) {
        err_tok(ps, "a statement");
        return;
    }
    int rc;
    uint32_t line = ps->line;
    if (tok_is(&k, "block")) {
        next(ps);
        rc = parse_block_header(ps, k.col);
    } else if (tok_is(&k, "entry") || tok_is(&k, "memory") || tok_is(&k, "data")) {
        if (ps->in_block) {
            err_at(ps, line, k.col,
                   "'%.*s' inside block 0x%llx (it is a top-level statement)",
                   (int)k.len, k.s, (unsigned long long)ps->cur.pc);
            return;
        }
        next(ps);
        if (k.s[0] == 'd') {
            parse_data(ps, line, k.col);
            return;
        }
        ir_program *p = ps->p;
        if (k.s[0] == 'e') {
            if (ps->entry_line)
                return (void)err_at(ps, line, k.col,
                                    "second 'entry' (the first is at line %u)",
                                    ps->entry_line);
            rc = parse_num(ps, K_U64, "entry address", &p->entry);
            if (rc == 0) {
                p->has_entry = true;
                ps->entry_line = line;
            }
        } else {
            if (ps->memory_line)
                return (void)err_at(ps, line, k.col,
                                    "second 'memory' (the first is at line %u)",
                                    ps->memory_line);
            rc = parse_num(ps, K_MEM, "memory size", &p->memsize);
            if (rc == 0) {
                p->has_memory = true;
                ps->memory_line = line;
            }
        }
    } else {
        int mn = lookup_mnemonic(k.s, k.len);
        if (mn < 0) {
            char shown[64];
            tok_show(&k, shown, sizeof shown);
            err_at(ps, line, k.col, "unknown %s %s%s",
                   ps->in_block ? "mnemonic" : "statement", shown,
                   is_upper_spelling(&k) ? " (keywords and mnemonics are lower case)"
                                         : "");
            return;
        }
        if (!ps->in_block) {
            err_at(ps, line, k.col, "'%.*s' outside a block", (int)k.len, k.s);
            return;
        }
        rc = parse_instruction(ps, mn, k.col);
    }
    if (rc == 0 && ps->tok.type != T_EOL)
        err_tok(ps, "end of line");
}

/* ---- whole-program checks ---- */

typedef struct addr_idx {
    uint64_t addr;
    size_t idx;
} addr_idx;

static int cmp_addr_idx(const void *x, const void *y)
{
    const addr_idx *a = x, *b = y;
    if (a->addr != b->addr)
        return a->addr < b->addr ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static void check_data(parser *ps)
{
    ir_program *p = ps->p;
    for (size_t i = 0; i < p->ndata; i++) {
        const ir_data *dt = &p->data[i];
        if (dt->addr > p->memsize || dt->len > p->memsize - dt->addr) {
            char where[64];
            if (ps->memory_line)
                snprintf(where, sizeof where, "set at line %u", ps->memory_line);
            else
                snprintf(where, sizeof where, "the default");
            err_at(ps, dt->line, ps->data_cols[i],
                   "data at 0x%llx (%llu bytes) is outside memory (0x%llx bytes, %s)",
                   (unsigned long long)dt->addr, (unsigned long long)dt->len,
                   (unsigned long long)p->memsize, where);
        }
    }
    if (p->ndata < 2)
        return;
    addr_idx *t = xreallocarray(NULL, p->ndata, sizeof *t);
    if (!t) {
        out_of_memory(ps);
        return;
    }
    for (size_t i = 0; i < p->ndata; i++) {
        t[i].addr = p->data[i].addr;
        t[i].idx = i;
    }
    qsort(t, p->ndata, sizeof *t, cmp_addr_idx);
    /* Walk in address order, remembering the range that reaches furthest:
     * anything starting before its end overlaps it. */
    size_t far = t[0].idx;
    for (size_t i = 1; i < p->ndata; i++) {
        const ir_data *a = &p->data[far], *b = &p->data[t[i].idx];
        uint64_t aend = a->addr + a->len;   /* may wrap only if outside memory */
        if (aend < a->addr || b->addr < aend) {
            size_t later = t[i].idx > far ? t[i].idx : far;
            size_t earlier = t[i].idx > far ? far : t[i].idx;
            err_at(ps, p->data[later].line, ps->data_cols[later],
                   "data overlaps the data at line %u", p->data[earlier].line);
        }
        uint64_t bend = b->addr + b->len;
        if (bend < b->addr || bend > aend)
            far = t[i].idx;
    }
    free(t);
}

static void check_blocks(parser *ps)
{
    ir_program *p = ps->p;
    aotb_diag scratch = {0};
    /* ir_program_index's own messages lack the column: report here. */
    if (ir_program_index(p, &scratch) != 0 && p->by_pc) {
        for (size_t i = 1; i < p->nblocks; i++) {
            uint32_t x = p->by_pc[i - 1], y = p->by_pc[i];
            if (p->blocks[x].pc == p->blocks[y].pc)
                err_at(ps, p->blocks[y].line, ps->block_cols[y],
                       "duplicate block 0x%llx (first defined at line %u)",
                       (unsigned long long)p->blocks[y].pc, p->blocks[x].line);
        }
    } else if (!p->by_pc && p->nblocks) {
        out_of_memory(ps);
    }
    diag_free(&scratch);
}

int ir_parse(const char *file, const char *text, size_t len, ir_program *out,
             aotb_diag *d)
{
    return ir_parse_ex(file, text, len, 0, out, d);
}

int ir_parse_ex(const char *file, const char *text, size_t len,
                unsigned flags, ir_program *out, aotb_diag *d)
{
    parser ps;
    memset(&ps, 0, sizeof ps);
    memset(out, 0, sizeof *out);
    out->memsize = IR_DEFAULT_MEMORY;
    ps.file = file;
    ps.text = text;
    ps.len = len;
    ps.line = 1;
    ps.d = d;
    ps.p = out;

    while (ps.pos < ps.len && !ps.stop) {
        parse_line(&ps);
        skip_line(&ps);
    }
    if (!ps.stop && ps.in_block)
        err_at(&ps, ps.cur.line, ps.cur_col,
               "block 0x%llx is not closed: missing '}' at end of file",
               (unsigned long long)ps.cur.pc);
    if (!ps.stop && ps.nerr == 0 && out->nblocks == 0 &&
        !(flags & IR_PARSE_NO_BLOCKS_OK))
        err_at(&ps, 1, 1, "program has no blocks");
    if (!ps.stop)
        check_data(&ps);
    if (!ps.stop)
        check_blocks(&ps);

    if (!out->has_entry && out->nblocks > 0)
        out->entry = out->blocks[0].pc;
    if (ps.nerr == 0 && !ps.stop) {
        out->file = xstrdup(file);
        if (!out->file)
            out_of_memory(&ps);
    }
    free(ps.ops);
    free(ps.block_cols);
    free(ps.data_cols);
    buf_free(&ps.bytes);
    if (ps.nerr || ps.stop) {
        ir_program_free(out);
        return -1;
    }
    return 0;
}

int ir_parse_file(const char *path, ir_program *out, aotb_diag *d)
{
    return ir_parse_file_ex(path, 0, out, d);
}

int ir_parse_file_ex(const char *path, unsigned flags, ir_program *out,
                     aotb_diag *d)
{
    uint8_t *text;
    size_t len;
    memset(out, 0, sizeof *out);
    out->memsize = IR_DEFAULT_MEMORY;
    if (file_read_all(path, &text, &len, d) != 0)
        return -1;
    int rc = ir_parse_ex(strcmp(path, "-") == 0 ? "<stdin>" : path,
                         (const char *)text, len, flags, out, d);
    free(text);
    return rc;
}
