/*
 * cog_memory_context: the messages of an agent turn within a token budget.
 *
 * The order of the work is the order of what matters (context_int.h has
 * the parts): the instructions, the task and the newest turn always; then
 * the dependency results (up to half of what is left); then the retrieved
 * memories (up to a third of what is left after them); then the older
 * turns, newest first, the rest summarised or cut; then more memories if
 * room remains. The messages go out as
 *   system: instructions; user: dependency results (data); user: memories
 *   (data); user: the task; user: summary or marker; the turns kept.
 * Every count is the handle's own estimate, so "tokens" never exceeds
 * budget_tokens by it.
 */
#include <math.h>
#include <string.h>

#include "auth_int.h"
#include "context_int.h"
#include "mem_auth.h"

static const char fn[] = "cog_memory_context";

#define BUDGET_MIN 64
#define BUDGET_MAX 100000000
#define K_DEFAULT 8
#define K_MAX 1000

static const char *const members[] = {
	"budget_tokens", "instructions", "task", "dependencies", "query", "k", "turns",
	"summarize",
};

/* ---- the request ---- */

static int string_member(const cJSON *req, const char *name, const char **out)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(req, name);
	*out = NULL;
	if (!it || cJSON_IsNull(it))
		return COG_OK;
	if (!cJSON_IsString(it))
		return cog__error(COG_EINVAL, "%s: \"%s\" must be a string", fn, name);
	*out = *it->valuestring ? it->valuestring : NULL;
	return COG_OK;
}

static int int_member(const cJSON *req, const char *name, double min, double max,
                      double *out)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(req, name);
	if (!cJSON_IsNumber(it) || it->valuedouble != floor(it->valuedouble) ||
	    it->valuedouble < min || it->valuedouble > max)
		return cog__error(COG_EINVAL, "%s: \"%s\" must be a whole number %.0f..%.0f",
			fn, name, min, max);
	*out = it->valuedouble;
	return COG_OK;
}

static int check_members(const cJSON *obj, const char *const *names, size_t n,
                         const char *where, int index)
{
	for (const cJSON *c = obj->child; c; c = c->next) {
		size_t i = 0;
		while (i < n && strcmp(c->string, names[i]) != 0)
			i++;
		if (i < n)
			continue;
		if (index < 0)
			return cog__error(COG_EINVAL, "%s: unknown member \"%.64s\" (expected "
				"budget_tokens, instructions, task, dependencies, query, k, turns, "
				"summarize)", fn, c->string);
		return cog__error(COG_EINVAL, "%s: %s[%d] has an unknown member \"%.64s\"",
			fn, where, index, c->string);
	}
	return COG_OK;
}

static int check_dependencies(const cJSON *deps)
{
	static const char *const names[] = { "task", "result" };
	if (!cJSON_IsArray(deps))
		return cog__error(COG_EINVAL, "%s: \"dependencies\" must be an array of "
			"{\"task\":\"id\",\"result\":...}", fn);
	int i = 0;
	for (const cJSON *d = deps->child; d; d = d->next, i++) {
		if (!cJSON_IsObject(d))
			return cog__error(COG_EINVAL, "%s: dependencies[%d] must be an object", fn, i);
		int rc = check_members(d, names, COG_ARRAY_LEN(names), "dependencies", i);
		if (rc)
			return rc;
		const cJSON *task = cJSON_GetObjectItemCaseSensitive(d, "task");
		if (task && !cJSON_IsString(task))
			return cog__error(COG_EINVAL, "%s: dependencies[%d].task must be a string",
				fn, i);
		const cJSON *result = cJSON_GetObjectItemCaseSensitive(d, "result");
		if (!result || cJSON_IsNull(result))
			return cog__error(COG_EINVAL, "%s: dependencies[%d] has no \"result\"", fn, i);
	}
	return COG_OK;
}

static int check_turn(const cJSON *t, int i)
{
	static const char *const names[] = {
		"role", "content", "tool_calls", "tool_call_id", "name",
	};
	if (!cJSON_IsObject(t))
		return cog__error(COG_EINVAL, "%s: turns[%d] must be an object", fn, i);
	int rc = check_members(t, names, COG_ARRAY_LEN(names), "turns", i);
	if (rc)
		return rc;
	const char *role = cog_json_get_string(t, "role");
	if (!role || (strcmp(role, "user") && strcmp(role, "assistant") && strcmp(role, "tool")))
		return cog__error(COG_EINVAL, "%s: turns[%d].role must be \"user\", "
			"\"assistant\" or \"tool\"", fn, i);
	const cJSON *content = cJSON_GetObjectItemCaseSensitive(t, "content");
	const cJSON *calls = cJSON_GetObjectItemCaseSensitive(t, "tool_calls");
	if (content && !cJSON_IsString(content) && !cJSON_IsNull(content))
		return cog__error(COG_EINVAL, "%s: turns[%d].content must be a string or null",
			fn, i);
	if (calls && !cJSON_IsArray(calls))
		return cog__error(COG_EINVAL, "%s: turns[%d].tool_calls must be an array", fn, i);
	if (!cJSON_IsString(content) && !(calls && calls->child))
		return cog__error(COG_EINVAL, "%s: turns[%d] has neither content nor tool_calls",
			fn, i);
	const char *names_s[] = { "tool_call_id", "name" };
	for (size_t k = 0; k < COG_ARRAY_LEN(names_s); k++) {
		const cJSON *it = cJSON_GetObjectItemCaseSensitive(t, names_s[k]);
		if (it && !cJSON_IsString(it))
			return cog__error(COG_EINVAL, "%s: turns[%d].%s must be a string", fn, i,
				names_s[k]);
	}
	return COG_OK;
}

static int take_request(ctx_assembly *a, const cJSON *req)
{
	if (!cJSON_IsObject(req))
		return cog__error(COG_EINVAL, "%s: the request must be a JSON object", fn);
	int rc = check_members(req, members, COG_ARRAY_LEN(members), NULL, -1);
	if (rc)
		return rc;
	if (!cJSON_GetObjectItemCaseSensitive(req, "budget_tokens"))
		return cog__error(COG_EINVAL, "%s: \"budget_tokens\" is required (at least %d)",
			fn, BUDGET_MIN);
	double v = 0;
	if ((rc = int_member(req, "budget_tokens", BUDGET_MIN, BUDGET_MAX, &v)))
		return rc;
	a->budget = (size_t)v;
	a->k = K_DEFAULT;
	if (cJSON_GetObjectItemCaseSensitive(req, "k")) {
		if ((rc = int_member(req, "k", 0, K_MAX, &v)))
			return rc;
		a->k = (unsigned int)v;
	}
	if ((rc = string_member(req, "instructions", &a->instructions)) ||
	    (rc = string_member(req, "task", &a->task)) ||
	    (rc = string_member(req, "query", &a->query)))
		return rc;
	const cJSON *deps = cJSON_GetObjectItemCaseSensitive(req, "dependencies");
	if (deps && !cJSON_IsNull(deps)) {
		if ((rc = check_dependencies(deps)))
			return rc;
		a->dependencies = deps;
	}
	const cJSON *sum = cJSON_GetObjectItemCaseSensitive(req, "summarize");
	if (sum && !cJSON_IsBool(sum))
		return cog__error(COG_EINVAL, "%s: \"summarize\" must be true or false", fn);
	a->summarize = !sum || cJSON_IsTrue(sum);
	const cJSON *turns = cJSON_GetObjectItemCaseSensitive(req, "turns");
	if (turns && !cJSON_IsNull(turns)) {
		if (!cJSON_IsArray(turns))
			return cog__error(COG_EINVAL, "%s: \"turns\" must be an array of "
				"{\"role\",\"content\"}", fn);
		int i = 0;
		for (const cJSON *t = turns->child; t; t = t->next, i++)
			if ((rc = check_turn(t, i)))
				return rc;
		a->turns_given = true;
	}
	return COG_OK;
}

/* ---- the turns ---- */

/* A working item as a turn: role (and a tool result's call id) from its
 * metadata; "user" when it names none or one that cannot stand alone. */
static cJSON *working_turn(const mem_work_item *it)
{
	cJSON *meta = it->metadata ? cJSON_Parse(it->metadata) : NULL;
	const char *role = cog_json_get_string(meta, "role");
	const char *call_id = cog_json_get_string(meta, "tool_call_id");
	if (!role || (strcmp(role, "assistant") && strcmp(role, "tool")) ||
	    (strcmp(role, "tool") == 0 && !call_id))
		role = "user";
	cJSON *t = cJSON_CreateObject();
	char *text = cog__strndup(it->text, it->text_len);
	bool ok = t && text && cJSON_AddStringToObject(t, "role", role) &&
		cJSON_AddStringToObject(t, "content", text) &&
		(strcmp(role, "tool") || cJSON_AddStringToObject(t, "tool_call_id", call_id));
	cog_free(text);
	cJSON_Delete(meta);
	if (!ok) {
		cJSON_Delete(t);
		return NULL;
	}
	return t;
}

static int collect_turns(ctx_assembly *a, const cJSON *req)
{
	const cJSON *given = cJSON_GetObjectItemCaseSensitive(req, "turns");
	if (a->turns_given)
		a->turns = cJSON_Duplicate(given, true);
	else
		a->turns = cJSON_CreateArray();
	if (!a->turns)
		return cog__oom(fn);
	for (size_t i = 0; !a->turns_given && i < a->m->working.count; i++) {
		cJSON *t = working_turn(&a->m->working.items[i]);
		if (!t || !cJSON_AddItemToArray(a->turns, t)) {
			cJSON_Delete(t);
			return cog__oom(fn);
		}
	}
	a->n_turns = (size_t)cJSON_GetArraySize(a->turns);
	a->turn_milli = cog__calloc(a->n_turns ? a->n_turns : 1, sizeof(*a->turn_milli));
	a->turn = cog__calloc(a->n_turns ? a->n_turns : 1, sizeof(*a->turn));
	if (!a->turn_milli || !a->turn)
		return cog__oom(fn);
	size_t i = 0;
	for (cJSON *t = a->turns->child; t; t = t->next, i++) {
		a->turn[i] = t;
		a->turn_milli[i] = mem_tok_message_milli(t);
	}
	return COG_OK;
}

static int text_message(const char *role, const char *content, cJSON **out, uint64_t *milli)
{
	*out = NULL;
	*milli = 0;
	if (!content)
		return COG_OK;
	cJSON *msg = cJSON_CreateObject();
	if (!msg || !cJSON_AddStringToObject(msg, "role", role) ||
	    !cJSON_AddStringToObject(msg, "content", content)) {
		cJSON_Delete(msg);
		return cog__oom(fn);
	}
	*out = msg;
	*milli = mem_tok_message_milli(msg);
	return COG_OK;
}

/* ---- the answer ---- */

/* Move msg (may be NULL) into the array; its estimate into the section. */
static bool add_message(cJSON *messages, cJSON **msg)
{
	if (!*msg)
		return true;
	bool ok = cJSON_AddItemToArray(messages, *msg);
	if (ok)
		*msg = NULL;
	return ok;
}

static bool add_sections(const ctx_assembly *a, cJSON *o, uint64_t turns_milli)
{
	const mem_tokens *t = &a->m->tokens;
	cJSON *s = cJSON_AddObjectToObject(o, "sections");
	return s &&
		cJSON_AddNumberToObject(s, "instructions",
			(double)mem_tok_scale(t, a->instructions_milli)) &&
		cJSON_AddNumberToObject(s, "task", (double)mem_tok_scale(t, a->task_milli)) &&
		cJSON_AddNumberToObject(s, "dependencies", (double)mem_tok_scale(t, a->deps.milli)) &&
		cJSON_AddNumberToObject(s, "memories", (double)mem_tok_scale(t, a->memories.milli)) &&
		cJSON_AddNumberToObject(s, "turns", (double)mem_tok_scale(t, turns_milli));
}

static bool add_report(const ctx_assembly *a, cJSON *o)
{
	cJSON *ids = cJSON_AddArrayToObject(o, "memories");
	for (size_t i = 0; ids && i < a->memories.n; i++)
		if (a->memories.pieces[i].in &&
		    !cJSON_AddItemToArray(ids, cJSON_CreateNumber((double)a->memories.pieces[i].id)))
			return false;
	cJSON *dropped = ids ? cJSON_AddObjectToObject(o, "dropped") : NULL;
	return dropped &&
		cJSON_AddNumberToObject(o, "summarized_turns", (double)a->summarized) &&
		(a->summary_id ? cJSON_AddNumberToObject(o, "summary_id", (double)a->summary_id) != NULL
		               : cJSON_AddNullToObject(o, "summary_id") != NULL) &&
		cJSON_AddNumberToObject(o, "truncated_turns", (double)a->truncated) &&
		cJSON_AddNumberToObject(dropped, "memories",
			(double)(a->memories.n - a->memories.n_in)) &&
		cJSON_AddNumberToObject(dropped, "dependencies", (double)a->deps_dropped) &&
		cJSON_AddNumberToObject(dropped, "turns", (double)(a->summarized + a->truncated)) &&
		cJSON_AddNumberToObject(dropped, "newest_turn_bytes", (double)a->newest_cut_bytes) &&
		cJSON_AddNumberToObject(dropped, "dependency_bytes",
			(double)a->dependency_cut_bytes);
}

static int answer(ctx_assembly *a, char **out)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *messages = o ? cJSON_AddArrayToObject(o, "messages") : NULL;
	cJSON *deps = NULL, *mems = NULL;
	int rc = messages ? mem_ctx_block_message(&a->deps, &deps) : cog__oom(fn);
	if (!rc)
		rc = mem_ctx_block_message(&a->memories, &mems);
	bool ok = !rc && add_message(messages, &a->instructions_msg) &&
		add_message(messages, &deps) && add_message(messages, &mems) &&
		add_message(messages, &a->task_msg) && add_message(messages, &a->history_msg);
	uint64_t turns_milli = a->history_milli;
	for (size_t i = a->first_kept; ok && i < a->n_turns; i++) {
		cJSON *t = cJSON_DetachItemViaPointer(a->turns, a->turn[i]);
		turns_milli += a->turn_milli[i];
		ok = add_message(messages, &t);
		cJSON_Delete(t);
	}
	cJSON_Delete(deps);
	cJSON_Delete(mems);
	size_t tokens = ok ? mem_tok_messages(&a->m->tokens, messages) : 0;
	if (ok && tokens > a->budget)   /* the parts must add up: a bug if not */
		rc = cog__error(COG_ERROR, "%s: internal error: %zu tokens assembled for a budget "
			"of %zu", fn, tokens, a->budget);
	ok = ok && !rc &&
		cJSON_AddNumberToObject(o, "tokens", (double)tokens) &&
		cJSON_AddNumberToObject(o, "budget_tokens", (double)a->budget) &&
		add_sections(a, o, turns_milli) && add_report(a, o);
	if (ok)
		*out = cog_json_print(o);
	cJSON_Delete(o);
	if (rc)
		return rc;
	return *out ? COG_OK : cog__oom(fn);
}

static void dispose(ctx_assembly *a)
{
	cJSON_Delete(a->turns);
	cog_free(a->turn_milli);
	cog_free(a->turn);
	cJSON_Delete(a->instructions_msg);
	cJSON_Delete(a->task_msg);
	cJSON_Delete(a->history_msg);
	mem_ctx_block_dispose(&a->deps);
	mem_ctx_block_dispose(&a->memories);
}

static int assemble(ctx_assembly *a, const cJSON *req, char **out)
{
	int rc;
	if ((rc = take_request(a, req)) || (rc = collect_turns(a, req)) ||
	    (rc = text_message("system", a->instructions, &a->instructions_msg,
	                       &a->instructions_milli)) ||
	    (rc = text_message("user", a->task, &a->task_msg, &a->task_milli)))
		return rc;
	a->cap = mem_tok_milli_cap(&a->m->tokens, a->budget);
	if ((rc = mem_ctx_fixed(a)) || (rc = mem_ctx_dependencies(a)) ||
	    (rc = mem_ctx_retrieve(a)))
		return rc;
	a->used += mem_ctx_take_memories(a, (a->cap - a->used) / 3);
	/* the marker's share, kept by the fixed part, goes back to the turns */
	a->used -= a->marker_milli;
	if ((rc = mem_ctx_turns(a, a->cap - a->used)))
		return rc;
	a->used += mem_ctx_take_memories(a, a->cap - a->used);
	return answer(a, out);
}

int cog_memory_context(cog_memory *mem, const char *request_json, char **result_json)
{
	COG_CHECK_ARG(result_json, fn, "result_json is NULL");
	*result_json = NULL;
	COG_CHECK_ARG(mem, fn, "mem is NULL");
	{
		int auth_rc = mem_auth_check(mem, fn, COG_AUTH_MEMORY_READ, mem->ns);
		if (auth_rc)
			return auth_rc;
	}
	COG_CHECK_ARG(request_json, fn, "request_json is NULL");
	cJSON *req = NULL;
	int rc = cog_json_parse(&req, request_json, "cog_memory_context: request_json");
	if (rc)
		return rc;
	ctx_assembly a;
	memset(&a, 0, sizeof(a));
	a.m = mem;
	rc = assemble(&a, req, result_json);
	dispose(&a);
	cJSON_Delete(req);
	return rc;
}
