/*
 * cog memory get ID            one memory: its fields, then its text
 * cog memory forget ID | --filter JSON
 * cog memory stats             what the namespace holds, and the handle's
 *                              statistics (cog_memory_stats)
 * cog memory purge             delete the storage's expired memories
 * each with [--ns NS] [--embedder E] [--json]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "cli.h"

/* A memory id: a whole number 1 .. 2^53 - 1. */
static int parse_id(const cli *c, const char *s, uint64_t *id)
{
	char *end;
	unsigned long long v = s[0] >= '0' && s[0] <= '9' ? strtoull(s, &end, 10) : 0;
	if (!v || *end || v >= (1ULL << 53))
		return cli_fail(c, CLI_USAGE, "ID must be a memory id (a whole number that cog memory "
			"add or search printed), not '%s'", s);
	*id = v;
	return CLI_OK;
}

/* ---- cog memory get, forget, stats, purge ---- */

static int filter_flag(cli *c, void *state, int argc, char **argv, int *i, int *code)
{
	return cli_mem_flag(c, "--filter", argc, argv, i, (const char **)state, code);
}

static void print_time(const char *label, const cJSON *ms)
{
	printf("%-11s ", label);
	if (!cJSON_IsNumber(ms)) {
		puts("never");
		return;
	}
	time_t t = (time_t)(ms->valuedouble / 1000);
	struct tm tm;
	char when[64] = "?";
	if (gmtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%SZ", &tm);
	puts(when);
}

static void print_memory(const char *json)
{
	cJSON *m = cJSON_Parse(json);
	const char *s;
	printf("%-11s %.0f\n", "id", cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(m, "id")));
	static const char *const names[] = { "namespace", "layer", "embed_model" };
	for (size_t k = 0; k < sizeof(names) / sizeof(*names); k++)
		if ((s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, names[k])))) {
			printf("%-11s ", names[k]);
			cli_mem_print_text(s, 0, true);
			putchar('\n');
		}
	printf("%-11s %g\n", "importance",
		cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(m, "importance")));
	print_time("created", cJSON_GetObjectItemCaseSensitive(m, "created_at"));
	print_time("updated", cJSON_GetObjectItemCaseSensitive(m, "updated_at"));
	print_time("expires", cJSON_GetObjectItemCaseSensitive(m, "expires_at"));
	char *meta = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(m, "metadata"));
	printf("%-11s ", "metadata");
	cli_mem_print_text(meta ? meta : "{}", 0, true);
	cJSON_free(meta);
	printf("\n\n");
	cli_mem_print_text(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "text")), 0,
		false);
	putchar('\n');
	cJSON_Delete(m);
}

/* get ID, forget ID, forget --filter JSON. */
static int memory_by_id(cli *c, int argc, char **argv, bool forget)
{
	const char *usage = forget ? "usage: cog memory forget ID | --filter JSON [--ns NS] [--json]"
		: "usage: cog memory get ID [--ns NS] [--json]";
	cli_mem_opts o = { NULL, NULL };
	const char *filter = NULL;
	char **words = calloc((size_t)argc + 1, sizeof(*words));
	int nwords = 0, code = words ? cli_mem_parse(c, &o, argc, argv, forget ? filter_flag : NULL,
		&filter, words, &nwords, usage) : cli_fail(c, CLI_FAILED, "out of memory");
	uint64_t id = 0;
	if (!code && (nwords + (filter != NULL) != 1))
		code = cli_fail(c, CLI_USAGE, "%s", usage);
	if (!code && nwords)
		code = parse_id(c, words[0], &id);
	if (!code && filter)
		code = cli_mem_json_object(c, "--filter", filter);
	free(words);
	cog_ctx *ctx = NULL;
	cog_memory *mem = NULL;
	if (!code)
		code = cli_mem_open(c, &o, false, &ctx, &mem);
	if (code)
		return code;
	char *json = NULL;
	size_t count = 1;
	int rc = filter ? cog_memory_forget_where(mem, filter, &count)
		: forget ? cog_memory_forget(mem, id) : cog_memory_get(mem, id, &json);
	if (rc == COG_ENOTFOUND)
		code = cli_fail(c, CLI_FAILED, "no memory %" PRIu64 " in namespace %s%s", id,
			cog_memory_namespace(mem), forget ? "" : " (or it has expired)");
	else if (rc)
		code = cli_mem_failure(c, rc);
	else if (json && c->json)
		cli_mem_print_json(json);
	else if (json)
		print_memory(json);
	else if (c->json)
		printf("{\"ok\":true,\"forgotten\":%zu}\n", count);
	else if (filter)
		printf("forgot %zu memor%s\n", count, count == 1 ? "y" : "ies");
	else
		printf("forgot %" PRIu64 "\n", id);
	cog_free(json);
	cog_memory_free(mem);
	cog_ctx_free(ctx);
	return code;
}

int cmd_memory_get(cli *c, int argc, char **argv)
{
	return memory_by_id(c, argc, argv, false);
}

int cmd_memory_forget(cli *c, int argc, char **argv)
{
	return memory_by_id(c, argc, argv, true);
}

#define STATS_MODELS 8

/* What the namespace holds: memories per layer and per embedder (the
 * handle's own "embedder" is only known once a put or search needs it). */
typedef struct layer_counts {
	size_t n[4];   /* working, short_term, long_term, episodic */
	char model[STATS_MODELS][128];
	size_t model_n[STATS_MODELS];
	size_t models, other_models;
} layer_counts;

static int count_record(const cog_storage_memory_record *rec, double score, void *user_data)
{
	(void)score;
	layer_counts *lc = user_data;
	for (unsigned int k = 0; k < 4; k++)
		if (rec->layer == 1u << k)
			lc->n[k]++;
	const char *model = rec->embed_model && *rec->embed_model ? rec->embed_model : "(none)";
	size_t m = 0;
	while (m < lc->models && strcmp(lc->model[m], model) != 0)
		m++;
	if (m == lc->models && m < STATS_MODELS)
		snprintf(lc->model[lc->models++], sizeof(lc->model[0]), "%s", model);
	if (m < lc->models)
		lc->model_n[m]++;
	else
		lc->other_models++;
	return 0;
}

static void print_models(const cli *c, const layer_counts *lc)
{
	for (size_t m = 0; m < lc->models; m++) {
		if (c->json) {
			fputs(m ? "," : "", stdout);
			cli_json_string(lc->model[m]);
			printf(":%zu", lc->model_n[m]);
		} else {
			fputs(m ? ", " : "", stdout);
			cli_mem_print_text(lc->model[m], 0, true);
			printf(" (%zu)", lc->model_n[m]);
		}
	}
	if (lc->other_models)
		printf(c->json ? "%s\"(others)\":%zu" : "%sothers (%zu)", lc->models ? ", " : "",
			lc->other_models);
}

static int memory_stats(cli *c, int argc, char **argv, bool purge)
{
	const char *usage = purge ? "usage: cog memory purge [--json]"
		: "usage: cog memory stats [--ns NS] [--json]";
	cli_mem_opts o = { NULL, NULL };
	char **words = calloc((size_t)argc + 1, sizeof(*words));
	int nwords = 0, code = words ? cli_mem_parse(c, &o, argc, argv, NULL, NULL, words, &nwords,
		usage) : cli_fail(c, CLI_FAILED, "out of memory");
	free(words);
	if (!code && nwords)
		code = cli_fail(c, CLI_USAGE, "%s", usage);
	cog_ctx *ctx = NULL;
	cog_memory *mem = NULL;
	if (!code)
		code = cli_mem_open(c, &o, false, &ctx, &mem);
	if (code)
		return code;
	size_t purged = 0;
	char *json = NULL;
	layer_counts lc;
	memset(&lc, 0, sizeof(lc));
	const char *ns = cog_memory_namespace(mem);
	const char *const only[1] = { ns };
	cog_storage_memory_query q;
	memset(&q, 0, sizeof(q));
	q.ns = only;
	q.ns_count = 1;
	int rc = purge ? cog_memory_purge(mem, &purged)
		: cog_storage_memory_find(cog_ctx_storage(ctx), &q, count_record, &lc);
	if (!rc && !purge)
		rc = cog_memory_stats(mem, &json);
	if (rc) {
		code = cli_mem_failure(c, rc);
	} else if (purge) {
		if (c->json)
			printf("{\"ok\":true,\"purged\":%zu}\n", purged);
		else
			printf("purged %zu expired memor%s\n", purged, purged == 1 ? "y" : "ies");
	} else if (c->json) {
		printf("{\"ok\":true,\"database\":");
		cli_json_string(c->db_path);
		printf(",\"memories\":{\"total\":%zu,\"short_term\":%zu,\"long_term\":%zu,"
			"\"episodic\":%zu},\"embed_models\":{", lc.n[1] + lc.n[2] + lc.n[3], lc.n[1],
			lc.n[2], lc.n[3]);
		print_models(c, &lc);
		printf("},\"stats\":%s}\n", json);
	} else {
		printf("%-11s ", "database");
		cli_mem_print_text(c->db_path, 0, true);
		printf("\n%-11s %s\n", "namespace", ns);
		printf("%-11s %zu (short_term %zu, long_term %zu, episodic %zu)\n", "memories",
			lc.n[1] + lc.n[2] + lc.n[3], lc.n[1], lc.n[2], lc.n[3]);
		printf("%-11s ", "embedders");
		print_models(c, &lc);
		puts(lc.models ? "" : "none yet");
	}
	cog_free(json);
	cog_memory_free(mem);
	cog_ctx_free(ctx);
	return code;
}

int cmd_memory_stats(cli *c, int argc, char **argv)
{
	return memory_stats(c, argc, argv, false);
}

int cmd_memory_purge(cli *c, int argc, char **argv)
{
	return memory_stats(c, argc, argv, true);
}

