/*
 * A whole Anthropic Messages answer into the assembler: content blocks
 * (text, tool_use with an input object; other block types are skipped),
 * stop_reason and usage. Streams are read in anthropic_stream.c.
 *
 * Tool calls are numbered in the order their tool_use blocks appear.
 *
 * Usage: Anthropic's input_tokens leaves out tokens written to or read from
 * the prompt cache; ours counts every input token, so input_tokens is the
 * sum of the three and cached_tokens the cache reads.
 *
 * Structured output (anthropic_int.h): the forced tool's input, printed as
 * compact JSON, is the message content and is not reported as a tool call;
 * text the model wrote around it is dropped.
 */
#include <string.h>

#include "anthropic_int.h"

#define MAX_TOKENS_NUMBER 1e15   /* larger usage numbers are nonsense */

/* ---- shared by answers and streams ---- */

void llm_anthropic_usage_take(llm_anthropic_usage *u, const cJSON *json, llm_asm *a)
{
	static const char *const names[] = {
		"input_tokens", "cache_creation_input_tokens",
		"cache_read_input_tokens", "output_tokens",
	};
	double *slots[] = { &u->input, &u->cache_write, &u->cache_read, &u->output };
	for (size_t i = 0; i < COG_ARRAY_LEN(names); i++) {
		const cJSON *item = cJSON_GetObjectItemCaseSensitive(json, names[i]);
		if (cJSON_IsNumber(item) && item->valuedouble >= 0 &&
		    item->valuedouble <= MAX_TOKENS_NUMBER) {
			*slots[i] = item->valuedouble;
			u->any = true;
		}
	}
	if (!u->any)
		return;
	a->input_tokens = (uint64_t)(u->input + u->cache_write + u->cache_read);
	a->cached_tokens = (uint64_t)u->cache_read;
	a->output_tokens = (uint64_t)u->output;
	a->have_usage = true;
}

int llm_anthropic_forced_content(llm_asm *a, const char *text, size_t len)
{
	size_t start = 0;
	while (start < len && (text[start] == ' ' || text[start] == '\t' ||
	                       text[start] == '\n' || text[start] == '\r'))
		start++;
	if (start == len)
		return llm_asm_text(a, "{}", 2);
	cJSON *parsed = NULL;
	if (cog_json_validate(text, len, "tool input") == COG_OK)
		parsed = cJSON_ParseWithLength(text, len);
	cog_error_clear();
	if (!cJSON_IsObject(parsed)) {
		cJSON_Delete(parsed);
		return llm_asm_text(a, text, len);
	}
	char *compact = cog_json_print(parsed);
	cJSON_Delete(parsed);
	if (!compact)
		return cog__oom("anthropic: structured output");
	int rc = llm_asm_text(a, compact, strlen(compact));
	cog_free(compact);
	return rc;
}

/* ---- a whole answer ---- */

static int parse_tool_use(llm_asm *a, const cJSON *block, int i, int tool)
{
	const char *id = cog_json_get_string(block, "id");
	const char *name = cog_json_get_string(block, "name");
	const cJSON *input = cJSON_GetObjectItemCaseSensitive(block, "input");
	if (!id || !name || !cJSON_IsObject(input))
		return cog__error(COG_EPROTO, "anthropic: answer: /content/%d: a tool_use "
			"block needs an id, a name and an input object", i);
	int rc = llm_asm_tool_start(a, tool, id, name);
	return rc ? rc : llm_asm_tool_args_object(a, tool, input);
}

int llm_anthropic_chat_parse(const llm_provider *p, const cJSON *request,
                             const cJSON *answer, llm_asm *a)
{
	(void)p;
	llm_anthropic_forced forced;
	int rc = llm_anthropic_forced_tool(request, &forced);
	if (rc)
		return rc;
	const cJSON *content = cJSON_GetObjectItemCaseSensitive(answer, "content");
	if (!cJSON_IsArray(content))
		return cog__error(COG_EPROTO, "anthropic: answer: \"content\" is not an array");
	const cJSON *answer_block = NULL;
	const cJSON *block;
	if (forced.name)
		cJSON_ArrayForEach(block, content) {
			const char *type = cog_json_get_string(block, "type");
			const char *name = cog_json_get_string(block, "name");
			if (type && name && strcmp(type, "tool_use") == 0 &&
			    strcmp(name, forced.name) == 0) {
				answer_block = block;
				break;
			}
		}
	int i = 0, tools = 0;
	cJSON_ArrayForEach(block, content) {
		const char *type = cog_json_get_string(block, "type");
		if (!type)
			return cog__error(COG_EPROTO, "anthropic: answer: /content/%d: no type", i);
		if (block == answer_block) {
			const cJSON *input = cJSON_GetObjectItemCaseSensitive(block, "input");
			char *text = cog_json_print(input);
			if (!text)
				return cog__oom("anthropic: answer");
			rc = llm_asm_text(a, text, strlen(text));
			cog_free(text);
		} else if (strcmp(type, "text") == 0 && !answer_block) {
			const char *text = cog_json_get_string(block, "text");
			if (!text)
				return cog__error(COG_EPROTO, "anthropic: answer: /content/%d: "
					"a text block without text", i);
			rc = llm_asm_text(a, text, strlen(text));
		} else if (strcmp(type, "tool_use") == 0) {
			rc = parse_tool_use(a, block, i, tools++);
		}
		if (rc)
			return rc;
		i++;
	}
	const char *model = cog_json_get_string(answer, "model");
	if (model && (rc = llm_asm_set_model(a, model)))
		return rc;
	const char *finish = llm_anthropic_finish_reason(
		cog_json_get_string(answer, "stop_reason"), answer_block != NULL);
	if (finish && (rc = llm_asm_set_finish(a, finish)))
		return rc;
	llm_anthropic_usage u = { 0, 0, 0, 0, false };
	llm_anthropic_usage_take(&u, cJSON_GetObjectItemCaseSensitive(answer, "usage"), a);
	return COG_OK;
}

