/*
 * The template planner: plans made from data files whose patterns match the
 * goal. A template is one JSON file:
 *
 *   {"name":"data-analysis","description":"Analyse a CSV file",
 *    "patterns":["(?i)\\banaly[sz]e\\b.*?(?<file>\\S+\\.csv)\\b", ...],
 *    "params":{"file":{"required":true,"description":"..."},
 *              "out":{"default":"report.md"}},
 *    "budget":{"max_tokens":..,"max_cost":..,"max_duration_ms":..},
 *    "tasks":[Task JSON with ${file}-style placeholders in any string]}
 *
 * A task of a template may also have "when":"llm" (the only value): it is
 * part of the plan only when the context has an LLM endpoint
 * (cog_llm_available), e.g. a narrative written by a model on top of a
 * report computed without one. The tasks kept without an LLM must not
 * depend on such a task nor take inputs from it ($from): a template that
 * does is broken, and named when it is loaded.
 *
 * Patterns are PCRE2 in UTF mode with Unicode properties (\w, \b and \d know
 * about all scripts), compiled once per load; the first pattern of the first
 * template that matches wins. A named group supplies the parameter of the
 * same name; a parameter without a value (group absent, unset or empty) takes
 * its "default", is "" when optional, and is an error when required. ${goal}
 * is always the whole goal. "$${" writes a literal "${". Values are put into
 * the parsed JSON strings (never pasted into JSON text), so quotes,
 * backslashes and control characters in a goal cannot change the structure.
 *
 * Search order: the directories added with cog_ctx_add_template_dir() (in the
 * order added), then those of $COG_TEMPLATE_PATH (colon-separated), then the
 * installed directory ($COG_TEMPLATE_DIR when set, even empty, else the
 * compiled-in datadir/cognition/templates). A directory's *.json files are
 * read in byte order of their names. A template whose name an earlier file
 * already has is shadowed (so a host can override an installed one). A
 * missing directory on the path or the installed one is skipped; a broken
 * template file anywhere is an error naming the file, never silently skipped:
 * a planner that quietly ignores a file would pick a different template.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "template_int.h"
#include "template_when.h"
#include "cognition/llm.h"

/* Goals are user text: bound the work one pattern may do on one goal. */
#define MATCH_LIMIT 1000000
#define MATCH_HEAP_LIMIT_KIB 16384

/* ---- placeholders ---- */

const tpl_param *tpl_find_param(const tpl *t, const char *name, size_t len)
{
	for (size_t i = 0; i < t->param_count; i++)
		if (strlen(t->params[i].name) == len && memcmp(t->params[i].name, name, len) == 0)
			return &t->params[i];
	return NULL;
}

/* "file, out, goal" for messages. */
static void param_list(const tpl *t, char *out, size_t size)
{
	size_t used = 0;
	out[0] = '\0';
	for (size_t i = 0; i < t->param_count && used < size; i++)
		used += (size_t)snprintf(out + used, size - used, "%s, ", t->params[i].name);
	if (used < size)
		snprintf(out + used, size - used, "%s", GOAL_PARAM);
}

/*
 * Expand the placeholders of s into out; with out NULL only check them.
 * values[i] belongs to t->params[i] (NULL: check only).
 */
static int expand(const tpl *t, const char *s, const char *const *values,
                  const char *goal, cog_buf *out)
{
	const char *p = s;
	while (*p) {
		if (p[0] == '$' && p[1] == '$' && p[2] == '{') {
			if (out)
				cog_buf_puts(out, "${");
			p += 3;
			continue;
		}
		if (p[0] == '$' && p[1] == '{') {
			const char *name = p + 2, *end = strchr(name, '}');
			if (!end)
				return tpl_error(COG_EINVAL, t->file, "template '%s': "
					"unterminated placeholder in \"%.80s\" (write $${ for a "
					"literal ${)", t->name, s);
			size_t len = (size_t)(end - name);
			const tpl_param *param = tpl_find_param(t, name, len);
			bool is_goal = len == strlen(GOAL_PARAM) &&
				memcmp(name, GOAL_PARAM, len) == 0;
			if (!param && !is_goal) {
				char known[256];
				param_list(t, known, sizeof(known));
				return tpl_error(COG_EINVAL, t->file, "template '%s': unknown "
					"placeholder ${%.*s} (its parameters: %s)", t->name,
					(int)(len > 64 ? 64 : len), name, known);
			}
			if (out) {
				const char *v = is_goal ? goal : values[param - t->params];
				cog_buf_puts(out, v ? v : "");
			}
			p = end + 1;
			continue;
		}
		const char *next = strchr(p + 1, '$');
		size_t run = next ? (size_t)(next - p) : strlen(p);
		if (out)
			cog_buf_put(out, p, run);
		p += run;
	}
	return COG_OK;
}

/* Expand every string value (not member names) in the tree, in place. */
int tpl_expand_tree(const tpl *t, cJSON *item, const char *const *values,
                    const char *goal, bool check_only)
{
	if (cJSON_IsString(item)) {
		if (!strchr(item->valuestring, '$'))
			return COG_OK;
		if (check_only)
			return expand(t, item->valuestring, NULL, NULL, NULL);
		cog_buf b = COG_BUF_INIT;
		int rc = expand(t, item->valuestring, values, goal, &b);
		if (!rc && !b.failed && !b.ptr)
			rc = cog_buf_puts(&b, ""); /* an empty result still needs a buffer */
		if (!rc && (b.failed || !cJSON_SetValuestring(item, b.ptr)))
			rc = cog__oom("template placeholder");
		cog_buf_dispose(&b);
		return rc;
	}
	cJSON *child;
	cJSON_ArrayForEach(child, item) {
		int rc = tpl_expand_tree(t, child, values, goal, check_only);
		if (rc)
			return rc;
	}
	return COG_OK;
}

/* Fill a plan from the template; values[i] belongs to t->params[i]. */
int tpl_instantiate(const tpl *t, cog_ctx *ctx, const char *goal,
                    const char *const *values, cog_plan **out)
{
	*out = NULL;
	cog__json_init();
	cJSON *tasks = cJSON_Duplicate(t->tasks, true);
	if (!tasks)
		return cog__oom(t->file);
	cog_plan *plan = NULL;
	int rc = tpl_expand_tree(t, tasks, values, goal, false);
	if (!rc)
		rc = cog_plan_new(&plan, ctx, goal);
	char where[512];
	size_t i = 0;
	bool have_llm = cog_llm_available(ctx) != 0;
	cJSON *task;
	cJSON_ArrayForEach(task, tasks) {
		if (rc)
			break;
		snprintf(where, sizeof(where), "template file %s: template '%s': tasks[%zu]",
			t->file, t->name, i++);
		/* "when":"llm" (checked at load): only with an LLM endpoint. */
		if (cJSON_GetObjectItemCaseSensitive(task, TPL_WHEN)) {
			if (!have_llm)
				continue;
			cJSON_DeleteItemFromObjectCaseSensitive(task, TPL_WHEN);
		}
		rc = plan_add_task_json(plan, task, where);
	}
	cJSON_Delete(tasks);
	if (!rc && t->budget) {
		char *budget = cog_json_print(t->budget);
		rc = budget ? cog_plan_set_budget(plan, budget) : COG_ENOMEM;
		cog_free(budget);
		if (rc)
			rc = cog__error_wrap(rc, "template file %s: budget", t->file);
	}
	if (rc) {
		cog_plan_free(plan);
		return rc;
	}
	*out = plan;
	return COG_OK;
}

/* ---- matching ---- */

/* Free the values of a match. */
static void values_free(char **values, size_t n)
{
	for (size_t i = 0; values && i < n; i++)
		cog_free(values[i]);
	cog_free(values);
}

/* Take the parameters from a successful match into values (cog_malloc'd). */
static int take_values(const tpl *t, size_t pattern, pcre2_match_data *md, char **values)
{
	for (size_t i = 0; i < t->param_count; i++) {
		const tpl_param *p = &t->params[i];
		PCRE2_UCHAR *buf = NULL;
		PCRE2_SIZE len = 0;
		int rc = pcre2_substring_get_byname(md, (PCRE2_SPTR)p->name, &buf, &len);
		if (rc == 0) {
			if (len)
				values[i] = cog__strndup((const char *)buf, len);
			pcre2_substring_free(buf);
			if (len && !values[i])
				return cog__oom("template parameter");
		} else if (rc != PCRE2_ERROR_UNSET && rc != PCRE2_ERROR_NOSUBSTRING) {
			return tpl_error(COG_ENOMEM, t->file, "parameter '%s': PCRE2 error %d",
				p->name, rc);
		}
		if (!values[i] && p->fallback && !(values[i] = cog__strdup(p->fallback)))
			return cog__oom("template parameter");
		if (!values[i] && p->required)
			return tpl_error(COG_EINVAL, t->file, "template '%s' matched the goal "
				"(patterns[%zu]) but its required parameter '%s' got no value",
				t->name, pattern, p->name);
	}
	return COG_OK;
}

/* 1 and values set when a pattern of t matches goal, 0 when none does. */
static int match_template(const tpl *t, const tpl_set *set, const char *goal,
                          char ***values_out)
{
	pcre2_match_context *mctx = pcre2_match_context_create(set->gctx);
	if (!mctx)
		return cog__oom("template match");
	pcre2_set_match_limit(mctx, MATCH_LIMIT);
	pcre2_set_heap_limit(mctx, MATCH_HEAP_LIMIT_KIB);
	int result = 0;
	for (size_t i = 0; !result && i < t->pattern_count; i++) {
		pcre2_match_data *md = pcre2_match_data_create_from_pattern(t->patterns[i],
			set->gctx);
		if (!md) {
			result = cog__oom("template match");
			break;
		}
		int rc = pcre2_match(t->patterns[i], (PCRE2_SPTR)goal, strlen(goal), 0,
			PCRE2_NO_UTF_CHECK, md, mctx);
		if (rc >= 0) {
			char **values = cog__calloc(t->param_count + 1, sizeof(*values));
			result = values ? take_values(t, i, md, values)
			                : cog__oom("template match");
			if (result) {
				values_free(values, t->param_count);
			} else {
				*values_out = values;
				result = 1;
			}
		} else if (rc != PCRE2_ERROR_NOMATCH) {
			PCRE2_UCHAR msg[256];
			if (pcre2_get_error_message(rc, msg, sizeof(msg)) < 0)
				snprintf((char *)msg, sizeof(msg), "PCRE2 error %d", rc);
			/* Reported, not skipped: the goal might have matched. */
			result = tpl_error(COG_EINVAL, t->file, "template '%s': patterns[%zu] "
				"failed on the goal: %s", t->name, i, (const char *)msg);
		}
		pcre2_match_data_free(md);
	}
	pcre2_match_context_free(mctx);
	return result;
}

int plan_template_planner(cog_plan **out, cog_ctx *ctx, const char *goal)
{
	*out = NULL;
	tpl_set set;
	int rc = tpl_load_all(&set, ctx);
	if (rc)
		return rc;
	for (size_t i = 0; i < set.count; i++) {
		const tpl *t = &set.items[i];
		char **values = NULL;
		rc = match_template(t, &set, goal, &values);
		if (rc == 1) {
			rc = tpl_instantiate(t, ctx, goal, (const char *const *)values, out);
			values_free(values, t->param_count);
			tpl_set_dispose(&set);
			return rc;
		}
		if (rc) {
			tpl_set_dispose(&set);
			return rc;
		}
	}
	/* Quote at most 80 bytes of the goal, cut at a character boundary. */
	size_t len = strlen(goal), shown = len > 80 ? 80 : len;
	while (shown < len && ((unsigned char)goal[shown] & 0xc0) == 0x80)
		shown--;
	rc = cog__error(COG_ENOTFOUND, "none of %zu templates matched \"%.*s%s\" (read %zu "
		"directories: those added with cog_ctx_add_template_dir, then $COG_TEMPLATE_PATH, "
		"then %s)", set.count, (int)shown, goal, shown < len ? "..." : "", set.dirs,
		*tpl_installed_dir() ? tpl_installed_dir() : "no installed directory");
	tpl_set_dispose(&set);
	return rc;
}

/* ---- public functions ---- */

int cog_ctx_add_template_dir(cog_ctx *ctx, const char *path)
{
	static const char fn[] = "cog_ctx_add_template_dir";
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	COG_CHECK_ARG(path && *path, fn, "path is NULL or empty");
	struct stat st;
	if (stat(path, &st) != 0)
		return cog__error(errno == ENOENT || errno == ENOTDIR ? COG_ENOTFOUND : COG_EIO,
			"%s: %s: %s", fn, path, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return cog__error(COG_EINVAL, "%s: %s is not a directory", fn, path);
	/* Absolute, so that a later chdir() of the host does not change it. */
	char *absolute = realpath(path, NULL);
	if (absolute)
		path = absolute;
	/* Check its templates now: a host learns of a broken file when it
	 * configures the context, not at its first goal. */
	tpl_set set;
	int rc = tpl_set_init(&set, ctx);
	if (!rc)
		rc = tpl_load_dir(&set, path, true);
	tpl_set_dispose(&set);
	if (!rc)
		rc = cog__ctx_add_template_dir(ctx, path);
	else
		rc = cog__error_wrap(rc, "%s", fn);
	free(absolute); /* realpath() uses malloc */
	return rc;
}

static cJSON *describe_template(const tpl *t)
{
	cJSON *o = cJSON_CreateObject(), *params = NULL, *patterns = NULL;
	bool ok = o && cJSON_AddStringToObject(o, "name", t->name) &&
		cJSON_AddStringToObject(o, "description", t->description ? t->description : "") &&
		cJSON_AddStringToObject(o, "pattern",
			cJSON_GetArrayItem(t->pattern_texts, 0)->valuestring) &&
		(patterns = cJSON_Duplicate(t->pattern_texts, true)) &&
		cJSON_AddItemToObject(o, "patterns", patterns) &&
		(params = cJSON_AddObjectToObject(o, "params"));
	if (o && !ok && patterns && !cJSON_GetObjectItemCaseSensitive(o, "patterns"))
		cJSON_Delete(patterns);
	for (size_t i = 0; ok && i < t->param_count; i++) {
		cJSON *p = cJSON_AddObjectToObject(params, t->params[i].name);
		ok = p && cJSON_AddBoolToObject(p, "required", t->params[i].required) &&
			(t->params[i].fallback ? cJSON_AddStringToObject(p, "default",
				t->params[i].fallback) : cJSON_AddNullToObject(p, "default"));
	}
	ok = ok && cJSON_AddNumberToObject(o, "tasks", cJSON_GetArraySize(t->tasks)) &&
		cJSON_AddStringToObject(o, "file", t->file);
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

int cog_ctx_list_templates(cog_ctx *ctx, char **json)
{
	static const char fn[] = "cog_ctx_list_templates";
	COG_CHECK_ARG(json, fn, "json is NULL");
	*json = NULL;
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	tpl_set set;
	int rc = tpl_load_all(&set, ctx);
	if (rc)
		return rc;
	cJSON *list = cJSON_CreateArray();
	bool ok = list != NULL;
	for (size_t i = 0; ok && i < set.count; i++) {
		cJSON *item = describe_template(&set.items[i]);
		ok = item && cJSON_AddItemToArray(list, item);
	}
	tpl_set_dispose(&set);
	if (ok && !(*json = cog_json_print(list)))
		ok = false;
	cJSON_Delete(list);
	return ok ? COG_OK : cog__oom(fn);
}
