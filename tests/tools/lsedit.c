/* lsedit SIDECAR INDEX PC: sets record INDEX's pc in an IMAGE.linkstate
 * (version 2, man/aotb-image.5) and recomputes the file's checksum, so that
 * tests/e2e/test_relink.sh can make a well-formed sidecar that lies. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "linkstate.h"

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: lsedit SIDECAR INDEX PC\n");
        return 2;
    }
    uint8_t *data;
    size_t len;
    aotb_diag d = {0};
    if (file_read_all(argv[1], &data, &len, &d) != 0) {
        fprintf(stderr, "%s", diag_text(&d));
        return 2;
    }
    uint64_t i = strtoull(argv[2], NULL, 0), pc = strtoull(argv[3], NULL, 16);
    if (len < LS_HEADER_SIZE + IMG_SUM_SIZE || i >= get_le64(data + 32)) {
        fprintf(stderr, "%s: no record %" PRIu64 "\n", argv[1], i);
        return 2;
    }
    put_le64(data + LS_HEADER_SIZE + i * LS_RECORD_SIZE, pc);
    img_sum(data, len - IMG_SUM_SIZE, data + len - IMG_SUM_SIZE);
    if (file_write_atomic(argv[1], data, len, &d) != 0) {
        fprintf(stderr, "%s", diag_text(&d));
        return 2;
    }
    free(data);
    return 0;
}
