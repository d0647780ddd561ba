/*
 * Private interface of lib/tool: the registry the context keeps, and what
 * the files of the module share. Not installed; not part of the ABI.
 */
#ifndef COG_TOOL_INT_H
#define COG_TOOL_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>

#include "core_int.h"
#include "schema_int.h"
#include "cognition/ctx.h"
#include "cognition/tool.h"

/* One defined tool. Reference-counted: a call holds a reference, so a tool
 * removed while running stays alive until the call ends. */
typedef struct tool_def {
	atomic_uint refs;
	char *name;
	char *description;
	char *input_schema_text;     /* as given, for listing */
	char *output_schema_text;    /* NULL: unchecked */
	cog_schema *input_schema;
	cog_schema *output_schema;
	unsigned int flags;
	unsigned int timeout_ms;
	size_t max_output_bytes;
	cog_tool_fn fn;
	void *user_data;
	void (*free_user_data)(void *);
	cJSON *command;              /* sandboxed program, or NULL */
} tool_def;

typedef struct tool_grant {
	char *role;
	char *glob;
} tool_grant;

/* The context's tool registry (slot COG__EXT_TOOLS). */
typedef struct tool_registry {
	cog_ctx *ctx;
	pthread_rwlock_t lock;       /* tools, grants, workspace, hook */
	tool_def **tools;            /* sorted by name */
	size_t count, cap;
	tool_grant *grants;
	size_t grant_count, grant_cap;
	char *workspace;
	cog_approval_fn approval_fn;
	void *approval_ud;

	/* The audit log (audit*.c): the storage transaction of each append
	 * serialises appends (between processes too); audit_lock, taken after
	 * the transaction began, orders this process's threads. */
	pthread_mutex_t audit_lock;
	unsigned char audit_key[64];
	size_t audit_key_len;
	/* Used when the context has no storage, made on first use. */
	cog_storage *fallback_storage;
	pthread_mutex_t storage_lock;
} tool_registry;

/* The context's registry, made on first use. COG_ENOMEM. */
int tool_registry_get(cog_ctx *ctx, tool_registry **out);

/* The storage audit entries and approvals go to: the context's, or the
 * registry's own in-memory store when it has none. NULL + error on OOM. */
cog_storage *tool_storage(tool_registry *reg);

/* Find a tool and take a reference (NULL if none). */
tool_def *tool_find(tool_registry *reg, const char *name);
void tool_release(tool_def *def);

/* Glob match with * and ? (no character classes), whole string. */
bool tool_glob_match(const char *glob, const char *name);

/* ---- call_json.c (shared by call.c and the rest of the module) ---- */

/* The error object for the model: {"error":{"type":..,"message":..}}
 * (+ "details" when given; consumed). NULL on OOM. */
char *tool_error_json(const char *type, const char *message, cJSON *details);
/* Whether JSON text has a \u0000 escape (cJSON would cut the string). */
bool tool_json_has_nul(const char *text);
/* Whether `hosts` (a call's allowed_hosts) is a real network grant: a JSON
 * array of one or more non-empty strings. Anything else grants nothing. */
bool tool_network_granted(const char *hosts);

/* ---- audit.c ---- */

/* What one call leaves in the audit log. Strings may be NULL unless said. */
typedef struct tool_audit_entry {
	const char *principal;       /* JSON text of the principal, or NULL */
	const char *agent;
	const char *tool;            /* not NULL */
	const char *call_id;         /* not NULL */
	const cJSON *arguments;      /* redacted by the audit writer; may be NULL */
	const char *result;          /* digested, never stored; may be NULL */
	size_t result_len;
	double duration_ms;
	const char *outcome;         /* "ok", "invalid_arguments", "denied", ... */
	const char *detail;          /* error message (redacted), or NULL */
} tool_audit_entry;

/* Append one entry to the hash chain. COG_EIO (storage), COG_ENOMEM. */
int tool_audit_append(tool_registry *reg, const tool_audit_entry *entry);

/* ---- approval.c ---- */

/* Decide whether a call of a COG_TOOL_NEEDS_APPROVAL tool may go ahead:
 * 0 approved (*arguments may be replaced by edited arguments, already
 * validated), COG_EDENIED, COG_EPENDING (recorded for later), COG_EUSER,
 * COG_ESCHEMA (edited arguments invalid: *error_detail set), COG_EIO.
 * id gets the call's approval id; *consume says its record is used up:
 * the caller removes it (approval_consume) once the call is over.
 * reason (NULL: none) goes into the request as "reason" ("injection"). */
int tool_approval_check(tool_registry *reg, tool_def *def, const char *call_id,
                        const char *principal, const char *agent, const char *reason,
                        cJSON **arguments, cJSON **error_detail, char id[33],
                        bool *consume);

/* ---- approval_store.c: the records of deferred calls ---- */

/* The approval id of a call (32 hex digits + NUL). */
int approval_id(const char *tool, const char *call_id, const char *principal,
                const char *agent, const char *arguments, char out[33]);
/* The record, or COG_ENOTFOUND; COG_EIO. */
int approval_load(cog_storage *storage, const char *id, cJSON **out);
/* Store `request` (redacted) as pending unless a record exists: then
 * *existing gets it (someone decided meanwhile). In one transaction. */
int approval_record_pending(cog_storage *storage, const char *id, cJSON *request,
                            cJSON **existing);
/* Remove a used record (absent is fine). COG_EIO. */
int approval_consume(cog_storage *storage, const char *id);

/* ---- command.c ---- */

/* Check and parse the "command" of cog_tool_options into *out. COG_EINVAL
 * naming fn and the tool. */
int tool_command_parse(const char *fn, const char *name, const char *text,
                       cJSON **out);
/* Runner of tools defined with a "command": the program in the sandbox. */
int tool_command_run(const tool_def *def, const cog_tool_request *request,
                     char **result_json);


/* ---- workspace.c ---- */

/* Open `relpath` inside the workspace directory `workspace_fd` without
 * leaving it: absolute paths, ".." and symlinks that lead out are refused
 * (COG_EDENIED with the path in the message); flags as for openat(2)
 * (O_NOFOLLOW is not needed). Returns the fd or a negative status. */
int tool_workspace_open(int workspace_fd, const char *relpath, int flags,
                        mode_t mode);

/* cog_tool_call() with the injection policy's say (auth.h
 * cog_injection_configure): COG__TOOL_CALL_APPROVE_EFFECTS sends a call of a
 * tool flagged COG_TOOL_SIDE_EFFECTS to the approval hook as if the tool
 * needed approval (denied without a hook; the approval request carries
 * "reason":"injection"), COG__TOOL_CALL_DENY_EFFECTS denies it (COG_EDENIED,
 * audited). Other tools are called as by cog_tool_call(). */
#define COG__TOOL_CALL_APPROVE_EFFECTS 0x1u
#define COG__TOOL_CALL_DENY_EFFECTS    0x2u
int cog__tool_call_ex(cog_ctx *ctx, const char *name, const char *arguments_json,
                      const cog_tool_call_options *options, unsigned int flags,
                      char **result_json);

#endif /* COG_TOOL_INT_H */
