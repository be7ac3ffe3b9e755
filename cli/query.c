/* Placeholder until `slitail query` lands (replaced by the aggregator HTTP work). */
#include <stdio.h>

#include "cli.h"

int slt_cli_query(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "slitail query: not built yet\n");
    return 2;
}
