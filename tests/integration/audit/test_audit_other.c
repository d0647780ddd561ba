/*
 * Redaction, concurrency (threads, processes, verifying while appending),
 * the in-memory fallback, transactions held by the caller, the key's
 * arguments, and the cost of an append.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "audit_test.h"

START_TEST(secrets_never_reach_the_storage)
{
	char path[512];
	snprintf(path, sizeof(path), "%s", tmp_file("secrets.db"));
	cog_ctx *ctx = ctx_open(path, false);
	cJSON *args = cJSON_Parse("{\"api_key\":\"sk-live-123\",\"nested\":"
		"{\"password\":\"p\",\"list\":[{\"client_secret\":\"cs-42\"},"
		"\"token=tk-77\"]},\"text\":\"Authorization: Bearer abc.def\","
		"\"max_tokens\":100}");
	ck_assert(args != NULL);
	tool_audit_entry e = {
		.principal = "{\"id\":\"alice\",\"access_token\":\"tok-999\"}",
		.agent = "agent-1",
		.tool = "http_fetch",
		.call_id = "c1",
		.arguments = args,
		.result = "{\"body\":\"secret result sk-result-456\"}",
		.result_len = 37,
		.duration_ms = 12.25,
		.outcome = "error",
		.detail = "login failed: password=hunter2",
	};
	ck_assert_cog(tool_audit_append(registry_of(ctx), &e));
	cJSON_Delete(args);
	expect_intact(ctx, 1);

	char *json = NULL;
	ck_assert_cog(cog_audit_read(ctx, 1, 0, &json));
	cJSON *arr = cJSON_Parse(json);
	cJSON *entry = cJSON_GetArrayItem(arr, 0);
	cJSON *a = cJSON_GetObjectItem(entry, "arguments");
	ck_assert_str_eq(cJSON_GetObjectItem(a, "api_key")->valuestring, "[REDACTED]");
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(a, "nested"),
		"password")->valuestring, "[REDACTED]");
	ck_assert_int_eq((int)cJSON_GetObjectItem(a, "max_tokens")->valuedouble, 100);
	ck_assert_msg(strstr(cJSON_GetObjectItem(a, "text")->valuestring, "[REDACTED]"),
		"%s", json);
	ck_assert_str_eq(cJSON_GetObjectItem(entry, "outcome")->valuestring, "error");
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(entry, "principal"),
		"access_token")->valuestring, "[REDACTED]");
	ck_assert_double_eq_tol(cJSON_GetObjectItem(entry, "duration_ms")->valuedouble,
		12.25, 1e-9);
	cJSON_Delete(arr);
	cog_free(json);
	cog_ctx_free(ctx);

	/* Not in the records, and not anywhere in the files either. */
	static const char *const secrets[] = { "sk-live-123", "abc.def", "hunter2",
		"tok-999", "cs-42", "tk-77", "\"password\":\"p\"", "sk-result-456" };
	char names[2][512];
	snprintf(names[0], sizeof(names[0]), "%s", path);
	snprintf(names[1], sizeof(names[1]), "%s", tmp_file("secrets.db-wal"));
	char *all = db_text(names[0], "SELECT group_concat(record, '\n') FROM logs");
	ck_assert(all != NULL);
	for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
		ck_assert_msg(!strstr(all, secrets[i]), "%s in %s", secrets[i], all);
	ck_assert(strstr(all, "[REDACTED]") != NULL);
	cog_free(all);
	for (int f = 0; f < 2; f++) {
		size_t len;
		char *bytes = file_bytes(names[f], &len);
		for (size_t i = 0; bytes && i < sizeof(secrets) / sizeof(secrets[0]); i++)
			ck_assert_msg(!memmem(bytes, len, secrets[i], strlen(secrets[i])),
				"%s found in %s", secrets[i], names[f]);
		cog_free(bytes);
	}
}
END_TEST

/* ---- threads ---- */

typedef struct appender {
	tool_registry *reg;
	int first, count;
	char agent[16];
	int failures;
	char error[256];
} appender;

static void *append_thread(void *arg)
{
	appender *a = arg;
	for (int i = 0; i < a->count; i++) {
		int rc = append_entry(a->reg, a->first + i, a->agent);
		if (rc && !a->failures++)
			snprintf(a->error, sizeof(a->error), "%d %s", rc, cog_error_last());
	}
	return NULL;
}

/* Entries 1..n in order, each agent's count as expected. */
static void expect_dense(cog_ctx *ctx, int n, int agents, int per_agent)
{
	char *json = NULL;
	ck_assert_cog(cog_audit_read(ctx, 1, 0, &json));
	cJSON *arr = cJSON_Parse(json);
	ck_assert(arr != NULL);
	ck_assert_int_eq(cJSON_GetArraySize(arr), n);
	int counts[8] = { 0 };
	for (int i = 0; i < n; i++) {
		cJSON *e = cJSON_GetArrayItem(arr, i);
		ck_assert_int_eq((int)cJSON_GetObjectItem(e, "seq")->valuedouble, i + 1);
		int agent = atoi(cJSON_GetObjectItem(e, "agent")->valuestring + 1);
		ck_assert(agent >= 0 && agent < agents);
		counts[agent]++;
	}
	for (int i = 0; i < agents; i++)
		ck_assert_int_eq(counts[i], per_agent);
	cJSON_Delete(arr);
	cog_free(json);
}

static void run_threads(cog_ctx *ctx, int threads, int per_thread)
{
	pthread_t tid[8];
	appender a[8];
	for (int i = 0; i < threads; i++) {
		a[i] = (appender){ .reg = registry_of(ctx), .first = i * per_thread,
			.count = per_thread };
		snprintf(a[i].agent, sizeof(a[i].agent), "t%d", i);
		ck_assert_int_eq(pthread_create(&tid[i], NULL, append_thread, &a[i]), 0);
	}
	for (int i = 0; i < threads; i++) {
		pthread_join(tid[i], NULL);
		ck_assert_msg(a[i].failures == 0, "thread %d: %d failures, first: %s",
			i, a[i].failures, a[i].error);
	}
}

START_TEST(threads_append_one_chain_sqlite)
{
	cog_ctx *ctx = ctx_open(tmp_file("threads.db"), false);
	run_threads(ctx, 4, 250);
	expect_intact(ctx, 1000);
	expect_dense(ctx, 1000, 4, 250);
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(threads_append_one_chain_memory)
{
	cog_ctx *ctx = ctx_open_memory();
	run_threads(ctx, 4, 250);
	expect_intact(ctx, 1000);
	expect_dense(ctx, 1000, 4, 250);
	cog_ctx_free(ctx);
}
END_TEST

/* Verify, over and over, while other threads append: never a false alarm. */
typedef struct verifier {
	cog_ctx *ctx;
	volatile int stop;
	int runs, failures;
	char error[512];
} verifier;

static void *verify_thread(void *arg)
{
	verifier *v = arg;
	while (!v->stop) {
		char *report = NULL;
		int rc = cog_audit_verify(v->ctx, &report);
		v->runs++;
		if (rc && !v->failures++)
			snprintf(v->error, sizeof(v->error), "%d %s: %s", rc,
				cog_error_last(), report ? report : "");
		cog_free(report);
	}
	return NULL;
}

static void verify_while_appending(cog_ctx *writer, cog_ctx *reader)
{
	verifier v = { .ctx = reader };
	pthread_t vt;
	ck_assert_int_eq(pthread_create(&vt, NULL, verify_thread, &v), 0);
	run_threads(writer, 2, 300);
	v.stop = 1;
	pthread_join(vt, NULL);
	ck_assert_msg(v.failures == 0, "%d of %d verifications failed; first: %s",
		v.failures, v.runs, v.error);
	ck_assert(v.runs > 0);
	expect_intact(reader, 600);
}

START_TEST(verify_while_appending_same_storage)
{
	cog_ctx *ctx = ctx_open(tmp_file("live.db"), false);
	verify_while_appending(ctx, ctx);
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(verify_while_appending_other_connection)
{
	char path[512];
	snprintf(path, sizeof(path), "%s", tmp_file("live2.db"));
	cog_ctx *writer = ctx_open(path, false);
	cog_ctx *reader = ctx_open(path, false);
	verify_while_appending(writer, reader);
	cog_ctx_free(reader);
	cog_ctx_free(writer);
}
END_TEST

START_TEST(verify_while_appending_memory)
{
	cog_ctx *ctx = ctx_open_memory();
	verify_while_appending(ctx, ctx);
	cog_ctx_free(ctx);
}
END_TEST

/* ---- processes ---- */

START_TEST(processes_append_one_chain)
{
	char path[512];
	snprintf(path, sizeof(path), "%s", tmp_file("procs.db"));
	/* Create the file first so the children only race on appends. */
	cog_ctx_free(ctx_open(path, false));
	enum { PROCS = 2, PER_PROC = 250 };
	pid_t pids[PROCS];
	for (int p = 0; p < PROCS; p++) {
		pids[p] = fork();
		ck_assert(pids[p] >= 0);
		if (pids[p] == 0) {
			cog_ctx_options o = COG_CTX_OPTIONS_INIT;
			o.log_level = COG_LOG_OFF;
			cog_ctx *ctx = NULL;
			cog_storage *st = NULL;
			cog_sqlite_options so = COG_SQLITE_OPTIONS_INIT;
			so.durability = COG_SQLITE_DURABLE_NORMAL;
			so.busy_timeout_ms = 60000;
			tool_registry *reg = NULL;
			if (cog_ctx_new(&ctx, &o) || cog_sqlite_storage_open(&st, path, &so) ||
			    cog_ctx_set_storage(ctx, st) || tool_registry_get(ctx, &reg))
				_exit(10);
			char agent[16];
			snprintf(agent, sizeof(agent), "p%d", p);
			for (int i = 0; i < PER_PROC; i++) {
				if (append_entry(reg, p * PER_PROC + i, agent)) {
					fprintf(stderr, "child %d: %s\n", p, cog_error_last());
					_exit(11);
				}
			}
			cog_ctx_free(ctx);
			_exit(0);
		}
	}
	for (int p = 0; p < PROCS; p++) {
		int status = 0;
		ck_assert_int_eq(waitpid(pids[p], &status, 0), pids[p]);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			"child %d: status %d", p, status);
	}
	cog_ctx *ctx = ctx_open(path, false);
	expect_intact(ctx, PROCS * PER_PROC);
	expect_dense(ctx, PROCS * PER_PROC, PROCS, PER_PROC);
	cog_ctx_free(ctx);
}
END_TEST

/* ---- fallback, transactions, key ---- */

START_TEST(memory_fallback_without_storage)
{
	cog_ctx *ctx = ctx_open(NULL, false);
	ck_assert(cog_ctx_storage(ctx) == NULL);
	expect_intact(ctx, 0);
	append_range(registry_of(ctx), 1, 5);
	expect_intact(ctx, 5);
	char *json = NULL;
	ck_assert_cog(cog_audit_read(ctx, 2, 2, &json));
	cJSON *arr = cJSON_Parse(json);
	ck_assert_int_eq(cJSON_GetArraySize(arr), 2);
	ck_assert_int_eq((int)cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0), "seq")->valuedouble, 2);
	cJSON_Delete(arr);
	cog_free(json);
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(append_inside_own_transaction_fails_cleanly)
{
	cog_ctx *ctx = ctx_open(tmp_file("txn.db"), false);
	tool_registry *reg = registry_of(ctx);
	append_range(reg, 1, 2);
	cog_storage *st = cog_ctx_storage(ctx);
	ck_assert_cog(cog_storage_begin(st));
	int rc = append_entry(reg, 3, "tester");
	ck_assert_int_eq(rc, COG_EIO);
	ck_assert_msg(strstr(cog_error_last(), "audit log"), "%s", cog_error_last());
	ck_assert_cog(cog_storage_commit(st));
	append_range(reg, 3, 3);
	expect_intact(ctx, 3);
	cog_ctx_free(ctx);
}
END_TEST

typedef struct holder {
	cog_storage *st;
	volatile int holding;
} holder;

static void *hold_transaction(void *arg)
{
	holder *h = arg;
	if (cog_storage_begin(h->st) == 0) {
		h->holding = 1;
		usleep(200 * 1000);
		cog_storage_commit(h->st);
	}
	h->holding = 2;
	return NULL;
}

START_TEST(append_waits_for_another_threads_transaction)
{
	cog_ctx *ctx = ctx_open(tmp_file("wait.db"), false);
	tool_registry *reg = registry_of(ctx);
	holder h = { .st = cog_ctx_storage(ctx) };
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, hold_transaction, &h), 0);
	while (h.holding == 0)
		usleep(1000);
	ck_assert_cog(append_entry(reg, 1, "tester"));
	ck_assert_int_eq(h.holding, 2); /* it waited */
	pthread_join(t, NULL);
	expect_intact(ctx, 1);
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(set_key_checks_its_arguments)
{
	cog_ctx *ctx = ctx_open(NULL, false);
	unsigned char key[65] = { 0 };
	ck_assert_int_eq(cog_audit_set_key(ctx, key, 15), COG_EINVAL);
	ck_assert_int_eq(cog_audit_set_key(ctx, key, 65), COG_EINVAL);
	ck_assert_int_eq(cog_audit_set_key(ctx, NULL, 32), COG_EINVAL);
	ck_assert_int_eq(cog_audit_set_key(NULL, key, 32), COG_EINVAL);
	ck_assert_cog(cog_audit_set_key(ctx, key, 16));
	ck_assert_cog(cog_audit_set_key(ctx, key, 64));
	ck_assert_int_eq(cog_audit_verify(NULL, NULL), COG_EINVAL);
	char *json = NULL;
	ck_assert_int_eq(cog_audit_read(NULL, 1, 0, &json), COG_EINVAL);
	ck_assert_int_eq(cog_audit_read(ctx, 1, 0, NULL), COG_EINVAL);
	/* The report is optional. */
	ck_assert_cog(cog_audit_verify(ctx, NULL));
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(odd_entries_are_stored)
{
	/* No arguments, no result, no agent or principal, bytes that are
	 * not UTF-8, a principal that is not JSON, a negative duration. */
	cog_ctx *ctx = ctx_open_memory();
	tool_audit_entry e = {
		.principal = "not json",
		.tool = "t\xff" "x",
		.call_id = "c\"1\n",
		.duration_ms = -3,
		.outcome = "not_found",
		.detail = "bad \xc3 byte",
	};
	ck_assert_cog(tool_audit_append(registry_of(ctx), &e));
	e.principal = NULL;
	e.result = "";
	ck_assert_cog(tool_audit_append(registry_of(ctx), &e));
	expect_intact(ctx, 2);
	char *json = NULL;
	ck_assert_cog(cog_audit_read(ctx, 1, 0, &json));
	cJSON *arr = cJSON_Parse(json);
	ck_assert_msg(arr != NULL, "%s", json);
	cJSON *first = cJSON_GetArrayItem(arr, 0);
	ck_assert_str_eq(cJSON_GetObjectItem(first, "principal")->valuestring, "not json");
	ck_assert_str_eq(cJSON_GetObjectItem(first, "tool")->valuestring, "t\xEF\xBF\xBDx");
	ck_assert_str_eq(cJSON_GetObjectItem(first, "call_id")->valuestring, "c\"1\n");
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(first, "arguments")));
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(first, "result_digest")));
	ck_assert_int_eq((int)cJSON_GetObjectItem(first, "duration_ms")->valuedouble, 0);
	cJSON *second = cJSON_GetArrayItem(arr, 1);
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(second, "principal")));
	/* BLAKE2b-256 of the empty string. */
	ck_assert_str_eq(cJSON_GetObjectItem(second, "result_digest")->valuestring,
		"0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
	cJSON_Delete(arr);
	cog_free(json);
	tool_audit_entry bad = { .tool = "t", .call_id = NULL, .outcome = "ok" };
	ck_assert_int_eq(tool_audit_append(registry_of(ctx), &bad), COG_EINVAL);
	cog_ctx_free(ctx);
}
END_TEST

/* ---- cost ---- */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double time_appends(cog_ctx *ctx, int n)
{
	tool_registry *reg = registry_of(ctx);
	double start = now_s();
	append_range(reg, 1, n);
	return (now_s() - start) / n * 1e6;
}

START_TEST(append_cost)
{
	/* Not a benchmark with thresholds: numbers for the record. */
	cog_ctx *ctx = ctx_open(tmp_file("full.db"), true);
	double full = time_appends(ctx, 200);
	cog_ctx_free(ctx);
	ctx = ctx_open(tmp_file("normal.db"), false);
	double normal = time_appends(ctx, 2000);
	double t0 = now_s();
	expect_intact(ctx, 2000);
	double verify = (now_s() - t0) / 2000 * 1e6;
	cog_ctx_free(ctx);
	ctx = ctx_open_memory();
	double memory = time_appends(ctx, 5000);
	t0 = now_s();
	expect_intact(ctx, 5000);
	double verify_mem = (now_s() - t0) / 5000 * 1e6;
	cog_ctx_free(ctx);
	printf("audit append cost: sqlite FULL %.1f us, sqlite NORMAL %.1f us, "
		"memory %.1f us per entry; verify %.1f us (sqlite), %.1f us (memory) "
		"per entry\n", full, normal, memory, verify, verify_mem);
	fflush(stdout);
}
END_TEST

void add_other_tests(Suite *s)
{
	TCase *tc = tcase_create("other");
	tcase_add_checked_fixture(tc, audit_setup, audit_teardown);
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, secrets_never_reach_the_storage);
	tcase_add_test(tc, threads_append_one_chain_sqlite);
	tcase_add_test(tc, threads_append_one_chain_memory);
	tcase_add_test(tc, verify_while_appending_same_storage);
	tcase_add_test(tc, verify_while_appending_other_connection);
	tcase_add_test(tc, verify_while_appending_memory);
	tcase_add_test(tc, processes_append_one_chain);
	tcase_add_test(tc, memory_fallback_without_storage);
	tcase_add_test(tc, append_inside_own_transaction_fails_cleanly);
	tcase_add_test(tc, append_waits_for_another_threads_transaction);
	tcase_add_test(tc, set_key_checks_its_arguments);
	tcase_add_test(tc, odd_entries_are_stored);
	tcase_add_test(tc, append_cost);
	suite_add_tcase(s, tc);
}
