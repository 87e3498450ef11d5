/* benchtool.c: in-process measurements for bench/run.sh that a command line
 * cannot isolate.  Linked against libaotb.a.  Times are medians of REPS runs
 * of CLOCK_MONOTONIC, printed in seconds.
 *
 *   benchtool load IMAGE REPS     "LOAD DECOMP": aotb_image_open_memory
 *                                 (parse, checksums, fingerprint, decompress,
 *                                 relocate, map) against decompressing the
 *                                 code chunks alone (ZSTD_decompress)
 *   benchtool code IMAGE OUT      writes every block's uncompressed code,
 *                                 concatenated in index order, to OUT
 *   benchtool compile PROG REPS   "HASH COMPILE ONE": parse + hash every
 *                                 block; parse + compile every block to an
 *                                 object in memory (one core); parse + hash
 *                                 + compile one block (the floor of a
 *                                 one-block incremental compile)
 *   benchtool time CMD ARG...     runs CMD once, its output to /dev/null,
 *                                 and prints the seconds from just before
 *                                 fork to just after wait: a shell timing
 *                                 with date would also count the start of
 *                                 a date process (about 1 ms here).  Exits
 *                                 1, printing nothing, if CMD fails. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "aotb/aotb.h"
#include "codegen.h"
#include "image.h"
#include "ir.h"
#include "object.h"
#include "util.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void die_diag(aotb_diag *d)
{
    fprintf(stderr, "benchtool: %s", d->text ? d->text : "error\n");
    exit(1);
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(1);
    }
    buf b = {0};
    uint8_t tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        buf_append(&b, tmp, n);
    fclose(f);
    if (b.oom) {
        fprintf(stderr, "benchtool: out of memory\n");
        exit(1);
    }
    *len = b.len;
    return b.data;
}

static int reps_arg(const char *s)
{
    int r = atoi(s);
    return r < 1 ? 1 : r > 1000 ? 1000 : r;
}

static int do_load(const char *path, int reps)
{
    size_t len;
    uint8_t *data = slurp(path, &len);
    aotb_diag d = {0};
    img_image img;
    if (img_parse(path, data, len, &img, &d) != 0)
        die_diag(&d);
    double *tl = calloc((size_t)reps, sizeof *tl);
    double *td = calloc((size_t)reps, sizeof *td);
    ZSTD_DCtx *z = ZSTD_createDCtx();
    if (!tl || !td || !z)
        return 1;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        aotb_image *ai;
        char *err = NULL;
        if (aotb_image_open_memory(data, len, path, &ai, &err) != 0) {
            fprintf(stderr, "benchtool: %s\n", err);
            return 1;
        }
        tl[r] = now() - t0;
        aotb_image_close(ai);

        /* The floor: every chunk decompressed with one reused context,
         * as fast as libzstd goes. */
        t0 = now();
        for (uint32_t i = 0; i < img.nchunks; i++) {
            const img_chunk *c = &img.chunks[i];
            uint8_t *out = malloc(c->size ? c->size : 1);
            if (!out || ZSTD_isError(ZSTD_decompressDCtx(z, out, c->size,
                                                         c->zframe,
                                                         c->zsize))) {
                fprintf(stderr, "benchtool: chunk %u does not decompress\n",
                        i);
                return 1;
            }
            free(out);
        }
        td[r] = now() - t0;
    }
    printf("%.6f %.6f\n", median(tl, reps), median(td, reps));
    ZSTD_freeDCtx(z);
    img_free(&img);
    free(data);
    free(tl);
    free(td);
    return 0;
}

static int do_code(const char *path, const char *outpath)
{
    size_t len;
    uint8_t *data = slurp(path, &len);
    aotb_diag d = {0};
    img_image img;
    if (img_parse(path, data, len, &img, &d) != 0)
        die_diag(&d);
    FILE *out = fopen(outpath, "wb");
    if (!out) {
        perror(outpath);
        return 1;
    }
    for (uint32_t i = 0; i < img.nchunks; i++) {
        uint8_t *chunk;
        if (img_chunk_decompress(&img, i, &chunk, &d) != 0)
            die_diag(&d);
        const img_chunk *c = &img.chunks[i];
        for (uint32_t k = c->first_block; k < c->first_block + c->nblocks;
             k++)
            fwrite(chunk + img.blocks[k].offset, 1, img.blocks[k].size, out);
        free(chunk);
    }
    img_free(&img);
    free(data);
    return fclose(out) == 0 ? 0 : 1;
}

static const ir_block *find_block(void *ctx, uint64_t pc)
{
    return ir_program_find(ctx, pc);
}

/* Parses the file; mode 0: hash every block; 1: compile every block into an
 * object; 2: hash every block and compile the middle one. */
static double compile_pass(const char *path, int mode, size_t *nblocks)
{
    aotb_diag d = {0};
    ir_program p;
    cg_options o = {0};
    char fp[256];
    cg_fingerprint(&o, fp, sizeof fp);
    uint32_t feat = cg_required_features(&o);
    uint64_t sink = 0;
    double t0 = now();
    if (ir_parse_file(path, &p, &d) != 0)
        die_diag(&d);
    buf b = {0};
    for (size_t i = 0; i < p.nblocks; i++) {
        const ir_block *blk = &p.blocks[i];
        ir_hash h = ir_hash_block(blk);
        sink += h.lo;
        if (mode == 0 || (mode == 2 && i != p.nblocks / 2))
            continue;
        cg_code c;
        b.len = 0;
        if (cg_compile_block(blk, &o, find_block, &p, &c, &d) != 0 ||
            obj_build_block(&c, h, NULL, 0, fp, feat, &b, &d) != 0)
            die_diag(&d);
        sink += b.len;
        cg_code_free(&c);
    }
    buf_free(&b);
    *nblocks = p.nblocks;
    ir_program_free(&p);
    double t = now() - t0;
    if (sink == 42)             /* keeps the work observable */
        fprintf(stderr, " ");
    return t;
}

static int do_compile(const char *path, int reps)
{
    double *t[3];
    size_t n = 0;
    for (int m = 0; m < 3; m++) {
        t[m] = calloc((size_t)reps, sizeof *t[m]);
        if (!t[m])
            return 1;
    }
    for (int r = 0; r < reps; r++)
        for (int m = 0; m < 3; m++)
            t[m][r] = compile_pass(path, m, &n);
    printf("%.6f %.6f %.6f %zu\n", median(t[0], reps), median(t[1], reps),
           median(t[2], reps), n);
    for (int m = 0; m < 3; m++)
        free(t[m]);
    return 0;
}

static int do_time(char **cmd)
{
    double t0 = now();
    pid_t pid = fork();
    if (pid < 0) {
        perror("benchtool time: fork");
        return 1;
    }
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
            _exit(127);
        execvp(cmd[0], cmd);
        _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) != pid)
        return 1;
    double t1 = now();
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return 1;
    printf("%.6f\n", t1 - t0);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "time") == 0)
        return do_time(argv + 2);
    if (argc == 4 && strcmp(argv[1], "load") == 0)
        return do_load(argv[2], reps_arg(argv[3]));
    if (argc == 4 && strcmp(argv[1], "code") == 0)
        return do_code(argv[2], argv[3]);
    if (argc == 4 && strcmp(argv[1], "compile") == 0)
        return do_compile(argv[2], reps_arg(argv[3]));
    fprintf(stderr, "usage: benchtool load IMAGE REPS | code IMAGE OUT | "
                    "compile PROG.vir REPS | time CMD ARG...\n");
    return 2;
}
