/* The storage backend of examples/storage_vtable (list_store.c) against the
 * library's storage conformance suite: what a host's own backend must do
 * for plans, agents, memory and the audit log to work on it. */
#include <stdbool.h>
#include <stdlib.h>

#include "list_store.h"
#include "storage_conformance.h"

static int open_list_store(cog_storage **out, void *state)
{
	(void)state;
	return list_store_new(out);
}

static void reset_nothing(void *state)
{
	(void)state; /* every open starts empty: the store lives in memory */
}

int main(void)
{
	conformance_backend list_store = { "list_store", open_list_store, reset_nothing,
		false, NULL };
	SRunner *sr = srunner_create(storage_conformance_suite(&list_store));
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
