/*
 * A new epoch: the spooled batches of the old one re-encoded into it (see slt__agent_new_epoch).
 */
#include "agent_internal.h"

#include <inttypes.h>
#include <string.h>

/* since of (kind, name) in the new epoch, assigned at the first re-encoded batch carrying it */
struct since_map {
    struct slt_agent *a;
    uint64_t *since; /* per agent series */
};

static uint64_t *since_slot(struct since_map *m, uint32_t kind, struct slt_str name)
{
    size_t i;

    for (i = 0; i < m->a->nseries; i++)
        if (m->a->series[i].kind == kind && slt_str_eq(name, m->a->series[i].name))
            return &m->since[i];
    return NULL;
}

/*
 * Re-encodes one batch (frame and state) of the old epoch as batch seq of epoch. The counts
 * are untouched; epoch, seq and every since change. 0 or a negative code.
 */
static int reencode(struct since_map *m, uint64_t epoch, uint64_t seq, const char *frame,
                    size_t flen, const char *state, size_t slen, struct slt_buf *of,
                    struct slt_buf *os)
{
    struct slt_proto_limits lim;
    struct slt_msg msg;
    struct slt_state st;
    char err[200];
    size_t i;
    int rc;

    slt_proto_limits_default(&lim);
    if (flen < 4)
        return SLT_ECORRUPT;
    if ((rc = slt_msg_decode(frame + 4, flen - 4, &lim, &msg, err, sizeof(err))) < 0)
        return rc;
    if (msg.type != SLT_MSG_BATCH) {
        slt_msg_release(&msg);
        return SLT_ECORRUPT;
    }
    msg.u.batch.epoch = epoch;
    msg.u.batch.seq = seq;
    for (i = 0; i < msg.u.batch.nseries; i++) {
        struct slt_series *se = &msg.u.batch.series[i];
        uint64_t *sl = since_slot(m, (uint32_t)se->kind, se->name);

        if (sl && !*sl)
            *sl = seq;
        se->since = sl ? *sl : seq;
    }
    rc = slt_msg_encode(&msg, of);
    slt_msg_release(&msg);
    if (rc < 0)
        return rc;
    if ((rc = slt_state_decode(state, slen, &st)) < 0)
        return rc;
    st.epoch = epoch;
    st.seq = seq;
    st.acked_seq = 0;
    for (i = 0; i < st.nseries; i++) {
        struct slt_str nm = slt_str_make(st.series[i].name, strlen(st.series[i].name));
        uint64_t *sl = since_slot(m, st.series[i].kind, nm);

        st.series[i].since = sl ? *sl : 0;
    }
    rc = slt_state_encode(&st, os);
    slt_state_release(&st);
    return rc;
}

/*
 * Starts a new epoch larger than both the current one and `above` (the aggregator accepts a
 * new epoch from its `since`) and copies the batches of the old epoch that are still spooled
 * into it, in order (all of them, or only the unacknowledged ones with unacked_only):
 *  - the aggregator lost batches we no longer have (unrecoverable GAP): its mark is below every
 *    spooled batch, so it holds none of them, and only the pruned ones are lost;
 *  - a larger epoch is stored for our id (REJECTED, stale epoch): what was acknowledged is
 *    stored, the rest was rejected and is sent again in the new epoch.
 */
void slt__agent_new_epoch(struct slt_agent *a, uint64_t above, int unacked_only, const char *why)
{
    uint64_t now = (uint64_t)slt_now_ms(), old = a->epoch, oldseq = a->seq, nep, seq = 0;
    struct since_map m;
    struct slt_buf fr, stb, nf, ns;
    size_t i, n = slt_spool_count(a->spool), copied = 0, lost = 0;
    struct slt_state last;
    int rc;

    nep = now > old ? now : old + 1;
    if (above >= nep)
        nep = above + 1;
    m.a = a;
    m.since = slt_calloc(a->nseries ? a->nseries : 1, sizeof(*m.since));
    slt_buf_init(&fr, SIZE_MAX);
    slt_buf_init(&stb, SIZE_MAX);
    slt_buf_init(&nf, (size_t)SLT_AGENT_MAX_FRAME + 4);
    slt_buf_init(&ns, SIZE_MAX);
    for (i = 0; i < n; i++) {
        struct slt_spool_rec *r = slt_spool_at(a->spool, i);

        if (r->epoch != old || !m.since || (unacked_only && r->acked))
            continue;
        fr.len = stb.len = nf.len = ns.len = 0;
        rc = slt_spool_read_frame(a->spool, i, &fr);
        if (rc == 0)
            rc = slt_spool_read_state(a->spool, i, &stb);
        if (rc == 0)
            rc = reencode(&m, nep, seq + 1, fr.p, fr.len, stb.p, stb.len, &nf, &ns);
        if (rc == 0)
            rc = slt_spool_append(a->spool, nep, seq + 1, slt_now_ms(), nf.p, nf.len, ns.p, ns.len);
        /* the append may have moved the index */
        r = slt_spool_at(a->spool, i);
        slt_spool_set_acked(a->spool, i, 1);
        if (rc < 0) {
            lost++;
            slt_log(SLT_LOG_ERROR, "agent", "cannot carry batch %" PRIu64 " into the new epoch: %s",
                    r->seq, slt_strerror(rc));
            continue;
        }
        seq++;
        copied++;
        if (slt_state_decode(ns.p, ns.len, &last) == 0) {
            slt_state_release(&a->last);
            a->last = last;
        }
    }
    if (a->has_pending && m.since) {
        /* closed but not spooled yet: it joins the new epoch too */
        nf.len = ns.len = 0;
        rc = reencode(&m, nep, seq + 1, a->pending_frame.p, a->pending_frame.len,
                      a->pending_state.p, a->pending_state.len, &nf, &ns);
        if (rc == 0) {
            a->pending_frame.len = a->pending_state.len = 0;
            slt_buf_append(&a->pending_frame, nf.p, nf.len);
            slt_buf_append(&a->pending_state, ns.p, ns.len);
            a->pending_seq = ++seq;
        } else {
            a->has_pending = 0;
            a->paused_pending = 0;
            lost++;
        }
    }
    a->abandoned += lost;
    a->given_up += lost;
    slt_log(SLT_LOG_ERROR, "agent",
            "%s: starting epoch %" PRIu64 " after %" PRIu64 ":%" PRIu64 "; %zu spooled batches "
            "carried over%s%s",
            why, nep, old, oldseq, copied,
            unacked_only ? "" : ", the counts of the batches no longer spooled are lost",
            lost ? " (and some could not be carried)" : "");
    a->epoch = nep;
    a->seq = seq;
    for (i = 0; i < a->nseries; i++)
        a->series[i].since = m.since ? m.since[i] : 0;
    if (!copied) {
        for (i = 0; i < a->last.nseries; i++)
            a->last.series[i].since = 0;
        a->last.seq = 0;
    }
    a->last.epoch = nep;
    slt_free(m.since);
    slt_buf_release(&fr);
    slt_buf_release(&stb);
    slt_buf_release(&nf);
    slt_buf_release(&ns);
    slt__agent_checkpoint(a);
    slt__agent_check_backpressure(a);
}
