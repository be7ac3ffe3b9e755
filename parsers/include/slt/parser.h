/*
 * Log formats. A format turns one log line into a canonical record of slices into the line:
 * no I/O, no logging, no per-line allocation.
 *
 * Calling sequence:
 *   slt_format_builtin("nginx_timed", &fmt)   or   slt_format_new(&spec, &fmt, err, sizeof(err))
 *   p = slt_parser_new(fmt, max_line)          one per thread/loop; holds match data
 *   for each line (without its '\n'):  r = slt_parse(p, line, len, &rec)
 *       r == SLT_UP_OK: rec is valid until the next slt_parse() on p or until line changes
 *       otherwise r says why the line is unparsed (slt_unparsed_name(r)), rec.detail says more
 *   slt_parser_free(p); slt_format_free(fmt)
 */
#ifndef SLT_PARSER_H
#define SLT_PARSER_H

#include <stddef.h>
#include <stdint.h>

#include "slt/common.h"

/* Canonical fields. User formats map named groups with these names onto them. */
enum slt_field {
    SLT_F_TIME = 0, /* raw timestamp text */
    SLT_F_STATUS,   /* response status as sent to the client (ALB: elb_status_code) */
    SLT_F_LATENCY,  /* request time as logged (nginx $request_time, ALB sum of timings) */
    SLT_F_METHOD,
    SLT_F_PATH,     /* request target as logged (with query string) */
    SLT_F_PROTOCOL, /* HTTP/1.1, HTTP/2.0 ... */
    SLT_F_HOST,     /* virtual host / domain when the format has one */
    SLT_F_CLIENT,   /* remote address (may be a list, IPv6, unix:) */
    SLT_F_USER,     /* remote user */
    SLT_F_BYTES,    /* body bytes sent */
    SLT_F_REFERER,
    SLT_F_USER_AGENT,
    SLT_F_UPSTREAM_LATENCY, /* nginx $upstream_response_time as logged ("0.010, 0.020 : 0.005") */
    SLT_F_REQUEST,          /* the whole request line, e.g. "GET / HTTP/1.1" */
    SLT_F_XFF,              /* X-Forwarded-For */
    SLT_F_TYPE,             /* ALB: http|https|h2|grpcs|ws|wss */
    SLT_F_TARGET_STATUS,    /* ALB: target_status_code */
    SLT_F_ERROR_REASON,     /* ALB: error_reason */
    SLT_F__COUNT
};

/* "time", "status", ... or NULL. */
const char *slt_field_name(int field);
/* The canonical field called name, or -1. */
int slt_field_from_name(const char *name, size_t len);

/* Why a line did not parse. SLT_UP_OK (0) means it did. */
enum slt_unparsed {
    SLT_UP_OK = 0,
    SLT_UP_EMPTY,       /* empty or blank line */
    SLT_UP_OVERSIZE,    /* longer than max_line */
    SLT_UP_SYNTAX,      /* the line is not in this format */
    SLT_UP_TIME,        /* the timestamp does not parse */
    SLT_UP_STATUS,      /* the status is not a 3-digit number */
    SLT_UP_LATENCY,     /* the latency does not parse */
    SLT_UP_NO_MATCH,    /* user regex did not match */
    SLT_UP_MATCH_LIMIT, /* user regex hit its match or depth limit (ReDoS guard) */
    SLT_UP_NOT_ACCESS,  /* a well-formed line that is not a request (ALB connection log, ...) */
    SLT_UP__COUNT
};

/* "empty", "oversize", "syntax", ... */
const char *slt_unparsed_name(int reason);

/* The canonical record. Slices point into the line passed to slt_parse(). */
struct slt_record {
    int64_t time;                       /* event time, UTC seconds since the epoch */
    int32_t time_frac_us;               /* sub-second part when the log has one, else 0 */
    int status;                         /* 0..999 */
    int64_t latency_us;                 /* -1 when the format or line has none ("-", -1 timings) */
    int64_t upstream_us;                /* sum of the upstream times, -1 when none */
    struct slt_str field[SLT_F__COUNT]; /* raw text; .p == NULL when absent */

    /* When unparsed: a static string saying what was wrong, and the 0-based column. */
    const char *detail;
    size_t column;

    /* private: for field lookups by key (named captures, JSON extras) */
    const struct slt_format *fmt;
    const char *line;
    size_t len;
    const void *priv;
    /* private: canonical fields not read yet (bit k: field k); slt_record_get() reads them */
    uint32_t lazy;
    size_t lazy_pos; /* where in the line the format resumes for them */
};

enum slt_latency_unit {
    SLT_UNIT_S = 0,
    SLT_UNIT_MS,
    SLT_UNIT_US,
    SLT_UNIT_NS, /* Traefik's Duration */
};

/* How a user format is described in the config. Borrowed for the call. */
struct slt_format_spec {
    const char *name;
    const char *regex;       /* PCRE2 with named groups; NULL for a JSON format */
    const char *json;        /* non-NULL for a JSON format: unused marker, e.g. "json" */
    const char *time_layout; /* strptime-like, e.g. "%d/%b/%Y:%H:%M:%S %z"; NULL = auto */
    enum slt_latency_unit latency_unit;
    /* JSON formats: dotted path of the source of each canonical field; NULL = default */
    const char *json_field[SLT_F__COUNT];
    uint32_t match_limit; /* 0 = default (SLT_DEFAULT_MATCH_LIMIT) */
    uint32_t depth_limit; /* 0 = default (SLT_DEFAULT_DEPTH_LIMIT) */
};

#define SLT_DEFAULT_MAX_LINE 65536
#define SLT_DEFAULT_MATCH_LIMIT 100000
#define SLT_DEFAULT_DEPTH_LIMIT 1000

struct slt_format;
struct slt_parser;

/*
 * A built-in format by name: nginx_combined, nginx_main, nginx_timed, apache_common,
 * apache_combined, alb, json, haproxy_http, envoy, traefik_json, ingress_nginx, cloudfront,
 * w3c. Returns 0 and a new format in *out, or SLT_ENOTFOUND (SLT_ENOMEM).
 */
int slt_format_builtin(const char *name, struct slt_format **out);
/* NULL-terminated list of the built-in names. */
const char *const *slt_format_builtin_names(void);

/*
 * A user format. On failure returns SLT_ECONFIG and writes a message to err: for a regex
 * that does not compile it holds PCRE2's message and the offset ("at offset 12: ...").
 */
int slt_format_new(const struct slt_format_spec *spec, struct slt_format **out, char *err,
                   size_t errlen);
void slt_format_free(struct slt_format *fmt);
const char *slt_format_name(const struct slt_format *fmt);
/* 1 when lines of this format carry a latency. */
int slt_format_has_latency(const struct slt_format *fmt);

/*
 * The key of the field called name in records of this format: a canonical field
 * (0 <= key < SLT_F__COUNT) or a format-specific one (a named capture, a JSON path), or -1.
 */
int slt_format_field_key(const struct slt_format *fmt, const char *name, size_t len);
/*
 * The text of field key in rec; .p == NULL when absent. Read canonical fields through it too
 * (not rec->field[key]): a format may leave fields that are costly to find and seldom used
 * (alb: everything after the request) to be read on first use.
 */
struct slt_str slt_record_get(const struct slt_record *rec, int key);

/*
 * Streams: the w3c and cloudfront formats read a line by the last `#Fields:` line of the same
 * file before it, so a parser keeps that header per stream. slt_parser_stream(p, id) says that
 * the lines parsed after it come from stream id (any number the caller picks, e.g. one per
 * tailed file; lines parsed before any call are stream 0, so a parser per file needs no call).
 * A stream that has seen no `#Fields:` line yet reads lines with the format's default columns.
 * At most SLT_PARSER_MAX_STREAMS streams are kept per parser; past that the least recently
 * used is forgotten (its next lines read with the defaults until its next header). For every
 * other format the call does nothing and returns 0.
 */
#define SLT_PARSER_MAX_STREAMS 1024
int slt_parser_stream(struct slt_parser *p, uint64_t id); /* 1: a stream not seen before */
/* 1 when lines of fmt depend on a header line earlier in their stream (w3c, cloudfront). */
int slt_format_has_header(const struct slt_format *fmt);
/* 0 when fmt has headers and p's current stream has not seen one; else 1. */
int slt_parser_stream_has_header(const struct slt_parser *p);

/* max_line: lines longer than this are SLT_UP_OVERSIZE (0 = SLT_DEFAULT_MAX_LINE). */
struct slt_parser *slt_parser_new(const struct slt_format *fmt, size_t max_line);
void slt_parser_free(struct slt_parser *p);
/* Parse one line, given without its trailing '\n' (a trailing '\r' is ignored). */
int slt_parse(struct slt_parser *p, const char *line, size_t len, struct slt_record *rec);

/*
 * Timestamps. Each returns 0 and UTC seconds in *out (and the sub-second part in *frac_us
 * when not NULL), or SLT_EPARSE.
 *   clf:     25/Oct/2016:14:49:33 +0200
 *   iso8601: 2019-10-10T12:34:56.123456Z, 2019-10-10T12:34:56+02:00, with ' ' or 'T'
 *   epoch:   1700000000 or 1700000000.123 (seconds)
 *   layout:  strptime-like: %Y %m %d %H %M %S %b %z %f (fraction) %s (epoch) %% and literals
 *            (%T = %H:%M:%S)
 */
int slt_time_parse_clf(const char *s, size_t len, int64_t *out, int32_t *frac_us);
int slt_time_parse_iso8601(const char *s, size_t len, int64_t *out, int32_t *frac_us);
int slt_time_parse_epoch(const char *s, size_t len, int64_t *out, int32_t *frac_us);
int slt_time_parse_layout(const char *layout, const char *s, size_t len, int64_t *out,
                          int32_t *frac_us);
/*
 * 0 when layout only uses the directives slt_time_parse_layout() knows (%Y %m %d %H %M %S %T
 * %b %z %f %s %%), else SLT_ECONFIG with a message in err naming the directive and offset.
 */
int slt_time_layout_check(const char *layout, char *err, size_t errlen);
/* Seconds since the epoch for a UTC civil date and time. */
int64_t slt_time_from_civil(int year, int month, int day, int hour, int min, int sec);

/* "0.123" seconds (or in unit) into microseconds; "-" and "-1" give -1. 0 or SLT_EPARSE. */
int slt_parse_latency(const char *s, size_t len, enum slt_latency_unit unit, int64_t *out_us);

#endif
