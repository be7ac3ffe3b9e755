/*
 * One live session per agent id, across every aggregator sharing the store (docs/REDIS.md,
 * "Sessions"). A session checks its agent id before its first batch of an epoch is applied:
 *
 *   slt_lease_new(loop, store, agent, instance, desc, cb, data, &l)
 *   before applying a batch of epoch E:
 *       r = slt_lease_check(l, E)   1: go ahead; 0: wait for cb; < 0: cannot ask (store down)
 *   cb(data, result, epoch, holder) once per check that returned 0:
 *       SLT_LEASE_HELD   checked: apply (and check again with slt_lease_check)
 *       SLT_LEASE_OTHER  another instance of the agent id holds it (holder describes it)
 *       SLT_LEASE_STALE  epoch stored for the agent id (> E): answer REJECTED, stale epoch
 *       -1               no answer (store down or slow)
 *     and, at any time, when a renewal finds the lease gone: SLT_LEASE_OTHER (another instance
 *     has it) or SLT_LEASE_TAKEN_OVER (a newer session of the same instance has it)
 *   slt_lease_close(l, cb, d)       at session close; releases a held lease; the lease's cb never
 *                                   runs again; cb(d) once its timer closed
 *
 * With an instance (the agent's HELLO `instance`) the lease is taken for 30 s and renewed
 * every 10 s while the session lives; a new session of the same instance takes it over (the
 * old one, a connection the aggregator has not seen die, is then closed at its next renewal).
 * Without one (older agents, tests) no lease is taken and the epoch is not checked, but such a
 * session is refused (SLT_LEASE_OTHER) while a session with an instance holds the agent id (it
 * cannot be that agent: agents that have an instance always send it), and it raises the
 * stored epoch, so an agent that has an instance moves above what such a session stored.
 */
#ifndef SLT_LEASE_H
#define SLT_LEASE_H

#include <stdint.h>

#include <uv.h>

#include "slt/common.h"
#include "store.h"

struct slt_lease;

#define SLT_LEASE_TAKEN_OVER 3 /* cb result besides enum slt_lease_result */

typedef void (*slt_lease_cb)(void *data, int result, uint64_t epoch, const char *holder);

int slt_lease_new(uv_loop_t *loop, struct slt_store *store, const char *agent,
                  struct slt_str instance, const char *desc, slt_lease_cb cb, void *data,
                  struct slt_lease **out);
int slt_lease_check(struct slt_lease *l, uint64_t epoch);
void slt_lease_close(struct slt_lease *l, slt_closed_cb on_closed, void *data);

#endif
