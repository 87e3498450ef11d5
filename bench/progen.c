/* progen.c: realistic synthetic .vir programs for the benchmarks.
 *
 *   progen N [--seed S] [--change K] [--change-seed T]
 *
 * prints a program of N blocks (pcs 0x10000, 0x10040, ...) with 5 to 30 ops
 * per block, a mix like translated guest code: ALU ops on a working set of
 * ~24 registers, immediates, loads and stores (base register + offset),
 * compares feeding conditional branches, calls with return addresses, a few
 * computed jumps, shifts, selects and the occasional division.  The output
 * is a pure function of the arguments (our own splitmix64).
 *
 * --change K regenerates K distinct blocks (chosen by --change-seed) with
 * different contents at the same pc: "K blocks changed" for incremental
 * rebuild measurements.  The other blocks are byte-identical. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BASE_PC 0x10000u
#define PC_STEP 0x40u

static uint64_t mix(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t st;
static uint64_t rnd(void)
{
    st = mix(st);
    return st;
}
static unsigned below(unsigned n)
{
    return (unsigned)(rnd() % n);
}
static unsigned reg(void)
{
    return 1 + below(24);
}
static uint64_t pc_of(unsigned long i)
{
    return BASE_PC + (uint64_t)PC_STEP * i;
}

static const char *const alu[] = { "add", "sub", "and", "or", "xor", "mul" };
static const char *const cmps[] = { "cmpeq", "cmpne", "cmplt", "cmpltu",
                                    "cmpge", "cmpgeu" };
static const char *const shifts[] = { "slli", "srli", "srai" };
static const char *const ltypes[] = { "u8", "s8", "u16", "s16", "u32", "s32",
                                      "u64" };
static const char *const stypes[] = { "u8", "u16", "u32", "u64" };

static void gen_op(void)
{
    unsigned k = below(100);
    if (k < 28)
        printf("    %s r%u, r%u, r%u\n", alu[below(6)], reg(), reg(), reg());
    else if (k < 42)
        printf("    addi r%u, r%u, %d\n", reg(), reg(), (int)below(512) - 256);
    else if (k < 50)
        printf("    movi r%u, 0x%x\n", reg(), (unsigned)below(0x100000));
    else if (k < 62)
        printf("    load r%u, [r%u + %u], %s\n", reg(), reg(), below(256) * 8,
               ltypes[below(7)]);
    else if (k < 72)
        printf("    store [r%u + %u], r%u, %s\n", reg(), below(256) * 8, reg(),
               stypes[below(4)]);
    else if (k < 80)
        printf("    %s r%u, r%u, r%u\n", cmps[below(6)], reg(), reg(), reg());
    else if (k < 87)
        printf("    %s r%u, r%u, %u\n", shifts[below(3)], reg(), reg(),
               below(64));
    else if (k < 91)
        printf("    mov r%u, r%u\n", reg(), reg());
    else if (k < 94)
        printf("    select r%u, r%u, r%u, r%u\n", reg(), reg(), reg(), reg());
    else if (k < 97)
        printf("    muli r%u, r%u, %u\n", reg(), reg(), 3 + below(1000));
    else if (k < 98)
        printf("    divu r%u, r%u, r%u\n", reg(), reg(), reg());
    else
        printf("    not r%u, r%u\n", reg(), reg());
}

static void gen_block(unsigned long i, unsigned long n, uint64_t seed,
                      uint64_t variant)
{
    st = mix(seed ^ mix(i) ^ mix(variant * 0x51ed27ull + 1));
    unsigned nops = 5 + below(26);
    printf("block 0x%" PRIx64 " {\n", pc_of(i));
    unsigned last_cmp = 0;
    for (unsigned k = 0; k < nops; k++) {
        if (k + 1 == nops && below(100) < 45) {
            /* A compare right before the branch, as compilers emit. */
            last_cmp = reg();
            printf("    %s r%u, r%u, r%u\n", cmps[below(6)], last_cmp, reg(),
                   reg());
        } else {
            gen_op();
        }
    }
    if (i + 1 == n) {
        printf("    ret\n}\n");
        return;
    }
    /* Targets: mostly nearby (loops, fall-through), sometimes far. */
    unsigned long near = i + 1 + below(4);
    unsigned long far = below((unsigned)n);
    if (near >= n)
        near = n - 1;
    unsigned k = below(100);
    if (last_cmp || k < 30)
        printf("    condjmp r%u, 0x%" PRIx64 ", 0x%" PRIx64 "\n",
               last_cmp ? last_cmp : reg(), pc_of(below(3) ? near : far),
               pc_of(i + 1));
    else if (k < 70)
        printf("    jmp 0x%" PRIx64 "\n", pc_of(below(4) ? i + 1 : far));
    else if (k < 85)
        printf("    call 0x%" PRIx64 ", 0x%" PRIx64 "\n", pc_of(far),
               pc_of(i + 1));
    else if (k < 95)
        printf("    ret\n");
    else
        printf("    jmpreg r%u, 0x%x\n", reg(), below(64) * 8);
    printf("}\n");
}

static int num(const char *s, unsigned long *out)
{
    char *end;
    *out = strtoul(s, &end, 0);
    return *s && !*end ? 0 : -1;
}

int main(int argc, char **argv)
{
    unsigned long n = 0, seed = 1, change = 0, cseed = 1;
    int have_n = 0;
    for (int i = 1; i < argc; i++) {
        unsigned long *dst = NULL;
        if (strcmp(argv[i], "--seed") == 0)
            dst = &seed;
        else if (strcmp(argv[i], "--change") == 0)
            dst = &change;
        else if (strcmp(argv[i], "--change-seed") == 0)
            dst = &cseed;
        if (dst) {
            if (++i >= argc || num(argv[i], dst) != 0)
                goto usage;
        } else if (!have_n && num(argv[i], &n) == 0 && n > 0) {
            have_n = 1;
        } else {
            goto usage;
        }
    }
    if (!have_n || change > n || n > 10000000)
        goto usage;

    /* The changed blocks: a partial Fisher-Yates shuffle of 0..n-1. */
    unsigned char *changed = calloc(n, 1);
    unsigned long *perm = malloc(n * sizeof *perm);
    if (!changed || !perm) {
        fprintf(stderr, "progen: out of memory\n");
        return 1;
    }
    for (unsigned long i = 0; i < n; i++)
        perm[i] = i;
    st = mix(cseed * 0x2545f491ull);
    for (unsigned long i = 0; i < change; i++) {
        unsigned long j = i + (unsigned long)(rnd() % (n - i));
        unsigned long t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
        changed[perm[i]] = 1;
    }

    printf("; progen %lu --seed %lu --change %lu --change-seed %lu\n", n, seed,
           change, cseed);
    printf("entry 0x%x\nmemory 0x100000\n", BASE_PC);
    printf("data 0x0 u64 1, 2, 3, 0x1234, 0x5678, 0xdeadbeef, 7, 9\n\n");
    for (unsigned long i = 0; i < n; i++)
        gen_block(i, n, seed, changed[i] ? cseed : 0);
    free(changed);
    free(perm);
    return ferror(stdout) || fflush(stdout) ? 1 : 0;
usage:
    fprintf(stderr, "usage: progen N [--seed S] [--change K] "
                    "[--change-seed T]   (1 <= N <= 10000000, K <= N)\n");
    return 2;
}
