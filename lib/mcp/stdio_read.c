/*
 * The stdio transport's two reading threads (see stdio.c for the whole
 * picture). The reader cuts the server's stdout into lines: blank lines
 * are skipped, a line over max_message_bytes is dropped while it streams
 * past (never held whole), lines that are not JSON are logged (the first
 * few, then counts) and skipped, the others go to mcp_receive_valid(),
 * which blocks while the dispatch queue is full: back-pressure reaches
 * the server through the pipe. The stderr thread logs every line of the
 * server's stderr (INFO, "stream":"stderr") and keeps its last 2 KiB.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "stdio_int.h"

#define STDERR_LINE_MAX 4096
#define GARBAGE_LOGGED 5
#define READ_CHUNK 65536

/* Wait for fd to be readable; false when stop woke us or poll failed. */
static bool wait_readable(stdio_state *st, int fd)
{
	struct pollfd p[2] = { { fd, POLLIN, 0 }, { st->wake[0], POLLIN, 0 } };
	for (;;) {
		int n = poll(p, 2, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || p[1].revents)
			return false;
		return true;
	}
}

static ssize_t read_some(stdio_state *st, int fd, char *buf, size_t size)
{
	if (!wait_readable(st, fd))
		return -1;
	ssize_t n;
	do
		n = read(fd, buf, size);
	while (n < 0 && errno == EINTR);
	return n;
}

/* See stdio_int.h. */
char *mcp_stdio_tail_text(stdio_state *st)
{
	pthread_mutex_lock(&st->lock);
	const char *t = st->tail;
	size_t len = st->tail_len;
	if (len == MCP_STDERR_TAIL) {
		const char *nl = memchr(t, '\n', len);
		if (nl && (size_t)(nl - t) < len - 1) {
			len -= (size_t)(nl + 1 - t);
			t = nl + 1;
		}
	}
	while (len && (t[len - 1] == '\n' || t[len - 1] == '\r' || t[len - 1] == ' '))
		len--;
	char *text = cog_utf8_lossy(t, len);
	pthread_mutex_unlock(&st->lock);
	return text;
}

/* ---- stdout ---- */

typedef struct line_reader {
	cog_buf line;
	bool dropping;               /* inside a line over the limit */
	size_t dropped;
	unsigned long garbage;
	unsigned long next_count_log;
} line_reader;

static void log_garbage(stdio_state *st, line_reader *lr, const char *text, size_t len)
{
	lr->garbage++;
	if (lr->garbage <= GARBAGE_LOGGED) {
		char *shown = cog_utf8_lossy(text, len > 200 ? 200 : len);
		mcp_log(st->m, COG_LOG_WARN, NULL, "server \"%s\" wrote a line that is not "
			"JSON-RPC (%zu bytes, skipped): %s%s", st->m->cfg.name, len,
			shown ? shown : "", len > 200 ? "..." : "");
		cog_free(shown);
		if (lr->garbage == GARBAGE_LOGGED)
			mcp_log(st->m, COG_LOG_WARN, NULL, "server \"%s\": more lines that "
				"are not JSON-RPC will only be counted", st->m->cfg.name);
	} else if (lr->garbage >= lr->next_count_log) {
		mcp_log(st->m, COG_LOG_WARN, NULL, "server \"%s\": %lu lines that are not "
			"JSON-RPC skipped so far", st->m->cfg.name, lr->garbage);
		lr->next_count_log *= 10;
	}
}

static void handle_line(stdio_state *st, line_reader *lr, char *text, size_t len)
{
	while (len && (text[len - 1] == '\r' || text[len - 1] == ' ' || text[len - 1] == '\t'))
		len--;
	size_t skip = 0;
	while (skip < len && (text[skip] == ' ' || text[skip] == '\t' || text[skip] == '\r'))
		skip++;
	if (skip == len)
		return;                          /* blank */
	text += skip;
	len -= skip;
	text[len] = '\0';
	if ((text[0] != '{' && text[0] != '[') || cog_json_validate(text, len, "line") != 0) {
		log_garbage(st, lr, text, len);
		return;
	}
	mcp_receive_valid(st->m, text, len);   /* validated: parsed once */
}

/* Feed one chunk of stdout, cut at newlines. */
static void feed(stdio_state *st, line_reader *lr, char *p, char *end)
{
	size_t max = st->m->cfg.max_message_bytes;
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t seg = (size_t)((nl ? nl : end) - p);
		if (!lr->dropping && lr->line.len + seg > max) {
			lr->dropping = true;
			lr->dropped = lr->line.len;
			cog_buf_clear(&lr->line);
		}
		if (lr->dropping)
			lr->dropped += seg;
		else if (cog_buf_put(&lr->line, p, seg) != 0) {
			cog_buf_dispose(&lr->line);  /* out of memory: lose this line */
			lr->dropping = true;
			lr->dropped = seg;
		}
		if (!nl)
			return;
		if (lr->dropping) {
			mcp_log(st->m, COG_LOG_WARN, NULL, "server \"%s\" sent a message of %zu "
				"bytes, over max_message_bytes (%zu): dropped", st->m->cfg.name,
				lr->dropped, max);
			lr->dropping = false;
		} else if (lr->line.len) {
			handle_line(st, lr, lr->line.ptr, lr->line.len);
		}
		cog_buf_clear(&lr->line);
		if (lr->line.cap > ((size_t)1 << 20))
			cog_buf_dispose(&lr->line);  /* keep no huge buffer */
		p = nl + 1;
	}
}

/* See stdio_int.h. */
void *mcp_stdio_reader_main(void *arg)
{
	stdio_state *st = arg;
	line_reader lr;
	memset(&lr, 0, sizeof lr);
	lr.next_count_log = 2 * GARBAGE_LOGGED;
	char *chunk = cog_malloc(READ_CHUNK);
	ssize_t n;
	while (chunk && (n = read_some(st, st->child.stdout_fd, chunk, READ_CHUNK)) > 0)
		feed(st, &lr, chunk, chunk + n);
	cog_free(chunk);
	cog_buf_dispose(&lr.line);
	if (lr.garbage > GARBAGE_LOGGED)
		mcp_log(st->m, COG_LOG_WARN, NULL, "server \"%s\": %lu lines that are not "
			"JSON-RPC skipped in all", st->m->cfg.name, lr.garbage);
	mcp_stdio_report_eof(st);
	return NULL;
}

/* ---- stderr ---- */

static void log_stderr_line(stdio_state *st, const char *text, size_t len)
{
	while (len && (text[len - 1] == '\r' || text[len - 1] == '\n'))
		len--;
	if (len == 0)
		return;
	char *line = cog_utf8_lossy(text, len);
	cJSON *fields = cJSON_CreateObject();
	if (fields)
		cJSON_AddStringToObject(fields, "stream", "stderr");
	mcp_log(st->m, COG_LOG_INFO, fields, "%s", line ? line : "(out of memory)");
	cog_free(line);
}

static void keep_tail(stdio_state *st, const char *p, size_t n)
{
	pthread_mutex_lock(&st->lock);
	if (n >= MCP_STDERR_TAIL) {
		memcpy(st->tail, p + n - MCP_STDERR_TAIL, MCP_STDERR_TAIL);
		st->tail_len = MCP_STDERR_TAIL;
	} else {
		size_t keep = st->tail_len + n > MCP_STDERR_TAIL ? MCP_STDERR_TAIL - n : st->tail_len;
		memmove(st->tail, st->tail + st->tail_len - keep, keep);
		memcpy(st->tail + keep, p, n);
		st->tail_len = keep + n;
	}
	pthread_mutex_unlock(&st->lock);
}

/* See stdio_int.h. */
void *mcp_stdio_errors_main(void *arg)
{
	stdio_state *st = arg;
	char chunk[4096], line[STDERR_LINE_MAX];
	size_t used = 0;
	ssize_t n;
	while ((n = read_some(st, st->child.stderr_fd, chunk, sizeof chunk)) > 0) {
		keep_tail(st, chunk, (size_t)n);
		for (ssize_t i = 0; i < n; i++) {
			if (chunk[i] == '\n' || used == sizeof line) {
				log_stderr_line(st, line, used);
				used = 0;
				if (chunk[i] == '\n')
					continue;
			}
			line[used++] = chunk[i];
		}
	}
	log_stderr_line(st, line, used);
	pthread_mutex_lock(&st->lock);
	st->errors_done = true;
	pthread_cond_broadcast(&st->cond);
	pthread_mutex_unlock(&st->lock);
	return NULL;
}
