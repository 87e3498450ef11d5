/* cmd_dump.c: "aotb dump [--disasm] PROG.aot|OBJ.o": describes an image
 * (header, sections, blocks) or a per-block object (kind, pc, hash,
 * fingerprint, relocations). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "image.h"
#include "object.h"

/* An image has the magic at the start of its first section; an object
 * does not carry it anywhere. */
static int looks_like_image(const uint8_t *p, size_t n)
{
    return memmem(p, n, IMG_MAGIC, 8) != NULL;
}

int cmd_dump(int argc, char **argv)
{
    const char *cmd = "dump", *path = NULL;
    int dis = 0, only_files = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_files && strcmp(a, "--") == 0) {
            only_files = 1;
            continue;
        }
        if (!only_files && strcmp(a, "--disasm") == 0) {
            dis = 1;
            continue;
        }
        if (!only_files && a[0] == '-' && a[1] != '\0')
            return cli_usage_error(cmd, "unknown option '%s'", a);
        if (path)
            return cli_usage_error(cmd, "only one file, got '%s' and '%s'",
                                   path, a);
        path = a;
    }
    if (!path)
        return cli_usage_error(cmd, "missing the image or object file");

    aotb_diag d = {0};
    uint8_t *data = NULL;
    size_t len;
    int rc = EXIT_BADINPUT;
    if (file_read_all(path, &data, &len, &d) != 0)
        goto out;
    if (looks_like_image(data, len)) {
        img_image img;
        if (img_parse(path, data, len, &img, &d) == 0) {
            if (img_dump(stdout, &img, dis, &d) == 0)
                rc = 0;
            img_free(&img);
        }
    } else {
        obj_file o;
        if (obj_read(path, data, len, &o, &d) == 0) {
            if (img_dump_object(stdout, path, &o, dis, &d) == 0)
                rc = 0;
            obj_free(&o);
        }
    }
    if (rc == 0 && fflush(stdout) != 0) {
        diag_add(&d, "aotb dump: standard output: write error");
        rc = EXIT_BADINPUT;
    }
out:
    if (rc != 0)
        cli_print_diag(&d);
    free(data);
    diag_free(&d);
    return rc;
}
