/*
 * http_fetch: one HTTP request through the context's transport, to a host
 * of the call's network grant only. The URL, its parser and the grant
 * patterns are in builtin_http_url.c; this file makes the request and
 * reports the response.
 *
 * Redirects are not followed. libcognition-curl never follows them, and a
 * 3xx answer goes back to the model with its Location made absolute; a
 * fetch of that URL is a new call, checked against the grant like any
 * other. Following inside the call would need the grant re-checked at every
 * hop, which the transport interface cannot do (a host transport that
 * follows redirects by itself defeats the check: see the report on
 * transport.h).
 *
 * Header injection: the transport refuses CR/LF in headers; we also refuse
 * names outside RFC 9110's token characters, and the headers that belong to
 * the transport or could re-route the request: Host, Content-Length,
 * Transfer-Encoding, Connection, Keep-Alive, Upgrade, TE, Trailer, Expect
 * and Proxy-*. Authorization and Cookie are allowed: they only reach a
 * granted host, and the audit log redacts them.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "builtin_int.h"

/* After the body passed max_bytes we keep reading (and discarding) a
 * little longer, so that a moderately large answer still completes and its
 * status and headers can be reported; past these we stop the transfer. */
#define DRAIN_MAX_BYTES (8u * 1024u * 1024u)
#define DRAIN_MAX_NS (3ull * 1000000000ull)
#define MAX_HEADERS 64

/* ---- the request ---- */

static bool token_char(unsigned char c)
{
	return isalnum(c) || (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool header_forbidden(const char *name)
{
	static const char *const names[] = {
		"host", "content-length", "transfer-encoding", "connection",
		"keep-alive", "upgrade", "te", "trailer", "expect",
	};
	for (size_t i = 0; i < COG_ARRAY_LEN(names); i++)
		if (strcasecmp(name, names[i]) == 0)
			return true;
	return strncasecmp(name, "proxy-", 6) == 0;
}

/* "Name: value" lines for the transport (each cog_malloc'd). */
static int build_headers(const cJSON *headers, char ***out, size_t *count)
{
	const cJSON *item;
	size_t n = 0;
	int total = cJSON_GetArraySize(headers);

	*out = NULL;
	*count = 0;
	if (total <= 0)
		return 0;
	if (total > MAX_HEADERS)
		return cog__error(COG_EINVAL, "http_fetch: at most %d headers",
			MAX_HEADERS);
	char **lines = cog__calloc((size_t)total, sizeof(*lines));
	if (lines == NULL)
		return cog__oom("http_fetch");
	int rc = 0;
	cJSON_ArrayForEach(item, headers) {
		const char *name = item->string;
		if (name[0] == '\0' || strlen(name) > 128) {
			rc = cog__error(COG_EINVAL, "http_fetch: header name \"%.40s\" "
				"must have 1 to 128 characters", name);
			break;
		}
		for (const char *p = name; *p != '\0' && rc == 0; p++)
			if (!token_char((unsigned char)*p))
				rc = cog__error(COG_EINVAL, "http_fetch: header name \"%s\" "
					"holds '%c', which header names cannot", name, *p);
		if (rc != 0)
			break;
		if (header_forbidden(name)) {
			rc = cog__error(COG_EINVAL, "http_fetch: header \"%s\" is set by "
				"the transport and cannot be given", name);
			break;
		}
		if (!cJSON_IsString(item)) {
			rc = cog__error(COG_EINVAL, "http_fetch: header \"%s\" must have "
				"a string value", name);
			break;
		}
		for (const char *p = item->valuestring; *p != '\0' && rc == 0; p++) {
			unsigned char c = (unsigned char)*p;
			if ((c < 0x20 && c != '\t') || c == 0x7f)
				rc = cog__error(COG_EINVAL, "http_fetch: the value of header "
					"\"%s\" holds a control character (CR and LF cannot "
					"start a new header)", name);
		}
		if (rc != 0)
			break;
		cog_buf line = COG_BUF_INIT;
		cog_buf_printf(&line, "%s: %s", name, item->valuestring);
		if ((lines[n] = cog_buf_detach(&line)) == NULL) {
			rc = cog__oom("http_fetch");
			break;
		}
		n++;
	}
	if (rc != 0) {
		for (size_t i = 0; i < n; i++)
			cog_free(lines[i]);
		cog_free(lines);
		return rc;
	}
	*out = lines;
	*count = n;
	return 0;
}

/* ---- the response ---- */

typedef struct fetch_body {
	cog_buf data;
	size_t cap;                  /* bytes kept */
	uint64_t seen;               /* bytes received */
	uint64_t cut_ns;             /* when the cap was passed, or 0 */
	bool truncated;
	bool stopped;                /* we ended the transfer early */
} fetch_body;

static int on_chunk(const char *data, size_t len, void *user_data)
{
	fetch_body *b = user_data;
	size_t room = b->cap - b->data.len;
	size_t keep = len < room ? len : room;

	b->seen += len;
	if (keep > 0 && cog_buf_put(&b->data, data, keep) != 0)
		return cog__oom("http_fetch");
	if (keep == len)
		return 0;
	b->truncated = true;
	uint64_t now = cog_clock_mono_ns();
	if (b->cut_ns == 0)
		b->cut_ns = now;
	if (b->seen - b->cap > DRAIN_MAX_BYTES || now - b->cut_ns > DRAIN_MAX_NS) {
		b->stopped = true;
		return cog__error(COG_ERANGE, "http_fetch: the body passed max_bytes");
	}
	return 0;
}

/* Response header lines ("Name: value\n") as an object of lowercase names;
 * repeated names are joined with ", ". */
static int add_headers(cJSON *result, const char *text, size_t *json_size)
{
	cJSON *headers = cJSON_AddObjectToObject(result, "headers");

	*json_size = 0;
	if (headers == NULL)
		return cog__oom("http_fetch");
	for (const char *line = text; line != NULL && *line != '\0';) {
		const char *nl = strchr(line, '\n');
		size_t len = nl != NULL ? (size_t)(nl - line) : strlen(line);
		const char *colon = memchr(line, ':', len);
		if (colon != NULL && colon > line) {
			char *name = cog__strndup(line, (size_t)(colon - line));
			const char *v = colon + 1;
			while (v < line + len && (*v == ' ' || *v == '\t'))
				v++;
			char *value = cog__strndup(v, (size_t)(line + len - v));
			if (name == NULL || value == NULL) {
				cog_free(name);
				cog_free(value);
				return cog__oom("http_fetch");
			}
			for (char *p = name; *p != '\0'; p++)
				*p = (char)tolower((unsigned char)*p);
			if (!builtin_is_text(value, strlen(value)))
				for (char *p = value; *p != '\0'; p++)
					if ((unsigned char)*p >= 0x80)
						*p = '?';
			cJSON *old = cJSON_GetObjectItemCaseSensitive(headers, name);
			bool ok;
			if (cJSON_IsString(old)) {
				cog_buf joined = COG_BUF_INIT;
				cog_buf_printf(&joined, "%s, %s", old->valuestring, value);
				char *both = cog_buf_detach(&joined);
				ok = both != NULL &&
				     cJSON_ReplaceItemInObjectCaseSensitive(headers, name,
				         cJSON_CreateString(both));
				cog_free(both);
			} else {
				ok = cJSON_AddStringToObject(headers, name, value) != NULL;
			}
			*json_size += 8 + builtin_json_size(name, strlen(name)) +
			              builtin_json_size(value, strlen(value));
			cog_free(name);
			cog_free(value);
			if (!ok)
				return cog__oom("http_fetch");
		}
		line = nl != NULL ? nl + 1 : NULL;
	}
	return 0;
}

static int build_result(const builtin_tool *tool,
                        const char *url, const builtin_url_parts *u,
                        const cog_http_response *response,
                        fetch_body *body, cJSON *result)
{
	size_t headers_size = 0;
	int rc = 0;

	if (body->stopped) {
		/* The transport hands back nothing of a transfer stopped by its
		 * chunk callback. */
		if (cJSON_AddNullToObject(result, "status") == NULL ||
		    cJSON_AddObjectToObject(result, "headers") == NULL ||
		    cJSON_AddStringToObject(result, "note", "the body was larger "
		        "than max_bytes and kept coming, so the transfer was "
		        "stopped; its status and headers are unknown") == NULL)
			return cog__oom("http_fetch");
	} else {
		if (cJSON_AddNumberToObject(result, "status", response->status) == NULL)
			return cog__oom("http_fetch");
		rc = add_headers(result, response->headers != NULL ?
		                 response->headers : "", &headers_size);
		if (rc != 0)
			return rc;
		if (response->status >= 300 && response->status < 400) {
			char *location = cog_http_response_header(response, "Location");
			if (location != NULL && builtin_is_text(location, strlen(location))) {
				char *absolute = builtin_http_location(url, u, location);
				bool ok = absolute != NULL &&
				          cJSON_AddStringToObject(result, "location", absolute);
				cog_free(absolute);
				if (!ok) {
					cog_free(location);
					return cog__oom("http_fetch");
				}
			}
			cog_free(location);
		}
	}
	size_t budget = builtin_budget(tool, 1024 + headers_size +
	                               2 * builtin_json_size(url, strlen(url)));
	size_t used = 0;
	const char *data = body->data.ptr != NULL ? body->data.ptr : "";
	rc = builtin_add_data(result, "body", "encoding", data, body->data.len,
	                      budget, body->truncated, &used);
	if (rc != 0)
		return rc;
	if (cJSON_AddStringToObject(result, "url", url) == NULL ||
	    cJSON_AddBoolToObject(result, "truncated",
	                          body->truncated || used < body->data.len) == NULL)
		return cog__oom("http_fetch");
	return 0;
}

/* ---- the runner ---- */

static int fetch(const cog_tool_request *request, const cJSON *args,
                 const builtin_tool *tool, cJSON *result)
{
	const char *url_arg = cog_json_get_string(args, "url");
	const char *method = cog_json_get_string(args, "method");
	const cJSON *headers = cJSON_GetObjectItemCaseSensitive(args, "headers");
	const cJSON *query = cJSON_GetObjectItemCaseSensitive(args, "query");
	const cJSON *body_arg = cJSON_GetObjectItemCaseSensitive(args, "body");
	builtin_url_parts u;
	int rc;

	if (url_arg == NULL)
		return cog__error(COG_EINVAL, "http_fetch: \"url\" must be a string");
	if (method == NULL)
		method = "GET";
	if ((headers != NULL && !cJSON_IsObject(headers)) ||
	    (query != NULL && !cJSON_IsObject(query)))
		return cog__error(COG_EINVAL, "http_fetch: \"headers\" and \"query\" "
			"must be objects");
	if (body_arg != NULL && !cJSON_IsString(body_arg))
		return cog__error(COG_EINVAL, "http_fetch: \"body\" must be a string");
	if (body_arg != NULL && (strcmp(method, "GET") == 0 ||
	                         strcmp(method, "HEAD") == 0))
		return cog__error(COG_EINVAL, "http_fetch: a %s request has no body; "
			"use POST, PUT or PATCH to send one", method);

	rc = builtin_http_parse_url(url_arg, &u);
	if (rc == 0)
		rc = builtin_http_check_grant(request, &u);
	if (rc != 0)
		return rc;

	size_t cap = builtin_budget(tool, 4096);
	double max_bytes = cog_json_get_number(args, "max_bytes", 0);
	if (max_bytes >= 1 && max_bytes < (double)cap)
		cap = (size_t)max_bytes;

	char *url = NULL;
	char **lines = NULL;
	size_t line_count = 0;
	rc = builtin_http_build_url(url_arg, &u, query, &url);
	if (rc == 0)
		rc = build_headers(headers, &lines, &line_count);
	if (rc != 0) {
		cog_free(url);
		return rc;
	}

	cog_http_request http = COG_HTTP_REQUEST_INIT;
	cog_http_response response = COG_HTTP_RESPONSE_INIT;
	fetch_body body;
	memset(&body, 0, sizeof(body));
	body.cap = cap;
	http.method = method;
	http.url = url;
	http.headers = (const char *const *)lines;
	http.header_count = line_count;
	if (body_arg != NULL) {
		http.body = body_arg->valuestring;
		http.body_len = strlen(body_arg->valuestring);
	}
	http.timeout_ms = request->timeout_ms;
	http.on_chunk = on_chunk;
	http.chunk_user_data = &body;
	rc = cog_ctx_http_perform(request->ctx, &http, &response);
	if (rc != 0 && body.stopped)
		rc = 0;
	else if (rc != 0)
		rc = cog__error_wrap(rc, "http_fetch: %s %s", method, url);
	if (rc == 0)
		rc = build_result(tool, url, &u, &response, &body, result);
	cog_http_response_dispose(&response);
	cog_buf_dispose(&body.data);
	for (size_t i = 0; i < line_count; i++)
		cog_free(lines[i]);
	cog_free(lines);
	cog_free(url);
	return rc;
}

int builtin_http_fetch(const cog_tool_request *request, char **result_json,
                       void *user_data)
{
	cJSON *args = NULL, *result = NULL;
	int rc = builtin_args(request, &args);

	if (rc == 0 && (result = cJSON_CreateObject()) == NULL)
		rc = cog__oom("http_fetch");
	if (rc == 0)
		rc = fetch(request, args, user_data, result);
	cJSON_Delete(args);
	if (rc != 0) {
		cJSON_Delete(result);
		return rc;
	}
	return builtin_finish(result, result_json);
}
