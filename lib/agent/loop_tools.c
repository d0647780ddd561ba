/*
 * The tool calls of one LLM answer. Answers already in the journal are
 * taken from it first, on the loop's thread (so what replays does not
 * depend on thread timing); the others run through the tool layer (schema,
 * permissions, approvals, sandbox, audit) with the agent's name and
 * allow-list, each with call id "<prefix>/<turn>.<index>", on threads when
 * there are several. Each thread enters the turn's span, so the tool spans
 * nest under it. Results go back to the model in call order, marked as
 * data.
 *
 * What stops the run: a call waiting for approval (COG_EPENDING: not
 * journaled, so the re-run calls it again with the same call id), a cancel,
 * a journal that cannot be written, a call that gives no result at all
 * (the audit log failed, out of memory). Everything else (invalid
 * arguments, an unknown tool, a denied call, the tool's own error) is a
 * result the model reads and may act on.
 *
 * Injection. Each result is scanned as soon as it is there (a replayed
 * one before any call starts), so a call that starts after content was
 * flagged follows the policy. The calls of side-effecting tools (and
 * handoffs) wait until the other calls of the answer are done and scanned:
 * "fetch a page" and "send mail" in the same answer, the mail is held back
 * when the page was flagged. Side-effecting calls of one answer still run
 * side by side, and one does not see what another returns.
 */
#include <stdio.h>
#include <string.h>

#include "loop_int.h"
#include "journal_int.h"
#include "tool_int.h"

#define MAX_THREADS 8

typedef struct tool_job {
	loop_run *r;
	const cJSON *call;
	unsigned int index;
	bool replayed;
	bool effects;              /* side-effecting tool or handoff: 2nd phase */
	char hash[33];
	int status;
	cJSON *result;             /* for the model */
	char *shown;               /* result as the model gets it (scanned) */
	bool stop;                 /* the run stops with status */
	char *message;             /* the error of a stop (that thread's), or NULL */
} tool_job;

typedef struct tool_batch {
	tool_job **jobs;           /* of the phase */
	size_t n;
	atomic_size_t next;
	cog_span *span;
} tool_batch;

static void fail_job(tool_job *j, int status)
{
	j->stop = true;
	j->status = status;
	cog_free(j->message);
	j->message = cog__strdup(cog_error_last());  /* NULL: the status alone */
}

static const char *message_of(const tool_job *j)
{
	return j->message ? j->message : cog_strerror(j->status);
}

/* {"error":{"type":..,"message":..}} */
static cJSON *error_object(const char *type, const char *message)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *e = o ? cJSON_AddObjectToObject(o, "error") : NULL;
	if (!e || !cJSON_AddStringToObject(e, "type", type) ||
	    !cJSON_AddStringToObject(e, "message", message)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static void run_handoff(tool_job *j, const cJSON *args)
{
	loop_run *r = j->r;
	int rc = agent_handoff_run(r->a, args, r->env, r->turn, j->index, &j->result);
	j->status = rc;
	if (rc == COG_EPENDING || rc == COG_ECANCELED || rc == COG_EIO || rc == COG_ENOMEM) {
		fail_job(j, rc);
	} else if (rc && !j->result) {
		j->result = error_object("tool_error", cog_error_last());
		if (!j->result)
			fail_job(j, cog__oom("agent: handoff"));
	}
}

static void run_tool(tool_job *j, const char *name, const cJSON *args)
{
	loop_run *r = j->r;
	char call_id[COG_TASK_ID_MAX + COG_PLAN_ID_MAX + 64];
	cog_tool_call_options o = r->tool_options;
	if (r->env->call_prefix && *r->env->call_prefix) {
		snprintf(call_id, sizeof(call_id), "%s/%u.%u", r->env->call_prefix, r->turn,
		         j->index);
		o.call_id = call_id;
	}
	char *args_text = cog_json_print(args), *result = NULL;
	if (!args_text) {
		fail_job(j, cog__oom("agent: tool arguments"));
		return;
	}
	/* once flagged content entered the run (or its parent, or one of its
	 * handoffs), side-effecting tools follow the injection policy: read
	 * now, as the call starts */
	int rc = cog__tool_call_ex(r->a->ctx, name, args_text, &o, loop_inject_flags(r),
	                           &result);
	cog_free(args_text);
	j->status = rc;
	if (!result) {
		fail_job(j, cog__error_wrap(rc ? rc : COG_EPROTO, "agent '%s' turn %u: tool "
			"call %u ('%s') gave no result", r->a->def->name, r->turn, j->index, name));
		return;
	}
	j->result = cJSON_Parse(result);
	if (!j->result)
		j->result = cJSON_CreateString(result);
	cog_free(result);
	if (!j->result) {
		fail_job(j, cog__oom("agent: tool result"));
		return;
	}
	if (rc == COG_EPENDING || rc == COG_ECANCELED) {
		fail_job(j, cog__error_wrap(rc, "agent '%s' turn %u: tool '%s' (call %s)",
			r->a->def->name, r->turn, name, o.call_id ? o.call_id : "without an id"));
		return;
	}
	/* durable with the answer's other results, before the next LLM call */
	rc = agent_journal_queue(r->env->journal, "tool", r->turn, j->index, j->hash, rc,
	                         j->result);
	if (rc)
		fail_job(j, rc);
}

static void run_job(tool_job *j)
{
	loop_run *r = j->r;
	if (j->replayed)
		return;
	if (agent_env_canceled(r->a, r->env)) {
		fail_job(j, cog__error(COG_ECANCELED, "agent '%s' turn %u: canceled",
		                       r->a->def->name, r->turn));
		return;
	}
	const char *name = cog_json_get_string(j->call, "name");
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(j->call, "arguments");
	if (!name || !*name) {
		j->status = COG_EINVAL;
		j->result = error_object("invalid_arguments", "the tool call names no tool");
	} else if (!cJSON_IsObject(args)) {
		const char *text = cog_json_get_string(j->call, "arguments_text");
		cog_buf b = COG_BUF_INIT;
		cog_buf_printf(&b, "the arguments are not a JSON object: %.2000s",
		               text ? text : "(none)");
		j->status = COG_EINVAL;
		j->result = b.failed ? NULL : error_object("invalid_arguments", b.ptr);
		cog_buf_dispose(&b);
	} else if (r->handoff && strcmp(name, "handoff") == 0) {
		run_handoff(j, args);
		return;
	} else {
		run_tool(j, name, args);
		return;
	}
	if (!j->result)
		fail_job(j, cog__oom("agent: tool result"));
}

/* The result's text for the model, scanned: flagged, it taints the run
 * at once (calls starting from now on follow the policy). */
static void scan_job(tool_job *j)
{
	if (j->stop || !j->result)
		return;
	loop_run *r = j->r;
	const char *name = cog_json_get_string(j->call, "name");
	char source[COG_TOOL_NAME_MAX + 16];
	snprintf(source, sizeof(source), "tool:%.*s", COG_TOOL_NAME_MAX, name ? name : "");
	j->shown = cJSON_IsString(j->result) ? cog__strdup(j->result->valuestring)
	                                     : cog_json_print(j->result);
	int rc = j->shown ? loop_inject_scan_json(r, source, j->result, j->shown)
	                  : cog__oom("agent: tool result");
	if (rc)
		fail_job(j, rc);
}

static void *worker(void *arg)
{
	tool_batch *b = arg;
	cog_span *prev = cog__span_enter(b->span);
	for (;;) {
		size_t i = atomic_fetch_add(&b->next, 1);
		if (i >= b->n)
			break;
		if (!b->jobs[i]->replayed) {
			run_job(b->jobs[i]);
			scan_job(b->jobs[i]);
		}
	}
	cog__span_leave(prev);
	return NULL;
}

/* Look the call up in the journal (loop thread). */
/* Whether the call changes something (a tool flagged
 * COG_TOOL_SIDE_EFFECTS, or a handoff, whose sub-run may call them). */
static bool has_effects(const loop_run *r, const char *name)
{
	if (!name)
		return false;
	if (r->handoff && strcmp(name, "handoff") == 0)
		return true;
	tool_registry *reg = NULL;
	if (tool_registry_get(r->a->ctx, &reg) != COG_OK)
		return true;  /* out of memory: the call will fail anyway */
	tool_def *def = tool_find(reg, name);
	bool effects = def && (def->flags & COG_TOOL_SIDE_EFFECTS);
	if (def)
		tool_release(def);
	return effects;
}

static int replay(tool_job *j)
{
	loop_run *r = j->r;
	const char *name = cog_json_get_string(j->call, "name");
	j->effects = has_effects(r, name);
	if (!r->env->journal)
		return COG_OK;  /* the hash is the journal's only */
	cJSON *key = cJSON_CreateObject();
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(j->call, "arguments");
	if (!key || !cJSON_AddStringToObject(key, "name", name ? name : "") ||
	    !cJSON_AddItemToObject(key, "arguments", args ? cJSON_Duplicate(args, 1)
	                                                 : cJSON_CreateNull())) {
		cJSON_Delete(key);
		return cog__oom("agent: tool call");
	}
	agent_journal_hash(key, j->hash);
	cJSON_Delete(key);
	if (r->handoff && name && strcmp(name, "handoff") == 0)
		return COG_OK;  /* handoff.c journals its own */
	int rc = agent_journal_find(r->env->journal, "tool", r->turn, j->index, j->hash,
	                            &j->status, &j->result);
	if (rc == COG_OK) {
		j->replayed = true;
		scan_job(j);  /* its taint before any call of the answer starts */
		return j->stop ? j->status : COG_OK;
	}
	return rc == COG_ENOTFOUND ? COG_OK : rc;
}

static int append_result(loop_run *r, const tool_job *j)
{
	const char *name = cog_json_get_string(j->call, "name");
	const char *id = cog_json_get_string(j->call, "id");
	char source[COG_TOOL_NAME_MAX + 16];
	snprintf(source, sizeof(source), "tool:%.*s", COG_TOOL_NAME_MAX, name ? name : "");
	/* scanned when it came (scan_job) */
	char *marked = j->shown ? loop_mark_data(source, j->shown) : NULL;
	cJSON *m = cJSON_CreateObject();
	bool ok = marked && m && cJSON_AddStringToObject(m, "role", "tool") &&
		cJSON_AddStringToObject(m, "tool_call_id", id ? id : "") &&
		cJSON_AddStringToObject(m, "name", name ? name : "") &&
		cJSON_AddStringToObject(m, "content", marked);
	cog_free(marked);
	if (!ok || !cJSON_AddItemToArray(r->messages, m)) {
		cJSON_Delete(m);
		return cog__oom("agent: tool result");
	}
	return COG_OK;
}

/* Run the jobs of one phase (on threads when several). */
static void run_phase(tool_batch *b)
{
	pthread_t threads[MAX_THREADS];
	size_t started = 0, want = b->n > MAX_THREADS ? MAX_THREADS : b->n;
	atomic_store(&b->next, 0);
	for (; b->n > 1 && started < want; started++) {
		if (pthread_create(&threads[started], NULL, worker, b) != 0)
			break;
	}
	worker(b);  /* this thread helps (and runs everything when n is 1) */
	for (size_t t = 0; t < started; t++)
		pthread_join(threads[t], NULL);
}

int loop_run_tools(loop_run *r, const cJSON *tool_calls, cog_span *span)
{
	size_t n = (size_t)cJSON_GetArraySize(tool_calls);
	if (n == 0)
		return COG_OK;
	/* The answer asking for these calls is durable before any of them
	 * starts (agent_llm_call only queued it). */
	int synced = agent_journal_sync(r->env->journal);
	if (synced)
		return synced;
	tool_job local[4];  /* most answers: no allocation */
	tool_job *local_order[4];
	tool_job *jobs = n <= 4 ? local : cog__calloc(n, sizeof(tool_job));
	tool_job **order = n <= 4 ? local_order : cog__calloc(n, sizeof(tool_job *));
	if (!jobs || !order) {
		if (jobs != local)
			cog_free(jobs);
		if (order != local_order)
			cog_free(order);
		return cog__oom("agent: tool calls");
	}
	int rc = COG_OK;
	size_t i = 0;
	const cJSON *c;
	cJSON_ArrayForEach(c, tool_calls) {
		jobs[i] = (tool_job){ .r = r, .call = c, .index = (unsigned int)i };
		if (!rc)
			rc = replay(&jobs[i]);
		i++;
	}
	if (!rc) {
		/* first the calls without side effects, then the others: what the
		 * first bring in taints the run before the others start */
		size_t n_first = 0, k = 0;
		for (i = 0; i < n; i++)
			if (!jobs[i].effects)
				order[n_first++] = &jobs[i];
		k = n_first;
		for (i = 0; i < n; i++)
			if (jobs[i].effects)
				order[k++] = &jobs[i];
		tool_batch b = { order, n_first, 0, span };
		if (n_first)
			run_phase(&b);
		b = (tool_batch){ order + n_first, n - n_first, 0, span };
		if (n > n_first)
			run_phase(&b);
	}
	/* The results the calls queued: durable before anything goes on (the
	 * next LLM call sees them), in one commit. */
	synced = agent_journal_sync(r->env->journal);
	r->tool_calls += (unsigned int)n;
	for (i = 0; i < n && !rc; i++) {
		if (jobs[i].stop)
			rc = cog__error(jobs[i].status, "%s", message_of(&jobs[i]));
	}
	if (!rc && synced)
		rc = synced;  /* its message is the last error */
	/* A stop for approval wins over the other stops: the run is resumable. */
	for (i = 0; i < n && rc && rc != COG_EPENDING; i++) {
		if (jobs[i].stop && jobs[i].status == COG_EPENDING)
			rc = cog__error(COG_EPENDING, "%s", message_of(&jobs[i]));
	}
	for (i = 0; i < n && !rc; i++)
		rc = append_result(r, &jobs[i]);
	for (i = 0; i < n; i++) {
		cJSON_Delete(jobs[i].result);
		cog_free(jobs[i].shown);
		cog_free(jobs[i].message);
	}
	if (jobs != local)
		cog_free(jobs);
	if (order != local_order)
		cog_free(order);
	return rc;
}
