/*
 * cog memory search QUERY... [--k N] [--layer L]... [--meta JSON] [--inherit]
 *                  [--ns NS] [--embedder E] [--json]
 *
 * Hybrid search of one namespace (and its ancestors with --inherit): the
 * library's JSON with --json, else a table of rank, id, score, the signals
 * that found each memory (kw#R: rank R in the keyword list, vec#R: in the
 * vector list), layer and text, cut to the terminal's width (to $COLUMNS
 * when stdout is not a terminal; not cut when neither is known). The query
 * is plain text: quotes, stars, parentheses, AND/OR/NEAR and colons mean
 * nothing special.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"

typedef struct search_args {
	const char *k;
	const char *meta;
	unsigned int layers;   /* 0: every layer */
	bool inherit;
} search_args;

static int search_flag(cli *c, void *state, int argc, char **argv, int *i, int *code)
{
	search_args *a = state;
	const char *layer = NULL;
	if (strcmp(argv[*i], "--inherit") == 0) {
		a->inherit = true;
		return 1;
	}
	if (cli_mem_flag(c, "--k", argc, argv, i, &a->k, code) ||
	    cli_mem_flag(c, "--meta", argc, argv, i, &a->meta, code))
		return 1;
	if (!cli_mem_flag(c, "--layer", argc, argv, i, &layer, code))
		return 0;
	/* --layer L, repeated or comma-separated */
	for (const char *p = layer; p && *p && !*code;) {
		size_t n = strcspn(p, ",");
		char name[32];
		snprintf(name, sizeof(name), "%.*s", (int)(n < sizeof(name) ? n : sizeof(name) - 1), p);
		a->layers |= cli_mem_layer(c, "--layer", name, code);
		p += n + (p[n] == ',');
	}
	return 1;
}

static int parse_args(cli *c, int argc, char **argv, cli_mem_opts *o, search_args *a,
                      char **query)
{
	static const char usage[] = "usage: cog memory search QUERY... [--k N] [--layer L]... "
		"[--meta JSON] [--inherit] [--ns NS] [--json]";
	char **words = calloc((size_t)argc + 1, sizeof(*words));
	if (!words)
		return cli_fail(c, CLI_FAILED, "out of memory");
	int nwords = 0, code = cli_mem_parse(c, o, argc, argv, search_flag, a, words, &nwords,
		usage);
	char *end = NULL;
	long k = a->k ? strtol(a->k, &end, 10) : 10;
	if (!code && a->k && (*end || end == a->k || k < 1 || k > 1000))
		code = cli_fail(c, CLI_USAGE, "--k needs a whole number from 1 to 1000, not '%s'",
			a->k);
	if (!code && a->meta)
		code = cli_mem_json_object(c, "--meta", a->meta);
	if (!code && nwords == 0)
		code = cli_fail(c, CLI_USAGE, "memory search needs a QUERY; %s", usage);
	if (!code)
		code = cli_join_words(c, nwords, words, query);
	free(words);
	return code;
}

/* The query JSON (cJSON_free) or NULL when out of memory. */
static char *build_query(const search_args *a, const char *text)
{
	static const char *const names[] = { "working", "short_term", "long_term", "episodic" };
	cJSON *q = cJSON_CreateObject();
	cJSON_AddStringToObject(q, "text", text);
	cJSON_AddNumberToObject(q, "k", a->k ? (double)strtol(a->k, NULL, 10) : 10);
	if (a->layers) {
		cJSON *layers = cJSON_AddArrayToObject(q, "layers");
		for (unsigned int b = 0; b < 4; b++)
			if (a->layers & (1u << b))
				cJSON_AddItemToArray(layers, cJSON_CreateString(names[b]));
	}
	if (a->meta)
		cJSON_AddItemToObject(q, "metadata", cJSON_Parse(a->meta));
	if (a->inherit)
		cJSON_AddTrueToObject(q, "inherit");
	char *json = cJSON_PrintUnformatted(q);
	cJSON_Delete(q);
	return json;
}

/* Columns for the table: the terminal's, else $COLUMNS, else 0 (no cut). */
static int terminal_columns(void)
{
	struct winsize ws;
	if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	const char *env = getenv("COLUMNS");
	long n = env ? strtol(env, NULL, 10) : 0;
	return n > 0 && n < 100000 ? (int)n : 0;
}

static double num(const cJSON *o, const char *name)
{
	return cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, name));
}

/* "kw#1 vec#3", "kw#2", "vec#5" or "-". */
static int signals_text(const cJSON *result, char *out, size_t size)
{
	const cJSON *sig = cJSON_GetObjectItemCaseSensitive(result, "signals");
	const cJSON *kw = cJSON_GetObjectItemCaseSensitive(sig, "keyword");
	const cJSON *vec = cJSON_GetObjectItemCaseSensitive(sig, "vector");
	int n = 0;
	out[0] = '\0';
	if (kw)
		n += snprintf(out, size, "kw#%.0f", num(kw, "rank"));
	if (vec && n >= 0 && (size_t)n < size)
		n += snprintf(out + n, size - (size_t)n, "%svec#%.0f", n ? " " : "", num(vec, "rank"));
	if (!n)
		n = snprintf(out, size, "-");
	return n;
}

static const char *str(const cJSON *o, const char *name)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, name));
	return s ? s : "";
}

static void print_table(const char *json, const char *ns, bool inherit)
{
	cJSON *r = cJSON_Parse(json);
	const cJSON *results = cJSON_GetObjectItemCaseSensitive(r, "results"), *e;
	if (cJSON_GetArraySize(results) == 0) {
		printf("no memories match in namespace %s\n", ns);
		cJSON_Delete(r);
		return;
	}
	char sig[48];
	int idw = 2, sigw = 7, nsw = 9, rankw = 1 + (cJSON_GetArraySize(results) >= 10) +
		(cJSON_GetArraySize(results) >= 100) + (cJSON_GetArraySize(results) >= 1000);
	cJSON_ArrayForEach(e, results) {
		int w = snprintf(NULL, 0, "%.0f", num(e, "id"));
		idw = w > idw ? w : idw;
		w = signals_text(e, sig, sizeof(sig));
		sigw = w > sigw ? w : sigw;
		w = (int)strlen(str(e, "namespace"));
		nsw = inherit && w > nsw ? (w > 40 ? 40 : w) : nsw;
	}
	int used = rankw + 2 + idw + 2 + 6 + 2 + sigw + 2 + 10 + 2 + (inherit ? nsw + 2 : 0);
	int cols = terminal_columns(), text_cols = cols ? cols - used : 0;
	if (cols && text_cols < 20)
		text_cols = 20;
	printf("%*s  %-*s  %-6s  %-*s  %-10s  ", rankw, "#", idw, "ID", "SCORE", sigw, "SIGNALS",
		"LAYER");
	if (inherit)
		printf("%-*s  ", nsw, "NAMESPACE");
	puts("TEXT");
	int rank = 0;
	cJSON_ArrayForEach(e, results) {
		signals_text(e, sig, sizeof(sig));
		printf("%*d  %*.0f  %6.4f  %-*s  %-10s  ", rankw, ++rank, idw, num(e, "id"),
			num(e, "score"), sigw, sig, str(e, "layer"));
		if (inherit) {
			const char *s = str(e, "namespace");
			cli_mem_print_text(s, nsw, true);
			printf("%*s  ", nsw - (int)(strlen(s) < (size_t)nsw ? strlen(s) : (size_t)nsw), "");
		}
		cli_mem_print_text(str(e, "text"), text_cols, true);
		putchar('\n');
	}
	cJSON_Delete(r);
}

int cmd_memory_search(cli *c, int argc, char **argv)
{
	cli_mem_opts o = { NULL, NULL };
	search_args a = { NULL, NULL, 0, false };
	char *query = NULL, *request = NULL, *result = NULL;
	int code = parse_args(c, argc, argv, &o, &a, &query);
	cog_ctx *ctx = NULL;
	cog_memory *mem = NULL;
	if (!code && !(request = build_query(&a, query)))
		code = cli_fail(c, CLI_FAILED, "out of memory");
	if (!code)
		code = cli_mem_open(c, &o, false, &ctx, &mem);
	if (!code) {
		cli_cancel_on_sigint(ctx);
		int rc = cog_memory_search(mem, request, &result);
		cli_cancel_restore();
		if (rc)
			code = cli_mem_failure(c, rc);
		else if (c->json)
			cli_mem_print_json(result);
		else
			print_table(result, cog_memory_namespace(mem), a.inherit);
	}
	cog_free(result);
	cJSON_free(request);
	free(query);
	cog_memory_free(mem);
	cog_ctx_free(ctx);
	return code;
}
