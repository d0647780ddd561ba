/*
 * The "llm" span of a chat call (cognition/trace.h, OpenTelemetry GenAI
 * attribute names): what was asked when it begins, what answered and at
 * what cost when it ends. router_chat.c opens and ends it.
 */
#include <stdio.h>

#include "router_int.h"
#include "trace_int.h"

/* The call's "llm" span (trace.h): what was asked ... */
cog_span *llm_span_begin(cog_ctx *ctx, const cJSON *request, const llm_plan *plan,
                            const char *role)
{
	const char *model = request ? cog_json_get_string(request, "model") : NULL;
	if (!model && plan->n_candidates)
		model = plan->candidates[0].model ? plan->candidates[0].model
		                                  : plan->candidates[0].endpoint->default_model;
	char name[160];
	snprintf(name, sizeof(name), "chat%s%.120s", model ? " " : "", model ? model : "");
	cog_span *span = cog__span_begin(ctx, "llm", name, NULL);
	cog__span_attr_str(span, "gen_ai.operation.name", "chat");
	cog__span_attr_str(span, "cog.llm.role", role);
	if (model)
		cog__span_attr_str(span, "gen_ai.request.model", model);
	const cJSON *v = request ? cJSON_GetObjectItemCaseSensitive(request, "max_tokens") : NULL;
	if (cJSON_IsNumber(v))
		cog__span_attr_num(span, "gen_ai.request.max_tokens", v->valuedouble);
	v = request ? cJSON_GetObjectItemCaseSensitive(request, "temperature") : NULL;
	if (cJSON_IsNumber(v))
		cog__span_attr_num(span, "gen_ai.request.temperature", v->valuedouble);
	return span;
}

/* ... and what answered, at what cost. */
void llm_span_answer(cog_span *span, const llm_run *run, const cJSON *response)
{
	if (!span)
		return;
	const char *provider = cog_json_get_string(response, "provider");
	const char *model = cog_json_get_string(response, "model");
	const char *finish_reason = cog_json_get_string(response, "finish_reason");
	if (provider)
		cog__span_attr_str(span, "gen_ai.provider.name", provider);
	if (model)
		cog__span_attr_str(span, "gen_ai.response.model", model);
	if (finish_reason) {
		cJSON *reasons = cJSON_CreateArray();
		if (reasons)
			cJSON_AddItemToArray(reasons, cJSON_CreateString(finish_reason));
		cog__span_attr_json(span, "gen_ai.response.finish_reasons", reasons);
	}
	cog__span_attr_num(span, "gen_ai.usage.input_tokens", (double)run->input_tokens);
	cog__span_attr_num(span, "gen_ai.usage.output_tokens", (double)run->output_tokens);
	cog__span_attr_str(span, "cog.llm.endpoint",
		run->plan->candidates[run->answered_by].endpoint->name);
	cog__span_attr_num(span, "cog.llm.cost", run->cached ? 0 : run->cost);
	cog__span_attr_bool(span, "cog.llm.cached", run->cached);
	cog__span_attr_num(span, "cog.llm.attempts", run->attempts);
}
