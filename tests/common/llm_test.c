/* Helpers the LLM integration tests share (llm_test.h). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cognition/curl.h>

#include "llm_test.h"
#include "test_tmp.h"

cog_ctx *ctx_with_curl(const cog_ctx_options *options)
{
	cog_ctx *ctx = NULL;
	cog_transport *transport = NULL;
	ck_assert_cog(cog_ctx_new(&ctx, options));
	ck_assert_cog(cog_curl_transport_new(&transport, NULL));
	ck_assert_cog(cog_ctx_set_transport(ctx, transport));
	return ctx;
}

ws_server *start_wire_server(void)
{
	ws_server *server = NULL;
	ck_assert_msg(ws_start(&server) == 0, "the wire server did not start");
	return server;
}

cog_llm *provider_at(cog_ctx *ctx, int kind, const ws_server *server, const char *path,
                     const char *key, const char *model)
{
	char base[128];
	snprintf(base, sizeof(base), "%s%s", ws_url(server), path);
	cog_llm_provider_options o = COG_LLM_PROVIDER_OPTIONS_INIT;
	o.provider = kind;
	o.base_url = base;
	o.api_key = key;
	o.model = model;
	cog_llm *llm = NULL;
	ck_assert_cog(cog_llm_provider_new(&llm, ctx, &o));
	return llm;
}

int llm_events_add(const char *json, size_t len, void *user_data)
{
	llm_events *s = user_data;
	cJSON *ev = cJSON_ParseWithLength(json, len);
	const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(ev, "type"));
	ck_assert_msg(type != NULL, "event %.*s", (int)len, json);
	s->events++;
	if (strcmp(type, "text") == 0) {
		strcat(s->text, cJSON_GetObjectItem(ev, "text")->valuestring);
	} else {
		int i = cJSON_GetObjectItem(ev, "index")->valueint;
		ck_assert(i >= 0 && i < 4);
		const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(ev, "id"));
		const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(ev, "name"));
		if (id)
			snprintf(s->calls[i].id, 64, "%s", id);
		if (name)
			snprintf(s->calls[i].name, 64, "%s", name);
		strcat(s->calls[i].args, cJSON_GetObjectItem(ev, "arguments")->valuestring);
		if (i + 1 > s->n_calls)
			s->n_calls = i + 1;
	}
	cJSON_Delete(ev);
	return 0;
}

int chat_parsed(cog_llm *llm, const char *request, llm_events *events, cJSON **response,
                cog_llm_call *call)
{
	cog_llm_call c = COG_LLM_CALL_INIT;
	if (events) {
		memset(events, 0, sizeof(*events));
		c.on_event = llm_events_add;
		c.event_user_data = events;
	}
	char *text = NULL;
	int rc = cog_llm_backend_chat(llm, request, &c, &text);
	*response = rc ? NULL : cJSON_Parse(text);
	cog_free(text);
	if (call)
		*call = c;
	return rc;
}

void assert_json(const cJSON *item, const char *expected)
{
	cJSON *want = cJSON_Parse(expected);
	ck_assert_ptr_nonnull(want);
	char *got = cJSON_PrintUnformatted(item);
	ck_assert_msg(cJSON_Compare(want, item, true), "got %s\nwant %s", got, expected);
	free(got);
	cJSON_Delete(want);
}

cJSON *sent_json(ws_server *server, unsigned int i)
{
	char *body = ws_request_body(server, i);
	ck_assert_msg(body != NULL, "no request %u", i);
	cJSON *json = cJSON_Parse(body);
	ck_assert_msg(json != NULL, "request %u body is not JSON: %.200s", i, body);
	free(body);
	return json;
}

/* ---- the log ---- */

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char *log_text;
static size_t log_len;

void log_keep(int level, const char *line, void *user_data)
{
	(void)level; (void)user_data;
	pthread_mutex_lock(&log_mu);
	size_t n = strlen(line);
	char *grown = realloc(log_text, log_len + n + 2);
	ck_assert_ptr_nonnull(grown);
	log_text = grown;
	memcpy(log_text + log_len, line, n);
	log_len += n;
	log_text[log_len++] = '\n';
	log_text[log_len] = '\0';
	pthread_mutex_unlock(&log_mu);
}

char *log_kept(void)
{
	pthread_mutex_lock(&log_mu);
	char *copy = strdup(log_text ? log_text : "");
	pthread_mutex_unlock(&log_mu);
	ck_assert_ptr_nonnull(copy);
	return copy;
}

void log_forget(void)
{
	pthread_mutex_lock(&log_mu);
	free(log_text);
	log_text = NULL;
	log_len = 0;
	pthread_mutex_unlock(&log_mu);
}

/* ---- the planner tests (test_llm_planner.c, test_llm_replay.c) ---- */

/* The warnings the library logged (the fallback says why) do or do not
 * contain text. */
void assert_warned(const char *text, bool contain)
{
	char *log = log_kept();
	ck_assert_msg((strstr(log, text) != NULL) == contain, "%s \"%s\" in the warnings: %s",
		contain ? "no" : "unexpected", text, log);
	free(log);
}

/* Nothing was logged at all. */
void assert_no_warnings(void)
{
	char *log = log_kept();
	ck_assert_msg(log[0] == '\0', "warnings: %s", log);
	free(log);
}

static int note_fn(const cog_tool_request *req, char **result, void *ud)
{
	(void)req; (void)ud;
	*result = cog_malloc(3);
	memcpy(*result, "{}", 3);
	return 0;
}

const char NOTE_SCHEMA[] =
	"{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\"}},"
	"\"required\":[\"text\"],\"additionalProperties\":false}";

void define_tool(cog_ctx *c, const char *name, const char *description,
                 const char *schema)
{
	cog_tool_options o = COG_TOOL_OPTIONS_INIT;
	o.name = name;
	o.description = description;
	o.input_schema = schema;
	o.flags = COG_TOOL_IDEMPOTENT;
	o.fn = note_fn;
	ck_assert_cog(cog_tool_define(c, &o));
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
}

static char template_dir[256];

/* Only the template directory the test makes (one template, for goals
 * that say "deploy"); no keys from outside. */
void make_templates(void)
{
	setenv("COG_TEMPLATE_DIR", "", 1);
	unsetenv("COG_TEMPLATE_PATH");
	unsetenv("OPENAI_API_KEY");
	snprintf(template_dir, sizeof(template_dir), "%s", tmp_dir_make("cog-llm-planner-"));
	write_file(tmp_file("deploy.json"), "{\"name\":\"deploy\",\"description\":"
		"\"Deploy an app\",\"patterns\":[\"(?i)\\\\bdeploy\\\\b\"],"
		"\"tasks\":[{\"id\":\"from_template\",\"title\":\"Deploy ${goal}\"}]}");
}

/* A context that logs warnings (log_kept()), with the test's templates
 * and the note tool; its transport real libcurl, or none at all. */
cog_ctx *planner_ctx(bool with_curl)
{
	cog_ctx_options o = COG_CTX_OPTIONS_INIT;
	o.log_fn = log_keep;
	o.log_level = COG_LOG_WARN;
	cog_ctx *c = NULL;
	if (with_curl)
		c = ctx_with_curl(&o);
	else
		ck_assert_cog(cog_ctx_new(&c, &o));
	ck_assert_cog(cog_ctx_add_template_dir(c, template_dir));
	define_tool(c, "note", "Write a short note to the team.", NOTE_SCHEMA);
	return c;
}

/* llm as endpoint "main" of c; the planner's route names its own model,
 * so the wire shows which route was taken. */
void use_llm(cog_ctx *c, cog_llm *llm)
{
	ck_assert_cog(cog_llm_add_endpoint(c, "main", llm, NULL));
	ck_assert_cog(cog_llm_configure(c,
		"{\"routes\":{\"planner\":{\"models\":[{\"endpoint\":\"main\","
		"\"model\":\"planner-model\"}]}},"
		"\"retry\":{\"max_attempts\":1},\"schema_retries\":2}"));
}

/* The OpenAI provider of c at the wire server. */
cog_llm *openai_llm(cog_ctx *c, const ws_server *server)
{
	return provider_at(c, COG_LLM_OPENAI, server, "/v1", "sk-test-secret", "gpt-test");
}

/* Queue an OpenAI chat completion whose text is `content`. */
void push_plan_answer(ws_server *server, const char *content)
{
	cJSON *r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "id", "chatcmpl-1");
	cJSON_AddStringToObject(r, "object", "chat.completion");
	cJSON_AddNumberToObject(r, "created", 1700000000);
	cJSON_AddStringToObject(r, "model", "planner-model");
	cJSON *choice = cJSON_CreateObject();
	cJSON_AddItemToArray(cJSON_AddArrayToObject(r, "choices"), choice);
	cJSON_AddNumberToObject(choice, "index", 0);
	cJSON *msg = cJSON_AddObjectToObject(choice, "message");
	cJSON_AddStringToObject(msg, "role", "assistant");
	cJSON_AddStringToObject(msg, "content", content);
	cJSON_AddStringToObject(choice, "finish_reason", "stop");
	cJSON *usage = cJSON_AddObjectToObject(r, "usage");
	cJSON_AddNumberToObject(usage, "prompt_tokens", 100);
	cJSON_AddNumberToObject(usage, "completion_tokens", 50);
	cJSON_AddNumberToObject(usage, "total_tokens", 150);
	char *body = cJSON_PrintUnformatted(r);
	ws_answer a = ws_answer_body(200, "application/json", body);
	ck_assert_int_eq(ws_push(server, &a), 0);
	cJSON_free(body);
	cJSON_Delete(r);
}

const char VALID_PLAN[] =
	"{\"tasks\":[{\"id\":\"write\",\"title\":\"Write the note\",\"kind\":\"tool\","
	"\"tool\":\"note\",\"inputs\":{\"text\":\"hello\"},\"idempotent\":true},"
	"{\"id\":\"review\",\"title\":\"Review it\",\"kind\":\"llm\","
	"\"inputs\":{\"prompt\":\"Review the note\"},\"depends_on\":[\"write\"],"
	"\"estimate\":{\"tokens\":500,\"cost\":0.01,\"duration_ms\":2000}}]}";

cog_plan *plan_ok(cog_ctx *ctx, const char *goal)
{
	cog_plan *plan = NULL;
	int rc = cog_plan_from_goal(&plan, ctx, goal);
	ck_assert_msg(rc == 0, "cog_plan_from_goal: %d %s", rc, cog_error_last());
	ck_assert_ptr_nonnull(plan);
	return plan;
}

void assert_error(int rc, int expected, const char *text)
{
	ck_assert_msg(rc == expected, "status %d (%s), expected %d", rc, cog_error_last(),
		expected);
	ck_assert_msg(strstr(cog_error_last(), text), "\"%s\" lacks \"%s\"", cog_error_last(),
		text);
}

/* The model's plan, as cog_plan_export() gives it. */
void assert_is_valid_plan(cog_plan *plan, const char *goal)
{
	ck_assert_int_eq(cog_plan_task_count(plan), 2);
	ck_assert_str_eq(cog_plan_goal(plan), goal);
	char *json = NULL;
	ck_assert_cog(cog_plan_export(plan, COG_PLAN_FORMAT_JSON, &json));
	ck_assert_ptr_nonnull(strstr(json, "\"tool\":\"note\""));
	ck_assert_ptr_nonnull(strstr(json, "\"depends_on\":[\"write\"]"));
	cog_free(json);
	char *status = NULL;
	ck_assert_cog(cog_plan_task_status(plan, "review", &status));
	cog_free(status);
}
