/*
 * The agent's insides, shared by its pieces (agent.c says which piece does what; agent.h is
 * the contract, and keeps struct slt_agent for report.c and main.c). Nothing here is for other
 * modules.
 */
#ifndef SLT_AGENT_INTERNAL_H
#define SLT_AGENT_INTERNAL_H

#include "agent.h"

#include <stddef.h>
#include <stdint.h>

/* agent.c: small helpers, timers and signals, the status endpoint */
int slt__agent_read_token(const char *path, char **out);
void slt__agent_fatal(struct slt_agent *a, const char *what, int rc);
void slt__agent_update_pause(struct slt_agent *a);
void slt__agent_check_backpressure(struct slt_agent *a);
uint64_t slt__agent_tick_ms(const struct slt_agent *a);
void slt__agent_reload_status(struct slt_agent *a);

/* agent_inputs.c: series, inputs and their positions */
int slt__agent_build_series(struct slt_agent *a, const struct slt_config *cfg,
                            const struct slt_state *st);
size_t slt__agent_soft_max(const struct slt_agent *a);
int slt__agent_check_frame_room(const struct slt_agent *a);
void slt__agent_input_release(struct slt_agent_input *in);
int slt__agent_collect_positions(struct slt_agent *a, struct slt_state_input **out, size_t *nout);
void slt__agent_close_inputs(struct slt_agent *a, struct slt_agent_input *inputs, size_t n,
                             struct slt_config *cfg);
int slt__agent_make_inputs(struct slt_agent *a, struct slt_config *cfg, const struct slt_state *st,
                           struct slt_agent_input **out);
void slt__agent_check_paths(struct slt_agent *a, int warn);
void slt__agent_start_inputs(struct slt_agent *a, const struct slt_state *st);

/* agent_reload.c: renamed inputs, and a reload (SIGHUP) */
int slt__agent_restore_of(struct slt_agent *a, const struct slt_state *st, size_t i, int verbose,
                          const struct slt_state_input **out);
int slt__agent_check_renames(struct slt_agent *a);
void slt__agent_reload(struct slt_agent *a);

/* agent_batch.c: counting, and batches closed and spooled */
void slt__agent_on_line(void *data, struct slt_tail_file *file, const char *line, size_t len,
                        unsigned flags, uint64_t end_offset);
uint64_t slt__agent_compute_acked(struct slt_agent *a);
int slt__agent_close_batch(struct slt_agent *a);

/* agent_disk.c: state_dir (created, locked, its instance), the reserve, a full disk */
int slt__agent_mkdir_p(const char *path);
int slt__agent_is_disk_full(int rc);
void slt__agent_note_disk(struct slt_agent *a, int rc, const char *what);
void slt__agent_reserve_make(struct slt_agent *a);
void slt__agent_reserve_release(struct slt_agent *a);
void slt__agent_load_instance(struct slt_agent *a);
int slt__agent_lock_state_dir(const char *dir);

/* agent_ckpt.c: the checkpoint, spool upkeep, recovery at start */
int slt__agent_checkpoint(struct slt_agent *a);
void slt__agent_checkpoint_positions(struct slt_agent *a);
void slt__agent_maintain_spool(struct slt_agent *a);
int slt__agent_recover(struct slt_agent *a);

/* agent_epoch.c: a new epoch that carries the spooled batches over */
void slt__agent_new_epoch(struct slt_agent *a, uint64_t above, int unacked_only, const char *why);

#endif
