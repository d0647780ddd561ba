/*
 * A temporary directory for a test, and paths in it (test_tmp.c). One at a
 * time: Check forks every test, so each has its own.
 */
#ifndef TEST_TMP_H
#define TEST_TMP_H

/* Make "$TMPDIR/<prefix>XXXXXX" (TMPDIR defaults to /tmp), or fail the
 * test; returns its path. */
const char *tmp_dir_make(const char *prefix);
/* Remove it with everything in it; nothing when there is none. */
void tmp_dir_remove(void);
/* A path in it (static buffer: copy it if kept). */
const char *tmp_file(const char *name);

#endif
