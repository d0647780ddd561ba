/*
 * The approval step of a call of a tool flagged COG_TOOL_NEEDS_APPROVAL.
 * A decision already recorded for this very call (approval_store.c) is
 * applied without asking; otherwise the hook decides at once (approve,
 * deny, edit) or defers, and a deferred call is recorded as pending for the
 * host to decide later, from any process. Without a hook, such tools are
 * denied unless a decision is recorded.
 */
#include <stdio.h>
#include <string.h>

#include "tool_int.h"

/* The request the hook sees (and, redacted, the pending record). */
static cJSON *make_request(const char *id, const tool_def *def, const char *call_id,
                           const char *principal, const char *agent,
                           const cJSON *arguments, const char *reason)
{
	cJSON *req = cJSON_CreateObject();
	if (!req)
		return NULL;
	cJSON *args = cJSON_Duplicate(arguments, 1);
	cJSON *who = principal ? cJSON_Parse(principal) : cJSON_CreateNull();
	if (principal && !who) /* checked by the permission step; keep it as text */
		who = cJSON_CreateString(principal);
	if (!args || !who || cog_json_add_string(req, "id", id) ||
	    cog_json_add_string(req, "tool", def->name) ||
	    !cJSON_AddItemToObject(req, "arguments", args) ||
	    (args = NULL, cog_json_add_string(req, "description", def->description)) ||
	    !cJSON_AddItemToObject(req, "principal", who) ||
	    (who = NULL, agent ? cog_json_add_string(req, "agent", agent)
	                       : !cJSON_AddNullToObject(req, "agent")) ||
	    cog_json_add_string(req, "call_id", call_id) ||
	    (reason && cog_json_add_string(req, "reason", reason))) {
		cJSON_Delete(args);
		cJSON_Delete(who);
		cJSON_Delete(req);
		return NULL;
	}
	return req;
}

/* Validate edited arguments against the tool's schema; on success they
 * replace *arguments. */
static int take_edit(const tool_def *def, cJSON *edited, cJSON **arguments,
                     cJSON **error_detail)
{
	if (!cJSON_IsObject(edited)) {
		cJSON_Delete(edited);
		return cog__error(COG_ESCHEMA, "tool '%s': the approver's edited arguments are not "
			"a JSON object", def->name);
	}
	int rc = cog__schema_check(def->input_schema, edited, error_detail);
	if (rc) {
		cJSON_Delete(edited);
		return cog__error_wrap(rc, "tool '%s': the approver's edited arguments", def->name);
	}
	cJSON_Delete(*arguments);
	*arguments = edited;
	return COG_OK;
}

/* Apply a recorded decision: 0 (approved), COG_EDENIED, or COG_EPENDING
 * while nobody has decided. */
static int apply_record(const tool_def *def, const cJSON *record, cJSON **arguments,
                        cJSON **error_detail)
{
	const char *state = cog_json_get_string(record, "state");
	const char *id = cog_json_get_string(record, "id");
	if (state && strcmp(state, "denied") == 0)
		return cog__error(COG_EDENIED, "tool '%s': the approver denied this call "
			"(approval %s)", def->name, id ? id : "?");
	if (state && strcmp(state, "approved") == 0) {
		const cJSON *edited = cJSON_GetObjectItemCaseSensitive(record, "edited_arguments");
		if (!edited || cJSON_IsNull(edited))
			return COG_OK;
		cJSON *copy = cJSON_Duplicate(edited, 1);
		return copy ? take_edit(def, copy, arguments, error_detail) : cog__oom("approval");
	}
	return COG_EPENDING;
}

/* Ask the hook. *deferred tells a DEFER from "no hook". */
static int ask_hook(tool_registry *reg, const tool_def *def, const cJSON *request,
                    cJSON **arguments, cJSON **error_detail, bool *deferred)
{
	pthread_rwlock_rdlock(&reg->lock);
	cog_approval_fn hook = reg->approval_fn;
	void *ud = reg->approval_ud;
	pthread_rwlock_unlock(&reg->lock);
	*deferred = false;
	if (!hook)
		return COG_EPENDING;
	char *text = cog_json_print(request);
	if (!text)
		return cog__oom("approval");
	char *edited = NULL;
	cog_error_clear();
	int decision = hook(text, &edited, ud);
	cog_free(text);
	if (decision < 0) {
		char why[512];
		snprintf(why, sizeof(why), "%s", cog_error_last_code() ? cog_error_last() :
			"no message");
		cog_free(edited);
		return cog__error(COG_EUSER, "tool '%s': the approval hook failed (%d): %s",
			def->name, decision, why);
	}
	if (decision != COG_APPROVAL_EDIT)
		cog_free(edited);
	switch (decision) {
	case COG_APPROVAL_APPROVE:
		return COG_OK;
	case COG_APPROVAL_DENY:
		return cog__error(COG_EDENIED, "tool '%s': the approver denied this call",
			def->name);
	case COG_APPROVAL_EDIT: {
		if (!edited)
			return cog__error(COG_EUSER, "tool '%s': the approval hook chose EDIT without "
				"edited arguments", def->name);
		cJSON *parsed = NULL;
		int rc = tool_json_has_nul(edited) ?
			cog__error(COG_EINVAL, "strings may not contain \\u0000") :
			cog_json_parse(&parsed, edited, "JSON");
		cog_free(edited);
		if (rc)
			return cog__error_wrap(COG_ESCHEMA, "tool '%s': the approver's edited arguments",
				def->name);
		return take_edit(def, parsed, arguments, error_detail);
	}
	case COG_APPROVAL_DEFER:
		*deferred = true;
		return COG_EPENDING;
	default:
		return cog__error(COG_EUSER, "tool '%s': the approval hook returned %d, not a "
			"cog_approval", def->name, decision);
	}
}

int tool_approval_check(tool_registry *reg, tool_def *def, const char *call_id,
                        const char *principal, const char *agent, const char *reason,
                        cJSON **arguments, cJSON **error_detail, char id[33],
                        bool *consume)
{
	*error_detail = NULL;
	*consume = false;
	cog_storage *storage = tool_storage(reg);
	char *args_text = storage ? cog_json_print(*arguments) : NULL;
	if (!args_text)
		return cog__oom("approval");
	int rc = approval_id(def->name, call_id, principal, agent, args_text, id);
	cog_free(args_text);
	if (rc)
		return rc;

	cJSON *record = NULL;
	rc = approval_load(storage, id, &record);
	if (rc && rc != COG_ENOTFOUND)
		return rc;
	if (record) {
		rc = apply_record(def, record, arguments, error_detail);
		*consume = rc == COG_OK; /* an approval is good for one call */
		if (rc != COG_EPENDING) {
			cJSON_Delete(record);
			return rc;
		}
	}
	cJSON *request = make_request(id, def, call_id, principal, agent, *arguments,
		reason);
	if (!request) {
		cJSON_Delete(record);
		return cog__oom("approval");
	}
	bool deferred = false;
	rc = ask_hook(reg, def, request, arguments, error_detail, &deferred);
	if (record && rc != COG_EPENDING) {
		/* The hook decided what was pending: the record is done with,
		 * and no longer listed as waiting. */
		*consume = true;
	} else if (rc == COG_EPENDING && !deferred && !record) {
		rc = cog__error(COG_EDENIED, "tool '%s' needs approval and no approval hook is "
			"installed (cog_tool_set_approval_hook)", def->name);
	} else if (rc == COG_EPENDING && !record) {
		cJSON *existing = NULL;
		rc = approval_record_pending(storage, id, request, &existing);
		/* Decided between our look and our write (another process)? */
		if (rc == COG_OK && existing) {
			rc = apply_record(def, existing, arguments, error_detail);
			*consume = rc == COG_OK;
		} else if (rc == COG_OK) {
			rc = COG_EPENDING;
		}
		cJSON_Delete(existing);
	}
	if (rc == COG_EPENDING)
		cog__error(COG_EPENDING, "tool '%s': waiting for approval %s "
			"(cog_tool_approval_decide)", def->name, id);
	cJSON_Delete(request);
	cJSON_Delete(record);
	return rc;
}
