/*
 * The event-stream reader (lib/llm/sse.c) against the WHATWG rules: the
 * spec's own examples, every line ending, every way of cutting a stream
 * into feeds, the BOM, retry, id, empty events (as MCP servers send them),
 * a callback that stops the reader, max_line, and the recorded provider
 * streams. At the end, the scripted wire server (tests/common) that the
 * integration tests replay these streams from, checked over raw sockets.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>
#include <cjson/cJSON.h>

#include "llm_int.h"
#include "wire_file.h"
/* A string literal and its length (it may hold NULs). */
#define S(lit) lit, sizeof(lit) - 1

/* In test_wire_server.c. */
TCase *wire_server_tcase(void);

/* ---- helpers: events as text, streams cut into feeds ---- */

#define MAX_KEPT 64

/*
 * Events written out as "[type|id|len:data]\n", so that two runs compare as
 * strings; the first MAX_KEPT are also kept one by one.
 */
typedef struct events {
	cog_buf log;
	unsigned int count;
	unsigned int stop_at;         /* return stop_status from this event on */
	int stop_status;
	char *types[MAX_KEPT], *datas[MAX_KEPT], *ids[MAX_KEPT];
} events;

static void events_init(events *ev)
{
	memset(ev, 0, sizeof(*ev));
	cog_buf_puts(&ev->log, "");
}

static void events_dispose(events *ev)
{
	for (unsigned int i = 0; i < ev->count && i < MAX_KEPT; i++) {
		free(ev->types[i]);
		free(ev->datas[i]);
		free(ev->ids[i]);
	}
	cog_buf_dispose(&ev->log);
}

static char *copy_bytes(const char *s, size_t len)
{
	char *c = malloc(len + 1);
	ck_assert_ptr_nonnull(c);
	memcpy(c, s, len);
	c[len] = '\0';
	return c;
}

static int events_collect(const char *type, const char *data, size_t len,
                          const char *id, void *user_data)
{
	events *ev = user_data;
	/* The reader promises C strings. */
	ck_assert(data[len] == '\0');
	cog_buf_printf(&ev->log, "[%s|%s|%zu:", type, id, len);
	cog_buf_put(&ev->log, data, len);
	cog_buf_puts(&ev->log, "]\n");
	ck_assert(!ev->log.failed);
	if (ev->count < MAX_KEPT) {
		ev->types[ev->count] = copy_bytes(type, strlen(type));
		ev->datas[ev->count] = copy_bytes(data, len);
		ev->ids[ev->count] = copy_bytes(id, strlen(id));
	}
	ev->count++;
	if (ev->stop_at && ev->count >= ev->stop_at)
		return ev->stop_status;
	return 0;
}

enum { SPLIT_WHOLE, SPLIT_BYTES, SPLIT_RANDOM };

/* Feed s whole, a byte at a time, or in random pieces (0 to 40 bytes,
 * from seed), then finish. The status of the first failing call (which
 * finish must repeat), or finish's. */
static int sse_run(const char *s, size_t len, int mode, unsigned int seed,
                   size_t max_line, events *ev, long *retry)
{
	llm_sse sse;
	llm_sse_init(&sse, events_collect, ev);
	sse.max_line = max_line;
	int rc = 0;
	unsigned int state = seed;
	for (size_t off = 0; off < len && rc == 0;) {
		size_t n = len - off;
		if (mode == SPLIT_BYTES) {
			n = 1;
		} else if (mode == SPLIT_RANDOM) {
			state = state * 1103515245u + 12345u;
			size_t want = (state >> 16) % 41;
			n = want < n ? want : n;
		}
		rc = llm_sse_feed(&sse, s + off, n);
		off += n;
	}
	int fin = llm_sse_finish(&sse);
	if (rc)
		ck_assert_int_eq(fin, rc);
	if (retry)
		*retry = sse.retry_ms;
	llm_sse_dispose(&sse);
	return rc ? rc : fin;
}

/* The same events whole, byte by byte, cut in two at every point, and in
 * random pieces. */
static void expect_same_in_every_split(const char *s, size_t len, const char *want)
{
	for (size_t cut = 0; cut <= len; cut++) {
		events ev;
		events_init(&ev);
		llm_sse sse;
		llm_sse_init(&sse, events_collect, &ev);
		ck_assert_int_eq(llm_sse_feed(&sse, s, cut), 0);
		ck_assert_int_eq(llm_sse_feed(&sse, s + cut, len - cut), 0);
		ck_assert_int_eq(llm_sse_finish(&sse), 0);
		ck_assert_msg(strcmp(ev.log.ptr, want) == 0, "cut at %zu: got\n%s\nwant\n%s",
		              cut, ev.log.ptr, want);
		llm_sse_dispose(&sse);
		events_dispose(&ev);
	}
	for (unsigned int seed = 0; seed < 40; seed++) {
		events ev;
		events_init(&ev);
		int mode = seed == 0 ? SPLIT_BYTES : SPLIT_RANDOM;
		ck_assert_int_eq(sse_run(s, len, mode, seed, 0, &ev, NULL), 0);
		ck_assert_msg(strcmp(ev.log.ptr, want) == 0, "seed %u: got\n%s\nwant\n%s",
		              seed, ev.log.ptr, want);
		events_dispose(&ev);
	}
}

static void expect_events(const char *s, size_t len, const char *want)
{
	events ev;
	events_init(&ev);
	ck_assert_int_eq(sse_run(s, len, SPLIT_WHOLE, 0, 0, &ev, NULL), 0);
	ck_assert_msg(strcmp(ev.log.ptr, want) == 0, "got\n%s\nwant\n%s", ev.log.ptr, want);
	events_dispose(&ev);
	expect_same_in_every_split(s, len, want);
}

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the spec's examples ---- */

START_TEST(test_spec_stock)
{
	expect_events(S("data: YHOO\ndata: +2\ndata: 10\n\n"),
	              "[message||10:YHOO\n+2\n10]\n");
}
END_TEST

START_TEST(test_spec_comment_and_ids)
{
	/* The third event has no blank line after it: discarded at the end.
	 * "id" without a colon sets the last event id to "". */
	expect_events(S(": test stream\n\ndata: first event\nid: 1\n\n"
	                "data:second event\nid\n\ndata:  third event\n"),
	              "[message|1|11:first event]\n[message||12:second event]\n");
}
END_TEST

START_TEST(test_spec_empty_data)
{
	/* "data" alone is a data field with an empty value: the first block
	 * is an event with data "", the second one with data "\n", and the
	 * last block never ends. */
	expect_events(S("data\n\ndata\ndata\n\ndata:"),
	              "[message||0:]\n[message||1:\n]\n");
}
END_TEST

START_TEST(test_spec_one_space_removed)
{
	expect_events(S("data:test\n\ndata: test\n\n"),
	              "[message||4:test]\n[message||4:test]\n");
	expect_events(S("data:  test\n\n"), "[message||5: test]\n");
	expect_events(S("data:\ttest\n\n"), "[message||5:\ttest]\n");
	expect_events(S("data: \n\n"), "[message||0:]\n");
	expect_events(S("data:a:b: c\n\n"), "[message||6:a:b: c]\n");
}
END_TEST

/* ---- line ends ---- */

START_TEST(test_line_endings)
{
	const char *want = "[add|7|4:a\n\nb]\n[message|7|1:c]\n";
	expect_events(S("event: add\nid: 7\ndata: a\ndata\ndata: b\n\ndata: c\n\n"), want);
	expect_events(S("event: add\r\nid: 7\r\ndata: a\r\ndata\r\ndata: b\r\n\r\ndata: c\r\n\r\n"), want);
	expect_events(S("event: add\rid: 7\rdata: a\rdata\rdata: b\r\rdata: c\r\r"), want);
	expect_events(S("event: add\r\nid: 7\rdata: a\ndata\r\ndata: b\r\n\ndata: c\n\r"), want);
	/* LF then CR is two line ends: a blank line between. */
	expect_events(S("data: a\n\rdata: b\r\n\n"), "[message||1:a]\n[message||1:b]\n");
	/* A CR and an LF apart are two line ends as well. */
	expect_events(S("data: a\r:x\n\r"), "[message||1:a]\n");
}
END_TEST

START_TEST(test_crlf_cut_between_feeds)
{
	/* The LF that starts the second feed belongs to the CR that ended the
	 * first: one line end, so "a" and "b" are one event. A reader that took
	 * the LF for a blank line would dispatch "a" alone. */
	events ev;
	events_init(&ev);
	llm_sse sse;
	llm_sse_init(&sse, events_collect, &ev);
	ck_assert_int_eq(llm_sse_feed(&sse, S("data: a\r")), 0);
	ck_assert_int_eq(llm_sse_feed(&sse, S("\n")), 0);
	ck_assert_int_eq(llm_sse_feed(&sse, S("data: b\r")), 0);
	ck_assert_int_eq(llm_sse_feed(&sse, S("")), 0); /* nothing: the CR stays pending */
	ck_assert_int_eq(llm_sse_feed(&sse, NULL, 0), 0);
	ck_assert_int_eq(llm_sse_feed(&sse, S("\n\r")), 0);
	ck_assert_int_eq(llm_sse_feed(&sse, S("\n")), 0);
	ck_assert_int_eq(llm_sse_finish(&sse), 0);
	ck_assert_str_eq(ev.log.ptr, "[message||3:a\nb]\n");
	/* The CR ended the line by itself: a following byte that is not LF
	 * starts the next line. */
	ck_assert_int_eq(llm_sse_feed(&sse, S("data: c\r")), 0);
	ck_assert_int_eq(llm_sse_feed(&sse, S("\rdata: d\n\n")), 0);
	ck_assert_int_eq(llm_sse_finish(&sse), 0);
	ck_assert_str_eq(ev.log.ptr, "[message||3:a\nb]\n[message||1:c]\n[message||1:d]\n");
	llm_sse_dispose(&sse);
	events_dispose(&ev);
}
END_TEST

/* A long stream of every feature, cut at random in many ways. */
START_TEST(test_random_splits)
{
	cog_buf s = COG_BUF_INIT;
	static const char *const pieces[] = {
		"data: one\n\n", ": comment\r\n", "event: e1\rdata: x\r\r",
		"id: 12\r\ndata: y\r\ndata: z\r\n\r\n", "retry: 40\n", "data\n\n",
		"\n\n\r\n\r", "event: e2\n\n", "data:{\"a\":1}\n\n", "foo: bar\n",
		"id\n", "data: \xE2\x82\xAC\n\n", "data:  two spaces\r\n\r\n",
	};
	unsigned int state = 7;
	for (int i = 0; i < 400; i++) {
		state = state * 1103515245u + 12345u;
		cog_buf_puts(&s, pieces[(state >> 16) % COG_ARRAY_LEN(pieces)]);
	}
	ck_assert(!s.failed);
	events whole;
	events_init(&whole);
	ck_assert_int_eq(sse_run(s.ptr, s.len, SPLIT_WHOLE, 0, 0, &whole, NULL), 0);
	ck_assert_uint_gt(whole.count, 100);
	for (unsigned int seed = 1; seed <= 300; seed++) {
		events ev;
		events_init(&ev);
		ck_assert_int_eq(sse_run(s.ptr, s.len, SPLIT_RANDOM, seed, 0, &ev, NULL), 0);
		ck_assert_str_eq(ev.log.ptr, whole.log.ptr);
		events_dispose(&ev);
	}
	events_dispose(&whole);
	cog_buf_dispose(&s);
}
END_TEST

/* ---- BOM, retry, id, event, unknown fields ---- */

START_TEST(test_bom)
{
	expect_events(S("\xEF\xBB\xBF" "data: a\n\n"), "[message||1:a]\n");
	expect_events(S("\xEF\xBB\xBF\n" "data: a\n\n"), "[message||1:a]\n");
	/* Only one BOM is skipped: the second makes the field name unknown. */
	expect_events(S("\xEF\xBB\xBF\xEF\xBB\xBF" "data: a\n\ndata: b\n\n"), "[message||1:b]\n");
	/* Not at the start: part of the line. */
	expect_events(S("data: a\n\n\xEF\xBB\xBF" "data: b\n\n"), "[message||1:a]\n");
	/* A BOM cut short is not a BOM: its bytes start the first line. */
	expect_events(S("\xEF\xBB" "data: a\n\ndata: b\n\n"), "[message||1:b]\n");
	expect_events(S("\xEF\n" "data: a\n\n"), "[message||1:a]\n");
	expect_events(S("\xEF\xBB\xBF"), "");
	expect_events(S("\xEF\xBB"), "");
	/* The BOM is not data. */
	expect_events(S("data: \xEF\xBB\xBF\n\n"), "[message||3:\xEF\xBB\xBF]\n");
}
END_TEST

START_TEST(test_retry)
{
	static const struct { const char *stream; long want; } cases[] = {
		{ "retry: 1500\n", 1500 },
		{ "retry:0\n", 0 },
		{ "retry: 1500\nretry: 15x\n", 1500 },     /* not digits: ignored */
		{ "retry: 10\nretry:\n", 10 },              /* empty: ignored */
		{ "retry: 10\nretry\n", 10 },
		{ "retry: -1\n", -1 },
		{ "retry: +5\n", -1 },
		{ "retry:  10\n", -1 },                     /* " 10" is not digits */
		{ "retry: 10 \n", -1 },
		{ "retry: 1e3\n", -1 },
		{ "retry: 99999999999999999999999999\n", LONG_MAX },
		{ "retry: 1500\r\nretry: 2500\r\n", 2500 },
		{ "RETRY: 5\n", -1 },
	};
	for (size_t i = 0; i < COG_ARRAY_LEN(cases); i++) {
		for (int mode = SPLIT_WHOLE; mode <= SPLIT_BYTES; mode++) {
			events ev;
			events_init(&ev);
			long retry = -2;
			ck_assert_int_eq(sse_run(cases[i].stream, strlen(cases[i].stream),
			                         mode, 0, 0, &ev, &retry), 0);
			ck_assert_msg(retry == cases[i].want, "%s: retry %ld, want %ld",
			              cases[i].stream, retry, cases[i].want);
			ck_assert_uint_eq(ev.count, 0);
			events_dispose(&ev);
		}
	}
}
END_TEST

START_TEST(test_id)
{
	/* The last event id carries over from event to event. */
	expect_events(S("id: 1\ndata: a\n\ndata: b\n\nid: 2\ndata: c\n\n"),
	              "[message|1|1:a]\n[message|1|1:b]\n[message|2|1:c]\n");
	/* An id holding a NUL is ignored. */
	expect_events(S("id: 1\ndata: a\n\nid: x\0y\ndata: b\n\n"),
	              "[message|1|1:a]\n[message|1|1:b]\n");
	/* "id:" and "id" set it to "". */
	expect_events(S("id: 1\ndata: a\n\nid:\ndata: b\n\nid: 2\nid\ndata: c\n\n"),
	              "[message|1|1:a]\n[message||1:b]\n[message||1:c]\n");
	/* An id without an event still sets it for the next one. */
	expect_events(S("id: 5\n\ndata: a\n\n"), "[message|5|1:a]\n");
	expect_events(S("id:  5\ndata: a\n\n"), "[message| 5|1:a]\n");
}
END_TEST

START_TEST(test_event_type)
{
	/* The type belongs to one event. */
	expect_events(S("event: add\ndata: 1\n\ndata: 2\n\n"), "[add||1:1]\n[message||1:2]\n");
	/* A blank line with no data resets the type too. */
	expect_events(S("event: add\n\ndata: 1\n\n"), "[message||1:1]\n");
	/* The last event line wins; an empty one means "message". */
	expect_events(S("event: a\nevent: b\ndata: 1\n\n"), "[b||1:1]\n");
	expect_events(S("event: a\nevent\ndata: 1\n\n"), "[message||1:1]\n");
	expect_events(S("event:  x\ndata: 1\n\n"), "[ x||1:1]\n");
}
END_TEST

START_TEST(test_fields_ignored)
{
	/* Names are case-sensitive and end at the colon exactly. */
	expect_events(S("DATA: x\n\nData: y\n\ndata : z\n\n data: w\n\n"), "");
	expect_events(S("foo: bar\ndata: y\nbaz\n:data: no\n\n"), "[message||1:y]\n");
	expect_events(S(":\n:only comments\r\n\r\n"), "");
	expect_events(S("dat\n\ndata2: x\n\n"), "");
}
END_TEST

START_TEST(test_data_with_nul)
{
	expect_events(S("data: a\0b\n\n"), "[message||3:a\0b]\n");
}
END_TEST

/* ---- empty events: what MCP servers send first ---- */

START_TEST(test_empty_event)
{
	/* "data: " gives the data buffer a LF: an event with data "". */
	expect_events(S("id: x\ndata: \n\nevent: message\nid: y\ndata: {}\n\n"),
	              "[message|x|0:]\n[message|y|2:{}]\n");
	/* No data line at all: nothing dispatched (the id still counts). */
	expect_events(S("id: z\n\nevent: ping\n\n\n\n"), "");
}
END_TEST

START_TEST(test_mcp_captures)
{
	static const char *const files[] = {
		"mcp/everything_http_initialize.raw", "mcp/everything_http_tools_call.raw",
	};
	for (size_t f = 0; f < COG_ARRAY_LEN(files); f++) {
		size_t len;
		char *raw = wire_file(files[f], &len);
		/* The body starts after the header block. */
		char *body = strstr(raw, "\r\n\r\n");
		ck_assert_ptr_nonnull(body);
		body += 4;
		size_t body_len = len - (size_t)(body - raw);
		events ev;
		events_init(&ev);
		ck_assert_int_eq(sse_run(body, body_len, SPLIT_WHOLE, 0, 0, &ev, NULL), 0);
		ck_assert_uint_eq(ev.count, 2);
		/* First an empty event with its id, then the JSON-RPC answer. */
		ck_assert_str_eq(ev.types[0], "message");
		ck_assert_str_eq(ev.datas[0], "");
		ck_assert_uint_eq(strlen(ev.ids[0]), 36);
		ck_assert_str_eq(ev.types[1], "message");
		ck_assert_uint_eq(strlen(ev.ids[1]), 36);
		ck_assert_str_ne(ev.ids[0], ev.ids[1]);
		cJSON *msg = cJSON_Parse(ev.datas[1]);
		ck_assert_ptr_nonnull(msg);
		ck_assert_str_eq(cJSON_GetObjectItem(msg, "jsonrpc")->valuestring, "2.0");
		ck_assert_ptr_nonnull(cJSON_GetObjectItem(msg, "result"));
		cJSON_Delete(msg);
		expect_same_in_every_split(body, body_len, ev.log.ptr);
		events_dispose(&ev);
		free(raw);
	}
}
END_TEST

/* ---- the end, errors, limits ---- */

START_TEST(test_finish_discards_unfinished)
{
	expect_events(S("data: a\n"), "");
	expect_events(S("data: a\n\ndata: b"), "[message||1:a]\n");
	expect_events(S("data: a\n\ndata: b\n"), "[message||1:a]\n");
	expect_events(S("data: a\n\ndata: b\r"), "[message||1:a]\n");
	/* After finish, the reader starts a fresh event. */
	events ev;
	events_init(&ev);
	llm_sse sse;
	llm_sse_init(&sse, events_collect, &ev);
	ck_assert_int_eq(llm_sse_feed(&sse, S("data: a\ndat")), 0);
	ck_assert_int_eq(llm_sse_finish(&sse), 0);
	ck_assert_int_eq(llm_sse_feed(&sse, S("a: b\n\n")), 0);
	ck_assert_int_eq(llm_sse_finish(&sse), 0);
	ck_assert_str_eq(ev.log.ptr, "");
	llm_sse_dispose(&sse);
	events_dispose(&ev);
}
END_TEST

START_TEST(test_callback_stops)
{
	for (int mode = SPLIT_WHOLE; mode <= SPLIT_BYTES; mode++) {
		events ev;
		events_init(&ev);
		ev.stop_at = 2;
		ev.stop_status = COG_EUSER;
		llm_sse sse;
		llm_sse_init(&sse, events_collect, &ev);
		static const char s[] = "data: 1\n\ndata: 2\n\ndata: 3\n\n";
		int rc = 0;
		if (mode == SPLIT_WHOLE) {
			rc = llm_sse_feed(&sse, s, sizeof(s) - 1);
		} else {
			for (size_t i = 0; i < sizeof(s) - 1 && rc == 0; i++)
				rc = llm_sse_feed(&sse, s + i, 1);
		}
		ck_assert_int_eq(rc, COG_EUSER);
		ck_assert_uint_eq(ev.count, 2);
		/* The status sticks: no more events. */
		ck_assert_int_eq(llm_sse_feed(&sse, S("data: 4\n\n")), COG_EUSER);
		ck_assert_int_eq(llm_sse_finish(&sse), COG_EUSER);
		ck_assert_uint_eq(ev.count, 2);
		llm_sse_dispose(&sse);
		events_dispose(&ev);
	}
}
END_TEST

START_TEST(test_max_line)
{
	/* A line of exactly max_line bytes is fine, one more is not, however
	 * the line arrives. */
	for (int mode = SPLIT_WHOLE; mode <= SPLIT_RANDOM; mode++) {
		events ev;
		events_init(&ev);
		ck_assert_int_eq(sse_run(S("data: 0123456789\n\n"), mode, 3, 16, &ev, NULL), 0);
		ck_assert_str_eq(ev.log.ptr, "[message||10:0123456789]\n");
		events_dispose(&ev);

		events_init(&ev);
		ck_assert_int_eq(sse_run(S("data: a\n\ndata: 01234567890\n\n"), mode, 3, 16,
		                         &ev, NULL), COG_ERANGE);
		ck_assert_str_eq(ev.log.ptr, "[message||1:a]\n");
		ck_assert_ptr_nonnull(strstr(cog_error_last(), "max_line"));
		ck_assert_ptr_nonnull(strstr(cog_error_last(), "16 bytes"));
		events_dispose(&ev);

		/* A line that never ends cannot grow past the limit either. */
		events_init(&ev);
		ck_assert_int_eq(sse_run(S("data: 0123456789abcdef"), mode, 3, 16, &ev, NULL),
		                 COG_ERANGE);
		events_dispose(&ev);

		/* Nor can the data of one event, line by line. */
		events_init(&ev);
		ck_assert_int_eq(sse_run(S("data: 0123456789\ndata: 0123456789\n\n"), mode, 3, 16,
		                         &ev, NULL), COG_ERANGE);
		ck_assert_ptr_nonnull(strstr(cog_error_last(), "data"));
		ck_assert_uint_eq(ev.count, 0);
		events_dispose(&ev);

		/* Comment lines count too: a server cannot make us buffer them. */
		events_init(&ev);
		ck_assert_int_eq(sse_run(S(": a comment that is too long\n"), mode, 3, 16,
		                         &ev, NULL), COG_ERANGE);
		events_dispose(&ev);
	}
}
END_TEST

/* ---- recorded provider streams ---- */

START_TEST(test_wire_openai)
{
	size_t len;
	char *s = wire_file("openai_chat_stream_parallel_tool_calls.sse", &len);
	events ev;
	events_init(&ev);
	ck_assert_int_eq(sse_run(s, len, SPLIT_WHOLE, 0, 0, &ev, NULL), 0);
	ck_assert_uint_eq(ev.count, 11);
	for (unsigned int i = 0; i < ev.count; i++) {
		ck_assert_str_eq(ev.types[i], "message");
		ck_assert_str_eq(ev.ids[i], "");
	}
	ck_assert_str_eq(ev.datas[10], "[DONE]");
	int calls_started = 0;
	for (unsigned int i = 0; i < 10; i++) {
		cJSON *chunk = cJSON_Parse(ev.datas[i]);
		ck_assert_msg(chunk != NULL, "chunk %u is not JSON", i);
		ck_assert_str_eq(cJSON_GetObjectItem(chunk, "object")->valuestring,
		                 "chat.completion.chunk");
		const cJSON *delta = cJSON_GetObjectItem(
			cJSON_GetArrayItem(cJSON_GetObjectItem(chunk, "choices"), 0), "delta");
		const cJSON *calls = cJSON_GetObjectItem(delta, "tool_calls");
		if (cJSON_GetObjectItem(cJSON_GetArrayItem(calls, 0), "id"))
			calls_started++;
		cJSON_Delete(chunk);
	}
	ck_assert_int_eq(calls_started, 2);
	expect_same_in_every_split(s, len, ev.log.ptr);
	events_dispose(&ev);
	free(s);
}
END_TEST

START_TEST(test_wire_anthropic)
{
	size_t len;
	char *s = wire_file("anthropic_messages_stream_tool_use.sse", &len);
	events ev;
	events_init(&ev);
	ck_assert_int_eq(sse_run(s, len, SPLIT_WHOLE, 0, 0, &ev, NULL), 0);
	ck_assert_uint_eq(ev.count, 30);
	/* Every event's name is its data's "type", and the names come in the
	 * file's order. */
	const char *line = s;
	unsigned int i = 0;
	while ((line = strstr(line, "event: ")) != NULL) {
		line += 7;
		size_t n = strcspn(line, "\n");
		ck_assert_uint_lt(i, ev.count);
		ck_assert_uint_eq(strlen(ev.types[i]), n);
		ck_assert(memcmp(ev.types[i], line, n) == 0);
		cJSON *data = cJSON_Parse(ev.datas[i]);
		ck_assert_ptr_nonnull(data);
		ck_assert_str_eq(cJSON_GetObjectItem(data, "type")->valuestring, ev.types[i]);
		cJSON_Delete(data);
		i++;
	}
	ck_assert_uint_eq(i, 30);
	ck_assert_str_eq(ev.types[0], "message_start");
	ck_assert_str_eq(ev.types[29], "message_stop");
	expect_same_in_every_split(s, len, ev.log.ptr);
	events_dispose(&ev);
	free(s);
}
END_TEST

/* Not a benchmark (tests/bench has that): a check that a long stream goes
 * through without allocating per event, and how fast, for the log. */
static int count_only(const char *type, const char *data, size_t len,
                      const char *id, void *user_data)
{
	(void)type, (void)data, (void)id;
	size_t *total = user_data;
	*total += len;
	return 0;
}

START_TEST(test_long_stream)
{
	static const char ev[] =
		"data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"tok\"}}]}\n\n";
	const size_t n_events = 200000;
	char *s = malloc(n_events * (sizeof(ev) - 1));
	ck_assert_ptr_nonnull(s);
	for (size_t i = 0; i < n_events; i++)
		memcpy(s + i * (sizeof(ev) - 1), ev, sizeof(ev) - 1);
	size_t len = n_events * (sizeof(ev) - 1), total = 0;
	llm_sse sse;
	llm_sse_init(&sse, count_only, &total);
	double t0 = now_seconds();
	for (size_t off = 0; off < len; off += 16384) {
		size_t n = len - off < 16384 ? len - off : 16384;
		ck_assert_int_eq(llm_sse_feed(&sse, s + off, n), 0);
	}
	ck_assert_int_eq(llm_sse_finish(&sse), 0);
	double t = now_seconds() - t0;
	ck_assert_uint_eq(total, n_events * (sizeof(ev) - 1 - 8));
	/* The buffers stay small: nothing grows with the stream. */
	ck_assert_uint_lt(sse.data.cap, 1024);
	ck_assert_uint_lt(sse.line.cap, 1024);
	printf("sse: %zu events in %.3f s: %.2f M events/s\n", n_events, t,
	       (double)n_events / t / 1e6);
	llm_sse_dispose(&sse);
	free(s);
}
END_TEST

static Suite *sse_suite(void)
{
	Suite *s = suite_create("llm-sse");
	TCase *tc = tcase_create("reader");
	tcase_add_test(tc, test_spec_stock);
	tcase_add_test(tc, test_spec_comment_and_ids);
	tcase_add_test(tc, test_spec_empty_data);
	tcase_add_test(tc, test_spec_one_space_removed);
	tcase_add_test(tc, test_line_endings);
	tcase_add_test(tc, test_crlf_cut_between_feeds);
	tcase_add_test(tc, test_random_splits);
	tcase_add_test(tc, test_bom);
	tcase_add_test(tc, test_retry);
	tcase_add_test(tc, test_id);
	tcase_add_test(tc, test_event_type);
	tcase_add_test(tc, test_fields_ignored);
	tcase_add_test(tc, test_data_with_nul);
	tcase_add_test(tc, test_empty_event);
	tcase_add_test(tc, test_mcp_captures);
	tcase_add_test(tc, test_finish_discards_unfinished);
	tcase_add_test(tc, test_callback_stops);
	tcase_add_test(tc, test_max_line);
	tcase_add_test(tc, test_wire_openai);
	tcase_add_test(tc, test_wire_anthropic);
	tcase_add_test(tc, test_long_stream);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, wire_server_tcase());
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(sse_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0;
}
