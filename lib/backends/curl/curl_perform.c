/*
 * One HTTP request: set up a pooled easy handle, drive it with its multi
 * handle, collect or stream the answer, and turn libcurl's result into a
 * libcognition status with a message that names the request.
 *
 * The transfer runs on a multi handle rather than curl_easy_perform() so that
 * the loop wakes up at least every COG_CURL_POLL_MS to ask the host whether
 * to go on: cancellation is noticed within that time even when the peer is
 * silent.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "curl_int.h"

/* State of one transfer, shared with libcurl's callbacks. */
typedef struct transfer {
	const cog_http_request *request;
	const char *method;           /* what we ask for, for messages */
	cog_http_response *response;  /* status set before the first chunk */
	CURL *easy;
	curl_buf headers;             /* the latest response's header lines */
	curl_buf body;                /* unused when the request streams */
	bool headers_done;            /* the latest response's blank line came */
	bool body_started;
	int abort_status;             /* why a callback stopped the transfer */
} transfer;

/* ---- messages ---- */

static int transfer_error(const transfer *x, int code, const char *what)
{
	char url[512];

	curl_url_for_message(x->request->url, url, sizeof(url));
	return cog_error_set(code, "curl: %s %s: %s", x->method, url, what);
}

/* ---- callbacks ---- */

/* Header lines arrive one per call, status lines included. Interim answers
 * (100 Continue) and, when a proxy tunnel is set up, the CONNECT answer come
 * before the final one: each status line starts the collection afresh. */
static size_t on_header(char *data, size_t size, size_t count, void *user)
{
	transfer *x = user;
	size_t len = size * count;
	size_t text = len;

	while (text > 0 && (data[text - 1] == '\r' || data[text - 1] == '\n'))
		text--;
	if (text >= 5 && memcmp(data, "HTTP/", 5) == 0) {
		x->headers.len = 0;
		if (x->headers.ptr != NULL)
			x->headers.ptr[0] = '\0';
		x->headers_done = false;
		return len;
	}
	if (text == 0) {
		x->headers_done = true;
		return len;
	}
	if (curl_buf_put(&x->headers, data, text) != 0 ||
	    curl_buf_put(&x->headers, "\n", 1) != 0) {
		x->abort_status = COG_ENOMEM;
		return 0;
	}
	return len;
}

/* Any answer other than len makes libcurl stop with CURLE_WRITE_ERROR. */
static size_t write_refused(size_t len)
{
	return len == 0 ? 1 : 0;
}

static size_t on_body(char *data, size_t size, size_t count, void *user)
{
	transfer *x = user;
	const cog_http_request *request = x->request;
	size_t len = size * count;
	long code = 0;
	int rc;

	/* The status is known by now: a chunk callback holding the response
	 * may look at it (the MCP client does, to deliver only 2xx bodies). */
	if (!x->body_started) {
		x->body_started = true;
		if (curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK)
			x->response->status = (int)code;
	}
	if (request->on_chunk == NULL) {
		if (curl_buf_put(&x->body, data, len) != 0) {
			x->abort_status = COG_ENOMEM;
			return write_refused(len);
		}
		return len;
	}
	/* Cleared so that afterwards we can tell whether the callback left a
	 * message of its own. */
	cog_error_clear();
	rc = request->on_chunk(data, len, request->chunk_user_data);
	if (rc < 0) {
		x->abort_status = rc;
		return write_refused(len);
	}
	return len;
}

/* ---- request setup ---- */

/* Set an option or return the failure; needs the transfer `x` in scope. */
#define SETOPT(easy, option, value) do { \
		CURLcode setopt_rc_ = curl_easy_setopt((easy), (option), (value)); \
		if (setopt_rc_ != CURLE_OK) \
			return setopt_failed(x, #option, setopt_rc_); \
	} while (0)

static int setopt_failed(const transfer *x, const char *option, CURLcode cc)
{
	char what[256];

	snprintf(what, sizeof(what), "curl_easy_setopt(%s): %s", option,
	         curl_easy_strerror(cc));
	return transfer_error(x, cc == CURLE_OUT_OF_MEMORY ? COG_ENOMEM : COG_EIO,
	                      what);
}

/* Does header line `line` ("Name: value") have the name `name`? */
static bool header_is(const char *line, const char *name)
{
	size_t len = strlen(name);

	return strncasecmp(line, name, len) == 0 && line[len] == ':';
}

/* libcurl reads "Name:" as "remove this header"; "Name;" is how it is told
 * to send one with an empty value, which is what the caller asked for. */
static struct curl_slist *slist_add_header(struct curl_slist *list,
                                           const char *line)
{
	const char *colon = strchr(line, ':');
	struct curl_slist *grown;
	size_t name_len;
	char *copy;

	if (colon == NULL || colon[1 + strspn(colon + 1, " \t")] != '\0')
		return curl_slist_append(list, line);
	name_len = (size_t)(colon - line);
	copy = cog_malloc(name_len + 2);
	if (copy == NULL)
		return NULL;
	memcpy(copy, line, name_len);
	copy[name_len] = ';';
	copy[name_len + 1] = '\0';
	grown = curl_slist_append(list, copy);
	cog_free(copy);
	return grown;
}

/* The caller's headers, plus two removals when there is a body: no
 * "Expect: 100-continue" round trip, and no made-up form Content-Type. */
static int header_list_build(const transfer *x, struct curl_slist **out)
{
	const cog_http_request *request = x->request;
	bool has_expect = false, has_type = false;
	struct curl_slist *list = NULL, *grown;
	size_t i;

	*out = NULL;
	for (i = 0; i < request->header_count; i++) {
		const char *line = request->headers[i];

		has_expect = has_expect || header_is(line, "Expect");
		has_type = has_type || header_is(line, "Content-Type");
		grown = slist_add_header(list, line);
		if (grown == NULL)
			goto oom;
		list = grown;
	}
	if (request->body != NULL && !has_expect) {
		grown = curl_slist_append(list, "Expect:");
		if (grown == NULL)
			goto oom;
		list = grown;
	}
	if (request->body != NULL && !has_type) {
		grown = curl_slist_append(list, "Content-Type:");
		if (grown == NULL)
			goto oom;
		list = grown;
	}
	*out = list;
	return 0;
oom:
	curl_slist_free_all(list);
	return transfer_error(x, COG_ENOMEM, "out of memory for the header list");
}

static int method_set(transfer *x, CURL *easy)
{
	const cog_http_request *request = x->request;
	bool has_body = request->body != NULL;

	if (strcmp(x->method, "GET") == 0 && !has_body) {
		SETOPT(easy, CURLOPT_HTTPGET, 1L);
		return 0;
	}
	if (strcmp(x->method, "HEAD") == 0 && !has_body) {
		SETOPT(easy, CURLOPT_NOBODY, 1L);
		return 0;
	}
	if (has_body || strcmp(x->method, "POST") == 0) {
		/* The body is borrowed for the call, so no copy is needed. */
		SETOPT(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)request->body_len);
		SETOPT(easy, CURLOPT_POSTFIELDS, has_body ? request->body : (const void *)"");
		if (strcmp(x->method, "POST") == 0)
			return 0;
	}
	SETOPT(easy, CURLOPT_CUSTOMREQUEST, x->method);
	return 0;
}

static int security_set(transfer *x, curl_transport *t, CURL *easy)
{
	SETOPT(easy, CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(easy, CURLOPT_SSL_VERIFYHOST, 2L);
	if (t->ca_file != NULL)
		SETOPT(easy, CURLOPT_CAINFO, t->ca_file);
	/* Neither the URL nor a redirect may lead anywhere but http(s). */
#if LIBCURL_VERSION_NUM >= 0x075500
	SETOPT(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	SETOPT(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
	SETOPT(easy, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
	SETOPT(easy, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	return 0;
}

static int transfer_setup(transfer *x, curl_transport *t, curl_slot *slot,
                          struct curl_slist *header_list)
{
	const cog_http_request *request = x->request;
	unsigned int timeout = request->timeout_ms != 0 ?
	                       request->timeout_ms : COG_CURL_DEFAULT_TIMEOUT_MS;
	unsigned int connect_timeout = request->connect_timeout_ms != 0 ?
	                               request->connect_timeout_ms :
	                               COG_CURL_DEFAULT_CONNECT_TIMEOUT_MS;
	CURL *easy = slot->easy;
	int rc;

	slot->errbuf[0] = '\0';
	SETOPT(easy, CURLOPT_ERRORBUFFER, slot->errbuf);
	SETOPT(easy, CURLOPT_SHARE, t->share);
	SETOPT(easy, CURLOPT_URL, request->url);
	/* Signals belong to the host; libcurl must not install handlers. */
	SETOPT(easy, CURLOPT_NOSIGNAL, 1L);
	SETOPT(easy, CURLOPT_USERAGENT, t->user_agent);
	SETOPT(easy, CURLOPT_HEADERFUNCTION, on_header);
	SETOPT(easy, CURLOPT_HEADERDATA, (void *)x);
	SETOPT(easy, CURLOPT_WRITEFUNCTION, on_body);
	SETOPT(easy, CURLOPT_WRITEDATA, (void *)x);
	SETOPT(easy, CURLOPT_TIMEOUT_MS, (long)timeout);
	SETOPT(easy, CURLOPT_CONNECTTIMEOUT_MS, (long)connect_timeout);
	/* Long LLM streams sit idle for a while; keep NAT boxes aware. */
	SETOPT(easy, CURLOPT_TCP_KEEPALIVE, 1L);
	if (t->http2)
		SETOPT(easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	if (header_list != NULL)
		SETOPT(easy, CURLOPT_HTTPHEADER, header_list);
	rc = security_set(x, t, easy);
	if (rc == 0)
		rc = method_set(x, easy);
	return rc;
}

/* ---- running ---- */

static bool canceled(const cog_http_request *request)
{
	return request->is_canceled != NULL &&
	       request->is_canceled(request->cancel_user_data) != 0;
}

static int multi_failed(const transfer *x, const char *call, CURLMcode mc)
{
	char what[256];

	snprintf(what, sizeof(what), "%s: %s", call, curl_multi_strerror(mc));
	return transfer_error(x, mc == CURLM_OUT_OF_MEMORY ? COG_ENOMEM : COG_EIO,
	                      what);
}

/* The result libcurl recorded for our (only) easy handle. */
static int transfer_result(const transfer *x, curl_slot *slot, CURLcode *result)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(slot->multi, &left)) != NULL) {
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == slot->easy) {
			*result = msg->data.result;
			return 0;
		}
	}
	return transfer_error(x, COG_EIO, "libcurl finished without a result");
}

/* Drive the transfer to its end; 0 with *result set, or a status when we
 * stopped it (cancellation) or libcurl's multi interface failed. */
static int transfer_run(const transfer *x, curl_slot *slot, CURLcode *result)
{
	CURLMcode mc;
	int running = 1;
	int rc = 0;

	mc = curl_multi_add_handle(slot->multi, slot->easy);
	if (mc != CURLM_OK)
		return multi_failed(x, "curl_multi_add_handle", mc);
	for (;;) {
		mc = curl_multi_perform(slot->multi, &running);
		if (mc != CURLM_OK) {
			rc = multi_failed(x, "curl_multi_perform", mc);
			break;
		}
		if (running == 0)
			break;
		if (canceled(x->request)) {
			rc = transfer_error(x, COG_ECANCELED, "canceled by the host");
			break;
		}
		mc = curl_multi_poll(slot->multi, NULL, 0, COG_CURL_POLL_MS, NULL);
		if (mc != CURLM_OK) {
			rc = multi_failed(x, "curl_multi_poll", mc);
			break;
		}
	}
	if (rc == 0)
		rc = transfer_result(x, slot, result);
	/* Removing an unfinished transfer aborts it and closes its
	 * connection; a finished one returns its connection to the cache. */
	mc = curl_multi_remove_handle(slot->multi, slot->easy);
	if (mc != CURLM_OK && rc == 0)
		rc = multi_failed(x, "curl_multi_remove_handle", mc);
	return rc;
}

/* ---- results ---- */

static int status_for_curlcode(CURLcode cc)
{
	switch (cc) {
	case CURLE_OPERATION_TIMEDOUT:
		return COG_ETIMEOUT;
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
		return COG_EUNAVAILABLE;
	case CURLE_OUT_OF_MEMORY:
		return COG_ENOMEM;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return COG_EINVAL;
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_GOT_NOTHING:
	case CURLE_BAD_CONTENT_ENCODING:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_USE_SSL_FAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
		return COG_EPROTO;
	default:
		return COG_EIO;
	}
}

/* A callback of ours or of the host stopped the transfer. */
static int aborted_error(const transfer *x)
{
	char what[1100];

	if (x->abort_status == COG_ENOMEM)
		return transfer_error(x, COG_ENOMEM, "out of memory for the response");
	/* The chunk callback may have explained itself: keep its words and
	 * add which request it stopped. */
	if (cog_error_last_code() != COG_OK)
		snprintf(what, sizeof(what), "chunk callback: %s", cog_error_last());
	else
		snprintf(what, sizeof(what), "the chunk callback stopped the "
		         "transfer (%s)", cog_strerror(x->abort_status));
	transfer_error(x, x->abort_status, what);
	return x->abort_status;
}

static int curl_failed(const transfer *x, const curl_slot *slot, CURLcode cc)
{
	if (cc == CURLE_WRITE_ERROR && x->abort_status != 0)
		return aborted_error(x);
	return transfer_error(x, status_for_curlcode(cc), slot->errbuf[0] != '\0' ?
	                      slot->errbuf : curl_easy_strerror(cc));
}

/* A transfer that failed once the final answer's headers were in (a
 * chunk callback or is_canceled stopped it, or the body broke): its status
 * and headers are still handed over (the body is not). */
static void response_fill_partial(transfer *x, curl_slot *slot,
                                  cog_http_response *response)
{
	long code = 0;

	if (!x->headers_done && !x->body_started)
		return;
	if (curl_easy_getinfo(slot->easy, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK ||
	    code < 200)
		return;
	response->status = (int)code;
	if (response->headers == NULL)
		response->headers = curl_buf_detach(&x->headers, NULL);
}

static int response_fill(transfer *x, curl_slot *slot, cog_http_response *response)
{
	long code = 0;
	CURLcode cc = curl_easy_getinfo(slot->easy, CURLINFO_RESPONSE_CODE, &code);
	char *headers, *body = NULL;
	size_t body_len = 0;

	if (cc != CURLE_OK)
		return curl_failed(x, slot, cc);
	headers = curl_buf_detach(&x->headers, NULL);
	if (headers == NULL)
		return transfer_error(x, COG_ENOMEM, "out of memory for the response");
	if (x->request->on_chunk == NULL) {
		body = curl_buf_detach(&x->body, &body_len);
		if (body == NULL) {
			cog_free(headers);
			return transfer_error(x, COG_ENOMEM, "out of memory for the response");
		}
	}
	response->status = (int)code;
	response->headers = headers;
	response->body = body;
	response->body_len = body_len;
	return 0;
}

int curl_transport_perform(void *self, const cog_http_request *request,
                           cog_http_response *response)
{
	curl_transport *t = self;
	transfer x;
	struct curl_slist *header_list = NULL;
	curl_slot *slot = NULL;
	CURLcode result = CURLE_OK;
	int rc;

	memset(&x, 0, sizeof(x));
	x.request = request;
	x.response = response;
	x.method = request->method != NULL ? request->method :
	           request->body != NULL ? "POST" : "GET";
	if (request->body == NULL && request->body_len != 0)
		return transfer_error(&x, COG_EINVAL, "body_len without a body");
	if (canceled(request))
		return transfer_error(&x, COG_ECANCELED, "canceled by the host");
	rc = header_list_build(&x, &header_list);
	if (rc == 0)
		rc = curl_pool_acquire(t, &slot);
	if (rc == 0) {
		x.easy = slot->easy;
		rc = transfer_setup(&x, t, slot, header_list);
	}
	if (rc == 0)
		rc = transfer_run(&x, slot, &result);
	if (rc == 0 && result != CURLE_OK)
		rc = curl_failed(&x, slot, result);
	if (rc == 0)
		rc = response_fill(&x, slot, response);
	else if (slot != NULL)
		response_fill_partial(&x, slot, response);
	if (slot != NULL)
		curl_pool_release(t, slot);
	curl_slist_free_all(header_list);
	curl_buf_dispose(&x.headers);
	curl_buf_dispose(&x.body);
	return rc;
}
