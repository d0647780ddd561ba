/*
 * The JSON Schema (draft 2020-12, the validator's default draft) of a plan
 * as the LLM planner asks a model to write it: the part of Plan JSON that
 * cog_plan_from_json() accepts and a model should choose. Left out: the
 * plan's "id" (the planner makes a fresh one, so a model cannot collide with
 * a stored plan) and the task states of an export. "goal" and "version" are
 * allowed because models like to echo them; the planner sets both itself.
 * Like cog_plan_from_json(), null stands for an absent tool, inputs,
 * capabilities or meta (models write "tool": null on tasks of other kinds).
 *
 * Kept in the library rather than as a data file next to the templates: it
 * must match this build's cog_plan_from_json() exactly, and the planner must
 * not depend on an installed file being found (the template planner is the
 * fallback when one is missing). Only keywords that providers' structured
 * output modes take in their non-strict forms are used (no $ref, no
 * if/then): what the schema cannot say (unique ids, "tool" required for
 * kind "tool", dependencies that exist, no cycles, inputs that fit the
 * tool) is checked by cog_plan_from_json() and cog_plan_validate(), whose
 * messages go back to the model.
 */
#include "planner.h"

#define ID_PATTERN "\"^[A-Za-z0-9_.:-]{1,128}$\""
#define NUMBER_0_TO(max) "{\"type\":\"number\",\"minimum\":0,\"maximum\":" max "}"
#define INTEGER(min, max) "{\"type\":\"integer\",\"minimum\":" min ",\"maximum\":" max "}"

const char plan_llm_schema[] =
	"{\"title\":\"plan\","
	"\"description\":\"A plan: a directed acyclic graph of tasks for one goal.\","
	"\"type\":\"object\","
	"\"properties\":{"
		"\"version\":{\"const\":1},"
		"\"goal\":{\"type\":\"string\"},"
		"\"budget\":{\"type\":\"object\","
			"\"description\":\"Limits the summed task estimates must fit; 0: none.\","
			"\"properties\":{"
				"\"max_tokens\":" NUMBER_0_TO("1e15") ","
				"\"max_cost\":" NUMBER_0_TO("1e15") ","
				"\"max_duration_ms\":" NUMBER_0_TO("1e15")
			"},"
			"\"additionalProperties\":false},"
		"\"tasks\":{\"type\":\"array\",\"minItems\":1,\"maxItems\":" PLAN_LLM_STR(PLAN_LLM_MAX_TASKS) ","
			"\"items\":{\"type\":\"object\","
				"\"properties\":{"
					"\"id\":{\"type\":\"string\",\"pattern\":" ID_PATTERN "},"
					"\"title\":{\"type\":\"string\",\"minLength\":1},"
					"\"kind\":{\"enum\":[\"tool\",\"llm\",\"step\",\"host\"]},"
					"\"tool\":{\"type\":[\"string\",\"null\"],\"minLength\":1},"
					"\"inputs\":{\"type\":[\"object\",\"null\"]},"
					"\"capabilities\":{\"type\":[\"array\",\"null\"],"
						"\"items\":{\"type\":\"string\",\"minLength\":1}},"
					"\"depends_on\":{\"type\":\"array\",\"uniqueItems\":true,"
						"\"items\":{\"type\":\"string\",\"pattern\":" ID_PATTERN "}},"
					"\"estimate\":{\"type\":\"object\","
						"\"properties\":{"
							"\"tokens\":" NUMBER_0_TO("1e15") ","
							"\"cost\":" NUMBER_0_TO("1e15") ","
							"\"duration_ms\":" NUMBER_0_TO("1e15")
						"},"
						"\"additionalProperties\":false},"
					"\"retry\":{\"type\":\"object\","
						"\"properties\":{"
							"\"max_attempts\":" INTEGER("1", "1000") ","
							"\"backoff_ms\":" INTEGER("0", "86400000") ","
							"\"max_backoff_ms\":" INTEGER("0", "86400000")
						"},"
						"\"additionalProperties\":false},"
					"\"timeout_ms\":" INTEGER("0", "31536000000") ","
					"\"idempotent\":{\"type\":\"boolean\"},"
					"\"meta\":{\"type\":[\"object\",\"null\"]}"
				"},"
				"\"required\":[\"id\",\"title\",\"kind\"],"
				"\"additionalProperties\":false}}"
	"},"
	"\"required\":[\"tasks\"],"
	"\"additionalProperties\":false}";
