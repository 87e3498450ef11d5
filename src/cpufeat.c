/* cpufeat.c: the host's CPU features, as CG_FEAT_* bits, so a loader can
 * refuse code the host cannot run instead of dying with SIGILL. */
#include "codegen.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

uint32_t cg_host_features(void)
{
    uint32_t f = 0;
#if defined(__x86_64__)
    unsigned a, b, c, d;
    /* Leaf 1: CMOV (edx bit 15) and SSE2 (edx bit 26) make the baseline. */
    if (__get_cpuid(1, &a, &b, &c, &d) && (d & 1u << 15) && (d & 1u << 26))
        f |= CG_FEAT_X86_64;
    /* Leaf 7 subleaf 0: BMI2 is ebx bit 8. */
    if (__get_cpuid_max(0, NULL) >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        if (b & 1u << 8)
            f |= CG_FEAT_BMI2;
    }
    /* Leaf 0x80000001: LZCNT (ABM) is ecx bit 5. */
    if (__get_cpuid(0x80000001u, &a, &b, &c, &d) && (c & 1u << 5))
        f |= CG_FEAT_LZCNT;
#endif
    return f;
}
