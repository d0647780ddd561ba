/*
 * http_fetch: one HTTP request through the context's transport, to a host
 * of the call's network grant only.
 *
 * Grant patterns (request->allowed_hosts, a JSON array of strings):
 *   "example.com"        that host exactly (case-insensitive; a trailing dot
 *                        is ignored on both sides)
 *   "*.example.org"      any subdomain at any depth (a.example.org,
 *                        a.b.example.org) but NOT example.org itself: the
 *                        wildcard stands for at least one label, as in TLS
 *                        certificates; grant both to allow both
 *   "[::1]", "10.0.0.7"  IP literals, compared as written; wildcards never
 *                        match an IP address ("*.0.0.1" is no way to
 *                        grant 127.0.0.1)
 *   "*"                  any host
 *   any of these + ":8080"  only that port (the URL's explicit port, or 80
 *                        for http and 443 for https); without a port, any
 *                        port of that host
 * The host is taken from the URL by this file's own strict parser, which
 * refuses what parsers disagree on (userinfo "user@host", backslashes,
 * percent-encoded or odd host characters), so the host we check is the
 * host the transport connects to. Names are trusted to DNS: a granted name
 * that resolves to an internal address is reached.
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
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "builtin_int.h"

#define HOST_MAX 255
/* After the body passed max_bytes we keep reading (and discarding) a
 * little longer, so that a moderately large answer still completes and its
 * status and headers can be reported; past these we stop the transfer. */
#define DRAIN_MAX_BYTES (8u * 1024u * 1024u)
#define DRAIN_MAX_NS (3ull * 1000000000ull)
#define MAX_HEADERS 64

/* ---- URLs ---- */

typedef struct url_parts {
	bool https;
	char host[HOST_MAX + 3];    /* lowercase; IPv6 keeps its brackets */
	unsigned int port;          /* explicit or the scheme's default */
	bool explicit_port;
	size_t origin_len;          /* length of "scheme://authority" */
	size_t end;                 /* where the fragment starts (or strlen) */
} url_parts;

static bool host_char(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_';
}

static int parse_port(const char *p, size_t len, unsigned int *port)
{
	unsigned int v = 0;

	if (len == 0 || len > 5)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)p[i]))
			return -1;
		v = v * 10 + (unsigned int)(p[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -1;
	*port = v;
	return 0;
}

static int bad_url(const char *url, const char *why)
{
	return cog__error(COG_EINVAL, "http_fetch: URL \"%.300s\" %s", url, why);
}

static int parse_url(const char *url, url_parts *u)
{
	const char *p;

	memset(u, 0, sizeof(*u));
	for (p = url; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;
		if (c <= 0x20 || c == 0x7f)
			return bad_url(url, "holds a space or control character; "
				"percent-encode it");
		if (c == '\\')
			return bad_url(url, "holds a backslash; percent-encode it");
	}
	if (strncasecmp(url, "https://", 8) == 0) {
		u->https = true;
		p = url + 8;
	} else if (strncasecmp(url, "http://", 7) == 0) {
		p = url + 7;
	} else {
		return bad_url(url, "is not http:// or https://");
	}
	size_t auth_len = strcspn(p, "/?#");
	const char *auth_end = p + auth_len;
	u->origin_len = (size_t)(auth_end - url);
	u->end = strcspn(url, "#");
	if (memchr(p, '@', auth_len) != NULL)
		return bad_url(url, "carries credentials (user@host); send them in "
			"an Authorization header instead");
	const char *host_end;
	const char *port_start = NULL;
	if (*p == '[') {
		const char *close = memchr(p, ']', auth_len);
		if (close == NULL)
			return bad_url(url, "has an unterminated [IPv6] host");
		for (const char *q = p + 1; q < close; q++)
			if (!isxdigit((unsigned char)*q) && *q != ':' && *q != '.')
				return bad_url(url, "has an invalid [IPv6] host");
		host_end = close + 1;
		if (host_end < auth_end) {
			if (*host_end != ':')
				return bad_url(url, "has text after its [IPv6] host");
			port_start = host_end + 1;
		}
	} else {
		host_end = p;
		while (host_end < auth_end && *host_end != ':') {
			if (!host_char((unsigned char)*host_end))
				return bad_url(url, "has a character in its host that is "
					"not a letter, digit, '-', '.' or '_'");
			host_end++;
		}
		if (host_end < auth_end)
			port_start = host_end + 1;
	}
	size_t host_len = (size_t)(host_end - p);
	if (host_len == 0 || host_len > HOST_MAX)
		return bad_url(url, "has no host, or one longer than 255 bytes");
	for (size_t i = 0; i < host_len; i++)
		u->host[i] = (char)tolower((unsigned char)p[i]);
	u->host[host_len] = '\0';
	/* "example.com." is example.com. */
	if (host_len > 1 && u->host[host_len - 1] == '.')
		u->host[host_len - 1] = '\0';
	u->port = u->https ? 443 : 80;
	if (port_start != NULL) {
		if (parse_port(port_start, (size_t)(auth_end - port_start), &u->port) != 0)
			return bad_url(url, "has a port that is not a number from 1 to "
				"65535");
		u->explicit_port = true;
	}
	return 0;
}

/* ---- the grant ---- */

/* An IP address literal: bracketed IPv6, or digits and dots (which also
 * covers the odd IPv4 forms some resolvers accept). */
static bool is_ip_literal(const char *host)
{
	return host[0] == '[' || strspn(host, "0123456789.") == strlen(host);
}

/* Does one pattern allow the URL's host and port? */
static bool pattern_allows(const char *pattern, const url_parts *u)
{
	char host[HOST_MAX + 3];
	size_t len = strlen(pattern);
	const char *colon;
	unsigned int port = 0;

	if (pattern[0] == '[') {
		const char *close = strchr(pattern, ']');
		if (close == NULL)
			return false;
		colon = close[1] == ':' ? close + 1 : NULL;
		if (colon == NULL && close[1] != '\0')
			return false;
	} else {
		colon = strrchr(pattern, ':');
	}
	size_t host_len = colon != NULL ? (size_t)(colon - pattern) : len;
	if (colon != NULL && parse_port(colon + 1, strlen(colon + 1), &port) != 0)
		return false;
	if (host_len == 0 || host_len > HOST_MAX)
		return false;
	for (size_t i = 0; i < host_len; i++)
		host[i] = (char)tolower((unsigned char)pattern[i]);
	host[host_len] = '\0';
	if (host_len > 1 && host[host_len - 1] == '.')
		host[--host_len] = '\0';
	if (port != 0 && port != u->port)
		return false;
	if (strcmp(host, "*") == 0)
		return true;
	if (strncmp(host, "*.", 2) == 0) {
		if (is_ip_literal(u->host))
			return false;
		const char *suffix = host + 1;      /* ".example.org" */
		size_t suffix_len = host_len - 1;
		size_t url_len = strlen(u->host);
		return url_len > suffix_len &&
		       strcmp(u->host + url_len - suffix_len, suffix) == 0;
	}
	return strcmp(host, u->host) == 0;
}

static int check_grant(const cog_tool_request *request, const url_parts *u)
{
	const char *grant = request->allowed_hosts != NULL ?
	                    request->allowed_hosts : "[]";
	cJSON *patterns = cJSON_Parse(grant);
	bool allowed = false;
	int count = 0;

	if (cJSON_IsArray(patterns)) {
		const cJSON *item;
		count = cJSON_GetArraySize(patterns);
		cJSON_ArrayForEach(item, patterns) {
			if (cJSON_IsString(item) && pattern_allows(item->valuestring, u)) {
				allowed = true;
				break;
			}
		}
	}
	cJSON_Delete(patterns);
	if (allowed)
		return 0;
	if (count == 0)
		return cog__error(COG_EDENIED, "http_fetch: this call has no network "
			"grant, so host \"%s\" cannot be reached (the host grants hosts "
			"with the call's allowed_hosts)", u->host);
	return cog__error(COG_EDENIED, "http_fetch: host \"%s\" port %u is not in "
		"this call's network grant %.400s", u->host, u->port, grant);
}

/* ---- the request ---- */

static void put_encoded(cog_buf *buf, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
			cog_buf_putc(buf, (char)c);
		} else {
			char esc[3] = { '%', hex[c >> 4], hex[c & 15] };
			cog_buf_put(buf, esc, 3);
		}
	}
}

/* The URL without its fragment, with the query parameters appended. */
static int build_url(const char *url, const url_parts *u, const cJSON *query,
                     char **out)
{
	cog_buf buf = COG_BUF_INIT;
	const cJSON *item;
	bool has_query = memchr(url, '?', u->end) != NULL;

	cog_buf_put(&buf, url, u->end);
	cJSON_ArrayForEach(item, query) {
		char number[64];
		const char *value;
		if (cJSON_IsString(item)) {
			value = item->valuestring;
		} else if (cJSON_IsBool(item)) {
			value = cJSON_IsTrue(item) ? "true" : "false";
		} else if (cJSON_IsNumber(item) && isfinite(item->valuedouble)) {
			double v = item->valuedouble;
			if (floor(v) == v && fabs(v) < 9007199254740992.0)
				snprintf(number, sizeof(number), "%.0f", v);
			else
				snprintf(number, sizeof(number), "%.17g", v);
			value = number;
		} else {
			cog_buf_dispose(&buf);
			return cog__error(COG_EINVAL, "http_fetch: query parameter \"%s\" "
				"must be a string, number or boolean", item->string);
		}
		cog_buf_putc(&buf, has_query ? '&' : '?');
		has_query = true;
		put_encoded(&buf, item->string);
		cog_buf_putc(&buf, '=');
		put_encoded(&buf, value);
	}
	if (buf.failed)
		return cog__oom("http_fetch");
	*out = cog_buf_detach(&buf);
	if (*out == NULL)
		*out = cog__strdup(url);   /* empty buffer: never, but be safe */
	return *out != NULL ? 0 : cog__oom("http_fetch");
}

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

/* A Location made absolute against the URL it answered. */
static char *absolute_location(const char *url, const url_parts *u,
                               const char *location)
{
	cog_buf buf = COG_BUF_INIT;

	if (strncasecmp(location, "http://", 7) == 0 ||
	    strncasecmp(location, "https://", 8) == 0) {
		cog_buf_puts(&buf, location);
	} else if (location[0] == '/' && location[1] == '/') {
		cog_buf_puts(&buf, u->https ? "https:" : "http:");
		cog_buf_puts(&buf, location);
	} else if (location[0] == '/') {
		cog_buf_put(&buf, url, u->origin_len);
		cog_buf_puts(&buf, location);
	} else {
		/* Relative to the URL's directory: up to its path's last '/'. */
		size_t path_end = u->origin_len + strcspn(url + u->origin_len, "?#");
		size_t dir_end = path_end;
		while (dir_end > u->origin_len && url[dir_end - 1] != '/')
			dir_end--;
		cog_buf_put(&buf, url, dir_end);
		if (dir_end == u->origin_len)
			cog_buf_putc(&buf, '/');
		cog_buf_puts(&buf, location);
	}
	return cog_buf_detach(&buf);
}

static int build_result(const builtin_tool *tool,
                        const char *url, const url_parts *u,
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
				char *absolute = absolute_location(url, u, location);
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
	url_parts u;
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

	rc = parse_url(url_arg, &u);
	if (rc == 0)
		rc = check_grant(request, &u);
	if (rc != 0)
		return rc;

	size_t cap = builtin_budget(tool, 4096);
	double max_bytes = cog_json_get_number(args, "max_bytes", 0);
	if (max_bytes >= 1 && max_bytes < (double)cap)
		cap = (size_t)max_bytes;

	char *url = NULL;
	char **lines = NULL;
	size_t line_count = 0;
	rc = build_url(url_arg, &u, query, &url);
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
