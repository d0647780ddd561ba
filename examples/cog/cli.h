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
	bool log_warnings;     /* cli_open: the library's warnings to stderr */
} cli;

/* Exit codes. */
#define CLI_OK 0
#define CLI_FAILED 1     /* the command ran and found a problem */
#define CLI_USAGE 2      /* bad command line */
#define CLI_CANCELED 130 /* Ctrl-C (128 + SIGINT) */

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
int cmd_chat(cli *c, int argc, char **argv);      /* cmd_chat.c */
int cmd_audit(cli *c, int argc, char **argv);
int cmd_approvals(cli *c, int argc, char **argv);
int cmd_approve(cli *c, int argc, char **argv);
int cmd_deny(cli *c, int argc, char **argv);
int cmd_memory(cli *c, int argc, char **argv);    /* cmd_memory.c */
int cmd_user(cli *c, int argc, char **argv);      /* cmd_user.c */
int cmd_login(cli *c, int argc, char **argv);     /* cmd_token.c */
int cmd_token(cli *c, int argc, char **argv);
int cmd_role(cli *c, int argc, char **argv);      /* cmd_role.c */

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

/* The GOAL or PROMPT words joined by spaces (malloc'd). Exit code. */
int cli_join_words(const cli *c, int count, char **words, char **joined);

/* ---- the LLM (cmd_chat.c), for cog chat and cog plan --llm ---- */

/* What the flags say; NULL: from the environment. */
typedef struct cli_llm {
	const char *provider;  /* --provider openai|anthropic|ollama */
	const char *url;       /* --url */
	const char *model;     /* --model */
} cli_llm;

/* If argv[*i] is --provider, --url or --model (with its value, "--x V" or
 * "--x=V"), take it (advancing *i) and return 1; *code gets an exit code
 * on a missing value. 0 for any other argument. */
int cli_llm_flag(const cli *c, cli_llm *llm, int argc, char **argv, int *i, int *code);
/* Give ctx the curl transport (unless it has one) and one endpoint,
 * "default", from the environment (cog_llm_provider_options_from_env) and
 * the flags. No LLM configured (no URL and no provider named) is CLI_USAGE
 * with a message saying what to set. Returns an exit code. */
int cli_llm_setup(const cli *c, cog_ctx *ctx, const cli_llm *llm);
/* Ctrl-C (and SIGTERM) call cog_ctx_cancel(ctx) until cli_cancel_restore();
 * a second one ends cog. */
void cli_cancel_on_sigint(cog_ctx *ctx);
void cli_cancel_restore(void);
/* A cog_log_fn printing "cog: warning: <message>" on stderr (user_data:
 * the cli); cli_open() installs it when c->log_warnings is set. */
void cli_log_line(int level, const char *line, void *user_data);

/* ---- the memory commands (cmd_memory*.c) ---- */

/* The flags every memory command takes; NULL: not given. */
typedef struct cli_mem_opts {
	const char *ns;        /* --ns, else $COG_MEMORY_NS, else "default" */
	const char *embedder;  /* --embedder, else $COG_MEMORY_EMBEDDER, else "hashing" */
} cli_mem_opts;

/* If argv[*i] is `name` ("--x V" or "--x=V"), take its value (advancing
 * *i) and return 1; *code gets CLI_USAGE (printed) when the value is
 * missing or empty. 0 for any other argument. */
int cli_mem_flag(const cli *c, const char *name, int argc, char **argv, int *i,
                 const char **value, int *code);
/* --ns, --embedder and --json, as cli_mem_flag. */
int cli_mem_common_flag(cli *c, cli_mem_opts *o, int argc, char **argv, int *i, int *code);
/* A command's own flags, as cli_mem_flag (state: the command's). */
typedef int (*cli_mem_flag_fn)(cli *c, void *state, int argc, char **argv, int *i, int *code);
/* The common flags, `extra`'s flags (may be NULL) and the other arguments
 * into words (argc + 1 entries), "--" ending the flags. Exit code; an
 * unknown flag is CLI_USAGE with `usage`. */
int cli_mem_parse(cli *c, cli_mem_opts *o, int argc, char **argv, cli_mem_flag_fn extra,
                  void *state, char **words, int *nwords, const char *usage);
/* The exit code (printed) of a library failure: CLI_USAGE for COG_EINVAL and
 * COG_ERANGE (what the user typed), CLI_CANCELED, else CLI_FAILED. */
int cli_mem_failure(const cli *c, int rc);
/* The layer bit of a name (working, short_term, long_term, episodic); 0 and
 * CLI_USAGE in *code (printed, naming `flag`) when unknown. */
unsigned int cli_mem_layer(const cli *c, const char *flag, const char *name, int *code);
/* CLI_OK when text is one JSON object, else CLI_USAGE naming `flag` and
 * where the JSON goes wrong. */
int cli_mem_json_object(const cli *c, const char *flag, const char *text);
/* The memory of the namespace the options choose, over cog's database
 * (created when `create`, else it must exist), with the embedder they
 * choose (the LLM from the environment for auto and llm). Exit code. */
int cli_mem_open(cli *c, const cli_mem_opts *o, bool create, cog_ctx **ctx,
                 cog_memory **mem);
/* A library JSON object on stdout with "ok":true as its first member. */
void cli_mem_print_json(const char *json);
/* Stored text on stdout, no terminal control from it (control bytes and
 * C1 characters as \xNN); one_line: newlines and tabs as spaces. cols > 0:
 * at most cols columns, "..." ending a cut. */
void cli_mem_print_text(const char *s, int cols, bool one_line);
int cmd_memory_import(cli *c, int argc, char **argv);   /* cmd_memory_import.c */
int cmd_memory_search(cli *c, int argc, char **argv);   /* cmd_memory_search.c */
int cmd_memory_get(cli *c, int argc, char **argv);      /* cmd_memory_manage.c */
int cmd_memory_forget(cli *c, int argc, char **argv);
int cmd_memory_stats(cli *c, int argc, char **argv);
int cmd_memory_purge(cli *c, int argc, char **argv);

/* ---- the auth commands (cmd_auth.c, cmd_user.c, cmd_token.c) ---- */

/* The flags the auth commands share; NULL: not given. */
typedef struct cli_auth_opts {
	const char *tenant;    /* --tenant, else $COG_TENANT, else "default" */
	bool password_stdin;   /* --password-stdin */
} cli_auth_opts;

/* A context over cog's database (created when `create`, else it must
 * exist) with the config file's "auth" object given to cog_auth_configure.
 * Exit code, printed. */
int cli_auth_open(cli *c, bool create, cog_ctx **ctx);
/* --tenant T, --password-stdin and --json, as cli_mem_flag. */
int cli_auth_common_flag(cli *c, cli_auth_opts *o, int argc, char **argv, int *i, int *code);
/* The tenant the options choose. */
const char *cli_auth_tenant(const cli_auth_opts *o);
/* The exit code (printed) of a failed library call: CLI_USAGE for
 * COG_EINVAL and COG_ERANGE, else CLI_FAILED. */
int cli_auth_failure(const cli *c, int rc);
/* A password into buf (cap bytes; the caller wipes it): the first line of
 * standard input with --password-stdin or when it is not a terminal, else
 * asked on the terminal without echo (twice when `confirm`). Exit code,
 * printed. */
int cli_auth_password(const cli *c, const cli_auth_opts *o, bool confirm, char *buf,
                      size_t cap);

/* The host-task executor (exec_executor.c): runs inputs.argv; tool tasks
 * go to cog_task_run_tool (user_data: the cog_tool_call_options). */
int cli_exec_task(cog_task_call *call, void *user_data);

/* ---- running plans: cog run and cog resume (run_setup.c) ---- */

/* What a run needs besides the plan: the tools (built-ins, sql_query, the
 * config file's MCP servers), the LLM when one is configured, the task
 * executor and its options. */
typedef struct cli_runner {
	cog_ctx *ctx;
	cog_tool_call_options tools;        /* workspace and network grant */
	char hosts[4096];                   /* tools.allowed_hosts */
	char workspace[4096];               /* tools.workspace, absolute */
	cog_agent_run_options agent;        /* llm tasks (cog_task_run_agent) */
	const char *memory_ns;              /* agents' memory and the episodes */
	bool have_llm;                      /* an LLM endpoint is configured */
	struct cog_mcp **mcp;               /* connected MCP servers */
	size_t mcp_count;
} cli_runner;

/* Empty runner: workspace ".", no network, namespace --ns / $COG_MEMORY_NS /
 * "default". */
void cli_runner_init(cli_runner *r);
/* If argv[*i] is a runner flag (--workspace DIR, --allow-net HOST, --ns NS,
 * "--x V" or "--x=V"), take it and return 1 (*code: an exit code for a bad
 * value, printed); else 0. */
int cli_runner_flag(const cli *c, cli_runner *r, int argc, char **argv, int *i, int *code);
/* On ctx: the tools, the MCP servers of the config file (their tools as
 * "<server>__<tool>"), the LLM from the environment and `llm` when one is
 * configured (none: tasks marked "when":"llm" are left out of templates,
 * llm tasks fail), and the executor: tool tasks through the tool layer
 * (python and shell fail on a non-zero exit), llm tasks through the agent
 * loop, host tasks run inputs.argv. Exit code, printed. */
int cli_runner_setup(const cli *c, cli_runner *r, cog_ctx *ctx, const cli_llm *llm);
/* Close the MCP connections (before cog_ctx_free). */
void cli_runner_dispose(cli_runner *r);
/* --workers N (1..256) into *workers. Exit code, printed. */
int cli_parse_workers(const cli *c, const char *value, unsigned int *workers);

/* ---- the live display of cog run (run_progress.c) ---- */

/* Start showing the run of plan_id (task_count tasks) on stderr: redrawn
 * in place when `terminal`, else one line per event worth telling unless
 * `quiet`. */
void run_progress_start(const char *plan_id, size_t task_count, bool terminal, bool quiet);
/* The event hook (cog_event_fn) feeding it; thread safe. */
void run_progress_event(const char *event, void *user_data);
/* Stop drawing (the last frame stays). */
void run_progress_stop(void);
/* Write one line (no newline in it) on stderr; while the display is drawn
 * on a terminal, above it, so the next redraw does not erase it. Any
 * thread (log hooks). */
void run_progress_print(const char *line);
/* Tokens and cost of the agent turns seen. */
void run_progress_usage(double *input_tokens, double *output_tokens, double *cost);

int cmd_run(cli *c, int argc, char **argv);     /* cmd_run.c */
int cmd_trace(cli *c, int argc, char **argv);   /* cmd_trace.c */

/* ---- the config file (cli_config.c) and the MCP commands (cmd_mcp.c) ---- */

/* --config PATH (main); it wins over $COG_CONFIG and ./cog.json. */
void cli_config_set_path(const char *path);
/* The config file: --config, else $COG_CONFIG, else ./cog.json when it
 * exists (*named false then), else NULL. */
const char *cli_config_path(bool *named);
/* Read and check the config file: *json its text (cJSON_free), NULL when
 * there is none; *path_out (may be NULL) its path. A file that cannot be
 * read, is not JSON (the message names the line and column) or whose
 * "mcpServers" is not an object of objects is CLI_USAGE (printed). */
int cli_config_load(const cli *c, const char **path_out, char **json);
/* The JSON of server NAME in "mcpServers" (cJSON_free). Not declared, or no
 * config file: CLI_USAGE (printed). */
int cli_config_mcp_server(const cli *c, const char *name, char **server_json);
int cmd_mcp(cli *c, int argc, char **argv);             /* cmd_mcp.c */
/* Output of the MCP commands (cmd_mcp_print.c). s without terminal control
 * (control bytes but newline and tab, and C1 characters, as \xNN) into out. */
void cli_mcp_sanitize(const char *s, char *out, size_t cap);
/* A tools/list array as a NAME / DESCRIPTION table cut to the terminal. */
void cli_mcp_print_tools(const char *tools_json);
/* A CallToolResult: its text contents, a line for each other content,
 * structuredContent as JSON. */
void cli_mcp_print_result(const char *result_json);
/* The text contents of a CallToolResult (isError), joined by newlines. */
void cli_mcp_error_text(const char *result_json, char *out, size_t cap);
/* The servers of the config file (path NULL: none) as lines or JSON. */
int cli_mcp_print_servers(const cli *c, const char *path, const char *config_json);
/* Whether COG_LOG_LEVEL is set: then the server's standard error and log
 * messages (records with "mcp" in their fields) are shown, else only the
 * library's own warnings. */
bool cli_mcp_log_level_set(void);
/* The log hook (user_data: the cli) and, with COG_LOG_LEVEL, the event
 * hook (progress as "progress: 1/2"), on stderr without terminal control. */
void cli_mcp_log_line(int level, const char *line, void *user_data);
void cli_mcp_on_event(const char *event, void *user_data);

#endif
