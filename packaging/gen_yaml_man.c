/*
 * Writes slitail.yaml(5) to standard output: the page's text around the key reference, which
 * comes from the same key table as docs/CONFIG.md (config/src/config_keys.c).
 */
#include <stdio.h>

#include "config_internal.h"
#include "slt/common.h"

static const char head[] =
    ".TH SLITAIL.YAML 5 \"2026-12-05\" \"slitail\" \"File Formats\"\n"
    ".SH NAME\n"
    "slitail.yaml \\- configuration of slitail, slitail\\-agent and slitail\\-aggregator\n"
    ".SH SYNOPSIS\n"
    ".I /etc/slitail/slitail.yaml\n"
    ".SH DESCRIPTION\n"
    "One YAML file serves the command line and both daemons; each reads the sections it needs:\n"
    ".B formats\n"
    "(user log formats),\n"
    ".B inputs\n"
    "(log files and their format),\n"
    ".B slis\n"
    "(which requests are good, bad or excluded),\n"
    ".B slos\n"
    "(objectives, windows, alert tiers),\n"
    ".B agent\n"
    "and\n"
    ".B aggregator\n"
    "(the daemons), and\n"
    ".B alerting\n"
    "(where burn-rate alerts go). Unknown keys are refused with file:line:column, so a typo never\n"
    "goes unnoticed; a reload (SIGHUP) that does not load keeps the running configuration.\n"
    ".PP\n"
    "Durations are written like 300ms, 2s, 5m, 2h, 28d, 1w; sizes like 4096, 64KiB, 10MB, 1GiB.\n"
    "Files named by *_file keys hold secrets (tokens, passwords, keys): keep them readable by\n"
    "root and the group\n"
    ".B slitail\n"
    "only (mode 0640). The rule semantics (conditions, formats) are described in\n"
    ".I /usr/share/doc/slitail/CONFIG.md.gz\n"
    "with examples.\n"
    ".SH KEYS\n"
    "Every key, its type, default and bounds, by section.\n";

static const char tail[] =
    ".SH FILES\n"
    ".TP\n"
    ".I /etc/slitail/slitail.yaml\n"
    "The configuration the packaged units start the daemons with (a conffile of the\n"
    ".B slitail\n"
    "package).\n"
    ".TP\n"
    ".I /usr/share/doc/slitail/examples/slitail.yaml\n"
    "A complete example.\n"
    ".SH SEE ALSO\n"
    ".BR slitail (1),\n"
    ".BR slitail\\-agent (8),\n"
    ".BR slitail\\-aggregator (8)\n";

int main(void)
{
    struct slt_buf b;
    int rc;

    slt_buf_init(&b, 1u << 22);
    rc = slt__config_man_keys(&b);
    if (rc < 0) {
        fprintf(stderr, "gen_yaml_man: %s\n", slt_strerror(rc));
        return 1;
    }
    fputs(head, stdout);
    fwrite(b.p, 1, b.len, stdout);
    fputs(tail, stdout);
    slt_buf_release(&b);
    return ferror(stdout) ? 1 : 0;
}
