/*
 * What the fuzz targets of the stream readers (fuzz_sse.c, fuzz_ndjson.c)
 * share (stream_check.c): the input is a flags byte and a stream; the
 * stream is read whole and again in pieces whose sizes come from the flags
 * byte, and both reads must give the same log and status. Without the
 * limit and stop flags the log must also be that of the target's plain
 * reference reader.
 *
 * Flags: bits 0-5 seed the piece sizes; bit 6 sets the reader's max_line
 * to 24 (the limit errors); bit 7 makes the callback stop the reader at
 * its third line or event.
 */
#ifndef STREAM_CHECK_H
#define STREAM_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "llm_int.h"

#define STREAM_MAX_LINE_FLAG 0x40
#define STREAM_STOP_FLAG 0x80

/* One read: what the callback logged, how many times it ran, and whether
 * it stops the reader at the third. */
typedef struct stream_run {
	cog_buf log;
	unsigned int count;
	bool stop;
} stream_run;

/* Logged by the callback: COG_EUSER (stop the reader) when it should. */
int stream_run_counted(stream_run *r);

/* The size of the next piece of at most `left` bytes: the whole rest when
 * not in pieces, else the next number of the sequence *state (start it at
 * flags & 0x3f) seeds. */
size_t stream_piece(unsigned int *state, unsigned int flags, bool pieces, size_t left);

/* Read s (len bytes) with the target's reader into r; its status. */
typedef int (*stream_read_fn)(const char *s, size_t len, unsigned int flags, bool pieces,
                              stream_run *r);
/* The reference reader: what the log must hold. */
typedef void (*stream_reference_fn)(const char *s, size_t len, cog_buf *log);

/* The target's LLVMFuzzerTestOneInput: aborts on any difference. */
int stream_check(const uint8_t *data, size_t size, stream_read_fn read,
                 stream_reference_fn reference);

#endif
