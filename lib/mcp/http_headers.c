/*
 * The headers of the streamable HTTP transport: the lines every request
 * carries (Accept, Content-Type, mcp-session-id, MCP-Protocol-Version,
 * Authorization, Last-Event-ID, the configured headers) and the one the
 * server answers with, mcp-session-id, kept for the requests that follow.
 */
#include <string.h>

#include "http_int.h"

/* ---- what a request carries ---- */

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
	if (kind == MCP_HTTP_POST || kind == MCP_HTTP_POST_INIT) {
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

	/* The version of a session before (a restart) is not this one's. */
	pthread_mutex_lock(&m->lock);
	char *version = m->protocol_version && kind != MCP_HTTP_POST_INIT ?
		header_line("MCP-Protocol-Version", m->protocol_version) : NULL;
	failed = failed || (m->protocol_version && kind != MCP_HTTP_POST_INIT && !version);
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

/* ---- what the server gives ---- */

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

int mcp_http_take_session_id(mcp_http *h, const cog_http_response *resp)
{
	char *sid = cog_http_response_header(resp, "mcp-session-id");
	if (!sid)
		return 0;
	if (!session_id_valid(sid)) {
		cog_free(sid);
		return cog__error(COG_EPROTO, "server \"%s\" sent an mcp-session-id header "
		                  "that is not visible ASCII (or is longer than 1024 bytes)",
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
