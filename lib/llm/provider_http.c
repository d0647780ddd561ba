/*
 * The HTTP exchange of the built-in providers: one POST through the
 * context's transport, the answer's bytes counted against the size cap and
 * either collected or fed, as they arrive, to the stream reader of the wire
 * format; then the HTTP status turned into a cog status.
 *
 * The transport tells us the status only at the end, so while a stream
 * runs we cannot tell an error body from a stream: the bytes go to the
 * reader either way, and the first 64 KiB are also kept as they came, to
 * quote the provider's error text if the status says the answer was one
 * (until the first event, all of them: a server that does not stream may
 * answer with a whole JSON body of any size up to the cap).
 * An error body that a reader takes for an event (Ollama's {"error":...}
 * is a valid NDJSON line) fails the first event: then the exchange reads on
 * to the end (up to those 64 KiB) so that the status decides.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "provider_int.h"

#define RAW_KEEP ((size_t)64 << 10)

typedef struct exchange {
	const llm_provider *p;
	llm_exchange *x;
	size_t cap;
	cog_buf raw;                  /* streaming: the first RAW_KEEP bytes */
	cog_buf body;                 /* not streaming: the whole answer */
	llm_sse sse;
	llm_ndjson nd;
	bool done;                    /* the format's last event came */
	bool draining;                /* the first event failed: read on */
	int failed;                   /* what stopped the stream */
	char failed_msg[1024];
	int reported_status;          /* the status a stream event said the
	                                 answer has (an overload inside a 200:
	                                 503), 0 when none */
} exchange;

/* The name of the event that ends a stream of this format. */
static const char *final_event(const llm_wire *wire)
{
	if (wire == &llm_wire_anthropic)
		return "message_stop";
	if (wire == &llm_wire_ollama)
		return "\"done\":true";
	return "[DONE]";
}

static int fail_stream(exchange *ex, int rc)
{
	if (!ex->failed) {
		ex->failed = rc;
		snprintf(ex->failed_msg, sizeof(ex->failed_msg), "%s", cog_error_last());
	}
	return rc;
}

static int on_stream_event(exchange *ex, const char *type, const char *data, size_t len)
{
	if (ex->done || ex->failed)
		return ex->failed;
	llm_exchange *x = ex->x;
	x->events++;
	int rc = ex->p->wire->stream_event(ex->p, x->stream_state, type, data, len,
	                                   x->a, &ex->done);
	if (x->call->http_status)
		ex->reported_status = x->call->http_status;
	if (rc >= 0)
		return COG_OK;
	/* Only a first event that the caller never saw may be an error body;
	 * a callback's "stop" (a->status) stops at once. */
	if (x->events == 1 && !x->call->streamed && x->a->status == 0 && rc != COG_ENOMEM)
		ex->draining = true;
	return fail_stream(ex, rc);
}

static int on_sse(const char *type, const char *data, size_t len, const char *id,
                  void *user_data)
{
	(void)id;
	return on_stream_event(user_data, type, data, len);
}

static int on_ndjson(const char *line, size_t len, void *user_data)
{
	return on_stream_event(user_data, NULL, line, len);
}

static int on_chunk(const char *data, size_t len, void *user_data)
{
	exchange *ex = user_data;
	llm_exchange *x = ex->x;
	x->bytes += len;
	if (x->bytes > ex->cap)
		return fail_stream(ex, cog__error(COG_ERANGE,
			"%s: answer larger than the %zu-byte cap", ex->p->wire->name, ex->cap));
	if (!x->stream)
		return cog_buf_put(&ex->body, data, len) ? fail_stream(ex, COG_ENOMEM) : COG_OK;
	size_t keep = 0;
	if (x->events == 0 && !ex->done)
		keep = len;    /* may be a whole JSON body (whole_instead): all of it */
	else if (ex->raw.len < RAW_KEEP)
		keep = len < RAW_KEEP - ex->raw.len ? len : RAW_KEEP - ex->raw.len;
	if (keep && cog_buf_put(&ex->raw, data, keep))
		return fail_stream(ex, COG_ENOMEM);
	if (ex->draining)
		return x->bytes > RAW_KEEP ? ex->failed : COG_OK;
	if (ex->failed)
		return ex->failed;
	int rc = ex->p->wire->stream_kind == LLM_STREAM_NDJSON
		? llm_ndjson_feed(&ex->nd, data, len) : llm_sse_feed(&ex->sse, data, len);
	if (rc < 0) {
		fail_stream(ex, rc);   /* the reader's own failure, if it was one */
		return ex->draining ? COG_OK : ex->failed;
	}
	return COG_OK;
}

/* Our failure again, in our words rather than the transport's. */
static int stream_failure(const exchange *ex)
{
	return cog__error(ex->failed, "%s", ex->failed_msg);
}

/* A server that does not stream (some compatible ones, with tools) may
 * answer a stream request with a whole JSON body: take it as one. */
static bool whole_instead(exchange *ex, const cog_http_response *response)
{
	llm_exchange *x = ex->x;
	if (x->events || ex->done || ex->raw.len != x->bytes ||
	    ex->p->wire->stream_kind != LLM_STREAM_SSE)
		return false;
	char *type = cog_http_response_header(response, "content-type");
	bool json = type && strncasecmp(type, "application/json", 16) == 0;
	cog_free(type);
	if (!json || cog_json_validate(ex->raw.ptr ? ex->raw.ptr : "", ex->raw.len, "answer")) {
		cog_error_clear();
		return false;
	}
	cog__json_init();
	x->answer = cJSON_ParseWithLength(ex->raw.ptr, ex->raw.len);
	return x->answer != NULL;
}

static int stream_end(exchange *ex, const cog_http_response *response)
{
	llm_exchange *x = ex->x;
	if (whole_instead(ex, response))
		return COG_OK;
	int rc = ex->p->wire->stream_kind == LLM_STREAM_NDJSON
		? llm_ndjson_finish(&ex->nd) : llm_sse_finish(&ex->sse);
	if (rc < 0)
		return ex->failed ? stream_failure(ex) : rc;
	if (!ex->done)
		return cog__error(COG_EPROTO, "%s: stream ended before %s after %zu events",
			ex->p->wire->name, final_event(ex->p->wire), x->events);
	return COG_OK;
}

/* The transport failed (or we stopped it). */
static int transport_failed(exchange *ex, int rc)
{
	const char *name = ex->p->wire->name;
	if (ex->failed) {
		ex->x->call->http_status = ex->reported_status;
		return stream_failure(ex);
	}
	if (ex->x->stream && ex->done)
		return COG_OK;    /* all there; the connection broke after [DONE] */
	/* Bytes came, then the connection broke: an answer cut short. */
	if (ex->x->bytes > 0 && (rc == COG_EIO || rc == COG_EPROTO)) {
		if (!ex->x->stream)
			return cog__error_wrap(COG_EPROTO, "%s: answer cut short after %zu bytes",
				name, ex->x->bytes);
		return cog__error_wrap(COG_EPROTO, "%s: stream ended before %s after %zu events",
			name, final_event(ex->p->wire), ex->x->events);
	}
	/* The connection broke (reset, closed) before any of the answer: the
	 * endpoint is not there for us now, which the router may try again or
	 * elsewhere. */
	if (rc == COG_EIO)
		return cog__error_wrap(COG_EUNAVAILABLE, "%s: connection lost before the answer",
			name);
	return cog__error_wrap(rc, "%s", name);
}

static int http_failed(exchange *ex, const cog_http_response *response)
{
	llm_exchange *x = ex->x;
	char *after = cog_http_response_header(response, "retry-after");
	char *after_ms = cog_http_response_header(response, "retry-after-ms");
	x->call->retry_after_ms = llm_retry_after_ms(after, after_ms, cog_clock_realtime_ms());
	cog_free(after);
	cog_free(after_ms);
	const cog_buf *body = x->stream ? &ex->raw : &ex->body;
	return llm_http_error(ex->p, response->status, body->ptr ? body->ptr : "", body->len);
}

static int parse_answer(exchange *ex)
{
	cJSON *answer = NULL;
	const char *name = ex->p->wire->name;
	if (ex->body.failed)
		return cog__oom(name);
	if (cog_json_validate(ex->body.ptr ? ex->body.ptr : "", ex->body.len, "answer"))
		return cog__error_wrap(COG_EPROTO, "%s", name);
	/* A chat answer of the common shape goes into the assembly with no
	 * tree (x->answer stays NULL). */
	if (ex->x->a && ex->p->wire->chat_fast) {
		int taken = ex->p->wire->chat_fast(ex->body.ptr ? ex->body.ptr : "",
		                                   ex->body.len, ex->x->a);
		if (taken)
			return taken < 0 ? taken : COG_OK;
	}
	cog__json_init();
	if (!(answer = cJSON_ParseWithLength(ex->body.ptr, ex->body.len)))
		return cog__oom(name);
	ex->x->answer = answer;
	return COG_OK;
}

/* "Name: value" lines for the request; auth[] holds the ones we print. */
static int build_headers(const llm_provider *p, const llm_exchange *x,
                         const char **lines, size_t *n, cog_buf *auth)
{
	lines[(*n)++] = "Content-Type: application/json";
	lines[(*n)++] = !x->stream ? "Accept: application/json"
		: p->wire->stream_kind == LLM_STREAM_NDJSON ? "Accept: application/x-ndjson"
		: "Accept: text/event-stream";
	if (p->wire == &llm_wire_anthropic) {
		if (p->api_key)
			cog_buf_printf(&auth[0], "x-api-key: %s", p->api_key);
		cog_buf_printf(&auth[1], "anthropic-version: %s", p->anthropic_version);
	} else if (p->api_key) {
		/* Once per request: puts, not printf. */
		cog_buf_puts(&auth[0], "Authorization: Bearer ");
		cog_buf_puts(&auth[0], p->api_key);
	}
	for (int i = 0; i < 2; i++) {
		if (auth[i].failed)
			return cog__oom(p->wire->name);
		if (auth[i].len)
			lines[(*n)++] = auth[i].ptr;
	}
	for (size_t i = 0; i < p->header_count; i++)
		lines[(*n)++] = p->headers[i];
	return COG_OK;
}

static int perform(const llm_provider *p, exchange *ex, cog_http_response *response)
{
	llm_exchange *x = ex->x;
	cog_buf url = COG_BUF_INIT, auth[2] = { COG_BUF_INIT, COG_BUF_INIT };
	const char **lines = cog__calloc(p->header_count + 4, sizeof(*lines));
	size_t n = 0;
	int rc = lines ? build_headers(p, x, lines, &n, auth) : cog__oom(p->wire->name);
	if (!rc && (cog_buf_puts(&url, p->base_url) || cog_buf_puts(&url, x->path)))
		rc = cog__oom(p->wire->name);
	if (!rc) {
		cog_http_request req = COG_HTTP_REQUEST_INIT;
		req.method = "POST";
		req.url = url.ptr;
		req.headers = lines;
		req.header_count = n;
		req.body = x->body;
		req.body_len = x->body_len;
		/* The provider's (or the context's) per-request timeout, or what
		 * is left of the caller's deadline when that is shorter. */
		unsigned int left = x->call->timeout_ms;
		req.timeout_ms = p->timeout_ms;
		if (left && (!req.timeout_ms || left < req.timeout_ms))
			req.timeout_ms = left;
		req.on_chunk = on_chunk;
		req.chunk_user_data = ex;
		req.is_canceled = x->call->is_canceled;
		req.cancel_user_data = x->call->cancel_user_data;
		rc = cog_ctx_http_perform(p->ctx, &req, response);
	}
	cog_buf_dispose(&auth[0]);
	cog_buf_dispose(&auth[1]);
	cog_buf_dispose(&url);
	cog_free(lines);
	return rc;
}

int llm_provider_exchange(const llm_provider *p, llm_exchange *x)
{
	exchange ex;
	memset(&ex, 0, sizeof(ex));
	ex.p = p;
	ex.x = x;
	ex.cap = p->max_response_bytes;
	x->answer = NULL;
	x->http_status = x->call->http_status = 0;
	x->bytes = x->events = 0;
	if (x->stream && p->wire->stream_kind == LLM_STREAM_NDJSON)
		llm_ndjson_init(&ex.nd, on_ndjson, &ex);
	else if (x->stream)
		llm_sse_init(&ex.sse, on_sse, &ex);

	cog_http_response response = COG_HTTP_RESPONSE_INIT;
	int rc = perform(p, &ex, &response);
	if (rc) {
		rc = transport_failed(&ex, rc);
	} else {
		bool ok = response.status >= 200 && response.status <= 299;
		x->http_status = response.status;
		x->call->http_status = ok && ex.reported_status ? ex.reported_status
		                                                : response.status;
		if (!ok)
			rc = http_failed(&ex, &response);
		else if (ex.failed)
			rc = stream_failure(&ex);
		else
			rc = x->stream ? stream_end(&ex, &response) : parse_answer(&ex);
	}
	cog_http_response_dispose(&response);
	if (x->stream && p->wire->stream_kind == LLM_STREAM_NDJSON)
		llm_ndjson_dispose(&ex.nd);
	else if (x->stream)
		llm_sse_dispose(&ex.sse);
	cog_buf_dispose(&ex.raw);
	cog_buf_dispose(&ex.body);
	return rc;
}
