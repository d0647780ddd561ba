/*
 * OpenAI embeddings: POST /embeddings {"model","input":[...],"dimensions"?,
 * "user"?} answered with data[] of {"index","embedding":[...]} (in any
 * order) and usage.
 */
#include <math.h>
#include <string.h>

#include "openai_int.h"

static uint64_t count_of(const cJSON *object, const char *name)
{
	double v = cog_json_get_number(object, name, 0);
	if (!isfinite(v) || v < 0)
		return 0;
	return v > 9e15 ? (uint64_t)9e15 : (uint64_t)v;
}

int llm_openai_embed_body(const llm_provider *p, const cJSON *request, cog_buf *buf)
{
	(void)p;
	const char *model = cog_json_get_string(request, "model");
	const cJSON *input = cJSON_GetObjectItemCaseSensitive(request, "input");
	cog_buf_putc(buf, '{');
	if (model) {
		cog_buf_puts(buf, "\"model\":");
		cog_buf_put_json_string(buf, model, strlen(model));
		cog_buf_putc(buf, ',');
	}
	cog_buf_puts(buf, "\"input\":[");
	const cJSON *text;
	cJSON_ArrayForEach(text, input) {
		if (!cJSON_IsString(text))
			return cog__error(COG_EINVAL, "openai: embeddings: an input is not a string");
		if (text != input->child)
			cog_buf_putc(buf, ',');
		cog_buf_put_json_string(buf, text->valuestring, strlen(text->valuestring));
	}
	cog_buf_putc(buf, ']');
	/* The request's own choices (request_embed.c checked them). */
	const cJSON *dims = cJSON_GetObjectItemCaseSensitive(request, "dimensions");
	const char *user = cog_json_get_string(request, "user");
	if (cJSON_IsNumber(dims))
		cog_buf_printf(buf, ",\"dimensions\":%d", dims->valueint);
	if (user) {
		cog_buf_puts(buf, ",\"user\":");
		cog_buf_put_json_string(buf, user, strlen(user));
	}
	cog_buf_putc(buf, '}');
	return buf->failed ? cog__oom("openai: embeddings") : COG_OK;
}

static int embed_fail(cJSON **slots, cJSON *out, int rc)
{
	cog_free(slots);
	cJSON_Delete(out);
	return rc;
}

/* data[] → vectors in index order (a server may answer in any order). */
int llm_openai_embed_parse(const llm_provider *p, const cJSON *answer, cJSON **response)
{
	(void)p;
	*response = NULL;
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(answer, "data");
	int n = cJSON_GetArraySize(data);
	if (!cJSON_IsArray(data) || n == 0)
		return cog__error(COG_EPROTO, "openai: embeddings: data is missing or empty");
	cJSON **slots = cog__calloc((size_t)n, sizeof(*slots));
	cJSON *out = cJSON_CreateObject();
	if (!slots || !out)
		return embed_fail(slots, out, cog__oom("openai: embeddings"));
	int pos = 0, dims = -1;
	const cJSON *item;
	cJSON_ArrayForEach(item, data) {
		const cJSON *vec = cJSON_GetObjectItemCaseSensitive(item, "embedding");
		double index = cog_json_get_number(item, "index", pos);
		if (!cJSON_IsArray(vec))
			return embed_fail(slots, out, cog__error(COG_EPROTO,
				"openai: embeddings: data[%d].embedding is not an array of numbers", pos));
		if (index < 0 || index >= n || index != floor(index) || slots[(int)index])
			return embed_fail(slots, out, cog__error(COG_EPROTO,
				"openai: embeddings: data[%d].index is not a new index below %d", pos, n));
		if (dims < 0)
			dims = cJSON_GetArraySize(vec);
		if (cJSON_GetArraySize(vec) != dims || dims == 0)
			return embed_fail(slots, out, cog__error(COG_EPROTO,
				"openai: embeddings: data[%d] has %d dimensions, not %d", pos,
				cJSON_GetArraySize(vec), dims));
		slots[(int)index] = (cJSON *)vec;
		pos++;
	}
	cJSON *list = cJSON_AddArrayToObject(out, "data");
	for (int i = 0; list && i < n; i++) {
		cJSON *copy = cJSON_Duplicate(slots[i], true);
		if (!copy || !cJSON_AddItemToArray(list, copy)) {
			cJSON_Delete(copy);
			list = NULL;
		}
	}
	cJSON *usage = list ? cJSON_AddObjectToObject(out, "usage") : NULL;
	const char *model = cog_json_get_string(answer, "model");
	if (!usage || (model && cog_json_add_string(out, "model", model)) ||
	    cog_json_add_number(out, "dimensions", dims) ||
	    cog_json_add_number(usage, "input_tokens", (double)count_of(
		cJSON_GetObjectItemCaseSensitive(answer, "usage"), "prompt_tokens")))
		return embed_fail(slots, out, cog__oom("openai: embeddings"));
	cog_free(slots);
	*response = out;
	return COG_OK;
}
