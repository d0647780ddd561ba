/*
 * The newline-delimited JSON reader (Ollama's streams): LF ends a line, a
 * CR before it is dropped, blank and whitespace-only lines are skipped, and
 * a last line without its LF is delivered at finish.
 *
 * Every line is handed on NUL-terminated (copied into the line buffer, whose
 * memory is kept from line to line), so the callback may give it straight
 * to a parser that wants a C string; next to parsing the JSON, the copy
 * costs nothing worth saving.
 */
#include <string.h>

#include "llm_int.h"

#define NDJSON_DEFAULT_MAX_LINE ((size_t)16 << 20)

static size_t nd_limit(const llm_ndjson *nd)
{
	return nd->max_line ? nd->max_line : NDJSON_DEFAULT_MAX_LINE;
}

static int nd_fail(llm_ndjson *nd, int rc)
{
	nd->status = rc;
	return rc;
}

void llm_ndjson_init(llm_ndjson *nd, llm_ndjson_fn fn, void *user_data)
{
	memset(nd, 0, sizeof(*nd));
	nd->fn = fn;
	nd->user_data = user_data;
}

void llm_ndjson_dispose(llm_ndjson *nd)
{
	if (nd)
		cog_buf_dispose(&nd->line);
}

/* Append to the line being read, within max_line. */
static int nd_append(llm_ndjson *nd, const char *p, size_t len)
{
	size_t limit = nd_limit(nd);
	if (nd->line.len > limit || len > limit - nd->line.len)
		return cog__error(COG_ERANGE,
			"ndjson: a line is longer than the limit of %zu bytes (max_line)",
			limit);
	return cog_buf_put(&nd->line, p, len);
}

static bool nd_blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

/* The line buffer holds a whole line (its LF removed): hand it on. */
static int nd_deliver(llm_ndjson *nd)
{
	size_t len = nd->line.len;
	if (len && nd->line.ptr[len - 1] == '\r')
		nd->line.ptr[--len] = '\0';
	int rc = 0;
	if (!nd_blank(nd->line.ptr, len))
		rc = nd->fn(nd->line.ptr, len, nd->user_data);
	cog_buf_clear(&nd->line);
	return rc < 0 ? rc : 0;
}

int llm_ndjson_feed(llm_ndjson *nd, const char *bytes, size_t len)
{
	if (nd->status)
		return nd->status;
	if (len == 0)
		return 0; /* bytes may be NULL then */
	const char *p = bytes, *end = bytes + len;
	while (p < end) {
		const char *lf = memchr(p, '\n', (size_t)(end - p));
		int rc = nd_append(nd, p, (size_t)((lf ? lf : end) - p));
		if (!rc && lf)
			rc = nd_deliver(nd);
		if (rc)
			return nd_fail(nd, rc);
		if (!lf)
			break;
		p = lf + 1;
	}
	return 0;
}

int llm_ndjson_finish(llm_ndjson *nd)
{
	if (nd->status)
		return nd->status;
	if (nd->line.len) {
		int rc = nd_deliver(nd);
		if (rc)
			return nd_fail(nd, rc);
	}
	return 0;
}
