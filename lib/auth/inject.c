/*
 * Injection heuristics of a context (auth.h "Untrusted content"): the
 * configuration in slot COG__EXT_INJECT (on or off, the host's patterns,
 * the agent loop's policy), the scan the agent loop runs on what enters a
 * prompt as data, and the public calls. Calls take a reference to the
 * configuration under the state's lock; a reconfiguration swaps it and the
 * old one lives until its last scan is done. The built-in rules are
 * inject_rules.c's.
 */
#include <stdatomic.h>
#include <string.h>

#include "inject_int.h"

typedef struct inject_config {
	atomic_uint refs;
	bool enabled;
	int policy;                  /* COG__INJECT_* */
	size_t count;
	inject_rule rules[];         /* the host's patterns */
} inject_config;

typedef struct inject_pattern_src {
	const char *name, *regex;
} inject_pattern_src;

typedef struct inject_state {
	pthread_mutex_t lock;
	inject_config *cfg;          /* NULL: the defaults */
	/* the host's patterns as given, to rebuild a configuration that keeps
	 * them when "patterns" is absent */
	cJSON *patterns;
} inject_state;

static const char FN[] = "cog_injection_configure";

static void config_release(inject_config *c)
{
	if (!c || atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	for (size_t i = 0; i < c->count; i++) {
		cog_free(c->rules[i].name);
		pcre2_code_free(c->rules[i].re);
	}
	cog_free(c);
}

static int state_create(cog_ctx *ctx, void **out)
{
	(void)ctx;
	inject_state *st = cog__calloc(1, sizeof(*st));
	if (!st)
		return cog__oom("injection state");
	pthread_mutex_init(&st->lock, NULL);
	*out = st;
	return COG_OK;
}

static void state_destroy(void *p)
{
	inject_state *st = p;
	if (!st)
		return;
	config_release(st->cfg);
	cJSON_Delete(st->patterns);
	pthread_mutex_destroy(&st->lock);
	cog_free(st);
}

static inject_state *state_get(cog_ctx *ctx, bool create)
{
	void *st = NULL;
	if (!ctx || cog__ctx_ext(ctx, COG__EXT_INJECT, create ? state_create : NULL,
	                         state_destroy, &st))
		return NULL;
	return st;
}

/* The configuration in force with a reference, or NULL for the defaults. */
static inject_config *config_acquire(cog_ctx *ctx)
{
	inject_state *st = state_get(ctx, false);
	if (!st)
		return NULL;
	pthread_mutex_lock(&st->lock);
	inject_config *c = st->cfg;
	if (c)
		atomic_fetch_add(&c->refs, 1);
	pthread_mutex_unlock(&st->lock);
	return c;
}

/* ---- configuring ---- */

static bool good_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > INJECT_NAME_MAX)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' || *p == '.'))
			return false;
	return true;
}

/* Check one pattern object; its name and regex in *src. */
static int check_pattern(const cJSON *p, size_t i, const cJSON *list, inject_pattern_src *src)
{
	if (!cJSON_IsObject(p))
		return cog__error(COG_EINVAL, "%s: patterns[%zu] must be an object with "
		                  "string members \"name\" and \"regex\"", FN, i);
	const cJSON *m;
	cJSON_ArrayForEach(m, p) {
		if (strcmp(m->string, "name") && strcmp(m->string, "regex"))
			return cog__error(COG_EINVAL, "%s: patterns[%zu]: unknown member \"%.64s\"",
			                  FN, i, m->string);
	}
	src->name = cog_json_get_string(p, "name");
	src->regex = cog_json_get_string(p, "regex");
	if (!src->name || !src->regex)
		return cog__error(COG_EINVAL, "%s: patterns[%zu] must be an object with "
		                  "string members \"name\" and \"regex\"", FN, i);
	if (!good_name(src->name))
		return cog__error(COG_EINVAL, "%s: patterns[%zu]: the name must be 1..%d of "
		                  "[A-Za-z0-9_.-]", FN, i, INJECT_NAME_MAX);
	if (!*src->regex || strlen(src->regex) > INJECT_REGEX_MAX)
		return cog__error(COG_EINVAL, "%s: pattern '%s': the regex must be 1..%d bytes",
		                  FN, src->name, INJECT_REGEX_MAX);
	size_t builtin_n = 0;
	const inject_rule *b = inject_builtins(&builtin_n);
	for (size_t k = 0; k < builtin_n; k++)
		if (strcmp(b[k].name, src->name) == 0)
			return cog__error(COG_EINVAL, "%s: pattern '%s': the name is a built-in "
			                  "rule's", FN, src->name);
	size_t k = 0;
	const cJSON *q;
	cJSON_ArrayForEach(q, list) {
		if (k++ >= i)
			break;
		if (strcmp(cog_json_get_string(q, "name"), src->name) == 0)
			return cog__error(COG_EINVAL, "%s: pattern '%s' is given twice", FN,
			                  src->name);
	}
	return COG_OK;
}

/* A configuration with these patterns (already checked). */
static int build_config(bool enabled, int policy, const cJSON *patterns,
                        inject_config **out)
{
	size_t n = (size_t)cJSON_GetArraySize(patterns);
	inject_config *c = cog__calloc(1, sizeof(*c) + n * sizeof(inject_rule));
	if (!c)
		return cog__oom(FN);
	atomic_init(&c->refs, 1);
	c->enabled = enabled;
	c->policy = policy;
	int rc = COG_OK;
	const cJSON *p;
	cJSON_ArrayForEach(p, patterns) {
		inject_rule *r = &c->rules[c->count];
		const char *name = cog_json_get_string(p, "name");
		if ((rc = inject_compile(name, cog_json_get_string(p, "regex"), &r->re)))
			break;
		r->owned = true;
		c->count++;
		if (!(r->name = cog__strdup(name))) {
			rc = cog__oom(FN);
			break;
		}
	}
	if (rc) {
		config_release(c);
		return rc;
	}
	*out = c;
	return COG_OK;
}

static int parse_policy(const cJSON *v, int *policy)
{
	const char *s = cJSON_GetStringValue(v);
	if (s && strcmp(s, "approve") == 0)
		*policy = COG__INJECT_APPROVE;
	else if (s && strcmp(s, "deny") == 0)
		*policy = COG__INJECT_DENY;
	else if (s && strcmp(s, "flag") == 0)
		*policy = COG__INJECT_FLAG;
	else
		return cog__error(COG_EINVAL, "%s: \"policy\" must be \"approve\", \"deny\" or "
		                  "\"flag\"", FN);
	return COG_OK;
}

static int check_config(const cJSON *root, bool *enabled, int *policy)
{
	if (!cJSON_IsObject(root))
		return cog__error(COG_EINVAL, "%s: the configuration is not a JSON object", FN);
	const cJSON *m;
	cJSON_ArrayForEach(m, root) {
		if (strcmp(m->string, "enabled") && strcmp(m->string, "patterns") &&
		    strcmp(m->string, "policy"))
			return cog__error(COG_EINVAL, "%s: unknown member \"%.64s\"", FN, m->string);
	}
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "enabled");
	if (v && !cJSON_IsBool(v))
		return cog__error(COG_EINVAL, "%s: \"enabled\" must be true or false", FN);
	if (v)
		*enabled = cJSON_IsTrue(v);
	v = cJSON_GetObjectItemCaseSensitive(root, "policy");
	int rc = v ? parse_policy(v, policy) : COG_OK;
	if (rc)
		return rc;
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "patterns");
	if (list && !cJSON_IsArray(list))
		return cog__error(COG_EINVAL, "%s: \"patterns\" must be an array", FN);
	if (cJSON_GetArraySize(list) > INJECT_MAX_PATTERNS)
		return cog__error(COG_EINVAL, "%s: at most %d patterns", FN, INJECT_MAX_PATTERNS);
	size_t i = 0;
	cJSON_ArrayForEach(m, list) {
		inject_pattern_src src;
		if ((rc = check_pattern(m, i++, list, &src)))
			return rc;
	}
	return COG_OK;
}

int cog_injection_configure(cog_ctx *ctx, const char *config_json)
{
	COG_CHECK_ARG(ctx, FN, "ctx is NULL");
	COG_CHECK_ARG(config_json, FN, "config_json is NULL");
	inject_state *st = state_get(ctx, true);
	if (!st)
		return cog__error_wrap(COG_ENOMEM, "%s", FN);
	cJSON *root = cJSON_Parse(config_json);
	if (!root)
		return cog__error(COG_EINVAL, "%s: the configuration is not JSON", FN);
	/* the current values, then what the JSON changes */
	inject_config *cur = config_acquire(ctx);
	bool enabled = cur ? cur->enabled : true;
	int policy = cur ? cur->policy : COG__INJECT_APPROVE;
	config_release(cur);
	int rc = check_config(root, &enabled, &policy);
	cJSON *given = cJSON_GetObjectItemCaseSensitive(root, "patterns");
	cJSON *patterns = NULL;
	if (!rc) {
		pthread_mutex_lock(&st->lock);
		patterns = cJSON_Duplicate(given ? given : st->patterns, 1);
		pthread_mutex_unlock(&st->lock);
		if (!patterns && (given || st->patterns))
			rc = cog__oom(FN);
	}
	inject_config *c = NULL;
	if (!rc)
		rc = build_config(enabled, policy, patterns, &c);
	cJSON_Delete(root);
	if (rc) {
		cJSON_Delete(patterns);
		return rc;
	}
	pthread_mutex_lock(&st->lock);
	inject_config *old = st->cfg;
	st->cfg = c;
	cJSON_Delete(st->patterns);
	st->patterns = patterns;
	pthread_mutex_unlock(&st->lock);
	config_release(old);
	return COG_OK;
}

/* ---- scanning ---- */

int cog__inject_scan(cog_ctx *ctx, const char *text, size_t len, cJSON **matches)
{
	if (matches)
		*matches = NULL;
	if (!text)
		return COG_OK;
	inject_config *c = config_acquire(ctx);
	if (c && !c->enabled) {
		config_release(c);
		return 0;
	}
	size_t builtin_n = 0, n = 0;
	const inject_rule *b = inject_builtins(&builtin_n);
	cJSON *list = matches ? cJSON_CreateArray() : NULL;
	int rc = !b ? cog__oom("injection scan: built-in rules")
	     : (matches && !list) ? cog__oom("injection scan") : COG_OK;
	if (!rc)
		rc = inject_scan_rules(b, builtin_n, text, len, list, &n);
	if (!rc && c)
		rc = inject_scan_rules(c->rules, c->count, text, len, list, &n);
	config_release(c);
	if (rc) {
		cJSON_Delete(list);
		return rc;
	}
	if (matches)
		*matches = list;
	return n > 0 ? 1 : 0;
}

int cog__inject_policy(cog_ctx *ctx)
{
	inject_config *c = config_acquire(ctx);
	int policy = c ? c->policy : COG__INJECT_APPROVE;
	config_release(c);
	return policy;
}

int cog_injection_scan(cog_ctx *ctx, const char *text, char **report_json)
{
	static const char fn[] = "cog_injection_scan";
	if (report_json)
		*report_json = NULL;
	COG_CHECK_ARG(text, fn, "text is NULL");
	cJSON *matches = NULL;
	int flagged = cog__inject_scan(ctx, text, strlen(text), report_json ? &matches : NULL);
	if (flagged < 0)
		return cog__error_wrap(flagged, "%s", fn);
	if (!report_json)
		return flagged;
	cJSON *r = cJSON_CreateObject();
	if (!matches)
		matches = cJSON_CreateArray();
	bool ok = r && matches && cJSON_AddBoolToObject(r, "flagged", flagged) &&
	          cJSON_AddItemToObject(r, "matches", matches);
	if (ok)
		matches = NULL;
	char *text_out = ok ? cog_json_print(r) : NULL;
	cJSON_Delete(matches);
	cJSON_Delete(r);
	if (!text_out)
		return cog__oom(fn);
	*report_json = text_out;
	return flagged;
}
