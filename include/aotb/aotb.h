/* aotb/aotb.h: load and run AOT images made by "aotb link" (see
 * aotb-image(5)).  Link with -laotb (pkg-config aotb).
 *
 * Typical use:
 *
 *     aotb_image *img;  aotb_cpu *cpu;  char *err;
 *     if (aotb_image_open("prog.aot", &img, &err) != 0) {
 *         fprintf(stderr, "%s\n", err);  aotb_error_free(err);  return 1;
 *     }
 *     if (aotb_cpu_new(img, &cpu, &err) != 0) { ... }
 *     uint64_t pc;
 *     aotb_image_entry(img, &pc);
 *     aotb_cpu_set_reg(cpu, 1, 42);
 *     int st = aotb_run(img, cpu, pc, AOTB_NO_LIMIT);
 *     printf("%s at 0x%llx\n", aotb_status_name(st),
 *            (unsigned long long)aotb_cpu_pc(cpu));
 *     aotb_cpu_free(cpu);  aotb_image_close(img);
 *
 * Errors are returned as values: functions that can fail return 0 on
 * success and -1 on failure, and store a malloc'd, NUL-terminated message
 * (one or more lines, no trailing newline) in *err when err is not NULL;
 * free it with aotb_error_free.  The library never prints and never exits.
 * An image is untrusted input: a malformed, truncated or damaged image is
 * refused with a message, never a crash.  The objects are not thread-safe;
 * distinct CPUs may run the same image from different threads. */
#ifndef AOTB_AOTB_H
#define AOTB_AOTB_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* An opened, verified image with its code mapped read+execute. */
typedef struct aotb_image aotb_image;
/* A guest CPU: 256 64-bit registers, guest memory, a return stack. */
typedef struct aotb_cpu aotb_cpu;

/* Why aotb_run stopped (the "status:" of aotb run's output). */
enum {
    AOTB_STOP_RET = 1,       /* ret with an empty return stack */
    AOTB_STOP_FAULT = 2,     /* fault instruction; info = cause */
    AOTB_STOP_MEMFAULT = 3,  /* out-of-bounds access; info = address */
    AOTB_STOP_INTERRUPT = 4, /* interrupt; info = vector */
    AOTB_STOP_NOCODE = 5,    /* control reached a pc with no block */
    AOTB_STOP_BUDGET = 6,    /* the block budget ran out; pc = next block */
    AOTB_STOP_CALLSTACK = 7  /* call with a full return stack */
};

#define AOTB_NO_LIMIT UINT64_MAX
#define AOTB_NREGS 256

/* Frees a message returned through an err argument (NULL is fine). */
void aotb_error_free(char *err);

/* Opens an image file: reads it, checks format version, machine,
 * checksums and structure, the compiler fingerprint and the CPU features
 * its code needs against this host, decompresses and relocates the code
 * and maps it read+execute.  Returns 0 and *out, or -1 and *err. */
int aotb_image_open(const char *path, aotb_image **out, char **err);
/* The same from bytes in memory (copied; name is used in messages). */
int aotb_image_open_memory(const void *data, size_t len, const char *name,
                           aotb_image **out, char **err);
/* Unmaps the code and frees the image.  NULL is fine.  CPUs created for it
 * stay valid as CPUs but must not be run with it any more. */
void aotb_image_close(aotb_image *img);

/* The program's entry pc in *pc; returns 1, or 0 when the program has
 * neither blocks nor an "entry" statement (*pc is then 0). */
int aotb_image_entry(const aotb_image *img, uint64_t *pc);
/* Guest memory size in bytes. */
uint64_t aotb_image_memsize(const aotb_image *img);
/* Number of blocks with native code. */
size_t aotb_image_block_count(const aotb_image *img);
/* Host address of the native code of the block at pc, or NULL when the
 * image has no such block. */
const void *aotb_image_lookup(const aotb_image *img, uint64_t pc);

/* A new CPU for img: registers 0, zeroed guest memory of the image's size
 * with the image's data segments loaded, empty return stack, no block
 * budget.  Returns 0 and *out, or -1 and *err. */
int aotb_cpu_new(const aotb_image *img, aotb_cpu **out, char **err);
/* Frees a CPU and its guest memory.  NULL is fine. */
void aotb_cpu_free(aotb_cpu *cpu);

/* Register n (0..255); out-of-range n reads as 0. */
uint64_t aotb_cpu_get_reg(const aotb_cpu *cpu, unsigned n);
/* Sets register n; returns 0, or -1 when n > 255. */
int aotb_cpu_set_reg(aotb_cpu *cpu, unsigned n, uint64_t value);
/* Copies len bytes of guest memory at addr to dst / from src.  Returns 0, or -1
 * (nothing copied) when the range is not inside guest memory. */
int aotb_cpu_read_mem(const aotb_cpu *cpu, uint64_t addr, void *dst,
                      size_t len);
int aotb_cpu_write_mem(aotb_cpu *cpu, uint64_t addr, const void *src,
                       size_t len);

/* Runs img's native code on cpu from pc until the program stops, letting
 * at most max_blocks blocks start (AOTB_NO_LIMIT: no limit).  Returns the
 * AOTB_STOP_* status, also available from aotb_cpu_status. */
int aotb_run(const aotb_image *img, aotb_cpu *cpu, uint64_t pc,
             uint64_t max_blocks);

/* After a run: the AOTB_STOP_* status (0 before the first run), the pc
 * (the stopping block, the missing pc, or the next block for budget), and
 * the extra value (fault cause, faulting address or interrupt vector). */
int aotb_cpu_status(const aotb_cpu *cpu);
uint64_t aotb_cpu_pc(const aotb_cpu *cpu);
uint64_t aotb_cpu_info(const aotb_cpu *cpu);

/* "ret", "fault", "memfault", "interrupt", "nocode", "budget",
 * "callstack", or "unknown". */
const char *aotb_status_name(int status);

#ifdef __cplusplus
}
#endif
#endif
