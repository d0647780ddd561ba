/* The cog command-line program: shared state of its commands. */
#ifndef COG_CLI_H
#define COG_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include <cognition.h>

typedef struct cli {
	const char *db_path;   /* --db, else $COG_DB, else ./cognition.db */
	bool json;             /* --json: machine-readable output on stdout */
	const char *program;
} cli;

/* Exit codes. */
#define CLI_OK 0
#define CLI_FAILED 1     /* the command ran and found a problem */
#define CLI_USAGE 2      /* bad command line */

/* Print "cog: error: <message>" (text) or {"ok":false,"error":...} (json). */
int cli_fail(const cli *c, int exit_code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Write s as a JSON string literal to stdout. */
void cli_json_string(const char *s);
/* Write stored text to stdout with control characters shown as \xNN (no
 * terminal escapes from a database), padded to `width` columns. */
void cli_print_safe(const char *s, int width);

int cmd_doctor(cli *c, int argc, char **argv);
int cmd_plan(cli *c, int argc, char **argv);     /* cmd_plan.c */
int cmd_status(cli *c, int argc, char **argv);   /* cmd_status.c */
int cmd_resume(cli *c, int argc, char **argv);
int cmd_decide(cli *c, int argc, char **argv);
int cmd_tools(cli *c, int argc, char **argv);     /* cmd_tools.c */
int cmd_audit(cli *c, int argc, char **argv);
int cmd_approvals(cli *c, int argc, char **argv);
int cmd_approve(cli *c, int argc, char **argv);
int cmd_deny(cli *c, int argc, char **argv);

/* ---- shared by the tool commands (cmd_tools.c) ---- */

/* Define the built-in tools (and sql_query, and the curl transport for
 * http_fetch, where built) on ctx. Returns an exit code. */
int cli_define_tools(const cli *c, cog_ctx *ctx);
/* Add HOST to the JSON array text in buf (a network grant). Exit code. */
int cli_add_host(const cli *c, char *buf, size_t cap, const char *host);

/* ---- shared by the plan commands (cmd_plan.c) ---- */

/* The library's collection of stored plans (run or saved): one document
 * per plan, keyed by its id. */
#define CLI_PLANS "plans"

enum { CLI_DB_NONE, CLI_DB_READ_ONLY, CLI_DB_EXISTING, CLI_DB_CREATE };
/* A context configured from the environment, with an event hook (may be
 * NULL) and, unless CLI_DB_NONE, the database at c->db_path: opened
 * read-only, or read-write when it exists, or created if missing. Returns
 * an exit code, the error printed. */
int cli_open(const cli *c, int db_mode, cog_event_fn on_event, cog_ctx **ctx);
/* A whole file as malloc'd text; -1 with a message in why. */
int cli_read_file(const char *path, char **text, char *why, size_t why_size);
/* The plan with this id in the database: to look at (cog_plan_load: writes
 * nothing, tasks caught running stay "running") or to run and decide on
 * (cog_plan_resume: settles them). Returns an exit code. */
int cli_find_plan(const cli *c, cog_ctx *ctx, const char *id, bool look_only,
                  cog_plan **plan);

/* The task executor of `cog resume` (exec_executor.c): runs inputs.argv. */
int cli_exec_task(cog_task_call *call, void *user_data);

#endif
