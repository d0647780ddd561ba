/*
 * Inputs that come from other tasks' results. Anywhere in a task's
 * "inputs", an object {"$from":"<task id>","pointer":"/json/pointer"} stands
 * for a value of that task's result ("pointer" optional: the whole result).
 * The task must depend on it directly, so the value exists when it runs.
 * Validation checks the references; the tool-task executor replaces them
 * with the values before calling the tool, whose schema then checks the
 * real arguments.
 */
#include <string.h>

#include "run_int.h"

static bool is_reference(const cJSON *item)
{
	return cJSON_IsObject(item) && cJSON_GetObjectItemCaseSensitive(item, "$from");
}

static bool depends_on(const plan_task *t, const char *id)
{
	for (size_t i = 0; i < t->dep_count; i++)
		if (strcmp(t->dep_ids[i], id) == 0)
			return true;
	return false;
}

static int check_reference(const cog_plan *plan, const plan_task *t, const cJSON *ref)
{
	const char *from = cog_json_get_string(ref, "$from");
	const cJSON *pointer = cJSON_GetObjectItemCaseSensitive(ref, "pointer");
	int members = cJSON_GetArraySize(ref);
	if (!from || members > 2 || (members == 2 && !cJSON_IsString(pointer)))
		return cog__error(COG_EINVAL, "plan %s: task '%s': an input reference is "
			"{\"$from\":\"<task id>\",\"pointer\":\"/json/pointer\"} (pointer optional)",
			plan->id, t->id);
	if (pointer && pointer->valuestring[0] && pointer->valuestring[0] != '/')
		return cog__error(COG_EINVAL, "plan %s: task '%s': input pointer '%s' must be "
			"empty or start with '/'", plan->id, t->id, pointer->valuestring);
	if (!depends_on(t, from))
		return cog__error(COG_EINVAL, "plan %s: task '%s' takes an input from '%s' but "
			"does not depend on it (add it to depends_on)", plan->id, t->id, from);
	return COG_OK;
}

/* Depth-first over the inputs; *found counts the references. */
static int walk_check(const cog_plan *plan, const plan_task *t, const cJSON *item,
                      size_t *found)
{
	if (is_reference(item)) {
		(*found)++;
		return check_reference(plan, t, item);
	}
	if (!cJSON_IsObject(item) && !cJSON_IsArray(item))
		return COG_OK;
	const cJSON *child;
	cJSON_ArrayForEach(child, item) {
		int rc = walk_check(plan, t, child, found);
		if (rc)
			return rc;
	}
	return COG_OK;
}

int plan_inputs_check(const cog_plan *plan, const plan_task *t, size_t *references)
{
	*references = 0;
	if (is_reference(t->inputs))
		return cog__error(COG_EINVAL, "plan %s: task '%s': the inputs as a whole cannot be "
			"a reference; name the members ({\"text\":{\"$from\":..}})", plan->id, t->id);
	return t->inputs ? walk_check(plan, t, t->inputs, references) : COG_OK;
}

/* Replace the references inside `item` (a copy the caller owns). */
static int resolve(cog_task_call *call, cJSON *item)
{
	for (cJSON *child = item->child; child; child = child->next) {
		if (!is_reference(child)) {
			int rc = resolve(call, child);
			if (rc)
				return rc;
			continue;
		}
		const char *from = cog_json_get_string(child, "$from");
		const char *pointer = cog_json_get_string(child, "pointer");
		const char *text = from ? cog_task_call_dependency_result(call, from) : NULL;
		if (!text)
			return cog__error(COG_EINVAL, "task '%s': input from '%s', which is not one "
				"of its dependencies", call->task->id, from ? from : "?");
		cJSON *result = cJSON_Parse(text);
		const cJSON *value = result ? cog_json_pointer_get(result, pointer ? pointer : "")
		                            : NULL;
		cJSON *copy = value ? cJSON_Duplicate(value, 1) : NULL;
		cJSON_Delete(result);
		if (!copy)
			return value ? cog__oom("task inputs") :
				cog__error(COG_ENOTFOUND, "task '%s': the result of '%s' has nothing at "
					"'%s'", call->task->id, from, pointer ? pointer : "");
		/* ReplaceItemViaPointer does not give the new item the member's
		 * name: give the copy the name it replaces (cJSON frees it with
		 * our allocator). */
		if (child->string) {
			/* The duplicate may carry the name it had in the result. */
			char *name = cog__strdup(child->string);
			if (!name) {
				cJSON_Delete(copy);
				return cog__oom("task inputs");
			}
			if (!(copy->type & cJSON_StringIsConst))
				cJSON_free(copy->string);
			copy->type &= ~cJSON_StringIsConst;
			copy->string = name;
		}
		if (!cJSON_ReplaceItemViaPointer(item, child, copy)) {
			cJSON_Delete(copy);
			return cog__oom("task inputs");
		}
		child = copy;
	}
	return COG_OK;
}

int plan_inputs_resolve(cog_task_call *call, cJSON **out)
{
	*out = NULL;
	const plan_task *t = call->task;
	if (!t->inputs)
		return COG_OK;
	cJSON *copy = cJSON_Duplicate(t->inputs, 1);
	if (!copy)
		return cog__oom("task inputs");
	int rc = is_reference(copy) ? cog__error(COG_EINVAL, "task '%s': the inputs as a "
		"whole cannot be a reference; name the members", t->id) : resolve(call, copy);
	if (rc) {
		cJSON_Delete(copy);
		return rc;
	}
	*out = copy;
	return COG_OK;
}
