/*
 * `slitail test` on arbitrary case files: the YAML walk, the validation and the run must never
 * crash, whatever the document. The CLI is not a library, so its sources are compiled in here.
 * The cases run against a fixed config with two inputs (one a user regex format).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../cli/cli_common.c"
#include "../../cli/explain.c"
#include "../../cli/lreader.c"
#include "../../cli/ruletest.c"

static const char config[] =
    "formats:\n"
    "  - name: app\n"
    "    regex: '^(?<time>\\S+) (?<method>[A-Z]+) (?<path>\\S+) (?<status>\\d{3}) "
    "(?<latency>[0-9.]+) tenant=(?<tenant>\\S+)$'\n"
    "    latency_unit: ms\n"
    "inputs:\n"
    "  - { name: web, format: nginx_timed }\n"
    "  - { name: app, format: app }\n"
    "slis:\n"
    "  - { name: avail, input: web, exclude: { status: 4xx }, bad: { status: 5xx } }\n"
    "  - { name: slow, input: web, match: { path: '^/search' }, bad: { latency_over: 300ms } }\n"
    "  - { name: api, input: app, exclude: { tenant: '^internal$' }, bad: [ { status: 5xx }, "
    "{ latency_over: 500ms } ] }\n";

static char cfg_path[64], case_path[64];

static int write_file(const char *path, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int ok;

    if (fd < 0)
        return -1;
    ok = write(fd, p, n) == (ssize_t)n;
    close(fd);
    return ok ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    char arg0[] = "test", arg1[] = "-c";
    char *argv[5];
    int out, err, null;

    if (!ready) {
        snprintf(cfg_path, sizeof(cfg_path), "/tmp/slt-fuzz-cli-%d.yaml", (int)getpid());
        snprintf(case_path, sizeof(case_path), "/tmp/slt-fuzz-cli-%d.test.yaml", (int)getpid());
        if (write_file(cfg_path, config, sizeof(config) - 1) < 0)
            abort();
        ready = 1;
    }
    if (write_file(case_path, data, size) < 0)
        abort();
    argv[0] = arg0;
    argv[1] = arg1;
    argv[2] = cfg_path;
    argv[3] = case_path;
    argv[4] = NULL;
    /* keep the report off the terminal while fuzzing */
    fflush(stdout);
    fflush(stderr);
    out = dup(STDOUT_FILENO);
    err = dup(STDERR_FILENO);
    null = open("/dev/null", O_WRONLY);
    dup2(null, STDOUT_FILENO);
    dup2(null, STDERR_FILENO);
    slt_cli_test(4, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    close(out);
    close(err);
    close(null);
    unlink(case_path);
    return 0;
}
