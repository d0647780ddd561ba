/*
 * "when":"llm" in a template's tasks: checking a template for tasks that
 * would lose a dependency without an LLM, and the variants of its tasks
 * with and without one (template_when.h).
 */
#include <string.h>

#include "template_when.h"

static bool is_llm_only(const cJSON *task)
{
	return cJSON_GetObjectItemCaseSensitive(task, TPL_WHEN) != NULL;
}

/* The id of the "when":"llm" task named `id`, or NULL when it is not one. */
static const char *llm_only_task(const tpl *t, const char *id)
{
	const cJSON *task;
	cJSON_ArrayForEach(task, t->tasks) {
		const char *tid = cog_json_get_string(task, "id");
		if (id && tid && strcmp(tid, id) == 0 && is_llm_only(task))
			return tid;
	}
	return NULL;
}

/* The first {"$from":id} inside item naming a "when":"llm" task, or NULL. */
static const char *from_llm_only(const tpl *t, const cJSON *item)
{
	if (cJSON_IsObject(item)) {
		const char *from = cog_json_get_string(item, "$from");
		if (from && llm_only_task(t, from))
			return from;
	}
	if (!cJSON_IsObject(item) && !cJSON_IsArray(item))
		return NULL;
	const cJSON *child;
	cJSON_ArrayForEach(child, item) {
		const char *found = from_llm_only(t, child);
		if (found)
			return found;
	}
	return NULL;
}

/* "when" is "llm" or absent; a task kept without an LLM neither depends on
 * nor takes inputs from a task left out then. */
int tpl_check_when(const tpl *t)
{
	size_t i = 0;
	const cJSON *task;
	cJSON_ArrayForEach(task, t->tasks) {
		const cJSON *when = cJSON_GetObjectItemCaseSensitive(task, TPL_WHEN);
		const char *id = cog_json_get_string(task, "id");
		if (when && !(cJSON_IsString(when) && strcmp(when->valuestring, "llm") == 0))
			return tpl_error(COG_EINVAL, t->file, "template '%s': tasks[%zu]: \"when\" "
				"must be \"llm\" (the task runs only when an LLM is configured)",
				t->name, i);
		i++;
		if (when)
			continue;
		const cJSON *dep;
		cJSON_ArrayForEach(dep, cJSON_GetObjectItemCaseSensitive(task, "depends_on")) {
			if (cJSON_IsString(dep) && llm_only_task(t, dep->valuestring))
				return tpl_error(COG_EINVAL, t->file, "template '%s': task '%s' depends "
					"on '%s', which runs only with an LLM (\"when\":\"llm\"); without "
					"one it would be missing: mark '%s' \"when\":\"llm\" too, or drop "
					"the dependency", t->name, id ? id : "?", dep->valuestring,
					id ? id : "?");
		}
		const char *from = from_llm_only(t, cJSON_GetObjectItemCaseSensitive(task,
			"inputs"));
		if (from)
			return tpl_error(COG_EINVAL, t->file, "template '%s': task '%s' takes an "
				"input from '%s', which runs only with an LLM (\"when\":\"llm\"); "
				"without one it would be missing: mark '%s' \"when\":\"llm\" too",
				t->name, id ? id : "?", from, id ? id : "?");
	}
	return COG_OK;
}

/* The tasks as they are with an LLM (every one, "when" dropped) or without
 * one (the "when" tasks left out). */
cJSON *tpl_tasks_variant(const tpl *t, bool with_llm)
{
	cJSON *out = cJSON_CreateArray();
	const cJSON *task;
	cJSON_ArrayForEach(task, t->tasks) {
		if (!out || (!with_llm && is_llm_only(task)))
			continue;
		cJSON *copy = cJSON_Duplicate(task, true);
		if (!copy || !cJSON_AddItemToArray(out, copy)) {
			cJSON_Delete(copy);
			cJSON_Delete(out);
			out = NULL;
			continue;
		}
		cJSON_DeleteItemFromObjectCaseSensitive(copy, TPL_WHEN);
	}
	return out;
}
