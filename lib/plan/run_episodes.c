/*
 * Episodes of a run: when cog_run_options.episodic_namespace is set, every
 * task that ends and the run's outcome are appended to that namespace's
 * episodic memory (cognition/memory.h). The scheduler calls these with the
 * run's lock held (threaded runs) or on the calling thread, so the memory
 * handle is used by one thread at a time. A failure to record is a warning
 * in the log: memory is the run's history, not its result.
 */
#include <string.h>

#include "run_int.h"
#include "cognition/memory.h"

void run_episodes_close(plan_run *r)
{
	cog_memory_free(r->episodes);
	r->episodes = NULL;
}

static void record(plan_run *r, cJSON *ev)
{
	char *text = ev ? cog_json_print(ev) : NULL;
	cJSON_Delete(ev);
	int rc = text ? cog_memory_record_episode(r->episodes, text, NULL) : COG_ENOMEM;
	cog_free(text);
	if (rc)
		cog__log(r->ctx, COG_LOG_WARN, NULL, "plan %s: episodic memory: %s",
			r->plan->id, rc == COG_ENOMEM ? "out of memory" : cog_error_last());
}

static const char *status_name(int state)
{
	switch (state) {
	case COG_TASK_SUCCEEDED: return "succeeded";
	case COG_TASK_FAILED: return "failed";
	case COG_TASK_SKIPPED: return "skipped";
	case COG_TASK_UNCERTAIN: return "uncertain";
	default: return "ended";
	}
}

void run_episode_task(plan_run *r, const plan_task *t)
{
	if (!r->episodes)
		return;
	cJSON *ev = cJSON_CreateObject();
	bool failed = t->state != COG_TASK_SUCCEEDED;
	int64_t took = t->started_ms && t->finished_ms >= t->started_ms ?
		t->finished_ms - t->started_ms : 0;
	if (!ev || cog_json_add_string(ev, "kind", "task") ||
	    cog_json_add_string(ev, "plan", r->plan->id) ||
	    cog_json_add_string(ev, "task", t->id) ||
	    (t->title && cog_json_add_string(ev, "title", t->title)) ||
	    cog_json_add_string(ev, "status", status_name(t->state)) ||
	    cog_json_add_number(ev, "attempts", t->attempts) ||
	    cog_json_add_number(ev, "duration_ms", (double)took) ||
	    (failed && t->error && cog_json_add_string(ev, "error", t->error)) ||
	    (failed && cog_json_add_number(ev, "code", t->error_code))) {
		cJSON_Delete(ev);
		ev = NULL;
	}
	record(r, ev);
}

void run_episode_outcome(plan_run *r, int rc, uint64_t t0)
{
	if (!r->episodes)
		return;
	const char *status = rc == 0 ? "succeeded" : rc == COG_ECANCELED ? "canceled" :
		rc == COG_EUNCERTAIN ? "uncertain" : "failed";
	cJSON *ev = cJSON_CreateObject();
	if (!ev || cog_json_add_string(ev, "kind", "outcome") ||
	    cog_json_add_string(ev, "plan", r->plan->id) ||
	    (r->plan->goal && cog_json_add_string(ev, "goal", r->plan->goal)) ||
	    cog_json_add_string(ev, "status", status) ||
	    cog_json_add_number(ev, "code", rc) ||
	    cog_json_add_number(ev, "duration_ms", (double)(cog_clock_mono_ns() - t0) / 1e6) ||
	    cog_json_add_number(ev, "succeeded", (double)r->succeeded) ||
	    cog_json_add_number(ev, "failed", (double)r->failed) ||
	    cog_json_add_number(ev, "skipped", (double)r->skipped)) {
		cJSON_Delete(ev);
		ev = NULL;
	}
	record(r, ev);
}
