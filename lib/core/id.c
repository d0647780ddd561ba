/*
 * Time-ordered 128-bit ids in the UUIDv7 layout (RFC 9562, section 5.7):
 *
 *   bytes 0..5   48-bit Unix time in milliseconds, big-endian
 *   byte  6      version 7 in the high nibble, 4 bits of rand_a
 *   byte  7      8 more bits of rand_a
 *   byte  8      variant 0b10 in the two high bits, 6 bits of rand_b
 *   bytes 9..15  56 more bits of rand_b
 *
 * Ids must sort in creation order within a process, also when many are made
 * inside one millisecond or the wall clock steps back. So the last id is
 * kept, and when the clock has not moved past it, the 74 random bits of the
 * new id are the last id's plus a random increment (RFC 9562 6.2, method 2):
 * still unguessable, and a process forked with the same state will not make
 * the same sequence.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core_int.h"

#define RAND_B_BITS 62
#define RAND_B_LIMIT ((uint64_t)1 << RAND_B_BITS)
#define RAND_A_LIMIT ((uint64_t)1 << 12)
#define TIME_MS_MAX (((int64_t)1 << 48) - 1)

/* The last id handed out; its counter fields are unpacked for arithmetic. */
static pthread_mutex_t last_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t last_ms = -1;
static uint64_t last_rand_a;   /* 12 bits */
static uint64_t last_rand_b;   /* 62 bits */

/* A mutex call failing here means corrupted memory: cog_id_new() cannot
 * report errors, and carrying on unlocked could hand out duplicate ids. */
static void must(int rc, const char *what)
{
	if (rc != 0) {
		fprintf(stderr, "libcognition: id.c: %s: %s\n", what, strerror(rc));
		abort();
	}
}

static uint64_t random_u64(void)
{
	uint64_t r;
	randombytes_buf(&r, sizeof(r));
	return r;
}

static void fresh_random(uint64_t *rand_a, uint64_t *rand_b)
{
	*rand_a = random_u64() & (RAND_A_LIMIT - 1);
	*rand_b = random_u64() & (RAND_B_LIMIT - 1);
}

/* Add a random step in [1, 2^32] to the 74-bit counter rand_a:rand_b.
 * Returns false when it overflows. 2^41 ids would have to be made in one
 * millisecond for that to happen from a random start in the lower half;
 * from the top it is rare (about one in 2^42 per id) but handled. */
static bool increment_random(uint64_t *rand_a, uint64_t *rand_b)
{
	uint64_t step = (uint64_t)randombytes_random() + 1;
	*rand_b += step;
	if (*rand_b >= RAND_B_LIMIT) {
		*rand_b -= RAND_B_LIMIT;
		*rand_a += 1;
		if (*rand_a >= RAND_A_LIMIT)
			return false;
	}
	return true;
}

static void pack(cog_id *id, int64_t ms, uint64_t rand_a, uint64_t rand_b)
{
	uint64_t t = (uint64_t)ms;
	for (int i = 0; i < 6; i++)
		id->bytes[i] = (uint8_t)(t >> (8 * (5 - i)));
	id->bytes[6] = (uint8_t)(0x70 | (rand_a >> 8));
	id->bytes[7] = (uint8_t)rand_a;
	id->bytes[8] = (uint8_t)(0x80 | (rand_b >> 56));
	for (int i = 9; i < 16; i++)
		id->bytes[i] = (uint8_t)(rand_b >> (8 * (15 - i)));
}

void cog_id_new(cog_id *id)
{
	int64_t now = cog_clock_realtime_ms();
	/* Before 1970 or past the year 10889 the field cannot hold the time;
	 * clamp so that ordering still holds. */
	if (now < 0)
		now = 0;
	if (now > TIME_MS_MAX)
		now = TIME_MS_MAX;

	must(pthread_mutex_lock(&last_lock), "pthread_mutex_lock");
	int64_t ms = now;
	uint64_t rand_a, rand_b;
	if (ms > last_ms) {
		fresh_random(&rand_a, &rand_b);
	} else {
		/* Same millisecond, or the clock went back: stay on the last
		 * id's time and count up from it. */
		ms = last_ms;
		rand_a = last_rand_a;
		rand_b = last_rand_b;
		if (!increment_random(&rand_a, &rand_b)) {
			/* Counter exhausted: borrow the next millisecond (RFC
			 * 9562 allows the timestamp to run slightly ahead). At
			 * TIME_MS_MAX there is no next one; wrapping would break
			 * ordering, and that date is 8800 years away. */
			if (ms < TIME_MS_MAX)
				ms++;
			fresh_random(&rand_a, &rand_b);
		}
	}
	last_ms = ms;
	last_rand_a = rand_a;
	last_rand_b = rand_b;
	must(pthread_mutex_unlock(&last_lock), "pthread_mutex_unlock");

	pack(id, ms, rand_a, rand_b);
}

void cog_id_to_hex(const cog_id *id, char out[33])
{
	cog_hex_encode(id->bytes, sizeof(id->bytes), out);
}

void cog_id_to_uuid(const cog_id *id, char out[37])
{
	/* Byte offsets where the 8-4-4-4-12 groups start. */
	static const int group_start[] = { 0, 4, 6, 8, 10, 16 };
	char *p = out;
	for (size_t g = 0; g + 1 < COG_ARRAY_LEN(group_start); g++) {
		if (g > 0)
			*p++ = '-';
		int n = group_start[g + 1] - group_start[g];
		cog_hex_encode(id->bytes + group_start[g], (size_t)n, p);
		p += 2 * n;
	}
	*p = '\0';
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool is_dash_offset(size_t i)
{
	return i == 8 || i == 13 || i == 18 || i == 23;
}

static int bad_char(const char *text, size_t offset, const char *expected)
{
	unsigned char c = (unsigned char)text[offset];
	if (c >= 0x20 && c < 0x7f)
		return cog__error(COG_EINVAL,
			"cog_id_parse: expected %s at offset %zu, got '%c'",
			expected, offset, c);
	return cog__error(COG_EINVAL,
		"cog_id_parse: expected %s at offset %zu, got byte 0x%02x",
		expected, offset, c);
}

int cog_id_parse(cog_id *id, const char *text)
{
	COG_CHECK_ARG(id != NULL, "cog_id_parse", "id is NULL");
	COG_CHECK_ARG(text != NULL, "cog_id_parse", "text is NULL");

	/* Bounded: the text may be anything, e.g. a whole untrusted document. */
	size_t len = strnlen(text, 37);
	bool dashed = len == 36;
	if (len != 32 && !dashed) {
		if (len == 37)
			return cog__error(COG_EINVAL,
				"cog_id_parse: expected 32 hex digits or a "
				"36-character UUID, got more than 36 characters");
		return cog__error(COG_EINVAL,
			"cog_id_parse: expected 32 hex digits or a 36-character "
			"UUID, got %zu characters", len);
	}

	/* Fill a copy so that *id is untouched on failure. */
	cog_id parsed;
	size_t nibble = 0;
	for (size_t i = 0; i < len; i++) {
		if (dashed && is_dash_offset(i)) {
			if (text[i] != '-')
				return bad_char(text, i, "'-'");
			continue;
		}
		int v = hex_value(text[i]);
		if (v < 0)
			return bad_char(text, i, "a hex digit");
		if (nibble % 2 == 0)
			parsed.bytes[nibble / 2] = (uint8_t)(v << 4);
		else
			parsed.bytes[nibble / 2] |= (uint8_t)v;
		nibble++;
	}
	*id = parsed;
	return COG_OK;
}

int cog_id_compare(const cog_id *a, const cog_id *b)
{
	int c = memcmp(a->bytes, b->bytes, sizeof(a->bytes));
	return (c > 0) - (c < 0);
}

int64_t cog_id_time_ms(const cog_id *id)
{
	int64_t ms = 0;
	for (int i = 0; i < 6; i++)
		ms = (ms << 8) | id->bytes[i];
	return ms;
}
