/*
 * Fuzz target for the event-stream reader (lib/llm/sse.c). The input is a
 * flags byte and a stream. The stream is read whole and again in pieces
 * whose sizes come from the flags byte; both must give the same events and
 * the same status. Without the limit and stop flags, the events must also
 * match a plain reference reader written here straight from the spec's
 * steps (split the whole text into lines first, then interpret them).
 *
 * Flags: bits 0-5 seed the piece sizes; bit 6 sets max_line to 24 (the
 * limit errors); bit 7 makes the callback stop the reader at event 3.
 */
#include <stdlib.h>
#include <string.h>

#include "llm_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct run {
	cog_buf log;
	unsigned int count;
	bool stop;
} run;

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
	run *r = user_data;
	if (data[len] != '\0' || !type || !id)
		abort(); /* data is a C string; type and id are never NULL */
	log_event(&r->log, type, data, len, id);
	if (++r->count == 3 && r->stop)
		return COG_EUSER;
	return 0;
}

static int read_stream(const char *s, size_t len, unsigned int flags, bool pieces,
                       run *r)
{
	llm_sse sse;
	llm_sse_init(&sse, on_event, r);
	if (flags & 0x40)
		sse.max_line = 24;
	unsigned int state = flags & 0x3f;
	int rc = 0;
	for (size_t off = 0; off < len && rc == 0;) {
		size_t n = len - off;
		if (pieces) {
			state = state * 1103515245u + 12345u;
			size_t want = (state >> 16) % ((flags & 0x3f) + 2);
			n = want < n ? want : n;
		}
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
	if (size < 1)
		return 0;
	unsigned int flags = data[0];
	const char *s = (const char *)data + 1;
	size_t len = size - 1;
	run whole = { COG_BUF_INIT, 0, (flags & 0x80) != 0 };
	run cut = { COG_BUF_INIT, 0, (flags & 0x80) != 0 };
	cog_buf_puts(&whole.log, "");
	cog_buf_puts(&cut.log, "");
	int rc_whole = read_stream(s, len, flags, false, &whole);
	int rc_cut = read_stream(s, len, flags, true, &cut);
	if (whole.log.failed || cut.log.failed)
		abort();
	if (rc_whole != rc_cut || whole.log.len != cut.log.len ||
	    memcmp(whole.log.ptr, cut.log.ptr, whole.log.len) != 0)
		abort(); /* the split changed what was read */
	if (!(flags & 0xc0)) {
		cog_buf want = COG_BUF_INIT;
		cog_buf_puts(&want, "");
		reference(s, len, &want);
		if (rc_whole != 0 || want.len != whole.log.len ||
		    memcmp(want.ptr, whole.log.ptr, want.len) != 0)
			abort(); /* the reader and the spec's steps disagree */
		cog_buf_dispose(&want);
	}
	cog_buf_dispose(&whole.log);
	cog_buf_dispose(&cut.log);
	return 0;
}
