/* bench_agent turn: the agent loop's own CPU per turn (see bench_agent.c). */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include <cognition/sqlite.h>

#include "bench_agent.h"

enum { TURNS = 8, ROUNDS = 7, MAX_VARIANTS = 3 };

static const char AGENT_DEF[] =
	"{\"name\":\"bench\",\"instructions\":\"You answer questions about a table of "
	"sales. Look at its rows with the echo tool, one call a turn, then answer in "
	"one sentence.\",\"tools\":[\"echo\"],\"max_turns\":8,\"memory_k\":0}";
static const char PROMPT[] = "How many rows of the sales table are from the north region?";
static const char TOOL_SCHEMA[] =
	"{\"type\":\"object\",\"properties\":{\"row\":{\"type\":\"integer\",\"minimum\":0}},"
	"\"required\":[\"row\"],\"additionalProperties\":false}";
static const char TOOL_RESULT[] =
	"{\"row\":3,\"region\":\"north\",\"product\":\"widget\",\"amount\":1250.5}";
static const char CONFIG[] =
	"{\"routes\":{\"executor\":{\"models\":[{\"endpoint\":\"main\",\"model\":\"bench-model\"}]}},"
	"\"cache\":{\"enabled\":false}}";

/* What the two callbacks did and the CPU they used themselves. */
static struct {
	atomic_ullong cb_ns;
	atomic_uint llm_calls, tool_calls;
	atomic_ullong request_bytes;
	atomic_uint turn;                 /* LLM calls in the current run */
} meter;

static char *answers[TURNS];          /* the answer to the k-th call of a run */
static size_t answer_len[TURNS];

static void make_answers(void)
{
	char buf[512];

	for (unsigned int k = 0; k < TURNS; k++) {
		int n;

		if (k + 1 < TURNS)
			n = snprintf(buf, sizeof(buf), "{\"message\":{\"role\":\"assistant\","
			             "\"content\":null,\"tool_calls\":[{\"id\":\"call_%u\","
			             "\"name\":\"echo\",\"arguments\":{\"row\":%u}}]},"
			             "\"finish_reason\":\"tool_calls\",\"usage\":{\"input_tokens\":%u,"
			             "\"output_tokens\":18},\"model\":\"bench-model\"}",
			             k + 1, k, 180 + 60 * k);
		else
			n = snprintf(buf, sizeof(buf), "{\"message\":{\"role\":\"assistant\","
			             "\"content\":\"Three of the seven rows are from the north "
			             "region.\"},\"finish_reason\":\"stop\",\"usage\":{\"input_tokens\":%u,"
			             "\"output_tokens\":14},\"model\":\"bench-model\"}", 180 + 60 * k);
		answers[k] = strdup(buf);
		answer_len[k] = (size_t)n;
		if (answers[k] == NULL)
			fail("out of memory");
	}
}

/* The host LLM backend: the prebuilt answer of this call of the run. */
static int llm_chat(void *self, const char *request_json, cog_llm_call *call, char **response)
{
	uint64_t t0 = thread_cpu_ns();
	unsigned int k = atomic_fetch_add(&meter.turn, 1);

	(void)self, (void)call;
	if (k >= TURNS)
		k = TURNS - 1;
	atomic_fetch_add(&meter.request_bytes, strlen(request_json));
	*response = cog_malloc(answer_len[k] + 1);
	if (*response == NULL)
		return COG_ENOMEM;
	memcpy(*response, answers[k], answer_len[k] + 1);
	atomic_fetch_add(&meter.llm_calls, 1);
	atomic_fetch_add(&meter.cb_ns, thread_cpu_ns() - t0);
	return 0;
}

/* The host tool: a fixed row. */
static int echo_tool(const cog_tool_request *request, char **result, void *user_data)
{
	uint64_t t0 = thread_cpu_ns();

	(void)request, (void)user_data;
	*result = cog_malloc(sizeof(TOOL_RESULT));
	if (*result == NULL)
		return COG_ENOMEM;
	memcpy(*result, TOOL_RESULT, sizeof(TOOL_RESULT));
	atomic_fetch_add(&meter.tool_calls, 1);
	atomic_fetch_add(&meter.cb_ns, thread_cpu_ns() - t0);
	return 0;
}

static cog_ctx *turn_ctx(const char *sqlite_name, int durability)
{
	cog_ctx *ctx = bench_ctx(sqlite_name, durability, 0);
	cog_llm_vtable vt = COG_LLM_VTABLE_INIT;
	cog_tool_options t = COG_TOOL_OPTIONS_INIT;
	cog_llm *llm = NULL;

	vt.chat = llm_chat;
	t.name = "echo";
	t.description = "One row of the sales table.";
	t.input_schema = TOOL_SCHEMA;
	t.flags = COG_TOOL_IDEMPOTENT;
	t.fn = echo_tool;
	if (cog_llm_new(&llm, &vt) != 0 || cog_llm_add_endpoint(ctx, "main", llm, NULL) != 0 ||
	    cog_llm_configure(ctx, CONFIG) != 0 || cog_tool_define(ctx, &t) != 0 ||
	    cog_agent_define(ctx, AGENT_DEF) != 0)
		die("setting up the context");
	return ctx;
}

/* ---- the two loops ---- */

enum { AGENT, AGENT_JOURNALED, BARE };

static unsigned int serial;            /* unique journal keys */

static void agent_once(cog_ctx *ctx, bool journaled, bool show)
{
	cog_agent_run_options ro = COG_AGENT_RUN_OPTIONS_INIT;
	char task[160], key[64], *result = NULL;
	cog_agent *agent = NULL;

	snprintf(task, sizeof(task), "{\"prompt\":\"%s\"}", PROMPT);
	snprintf(key, sizeof(key), "turns/r%u", serial++);
	if (journaled)
		ro.run_key = key;
	atomic_store(&meter.turn, 0);
	if (cog_agent_spawn(&agent, ctx, "bench") != 0)
		die("cog_agent_spawn");
	if (cog_agent_run(agent, task, &ro, &result) != 0)
		die("cog_agent_run");
	if (show) {
		cJSON *r = cJSON_Parse(result);
		cJSON *turns = cJSON_GetObjectItemCaseSensitive(r, "turns");
		cJSON *calls = cJSON_GetObjectItemCaseSensitive(r, "tool_calls");

		if (!cJSON_IsNumber(turns) || turns->valuedouble != TURNS ||
		    !cJSON_IsNumber(calls) || calls->valuedouble != TURNS - 1)
			fail("the agent's result is not %d turns and %d tool calls: %s", TURNS,
			     TURNS - 1, result);
		printf("  an agent run's result: %s\n", result);
		cJSON_Delete(r);
	}
	cog_free(result);
	cog_agent_free(agent);
}

/* The floor: the same LLM and tool calls made by hand, the conversation
 * kept as a cJSON array and printed for each request. */
static void bare_once(cog_ctx *ctx, const cJSON *tools)
{
	cog_llm_chat_options lo = COG_LLM_CHAT_OPTIONS_INIT;
	cog_tool_call_options to = COG_TOOL_CALL_OPTIONS_INIT;
	cJSON *messages = cJSON_CreateArray(), *m;
	unsigned int run = serial++;

	atomic_store(&meter.turn, 0);
	lo.role = "executor";
	to.agent = "bench";
	to.allowed_tools = "[\"echo\"]";
	m = cJSON_CreateObject();
	cJSON_AddStringToObject(m, "role", "system");
	cJSON_AddStringToObject(m, "content", strstr(AGENT_DEF, "You answer"));
	cJSON_AddItemToArray(messages, m);
	m = cJSON_CreateObject();
	cJSON_AddStringToObject(m, "role", "user");
	cJSON_AddStringToObject(m, "content", PROMPT);
	cJSON_AddItemToArray(messages, m);
	for (unsigned int turn = 1;; turn++) {
		cJSON *req = cJSON_CreateObject(), *resp, *msg, *calls, *c;
		char *text, *answer = NULL;

		cJSON_AddItemReferenceToObject(req, "messages", messages);
		cJSON_AddItemReferenceToObject(req, "tools", (cJSON *)tools);
		cJSON_AddNumberToObject(req, "max_tokens", 1024);
		text = cJSON_PrintUnformatted(req);
		cJSON_Delete(req);
		if (cog_llm_chat(ctx, text, &lo, &answer) != 0)
			die("cog_llm_chat");
		cJSON_free(text);
		resp = cJSON_Parse(answer);
		cog_free(answer);
		msg = cJSON_DetachItemFromObjectCaseSensitive(resp, "message");
		cJSON_Delete(resp);
		calls = cJSON_GetObjectItemCaseSensitive(msg, "tool_calls");
		if (!cJSON_IsArray(calls) || cJSON_GetArraySize(calls) == 0) {
			if (turn != TURNS)
				fail("bare loop: final answer at turn %u", turn);
			cJSON_Delete(msg);
			break;
		}
		cJSON_AddItemToArray(messages, msg);
		cJSON_ArrayForEach(c, calls) {
			const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "name"));
			const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "id"));
			char *args = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(c, "arguments"));
			char call_id[64], *result = NULL;

			snprintf(call_id, sizeof(call_id), "bare/r%u/1/%u.0", run, turn);
			to.call_id = call_id;
			if (cog_tool_call(ctx, name, args, &to, &result) != 0)
				die("cog_tool_call");
			cJSON_free(args);
			m = cJSON_CreateObject();
			cJSON_AddStringToObject(m, "role", "tool");
			cJSON_AddStringToObject(m, "tool_call_id", id);
			cJSON_AddStringToObject(m, "content", result);
			cJSON_AddItemToArray(messages, m);
			cog_free(result);
		}
	}
	cJSON_Delete(messages);
}

/* ---- measuring ---- */

typedef struct variant {
	const char *name;
	int kind;
	double cpu[ROUNDS], cb[ROUNDS], wall[ROUNDS], bytes[ROUNDS]; /* per turn */
} variant;

/* `runs` runs of v, round r: its per-turn figures. */
static void measure(cog_ctx *ctx, const cJSON *tools, variant *v, unsigned int runs, int r)
{
	unsigned int turns = runs * TURNS;
	uint64_t cb0 = atomic_load(&meter.cb_ns), b0 = atomic_load(&meter.request_bytes);
	unsigned int l0 = atomic_load(&meter.llm_calls), t0 = atomic_load(&meter.tool_calls);
	double c0 = cpu_s(), w0 = now_s(), c1, w1;

	for (unsigned int i = 0; i < runs; i++) {
		if (v->kind == BARE)
			bare_once(ctx, tools);
		else
			agent_once(ctx, v->kind == AGENT_JOURNALED, false);
	}
	c1 = cpu_s();
	w1 = now_s();
	if (atomic_load(&meter.llm_calls) - l0 != turns ||
	    atomic_load(&meter.tool_calls) - t0 != runs * (TURNS - 1))
		fail("%s: %u LLM calls and %u tool calls, expected %u and %u", v->name,
		     atomic_load(&meter.llm_calls) - l0, atomic_load(&meter.tool_calls) - t0,
		     turns, runs * (TURNS - 1));
	if (r < 0)
		return;
	v->cb[r] = (double)(atomic_load(&meter.cb_ns) - cb0) / 1e3 / turns;
	v->cpu[r] = (c1 - c0) * 1e6 / turns - v->cb[r];
	v->wall[r] = (w1 - w0) * 1e6 / turns;
	v->bytes[r] = (double)(atomic_load(&meter.request_bytes) - b0) / turns;
}

static double med(const double *values)
{
	double copy[ROUNDS];

	memcpy(copy, values, sizeof(copy));
	return median(copy, ROUNDS);
}

static double ratio_median(const double *a, const double *b)
{
	double q[ROUNDS];

	for (int r = 0; r < ROUNDS; r++)
		q[r] = a[r] / b[r];
	return median(q, ROUNDS);
}

static void section(const char *title, const char *sqlite_name, int durability, variant *v,
                    int n, unsigned int runs)
{
	cog_ctx *ctx = turn_ctx(sqlite_name, durability);
	char *tools_text = NULL;
	cJSON *tools;

	/* The tools of a request, as the request shape has them. */
	if (cog_tool_list(ctx, "echo", COG_TOOL_FORMAT_ANTHROPIC, &tools_text) != 0)
		die("cog_tool_list");
	tools = cJSON_Parse(tools_text);
	cog_free(tools_text);
	printf("%s: %u runs of %d turns per variant and round, %d rounds + 1 warm-up, the order "
	       "rotating\n", title, runs, TURNS, ROUNDS);
	agent_once(ctx, false, true);
	for (int r = -1; r < ROUNDS; r++)
		for (int i = 0; i < n; i++)
			measure(ctx, tools, &v[(i + (r < 0 ? 0 : r)) % n], r < 0 ? runs / 4 + 1 : runs, r);
	printf("  %-26s %12s %16s %12s %14s\n", "per turn (median of rounds)", "CPU, own",
	       "callbacks' CPU", "wall", "request bytes");
	for (int i = 0; i < n; i++) {
		double lo = v[i].cpu[0], hi = v[i].cpu[0];

		for (int r = 1; r < ROUNDS; r++) {
			lo = v[i].cpu[r] < lo ? v[i].cpu[r] : lo;
			hi = v[i].cpu[r] > hi ? v[i].cpu[r] : hi;
		}
		printf("  %-26s %6.1f us (%.1f-%.1f) %7.2f us %9.1f us %10.0f\n", v[i].name,
		       med(v[i].cpu), lo, hi, med(v[i].cb), med(v[i].wall), med(v[i].bytes));
	}
	for (int i = 0; i < n; i++) {
		if (v[i].kind == BARE)
			continue;
		for (int j = 0; j < n; j++)
			if (v[j].kind == BARE)
				printf("  %s / bare loop: CPU %.2f (median of rounds), %+.1f us a turn\n",
				       v[i].name, ratio_median(v[i].cpu, v[j].cpu),
				       med(v[i].cpu) - med(v[j].cpu));
	}
	if (n == 3)
		printf("  the journal: %+.1f us of CPU and %+.0f us of wall time a turn "
		       "(journaled - unjournaled, medians)\n", med(v[0].cpu) - med(v[1].cpu),
		       med(v[0].wall) - med(v[1].wall));
	cJSON_Delete(tools);
	cog_ctx_free(ctx);
}

int bench_turn(double scale)
{
	unsigned int runs = (unsigned int)(250 * scale), runs_sql = (unsigned int)(25 * scale);
	variant mem[2] = { { .name = "agent", .kind = AGENT }, { .name = "bare loop", .kind = BARE } };
	variant sql[3] = { { .name = "agent, journaled", .kind = AGENT_JOURNALED },
	                   { .name = "agent, not journaled", .kind = AGENT },
	                   { .name = "bare loop", .kind = BARE } };
	variant normal[3];

	make_answers();
	printf("turn: the agent loop's CPU per turn, LLM and tool callbacks' own CPU taken off "
	       "(goal <= 50 us)\n");
	memcpy(normal, sql, sizeof(normal));
	section("in memory (no storage)", NULL, 0, mem, 2, runs ? runs : 1);
	section("SQLite file, durability FULL (fsync per commit; audit log and journal there)",
	        "turn.db", COG_SQLITE_DURABLE_FULL, sql, 3, runs_sql ? runs_sql : 1);
	section("SQLite file, durability NORMAL (WAL, no fsync per commit)", "turn-normal.db",
	        COG_SQLITE_DURABLE_NORMAL, normal, 3, runs ? runs : 1);
	for (int k = 0; k < TURNS; k++)
		free(answers[k]);
	return 0;
}

/* For a profiler: only one of the loops, `2000 x scale` runs, in memory,
 * or journaled on a SQLite file (`journaled`, the agent only; durability
 * FULL, NORMAL with BENCH_AGENT_NORMAL=1 in the environment). */
int bench_turn_only(bool agent, bool journaled, double scale)
{
	unsigned int runs = (unsigned int)(2000 * scale);
	cog_ctx *ctx = turn_ctx(journaled ? "only.db" : NULL, getenv("BENCH_AGENT_NORMAL") != NULL ?
	                        COG_SQLITE_DURABLE_NORMAL : COG_SQLITE_DURABLE_FULL);
	char *tools_text = NULL;
	cJSON *tools;
	double c0, w0;

	make_answers();
	if (cog_tool_list(ctx, "echo", COG_TOOL_FORMAT_ANTHROPIC, &tools_text) != 0)
		die("cog_tool_list");
	tools = cJSON_Parse(tools_text);
	cog_free(tools_text);
	c0 = cpu_s();
	w0 = now_s();
	for (unsigned int i = 0; i < runs; i++)
		if (agent)
			agent_once(ctx, journaled, false);
		else
			bare_once(ctx, tools);
	printf("%s only: %u runs, %.1f us of CPU and %.1f us of wall a turn (callbacks "
	       "included)\n", agent ? "agent" : "bare loop", runs,
	       (cpu_s() - c0) * 1e6 / runs / TURNS, (now_s() - w0) * 1e6 / runs / TURNS);
	cJSON_Delete(tools);
	cog_ctx_free(ctx);
	for (int k = 0; k < TURNS; k++)
		free(answers[k]);
	return 0;
}
