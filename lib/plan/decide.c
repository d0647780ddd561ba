/*
 * Plans after the fact: reporting states (cog_plan_task_status,
 * cog_plan_status), settling tasks a crash left uncertain or that failed
 * (cog_plan_decide), and compacting the journal of a finished plan into
 * its snapshot (cog_plan_compact).
 *
 * A decision and a compaction write to the plan's journal outside a run:
 * they refuse while another process runs the plan, and when this copy is
 * behind the journal (lease.c), so that neither acts on states that are no
 * longer true.
 */
#include <stdio.h>
#include <string.h>

#include "run_int.h"

const char *plan_overall_state(const cog_plan *plan)
{
	if (plan->running)
		return "running";
	bool failed = false, uncertain = false, all_succeeded = true;
	for (size_t i = 0; i < plan->count; i++) {
		switch (plan->tasks[i].state) {
		case COG_TASK_READY:
		case COG_TASK_RUNNING:
			return "running";
		case COG_TASK_SUCCEEDED:
			break;
		case COG_TASK_FAILED:
			failed = true;
			all_succeeded = false;
			break;
		case COG_TASK_UNCERTAIN:
			uncertain = true;
			all_succeeded = false;
			break;
		default:
			all_succeeded = false;
		}
	}
	return failed ? "failed" : uncertain ? "uncertain" :
		all_succeeded ? "succeeded" : "pending";
}

/* ---- status ---- */

static void put_task_status(cog_buf *b, const plan_task *t)
{
	cog_buf_puts(b, "{\"id\":");
	cog_buf_put_json_string(b, t->id, strlen(t->id));
	cog_buf_printf(b, ",\"state\":\"%s\",\"attempts\":%u,\"result\":",
		cog_task_state_name(t->state), t->attempts);
	cog_buf_puts(b, t->result ? t->result : "null");
	cog_buf_puts(b, ",\"error\":");
	if (t->error)
		cog_buf_put_json_string(b, t->error, strlen(t->error));
	else
		cog_buf_puts(b, "null");
	cog_buf_putc(b, '}');
}

static int detach_json(cog_buf *b, char **json, const char *fn)
{
	*json = cog_buf_detach(b);
	return *json ? COG_OK : cog__oom(fn);
}

int cog_plan_task_status(cog_plan *plan, const char *task_id, char **json)
{
	static const char fn[] = "cog_plan_task_status";
	COG_CHECK_ARG(json, fn, "json is NULL");
	*json = NULL;
	COG_CHECK_ARG(plan, fn, "plan is NULL");
	COG_CHECK_ARG(task_id, fn, "task_id is NULL");
	uint32_t i = plan_find(plan, task_id);
	if (i == PLAN_NO_TASK)
		return cog__error(COG_ENOTFOUND, "%s: no task '%.128s' in plan %s", fn, task_id,
			plan->id);
	cog_buf b = COG_BUF_INIT;
	put_task_status(&b, &plan->tasks[i]);
	return detach_json(&b, json, fn);
}

int cog_plan_status(cog_plan *plan, char **json)
{
	static const char fn[] = "cog_plan_status";
	COG_CHECK_ARG(json, fn, "json is NULL");
	*json = NULL;
	COG_CHECK_ARG(plan, fn, "plan is NULL");
	cog_buf b = COG_BUF_INIT;
	cog_buf_puts(&b, "{\"id\":");
	cog_buf_put_json_string(&b, plan->id, strlen(plan->id));
	cog_buf_puts(&b, ",\"goal\":");
	cog_buf_put_json_string(&b, plan->goal, strlen(plan->goal));
	cog_buf_printf(&b, ",\"state\":\"%s\",\"tasks\":[", plan_overall_state(plan));
	for (size_t i = 0; i < plan->count; i++) {
		if (i)
			cog_buf_putc(&b, ',');
		put_task_status(&b, &plan->tasks[i]);
	}
	cog_buf_puts(&b, "]}");
	return detach_json(&b, json, fn);
}

/* ---- decisions ---- */

/* Append one record to a journaled plan's journal, if nobody else runs
 * the plan and this copy is current. */
static int journal_outside_run(cog_plan *plan, const char *record, const char *fn)
{
	cog_storage *st = cog_ctx_storage(plan->ctx);
	if (!st)
		return cog__error(COG_EUNAVAILABLE, "%s: plan %s is journaled but the context has "
			"no storage to journal the decision in", fn, plan->id);
	int rc = cog_storage_begin(st);
	if (rc)
		return cog__error_wrap(rc, "%s: plan %s", fn, plan->id);
	bool guarded = (rc = plan_guard_write(plan, st, fn)) != COG_OK;
	if (!rc)
		rc = plan_journal_append_now(plan, st, record, 1);
	if (!rc)
		rc = cog_storage_commit(st);
	if (rc) {
		if (!guarded) /* the guard's messages say it all */
			cog__error_wrap(rc, "%s: plan %s", fn, plan->id);
		cog_storage_rollback(st);
	}
	return rc;
}

int cog_plan_decide(cog_plan *plan, const char *task_id, int decision)
{
	static const char fn[] = "cog_plan_decide";
	static const char *const names[] = { "retry", "skip", "fail" };
	COG_CHECK_ARG(plan, fn, "plan is NULL");
	COG_CHECK_ARG(task_id, fn, "task_id is NULL");
	if (plan->running)
		return cog__error(COG_EBUSY, "%s: plan %s is running", fn, plan->id);
	if (plan->view_only)
		return cog__error(COG_EDENIED, "%s: plan %s was read with cog_plan_load(), to look "
			"at; read it with cog_plan_resume() to decide", fn, plan->id);
	if (decision < COG_DECIDE_RETRY || decision > COG_DECIDE_FAIL)
		return cog__error(COG_EINVAL, "%s: decision %d is not COG_DECIDE_RETRY (0), "
			"COG_DECIDE_SKIP (1) or COG_DECIDE_FAIL (2)", fn, decision);
	uint32_t i = plan_find(plan, task_id);
	if (i == PLAN_NO_TASK)
		return cog__error(COG_ENOTFOUND, "%s: no task '%.128s' in plan %s", fn, task_id,
			plan->id);
	plan_task *t = &plan->tasks[i];
	if (t->state != COG_TASK_UNCERTAIN && t->state != COG_TASK_FAILED)
		return cog__error(COG_EINVAL, "%s: task '%s' of plan %s is %s; only uncertain and "
			"failed tasks wait for a decision", fn, t->id, plan->id,
			cog_task_state_name(t->state));
	char record[COG_TASK_ID_MAX + 64];
	snprintf(record, sizeof(record), "{\"t\":\"%s\",\"s\":\"decided\",\"d\":\"%s\"}",
		t->id, names[decision]);
	/* The decision must outlive a crash like everything else. */
	int rc = plan->journaled ? journal_outside_run(plan, record, fn) : COG_OK;
	return rc ? rc : plan_journal_apply(plan, 0, record, strlen(record));
}

/* ---- compaction ---- */

/* The logs a finished plan no longer needs besides its journal: the spans
 * of its runs ("trace/<plan>", trace.h) and its agent tasks' journals
 * ("agent/<plan>/<task>", agent.h: replayed only for an unfinished attempt).
 * A backend without truncation keeps them (it keeps the journal too). */
static int drop_side_logs(const cog_plan *plan, cog_storage *st)
{
	char log[COG_PLAN_ID_MAX + COG_TASK_ID_MAX + 16];
	snprintf(log, sizeof(log), "trace/%s", plan->id);
	int rc = cog_storage_truncate(st, log, UINT64_MAX);
	for (size_t i = 0; !rc && i < plan->count; i++) {
		const plan_task *t = &plan->tasks[i];
		if (!t->kind || strcmp(t->kind, "llm") != 0)
			continue;
		/* The agent journal's name (lib/agent/journal.c): "agent/<key>",
		 * or "agent/#<BLAKE2b-128 hex of the key>" past the name limit. */
		char key[COG_PLAN_ID_MAX + COG_TASK_ID_MAX + 2];
		snprintf(key, sizeof(key), "%s/%s", plan->id, t->id);
		if (6 + strlen(key) <= COG_STORAGE_NAME_MAX) {
			snprintf(log, sizeof(log), "agent/%s", key);
		} else {
			uint8_t h[16];
			char hex[33];
			if (cog_hash_blake2b(h, sizeof(h), key, strlen(key), NULL, 0))
				return COG_ERROR;
			cog_hex_encode(h, sizeof(h), hex);
			snprintf(log, sizeof(log), "agent/#%s", hex);
		}
		rc = cog_storage_truncate(st, log, UINT64_MAX);
	}
	return rc == COG_EINVAL ? COG_OK : rc;
}

int cog_plan_compact(cog_plan *plan)
{
	static const char fn[] = "cog_plan_compact";
	COG_CHECK_ARG(plan, fn, "plan is NULL");
	if (plan->running)
		return cog__error(COG_EBUSY, "%s: plan %s is running", fn, plan->id);
	if (plan->view_only)
		return cog__error(COG_EDENIED, "%s: plan %s was read with cog_plan_load(), to look "
			"at; read it with cog_plan_resume() to compact it", fn, plan->id);
	for (size_t i = 0; i < plan->count; i++) {
		const plan_task *t = &plan->tasks[i];
		if (t->state == COG_TASK_PENDING || t->state == COG_TASK_READY ||
		    t->state == COG_TASK_RUNNING)
			return cog__error(COG_EBUSY, "%s: plan %s has not finished: task '%s' is %s",
				fn, plan->id, t->id, cog_task_state_name(t->state));
	}
	cog_storage *st = cog_ctx_storage(plan->ctx);
	if (!st)
		return cog__error(COG_EUNAVAILABLE, "%s: the context has no storage", fn);
	if (!plan->journaled)
		return cog__error(COG_EINVAL, "%s: plan %s has no journal to compact (it was not "
			"run with storage)", fn, plan->id);
	uint64_t was_seq = plan->journal_seq;
	int rc = cog_storage_begin(st);
	if (rc)
		return cog__error_wrap(rc, "%s: plan %s", fn, plan->id);
	bool guarded = (rc = plan_guard_write(plan, st, fn)) != COG_OK;
	if (!rc)
		rc = plan_journal_snapshot_in(plan, st, "{\"s\":\"compacted\"}", true);
	if (!rc)
		rc = drop_side_logs(plan, st);
	if (!rc)
		rc = cog_storage_commit(st);
	if (rc) {
		if (!guarded)
			cog__error_wrap(rc, "%s: plan %s: snapshot", fn, plan->id);
		cog_storage_rollback(st);
		plan->journal_seq = was_seq;
	}
	return rc;
}
