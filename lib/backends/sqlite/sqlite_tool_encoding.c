/*
 * Byte-level encodings the sql_query tool needs to put SQLite values into
 * JSON: a UTF-8 check (text that fails it goes out as a blob), base64 for
 * blobs both ways, and the size a string takes in JSON (to keep the result
 * under its limit without printing it).
 *
 * The sub-library sees libcognition through its public headers only, which
 * offer none of these, hence its own.
 */
#include <stdbool.h>
#include <string.h>

#include "sqlite_tool_int.h"

bool sqltool_utf8_ok(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t need;
		unsigned int cp;
		if (c == 0)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF) {
			need = 1;
			cp = c & 0x1Fu;
		} else if (c >= 0xE0 && c <= 0xEF) {
			need = 2;
			cp = c & 0x0Fu;
		} else if (c >= 0xF0 && c <= 0xF4) {
			need = 3;
			cp = c & 0x07u;
		} else {
			return false;
		}
		if (len - i - 1 < need)
			return false;
		for (size_t k = 1; k <= need; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3Fu);
		}
		if ((need == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
		    (need == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
			return false;
		i += need + 1;
	}
	return true;
}

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Padded base64 of data, cog_malloc'd; NULL on OOM. */
char *sqltool_base64_encode(const unsigned char *data, size_t len)
{
	char *out = cog_malloc((len + 2) / 3 * 4 + 1);
	size_t o = 0;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		unsigned int v = (unsigned int)data[i] << 16;
		if (i + 1 < len)
			v |= (unsigned int)data[i + 1] << 8;
		if (i + 2 < len)
			v |= data[i + 2];
		out[o++] = b64_alphabet[(v >> 18) & 63];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < len ? b64_alphabet[v & 63] : '=';
	}
	out[o] = '\0';
	return out;
}

static int b64_value(char c)
{
	const char *p = c != '\0' ? strchr(b64_alphabet, c) : NULL;

	return p != NULL ? (int)(p - b64_alphabet) : -1;
}

/* Decode padded base64; -1 when malformed. */
int sqltool_base64_decode(const char *text, unsigned char **out,
                          size_t *out_len)
{
	size_t len = strlen(text);
	unsigned char *bin;
	size_t o = 0;

	*out = NULL;
	*out_len = 0;
	if (len % 4 != 0)
		return -1;
	bin = cog_malloc(len / 4 * 3 + 1);
	if (bin == NULL)
		return -2;
	for (size_t i = 0; i < len; i += 4) {
		int v[4];
		for (int k = 0; k < 4; k++)
			v[k] = b64_value(text[i + k]);
		bool last = i + 4 == len;
		bool pad2 = last && text[i + 2] == '=' && text[i + 3] == '=';
		bool pad1 = last && !pad2 && text[i + 3] == '=';
		if (v[0] < 0 || v[1] < 0 || (v[2] < 0 && !pad2) ||
		    (v[3] < 0 && !pad1 && !pad2)) {
			cog_free(bin);
			return -1;
		}
		unsigned int n = ((unsigned int)v[0] << 18) | ((unsigned int)v[1] << 12);
		if (!pad2)
			n |= (unsigned int)v[2] << 6;
		if (!pad1 && !pad2)
			n |= (unsigned int)v[3];
		bin[o++] = (unsigned char)(n >> 16);
		if (!pad2)
			bin[o++] = (unsigned char)(n >> 8);
		if (!pad1 && !pad2)
			bin[o++] = (unsigned char)n;
	}
	*out = bin;
	*out_len = o;
	return 0;
}

/* JSON bytes of a string value (quotes included). */
size_t sqltool_json_string_size(const unsigned char *s, size_t len)
{
	size_t size = 2;

	for (size_t i = 0; i < len; i++)
		size += s[i] == '"' || s[i] == '\\' ? 2 : s[i] < 0x20 ? 6 : 1;
	return size;
}
