/*
 * Private to the streamable HTTP transport of lib/mcp (http.c,
 * http_headers.c, http_read.c, http_status.c, http_stream.c): its state,
 * the headers every request carries, the reader of answers (a JSON body or
 * a text/event-stream) and the GET stream.
 *
 * Spec: MCP "Transports", streamable HTTP (2025-11-25). Every message is a
 * POST to the one URL; a request is answered by a JSON body or an SSE
 * stream; a GET opens a stream for what the server sends unasked; a stream
 * that broke is resumed by a GET with Last-Event-ID; DELETE ends the session.
 */
#ifndef COG_MCP_HTTP_INT_H
#define COG_MCP_HTTP_INT_H

#include "cognition/transport.h"
#include "llm_int.h"
#include "mcp_int.h"

#define MCP_HTTP_RETRY_DEFAULT_MS 1000L
#define MCP_HTTP_RETRY_MAX_MS 30000L
#define MCP_HTTP_DELETE_TIMEOUT_MS 2000u
/* A notification's POST (it gets 202 at once) */
#define MCP_HTTP_NOTIFY_TIMEOUT_MS 5000u
/* The GET stream lives as long as the connection: a day per transfer. */
#define MCP_HTTP_STREAM_TIMEOUT_MS 86400000u
#define MCP_HTTP_HEAD_MAX 200         /* body start kept for messages */
/* Bodies not delivered (the answer to a notification or a response, a
 * non-2xx answer): read up to this much, then the transfer is ended. */
#define MCP_HTTP_UNREAD_MAX 65536u
/* Longer SSE event ids are ignored (they go back as Last-Event-ID). */
#define MCP_HTTP_EVENT_ID_MAX 1024u
/* initialize: how long its stream may stay open after the answer before
 * we end it (a stream that ends by itself keeps the connection). */
#define MCP_HTTP_INIT_GRACE_MS 200u

typedef struct mcp_http {
	cog_mcp *m;
	pthread_mutex_t lock;         /* the members below */
	pthread_cond_t cond;          /* wakes the GET thread's waits */
	char *session_id;             /* what the server gave, or NULL */
	bool ready;                   /* initialize done (ready() ran) */
	int busy;                     /* sends in progress */
	bool expired;                 /* the server forgot our session (404) */
	/* Why initialize's session id is unknown (cog_malloc), or NULL: every
	 * later send and ready() fail with it. */
	char *init_error;
	atomic_bool stopping;         /* stop() began: transfers end */
	/* The GET stream. */
	pthread_t get_thread;
	bool get_started;
	atomic_bool get_stop;
	bool get_open;                /* bytes of an event stream arrived */
	long get_retry_ms;            /* its last retry: value, -1 none */
	unsigned int reconnects;
} mcp_http;

/* ---- headers (http_headers.c) ---- */

/* MCP_HTTP_POST_INIT: the POST of initialize, without the
 * MCP-Protocol-Version a session before it may have agreed on. */
enum { MCP_HTTP_POST, MCP_HTTP_POST_INIT, MCP_HTTP_GET, MCP_HTTP_DELETE };

typedef struct mcp_http_headers {
	const char **lines;
	size_t count;
	char *owned[4];
} mcp_http_headers;

/* The lines a request of `kind` carries: Accept (and Content-Type for a
 * POST), mcp-session-id, MCP-Protocol-Version once initialized,
 * Authorization, the configured headers, Last-Event-ID when not NULL. */
int mcp_http_headers_make(mcp_http *h, int kind, const char *last_event_id,
                          mcp_http_headers *out);
void mcp_http_headers_dispose(mcp_http_headers *hd);

/* Keep the mcp-session-id a 2xx answer carries (the first one given
 * stays). 0, or COG_EPROTO when it is not visible ASCII or too long. */
int mcp_http_take_session_id(mcp_http *h, const cog_http_response *resp);

/* ---- messages (http_status.c) ---- */

/* The URL for messages: up to its query (which may hold a key). */
void mcp_http_url_for_message(const mcp_http *h, char *out, size_t size);

/* The status for a non-2xx answer, with a message naming the request:
 * 401/403 COG_EDENIED, 404 with a session: the session expired
 * (mcp_transport_lost, COG_EUNAVAILABLE), other 4xx COG_EPROTO, 5xx
 * COG_EUNAVAILABLE. head: the start of the body. */
int mcp_http_status_error(mcp_http *h, const char *method, int status,
                          const char *head);

/* ---- sending (http.c) ---- */

/* Whether a transfer that failed with rc may be resumed from its last
 * event id (the stream broke: COG_EIO, COG_EPROTO). */
bool mcp_http_resumable(int rc);

/* Whether a transfer should stop (is_canceled of the POSTs of requests
 * and of resuming their streams): the connection stops, the transport
 * does, or the ctx is canceled. */
int mcp_http_is_canceled(void *user_data);

/* Perform req: through the ctx (in_ctx: its cancel ends the transfer) or
 * straight on its transport (the sends that must outlive a cancel of the
 * ctx: notifications, responses, DELETE, the GET stream). */
int mcp_http_perform(mcp_http *h, cog_http_request *req, bool in_ctx,
                     cog_http_response *resp);

/* ---- reading an answer (http_read.c) ---- */

enum { MCP_BODY_UNKNOWN, MCP_BODY_JSON, MCP_BODY_SSE };

typedef struct mcp_http_reader {
	mcp_http *h;
	int64_t id;                   /* the request answered here, or 0 */
	bool want;                    /* whether a response to id is awaited */
	bool stop_when_answered;      /* end the transfer once it arrived */
	bool answered;
	uint64_t answered_ns;         /* when (cog_clock_mono_ns) */
	bool stopped;                 /* we ended the transfer ourselves */
	bool on_get_stream;           /* marks the stream open on first bytes */
	/* The answer to a notification or a response (the spec: 202, no
	 * body): whatever body comes is not delivered. */
	bool ignore;
	/* A non-2xx answer (its status known at its first byte): its body is
	 * kept for the message only, not delivered. */
	bool held;
	bool started;                 /* the first byte of this body came */
	/* Messages wait for room in the queue until then (0: no deadline:
	 * the GET stream). */
	uint64_t deadline_ns;
	/* The response being filled: a transport may set its status before
	 * the first chunk (libcognition-curl does); NULL or 0: unknown. */
	const cog_http_response *resp;
	char last_id[MCP_HTTP_EVENT_ID_MAX + 1]; /* "" none; outlives reset */
	bool id_warned;
	int mode;                     /* MCP_BODY_* */
	cog_buf json;                 /* a JSON body being accumulated */
	char head[MCP_HTTP_HEAD_MAX + 1]; /* the body's start, for messages */
	size_t head_len;
	llm_sse sse;
	size_t events;                /* events with data received */
	size_t bytes;
} mcp_http_reader;

void mcp_http_reader_init(mcp_http_reader *r, mcp_http *h, int64_t id,
                          bool want);
/* Forget the body read so far (a new transfer), keep id/answered and the
 * last event id. */
void mcp_http_reader_reset(mcp_http_reader *r);
void mcp_http_reader_dispose(mcp_http_reader *r);
/* The on_chunk callback (user data: the reader). */
int mcp_http_on_chunk(const char *data, size_t len, void *user_data);
/* After a 2xx: hand a JSON body on (no-op for SSE). 0, or COG_EPROTO when
 * it is not JSON. */
int mcp_http_reader_finish_json(mcp_http_reader *r);
/* The SSE stream's last event id (or NULL) and retry: value (-1). */
const char *mcp_http_reader_last_id(const mcp_http_reader *r);
long mcp_http_reader_retry(const mcp_http_reader *r);

/* ---- resuming, the GET stream (http_stream.c) ---- */

/* The request's SSE stream ended before its response: resume it with
 * GETs carrying Last-Event-ID until the response arrives or deadline_ns.
 * last_id: where to resume from (not NULL). */
int mcp_http_resume(mcp_http *h, mcp_http_reader *r, uint64_t deadline_ns);

int mcp_http_get_start(mcp_http *h);
void mcp_http_get_stop(mcp_http *h);

#endif /* COG_MCP_HTTP_INT_H */
