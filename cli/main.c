#include <stdio.h>

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "usage: slitail check|explain|test ...\n");
    return 2;
}
