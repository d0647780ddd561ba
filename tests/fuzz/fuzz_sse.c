/*
 * Fuzz target for the event-stream reader (lib/llm/sse.c): the input and
 * the checks are those of stream_check.h (the same events and status whole
 * and in pieces). The plain reference reader is written here straight
 * from the spec's steps (split the whole text into lines first, then
 * interpret them).
 */
#include <stdlib.h>
#include <string.h>

#include "stream_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void log_event(cog_buf *log, const char *type, const char *data, size_t len,
                      const char *id)
{
	cog_buf_printf(log, "[%s|%s|%zu:", type, id, len);
	cog_buf_put(log, data, len);
	cog_buf_puts(log, "]\n");
}

static int on_event(const char *type, const char *data, size_t len, const char *id,
                    void *user_data)
{
	stream_run *r = user_data;
	if (data[len] != '\0' || !type || !id)
		abort(); /* data is a C string; type and id are never NULL */
	log_event(&r->log, type, data, len, id);
	return stream_run_counted(r);
}

static int read_stream(const char *s, size_t len, unsigned int flags, bool pieces,
                       stream_run *r)
{
	llm_sse sse;
	llm_sse_init(&sse, on_event, r);
	if (flags & STREAM_MAX_LINE_FLAG)
		sse.max_line = 24;
	unsigned int state = flags & 0x3f;
	int rc = 0;
	for (size_t off = 0; off < len && rc == 0;) {
		size_t n = stream_piece(&state, flags, pieces, len - off);
		rc = llm_sse_feed(&sse, s + off, n);
		off += n;
	}
	int fin = llm_sse_finish(&sse);
	if (rc && fin != rc)
		abort(); /* the failure must stick */
	llm_sse_dispose(&sse);
	return rc ? rc : fin;
}

/* ---- the reference: lines first, then the fields ---- */

typedef struct ref {
	cog_buf data, type, id;
	cog_buf *log;
} ref;

static void ref_line(ref *st, const char *line, size_t len)
{
	if (len == 0) {
		if (st->data.len) {
			st->data.len--;
			log_event(st->log, st->type.len ? st->type.ptr : "message",
			          st->data.ptr, st->data.len, st->id.len ? st->id.ptr : "");
		}
		cog_buf_clear(&st->data);
		cog_buf_clear(&st->type);
		return;
	}
	if (line[0] == ':')
		return;
	size_t name = 0;
	while (name < len && line[name] != ':')
		name++;
	size_t v = name < len ? name + 1 : len;
	if (v < len && line[v] == ' ')
		v++;
	const char *value = line + v;
	size_t vlen = len - v;
	if (name == 4 && strncmp(line, "data", 4) == 0) {
		cog_buf_put(&st->data, value, vlen);
		cog_buf_putc(&st->data, '\n');
	} else if (name == 5 && strncmp(line, "event", 5) == 0) {
		cog_buf_clear(&st->type);
		cog_buf_put(&st->type, value, vlen);
	} else if (name == 2 && strncmp(line, "id", 2) == 0 && !memchr(value, 0, vlen)) {
		cog_buf_clear(&st->id);
		cog_buf_put(&st->id, value, vlen);
	}
}

static void reference(const char *s, size_t len, cog_buf *log)
{
	ref st = { COG_BUF_INIT, COG_BUF_INIT, COG_BUF_INIT, log };
	size_t i = len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
	size_t start = i;
	while (i < len) {
		if (s[i] == '\r' || s[i] == '\n') {
			ref_line(&st, s + start, i - start);
			i += s[i] == '\r' && i + 1 < len && s[i + 1] == '\n' ? 2 : 1;
			start = i;
		} else {
			i++;
		}
	}
	/* A last line without its end, and an unfinished event, are dropped. */
	cog_buf_dispose(&st.data);
	cog_buf_dispose(&st.type);
	cog_buf_dispose(&st.id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return stream_check(data, size, read_stream, reference);
}
