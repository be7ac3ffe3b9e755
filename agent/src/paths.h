/*
 * Loud misconfiguration: which paths and globs of an input match no regular file (plain or
 * .gz). The agent checks at start and on SIGHUP (each unmatched one logged as a warning) and
 * every status tick (silently; a path that starts matching is logged at info level). The
 * status shows the unmatched paths per input, and /metrics whether the input has matched no
 * file at all for `agent.unmatched_after`.
 *
 *   slt_paths_init(&p, npaths)
 *   slt_paths_check(&p, input_name, paths, warn, now_ms)     how many match nothing
 *   p.unmatched[i], slt_paths_none_for_ms(&p, now_ms)
 *   slt_paths_release(&p)
 *
 * Cost: one glob() per path per check (once a second), no memory kept but one byte per path.
 */
#ifndef SLT_AGENT_PATHS_H
#define SLT_AGENT_PATHS_H

#include <stddef.h>
#include <stdint.h>

struct slt_paths {
    unsigned char *unmatched; /* per path: 1 when it matched no file at the last check */
    size_t npaths, nunmatched;
    int64_t none_since_ms; /* wall clock since when no path matched anything; 0: some did */
    int checked;
};

/* 0 or SLT_ENOMEM. */
int slt_paths_init(struct slt_paths *p, size_t npaths);
void slt_paths_release(struct slt_paths *p);
/* Checks every path now; with warn, logs a warning per path that matches no file. Returns the
 * number of paths that match nothing. */
size_t slt_paths_check(struct slt_paths *p, const char *input, char *const *paths, int warn,
                       int64_t now_ms);
/* How long no path of the input has matched a file (ms), -1 when some path matches. */
int64_t slt_paths_none_for_ms(const struct slt_paths *p, int64_t now_ms);

#endif
