/*
 * The budget tree of a context: the context's level at the root, a node
 * per plan under it, per task under a plan, and any deeper level a run
 * asks for (an agent's own limits, a handoff). One mutex guards the whole
 * tree, so a reservation checks and takes every level at once (all or
 * nothing) and the report is a consistent picture.
 *
 * Plan and task nodes stay for the report once their callers are done,
 * and so does an agent's level just under a task (the task's retries
 * share it); deeper nodes go with their last reference (their spending is
 * counted at every level above them already). The JSON side (limits, the
 * report, cog_ctx_set_budget), money and count conversions and the input
 * bound of a request are in budget_report.c.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "budget_int.h"
#include "journal_int.h"

static budget_node *node_new(budget_node *parent, const char *key)
{
	budget_node *n = cog__calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	if (key && !(n->key = cog__strdup(key))) {
		cog_free(n);
		return NULL;
	}
	n->parent = parent;
	n->depth = parent ? parent->depth + 1 : 0;
	n->started_ms = cog_clock_realtime_ms();
	return n;
}

static void node_set_limits(budget_node *n, const budget_limits *limits, int64_t started_ms)
{
	n->limits = *limits;
	n->max_money = budget_money_limit(limits->max_cost);
	n->has_limits = limits->max_tokens || limits->max_cost > 0 || limits->max_duration_ms;
	n->started_ms = started_ms ? started_ms : cog_clock_realtime_ms();
}

static void node_free_tree(budget_node *n)
{
	while (n) {
		budget_node *next = n->next;
		node_free_tree(n->children);
		cog_free(n->key);
		cog_free(n);
		n = next;
	}
}

/* Before the context's storage is replaced: write what finished runs left
 * queued (ctx.c; see agent_journal_close_lazy). */
static void flush_journals(void *commit)
{
	agent_commit_flush(commit);
}

int budget_init(agents_state *st)
{
	if (pthread_mutex_init(&st->budget_lock, NULL) != 0)
		return cog__error(COG_ERROR, "agent budgets: cannot make a mutex");
	if (!(st->budget_root = node_new(NULL, NULL))) {
		pthread_mutex_destroy(&st->budget_lock);
		return cog__oom("agent budgets");
	}
	st->budget_root->refs = 1;
	st->agent_usage = NULL;
	/* the journals' group commit lives and goes with the tree (agent_int.h) */
	int rc = agent_commit_new(&st->commit);
	if (!rc)
		cog__ctx_set_storage_flush(st->ctx, flush_journals, st->commit);
	if (rc) {
		cog_free(st->budget_root);
		st->budget_root = NULL;
		pthread_mutex_destroy(&st->budget_lock);
	}
	return rc;
}

void budget_dispose(agents_state *st)
{
	if (!st->budget_root)
		return;
	node_free_tree(st->budget_root);
	st->budget_root = NULL;
	struct budget_agent_usage *u = st->agent_usage;
	while (u) {
		struct budget_agent_usage *next = u->next;
		cog_free(u->name);
		cog_free(u);
		u = next;
	}
	st->agent_usage = NULL;
	cog__ctx_set_storage_flush(st->ctx, NULL, NULL);
	agent_commit_free(st->commit);  /* writes what is still queued */
	st->commit = NULL;
	pthread_mutex_destroy(&st->budget_lock);
}

/* ---- nodes ---- */

static void unlink_child(budget_node *n)
{
	budget_node **p = &n->parent->children;
	while (*p && *p != n)
		p = &(*p)->next;
	if (*p)
		*p = n->next;
}

/* Drop one reference (under the lock); a deeper node with none left goes,
 * and with it its reference on its parent. */
static void node_unref_locked(budget_node *n)
{
	while (n && --n->refs == 0 && n->parent) {
		budget_node *parent = n->parent;
		unlink_child(n);
		node_free_tree(n->children);
		cog_free(n->key);
		cog_free(n);
		n = parent;
	}
}

/* Nodes the tree keeps (a reference of its own) for the report and for
 * the retries of a task: plans, tasks, and an agent's per-task level just
 * under a task ("agent:<name>" at depth 3), which the attempts of that
 * task share; they go with the plan's node. */
static bool node_kept(const budget_node *n)
{
	return n->depth <= 2 ||
	       (n->depth == 3 && strncmp(n->key, "agent:", 6) == 0);
}

int budget_node_get(agents_state *st, budget_node *parent, const char *key,
                    const budget_limits *limits, int64_t started_ms, budget_node **out)
{
	*out = NULL;
	if (!key)
		return cog__error(COG_EINVAL, "agent budgets: node key is NULL");
	pthread_mutex_lock(&st->budget_lock);
	if (!parent)
		parent = st->budget_root;
	budget_node *n = parent->children, *last = NULL;
	for (; n && strcmp(n->key, key) != 0; n = n->next)
		last = n;
	if (!n) {
		if (!(n = node_new(parent, key))) {
			pthread_mutex_unlock(&st->budget_lock);
			return cog__oom("agent budgets");
		}
		if (last)
			last->next = n;
		else
			parent->children = n;
		parent->refs++;
		n->refs = node_kept(n) ? 1 : 0;
		if (limits)
			node_set_limits(n, limits, started_ms);
		else if (started_ms)
			n->started_ms = started_ms;
	} else if (!n->has_limits && limits) {
		node_set_limits(n, limits, started_ms);
	} else if (n->depth == 1 && started_ms > n->started_ms) {
		/* A plan node lives as long as the context; a newer start is a
		 * new run of the plan, and its wall time counts from there. */
		n->started_ms = started_ms;
	}
	n->refs++;
	pthread_mutex_unlock(&st->budget_lock);
	*out = n;
	return COG_OK;
}

void budget_node_release(agents_state *st, budget_node *node)
{
	if (!node)
		return;
	pthread_mutex_lock(&st->budget_lock);
	node_unref_locked(node);
	pthread_mutex_unlock(&st->budget_lock);
}

/* ---- reservations ---- */

static int refuse(budget_node *n, const char *limit, const char *fmt, ...) COG_PRINTF(3, 4);

static int refuse(budget_node *n, const char *limit, const char *fmt, ...)
{
	n->refused++;
	char level[160], detail[256];
	/* an agent's own level is keyed "agent:<name>" at any depth */
	if (n->depth == 0)
		snprintf(level, sizeof level, "context");
	else if (strncmp(n->key, "agent:", 6) == 0)
		snprintf(level, sizeof level, "agent '%s'", n->key + 6);
	else
		snprintf(level, sizeof level, "%s '%s'", n->depth == 1 ? "plan" :
			n->depth == 2 ? "task" : "agent", n->key);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	return cog__error(COG_EBUDGET, "%s budget: %s %s", level, limit, detail);
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return b > UINT64_MAX - a ? UINT64_MAX : a + b;
}

/* Whether `used` + `more` stays within `max`, without overflow. */
static bool fits(uint64_t used, uint64_t more, uint64_t max)
{
	return used <= max && more <= max - used;
}

static int check_level(budget_node *n, uint64_t tokens, budget_money money, int64_t now)
{
	const budget_limits *l = &n->limits;
	if (l->max_duration_ms) {
		int64_t elapsed = now - n->started_ms;
		if (elapsed >= 0 && (uint64_t)elapsed >= l->max_duration_ms)
			return refuse(n, "max_duration_ms", "%" PRIu64 ": started %" PRId64
				" ms ago", l->max_duration_ms, elapsed);
	}
	uint64_t spent = n->input_tokens + n->output_tokens;
	if (l->max_tokens && !(fits(spent, n->reserved_tokens, l->max_tokens) &&
	    fits(spent + n->reserved_tokens, tokens, l->max_tokens)))
		return refuse(n, "max_tokens", "%" PRIu64 ": spent %" PRIu64 ", reserved %"
			PRIu64 ", this call needs up to %" PRIu64, l->max_tokens, spent,
			n->reserved_tokens, tokens);
	if (n->max_money && !(fits(n->spent_money, n->reserved_money, n->max_money) &&
	    fits(n->spent_money + n->reserved_money, money, n->max_money)))
		return refuse(n, "max_cost", "%.6g: spent %.6g, reserved %.6g, this call "
			"needs up to %.6g", l->max_cost, budget_money_to(n->spent_money),
			budget_money_to(n->reserved_money), budget_money_to(money));
	return COG_OK;
}

bool budget_has_cost_limit(agents_state *st, budget_node *leaf)
{
	bool limited = false;
	pthread_mutex_lock(&st->budget_lock);
	for (budget_node *n = leaf ? leaf : st->budget_root; n && !limited; n = n->parent)
		limited = n->limits.max_cost > 0;
	pthread_mutex_unlock(&st->budget_lock);
	return limited;
}

int budget_reserve(agents_state *st, budget_node *leaf, uint64_t tokens, double cost,
                   budget_resv *out)
{
	memset(out, 0, sizeof(*out));
	budget_money money = budget_money_from(cost);
	int64_t now = cog_clock_realtime_ms();
	pthread_mutex_lock(&st->budget_lock);
	if (!leaf)
		leaf = st->budget_root;
	for (budget_node *n = leaf; n; n = n->parent) {
		int rc = check_level(n, tokens, money, now);
		if (rc) {
			pthread_mutex_unlock(&st->budget_lock);
			return rc;
		}
	}
	for (budget_node *n = leaf; n; n = n->parent) {
		n->reserved_tokens = sat_add(n->reserved_tokens, tokens);
		n->reserved_money = sat_add(n->reserved_money, money);
	}
	leaf->refs++;
	pthread_mutex_unlock(&st->budget_lock);
	out->leaf = leaf;
	out->tokens = tokens;
	out->cost = budget_money_to(money);
	return COG_OK;
}

/* Take a reservation back at every level (under the lock). */
static void unreserve_locked(const budget_resv *r)
{
	budget_money money = budget_money_from(r->cost);
	for (budget_node *n = r->leaf; n; n = n->parent) {
		n->reserved_tokens -= r->tokens <= n->reserved_tokens ? r->tokens : n->reserved_tokens;
		n->reserved_money -= money <= n->reserved_money ? money : n->reserved_money;
	}
}

static void tally_agent_locked(agents_state *st, const char *agent, uint64_t in,
                               uint64_t out, budget_money money)
{
	struct budget_agent_usage *u = st->agent_usage, *last = NULL;
	for (; u && strcmp(u->name, agent) != 0; u = u->next)
		last = u;
	if (!u) {
		if (!(u = cog__calloc(1, sizeof(*u))) || !(u->name = cog__strdup(agent))) {
			cog_free(u);
			return; /* the report misses this agent's line; the levels have it */
		}
		if (last)
			last->next = u;
		else
			st->agent_usage = u;
	}
	u->input_tokens = sat_add(u->input_tokens, in);
	u->output_tokens = sat_add(u->output_tokens, out);
	u->llm_calls++;
	u->spent_money = sat_add(u->spent_money, money);
}

void budget_settle(agents_state *st, budget_resv *r, uint64_t input_tokens,
                   uint64_t output_tokens, double cost, const char *agent)
{
	budget_money money = budget_money_from(cost);
	bool over = false;
	pthread_mutex_lock(&st->budget_lock);
	budget_node *leaf = r->leaf ? r->leaf : st->budget_root;
	if (r->leaf) {
		unreserve_locked(r);
		over = sat_add(input_tokens, output_tokens) > r->tokens ||
		       money > budget_money_from(r->cost);
	}
	for (budget_node *n = leaf; n; n = n->parent) {
		n->input_tokens = sat_add(n->input_tokens, input_tokens);
		n->output_tokens = sat_add(n->output_tokens, output_tokens);
		n->spent_money = sat_add(n->spent_money, money);
		n->llm_calls++;
	}
	if (agent)
		tally_agent_locked(st, agent, input_tokens, output_tokens, money);
	if (r->leaf)
		node_unref_locked(r->leaf);
	pthread_mutex_unlock(&st->budget_lock);
	if (over)
		cog__log(st->ctx, COG_LOG_WARN, NULL, "agent budget: a call used more than "
			"reserved (%" PRIu64 " tokens, cost %.6g; reserved %" PRIu64 ", %.6g): "
			"charged in full", input_tokens + output_tokens, cost, r->tokens, r->cost);
	memset(r, 0, sizeof(*r));
}

void budget_release(agents_state *st, budget_resv *r)
{
	if (!r || !r->leaf)
		return;
	pthread_mutex_lock(&st->budget_lock);
	unreserve_locked(r);
	node_unref_locked(r->leaf);
	pthread_mutex_unlock(&st->budget_lock);
	memset(r, 0, sizeof(*r));
}

uint64_t budget_remaining_ms(agents_state *st, budget_node *leaf)
{
	uint64_t left = UINT64_MAX;
	int64_t now = cog_clock_realtime_ms();
	pthread_mutex_lock(&st->budget_lock);
	for (budget_node *n = leaf ? leaf : st->budget_root; n; n = n->parent) {
		if (!n->limits.max_duration_ms)
			continue;
		int64_t elapsed = now - n->started_ms;
		uint64_t e = elapsed > 0 ? (uint64_t)elapsed : 0;
		uint64_t l = e >= n->limits.max_duration_ms ? 0 : n->limits.max_duration_ms - e;
		if (l < left)
			left = l;
	}
	pthread_mutex_unlock(&st->budget_lock);
	return left;
}

uint64_t budget_remaining_tokens(agents_state *st, budget_node *leaf)
{
	uint64_t left = UINT64_MAX;
	pthread_mutex_lock(&st->budget_lock);
	for (budget_node *n = leaf ? leaf : st->budget_root; n; n = n->parent) {
		if (!n->limits.max_tokens)
			continue;
		uint64_t used = sat_add(sat_add(n->input_tokens, n->output_tokens),
		                        n->reserved_tokens);
		uint64_t l = used >= n->limits.max_tokens ? 0 : n->limits.max_tokens - used;
		if (l < left)
			left = l;
	}
	pthread_mutex_unlock(&st->budget_lock);
	return left;
}
