/*
 * base64url (RFC 4648 §5) as JWS wants it: no padding, no whitespace, and
 * only the canonical spelling of a value (the unused bits of the last
 * character zero), so one byte string has exactly one encoding and a token
 * cannot be altered without changing what it decodes to. Plus the random
 * secret tokens (refresh, reset) and the hash they are stored under.
 */
#include <string.h>

#include <sodium.h>

#include "auth_int.h"
#include "auth_jwk.h"

#define B64_VARIANT sodium_base64_VARIANT_URLSAFE_NO_PADDING

char *auth_b64url_encode(const void *data, size_t len)
{
	if (len > (SIZE_MAX / 4) * 3 - 4)
		return NULL;
	size_t cap = sodium_base64_ENCODED_LEN(len, B64_VARIANT);
	char *out = cog_malloc(cap);
	if (!out)
		return NULL;
	sodium_bin2base64(out, cap, data, len, B64_VARIANT);
	return out;
}

/* Why s[0..len) is not strict base64url: the reason and where. */
static int decode_error(const char *s, size_t len, size_t stop, const char *what)
{
	if (stop < len) {
		unsigned char c = (unsigned char)s[stop];
		if (c == '=')
			return cog__error(COG_EINVAL, "%s: padding '=' at offset %zu (base64url "
				"here has none)", what, stop);
		if (c == '+' || c == '/')
			return cog__error(COG_EINVAL, "%s: '%c' at offset %zu is base64, not "
				"base64url", what, c, stop);
		return cog__error(COG_EINVAL, "%s: byte 0x%02x at offset %zu is not base64url",
			what, c, stop);
	}
	if (len % 4 == 1)
		return cog__error(COG_EINVAL, "%s: %zu characters cannot be base64url (a "
			"lone character at offset %zu)", what, len, len - 1);
	return cog__error(COG_EINVAL, "%s: the last character (offset %zu) is not the "
		"canonical one (its unused bits must be zero)", what, len - 1);
}

/* secret: the text is a secret (a JWK's "d" or "k"), so a failure says only
 * that it is not base64url: no offset, no byte, no length. */
static int decode(const char *s, size_t len, const char *what, bool secret,
                  unsigned char **out, size_t *out_len)
{
	*out = NULL;
	if (out_len)
		*out_len = 0;
	if (!s && len)
		return cog__error(COG_EINVAL, "%s: NULL text", what);
	size_t cap = len / 4 * 3 + 3;
	unsigned char *bin = cog_malloc(cap + 1);
	if (!bin)
		return cog__oom(what);
	size_t n = 0;
	const char *end = s;
	int rc = len ? sodium_base642bin(bin, cap, s, len, NULL, &n, &end, B64_VARIANT) : 0;
	if (!len)
		end = s;
	if (rc != 0 || (size_t)(end - s) != len) {
		/* libsodium stops at the first byte outside the alphabet (end
		 * points there), or fails at the end on a non-canonical tail. */
		size_t stop = end ? (size_t)(end - s) : len;
		sodium_memzero(bin, cap + 1);
		cog_free(bin);
		if (secret)
			return cog__error(COG_EINVAL, "%s: not base64url", what);
		return decode_error(s, len, stop, what);
	}
	bin[n] = '\0';
	*out = bin;
	if (out_len)
		*out_len = n;
	return COG_OK;
}

int auth_b64url_decode(const char *s, size_t len, const char *what,
                       unsigned char **out, size_t *out_len)
{
	return decode(s, len, what, false, out, out_len);
}

int auth_b64url_decode_secret(const char *s, size_t len, const char *what,
                              unsigned char **out, size_t *out_len)
{
	return decode(s, len, what, true, out, out_len);
}

char *auth_random_token(const char *prefix, size_t bytes)
{
	unsigned char raw[64];
	if (!prefix)
		prefix = "";
	if (bytes == 0 || bytes > sizeof(raw))
		return NULL;
	randombytes_buf(raw, bytes);
	size_t plen = strlen(prefix);
	size_t cap = sodium_base64_ENCODED_LEN(bytes, B64_VARIANT);
	char *out = cog_malloc(plen + cap);
	if (out) {
		memcpy(out, prefix, plen);
		sodium_bin2base64(out + plen, cap, raw, bytes, B64_VARIANT);
	}
	sodium_memzero(raw, sizeof(raw));
	return out;
}

void auth_secret_hash(const char *token, char out[AUTH_HASH_HEX])
{
	uint8_t digest[COG_HASH_BYTES];
	size_t len = token ? strlen(token) : 0;
	if (cog_hash_blake2b(digest, sizeof(digest), token, len, NULL, 0) != COG_OK) {
		/* Only bad arguments fail, and these are not: keep the output
		 * defined all the same. */
		memset(digest, 0, sizeof(digest));
	}
	cog_hex_encode(digest, sizeof(digest), out);
	sodium_memzero(digest, sizeof(digest));
}
