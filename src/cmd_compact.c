/* cmd_compact.c: "aotb compact PROG.aot [-o OUT] [--level N]": checks the
 * image completely (as aotb verify does), rewrites it in the canonical
 * layout (img_compact) and writes it atomically under the target's lock.
 * The result is never larger than the input: if recompressing would not
 * help, the input's bytes are kept. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "image.h"

static const char *const CMD = "compact";

int cmd_compact(int argc, char **argv)
{
    const char *in = NULL, *out = NULL;
    int level = 0, only_files = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_files && strcmp(a, "--") == 0) {
            only_files = 1;
        } else if (!only_files && (strcmp(a, "-o") == 0 ||
                                   strcmp(a, "--level") == 0)) {
            if (i + 1 >= argc)
                return cli_usage_error(CMD, "%s needs a value", a);
            if (a[1] == 'o') {
                out = argv[++i];
            } else {
                char *end;
                long v = strtol(argv[++i], &end, 10);
                if (*end || end == argv[i] || v < 1 || v > 19)
                    return cli_usage_error(CMD, "--level needs 1..19, got "
                                           "'%s'", argv[i]);
                level = (int)v;
            }
        } else if (!only_files && a[0] == '-' && a[1] != '\0') {
            return cli_usage_error(CMD, "unknown option '%s'", a);
        } else if (in) {
            return cli_usage_error(CMD, "only one image, got '%s' and '%s'",
                                   in, a);
        } else {
            in = a;
        }
    }
    if (!in)
        return cli_usage_error(CMD, "missing the image file");
    if (!out)
        out = in;

    aotb_diag d = {0};
    uint8_t *data = NULL;
    size_t len = 0;
    img_image img;
    buf res = {0};
    int rc = EXIT_BADINPUT, parsed = 0;
    /* A missing input fails before the lock, which would leave an
     * OUT.lock behind for an image that does not exist. */
    struct stat sb;
    if (stat(in, &sb) != 0) {
        diag_add(&d, "%s: cannot open: %s", in, strerror(errno));
        cli_print_diag(&d);
        diag_free(&d);
        return EXIT_BADINPUT;
    }
    int fd = file_lock(out, 60000, &d);
    if (fd < 0)
        goto done;
    if (file_read_all(in, &data, &len, &d) != 0 ||
        img_parse(in, data, len, &img, &d) != 0)
        goto done;
    parsed = 1;
    if (img_verify(&img, &d) != 0 || img_compact(&img, level, &res, &d) != 0)
        goto done;
    img_image after;
    uint32_t nch = 0;
    if (img_parse(out, res.data, res.len, &after, &d) != 0)
        goto done;
    nch = after.nchunks;
    img_free(&after);
    int keep = res.len > len;
    if (keep ? file_write_atomic(out, data, len, &d)
             : file_write_atomic(out, res.data, res.len, &d))
        goto done;
    if (keep)
        printf("%s: kept as it is (%zu bytes; the canonical layout would take "
               "%zu)\n", out, len, res.len);
    else
        printf("%s: %" PRIu32 " -> %" PRIu32 " chunks, %zu -> %zu bytes\n",
               out, img.nchunks, nch, len, res.len);
    rc = fflush(stdout) == 0 ? 0 : EXIT_BADINPUT;
done:
    if (fd >= 0)
        file_unlock(fd);
    if (rc != 0)
        cli_print_diag(&d);
    if (parsed)
        img_free(&img);
    buf_free(&res);
    free(data);
    diag_free(&d);
    return rc;
}
