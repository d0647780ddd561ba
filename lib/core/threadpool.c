/*
 * A fixed pool of worker threads taking jobs from one FIFO queue.
 *
 * One mutex guards the queue and the counters; `work` wakes workers when a
 * job arrives or shutdown begins, `idle` wakes cog_pool_wait() when the
 * queue is empty and no job is running. Jobs may submit further jobs (until
 * shutdown begins); they must not call cog_pool_wait() or cog_pool_free() on
 * their own pool, which would wait for themselves.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_int.h"

#define POOL_MAX_THREADS 256u

typedef struct pool_job {
	struct pool_job *next;
	cog_pool_fn fn;
	void *arg;
} pool_job;

struct cog_pool {
	pthread_mutex_t lock;
	pthread_cond_t work;
	pthread_cond_t idle;
	pool_job *head;
	pool_job *tail;
	unsigned int running;     /* jobs being executed right now */
	bool shutdown;            /* no more submits; workers exit when empty */
	unsigned int nthreads;    /* workers started (all of them once built) */
	pthread_t threads[];
};

/* Lock, unlock, wait and signal only fail on a corrupted or destroyed
 * object, and the void functions here have no way to report it: carrying on
 * would run jobs twice or lose them, so stop loudly instead. */
static void must(int rc, const char *what)
{
	if (rc != 0) {
		fprintf(stderr, "libcognition: threadpool.c: %s: %s\n", what,
			strerror(rc));
		abort();
	}
}

static void pool_lock(cog_pool *pool)
{
	must(pthread_mutex_lock(&pool->lock), "pthread_mutex_lock");
}

static void pool_unlock(cog_pool *pool)
{
	must(pthread_mutex_unlock(&pool->lock), "pthread_mutex_unlock");
}

/* Called with the lock held; NULL when the queue is empty. */
static pool_job *queue_pop(cog_pool *pool)
{
	pool_job *job = pool->head;
	if (job) {
		pool->head = job->next;
		if (!pool->head)
			pool->tail = NULL;
	}
	return job;
}

static void *worker_main(void *arg)
{
	cog_pool *pool = arg;

	pool_lock(pool);
	for (;;) {
		while (!pool->head && !pool->shutdown)
			must(pthread_cond_wait(&pool->work, &pool->lock),
				"pthread_cond_wait");
		pool_job *job = queue_pop(pool);
		if (!job)
			break;   /* shutdown and nothing left to run */
		pool->running++;
		pool_unlock(pool);

		cog_pool_fn fn = job->fn;
		void *job_arg = job->arg;
		cog_free(job);
		fn(job_arg);

		pool_lock(pool);
		pool->running--;
		if (!pool->head && pool->running == 0)
			must(pthread_cond_broadcast(&pool->idle),
				"pthread_cond_broadcast");
	}
	pool_unlock(pool);
	return NULL;
}

/* Tell the workers to finish the queue and exit, then join them. */
static void stop_workers(cog_pool *pool)
{
	pool_lock(pool);
	pool->shutdown = true;
	must(pthread_cond_broadcast(&pool->work), "pthread_cond_broadcast");
	pool_unlock(pool);

	for (unsigned int i = 0; i < pool->nthreads; i++)
		must(pthread_join(pool->threads[i], NULL), "pthread_join");
}

static void destroy_sync(cog_pool *pool)
{
	must(pthread_cond_destroy(&pool->idle), "pthread_cond_destroy");
	must(pthread_cond_destroy(&pool->work), "pthread_cond_destroy");
	must(pthread_mutex_destroy(&pool->lock), "pthread_mutex_destroy");
}

static int init_sync(cog_pool *pool)
{
	int rc = pthread_mutex_init(&pool->lock, NULL);
	if (rc != 0)
		return cog__error(COG_ERROR, "cog_pool_new: pthread_mutex_init: %s",
			strerror(rc));
	rc = pthread_cond_init(&pool->work, NULL);
	if (rc != 0)
		goto fail_work;
	rc = pthread_cond_init(&pool->idle, NULL);
	if (rc != 0)
		goto fail_idle;
	return COG_OK;

fail_idle:
	pthread_cond_destroy(&pool->work);
fail_work:
	pthread_mutex_destroy(&pool->lock);
	return cog__error(COG_ERROR, "cog_pool_new: pthread_cond_init: %s",
		strerror(rc));
}

/* Start the workers with every signal blocked, so that the host's signal
 * handlers keep running on the host's own threads. */
static int start_workers(cog_pool *pool, unsigned int threads)
{
	sigset_t all, old;
	sigfillset(&all);
	int rc = pthread_sigmask(SIG_SETMASK, &all, &old);
	if (rc != 0)
		return cog__error(COG_ERROR, "cog_pool_new: pthread_sigmask: %s",
			strerror(rc));

	for (unsigned int i = 0; i < threads; i++) {
		rc = pthread_create(&pool->threads[i], NULL, worker_main, pool);
		if (rc != 0)
			break;
		pool->nthreads++;
	}
	must(pthread_sigmask(SIG_SETMASK, &old, NULL), "pthread_sigmask");

	if (rc != 0)
		return cog__error(rc == EAGAIN ? COG_ENOMEM : COG_ERROR,
			"cog_pool_new: pthread_create for worker %u of %u: %s",
			pool->nthreads + 1, threads, strerror(rc));
	return COG_OK;
}

int cog_pool_new(cog_pool **out, unsigned int threads)
{
	COG_CHECK_ARG(out != NULL, "cog_pool_new", "out is NULL");
	*out = NULL;
	if (threads < 1 || threads > POOL_MAX_THREADS)
		return cog__error(COG_EINVAL,
			"cog_pool_new: threads must be 1..%u, got %u",
			POOL_MAX_THREADS, threads);

	cog_pool *pool = cog_malloc(sizeof(*pool) + threads * sizeof(pthread_t));
	if (!pool)
		return cog__oom("cog_pool_new");
	pool->head = NULL;
	pool->tail = NULL;
	pool->running = 0;
	pool->shutdown = false;
	pool->nthreads = 0;

	int rc = init_sync(pool);
	if (rc != COG_OK) {
		cog_free(pool);
		return rc;
	}
	rc = start_workers(pool, threads);
	if (rc != COG_OK) {
		/* Nothing is queued yet: the workers that did start exit at
		 * once. */
		stop_workers(pool);
		destroy_sync(pool);
		cog_free(pool);
		return rc;
	}
	*out = pool;
	return COG_OK;
}

int cog_pool_submit(cog_pool *pool, cog_pool_fn fn, void *arg)
{
	COG_CHECK_ARG(pool != NULL, "cog_pool_submit", "pool is NULL");
	COG_CHECK_ARG(fn != NULL, "cog_pool_submit", "fn is NULL");

	/* Allocate outside the lock: the allocator hook may be slow. */
	pool_job *job = cog_malloc(sizeof(*job));
	if (!job)
		return cog__oom("cog_pool_submit");
	job->next = NULL;
	job->fn = fn;
	job->arg = arg;

	pool_lock(pool);
	if (pool->shutdown) {
		pool_unlock(pool);
		cog_free(job);
		return cog__error(COG_ECANCELED,
			"cog_pool_submit: the pool is shutting down");
	}
	if (pool->tail)
		pool->tail->next = job;
	else
		pool->head = job;
	pool->tail = job;
	must(pthread_cond_signal(&pool->work), "pthread_cond_signal");
	pool_unlock(pool);
	return COG_OK;
}

void cog_pool_wait(cog_pool *pool)
{
	if (!pool)
		return;
	pool_lock(pool);
	while (pool->head || pool->running > 0)
		must(pthread_cond_wait(&pool->idle, &pool->lock),
			"pthread_cond_wait");
	pool_unlock(pool);
}

unsigned int cog_pool_threads(const cog_pool *pool)
{
	/* Fixed once cog_pool_new() returned, so no lock is needed. */
	return pool ? pool->nthreads : 0;
}

void cog_pool_free(cog_pool *pool)
{
	if (!pool)
		return;
	stop_workers(pool);
	destroy_sync(pool);
	cog_free(pool);
}
