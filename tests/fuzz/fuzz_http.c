/*
 * The HTTP request path: bytes in arbitrary chunks through the request reader, then every
 * complete request through target splitting, routing (percent-decoding the SLI name) and the
 * range parameters, as the server does before it touches Redis; the Authorization header
 * through the bearer check.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "api.h"
#include "http.h"
#include "slt/common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void handle(const char *target)
{
    struct slt_str path, query;
    struct slt_api_range r;
    char name[SLT_API_MAX_NAME], err[200], v[64];

    slt_http_split_target(target, &path, &query);
    switch (slt_api_route(path, name, sizeof(name))) {
    case SLT_ROUTE_COUNTS:
    case SLT_ROUTE_SLO:
    case SLT_ROUTE_SLO_SERIES:
        (void)strlen(name);
        break;
    default:
        break;
    }
    (void)slt_api_parse_range(query, &r, err, sizeof(err));
    (void)slt_http_query_get(query, "step", v, sizeof(v));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct slt_http_in *in;
    size_t chunk, off = 0;
    int requests = 0;

    if (size < 1)
        return 0;
    /* the first byte picks the read size, so requests split anywhere */
    chunk = (size_t)(data[0] % 64) + 1;
    data++;
    size--;
    in = slt_http_in_new(1024);
    if (!in)
        return 0;
    while (off < size) {
        size_t n = size - off < chunk ? size - off : chunk;
        enum slt_http_in_result res;

        if (slt_http_in_feed(in, (const char *)data + off, n) < 0)
            break;
        off += n;
        while ((res = slt_http_in_next(in)) == SLT_HTTP_IN_REQUEST && requests < 100) {
            const char *auth = slt_http_in_authorization(in);

            requests++;
            handle(slt_http_in_target(in));
            if (auth && slt_http_bearer_matches(auth, "s3cret", 6) < 0)
                __builtin_trap();
        }
        if (res == SLT_HTTP_IN_ERROR) {
            int st = slt_http_in_error_status(in);

            if (st < 400 || st > 599)
                __builtin_trap();
            break;
        }
    }
    slt_http_in_free(in);
    return 0;
}
