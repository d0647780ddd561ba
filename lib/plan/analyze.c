/*
 * cog_plan_analyze: the shape of a validated graph (order, parallel levels,
 * critical path, totals) as JSON. One pass over the topological order for
 * levels and longest chains, a counting sort for the levels, and the text is
 * written straight into a buffer: a plan of a million tasks is described in
 * a few arrays, without recursion and without a cJSON node per task.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan_int.h"

/* A JSON number that reads back as the same double. */
static void put_number(cog_buf *b, double v)
{
	if (!isfinite(v)) {
		cog_buf_puts(b, "null");
		return;
	}
	if (v == floor(v) && fabs(v) < 1e15) {
		cog_buf_printf(b, "%.0f", v);
		return;
	}
	char text[32];
	for (int digits = 15; digits <= 17; digits++) {
		snprintf(text, sizeof(text), "%.*g", digits, v);
		if (strtod(text, NULL) == v)
			break;
	}
	cog_buf_puts(b, text);
}

#if defined(__GNUC__)
#define PREFETCH(address) __builtin_prefetch(address)
#else
#define PREFETCH(address) ((void)(address))
#endif

/* Ids of tasks[list[0 .. count)] as JSON strings separated by commas. In a
 * large graph the list jumps around a task array of hundreds of megabytes
 * and each id is a separate string: fetch the task a few steps ahead and
 * its id a few steps after that, so that the misses overlap. */
static void put_ids(cog_buf *b, const cog_plan *plan, const uint32_t *list, size_t count)
{
	enum { TASK_AHEAD = 16, ID_AHEAD = 8 };
	for (size_t i = 0; i < count; i++) {
		if (i + TASK_AHEAD < count)
			PREFETCH(&plan->tasks[list[i + TASK_AHEAD]]);
		if (i + ID_AHEAD < count)
			PREFETCH(plan->tasks[list[i + ID_AHEAD]].id);
		const char *id = plan->tasks[list[i]].id;
		if (i)
			cog_buf_putc(b, ',');
		cog_buf_put_json_string(b, id, strlen(id));
	}
}

/* Chain a is better than chain b: longer estimated duration, then more
 * tasks, then the earlier-added task (so that ties are deterministic and a
 * plan without estimates gets its longest chain of tasks). */
static bool chain_better(const double *duration, const uint32_t *length,
                         uint32_t a, uint32_t b)
{
	if (duration[a] != duration[b])
		return duration[a] > duration[b];
	if (length[a] != length[b])
		return length[a] > length[b];
	return a < b;
}

typedef struct analysis {
	uint32_t *level;        /* longest chain of dependencies, in edges */
	uint32_t *level_start;  /* counting sort: level k is by_level[start[k] ..] */
	uint32_t *by_level;
	uint32_t levels;
	double *duration;       /* longest summed duration of a chain ending here */
	uint32_t *length;       /* tasks on that chain */
	uint32_t *prev;         /* the chain's previous task, or PLAN_NO_TASK */
	uint32_t end;           /* last task of the critical path */
} analysis;

static void analysis_dispose(analysis *a)
{
	cog_free(a->level);
	cog_free(a->level_start);
	cog_free(a->by_level);
	cog_free(a->duration);
	cog_free(a->length);
	cog_free(a->prev);
}

static int analyze_graph(const cog_plan *plan, analysis *a)
{
	size_t n = plan->count, cells = n ? n : 1;
	a->level = cog_malloc(cells * sizeof(*a->level));
	a->by_level = cog_malloc(cells * sizeof(*a->by_level));
	a->duration = cog_malloc(cells * sizeof(*a->duration));
	a->length = cog_malloc(cells * sizeof(*a->length));
	a->prev = cog_malloc(cells * sizeof(*a->prev));
	if (!a->level || !a->by_level || !a->duration || !a->length || !a->prev)
		return cog__oom("cog_plan_analyze");

	a->levels = 0;
	a->end = PLAN_NO_TASK;
	for (size_t i = 0; i < n; i++) {
		uint32_t v = plan->order[i];
		const plan_task *t = &plan->tasks[v];
		uint32_t level = 0, prev = PLAN_NO_TASK;
		for (size_t j = 0; j < t->dep_count; j++) {
			uint32_t d = t->deps[j];
			if (a->level[d] + 1 > level)
				level = a->level[d] + 1;
			if (prev == PLAN_NO_TASK || chain_better(a->duration, a->length, d, prev))
				prev = d;
		}
		a->level[v] = level;
		if (level + 1 > a->levels)
			a->levels = level + 1;
		a->prev[v] = prev;
		a->duration[v] = t->est_duration_ms + (prev == PLAN_NO_TASK ? 0 : a->duration[prev]);
		a->length[v] = 1 + (prev == PLAN_NO_TASK ? 0 : a->length[prev]);
		if (a->end == PLAN_NO_TASK || chain_better(a->duration, a->length, v, a->end))
			a->end = v;
	}

	/* Levels list their tasks in the order they were added. */
	a->level_start = cog__calloc((size_t)a->levels + 1, sizeof(*a->level_start));
	if (!a->level_start)
		return cog__oom("cog_plan_analyze");
	for (size_t v = 0; v < n; v++)
		a->level_start[a->level[v] + 1]++;
	for (uint32_t k = 0; k < a->levels; k++)
		a->level_start[k + 1] += a->level_start[k];
	for (size_t v = 0; v < n; v++)
		a->by_level[a->level_start[a->level[v]]++] = (uint32_t)v;
	for (uint32_t k = a->levels; k > 0; k--)
		a->level_start[k] = a->level_start[k - 1];
	a->level_start[0] = 0;
	return COG_OK;
}

static void put_critical_path(cog_buf *b, const cog_plan *plan, analysis *a)
{
	/* Walk back from the end. The chain has length[end] tasks; the length
	 * array is not needed any more and holds them in path order. */
	uint32_t count = a->end == PLAN_NO_TASK ? 0 : a->length[a->end];
	uint32_t *chain = a->length;
	uint32_t at = count;
	for (uint32_t v = a->end; at > 0; v = a->prev[v])
		chain[--at] = v;
	double cost = 0, tokens = 0;
	cog_buf_puts(b, "\"critical_path\":{\"tasks\":[");
	put_ids(b, plan, chain, count);
	for (uint32_t k = 0; k < count; k++) {
		cost += plan->tasks[chain[k]].est_cost;
		tokens += plan->tasks[chain[k]].est_tokens;
	}
	cog_buf_puts(b, "],\"duration_ms\":");
	put_number(b, count ? a->duration[a->end] : 0);
	cog_buf_puts(b, ",\"cost\":");
	put_number(b, cost);
	cog_buf_puts(b, ",\"tokens\":");
	put_number(b, tokens);
	cog_buf_putc(b, '}');
}

static char *describe(const cog_plan *plan, analysis *a)
{
	size_t n = plan->count;
	double cost = 0, tokens = 0;
	for (size_t i = 0; i < n; i++) {
		cost += plan->tasks[i].est_cost;
		tokens += plan->tasks[i].est_tokens;
	}
	cog_buf b = COG_BUF_INIT;
	/* ids are short and need no escaping: reserve roughly what is needed */
	cog_buf_reserve(&b, 64 + n * 24);
	cog_buf_printf(&b, "{\"tasks\":%zu,\"edges\":%u,\"order\":[", n,
		n ? plan->dependents_start[n] : 0);
	put_ids(&b, plan, plan->order, n);
	cog_buf_puts(&b, "],\"levels\":[");
	for (uint32_t k = 0; k < a->levels; k++) {
		cog_buf_puts(&b, k ? ",[" : "[");
		put_ids(&b, plan, a->by_level + a->level_start[k],
			a->level_start[k + 1] - a->level_start[k]);
		cog_buf_putc(&b, ']');
	}
	cog_buf_puts(&b, "],");
	put_critical_path(&b, plan, a);
	cog_buf_puts(&b, ",\"estimate\":{\"duration_ms\":");
	put_number(&b, a->end == PLAN_NO_TASK ? 0 : a->duration[a->end]);
	cog_buf_puts(&b, ",\"cost\":");
	put_number(&b, cost);
	cog_buf_puts(&b, ",\"tokens\":");
	put_number(&b, tokens);
	cog_buf_puts(&b, "}}");
	char *text = cog_buf_detach(&b);
	if (!text)
		cog__oom("cog_plan_analyze");
	return text;
}

int cog_plan_analyze(cog_plan *plan, char **json)
{
	static const char fn[] = "cog_plan_analyze";
	COG_CHECK_ARG(json, fn, "json is NULL");
	*json = NULL;
	COG_CHECK_ARG(plan, fn, "plan is NULL");
	int rc = plan_prepare(plan);
	if (rc)
		return rc;
	analysis a;
	memset(&a, 0, sizeof(a));
	rc = analyze_graph(plan, &a);
	if (!rc && !(*json = describe(plan, &a)))
		rc = COG_ENOMEM;
	analysis_dispose(&a);
	return rc;
}
