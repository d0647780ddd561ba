/*
 * Private interface of lib/mcp: the MCP client. Not installed; not part of
 * the ABI. The files of the module and what each owns:
 *
 *   options.c      cog_mcp_options_init, checking and copying options
 *   config.c       cog_mcp_connect_json: a server described by JSON
 *   conn.c         cog_mcp_connect/close: lifecycle, initialize
 *                  and version negotiation, starting and stopping the
 *                  transport, references
 *   conn_restart.c the transport lost, restart (a stdio server that
 *                  exited, an HTTP session that expired): mcp_ensure_up
 *   rpc.c          requests and their waiters (ids, timeouts, cancel,
 *                  notifications/cancelled)
 *   rpc_send.c     the sends: to one transport generation only, numbered;
 *                  requests, notifications, responses
 *   rpc_errors.c   what a failed request says: the error answered, errors
 *                  with id null, timeout/cancel messages; the thread's last
 *                  JSON-RPC error code
 *   api.c          cog_mcp_request/notify/server_info
 *   receive.c      incoming messages: classified, responses to their
 *                  waiters; server notifications and requests into a
 *                  bounded queue for the dispatch thread
 *   dispatch.c     the dispatch thread (logging → log hook, progress and
 *                  others → event hook, list_changed → tools refresh,
 *                  requests → on_request or "not supported", ping answered)
 *   stdio.c        the stdio transport: spawn, reader, stderr → log, write,
 *                  exit detection, stop (stdio_spawn.c: the child process)
 *   http.c         the streamable HTTP transport: POST, JSON or SSE answers,
 *                  session id, DELETE (http_stream.c: the GET stream and
 *                  resuming a dropped stream with Last-Event-ID)
 *   tools.c        tools/list (pages), allowed_tools, tools/call and its
 *                  result checks (tools_define.c: cog tools in the registry
 *                  and their refresh)
 *   resources.c    resources and prompts
 *
 * Layering: lib/mcp sits above tool (it defines cog tools through the
 * public tool API) and llm (it reuses the SSE reader, llm_int.h).
 *
 * Locking order: m->lock, then nothing else of the connection; the
 * transport's own locks are never held while calling into conn/rpc/receive
 * except mcp_receive() and mcp_should_stop(), which take m->lock briefly
 * (the stdio writer calls mcp_should_stop() under its write lock while a
 * write is blocked). Every condition variable waits with m->lock, and each
 * has one reason to be signalled, so that a wake-up reaches only the
 * threads it concerns: a pending request's own (its answer or its failure;
 * CLOCK_MONOTONIC: timed waits take monotonic times), the queue's items
 * (the dispatcher) and room (a reader blocked on a full queue), and the
 * restarts' (a restart ended, or close). m->life is taken with no other
 * lock held (m->lock is taken under it, never the reverse).
 */
#ifndef COG_MCP_INT_H
#define COG_MCP_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core_int.h"
#include "cognition/ctx.h"
#include "cognition/mcp.h"

/* Protocol versions we speak, newest first (NULL-terminated). */
extern const char *const mcp_protocol_versions[];
/* Whether v is one of them. */
bool mcp_protocol_known(const char *v);

#define MCP_DEFAULT_TIMEOUT_MS 60000u
#define MCP_DEFAULT_CONNECT_TIMEOUT_MS 30000u
#define MCP_DEFAULT_MAX_MESSAGE ((size_t)16 << 20)
#define MCP_QUEUE_MAX 256            /* queued notifications/server requests */

/* JSON-RPC error codes. */
#define MCP_PARSE_ERROR      (-32700)
#define MCP_INVALID_REQUEST  (-32600)
#define MCP_METHOD_NOT_FOUND (-32601)
#define MCP_INVALID_PARAMS   (-32602)
#define MCP_INTERNAL_ERROR   (-32603)

typedef struct cog_mcp cog_mcp;

/* ---- options.c: the connection's own copy of its options ---- */

typedef struct mcp_config {
	char *name;
	char **argv;                 /* NULL-terminated, or NULL for HTTP */
	char **envp;                 /* NULL-terminated, or NULL */
	char *cwd;
	char *url;
	char *bearer_token;
	char **headers;              /* header_count entries */
	size_t header_count;
	cJSON *allowed_tools;        /* array of glob strings, or NULL: all */
	unsigned int timeout_ms;     /* defaults applied */
	unsigned int connect_timeout_ms;
	unsigned int max_restarts;
	size_t max_message_bytes;
	unsigned int flags;
	cog_mcp_request_fn on_request;
	void *request_user_data;
} mcp_config;

/* Check options (COG_EINVAL naming the member, COG_EVERSION) and copy them
 * with defaults applied. */
int mcp_config_from_options(mcp_config *cfg, const cog_mcp_options *options);
void mcp_config_dispose(mcp_config *cfg);
/* Whether the server's tool `name` passes allowed_tools. */
bool mcp_tool_allowed(const mcp_config *cfg, const char *name);

/* ---- the transports ---- */

/* What a send carries (the HTTP transport answers requests in the POST). */
enum { MCP_SEND_REQUEST, MCP_SEND_NOTIFICATION, MCP_SEND_RESPONSE };

typedef struct mcp_transport_ops {
	const char *kind;            /* "stdio" or "http" */
	/* Start: spawn the server / nothing to do for HTTP. Sets up
	 * m->transport. COG_ENOTFOUND, COG_EUNAVAILABLE, COG_ENOMEM. */
	int (*start)(cog_mcp *m);
	/* Send one serialized message (no newline). May be called from any
	 * thread, concurrently: the transport serializes what must be.
	 * For MCP_SEND_REQUEST the HTTP transport POSTs and feeds what the
	 * answer holds to mcp_receive() before returning (it may block until
	 * `deadline_ns`, a cog_clock_mono_ns() time, and polls
	 * mcp_should_stop()); stdio just writes. id: the request's id (0 for
	 * others). Errors: COG_EUNAVAILABLE (down), COG_ETIMEOUT, COG_ECANCELED,
	 * COG_EPROTO, COG_EDENIED (HTTP 401/403), COG_EUNAVAILABLE after
	 * mcp_transport_lost() (HTTP 404 on a session: expired), COG_EIO. */
	int (*send)(cog_mcp *m, const char *json, size_t len, int what,
	            int64_t id, uint64_t deadline_ns);
	/* After a successful initialize (HTTP: remember nothing more; open the
	 * GET stream unless COG_MCP_NO_GET_STREAM). Optional. */
	int (*ready)(cog_mcp *m);
	/* Stop and release everything the transport holds (stdio: close
	 * stdin, wait up to 2 s, SIGTERM, SIGKILL after 5 s, join threads;
	 * HTTP: DELETE the session, stop the GET stream). Must be safe after a
	 * failed start and after the server died. Never blocks > ~8 s. */
	void (*stop)(cog_mcp *m);
	/* Append what the transport knows of its server to info (pid, exit
	 * status, session id); optional. */
	void (*describe)(cog_mcp *m, cJSON *info);
} mcp_transport_ops;

extern const mcp_transport_ops mcp_stdio_ops;   /* stdio.c */
extern const mcp_transport_ops mcp_http_ops;    /* http.c */

/* ---- the connection ---- */

/* One request waiting for its response (rpc.c). */
typedef struct mcp_pending {
	int64_t id;
	bool done;
	int status;                  /* 0, or the failure (transport lost: ...) */
	cJSON *result;               /* the result member, owned */
	cJSON *error;                /* the error member, owned */
	char *why;                   /* failure text when status != 0 */
	const char *progress_token;  /* for progress events, or NULL */
	bool id_null;                /* error is one the server sent with id
	                                null while this was the only waiter */
	unsigned int generation;     /* m->generation when it was registered:
	                                it is sent to that transport or none */
	uint64_t send_seq;           /* m->send_seq of its send, 0: not sent */
	/* Signalled (under m->lock) when done is set, and when the caller
	 * must look again (close); only its caller waits on it. */
	pthread_cond_t cond;
	struct mcp_pending *next;
} mcp_pending;

/* A queued notification or server request (receive.c). */
typedef struct mcp_queued {
	cJSON *msg;
	unsigned int generation;     /* m->generation when it arrived */
	struct mcp_queued *next;
} mcp_queued;

struct cog_mcp {
	cog_ctx *ctx;
	mcp_config cfg;
	const mcp_transport_ops *ops;
	void *transport;             /* the transport's state */
	atomic_int refs;             /* the handle + each tool runner in a call
	                                + each request in mcp_request_raw */
	/* Sends (rpc.c) and ops->ready/describe hold it for reading,
	 * ops->start/stop (conn.c) for writing: no send ever sees a transport
	 * being started, stopped or freed. Prefers readers: a send blocked in
	 * mcp_receive() on a full queue lets the dispatcher's responses in
	 * even while a stop waits. */
	pthread_rwlock_t life;

	pthread_mutex_t lock;        /* everything below */
	pthread_condattr_t cond_attr; /* CLOCK_MONOTONIC, for mcp_pending.cond */
	pthread_cond_t restart_cond; /* restarting ended; closing */
	pthread_cond_t queue_items;  /* the queue got an item; dispatcher_stop */
	pthread_cond_t queue_room;   /* the queue got room; closing,
	                                dispatcher_stop, transport_stopping */
	int64_t next_id;
	mcp_pending *pending;
	bool connected;              /* initialized and transport up */
	bool closing;                /* cog_mcp_close began */
	bool restarting;
	bool transport_stopping;     /* a stop waits for (or holds) `life` */
	unsigned int restarts;       /* every restart (cog_mcp_server_info) */
	unsigned int free_restarts;  /* of them, HTTP re-inits of a session that
	                                expired after answering: not counted
	                                against max_restarts */
	bool session_answered;       /* a request was answered since the last
	                                initialize (rpc.c sets it) */
	unsigned int generation;     /* +1 at each transport start (conn.c);
	                                queued messages of an older one are
	                                dropped (dispatch.c) */
	char *down_reason;           /* why the transport went down, or NULL */
	uint64_t send_seq;           /* +1 at each message sent (mcp_send) */
	/* The last error response with id null that could not be given to a
	 * single waiter (rpc_errors.c), and m->next_id when it came: requests
	 * with smaller ids that time out say it. */
	char *orphan_error;
	int64_t orphan_error_next_id;

	/* What initialize said. */
	char *protocol_version;
	cJSON *server_info;
	cJSON *capabilities;
	char *instructions;

	/* Dispatch queue (receive.c fills it, dispatch.c drains it). */
	mcp_queued *queue_head, *queue_tail;
	size_t queue_len;
	pthread_t dispatcher;
	bool dispatcher_started;
	bool dispatcher_stop;

	/* Tools (tools*.c). */
	pthread_mutex_t tools_lock;
	cJSON *tools;                /* last tools/list (allowed only), or NULL */
	char *tool_prefix;           /* set by cog_mcp_define_tools, else NULL */
	unsigned int tool_flags;
	cJSON *defined;              /* object: cog name -> server tool name */
	bool refresh_running, refresh_again;
	pthread_t refresh_thread;
	bool refresh_thread_started;
	void *tool_schemas;          /* compiled outputSchemas (tools_schema.c) */
};

/* Take and drop a reference. The last drop frees the handle (conn.c). */
void mcp_ref(cog_mcp *m);
void mcp_unref(cog_mcp *m);

/* Whether the connection is being closed, its transport stopped (sends
 * in progress should end), or the ctx canceled. */
bool mcp_should_stop(cog_mcp *m);

/* Log through the ctx with {"mcp":name} in the fields (fields consumed,
 * may be NULL). */
void mcp_log(cog_mcp *m, int level, cJSON *fields, const char *fmt, ...)
	COG_PRINTF(4, 5);

/* ---- conn.c ---- */

/* Stop and free the transport once no send is in it (sends in progress
 * see mcp_should_stop() and end). One stop at a time. */
void mcp_transport_stop(cog_mcp *m);
/* Start the transport and run the lifecycle's first phase (initialize,
 * notifications/initialized, ops->ready) before deadline_ns; the
 * connection is then up. On failure the transport is stopped and the
 * message says why (with the transport's reason). */
int mcp_handshake(cog_mcp *m, uint64_t deadline_ns);

/* ---- conn_restart.c ---- */

/* The transport says the server is gone (stdio: EOF, exit; HTTP: only
 * for a session that expired, HTTP 404 on its mcp-session-id): every
 * pending request fails with COG_EUNAVAILABLE and `why`; the connection
 * is down until a restart (a stdio server started again, an HTTP session
 * initialized again: once for free when the session had answered a
 * request, else max_restarts) makes it up again. Thread-safe; idempotent. */
void mcp_transport_lost(cog_mcp *m, const char *why);

/* Before a request: if the connection is down and restarts remain, start
 * the transport again and initialize (one thread does it, the others
 * wait). 0 when up; COG_EUNAVAILABLE with the reason when down for good. */
int mcp_ensure_up(cog_mcp *m);

/* ---- rpc.c ---- */

/* ops->send under `life` for reading, to the transport of `generation`
 * only. COG_EUNAVAILABLE, nothing sent, when the transport is stopping or
 * stopped, when m->generation is no longer `generation` (a restart replaced
 * the server the message was meant for), or when p (the request's waiter,
 * or NULL) is done already (failed: the caller was told so). Every send
 * goes through it. */
int mcp_send(cog_mcp *m, const char *json, size_t len, int what, int64_t id,
             uint64_t deadline_ns, unsigned int generation, mcp_pending *p);

/*
 * Send request `method` (params consumed, may be NULL) and wait for the
 * answer until timeout_ms (0: cfg.timeout_ms). *result gets the result
 * member (owned by the caller). progress_token: when not NULL, sent as
 * params._meta.progressToken. A JSON-RPC error → COG_ERROR with the
 * message "<method>: server \"<name>\" answered error <code>: <message>"
 * and the code kept
 * for cog_mcp_last_error_code(). On timeout/cancel notifications/cancelled
 * is sent. Does not call mcp_ensure_up() (mcp_request does). Requires the
 * connection up (m->connected: initialized), else COG_EUNAVAILABLE.
 */
int mcp_request_raw(cog_mcp *m, const char *method, cJSON *params,
                    unsigned int timeout_ms, const char *progress_token,
                    cJSON **result);
/* The handshake's own initialize (mcp_handshake), sent before the
 * connection is up, to the transport just started. */
int mcp_request_initialize(cog_mcp *m, cJSON *params, unsigned int timeout_ms,
                           cJSON **result);
/* mcp_ensure_up() then mcp_request_raw(). What every caller but the
 * initialize of conn.c uses. */
int mcp_request(cog_mcp *m, const char *method, cJSON *params,
                unsigned int timeout_ms, const char *progress_token,
                cJSON **result);
/* Send a notification (params consumed, may be NULL) to the server, which
 * must be up (m->connected), else COG_EUNAVAILABLE. */
int mcp_notify(cog_mcp *m, const char *method, cJSON *params);
/* notifications/initialized of the handshake (before it is up). */
int mcp_notify_initialized(cog_mcp *m);
/* A notification to the transport of `generation` only (params consumed). */
int mcp_notify_to(cog_mcp *m, unsigned int generation, const char *method,
                  cJSON *params);
/* Send request `method` (params consumed) of waiter p (registered, with
 * its id and generation) until deadline_ns. */
int mcp_send_request(cog_mcp *m, mcp_pending *p, const char *method,
                     cJSON *params, const char *progress_token,
                     uint64_t deadline_ns);
/* Send a response to a server request of transport `generation` (the
 * queued message's; never to a server that replaced it): id (a copy of the
 * request's id item), result (consumed) or an error code + message. */
int mcp_respond(cog_mcp *m, unsigned int generation, const cJSON *id,
                cJSON *result, int code, const char *message);
/* Resolve the waiter of a response (msg consumed). Unknown ids: logged. */
void mcp_rpc_resolve(cog_mcp *m, cJSON *msg);
/* Take p out of m->pending (under m->lock; nothing when not in it). */
void mcp_rpc_unlink_locked(cog_mcp *m, mcp_pending *p);
/* Fail every waiter with status and why (under m->lock). */
void mcp_rpc_fail_all_locked(cog_mcp *m, int status, const char *why);
/* Wake every waiter to look at the connection again (closing set; under
 * m->lock). */
void mcp_rpc_wake_all_locked(cog_mcp *m);

/* ---- rpc_errors.c ---- */

void mcp_set_last_error_code(int code);
/* The outcome of an answered request p: 0 with *result (taken from p), or
 * the failure it carries (p->status, an error answered: COG_ERROR with the
 * code kept for cog_mcp_last_error_code(), no result: COG_EPROTO). */
int mcp_rpc_take_answer(cog_mcp *m, mcp_pending *p, const char *method,
                        cJSON **result);
/* An error response with id null (the server could not read a request):
 * the one waiter fails with it when exactly one waits and nothing was sent
 * after its request, else it is kept for the timeout messages (msg
 * consumed). */
void mcp_rpc_resolve_id_null(cog_mcp *m, cJSON *msg);
/* Under m->lock: a copy of the id-null error kept since request id was
 * sent (cog_malloc), or NULL. */
char *mcp_rpc_orphan_locked(cog_mcp *m, int64_t id);
/* Set the error of request `method` given up on with rc (COG_ETIMEOUT,
 * COG_ECANCELED; closing: by cog_mcp_close) after waiting since start
 * (cog_clock_mono_ns), saying orphan (may be NULL) when it timed out. */
void mcp_rpc_gave_up_error(cog_mcp *m, const char *method, int rc, bool closing,
                           uint64_t start, unsigned int timeout_ms,
                           const char *orphan);

/* ---- receive.c ---- */

/* One incoming message (an object, or a batch array), consumed. Responses
 * resolve waiters at once; the rest wait in the queue (blocking the caller
 * while it is full: back-pressure on the server; until closing or
 * transport_stopping, then dropped: COG_ECANCELED). Malformed messages are
 * logged and dropped; returns COG_EPROTO for them so the transport may
 * count them, else 0. */
int mcp_receive(cog_mcp *m, cJSON *msg);
/* Parse one message of len bytes and mcp_receive() it (COG_EPROTO for
 * text that is not JSON, logged with its start). */
int mcp_receive_text(cog_mcp *m, const char *text, size_t len);
/* The same, but waiting for room in the queue only until deadline_ns (a
 * cog_clock_mono_ns() time; in slices of <= 50 ms), a ctx cancel, closing
 * or transport_stopping: then the message is dropped with a warning naming
 * the server and COG_ETIMEOUT / COG_ECANCELED is returned. For messages
 * fed on a sending thread (the answer of an HTTP POST). On the dispatcher's
 * own thread neither these nor mcp_receive() ever wait: a message that does
 * not fit is dropped with a warning (COG_ETIMEOUT). */
int mcp_receive_until(cog_mcp *m, cJSON *msg, uint64_t deadline_ns);
int mcp_receive_text_until(cog_mcp *m, const char *text, size_t len,
                           uint64_t deadline_ns);
/* The same for text the transport has checked already with
 * cog_json_validate() (the stdio reader does, to tell JSON from garbage):
 * parsed once, not validated again. */
int mcp_receive_valid(cog_mcp *m, const char *text, size_t len);

/* ---- dispatch.c ---- */

/* Start / stop (drain and join) the dispatch thread. */
int mcp_dispatch_start(cog_mcp *m);
void mcp_dispatch_stop(cog_mcp *m);

/* ---- tools*.c ---- */

/* tools/list_changed arrived: refresh the catalogue and the registry
 * (on a thread of its own; coalesced). */
void mcp_tools_changed(cog_mcp *m);
/* Remove the tools this connection defined and join the refresh thread
 * (cog_mcp_close). */
void mcp_tools_undefine(cog_mcp *m);
/* Every page of a list method ("tools/list", "resources/list", ...):
 * the arrays under `member` concatenated. */
int mcp_list_all(cog_mcp *m, const char *method, const char *member,
                 cJSON **array);

#endif /* COG_MCP_INT_H */
