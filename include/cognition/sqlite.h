/*
 * libcognition-sqlite: the default storage, over SQLite.
 *
 * Link with `pkg-config --libs libcognition-sqlite`. One database file holds
 * everything; it runs in WAL mode with a busy timeout, and its schema is
 * migrated on open (PRAGMA user_version). Several processes may open the same
 * file.
 */
#ifndef COGNITION_SQLITE_H
#define COGNITION_SQLITE_H

#include "ctx.h"
#include "storage.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How hard commits are pushed to disk (SQLite's PRAGMA synchronous). */
typedef enum cog_sqlite_durability {
	COG_SQLITE_DURABLE_FULL = 0,   /* a committed transaction survives power loss */
	COG_SQLITE_DURABLE_NORMAL = 1  /* survives a crash of the process; faster */
} cog_sqlite_durability;

typedef struct cog_sqlite_options {
	unsigned int version;
	int durability;               /* cog_sqlite_durability; default FULL */
	unsigned int busy_timeout_ms; /* wait for other writers; 0: 5000 */
	int read_only;                /* non-zero: open existing file read-only */
	int create;                   /* non-zero (default): create if missing */
} cog_sqlite_options;

#define COG_SQLITE_OPTIONS_VERSION 1
#define COG_SQLITE_OPTIONS_INIT { COG_SQLITE_OPTIONS_VERSION, \
	COG_SQLITE_DURABLE_FULL, 0, 0, 1 }

/* Set `options` to the defaults of `version`. COG_EVERSION if unknown. */
COG_API int cog_sqlite_options_init(cog_sqlite_options *options, unsigned int version);

/* Latest schema version this library migrates to. */
#define COG_SQLITE_SCHEMA_VERSION 2

/*
 * Open (and create, migrate) the database at `path` (":memory:" for a
 * private in-memory database). options may be NULL.
 * Errors: COG_EINVAL (NULL path, bad options), COG_EVERSION, COG_EIO (cannot
 * open, not a database, newer schema than this library knows), COG_EDENIED
 * (permission), COG_EBUSY (locked past the busy timeout).
 */
COG_API int cog_sqlite_storage_open(cog_storage **out, const char *path,
                                    const cog_sqlite_options *options);

/* Flags of cog_sqlite_define_sql_tool(). */
#define COG_SQLITE_TOOL_WRITABLE 0x1u  /* allow statements that write */

/*
 * Define the tool "sql_query" in ctx's tool registry (cognition/tool.h): one
 * SQL statement on an SQLite database file in the call's workspace.
 *   arguments: {"database":"data/app.db","sql":"SELECT * FROM t WHERE id=?1",
 *               "params":[7],"max_rows":1000}
 *   result:    {"columns":["id","name"],"rows":[[7,"x"]],"truncated":false,
 *               "changes":0}
 * params are null, booleans, numbers, strings or {"base64":"..."} for blobs;
 * blobs (and text that is not UTF-8) come back the same way, integers
 * beyond 2^53 as decimal strings. At most max_rows rows (default 1000, at
 * most 10000) and about 1 MiB are returned ("truncated" says some were
 * left out).
 * Read-only unless `flags` has COG_SQLITE_TOOL_WRITABLE: the file is opened
 * read-only with PRAGMA query_only, and a statement that would write is
 * refused (COG_EDENIED) before it runs; a writable tool creates a missing
 * file. Either way: exactly one statement per call (COG_EINVAL otherwise);
 * no ATTACH or DETACH, no extensions, only PRAGMAs that read; the database
 * path is relative to the workspace, and "..", absolute paths and symlinks
 * that lead out are refused (COG_EDENIED), without a window for a
 * concurrent program to swap a directory of the path. Calls without a
 * workspace are denied. Needs Linux with /proc mounted.
 * Each call opens its own connection, so calls may run in parallel; the
 * statement stops at the call's time limit (COG_ETIMEOUT) or on
 * cog_ctx_cancel() (COG_ECANCELED).
 * Errors: COG_EINVAL (ctx NULL, unknown flags), COG_EEXISTS (a tool named
 * sql_query exists), COG_ENOMEM, and the other errors of cog_tool_define().
 * Threads: as cog_tool_define().
 */
COG_API int cog_sqlite_define_sql_tool(cog_ctx *ctx, unsigned int flags);

#ifdef __cplusplus
}
#endif

#endif /* COGNITION_SQLITE_H */
