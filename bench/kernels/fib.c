/* fib.c: the C twin of fib.vir. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

static uint64_t fib(uint64_t n)
{
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

int main(int argc, char **argv)
{
    uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 0) : 20;
    printf("0x%016" PRIx64 "\n", fib(n));
    return 0;
}
