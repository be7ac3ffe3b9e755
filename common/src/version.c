#include "slt/version.h"

#include "slt_build_info.h"

void slt_print_version(FILE *f, const char *prog)
{
    fprintf(f, "%s %s (git %s)\n", prog, SLT_BUILD_VERSION, SLT_BUILD_REVISION);
}

/* A label value (the revision may come from the environment). */
static int label(struct slt_buf *b, const char *s)
{
    return slt_prom_escape_label(b, s, strlen(s));
}

int slt_build_info_prom(struct slt_buf *b)
{
    int rc = slt_buf_printf(b, "# HELP slitail_build_info Version and git revision of this "
                               "binary (always 1).\n# TYPE slitail_build_info gauge\n"
                               "slitail_build_info{version=\"");

    if (rc == 0)
        rc = label(b, SLT_BUILD_VERSION);
    if (rc == 0)
        rc = slt_buf_printf(b, "\",revision=\"");
    if (rc == 0)
        rc = label(b, SLT_BUILD_REVISION);
    if (rc == 0)
        rc = slt_buf_printf(b, "\"} 1\n");
    return rc;
}
