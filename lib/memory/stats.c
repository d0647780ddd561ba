/*
 * cog_memory_stats: what the handle knows about itself, as JSON.
 *
 * "embedder" is null and "dim" 0 until the embedder is decided (the first
 * put or search; deciding here could mean a network call). "index_rows"
 * counts live rows (forgotten ones left out) of a loaded index, 0 before it
 * loads. "puts" counts every successful put, merged ones too. In
 * "redactions", "total" is this handle's count; the per-rule numbers are the
 * context's (every handle and log line of the context).
 */
#include <string.h>

#include "auth_int.h"
#include "mem_auth.h"
#include "memory_int.h"

static size_t live_rows(const mem_index *ix)
{
	if (!ix || !ix->vs)
		return 0;
	size_t n = ix->vs->count, dead = 0;
	for (size_t r = 0; ix->dead && r < n; r++)
		dead += (ix->dead[r / 8] >> (r % 8)) & 1u;
	return n - dead;
}

/* {"total": the handle's count, "<rule>": the context's count, ...} */
static int redactions_json(cog_memory *m, cJSON *o)
{
	cJSON *r = cJSON_AddObjectToObject(o, "redactions");
	if (!r || !cJSON_AddNumberToObject(r, "total", (double)m->redactions))
		return cog__oom("cog_memory_stats");
	char *ctx_json = NULL;
	int rc = cog_redact_stats(m->ctx, &ctx_json);
	if (rc)
		return rc;
	cJSON *ctx_stats = NULL;
	rc = cog_json_parse(&ctx_stats, ctx_json, "cog_memory_stats: redaction stats");
	cog_free(ctx_json);
	while (!rc && cJSON_IsObject(ctx_stats) && ctx_stats->child) {
		cJSON *c = cJSON_DetachItemViaPointer(ctx_stats, ctx_stats->child);
		if (strcmp(c->string, "total") == 0 || !cJSON_IsNumber(c)) {
			cJSON_Delete(c);
			continue;
		}
		if (!cJSON_AddItemToObject(r, c->string, c)) {
			cJSON_Delete(c);
			rc = cog__oom("cog_memory_stats");
		}
	}
	cJSON_Delete(ctx_stats);
	return rc;
}

int cog_memory_stats(cog_memory *m, char **json)
{
	static const char fn[] = "cog_memory_stats";
	COG_CHECK_ARG(json, fn, "json is NULL");
	*json = NULL;
	COG_CHECK_ARG(m, fn, "mem is NULL");
	{
		int auth_rc = mem_auth_check(m, fn, COG_AUTH_MEMORY_READ, m->ns);
		if (auth_rc)
			return auth_rc;
	}
	cog__json_init();
	const mem_tokens *t = &m->tokens;
	cJSON *o = cJSON_CreateObject();
	cJSON *working = o ? cJSON_AddObjectToObject(o, "working") : NULL;
	bool ok = working &&
		cJSON_AddStringToObject(o, "namespace", m->ns) &&
		(m->emb.decided ? cJSON_AddStringToObject(o, "embedder", m->emb.model) != NULL
		                : cJSON_AddNullToObject(o, "embedder") != NULL) &&
		cJSON_AddNumberToObject(o, "dim", m->emb.decided ? (double)m->emb.dim : 0) &&
		cJSON_AddNumberToObject(o, "index_rows", (double)live_rows(m->index)) &&
		cJSON_AddNumberToObject(working, "items", (double)m->working.count) &&
		cJSON_AddNumberToObject(working, "tokens", (double)m->working.tokens) &&
		cJSON_AddNumberToObject(working, "max_tokens", (double)m->working.max_tokens) &&
		cJSON_AddNumberToObject(working, "evicted", (double)m->working.evicted) &&
		cJSON_AddNumberToObject(o, "puts", (double)m->puts) &&
		cJSON_AddNumberToObject(o, "merged", (double)m->merged) &&
		cJSON_AddNumberToObject(o, "searches", (double)m->searches);
	int rc = ok ? redactions_json(m, o) : COG_OK;
	cJSON *tokens = ok && !rc ? cJSON_AddObjectToObject(o, "tokens") : NULL;
	ok = tokens &&
		cJSON_AddNumberToObject(tokens, "ratio", t->ratio) &&
		cJSON_AddNumberToObject(tokens, "samples", (double)t->samples) &&
		(t->samples ? cJSON_AddNumberToObject(tokens, "mean_abs_error",
		                                      t->abs_err_sum / (double)t->samples) != NULL
		            : cJSON_AddNullToObject(tokens, "mean_abs_error") != NULL);
	if (ok)
		*json = cog_json_print(o);
	cJSON_Delete(o);
	if (rc)
		return cog__error_wrap(rc, "%s", fn);
	return *json ? COG_OK : cog__oom(fn);
}
