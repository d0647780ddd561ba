/*
 * Plans in the storage outside a run: reading one back to continue it
 * (cog_plan_resume) or to look at it (cog_plan_load), and storing one
 * without running it (cog_plan_save).
 *
 * Reading loads the last snapshot (definition and states) and replays the
 * records after it, in one storage transaction, so that a compaction or a
 * run's final snapshot cannot slip in between. A task whose last record
 * is "started" was running when the process died, or is running now in
 * another process: a resume settles it (if it is idempotent it simply
 * runs again, its attempt number counting on; otherwise nobody can tell
 * whether its side effect happened, so it becomes uncertain, journaled,
 * until the host decides), a load leaves it running. Settling in the same
 * transaction as the reading puts the "uncertain" records right after what
 * was read: if another process is still running the task, its own end
 * record comes later and wins on replay, and that process's lease keeps
 * this copy from running the plan (lease.c).
 */
#include <stdio.h>
#include <string.h>

#include "run_int.h"

static int damaged(const char *fn, const char *plan_id, const char *what)
{
	return cog__error(COG_EIO, "%s: plan %s in the storage is damaged: %s", fn, plan_id,
		what);
}

static int state_from_name(const char *name)
{
	for (int s = COG_TASK_PENDING; s <= COG_TASK_UNCERTAIN; s++)
		if (strcmp(cog_task_state_name(s), name) == 0)
			return s;
	return -1;
}

/* The states stored with the definition, task by task in the same order. */
static int load_states(cog_plan *plan, const cJSON *tasks, const char *fn)
{
	size_t k = 0;
	const cJSON *o;
	cJSON_ArrayForEach(o, tasks) {
		if (k >= plan->count)
			break;
		plan_task *t = &plan->tasks[k++];
		const char *state = cog_json_get_string(o, "state");
		int s = state ? state_from_name(state) : COG_TASK_PENDING;
		if (s < 0)
			return damaged(fn, plan->id, "a task has an unknown state");
		t->state = s;
		double attempts = cog_json_get_number(o, "attempts", 0);
		t->attempts = attempts >= 0 && attempts < 1e9 ? (unsigned int)attempts : 0;
		const cJSON *result = cJSON_GetObjectItemCaseSensitive(o, "result");
		if (result && !cJSON_IsNull(result) && !(t->result = cog_json_print(result)))
			return COG_ENOMEM;
		const char *error = cog_json_get_string(o, "error");
		if (error && !(t->error = cog__strdup(error)))
			return cog__oom(fn);
	}
	return COG_OK;
}

/* The last snapshot: *seq gets the record it is current up to. */
static int load_snapshot(cog_plan **out, cog_ctx *ctx, const char *plan_id,
                         const char *text, uint64_t *seq, const char *fn)
{
	cJSON *doc = NULL;
	if (cog_json_parse(&doc, text, "stored plan") || !cJSON_IsObject(doc)) {
		cJSON_Delete(doc);
		return damaged(fn, plan_id, "it is not a JSON object");
	}
	cJSON *journal = cJSON_DetachItemFromObjectCaseSensitive(doc, "journal");
	double s = cog_json_get_number(journal, "seq", -1);
	cJSON_Delete(journal);
	if (s < 0) {
		cJSON_Delete(doc);
		return damaged(fn, plan_id, "its snapshot names no journal position");
	}
	*seq = (uint64_t)s;
	char *definition = cog_json_print(doc);
	int rc = definition ? cog_plan_from_json(out, ctx, definition) : COG_ENOMEM;
	cog_free(definition);
	if (rc) {
		cJSON_Delete(doc);
		if (rc == COG_ENOMEM)
			return cog__oom(fn);
		char what[1024];
		snprintf(what, sizeof(what), "%s", cog_error_last());
		return damaged(fn, plan_id, what);
	}
	if (strcmp((*out)->id, plan_id) != 0)
		rc = damaged(fn, plan_id, "its document holds another plan");
	if (!rc)
		rc = load_states(*out, cJSON_GetObjectItemCaseSensitive(doc, "tasks"), fn);
	if (rc == COG_ENOMEM)
		rc = cog__oom(fn);
	cJSON_Delete(doc);
	return rc;
}

typedef struct replay {
	cog_plan *plan;
	uint64_t last_seq;
} replay;

static int replay_record(uint64_t seq, const char *record, size_t len, void *user_data)
{
	replay *rp = user_data;
	rp->last_seq = seq;
	return plan_journal_apply(rp->plan, seq, record, len);
}

/* Tasks caught running: idempotent ones run again, the others become
 * uncertain, durably, before anyone can act on the plan. */
static int settle_interrupted(cog_plan *plan, cog_storage *st, const char *fn)
{
	cog_buf records = COG_BUF_INIT;
	size_t count = 0;
	for (size_t i = 0; i < plan->count; i++) {
		plan_task *t = &plan->tasks[i];
		if (t->state != COG_TASK_RUNNING)
			continue;
		if (t->idempotent) {
			t->state = COG_TASK_PENDING;
			continue;
		}
		cog_buf_printf(&records, "{\"t\":\"%s\",\"s\":\"uncertain\",\"a\":%u}", t->id,
			t->attempts);
		cog_buf_putc(&records, '\0');
		count++;
	}
	if (records.failed)
		return cog__oom(fn);
	int rc = plan_journal_append_now(plan, st, records.ptr, count);
	const char *p = records.ptr;
	for (size_t k = 0; !rc && k < count; k++) {
		size_t len = strlen(p);
		rc = plan_journal_apply(plan, 0, p, len);
		p += len + 1;
	}
	cog_buf_dispose(&records);
	return rc;
}

/* Snapshot and journal, read in the transaction the caller holds; with
 * `settle`, interrupted tasks settled. */
static int read_plan(cog_plan **out, cog_ctx *ctx, cog_storage *st, const char *plan_id,
                     bool settle, const char *fn)
{
	char *text = NULL;
	int rc = cog_storage_get(st, PLAN_COLLECTION, plan_id, &text);
	if (rc == COG_ENOTFOUND)
		return cog__error(COG_ENOTFOUND, "%s: no plan %s in the storage (none with this "
			"id was run or saved there)", fn, plan_id);
	if (rc)
		return cog__error_wrap(rc, "%s: reading plan %s", fn, plan_id);
	cog_plan *plan = NULL;
	replay rp = { NULL, 0 };
	rc = load_snapshot(&plan, ctx, plan_id, text, &rp.last_seq, fn);
	cog_free(text);
	if (!rc) {
		char log[COG_PLAN_ID_MAX + 8];
		plan_journal_name(plan, log);
		rp.plan = plan;
		rc = cog_storage_read(st, log, rp.last_seq + 1, 0, replay_record, &rp);
	}
	if (!rc) {
		plan->journaled = true;
		plan->journal_seq = rp.last_seq;
		if (settle)
			rc = settle_interrupted(plan, st, fn);
	}
	if (rc) {
		cog_plan_free(plan);
		return rc;
	}
	*out = plan;
	return COG_OK;
}

static int read_stored(cog_plan **out, cog_ctx *ctx, const char *plan_id, bool settle,
                       const char *fn)
{
	COG_CHECK_ARG(out, fn, "out is NULL");
	*out = NULL;
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	COG_CHECK_ARG(plan_id, fn, "plan_id is NULL");
	if (strlen(plan_id) > COG_PLAN_ID_MAX || plan_check_task_id(plan_id, fn))
		return cog__error(COG_EINVAL, "%s: '%.80s' is not a plan id (1..%d bytes of "
			"[A-Za-z0-9_.:-])", fn, plan_id, COG_PLAN_ID_MAX);
	cog_storage *st = cog_ctx_storage(ctx);
	if (!st)
		return cog__error(COG_EUNAVAILABLE, "%s: the context has no storage "
			"(cog_ctx_set_storage) to read plan %s from", fn, plan_id);
	int rc = cog_storage_begin(st);
	if (rc)
		return cog__error_wrap(rc, "%s: plan %s", fn, plan_id);
	cog_plan *plan = NULL;
	rc = read_plan(&plan, ctx, st, plan_id, settle, fn);
	if (!rc && (rc = cog_storage_commit(st)))
		cog__error_wrap(rc, "%s: plan %s", fn, plan_id);
	if (rc) {
		cog_storage_rollback(st); /* keeps the message */
		cog_plan_free(plan);
		return rc;
	}
	*out = plan;
	return COG_OK;
}

int cog_plan_resume(cog_plan **out, cog_ctx *ctx, const char *plan_id)
{
	return read_stored(out, ctx, plan_id, true, "cog_plan_resume");
}

int cog_plan_load(cog_plan **out, cog_ctx *ctx, const char *plan_id)
{
	int rc = read_stored(out, ctx, plan_id, false, "cog_plan_load");
	if (!rc)
		(*out)->view_only = true;
	return rc;
}

/* ---- saving ---- */

int cog_plan_save(cog_plan *plan)
{
	static const char fn[] = "cog_plan_save";
	COG_CHECK_ARG(plan, fn, "plan is NULL");
	if (plan->running)
		return cog__error(COG_EBUSY, "%s: plan %s is running", fn, plan->id);
	if (plan->view_only)
		return cog__error(COG_EDENIED, "%s: plan %s was read with cog_plan_load(), to look "
			"at; read it with cog_plan_resume() to change it", fn, plan->id);
	cog_storage *st = cog_ctx_storage(plan->ctx);
	if (!st)
		return cog__error(COG_EUNAVAILABLE, "%s: the context has no storage "
			"(cog_ctx_set_storage) to save plan %s in", fn, plan->id);
	int rc = plan_prepare(plan);
	if (rc)
		return rc;
	bool was_journaled = plan->journaled;
	uint64_t was_seq = plan->journal_seq;
	if ((rc = cog_storage_begin(st)))
		return cog__error_wrap(rc, "%s: plan %s", fn, plan->id);
	/* A journaled plan goes on from its journal; a fresh one must not
	 * replace another plan stored under its id. Either way, not while
	 * another process runs it. */
	rc = plan_lease_acquire(plan->ctx, st, plan->id, NULL, fn);
	if (!rc)
		rc = plan->journaled ? plan_check_current(plan, st, fn) :
			plan_check_fresh(plan, st, fn);
	bool checked = rc != COG_OK;
	if (!rc)
		rc = plan_journal_snapshot_in(plan, st, "{\"s\":\"saved\"}", false);
	if (!rc)
		rc = cog_storage_commit(st);
	if (rc) {
		if (!checked)
			cog__error_wrap(rc, "%s: plan %s", fn, plan->id);
		cog_storage_rollback(st);
		plan->journaled = was_journaled;
		plan->journal_seq = was_seq;
	}
	return rc;
}
