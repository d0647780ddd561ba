/* bench_agent load: 1,000 one-call agent tasks on 64 workers against a
 * server answering after 50 ms (see bench_agent.c). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include <cognition/curl.h>
#include <cognition/sqlite.h>

#include "bench_agent.h"
#include "wire_server.h"

enum { WORKERS = 64, DELAY_MS = 50, BATCHES = 5, CONFIGS = 4 };

/* An OpenAI chat completion as api.openai.com sends it. */
static const char ANSWER[] =
	"{\"id\":\"chatcmpl-BbR6nXJ0mQx3RqzvTtGd2yDLfz8Ks\",\"object\":\"chat.completion\","
	"\"created\":1748368921,\"model\":\"gpt-4.1-mini-2025-04-14\",\"choices\":[{\"index\":0,"
	"\"message\":{\"role\":\"assistant\",\"content\":\"Hello, number one.\",\"refusal\":null,"
	"\"annotations\":[]},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":"
	"{\"prompt_tokens\":42,\"completion_tokens\":5,\"total_tokens\":47},"
	"\"service_tier\":\"default\",\"system_fingerprint\":\"fp_b3f1157249\"}";

/* The peer's executor: the task's prompt straight to cog_llm_chat. */
static int direct_chat(cog_task_call *call, void *user_data)
{
	cog_ctx *ctx = user_data;
	cJSON *task = cJSON_Parse(cog_task_call_task(call)), *req = cJSON_CreateObject();
	cJSON *msgs = cJSON_AddArrayToObject(req, "messages"), *m = cJSON_CreateObject();
	const char *prompt = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(task, "inputs"), "prompt"));
	char *text, *answer = NULL;
	int rc;

	cJSON_AddStringToObject(m, "role", "user");
	cJSON_AddStringToObject(m, "content", prompt != NULL ? prompt : "?");
	cJSON_AddItemToArray(msgs, m);
	cJSON_AddNumberToObject(req, "max_tokens", 1024);
	text = cJSON_PrintUnformatted(req);
	cJSON_Delete(req);
	cJSON_Delete(task);
	rc = cog_llm_chat(ctx, text, NULL, &answer);
	cJSON_free(text);
	if (rc == 0)
		rc = cog_task_call_set_result(call, answer);
	cog_free(answer);
	return rc;
}

typedef struct config {
	const char *name;
	bool agent, durable;
	cog_ctx *ctx;
	bool failed;                  /* its first batch failed: said, skipped */
	double wall[BATCHES], cpu[BATCHES];
} config;

static void config_open(config *c, const ws_server *server)
{
	cog_llm_provider_options po = COG_LLM_PROVIDER_OPTIONS_INIT;
	cog_transport *transport = NULL;
	cog_llm *llm = NULL;
	char db[64], base[128];

	snprintf(db, sizeof(db), "load-%s.db", c->agent ? "agent" : "direct");
	/* BENCH_AGENT_NORMAL=1: durability NORMAL (no fsync per commit),
	 * to tell the journal's fsyncs from the rest. */
	c->ctx = bench_ctx(c->durable ? db : NULL, getenv("BENCH_AGENT_NORMAL") != NULL ?
	                   COG_SQLITE_DURABLE_NORMAL : COG_SQLITE_DURABLE_FULL, WORKERS);
	snprintf(base, sizeof(base), "%s/v1", ws_url(server));
	po.provider = COG_LLM_OPENAI;
	po.base_url = base;
	po.api_key = "sk-bench";
	po.model = "gpt-4.1-mini";
	if (cog_curl_transport_new(&transport, NULL) != 0 ||
	    cog_ctx_set_transport(c->ctx, transport) != 0 ||
	    cog_llm_provider_new(&llm, c->ctx, &po) != 0 ||
	    cog_llm_add_endpoint(c->ctx, "main", llm, NULL) != 0 ||
	    cog_llm_configure(c->ctx, "{\"cache\":{\"enabled\":false}}") != 0)
		die("setting up the load context");
	if (c->agent ? cog_ctx_set_task_executor(c->ctx, cog_task_run_agent, NULL) :
	               cog_ctx_set_task_executor(c->ctx, direct_chat, c->ctx))
		die("cog_ctx_set_task_executor");
}

/* One batch: a plan of `tasks` independent llm tasks, run; wall seconds
 * of cog_plan_run (building the plan is not counted). */
static void batch(config *c, ws_server *server, unsigned int tasks, int b)
{
	cog_run_options ro = COG_RUN_OPTIONS_INIT;
	ws_answer a = ws_answer_body(200, NULL, ANSWER);
	cog_plan *plan = NULL;
	char task[160];
	double w0, c0;
	int rc;

	if (cog_plan_new(&plan, c->ctx, "greet everyone") != 0)
		die("cog_plan_new");
	for (unsigned int i = 0; i < tasks; i++) {
		snprintf(task, sizeof(task), "{\"id\":\"t%u\",\"kind\":\"llm\",\"inputs\":"
		         "{\"prompt\":\"Say hello to number %u.\"}}", i, i);
		if (cog_plan_add_task(plan, task) != 0)
			die("cog_plan_add_task");
	}
	ws_reset(server);
	a.delay_ms = DELAY_MS;
	if (ws_push(server, &a) != 0)
		fail("ws_push failed");
	ro.workers = WORKERS;
	ro.durability = c->durable ? COG_DURABLE_ON : COG_DURABLE_OFF;
	ro.failure_policy = COG_CONTINUE_INDEPENDENT;
	w0 = now_s();
	c0 = cpu_s();
	rc = cog_plan_run(plan, &ro);
	c->wall[b] = now_s() - w0;
	c->cpu[b] = cpu_s() - c0;
	if (rc != 0) {
		const char *e = cog_error_last();

		fprintf(stderr, "bench_agent: %s: cog_plan_run: %d %.600s%s\n", c->name, rc, e,
		        strlen(e) > 600 ? "..." : "");
		c->failed = true;
		cog_plan_free(plan);
		return;
	}
	if (ws_requests(server) != tasks)
		fail("%s: the server got %u requests for %u tasks", c->name, ws_requests(server),
		     tasks);
	cog_plan_free(plan);
}

int bench_load(double scale)
{
	unsigned int tasks = (unsigned int)(1000 * scale);
	unsigned int waves = (tasks + WORKERS - 1) / WORKERS;
	double ideal = waves * DELAY_MS / 1e3;
	config cfg[CONFIGS] = {
		{ .name = "agent (cog_task_run_agent), in memory", .agent = true },
		{ .name = "agent (cog_task_run_agent), durable", .agent = true, .durable = true },
		{ .name = "peer: cog_llm_chat executor, in memory" },
		{ .name = "peer: cog_llm_chat executor, durable", .durable = true },
	};
	ws_server *server = NULL;
	int failures = 0;
	/* BENCH_AGENT_LOAD_ONLY=<0..3>: that configuration alone (profiling). */
	const char *only = getenv("BENCH_AGENT_LOAD_ONLY");

	for (int i = 0; i < CONFIGS && only != NULL; i++)
		cfg[i].failed = atoi(only) != i;

	if (tasks == 0)
		tasks = 1;
	if (ws_start(&server) != 0)
		fail("the wire server did not start");
	printf("load: %u independent llm tasks, 1 LLM call each, %d workers, OpenAI provider over "
	       "libcognition-curl to a loopback wire server answering after %d ms; ideal "
	       "ceil(%u/%d) x %d ms = %.0f ms (goal <= 1.15 x); %d batches each (1 cold), "
	       "interleaved; durable: SQLite file, durability %s\n", tasks, WORKERS, DELAY_MS,
	       tasks, WORKERS, DELAY_MS, ideal * 1e3, BATCHES,
	       getenv("BENCH_AGENT_NORMAL") != NULL ? "NORMAL" : "FULL");
	for (int i = 0; i < CONFIGS; i++)
		config_open(&cfg[i], server);
	for (int b = 0; b < BATCHES; b++)
		for (int i = 0; i < CONFIGS; i++)
			if (!cfg[(i + b) % CONFIGS].failed)
				batch(&cfg[(i + b) % CONFIGS], server, tasks, b);
	for (int i = 0; i < CONFIGS; i++) {
		config *c = &cfg[i];
		double warm[BATCHES - 1], cpu[BATCHES - 1], m;

		if (only != NULL && atoi(only) != i) {
			cog_ctx_free(c->ctx);
			continue;
		}
		printf("  %-40s", c->name);
		if (c->failed) {
			printf(" failed (above)\n");
			failures++;
			cog_ctx_free(c->ctx);
			continue;
		}
		for (int b = 0; b < BATCHES; b++)
			printf(" %5.0f", c->wall[b] * 1e3);
		memcpy(warm, c->wall + 1, sizeof(warm));
		memcpy(cpu, c->cpu + 1, sizeof(cpu));
		m = median(warm, BATCHES - 1);
		printf(" ms; warm median %.0f ms = %.3f x ideal; CPU %.0f us a task\n", m * 1e3,
		       m / ideal, median(cpu, BATCHES - 1) * 1e6 / tasks);
		cog_ctx_free(c->ctx);
	}
	ws_stop(server);
	if (failures)
		fail("load: %d of %d configurations failed", failures, CONFIGS);
	return 0;
}
