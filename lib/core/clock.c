/* Clocks: wall time for records, monotonic time for durations. */
#include <stdio.h>
#include <errno.h>
#include <time.h>

#include "core_int.h"

int64_t cog_clock_realtime_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t cog_clock_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void cog_clock_format_iso8601(int64_t unix_ms, char out[32])
{
	time_t secs = (time_t)(unix_ms / 1000);
	int millis = (int)(unix_ms % 1000);
	struct tm tm;
	if (millis < 0) {
		millis += 1000;
		secs -= 1;
	}
	if (!gmtime_r(&secs, &tm)) {
		snprintf(out, 32, "invalid-time");
		return;
	}
	size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 32 - n, ".%03dZ", millis);
}

void cog_clock_sleep_ms(unsigned int ms)
{
	struct timespec req = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
	while (nanosleep(&req, &req) != 0 && errno == EINTR)
		;
}
