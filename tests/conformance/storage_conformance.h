/*
 * The storage conformance suite: the same cases run against every storage
 * backend (in-memory, SQLite, and any later one). A backend proves itself by
 * passing all of them.
 */
#ifndef COG_STORAGE_CONFORMANCE_H
#define COG_STORAGE_CONFORMANCE_H

#include <stdbool.h>

#include <check.h>
#include <cognition.h>

typedef struct conformance_backend {
	const char *name;
	/* Open the store under test. Called again after cog_storage_free() by
	 * the persistence cases: a persistent backend must then see the same
	 * data. Runs in the test process (Check forks per test). */
	int (*open)(cog_storage **out, void *state);
	/* Start each test from an empty store (e.g. delete the files). */
	void (*reset)(void *state);
	bool persistent;   /* data survives close + open, and process death */
	void *state;
} conformance_backend;

/* A Check suite named "conformance/<name>" with every case. */
Suite *storage_conformance_suite(const conformance_backend *backend);

/* For the case files: the store under test (opened by the fixture before
 * each case), its backend, and a close + open of the same store. */
cog_storage *conformance_storage(void);
const conformance_backend *conformance_backend_under_test(void);
void conformance_reopen(void);

/* The memory record cases (storage vtable version 2), in
 * storage_conformance_memory.c. */
void storage_conformance_add_memory_cases(TCase *tc, const conformance_backend *backend);

#endif
