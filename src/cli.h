/* cli.h: the aotb command line.  Each command lives in src/cmd_<name>.c as
 * int cmd_<name>(int argc, char **argv) with argv[0] the command's name, and
 * returns the process exit status:
 *   0 success, 1 bad input (malformed program or image, unreadable file),
 *   2 bad usage, 3 (run / interp) the program stopped with a status other
 *   than ret or interrupt. */
#ifndef AOTB_CLI_H
#define AOTB_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "cpu.h"
#include "util.h"

#define EXIT_BADINPUT 1
#define EXIT_USAGE 2
#define EXIT_STOPPED 3

typedef struct cli_command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *synopsis;    /* "aotb run [OPTION]... IMAGE.aot" */
    const char *summary;     /* one line */
    const char *options;     /* option lines, each "  --x  text\n" */
} cli_command;

extern const cli_command cli_commands[];
const cli_command *cli_find(const char *name);

/* Prints a command's help to out. */
void cli_help(const cli_command *c, FILE *out);
/* "aotb CMD: MESSAGE" + a hint to --help on stderr; returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) AOTB_PRINTF(2, 3);
/* Prints a diag's messages to stderr. */
void cli_print_diag(const aotb_diag *d);
/* True if argv[i] is -h or --help. */
int cli_is_help(const char *arg);

/* Parses one run/interp option at argv[*i] (advancing *i past its value).
 * Returns 1 if consumed, 0 if argv[*i] is not a run option, -1 on a usage
 * error (message printed). */
int cli_run_option(const char *cmd, int argc, char **argv, int *i,
                   run_opts *o);
void run_opts_init(run_opts *o);
/* Parses the whole command line of run / interp: the run options, "--",
 * and exactly one file (what names it in messages: "program", "image").
 * Returns -1 when parsing is complete and *path is set; otherwise the exit
 * status to return at once (0 after --help, EXIT_USAGE on an error, which
 * has been printed). */
int cli_parse_run_args(const char *cmd, const char *what, int argc,
                       char **argv, run_opts *o, const char **path);

/* Checks the --set registers and --dump-mem ranges against a memory size;
 * prints a message and returns -1 if one is outside. */
int cli_run_opts_check(const char *cmd, const run_opts *o, uint64_t memsize);

int cmd_fmt(int argc, char **argv);
int cmd_hash(int argc, char **argv);
int cmd_interp(int argc, char **argv);
int cmd_compile(int argc, char **argv);
int cmd_link(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_gen(int argc, char **argv);
int cmd_build(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_compact(int argc, char **argv);

#endif
