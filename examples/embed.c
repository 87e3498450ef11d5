/* embed.c: a VM-style program using the installed aotb library.  It
 * assembles a small guest program in memory (no .vir text), builds an AOT
 * image incrementally with the builder API, changes one block, updates the
 * image (only that block is compiled), and runs the native code.
 *
 *   cc embed.c $(pkg-config --cflags --libs --static aotb) -o embed
 *   ./embed IMAGE.aot */
#include <stdio.h>
#include <string.h>

#include <aotb/aotb.h>
#include <aotb/builder.h>

/* A loop summing step, 2*step, ..., n*step into r2 (n = 10). */
static aotb_program *make_program(uint64_t step)
{
    aotb_program *p;
    if (aotb_program_new(&p, NULL) != 0)
        return NULL;
    aotb_op init[] = {{AOTB_OP_MOVI, 1, 0, 0, 0, 0, 10},
                      {AOTB_OP_MOVI, 2, 0, 0, 0, 0, 0}};
    aotb_op body[] = {{AOTB_OP_MULI, 3, 1, 0, 0, 0, step},
                      {AOTB_OP_ADD, 2, 2, 3, 0, 0, 0},
                      {AOTB_OP_ADDI, 1, 1, 0, 0, 0, (uint64_t)-1},
                      {AOTB_OP_CMPNE, 4, 1, 0, 0, 0, 0}};
    aotb_term t0 = {AOTB_T_JMP, 0, 0, 0, 0x1010, 0};
    aotb_term t1 = {AOTB_T_CONDJMP, 4, 0, 0, 0x1010, 0x1020};
    aotb_term t2 = {AOTB_T_RET, 0, 0, 0, 0, 0};
    if (aotb_program_add_block(p, 0x1000, init, 2, &t0, NULL) != 0 ||
        aotb_program_add_block(p, 0x1010, body, 4, &t1, NULL) != 0 ||
        aotb_program_add_block(p, 0x1020, NULL, 0, &t2, NULL) != 0) {
        aotb_program_free(p);
        return NULL;
    }
    return p;
}

static int update(const char *path, uint64_t step)
{
    aotb_builder *b = NULL;
    aotb_program *p = make_program(step);
    char *err = NULL;
    int rc = -1;
    if (p && aotb_builder_new(NULL, &b, &err) == 0 &&
        aotb_builder_set_program(b, p, &err) == 0 &&
        aotb_builder_update(b, path, &err) == 0) {
        aotb_build_stats s;
        aotb_builder_stats(b, &s);
        printf("step %llu: added %zu, modified %zu, unchanged %zu, "
               "compiled %zu\n", (unsigned long long)step, s.added,
               s.modified, s.unchanged, s.compiled);
        rc = 0;
    } else {
        fprintf(stderr, "embed: %s\n", err ? err : "out of memory");
    }
    aotb_error_free(err);
    aotb_builder_free(b);
    aotb_program_free(p);
    return rc;
}

static int run(const char *path)
{
    aotb_image *img;
    aotb_cpu *cpu;
    char *err;
    uint64_t pc;
    if (aotb_image_open(path, &img, &err) != 0) {
        fprintf(stderr, "embed: %s\n", err);
        aotb_error_free(err);
        return -1;
    }
    if (aotb_cpu_new(img, &cpu, &err) != 0) {
        fprintf(stderr, "embed: %s\n", err);
        aotb_error_free(err);
        aotb_image_close(img);
        return -1;
    }
    aotb_image_entry(img, &pc);
    int st = aotb_run(img, cpu, pc, AOTB_NO_LIMIT);
    printf("%s r2=%llu\n", aotb_status_name(st),
           (unsigned long long)aotb_cpu_get_reg(cpu, 2));
    aotb_cpu_free(cpu);
    aotb_image_close(img);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: embed IMAGE.aot\n");
        return 2;
    }
    if (update(argv[1], 1) != 0 || run(argv[1]) != 0 ||
        update(argv[1], 1) != 0 || update(argv[1], 3) != 0 ||
        run(argv[1]) != 0)
        return 1;
    return 0;
}
