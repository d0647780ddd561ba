/*
 * The turns of an assembled context.
 *
 * The newest turn is never dropped: when the instructions, the task and it
 * do not fit together, it loses its start (the end of a message is what
 * the next step answers) behind CTX_CUT_MARK. Older turns go in newest
 * first for as long as they fit, without gaps; the ones before them are
 * summarised (context_summary.c) or cut, and a marker says how many. Room
 * for the marker is kept from the start, so older turns never make the
 * fixed part fail.
 */
#include <stdio.h>
#include <string.h>

#include "context_int.h"
#include "cognition/llm.h"

#define SUMMARY_MIN_TOKENS 48
#define SUMMARY_MAX_TOKENS 512

static int marker_message(size_t n, cJSON **out, uint64_t *milli)
{
	char text[64];
	snprintf(text, sizeof(text), "[%zu earlier turn%s omitted]", n, n == 1 ? "" : "s");
	cJSON *msg = cJSON_CreateObject();
	if (!msg || !cJSON_AddStringToObject(msg, "role", "user") ||
	    !cJSON_AddStringToObject(msg, "content", text)) {
		cJSON_Delete(msg);
		return cog__oom("cog_memory_context: turns");
	}
	*out = msg;
	*milli = mem_tok_message_milli(msg);
	return COG_OK;
}

static bool is_tool_result(const cJSON *turn)
{
	const char *role = cog_json_get_string(turn, "role");
	return role && strcmp(role, "tool") == 0;
}

size_t mem_ctx_first_fitting(const ctx_assembly *a, uint64_t room)
{
	size_t newest = a->n_turns - 1, f = newest;
	uint64_t sum = 0;
	while (f > 0 && a->turn_milli[f - 1] <= room - sum) {
		sum += a->turn_milli[f - 1];
		f--;
	}
	/* a tool result whose call is cut would be refused by the provider */
	while (f < newest && is_tool_result(a->turn[f]))
		f++;
	return f;
}

static uint64_t kept_milli(const ctx_assembly *a, size_t first)
{
	uint64_t sum = 0;
	for (size_t i = first; i + 1 < a->n_turns; i++)
		sum += a->turn_milli[i];
	return sum;
}

/* Cut the start of the newest turn's content so that the used sum plus
 * the turn is at most cap. */
static int shorten_newest(ctx_assembly *a)
{
	size_t newest = a->n_turns - 1;
	cJSON *turn = a->turn[newest];
	cJSON *content = cJSON_GetObjectItemCaseSensitive(turn, "content");
	if (!cJSON_IsString(content))
		return COG_EBUDGET;
	const char *text = content->valuestring;
	size_t len = strlen(text);
	uint64_t rest = a->turn_milli[newest] - mem_tok_text_milli(text, len);
	uint64_t mark = mem_tok_text_milli(CTX_CUT_MARK "\n", strlen(CTX_CUT_MARK) + 1);
	if (a->used + rest + mark > a->cap)
		return COG_EBUDGET;
	size_t from = mem_ctx_fit_suffix(text, len, a->cap - a->used - rest - mark);
	cog_buf b = COG_BUF_INIT;
	cog_buf_puts(&b, CTX_CUT_MARK "\n");
	cog_buf_put(&b, text + from, len - from);
	char *cut = cog_buf_detach(&b);
	cJSON *item = cut ? cJSON_CreateString(cut) : NULL;
	cog_free(cut);
	if (!item || !cJSON_ReplaceItemInObjectCaseSensitive(turn, "content", item)) {
		cJSON_Delete(item);
		return cog__oom("cog_memory_context: newest turn");
	}
	a->newest_cut_bytes = from;
	a->turn_milli[newest] = mem_tok_message_milli(turn);
	return COG_OK;
}

int mem_ctx_fixed(ctx_assembly *a)
{
	a->used = MEM_TOK_REQUEST_MILLI + a->instructions_milli + a->task_milli;
	if (a->n_turns > 1) {
		cJSON *probe = NULL;
		int rc = marker_message(a->n_turns, &probe, &a->marker_milli);
		cJSON_Delete(probe);
		if (rc)
			return rc;
		a->used += a->marker_milli;
	}
	if (a->n_turns) {
		int rc = COG_OK;
		if (a->used + a->turn_milli[a->n_turns - 1] > a->cap)
			rc = shorten_newest(a);
		if (rc && rc != COG_EBUDGET)
			return rc;
		if (!rc)
			a->used += a->turn_milli[a->n_turns - 1];
		else
			a->used = a->cap + 1;
	}
	if (a->used <= a->cap)
		return COG_OK;
	return cog__error(COG_EBUDGET,
		"cog_memory_context: budget_tokens %zu cannot hold the parts that are always "
		"kept: instructions %zu tokens, task %zu tokens%s", a->budget,
		mem_tok_scale(&a->m->tokens, a->instructions_milli),
		mem_tok_scale(&a->m->tokens, a->task_milli),
		a->n_turns ? ", and the newest turn without its text" : "");
}

/* Cut turns[0..f) and put the marker in their place. */
static int cut(ctx_assembly *a, size_t f)
{
	int rc = marker_message(f, &a->history_msg, &a->history_milli);
	if (rc)
		return rc;
	a->truncated = f;
	a->first_kept = f;
	a->used += kept_milli(a, f) + a->history_milli;
	return COG_OK;
}

int mem_ctx_turns(ctx_assembly *a, uint64_t room)
{
	a->first_kept = 0;
	if (a->n_turns < 2)
		return COG_OK;
	/* the newest turn lost its start: nothing older goes before it */
	if (a->newest_cut_bytes)
		return cut(a, a->n_turns - 1);
	size_t f = mem_ctx_first_fitting(a, room);
	if (f == 0) {
		a->used += kept_milli(a, 0);
		return COG_OK;
	}
	if (a->summarize && cog_llm_available(a->m->ctx)) {
		uint64_t lo = mem_tok_milli_cap(&a->m->tokens, SUMMARY_MIN_TOKENS);
		uint64_t hi = mem_tok_milli_cap(&a->m->tokens, SUMMARY_MAX_TOKENS);
		uint64_t share = room / 4 < lo ? lo : room / 4 > hi ? hi : room / 4;
		if (share <= room && share > a->marker_milli) {
			size_t f2 = mem_ctx_first_fitting(a, room - share);
			if (f2 > 0 && mem_ctx_summarize(a, f2, share) == COG_OK) {
				a->first_kept = f2;
				a->used += kept_milli(a, f2) + a->history_milli;
				return COG_OK;
			}
		}
	}
	/* room always holds the marker: the fixed part kept it */
	return cut(a, mem_ctx_first_fitting(a, room - a->marker_milli));
}
