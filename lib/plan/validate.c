/*
 * Checking a plan's graph: resolve dependency names to indices, order the
 * tasks (Kahn's algorithm), name one cycle when there is one, and check the
 * estimates against the budget. Everything is iterative and works on flat
 * arrays: chains 100,000 deep and graphs of millions of tasks must neither
 * touch the stack nor allocate per task (beyond each task's deps array,
 * which plan_task owns).
 */
#include <stdio.h>
#include <string.h>

#include "plan_int.h"
#include "tool_mod.h"

/* Estimates are sums of doubles: allow for rounding (0.1 + 0.2 > 0.3). */
#define BUDGET_SLACK 1e-9

/* A cycle message lists tasks until it is this long, then elides the middle
 * (error messages hold 1024 bytes; ids are up to 128). */
#define CYCLE_TEXT_MAX 400

typedef struct prepare_state {
	uint32_t *order;
	uint32_t *start;
	uint32_t *dependents;
	uint32_t *indegree;
	uint32_t *walk;
} prepare_state;

static void state_dispose(prepare_state *s)
{
	cog_free(s->order);
	cog_free(s->start);
	cog_free(s->dependents);
	cog_free(s->indegree);
	cog_free(s->walk);
	memset(s, 0, sizeof(*s));
}

/* plan_invalidate() is free for unprepared plans: a failed preparation
 * must drop the deps arrays itself. */
static void drop_deps(cog_plan *plan)
{
	for (size_t i = 0; i < plan->count; i++) {
		cog_free(plan->tasks[i].deps);
		plan->tasks[i].deps = NULL;
	}
}

/* Index of the task named `id`. Hosts and planners mostly add a task after
 * what it depends on and name neighbours (a chain's previous task, a layer's
 * next one, a fan-out's common root): try the task found last and the one
 * after it before hashing. A hit reads two cached strings instead of the
 * random index slot, task and id string of a hash lookup, which is most of
 * the time of a large validation. */
static uint32_t find_dep(const cog_plan *plan, const char *id, uint32_t *last)
{
	uint32_t hint = *last;
	if (hint < plan->count && strcmp(plan->tasks[hint].id, id) == 0)
		return hint;
	if (hint + 1 < plan->count && strcmp(plan->tasks[hint + 1].id, id) == 0)
		return *last = hint + 1;
	uint32_t d = plan_find(plan, id);
	if (d != PLAN_NO_TASK)
		*last = d;
	return d;
}

/*
 * One pass over the tasks: check tool tasks, resolve every task's dep_ids
 * into deps, count each task's dependents into start[d + 1], set indegrees
 * and queue the roots. The task array is large (a million tasks are 200 MB),
 * so it is read as few times as possible; the rest works on flat arrays.
 */
static int resolve_deps(cog_plan *plan, prepare_state *s, size_t *edges, size_t *roots)
{
	size_t total = 0, queued = 0;
	uint32_t last = 0;
	for (size_t i = 0; i < plan->count; i++) {
		plan_task *t = &plan->tasks[i];
		if (!t->tool && strcmp(t->kind, "tool") == 0)
			return cog__error(COG_EINVAL, "plan %s: task '%s' is of kind \"tool\" but "
				"names no \"tool\"", plan->id, t->id);
		s->indegree[i] = (uint32_t)t->dep_count;
		if (!t->dep_count) {
			s->order[queued++] = (uint32_t)i;
			continue;
		}
		if (t->dep_count > UINT32_MAX - 1 - total)
			return cog__error(COG_ERANGE, "plan %s: more than %u dependencies",
				plan->id, UINT32_MAX - 1);
		total += t->dep_count;
		cog_free(t->deps);
		t->deps = cog_malloc(t->dep_count * sizeof(*t->deps));
		if (!t->deps)
			return cog__oom("plan dependencies");
		for (size_t j = 0; j < t->dep_count; j++) {
			uint32_t d = find_dep(plan, t->dep_ids[j], &last);
			if (d == PLAN_NO_TASK)
				return cog__error(COG_ENOTFOUND, "plan %s: task '%s' depends on '%s', "
					"which is not in the plan", plan->id, t->id, t->dep_ids[j]);
			t->deps[j] = d;
			s->start[d + 1]++;
		}
	}
	*edges = total;
	*roots = queued;
	return COG_OK;
}

/* The reverse edges as CSR: the dependents of task i, in task order, are
 * dependents[start[i] .. start[i + 1]). start[d + 1] holds d's count. */
static int build_dependents(const cog_plan *plan, size_t edges, prepare_state *s)
{
	size_t n = plan->count;
	s->dependents = cog_malloc((edges ? edges : 1) * sizeof(*s->dependents));
	if (!s->dependents)
		return cog__oom("plan dependents");
	for (size_t i = 0; i < n; i++)
		s->start[i + 1] += s->start[i];
	/* Use start[d] as the fill cursor of d; afterwards it holds the old
	 * start[d + 1], so shift everything back by one. */
	for (size_t t = 0; t < n; t++) {
		const plan_task *task = &plan->tasks[t];
		for (size_t j = 0; j < task->dep_count; j++)
			s->dependents[s->start[task->deps[j]]++] = (uint32_t)t;
	}
	memmove(s->start + 1, s->start, n * sizeof(*s->start));
	s->start[0] = 0;
	return COG_OK;
}

/* Kahn's algorithm with the order array as its FIFO queue: the roots (in
 * task order, queued by resolve_deps), then each task once its last
 * dependency is placed. Returns how many tasks were placed (fewer than
 * count: the rest are on or behind a cycle, and exactly those keep a
 * non-zero indegree). */
static size_t topological_order(prepare_state *s, size_t roots)
{
	size_t head = 0, tail = roots;
	while (head < tail) {
		uint32_t v = s->order[head++];
		for (uint32_t k = s->start[v]; k < s->start[v + 1]; k++) {
			uint32_t w = s->dependents[k];
			if (--s->indegree[w] == 0)
				s->order[tail++] = w;
		}
	}
	return tail;
}

static void put_cycle_task(cog_buf *b, const cog_plan *plan, uint32_t t, bool first)
{
	if (!first)
		cog_buf_puts(b, " -> ");
	cog_buf_puts(b, plan->tasks[t].id);
}

/*
 * After Kahn's algorithm every unplaced task has an unplaced dependency, so
 * walking from one unplaced task to an unplaced dependency, again and again,
 * must come back to a task already on the walk: the tasks from there on are
 * a cycle. Name it in dependency order ("a -> b": b depends on a), starting
 * from its earliest-added task.
 */
static int report_cycle(const cog_plan *plan, prepare_state *s, size_t placed)
{
	size_t n = plan->count;
	/* position on the walk + 1, 0 = not visited */
	s->walk = cog__calloc(n, sizeof(*s->walk));
	if (!s->walk)
		return cog__oom("plan cycle");
	uint32_t *path = s->order + placed; /* room for every unplaced task */
	uint32_t v = 0;
	while (!s->indegree[v])
		v++;
	uint32_t len = 0;
	while (!s->walk[v]) {
		s->walk[v] = ++len;
		path[len - 1] = v;
		const plan_task *t = &plan->tasks[v];
		size_t j = 0;
		while (!s->indegree[t->deps[j]])
			j++;
		v = t->deps[j];
	}
	/* path[first..len) is the cycle against the edges: path[k + 1] is a
	 * dependency of path[k], and v = path[first] one of path[len - 1].
	 * Reversed, it runs along the edges. */
	uint32_t first = s->walk[v] - 1, size = len - first;
	uint32_t *cycle = path + first;
	for (uint32_t a = 0, b = size - 1; a < b; a++, b--) {
		uint32_t tmp = cycle[a];
		cycle[a] = cycle[b];
		cycle[b] = tmp;
	}
	uint32_t low = 0;
	for (uint32_t k = 1; k < size; k++)
		if (cycle[k] < cycle[low])
			low = k;

	cog_buf b = COG_BUF_INIT;
	uint32_t shown = 0;
	while (shown < size && b.len < CYCLE_TEXT_MAX) {
		put_cycle_task(&b, plan, cycle[(low + shown) % size], shown == 0);
		shown++;
	}
	if (shown + 1 < size) {
		cog_buf_printf(&b, " -> ... (%u more)", size - shown - 1);
		shown = size - 1;
	}
	if (shown < size)
		put_cycle_task(&b, plan, cycle[(low + shown) % size], false);
	put_cycle_task(&b, plan, cycle[low], false);
	char *text = cog_buf_detach(&b);
	if (!text)
		return cog__oom("plan cycle");
	int rc = cog__error(COG_ECYCLE, "plan %s: dependency cycle %s (each task depends on "
		"the one before it)", plan->id, text);
	cog_free(text);
	return rc;
}

static int check_budget(const cog_plan *plan, const uint32_t *order)
{
	double tokens = 0, cost = 0;
	if (plan->budget_tokens > 0 || plan->budget_cost > 0) {
		for (size_t i = 0; i < plan->count; i++) {
			tokens += plan->tasks[i].est_tokens;
			cost += plan->tasks[i].est_cost;
		}
	}
	if (plan->budget_tokens > 0 && tokens > plan->budget_tokens * (1 + BUDGET_SLACK))
		return cog__error(COG_EBUDGET, "plan %s: the estimated tokens (%.15g) exceed the "
			"budget's max_tokens (%.15g)", plan->id, tokens, plan->budget_tokens);
	if (plan->budget_cost > 0 && cost > plan->budget_cost * (1 + BUDGET_SLACK))
		return cog__error(COG_EBUDGET, "plan %s: the estimated cost (%.15g) exceeds the "
			"budget's max_cost (%.15g)", plan->id, cost, plan->budget_cost);
	if (plan->budget_duration_ms <= 0 || !plan->count)
		return COG_OK;

	/* Longest chain of estimated durations, over the topological order. */
	double *finish = cog_malloc(plan->count * sizeof(*finish));
	if (!finish)
		return cog__oom("plan budget");
	double longest = 0;
	for (size_t i = 0; i < plan->count; i++) {
		uint32_t v = order[i];
		const plan_task *t = &plan->tasks[v];
		double before = 0;
		for (size_t j = 0; j < t->dep_count; j++)
			if (finish[t->deps[j]] > before)
				before = finish[t->deps[j]];
		finish[v] = before + t->est_duration_ms;
		if (finish[v] > longest)
			longest = finish[v];
	}
	cog_free(finish);
	if (longest > plan->budget_duration_ms * (1 + BUDGET_SLACK))
		return cog__error(COG_EBUDGET, "plan %s: the critical path's estimated duration "
			"(%.15g ms) exceeds the budget's max_duration_ms (%.15g ms)", plan->id,
			longest, plan->budget_duration_ms);
	return COG_OK;
}

int plan_prepare(cog_plan *plan)
{
	if (plan->prepared)
		return COG_OK;
	if (plan->count >= PLAN_NO_TASK)
		return cog__error(COG_ERANGE, "plan %s: more than %u tasks", plan->id,
			PLAN_NO_TASK - 1);
	prepare_state s;
	memset(&s, 0, sizeof(s));
	size_t n = plan->count, edges = 0, roots = 0;
	s.start = cog__calloc(n + 1, sizeof(*s.start));
	s.order = cog_malloc((n ? n : 1) * sizeof(*s.order));
	s.indegree = cog_malloc((n ? n : 1) * sizeof(*s.indegree));
	int rc = !s.start || !s.order || !s.indegree ? cog__oom("plan order") : COG_OK;
	if (!rc && !(rc = resolve_deps(plan, &s, &edges, &roots)) &&
	    !(rc = build_dependents(plan, edges, &s))) {
		size_t placed = topological_order(&s, roots);
		rc = placed < n ? report_cycle(plan, &s, placed) : check_budget(plan, s.order);
	}
	if (rc) {
		state_dispose(&s);
		drop_deps(plan);
		return rc;
	}
	plan->order = s.order;
	plan->dependents_start = s.start;
	plan->dependents = s.dependents;
	s.order = s.start = s.dependents = NULL;
	state_dispose(&s);
	plan->prepared = true;
	return COG_OK;
}

/* Tool tasks must name a defined tool, with inputs its schema accepts, once
 * the context defines tools: a plan checked before its host defines them is
 * not refused for that. Bad inputs are found before anything runs. */
static int check_tools(const cog_plan *plan)
{
	for (size_t i = 0; i < plan->count; i++) {
		const plan_task *t = &plan->tasks[i];
		if (!t->tool || !t->kind || strcmp(t->kind, "tool") != 0)
			continue;
		size_t references = 0;
		int rc = plan_inputs_check(plan, t, &references);
		if (rc)
			return rc;
		size_t defined = 0;
		if (!cog__tool_defined(plan->ctx, t->tool, &defined)) {
			if (!defined)
				continue;
			return cog__error(COG_ENOTFOUND, "plan %s: task '%s' calls tool '%s', which "
				"is not defined (cog_tool_list shows the %zu that are)", plan->id, t->id,
				t->tool, defined);
		}
		/* Inputs from other tasks are known only when it runs, when the
		 * tool layer checks the real arguments. */
		if (references == 0)
			rc = cog__tool_check_arguments(plan->ctx, t->tool, t->inputs);
		if (rc)
			return cog__error_wrap(rc, "plan %s: task '%s': its inputs do not fit tool "
				"'%s'", plan->id, t->id, t->tool);
	}
	return COG_OK;
}

int cog_plan_validate(cog_plan *plan)
{
	COG_CHECK_ARG(plan, "cog_plan_validate", "plan is NULL");
	int rc = plan_prepare(plan);
	return rc ? rc : check_tools(plan);
}
