/* cmd_verify.c: "aotb verify PROG.aot": every checksum and structural
 * invariant of an image, every chunk decompressed, every block's code
 * checksum and relocations, the missing stubs.  Exit 0 with a one-line
 * summary, or 1 with the first problem (which section, which block). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "image.h"

int cmd_verify(int argc, char **argv)
{
    const char *cmd = "verify", *path = NULL;
    int only_files = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_files && strcmp(a, "--") == 0) {
            only_files = 1;
            continue;
        }
        if (!only_files && strcmp(a, "--full") == 0)
            continue;           /* verify always checks everything */
        if (!only_files && a[0] == '-' && a[1] != '\0')
            return cli_usage_error(cmd, "unknown option '%s'", a);
        if (path)
            return cli_usage_error(cmd, "only one image, got '%s' and '%s'",
                                   path, a);
        path = a;
    }
    if (!path)
        return cli_usage_error(cmd, "missing the image file");

    aotb_diag d = {0};
    uint8_t *data = NULL;
    size_t len;
    img_image img;
    int rc = EXIT_BADINPUT;
    if (file_read_all(path, &data, &len, &d) == 0 &&
        img_parse(path, data, len, &img, &d) == 0) {
        if (img_verify(&img, &d) == 0) {
            printf("%s: ok (%" PRIu32 " block%s, %" PRIu32 " chunk%s)\n", path,
                   img.nblocks, img.nblocks == 1 ? "" : "s", img.nchunks,
                   img.nchunks == 1 ? "" : "s");
            rc = fflush(stdout) == 0 ? 0 : EXIT_BADINPUT;
        }
        img_free(&img);
    }
    if (rc != 0)
        cli_print_diag(&d);
    free(data);
    diag_free(&d);
    return rc;
}
