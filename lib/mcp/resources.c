/*
 * lib/mcp/resources.c: the server's resources (resources/list,
 * resources/read) and prompts (prompts/list, prompts/get) for the host.
 */
#include <stdio.h>
#include <string.h>

#include "mcp_int.h"

static int list_printed(cog_mcp *m, const char *fn, const char *method,
                        const char *member, char **json)
{
	COG_CHECK_ARG(json, fn, "json is NULL");
	*json = NULL;
	COG_CHECK_ARG(m, fn, "mcp is NULL");
	cJSON *all = NULL;
	int rc = mcp_list_all(m, method, member, &all);
	if (rc != COG_OK)
		return cog__error_wrap(rc, "%s", fn);
	*json = cog_json_print(all);
	cJSON_Delete(all);
	return *json ? COG_OK : cog__oom(fn);
}

/* Send method with params (consumed), check that the result is an object
 * holding array `member`, hand it back printed. */
static int request_printed(cog_mcp *m, const char *fn, const char *method,
                           cJSON *params, const char *member, const char *what,
                           char **json)
{
	cJSON *result = NULL;
	int rc = mcp_request(m, method, params, 0, NULL, &result);
	if (rc != COG_OK)
		return cog__error_wrap(rc, "%s", fn);
	if (!cJSON_IsObject(result) ||
	    !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(result, member))) {
		cJSON_Delete(result);
		return cog__error(COG_EPROTO, "%s: the answer of server \"%s\" for %s "
			"has no \"%s\" array", fn, m->cfg.name, what, member);
	}
	*json = cog_json_print(result);
	cJSON_Delete(result);
	return *json ? COG_OK : cog__oom(fn);
}

int cog_mcp_list_resources(cog_mcp *mcp, char **json)
{
	return list_printed(mcp, "cog_mcp_list_resources", "resources/list",
	                    "resources", json);
}

int cog_mcp_list_prompts(cog_mcp *mcp, char **json)
{
	return list_printed(mcp, "cog_mcp_list_prompts", "prompts/list", "prompts",
	                    json);
}

int cog_mcp_read_resource(cog_mcp *mcp, const char *uri, char **json)
{
	const char *fn = "cog_mcp_read_resource";
	COG_CHECK_ARG(json, fn, "json is NULL");
	*json = NULL;
	COG_CHECK_ARG(mcp, fn, "mcp is NULL");
	COG_CHECK_ARG(uri && uri[0], fn, "uri is NULL or empty");
	cJSON *params = cJSON_CreateObject();
	if (!params || !cJSON_AddStringToObject(params, "uri", uri)) {
		cJSON_Delete(params);
		return cog__oom(fn);
	}
	char what[96];
	snprintf(what, sizeof(what), "resource \"%.64s\"", uri);
	return request_printed(mcp, fn, "resources/read", params, "contents", what,
	                       json);
}

int cog_mcp_get_prompt(cog_mcp *mcp, const char *name,
                       const char *arguments_json, char **json)
{
	const char *fn = "cog_mcp_get_prompt";
	COG_CHECK_ARG(json, fn, "json is NULL");
	*json = NULL;
	COG_CHECK_ARG(mcp, fn, "mcp is NULL");
	COG_CHECK_ARG(name && name[0], fn, "name is NULL or empty");
	cJSON *args = NULL;
	if (arguments_json) {
		int rc = cog_json_parse(&args, arguments_json, "prompt arguments");
		if (rc != COG_OK)
			return cog__error_wrap(rc, "%s", fn);
		if (!cJSON_IsObject(args)) {
			cJSON_Delete(args);
			return cog__error(COG_EINVAL, "%s: the arguments of prompt \"%s\" "
				"are not a JSON object", fn, name);
		}
		const cJSON *a;
		cJSON_ArrayForEach(a, args) {
			if (!cJSON_IsString(a)) {
				int rc2 = cog__error(COG_EINVAL, "%s: argument \"%s\" of prompt "
					"\"%s\" is not a string", fn, a->string, name);
				cJSON_Delete(args);
				return rc2;
			}
		}
	}
	cJSON *params = cJSON_CreateObject();
	if (!params || !cJSON_AddStringToObject(params, "name", name)) {
		cJSON_Delete(params);
		cJSON_Delete(args);
		return cog__oom(fn);
	}
	if (args)
		cJSON_AddItemToObject(params, "arguments", args);
	char what[96];
	snprintf(what, sizeof(what), "prompt \"%.64s\"", name);
	return request_printed(mcp, fn, "prompts/get", params, "messages", what, json);
}
