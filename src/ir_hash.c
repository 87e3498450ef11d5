/* ir_hash.c: the canonical binary encoding of a block and its 128-bit hash.
 *
 * Layout (all integers little-endian), version 1:
 *   u8 version (1), u64 pc, u32 op count,
 *   per op:      u8 opcode, d, a, b, c, mt, u64 imm        (14 bytes)
 *   terminator:  u8 kind, reg, has_resume, u64 imm, target, other (27 bytes)
 * Source positions never go in, so comments, spacing, number spelling and
 * block order do not change a block's hash; every operand does. */
#define XXH_STATIC_LINKING_ONLY   /* XXH3_state_t on the stack */
#include <xxhash.h>

#include "ir.h"

#define IR_ENCODING_VERSION 1
#define HEAD_SIZE 13
#define OP_SIZE 14
#define TERM_SIZE 27

static void encode_head(const ir_block *b, uint8_t *p)
{
    p[0] = IR_ENCODING_VERSION;
    put_le64(p + 1, b->pc);
    put_le32(p + 9, b->nops);
}

static void encode_op(const ir_op *o, uint8_t *p)
{
    p[0] = o->op;
    p[1] = o->d;
    p[2] = o->a;
    p[3] = o->b;
    p[4] = o->c;
    p[5] = o->mt;
    put_le64(p + 6, o->imm);
}

static void encode_term(const ir_term *t, uint8_t *p)
{
    p[0] = t->kind;
    p[1] = t->reg;
    p[2] = t->has_resume;
    put_le64(p + 3, t->imm);
    put_le64(p + 11, t->target);
    put_le64(p + 19, t->other);
}

static size_t encoded_size(const ir_block *b)
{
    return HEAD_SIZE + (size_t)b->nops * OP_SIZE + TERM_SIZE;
}

/* Writes exactly encoded_size(b) bytes. */
static void encode(const ir_block *b, uint8_t *p)
{
    encode_head(b, p);
    p += HEAD_SIZE;
    for (uint32_t i = 0; i < b->nops; i++, p += OP_SIZE)
        encode_op(&b->ops[i], p);
    encode_term(&b->term, p);
}

void ir_encode_block(const ir_block *b, buf *out)
{
    size_t n = encoded_size(b);
    if (buf_reserve(out, n) != 0)
        return;
    encode(b, out->data + out->len);
    out->len += n;
}

/* Same bytes as encode(), streamed through XXH3's state: used for blocks
 * too big for the stack buffer, so that hashing never allocates or fails. */
static XXH128_hash_t hash_streaming(const ir_block *b)
{
    XXH3_state_t st;
    uint8_t rec[TERM_SIZE];
    XXH3_INITSTATE(&st);
    XXH3_128bits_reset(&st);
    encode_head(b, rec);
    XXH3_128bits_update(&st, rec, HEAD_SIZE);
    for (uint32_t i = 0; i < b->nops; i++) {
        encode_op(&b->ops[i], rec);
        XXH3_128bits_update(&st, rec, OP_SIZE);
    }
    encode_term(&b->term, rec);
    XXH3_128bits_update(&st, rec, TERM_SIZE);
    return XXH3_128bits_digest(&st);
}

ir_hash ir_hash_block(const ir_block *b)
{
    uint8_t local[2048];
    size_t n = encoded_size(b);
    XXH128_hash_t r;
    if (n <= sizeof local) {
        encode(b, local);
        r = XXH3_128bits(local, n);
    } else {
        r = hash_streaming(b);
    }
    ir_hash h = {r.high64, r.low64};
    return h;
}

void ir_hash_hex(ir_hash h, char out[33])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[i] = digits[(h.hi >> (60 - 4 * i)) & 15];
        out[16 + i] = digits[(h.lo >> (60 - 4 * i)) & 15];
    }
    out[32] = '\0';
}

int ir_hash_parse(const char *hex, ir_hash *h)
{
    uint64_t v[2] = {0, 0};
    for (int i = 0; i < 32; i++) {
        char c = hex[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            d = (unsigned)(c - 'A' + 10);
        else
            return -1;   /* also stops at a NUL before 32 digits */
        v[i / 16] = v[i / 16] << 4 | d;
    }
    if (hex[32] != '\0')
        return -1;
    h->hi = v[0];
    h->lo = v[1];
    return 0;
}
