/*
 * Approval records: the calls whose approval was deferred, kept in the
 * storage (collection "approvals") so that a decision outlives the process
 * that asked. A record's id is derived from the tool, the call id, the
 * principal, the agent and the arguments: the same call made again (a
 * plan's task resumed after a crash) finds it, while a call with other
 * arguments, or by someone else, does not. An approved record is used once
 * (deleted when its call runs); a denied one keeps denying that call.
 *
 * Records hold the arguments and the principal with secrets redacted: they
 * are for people to read (cog_tool_approvals), the call brings its own.
 * Reads and writes that must not interleave (a decision against a call
 * recording itself as pending) happen inside a storage transaction, which
 * also serialises processes sharing a database.
 */
#include <stdio.h>
#include <string.h>

#include "tool_int.h"

#define APPROVALS "approvals"

int approval_id(const char *tool, const char *call_id, const char *principal,
                const char *agent, const char *arguments, char out[33])
{
	/* Fields are NUL-separated: none can hold a NUL (tool names are
	 * restricted, the others are checked for \u0000 or are C strings). */
	const char *parts[] = { tool, call_id, principal ? principal : "",
		agent ? agent : "", arguments };
	cog_buf buf = COG_BUF_INIT;
	for (size_t i = 0; i < COG_ARRAY_LEN(parts); i++)
		cog_buf_put(&buf, parts[i], strlen(parts[i]) + 1);
	if (buf.failed) {
		cog_buf_dispose(&buf);
		return cog__oom("approval");
	}
	uint8_t digest[16];
	int rc = cog_hash_blake2b(digest, sizeof(digest), buf.ptr, buf.len, NULL, 0);
	cog_buf_dispose(&buf);
	if (rc)
		return rc;
	cog_hex_encode(digest, sizeof(digest), out);
	return COG_OK;
}

int approval_load(cog_storage *storage, const char *id, cJSON **out)
{
	*out = NULL;
	char *text = NULL;
	int rc = cog_storage_get(storage, APPROVALS, id, &text);
	if (rc == COG_ENOTFOUND)
		return rc;
	if (rc)
		return cog__error_wrap(COG_EIO, "approval %s: cannot read the record", id);
	rc = cog_json_parse(out, text, "approval record");
	cog_free(text);
	return rc ? cog__error_wrap(COG_EIO, "approval %s", id) : COG_OK;
}

static int store(cog_storage *storage, const char *id, const cJSON *record)
{
	char *text = cog_json_print(record);
	if (!text)
		return cog__oom("approval");
	int rc = cog_storage_put(storage, APPROVALS, id, text, 0);
	cog_free(text);
	return rc ? cog__error_wrap(COG_EIO, "approval %s: cannot store the record", id) : COG_OK;
}

/* Run step(storage, id, arg) inside a storage transaction. */
static int in_transaction(cog_storage *storage, const char *id,
                          int (*step)(cog_storage *, const char *, void *), void *arg)
{
	int rc = cog_storage_begin(storage);
	if (rc)
		return cog__error_wrap(COG_EIO, "approval %s: cannot begin a storage transaction "
			"(does this thread hold one?)", id);
	rc = step(storage, id, arg);
	if (rc) {
		cog_storage_rollback(storage);
		return rc;
	}
	if (cog_storage_commit(storage))
		return cog__error_wrap(COG_EIO, "approval %s: cannot commit", id);
	return COG_OK;
}

/* ---- recording a deferred call ---- */

typedef struct pending_put {
	const cJSON *record;
	cJSON *existing;       /* what was there already, if anything */
} pending_put;

static int put_if_absent(cog_storage *storage, const char *id, void *arg)
{
	pending_put *p = arg;
	int rc = approval_load(storage, id, &p->existing);
	if (rc == COG_ENOTFOUND)
		return store(storage, id, p->record);
	return rc;
}

int approval_record_pending(cog_storage *storage, const char *id, cJSON *request,
                            cJSON **existing)
{
	*existing = NULL;
	cJSON *record = cJSON_Duplicate(request, 1);
	char created[32];
	cog_clock_format_iso8601(cog_clock_realtime_ms(), created);
	int rc = !record ? COG_ENOMEM :
		cog__redact_json(cJSON_GetObjectItemCaseSensitive(record, "arguments"), "approval");
	if (!rc)
		rc = cog__redact_json(cJSON_GetObjectItemCaseSensitive(record, "principal"),
			"approval");
	if (!rc && (cog_json_add_string(record, "state", "pending") ||
	            cog_json_add_string(record, "created", created)))
		rc = COG_ENOMEM;
	if (rc) {
		cJSON_Delete(record);
		return rc == COG_ENOMEM ? cog__oom("approval") : rc;
	}
	pending_put p = { record, NULL };
	rc = in_transaction(storage, id, put_if_absent, &p);
	cJSON_Delete(record);
	*existing = p.existing;
	return rc;
}

int approval_consume(cog_storage *storage, const char *id)
{
	int rc = cog_storage_delete(storage, APPROVALS, id);
	return rc == COG_ENOTFOUND ? COG_OK :
		rc ? cog__error_wrap(COG_EIO, "approval %s: cannot remove the used record", id) :
		COG_OK;
}

/* ---- the host's side ---- */

typedef struct pending_scan {
	cJSON *array;
	int rc;
} pending_scan;

static int collect_pending(const char *key, const char *value, size_t value_len,
                           int64_t expires_at, void *user_data)
{
	(void)key;
	(void)value_len;
	(void)expires_at;
	pending_scan *scan = user_data;
	cJSON *record = cJSON_Parse(value);
	const char *state = cog_json_get_string(record, "state");
	if (state && strcmp(state, "pending") == 0) {
		cJSON_DeleteItemFromObjectCaseSensitive(record, "state");
		if (!cJSON_AddItemToArray(scan->array, record)) {
			scan->rc = COG_ENOMEM;
			cJSON_Delete(record);
			return 1;
		}
		return 0;
	}
	cJSON_Delete(record);
	return 0;
}

int cog_tool_approvals(cog_ctx *ctx, char **json)
{
	static const char fn[] = "cog_tool_approvals";
	COG_CHECK_ARG(json, fn, "json is NULL");
	*json = NULL;
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	tool_registry *reg;
	int rc = tool_registry_get(ctx, &reg);
	if (rc)
		return rc;
	cog_storage *storage = tool_storage(reg);
	cog__json_init();
	pending_scan scan = { cJSON_CreateArray(), COG_OK };
	if (!storage || !scan.array) {
		cJSON_Delete(scan.array);
		return cog__oom(fn);
	}
	rc = cog_storage_scan(storage, APPROVALS, NULL, collect_pending, &scan);
	if (rc == COG_OK && scan.rc)
		rc = cog__oom(fn);
	if (rc == COG_OK && !(*json = cog_json_print(scan.array)))
		rc = cog__oom(fn);
	cJSON_Delete(scan.array);
	return rc;
}

typedef struct decision {
	tool_registry *reg;
	int decision;
	const char *edited;
	cJSON *record;        /* the decided record, for the audit entry */
} decision;

/* Check EDIT arguments against the tool's schema; they join the record. */
static int add_edit(decision *d, const char *id)
{
	const char *tool = cog_json_get_string(d->record, "tool");
	tool_def *def = tool ? tool_find(d->reg, tool) : NULL;
	if (!def)
		return cog__error(COG_ENOTFOUND, "approval '%s': tool '%s' is not defined here, so "
			"edited arguments cannot be checked", id, tool ? tool : "?");
	cJSON *edited = NULL, *errors = NULL;
	int rc = tool_json_has_nul(d->edited) ?
		cog__error(COG_EINVAL, "strings may not contain \\u0000") :
		cog_json_parse(&edited, d->edited, "edited arguments");
	if (rc == COG_OK && !cJSON_IsObject(edited))
		rc = cog__error(COG_EINVAL, "a JSON object is expected");
	if (rc == COG_OK)
		rc = cog__schema_check(def->input_schema, edited, &errors);
	cJSON_Delete(errors);
	tool_release(def);
	if (rc == COG_OK && !cJSON_AddItemToObject(d->record, "edited_arguments", edited))
		rc = cog__oom("approval");
	else if (rc == COG_OK)
		edited = NULL;
	cJSON_Delete(edited);
	return rc ? cog__error_wrap(rc, "approval '%s': edited arguments", id) : COG_OK;
}

static int decide_step(cog_storage *storage, const char *id, void *arg)
{
	decision *d = arg;
	int rc = approval_load(storage, id, &d->record);
	if (rc == COG_ENOTFOUND)
		return cog__error(COG_ENOTFOUND, "no approval '%s' (see cog_tool_approvals)", id);
	if (rc)
		return rc;
	const char *state = cog_json_get_string(d->record, "state");
	if (!state || strcmp(state, "pending") != 0)
		return cog__error(COG_EEXISTS, "approval '%s' was already decided (%s)", id,
			state ? state : "?");
	if (d->decision == COG_APPROVAL_EDIT && (rc = add_edit(d, id)))
		return rc;
	char decided[32];
	cog_clock_format_iso8601(cog_clock_realtime_ms(), decided);
	cJSON_DeleteItemFromObjectCaseSensitive(d->record, "state");
	if (cog_json_add_string(d->record, "state",
	                        d->decision == COG_APPROVAL_DENY ? "denied" : "approved") ||
	    cog_json_add_string(d->record, "decided", decided))
		return cog__oom("approval");
	return store(storage, id, d->record);
}

int cog_tool_approval_decide(cog_ctx *ctx, const char *approval_id_text, int decision_code,
                             const char *edited_arguments_json)
{
	static const char fn[] = "cog_tool_approval_decide";
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	COG_CHECK_ARG(approval_id_text && approval_id_text[0], fn, "approval_id is NULL or empty");
	if (decision_code != COG_APPROVAL_APPROVE && decision_code != COG_APPROVAL_DENY &&
	    decision_code != COG_APPROVAL_EDIT)
		return cog__error(COG_EINVAL, "%s: decision %d is not APPROVE, DENY or EDIT", fn,
			decision_code);
	if ((decision_code == COG_APPROVAL_EDIT) != (edited_arguments_json != NULL))
		return cog__error(COG_EINVAL, "%s: edited arguments go with EDIT and only with it",
			fn);
	tool_registry *reg;
	int rc = tool_registry_get(ctx, &reg);
	if (rc)
		return rc;
	cog_storage *storage = tool_storage(reg);
	if (!storage)
		return cog__oom(fn);
	cog__json_init();
	decision d = { reg, decision_code, edited_arguments_json, NULL };
	rc = in_transaction(storage, approval_id_text, decide_step, &d);
	if (rc) {
		cJSON_Delete(d.record);
		return cog__error_wrap(rc, "%s", fn);
	}
	/* The decision is part of the record of what tools did. */
	char detail[80];
	snprintf(detail, sizeof(detail), "approval %s", approval_id_text);
	const char *tool = cog_json_get_string(d.record, "tool");
	const char *call_id = cog_json_get_string(d.record, "call_id");
	tool_audit_entry entry = {
		NULL, NULL, tool ? tool : "?", call_id ? call_id : "?",
		cJSON_GetObjectItemCaseSensitive(d.record, "edited_arguments"), NULL, 0, 0,
		decision_code == COG_APPROVAL_DENY ? "approval_denied" :
		decision_code == COG_APPROVAL_EDIT ? "approval_edited" : "approval_approved",
		detail,
	};
	rc = tool_audit_append(reg, &entry);
	cJSON_Delete(d.record);
	return rc ? cog__error_wrap(rc, "%s: the decision is stored but could not be audited",
		fn) : COG_OK;
}
