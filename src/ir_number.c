/* ir_number.c: the IR's number syntax, shared by the parser and the CLI. */
#include <string.h>

#include "ir.h"

int ir_scan_number(const char *s, size_t len, bool *neg, uint64_t *mag)
{
    size_t i = 0;
    *neg = false;
    *mag = 0;
    if (i < len && s[i] == '-') {
        *neg = true;
        i++;
    }
    unsigned base = 10;
    if (len - i > 2 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
        base = 16;
        i += 2;
    }
    if (i >= len)
        return -1;
    uint64_t v = 0;
    int overflow = 0;
    int prev_digit = 0;
    for (; i < len; i++) {
        char c = s[i];
        unsigned dv;
        if (c == '_') {
            /* only between digits */
            if (!prev_digit || i + 1 >= len)
                return -1;
            prev_digit = 0;
            continue;
        }
        if (c >= '0' && c <= '9')
            dv = (unsigned)(c - '0');
        else if (base == 16 && c >= 'a' && c <= 'f')
            dv = (unsigned)(c - 'a' + 10);
        else if (base == 16 && c >= 'A' && c <= 'F')
            dv = (unsigned)(c - 'A' + 10);
        else
            return -1;
        if (v > (UINT64_MAX - dv) / base)
            overflow = 1;
        else
            v = v * base + dv;
        prev_digit = 1;
    }
    if (!prev_digit)
        return -1;
    if (overflow)
        return -2;
    *mag = v;
    return 0;
}

int ir_number_u64(const char *s, uint64_t *out)
{
    bool neg;
    uint64_t mag;
    if (ir_scan_number(s, strlen(s), &neg, &mag) != 0)
        return -1;
    if (neg) {
        if (mag > (UINT64_C(1) << 63))
            return -1;
        *out = (uint64_t)0 - mag;
    } else {
        *out = mag;
    }
    return 0;
}
