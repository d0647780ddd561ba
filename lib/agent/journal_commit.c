/*
 * The agent journals' group commit (agent_int.h). Every run appends its
 * records to its own log, but the logs of one context share one storage
 * (one SQLite connection): a commit per record is an fsync per record, one
 * after the other. So records are queued here, each with a ticket, and a
 * run that needs its records durable becomes the flusher of everything
 * queued so far (its own and the other runs'), written in one transaction;
 * runs that need theirs while a flush is under way wait for it and then
 * flush what came in meanwhile (as lib/plan/journal.c plan_journal_sync).
 *
 * A batch that cannot be written fails every journal that had a record in
 * it (the waiter's `error`, sticky): those runs stop with COG_EIO, the
 * others are not affected.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_int.h"
#include "journal_int.h"

typedef struct commit_entry {
	struct commit_entry *next;
	cog_storage *storage;
	char log[COG_STORAGE_NAME_MAX + 1];  /* a copy: a detached journal is gone */
	char *text;                /* the record (owned) */
	agent_commit_waiter *waiter; /* NULL once its journal detached */
} commit_entry;

struct agent_commit {
	pthread_mutex_t lock;
	pthread_cond_t written;    /* a flush ended */
	commit_entry *head, *tail; /* queued, in ticket order */
	commit_entry *inflight;    /* the batch being written (its waiters are
	                              told of a failure under the lock) */
	uint64_t last_ticket;      /* tickets handed out */
	uint64_t durable_ticket;   /* every record up to this one is written */
	bool flushing;
	uint64_t orphans_failed;   /* detached records that could not be written */
	size_t queued;             /* entries in head..tail */
};

/* Records left queued by runs that did not wait for them (a plan task's
 * final answer) are written by the next sync; past this many, the run
 * queuing one writes them, so the queue stays bounded. */
#define COMMIT_QUEUE_MAX 256

static void must(int rc, const char *what)
{
	if (rc != 0) {
		fprintf(stderr, "libcognition: journal_commit.c: %s: %s\n", what, strerror(rc));
		abort();
	}
}

int agent_commit_new(agent_commit **out)
{
	*out = NULL;
	agent_commit *c = cog__calloc(1, sizeof(*c));
	if (!c)
		return cog__oom("agent journal: group commit");
	if (pthread_mutex_init(&c->lock, NULL) != 0) {
		cog_free(c);
		return cog__error(COG_ERROR, "agent journal: cannot create a mutex");
	}
	if (pthread_cond_init(&c->written, NULL) != 0) {
		pthread_mutex_destroy(&c->lock);
		cog_free(c);
		return cog__error(COG_ERROR, "agent journal: cannot create a condition variable");
	}
	*out = c;
	return COG_OK;
}

static void free_entries(commit_entry *e)
{
	while (e) {
		commit_entry *next = e->next;
		cog_free(e->text);
		cog_free(e);
		e = next;
	}
}

void agent_commit_detach(agent_commit *c, agent_commit_waiter *w)
{
	must(pthread_mutex_lock(&c->lock), "pthread_mutex_lock");
	/* The queue and the batch a flusher is writing right now: its error
	 * path looks at the waiters (under this lock) after we are gone. */
	for (commit_entry *e = c->head; e; e = e->next) {
		if (e->waiter == w)
			e->waiter = NULL;
	}
	for (commit_entry *e = c->inflight; e; e = e->next) {
		if (e->waiter == w)
			e->waiter = NULL;
	}
	must(pthread_mutex_unlock(&c->lock), "pthread_mutex_unlock");
}

int agent_commit_flush(agent_commit *c)
{
	if (!c)
		return COG_OK;
	agent_commit_waiter none = { 0 };
	must(pthread_mutex_lock(&c->lock), "pthread_mutex_lock");
	uint64_t last = c->last_ticket;
	uint64_t failed_before = c->orphans_failed;
	must(pthread_mutex_unlock(&c->lock), "pthread_mutex_unlock");
	int rc = agent_commit_sync(c, last, &none);
	must(pthread_mutex_lock(&c->lock), "pthread_mutex_lock");
	bool lost = c->orphans_failed != failed_before;
	must(pthread_mutex_unlock(&c->lock), "pthread_mutex_unlock");
	if (!rc && lost)
		rc = cog__error(COG_EIO, "agent journal: records of finished runs could not be "
			"written");
	return rc;
}

void agent_commit_free(agent_commit *c)
{
	if (!c)
		return;
	/* Records detached journals left behind are written first (the
	 * storage is still there: the context frees its backends after the
	 * modules' state). */
	agent_commit_flush(c);
	free_entries(c->head);
	pthread_cond_destroy(&c->written);
	pthread_mutex_destroy(&c->lock);
	cog_free(c);
}

int agent_commit_queue(agent_commit *c, cog_storage *storage, const char *log, char *text,
                       agent_commit_waiter *w, uint64_t *ticket)
{
	commit_entry *e = cog__calloc(1, sizeof(*e));
	if (!e) {
		cog_free(text);
		return cog__oom("agent journal: a record");
	}
	e->storage = storage;
	snprintf(e->log, sizeof(e->log), "%s", log);
	e->text = text;
	e->waiter = w;
	must(pthread_mutex_lock(&c->lock), "pthread_mutex_lock");
	if (c->tail)
		c->tail->next = e;
	else
		c->head = e;
	c->tail = e;
	*ticket = ++c->last_ticket;
	bool long_queue = ++c->queued >= COMMIT_QUEUE_MAX;
	must(pthread_mutex_unlock(&c->lock), "pthread_mutex_unlock");
	return long_queue ? agent_commit_sync(c, *ticket, w) : COG_OK;
}

/* Records of one storage from `e` on, `*n` of them: one alone is its own
 * transaction, more share one. */
static int write_group(const commit_entry *e, size_t n)
{
	if (n == 1)
		return cog_storage_append(e->storage, e->log, e->text, NULL);
	cog_storage *st = e->storage;
	int rc = cog_storage_begin(st);
	for (size_t i = 0; i < n && !rc; i++, e = e->next)
		rc = cog_storage_append(st, e->log, e->text, NULL);
	if (!rc)
		rc = cog_storage_commit(st);
	else
		cog_storage_rollback(st);  /* keeps the first error's message */
	return rc;
}

/* Write a batch (no lock held); failures are noted on the waiters after. */
static void write_batch(agent_commit *c, commit_entry *batch)
{
	for (commit_entry *e = batch; e;) {
		size_t n = 0;
		commit_entry *end = e;
		while (end && end->storage == e->storage) {
			n++;
			end = end->next;
		}
		int rc = write_group(e, n);
		if (rc) {
			char message[512];
			snprintf(message, sizeof(message), "%s", cog_error_last());
			must(pthread_mutex_lock(&c->lock), "pthread_mutex_lock");
			for (commit_entry *f = e; f != end; f = f->next) {
				if (!f->waiter) {
					c->orphans_failed++;
					continue;
				}
				if (f->waiter->error)
					continue;
				f->waiter->error = rc;
				snprintf(f->waiter->message, sizeof(f->waiter->message), "%s",
				         message);
			}
			must(pthread_mutex_unlock(&c->lock), "pthread_mutex_unlock");
		}
		e = end;
	}
}

int agent_commit_sync(agent_commit *c, uint64_t ticket, agent_commit_waiter *w)
{
	must(pthread_mutex_lock(&c->lock), "pthread_mutex_lock");
	while (c->durable_ticket < ticket) {
		if (c->flushing) {
			must(pthread_cond_wait(&c->written, &c->lock), "pthread_cond_wait");
			continue;
		}
		/* Become the flusher of everything queued so far. */
		commit_entry *batch = c->head;
		uint64_t upto = c->last_ticket;
		c->head = c->tail = NULL;
		c->queued = 0;
		c->flushing = true;
		c->inflight = batch;
		must(pthread_mutex_unlock(&c->lock), "pthread_mutex_unlock");
		write_batch(c, batch);
		must(pthread_mutex_lock(&c->lock), "pthread_mutex_lock");
		c->flushing = false;
		c->inflight = NULL;
		c->durable_ticket = upto;
		must(pthread_cond_broadcast(&c->written), "pthread_cond_broadcast");
		must(pthread_mutex_unlock(&c->lock), "pthread_mutex_unlock");
		free_entries(batch);
		must(pthread_mutex_lock(&c->lock), "pthread_mutex_lock");
	}
	int rc = w->error;
	char message[sizeof(w->message)];
	if (rc)
		memcpy(message, w->message, sizeof(message));
	must(pthread_mutex_unlock(&c->lock), "pthread_mutex_unlock");
	if (rc)
		cog__error(rc, "%s", message);
	return rc;
}
