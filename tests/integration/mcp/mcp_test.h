/*
 * What the MCP integration tests share: where the reference servers from
 * npm are (tests/peers/node_modules), argv arrays that start them over
 * stdio, server-everything over streamable HTTP as a peer, a log hook
 * that keeps every record for the test to look at, our fault servers,
 * JSON look-ups in results and in the registry, and main's runner.
 */
#ifndef MCP_TEST_H
#define MCP_TEST_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <check.h>
#include <cognition.h>

#include "peer.h"

struct cJSON;

/* Fails the test unless expr (a call returning a cog status) gives 0,
 * naming the call, its status and cog_error_last(). */
#define ck_assert_cog(expr) do { \
	int rc_ = (expr); \
	ck_assert_msg(rc_ == 0, "%s -> %d: %s", #expr, rc_, cog_error_last()); \
} while (0)

/* Runs the suite (CK_NORMAL) and frees it with its runner: main's exit
 * status, EXIT_SUCCESS when no test failed. */
int mcp_test_run(Suite *suite);

/* The reference servers. */
enum { MCP_EVERYTHING, MCP_FILESYSTEM, MCP_MEMORY };

/* An argv (NULL-terminated, static storage until the next call for the
 * same server) that runs `server` over stdio with node: server-everything
 * gets "stdio", server-filesystem gets `arg` (the allowed folder);
 * server-memory ignores `arg` (set MEMORY_FILE_PATH through envp).
 * Fails the test (ck_abort) when the package is not installed. */
const char *const *mcp_test_argv(int server, const char *arg);

/* server-everything over streamable HTTP on a free loopback port; the URL
 * to POST to (".../mcp") into url. Fails the test when it cannot start. */
peer *mcp_test_start_http(char *url, size_t url_size);

/* The path of tests/peers/<file> (fault servers written for the tests). */
void mcp_test_peer_file(char *out, size_t size, const char *file);

/* A log hook keeping every record (thread-safe). */
typedef struct mcp_test_log mcp_test_log;
mcp_test_log *mcp_test_log_new(void);
void mcp_test_log_free(mcp_test_log *log);
void mcp_test_log_fn(int level, const char *line, void *user_data);
/* Whether some record holds `needle`, waiting up to timeout_ms for it. */
bool mcp_test_log_wait(mcp_test_log *log, const char *needle, unsigned int timeout_ms);
/* An event hook keeping every event, same shape. */
void mcp_test_event_fn(const char *event, void *user_data);

/* A context with the curl transport and, when log is not NULL, the log and
 * event hooks writing into it (log level debug). */
cog_ctx *mcp_test_ctx(mcp_test_log *log);
/* A context with the curl transport and the log hook fn(user_data) at
 * `level` (no event hook), for tests that look at records as they come. */
cog_ctx *mcp_test_ctx_log_fn(int level, cog_log_fn fn, void *user_data);

/* ---- JSON ---- */

/* text parsed (cJSON_Delete it); the test fails unless it is JSON. */
struct cJSON *mcp_test_parse(const char *text);
/* The item of `array` whose string member `member` equals name, or NULL. */
const struct cJSON *mcp_test_find_named(const struct cJSON *array, const char *member,
                                        const char *name);
/* The first text item of a parsed CallToolResult (inside result); the
 * test fails when there is none. */
const char *mcp_test_result_text(const struct cJSON *result);
/* The registry's tools matching pattern (cog_tool_list, COG_TOOL_FORMAT_COG),
 * parsed (cJSON_Delete it). */
struct cJSON *mcp_test_registry(cog_ctx *ctx, const char *pattern);

/* ---- servers over stdio ---- */

/* cog_mcp_connect, the test fails unless it works. */
cog_mcp *mcp_test_connect(cog_ctx *ctx, cog_mcp_options *o);

/* Options (initialized here) for server-everything over stdio named `name`. */
void mcp_test_everything_options(cog_mcp_options *o, const char *name);
/* server-everything over stdio named "ev" with allowed_tools (NULL: all);
 * the test fails unless it connects. */
cog_mcp *mcp_test_connect_ev(cog_ctx *ctx, const char *allowed_tools);
/* server-everything over stdio named "everything", with on_request (NULL:
 * none) and its user_data; the test fails unless it connects. */
cog_mcp *mcp_test_connect_everything(cog_ctx *ctx, cog_mcp_request_fn on_request,
                                     void *user_data);

/* Options (initialized here) for our fault server, tests/peers/mcp_fault.py,
 * named "fault", with `flags` (up to 7, NULL-terminated; static argv until
 * the next call). */
void mcp_test_fault_options(cog_mcp_options *o, const char *const *flags);
/* That fault server with `flags`, a connect timeout of 20 s, on_request
 * (NULL: none) and its user_data; the test fails unless it connects. */
cog_mcp *mcp_test_connect_fault(cog_ctx *ctx, const char *const *flags,
                                cog_mcp_request_fn on_request, void *user_data);

/* The text of a CallToolResult's first content item (a copy to free()). */
char *mcp_test_first_text(const char *result_json);

/* tools/call (cog_mcp_request) of `tool` with args_json: the result JSON
 * (to cog_free(); NULL unless *rc is COG_OK), the status in *rc. */
char *mcp_test_call_result(cog_mcp *m, const char *tool, const char *args_json,
                           unsigned int timeout_ms, int *rc);

/* tools/call of `tool` with args_json; on COG_OK *text (when not NULL) is
 * the first text content (to free()), else NULL. */
int mcp_test_call(cog_mcp *m, const char *tool, const char *args_json,
                  unsigned int timeout_ms, char **text);

/* The server's pid and whether it runs, from cog_mcp_server_info. */
pid_t mcp_test_server_pid(cog_mcp *m, bool *running);

/* After close, the child is reaped: no zombie is left. */
void mcp_test_assert_reaped(pid_t pid);

/* ---- the HTTP tests (mcp_test_http.c) ---- */

/* cog_mcp_connect to `url` as server "web" with `token` (NULL: none);
 * the test fails unless it works. */
cog_mcp *mcp_test_http_connect(cog_ctx *ctx, const char *url, const char *token);

/* cog_mcp_call_tool of `tool`; the test fails unless it works. The
 * CallToolResult JSON (to cog_free()). */
char *mcp_test_call_json(cog_mcp *m, const char *tool, const char *args_json);

/* The session id from cog_mcp_server_info (a copy to free()); the test
 * fails unless the transport is "http" and there is one. */
char *mcp_test_session_id(cog_mcp *m);

/* cog_mcp_call_tool of `tool` with args_json (no timeout) on a thread of
 * its own, from mcp_test_bg_call_start to mcp_test_bg_call_join, which
 * returns its status (the result is dropped). Strings outlive the call. */
typedef struct mcp_test_bg_call {
	cog_mcp *m;
	const char *tool;
	const char *args_json;
	int rc;
	pthread_t thread;
} mcp_test_bg_call;
void mcp_test_bg_call_start(mcp_test_bg_call *c, cog_mcp *m, const char *tool,
                            const char *args_json);
int mcp_test_bg_call_join(mcp_test_bg_call *c);

/* tests/peers/mcp_fault_http.py with `flags` (up to 5, NULL-terminated)
 * on a free loopback port; the URL to POST to (".../mcp") into url. */
peer *mcp_test_start_fault_http(char *url, size_t url_size, const char *const *flags);

/* What that fault server saw (GET /stats), parsed (cJSON_Delete it). */
struct cJSON *mcp_test_fault_stats(cog_ctx *ctx, peer *server);
/* stats[member] as an int (the test fails unless it is a number). */
int mcp_test_stats_int(const struct cJSON *stats, const char *member);
/* How many strings of the array stats[member] equal value. */
int mcp_test_stats_count(const struct cJSON *stats, const char *member, const char *value);

#endif
