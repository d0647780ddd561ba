/*
 * Untrusted content in a run (auth.h cog_injection_configure): every piece
 * of data that enters the prompt (a tool result, a dependency's result, a
 * context file, a retrieved memory) is scanned with the context's
 * injection heuristics before the model sees it. The first flagged piece
 * taints the run: an "injection.flagged" event, a warning in the log, span
 * attributes, and from then on the policy decides about the calls of
 * side-effecting tools ("approve": through the approval hook, "deny":
 * denied, "flag": nothing more). What is flagged is still shown to the
 * model, marked as data.
 *
 * The first messages are scanned as assembled (or as the journal kept
 * them), block by block: the bodies of <memory id="N">, <dependency
 * task="X"> (context files are dependencies "file:<path>") and <summary>
 * (a model's summary of earlier turns), and the earlier turns themselves;
 * the instructions and the task are the host's and are not scanned, except
 * the task of a handoff's sub-run, which the asking model wrote. A re-run
 * after a crash replays the same results, which are scanned again, so the
 * taint comes back with them.
 *
 * The taint is shared with the sub-runs of the run's handoffs (agent_env
 * taint): a sub-run of a tainted run starts tainted, and what taints a
 * sub-run taints the run that asked for it.
 */
#include <stdio.h>
#include <string.h>

#include "auth_int.h"
#include "loop_int.h"
#include "tool_int.h"

/* The policy of a tainted run (the state holds 1 + it). */
static int policy_of(const loop_run *r)
{
	int state = atomic_load(&r->taint->state);
	return state > 0 ? state - 1 : COG__INJECT_APPROVE;
}

bool loop_tainted(const loop_run *r)
{
	return atomic_load(&r->taint->state) != 0;
}

static const char *policy_name(int policy)
{
	return policy == COG__INJECT_DENY ? "deny"
	     : policy == COG__INJECT_FLAG ? "flag" : "approve";
}

/* The rule names of matches, each once, as a new array. */
static cJSON *rule_names(const cJSON *matches)
{
	cJSON *names = cJSON_CreateArray();
	const cJSON *m;
	cJSON_ArrayForEach(m, matches) {
		const char *rule = cog_json_get_string(m, "rule");
		bool seen = false;
		const cJSON *n;
		cJSON_ArrayForEach(n, names)
			seen = seen || strcmp(n->valuestring, rule) == 0;
		if (names && rule && !seen && !cJSON_AddItemToArray(names, cJSON_CreateString(rule))) {
			cJSON_Delete(names);
			return NULL;
		}
	}
	return names;
}

static void report(loop_run *r, const char *source, const cJSON *matches)
{
	cog_ctx *ctx = r->a->ctx;
	cJSON *names = rule_names(matches);
	char *list = names ? cog_json_print(names) : NULL;
	cog__log(ctx, COG_LOG_WARN, NULL, "agent '%s' (%s): instruction-like content in %s "
		"(rules %s); policy \"%s\" for side-effecting tools from now on",
		r->a->def->name, r->a->id, source, list ? list : "?", policy_name(policy_of(r)));
	cog_span *span = cog__span_current();
	if (!span)
		span = r->env->span;
	cog__span_attr_bool(span, "cog.injection.flagged", true);
	cog__span_attr_str(span, "cog.injection.source", source);
	cog__span_attr_str(span, "cog.injection.rules", list ? list : "");
	cog_free(list);
	if (!cog__ctx_has_event_hook(ctx)) {
		cJSON_Delete(names);
		return;
	}
	cJSON *d = cJSON_CreateObject();
	if (!d || !names) {
		cJSON_Delete(d);
		cJSON_Delete(names);
		return;
	}
	cJSON_AddStringToObject(d, "agent_id", r->a->id);
	if (r->env->plan_id && *r->env->plan_id)
		cJSON_AddStringToObject(d, "plan_id", r->env->plan_id);
	if (r->env->task_id && *r->env->task_id)
		cJSON_AddStringToObject(d, "task_id", r->env->task_id);
	cJSON_AddStringToObject(d, "source", source);
	cJSON_AddItemToObject(d, "rules", names);
	cJSON_AddStringToObject(d, "policy", policy_name(policy_of(r)));
	cog__event(ctx, "injection.flagged", d);
}

/* Scan text[0..len), adding its matches to `all`. */
static int collect(loop_run *r, const char *source, const char *text, size_t len,
                   cJSON *all)
{
	cJSON *matches = NULL;
	int flagged = cog__inject_scan(r->a->ctx, text, len, &matches);
	if (flagged < 0)
		return cog__error_wrap(flagged, "agent '%s': scanning %s", r->a->def->name, source);
	cJSON *m;
	while (matches && (m = cJSON_DetachItemViaPointer(matches, matches->child)) != NULL)
		cJSON_AddItemToArray(all, m);
	cJSON_Delete(matches);
	return COG_OK;
}

/* Taint the run when `all` holds a match. */
static void conclude(loop_run *r, const char *source, const cJSON *all)
{
	if (cJSON_GetArraySize(all) == 0)
		return;
	/* the policy of the first flag stays: compare and swap from clean */
	int clean = 0;
	atomic_compare_exchange_strong(&r->taint->state, &clean,
	                               1 + cog__inject_policy(r->a->ctx));
	report(r, source, all);
}

int loop_inject_scan(loop_run *r, const char *source, const char *text, size_t len)
{
	cJSON *all = cJSON_CreateArray();
	int rc = all ? collect(r, source, text, len, all) : cog__oom("agent: scanning");
	if (!rc)
		conclude(r, source, all);
	cJSON_Delete(all);
	return rc;
}

int loop_inject_scan_json(loop_run *r, const char *source, const cJSON *value,
                          const char *shown)
{
	cJSON *all = cJSON_CreateArray();
	int rc = all ? cog__inject_scan_json(r->a->ctx, value, shown, all)
	             : cog__oom("agent: scanning");
	if (rc)
		cog__error_wrap(rc, "agent '%s': scanning %s", r->a->def->name, source);
	else
		conclude(r, source, all);
	cJSON_Delete(all);
	return rc;
}

unsigned int loop_inject_flags(const loop_run *r)
{
	if (!loop_tainted(r))
		return 0;
	int policy = policy_of(r);
	return policy == COG__INJECT_DENY ? COG__TOOL_CALL_DENY_EFFECTS
	     : policy == COG__INJECT_FLAG ? 0 : COG__TOOL_CALL_APPROVE_EFFECTS;
}

/* ---- the first messages ---- */

/* The attribute `name` of the tag opening at s (up to '>') into out,
 * entities left as they are. */
static void attribute(const char *s, const char *end, const char *name, char *out,
                      size_t size)
{
	out[0] = '\0';
	char want[32];
	snprintf(want, sizeof(want), " %s=\"", name);
	const char *at = strstr(s, want);
	if (!at || at > end)
		return;
	at += strlen(want);
	const char *q = memchr(at, '"', (size_t)(end - at));
	size_t n = q ? (size_t)(q - at) : 0;
	snprintf(out, size, "%.*s", (int)(n < size ? n : size - 1), at);
}

/* Scan the bodies of the <tag ...>...</tag> blocks in text. */
static int scan_blocks(loop_run *r, const char *text, const char *tag, const char *attr)
{
	char open[32], close[32];
	snprintf(open, sizeof(open), "<%s", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	size_t open_len = strlen(open);
	const char *p = text;
	while ((p = strstr(p, open)) != NULL) {
		const char *gt = strchr(p, '>');
		if (!gt)
			break;
		if (p[open_len] != ' ' && p[open_len] != '>') {
			p += open_len;
			continue;
		}
		const char *body = gt + 1;
		const char *stop = strstr(body, close);
		size_t len = stop ? (size_t)(stop - body) : strlen(body);
		char value[256], source[300];
		attribute(p, gt, attr, value, sizeof(value));
		if (strcmp(tag, "dependency") == 0 && strncmp(value, "file:", 5) == 0)
			snprintf(source, sizeof(source), "%s", value);
		else
			snprintf(source, sizeof(source), "%s:%s", tag, value);
		int rc = loop_inject_scan(r, source, body, len);
		if (rc)
			return rc;
		p = body + len;
	}
	return COG_OK;
}

/* Whether content holds a block the memory layer writes for data. */
static bool has_blocks(const char *content)
{
	return strstr(content, "<dependency") || strstr(content, "<memory") ||
	       strstr(content, "<summary");
}

/* An earlier turn (from memory, not the host's): its text and the
 * arguments of its tool calls. */
static int scan_turn(loop_run *r, const cJSON *m, unsigned int n)
{
	char source[64];
	const char *role = cog_json_get_string(m, "role");
	snprintf(source, sizeof(source), "turn:%u:%.16s", n, role ? role : "?");
	const char *content = cog_json_get_string(m, "content");
	int rc = content ? loop_inject_scan(r, source, content, strlen(content)) : COG_OK;
	const cJSON *calls = cJSON_GetObjectItemCaseSensitive(m, "tool_calls");
	if (!rc && calls)
		rc = loop_inject_scan_json(r, source, calls, NULL);
	return rc;
}

int loop_inject_scan_context(loop_run *r)
{
	int rc = COG_OK;
	if (r->env->prompt_is_data) {
		/* a handoff's task: written by the asking agent's model */
		const char *text = cog_json_get_string(r->task, "prompt");
		const cog_agent *from = r->env->parent_agent;
		char source[COG_TOOL_NAME_MAX + 16];
		snprintf(source, sizeof(source), "handoff:%.*s", COG_TOOL_NAME_MAX,
		         from && from->def ? from->def->name : "?");
		if (text && (rc = loop_inject_scan(r, source, text, strlen(text))))
			return rc;
	}
	/* system: instructions; user: dependencies, memories (blocks); user:
	 * the task; user: summary (a block); the earlier turns */
	const char *prompt = cog_json_get_string(r->task, "prompt");
	bool task_seen = false;
	unsigned int n = 0;
	const cJSON *m;
	cJSON_ArrayForEach(m, r->messages) {
		const char *role = cog_json_get_string(m, "role");
		const char *content = cog_json_get_string(m, "content");
		if (role && strcmp(role, "system") == 0)
			continue;
		if (!task_seen && content && prompt && strcmp(content, prompt) == 0) {
			task_seen = true;   /* the task: the host's (scanned above if not) */
		} else if (content && has_blocks(content)) {
			rc = scan_blocks(r, content, "dependency", "task");
			if (!rc)
				rc = scan_blocks(r, content, "memory", "id");
			if (!rc)
				rc = scan_blocks(r, content, "summary", "turns");
		} else if (!task_seen) {
			task_seen = true;   /* the task: the host's (scanned above if not) */
		} else {
			rc = scan_turn(r, m, ++n);
		}
		if (rc)
			return rc;
	}
	return COG_OK;
}
