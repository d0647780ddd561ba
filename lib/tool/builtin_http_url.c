/*
 * http_fetch's URLs (builtin_http.c makes the request): the strict parser,
 * the check against the call's network grant, the URL sent (query
 * parameters appended) and a redirect's Location made absolute.
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
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "builtin_int.h"

/* ---- parsing ---- */

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

int builtin_http_parse_url(const char *url, builtin_url_parts *u)
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
	if (host_len == 0 || host_len > BUILTIN_HOST_MAX)
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
static bool pattern_allows(const char *pattern, const builtin_url_parts *u)
{
	char host[BUILTIN_HOST_MAX + 3];
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
	if (host_len == 0 || host_len > BUILTIN_HOST_MAX)
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

int builtin_http_check_grant(const cog_tool_request *request,
                             const builtin_url_parts *u)
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

/* ---- the URL sent ---- */

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
int builtin_http_build_url(const char *url, const builtin_url_parts *u,
                           const cJSON *query, char **out)
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

/* A Location made absolute against the URL it answered. */
char *builtin_http_location(const char *url, const builtin_url_parts *u,
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
