/* aotb.c: main(): the git-style command dispatcher, --help and --version. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

#define RUN_OPTIONS                                                           \
    "  --entry PC            start at PC instead of the program's entry\n"    \
    "  --set rN=VALUE        set register rN before starting (repeatable)\n"  \
    "  --max-blocks N        stop with status budget before block N+1\n"      \
    "  --dump-mem ADDR:LEN   print LEN bytes of guest memory at ADDR after\n" \
    "                        the program stops (repeatable)\n"

const cli_command cli_commands[] = {
    {"fmt", cmd_fmt, "aotb fmt PROG.vir",
     "print a program in canonical form",
     "  -o FILE               write to FILE instead of standard output\n"},
    {"hash", cmd_hash, "aotb hash PROG.vir",
     "print each block's pc and 128-bit IR hash", ""},
    {"interp", cmd_interp, "aotb interp [OPTION]... PROG.vir",
     "run a program with the reference interpreter", RUN_OPTIONS},
    {"compile", cmd_compile,
     "aotb compile BLOCK.vir -o BLOCK.o | aotb compile PROG.vir -d OBJDIR",
     "compile blocks to ELF relocatable objects",
     "  -o FILE               the object for a one-block file\n"
     "  -d DIR                one object per block (DIR/<pc>.o) plus\n"
     "                        DIR/meta.o; objects of removed blocks are\n"
     "                        not deleted\n"
     "  --meta FILE           write the program's entry, memory and data\n"
     "                        object to FILE\n"
     "  --depfile FILE        write a Makefile-style depfile for Ninja\n"
     "  --fold N              fold jump successors of at most N ops into\n"
     "                        the block (superblocks); with -o they are read\n"
     "                        from the sibling files DIR/<pc>.vir\n"
     "  --batch               with -d DIR: compile several one-block files,\n"
     "                        skipping blocks whose object is current\n"
     "  --binary ID           ignored: aotb gen names the aotb binary's\n"
     "                        identity in build.ninja's compile commands\n"
     "  --runtime -o FILE     write the runtime stubs (aotb_rt_*) as an\n"
     "                        object, to link block objects with GNU ld\n"},
    {"link", cmd_link, "aotb link -o PROG.aot OBJ.o... | @RSPFILE",
     "link per-block objects into a compressed AOT image",
     "  -o FILE               the image to write\n"},
    {"run", cmd_run, "aotb run [OPTION]... PROG.aot",
     "load an AOT image and run its native code", RUN_OPTIONS},
    {"verify", cmd_verify, "aotb verify [--full] PROG.aot",
     "check an image's checksums and structure",
     "  --full                check everything (the default too)\n"},
    {"dump", cmd_dump, "aotb dump [--disasm] PROG.aot|OBJ.o",
     "describe an image or object: header, blocks, sections",
     "  --disasm              disassemble the code of each block\n"},
    {"gen", cmd_gen,
     "aotb gen PROG.vir [-o DIR] [--image NAME.aot] [--root DIR] [--make] [--batch K] [--fold N]",
     "split a program into per-block files and write build.ninja",
     "  -o DIR                output directory [aot]\n"
     "  --image FILE          the image the build produces [DIR/PROG.aot]\n"
     "  --root DIR            the directory Ninja or Make runs in; paths in\n"
     "                        the build files are relative to it [the -o DIR]\n"
     "  --make                also write DIR/aot.mk for GNU Make\n"
     "  --batch K             compile K blocks per build edge [1]\n"
     "  --fold N              fold jump successors of at most N ops into\n"
     "                        their predecessor (superblocks) [0: off]\n"
     "  --stats               print added / modified / removed / unchanged\n"
     "                        counts against the previous generation\n"
     "  --json                print the classification as JSON\n"},
    {"build", cmd_build,
     "aotb build PROG.vir -o PROG.aot [-j N] [--full] [--stats|--json]",
     "compile a program into an image, incrementally when it exists",
     "  -o FILE               the image to write (updated in place, atomically)\n"
     "  -j N                  compile on N threads [all cores]\n"
     "  --full                ignore the existing image (even a damaged one):\n"
     "                        rebuild everything\n"
     "  --no-detect-changes   treat every block as changed\n"
     "  --no-preserve-unchanged\n"
     "                        recompile unchanged blocks instead of copying\n"
     "  --fold N              fold jmp successors of at most N ops [0]\n"
     "  --stats               print the change and build counts\n"
     "  --json                print them as JSON\n"},
    {"diff", cmd_diff, "aotb diff [--json|--dot] OLD.aot|OLD.vir PROG.vir",
     "classify blocks as added / modified / removed / unchanged",
     "  --json                print the classification as JSON\n"
     "  --fold N              the --fold of the build to compare with [0]\n"
     "  --dot                 print a Graphviz graph of the control flow\n"},
    {"compact", cmd_compact, "aotb compact PROG.aot [-o OUT] [--level N]",
     "rewrite an image in the canonical chunk layout",
     "  -o FILE               write here instead of over PROG.aot\n"
     "  --level N             zstd level 1..19 [3]\n"},
    {NULL, NULL, NULL, NULL, NULL}};

static void usage(FILE *out)
{
    fprintf(out, "usage: aotb [--version] [--help] COMMAND [ARGS]\n\n"
                 "aotb compiles VM block IR (.vir) ahead of time to native "
                 "x86-64 code.\n\nCommands:\n");
    for (const cli_command *c = cli_commands; c->name; c++)
        fprintf(out, "  %-10s %s\n", c->name, c->summary);
    fprintf(out, "\nRun 'aotb help COMMAND' or see man aotb.\n");
}

/* For a mistake: the synopsis and where the list of commands is. */
static void short_usage(void)
{
    fprintf(stderr, "usage: aotb [--version] [--help] COMMAND [ARGS]\n"
                    "Run 'aotb --help' for the list of commands.\n");
}

int main(int argc, char **argv)
{
    /* Past a file-size limit a write should fail with EFBIG, so the writer
     * removes its temporary and reports it, rather than die by SIGXFSZ. */
    signal(SIGXFSZ, SIG_IGN);
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *a = argv[1];
    if (cli_is_help(a)) {
        usage(stdout);
        return 0;
    }
    if (strcmp(a, "--version") == 0 || strcmp(a, "version") == 0) {
        printf("aotb %s\n", AOTB_VERSION);
        return 0;
    }
    if (strcmp(a, "help") == 0) {
        if (argc < 3) {
            usage(stdout);
            return 0;
        }
        const cli_command *c = cli_find(argv[2]);
        if (!c) {
            fprintf(stderr, "aotb: no command '%s'\n", argv[2]);
            short_usage();
            return EXIT_USAGE;
        }
        cli_help(c, stdout);
        return 0;
    }
    const cli_command *c = cli_find(a);
    if (!c) {
        if (a[0] == '-')
            fprintf(stderr, "aotb: unknown option '%s'\n", a);
        else
            fprintf(stderr, "aotb: '%s' is not an aotb command\n", a);
        short_usage();
        return EXIT_USAGE;
    }
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (cli_is_help(argv[i])) {
            cli_help(c, stdout);
            return 0;
        }
    }
    return c->fn(argc - 1, argv + 1);
}
