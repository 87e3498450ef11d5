/* sieve.c: the C twin of sieve.vir: primes below N. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 0) : 1000;
    uint8_t *flags = calloc(n + 1, 1);
    if (!flags)
        return 1;
    uint64_t count = 0;
    for (uint64_t i = 2; i < n; i++) {
        if (flags[i])
            continue;
        count++;
        for (uint64_t j = i * i; j < n; j += i)
            flags[j] = 1;
    }
    printf("0x%016" PRIx64 "\n", count);
    free(flags);
    return 0;
}
