/*
 * Private to the storage files of lib/core:
 *   storage.c             the handle, documents, logs, transactions
 *   storage_mem.c         cog_storage_memory_put/find/delete: checks, locking
 *   storage_memfall.c     memory records as documents, for backends without
 *                         the version 2 members
 *   storage_memory.c      the in-memory backend (documents and logs)
 *   storage_memory_mem.c  the in-memory backend's memory records
 */
#ifndef COG_STORAGE_INT_H
#define COG_STORAGE_INT_H

#include "core_int.h"

struct cog_storage {
	cog_storage_vtable vt;
	/* Recursive so that a transaction's owner can keep calling while it
	 * holds the lock from begin() to commit()/rollback(). */
	pthread_mutex_t lock;
	bool in_txn;
	bool in_callback;
	/* The backend has mem_put, mem_query and mem_delete (all three or none:
	 * cog_storage_new refuses a partial set); else storage_memfall.c. */
	bool native_memory;
};

/* Take the storage lock for one call (COG_EBUSY from inside a callback of
 * the same storage); leave() unlocks and returns rc. */
int cog__storage_enter(cog_storage *s, const char *fn);
int cog__storage_leave(cog_storage *s, int rc);

/* ---- the fallback (storage_memfall.c): called with the lock held, the
 * arguments checked. `in_txn`: the caller's transaction is open (the
 * fallback then writes inside it instead of opening its own). ---- */

#define COG_MEMFALL_COLLECTION "cog.memory"
#define COG_MEMFALL_IDS_LOG "cog.memory.ids"
/* "<ns>#<id as 16 hex digits>" and its NUL fit (namespaces: 259 bytes). */
#define COG_MEMFALL_KEY_MAX 320

void cog__memfall_key(char key[COG_MEMFALL_KEY_MAX], const char *ns, uint64_t id);
/* Fill r from a parsed document (strings borrowed from root); with
 * `embedding`, the embedding is decoded into *vec (cog_free). COG_EIO for a
 * document that is not a memory record. */
int cog__memfall_decode(const cJSON *root, const char *key, bool embedding,
                        cog_storage_memory_record *r, float **vec);

int cog__memfall_put(const cog_storage_vtable *vt, bool in_txn,
                     cog_storage_memory_record *rec);
int cog__memfall_query(const cog_storage_vtable *vt, const cog_storage_memory_query *q,
                       cog_storage_memory_fn fn, void *user_data);
int cog__memfall_delete(const cog_storage_vtable *vt, bool in_txn,
                        const cog_storage_memory_query *q, size_t *deleted);

/* ---- the in-memory backend's memory records (storage_memory_mem.c) ---- */

typedef struct cog_memrec_store cog_memrec_store;

/* NULL on OOM (message set). */
cog_memrec_store *cog__memrec_new(void);
void cog__memrec_free(cog_memrec_store *m);
int cog__memrec_put(cog_memrec_store *m, cog_storage_memory_record *rec);
int cog__memrec_query(cog_memrec_store *m, const cog_storage_memory_query *q,
                      cog_storage_memory_fn fn, void *user_data);
int cog__memrec_delete(cog_memrec_store *m, const cog_storage_memory_query *q,
                       size_t *deleted);
/* Delete records expired at now; adds the count to *purged. */
int cog__memrec_purge(cog_memrec_store *m, int64_t now, size_t *purged);
/* Transactions: begin starts an undo log, commit drops it, rollback
 * replays it (never allocating, so it cannot fail). */
void cog__memrec_begin(cog_memrec_store *m);
void cog__memrec_commit(cog_memrec_store *m);
void cog__memrec_rollback(cog_memrec_store *m);
size_t cog__memrec_count(const cog_memrec_store *m);

#endif /* COG_STORAGE_INT_H */
