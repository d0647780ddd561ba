/*
 * The text/event-stream reader: WHATWG HTML, "Server-sent events",
 * sections "Parsing an event stream" and "Interpreting an event stream".
 *
 * A streamed answer is thousands of small events, so the reader is built
 * for speed: line ends are found with memchr (each search's result is kept
 * until the reader passes it, so a feed is scanned a bounded number of
 * times whatever its lines look like); a line that lies whole inside the
 * fed bytes is read where it is, and only a line cut by the end of a feed is
 * copied to the line buffer; the data, type and id buffers keep their
 * memory from event to event, so a steady stream allocates nothing.
 *
 * Bytes are not decoded: the spec decodes UTF-8 first (bad sequences become
 * U+FFFD), which changes nothing for the ASCII field names and separators
 * the algorithm looks at; values are handed on as received and the JSON
 * parsers behind us reject bad UTF-8 themselves.
 */
#include <limits.h>
#include <string.h>

#include "llm_int.h"

#define SSE_DEFAULT_MAX_LINE ((size_t)16 << 20)

static const unsigned char utf8_bom[3] = { 0xEF, 0xBB, 0xBF };

static size_t sse_limit(const llm_sse *sse)
{
	return sse->max_line ? sse->max_line : SSE_DEFAULT_MAX_LINE;
}

/* Every failure sticks: later feeds and finish return it again. */
static int sse_fail(llm_sse *sse, int rc)
{
	sse->status = rc;
	return rc;
}

static int sse_too_long(llm_sse *sse, const char *what)
{
	return sse_fail(sse, cog__error(COG_ERANGE,
		"sse: %s is longer than the limit of %zu bytes (max_line)",
		what, sse_limit(sse)));
}

void llm_sse_init(llm_sse *sse, llm_sse_fn fn, void *user_data)
{
	memset(sse, 0, sizeof(*sse));
	sse->fn = fn;
	sse->user_data = user_data;
	sse->retry_ms = -1;
}

void llm_sse_dispose(llm_sse *sse)
{
	if (!sse)
		return;
	cog_buf_dispose(&sse->line);
	cog_buf_dispose(&sse->data);
	cog_buf_dispose(&sse->type);
	cog_buf_dispose(&sse->id);
}

/* A blank line: hand the event on, then start a new one. */
static int sse_dispatch(llm_sse *sse)
{
	if (sse->data.len == 0) {
		/* Nothing to dispatch; the type does not carry over. */
		cog_buf_clear(&sse->type);
		return 0;
	}
	sse->data.len--; /* the LF the last data line added */
	sse->data.ptr[sse->data.len] = '\0';
	const char *type = sse->type.len ? sse->type.ptr : "message";
	const char *id = sse->id.len ? sse->id.ptr : "";
	int rc = sse->fn(type, sse->data.ptr, sse->data.len, id, sse->user_data);
	cog_buf_clear(&sse->data);
	cog_buf_clear(&sse->type);
	return rc < 0 ? rc : 0;
}

static int sse_field_data(llm_sse *sse, const char *value, size_t len)
{
	size_t limit = sse_limit(sse);
	if (sse->data.len >= limit || len >= limit - sse->data.len)
		return sse_too_long(sse, "an event's data");
	int rc = cog_buf_reserve(&sse->data, len + 1);
	if (rc)
		return rc;
	char *at = sse->data.ptr + sse->data.len;
	memcpy(at, value, len);
	at[len] = '\n';
	at[len + 1] = '\0';
	sse->data.len += len + 1;
	return 0;
}

static int sse_set(cog_buf *buf, const char *value, size_t len)
{
	cog_buf_clear(buf);
	return cog_buf_put(buf, value, len);
}

/* retry: only ASCII digits count (at least one); larger than a long can
 * hold is taken as the largest long. */
static void sse_field_retry(llm_sse *sse, const char *value, size_t len)
{
	if (len == 0)
		return;
	long ms = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)value[i];
		if (c < '0' || c > '9')
			return;
		int digit = c - '0';
		ms = ms > (LONG_MAX - digit) / 10 ? LONG_MAX : ms * 10 + digit;
	}
	sse->retry_ms = ms;
}

/* One line, its end-of-line removed. */
static int sse_line(llm_sse *sse, const char *line, size_t len)
{
	if (len == 0)
		return sse_dispatch(sse);
	if (line[0] == ':')
		return 0; /* a comment */
	const char *colon = memchr(line, ':', len);
	size_t name_len = colon ? (size_t)(colon - line) : len;
	const char *value = line + len;
	size_t value_len = 0;
	if (colon) {
		value = colon + 1;
		value_len = len - name_len - 1;
		if (value_len && value[0] == ' ') {
			value++;
			value_len--;
		}
	}
	switch (name_len) {
	case 4:
		if (memcmp(line, "data", 4) == 0)
			return sse_field_data(sse, value, value_len);
		break;
	case 5:
		if (memcmp(line, "event", 5) == 0)
			return sse_set(&sse->type, value, value_len);
		if (memcmp(line, "retry", 5) == 0)
			sse_field_retry(sse, value, value_len);
		break;
	case 2:
		if (memcmp(line, "id", 2) == 0 && !memchr(value, '\0', value_len))
			return sse_set(&sse->id, value, value_len);
		break;
	default:
		break;
	}
	return 0; /* any other field is ignored */
}

/*
 * The UTF-8 byte order mark is skipped once, at the very start, even when
 * it arrives a byte at a time: bytes that may still be a BOM wait in the
 * line buffer. Returns how many bytes of `bytes` it took.
 */
static size_t sse_skip_bom(llm_sse *sse, const char *bytes, size_t len)
{
	size_t used = 0;
	while (used < len && sse->line.len < sizeof(utf8_bom)) {
		if ((unsigned char)bytes[used] != utf8_bom[sse->line.len]) {
			/* Not a BOM: what was held is the first line's start. */
			sse->bom_checked = true;
			return used;
		}
		if (cog_buf_putc(&sse->line, bytes[used]))
			return used;
		used++;
	}
	if (sse->line.len == sizeof(utf8_bom)) {
		cog_buf_clear(&sse->line);
		sse->bom_checked = true;
	}
	return used;
}

/* Add to the line buffer (a line cut by the end of a feed), within
 * max_line. */
static int sse_hold(llm_sse *sse, const char *p, size_t len)
{
	size_t limit = sse_limit(sse);
	if (sse->line.len > limit || len > limit - sse->line.len)
		return sse_too_long(sse, "a line");
	return cog_buf_put(&sse->line, p, len);
}

int llm_sse_feed(llm_sse *sse, const char *bytes, size_t len)
{
	if (sse->status)
		return sse->status;
	if (len == 0)
		return 0; /* bytes may be NULL then */
	const char *p = bytes, *end = bytes + len;
	if (!sse->bom_checked) {
		p += sse_skip_bom(sse, bytes, len);
		if (sse->line.failed)
			return sse_fail(sse, COG_ENOMEM);
	}
	if (sse->last_was_cr && p < end) {
		sse->last_was_cr = false;
		if (*p == '\n')
			p++; /* the LF of a CRLF cut between two feeds */
	}
	/* The next LF and CR at or after some earlier position (NULL: none
	 * up to the end); searched again only once p has passed them. */
	const char *lf = NULL, *cr = NULL;
	bool lf_known = false, cr_known = false;
	size_t limit = sse_limit(sse);
	while (p < end) {
		if (!lf_known || (lf && lf < p)) {
			lf = memchr(p, '\n', (size_t)(end - p));
			lf_known = true;
		}
		if (!cr_known || (cr && cr < p)) {
			cr = memchr(p, '\r', (size_t)(end - p));
			cr_known = true;
		}
		const char *eol = lf;
		if (cr && (!eol || cr < eol))
			eol = cr;
		if (!eol) {
			int rc = sse_hold(sse, p, (size_t)(end - p));
			return rc ? sse_fail(sse, rc) : 0;
		}
		size_t n = (size_t)(eol - p);
		int rc;
		if (sse->line.len) {
			rc = sse_hold(sse, p, n);
			if (!rc)
				rc = sse_line(sse, sse->line.ptr, sse->line.len);
			cog_buf_clear(&sse->line);
		} else if (n > limit) {
			rc = sse_too_long(sse, "a line");
		} else {
			rc = sse_line(sse, p, n);
		}
		if (rc)
			return sse_fail(sse, rc);
		p = eol + 1;
		if (*eol == '\r') {
			if (p == end)
				sse->last_was_cr = true;
			else if (*p == '\n')
				p++;
		}
	}
	return 0;
}

int llm_sse_finish(llm_sse *sse)
{
	/* An event not closed by a blank line is discarded, and so is a line
	 * without its end. */
	cog_buf_clear(&sse->line);
	cog_buf_clear(&sse->data);
	cog_buf_clear(&sse->type);
	sse->last_was_cr = false;
	return sse->status;
}
