/*
 * libcognition: tools.
 *
 * A tool is something an agent (or the host) may call with JSON arguments
 * to get a JSON result: a host callback, a program run in the Linux sandbox,
 * or (later) an MCP server's tool. Tools live in the context's registry.
 * Every call goes the same way:
 *
 *   permission check (principal's roles, agent's allow-list) ─► arguments
 *   checked against the input schema ─► network grant ─► approval (tools
 *   flagged COG_TOOL_NEEDS_APPROVAL) ─► runner ─► result checked against
 *   the output schema ─► an entry in the hash-chained audit log
 * (Permissions come first so that a principal who may not call a tool
 * learns nothing about its schema from the errors.)
 *
 * Results. A call returns a status and, in *result_json, JSON text for the
 * model: the tool's result on success; on the failures a model can act on
 * (invalid arguments, a denied call, the tool's own error, a timeout) an
 * error object it can read and correct:
 *   {"error":{"type":"invalid_arguments","message":"...",
 *             "details":[{"instance":"/path","keyword":"type",...}]}}
 * with type one of not_found, invalid_arguments, denied, approval_pending,
 * tool_error, timeout, canceled, invalid_result, unavailable.
 *
 * Threads: the registry belongs to the context and is thread safe: tools
 * may be defined, granted, revoked and called from several threads at once.
 * A permission change applies to every call that starts after it. Runners
 * and hooks may be called from any thread that calls a tool.
 */
#ifndef COGNITION_TOOL_H
#define COGNITION_TOOL_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "ctx.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Defining tools                                                      */
/* ------------------------------------------------------------------ */

/* Flags of a tool (cog_tool_options.flags). */
#define COG_TOOL_IDEMPOTENT     0x1u  /* calling it twice is harmless */
#define COG_TOOL_SIDE_EFFECTS   0x2u  /* changes something outside the call */
#define COG_TOOL_NEEDS_APPROVAL 0x4u  /* each call goes to the approval hook */
#define COG_TOOL_NEEDS_NETWORK  0x8u  /* needs a network grant to run */

#define COG_TOOL_NAME_MAX 64

/*
 * What a runner sees of one call. Borrowed, valid during the runner's call.
 * Members are only ever appended.
 */
typedef struct cog_tool_request {
	unsigned int version;          /* COG_TOOL_REQUEST_VERSION of the library */
	cog_ctx *ctx;
	const char *tool;              /* the tool's name */
	const char *arguments;         /* JSON object text, already validated */
	const char *call_id;           /* unique per call; the caller's idempotency
	                                  key when one was given */
	const char *workspace;         /* host directory the call may use, or NULL */
	const char *allowed_hosts;     /* JSON array of host patterns the call may
	                                  reach ("example.com", "*.example.org"),
	                                  "[]" for none; never NULL */
	unsigned int timeout_ms;       /* time left for the call */
	int allow_unsandboxed;         /* the caller opted into running without
	                                  the sandbox where it is unavailable */
	const char *principal;         /* JSON of the calling principal, or NULL
	                                  for the host itself */
	size_t max_output_bytes;       /* the tool's result size cap */
} cog_tool_request;

#define COG_TOOL_REQUEST_VERSION 1

/*
 * A host tool. Return 0 with *result_json set to JSON text (cog_malloc'd;
 * the library frees it), or a negative status with cog_error_set() saying
 * what went wrong: the model sees {"error":{"type":"tool_error",...}} with
 * that message. Poll cog_ctx_is_canceled(request->ctx) in long runners.
 * Called from the thread that calls the tool.
 */
typedef int (*cog_tool_fn)(const cog_tool_request *request, char **result_json,
                           void *user_data);

typedef struct cog_tool_options {
	unsigned int version;
	const char *name;            /* 1..64 of [A-Za-z0-9_-] (what OpenAI and
	                                Anthropic accept) */
	const char *description;     /* for the model; may be NULL */
	const char *input_schema;    /* JSON Schema text; NULL: any object */
	const char *output_schema;   /* JSON Schema of results; NULL: unchecked */
	unsigned int flags;          /* COG_TOOL_* */
	unsigned int timeout_ms;     /* 0: 30000 */
	size_t max_output_bytes;     /* result size cap; 0: 1 MiB */

	/* Runner: exactly one of `fn` and `command`. */
	cog_tool_fn fn;
	void *user_data;
	void (*free_user_data)(void *user_data); /* called when the tool goes */

	/* A program run in the sandbox (cog_sandbox_run) for each call:
	 * {"argv":["/usr/bin/jq","."],"env":{"K":"V"},"memory_bytes":..,
	 *  "cpu_seconds":..,"max_processes":..}
	 * The arguments JSON is the program's standard input. Its standard
	 * output is the result when it is JSON, else {"stdout":"...",
	 * "stderr":"...","exit_code":0}; a non-zero exit status is a tool error.
	 */
	const char *command;
} cog_tool_options;

#define COG_TOOL_OPTIONS_VERSION 1
#define COG_TOOL_OPTIONS_INIT { COG_TOOL_OPTIONS_VERSION, NULL, NULL, NULL, \
	NULL, 0, 0, 0, NULL, NULL, NULL, NULL }

/* Set `options` to the defaults of `version`. COG_EVERSION if unknown. */
COG_API int cog_tool_options_init(cog_tool_options *options, unsigned int version);

/*
 * Define a tool in the context's registry. Strings are copied; the schemas
 * are compiled now. On failure free_user_data is NOT called (the caller
 * still owns user_data).
 * Errors: COG_EINVAL (bad name, neither or both runners, bad command JSON),
 * the compile errors of cog_schema_new() (COG_EINVAL, COG_ENOTFOUND,
 * COG_EUNAVAILABLE) with the message naming which schema, COG_EEXISTS (a
 * tool of that name exists), COG_EVERSION, COG_ENOMEM.
 */
COG_API int cog_tool_define(cog_ctx *ctx, const cog_tool_options *options);

/*
 * Remove a tool. Calls already running finish; free_user_data runs after
 * the last of them. COG_ENOTFOUND if there is no such tool.
 */
COG_API int cog_tool_remove(cog_ctx *ctx, const char *name);

/* Output formats of cog_tool_list(). */
typedef enum cog_tool_format {
	COG_TOOL_FORMAT_COG = 0,        /* [{"name","description","input_schema",
	                                    "output_schema","flags":[...],
	                                    "timeout_ms","runner"}] */
	COG_TOOL_FORMAT_OPENAI = 1,     /* [{"type":"function","function":{"name",
	                                    "description","parameters"}}] */
	COG_TOOL_FORMAT_ANTHROPIC = 2   /* [{"name","description","input_schema"}] */
} cog_tool_format;

/*
 * The tools matching `pattern` (a glob with * and ?; NULL for all), sorted
 * by name, as a JSON array in `format`, to cog_free().
 * Errors: COG_EINVAL (bad format), COG_ENOMEM.
 */
COG_API int cog_tool_list(cog_ctx *ctx, const char *pattern, int format,
                          char **json);

/* ------------------------------------------------------------------ */
/* Calling tools                                                       */
/* ------------------------------------------------------------------ */

typedef struct cog_tool_call_options {
	unsigned int version;
	/* Who calls: {"tenant":"acme","id":"alice","roles":["analyst"]}.
	 * NULL: the host itself, which may call every tool. */
	const char *principal;
	/* The calling agent's name (for the audit log), or NULL. */
	const char *agent;
	/* The agent's allow-list: JSON array of tool-name globs; NULL: no
	 * agent restriction. */
	const char *allowed_tools;
	/* Directory the call may read and write (built-in file tools, the
	 * sandbox's /workspace). NULL: the registry's default (see
	 * cog_tool_set_workspace), else none. */
	const char *workspace;
	/* Network grant: a JSON array of one or more host patterns; NULL, "[]"
	 * or anything else: none. Tools flagged COG_TOOL_NEEDS_NETWORK are
	 * denied without one. */
	const char *allowed_hosts;
	/* Idempotency key of the call (plan/task/attempt[/n]): 1..512 bytes of
	 * UTF-8 without control characters. A pending approval is found again
	 * by it after a crash. NULL: a fresh id. */
	const char *call_id;
	unsigned int timeout_ms;     /* 0: the tool's */
	int allow_unsandboxed;       /* opt into running sandboxed programs
	                                without namespaces where the kernel has
	                                none (never the default) */
} cog_tool_call_options;

#define COG_TOOL_CALL_OPTIONS_VERSION 1
#define COG_TOOL_CALL_OPTIONS_INIT { COG_TOOL_CALL_OPTIONS_VERSION, NULL, NULL, \
	NULL, NULL, NULL, NULL, 0, 0 }

/* Set `options` to the defaults of `version`. COG_EVERSION if unknown. */
COG_API int cog_tool_call_options_init(cog_tool_call_options *options,
                                       unsigned int version);

/*
 * Call tool `name` with `arguments_json` (a JSON object). options may be
 * NULL (the host itself, no workspace, no network).
 * Returns 0 with *result_json set to the result. On failure returns:
 *   COG_ENOTFOUND   no such tool (type "not_found"), or the runner found
 *                   nothing (a missing file: type "tool_error"),
 *   COG_ESCHEMA     arguments or result do not match the tool's schema,
 *   COG_EDENIED     the principal or agent may not call it, or the approver
 *                   said no, or it needs a network grant it lacks,
 *   COG_EPENDING    approval was deferred: the call is recorded and waits
 *                   for cog_tool_approval_decide(); the same call made again
 *                   (same tool, call_id, principal, agent and arguments)
 *                   goes ahead once approved, once,
 *   COG_EINVAL      arguments not JSON, not an object, or with a string
 *                   holding \u0000,
 *   COG_ETIMEOUT, COG_ECANCELED, COG_EUNAVAILABLE (no sandbox and no
 *   opt-in) and COG_EDENIED from the runner itself pass through;
 *   COG_EUSER   the runner failed with any other status, or returned
 *               something that is not JSON (or holds \u0000) or is over
 *               max_output_bytes,
 *   COG_EIO     an approval record (or the principal's auth records,
 *               auth.h) could not be read or written; COG_EINTEGRITY a
 *               stored auth record is corrupt;
 * and for all of these sets *result_json to the error object for the model
 * (cog_free it). Without a result: COG_EINVAL for a NULL ctx, name or
 * result_json, COG_EVERSION, COG_EIO (the audit log could not be written:
 * the call's result is withheld), COG_ENOMEM. Every call that names a tool
 * is audited, whatever its outcome.
 */
COG_API int cog_tool_call(cog_ctx *ctx, const char *name,
                          const char *arguments_json,
                          const cog_tool_call_options *options,
                          char **result_json);

/*
 * Default workspace for calls that name none (copied; NULL clears it). The
 * directory must exist. Errors: COG_EINVAL, COG_ENOTFOUND.
 */
COG_API int cog_tool_set_workspace(cog_ctx *ctx, const char *path);

/* ------------------------------------------------------------------ */
/* Permissions                                                         */
/* ------------------------------------------------------------------ */

/*
 * Let principals with `role` call the tools matching `tool_glob` (* and ?).
 * A call with a principal is allowed when one of its roles has a grant
 * matching the tool (and the agent's allow-list, if any, matches too);
 * denied calls fail with COG_EDENIED and are audited.
 * Errors: COG_EINVAL, COG_ENOMEM. Granting twice is harmless.
 */
COG_API int cog_tool_grant(cog_ctx *ctx, const char *role, const char *tool_glob);

/* Withdraw a grant made with the same role and glob. COG_ENOTFOUND if none. */
COG_API int cog_tool_revoke(cog_ctx *ctx, const char *role, const char *tool_glob);

/* ------------------------------------------------------------------ */
/* Approvals                                                           */
/* ------------------------------------------------------------------ */

typedef enum cog_approval {
	COG_APPROVAL_APPROVE = 0,
	COG_APPROVAL_DENY = 1,
	COG_APPROVAL_EDIT = 2,      /* approve with edited arguments */
	COG_APPROVAL_DEFER = 3      /* decide later: the call becomes pending */
} cog_approval;

/*
 * Asked before each call of a tool flagged COG_TOOL_NEEDS_APPROVAL.
 * `request_json`: {"id":"<approval id>","tool":"...","arguments":{...},
 * "description":"...","principal":{...}|null,"agent":"..."|null,
 * "call_id":"..."}. Return a cog_approval; for COG_APPROVAL_EDIT set
 * *edited_arguments_json (cog_malloc'd JSON object; checked against the
 * schema again). A negative return is an error (the call fails with
 * COG_EUSER). Called from the calling thread.
 * Without a hook, such tools are denied unless a decision for the call is
 * already recorded (cog_tool_approval_decide).
 * After cog_tool_set_approval_hook() replaces or removes a hook, calls that
 * were already inside the old one may still be running: free its
 * user_data only once they are over.
 */
typedef int (*cog_approval_fn)(const char *request_json,
                               char **edited_arguments_json, void *user_data);

/* Install (or with NULL remove) the approval hook. */
COG_API int cog_tool_set_approval_hook(cog_ctx *ctx, cog_approval_fn fn,
                                       void *user_data);

/*
 * Pending approvals (deferred, not yet decided) as a JSON array of the
 * request objects above plus "created", to cog_free(); secrets in the
 * arguments and principal are redacted (the call brings its own). They
 * live in the context's storage (collection "approvals"), so they survive a
 * crash, and the storage is trusted with them like with plans.
 */
COG_API int cog_tool_approvals(cog_ctx *ctx, char **json);

/*
 * Decide a pending approval: APPROVE, DENY or EDIT (with
 * `edited_arguments_json`, which replace the call's arguments). The same
 * call made again (a plan's resumed task) then goes ahead, once, or keeps
 * being denied, without asking the hook. Atomic (one storage transaction:
 * of two deciders, the second gets COG_EEXISTS); the decision is appended
 * to the audit log (outcome approval_approved, approval_edited or
 * approval_denied).
 * Errors: COG_ENOTFOUND (no such approval, or its tool is not defined
 * here for checking EDIT arguments), COG_EINVAL (bad decision; EDIT
 * arguments not a JSON object), COG_ESCHEMA (EDIT arguments the tool's
 * schema rejects), COG_EEXISTS (already decided), COG_EIO.
 */
COG_API int cog_tool_approval_decide(cog_ctx *ctx, const char *approval_id,
                                     int decision,
                                     const char *edited_arguments_json);

/* ------------------------------------------------------------------ */
/* Audit log                                                           */
/* ------------------------------------------------------------------ */

/*
 * Every tool call is appended to a hash-chained log in the context's
 * storage (log "audit"; an in-memory store when the context has none):
 * {"seq":1,"time":"...","principal":..,"agent":..,"tool":"...",
 *  "call_id":"...","arguments":{... secrets redacted ...},
 *  "result_digest":"<BLAKE2b-256 hex of the result>","duration_ms":..,
 *  "outcome":"ok|not_found|invalid_arguments|denied|approval_pending|
 *  tool_error|timeout|canceled|invalid_result|unavailable|
 *  approval_approved|approval_edited|approval_denied",
 *  "detail":"<error message, redacted>"|null,"prev":"<hex>","hash":"<hex>"}
 * The members come in that order and "hash" is last: hash =
 * BLAKE2b-256(prev as 32 raw bytes || the stored entry text without its
 * ,"hash":"..." member), keyed when a key is set; the first entry's prev is
 * 64 zeros. The head {"seq":N,"hash":"<hex>","mac":"<hex>"} is kept beside
 * the log (collection "audit", key "head") and written in the same storage
 * transaction as each entry, so removing entries from the end is detected
 * too; with a key, the head's MAC stops a forged head. What no key can
 * catch: an older genuine head put back after the entries past it were
 * deleted; keep the head's hash somewhere else too if that matters.
 * An append fails (the call with COG_EIO) when the head is missing,
 * malformed or fails its MAC (also after the key changed), and when the
 * calling thread holds a storage transaction of its own.
 */

/*
 * Key the chain's hashes (16..64 bytes; copied). Without a key anyone who
 * can write the storage can rebuild a consistent chain; with one, only
 * holders of the key can. Set it before the first call; entries written
 * under another key fail verification. Errors: COG_EINVAL.
 */
COG_API int cog_audit_set_key(cog_ctx *ctx, const unsigned char *key, size_t len);

/*
 * Check the whole chain (read in batches: memory stays flat). 0 when
 * intact; COG_EINTEGRITY when an entry was edited, removed, reordered or the
 * log truncated; then *report_json (if not NULL) says which:
 * {"ok":false,"entries":N,"first_bad_seq":7,
 * "problem":"edited|removed|reordered|truncated|malformed","detail":"..."}
 * ({"ok":true,"entries":N,"head":"<hex>"|null} when intact). "entries"
 * counts the records, "first_bad_seq" is the position in the chain.
 * Entries appended while it runs raise no false alarm. Errors also:
 * COG_EIO, COG_ENOMEM.
 */
COG_API int cog_audit_verify(cog_ctx *ctx, char **report_json);

/*
 * Up to `limit` entries (0: all) from sequence number `from_seq` (1 is the
 * first) as a JSON array, to cog_free(). Errors: COG_EIO, COG_ENOMEM.
 */
COG_API int cog_audit_read(cog_ctx *ctx, uint64_t from_seq, size_t limit,
                           char **json);

/* ------------------------------------------------------------------ */
/* Built-in tools                                                      */
/* ------------------------------------------------------------------ */

/*
 * Define the built-in tools whose names match the glob `pattern` (NULL:
 * all). Each has a strict input schema (cog_tool_list shows them):
 *   python      {"code","args":[..],"stdin"}  python3 -c code in the sandbox
 *   shell       {"argv":[..]} or {"command":"sh script"}, "cwd", "stdin"
 *               both: {"exit_code","signal","stdout","stderr","timed_out",
 *               "truncated",..}; a non-zero exit is a result, not an error;
 *               a network grant gives them the whole network (the sandbox
 *               cannot filter hosts)
 *   http_fetch  {"url","method","headers","body","query","max_bytes"}
 *               through the context's transport, only to hosts of the
 *               call's network grant ("host", "host:port", "*.example.org"
 *               for subdomains, "*"); redirects are returned, not followed
 *   file_read   {"path","offset","length"}
 *   file_write  {"path","content","encoding","append","create_dirs"}
 *               (atomic replace by rename unless appending)
 *   list_dir    {"path","recursive","max_depth","max_entries"}
 * File paths are relative to the call's workspace; "..", absolute paths and
 * symlinks that lead out of it are refused (openat2 RESOLVE_BENEATH, or a
 * checked walk on older kernels). Results are capped at 1 MiB; bytes that
 * are not UTF-8 come back base64-encoded. (sql_query comes with the SQLite
 * backend: cog_sqlite_define_sql_tool in sqlite.h.)
 * Errors: COG_EEXISTS (some were already defined: the others are defined
 * and the message names them), COG_ENOTFOUND (the pattern matches none),
 * COG_EINVAL, COG_ENOMEM.
 */
COG_API int cog_tool_define_builtins(cog_ctx *ctx, const char *pattern);

/* ------------------------------------------------------------------ */
/* The sandbox                                                         */
/* ------------------------------------------------------------------ */

/*
 * cog_sandbox_run() runs a program isolated by the kernel (Linux): new
 * user, pid, mount, network, IPC and UTS namespaces; a minimal root where
 * /usr, /bin, /lib* and a few files of /etc are read-only and the workspace
 * (at /workspace, the working directory) is the only writable place besides
 * a small /tmp; a seccomp filter refusing ptrace, mount, kexec, bpf, keyctl,
 * module loading, namespace creation and the like; Landlock where the
 * kernel has it; rlimits; a wall-clock timeout that kills every process of
 * the sandbox; output captured with a cap. No network unless `network`.
 */
typedef struct cog_sandbox_options {
	unsigned int version;
	const char *const *argv;      /* NULL-terminated; argv[0] absolute, or
	                                 searched in /usr/bin:/bin */
	const char *const *envp;      /* NULL-terminated "K=V"; NULL: PATH, HOME,
	                                 LANG=C.UTF-8, TMPDIR only */
	const char *workspace;        /* host directory bound read-write at
	                                 /workspace; NULL: an empty tmpfs */
	const char *cwd;              /* relative to /workspace; NULL: "." */
	const void *stdin_data;       /* fed to standard input (may be NULL) */
	size_t stdin_len;
	int network;                  /* share the host's network */
	unsigned int timeout_ms;      /* wall clock; 0: 30000 */
	size_t max_output_bytes;      /* per stream, then truncated; 0: 1 MiB */
	unsigned int cpu_seconds;     /* RLIMIT_CPU; 0: timeout rounded up */
	uint64_t memory_bytes;        /* RLIMIT_AS; 0: 1 GiB */
	unsigned int max_processes;   /* RLIMIT_NPROC; 0: 64 */
	uint64_t max_file_bytes;      /* RLIMIT_FSIZE; 0: 64 MiB */
	unsigned int max_open_files;  /* RLIMIT_NOFILE; 0: 256 */
	const char *const *read_only_paths; /* more host paths bound read-only at
	                                       the same place; NULL-terminated */
	int allow_unsandboxed;        /* where namespaces are unavailable, run
	                                 with rlimits and a process group only,
	                                 instead of failing (opt-in) */
} cog_sandbox_options;

#define COG_SANDBOX_OPTIONS_VERSION 1
#define COG_SANDBOX_OPTIONS_INIT { COG_SANDBOX_OPTIONS_VERSION, NULL, NULL, \
	NULL, NULL, NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0, NULL, 0 }

/* Set `options` to the defaults of `version`. COG_EVERSION if unknown. */
COG_API int cog_sandbox_options_init(cog_sandbox_options *options,
                                     unsigned int version);

typedef struct cog_sandbox_result {
	unsigned int version;         /* set by the caller: COG_SANDBOX_RESULT_VERSION */
	int exit_code;                /* -1 when killed by a signal */
	int signal;                   /* the killing signal, or 0 */
	int timed_out;                /* killed by the wall-clock timeout */
	int canceled;                 /* killed by cog_ctx_cancel() */
	char *out;                    /* standard output (cog_malloc'd, NUL
	                                 terminated, may hold NULs) */
	size_t out_len;
	int out_truncated;
	char *err;                    /* standard error, likewise */
	size_t err_len;
	int err_truncated;
	uint64_t wall_us;             /* from start to the last process's exit */
	uint64_t cpu_us;              /* user + system time of the sandbox */
	uint64_t max_rss_kb;
	int sandboxed;                /* 0 when run unsandboxed by opt-in */
} cog_sandbox_result;

#define COG_SANDBOX_RESULT_VERSION 1
#define COG_SANDBOX_RESULT_INIT { COG_SANDBOX_RESULT_VERSION, 0, 0, 0, 0, NULL, 0, 0, \
	NULL, 0, 0, 0, 0, 0, 0 }

/*
 * Run options->argv in the sandbox and wait for it. ctx may be NULL (no
 * cancellation, no logging). Returns 0 once the program ran, whatever its
 * exit status (see result); `result` is filled (free its buffers with
 * cog_sandbox_result_dispose).
 * Errors: COG_EINVAL (bad options), COG_EUNAVAILABLE (the kernel does not
 * allow the namespaces and allow_unsandboxed is 0: the message says what
 * failed), COG_ENOTFOUND (argv[0] not found in the sandbox), COG_EIO
 * (setting up the sandbox failed), COG_ENOMEM.
 */
COG_API int cog_sandbox_run(cog_ctx *ctx, const cog_sandbox_options *options,
                            cog_sandbox_result *result);

/* Free the buffers of a result and zero it (keeping version). NULL-safe. */
COG_API void cog_sandbox_result_dispose(cog_sandbox_result *result);

/*
 * What isolation this machine offers, as JSON, to cog_free():
 * {"namespaces":true,"seccomp":true,"landlock":3,"reason":null}
 * ("landlock": the ABI version, 0 when absent; "reason" says why
 * namespaces are unavailable). Errors: COG_ENOMEM.
 */
COG_API int cog_sandbox_probe(char **json);

#ifdef __cplusplus
}
#endif

#endif /* COGNITION_TOOL_H */
