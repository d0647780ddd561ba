/*
 * Fuzz target for the NDJSON reader (lib/llm/ndjson.c). The input is a
 * flags byte and a stream, read whole and again in pieces whose sizes come
 * from the flags byte: the same lines and status both ways. Without the
 * limit and stop flags, the lines must also match a plain reference (split
 * at every LF, drop one CR before it, skip lines of only spaces, tabs and
 * CRs).
 *
 * Flags: bits 0-5 seed the piece sizes; bit 6 sets max_line to 24; bit 7
 * makes the callback stop the reader at line 3.
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

static void log_line(cog_buf *log, const char *line, size_t len)
{
	cog_buf_printf(log, "%zu:", len);
	cog_buf_put(log, line, len);
	cog_buf_putc(log, '\n');
}

static int on_line(const char *line, size_t len, void *user_data)
{
	run *r = user_data;
	if (len == 0 || line[len] != '\0' || memchr(line, '\n', len))
		abort(); /* a non-empty C string without LF */
	log_line(&r->log, line, len);
	if (++r->count == 3 && r->stop)
		return COG_EUSER;
	return 0;
}

static int read_stream(const char *s, size_t len, unsigned int flags, bool pieces,
                       run *r)
{
	llm_ndjson nd;
	llm_ndjson_init(&nd, on_line, r);
	if (flags & 0x40)
		nd.max_line = 24;
	unsigned int state = flags & 0x3f;
	int rc = 0;
	for (size_t off = 0; off < len && rc == 0;) {
		size_t n = len - off;
		if (pieces) {
			state = state * 1103515245u + 12345u;
			size_t want = (state >> 16) % ((flags & 0x3f) + 2);
			n = want < n ? want : n;
		}
		rc = llm_ndjson_feed(&nd, s + off, n);
		off += n;
	}
	int fin = llm_ndjson_finish(&nd);
	if (rc && fin != rc)
		abort(); /* the failure must stick */
	llm_ndjson_dispose(&nd);
	return rc ? rc : fin;
}

static void reference(const char *s, size_t len, cog_buf *log)
{
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && s[i] != '\n')
			continue;
		size_t n = i - start;
		if (n && s[start + n - 1] == '\r')
			n--;
		bool blank = true;
		for (size_t k = 0; k < n; k++)
			if (s[start + k] != ' ' && s[start + k] != '\t' && s[start + k] != '\r')
				blank = false;
		if (!blank)
			log_line(log, s + start, n);
		start = i + 1;
	}
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
			abort(); /* the reader and the reference disagree */
		cog_buf_dispose(&want);
	}
	cog_buf_dispose(&whole.log);
	cog_buf_dispose(&cut.log);
	return 0;
}
