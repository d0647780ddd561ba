/*
 * The streamable HTTP transport (MCP "Transports", 2025-11-25): each
 * message is a POST to the server's URL; a request's answer comes back in
 * the POST as a JSON body or as a text/event-stream (http_stream.c reads
 * both and resumes a stream that broke); the session id the server gives
 * with the answer to initialize goes with every later request; DELETE ends
 * the session. Everything goes through the context's transport.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "http_int.h"

/* ---- headers ---- */

static char *header_line(const char *name, const char *value)
{
	cog_buf b = COG_BUF_INIT;
	cog_buf_printf(&b, "%s: %s", name, value);
	return cog_buf_detach(&b);
}

int mcp_http_headers_make(mcp_http *h, int kind, const char *last_event_id,
                          mcp_http_headers *out)
{
	cog_mcp *m = h->m;
	memset(out, 0, sizeof(*out));
	out->lines = cog__calloc(m->cfg.header_count + 8, sizeof(char *));
	if (!out->lines)
		return cog__oom("mcp http headers");
	size_t n = 0, owned = 0;
	if (kind == MCP_HTTP_POST) {
		out->lines[n++] = "Content-Type: application/json";
		out->lines[n++] = "Accept: application/json, text/event-stream";
	} else if (kind == MCP_HTTP_GET) {
		out->lines[n++] = "Accept: text/event-stream";
	}

	pthread_mutex_lock(&h->lock);
	char *session = h->session_id ? header_line("mcp-session-id", h->session_id) : NULL;
	bool failed = h->session_id && !session;
	pthread_mutex_unlock(&h->lock);
	if (session)
		out->lines[n++] = out->owned[owned++] = session;

	pthread_mutex_lock(&m->lock);
	char *version = m->protocol_version ?
		header_line("MCP-Protocol-Version", m->protocol_version) : NULL;
	failed = failed || (m->protocol_version && !version);
	pthread_mutex_unlock(&m->lock);
	if (version)
		out->lines[n++] = out->owned[owned++] = version;

	if (m->cfg.bearer_token) {
		cog_buf b = COG_BUF_INIT;
		cog_buf_printf(&b, "Authorization: Bearer %s", m->cfg.bearer_token);
		char *auth = cog_buf_detach(&b);
		failed = failed || !auth;
		if (auth)
			out->lines[n++] = out->owned[owned++] = auth;
	}
	if (last_event_id) {
		char *resume = header_line("Last-Event-ID", last_event_id);
		failed = failed || !resume;
		if (resume)
			out->lines[n++] = out->owned[owned++] = resume;
	}
	for (size_t i = 0; i < m->cfg.header_count; i++)
		out->lines[n++] = m->cfg.headers[i];
	out->count = n;
	if (failed) {
		mcp_http_headers_dispose(out);
		return cog__oom("mcp http headers");
	}
	return 0;
}

void mcp_http_headers_dispose(mcp_http_headers *hd)
{
	for (size_t i = 0; i < COG_ARRAY_LEN(hd->owned); i++)
		cog_free(hd->owned[i]);
	cog_free(hd->lines);
	memset(hd, 0, sizeof(*hd));
}

/* ---- messages ---- */

void mcp_http_url_for_message(const mcp_http *h, char *out, size_t size)
{
	const char *url = h->m->cfg.url ? h->m->cfg.url : "";
	size_t len = strcspn(url, "?#");
	snprintf(out, size, "%.*s", (int)len, url);
}

/* The body's start on one line, control characters as spaces. */
static void head_for_message(const char *head, char *out, size_t size)
{
	size_t n = 0;
	for (; head && head[n] && n + 1 < size; n++) {
		unsigned char c = (unsigned char)head[n];
		out[n] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
	}
	out[n] = '\0';
}

int mcp_http_status_error(mcp_http *h, const char *method, int status,
                          const char *head)
{
	cog_mcp *m = h->m;
	char url[512], body[MCP_HTTP_HEAD_MAX + 1];
	mcp_http_url_for_message(h, url, sizeof(url));
	head_for_message(head, body, sizeof(body));

	pthread_mutex_lock(&h->lock);
	bool had_session = h->session_id != NULL;
	pthread_mutex_unlock(&h->lock);

	if (status == 401 || status == 403)
		return cog__error(COG_EDENIED, "mcp \"%s\": %s %s: HTTP %d (%s): %s",
		                  m->cfg.name, method, url, status,
		                  m->cfg.bearer_token ? "the bearer token was refused" :
		                  "the server wants credentials", body);
	if (status == 404 && had_session) {
		pthread_mutex_lock(&h->lock);
		h->expired = true;
		pthread_mutex_unlock(&h->lock);
		char why[900];
		snprintf(why, sizeof(why), "mcp \"%s\": %s %s: HTTP 404: the server's "
		         "session expired (it no longer knows our mcp-session-id): %s",
		         m->cfg.name, method, url, body);
		mcp_transport_lost(m, why);
		return cog__error(COG_EUNAVAILABLE, "%s", why);
	}
	if (status >= 500)
		return cog__error(COG_EUNAVAILABLE, "mcp \"%s\": %s %s: HTTP %d: %s",
		                  m->cfg.name, method, url, status, body);
	return cog__error(COG_EPROTO, "mcp \"%s\": %s %s: HTTP %d%s: %s",
	                  m->cfg.name, method, url, status,
	                  status == 406 ? " (the server refused our Accept header)" : "",
	                  body);
}

/* ---- start ---- */

static int http_start(cog_mcp *m)
{
	if (!m->cfg.url)
		return cog__error(COG_EINVAL, "mcp \"%s\": the HTTP transport needs a url",
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
		return cog__error(COG_EIO, "mcp \"%s\": pthread_mutex_init failed", m->cfg.name);
	}
	if (pthread_cond_init(&h->cond, NULL) != 0) {
		pthread_mutex_destroy(&h->lock);
		cog_free(h);
		return cog__error(COG_EIO, "mcp \"%s\": pthread_cond_init failed", m->cfg.name);
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

/* A session id goes back in a header: visible ASCII only (the spec). */
static bool session_id_valid(const char *s)
{
	if (!s || !*s || strlen(s) > 1024)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

static int take_session_id(mcp_http *h, const cog_http_response *resp)
{
	char *sid = cog_http_response_header(resp, "mcp-session-id");
	if (!sid)
		return 0;
	if (!session_id_valid(sid)) {
		cog_free(sid);
		return cog__error(COG_EPROTO, "mcp \"%s\": the server's mcp-session-id "
		                  "header is not visible ASCII (or longer than 1024 bytes)",
		                  h->m->cfg.name);
	}
	pthread_mutex_lock(&h->lock);
	if (!h->session_id) {
		h->session_id = sid;
		sid = NULL;
	}
	pthread_mutex_unlock(&h->lock);
	cog_free(sid);
	return 0;
}

static unsigned int ms_until(uint64_t deadline_ns)
{
	uint64_t now = cog_clock_mono_ns();
	if (deadline_ns <= now)
		return 0;
	uint64_t ms = (deadline_ns - now + 999999u) / 1000000u;
	return ms > UINT32_MAX ? UINT32_MAX : (unsigned int)ms;
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
		int trc = take_session_id(h, resp);
		if (trc)
			return trc;
	}
	if (r->answered)
		return 0; /* whatever happened after the response does not matter */
	if (rc == 0 && !ok)
		return mcp_http_status_error(h, "POST", resp->status, r->head);
	if (rc == 0) {
		if (r->mode == MCP_BODY_JSON) {
			int jrc = mcp_http_reader_finish_json(r);
			if (jrc || !r->want || r->answered)
				return jrc;
			return cog__error(COG_EPROTO, "mcp \"%s\": POST %s: the JSON answer "
			                  "holds no response to request %" PRId64,
			                  m->cfg.name, url, r->id);
		}
		if (!r->want || r->mode == MCP_BODY_UNKNOWN)
			return 0; /* 202: the response (if any) comes on the GET stream */
	}
	if (!mcp_http_resumable(rc) || (rc && r->mode != MCP_BODY_SSE) || !r->want)
		return rc ? cog__error_wrap(rc, "mcp \"%s\"", m->cfg.name) : 0;
	/* An event stream that ended or broke before the response. */
	if (mcp_http_reader_last_id(r))
		return mcp_http_resume(h, r, deadline_ns);
	if (rc)
		return cog__error_wrap(rc, "mcp \"%s\": the event stream of request %"
		                       PRId64 " broke before its response and had no "
		                       "event id to resume from", m->cfg.name, r->id);
	return cog__error(COG_EPROTO, "mcp \"%s\": POST %s: the server ended the event "
	                  "stream of request %" PRId64 " without its response (and "
	                  "gave no event id to resume from)", m->cfg.name, url, r->id);
}

static int http_send(cog_mcp *m, const char *json, size_t len, int what,
                     int64_t id, uint64_t deadline_ns)
{
	mcp_http *h = m->transport;
	if (!h)
		return cog__error(COG_EUNAVAILABLE, "mcp \"%s\": the HTTP transport is "
		                  "not started", m->cfg.name);
	if (deadline_ns == 0)
		deadline_ns = cog_clock_mono_ns() + (uint64_t)m->cfg.timeout_ms * 1000000u;
	unsigned int left = ms_until(deadline_ns);
	if (left == 0)
		return cog__error(COG_ETIMEOUT, "mcp \"%s\": no time left to send", m->cfg.name);

	mcp_http_headers hd;
	int rc = mcp_http_headers_make(h, MCP_HTTP_POST, NULL, &hd);
	if (rc)
		return rc;
	pthread_mutex_lock(&h->lock);
	h->busy++;
	bool ready = h->ready;
	pthread_mutex_unlock(&h->lock);

	mcp_http_reader r;
	mcp_http_reader_init(&r, h, id, what == MCP_SEND_REQUEST);
	/* Before initialize is done the POST is read to its end: the session
	 * id comes in its headers, which a transfer we stop does not give. */
	r.stop_when_answered = ready;

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
	req.is_canceled = mcp_http_is_canceled;
	req.cancel_user_data = h;
	cog_http_response resp = COG_HTTP_RESPONSE_INIT;
	rc = cog_ctx_http_perform(m->ctx, &req, &resp);
	mcp_http_headers_dispose(&hd);
	if (rc && r.stopped)
		rc = 0;
	rc = post_outcome(h, &r, rc, &resp, deadline_ns);
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
	pthread_mutex_lock(&h->lock);
	h->ready = true;
	pthread_mutex_unlock(&h->lock);
	if (m->cfg.flags & COG_MCP_NO_GET_STREAM)
		return 0;
	return mcp_http_get_start(h);
}

/* End the session: DELETE with its id (405: the server does not let
 * clients end sessions, which is fine). Best effort, 2 s at most. */
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
	int rc = cog_ctx_http_perform(m->ctx, &req, &resp);
	if (rc)
		mcp_log(m, COG_LOG_DEBUG, NULL, "mcp http: DELETE of the session "
		        "failed: %s", cog_error_last());
	else if (resp.status != 405 && (resp.status < 200 || resp.status > 299))
		mcp_log(m, COG_LOG_DEBUG, NULL, "mcp http: DELETE of the session: HTTP %d",
		        resp.status);
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
