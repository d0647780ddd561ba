/*
 * The auth state of a context (slot COG__EXT_AUTH): the configuration
 * (cog_auth_configure), the storage auth keeps its documents in, the
 * document helpers and the name rules every other file of the module uses.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "auth_int.h"

#define SKEW_MAX 600
#define TTL_MAX (86400LL * 366)

static void config_defaults(auth_config *c)
{
	memset(c, 0, sizeof(*c));
	c->clock_skew_s = 60;
	c->access_ttl_s = 900;
	c->refresh_ttl_s = 1209600;
	c->reset_ttl_s = 3600;
	c->login_per_minute = 60;
	c->opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
	c->memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
	c->pw_min = 8;
	c->pw_max = 4096;
}

void auth_config_dispose(auth_config *cfg)
{
	if (!cfg)
		return;
	cog_free(cfg->issuer);
	cog_free(cfg->audience);
	cfg->issuer = cfg->audience = NULL;
}

static int state_create(cog_ctx *ctx, void **out)
{
	if (sodium_init() < 0)
		return cog__error(COG_ERROR, "auth: libsodium could not be initialised");
	auth_state *st = cog__calloc(1, sizeof(*st));
	if (!st)
		return cog__oom("auth state");
	pthread_mutex_init(&st->lock, NULL);
	config_defaults(&st->cfg);
	/* Made now, not at first use: callers holding st->lock reach the
	 * storage, so finding it must not take the lock. */
	if (!cog_ctx_storage(ctx)) {
		int rc = cog_storage_memory_new(&st->fallback);
		if (rc) {
			pthread_mutex_destroy(&st->lock);
			cog_free(st);
			return rc;
		}
	}
	*out = st;
	return COG_OK;
}

static void state_destroy(void *p)
{
	auth_state *st = p;
	if (!st)
		return;
	auth_config_dispose(&st->cfg);
	cog_storage_free(st->fallback);
	pthread_mutex_destroy(&st->lock);
	cog_free(st);
}

int auth_state_get(cog_ctx *ctx, auth_state **out)
{
	void *state = NULL;
	int rc = cog__ctx_ext(ctx, COG__EXT_AUTH, state_create, state_destroy, &state);
	if (rc)
		return rc;
	*out = state;
	return COG_OK;
}

int auth_config_get(cog_ctx *ctx, auth_config *out)
{
	auth_state *st;
	int rc = auth_state_get(ctx, &st);
	if (rc)
		return rc;
	pthread_mutex_lock(&st->lock);
	*out = st->cfg;
	out->issuer = st->cfg.issuer ? cog__strdup(st->cfg.issuer) : NULL;
	out->audience = st->cfg.audience ? cog__strdup(st->cfg.audience) : NULL;
	bool oom = (st->cfg.issuer && !out->issuer) || (st->cfg.audience && !out->audience);
	pthread_mutex_unlock(&st->lock);
	if (oom) {
		auth_config_dispose(out);
		return cog__oom("auth configuration");
	}
	return COG_OK;
}

int auth_storage(cog_ctx *ctx, cog_storage **out)
{
	cog_storage *s = cog_ctx_storage(ctx);
	if (s) {
		*out = s;
		return COG_OK;
	}
	auth_state *st;
	int rc = auth_state_get(ctx, &st);
	if (rc)
		return rc;
	if (!st->fallback)
		return cog__error(COG_EUNAVAILABLE, "auth: the context had no storage when auth "
			"was first used and has one no longer");
	*out = st->fallback;
	return COG_OK;
}

/* ---- documents ---- */

int auth_doc_get(cog_ctx *ctx, const char *coll, const char *key, cJSON **out)
{
	*out = NULL;
	cog_storage *s = NULL;
	int rc = auth_storage(ctx, &s);
	if (rc)
		return rc;
	char *text = NULL;
	rc = cog_storage_get(s, coll, key, &text);
	if (rc)
		return rc;
	cJSON *doc = cJSON_Parse(text);
	sodium_memzero(text, strlen(text)); /* auth.keys hold private parts */
	cog_free(text);
	if (!doc || !cJSON_IsObject(doc)) {
		cJSON_Delete(doc);
		return cog__error(COG_EINTEGRITY, "auth: document '%s' of %s is not a JSON object",
			key, coll);
	}
	*out = doc;
	return COG_OK;
}

int auth_doc_put(cog_ctx *ctx, const char *coll, const char *key, const cJSON *doc,
                 int64_t expires_ms)
{
	cog_storage *s = NULL;
	int rc = auth_storage(ctx, &s);
	if (rc)
		return rc;
	char *text = cog_json_print(doc);
	if (!text)
		return cog__oom("auth document");
	rc = cog_storage_put(s, coll, key, text, expires_ms);
	sodium_memzero(text, strlen(text));
	cog_free(text);
	return rc;
}

int auth_doc_del(cog_ctx *ctx, const char *coll, const char *key)
{
	cog_storage *s = NULL;
	int rc = auth_storage(ctx, &s);
	if (rc)
		return rc;
	return cog_storage_delete(s, coll, key);
}

/* ---- names ---- */

static int check_chars(const char *fn, const char *what, const char *s, size_t max,
                       const char *extra)
{
	if (!s)
		return cog__error(COG_EINVAL, "%s: %s is NULL", fn, what);
	size_t len = strnlen(s, max + 1);
	if (len == 0 || len > max)
		return cog__error(COG_EINVAL, "%s: %s must be 1..%zu bytes", fn, what, max);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(c >= '0' && c <= '9') || (c && strchr(extra, c));
		if (!ok)
			return cog__error(COG_EINVAL, "%s: %s has a character other than "
				"A-Z a-z 0-9 %s at byte %zu", fn, what, extra, i);
	}
	return COG_OK;
}

int auth_check_name(const char *fn, const char *what, const char *s)
{
	return check_chars(fn, what, s, 128, "_.@+-");
}

int auth_check_role_name(const char *fn, const char *s)
{
	return check_chars(fn, "role name", s, 64, "_.-");
}

void auth_principal_key(const char *tenant, const char *id, char out[AUTH_PKEY_MAX])
{
	snprintf(out, AUTH_PKEY_MAX, "%s/%s", tenant, id);
}

int64_t auth_now_s(void)
{
	return cog_clock_realtime_ms() / 1000;
}

int64_t auth_json_int(const cJSON *obj, const char *name, int64_t fallback)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
	if (!cJSON_IsNumber(v) || isnan(v->valuedouble))
		return fallback;
	const double lim = 4611686018427387904.0; /* 2^62 */
	if (v->valuedouble >= lim)
		return (int64_t)1 << 62;
	if (v->valuedouble <= -lim)
		return -((int64_t)1 << 62);
	return (int64_t)v->valuedouble;
}

/* ---- configuration ---- */

static int get_int(const cJSON *cfg, const char *name, int64_t lo, int64_t hi,
                   int64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, name);
	if (!v)
		return COG_OK;
	if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
	    v->valuedouble < (double)lo || v->valuedouble > (double)hi)
		return cog__error(COG_EINVAL, "cog_auth_configure: \"%s\" must be a whole "
			"number in %lld..%lld", name, (long long)lo, (long long)hi);
	*out = (int64_t)v->valuedouble;
	return COG_OK;
}

static int get_text(const cJSON *cfg, const char *name, char **slot)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, name);
	if (!v)
		return COG_OK;
	if (cJSON_IsNull(v)) {
		cog_free(*slot);
		*slot = NULL;
		return COG_OK;
	}
	if (!cJSON_IsString(v) || !v->valuestring[0] || strlen(v->valuestring) > 1024)
		return cog__error(COG_EINVAL, "cog_auth_configure: \"%s\" must be null or a "
			"string of 1..1024 bytes", name);
	char *copy = cog__strdup(v->valuestring);
	if (!copy)
		return cog__oom("cog_auth_configure");
	cog_free(*slot);
	*slot = copy;
	return COG_OK;
}

static int check_members(const cJSON *obj, const char *where, const char *const *known)
{
	const cJSON *m;
	cJSON_ArrayForEach(m, obj) {
		bool ok = false;
		for (size_t i = 0; known[i]; i++)
			if (strcmp(m->string, known[i]) == 0)
				ok = true;
		if (!ok)
			return cog__error(COG_EINVAL, "cog_auth_configure: unknown member \"%s\"%s",
				m->string, where);
	}
	return COG_OK;
}

static int parse_password(const cJSON *pw, auth_config *c)
{
	static const char *const known[] = { "opslimit", "memlimit", "min_length",
		"max_length", NULL };
	if (!cJSON_IsObject(pw))
		return cog__error(COG_EINVAL, "cog_auth_configure: \"password\" must be an object");
	int rc = check_members(pw, " in \"password\"", known);
	int64_t ops = (int64_t)c->opslimit, mem = (int64_t)c->memlimit;
	int64_t lo = (int64_t)c->pw_min, hi = (int64_t)c->pw_max;
	if (!rc)
		rc = get_int(pw, "opslimit", crypto_pwhash_OPSLIMIT_MIN, 1000, &ops);
	if (!rc)
		rc = get_int(pw, "memlimit", crypto_pwhash_MEMLIMIT_MIN, 4LL << 30, &mem);
	if (!rc)
		rc = get_int(pw, "min_length", 1, 4096, &lo);
	if (!rc)
		rc = get_int(pw, "max_length", 1, 4096, &hi);
	if (!rc && lo > hi)
		rc = cog__error(COG_EINVAL, "cog_auth_configure: password min_length %lld is "
			"above max_length %lld", (long long)lo, (long long)hi);
	if (rc)
		return rc;
	c->opslimit = (unsigned long long)ops;
	c->memlimit = (size_t)mem;
	c->pw_min = (size_t)lo;
	c->pw_max = (size_t)hi;
	return COG_OK;
}

static int parse_config(const cJSON *cfg, auth_config *c)
{
	static const char *const known[] = { "issuer", "audience", "clock_skew_s",
		"access_ttl_s", "refresh_ttl_s", "reset_ttl_s", "login_per_minute",
		"password", NULL };
	int rc = check_members(cfg, "", known);
	if (!rc)
		rc = get_text(cfg, "issuer", &c->issuer);
	if (!rc)
		rc = get_text(cfg, "audience", &c->audience);
	if (!rc)
		rc = get_int(cfg, "clock_skew_s", 0, SKEW_MAX, &c->clock_skew_s);
	if (!rc)
		rc = get_int(cfg, "access_ttl_s", 1, TTL_MAX, &c->access_ttl_s);
	if (!rc)
		rc = get_int(cfg, "refresh_ttl_s", 1, TTL_MAX, &c->refresh_ttl_s);
	if (!rc)
		rc = get_int(cfg, "reset_ttl_s", 1, TTL_MAX, &c->reset_ttl_s);
	int64_t per_minute = (int64_t)c->login_per_minute;
	if (!rc)
		rc = get_int(cfg, "login_per_minute", 1, 100000, &per_minute);
	c->login_per_minute = (double)per_minute;
	const cJSON *pw = cJSON_GetObjectItemCaseSensitive(cfg, "password");
	if (!rc && pw)
		rc = parse_password(pw, c);
	return rc;
}

int cog_auth_configure(cog_ctx *ctx, const char *config_json)
{
	static const char fn[] = "cog_auth_configure";
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	COG_CHECK_ARG(config_json, fn, "config_json is NULL");
	cJSON *cfg = NULL;
	int rc = cog_json_parse(&cfg, config_json, fn);
	if (rc)
		return rc;
	if (!cJSON_IsObject(cfg)) {
		cJSON_Delete(cfg);
		return cog__error(COG_EINVAL, "%s: the configuration must be a JSON object", fn);
	}
	auth_state *st;
	rc = auth_state_get(ctx, &st);
	auth_config next;
	if (!rc)
		rc = auth_config_get(ctx, &next);
	if (rc) {
		cJSON_Delete(cfg);
		return rc;
	}
	rc = parse_config(cfg, &next);
	cJSON_Delete(cfg);
	if (rc) {
		auth_config_dispose(&next);
		return rc;
	}
	/* new limits: login makes a new dummy hash (auth_dummy_hash_make) */
	pthread_mutex_lock(&st->lock);
	bool limits = next.opslimit != st->cfg.opslimit || next.memlimit != st->cfg.memlimit;
	pthread_mutex_unlock(&st->lock);
	pthread_mutex_lock(&st->lock);
	auth_config old = st->cfg;
	st->cfg = next;
	if (limits)
		st->dummy_hash[0] = '\0';
	pthread_mutex_unlock(&st->lock);
	auth_config_dispose(&old);
	return COG_OK;
}
