/*
 * cog status [PLAN_ID]           the plans in the database, or one plan's tasks
 * cog resume PLAN_ID [--workers N] [--continue]
 *                                run (or continue) a plan with cog's executor
 * cog decide PLAN_ID TASK retry|skip|fail
 *                                settle a task left uncertain by a crash
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"

/* ---- printing a plan's status ---- */

static const char *str_or(const cJSON *o, const char *name, const char *fallback)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, name));
	return s ? s : fallback;
}

/* One line of text: newlines and tabs become spaces, at most max bytes. */
static void print_flat(const char *s, size_t max)
{
	size_t n = 0;
	for (; s && *s && n < max; s++, n++)
		putchar(*s == '\n' || *s == '\r' || *s == '\t' ? ' ' : *s);
	if (s && *s)
		fputs("...", stdout);
}

/* A plan stored by `cog plan` and never run since: its state is
 * "pending" and no task has been attempted. (A run that started no task
 * leaves it so too: it has not run anything yet either.) */
static bool not_run_yet(const cJSON *st)
{
	if (strcmp(str_or(st, "state", ""), "pending") != 0)
		return false;
	const cJSON *t;
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(st, "tasks"))
		if (strcmp(str_or(t, "state", ""), "pending") != 0 ||
		    cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(t, "attempts")) != 0)
			return false;
	return true;
}

static void print_status_text(const cJSON *st)
{
	bool planned = not_run_yet(st);
	printf("plan  %s\ngoal  ", str_or(st, "id", "?"));
	print_flat(str_or(st, "goal", ""), 200);
	printf("\nstate %s%s\n\n", planned ? "planned" : str_or(st, "state", "?"),
		planned ? " (not run yet: cog resume runs it)" : "");
	printf("%-24s %-10s %8s  %s\n", "TASK", "STATE", "ATTEMPTS", "ERROR");
	const cJSON *t;
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(st, "tasks")) {
		printf("%-24s %-10s %8d  ", str_or(t, "id", "?"), str_or(t, "state", "?"),
			(int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(t, "attempts")));
		print_flat(str_or(t, "error", ""), 100);
		putchar('\n');
	}
}

/* The ids of the tasks in `state`, comma-separated, into out. */
static void tasks_in_state(const cJSON *st, const char *state, char *out, size_t size)
{
	size_t used = 0;
	const cJSON *t;
	out[0] = '\0';
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(st, "tasks")) {
		if (strcmp(str_or(t, "state", ""), state) != 0 || used >= size)
			continue;
		used += (size_t)snprintf(out + used, size - used, "%s%s", used ? ", " : "",
			str_or(t, "id", "?"));
	}
}

/* Print the plan's status (text or JSON with "ok":ok and `extra` members);
 * *status receives the parsed status for the caller (cJSON_Delete). */
static int show_status(const cli *c, cog_plan *plan, bool ok, const char *extra,
                       cJSON **status)
{
	char *json = NULL;
	*status = NULL;
	if (cog_plan_status(plan, &json) != 0)
		return cli_fail(c, CLI_FAILED, "%s", cog_error_last());
	cJSON *st = cJSON_Parse(json);
	if (!st) {
		cog_free(json);
		return cli_fail(c, CLI_FAILED, "cannot read the status of plan %s",
			cog_plan_id(plan));
	}
	if (c->json)
		printf("{\"ok\":%s,\"planned\":%s%s,\"status\":%s}\n", ok ? "true" : "false",
			not_run_yet(st) ? "true" : "false", extra ? extra : "", json);
	else
		print_status_text(st);
	cog_free(json);
	*status = st;
	return CLI_OK;
}

/* ---- cog status (all plans) ---- */

typedef struct plan_row {
	char *id;
	char *state;
	char *goal;
	int tasks;
} plan_row;

typedef struct plan_rows {
	plan_row *rows;
	size_t count;
	bool failed;
} plan_rows;

/* One row per document of the plans collection, from the document as it
 * is (its state is the one its last run ended with); resolve_state() then
 * reads the plan properly. */
static int add_row(const char *key, const char *value, size_t value_len,
                   int64_t expires_at, void *user_data)
{
	(void)value_len;
	(void)expires_at;
	plan_rows *r = user_data;
	plan_row *grown = realloc(r->rows, (r->count + 1) * sizeof(*grown));
	if (!grown) {
		r->failed = true;
		return COG_STORAGE_STOP;
	}
	r->rows = grown;
	cJSON *doc = cJSON_Parse(value);
	const cJSON *tasks = cJSON_GetObjectItemCaseSensitive(doc, "tasks");
	plan_row *row = &r->rows[r->count];
	row->id = strdup(key);
	row->state = strdup(str_or(doc, "state", "unknown"));
	row->goal = strdup(str_or(doc, "goal", ""));
	row->tasks = cJSON_IsArray(tasks) ? cJSON_GetArraySize(tasks) : -1;
	cJSON_Delete(doc);
	if (!row->id || !row->state || !row->goal) {
		free(row->id);
		free(row->state);
		free(row->goal);
		r->failed = true;
		return COG_STORAGE_STOP;
	}
	r->count++;
	return 0;
}

/* A plan's state is its document's plus the journal after it (tasks that
 * started since show "running"): load it, read-only. */
static void resolve_state(cog_ctx *ctx, plan_row *row)
{
	cog_plan *plan = NULL;
	const char *state = "damaged";
	char *json = NULL;
	cJSON *st = NULL;
	if (cog_plan_load(&plan, ctx, row->id) == 0 && cog_plan_status(plan, &json) == 0 &&
	    (st = cJSON_Parse(json)))
		state = not_run_yet(st) ? "planned" : str_or(st, "state", "unknown");
	char *copy = strdup(state);
	if (copy) {
		free(row->state);
		row->state = copy;
	}
	cJSON_Delete(st);
	cog_free(json);
	cog_plan_free(plan);
}

static int compare_rows(const void *a, const void *b)
{
	return strcmp(((const plan_row *)a)->id, ((const plan_row *)b)->id);
}

static int list_plans(const cli *c, cog_ctx *ctx)
{
	plan_rows r = { NULL, 0, false };
	int rc = cog_storage_scan(cog_ctx_storage(ctx), CLI_PLANS, NULL, add_row, &r);
	for (size_t i = 0; !rc && !r.failed && i < r.count; i++)
		resolve_state(ctx, &r.rows[i]);
	int code = CLI_OK;
	if (rc || r.failed) {
		code = cli_fail(c, CLI_FAILED, "cannot list the plans in %s: %s", c->db_path,
			rc ? cog_error_last() : "out of memory");
	} else {
		if (r.count)
			qsort(r.rows, r.count, sizeof(*r.rows), compare_rows);
		if (c->json) {
			fputs("{\"ok\":true,\"plans\":[", stdout);
			for (size_t i = 0; i < r.count; i++) {
				printf("%s{\"id\":", i ? "," : "");
				cli_json_string(r.rows[i].id);
				fputs(",\"state\":", stdout);
				cli_json_string(r.rows[i].state);
				printf(",\"tasks\":%d,\"goal\":", r.rows[i].tasks);
				cli_json_string(r.rows[i].goal);
				putchar('}');
			}
			fputs("]}\n", stdout);
		} else if (!r.count) {
			printf("no plans in %s (make one with: cog plan GOAL)\n", c->db_path);
		} else {
			printf("%-36s  %-10s %5s  %s\n", "PLAN", "STATE", "TASKS", "GOAL");
			for (size_t i = 0; i < r.count; i++) {
				printf("%-36s  %-10s %5d  ", r.rows[i].id, r.rows[i].state,
					r.rows[i].tasks);
				print_flat(r.rows[i].goal, 60);
				putchar('\n');
			}
		}
	}
	for (size_t i = 0; i < r.count; i++) {
		free(r.rows[i].id);
		free(r.rows[i].state);
		free(r.rows[i].goal);
	}
	free(r.rows);
	return code;
}

/* ---- cog status PLAN_ID ---- */

/* The status of one plan. Tasks that were running when last journaled are
 * shown as such, and make the exit status 1: another cog is running the
 * plan now, or the one that ran it died. */
static int plan_status(const cli *c, cog_ctx *ctx, const char *id)
{
	cog_plan *plan = NULL;
	int code = cli_find_plan(c, ctx, id, true, &plan);
	if (code)
		return code;
	char message[1024], extra[1200] = "";
	snprintf(message, sizeof(message), "plan %s has tasks that were running when last "
		"journaled: another cog is running it now, or the one that ran it stopped "
		"abruptly; if so, cog resume %s settles them (idempotent tasks run again, the "
		"others become uncertain)", id, id);
	char ids[1024] = "";
	char *json = NULL;
	cJSON *st = NULL;
	if (cog_plan_status(plan, &json) == 0 && (st = cJSON_Parse(json)))
		tasks_in_state(st, "running", ids, sizeof(ids));
	cJSON_Delete(st);
	cog_free(json);
	if (*ids) {
		cJSON *m = cJSON_CreateString(message);
		char *quoted = m ? cJSON_PrintUnformatted(m) : NULL;
		snprintf(extra, sizeof(extra), ",\"error\":%s", quoted ? quoted : "null");
		cJSON_free(quoted);
		cJSON_Delete(m);
	}
	st = NULL;
	code = show_status(c, plan, !*ids, *ids ? extra : NULL, &st);
	if (!code && *ids) {
		fprintf(stderr, "%s: error: %s\n", c->program, message);
		code = CLI_FAILED;
	}
	cJSON_Delete(st);
	cog_plan_free(plan);
	return code;
}

int cmd_status(cli *c, int argc, char **argv)
{
	if (argc > 1 || (argc == 1 && argv[0][0] == '-'))
		return cli_fail(c, CLI_USAGE, "usage: cog status [PLAN_ID]");
	cog_ctx *ctx = NULL;
	/* Read-only: looking must not change a plan that another cog may be
	 * running right now. */
	int code = cli_open(c, CLI_DB_READ_ONLY, NULL, &ctx);
	if (code)
		return code;
	code = argc == 0 ? list_plans(c, ctx) : plan_status(c, ctx, argv[0]);
	cog_ctx_free(ctx);
	return code;
}

/* ---- cog resume ---- */

static cog_ctx *volatile interrupted_ctx;

static void on_interrupt(int sig)
{
	(void)sig;
	cog_ctx *ctx = interrupted_ctx;
	if (ctx)
		cog_ctx_cancel(ctx); /* async-signal-safe */
}

/* Progress on stderr: one line per task event. Called from worker threads;
 * one fprintf per line keeps lines whole. */
static void print_event(const char *event, void *user_data)
{
	(void)user_data;
	cJSON *e = cJSON_Parse(event);
	const char *type = str_or(e, "type", "");
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(e, "data");
	if (strncmp(type, "task.", 5) == 0 && strcmp(type, "task.ready") != 0) {
		const char *task = str_or(data, "task", str_or(data, "task_id",
			str_or(data, "id", "?")));
		const char *error = str_or(data, "error", NULL);
		const cJSON *attempt = cJSON_GetObjectItemCaseSensitive(data, "attempt");
		char extra[64] = "";
		if (cJSON_IsNumber(attempt) && attempt->valueint > 1)
			snprintf(extra, sizeof(extra), " (attempt %d)", attempt->valueint);
		fprintf(stderr, "cog: %-15s %s%s%s%s\n", type + 5, task, extra,
			error ? ": " : "", error ? error : "");
	}
	cJSON_Delete(e);
}

static void explain_outcome(const cli *c, const cog_plan *plan, const cJSON *st, int rc)
{
	if (c->json)
		return;
	char ids[1024];
	const char *id = cog_plan_id(plan);
	if (rc == 0) {
		printf("\nplan %s succeeded\n", id);
		return;
	}
	tasks_in_state(st, "uncertain", ids, sizeof(ids));
	if (*ids) {
		printf("\nuncertain: %s\nThese tasks were running when the plan stopped and "
			"are not idempotent: their side effects may or may not have happened.\n"
			"Check, then decide each one and continue:\n"
			"  cog decide %s TASK retry|skip|fail\n  cog resume %s\n", ids, id, id);
	}
	tasks_in_state(st, "failed", ids, sizeof(ids));
	if (*ids)
		printf("\nfailed: %s\n", ids);
	if (rc == COG_ECANCELED)
		printf("\ninterrupted; continue with: cog resume %s\n", id);
}

int cmd_resume(cli *c, int argc, char **argv)
{
	static const char usage[] = "usage: cog resume PLAN_ID [--workers N] [--continue] "
		"[--workspace DIR] [--allow-net HOST]... [--ns NS]";
	cog_run_options run = COG_RUN_OPTIONS_INIT;
	run.durability = COG_DURABLE_ON;
	/* The same tools, MCP servers, LLM and executor as cog run. */
	cli_runner runner;
	cli_runner_init(&runner);
	const char *id = NULL;
	int code = CLI_OK;
	for (int i = 0; i < argc && !code; i++) {
		if (cli_runner_flag(c, &runner, argc, argv, &i, &code))
			continue;
		else if (strcmp(argv[i], "--workers") == 0)
			code = cli_parse_workers(c, i + 1 < argc ? argv[++i] : NULL, &run.workers);
		else if (strncmp(argv[i], "--workers=", 10) == 0)
			code = cli_parse_workers(c, argv[i] + 10, &run.workers);
		else if (strcmp(argv[i], "--continue") == 0)
			run.failure_policy = COG_CONTINUE_INDEPENDENT;
		else if (argv[i][0] == '-' || id)
			code = cli_fail(c, CLI_USAGE, "resume: unexpected '%s'; %s", argv[i],
				usage);
		else
			id = argv[i];
	}
	if (!code && !id)
		code = cli_fail(c, CLI_USAGE, "resume needs a PLAN_ID; %s", usage);
	cog_ctx *ctx = NULL;
	if (!code)
		code = cli_open(c, CLI_DB_EXISTING, c->json ? NULL : print_event, &ctx);
	if (code)
		return code;
	cog_plan *plan = NULL;
	code = cli_find_plan(c, ctx, id, false, &plan);
	if (code) {
		cog_ctx_free(ctx);
		return code;
	}
	if ((code = cli_runner_setup(c, &runner, ctx, NULL))) {
		cli_runner_dispose(&runner);
		cog_plan_free(plan);
		cog_ctx_free(ctx);
		return code;
	}
	run.episodic_namespace = runner.memory_ns;

	/* Ctrl-C cancels the run (children are killed, the journal stays
	 * consistent); a second Ctrl-C ends cog at once. */
	struct sigaction sa, old_int, old_term;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_interrupt;
	sa.sa_flags = SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	interrupted_ctx = ctx;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	int rc = cog_plan_run(plan, &run);
	char message[1024];
	snprintf(message, sizeof(message), "%s", rc ? cog_error_last() : "");
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	interrupted_ctx = NULL;

	char extra[1400] = "";
	if (rc) {
		cJSON *m = cJSON_CreateString(message);
		char *quoted = m ? cJSON_PrintUnformatted(m) : NULL;
		snprintf(extra, sizeof(extra), ",\"run\":{\"code\":%d,\"error\":%s}", rc,
			quoted ? quoted : "null");
		cJSON_free(quoted);
		cJSON_Delete(m);
	} else {
		snprintf(extra, sizeof(extra), ",\"run\":{\"code\":0,\"error\":null}");
	}
	if (!c->json)
		putchar('\n');
	cJSON *st = NULL;
	code = show_status(c, plan, rc == 0, extra, &st);
	if (!code) {
		explain_outcome(c, plan, st, rc);
		if (rc) {
			if (!c->json)
				fprintf(stderr, "%s: error: %s\n", c->program, message);
			code = CLI_FAILED;
		}
	}
	cJSON_Delete(st);
	cog_plan_free(plan);
	cli_runner_dispose(&runner);
	cog_ctx_free(ctx);
	return code;
}

/* ---- cog decide ---- */

int cmd_decide(cli *c, int argc, char **argv)
{
	static const char usage[] = "usage: cog decide PLAN_ID TASK retry|skip|fail";
	if (argc != 3)
		return cli_fail(c, CLI_USAGE, "%s", usage);
	int decision;
	if (strcmp(argv[2], "retry") == 0)
		decision = COG_DECIDE_RETRY;
	else if (strcmp(argv[2], "skip") == 0)
		decision = COG_DECIDE_SKIP;
	else if (strcmp(argv[2], "fail") == 0)
		decision = COG_DECIDE_FAIL;
	else
		return cli_fail(c, CLI_USAGE, "decide: '%s' is not retry, skip or fail; %s",
			argv[2], usage);
	cog_ctx *ctx = NULL;
	int code = cli_open(c, CLI_DB_EXISTING, NULL, &ctx);
	if (code)
		return code;
	cog_plan *plan = NULL;
	if (cog_plan_resume(&plan, ctx, argv[0]) != 0)
		code = cli_fail(c, CLI_FAILED, "%s", cog_error_last());
	else if (cog_plan_decide(plan, argv[1], decision) != 0)
		code = cli_fail(c, CLI_FAILED, "%s", cog_error_last());
	if (!code && c->json) {
		fputs("{\"ok\":true,\"plan\":", stdout);
		cli_json_string(argv[0]);
		fputs(",\"task\":", stdout);
		cli_json_string(argv[1]);
		printf(",\"decision\":\"%s\"}\n", argv[2]);
	} else if (!code) {
		printf("task %s of plan %s: %s; continue with: cog resume %s\n", argv[1], argv[0],
			argv[2], argv[0]);
	}
	cog_plan_free(plan);
	cog_ctx_free(ctx);
	return code;
}
