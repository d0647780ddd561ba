/*
 * Answers assembled from pieces: the text and tool calls of a streamed (or
 * whole) answer, with the stream events the caller asked for, turned into
 * the response shape at the end.
 *
 * A stream brings up to millions of text pieces per second, so a piece
 * costs an append and, when streaming, one event printed into a reused
 * buffer: no allocation once the buffers have grown.
 * The events themselves are written by events.c.
 */
#include <stdio.h>
#include <string.h>

#include "llm_int.h"

/* A server may number tool calls as it likes and send as many as it
 * likes: an answer holds at most MAX_CALLS, with indexes up to MAX_INDEX
 * (lookups by index stay cheap, and no model makes more). */
#define MAX_CALLS 256
#define MAX_INDEX 65535

void llm_asm_init(llm_asm *a, cog_llm_call *call)
{
	memset(a, 0, sizeof(*a));
	a->call = call;
}

void llm_asm_dispose(llm_asm *a)
{
	if (!a)
		return;
	cog_buf_dispose(&a->text);
	for (size_t i = 0; i < a->n_calls; i++) {
		cog_free(a->calls[i].id);
		cog_free(a->calls[i].name);
		cog_buf_dispose(&a->calls[i].args);
	}
	cog_free(a->calls);
	cog_free(a->finish_reason);
	cog_free(a->model);
	cog_buf_dispose(&a->event);
	memset(a, 0, sizeof(*a));
}

static bool streaming(const llm_asm *a)
{
	return a->call && a->call->on_event;
}

/* The event in a->event to the caller; a failure stops the assembly. */
static int deliver(llm_asm *a)
{
	int rc = llm_event_send(a->call, &a->event);
	return rc ? (a->status = rc) : COG_OK;
}

int llm_asm_text(llm_asm *a, const char *s, size_t len)
{
	if (a->status)
		return a->status;
	if (len == 0)
		return COG_OK;
	if (cog_buf_put(&a->text, s, len))
		return a->status = COG_ENOMEM;
	if (!streaming(a))
		return COG_OK;
	cog_buf *e = &a->event;
	cog_buf_clear(e);
	cog_buf_put(e, "{\"type\":\"text\",\"text\":", 22);
	cog_buf_put_json_string(e, s, len);
	cog_buf_putc(e, '}');
	return deliver(a);
}

/* The call with this index, or NULL. Calls come in order, so the last one
 * is the usual answer. */
static llm_asm_call *find_call(llm_asm *a, int index)
{
	for (size_t i = a->n_calls; i-- > 0;)
		if (a->calls[i].index == index)
			return &a->calls[i];
	return NULL;
}

static int add_call(llm_asm *a, int index, llm_asm_call **out)
{
	if (a->n_calls == MAX_CALLS)
		return cog__error(COG_EPROTO, "more than %d tool calls in one answer",
			MAX_CALLS);
	if (a->n_calls == a->cap_calls) {
		size_t cap = a->cap_calls ? a->cap_calls * 2 : 4;
		llm_asm_call *grown = cog_realloc(a->calls, cap * sizeof(*grown));
		if (!grown)
			return cog__oom("llm tool call");
		a->calls = grown;
		a->cap_calls = cap;
	}
	llm_asm_call *c = &a->calls[a->n_calls++];
	memset(c, 0, sizeof(*c));
	c->index = index;
	*out = c;
	return COG_OK;
}

/* Set *field from s when it is still unset ("" says nothing); *filled
 * tells whether it was set now. */
static int fill(char **field, const char *s, bool *filled)
{
	*filled = false;
	if (*field || !s || !*s)
		return COG_OK;
	*field = cog__strdup(s);
	*filled = *field != NULL;
	return *field ? COG_OK : COG_ENOMEM;
}

int llm_asm_tool_start(llm_asm *a, int index, const char *id, const char *name)
{
	if (a->status)
		return a->status;
	if (index < 0 || index > MAX_INDEX)
		return a->status = cog__error(COG_EPROTO,
			"tool call index %d is not from 0 to %d", index, MAX_INDEX);
	llm_asm_call *c = find_call(a, index);
	bool is_new = c == NULL;
	int rc = is_new ? add_call(a, index, &c) : COG_OK;
	if (rc)
		return a->status = rc;
	bool new_id = false, new_name = false;
	if (fill(&c->id, id, &new_id) || fill(&c->name, name, &new_name))
		return a->status = cog__oom("llm tool call");
	if (!streaming(a) || (!is_new && !new_id && !new_name))
		return COG_OK;
	/* The first event of a call has an id (made up until one comes); a
	 * later piece that brings the id or the name carries it. */
	char fallback[24];
	llm_made_up_call_id(fallback, index);
	const char *shown = new_id ? c->id : is_new ? fallback : NULL;
	llm_event_put_call(&a->event, index, shown, new_name ? c->name : NULL, "", 0);
	return deliver(a);
}

/* Append argument text to a started call and announce the piece. */
static int put_args(llm_asm *a, llm_asm_call *c, const char *s, size_t len)
{
	if (cog_buf_put(&c->args, s, len))
		return a->status = COG_ENOMEM;
	if (!streaming(a) || len == 0)
		return COG_OK;
	llm_event_put_call(&a->event, c->index, NULL, NULL, s, len);
	return deliver(a);
}

static llm_asm_call *started_call(llm_asm *a, int index)
{
	llm_asm_call *c = find_call(a, index);
	if (!c)
		a->status = cog__error(COG_EPROTO,
			"arguments for tool call %d, which did not start", index);
	return c;
}

int llm_asm_tool_args(llm_asm *a, int index, const char *s, size_t len)
{
	if (a->status)
		return a->status;
	llm_asm_call *c = started_call(a, index);
	if (!c)
		return a->status;
	if (c->args_object)
		return a->status = cog__error(COG_EPROTO,
			"tool call %d: argument text after whole arguments", index);
	return put_args(a, c, s, len);
}

int llm_asm_tool_args_object(llm_asm *a, int index, const cJSON *object)
{
	if (a->status)
		return a->status;
	llm_asm_call *c = started_call(a, index);
	if (!c)
		return a->status;
	if (!cJSON_IsObject(object))
		return a->status = cog__error(COG_EPROTO,
			"tool call %d: arguments are not a JSON object", index);
	if (c->args.len)
		return a->status = cog__error(COG_EPROTO,
			"tool call %d: whole arguments after argument text", index);
	char *text = cog_json_print(object);
	if (!text)
		return a->status = COG_ENOMEM;
	c->args_object = true;
	int rc = put_args(a, c, text, strlen(text));
	cog_free(text);
	return rc;
}

static int replace(llm_asm *a, char **field, const char *s)
{
	if (a->status)
		return a->status;
	char *copy = s ? cog__strdup(s) : NULL;
	if (s && !copy)
		return a->status = cog__oom("llm answer");
	cog_free(*field);
	*field = copy;
	return COG_OK;
}

int llm_asm_set_finish(llm_asm *a, const char *finish_reason)
{
	return replace(a, &a->finish_reason, finish_reason);
}

int llm_asm_set_model(llm_asm *a, const char *model)
{
	return replace(a, &a->model, model);
}

/* ---- the response ---- */

/* Add a string member from bytes that should be UTF-8: text from a peer
 * that is not becomes U+FFFD where it is broken, never invalid JSON. */
static int add_text(cJSON *object, const char *name, const char *s, size_t len)
{
	cJSON *item;
	if (cog_utf8_valid(s, len, NULL) && memchr(s, '\0', len) == NULL) {
		item = cJSON_CreateString(s);
	} else {
		char *clean = cog_utf8_lossy(s, len);
		item = clean ? cJSON_CreateString(clean) : NULL;
		cog_free(clean);
	}
	if (!item || !cJSON_AddItemToObject(object, name, item)) {
		cJSON_Delete(item);
		return COG_ENOMEM;
	}
	return COG_OK;
}

static bool only_space(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
			return false;
	return true;
}

/* "arguments": the object the text holds; {} for no text; null plus
 * "arguments_text" for anything else, so the caller can tell the model. */
static int add_arguments(cJSON *out, const llm_asm_call *c)
{
	const char *s = c->args.ptr ? c->args.ptr : "";
	size_t len = c->args.len;
	cJSON *args = NULL;
	if (only_space(s, len))
		args = cJSON_CreateObject();
	else if (memchr(s, '\0', len) == NULL &&
	         cog_json_validate(s, len, "arguments") == COG_OK)
		args = cJSON_ParseWithLength(s, len);
	cog_error_clear();
	if (args && cJSON_IsObject(args)) {
		if (!cJSON_AddItemToObject(out, "arguments", args)) {
			cJSON_Delete(args);
			return COG_ENOMEM;
		}
		return COG_OK;
	}
	cJSON_Delete(args);
	if (!cJSON_AddNullToObject(out, "arguments"))
		return COG_ENOMEM;
	return add_text(out, "arguments_text", s, len);
}

static int add_call_json(cJSON *list, const llm_asm_call *c)
{
	cJSON *out = cJSON_CreateObject();
	if (!out || !cJSON_AddItemToArray(list, out)) {
		cJSON_Delete(out);
		return COG_ENOMEM;
	}
	char fallback[24];
	llm_made_up_call_id(fallback, c->index);
	const char *id = c->id ? c->id : fallback;
	int rc = add_text(out, "id", id, strlen(id));
	if (!rc)
		rc = add_text(out, "name", c->name, strlen(c->name));
	if (!rc)
		rc = add_arguments(out, c);
	return rc;
}

/* Calls in index order (providers number them from 0 in the order they
 * start; a stable insertion sort keeps that when they agree). */
static void sort_calls(llm_asm *a)
{
	for (size_t i = 1; i < a->n_calls; i++) {
		llm_asm_call c = a->calls[i];
		size_t j = i;
		for (; j > 0 && a->calls[j - 1].index > c.index; j--)
			a->calls[j] = a->calls[j - 1];
		a->calls[j] = c;
	}
}

static int add_message(llm_asm *a, cJSON *response)
{
	cJSON *message = cJSON_AddObjectToObject(response, "message");
	if (!message || cog_json_add_string(message, "role", "assistant"))
		return COG_ENOMEM;
	int rc = COG_OK;
	if (a->text.len == 0 && a->n_calls > 0)
		rc = cJSON_AddNullToObject(message, "content") ? COG_OK : COG_ENOMEM;
	else
		rc = add_text(message, "content", a->text.ptr ? a->text.ptr : "", a->text.len);
	if (rc || a->n_calls == 0)
		return rc;
	cJSON *calls = cJSON_AddArrayToObject(message, "tool_calls");
	if (!calls)
		return COG_ENOMEM;
	for (size_t i = 0; i < a->n_calls && !rc; i++)
		rc = add_call_json(calls, &a->calls[i]);
	return rc;
}

static int add_usage(const llm_asm *a, cJSON *response)
{
	cJSON *usage = cJSON_AddObjectToObject(response, "usage");
	if (!usage ||
	    cog_json_add_number(usage, "input_tokens", (double)a->input_tokens) ||
	    cog_json_add_number(usage, "output_tokens", (double)a->output_tokens) ||
	    cog_json_add_number(usage, "cached_tokens", (double)a->cached_tokens))
		return COG_ENOMEM;
	return COG_OK;
}

int llm_asm_finish(llm_asm *a, cJSON **response)
{
	*response = NULL;
	if (a->status)
		return a->status;
	for (size_t i = 0; i < a->n_calls; i++)
		if (!a->calls[i].name)
			return cog__error(COG_EPROTO, "tool call %d came without a name",
				a->calls[i].index);
	sort_calls(a);
	cog__json_init();
	cJSON *r = cJSON_CreateObject();
	int rc = r ? add_message(a, r) : COG_ENOMEM;
	const char *finish = a->finish_reason ? a->finish_reason :
	                     a->n_calls ? "tool_calls" : "stop";
	if (!rc)
		rc = cog_json_add_string(r, "finish_reason", finish);
	if (!rc)
		rc = add_usage(a, r);
	if (!rc && a->model)
		rc = add_text(r, "model", a->model, strlen(a->model));
	if (rc) {
		cJSON_Delete(r);
		return cog__oom("llm answer");
	}
	*response = r;
	return COG_OK;
}
