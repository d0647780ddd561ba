/* The scripted server's answers, what tests read of its requests, and a
 * context that talks to it (llm_script_server.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <cognition/curl.h>
#include <cognition/sqlite.h>

#include "llm_script_server.h"

/* ---- answers and requests ---- */

void lss_add_call(cJSON *calls, const char *id, const char *name, const char *arguments_json)
{
	cJSON *c = cJSON_CreateObject();
	cJSON_AddStringToObject(c, "id", id);
	cJSON_AddStringToObject(c, "name", name);
	cJSON *args = cJSON_Parse(arguments_json);
	ck_assert_msg(args != NULL, "bad arguments %s", arguments_json);
	cJSON_AddItemToObject(c, "arguments", args);
	cJSON_AddItemToArray(calls, c);
}

char *lss_completion(const char *content, const cJSON *calls, unsigned long input_tokens,
                     unsigned long output_tokens)
{
	static unsigned long seq;
	cJSON *root = cJSON_CreateObject();
	char id[64];
	snprintf(id, sizeof(id), "chatcmpl-%lu", __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED));
	cJSON_AddStringToObject(root, "id", id);
	cJSON_AddStringToObject(root, "object", "chat.completion");
	cJSON_AddNumberToObject(root, "created", 1764000000);
	cJSON_AddStringToObject(root, "model", "m1");
	cJSON *choices = cJSON_AddArrayToObject(root, "choices");
	cJSON *choice = cJSON_CreateObject();
	cJSON_AddItemToArray(choices, choice);
	cJSON_AddNumberToObject(choice, "index", 0);
	cJSON *msg = cJSON_AddObjectToObject(choice, "message");
	cJSON_AddStringToObject(msg, "role", "assistant");
	if (content)
		cJSON_AddStringToObject(msg, "content", content);
	else
		cJSON_AddNullToObject(msg, "content");
	bool tools = cJSON_GetArraySize(calls) > 0;
	if (tools) {
		cJSON *tc = cJSON_AddArrayToObject(msg, "tool_calls");
		const cJSON *c;
		cJSON_ArrayForEach(c, calls) {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "id", cJSON_GetObjectItem(c, "id")->valuestring);
			cJSON_AddStringToObject(o, "type", "function");
			cJSON *f = cJSON_AddObjectToObject(o, "function");
			cJSON_AddStringToObject(f, "name", cJSON_GetObjectItem(c, "name")->valuestring);
			char *args = cJSON_PrintUnformatted(cJSON_GetObjectItem(c, "arguments"));
			cJSON_AddStringToObject(f, "arguments", args);
			free(args);
			cJSON_AddItemToArray(tc, o);
		}
	}
	cJSON_AddNullToObject(choice, "logprobs");
	cJSON_AddStringToObject(choice, "finish_reason", tools ? "tool_calls" : "stop");
	cJSON *usage = cJSON_AddObjectToObject(root, "usage");
	cJSON_AddNumberToObject(usage, "prompt_tokens", (double)input_tokens);
	cJSON_AddNumberToObject(usage, "completion_tokens", (double)output_tokens);
	cJSON_AddNumberToObject(usage, "total_tokens", (double)(input_tokens + output_tokens));
	char *text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	ck_assert_ptr_nonnull(text);
	return text;
}

const cJSON *lss_messages(const cJSON *request)
{
	return cJSON_GetObjectItemCaseSensitive(request, "messages");
}

const char *lss_last_role(const cJSON *request)
{
	int n = cJSON_GetArraySize(lss_messages(request));
	const cJSON *last = n > 0 ? cJSON_GetArrayItem(lss_messages(request), n - 1) : NULL;
	const char *role = cJSON_GetStringValue(cJSON_GetObjectItem(last, "role"));
	return role ? role : "";
}

bool lss_mentions(const cJSON *request, const char *text)
{
	const cJSON *m;
	cJSON_ArrayForEach(m, lss_messages(request)) {
		const char *c = cJSON_GetStringValue(cJSON_GetObjectItem(m, "content"));
		if (c && strstr(c, text))
			return true;
	}
	return false;
}

const char *lss_last_content(const cJSON *request, const char *role)
{
	const char *found = NULL;
	const cJSON *m;
	cJSON_ArrayForEach(m, lss_messages(request)) {
		const char *r = cJSON_GetStringValue(cJSON_GetObjectItem(m, "role"));
		if (r && strcmp(r, role) == 0)
			found = cJSON_GetStringValue(cJSON_GetObjectItem(m, "content"));
	}
	return found;
}

int lss_count_role(const cJSON *request, const char *role)
{
	int n = 0;
	const cJSON *m;
	cJSON_ArrayForEach(m, lss_messages(request)) {
		const char *r = cJSON_GetStringValue(cJSON_GetObjectItem(m, "role"));
		n += r && strcmp(r, role) == 0;
	}
	return n;
}

unsigned long lss_max_tokens(const cJSON *request)
{
	const cJSON *mt = cJSON_GetObjectItem(request, "max_tokens");
	if (!cJSON_IsNumber(mt))
		mt = cJSON_GetObjectItem(request, "max_completion_tokens");
	return cJSON_IsNumber(mt) && mt->valuedouble > 0 ? (unsigned long)mt->valuedouble : 0;
}

unsigned long lss_content_bytes(const cJSON *request)
{
	unsigned long n = 0;
	const cJSON *m;
	cJSON_ArrayForEach(m, lss_messages(request)) {
		const char *c = cJSON_GetStringValue(cJSON_GetObjectItem(m, "content"));
		if (c)
			n += (unsigned long)strlen(c);
	}
	return n;
}

/* ---- a context that talks to it ---- */

static cog_ctx *bare_ctx(const char *db_path, unsigned int workers)
{
	cog_ctx_options o = COG_CTX_OPTIONS_INIT;
	o.worker_threads = workers;
	o.log_level = COG_LOG_ERROR;
	cog_ctx *ctx = NULL;
	lss_ok(cog_ctx_new(&ctx, &o));
	cog_transport *t = NULL;
	lss_ok(cog_curl_transport_new(&t, NULL));
	lss_ok(cog_ctx_set_transport(ctx, t));
	if (db_path) {
		cog_storage *st = NULL;
		cog_sqlite_options so = COG_SQLITE_OPTIONS_INIT;
		so.durability = COG_SQLITE_DURABLE_NORMAL;
		lss_ok(cog_sqlite_storage_open(&st, db_path, &so));
		lss_ok(cog_ctx_set_storage(ctx, st));
	}
	return ctx;
}

static void use_llm(cog_ctx *ctx, cog_llm *llm, double price_in, double price_out)
{
	lss_ok(cog_llm_add_endpoint(ctx, "main", llm, NULL));
	char cfg[512];
	snprintf(cfg, sizeof(cfg),
		"{\"prices\":{\"m1\":{\"input\":%.17g,\"output\":%.17g}},"
		"\"routes\":{\"executor\":{\"models\":[{\"endpoint\":\"main\",\"model\":\"m1\"}]},"
		"\"critic\":{\"models\":[{\"endpoint\":\"main\",\"model\":\"m1\"}]}},"
		"\"retry\":{\"max_attempts\":1},\"cache\":{\"enabled\":false}}",
		price_in, price_out);
	lss_ok(cog_llm_configure(ctx, cfg));
}

cog_ctx *lss_ctx_with(cog_llm *llm, const char *db_path, unsigned int workers,
                      double price_in, double price_out)
{
	cog_ctx *ctx = bare_ctx(db_path, workers);
	use_llm(ctx, llm, price_in, price_out);
	return ctx;
}

cog_ctx *lss_ctx(lss *s, const char *db_path, unsigned int workers, double price_in,
                 double price_out, const char *record_path)
{
	return lss_ctx_url(lss_base_url(s), db_path, workers, price_in, price_out, record_path);
}

cog_ctx *lss_ctx_url(const char *base_url, const char *db_path, unsigned int workers,
                     double price_in, double price_out, const char *record_path)
{
	cog_ctx *ctx = bare_ctx(db_path, workers);
	cog_llm_provider_options po = COG_LLM_PROVIDER_OPTIONS_INIT;
	po.provider = COG_LLM_OPENAI;
	po.base_url = base_url;
	po.api_key = "sk-test";
	po.model = "m1";
	cog_llm *llm = NULL;
	lss_ok(cog_llm_provider_new(&llm, ctx, &po));
	if (record_path) {
		cog_llm *rec = NULL;
		lss_ok(cog_llm_recorder_new(&rec, llm, record_path));
		llm = rec;
	}
	use_llm(ctx, llm, price_in, price_out);
	return ctx;
}

double lss_num(const cJSON *root, ...)
{
	va_list ap;
	va_start(ap, root);
	const cJSON *at = root;
	const char *name;
	char path[256] = "";
	while ((name = va_arg(ap, const char *))) {
		size_t l = strlen(path);
		snprintf(path + l, sizeof(path) - l, ".%s", name);
		at = cJSON_GetObjectItemCaseSensitive(at, name);
	}
	va_end(ap);
	char *text = cJSON_PrintUnformatted(root);
	ck_assert_msg(cJSON_IsNumber(at), "no number at %s in %.1500s", path, text);
	free(text);
	return at->valuedouble;
}

char *lss_cog_strdup(const char *text)
{
	size_t n = strlen(text) + 1;
	char *p = cog_malloc(n);
	if (p)
		memcpy(p, text, n);
	return p;
}
