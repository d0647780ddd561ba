/*
 * The most a call could cost: what the agent budgets (lib/agent) reserve
 * before an LLM call. The route may fall back to any of its models, so the
 * worst case is the most expensive of them at the call's token bound.
 */
#include "router_int.h"
#include "agent_int.h"   /* the prototype: the agent module is the caller */

int cog__llm_worst_cost(cog_ctx *ctx, const char *role, const char *model,
                        uint64_t input_tokens, uint64_t output_tokens,
                        double *cost, bool *priced)
{
	*cost = 0;
	*priced = false;
	llm_router *r = NULL;
	int rc = llm_router_get(ctx, false, &r);
	if (rc)
		return rc;
	if (!r)
		return cog__error(COG_EUNAVAILABLE, "no LLM endpoint: add one with "
			"cog_llm_add_endpoint()");
	llm_plan plan;
	if ((rc = llm_plan_build(&plan, r, role ? role : "executor", model,
	                         (double)input_tokens, (double)output_tokens)))
		return rc;
	bool all_priced = plan.n_candidates > 0;
	double worst = 0;
	for (size_t i = 0; i < plan.n_candidates; i++) {
		const llm_candidate *c = &plan.candidates[i];
		if (!c->priced) {
			all_priced = false;
			continue;
		}
		double x = llm_candidate_cost(c, input_tokens, output_tokens, 0);
		if (x > worst)
			worst = x;
	}
	llm_plan_dispose(&plan);
	*cost = worst;
	*priced = all_priced;
	return COG_OK;
}
