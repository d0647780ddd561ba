/* Helpers the LLM integration tests share (llm_test.h). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cognition/curl.h>

#include "llm_test.h"

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
