/*
 * OpenAI chat completion streams: each SSE data event is a
 * chat.completion.chunk, "[DONE]" ends the stream. Text comes as
 * choices[0].delta.content pieces; a tool call as delta.tool_calls[]
 * fragments with an index, the first carrying id and function.name, the
 * later ones pieces of function.arguments; the last chunk before [DONE]
 * has the usage and no choices (stream_options.include_usage). A server
 * that fails mid-stream sends {"error":{...}} as a data event.
 *
 * Most chunks are text pieces: openai_fast.c takes those without building
 * a JSON tree; everything else, and anything unusual, comes here.
 */
#include <limits.h>
#include <string.h>

#include "openai_int.h"

typedef struct openai_stream {
	size_t chunks;                /* data events so far (for messages) */
	cog_buf scratch;              /* decoded text of the fast path */
} openai_stream;

void *llm_openai_stream_state_new(const llm_provider *p, const cJSON *request)
{
	(void)p;
	(void)request;
	return cog__calloc(1, sizeof(openai_stream));
}

void llm_openai_stream_state_free(void *state)
{
	openai_stream *st = state;
	if (!st)
		return;
	cog_buf_dispose(&st->scratch);
	cog_free(st);
}

/* The server's failure inside the stream: an overload or a server error
 * for the router, which retries those on HTTP 503 (see cog_llm_vtable). The
 * key, should the text quote it, is masked by provider_chat.c. */
static int server_error(const openai_stream *st, const cJSON *chunk,
                        const char *data, size_t len, llm_asm *a)
{
	if (a->call)
		a->call->http_status = 503;
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(chunk, "error");
	const char *text = cog_json_get_string(error, "message");
	if (!text && cJSON_IsString(error))
		text = error->valuestring;
	char *raw = text ? NULL : cog__strndup(data, len < 300 ? len : 300);
	char *clean = cog__redact_text(text ? text : raw ? raw : "");
	int rc = cog__error(COG_EUNAVAILABLE,
		"openai: stream: chunk %zu: the server reported an error: %.300s",
		st->chunks, clean ? clean : "(out of memory)");
	cog_free(clean);
	cog_free(raw);
	return rc;
}

/* The index of a tool-call fragment. Some compatible servers leave it out:
 * then a fragment with an id is that call (or a new one), and one without
 * continues the latest call. */
static int fragment_index(const openai_stream *st, const cJSON *frag, int k,
                          const llm_asm *a, int *index)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(frag, "index");
	if (cJSON_IsNumber(v)) {
		if (v->valuedouble < 0 || v->valuedouble > 65535 ||
		    v->valuedouble != (double)(int)v->valuedouble)
			return cog__error(COG_EPROTO, "openai: stream: chunk %zu: "
				"choices[0].delta.tool_calls[%d].index is not a small "
				"non-negative integer", st->chunks, k);
		*index = (int)v->valuedouble;
		return COG_OK;
	}
	const char *id = cog_json_get_string(frag, "id");
	int next = 0;
	for (size_t i = 0; i < a->n_calls; i++) {
		if (id && a->calls[i].id && strcmp(a->calls[i].id, id) == 0) {
			*index = a->calls[i].index;
			return COG_OK;
		}
		if (a->calls[i].index >= next)
			next = a->calls[i].index + 1;
	}
	if (!id && a->n_calls == 0)
		return cog__error(COG_EPROTO, "openai: stream: chunk %zu: "
			"choices[0].delta.tool_calls[%d]: missing index", st->chunks, k);
	*index = id ? next : a->calls[a->n_calls - 1].index;
	return COG_OK;
}

static int tool_fragments(const openai_stream *st, const cJSON *calls, llm_asm *a)
{
	if (!cJSON_IsArray(calls))
		return cog__error(COG_EPROTO, "openai: stream: chunk %zu: "
			"choices[0].delta.tool_calls is not an array", st->chunks);
	int k = 0;
	const cJSON *frag;
	cJSON_ArrayForEach(frag, calls) {
		const cJSON *fn = cJSON_GetObjectItemCaseSensitive(frag, "function");
		const cJSON *args = cJSON_GetObjectItemCaseSensitive(fn, "arguments");
		int index = 0;
		int rc = cJSON_IsObject(frag) ? fragment_index(st, frag, k, a, &index)
			: cog__error(COG_EPROTO, "openai: stream: chunk %zu: "
				"choices[0].delta.tool_calls[%d] is not an object", st->chunks, k);
		/* A repeated id or name fills nothing and announces nothing. */
		if (!rc)
			rc = llm_asm_tool_start(a, index, cog_json_get_string(frag, "id"),
			                        cog_json_get_string(fn, "name"));
		if (!rc && cJSON_IsString(args))
			rc = llm_asm_tool_args(a, index, args->valuestring,
			                       strlen(args->valuestring));
		else if (!rc && cJSON_IsObject(args))
			rc = llm_asm_tool_args_object(a, index, args);
		if (rc)
			return rc;
		k++;
	}
	return COG_OK;
}

/* The choice we answer with: index 0 (a request asks for one). */
static const cJSON *first_choice(const cJSON *choices)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, choices) {
		const cJSON *index = cJSON_GetObjectItemCaseSensitive(c, "index");
		if (!index || (cJSON_IsNumber(index) && index->valuedouble == 0))
			return c;
	}
	return NULL;
}

static int read_choice(const openai_stream *st, const cJSON *choice, llm_asm *a)
{
	const cJSON *delta = cJSON_GetObjectItemCaseSensitive(choice, "delta");
	const char *content = cog_json_get_string(delta, "content");
	const char *refusal = cog_json_get_string(delta, "refusal");
	const cJSON *calls = cJSON_GetObjectItemCaseSensitive(delta, "tool_calls");
	int rc = COG_OK;
	if (content)
		rc = llm_asm_text(a, content, strlen(content));
	if (!rc && refusal)
		rc = llm_asm_text(a, refusal, strlen(refusal));
	if (!rc && calls && !cJSON_IsNull(calls))
		rc = tool_fragments(st, calls, a);
	const char *reason = llm_openai_finish_reason(cog_json_get_string(choice, "finish_reason"));
	if (!rc && reason)
		rc = llm_asm_set_finish(a, reason);
	return rc;
}

static int slow_chunk(openai_stream *st, const char *data, size_t len, llm_asm *a)
{
	if (cog_json_validate(data, len, "data"))
		return cog__error_wrap(COG_EPROTO, "openai: stream: chunk %zu", st->chunks);
	cog__json_init();
	cJSON *chunk = cJSON_ParseWithLength(data, len);
	if (!chunk)
		return cog__oom("openai: stream");
	int rc = COG_OK;
	const cJSON *choices = cJSON_GetObjectItemCaseSensitive(chunk, "choices");
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(chunk, "error");
	const char *model = cog_json_get_string(chunk, "model");
	if (!cJSON_IsObject(chunk))
		rc = cog__error(COG_EPROTO, "openai: stream: chunk %zu is not a JSON object",
			st->chunks);
	else if (error && !cJSON_IsNull(error))
		rc = server_error(st, chunk, data, len, a);
	else if (choices && !cJSON_IsNull(choices) && !cJSON_IsArray(choices))
		rc = cog__error(COG_EPROTO, "openai: stream: chunk %zu: choices is not an array",
			st->chunks);
	if (!rc && model)
		rc = llm_openai_model(a, model, strlen(model));
	if (!rc && first_choice(choices))
		rc = read_choice(st, first_choice(choices), a);
	if (!rc)
		llm_openai_usage(cJSON_GetObjectItemCaseSensitive(chunk, "usage"), a);
	cJSON_Delete(chunk);
	return rc;
}

int llm_openai_stream_event(const llm_provider *p, void *state, const char *type,
                            const char *data, size_t len, llm_asm *a, bool *done)
{
	(void)p;
	openai_stream *st = state;
	st->chunks++;
	if (len == 0)
		return COG_OK;    /* "data:" alone: a legal event that says nothing */
	if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
		*done = true;
		return COG_OK;
	}
	if (type && strcmp(type, "error") == 0) {
		/* Not OpenAI's own, but what some compatible servers send. */
		cog__json_init();
		cJSON *chunk = cJSON_ParseWithLength(data, len);
		int rc = server_error(st, chunk, data, len, a);
		cJSON_Delete(chunk);
		return rc;
	}
	int rc = llm_openai_fast_chunk(data, len, &st->scratch, a);
	if (rc)
		return rc < 0 ? rc : COG_OK;
	return slow_chunk(st, data, len, a);
}
