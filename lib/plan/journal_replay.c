/*
 * Replaying the write-ahead journal of a plan (format: run_int.h): one
 * record at a time onto the tasks' states, as resume.c reads them after
 * the snapshot.
 */
#include <string.h>

#include "run_int.h"

static int set_text(char **dst, const char *text)
{
	char *copy = NULL;
	if (text && !(copy = cog__strdup(text)))
		return cog__oom("plan journal replay");
	cog_free(*dst);
	*dst = copy;
	return COG_OK;
}

/* "r" of a record: the task's result from now on (null: none). Absent
 * (a record of an older version): the result stays. */
static int apply_result(plan_task *t, const cJSON *rec)
{
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(rec, "r");
	if (!r)
		return COG_OK;
	char *text = cJSON_IsNull(r) ? NULL : cog_json_print(r);
	if (!cJSON_IsNull(r) && !text)
		return COG_ENOMEM;
	cog_free(t->result);
	t->result = text;
	return COG_OK;
}

static int apply_end(plan_task *t, const cJSON *rec, int state)
{
	t->state = state;
	t->error_code = (int)cog_json_get_number(rec, "c", t->error_code);
	int rc = state != COG_TASK_SKIPPED ? apply_result(t, rec) : COG_OK;
	const char *e = cog_json_get_string(rec, "e");
	return !rc && e ? set_text(&t->error, e) : rc;
}

/* A retried or skipped task may run, or count as done, after all: what
 * was skipped behind it is pending again. (A dependant that another
 * failure still blocks is skipped again by the next run.) */
static int reopen_dependants(cog_plan *plan, uint32_t from)
{
	if (plan_prepare(plan) != COG_OK) {
		cog_error_clear(); /* the next run re-derives the states anyway */
		return COG_OK;
	}
	size_t n = plan->count;
	uint32_t *stack = cog_malloc((n ? n : 1) * sizeof(*stack));
	bool *seen = cog__calloc(n ? n : 1, sizeof(*seen));
	if (!stack || !seen) {
		cog_free(stack);
		cog_free(seen);
		return COG_ENOMEM;
	}
	size_t top = 0;
	stack[top++] = from;
	seen[from] = true;
	int rc = COG_OK;
	while (top && !rc) {
		uint32_t v = stack[--top];
		for (uint32_t k = plan->dependents_start[v]; k < plan->dependents_start[v + 1]; k++) {
			uint32_t d = plan->dependents[k];
			if (seen[d])
				continue;
			seen[d] = true;
			stack[top++] = d;
			plan_task *t = &plan->tasks[d];
			if (t->state == COG_TASK_SKIPPED) {
				t->state = COG_TASK_PENDING;
				t->error_code = 0;
				rc = set_text(&t->error, NULL);
			}
		}
	}
	cog_free(stack);
	cog_free(seen);
	return rc;
}

static int apply_decision(cog_plan *plan, uint32_t i, const char *d)
{
	plan_task *t = &plan->tasks[i];
	if (strcmp(d, "retry") == 0 || strcmp(d, "skip") == 0) {
		int rc = reopen_dependants(plan, i);
		t->error_code = 0;
		if (d[0] == 'r') {
			/* Its attempts keep counting: the next one has a new number,
			 * and so a new idempotency key. */
			t->state = COG_TASK_PENDING;
		} else {
			t->state = COG_TASK_SUCCEEDED;
			set_text(&t->result, NULL);
		}
		return rc ? rc : set_text(&t->error, NULL);
	}
	if (t->state == COG_TASK_FAILED)
		return COG_OK; /* stays failed, with its own error */
	t->state = COG_TASK_FAILED;
	t->error_code = COG_EUNCERTAIN;
	return set_text(&t->error, "uncertain after a crash; the host decided it failed");
}

static int apply_record(cog_plan *plan, const cJSON *rec)
{
	const char *s = cog_json_get_string(rec, "s");
	const char *id = cog_json_get_string(rec, "t");
	if (!s)
		return COG_EIO;
	if (!id)
		return COG_OK; /* snapshot markers */
	uint32_t i = plan_find(plan, id);
	if (i == PLAN_NO_TASK)
		return COG_OK; /* replaced by a re-plan since */
	plan_task *t = &plan->tasks[i];
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(rec, "a");
	if (cJSON_IsNumber(a) && a->valuedouble >= 0 && a->valuedouble < 1e9)
		t->attempts = (unsigned int)a->valuedouble;
	if (strcmp(s, "started") == 0) {
		t->state = COG_TASK_RUNNING;
		return COG_OK;
	}
	if (strcmp(s, "succeeded") == 0) {
		const cJSON *r = cJSON_GetObjectItemCaseSensitive(rec, "r");
		char *text = r && !cJSON_IsNull(r) ? cog_json_print(r) : NULL;
		if (r && !cJSON_IsNull(r) && !text)
			return COG_ENOMEM;
		cog_free(t->result);
		t->result = text;
		t->state = COG_TASK_SUCCEEDED;
		return set_text(&t->error, NULL);
	}
	if (strcmp(s, "failed") == 0)
		return apply_end(t, rec, COG_TASK_FAILED);
	if (strcmp(s, "retrying") == 0)
		return apply_end(t, rec, COG_TASK_PENDING);
	if (strcmp(s, "skipped") == 0)
		return apply_end(t, rec, COG_TASK_SKIPPED);
	if (strcmp(s, "uncertain") == 0) {
		t->state = COG_TASK_UNCERTAIN;
		t->error_code = COG_EUNCERTAIN;
		return set_text(&t->error, "was running when the process stopped and is not "
			"idempotent: its side effects may or may not have happened");
	}
	if (strcmp(s, "decided") == 0) {
		const char *d = cog_json_get_string(rec, "d");
		return d ? apply_decision(plan, i, d) : COG_EIO;
	}
	return COG_OK; /* a later version's record: nothing to do here */
}

int plan_journal_apply(cog_plan *plan, uint64_t seq, const char *record, size_t len)
{
	cog__json_init();
	cJSON *rec = cJSON_ParseWithLength(record, len);
	int rc = cJSON_IsObject(rec) ? apply_record(plan, rec) : COG_EIO;
	cJSON_Delete(rec);
	if (rc == COG_EIO)
		return cog__error(COG_EIO, "plan %s: journal record %llu is damaged: %.80s",
			plan->id, (unsigned long long)seq, record);
	if (rc)
		return cog__oom("plan journal replay");
	return COG_OK;
}
