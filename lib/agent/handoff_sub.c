/*
 * The sub-run of a handoff (handoff.c runs the "handoff" tool): its journal
 * and its parent.
 *
 * Journal. A journaled run journals its sub-runs too, each under its own
 * key "<run key>/h<turn>.<index>" and the run's attempt: after a crash or a
 * pending approval, a handoff the run's journal has is replayed from it;
 * one it does not have runs again, replaying what its own journal has (its
 * LLM answers, its tool results, under the same tool call ids) and going
 * on from there.
 *
 * Parent. The sub-run's environment points at the asking agent and its
 * run's environment: agent_env_canceled() of the sub-run is also true once
 * the parent run is canceled (its agent terminated, its context or task
 * call canceled, or its own parent canceled, up the chain), so a
 * cog_agent_terminate() of the asking agent stops the sub-run at its next
 * turn, and an LLM call in flight (it polls agent_env_canceled) at once.
 * The sub-agent itself is not terminated: its run ends canceled.
 *
 * Injection taint. The sub-run shares the run's taint (agent_env taint):
 * it starts tainted when the run is, its side-effecting calls follow the
 * run's policy, and content flagged in it taints the run. Its task, which
 * the asking model wrote, is scanned as data.
 */
#include <stdio.h>
#include <string.h>

#include "handoff_int.h"
#include "journal_int.h"

/* ---- the sub-run's journal ---- */

/* Whether s[0..n) is "h<digits>.<digits>" (a handoff's part of a prefix). */
static bool is_handoff_part(const char *s, size_t n)
{
	size_t i = 1, digits = 0, dots = 0;
	if (n < 4 || s[0] != 'h')
		return false;
	for (; i < n; i++) {
		if (s[i] == '.' && digits && !dots)
			dots = 1, digits = 0;
		else if (s[i] >= '0' && s[i] <= '9')
			digits++;
		else
			return false;
	}
	return dots && digits;
}

/* The journal key of the sub-run at (turn, index): the run's call prefix
 * is "<run key>/<attempt>" followed by "/h<t>.<i>" per handoff level; the
 * key is that without the attempt, plus "/h<turn>.<index>". COG_EINVAL
 * when the prefix is not of that shape. */
static int sub_journal_key(const char *prefix, unsigned int turn, unsigned int index,
                           char *out, size_t cap)
{
	size_t end = strlen(prefix);
	for (;;) {
		const char *slash = NULL;
		for (size_t k = end; k > 0 && !slash; k--)
			if (prefix[k - 1] == '/')
				slash = prefix + k - 1;
		if (!slash)
			return COG_EINVAL;
		size_t at = (size_t)(slash - prefix);
		if (is_handoff_part(slash + 1, end - at - 1)) {
			end = at;
			continue;
		}
		if (end == at + 1 || strspn(slash + 1, "0123456789") != end - at - 1)
			return COG_EINVAL;
		int n = snprintf(out, cap, "%.*s%s/h%u.%u", (int)at, prefix, prefix + end,
			turn, index);
		return n > 0 && (size_t)n < cap ? COG_OK : COG_EINVAL;
	}
}

/* Open the sub-run's journal when the run is journaled (*out NULL when
 * not). */
static int sub_journal_open(cog_agent *a, const agent_env *env, unsigned int turn,
                            unsigned int index, agent_journal **out)
{
	*out = NULL;
	if (!env->journal)
		return COG_OK;
	char key[1024];
	if (!env->call_prefix ||
	    sub_journal_key(env->call_prefix, turn, index, key, sizeof(key)))
		return cog__error(COG_EINVAL, "handoff: no journal key for the sub-run of "
			"call prefix '%.200s'", env->call_prefix ? env->call_prefix : "");
	int rc = agent_journal_open(out, a->ctx, key, agent_journal_attempt(env->journal));
	return rc ? cog__error_wrap(rc, "handoff: the sub-run's journal '%s'", key) : COG_OK;
}

/* ---- the sub-run ---- */

int agent_handoff_sub(cog_agent *a, cog_agent *sub, const agent_env *env,
                      const char *call_prefix, const char *task, unsigned int turn,
                      unsigned int index, cJSON **result)
{
	*result = NULL;
	agent_env sub_env = *env;
	sub_env.call_prefix = call_prefix;
	sub_env.depth = env->depth + 1;
	sub_env.delegations = NULL;
	sub_env.parent_env = env;
	sub_env.parent_agent = a;
	/* the run's taint (shared: it flows both ways), and the task is data:
	 * the asking model wrote it, maybe from what it read */
	sub_env.taint = env->taint;
	sub_env.prompt_is_data = true;
	cJSON *sub_task = cJSON_CreateObject();
	int rc = sub_journal_open(a, env, turn, index, &sub_env.journal);
	if (!rc && (!sub_task || cog_json_add_string(sub_task, "prompt", task)))
		rc = cog__oom("handoff");
	if (!rc) {
		/* agent_run ends the sub-run's journal as a run's own, except a
		 * success inside a plan: ended here, or a later attempt of the
		 * task would adopt (replay) this one */
		rc = agent_run(sub, sub_task, &sub_env, result);
		if (!rc && agent_journal_end(sub_env.journal, COG_OK) != COG_OK)
			cog__log(a->ctx, COG_LOG_WARN, NULL, "handoff to '%s': %s",
				sub->def->name, cog_error_last());
	}
	char saved[1024];
	snprintf(saved, sizeof(saved), "%s", rc ? cog_error_last() : "");
	agent_journal_close(sub_env.journal);
	cJSON_Delete(sub_task);
	cJSON_Delete(sub_env.delegations);
	return rc ? cog__error(rc, "%s", saved) : COG_OK;
}
