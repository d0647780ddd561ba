/*
 * Circuit breaker: closed until failure_threshold failures in a row, then
 * open (calls refused) for cooldown_ns, then half-open: one probe call goes
 * through; its success closes the breaker, its failure opens it again for a
 * fresh cool-down.
 *
 * Results that arrive while the breaker is open, or half-open with no probe
 * out, belong to calls admitted before it opened; they say nothing new about
 * the peer and are ignored (a stale failure must not prolong the cool-down,
 * a stale success must not close it early).
 *
 * A probe whose result is never reported (the caller crashed out of its
 * path) would wedge the breaker half-open for good; so once a probe has
 * been out for a whole cool-down, another one is admitted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_int.h"

static void must(int rc, const char *what)
{
	if (rc != 0) {
		fprintf(stderr, "libcognition: breaker.c: %s: %s\n", what,
			strerror(rc));
		abort();
	}
}

static void breaker_lock(cog_breaker *b)
{
	must(pthread_mutex_lock(&b->lock), "pthread_mutex_lock");
}

static void breaker_unlock(cog_breaker *b)
{
	must(pthread_mutex_unlock(&b->lock), "pthread_mutex_unlock");
}

int cog_breaker_init(cog_breaker *b, unsigned int failure_threshold,
                     uint64_t cooldown_ns)
{
	COG_CHECK_ARG(b != NULL, "cog_breaker_init", "b is NULL");
	if (failure_threshold < 1)
		return cog__error(COG_EINVAL,
			"cog_breaker_init: failure_threshold must be >= 1, got 0");

	int rc = pthread_mutex_init(&b->lock, NULL);
	if (rc != 0)
		return cog__error(COG_ERROR,
			"cog_breaker_init: pthread_mutex_init: %s", strerror(rc));
	b->failure_threshold = failure_threshold;
	b->cooldown_ns = cooldown_ns;
	b->failures = 0;
	b->state = COG_BREAKER_CLOSED;
	b->opened_ns = 0;
	b->probe_in_flight = false;
	return COG_OK;
}

void cog_breaker_dispose(cog_breaker *b)
{
	if (b)
		must(pthread_mutex_destroy(&b->lock), "pthread_mutex_destroy");
}

/* Has a cool-down that began at `since` run out at now_ns? Callers read the
 * clock before taking the lock, so now_ns may be slightly older than since:
 * that counts as no time passed. */
static bool cooled_down(const cog_breaker *b, uint64_t since, uint64_t now_ns)
{
	return now_ns >= since && now_ns - since >= b->cooldown_ns;
}

/* Move an open breaker to half-open once its cool-down is over. */
static void advance(cog_breaker *b, uint64_t now_ns)
{
	if (b->state == COG_BREAKER_OPEN && cooled_down(b, b->opened_ns, now_ns)) {
		b->state = COG_BREAKER_HALF_OPEN;
		b->probe_in_flight = false;
	}
}

static void trip(cog_breaker *b, uint64_t now_ns)
{
	b->state = COG_BREAKER_OPEN;
	b->opened_ns = now_ns;
	b->probe_in_flight = false;
	b->failures = 0;
}

int cog_breaker_allow(cog_breaker *b, uint64_t now_ns)
{
	COG_CHECK_ARG(b != NULL, "cog_breaker_allow", "b is NULL");

	breaker_lock(b);
	advance(b, now_ns);
	bool allowed = false;
	switch (b->state) {
	case COG_BREAKER_CLOSED:
		allowed = true;
		break;
	case COG_BREAKER_OPEN:
		break;
	case COG_BREAKER_HALF_OPEN:
		/* While half-open, opened_ns records when the probe left. */
		if (!b->probe_in_flight || cooled_down(b, b->opened_ns, now_ns)) {
			b->probe_in_flight = true;
			b->opened_ns = now_ns;
			allowed = true;
		}
		break;
	}
	cog_breaker_state state = b->state;
	breaker_unlock(b);

	if (allowed)
		return COG_OK;
	return cog__error(COG_EUNAVAILABLE, "circuit breaker %s",
		state == COG_BREAKER_OPEN ? "open" : "half-open, probe in flight");
}

void cog_breaker_success(cog_breaker *b)
{
	if (!b)
		return;
	breaker_lock(b);
	switch (b->state) {
	case COG_BREAKER_CLOSED:
		b->failures = 0;
		break;
	case COG_BREAKER_OPEN:
		break;   /* stale */
	case COG_BREAKER_HALF_OPEN:
		if (b->probe_in_flight) {
			b->state = COG_BREAKER_CLOSED;
			b->failures = 0;
			b->probe_in_flight = false;
		}
		break;
	}
	breaker_unlock(b);
}

void cog_breaker_failure(cog_breaker *b, uint64_t now_ns)
{
	if (!b)
		return;
	breaker_lock(b);
	advance(b, now_ns);
	switch (b->state) {
	case COG_BREAKER_CLOSED:
		if (++b->failures >= b->failure_threshold)
			trip(b, now_ns);
		break;
	case COG_BREAKER_OPEN:
		break;   /* stale */
	case COG_BREAKER_HALF_OPEN:
		if (b->probe_in_flight)
			trip(b, now_ns);
		break;
	}
	breaker_unlock(b);
}

cog_breaker_state cog_breaker_state_at(cog_breaker *b, uint64_t now_ns)
{
	breaker_lock(b);
	advance(b, now_ns);
	cog_breaker_state state = b->state;
	breaker_unlock(b);
	return state;
}
