/*
 * The Redis key schema of slitail (docs/REDIS.md): every Redis key name is spelled in this file,
 * and only here. The series' hash tags and the slt:series members, the keys of an apply (the
 * EVALSHA's KEYS and ARGV, built by slt__store_call_build) and the keys of every read a caller
 * builds (slt_store_req_range/total/member/series/cas/lease). The other pieces of the store
 * (store_internal.h) take key names from here; a new key is added here and in docs/REDIS.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

/* ---- key names ---- */

#define KEY_SERIES "slt:series"
#define KEY_ALERT_PREFIX "slt:alert:"

const char slt__store_key_series[] = KEY_SERIES;
const size_t slt__store_key_series_len = sizeof(KEY_SERIES) - 1;

/* "slt:{s:name}:" or "slt:{i:name}:" (the hash tag of a series), returns its length or 0. */
size_t slt__store_series_prefix(char *out, size_t max, int kind, const char *name, size_t nlen)
{
    if (nlen + 9 > max)
        return 0;
    memcpy(out, "slt:{", 5);
    out[5] = kind == SLT_SERIES_SLI ? 's' : 'i';
    out[6] = ':';
    memcpy(out + 7, name, nlen);
    out[7 + nlen] = '}';
    out[8 + nlen] = ':';
    return nlen + 9;
}

/* The member of slt:series for a series: "s:name" / "i:name". */
size_t slt__store_series_member(char *out, size_t max, int kind, const char *name, size_t nlen)
{
    if (nlen + 2 > max)
        return 0;
    out[0] = kind == SLT_SERIES_SLI ? 's' : 'i';
    out[1] = ':';
    memcpy(out + 2, name, nlen);
    return nlen + 2;
}

static int cmp_bucket_ref(const void *a, const void *b)
{
    const struct slt_store_bucket *x = *(const struct slt_store_bucket *const *)a;
    const struct slt_store_bucket *y = *(const struct slt_store_bucket *const *)b;

    if (x->c != y->c)
        return x->c < y->c ? -1 : 1;
    return x->start < y->start ? -1 : x->start > y->start;
}

static int key_arg(struct call *c, const char *prefix, size_t plen,
                   const struct slt_store_bucket *b)
{
    char key[1200], num[24];
    size_t n;

    memcpy(key, prefix, plen);
    n = plen;
    if (b->c == 't') {
        memcpy(key + n, "tot", 3);
        n += 3;
    } else {
        key[n++] = b->c;
        key[n++] = ':';
        size_t k = slt__store_fmt_i64(num, b->start);
        memcpy(key + n, num, k);
        n += k;
    }
    return slt__store_call_arg(c, key, n);
}

/*
 * Builds the EVALSHA for up to MAX_ENTRIES_PER_CALL entries of one series: the union of their
 * counter hashes becomes KEYS, each entry names its hashes by KEYS index.
 */
int slt__store_call_build(struct call *c, const struct group *g)
{
    static const char *const fields[2][3] = {{"g", "b", "e"}, {"l", "u", "o"}};
    const char *const *f = fields[g->kind == SLT_SERIES_SLI ? 0 : 1];
    struct slt_store_bucket **refs;
    size_t nrefs = 0, i, j, k, nkeys = 0;
    char prefix[1100];
    size_t plen;
    int rc = 0;

    plen = (size_t)snprintf(prefix, sizeof(prefix),
                            "slt:{%c:%.*s}:", g->kind == SLT_SERIES_SLI ? 's' : 'i',
                            (int)g->name_len, g->name);
    if (plen >= sizeof(prefix))
        return SLT_ELIMIT;
    for (i = 0; i < c->n; i++)
        nrefs += c->ents[i]->nb;
    refs = slt_malloc((nrefs ? nrefs : 1) * sizeof(*refs));
    if (!refs)
        return SLT_ENOMEM;
    nrefs = 0;
    for (i = 0; i < c->n; i++)
        for (j = 0; j < c->ents[i]->nb; j++)
            refs[nrefs++] = &c->ents[i]->ap->bk[c->ents[i]->bk0 + j];
    if (nrefs > 1)
        qsort(refs, nrefs, sizeof(*refs), cmp_bucket_ref);
    /* numkeys is patched once the keys are known: reserve its slot first */
    rc = slt__store_call_arg(c, "0", 1);
    if (rc == 0) {
        char hwm[1104];
        memcpy(hwm, prefix, plen);
        memcpy(hwm + plen, "hwm", 3);
        rc = slt__store_call_arg(c, hwm, plen + 3);
    }
    for (i = 0; rc == 0 && i < nrefs; i++) {
        if (i == 0 || cmp_bucket_ref(&refs[i - 1], &refs[i]) != 0) {
            rc = key_arg(c, prefix, plen, refs[i]);
            nkeys++;
        }
        refs[i]->kidx = nkeys + 1; /* KEYS[1] is hwm */
    }
    if (rc == 0) {
        /* patch numkeys: write it at the end and point the first argument at it */
        size_t save = c->nargs;
        rc = slt__store_call_u64(c, nkeys + 1);
        if (rc == 0) {
            c->off[0] = c->off[save];
            c->len[0] = c->len[save];
            c->nargs = save;
        }
    }
    for (i = 0; rc == 0 && i < 3; i++)
        rc = slt__store_call_arg(c, f[i], 1);
    if (rc == 0)
        rc = slt__store_call_u64(c, c->n);
    /* per key, in KEYS order: expire-at and the sums over every entry */
    for (i = 0; rc == 0 && i < nrefs; i = j) {
        int64_t exp = refs[i]->exp;
        uint64_t sum[3] = {0, 0, 0};

        for (j = i; j < nrefs && cmp_bucket_ref(&refs[i], &refs[j]) == 0; j++) {
            if (refs[j]->exp > exp)
                exp = refs[j]->exp;
            slt__store_add_counts(sum, refs[j]->v);
        }
        rc = slt__store_call_i64(c, exp);
        for (k = 0; rc == 0 && k < 3; k++)
            rc = slt__store_call_u64(c, sum[k]);
    }
    for (i = 0; rc == 0 && i < c->n; i++) {
        const struct slt_apply_part *e = c->ents[i];
        const struct slt_apply *ap = e->ap;
        char num[24];
        size_t start;

        rc = slt__store_call_arg(c, ap->strs.p, ap->agent_len);
        if (rc == 0)
            rc = slt__store_call_u64(c, ap->epoch);
        if (rc == 0)
            rc = slt__store_call_u64(c, ap->seq);
        if (rc == 0)
            rc = slt__store_call_u64(c, e->since);
        if (rc == 0) {
            char mark[48];
            size_t n = slt_fmt_u64(mark, ap->epoch);

            mark[n++] = ':';
            n += slt_fmt_u64(mark + n, ap->seq - 1);
            rc = slt__store_call_arg(c, mark, n);
            if (rc == 0) {
                n -= slt_fmt_u64(num, ap->seq - 1);
                n += slt_fmt_u64(mark + n, ap->seq);
                rc = slt__store_call_arg(c, mark, n);
            }
        }
        /* the deltas as one string: "k:d1:d2:d3,..." */
        if (rc == 0)
            rc = slt__store_call_arg(c, "", 0);
        start = c->args.len;
        for (j = 0; rc == 0 && j < e->nb; j++) {
            const struct slt_store_bucket *b = &ap->bk[e->bk0 + j];
            uint64_t vals[4] = {b->kidx, b->v[0], b->v[1], b->v[2]};

            for (k = 0; rc == 0 && k < 4; k++) {
                size_t n = slt_fmt_u64(num + 1, vals[k]);
                num[0] = k ? ':' : ',';
                if (j == 0 && k == 0)
                    rc = slt_buf_append(&c->args, num + 1, n);
                else
                    rc = slt_buf_append(&c->args, num, n + 1);
            }
        }
        if (rc == 0)
            c->len[c->nargs - 1] = c->args.len - start;
    }
    slt_free(refs);
    return rc;
}

static int64_t retention(const struct slt_store *st, enum slt_gran g)
{
    static const int64_t defaults[] = {2 * 86400, 35 * 86400, 400 * 86400};
    int64_t v = g == SLT_GRAN_MINUTE ? st->mret : g == SLT_GRAN_HOUR ? st->hret : st->dret;

    return v > 0 ? v : defaults[g];
}

int slt_store_req_range(struct slt_store_req *rq, const struct slt_store *st, int kind,
                        const char *name, int64_t from, int64_t to, size_t i, int64_t now,
                        int *partial)
{
    struct slt_bucket b[256];
    char key[SLT_STORE_MAX_NAME + 48];
    size_t nlen = strlen(name), plen;
    long n, k;

    if (i >= rq->nsums)
        return SLT_EINVAL;
    plen = slt__store_series_prefix(key, sizeof(key) - 32, kind, name, nlen);
    if (!plen)
        return SLT_ELIMIT;
    n = slt_window_decompose(from, to, b, SLT_ARRAY_SIZE(b));
    if (n == SLT_ELIMIT) {
        /* long ranges: split at a day boundary so the stack array stays small */
        int64_t mid = (from + (to - from) / 2) / 86400 * 86400;
        int rc;

        if (mid <= from || mid >= to)
            return SLT_ELIMIT;
        rc = slt_store_req_range(rq, st, kind, name, from, mid, i, now, partial);
        return rc < 0 ? rc : slt_store_req_range(rq, st, kind, name, mid, to, i, now, partial);
    }
    if (n < 0)
        return (int)n;
    for (k = 0; k < n; k++) {
        size_t klen = plen;
        int rc;

        if (partial && b[k].start < now - retention(st, b[k].gran))
            *partial = 1;
        /* slt:{s:<name>}:<m|h|d>:<start>, formatted by hand: this runs per bucket */
        key[klen++] = slt_gran_letter(b[k].gran)[0];
        key[klen++] = ':';
        klen += slt_fmt_u64(key + klen, (uint64_t)b[k].start);
        rc = slt__store_op_add(rq, RC_SUMS, kind, (uint32_t)i, key, klen);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int slt_store_req_total(struct slt_store_req *rq, int kind, const char *name, size_t i)
{
    char key[SLT_STORE_MAX_NAME + 16];
    size_t plen;

    if (i >= rq->nsums)
        return SLT_EINVAL;
    plen = slt__store_series_prefix(key, sizeof(key) - 4, kind, name, strlen(name));
    if (!plen)
        return SLT_ELIMIT;
    memcpy(key + plen, "tot", 3);
    return slt__store_op_add(rq, RC_SUMS, kind, (uint32_t)i, key, plen + 3);
}

int slt_store_req_member(struct slt_store_req *rq, int kind, const char *name)
{
    char m[SLT_STORE_MAX_NAME + 4];
    size_t n = slt__store_series_member(m, sizeof(m), kind, name, strlen(name));

    if (!n)
        return SLT_ELIMIT;
    return slt__store_op_add(rq, RC_MEMBER, kind, 0, m, n);
}

int slt_store_req_series(struct slt_store_req *rq)
{
    return slt__store_op_add(rq, RC_SERIES, 0, 0, KEY_SERIES, sizeof(KEY_SERIES) - 1);
}

int slt_store_req_cas(struct slt_store_req *rq, const char *fingerprint, const char *state,
                      int64_t ttl_s, int mode)
{
    static const char *const modes[] = {"cas", "refresh", "sync", "lease", "release"};
    struct slt_store_op *op = slt__store_req_op(rq);
    char args[256];
    int n;

    if (!op)
        return SLT_ENOMEM;
    if (mode < SLT_CAS_SET || mode > SLT_CAS_RELEASE)
        return SLT_EINVAL;
    /* key, state, ttl and mode, NUL-separated */
    n = snprintf(args, sizeof(args), KEY_ALERT_PREFIX "%s%c%s%c%lld%c%s", fingerprint, 0, state, 0,
                 (long long)ttl_s, 0, modes[mode]);
    if (n < 0 || (size_t)n >= sizeof(args))
        return SLT_ELIMIT;
    /* with its NUL: rcmd_send splits the arguments with strlen */
    if (slt__store_op_add(rq, RC_CAS, 0, (uint32_t)op->ncas, args, (size_t)n + 1) < 0)
        return SLT_ENOMEM;
    op->ncas++;
    return 0;
}

int slt_store_req_lease(struct slt_store_req *rq, int op, const char *agent, const char *value,
                        uint64_t epoch, int64_t ttl_ms)
{
    static const char *const ops[] = {"acquire", "renew", "release"};
    /* two keys with the id, the value (instance and description) */
    char args[4 * SLT_STORE_MAX_NAME + 512];
    int n;

    if (op < SLT_LEASE_ACQUIRE || op > SLT_LEASE_RELEASE)
        return SLT_EINVAL;
    /* both keys, op, value, epoch and ttl, NUL-separated */
    n = snprintf(args, sizeof(args), "slt:{a:%s}:lease%cslt:{a:%s}:epoch%c%s%c%s%c%llu%c%lld",
                 agent, 0, agent, 0, ops[op], 0, value, 0, (unsigned long long)epoch, 0,
                 (long long)ttl_ms);
    if (n < 0 || (size_t)n >= sizeof(args))
        return SLT_ELIMIT;
    return slt__store_op_add(rq, RC_LEASE, 0, 0, args, (size_t)n + 1);
}
