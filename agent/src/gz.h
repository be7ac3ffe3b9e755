/*
 * Streaming gzip decoding with bounded memory, for reading rotated access.log.N.gz files.
 *
 * Multi-member files (gzip a; gzip b; cat a.gz b.gz) decode as their concatenation, as
 * gzip -d does. Memory is one z_stream plus a fixed SLT_GZ_IN_BYTES input buffer whatever
 * the file; a "gzip bomb" costs CPU, never memory.
 *
 *   slt_gz_new_fd(fd, &g) or slt_gz_new_mem(p, len, &g)
 *   while ((n = slt_gz_read(g, buf, cap)) > 0) ...   0 at the end, < 0 on error
 *   slt_gz_free(g)
 */
#ifndef SLT_GZ_H
#define SLT_GZ_H

#include <stddef.h>
#include <stdint.h>

#define SLT_GZ_IN_BYTES 65536

struct slt_gz;

/* Decodes from fd (borrowed: not closed by slt_gz_free), read from its current position. */
int slt_gz_new_fd(int fd, struct slt_gz **out);
/* Decodes from p..p+len (borrowed for the life of g). */
int slt_gz_new_mem(const void *p, size_t len, struct slt_gz **out);
/*
 * Up to n decoded bytes into buf. Returns how many (> 0), 0 at a clean end, SLT_ECORRUPT
 * for bad or truncated data, -errno for a read error. Bytes decoded before an error are
 * returned first; the error comes from the next call and from every call after it.
 */
long slt_gz_read(struct slt_gz *g, void *buf, size_t n);
void slt_gz_free(struct slt_gz *g);

/*
 * Decodes all of p..p+len, stopping after max_out bytes. *out_len gets the bytes decoded and
 * *out_lines the '\n' seen. Returns 0, or the error that stopped it. For fuzzing and tests.
 */
int slt_gz_decode(const void *p, size_t len, uint64_t max_out, uint64_t *out_len,
                  uint64_t *out_lines);

#endif
