/*
 * The JSON text checks and results the call pipeline shares with the rest
 * of lib/tool: the model's error object ({"error":{"type":..,"message":..}}),
 * the \u0000 test (cJSON would cut such a string short), and whether a
 * call's allowed_hosts is a real network grant. The pipeline itself:
 * call.c.
 */
#include <string.h>

#include "tool_int.h"

char *tool_error_json(const char *type, const char *message, cJSON *details)
{
	cog__json_init();
	cJSON *root = cJSON_CreateObject();
	cJSON *error = root ? cJSON_AddObjectToObject(root, "error") : NULL;
	char *text = NULL;
	/* Messages may quote names, paths or program output that are not
	 * UTF-8, or be cut inside a character: the model gets valid JSON. */
	message = message ? message : "";
	char *clean = cog_utf8_lossy(message, strlen(message));
	if (error && clean && !cog_json_add_string(error, "type", type) &&
	    !cog_json_add_string(error, "message", clean)) {
		if (details) {
			if (cJSON_AddItemToObject(error, "details", details))
				details = NULL;
			else
				goto done;
		}
		text = cog_json_print(root);
	}
done:
	cog_free(clean);
	cJSON_Delete(details);
	cJSON_Delete(root);
	return text;
}

bool tool_json_has_nul(const char *text)
{
	return cog__json_has_nul(text);
}

bool tool_network_granted(const char *hosts)
{
	if (!hosts || tool_json_has_nul(hosts))
		return false;
	cJSON *array = NULL;
	if (cog_json_parse(&array, hosts, "allowed_hosts") != COG_OK) {
		cog_error_clear();
		return false;
	}
	bool granted = cJSON_IsArray(array) && cJSON_GetArraySize(array) > 0;
	for (const cJSON *host = granted ? array->child : NULL; host; host = host->next)
		if (!cJSON_IsString(host) || !host->valuestring[0])
			granted = false;
	cJSON_Delete(array);
	return granted;
}
