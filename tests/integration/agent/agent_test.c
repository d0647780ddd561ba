/* Helpers the agent integration tests share (agent_test.h). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cognition/curl.h>
#include <cognition/sqlite.h>

#include "agent_test.h"

cog_ctx *at_ctx;
ws_server *at_server;

/* what at_tool_answer / at_tool_fail saw */
static atomic_uint tool_calls;
static pthread_mutex_t call_id_mu = PTHREAD_MUTEX_INITIALIZER;
static char last_call_id[512];

/* ---- the fixture ---- */

cog_ctx *at_ctx_new(const char *db_path)
{
	cog_ctx_options co = COG_CTX_OPTIONS_INIT;
	co.event_fn = at_on_event;
	co.log_level = COG_LOG_WARN;
	cog_ctx *ctx = NULL;
	ck_assert_cog(cog_ctx_new(&ctx, &co));
	if (db_path) {
		cog_sqlite_options so = COG_SQLITE_OPTIONS_INIT;
		cog_storage *st = NULL;
		ck_assert_cog(cog_sqlite_storage_open(&st, db_path, &so));
		ck_assert_cog(cog_ctx_set_storage(ctx, st));
	}
	cog_transport *transport = NULL;
	ck_assert_cog(cog_curl_transport_new(&transport, NULL));
	ck_assert_cog(cog_ctx_set_transport(ctx, transport));

	char base[128];
	snprintf(base, sizeof(base), "%s/v1", ws_url(at_server));
	cog_llm_provider_options o = COG_LLM_PROVIDER_OPTIONS_INIT;
	o.provider = COG_LLM_OPENAI;
	o.base_url = base;
	o.api_key = "sk-agent-test";
	o.model = AT_MODEL;
	cog_llm *llm = NULL;
	ck_assert_cog(cog_llm_provider_new(&llm, ctx, &o));
	ck_assert_cog(cog_llm_add_endpoint(ctx, "main", llm, NULL));
	/* Routes name the model, so that calls are priced. */
	char config[1024];
	snprintf(config, sizeof(config),
	         "{\"routes\":{"
	         "\"executor\":{\"models\":[{\"endpoint\":\"main\",\"model\":\"" AT_MODEL "\"}]},"
	         "\"critic\":{\"models\":[{\"endpoint\":\"main\",\"model\":\"" AT_MODEL "\"}]},"
	         "\"planner\":{\"models\":[{\"endpoint\":\"main\",\"model\":\"" AT_MODEL "\"}]}},"
	         "\"prices\":{\"" AT_MODEL "\":{\"input\":%g,\"output\":%g}},"
	         "\"retry\":{\"max_attempts\":1}}", AT_PRICE_INPUT, AT_PRICE_OUTPUT);
	ck_assert_cog(cog_llm_configure(ctx, config));
	return ctx;
}

void at_setup(void)
{
	/* fresh counters also when Check does not fork (CK_FORK=no) */
	atomic_store(&tool_calls, 0);
	pthread_mutex_lock(&call_id_mu);
	last_call_id[0] = '\0';
	pthread_mutex_unlock(&call_id_mu);
	tmp_dir_make("cog-agent-");
	ck_assert_msg(ws_start(&at_server) == 0, "the wire server did not start");
	at_ctx = at_ctx_new(tmp_file("agent.db"));
}

void at_teardown(void)
{
	cog_ctx_free(at_ctx);
	at_ctx = NULL;
	ws_stop(at_server);
	at_server = NULL;
	at_events_clear();
	at_spans_clear();
	tmp_dir_remove();
}

/* ---- answers ---- */

static cJSON *completion(cJSON **message, unsigned int in, unsigned int out,
                         const char *finish)
{
	cJSON *r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "id", "chatcmpl-agent");
	cJSON_AddStringToObject(r, "object", "chat.completion");
	cJSON_AddNumberToObject(r, "created", 1700000000);
	cJSON_AddStringToObject(r, "model", AT_MODEL);
	cJSON *choice = cJSON_CreateObject();
	cJSON_AddItemToArray(cJSON_AddArrayToObject(r, "choices"), choice);
	cJSON_AddNumberToObject(choice, "index", 0);
	*message = cJSON_AddObjectToObject(choice, "message");
	cJSON_AddStringToObject(*message, "role", "assistant");
	cJSON_AddStringToObject(choice, "finish_reason", finish);
	cJSON *usage = cJSON_AddObjectToObject(r, "usage");
	cJSON_AddNumberToObject(usage, "prompt_tokens", in);
	cJSON_AddNumberToObject(usage, "completion_tokens", out);
	cJSON_AddNumberToObject(usage, "total_tokens", in + out);
	return r;
}

static void push_json(cJSON *r)
{
	char *body = cJSON_PrintUnformatted(r);
	ck_assert_ptr_nonnull(body);
	ws_answer a = ws_answer_body(200, "application/json", body);
	ck_assert_int_eq(ws_push(at_server, &a), 0);
	free(body);
	cJSON_Delete(r);
}

void at_push_text(const char *content, unsigned int input_tokens,
                  unsigned int output_tokens)
{
	cJSON *msg;
	cJSON *r = completion(&msg, input_tokens, output_tokens, "stop");
	cJSON_AddStringToObject(msg, "content", content);
	push_json(r);
}

void at_push_tools(const at_call *calls, size_t n, unsigned int input_tokens,
                   unsigned int output_tokens)
{
	cJSON *msg;
	cJSON *r = completion(&msg, input_tokens, output_tokens, "tool_calls");
	cJSON_AddNullToObject(msg, "content");
	cJSON *list = cJSON_AddArrayToObject(msg, "tool_calls");
	for (size_t i = 0; i < n; i++) {
		char id[32];
		snprintf(id, sizeof(id), "call_%zu", i + 1);
		cJSON *c = cJSON_CreateObject();
		cJSON_AddStringToObject(c, "id", id);
		cJSON_AddStringToObject(c, "type", "function");
		cJSON *f = cJSON_AddObjectToObject(c, "function");
		cJSON_AddStringToObject(f, "name", calls[i].name);
		cJSON_AddStringToObject(f, "arguments", calls[i].arguments);
		cJSON_AddItemToArray(list, c);
	}
	push_json(r);
}

void at_push_tool(const char *name, const char *arguments,
                  unsigned int input_tokens, unsigned int output_tokens)
{
	at_call c = { name, arguments };
	at_push_tools(&c, 1, input_tokens, output_tokens);
}

void at_push_error(int status)
{
	ws_answer a = ws_answer_body(status, "application/json",
		"{\"error\":{\"message\":\"refused by the test\",\"type\":\"invalid_request_error\"}}");
	ck_assert_int_eq(ws_push(at_server, &a), 0);
}

cJSON *at_sent(unsigned int i)
{
	char *body = ws_request_body(at_server, i);
	ck_assert_msg(body != NULL, "no request %u", i);
	cJSON *json = cJSON_Parse(body);
	ck_assert_msg(json != NULL, "request %u body is not JSON: %.200s", i, body);
	free(body);
	return json;
}

char *at_sent_text(unsigned int i)
{
	cJSON *body = at_sent(i);
	size_t cap = 1, len = 0;
	char *text = calloc(1, 1);
	ck_assert_ptr_nonnull(text);
	const cJSON *m;
	cJSON_ArrayForEach(m, cJSON_GetObjectItem(body, "messages")) {
		const char *c = cJSON_GetStringValue(cJSON_GetObjectItem(m, "content"));
		char *printed = NULL;
		if (!c) {
			/* content parts, or an assistant message with tool calls */
			printed = cJSON_PrintUnformatted(m);
			c = printed;
		}
		size_t n = strlen(c);
		cap = len + n + 2;
		char *grown = realloc(text, cap);
		ck_assert_ptr_nonnull(grown);
		text = grown;
		memcpy(text + len, c, n);
		len += n;
		text[len++] = '\n';
		text[len] = '\0';
		free(printed);
	}
	cJSON_Delete(body);
	return text;
}

cJSON *at_sent_message(unsigned int i, const char *role, int n)
{
	cJSON *body = at_sent(i);
	cJSON *found = NULL;
	const cJSON *m;
	cJSON_ArrayForEach(m, cJSON_GetObjectItem(body, "messages")) {
		const char *r = cJSON_GetStringValue(cJSON_GetObjectItem(m, "role"));
		if (r && strcmp(r, role) == 0 && n-- == 0) {
			found = cJSON_Duplicate(m, 1);
			break;
		}
	}
	cJSON_Delete(body);
	return found;
}

unsigned int at_requests(void)
{
	return ws_requests(at_server);
}

/* ---- tools ---- */


void at_define_tool(cog_ctx *ctx, const char *name, const char *schema,
                    unsigned int flags, cog_tool_fn fn, void *ud)
{
	cog_tool_options o = COG_TOOL_OPTIONS_INIT;
	o.name = name;
	o.description = "a tool of the agent tests";
	o.input_schema = schema;
	o.flags = flags;
	o.fn = fn;
	o.user_data = ud;
	ck_assert_cog(cog_tool_define(ctx, &o));
}

void at_define_text_tool(cog_ctx *ctx, const char *name, const char *description,
                         const char *field, unsigned int flags, cog_tool_fn fn, void *ud)
{
	char schema[256];
	snprintf(schema, sizeof(schema), "{\"type\":\"object\",\"properties\":{\"%s\":"
		"{\"type\":\"string\"}},\"required\":[\"%s\"],\"additionalProperties\":false}",
		field, field);
	cog_tool_options o = COG_TOOL_OPTIONS_INIT;
	o.name = name;
	o.description = description;
	o.input_schema = schema;
	o.flags = flags;
	o.fn = fn;
	o.user_data = ud;
	ck_assert_cog(cog_tool_define(ctx, &o));
}

static char *dup_cog(const char *text)
{
	size_t n = strlen(text) + 1;
	char *copy = cog_malloc(n);
	ck_assert_ptr_nonnull(copy);
	memcpy(copy, text, n);
	return copy;
}

int at_tool_answer(const cog_tool_request *req, char **result, void *ud)
{
	atomic_fetch_add(&tool_calls, 1);
	pthread_mutex_lock(&call_id_mu);
	snprintf(last_call_id, sizeof(last_call_id), "%s", req->call_id ? req->call_id : "");
	pthread_mutex_unlock(&call_id_mu);
	*result = dup_cog(ud ? (const char *)ud : "{}");
	return 0;
}

int at_tool_fail(const cog_tool_request *req, char **result, void *ud)
{
	(void)ud; (void)result;
	atomic_fetch_add(&tool_calls, 1);
	cog_error_set(COG_EUSER, "it broke: %s", req->arguments);
	return COG_EUSER;
}

unsigned int at_tool_calls(void)
{
	return atomic_load(&tool_calls);
}

const char *at_tool_last_call_id(void)
{
	static char copy[512];
	pthread_mutex_lock(&call_id_mu);
	memcpy(copy, last_call_id, sizeof(copy));
	pthread_mutex_unlock(&call_id_mu);
	return copy;
}

/* ---- agents ---- */

void at_define_agent(cog_ctx *ctx, const char *definition_json)
{
	ck_assert_cog(cog_agent_define(ctx, definition_json));
}

cog_agent *at_spawn(cog_ctx *ctx, const char *name)
{
	cog_agent *a = NULL;
	ck_assert_cog(cog_agent_spawn(&a, ctx, name));
	ck_assert_ptr_nonnull(a);
	return a;
}

int at_run(cog_agent *agent, const char *task_json,
           const cog_agent_run_options *options, cJSON **result)
{
	char *text = NULL;
	int rc = cog_agent_run(agent, task_json, options, &text);
	*result = NULL;
	if (text) {
		*result = cJSON_Parse(text);
		ck_assert_msg(*result != NULL, "result is not JSON: %s", text);
	}
	cog_free(text);
	return rc;
}

/* ---- JSON ---- */

cJSON *at_parse(const char *text)
{
	ck_assert_ptr_nonnull(text);
	cJSON *j = cJSON_Parse(text);
	ck_assert_msg(j != NULL, "not JSON: %.300s", text);
	return j;
}

const cJSON *at_get(const cJSON *root, const char *path)
{
	char copy[256];
	snprintf(copy, sizeof(copy), "%s", path);
	const cJSON *at = root;
	char *save = NULL;
	for (char *part = strtok_r(copy, ".", &save); part && at;
	     part = strtok_r(NULL, ".", &save)) {
		if (cJSON_IsArray(at)) {
			char *end;
			long i = strtol(part, &end, 10);
			at = *end ? NULL : cJSON_GetArrayItem(at, (int)i);
		} else {
			at = cJSON_GetObjectItemCaseSensitive(at, part);
		}
	}
	return at;
}

const char *at_str(const cJSON *root, const char *path)
{
	const cJSON *it = at_get(root, path);
	ck_assert_msg(cJSON_IsString(it), "%s is not a string", path);
	return it->valuestring;
}

double at_num(const cJSON *root, const char *path)
{
	const cJSON *it = at_get(root, path);
	ck_assert_msg(cJSON_IsNumber(it), "%s is not a number", path);
	return it->valuedouble;
}

void at_assert_json(const cJSON *item, const char *expected)
{
	cJSON *want = cJSON_Parse(expected);
	ck_assert_ptr_nonnull(want);
	char *got = cJSON_PrintUnformatted(item);
	ck_assert_msg(cJSON_Compare(want, item, true), "got %s\nwant %s", got, expected);
	free(got);
	cJSON_Delete(want);
}

void at_assert_has(const char *text, const char *needle, bool contains)
{
	ck_assert_ptr_nonnull(text);
	ck_assert_msg((strstr(text, needle) != NULL) == contains, "%s \"%s\" in: %.2000s",
	              contains ? "no" : "unexpected", needle, text);
}
