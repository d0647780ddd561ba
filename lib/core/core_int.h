/*
 * Private interface of lib/core: helpers every module of libcognition may
 * use. Not installed; not part of the ABI. Functions here follow the public
 * conventions: int status returns, cog_error_set() on failure, memory from
 * cog_malloc().
 */
#ifndef COG_CORE_INT_H
#define COG_CORE_INT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>

#include <cjson/cJSON.h>

#include "cognition/common.h"
#include "cognition/storage.h"

#define COG_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- errors (error.c) ---- */

/* Like cog_error_set(), for internal use; returns code. */
int cog__error(int code, const char *fmt, ...) COG_PRINTF(2, 3);
int cog__verror(int code, const char *fmt, va_list ap);
/* Prefix the current thread's message with "what: " and return code. */
int cog__error_wrap(int code, const char *fmt, ...) COG_PRINTF(2, 3);

/* Shorthand for argument checks: returns COG_EINVAL with "fn: name is NULL". */
#define COG_CHECK_ARG(cond, fn, what) \
	do { if (!(cond)) return cog__error(COG_EINVAL, "%s: %s", fn, what); } while (0)

/* ---- memory (alloc.c) ---- */

void *cog__calloc(size_t count, size_t size);       /* NULL on overflow/OOM */
char *cog__strdup(const char *s);                   /* NULL for NULL or OOM */
char *cog__strndup(const char *s, size_t len);      /* always NUL-terminates */
/* The ENOMEM error with a location: return cog__oom("storage_put"). */
int cog__oom(const char *where);

/* True once cog_set_allocator() installed a non-default allocator. */
bool cog__allocator_is_custom(void);

/* ---- global state (global.c) ---- */

bool cog__global_initialized(void);

/* ---- growable buffer (buf.c) ---- */

/* A byte buffer that stays NUL-terminated. Zero-initialise it (COG_BUF_INIT). */
typedef struct cog_buf {
	char *ptr;
	size_t len;
	size_t cap;
	bool failed;   /* an allocation failed; later appends are no-ops */
} cog_buf;

#define COG_BUF_INIT { NULL, 0, 0, false }

int cog_buf_reserve(cog_buf *buf, size_t extra);
int cog_buf_put(cog_buf *buf, const void *data, size_t len);
int cog_buf_puts(cog_buf *buf, const char *s);
int cog_buf_putc(cog_buf *buf, char c);
int cog_buf_printf(cog_buf *buf, const char *fmt, ...) COG_PRINTF(2, 3);
/* Append s as a JSON string literal, quotes included. */
int cog_buf_put_json_string(cog_buf *buf, const char *s, size_t len);
void cog_buf_clear(cog_buf *buf);
/* Hand the contents to the caller (cog_free) and reset the buffer; NULL if
 * the buffer failed (the buffer is disposed then). Never NULL otherwise. */
char *cog_buf_detach(cog_buf *buf);
void cog_buf_dispose(cog_buf *buf);

/* ---- UTF-8 and JSON (utf8.c, json.c) ---- */

/* True if s[0..len) is well-formed UTF-8 (no overlongs, surrogates or
 * values past U+10FFFF). On false, *bad_offset gets the first bad byte. */
bool cog_utf8_valid(const char *s, size_t len, size_t *bad_offset);
/* A NUL-terminated copy of s[0..len) (cog_free) where every byte that is
 * not part of well-formed UTF-8, and every NUL, became U+FFFD: text for
 * JSON from program output. NULL on OOM. */
char *cog_utf8_lossy(const char *s, size_t len);

/* Check that text[0..len) is exactly one JSON value (RFC 8259, UTF-8,
 * nesting at most 512 deep). COG_EINVAL naming `what` and the byte offset
 * and reason on failure. No allocation. */
int cog_json_validate(const char *text, size_t len, const char *what);

/* Route cJSON's allocations to cog_malloc (once per process, only when a
 * custom allocator is set: cJSON's hooks are process-wide and a host may use
 * cJSON too). Every cJSON user inside the library runs after this. */
void cog__json_init(void);

/* Parse NUL-terminated JSON; COG_EINVAL with `what` and the offset. */
int cog_json_parse(cJSON **out, const char *text, const char *what);
/* Print compact JSON to a cog_malloc'd string; NULL on OOM (error set). */
char *cog_json_print(const cJSON *item);
/* Whether JSON text holds a \u0000 escape (cJSON would cut the string
 * there, so "admin\u0000x" would read as "admin"): json_nul.c. */
bool cog__json_has_nul(const char *text);
/* The same compact text appended to b (cJSON's own printer where ours
 * declines): 0, COG_ENOMEM, or COG_EINVAL for a NULL item; on failure b may
 * hold a part of the text. */
int cog__json_print_into(cog_buf *b, const cJSON *item);
/* A string as cog_json_print writes it (NULL as ""). */
void cog__json_put_string(cog_buf *b, const char *s);
/* Member accessors: NULL/`fallback` when absent or of another type. */
const char *cog_json_get_string(const cJSON *object, const char *name);
double cog_json_get_number(const cJSON *object, const char *name, double fallback);
/* The value at a JSON pointer (RFC 6901: "" is the root, "/a/0/b~1c"),
 * or NULL when it names nothing or is malformed. Borrowed from root. */
const cJSON *cog_json_pointer_get(const cJSON *root, const char *pointer);
/* Add helpers returning COG_ENOMEM on failure. */
int cog_json_add_string(cJSON *object, const char *name, const char *value);
int cog_json_add_number(cJSON *object, const char *name, double value);
int cog_json_add_bool(cJSON *object, const char *name, bool value);

/* ---- in-memory storage (storage_memory.c) ---- */

/* Fill a vtable for a new in-memory store (self is allocated). */
int cog_storage_memory_new_vtable(cog_storage_vtable *vt);

/* ---- transport (transport.c) ---- */

/* Size of cog_http_request of a version (0 if unknown). */
size_t cog__http_request_size(unsigned int version);

/* ---- logging (log.c) and the context (ctx.c, ctx_options.c) ---- */

struct cog_ctx;
struct cog_ctx_options;
/* The options a new context runs with, in *out: the caller's `options`
 * (checked, naming cog_ctx_new; members past its version keep their
 * defaults) or the defaults when NULL, then worker_threads 0 made the
 * number of processors (1..256) and http_timeout_ms 0 made 30000. */
int cog__ctx_options_resolve(struct cog_ctx_options *out,
                             const struct cog_ctx_options *options);
const char *cog__log_level_name(int level);
/* True for field names whose values must never be logged. */
bool cog__is_secret_name(const char *name);
/* A copy of text with bearer tokens, API keys and "password=..." masked;
 * NULL on OOM. */
char *cog__redact_text(const char *text);
/* Redact a JSON tree in place, at any depth: values under secret names
 * (cog__is_secret_name) become "[REDACTED]", strings go through
 * cog__redact_text. `item` may be NULL. COG_ENOMEM naming `what`. */
int cog__redact_json(cJSON *item, const char *what);
/* One JSON log line (cog_free); redacts `fields` in place. NULL on OOM. */
char *cog__log_format(int level, const char *trace_id, const char *span_id,
                      const char *message, cJSON *fields);
/* The same with ctx's redaction rules (ctx NULL: the built-ins). */
char *cog__log_format_ctx(struct cog_ctx *ctx, int level, const char *trace_id,
                          const char *span_id, const char *message, cJSON *fields);
/* Log through the context's hook (printf-style message; fields may be
 * NULL and are consumed). Never fails the caller. */
void cog__log(struct cog_ctx *ctx, int level, cJSON *fields,
              const char *fmt, ...) COG_PRINTF(4, 5);
/* Emit an event {"type","time","trace_id","data"}; data is consumed. */
void cog__event(struct cog_ctx *ctx, const char *type, cJSON *data);

/* Slots the context keeps for the layers above the core. A generic
 * function pointer type: converting between function pointer types is
 * portable, to and from void * is not. */
typedef void (*cog__fn)(void);
void cog__ctx_set_executor(struct cog_ctx *ctx, cog__fn fn, void *user_data);
cog__fn cog__ctx_executor(const struct cog_ctx *ctx, void **user_data);
int cog__ctx_add_template_dir(struct cog_ctx *ctx, const char *path);
const char *const *cog__ctx_template_dirs(const struct cog_ctx *ctx, size_t *count);
unsigned int cog__ctx_workers(const struct cog_ctx *ctx);
/* The default per-request HTTP timeout (cog_ctx_options.http_timeout_ms,
 * 30000 when it was 0). */
unsigned int cog__ctx_http_timeout_ms(const struct cog_ctx *ctx);
/* Module state hung on the context, one slot per module above the core.
 * cog__ctx_ext() returns the slot's state in *out, making it with create()
 * first if it is empty and create is not NULL (once, under a lock: the
 * first caller wins). destroy() runs at cog_ctx_free(), slots in reverse
 * order, before the backends go. *out is NULL for an empty slot. */
enum { COG__EXT_TOOLS = 0, COG__EXT_LLM = 1, COG__EXT_MEMORY = 2,
       COG__EXT_AGENTS = 3, COG__EXT_AUTH = 4, COG__EXT_REDACT = 5,
       COG__EXT_INJECT = 6,
       COG__EXT_COUNT = 8 };
int cog__ctx_ext(struct cog_ctx *ctx, int slot,
                 int (*create)(struct cog_ctx *ctx, void **state),
                 void (*destroy)(void *state), void **out);
/* The one module that queues storage writes past a call (the agent
 * journals' group commit) registers here, from its ext slot's create(),
 * the function that writes them; cog_ctx_set_storage() calls it before it
 * replaces (and frees) the storage. Not thread safe: as the setters. */
void cog__ctx_set_storage_flush(struct cog_ctx *ctx, void (*flush)(void *arg), void *arg);
/* Whether cog__event() would reach a hook: build event data only then. */
bool cog__ctx_has_event_hook(const struct cog_ctx *ctx);

/* ---- words and BM25 (text.c): the keyword side of memory search ---- */

/* Longest word kept (bytes); longer words are cut at a UTF-8 boundary. */
#define COG_TEXT_WORD_MAX 64
/* Called per word; a non-zero return stops the walk and is returned. */
typedef int (*cog_text_word_fn)(const char *word, size_t len, void *user_data);
/* Visit the words of text[0..len): maximal runs of ASCII letters and
 * digits and of non-ASCII UTF-8 characters, ASCII folded to lower case
 * (word points into a scratch copy valid during the call). Bytes that are
 * not UTF-8 separate words. */
int cog_text_words(const char *text, size_t len, cog_text_word_fn fn, void *user_data);
/* BM25 (k1 1.2, b 0.75) of one term: idf ln(1 + (n - df + 0.5) / (df + 0.5))
 * times tf (k1 + 1) / (tf + k1 (1 - b + b doc_len / avg_len)). */
double cog_text_bm25(double tf, double df, double n_docs, double doc_len, double avg_len);

/* ---- PII and secret redaction (redact.c, redact_rules.c) ---- */

/* Redact text[0..len) with ctx's rules (cognition/memory.h: cog_redact;
 * ctx NULL: the built-ins) into *out (cog_malloc, NUL-terminated), its
 * length in *out_len (may be NULL), the number of replacements in *count
 * (may be NULL), adding to ctx's totals. COG_ENOMEM; never fails on text. */
int cog__redact_pii(struct cog_ctx *ctx, const char *text, size_t len,
                    char **out, size_t *out_len, size_t *count);

/* ---- clocks (clock.c) ---- */

int64_t cog_clock_realtime_ms(void);   /* Unix time, milliseconds */
uint64_t cog_clock_mono_ns(void);      /* monotonic, nanoseconds */
/* "2026-11-25T13:30:00.123Z" into out (at least 25 bytes). */
void cog_clock_format_iso8601(int64_t unix_ms, char out[32]);
/* Sleep for ms milliseconds (restarts on EINTR). */
void cog_clock_sleep_ms(unsigned int ms);

/* ---- ids (id.c) ---- */

/* 128-bit ids ordered by creation time: UUIDv7 layout (48-bit Unix ms,
 * version/variant bits, the rest from libsodium's randombytes; monotonic
 * within one process even inside one millisecond). */
typedef struct cog_id { uint8_t bytes[16]; } cog_id;

void cog_id_new(cog_id *id);
/* 32 lowercase hex digits + NUL. */
void cog_id_to_hex(const cog_id *id, char out[33]);
/* 8-4-4-4-12 form + NUL. */
void cog_id_to_uuid(const cog_id *id, char out[37]);
/* Accepts both forms, hex digits in either case, nothing else (no
 * whitespace, braces or "urn:uuid:"); any 128-bit value, whatever its
 * version bits. COG_EINVAL naming the offending offset otherwise; *id is
 * left untouched on failure. */
int cog_id_parse(cog_id *id, const char *text);
int cog_id_compare(const cog_id *a, const cog_id *b);
int64_t cog_id_time_ms(const cog_id *id);

/* ---- hashing (hash.c) ---- */

#define COG_HASH_BYTES 32
/* BLAKE2b (libsodium crypto_generichash), out_len 16..64, key optional
 * (NULL with key_len 0, or 16..64 bytes); data may be NULL when len is 0.
 * COG_EINVAL naming the bad argument otherwise. */
int cog_hash_blake2b(uint8_t *out, size_t out_len, const void *data,
                     size_t len, const uint8_t *key, size_t key_len);
/* Lowercase hex of bytes into out (2*len+1 bytes). */
void cog_hex_encode(const uint8_t *bytes, size_t len, char *out);

/* ---- thread pool (threadpool.c) ---- */

typedef struct cog_pool cog_pool;
typedef void (*cog_pool_fn)(void *arg);

/* A fixed set of worker threads with a FIFO queue. threads: 1..256. */
int cog_pool_new(cog_pool **out, unsigned int threads);
/* Queue fn(arg). COG_ECANCELED after shutdown began, COG_ENOMEM. */
int cog_pool_submit(cog_pool *pool, cog_pool_fn fn, void *arg);
/* Block until every queued and running job has finished, including jobs
 * those jobs submitted. Never from inside a job of the same pool (it would
 * wait for itself). NULL-safe. */
void cog_pool_wait(cog_pool *pool);
unsigned int cog_pool_threads(const cog_pool *pool);
/* Run what is queued, join the workers, free. NULL-safe. Never from inside
 * a job of the same pool; jobs still running may submit no more
 * (COG_ECANCELED). */
void cog_pool_free(cog_pool *pool);

/* ---- token-bucket rate limiter (ratelimit.c) ---- */

typedef struct cog_ratelimit {
	pthread_mutex_t lock;
	double rate;        /* tokens per second */
	double burst;       /* bucket size */
	double tokens;
	uint64_t last_ns;
} cog_ratelimit;

/* rate > 0, burst >= 1, both finite (else COG_EINVAL). The bucket starts
 * full. */
int cog_ratelimit_init(cog_ratelimit *rl, double rate_per_s, double burst);
void cog_ratelimit_dispose(cog_ratelimit *rl);
/* Take `cost` tokens at time now_ns: 0 if granted, else COG_EBUSY and
 * *wait_ns (may be NULL) gets how long until they would be available
 * (the first such nanosecond; UINT64_MAX if past 2^64 ns). cost > burst is
 * COG_ERANGE; negative or non-finite cost COG_EINVAL. Thread safe; a now_ns
 * older than an earlier call's counts as no time passed. */
int cog_ratelimit_take(cog_ratelimit *rl, double cost, uint64_t now_ns,
                       uint64_t *wait_ns);

/* ---- circuit breaker (breaker.c) ---- */

typedef enum cog_breaker_state {
	COG_BREAKER_CLOSED = 0,
	COG_BREAKER_OPEN = 1,
	COG_BREAKER_HALF_OPEN = 2
} cog_breaker_state;

typedef struct cog_breaker {
	pthread_mutex_t lock;
	unsigned int failure_threshold; /* consecutive failures that open it */
	uint64_t cooldown_ns;           /* open -> half-open after this */
	unsigned int failures;
	cog_breaker_state state;
	uint64_t opened_ns;             /* when opened; half-open: probe sent */
	bool probe_in_flight;           /* half-open admits one probe */
} cog_breaker;

int cog_breaker_init(cog_breaker *b, unsigned int failure_threshold,
                     uint64_t cooldown_ns);
void cog_breaker_dispose(cog_breaker *b);
/* May a call go ahead at now_ns? 0 yes; COG_EUNAVAILABLE when open (or a
 * half-open probe is already in flight). A probe out for a whole cool-down
 * without a report counts as lost, and the next caller becomes the probe.
 * Thread safe; now_ns slightly older than the last reading is fine. */
int cog_breaker_allow(cog_breaker *b, uint64_t now_ns);
/* Report the outcome of an admitted call. While open, or half-open with no
 * probe out, results are from calls admitted earlier and are ignored. */
void cog_breaker_success(cog_breaker *b);
void cog_breaker_failure(cog_breaker *b, uint64_t now_ns);
cog_breaker_state cog_breaker_state_at(cog_breaker *b, uint64_t now_ns);

/* ---- backoff (backoff.c) ---- */

/* Full-jitter exponential backoff (AWS architecture blog): a uniformly
 * random delay in [0, min(cap_ms, base_ms * 2^attempt)], attempt from 0.
 * `random` supplies the randomness (e.g. randombytes_random()). */
uint64_t cog_backoff_full_jitter(unsigned int attempt, uint64_t base_ms,
                                 uint64_t cap_ms, uint32_t random);
/* Same with libsodium's randomness. */
uint64_t cog_backoff_delay_ms(unsigned int attempt, uint64_t base_ms,
                              uint64_t cap_ms);

#endif /* COG_CORE_INT_H */
