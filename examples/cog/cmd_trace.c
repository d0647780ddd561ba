/*
 * cog trace PLAN_ID [--json]
 *
 * The spans a durable run of the plan stored (cog_trace_read) as a
 * timeline: one line per span in start order, indented under its parent,
 * with its offset from the start of the run, its duration, its name and
 * the attributes worth a glance (task, agent, model, tokens, tool), and
 * the error of a span that failed. --json: {"ok":true,"plan_id":..,
 * "spans":[span + "depth" + "offset_ms"]}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"

#define MAX_DEPTH 32

typedef struct span_row {
	cJSON *span;          /* borrowed from the array */
	const char *id, *parent;
	double start_ms, duration_ms;
	int depth;
	bool placed;
} span_row;

static const char *str(const cJSON *o, const char *name)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, name));
}

static double num(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static int by_start(const void *a, const void *b)
{
	const span_row *x = a, *y = b;
	return x->start_ms < y->start_ms ? -1 : x->start_ms > y->start_ms;
}

static span_row *find_row(span_row *rows, size_t n, const char *id)
{
	for (size_t i = 0; id && i < n; i++)
		if (rows[i].id && strcmp(rows[i].id, id) == 0)
			return &rows[i];
	return NULL;
}

/* The nesting depth of each row (a missing parent makes a root). */
static void set_depths(span_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int depth = 0;
		const span_row *p = find_row(rows, n, rows[i].parent);
		while (p && depth < MAX_DEPTH) {
			depth++;
			p = find_row(rows, n, p->parent);
		}
		rows[i].depth = depth;
	}
}

/* The attributes worth showing, as " key=value" pairs, into out. */
static void key_attributes(const cJSON *span, char *out, size_t size)
{
	static const struct { const char *name, *label; } shown[] = {
		{ "cog.task.id", "task" }, { "cog.task.kind", "kind" },
		{ "cog.task.attempt", "attempt" }, { "cog.task.state", "state" },
		{ "gen_ai.agent.name", "agent" }, { "cog.agent.turn", "turn" },
		{ "gen_ai.request.model", "model" }, { "gen_ai.usage.input_tokens", "in" },
		{ "gen_ai.usage.output_tokens", "out" }, { "cog.llm.cost", "cost" },
		{ "gen_ai.tool.name", "tool" }, { "cog.tool.outcome", "outcome" },
		{ "cog.plan.tasks", "tasks" }, { "cog.plan.status", "status" },
	};
	const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(span, "attributes");
	size_t used = 0;
	out[0] = '\0';
	for (size_t i = 0; i < sizeof(shown) / sizeof(*shown) && used < size; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(attrs, shown[i].name);
		if (cJSON_IsString(v))
			used += (size_t)snprintf(out + used, size - used, " %s=%s", shown[i].label,
				v->valuestring);
		else if (cJSON_IsNumber(v))
			used += (size_t)snprintf(out + used, size - used, " %s=%.6g", shown[i].label,
				v->valuedouble);
	}
}

static void print_row(const span_row *row, double t0)
{
	char attrs[1024], name[160];
	key_attributes(row->span, attrs, sizeof(attrs));
	snprintf(name, sizeof(name), "%s", str(row->span, "name") ? str(row->span, "name") : "?");
	printf("%+10.3fs %9.3fs  %*s", (row->start_ms - t0) / 1000.0, row->duration_ms / 1000.0,
		row->depth * 2, "");
	cli_mem_print_text(name, 60, true);
	cli_mem_print_text(attrs, 160, true);
	const cJSON *status = cJSON_GetObjectItemCaseSensitive(row->span, "status");
	const char *code = str(status, "code");
	if (code && strcmp(code, "error") == 0) {
		fputs("  ERROR", stdout);
		if (str(status, "message")) {
			fputs(": ", stdout);
			cli_mem_print_text(str(status, "message"), 160, true);
		}
	}
	putchar('\n');
}

static int print_trace(const cli *c, const char *plan_id, cJSON *spans)
{
	size_t n = (size_t)cJSON_GetArraySize(spans);
	span_row *rows = calloc(n ? n : 1, sizeof(*rows));
	if (!rows)
		return cli_fail(c, CLI_FAILED, "out of memory");
	size_t k = 0;
	cJSON *s;
	double t0 = 0, t1 = 0;
	cJSON_ArrayForEach(s, spans) {
		span_row *row = &rows[k++];
		row->span = s;
		row->id = str(s, "span_id");
		row->parent = str(s, "parent_span_id");
		row->start_ms = num(s, "start_time_unix_nano") / 1e6;
		row->duration_ms = num(s, "duration_ms");
		if (row->duration_ms < 0)
			row->duration_ms = (num(s, "end_time_unix_nano") - num(s, "start_time_unix_nano")) / 1e6;
		if (k == 1 || row->start_ms < t0)
			t0 = row->start_ms;
		if (k == 1 || row->start_ms + row->duration_ms > t1)
			t1 = row->start_ms + row->duration_ms;
	}
	set_depths(rows, n);
	qsort(rows, n, sizeof(*rows), by_start);
	if (c->json) {
		for (size_t i = 0; i < n; i++) {
			cJSON_AddNumberToObject(rows[i].span, "depth", rows[i].depth);
			cJSON_AddNumberToObject(rows[i].span, "offset_ms", rows[i].start_ms - t0);
		}
		printf("{\"ok\":true,\"plan_id\":");
		cli_json_string(plan_id);
		char *text = cJSON_PrintUnformatted(spans);
		printf(",\"spans\":%s}\n", text ? text : "[]");
		cJSON_free(text);
	} else {
		printf("trace of plan %s: %zu spans over %.3f s\n", plan_id, n, (t1 - t0) / 1000.0);
		printf("%11s %10s  %s\n", "OFFSET", "DURATION", "SPAN");
		for (size_t i = 0; i < n; i++)
			print_row(&rows[i], t0);
	}
	free(rows);
	return CLI_OK;
}

int cmd_trace(cli *c, int argc, char **argv)
{
	static const char usage[] = "usage: cog trace PLAN_ID [--json]";
	const char *id = NULL;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			c->json = true;
		else if (argv[i][0] == '-' || id)
			return cli_fail(c, CLI_USAGE, "trace: unexpected '%s'; %s", argv[i], usage);
		else
			id = argv[i];
	}
	if (!id)
		return cli_fail(c, CLI_USAGE, "trace needs a PLAN_ID; %s", usage);
	cog_ctx *ctx = NULL;
	int code = cli_open(c, CLI_DB_READ_ONLY, NULL, &ctx);
	if (code)
		return code;
	char *json = NULL;
	int rc = cog_trace_read(ctx, id, &json);
	cJSON *spans = rc ? NULL : cJSON_Parse(json);
	if (rc == COG_ENOTFOUND)
		code = cli_fail(c, CLI_FAILED, "no trace of plan %s in %s (runs of cog run and cog "
			"resume store one; see cog status)", id, c->db_path);
	else if (rc)
		code = cli_fail(c, CLI_FAILED, "%s", cog_error_last());
	else if (!cJSON_IsArray(spans))
		code = cli_fail(c, CLI_FAILED, "the trace of plan %s is not a JSON array", id);
	else
		code = print_trace(c, id, spans);
	cJSON_Delete(spans);
	cog_free(json);
	cog_ctx_free(ctx);
	return code;
}
