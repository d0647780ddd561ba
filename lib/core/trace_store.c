/*
 * Stored spans: a durable plan run's spans go to the storage log
 * "trace/<plan id>" of the context's storage, queued and written in
 * batches of one transaction each (when the span that set the log ends,
 * every TRACE_STORE_BATCH spans, and when the last span holding the store
 * lets go of it). Writing never fails the traced work: a failure is a
 * warning in the log, and the caller's error message stays as it was.
 * cog_trace_read() gives them back as one JSON array.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "trace_state.h"

struct trace_store {
	struct cog_ctx *ctx;
	atomic_uint refs;
	pthread_mutex_t lock;        /* the queue */
	pthread_mutex_t write_lock;  /* one batch at a time: spans keep their order */
	char **queue;
	size_t n, cap;
	char log[COG_STORAGE_NAME_MAX + 1];
};

trace_store *trace_store_new(struct cog_ctx *ctx, const char *log)
{
	if (strlen(log) > COG_STORAGE_NAME_MAX)
		return NULL;
	trace_store *s = cog__calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	if (pthread_mutex_init(&s->lock, NULL) != 0) {
		cog_free(s);
		return NULL;
	}
	if (pthread_mutex_init(&s->write_lock, NULL) != 0) {
		pthread_mutex_destroy(&s->lock);
		cog_free(s);
		return NULL;
	}
	s->ctx = ctx;
	atomic_init(&s->refs, 1);
	snprintf(s->log, sizeof(s->log), "%s", log);
	return s;
}

void trace_store_ref(trace_store *store)
{
	atomic_fetch_add_explicit(&store->refs, 1, memory_order_relaxed);
}

void trace_store_unref(trace_store *store)
{
	if (atomic_fetch_sub_explicit(&store->refs, 1, memory_order_acq_rel) != 1)
		return;
	trace_store_flush(store);
	pthread_mutex_destroy(&store->write_lock);
	pthread_mutex_destroy(&store->lock);
	cog_free(store->queue);
	cog_free(store);
}

void trace_store_queue(trace_store *store, char *span_json)
{
	pthread_mutex_lock(&store->lock);
	if (store->n == store->cap) {
		size_t want = store->cap ? store->cap * 2 : 16;
		char **grown = cog_realloc(store->queue, want * sizeof(*grown));
		if (!grown) {
			pthread_mutex_unlock(&store->lock);
			cog__log(store->ctx, COG_LOG_WARN, NULL, "trace: a span for log '%s' "
				"was dropped: out of memory", store->log);
			cog_free(span_json);
			return;
		}
		store->queue = grown;
		store->cap = want;
	}
	store->queue[store->n++] = span_json;
	bool full = store->n >= TRACE_STORE_BATCH;
	pthread_mutex_unlock(&store->lock);
	if (full)
		trace_store_flush(store);
}

/* Append the batch in one transaction: 0 or the failure's status. */
static int write_batch(cog_storage *st, const char *log, char **spans, size_t n)
{
	int rc = cog_storage_begin(st);
	if (rc)
		return rc;
	for (size_t i = 0; i < n && !rc; i++)
		rc = cog_storage_append(st, log, spans[i], NULL);
	if (!rc)
		rc = cog_storage_commit(st);
	if (rc)
		cog_storage_rollback(st);
	return rc;
}

void trace_store_flush(trace_store *store)
{
	pthread_mutex_lock(&store->write_lock);
	pthread_mutex_lock(&store->lock);
	char **spans = store->queue;
	size_t n = store->n;
	store->queue = NULL;
	store->n = store->cap = 0;
	pthread_mutex_unlock(&store->lock);
	if (n) {
		/* The traced work's own error must survive the write. */
		int saved_code = cog_error_last_code();
		char saved[1024];
		snprintf(saved, sizeof(saved), "%s", cog_error_last());
		cog_storage *st = cog_ctx_storage(store->ctx);
		int rc = st ? write_batch(st, store->log, spans, n) :
			cog__error(COG_EUNAVAILABLE, "the context has no storage");
		if (rc)
			cog__log(store->ctx, COG_LOG_WARN, NULL, "trace: %zu span%s for log '%s' "
				"not stored: %s", n, n == 1 ? "" : "s", store->log, cog_error_last());
		if (saved_code)
			cog__error(saved_code, "%s", saved);
		else
			cog_error_clear();
	}
	for (size_t i = 0; i < n; i++)
		cog_free(spans[i]);
	cog_free(spans);
	pthread_mutex_unlock(&store->write_lock);
}

/* ---- cog_trace_read ---- */

struct read_state {
	cog_buf out;
	size_t count;
};

static int add_record(uint64_t seq, const char *record, size_t len, void *user_data)
{
	(void)seq;
	struct read_state *rs = user_data;
	if (rs->count++)
		cog_buf_putc(&rs->out, ',');
	if (cog_buf_put(&rs->out, record, len))
		return cog__oom("cog_trace_read");
	return 0;
}

static bool plan_id_ok(const char *id)
{
	size_t len = strlen(id);
	if (len == 0 || len > COG_STORAGE_NAME_MAX - 6)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)id[i];
		if (c <= 0x20 || c == 0x7f || c >= 0x80)
			return false;
	}
	return true;
}

int cog_trace_read(cog_ctx *ctx, const char *plan_id, char **json)
{
	static const char fn[] = "cog_trace_read";
	COG_CHECK_ARG(json, fn, "json is NULL");
	*json = NULL;
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	COG_CHECK_ARG(plan_id, fn, "plan_id is NULL");
	if (!plan_id_ok(plan_id))
		return cog__error(COG_EINVAL, "%s: '%.80s' is not a plan id (1..%u printable "
			"ASCII bytes)", fn, plan_id, COG_STORAGE_NAME_MAX - 6);
	cog_storage *st = cog_ctx_storage(ctx);
	if (!st)
		return cog__error(COG_EUNAVAILABLE, "%s: the context has no storage "
			"(cog_ctx_set_storage)", fn);
	char log[COG_STORAGE_NAME_MAX + 1];
	snprintf(log, sizeof(log), "trace/%s", plan_id);
	struct read_state rs = { COG_BUF_INIT, 0 };
	cog_buf_putc(&rs.out, '[');
	int rc = cog_storage_read(st, log, 1, 0, add_record, &rs);
	if (rc) {
		cog_buf_dispose(&rs.out);
		return cog__error_wrap(rc, "%s: plan %s: reading log '%s'", fn, plan_id, log);
	}
	if (!rs.count) {
		cog_buf_dispose(&rs.out);
		return cog__error(COG_ENOTFOUND, "%s: no span stored for plan %s (only durable "
			"runs store theirs)", fn, plan_id);
	}
	cog_buf_putc(&rs.out, ']');
	*json = cog_buf_detach(&rs.out);
	return *json ? COG_OK : cog__oom(fn);
}
