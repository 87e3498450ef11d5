/* matmul.c: the C twin of matmul.vir. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#define MAXN 256

static uint64_t A[MAXN * MAXN], B[MAXN * MAXN], C[MAXN * MAXN];

int main(int argc, char **argv)
{
    uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 0) : 64;
    if (n > MAXN)
        return 1;
    for (uint64_t k = 0; k < n * n; k++) {
        A[k] = 3 * k + 1;
        B[k] = 7 * k + 5;
    }
    uint64_t sum = 0;
    for (uint64_t i = 0; i < n; i++)
        for (uint64_t j = 0; j < n; j++) {
            uint64_t s = 0;
            for (uint64_t k = 0; k < n; k++)
                s += A[i * n + k] * B[k * n + j];
            C[i * n + j] = s;
            sum += s;
        }
    printf("0x%016" PRIx64 "\n", sum);
    return 0;
}
