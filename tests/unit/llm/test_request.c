/*
 * The request and response shapes (lib/llm/request*.c, response.c) and
 * canonical JSON and keys (canon.c): every normalisation of OpenAI-shaped
 * input, every rejection with its message, the defaults an answer gets,
 * and canonical text that does not depend on member order.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <cjson/cJSON.h>

#include "llm_int.h"

#define FN "test"

/* Parse and normalise; the result in canonical form (static buffer). */
static const char *norm(const char *json)
{
	static char out[8192];
	cJSON *request = NULL;
	int rc = llm_request_parse(&request, json, FN);
	ck_assert_msg(rc == 0, "%s: %d %s", json, rc, cog_error_last());
	char *text = llm_canonical_json(request, false);
	ck_assert_ptr_nonnull(text);
	snprintf(out, sizeof(out), "%s", text);
	/* Normalising a normalised request changes nothing. */
	cJSON *again = NULL;
	ck_assert_int_eq(llm_request_parse(&again, text, FN), 0);
	char *text2 = llm_canonical_json(again, false);
	ck_assert_str_eq(text, text2);
	cog_free(text2);
	cJSON_Delete(again);
	cog_free(text);
	cJSON_Delete(request);
	return out;
}

#define ck_norm(json, expected) ck_assert_str_eq(norm(json), expected)

/* Expect COG_EINVAL with exactly this message (or containing it when
 * the expectation starts with '~'). */
static void ck_reject_impl(const char *json, const char *expected, int line)
{
	cJSON *request = NULL;
	int rc = llm_request_parse(&request, json, FN);
	ck_assert_msg(rc == COG_EINVAL, "line %d: %s: expected COG_EINVAL, got %d", line,
		json, rc);
	ck_assert_ptr_null(request);
	const char *msg = cog_error_last();
	if (expected[0] == '~')
		ck_assert_msg(strstr(msg, expected + 1), "line %d: message \"%s\" lacks \"%s\"",
			line, msg, expected + 1);
	else
		ck_assert_msg(strcmp(msg, expected) == 0, "line %d: message \"%s\", expected \"%s\"",
			line, msg, expected);
}
#define ck_reject(json, expected) ck_reject_impl(json, expected, __LINE__)

#define USER "{\"role\":\"user\",\"content\":\"hi\"}"
#define MSGS "\"messages\":[" USER "]"

/* ---- normalisation ---- */

START_TEST(test_minimal_unchanged)
{
	ck_norm("{" MSGS "}", "{\"messages\":[{\"content\":\"hi\",\"role\":\"user\"}]}");
	ck_norm("{\"model\":\"m\",\"temperature\":0.2,\"top_p\":1,\"max_tokens\":512,"
	        "\"seed\":-7,\"user\":\"u1\",\"metadata\":{\"k\":[1]}," MSGS "}",
	        "{\"max_tokens\":512,\"messages\":[{\"content\":\"hi\",\"role\":\"user\"}],"
	        "\"metadata\":{\"k\":[1]},\"model\":\"m\",\"seed\":-7,\"temperature\":0.2,"
	        "\"top_p\":1,\"user\":\"u1\"}");
}
END_TEST

START_TEST(test_nulls_dropped)
{
	ck_norm("{\"model\":null,\"tools\":null,\"tool_choice\":null,\"temperature\":null,"
	        "\"stop\":null,\"messages\":[{\"role\":\"user\",\"content\":\"x\",\"name\":null}]}",
	        "{\"messages\":[{\"content\":\"x\",\"role\":\"user\"}]}");
}
END_TEST

START_TEST(test_openai_tools)
{
	ck_norm("{" MSGS ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
	        "\"description\":\"Weather\",\"strict\":true,\"parameters\":{\"type\":\"object\","
	        "\"properties\":{\"city\":{\"type\":\"string\"}}}}},"
	        "{\"type\":\"function\",\"function\":{\"name\":\"now\"}},"
	        "{\"name\":\"ours\",\"input_schema\":{\"type\":\"object\"}}]}",
	        "{\"messages\":[{\"content\":\"hi\",\"role\":\"user\"}],\"tools\":["
	        "{\"description\":\"Weather\",\"input_schema\":{\"properties\":{\"city\":"
	        "{\"type\":\"string\"}},\"type\":\"object\"},\"name\":\"get_weather\"},"
	        "{\"input_schema\":{\"properties\":{},\"type\":\"object\"},\"name\":\"now\"},"
	        "{\"input_schema\":{\"type\":\"object\"},\"name\":\"ours\"}]}");
	/* An empty list is no tools. */
	ck_norm("{" MSGS ",\"tools\":[]}", "{\"messages\":[{\"content\":\"hi\",\"role\":\"user\"}]}");
}
END_TEST

START_TEST(test_openai_tool_calls)
{
	ck_norm("{\"messages\":[" USER ",{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
	        "{\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":\"f\","
	        "\"arguments\":\"{\\\"a\\\": [1, 2]}\"}},"
	        "{\"id\":\"c2\",\"type\":\"function\",\"function\":{\"name\":\"g\",\"arguments\":\"  \"}},"
	        "{\"id\":\"c3\",\"name\":\"h\",\"arguments\":{\"x\":true}},"
	        "{\"id\":\"c4\",\"name\":\"k\"}]},"
	        "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"ok\"}]}",
	        "{\"messages\":[{\"content\":\"hi\",\"role\":\"user\"},{\"content\":null,"
	        "\"role\":\"assistant\",\"tool_calls\":["
	        "{\"arguments\":{\"a\":[1,2]},\"id\":\"c1\",\"name\":\"f\"},"
	        "{\"arguments\":{},\"id\":\"c2\",\"name\":\"g\"},"
	        "{\"arguments\":{\"x\":true},\"id\":\"c3\",\"name\":\"h\"},"
	        "{\"arguments\":{},\"id\":\"c4\",\"name\":\"k\"}]},"
	        "{\"content\":\"ok\",\"role\":\"tool\",\"tool_call_id\":\"c1\"}]}");
	/* Content absent becomes null; an empty tool_calls list goes. */
	ck_norm("{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"a\",\"name\":\"f\","
	        "\"arguments\":{}}]}]}",
	        "{\"messages\":[{\"content\":null,\"role\":\"assistant\",\"tool_calls\":["
	        "{\"arguments\":{},\"id\":\"a\",\"name\":\"f\"}]}]}");
	ck_norm("{\"messages\":[{\"role\":\"assistant\",\"content\":\"x\",\"tool_calls\":[]}]}",
	        "{\"messages\":[{\"content\":\"x\",\"role\":\"assistant\"}]}");
}
END_TEST

START_TEST(test_tool_choice_forms)
{
	const char *tools = ",\"tools\":[{\"name\":\"f\"}]";
	const char *forms[][2] = {
		{ "\"auto\"", "\"auto\"" }, { "\"none\"", "\"none\"" },
		{ "\"required\"", "\"required\"" }, { "\"any\"", "\"required\"" },
		{ "{\"type\":\"auto\"}", "\"auto\"" }, { "{\"type\":\"any\"}", "\"required\"" },
		{ "{\"type\":\"none\"}", "\"none\"" },
		{ "{\"name\":\"f\"}", "{\"name\":\"f\"}" },
		{ "{\"type\":\"function\",\"function\":{\"name\":\"f\"}}", "{\"name\":\"f\"}" },
		{ "{\"type\":\"tool\",\"name\":\"f\"}", "{\"name\":\"f\"}" },
	};
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		char in[512], out[512];
		snprintf(in, sizeof(in), "{" MSGS "%s,\"tool_choice\":%s}", tools, forms[i][0]);
		snprintf(out, sizeof(out), "{\"messages\":[{\"content\":\"hi\",\"role\":\"user\"}],"
		         "\"tool_choice\":%s,\"tools\":[{\"input_schema\":{\"properties\":{},"
		         "\"type\":\"object\"},\"name\":\"f\"}]}", forms[i][1]);
		ck_norm(in, out);
	}
	/* auto and none need no tools. */
	ck_norm("{" MSGS ",\"tool_choice\":\"none\"}",
	        "{\"messages\":[{\"content\":\"hi\",\"role\":\"user\"}],\"tool_choice\":\"none\"}");
}
END_TEST

START_TEST(test_stop_and_parts)
{
	ck_norm("{" MSGS ",\"stop\":\"END\"}",
	        "{\"messages\":[{\"content\":\"hi\",\"role\":\"user\"}],\"stop\":[\"END\"]}");
	ck_norm("{" MSGS ",\"stop\":[]}", "{\"messages\":[{\"content\":\"hi\",\"role\":\"user\"}]}");
	ck_norm("{\"messages\":[{\"role\":\"system\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},"
	        "{\"type\":\"text\",\"text\":\"b\"}]},{\"role\":\"user\",\"content\":[]}]}",
	        "{\"messages\":[{\"content\":\"ab\",\"role\":\"system\"},"
	        "{\"content\":\"\",\"role\":\"user\"}]}");
}
END_TEST

START_TEST(test_tool_message_content)
{
	const char *pre = "{\"messages\":[{\"role\":\"tool\",\"tool_call_id\":\"c\",\"content\":";
	const char *cases[][2] = {
		{ "{\"a\":1}", "{\\\"a\\\":1}" },
		{ "42", "42" },
		{ "[1,\"x\"]", "[1,\\\"x\\\"]" },
		{ "true", "true" },
		{ "null", "null" },
		{ "[{\"type\":\"text\",\"text\":\"p1\"},{\"type\":\"text\",\"text\":\"p2\"}]", "p1p2" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char in[256], out[256];
		snprintf(in, sizeof(in), "%s%s}]}", pre, cases[i][0]);
		snprintf(out, sizeof(out), "{\"messages\":[{\"content\":\"%s\",\"role\":\"tool\","
		         "\"tool_call_id\":\"c\"}]}", cases[i][1]);
		ck_norm(in, out);
	}
}
END_TEST

START_TEST(test_response_format)
{
	ck_norm("{" MSGS ",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":"
	        "{\"schema\":{\"type\":\"object\"},\"strict\":true}}}",
	        "{\"messages\":[{\"content\":\"hi\",\"role\":\"user\"}],\"response_format\":"
	        "{\"json_schema\":{\"name\":\"answer\",\"schema\":{\"type\":\"object\"},"
	        "\"strict\":true},\"type\":\"json_schema\"}}");
	ck_norm("{" MSGS ",\"response_format\":{\"type\":\"json_object\"}}",
	        "{\"messages\":[{\"content\":\"hi\",\"role\":\"user\"}],\"response_format\":"
	        "{\"type\":\"json_object\"}}");
	ck_norm("{" MSGS ",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":"
	        "{\"name\":\"My-plan_2\",\"description\":\"d\",\"schema\":{}}}}",
	        "{\"messages\":[{\"content\":\"hi\",\"role\":\"user\"}],\"response_format\":"
	        "{\"json_schema\":{\"description\":\"d\",\"name\":\"My-plan_2\",\"schema\":{}},"
	        "\"type\":\"json_schema\"}}");
}
END_TEST

/* ---- rejections ---- */

START_TEST(test_reject_document)
{
	ck_reject("[1]", "test: request: must be a JSON object (got an array)");
	ck_reject("{\"messages\":", "~test: request: invalid JSON at byte");
	ck_reject("{}", "test: request: /messages: must be a non-empty array of messages (got nothing)");
	ck_reject("{\"messages\":[]}",
	          "test: request: /messages: must be a non-empty array of messages (got an array)");
	ck_reject("{\"messages\":null}",
	          "test: request: /messages: must be a non-empty array of messages (got null)");
	ck_reject("{" MSGS ",\"temprature\":0.2}",
	          "test: request: /temprature: unknown member (known: model, messages, tools, "
	          "tool_choice, response_format, temperature, top_p, max_tokens, stop, metadata, "
	          "seed, user)");
	ck_reject("{" MSGS ",\"model\":\"a\",\"model\":\"b\"}",
	          "test: request: /model: appears more than once");
	ck_reject("{" MSGS ",\"model\":\"\"}",
	          "test: request: /model: must be a non-empty string (got \"\")");
	ck_reject("{" MSGS ",\"model\":7}", "test: request: /model: must be a non-empty string (got 7)");
	ck_reject("{" MSGS ",\"metadata\":[]}", "test: request: /metadata: must be an object (got an array)");
	ck_reject("{" MSGS ",\"user\":false}", "test: request: /user: must be a non-empty string (got false)");
}
END_TEST

START_TEST(test_reject_numbers)
{
	ck_reject("{" MSGS ",\"temperature\":2.5}",
	          "test: request: /temperature: must be between 0 and 2 (got 2.5)");
	ck_reject("{" MSGS ",\"temperature\":-0.5}",
	          "test: request: /temperature: must be between 0 and 2 (got -0.5)");
	ck_reject("{" MSGS ",\"temperature\":\"0.2\"}",
	          "test: request: /temperature: must be a number (got \"0.2\")");
	ck_reject("{" MSGS ",\"temperature\":2.1}",
	          "test: request: /temperature: must be between 0 and 2 (got 2.1)");
	ck_reject("{" MSGS ",\"top_p\":1.5}", "test: request: /top_p: must be between 0 and 1 (got 1.5)");
	ck_reject("{" MSGS ",\"max_tokens\":0}",
	          "test: request: /max_tokens: must be between 1 and 10000000 (got 0)");
	ck_reject("{" MSGS ",\"max_tokens\":10000001}",
	          "test: request: /max_tokens: must be between 1 and 10000000 (got 10000001)");
	ck_reject("{" MSGS ",\"max_tokens\":1.5}", "test: request: /max_tokens: must be an integer (got 1.5)");
	ck_reject("{" MSGS ",\"seed\":0.5}", "test: request: /seed: must be an integer (got 0.5)");
	ck_reject("{" MSGS ",\"seed\":1e300}", "~test: request: /seed: must be between");
}
END_TEST

START_TEST(test_reject_messages)
{
	ck_reject("{\"messages\":[" USER "," USER ",{\"role\":\"bot\",\"content\":\"x\"}]}",
	          "test: request: /messages/2/role: must be one of system, user, assistant, tool "
	          "(got \"bot\")");
	ck_reject("{\"messages\":[" USER "," USER "," USER "," USER "," USER "," USER "," USER ","
	          USER "," USER "," USER "," USER "," USER ",\"x\"]}",
	          "test: request: /messages/12: must be an object (got \"x\")");
	ck_reject("{\"messages\":[{\"content\":\"x\"}]}",
	          "test: request: /messages/0/role: must be one of system, user, assistant, tool "
	          "(got nothing)");
	ck_reject("{\"messages\":[\"hi\"]}", "test: request: /messages/0: must be an object (got \"hi\")");
	ck_reject("{\"messages\":[{\"role\":\"user\",\"content\":\"x\",\"contnet\":\"y\"}]}",
	          "test: request: /messages/0/contnet: unknown member (known: role, content, "
	          "tool_calls, tool_call_id, name)");
	ck_reject("{\"messages\":[{\"role\":\"user\"}]}",
	          "test: request: /messages/0/content: must be a string (got nothing)");
	ck_reject("{\"messages\":[{\"role\":\"system\",\"content\":null}]}",
	          "test: request: /messages/0/content: must be a string (got null)");
	ck_reject("{\"messages\":[{\"role\":\"user\",\"content\":5}]}",
	          "test: request: /messages/0/content: must be a string (got 5)");
	ck_reject("{\"messages\":[{\"role\":\"assistant\",\"content\":{}}]}",
	          "test: request: /messages/0/content: must be a string or null (got an object)");
	ck_reject("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
	          "\"image_url\":{\"url\":\"x\"}}]}]}",
	          "test: request: /messages/0/content/0: only text parts {\"type\":\"text\",\"text\":"
	          "\"...\"} are supported (got type \"image_url\")");
	ck_reject("{\"messages\":[{\"role\":\"user\",\"content\":[\"a\"]}]}",
	          "~/messages/0/content/0: only text parts");
	ck_reject("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\"}]}]}",
	          "test: request: /messages/0/content/0: a text part needs \"text\" as a string "
	          "(got nothing)");
	ck_reject("{\"messages\":[" USER ",{\"role\":\"assistant\"}]}",
	          "test: request: /messages/1: an assistant message needs content or tool_calls");
	ck_reject("{\"messages\":[" USER ",{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[]}]}",
	          "test: request: /messages/1: an assistant message needs content or tool_calls");
	ck_reject("{\"messages\":[{\"role\":\"tool\",\"content\":\"r\"}]}",
	          "test: request: /messages/0/tool_call_id: a tool message needs tool_call_id as a "
	          "non-empty string (got nothing)");
	ck_reject("{\"messages\":[{\"role\":\"tool\",\"tool_call_id\":\"c\"}]}",
	          "test: request: /messages/0/content: must be a string (got nothing)");
	ck_reject("{\"messages\":[{\"role\":\"user\",\"content\":\"x\",\"tool_call_id\":\"c\"}]}",
	          "test: request: /messages/0/tool_call_id: only tool messages have tool_call_id "
	          "(role is user)");
	ck_reject("{\"messages\":[{\"role\":\"user\",\"content\":\"x\",\"tool_calls\":[]}]}",
	          "test: request: /messages/0: only assistant messages have tool_calls (role is user)");
	ck_reject("{\"messages\":[{\"role\":\"user\",\"content\":\"x\",\"name\":\"\"}]}",
	          "test: request: /messages/0/name: must be a non-empty string (got \"\")");
}
END_TEST

#define ASSIST(calls) "{\"messages\":[" USER "," USER ",{\"role\":\"assistant\",\"tool_calls\":" calls "}]}"

START_TEST(test_reject_tool_calls)
{
	ck_reject(ASSIST("{}"), "test: request: /messages/2/tool_calls: must be an array (got an object)");
	ck_reject(ASSIST("[1]"), "test: request: /messages/2/tool_calls/0: must be an object (got 1)");
	ck_reject(ASSIST("[{\"id\":\"c\",\"type\":\"function\",\"function\":{\"name\":\"f\","
	                 "\"arguments\":\"[1]\"}}]"),
	          "test: request: /messages/2/tool_calls/0/function/arguments: message 2: the "
	          "arguments text must be a JSON object (got \"[1]\")");
	ck_reject(ASSIST("[{\"id\":\"c\",\"type\":\"function\",\"function\":{\"name\":\"f\","
	                 "\"arguments\":\"{oops\"}}]"),
	          "test: request: /messages/2/tool_calls/0/function/arguments: message 2: the "
	          "arguments text is not JSON (got \"{oops\")");
	ck_reject(ASSIST("[{\"id\":\"c\",\"name\":\"f\",\"arguments\":[]}]"),
	          "test: request: /messages/2/tool_calls/0/arguments: must be a JSON object or its "
	          "text (got an array)");
	/* "arguments":null goes only with the model's text, as a response has
	 * it; the text goes only with null. */
	ck_reject(ASSIST("[{\"id\":\"c\",\"name\":\"f\",\"arguments\":null}]"),
	          "test: request: /messages/2/tool_calls/0/arguments: null needs "
	          "\"arguments_text\" next to it, the model's text, as in a response (or send "
	          "an object)");
	ck_reject(ASSIST("[{\"id\":\"c\",\"name\":\"f\",\"arguments\":{},\"arguments_text\":\"x\"}]"),
	          "test: request: /messages/2/tool_calls/0/arguments_text: only goes with "
	          "\"arguments\":null (the arguments a model sent that were not a JSON object)");
	ck_reject(ASSIST("[{\"id\":\"c\",\"name\":\"f\",\"arguments\":\"{}\",\"arguments_text\":\"x\"}]"),
	          "~/messages/2/tool_calls/0/arguments_text: only goes with \"arguments\":null");
	ck_reject(ASSIST("[{\"id\":\"c\",\"name\":\"f\",\"arguments_text\":\"x\"}]"),
	          "~/messages/2/tool_calls/0/arguments_text: only goes with \"arguments\":null");
	ck_reject(ASSIST("[{\"id\":\"c\",\"name\":\"f\",\"arguments\":null,\"arguments_text\":3}]"),
	          "test: request: /messages/2/tool_calls/0/arguments_text: must be a string (got 3)");
	ck_reject(ASSIST("[{\"id\":\"c\",\"name\":\"f\",\"arguments\":null,\"arguments_text\":null}]"),
	          "test: request: /messages/2/tool_calls/0/arguments_text: must be a string (got null)");
	ck_reject(ASSIST("[{\"id\":\"c\",\"function\":{\"name\":\"f\"},\"arguments_text\":\"x\"}]"),
	          "test: request: /messages/2/tool_calls/0: has both \"function\" and name, "
	          "arguments or arguments_text");
	ck_reject(ASSIST("[{\"name\":\"f\"}]"),
	          "test: request: /messages/2/tool_calls/0/id: must be a non-empty string (got nothing)");
	ck_reject(ASSIST("[{\"id\":\"c\",\"type\":\"function\",\"function\":{}}]"),
	          "test: request: /messages/2/tool_calls/0/function/name: must be a non-empty string "
	          "(got nothing)");
	ck_reject(ASSIST("[{\"id\":\"c\",\"type\":\"custom\",\"name\":\"f\"}]"),
	          "test: request: /messages/2/tool_calls/0/type: must be \"function\" (got \"custom\")");
	ck_reject(ASSIST("[{\"id\":\"c\",\"function\":\"f\"}]"),
	          "test: request: /messages/2/tool_calls/0/function: must be an object (got \"f\")");
	ck_reject(ASSIST("[{\"id\":\"c\",\"name\":\"g\",\"function\":{\"name\":\"f\"}}]"),
	          "test: request: /messages/2/tool_calls/0: has both \"function\" and name, "
	          "arguments or arguments_text");
}
END_TEST

START_TEST(test_reject_tools)
{
	ck_reject("{" MSGS ",\"tools\":{}}", "test: request: /tools: must be an array of tools (got an object)");
	ck_reject("{" MSGS ",\"tools\":[{\"name\":\"my tool\"}]}",
	          "test: request: /tools/0/name: must be 1 to 64 characters, each a letter A-Z "
	          "a-z, a digit 0-9, '_' or '-' (got \"my tool\")");
	/* OpenAI and Anthropic answer 400 to a '.' in a tool name. */
	ck_reject("{" MSGS ",\"tools\":[{\"name\":\"get.weather\"}]}",
	          "test: request: /tools/0/name: must be 1 to 64 characters, each a letter A-Z "
	          "a-z, a digit 0-9, '_' or '-' (got \"get.weather\")");
	ck_reject("{" MSGS ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"a.b\"}}]}",
	          "~/tools/0/function/name: must be 1 to 64 characters");
	ck_reject("{" MSGS ",\"tools\":[{\"name\":\"\"}]}", "~/tools/0/name: must be 1 to 64");
	ck_reject("{" MSGS ",\"tools\":[{\"name\":\"a\"},{\"name\":\"a\"}]}",
	          "test: request: /tools/1/name: tool \"a\" is defined twice");
	char long_name[200];
	snprintf(long_name, sizeof(long_name), "{" MSGS ",\"tools\":[{\"name\":\"%065d\"}]}", 0);
	ck_reject(long_name, "~/tools/0/name: must be 1 to 64 characters");
	/* 64 of every allowed kind is fine. */
	ck_norm("{" MSGS ",\"tools\":[{\"name\":\"Az09_-Az09_-Az09_-Az09_-Az09_-Az09_-Az09_-Az09_-"
	        "Az09_-Az09_-Az09\"}]}",
	        "{\"messages\":[{\"content\":\"hi\",\"role\":\"user\"}],\"tools\":[{"
	        "\"input_schema\":{\"properties\":{},\"type\":\"object\"},\"name\":"
	        "\"Az09_-Az09_-Az09_-Az09_-Az09_-Az09_-Az09_-Az09_-Az09_-Az09_-Az09\"}]}");
	ck_reject("{" MSGS ",\"tools\":[{\"name\":\"f\",\"input_schema\":\"object\"}]}",
	          "test: request: /tools/0/input_schema: must be a JSON Schema object (got \"object\")");
	ck_reject("{" MSGS ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\","
	          "\"parameters\":[]}}]}",
	          "test: request: /tools/0/function/parameters: must be a JSON Schema object (got an array)");
	ck_reject("{" MSGS ",\"tools\":[{\"type\":\"web_search\"}]}",
	          "test: request: /tools/0/type: must be \"function\" (got \"web_search\")");
	ck_reject("{" MSGS ",\"tools\":[{\"name\":\"f\",\"parameters\":{}}]}",
	          "~/tools/0/parameters: unknown member (known: name, description, input_schema)");
	ck_reject("{" MSGS ",\"tools\":[{\"name\":\"f\",\"description\":1}]}",
	          "test: request: /tools/0/description: must be a string (got 1)");
}
END_TEST

START_TEST(test_reject_choice_stop_format)
{
	ck_reject("{" MSGS ",\"tool_choice\":\"sometimes\"}",
	          "test: request: /tool_choice: must be one of auto, none, required (got \"sometimes\")");
	ck_reject("{" MSGS ",\"tool_choice\":\"required\"}",
	          "test: request: /tool_choice: \"required\" needs tools");
	ck_reject("{" MSGS ",\"tools\":[{\"name\":\"f\"}],\"tool_choice\":{\"name\":\"g\"}}",
	          "test: request: /tool_choice: names tool \"g\", which is not among the request's tools");
	ck_reject("{" MSGS ",\"tool_choice\":{\"name\":\"g\"}}",
	          "~/tool_choice: names tool \"g\", which is not among");
	ck_reject("{" MSGS ",\"tool_choice\":{\"nme\":\"g\"}}", "~/tool_choice: must be \"auto\"");
	ck_reject("{" MSGS ",\"tool_choice\":3}", "~/tool_choice: must be \"auto\", \"none\", "
	          "\"required\" or {\"name\":\"tool\"} (got 3)");
	ck_reject("{" MSGS ",\"stop\":5}",
	          "test: request: /stop: must be a string or an array of strings (got 5)");
	ck_reject("{" MSGS ",\"stop\":[\"a\",\"\"]}",
	          "test: request: /stop/1: must be a non-empty string (got \"\")");
	ck_reject("{" MSGS ",\"stop\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\",\"10\","
	          "\"11\",\"12\",\"13\",\"14\",\"15\",\"16\",\"17\"]}",
	          "test: request: /stop: at most 16 stop sequences (got 17)");
	ck_reject("{" MSGS ",\"response_format\":\"json\"}",
	          "test: request: /response_format: must be an object (got \"json\")");
	ck_reject("{" MSGS ",\"response_format\":{\"type\":\"xml\"}}",
	          "test: request: /response_format/type: must be one of text, json_object, json_schema "
	          "(got \"xml\")");
	ck_reject("{" MSGS ",\"response_format\":{\"type\":\"json_schema\"}}",
	          "test: request: /response_format/json_schema: must be an object (got nothing)");
	ck_reject("{" MSGS ",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{}}}",
	          "test: request: /response_format/json_schema/schema: must be a JSON Schema object "
	          "(got nothing)");
	ck_reject("{" MSGS ",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":"
	          "{\"name\":\"a.b\",\"schema\":{}}}}",
	          "test: request: /response_format/json_schema/name: must be 1 to 64 characters, "
	          "each a letter A-Z a-z, a digit 0-9, '_' or '-' (got \"a.b\")");
	ck_reject("{" MSGS ",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":"
	          "{\"schema\":{},\"strict\":\"yes\"}}}",
	          "test: request: /response_format/json_schema/strict: must be true or false (got \"yes\")");
	ck_reject("{" MSGS ",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":"
	          "{\"schema\":{},\"schmea\":{}}}}",
	          "~/response_format/json_schema/schmea: unknown member");
	ck_reject("{" MSGS ",\"response_format\":{\"type\":\"json_object\",\"json_schema\":{}}}",
	          "test: request: /response_format/json_schema: only with \"type\":\"json_schema\"");
}
END_TEST

START_TEST(test_got_quotes_safely)
{
	/* Long values are cut at 40 bytes on a character boundary; quotes
	 * and control characters do not break the message. */
	ck_reject("{\"messages\":[{\"role\":\"\\\"\\n\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9"
	          "\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9"
	          "\\u00e9\",\"content\":\"x\"}]}",
	          "test: request: /messages/0/role: must be one of system, user, assistant, tool "
	          "(got \"??\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	          "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9...\")");
}
END_TEST

/* ---- estimates and embeddings ---- */

START_TEST(test_text_bytes_and_max_tokens)
{
	cJSON *r = NULL;
	ck_assert_int_eq(llm_request_parse(&r,
		"{\"max_tokens\":77,\"messages\":[{\"role\":\"user\",\"content\":\"12345\"},"
		"{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c\",\"name\":\"fn\","
		"\"arguments\":{\"a\":1}}]}],\"tools\":[{\"name\":\"fn\",\"description\":\"abc\","
		"\"input_schema\":{}}]}", FN), 0);
	/* 5 + ("fn" + {"a":1}) + ("fn" + "abc" + {}) */
	ck_assert_uint_eq(llm_request_text_bytes(r), 5 + 2 + 7 + 2 + 3 + 2);
	ck_assert_uint_eq(llm_request_max_tokens(r, 9), 77);
	cJSON_DeleteItemFromObject(r, "max_tokens");
	ck_assert_uint_eq(llm_request_max_tokens(r, 9), 9);
	cJSON_Delete(r);
	/* A call whose arguments were not an object counts its text. */
	ck_assert_int_eq(llm_request_parse(&r,
		"{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c\","
		"\"name\":\"fn\",\"arguments\":null,\"arguments_text\":\"[1,2,3]\"}]}]}", FN), 0);
	ck_assert_uint_eq(llm_request_text_bytes(r), 2 + 7);
	cJSON_Delete(r);
}
END_TEST

static void ck_embed_reject(const char *json, const char *expected)
{
	cJSON *r = NULL;
	ck_assert_int_eq(llm_embed_request_parse(&r, json, FN), COG_EINVAL);
	ck_assert_ptr_null(r);
	ck_assert_str_eq(cog_error_last(), expected);
}

START_TEST(test_embed_request)
{
	cJSON *r = NULL;
	ck_assert_int_eq(llm_embed_request_parse(&r, "{\"model\":\"e\",\"input\":\"one\","
		"\"dimensions\":8,\"user\":null}", FN), 0);
	char *text = llm_canonical_json(r, false);
	ck_assert_str_eq(text, "{\"dimensions\":8,\"input\":[\"one\"],\"model\":\"e\"}");
	cog_free(text);
	cJSON_Delete(r);
	ck_embed_reject("{}", "test: embed request: /input: must be a string or an array of "
		"strings (got nothing)");
	ck_embed_reject("{\"input\":[]}", "test: embed request: /input: must hold 1 to 2048 strings (got 0)");
	ck_embed_reject("{\"input\":[\"a\",3]}", "test: embed request: /input/1: must be a non-empty "
		"string (got 3)");
	ck_embed_reject("{\"input\":[\"\"]}", "test: embed request: /input/0: must be a non-empty "
		"string (got \"\")");
	ck_embed_reject("{\"input\":\"a\",\"encoding\":\"f\"}", "test: embed request: /encoding: "
		"unknown member (known: model, input, dimensions, user, metadata)");
	ck_embed_reject("{\"input\":\"a\",\"dimensions\":0}", "test: embed request: /dimensions: "
		"must be an integer from 1 to 65536 (got 0)");
	ck_embed_reject("{\"input\":\"a\",\"model\":1}", "test: embed request: /model: must be a "
		"non-empty string (got 1)");
	ck_embed_reject("3", "test: embed request: must be a JSON object (got 3)");

	cog_buf many = COG_BUF_INIT;
	cog_buf_puts(&many, "{\"input\":[");
	for (int i = 0; i < 2049; i++)
		cog_buf_puts(&many, i ? ",\"x\"" : "\"x\"");
	cog_buf_puts(&many, "]}");
	ck_embed_reject(many.ptr, "test: embed request: /input: must hold 1 to 2048 strings (got 2049)");
	many.ptr[many.len - 6] = ' ';     /* drop the last element: 2048 */
	many.ptr[many.len - 5] = ' ';
	many.ptr[many.len - 4] = ' ';
	many.ptr[many.len - 3] = ' ';
	ck_assert_int_eq(llm_embed_request_parse(&r, many.ptr, FN), 0);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(r, "input")), 2048);
	cJSON_Delete(r);
	cog_buf_dispose(&many);
}
END_TEST

/* ---- responses ---- */

static char *check_answer(const char *json, int expect_rc, const char *expect_msg)
{
	cJSON *a = cJSON_Parse(json);
	ck_assert_ptr_nonnull(a);
	int rc = llm_response_check(a, "b");
	ck_assert_msg(rc == expect_rc, "%s: rc %d (%s)", json, rc, cog_error_last());
	char *text = NULL;
	if (rc == 0)
		text = llm_canonical_json(a, false);
	else if (expect_msg)
		ck_assert_str_eq(cog_error_last(), expect_msg);
	cJSON_Delete(a);
	return text;
}

static void ck_answer(const char *json, const char *expected)
{
	char *text = check_answer(json, 0, NULL);
	ck_assert_str_eq(text, expected);
	cog_free(text);
}

START_TEST(test_response_defaults)
{
	ck_answer("{\"message\":{\"content\":\"x\"}}",
	          "{\"finish_reason\":\"stop\",\"message\":{\"content\":\"x\",\"role\":\"assistant\"},"
	          "\"usage\":{\"cached_tokens\":0,\"input_tokens\":0,\"output_tokens\":0}}");
	ck_answer("{\"message\":{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"1\",\"name\":\"f\","
	          "\"arguments\":\"{\\\"a\\\":1}\"},{\"id\":\"2\",\"name\":\"g\",\"arguments\":\"oops\"},"
	          "{\"id\":\"3\",\"name\":\"h\"},{\"id\":\"4\",\"name\":\"k\",\"arguments\":null,"
	          "\"arguments_text\":\"[\"}]},\"usage\":{\"input_tokens\":3},\"model\":\"m\","
	          "\"latency_ms\":1.5,\"provider\":\"p\",\"finish_reason\":null}",
	          "{\"finish_reason\":\"tool_calls\",\"latency_ms\":1.5,\"message\":{\"content\":null,"
	          "\"role\":\"assistant\",\"tool_calls\":[{\"arguments\":{\"a\":1},\"id\":\"1\","
	          "\"name\":\"f\"},{\"arguments\":null,\"arguments_text\":\"oops\",\"id\":\"2\","
	          "\"name\":\"g\"},{\"arguments\":{},\"id\":\"3\",\"name\":\"h\"},{\"arguments\":null,"
	          "\"arguments_text\":\"[\",\"id\":\"4\",\"name\":\"k\"}]},\"model\":\"m\","
	          "\"provider\":\"p\",\"usage\":{\"cached_tokens\":0,\"input_tokens\":3,"
	          "\"output_tokens\":0}}");
	ck_answer("{\"message\":{\"content\":null,\"tool_calls\":[]},\"finish_reason\":\"length\","
	          "\"usage\":null}",
	          "{\"finish_reason\":\"length\",\"message\":{\"content\":null,\"role\":\"assistant\"},"
	          "\"usage\":{\"cached_tokens\":0,\"input_tokens\":0,\"output_tokens\":0}}");
}
END_TEST

/* ---- a response's message goes back in the next request ---- */

/* An agent appends response.message to its messages and sends them: the
 * request check must take the message as the response check left it, and
 * leave it as it is. `response` has passed llm_response_check. */
static void ck_round_trip(const cJSON *response)
{
	const cJSON *message = cJSON_GetObjectItemCaseSensitive(response, "message");
	ck_assert_ptr_nonnull(message);
	char *want = llm_canonical_json(message, false);
	ck_assert_ptr_nonnull(want);
	/* user, the assistant's message, one tool result per call. */
	cJSON *request = cJSON_CreateObject();
	cJSON *messages = cJSON_AddArrayToObject(request, "messages");
	cJSON *user = cJSON_CreateObject();
	cJSON_AddStringToObject(user, "role", "user");
	cJSON_AddStringToObject(user, "content", "weather in Paris?");
	cJSON_AddItemToArray(messages, user);
	cJSON_AddItemToArray(messages, cJSON_Duplicate(message, true));
	const cJSON *call;
	cJSON_ArrayForEach(call, cJSON_GetObjectItemCaseSensitive(message, "tool_calls")) {
		cJSON *result = cJSON_CreateObject();
		cJSON_AddStringToObject(result, "role", "tool");
		cJSON_AddStringToObject(result, "tool_call_id", cog_json_get_string(call, "id"));
		cJSON_AddStringToObject(result, "content", "{\"ok\":true}");
		cJSON_AddItemToArray(messages, result);
	}
	char *text = cog_json_print(request);
	ck_assert_ptr_nonnull(text);
	cJSON_Delete(request);

	cJSON *parsed = NULL;
	int rc = llm_request_parse(&parsed, text, FN);
	ck_assert_msg(rc == 0, "the response's message does not go back: %d %s\n%s", rc,
		cog_error_last(), text);
	char *got = llm_canonical_json(cJSON_GetArrayItem(
		cJSON_GetObjectItemCaseSensitive(parsed, "messages"), 1), false);
	ck_assert_str_eq(got, want);
	/* And normalising it again changes nothing (norm checks). */
	(void)norm(text);
	cog_free(got);
	cJSON_Delete(parsed);
	cog_free(text);
	cog_free(want);
}

START_TEST(test_assembled_message_round_trips)
{
	/* What a provider's stream gives: one call with object arguments, one
	 * whose arguments were not an object ("arguments":null plus
	 * "arguments_text"), as the assembler makes them. */
	llm_asm a;
	llm_asm_init(&a, NULL);
	ck_assert_int_eq(llm_asm_tool_start(&a, 0, "call_1", "get_weather"), 0);
	ck_assert_int_eq(llm_asm_tool_args(&a, 0, "{\"city\":", 8), 0);
	ck_assert_int_eq(llm_asm_tool_args(&a, 0, "\"Paris\"}", 8), 0);
	ck_assert_int_eq(llm_asm_tool_start(&a, 1, "call_2", "get_time"), 0);
	ck_assert_int_eq(llm_asm_tool_args(&a, 1, "[1, 2]", 6), 0);
	ck_assert_int_eq(llm_asm_tool_start(&a, 2, "call_3", "note"), 0);
	ck_assert_int_eq(llm_asm_tool_args(&a, 2, "{\"a\":", 5), 0);
	cJSON *r = NULL;
	ck_assert_int_eq(llm_asm_finish(&a, &r), 0);
	llm_asm_dispose(&a);
	ck_assert_int_eq(llm_response_check(r, "b"), 0);
	char *text = llm_canonical_json(cJSON_GetObjectItemCaseSensitive(r, "message"), false);
	ck_assert_str_eq(text, "{\"content\":null,\"role\":\"assistant\",\"tool_calls\":["
		"{\"arguments\":{\"city\":\"Paris\"},\"id\":\"call_1\",\"name\":\"get_weather\"},"
		"{\"arguments\":null,\"arguments_text\":\"[1, 2]\",\"id\":\"call_2\","
		"\"name\":\"get_time\"},"
		"{\"arguments\":null,\"arguments_text\":\"{\\\"a\\\":\",\"id\":\"call_3\","
		"\"name\":\"note\"}]}");
	cog_free(text);
	ck_round_trip(r);
	cJSON_Delete(r);
}
END_TEST

START_TEST(test_checked_message_round_trips)
{
	static const char *const answers[] = {
		/* A full assistant message: content null, calls with ids, names
		 * and object arguments. */
		"{\"message\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
		"{\"id\":\"call_a\",\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\","
		"\"days\":[1,2],\"units\":{\"t\":\"C\"}}},"
		"{\"id\":\"toolu_01\",\"name\":\"list-files\",\"arguments\":{}}]},"
		"\"finish_reason\":\"tool_calls\",\"usage\":{\"input_tokens\":1,\"output_tokens\":2}}",
		/* Text and a call. */
		"{\"message\":{\"content\":\"Let me look.\",\"tool_calls\":[{\"id\":\"c\","
		"\"name\":\"f\",\"arguments\":{\"q\":\"x\"}}]}}",
		/* A host backend's argument text: parsed, or kept as the text. */
		"{\"message\":{\"tool_calls\":[{\"id\":\"1\",\"name\":\"f\",\"arguments\":\"{\\\"a\\\":1}\"},"
		"{\"id\":\"2\",\"name\":\"g\",\"arguments\":\"oops\"},{\"id\":\"3\",\"name\":\"h\"},"
		"{\"id\":\"4\",\"name\":\"k\",\"arguments\":null,\"arguments_text\":\"\"}]}}",
		/* Only text. */
		"{\"message\":{\"content\":\"Done.\"}}",
	};
	for (size_t i = 0; i < sizeof(answers) / sizeof(answers[0]); i++) {
		cJSON *r = cJSON_Parse(answers[i]);
		ck_assert_ptr_nonnull(r);
		ck_assert_msg(llm_response_check(r, "b") == 0, "%s: %s", answers[i],
			cog_error_last());
		ck_round_trip(r);
		cJSON_Delete(r);
	}
}
END_TEST

START_TEST(test_response_rejects)
{
	const char *cases[][2] = {
		{ "[]", "b: answer: must be a JSON object (got an array)" },
		{ "{}", "b: answer: /message: must be an object (got nothing)" },
		{ "{\"message\":{\"role\":\"user\",\"content\":\"x\"}}",
		  "b: answer: /message/role: must be \"assistant\" (got \"user\")" },
		{ "{\"message\":{\"content\":3}}",
		  "b: answer: /message/content: must be a string or null (got 3)" },
		{ "{\"message\":{\"content\":\"\",\"tool_calls\":{}}}",
		  "b: answer: /message/tool_calls: must be an array (got an object)" },
		{ "{\"message\":{\"tool_calls\":[{\"name\":\"f\"}]}}",
		  "b: answer: /message/tool_calls/0: id must be a non-empty string (got nothing)" },
		{ "{\"message\":{\"tool_calls\":[{\"id\":\"1\",\"name\":\"f\",\"arguments\":null}]}}",
		  "b: answer: /message/tool_calls/0: arguments null needs arguments_text, the model's text" },
		{ "{\"message\":{\"tool_calls\":[{\"id\":\"1\",\"name\":\"f\",\"arguments\":[]}]}}",
		  "b: answer: /message/tool_calls/0: arguments must be an object or null (got an array)" },
		{ "{\"message\":{\"tool_calls\":[{\"id\":\"1\",\"name\":\"f\",\"arguments\":{},"
		  "\"arguments_text\":\"x\"}]}}",
		  "b: answer: /message/tool_calls/0: arguments_text only goes with arguments null" },
		{ "{\"message\":{\"tool_calls\":[{\"id\":\"1\",\"name\":\"f\","
		  "\"arguments_text\":\"x\"}]}}",
		  "b: answer: /message/tool_calls/0: arguments_text only goes with arguments null" },
		{ "{\"message\":{\"tool_calls\":[{\"id\":\"1\",\"name\":\"f\",\"arguments\":\"{}\","
		  "\"arguments_text\":\"x\"}]}}",
		  "b: answer: /message/tool_calls/0: both arguments text and arguments_text" },
		{ "{\"message\":{\"content\":\"\"},\"finish_reason\":\"end_turn\"}",
		  "b: answer: /finish_reason: must be one of stop, length, tool_calls, content_filter "
		  "(got \"end_turn\")" },
		{ "{\"message\":{\"content\":\"\"},\"usage\":{\"input_tokens\":-1}}",
		  "b: answer: /usage/input_tokens: must be an integer >= 0 (got -1)" },
		{ "{\"message\":{\"content\":\"\"},\"usage\":{\"output_tokens\":2.5}}",
		  "b: answer: /usage/output_tokens: must be an integer >= 0 (got 2.5)" },
		{ "{\"message\":{\"content\":\"\"},\"usage\":[]}",
		  "b: answer: /usage: must be an object (got an array)" },
		{ "{\"message\":{\"content\":\"\"},\"latency_ms\":-3}",
		  "b: answer: /latency_ms: must be a number >= 0 (got -3)" },
		{ "{\"message\":{\"content\":\"\"},\"model\":5}",
		  "b: answer: /model: must be a string (got 5)" },
		{ "{\"message\":{\"content\":\"\"},\"cached\":1}",
		  "b: answer: /cached: must be true or false (got 1)" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_ptr_null(check_answer(cases[i][0], COG_EPROTO, cases[i][1]));
}
END_TEST

static void ck_embed_answer(const char *json, size_t n, int rc, const char *expected)
{
	cJSON *a = cJSON_Parse(json);
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(llm_embed_response_check(a, n, "e"), rc);
	char *text = llm_canonical_json(a, false);
	ck_assert_str_eq(rc ? cog_error_last() : text, expected);
	cog_free(text);
	cJSON_Delete(a);
}

START_TEST(test_embed_response)
{
	ck_embed_answer("{\"data\":[[0.5,1],[2,-3]],\"model\":\"e\"}", 2, 0,
		"{\"data\":[[0.5,1],[2,-3]],\"dimensions\":2,\"model\":\"e\",\"usage\":"
		"{\"input_tokens\":0}}");
	ck_embed_answer("{\"data\":[[1]],\"dimensions\":1,\"usage\":{\"input_tokens\":4}}", 1, 0,
		"{\"data\":[[1]],\"dimensions\":1,\"usage\":{\"input_tokens\":4}}");
	ck_embed_answer("{\"data\":[[1]]}", 2, COG_EPROTO, "e: answer: /data: has 1 vectors for 2 inputs");
	ck_embed_answer("{\"data\":{}}", 1, COG_EPROTO,
		"e: answer: /data: must be an array of vectors (got an object)");
	ck_embed_answer("{\"data\":[[1,2],[3]]}", 2, COG_EPROTO,
		"e: answer: /data/1: has 1 dimensions, /data/0 has 2");
	ck_embed_answer("{\"data\":[[]]}", 1, COG_EPROTO, "e: answer: /data/0: is empty");
	ck_embed_answer("{\"data\":[[1,\"2\"]]}", 1, COG_EPROTO,
		"e: answer: /data/0: element 1 must be a finite number (got \"2\")");
	ck_embed_answer("{\"data\":[3]}", 1, COG_EPROTO,
		"e: answer: /data/0: must be an array of numbers (got 3)");
	ck_embed_answer("{\"data\":[[1,2]],\"dimensions\":3}", 1, COG_EPROTO,
		"e: answer: /dimensions: must be the vectors' length 2 (got 3)");
	ck_embed_answer("{\"data\":[[1]],\"model\":false}", 1, COG_EPROTO,
		"e: answer: /model: must be a string (got false)");
	/* Not representable in JSON text, but a host could build it. */
	cJSON *a = cJSON_Parse("{\"data\":[[1]]}");
	cJSON_AddItemToArray(cJSON_GetArrayItem(cJSON_GetObjectItem(a, "data"), 0),
		cJSON_CreateNumber(INFINITY));
	ck_assert_int_eq(llm_embed_response_check(a, 1, "e"), COG_EPROTO);
	cJSON_Delete(a);
}
END_TEST

/* ---- canonical JSON and keys ---- */

static char *canon(const char *json, bool drop)
{
	cJSON *v = cJSON_Parse(json);
	ck_assert_ptr_nonnull(v);
	char *text = llm_canonical_json(v, drop);
	ck_assert_ptr_nonnull(text);
	cJSON_Delete(v);
	return text;
}

static void ck_canon(const char *json, const char *expected)
{
	char *text = canon(json, false);
	ck_assert_str_eq(text, expected);
	cog_free(text);
}

START_TEST(test_canonical_order)
{
	const char *a = "{\"b\":1,\"a\":{\"d\":[1,{\"z\":null,\"y\":true}],\"c\":\"x\"},\"B\":false}";
	const char *b = " { \"a\" : { \"c\" : \"x\", \"d\" : [ 1 , { \"y\" : true , \"z\" : null } ] },"
	                "\n\"B\":false, \"b\" : 1 } ";
	const char *expected = "{\"B\":false,\"a\":{\"c\":\"x\",\"d\":[1,{\"y\":true,\"z\":null}]},\"b\":1}";
	ck_canon(a, expected);
	ck_canon(b, expected);
	/* Byte order: upper case before lower case before non-ASCII; a prefix
	 * first. */
	ck_canon("{\"\xc3\xa9\":1,\"aa\":2,\"a\":3,\"Z\":4,\"\":5}",
	         "{\"\":5,\"Z\":4,\"a\":3,\"aa\":2,\"\xc3\xa9\":1}");
	/* Duplicate names keep their order. */
	ck_canon("{\"k\":2,\"a\":0,\"k\":1}", "{\"a\":0,\"k\":2,\"k\":1}");
	ck_canon("[]", "[]");
	ck_canon("{}", "{}");
	ck_canon("[{},[],[[]]]", "[{},[],[[]]]");
	ck_canon("\"s\"", "\"s\"");
}
END_TEST

START_TEST(test_canonical_strings_and_numbers)
{
	/* Escapes as cJSON writes them; non-ASCII stays UTF-8. */
	ck_canon("[\"\\u00e9\\u4e2d\\ud83d\\ude00\",\"\\b\\f\\n\\r\\t\\\"\\\\\\/\\u0001\\u001f\"]",
	         "[\"\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80\",\"\\b\\f\\n\\r\\t\\\"\\\\/\\u0001\\u001f\"]");
	/* Numbers exactly as cJSON prints them. */
	const char *numbers = "[0,-0,1,-1,1.5,0.1,1e300,-2.5e-7,123456789012,2147483647,"
	                      "2147483648,9007199254740993,3.141592653589793,1E2,100.0]";
	cJSON *v = cJSON_Parse(numbers);
	char *mine = llm_canonical_json(v, false);
	char *theirs = cJSON_PrintUnformatted(v);
	ck_assert_str_eq(mine, theirs);
	cog_free(mine);
	cJSON_free(theirs);
	cJSON_Delete(v);
	ck_canon("[1E2,100.0,0.10]", "[100,100,0.1]");
	/* A canonical text parsed again and printed is the same text. */
	const char *doc = "{\"z\":[1.25,\"\\u0007\"],\"m\":{\"q\":-3e-9,\"p\":\"\xe2\x82\xac\"}}";
	char *once = canon(doc, false);
	char *twice = canon(once, false);
	ck_assert_str_eq(once, twice);
	cog_free(once);
	cog_free(twice);
}
END_TEST

START_TEST(test_canonical_metadata)
{
	char *t = canon("{\"metadata\":{\"a\":1},\"x\":{\"metadata\":2}}", true);
	ck_assert_str_eq(t, "{\"x\":{\"metadata\":2}}");
	cog_free(t);
	t = canon("{\"metadata\":1}", true);
	ck_assert_str_eq(t, "{}");
	cog_free(t);
	t = canon("{\"metadata\":1,\"a\":2}", false);
	ck_assert_str_eq(t, "{\"a\":2,\"metadata\":1}");
	cog_free(t);
}
END_TEST

static void key_of(const char *json, const char *kind, char out[65])
{
	cJSON *r = cJSON_Parse(json);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(llm_request_key(r, kind, out), 0);
	cJSON_Delete(r);
}

START_TEST(test_request_key)
{
	char k1[65], k2[65], k3[65], k4[65], k5[65];
	key_of("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", "chat", k1);
	key_of("{\"messages\":[{\"content\":\"hi\",\"role\":\"user\"}],\"metadata\":{\"run\":7},"
	       "\"model\":\"m\"}", "chat", k2);
	key_of("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", "embed", k3);
	key_of("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi!\"}]}", "chat", k4);
	ck_assert_uint_eq(strlen(k1), 64);
	ck_assert_uint_eq(strspn(k1, "0123456789abcdef"), 64);
	ck_assert_str_eq(k1, k2);     /* order and metadata do not matter */
	ck_assert_str_ne(k1, k3);     /* the kind does */
	ck_assert_str_ne(k1, k4);     /* the content does */

	/* Stable across builds and versions: BLAKE2b-256 of "chat\0" and the
	 * canonical text (the literal from Python's hashlib.blake2b). */
	const char canonical[] = "chat\0{\"messages\":[{\"content\":\"hi\",\"role\":\"user\"}],\"model\":\"m\"}";
	uint8_t hash[32];
	ck_assert_int_eq(cog_hash_blake2b(hash, 32, canonical, sizeof(canonical) - 1, NULL, 0), 0);
	cog_hex_encode(hash, 32, k5);
	ck_assert_str_eq(k1, k5);
	ck_assert_str_eq(k1, "7fbf27201294361818fd21aa0c7de3be85fc0a3a9c654d986404bc56de667c0d");

	/* Normalised OpenAI input and the library's shape have one key. */
	cJSON *a = NULL, *b = NULL;
	ck_assert_int_eq(llm_request_parse(&a, "{\"messages\":[{\"role\":\"user\",\"content\":"
		"[{\"type\":\"text\",\"text\":\"hi\"}]}],\"stop\":\"x\",\"tools\":[{\"type\":\"function\","
		"\"function\":{\"name\":\"f\",\"parameters\":{\"type\":\"object\"}}}]}", FN), 0);
	ck_assert_int_eq(llm_request_parse(&b, "{\"tools\":[{\"input_schema\":{\"type\":\"object\"},"
		"\"name\":\"f\"}],\"stop\":[\"x\"],\"messages\":[{\"content\":\"hi\",\"role\":\"user\"}],"
		"\"metadata\":{\"trace\":\"t\"}}", FN), 0);
	ck_assert_int_eq(llm_request_key(a, "chat", k1), 0);
	ck_assert_int_eq(llm_request_key(b, "chat", k2), 0);
	ck_assert_str_eq(k1, k2);
	cJSON_Delete(a);
	cJSON_Delete(b);
	ck_assert_int_eq(llm_request_key(NULL, "chat", k1), COG_EINVAL);
}
END_TEST

static Suite *request_suite(void)
{
	Suite *s = suite_create("llm_request");
	TCase *tc = tcase_create("normalise");
	tcase_add_test(tc, test_minimal_unchanged);
	tcase_add_test(tc, test_nulls_dropped);
	tcase_add_test(tc, test_openai_tools);
	tcase_add_test(tc, test_openai_tool_calls);
	tcase_add_test(tc, test_tool_choice_forms);
	tcase_add_test(tc, test_stop_and_parts);
	tcase_add_test(tc, test_tool_message_content);
	tcase_add_test(tc, test_response_format);
	suite_add_tcase(s, tc);
	tc = tcase_create("reject");
	tcase_add_test(tc, test_reject_document);
	tcase_add_test(tc, test_reject_numbers);
	tcase_add_test(tc, test_reject_messages);
	tcase_add_test(tc, test_reject_tool_calls);
	tcase_add_test(tc, test_reject_tools);
	tcase_add_test(tc, test_reject_choice_stop_format);
	tcase_add_test(tc, test_got_quotes_safely);
	suite_add_tcase(s, tc);
	tc = tcase_create("other");
	tcase_add_test(tc, test_text_bytes_and_max_tokens);
	tcase_add_test(tc, test_embed_request);
	tcase_add_test(tc, test_response_defaults);
	tcase_add_test(tc, test_response_rejects);
	tcase_add_test(tc, test_assembled_message_round_trips);
	tcase_add_test(tc, test_checked_message_round_trips);
	tcase_add_test(tc, test_embed_response);
	suite_add_tcase(s, tc);
	tc = tcase_create("canonical");
	tcase_add_test(tc, test_canonical_order);
	tcase_add_test(tc, test_canonical_strings_and_numbers);
	tcase_add_test(tc, test_canonical_metadata);
	tcase_add_test(tc, test_request_key);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(request_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
