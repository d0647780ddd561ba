/* What the files of bench_agent share (bench_agent.c has the description). */
#ifndef BENCH_AGENT_H
#define BENCH_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include <cognition.h>

double now_s(void);                     /* CLOCK_MONOTONIC */
double cpu_s(void);                     /* getrusage(RUSAGE_SELF): user + system */
uint64_t thread_cpu_ns(void);           /* CLOCK_THREAD_CPUTIME_ID */
double median(double *values, unsigned int n);
void die(const char *what);             /* prints cog_error_last(), exits */
void fail(const char *fmt, ...);        /* prints the message, exits */

/* A fresh directory under $TMPDIR (or /tmp) for SQLite files, removed with
 * everything in it by bench_tmp_remove(). */
const char *bench_tmp_dir(void);
void bench_tmp_remove(void);

/* A context whose storage is the SQLite file `name` in bench_tmp_dir()
 * with `durability` (cog_sqlite_durability), or none (name NULL); warnings
 * only, no events. */
cog_ctx *bench_ctx(const char *name, int durability, unsigned int worker_threads);

int bench_turn(double scale);           /* bench_agent_turn.c */
/* One loop alone, for a profiler (the agent journaled on SQLite or not). */
int bench_turn_only(bool agent, bool journaled, double scale);
int bench_load(double scale);           /* bench_agent_load.c */

#endif
