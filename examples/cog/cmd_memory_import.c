/*
 * cog memory import FILE.jsonl|- [--ns NS] [--embedder E] [--json]
 *
 * One memory per line, in cog_memory_put_json()'s shape
 * ({"text":"...","metadata":{...},"layer":"long_term","importance":0.5,...});
 * blank lines are skipped. Lines go in one storage transaction per 1000, so a
 * large file is not one fsync per line. A line the library refuses is
 * counted and reported (line number and the library's message) and the
 * others are still stored; cog exits 1 when any line failed. A storage
 * failure stops the import: what was committed stays, the batch that
 * failed to commit is reported as failed. Ctrl-C stops after the current
 * line and keeps what was read.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"

#define IMPORT_BATCH 1000
#define IMPORT_ERRORS_KEPT 1000   /* in the report; the count is always exact */
#define IMPORT_ERRORS_SHOWN 20    /* on stderr in text mode */

typedef struct import_state {
	const cli *c;
	cog_memory *mem;
	const char *path;
	size_t lines;             /* non-blank lines read */
	size_t added, merged, failed;
	size_t batch_added, batch_merged;
	size_t batch_first;       /* line number of the batch's first line */
	cJSON *errors;            /* [{"line":n,"error":"..."}] */
	bool stopped;             /* a storage failure or Ctrl-C ended it early */
} import_state;

static void add_error(import_state *s, size_t line, size_t last_line, const char *message)
{
	size_t kept = (size_t)cJSON_GetArraySize(s->errors);
	if (kept >= IMPORT_ERRORS_KEPT)
		return;
	cJSON *e = cJSON_CreateObject();
	cJSON_AddNumberToObject(e, "line", (double)line);
	if (last_line != line)
		cJSON_AddNumberToObject(e, "last_line", (double)last_line);
	cJSON_AddStringToObject(e, "error", message);
	cJSON_AddItemToArray(s->errors, e);
}

/* The working layer is RAM of one process: stored by nobody, so refused
 * here rather than silently lost at exit. Only lines that mention it are
 * parsed. */
static bool asks_for_working(const char *line)
{
	if (!strstr(line, "\"working\""))
		return false;
	cJSON *item = cJSON_Parse(line);
	const char *layer = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(item, "layer"));
	bool working = layer && strcmp(layer, "working") == 0;
	cJSON_Delete(item);
	return working;
}

/* Returns false when the import must stop (a storage-level failure). */
static bool import_line(import_state *s, const char *line, size_t len)
{
	if (strlen(line) != len) {
		s->failed++;
		add_error(s, s->lines, s->lines, "the line contains a NUL byte");
		return true;
	}
	if (asks_for_working(line)) {
		s->failed++;
		add_error(s, s->lines, s->lines, "layer \"working\" lives in one process's RAM: "
			"import into short_term, long_term or episodic");
		return true;
	}
	uint64_t id = 0;
	int rc = cog_memory_put_json(s->mem, line, &id);
	if (rc == COG_MEMORY_MERGED) {
		s->batch_merged++;
	} else if (rc == 0) {
		s->batch_added++;
	} else {
		s->failed++;
		add_error(s, s->lines, s->lines, cog_error_last());
		/* Bad input is the line's problem; anything else (storage, memory,
		 * the embedder, Ctrl-C) would fail every line after it. */
		return rc == COG_EINVAL || rc == COG_ERANGE;
	}
	return true;
}

/* End the batch: commit (or, when that fails, roll back and count its
 * lines as failed). */
static bool end_batch(import_state *s, cog_storage *storage)
{
	bool ok = cog_storage_commit(storage) == 0;
	if (!ok) {
		char message[1024];
		snprintf(message, sizeof(message), "the batch did not commit, none of its lines is "
			"stored: %s", cog_error_last());
		cog_storage_rollback(storage);
		s->failed += s->batch_added + s->batch_merged;
		add_error(s, s->batch_first, s->lines, message);
	} else {
		s->added += s->batch_added;
		s->merged += s->batch_merged;
	}
	s->batch_added = s->batch_merged = 0;
	return ok;
}

static int read_lines(import_state *s, FILE *f, cog_ctx *ctx)
{
	cog_storage *storage = cog_ctx_storage(ctx);
	char *line = NULL;
	size_t cap = 0, in_batch = 0, line_no = 0;
	ssize_t got;
	int code = CLI_OK;
	while (!s->stopped && (got = getline(&line, &cap, f)) >= 0) {
		size_t len = (size_t)got;
		line_no++;
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		char *text = line;
		if (line_no == 1 && len >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0) {
			text += 3;   /* a byte order mark some editors write */
			len -= 3;
		}
		if (!text[strspn(text, " \t")] && strlen(text) == len)
			continue;
		s->lines = line_no;
		if (!in_batch) {
			if (cog_storage_begin(storage) != 0) {
				s->failed++;
				add_error(s, line_no, line_no, cog_error_last());
				s->stopped = true;
				break;
			}
			s->batch_first = line_no;
		}
		if (!import_line(s, text, len))
			s->stopped = true;
		if (++in_batch == IMPORT_BATCH || s->stopped) {
			if (!end_batch(s, storage))
				s->stopped = true;
			in_batch = 0;
		}
		if (cog_ctx_is_canceled(ctx)) {
			s->stopped = true;
			code = CLI_CANCELED;
		}
	}
	if (in_batch && !end_batch(s, storage))
		s->stopped = true;
	if (ferror(f)) {
		char message[256];
		snprintf(message, sizeof(message), "cannot read on: %s", strerror(errno));
		s->failed++;
		add_error(s, line_no + 1, line_no + 1, message);
		s->stopped = true;
	}
	free(line);
	return code;
}

static void report(const import_state *s, const char *ns)
{
	const cJSON *e;
	if (s->c->json) {
		char *errors = cJSON_PrintUnformatted(s->errors);
		printf("{\"ok\":%s,\"file\":", s->failed ? "false" : "true");
		cli_json_string(s->path);
		fputs(",\"namespace\":", stdout);
		cli_json_string(ns);
		printf(",\"lines\":%zu,\"added\":%zu,\"merged\":%zu,\"failed\":%zu,\"stopped\":%s,"
			"\"errors\":%s}\n", s->lines, s->added, s->merged, s->failed,
			s->stopped ? "true" : "false", errors ? errors : "[]");
		cJSON_free(errors);
		return;
	}
	int shown = 0;
	cJSON_ArrayForEach(e, s->errors) {
		if (shown++ == IMPORT_ERRORS_SHOWN) {
			fprintf(stderr, "%s: ... and %zu more failed lines (--json lists up to %d)\n",
				s->c->program, s->failed - IMPORT_ERRORS_SHOWN, IMPORT_ERRORS_KEPT);
			break;
		}
		const cJSON *last = cJSON_GetObjectItemCaseSensitive(e, "last_line");
		fprintf(stderr, "%s: %s:%.0f%s", s->c->program, s->path,
			cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(e, "line")),
			last ? "-" : "");
		if (last)
			fprintf(stderr, "%.0f", last->valuedouble);
		fprintf(stderr, ": %s\n",
			cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "error")));
	}
	printf("%s: %zu added, %zu merged into near-duplicates, %zu failed (namespace %s)%s\n",
		s->path, s->added, s->merged, s->failed, ns,
		s->stopped ? "; stopped early" : "");
}

int cmd_memory_import(cli *c, int argc, char **argv)
{
	static const char usage[] = "usage: cog memory import FILE.jsonl|- [--ns NS] [--json]";
	cli_mem_opts o = { NULL, NULL };
	char **words = calloc((size_t)argc + 1, sizeof(*words));
	int nwords = 0, code = words ? cli_mem_parse(c, &o, argc, argv, NULL, NULL, words, &nwords,
		usage) : cli_fail(c, CLI_FAILED, "out of memory");
	const char *path = nwords == 1 ? words[0] : NULL;
	free(words);
	if (!code && nwords == 0)
		code = cli_fail(c, CLI_USAGE, "memory import needs a FILE (- for stdin); %s", usage);
	else if (!code && nwords > 1)
		code = cli_fail(c, CLI_USAGE, "memory import takes one FILE; %s", usage);
	if (code)
		return code;
	bool from_stdin = strcmp(path, "-") == 0;
	FILE *f = from_stdin ? stdin : fopen(path, "rb");
	if (!f)
		return cli_fail(c, CLI_FAILED, "cannot open %s: %s", path, strerror(errno));
	cog_ctx *ctx = NULL;
	import_state s;
	memset(&s, 0, sizeof(s));
	s.c = c;
	s.path = from_stdin ? "(stdin)" : path;
	s.errors = cJSON_CreateArray();
	if (!s.errors)
		code = cli_fail(c, CLI_FAILED, "out of memory");
	if (!code)
		code = cli_mem_open(c, &o, true, &ctx, &s.mem);
	if (!code) {
		cli_cancel_on_sigint(ctx);
		code = read_lines(&s, f, ctx);
		cli_cancel_restore();
		report(&s, cog_memory_namespace(s.mem));
		if (code == CLI_CANCELED)   /* the report was the JSON answer */
			fprintf(stderr, "%s: error: canceled after line %zu\n", c->program, s.lines);
		else if (s.failed)
			code = CLI_FAILED;
	}
	if (!from_stdin)
		fclose(f);
	cJSON_Delete(s.errors);
	cog_memory_free(s.mem);
	cog_ctx_free(ctx);
	return code;
}
