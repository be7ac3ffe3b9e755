/*
 * Timestamps and latencies without libc's strptime/mktime/strtod: they are on the hot path,
 * depend on the locale or the TZ environment, and allocate or lock in some libcs. Every
 * parser here reads only the bytes it is given (no NUL needed) and rejects trailing text.
 */
#include <stdio.h>
#include <string.h>

#include "slt/parser.h"
#include "time_internal.h"

/* Howard Hinnant's days_from_civil: proleptic Gregorian, any year. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int64_t slt_time_from_civil(int year, int month, int day, int hour, int min, int sec)
{
    return days_from_civil(year, month, day) * 86400 + (int64_t)hour * 3600 + min * 60 + sec;
}

static int days_in_month(int y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dim[m - 1];
}

/* Range checks shared by all the civil-time parsers; 0 or SLT_EPARSE. */
static int civil_check(int y, int mo, int d, int h, int mi, int s)
{
    if (y < 0 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
        return SLT_EPARSE;
    /* 60 is a leap second; it counts as the next second, as in POSIX mktime. */
    if (h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 60)
        return SLT_EPARSE;
    return 0;
}

static inline int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* n fixed digits at s; -1 when any is not a digit. */
static inline int fixed_digits(const char *s, int n)
{
    int v = 0, i;

    for (i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* "Jan".."Dec" in any case: 1..12, or 0. */
int slt__month_from_abbr(const char *s)
{
    static const char names[12][3] = {{'j', 'a', 'n'}, {'f', 'e', 'b'}, {'m', 'a', 'r'},
                                      {'a', 'p', 'r'}, {'m', 'a', 'y'}, {'j', 'u', 'n'},
                                      {'j', 'u', 'l'}, {'a', 'u', 'g'}, {'s', 'e', 'p'},
                                      {'o', 'c', 't'}, {'n', 'o', 'v'}, {'d', 'e', 'c'}};
    char a = (char)(s[0] | 0x20), b = (char)(s[1] | 0x20), c = (char)(s[2] | 0x20);
    int i;

    for (i = 0; i < 12; i++)
        if (names[i][0] == a && names[i][1] == b && names[i][2] == c)
            return i + 1;
    return 0;
}

/* "+hhmm", "-hhmm", "+hh:mm", "+hh" or "Z": offset in seconds east of UTC; bytes used or -1. */
static int parse_zone(const char *s, size_t len, int allow_short, int *off)
{
    int sign, h, m = 0;
    size_t used;

    if (len >= 1 && (s[0] == 'Z' || s[0] == 'z')) {
        *off = 0;
        return 1;
    }
    if (len < 3 || (s[0] != '+' && s[0] != '-'))
        return -1;
    sign = s[0] == '-' ? -1 : 1;
    if ((h = fixed_digits(s + 1, 2)) < 0)
        return -1;
    if (len >= 6 && s[3] == ':') {
        if ((m = fixed_digits(s + 4, 2)) < 0)
            return -1;
        used = 6;
    } else if (len >= 5 && is_digit(s[3])) {
        if ((m = fixed_digits(s + 3, 2)) < 0)
            return -1;
        used = 5;
    } else if (allow_short) {
        used = 3;
    } else {
        return -1;
    }
    if (h > 23 || m > 59)
        return -1;
    *off = sign * (h * 3600 + m * 60);
    return (int)used;
}

/* Up to 9 fraction digits at s (s[0] is the first digit): microseconds; bytes used or -1. */
static int parse_fraction(const char *s, size_t len, int32_t *us)
{
    size_t i = 0;
    int32_t v = 0;

    while (i < len && is_digit(s[i])) {
        if (i < 6)
            v = v * 10 + (s[i] - '0');
        i++;
    }
    if (i == 0 || i > 9)
        return -1;
    for (size_t k = i; k < 6; k++)
        v *= 10;
    *us = v;
    return (int)i;
}

int slt_time_parse_clf(const char *s, size_t len, int64_t *out, int32_t *frac_us)
{
    int d, mo, y, h, mi, sec, off = 0;

    /* 25/Oct/2016:14:49:33 +0200 (26 bytes); the zone may be left out (UTC). */
    if (len != 26 && len != 20)
        return SLT_EPARSE;
    if (s[2] != '/' || s[6] != '/' || s[11] != ':' || s[14] != ':' || s[17] != ':')
        return SLT_EPARSE;
    d = fixed_digits(s, 2);
    mo = slt__month_from_abbr(s + 3);
    y = fixed_digits(s + 7, 4);
    h = fixed_digits(s + 12, 2);
    mi = fixed_digits(s + 15, 2);
    sec = fixed_digits(s + 18, 2);
    if (d < 0 || mo == 0 || y < 0 || h < 0 || mi < 0 || sec < 0)
        return SLT_EPARSE;
    if (civil_check(y, mo, d, h, mi, sec) < 0)
        return SLT_EPARSE;
    if (len == 26 && (s[20] != ' ' || parse_zone(s + 21, 5, 0, &off) != 5))
        return SLT_EPARSE;
    *out = slt_time_from_civil(y, mo, d, h, mi, sec) - off;
    if (frac_us)
        *frac_us = 0;
    return 0;
}

/* The civil part "2019-10-10T12:34:56" (19 bytes) as UTC seconds, or SLT_EPARSE. */
static int iso_civil(const char *s, int64_t *out)
{
    int y, mo, d, h, mi, sec;

    if (s[4] != '-' || s[7] != '-' || s[13] != ':' || s[16] != ':')
        return SLT_EPARSE;
    if (s[10] != 'T' && s[10] != 't' && s[10] != ' ')
        return SLT_EPARSE;
    y = fixed_digits(s, 4);
    mo = fixed_digits(s + 5, 2);
    d = fixed_digits(s + 8, 2);
    h = fixed_digits(s + 11, 2);
    mi = fixed_digits(s + 14, 2);
    sec = fixed_digits(s + 17, 2);
    if (y < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || sec < 0)
        return SLT_EPARSE;
    if (civil_check(y, mo, d, h, mi, sec) < 0)
        return SLT_EPARSE;
    *out = slt_time_from_civil(y, mo, d, h, mi, sec);
    return 0;
}

/* What follows the civil part: [.ffffff][Z|+hh:mm|+hhmm|+hh]. */
static int iso_tail(const char *s, size_t len, int32_t *frac, int *off)
{
    size_t i = 0;
    int n;

    *frac = 0;
    *off = 0;
    if (i < len && (s[i] == '.' || s[i] == ',')) {
        if ((n = parse_fraction(s + i + 1, len - i - 1, frac)) < 0)
            return SLT_EPARSE;
        i += 1 + (size_t)n;
    }
    if (i < len) {
        if ((n = parse_zone(s + i, len - i, 1, off)) < 0)
            return SLT_EPARSE;
        i += (size_t)n;
    }
    return i == len ? 0 : SLT_EPARSE;
}

int slt_time_parse_iso8601(const char *s, size_t len, int64_t *out, int32_t *frac_us)
{
    int64_t t;
    int32_t frac;
    int off;

    /* 2019-10-10T12:34:56[.ffffff][Z|+hh:mm|+hhmm|+hh] */
    if (len < 19 || iso_civil(s, &t) < 0 || iso_tail(s + 19, len - 19, &frac, &off) < 0)
        return SLT_EPARSE;
    *out = t - off;
    if (frac_us)
        *frac_us = frac;
    return 0;
}

int slt__iso8601_cached_slow(struct slt__time_cache *c, const char *s, size_t len, int64_t *out,
                             int32_t *frac_us)
{
    int64_t t;
    int32_t frac;
    int off;

    if (len < 19)
        return SLT_EPARSE;
    if (c->len == 19 && memcmp(c->text, s, 19) == 0) {
        t = c->value;
    } else {
        if (iso_civil(s, &t) < 0)
            return SLT_EPARSE;
        memcpy(c->text, s, 19);
        c->len = 19;
        c->value = t;
        c->base = t - fixed_digits(s + 17, 2);
    }
    if (iso_tail(s + 19, len - 19, &frac, &off) < 0)
        return SLT_EPARSE;
    *out = t - off;
    *frac_us = frac;
    return 0;
}

/*
 * The common case of slt__decimal_scaled: "digits[.digits]", at most 12 integer digits and
 * scale 0..6. 1 when it handled s, 0 to fall back to the general path.
 */
static inline int decimal_fast(const char *s, size_t len, int scale, int64_t *out)
{
    static const int64_t pow10[7] = {1, 10, 100, 1000, 10000, 100000, 1000000};
    const char *p = s, *end = s + len, *lim = s + (len < 13 ? len : 13), *f;
    int64_t ip = 0, fp = 0;
    unsigned d;

    if (scale < 0 || scale > 6)
        return 0;
    while (p < lim && (d = (unsigned)(*p - '0')) <= 9) {
        ip = ip * 10 + d;
        p++;
    }
    if (p == s || p - s > 12)
        return 0;
    if (p < end && *p == '.') {
        f = ++p;
        lim = end - p > scale ? p + scale : end;
        while (p < lim && (d = (unsigned)(*p - '0')) <= 9) {
            fp = fp * 10 + d;
            p++;
        }
        fp *= pow10[scale - (p - f)];
        while (p < end && (unsigned)(*p - '0') <= 9) /* digits past scale are truncated */
            p++;
    }
    if (p != end)
        return 0;
    *out = ip * pow10[scale] + fp;
    return 1;
}

int slt__decimal_scaled(const char *s, size_t len, int scale, int64_t *out)
{
    int64_t mant = 0;
    int exp10 = scale, sig = 0, any = 0, e = 0, esign = 1, edigits = 0;
    size_t i = 0;

    if (decimal_fast(s, len, scale, out))
        return 0;
    while (i < len && is_digit(s[i])) {
        if (sig < 18) {
            mant = mant * 10 + (s[i] - '0');
            if (mant)
                sig++;
        } else {
            exp10++;
        }
        any = 1;
        i++;
    }
    if (i < len && s[i] == '.') {
        i++;
        while (i < len && is_digit(s[i])) {
            if (sig < 18) {
                mant = mant * 10 + (s[i] - '0');
                if (mant)
                    sig++;
                exp10--;
            }
            any = 1;
            i++;
        }
    }
    if (!any)
        return SLT_EPARSE;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-')) {
            esign = s[i] == '-' ? -1 : 1;
            i++;
        }
        while (i < len && is_digit(s[i])) {
            if (e < 1000)
                e = e * 10 + (s[i] - '0');
            edigits++;
            i++;
        }
        if (!edigits)
            return SLT_EPARSE;
        exp10 += esign * e;
    }
    if (i != len)
        return SLT_EPARSE;
    if (mant == 0) {
        *out = 0;
        return 0;
    }
    while (exp10 > 0) {
        if (mant > ((int64_t)1 << 62) / 10)
            return SLT_EPARSE;
        mant *= 10;
        exp10--;
    }
    while (exp10 < 0 && mant) {
        mant /= 10;
        exp10++;
    }
    *out = mant;
    return 0;
}

int slt_time_parse_epoch(const char *s, size_t len, int64_t *out, int32_t *frac_us)
{
    int64_t us;

    if (len == 0 || !is_digit(s[0]))
        return SLT_EPARSE;
    if (slt__decimal_scaled(s, len, 6, &us) < 0)
        return SLT_EPARSE;
    /* Year 9999 at most, like the civil parsers. */
    if (us / 1000000 > INT64_C(253402300799))
        return SLT_EPARSE;
    *out = us / 1000000;
    if (frac_us)
        *frac_us = (int32_t)(us % 1000000);
    return 0;
}

int slt_parse_latency(const char *s, size_t len, enum slt_latency_unit unit, int64_t *out_us)
{
    int scale;

    /* the usual "0.123" seconds: read in one go (same value as the general path) */
    if (unit == SLT_UNIT_S && slt__msec(s, s + len, out_us) == s + len)
        return 0;
    if ((len == 1 && s[0] == '-') || (len == 2 && s[0] == '-' && s[1] == '1')) {
        *out_us = -1;
        return 0;
    }
    switch (unit) {
    case SLT_UNIT_S:
        scale = 6;
        break;
    case SLT_UNIT_MS:
        scale = 3;
        break;
    case SLT_UNIT_US:
        scale = 0;
        break;
    case SLT_UNIT_NS:
        scale = -3;
        break;
    default:
        return SLT_EPARSE;
    }
    if (len == 0 || !is_digit(s[0]))
        return SLT_EPARSE;
    if (slt__decimal_scaled(s, len, scale, out_us) < 0 || *out_us > SLT__LATENCY_MAX_US)
        return SLT_EPARSE;
    return 0;
}

/* Up to max digits (at least one): value, and bytes used in *used; -1 when none. */
static int64_t var_digits(const char *s, size_t len, size_t max, size_t *used)
{
    int64_t v = 0;
    size_t i = 0;

    while (i < len && i < max && is_digit(s[i])) {
        v = v * 10 + (s[i] - '0');
        i++;
    }
    *used = i;
    return i ? v : -1;
}

static const char *const month_full[12] = {"january",   "february", "march",    "april",
                                           "may",       "june",     "july",     "august",
                                           "september", "october",  "november", "december"};

static int layout_directive_known(char c)
{
    return c && strchr("YmdHMSbzfsT%", c) != NULL;
}

int slt_time_layout_check(const char *layout, char *err, size_t errlen)
{
    size_t i;

    if (!layout || !*layout) {
        snprintf(err, errlen, "time layout is empty");
        return SLT_ECONFIG;
    }
    for (i = 0; layout[i]; i++) {
        if (layout[i] != '%')
            continue;
        if (!layout[i + 1]) {
            snprintf(err, errlen, "time layout '%s': lone '%%' at the end", layout);
            return SLT_ECONFIG;
        }
        if (!layout_directive_known(layout[i + 1])) {
            snprintf(err, errlen,
                     "time layout '%s': unknown directive '%%%c' at offset %zu (known: %%Y %%m "
                     "%%d %%H %%M %%S %%T %%b %%z %%f %%s %%%%)",
                     layout, layout[i + 1], i);
            return SLT_ECONFIG;
        }
        i++;
    }
    return 0;
}

/*
 * The layout interpreter. *sec_at is set to the offset in s of the seconds when they are two
 * digits read by %S or %T (the last such), else -1.
 */
static int parse_layout(const char *layout, const char *s, size_t len, int64_t *out,
                        int32_t *frac_us, int *sec_at)
{
    int y = 1970, mo = 1, d = 1, h = 0, mi = 0, sec = 0, off = 0, n, have_epoch = 0;
    int64_t epoch = 0, v;
    int32_t frac = 0;
    size_t i = 0, used;
    const char *l;

    for (l = layout; *l; l++) {
        if (*l != '%') {
            if (i >= len || s[i] != *l)
                return SLT_EPARSE;
            i++;
            continue;
        }
        l++;
        switch (*l) {
        case 'Y':
            if ((v = var_digits(s + i, len - i, 4, &used)) < 0)
                return SLT_EPARSE;
            y = (int)v;
            i += used;
            break;
        case 'm':
        case 'd':
        case 'H':
        case 'M':
        case 'S':
            if ((v = var_digits(s + i, len - i, 2, &used)) < 0)
                return SLT_EPARSE;
            if (*l == 'S')
                *sec_at = used == 2 ? (int)i : -1;
            i += used;
            if (*l == 'm')
                mo = (int)v;
            else if (*l == 'd')
                d = (int)v;
            else if (*l == 'H')
                h = (int)v;
            else if (*l == 'M')
                mi = (int)v;
            else
                sec = (int)v;
            break;
        case 'T':
            if (len - i < 8 || s[i + 2] != ':' || s[i + 5] != ':')
                return SLT_EPARSE;
            h = fixed_digits(s + i, 2);
            mi = fixed_digits(s + i + 3, 2);
            sec = fixed_digits(s + i + 6, 2);
            if (h < 0 || mi < 0 || sec < 0)
                return SLT_EPARSE;
            *sec_at = (int)i + 6;
            i += 8;
            break;
        case 'b': {
            /* "Oct" or "October", any case */
            size_t k, flen;

            if (len - i < 3 || (mo = slt__month_from_abbr(s + i)) == 0)
                return SLT_EPARSE;
            flen = strlen(month_full[mo - 1]);
            for (k = 3; k < flen && i + k < len && (s[i + k] | 0x20) == month_full[mo - 1][k]; k++)
                ;
            i += k == flen ? flen : 3;
            break;
        }
        case 'z':
            if ((n = parse_zone(s + i, len - i, 1, &off)) < 0)
                return SLT_EPARSE;
            i += (size_t)n;
            break;
        case 'f':
            if ((n = parse_fraction(s + i, len - i, &frac)) < 0)
                return SLT_EPARSE;
            i += (size_t)n;
            break;
        case 's':
            if ((epoch = var_digits(s + i, len - i, 12, &used)) < 0)
                return SLT_EPARSE;
            have_epoch = 1;
            i += used;
            break;
        case '%':
            if (i >= len || s[i] != '%')
                return SLT_EPARSE;
            i++;
            break;
        default: /* unknown directive or lone '%' at the end */
            return SLT_EPARSE;
        }
    }
    if (i != len)
        return SLT_EPARSE;
    if (have_epoch) {
        *sec_at = -1; /* %S does not count */
        *out = epoch - off;
    } else {
        if (civil_check(y, mo, d, h, mi, sec) < 0)
            return SLT_EPARSE;
        *out = slt_time_from_civil(y, mo, d, h, mi, sec) - off;
    }
    if (frac_us)
        *frac_us = frac;
    return 0;
}

/*
 * The last layout, text and result parsed on this thread. A user format parses the same
 * timestamp (and the same minute) on many consecutive lines, so a compare replaces the
 * interpreter; when only the two seconds digits differ the value is base plus the new
 * seconds (the other fields, hence their checks, are the same). Per thread, so the function
 * stays safe to call from any thread; bounded, so long layouts or texts are not cached.
 */
struct layout_memo {
    char layout[48];
    char text[48];
    size_t len; /* 0: empty */
    int sec_at; /* offset of the seconds digits in text, -1: none */
    int64_t value, base;
    int32_t frac;
};

static _Thread_local struct layout_memo memo;

int slt_time_parse_layout(const char *layout, const char *s, size_t len, int64_t *out,
                          int32_t *frac_us)
{
    size_t ll = strlen(layout);
    int32_t frac;
    int sec_at = -1, sec, r;

    if (memo.len == len && len > 0 && ll < sizeof(memo.layout) &&
        memcmp(memo.layout, layout, ll + 1) == 0) {
        if (memcmp(memo.text, s, len) == 0) {
            *out = memo.value;
            if (frac_us)
                *frac_us = memo.frac;
            return 0;
        }
        sec_at = memo.sec_at;
        if (sec_at >= 0 && memcmp(memo.text, s, (size_t)sec_at) == 0 &&
            memcmp(memo.text + sec_at + 2, s + sec_at + 2, len - (size_t)sec_at - 2) == 0 &&
            (unsigned)(s[sec_at] - '0') <= 9 && (unsigned)(s[sec_at + 1] - '0') <= 9 &&
            (sec = (s[sec_at] - '0') * 10 + (s[sec_at + 1] - '0')) <= 60) {
            *out = memo.base + sec;
            if (frac_us)
                *frac_us = memo.frac;
            return 0;
        }
        sec_at = -1;
    }
    if ((r = parse_layout(layout, s, len, out, &frac, &sec_at)) < 0)
        return r;
    if (frac_us)
        *frac_us = frac;
    if (ll < sizeof(memo.layout) && len < sizeof(memo.text) && len > 0) {
        memcpy(memo.layout, layout, ll + 1);
        memcpy(memo.text, s, len);
        memo.len = len;
        memo.sec_at = sec_at;
        memo.value = *out;
        memo.frac = frac;
        memo.base = sec_at >= 0 ? *out - ((s[sec_at] - '0') * 10 + (s[sec_at + 1] - '0')) : 0;
    }
    return 0;
}

int slt__time_parse_auto(const char *s, size_t len, int64_t *out, int32_t *frac_us)
{
    if (len >= 19 && s[4] == '-')
        return slt_time_parse_iso8601(s, len, out, frac_us);
    if (len >= 20 && s[2] == '/')
        return slt_time_parse_clf(s, len, out, frac_us);
    if (len > 0 && is_digit(s[0]))
        return slt_time_parse_epoch(s, len, out, frac_us);
    return SLT_EPARSE;
}

int slt__clf_cached_slow(struct slt__time_cache *c, const char *s, size_t len, int64_t *out)
{
    if (c->len == len && memcmp(c->text, s, len) == 0) {
        *out = c->value;
        return 0;
    }
    if (slt_time_parse_clf(s, len, out, NULL) < 0)
        return SLT_EPARSE;
    if (len <= sizeof(c->text)) {
        memcpy(c->text, s, len);
        c->len = len;
        c->value = *out;
        c->base = *out - fixed_digits(s + 18, 2); /* parsed: 20 or 26 bytes */
    }
    return 0;
}
