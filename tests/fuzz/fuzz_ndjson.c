/*
 * Fuzz target for the NDJSON reader (lib/llm/ndjson.c): the input and the
 * checks are those of stream_check.h (the same lines and status whole and
 * in pieces). The plain reference splits at every LF, drops one CR before
 * it and skips lines of only spaces, tabs and CRs.
 */
#include <stdlib.h>
#include <string.h>

#include "stream_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void log_line(cog_buf *log, const char *line, size_t len)
{
	cog_buf_printf(log, "%zu:", len);
	cog_buf_put(log, line, len);
	cog_buf_putc(log, '\n');
}

static int on_line(const char *line, size_t len, void *user_data)
{
	stream_run *r = user_data;
	if (len == 0 || line[len] != '\0' || memchr(line, '\n', len))
		abort(); /* a non-empty C string without LF */
	log_line(&r->log, line, len);
	return stream_run_counted(r);
}

static int read_stream(const char *s, size_t len, unsigned int flags, bool pieces,
                       stream_run *r)
{
	llm_ndjson nd;
	llm_ndjson_init(&nd, on_line, r);
	if (flags & STREAM_MAX_LINE_FLAG)
		nd.max_line = 24;
	unsigned int state = flags & 0x3f;
	int rc = 0;
	for (size_t off = 0; off < len && rc == 0;) {
		size_t n = stream_piece(&state, flags, pieces, len - off);
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
	return stream_check(data, size, read_stream, reference);
}
