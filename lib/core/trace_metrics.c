/*
 * Metrics of a context: every ended span counted by kind (count, errors,
 * a latency histogram), LLM calls by model, tool calls by tool, errors by
 * kind; cog_ctx_metrics() reads them as JSON.
 *
 * Latencies go into log-scale buckets 2 % wide (TRACE_BUCKETS of them,
 * made for a kind when its first span ends): a percentile is the bucket
 * that holds the rank-th latency (nearest rank), reported as the bucket's
 * geometric middle, so it is within 1 % of a latency that was seen, and
 * never above the maximum. Updating takes one log() and a few additions
 * under the context's trace lock (trace.c holds it).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "trace_state.h"

/* The kinds the library's own spans have: always listed. */
static const char *const builtin_kinds[] = { "plan", "task", "agent.turn", "llm", "tool" };

static const char *const status_kinds[] = {
	"other", "error", "invalid", "out_of_memory", "io", "timeout", "canceled",
	"not_found", "denied", "budget", "cycle", "protocol", "schema", "unavailable",
	"user", "version", "exists", "busy", "range", "uncertain", "pending", "integrity",
};

const char *trace_status_kind(int status)
{
	if (status >= 0)
		return "ok";
	return -status < (int)COG_ARRAY_LEN(status_kinds) ? status_kinds[-status] : "other";
}

static trace_kind_stats *kind_stats(trace_metrics *m, const char *kind)
{
	for (size_t i = 0; i < m->n_kinds; i++)
		if (strcmp(m->kinds[i].kind, kind) == 0)
			return &m->kinds[i];
	if (m->n_kinds == TRACE_KINDS - 1 && strcmp(kind, "other") != 0)
		return kind_stats(m, "other");
	trace_kind_stats *k = &m->kinds[m->n_kinds++];
	memset(k, 0, sizeof(*k));
	snprintf(k->kind, sizeof(k->kind), "%s", kind);
	return k;
}

static unsigned int bucket_of(uint64_t ns)
{
	if ((double)ns < TRACE_BUCKET_MIN_NS * TRACE_BUCKET_RATIO)
		return 0;
	double k = floor(log((double)ns / TRACE_BUCKET_MIN_NS) / log(TRACE_BUCKET_RATIO));
	return k >= TRACE_BUCKETS - 1 ? TRACE_BUCKETS - 1 : (unsigned int)k;
}

/* The stats of `name` in a list (made if new; past TRACE_NAMES_MAX names,
 * "(other)"); NULL on OOM. */
static trace_name_stats *name_stats(trace_name_stats **list, size_t *n, size_t *cap,
                                    const char *name)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*list)[i].name, name) == 0)
			return &(*list)[i];
	if (*n >= TRACE_NAMES_MAX && strcmp(name, "(other)") != 0)
		return name_stats(list, n, cap, "(other)");
	if (*n == *cap) {
		size_t want = *cap ? *cap * 2 : 8;
		trace_name_stats *grown = cog_realloc(*list, want * sizeof(**list));
		if (!grown)
			return NULL;
		*list = grown;
		*cap = want;
	}
	size_t len = strlen(name);
	char *copy = cog_utf8_valid(name, len, NULL) ? cog__strdup(name)
	                                              : cog_utf8_lossy(name, len);
	if (!copy)
		return NULL;
	trace_name_stats *s = &(*list)[(*n)++];
	memset(s, 0, sizeof(*s));
	s->name = copy;
	return s;
}

static uint64_t tokens(double v)
{
	return v > 0 && v < 1e18 ? (uint64_t)v : 0;
}

void trace_metrics_add(trace_metrics *m, const trace_ended *e)
{
	trace_kind_stats *k = kind_stats(m, e->kind);
	k->count++;
	k->sum_ns += e->duration_ns;
	if (e->duration_ns > k->max_ns)
		k->max_ns = e->duration_ns;
	if (!k->buckets)
		k->buckets = cog__calloc(TRACE_BUCKETS, sizeof(*k->buckets));
	if (k->buckets)
		k->buckets[bucket_of(e->duration_ns)]++;
	if (e->status) {
		k->errors++;
		m->errors[-e->status < 32 ? -e->status : 0]++;
	}
	if (strcmp(e->kind, "llm") == 0) {
		m->llm_calls++;
		m->llm_input_tokens += tokens(e->input_tokens);
		m->llm_output_tokens += tokens(e->output_tokens);
		m->llm_cost += e->cost;
		trace_name_stats *s = name_stats(&m->models, &m->n_models, &m->cap_models,
			e->model ? e->model : "(unknown)");
		if (s) {
			s->calls++;
			s->errors += e->status != 0;
			s->input_tokens += tokens(e->input_tokens);
			s->output_tokens += tokens(e->output_tokens);
			s->cost += e->cost;
		}
	} else if (strcmp(e->kind, "tool") == 0) {
		m->tool_calls++;
		trace_name_stats *s = name_stats(&m->tools, &m->n_tools, &m->cap_tools,
			e->tool ? e->tool : "(unknown)");
		if (s) {
			s->calls++;
			s->errors += e->status != 0;
		}
	}
}

void trace_metrics_clear(trace_metrics *m)
{
	for (size_t i = 0; i < m->n_kinds; i++)
		cog_free(m->kinds[i].buckets);
	for (size_t i = 0; i < m->n_models; i++)
		cog_free(m->models[i].name);
	for (size_t i = 0; i < m->n_tools; i++)
		cog_free(m->tools[i].name);
	cog_free(m->models);
	cog_free(m->tools);
	memset(m, 0, sizeof(*m));
	m->since_ms = cog_clock_realtime_ms();
}

/* The q-quantile (0 < q <= 1) of a kind's latencies in ms. */
static double percentile_ms(const trace_kind_stats *k, double q)
{
	if (!k->count || !k->buckets)
		return 0;
	uint64_t rank = (uint64_t)ceil(q * (double)k->count);
	if (rank < 1)
		rank = 1;
	uint64_t seen = 0;
	unsigned int b = 0;
	for (; b < TRACE_BUCKETS; b++) {
		seen += k->buckets[b];
		if (seen >= rank)
			break;
	}
	double ns = b == 0 ? TRACE_BUCKET_MIN_NS :
		TRACE_BUCKET_MIN_NS * pow(TRACE_BUCKET_RATIO, b + 0.5);
	if (ns > (double)k->max_ns)
		ns = (double)k->max_ns;
	return ns / 1e6;
}

static void put_kind(cog_buf *b, const trace_kind_stats *k, const char *kind)
{
	static const trace_kind_stats none;
	if (!k)
		k = &none;
	cog_buf_put_json_string(b, kind, strlen(kind));
	cog_buf_printf(b, ":{\"count\":%llu,\"errors\":%llu,\"latency_ms\":{\"p50\":%.6g,"
		"\"p95\":%.6g,\"p99\":%.6g,\"max\":%.6g,\"mean\":%.6g}}",
		(unsigned long long)k->count, (unsigned long long)k->errors,
		percentile_ms(k, 0.50), percentile_ms(k, 0.95), percentile_ms(k, 0.99),
		(double)k->max_ns / 1e6,
		k->count ? (double)k->sum_ns / (double)k->count / 1e6 : 0.0);
}

static const trace_kind_stats *find_kind(const trace_metrics *m, const char *kind)
{
	for (size_t i = 0; i < m->n_kinds; i++)
		if (strcmp(m->kinds[i].kind, kind) == 0)
			return &m->kinds[i];
	return NULL;
}

static bool is_builtin(const char *kind)
{
	for (size_t i = 0; i < COG_ARRAY_LEN(builtin_kinds); i++)
		if (strcmp(builtin_kinds[i], kind) == 0)
			return true;
	return false;
}

static void put_spans(cog_buf *b, const trace_metrics *m)
{
	cog_buf_puts(b, "\"spans\":{");
	for (size_t i = 0; i < COG_ARRAY_LEN(builtin_kinds); i++) {
		if (i)
			cog_buf_putc(b, ',');
		put_kind(b, find_kind(m, builtin_kinds[i]), builtin_kinds[i]);
	}
	for (size_t i = 0; i < m->n_kinds; i++) {
		if (is_builtin(m->kinds[i].kind))
			continue;
		cog_buf_putc(b, ',');
		put_kind(b, &m->kinds[i], m->kinds[i].kind);
	}
	cog_buf_putc(b, '}');
}

static void put_llm(cog_buf *b, const trace_metrics *m)
{
	cog_buf_printf(b, ",\"llm\":{\"calls\":%llu,\"input_tokens\":%llu,"
		"\"output_tokens\":%llu,\"cost\":%.15g,\"by_model\":{",
		(unsigned long long)m->llm_calls, (unsigned long long)m->llm_input_tokens,
		(unsigned long long)m->llm_output_tokens, m->llm_cost);
	for (size_t i = 0; i < m->n_models; i++) {
		const trace_name_stats *s = &m->models[i];
		if (i)
			cog_buf_putc(b, ',');
		cog_buf_put_json_string(b, s->name, strlen(s->name));
		cog_buf_printf(b, ":{\"calls\":%llu,\"errors\":%llu,\"input_tokens\":%llu,"
			"\"output_tokens\":%llu,\"cost\":%.15g}",
			(unsigned long long)s->calls, (unsigned long long)s->errors,
			(unsigned long long)s->input_tokens, (unsigned long long)s->output_tokens,
			s->cost);
	}
	cog_buf_puts(b, "}}");
}

static void put_tools(cog_buf *b, const trace_metrics *m)
{
	cog_buf_printf(b, ",\"tools\":{\"calls\":%llu,\"by_tool\":{",
		(unsigned long long)m->tool_calls);
	for (size_t i = 0; i < m->n_tools; i++) {
		const trace_name_stats *s = &m->tools[i];
		if (i)
			cog_buf_putc(b, ',');
		cog_buf_put_json_string(b, s->name, strlen(s->name));
		cog_buf_printf(b, ":{\"calls\":%llu,\"errors\":%llu}",
			(unsigned long long)s->calls, (unsigned long long)s->errors);
	}
	cog_buf_puts(b, "}}");
}

static void put_errors(cog_buf *b, const trace_metrics *m)
{
	cog_buf_puts(b, ",\"errors\":{");
	bool first = true;
	for (int i = 1; i < 32; i++) {
		if (!m->errors[i])
			continue;
		cog_buf_printf(b, "%s\"%s\":%llu", first ? "" : ",", trace_status_kind(-i),
			(unsigned long long)m->errors[i]);
		first = false;
	}
	if (m->errors[0])
		cog_buf_printf(b, "%s\"other\":%llu", first ? "" : ",",
			(unsigned long long)m->errors[0]);
	cog_buf_putc(b, '}');
}

int cog_ctx_metrics(cog_ctx *ctx, char **json)
{
	static const char fn[] = "cog_ctx_metrics";
	COG_CHECK_ARG(json, fn, "json is NULL");
	*json = NULL;
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	struct cog__trace *t = cog__ctx_trace(ctx);
	cog_buf b = COG_BUF_INIT;
	pthread_mutex_lock(&t->lock);
	const trace_metrics *m = &t->metrics;
	char since[32];
	cog_clock_format_iso8601(m->since_ms, since);
	cog_buf_printf(&b, "{\"since\":\"%s\",", since);
	put_spans(&b, m);
	put_llm(&b, m);
	put_tools(&b, m);
	put_errors(&b, m);
	pthread_mutex_unlock(&t->lock);
	cog_buf_putc(&b, '}');
	*json = cog_buf_detach(&b);
	return *json ? COG_OK : cog__oom(fn);
}

void cog_ctx_metrics_reset(cog_ctx *ctx)
{
	if (!ctx)
		return;
	struct cog__trace *t = cog__ctx_trace(ctx);
	pthread_mutex_lock(&t->lock);
	trace_metrics_clear(&t->metrics);
	pthread_mutex_unlock(&t->lock);
}
