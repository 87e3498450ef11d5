/* cmd_link.c: "aotb link -o PROG.aot OBJ.o... | @RSPFILE": reads every
 * object, links them (elfimage/image_link.c) and writes the image through a
 * temporary file renamed over the target, so a failed link leaves the old
 * image untouched.  Every error found is reported before failing.
 *
 * When the output image already exists and parses (every section checksum
 * checked), the link is incremental: its compressed chunks whose blocks
 * all come out with identical code and relocations are copied instead of
 * recompressed (img_link_ex).  A damaged or older-format image is simply
 * not reused.  The image's lock (IMAGE.lock) is held from reading the old
 * image to renaming the new one; a second writer waits up to 60 s. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "image.h"
#include "object.h"

typedef struct names {
    char **v;
    size_t n, cap;
} names;

static int names_add(names *l, const char *s, size_t len)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        char **v = xreallocarray(l->v, cap, sizeof *v);
        if (!v)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    char *p = malloc(len + 1);
    if (!p)
        return -1;
    memcpy(p, s, len);
    p[len] = '\0';
    l->v[l->n++] = p;
    return 0;
}

/* @RSPFILE: whitespace-separated paths. */
static int read_rsp(const char *path, names *l, aotb_diag *d)
{
    uint8_t *data;
    size_t len;
    if (file_read_all(path, &data, &len, d) != 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < len && rc == 0;) {
        while (i < len && isspace(data[i]))
            i++;
        size_t s = i;
        while (i < len && !isspace(data[i]))
            i++;
        if (i > s)
            rc = names_add(l, (const char *)data + s, i - s);
    }
    free(data);
    if (rc != 0)
        diag_add(d, "%s: out of memory", path);
    return rc;
}

int cmd_link(int argc, char **argv)
{
    const char *cmd = "link", *out = NULL;
    names in = {0};
    aotb_diag d = {0};
    int only_files = 0, rc = EXIT_BADINPUT;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_files && strcmp(a, "--") == 0) {
            only_files = 1;
        } else if (!only_files && strcmp(a, "-o") == 0) {
            if (i + 1 >= argc) {
                rc = cli_usage_error(cmd, "-o needs a file");
                goto done;
            }
            out = argv[++i];
        } else if (!only_files && a[0] == '-' && a[1] != '\0') {
            rc = cli_usage_error(cmd, "unknown option '%s'", a);
            goto done;
        } else if (a[0] == '@' && !only_files) {
            if (read_rsp(a + 1, &in, &d) != 0)
                goto fail;
        } else if (names_add(&in, a, strlen(a)) != 0) {
            diag_add(&d, "aotb link: out of memory");
            goto fail;
        }
    }
    if (!out) {
        rc = cli_usage_error(cmd, "missing -o IMAGE");
        goto done;
    }
    if (in.n == 0) {
        rc = cli_usage_error(cmd, "no objects to link");
        goto done;
    }

    obj_file *objs = xcalloc(in.n, sizeof *objs);
    if (!objs) {
        diag_add(&d, "aotb link: out of memory");
        goto fail;
    }
    unsigned char *ok = xcalloc(in.n, 1);
    int bad = !ok;
    if (!ok)
        diag_add(&d, "aotb link: out of memory");
    for (size_t i = 0; ok && i < in.n; i++) {
        uint8_t *data;
        size_t len;
        if (file_read_all(in.v[i], &data, &len, &d) != 0) {
            bad = 1;
            continue;
        }
        if (obj_read(in.v[i], data, len, &objs[i], &d) != 0)
            bad = 1;
        else
            ok[i] = 1;
        free(data);
    }
    buf image = {0};
    int lock = bad ? -1 : file_lock(out, 60000, &d);
    if (lock >= 0) {
        uint8_t *olddata = NULL;
        size_t oldlen = 0;
        img_image old;
        aotb_diag scratch = {0};
        img_link_opts lo;
        memset(&lo, 0, sizeof lo);
        if (file_read_all(out, &olddata, &oldlen, &scratch) == 0 &&
            img_parse(out, olddata, oldlen, &old, &scratch) == 0)
            lo.old = &old;
        diag_free(&scratch);
        if (img_link_ex(objs, (const char *const *)in.v, in.n, &lo, NULL,
                        &image, &d) == 0 &&
            file_write_atomic(out, image.data, image.len, &d) == 0)
            rc = 0;
        if (lo.old)
            img_free(&old);
        free(olddata);
        file_unlock(lock);
    }
    buf_free(&image);
    for (size_t i = 0; ok && i < in.n; i++)
        if (ok[i])
            obj_free(&objs[i]);
    free(ok);
    free(objs);
    if (rc == 0)
        goto done;
fail:
    cli_print_diag(&d);
    rc = EXIT_BADINPUT;
done:
    for (size_t i = 0; i < in.n; i++)
        free(in.v[i]);
    free(in.v);
    diag_free(&d);
    return rc;
}
