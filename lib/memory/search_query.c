/*
 * The query of cog_memory_search (cognition/memory.h): parsed once and
 * checked member by member, so a mistake is reported by its name instead of
 * turning into a surprising result. Unknown members are refused: a typo
 * ("layer" for "layers") would otherwise silently widen the search.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "search_int.h"

#define JSON_INT_MAX 9007199254740992.0   /* 2^53: exact in a double */

static const char *const members[] = {
	"text", "vector", "k", "layers", "metadata", "since", "until", "inherit",
	"weights", "half_life_ms",
};
enum { M_TEXT, M_VECTOR, M_K, M_LAYERS, M_METADATA, M_SINCE, M_UNTIL, M_INHERIT,
       M_WEIGHTS, M_HALF_LIFE, M_COUNT };

static int stop_at_word(const char *word, size_t len, void *user_data)
{
	(void)word;
	(void)len;
	(void)user_data;
	return 1;
}

static int take_text(const char *fn, const cJSON *it, size_t text_max, mem_search_query *q)
{
	if (!cJSON_IsString(it))
		return cog__error(COG_EINVAL, "%s: \"text\" must be a string", fn);
	size_t len = strlen(it->valuestring);
	if (len > text_max)
		return cog__error(COG_ERANGE, "%s: \"text\" is %zu bytes, over the limit of %zu",
		                  fn, len, text_max);
	if (len == 0)
		return COG_OK;   /* as if absent: the vector may still search */
	q->text = it->valuestring;
	q->text_len = len;
	q->text_has_words = cog_text_words(q->text, len, stop_at_word, NULL) == 1;
	return COG_OK;
}

static int take_vector(const char *fn, const cJSON *it, mem_search_query *q)
{
	if (!cJSON_IsArray(it))
		return cog__error(COG_EINVAL, "%s: \"vector\" must be an array of numbers", fn);
	size_t dim = (size_t)cJSON_GetArraySize(it);
	if (dim == 0 || dim > MEM_VEC_DIM_MAX)
		return cog__error(COG_EINVAL, "%s: \"vector\" has %zu elements, expected 1..%d",
		                  fn, dim, MEM_VEC_DIM_MAX);
	float *v = cog_malloc(dim * sizeof(*v));
	if (!v)
		return cog__oom(fn);
	size_t i = 0;
	for (const cJSON *e = it->child; e; e = e->next, i++) {
		if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble) || fabs(e->valuedouble) > FLT_MAX) {
			cog_free(v);
			return cog__error(COG_EINVAL, "%s: \"vector\"[%zu] is not a finite number%s",
			                  fn, i, cJSON_IsNumber(e) ? " in float range" : "");
		}
		v[i] = (float)e->valuedouble;
	}
	int rc = cog__vec_normalize(v, dim, v, "cog_memory_search: \"vector\"");
	if (rc) {
		cog_free(v);
		return rc;
	}
	q->vector = v;
	q->dim = dim;
	return COG_OK;
}

/* An integral JSON number within lo..hi. */
static int take_int(const char *fn, const cJSON *it, const char *name, double lo, double hi,
                    double *out)
{
	if (!cJSON_IsNumber(it))
		return cog__error(COG_EINVAL, "%s: \"%s\" must be a number", fn, name);
	double v = it->valuedouble;
	if (!(v >= lo && v <= hi) || floor(v) != v)
		return cog__error(COG_EINVAL, "%s: \"%s\" must be an integer %.0f..%.0f, not %g",
		                  fn, name, lo, hi, v);
	*out = v;
	return COG_OK;
}

static int take_metadata(const char *fn, const cJSON *it, mem_search_query *q)
{
	if (cJSON_IsNull(it))
		return COG_OK;
	if (!cJSON_IsObject(it))
		return cog__error(COG_EINVAL,
			"%s: \"metadata\" must be an object of members that must be equal", fn);
	for (const cJSON *e = it->child; e; e = e->next)
		if (!cJSON_IsString(e) && !cJSON_IsNumber(e) && !cJSON_IsBool(e) && !cJSON_IsNull(e))
			return cog__error(COG_EINVAL,
				"%s: \"metadata\" member \"%.64s\" must be a string, number, boolean "
				"or null", fn, e->string);
	if (!it->child)
		return COG_OK;   /* {}: nothing to hold */
	q->filter = cog_json_print(it);
	if (!q->filter)
		return cog__oom(fn);
	q->metadata = it;
	return COG_OK;
}

static int take_weights(const char *fn, const cJSON *it, mem_rank_weights *w)
{
	static const struct { const char *name; double max; const char *range; } names[] = {
		{ "keyword", DBL_MAX, "" }, { "vector", DBL_MAX, "" },
		{ "recency", 1.0, " and <= 1" },      /* a share of the score */
		{ "importance", 2.0, " and <= 2" },   /* keeps 1 + w (importance - 0.5) >= 0 */
	};
	if (!cJSON_IsObject(it))
		return cog__error(COG_EINVAL, "%s: \"weights\" must be an object", fn);
	for (const cJSON *e = it->child; e; e = e->next) {
		size_t i = 0;
		while (i < COG_ARRAY_LEN(names) && strcmp(names[i].name, e->string) != 0)
			i++;
		if (i == COG_ARRAY_LEN(names))
			return cog__error(COG_EINVAL,
				"%s: \"weights\" has an unknown member \"%.64s\" (keyword, vector, "
				"recency, importance)", fn, e->string);
		double v = cJSON_IsNumber(e) ? e->valuedouble : NAN;
		if (!(v >= 0 && v <= names[i].max))
			return cog__error(COG_EINVAL,
				"%s: \"weights\".\"%s\" must be a finite number >= 0%s", fn,
				names[i].name, names[i].range);
		double *slot[] = { &w->keyword, &w->vector, &w->recency, &w->importance };
		*slot[i] = v;
	}
	return COG_OK;
}

static int take_member(const char *fn, int which, const cJSON *it, size_t text_max,
                       mem_search_query *q)
{
	double v = 0;
	int rc;
	switch (which) {
	case M_TEXT:
		return take_text(fn, it, text_max, q);
	case M_VECTOR:
		return take_vector(fn, it, q);
	case M_K:
		rc = take_int(fn, it, "k", 1, MEM_SEARCH_K_MAX, &v);
		q->k = (size_t)v;
		return rc;
	case M_LAYERS:
		return mem_layers_from_json(it, fn, &q->layers);
	case M_METADATA:
		return take_metadata(fn, it, q);
	case M_SINCE:
		rc = take_int(fn, it, "since", 0, JSON_INT_MAX, &v);
		q->since = (int64_t)v;
		return rc;
	case M_UNTIL:
		rc = take_int(fn, it, "until", 1, JSON_INT_MAX, &v);
		q->until = (int64_t)v;
		return rc;
	case M_INHERIT:
		if (!cJSON_IsBool(it))
			return cog__error(COG_EINVAL, "%s: \"inherit\" must be true or false", fn);
		q->inherit = cJSON_IsTrue(it);
		return COG_OK;
	case M_WEIGHTS:
		return take_weights(fn, it, &q->w);
	default:
		v = cJSON_IsNumber(it) ? it->valuedouble : NAN;
		if (!(v > 0 && v <= DBL_MAX))
			return cog__error(COG_EINVAL,
				"%s: \"half_life_ms\" must be a finite number > 0", fn);
		q->w.half_life_ms = v;
		return COG_OK;
	}
}

static int check_whole(const char *fn, const mem_search_query *q)
{
	if (!q->text && !q->vector)
		return cog__error(COG_EINVAL,
			"%s: the query needs \"text\" (not empty) or \"vector\"", fn);
	if (q->since && q->until && q->until <= q->since)
		return cog__error(COG_EINVAL,
			"%s: \"until\" (%lld) must be after \"since\" (%lld)", fn,
			(long long)q->until, (long long)q->since);
	if (q->w.keyword == 0 && q->w.vector == 0)
		return cog__error(COG_EINVAL,
			"%s: \"weights\".\"keyword\" and \"weights\".\"vector\" are both 0", fn);
	if (!q->text && q->w.vector == 0)
		return cog__error(COG_EINVAL,
			"%s: \"weights\".\"vector\" is 0 and there is no \"text\": nothing to search with",
			fn);
	return COG_OK;
}

int mem_search_query_parse(const char *fn, const char *query_json, size_t text_max,
                           mem_search_query *q)
{
	memset(q, 0, sizeof(*q));
	q->k = MEM_SEARCH_K_DEFAULT;
	q->layers = COG_MEMORY_LAYERS_ALL;
	mem_rank_defaults(&q->w);
	int rc = cog_json_parse(&q->root, query_json, "cog_memory_search: query");
	if (rc)
		return rc;
	if (!cJSON_IsObject(q->root))
		return cog__error(COG_EINVAL, "%s: the query must be a JSON object", fn);
	unsigned int seen = 0;
	for (const cJSON *it = q->root->child; it; it = it->next) {
		int which = 0;
		while (which < M_COUNT && strcmp(members[which], it->string) != 0)
			which++;
		if (which == M_COUNT)
			return cog__error(COG_EINVAL,
				"%s: unknown member \"%.64s\" (known: text, vector, k, layers, metadata, "
				"since, until, inherit, weights, half_life_ms)", fn, it->string);
		if (seen & (1u << which))
			return cog__error(COG_EINVAL, "%s: member \"%s\" appears twice", fn,
			                  members[which]);
		seen |= 1u << which;
		rc = take_member(fn, which, it, text_max, q);
		if (rc)
			return rc;
	}
	return check_whole(fn, q);
}

void mem_search_query_dispose(mem_search_query *q)
{
	cJSON_Delete(q->root);
	cog_free(q->vector);
	cog_free(q->filter);
	memset(q, 0, sizeof(*q));
}

static bool value_equal(const cJSON *want, const cJSON *have)
{
	if (cJSON_IsNull(want))
		return !have || cJSON_IsNull(have);
	if (!have)
		return false;
	if (cJSON_IsString(want))
		return cJSON_IsString(have) && strcmp(want->valuestring, have->valuestring) == 0;
	if (cJSON_IsNumber(want))
		return cJSON_IsNumber(have) && want->valuedouble == have->valuedouble;
	if (cJSON_IsBool(want))
		return cJSON_IsBool(have) && cJSON_IsTrue(want) == cJSON_IsTrue(have);
	return false;
}

bool mem_search_metadata_matches(const cJSON *filter, const char *metadata)
{
	if (!filter)
		return true;
	cJSON *doc = metadata ? cJSON_Parse(metadata) : NULL;
	bool ok = true;
	for (const cJSON *f = filter->child; f && ok; f = f->next)
		ok = value_equal(f, cJSON_GetObjectItemCaseSensitive(doc, f->string));
	cJSON_Delete(doc);
	return ok;
}
