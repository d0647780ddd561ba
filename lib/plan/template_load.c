/*
 * The template planner's files: reading, checking and compiling templates,
 * and the directories they come from (search order, shadowing). What a
 * template is and how it is used: template.c.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "template_int.h"
#include "template_when.h"

#ifndef COG_TEMPLATE_DIR
#define COG_TEMPLATE_DIR "/usr/local/share/cognition/templates"
#endif

#define TEMPLATE_FILE_MAX (1024 * 1024)
#define TEMPLATE_NAME_MAX 64

/* ---- errors ---- */

int tpl_error(int code, const char *file, const char *fmt, ...)
{
	char detail[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	return cog__error(code, "template file %s: %s", file, detail);
}

/* ---- PCRE2 with the library's allocator ---- */

static void *pcre_alloc(PCRE2_SIZE size, void *unused)
{
	(void)unused;
	return cog_malloc(size);
}

static void pcre_release(void *ptr, void *unused)
{
	(void)unused;
	cog_free(ptr);
}

int tpl_set_init(tpl_set *set, cog_ctx *ctx)
{
	memset(set, 0, sizeof(*set));
	set->ctx = ctx;
	set->gctx = pcre2_general_context_create(pcre_alloc, pcre_release, NULL);
	set->cctx = set->gctx ? pcre2_compile_context_create(set->gctx) : NULL;
	if (!set->cctx) {
		pcre2_general_context_free(set->gctx);
		return cog__oom("template planner");
	}
	return COG_OK;
}

static void tpl_dispose(tpl *t)
{
	for (size_t i = 0; i < t->pattern_count; i++)
		pcre2_code_free(t->patterns[i]);
	cog_free(t->patterns);
	cog_free(t->params);
	cJSON_Delete(t->root);
	cog_free(t->file);
	memset(t, 0, sizeof(*t));
}

void tpl_set_dispose(tpl_set *set)
{
	for (size_t i = 0; i < set->count; i++)
		tpl_dispose(&set->items[i]);
	cog_free(set->items);
	pcre2_compile_context_free(set->cctx);
	pcre2_general_context_free(set->gctx);
	memset(set, 0, sizeof(*set));
}

/* ---- loading one file ---- */

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


static int read_file(const char *path, char **text)
{
	*text = NULL;
	FILE *f = fopen(path, "rb");
	if (!f)
		return tpl_error(errno == ENOENT ? COG_ENOTFOUND : COG_EIO, path, "%s",
			strerror(errno));
	struct stat st;
	int rc = COG_OK;
	if (fstat(fileno(f), &st) != 0)
		rc = tpl_error(COG_EIO, path, "%s", strerror(errno));
	else if (!S_ISREG(st.st_mode))
		rc = tpl_error(COG_EINVAL, path, "not a regular file");
	else if (st.st_size > TEMPLATE_FILE_MAX)
		rc = tpl_error(COG_EINVAL, path, "%lld bytes is over the limit of %d",
			(long long)st.st_size, TEMPLATE_FILE_MAX);
	char *buf = rc ? NULL : cog_malloc((size_t)st.st_size + 1);
	if (!rc && !buf)
		rc = cog__oom(path);
	size_t got = 0;
	if (!rc) {
		got = fread(buf, 1, (size_t)st.st_size, f);
		if (ferror(f))
			rc = tpl_error(COG_EIO, path, "read failed");
		else
			buf[got] = '\0';
	}
	fclose(f);
	if (!rc && strlen(buf) != got)
		rc = tpl_error(COG_EINVAL, path, "NUL byte at byte %zu", strlen(buf));
	if (rc) {
		cog_free(buf);
		return rc;
	}
	*text = buf;
	return COG_OK;
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

static int parse_template(tpl *t, tpl_set *set)
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

static bool set_has(const tpl_set *set, const char *name)
{
	for (size_t i = 0; i < set->count; i++)
		if (strcmp(set->items[i].name, name) == 0)
			return true;
	return false;
}

static int load_file(tpl_set *set, const char *path)
{
	if (set->count == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 8;
		tpl *items = cog_realloc(set->items, cap * sizeof(*items));
		if (!items)
			return cog__oom("template planner");
		set->items = items;
		set->cap = cap;
	}
	tpl t;
	memset(&t, 0, sizeof(t));
	if (!(t.file = cog__strdup(path)))
		return cog__oom(path);
	char *text = NULL, what[600];
	int rc = read_file(path, &text);
	if (!rc) {
		snprintf(what, sizeof(what), "template file %s", path);
		rc = cog_json_parse(&t.root, text, what);
		cog_free(text);
	}
	if (!rc)
		rc = parse_template(&t, set);
	if (!rc && set_has(set, t.name)) {
		set->shadowed++;
		tpl_dispose(&t);
		return COG_OK;
	}
	if (rc) {
		tpl_dispose(&t);
		return rc;
	}
	set->items[set->count++] = t;
	return COG_OK;
}

/* ---- directories ---- */

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_template_name(const char *name)
{
	size_t len = strlen(name);
	return name[0] != '.' && len > 5 && strcmp(name + len - 5, ".json") == 0;
}

/* Load every *.json file of dir, by name. A missing directory is skipped
 * unless `must_exist`. */
int tpl_load_dir(tpl_set *set, const char *dir, bool must_exist)
{
	DIR *d = opendir(dir);
	if (!d) {
		if (!must_exist && (errno == ENOENT || errno == ENOTDIR))
			return COG_OK;
		return cog__error(errno == ENOENT ? COG_ENOTFOUND : COG_EIO,
			"template directory %s: %s", dir, strerror(errno));
	}
	set->dirs++;
	char **names = NULL;
	size_t count = 0, cap = 0;
	int rc = COG_OK;
	struct dirent *e;
	while (!rc && (errno = 0, e = readdir(d))) {
		if (!is_template_name(e->d_name))
			continue;
		if (count == cap) {
			cap = cap ? cap * 2 : 16;
			char **p = cog_realloc(names, cap * sizeof(*p));
			if (!p) {
				rc = cog__oom(dir);
				break;
			}
			names = p;
		}
		if (!(names[count] = cog__strdup(e->d_name)))
			rc = cog__oom(dir);
		else
			count++;
	}
	if (!rc && errno)
		rc = cog__error(COG_EIO, "template directory %s: %s", dir, strerror(errno));
	closedir(d);
	if (count)
		qsort(names, count, sizeof(*names), compare_names);
	cog_buf path = COG_BUF_INIT;
	for (size_t i = 0; i < count; i++) {
		if (!rc) {
			cog_buf_clear(&path);
			cog_buf_printf(&path, "%s%s%s", dir,
				dir[strlen(dir) - 1] == '/' ? "" : "/", names[i]);
			rc = path.failed ? cog__oom(dir) : load_file(set, path.ptr);
		}
		cog_free(names[i]);
	}
	cog_buf_dispose(&path);
	cog_free(names);
	return rc;
}

static int load_path_list(tpl_set *set, const char *list)
{
	while (list && *list) {
		const char *end = strchr(list, ':');
		size_t len = end ? (size_t)(end - list) : strlen(list);
		if (len) {
			char *dir = cog__strndup(list, len);
			if (!dir)
				return cog__oom("COG_TEMPLATE_PATH");
			int rc = tpl_load_dir(set, dir, false);
			cog_free(dir);
			if (rc)
				return rc;
		}
		list = end ? end + 1 : NULL;
	}
	return COG_OK;
}

const char *tpl_installed_dir(void)
{
	const char *env = getenv("COG_TEMPLATE_DIR");
	return env ? env : COG_TEMPLATE_DIR;
}

int tpl_load_all(tpl_set *set, cog_ctx *ctx)
{
	int rc = tpl_set_init(set, ctx);
	if (rc)
		return rc;
	size_t n = 0;
	const char *const *dirs = cog__ctx_template_dirs(ctx, &n);
	for (size_t i = 0; !rc && i < n; i++)
		rc = tpl_load_dir(set, dirs[i], true);
	if (!rc)
		rc = load_path_list(set, getenv("COG_TEMPLATE_PATH"));
	if (!rc && *tpl_installed_dir())
		rc = tpl_load_dir(set, tpl_installed_dir(), false);
	if (rc)
		tpl_set_dispose(set);
	return rc;
}
