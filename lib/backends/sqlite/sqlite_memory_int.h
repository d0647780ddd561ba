/*
 * Private interface between the sqlite_memory*.c files: memory records
 * (storage vtable version 2) over the `memories` table and its FTS5 index
 * `memories_fts` (schema version 2, sqlite_schema.c).
 *
 *   sqlite_memory.c        put (insert, replace), purge; atomic sections
 *   sqlite_memory_query.c  query and delete; rows to records
 *   sqlite_memory_rank.c   cog_bm25(), the keyword score
 *   sqlite_memory_sql.c    the SQL of a query or delete, with its parameters
 *   sqlite_memory_words.c  the MATCH expression: namespace tags, and the
 *                          user's words as a safe FTS5 expression
 *   sqlite_memory_cache.c  prepared statements by SQL text, scratch memory
 */
#ifndef COG_SQLITE_MEMORY_INT_H
#define COG_SQLITE_MEMORY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sqlite_int.h"

/* The columns every query returns, in this order (score follows when the
 * query matches text). The embedding column is NULL unless asked for. */
enum {
	MEMCOL_ID, MEMCOL_NS, MEMCOL_LAYER, MEMCOL_TEXT, MEMCOL_METADATA,
	MEMCOL_IMPORTANCE, MEMCOL_CREATED, MEMCOL_UPDATED, MEMCOL_EXPIRES,
	MEMCOL_MODEL, MEMCOL_DIM, MEMCOL_EMBEDDING, MEMCOL_SCORE
};

/* Longest word of match text kept (bytes), as cog_text_words in the core. */
#define SQLMEM_WORD_MAX 64
/* Up to this many namespaces are also matched inside the FTS index (one
 * token per namespace); more are checked on the joined rows only. */
#define SQLMEM_FTS_NS_MAX 8

typedef enum sqlmem_param_kind { SQLMEM_TEXT, SQLMEM_INT } sqlmem_param_kind;

/* Parameter ?N of the SQL is params[N - 1] (a value used twice is bound
 * once). */
typedef struct sqlmem_param {
	sqlmem_param_kind kind;
	const char *text;    /* SQLMEM_TEXT: not NUL-terminated necessarily */
	size_t len;
	int64_t value;       /* SQLMEM_INT */
	char *owned;         /* freed with the query (cog_free), or NULL */
} sqlmem_param;

/* A statement being built: its text and parameters. */
typedef struct sqlmem_stmt {
	sqlite3_str *sql;
	sqlmem_param *params;
	size_t count, cap;
	bool nothing;        /* provably matches no record: skip running it */
	bool oom;
} sqlmem_stmt;

/* ---- sqlite_memory.c ---- */

/*
 * A change to rows and to the FTS index must happen together. Outside the
 * caller's transaction it gets one of its own (SQLMEM_OWN). Inside it,
 * deletes take a savepoint (SQLMEM_SAVEPOINT); puts do not, since a
 * savepoint makes FTS5 write out its pending data (SQLMEM_CALLER): when
 * a put fails after it touched anything, the caller's transaction is
 * rolled back, as SQLite itself does after I/O errors (sqlstore_check_txn
 * then refuses further writes until the caller rolls back).
 */
typedef enum sqlmem_section {
	SQLMEM_OWN, SQLMEM_SAVEPOINT, SQLMEM_CALLER
} sqlmem_section;

int sqlmem_begin(sqlstore *s, bool savepoint, sqlmem_section *section,
                 const char *what);
/* Commit or release on rc == COG_OK, else undo (keeping rc's message, and
 * undoing the caller's transaction if `touched` in SQLMEM_CALLER). */
int sqlmem_end(sqlstore *s, sqlmem_section section, int rc, bool touched);

/* ---- sqlite_memory_query.c ---- */

bool sqlmem_little_endian(void);
/* Copy n floats between host order and little-endian (the stored order);
 * dst and src must not overlap. */
void sqlmem_floats_le(void *dst, const void *src, size_t n);

/* ---- sqlite_memory_sql.c ---- */

/* The SELECT for q (match or not). COG_EINVAL for a filter this backend
 * cannot express (the message says why), COG_ENOMEM. */
int sqlmem_build_select(sqlmem_stmt *b, const cog_storage_memory_query *q);
/* The two statements of a delete for q (q->match is ignored): the FTS5
 * 'delete' of the rows, then the rows. */
int sqlmem_build_delete(sqlmem_stmt *fts, sqlmem_stmt *rows,
                        const cog_storage_memory_query *q);
/* Bind b's parameters to st (prepared from b's SQL). An SQLite code. */
int sqlmem_bind(sqlite3_stmt *st, const sqlmem_stmt *b);
void sqlmem_stmt_dispose(sqlmem_stmt *b);

/* ---- sqlite_memory_words.c ---- */

/*
 * Append to out the FTS5 expression matching any word of text[0..len)
 * (words as cog_text_words: runs of ASCII letters and digits and of other
 * UTF-8 characters, cut at SQLMEM_WORD_MAX bytes), each a quoted FTS5
 * string: ("w1" OR "w2"). *words gets the number of distinct words; with
 * none nothing is appended. COG_ENOMEM.
 */
int sqlmem_match_words(sqlite3_str *out, const char *text, size_t len,
                       size_t *words);
/*
 * Append to out the MATCH expression of q's keyword search: the tokens of
 * q's namespaces in the ns_tag column (hex of the namespace, one token
 * each; *tags gets their count, 0 past SQLMEM_FTS_NS_MAX namespaces) AND
 * sqlmem_match_words of q->match, confined to the text column. *words as
 * there: with none the query matches nothing. COG_ENOMEM.
 */
int sqlmem_match_expression(sqlite3_str *out, const cog_storage_memory_query *q,
                            size_t *tags, size_t *words);

/* ---- sqlite_memory_cache.c ---- */

/* A statement for `sql`, prepared once and kept; reset it after use and do
 * not finalize it. Errors carry SQLite's message. */
int sqlmem_prepare(sqlstore *s, const char *sql, sqlite3_stmt **st);
/* Room for n floats, kept for the next call. NULL when out of memory. */
float *sqlmem_scratch(sqlstore *s, size_t n);

#endif /* COG_SQLITE_MEMORY_INT_H */
