/* aotb_api.c: the public loader/runtime API of <aotb/aotb.h> on top of the
 * image reader (elfimage/image.h), the code map and the dispatcher.  The
 * public aotb_cpu is the internal struct of cpu.h, kept opaque. */
#include "aotb/aotb.h"

#include <stdlib.h>
#include <string.h>

#include "codemap.h"
#include "cpu.h"
#include "image.h"
#include "runtime.h"

_Static_assert((int)AOTB_STOP_RET == (int)AOTB_ST_RET &&
                   (int)AOTB_STOP_FAULT == (int)AOTB_ST_FAULT &&
                   (int)AOTB_STOP_MEMFAULT == (int)AOTB_ST_MEMFAULT &&
                   (int)AOTB_STOP_INTERRUPT == (int)AOTB_ST_INTERRUPT &&
                   (int)AOTB_STOP_NOCODE == (int)AOTB_ST_NOCODE &&
                   (int)AOTB_STOP_BUDGET == (int)AOTB_ST_BUDGET &&
                   (int)AOTB_STOP_CALLSTACK == (int)AOTB_ST_CALLSTACK,
               "public stop statuses match cpu.h");
_Static_assert(AOTB_NREGS == IR_NREGS, "register count");

struct aotb_image {
    uint8_t *bytes;        /* the file; img points into it */
    size_t len;
    char *name;
    img_image img;
    codemap *map;
};

/* Moves a diag's text into a malloc'd message without the final '\n'. */
static void give_err(aotb_diag *d, char **err)
{
    if (err)
        *err = diag_take(d);
    else
        diag_free(d);
}

void aotb_error_free(char *err)
{
    free(err);
}

/* Takes ownership of bytes. */
static int open_bytes(uint8_t *bytes, size_t len, const char *name,
                      aotb_image **out, char **err)
{
    aotb_diag d = {0};
    *out = NULL;
    if (err)
        *err = NULL;
    aotb_image *im = calloc(1, sizeof *im);
    char *nm = xstrdup(name);
    if (!im || !nm) {
        free(im);
        free(nm);
        free(bytes);
        diag_add(&d, "%s: out of memory", name);
        give_err(&d, err);
        return -1;
    }
    im->bytes = bytes;
    im->len = len;
    im->name = nm;
    if (img_parse(im->name, bytes, len, &im->img, &d) != 0 ||
        img_check_host(&im->img, &d) != 0 ||
        img_load(&im->img, &im->map, &d) != 0) {
        aotb_image_close(im);
        give_err(&d, err);
        return -1;
    }
    diag_free(&d);
    *out = im;
    return 0;
}

int aotb_image_open(const char *path, aotb_image **out, char **err)
{
    aotb_diag d = {0};
    uint8_t *bytes;
    size_t len;
    *out = NULL;
    if (file_read_all(path, &bytes, &len, &d) != 0) {
        give_err(&d, err);
        return -1;
    }
    return open_bytes(bytes, len, path, out, err);
}

int aotb_image_open_memory(const void *data, size_t len, const char *name,
                           aotb_image **out, char **err)
{
    uint8_t *copy = malloc(len ? len : 1);
    *out = NULL;
    if (!copy) {
        aotb_diag d = {0};
        diag_add(&d, "%s: out of memory", name);
        give_err(&d, err);
        return -1;
    }
    if (len)
        memcpy(copy, data, len);
    return open_bytes(copy, len, name, out, err);
}

void aotb_image_close(aotb_image *img)
{
    if (!img)
        return;
    if (img->map)
        codemap_free(img->map);
    img_free(&img->img);
    free(img->bytes);
    free(img->name);
    free(img);
}

int aotb_image_entry(const aotb_image *img, uint64_t *pc)
{
    *pc = img->img.has_entry ? img->img.entry : 0;
    return img->img.has_entry;
}

uint64_t aotb_image_memsize(const aotb_image *img)
{
    return img->img.memsize;
}

size_t aotb_image_block_count(const aotb_image *img)
{
    return img->img.nblocks;
}

const void *aotb_image_lookup(const aotb_image *img, uint64_t pc)
{
    return img->map ? codemap_lookup(img->map, pc) : NULL;
}

int aotb_cpu_new(const aotb_image *img, aotb_cpu **out, char **err)
{
    aotb_diag d = {0};
    *out = NULL;
    if (err)
        *err = NULL;
    aotb_cpu *cpu = calloc(1, sizeof *cpu);
    if (!cpu) {
        diag_add(&d, "out of memory");
        give_err(&d, err);
        return -1;
    }
    if (cpu_init(cpu, img->img.memsize, &d) != 0) {
        free(cpu);
        give_err(&d, err);
        return -1;
    }
    for (size_t i = 0; i < img->img.ndata; i++) {
        const ir_data *dt = &img->img.datas[i];
        if (cpu_load_data(cpu, dt->addr, dt->bytes, dt->len, &d) != 0) {
            cpu_free(cpu);
            free(cpu);
            give_err(&d, err);
            return -1;
        }
    }
    diag_free(&d);
    *out = cpu;
    return 0;
}

void aotb_cpu_free(aotb_cpu *cpu)
{
    if (!cpu)
        return;
    cpu_free(cpu);
    free(cpu);
}

uint64_t aotb_cpu_get_reg(const aotb_cpu *cpu, unsigned n)
{
    return n < IR_NREGS ? cpu->r[n] : 0;
}

int aotb_cpu_set_reg(aotb_cpu *cpu, unsigned n, uint64_t value)
{
    if (n >= IR_NREGS)
        return -1;
    cpu->r[n] = value;
    return 0;
}

static int mem_range_ok(const aotb_cpu *cpu, uint64_t addr, size_t len)
{
    return addr <= cpu->memsize && cpu->memsize - addr >= len;
}

int aotb_cpu_read_mem(const aotb_cpu *cpu, uint64_t addr, void *dst,
                      size_t len)
{
    if (!mem_range_ok(cpu, addr, len))
        return -1;
    if (len)
        memcpy(dst, cpu->mem + addr, len);
    return 0;
}

int aotb_cpu_write_mem(aotb_cpu *cpu, uint64_t addr, const void *src,
                       size_t len)
{
    if (!mem_range_ok(cpu, addr, len))
        return -1;
    if (len)
        memcpy(cpu->mem + addr, src, len);
    return 0;
}

int aotb_run(const aotb_image *img, aotb_cpu *cpu, uint64_t pc,
             uint64_t max_blocks)
{
    cpu->budget = max_blocks;
    rt_run(codemap_rt(img->map), cpu, pc);
    return (int)cpu->status;
}

int aotb_cpu_status(const aotb_cpu *cpu)
{
    return (int)cpu->status;
}

uint64_t aotb_cpu_pc(const aotb_cpu *cpu)
{
    return cpu->pc;
}

uint64_t aotb_cpu_info(const aotb_cpu *cpu)
{
    return cpu->info;
}

const char *aotb_status_name(int status)
{
    static const char *const names[] = {NULL,        "ret",      "fault",
                                        "memfault",  "interrupt", "nocode",
                                        "budget",    "callstack"};
    if (status >= 1 && status <= AOTB_STOP_CALLSTACK)
        return names[status];
    return "unknown";
}
