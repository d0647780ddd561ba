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

COG_API int cog_sqlite_options_init(cog_sqlite_options *options, unsigned int version);

/* Latest schema version this library migrates to. */
#define COG_SQLITE_SCHEMA_VERSION 1

/*
 * Open (and create, migrate) the database at `path` (":memory:" for a
 * private in-memory database). options may be NULL.
 * Errors: COG_EINVAL (NULL path, bad options), COG_EVERSION, COG_EIO (cannot
 * open, not a database, newer schema than this library knows), COG_EDENIED
 * (permission), COG_EBUSY (locked past the busy timeout).
 */
COG_API int cog_sqlite_storage_open(cog_storage **out, const char *path,
                                    const cog_sqlite_options *options);

#ifdef __cplusplus
}
#endif

#endif /* COGNITION_SQLITE_H */
