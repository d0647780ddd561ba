/*
 * A host that brings its own "LLM": a backend plugged in through
 * cog_llm_vtable. This one follows two rules instead of calling a model,
 * so it is deterministic and needs no network:
 *   - when the conversation holds no tool result yet and the task says
 *     "add A and B", it asks for the tool "add" with {"a":A,"b":B};
 *   - once the tool answered {"sum":S}, it answers "A + B = S".
 * A real backend would send the request to its model and translate the
 * answer into the same response shape (see cognition/llm.h).
 * An agent task of a plan then runs the whole loop through it: the agent
 * asks the "LLM", runs the tool it asked for, and asks again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cognition.h>

/* Our backend's state (vtable.self): how many requests it answered. */
typedef struct rules_llm {
	int requests;
} rules_llm;

/* Text of the response shape, copied with cog_malloc for the library. */
static int respond(char **response_json, const char *content, const char *tool_call)
{
	char text[1024];
	snprintf(text, sizeof(text),
		"{\"message\":{\"role\":\"assistant\",\"content\":%s,\"tool_calls\":[%s]},"
		"\"finish_reason\":\"%s\",\"model\":\"rules-1\","
		"\"usage\":{\"input_tokens\":10,\"output_tokens\":5}}",
		content, tool_call, tool_call[0] ? "tool_calls" : "stop");
	*response_json = cog_malloc(strlen(text) + 1);
	if (!*response_json)
		return cog_error_set(COG_ENOMEM, "rules LLM: out of memory");
	strcpy(*response_json, text);
	return 0;
}

static int rules_chat(void *self, const char *request_json, cog_llm_call *call,
                      char **response_json)
{
	(void)call; /* no streaming, nothing to cancel: answers are instant */
	rules_llm *llm = self;
	llm->requests++;
	cJSON *request = cJSON_Parse(request_json);
	if (!request)
		return cog_error_set(COG_EINVAL, "rules LLM: the request is not JSON");

	/* Walk the messages: remember the last tool result and find "add A and B"
	 * in what the user (the agent's prompt) said. */
	const char *tool_result = NULL;
	double a = 0, b = 0;
	int have_numbers = 0;
	const cJSON *message;
	cJSON_ArrayForEach(message, cJSON_GetObjectItem(request, "messages")) {
		const char *role = cJSON_GetStringValue(cJSON_GetObjectItem(message, "role"));
		const char *text = cJSON_GetStringValue(cJSON_GetObjectItem(message, "content"));
		if (!role || !text)
			continue;
		const char *add = strstr(text, "add ");
		if (strcmp(role, "user") == 0 && add && sscanf(add, "add %lf and %lf", &a, &b) == 2)
			have_numbers = 1;
		if (strcmp(role, "tool") == 0)
			tool_result = text;
	}

	int rc;
	char content[512], tool_call[256];
	const char *sum = tool_result ? strstr(tool_result, "\"sum\":") : NULL;
	if (sum) {
		/* The tool result comes back marked as data:
		 * <data source="tool:add">{"sum":5}</data>. */
		snprintf(content, sizeof(content), "\"%g + %g = %g\"", a, b,
			atof(sum + strlen("\"sum\":")));
		rc = respond(response_json, content, "");
	} else if (have_numbers) {
		snprintf(tool_call, sizeof(tool_call),
			"{\"id\":\"call_1\",\"name\":\"add\",\"arguments\":{\"a\":%g,\"b\":%g}}", a, b);
		rc = respond(response_json, "null", tool_call);
	} else {
		rc = respond(response_json, "\"I can only add two numbers.\"", "");
	}
	cJSON_Delete(request);
	return rc;
}

/* The tool the "LLM" asks for: {"a":n,"b":n} -> {"sum":n}. */
static int add_tool(const cog_tool_request *request, char **result_json, void *user_data)
{
	(void)user_data;
	cJSON *args = cJSON_Parse(request->arguments); /* checked against the schema */
	if (!args)
		return cog_error_set(COG_ENOMEM, "add: out of memory");
	double sum = cJSON_GetObjectItem(args, "a")->valuedouble +
		cJSON_GetObjectItem(args, "b")->valuedouble;
	cJSON_Delete(args);
	char text[64];
	snprintf(text, sizeof(text), "{\"sum\":%g}", sum);
	*result_json = cog_malloc(strlen(text) + 1);
	if (!*result_json)
		return cog_error_set(COG_ENOMEM, "add: out of memory");
	strcpy(*result_json, text);
	return 0;
}

static int fail(cog_ctx *ctx, cog_plan *plan, const char *what)
{
	fprintf(stderr, "llm-host: %s: %s (%s)\n", what, cog_error_last(),
		cog_strerror(cog_error_last_code()));
	cog_plan_free(plan);
	cog_ctx_free(ctx);
	return 1;
}

int main(void)
{
	cog_ctx *ctx = NULL;
	cog_plan *plan = NULL;
	cog_llm *llm = NULL;
	rules_llm state = { 0 };
	char *json = NULL;

	if (cog_ctx_new(&ctx, NULL) != 0)
		return fail(NULL, NULL, "creating the context");

	/* Plug the backend in: the first endpoint serves every role. */
	cog_llm_vtable vtable = COG_LLM_VTABLE_INIT;
	vtable.self = &state; /* ours: no close() needed, it lives on the stack */
	vtable.chat = rules_chat;
	if (cog_llm_new(&llm, &vtable) != 0 ||
	    cog_llm_add_endpoint(ctx, "rules", llm, NULL) != 0) /* ctx owns llm */
		return fail(ctx, NULL, "adding the LLM endpoint");

	cog_tool_options tool = COG_TOOL_OPTIONS_INIT;
	tool.name = "add";
	tool.description = "Add two numbers.";
	tool.input_schema = "{\"type\":\"object\",\"required\":[\"a\",\"b\"],"
		"\"properties\":{\"a\":{\"type\":\"number\"},\"b\":{\"type\":\"number\"}}}";
	tool.fn = add_tool;
	if (cog_tool_define(ctx, &tool) != 0)
		return fail(ctx, NULL, "defining the tool");

	/* One agent task ("llm"), run by the agent executor. */
	const char *plan_json =
		"{\"version\":1,\"goal\":\"a sum\",\"tasks\":[{\"id\":\"sum\","
		"\"kind\":\"llm\",\"inputs\":{\"prompt\":\"Please add 2 and 3.\"}}]}";
	if (cog_ctx_set_task_executor(ctx, cog_task_run_agent, NULL) != 0 ||
	    cog_plan_from_json(&plan, ctx, plan_json) != 0)
		return fail(ctx, NULL, "making the plan");
	if (cog_plan_run(plan, NULL) != 0)
		return fail(ctx, plan, "running the plan");
	if (cog_plan_task_status(plan, "sum", &json) != 0)
		return fail(ctx, plan, "reading the task");
	printf("requests answered by the rules LLM: %d\n", state.requests);
	printf("task: %s\n", json);
	cog_free(json);
	cog_plan_free(plan);
	cog_ctx_free(ctx); /* frees the endpoint; state outlives it */
	return 0;
}
