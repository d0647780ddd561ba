/*
 * Token bucket. The caller passes the (monotonic) time, which keeps the
 * limiter deterministic under test and lets one clock reading serve several
 * limiters.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_int.h"

#define NS_PER_S 1e9

static void must(int rc, const char *what)
{
	if (rc != 0) {
		fprintf(stderr, "libcognition: ratelimit.c: %s: %s\n", what,
			strerror(rc));
		abort();
	}
}

int cog_ratelimit_init(cog_ratelimit *rl, double rate_per_s, double burst)
{
	COG_CHECK_ARG(rl != NULL, "cog_ratelimit_init", "rl is NULL");
	/* Written as negations so that NaN is rejected too. */
	if (!(rate_per_s > 0) || !isfinite(rate_per_s))
		return cog__error(COG_EINVAL,
			"cog_ratelimit_init: rate must be a finite number > 0, "
			"got %g", rate_per_s);
	if (!(burst >= 1) || !isfinite(burst))
		return cog__error(COG_EINVAL,
			"cog_ratelimit_init: burst must be a finite number >= 1, "
			"got %g", burst);

	int rc = pthread_mutex_init(&rl->lock, NULL);
	if (rc != 0)
		return cog__error(COG_ERROR,
			"cog_ratelimit_init: pthread_mutex_init: %s", strerror(rc));
	rl->rate = rate_per_s;
	rl->burst = burst;
	rl->tokens = burst;
	rl->last_ns = 0;
	return COG_OK;
}

void cog_ratelimit_dispose(cog_ratelimit *rl)
{
	if (rl)
		must(pthread_mutex_destroy(&rl->lock), "pthread_mutex_destroy");
}

/* Tokens held `elapsed_ns` after a moment that held `tokens`. Both the
 * refill and the wait computation use this one expression, so that a caller
 * who comes back after *wait_ns gets exactly what was promised. */
static double tokens_after(const cog_ratelimit *rl, double tokens,
                           uint64_t elapsed_ns)
{
	double t = tokens + (double)elapsed_ns * rl->rate / NS_PER_S;
	return t < rl->burst ? t : rl->burst;
}

/* Threads read the clock before they take the lock, so now_ns may be a
 * little older than last_ns; time never runs backwards for the bucket. */
static void refill(cog_ratelimit *rl, uint64_t now_ns)
{
	if (now_ns > rl->last_ns) {
		rl->tokens = tokens_after(rl, rl->tokens, now_ns - rl->last_ns);
		rl->last_ns = now_ns;
	}
}

/* Nanoseconds until `cost` tokens are there: the exact formula, then nudged
 * until tokens_after() agrees that it is the first nanosecond that suffices,
 * since rounding can leave the formula a hair off either way. */
static uint64_t wait_for(const cog_ratelimit *rl, double cost)
{
	double ns = ceil((cost - rl->tokens) * NS_PER_S / rl->rate);
	if (!(ns < 18446744073709551616.0))   /* 2^64: beyond any horizon */
		return UINT64_MAX;
	uint64_t wait = ns > 0 ? (uint64_t)ns : 0;

	/* Too short: grow in doubling steps, so that even where one
	 * nanosecond is below the precision of a double this ends. */
	uint64_t step = 1;
	for (int i = 0; i < 64 && tokens_after(rl, rl->tokens, wait) < cost; i++) {
		if (wait > UINT64_MAX - step)
			return UINT64_MAX;
		wait += step;
		step *= 2;
	}
	/* Too long by a nanosecond or two: a promise that is late is
	 * harmless, but callers and tests may rely on it being the first. */
	for (int i = 0; i < 4 && wait > 0 &&
	     tokens_after(rl, rl->tokens, wait - 1) >= cost; i++)
		wait--;
	return wait;
}

int cog_ratelimit_take(cog_ratelimit *rl, double cost, uint64_t now_ns,
                       uint64_t *wait_ns)
{
	COG_CHECK_ARG(rl != NULL, "cog_ratelimit_take", "rl is NULL");
	if (!(cost >= 0) || !isfinite(cost))
		return cog__error(COG_EINVAL,
			"cog_ratelimit_take: cost must be a finite number >= 0, "
			"got %g", cost);
	if (cost > rl->burst)   /* burst is fixed after init: no lock needed */
		return cog__error(COG_ERANGE,
			"cog_ratelimit_take: cost %g exceeds the burst of %g and "
			"can never be granted", cost, rl->burst);

	must(pthread_mutex_lock(&rl->lock), "pthread_mutex_lock");
	refill(rl, now_ns);
	bool granted = rl->tokens >= cost;
	uint64_t wait = 0;
	if (granted)
		rl->tokens -= cost;
	else
		wait = wait_for(rl, cost);
	must(pthread_mutex_unlock(&rl->lock), "pthread_mutex_unlock");

	if (wait_ns)
		*wait_ns = wait;
	if (granted)
		return COG_OK;
	return cog__error(COG_EBUSY,
		"cog_ratelimit_take: rate limited, %g tokens available in "
		"%llu ns", cost, (unsigned long long)wait);
}
