/*
 * An agent's tool calls under the tool layer's approvals, in parallel, and
 * canceled, against the loopback OpenAI-compatible server:
 *   - a side-effecting tool flagged COG_TOOL_NEEDS_APPROVAL: the approver
 *     denies (the model reads the denial as a tool error and answers),
 *     approves, edits (the tool sees the edited arguments);
 *   - defers: the plan's task is pending (COG_EPENDING); the approval is
 *     decided with cog_tool_approval_decide; the plan runs again: the LLM
 *     is not asked again for the journaled turn and the tool runs once,
 *     with the approved arguments;
 *   - three calls in one answer run at the same time, and cancellation
 *     (agent_approvals_run.c).
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent_approvals.h"
#include "test_tmp.h"

#define DONE_DEPLOY "deploy finished"

/* ---- the model ---- */

static char *answer(unsigned int index, const cJSON *req, int *status, void *ud)
{
	(void)index; (void)ud;
	cJSON *calls = cJSON_CreateArray();
	const char *content = NULL;
	bool second = lss_count_role(req, "tool") > 0;
	if (lss_mentions(req, "TASK-DEPLOY")) {
		if (second)
			content = DONE_DEPLOY;
		else
			lss_add_call(calls, "call_d1", "deploy", "{\"target\":\"prod\"}");
	} else if (lss_mentions(req, "TASK-PARALLEL")) {
		if (second) {
			content = DONE_PARALLEL;
		} else {
			lss_add_call(calls, "call_p1", "meet", "{\"n\":1}");
			lss_add_call(calls, "call_p2", "meet", "{\"n\":2}");
			lss_add_call(calls, "call_p3", "meet", "{\"n\":3}");
		}
	} else if (lss_mentions(req, "TASK-SLOW")) {
		if (second)
			content = "slow finished";
		else
			lss_add_call(calls, "call_s1", "slow", "{}");
	} else if (lss_mentions(req, "TASK-HOLD")) {
		cJSON_Delete(calls);
		return NULL;
	} else {
		cJSON_Delete(calls);
		*status = 400;
		return strdup("{\"error\":{\"message\":\"unexpected request\"}}");
	}
	char *body = lss_completion(content, calls, lss_content_bytes(req) / 4, 8);
	cJSON_Delete(calls);
	return body;
}

/* ---- tools ---- */

pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int deploys;
static char deployed_to[64];

static int deploy(const cog_tool_request *r, char **result, void *ud)
{
	(void)ud;
	cJSON *args = cJSON_Parse(r->arguments);
	const char *t = cJSON_GetStringValue(cJSON_GetObjectItem(args, "target"));
	pthread_mutex_lock(&mu);
	deploys++;
	snprintf(deployed_to, sizeof(deployed_to), "%s", t ? t : "?");
	pthread_mutex_unlock(&mu);
	char buf[128];
	snprintf(buf, sizeof(buf), "{\"deployed\":\"%s\"}", t ? t : "?");
	cJSON_Delete(args);
	*result = lss_cog_strdup(buf);
	return 0;
}

void deadline_in(struct timespec *ts, int seconds)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += seconds;
}

void define_tool(cog_ctx *c, const char *name, const char *schema, unsigned int flags,
                 cog_tool_fn fn)
{
	cog_tool_options t = COG_TOOL_OPTIONS_INIT;
	t.name = name;
	t.description = name;
	t.input_schema = schema;
	t.flags = flags;
	t.fn = fn;
	t.timeout_ms = 120000;
	lss_ok(cog_tool_define(c, &t));
}

/* ---- the approver ---- */

typedef struct approver {
	int decision;
	const char *edited;
	int asked;
	char request[1024];
} approver;

static int approve(const char *request_json, char **edited, void *ud)
{
	approver *a = ud;
	pthread_mutex_lock(&mu);
	a->asked++;
	snprintf(a->request, sizeof(a->request), "%s", request_json);
	pthread_mutex_unlock(&mu);
	if (a->decision == COG_APPROVAL_EDIT)
		*edited = lss_cog_strdup(a->edited);
	return a->decision;
}

/* ---- fixture ---- */

lss *server;
cog_ctx *ctx;

static void setup(void)
{
	const char *dir = tmp_dir_make("agent-approvals-");
	char db[512];
	snprintf(db, sizeof(db), "%s/run.db", dir);
	pthread_mutex_lock(&mu);
	deploys = 0;
	deployed_to[0] = '\0';
	pthread_mutex_unlock(&mu);
	server = lss_start(answer, NULL);
	ctx = lss_ctx(server, db, 4, 1.0, 1.0, NULL);
	define_tool(ctx, "deploy", "{\"type\":\"object\",\"properties\":{\"target\":"
		"{\"type\":\"string\",\"enum\":[\"prod\",\"staging\",\"canary\"]}},"
		"\"required\":[\"target\"],\"additionalProperties\":false}",
		COG_TOOL_SIDE_EFFECTS | COG_TOOL_NEEDS_APPROVAL, deploy);
	define_run_tools(ctx);
	lss_ok(cog_agent_define(ctx, "{\"name\":\"deployer\",\"instructions\":\"You deploy.\","
		"\"capabilities\":[\"deploy\"],\"tools\":[\"deploy\",\"meet\",\"slow\"],"
		"\"max_tokens\":64}"));
}

static void teardown(void)
{
	cog_ctx_free(ctx);
	lss_stop(server);
	tmp_dir_remove();
}

/* Run the deployer on `prompt`: the status, the result parsed. */
int run_agent(const char *prompt, cJSON **result)
{
	cog_agent *agent = NULL;
	lss_ok(cog_agent_spawn(&agent, ctx, "deployer"));
	char task[256];
	snprintf(task, sizeof(task), "{\"prompt\":\"%s\"}", prompt);
	cog_agent_run_options o = COG_AGENT_RUN_OPTIONS_INIT;
	char *res = NULL;
	int rc = cog_agent_run(agent, task, &o, &res);
	*result = res ? cJSON_Parse(res) : NULL;
	cog_free(res);
	cog_agent_free(agent);
	return rc;
}

/* The content of the tool message of the second request. */
static char *second_tool_message(void)
{
	ck_assert_uint_eq(lss_requests(server), 2);
	cJSON *req = lss_request(server, 1);
	const char *t = lss_last_content(req, "tool");
	ck_assert_msg(t != NULL, "no tool message in the second request");
	char *copy = strdup(t);
	cJSON_Delete(req);
	return copy;
}

void check_answered(int rc, cJSON *result, const char *content)
{
	char *text = cJSON_PrintUnformatted(result);
	ck_assert_msg(rc == 0, "run: %d %s; result %s", rc, cog_error_last(), text);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(result, "content")), content);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(result, "stopped")), "answer");
	free(text);
}

START_TEST(test_deny)
{
	approver ap = { .decision = COG_APPROVAL_DENY };
	lss_ok(cog_tool_set_approval_hook(ctx, approve, &ap));
	cJSON *result = NULL;
	int rc = run_agent("TASK-DEPLOY: deploy to prod", &result);
	check_answered(rc, result, DONE_DEPLOY);
	ck_assert_int_eq(ap.asked, 1);
	ck_assert_msg(strstr(ap.request, "\"prod\"") && strstr(ap.request, "deployer"),
	              "approval request %s", ap.request);
	ck_assert_int_eq(deploys, 0);
	char *t = second_tool_message();
	ck_assert_msg(strstr(t, "denied") && strstr(t, "error"), "the model saw %s", t);
	free(t);
	cJSON_Delete(result);
}
END_TEST

START_TEST(test_approve)
{
	approver ap = { .decision = COG_APPROVAL_APPROVE };
	lss_ok(cog_tool_set_approval_hook(ctx, approve, &ap));
	cJSON *result = NULL;
	int rc = run_agent("TASK-DEPLOY: deploy to prod", &result);
	check_answered(rc, result, DONE_DEPLOY);
	ck_assert_int_eq(ap.asked, 1);
	ck_assert_int_eq(deploys, 1);
	ck_assert_str_eq(deployed_to, "prod");
	ck_assert_double_eq(lss_num(result, "tool_calls", NULL), 1);
	char *t = second_tool_message();
	ck_assert_msg(strstr(t, "\"deployed\"") && strstr(t, "prod"), "the model saw %s", t);
	free(t);
	cJSON_Delete(result);
}
END_TEST

START_TEST(test_edit)
{
	approver ap = { .decision = COG_APPROVAL_EDIT, .edited = "{\"target\":\"staging\"}" };
	lss_ok(cog_tool_set_approval_hook(ctx, approve, &ap));
	cJSON *result = NULL;
	int rc = run_agent("TASK-DEPLOY: deploy to prod", &result);
	check_answered(rc, result, DONE_DEPLOY);
	ck_assert_int_eq(deploys, 1);
	ck_assert_str_eq(deployed_to, "staging");
	char *t = second_tool_message();
	ck_assert_msg(strstr(t, "staging") && !strstr(t, "prod"), "the model saw %s", t);
	free(t);
	cJSON_Delete(result);
}
END_TEST

START_TEST(test_defer_then_decide)
{
	approver ap = { .decision = COG_APPROVAL_DEFER };
	lss_ok(cog_tool_set_approval_hook(ctx, approve, &ap));
	cog_agent_run_options ao = COG_AGENT_RUN_OPTIONS_INIT;
	lss_ok(cog_ctx_set_task_executor(ctx, cog_task_run_agent, &ao));
	cog_plan *plan = NULL;
	lss_ok(cog_plan_from_json(&plan, ctx,
		"{\"version\":1,\"id\":\"approval-plan\",\"goal\":\"deploy\",\"tasks\":["
		"{\"id\":\"deploy\",\"kind\":\"llm\","
		"\"inputs\":{\"prompt\":\"TASK-DEPLOY: deploy to prod\",\"agent\":\"deployer\"}}]}"));
	cog_run_options ro = COG_RUN_OPTIONS_INIT;
	ro.durability = COG_DURABLE_ON;
	int rc = cog_plan_run(plan, &ro);
	ck_assert_msg(rc == COG_EPENDING, "first run: %d %s", rc, cog_error_last());
	ck_assert_int_eq(ap.asked, 1);
	ck_assert_int_eq(deploys, 0);
	ck_assert_uint_eq(lss_requests(server), 1);

	/* One pending approval, for this plan's task. */
	char *pending = NULL;
	lss_ok(cog_tool_approvals(ctx, &pending));
	cJSON *p = cJSON_Parse(pending);
	ck_assert_msg(cJSON_GetArraySize(p) == 1, "pending: %s", pending);
	const cJSON *a0 = cJSON_GetArrayItem(p, 0);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(a0, "tool")), "deploy");
	const char *call_id = cJSON_GetStringValue(cJSON_GetObjectItem(a0, "call_id"));
	ck_assert_msg(call_id && strstr(call_id, "approval-plan/deploy/"), "call id %s",
	              call_id ? call_id : "(none)");
	lss_ok(cog_tool_approval_decide(ctx, cJSON_GetStringValue(cJSON_GetObjectItem(a0, "id")),
		COG_APPROVAL_EDIT, "{\"target\":\"canary\"}"));
	cJSON_Delete(p);
	cog_free(pending);

	/* Again: the first answer comes from the journal, the tool runs once
	 * with the decided arguments, the hook is not asked again. */
	rc = cog_plan_run(plan, &ro);
	ck_assert_msg(rc == 0, "second run: %d %s", rc, cog_error_last());
	ck_assert_int_eq(deploys, 1);
	ck_assert_str_eq(deployed_to, "canary");
	ck_assert_int_eq(ap.asked, 1);
	ck_assert_uint_eq(lss_requests(server), 2);
	int first_turns = 0;
	for (unsigned int i = 0; i < 2; i++) {
		cJSON *req = lss_request(server, i);
		first_turns += lss_count_role(req, "tool") == 0;
		cJSON_Delete(req);
	}
	ck_assert_int_eq(first_turns, 1);
	char *t = second_tool_message();
	ck_assert_msg(strstr(t, "canary"), "the model saw %s", t);
	free(t);
	char *json = NULL;
	lss_ok(cog_plan_task_status(plan, "deploy", &json));
	cJSON *st = cJSON_Parse(json);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(st, "state")), "succeeded");
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(
		cJSON_GetObjectItem(st, "result"), "content")), DONE_DEPLOY);
	cJSON_Delete(st);
	cog_free(json);
	pending = NULL;
	lss_ok(cog_tool_approvals(ctx, &pending));
	ck_assert_str_eq(pending, "[]");
	cog_free(pending);
	cog_plan_free(plan);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("agent-approvals");
	TCase *tc = tcase_create("approvals");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_deny);
	tcase_add_test(tc, test_approve);
	tcase_add_test(tc, test_edit);
	tcase_add_test(tc, test_defer_then_decide);
	add_run_tests(tc);
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
