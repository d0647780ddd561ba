/*
 * The tool registry and the call pipeline through the public API: defining
 * and listing tools, argument and result checks, permissions, approvals,
 * the audit entries every call leaves, and concurrent use.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <cjson/cJSON.h>

#include <cognition.h>

#define ck_assert_cog(expr) do { \
	int rc_ = (expr); \
	ck_assert_msg(rc_ == 0, "%s: %d %s", #expr, rc_, cog_error_last()); \
} while (0)

static cog_ctx *ctx;

static void setup(void)
{
	ck_assert_cog(cog_ctx_new(&ctx, NULL));
	cog_storage *st = NULL;
	ck_assert_cog(cog_storage_memory_new(&st));
	ck_assert_cog(cog_ctx_set_storage(ctx, st));
}

static void teardown(void)
{
	cog_ctx_free(ctx);
	ctx = NULL;
}

/* ---- tools used by the tests ---- */

static atomic_int echo_calls;

/* Returns {"echo":<arguments>}. */
static int echo_fn(const cog_tool_request *req, char **result, void *ud)
{
	(void)ud;
	atomic_fetch_add(&echo_calls, 1);
	size_t n = strlen(req->arguments) + 16;
	*result = cog_malloc(n);
	snprintf(*result, n, "{\"echo\":%s}", req->arguments);
	return 0;
}

static int failing_fn(const cog_tool_request *req, char **result, void *ud)
{
	(void)req; (void)result; (void)ud;
	return cog_error_set(COG_EIO, "disk on fire");
}

static int bad_json_fn(const cog_tool_request *req, char **result, void *ud)
{
	(void)req; (void)ud;
	*result = cog_malloc(8);
	strcpy(*result, "{nope");
	return 0;
}

static int freed;
static void count_free(void *ud)
{
	(void)ud;
	freed++;
}

static const char *PATH_SCHEMA =
	"{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\",\"minLength\":1},"
	"\"n\":{\"type\":\"integer\",\"minimum\":0}},\"required\":[\"path\"],"
	"\"additionalProperties\":false}";

static void define(const char *name, cog_tool_fn fn, unsigned int flags)
{
	cog_tool_options o = COG_TOOL_OPTIONS_INIT;
	o.name = name;
	o.description = "a test tool";
	o.input_schema = PATH_SCHEMA;
	o.fn = fn;
	o.flags = flags;
	ck_assert_cog(cog_tool_define(ctx, &o));
}

static cJSON *parse(const char *text)
{
	cJSON *j = cJSON_Parse(text);
	ck_assert_msg(j != NULL, "not JSON: %s", text ? text : "(null)");
	return j;
}

/* The "error"."type" of a result, in a static buffer. */
static const char *error_type(const char *result)
{
	static char type[64];
	cJSON *j = parse(result);
	cJSON *t = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "error"), "type");
	ck_assert_msg(cJSON_IsString(t), "no error type in %s", result);
	snprintf(type, sizeof(type), "%s", t->valuestring);
	cJSON_Delete(j);
	return type;
}

static int audit_count(void)
{
	char *json = NULL;
	ck_assert_cog(cog_audit_read(ctx, 1, 0, &json));
	cJSON *a = parse(json);
	int n = cJSON_GetArraySize(a);
	cJSON_Delete(a);
	cog_free(json);
	return n;
}

/* The outcome of the last audit entry (static buffer). */
static const char *last_outcome(void)
{
	static char outcome[64];
	char *json = NULL;
	ck_assert_cog(cog_audit_read(ctx, 1, 0, &json));
	cJSON *a = parse(json);
	cJSON *last = cJSON_GetArrayItem(a, cJSON_GetArraySize(a) - 1);
	snprintf(outcome, sizeof(outcome), "%s",
		cJSON_GetStringValue(cJSON_GetObjectItem(last, "outcome")));
	cJSON_Delete(a);
	cog_free(json);
	return outcome;
}

/* ---- defining and listing ---- */

START_TEST(define_rejects_bad_definitions)
{
	cog_tool_options o = COG_TOOL_OPTIONS_INIT;
	o.fn = echo_fn;
	const char *bad_names[] = { "", "has space", "dot.ted", "slash/", "x\xc3\xa9",
		"a2345678901234567890123456789012345678901234567890123456789012345" };
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		o.name = bad_names[i];
		ck_assert_int_eq(cog_tool_define(ctx, &o), COG_EINVAL);
	}
	o.name = NULL;
	ck_assert_int_eq(cog_tool_define(ctx, &o), COG_EINVAL);
	o.name = "ok-name_1";
	o.fn = NULL;
	ck_assert_int_eq(cog_tool_define(ctx, &o), COG_EINVAL);   /* no runner */
	o.fn = echo_fn;
	o.command = "{\"argv\":[\"/bin/true\"]}";
	ck_assert_int_eq(cog_tool_define(ctx, &o), COG_EINVAL);   /* two runners */
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "exactly one runner"));
	o.command = NULL;
	o.input_schema = "{\"type\":";
	ck_assert_int_eq(cog_tool_define(ctx, &o), COG_EINVAL);
	o.input_schema = "{\"type\":\"string\"}";
	ck_assert_int_eq(cog_tool_define(ctx, &o), COG_EINVAL);
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "object"));
	o.input_schema = NULL;
	o.output_schema = "{\"type\":\"nonsense\"}";
	ck_assert_int_eq(cog_tool_define(ctx, &o), COG_EINVAL);
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "output schema"));
	o.output_schema = NULL;
	o.flags = 0x100;
	ck_assert_int_eq(cog_tool_define(ctx, &o), COG_EINVAL);
	o.flags = 0;
	o.version = 99;
	ck_assert_int_eq(cog_tool_define(ctx, &o), COG_EVERSION);
	o.version = COG_TOOL_OPTIONS_VERSION;
	ck_assert_cog(cog_tool_define(ctx, &o));
	ck_assert_int_eq(cog_tool_define(ctx, &o), COG_EEXISTS);
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "ok-name_1"));
}
END_TEST

START_TEST(define_rejects_bad_commands)
{
	cog_tool_options o = COG_TOOL_OPTIONS_INIT;
	o.name = "cmd";
	const char *bad[] = {
		"[]", "{}", "{\"argv\":[]}", "{\"argv\":[\"\"]}", "{\"argv\":[1]}",
		"{\"argv\":[\"/bin/true\"],\"env\":{\"A=B\":\"x\"}}",
		"{\"argv\":[\"/bin/true\"],\"cpu_seconds\":-1}",
		"{\"argv\":[\"/bin/true\"],\"network\":\"yes\"}",
		"{\"argv\":[\"/bin/true\"],\"shell\":true}", "not json",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o.command = bad[i];
		ck_assert_msg(cog_tool_define(ctx, &o) == COG_EINVAL, "accepted %s", bad[i]);
		ck_assert_ptr_nonnull(strstr(cog_error_last(), "cmd"));
	}
	o.command = "{\"argv\":[\"/bin/cat\"],\"env\":{\"A\":\"1\"},\"cpu_seconds\":2,"
		"\"network\":false}";
	ck_assert_cog(cog_tool_define(ctx, &o));
}
END_TEST

START_TEST(free_user_data_runs_once)
{
	freed = 0;
	cog_tool_options o = COG_TOOL_OPTIONS_INIT;
	o.name = "a";
	o.fn = echo_fn;
	o.free_user_data = count_free;
	ck_assert_cog(cog_tool_define(ctx, &o));
	ck_assert_int_eq(cog_tool_define(ctx, &o), COG_EEXISTS);
	ck_assert_int_eq(freed, 0); /* failed define: caller keeps user_data */
	ck_assert_cog(cog_tool_remove(ctx, "a"));
	ck_assert_int_eq(freed, 1);
	ck_assert_int_eq(cog_tool_remove(ctx, "a"), COG_ENOTFOUND);
	o.name = "b";
	ck_assert_cog(cog_tool_define(ctx, &o));
	cog_ctx_free(ctx);
	ctx = NULL;
	ck_assert_int_eq(freed, 2);
	ck_assert_cog(cog_ctx_new(&ctx, NULL));
}
END_TEST

START_TEST(list_in_three_formats)
{
	define("zeta", echo_fn, COG_TOOL_IDEMPOTENT);
	define("alpha", echo_fn, COG_TOOL_SIDE_EFFECTS | COG_TOOL_NEEDS_NETWORK);
	define("file_read", echo_fn, 0);
	char *json = NULL;
	ck_assert_cog(cog_tool_list(ctx, NULL, COG_TOOL_FORMAT_COG, &json));
	cJSON *a = parse(json);
	ck_assert_int_eq(cJSON_GetArraySize(a), 3);
	ck_assert_str_eq(cJSON_GetArrayItem(a, 0)->child->valuestring, "alpha");
	cJSON *alpha = cJSON_GetArrayItem(a, 0);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(alpha, "flags")), 2);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(alpha, "runner")), "callback");
	ck_assert(cJSON_IsObject(cJSON_GetObjectItem(alpha, "input_schema")));
	cJSON_Delete(a);
	cog_free(json);

	ck_assert_cog(cog_tool_list(ctx, "*a*", COG_TOOL_FORMAT_OPENAI, &json));
	a = parse(json);
	ck_assert_int_eq(cJSON_GetArraySize(a), 3); /* alpha, file_read, zeta */
	cJSON *f = cJSON_GetObjectItem(cJSON_GetArrayItem(a, 1), "function");
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetArrayItem(a, 1)->child), "function");
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(f, "name")), "file_read");
	ck_assert(cJSON_IsObject(cJSON_GetObjectItem(f, "parameters")));
	cJSON_Delete(a);
	cog_free(json);

	ck_assert_cog(cog_tool_list(ctx, "file_?ead", COG_TOOL_FORMAT_ANTHROPIC, &json));
	a = parse(json);
	ck_assert_int_eq(cJSON_GetArraySize(a), 1);
	ck_assert(cJSON_IsObject(cJSON_GetObjectItem(cJSON_GetArrayItem(a, 0), "input_schema")));
	cJSON_Delete(a);
	cog_free(json);
	ck_assert_int_eq(cog_tool_list(ctx, NULL, 7, &json), COG_EINVAL);
	ck_assert_ptr_null(json);
}
END_TEST

/* ---- the call pipeline ---- */

START_TEST(call_passes_arguments_and_returns_result)
{
	define("echo", echo_fn, 0);
	char *result = NULL;
	ck_assert_cog(cog_tool_call(ctx, "echo", "{\"path\":\"a.txt\",\"n\":2}", NULL, &result));
	ck_assert_str_eq(result, "{\"echo\":{\"path\":\"a.txt\",\"n\":2}}");
	cog_free(result);
	ck_assert_str_eq(last_outcome(), "ok");
	ck_assert_cog(cog_audit_verify(ctx, NULL));
}
END_TEST

START_TEST(invalid_arguments_come_back_for_the_model)
{
	define("echo", echo_fn, 0);
	atomic_store(&echo_calls, 0);
	char *result = NULL;
	ck_assert_int_eq(cog_tool_call(ctx, "echo", "{\"path\":3}", NULL, &result), COG_ESCHEMA);
	ck_assert_int_eq(atomic_load(&echo_calls), 0);
	cJSON *j = parse(result);
	cJSON *err = cJSON_GetObjectItem(j, "error");
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(err, "type")),
		"invalid_arguments");
	cJSON *d0 = cJSON_GetArrayItem(cJSON_GetObjectItem(err, "details"), 0);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(d0, "instance")), "/path");
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(d0, "keyword")), "type");
	cJSON_Delete(j);
	cog_free(result);
	ck_assert_str_eq(last_outcome(), "invalid_arguments");

	/* Not JSON at all, or not an object: also readable by the model. */
	ck_assert_int_eq(cog_tool_call(ctx, "echo", "{\"path\":", NULL, &result), COG_EINVAL);
	ck_assert_str_eq(error_type(result), "invalid_arguments");
	cog_free(result);
	ck_assert_int_eq(cog_tool_call(ctx, "echo", "[1]", NULL, &result), COG_EINVAL);
	ck_assert_str_eq(error_type(result), "invalid_arguments");
	cog_free(result);
	/* No silent coercion: "2" is not an integer. */
	ck_assert_int_eq(cog_tool_call(ctx, "echo", "{\"path\":\"x\",\"n\":\"2\"}", NULL,
		&result), COG_ESCHEMA);
	cog_free(result);
	ck_assert_int_eq(cog_tool_call(ctx, "echo", "{\"path\":\"x\",\"extra\":1}", NULL,
		&result), COG_ESCHEMA);
	cog_free(result);
	ck_assert_int_eq(atomic_load(&echo_calls), 0);
}
END_TEST

START_TEST(unknown_tool_failing_tool_and_bad_results)
{
	char *result = NULL;
	ck_assert_int_eq(cog_tool_call(ctx, "nope", "{}", NULL, &result), COG_ENOTFOUND);
	ck_assert_str_eq(error_type(result), "not_found");
	cog_free(result);
	ck_assert_str_eq(last_outcome(), "not_found");

	define("fails", failing_fn, 0);
	ck_assert_int_eq(cog_tool_call(ctx, "fails", "{\"path\":\"x\"}", NULL, &result), COG_EUSER);
	ck_assert_str_eq(error_type(result), "tool_error");
	ck_assert_ptr_nonnull(strstr(result, "disk on fire"));
	cog_free(result);

	define("bad_json", bad_json_fn, 0);
	ck_assert_int_eq(cog_tool_call(ctx, "bad_json", "{\"path\":\"x\"}", NULL, &result),
		COG_EUSER);
	ck_assert_str_eq(error_type(result), "invalid_result");
	cog_free(result);

	cog_tool_options o = COG_TOOL_OPTIONS_INIT;
	o.name = "strict_out";
	o.fn = echo_fn;
	o.output_schema = "{\"type\":\"object\",\"required\":[\"missing\"]}";
	ck_assert_cog(cog_tool_define(ctx, &o));
	ck_assert_int_eq(cog_tool_call(ctx, "strict_out", "{}", NULL, &result), COG_ESCHEMA);
	ck_assert_str_eq(error_type(result), "invalid_result");
	cog_free(result);

	o.name = "small_out";
	o.output_schema = NULL;
	o.max_output_bytes = 10;
	ck_assert_cog(cog_tool_define(ctx, &o));
	ck_assert_int_eq(cog_tool_call(ctx, "small_out", "{\"path\":\"long enough\"}", NULL,
		&result), COG_EUSER);
	ck_assert_ptr_nonnull(strstr(result, "limit"));
	cog_free(result);

	ck_assert_int_eq(cog_tool_call(NULL, "x", "{}", NULL, &result), COG_EINVAL);
	ck_assert_int_eq(cog_tool_call(ctx, NULL, "{}", NULL, &result), COG_EINVAL);
	ck_assert_int_eq(cog_tool_call(ctx, "x", "{}", NULL, NULL), COG_EINVAL);
	cog_tool_call_options co = COG_TOOL_CALL_OPTIONS_INIT;
	co.version = 42;
	ck_assert_int_eq(cog_tool_call(ctx, "echo", "{}", &co, &result), COG_EVERSION);
	ck_assert_cog(cog_audit_verify(ctx, NULL));
}
END_TEST

/* ---- permissions ---- */

START_TEST(roles_and_allow_lists)
{
	define("file_read", echo_fn, 0);
	define("shell", echo_fn, 0);
	cog_tool_call_options co = COG_TOOL_CALL_OPTIONS_INIT;
	co.principal = "{\"tenant\":\"acme\",\"id\":\"alice\",\"roles\":[\"analyst\"]}";
	char *result = NULL;
	const char *args = "{\"path\":\"x\"}";
	ck_assert_int_eq(cog_tool_call(ctx, "file_read", args, &co, &result), COG_EDENIED);
	ck_assert_str_eq(error_type(result), "denied");
	ck_assert_ptr_nonnull(strstr(result, "alice"));
	cog_free(result);
	ck_assert_str_eq(last_outcome(), "denied");

	ck_assert_cog(cog_tool_grant(ctx, "analyst", "file_*"));
	ck_assert_cog(cog_tool_grant(ctx, "analyst", "file_*")); /* harmless twice */
	ck_assert_cog(cog_tool_call(ctx, "file_read", args, &co, &result));
	cog_free(result);
	ck_assert_int_eq(cog_tool_call(ctx, "shell", args, &co, &result), COG_EDENIED);
	cog_free(result);

	/* The agent's allow-list narrows what the roles allow. */
	co.agent = "reader";
	co.allowed_tools = "[\"shell\"]";
	ck_assert_int_eq(cog_tool_call(ctx, "file_read", args, &co, &result), COG_EDENIED);
	ck_assert_ptr_nonnull(strstr(result, "reader"));
	cog_free(result);
	co.allowed_tools = "[\"file_?ead\"]";
	ck_assert_cog(cog_tool_call(ctx, "file_read", args, &co, &result));
	cog_free(result);
	co.allowed_tools = "not json";
	ck_assert_int_eq(cog_tool_call(ctx, "file_read", args, &co, &result), COG_EDENIED);
	cog_free(result);
	co.allowed_tools = NULL;

	/* A revoke takes effect at once. */
	ck_assert_cog(cog_tool_revoke(ctx, "analyst", "file_*"));
	ck_assert_int_eq(cog_tool_revoke(ctx, "analyst", "file_*"), COG_ENOTFOUND);
	ck_assert_int_eq(cog_tool_call(ctx, "file_read", args, &co, &result), COG_EDENIED);
	cog_free(result);

	/* Malformed principals are denied, not trusted. */
	co.principal = "{\"id\":\"bob\",\"roles\":\"admin\"}";
	ck_assert_cog(cog_tool_grant(ctx, "admin", "*"));
	ck_assert_int_eq(cog_tool_call(ctx, "file_read", args, &co, &result), COG_EDENIED);
	cog_free(result);
	co.principal = "[";
	ck_assert_int_eq(cog_tool_call(ctx, "file_read", args, &co, &result), COG_EDENIED);
	cog_free(result);
	co.principal = "{\"id\":\"root\",\"roles\":[\"admin\"]}";
	ck_assert_cog(cog_tool_call(ctx, "shell", args, &co, &result));
	cog_free(result);
	/* The host itself (no principal) may call anything. */
	ck_assert_cog(cog_tool_call(ctx, "shell", args, NULL, &result));
	cog_free(result);
	ck_assert_cog(cog_audit_verify(ctx, NULL));
}
END_TEST

START_TEST(network_tools_need_a_grant)
{
	define("fetch", echo_fn, COG_TOOL_NEEDS_NETWORK);
	char *result = NULL;
	ck_assert_int_eq(cog_tool_call(ctx, "fetch", "{\"path\":\"x\"}", NULL, &result),
		COG_EDENIED);
	ck_assert_ptr_nonnull(strstr(result, "network"));
	cog_free(result);
	cog_tool_call_options co = COG_TOOL_CALL_OPTIONS_INIT;
	co.allowed_hosts = "[]";
	ck_assert_int_eq(cog_tool_call(ctx, "fetch", "{\"path\":\"x\"}", &co, &result),
		COG_EDENIED);
	cog_free(result);
	co.allowed_hosts = "[\"example.org\"]";
	ck_assert_cog(cog_tool_call(ctx, "fetch", "{\"path\":\"x\"}", &co, &result));
	cog_free(result);
}
END_TEST

/* ---- approvals ---- */

static int approval_answer;
static const char *approval_edit;
static int approvals_asked;
static char last_request[2048];

static int approver(const char *request, char **edited, void *ud)
{
	(void)ud;
	approvals_asked++;
	snprintf(last_request, sizeof(last_request), "%s", request);
	if (approval_edit) {
		*edited = cog_malloc(strlen(approval_edit) + 1);
		strcpy(*edited, approval_edit);
	}
	return approval_answer;
}

START_TEST(approval_hook_decides)
{
	define("rm", echo_fn, COG_TOOL_NEEDS_APPROVAL | COG_TOOL_SIDE_EFFECTS);
	char *result = NULL;
	const char *args = "{\"path\":\"precious\"}";
	/* No hook: denied, never run. */
	atomic_store(&echo_calls, 0);
	ck_assert_int_eq(cog_tool_call(ctx, "rm", args, NULL, &result), COG_EDENIED);
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "approval hook"));
	cog_free(result);

	ck_assert_cog(cog_tool_set_approval_hook(ctx, approver, NULL));
	approval_answer = COG_APPROVAL_DENY;
	approval_edit = NULL;
	ck_assert_int_eq(cog_tool_call(ctx, "rm", args, NULL, &result), COG_EDENIED);
	cog_free(result);
	ck_assert_int_eq(atomic_load(&echo_calls), 0);
	cJSON *req = parse(last_request);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(req, "tool")), "rm");
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(
		cJSON_GetObjectItem(req, "arguments"), "path")), "precious");
	cJSON_Delete(req);

	approval_answer = COG_APPROVAL_APPROVE;
	ck_assert_cog(cog_tool_call(ctx, "rm", args, NULL, &result));
	cog_free(result);
	ck_assert_int_eq(atomic_load(&echo_calls), 1);

	/* Edited arguments are what runs, after the schema checks them. */
	approval_answer = COG_APPROVAL_EDIT;
	approval_edit = "{\"path\":\"scratch\"}";
	ck_assert_cog(cog_tool_call(ctx, "rm", args, NULL, &result));
	ck_assert_str_eq(result, "{\"echo\":{\"path\":\"scratch\"}}");
	cog_free(result);
	approval_edit = "{\"path\":5}";
	ck_assert_int_eq(cog_tool_call(ctx, "rm", args, NULL, &result), COG_ESCHEMA);
	ck_assert_str_eq(error_type(result), "invalid_arguments");
	cog_free(result);
	approval_edit = NULL; /* EDIT without arguments */
	ck_assert_int_eq(cog_tool_call(ctx, "rm", args, NULL, &result), COG_EUSER);
	cog_free(result);
	approval_answer = 17;
	ck_assert_int_eq(cog_tool_call(ctx, "rm", args, NULL, &result), COG_EUSER);
	cog_free(result);
	approval_answer = COG_EIO;
	ck_assert_int_eq(cog_tool_call(ctx, "rm", args, NULL, &result), COG_EUSER);
	cog_free(result);
	ck_assert_int_eq(atomic_load(&echo_calls), 2);
	ck_assert_cog(cog_audit_verify(ctx, NULL));
}
END_TEST

static char *pending_id(int expected_count)
{
	char *json = NULL;
	ck_assert_cog(cog_tool_approvals(ctx, &json));
	cJSON *a = parse(json);
	cog_free(json);
	ck_assert_int_eq(cJSON_GetArraySize(a), expected_count);
	char *id = NULL;
	if (expected_count) {
		const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(a, 0), "id"));
		id = strdup(s);
	}
	cJSON_Delete(a);
	return id;
}

START_TEST(deferred_approval_waits_for_a_decision)
{
	define("deploy", echo_fn, COG_TOOL_NEEDS_APPROVAL);
	ck_assert_cog(cog_tool_set_approval_hook(ctx, approver, NULL));
	approval_answer = COG_APPROVAL_DEFER;
	approval_edit = NULL;
	atomic_store(&echo_calls, 0);
	cog_tool_call_options co = COG_TOOL_CALL_OPTIONS_INIT;
	co.call_id = "plan-1/deploy/1";
	char *result = NULL;
	const char *args = "{\"path\":\"prod\"}";
	ck_assert_int_eq(cog_tool_call(ctx, "deploy", args, &co, &result), COG_EPENDING);
	ck_assert_str_eq(error_type(result), "approval_pending");
	cog_free(result);
	ck_assert_str_eq(last_outcome(), "approval_pending");
	char *id = pending_id(1);

	/* Asked again, the hook may still defer: one record, not two. */
	ck_assert_int_eq(cog_tool_call(ctx, "deploy", args, &co, &result), COG_EPENDING);
	cog_free(result);
	free(pending_id(1));

	/* The host decides later, without the hook. */
	ck_assert_cog(cog_tool_set_approval_hook(ctx, NULL, NULL));
	ck_assert_int_eq(cog_tool_approval_decide(ctx, id, COG_APPROVAL_EDIT,
		"{\"path\":1}"), COG_ESCHEMA);
	ck_assert_int_eq(cog_tool_approval_decide(ctx, id, COG_APPROVAL_DEFER, NULL), COG_EINVAL);
	ck_assert_int_eq(cog_tool_approval_decide(ctx, "nope", COG_APPROVAL_APPROVE, NULL),
		COG_ENOTFOUND);
	ck_assert_cog(cog_tool_approval_decide(ctx, id, COG_APPROVAL_EDIT, "{\"path\":\"staging\"}"));
	ck_assert_int_eq(cog_tool_approval_decide(ctx, id, COG_APPROVAL_APPROVE, NULL), COG_EEXISTS);
	free(pending_id(0));
	ck_assert_int_eq(atomic_load(&echo_calls), 0);

	/* The same call goes ahead with the edited arguments... */
	ck_assert_cog(cog_tool_call(ctx, "deploy", args, &co, &result));
	ck_assert_str_eq(result, "{\"echo\":{\"path\":\"staging\"}}");
	cog_free(result);
	/* ...but the decision does not carry over to other arguments. */
	ck_assert_int_eq(cog_tool_call(ctx, "deploy", "{\"path\":\"other\"}", &co, &result),
		COG_EDENIED);
	cog_free(result);
	free(id);

	/* A denial is remembered too. */
	ck_assert_cog(cog_tool_set_approval_hook(ctx, approver, NULL));
	co.call_id = "plan-1/deploy/2";
	ck_assert_int_eq(cog_tool_call(ctx, "deploy", args, &co, &result), COG_EPENDING);
	cog_free(result);
	id = pending_id(1);
	ck_assert_cog(cog_tool_approval_decide(ctx, id, COG_APPROVAL_DENY, NULL));
	ck_assert_int_eq(cog_tool_call(ctx, "deploy", args, &co, &result), COG_EDENIED);
	cog_free(result);
	free(id);
	ck_assert_int_eq(atomic_load(&echo_calls), 1);
	ck_assert_cog(cog_audit_verify(ctx, NULL));
}
END_TEST

/* ---- audit, events, threads ---- */

static atomic_int tool_events;
static void on_event(const char *event, void *ud)
{
	(void)ud;
	if (strstr(event, "\"type\":\"tool.call\""))
		atomic_fetch_add(&tool_events, 1);
}

START_TEST(every_call_is_audited_and_announced)
{
	cog_ctx_free(ctx);
	cog_ctx_options opts = COG_CTX_OPTIONS_INIT;
	opts.event_fn = on_event;
	ck_assert_cog(cog_ctx_new(&ctx, &opts));
	/* No storage: the registry keeps its own in-memory log. */
	define("echo", echo_fn, 0);
	atomic_store(&tool_events, 0);
	char *result = NULL;
	ck_assert_cog(cog_tool_call(ctx, "echo", "{\"path\":\"a\"}", NULL, &result));
	cog_free(result);
	ck_assert_int_eq(cog_tool_call(ctx, "echo", "{}", NULL, &result), COG_ESCHEMA);
	cog_free(result);
	ck_assert_int_eq(cog_tool_call(ctx, "missing", "{}", NULL, &result), COG_ENOTFOUND);
	cog_free(result);
	ck_assert_int_eq(audit_count(), 3);
	ck_assert_int_eq(atomic_load(&tool_events), 3);
	char *report = NULL;
	ck_assert_cog(cog_audit_verify(ctx, &report));
	ck_assert_ptr_nonnull(strstr(report, "\"ok\":true"));
	cog_free(report);
}
END_TEST

static void *caller_thread(void *arg)
{
	(void)arg;
	cog_tool_call_options co = COG_TOOL_CALL_OPTIONS_INIT;
	co.principal = "{\"id\":\"t\",\"roles\":[\"worker\"]}";
	for (int i = 0; i < 100; i++) {
		char *result = NULL;
		int rc = cog_tool_call(ctx, "echo", "{\"path\":\"p\"}", &co, &result);
		if (rc != COG_OK && rc != COG_EDENIED)
			return (void *)1;
		cog_free(result);
	}
	return NULL;
}

START_TEST(concurrent_calls_and_grants)
{
	define("echo", echo_fn, 0);
	pthread_t threads[4];
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&threads[i], NULL, caller_thread, NULL), 0);
	for (int i = 0; i < 50; i++) {
		ck_assert_cog(cog_tool_grant(ctx, "worker", "e*"));
		ck_assert_cog(cog_tool_revoke(ctx, "worker", "e*"));
	}
	for (int i = 0; i < 4; i++) {
		void *ret;
		pthread_join(threads[i], &ret);
		ck_assert_ptr_null(ret);
	}
	ck_assert_int_eq(audit_count(), 400);
	ck_assert_cog(cog_audit_verify(ctx, NULL));
}
END_TEST

START_TEST(workspace_setting)
{
	ck_assert_int_eq(cog_tool_set_workspace(ctx, "/definitely/not/here"), COG_ENOTFOUND);
	ck_assert_int_eq(cog_tool_set_workspace(ctx, "/etc/passwd"), COG_EINVAL);
	ck_assert_cog(cog_tool_set_workspace(ctx, "/tmp"));
	ck_assert_cog(cog_tool_set_workspace(ctx, NULL));
}
END_TEST

/* ---- what the review found ---- */

static int status_to_return;
static int status_fn(const cog_tool_request *req, char **result, void *ud)
{
	(void)req; (void)result; (void)ud;
	return cog_error_set(status_to_return, "runner says %d", status_to_return);
}

START_TEST(runner_statuses_are_mapped)
{
	define("st", status_fn, 0);
	static const struct { int given, expected; const char *type; } cases[] = {
		{ COG_ETIMEOUT, COG_ETIMEOUT, "timeout" },
		{ COG_ECANCELED, COG_ECANCELED, "canceled" },
		{ COG_EUNAVAILABLE, COG_EUNAVAILABLE, "unavailable" },
		{ COG_EDENIED, COG_EDENIED, "denied" },
		{ COG_ENOTFOUND, COG_ENOTFOUND, "tool_error" },  /* a missing file */
		{ COG_EPENDING, COG_EUSER, "tool_error" },       /* no approval to wait for */
		{ COG_ESCHEMA, COG_EUSER, "tool_error" },
		{ COG_ERANGE, COG_EUSER, "tool_error" },
		{ COG_EINTEGRITY, COG_EUSER, "tool_error" },
		{ COG_EIO, COG_EUSER, "tool_error" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		status_to_return = cases[i].given;
		char *result = NULL;
		ck_assert_int_eq(cog_tool_call(ctx, "st", "{\"path\":\"x\"}", NULL, &result),
			cases[i].expected);
		ck_assert_str_eq(error_type(result), cases[i].type);
		ck_assert_ptr_nonnull(strstr(result, "runner says"));
		cog_free(result);
	}
}
END_TEST

static int failing_approver(const char *request, char **edited, void *ud)
{
	(void)request; (void)edited; (void)ud;
	return cog_error_set(COG_EUNAVAILABLE, "cannot reach the approver service at example.net");
}

START_TEST(hook_failure_keeps_its_message)
{
	define("rm", echo_fn, COG_TOOL_NEEDS_APPROVAL);
	ck_assert_cog(cog_tool_set_approval_hook(ctx, failing_approver, NULL));
	char *result = NULL;
	ck_assert_int_eq(cog_tool_call(ctx, "rm", "{\"path\":\"x\"}", NULL, &result), COG_EUSER);
	ck_assert_msg(strstr(cog_error_last(), "cannot reach the approver service at example.net") &&
		!strstr(strstr(cog_error_last(), "hook failed") + 1, "hook failed"),
		"message: %s", cog_error_last());
	cog_free(result);
}
END_TEST

START_TEST(nul_cannot_shorten_roles_globs_or_arguments)
{
	define("t", echo_fn, 0);
	ck_assert_cog(cog_tool_grant(ctx, "admin", "*"));
	cog_tool_call_options co = COG_TOOL_CALL_OPTIONS_INIT;
	co.principal = "{\"id\":\"m\",\"roles\":[\"admin\\u0000-readonly\"]}";
	char *result = NULL;
	ck_assert_int_eq(cog_tool_call(ctx, "t", "{\"path\":\"x\"}", &co, &result), COG_EDENIED);
	cog_free(result);
	co.principal = NULL;
	co.allowed_tools = "[\"t\\u0000x\"]";
	ck_assert_int_eq(cog_tool_call(ctx, "t", "{\"path\":\"x\"}", &co, &result), COG_EDENIED);
	cog_free(result);
	co.allowed_tools = NULL;
	ck_assert_int_eq(cog_tool_call(ctx, "t", "{\"path\":\"a\\u0000b\"}", &co, &result),
		COG_EINVAL);
	cog_free(result);
	/* A text \\u0000 (backslash, then u0000) is fine. */
	ck_assert_cog(cog_tool_call(ctx, "t", "{\"path\":\"a\\\\u0000b\"}", &co, &result));
	cog_free(result);
	co.call_id = "id\nwith a newline";
	ck_assert_int_eq(cog_tool_call(ctx, "t", "{\"path\":\"x\"}", &co, &result), COG_EINVAL);
}
END_TEST

START_TEST(an_approval_serves_one_call_of_one_principal)
{
	define("deploy", echo_fn, COG_TOOL_NEEDS_APPROVAL);
	ck_assert_cog(cog_tool_grant(ctx, "ops", "*"));
	ck_assert_cog(cog_tool_set_approval_hook(ctx, approver, NULL));
	approval_answer = COG_APPROVAL_DEFER;
	approval_edit = NULL;
	cog_tool_call_options co = COG_TOOL_CALL_OPTIONS_INIT;
	co.principal = "{\"id\":\"alice\",\"roles\":[\"ops\"],\"password\":\"hunter2\"}";
	co.call_id = "k2";
	char *result = NULL;
	const char *args = "{\"path\":\"prod\",\"n\":1}";
	ck_assert_int_eq(cog_tool_call(ctx, "deploy", args, &co, &result), COG_EPENDING);
	cog_free(result);
	char *json = NULL;
	ck_assert_cog(cog_tool_approvals(ctx, &json));
	ck_assert_ptr_null(strstr(json, "hunter2")); /* records are redacted */
	cog_free(json);
	char *id = pending_id(1);
	ck_assert_cog(cog_tool_approval_decide(ctx, id, COG_APPROVAL_APPROVE, NULL));
	free(id);
	ck_assert_cog(cog_tool_set_approval_hook(ctx, NULL, NULL));
	atomic_store(&echo_calls, 0);
	/* Another principal with the same call id gets nothing from it. */
	cog_tool_call_options mallory = co;
	mallory.principal = "{\"id\":\"mallory\",\"roles\":[\"ops\"]}";
	ck_assert_int_eq(cog_tool_call(ctx, "deploy", args, &mallory, &result), COG_EDENIED);
	cog_free(result);
	/* Alice's call runs once; the approval is then used up. */
	ck_assert_cog(cog_tool_call(ctx, "deploy", args, &co, &result));
	cog_free(result);
	ck_assert_int_eq(cog_tool_call(ctx, "deploy", args, &co, &result), COG_EDENIED);
	cog_free(result);
	ck_assert_int_eq(atomic_load(&echo_calls), 1);
	/* The decision is in the audit log. */
	ck_assert_cog(cog_audit_read(ctx, 1, 0, &json));
	ck_assert_ptr_nonnull(strstr(json, "approval_approved"));
	cog_free(json);
}
END_TEST

START_TEST(a_pending_record_goes_once_the_hook_decides)
{
	define("deploy", echo_fn, COG_TOOL_NEEDS_APPROVAL);
	ck_assert_cog(cog_tool_set_approval_hook(ctx, approver, NULL));
	approval_answer = COG_APPROVAL_DEFER;
	approval_edit = NULL;
	cog_tool_call_options co = COG_TOOL_CALL_OPTIONS_INIT;
	co.call_id = "k3";
	char *result = NULL;
	ck_assert_int_eq(cog_tool_call(ctx, "deploy", "{\"path\":\"p\"}", &co, &result),
		COG_EPENDING);
	cog_free(result);
	free(pending_id(1));
	approval_answer = COG_APPROVAL_APPROVE;
	ck_assert_cog(cog_tool_call(ctx, "deploy", "{\"path\":\"p\"}", &co, &result));
	cog_free(result);
	free(pending_id(0));
}
END_TEST

START_TEST(only_real_grants_open_the_network)
{
	define("fetch", echo_fn, COG_TOOL_NEEDS_NETWORK);
	cog_tool_call_options co = COG_TOOL_CALL_OPTIONS_INIT;
	const char *not_grants[] = { "[ ]", "garbage", "[\"\"]", "[1]", "{}", "[\"a\\u0000\"]" };
	for (size_t i = 0; i < sizeof(not_grants) / sizeof(not_grants[0]); i++) {
		co.allowed_hosts = not_grants[i];
		char *result = NULL;
		ck_assert_msg(cog_tool_call(ctx, "fetch", "{\"path\":\"x\"}", &co, &result) ==
			COG_EDENIED, "%s counted as a grant", not_grants[i]);
		cog_free(result);
	}
	/* A command that wants the network must say so with the flag. */
	cog_tool_options o = COG_TOOL_OPTIONS_INIT;
	o.name = "netcmd";
	o.command = "{\"argv\":[\"/bin/true\"],\"network\":true}";
	ck_assert_int_eq(cog_tool_define(ctx, &o), COG_EINVAL);
	o.flags = COG_TOOL_NEEDS_NETWORK;
	ck_assert_cog(cog_tool_define(ctx, &o));
	ck_assert_int_eq(cog_tool_revoke(ctx, "r", "g"), COG_ENOTFOUND);
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "no grant"));
}
END_TEST

static Suite *tool_suite(void)
{
	Suite *s = suite_create("tool");
	TCase *tc = tcase_create("registry");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, define_rejects_bad_definitions);
	tcase_add_test(tc, define_rejects_bad_commands);
	tcase_add_test(tc, free_user_data_runs_once);
	tcase_add_test(tc, list_in_three_formats);
	tcase_add_test(tc, workspace_setting);
	suite_add_tcase(s, tc);
	tc = tcase_create("call");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, call_passes_arguments_and_returns_result);
	tcase_add_test(tc, invalid_arguments_come_back_for_the_model);
	tcase_add_test(tc, unknown_tool_failing_tool_and_bad_results);
	tcase_add_test(tc, roles_and_allow_lists);
	tcase_add_test(tc, network_tools_need_a_grant);
	tcase_add_test(tc, approval_hook_decides);
	tcase_add_test(tc, deferred_approval_waits_for_a_decision);
	tcase_add_test(tc, every_call_is_audited_and_announced);
	tcase_add_test(tc, concurrent_calls_and_grants);
	tcase_add_test(tc, runner_statuses_are_mapped);
	tcase_add_test(tc, hook_failure_keeps_its_message);
	tcase_add_test(tc, nul_cannot_shorten_roles_globs_or_arguments);
	tcase_add_test(tc, an_approval_serves_one_call_of_one_principal);
	tcase_add_test(tc, a_pending_record_goes_once_the_hook_decides);
	tcase_add_test(tc, only_real_grants_open_the_network);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(tool_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
