/*
 * What the streamable HTTP transport says of an answer it cannot use: the
 * URL it names in messages (without the query, which may hold a key) and
 * the status and message for a non-2xx answer (401/403 denied, 404 with a
 * session: the session expired, 5xx unavailable, other 4xx a protocol
 * error), with the start of the body.
 */
#include <stdio.h>
#include <string.h>

#include "http_int.h"

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
		return cog__error(COG_EDENIED, "server \"%s\": %s %s: HTTP %d (%s): %s",
		                  m->cfg.name, method, url, status,
		                  m->cfg.bearer_token ? "the bearer token was refused" :
		                  "the server wants credentials", body);
	if (status == 404 && had_session) {
		pthread_mutex_lock(&h->lock);
		h->expired = true;
		pthread_mutex_unlock(&h->lock);
		char why[900];
		snprintf(why, sizeof(why), "server \"%s\": %s %s: HTTP 404: the server's "
		         "session expired (it no longer knows our mcp-session-id): %s",
		         m->cfg.name, method, url, body);
		mcp_transport_lost(m, why);
		return cog__error(COG_EUNAVAILABLE, "%s", why);
	}
	if (status >= 500)
		return cog__error(COG_EUNAVAILABLE, "server \"%s\": %s %s: HTTP %d: %s",
		                  m->cfg.name, method, url, status, body);
	return cog__error(COG_EPROTO, "server \"%s\": %s %s: HTTP %d%s: %s",
	                  m->cfg.name, method, url, status,
	                  status == 406 ? " (the server refused our Accept header)" : "",
	                  body);
}
