/*
 * A context's redaction: its configuration (cog_redact_configure) and its
 * totals (cog_redact_stats), kept in the COG__EXT_REDACT slot. Calls take
 * a reference to the configuration under the state's lock and let it go
 * when they finish, so a reconfiguration swaps the pointer at once and the
 * old set lives until its last call is done.
 */
#include <inttypes.h>
#include <string.h>

#include "redact_int.h"
#include "redact_secret.h"
#include "cognition/memory.h"

#define PATTERN_NAME_MAX 64
#define PATTERN_REGEX_MAX 4096
#define PATTERN_REPLACEMENT_MAX 256

typedef struct named_count {
	char *name;
	uint64_t n;
} named_count;

typedef struct redact_state {
	const struct cog_ctx *ctx;              /* its literal secrets' owner */
	pthread_mutex_t lock;
	cog_redact_config *config;              /* NULL: the defaults */
	uint64_t builtin[COG_REDACT_BUILTINS];
	named_count *custom;                    /* the host's patterns, by name */
	size_t custom_len, custom_cap;
} redact_state;

static void config_free(cog_redact_config *config)
{
	for (size_t i = 0; i < config->pattern_count; i++) {
		cog_redact_rule *p = &config->patterns[i];
		pcre2_code_free(p->re);
		cog_free((char *)p->name);
		cog_free((char *)p->replacement);
	}
	cog_free(config);
}

void cog__redact_config_release(cog_redact_config *config)
{
	if (config && atomic_fetch_sub(&config->refs, 1) == 1)
		config_free(config);
}

static int state_create(struct cog_ctx *ctx, void **out)
{
	redact_state *st = cog__calloc(1, sizeof(*st));
	if (!st)
		return cog__oom("redaction state");
	st->ctx = ctx;
	pthread_mutex_init(&st->lock, NULL);
	*out = st;
	return COG_OK;
}

static void state_destroy(void *p)
{
	redact_state *st = p;
	cog__redact_secrets_forget(st->ctx);
	cog__redact_config_release(st->config);
	for (size_t i = 0; i < st->custom_len; i++)
		cog_free(st->custom[i].name);
	cog_free(st->custom);
	pthread_mutex_destroy(&st->lock);
	cog_free(st);
}

/* NULL when there is none yet and create is false, or on error (set). */
static redact_state *state_get(struct cog_ctx *ctx, bool create)
{
	void *st = NULL;
	if (cog__ctx_ext(ctx, COG__EXT_REDACT, create ? state_create : NULL,
	                 state_destroy, &st))
		return NULL;
	return st;
}

int cog__redact_state_ensure(struct cog_ctx *ctx)
{
	return state_get(ctx, true) ? COG_OK : cog__error_wrap(COG_ENOMEM, "redaction state");
}

cog_redact_config *cog__redact_config_acquire(struct cog_ctx *ctx)
{
	redact_state *st = ctx ? state_get(ctx, false) : NULL;
	if (!st)
		return NULL;
	pthread_mutex_lock(&st->lock);
	cog_redact_config *config = st->config;
	if (config)
		atomic_fetch_add(&config->refs, 1);
	pthread_mutex_unlock(&st->lock);
	return config;
}

static int add_custom(redact_state *st, const char *name, uint64_t n)
{
	for (size_t i = 0; i < st->custom_len; i++)
		if (strcmp(st->custom[i].name, name) == 0) {
			st->custom[i].n += n;
			return COG_OK;
		}
	if (st->custom_len == st->custom_cap) {
		size_t cap = st->custom_cap ? st->custom_cap * 2 : 8;
		named_count *grown = cog_realloc(st->custom, cap * sizeof(*grown));
		if (!grown)
			return cog__oom("redaction counters");
		st->custom = grown;
		st->custom_cap = cap;
	}
	char *copy = cog__strdup(name);
	if (!copy)
		return cog__oom("redaction counters");
	st->custom[st->custom_len].name = copy;
	st->custom[st->custom_len++].n = n;
	return COG_OK;
}

int cog__redact_count(struct cog_ctx *ctx, const cog_redact_config *config,
                      const uint64_t *counts)
{
	redact_state *st = ctx ? state_get(ctx, true) : NULL;
	if (!st)
		return ctx ? COG_ENOMEM : COG_OK;
	int rc = COG_OK;
	pthread_mutex_lock(&st->lock);
	for (size_t i = 0; i < COG_REDACT_BUILTINS; i++)
		st->builtin[i] += counts[i];
	for (size_t i = 0; config && i < config->pattern_count && !rc; i++)
		if (counts[COG_REDACT_BUILTINS + i])
			rc = add_custom(st, config->patterns[i].name, counts[COG_REDACT_BUILTINS + i]);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

/* The built-in's COG_REDACT_* for a rule name, or -1. */
static int builtin_index(const char *name)
{
	const cog_redact_rule *rules = cog__redact_builtins(); /* checked by the caller */
	for (int i = 0; i < COG_REDACT_BUILTINS; i++)
		if (strcmp(rules[i].name, name) == 0)
			return i;
	return -1;
}

static int parse_rules(const cJSON *rules, unsigned int *bits, const char *fn)
{
	if (!cJSON_IsObject(rules))
		return cog__error(COG_EINVAL, "%s: \"rules\" must be an object of booleans", fn);
	for (const cJSON *r = rules->child; r; r = r->next) {
		int i = builtin_index(r->string);
		if (i < 0)
			return cog__error(COG_EINVAL, "%s: unknown rule \"%s\" (email, phone, card, "
				"iban, api_key, jwt, private_key)", fn, r->string);
		if (!cJSON_IsBool(r))
			return cog__error(COG_EINVAL, "%s: rule \"%s\" must be true or false", fn,
				r->string);
		if (cJSON_IsTrue(r))
			*bits |= 1u << i;
		else
			*bits &= ~(1u << i);
	}
	return COG_OK;
}

static bool valid_name(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > PATTERN_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.'))
			return false;
	}
	return true;
}

/* "[TICKET]" for a pattern named "ticket" that gives no replacement. */
static char *default_replacement(const char *name)
{
	size_t n = strlen(name);
	char *s = cog_malloc(n + 3);
	if (!s)
		return NULL;
	s[0] = '[';
	for (size_t i = 0; i < n; i++)
		s[i + 1] = name[i] >= 'a' && name[i] <= 'z' ? (char)(name[i] - 'a' + 'A') : name[i];
	s[n + 1] = ']';
	s[n + 2] = '\0';
	return s;
}

static int compile_pattern(cog_redact_rule *p, const char *regex, const char *fn)
{
	int err;
	PCRE2_SIZE offset;
	pcre2_compile_context *cctx = pcre2_compile_context_create(cog__redact_gctx());
	if (!cctx)
		return cog__oom(fn);
	p->re = pcre2_compile((PCRE2_SPTR)regex, PCRE2_ZERO_TERMINATED,
		PCRE2_UTF | PCRE2_NEVER_BACKSLASH_C, &err, &offset, cctx);
	pcre2_compile_context_free(cctx);
	if (!p->re) {
		PCRE2_UCHAR why[160];
		if (pcre2_get_error_message(err, why, sizeof(why)) < 0)
			strcpy((char *)why, "unknown error");
		return cog__error(COG_EINVAL, "%s: pattern \"%s\" does not compile at offset %zu: %s",
			fn, p->name, (size_t)offset, (const char *)why);
	}
	uint32_t min_length = 0;
	if (pcre2_pattern_info(p->re, PCRE2_INFO_MINLENGTH, &min_length) == 0 && min_length == 0)
		return cog__error(COG_EINVAL, "%s: pattern \"%s\" can match empty text", fn, p->name);
	pcre2_jit_compile(p->re, PCRE2_JIT_COMPLETE); /* a speed-up if present */
	return COG_OK;
}

static int parse_pattern(const cJSON *item, cog_redact_rule *p, size_t index,
                         const cog_redact_rule *earlier, const char *fn)
{
	if (!cJSON_IsObject(item))
		return cog__error(COG_EINVAL, "%s: patterns[%zu] must be an object", fn, index);
	const cJSON *name = NULL, *regex = NULL, *replacement = NULL;
	for (const cJSON *m = item->child; m; m = m->next) {
		const cJSON **slot = strcmp(m->string, "name") == 0 ? &name :
			strcmp(m->string, "regex") == 0 ? &regex :
			strcmp(m->string, "replacement") == 0 ? &replacement : NULL;
		if (!slot)
			return cog__error(COG_EINVAL, "%s: patterns[%zu]: unknown member \"%s\" "
				"(name, regex, replacement)", fn, index, m->string);
		if (!cJSON_IsString(m))
			return cog__error(COG_EINVAL, "%s: patterns[%zu].%s must be a string", fn,
				index, m->string);
		*slot = m;
	}
	if (!name || !valid_name(name->valuestring))
		return cog__error(COG_EINVAL, "%s: patterns[%zu] needs a \"name\" of 1..%d letters, "
			"digits, '_', '-' or '.'", fn, index, PATTERN_NAME_MAX);
	const char *n = name->valuestring;
	if (builtin_index(n) >= 0 || strcmp(n, "total") == 0)
		return cog__error(COG_EINVAL, "%s: pattern name \"%s\" is taken by a built-in counter",
			fn, n);
	for (size_t i = 0; i < index; i++)
		if (strcmp(earlier[i].name, n) == 0)
			return cog__error(COG_EINVAL, "%s: pattern name \"%s\" is used twice", fn, n);
	if (!regex || !regex->valuestring[0] || strlen(regex->valuestring) > PATTERN_REGEX_MAX)
		return cog__error(COG_EINVAL, "%s: pattern \"%s\" needs a \"regex\" of 1..%d bytes",
			fn, n, PATTERN_REGEX_MAX);
	if (replacement && strlen(replacement->valuestring) > PATTERN_REPLACEMENT_MAX)
		return cog__error(COG_EINVAL, "%s: pattern \"%s\": replacement over %d bytes", fn, n,
			PATTERN_REPLACEMENT_MAX);
	p->name = cog__strdup(n);
	p->replacement = replacement ? cog__strdup(replacement->valuestring) : default_replacement(n);
	if (!p->name || !p->replacement)
		return cog__oom(fn);
	p->replacement_len = strlen(p->replacement);
	return compile_pattern(p, regex->valuestring, fn);
}

static int build_config(const cJSON *root, cog_redact_config **out, const char *fn)
{
	const cJSON *rules = NULL, *patterns = NULL;
	for (const cJSON *m = root->child; m; m = m->next) {
		if (strcmp(m->string, "rules") == 0)
			rules = m;
		else if (strcmp(m->string, "patterns") == 0)
			patterns = m;
		else
			return cog__error(COG_EINVAL, "%s: unknown member \"%s\" (rules, patterns)", fn,
				m->string);
	}
	if (patterns && !cJSON_IsArray(patterns))
		return cog__error(COG_EINVAL, "%s: \"patterns\" must be an array", fn);
	size_t count = patterns ? (size_t)cJSON_GetArraySize(patterns) : 0;
	if (count > COG_REDACT_MAX_PATTERNS)
		return cog__error(COG_EINVAL, "%s: %zu patterns, at most %d", fn, count,
			COG_REDACT_MAX_PATTERNS);
	cog_redact_config *c = cog__calloc(1, sizeof(*c) + count * sizeof(c->patterns[0]));
	if (!c)
		return cog__oom(fn);
	atomic_init(&c->refs, 1);
	c->builtins = COG_REDACT_ALL_BUILTINS;
	int rc = rules ? parse_rules(rules, &c->builtins, fn) : COG_OK;
	size_t i = 0;
	for (const cJSON *item = patterns ? patterns->child : NULL; item && !rc; item = item->next) {
		c->pattern_count = i + 1; /* config_free() frees what parse_pattern() made */
		rc = parse_pattern(item, &c->patterns[i], i, c->patterns, fn);
		i++;
	}
	if (rc) {
		config_free(c);
		return rc;
	}
	*out = c;
	return COG_OK;
}

int cog_redact_configure(cog_ctx *ctx, const char *config_json)
{
	static const char fn[] = "cog_redact_configure";
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	COG_CHECK_ARG(config_json, fn, "config_json is NULL");
	if (!cog__redact_builtins())
		return cog__oom(fn);
	cJSON *root = NULL;
	int rc = cog_json_parse(&root, config_json, fn);
	if (rc)
		return rc;
	cog_redact_config *config = NULL;
	if (!cJSON_IsObject(root))
		rc = cog__error(COG_EINVAL, "%s: the configuration must be a JSON object", fn);
	else
		rc = build_config(root, &config, fn);
	cJSON_Delete(root);
	if (rc)
		return rc;
	redact_state *st = state_get(ctx, true);
	if (!st) {
		cog__redact_config_release(config);
		return cog__error_wrap(COG_ENOMEM, "%s", fn);
	}
	pthread_mutex_lock(&st->lock);
	cog_redact_config *old = st->config;
	st->config = config;
	pthread_mutex_unlock(&st->lock);
	cog__redact_config_release(old);
	return COG_OK;
}

int cog_redact_stats(cog_ctx *ctx, char **json)
{
	static const char fn[] = "cog_redact_stats";
	COG_CHECK_ARG(json, fn, "json is NULL");
	*json = NULL;
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	const cog_redact_rule *rules = cog__redact_builtins();
	if (!rules)
		return cog__oom(fn);
	redact_state *st = state_get(ctx, false);
	static const redact_state none;
	const redact_state *s = st ? st : &none;
	if (st)
		pthread_mutex_lock(&st->lock);
	uint64_t total = 0;
	for (size_t i = 0; i < COG_REDACT_BUILTINS; i++)
		total += s->builtin[i];
	for (size_t i = 0; i < s->custom_len; i++)
		total += s->custom[i].n;
	cog_buf b = COG_BUF_INIT;
	cog_buf_printf(&b, "{\"total\":%" PRIu64, total);
	for (size_t i = 0; i < COG_REDACT_BUILTINS; i++)
		cog_buf_printf(&b, ",\"%s\":%" PRIu64, rules[i].name, s->builtin[i]);
	for (size_t i = 0; i < s->custom_len; i++) {
		cog_buf_putc(&b, ',');
		cog_buf_put_json_string(&b, s->custom[i].name, strlen(s->custom[i].name));
		cog_buf_printf(&b, ":%" PRIu64, s->custom[i].n);
	}
	if (st)
		pthread_mutex_unlock(&st->lock);
	cog_buf_putc(&b, '}');
	*json = cog_buf_detach(&b);
	return *json ? COG_OK : cog__oom(fn);
}
