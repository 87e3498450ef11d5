/* xorshift.c: the C twin of xorshift.vir. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 0) : 1000;
    uint64_t x = 88172645463325252ull, h = 0xcbf29ce484222325ull;
    for (; n != 0; n--) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        h = (h ^ x) * 0x100000001b3ull;
    }
    printf("0x%016" PRIx64 "\n", h);
    return 0;
}
