/* The checks of the agent-e2e suite on what a run left: its spans and its
 * episodes (agent_e2e.h). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_e2e.h"

void on_span(const char *json, void *ud)
{
	spans *sp = ud;
	cJSON *j = cJSON_Parse(json);
	const char *kind = cJSON_GetStringValue(cJSON_GetObjectItem(j, "kind"));
	const cJSON *at = cJSON_GetObjectItem(j, "attributes");
	const char *op = cJSON_GetStringValue(cJSON_GetObjectItem(at, "gen_ai.operation.name"));
	const char *code = cJSON_GetStringValue(cJSON_GetObjectItem(
		cJSON_GetObjectItem(j, "status"), "code"));
	pthread_mutex_lock(&sp->mu);
	bool ok = kind && code && strcmp(code, "ok") == 0 &&
		cJSON_IsString(cJSON_GetObjectItem(j, "trace_id")) &&
		cJSON_IsString(cJSON_GetObjectItem(j, "span_id"));
	if (ok && strcmp(kind, "plan") == 0) {
		sp->plan++;
	} else if (ok && strcmp(kind, "task") == 0) {
		sp->task++;
	} else if (ok && strcmp(kind, "agent.turn") == 0) {
		sp->turn++;
		ok = op && strcmp(op, "invoke_agent") == 0;
	} else if (ok && strcmp(kind, "llm") == 0) {
		sp->llm++;
		ok = op && strcmp(op, "chat") == 0 &&
			cJSON_IsNumber(cJSON_GetObjectItem(at, "gen_ai.usage.input_tokens")) &&
			cJSON_IsNumber(cJSON_GetObjectItem(at, "gen_ai.usage.output_tokens")) &&
			cJSON_IsString(cJSON_GetObjectItem(at, "gen_ai.request.model"));
		if (ok) {
			sp->llm_in += cJSON_GetObjectItem(at, "gen_ai.usage.input_tokens")->valuedouble;
			sp->llm_out += cJSON_GetObjectItem(at, "gen_ai.usage.output_tokens")->valuedouble;
		}
	} else if (ok && strcmp(kind, "tool") == 0) {
		sp->tool++;
		ok = op && strcmp(op, "execute_tool") == 0 &&
			cJSON_IsString(cJSON_GetObjectItem(at, "gen_ai.tool.name"));
	}
	if (!ok && sp->bad++ == 0)
		snprintf(sp->first_bad, sizeof(sp->first_bad), "%.500s", json);
	pthread_mutex_unlock(&sp->mu);
	cJSON_Delete(j);
}

/* Count the episodes of the run by kind. */
void check_episodes(cog_ctx *ctx, const char *ns, const char *plan_id)
{
	cog_memory *mem = NULL;
	cog_memory_options mo = COG_MEMORY_OPTIONS_INIT;
	mo.embedder = "hashing";    /* as the scheduler stores episodes */
	lss_ok(cog_memory_open_with(&mem, ctx, ns, &mo));
	char *res = NULL;
	char query[256];
	snprintf(query, sizeof(query), "{\"text\":\"%s task outcome analyze fetch summarize\","
	         "\"layers\":[\"episodic\"],\"k\":100}", plan_id);
	lss_ok(cog_memory_search(mem, query, &res));
	cJSON *r = cJSON_Parse(res);
	int tasks = 0, outcomes = 0;
	bool seen[3] = { false, false, false };
	const cJSON *m;
	cJSON_ArrayForEach(m, cJSON_GetObjectItem(r, "results")) {
		const cJSON *md = cJSON_GetObjectItem(m, "metadata");
		const char *kind = cJSON_GetStringValue(cJSON_GetObjectItem(md, "kind"));
		const char *plan = cJSON_GetStringValue(cJSON_GetObjectItem(md, "plan"));
		if (!kind || !plan || strcmp(plan, plan_id) != 0)
			continue;
		if (strcmp(kind, "task") == 0) {
			tasks++;
			const char *t = cJSON_GetStringValue(cJSON_GetObjectItem(md, "task"));
			const char *names[3] = { "fetch", "analyze", "summarize" };
			for (int i = 0; i < 3; i++)
				seen[i] |= t && strcmp(t, names[i]) == 0;
		} else if (strcmp(kind, "outcome") == 0) {
			outcomes++;
			ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(md, "status")),
			                 "succeeded");
		}
	}
	ck_assert_msg(tasks == 3 && seen[0] && seen[1] && seen[2] && outcomes == 1,
	              "episodes: %d tasks, %d outcomes in %.2000s", tasks, outcomes, res);
	cJSON_Delete(r);
	cog_free(res);
	cog_memory_free(mem);
}

/* Run the plan; the cost the budget report gives. */
