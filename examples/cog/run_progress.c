/*
 * The live display of `cog run` on stderr, fed by the context's event hook
 * (task.* events from the scheduler, "agent.state" and "agent.turn" from
 * the agents). On a terminal a few lines are redrawn in place:
 *
 *   plan 0190...  7/16 done  0:04
 *   pending 6  running 3  succeeded 7  failed 0  skipped 0
 *   tokens 1,204 in / 310 out  cost $0.0042
 *     sql_by_dim1     tool
 *     narrative       agent executor  812 tokens
 *
 * Elsewhere (a pipe, a log file) one plain line per event worth telling.
 * Events come from worker threads: one lock guards the state and the
 * writing. Text from events (task ids, error messages) goes out without
 * control characters.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "cli.h"

#define SHOWN_RUNNING 6   /* running tasks listed on a terminal */

enum { ST_PENDING, ST_RUNNING, ST_SUCCEEDED, ST_FAILED, ST_SKIPPED, ST_COUNT };
static const char *const state_names[ST_COUNT] = {
	"pending", "running", "succeeded", "failed", "skipped"
};

typedef struct task_view {
	char id[128];
	int state;
	char agent[64];       /* the agent running it, if any */
	double tokens;        /* its agent's tokens so far */
} task_view;

static struct {
	pthread_mutex_t lock;
	bool active, terminal, quiet;
	char plan_id[64];
	size_t task_count;
	task_view *tasks;
	size_t count, cap;
	double input_tokens, output_tokens, cost;
	int lines_drawn;
	struct timespec started;
} view = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* s without control characters, at most size - 1 bytes. */
static void clean_copy(char *out, size_t size, const char *s)
{
	size_t n = 0;
	for (; s && *s && n + 1 < size; s++)
		out[n++] = (unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s;
	out[n] = '\0';
}

static const char *str(const cJSON *o, const char *name)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, name));
}

static double num(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static task_view *find_task(const char *id)
{
	for (size_t i = 0; i < view.count; i++)
		if (strcmp(view.tasks[i].id, id) == 0)
			return &view.tasks[i];
	if (view.count == view.cap) {
		size_t cap = view.cap ? view.cap * 2 : 32;
		task_view *grown = realloc(view.tasks, cap * sizeof(*grown));
		if (!grown)
			return NULL;
		view.tasks = grown;
		view.cap = cap;
	}
	task_view *t = &view.tasks[view.count++];
	memset(t, 0, sizeof(*t));
	clean_copy(t->id, sizeof(t->id), id);
	return t;
}

static void count_states(size_t counts[ST_COUNT])
{
	memset(counts, 0, ST_COUNT * sizeof(*counts));
	for (size_t i = 0; i < view.count; i++)
		counts[view.tasks[i].state]++;
	size_t known = view.count - counts[ST_PENDING];
	counts[ST_PENDING] = view.task_count > known ? view.task_count - known : 0;
}

static void redraw(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long seconds = (long)(now.tv_sec - view.started.tv_sec);
	size_t counts[ST_COUNT];
	count_states(counts);
	char frame[4096];
	size_t used = 0;
	int lines = 0;
#define ADD(...) do { if (used < sizeof(frame)) used += (size_t)snprintf(frame + used, \
	sizeof(frame) - used, __VA_ARGS__); } while (0)
	if (view.lines_drawn)
		ADD("\033[%dA", view.lines_drawn);   /* back to the first line */
	ADD("\r\033[Jplan %s  %zu/%zu done  %ld:%02ld\n", view.plan_id,
		counts[ST_SUCCEEDED] + counts[ST_FAILED] + counts[ST_SKIPPED], view.task_count,
		seconds / 60, seconds % 60);
	for (int s = 0; s < ST_COUNT; s++)
		ADD("%s %zu%s", state_names[s], counts[s], s + 1 < ST_COUNT ? "  " : "\n");
	ADD("tokens %.0f in / %.0f out  cost $%.4f\n", view.input_tokens, view.output_tokens,
		view.cost);
	lines = 3;
	int shown = 0;
	for (size_t i = 0; i < view.count && shown < SHOWN_RUNNING; i++) {
		const task_view *t = &view.tasks[i];
		if (t->state != ST_RUNNING)
			continue;
		if (*t->agent)
			ADD("  %-22s agent %s  %.0f tokens\n", t->id, t->agent, t->tokens);
		else
			ADD("  %s\n", t->id);
		shown++;
		lines++;
	}
#undef ADD
	fwrite(frame, 1, used < sizeof(frame) ? used : sizeof(frame) - 1, stderr);
	fflush(stderr);
	view.lines_drawn = lines;
}

void run_progress_start(const char *plan_id, size_t task_count, bool terminal, bool quiet)
{
	pthread_mutex_lock(&view.lock);
	view.active = true;
	view.terminal = terminal;
	view.quiet = quiet;
	clean_copy(view.plan_id, sizeof(view.plan_id), plan_id);
	view.task_count = task_count;
	view.lines_drawn = 0;
	clock_gettime(CLOCK_MONOTONIC, &view.started);
	if (terminal)
		redraw();
	pthread_mutex_unlock(&view.lock);
}

void run_progress_stop(void)
{
	pthread_mutex_lock(&view.lock);
	if (view.active && view.terminal)
		redraw();
	view.active = false;
	free(view.tasks);
	view.tasks = NULL;
	view.count = view.cap = 0;
	pthread_mutex_unlock(&view.lock);
}

void run_progress_print(const char *line)
{
	pthread_mutex_lock(&view.lock);
	if (view.active && view.terminal && view.lines_drawn) {
		/* Clear the frame, write the line where it was, draw it again
		 * below: the line stays, the frame moves down. */
		fprintf(stderr, "\033[%dA\r\033[J%s\n", view.lines_drawn, line);
		view.lines_drawn = 0;
		redraw();
	} else {
		fprintf(stderr, "%s\n", line);
		fflush(stderr);
	}
	pthread_mutex_unlock(&view.lock);
}

void run_progress_usage(double *input_tokens, double *output_tokens, double *cost)
{
	pthread_mutex_lock(&view.lock);
	*input_tokens = view.input_tokens;
	*output_tokens = view.output_tokens;
	*cost = view.cost;
	pthread_mutex_unlock(&view.lock);
}

/* One plain line (not a terminal). */
static void plain_line(const char *what, const char *task, const char *detail)
{
	char t[128], d[512];
	clean_copy(t, sizeof(t), task);
	clean_copy(d, sizeof(d), detail);
	fprintf(stderr, "cog: %-10s %s%s%s\n", what, t, *d ? ": " : "", d);
}

/* A task event: its new state, and a line when not on a terminal. */
static void on_task(const char *type, const cJSON *data)
{
	const char *id = str(data, "task_id");
	task_view *t = id ? find_task(id) : NULL;
	if (!t)
		return;
	const char *what = type + 5;
	char detail[512] = "";
	if (strcmp(what, "started") == 0) {
		t->state = ST_RUNNING;
		if (num(data, "attempt") > 1)
			snprintf(detail, sizeof(detail), "attempt %.0f", num(data, "attempt"));
	} else if (strcmp(what, "succeeded") == 0) {
		t->state = ST_SUCCEEDED;
		snprintf(detail, sizeof(detail), "%.0f ms", num(data, "duration_ms"));
	} else if (strcmp(what, "failed") == 0 || strcmp(what, "retrying") == 0) {
		t->state = what[0] == 'f' ? ST_FAILED : ST_PENDING;
		snprintf(detail, sizeof(detail), "%s", str(data, "error") ? str(data, "error") : "");
	} else if (strcmp(what, "skipped") == 0) {
		t->state = ST_SKIPPED;
		snprintf(detail, sizeof(detail), "%s", str(data, "reason") ? str(data, "reason") : "");
	} else {
		return;   /* task.ready and others: nothing to tell */
	}
	if (t->state != ST_RUNNING)
		t->agent[0] = '\0';
	if (!view.terminal && !view.quiet)
		plain_line(what, t->id, detail);
}

/* "agent.state" {"agent_id","name","state","task"?} and "agent.turn"
 * {"task"|"task_id","agent"|"name","input_tokens","output_tokens","cost"}. */
static void on_agent(const char *type, const cJSON *data)
{
	const char *task = str(data, "task_id") ? str(data, "task_id") : str(data, "task");
	const char *agent = str(data, "name") ? str(data, "name") : str(data, "agent");
	task_view *t = task ? find_task(task) : NULL;
	if (strcmp(type, "agent.turn") == 0) {
		double in = num(data, "input_tokens"), out = num(data, "output_tokens");
		view.input_tokens += in;
		view.output_tokens += out;
		view.cost += num(data, "cost");
		if (t)
			t->tokens += in + out;
		if (!view.terminal && !view.quiet) {
			char detail[160];
			snprintf(detail, sizeof(detail), "agent %s, %.0f in / %.0f out tokens, $%.4f",
				agent ? agent : "?", in, out, num(data, "cost"));
			plain_line("turn", task ? task : "?", detail);
		}
	} else if (t && agent && str(data, "state") && strcmp(str(data, "state"), "busy") == 0) {
		clean_copy(t->agent, sizeof(t->agent), agent);
	}
}

void run_progress_event(const char *event, void *user_data)
{
	(void)user_data;
	cJSON *e = cJSON_Parse(event);
	const char *type = str(e, "type");
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(e, "data");
	pthread_mutex_lock(&view.lock);
	if (view.active && type) {
		if (strncmp(type, "task.", 5) == 0)
			on_task(type, data);
		else if (strcmp(type, "agent.state") == 0 || strcmp(type, "agent.turn") == 0)
			on_agent(type, data);
		if (view.terminal)
			redraw();
	}
	pthread_mutex_unlock(&view.lock);
	cJSON_Delete(e);
}
