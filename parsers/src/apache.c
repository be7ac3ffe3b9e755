/*
 * Apache access logs:
 *   apache_common    "%h %l %u %t \"%r\" %>s %b"
 *   apache_combined  common + " \"%{Referer}i\" \"%{User-Agent}i\""
 *
 * Both share the CLF parser with nginx (slt__clf_parse in nginx.c), so a %v or %v:%p in front of
 * %h is read as HOST, and fields after what the format knows (an extra "-" X-Forwarded-For,
 * %D, X-Forwarded-For="...") are ignored. apache_combined accepts a line that stops after %b
 * (a common line in a mixed file): REFERER and USER_AGENT are then absent.
 */
#include "builtin_internal.h"

static int parse_common(const struct slt_format *fmt, struct slt_parser *p, const char *line,
                        size_t len, struct slt_record *rec)
{
    (void)fmt;
    return slt__clf_parse(SLT__CLF_COMMON, p->state, line, len, rec);
}

static int parse_combined(const struct slt_format *fmt, struct slt_parser *p, const char *line,
                          size_t len, struct slt_record *rec)
{
    (void)fmt;
    return slt__clf_parse(SLT__CLF_COMBINED, p->state, line, len, rec);
}

const struct slt_format_ops slt__apache_common_ops = {
    .parse = parse_common,
    .parser_init = slt__builtin_parser_init,
    .parser_release = slt__builtin_parser_release,
};

const struct slt_format_ops slt__apache_combined_ops = {
    .parse = parse_combined,
    .parser_init = slt__builtin_parser_init,
    .parser_release = slt__builtin_parser_release,
};
