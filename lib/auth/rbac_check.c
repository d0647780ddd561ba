/*
 * The checks: which roles count for a principal, whether one of them
 * grants an action, and the globs they use. Nothing is cached — every
 * check reads the principal and its roles from storage — so a role taken
 * away, changed or removed, or a principal disabled, takes effect at the
 * next check, in this process or in another one sharing the storage.
 *
 * Namespace globs go segment by segment: '*' and '?' stay within a segment,
 * a whole-segment '**' stands for any number of segments (none too), except
 * that a trailing '**' after a '/' needs at least one: "acme/" + '**' is
 * everything under acme, not acme itself.
 */
#include <stdio.h>
#include <string.h>

#include "rbac_int.h"

bool auth_glob_match(const char *glob, const char *name)
{
	/* Iterative with one backtrack point: linear for one '*', never
	 * exponential. */
	const char *star = NULL, *resume = NULL;
	while (*name) {
		if (*glob == '*') {
			star = glob++;
			resume = name;
		} else if (*glob == '?' || *glob == *name) {
			glob++;
			name++;
		} else if (star) {
			glob = star + 1;
			name = ++resume;
		} else {
			return false;
		}
	}
	while (*glob == '*')
		glob++;
	return *glob == '\0';
}

typedef struct seg { const char *p; size_t n; } seg;

static size_t split(const char *s, seg *out, size_t max)
{
	size_t count = 0;
	for (;;) {
		const char *end = strchr(s, '/');
		size_t n = end ? (size_t)(end - s) : strlen(s);
		if (count == max)
			return max + 1;
		out[count++] = (seg){ s, n };
		if (!end)
			return count;
		s = end + 1;
	}
}

static bool seg_match(seg g, seg s)
{
	char gb[65], sb[65];
	if (g.n > 64 || s.n > 64)
		return false;
	memcpy(gb, g.p, g.n);
	gb[g.n] = '\0';
	memcpy(sb, s.p, s.n);
	sb[s.n] = '\0';
	return auth_glob_match(gb, sb);
}

static bool is_globstar(seg g)
{
	return g.n == 2 && g.p[0] == '*' && g.p[1] == '*';
}

static bool segs_match(const seg *g, size_t gn, const seg *s, size_t sn)
{
	if (gn == 0)
		return sn == 0;
	if (is_globstar(g[0])) {
		if (gn == 1)
			return sn >= 1;
		for (size_t skip = 0; skip <= sn; skip++)
			if (segs_match(g + 1, gn - 1, s + skip, sn - skip))
				return true;
		return false;
	}
	return sn > 0 && seg_match(g[0], s[0]) && segs_match(g + 1, gn - 1, s + 1, sn - 1);
}

bool auth_ns_glob_match(const char *glob, const char *ns)
{
	/* Bounded: a glob has at most AUTH_NS_GLOB_SEGMENTS segments and a
	 * namespace at most 4, so the '**' choices stay few. */
	seg g[AUTH_NS_GLOB_SEGMENTS], s[8];
	if (!glob || !ns)
		return false;
	size_t gn = split(glob, g, AUTH_NS_GLOB_SEGMENTS);
	size_t sn = split(ns, s, 8);
	if (gn > AUTH_NS_GLOB_SEGMENTS || sn > 8)
		return false;
	if (gn == 1 && is_globstar(g[0]))
		return true; /* "**" alone: every namespace */
	return segs_match(g, gn, s, sn);
}

/* ---- principals and roles ---- */

static int bad_principal(const char *why)
{
	return cog__error(COG_EDENIED, "the principal is not a valid principal object "
		"({\"tenant\"?,\"id\",\"roles\"}): %s", why);
}

int cog__auth_roles(cog_ctx *ctx, const cJSON *principal, cJSON **roles)
{
	*roles = NULL;
	if (!cJSON_IsObject(principal))
		return bad_principal("not a JSON object");
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(principal, "tenant");
	const cJSON *i = cJSON_GetObjectItemCaseSensitive(principal, "id");
	const char *tenant = cJSON_IsString(t) ? t->valuestring : t ? NULL : "default";
	const char *id = cJSON_IsString(i) ? i->valuestring : NULL;
	if (!tenant || auth_check_name("principal", "tenant", tenant))
		return bad_principal("\"tenant\" is not 1..128 of [A-Za-z0-9_.@+-]");
	if (!id || auth_check_name("principal", "id", id))
		return bad_principal("\"id\" is missing or not 1..128 of [A-Za-z0-9_.@+-]");
	cJSON *doc = NULL;
	int rc = auth_principal_load(ctx, tenant, id, &doc);
	if (rc == COG_OK) {
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "disabled"))) {
			cJSON_Delete(doc);
			return cog__error(COG_EDENIED, "principal '%s/%s' is disabled", tenant, id);
		}
		const cJSON *stored = cJSON_GetObjectItemCaseSensitive(doc, "roles");
		*roles = cJSON_IsArray(stored) ? cJSON_Duplicate(stored, 1) : cJSON_CreateArray();
		cJSON_Delete(doc);
		return *roles ? COG_OK : cog__oom("principal roles");
	}
	if (rc != COG_ENOTFOUND)
		return cog__error_wrap(rc, "principal '%s/%s': its record could not be read",
			tenant, id);
	/* Unregistered: the host describes it, and the host is trusted. */
	const cJSON *own = cJSON_GetObjectItemCaseSensitive(principal, "roles");
	if (own && auth_roles_check("principal", own)) {
		char why[400];
		snprintf(why, sizeof(why), "%s", cog_error_last());
		return bad_principal(why);
	}
	*roles = own ? cJSON_Duplicate(own, 1) : cJSON_CreateArray();
	return *roles ? COG_OK : cog__oom("principal roles");
}

static bool globs_match(const cJSON *globs, const char *resource, bool ns)
{
	const cJSON *g;
	cJSON_ArrayForEach(g, globs)
		if (cJSON_IsString(g) && (ns ? auth_ns_glob_match(g->valuestring, resource)
		                             : auth_glob_match(g->valuestring, resource)))
			return true;
	return false;
}

static int role_grants(const cJSON *perm, int action, const char *resource)
{
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(perm, "admin")))
		return 1;
	const cJSON *memory = cJSON_GetObjectItemCaseSensitive(perm, "memory");
	switch (action) {
	case COG_AUTH_TOOL_CALL:
		return globs_match(cJSON_GetObjectItemCaseSensitive(perm, "tools"), resource,
			false);
	case COG_AUTH_MEMORY_READ:
		return globs_match(cJSON_GetObjectItemCaseSensitive(memory, "read"), resource,
			true);
	case COG_AUTH_MEMORY_WRITE:
		return globs_match(cJSON_GetObjectItemCaseSensitive(memory, "write"), resource,
			true);
	default:
		return 0;
	}
}

int cog__auth_roles_grant(cog_ctx *ctx, const cJSON *roles, int action,
                          const char *resource)
{
	if (action < COG_AUTH_TOOL_CALL || action > COG_AUTH_ADMIN)
		return cog__error(COG_EINVAL, "auth: action %d is not a cog_auth_action", action);
	if (action != COG_AUTH_ADMIN && !resource)
		return cog__error(COG_EINVAL, "auth: the resource is NULL");
	const cJSON *r;
	cJSON_ArrayForEach(r, roles) {
		if (!cJSON_IsString(r) || auth_check_role_name("auth", r->valuestring))
			continue; /* a name no role can have grants nothing */
		cJSON *perm = NULL;
		int rc = auth_doc_get(ctx, AUTH_ROLES_COLL, r->valuestring, &perm);
		if (rc == COG_ENOTFOUND)
			continue; /* removed: the name grants nothing */
		if (rc)
			return cog__error_wrap(rc, "auth: role '%s' could not be read",
				r->valuestring);
		int granted = role_grants(perm, action, resource);
		cJSON_Delete(perm);
		if (granted)
			return 1;
	}
	cog_error_clear();
	return 0;
}

static const char *action_text(int action)
{
	switch (action) {
	case COG_AUTH_TOOL_CALL: return "call tool";
	case COG_AUTH_MEMORY_READ: return "read memory namespace";
	case COG_AUTH_MEMORY_WRITE: return "write memory namespace";
	default: return "administer";
	}
}

int cog__auth_check(cog_ctx *ctx, const cJSON *principal, int action,
                    const char *resource)
{
	if (action < COG_AUTH_TOOL_CALL || action > COG_AUTH_ADMIN)
		return cog__error(COG_EINVAL, "cog_auth_check: action %d is not a "
			"cog_auth_action", action);
	if (action != COG_AUTH_ADMIN && !resource)
		return cog__error(COG_EINVAL, "cog_auth_check: the resource is NULL");
	if (!principal)
		return COG_OK; /* the host itself */
	cJSON *roles = NULL;
	int rc = cog__auth_roles(ctx, principal, &roles);
	if (rc)
		return rc;
	int granted = cog__auth_roles_grant(ctx, roles, action, resource);
	if (granted == 1) {
		cJSON_Delete(roles);
		return COG_OK;
	}
	if (granted < 0) {
		cJSON_Delete(roles);
		return granted;
	}
	char names[256];
	auth_roles_text(roles, names, sizeof(names));
	cJSON_Delete(roles);
	const char *tenant = cog_json_get_string(principal, "tenant");
	const char *id = cog_json_get_string(principal, "id");
	return cog__error(COG_EDENIED, "principal '%s/%s' (roles: %s) may not %s%s%s%s",
		tenant ? tenant : "default", id ? id : "?", names, action_text(action),
		resource ? " '" : "", resource ? resource : "", resource ? "'" : "");
}

int cog_auth_check(cog_ctx *ctx, const char *principal_json, int action,
                   const char *resource)
{
	static const char fn[] = "cog_auth_check";
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	if (action < COG_AUTH_TOOL_CALL || action > COG_AUTH_ADMIN)
		return cog__error(COG_EINVAL, "%s: action %d is not a cog_auth_action", fn, action);
	if (action != COG_AUTH_ADMIN && !resource)
		return cog__error(COG_EINVAL, "%s: the resource is NULL", fn);
	if (!principal_json)
		return COG_OK;
	cog__json_init();
	cJSON *principal = NULL;
	if (cog__json_has_nul(principal_json))
		return bad_principal("it holds \\u0000");
	if (cog_json_parse(&principal, principal_json, "principal"))
		return bad_principal("not JSON");
	int rc = cog__auth_check(ctx, principal, action, resource);
	cJSON_Delete(principal);
	return rc;
}
