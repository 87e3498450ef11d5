/* PLACEHOLDER: replaced by the real command. */
#include <stdio.h>

#include "cli.h"

int cmd_compile(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "aotb %s: not built yet\n", argv[0]);
    return EXIT_USAGE;
}
