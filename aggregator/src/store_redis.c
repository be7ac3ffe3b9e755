/*
 * The store on Redis (store.h, docs/REDIS.md): the Redis key schema, the scripts, the
 * exactly-once apply of batches and the reads of the API and alerting.
 *
 * Two connections (redis_conn.c): "ingest" for applies and "query" for reads, so a slow read
 * never delays an apply. Each series of a batch is one entry for the series' hash tag.
 * Entries that arrive in one loop iteration are grouped by tag, and each group becomes one
 * EVALSHA (group commit): the script checks and advances every agent's high-water mark of that
 * series in order and adds the counters of the entries it accepts, in one atomic step, so marks
 * and counts are lost or kept together. Calls are pipelined; per agent, order holds because a
 * session has at most one batch in flight.
 *
 * hiredis 0.14 has no timeouts: redis_conn.c watches the handshake and a PING heartbeat,
 * sessions time their own applies and call slt_store_reset() when one is late, and every read
 * has a deadline checked by the store's tick. Dropping a connection makes hiredis call every
 * pending callback with a NULL reply, which ends each pending apply with RETRY and each read
 * with SLT_EREDIS.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <openssl/evp.h>

#include "slt/arith.h"

#include "aggr.h"
#include "cluster.h"
#include "redis_conn.h"
#include "store.h"
#include "window.h"

#define TICK_MS 50
#define SERIES_CACHE_SLOTS (1u << 17)
#define SERIES_CACHE_MAX (SERIES_CACHE_SLOTS / 2)
#define SERIES_CACHE_TTL_NS (60ULL * 1000000000ULL)
#define ARGS_MAX ((size_t)256 << 20)
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
static const char slt_store_apply_script[] =
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
 * The state of each alert shared by the aggregators (docs/ALERTS.md), so that of several
 * aggregators only the first to see a state change sends its webhook document. KEYS[1] =
 * slt:alert:<fingerprint>; ARGV = state, ttl seconds, mode (store.h, SLT_CAS_*). "cas": set
 * the state, 1 when this call changed it (send), 0 when it already was (another aggregator
 * sent it). "sync": the same, but an absent state counts as resolved. "refresh": an alert
 * still firing keeps its key alive. "lease" (key slt:alert:lease, state = the holder): 1 when
 * the caller holds the alerting lease (taken or renewed for ttl), 0 when another does.
 * "release": deletes the lease if the caller still holds it (1), else 0.
 */
static const char slt_store_cas_script[] =
    "local cur = redis.call('GET', KEYS[1]) "
    "if ARGV[3] == 'refresh' then "
    "  if cur == ARGV[1] then redis.call('EXPIRE', KEYS[1], ARGV[2]) end return 0 end "
    "if ARGV[3] == 'release' then "
    "  if cur == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end return 0 end "
    "if ARGV[3] == 'lease' then "
    "  if cur and cur ~= ARGV[1] then return 0 end "
    "  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) return 1 end "
    "if ARGV[3] == 'sync' and not cur and ARGV[1] == 'resolved' then return 0 end "
    "if cur == ARGV[1] then return 0 end "
    "redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) return 1";

/*
 * One live session per agent id: KEYS[1] = slt:{a:<id>}:lease, KEYS[2] = slt:{a:<id>}:epoch;
 * ARGV = op, value ("<instance>\n..."), epoch, ttl ms. Returns {result, stored epoch, holder}
 * (store.h, slt_store_req_lease). Epochs are below 2^53: exact as Lua numbers.
 */
static const char slt_store_lease_script[] =
    "local op, me, ttl = ARGV[1], ARGV[2], ARGV[4]\n"
    "local cur = redis.call('GET', KEYS[1])\n"
    "if op == 'release' then\n"
    "  if cur == me then redis.call('DEL', KEYS[1]) end return {0, 0, ''}\n"
    "end\n"
    "if op == 'renew' then\n"
    "  if cur == me or not cur then redis.call('SET', KEYS[1], me, 'PX', ttl) return {0, 0, ''} "
    "end\n"
    "  return {1, 0, cur}\n"
    "end\n"
    "local inst = string.match(me, '^([^\\n]*)')\n"
    "local E = tonumber(ARGV[3])\n"
    "local e0 = tonumber(redis.call('GET', KEYS[2]) or '0') or 0\n"
    "if inst ~= '' then\n"
    "  if cur and cur ~= me and string.match(cur, '^([^\\n]*)') ~= inst then return {1, e0, cur} "
    "end\n"
    "  if E < e0 then return {2, e0, ''} end\n"
    "  redis.call('SET', KEYS[1], me, 'PX', ttl)\n"
    "elseif cur then return {1, e0, cur}\n"
    "end\n"
    "if E > e0 then redis.call('SET', KEYS[2], ARGV[3]) end\n"
    "return {0, e0, ''}\n";

/* One counter hash an entry adds to: tot ('t') or a bucket ('m', 'h', 'd') starting at start. */
struct slt_store_bucket {
    char c;
    int64_t start;
    int64_t exp; /* EXPIREAT, 0 for none */
    uint64_t v[3];
    size_t kidx; /* KEYS index in the call that carries it */
};

/* One series of one batch. */
struct slt_apply_part {
    struct slt_apply *ap;
    struct slt_apply_part *next; /* in its group */
    int kind;
    size_t name_off, name_len; /* in ap->strs */
    uint64_t since;
    size_t bk0, nb; /* in ap->bk */
    uint64_t rows, late, expired;
    struct node *node; /* the node whose answer it waits for (NULL: none, or parked) */
};

/* The entries for one series queued in this loop iteration. */
struct group {
    struct group *hnext, *anext;
    int kind;
    const char *name;
    size_t name_len;
    uint32_t hash;
    struct slt_apply_part *head, *tail;
    size_t n;
};

struct node;

/* One EVALSHA in flight. */
struct call {
    struct slt_store *st;
    struct node *node; /* where it goes next; NULL: route by the slot map */
    const char *name;  /* the series (the group's copy, owned here) */
    size_t name_len;
    struct call *park_next;
    int parked, redirects, asking;
    struct slt_apply_part **ents;
    size_t n;
    int kind;
    struct slt_buf args;
    size_t *off, *len;
    size_t nargs, cap;
    int retried;
};

#define GROUP_HASH 1024
#define MAX_ENTRIES_PER_CALL 200

/*
 * A Redis server the store talks to, with its two connections: the one of aggregator.redis,
 * or every master of a cluster the store learned (the seeds first). Nodes are never freed
 * before the store (a node that left keeps reconnecting with backoff, idle); at most
 * MAX_NODES are known.
 */
struct node {
    struct slt_store *st;
    struct slt_rconn ingest; /* applies and series registration */
    struct slt_rconn query;  /* reads of the API and alerting, CLUSTER SLOTS */
    int nopen;               /* connections not closed yet */
    int idx;
    int may_evict; /* maxmemory-policy is not noeviction */
    char host[SLT_CLUSTER_MAX_HOST];
    int port;
    char addr[SLT_CLUSTER_MAX_HOST + 16]; /* "host:port" for logs */
};

#define MAX_NODES SLT_CLUSTER_MAX_NODES
#define RATE_SLOTS 4096
#define NEW_SERIES_BURST 1000.0  /* new series an agent id may add at once ... */
#define NEW_SERIES_PER_MIN 100.0 /* ... and then per minute */

struct rate {
    double tokens;
    uint64_t at_ns;
};
#define PARK_TICKS_MAX 40              /* 2 s of ticks: a command waiting for a node or slot */
#define REDIRECTS_MAX 5                /* MOVED/ASK followed per command before giving up */
#define REFRESH_MIN_NS 200000000ull    /* 200 ms between two CLUSTER SLOTS */
#define REFRESH_EVERY_NS 5000000000ull /* and one every 5 s anyway */

struct call;
struct rcmd;

struct slt_store {
    uv_loop_t *loop;
    char desc[300];
    struct slt_aggr_stats *stats;
    int64_t mret, hret, dret, timeout_ms;
    struct node **nodes;
    size_t nnodes;
    char apply_sha[41], cas_sha[41], lease_sha[41];
    uv_timer_t tick;
    int freeing;
    slt_closed_cb on_closed; /* after slt_store_close, once everything closed */
    void *closed_data;
    /* cluster: slot -> node index (-1 unknown), how to log in to a node it learns of */
    int cluster;
    int16_t *slots;
    int map_complete;
    char *user, *password;
    int refresh_inflight, refresh_wanted;
    uint64_t refresh_last_ns;
    uint64_t slots_logged_ns; /* a refused CLUSTER SLOTS reply: one line a minute */
    size_t refresh_next;      /* the node asked next (round robin) */
    /* commands waiting for a node to come up, a slot to settle (TRYAGAIN) or an ASK target */
    struct call *parked_calls;
    struct rcmd *parked_reads;
    /* scratch argv for one command */
    const char **argv;
    size_t *argvlen;
    size_t argcap;
    /* scratch copy of one series' rows, sorted */
    struct slt_count_row *rows;
    size_t rowcap;
    /* entries queued in this loop iteration, grouped by series; flushed by the check handle */
    struct group *ghash[GROUP_HASH];
    struct group *active;
    uv_check_t check;
    uv_idle_t idle;
    int flush_armed;
    int open_handles;
    /* series already added to slt:series, forgotten every SERIES_CACHE_TTL_NS (and when the
     * ingest connection comes back) so a Redis that lost the set (FLUSHALL, failover behind a
     * proxy) gets it back */
    char **cache;
    size_t ncache;
    uint64_t cache_born_ns;
    uint64_t max_series;
    struct rate *rates; /* RATE_SLOTS new-series allowances, by agent id hash */
    uint64_t series_logged_ns;
    char series_sha[41];
    /* reads in flight, oldest first (their deadlines are checked by the tick) */
    struct slt_store_op *ops_head, *ops_tail;
    size_t nops;
    int ops_due; /* some have nothing to ask and wait for on_check */
    /* counters of the query connections */
    uint64_t q_reconnects, q_errors, q_timeouts, q_deadlines;
};

/* ---- key schema: every Redis key name of slitail is spelled in this file ------------------- */

#define KEY_SERIES "slt:series"
#define KEY_ALERT_PREFIX "slt:alert:"

/* "slt:{s:name}:" or "slt:{i:name}:" (the hash tag of a series), returns its length or 0. */
static size_t series_prefix(char *out, size_t max, int kind, const char *name, size_t nlen)
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
static size_t series_member(char *out, size_t max, int kind, const char *name, size_t nlen)
{
    if (nlen + 2 > max)
        return 0;
    out[0] = kind == SLT_SERIES_SLI ? 's' : 'i';
    out[1] = ':';
    memcpy(out + 2, name, nlen);
    return nlen + 2;
}

/* ---- nodes and routing ---------------------------------------------------------------------- */

static void cache_clear(struct slt_store *st);
static void want_refresh(struct slt_store *st);

/* The node that owns a key: the one server, or the master of the key's slot (NULL: unknown). */
static struct node *node_for_key(struct slt_store *st, const char *key, size_t klen)
{
    int idx;

    if (!st->cluster)
        return st->nnodes ? st->nodes[0] : NULL;
    idx = st->slots[slt_cluster_keyslot(key, klen)];
    return idx >= 0 ? st->nodes[idx] : NULL;
}

/* The node that owns every key of a series (its hash tag). */
static struct node *node_for_series(struct slt_store *st, int kind, const char *name, size_t nlen)
{
    char prefix[SLT_STORE_MAX_NAME + 16];
    size_t n = series_prefix(prefix, sizeof(prefix), kind, name,
                             nlen < SLT_STORE_MAX_NAME ? nlen : SLT_STORE_MAX_NAME);

    return node_for_key(st, prefix, n);
}

/* 1 when every node that owns slots has its connection of the given kind up. */
static int nodes_up(const struct slt_store *st, int query)
{
    unsigned char owns[MAX_NODES];
    size_t i;

    if (st->freeing || st->nnodes == 0)
        return 0;
    if (!st->cluster)
        return slt_rconn_up(query ? &st->nodes[0]->query : &st->nodes[0]->ingest);
    if (!st->map_complete)
        return 0;
    memset(owns, 0, sizeof(owns));
    for (i = 0; i < SLT_CLUSTER_SLOTS; i++)
        owns[st->slots[i]] = 1;
    for (i = 0; i < st->nnodes; i++)
        if (owns[i] && !slt_rconn_up(query ? &st->nodes[i]->query : &st->nodes[i]->ingest))
            return 0;
    return 1;
}

extern const char slt_store_series_script[];

/*
 * CONFIG GET maxmemory-policy: anything but noeviction lets Redis evict buckets and marks
 * under memory pressure (the API forgets SLIs, marks vanish). Warned, and shown in /metrics;
 * a server that refuses CONFIG (renamed on managed services) is noted at debug level.
 */
static void on_policy(redisAsyncContext *ac, void *r, void *priv)
{
    struct node *n = priv;
    redisReply *reply = r;
    const char *policy;

    (void)ac;
    if (!reply || n->st->freeing)
        return;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        reply->element[1]->type != REDIS_REPLY_STRING) {
        slt_log(SLT_LOG_DEBUG, "redis", "cannot read maxmemory-policy of '%s'", n->addr);
        return;
    }
    policy = reply->element[1]->str;
    n->may_evict = strcmp(policy, "noeviction") != 0;
    if (n->may_evict)
        slt_log(SLT_LOG_WARN, "redis",
                "'%s' runs with maxmemory-policy '%s': under memory pressure it evicts "
                "slitail's buckets and marks; set 'maxmemory-policy noeviction' (docs/REDIS.md)",
                n->st->cluster ? n->addr : n->st->desc, policy);
    n->st->stats->redis_may_evict = 0;
    for (size_t i = 0; i < n->st->nnodes; i++)
        n->st->stats->redis_may_evict |= (uint64_t)n->st->nodes[i]->may_evict;
}

static void on_ingest_up(struct slt_rconn *c)
{
    struct node *n = c->data;
    struct slt_store *st = n->st;
    const char *argv[3] = {"SCRIPT", "LOAD", slt_store_apply_script};
    size_t lens[3] = {6, 4, strlen(slt_store_apply_script)};

    /* pipelined before any EVALSHA on this connection, so they find it (NOSCRIPT is handled
     * anyway: a SCRIPT FLUSH can come at any time) */
    slt_rconn_command(c, NULL, NULL, 3, argv, lens);
    argv[2] = slt_store_series_script;
    lens[2] = strlen(slt_store_series_script);
    slt_rconn_command(c, NULL, NULL, 3, argv, lens);
    {
        const char *cg[3] = {"CONFIG", "GET", "maxmemory-policy"};
        size_t cl[3] = {6, 3, 16};

        slt_rconn_command(c, on_policy, n, 3, cg, cl);
    }
    cache_clear(st);
    st->stats->redis_connected = nodes_up(st, 0);
    if (st->cluster)
        slt_log(SLT_LOG_INFO, "redis", "connected to cluster node '%s'", n->addr);
    else
        slt_log(SLT_LOG_INFO, "redis", "connected to '%s'", st->desc);
}

static void on_ingest_down(struct slt_rconn *c, int was_up)
{
    struct node *n = c->data;

    (void)was_up;
    n->st->stats->redis_connected = nodes_up(n->st, 0);
    if (n->st->cluster && !n->st->freeing)
        want_refresh(n->st); /* a master that fails: its replica takes its slots */
}

static void on_query_up(struct slt_rconn *c)
{
    struct node *n = c->data;
    const char *scripts[2] = {slt_store_cas_script, slt_store_lease_script};
    size_t i;

    /* the scripts this connection runs, loaded before their first EVALSHA (no NOSCRIPT) */
    for (i = 0; i < 2; i++) {
        const char *argv[3] = {"SCRIPT", "LOAD", scripts[i]};
        size_t lens[3] = {6, 4, strlen(scripts[i])};

        slt_rconn_command(c, NULL, NULL, 3, argv, lens);
    }

    if (n->st->cluster && (!n->st->map_complete || n->st->refresh_wanted))
        want_refresh(n->st);
}

static void park_drop_calls(struct slt_store *st);
static void call_fail(struct call *c);
static void call_free(struct call *c);

void slt_store_reset(struct slt_store *st, struct slt_apply *ap, const char *reason)
{
    struct node *drop[MAX_NODES + 1];
    struct call *mine = NULL, **pc, *c;
    size_t i, j, ndrop = 0;

    /* the nodes ap waits on, and its parked calls (ap may be reused once one of them ends) */
    for (i = 0; ap && i <= ap->nparts; i++) {
        struct node *n = i < ap->nparts ? ap->parts[i].node : ap->reg_node;

        for (j = 0; n && j < ndrop && drop[j] != n; j++)
            ;
        if (n && j == ndrop)
            drop[ndrop++] = n;
    }
    for (pc = &st->parked_calls; ap && (c = *pc) != NULL;) {
        for (i = 0; i < c->n && c->ents[i]->ap != ap; i++)
            ;
        if (i < c->n) {
            *pc = c->park_next;
            c->park_next = mine;
            mine = c;
        } else {
            pc = &c->park_next;
        }
    }
    if (!ap || (ndrop == 0 && !mine)) {
        /* nothing known to wait on: drop every ingest connection, so done surely runs */
        for (i = 0; i < st->nnodes; i++)
            slt_rconn_drop(&st->nodes[i]->ingest, reason);
        park_drop_calls(st);
        return;
    }
    for (; mine; mine = c) {
        c = mine->park_next;
        call_fail(mine);
        call_free(mine);
    }
    for (i = 0; i < ndrop; i++)
        slt_rconn_drop(&drop[i]->ingest, reason);
}

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

static int query_ready(const struct slt_store *st)
{
    if (st->freeing || st->nnodes == 0)
        return 0;
    return st->cluster ? st->map_complete : slt_rconn_up(&st->nodes[0]->query);
}

void slt_store_health(const struct slt_store *st, struct slt_store_health *h)
{
    memset(h, 0, sizeof(*h));
    h->ingest_up = nodes_up(st, 0);
    h->query_up = nodes_up(st, 1);
    h->query_timeouts = st->q_deadlines;
    h->query_reconnects = st->q_reconnects;
}

/* The SHA1 of a script in hex, as EVALSHA wants it. */
static void script_sha(const char *script, char out[41])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0, i;

    if (!EVP_Digest(script, strlen(script), md, &n, EVP_sha1(), NULL) || n != 20)
        SLT_BUG("SHA1 of a script failed");
    for (i = 0; i < 20; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* Opens both connections of a node (path: a unix socket, only without a cluster). */
static int node_open(struct slt_store *st, struct node *n, const char *path, int db)
{
    struct slt_rconn_opts o;
    char name[400];
    int rc;

    memset(&o, 0, sizeof(o));
    n->st = st;
    o.host = path ? NULL : n->host;
    o.port = n->port;
    o.path = path;
    o.user = st->user;
    o.password = st->password;
    o.db = db;
    o.timeout_ms = st->timeout_ms;
    o.name = st->cluster ? n->addr : st->desc;
    o.quiet = 1; /* "connected to" is logged by on_ingest_up, failures by the connection */
    o.stats.reconnects = &st->stats->redis_reconnects;
    o.stats.errors = &st->stats->redis_errors;
    o.stats.timeouts = &st->stats->redis_timeouts;
    rc = slt_rconn_init(&n->ingest, st->loop, &o);
    if (rc < 0)
        return rc;
    n->ingest.data = n;
    n->ingest.on_up = on_ingest_up;
    n->ingest.on_down = on_ingest_down;
    n->nopen++;
    snprintf(name, sizeof(name), "%s (queries)", o.name);
    o.name = name;
    o.quiet = 2; /* the ingest connection already says when this server is down */
    o.stats.reconnects = &st->q_reconnects;
    o.stats.errors = &st->q_errors;
    o.stats.timeouts = &st->q_timeouts;
    rc = slt_rconn_init(&n->query, st->loop, &o);
    if (rc < 0)
        return rc;
    n->query.data = n;
    n->query.on_up = on_query_up;
    n->nopen++;
    return 0;
}

/* Adds a node (its connections start now). NULL when MAX_NODES are known or no memory. */
static struct node *node_add(struct slt_store *st, const char *host, int port, const char *path,
                             int db)
{
    struct node *n;

    if (st->nnodes >= MAX_NODES || strlen(host) >= sizeof(n->host))
        return NULL;
    n = slt_calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    snprintf(n->host, sizeof(n->host), "%s", host);
    n->port = port;
    snprintf(n->addr, sizeof(n->addr), strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
    n->idx = (int)st->nnodes;
    st->nodes[st->nnodes++] = n;
    if (node_open(st, n, path, db) < 0 && n->nopen == 0) {
        /* nothing opened: forget it (a half-open node is closed with the store) */
        st->nnodes--;
        slt_free(n);
        return NULL;
    }
    return n;
}

/* The node at host:port, added when new (NULL: over MAX_NODES or no memory). */
static struct node *node_get(struct slt_store *st, const char *host, int port)
{
    size_t i;

    for (i = 0; i < st->nnodes; i++)
        if (st->nodes[i]->port == port && strcmp(st->nodes[i]->host, host) == 0)
            return st->nodes[i];
    return node_add(st, host, port, NULL, 0);
}

/* ---- the cluster's slot map ---- */

/*
 * A CLUSTER SLOTS reply from node n, parsed (and checked) by cluster.c: the masters it names
 * become nodes, the map becomes complete when every slot has one. A reply that does not parse
 * changes nothing (counted, logged once a minute; another node is asked).
 */
static void on_cluster_slots(redisAsyncContext *ac, void *r, void *priv)
{
    struct node *from = priv;
    struct slt_store *st = from->st;
    redisReply *reply = r;
    struct slt_cluster_map *map;
    int idx[SLT_CLUSTER_MAX_NODES];
    size_t i, covered = 0;
    char err[200];

    (void)ac;
    st->refresh_inflight = 0;
    st->refresh_last_ns = uv_hrtime();
    if (st->freeing)
        return;
    if (!reply || reply->type != REDIS_REPLY_ARRAY) {
        if (reply && reply->type == REDIS_REPLY_ERROR)
            slt_log(SLT_LOG_WARN, "redis", "CLUSTER SLOTS on '%s' failed: %.200s", from->addr,
                    reply->str);
        st->refresh_wanted = 1; /* ask another node next tick */
        return;
    }
    map = slt_malloc(sizeof(*map));
    if (!map)
        return;
    if (slt_cluster_parse_slots(reply, from->host, map, err, sizeof(err)) < 0) {
        uint64_t now = uv_hrtime();

        st->stats->redis_cluster_refused++;
        if (now - st->slots_logged_ns >= 60000000000ull || st->slots_logged_ns == 0) {
            slt_log(SLT_LOG_WARN, "redis", "CLUSTER SLOTS reply of '%s' refused: %s", from->addr,
                    err);
            st->slots_logged_ns = now;
        }
        slt_free(map);
        st->refresh_wanted = 1;
        return;
    }
    /* the masters in the order the reply names them, as nodes (-1: over MAX_NODES, no memory) */
    for (i = 0; i < map->nnodes; i++) {
        struct node *n = node_get(st, map->nodes[i].host, map->nodes[i].port);

        idx[i] = n ? n->idx : -1;
    }
    for (i = 0; i < SLT_CLUSTER_SLOTS; i++) {
        map->slot[i] = map->slot[i] >= 0 ? (int16_t)idx[map->slot[i]] : -1;
        covered += map->slot[i] >= 0;
    }
    if (covered == 0) {
        slt_free(map);
        st->refresh_wanted = 1;
        return;
    }
    memcpy(st->slots, map->slot, SLT_CLUSTER_SLOTS * sizeof(*st->slots));
    slt_free(map);
    st->stats->redis_cluster_refreshes++;
    if (covered == SLT_CLUSTER_SLOTS && !st->map_complete)
        slt_log(SLT_LOG_INFO, "redis", "cluster slot map complete (%zu nodes known)", st->nnodes);
    else if (covered < SLT_CLUSTER_SLOTS && st->map_complete)
        slt_log(SLT_LOG_WARN, "redis", "cluster: %zu of %d slots have no master",
                SLT_CLUSTER_SLOTS - covered, SLT_CLUSTER_SLOTS);
    st->map_complete = covered == SLT_CLUSTER_SLOTS;
    st->refresh_wanted = !st->map_complete;
    st->stats->redis_connected = nodes_up(st, 0);
}

/* Sends CLUSTER SLOTS to the next node whose query connection is up. */
static void refresh_map(struct slt_store *st)
{
    const char *argv[2] = {"CLUSTER", "SLOTS"};
    size_t lens[2] = {7, 5}, k;

    if (st->refresh_inflight || st->freeing)
        return;
    for (k = 0; k < st->nnodes; k++) {
        struct node *n = st->nodes[(st->refresh_next + k) % st->nnodes];

        if (!slt_rconn_up(&n->query))
            continue;
        if (slt_rconn_command(&n->query, on_cluster_slots, n, 2, argv, lens) == 0) {
            st->refresh_next = (size_t)n->idx + 1;
            st->refresh_inflight = 1;
            st->refresh_wanted = 0;
            return;
        }
    }
}

static void want_refresh(struct slt_store *st)
{
    st->refresh_wanted = 1;
    if (uv_hrtime() - st->refresh_last_ns >= REFRESH_MIN_NS)
        refresh_map(st);
}

/* From the tick: keeps the map fresh while something is off, and every 5 s anyway. */
static void refresh_tick(struct slt_store *st)
{
    uint64_t now = uv_hrtime();

    if (!st->cluster || st->refresh_inflight)
        return;
    if (!st->map_complete || !nodes_up(st, 0))
        st->refresh_wanted = 1;
    if ((st->refresh_wanted && now - st->refresh_last_ns >= REFRESH_MIN_NS) ||
        now - st->refresh_last_ns >= REFRESH_EVERY_NS)
        refresh_map(st);
}

/*
 * A redirection of a command sent to node from: MOVED updates the map (and asks for a fresh
 * one); both give the node to send to next, or NULL.
 */
static struct node *follow_redirect(struct slt_store *st, struct node *from,
                                    const struct slt_cluster_redirect *rd)
{
    struct node *to;

    if (!st->cluster)
        return NULL;
    to = node_get(st, rd->host[0] ? rd->host : from->host, rd->port);
    if (!to)
        return NULL;
    if (rd->kind == SLT_CLUSTER_MOVED) {
        st->stats->redis_moved++;
        st->slots[rd->slot] = (int16_t)to->idx;
        want_refresh(st);
    } else {
        st->stats->redis_ask++;
    }
    return to;
}

/*
 * 1 for an error a cluster command waits out and sends again (counted): TRYAGAIN (a
 * multi-key command while its slot is migrated), CLUSTERDOWN (asks for a fresh map), LOADING.
 */
static int cluster_wait_error(struct slt_store *st, const redisReply *reply)
{
    if (strncmp(reply->str, "TRYAGAIN", 8) != 0 && strncmp(reply->str, "CLUSTERDOWN", 11) != 0 &&
        strncmp(reply->str, "LOADING", 7) != 0)
        return 0;
    st->stats->redis_tryagain++;
    if (reply->str[0] == 'C')
        want_refresh(st);
    return 1;
}

/* ---- lifecycle ---- */

static void on_tick(uv_timer_t *t);

static int dup_str(char **dst, const char *src)
{
    *dst = src ? slt_strdup(src) : NULL;
    return src && !*dst ? SLT_ENOMEM : 0;
}

int slt_store_new(uv_loop_t *loop, const struct slt_store_conf *conf,
                  const struct slt_aggr_params *params, struct slt_aggr_stats *stats,
                  struct slt_store **out)
{
    const struct slt_redis_url *auth = conf->nseeds ? &conf->seeds[0] : conf->url;
    struct slt_store *st = slt_calloc(1, sizeof(*st));
    size_t i;
    int rc = 0;

    if (!st)
        return SLT_ENOMEM;
    st->loop = loop;
    st->stats = stats;
    st->cluster = conf->nseeds > 0;
    st->cache = slt_calloc(SERIES_CACHE_SLOTS, sizeof(*st->cache));
    st->nodes = slt_calloc(MAX_NODES, sizeof(*st->nodes));
    st->rates = slt_calloc(RATE_SLOTS, sizeof(*st->rates));
    st->slots = st->cluster ? slt_malloc(SLT_CLUSTER_SLOTS * sizeof(*st->slots)) : NULL;
    for (i = 0; i < conf->nseeds && !auth->password; i++)
        if (conf->seeds[i].password)
            auth = &conf->seeds[i];
    if (!st->cache || !st->nodes || !st->rates || (st->cluster && !st->slots) ||
        dup_str(&st->user, auth->user) < 0 || dup_str(&st->password, auth->password) < 0) {
        slt_free(st->cache);
        slt_free(st->nodes);
        slt_free(st->rates);
        slt_free(st->slots);
        slt_free(st->user);
        slt_free(st->password);
        slt_free(st);
        return SLT_ENOMEM;
    }
    for (i = 0; st->cluster && i < SLT_CLUSTER_SLOTS; i++)
        st->slots[i] = -1;
    if (st->cluster)
        snprintf(st->desc, sizeof(st->desc), "cluster of %zu seed(s)", conf->nseeds);
    else
        slt_redis_url_describe(conf->url, st->desc, sizeof(st->desc));
    script_sha(slt_store_apply_script, st->apply_sha);
    script_sha(slt_store_cas_script, st->cas_sha);
    script_sha(slt_store_series_script, st->series_sha);
    script_sha(slt_store_lease_script, st->lease_sha);
    slt_store_set_params(st, params);
    uv_timer_init(loop, &st->tick);
    uv_check_init(loop, &st->check);
    uv_idle_init(loop, &st->idle);
    st->tick.data = st->check.data = st->idle.data = st;
    st->open_handles = 3;
    uv_timer_start(&st->tick, on_tick, TICK_MS, TICK_MS);
    stats->redis_connected = 0;
    if (!st->cluster) {
        if (!node_add(st, conf->url->host ? conf->url->host : "", conf->url->port, conf->url->path,
                      conf->url->db))
            rc = SLT_ENOMEM;
    }
    for (i = 0; rc == 0 && i < conf->nseeds; i++)
        if (!node_get(st, conf->seeds[i].host, conf->seeds[i].port))
            rc = SLT_ENOMEM;
    if (rc < 0) {
        slt_store_close(st, NULL, NULL);
        return rc;
    }
    *out = st;
    return 0;
}

void slt_store_set_params(struct slt_store *st, const struct slt_aggr_params *p)
{
    st->mret = p->minute_retention_s;
    st->hret = p->hour_retention_s;
    st->dret = p->day_retention_s;
    st->timeout_ms = p->redis_timeout_ms > 0 ? p->redis_timeout_ms : 2000;
    st->max_series = p->max_series ? p->max_series : SLT_STORE_MAX_SERIES_DEFAULT;
}

static void store_maybe_freed(struct slt_store *st)
{
    slt_closed_cb cb;
    void *data;
    size_t i;

    if (st->open_handles > 0)
        return;
    for (i = 0; i < st->nnodes; i++)
        if (st->nodes[i]->nopen > 0)
            return;
    cb = st->on_closed;
    data = st->closed_data;
    for (i = 0; i < st->nnodes; i++)
        slt_free(st->nodes[i]);
    cache_clear(st);
    slt_free(st->cache);
    slt_free(st->nodes);
    slt_free(st->rates);
    slt_free(st->slots);
    slt_free(st->user);
    slt_free(st->password);
    slt_free(st->argv);
    slt_free(st->argvlen);
    slt_free(st->rows);
    slt_free(st);
    if (cb)
        cb(data);
}

static void on_store_handle_closed(uv_handle_t *h)
{
    struct slt_store *st = h->data;

    st->open_handles--;
    store_maybe_freed(st);
}

static void on_conn_closed(void *data)
{
    struct node *n = data;

    n->nopen--;
    store_maybe_freed(n->st);
}

static void fail_queued(struct slt_store *st);
static void abort_ops(struct slt_store *st);
static void answer_due(struct slt_store *st);
static void park_drop_reads(struct slt_store *st);

void slt_store_close(struct slt_store *st, slt_closed_cb on_closed, void *data)
{
    size_t i;

    if (!st) {
        if (on_closed)
            on_closed(data);
        return;
    }
    if (st->freeing)
        return;
    st->freeing = 1;
    st->on_closed = on_closed;
    st->closed_data = data;
    st->stats->redis_connected = 0;
    /* pending applies end with RETRY and reads with SLT_EREDIS, now */
    for (i = 0; i < st->nnodes; i++) {
        struct node *n = st->nodes[i];

        n->ingest.data = n->query.data = n; /* also for a connection whose init failed */
        if (n->ingest.name)
            slt_rconn_close(&n->ingest, on_conn_closed, n);
        if (n->query.name)
            slt_rconn_close(&n->query, on_conn_closed, n);
    }
    park_drop_calls(st);
    park_drop_reads(st);
    fail_queued(st);
    abort_ops(st);
    uv_timer_stop(&st->tick);
    uv_check_stop(&st->check);
    uv_idle_stop(&st->idle);
    uv_close((uv_handle_t *)&st->tick, on_store_handle_closed);
    uv_close((uv_handle_t *)&st->check, on_store_handle_closed);
    uv_close((uv_handle_t *)&st->idle, on_store_handle_closed);
}

static void cache_clear(struct slt_store *st)
{
    size_t i;

    if (!st->cache)
        return;
    for (i = 0; i < SERIES_CACHE_SLOTS; i++) {
        slt_free(st->cache[i]);
        st->cache[i] = NULL;
    }
    st->ncache = 0;
    st->cache_born_ns = slt_mono_ns();
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

static size_t fmt_i64(char *buf, int64_t v)
{
    if (v < 0) {
        buf[0] = '-';
        return 1 + slt_fmt_u64(buf + 1, (uint64_t)0 - (uint64_t)v);
    }
    return slt_fmt_u64(buf, (uint64_t)v);
}

static int call_arg(struct call *c, const char *p, size_t n)
{
    int rc;

    if (c->nargs == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        size_t *o = slt_realloc(c->off, cap * sizeof(*o)), *l;

        if (!o)
            return SLT_ENOMEM;
        c->off = o;
        l = slt_realloc(c->len, cap * sizeof(*l));
        if (!l)
            return SLT_ENOMEM;
        c->len = l;
        c->cap = cap;
    }
    c->off[c->nargs] = c->args.len;
    c->len[c->nargs] = n;
    rc = slt_buf_append(&c->args, p, n);
    if (rc < 0)
        return rc;
    c->nargs++;
    return 0;
}

static int call_u64(struct call *c, uint64_t v)
{
    char b[24];
    return call_arg(c, b, slt_fmt_u64(b, v));
}

static int call_i64(struct call *c, int64_t v)
{
    char b[24];
    return call_arg(c, b, fmt_i64(b, v));
}

static void call_free(struct call *c)
{
    slt_buf_release(&c->args);
    slt_free(c->off);
    slt_free(c->len);
    slt_free(c->ents);
    slt_free((char *)c->name);
    slt_free(c);
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
static void add_counts(uint64_t acc[3], const uint64_t v[3])
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
        add_counts(bk.v, st->rows[r].v);
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
                add_counts(bk.v, st->rows[r].v);
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
static void entry_done(struct slt_apply_part *e, enum slt_ack_status s, uint64_t n)
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

static void call_fail(struct call *c)
{
    size_t i;

    for (i = 0; i < c->n; i++)
        entry_done(c->ents[i], SLT_ACK_RETRY, 0);
}

static int call_send(struct slt_store *st, struct call *c, int eval);

/* Parks a call: it is sent again from the tick (a node coming up, a slot that settles). */
static void call_park(struct slt_store *st, struct call *c)
{
    for (size_t i = 0; i < c->n; i++)
        c->ents[i]->node = NULL;
    if (++c->parked > PARK_TICKS_MAX || st->freeing) {
        st->stats->redis_errors++;
        call_fail(c);
        call_free(c);
        return;
    }
    c->park_next = st->parked_calls;
    st->parked_calls = c;
}

/* Sends c to its node, or parks it when the node is not up (yet). */
static void call_go(struct slt_store *st, struct call *c)
{
    int rc;

    if (!c->node)
        c->node = node_for_series(st, c->kind, c->name, c->name_len);
    rc = c->node ? call_send(st, c, c->retried) : SLT_EREDIS;
    if (rc == 0) {
        for (size_t i = 0; i < c->n; i++)
            c->ents[i]->node = c->node;
        return;
    }
    if (rc == SLT_EREDIS && st->cluster) {
        if (!c->node)
            want_refresh(st);
        call_park(st, c);
        return;
    }
    st->stats->redis_errors++;
    call_fail(c);
    call_free(c);
}

static void park_retry_calls(struct slt_store *st)
{
    struct call *c = st->parked_calls, *next;

    st->parked_calls = NULL;
    for (; c; c = next) {
        next = c->park_next;
        c->park_next = NULL;
        if (!c->asking)
            c->node = NULL; /* route again: the map may have changed */
        call_go(st, c);
    }
}

/* The store was reset or freed: parked calls end with RETRY. */
static void park_drop_calls(struct slt_store *st)
{
    struct call *c = st->parked_calls, *next;

    st->parked_calls = NULL;
    for (; c; c = next) {
        next = c->park_next;
        call_fail(c);
        call_free(c);
    }
}

/*
 * An error reply that can be waited out or followed in a cluster: MOVED and ASK (sent on to
 * the node named), TRYAGAIN (a slot being migrated: sent again on the next tick),
 * CLUSTERDOWN and LOADING (parked until the cluster is whole again). 1 when it took c.
 */
static int call_cluster_error(struct slt_store *st, struct call *c, const redisReply *reply)
{
    struct slt_cluster_redirect rd;

    if (!st->cluster)
        return 0;
    if (slt_cluster_parse_redirect(reply->str, reply->len, &rd) == 0) {
        struct node *to =
            ++c->redirects <= REDIRECTS_MAX ? follow_redirect(st, c->node, &rd) : NULL;

        if (!to)
            return 0;
        c->node = to;
        c->asking = rd.kind == SLT_CLUSTER_ASK;
        call_go(st, c);
        return 1;
    }
    if (cluster_wait_error(st, reply)) {
        c->asking = 0;
        call_park(st, c);
        return 1;
    }
    return 0;
}

static void on_call_reply(redisAsyncContext *ac, void *r, void *priv)
{
    struct call *c = priv;
    struct slt_store *st = c->st;
    redisReply *reply = r;
    size_t i;

    if (!reply) {
        /* the connection went away: whether the script ran is unknown, and an agent's resend
         * is answered DUPLICATE if it did (the marks travel with the counts) */
        if (st->cluster && !st->freeing)
            want_refresh(st);
        call_fail(c);
    } else if (reply->type == REDIS_REPLY_ERROR) {
        if (!c->retried && strncmp(reply->str, "NOSCRIPT", 8) == 0 && c->node->ingest.ac == ac) {
            /* script cache flushed: send the body once with EVAL, which caches it again */
            c->retried = 1;
            c->asking = 0;
            call_go(st, c);
            return;
        }
        if (call_cluster_error(st, c, reply))
            return;
        st->stats->redis_errors++;
        slt_log(SLT_LOG_WARN, "redis", "apply failed: %.200s", reply->str);
        call_fail(c);
    } else if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 * c->n) {
        for (i = 0; i < c->n; i++) {
            redisReply *a = reply->element[2 * i], *b = reply->element[2 * i + 1];
            long long s = a->type == REDIS_REPLY_INTEGER ? a->integer : -1;
            long long n = b->type == REDIS_REPLY_INTEGER ? b->integer : 0;

            switch (s) {
            case 0:
                entry_done(c->ents[i], SLT_ACK_APPLIED, 0);
                break;
            case 1:
                entry_done(c->ents[i], SLT_ACK_DUPLICATE, 0);
                break;
            case 2:
                entry_done(c->ents[i], SLT_ACK_GAP, n > 0 ? (uint64_t)n : 1);
                break;
            case 3:
                entry_done(c->ents[i], SLT_ACK_REJECTED, n > 0 ? (uint64_t)n : 1);
                break;
            case 4:
                /* a counter would pass its limit: nothing of this entry was written */
                st->stats->batches_invalid[SLT_INVALID_COUNTER_LIMIT]++;
                if (c->ents[i]->ap->reason != SLT_REJECT_STALE_EPOCH)
                    c->ents[i]->ap->reason = SLT_REJECT_INVALID;
                entry_done(c->ents[i], SLT_ACK_REJECTED, 0);
                break;
            default:
                st->stats->redis_errors++;
                entry_done(c->ents[i], SLT_ACK_RETRY, 0);
            }
        }
    } else {
        st->stats->redis_errors++;
        slt_log(SLT_LOG_WARN, "redis", "apply: unexpected reply type %d", reply->type);
        call_fail(c);
    }
    call_free(c);
}

static int call_send(struct slt_store *st, struct call *c, int eval)
{
    size_t argc = c->nargs + 2, i;

    if (!slt_rconn_up(&c->node->ingest))
        return SLT_EREDIS;
    if (argc > st->argcap) {
        const char **a = slt_realloc(st->argv, argc * sizeof(*a));
        size_t *l;

        if (!a)
            return SLT_ENOMEM;
        st->argv = a;
        l = slt_realloc(st->argvlen, argc * sizeof(*l));
        if (!l)
            return SLT_ENOMEM;
        st->argvlen = l;
        st->argcap = argc;
    }
    if (c->asking) {
        /* ASK: this command only, on the node importing the slot, right after ASKING */
        const char *asking[1] = {"ASKING"};
        size_t alen[1] = {6};

        if (slt_rconn_command(&c->node->ingest, NULL, NULL, 1, asking, alen) < 0)
            return SLT_EREDIS;
    }
    st->argv[0] = eval ? "EVAL" : "EVALSHA";
    st->argvlen[0] = strlen(st->argv[0]);
    st->argv[1] = eval ? slt_store_apply_script : st->apply_sha;
    st->argvlen[1] = strlen(st->argv[1]);
    for (i = 0; i < c->nargs; i++) {
        st->argv[2 + i] = c->args.p + c->off[i];
        st->argvlen[2 + i] = c->len[i];
    }
    return slt_rconn_command(&c->node->ingest, on_call_reply, c, (int)argc, st->argv, st->argvlen);
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
        size_t k = fmt_i64(num, b->start);
        memcpy(key + n, num, k);
        n += k;
    }
    return call_arg(c, key, n);
}

/*
 * Builds the EVALSHA for up to MAX_ENTRIES_PER_CALL entries of one series: the union of their
 * counter hashes becomes KEYS, each entry names its hashes by KEYS index.
 */
static int call_build(struct call *c, const struct group *g)
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
    rc = call_arg(c, "0", 1);
    if (rc == 0) {
        char hwm[1104];
        memcpy(hwm, prefix, plen);
        memcpy(hwm + plen, "hwm", 3);
        rc = call_arg(c, hwm, plen + 3);
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
        rc = call_u64(c, nkeys + 1);
        if (rc == 0) {
            c->off[0] = c->off[save];
            c->len[0] = c->len[save];
            c->nargs = save;
        }
    }
    for (i = 0; rc == 0 && i < 3; i++)
        rc = call_arg(c, f[i], 1);
    if (rc == 0)
        rc = call_u64(c, c->n);
    /* per key, in KEYS order: expire-at and the sums over every entry */
    for (i = 0; rc == 0 && i < nrefs; i = j) {
        int64_t exp = refs[i]->exp;
        uint64_t sum[3] = {0, 0, 0};

        for (j = i; j < nrefs && cmp_bucket_ref(&refs[i], &refs[j]) == 0; j++) {
            if (refs[j]->exp > exp)
                exp = refs[j]->exp;
            add_counts(sum, refs[j]->v);
        }
        rc = call_i64(c, exp);
        for (k = 0; rc == 0 && k < 3; k++)
            rc = call_u64(c, sum[k]);
    }
    for (i = 0; rc == 0 && i < c->n; i++) {
        const struct slt_apply_part *e = c->ents[i];
        const struct slt_apply *ap = e->ap;
        char num[24];
        size_t start;

        rc = call_arg(c, ap->strs.p, ap->agent_len);
        if (rc == 0)
            rc = call_u64(c, ap->epoch);
        if (rc == 0)
            rc = call_u64(c, ap->seq);
        if (rc == 0)
            rc = call_u64(c, e->since);
        if (rc == 0) {
            char mark[48];
            size_t n = slt_fmt_u64(mark, ap->epoch);

            mark[n++] = ':';
            n += slt_fmt_u64(mark + n, ap->seq - 1);
            rc = call_arg(c, mark, n);
            if (rc == 0) {
                n -= slt_fmt_u64(num, ap->seq - 1);
                n += slt_fmt_u64(mark + n, ap->seq);
                rc = call_arg(c, mark, n);
            }
        }
        /* the deltas as one string: "k:d1:d2:d3,..." */
        if (rc == 0)
            rc = call_arg(c, "", 0);
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

/* Sends the entries of group g, MAX_ENTRIES_PER_CALL per EVALSHA. */
static void flush_group(struct slt_store *st, struct group *g)
{
    while (g->head) {
        struct call *c = slt_calloc(1, sizeof(*c));
        struct slt_apply_part *e;
        size_t n = g->n < MAX_ENTRIES_PER_CALL ? g->n : MAX_ENTRIES_PER_CALL, i;

        if (c)
            c->ents = slt_malloc(n * sizeof(*c->ents));
        if (!c || !c->ents) {
            slt_free(c);
            /* no memory: answer RETRY for everything left */
            while ((e = g->head) != NULL) {
                g->head = e->next;
                g->n--;
                entry_done(e, SLT_ACK_RETRY, 0);
            }
            return;
        }
        c->st = st;
        c->kind = g->kind;
        slt_buf_init(&c->args, ARGS_MAX);
        for (i = 0; i < n; i++) {
            e = g->head;
            g->head = e->next;
            g->n--;
            c->ents[c->n++] = e;
        }
        c->name = slt_strndup(g->name, g->name_len);
        c->name_len = g->name_len;
        if (!c->name || call_build(c, g) < 0) {
            st->stats->redis_errors++;
            call_fail(c);
            call_free(c);
            continue;
        }
        call_go(st, c);
    }
}

/* Takes every queued group off the store (new entries go into fresh groups). */
static struct group *take_queued(struct slt_store *st)
{
    struct group *g = st->active;

    st->active = NULL;
    if (g)
        memset(st->ghash, 0, sizeof(st->ghash));
    if (st->flush_armed) {
        uv_check_stop(&st->check);
        uv_idle_stop(&st->idle);
        st->flush_armed = 0;
    }
    return g;
}

static void fail_queued(struct slt_store *st)
{
    struct group *g = take_queued(st), *next;
    struct slt_apply_part *e;

    for (; g; g = next) {
        next = g->anext;
        while ((e = g->head) != NULL) {
            g->head = e->next;
            entry_done(e, SLT_ACK_RETRY, 0);
        }
        slt_free(g);
    }
}

static void on_check(uv_check_t *h)
{
    struct slt_store *st = h->data;
    struct group *g = take_queued(st), *next;

    answer_due(st);
    for (; g; g = next) {
        next = g->anext;
        if (!st->freeing) {
            flush_group(st, g);
        } else {
            struct slt_apply_part *e;
            while ((e = g->head) != NULL) {
                g->head = e->next;
                entry_done(e, SLT_ACK_RETRY, 0);
            }
        }
        slt_free(g);
    }
}

static void on_idle(uv_idle_t *h)
{
    /* only here so the loop does not block in poll while entries wait for on_check */
    (void)h;
}

static void arm_flush(struct slt_store *st)
{
    if (!st->flush_armed) {
        uv_check_start(&st->check, on_check);
        uv_idle_start(&st->idle, on_idle);
        st->flush_armed = 1;
    }
}

static int enqueue(struct slt_store *st, struct slt_apply_part *e)
{
    const char *name = e->ap->strs.p + e->name_off;
    uint32_t hash = 2166136261u ^ (uint32_t)e->kind;
    struct group *g;
    size_t i;

    for (i = 0; i < e->name_len; i++)
        hash = (hash ^ (uint8_t)name[i]) * 16777619u;
    for (g = st->ghash[hash % GROUP_HASH]; g; g = g->hnext)
        if (g->hash == hash && g->kind == e->kind && g->name_len == e->name_len &&
            memcmp(g->name, name, e->name_len) == 0)
            break;
    if (!g) {
        /* the name is copied: the first entry's apply may be reused before the group is done */
        g = slt_calloc(1, sizeof(*g) + e->name_len + 1);
        if (!g)
            return SLT_ENOMEM;
        memcpy(g + 1, name, e->name_len);
        g->kind = e->kind;
        g->name = (const char *)(g + 1);
        g->name_len = e->name_len;
        g->hash = hash;
        g->hnext = st->ghash[hash % GROUP_HASH];
        st->ghash[hash % GROUP_HASH] = g;
        g->anext = st->active;
        st->active = g;
    }
    e->next = NULL;
    if (g->tail && g->head)
        g->tail->next = e;
    else
        g->head = e;
    g->tail = e;
    g->n++;
    arm_flush(st);
    return 0;
}

/* ---- the series set: bounded (aggregator.max_series), its growth limited per agent ---- */

/* The member of slt:series for part e of ap (the name with a NUL is cut there, as before). */
static size_t part_member(const struct slt_apply_part *e, char *out, size_t max)
{
    const char *name = e->ap->strs.p + e->name_off;
    const char *nul = memchr(name, '\0', e->name_len);
    size_t len = nul ? (size_t)(nul - name) : e->name_len;

    if (len + 3 > max)
        len = max - 3;
    return series_member(out, max, e->kind, name, len);
}

static uint32_t fnv1a(const char *p, size_t n)
{
    uint32_t h = 2166136261u;
    size_t i;

    for (i = 0; i < n; i++)
        h = (h ^ (uint8_t)p[i]) * 16777619u;
    return h;
}

/* 1 when member is in the cache; else 0 and *slot is where it would go. */
static int cache_find(const struct slt_store *st, const char *m, size_t n, size_t *slot)
{
    size_t k = fnv1a(m, n) & (SERIES_CACHE_SLOTS - 1);

    while (st->cache[k]) {
        if (strlen(st->cache[k]) == n && memcmp(st->cache[k], m, n) == 0)
            return 1;
        k = (k + 1) & (SERIES_CACHE_SLOTS - 1);
    }
    *slot = k;
    return 0;
}

static void cache_put(struct slt_store *st, const char *m, size_t n)
{
    size_t slot;

    if (cache_find(st, m, n, &slot))
        return;
    if (st->ncache >= SERIES_CACHE_MAX) {
        cache_clear(st); /* bounded: start over, registering again is harmless */
        cache_find(st, m, n, &slot);
    }
    if ((st->cache[slot] = slt_strndup(m, n)) != NULL)
        st->ncache++;
}

/*
 * The new-series allowance of an agent id: a token bucket (NEW_SERIES_BURST, refilled at
 * NEW_SERIES_PER_MIN per minute) in a fixed table of RATE_SLOTS; ids whose hashes collide
 * share one bucket (it only gets stricter).
 */
static struct rate *agent_rate(struct slt_store *st, const char *id, size_t len)
{
    struct rate *r = &st->rates[fnv1a(id, len) % RATE_SLOTS];
    uint64_t now = uv_hrtime();

    if (!r->at_ns) {
        r->tokens = NEW_SERIES_BURST;
    } else {
        r->tokens += (double)(now - r->at_ns) / 60e9 * NEW_SERIES_PER_MIN;
        if (r->tokens > NEW_SERIES_BURST)
            r->tokens = NEW_SERIES_BURST;
    }
    r->at_ns = now;
    return r;
}

/*
 * KEYS[1] = slt:series; ARGV[1] = max_series, ARGV[2] = how many new members this agent may
 * still add, ARGV[3..] = members. Per member: 1 added, 0 already there, -1 refused (the set
 * holds max_series), -2 refused (the agent's allowance is used up).
 */
const char slt_store_series_script[] =
    "local max, left = tonumber(ARGV[1]), tonumber(ARGV[2])\n"
    "local n = redis.call('SCARD', KEYS[1])\n"
    "local out = {}\n"
    "for i = 3, #ARGV do\n"
    "  if redis.call('SISMEMBER', KEYS[1], ARGV[i]) == 1 then out[i - 2] = 0\n"
    "  elseif n >= max then out[i - 2] = -1\n"
    "  elseif left < 1 then out[i - 2] = -2\n"
    "  else redis.call('SADD', KEYS[1], ARGV[i]) n = n + 1 left = left - 1 out[i - 2] = 1 end\n"
    "end\n"
    "return out\n";

/* A registration of the new series of one batch, waiting for its answer. */
struct reg {
    struct slt_store *st;
    struct slt_apply *ap;
    struct rate *rate;
    struct node *node;
    int retried;
    size_t n;
    size_t idx[]; /* parts of ap being registered */
};

static int enqueue(struct slt_store *st, struct slt_apply_part *e);

/* Queues every part of ap; 0, or SLT_ENOMEM when nothing could be queued. */
static int enqueue_all(struct slt_store *st, struct slt_apply *ap)
{
    size_t i, j;

    ap->sent_ns = uv_hrtime();
    ap->pending = ap->nparts;
    for (i = 0; i < ap->nparts; i++) {
        if (enqueue(st, &ap->parts[i]) < 0) {
            if (i == 0) {
                ap->pending = 0;
                return SLT_ENOMEM;
            }
            /* entries before i are queued and keep pending above zero */
            for (j = i; j < ap->nparts; j++)
                entry_done(&ap->parts[j], SLT_ACK_RETRY, 0);
            return 0;
        }
    }
    return 0;
}

/* The batch cannot go on now: RETRY (the agent sends it again later). */
static void reg_retry(struct slt_apply *ap)
{
    ap->status = SLT_ACK_RETRY;
    ap->pending = 0;
    ap->done(ap);
}

static int reg_send(struct reg *rg, int eval);

static void on_reg_reply(redisAsyncContext *ac, void *r, void *priv)
{
    struct reg *rg = priv;
    struct slt_store *st = rg->st;
    struct slt_apply *ap = rg->ap;
    redisReply *reply = r;
    size_t i, full = 0, rated = 0;
    char m[SLT_STORE_MAX_NAME + 8];

    (void)ac;
    ap->reg_node = NULL;
    if (reply && reply->type == REDIS_REPLY_ERROR && !rg->retried &&
        strncmp(reply->str, "NOSCRIPT", 8) == 0 && !st->freeing) {
        rg->retried = 1;
        if (reg_send(rg, 1) == 0)
            return;
    }
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != rg->n) {
        if (reply && reply->type == REDIS_REPLY_ERROR) {
            st->stats->redis_errors++;
            if (st->cluster)
                want_refresh(st); /* MOVED: the series set's slot moved */
        }
        reg_retry(ap);
        slt_free(rg);
        return;
    }
    for (i = 0; i < rg->n; i++) {
        long long v =
            reply->element[i]->type == REDIS_REPLY_INTEGER ? reply->element[i]->integer : -3;
        size_t n = part_member(&ap->parts[rg->idx[i]], m, sizeof(m));

        if (v == 1 || v == 0)
            cache_put(st, m, n);
        if (v == 1 && rg->rate->tokens >= 1)
            rg->rate->tokens -= 1;
        full += v == -1;
        rated += v == -2 || v == -3;
    }
    slt_free(rg);
    if (full || rated) {
        uint64_t now = uv_hrtime();

        st->stats->series_refused[0] += full;
        st->stats->series_refused[1] += rated;
        if (now - st->series_logged_ns > 10000000000ull || !st->series_logged_ns) {
            st->series_logged_ns = now;
            slt_log(SLT_LOG_WARN, "ingest", "batch %llu of agent '%.*s' waits (RETRY): %s",
                    (unsigned long long)ap->seq, (int)ap->agent_len, ap->strs.p,
                    full ? "the series set is full (aggregator.max_series; docs/REDIS.md)"
                         : "the agent adds new series faster than allowed (docs/REDIS.md)");
        }
        reg_retry(ap);
        return;
    }
    if (enqueue_all(st, ap) < 0)
        reg_retry(ap);
}

static int reg_send(struct reg *rg, int eval)
{
    struct slt_store *st = rg->st;
    char(*m)[SLT_STORE_MAX_NAME + 8] = NULL;
    const char **argv;
    size_t *lens, i, argc = 6 + rg->n;
    char max[24], left[24];
    int rc = SLT_ENOMEM;

    if (!rg->node || !slt_rconn_up(&rg->node->ingest))
        return SLT_EREDIS;
    argv = slt_malloc(argc * sizeof(*argv));
    lens = slt_malloc(argc * sizeof(*lens));
    m = slt_malloc(rg->n * sizeof(*m));
    if (argv && lens && m) {
        argv[0] = eval ? "EVAL" : "EVALSHA";
        argv[1] = eval ? slt_store_series_script : st->series_sha;
        argv[2] = "1";
        argv[3] = KEY_SERIES;
        argv[4] = max;
        lens[4] = slt_fmt_u64(max, st->max_series);
        argv[5] = left;
        lens[5] = slt_fmt_u64(left, (uint64_t)rg->rate->tokens);
        for (i = 0; i < 4; i++)
            lens[i] = strlen(argv[i]);
        for (i = 0; i < rg->n; i++) {
            lens[6 + i] = part_member(&rg->ap->parts[rg->idx[i]], m[i], sizeof(m[i]));
            argv[6 + i] = m[i];
        }
        rc = slt_rconn_command(&rg->node->ingest, on_reg_reply, rg, (int)argc, argv, lens);
        if (rc == 0)
            rg->ap->reg_node = rg->node;
    }
    slt_free(argv);
    slt_free(lens);
    slt_free(m);
    return rc;
}

/*
 * Registers the series of ap that this aggregator has not seen in the last minute, then
 * queues the batch; or queues it now when there are none. 0 (done runs later), or
 * SLT_EREDIS / SLT_ENOMEM (done never runs: the caller answers RETRY).
 */
static int register_then_enqueue(struct slt_store *st, struct slt_apply *ap)
{
    char m[SLT_STORE_MAX_NAME + 8];
    struct reg *rg;
    size_t i, n = 0, slot;
    int rc;

    if (slt_mono_ns() - st->cache_born_ns > SERIES_CACHE_TTL_NS)
        cache_clear(st);
    for (i = 0; i < ap->nparts; i++)
        n += !cache_find(st, m, part_member(&ap->parts[i], m, sizeof(m)), &slot);
    if (n == 0)
        return enqueue_all(st, ap);
    rg = slt_calloc(1, sizeof(*rg) + n * sizeof(rg->idx[0]));
    if (!rg)
        return SLT_ENOMEM;
    rg->st = st;
    rg->ap = ap;
    rg->rate = agent_rate(st, ap->strs.p, ap->agent_len);
    rg->node = node_for_key(st, KEY_SERIES, sizeof(KEY_SERIES) - 1);
    for (i = 0; i < ap->nparts; i++)
        if (!cache_find(st, m, part_member(&ap->parts[i], m, sizeof(m)), &slot))
            rg->idx[rg->n++] = i;
    ap->sent_ns = uv_hrtime();
    rc = reg_send(rg, 0);
    if (rc < 0)
        slt_free(rg);
    return rc;
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
    return register_then_enqueue(st, ap);
}

/* ---- reads ---------------------------------------------------------------------------------- */

enum rcmd_type {
    RC_SUMS = 0, /* HMGET key g b e (SLI) or l u o (input): adds into sums[owner] */
    RC_MEMBER,   /* SISMEMBER slt:series member */
    RC_SERIES,   /* SMEMBERS slt:series */
    RC_CAS,      /* EVALSHA cas_script 1 key state ttl mode: cas[owner] */
    RC_LEASE,    /* EVALSHA lease_script 2 lease-key epoch-key op value epoch ttl: lease */
};

/* One command of a read: its key (and arguments) sit in op->buf at off. */
struct rcmd {
    struct slt_store_op *op;
    struct node *node; /* with asking: the node an ASK named */
    struct rcmd *park_next;
    uint32_t owner;
    uint8_t type;
    uint8_t kind;    /* RC_SUMS: SLT_SERIES_SLI or SLT_SERIES_INPUT */
    uint8_t retried; /* RC_CAS, RC_LEASE: sent again with EVAL after NOSCRIPT */
    uint8_t asking, redirects, parked;
    uint32_t off, len;
};

struct slt_store_op {
    struct slt_store_req *rq; /* NULL once answered, timed out or cancelled */
    struct slt_store *st;
    struct rcmd *cmds;
    size_t ncmds, capcmds;
    struct slt_buf buf; /* keys and arguments */
    size_t ncas;
    size_t max_keys;
    size_t pending; /* replies outstanding; the op is freed when it reaches 0 after sending */
    int sent;
    int status;
    uint64_t deadline_ns;
    struct slt_store_op *prev, *next; /* in st->ops_* while sent */
};

#define OP_BUF_MAX ((size_t)64 << 20)

static const char *const sums_fields[2][3] = {{"g", "b", "e"}, {"l", "u", "o"}};

static void series_free(struct slt_store_req *rq)
{
    size_t i;

    for (i = 0; i < rq->nseries; i++)
        slt_free(rq->series[i].name);
    slt_free(rq->series);
    rq->series = NULL;
    rq->nseries = 0;
}

static void op_free(struct slt_store_op *op)
{
    if (!op)
        return;
    slt_buf_release(&op->buf);
    slt_free(op->cmds);
    slt_free(op);
}

void slt_store_req_init(struct slt_store_req *rq)
{
    memset(rq, 0, sizeof(*rq));
}

void slt_store_req_release(struct slt_store_req *rq)
{
    if (rq->op && !rq->op->sent)
        op_free(rq->op);
    rq->op = NULL;
    slt_free(rq->sums);
    rq->sums = NULL;
    rq->nsums = 0;
    series_free(rq);
    slt_free(rq->cas);
    rq->cas = NULL;
    rq->ncas = 0;
    rq->nkeys = 0;
}

void slt_store_req_reset(struct slt_store_req *rq)
{
    void (*done)(struct slt_store_req *) = rq->done;
    void *data = rq->data;

    slt_store_req_release(rq);
    slt_store_req_init(rq);
    rq->done = done;
    rq->data = data;
}

static struct slt_store_op *req_op(struct slt_store_req *rq)
{
    if (!rq->op) {
        rq->op = slt_calloc(1, sizeof(*rq->op));
        if (!rq->op)
            return NULL;
        slt_buf_init(&rq->op->buf, OP_BUF_MAX);
    }
    return rq->op;
}

void slt_store_req_limit(struct slt_store_req *rq, size_t max_keys)
{
    struct slt_store_op *op = req_op(rq);

    if (op)
        op->max_keys = max_keys;
}

int slt_store_req_sums(struct slt_store_req *rq, size_t n)
{
    slt_free(rq->sums);
    rq->sums = slt_calloc(n ? n : 1, sizeof(*rq->sums));
    rq->nsums = rq->sums ? n : 0;
    return rq->sums ? 0 : SLT_ENOMEM;
}

/* Appends a command whose key (and arguments) are p[0..n). */
static int op_add(struct slt_store_req *rq, int type, int kind, uint32_t owner, const char *p,
                  size_t n)
{
    struct slt_store_op *op = req_op(rq);
    struct rcmd *c;
    int rc;

    if (!op)
        return SLT_ENOMEM;
    if (op->sent)
        return SLT_EINVAL;
    if (type == RC_SUMS && op->max_keys && rq->nkeys >= op->max_keys)
        return SLT_ELIMIT;
    if (op->ncmds == op->capcmds) {
        size_t cap = op->capcmds ? op->capcmds * 2 : 64;

        c = slt_realloc(op->cmds, cap * sizeof(*c));
        if (!c)
            return SLT_ENOMEM;
        op->cmds = c;
        op->capcmds = cap;
    }
    c = &op->cmds[op->ncmds];
    memset(c, 0, sizeof(*c));
    c->off = (uint32_t)op->buf.len;
    c->len = (uint32_t)n;
    rc = slt_buf_append(&op->buf, p, n);
    if (rc < 0)
        return rc;
    c->type = (uint8_t)type;
    c->kind = (uint8_t)kind;
    c->owner = owner;
    op->ncmds++;
    if (type == RC_SUMS)
        rq->nkeys++;
    return 0;
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
    plen = series_prefix(key, sizeof(key) - 32, kind, name, nlen);
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
        rc = op_add(rq, RC_SUMS, kind, (uint32_t)i, key, klen);
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
    plen = series_prefix(key, sizeof(key) - 4, kind, name, strlen(name));
    if (!plen)
        return SLT_ELIMIT;
    memcpy(key + plen, "tot", 3);
    return op_add(rq, RC_SUMS, kind, (uint32_t)i, key, plen + 3);
}

int slt_store_req_member(struct slt_store_req *rq, int kind, const char *name)
{
    char m[SLT_STORE_MAX_NAME + 4];
    size_t n = series_member(m, sizeof(m), kind, name, strlen(name));

    if (!n)
        return SLT_ELIMIT;
    return op_add(rq, RC_MEMBER, kind, 0, m, n);
}

int slt_store_req_series(struct slt_store_req *rq)
{
    return op_add(rq, RC_SERIES, 0, 0, KEY_SERIES, sizeof(KEY_SERIES) - 1);
}

int slt_store_req_cas(struct slt_store_req *rq, const char *fingerprint, const char *state,
                      int64_t ttl_s, int mode)
{
    static const char *const modes[] = {"cas", "refresh", "sync", "lease", "release"};
    struct slt_store_op *op = req_op(rq);
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
    if (op_add(rq, RC_CAS, 0, (uint32_t)op->ncas, args, (size_t)n + 1) < 0)
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
    return op_add(rq, RC_LEASE, 0, 0, args, (size_t)n + 1);
}

/* ---- reads in flight ---- */

static void op_unlink(struct slt_store *st, struct slt_store_op *op)
{
    if (op->prev)
        op->prev->next = op->next;
    else if (st->ops_head == op)
        st->ops_head = op->next;
    if (op->next)
        op->next->prev = op->prev;
    else if (st->ops_tail == op)
        st->ops_tail = op->prev;
    op->prev = op->next = NULL;
    st->nops--;
}

/* Answers the request (if it still waits) with status. */
static void op_answer(struct slt_store_op *op, int status)
{
    struct slt_store_req *rq = op->rq;

    if (!rq)
        return;
    op->rq = NULL;
    rq->op = NULL;
    rq->status = status;
    rq->done(rq);
}

/* One reply of op came back (or never will): answer when it was the last. */
static void op_reply_done(struct slt_store_op *op)
{
    struct slt_store *st = op->st;

    if (--op->pending > 0)
        return;
    op_unlink(st, op);
    op_answer(op, op->status);
    op_free(op);
}

static void op_fail(struct slt_store_op *op, int status)
{
    /* the first failure wins: unavailable over corrupt */
    if (!op->status)
        op->status = status;
}

static int parse_count(const redisReply *e, int64_t *out)
{
    char *end;
    long long v;

    if (e->type == REDIS_REPLY_NIL) {
        *out = 0;
        return 0;
    }
    if (e->type != REDIS_REPLY_STRING)
        return -1;
    errno = 0;
    v = strtoll(e->str, &end, 10);
    if (errno || end == e->str || *end)
        return -1;
    *out = v;
    return 0;
}

static int rcmd_send(struct slt_store *st, struct rcmd *c, int eval);
static void op_reply_done(struct slt_store_op *op);

/* Parks a read until the next tick (a node coming up, a slot that settles). */
static void rcmd_park(struct slt_store *st, struct rcmd *c)
{
    c->park_next = st->parked_reads;
    st->parked_reads = c;
}

/* Sends c, or parks it (a cluster node not up yet), or fails it. */
static void rcmd_go(struct slt_store *st, struct rcmd *c)
{
    int rc = rcmd_send(st, c, c->retried);

    if (rc == 0)
        return;
    if (rc == SLT_EREDIS && st->cluster && !st->freeing) {
        rcmd_park(st, c);
        return;
    }
    op_fail(c->op, rc == SLT_EREDIS ? SLT_EREDIS : rc);
    op_reply_done(c->op);
}

static void park_retry_reads(struct slt_store *st)
{
    struct rcmd *c = st->parked_reads, *next;

    st->parked_reads = NULL;
    for (; c; c = next) {
        next = c->park_next;
        c->park_next = NULL;
        if (!c->op->rq) {
            op_reply_done(c->op); /* answered (timed out) or cancelled meanwhile */
        } else if (++c->parked > PARK_TICKS_MAX) {
            op_fail(c->op, SLT_EREDIS);
            op_reply_done(c->op);
        } else {
            rcmd_go(st, c);
        }
    }
}

static void park_drop_reads(struct slt_store *st)
{
    struct rcmd *c = st->parked_reads, *next;

    st->parked_reads = NULL;
    for (; c; c = next) {
        next = c->park_next;
        op_fail(c->op, SLT_EREDIS);
        op_reply_done(c->op);
    }
}

/* MOVED, ASK, TRYAGAIN, CLUSTERDOWN, LOADING: as for applies (call_cluster_error). */
static int rcmd_cluster_error(struct slt_store *st, struct rcmd *c, const redisReply *reply)
{
    struct slt_cluster_redirect rd;

    if (!st->cluster)
        return 0;
    if (slt_cluster_parse_redirect(reply->str, reply->len, &rd) == 0) {
        struct node *from = c->asking ? c->node : node_for_key(st, c->op->buf.p + c->off, c->len);
        struct node *to =
            ++c->redirects <= REDIRECTS_MAX && from ? follow_redirect(st, from, &rd) : NULL;

        if (!to)
            return 0;
        c->asking = rd.kind == SLT_CLUSTER_ASK;
        c->node = to;
        rcmd_go(st, c);
        return 1;
    }
    if (cluster_wait_error(st, reply)) {
        c->asking = 0;
        rcmd_park(st, c);
        return 1;
    }
    return 0;
}

static void on_series_reply(struct slt_store_req *rq, const redisReply *reply)
{
    size_t i, n = 0;

    series_free(rq);
    rq->series = slt_calloc(reply->elements ? reply->elements : 1, sizeof(*rq->series));
    if (!rq->series) {
        op_fail(rq->op, SLT_ENOMEM);
        return;
    }
    for (i = 0; i < reply->elements; i++) {
        const redisReply *e = reply->element[i];
        struct slt_store_series *s = &rq->series[n];

        if (e->type != REDIS_REPLY_STRING || e->len < 3 || e->str[1] != ':' ||
            (e->str[0] != 's' && e->str[0] != 'i') || e->len - 2 >= SLT_STORE_MAX_NAME ||
            memchr(e->str + 2, '\0', e->len - 2))
            continue;
        s->name = slt_strndup(e->str + 2, e->len - 2);
        if (!s->name) {
            op_fail(rq->op, SLT_ENOMEM);
            break;
        }
        s->len = e->len - 2;
        s->kind = e->str[0] == 's' ? SLT_SERIES_SLI : SLT_SERIES_INPUT;
        n++;
    }
    rq->nseries = n;
}

static void on_read_reply(redisAsyncContext *ac, void *r, void *priv)
{
    struct rcmd *c = priv;
    struct slt_store_op *op = c->op;
    struct slt_store_req *rq = op->rq;
    redisReply *reply = r;
    size_t i;

    (void)ac;
    if (!reply) {
        /* a read is sent again elsewhere once the map says where; a compare-and-set is not
         * (it may have run: its caller sends the document, a duplicate beats a loss) */
        if (op->st->cluster && !op->st->freeing && rq && c->type != RC_CAS) {
            want_refresh(op->st);
            c->asking = 0;
            rcmd_park(op->st, c);
            return;
        }
        op_fail(op, SLT_EREDIS);
    } else if (reply->type == REDIS_REPLY_ERROR) {
        if ((c->type == RC_CAS || c->type == RC_LEASE) && !c->retried &&
            strncmp(reply->str, "NOSCRIPT", 8) == 0) {
            c->retried = 1;
            c->asking = 0;
            rcmd_go(op->st, c);
            return;
        }
        if (rq && rcmd_cluster_error(op->st, c, reply))
            return;
        op_fail(op, SLT_EREDIS);
    } else if (rq) {
        switch (c->type) {
        case RC_SUMS:
            if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3) {
                op_fail(op, SLT_ECORRUPT);
                break;
            }
            for (i = 0; i < 3; i++) {
                int64_t v;

                if (parse_count(reply->element[i], &v) < 0)
                    op_fail(op, SLT_ECORRUPT);
                else
                    rq->sums[c->owner][i] = slt_add_i64_sat(rq->sums[c->owner][i], v);
            }
            break;
        case RC_MEMBER:
            if (reply->type == REDIS_REPLY_INTEGER)
                rq->member = reply->integer == 1;
            break;
        case RC_SERIES:
            if (reply->type == REDIS_REPLY_ARRAY)
                on_series_reply(rq, reply);
            break;
        case RC_CAS:
            if (reply->type == REDIS_REPLY_INTEGER && c->owner < rq->ncas)
                rq->cas[c->owner] = reply->integer ? 1 : 0;
            break;
        case RC_LEASE:
            if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 3 &&
                reply->element[0]->type == REDIS_REPLY_INTEGER &&
                reply->element[1]->type == REDIS_REPLY_INTEGER &&
                reply->element[0]->integer >= SLT_LEASE_HELD &&
                reply->element[0]->integer <= SLT_LEASE_STALE) {
                redisReply *h = reply->element[2];

                rq->lease.answered = 1;
                rq->lease.result = (int)reply->element[0]->integer;
                rq->lease.epoch =
                    reply->element[1]->integer > 0 ? (uint64_t)reply->element[1]->integer : 0;
                snprintf(rq->lease.holder, sizeof(rq->lease.holder), "%.*s",
                         h->type == REDIS_REPLY_STRING ? (int)h->len : 0,
                         h->type == REDIS_REPLY_STRING ? h->str : "");
            } else {
                op_fail(op, SLT_ECORRUPT);
            }
            break;
        }
    }
    op_reply_done(op);
}

/* Sends one command of a read to the node owning its key. */
/* The node a read goes to: the one an ASK named, or the owner of its key. */
static struct node *rcmd_node(struct slt_store *st, const struct rcmd *c)
{
    const char *p = c->op->buf.p + c->off;

    if (c->asking)
        return c->node;
    if (c->type == RC_SUMS)
        return node_for_key(st, p, c->len);
    if (c->type == RC_CAS || c->type == RC_LEASE)
        return node_for_key(st, p, strlen(p));
    return node_for_key(st, KEY_SERIES, sizeof(KEY_SERIES) - 1);
}

static int rcmd_send(struct slt_store *st, struct rcmd *c, int eval)
{
    const char *p = c->op->buf.p + c->off;
    struct node *n = rcmd_node(st, c);

    if (!n || !slt_rconn_up(&n->query))
        return SLT_EREDIS;
    if (c->asking) {
        const char *asking[1] = {"ASKING"};
        size_t alen[1] = {6};

        if (slt_rconn_command(&n->query, NULL, NULL, 1, asking, alen) < 0)
            return SLT_EREDIS;
    }
    if (c->type == RC_SUMS) {
        /* HMGET in RESP, formatted here: hiredis' printf-based formatter costs more than
         * everything else a counts query does in the aggregator */
        static const char head[] = "*5\r\n$5\r\nHMGET\r\n$", sep[] = "\r\n$1\r\n";
        char cmd[SLT_STORE_MAX_NAME + 160], *q = cmd;
        size_t i;

        if (c->len > SLT_STORE_MAX_NAME + 64)
            return SLT_ELIMIT;
        memcpy(q, head, sizeof(head) - 1);
        q += sizeof(head) - 1;
        q += slt_fmt_u64(q, c->len);
        memcpy(q, "\r\n", 2);
        q += 2;
        memcpy(q, p, c->len);
        q += c->len;
        for (i = 0; i < 3; i++) {
            memcpy(q, sep, sizeof(sep) - 1);
            q += sizeof(sep) - 1;
            *q++ = sums_fields[c->kind == SLT_SERIES_SLI ? 0 : 1][i][0];
        }
        memcpy(q, "\r\n", 2);
        q += 2;
        return slt_rconn_formatted(&n->query, on_read_reply, c, cmd, (size_t)(q - cmd));
    }
    if (c->type == RC_MEMBER) {
        const char *argv[3] = {"SISMEMBER", KEY_SERIES, p};
        size_t lens[3] = {9, sizeof(KEY_SERIES) - 1, c->len};

        return slt_rconn_command(&n->query, on_read_reply, c, 3, argv, lens);
    }
    if (c->type == RC_SERIES) {
        const char *argv[2] = {"SMEMBERS", KEY_SERIES};
        size_t lens[2] = {8, sizeof(KEY_SERIES) - 1};

        return slt_rconn_command(&n->query, on_read_reply, c, 2, argv, lens);
    }
    if (c->type == RC_LEASE) {
        /* two keys, op, value, epoch, ttl separated by NULs */
        const char *argv[9] = {eval ? "EVAL" : "EVALSHA",
                               eval ? slt_store_lease_script : st->lease_sha, "2"};
        size_t lens[9], k;
        const char *s = p;

        for (k = 3; k < 9; k++) {
            argv[k] = s;
            s += strlen(s) + 1;
        }
        for (k = 0; k < 9; k++)
            lens[k] = strlen(argv[k]);
        return slt_rconn_command(&n->query, on_read_reply, c, 9, argv, lens);
    }
    {
        /* RC_CAS: key, state, ttl, mode separated by NULs */
        const char *argv[7] = {eval ? "EVAL" : "EVALSHA", eval ? slt_store_cas_script : st->cas_sha,
                               "1"};
        size_t lens[7], k;
        const char *s = p;

        for (k = 3; k < 7; k++) {
            argv[k] = s;
            s += strlen(s) + 1;
        }
        for (k = 0; k < 7; k++)
            lens[k] = strlen(argv[k]);
        return slt_rconn_command(&n->query, on_read_reply, c, 7, argv, lens);
    }
}

int slt_store_req_send(struct slt_store *st, struct slt_store_req *rq, int64_t timeout_ms)
{
    struct slt_store_op *op;
    size_t i;

    if (!rq->done)
        SLT_BUG("a store request without done()");
    if (!query_ready(st))
        return SLT_EREDIS;
    op = req_op(rq);
    if (!op)
        return SLT_ENOMEM;
    if (op->ncas) {
        slt_free(rq->cas);
        rq->cas = slt_malloc(op->ncas * sizeof(*rq->cas));
        if (!rq->cas)
            return SLT_ENOMEM;
        for (i = 0; i < op->ncas; i++)
            rq->cas[i] = -1;
        rq->ncas = op->ncas;
    }
    rq->status = 0;
    memset(&rq->lease, 0, sizeof(rq->lease));
    op->rq = rq;
    op->st = st;
    op->sent = 1;
    op->deadline_ns =
        uv_hrtime() + (uint64_t)(timeout_ms > 0 ? timeout_ms : st->timeout_ms) * 1000000u;
    /* linked first: a command that fails to go out is counted as one that failed */
    op->prev = st->ops_tail;
    if (st->ops_tail)
        st->ops_tail->next = op;
    else
        st->ops_head = op;
    st->ops_tail = op;
    st->nops++;
    /* one pending for the sending itself, so no reply can finish the op before we are done */
    op->pending = 1;
    for (i = 0; i < op->ncmds; i++) {
        op->cmds[i].op = op;
        op->pending++;
        rcmd_go(st, &op->cmds[i]); /* sent, parked for the tick, or failed (pending again) */
    }
    if (op->pending == 1 && op->status) {
        /* nothing went out: tell the caller now, done never runs */
        int rc = op->status;

        op_unlink(st, op);
        op->sent = 0;
        op->rq = NULL;
        op->status = 0;
        op->ncmds = 0; /* what was queued is gone; rq may be reset and used again */
        return rc;
    }
    if (op->pending == 1) {
        /* nothing to ask: answered on this loop iteration, never inside this call */
        op->deadline_ns = 0;
        st->ops_due = 1;
        arm_flush(st);
    } else {
        op->pending--;
    }
    return 0;
}

void slt_store_req_cancel(struct slt_store_req *rq)
{
    struct slt_store_op *op = rq->op;

    if (!op || !op->sent)
        return;
    op->rq = NULL;
    rq->op = NULL;
}

/* Answers the reads with nothing to ask. */
static void answer_due(struct slt_store *st)
{
    struct slt_store_op *op, *next;

    if (!st->ops_due)
        return;
    st->ops_due = 0;
    for (op = st->ops_head; op; op = next) {
        next = op->next;
        if (op->deadline_ns == 0 && op->pending == 1)
            op_reply_done(op);
    }
}

/* Answers the reads past their deadline (their late replies are ignored). */
static void check_deadlines(struct slt_store *st)
{
    uint64_t now = uv_hrtime();
    struct slt_store_op *op, *next;

    answer_due(st);
    for (op = st->ops_head; op; op = next) {
        next = op->next;
        if (!op->rq || op->deadline_ns == 0 || now < op->deadline_ns)
            continue;
        st->q_deadlines++;
        op_answer(op, SLT_ETIMEDOUT);
    }
}

/* At free: the connections are closed (every reply came back as NULL); answer what is left. */
static void abort_ops(struct slt_store *st)
{
    struct slt_store_op *op, *next;

    for (op = st->ops_head; op; op = next) {
        next = op->next;
        if (op->deadline_ns == 0 && op->pending == 1)
            op_reply_done(op);
        else
            op_answer(op, SLT_EREDIS);
    }
}

static void on_tick(uv_timer_t *t)
{
    struct slt_store *st = t->data;

    refresh_tick(st);
    park_retry_calls(st);
    park_retry_reads(st);
    check_deadlines(st);
}
