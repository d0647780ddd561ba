/*
 * Private interface between the sqlite_memory*.c files: memory records
 * (storage vtable version 2) over the `memories` table and its FTS5 index
 * `memories_fts` (schema version 2, sqlite_schema.c).
 *
 *   sqlite_memory.c        put (insert, replace), purge; atomic sections
 *   sqlite_memory_query.c  query and delete; rows to records
 *   sqlite_memory_rank.c   cog_bm25(), the keyword score; cog_fts_len()
 *   sqlite_memory_stats.c  the statistics BM25 takes: per namespace record
 *                          and token counts (table memory_ns_stats, kept
 *                          in step by puts, deletes and purges), and the
 *                          words' document frequencies, per query
 *   sqlite_memory_sql.c    the SQL of a query or delete, with its parameters
 *   sqlite_memory_filter.c the metadata filter as WHERE terms
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
/* At most this many distinct words of a match text are searched for: the
 * first ones in the text (sqlite_memory_words.c). */
#define SQLMEM_QUERY_WORDS_MAX 256
/* The pointer type of cog_bm25's statistics argument. */
#define SQLMEM_RANK_POINTER "cog_bm25_rank"

typedef enum sqlmem_param_kind {
	SQLMEM_TEXT, SQLMEM_INT, SQLMEM_POINTER
} sqlmem_param_kind;

/* Parameter ?N of the SQL is params[N - 1] (a value used twice is bound
 * once). */
typedef struct sqlmem_param {
	sqlmem_param_kind kind;
	const char *text;    /* SQLMEM_TEXT: not NUL-terminated necessarily */
	size_t len;
	int64_t value;       /* SQLMEM_INT */
	void *pointer;       /* SQLMEM_POINTER (SQLMEM_RANK_POINTER) */
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

/* A word of a match text (sqlite_memory_words.c). */
typedef struct sqlmem_word {
	const char *text;    /* lower-cased (ASCII), not NUL-terminated */
	size_t len;
	bool cut;            /* longer than SQLMEM_WORD_MAX: a prefix */
	size_t at;           /* its place in the text */
} sqlmem_word;

typedef struct sqlmem_words {
	sqlmem_word *items;
	size_t count, cap;
	char *copy;          /* the words point into it */
} sqlmem_words;

/*
 * What cog_bm25 scores a keyword search with: the words that some record
 * of the query's namespaces holds (the phrases after the namespace tags,
 * in this order) and their idf, with the named namespaces' statistics
 * (sqlite_memory_stats.c); bound to the SELECT as a pointer.
 */
typedef struct sqlmem_rank {
	sqlmem_words words;
	double avg_len;      /* tokens per record; 0: none */
	double *idf;         /* per word */
	int *tf;             /* per word: scratch of cog_bm25 for one row */
	int *seen;           /* the words met in that row */
} sqlmem_rank;

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

/* ---- sqlite_memory_stats.c ---- */

/* After a row's FTS5 insert (sign 1, records 1 for a new row, 0 for a
 * replaced text) or before its FTS5 delete (sign -1, records 0): add its
 * record and tokens to its namespace's statistics. */
int sqlmem_stats_row(sqlstore *s, const char *ns, int64_t id, int records,
                     int sign);
/* Before purge's FTS5 delete: take the expired rows out of the
 * statistics. */
int sqlmem_stats_purge(sqlstore *s, int64_t now);
/* The rank of q's keyword search: *rank NULL when no record of q's
 * namespaces holds any of its words (the query finds nothing). */
int sqlmem_rank_new(sqlstore *s, const cog_storage_memory_query *q,
                    sqlmem_rank **rank);
void sqlmem_rank_free(sqlmem_rank *rank);

/* ---- sqlite_memory_sql.c ---- */

/* The SELECT for q; `rank` with q->match (NULL: nothing matches). COG_EINVAL
 * for a filter this backend cannot express (the message says why),
 * COG_ENOMEM. */
int sqlmem_build_select(sqlmem_stmt *b, const cog_storage_memory_query *q,
                        sqlmem_rank *rank);
/* The three statements of a delete for q (q->match is ignored): the
 * statistics' update, the FTS5 'delete' of the rows, then the rows. */
int sqlmem_build_delete(sqlmem_stmt *stats, sqlmem_stmt *fts,
                        sqlmem_stmt *rows, const cog_storage_memory_query *q);
/* Bind b's parameters to st (prepared from b's SQL). An SQLite code. */
int sqlmem_bind(sqlite3_stmt *st, const sqlmem_stmt *b);
void sqlmem_stmt_dispose(sqlmem_stmt *b);
/* Add a parameter and write its placeholder ?N. */
void sqlmem_add_param(sqlmem_stmt *b, sqlmem_param p);
/* Write placeholder ?N of parameter `index` (from 0). */
void sqlmem_placeholder(sqlmem_stmt *b, size_t index);
/* Take the finished text of str as an owned text parameter. */
void sqlmem_str_param(sqlmem_stmt *b, sqlite3_str *str);

/* ---- sqlite_memory_filter.c ---- */

/* q's metadata filter as WHERE terms over alias m, each " AND ...". */
int sqlmem_metadata_filter(sqlmem_stmt *b, const char *filter);

/* ---- sqlite_memory_words.c ---- */

/*
 * The distinct words of text[0..len) (as cog_text_words: runs of ASCII
 * letters and digits and of other UTF-8 characters, cut at SQLMEM_WORD_MAX
 * bytes), at most SQLMEM_QUERY_WORDS_MAX: the first distinct ones in the
 * text. In byte order. Dispose of l even on failure. COG_ENOMEM.
 */
int sqlmem_words_split(sqlmem_words *l, const char *text, size_t len);
void sqlmem_words_dispose(sqlmem_words *l);
/* w as a quoted FTS5 string ("w", '"' doubled; "w" * when cut). */
void sqlmem_append_word(sqlite3_str *out, const sqlmem_word *w);
/* ns_tag : ("<hex of ns 1>" OR ...): the tokens of q's namespaces. */
void sqlmem_append_tags(sqlite3_str *out, const cog_storage_memory_query *q);

/* ---- sqlite_memory_cache.c ---- */

/* A statement for `sql`, prepared once and kept; reset it after use and do
 * not finalize it. Errors carry SQLite's message. */
int sqlmem_prepare(sqlstore *s, const char *sql, sqlite3_stmt **st);
/* Room for n floats, kept for the next call. NULL when out of memory. */
float *sqlmem_scratch(sqlstore *s, size_t n);

#endif /* COG_SQLITE_MEMORY_INT_H */
