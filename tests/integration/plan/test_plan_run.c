/*
 * cog_plan_run: dependencies under parallel workers, retries with backoff,
 * timeouts, failure policies, cancellation, events, re-planning, and when
 * small plans move from the calling thread to the pool, in memory and on
 * real SQLite files. Public API only.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plan_test.h"

static cog_run_options run_opts(unsigned int workers, unsigned int inline_max, int policy)
{
	cog_run_options o;
	ck_assert_cog(cog_run_options_init(&o, COG_RUN_OPTIONS_VERSION));
	o.workers = workers;
	o.inline_max_tasks = inline_max;
	o.failure_policy = policy;
	return o;
}

/* ---- dependencies under parallel workers ---- */

#define DAG_TASKS 300

typedef struct timing {
	atomic_ullong start[DAG_TASKS];
	atomic_ullong finish[DAG_TASKS];
	atomic_int running;
	atomic_int max_running;
	atomic_int calls;
} timing;

static int timed_executor(cog_task_call *call, void *ud)
{
	timing *tm = ud;
	int i = atoi(cog_task_call_task_id(call) + 1);
	atomic_store(&tm->start[i], now_ns());
	int now = atomic_fetch_add(&tm->running, 1) + 1;
	int max = atomic_load(&tm->max_running);
	while (now > max && !atomic_compare_exchange_weak(&tm->max_running, &max, now))
		;
	usleep((useconds_t)((i * 37) % 400));
	atomic_fetch_sub(&tm->running, 1);
	atomic_fetch_add(&tm->calls, 1);
	char result[32];
	snprintf(result, sizeof(result), "{\"i\":%d}", i);
	ck_assert_int_eq(cog_task_call_set_result(call, result), 0);
	atomic_store(&tm->finish[i], now_ns());
	return 0;
}

/* A random DAG: task i depends on up to 3 earlier tasks. */
static char *random_dag(const char *id, int n, unsigned int seed)
{
	size_t cap = (size_t)n * 96 + 128, len = 0;
	char *json = malloc(cap);
	len += (size_t)snprintf(json, cap, "{\"id\":\"%s\",\"tasks\":[", id);
	for (int i = 0; i < n; i++) {
		len += (size_t)snprintf(json + len, cap - len, "%s{\"id\":\"t%d\",\"depends_on\":[",
			i ? "," : "", i);
		int deps = i ? (int)(rand_r(&seed) % 4) : 0, used[3] = { -1, -1, -1 };
		for (int k = 0; k < deps; k++) {
			int d = (int)(rand_r(&seed) % (unsigned int)i);
			if (d == used[0] || d == used[1] || d == used[2])
				continue;
			used[k] = d;
			len += (size_t)snprintf(json + len, cap - len, "%s\"t%d\"",
				json[len - 1] == '[' ? "" : ",", d);
		}
		len += (size_t)snprintf(json + len, cap - len, "]}");
	}
	snprintf(json + len, cap - len, "]}");
	return json;
}

static void check_dependencies(cog_plan *plan, timing *tm, int n)
{
	cJSON *status = plan_status(plan);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(status, "state")), "succeeded");
	cJSON_Delete(status);
	char *def = NULL;
	ck_assert_cog(cog_plan_export(plan, COG_PLAN_FORMAT_JSON, &def));
	cJSON *root = cJSON_Parse(def);
	cog_free(def);
	cJSON *t;
	cJSON_ArrayForEach(t, cJSON_GetObjectItem(root, "tasks")) {
		int i = atoi(cJSON_GetStringValue(cJSON_GetObjectItem(t, "id")) + 1);
		ck_assert_uint_ne(atomic_load(&tm->start[i]), 0);
		cJSON *d;
		cJSON_ArrayForEach(d, cJSON_GetObjectItem(t, "depends_on")) {
			int j = atoi(cJSON_GetStringValue(d) + 1);
			ck_assert_msg(atomic_load(&tm->start[i]) >= atomic_load(&tm->finish[j]),
				"t%d started before its dependency t%d finished", i, j);
		}
	}
	cJSON_Delete(root);
	ck_assert_int_eq(atomic_load(&tm->calls), n);
}

static void run_dag(const char *db, unsigned int workers)
{
	cog_ctx *ctx = ctx_with_sqlite(db, false, NULL, NULL);
	timing *tm = calloc(1, sizeof(*tm));
	ck_assert_cog(cog_ctx_set_task_executor(ctx, timed_executor, tm));
	char *json = random_dag("dag", DAG_TASKS, 7);
	cog_plan *plan = plan_from(ctx, json);
	free(json);
	cog_run_options o = run_opts(workers, 0, COG_FAIL_FAST);
	ck_assert_cog(cog_plan_run(plan, &o));
	check_dependencies(plan, tm, DAG_TASKS);
	if (workers > 1)
		ck_assert_int_gt(atomic_load(&tm->max_running), 1);
	else
		ck_assert_int_eq(atomic_load(&tm->max_running), 1);
	cog_plan_free(plan);
	free(tm);
	cog_ctx_free(ctx);
}

START_TEST(deps_parallel_memory)
{
	run_dag(NULL, 8);
}
END_TEST

START_TEST(deps_parallel_sqlite)
{
	run_dag(tmp_file("dag.db"), 8);
}
END_TEST

START_TEST(deps_one_worker)
{
	run_dag(NULL, 1);
}
END_TEST

/* Results of dependencies reach the dependants; the task JSON and the
 * idempotency key are there when asked for. */
static int echo_executor(cog_task_call *call, void *ud)
{
	(void)ud;
	const char *id = cog_task_call_task_id(call);
	if (strcmp(id, "c") == 0) {
		ck_assert_str_eq(cog_task_call_dependency_result(call, "a"), "{\"v\":\"a\"}");
		ck_assert_str_eq(cog_task_call_dependency_result(call, "b"), "null");
		ck_assert_ptr_null(cog_task_call_dependency_result(call, "c"));
		ck_assert_ptr_null(cog_task_call_dependency_result(call, "zzz"));
		const char *task = cog_task_call_task(call);
		ck_assert_ptr_nonnull(strstr(task, "\"inputs\":{\"q\":1}"));
		char key[256];
		snprintf(key, sizeof(key), "%s/c/1", cog_task_call_plan_id(call));
		ck_assert_str_eq(cog_task_call_idempotency_key(call), key);
		ck_assert_uint_eq(cog_task_call_attempt(call), 1);
		ck_assert_int_eq(cog_task_call_is_canceled(call), 0);
		ck_assert_int_eq(cog_task_call_set_result(call, "{bad"), COG_EINVAL);
	}
	if (strcmp(id, "a") == 0)
		ck_assert_cog(cog_task_call_set_result(call, "{\"v\":\"a\"}"));
	return 0;
}

START_TEST(call_accessors)
{
	cog_ctx *ctx = ctx_with_sqlite(NULL, false, NULL, NULL);
	ck_assert_cog(cog_ctx_set_task_executor(ctx, echo_executor, NULL));
	cog_plan *plan = plan_from(ctx, "{\"tasks\":[{\"id\":\"a\"},{\"id\":\"b\"},"
		"{\"id\":\"c\",\"inputs\":{\"q\":1},\"depends_on\":[\"a\",\"b\"]}]}");
	ck_assert_cog(cog_plan_run(plan, NULL));
	char *r = task_result(plan, "a");
	ck_assert_str_eq(r, "{\"v\":\"a\"}");
	free(r);
	cog_plan_free(plan);
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(bad_arguments)
{
	cog_ctx *ctx = ctx_with_sqlite(NULL, false, NULL, NULL);
	cog_plan *plan = plan_from(ctx, "{\"tasks\":[{\"id\":\"a\"}]}");
	ck_assert_int_eq(cog_plan_run(NULL, NULL), COG_EINVAL);
	/* nothing to do needs no executor */
	cog_plan *empty = plan_from(ctx, "{\"tasks\":[]}");
	ck_assert_cog(cog_plan_run(empty, NULL));
	cog_plan_free(empty);
	/* no executor: a host task fails saying what it needs */
	ck_assert_int_eq(cog_plan_run(plan, NULL), COG_ERROR);
	char *error = task_error(plan, "a");
	ck_assert_ptr_nonnull(strstr(error, "cog_ctx_set_task_executor"));
	free(error);
	cog_run_options o = COG_RUN_OPTIONS_INIT;
	o.version = 99;
	ck_assert_int_eq(cog_plan_run(plan, &o), COG_EVERSION);
	ck_assert_int_eq(cog_run_options_init(&o, 0), COG_EVERSION);
	ck_assert_cog(cog_run_options_init(&o, 1));
	o.failure_policy = 7;
	ck_assert_int_eq(cog_plan_run(plan, &o), COG_EINVAL);
	o.failure_policy = 0;
	o.durability = COG_DURABLE_ON;
	ck_assert_int_eq(cog_plan_run(plan, &o), COG_EUNAVAILABLE);
	/* a cycle: the validation's error */
	cog_plan *cyc = plan_from(ctx, "{\"tasks\":[{\"id\":\"a\",\"depends_on\":[\"b\"]},"
		"{\"id\":\"b\",\"depends_on\":[\"a\"]}]}");
	ck_assert_int_eq(cog_plan_run(cyc, NULL), COG_ECYCLE);
	cog_plan_free(cyc);
	cog_plan_free(plan);
	cog_ctx_free(ctx);
}
END_TEST

/* ---- retries ---- */

typedef struct events {
	pthread_mutex_t lock;
	char *types[256];
	cJSON *data[256];
	int count;
} events;

static void collect_event(const char *event, void *ud)
{
	events *ev = ud;
	cJSON *o = cJSON_Parse(event);
	ck_assert_ptr_nonnull(o);
	pthread_mutex_lock(&ev->lock);
	if (ev->count < 256) {
		ev->types[ev->count] = strdup(cJSON_GetStringValue(cJSON_GetObjectItem(o, "type")));
		ev->data[ev->count] = cJSON_DetachItemFromObject(o, "data");
		ev->count++;
	}
	pthread_mutex_unlock(&ev->lock);
	cJSON_Delete(o);
}

static void events_init(events *ev)
{
	memset(ev, 0, sizeof(*ev));
	pthread_mutex_init(&ev->lock, NULL);
}

static void events_dispose(events *ev)
{
	for (int i = 0; i < ev->count; i++) {
		free(ev->types[i]);
		cJSON_Delete(ev->data[i]);
	}
	pthread_mutex_destroy(&ev->lock);
}

static int count_type(const events *ev, const char *type)
{
	int n = 0;
	for (int i = 0; i < ev->count; i++)
		n += strcmp(ev->types[i], type) == 0;
	return n;
}

static int flaky_executor(cog_task_call *call, void *ud)
{
	atomic_int *calls = ud;
	atomic_fetch_add(calls, 1);
	if (cog_task_call_attempt(call) < 3)
		return cog_error_set(COG_EIO, "flaky: attempt %u failed",
			cog_task_call_attempt(call));
	return cog_task_call_set_result(call, "\"third time\"");
}

START_TEST(retries_with_backoff)
{
	events ev;
	events_init(&ev);
	cog_ctx *ctx = ctx_with_sqlite(NULL, false, collect_event, &ev);
	atomic_int calls = 0;
	ck_assert_cog(cog_ctx_set_task_executor(ctx, flaky_executor, &calls));
	cog_plan *plan = plan_from(ctx, "{\"tasks\":[{\"id\":\"f\",\"retry\":{"
		"\"max_attempts\":3,\"backoff_ms\":20,\"max_backoff_ms\":40}}]}");
	unsigned long long t0 = now_ns();
	ck_assert_cog(cog_plan_run(plan, NULL));
	unsigned long long took_ms = (now_ns() - t0) / 1000000ull;
	ck_assert_int_eq(atomic_load(&calls), 3);
	ck_assert_int_eq(task_attempts(plan, "f"), 3);
	ck_assert_str_eq(task_state(plan, "f"), "succeeded");
	char *err = task_error(plan, "f");
	ck_assert_ptr_null(err);
	ck_assert_int_eq(count_type(&ev, "task.retrying"), 2);
	ck_assert_int_eq(count_type(&ev, "task.started"), 3);
	int seen = 0;
	double delays = 0;
	for (int i = 0; i < ev.count; i++) {
		if (strcmp(ev.types[i], "task.retrying") != 0)
			continue;
		cJSON *d = ev.data[i];
		ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(d, "attempt")), ++seen);
		ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(d, "code")), COG_EIO);
		ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(d, "error")),
			seen == 1 ? "flaky: attempt 1 failed" : "flaky: attempt 2 failed");
		double delay = cJSON_GetNumberValue(cJSON_GetObjectItem(d, "delay_ms"));
		/* full jitter: 0..20 before the second attempt, 0..40 before the third */
		ck_assert(delay >= 0 && delay <= (seen == 1 ? 20 : 40));
		delays += delay;
	}
	ck_assert_uint_ge(took_ms + 1, (unsigned long long)delays);
	ck_assert_uint_lt(took_ms, 1000);
	cog_plan_free(plan);
	cog_ctx_free(ctx);
	events_dispose(&ev);
}
END_TEST

static int always_fail(cog_task_call *call, void *ud)
{
	(void)call;
	atomic_fetch_add((atomic_int *)ud, 1);
	return cog_error_set(COG_EIO, "nope");
}

START_TEST(retries_exhausted)
{
	cog_ctx *ctx = ctx_with_sqlite(NULL, false, NULL, NULL);
	atomic_int calls = 0;
	ck_assert_cog(cog_ctx_set_task_executor(ctx, always_fail, &calls));
	cog_plan *plan = plan_from(ctx, "{\"tasks\":[{\"id\":\"f\",\"retry\":{"
		"\"max_attempts\":4,\"backoff_ms\":1}}]}");
	ck_assert_int_eq(cog_plan_run(plan, NULL), COG_ERROR);
	char expected[256];
	snprintf(expected, sizeof(expected), "cog_plan_run: plan %s: 1 task failed: 'f' (nope)",
		cog_plan_id(plan));
	ck_assert_str_eq(cog_error_last(), expected);
	ck_assert_int_eq(atomic_load(&calls), 4);
	ck_assert_int_eq(task_attempts(plan, "f"), 4);
	ck_assert_str_eq(task_state(plan, "f"), "failed");
	/* a failed task stays failed: running the plan again runs nothing */
	ck_assert_int_eq(cog_plan_run(plan, NULL), COG_ERROR);
	ck_assert_int_eq(atomic_load(&calls), 4);
	cog_plan_free(plan);
	cog_ctx_free(ctx);
}
END_TEST

/* ---- timeouts ---- */

static int slow_executor(cog_task_call *call, void *ud)
{
	(void)ud;
	if (strcmp(cog_task_call_task_id(call), "polite") == 0) {
		while (!cog_task_call_is_canceled(call))
			usleep(1000);
		return cog_error_set(COG_ECANCELED, "stopped when told");
	}
	usleep(60000); /* "rude": ignores the deadline, and succeeds late */
	return 0;
}

START_TEST(timeout_fails_task)
{
	cog_ctx *ctx = ctx_with_sqlite(NULL, false, NULL, NULL);
	ck_assert_cog(cog_ctx_set_task_executor(ctx, slow_executor, NULL));
	cog_plan *plan = plan_from(ctx, "{\"tasks\":[{\"id\":\"polite\",\"timeout_ms\":30},"
		"{\"id\":\"rude\",\"timeout_ms\":20},{\"id\":\"after\",\"depends_on\":[\"rude\"]}]}");
	cog_run_options o = run_opts(1, 0, COG_CONTINUE_INDEPENDENT);
	unsigned long long t0 = now_ns();
	ck_assert_int_eq(cog_plan_run(plan, &o), COG_ERROR);
	ck_assert_uint_lt((now_ns() - t0) / 1000000ull, 1000);
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "2 tasks failed"));
	ck_assert_str_eq(task_state(plan, "polite"), "failed");
	ck_assert_str_eq(task_state(plan, "rude"), "failed");
	ck_assert_str_eq(task_state(plan, "after"), "skipped");
	cJSON *s = task_status(plan, "polite");
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(s, "error")),
		"task 'polite' timed out after 30 ms (attempt 1)");
	cJSON_Delete(s);
	char *e = task_error(plan, "rude");
	ck_assert_str_eq(e, "task 'rude' timed out after 20 ms (attempt 1)");
	free(e);
	cog_plan_free(plan);
	cog_ctx_free(ctx);
}
END_TEST

/* ---- failure policies ---- */

static int fail_a(cog_task_call *call, void *ud)
{
	(void)ud;
	const char *id = cog_task_call_task_id(call);
	if (strcmp(id, "d") == 0)
		usleep(100000); /* still running when a fails */
	if (strcmp(id, "a") == 0) {
		usleep(20000);
		return cog_error_set(COG_EIO, "a broke");
	}
	return 0;
}

static const char policy_plan[] =
	"{\"tasks\":[{\"id\":\"a\"},{\"id\":\"b\",\"depends_on\":[\"a\"]},"
	"{\"id\":\"c\",\"depends_on\":[\"b\"]},{\"id\":\"d\"},"
	"{\"id\":\"e\",\"depends_on\":[\"d\"]}]}";

static void expect_states(cog_plan *plan, const char *const *ids, const char *const *states)
{
	for (int i = 0; ids[i]; i++)
		ck_assert_msg(strcmp(task_state(plan, ids[i]), states[i]) == 0,
			"task %s is %s, expected %s", ids[i], task_state(plan, ids[i]), states[i]);
}

START_TEST(continue_independent)
{
	cog_ctx *ctx = ctx_with_sqlite(NULL, false, NULL, NULL);
	ck_assert_cog(cog_ctx_set_task_executor(ctx, fail_a, NULL));
	cog_plan *plan = plan_from(ctx, policy_plan);
	cog_run_options o = run_opts(1, 0, COG_CONTINUE_INDEPENDENT);
	ck_assert_int_eq(cog_plan_run(plan, &o), COG_ERROR);
	char expected[256];
	snprintf(expected, sizeof(expected), "cog_plan_run: plan %s: 1 task failed: 'a' (a broke)",
		cog_plan_id(plan));
	ck_assert_str_eq(cog_error_last(), expected);
	static const char *const ids[] = { "a", "b", "c", "d", "e", NULL };
	static const char *const states[] = { "failed", "skipped", "skipped", "succeeded",
		"succeeded" };
	expect_states(plan, ids, states);
	char *e = task_error(plan, "c");
	ck_assert_str_eq(e, "not run: dependency 'a' failed");
	free(e);
	cog_plan_free(plan);
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(fail_fast_inline)
{
	cog_ctx *ctx = ctx_with_sqlite(NULL, false, NULL, NULL);
	ck_assert_cog(cog_ctx_set_task_executor(ctx, fail_a, NULL));
	cog_plan *plan = plan_from(ctx, policy_plan);
	cog_run_options o = run_opts(1, 0, COG_FAIL_FAST);
	ck_assert_int_eq(cog_plan_run(plan, &o), COG_ERROR);
	/* a runs first (roots in task order) and stops everything */
	static const char *const ids[] = { "a", "b", "c", "d", "e", NULL };
	static const char *const states[] = { "failed", "skipped", "skipped", "skipped",
		"skipped" };
	expect_states(plan, ids, states);
	char *e = task_error(plan, "d");
	ck_assert_str_eq(e, "not run: the run stopped after a task failed (fail-fast)");
	free(e);
	e = task_error(plan, "b");
	ck_assert_str_eq(e, "not run: dependency 'a' failed");
	free(e);
	cog_plan_free(plan);
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(fail_fast_threaded)
{
	cog_ctx *ctx = ctx_with_sqlite(NULL, false, NULL, NULL);
	ck_assert_cog(cog_ctx_set_task_executor(ctx, fail_a, NULL));
	cog_plan *plan = plan_from(ctx, policy_plan);
	cog_run_options o = run_opts(2, 1, COG_FAIL_FAST);
	ck_assert_int_eq(cog_plan_run(plan, &o), COG_ERROR);
	/* d was running when a failed: it finishes; nothing else starts */
	static const char *const ids[] = { "a", "b", "c", "d", "e", NULL };
	static const char *const states[] = { "failed", "skipped", "skipped", "succeeded",
		"skipped" };
	expect_states(plan, ids, states);
	cog_plan_free(plan);
	cog_ctx_free(ctx);
}
END_TEST

/* ---- cancellation ---- */

typedef struct cancel_state {
	cog_ctx *ctx;
	atomic_int calls;
} cancel_state;

static int cancel_at_t3(cog_task_call *call, void *ud)
{
	cancel_state *cs = ud;
	atomic_fetch_add(&cs->calls, 1);
	if (strcmp(cog_task_call_task_id(call), "t3") == 0)
		cog_ctx_cancel(cs->ctx);
	return 0;
}

START_TEST(cancel_inline)
{
	cog_ctx *ctx = ctx_with_sqlite(tmp_file("cancel.db"), false, NULL, NULL);
	cancel_state cs = { ctx, 0 };
	ck_assert_cog(cog_ctx_set_task_executor(ctx, cancel_at_t3, &cs));
	char json[2048];
	size_t len = (size_t)snprintf(json, sizeof(json), "{\"tasks\":[{\"id\":\"t0\"}");
	for (int i = 1; i < 10; i++)
		len += (size_t)snprintf(json + len, sizeof(json) - len,
			",{\"id\":\"t%d\",\"depends_on\":[\"t%d\"]}", i, i - 1);
	snprintf(json + len, sizeof(json) - len, "]}");
	cog_plan *plan = plan_from(ctx, json);
	ck_assert_int_eq(cog_plan_run(plan, NULL), COG_ECANCELED);
	char expected[256];
	snprintf(expected, sizeof(expected), "cog_plan_run: plan %s was canceled: 4 of 10 "
		"tasks succeeded, 6 skipped", cog_plan_id(plan));
	ck_assert_str_eq(cog_error_last(), expected);
	ck_assert_int_eq(atomic_load(&cs.calls), 4);
	ck_assert_str_eq(task_state(plan, "t3"), "succeeded");
	ck_assert_str_eq(task_state(plan, "t4"), "skipped");
	char *e = task_error(plan, "t9");
	ck_assert_str_eq(e, "not run: the run was canceled");
	free(e);
	/* After a reset the same plan continues where it stopped. */
	cog_ctx_reset_cancel(ctx);
	ck_assert_cog(cog_plan_run(plan, NULL));
	ck_assert_int_eq(atomic_load(&cs.calls), 10);
	ck_assert_int_eq(task_attempts(plan, "t3"), 1);
	cog_plan_free(plan);
	cog_ctx_free(ctx);
}
END_TEST

static int wait_for_cancel(cog_task_call *call, void *ud)
{
	cancel_state *cs = ud;
	atomic_fetch_add(&cs->calls, 1);
	if (strcmp(cog_task_call_task_id(call), "t0") == 0) {
		while (!cog_task_call_is_canceled(call))
			usleep(500);
		return cog_error_set(COG_ECANCELED, "canceled while running");
	}
	return 0;
}

static void *cancel_later(void *arg)
{
	usleep(30000);
	cog_ctx_cancel(arg);
	return NULL;
}

START_TEST(cancel_threaded)
{
	cog_ctx *ctx = ctx_with_sqlite(NULL, false, NULL, NULL);
	cancel_state cs = { ctx, 0 };
	ck_assert_cog(cog_ctx_set_task_executor(ctx, wait_for_cancel, &cs));
	/* t0 blocks; 100 tasks behind it; 50 independent ones finish quickly */
	size_t cap = 16384, len = 0;
	char *json = malloc(cap);
	len += (size_t)snprintf(json, cap, "{\"tasks\":[{\"id\":\"t0\"}");
	for (int i = 1; i <= 100; i++)
		len += (size_t)snprintf(json + len, cap - len,
			",{\"id\":\"t%d\",\"depends_on\":[\"t0\"]}", i);
	for (int i = 0; i < 50; i++)
		len += (size_t)snprintf(json + len, cap - len, ",{\"id\":\"free%d\"}", i);
	snprintf(json + len, cap - len, "]}");
	cog_plan *plan = plan_from(ctx, json);
	free(json);
	pthread_t th;
	pthread_create(&th, NULL, cancel_later, ctx);
	cog_run_options o = run_opts(4, 0, COG_FAIL_FAST);
	ck_assert_int_eq(cog_plan_run(plan, &o), COG_ECANCELED);
	pthread_join(th, NULL);
	ck_assert_str_eq(task_state(plan, "t0"), "skipped");
	ck_assert_str_eq(task_state(plan, "t1"), "skipped");
	ck_assert_str_eq(task_state(plan, "t100"), "skipped");
	ck_assert_str_eq(task_state(plan, "free49"), "succeeded");
	ck_assert_int_eq(atomic_load(&cs.calls), 51);
	char *e = task_error(plan, "t0");
	ck_assert_str_eq(e, "stopped before finishing: canceled while running");
	free(e);
	cog_plan_free(plan);
	cog_ctx_free(ctx);
}
END_TEST

/* ---- events ---- */

static int noop(cog_task_call *call, void *ud)
{
	(void)call;
	(void)ud;
	return 0;
}

START_TEST(event_sequence)
{
	events ev;
	events_init(&ev);
	cog_ctx *ctx = ctx_with_sqlite(NULL, false, collect_event, &ev);
	ck_assert_cog(cog_ctx_set_task_executor(ctx, noop, NULL));
	cog_plan *plan = plan_from(ctx, "{\"id\":\"ev\",\"tasks\":[{\"id\":\"a\"},"
		"{\"id\":\"b\",\"depends_on\":[\"a\"]},{\"id\":\"c\",\"depends_on\":[\"b\"]}]}");
	ck_assert_cog(cog_plan_run(plan, NULL));
	static const char *const expected[][2] = {
		{ "plan.started", NULL },
		{ "task.ready", "a" }, { "task.started", "a" }, { "task.succeeded", "a" },
		{ "task.ready", "b" }, { "task.started", "b" }, { "task.succeeded", "b" },
		{ "task.ready", "c" }, { "task.started", "c" }, { "task.succeeded", "c" },
		{ "plan.finished", NULL },
	};
	ck_assert_int_eq(ev.count, 11);
	for (int i = 0; i < 11; i++) {
		ck_assert_str_eq(ev.types[i], expected[i][0]);
		ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(ev.data[i], "plan_id")),
			"ev");
		if (expected[i][1])
			ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(ev.data[i],
				"task_id")), expected[i][1]);
		if (strcmp(ev.types[i], "task.started") == 0)
			ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(ev.data[i],
				"attempt")), 1);
		if (strcmp(ev.types[i], "task.succeeded") == 0)
			ck_assert(cJSON_IsNumber(cJSON_GetObjectItem(ev.data[i], "duration_ms")));
	}
	cJSON *fin = ev.data[10];
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(fin, "status")), "succeeded");
	ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(fin, "succeeded")), 3);
	ck_assert(cJSON_IsNumber(cJSON_GetObjectItem(fin, "duration_ms")));
	cog_plan_free(plan);
	cog_ctx_free(ctx);
	events_dispose(&ev);
}
END_TEST

START_TEST(event_failure_sequence)
{
	events ev;
	events_init(&ev);
	cog_ctx *ctx = ctx_with_sqlite(NULL, false, collect_event, &ev);
	ck_assert_cog(cog_ctx_set_task_executor(ctx, fail_a, NULL));
	cog_plan *plan = plan_from(ctx, "{\"tasks\":[{\"id\":\"a\"},"
		"{\"id\":\"b\",\"depends_on\":[\"a\"]}]}");
	ck_assert_int_eq(cog_plan_run(plan, NULL), COG_ERROR);
	static const char *const expected[] = { "plan.started", "task.ready", "task.started",
		"task.failed", "task.skipped", "plan.finished" };
	ck_assert_int_eq(ev.count, 6);
	for (int i = 0; i < 6; i++)
		ck_assert_str_eq(ev.types[i], expected[i]);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(ev.data[3], "error")), "a broke");
	ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(ev.data[3], "code")),
		COG_EIO);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(ev.data[4], "reason")),
		"not run: dependency 'a' failed");
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(ev.data[5], "status")), "failed");
	cog_plan_free(plan);
	cog_ctx_free(ctx);
	events_dispose(&ev);
}
END_TEST

/* ---- re-planning ---- */

typedef struct replan_state {
	atomic_int runs[8];      /* a, b, c, d, b2, c2, other */
	atomic_int w7_runs;
	int offers;
	const char *replacement; /* NULL: leave the failure */
	char failed[64];
	char error[128];
} replan_state;

static int task_slot(const char *id)
{
	static const char *const ids[] = { "a", "b", "c", "d", "b2", "c2" };
	for (int i = 0; i < 6; i++)
		if (strcmp(id, ids[i]) == 0)
			return i;
	return 6;
}

static int replan_executor(cog_task_call *call, void *ud)
{
	replan_state *rs = ud;
	const char *id = cog_task_call_task_id(call);
	atomic_fetch_add(&rs->runs[task_slot(id)], 1);
	if (strcmp(id, "a") == 0)
		return cog_task_call_set_result(call, "{\"n\":1}");
	if (strcmp(id, "b") == 0)
		return cog_error_set(COG_EIO, "b cannot work");
	if (strcmp(id, "b2") == 0) {
		/* the new task sees a's result */
		ck_assert_str_eq(cog_task_call_dependency_result(call, "a"), "{\"n\":1}");
		return cog_task_call_set_result(call, "\"b2 done\"");
	}
	if (strcmp(id, "w7") == 0 && atomic_fetch_add(&rs->w7_runs, 1) == 0)
		return cog_error_set(COG_EIO, "w7 failed"); /* the first w7 only */
	return 0;
}

static int replanner(cog_plan *plan, const char *failed, const char *error, char **json,
                     void *ud)
{
	replan_state *rs = ud;
	rs->offers++;
	snprintf(rs->failed, sizeof(rs->failed), "%s", failed);
	snprintf(rs->error, sizeof(rs->error), "%s", error);
	/* the plan's state is readable from here, and no task runs */
	char *status = NULL;
	ck_assert_cog(cog_plan_status(plan, &status));
	cog_free(status);
	ck_assert_int_eq(cog_plan_add_task(plan, "{\"id\":\"zz\"}"), COG_EBUSY);
	*json = NULL;
	if (rs->replacement) {
		*json = cog_malloc(strlen(rs->replacement) + 1);
		strcpy(*json, rs->replacement);
	}
	return 0;
}

static int failing_replanner(cog_plan *plan, const char *failed, const char *error,
                             char **json, void *ud)
{
	(void)plan; (void)failed; (void)error; (void)ud;
	*json = NULL;
	return cog_error_set(COG_EIO, "no planner today");
}

static const char replan_plan[] =
	"{\"id\":\"rp\",\"tasks\":[{\"id\":\"a\"},{\"id\":\"b\",\"depends_on\":[\"a\"]},"
	"{\"id\":\"c\",\"depends_on\":[\"b\"]},{\"id\":\"d\",\"depends_on\":[\"a\"]}]}";

static void replan_case(const char *db)
{
	cog_ctx *ctx = ctx_with_sqlite(db, false, NULL, NULL);
	replan_state rs;
	memset(&rs, 0, sizeof(rs));
	rs.replacement = "{\"tasks\":[{\"id\":\"b2\",\"depends_on\":[\"a\"]},"
		"{\"id\":\"c2\",\"depends_on\":[\"b2\",\"d\"]}]}";
	ck_assert_cog(cog_ctx_set_task_executor(ctx, replan_executor, &rs));
	cog_plan *plan = plan_from(ctx, replan_plan);
	ck_assert_cog(cog_plan_set_replanner(plan, replanner, &rs));
	ck_assert_cog(cog_plan_run(plan, NULL));
	ck_assert_int_eq(rs.offers, 1);
	ck_assert_str_eq(rs.failed, "b");
	ck_assert_str_eq(rs.error, "b cannot work");
	ck_assert_int_eq(atomic_load(&rs.runs[0]), 1); /* a kept its result, ran once */
	ck_assert_int_eq(atomic_load(&rs.runs[1]), 1);
	ck_assert_int_eq(atomic_load(&rs.runs[2]), 0); /* c was replaced before running */
	ck_assert_int_eq(atomic_load(&rs.runs[3]), 1);
	ck_assert_int_eq(atomic_load(&rs.runs[4]), 1);
	ck_assert_int_eq(atomic_load(&rs.runs[5]), 1);
	ck_assert_uint_eq(cog_plan_task_count(plan), 4);
	char *r = task_result(plan, "a");
	ck_assert_str_eq(r, "{\"n\":1}");
	free(r);
	ck_assert_str_eq(task_state(plan, "c2"), "succeeded");
	char *json = NULL;
	ck_assert_int_eq(cog_plan_task_status(plan, "b", &json), COG_ENOTFOUND);
	if (db) {
		/* the journal knows the new graph: a resume sees it finished */
		char id[80];
		snprintf(id, sizeof(id), "%s", cog_plan_id(plan));
		cog_plan_free(plan);
		plan = NULL;
		ck_assert_cog(cog_plan_resume(&plan, ctx, id));
		ck_assert_uint_eq(cog_plan_task_count(plan), 4);
		ck_assert_str_eq(task_state(plan, "b2"), "succeeded");
		ck_assert_str_eq(task_state(plan, "c2"), "succeeded");
		r = task_result(plan, "b2");
		ck_assert_str_eq(r, "\"b2 done\"");
		free(r);
		size_t n = 0;
		char *records = log_records(cog_ctx_storage(ctx), "plan/rp", &n);
		ck_assert_ptr_nonnull(strstr(records, "{\"s\":\"replanned\",\"failed\":\"b\","
			"\"removed\":[\"b\",\"c\"],\"added\":[\"b2\",\"c2\"]}"));
		free(records);
	}
	cog_plan_free(plan);
	cog_ctx_free(ctx);
}

START_TEST(replan_replaces_subgraph)
{
	replan_case(NULL);
}
END_TEST

START_TEST(replan_durable)
{
	replan_case(tmp_file("replan.db"));
}
END_TEST

START_TEST(replan_invalid_replacement)
{
	cog_ctx *ctx = ctx_with_sqlite(NULL, false, NULL, NULL);
	replan_state rs;
	memset(&rs, 0, sizeof(rs));
	/* c is being replaced: nothing new may depend on it */
	rs.replacement = "{\"tasks\":[{\"id\":\"b2\",\"depends_on\":[\"c\"]}]}";
	ck_assert_cog(cog_ctx_set_task_executor(ctx, replan_executor, &rs));
	cog_plan *plan = plan_from(ctx, replan_plan);
	ck_assert_cog(cog_plan_set_replanner(plan, replanner, &rs));
	ck_assert_int_eq(cog_plan_run(plan, NULL), COG_ERROR);
	ck_assert_str_eq(cog_error_last(), "cog_plan_run: plan rp: re-planning task 'b' failed "
		"(not found): plan rp: task 'b2' depends on 'c', which is not in the plan");
	/* the plan is as it was, b failed */
	ck_assert_uint_eq(cog_plan_task_count(plan), 4);
	ck_assert_str_eq(task_state(plan, "b"), "failed");
	ck_assert_str_eq(task_state(plan, "c"), "skipped");
	ck_assert_str_eq(task_state(plan, "a"), "succeeded");
	cog_plan_free(plan);

	/* a cycle through the kept graph */
	rs.replacement = "{\"tasks\":[{\"id\":\"x\",\"depends_on\":[\"y\"]},"
		"{\"id\":\"y\",\"depends_on\":[\"x\"]}]}";
	plan = plan_from(ctx, replan_plan);
	ck_assert_cog(cog_plan_set_replanner(plan, replanner, &rs));
	ck_assert_int_eq(cog_plan_run(plan, NULL), COG_ERROR);
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "re-planning task 'b' failed "
		"(dependency cycle): plan rp: dependency cycle x -> y -> x"));
	cog_plan_free(plan);

	/* not even JSON */
	rs.replacement = "{\"tasks\":";
	plan = plan_from(ctx, replan_plan);
	ck_assert_cog(cog_plan_set_replanner(plan, replanner, &rs));
	ck_assert_int_eq(cog_plan_run(plan, NULL), COG_ERROR);
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "re-planning task 'b' failed "
		"(invalid argument)"));
	cog_plan_free(plan);

	/* the re-planner itself fails */
	plan = plan_from(ctx, replan_plan);
	ck_assert_cog(cog_plan_set_replanner(plan, failing_replanner, NULL));
	ck_assert_int_eq(cog_plan_run(plan, NULL), COG_ERROR);
	ck_assert_str_eq(cog_error_last(), "cog_plan_run: plan rp: the re-planner failed for "
		"task 'b' (input/output error): no planner today");
	cog_plan_free(plan);
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(replan_declined)
{
	cog_ctx *ctx = ctx_with_sqlite(NULL, false, NULL, NULL);
	replan_state rs;
	memset(&rs, 0, sizeof(rs));
	ck_assert_cog(cog_ctx_set_task_executor(ctx, replan_executor, &rs));
	cog_plan *plan = plan_from(ctx, replan_plan);
	ck_assert_cog(cog_plan_set_replanner(plan, replanner, &rs));
	cog_run_options o = run_opts(1, 0, COG_CONTINUE_INDEPENDENT);
	ck_assert_int_eq(cog_plan_run(plan, &o), COG_ERROR);
	ck_assert_int_eq(rs.offers, 1);
	ck_assert_str_eq(task_state(plan, "b"), "failed");
	ck_assert_str_eq(task_state(plan, "c"), "skipped");
	ck_assert_str_eq(task_state(plan, "d"), "succeeded");
	cog_plan_free(plan);
	cog_ctx_free(ctx);
}
END_TEST

/* A re-plan in the middle of a threaded run: workers wait, the graph
 * changes under them, they carry on. */
START_TEST(replan_threaded)
{
	cog_ctx *ctx = ctx_with_sqlite(tmp_file("replan-threaded.db"), false, NULL, NULL);
	replan_state rs;
	memset(&rs, 0, sizeof(rs));
	rs.replacement = "{\"tasks\":[{\"id\":\"w7\",\"depends_on\":[\"w0\"]},"
		"{\"id\":\"after\",\"depends_on\":[\"w7\",\"w50\"]}]}";
	ck_assert_cog(cog_ctx_set_task_executor(ctx, replan_executor, &rs));
	size_t cap = 16384, len = 0;
	char *json = malloc(cap);
	len += (size_t)snprintf(json, cap, "{\"id\":\"rt\",\"tasks\":[{\"id\":\"w0\"}");
	for (int i = 1; i < 100; i++)
		len += (size_t)snprintf(json + len, cap - len,
			",{\"id\":\"w%d\",\"depends_on\":[\"w%d\"]}", i, i % 10 ? i - 1 : 0);
	snprintf(json + len, cap - len, "]}");
	cog_plan *plan = plan_from(ctx, json);
	free(json);
	ck_assert_cog(cog_plan_set_replanner(plan, replanner, &rs));
	cog_run_options o = run_opts(4, 0, COG_FAIL_FAST);
	ck_assert_cog(cog_plan_run(plan, &o));
	ck_assert_int_eq(rs.offers, 1);
	ck_assert_str_eq(rs.failed, "w7");
	/* w8, w9 depended on w7: replaced by "after" */
	ck_assert_uint_eq(cog_plan_task_count(plan), 99);
	ck_assert_str_eq(task_state(plan, "after"), "succeeded");
	ck_assert_str_eq(task_state(plan, "w7"), "succeeded");
	ck_assert_int_eq(task_attempts(plan, "w7"), 1);
	cog_plan_free(plan);
	cog_ctx_free(ctx);
}
END_TEST

/* ---- where tasks run ---- */

static pthread_t caller;
static atomic_int off_thread;
/* Where the first task of a run ran: a run that starts inline may still
 * move to the pool when a task took over 2 ms (run_inline.c), which a
 * loaded machine can make even of these empty tasks. */
static atomic_int first_seen, first_off;

static int where_executor(cog_task_call *call, void *ud)
{
	(void)call;
	(void)ud;
	bool off = !pthread_equal(pthread_self(), caller);
	if (off)
		atomic_fetch_add(&off_thread, 1);
	if (atomic_exchange(&first_seen, 1) == 0)
		atomic_store(&first_off, off);
	return 0;
}

static bool run_where(cog_ctx *ctx, events *ev, int tasks, unsigned int workers,
                      unsigned int inline_max)
{
	char json[8192];
	size_t len = (size_t)snprintf(json, sizeof(json), "{\"tasks\":[");
	for (int i = 0; i < tasks; i++)
		len += (size_t)snprintf(json + len, sizeof(json) - len, "%s{\"id\":\"t%d\"}",
			i ? "," : "", i);
	snprintf(json + len, sizeof(json) - len, "]}");
	cog_plan *plan = plan_from(ctx, json);
	cog_run_options o = run_opts(workers, inline_max, COG_FAIL_FAST);
	atomic_store(&off_thread, 0);
	atomic_store(&first_seen, 0);
	atomic_store(&first_off, 0);
	events_dispose(ev);
	events_init(ev);
	ck_assert_cog(cog_plan_run(plan, &o));
	cog_plan_free(plan);
	cJSON *fin = ev->data[ev->count - 1];
	ck_assert_str_eq(ev->types[ev->count - 1], "plan.finished");
	bool threaded = cJSON_IsTrue(cJSON_GetObjectItem(fin, "threaded"));
	bool started_threaded = atomic_load(&first_off);
	if (started_threaded) {
		/* A threaded run runs every task on the pool. */
		ck_assert(threaded);
		ck_assert_int_eq(atomic_load(&off_thread), tasks);
	} else {
		/* An inline run runs every task on the caller, unless it was
		 * handed off to the pool on the way (then it says threaded). */
		ck_assert_msg(atomic_load(&off_thread) == 0 || threaded,
			"%d tasks ran off the caller's thread in an inline run",
			atomic_load(&off_thread));
		ck_assert_int_lt(atomic_load(&off_thread), tasks);
	}
	return started_threaded;
}

START_TEST(inline_threshold)
{
	events ev;
	events_init(&ev);
	cog_ctx *ctx = ctx_with_sqlite(NULL, false, collect_event, &ev);
	ck_assert_cog(cog_ctx_set_task_executor(ctx, where_executor, NULL));
	caller = pthread_self();
	ck_assert(!run_where(ctx, &ev, 32, 4, 0)); /* default inline_max_tasks: 32 */
	ck_assert(run_where(ctx, &ev, 33, 4, 0));
	ck_assert(!run_where(ctx, &ev, 33, 4, 33));
	ck_assert(!run_where(ctx, &ev, 33, 1, 0)); /* one worker: the calling thread */
	ck_assert(run_where(ctx, &ev, 40, 0, 8)); /* workers from the context (4) */
	cog_ctx_free(ctx);
	events_dispose(&ev);
}
END_TEST

/* ---- small plans of slow tasks move to the pool ---- */

/* Tasks of the sleep executor running now, and the most at once in a run:
 * what shows tasks ran side by side, without asserting wall times. */
static atomic_int sleeping, most_sleeping;

static int sleep_executor(cog_task_call *call, void *ud)
{
	(void)ud;
	if (!pthread_equal(pthread_self(), caller))
		atomic_fetch_add(&off_thread, 1);
	int now = atomic_fetch_add(&sleeping, 1) + 1;
	for (int most = atomic_load(&most_sleeping);
	     now > most && !atomic_compare_exchange_weak(&most_sleeping, &most, now);)
		;
	usleep(100 * 1000);
	atomic_fetch_sub(&sleeping, 1);
	return cog_task_call_set_result(call, "true");
}

/* Runs the plan, returns the milliseconds it took; *threaded from the
 * plan.finished event. */
static double timed_run(cog_ctx *ctx, events *ev, const char *json, unsigned int workers,
                        bool *threaded)
{
	cog_plan *plan = plan_from(ctx, json);
	cog_run_options o = run_opts(workers, 0, COG_FAIL_FAST);
	atomic_store(&off_thread, 0);
	atomic_store(&most_sleeping, 0);
	events_dispose(ev);
	events_init(ev);
	caller = pthread_self();
	unsigned long long t0 = now_ns();
	ck_assert_cog(cog_plan_run(plan, &o));
	double ms = (double)(now_ns() - t0) / 1e6;
	cog_plan_free(plan);
	ck_assert_str_eq(ev->types[ev->count - 1], "plan.finished");
	*threaded = cJSON_IsTrue(cJSON_GetObjectItem(ev->data[ev->count - 1], "threaded"));
	return ms;
}

START_TEST(handoff_slow_tasks)
{
	events ev;
	events_init(&ev);
	cog_ctx *ctx = ctx_with_sqlite(NULL, false, collect_event, &ev);
	ck_assert_cog(cog_ctx_set_task_executor(ctx, sleep_executor, NULL));
	bool threaded = false;
	/* Four independent tasks of 100 ms: the first runs here, shows it is
	 * slow, the other three then run at once on the pool. */
	static const char four[] = "{\"tasks\":[{\"id\":\"a\"},{\"id\":\"b\"},"
		"{\"id\":\"c\"},{\"id\":\"d\"}]}";
	double ms = timed_run(ctx, &ev, four, 4, &threaded);
	ck_assert(threaded);
	ck_assert_int_eq(atomic_load(&off_thread), 3);
	/* 3, unless the machine starts a worker 100 ms late */
	ck_assert_int_ge(atomic_load(&most_sleeping), 2);
	/* With two workers: the first here, then two at a time. */
	double ms2 = timed_run(ctx, &ev, four, 2, &threaded);
	ck_assert(threaded);
	ck_assert_int_eq(atomic_load(&most_sleeping), 2);
	fprintf(stderr, "4 independent tasks of 100 ms: %.0f ms with 4 workers, %.0f ms with "
		"2\n", ms, ms2);
	/* Estimated slow: on the pool from the first task (2 x 2 x 100 ms). */
	static const char estimated[] = "{\"tasks\":["
		"{\"id\":\"a\",\"estimate\":{\"duration_ms\":100}},"
		"{\"id\":\"b\",\"estimate\":{\"duration_ms\":100}},"
		"{\"id\":\"c\",\"estimate\":{\"duration_ms\":100}},"
		"{\"id\":\"d\",\"estimate\":{\"duration_ms\":100}}]}";
	ms = timed_run(ctx, &ev, estimated, 2, &threaded);
	ck_assert(threaded);
	ck_assert_int_eq(atomic_load(&off_thread), 4);
	ck_assert_int_eq(atomic_load(&most_sleeping), 2);
	/* After a slow root, its two dependants run side by side. */
	ms = timed_run(ctx, &ev, "{\"tasks\":[{\"id\":\"a\"},{\"id\":\"b\",\"depends_on\":"
		"[\"a\"]},{\"id\":\"c\",\"depends_on\":[\"a\"]}]}", 4, &threaded);
	ck_assert(threaded);
	ck_assert_int_eq(atomic_load(&most_sleeping), 2);
	/* A chain cannot run in parallel: it stays here. */
	ms = timed_run(ctx, &ev, "{\"tasks\":[{\"id\":\"a\"},{\"id\":\"b\",\"depends_on\":"
		"[\"a\"]},{\"id\":\"c\",\"depends_on\":[\"b\"]}]}", 4, &threaded);
	ck_assert(!threaded);
	ck_assert_int_eq(atomic_load(&off_thread), 0);
	/* One worker: never. */
	ms = timed_run(ctx, &ev, four, 1, &threaded);
	ck_assert(!threaded);
	ck_assert_int_eq(atomic_load(&most_sleeping), 1);
	cog_ctx_free(ctx);
	events_dispose(&ev);
}
END_TEST

/* Quick tasks never leave the calling thread. */
START_TEST(handoff_not_for_quick_tasks)
{
	events ev;
	events_init(&ev);
	cog_ctx *ctx = ctx_with_sqlite(NULL, false, collect_event, &ev);
	ck_assert_cog(cog_ctx_set_task_executor(ctx, where_executor, NULL));
	bool threaded = true;
	int moved = 0;
	for (int i = 0; i < 100; i++) {
		timed_run(ctx, &ev, "{\"tasks\":[{\"id\":\"a\"},{\"id\":\"b\",\"depends_on\":"
			"[\"a\"]},{\"id\":\"c\",\"depends_on\":[\"a\"]}]}", 4, &threaded);
		/* An empty task takes over 2 ms only when the machine preempts
		 * it (a loaded machine, a sanitizer build): such a run may move,
		 * and says so; the others never start a thread. */
		if (threaded)
			moved++;
		else
			ck_assert_int_eq(atomic_load(&off_thread), 0);
	}
	ck_assert_msg(moved <= 10, "%d of 100 runs of empty tasks moved to the pool", moved);
	cog_ctx_free(ctx);
	events_dispose(&ev);
}
END_TEST

/* A durable run that moves to the pool keeps its journal whole. */
START_TEST(handoff_durable)
{
	events ev;
	events_init(&ev);
	const char *db = tmp_file("handoff.db");
	cog_ctx *ctx = ctx_with_sqlite(db, false, collect_event, &ev);
	ck_assert_cog(cog_ctx_set_task_executor(ctx, sleep_executor, NULL));
	bool threaded = false;
	double ms = timed_run(ctx, &ev, "{\"id\":\"ho\",\"tasks\":[{\"id\":\"a\"},"
		"{\"id\":\"b\",\"depends_on\":[\"a\"]},{\"id\":\"c\",\"depends_on\":[\"a\"]},"
		"{\"id\":\"d\",\"depends_on\":[\"a\"]},"
		"{\"id\":\"e\",\"depends_on\":[\"b\",\"c\",\"d\"]}]}", 4, &threaded);
	ck_assert(threaded);
	/* b, c and d side by side (3, unless a worker starts 100 ms late) */
	ck_assert_int_ge(atomic_load(&most_sleeping), 2);
	fprintf(stderr, "a -> (b, c, d) -> e of 100 ms each: %.0f ms\n", ms);
	cog_plan *plan = NULL;
	ck_assert_cog(cog_plan_resume(&plan, ctx, "ho"));
	static const char *const ids[] = { "a", "b", "c", "d", "e" };
	for (size_t i = 0; i < 5; i++) {
		ck_assert_str_eq(task_state(plan, ids[i]), "succeeded");
		ck_assert_int_eq(task_attempts(plan, ids[i]), 1);
	}
	cog_plan_free(plan);
	cog_ctx_free(ctx);
	events_dispose(&ev);
}
END_TEST

/* ---- speed sanity (the benchmarks measure properly) ---- */

START_TEST(small_graph_is_fast)
{
	cog_ctx *ctx = ctx_with_sqlite(NULL, false, NULL, NULL);
	ck_assert_cog(cog_ctx_set_task_executor(ctx, noop, NULL));
	cog_plan *plan = plan_from(ctx, "{\"tasks\":[{\"id\":\"a\"},"
		"{\"id\":\"b\",\"depends_on\":[\"a\"]},{\"id\":\"c\",\"depends_on\":[\"b\"]}]}");
	ck_assert_cog(cog_plan_run(plan, NULL));
	unsigned long long best = ~0ull;
	for (int i = 0; i < 200; i++) {
		cog_plan_free(plan);
		plan = plan_from(ctx, "{\"tasks\":[{\"id\":\"a\"},"
			"{\"id\":\"b\",\"depends_on\":[\"a\"]},{\"id\":\"c\",\"depends_on\":[\"b\"]}]}");
		ck_assert_cog(cog_plan_validate(plan));
		unsigned long long t0 = now_ns();
		ck_assert_cog(cog_plan_run(plan, NULL));
		unsigned long long t = now_ns() - t0;
		if (t < best)
			best = t;
	}
	/* a few microseconds; generous for sanitizers and loaded machines */
	ck_assert_msg(best < 200000, "3-task run took %llu ns", best);
	fprintf(stderr, "3-task graph end to end: %llu ns (best of 200)\n", best);
	cog_plan_free(plan);
	cog_ctx_free(ctx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("plan-run");
	TCase *tc = tcase_create("run");
	tcase_add_checked_fixture(tc, plan_test_setup, plan_test_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, deps_parallel_memory);
	tcase_add_test(tc, deps_parallel_sqlite);
	tcase_add_test(tc, deps_one_worker);
	tcase_add_test(tc, call_accessors);
	tcase_add_test(tc, bad_arguments);
	tcase_add_test(tc, retries_with_backoff);
	tcase_add_test(tc, retries_exhausted);
	tcase_add_test(tc, timeout_fails_task);
	tcase_add_test(tc, continue_independent);
	tcase_add_test(tc, fail_fast_inline);
	tcase_add_test(tc, fail_fast_threaded);
	tcase_add_test(tc, cancel_inline);
	tcase_add_test(tc, cancel_threaded);
	tcase_add_test(tc, event_sequence);
	tcase_add_test(tc, event_failure_sequence);
	tcase_add_test(tc, replan_replaces_subgraph);
	tcase_add_test(tc, replan_durable);
	tcase_add_test(tc, replan_invalid_replacement);
	tcase_add_test(tc, replan_declined);
	tcase_add_test(tc, replan_threaded);
	tcase_add_test(tc, inline_threshold);
	tcase_add_test(tc, handoff_slow_tasks);
	tcase_add_test(tc, handoff_not_for_quick_tasks);
	tcase_add_test(tc, handoff_durable);
	tcase_add_test(tc, small_graph_is_fast);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
