/*
 * cog run GOAL...|PLAN.json [--workspace DIR] [--workers N] [--continue]
 *         [--allow-net HOST]... [--ns NS] [--templates DIR]...
 *         [--provider P] [--url URL] [--model M]
 *
 * Plan (a plan file; else the goal: the LLM planner when an LLM is
 * configured, the templates otherwise and as its fallback), save the plan,
 * run it with live progress (run_progress.c) and the executor `cog resume`
 * uses (run_setup.c), then tell what it produced. Tasks whose program
 * prints a JSON object with "report_file" and "findings" (the
 * data-analysis template's report task does) name the report shown in the
 * summary, and their findings are remembered as long-term memories of the
 * namespace (--ns, $COG_MEMORY_NS, "default"), whose episodic layer also
 * receives the run. Exit 0 when every task succeeded, 1 otherwise, 130 on
 * Ctrl-C (continue with cog resume PLAN_ID).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"

#define REPORT_LINES 12   /* lines of the report shown in the summary */

typedef struct run_args {
	char **words;
	int nwords;
	unsigned int workers;
	bool keep_going;
	const char *dirs[16];
	int ndirs;
	cli_llm llm;
} run_args;

static const char usage[] = "usage: cog run GOAL...|PLAN.json [--workspace DIR] [--workers N] "
	"[--continue] [--allow-net HOST]... [--ns NS] [--templates DIR]... [--provider P] "
	"[--url URL] [--model M]";

static int parse_args(cli *c, cli_runner *r, run_args *a, int argc, char **argv)
{
	bool options_done = false;
	int code = CLI_OK;
	for (int i = 0; i < argc && !code; i++) {
		const char *s = argv[i];
		if (options_done || s[0] != '-' || !s[1]) {
			a->words[a->nwords++] = argv[i];
		} else if (strcmp(s, "--") == 0) {
			options_done = true;
		} else if (strcmp(s, "--workers") == 0) {
			code = cli_parse_workers(c, i + 1 < argc ? argv[++i] : NULL, &a->workers);
		} else if (strncmp(s, "--workers=", 10) == 0) {
			code = cli_parse_workers(c, s + 10, &a->workers);
		} else if (strcmp(s, "--continue") == 0) {
			a->keep_going = true;
		} else if (strcmp(s, "--templates") == 0 && i + 1 < argc) {
			if (a->ndirs == (int)(sizeof(a->dirs) / sizeof(*a->dirs)))
				code = cli_fail(c, CLI_USAGE, "at most %d --templates", a->ndirs);
			else
				a->dirs[a->ndirs++] = argv[++i];
		} else if (cli_runner_flag(c, r, argc, argv, &i, &code) ||
		           cli_llm_flag(c, &a->llm, argc, argv, &i, &code)) {
			continue;
		} else {
			code = cli_fail(c, CLI_USAGE, "run: unknown option '%s'; %s", s, usage);
		}
	}
	if (!code && a->nwords == 0)
		code = cli_fail(c, CLI_USAGE, "run needs a GOAL or a PLAN.json; %s", usage);
	return code;
}

static bool names_plan_file(const run_args *a)
{
	if (a->nwords != 1)
		return false;
	size_t len = strlen(a->words[0]);
	return len > 5 && strcasecmp(a->words[0] + len - 5, ".json") == 0;
}

/* A cog from the build tree, with no template installed or configured,
 * plans with the source tree's templates. */
static int add_source_templates(const cli *c, cog_ctx *ctx)
{
#ifdef COG_SOURCE_TEMPLATE_DIR
	char *json = NULL;
	if (cog_ctx_list_templates(ctx, &json) != 0)
		return cli_fail(c, CLI_FAILED, "%s", cog_error_last());
	bool none = strcmp(json, "[]") == 0;
	cog_free(json);
	if (none && access(COG_SOURCE_TEMPLATE_DIR, R_OK) == 0 &&
	    cog_ctx_add_template_dir(ctx, COG_SOURCE_TEMPLATE_DIR) != 0)
		return cli_fail(c, CLI_FAILED, "%s", cog_error_last());
#else
	(void)c;
	(void)ctx;
#endif
	return CLI_OK;
}

/* The plan from the file or the goal, validated and saved. */
static int make_plan(cli *c, cog_ctx *ctx, const cli_runner *r, const run_args *a,
                     cog_plan **plan)
{
	int rc, code;
	if (names_plan_file(a)) {
		char why[512], *text = NULL;
		if (cli_read_file(a->words[0], &text, why, sizeof(why)) != 0)
			return cli_fail(c, CLI_FAILED, "%s", why);
		rc = cog_plan_from_json(plan, ctx, text);
		free(text);
		if (rc)
			return cli_fail(c, CLI_FAILED, "%s: %s", a->words[0], cog_error_last());
	} else {
		char *goal = NULL;
		if ((code = add_source_templates(c, ctx)) ||
		    (code = cli_join_words(c, a->nwords, a->words, &goal)))
			return code;
		cli_cancel_on_sigint(ctx);
		rc = cog_plan_from_goal(plan, ctx, goal);
		cli_cancel_restore();
		free(goal);
		if (rc == COG_ECANCELED)
			return cli_fail(c, CLI_CANCELED, "canceled");
		if (rc == COG_ENOTFOUND && !r->have_llm)
			return cli_fail(c, CLI_FAILED, "no plan for this goal: %s. No LLM is "
				"configured to plan other goals (set COG_LLM_URL, or COG_LLM_PROVIDER); "
				"see cog plan templates, or give a plan file", cog_error_last());
		if (rc)
			return cli_fail(c, CLI_FAILED, "no plan for this goal: %s", cog_error_last());
	}
	if ((rc = cog_plan_validate(*plan)) || (rc = cog_plan_save(*plan)))
		return cli_fail(c, CLI_FAILED, "plan %s: %s", cog_plan_id(*plan), cog_error_last());
	return CLI_OK;
}

/* ---- what the tasks produced ---- */

typedef struct outcome {
	cJSON *status;        /* cog_plan_status, parsed */
	char report[8448];    /* "report_file" of a task, joined to the workspace */
	char report_rel[1024];
	cJSON *findings;      /* array of strings */
	int stored;           /* findings remembered */
} outcome;

/* The JSON object a tool task printed on stdout, or NULL. */
static cJSON *printed_object(const cJSON *task)
{
	const cJSON *result = cJSON_GetObjectItemCaseSensitive(task, "result");
	const char *out = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(result, "stdout"));
	cJSON *o = out ? cJSON_Parse(out) : NULL;
	if (!cJSON_IsObject(o)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static void collect(outcome *o, const cli_runner *r)
{
	o->findings = cJSON_CreateArray();
	const cJSON *task;
	cJSON_ArrayForEach(task, cJSON_GetObjectItemCaseSensitive(o->status, "tasks")) {
		cJSON *printed = printed_object(task);
		const char *file = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(printed,
			"report_file"));
		/* Relative to the workspace, where the task wrote it. */
		if (file && *file && file[0] != '/' && !strstr(file, "..")) {
			snprintf(o->report_rel, sizeof(o->report_rel), "%s", file);
			snprintf(o->report, sizeof(o->report), "%s/%.4000s", r->workspace, file);
		}
		const cJSON *f;
		cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(printed, "findings"))
			if (cJSON_IsString(f) && o->findings)
				cJSON_AddItemToArray(o->findings, cJSON_CreateString(f->valuestring));
		cJSON_Delete(printed);
	}
}

/* The findings as long-term memories (a failure is a warning). */
static void remember(const cli *c, cog_ctx *ctx, const cli_runner *r, cog_plan *plan,
                     outcome *o)
{
	if (!cJSON_GetArraySize(o->findings))
		return;
	cog_memory_options mo = COG_MEMORY_OPTIONS_INIT;
	mo.embedder = "hashing";
	cog_memory *mem = NULL;
	if (cog_memory_open_with(&mem, ctx, r->memory_ns, &mo) != 0) {
		fprintf(stderr, "%s: warning: findings not remembered: %s\n", c->program,
			cog_error_last());
		return;
	}
	cJSON *meta = cJSON_CreateObject();
	cJSON_AddStringToObject(meta, "source", "cog run");
	cJSON_AddStringToObject(meta, "plan", cog_plan_id(plan));
	cJSON_AddStringToObject(meta, "goal", cog_plan_goal(plan));
	if (*o->report_rel)
		cJSON_AddStringToObject(meta, "report", o->report_rel);
	char *meta_text = cJSON_PrintUnformatted(meta);
	cog_memory_put_options po = COG_MEMORY_PUT_OPTIONS_INIT;
	po.layer = COG_MEMORY_LONG_TERM;
	po.importance = 0.7;
	po.metadata = meta_text;
	const cJSON *f;
	cJSON_ArrayForEach(f, o->findings) {
		if (cog_memory_put(mem, f->valuestring, &po, NULL) >= 0)
			o->stored++;
		else
			fprintf(stderr, "%s: warning: a finding was not remembered: %s\n",
				c->program, cog_error_last());
	}
	cJSON_free(meta_text);
	cJSON_Delete(meta);
	cog_memory_free(mem);
}

static void print_summary(const cli *c, cog_plan *plan, const cli_runner *r,
                          const outcome *o, int rc, const char *message)
{
	const char *id = cog_plan_id(plan);
	const cJSON *t;
	int counts[5] = { 0 };
	static const char *const names[5] = { "succeeded", "failed", "skipped", "pending",
		"uncertain" };
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(o->status, "tasks")) {
		const char *state = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "state"));
		for (int i = 0; i < 5; i++)
			if (state && strcmp(state, names[i]) == 0)
				counts[i]++;
	}
	printf("\nplan %s %s: %d succeeded, %d failed, %d skipped, %d not run\n", id,
		rc == 0 ? "succeeded" : rc == COG_ECANCELED ? "interrupted" : "failed",
		counts[0], counts[1], counts[2], counts[3] + counts[4]);
	if (rc && rc != COG_ECANCELED) {
		cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(o->status, "tasks")) {
			const char *error = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t,
				"error"));
			if (error && *error) {
				printf("  %s: ", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t,
					"id")));
				cli_mem_print_text(error, 200, true);
				putchar('\n');
			}
		}
	}
	if (*o->report) {
		printf("\nreport: %s\n", o->report);
		FILE *f = fopen(o->report, "r");
		char line[512];
		for (int n = 0; f && n < REPORT_LINES && fgets(line, sizeof(line), f); n++) {
			line[strcspn(line, "\n")] = '\0';
			fputs("  ", stdout);
			cli_mem_print_text(line, 110, true);
			putchar('\n');
		}
		if (f)
			fclose(f);
	}
	if (cJSON_GetArraySize(o->findings)) {
		printf("\nfindings (%d remembered in memory namespace \"%s\"):\n", o->stored,
			r->memory_ns);
		cJSON_ArrayForEach(t, o->findings) {
			fputs("  - ", stdout);
			cli_mem_print_text(t->valuestring, 200, true);
			putchar('\n');
		}
	}
	double in = 0, out = 0, cost = 0;
	run_progress_usage(&in, &out, &cost);
	printf("\ntokens: %.0f in, %.0f out; cost $%.4f%s\n", in, out, cost,
		r->have_llm ? "" : " (no LLM configured: tasks for an LLM were left out)");
	if (rc == COG_ECANCELED)
		printf("interrupted; continue with: cog resume %s\n", id);
	else if (rc)
		fprintf(stderr, "%s: error: %s\n", c->program, message);
	printf("timeline: cog trace %s\n", id);
}

/* {"ok","plan_id","status","error"?,"tasks","budget","metrics","report_file"?,
 *  "findings","memory":{"namespace","stored"}} */
static void print_json(cog_ctx *ctx, cog_plan *plan, const cli_runner *r,
                       const outcome *o, int rc, const char *message)
{
	cJSON *j = cJSON_CreateObject();
	const char *id = cog_plan_id(plan);
	cJSON_AddBoolToObject(j, "ok", rc == 0);
	cJSON_AddStringToObject(j, "plan_id", id);
	cJSON_AddStringToObject(j, "status", rc == 0 ? "succeeded" : rc == COG_ECANCELED ?
		"canceled" : "failed");
	if (rc)
		cJSON_AddStringToObject(j, "error", message);
	cJSON *tasks = cJSON_DetachItemFromObjectCaseSensitive(o->status, "tasks");
	cJSON_AddItemToObject(j, "tasks", tasks ? tasks : cJSON_CreateArray());
	char *text = NULL;
	cJSON *v = cog_budget_report(ctx, id, &text) == 0 ? cJSON_Parse(text) : NULL;
	cJSON_AddItemToObject(j, "budget", v ? v : cJSON_CreateNull());
	cog_free(text);
	text = NULL;
	v = cog_ctx_metrics(ctx, &text) == 0 ? cJSON_Parse(text) : NULL;
	cJSON_AddItemToObject(j, "metrics", v ? v : cJSON_CreateNull());
	cog_free(text);
	if (*o->report)
		cJSON_AddStringToObject(j, "report_file", o->report);
	cJSON_AddItemToObject(j, "findings", cJSON_Duplicate(o->findings, 1));
	cJSON *mem = cJSON_AddObjectToObject(j, "memory");
	cJSON_AddStringToObject(mem, "namespace", r->memory_ns);
	cJSON_AddNumberToObject(mem, "stored", o->stored);
	cJSON_AddBoolToObject(j, "llm", r->have_llm);
	char *out = cJSON_PrintUnformatted(j);
	if (out)
		puts(out);
	cJSON_free(out);
	cJSON_Delete(j);
}

/* Run the plan; print the outcome. Exit code. */
static int run_plan(cli *c, cog_ctx *ctx, cli_runner *r, const run_args *a, cog_plan *plan)
{
	cog_run_options run = COG_RUN_OPTIONS_INIT;
	run.durability = COG_DURABLE_ON;
	run.workers = a->workers;
	run.failure_policy = a->keep_going ? COG_CONTINUE_INDEPENDENT : COG_FAIL_FAST;
	run.episodic_namespace = r->memory_ns;
	if (!c->json)
		fprintf(stderr, "plan %s: %zu tasks for \"%s\" (workspace %s)\n", cog_plan_id(plan),
			cog_plan_task_count(plan), cog_plan_goal(plan), r->workspace);
	run_progress_start(cog_plan_id(plan), cog_plan_task_count(plan), isatty(2) == 1,
		c->json);
	cli_cancel_on_sigint(ctx);
	int rc = cog_plan_run(plan, &run);
	char message[2048];
	snprintf(message, sizeof(message), "%s", rc ? cog_error_last() : "");
	cli_cancel_restore();
	run_progress_stop();

	outcome o;
	memset(&o, 0, sizeof(o));
	char *json = NULL;
	if (cog_plan_status(plan, &json) != 0 || !(o.status = cJSON_Parse(json))) {
		cog_free(json);
		return cli_fail(c, CLI_FAILED, "plan %s: cannot read its status: %s",
			cog_plan_id(plan), cog_error_last());
	}
	cog_free(json);
	collect(&o, r);
	if (rc == 0)
		remember(c, ctx, r, plan, &o);
	if (c->json)
		print_json(ctx, plan, r, &o, rc, message);
	else
		print_summary(c, plan, r, &o, rc, message);
	cJSON_Delete(o.status);
	cJSON_Delete(o.findings);
	return rc == 0 ? CLI_OK : rc == COG_ECANCELED ? CLI_CANCELED : CLI_FAILED;
}

int cmd_run(cli *c, int argc, char **argv)
{
	run_args a;
	memset(&a, 0, sizeof(a));
	cli_runner r;
	cli_runner_init(&r);
	if (!(a.words = calloc((size_t)argc + 1, sizeof(*a.words))))
		return cli_fail(c, CLI_FAILED, "out of memory");
	int code = parse_args(c, &r, &a, argc, argv);
	cog_ctx *ctx = NULL;
	c->log_warnings = true;
	if (!code)
		code = cli_open(c, CLI_DB_CREATE, run_progress_event, &ctx);
	if (!code)
		code = cli_runner_setup(c, &r, ctx, &a.llm);
	for (int i = 0; !code && i < a.ndirs; i++)
		if (cog_ctx_add_template_dir(ctx, a.dirs[i]) != 0)
			code = cli_fail(c, CLI_FAILED, "%s", cog_error_last());
	cog_plan *plan = NULL;
	if (!code)
		code = make_plan(c, ctx, &r, &a, &plan);
	if (!code)
		code = run_plan(c, ctx, &r, &a, plan);
	cog_plan_free(plan);
	cli_runner_dispose(&r);
	cog_ctx_free(ctx);
	free(a.words);
	return code;
}
