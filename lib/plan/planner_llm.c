/*
 * The LLM planner: a goal and the context's tools go to the router (role
 * "planner") with the plan schema as structured output, so the router
 * re-asks the model while its answer does not match the schema. The answer
 * then has to be a plan this library accepts: read by cog_plan_from_json()
 * and checked by cog_plan_validate() (dependencies, cycles, tools and their
 * inputs, budget). A plan that fails there goes back to the model with the
 * message, as the next turn of the same conversation, up to
 * PLAN_LLM_REPAIRS times.
 *
 * Only the public LLM API is used (llm.h): the planner is a client of the
 * router like any host.
 */
#include <stdio.h>
#include <string.h>

#include "cognition/llm.h"
#include "cognition/tool.h"
#include "planner.h"

/* The tools part of the prompt: each tool's description and input schema
 * up to these sizes, the whole list up to TOOLS_TEXT_MAX bytes; tools past
 * that are listed by name only. Bytes, cut at a character boundary. */
#define TOOL_DESCRIPTION_MAX 400
#define TOOL_SCHEMA_MAX 2000
#define TOOLS_TEXT_MAX 24000

/* Error messages quoted back to the model. */
#define REPAIR_TEXT_MAX 1024

static const char system_prompt[] =
	"You are the planner of an agent runtime. You turn a goal into a plan: a directed "
	"acyclic graph of tasks that together reach the goal. Answer with one JSON object "
	"that matches the JSON Schema you are given, and nothing else.\n"
	"\n"
	"Rules:\n"
	"- Every task has an id that is unique in the plan (1 to 128 of the characters "
	"A-Z a-z 0-9 _ . : -), a short title and a kind.\n"
	"- kind \"tool\": the task calls one of the available tools. \"tool\" names it and "
	"\"inputs\" is the tool's arguments: an object that matches the tool's input schema "
	"exactly (its required members, no others). Use only the tools listed.\n"
	"- kind \"llm\": a language-model step; put its instructions in inputs.prompt. "
	"kind \"step\": a step the host carries out; kind \"host\": work left to the host "
	"application.\n"
	"- \"depends_on\" lists the ids of the tasks that must finish first. Name only tasks "
	"listed before this one: no task depends on itself, and there are no cycles.\n"
	"- An input can be a value from a dependency's result: "
	"{\"$from\":\"<task id>\",\"pointer\":\"/json/pointer\"}; that task must be in "
	"depends_on.\n"
	"- \"estimate\" gives tokens, cost and duration_ms (numbers >= 0). A \"budget\" "
	"(max_tokens, max_cost, max_duration_ms) is optional; if you give one, the summed "
	"estimates must fit it.\n"
	"- Set \"idempotent\": true when running the task twice is harmless.\n"
	"- Keep the plan as small as the goal allows (at most "
	PLAN_LLM_STR(PLAN_LLM_MAX_TASKS) " tasks).\n"
	"\n"
	"Example: {\"tasks\":[{\"id\":\"fetch\",\"title\":\"Download the page\",\"kind\":\"tool\","
	"\"tool\":\"http_fetch\",\"inputs\":{\"url\":\"https://example.org/\"},\"idempotent\":true},"
	"{\"id\":\"summary\",\"title\":\"Summarise it\",\"kind\":\"llm\",\"inputs\":{\"prompt\":"
	"\"Summarise this page.\",\"page\":{\"$from\":\"fetch\",\"pointer\":\"/body\"}},"
	"\"depends_on\":[\"fetch\"]}]}\n";

/* Append at most max bytes of s, cut at a UTF-8 character boundary, with
 * "..." when cut. */
static void put_bounded(cog_buf *b, const char *s, size_t max)
{
	size_t len = strlen(s);
	if (len <= max) {
		cog_buf_put(b, s, len);
		return;
	}
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	cog_buf_put(b, s, max);
	cog_buf_puts(b, "...");
}

/* One tool: "- name [flags]: description\n  input schema: {...}\n". A
 * schema too long to quote is summarised by its property names, which is
 * what a model most needs; validation catches the rest. */
static void put_tool(cog_buf *b, const cJSON *tool)
{
	const char *name = cog_json_get_string(tool, "name");
	const char *description = cog_json_get_string(tool, "description");
	cog_buf_printf(b, "- %s", name ? name : "?");
	const cJSON *flag, *flags = cJSON_GetObjectItemCaseSensitive(tool, "flags");
	const char *sep = " [";
	cJSON_ArrayForEach(flag, flags) {
		if (cJSON_IsString(flag)) {
			cog_buf_printf(b, "%s%s", sep, flag->valuestring);
			sep = ", ";
		}
	}
	if (sep[0] == ',')
		cog_buf_putc(b, ']');
	if (description && *description) {
		cog_buf_puts(b, ": ");
		put_bounded(b, description, TOOL_DESCRIPTION_MAX);
	}
	const cJSON *schema = cJSON_GetObjectItemCaseSensitive(tool, "input_schema");
	char *text = schema ? cog_json_print(schema) : NULL;
	if (text && strlen(text) <= TOOL_SCHEMA_MAX) {
		cog_buf_printf(b, "\n  input schema: %s\n", text);
	} else if (text) {
		cog_buf_puts(b, "\n  input schema (too long to show): an object with members");
		const cJSON *p, *props = cJSON_GetObjectItemCaseSensitive(schema, "properties");
		cJSON_ArrayForEach(p, props)
			cog_buf_printf(b, " %s", p->string);
		const cJSON *req = cJSON_GetObjectItemCaseSensitive(schema, "required");
		sep = "; required:";
		cJSON_ArrayForEach(p, req) {
			if (cJSON_IsString(p)) {
				cog_buf_printf(b, "%s %s", sep, p->valuestring);
				sep = ",";
			}
		}
		cog_buf_putc(b, '\n');
	} else {
		cog_buf_putc(b, '\n');
	}
	cog_free(text);
}

/* The "Available tools" part of the user message. */
static int put_tools(cog_buf *b, cog_ctx *ctx)
{
	char *json = NULL;
	int rc = cog_tool_list(ctx, NULL, COG_TOOL_FORMAT_COG, &json);
	if (rc)
		return cog__error_wrap(rc, "llm planner: listing the tools");
	cJSON *tools = NULL;
	rc = cog_json_parse(&tools, json, "llm planner: the tool list");
	cog_free(json);
	if (rc)
		return rc;
	int count = cJSON_GetArraySize(tools);
	if (count == 0) {
		cog_buf_puts(b, "No tools are available: use only the kinds llm, step and host.\n");
		cJSON_Delete(tools);
		return COG_OK;
	}
	cog_buf_printf(b, "Available tools (%d):\n", count);
	const cJSON *tool;
	int shown = 0;
	cJSON_ArrayForEach(tool, tools) {
		size_t before = b->len;
		put_tool(b, tool);
		if (b->len > TOOLS_TEXT_MAX && shown > 0) {
			/* Undo this one; name the rest. */
			b->len = before;
			b->ptr[before] = '\0';
			break;
		}
		shown++;
	}
	if (shown < count) {
		cog_buf_printf(b, "More tools (%d, no room for their schemas):", count - shown);
		int i = 0;
		cJSON_ArrayForEach(tool, tools) {
			if (i++ >= shown)
				cog_buf_printf(b, " %s", cog_json_get_string(tool, "name"));
		}
		cog_buf_putc(b, '\n');
	}
	cJSON_Delete(tools);
	return COG_OK;
}

static int add_message(cJSON *messages, const char *role, const char *content)
{
	cJSON *m = cJSON_CreateObject();
	if (!m || cog_json_add_string(m, "role", role) ||
	    cog_json_add_string(m, "content", content) || !cJSON_AddItemToArray(messages, m)) {
		cJSON_Delete(m);
		return cog__oom("llm planner: message");
	}
	return COG_OK;
}

/* {"messages":[system, user],"response_format":{json_schema: the plan}} */
static int build_request(cJSON **out, cog_ctx *ctx, const char *goal)
{
	*out = NULL;
	cog_buf user = COG_BUF_INIT;
	cog_buf_printf(&user, "Goal: %s\n\n", goal);
	int rc = put_tools(&user, ctx);
	if (!rc && user.failed)
		rc = cog__oom("llm planner: prompt");
	cJSON *schema = NULL, *req = NULL;
	if (!rc)
		rc = cog_json_parse(&schema, plan_llm_schema, "llm planner: the plan schema");
	cJSON *messages = NULL, *format = NULL, *js = NULL;
	if (!rc && (!(req = cJSON_CreateObject()) ||
	    !(messages = cJSON_AddArrayToObject(req, "messages")) ||
	    !(format = cJSON_AddObjectToObject(req, "response_format")) ||
	    cog_json_add_string(format, "type", "json_schema") ||
	    !(js = cJSON_AddObjectToObject(format, "json_schema")) ||
	    cog_json_add_string(js, "name", "plan") ||
	    cog_json_add_bool(js, "strict", false) ||
	    /* Deterministic, so the router may answer a repeated goal from its
	     * cache. */
	    cog_json_add_number(req, "temperature", 0)))
		rc = cog__oom("llm planner: request");
	if (!rc) {
		/* On failure the schema is still ours: deleted below. */
		if (!cJSON_AddItemToObject(js, "schema", schema))
			rc = cog__oom("llm planner: request");
		else
			schema = NULL;
	}
	if (!rc)
		rc = add_message(messages, "system", system_prompt);
	if (!rc)
		rc = add_message(messages, "user", user.ptr);
	cJSON_Delete(schema);
	cog_buf_dispose(&user);
	if (rc) {
		cJSON_Delete(req);
		return rc;
	}
	*out = req;
	return COG_OK;
}

/* The model's plan: the router's "parsed" answer, else the message text
 * read as JSON. Sets *answer (owned by response) and *text (compact JSON
 * of it, cog_free) for the conversation. */
static int read_answer(const char *response_json, cJSON **response, const cJSON **answer,
                       char **text)
{
	*answer = NULL;
	*text = NULL;
	int rc = cog_json_parse(response, response_json, "llm planner: the router's answer");
	if (rc)
		return rc;
	const cJSON *parsed = cJSON_GetObjectItemCaseSensitive(*response, "parsed");
	if (!cJSON_IsObject(parsed)) {
		const cJSON *msg = cJSON_GetObjectItemCaseSensitive(*response, "message");
		const char *content = cog_json_get_string(msg, "content");
		cJSON *from_text = content ? cJSON_Parse(content) : NULL;
		if (!cJSON_IsObject(from_text)) {
			cJSON_Delete(from_text);
			return cog__error(COG_EPROTO, "llm planner: the answer holds no JSON object "
				"(content: %.200s)", content ? content : "null");
		}
		/* Owned by the response from here, freed with it. */
		if (!cJSON_AddItemToObject(*response, "planner_parsed", from_text)) {
			cJSON_Delete(from_text);
			return cog__oom("llm planner: answer");
		}
		parsed = from_text;
	}
	*answer = parsed;
	if (!(*text = cog_json_print(parsed)))
		return cog__oom("llm planner: answer");
	return COG_OK;
}

/* Plan JSON from the answer: the goal is the caller's, the id fresh. */
static int plan_from_answer(cog_plan **out, cog_ctx *ctx, const char *goal,
                            const cJSON *answer)
{
	*out = NULL;
	cJSON *doc = cJSON_Duplicate(answer, true);
	if (!doc)
		return cog__oom("llm planner: plan");
	cJSON_DeleteItemFromObjectCaseSensitive(doc, "id");
	cJSON_DeleteItemFromObjectCaseSensitive(doc, "goal");
	cJSON_DeleteItemFromObjectCaseSensitive(doc, "version");
	char *text = NULL;
	int rc = cog_json_add_string(doc, "goal", goal);
	if (!rc && !(text = cog_json_print(doc)))
		rc = COG_ENOMEM;
	cJSON_Delete(doc);
	if (rc)
		return cog__oom("llm planner: plan");
	cog_plan *plan = NULL;
	rc = cog_plan_from_json(&plan, ctx, text);
	cog_free(text);
	if (!rc && (rc = cog_plan_validate(plan))) {
		/* The model never saw the plan's id: leave it out of the message. */
		const char *msg = cog_error_last(), *id = cog_plan_id(plan);
		size_t id_len = strlen(id);
		char copy[REPAIR_TEXT_MAX];
		if (strncmp(msg, "plan ", 5) == 0 && strncmp(msg + 5, id, id_len) == 0 &&
		    strncmp(msg + 5 + id_len, ": ", 2) == 0) {
			snprintf(copy, sizeof(copy), "%s", msg + 7 + id_len);
			cog__error(rc, "%s", copy);
		}
	}
	if (rc) {
		cog_plan_free(plan);
		return rc;
	}
	*out = plan;
	return COG_OK;
}

/* The next turn: the model's plan, then what is wrong with it. */
static int add_repair(cJSON *request, const char *answer_text, const char *error)
{
	cJSON *messages = cJSON_GetObjectItemCaseSensitive(request, "messages");
	cog_buf b = COG_BUF_INIT;
	cog_buf_puts(&b, "That plan is not valid: ");
	put_bounded(&b, error, REPAIR_TEXT_MAX);
	cog_buf_puts(&b, "\nCorrect it and answer with the whole plan again, as one JSON "
		"object that matches the schema.");
	int rc = b.failed ? cog__oom("llm planner: repair") : COG_OK;
	if (!rc)
		rc = add_message(messages, "assistant", answer_text);
	if (!rc)
		rc = add_message(messages, "user", b.ptr);
	cog_buf_dispose(&b);
	return rc;
}

/* A plan that cog_plan_from_json() or cog_plan_validate() refused for
 * something the model can fix. */
static bool repairable(int rc)
{
	return rc == COG_EINVAL || rc == COG_ENOTFOUND || rc == COG_ECYCLE ||
		rc == COG_ESCHEMA || rc == COG_EBUDGET || rc == COG_ERANGE;
}

int plan_llm_planner(cog_plan **out, cog_ctx *ctx, const char *goal)
{
	*out = NULL;
	if (!cog_llm_available(ctx))
		return cog__error(COG_ENOTFOUND, "llm planner: the context has no LLM endpoint");
	cog__json_init();
	cJSON *request = NULL;
	int rc = build_request(&request, ctx, goal);
	if (rc)
		return rc;
	cog_llm_chat_options options = COG_LLM_CHAT_OPTIONS_INIT;
	options.role = "planner";
	char last_error[REPAIR_TEXT_MAX] = "";
	for (int attempt = 0; attempt <= PLAN_LLM_REPAIRS; attempt++) {
		char *request_json = cog_json_print(request), *response_json = NULL;
		if (!request_json) {
			rc = cog__oom("llm planner: request");
			break;
		}
		rc = cog_llm_chat(ctx, request_json, &options, &response_json);
		cog_free(request_json);
		if (rc) {
			if (rc != COG_ECANCELED)
				rc = cog__error_wrap(rc, "llm planner");
			break;
		}
		cJSON *response = NULL;
		const cJSON *answer = NULL;
		char *answer_text = NULL;
		rc = read_answer(response_json, &response, &answer, &answer_text);
		cog_free(response_json);
		cog_plan *plan = NULL;
		if (!rc)
			rc = plan_from_answer(&plan, ctx, goal, answer);
		cJSON_Delete(response);
		if (!rc) {
			cog_free(answer_text);
			cJSON_Delete(request);
			cog__log(ctx, COG_LOG_INFO, NULL, "llm planner: a plan of %zu tasks after %d "
				"repairs", cog_plan_task_count(plan), attempt);
			*out = plan;
			return COG_OK;
		}
		if (!repairable(rc) || attempt == PLAN_LLM_REPAIRS || !answer_text) {
			/* A refused plan, or no plan to speak of (read_answer failed). */
			bool refused = answer_text && repairable(rc);
			cog_free(answer_text);
			if (refused && attempt > 0)
				rc = cog__error_wrap(rc, "llm planner: the plan is still invalid after "
					"%d repair%s", attempt, attempt == 1 ? "" : "s");
			else if (refused)
				rc = cog__error_wrap(rc, "llm planner: the plan is invalid");
			break;
		}
		snprintf(last_error, sizeof(last_error), "%s", cog_error_last());
		cog__log(ctx, COG_LOG_DEBUG, NULL, "llm planner: repair %d: %s", attempt + 1,
			last_error);
		rc = add_repair(request, answer_text, last_error);
		cog_free(answer_text);
		if (rc)
			break;
	}
	cJSON_Delete(request);
	return rc;
}
