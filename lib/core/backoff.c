/*
 * Full-jitter exponential backoff: sleep a uniformly random time between 0
 * and min(cap, base * 2^attempt). Spreading retries over the whole window
 * keeps clients that failed together from retrying together.
 */
#include <sodium.h>

#include "core_int.h"

/* min(cap_ms, base_ms * 2^attempt) without overflowing: compare against
 * cap shifted down instead of shifting base up. */
static uint64_t backoff_ceiling(unsigned int attempt, uint64_t base_ms,
                                uint64_t cap_ms)
{
	if (base_ms == 0)
		return 0;
	/* From 64 on, base * 2^attempt is past any uint64_t cap anyway
	 * (base >= 1), and shifting by 64 or more is undefined. */
	if (attempt >= 64)
		return cap_ms;
	if (base_ms > (cap_ms >> attempt))
		return cap_ms;
	return base_ms << attempt;
}

/* floor(random * (ceiling + 1) / 2^32): maps the 2^32 random values evenly
 * onto 0..ceiling, in integer arithmetic that cannot overflow. */
static uint64_t scale_random(uint32_t random, uint64_t ceiling)
{
	if (ceiling == UINT64_MAX)
		return (uint64_t)random << 32;
	uint64_t span = ceiling + 1;
	uint64_t hi = span >> 32;
	uint64_t lo = span & 0xffffffffu;
	return hi * random + ((lo * random) >> 32);
}

uint64_t cog_backoff_full_jitter(unsigned int attempt, uint64_t base_ms,
                                 uint64_t cap_ms, uint32_t random)
{
	return scale_random(random, backoff_ceiling(attempt, base_ms, cap_ms));
}

uint64_t cog_backoff_delay_ms(unsigned int attempt, uint64_t base_ms,
                              uint64_t cap_ms)
{
	return cog_backoff_full_jitter(attempt, base_ms, cap_ms,
		randombytes_random());
}
