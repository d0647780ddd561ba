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

#endif
