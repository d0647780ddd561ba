/*
 * cog_tool_list(): the registry's tools as JSON, in our own format (flags,
 * output schema, limits, runner) or as the OpenAI and Anthropic APIs take
 * tool definitions.
 */
#include "tool_int.h"

static int add_parsed(cJSON *object, const char *name, const char *text)
{
	cJSON *value = text ? cJSON_Parse(text) : cJSON_CreateNull();
	if (!value || !cJSON_AddItemToObject(object, name, value)) {
		cJSON_Delete(value);
		return COG_ENOMEM;
	}
	return COG_OK;
}

static cJSON *flag_names(unsigned int flags)
{
	static const struct { unsigned int bit; const char *name; } names[] = {
		{ COG_TOOL_IDEMPOTENT, "idempotent" },
		{ COG_TOOL_SIDE_EFFECTS, "side_effects" },
		{ COG_TOOL_NEEDS_APPROVAL, "needs_approval" },
		{ COG_TOOL_NEEDS_NETWORK, "needs_network" },
	};
	cJSON *array = cJSON_CreateArray();
	for (size_t i = 0; array && i < COG_ARRAY_LEN(names); i++) {
		if (!(flags & names[i].bit))
			continue;
		cJSON *s = cJSON_CreateString(names[i].name);
		if (!s || !cJSON_AddItemToArray(array, s)) {
			cJSON_Delete(s);
			cJSON_Delete(array);
			return NULL;
		}
	}
	return array;
}

static cJSON *describe(const tool_def *def, int format)
{
	cJSON *item = cJSON_CreateObject();
	if (!item)
		return NULL;
	cJSON *target = item;
	int rc = COG_OK;
	if (format == COG_TOOL_FORMAT_OPENAI) {
		if (cog_json_add_string(item, "type", "function"))
			goto fail;
		target = cJSON_AddObjectToObject(item, "function");
		if (!target)
			goto fail;
	}
	rc = cog_json_add_string(target, "name", def->name);
	if (!rc && (format != COG_TOOL_FORMAT_OPENAI || def->description[0]))
		rc = cog_json_add_string(target, "description", def->description);
	if (!rc)
		rc = add_parsed(target, format == COG_TOOL_FORMAT_OPENAI ? "parameters" :
			"input_schema", def->input_schema_text);
	if (!rc && format == COG_TOOL_FORMAT_COG) {
		cJSON *flags = flag_names(def->flags);
		if (!flags || !cJSON_AddItemToObject(item, "flags", flags)) {
			cJSON_Delete(flags);
			goto fail;
		}
		rc = add_parsed(item, "output_schema", def->output_schema_text);
		if (!rc)
			rc = cog_json_add_number(item, "timeout_ms", def->timeout_ms);
		if (!rc)
			rc = cog_json_add_number(item, "max_output_bytes", (double)def->max_output_bytes);
		if (!rc)
			rc = cog_json_add_string(item, "runner", def->command ? "command" : "callback");
	}
	if (rc)
		goto fail;
	return item;
fail:
	cJSON_Delete(item);
	return NULL;
}

int cog_tool_list(cog_ctx *ctx, const char *pattern, int format, char **json)
{
	static const char fn[] = "cog_tool_list";
	COG_CHECK_ARG(json, fn, "json is NULL");
	*json = NULL;
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	if (format < COG_TOOL_FORMAT_COG || format > COG_TOOL_FORMAT_ANTHROPIC)
		return cog__error(COG_EINVAL, "%s: unknown format %d", fn, format);
	tool_registry *reg;
	int rc = tool_registry_get(ctx, &reg);
	if (rc)
		return rc;
	cog__json_init();
	cJSON *array = cJSON_CreateArray();
	if (!array)
		return cog__oom(fn);
	pthread_rwlock_rdlock(&reg->lock);
	for (size_t i = 0; i < reg->count && rc == COG_OK; i++) {
		if (pattern && !tool_glob_match(pattern, reg->tools[i]->name))
			continue;
		cJSON *item = describe(reg->tools[i], format);
		if (!item || !cJSON_AddItemToArray(array, item)) {
			cJSON_Delete(item);
			rc = COG_ENOMEM;
		}
	}
	pthread_rwlock_unlock(&reg->lock);
	if (rc == COG_OK && !(*json = cog_json_print(array)))
		rc = COG_ENOMEM;
	cJSON_Delete(array);
	return rc == COG_ENOMEM ? cog__oom(fn) : rc;
}
