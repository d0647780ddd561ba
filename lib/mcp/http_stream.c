/*
 * The GETs of the streamable HTTP transport:
 *
 * - resuming a request's event stream that ended before its response: a GET
 *   with Last-Event-ID (the server replays what followed that event, the
 *   response among it), after the retry: delay the server asked for;
 * - the GET stream: a thread keeps a GET open for what the server sends
 *   unasked (notifications, requests) while the connection lives (a
 *   cancel of the ctx ends operations, not the connection: the stream
 *   stays open through it), reconnecting with Last-Event-ID
 *   after the retry: delay when it ends or fails (longer after repeated
 *   failures), until the connection stops. A server that answers 405
 *   offers no such stream.
 */
#include <inttypes.h>
#include <string.h>

#include "http_int.h"

#define GET_POLL_MS 50u
#define RESUME_MAX_FAILURES 3

static bool is_2xx(int status)
{
	return status >= 200 && status <= 299;
}

static long retry_delay(long retry_ms)
{
	if (retry_ms < 0)
		return MCP_HTTP_RETRY_DEFAULT_MS;
	return retry_ms > MCP_HTTP_RETRY_MAX_MS ? MCP_HTTP_RETRY_MAX_MS : retry_ms;
}

/* One GET of the event stream with Last-Event-ID `last_id` (may be NULL),
 * read by r; in_ctx: as in mcp_http_perform. */
static int get_once(mcp_http *h, mcp_http_reader *r, const char *last_id,
                    unsigned int timeout_ms, cog_http_cancel_fn canceled,
                    bool in_ctx, cog_http_response *resp)
{
	cog_mcp *m = h->m;
	mcp_http_headers hd;
	int rc = mcp_http_headers_make(h, MCP_HTTP_GET, last_id, &hd);
	if (rc)
		return rc;
	mcp_http_reader_reset(r);
	cog_http_request req = COG_HTTP_REQUEST_INIT;
	req.method = "GET";
	req.url = m->cfg.url;
	req.headers = hd.lines;
	req.header_count = hd.count;
	req.timeout_ms = timeout_ms;
	req.connect_timeout_ms = timeout_ms < m->cfg.connect_timeout_ms ? timeout_ms :
	                         m->cfg.connect_timeout_ms;
	req.on_chunk = mcp_http_on_chunk;
	req.chunk_user_data = r;
	req.is_canceled = canceled;
	req.cancel_user_data = h;
	r->resp = resp;
	rc = mcp_http_perform(h, &req, in_ctx, resp);
	mcp_http_headers_dispose(&hd);
	return rc;
}

/* ---- resuming a request's stream ---- */

/* Sleep ms, in steps, unless the connection stops or deadline_ns comes
 * first. 0, COG_ECANCELED or COG_ETIMEOUT. */
static int resume_wait(mcp_http *h, long ms, uint64_t deadline_ns)
{
	uint64_t until = cog_clock_mono_ns() + (uint64_t)ms * 1000000u;
	for (;;) {
		if (mcp_http_is_canceled(h))
			return cog__error(COG_ECANCELED, "server \"%s\": canceled while waiting "
			                  "to resume an event stream", h->m->cfg.name);
		uint64_t now = cog_clock_mono_ns();
		if (now >= deadline_ns)
			return cog__error(COG_ETIMEOUT, "server \"%s\": timed out waiting for "
			                  "the response on a resumed event stream",
			                  h->m->cfg.name);
		if (now >= until)
			return 0;
		uint64_t step = until - now;
		if (deadline_ns - now < step)
			step = deadline_ns - now;
		unsigned int step_ms = (unsigned int)(step / 1000000u) + 1u;
		cog_clock_sleep_ms(step_ms < GET_POLL_MS ? step_ms : GET_POLL_MS);
	}
}

int mcp_http_resume(mcp_http *h, mcp_http_reader *r, uint64_t deadline_ns)
{
	cog_mcp *m = h->m;
	int failures = 0;
	char url[512];
	mcp_http_url_for_message(h, url, sizeof(url));
	r->stop_when_answered = true;
	r->deadline_ns = deadline_ns;
	while (!r->answered) {
		const char *at = mcp_http_reader_last_id(r);
		if (!at)
			return cog__error(COG_EPROTO, "server \"%s\": %s: the event stream of "
			                  "request %" PRId64 " ended without its response "
			                  "and without an event id to resume from",
			                  m->cfg.name, url, r->id);
		int rc = resume_wait(h, retry_delay(mcp_http_reader_retry(r)), deadline_ns);
		if (rc)
			return rc;
		char *last_id = cog__strdup(at);
		if (!last_id)
			return cog__oom("mcp http resume");
		mcp_log(m, COG_LOG_DEBUG, NULL, "mcp http: resuming the event stream "
		        "of request %" PRId64 " after event id %s", r->id, last_id);
		uint64_t now = cog_clock_mono_ns();
		unsigned int left = deadline_ns > now ?
			(unsigned int)((deadline_ns - now) / 1000000u) + 1u : 1u;
		cog_http_response resp = COG_HTTP_RESPONSE_INIT;
		rc = get_once(h, r, last_id, left, mcp_http_is_canceled, true, &resp);
		cog_free(last_id);
		if (rc && r->stopped)
			rc = 0;
		int status = resp.status;
		cog_http_response_dispose(&resp);
		if (r->answered)
			return 0;
		if (!mcp_http_resumable(rc))
			return cog__error_wrap(rc, "server \"%s\": GET %s: resuming the event "
			                       "stream of request %" PRId64, m->cfg.name, url,
			                       r->id);
		if (rc == 0 && !is_2xx(status))
			return mcp_http_status_error(h, "GET (resuming a stream)", status,
			                             r->head);
		/* A stream that broke or ended again: go on from its last id, but
		 * not for ever when nothing comes. */
		if (rc == 0 && r->events > 0)
			failures = 0;
		else if (++failures >= RESUME_MAX_FAILURES)
			return rc ? cog__error_wrap(rc, "server \"%s\": GET %s: resuming the "
			                            "event stream of request %" PRId64 " failed "
			                            "%d times", m->cfg.name, url, r->id, failures)
			          : cog__error(COG_EPROTO, "server \"%s\": GET %s: resuming the event "
			                       "stream of request %" PRId64 " brought nothing "
			                       "%d times", m->cfg.name, url, r->id, failures);
	}
	return 0;
}

/* ---- the GET stream ---- */

static int get_is_canceled(void *user_data)
{
	mcp_http *h = user_data;
	return atomic_load(&h->get_stop) ? 1 : 0;
}

/* Wait ms unless stop() comes first; false when it came. */
static bool get_wait(mcp_http *h, long ms)
{
	uint64_t until = cog_clock_mono_ns() + (uint64_t)ms * 1000000u;
	while (!atomic_load(&h->get_stop)) {
		uint64_t now = cog_clock_mono_ns();
		if (now >= until)
			return true;
		unsigned int step = (unsigned int)((until - now) / 1000000u) + 1u;
		cog_clock_sleep_ms(step < GET_POLL_MS ? step : GET_POLL_MS);
	}
	return false;
}

/* What one GET of the stream came to; false when the thread should end. */
static bool get_outcome(mcp_http *h, mcp_http_reader *r, int rc, int status,
                        unsigned int *failures)
{
	cog_mcp *m = h->m;
	if (atomic_load(&h->get_stop))
		return false;
	if (rc) {
		mcp_log(m, COG_LOG_DEBUG, NULL, "mcp http: the GET stream failed: %s",
		        cog_error_last());
		(*failures)++;
		return true;
	}
	if (status == 405) {
		mcp_log(m, COG_LOG_DEBUG, NULL, "mcp http: the server offers no GET stream "
		        "(HTTP 405)");
		return false;
	}
	if (!is_2xx(status)) {
		int src = mcp_http_status_error(h, "GET", status, r->head);
		bool fatal = src == COG_EDENIED || status == 404;
		mcp_log(m, fatal ? COG_LOG_WARN : COG_LOG_DEBUG, NULL,
		        "mcp http: the GET stream: %s", cog_error_last());
		(*failures)++;
		return !fatal;
	}
	mcp_log(m, COG_LOG_DEBUG, NULL, "mcp http: the server ended the GET "
	        "stream after %zu events", r->events);
	*failures = r->events > 0 ? 0 : *failures + 1;
	return true;
}

static void *get_main(void *arg)
{
	mcp_http *h = arg;
	unsigned int failures = 0;
	mcp_http_reader r;
	mcp_http_reader_init(&r, h, 0, false);
	r.on_get_stream = true;
	for (;;) {
		const char *at = mcp_http_reader_last_id(&r);
		char *last_id = at ? cog__strdup(at) : NULL;
		cog_http_response resp = COG_HTTP_RESPONSE_INIT;
		int rc = at && !last_id ? cog__oom("mcp http GET stream") :
			get_once(h, &r, last_id, MCP_HTTP_STREAM_TIMEOUT_MS,
			         get_is_canceled, false, &resp);
		cog_free(last_id);
		int status = resp.status;
		cog_http_response_dispose(&resp);

		pthread_mutex_lock(&h->lock);
		h->get_open = false;
		long retry = mcp_http_reader_retry(&r);
		h->get_retry_ms = retry;
		pthread_mutex_unlock(&h->lock);
		if (!get_outcome(h, &r, rc, status, &failures))
			break;
		long delay = retry_delay(retry);
		for (unsigned int i = 1; i < failures && i < 6; i++)
			delay *= 2;
		if (delay > MCP_HTTP_RETRY_MAX_MS)
			delay = MCP_HTTP_RETRY_MAX_MS;
		if (!get_wait(h, delay))
			break;
		pthread_mutex_lock(&h->lock);
		h->reconnects++;
		pthread_mutex_unlock(&h->lock);
	}
	mcp_http_reader_dispose(&r);
	return NULL;
}

int mcp_http_get_start(mcp_http *h)
{
	pthread_mutex_lock(&h->lock);
	bool started = h->get_started;
	pthread_mutex_unlock(&h->lock);
	if (started)
		return 0;
	atomic_store(&h->get_stop, false);
	int err = pthread_create(&h->get_thread, NULL, get_main, h);
	if (err != 0)
		return cog__error(COG_EIO, "server \"%s\": cannot start the GET stream "
		                  "thread (error %d)", h->m->cfg.name, err);
	pthread_mutex_lock(&h->lock);
	h->get_started = true;
	pthread_mutex_unlock(&h->lock);
	return 0;
}

void mcp_http_get_stop(mcp_http *h)
{
	pthread_mutex_lock(&h->lock);
	bool started = h->get_started;
	h->get_started = false;
	pthread_mutex_unlock(&h->lock);
	if (!started)
		return;
	atomic_store(&h->get_stop, true);
	pthread_join(h->get_thread, NULL);
}
