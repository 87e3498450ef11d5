/* cpu.c: the guest CPU state (registers, guest memory, return stack, budget)
 * shared by the interpreter, the native code and the runtime, and the
 * run/interp output contract (report_print). */
#include "cpu.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* The code generator addresses the CPU by these fixed offsets from rbx; a
 * layout change must fail the build, not miscompile guest code. */
_Static_assert(CPU_OFF_R(0) == offsetof(aotb_cpu, r), "CPU_OFF_R");
_Static_assert(CPU_OFF_R(255) == offsetof(aotb_cpu, r) + 8 * 255, "CPU_OFF_R");
_Static_assert(CPU_OFF_MEM == offsetof(aotb_cpu, mem), "CPU_OFF_MEM");
_Static_assert(CPU_OFF_BOUND(0) == offsetof(aotb_cpu, bound), "CPU_OFF_BOUND");
_Static_assert(CPU_OFF_BOUND(3) == offsetof(aotb_cpu, bound) + 24,
               "CPU_OFF_BOUND");
_Static_assert(CPU_OFF_MEMSIZE == offsetof(aotb_cpu, memsize), "CPU_OFF_MEMSIZE");
_Static_assert(CPU_OFF_BUDGET == offsetof(aotb_cpu, budget), "CPU_OFF_BUDGET");
_Static_assert(CPU_OFF_RSTACK == offsetof(aotb_cpu, rstack), "CPU_OFF_RSTACK");
_Static_assert(CPU_OFF_RSP == offsetof(aotb_cpu, rsp), "CPU_OFF_RSP");
_Static_assert(CPU_OFF_RCAP == offsetof(aotb_cpu, rcap), "CPU_OFF_RCAP");
_Static_assert(CPU_OFF_PC == offsetof(aotb_cpu, pc), "CPU_OFF_PC");
_Static_assert(CPU_OFF_INFO == offsetof(aotb_cpu, info), "CPU_OFF_INFO");
_Static_assert(CPU_OFF_STATUS == offsetof(aotb_cpu, status), "CPU_OFF_STATUS");
_Static_assert(CPU_OFF_LKP_TABLE == offsetof(aotb_cpu, lkp_table),
               "CPU_OFF_LKP_TABLE");
_Static_assert(CPU_OFF_LKP_MASK == offsetof(aotb_cpu, lkp_mask),
               "CPU_OFF_LKP_MASK");
_Static_assert(CPU_OFF_LKP_SHIFT == offsetof(aotb_cpu, lkp_shift),
               "CPU_OFF_LKP_SHIFT");
_Static_assert(CPU_OFF_HSTACK == offsetof(aotb_cpu, hstack),
               "CPU_OFF_HSTACK");
_Static_assert(CPU_OFF_HRSP == offsetof(aotb_cpu, hrsp), "CPU_OFF_HRSP");
_Static_assert(CPU_OFF_HLIM == offsetof(aotb_cpu, hlim), "CPU_OFF_HLIM");
_Static_assert(CPU_OFF_HDEEP == offsetof(aotb_cpu, hdeep), "CPU_OFF_HDEEP");
_Static_assert(CPU_OFF_HPOP == offsetof(aotb_cpu, hpop), "CPU_OFF_HPOP");
_Static_assert(sizeof(((aotb_cpu *)0)->status) == 4, "status is 32 bits");

int cpu_init(aotb_cpu *cpu, uint64_t memsize, aotb_diag *d)
{
    memset(cpu, 0, sizeof *cpu);
    long pg = sysconf(_SC_PAGESIZE);
    uint64_t page = pg > 0 ? (uint64_t)pg : 4096;
    /* Map whole pages, at least one so that mem is never NULL; the bounds
     * below still stop every access at memsize. */
    if (memsize > SIZE_MAX - page) {
        diag_add(d, "guest memory of 0x%" PRIx64 " bytes is too large for "
                    "this host", memsize);
        return -1;
    }
    uint64_t len = memsize == 0 ? page : (memsize + page - 1) / page * page;
    /* Anonymous, private and unreserved: pages cost nothing until touched
     * and read as zero, so a 4 GiB guest is cheap. */
    void *m = mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) {
        diag_add(d, "cannot map 0x%" PRIx64 " bytes of guest memory: %s",
                 memsize, strerror(errno));
        return -1;
    }
    cpu->rstack = xcalloc(IR_RSTACK_ENTRIES, sizeof *cpu->rstack);
    cpu->hstack = xcalloc(IR_RSTACK_ENTRIES, sizeof *cpu->hstack);
    if (!cpu->rstack || !cpu->hstack) {
        free(cpu->rstack);
        free(cpu->hstack);
        munmap(m, (size_t)len);
        diag_add(d, "out of memory for the return stack");
        return -1;
    }
    cpu->mem = m;
    cpu->map_len_ = (size_t)len;
    cpu->memsize = memsize;
    for (unsigned k = 0; k < 4; k++) {
        uint64_t size = (uint64_t)1 << k;
        cpu->bound[k] = memsize >= size ? memsize - size + 1 : 0;
    }
    cpu->rcap = IR_RSTACK_ENTRIES;
    cpu->budget = UINT64_MAX;
    cpu->status = AOTB_ST_RUNNING;
    return 0;
}

void cpu_free(aotb_cpu *cpu)
{
    if (cpu->mem)
        munmap(cpu->mem, cpu->map_len_);
    free(cpu->rstack);
    free(cpu->hstack);
    memset(cpu, 0, sizeof *cpu);
}

int cpu_load_data(aotb_cpu *cpu, uint64_t addr, const uint8_t *bytes,
                  uint64_t len, aotb_diag *d)
{
    if (addr > cpu->memsize || len > cpu->memsize - addr) {
        diag_add(d, "data at 0x%" PRIx64 " (%" PRIu64 " bytes) is outside "
                    "guest memory (0x%" PRIx64 " bytes)",
                 addr, len, cpu->memsize);
        return -1;
    }
    if (len)
        memcpy(cpu->mem + addr, bytes, (size_t)len);
    return 0;
}

void run_opts_apply(const run_opts *o, aotb_cpu *cpu)
{
    /* In order, so that a later --set of the same register wins. */
    for (size_t k = 0; k < o->nsets; k++)
        cpu->r[o->sets[k].reg % IR_NREGS] = o->sets[k].val;
    cpu->budget = o->max_blocks;
}

static void print_dump(FILE *out, const aotb_cpu *cpu, uint64_t addr,
                       uint64_t len)
{
    /* The CLI has checked the range; clamp anyway so that a bad range can
     * never read outside guest memory. */
    if (addr > cpu->memsize)
        return;
    if (len > cpu->memsize - addr)
        len = cpu->memsize - addr;
    for (uint64_t off = 0; off < len; off += 16) {
        uint64_t n = len - off < 16 ? len - off : 16;
        fprintf(out, "mem 0x%016" PRIx64 ":", addr + off);
        for (uint64_t k = 0; k < n; k++)
            fprintf(out, " %02x", cpu->mem[addr + off + k]);
        fputc('\n', out);
    }
}

int report_print(FILE *out, const aotb_cpu *cpu, const run_opts *o)
{
    int rc = 3;    /* the contract: any stop but ret / interrupt */
    fputs("status: ", out);
    switch (cpu->status) {
    case AOTB_ST_RET:
        fputs("ret\n", out);
        rc = 0;
        break;
    case AOTB_ST_FAULT:
        fprintf(out, "fault %" PRIu64 "\n", cpu->info);
        break;
    case AOTB_ST_MEMFAULT:
        fprintf(out, "memfault 0x%016" PRIx64 "\n", cpu->info);
        break;
    case AOTB_ST_INTERRUPT:
        fprintf(out, "interrupt %" PRIu64 "\n", cpu->info);
        rc = 0;
        break;
    case AOTB_ST_NOCODE:
        fprintf(out, "nocode 0x%016" PRIx64 "\n", cpu->pc);
        break;
    case AOTB_ST_BUDGET:
        fputs("budget\n", out);
        break;
    case AOTB_ST_CALLSTACK:
        fputs("callstack\n", out);
        break;
    default:
        /* Not a stop of the contract (running / internal lookup). */
        fprintf(out, "internal %u\n", (unsigned)cpu->status);
        break;
    }
    fprintf(out, "pc: 0x%016" PRIx64 "\n", cpu->pc);
    for (unsigned i = 0; i < IR_NREGS; i++)
        if (cpu->r[i])
            fprintf(out, "r%u: 0x%016" PRIx64 "\n", i, cpu->r[i]);
    if (o)
        for (size_t k = 0; k < o->ndumps; k++)
            print_dump(out, cpu, o->dumps[k].addr, o->dumps[k].len);
    return rc;
}
