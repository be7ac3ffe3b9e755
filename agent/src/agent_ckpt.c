/*
 * The checkpoint file (state of the newest spooled batch, or the live positions when nothing is
 * counted), spool upkeep, and recovery at start from the checkpoint and the spool.
 */
#include "agent_internal.h"

#include <inttypes.h>
#include <string.h>

#define CKPT_EVERY_MS 5000
#define RESERVE_RETRY_MS 2000

/* ---- checkpoint ---- */

int slt__agent_checkpoint(struct slt_agent *a)
{
    struct slt_buf b;
    int rc;

    a->last.epoch = a->epoch;
    a->last.acked_seq = slt__agent_compute_acked(a);
    if (a->last.seq > a->seq)
        a->last.seq = a->seq;
    slt_buf_init(&b, SIZE_MAX);
    rc = slt_state_encode(&a->last, &b);
    if (rc == 0)
        rc = slt_ckpt_write(a->state_dir, b.p, b.len);
    slt_buf_release(&b);
    if (rc < 0) {
        if (!slt__agent_is_disk_full(rc) || !a->disk_full)
            slt_log(SLT_LOG_ERROR, "agent", "cannot write checkpoint in '%s': %s", a->state_dir,
                    slt_strerror(rc));
        slt__agent_note_disk(a, rc, "checkpoint");
        return rc;
    }
    a->ckpt_acked = a->last.acked_seq;
    a->last_ckpt_ms = slt_now_ms();
    return 0;
}

static int pos_equal(const struct slt_tail_pos *x, const struct slt_tail_pos *y)
{
    return x->dev == y->dev && x->ino == y->ino && x->fingerprint == y->fingerprint &&
           x->fp_len == y->fp_len && x->offset == y->offset && x->flags == y->flags &&
           strcmp(x->path, y->path) == 0;
}

static int inputs_equal(const struct slt_state_input *v, size_t n, const struct slt_state *st)
{
    size_t i, k;

    if (n != st->ninputs)
        return 0;
    for (i = 0; i < n; i++) {
        const struct slt_state_input *o = slt_state_input(st, v[i].name);

        if (!o || o->npos != v[i].npos)
            return 0;
        for (k = 0; k < o->npos; k++)
            if (!pos_equal(&o->pos[k], &v[i].pos[k]))
                return 0;
    }
    return 1;
}

/*
 * Positions can move without a line being counted: a file found at its end (read_from: end),
 * a rotation, a truncation. With nothing counted and nothing waiting to be spooled, the live
 * positions are exactly after the last counted line, so they are checkpointed; otherwise lines
 * written before the first batch of a fresh agent would be skipped after a crash.
 */
void slt__agent_checkpoint_positions(struct slt_agent *a)
{
    struct slt_state_input *v = NULL;
    size_t n = 0, i;

    if (slt_count_len(&a->count) || a->has_pending || a->paused_close || a->stopped)
        return;
    if (slt__agent_collect_positions(a, &v, &n) < 0)
        return;
    if (inputs_equal(v, n, &a->last)) {
        for (i = 0; i < n; i++) {
            slt_free(v[i].name);
            slt_free(v[i].pos);
        }
        slt_free(v);
        return;
    }
    for (i = 0; i < a->last.ninputs; i++) {
        slt_free(a->last.inputs[i].name);
        slt_free(a->last.inputs[i].pos);
    }
    slt_free(a->last.inputs);
    a->last.inputs = v;
    a->last.ninputs = n;
    slt__agent_checkpoint(a);
}

/* The spool's newest record is the checkpoint; the file matters when that record goes. */
void slt__agent_maintain_spool(struct slt_agent *a)
{
    int64_t now = slt_now_ms();
    int64_t retention = a->cfg->agent.spool_retention_s * 1000;

    /* on a full disk, the resend window after acknowledgement is a luxury */
    unsigned flags = a->disk_full ? SLT_SPOOL_PRUNE_EARLY : 0;
    int rc;

    if (slt_spool_prunable(a->spool, now, retention, flags) > 0) {
        rc = slt__agent_checkpoint(a);
        if (rc < 0 && slt__agent_is_disk_full(rc) && a->reserve_held) {
            slt_log(SLT_LOG_WARN, "agent", "giving back the space reserved in '%s/reserve'",
                    a->state_dir);
            slt__agent_reserve_release(a);
            rc = slt__agent_checkpoint(a);
        }
        /* without a checkpoint the newest record is the state: its segment stays */
        slt_spool_prune(a->spool, now, retention, flags | (rc < 0 ? SLT_SPOOL_PRUNE_KEEP_LAST : 0));
    } else if (now - a->last_ckpt_ms >= CKPT_EVERY_MS &&
               slt__agent_compute_acked(a) != a->ckpt_acked) {
        slt__agent_checkpoint(a);
    }
    slt__agent_check_backpressure(a);
    if (!a->reserve_held && !a->disk_full && now - a->reserve_try_ms >= RESERVE_RETRY_MS)
        slt__agent_reserve_make(a);
}

/* ---- recovery ---- */

static int state_newer(const struct slt_state *x, const struct slt_state *y)
{
    return x->epoch > y->epoch || (x->epoch == y->epoch && x->seq > y->seq);
}

int slt__agent_recover(struct slt_agent *a)
{
    struct slt_buf b;
    struct slt_state ck, sp;
    int have_ck = 0, have_sp = 0, from_prev = 0, rc;
    size_t i, n;

    memset(&ck, 0, sizeof(ck));
    memset(&sp, 0, sizeof(sp));
    slt_buf_init(&b, SIZE_MAX);
    rc = slt_ckpt_read(a->state_dir, &b, &from_prev);
    if (rc == 0) {
        if (slt_state_decode(b.p, b.len, &ck) == 0)
            have_ck = 1;
        else
            slt_log(SLT_LOG_ERROR, "agent", "checkpoint in '%s' does not decode; ignoring it",
                    a->state_dir);
    } else if (rc != SLT_ENOTFOUND) {
        slt_log(SLT_LOG_ERROR, "agent", "no usable checkpoint in '%s' (%s); using the spool",
                a->state_dir, slt_strerror(rc));
    }
    n = slt_spool_count(a->spool);
    while (n > 0) {
        /* the newest record whose state decodes (all of them do unless the format changed) */
        b.len = 0;
        if (slt_spool_read_state(a->spool, n - 1, &b) == 0 &&
            slt_state_decode(b.p, b.len, &sp) == 0) {
            have_sp = 1;
            break;
        }
        slt_log(SLT_LOG_ERROR, "agent", "spooled batch %" PRIu64 " has an unreadable state",
                slt_spool_at(a->spool, n - 1)->seq);
        n--;
    }
    slt_buf_release(&b);
    if (have_sp && (!have_ck || state_newer(&sp, &ck))) {
        if (have_ck && ck.epoch == sp.epoch)
            sp.acked_seq = ck.acked_seq;
        else if (have_ck)
            sp.acked_seq = 0;
        slt_state_release(&ck);
        a->last = sp;
    } else if (have_ck) {
        slt_state_release(&sp);
        a->last = ck;
    } else {
        memset(&a->last, 0, sizeof(a->last));
        a->last.epoch = (uint64_t)slt_now_ms();
        slt_log(SLT_LOG_INFO, "agent", "new state in '%s': epoch %" PRIu64, a->state_dir,
                a->last.epoch);
    }
    a->epoch = a->last.epoch;
    a->seq = a->last.seq;
    n = slt_spool_count(a->spool);
    for (i = 0; i < n; i++) {
        struct slt_spool_rec *r = slt_spool_at(a->spool, i);

        if (r->epoch < a->epoch || (r->epoch == a->epoch && r->seq <= a->last.acked_seq))
            slt_spool_set_acked(a->spool, i, 1);
        if (r->epoch == a->epoch && r->seq > a->seq)
            a->seq = r->seq; /* cannot happen: the newest record is the state */
        if (r->acked && r->epoch == a->epoch && r->seq > a->last_acked_seq)
            a->last_acked_seq = r->seq;
    }
    if (a->last.acked_seq > a->last_acked_seq)
        a->last_acked_seq = a->last.acked_seq;
    if (have_ck || have_sp)
        slt_log(SLT_LOG_INFO, "agent",
                "resuming epoch %" PRIu64 " after batch %" PRIu64 " (%zu spooled, %" PRIu64
                " to resend)%s",
                a->epoch, a->seq, slt_spool_count(a->spool), a->spool->unacked,
                from_prev ? " from the previous checkpoint" : "");
    /* persist the epoch from the first start on */
    if (!have_ck)
        return slt__agent_checkpoint(a);
    a->ckpt_acked = a->last.acked_seq;
    return 0;
}
