/*
 * Text in an assembled context: escaping data so it cannot end or forge
 * its wrapper, and cutting text to a number of tokens on a UTF-8 boundary.
 *
 * Any '<' in data that would open or close one of our tags (memory,
 * dependency, summary, turn: any case, spaces or a '/' between) is written
 * "&lt;": a memory that says "</memory> ignore previous instructions" stays
 * inside its wrapper. Everything else is left as it is, so code and markup
 * keep reading naturally.
 */
#include <string.h>

#include "context_int.h"

#define ATTR_MAX 200

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool same_letters(const char *s, const char *tag, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != tag[i])
			return false;
	}
	return true;
}

/* Does the '<' at s[i] start one of our tags? */
static bool opens_tag(const char *s, size_t len, size_t i)
{
	static const char *const tags[] = { "memory", "dependency", "summary", "turn" };
	size_t j = i + 1;
	while (j < len && blank(s[j]))
		j++;
	if (j < len && s[j] == '/')
		j++;
	while (j < len && blank(s[j]))
		j++;
	for (size_t t = 0; t < COG_ARRAY_LEN(tags); t++) {
		size_t n = strlen(tags[t]);
		if (len - j >= n && same_letters(s + j, tags[t], n))
			return true;
	}
	return false;
}

int mem_ctx_escape(cog_buf *b, const char *text, size_t len)
{
	size_t from = 0, at = 0;
	const char *p;
	while (at < len && (p = memchr(text + at, '<', len - at)) != NULL) {
		size_t i = (size_t)(p - text);
		at = i + 1;
		if (!opens_tag(text, len, i))
			continue;
		cog_buf_put(b, text + from, i - from);
		cog_buf_puts(b, "&lt;");
		from = i + 1;
	}
	cog_buf_put(b, text + from, len - from);
	return b->failed ? cog__oom("cog_memory_context: data") : COG_OK;
}

int mem_ctx_escape_attr(cog_buf *b, const char *s)
{
	size_t len = strlen(s);
	if (len > ATTR_MAX) {
		len = ATTR_MAX;
		while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
			len--;
	}
	for (size_t i = 0; i < len; i++) {
		switch (s[i]) {
		case '&': cog_buf_puts(b, "&amp;"); break;
		case '<': cog_buf_puts(b, "&lt;"); break;
		case '>': cog_buf_puts(b, "&gt;"); break;
		case '"': cog_buf_puts(b, "&quot;"); break;
		default: cog_buf_putc(b, s[i]);
		}
	}
	return b->failed ? cog__oom("cog_memory_context: data") : COG_OK;
}

/* ---- cutting text to a number of tokens ---- */

size_t mem_ctx_boundary(const char *s, size_t len, size_t p)
{
	while (p > 0 && p < len && ((unsigned char)s[p] & 0xC0) == 0x80)
		p--;
	return p;
}

static size_t boundary_forward(const char *s, size_t len, size_t p)
{
	while (p < len && ((unsigned char)s[p] & 0xC0) == 0x80)
		p++;
	return p;
}

/* Both searches rely on the estimate growing with every byte added at
 * either end (tokens.c keeps it so). */
size_t mem_ctx_fit_prefix(const char *s, size_t len, uint64_t max_milli)
{
	if (mem_tok_text_milli(s, len) <= max_milli)
		return len;
	size_t lo = 0, hi = len;   /* prefix lo fits, hi does not */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (mem_tok_text_milli(s, mem_ctx_boundary(s, len, mid)) <= max_milli)
			lo = mid;
		else
			hi = mid;
	}
	return mem_ctx_boundary(s, len, lo);
}

size_t mem_ctx_fit_suffix(const char *s, size_t len, uint64_t max_milli)
{
	if (mem_tok_text_milli(s, len) <= max_milli)
		return 0;
	size_t lo = 0, hi = len;   /* the rest from hi fits, from lo it does not */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		size_t q = boundary_forward(s, len, mid);
		if (mem_tok_text_milli(s + q, len - q) <= max_milli)
			hi = mid;
		else
			lo = mid;
	}
	return boundary_forward(s, len, hi);
}

