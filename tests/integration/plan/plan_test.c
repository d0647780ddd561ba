/* Helpers shared by the plan integration tests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "plan_test.h"

cog_ctx *ctx_with_sqlite(const char *path, bool full, cog_event_fn events, void *ud)
{
	cog_ctx_options o = COG_CTX_OPTIONS_INIT;
	o.event_fn = events;
	o.event_user_data = ud;
	o.worker_threads = 4;
	cog_ctx *ctx = NULL;
	ck_assert_cog(cog_ctx_new(&ctx, &o));
	if (path) {
		cog_sqlite_options so = COG_SQLITE_OPTIONS_INIT;
		so.durability = full ? COG_SQLITE_DURABLE_FULL : COG_SQLITE_DURABLE_NORMAL;
		cog_storage *st = NULL;
		ck_assert_cog(cog_sqlite_storage_open(&st, path, &so));
		ck_assert_cog(cog_ctx_set_storage(ctx, st));
	}
	return ctx;
}

cJSON *task_status(cog_plan *plan, const char *task_id)
{
	char *json = NULL;
	ck_assert_cog(cog_plan_task_status(plan, task_id, &json));
	cJSON *o = cJSON_Parse(json);
	ck_assert_msg(o != NULL, "task status is not JSON: %s", json);
	cog_free(json);
	return o;
}

cJSON *plan_status(cog_plan *plan)
{
	char *json = NULL;
	ck_assert_cog(cog_plan_status(plan, &json));
	cJSON *o = cJSON_Parse(json);
	ck_assert_msg(o != NULL, "plan status is not JSON: %s", json);
	cog_free(json);
	return o;
}

const char *task_state(cog_plan *plan, const char *task_id)
{
	static char state[32];
	cJSON *o = task_status(plan, task_id);
	snprintf(state, sizeof(state), "%s",
		cJSON_GetStringValue(cJSON_GetObjectItem(o, "state")));
	cJSON_Delete(o);
	return state;
}

int task_attempts(cog_plan *plan, const char *task_id)
{
	cJSON *o = task_status(plan, task_id);
	int n = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "attempts"));
	cJSON_Delete(o);
	return n;
}

char *task_result(cog_plan *plan, const char *task_id)
{
	cJSON *o = task_status(plan, task_id);
	char *text = cJSON_PrintUnformatted(cJSON_GetObjectItem(o, "result"));
	cJSON_Delete(o);
	return text;
}

char *task_error(cog_plan *plan, const char *task_id)
{
	cJSON *o = task_status(plan, task_id);
	const char *e = cJSON_GetStringValue(cJSON_GetObjectItem(o, "error"));
	char *text = e ? strdup(e) : NULL;
	cJSON_Delete(o);
	return text;
}

struct collect {
	char *text;
	size_t len;
	size_t count;
};

static int collect_record(uint64_t seq, const char *record, size_t len, void *ud)
{
	(void)seq;
	struct collect *c = ud;
	c->text = realloc(c->text, c->len + len + 2);
	ck_assert_ptr_nonnull(c->text);
	c->text[c->len++] = c->count++ ? ',' : '[';
	memcpy(c->text + c->len, record, len);
	c->len += len;
	c->text[c->len] = '\0';
	return 0;
}

char *log_records(cog_storage *st, const char *log, size_t *count)
{
	struct collect c = { NULL, 0, 0 };
	ck_assert_cog(cog_storage_read(st, log, 0, 0, collect_record, &c));
	if (!c.text)
		c.text = strdup("[");
	size_t len = strlen(c.text);
	c.text = realloc(c.text, len + 2);
	strcpy(c.text + len, "]");
	if (count)
		*count = c.count;
	return c.text;
}

unsigned long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

void plan_test_setup(void)
{
	tmp_dir_make("cogplan");
}

void plan_test_teardown(void)
{
	tmp_dir_remove();
}

cog_plan *plan_from(cog_ctx *ctx, const char *json)
{
	cog_plan *plan = NULL;
	int rc = cog_plan_from_json(&plan, ctx, json);
	ck_assert_msg(rc == 0, "cog_plan_from_json: %d %s", rc, cog_error_last());
	return plan;
}
