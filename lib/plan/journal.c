/*
 * The write-ahead journal of a running plan (format: run_int.h).
 *
 * Exactly-once rests on two orderings, both kept by the scheduler through
 * plan_journal_sync(): a "started" record is durable before the executor
 * runs, and a task's end record is durable before any task depending on it
 * starts. Within those rules records may share a transaction: the scheduler
 * queues a task's end record together with the next task's "started"
 * record, and concurrent workers share commits (group commit). A crash can
 * then lose only records whose effects nobody has acted on yet.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run_int.h"

struct plan_journal {
	cog_storage *storage;
	char log[COG_PLAN_ID_MAX + 8];
	const char *plan_id;

	pthread_mutex_t lock;
	pthread_cond_t written;     /* a flush ended */
	cog_buf queued;             /* records not yet written, each NUL-ended */
	size_t queued_count;
	cog_buf writing;            /* the batch being written (flusher only) */
	uint64_t last_ticket;       /* tickets handed out */
	uint64_t durable_ticket;    /* every record up to this one is durable */
	uint64_t last_seq;          /* the log's number of the last one written */
	bool flushing;
	bool build_failed;          /* a record could not be built (OOM) */
	int error;                  /* first failure, sticky */
	char message[512];
};

void plan_journal_name(const cog_plan *plan, char out[COG_PLAN_ID_MAX + 8])
{
	snprintf(out, COG_PLAN_ID_MAX + 8, "plan/%s", plan->id);
}

static void must(int rc, const char *what)
{
	if (rc != 0) {
		fprintf(stderr, "libcognition: journal.c: %s: %s\n", what, strerror(rc));
		abort();
	}
}

int plan_journal_new(plan_journal **out, cog_plan *plan, cog_storage *storage)
{
	plan_journal *j = cog__calloc(1, sizeof(*j));
	if (!j)
		return cog__oom("plan journal");
	if (pthread_mutex_init(&j->lock, NULL) != 0) {
		cog_free(j);
		return cog__error(COG_ERROR, "plan journal: cannot create a mutex");
	}
	if (pthread_cond_init(&j->written, NULL) != 0) {
		pthread_mutex_destroy(&j->lock);
		cog_free(j);
		return cog__error(COG_ERROR, "plan journal: cannot create a condition variable");
	}
	j->storage = storage;
	j->plan_id = plan->id;
	plan_journal_name(plan, j->log);
	*out = j;
	return COG_OK;
}

void plan_journal_free(plan_journal *j)
{
	if (!j)
		return;
	cog_buf_dispose(&j->queued);
	cog_buf_dispose(&j->writing);
	pthread_cond_destroy(&j->written);
	pthread_mutex_destroy(&j->lock);
	cog_free(j);
}

/* ---- queueing records ---- */

static void begin_record(plan_journal *j, const plan_task *t, const char *what)
{
	must(pthread_mutex_lock(&j->lock), "pthread_mutex_lock");
	/* Task ids are [A-Za-z0-9_.:-]: no escaping needed. */
	cog_buf_printf(&j->queued, "{\"t\":\"%s\",\"s\":\"%s\"", t->id, what);
}

static uint64_t end_record(plan_journal *j)
{
	cog_buf_puts(&j->queued, "}");
	cog_buf_putc(&j->queued, '\0');
	if (j->queued.failed) {
		/* The buffer dropped its contents: the records queued with it
		 * are lost, so the journal can no longer be trusted. */
		j->build_failed = true;
		cog_buf_dispose(&j->queued);
		j->queued_count = 0;
	} else {
		j->queued_count++;
	}
	uint64_t ticket = ++j->last_ticket;
	must(pthread_mutex_unlock(&j->lock), "pthread_mutex_unlock");
	return ticket;
}

uint64_t plan_journal_started(plan_journal *j, const plan_task *t)
{
	begin_record(j, t, "started");
	cog_buf_printf(&j->queued, ",\"a\":%u,\"k\":\"%s/%s/%u\"", t->attempts, j->plan_id,
		t->id, t->attempts);
	return end_record(j);
}

uint64_t plan_journal_succeeded(plan_journal *j, const plan_task *t)
{
	begin_record(j, t, "succeeded");
	cog_buf_printf(&j->queued, ",\"a\":%u,\"r\":", t->attempts);
	cog_buf_puts(&j->queued, t->result ? t->result : "null");
	return end_record(j);
}

uint64_t plan_journal_ended(plan_journal *j, const plan_task *t, const char *what,
                            uint64_t delay_ms)
{
	begin_record(j, t, what);
	/* A task skipped while its tool call waits for a decision had its
	 * attempt taken back: "a" says so, or a replay after a crash would
	 * count the attempt and the next run would use a new idempotency key
	 * (and miss the decision recorded under the old one). */
	if (strcmp(what, "skipped") != 0 || t->error_code == COG_EPENDING)
		cog_buf_printf(&j->queued, ",\"a\":%u,\"c\":%d", t->attempts, t->error_code);
	if (t->error) {
		cog_buf_puts(&j->queued, ",\"e\":");
		cog_buf_put_json_string(&j->queued, t->error, strlen(t->error));
	}
	if (strcmp(what, "retrying") == 0)
		cog_buf_printf(&j->queued, ",\"d\":%llu", (unsigned long long)delay_ms);
	/* The partial result a failed attempt kept (run_inline.c). */
	if (strcmp(what, "skipped") != 0) {
		cog_buf_puts(&j->queued, ",\"r\":");
		cog_buf_puts(&j->queued, t->result ? t->result : "null");
	}
	return end_record(j);
}

uint64_t plan_journal_last(plan_journal *j)
{
	must(pthread_mutex_lock(&j->lock), "pthread_mutex_lock");
	uint64_t last = j->last_ticket;
	must(pthread_mutex_unlock(&j->lock), "pthread_mutex_unlock");
	return last;
}

/* ---- writing ---- */

/* One record: its own transaction. More: one transaction for all.
 * *last_seq gets the log's number of the last record. */
static int write_batch(cog_storage *st, const char *log, const char *records,
                       size_t count, uint64_t *last_seq)
{
	if (count == 1)
		return cog_storage_append(st, log, records, last_seq);
	int rc = cog_storage_begin(st);
	if (rc)
		return rc;
	const char *p = records;
	for (size_t i = 0; i < count && !rc; i++) {
		rc = cog_storage_append(st, log, p, last_seq);
		p += strlen(p) + 1;
	}
	if (!rc)
		rc = cog_storage_commit(st);
	if (rc)
		cog_storage_rollback(st); /* keeps the first error's message */
	return rc;
}

static void keep_error(plan_journal *j, int rc, const char *message)
{
	if (j->error)
		return;
	j->error = rc;
	snprintf(j->message, sizeof(j->message), "journal %s: %s", j->log, message);
}

int plan_journal_sync(plan_journal *j, uint64_t ticket)
{
	must(pthread_mutex_lock(&j->lock), "pthread_mutex_lock");
	while (!j->error && j->durable_ticket < ticket) {
		if (j->build_failed) {
			keep_error(j, COG_ENOMEM, "out of memory building a record");
			break;
		}
		if (j->flushing) {
			must(pthread_cond_wait(&j->written, &j->lock), "pthread_cond_wait");
			continue;
		}
		/* Become the flusher of everything queued so far. */
		cog_buf batch = j->queued;
		j->queued = j->writing;
		cog_buf_clear(&j->queued);
		j->writing = batch;
		size_t count = j->queued_count;
		uint64_t upto = j->last_ticket;
		j->queued_count = 0;
		j->flushing = true;
		must(pthread_mutex_unlock(&j->lock), "pthread_mutex_unlock");

		uint64_t seq = 0;
		int rc = count ? write_batch(j->storage, j->log, j->writing.ptr, count, &seq) :
			COG_OK;

		must(pthread_mutex_lock(&j->lock), "pthread_mutex_lock");
		j->flushing = false;
		if (rc) {
			keep_error(j, rc, cog_error_last());
		} else {
			j->durable_ticket = upto;
			if (seq > j->last_seq)
				j->last_seq = seq;
		}
		cog_buf_clear(&j->writing);
		must(pthread_cond_broadcast(&j->written), "pthread_cond_broadcast");
	}
	int rc = j->error;
	if (rc)
		cog__error(rc, "%s", j->message);
	must(pthread_mutex_unlock(&j->lock), "pthread_mutex_unlock");
	return rc;
}

int plan_journal_flush_in(plan_journal *j)
{
	must(pthread_mutex_lock(&j->lock), "pthread_mutex_lock");
	if (!j->error && j->build_failed)
		keep_error(j, COG_ENOMEM, "out of memory building a record");
	int rc = j->error;
	if (rc) {
		cog__error(rc, "%s", j->message);
		must(pthread_mutex_unlock(&j->lock), "pthread_mutex_unlock");
		return rc;
	}
	/* Nobody else uses the journal now: no need to hand the lock over. */
	const char *p = j->queued.ptr;
	uint64_t seq = 0;
	for (size_t i = 0; i < j->queued_count && !rc; i++) {
		rc = cog_storage_append(j->storage, j->log, p, &seq);
		p += strlen(p) + 1;
	}
	if (rc) {
		keep_error(j, rc, cog_error_last());
	} else {
		j->durable_ticket = j->last_ticket;
		if (seq > j->last_seq)
			j->last_seq = seq;
		cog_buf_clear(&j->queued);
		j->queued_count = 0;
	}
	must(pthread_mutex_unlock(&j->lock), "pthread_mutex_unlock");
	return rc;
}

uint64_t plan_journal_last_seq(plan_journal *j)
{
	must(pthread_mutex_lock(&j->lock), "pthread_mutex_lock");
	uint64_t seq = j->last_seq;
	must(pthread_mutex_unlock(&j->lock), "pthread_mutex_unlock");
	return seq;
}

int plan_journal_append_now(cog_plan *plan, cog_storage *storage, const char *records,
                            size_t count)
{
	char log[COG_PLAN_ID_MAX + 8];
	plan_journal_name(plan, log);
	uint64_t seq = 0;
	int rc = COG_OK;
	for (size_t i = 0; i < count && !rc; i++) {
		rc = cog_storage_append(storage, log, records, &seq);
		records += strlen(records) + 1;
	}
	if (!rc && seq > plan->journal_seq)
		plan->journal_seq = seq;
	return rc;
}

/* ---- snapshots ---- */

int plan_journal_snapshot_in(cog_plan *plan, cog_storage *st, const char *marker,
                             bool truncate)
{
	char log[COG_PLAN_ID_MAX + 8];
	plan_journal_name(plan, log);
	uint64_t seq = 0;
	int rc = cog_storage_append(st, log, marker, &seq);
	char *text = rc ? NULL : plan_snapshot_text(plan, seq);
	if (!rc && !text)
		rc = COG_ENOMEM;
	if (!rc)
		rc = cog_storage_put(st, PLAN_COLLECTION, plan->id, text, 0);
	if (!rc && truncate)
		rc = cog_storage_truncate(st, log, seq + 1);
	cog_free(text);
	if (rc)
		return rc;
	plan->journaled = true;
	plan->journal_seq = seq;
	return COG_OK;
}

int plan_journal_snapshot(cog_plan *plan, cog_storage *st, const char *marker,
                          bool truncate)
{
	bool was_journaled = plan->journaled;
	uint64_t was_seq = plan->journal_seq;
	int rc = cog_storage_begin(st);
	if (rc)
		return cog__error_wrap(rc, "plan %s: snapshot", plan->id);
	rc = plan_journal_snapshot_in(plan, st, marker, truncate);
	if (!rc)
		rc = cog_storage_commit(st);
	if (rc) {
		cog_storage_rollback(st);
		plan->journaled = was_journaled;
		plan->journal_seq = was_seq;
		return cog__error_wrap(rc, "plan %s: snapshot", plan->id);
	}
	return COG_OK;
}

int plan_journal_put_state(cog_plan *plan, cog_storage *st)
{
	char *text = plan_snapshot_text(plan, plan->journal_seq);
	if (!text)
		return COG_ENOMEM;
	int rc = cog_storage_put(st, PLAN_COLLECTION, plan->id, text, 0);
	cog_free(text);
	return rc;
}
