/*
 * A goal end to end: a plan of a tool task and two LLM tasks whose agents
 * call a host tool and the built-in file_write in a temporary workspace,
 * run by cog_task_run_agent against a loopback OpenAI-compatible server
 * (the requests recorded with cog_llm_recorder_new), then again from the
 * recording with the replay backend and no server. Both runs finish, write
 * the report, leave the run's episodes in episodic memory, and report a
 * cost that is the sum of the priced usage the server gave.
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent_e2e.h"
#include "agent_test.h"
#include "test_tmp.h"

#define PRICE_IN 0.75
#define PRICE_OUT 2.5

#define PLAN_ID "e2e-plan-1"
#define ANALYSIS "Analysis: north sales are 42; report.md written."
#define SUMMARY "Summary: the north region sold 42."

static const char PLAN[] =
	"{\"version\":1,\"id\":\"" PLAN_ID "\",\"goal\":\"analyze the north sales\","
	"\"tasks\":["
	"{\"id\":\"fetch\",\"kind\":\"tool\",\"tool\":\"lookup\",\"inputs\":{\"key\":\"north\"}},"
	"{\"id\":\"analyze\",\"kind\":\"llm\",\"depends_on\":[\"fetch\"],"
	"\"capabilities\":[\"analysis\"],"
	"\"inputs\":{\"prompt\":\"TASK-ANALYZE: look up the north sales and write report.md\"}},"
	"{\"id\":\"summarize\",\"kind\":\"llm\",\"depends_on\":[\"analyze\"],"
	"\"inputs\":{\"prompt\":\"TASK-SUMMARIZE: summarize the analysis\",\"agent\":\"executor\"}}]}";

/* ---- the model ---- */

typedef struct script {
	pthread_mutex_t mu;
	unsigned long in, out;      /* usage given, summed */
	unsigned int answered;
	char unexpected[512];       /* a request the script did not expect */
} script;

static char *answer(unsigned int index, const cJSON *req, int *status, void *ud)
{
	script *sc = ud;
	cJSON *calls = cJSON_CreateArray();
	const char *content = NULL;
	bool tool_turn = lss_count_role(req, "tool") > 0;
	if (lss_mentions(req, "TASK-SUMMARIZE")) {
		content = SUMMARY;
	} else if (lss_mentions(req, "TASK-ANALYZE") && !tool_turn) {
		lss_add_call(calls, "call_a1", "lookup", "{\"key\":\"north\"}");
		lss_add_call(calls, "call_a2", "file_write",
			"{\"path\":\"report.md\",\"content\":\"north: 42\\n\"}");
	} else if (lss_mentions(req, "TASK-ANALYZE")) {
		content = ANALYSIS;
	} else {
		char *body = cJSON_PrintUnformatted(req);
		pthread_mutex_lock(&sc->mu);
		snprintf(sc->unexpected, sizeof(sc->unexpected), "%.500s", body ? body : "?");
		pthread_mutex_unlock(&sc->mu);
		free(body);
		cJSON_Delete(calls);
		*status = 400;
		return strdup("{\"error\":{\"message\":\"unexpected request\",\"type\":\"invalid_request_error\"}}");
	}
	/* Usage within what the request could use. */
	unsigned long bytes = lss_content_bytes(req), max = lss_max_tokens(req);
	unsigned long in = 50 + 13 * index;
	if (in > bytes)
		in = bytes;
	unsigned long out = 20 + 7 * index;
	if (max && out > max)
		out = max;
	pthread_mutex_lock(&sc->mu);
	sc->in += in;
	sc->out += out;
	sc->answered++;
	pthread_mutex_unlock(&sc->mu);
	char *body = lss_completion(content, calls, in, out);
	cJSON_Delete(calls);
	return body;
}

/* ---- the host tool ---- */

static atomic_int lookups;

static int lookup(const cog_tool_request *r, char **result, void *ud)
{
	(void)ud;
	atomic_fetch_add(&lookups, 1);
	cJSON *args = cJSON_Parse(r->arguments);
	const char *key = cJSON_GetStringValue(cJSON_GetObjectItem(args, "key"));
	char buf[128];
	snprintf(buf, sizeof(buf), "{\"key\":\"%s\",\"sales\":%d}", key ? key : "?",
	         key && strcmp(key, "north") == 0 ? 42 : 0);
	cJSON_Delete(args);
	*result = lss_cog_strdup(buf);
	return *result ? 0 : COG_ENOMEM;
}

static void define_tools(cog_ctx *ctx)
{
	at_define_text_tool(ctx, "lookup", "Sales of a region", "key", COG_TOOL_IDEMPOTENT,
		lookup, NULL);
	lss_ok(cog_tool_define_builtins(ctx, "file_write"));
	lss_ok(cog_agent_define(ctx,
		"{\"name\":\"analyst\",\"instructions\":\"You analyse sales with the tools.\","
		"\"capabilities\":[\"analysis\"],\"tools\":[\"lookup\",\"file_write\"],"
		"\"max_tokens\":200}"));
}

/* ---- one run of the plan, then what it must have left ---- */

/* A whole file as text (free() it), NULL when it cannot be read. */
static char *read_text(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 1 << 20;
	char *buf = malloc(cap);
	size_t n = buf ? fread(buf, 1, cap - 1, f) : 0;
	fclose(f);
	if (buf)
		buf[n] = '\0';
	return buf;
}

static cJSON *task_status(cog_plan *plan, const char *id)
{
	char *json = NULL;
	lss_ok(cog_plan_task_status(plan, id, &json));
	cJSON *j = cJSON_Parse(json);
	ck_assert_ptr_nonnull(j);
	const char *state = cJSON_GetStringValue(cJSON_GetObjectItem(j, "state"));
	ck_assert_msg(state && strcmp(state, "succeeded") == 0, "task %s: %s", id, json);
	cog_free(json);
	return j;
}

/* Run the plan and check what it left; the cost the budget report gives. */
static double run_plan(cog_ctx *ctx, const char *workspace)
{
	atomic_store(&lookups, 0);
	define_tools(ctx);
	spans sp = { .mu = PTHREAD_MUTEX_INITIALIZER };
	lss_ok(cog_ctx_set_span_hook(ctx, on_span, &sp));
	cog_tool_call_options to = COG_TOOL_CALL_OPTIONS_INIT;
	to.workspace = workspace;
	cog_agent_run_options ao = COG_AGENT_RUN_OPTIONS_INIT;
	ao.tool_options = &to;
	lss_ok(cog_ctx_set_task_executor(ctx, cog_task_run_agent, &ao));

	cog_plan *plan = NULL;
	lss_ok(cog_plan_from_json(&plan, ctx, PLAN));
	cog_run_options ro = COG_RUN_OPTIONS_INIT;
	ro.episodic_namespace = "e2e";
	ro.durability = COG_DURABLE_ON;
	lss_ok(cog_plan_run(plan, &ro));

	/* The side effects: the report, two lookups (the tool task, the agent). */
	char path[600];
	snprintf(path, sizeof(path), "%s/report.md", workspace);
	char *report = read_text(path);
	ck_assert_msg(report != NULL, "no report at %s", path);
	ck_assert_str_eq(report, "north: 42\n");
	free(report);
	ck_assert_int_eq(atomic_load(&lookups), 2);

	/* The results. */
	cJSON *fetch = task_status(plan, "fetch");
	ck_assert_double_eq(lss_num(fetch, "result", "sales", NULL), 42);
	cJSON *an = task_status(plan, "analyze");
	cJSON *su = task_status(plan, "summarize");
	const cJSON *ar = cJSON_GetObjectItem(an, "result");
	const cJSON *sr = cJSON_GetObjectItem(su, "result");
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(ar, "content")), ANALYSIS);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(ar, "agent")), "analyst");
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(ar, "stopped")), "answer");
	ck_assert_double_eq(lss_num(ar, "turns", NULL), 2);
	ck_assert_double_eq(lss_num(ar, "tool_calls", NULL), 2);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(sr, "content")), SUMMARY);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(sr, "agent")), "executor");
	double result_cost = lss_num(ar, "cost", NULL) + lss_num(sr, "cost", NULL);
	double result_in = lss_num(ar, "usage", "input_tokens", NULL) +
		lss_num(sr, "usage", "input_tokens", NULL);
	double result_out = lss_num(ar, "usage", "output_tokens", NULL) +
		lss_num(sr, "usage", "output_tokens", NULL);

	/* The budget report of the plan and of the context agree with the
	 * results, and the cost is the usage priced. */
	char *rep = NULL;
	lss_ok(cog_budget_report(ctx, PLAN_ID, &rep));
	cJSON *pr = cJSON_Parse(rep);
	ck_assert_ptr_nonnull(pr);
	double in = lss_num(pr, "spent", "input_tokens", NULL);
	double out = lss_num(pr, "spent", "output_tokens", NULL);
	ck_assert_double_eq(lss_num(pr, "spent", "llm_calls", NULL), 3);
	ck_assert_double_eq(in, result_in);
	ck_assert_double_eq(out, result_out);
	double priced = (in * PRICE_IN + out * PRICE_OUT) / 1e6;
	double cost = lss_num(pr, "spent", "cost", NULL);
	ck_assert_double_eq_tol(cost, priced, 1e-12);
	ck_assert_double_eq_tol(result_cost, priced, 1e-12);
	ck_assert_double_eq_tol(lss_num(pr, "tasks", "analyze", "spent", "cost", NULL) +
		lss_num(pr, "tasks", "summarize", "spent", "cost", NULL), priced, 1e-12);
	cJSON_Delete(pr);
	cog_free(rep);
	lss_ok(cog_budget_report(ctx, NULL, &rep));
	cJSON *cr = cJSON_Parse(rep);
	ck_assert_double_eq_tol(lss_num(cr, "spent", "cost", NULL), priced, 1e-12);
	ck_assert_double_eq_tol(lss_num(cr, "agents", "analyst", "spent", "cost", NULL) +
		lss_num(cr, "agents", "executor", "spent", "cost", NULL), priced, 1e-12);
	cJSON_Delete(cr);
	cog_free(rep);

	/* The metrics count the same calls and cost. */
	char *met = NULL;
	lss_ok(cog_ctx_metrics(ctx, &met));
	cJSON *mj = cJSON_Parse(met);
	ck_assert_double_eq(lss_num(mj, "llm", "calls", NULL), 3);
	ck_assert_double_eq_tol(lss_num(mj, "llm", "cost", NULL), priced, 1e-12);
	cJSON_Delete(mj);
	cog_free(met);

	check_episodes(ctx, "e2e", PLAN_ID);

	/* The spans: one plan, three tasks, three turns and LLM calls with
	 * the usage, three tool calls (the tool task's, the analyst's two). */
	lss_ok(cog_ctx_set_span_hook(ctx, NULL, NULL));
	ck_assert_msg(sp.bad == 0, "%d bad spans, the first: %s", sp.bad, sp.first_bad);
	ck_assert_msg(sp.plan == 1 && sp.task == 3 && sp.turn == 3 && sp.llm == 3 && sp.tool == 3,
	              "spans: plan %d, task %d, agent.turn %d, llm %d, tool %d", sp.plan,
	              sp.task, sp.turn, sp.llm, sp.tool);
	ck_assert_double_eq(sp.llm_in, in);
	ck_assert_double_eq(sp.llm_out, out);
	cJSON_Delete(fetch);
	cJSON_Delete(an);
	cJSON_Delete(su);
	cog_plan_free(plan);
	return cost;
}

static char workspace[512], recording[512];

/* The plan against the loopback server, recorded; its cost. */
static double live_run(void)
{
	const char *dir = tmp_dir_make("agent-e2e-");
	char db[512];
	snprintf(workspace, sizeof(workspace), "%s/work", dir);
	snprintf(recording, sizeof(recording), "%s/recording.jsonl", dir);
	snprintf(db, sizeof(db), "%s/live.db", dir);
	ck_assert_int_eq(mkdir(workspace, 0700), 0);

	script sc = { .mu = PTHREAD_MUTEX_INITIALIZER };
	lss *server = lss_start(answer, &sc);
	cog_ctx *ctx = lss_ctx(server, db, 4, PRICE_IN, PRICE_OUT, recording);
	double live = run_plan(ctx, workspace);
	ck_assert_msg(sc.unexpected[0] == '\0', "unexpected request: %s", sc.unexpected);
	/* Three calls reached the server, and their usage priced is the cost. */
	ck_assert_uint_eq(lss_requests(server), 3);
	ck_assert_uint_eq(sc.answered, 3);
	ck_assert_double_eq_tol(live, (sc.in * PRICE_IN + sc.out * PRICE_OUT) / 1e6, 1e-12);
	/* The analyst's second turn saw both tool results, the summary the
	 * analysis (a dependency result). */
	bool saw_tools = false, saw_dep = false;
	for (unsigned int i = 0; i < 3; i++) {
		cJSON *req = lss_request(server, i);
		if (lss_mentions(req, "TASK-ANALYZE") && lss_count_role(req, "tool") == 2) {
			const char *t = lss_last_content(req, "tool");
			saw_tools = t && (strstr(t, "report.md") || strstr(t, "bytes") || strstr(t, "42"));
		}
		if (lss_mentions(req, "TASK-SUMMARIZE"))
			saw_dep = lss_mentions(req, ANALYSIS);
		cJSON_Delete(req);
	}
	ck_assert_msg(saw_tools, "the analyst's second turn lacks the tool results");
	ck_assert_msg(saw_dep, "the summary's request lacks the analysis");
	cog_ctx_free(ctx);
	lss_stop(server);
	/* One recorded exchange per call. */
	char *rec = read_text(recording);
	ck_assert_ptr_nonnull(rec);
	int lines = 0;
	for (const char *p = rec; *p; p++)
		lines += *p == '\n';
	free(rec);
	ck_assert_int_eq(lines, 3);
	return live;
}

START_TEST(test_goal_loopback)
{
	live_run();
	tmp_dir_remove();
}
END_TEST

/* The same plan from the recording, without a server: the same results,
 * side effects, episodes and cost. */
START_TEST(test_goal_replay)
{
	double live = live_run();
	char path[600];
	snprintf(path, sizeof(path), "%s/report.md", workspace);
	ck_assert_int_eq(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/../replay.db", workspace);
	cog_llm *replay = NULL;
	lss_ok(cog_llm_replay_new(&replay, recording));
	cog_ctx *ctx = lss_ctx_with(replay, path, 4, PRICE_IN, PRICE_OUT);
	ck_assert_double_eq_tol(run_plan(ctx, workspace), live, 1e-12);
	cog_ctx_free(ctx);
	tmp_dir_remove();
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("agent-e2e");
	TCase *tc = tcase_create("goal");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_goal_loopback);
	tcase_add_test(tc, test_goal_replay);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
