/*
 * A tool written in C. The host defines "celsius_to_fahrenheit" with an
 * input schema, a plan's tool task calls it, then the host calls it
 * directly with bad arguments to show what the caller (or a model) gets
 * back: a status, cog_error_last(), and an error object it can act on.
 * The library checks the arguments against the schema before the runner
 * sees them, so the runner only reads what the schema promised.
 */
#include <stdio.h>

#include <cjson/cJSON.h>
#include <cognition.h>

static const char input_schema[] =
	"{\"type\":\"object\","
	" \"properties\":{\"celsius\":{\"type\":\"number\",\"minimum\":-273.15}},"
	" \"required\":[\"celsius\"],\"additionalProperties\":false}";

/* The runner: arguments in, a JSON result (cog_malloc'd) out. */
static int to_fahrenheit(const cog_tool_request *request, char **result_json,
                         void *user_data)
{
	(void)user_data;
	cJSON *args = cJSON_Parse(request->arguments);
	if (!args)
		return cog_error_set(COG_ENOMEM, "celsius_to_fahrenheit: out of memory");
	double celsius = cJSON_GetObjectItem(args, "celsius")->valuedouble;
	cJSON_Delete(args);

	/* Measured first, then formatted straight into an allocation of that
	 * size: any magnitude fits (no fixed buffer to truncate into). */
	double fahrenheit = celsius * 9 / 5 + 32;
	int n = snprintf(NULL, 0, "{\"fahrenheit\":%.2f}", fahrenheit);
	if (n < 0)
		return cog_error_set(COG_ERROR, "celsius_to_fahrenheit: formatting failed");
	*result_json = cog_malloc((size_t)n + 1);
	if (!*result_json)
		return cog_error_set(COG_ENOMEM, "celsius_to_fahrenheit: out of memory");
	snprintf(*result_json, (size_t)n + 1, "{\"fahrenheit\":%.2f}", fahrenheit);
	return 0;
}

static int fail(cog_ctx *ctx, cog_plan *plan, const char *what)
{
	fprintf(stderr, "tool-host: %s: %s (%s)\n", what, cog_error_last(),
		cog_strerror(cog_error_last_code()));
	cog_plan_free(plan);
	cog_ctx_free(ctx);
	return 1;
}

int main(void)
{
	cog_ctx *ctx = NULL;
	cog_plan *plan = NULL;
	char *json = NULL;

	if (cog_ctx_new(&ctx, NULL) != 0)
		return fail(NULL, NULL, "creating the context");

	cog_tool_options tool = COG_TOOL_OPTIONS_INIT;
	tool.name = "celsius_to_fahrenheit";
	tool.description = "Convert a temperature from degrees Celsius to Fahrenheit.";
	tool.input_schema = input_schema;
	tool.flags = COG_TOOL_IDEMPOTENT;
	tool.fn = to_fahrenheit;
	if (cog_tool_define(ctx, &tool) != 0)
		return fail(ctx, NULL, "defining the tool");

	/* 1. A plan whose tool task calls it. Without an executor set on the
	 * context, cog_plan_run() runs tool tasks through the tool layer. */
	const char *plan_json =
		"{\"version\":1,\"goal\":\"convert the boiling point of water\","
		" \"tasks\":[{\"id\":\"boil\",\"kind\":\"tool\","
		"  \"tool\":\"celsius_to_fahrenheit\",\"inputs\":{\"celsius\":100}}]}";
	if (cog_plan_from_json(&plan, ctx, plan_json) != 0)
		return fail(ctx, NULL, "reading the plan");
	if (cog_plan_run(plan, NULL) != 0)
		return fail(ctx, plan, "running the plan");
	if (cog_plan_task_status(plan, "boil", &json) != 0)
		return fail(ctx, plan, "reading the task");
	printf("plan task: %s\n", json);
	cog_free(json);
	json = NULL;

	/* 2. A direct call with arguments the schema refuses: COG_ESCHEMA, the
	 * detail in cog_error_last(), and an error object in json. */
	int rc = cog_tool_call(ctx, "celsius_to_fahrenheit", "{\"celsius\":\"hot\"}",
	                       NULL, &json);
	printf("bad call: status %d (%s): %s\n", rc, cog_strerror(rc), cog_error_last());
	printf("bad call result: %s\n", json ? json : "(none)");
	cog_free(json);

	cog_plan_free(plan);
	cog_ctx_free(ctx);
	return rc == COG_ESCHEMA ? 0 : 1;
}
