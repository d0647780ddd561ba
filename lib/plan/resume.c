/*
 * Plans after the fact: continuing one from its journal (cog_plan_resume),
 * settling tasks a crash left uncertain (cog_plan_decide), reporting states
 * (cog_plan_task_status, cog_plan_status) and compacting the journal of a
 * finished plan into its snapshot (cog_plan_compact).
 *
 * A resume loads the last snapshot (definition and states) and replays the
 * records after it. A task whose last record is "started" was running when
 * the process died: if it is idempotent it simply runs again (its attempt
 * number keeps counting), otherwise nobody can tell whether its side effect
 * happened, so it becomes uncertain (journaled) until the host decides.
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

/* ---- resume ---- */

static int damaged(const char *plan_id, const char *what)
{
	return cog__error(COG_EIO, "cog_plan_resume: plan %s in the storage is damaged: %s",
		plan_id, what);
}

static int state_from_name(const char *name)
{
	for (int s = COG_TASK_PENDING; s <= COG_TASK_UNCERTAIN; s++)
		if (strcmp(cog_task_state_name(s), name) == 0)
			return s;
	return -1;
}

/* The states stored with the definition, task by task in the same order. */
static int load_states(cog_plan *plan, const cJSON *tasks)
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
			return damaged(plan->id, "a task has an unknown state");
		t->state = s;
		double attempts = cog_json_get_number(o, "attempts", 0);
		t->attempts = attempts >= 0 && attempts < 1e9 ? (unsigned int)attempts : 0;
		const cJSON *result = cJSON_GetObjectItemCaseSensitive(o, "result");
		if (result && !cJSON_IsNull(result) && !(t->result = cog_json_print(result)))
			return COG_ENOMEM;
		const char *error = cog_json_get_string(o, "error");
		if (error && !(t->error = cog__strdup(error)))
			return cog__oom("cog_plan_resume");
	}
	return COG_OK;
}

/* The last snapshot: *seq gets the record it is current up to. */
static int load_snapshot(cog_plan **out, cog_ctx *ctx, const char *plan_id,
                         const char *text, uint64_t *seq)
{
	cJSON *doc = NULL;
	if (cog_json_parse(&doc, text, "stored plan") || !cJSON_IsObject(doc)) {
		cJSON_Delete(doc);
		return damaged(plan_id, "it is not a JSON object");
	}
	cJSON *journal = cJSON_DetachItemFromObjectCaseSensitive(doc, "journal");
	double s = cog_json_get_number(journal, "seq", -1);
	cJSON_Delete(journal);
	if (s < 0) {
		cJSON_Delete(doc);
		return damaged(plan_id, "its snapshot names no journal position");
	}
	*seq = (uint64_t)s;
	char *definition = cog_json_print(doc);
	int rc = definition ? cog_plan_from_json(out, ctx, definition) : COG_ENOMEM;
	cog_free(definition);
	if (rc) {
		cJSON_Delete(doc);
		if (rc == COG_ENOMEM)
			return cog__oom("cog_plan_resume");
		char what[1024];
		snprintf(what, sizeof(what), "%s", cog_error_last());
		return damaged(plan_id, what);
	}
	if (strcmp((*out)->id, plan_id) != 0)
		rc = damaged(plan_id, "its document holds another plan");
	if (!rc)
		rc = load_states(*out, cJSON_GetObjectItemCaseSensitive(doc, "tasks"));
	if (rc == COG_ENOMEM)
		rc = cog__oom("cog_plan_resume");
	cJSON_Delete(doc);
	return rc;
}

static int replay_record(uint64_t seq, const char *record, size_t len, void *user_data)
{
	return plan_journal_apply(user_data, seq, record, len);
}

/* Tasks caught running: idempotent ones run again, the others become
 * uncertain, durably, before anyone can act on the plan. */
static int settle_interrupted(cog_plan *plan, cog_storage *st)
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
		return cog__oom("cog_plan_resume");
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

int cog_plan_resume(cog_plan **out, cog_ctx *ctx, const char *plan_id)
{
	static const char fn[] = "cog_plan_resume";
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
			"(cog_ctx_set_storage) to resume plan %s from", fn, plan_id);
	char *text = NULL;
	int rc = cog_storage_get(st, PLAN_COLLECTION, plan_id, &text);
	if (rc == COG_ENOTFOUND)
		return cog__error(COG_ENOTFOUND, "%s: no plan %s in the storage (no run of a "
			"plan with this id was journaled there)", fn, plan_id);
	if (rc)
		return cog__error_wrap(rc, "%s: reading plan %s", fn, plan_id);
	cog_plan *plan = NULL;
	uint64_t seq = 0;
	rc = load_snapshot(&plan, ctx, plan_id, text, &seq);
	cog_free(text);
	if (!rc) {
		char log[COG_PLAN_ID_MAX + 8];
		plan_journal_name(plan, log);
		rc = cog_storage_read(st, log, seq + 1, 0, replay_record, plan);
	}
	if (!rc)
		rc = settle_interrupted(plan, st);
	if (rc) {
		cog_plan_free(plan);
		return rc;
	}
	plan->journaled = true;
	*out = plan;
	return COG_OK;
}

/* ---- decisions ---- */

int cog_plan_decide(cog_plan *plan, const char *task_id, int decision)
{
	static const char fn[] = "cog_plan_decide";
	static const char *const names[] = { "retry", "skip", "fail" };
	COG_CHECK_ARG(plan, fn, "plan is NULL");
	COG_CHECK_ARG(task_id, fn, "task_id is NULL");
	if (plan->running)
		return cog__error(COG_EBUSY, "%s: plan %s is running", fn, plan->id);
	if (decision < COG_DECIDE_RETRY || decision > COG_DECIDE_FAIL)
		return cog__error(COG_EINVAL, "%s: decision %d is not COG_DECIDE_RETRY (0), "
			"COG_DECIDE_SKIP (1) or COG_DECIDE_FAIL (2)", fn, decision);
	uint32_t i = plan_find(plan, task_id);
	if (i == PLAN_NO_TASK)
		return cog__error(COG_ENOTFOUND, "%s: no task '%.128s' in plan %s", fn, task_id,
			plan->id);
	plan_task *t = &plan->tasks[i];
	if (t->state != COG_TASK_UNCERTAIN)
		return cog__error(COG_EINVAL, "%s: task '%s' of plan %s is %s, not uncertain; "
			"only uncertain tasks wait for a decision", fn, t->id, plan->id,
			cog_task_state_name(t->state));
	char record[COG_TASK_ID_MAX + 64];
	snprintf(record, sizeof(record), "{\"t\":\"%s\",\"s\":\"decided\",\"d\":\"%s\"}",
		t->id, names[decision]);
	if (plan->journaled) {
		/* The decision must outlive a crash like everything else. */
		cog_storage *st = cog_ctx_storage(plan->ctx);
		if (!st)
			return cog__error(COG_EUNAVAILABLE, "%s: plan %s is journaled but the "
				"context has no storage to journal the decision in", fn, plan->id);
		int rc = plan_journal_append_now(plan, st, record, 1);
		if (rc)
			return cog__error_wrap(rc, "%s: plan %s", fn, plan->id);
	}
	return plan_journal_apply(plan, 0, record, strlen(record));
}

/* ---- compaction ---- */

int cog_plan_compact(cog_plan *plan)
{
	static const char fn[] = "cog_plan_compact";
	COG_CHECK_ARG(plan, fn, "plan is NULL");
	if (plan->running)
		return cog__error(COG_EBUSY, "%s: plan %s is running", fn, plan->id);
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
	int rc = plan_journal_snapshot(plan, st, "{\"s\":\"compacted\"}", true);
	return rc ? cog__error_wrap(rc, "%s", fn) : COG_OK;
}
