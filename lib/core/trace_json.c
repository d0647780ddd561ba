/*
 * A finished span as JSON (cognition/trace.h shows the shape): built only
 * for the span hook and for stored spans (trace.c decides).
 */
#include <math.h>
#include <string.h>

#include "trace_state.h"

static void put_number(cog_buf *b, double n)
{
	if (!isfinite(n))
		cog_buf_puts(b, "null");
	else if (n == floor(n) && fabs(n) < 1e15)
		cog_buf_printf(b, "%.0f", n);
	else
		cog_buf_printf(b, "%.17g", n);
}

/* A string from the caller as JSON: bytes that are not UTF-8 (a model
 * name cut short, say) become U+FFFD, as storage takes UTF-8 only. */
static void put_text(cog_buf *b, const char *text)
{
	size_t len = strlen(text);
	if (cog_utf8_valid(text, len, NULL)) {
		cog_buf_put_json_string(b, text, len);
		return;
	}
	char *clean = cog_utf8_lossy(text, len);
	if (!clean)
		b->failed = true;
	else
		cog_buf_put_json_string(b, clean, strlen(clean));
	cog_free(clean);
}

/* Free text that may carry a secret someone pasted into a goal. */
static void put_redacted(cog_buf *b, const char *text)
{
	char *clean = cog__redact_text(text);
	put_text(b, clean ? clean : "[REDACTED: out of memory]");
	cog_free(clean);
}

static void put_attrs(cog_buf *b, const cog_span *s)
{
	cog_buf_putc(b, '{');
	for (size_t i = 0; i < s->n_attrs; i++) {
		const span_attr *a = &s->attrs[i];
		if (i)
			cog_buf_putc(b, ',');
		put_text(b, a->key);
		cog_buf_putc(b, ':');
		switch (a->type) {
		case ATTR_STR:
			if (strcmp(a->key, "cog.plan.goal") == 0)
				put_redacted(b, a->v.s);
			else
				put_text(b, a->v.s);
			break;
		case ATTR_NUM: put_number(b, a->v.n); break;
		case ATTR_BOOL: cog_buf_puts(b, a->v.b ? "true" : "false"); break;
		default:
			if (cog__json_print_into(b, a->v.j))
				b->failed = true;
		}
	}
	cog_buf_putc(b, '}');
}

char *trace_span_json(const cog_span *s, uint64_t duration_ns, int status,
                       const char *message)
{
	cog_buf b = COG_BUF_INIT;
	cog_buf_printf(&b, "{\"trace_id\":\"%s\",\"span_id\":\"%s\",\"parent_span_id\":",
		cog_ctx_trace_id(s->ctx), s->id);
	if (s->parent_id[0])
		cog_buf_printf(&b, "\"%s\"", s->parent_id);
	else
		cog_buf_puts(&b, "null");
	cog_buf_puts(&b, ",\"name\":");
	put_text(&b, s->name);
	cog_buf_puts(&b, ",\"kind\":");
	put_text(&b, s->kind);
	cog_buf_printf(&b, ",\"start_time_unix_nano\":%lld,\"end_time_unix_nano\":%lld,"
		"\"duration_ms\":%.3f,\"status\":{\"code\":\"%s\"",
		(long long)s->start_unix_ns, (long long)(s->start_unix_ns + (int64_t)duration_ns),
		(double)duration_ns / 1e6, status ? "error" : "ok");
	if (status) {
		cog_buf_puts(&b, ",\"message\":");
		put_redacted(&b, message ? message : cog_strerror(status));
		cog_buf_printf(&b, ",\"error_code\":%d", status);
	}
	cog_buf_puts(&b, "},\"attributes\":");
	put_attrs(&b, s);
	cog_buf_putc(&b, '}');
	return cog_buf_detach(&b);
}
