/*
 * list_store: a storage backend written by a host (see list_store.c).
 */
#ifndef LIST_STORE_H
#define LIST_STORE_H

#include <cognition.h>

/* A new, empty list store wrapped in a cog_storage (to cog_storage_free, or
 * give to cog_ctx_set_storage). Errors: COG_ENOMEM. */
int list_store_new(cog_storage **out);

#endif
