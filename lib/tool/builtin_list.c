/*
 * The list_dir tool: a directory of the workspace, sorted, optionally
 * recursive, cut to the tool's output budget and an entry count.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builtin_int.h"

/* Entries read from one directory before giving up on sorting it all. */
#define LIST_DIR_MAX_READ 65536u

typedef struct listing {
	cJSON *entries;
	size_t count, max_entries;
	size_t bytes, budget;        /* JSON bytes so far, and the cap */
	unsigned int max_depth;
	bool recursive;
	bool truncated;              /* something was left out */
	bool full;                   /* no more entries fit */
} listing;

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t count)
{
	for (size_t i = 0; i < count; i++)
		cog_free(names[i]);
	cog_free(names);
}

/* The names in directory fd (consumed), sorted; "." and ".." left out. */
static int read_names(int fd, const char *path, char ***out, size_t *count,
                      bool *cut)
{
	DIR *d = fdopendir(fd);
	char **names = NULL;
	size_t n = 0, cap = 0;

	*out = NULL;
	*count = 0;
	if (d == NULL) {
		close(fd);
		return cog__error(COG_EIO, "list_dir: cannot read \"%s\": %s", path,
			strerror(errno));
	}
	for (;;) {
		errno = 0;
		struct dirent *e = readdir(d);
		if (e == NULL)
			break;
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (n == LIST_DIR_MAX_READ) {
			*cut = true;
			break;
		}
		if (n == cap) {
			size_t grown_cap = cap ? cap * 2 : 64;
			char **grown = cog_realloc(names, grown_cap * sizeof(*names));
			if (grown == NULL)
				goto oom;
			names = grown;
			cap = grown_cap;
		}
		if ((names[n] = cog__strdup(e->d_name)) == NULL)
			goto oom;
		n++;
	}
	int err = errno;
	closedir(d);
	if (err != 0) {
		free_names(names, n);
		return cog__error(COG_EIO, "list_dir: cannot read \"%s\": %s", path,
			strerror(err));
	}
	if (n > 1)
		qsort(names, n, sizeof(*names), compare_names);
	*out = names;
	*count = n;
	return 0;
oom:
	closedir(d);
	free_names(names, n);
	return cog__oom("list_dir");
}

static const char *type_name(mode_t mode)
{
	return S_ISREG(mode) ? "file" : S_ISDIR(mode) ? "dir" :
	       S_ISLNK(mode) ? "symlink" : "other";
}

/* One entry, unless the listing is full (then l->full is set). */
static int add_entry(listing *l, const char *name, const struct stat *st)
{
	size_t len = strlen(name);
	bool text = builtin_is_text(name, len);
	/* Names that are not UTF-8 are shown with '?' for the odd bytes, and
	 * given exactly in base64 too. */
	size_t cost = 64 + builtin_json_size(name, len) + (text ? 0 : len * 2 + 32);

	if (l->count >= l->max_entries || l->bytes + cost > l->budget) {
		l->truncated = true;
		l->full = true;
		return 0;
	}
	cJSON *entry = cJSON_CreateObject();
	if (entry == NULL)
		return cog__oom("list_dir");
	cJSON_AddItemToArray(l->entries, entry);
	bool ok;
	if (text) {
		ok = cJSON_AddStringToObject(entry, "name", name) != NULL;
	} else {
		char *shown = cog__strdup(name);
		char *raw = builtin_base64(name, len);
		for (size_t i = 0; shown != NULL && i < len; i++)
			if ((unsigned char)shown[i] >= 0x80)
				shown[i] = '?';
		ok = shown != NULL && raw != NULL &&
		     cJSON_AddStringToObject(entry, "name", shown) != NULL &&
		     cJSON_AddStringToObject(entry, "name_base64", raw) != NULL;
		cog_free(shown);
		cog_free(raw);
	}
	ok = ok && cJSON_AddStringToObject(entry, "type", type_name(st->st_mode)) != NULL;
	if (ok && (S_ISREG(st->st_mode) || S_ISLNK(st->st_mode)))
		ok = cJSON_AddNumberToObject(entry, "size", (double)st->st_size) != NULL;
	if (!ok)
		return cog__oom("list_dir");
	l->count++;
	l->bytes += cost;
	return 0;
}

/* List directory fd (consumed) whose entries are named prefix + name. */
static int list_into(listing *l, int fd, const char *path, const char *prefix,
                     unsigned int depth)
{
	char **names = NULL;
	size_t count = 0;
	int dup_fd = dup(fd);
	if (dup_fd < 0) {
		close(fd);
		return cog__error(COG_EIO, "list_dir: dup: %s", strerror(errno));
	}
	/* fdopendir takes dup_fd; fd stays ours for fstatat and openat. */
	int rc = read_names(dup_fd, path, &names, &count, &l->truncated);

	for (size_t i = 0; rc == 0 && i < count; i++) {
		struct stat st;
		if (fstatat(fd, names[i], &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue;  /* gone since readdir */
		char full[PATH_MAX];
		int n = snprintf(full, sizeof(full), "%s%s", prefix, names[i]);
		if (n < 0 || (size_t)n >= sizeof(full))
			continue;
		rc = add_entry(l, full, &st);
		if (rc != 0 || l->full)
			break;
		if (!l->recursive || !S_ISDIR(st.st_mode) || depth >= l->max_depth)
			continue;
		/* O_NOFOLLOW and a single component: a directory swapped for a
		 * symlink since fstatat is refused, not entered. */
		int sub = openat(fd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		                 O_CLOEXEC);
		if (sub < 0)
			continue;
		char sub_prefix[PATH_MAX];
		n = snprintf(sub_prefix, sizeof(sub_prefix), "%s/", full);
		if (n < 0 || (size_t)n >= sizeof(sub_prefix)) {
			close(sub);
			continue;
		}
		rc = list_into(l, sub, path, sub_prefix, depth + 1);
		if (l->full)
			break;
	}
	free_names(names, count);
	close(fd);
	return rc;
}

static int list_dir_run(const cog_tool_request *request, const cJSON *args,
                        const builtin_tool *tool, int ws, cJSON *result)
{
	const char *tool_name = request->tool;
	const char *path;
	uint64_t max_depth = 8, max_entries = 1000;
	listing l;
	int rc = builtin_get_path(args, tool_name, ".", &path);

	memset(&l, 0, sizeof(l));
	if (rc == 0)
		rc = builtin_get_flag(args, tool_name, "recursive", &l.recursive);
	if (rc == 0)
		rc = builtin_get_count(args, tool_name, "max_depth", 16, &max_depth);
	if (rc == 0)
		rc = builtin_get_count(args, tool_name, "max_entries", 10000, &max_entries);
	if (rc != 0)
		return rc;
	l.max_depth = max_depth == 0 ? 1 : (unsigned int)max_depth;
	l.max_entries = max_entries == 0 ? 1 : (size_t)max_entries;
	l.budget = builtin_budget(tool, 512 + builtin_json_size(path, strlen(path)));

	int fd = tool_workspace_open(ws, path, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return cog__error_wrap(fd, "list_dir");
	if (cJSON_AddStringToObject(result, "path", path) == NULL ||
	    (l.entries = cJSON_AddArrayToObject(result, "entries")) == NULL) {
		close(fd);
		return cog__oom("list_dir");
	}
	rc = list_into(&l, fd, path, "", 1);
	if (rc != 0)
		return rc;
	if (cJSON_AddBoolToObject(result, "truncated", l.truncated) == NULL)
		return cog__oom("list_dir");
	return 0;
}

int builtin_list_dir(const cog_tool_request *request, char **result_json,
                     void *user_data)
{
	return builtin_run_in_workspace(request, result_json, user_data, "list_dir",
	                        list_dir_run);
}
