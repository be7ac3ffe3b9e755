/* Subcommands of the slitail CLI. Each returns the process exit code. */
#ifndef SLT_CLI_H
#define SLT_CLI_H

/* `slitail query ...`: wraps the aggregator's HTTP API (cli/query.c). argv[0] is "query". */
int slt_cli_query(int argc, char **argv);

#endif
