/*
 * The streamable HTTP transport (MCP "Transports", 2025-11-25): each
 * message is a POST to the server's URL; a request's answer comes back in
 * the POST as a JSON body or as a text/event-stream (http_read.c reads
 * both, http_stream.c resumes a stream that broke); the session id the
 * server gives with the answer to initialize goes with every later request
 * (the headers: http_headers.c); DELETE ends the session; a non-2xx answer
 * becomes an error in http_status.c. Everything goes through the context's
 * transport; only a request's POST (and the GETs resuming its stream) end
 * with a cancel of the ctx: notifications (notifications/cancelled among
 * them), responses, the DELETE and the GET stream outlive it.
 */
#include <inttypes.h>

#include "http_int.h"

/* ---- start ---- */

static int http_start(cog_mcp *m)
{
	if (!m->cfg.url)
		return cog__error(COG_EINVAL, "server \"%s\": the HTTP transport needs a url",
		                  m->cfg.name);
	mcp_http *h = cog__calloc(1, sizeof(*h));
	if (!h)
		return cog__oom("mcp http start");
	h->m = m;
	h->get_retry_ms = -1;
	atomic_init(&h->get_stop, false);
	atomic_init(&h->stopping, false);
	if (pthread_mutex_init(&h->lock, NULL) != 0) {
		cog_free(h);
		return cog__error(COG_EIO, "server \"%s\": pthread_mutex_init failed", m->cfg.name);
	}
	if (pthread_cond_init(&h->cond, NULL) != 0) {
		pthread_mutex_destroy(&h->lock);
		cog_free(h);
		return cog__error(COG_EIO, "server \"%s\": pthread_cond_init failed", m->cfg.name);
	}
	m->transport = h;
	return 0;
}

/* ---- send ---- */

int mcp_http_is_canceled(void *user_data)
{
	mcp_http *h = user_data;
	return atomic_load(&h->stopping) || mcp_should_stop(h->m) ? 1 : 0;
}

bool mcp_http_resumable(int rc)
{
	return rc == 0 || rc == COG_EIO || rc == COG_EPROTO;
}

static unsigned int ms_until(uint64_t deadline_ns)
{
	uint64_t now = cog_clock_mono_ns();
	if (deadline_ns <= now)
		return 0;
	uint64_t ms = (deadline_ns - now + 999999u) / 1000000u;
	return ms > UINT32_MAX ? UINT32_MAX : (unsigned int)ms;
}

/* The answer to initialize came on a stream we ended: its headers (the
 * mcp-session-id) are known only if the transport handed them over for a
 * transfer ended early (libcognition-curl does). */
static int init_headers_check(mcp_http *h, const mcp_http_reader *r,
                              const cog_http_response *resp)
{
	if (!r->stopped || resp->headers != NULL)
		return 0;
	char url[512];
	mcp_http_url_for_message(h, url, sizeof(url));
	int rc = cog__error(COG_EPROTO, "server \"%s\": POST %s: the server kept the "
	                    "event stream of its answer to initialize open, and the HTTP "
	                    "transport did not hand over the headers of that transfer "
	                    "once we ended it, so its mcp-session-id (if it uses "
	                    "sessions) is unknown", h->m->cfg.name, url);
	/* The answer itself went to its waiter: what comes next (the
	 * notifications/initialized, ready()) fails with this. */
	char *why = cog__strdup(cog_error_last());
	pthread_mutex_lock(&h->lock);
	if (!h->init_error) {
		h->init_error = why;
		why = NULL;
	}
	pthread_mutex_unlock(&h->lock);
	cog_free(why);
	return rc;
}

/* COG_EPROTO with init_error once initialize's session id proved unknown. */
static int init_failed(mcp_http *h)
{
	pthread_mutex_lock(&h->lock);
	int rc = h->init_error ? cog__error(COG_EPROTO, "%s", h->init_error) : 0;
	pthread_mutex_unlock(&h->lock);
	return rc;
}

/* What a POST that ended (or broke) means for the message it carried. */
static int post_outcome(mcp_http *h, mcp_http_reader *r, int rc,
                        const cog_http_response *resp, uint64_t deadline_ns)
{
	cog_mcp *m = h->m;
	char url[512];
	mcp_http_url_for_message(h, url, sizeof(url));
	bool ok = rc == 0 && resp->status >= 200 && resp->status <= 299;
	if (ok) {
		int trc = mcp_http_take_session_id(h, resp);
		if (trc)
			return trc;
	}
	if (r->answered)
		return 0; /* whatever happened after the response does not matter */
	if (rc == 0 && !ok)
		return mcp_http_status_error(h, "POST", resp->status, r->head);
	if (rc == 0) {
		if (r->mode == MCP_BODY_JSON && r->want) {
			int jrc = mcp_http_reader_finish_json(r);
			if (jrc || !r->want || r->answered)
				return jrc;
			return cog__error(COG_EPROTO, "server \"%s\": POST %s: the JSON answer "
			                  "holds no response to request %" PRId64,
			                  m->cfg.name, url, r->id);
		}
		if (!r->want)
			return 0; /* a notification or a response: 202 */
		/* The spec: a request is answered with JSON or an event stream. */
		if (r->mode == MCP_BODY_UNKNOWN)
			return cog__error(COG_EPROTO, "POST %s: HTTP %d with no body for "
			                  "request %" PRId64 " (server \"%s\")", url,
			                  resp->status, r->id, m->cfg.name);
	}
	if (!mcp_http_resumable(rc) || (rc && r->mode != MCP_BODY_SSE) || !r->want)
		return rc ? cog__error_wrap(rc, "server \"%s\": POST %s", m->cfg.name,
		                            url) : 0;
	/* An event stream that ended or broke before the response. */
	if (mcp_http_reader_last_id(r))
		return mcp_http_resume(h, r, deadline_ns);
	if (rc)
		return cog__error_wrap(rc, "server \"%s\": POST %s: the event stream of "
		                       "request %" PRId64 " broke before its response and "
		                       "had no event id to resume from", m->cfg.name, url,
		                       r->id);
	return cog__error(COG_EPROTO, "server \"%s\": POST %s: the server ended the event "
	                  "stream of request %" PRId64 " without its response (and "
	                  "gave no event id to resume from)", m->cfg.name, url, r->id);
}

/* Whether the connection closes or its transport stops: what ends the
 * sends that do not belong to a request (they outlive a cancel of the
 * ctx: notifications/cancelled is one of them). */
static int notify_is_canceled(void *user_data)
{
	mcp_http *h = user_data;
	if (atomic_load(&h->stopping))
		return 1;
	cog_mcp *m = h->m;
	pthread_mutex_lock(&m->lock);
	bool stop = m->closing || m->transport_stopping;
	pthread_mutex_unlock(&m->lock);
	return stop ? 1 : 0;
}

/* A request's POST: ends with the connection, the transport or the ctx;
 * the POST of initialize also MCP_HTTP_INIT_GRACE_MS after its answer
 * (a server may keep that stream open). User data: the reader. */
static int request_is_canceled(void *user_data)
{
	mcp_http_reader *r = user_data;
	if (mcp_http_is_canceled(r->h))
		return 1;
	if (r->stop_when_answered || !r->answered ||
	    cog_clock_mono_ns() - r->answered_ns < MCP_HTTP_INIT_GRACE_MS * 1000000ull)
		return 0;
	r->stopped = true;
	return 1;
}

int mcp_http_perform(mcp_http *h, cog_http_request *req, bool in_ctx,
                     cog_http_response *resp)
{
	if (in_ctx)
		return cog_ctx_http_perform(h->m->ctx, req, resp);
	/* Past the ctx's cancel flag: the request brings its own check. */
	return cog_transport_perform(cog_ctx_transport(h->m->ctx), req, resp);
}

static int http_send(cog_mcp *m, const char *json, size_t len, int what,
                     int64_t id, uint64_t deadline_ns)
{
	mcp_http *h = m->transport;
	if (!h)
		return cog__error(COG_EUNAVAILABLE, "server \"%s\": the HTTP transport is "
		                  "not started", m->cfg.name);
	int frc = init_failed(h);
	if (frc)
		return frc;
	if (deadline_ns == 0)
		deadline_ns = cog_clock_mono_ns() + (uint64_t)m->cfg.timeout_ms * 1000000u;
	unsigned int left = ms_until(deadline_ns);
	if (left == 0)
		return cog__error(COG_ETIMEOUT, "server \"%s\": no time left to send", m->cfg.name);
	bool request = what == MCP_SEND_REQUEST;
	if (what == MCP_SEND_NOTIFICATION && left > MCP_HTTP_NOTIFY_TIMEOUT_MS)
		left = MCP_HTTP_NOTIFY_TIMEOUT_MS;

	pthread_mutex_lock(&h->lock);
	h->busy++;
	bool ready = h->ready;
	pthread_mutex_unlock(&h->lock);
	/* Before ready() the one request is initialize. */
	mcp_http_headers hd;
	int rc = mcp_http_headers_make(h, request && !ready ? MCP_HTTP_POST_INIT :
	                               MCP_HTTP_POST, NULL, &hd);
	if (rc) {
		pthread_mutex_lock(&h->lock);
		h->busy--;
		pthread_cond_broadcast(&h->cond);
		pthread_mutex_unlock(&h->lock);
		return rc;
	}

	cog_http_response resp = COG_HTTP_RESPONSE_INIT;
	mcp_http_reader r;
	mcp_http_reader_init(&r, h, id, request);
	/* initialize's stream is left a moment to end by itself once its
	 * answer came (request_is_canceled), then ended: the session id comes
	 * in the headers of the transfer. */
	r.stop_when_answered = ready;
	/* The answer to a notification or a response is 202 and no body; a
	 * body that comes anyway is not delivered. A request's messages wait
	 * for room in the queue no longer than the request may take. */
	r.ignore = !request;
	r.deadline_ns = request ? deadline_ns : 0;
	r.resp = &resp;

	cog_http_request req = COG_HTTP_REQUEST_INIT;
	req.method = "POST";
	req.url = m->cfg.url;
	req.headers = hd.lines;
	req.header_count = hd.count;
	req.body = json;
	req.body_len = len;
	req.timeout_ms = left;
	req.connect_timeout_ms = left < m->cfg.connect_timeout_ms ? left :
	                         m->cfg.connect_timeout_ms;
	req.on_chunk = mcp_http_on_chunk;
	req.chunk_user_data = &r;
	/* A request ends with a cancel of the ctx (rpc.c then says so with
	 * notifications/cancelled, which must get through). */
	req.is_canceled = request ? request_is_canceled : notify_is_canceled;
	req.cancel_user_data = request ? (void *)&r : (void *)h;
	rc = mcp_http_perform(h, &req, request, &resp);
	mcp_http_headers_dispose(&hd);
	if (rc && r.stopped)
		rc = 0;
	int hrc = rc == 0 && request && !ready && r.answered ?
	          init_headers_check(h, &r, &resp) : 0;
	rc = hrc ? hrc : post_outcome(h, &r, rc, &resp, deadline_ns);
	cog_http_response_dispose(&resp);
	mcp_http_reader_dispose(&r);

	pthread_mutex_lock(&h->lock);
	h->busy--;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
	return rc;
}

/* ---- ready, stop, describe ---- */

static int http_ready(cog_mcp *m)
{
	mcp_http *h = m->transport;
	if (!h)
		return 0;
	int rc = init_failed(h);
	if (rc)
		return rc;
	pthread_mutex_lock(&h->lock);
	h->ready = true;
	pthread_mutex_unlock(&h->lock);
	if (m->cfg.flags & COG_MCP_NO_GET_STREAM)
		return 0;
	return mcp_http_get_start(h);
}

/* End the session: DELETE with its id (405: the server does not let
 * clients end sessions, which is fine). Best effort, 2 s at most, even
 * when the ctx was canceled. */
static void delete_session(mcp_http *h)
{
	cog_mcp *m = h->m;
	mcp_http_headers hd;
	if (mcp_http_headers_make(h, MCP_HTTP_DELETE, NULL, &hd) != 0)
		return;
	cog_http_request req = COG_HTTP_REQUEST_INIT;
	req.method = "DELETE";
	req.url = m->cfg.url;
	req.headers = hd.lines;
	req.header_count = hd.count;
	req.timeout_ms = MCP_HTTP_DELETE_TIMEOUT_MS;
	req.connect_timeout_ms = MCP_HTTP_DELETE_TIMEOUT_MS;
	cog_http_response resp = COG_HTTP_RESPONSE_INIT;
	int rc = mcp_http_perform(h, &req, false, &resp);
	char url[512];
	mcp_http_url_for_message(h, url, sizeof(url));
	if (rc)
		mcp_log(m, COG_LOG_DEBUG, NULL, "mcp http: DELETE %s (ending the session "
		        "with server \"%s\") failed: %s", url, m->cfg.name, cog_error_last());
	else if (resp.status != 405 && (resp.status < 200 || resp.status > 299))
		mcp_log(m, COG_LOG_DEBUG, NULL, "mcp http: DELETE %s (ending the session "
		        "with server \"%s\"): HTTP %d", url, m->cfg.name, resp.status);
	cog_http_response_dispose(&resp);
	mcp_http_headers_dispose(&hd);
}

static void http_stop(cog_mcp *m)
{
	mcp_http *h = m->transport;
	if (!h)
		return;
	atomic_store(&h->stopping, true);
	mcp_http_get_stop(h);
	/* Sends still running see `stopping` within 50 ms. */
	pthread_mutex_lock(&h->lock);
	while (h->busy > 0)
		pthread_cond_wait(&h->cond, &h->lock);
	bool has_session = h->session_id != NULL && !h->expired;
	pthread_mutex_unlock(&h->lock);
	if (has_session)
		delete_session(h);
	m->transport = NULL;
	cog_free(h->session_id);
	cog_free(h->init_error);
	pthread_cond_destroy(&h->cond);
	pthread_mutex_destroy(&h->lock);
	cog_free(h);
}

static void put_member(cJSON *info, const char *name, cJSON *value)
{
	if (!value)
		return;
	if (cJSON_HasObjectItem(info, name))
		cJSON_ReplaceItemInObject(info, name, value);
	else
		cJSON_AddItemToObject(info, name, value);
}

static void http_describe(cog_mcp *m, cJSON *info)
{
	mcp_http *h = m->transport;
	put_member(info, "url", cJSON_CreateString(m->cfg.url ? m->cfg.url : ""));
	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	put_member(info, "session_id", h->session_id ?
	           cJSON_CreateString(h->session_id) : cJSON_CreateNull());
	put_member(info, "get_stream", cJSON_CreateBool(h->get_open));
	put_member(info, "reconnects", cJSON_CreateNumber(h->reconnects));
	pthread_mutex_unlock(&h->lock);
}

const mcp_transport_ops mcp_http_ops = {
	.kind = "http",
	.start = http_start,
	.send = http_send,
	.ready = http_ready,
	.stop = http_stop,
	.describe = http_describe,
};
