/*
 * Small helpers of libcognition-curl: a byte buffer on cog_malloc, string
 * copies, and URLs made fit for error messages.
 *
 * The backend links only libcognition's public API, so it cannot use the
 * core's private buffer; this one is the little it needs.
 */
#include <stdint.h>
#include <string.h>

#include "curl_int.h"

int curl_buf_put(curl_buf *buf, const void *data, size_t len)
{
	size_t need;

	if (len > SIZE_MAX - buf->len - 1)
		return COG_ENOMEM;
	need = buf->len + len + 1;
	if (need > buf->cap) {
		size_t cap = buf->cap != 0 ? buf->cap : 256;
		char *grown;

		while (cap < need)
			cap = cap > SIZE_MAX / 2 ? need : cap * 2;
		grown = cog_realloc(buf->ptr, cap);
		if (grown == NULL)
			return COG_ENOMEM;
		buf->ptr = grown;
		buf->cap = cap;
	}
	if (len != 0)
		memcpy(buf->ptr + buf->len, data, len);
	buf->len += len;
	buf->ptr[buf->len] = '\0';
	return 0;
}

char *curl_buf_detach(curl_buf *buf, size_t *len)
{
	char *out;

	if (buf->ptr == NULL && curl_buf_put(buf, "", 0) != 0)
		return NULL;
	out = buf->ptr;
	if (len != NULL)
		*len = buf->len;
	buf->ptr = NULL;
	buf->len = 0;
	buf->cap = 0;
	return out;
}

void curl_buf_dispose(curl_buf *buf)
{
	cog_free(buf->ptr);
	buf->ptr = NULL;
	buf->len = 0;
	buf->cap = 0;
}

char *curl_strdup(const char *s)
{
	size_t len = strlen(s) + 1;
	char *copy = cog_malloc(len);

	if (copy != NULL)
		memcpy(copy, s, len);
	return copy;
}

/* Append src[0..len) to out, truncating; *used counts what is in out. */
static void append_clipped(char *out, size_t size, size_t *used,
                           const char *src, size_t len)
{
	size_t room = size - 1 - *used;

	if (len > room)
		len = room;
	memcpy(out + *used, src, len);
	*used += len;
	out[*used] = '\0';
}

void curl_url_for_message(const char *url, char *out, size_t size)
{
	const char *scheme_end, *authority, *authority_end, *at, *rest, *query;
	size_t used = 0;

	if (size == 0)
		return;
	out[0] = '\0';
	if (url == NULL) {
		append_clipped(out, size, &used, "(null)", 6);
		return;
	}
	scheme_end = strstr(url, "://");
	authority = scheme_end != NULL ? scheme_end + 3 : url;
	authority_end = authority + strcspn(authority, "/?#");
	append_clipped(out, size, &used, url, (size_t)(authority - url));
	/* The last '@' ends the user info, as libcurl parses it. */
	for (at = authority_end; at > authority; at--) {
		if (at[-1] == '@') {
			authority = at;
			break;
		}
	}
	rest = authority;
	query = rest + strcspn(rest, "?#");
	append_clipped(out, size, &used, rest, (size_t)(query - rest));
	if (*query == '?')
		append_clipped(out, size, &used, "?...", 4);
}
