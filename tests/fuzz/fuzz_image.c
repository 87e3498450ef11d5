/* fuzz_image.c: libFuzzer harness for the image reader: img_parse on any
 * bytes, then (when it accepts them) img_verify, img_dump and img_load.  A
 * malformed image must give an error, never a crash, a hang or a leak. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "codemap.h"
#include "image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *fi_null(void)
{
    static FILE *f;
    if (!f)
        f = fopen("/dev/null", "w");
    if (!f)
        abort();
    return f;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    img_image img;
    aotb_diag d = {0};
    if (img_parse("fuzz.aot", data, size, &img, &d) != 0) {
        if (diag_text(&d)[0] == '\0') {
            fprintf(stderr, "fuzz_image: failure without a message\n");
            abort();
        }
        diag_free(&d);
        return 0;
    }
    (void)img_dump(fi_null(), &img, 0, &d);
    if (img_verify(&img, &d) == 0) {
        codemap *m = NULL;
        if (img_load(&img, &m, &d) == 0)
            codemap_free(m);
    }
    img_free(&img);
    diag_free(&d);
    return 0;
}
