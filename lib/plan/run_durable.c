/*
 * The start and the end of a durable run (cog_plan_run with storage): the
 * transaction that takes the plan's lease, checks the journal and writes
 * the first snapshot, the one that flushes the journal, stores the final
 * states and drops the lease, and dropping the lease alone when a run
 * cannot end that way. The run as a whole: run.c.
 */
#include <stdio.h>

#include "run_int.h"

/*
 * Before a durable run, in one transaction: nobody else may be running the
 * plan (then the lease is ours), a fresh plan must not take over the
 * journal of another with its id (that plan's side effects would be
 * forgotten), a journaled one must be current (a copy read before another
 * process ran the plan would run its tasks again), and, with `snapshot`,
 * the plan's definition and states as they are go in as its snapshot. The
 * scheduler's first derivation of the states may skip tasks: its records
 * follow the snapshot, and a replay comes to the same states.
 */
int run_start_durable(cog_plan *plan, cog_storage *st, bool snapshot,
                      char token[PLAN_LEASE_TOKEN_SIZE], const char *fn)
{
	uint64_t was_seq = plan->journal_seq;
	bool was_journaled = plan->journaled;
	int rc = cog_storage_begin(st);
	if (rc)
		return cog__error_wrap(rc, "%s: plan %s", fn, plan->id);
	rc = plan_lease_acquire(plan->ctx, st, plan->id, token, fn);
	if (!rc)
		rc = plan->journaled ? plan_check_current(plan, st, fn) :
			plan_check_fresh(plan, st, fn);
	bool checked = rc != COG_OK;
	if (!rc && snapshot)
		rc = plan_journal_snapshot_in(plan, st, "{\"s\":\"snapshot\"}", false);
	if (!rc)
		rc = cog_storage_commit(st);
	if (rc) {
		if (!checked)
			cog__error_wrap(rc, "%s: plan %s: writing the journal", fn, plan->id);
		cog_storage_rollback(st); /* keeps the message */
		plan->journal_seq = was_seq;
		plan->journaled = was_journaled;
	}
	return rc;
}

/* Drop this process's lease, on its own: after a run that could not end
 * in run_end_durable(). Best effort: the storage failed already. */
void run_release_lease(cog_plan *plan, cog_storage *st,
                       const char token[PLAN_LEASE_TOKEN_SIZE])
{
	char message[1024];
	snprintf(message, sizeof(message), "%s", cog_error_last());
	int code = cog_error_last_code();
	if (cog_storage_begin(st) == COG_OK) {
		if (plan_lease_release(st, plan->id, token) != COG_OK ||
		    cog_storage_commit(st) != COG_OK)
			cog_storage_rollback(st);
	}
	if (code)
		cog__error(code, "%s", message);
}

/*
 * A durable run ends in one transaction: the records still queued, the
 * final states as the plan's document (so that listing plans needs no
 * replay; the journal stays), and the lease dropped. No snapshot when the
 * journal failed (it alone tells what happened then) or when records
 * follow the run's own: another process wrote to it since. (Records of
 * others between the run's own can only be a resume's "uncertain" for a
 * task this run was running, which its own end record supersedes.)
 */
void run_end_durable(plan_run *r)
{
	cog_plan *plan = r->plan;
	cog_storage *st = r->storage;
	uint64_t was_seq = plan->journal_seq;
	bool flush = !r->error_code;
	int rc = cog_storage_begin(st);
	if (!rc && flush && !(rc = plan_journal_flush_in(r->journal))) {
		uint64_t seq = plan_journal_last_seq(r->journal);
		if (seq > plan->journal_seq)
			plan->journal_seq = seq;
		rc = plan_check_current(plan, st, "cog_plan_run");
		if (rc == COG_EBUSY) {
			rc = COG_OK;
		} else if (!rc) {
			plan->running = false; /* the document says how it ended */
			rc = plan_journal_put_state(plan, st);
			plan->running = true;
		}
	}
	if (!rc)
		rc = plan_lease_release(st, plan->id, r->lease_token);
	if (!rc)
		rc = cog_storage_commit(st);
	if (rc) {
		cog_storage_rollback(st);
		plan->journal_seq = was_seq;
		if (flush)
			run_fail(r, rc, "writing the journal");
		run_release_lease(plan, st, r->lease_token);
	}
	r->ended = true;
}
