/*
 * An input that reads the objects of an S3 bucket (ALB, CloudFront, or any log objects)
 * instead of files: every object under the prefix once, in key order, through gzip inflate
 * (objects that start with the gzip magic or end in .gz) into the same line callback as the
 * tailer, with the agent's exactly-once checkpoint.
 *
 * Listing: ListObjectsV2 (`list-type=2`, `prefix`, `start-after`) from the floor: every key at
 * or before the floor is done; keys after it are done if they are among the remembered keys
 * (read within the lookback, at most SLT_S3_MAX_SEEN). After an object is read its key is
 * remembered with the time; the floor moves up to a remembered key once it was read more than
 * `lookback` ago (or when more than SLT_S3_MAX_SEEN are remembered). So an object that lands
 * late with a key before keys already read (ALB: one interval's objects come from several
 * nodes) is read if it lands within the lookback; a later one is not (documented).
 *
 * Exactly once: positions (flag SLT_POS_OBJECT) hold the floor (POS_MARK), the remembered
 * keys (POS_DONE; fingerprint = the wall-clock ms it was read) and the object being read with
 * the decoded offset after its last counted line; after a crash that object is fetched again
 * and the bytes before the offset skipped. A failed GET is retried at the next poll from the
 * offset reached; an object that is not valid gzip or ends early is counted in errors (its
 * lines read so far stay counted) and passed; one deleted before it was read is passed.
 *
 * Requests: path-style `ENDPOINT/BUCKET/KEY` with an endpoint, else
 * `https://BUCKET.s3.REGION.amazonaws.com/KEY`, signed with SigV4 by libcurl
 * (CURLOPT_AWS_SIGV4 "aws:amz:REGION:s3", x-amz-content-sha256: UNSIGNED-PAYLOAD), on the
 * agent's loop through slt_curl_uv (never blocking other inputs). Credentials, in the
 * standard order: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN; the shared
 * credentials file (AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials; profile AWS_PROFILE,
 * else default); IMDSv2 (a token PUT, then the role's credentials; endpoint
 * AWS_EC2_METADATA_SERVICE_ENDPOINT, else http://169.254.169.254; refreshed 5 minutes before
 * they expire; AWS_EC2_METADATA_DISABLED=true skips it). Credentials are never logged.
 *
 * Bounds: one request at a time per input; a listing answer of at most 16 MiB and 1000 keys a
 * page, at most 100 pages per poll (the rest at the next poll); SLT_S3_MAX_SEEN remembered
 * keys; one objread (its line buffer) and, while paused, one pending write of libcurl (at most
 * CURL_MAX_WRITE_SIZE, 16 KiB) per input.
 */
#ifndef SLT_AGENT_S3_H
#define SLT_AGENT_S3_H

#include <stddef.h>
#include <stdint.h>

#include "slt/common.h" /* slt_closed_cb */
#include "tail.h"

struct uv_loop_s;
struct slt_curl_uv;
struct slt_input_s3;

#define SLT_S3_MAX_SEEN 512

struct slt_s3_opts {
    const char *input;
    const struct slt_input_s3 *conf;
    int read_from_beginning;
    size_t max_line;
    slt_tail_line_cb on_line; /* file is NULL */
    void *data;
};

struct slt_s3_stats {
    const char *current, *floor;
    uint64_t offset, objects, lines, errors, list_errors, requests;
    size_t remembered;
    const char *credentials; /* "env", "file", "imds" or "none" */
};

struct slt_s3;

int slt_s3_new(struct uv_loop_s *loop, struct slt_curl_uv *cm, const struct slt_s3_opts *o,
               const struct slt_tail_pos *restore, size_t nrestore, struct slt_s3 **out);
void slt_s3_pause(struct slt_s3 *s);
void slt_s3_resume(struct slt_s3 *s);
size_t slt_s3_positions(struct slt_s3 *s, struct slt_tail_pos *out, size_t max);
void slt_s3_stats(struct slt_s3 *s, struct slt_s3_stats *st);
/* Cancels the request in flight; frees after the timer closed, then calls on_closed. */
void slt_s3_close(struct slt_s3 *s, slt_closed_cb on_closed, void *data);

#endif
