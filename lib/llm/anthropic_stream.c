/*
 * An Anthropic Messages stream into the assembler: message_start (model,
 * usage), content_block_start / _delta / _stop, message_delta (stop_reason,
 * usage), message_stop (the end), ping, and error events. Unknown events,
 * block types and delta types are skipped, as Anthropic asks of clients.
 *
 * Block indexes count every content block; tool calls are numbered in the
 * order their tool_use blocks start. A tool_use's input_json_delta pieces
 * are argument text; a first piece of "" and nothing else means {} (the
 * assembler's rule for empty text).
 *
 * Structured output (anthropic_int.h): the forced tool's pieces are
 * gathered and become the content at its content_block_stop. Text the
 * model writes around it is not the answer, so it is held back until the
 * forced tool has come (then dropped) or the message ended without it
 * (then it is the content after all).
 */
#include <stdio.h>
#include <string.h>

#include "anthropic_int.h"

#define MAX_BLOCKS 4096          /* content block indexes we accept */
#define PROVIDER_TEXT_MAX 300    /* bytes of the provider's error text kept */

enum { BLOCK_NONE = 0, BLOCK_TEXT, BLOCK_TOOL, BLOCK_FORCED, BLOCK_OTHER };

typedef struct block_info {
	int kind;
	int tool;                     /* BLOCK_TOOL: the assembler's index */
} block_info;

typedef struct stream_state {
	char forced[ANTHROPIC_TOOL_NAME_MAX + 1]; /* "": no structured output */
	block_info *blocks;
	size_t n_blocks;
	int n_tools;
	unsigned long events;
	llm_anthropic_usage usage;
	cog_buf forced_json;          /* the forced tool's input pieces */
	cog_buf held;                 /* text held back (structured output) */
	bool forced_done;
} stream_state;

void *llm_anthropic_stream_state_new(const llm_provider *p, const cJSON *request)
{
	(void)p;
	/* The request was checked when its body was built: a failure here
	 * can only be a name too long for the buffer, i.e. none forced. */
	llm_anthropic_forced forced;
	if (llm_anthropic_forced_tool(request, &forced))
		forced.name = NULL;
	stream_state *st = cog__calloc(1, sizeof(*st));
	if (st && forced.name)
		snprintf(st->forced, sizeof(st->forced), "%s", forced.name);
	return st;
}

void llm_anthropic_stream_state_free(void *state)
{
	stream_state *st = state;
	if (!st)
		return;
	cog_free(st->blocks);
	cog_buf_dispose(&st->forced_json);
	cog_buf_dispose(&st->held);
	cog_free(st);
}

/* The block an event names by "index" (grown on content_block_start). */
static int event_block(stream_state *st, const cJSON *ev, bool start,
                       const char *what, block_info **out)
{
	const cJSON *index = cJSON_GetObjectItemCaseSensitive(ev, "index");
	if (!cJSON_IsNumber(index) || index->valuedouble < 0 ||
	    index->valuedouble >= MAX_BLOCKS || index->valuedouble != (double)index->valueint)
		return cog__error(COG_EPROTO, "anthropic: stream: event %lu (%s): \"index\" "
			"is not an integer from 0 to %d", st->events, what, MAX_BLOCKS - 1);
	size_t i = (size_t)index->valueint;
	if (i >= st->n_blocks) {
		if (!start)
			return cog__error(COG_EPROTO, "anthropic: stream: event %lu (%s): "
				"content block %zu never started", st->events, what, i);
		block_info *grown = cog_realloc(st->blocks, (i + 1) * sizeof(*grown));
		if (!grown)
			return cog__oom("anthropic: stream");
		memset(grown + st->n_blocks, 0, (i + 1 - st->n_blocks) * sizeof(*grown));
		st->blocks = grown;
		st->n_blocks = i + 1;
	}
	if (start ? st->blocks[i].kind != BLOCK_NONE : st->blocks[i].kind == BLOCK_NONE)
		return cog__error(COG_EPROTO, "anthropic: stream: event %lu (%s): content "
			"block %zu %s", st->events, what, i,
			start ? "started twice" : "never started");
	*out = &st->blocks[i];
	return COG_OK;
}

static int on_text(stream_state *st, llm_asm *a, const char *text)
{
	if (!text[0])
		return COG_OK;
	if (!st->forced[0])
		return llm_asm_text(a, text, strlen(text));
	if (st->forced_done)
		return COG_OK;
	return cog_buf_puts(&st->held, text) ? cog__oom("anthropic: stream") : COG_OK;
}

static int on_block_start(stream_state *st, const cJSON *ev, llm_asm *a)
{
	block_info *b;
	int rc = event_block(st, ev, true, "content_block_start", &b);
	if (rc)
		return rc;
	const cJSON *block = cJSON_GetObjectItemCaseSensitive(ev, "content_block");
	const char *type = cog_json_get_string(block, "type");
	if (!type)
		return cog__error(COG_EPROTO, "anthropic: stream: event %lu "
			"(content_block_start): content_block has no type", st->events);
	b->kind = BLOCK_OTHER;
	if (strcmp(type, "text") == 0) {
		b->kind = BLOCK_TEXT;
		const char *text = cog_json_get_string(block, "text");
		return text ? on_text(st, a, text) : COG_OK;
	}
	if (strcmp(type, "tool_use") != 0)
		return COG_OK;
	const char *id = cog_json_get_string(block, "id");
	const char *name = cog_json_get_string(block, "name");
	if (!id || !name)
		return cog__error(COG_EPROTO, "anthropic: stream: event %lu "
			"(content_block_start): a tool_use block needs an id and a name",
			st->events);
	if (st->forced[0] && !st->forced_done && strcmp(name, st->forced) == 0) {
		b->kind = BLOCK_FORCED;
		return COG_OK;
	}
	b->kind = BLOCK_TOOL;
	b->tool = st->n_tools++;
	return llm_asm_tool_start(a, b->tool, id, name);
}

static int on_block_delta(stream_state *st, const cJSON *ev, llm_asm *a)
{
	block_info *b;
	int rc = event_block(st, ev, false, "content_block_delta", &b);
	if (rc)
		return rc;
	const cJSON *delta = cJSON_GetObjectItemCaseSensitive(ev, "delta");
	const char *type = cog_json_get_string(delta, "type");
	if (!type)
		return cog__error(COG_EPROTO, "anthropic: stream: event %lu "
			"(content_block_delta): the delta has no type", st->events);
	const char *member = strcmp(type, "text_delta") == 0 ? "text" :
		strcmp(type, "input_json_delta") == 0 ? "partial_json" : NULL;
	if (!member)
		return COG_OK;             /* thinking, signatures, citations */
	int want = member[0] == 't' ? BLOCK_TEXT : BLOCK_TOOL;
	int kind = b->kind == BLOCK_FORCED ? BLOCK_TOOL : b->kind;
	const char *piece = cog_json_get_string(delta, member);
	if (kind != want)
		return cog__error(COG_EPROTO, "anthropic: stream: event %lu "
			"(content_block_delta): %s for block %d, which is not a %s block",
			st->events, type, (int)(b - st->blocks),
			want == BLOCK_TEXT ? "text" : "tool_use");
	if (!piece)
		return cog__error(COG_EPROTO, "anthropic: stream: event %lu "
			"(content_block_delta): %s without its \"%s\" string",
			st->events, type, member);
	if (want == BLOCK_TEXT)
		return on_text(st, a, piece);
	if (b->kind == BLOCK_FORCED)
		return cog_buf_puts(&st->forced_json, piece) ? cog__oom("anthropic: stream")
		                                             : COG_OK;
	return llm_asm_tool_args(a, b->tool, piece, strlen(piece));
}

static int on_block_stop(stream_state *st, const cJSON *ev, llm_asm *a)
{
	block_info *b;
	int rc = event_block(st, ev, false, "content_block_stop", &b);
	if (rc || b->kind != BLOCK_FORCED || st->forced_done)
		return rc;
	st->forced_done = true;
	cog_buf_dispose(&st->held);
	return llm_anthropic_forced_content(a, st->forced_json.ptr ? st->forced_json.ptr : "",
	                      st->forced_json.len);
}

/* An error event: {"type":"error","error":{"type":"overloaded_error",
 * "message":"Overloaded"}}. An overload or a server error came inside a
 * 200: the router retries those on HTTP 503 (see cog_llm_vtable). The key,
 * should the message quote it, is masked by provider_chat.c. */
static int on_error(stream_state *st, const cJSON *ev, llm_asm *a)
{
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(ev, "error");
	const char *type = cog_json_get_string(error, "type");
	const char *message = cog_json_get_string(error, "message");
	int code = COG_EPROTO;
	if (type && (strcmp(type, "overloaded_error") == 0 || strcmp(type, "api_error") == 0)) {
		code = COG_EUNAVAILABLE;
		if (a->call)
			a->call->http_status = 503;
	} else if (type && strcmp(type, "rate_limit_error") == 0) {
		code = COG_EBUSY;
	}
	char *redacted = message ? cog__redact_text(message) : NULL;
	int rc = cog__error(code, "anthropic: stream: event %lu: the server sent an "
		"error: %s: %.*s", st->events, type ? type : "(no type)",
		PROVIDER_TEXT_MAX, redacted ? redacted : "(no message)");
	cog_free(redacted);
	return rc;
}

static int on_event(stream_state *st, const char *type, const cJSON *ev,
                    llm_asm *a, bool *done)
{
	int rc = COG_OK;
	if (strcmp(type, "content_block_delta") == 0)
		return on_block_delta(st, ev, a);
	if (strcmp(type, "content_block_start") == 0)
		return on_block_start(st, ev, a);
	if (strcmp(type, "content_block_stop") == 0)
		return on_block_stop(st, ev, a);
	if (strcmp(type, "message_start") == 0) {
		const cJSON *message = cJSON_GetObjectItemCaseSensitive(ev, "message");
		const char *model = cog_json_get_string(message, "model");
		if (model && (rc = llm_asm_set_model(a, model)))
			return rc;
		llm_anthropic_usage_take(&st->usage,
			cJSON_GetObjectItemCaseSensitive(message, "usage"), a);
	} else if (strcmp(type, "message_delta") == 0) {
		const char *finish = llm_anthropic_finish_reason(cog_json_get_string(
			cJSON_GetObjectItemCaseSensitive(ev, "delta"), "stop_reason"),
			st->forced_done);
		if (finish && (rc = llm_asm_set_finish(a, finish)))
			return rc;
		llm_anthropic_usage_take(&st->usage,
			cJSON_GetObjectItemCaseSensitive(ev, "usage"), a);
	} else if (strcmp(type, "message_stop") == 0) {
		if (st->held.len && (rc = llm_asm_text(a, st->held.ptr, st->held.len)))
			return rc;
		cog_buf_dispose(&st->held);
		*done = true;
	} else if (strcmp(type, "error") == 0) {
		return on_error(st, ev, a);
	}
	return COG_OK;             /* ping, and events added after this was written */
}

/* One event's data as a JSON object (nothing after it but whitespace). */
static int parse_event(const stream_state *st, const char *type, const char *data,
                       size_t len, cJSON **out)
{
	const char *end = NULL;
	cJSON *ev = cJSON_ParseWithLengthOpts(data, len, &end, false);
	while (ev && end < data + len && (*end == ' ' || *end == '\t' ||
	                                  *end == '\n' || *end == '\r'))
		end++;
	if (cJSON_IsObject(ev) && end == data + len) {
		*out = ev;
		return COG_OK;
	}
	cJSON_Delete(ev);
	if (cog_json_validate(data, len, "the data") != COG_OK)
		return cog__error_wrap(COG_EPROTO, "anthropic: stream: event %lu (%s)",
			st->events, type ? type : "message");
	return cog__error(COG_EPROTO, "anthropic: stream: event %lu (%s): the data is "
		"not a JSON object", st->events, type ? type : "message");
}

int llm_anthropic_stream_event(const llm_provider *p, void *state, const char *type,
                               const char *data, size_t len, llm_asm *a, bool *done)
{
	(void)p;
	stream_state *st = state;
	if (!st)
		return cog__oom("anthropic: stream state");
	st->events++;
	if (len == 0)
		return COG_OK;    /* "data:" alone: a legal event that says nothing */
	cJSON *ev = NULL;
	int rc = parse_event(st, type, data, len, &ev);
	if (rc)
		return rc;
	const char *ev_type = cog_json_get_string(ev, "type");
	if (!ev_type)
		ev_type = type ? type : "message";
	rc = on_event(st, ev_type, ev, a, done);
	cJSON_Delete(ev);
	return rc;
}
