/* fuzz_object.c: libFuzzer harness for the object reader (obj_read): any
 * bytes give an obj_file or an error message, never a crash; an object that
 * reads must also describe itself (img_dump_object) without one. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "image.h"
#include "object.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *fo_null(void)
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
    obj_file o;
    aotb_diag d = {0};
    if (obj_read("fuzz.o", data, size, &o, &d) != 0) {
        if (diag_text(&d)[0] == '\0') {
            fprintf(stderr, "fuzz_object: failure without a message\n");
            abort();
        }
        diag_free(&d);
        return 0;
    }
    (void)img_dump_object(fo_null(), "fuzz.o", &o, 0, &d);
    obj_free(&o);
    diag_free(&d);
    return 0;
}
