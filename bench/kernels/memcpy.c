/* memcpy.c: the C twin of memcpy.vir. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#define WORDS 4096

static uint64_t src[WORDS], dst[WORDS];

int main(int argc, char **argv)
{
    uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 0) : 1000;
    for (uint64_t i = 0; i < WORDS; i++)
        src[i] = i * 0x9e3779b97f4a7c15ull;
    for (uint64_t pass = 0; pass < n; pass++)
        for (uint64_t i = 0; i < WORDS; i++)
            dst[i] = src[i] + pass;
    uint64_t sum = 0;
    for (uint64_t i = 0; i < WORDS; i++)
        sum += dst[i];
    printf("0x%016" PRIx64 "\n", sum);
    return 0;
}
