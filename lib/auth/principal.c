/*
 * Registered principals ("auth.principals", key "<tenant>/<id>"): their
 * roles, disabled flag, profile and password hash. The hash never leaves
 * this module: get and list drop it. Changes that should end what a
 * principal may do (disable, remove, a new password) revoke its sessions
 * too (session.c).
 *
 * Every read-modify-write of one principal (register, update, a new
 * password, remove) is one storage transaction, taken under the auth
 * state's lock: BEGIN IMMEDIATE on SQLite, so another process sharing the
 * file cannot come between the read and the write (a register is a
 * put-if-absent; an update never writes back a stale "disabled"). The
 * hashing itself (slow on purpose) happens before, outside both.
 */
#include <string.h>

#include <sodium.h>

#include "rbac_int.h"
#include "session_int.h"

int auth_password_policy(const auth_config *cfg, const char *fn, const char *password)
{
	if (!password)
		return cog__error(COG_EINVAL, "%s: the password is NULL", fn);
	size_t len = strnlen(password, cfg->pw_max + 1);
	if (len < cfg->pw_min)
		return cog__error(COG_EINVAL, "%s: the password is shorter than %zu bytes", fn,
			cfg->pw_min);
	if (len > cfg->pw_max)
		return cog__error(COG_EINVAL, "%s: the password is longer than %zu bytes", fn,
			cfg->pw_max);
	return COG_OK;
}

int auth_principal_load(cog_ctx *ctx, const char *tenant, const char *id, cJSON **doc)
{
	*doc = NULL;
	char key[AUTH_PKEY_MAX];
	auth_principal_key(tenant, id, key);
	int rc = auth_doc_get(ctx, AUTH_PRINCIPALS_COLL, key, doc);
	if (rc == COG_ENOTFOUND)
		return cog__error(COG_ENOTFOUND, "no principal '%s' is registered", key);
	return rc;
}

/* Hash `password` at the configured limits (policy checked first). */
static int hash_password(cog_ctx *ctx, const char *fn, const char *password, char **hash)
{
	auth_config cfg;
	int rc = auth_config_get(ctx, &cfg);
	if (rc)
		return rc;
	rc = auth_password_policy(&cfg, fn, password);
	if (!rc)
		rc = cog_password_hash(password, cfg.opslimit, cfg.memlimit, hash);
	auth_config_dispose(&cfg);
	return rc;
}

static void free_hash(char *hash)
{
	if (hash) {
		sodium_memzero(hash, strlen(hash));
		cog_free(hash);
	}
}

int auth_check_ids(const char *fn, const char *tenant, const char *id)
{
	int rc = auth_check_name(fn, "tenant", tenant);
	return rc ? rc : auth_check_name(fn, "id", id);
}

/* Validate the members a host may set: roles, disabled, profile. */
static int check_settable(const char *fn, const cJSON *obj)
{
	const cJSON *roles = cJSON_GetObjectItemCaseSensitive(obj, "roles");
	const cJSON *disabled = cJSON_GetObjectItemCaseSensitive(obj, "disabled");
	const cJSON *profile = cJSON_GetObjectItemCaseSensitive(obj, "profile");
	if (roles) {
		int rc = auth_roles_check(fn, roles);
		if (rc)
			return rc;
	}
	if (disabled && !cJSON_IsBool(disabled))
		return cog__error(COG_EINVAL, "%s: \"disabled\" must be true or false", fn);
	if (profile && !cJSON_IsObject(profile) && !cJSON_IsNull(profile))
		return cog__error(COG_EINVAL, "%s: \"profile\" must be an object (or null)", fn);
	return COG_OK;
}

static int parse_object(const char *fn, const char *what, const char *text,
                        const char *const *known, cJSON **out)
{
	*out = NULL;
	if (cog__json_has_nul(text))
		return cog__error(COG_EINVAL, "%s: %s may not hold \\u0000", fn, what);
	cJSON *obj = NULL;
	int rc = cog_json_parse(&obj, text, what);
	if (rc)
		return cog__error_wrap(rc, "%s", fn);
	if (!cJSON_IsObject(obj)) {
		cJSON_Delete(obj);
		return cog__error(COG_EINVAL, "%s: %s must be a JSON object", fn, what);
	}
	const cJSON *m;
	cJSON_ArrayForEach(m, obj) {
		bool ok = false;
		for (size_t i = 0; known[i]; i++)
			ok = ok || strcmp(m->string, known[i]) == 0;
		if (!ok) {
			rc = cog__error(COG_EINVAL, "%s: unknown member \"%s\" in %s", fn, m->string,
				what);
			cJSON_Delete(obj);
			return rc;
		}
	}
	if ((rc = check_settable(fn, obj))) {
		cJSON_Delete(obj);
		return rc;
	}
	*out = obj;
	return COG_OK;
}

/* Replace (or add) member `name` of doc by a copy of `value`. */
static int set_member(cJSON *doc, const char *name, const cJSON *value)
{
	cJSON *copy = cJSON_Duplicate(value, 1);
	if (!copy)
		return cog__oom("principal");
	cJSON_DeleteItemFromObjectCaseSensitive(doc, name);
	if (!cJSON_AddItemToObject(doc, name, copy)) {
		cJSON_Delete(copy);
		return cog__oom("principal");
	}
	return COG_OK;
}

static int set_number(cJSON *doc, const char *name, double value)
{
	cJSON_DeleteItemFromObjectCaseSensitive(doc, name);
	return cog_json_add_number(doc, name, value);
}

static int build_doc(const cJSON *in, const char *tenant, const char *id,
                     const char *hash, cJSON **out)
{
	const cJSON *roles = cJSON_GetObjectItemCaseSensitive(in, "roles");
	const cJSON *profile = cJSON_GetObjectItemCaseSensitive(in, "profile");
	cJSON *doc = cJSON_CreateObject();
	double now = (double)auth_now_s();
	int rc = doc ? COG_OK : cog__oom("cog_auth_register");
	if (!rc && (cog_json_add_string(doc, "tenant", tenant) ||
	            cog_json_add_string(doc, "id", id)))
		rc = COG_ENOMEM;
	if (!rc && !roles && !cJSON_AddArrayToObject(doc, "roles"))
		rc = cog__oom("cog_auth_register");
	if (!rc && roles)
		rc = set_member(doc, "roles", roles);
	if (!rc)
		rc = cog_json_add_bool(doc, "disabled",
			cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(in, "disabled")));
	if (!rc && cJSON_IsObject(profile))
		rc = set_member(doc, "profile", profile);
	if (!rc && hash)
		rc = cog_json_add_string(doc, "hash", hash);
	if (!rc)
		rc = cog_json_add_number(doc, "created", now);
	if (!rc)
		rc = cog_json_add_number(doc, "updated", now);
	if (rc) {
		cJSON_Delete(doc);
		return rc;
	}
	*out = doc;
	return COG_OK;
}

int auth_principal_txn(cog_ctx *ctx, const char *tenant, const char *id,
                      auth_principal_step step, const void *arg, bool *revoke)
{
	cog_storage *s;
	auth_state *st;
	int rc = auth_storage(ctx, &s);
	if (rc || (rc = auth_state_get(ctx, &st)))
		return rc;
	char key[AUTH_PKEY_MAX];
	auth_principal_key(tenant, id, key);
	cJSON *doc = NULL;
	pthread_mutex_lock(&st->lock);
	rc = cog_storage_begin(s);
	if (!rc) {
		rc = auth_json_get(s, AUTH_PRINCIPALS_COLL, key, &doc);
		if (rc == COG_OK || rc == COG_ENOTFOUND)
			rc = step(s, key, doc, arg, revoke);
		if (rc)
			cog_storage_rollback(s);
		else
			rc = cog_storage_commit(s);
	}
	pthread_mutex_unlock(&st->lock);
	cJSON_Delete(doc);
	return rc;
}

/* Register: put the new document only where none is stored. */
static int step_add(cog_storage *s, const char *key, cJSON *doc, const void *arg,
                    bool *revoke)
{
	(void)revoke;
	if (doc)
		return cog__error(COG_EEXISTS, "cog_auth_register: principal '%s' is already "
			"registered", key);
	return auth_json_put(s, AUTH_PRINCIPALS_COLL, key, arg, 0);
}

int cog_auth_register(cog_ctx *ctx, const char *principal_json, const char *password)
{
	static const char fn[] = "cog_auth_register";
	static const char *const known[] = { "tenant", "id", "roles", "disabled", "profile",
		NULL };
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	COG_CHECK_ARG(principal_json, fn, "principal_json is NULL");
	cog__json_init();
	cJSON *in = NULL;
	int rc = parse_object(fn, "the principal", principal_json, known, &in);
	if (rc)
		return rc;
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(in, "tenant");
	const char *tenant = t ? (cJSON_IsString(t) ? t->valuestring : NULL) : "default";
	const char *id = cog_json_get_string(in, "id");
	rc = auth_check_ids(fn, tenant, id);
	char *hash = NULL;
	if (!rc && password)
		rc = hash_password(ctx, fn, password, &hash);
	cJSON *doc = NULL;
	if (!rc)
		rc = build_doc(in, tenant, id, hash, &doc);
	free_hash(hash);
	bool revoke = false;
	if (!rc)
		rc = auth_principal_txn(ctx, tenant, id, step_add, doc, &revoke);
	cJSON_Delete(doc);
	cJSON_Delete(in);
	return rc;
}

/* The public calls' first step: check ctx and the names, load the stored
 * document (COG_ENOTFOUND "<fn>: no principal ..."). */
static int load_checked(cog_ctx *ctx, const char *fn, const char *tenant, const char *id,
                        cJSON **doc)
{
	*doc = NULL;
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	int rc = auth_check_ids(fn, tenant, id);
	if (rc)
		return rc;
	cog__json_init();
	if ((rc = auth_principal_load(ctx, tenant, id, doc)))
		return cog__error_wrap(rc, "%s", fn);
	return COG_OK;
}

int cog_auth_principal_get(cog_ctx *ctx, const char *tenant, const char *id, char **json)
{
	static const char fn[] = "cog_auth_principal_get";
	COG_CHECK_ARG(json, fn, "json is NULL");
	*json = NULL;
	cJSON *doc = NULL;
	int rc = load_checked(ctx, fn, tenant, id, &doc);
	if (rc)
		return rc;
	cJSON_DeleteItemFromObjectCaseSensitive(doc, "hash");
	*json = cog_json_print(doc);
	cJSON_Delete(doc);
	return *json ? COG_OK : cog__oom(fn);
}

/* Change a stored principal: `apply` edits the document, then it gets a
 * new "updated" and is written back, all in one transaction. */
typedef int (*edit_fn)(cJSON *doc, const void *arg, bool *revoke);
typedef struct edit { edit_fn apply; const void *arg; } edit;

static int step_edit(cog_storage *s, const char *key, cJSON *doc, const void *arg,
                     bool *revoke)
{
	const edit *e = arg;
	if (!doc)
		return cog__error(COG_ENOTFOUND, "no principal '%s' is registered", key);
	int rc = e->apply(doc, e->arg, revoke);
	if (!rc)
		rc = set_number(doc, "updated", (double)auth_now_s());
	return rc ? rc : auth_json_put(s, AUTH_PRINCIPALS_COLL, key, doc, 0);
}

/* Run one change of tenant/id, then revoke its sessions when it asks to. */
int auth_principal_change(cog_ctx *ctx, const char *fn, const char *tenant,
                          const char *id, auth_principal_step step, const void *arg)
{
	bool revoke = false;
	int rc = auth_principal_txn(ctx, tenant, id, step, arg, &revoke);
	if (!rc && revoke)
		rc = auth_sessions_revoke_all(ctx, tenant, id);
	return rc ? cog__error_wrap(rc, "%s: principal '%s/%s'", fn, tenant, id) : COG_OK;
}

static int edit_principal(cog_ctx *ctx, const char *fn, const char *tenant,
                          const char *id, edit_fn apply, const void *arg)
{
	edit e = { apply, arg };
	return auth_principal_change(ctx, fn, tenant, id, step_edit, &e);
}

static int apply_update(cJSON *doc, const void *arg, bool *revoke)
{
	const cJSON *up = arg;
	const cJSON *roles = cJSON_GetObjectItemCaseSensitive(up, "roles");
	const cJSON *disabled = cJSON_GetObjectItemCaseSensitive(up, "disabled");
	const cJSON *profile = cJSON_GetObjectItemCaseSensitive(up, "profile");
	int rc = roles ? set_member(doc, "roles", roles) : COG_OK;
	if (!rc && disabled) {
		*revoke = cJSON_IsTrue(disabled);
		rc = set_member(doc, "disabled", disabled);
	}
	if (!rc && cJSON_IsNull(profile))
		cJSON_DeleteItemFromObjectCaseSensitive(doc, "profile");
	else if (!rc && profile)
		rc = set_member(doc, "profile", profile);
	return rc;
}

int cog_auth_principal_update(cog_ctx *ctx, const char *tenant, const char *id,
                              const char *update_json)
{
	static const char fn[] = "cog_auth_principal_update";
	static const char *const known[] = { "roles", "disabled", "profile", NULL };
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	COG_CHECK_ARG(update_json, fn, "update_json is NULL");
	int rc = auth_check_ids(fn, tenant, id);
	if (rc)
		return rc;
	cog__json_init();
	cJSON *up = NULL;
	if ((rc = parse_object(fn, "the update", update_json, known, &up)))
		return rc;
	rc = edit_principal(ctx, fn, tenant, id, apply_update, up);
	cJSON_Delete(up);
	return rc;
}

static int apply_hash(cJSON *doc, const void *arg, bool *revoke)
{
	cJSON_DeleteItemFromObjectCaseSensitive(doc, "hash");
	*revoke = true;
	return cog_json_add_string(doc, "hash", arg);
}

int cog_auth_set_password(cog_ctx *ctx, const char *tenant, const char *id,
                          const char *password)
{
	static const char fn[] = "cog_auth_set_password";
	cJSON *doc = NULL;
	/* Unknown principal: say so before spending time on the hash. */
	int rc = load_checked(ctx, fn, tenant, id, &doc);
	cJSON_Delete(doc);
	if (rc)
		return rc;
	char *hash = NULL;
	if ((rc = hash_password(ctx, fn, password, &hash)))
		return rc;
	rc = edit_principal(ctx, fn, tenant, id, apply_hash, hash);
	free_hash(hash);
	return rc;
}
