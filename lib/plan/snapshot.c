/*
 * The text of a plan's snapshot document (format: run_int.h): Plan JSON
 * with every task's state, plus the plan's overall state and the journal
 * position, written straight into a buffer.
 *
 * A durable run writes one when it starts and one when it ends, so its
 * cost is paid twice per run. Building a cJSON tree and printing it costs
 * about 4 us per task, most of it in cJSON's number printing (a printf and
 * a scanf per number) and allocations; this writer costs a fraction of
 * that. It writes what plan_to_json(plan, true) holds, in the same order
 * (a unit test compares the two on random plans): when a field is added
 * there, add it here.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "run_int.h"

/* Whole numbers below 2^53 as digits; others exactly, with %.17g. */
static void put_number(cog_buf *b, double d)
{
	if (!isfinite(d)) {
		cog_buf_puts(b, "null");
		return;
	}
	if (d != floor(d) || fabs(d) >= 9007199254740992.0) {
		cog_buf_printf(b, "%.17g", d);
		return;
	}
	char digits[24];
	size_t n = sizeof(digits);
	uint64_t v = (uint64_t)fabs(d);
	do {
		digits[--n] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	if (signbit(d))
		digits[--n] = '-'; /* -0 too: it reads back as itself */
	cog_buf_put(b, digits + n, sizeof(digits) - n);
}

static void put_string(cog_buf *b, const char *s)
{
	if (s)
		cog_buf_put_json_string(b, s, strlen(s));
	else
		cog_buf_puts(b, "null");
}

/* Any JSON value held as cJSON (inputs, meta, capabilities), or null. */
static void put_json(cog_buf *b, const cJSON *v)
{
	if (!v) {
		cog_buf_puts(b, "null");
		return;
	}
	switch (v->type & 0xff) {
	case cJSON_False:
		cog_buf_puts(b, "false");
		return;
	case cJSON_True:
		cog_buf_puts(b, "true");
		return;
	case cJSON_Number:
		put_number(b, v->valuedouble);
		return;
	case cJSON_String:
		put_string(b, v->valuestring);
		return;
	case cJSON_Raw:
		cog_buf_puts(b, v->valuestring ? v->valuestring : "null");
		return;
	case cJSON_Array:
	case cJSON_Object: {
		bool object = (v->type & 0xff) == cJSON_Object;
		cog_buf_putc(b, object ? '{' : '[');
		for (const cJSON *c = v->child; c; c = c->next) {
			if (c != v->child)
				cog_buf_putc(b, ',');
			if (object) {
				put_string(b, c->string ? c->string : "");
				cog_buf_putc(b, ':');
			}
			put_json(b, c);
		}
		cog_buf_putc(b, object ? '}' : ']');
		return;
	}
	default:
		cog_buf_puts(b, "null");
	}
}

static void put_task(cog_buf *b, const plan_task *t)
{
	cog_buf_puts(b, "{\"id\":");
	put_string(b, t->id);
	cog_buf_puts(b, ",\"title\":");
	put_string(b, t->title);
	cog_buf_puts(b, ",\"kind\":");
	put_string(b, t->kind);
	cog_buf_puts(b, ",\"tool\":");
	put_string(b, t->tool);
	cog_buf_puts(b, ",\"inputs\":");
	put_json(b, t->inputs);
	cog_buf_puts(b, ",\"capabilities\":");
	put_json(b, t->capabilities);
	cog_buf_puts(b, ",\"depends_on\":[");
	for (size_t i = 0; i < t->dep_count; i++) {
		if (i)
			cog_buf_putc(b, ',');
		put_string(b, t->dep_ids[i]);
	}
	cog_buf_puts(b, "],\"estimate\":{\"tokens\":");
	put_number(b, t->est_tokens);
	cog_buf_puts(b, ",\"cost\":");
	put_number(b, t->est_cost);
	cog_buf_puts(b, ",\"duration_ms\":");
	put_number(b, t->est_duration_ms);
	cog_buf_puts(b, "},\"retry\":{\"max_attempts\":");
	put_number(b, t->max_attempts);
	cog_buf_puts(b, ",\"backoff_ms\":");
	put_number(b, (double)t->backoff_ms);
	cog_buf_puts(b, ",\"max_backoff_ms\":");
	put_number(b, (double)t->max_backoff_ms);
	cog_buf_puts(b, "},\"timeout_ms\":");
	put_number(b, (double)t->timeout_ms);
	cog_buf_puts(b, t->idempotent ? ",\"idempotent\":true" : ",\"idempotent\":false");
	cog_buf_puts(b, ",\"meta\":");
	put_json(b, t->meta);
	cog_buf_printf(b, ",\"state\":\"%s\",\"attempts\":", cog_task_state_name(t->state));
	put_number(b, t->attempts);
	/* Results are stored as compact, validated JSON text. */
	cog_buf_puts(b, ",\"result\":");
	cog_buf_puts(b, t->result ? t->result : "null");
	cog_buf_puts(b, ",\"error\":");
	put_string(b, t->error);
	cog_buf_putc(b, '}');
}

char *plan_snapshot_text(const cog_plan *plan, uint64_t seq)
{
	cog_buf b = COG_BUF_INIT;
	cog_buf_puts(&b, "{\"version\":1,\"id\":");
	put_string(&b, plan->id);
	cog_buf_puts(&b, ",\"goal\":");
	put_string(&b, plan->goal);
	cog_buf_puts(&b, ",\"budget\":{\"max_tokens\":");
	put_number(&b, plan->budget_tokens);
	cog_buf_puts(&b, ",\"max_cost\":");
	put_number(&b, plan->budget_cost);
	cog_buf_puts(&b, ",\"max_duration_ms\":");
	put_number(&b, plan->budget_duration_ms);
	cog_buf_puts(&b, "},\"tasks\":[");
	for (size_t i = 0; i < plan->count; i++) {
		if (i)
			cog_buf_putc(&b, ',');
		put_task(&b, &plan->tasks[i]);
	}
	cog_buf_printf(&b, "],\"state\":\"%s\",\"journal\":{\"seq\":%llu}}",
		plan_overall_state(plan), (unsigned long long)seq);
	char *text = cog_buf_detach(&b); /* NULL if any write failed */
	if (!text)
		cog__oom("plan snapshot");
	return text;
}
