/*
 * Helpers shared by the sandbox integration tests.
 */
#ifndef COG_SANDBOX_TEST_H
#define COG_SANDBOX_TEST_H

#include <stddef.h>
#include <stdint.h>

#include <check.h>

#include <cognition.h>

/* A fresh host directory under /tmp (removed by sbt_rmtree). */
char *sbt_mkdtemp(void);
/* Remove a directory tree (no-op for NULL); frees path. */
void sbt_rmtree(char *path);
/* Write text to dir/name on the host. */
void sbt_write_file(const char *dir, const char *name, const char *text);
/* Whether dir/name exists on the host (lstat). */
int sbt_exists(const char *dir, const char *name);

/* Options for /bin/sh -c script (timeout 20 s unless changed). */
void sbt_sh_options(cog_sandbox_options *o, const char *script);
/* Run and assert the call itself succeeded. */
void sbt_run_ok(const cog_sandbox_options *o, cog_sandbox_result *r);

uint64_t sbt_now_ms(void);
/* Fail loudly when /usr/bin/python3 is missing (.ci/deps installs it). */
void sbt_require_python3(void);

/* One test case per escape or behaviour, each its own TCase (so one that
 * hangs times out alone, after 120 s). */
typedef struct sbt_case { const char *name; const TTest *test; } sbt_case;
/* Run the cases as suite `name`; the process's exit status. */
int sbt_run_suite(const char *name, const sbt_case *cases, size_t count);

#endif
