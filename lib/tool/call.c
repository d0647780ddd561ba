/*
 * cog_tool_call(): one call through the whole pipeline — arguments checked
 * against the input schema, permissions, network grant, approval, the
 * runner, the result checked against the output schema, then the audit
 * entry. Every outcome a model can act on becomes an error object for it
 * ({"error":{"type":..,"message":..}}) beside the status. That error
 * object, the \u0000 test and the network-grant test: call_json.c.
 */
#include <stdio.h>
#include <string.h>

#include "permission.h"
#include "tool_int.h"
#include "trace_int.h"

static const size_t call_options_size[] = {
	0,
	offsetof(cog_tool_call_options, allow_unsandboxed) + sizeof(int),
};

int cog_tool_call_options_init(cog_tool_call_options *options, unsigned int version)
{
	COG_CHECK_ARG(options, "cog_tool_call_options_init", "options is NULL");
	if (version == 0 || version > COG_TOOL_CALL_OPTIONS_VERSION)
		return cog__error(COG_EVERSION, "cog_tool_call_options_init: version %u is not "
			"supported (1..%u)", version, COG_TOOL_CALL_OPTIONS_VERSION);
	cog_tool_call_options defaults = COG_TOOL_CALL_OPTIONS_INIT;
	memcpy(options, &defaults, call_options_size[version]);
	options->version = version;
	return COG_OK;
}

/* The state of one call as it goes down the pipeline. */
typedef struct call_state {
	tool_registry *reg;
	tool_def *def;
	const char *name;
	cog_tool_call_options o;
	const char *call_id;
	cJSON *arguments;
	char *result;           /* result text or error object for the model */
	const char *outcome;
	uint64_t start_ns;
	char approval_id[33];
	bool approval_used;     /* its record is to be removed after the call */
	unsigned int flags;     /* COG__TOOL_CALL_* */
} call_state;

/* Outcome names of the audit log and error types of the model's object. */
static const char *outcome_of(int rc)
{
	switch (rc) {
	case COG_OK: return "ok";
	case COG_ESCHEMA: return "invalid_arguments";
	case COG_EDENIED: return "denied";
	case COG_EPENDING: return "approval_pending";
	case COG_ETIMEOUT: return "timeout";
	case COG_ECANCELED: return "canceled";
	case COG_EUNAVAILABLE: return "unavailable";
	case COG_ENOTFOUND: return "not_found";
	default: return "tool_error";
	}
}

/* Fail the call with `rc`: the model's error object from the current
 * error message (and details, consumed). */
static int fail(call_state *cs, int rc, const char *type, cJSON *details)
{
	char message[1024];
	snprintf(message, sizeof(message), "%s", cog_error_last());
	cs->outcome = type;
	cog_free(cs->result);
	cs->result = tool_error_json(type, message, details);
	cog__error(rc, "%s", message); /* keep the message for the caller */
	return rc;
}

/* The principal's roles and the agent's allow-list: permission.c. */
static int check_permission(call_state *cs)
{
	return tool_permission_check(cs->reg, cs->def->name, cs->o.allowed_tools, cs->o.agent,
		cs->o.principal);
}

static int validate_arguments(call_state *cs)
{
	cJSON *errors = NULL;
	int rc = cog__schema_check(cs->def->input_schema, cs->arguments, &errors);
	if (rc == COG_ESCHEMA) {
		cog__error_wrap(rc, "invalid arguments for tool '%s'", cs->def->name);
		return fail(cs, rc, "invalid_arguments", errors);
	}
	cJSON_Delete(errors);
	return rc;
}

/* Run the tool and check what it returned. */
static int run(call_state *cs)
{
	pthread_rwlock_rdlock(&cs->reg->lock);
	char *workspace = cog__strdup(cs->o.workspace ? cs->o.workspace : cs->reg->workspace);
	bool ws_missing = !workspace && (cs->o.workspace || cs->reg->workspace);
	pthread_rwlock_unlock(&cs->reg->lock);
	char *arguments = cog_json_print(cs->arguments);
	if (!arguments || ws_missing) {
		cog_free(workspace);
		cog_free(arguments);
		return cog__oom("cog_tool_call");
	}
	unsigned int timeout = cs->o.timeout_ms ? cs->o.timeout_ms : cs->def->timeout_ms;
	cog_tool_request request = {
		COG_TOOL_REQUEST_VERSION, cs->reg->ctx, cs->def->name, arguments, cs->call_id,
		workspace, cs->o.allowed_hosts ? cs->o.allowed_hosts : "[]", timeout,
		cs->o.allow_unsandboxed, cs->o.principal, cs->def->max_output_bytes,
	};
	char *result = NULL;
	cog_error_clear();
	int rc = cs->def->fn ? cs->def->fn(&request, &result, cs->def->user_data)
	                     : tool_command_run(cs->def, &request, &result);
	cog_free(workspace);
	cog_free(arguments);
	if (rc > 0 || (rc == COG_OK && !result)) {
		cog_free(result);
		cog__error(COG_EUSER, "tool '%s' returned %d without %s", cs->def->name, rc,
			rc ? "a negative status" : "a result");
		return fail(cs, COG_EUSER, "tool_error", NULL);
	}
	if (rc) {
		cog_free(result);
		if (cog_error_last_code() == COG_OK)
			cog__error(rc, "tool '%s' failed: %s", cs->def->name, cog_strerror(rc));
		switch (rc) {
		case COG_ETIMEOUT: case COG_ECANCELED: case COG_EUNAVAILABLE: case COG_EDENIED:
			return fail(cs, rc, outcome_of(rc), NULL);
		case COG_ENOTFOUND: /* a missing file, say: not a missing tool */
			return fail(cs, rc, "tool_error", NULL);
		case COG_ENOMEM:
			return fail(cs, rc, "tool_error", NULL);
		default: /* the runner's own failure, whatever code it chose */
			return fail(cs, COG_EUSER, "tool_error", NULL);
		}
	}
	size_t len = strlen(result);
	if (len > cs->def->max_output_bytes) {
		cog_free(result);
		cog__error(COG_ERANGE, "tool '%s' returned %zu bytes, over its limit of %zu",
			cs->def->name, len, cs->def->max_output_bytes);
		return fail(cs, COG_EUSER, "invalid_result", NULL);
	}
	cJSON *parsed = NULL;
	if (tool_json_has_nul(result)) {
		cog_free(result);
		cog__error(COG_EINVAL, "tool '%s' returned a string holding \\u0000", cs->def->name);
		return fail(cs, COG_EUSER, "invalid_result", NULL);
	}
	if ((rc = cog_json_parse(&parsed, result, "tool result"))) {
		cog_free(result);
		cog__error_wrap(rc, "tool '%s' returned invalid JSON", cs->def->name);
		return fail(cs, COG_EUSER, "invalid_result", NULL);
	}
	if (cs->def->output_schema) {
		cJSON *errors = NULL;
		rc = cog__schema_check(cs->def->output_schema, parsed, &errors);
		if (rc) {
			cJSON_Delete(parsed);
			cog_free(result);
			cog__error_wrap(rc, "tool '%s' returned a result its output schema rejects",
				cs->def->name);
			return fail(cs, rc, "invalid_result", errors);
		}
	}
	cJSON_Delete(parsed);
	cs->result = result;
	cs->outcome = "ok";
	return COG_OK;
}

static int pipeline(call_state *cs, const char *arguments_json)
{
	if (!cs->def) {
		cog__error(COG_ENOTFOUND, "no tool named '%s'", cs->name);
		return fail(cs, COG_ENOTFOUND, "not_found", NULL);
	}
	int rc = cog_json_parse(&cs->arguments, arguments_json ? arguments_json : "{}",
		"arguments");
	if (rc == COG_OK && !cJSON_IsObject(cs->arguments))
		rc = cog__error(COG_EINVAL, "arguments: a JSON object is expected");
	/* cJSON's strings end at a NUL: "a\u0000b" would silently become "a". */
	if (rc == COG_OK && tool_json_has_nul(arguments_json ? arguments_json : ""))
		rc = cog__error(COG_EINVAL, "arguments: strings may not contain \\u0000");
	if (rc) {
		cog__error_wrap(rc, "tool '%s'", cs->def->name);
		fail(cs, rc, "invalid_arguments", NULL);
		return rc;
	}
	/* Permissions first: a principal who may not call the tool learns
	 * nothing about its schema from the errors. */
	if ((rc = check_permission(cs)))
		return fail(cs, rc, rc == COG_EDENIED ? "denied" : outcome_of(rc), NULL);
	if ((rc = validate_arguments(cs)))
		return rc;
	if ((cs->def->flags & COG_TOOL_NEEDS_NETWORK) && !tool_network_granted(cs->o.allowed_hosts)) {
		cog__error(COG_EDENIED, "tool '%s' needs the network and the call has no network "
			"grant (allowed_hosts)", cs->def->name);
		return fail(cs, COG_EDENIED, "denied", NULL);
	}
	bool effects = (cs->def->flags & COG_TOOL_SIDE_EFFECTS) != 0;
	if (effects && (cs->flags & COG__TOOL_CALL_DENY_EFFECTS)) {
		cog__error(COG_EDENIED, "tool '%s' has side effects and content flagged as a "
			"possible prompt injection entered this run, so the policy denies the call",
			cs->def->name);
		return fail(cs, COG_EDENIED, "denied", NULL);
	}
	bool injection = effects && (cs->flags & COG__TOOL_CALL_APPROVE_EFFECTS);
	if ((cs->def->flags & COG_TOOL_NEEDS_APPROVAL) || injection) {
		cJSON *details = NULL;
		rc = tool_approval_check(cs->reg, cs->def, cs->call_id, cs->o.principal, cs->o.agent,
			injection ? "injection" : NULL, &cs->arguments, &details, cs->approval_id,
			&cs->approval_used);
		if (rc == COG_EDENIED && injection && !(cs->def->flags & COG_TOOL_NEEDS_APPROVAL))
			cog__error_wrap(rc, "content flagged as a possible prompt injection entered "
				"this run, so calls of tools with side effects need approval");
		if (rc)
			return fail(cs, rc, rc == COG_ESCHEMA ? "invalid_arguments" :
				rc == COG_EUSER ? "tool_error" : outcome_of(rc), details);
	}
	if (cog_ctx_is_canceled(cs->reg->ctx)) {
		cog__error(COG_ECANCELED, "tool '%s': the context was canceled", cs->def->name);
		return fail(cs, COG_ECANCELED, "canceled", NULL);
	}
	return run(cs);
}

static void emit_event(call_state *cs, int rc, double ms)
{
	if (!cog__ctx_has_event_hook(cs->reg->ctx))
		return;
	cJSON *data = cJSON_CreateObject();
	if (!data || cog_json_add_string(data, "tool", cs->name) ||
	    cog_json_add_string(data, "call_id", cs->call_id) ||
	    cog_json_add_string(data, "outcome", cs->outcome) ||
	    cog_json_add_number(data, "status", rc) ||
	    cog_json_add_number(data, "duration_ms", ms) ||
	    (cs->o.agent && cog_json_add_string(data, "agent", cs->o.agent))) {
		cJSON_Delete(data);
		return;
	}
	cog__event(cs->reg->ctx, "tool.call", data);
}

/* Call ids end up in logs, listings and terminals: printable UTF-8 only. */
static bool call_id_ok(const char *id)
{
	size_t len = strlen(id);
	if (len == 0 || len > 512 || !cog_utf8_valid(id, len, NULL))
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)id[i] < 0x20 || id[i] == 0x7f)
			return false;
	return true;
}

int cog_tool_call(cog_ctx *ctx, const char *name, const char *arguments_json,
                  const cog_tool_call_options *options, char **result_json)
{
	return cog__tool_call_ex(ctx, name, arguments_json, options, 0, result_json);
}

int cog__tool_call_ex(cog_ctx *ctx, const char *name, const char *arguments_json,
                      const cog_tool_call_options *options, unsigned int flags,
                      char **result_json)
{
	static const char fn[] = "cog_tool_call";
	COG_CHECK_ARG(result_json, fn, "result_json is NULL");
	*result_json = NULL;
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	COG_CHECK_ARG(name, fn, "name is NULL");
	call_state cs = { .name = name, .outcome = "tool_error", .start_ns = cog_clock_mono_ns(),
		.flags = flags };
	cs.o = (cog_tool_call_options)COG_TOOL_CALL_OPTIONS_INIT;
	if (options) {
		if (options->version == 0 || options->version > COG_TOOL_CALL_OPTIONS_VERSION)
			return cog__error(COG_EVERSION, "%s: options version %u is not supported "
				"(1..%u)", fn, options->version, COG_TOOL_CALL_OPTIONS_VERSION);
		memcpy(&cs.o, options, call_options_size[options->version]);
	}
	if (cs.o.call_id && !call_id_ok(cs.o.call_id))
		return cog__error(COG_EINVAL, "%s: call_id must be 1 to 512 bytes of UTF-8 "
			"without control characters", fn);
	int rc = tool_registry_get(ctx, &cs.reg);
	if (rc)
		return rc;
	cog__json_init();
	char generated[33];
	if (!cs.o.call_id) {
		cog_id id;
		cog_id_new(&id);
		cog_id_to_hex(&id, generated);
		cs.o.call_id = generated;
	}
	cs.call_id = cs.o.call_id;
	cs.def = tool_find(cs.reg, name);

	char span_name[160];
	snprintf(span_name, sizeof(span_name), "execute_tool %.140s", name);
	cog_span *span = cog__span_begin(ctx, "tool", span_name, NULL);
	cog__span_attr_str(span, "gen_ai.operation.name", "execute_tool");
	cog__span_attr_str(span, "gen_ai.tool.name", name);
	cog__span_attr_str(span, "gen_ai.tool.call.id", cs.call_id);
	rc = pipeline(&cs, arguments_json);
	char saved[1024];
	snprintf(saved, sizeof(saved), "%s", rc ? cog_error_last() : "");
	/* An approval is good for one call: gone once the call has been made
	 * (a crash before this line makes a plan's task uncertain instead). */
	int used_rc = cs.approval_used ? approval_consume(tool_storage(cs.reg),
		cs.approval_id) : COG_OK;
	if (used_rc)
		cog__log(ctx, COG_LOG_WARN, NULL, "tool '%s': %s", name, cog_error_last());

	double ms = (double)(cog_clock_mono_ns() - cs.start_ns) / 1e6;
	tool_audit_entry entry = {
		cs.o.principal, cs.o.agent, name, cs.call_id, cs.arguments,
		cs.result, cs.result ? strlen(cs.result) : 0, ms, cs.outcome,
		rc ? saved : NULL,
	};
	int audit_rc = tool_audit_append(cs.reg, &entry);
	emit_event(&cs, rc, ms);
	cJSON_Delete(cs.arguments);
	tool_release(cs.def);
	cog__span_attr_str(span, "cog.tool.outcome", cs.outcome);
	if (audit_rc) {
		cog_free(cs.result);
		rc = cog__error_wrap(audit_rc, "%s: tool '%s': the audit log could not be "
			"written, so the call's result is withheld", fn, name);
		cog__span_end(span, rc, cog_error_last());
		return rc;
	}
	cog__span_end(span, rc, rc ? saved : NULL);
	if (rc && rc != COG_ENOMEM && !cs.result)
		return cog__oom(fn);
	*result_json = cs.result;
	if (rc)
		cog__error(rc, "%s", saved);
	return rc;
}
