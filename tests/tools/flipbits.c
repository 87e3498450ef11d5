/* flipbits IMAGE OUTDIR: writes corrupted copies of IMAGE for
 * tests/e2e/test_bitflip.sh:
 *   OUTDIR/b<pos>    bit (pos % 8) of byte pos flipped, for every byte;
 *   OUTDIR/m<pos>-<mask>  multi-bit patterns (0xff, 0x81, 0x18) at a spread
 *                    of positions, and two-byte flips;
 *   OUTDIR/t<len>    truncations to a few lengths, and one byte appended.
 * Prints the number of files written. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned char *img;
static size_t len;
static const char *dir;
static unsigned count;

static void put(const char *name, const unsigned char *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        perror(path);
        exit(2);
    }
    count++;
}

static void flip(size_t pos, unsigned mask, size_t pos2, unsigned mask2, const char *name)
{
    img[pos] ^= (unsigned char)mask;
    if (mask2)
        img[pos2] ^= (unsigned char)mask2;
    put(name, img, len);
    img[pos] ^= (unsigned char)mask;
    if (mask2)
        img[pos2] ^= (unsigned char)mask2;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: flipbits IMAGE OUTDIR\n");
        return 2;
    }
    dir = argv[2];
    FILE *f = fopen(argv[1], "rb");
    if (!f || fseek(f, 0, SEEK_END) != 0) {
        perror(argv[1]);
        return 2;
    }
    long n = ftell(f);
    rewind(f);
    if (n <= 0 || !(img = malloc((size_t)n + 1)) ||
        fread(img, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "%s: cannot read\n", argv[1]);
        return 2;
    }
    fclose(f);
    len = (size_t)n;
    char name[64];
    for (size_t i = 0; i < len; i++) {
        snprintf(name, sizeof name, "b%zu", i);
        flip(i, 1u << (i % 8), 0, 0, name);
    }
    static const unsigned masks[] = { 0xff, 0x81, 0x18 };
    for (size_t i = 0; i < len; i += len / 61 + 1)
        for (size_t k = 0; k < 3; k++) {
            snprintf(name, sizeof name, "m%zu-%02x", i, masks[k]);
            flip(i, masks[k], 0, 0, name);
        }
    for (size_t i = 0; i + 1 < len; i += len / 29 + 1) {
        snprintf(name, sizeof name, "m%zu-pair", i);
        flip(i, 0x01, i + 1, 0x80, name);
    }
    const size_t cuts[] = { 0, 1, 8, 63, 64, len / 2, len - 16, len - 1 };
    for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
        snprintf(name, sizeof name, "t%zu", cuts[k]);
        put(name, img, cuts[k]);
    }
    img[len] = 0;
    snprintf(name, sizeof name, "t%zu", len + 1);
    put(name, img, len + 1);
    printf("%u\n", count);
    return 0;
}
