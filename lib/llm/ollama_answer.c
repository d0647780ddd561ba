/*
 * Ollama's answers into the assembler: a whole /api/chat body, the NDJSON
 * stream (one object per line: message pieces, then "done":true with
 * done_reason and the counts; {"error":"..."} when the server fails), and
 * /api/embed answers.
 *
 * Tool-call arguments arrive whole as objects, without ids (the assembler
 * makes up call_<n>), in a whole message or in any streamed line; each
 * call is a new one, numbered in order. Ollama says done_reason "stop"
 * after a tool call too; then the answer's finish_reason is "tool_calls".
 */
#include <stdio.h>
#include <string.h>

#include "ollama_int.h"

#define MAX_TOKENS_NUMBER 1e15   /* larger counts are nonsense */
#define PROVIDER_TEXT_MAX 300    /* bytes of the provider's error text kept */

/* A message's text and tool calls (whole objects: each one a new call). */
static int take_message(llm_asm *a, const cJSON *msg, const char *where)
{
	const char *content = cog_json_get_string(msg, "content");
	int rc = content && content[0] ? llm_asm_text(a, content, strlen(content)) : COG_OK;
	const cJSON *call;
	int k = 0;
	cJSON_ArrayForEach(call, cJSON_GetObjectItemCaseSensitive(msg, "tool_calls")) {
		if (rc)
			return rc;
		const cJSON *fn = cJSON_GetObjectItemCaseSensitive(call, "function");
		const char *name = cog_json_get_string(fn, "name");
		const cJSON *args = cJSON_GetObjectItemCaseSensitive(fn, "arguments");
		if (!name || !(cJSON_IsObject(args) || cJSON_IsString(args) || !args))
			return cog__error(COG_EPROTO, "ollama: %s: message.tool_calls[%d]: "
				"a call needs function.name and object arguments", where, k);
		int index = (int)a->n_calls;
		rc = llm_asm_tool_start(a, index, cog_json_get_string(call, "id"), name);
		/* Some servers that copy Ollama's API send the arguments as text. */
		if (!rc && cJSON_IsObject(args))
			rc = llm_asm_tool_args_object(a, index, args);
		else if (!rc && cJSON_IsString(args))
			rc = llm_asm_tool_args(a, index, args->valuestring,
			                       strlen(args->valuestring));
		k++;
	}
	return rc;
}

/* model, done_reason and the counts of a final object. */
static int take_final(llm_asm *a, const cJSON *answer)
{
	int rc = COG_OK;
	const char *model = cog_json_get_string(answer, "model");
	if (model && (rc = llm_asm_set_model(a, model)))
		return rc;
	const char *reason = cog_json_get_string(answer, "done_reason");
	if (reason && strcmp(reason, "length") == 0)
		rc = llm_asm_set_finish(a, "length");
	else if (reason && strcmp(reason, "stop") == 0 && a->n_calls == 0)
		rc = llm_asm_set_finish(a, "stop");
	const cJSON *in = cJSON_GetObjectItemCaseSensitive(answer, "prompt_eval_count");
	const cJSON *out = cJSON_GetObjectItemCaseSensitive(answer, "eval_count");
	if (cJSON_IsNumber(in) && in->valuedouble >= 0 && in->valuedouble <= MAX_TOKENS_NUMBER) {
		a->input_tokens = (uint64_t)in->valuedouble;
		a->have_usage = true;
	}
	if (cJSON_IsNumber(out) && out->valuedouble >= 0 && out->valuedouble <= MAX_TOKENS_NUMBER) {
		a->output_tokens = (uint64_t)out->valuedouble;
		a->have_usage = true;
	}
	return rc;
}

/* {"error":"..."} in a 200, whole or as a stream line: the server failed.
 * The router retries that on HTTP 503 (see cog_llm_vtable). The key, should
 * the text quote it, is masked by provider_chat.c. */
static int server_error(llm_asm *a, const char *where, const char *error)
{
	if (a->call)
		a->call->http_status = 503;
	char *redacted = cog__redact_text(error);
	int rc = cog__error(COG_EUNAVAILABLE, "ollama: %s: the server sent an error: %.*s",
		where, PROVIDER_TEXT_MAX, redacted ? redacted : "(out of memory)");
	cog_free(redacted);
	return rc;
}

int llm_ollama_chat_parse(const llm_provider *p, const cJSON *request,
                          const cJSON *answer, llm_asm *a)
{
	(void)p;
	(void)request;
	const char *error = cog_json_get_string(answer, "error");
	if (error)
		return server_error(a, "answer", error);
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(answer, "message");
	if (!cJSON_IsObject(msg))
		return cog__error(COG_EPROTO, "ollama: answer: \"message\" is not an object");
	int rc = take_message(a, msg, "answer");
	return rc ? rc : take_final(a, answer);
}

typedef struct stream_state {
	unsigned long lines;
} stream_state;

void *llm_ollama_stream_state_new(const llm_provider *p, const cJSON *request)
{
	(void)p;
	(void)request;
	return cog__calloc(1, sizeof(stream_state));
}

void llm_ollama_stream_state_free(void *state)
{
	cog_free(state);
}

int llm_ollama_stream_event(const llm_provider *p, void *state, const char *type,
                            const char *data, size_t len, llm_asm *a, bool *done)
{
	(void)p;
	(void)type;
	stream_state *st = state;
	if (!st)
		return cog__oom("ollama: stream state");
	char where[48];
	snprintf(where, sizeof(where), "stream: line %lu", ++st->lines);
	const char *end = NULL;
	cJSON *line = cJSON_ParseWithLengthOpts(data, len, &end, false);
	while (line && end < data + len && (*end == ' ' || *end == '\t'))
		end++;
	if (!cJSON_IsObject(line) || end != data + len) {
		cJSON_Delete(line);
		if (cog_json_validate(data, len, "the line") != COG_OK)
			return cog__error_wrap(COG_EPROTO, "ollama: %s", where);
		return cog__error(COG_EPROTO, "ollama: %s: not a JSON object", where);
	}
	int rc = COG_OK;
	const char *error = cog_json_get_string(line, "error");
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(line, "message");
	if (error) {
		rc = server_error(a, where, error);
	} else if (msg && !cJSON_IsObject(msg)) {
		rc = cog__error(COG_EPROTO, "ollama: %s: \"message\" is not an object", where);
	} else if (msg) {
		rc = take_message(a, msg, where);
	}
	if (!rc && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(line, "done"))) {
		rc = take_final(a, line);
		*done = true;
	}
	cJSON_Delete(line);
	return rc;
}

/* ---- embeddings: {"model","embeddings":[[...]],"prompt_eval_count"} ---- */

int llm_ollama_embed_parse(const llm_provider *p, const cJSON *answer,
                           cJSON **response)
{
	(void)p;
	const cJSON *vectors = cJSON_GetObjectItemCaseSensitive(answer, "embeddings");
	if (!cJSON_IsArray(vectors) || !cJSON_IsArray(vectors->child))
		return cog__error(COG_EPROTO, "ollama: embeddings: \"embeddings\" is not an "
			"array of vectors");
	/* Without a model in the answer, the provider adds the request's. */
	const char *model = cog_json_get_string(answer, "model");
	double tokens = cog_json_get_number(answer, "prompt_eval_count", 0);
	if (tokens < 0 || tokens > MAX_TOKENS_NUMBER)
		tokens = 0;
	cJSON *out = cJSON_CreateObject();
	cJSON *data = cJSON_Duplicate(vectors, true);
	cJSON *usage = cJSON_CreateObject();
	if (!out || !data || !usage || (model && !cJSON_AddStringToObject(out, "model", model)) ||
	    !cJSON_AddNumberToObject(out, "dimensions", cJSON_GetArraySize(vectors->child)) ||
	    !cJSON_AddNumberToObject(usage, "input_tokens", (double)(uint64_t)tokens) ||
	    !cJSON_AddItemToObject(out, "data", data)) {
		cJSON_Delete(out);
		cJSON_Delete(data);
		cJSON_Delete(usage);
		return cog__oom("ollama: embeddings");
	}
	/* data belongs to out from here on */
	if (!cJSON_AddItemToObject(out, "usage", usage)) {
		cJSON_Delete(out);
		cJSON_Delete(usage);
		return cog__oom("ollama: embeddings");
	}
	*response = out;
	return COG_OK;
}

