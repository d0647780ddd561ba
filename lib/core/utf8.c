/* Strict UTF-8 validation (RFC 3629): no overlong forms, no surrogates,
 * nothing past U+10FFFF. */
#include <string.h>

#include "core_int.h"

bool cog_utf8_valid(const char *str, size_t len, size_t *bad_offset)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t need;
		unsigned char lo = 0x80, hi = 0xBF; /* range of the second byte */
		if (c >= 0xC2 && c <= 0xDF) {
			need = 1;
		} else if (c >= 0xE0 && c <= 0xEF) {
			need = 2;
			if (c == 0xE0) lo = 0xA0;      /* overlong */
			if (c == 0xED) hi = 0x9F;      /* surrogates */
		} else if (c >= 0xF0 && c <= 0xF4) {
			need = 3;
			if (c == 0xF0) lo = 0x90;      /* overlong */
			if (c == 0xF4) hi = 0x8F;      /* > U+10FFFF */
		} else {
			goto bad;
		}
		if (len - i <= need)
			goto bad;
		if (s[i + 1] < lo || s[i + 1] > hi)
			goto bad;
		for (size_t k = 2; k <= need; k++)
			if ((s[i + k] & 0xC0) != 0x80)
				goto bad;
		i += need + 1;
	}
	return true;
bad:
	if (bad_offset)
		*bad_offset = i;
	return false;
}

char *cog_utf8_lossy(const char *s, size_t len)
{
	static const char replacement[] = "\xEF\xBF\xBD"; /* U+FFFD */
	cog_buf buf = COG_BUF_INIT;
	if (cog_buf_reserve(&buf, len + 1))
		return NULL;
	size_t i = 0;
	while (i < len) {
		size_t bad = len - i;
		bool ok = cog_utf8_valid(s + i, len - i, &bad);
		size_t good = ok ? len - i : bad;
		/* NUL would end the C string early: it is replaced too. */
		const char *nul = memchr(s + i, '\0', good);
		if (nul)
			good = (size_t)(nul - (s + i));
		cog_buf_put(&buf, s + i, good);
		i += good;
		if (i < len) {
			cog_buf_put(&buf, replacement, 3);
			i++;
		}
	}
	if (!buf.ptr)
		cog_buf_put(&buf, "", 0);
	return cog_buf_detach(&buf);
}
