/*
 * libcognition: common definitions.
 *
 * Export macro, versions, status codes, thread-local error details, the
 * allocator hook and library-wide initialisation. Every other public header
 * includes this one.
 */
#ifndef COGNITION_COMMON_H
#define COGNITION_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "cognition/version.h"

#if defined(_WIN32) || defined(__CYGWIN__)
#  if defined(COG_BUILDING_LIBRARY)
#    define COG_API __declspec(dllexport)
#  else
#    define COG_API __declspec(dllimport)
#  endif
#elif defined(__GNUC__) && __GNUC__ >= 4
#  define COG_API __attribute__((visibility("default")))
#else
#  define COG_API
#endif

#if defined(__GNUC__)
#  define COG_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#  define COG_PRINTF(fmt, args)
#endif

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Status codes. Every function that can fail returns `int`: 0 on success or
 * one of these negative values. The numbers are part of the ABI and never
 * change; new codes are only appended.
 */
typedef enum cog_status {
	COG_OK = 0,
	COG_ERROR = -1,        /* generic failure; cog_error_last() says what */
	COG_EINVAL = -2,       /* invalid argument, option or input */
	COG_ENOMEM = -3,       /* out of memory */
	COG_EIO = -4,          /* I/O or backend failure */
	COG_ETIMEOUT = -5,     /* a time limit was reached */
	COG_ECANCELED = -6,    /* canceled by the host */
	COG_ENOTFOUND = -7,    /* no such object */
	COG_EDENIED = -8,      /* not permitted */
	COG_EBUDGET = -9,      /* a budget would be exceeded */
	COG_ECYCLE = -10,      /* dependency cycle */
	COG_EPROTO = -11,      /* peer spoke the protocol wrongly */
	COG_ESCHEMA = -12,     /* data does not match its schema */
	COG_EUNAVAILABLE = -13,/* peer or service unreachable */
	COG_EUSER = -14,       /* a host callback failed */
	COG_EVERSION = -15,    /* unknown options or vtable version */
	COG_EEXISTS = -16,     /* object already exists */
	COG_EBUSY = -17,       /* resource busy or locked */
	COG_ERANGE = -18,      /* value or size out of the allowed range */
	COG_EUNCERTAIN = -19,  /* outcome unknown: a side effect may or may not
	                          have happened; the host must decide */
	COG_EPENDING = -20,    /* waiting for a decision (an approval) */
	COG_EINTEGRITY = -21   /* stored data failed its integrity check */
} cog_status;

/* Static, never-NULL text for a status code ("unknown status" for others). */
COG_API const char *cog_strerror(int code);

/*
 * Detailed message about the last failure on the calling thread: what failed
 * and where. Never NULL; "no error" when nothing has failed yet. The pointer
 * stays valid until the next libcognition call on the same thread.
 */
COG_API const char *cog_error_last(void);

/* Status code that goes with cog_error_last() (COG_OK when none). */
COG_API int cog_error_last_code(void);

/* Forget the calling thread's last error. */
COG_API void cog_error_clear(void);

/*
 * Record an error for the calling thread and return `code`, so that a
 * callback or a backend written by the host can do
 * `return cog_error_set(COG_EIO, "disk full writing %s", path);`.
 * Messages longer than 1023 bytes are truncated.
 */
COG_API int cog_error_set(int code, const char *fmt, ...) COG_PRINTF(2, 3);

/* Version of the library the program runs against, e.g. "0.1.0". */
COG_API const char *cog_version(void);

/* Same, as COG_VERSION_NUMBER: (major << 16) | (minor << 8) | patch. */
COG_API unsigned int cog_version_number(void);

/* Bits of cog_features(): which optional parts were built with the library. */
#define COG_FEATURE_CURL    (1u << 0) /* libcognition-curl transport */
#define COG_FEATURE_SQLITE  (1u << 1) /* libcognition-sqlite storage */
#define COG_FEATURE_THREADS (1u << 2) /* worker threads (always on POSIX) */

/* Which optional parts were built with the library: COG_FEATURE_* bits. */
COG_API unsigned int cog_features(void);

/*
 * Memory: cog_malloc(), cog_realloc() and cog_free(). Everything the
 * library hands to the caller for freeing (strings, buffers) is released
 * with cog_free(). Backends written by the host that return memory to the
 * library (e.g. a storage get) allocate it with cog_malloc() (or
 * cog_realloc()). cog_free(NULL) is a no-op.
 */
COG_API void *cog_malloc(size_t size);
COG_API void *cog_realloc(void *ptr, size_t size);
COG_API void cog_free(void *ptr);

/*
 * The allocator hook. All of libcognition's allocations go through it, and
 * so do cJSON's and, when the backends initialise them first, SQLite's and
 * libcurl's. cJSON's hooks are process-wide: once a custom allocator is set,
 * every cJSON object in the process is allocated through it, so a host that
 * uses cJSON itself must not hold cJSON objects across this call.
 * `free` receives pointers returned by `malloc` or `realloc` of the same
 * allocator. `realloc(NULL, n)` must behave as `malloc(n)`.
 */
typedef struct cog_allocator {
	unsigned int version;
	void *(*malloc)(size_t size, void *user_data);
	void *(*realloc)(void *ptr, size_t size, void *user_data);
	void (*free)(void *ptr, void *user_data);
	void *user_data;
} cog_allocator;

#define COG_ALLOCATOR_VERSION 1
#define COG_ALLOCATOR_INIT { COG_ALLOCATOR_VERSION, NULL, NULL, NULL, NULL }

/*
 * Install an allocator (NULL: the C library's). Only before first use: once
 * the library has allocated anything, this fails with COG_EBUSY. Not thread
 * safe: call it from main() before starting threads.
 * Errors: COG_EVERSION (unknown version), COG_EINVAL (missing member),
 * COG_EBUSY (too late).
 */
COG_API int cog_set_allocator(const cog_allocator *allocator);

/*
 * Reference-counted library initialisation: seeds the random generator and
 * installs the allocator into cJSON. cog_ctx_new() calls it for you; call it
 * yourself to keep the library initialised between contexts. Thread safe.
 * Each successful call is matched by one cog_global_shutdown().
 */
COG_API int cog_global_init(void);
COG_API void cog_global_shutdown(void);

#ifdef __cplusplus
}
#endif

#endif /* COGNITION_COMMON_H */
