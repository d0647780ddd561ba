/*
 * The permission step of cog_tool_call(): the agent's allow-list, then the
 * principal's effective roles (auth: the stored ones of a registered
 * principal, read at each call, so a change takes effect at the next call;
 * a disabled principal is denied). A role grants the tool through a
 * cog_tool_grant() grant or through an auth role's "tools" globs (or
 * "admin").
 */
#include <stdio.h>
#include <string.h>

#include "auth_int.h"
#include "permission.h"

static int allow_list_check(const char *tool, const char *allowed_tools, const char *agent)
{
	cJSON *globs = NULL;
	int rc = cog__json_has_nul(allowed_tools) ? COG_EINVAL :
		cog_json_parse(&globs, allowed_tools, "allowed_tools");
	if (rc || !cJSON_IsArray(globs)) {
		cJSON_Delete(globs);
		return cog__error(COG_EDENIED, "the agent's allowed_tools is not a JSON array "
			"of globs, so nothing is allowed");
	}
	bool allowed = false;
	const cJSON *g;
	cJSON_ArrayForEach(g, globs)
		if (cJSON_IsString(g) && tool_glob_match(g->valuestring, tool))
			allowed = true;
	cJSON_Delete(globs);
	if (!allowed)
		return cog__error(COG_EDENIED, "tool '%s' is not in the allow-list of agent '%s'",
			tool, agent ? agent : "(unnamed)");
	return COG_OK;
}

/* Whether one of `roles` has a cog_tool_grant() grant matching `tool`. */
static bool registry_grants(tool_registry *reg, const cJSON *roles, const char *tool)
{
	bool granted = false;
	pthread_rwlock_rdlock(&reg->lock);
	const cJSON *role;
	cJSON_ArrayForEach(role, roles) {
		if (!cJSON_IsString(role))
			continue;
		for (size_t i = 0; i < reg->grant_count && !granted; i++)
			granted = strcmp(reg->grants[i].role, role->valuestring) == 0 &&
				tool_glob_match(reg->grants[i].glob, tool);
	}
	pthread_rwlock_unlock(&reg->lock);
	return granted;
}

int tool_permission_check(tool_registry *reg, const char *tool, const char *allowed_tools,
                          const char *agent, const char *principal_json)
{
	if (allowed_tools) {
		int rc = allow_list_check(tool, allowed_tools, agent);
		if (rc)
			return rc;
	}
	if (!principal_json)
		return COG_OK; /* the host itself */
	cJSON *principal = NULL;
	/* A \u0000 would cut a role name short ("admin\u0000-readonly"). */
	if (cog__json_has_nul(principal_json) ||
	    cog_json_parse(&principal, principal_json, "principal") ||
	    !cJSON_IsObject(principal)) {
		cJSON_Delete(principal);
		return cog__error(COG_EDENIED, "the principal is not a JSON object, so nothing "
			"is allowed");
	}
	cJSON *roles = NULL;
	int rc = cog__auth_roles(reg->ctx, principal, &roles);
	if (!rc && !registry_grants(reg, roles, tool)) {
		int granted = cog__auth_roles_grant(reg->ctx, roles, COG_AUTH_TOOL_CALL, tool);
		if (granted < 0) {
			rc = granted;
		} else if (granted == 0) {
			char names[256];
			auth_roles_text(roles, names, sizeof(names));
			const char *tenant = cog_json_get_string(principal, "tenant");
			const char *id = cog_json_get_string(principal, "id");
			rc = cog__error(COG_EDENIED, "principal '%s/%s' (roles: %s) may not call "
				"tool '%s': no role grants it", tenant ? tenant : "default",
				id ? id : "(no id)", names, tool);
		}
	}
	cJSON_Delete(roles);
	cJSON_Delete(principal);
	return rc;
}
