/*
 * Spans: open, attributes, end (counted in the metrics, handed to the span
 * hook, queued for a storage log), and the thread's current span.
 *
 * A span is one allocation: its name and attribute keys and strings go
 * into an arena inside it (a bigger string gets a chunk of its own). Its
 * JSON is built only when the context has a span hook or the span is
 * stored, so without either ending a span costs a lock and a few
 * additions. Ids come from a per-thread generator seeded by libsodium:
 * reading the system's random source per span would cost a system call.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "trace_state.h"

static _Thread_local cog_span *tl_current;
static _Thread_local uint64_t tl_id_state;
static _Thread_local bool tl_id_seeded;

/* splitmix64 over a per-thread random seed: distinct, unpredictable
 * enough for span ids, never zero (which OpenTelemetry reserves). */
static void new_span_id(char out[17])
{
	if (!tl_id_seeded) {
		randombytes_buf(&tl_id_state, sizeof(tl_id_state));
		tl_id_seeded = true;
	}
	uint64_t z;
	do {
		z = (tl_id_state += 0x9e3779b97f4a7c15u);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
		z ^= z >> 31;
	} while (z == 0);
	uint8_t bytes[8];
	for (int i = 0; i < 8; i++)
		bytes[i] = (uint8_t)(z >> (56 - 8 * i));
	cog_hex_encode(bytes, sizeof(bytes), out);
}

static char *span_copy(cog_span *s, const char *text)
{
	size_t len = strlen(text) + 1;
	if (len <= SPAN_ARENA - s->arena_used) {
		char *p = s->arena + s->arena_used;
		memcpy(p, text, len);
		s->arena_used += len;
		return p;
	}
	span_chunk *c = cog_malloc(sizeof(*c) + len);
	if (!c)
		return NULL;
	memcpy(c->data, text, len);
	c->next = s->chunks;
	s->chunks = c;
	return c->data;
}

cog_span *cog__span_begin(struct cog_ctx *ctx, const char *kind, const char *name,
                          cog_span *parent)
{
	if (!ctx || !kind)
		return NULL;
	cog_span *s = cog_malloc(sizeof(*s));
	if (!s)
		return NULL;
	s->ctx = ctx;
	s->n_attrs = 0;
	s->chunks = NULL;
	s->arena_used = 0;
	s->store = NULL;
	s->sets_store = false;
	snprintf(s->kind, sizeof(s->kind), "%s", kind);
	s->name = span_copy(s, name ? name : kind);
	if (!s->name)
		s->name = s->kind;
	new_span_id(s->id);
	if (!parent && tl_current && tl_current->ctx == ctx)
		parent = tl_current;
	s->parent_id[0] = '\0';
	if (parent) {
		memcpy(s->parent_id, parent->id, sizeof(s->parent_id));
		if (parent->store) {
			trace_store_ref(parent->store);
			s->store = parent->store;
		}
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	s->start_unix_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	s->start_mono_ns = cog_clock_mono_ns();
	return s;
}

/* The attribute `key`, made if new; NULL when full or out of memory. */
static span_attr *attr_slot(cog_span *s, const char *key)
{
	for (size_t i = 0; i < s->n_attrs; i++) {
		span_attr *a = &s->attrs[i];
		if (strcmp(a->key, key) == 0) {
			if (a->type == ATTR_JSON)
				cJSON_Delete(a->v.j);
			a->type = ATTR_NUM;
			return a;
		}
	}
	if (s->n_attrs == SPAN_ATTRS)
		return NULL;
	const char *copy = span_copy(s, key);
	if (!copy)
		return NULL;
	span_attr *a = &s->attrs[s->n_attrs++];
	a->key = copy;
	a->type = ATTR_NUM;
	return a;
}

void cog__span_attr_str(cog_span *span, const char *key, const char *value)
{
	if (!span || !key || !value)
		return;
	char *copy = span_copy(span, value);
	span_attr *a = copy ? attr_slot(span, key) : NULL;
	if (a) {
		a->type = ATTR_STR;
		a->v.s = copy;
	}
}

void cog__span_attr_num(cog_span *span, const char *key, double value)
{
	span_attr *a = span && key ? attr_slot(span, key) : NULL;
	if (a)
		a->v.n = value;
}

void cog__span_attr_bool(cog_span *span, const char *key, bool value)
{
	span_attr *a = span && key ? attr_slot(span, key) : NULL;
	if (a) {
		a->type = ATTR_BOOL;
		a->v.b = value;
	}
}

void cog__span_attr_json(cog_span *span, const char *key, cJSON *value)
{
	span_attr *a = span && key && value ? attr_slot(span, key) : NULL;
	if (!a) {
		cJSON_Delete(value);
		return;
	}
	a->type = ATTR_JSON;
	a->v.j = value;
}

const char *cog__span_id(const cog_span *span)
{
	return span ? span->id : "";
}

void cog__span_set_store(cog_span *span, const char *log)
{
	if (!span || !log || span->sets_store)
		return;
	trace_store *store = trace_store_new(span->ctx, log);
	if (!store)
		return;
	if (span->store)
		trace_store_unref(span->store);
	span->store = store;
	span->sets_store = true;
}

cog_span *cog__span_current(void)
{
	return tl_current;
}

cog_span *cog__span_enter(cog_span *span)
{
	cog_span *previous = tl_current;
	tl_current = span;
	return previous;
}

void cog__span_leave(cog_span *previous)
{
	tl_current = previous;
}

const char *trace_current_span_id(struct cog_ctx *ctx)
{
	return tl_current && tl_current->ctx == ctx ? tl_current->id : NULL;
}

static const span_attr *find_attr(const cog_span *s, const char *key, int type)
{
	for (size_t i = 0; i < s->n_attrs; i++)
		if (s->attrs[i].type == type && strcmp(s->attrs[i].key, key) == 0)
			return &s->attrs[i];
	return NULL;
}

static const char *attr_text(const cog_span *s, const char *key)
{
	const span_attr *a = find_attr(s, key, ATTR_STR);
	return a ? a->v.s : NULL;
}

static double attr_number(const cog_span *s, const char *key)
{
	const span_attr *a = find_attr(s, key, ATTR_NUM);
	return a && isfinite(a->v.n) ? a->v.n : 0;
}

void cog__span_end(cog_span *span, int status, const char *message)
{
	if (!span)
		return;
	uint64_t now = cog_clock_mono_ns();
	uint64_t duration = now > span->start_mono_ns ? now - span->start_mono_ns : 0;
	if (status > 0)
		status = COG_ERROR;
	trace_ended e = { span->kind, duration, status, NULL, 0, 0, 0, NULL };
	if (strcmp(span->kind, "llm") == 0) {
		e.model = attr_text(span, "gen_ai.response.model");
		if (!e.model)
			e.model = attr_text(span, "gen_ai.request.model");
		e.input_tokens = attr_number(span, "gen_ai.usage.input_tokens");
		e.output_tokens = attr_number(span, "gen_ai.usage.output_tokens");
		e.cost = attr_number(span, "cog.llm.cost");
	} else if (strcmp(span->kind, "tool") == 0) {
		e.tool = attr_text(span, "gen_ai.tool.name");
	}
	struct cog__trace *t = cog__ctx_trace(span->ctx);
	pthread_mutex_lock(&t->lock);
	trace_metrics_add(&t->metrics, &e);
	cog_span_fn hook = t->hook;
	void *hook_ud = t->hook_user_data;
	pthread_mutex_unlock(&t->lock);

	char *json = hook || span->store ? trace_span_json(span, duration, status, message) : NULL;
	if (json && hook)
		hook(json, hook_ud);
	if (json && span->store) {
		trace_store_queue(span->store, json);
		json = NULL;
	}
	cog_free(json);
	if (span->store) {
		if (span->sets_store)
			trace_store_flush(span->store);
		trace_store_unref(span->store);
	}
	for (size_t i = 0; i < span->n_attrs; i++)
		if (span->attrs[i].type == ATTR_JSON)
			cJSON_Delete(span->attrs[i].v.j);
	while (span->chunks) {
		span_chunk *next = span->chunks->next;
		cog_free(span->chunks);
		span->chunks = next;
	}
	cog_free(span);
}

int cog_ctx_set_span_hook(cog_ctx *ctx, cog_span_fn fn, void *user_data)
{
	COG_CHECK_ARG(ctx, "cog_ctx_set_span_hook", "ctx is NULL");
	struct cog__trace *t = cog__ctx_trace(ctx);
	pthread_mutex_lock(&t->lock);
	t->hook = fn;
	t->hook_user_data = fn ? user_data : NULL;
	pthread_mutex_unlock(&t->lock);
	return COG_OK;
}

int cog__trace_ctx_init(struct cog_ctx *ctx)
{
	struct cog__trace *t = cog__ctx_trace(ctx);
	memset(t, 0, sizeof(*t));
	if (pthread_mutex_init(&t->lock, NULL) != 0)
		return cog__error(COG_ERROR, "cog_ctx_new: cannot create the trace mutex");
	t->metrics.since_ms = cog_clock_realtime_ms();
	return COG_OK;
}

void cog__trace_ctx_free(struct cog_ctx *ctx)
{
	struct cog__trace *t = cog__ctx_trace(ctx);
	trace_metrics_clear(&t->metrics);
	pthread_mutex_destroy(&t->lock);
}
