/*
 * Reading what an MCP server sends back over HTTP, as it arrives: a JSON
 * body (one message or a batch) or a text/event-stream whose events carry
 * one message each. The first non-blank byte decides: '{' or '[' is JSON,
 * anything else an event stream (servers answer with either, whatever
 * Content-Type says). Messages go to mcp_receive() (up to the request's
 * deadline when there is one); the reader notes when the response it
 * waits for went by, and may end the transfer then. Not delivered: the
 * body of the answer to a notification or a response (the spec: 202 and
 * no body), and that of a non-2xx answer (kept for the error message).
 */
#include <string.h>

#include "http_int.h"

/* Whether msg (or, for a batch, one of its members) is the response to
 * request id. */
static bool is_response_to(const cJSON *msg, int64_t id)
{
	if (cJSON_IsArray(msg)) {
		const cJSON *item;
		cJSON_ArrayForEach(item, msg)
			if (is_response_to(item, id))
				return true;
		return false;
	}
	const cJSON *mid = cJSON_GetObjectItemCaseSensitive(msg, "id");
	if (!cJSON_IsNumber(mid) || mid->valuedouble != (double)id)
		return false;
	return cJSON_HasObjectItem(msg, "result") || cJSON_HasObjectItem(msg, "error");
}

/* Parse text[0..len) as exactly one JSON value; NULL when it is not. */
static cJSON *parse_exact(const char *text, size_t len)
{
	const char *end = NULL;
	cJSON *msg = cJSON_ParseWithLengthOpts(text, len, &end, false);
	if (!msg)
		return NULL;
	size_t used = (size_t)(end - text);
	while (used < len && strchr(" \t\r\n", text[used]) && text[used])
		used++;
	if (used < len) {
		cJSON_Delete(msg);
		return NULL;
	}
	return msg;
}

/* Hand msg (consumed) on; a status that ends the transfer when the
 * request's deadline passed or it was canceled while waiting for room in
 * the queue (the message was dropped then), else 0. */
static int deliver(mcp_http_reader *r, cJSON *msg)
{
	if (r->deadline_ns == 0) {
		(void)mcp_receive(r->h->m, msg);
		return 0;
	}
	int rc = mcp_receive_until(r->h->m, msg, r->deadline_ns);
	return rc == COG_ETIMEOUT || rc == COG_ECANCELED ? rc : 0;
}

static void note_answered(mcp_http_reader *r, const cJSON *msg)
{
	if (r->want && !r->answered && is_response_to(msg, r->id)) {
		r->answered = true;
		r->answered_ns = cog_clock_mono_ns();
	}
}

/* One message: delivered; a stop of the transfer once the awaited
 * response went by, when asked. */
static int reader_message(mcp_http_reader *r, const char *text, size_t len)
{
	cog_mcp *m = r->h->m;
	cJSON *msg = parse_exact(text, len);
	if (!msg) {
		/* Logs it with its start; the stream goes on. */
		int rc = r->deadline_ns ? mcp_receive_text_until(m, text, len, r->deadline_ns) :
		         mcp_receive_text(m, text, len);
		return rc == COG_ETIMEOUT || rc == COG_ECANCELED ? rc : 0;
	}
	note_answered(r, msg);
	int rc = deliver(r, msg);
	if (rc)
		return rc;
	if (r->answered && r->stop_when_answered) {
		r->stopped = true;
		return COG_ECANCELED;
	}
	return 0;
}

static void sync_event_id(mcp_http_reader *r);

static int on_event(const char *type, const char *data, size_t data_len,
                    const char *id, void *user_data)
{
	mcp_http_reader *r = user_data;
	(void)id; /* sync_event_id() keeps the last one */
	sync_event_id(r);
	/* Servers send events without data to prime a stream (its first id)
	 * and may use other event types for things that are not messages. */
	if (data_len == 0 || strcmp(type, "message") != 0)
		return 0;
	r->events++;
	return reader_message(r, data, data_len);
}

void mcp_http_reader_init(mcp_http_reader *r, mcp_http *h, int64_t id, bool want)
{
	memset(r, 0, sizeof(*r));
	r->h = h;
	r->last_id[0] = '\0';
	r->id = id;
	r->want = want;
	llm_sse_init(&r->sse, on_event, r);
	r->sse.max_line = h->m->cfg.max_message_bytes;
}

void mcp_http_reader_reset(mcp_http_reader *r)
{
	/* The last event id and retry: outlive a stream (they are what the
	 * next one resumes from). */
	cog_buf id = r->sse.id;
	long retry = r->sse.retry_ms;
	r->sse.id = (cog_buf)COG_BUF_INIT;
	llm_sse_dispose(&r->sse);
	llm_sse_init(&r->sse, on_event, r);
	r->sse.max_line = r->h->m->cfg.max_message_bytes;
	r->sse.id = id;
	r->sse.retry_ms = retry;
	cog_buf_clear(&r->json);
	r->mode = MCP_BODY_UNKNOWN;
	r->head_len = 0;
	r->head[0] = '\0';
	r->stopped = false;
	r->held = false;
	r->started = false;
	r->resp = NULL;
	r->events = 0;
	r->bytes = 0;
}

void mcp_http_reader_dispose(mcp_http_reader *r)
{
	llm_sse_dispose(&r->sse);
	cog_buf_dispose(&r->json);
}

/* Keep the SSE reader's last event id unless it is too long to send back
 * (then the one before stays, with a warning). */
static void sync_event_id(mcp_http_reader *r)
{
	const cog_buf *id = &r->sse.id;
	if (id->len > MCP_HTTP_EVENT_ID_MAX) {
		if (!r->id_warned)
			mcp_log(r->h->m, COG_LOG_WARN, NULL, "mcp http: server \"%s\" sent "
			        "an event id of %zu bytes (over %u): ignored, a resumed "
			        "stream goes on from the last shorter one", r->h->m->cfg.name,
			        id->len, MCP_HTTP_EVENT_ID_MAX);
		r->id_warned = true;
		return;
	}
	if (id->len == 0 || (strlen(r->last_id) == id->len &&
	                     memcmp(r->last_id, id->ptr, id->len) == 0))
		return;
	memcpy(r->last_id, id->ptr, id->len);
	r->last_id[id->len] = '\0';
	r->id_warned = false;
}

static bool status_2xx(int status)
{
	return status >= 200 && status <= 299;
}

/* A body that is not delivered: read up to MCP_HTTP_UNREAD_MAX, then the
 * transfer ends (stopped: it is not a failure). */
static int unread(mcp_http_reader *r)
{
	if (r->bytes <= MCP_HTTP_UNREAD_MAX)
		return 0;
	r->stopped = true;
	return COG_ECANCELED;
}

int mcp_http_on_chunk(const char *data, size_t len, void *user_data)
{
	mcp_http_reader *r = user_data;
	cog_mcp *m = r->h->m;
	r->bytes += len;
	if (r->head_len < MCP_HTTP_HEAD_MAX) {
		size_t n = MCP_HTTP_HEAD_MAX - r->head_len;
		n = n < len ? n : len;
		memcpy(r->head + r->head_len, data, n);
		r->head_len += n;
		r->head[r->head_len] = '\0';
	}
	if (!r->started) {
		r->started = true;
		int status = r->resp ? r->resp->status : 0;
		if (r->ignore)
			mcp_log(m, COG_LOG_DEBUG, NULL, "mcp http: server \"%s\" answered "
			        "a notification or response (HTTP %d) with a body: ignored "
			        "(read up to %u bytes)", m->cfg.name, status,
			        MCP_HTTP_UNREAD_MAX);
		/* 0: the transport does not say before the end; a JSON body waits
		 * for the status anyway, an event stream is taken as a 2xx one. */
		r->held = status != 0 && !status_2xx(status);
	}
	if (r->ignore || r->held)
		return unread(r);
	if (r->mode == MCP_BODY_UNKNOWN) {
		size_t skip = 0;
		while (skip < len && strchr(" \t\r\n", data[skip]) && data[skip])
			skip++;
		if (skip == len)
			return 0;
		data += skip;
		len -= skip;
		r->mode = data[0] == '{' || data[0] == '[' ? MCP_BODY_JSON : MCP_BODY_SSE;
		if (r->mode == MCP_BODY_SSE && r->on_get_stream) {
			pthread_mutex_lock(&r->h->lock);
			r->h->get_open = true;
			pthread_mutex_unlock(&r->h->lock);
		}
	}
	if (r->mode == MCP_BODY_SSE) {
		int rc = llm_sse_feed(&r->sse, data, len);
		sync_event_id(r);
		return rc;
	}
	if (r->json.len + len > m->cfg.max_message_bytes)
		return cog__error(COG_ERANGE, "server \"%s\": its JSON answer is longer "
		                  "than max_message_bytes (%zu)", m->cfg.name,
		                  m->cfg.max_message_bytes);
	return cog_buf_put(&r->json, data, len);
}

int mcp_http_reader_finish_json(mcp_http_reader *r)
{
	if (r->mode != MCP_BODY_JSON)
		return 0;
	cog_mcp *m = r->h->m;
	cJSON *msg = parse_exact(r->json.ptr, r->json.len);
	if (!msg) {
		char url[512];
		mcp_http_url_for_message(r->h, url, sizeof(url));
		return cog__error(COG_EPROTO, "server \"%s\": %s answered with a body that "
		                  "is not one JSON value: %.80s", m->cfg.name, url,
		                  r->head);
	}
	note_answered(r, msg);
	int rc = deliver(r, msg);
	if (rc)
		return cog__error_wrap(rc, "server \"%s\": delivering its JSON answer",
		                       m->cfg.name);
	return 0;
}

const char *mcp_http_reader_last_id(const mcp_http_reader *r)
{
	return r->last_id[0] ? r->last_id : NULL;
}

long mcp_http_reader_retry(const mcp_http_reader *r)
{
	return r->sse.retry_ms;
}
