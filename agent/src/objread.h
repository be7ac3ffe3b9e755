/*
 * One whole object (a .gz file that arrived in a glob, an S3 object) read as lines: bytes are
 * pushed in as they come (from a file or from libcurl), inflated when gzip (multi-member
 * files decode as their concatenation), cut into lines and handed to a callback with the
 * decoded offset just after each line.
 *
 *   slt_objread_new(gz, max_line, skip_to, on_line, data, &r)   skip_to: resume after a crash
 *   n = slt_objread_feed(r, p, len)     bytes of p consumed (all unless paused: feed the rest
 *                                       again later); < 0: SLT_ECORRUPT (not gzip or bad data)
 *   slt_objread_pause(r) / slt_objread_paused(r) / slt_objread_resume(r)
 *   slt_objread_finish(r)               at the end of the object's bytes: 0 when complete (the
 *                                       last line, even without '\n', is delivered), -EAGAIN
 *                                       when a gzip stream has not ended (more bytes to come, or
 *                                       truncated), SLT_ECORRUPT
 *   slt_objread_free(r)
 *
 * Positions: slt_objread_offset(r) is the decoded offset just after the last line delivered;
 * a reader created with skip_to = that offset delivers exactly the lines after it. Lines
 * longer than max_line are delivered once, cut to max_line with SLT_TAIL_OVERSIZE, when their
 * '\n' is seen (so the offset never points into a line).
 *
 * Bounds: a decoded-line buffer of max(64 KiB, max_line + 1) bytes and one z_stream; a gzip
 * bomb costs CPU, never memory.
 */
#ifndef SLT_AGENT_OBJREAD_H
#define SLT_AGENT_OBJREAD_H

#include <stddef.h>
#include <stdint.h>

#include "tail.h"

struct slt_objread;

int slt_objread_new(int gz, size_t max_line, uint64_t skip_to, slt_tail_line_cb on_line, void *data,
                    struct slt_objread **out);
long slt_objread_feed(struct slt_objread *r, const void *p, size_t len);
int slt_objread_finish(struct slt_objread *r);
void slt_objread_pause(struct slt_objread *r);
void slt_objread_resume(struct slt_objread *r);
int slt_objread_paused(const struct slt_objread *r);
uint64_t slt_objread_offset(const struct slt_objread *r);
/* Decoded bytes seen so far (delivered or not). */
uint64_t slt_objread_decoded(const struct slt_objread *r);
uint64_t slt_objread_lines(const struct slt_objread *r);
void slt_objread_free(struct slt_objread *r);

/* 1 when p..p+n starts like a gzip stream (1f 8b). */
int slt_objread_is_gzip(const void *p, size_t n);

#endif
