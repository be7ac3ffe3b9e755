/* slitail: the rule author's CLI. Dispatches to the subcommands in cli.h. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "slt/version.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: slitail COMMAND [OPTIONS] ...\n"
               "\n"
               "  check    read log files (plain or .gz) and report parsed lines and SLIs\n"
               "  explain  show how one line parses and how each SLI classifies it\n"
               "  test     run rule test cases (CASES.yaml)\n"
               "  query    ask a running aggregator for SLIs and SLOs\n"
               "  replay   the alert notifications an SLO's tiers would have sent\n"
               "  recommend  objectives the last 28 days support\n"
               "  gate     the release gate of the error-budget policy (exit 0 / 1)\n"
               "\n"
               "'slitail COMMAND --help' describes a command; 'slitail --version' says which\n"
               "slitail this is.\n");
}

int main(int argc, char **argv)
{
    static char prog[64];
    const char *cmd;

    if (argc < 2) {
        usage(stderr);
        return SLT_EXIT_USAGE;
    }
    cmd = argv[1];
    /* getopt names the program in its messages: "slitail check: unrecognized option" */
    snprintf(prog, sizeof(prog), "slitail %s", cmd);
    argv[1] = prog;
    if (strcmp(cmd, "check") == 0)
        return slt_cli_check(argc - 1, argv + 1);
    if (strcmp(cmd, "explain") == 0)
        return slt_cli_explain(argc - 1, argv + 1);
    if (strcmp(cmd, "test") == 0)
        return slt_cli_test(argc - 1, argv + 1);
    if (strcmp(cmd, "query") == 0)
        return slt_cli_query(argc - 1, argv + 1);
    if (strcmp(cmd, "replay") == 0)
        return slt_cli_replay(argc - 1, argv + 1);
    if (strcmp(cmd, "recommend") == 0)
        return slt_cli_recommend(argc - 1, argv + 1);
    if (strcmp(cmd, "gate") == 0)
        return slt_cli_gate(argc - 1, argv + 1);
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return SLT_EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        slt_print_version(stdout, "slitail");
        return SLT_EXIT_OK;
    }
    fprintf(stderr, "slitail: unknown command '%s'\n", cmd);
    usage(stderr);
    return SLT_EXIT_USAGE;
}
