/*
 * Roles: what a role name grants (cog_auth_role_*), stored in "auth.roles"
 * as {"tools":[globs],"memory":{"read":[globs],"write":[globs]},
 * "admin":bool}, always with every member, so the checks (rbac_check.c)
 * read one shape. Permissions are checked strictly when set — an unknown
 * member, a glob with a character no tool or namespace can hold, a
 * \u0000 — because a typo in a grant silently grants nothing (or more).
 */
#include <stdio.h>
#include <string.h>

#include "rbac_int.h"

#define GLOBS_MAX 1024
#define TOOL_GLOB_MAX 128
#define NS_GLOB_MAX 600

int auth_roles_check(const char *fn, const cJSON *roles)
{
	if (!cJSON_IsArray(roles))
		return cog__error(COG_EINVAL, "%s: \"roles\" must be an array of role names", fn);
	int n = cJSON_GetArraySize(roles);
	if (n > AUTH_ROLES_MAX)
		return cog__error(COG_EINVAL, "%s: \"roles\" has %d names, over the limit of %d",
			fn, n, AUTH_ROLES_MAX);
	int i = 0;
	for (const cJSON *r = roles->child; r; r = r->next, i++) {
		if (!cJSON_IsString(r))
			return cog__error(COG_EINVAL, "%s: \"roles\"[%d] is not a string", fn, i);
		int rc = auth_check_role_name(fn, r->valuestring);
		if (rc)
			return cog__error_wrap(rc, "%s: \"roles\"[%d]", fn, i);
		for (const cJSON *q = roles->child; q != r; q = q->next)
			if (strcmp(q->valuestring, r->valuestring) == 0)
				return cog__error(COG_EINVAL, "%s: \"roles\" names '%s' twice", fn,
					r->valuestring);
	}
	return COG_OK;
}

void auth_roles_text(const cJSON *roles, char *out, size_t cap)
{
	size_t used = 0;
	out[0] = '\0';
	const cJSON *r;
	cJSON_ArrayForEach(r, roles) {
		if (!cJSON_IsString(r) || used >= cap)
			continue;
		int n = snprintf(out + used, cap - used, "%s%s", used ? ", " : "", r->valuestring);
		if (n < 0)
			break;
		used += (size_t)n;
	}
	if (used >= cap && cap > 4)
		memcpy(out + cap - 4, "...", 4);
	if (!out[0])
		snprintf(out, cap, "none");
}

/* ---- checking permissions ---- */

static bool tool_glob_ok(const char *g)
{
	size_t len = strlen(g);
	if (len == 0 || len > TOOL_GLOB_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = g[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '*' || c == '?'))
			return false;
	}
	return true;
}

/* Segments of a namespace (memory.h) plus '*' and '?'; "**" only as a
 * whole segment. */
static bool ns_glob_ok(const char *g)
{
	size_t len = strlen(g);
	if (len == 0 || len > NS_GLOB_MAX)
		return false;
	size_t segments = 0;
	const char *seg = g;
	for (;;) {
		const char *end = strchr(seg, '/');
		size_t n = end ? (size_t)(end - seg) : strlen(seg);
		if (n == 0 || n > 64 || ++segments > AUTH_NS_GLOB_SEGMENTS)
			return false;
		bool globstar = n == 2 && seg[0] == '*' && seg[1] == '*';
		for (size_t i = 0; i < n && !globstar; i++) {
			char c = seg[i];
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			      (c >= '0' && c <= '9') || strchr("._-:@?", c) ||
			      (c == '*' && (i + 1 == n || seg[i + 1] != '*'))))
				return false;
		}
		if (!end)
			return true;
		seg = end + 1;
	}
}

/* A fresh array of the valid globs of `list` (named `what`), or NULL with
 * COG_EINVAL set. */
static cJSON *take_globs(const char *fn, const cJSON *list, const char *what, bool ns)
{
	if (!list)
		return cJSON_CreateArray();
	if (!cJSON_IsArray(list)) {
		cog__error(COG_EINVAL, "%s: %s must be an array of globs", fn, what);
		return NULL;
	}
	if (cJSON_GetArraySize(list) > GLOBS_MAX) {
		cog__error(COG_EINVAL, "%s: %s has more than %d globs", fn, what, GLOBS_MAX);
		return NULL;
	}
	int i = 0;
	for (const cJSON *g = list->child; g; g = g->next, i++) {
		if (!cJSON_IsString(g) || !(ns ? ns_glob_ok(g->valuestring)
		                               : tool_glob_ok(g->valuestring))) {
			cog__error(COG_EINVAL, "%s: %s[%d] is not a %s", fn, what, i, ns ?
				"namespace glob (1..8 '/'-separated segments of letters, digits, "
				". _ - : @ and the wildcards * ?, or a whole segment **)" :
				"tool-name glob (1..128 letters, digits, _ - and the wildcards * ?)");
			return NULL;
		}
	}
	cJSON *copy = cJSON_Duplicate(list, 1);
	if (!copy)
		cog__oom(fn);
	return copy;
}

static int unknown_member(const char *fn, const cJSON *obj, const char *const *known,
                          const char *where)
{
	const cJSON *m;
	cJSON_ArrayForEach(m, obj) {
		bool ok = false;
		for (size_t i = 0; known[i]; i++)
			ok = ok || strcmp(m->string, known[i]) == 0;
		if (!ok)
			return cog__error(COG_EINVAL, "%s: unknown member \"%s\"%s", fn, m->string,
				where);
	}
	return COG_OK;
}

/* The stored form of permissions_json: every member present. */
static int permissions_parse(const char *fn, const char *text, cJSON **out)
{
	static const char *const top[] = { "tools", "memory", "admin", NULL };
	static const char *const mem[] = { "read", "write", NULL };
	*out = NULL;
	if (cog__json_has_nul(text))
		return cog__error(COG_EINVAL, "%s: permissions may not hold \\u0000", fn);
	cJSON *in = NULL;
	int rc = cog_json_parse(&in, text, "permissions");
	if (rc)
		return cog__error_wrap(rc, "%s", fn);
	if (!cJSON_IsObject(in)) {
		cJSON_Delete(in);
		return cog__error(COG_EINVAL, "%s: permissions must be a JSON object", fn);
	}
	const cJSON *memory = cJSON_GetObjectItemCaseSensitive(in, "memory");
	const cJSON *admin = cJSON_GetObjectItemCaseSensitive(in, "admin");
	rc = unknown_member(fn, in, top, "");
	if (!rc && memory && !cJSON_IsObject(memory))
		rc = cog__error(COG_EINVAL, "%s: \"memory\" must be an object {\"read\":[..],"
			"\"write\":[..]}", fn);
	if (!rc && memory)
		rc = unknown_member(fn, memory, mem, " in \"memory\"");
	if (!rc && admin && !cJSON_IsBool(admin))
		rc = cog__error(COG_EINVAL, "%s: \"admin\" must be true or false", fn);
	cJSON *tools = NULL, *read = NULL, *write = NULL, *mdoc = NULL;
	cJSON *doc = rc ? NULL : cJSON_CreateObject();
	if (!rc) {
		tools = take_globs(fn, cJSON_GetObjectItemCaseSensitive(in, "tools"),
			"\"tools\"", false);
		read = tools ? take_globs(fn, cJSON_GetObjectItemCaseSensitive(memory, "read"),
			"\"memory\".\"read\"", true) : NULL;
		write = read ? take_globs(fn, cJSON_GetObjectItemCaseSensitive(memory, "write"),
			"\"memory\".\"write\"", true) : NULL;
		rc = write ? COG_OK : cog_error_last_code();
	}
	if (!rc && !(doc && (mdoc = cJSON_CreateObject())))
		rc = cog__oom(fn);
	if (!rc) {
		/* In this order, each added once: the stored text is stable. */
		bool ok = cJSON_AddItemToObject(mdoc, "read", read) && !(read = NULL) &&
			cJSON_AddItemToObject(mdoc, "write", write) && !(write = NULL) &&
			cJSON_AddItemToObject(doc, "tools", tools) && !(tools = NULL) &&
			cJSON_AddItemToObject(doc, "memory", mdoc) && !(mdoc = NULL) &&
			cJSON_AddBoolToObject(doc, "admin", cJSON_IsTrue(admin));
		if (!ok)
			rc = cog__oom(fn);
	}
	cJSON_Delete(mdoc);
	cJSON_Delete(tools);
	cJSON_Delete(read);
	cJSON_Delete(write);
	cJSON_Delete(in);
	if (rc) {
		cJSON_Delete(doc);
		return rc;
	}
	*out = doc;
	return COG_OK;
}

int cog_auth_role_set(cog_ctx *ctx, const char *role, const char *permissions_json)
{
	static const char fn[] = "cog_auth_role_set";
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	COG_CHECK_ARG(permissions_json, fn, "permissions_json is NULL");
	int rc = auth_check_role_name(fn, role);
	if (rc)
		return rc;
	cog__json_init();
	cJSON *doc = NULL;
	if ((rc = permissions_parse(fn, permissions_json, &doc)))
		return rc;
	rc = auth_doc_put(ctx, AUTH_ROLES_COLL, role, doc, 0);
	cJSON_Delete(doc);
	if (rc)
		return cog__error_wrap(rc, "%s: role '%s' could not be stored", fn, role);
	return COG_OK;
}

int cog_auth_role_get(cog_ctx *ctx, const char *role, char **json)
{
	static const char fn[] = "cog_auth_role_get";
	COG_CHECK_ARG(json, fn, "json is NULL");
	*json = NULL;
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	int rc = auth_check_role_name(fn, role);
	if (rc)
		return rc;
	cog__json_init();
	cJSON *doc = NULL;
	rc = auth_doc_get(ctx, AUTH_ROLES_COLL, role, &doc);
	if (rc == COG_ENOTFOUND)
		return cog__error(COG_ENOTFOUND, "%s: no role named '%s'", fn, role);
	if (rc)
		return cog__error_wrap(rc, "%s: role '%s'", fn, role);
	*json = cog_json_print(doc);
	cJSON_Delete(doc);
	return *json ? COG_OK : cog__oom(fn);
}

int cog_auth_role_remove(cog_ctx *ctx, const char *role)
{
	static const char fn[] = "cog_auth_role_remove";
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	int rc = auth_check_role_name(fn, role);
	if (rc)
		return rc;
	rc = auth_doc_del(ctx, AUTH_ROLES_COLL, role);
	if (rc == COG_ENOTFOUND)
		return cog__error(COG_ENOTFOUND, "%s: no role named '%s'", fn, role);
	if (rc)
		return cog__error_wrap(rc, "%s: role '%s'", fn, role);
	return COG_OK;
}

static int list_one(const char *key, const char *value, size_t value_len,
                    int64_t expires_at, void *user_data)
{
	(void)value_len;
	(void)expires_at;
	cJSON *doc = cJSON_Parse(value);
	if (!doc)
		return cog_error_set(COG_EINTEGRITY, "cog_auth_role_list: role '%s' is not "
			"stored as JSON", key);
	if (!cJSON_AddItemToObject(user_data, key, doc)) {
		cJSON_Delete(doc);
		return cog__oom("cog_auth_role_list");
	}
	return 0;
}

int cog_auth_role_list(cog_ctx *ctx, char **json)
{
	static const char fn[] = "cog_auth_role_list";
	COG_CHECK_ARG(json, fn, "json is NULL");
	*json = NULL;
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	cog__json_init();
	return auth_scan_json(ctx, fn, AUTH_ROLES_COLL, NULL, list_one, cJSON_CreateObject(),
		json);
}

int auth_scan_json(cog_ctx *ctx, const char *fn, const char *coll, const char *prefix,
                   cog_storage_doc_fn each, cJSON *all, char **json)
{
	cog_storage *s;
	int rc = all ? auth_storage(ctx, &s) : cog__oom(fn);
	if (!rc)
		rc = cog_storage_scan(s, coll, prefix, each, all);
	if (!rc && !(*json = cog_json_print(all)))
		rc = cog__oom(fn);
	cJSON_Delete(all);
	if (rc && rc != COG_ENOMEM)
		return cog__error_wrap(rc, "%s", fn);
	return rc;
}
