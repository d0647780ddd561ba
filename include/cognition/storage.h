/*
 * libcognition: storage.
 *
 * A storage backend keeps two kinds of data:
 *  - documents: JSON text under a key in a named collection, optionally
 *    expiring at a wall-clock time;
 *  - logs: named append-only sequences of JSON records, numbered from 1.
 * and offers transactions over both.
 *
 * Backends are plugged in through cog_storage_vtable. libcognition ships an
 * in-memory backend (cog_storage_memory_new, in the core library) and a
 * SQLite backend (cognition/sqlite.h, libcognition-sqlite). The wrapper
 * functions below validate every argument before a backend sees it, so a
 * backend may assume well-formed input.
 *
 * Threads: a cog_storage may be shared between threads. Calls are serialised
 * by the wrapper. A transaction belongs to the thread that began it: other
 * threads' calls wait until it commits or rolls back (so a thread must never
 * exit with a transaction open).
 */
#ifndef COGNITION_STORAGE_H
#define COGNITION_STORAGE_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cog_storage cog_storage;

/* Limits checked by the wrapper (bytes). */
#define COG_STORAGE_NAME_MAX  128u              /* collection and log names */
#define COG_STORAGE_KEY_MAX   1024u             /* document keys */
#define COG_STORAGE_VALUE_MAX (64u * 1024 * 1024) /* documents and records */
/* A keyword search uses the first this many distinct words of its text (in
 * text order; the wrapper drops the rest before a backend sees it). */
#define COG_STORAGE_MATCH_WORDS 256u

/* Return this from a scan or read callback to stop early with success. */
#define COG_STORAGE_STOP 1

/*
 * Called once per document by a scan, in ascending byte order of key.
 * `value` is NUL-terminated JSON text of `value_len` bytes; both pointers are
 * valid only during the call. `expires_at` is Unix milliseconds or 0.
 * Return 0 to continue, COG_STORAGE_STOP (or any positive value) to stop,
 * or a negative status to abort the scan with that status (set a message
 * with cog_error_set(), or the scan records a generic one). The callback must not call into the same
 * storage (COG_EBUSY).
 */
typedef int (*cog_storage_doc_fn)(const char *key, const char *value,
                                  size_t value_len, int64_t expires_at,
                                  void *user_data);

/* Called once per log record by a read, in ascending sequence order. Same
 * rules as cog_storage_doc_fn. */
typedef int (*cog_storage_record_fn)(uint64_t seq, const char *record,
                                     size_t record_len, void *user_data);

/*
 * Memory records (storage vtable version 2), the rows behind cog_memory
 * (cognition/memory.h). A record lives in exactly one namespace; every query
 * names the namespaces it may see, and a backend must apply that inside its
 * own query (an index, a WHERE clause), never by filtering what it read.
 * Times are Unix milliseconds.
 */
typedef struct cog_storage_memory_record {
	uint64_t id;                 /* >= 1; 0 on put: assign one */
	const char *ns;              /* namespace, e.g. "acme/alice/helper/s1" */
	unsigned int layer;          /* one COG_MEMORY_* layer bit (memory.h) */
	const char *text;            /* UTF-8, NUL-terminated */
	size_t text_len;
	const char *metadata;        /* a JSON object, NUL-terminated ("{}" if none) */
	size_t metadata_len;
	double importance;           /* 0..1 */
	int64_t created_at;
	int64_t updated_at;
	int64_t expires_at;          /* 0: never */
	const char *embed_model;     /* the embedder that made `embedding` ("" none) */
	const float *embedding;      /* dim floats, or NULL */
	uint32_t dim;
} cog_storage_memory_record;

/*
 * Which records a query or delete sees: all conditions hold at once.
 * Records expired at `now` are never visited (nor deleted: purge does that).
 */
typedef struct cog_storage_memory_query {
	const char *const *ns;       /* namespaces a record may be in (exact match) */
	size_t ns_count;             /* >= 1 */
	unsigned int layers;         /* mask of layer bits; 0: every layer */
	int64_t now;
	int64_t since;               /* created_at >= since (0: no bound) */
	int64_t until;               /* created_at < until (0: no bound) */
	/* NULL, or a JSON object of metadata members that must be equal:
	 * {"topic":"billing","pinned":true}; values are strings, numbers,
	 * booleans or null (null also matches an absent member). */
	const char *filter;
	const uint64_t *ids;         /* NULL, or only these ids (id_count >= 1, ids >= 1) */
	size_t id_count;
	uint64_t after_id;           /* id > after_id (0: no bound) */
	/* Keyword search: NULL, or the user's text. The backend splits it into
	 * words (letters and digits; ASCII case-insensitive at least: a
	 * backend may also fold other cases and accents and split on Unicode
	 * punctuation, as SQLite's unicode61 does) and matches records
	 * containing any of them, best first by BM25 (k1 1.2, b 0.75, with the
	 * statistics (record count, average length, document frequencies) of
	 * the named namespaces only, expired records not yet purged included),
	 * ties by ascending id; fn's score is the BM25 score (higher is better).
	 * Characters with meaning in the backend's own query language are never
	 * interpreted. Text with no word matches nothing. Without `match`
	 * records come in ascending id order and the score is 0. */
	const char *match;
	size_t limit;                /* at most this many (0: no limit) */
	int with_embedding;          /* non-zero: fill embedding/dim (else NULL/0) */
} cog_storage_memory_query;

/* Called per record by a memory query; the record and its strings are valid
 * only during the call. Same return rules as cog_storage_doc_fn. */
typedef int (*cog_storage_memory_fn)(const cog_storage_memory_record *rec,
                                     double score, void *user_data);

/*
 * The backend interface. Every member function receives `self` first.
 * Names, keys and values reach the backend validated: names and keys are
 * non-empty NUL-terminated UTF-8 within the limits above, values are
 * NUL-terminated JSON text. Strings returned to the core (get) are allocated
 * with cog_malloc(). On failure a member returns a negative cog_status and
 * should set a message with cog_error_set().
 *
 * Required members: put, get, del, scan, append, read, begin, commit,
 * rollback. Optional members may be NULL.
 *
 * Version 1 is the set up to describe; version 2 (COG_STORAGE_VTABLE_VERSION
 * 2) appends the memory-record members. Later versions only append members;
 * the core treats members past a backend's version as NULL, so a version 1
 * backend keeps working unchanged.
 */
typedef struct cog_storage_vtable {
	unsigned int version;
	void *self;

	/* Optional: release the backend; called once by cog_storage_free(). */
	void (*close)(void *self);

	/* Insert or replace. expires_at: Unix ms after which the document is
	 * gone, or 0 for never. */
	int (*put)(void *self, const char *collection, const char *key,
	           const char *value, size_t value_len, int64_t expires_at);
	/* COG_ENOTFOUND when absent or expired at `now` (Unix ms). */
	int (*get)(void *self, const char *collection, const char *key,
	           int64_t now, char **value, size_t *value_len);
	/* COG_ENOTFOUND when absent. */
	int (*del)(void *self, const char *collection, const char *key);
	/* Documents whose key starts with prefix ("" for all), unexpired at now. */
	int (*scan)(void *self, const char *collection, const char *prefix,
	            int64_t now, cog_storage_doc_fn fn, void *user_data);

	/* Append a record; *seq receives its sequence number (1, 2, ...; never
	 * reused, even after truncation). */
	int (*append)(void *self, const char *log, const char *record,
	              size_t record_len, uint64_t *seq);
	/* Records with seq >= from_seq, at most `limit` of them (0: no limit). */
	int (*read)(void *self, const char *log, uint64_t from_seq, size_t limit,
	            cog_storage_record_fn fn, void *user_data);

	int (*begin)(void *self);
	int (*commit)(void *self);
	int (*rollback)(void *self);

	/* Optional: delete documents (and, for a version 2 backend with
	 * memory members, memory records) expired at now; *purged gets the
	 * count. */
	int (*purge_expired)(void *self, int64_t now, size_t *purged);
	/* Optional: drop records with seq < before_seq (compaction). */
	int (*truncate)(void *self, const char *log, uint64_t before_seq);
	/* Optional: a JSON object describing the backend ({"backend": ...}). */
	int (*describe)(void *self, char **json);

	/* ---- version 2: memory records (cognition/memory.h). Optional as a
	 * group: a backend sets all three or none (cog_storage_new refuses a
	 * partial set: records put natively must be found natively). With
	 * none, the core keeps memory records as documents of the collection
	 * "cog.memory" and searches them itself (correct, but every search
	 * reads the namespace). ---- */

	/* Insert (rec->id == 0: the backend assigns a new id, >= 1 and below
	 * 2^53, never reused once committed (an id handed out in a transaction
	 * that rolled back may come again), and writes it back to rec->id) or
	 * replace the record with rec->id, which must exist in the same
	 * namespace (an expired record not yet purged counts; COG_ENOTFOUND
	 * otherwise). */
	int (*mem_put)(void *self, cog_storage_memory_record *rec);
	/* Visit the records that match q (see cog_storage_memory_query for the
	 * order and the score passed to fn). */
	int (*mem_query)(void *self, const cog_storage_memory_query *q,
	                 cog_storage_memory_fn fn, void *user_data);
	/* Delete the records that match q (q->match is NULL here; a limit
	 * deletes the lowest ids first); *deleted gets the count. */
	int (*mem_delete)(void *self, const cog_storage_memory_query *q,
	                  size_t *deleted);
} cog_storage_vtable;

#define COG_STORAGE_VTABLE_VERSION 2
#define COG_STORAGE_VTABLE_INIT { COG_STORAGE_VTABLE_VERSION, NULL, NULL, \
	NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, \
	NULL, NULL, NULL }

/* Zero `vtable` and set its version. COG_EVERSION for an unknown version. */
COG_API int cog_storage_vtable_init(cog_storage_vtable *vtable,
                                    unsigned int version);

/*
 * Wrap a backend. The vtable is copied; `vtable->self` is owned by the
 * library from now on: its close() runs in cog_storage_free(), or here if
 * this call fails (on every failure except a NULL `out` or `vtable`).
 * Errors: COG_EINVAL (NULL or a required member missing), COG_EVERSION.
 */
COG_API int cog_storage_new(cog_storage **out, const cog_storage_vtable *vtable);

/* The in-memory backend: fast, not durable, for tests and throwaway runs. */
COG_API int cog_storage_memory_new(cog_storage **out);

/* Close the backend and free the handle. NULL-safe. Must not be called with
 * a transaction open on another thread. */
COG_API void cog_storage_free(cog_storage *storage);

/*
 * Store JSON text `json` under `key`. expires_at: Unix ms, or 0 for never.
 * Errors: COG_EINVAL (bad name, key or JSON; the message says which and
 * where), COG_ERANGE (over a limit), COG_EDENIED (read-only store),
 * COG_EIO, COG_EBUSY.
 */
COG_API int cog_storage_put(cog_storage *storage, const char *collection,
                            const char *key, const char *json,
                            int64_t expires_at);

/* Read a document; *json receives a NUL-terminated copy to cog_free().
 * Errors: COG_ENOTFOUND (absent or expired), COG_EINVAL, COG_EIO. */
COG_API int cog_storage_get(cog_storage *storage, const char *collection,
                            const char *key, char **json);

/* Delete a document. Errors: COG_ENOTFOUND, COG_EINVAL, COG_EIO. */
COG_API int cog_storage_delete(cog_storage *storage, const char *collection,
                               const char *key);

/* Visit unexpired documents whose key starts with `prefix` (NULL or "": all). */
COG_API int cog_storage_scan(cog_storage *storage, const char *collection,
                             const char *prefix, cog_storage_doc_fn fn,
                             void *user_data);

/* Append JSON text `json` to a log; *seq (may be NULL) gets its number. */
COG_API int cog_storage_append(cog_storage *storage, const char *log,
                               const char *json, uint64_t *seq);

/* Visit records of a log from `from_seq` on (limit 0: all). An unknown log
 * has no records (not an error). Records come back byte for byte as they
 * were appended (the audit log's hash chain relies on it: a backend must
 * not re-serialise the JSON). */
COG_API int cog_storage_read(cog_storage *storage, const char *log,
                             uint64_t from_seq, size_t limit,
                             cog_storage_record_fn fn, void *user_data);

/*
 * Transactions: cog_storage_begin() makes the following calls of this
 * thread atomic until cog_storage_commit() or cog_storage_rollback();
 * nested begin() fails with COG_EBUSY. commit()/rollback() without
 * begin(): COG_EINVAL.
 */
COG_API int cog_storage_begin(cog_storage *storage);
COG_API int cog_storage_commit(cog_storage *storage);
COG_API int cog_storage_rollback(cog_storage *storage);

/* Delete expired documents and memory records now; *purged (may be NULL)
 * gets the count. Backends without purge_expired still hide them. */
COG_API int cog_storage_purge_expired(cog_storage *storage, size_t *purged);

/* Drop log records with seq < before_seq. COG_EINVAL if unsupported. */
COG_API int cog_storage_truncate(cog_storage *storage, const char *log,
                                 uint64_t before_seq);

/* A JSON description of the backend, to cog_free(). */
COG_API int cog_storage_describe(cog_storage *storage, char **json);

/*
 * Memory records (usually reached through cognition/memory.h). Each checks
 * its arguments (namespaces as in cog_memory_open, a known layer, UTF-8 text,
 * a JSON object as metadata, an embedding of 1..65536 finite floats, a filter
 * of scalar members) and calls the backend's member, or the core's own
 * implementation over documents when the backend has none.
 * cog_storage_memory_put: rec->id 0 inserts and sets rec->id; otherwise
 * replaces (COG_ENOTFOUND when no such record is in rec->ns).
 * cog_storage_memory_find: `q->now` 0 means the current time.
 * cog_storage_memory_delete: *deleted (may be NULL) gets the count; a query
 * with neither ids, a non-empty filter, layers (other than all four) nor a
 * time bound is refused (COG_EINVAL): say ids or a filter to delete.
 * Errors: COG_EINVAL (the message names the argument), COG_ERANGE, COG_EIO.
 */
COG_API int cog_storage_memory_put(cog_storage *storage,
                                   cog_storage_memory_record *rec);
COG_API int cog_storage_memory_find(cog_storage *storage,
                                    const cog_storage_memory_query *q,
                                    cog_storage_memory_fn fn, void *user_data);
COG_API int cog_storage_memory_delete(cog_storage *storage,
                                      const cog_storage_memory_query *q,
                                      size_t *deleted);

#ifdef __cplusplus
}
#endif

#endif /* COGNITION_STORAGE_H */
