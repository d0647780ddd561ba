/*
 * The template planner's files: the set of templates (with its PCRE2
 * contexts), reading one file, and the directories they come from (search
 * order, shadowing). Checking and compiling a template once read:
 * template_check.c. What a template is and how it is used: template.c.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "template_int.h"

#ifndef COG_TEMPLATE_DIR
#define COG_TEMPLATE_DIR "/usr/local/share/cognition/templates"
#endif

#define TEMPLATE_FILE_MAX (1024 * 1024)

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
		rc = tpl_parse(&t, set);
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
