/*
 * main.c - `fattn`, the command-line tool: subcommand dispatch, --help and
 * --version. The subcommands live in info.c and bench.c.
 */
#include "cli.h"

#include "fattn.h"

#include <stdio.h>
#include <string.h>

static void print_usage(FILE *out)
{
    char isas[128];

    cli_isa_list(isas, sizeof isas, 0, " | ");
    fprintf(out, "usage: fattn <command> [options]\n"
          "\n"
          "Flash-style tiled attention for x86 CPUs: inspect and benchmark the\n"
          "libfattn kernels.\n"
          "\n"
          "commands:\n"
          "  info     library version, CPU features, usable CPUs, kernel paths\n"
          "           and the path FATTN_ISA_AUTO resolves to\n"
          "  bench    time fattn_forward on random inputs and check it against\n"
          "           the fp64 reference\n"
          "\n"
          "options:\n"
          "  -h, --help       show this help ('fattn <command> --help' for a\n"
          "                   command's options)\n"
          "  --version        print the library version\n"
          "\n"
          "environment:\n"
          "  FATTN_ISA        %s: force the automatic path\n"
          "                   (an unknown or unavailable value is an error)\n"
          "\n"
          "exit status: 0 success, 1 library error or failed check, 2 usage error\n",
          isas);
}

int main(int argc, char **argv)
{
    const char *cmd;

    if (argc < 2) {
        print_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    cmd = argv[1];
    if (cli_is_help(cmd) || strcmp(cmd, "help") == 0) {
        print_usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0) {
        if (argc > 2) {
            fprintf(stderr, "fattn: --version takes no arguments\n");
            return CLI_EXIT_USAGE;
        }
        printf("fattn %s\n", fattn_version_string());
        return CLI_EXIT_OK;
    }
    if (strcmp(cmd, "info") == 0)
        return cli_info(argc - 1, argv + 1);
    if (strcmp(cmd, "bench") == 0)
        return cli_bench(argc - 1, argv + 1);

    if (cmd[0] == '-')
        fprintf(stderr, "fattn: unknown option '%s'\n", cmd);
    else
        fprintf(stderr, "fattn: unknown command '%s'\n", cmd);
    fprintf(stderr, "(see 'fattn --help')\n");
    return CLI_EXIT_USAGE;
}
