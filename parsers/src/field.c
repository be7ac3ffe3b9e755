#include <string.h>

#include "slt/parser.h"

static const char *const field_names[SLT_F__COUNT] = {
    [SLT_F_TIME] = "time",
    [SLT_F_STATUS] = "status",
    [SLT_F_LATENCY] = "latency",
    [SLT_F_METHOD] = "method",
    [SLT_F_PATH] = "path",
    [SLT_F_PROTOCOL] = "protocol",
    [SLT_F_HOST] = "host",
    [SLT_F_CLIENT] = "client",
    [SLT_F_USER] = "user",
    [SLT_F_BYTES] = "bytes",
    [SLT_F_REFERER] = "referer",
    [SLT_F_USER_AGENT] = "user_agent",
    [SLT_F_UPSTREAM_LATENCY] = "upstream_latency",
    [SLT_F_REQUEST] = "request",
    [SLT_F_XFF] = "xff",
    [SLT_F_TYPE] = "type",
    [SLT_F_TARGET_STATUS] = "target_status",
    [SLT_F_ERROR_REASON] = "error_reason",
};

static const char *const unparsed_names[SLT_UP__COUNT] = {
    [SLT_UP_OK] = "ok",
    [SLT_UP_EMPTY] = "empty",
    [SLT_UP_OVERSIZE] = "oversize",
    [SLT_UP_SYNTAX] = "syntax",
    [SLT_UP_TIME] = "time",
    [SLT_UP_STATUS] = "status",
    [SLT_UP_LATENCY] = "latency",
    [SLT_UP_NO_MATCH] = "no_match",
    [SLT_UP_MATCH_LIMIT] = "match_limit",
    [SLT_UP_NOT_ACCESS] = "not_access",
};

const char *slt_field_name(int field)
{
    return field >= 0 && field < SLT_F__COUNT ? field_names[field] : NULL;
}

int slt_field_from_name(const char *name, size_t len)
{
    int i;

    for (i = 0; i < SLT_F__COUNT; i++)
        if (strlen(field_names[i]) == len && memcmp(field_names[i], name, len) == 0)
            return i;
    return -1;
}

const char *slt_unparsed_name(int reason)
{
    return reason >= 0 && reason < SLT_UP__COUNT ? unparsed_names[reason] : "unknown";
}
