/*
 * The public calls on a connection that are not its lifecycle:
 * cog_mcp_request and cog_mcp_notify (any method, JSON text in and out)
 * and cog_mcp_server_info (what initialize told, and the transport's
 * state).
 */
#include <stdio.h>
#include <string.h>

#include "mcp_int.h"

/* ---- the public calls ---- */

static int parse_params(cJSON **out, const char *fn, const char *params_json)
{
	*out = NULL;
	if (!params_json)
		return COG_OK;
	char what[64];
	snprintf(what, sizeof(what), "%s: params_json", fn);
	int rc = cog_json_validate(params_json, strlen(params_json), what);
	if (rc == 0)
		rc = cog_json_parse(out, params_json, what);
	if (rc != 0)
		return rc;
	if (!cJSON_IsObject(*out)) {
		cJSON_Delete(*out);
		*out = NULL;
		return cog__error(COG_EINVAL, "%s: params_json must be a JSON object", fn);
	}
	return COG_OK;
}

int cog_mcp_request(cog_mcp *mcp, const char *method, const char *params_json,
                    unsigned int timeout_ms, char **result_json)
{
	COG_CHECK_ARG(result_json, "cog_mcp_request", "result_json is NULL");
	*result_json = NULL;
	COG_CHECK_ARG(mcp, "cog_mcp_request", "mcp is NULL");
	COG_CHECK_ARG(method && method[0], "cog_mcp_request", "method is NULL or empty");
	cJSON *params = NULL;
	int rc = parse_params(&params, "cog_mcp_request", params_json);
	if (rc != 0)
		return rc;
	cJSON *result = NULL;
	rc = mcp_request(mcp, method, params, timeout_ms, NULL, &result);
	if (rc != 0)
		return rc;
	*result_json = cog_json_print(result);
	cJSON_Delete(result);
	return *result_json ? COG_OK : cog__oom("cog_mcp_request");
}

int cog_mcp_notify(cog_mcp *mcp, const char *method, const char *params_json)
{
	COG_CHECK_ARG(mcp, "cog_mcp_notify", "mcp is NULL");
	COG_CHECK_ARG(method && method[0], "cog_mcp_notify", "method is NULL or empty");
	cJSON *params = NULL;
	int rc = parse_params(&params, "cog_mcp_notify", params_json);
	if (rc == 0 && (rc = mcp_ensure_up(mcp)) != 0)
		cog__error_wrap(rc, "%s", method);
	if (rc != 0) {
		cJSON_Delete(params);
		return rc;
	}
	return mcp_notify(mcp, method, params);
}

/* ---- what initialize told ---- */

static int add_dup(cJSON *info, const char *name, const cJSON *value)
{
	cJSON *copy = value ? cJSON_Duplicate(value, true) : cJSON_CreateNull();
	if (!copy || !cJSON_AddItemToObject(info, name, copy)) {
		cJSON_Delete(copy);
		return COG_ENOMEM;
	}
	return COG_OK;
}

int cog_mcp_server_info(cog_mcp *mcp, char **json)
{
	COG_CHECK_ARG(json, "cog_mcp_server_info", "json is NULL");
	*json = NULL;
	COG_CHECK_ARG(mcp, "cog_mcp_server_info", "mcp is NULL");
	cJSON *info = cJSON_CreateObject();
	int rc = info ? COG_OK : COG_ENOMEM;
	if (rc == 0)
		rc = cog_json_add_string(info, "name", mcp->cfg.name);
	if (rc == 0)
		rc = cog_json_add_string(info, "transport", mcp->ops->kind);
	pthread_mutex_lock(&mcp->lock);
	if (rc == 0)
		rc = mcp->protocol_version ? cog_json_add_string(info, "protocolVersion",
			mcp->protocol_version) : add_dup(info, "protocolVersion", NULL);
	if (rc == 0)
		rc = add_dup(info, "serverInfo", mcp->server_info);
	if (rc == 0)
		rc = add_dup(info, "capabilities", mcp->capabilities);
	if (rc == 0)
		rc = mcp->instructions ? cog_json_add_string(info, "instructions",
			mcp->instructions) : add_dup(info, "instructions", NULL);
	if (rc == 0)
		rc = cog_json_add_number(info, "restarts", mcp->restarts);
	if (rc == 0)
		rc = cog_json_add_bool(info, "connected", mcp->connected);
	pthread_mutex_unlock(&mcp->lock);
	/* Outside m->lock (the transport takes its own), inside `life`
	 * (the transport is not stopped under our feet). */
	pthread_rwlock_rdlock(&mcp->life);
	if (rc == 0 && mcp->ops->describe && mcp->transport)
		mcp->ops->describe(mcp, info);
	pthread_rwlock_unlock(&mcp->life);
	if (rc == 0 && !cJSON_HasObjectItem(info, "session_id"))
		rc = add_dup(info, "session_id", NULL);
	if (rc == 0)
		*json = cog_json_print(info);
	cJSON_Delete(info);
	if (rc != 0 || !*json)
		return cog__oom("cog_mcp_server_info");
	return COG_OK;
}
