/*
 * libcognition: the Model Context Protocol client.
 *
 * A cog_mcp is one connection to one MCP server, over stdio (the library
 * starts the server as a child process and speaks newline-delimited
 * JSON-RPC 2.0 on its stdin/stdout) or over streamable HTTP (POST and GET
 * to one URL through the context's transport). Connecting runs the MCP
 * lifecycle: initialize with version negotiation (the newest version is
 * offered; 2025-11-25, 2025-06-18, 2025-03-26 and 2024-11-05 are accepted),
 * then notifications/initialized.
 *
 * The server's tools become cog tools in the context's registry
 * (cog_mcp_define_tools), named "<prefix><tool>", so that permissions,
 * approvals, schema validation and the audit log apply to them as to any
 * tool; the registry follows notifications/tools/list_changed. Resources
 * and prompts are available to the host through the calls below, and any
 * other request through cog_mcp_request().
 *
 * What the server sends unasked: notifications/message (logging) goes to
 * the context's log hook, notifications/progress and the other
 * notifications to its event hook ("mcp.progress", "mcp.notification"),
 * the server's standard error (stdio) to the log hook, one line a record.
 * Requests from the server (sampling/createMessage, elicitation/create,
 * roots/list, ...) go to the request handler of the options; without one
 * they are answered with a JSON-RPC error saying that the client does not
 * support them (ping is always answered).
 *
 * Threads: a cog_mcp may be used by several threads at once (requests are
 * multiplexed on the one connection). Hooks and handlers run on the
 * connection's own threads; a handler must not wait for an answer of the
 * same server. cog_mcp_close() must not race other calls on the handle
 * (tool calls through the registry may: they end with an error).
 *
 * The cog_ctx must outlive its connections: close them before
 * cog_ctx_free() (cog_mcp_close removes their tools from the ctx's
 * registry, and their threads log through the ctx).
 *
 * Child processes (stdio): the library waits for its server processes
 * itself (waitpid on their pids) and signals their process groups. A
 * host that sets SIGCHLD to SIG_IGN, or reaps every child itself
 * (waitpid(-1, ...) or a SIGCHLD handler doing so), takes that away: the
 * library can then no longer report how a stdio server exited, and a
 * signal meant for an exited server's process group may reach a group
 * that reuses its id. Don't do that while stdio connections are open;
 * wait for your own children by their pids.
 */
#ifndef COGNITION_MCP_H
#define COGNITION_MCP_H

#include <stddef.h>

#include "common.h"
#include "ctx.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cog_mcp cog_mcp;

/* The newest protocol version the client speaks (offered first). */
#define COG_MCP_PROTOCOL_VERSION "2025-11-25"

/*
 * Answers a request the server sends (method, its params as JSON text or
 * NULL). Return 0 with *result_json (cog_malloc'd JSON object) as the
 * result, or a negative status with cog_error_set() saying why (sent as a
 * JSON-RPC error; COG_ENOTFOUND becomes "method not found"). Runs on the
 * connection's dispatch thread.
 */
typedef int (*cog_mcp_request_fn)(const char *method, const char *params_json,
                                  char **result_json, void *user_data);

/* Flags (cog_mcp_options.flags). */
#define COG_MCP_NO_GET_STREAM  0x1u  /* HTTP: do not open the GET stream */
#define COG_MCP_NO_PROGRESS    0x2u  /* do not ask for progress of calls */

typedef struct cog_mcp_options {
	unsigned int version;
	/* The server's name: 1..32 of [A-Za-z0-9_-]; names its tools' prefix
	 * ("<name>__"), its log records and events. */
	const char *name;

	/* stdio: exactly one of argv and url. argv[0] is looked up in PATH
	 * unless it has a '/'. */
	const char *const *argv;      /* NULL-terminated */
	const char *const *envp;      /* "K=V" added to (or replacing in) the
	                                 inherited environment; NULL-terminated */
	const char *cwd;              /* NULL: the host's */

	/* streamable HTTP: an http:// or https:// URL (through the
	 * context's transport, which must be set). */
	const char *url;
	const char *bearer_token;     /* sent as "Authorization: Bearer ..." */
	const char *const *headers;   /* more "Name: value" headers */
	size_t header_count;

	/* Tools the connection exposes: a JSON array of globs (* and ?) over
	 * the server's tool names; NULL: all. Others are neither defined nor
	 * callable (COG_EDENIED). */
	const char *allowed_tools;
	unsigned int timeout_ms;      /* per request; 0: 60000 */
	unsigned int connect_timeout_ms; /* start + initialize; 0: 30000 */
	/* How many times the connection comes up again before it fails for
	 * good (0: never), at the next request after it went down. stdio: a
	 * server that exits is started again. HTTP: an expired session (HTTP
	 * 404 on its mcp-session-id) is initialized again, as a new session,
	 * as the MCP spec demands: whatever max_restarts says when the
	 * expired session had answered at least one request (once per such
	 * expiry: not counted here), counted here otherwise (a server that
	 * expires every session at once cannot make us loop). Calls in
	 * flight when it goes down fail with COG_EUNAVAILABLE either way.
	 * After a restart, tools defined with cog_mcp_define_tools are
	 * listed again, and what the previous process or session sent that
	 * was not yet handled is dropped. */
	unsigned int max_restarts;
	size_t max_message_bytes;     /* one incoming message; 0: 16 MiB */
	unsigned int flags;           /* COG_MCP_* */
	cog_mcp_request_fn on_request; /* server-initiated requests; NULL: refused */
	void *request_user_data;
} cog_mcp_options;

#define COG_MCP_OPTIONS_VERSION 1
#define COG_MCP_OPTIONS_INIT { COG_MCP_OPTIONS_VERSION, NULL, NULL, NULL, NULL, \
	NULL, NULL, NULL, 0, NULL, 0, 0, 0, 0, 0, NULL, NULL }

/* Set `options` to the defaults of `version`. COG_EVERSION if unknown. */
COG_API int cog_mcp_options_init(cog_mcp_options *options, unsigned int version);

/*
 * Connect: start the server (stdio) or reach the URL, and initialize.
 * Strings are copied. On success *out is the connection (cog_mcp_close).
 * Errors: COG_EINVAL (bad options; the message names which),
 * COG_ENOTFOUND (the program is not found), COG_EUNAVAILABLE (the server
 * exited or could not be reached; the message has the end of its standard
 * error), COG_ETIMEOUT, COG_EPROTO (the server answered something that is
 * not MCP, or a protocol version the client does not speak), COG_EDENIED
 * (HTTP 401/403), COG_ECANCELED, COG_EVERSION, COG_ENOMEM.
 */
COG_API int cog_mcp_connect(cog_mcp **out, cog_ctx *ctx,
                            const cog_mcp_options *options);

/*
 * Connect as cog_mcp_connect, with the server described by JSON, as in a
 * configuration file (the "mcpServers" entries most MCP hosts use):
 *   {"command":"npx","args":["-y","server"],"env":{"K":"V"},"cwd":"/dir"}
 *   {"url":"http://127.0.0.1:3001/mcp","headers":{"X-Key":"v"},
 *    "bearer_token_env":"MY_TOKEN"}
 * plus optional "allowed_tools":["glob",..], "timeout_ms",
 * "connect_timeout_ms", "max_restarts", "max_message_bytes". `name` is
 * the server's name. Unknown members are refused (COG_EINVAL naming them).
 */
COG_API int cog_mcp_connect_json(cog_mcp **out, cog_ctx *ctx, const char *name,
                                 const char *server_json);

/*
 * Orderly shutdown (before cog_ctx_free of its ctx): remove the tools it
 * defined from the ctx's registry, fail calls in flight with
 * COG_ECANCELED, end the session (HTTP: DELETE with the session id; stdio:
 * close the server's stdin, then SIGTERM after 2 s and SIGKILL after 5 s)
 * and free the handle. Tool calls already running in the registry finish
 * with an error. NULL-safe.
 */
COG_API void cog_mcp_close(cog_mcp *mcp);

/*
 * What initialize told, as JSON to cog_free():
 * {"name":"<our name>","transport":"stdio"|"http","protocolVersion":"...",
 *  "serverInfo":{...},"capabilities":{...},"instructions":"..."|null,
 *  "session_id":".."|null,"restarts":N,"connected":true|false}
 */
COG_API int cog_mcp_server_info(cog_mcp *mcp, char **json);

/*
 * Send a request and wait for its result (JSON text to cog_free()).
 * params_json: a JSON object or NULL. timeout_ms 0: the connection's.
 * On timeout or cancellation (cog_ctx_cancel) notifications/cancelled is
 * sent to the server.
 * Errors: COG_EINVAL, COG_ETIMEOUT, COG_ECANCELED, COG_EUNAVAILABLE (the
 * connection is down), COG_EPROTO (a malformed answer), COG_ERROR (the
 * server answered with a JSON-RPC error: the message has its code and
 * message; cog_mcp_last_error_code() its code), COG_ENOMEM.
 */
COG_API int cog_mcp_request(cog_mcp *mcp, const char *method,
                            const char *params_json, unsigned int timeout_ms,
                            char **result_json);

/* Send a notification (params_json an object or NULL). COG_EUNAVAILABLE,
 * COG_EINVAL, COG_ENOMEM. */
COG_API int cog_mcp_notify(cog_mcp *mcp, const char *method,
                           const char *params_json);

/* The JSON-RPC error code of the calling thread's last COG_ERROR from this
 * library's MCP calls (e.g. -32601), 0 if none. */
COG_API int cog_mcp_last_error_code(void);

/* ---- tools ---- */

/*
 * The server's tools (every page of tools/list, filtered by
 * allowed_tools) as a JSON array of the MCP tool objects, to cog_free().
 * Errors: those of cog_mcp_request().
 */
COG_API int cog_mcp_list_tools(cog_mcp *mcp, char **json);

/*
 * Call a tool of the server directly (no registry: no permission check,
 * approval or audit; use cog_tool_call on the defined tool for those).
 * *result_json gets the MCP CallToolResult ({"content":[...],
 * "structuredContent":{...},"isError":bool}) whenever the server answered,
 * also when it reports isError (then the return is COG_EUSER and the
 * message holds the error text). Progress notifications go to the event
 * hook. Errors: COG_EDENIED (not in allowed_tools), COG_ESCHEMA
 * (structuredContent does not match the tool's outputSchema), and those
 * of cog_mcp_request().
 */
COG_API int cog_mcp_call_tool(cog_mcp *mcp, const char *tool,
                              const char *arguments_json, unsigned int timeout_ms,
                              char **result_json);

/*
 * Define the server's tools (allowed_tools) in the context's registry as
 * "<prefix><tool>" (prefix NULL: "<name>__"; characters outside
 * [A-Za-z0-9_-] become '_', names cut to 64 bytes with a hash). Each
 * keeps its description and inputSchema (validated by the library's
 * validator); annotations set the flags (readOnlyHint: COG_TOOL_IDEMPOTENT,
 * else COG_TOOL_SIDE_EFFECTS; openWorldHint is not a network grant: the
 * server reaches what it reaches). A call returns the CallToolResult
 * without isError; a result with isError is a tool error whose message is
 * the result's text. flags are added to every tool (e.g.
 * COG_TOOL_NEEDS_APPROVAL). The definitions follow tools/list_changed
 * and go with cog_mcp_close().
 * Errors: COG_EEXISTS (a tool of such a name exists and is not this
 * connection's), the errors of cog_mcp_list_tools() and cog_tool_define().
 */
COG_API int cog_mcp_define_tools(cog_mcp *mcp, const char *prefix,
                                 unsigned int flags);

/* ---- resources and prompts ---- */

/* Every page of resources/list: a JSON array of resources, to cog_free(). */
COG_API int cog_mcp_list_resources(cog_mcp *mcp, char **json);
/* resources/read of `uri`: the result ({"contents":[...]}), to cog_free(). */
COG_API int cog_mcp_read_resource(cog_mcp *mcp, const char *uri, char **json);
/* Every page of prompts/list: a JSON array of prompts, to cog_free(). */
COG_API int cog_mcp_list_prompts(cog_mcp *mcp, char **json);
/* prompts/get of `name` with arguments (a JSON object of strings, or
 * NULL): the result ({"description","messages":[...]}), to cog_free(). */
COG_API int cog_mcp_get_prompt(cog_mcp *mcp, const char *name,
                               const char *arguments_json, char **json);

#ifdef __cplusplus
}
#endif

#endif /* COGNITION_MCP_H */
