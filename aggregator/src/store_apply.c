/*
 * The exactly-once apply (store.h, slt_store_apply; docs/REDIS.md): the apply script, the checks
 * of a batch before its first write, the counter hashes of each entry, and an entry's answer
 * (the last one ends the batch). Sending is store_batch.c's; registering new series first is
 * store_series.c's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

/* epochs and seqs are compared as Lua numbers (doubles): keep them exact */
#define LUA_INT_MAX ((uint64_t)1 << 53)

/*
 * KEYS[1] = the series' hwm hash, KEYS[2..nk] = its counter hashes (tot, minute, hour, day).
 * ARGV[1..3] = field names; ARGV[4] = n, the number of entries; then for each KEYS[k], k >= 2,
 * four values: expire-at (0: none) and the sums of the three deltas over all n entries; then n
 * entries of seven values: agent, epoch, seq, since, the mark that makes this entry the next
 * one ("epoch:seq-1", the fast path: no parsing), the new mark ("epoch:seq") and the entry's own
 * deltas as "k:d1:d2:d3,k:d1:d2:d3..." (k a KEYS index), read only when some entry is not
 * accepted or the counters are near their limit. The applied answer's n is not used.
 * Returns 2n integers, per entry {status, n}: {0, 0} applied, {1, mark} duplicate,
 * {2, resend_from} gap, {3, e0} rejected (stale epoch; e0 the epoch of the stored mark),
 * {4, 0} rejected (a counter would reach 9.2e18, or holds something that is not a number).
 *
 * Validate, then write: every check (marks, and counters that stay below 9.2e18 < 2^63 - 1,
 * with room for the rounding of Lua's doubles) runs before the first write, so a call writes
 * everything it accepted or nothing, and no HINCRBY can fail half-way. Deltas reach HINCRBY
 * as the decimal strings the aggregator wrote (exact), never as sums of Lua numbers.
 */
const char slt_store_apply_script[] =
    "local nk, n = #KEYS, tonumber(ARGV[4])\n"
    "local p0 = 5 + (nk - 1) * 4\n"
    "local LIMIT = 9.2e18\n"
    "local f = {ARGV[1], ARGV[2], ARGV[3]}\n"
    "local ids, cur, out, sets, ok = {}, {}, {}, {}, {}\n"
    "local all, safe, val, fresh, wrote = true, true, {}, {}, {}\n"
    "for k = 2, nk do\n"
    "  local q = 5 + (k - 2) * 4\n"
    "  local v = redis.call('HMGET', KEYS[k], f[1], f[2], f[3])\n"
    "  local c = {0, 0, 0}\n"
    "  fresh[k] = not (v[1] or v[2] or v[3])\n"
    "  for j = 1, 3 do\n"
    "    if v[j] then c[j] = tonumber(v[j]) or LIMIT end\n"
    "    if ARGV[q + j] ~= '0' and c[j] + tonumber(ARGV[q + j]) >= LIMIT then safe = false end\n"
    "  end\n"
    "  val[k] = c\n"
    "end\n"
    "for i = 1, n do ids[i] = ARGV[p0 + (i - 1) * 7] end\n"
    "local marks = redis.call('HMGET', KEYS[1], unpack(ids))\n"
    "for i = 1, n do\n"
    "  if cur[ids[i]] == nil then cur[ids[i]] = marks[i] or false end\n"
    "end\n"
    "for i = 1, n do\n"
    "  local p = p0 + (i - 1) * 7\n"
    "  local A = ARGV[p]\n"
    "  local m = cur[A]\n"
    "  local st, v = 0, 0\n"
    "  if m ~= ARGV[p + 4] then\n"
    "    local E, S, nxt = tonumber(ARGV[p + 1]), tonumber(ARGV[p + 2]), tonumber(ARGV[p + 3])\n"
    "    v = S\n"
    "    if m then\n"
    "      local e0, s0 = string.match(m, '^(%d+):(%d+)$')\n"
    "      e0 = tonumber(e0) s0 = tonumber(s0)\n"
    "      if e0 then\n"
    "        if E < e0 then st, v = 3, e0\n"
    "        elseif E == e0 then\n"
    "          if S <= s0 then st, v = 1, s0\n"
    "          elseif s0 + 1 > nxt then nxt = s0 + 1 end\n"
    "        end\n"
    "      end\n"
    "    end\n"
    "    if st == 0 and S ~= nxt then st, v = 2, nxt end\n"
    "  end\n"
    "  if st == 0 and not safe then\n"
    "    local d = {}\n"
    "    for k, a, b, c in string.gmatch(ARGV[p + 6], '(%d+):(%d+):(%d+):(%d+)') do\n"
    "      d[#d + 1] = {tonumber(k), tonumber(a), tonumber(b), tonumber(c)}\n"
    "    end\n"
    "    for _, x in ipairs(d) do\n"
    "      local c = val[x[1]]\n"
    "      for j = 1, 3 do\n"
    "        if x[j + 1] > 0 and c[j] + x[j + 1] >= LIMIT then st, v = 4, 0 end\n"
    "      end\n"
    "    end\n"
    "    if st == 0 then\n"
    "      for _, x in ipairs(d) do\n"
    "        local c = val[x[1]]\n"
    "        for j = 1, 3 do c[j] = c[j] + x[j + 1] end\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "  if st == 0 then\n"
    "    cur[A] = ARGV[p + 5]\n"
    "    sets[#sets + 1] = A\n"
    "    sets[#sets + 1] = ARGV[p + 5]\n"
    "    ok[#ok + 1] = p\n"
    "  else\n"
    "    all = false\n"
    "  end\n"
    "  out[2 * i - 1] = st\n"
    "  out[2 * i] = v\n"
    "end\n"
    "if all then\n"
    "  for k = 2, nk do\n"
    "    local q = 5 + (k - 2) * 4\n"
    "    for j = 1, 3 do\n"
    "      if ARGV[q + j] ~= '0' then\n"
    "        redis.call('HINCRBY', KEYS[k], f[j], ARGV[q + j]) wrote[k] = true\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "else\n"
    "  for _, p in ipairs(ok) do\n"
    "    for k, a, b, c in string.gmatch(ARGV[p + 6], '(%d+):(%d+):(%d+):(%d+)') do\n"
    "      local d = {a, b, c}\n"
    "      k = tonumber(k)\n"
    "      for j = 1, 3 do\n"
    "        if d[j] ~= '0' then redis.call('HINCRBY', KEYS[k], f[j], d[j]) wrote[k] = true end\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "for k = 2, nk do\n"
    "  local e = ARGV[5 + (k - 2) * 4]\n"
    "  if wrote[k] and fresh[k] and e ~= '0' then redis.call('EXPIREAT', KEYS[k], e) end\n"
    "end\n"
    "if #sets > 0 then redis.call('HSET', KEYS[1], unpack(sets)) end\n"
    "return out\n";

/*
 * 1 when applies can be sent: connected and authenticated, or for a cluster, its slot map is
 * known (a master that is down answers RETRY for its own slots until its replica took over).
 */
static int slt_store_ready(const struct slt_store *st)
{
    if (st->freeing || st->nnodes == 0)
        return 0;
    /* a cluster takes applies once the slot map is known; a node that is down answers RETRY
     * for its own slots only */
    return st->cluster ? st->map_complete : slt_rconn_up(&st->nodes[0]->ingest);
}

void slt_apply_init(struct slt_apply *ap)
{
    memset(ap, 0, sizeof(*ap));
    slt_buf_init(&ap->strs, ARGS_MAX);
}

void slt_apply_release(struct slt_apply *ap)
{
    slt_buf_release(&ap->strs);
    slt_free(ap->parts);
    slt_free(ap->bk);
    ap->parts = NULL;
    ap->bk = NULL;
    ap->nparts = ap->capparts = ap->nbk = ap->capbk = 0;
}

static int cmp_row(const void *a, const void *b)
{
    const struct slt_count_row *x = a, *y = b;

    return x->minute < y->minute ? -1 : x->minute > y->minute;
}

static int cmp_series(const void *a, const void *b)
{
    const struct slt_series *x = *(const struct slt_series *const *)a;
    const struct slt_series *y = *(const struct slt_series *const *)b;
    size_t n = x->name.len < y->name.len ? x->name.len : y->name.len;
    int c;

    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    c = n ? memcmp(x->name.p, y->name.p, n) : 0;
    if (c)
        return c;
    return x->name.len < y->name.len ? -1 : x->name.len > y->name.len;
}

/*
 * SLT_EINVAL with a reason (text and SLT_INVALID_*) when the batch can never be applied:
 * validate before the first write. Row minutes are >= 0 and multiples of 60 (the decoder
 * checks) and at most SLT_STORE_AHEAD_MAX_S after now; each count and each series' sum of a
 * count over the batch are at most 2^53, so the sums of up to MAX_ENTRIES_PER_CALL entries
 * (< 2^61) are exact in uint64 and int64, and Lua compares them exactly.
 */
static int check_batch(const struct slt_msg_batch *b, int64_t now, const char **why, int *reason)
{
    const struct slt_series **idx;
    size_t i, r;
    int j, rc = 0;

    *reason = SLT_INVALID_OTHER;
    if (b->epoch >= LUA_INT_MAX || b->seq >= LUA_INT_MAX) {
        *why = "epoch or seq over 2^53";
        return SLT_EINVAL;
    }
    for (i = 0; i < b->nseries; i++) {
        const struct slt_series *s = &b->series[i];
        uint64_t sum[3] = {0, 0, 0};

        if (s->since > b->seq) {
            *why = "a series 'since' is after the batch seq";
            return SLT_EINVAL;
        }
        for (r = 0; r < s->nrows; r++) {
            if (s->rows[r].minute < 0 || s->rows[r].minute > now + SLT_STORE_AHEAD_MAX_S) {
                *why = "a row minute before 1970 or more than a day ahead of the aggregator";
                *reason = SLT_INVALID_ROW_MINUTE;
                return SLT_EINVAL;
            }
            for (j = 0; j < 3; j++) {
                if (slt_add_u64(sum[j], s->rows[r].v[j], &sum[j]) < 0 || sum[j] > LUA_INT_MAX) {
                    *why = "a series counts more than 2^53 in one batch";
                    *reason = SLT_INVALID_COUNTS;
                    return SLT_EINVAL;
                }
            }
        }
    }
    if (b->nseries < 2)
        return 0;
    idx = slt_malloc(b->nseries * sizeof(*idx));
    if (!idx)
        return SLT_ENOMEM;
    for (i = 0; i < b->nseries; i++)
        idx[i] = &b->series[i];
    qsort(idx, b->nseries, sizeof(*idx), cmp_series);
    for (i = 1; i < b->nseries; i++) {
        if (cmp_series(&idx[i - 1], &idx[i]) == 0) {
            *why = "a series appears twice";
            rc = SLT_EINVAL;
            break;
        }
    }
    slt_free(idx);
    return rc;
}

/*
 * acc += v. Exact by construction: check_batch bounds a series' sum in a batch by 2^53 and a
 * call holds at most MAX_ENTRIES_PER_CALL entries, so no sum passes 2^61.
 */
void slt__store_add_counts(uint64_t acc[3], const uint64_t v[3])
{
    int j;

    for (j = 0; j < 3; j++)
        if (slt_add_u64(acc[j], v[j], &acc[j]) < 0)
            SLT_BUG("a counter sum the batch checks should have refused");
}

static int push_bucket(struct slt_apply *ap, const struct slt_store_bucket *b)
{
    if (!b->v[0] && !b->v[1] && !b->v[2])
        return 0; /* nothing to add: leave the key alone */
    if (ap->nbk == ap->capbk) {
        size_t cap = ap->capbk ? ap->capbk * 2 : 64;
        struct slt_store_bucket *nb = slt_realloc(ap->bk, cap * sizeof(*nb));
        if (!nb)
            return SLT_ENOMEM;
        ap->bk = nb;
        ap->capbk = cap;
    }
    ap->bk[ap->nbk++] = *b;
    return 0;
}

/*
 * The counter hashes one series adds to: tot, and the minute, hour and day buckets its rows fall
 * in, unless a bucket is already past its retention (then the row is counted as late and still
 * goes to the coarser buckets and tot). Rows are sorted (a copy), so rows of one bucket are
 * adjacent at every resolution.
 */
static int build_entry(struct slt_store *st, struct slt_apply *ap, struct slt_apply_part *e,
                       const struct slt_series *s, int64_t now)
{
    static const struct {
        char c;
        int64_t res;
    } res[3] = {{'m', 60}, {'h', 3600}, {'d', 86400}};
    const int64_t ret[3] = {st->mret, st->hret, st->dret};
    struct slt_store_bucket bk;
    size_t r, k;
    int rc;

    if (s->nrows > st->rowcap) {
        struct slt_count_row *nr = slt_realloc(st->rows, s->nrows * sizeof(*nr));
        if (!nr)
            return SLT_ENOMEM;
        st->rows = nr;
        st->rowcap = s->nrows;
    }
    if (s->nrows)
        memcpy(st->rows, s->rows, s->nrows * sizeof(*st->rows));
    if (s->nrows > 1)
        qsort(st->rows, s->nrows, sizeof(*st->rows), cmp_row);
    e->bk0 = ap->nbk;
    memset(&bk, 0, sizeof(bk));
    bk.c = 't';
    for (r = 0; r < s->nrows; r++)
        slt__store_add_counts(bk.v, st->rows[r].v);
    rc = push_bucket(ap, &bk);
    for (k = 0; rc == 0 && k < 3; k++) {
        r = 0;
        while (rc == 0 && r < s->nrows) {
            size_t n = 0;

            memset(&bk, 0, sizeof(bk));
            bk.c = res[k].c;
            bk.start = st->rows[r].minute - st->rows[r].minute % res[k].res;
            /* start <= now + 1 day and retention <= 4000 days: checked all the same */
            if (slt_add_i64(bk.start, res[k].res, &bk.exp) < 0 ||
                slt_add_i64(bk.exp, ret[k], &bk.exp) < 0)
                return SLT_ELIMIT;
            while (r < s->nrows &&
                   st->rows[r].minute - st->rows[r].minute % res[k].res == bk.start) {
                slt__store_add_counts(bk.v, st->rows[r].v);
                r++;
                n++;
            }
            if (bk.exp <= now) {
                if (k == 0)
                    e->late += n;
                else if (k == 2)
                    e->expired += n;
                continue;
            }
            rc = push_bucket(ap, &bk);
        }
    }
    e->nb = ap->nbk - e->bk0;
    e->rows = s->nrows;
    return rc;
}

static int rank(enum slt_ack_status s)
{
    switch (s) {
    case SLT_ACK_DUPLICATE:
        return 0;
    case SLT_ACK_APPLIED:
        return 1;
    case SLT_ACK_GAP:
        return 2;
    case SLT_ACK_REJECTED:
        return 3;
    default:
        return 4;
    }
}

static void observe_latency(struct slt_aggr_stats *stats, uint64_t ns)
{
    static const double bounds[12] = SLT_REDIS_LATENCY_BOUNDS;
    double sec = (double)ns / 1e9;
    size_t i;

    for (i = 0; i < 12; i++)
        if (sec <= bounds[i])
            stats->redis_latency_bucket[i]++;
    stats->redis_latency_sum += sec;
    stats->redis_latency_count++;
}

/*
 * One entry's answer. The last one of a batch calls done, which may start the session's next
 * batch on the same ap: nothing may touch e after this.
 */
void slt__store_entry_done(struct slt_apply_part *e, enum slt_ack_status s, uint64_t n)
{
    struct slt_apply *ap = e->ap;
    struct slt_store *st = ap->st;

    e->node = NULL;
    if (s == SLT_ACK_APPLIED) {
        st->stats->counter_updates += e->rows;
        st->stats->late_rows += e->late;
        st->stats->late_rows_expired += e->expired;
    }
    if (s == SLT_ACK_GAP && (ap->status != SLT_ACK_GAP || n < ap->resend_from))
        ap->resend_from = n;
    if (s == SLT_ACK_REJECTED && n > 0 && n > ap->mark) {
        ap->reason = SLT_REJECT_STALE_EPOCH; /* the script rejects only stale epochs */
        ap->mark = n;
    }
    if (rank(s) > rank(ap->status))
        ap->status = s;
    if (--ap->pending == 0) {
        observe_latency(st->stats, uv_hrtime() - ap->sent_ns);
        ap->done(ap);
    }
}

int slt_store_apply(struct slt_store *st, struct slt_apply *ap, const struct slt_msg_batch *b,
                    int64_t now_s)
{
    const char *why = NULL;
    size_t i;
    int rc, invalid;

    ap->st = st;
    ap->reg_node = NULL;
    ap->status = SLT_ACK_DUPLICATE;
    ap->resend_from = 0;
    ap->reason = 0;
    ap->mark = 0;
    rc = check_batch(b, now_s, &why, &invalid);
    if (rc == SLT_EINVAL) {
        ap->status = SLT_ACK_REJECTED;
        ap->reason = SLT_REJECT_INVALID;
        st->stats->batches_invalid[invalid]++;
        slt_log(SLT_LOG_WARN, "ingest", "batch %llu of agent '%.*s' rejected: %s",
                (unsigned long long)b->seq, (int)b->agent_id.len, b->agent_id.p, why);
        return rc;
    }
    if (rc < 0)
        return rc;
    if (!slt_store_ready(st))
        return SLT_EREDIS;
    if (b->nseries > ap->capparts) {
        struct slt_apply_part *p = slt_realloc(ap->parts, b->nseries * sizeof(*p));
        if (!p)
            return SLT_ENOMEM;
        ap->parts = p;
        ap->capparts = b->nseries;
    }
    ap->nparts = b->nseries;
    ap->nbk = 0;
    ap->strs.len = 0;
    ap->epoch = b->epoch;
    ap->seq = b->seq;
    rc = slt_buf_append(&ap->strs, b->agent_id.p, b->agent_id.len);
    ap->agent_len = b->agent_id.len;
    for (i = 0; rc == 0 && i < b->nseries; i++) {
        struct slt_apply_part *e = &ap->parts[i];
        const struct slt_series *s = &b->series[i];

        memset(e, 0, sizeof(*e));
        e->ap = ap;
        e->kind = s->kind;
        e->since = s->since;
        e->name_off = ap->strs.len;
        e->name_len = s->name.len;
        rc = slt_buf_append(&ap->strs, s->name.p, s->name.len);
        if (rc == 0)
            rc = build_entry(st, ap, e, s, now_s);
    }
    if (rc < 0) {
        if (rc == SLT_ELIMIT) {
            ap->status = SLT_ACK_REJECTED;
            ap->reason = SLT_REJECT_INVALID;
            st->stats->batches_invalid[SLT_INVALID_OTHER]++;
            return SLT_EINVAL;
        }
        return rc;
    }
    return slt__store_register_then_enqueue(st, ap);
}
