/*
 * Events of a run, for the context's event hook: task.ready, task.started,
 * task.succeeded, task.retrying, task.failed, task.skipped, plan.started
 * and plan.finished. The scheduler calls these only when the context has a
 * hook (run->events), so a run without one builds no JSON at all.
 */
#include <string.h>

#include "run_int.h"

static cJSON *task_data(const plan_run *r, const plan_task *t)
{
	cJSON *d = cJSON_CreateObject();
	if (d && (cog_json_add_string(d, "plan_id", r->plan->id) ||
	          cog_json_add_string(d, "task_id", t->id))) {
		cJSON_Delete(d);
		return NULL;
	}
	return d;
}

static void emit(plan_run *r, const char *type, cJSON *data)
{
	if (data)
		cog__event(r->ctx, type, data);
}

void run_emit_task(plan_run *r, const char *type, const plan_task *t)
{
	emit(r, type, task_data(r, t));
}

void run_emit_started(plan_run *r, const plan_task *t)
{
	cJSON *d = task_data(r, t);
	if (d && cog_json_add_number(d, "attempt", t->attempts)) {
		cJSON_Delete(d);
		d = NULL;
	}
	emit(r, "task.started", d);
}

void run_emit_ended(plan_run *r, const char *type, const plan_task *t, int64_t delay_ms)
{
	cJSON *d = task_data(r, t);
	bool failed = t->state != COG_TASK_SUCCEEDED;
	if (d && (cog_json_add_number(d, "attempt", t->attempts) ||
	    cog_json_add_number(d, "duration_ms",
		(double)(cog_clock_realtime_ms() - t->started_ms)) ||
	    (failed && (cog_json_add_number(d, "code", t->error_code) ||
	                cog_json_add_string(d, "error", t->error ? t->error : ""))) ||
	    (delay_ms >= 0 && cog_json_add_number(d, "delay_ms", (double)delay_ms)))) {
		cJSON_Delete(d);
		d = NULL;
	}
	emit(r, type, d);
}

void run_emit_skipped(plan_run *r, const plan_task *t)
{
	cJSON *d = task_data(r, t);
	if (d && cog_json_add_string(d, "reason", t->error ? t->error : "")) {
		cJSON_Delete(d);
		d = NULL;
	}
	emit(r, "task.skipped", d);
}

void run_emit_plan(plan_run *r, const char *type, int rc, uint64_t t0)
{
	const cog_plan *plan = r->plan;
	cJSON *d = cJSON_CreateObject();
	if (!d || cog_json_add_string(d, "plan_id", plan->id) ||
	    cog_json_add_number(d, "tasks", (double)plan->count)) {
		cJSON_Delete(d);
		return;
	}
	bool ok = true;
	if (strcmp(type, "plan.started") == 0) {
		ok = !cog_json_add_bool(d, "durable", r->journal != NULL);
	} else {
		const char *status = rc == 0 ? "succeeded" : rc == COG_ECANCELED ? "canceled" :
			rc == COG_EUNCERTAIN ? "uncertain" : "failed";
		ok = !cog_json_add_string(d, "status", status) &&
			!cog_json_add_number(d, "code", rc) &&
			!cog_json_add_number(d, "duration_ms",
				(double)(cog_clock_mono_ns() - t0) / 1e6) &&
			!cog_json_add_number(d, "succeeded", (double)r->succeeded) &&
			!cog_json_add_number(d, "failed", (double)r->failed) &&
			!cog_json_add_number(d, "skipped", (double)r->skipped) &&
			!cog_json_add_number(d, "uncertain", (double)r->uncertain) &&
			!cog_json_add_bool(d, "threaded", r->workers > 1);
	}
	if (ok)
		cog__event(r->ctx, type, d);
	else
		cJSON_Delete(d);
}
