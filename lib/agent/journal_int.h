/*
 * The agent journal and its group commit (journal.c, journal_commit.c):
 * what the loop, the executor and the registry use of them. Not installed.
 */
#ifndef COG_AGENT_JOURNAL_INT_H
#define COG_AGENT_JOURNAL_INT_H

#include "agent_int.h"

/* ---- the agent journal (journal.c) ----
 *
 * Storage log "agent/<run key>" (run key "<plan>/<task>"), one record per
 * answer:
 *   {"a":attempt,"k":"llm","n":turn,"i":0,"h":"<request hash>","r":<response>}
 *   {"a":attempt,"k":"tool","n":turn,"i":call index,"h":"..","c":status,"r":<result>}
 *   {"a":attempt,"k":"handoff","n":turn,"i":..,"h":"..","c":status,"r":<result>}
 *   {"a":attempt,"k":"end","c":status}
 * Opening reads the log: when the last attempt recorded there has no "end"
 * record (a crash or a pending approval interrupted it), its records are
 * replayed and the run continues under that attempt's number (so tool call
 * ids stay the same); otherwise the run records under `attempt`.
 * The loop writes "end" when an attempt is over for good, except for a plan
 * task that succeeded: the plan never runs a succeeded task again (its
 * "succeeded" record in the plan journal says the attempt ended), and if a
 * crash loses that record, the re-run adopts the attempt and replays it to
 * the same answer, asking nothing twice.
 */
int agent_journal_open(agent_journal **out, cog_ctx *ctx, const char *run_key,
                       unsigned int attempt);
/* The attempt number the run uses (see above). */
unsigned int agent_journal_attempt(const agent_journal *j);
/* The recorded answer for (kind, turn, index) if the replayed attempt has
 * one with the same request hash: 0 with *response (a copy) and *status;
 * COG_ENOTFOUND when none (from then on nothing more is replayed: the run
 * has gone past what was recorded or took another way). */
int agent_journal_find(agent_journal *j, const char *kind, unsigned int turn,
                       unsigned int index, const char *hash, int *status,
                       cJSON **response);
/* Append a record (durable when this returns 0). Thread safe. */
int agent_journal_put(agent_journal *j, const char *kind, unsigned int turn,
                      unsigned int index, const char *hash, int status,
                      const cJSON *response);
/* Queue a record without waiting for it: durable once agent_journal_sync
 * returns 0 (the tool results of one answer share a commit). COG_ENOMEM.
 * Thread safe. */
int agent_journal_queue(agent_journal *j, const char *kind, unsigned int turn,
                        unsigned int index, const char *hash, int status,
                        const cJSON *response);
/* Wait until every record this journal queued is durable. COG_EIO when one
 * could not be written. NULL-safe. */
int agent_journal_sync(agent_journal *j);
/* Append the "end" record (durable when this returns 0). */
int agent_journal_end(agent_journal *j, int status);
/* Close: what is still queued is written first (failures logged). */
void agent_journal_close(agent_journal *j);
/* Close without waiting for the records still queued (they are written
 * with the next group commit, see agent_commit_detach): for a plan task
 * that succeeded, whose last record (the final answer) nothing acts on
 * before the plan's own "succeeded" record, which holds the result. */
void agent_journal_close_lazy(agent_journal *j);

/*
 * Writing goes through the context's group commit (journal_commit.c):
 * records queued by concurrent runs (any of their logs) are written in one
 * storage transaction by the first run that waits, the others wait for it,
 * as the plan journal does. Made by budget_init and freed by
 * budget_dispose, with the rest of the module state.
 */
int agent_commit_new(agent_commit **out);
void agent_commit_free(agent_commit *c);
/* What a journal learns of its records' fate (under the commit's lock):
 * the first failure, sticky. */
typedef struct agent_commit_waiter {
	int error;
	char message[512];
} agent_commit_waiter;
/* Queue record `text` (taken, freed even on failure) for `log` of
 * `storage`; *ticket is its number. COG_ENOMEM; past 256 queued records
 * the caller writes them all first (the queue stays bounded), so also the
 * errors of agent_commit_sync. */
int agent_commit_queue(agent_commit *c, cog_storage *storage, const char *log, char *text,
                       agent_commit_waiter *w, uint64_t *ticket);
/* Wait until every record up to `ticket` is written (writing them if no
 * one else is); then w's error, if any, with its message. */
int agent_commit_sync(agent_commit *c, uint64_t ticket, agent_commit_waiter *w);
/* Let go of w: its queued records stay queued (they belong to the commit
 * now) and are written by the next sync of any journal, by
 * agent_commit_flush, or when the context goes. */
void agent_commit_detach(agent_commit *c, agent_commit_waiter *w);
/* Write everything queued now. COG_EIO when a record could not be. */
int agent_commit_flush(agent_commit *c);
/* Hex BLAKE2b-128 of a JSON value's canonical text (33 bytes). */
void agent_journal_hash(const cJSON *value, char out[33]);

#endif
