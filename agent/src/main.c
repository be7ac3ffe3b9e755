/*
 * slitail-agent -c CONFIG            run the agent
 * slitail-agent -c CONFIG --status   print the running agent's status (state_dir/status.json)
 * slitail-agent -c CONFIG --check    load and validate the config, then exit
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "slt/version.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: slitail-agent -c CONFIG [--status | --check] [-v] | --version\n"
               "  -c, --config FILE  the YAML config (agent: and inputs: sections)\n"
               "      --status       print the running agent's status and exit\n"
               "      --check        validate the config and exit\n"
               "  -v, --verbose      debug logging\n"
               "      --version      print the version and git revision, then exit\n");
}

static int print_status(const struct slt_config *cfg)
{
    char path[PATH_MAX], buf[65536];
    struct stat st;
    FILE *f;
    size_t n;
    int64_t age_ms, fresh_ms;
    int lfd;

    snprintf(path, sizeof(path), "%s/status.json", cfg->agent.state_dir);
    f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "slitail-agent: no status at '%s': %s (is the agent running?)\n", path,
                strerror(errno));
        return 3;
    }
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        fwrite(buf, 1, n, stdout);
    /* the running agent holds state_dir/lock */
    snprintf(path, sizeof(path), "%s/lock", cfg->agent.state_dir);
    lfd = open(path, O_RDONLY | O_CLOEXEC);
    if (lfd >= 0 && flock(lfd, LOCK_SH | LOCK_NB) == 0) {
        close(lfd);
        fclose(f);
        fprintf(stderr, "slitail-agent: the agent is not running (last status above)\n");
        return 3;
    }
    if (lfd >= 0)
        close(lfd);
    if (fstat(fileno(f), &st) == 0) {
        age_ms = slt_now_ms() - ((int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000);
        fresh_ms = 3 * cfg->agent.flush_interval_ms + 2000;
        if (age_ms > fresh_ms) {
            fclose(f);
            fprintf(stderr, "slitail-agent: status is %lld s old: the agent is not responding\n",
                    (long long)(age_ms / 1000));
            return 3;
        }
    }
    fclose(f);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"status", no_argument, NULL, 's'},
        {"check", no_argument, NULL, 'k'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL;
    int status = 0, check = 0, c, rc;
    struct slt_config *cfg = NULL;
    struct slt_agent *a = NULL;
    char err[1024];
    uv_loop_t loop;
    sigset_t sigs;

    slt_log_setup_daemon();
    /* a SIGTERM during the start (config, spool scan, recovery) waits for the handlers */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    sigprocmask(SIG_BLOCK, &sigs, NULL);
    while ((c = getopt_long(argc, argv, "c:vh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 's':
            status = 1;
            break;
        case 'k':
            check = 1;
            break;
        case 'v':
            slt_log_level = SLT_LOG_DEBUG;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            slt_print_version(stdout, "slitail-agent");
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!config || optind != argc) {
        usage(stderr);
        return 2;
    }
    rc = slt_config_load_file(config, &cfg, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "slitail-agent: %s\n", err);
        return 2;
    }
    if (status) {
        rc = print_status(cfg);
        slt_config_free(cfg);
        return rc;
    }
    if (check) {
        printf("%s: ok (%zu inputs, %zu SLIs)\n", config, cfg->ninputs, cfg->nslis);
        slt_config_free(cfg);
        return 0;
    }
    /* a dead aggregator connection must not kill us */
    signal(SIGPIPE, SIG_IGN);
    /* a file size limit must fail the spool append (and be retried), not kill us */
    signal(SIGXFSZ, SIG_IGN);
    uv_loop_init(&loop);
    if ((rc = slt_agent_new(&loop, config, cfg, &a)) < 0) {
        slt_log(SLT_LOG_ERROR, "agent", "cannot start: %s", slt_strerror(rc));
        uv_loop_close(&loop);
        return 1;
    }
    c = slt_agent_start(a);
    if (c < 0)
        slt__agent_stop(a);
    sigprocmask(SIG_UNBLOCK, &sigs, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    rc = c < 0 ? 1 : slt_agent_exit_code(a);
    slt_agent_free(a);
    if (uv_loop_close(&loop) != 0)
        slt_log(SLT_LOG_DEBUG, "agent", "loop closed with handles open");
    return rc;
}
