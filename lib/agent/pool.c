/*
 * Agent instances: spawned from a definition or taken idle from its pool,
 * given back to the pool, terminated from any thread, listed; their state
 * changes and the "agent.state" events. Every instance of a context is on
 * st->instances; the pool of a definition is its instances there marked
 * in_pool (few enough to scan).
 */
#include <stdio.h>
#include <string.h>

#include "registry_int.h"

const char *cog_agent_state_name(int state)
{
	static const char *const names[] = { "spawned", "idle", "busy", "done", "failed",
	                                     "terminated" };
	return state >= 0 && (size_t)state < COG_ARRAY_LEN(names) ? names[state] : "unknown";
}

const char *cog_agent_id(const cog_agent *a)
{
	return a ? a->id : "";
}

const char *cog_agent_name(const cog_agent *a)
{
	return a ? a->def->name : "";
}

int cog_agent_get_state(const cog_agent *a)
{
	return a ? atomic_load(&a->state) : COG_AGENT_TERMINATED;
}

/* The event's data (under st->lock, when the context has an event hook);
 * NULL when there is nobody to tell or on OOM. */
static cJSON *state_event_locked(const cog_agent *a, int state)
{
	if (!cog__ctx_has_event_hook(a->ctx))
		return NULL;
	cJSON *d = cJSON_CreateObject();
	if (!d || !cJSON_AddStringToObject(d, "agent_id", a->id) ||
	    !cJSON_AddStringToObject(d, "name", a->def->name) ||
	    !cJSON_AddStringToObject(d, "state", cog_agent_state_name(state)) ||
	    (a->plan_id[0] && !cJSON_AddStringToObject(d, "plan_id", a->plan_id)) ||
	    (a->task_id[0] && !cJSON_AddStringToObject(d, "task_id", a->task_id))) {
		cJSON_Delete(d);
		return NULL;
	}
	return d;
}

static void send_event(cog_ctx *ctx, cJSON *data)
{
	if (data)
		cog__event(ctx, "agent.state", data);
}

static void copy_id(char *dst, size_t size, const char *src)
{
	if (src)
		snprintf(dst, size, "%s", src);
}

void agent_set_state(cog_agent *a, int state, const char *plan_id, const char *task_id)
{
	agents_state *st = a->st;
	pthread_mutex_lock(&st->lock);
	/* terminated is final: a loop finishing late does not undo it */
	if (atomic_load(&a->state) == COG_AGENT_TERMINATED && state != COG_AGENT_TERMINATED) {
		pthread_mutex_unlock(&st->lock);
		return;
	}
	if (state == COG_AGENT_IDLE || state == COG_AGENT_SPAWNED) {
		a->plan_id[0] = '\0';
		a->task_id[0] = '\0';
	}
	copy_id(a->plan_id, sizeof a->plan_id, plan_id);
	copy_id(a->task_id, sizeof a->task_id, task_id);
	atomic_store(&a->state, state);
	cJSON *ev = state_event_locked(a, state);
	pthread_mutex_unlock(&st->lock);
	send_event(a->ctx, ev);
}

bool agent_should_stop(const cog_agent *a)
{
	return atomic_load(&a->terminate) || cog_ctx_is_canceled(a->ctx);
}

void agent_count_usage(cog_agent *a, uint64_t input_tokens, uint64_t output_tokens,
                       double cost)
{
	pthread_mutex_lock(&a->st->lock);
	a->turns++;
	a->input_tokens += input_tokens;
	a->output_tokens += output_tokens;
	a->cost += cost;
	pthread_mutex_unlock(&a->st->lock);
}

/* ---- the list and the pools ---- */

static void unlink_locked(agents_state *st, cog_agent *a)
{
	cog_agent **p = &st->instances;
	while (*p && *p != a)
		p = &(*p)->next;
	if (*p)
		*p = a->next;
}

static void instance_free(cog_agent *a)
{
	agent_def_unref(a->def);
	cog_free(a);
}

void agents_pool_drop_locked(agents_state *st, agent_def *def)
{
	cog_agent **p = &st->instances;
	while (*p) {
		cog_agent *a = *p;
		if (a->def == def && a->in_pool) {
			*p = a->next;
			instance_free(a);
		} else {
			p = &a->next;
		}
	}
}

int cog_agent_spawn(cog_agent **out, cog_ctx *ctx, const char *name)
{
	static const char fn[] = "cog_agent_spawn";
	COG_CHECK_ARG(out, fn, "out is NULL");
	*out = NULL;
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	COG_CHECK_ARG(name, fn, "name is NULL");
	agents_state *st;
	int rc = agents_get(ctx, &st);
	if (rc)
		return rc;
	agent_def *def = agents_find(st, name);
	if (!def)
		return cog__error_wrap(COG_ENOTFOUND, "%s", fn);
	cog_agent *a;
	pthread_mutex_lock(&st->lock);
	for (a = st->instances; a; a = a->next)
		if (a->def == def && a->in_pool) {
			a->in_pool = false;
			break;
		}
	pthread_mutex_unlock(&st->lock);
	if (a) {
		agent_def_unref(def); /* the instance has its own reference */
		*out = a;
		return COG_OK;
	}
	if (!(a = cog__calloc(1, sizeof(*a)))) {
		agent_def_unref(def);
		return cog__oom(fn);
	}
	a->ctx = ctx;
	a->st = st;
	a->def = def;
	cog_id id;
	cog_id_new(&id);
	cog_id_to_hex(&id, a->id);
	atomic_init(&a->state, COG_AGENT_SPAWNED);
	atomic_init(&a->terminate, false);
	pthread_mutex_lock(&st->lock);
	cog_agent **tail = &st->instances; /* oldest first, for the list */
	while (*tail)
		tail = &(*tail)->next;
	*tail = a;
	cJSON *ev = state_event_locked(a, COG_AGENT_SPAWNED);
	pthread_mutex_unlock(&st->lock);
	send_event(ctx, ev);
	agent_set_state(a, COG_AGENT_IDLE, NULL, NULL);
	*out = a;
	return COG_OK;
}

void cog_agent_free(cog_agent *a)
{
	if (!a)
		return;
	agents_state *st = a->st;
	cJSON *ev = NULL;
	bool drop;
	pthread_mutex_lock(&st->lock);
	size_t pooled = 0;
	for (const cog_agent *b = st->instances; b; b = b->next)
		pooled += b->def == a->def && b->in_pool;
	drop = atomic_load(&a->terminate) || a->def->removed || pooled >= a->def->max_idle;
	if (drop) {
		unlink_locked(st, a);
	} else {
		if (atomic_load(&a->state) != COG_AGENT_IDLE) {
			a->plan_id[0] = '\0';
			a->task_id[0] = '\0';
			atomic_store(&a->state, COG_AGENT_IDLE);
			ev = state_event_locked(a, COG_AGENT_IDLE);
		}
		a->in_pool = true;
	}
	pthread_mutex_unlock(&st->lock);
	/* pooled, it may already be another thread's: touch it no more */
	send_event(st->ctx, ev);
	if (drop)
		instance_free(a);
}

int cog_agent_terminate(cog_ctx *ctx, const char *agent_id)
{
	static const char fn[] = "cog_agent_terminate";
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	COG_CHECK_ARG(agent_id, fn, "agent_id is NULL");
	agents_state *st;
	int rc = agents_get(ctx, &st);
	if (rc)
		return rc;
	cJSON *ev = NULL;
	cog_agent *a;
	pthread_mutex_lock(&st->lock);
	for (a = st->instances; a && strcmp(a->id, agent_id) != 0; a = a->next)
		;
	if (a && atomic_load(&a->state) != COG_AGENT_TERMINATED) {
		atomic_store(&a->terminate, true);
		atomic_store(&a->state, COG_AGENT_TERMINATED);
		ev = state_event_locked(a, COG_AGENT_TERMINATED);
	}
	bool pooled = a && a->in_pool;
	if (pooled) /* nobody holds it: it goes now */
		unlink_locked(st, a);
	pthread_mutex_unlock(&st->lock);
	/* a busy instance is its holder's: it may be freed from here on */
	if (!a)
		return cog__error(COG_ENOTFOUND, "%s: no agent instance '%s'", fn, agent_id);
	send_event(ctx, ev);
	if (pooled)
		instance_free(a);
	return COG_OK;
}

static cJSON *instance_json(const cog_agent *a)
{
	cJSON *o = cJSON_CreateObject();
	if (!o || !cJSON_AddStringToObject(o, "id", a->id) ||
	    !cJSON_AddStringToObject(o, "name", a->def->name) ||
	    !cJSON_AddStringToObject(o, "role", a->def->role) ||
	    !cJSON_AddStringToObject(o, "state", cog_agent_state_name(atomic_load(&a->state))) ||
	    (a->plan_id[0] && !cJSON_AddStringToObject(o, "plan", a->plan_id)) ||
	    (a->task_id[0] && !cJSON_AddStringToObject(o, "task", a->task_id)) ||
	    !cJSON_AddNumberToObject(o, "turns", (double)a->turns) ||
	    !cJSON_AddNumberToObject(o, "input_tokens", (double)a->input_tokens) ||
	    !cJSON_AddNumberToObject(o, "output_tokens", (double)a->output_tokens) ||
	    !cJSON_AddNumberToObject(o, "cost", a->cost)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

int cog_agent_list(cog_ctx *ctx, char **json)
{
	static const char fn[] = "cog_agent_list";
	agents_state *st;
	int rc = agents_report_begin(ctx, json, fn, &st);
	if (rc)
		return rc;
	cJSON *arr = cJSON_CreateArray();
	pthread_mutex_lock(&st->lock);
	for (const cog_agent *a = st->instances; arr && a; a = a->next) {
		cJSON *o = instance_json(a);
		if (!o || !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			cJSON_Delete(arr);
			arr = NULL;
		}
	}
	pthread_mutex_unlock(&st->lock);
	return agents_report_end(arr, json, fn);
}
