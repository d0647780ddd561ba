/* The transport wrapper: request validation shared by every backend. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core_int.h"
#include "cognition/transport.h"

struct cog_transport {
	cog_transport_vtable vt;
};

/* Struct sizes by version: a caller built against older headers has a
 * shorter struct, and nothing may be read or written past its end. When a
 * version 2 appends members, version 1 becomes offsetof(first new member). */
static const size_t vtable_size[COG_TRANSPORT_VTABLE_VERSION + 1] = {
	0, sizeof(cog_transport_vtable)
};
static const size_t request_size[COG_HTTP_REQUEST_VERSION + 1] = {
	0, sizeof(cog_http_request)
};
static const size_t response_size[COG_HTTP_RESPONSE_VERSION + 1] = {
	0, sizeof(cog_http_response)
};

size_t cog__http_request_size(unsigned int version)
{
	return version >= 1 && version <= COG_HTTP_REQUEST_VERSION
		? request_size[version] : 0;
}

int cog_transport_vtable_init(cog_transport_vtable *vtable, unsigned int version)
{
	if (!vtable)
		return cog__error(COG_EINVAL, "cog_transport_vtable_init: vtable is NULL");
	if (version == 0 || version > COG_TRANSPORT_VTABLE_VERSION)
		return cog__error(COG_EVERSION,
			"cog_transport_vtable_init: version %u is not supported (1..%u)",
			version, COG_TRANSPORT_VTABLE_VERSION);
	memset(vtable, 0, vtable_size[version]);
	vtable->version = version;
	return COG_OK;
}

int cog_http_request_init(cog_http_request *request, unsigned int version)
{
	if (!request)
		return cog__error(COG_EINVAL, "cog_http_request_init: request is NULL");
	if (version == 0 || version > COG_HTTP_REQUEST_VERSION)
		return cog__error(COG_EVERSION,
			"cog_http_request_init: version %u is not supported (1..%u)",
			version, COG_HTTP_REQUEST_VERSION);
	memset(request, 0, request_size[version]);
	request->version = version;
	return COG_OK;
}

int cog_transport_new(cog_transport **out, const cog_transport_vtable *vt)
{
	static const char fn[] = "cog_transport_new";
	COG_CHECK_ARG(out, fn, "out is NULL");
	*out = NULL;
	COG_CHECK_ARG(vt, fn, "vtable is NULL");
	if (vt->version == 0 || vt->version > COG_TRANSPORT_VTABLE_VERSION) {
		/* close sits at the same offset in every version. */
		if (vt->close)
			vt->close(vt->self);
		return cog__error(COG_EVERSION,
			"%s: transport vtable version %u is not supported (1..%u)",
			fn, vt->version, COG_TRANSPORT_VTABLE_VERSION);
	}
	if (!vt->perform) {
		if (vt->close)
			vt->close(vt->self);
		return cog__error(COG_EINVAL, "%s: required member 'perform' is NULL", fn);
	}
	cog_transport *t = cog__calloc(1, sizeof(*t));
	if (!t) {
		if (vt->close)
			vt->close(vt->self);
		return cog__oom(fn);
	}
	memcpy(&t->vt, vt, vtable_size[vt->version]);
	*out = t;
	return COG_OK;
}

void cog_transport_free(cog_transport *t)
{
	if (!t)
		return;
	if (t->vt.close)
		t->vt.close(t->vt.self);
	cog_free(t);
}

/* The URL as it may appear in an error message: no user info, no query
 * or fragment (both can carry credentials). */
static const char *url_for_message(const char *url, char *out, size_t cap)
{
	const char *scheme_end = strstr(url, "://");
	const char *host = scheme_end ? scheme_end + 3 : url;
	const char *path = host + strcspn(host, "/?#");
	const char *at = NULL; /* the last '@' of the authority ends user info */
	for (const char *p = host; p < path; p++)
		if (*p == '@')
			at = p;
	const char *end = path + strcspn(path, "?#");
	snprintf(out, cap, "%.*s%.*s%s", (int)(host - url), url,
		(int)(end - (at ? at + 1 : host)), at ? at + 1 : host,
		*end ? "?..." : "");
	return out;
}

static bool is_token_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && !strchr("()<>@,;:\\\"/[]?={}", c);
}

static int check_request(const cog_http_request *req)
{
	static const char fn[] = "cog_transport_perform";
	if (req->version == 0 || req->version > COG_HTTP_REQUEST_VERSION)
		return cog__error(COG_EVERSION,
			"%s: request version %u is not supported (1..%u)",
			fn, req->version, COG_HTTP_REQUEST_VERSION);
	if (!req->url || !*req->url)
		return cog__error(COG_EINVAL, "%s: request URL is missing", fn);
	char shown[256];
	if (strncasecmp(req->url, "http://", 7) != 0 &&
	    strncasecmp(req->url, "https://", 8) != 0)
		return cog__error(COG_EINVAL, "%s: URL '%s' is not http:// or https://",
			fn, url_for_message(req->url, shown, sizeof(shown)));
	for (const char *p = req->url; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return cog__error(COG_EINVAL,
				"%s: URL '%s' contains a space or control character at byte %zu",
				fn, url_for_message(req->url, shown, sizeof(shown)),
				(size_t)(p - req->url));
	if (req->method) {
		if (!*req->method)
			return cog__error(COG_EINVAL, "%s: method is empty", fn);
		for (const char *p = req->method; *p; p++)
			if (!is_token_char((unsigned char)*p))
				return cog__error(COG_EINVAL, "%s: method '%.40s' is not a token",
					fn, req->method);
	}
	if (req->header_count && !req->headers)
		return cog__error(COG_EINVAL, "%s: header_count is %zu but headers is NULL",
			fn, req->header_count);
	for (size_t i = 0; i < req->header_count; i++) {
		const char *h = req->headers[i];
		if (!h)
			return cog__error(COG_EINVAL, "%s: header %zu is NULL", fn, i);
		const char *colon = strchr(h, ':');
		if (!colon || colon == h)
			return cog__error(COG_EINVAL,
				"%s: header %zu ('%.80s') is not 'Name: value'", fn, i, h);
		for (const char *p = h; p < colon; p++)
			if (!is_token_char((unsigned char)*p))
				return cog__error(COG_EINVAL,
					"%s: header %zu has an invalid name", fn, i);
		if (strpbrk(h, "\r\n"))
			return cog__error(COG_EINVAL,
				"%s: header %zu contains CR or LF (header injection)", fn, i);
	}
	if (req->body_len && !req->body)
		return cog__error(COG_EINVAL, "%s: body_len is %zu but body is NULL",
			fn, req->body_len);
	return COG_OK;
}

int cog_transport_perform(cog_transport *t, const cog_http_request *req,
                          cog_http_response *resp)
{
	static const char fn[] = "cog_transport_perform";
	COG_CHECK_ARG(t, fn, "transport is NULL");
	COG_CHECK_ARG(req, fn, "request is NULL");
	COG_CHECK_ARG(resp, fn, "response is NULL");
	if (resp->version == 0 || resp->version > COG_HTTP_RESPONSE_VERSION)
		return cog__error(COG_EVERSION,
			"%s: response version %u is not supported (initialise it with "
			"COG_HTTP_RESPONSE_INIT)", fn, resp->version);
	int rc = check_request(req);
	if (rc)
		return rc;
	unsigned int version = resp->version;
	cog_http_response_dispose(resp);
	resp->version = version;
	if (req->is_canceled && req->is_canceled(req->cancel_user_data)) {
		char shown[256];
		return cog__error(COG_ECANCELED, "%s: %s %s canceled before it started",
			fn, req->method ? req->method : "GET",
			url_for_message(req->url, shown, sizeof(shown)));
	}
	rc = t->vt.perform(t->vt.self, req, resp);
	if (rc) {
		/* Partial bodies of failed transfers are dropped; the status and
		 * headers a backend handed over (an answer that a chunk callback or
		 * a cancel ended) are kept. */
		cog_free(resp->body);
		resp->body = NULL;
		resp->body_len = 0;
	}
	return rc;
}

void cog_http_response_dispose(cog_http_response *resp)
{
	if (!resp)
		return;
	cog_free(resp->headers);
	cog_free(resp->body);
	unsigned int version = resp->version;
	if (version >= 1 && version <= COG_HTTP_RESPONSE_VERSION)
		memset(resp, 0, response_size[version]);
	else
		resp->headers = resp->body = NULL, resp->body_len = 0;
	resp->version = version;
}

char *cog_http_response_header(const cog_http_response *resp, const char *name)
{
	if (!resp || !resp->headers || !name)
		return NULL;
	size_t nlen = strlen(name);
	for (const char *line = resp->headers; *line;) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		if (len > nlen && line[nlen] == ':' && strncasecmp(line, name, nlen) == 0) {
			const char *v = line + nlen + 1;
			const char *vend = line + len;
			while (v < vend && (*v == ' ' || *v == '\t'))
				v++;
			while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t' || vend[-1] == '\r'))
				vend--;
			return cog__strndup(v, (size_t)(vend - v));
		}
		if (!end)
			break;
		line = end + 1;
	}
	return NULL;
}

int cog_transport_describe(cog_transport *t, char **json)
{
	COG_CHECK_ARG(t, "cog_transport_describe", "transport is NULL");
	COG_CHECK_ARG(json, "cog_transport_describe", "json is NULL");
	*json = NULL;
	if (t->vt.describe)
		return t->vt.describe(t->vt.self, json);
	*json = cog__strdup("{\"backend\":\"custom\"}");
	return *json ? COG_OK : cog__oom("cog_transport_describe");
}
