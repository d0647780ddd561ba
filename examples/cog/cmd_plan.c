/*
 * cog plan GOAL...|FILE [--format json|dot|mermaid] [--templates DIR] [--no-save]
 *          [--llm [--provider P] [--url URL] [--model M]]
 * cog plan validate FILE
 * cog plan templates [--templates DIR]
 *
 * `cog plan` makes a plan (from a plan file, else from the goal with the
 * template planner; with --llm the context gets the configured LLM, so the
 * library's LLM planner goes first and the templates are its fallback),
 * prints it in the chosen format on stdout and saves it
 * in the database, where `cog status` and `cog resume` find it. Also the
 * helpers the other plan commands share: opening the context and the
 * database, reading files, finding a plan by id.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "cli.h"
#ifdef COG_HAVE_SQLITE
#include <cognition/sqlite.h>
#endif

#define PLAN_FILE_MAX (64 * 1024 * 1024)

/* ---- shared helpers ---- */

int cli_read_file(const char *path, char **text, char *why, size_t why_size)
{
	*text = NULL;
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(why, why_size, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	char *buf = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (len + 65536 + 1 > cap) {
			cap = cap ? cap * 2 : 65536 * 2;
			char *grown = len > PLAN_FILE_MAX ? NULL : realloc(buf, cap);
			if (!grown) {
				snprintf(why, why_size, "%s is too large", path);
				free(buf);
				fclose(f);
				return -1;
			}
			buf = grown;
		}
		size_t n = fread(buf + len, 1, 65536, f);
		len += n;
		if (n < 65536)
			break;
	}
	if (ferror(f)) {
		snprintf(why, why_size, "cannot read %s: %s", path, strerror(errno));
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	buf[len] = '\0';
	*text = buf;
	return 0;
}

int cli_open(const cli *c, int db_mode, cog_event_fn on_event, cog_ctx **out)
{
	*out = NULL;
	cog_ctx_options options = COG_CTX_OPTIONS_INIT;
	if (c->log_warnings) {
		/* Warnings only, unless COG_LOG_LEVEL asks for more or less. */
		options.log_level = COG_LOG_WARN;
		options.log_fn = cli_log_line;
		options.log_user_data = (void *)c;
	}
	if (cog_ctx_options_from_env(&options) != 0)
		return cli_fail(c, CLI_FAILED, "%s", cog_error_last());
	options.event_fn = on_event;
	cog_ctx *ctx = NULL;
	if (cog_ctx_new(&ctx, &options) != 0)
		return cli_fail(c, CLI_FAILED, "%s", cog_error_last());
	if (db_mode != CLI_DB_NONE) {
#ifdef COG_HAVE_SQLITE
		struct stat st;
		if (db_mode != CLI_DB_CREATE && stat(c->db_path, &st) != 0) {
			cog_ctx_free(ctx);
			return cli_fail(c, CLI_FAILED, "no database at %s (make a plan first: "
				"cog plan GOAL)", c->db_path);
		}
		cog_sqlite_options sq = COG_SQLITE_OPTIONS_INIT;
		sq.read_only = db_mode == CLI_DB_READ_ONLY;
		sq.create = db_mode == CLI_DB_CREATE;
		cog_storage *storage = NULL;
		if (cog_sqlite_storage_open(&storage, c->db_path, &sq) != 0 ||
		    cog_ctx_set_storage(ctx, storage) != 0) {
			cog_ctx_free(ctx);
			return cli_fail(c, CLI_FAILED, "%s", cog_error_last());
		}
#else
		cog_ctx_free(ctx);
		return cli_fail(c, CLI_FAILED, "this cog has no database: libcognition-sqlite "
			"is not built");
#endif
	}
	*out = ctx;
	return CLI_OK;
}


int cli_find_plan(const cli *c, cog_ctx *ctx, const char *id, bool look_only,
                  cog_plan **plan)
{
	*plan = NULL;
	int rc = look_only ? cog_plan_load(plan, ctx, id) : cog_plan_resume(plan, ctx, id);
	if (rc == COG_ENOTFOUND)
		return cli_fail(c, CLI_FAILED, "no plan %s in %s (see cog status)", id, c->db_path);
	if (rc)
		return cli_fail(c, CLI_FAILED, "%s", cog_error_last());
	return CLI_OK;
}

/* Store the plan's definition for cog status and cog resume, unless
 * another plan (or this one, run already) is stored under its id. */
static int save_plan(const cli *c, cog_plan *plan)
{
	const char *id = cog_plan_id(plan);
	int rc = cog_plan_save(plan);
	if (rc == COG_EEXISTS)
		return cli_fail(c, CLI_FAILED, "plan %s already exists in %s (it has run, or was "
			"saved with another definition); remove \"id\" from the file to save it as "
			"a new plan", id, c->db_path);
	if (rc)
		return cli_fail(c, CLI_FAILED, "cannot save plan %s: %s", id, cog_error_last());
	return CLI_OK;
}

/* ---- cog plan validate ---- */

static int plan_from_file(const cli *c, cog_ctx *ctx, const char *path, cog_plan **plan)
{
	char why[512], *text = NULL;
	if (cli_read_file(path, &text, why, sizeof(why)) != 0)
		return cli_fail(c, CLI_FAILED, "%s", why);
	int rc = cog_plan_from_json(plan, ctx, text);
	free(text);
	if (rc)
		return cli_fail(c, CLI_FAILED, "%s: %s", path, cog_error_last());
	return CLI_OK;
}

static void print_invalid(const cli *c, const char *path, int rc)
{
	if (c->json) {
		fputs("{\"ok\":false,\"valid\":false,\"file\":", stdout);
		cli_json_string(path);
		printf(",\"code\":%d,\"status\":", rc);
		cli_json_string(cog_strerror(rc));
		fputs(",\"error\":", stdout);
		cli_json_string(cog_error_last());
		fputs("}\n", stdout);
	}
	fprintf(stderr, "%s: invalid: %s\n", path, cog_error_last());
}

static int plan_validate(cli *c, int argc, char **argv)
{
	if (argc != 1)
		return cli_fail(c, CLI_USAGE, "usage: cog plan validate FILE");
	cog_ctx *ctx = NULL;
	cog_plan *plan = NULL;
	int code = cli_open(c, CLI_DB_NONE, NULL, &ctx);
	if (!code && (code = cli_define_tools(c, ctx)))
		cog_ctx_free(ctx);
	if (code)
		return code;
	char *analysis = NULL;
	if ((code = plan_from_file(c, ctx, argv[0], &plan)) == CLI_OK) {
		/* Validation also checks that tool tasks name cog's tools. */
		int rc = cog_plan_validate(plan);
		if (rc == COG_OK)
			rc = cog_plan_analyze(plan, &analysis);
		if (rc) {
			print_invalid(c, argv[0], rc);
			code = CLI_FAILED;
		}
	}
	cJSON *a = analysis ? cJSON_Parse(analysis) : NULL;
	if (analysis && !a)
		code = cli_fail(c, CLI_FAILED, "cannot read the analysis of %s", argv[0]);
	if (a && c->json) {
		printf("{\"ok\":true,\"valid\":true,\"file\":");
		cli_json_string(argv[0]);
		printf(",\"id\":");
		cli_json_string(cog_plan_id(plan));
		printf(",\"analysis\":%s}\n", analysis);
	} else if (a) {
		const cJSON *cp = cJSON_GetObjectItemCaseSensitive(a, "critical_path");
		const cJSON *t;
		printf("valid: %d tasks, %d levels, critical path ",
			cJSON_GetObjectItemCaseSensitive(a, "tasks")->valueint,
			cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(a, "levels")));
		bool first = true;
		cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(cp, "tasks")) {
			printf("%s%s", first ? "" : " -> ", t->valuestring);
			first = false;
		}
		printf(" (%.0f ms, cost %.4g, %.0f tokens)\n",
			cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(cp, "duration_ms")),
			cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(cp, "cost")),
			cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(cp, "tokens")));
	}
	cJSON_Delete(a);
	cog_free(analysis);
	cog_plan_free(plan);
	cog_ctx_free(ctx);
	return code;
}

/* ---- cog plan templates ---- */

static int plan_templates(cli *c, cog_ctx *ctx)
{
	char *json = NULL;
	if (cog_ctx_list_templates(ctx, &json) != 0)
		return cli_fail(c, CLI_FAILED, "%s", cog_error_last());
	if (c->json) {
		printf("{\"ok\":true,\"templates\":%s}\n", json);
	} else {
		cJSON *list = cJSON_Parse(json);
		const cJSON *t;
		if (!cJSON_GetArraySize(list))
			printf("no templates (set COG_TEMPLATE_PATH or use --templates DIR)\n");
		cJSON_ArrayForEach(t, list)
			printf("%-18s %s\n%-18s %s\n",
				cJSON_GetStringValue(cJSON_GetObjectItem(t, "name")),
				cJSON_GetStringValue(cJSON_GetObjectItem(t, "description")), "",
				cJSON_GetStringValue(cJSON_GetObjectItem(t, "file")));
		cJSON_Delete(list);
	}
	cog_free(json);
	return CLI_OK;
}

/* ---- cog plan GOAL|FILE ---- */

static bool names_plan_file(int count, char **words)
{
	if (count != 1)
		return false;
	size_t len = strlen(words[0]);
	return len > 5 && strcasecmp(words[0] + len - 5, ".json") == 0;
}

/* Print the export (stdout) and where the plan went (stderr). */
static int print_plan(const cli *c, cog_plan *plan, int format, const char *format_name,
                      bool saved)
{
	char *text = NULL;
	if (cog_plan_export(plan, format, &text) != 0)
		return cli_fail(c, CLI_FAILED, "%s", cog_error_last());
	if (c->json) {
		printf("{\"ok\":true,\"id\":");
		cli_json_string(cog_plan_id(plan));
		printf(",\"goal\":");
		cli_json_string(cog_plan_goal(plan));
		printf(",\"tasks\":%zu,\"saved\":%s,\"database\":", cog_plan_task_count(plan),
			saved ? "true" : "false");
		if (saved)
			cli_json_string(c->db_path);
		else
			fputs("null", stdout);
		printf(",\"format\":\"%s\",\"plan\":", format_name);
		if (format == COG_PLAN_FORMAT_JSON)
			fputs(text, stdout);
		else
			cli_json_string(text);
		fputs("}\n", stdout);
	} else {
		cJSON *pretty = format == COG_PLAN_FORMAT_JSON ? cJSON_Parse(text) : NULL;
		char *p = pretty ? cJSON_Print(pretty) : NULL;
		fputs(p ? p : text, stdout);
		if (text[0] && text[strlen(text) - 1] != '\n')
			putchar('\n');
		cJSON_free(p);
		cJSON_Delete(pretty);
		if (saved)
			fprintf(stderr, "plan %s: %zu tasks, saved to %s; run it with: "
				"cog resume %s\n", cog_plan_id(plan), cog_plan_task_count(plan),
				c->db_path, cog_plan_id(plan));
	}
	cog_free(text);
	return CLI_OK;
}

int cli_join_words(const cli *c, int count, char **words, char **goal)
{
	size_t len = 1;
	for (int i = 0; i < count; i++)
		len += strlen(words[i]) + 1;
	if (!(*goal = malloc(len)))
		return cli_fail(c, CLI_FAILED, "out of memory");
	(*goal)[0] = '\0';
	for (int i = 0; i < count; i++) {
		if (i)
			strcat(*goal, " ");
		strcat(*goal, words[i]);
	}
	return CLI_OK;
}

int cmd_plan(cli *c, int argc, char **argv)
{
	static const char usage[] = "usage: cog plan GOAL...|FILE [--format json|dot|mermaid] "
		"[--templates DIR] [--no-save] [--llm [--provider P] [--url URL] [--model M]] | "
		"cog plan validate FILE | cog plan templates";
	if (argc >= 1 && strcmp(argv[0], "validate") == 0)
		return plan_validate(c, argc - 1, argv + 1);
	const char *format_name = "json";
	int format = COG_PLAN_FORMAT_JSON;
	bool save = true, list = argc >= 1 && strcmp(argv[0], "templates") == 0;
	bool use_llm = false;
	cli_llm llm = { NULL, NULL, NULL };
	const char *dirs[16];
	int ndirs = 0, nwords = 0;
	char **words = calloc((size_t)argc + 1, sizeof(*words));
	if (!words)
		return cli_fail(c, CLI_FAILED, "out of memory");
	bool options_done = false;
	int code = CLI_OK;
	for (int i = list ? 1 : 0; i < argc && !code; i++) {
		const char *a = argv[i];
		if (options_done || a[0] != '-' || !a[1]) {
			words[nwords++] = argv[i];
		} else if (strcmp(a, "--") == 0) {
			options_done = true;
		} else if (strcmp(a, "--format") == 0 || strncmp(a, "--format=", 9) == 0) {
			const char *v = a[8] == '=' ? a + 9 : (i + 1 < argc ? argv[++i] : NULL);
			if (v && strcmp(v, "json") == 0)
				format = COG_PLAN_FORMAT_JSON;
			else if (v && strcmp(v, "dot") == 0)
				format = COG_PLAN_FORMAT_DOT;
			else if (v && strcmp(v, "mermaid") == 0)
				format = COG_PLAN_FORMAT_MERMAID;
			else
				code = cli_fail(c, CLI_USAGE, "--format needs json, dot or "
					"mermaid%s%s", v ? ", not " : "", v ? v : "");
			format_name = v ? v : "";
		} else if (strcmp(a, "--templates") == 0 && i + 1 < argc) {
			if (ndirs == (int)(sizeof(dirs) / sizeof(*dirs)))
				code = cli_fail(c, CLI_USAGE, "at most %d --templates", ndirs);
			else
				dirs[ndirs++] = argv[++i];
		} else if (strcmp(a, "--no-save") == 0) {
			save = false;
		} else if (strcmp(a, "--llm") == 0) {
			use_llm = true;
		} else if (cli_llm_flag(c, &llm, argc, argv, &i, &code)) {
			continue;
		} else {
			code = cli_fail(c, CLI_USAGE, "plan: unknown option '%s'; %s", a, usage);
		}
	}
	if (!code && list && nwords)
		code = cli_fail(c, CLI_USAGE, "plan templates takes no arguments (got '%s')",
			words[0]);
	if (!code && !list && nwords == 0)
		code = cli_fail(c, CLI_USAGE, "plan needs a GOAL or a FILE; %s", usage);
	if (!code && (llm.provider || llm.url || llm.model) && !use_llm)
		code = cli_fail(c, CLI_USAGE, "--provider, --url and --model go with --llm");
	if (!code && use_llm && (list || names_plan_file(nwords, words)))
		code = cli_fail(c, CLI_USAGE, "--llm plans from a GOAL, not %s",
			list ? "with plan templates" : "from a plan file");
	cog_ctx *ctx = NULL;
	c->log_warnings = use_llm;
	if (!code)
		code = cli_open(c, save && !list ? CLI_DB_CREATE : CLI_DB_NONE, NULL, &ctx);
	/* The plan's tool tasks are checked against cog's tools, which the
	 * LLM planner also shows the model. */
	if (!code && use_llm && !(code = cli_define_tools(c, ctx)))
		code = cli_llm_setup(c, ctx, &llm);
	for (int i = 0; !code && i < ndirs; i++)
		if (cog_ctx_add_template_dir(ctx, dirs[i]) != 0)
			code = cli_fail(c, CLI_FAILED, "%s", cog_error_last());
	if (!code && list) {
		code = plan_templates(c, ctx);
	} else if (!code) {
		cog_plan *plan = NULL;
		if (names_plan_file(nwords, words)) {
			code = plan_from_file(c, ctx, words[0], &plan);
			int rc = code ? 0 : cog_plan_validate(plan);
			if (rc) {
				print_invalid(c, words[0], rc);
				code = CLI_FAILED;
			}
		} else {
			char *goal = NULL;
			code = cli_join_words(c, nwords, words, &goal);
			if (use_llm)
				cli_cancel_on_sigint(ctx);
			int rc = code ? 0 : cog_plan_from_goal(&plan, ctx, goal);
			if (use_llm)
				cli_cancel_restore();
			if (rc == COG_ECANCELED)
				code = cli_fail(c, CLI_CANCELED, "canceled");
			else if (rc)
				code = cli_fail(c, CLI_FAILED, "%s", cog_error_last());
			free(goal);
		}
		if (!code && save)
			code = save_plan(c, plan);
		if (!code)
			code = print_plan(c, plan, format, format_name, save);
		cog_plan_free(plan);
	}
	cog_ctx_free(ctx);
	free(words);
	return code;
}
