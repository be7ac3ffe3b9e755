/*
 * Loud misconfiguration: which paths and globs of an input match no file. See paths.h.
 */
#include "paths.h"

#include <glob.h>
#include <string.h>
#include <sys/stat.h>

#include "slt/common.h"

/* 1 when pattern names at least one regular file now (plain or .gz). */
static int pattern_matches(const char *pattern)
{
    glob_t g;
    size_t j;
    int found = 0;

    memset(&g, 0, sizeof(g));
    if (glob(pattern, GLOB_NOSORT, NULL, &g) == 0) {
        for (j = 0; j < g.gl_pathc && !found; j++) {
            struct stat st;

            if (stat(g.gl_pathv[j], &st) == 0 && S_ISREG(st.st_mode))
                found = 1;
        }
    }
    globfree(&g);
    return found;
}

int slt_paths_init(struct slt_paths *p, size_t npaths)
{
    memset(p, 0, sizeof(*p));
    p->unmatched = slt_calloc(npaths ? npaths : 1, 1);
    if (!p->unmatched)
        return SLT_ENOMEM;
    p->npaths = npaths;
    return 0;
}

void slt_paths_release(struct slt_paths *p)
{
    slt_free(p->unmatched);
    memset(p, 0, sizeof(*p));
}

size_t slt_paths_check(struct slt_paths *p, const char *input, char *const *paths, int warn,
                       int64_t now_ms)
{
    size_t i, n = 0;

    for (i = 0; i < p->npaths; i++) {
        int was = p->unmatched[i];

        p->unmatched[i] = !pattern_matches(paths[i]);
        if (p->unmatched[i]) {
            n++;
            if (warn)
                slt_log(SLT_LOG_WARN, "agent", "input '%s': path '%s' matches no file", input,
                        paths[i]);
        } else if (was && p->checked) {
            slt_log(SLT_LOG_INFO, "agent", "input '%s': path '%s' matches a file now", input,
                    paths[i]);
        }
    }
    p->nunmatched = n;
    if (p->npaths && n == p->npaths) {
        if (!p->none_since_ms)
            p->none_since_ms = now_ms;
    } else {
        p->none_since_ms = 0;
    }
    p->checked = 1;
    return n;
}

int64_t slt_paths_none_for_ms(const struct slt_paths *p, int64_t now_ms)
{
    if (!p->none_since_ms || now_ms < p->none_since_ms)
        return p->none_since_ms ? 0 : -1;
    return now_ms - p->none_since_ms;
}
