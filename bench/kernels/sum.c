/* sum.c: the C twin of sum.vir: 1 + 2 + ... + N, N = argv[1]. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 0) : 1000;
    uint64_t s = 0;
    for (uint64_t i = n; i != 0; i--)
        s += i;
    printf("0x%016" PRIx64 "\n", s);
    return 0;
}
