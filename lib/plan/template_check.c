/*
 * Checking and compiling one template read from its file: the fields, the
 * name, the parameters, the patterns (compiled with PCRE2, their named
 * groups declared parameters) and the tasks (tried with placeholder
 * values, with an LLM and without one). Reading the files and their
 * directories: template_load.c.
 */
#include <stdio.h>
#include <string.h>

#include "template_int.h"
#include "template_when.h"

#define TEMPLATE_NAME_MAX 64

static bool is_param_name(const char *s, size_t len)
{
	if (len == 0 || len > PARAM_NAME_MAX || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

static int check_name(const tpl *t, const cJSON *name)
{
	if (!cJSON_IsString(name))
		return tpl_error(COG_EINVAL, t->file, "field \"name\" (a string) is required");
	size_t len = strlen(name->valuestring);
	bool ok = len > 0 && len <= TEMPLATE_NAME_MAX;
	for (size_t i = 0; ok && i < len; i++) {
		char c = name->valuestring[i];
		ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
	}
	if (!ok)
		return tpl_error(COG_EINVAL, t->file, "\"name\" must be 1..%d bytes of "
			"[A-Za-z0-9_.-]", TEMPLATE_NAME_MAX);
	return COG_OK;
}

static int read_params(tpl *t, const cJSON *params)
{
	if (!params)
		return COG_OK;
	if (!cJSON_IsObject(params))
		return tpl_error(COG_EINVAL, t->file, "\"params\" must be an object");
	size_t n = (size_t)cJSON_GetArraySize(params);
	if (n && !(t->params = cog__calloc(n, sizeof(*t->params))))
		return cog__oom(t->file);
	const cJSON *p;
	cJSON_ArrayForEach(p, params) {
		const char *name = p->string;
		if (!is_param_name(name, strlen(name)) || strcmp(name, GOAL_PARAM) == 0)
			return tpl_error(COG_EINVAL, t->file, "parameter name '%.64s' must be "
				"1..%d bytes of [A-Za-z0-9_], not start with a digit and not be "
				"'%s' (built in)", name, PARAM_NAME_MAX, GOAL_PARAM);
		if (tpl_find_param(t, name, strlen(name)))
			return tpl_error(COG_EINVAL, t->file, "parameter '%s' is declared twice",
				name);
		if (!cJSON_IsObject(p))
			return tpl_error(COG_EINVAL, t->file, "parameter '%s' must be an object "
				"{\"required\":..,\"default\":..,\"description\":..}", name);
		tpl_param *param = &t->params[t->param_count];
		param->name = name;
		const cJSON *f;
		cJSON_ArrayForEach(f, p) {
			if (strcmp(f->string, "required") == 0 && cJSON_IsBool(f))
				param->required = cJSON_IsTrue(f);
			else if (strcmp(f->string, "default") == 0 && cJSON_IsString(f))
				param->fallback = f->valuestring;
			else if (strcmp(f->string, "description") == 0 && cJSON_IsString(f))
				continue;
			else
				return tpl_error(COG_EINVAL, t->file, "parameter '%s': bad "
					"field \"%s\" (required: true/false, default: a string, "
					"description: a string)", name, f->string);
		}
		if (param->required && param->fallback)
			return tpl_error(COG_EINVAL, t->file, "parameter '%s' is required and "
				"has a default; choose one", name);
		t->param_count++;
	}
	return COG_OK;
}

/* Every named group of a pattern must be a declared parameter. */
static int check_group_names(const tpl *t, const pcre2_code *code, size_t index)
{
	uint32_t count = 0, entry_size = 0;
	PCRE2_SPTR table = NULL;
	pcre2_pattern_info(code, PCRE2_INFO_NAMECOUNT, &count);
	pcre2_pattern_info(code, PCRE2_INFO_NAMEENTRYSIZE, &entry_size);
	pcre2_pattern_info(code, PCRE2_INFO_NAMETABLE, &table);
	for (uint32_t i = 0; i < count; i++) {
		const char *name = (const char *)(table + (size_t)i * entry_size + 2);
		if (!tpl_find_param(t, name, strlen(name)))
			return tpl_error(COG_EINVAL, t->file, "patterns[%zu] has group (?<%s>...) "
				"but \"params\" declares no '%s'", index, name, name);
	}
	return COG_OK;
}

static int compile_patterns(tpl *t, tpl_set *set, const cJSON *patterns)
{
	if (!cJSON_IsArray(patterns) || cJSON_GetArraySize(patterns) == 0)
		return tpl_error(COG_EINVAL, t->file, "\"patterns\" must be a non-empty array "
			"of PCRE2 patterns");
	size_t n = (size_t)cJSON_GetArraySize(patterns);
	if (!(t->patterns = cog__calloc(n, sizeof(*t->patterns))))
		return cog__oom(t->file);
	t->pattern_texts = patterns;
	const cJSON *p;
	cJSON_ArrayForEach(p, patterns) {
		size_t i = t->pattern_count;
		if (!cJSON_IsString(p) || !*p->valuestring)
			return tpl_error(COG_EINVAL, t->file, "patterns[%zu] must be a non-empty "
				"string", i);
		int err = 0;
		PCRE2_SIZE offset = 0;
		pcre2_code *code = pcre2_compile((PCRE2_SPTR)p->valuestring, PCRE2_ZERO_TERMINATED,
			PCRE2_UTF | PCRE2_UCP, &err, &offset, set->cctx);
		if (!code) {
			PCRE2_UCHAR msg[256];
			if (pcre2_get_error_message(err, msg, sizeof(msg)) < 0)
				snprintf((char *)msg, sizeof(msg), "PCRE2 error %d", err);
			return tpl_error(COG_EINVAL, t->file, "patterns[%zu] does not compile at "
				"offset %zu: %s", i, (size_t)offset, (const char *)msg);
		}
		t->patterns[t->pattern_count++] = code;
		int rc = check_group_names(t, code, i);
		if (rc)
			return rc;
	}
	return COG_OK;
}

/* The tasks must make a valid plan whatever the parameters, with an LLM
 * and without one: try them with placeholder values now, so that a broken
 * template is found when it is loaded, not when a goal first happens to
 * match it. */
static int check_tasks(const tpl *t, cog_ctx *ctx)
{
	if (!cJSON_IsArray(t->tasks) || cJSON_GetArraySize(t->tasks) == 0)
		return tpl_error(COG_EINVAL, t->file, "\"tasks\" must be a non-empty array of "
			"Task JSON objects");
	int rc = tpl_expand_tree(t, (cJSON *)t->tasks, NULL, NULL, true);
	if (rc || (rc = tpl_check_when(t)))
		return rc;
	const char **values = cog__calloc(t->param_count + 1, sizeof(*values));
	if (!values)
		return cog__oom(t->file);
	for (size_t i = 0; i < t->param_count; i++)
		values[i] = t->params[i].fallback ? t->params[i].fallback : "x";
	for (int with_llm = 1; with_llm >= 0 && !rc; with_llm--) {
		tpl variant = *t;
		cJSON *tasks = tpl_tasks_variant(t, with_llm);
		if (!tasks) {
			rc = cog__oom(t->file);
			break;
		}
		if (cJSON_GetArraySize(tasks) == 0) {
			cJSON_Delete(tasks);
			rc = tpl_error(COG_EINVAL, t->file, "template '%s': every task is "
				"\"when\":\"llm\": without an LLM the plan would be empty", t->name);
			break;
		}
		variant.tasks = tasks;
		cog_plan *plan = NULL;
		rc = tpl_instantiate(&variant, ctx, "x", values, &plan);
		if (!rc && (rc = cog_plan_validate(plan)))
			rc = cog__error_wrap(rc, "template file %s: template '%s' makes an invalid "
				"plan%s", t->file, t->name, with_llm ? "" : " without an LLM");
		cog_plan_free(plan);
		cJSON_Delete(tasks);
	}
	cog_free(values);
	return rc;
}

int tpl_parse(tpl *t, tpl_set *set)
{
	const cJSON *root = t->root, *f;
	if (!cJSON_IsObject(root))
		return tpl_error(COG_EINVAL, t->file, "a template must be a JSON object");
	cJSON_ArrayForEach(f, root) {
		const char *n = f->string;
		if (strcmp(n, "version") == 0) {
			if (!cJSON_IsNumber(f) || f->valuedouble != 1)
				return tpl_error(COG_EINVAL, t->file, "\"version\" must be 1");
		} else if (strcmp(n, "description") == 0) {
			if (!cJSON_IsString(f))
				return tpl_error(COG_EINVAL, t->file,
					"\"description\" must be a string");
			t->description = f->valuestring;
		} else if (strcmp(n, "budget") == 0) {
			t->budget = f;
		} else if (strcmp(n, "tasks") == 0) {
			t->tasks = f;
		} else if (strcmp(n, "name") != 0 && strcmp(n, "patterns") != 0 &&
		           strcmp(n, "params") != 0) {
			return tpl_error(COG_EINVAL, t->file, "unknown field \"%.64s\" (version, "
				"name, description, patterns, params, budget, tasks)", n);
		}
	}
	int rc = check_name(t, cJSON_GetObjectItemCaseSensitive(root, "name"));
	if (rc)
		return rc;
	t->name = cJSON_GetObjectItemCaseSensitive(root, "name")->valuestring;
	if ((rc = read_params(t, cJSON_GetObjectItemCaseSensitive(root, "params"))) ||
	    (rc = compile_patterns(t, set, cJSON_GetObjectItemCaseSensitive(root, "patterns"))))
		return rc;
	return check_tasks(t, set->ctx);
}
