/*
 * A small HTTP/1.1 server on libuv for GET and HEAD, built on http-parser. It serves one
 * request at a time per connection (keep-alive and pipelining work; the next request is read
 * after the previous answer went out) and bounds everything:
 *   - header bytes per request (request line + header lines): max_header_bytes -> 431
 *   - time from accept, or from the first byte of a request, to its last header byte:
 *     header_timeout_ms -> connection closed (slowloris)
 *   - idle time between keep-alive requests, and time to send one answer to a client that
 *     does not read it: idle_timeout_ms -> connection closed
 *   - open connections: max_conns (further ones are accepted and closed at once, except that
 *     with probe_paths up to probe_conns more are served those paths only, one request each,
 *     with probe_timeout_ms for their headers: health probes get through a full server;
 *     with evict_idle the oldest connection not being answered is closed to make room)
 *   - request bodies are refused (413), methods other than GET/HEAD get 405
 *
 * Calling sequence:
 *   slt_http_server_start(loop, "127.0.0.1:7480", &limits, handler, data, &srv)
 *   handler(req, data)                for every request; it answers now or later with
 *   slt_http_respond(req, ...)        exactly once per request, even when the client left
 *                                     (req->conn is NULL then); respond then only frees req
 *   slt_http_server_close(srv, cb, d) closes the listener and every connection; requests still
 *                                     waiting for an answer must still be answered; cb runs
 *                                     once every handle is closed
 */
#ifndef SLT_HTTP_H
#define SLT_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "slt/common.h"

struct uv_loop_s;
struct sockaddr_storage;
struct slt_tls;
struct slt_http_server;
struct slt_http_conn;

struct slt_http_limits {
    size_t max_header_bytes;        /* default 8192 */
    uint64_t header_timeout_ms;     /* default 5000 */
    uint64_t idle_timeout_ms;       /* default 30000 */
    size_t max_conns;               /* default 256 */
    const char *const *probe_paths; /* NULL-terminated; NULL: none */
    size_t probe_conns;             /* connections over max_conns for probe paths */
    uint64_t probe_timeout_ms;      /* header timeout of those */
    int evict_idle; /* at max_conns, close the oldest connection not being answered instead */
};

#define SLT_HTTP_LIMITS_DEFAULT                                                                    \
    {                                                                                              \
        8192, 5000, 30000, 256, NULL, 0, 0, 0                                                      \
    }

/* Counters the server keeps; /metrics shows them. */
struct slt_http_counters {
    uint64_t requests;
    uint64_t responses_4xx;
    uint64_t responses_5xx;
    uint64_t conns_accepted;
    uint64_t conns_refused; /* over max_conns */
    uint64_t header_timeouts;
    uint64_t bad_requests;   /* malformed, oversized headers, bodies, bad methods */
    uint64_t conns_over_cap; /* accepted over max_conns for a probe path */
    uint64_t conns_evicted;  /* idle or slow connections closed to make room (evict_idle) */
    uint64_t tls_failures;   /* handshakes or records that failed */
};

enum slt_http_method {
    SLT_HTTP_GET = 1,
    SLT_HTTP_HEAD = 2,
};

struct slt_http_req {
    struct slt_http_conn *conn; /* NULL once the client went away */
    enum slt_http_method method;
    char *target;         /* the request target as sent, NUL-terminated */
    struct slt_str path;  /* raw path within target, not decoded */
    struct slt_str query; /* raw query string after '?', possibly empty */
    uint64_t start_ns;    /* slt_mono_ns() when the request was complete */
    char *authorization;  /* the Authorization header's value, or NULL */
};

typedef void (*slt_http_handler_fn)(struct slt_http_req *req, void *data);

/*
 * Listen on listen ("host:port", "[v6addr]:port") and serve requests with handler. limits may
 * be NULL for the defaults. Returns 0 and *out, or a negative code (bad address, bind failed).
 */
int slt_http_server_start(struct uv_loop_s *loop, const char *listen,
                          const struct slt_http_limits *limits, slt_http_handler_fn handler,
                          void *data, struct slt_http_server **out);
/* The same over TLS (tls borrowed: it must outlive the server; NULL: plain HTTP). */
int slt_http_server_start_tls(struct uv_loop_s *loop, const char *listen,
                              const struct slt_http_limits *limits, struct slt_tls *tls,
                              slt_http_handler_fn handler, void *data,
                              struct slt_http_server **out);
/* The port actually bound (useful with port 0). */
int slt_http_server_port(const struct slt_http_server *srv);
const struct slt_http_counters *slt_http_server_counters(const struct slt_http_server *srv);
size_t slt_http_server_conns(const struct slt_http_server *srv);
/* The lifecycle verb (slt/common.h): closes the listener and every connection, frees srv once
 * every handle is closed, then runs on_closed(data). */
void slt_http_server_close(struct slt_http_server *srv, slt_closed_cb on_closed, void *data);

/*
 * Answer req with status, content type and body (copied; not sent for HEAD), then free req.
 * extra_headers, if not NULL, is inserted as is ("Allow: GET, HEAD\r\n"). When the client has
 * gone this only frees req.
 */
void slt_http_respond(struct slt_http_req *req, int status, const char *content_type,
                      const char *body, size_t len, const char *extra_headers);

/*
 * Pure helpers (unit-tested, fuzzed).
 *
 * slt_http_pct_decode: percent-decode in[0..len) into out (room for outmax bytes including
 * the NUL terminator it always writes; the result is at most len bytes). plus_is_space turns '+'
 * into ' ' (query strings). Returns the decoded length, or SLT_EPARSE for a bad escape or a decoded
 * NUL byte, SLT_ELIMIT when out is too small.
 */
long slt_http_pct_decode(const char *in, size_t len, char *out, size_t outmax, int plus_is_space);

/*
 * Look up name in a query string ("a=1&b=x%20y"), decoding the value into out (NUL-terminated).
 * Returns 1 when found, 0 when absent, SLT_EPARSE on a bad escape, SLT_ELIMIT when too long.
 * A repeated name: the first one wins.
 */
int slt_http_query_get(struct slt_str query, const char *name, char *out, size_t outmax);

/*
 * 1 when authorization (a request's header value, may be NULL) is "Bearer <token>": the scheme
 * case-insensitive, any spaces after it, the token compared in constant time; else 0.
 */
int slt_http_bearer_matches(const char *authorization, const char *token, size_t token_len);

/* Parse "host:port" / "[v6]:port" into addr (numeric hosts, "localhost", "*" or "" = any). */
int slt_http_parse_listen(const char *listen, struct sockaddr_storage *addr);

/*
 * The request reader, apart from sockets so the fuzzer can drive it. Feed bytes with
 * slt_http_in_feed(); then call slt_http_in_next() until it says NEED_MORE.
 */
struct slt_http_in;
enum slt_http_in_result {
    SLT_HTTP_IN_NEED_MORE = 0,
    SLT_HTTP_IN_REQUEST = 1, /* a complete request: slt_http_in_method/_target/_keep_alive */
    SLT_HTTP_IN_ERROR = 2,   /* answer slt_http_in_error_status() and close */
};
struct slt_http_in *slt_http_in_new(size_t max_header_bytes);
void slt_http_in_free(struct slt_http_in *in);
/* Copies n bytes in; SLT_ELIMIT when they do not fit. */
int slt_http_in_feed(struct slt_http_in *in, const char *p, size_t n);
enum slt_http_in_result slt_http_in_next(struct slt_http_in *in);
int slt_http_in_error_status(const struct slt_http_in *in);
int slt_http_in_method(const struct slt_http_in *in); /* enum slt_http_method or 0 */
const char *slt_http_in_target(const struct slt_http_in *in);
int slt_http_in_keep_alive(const struct slt_http_in *in);
/* The Authorization value of the request just delivered (NUL-terminated), or NULL. */
const char *slt_http_in_authorization(const struct slt_http_in *in);
/* 1 when some bytes of a not yet complete request are buffered or parsed. */
int slt_http_in_started(const struct slt_http_in *in);
/* Split target into path and query slices (borrowed from target). */
void slt_http_split_target(const char *target, struct slt_str *path, struct slt_str *query);

#endif
