/* The checks the stream readers' fuzz targets share (stream_check.h). */
#include <stdlib.h>
#include <string.h>

#include "stream_check.h"

int stream_run_counted(stream_run *r)
{
	return ++r->count == 3 && r->stop ? COG_EUSER : 0;
}

size_t stream_piece(unsigned int *state, unsigned int flags, bool pieces, size_t left)
{
	if (!pieces)
		return left;
	*state = *state * 1103515245u + 12345u;
	size_t want = (*state >> 16) % ((flags & 0x3f) + 2);
	return want < left ? want : left;
}

int stream_check(const uint8_t *data, size_t size, stream_read_fn read,
                 stream_reference_fn reference)
{
	if (size < 1)
		return 0;
	unsigned int flags = data[0];
	const char *s = (const char *)data + 1;
	size_t len = size - 1;
	bool stop = (flags & STREAM_STOP_FLAG) != 0;
	stream_run whole = { COG_BUF_INIT, 0, stop };
	stream_run cut = { COG_BUF_INIT, 0, stop };
	cog_buf_puts(&whole.log, "");
	cog_buf_puts(&cut.log, "");
	int rc_whole = read(s, len, flags, false, &whole);
	int rc_cut = read(s, len, flags, true, &cut);
	if (whole.log.failed || cut.log.failed)
		abort();
	if (rc_whole != rc_cut || whole.log.len != cut.log.len ||
	    memcmp(whole.log.ptr, cut.log.ptr, whole.log.len) != 0)
		abort(); /* the split changed what was read */
	if (!(flags & (STREAM_MAX_LINE_FLAG | STREAM_STOP_FLAG))) {
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
