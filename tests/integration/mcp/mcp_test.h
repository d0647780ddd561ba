/*
 * What the MCP integration tests share: where the reference servers from
 * npm are (tests/peers/node_modules), argv arrays that start them over
 * stdio, server-everything over streamable HTTP as a peer, and a log hook
 * that keeps every record for the test to look at.
 */
#ifndef MCP_TEST_H
#define MCP_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <cognition.h>

#include "peer.h"

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

/* ---- the stdio tests ---- */

/* cog_mcp_connect, the test fails unless it works. */
cog_mcp *mcp_test_connect(cog_ctx *ctx, cog_mcp_options *o);

/* Options (initialized here) for our fault server, tests/peers/mcp_fault.py,
 * named "fault", with `flags` (up to 7, NULL-terminated; static argv until
 * the next call). */
void mcp_test_fault_options(cog_mcp_options *o, const char *const *flags);

/* The text of a CallToolResult's first content item (a copy to free()). */
char *mcp_test_first_text(const char *result_json);

/* tools/call of `tool` with args_json; on COG_OK *text (when not NULL) is
 * the first text content (to free()), else NULL. */
int mcp_test_call(cog_mcp *m, const char *tool, const char *args_json,
                  unsigned int timeout_ms, char **text);

/* The server's pid and whether it runs, from cog_mcp_server_info. */
pid_t mcp_test_server_pid(cog_mcp *m, bool *running);

/* After close, the child is reaped: no zombie is left. */
void mcp_test_assert_reaped(pid_t pid);

/* ---- the HTTP tests (test_mcp_http.c, test_mcp_http_faults.c) ---- */

/* cog_mcp_connect to `url` as server "web" with `token` (NULL: none);
 * the test fails unless it works. */
cog_mcp *mcp_test_http_connect(cog_ctx *ctx, const char *url, const char *token);

/* cog_mcp_call_tool of `tool`; the test fails unless it works. The
 * CallToolResult JSON (to cog_free()). */
char *mcp_test_call_json(cog_mcp *m, const char *tool, const char *args_json);

/* The session id from cog_mcp_server_info (a copy to free()); the test
 * fails unless the transport is "http" and there is one. */
char *mcp_test_session_id(cog_mcp *m);

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
