/*
 * The XML of an S3 ListObjectsV2 answer (and of an S3 error), parsed with libexpat into keys.
 * A plain library piece: no I/O, fuzzed by tests/fuzz/fuzz_s3list.c.
 *
 *   struct slt_s3list l; slt_s3list_init(&l);
 *   slt_s3list_parse(&l, xml, len)   0, SLT_EPARSE (not XML, or not a ListBucketResult nor an
 *                                    Error), SLT_ELIMIT (a bound below), SLT_ENOMEM
 *   l.keys[0..nkeys), l.truncated, l.next_token, l.error_code / l.error_message (an <Error>)
 *   slt_s3list_release(&l)
 *
 * Bounds: SLT_S3LIST_MAX_KEYS keys per answer (S3 sends at most 1000), keys of at most
 * SLT_S3LIST_MAX_KEY bytes (S3's own limit is 1024), text of one element at most 4 KiB.
 */
#ifndef SLT_AGENT_S3LIST_H
#define SLT_AGENT_S3LIST_H

#include <stddef.h>
#include <stdint.h>

#define SLT_S3LIST_MAX_KEYS 1000
#define SLT_S3LIST_MAX_KEY 1024

struct slt_s3obj {
    char *key;
    uint64_t size;
};

struct slt_s3list {
    struct slt_s3obj *keys;
    size_t nkeys;
    int truncated;
    char *next_token;    /* NextContinuationToken, or NULL */
    char *error_code;    /* <Error><Code>, or NULL */
    char *error_message; /* <Error><Message>, or NULL */
};

void slt_s3list_init(struct slt_s3list *l);
int slt_s3list_parse(struct slt_s3list *l, const char *xml, size_t len);
void slt_s3list_release(struct slt_s3list *l);

#endif
