/* A growable, always NUL-terminated byte buffer. */
#include <stdio.h>
#include <string.h>

#include "core_int.h"

int cog_buf_reserve(cog_buf *buf, size_t extra)
{
	if (buf->failed)
		return COG_ENOMEM;
	if (extra > SIZE_MAX - buf->len - 1)
		goto fail;
	size_t need = buf->len + extra + 1;
	if (need <= buf->cap)
		return COG_OK;
	size_t cap = buf->cap ? buf->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	char *p = cog_realloc(buf->ptr, cap);
	if (!p)
		goto fail;
	if (!buf->ptr)
		p[0] = '\0';
	buf->ptr = p;
	buf->cap = cap;
	return COG_OK;
fail:
	buf->failed = true;
	return cog__oom("buffer");
}

int cog_buf_put(cog_buf *buf, const void *data, size_t len)
{
	int rc = cog_buf_reserve(buf, len);
	if (rc)
		return rc;
	if (len)
		memcpy(buf->ptr + buf->len, data, len);
	buf->len += len;
	buf->ptr[buf->len] = '\0';
	return COG_OK;
}

int cog_buf_puts(cog_buf *buf, const char *s)
{
	return cog_buf_put(buf, s, strlen(s));
}

int cog_buf_putc(cog_buf *buf, char c)
{
	return cog_buf_put(buf, &c, 1);
}

int cog_buf_printf(cog_buf *buf, const char *fmt, ...)
{
	va_list ap;
	char small[256];

	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return cog__error(COG_EINVAL, "buffer: bad format string");
	if ((size_t)n < sizeof(small))
		return cog_buf_put(buf, small, (size_t)n);
	int rc = cog_buf_reserve(buf, (size_t)n);
	if (rc)
		return rc;
	va_start(ap, fmt);
	vsnprintf(buf->ptr + buf->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	buf->len += (size_t)n;
	return COG_OK;
}

int cog_buf_put_json_string(cog_buf *buf, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	int rc = cog_buf_putc(buf, '"');
	size_t run = 0;

	for (size_t i = 0; i < len && !rc; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		rc = cog_buf_put(buf, s + run, i - run);
		run = i + 1;
		if (rc)
			break;
		switch (c) {
		case '"': rc = cog_buf_puts(buf, "\\\""); break;
		case '\\': rc = cog_buf_puts(buf, "\\\\"); break;
		case '\n': rc = cog_buf_puts(buf, "\\n"); break;
		case '\r': rc = cog_buf_puts(buf, "\\r"); break;
		case '\t': rc = cog_buf_puts(buf, "\\t"); break;
		default: {
			char esc[7] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0 };
			rc = cog_buf_puts(buf, esc);
		}
		}
	}
	if (!rc)
		rc = cog_buf_put(buf, s + run, len - run);
	if (!rc)
		rc = cog_buf_putc(buf, '"');
	return rc;
}

void cog_buf_clear(cog_buf *buf)
{
	buf->len = 0;
	if (buf->ptr)
		buf->ptr[0] = '\0';
}

char *cog_buf_detach(cog_buf *buf)
{
	if (buf->failed) {
		cog_buf_dispose(buf);
		return NULL;
	}
	if (!buf->ptr && cog_buf_reserve(buf, 0))
		return NULL;
	char *p = buf->ptr;
	*buf = (cog_buf)COG_BUF_INIT;
	return p;
}

void cog_buf_dispose(cog_buf *buf)
{
	cog_free(buf->ptr);
	*buf = (cog_buf)COG_BUF_INIT;
}
