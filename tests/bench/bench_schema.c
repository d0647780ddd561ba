/*
 * JSON Schema validation throughput on a typical 5-property tool schema,
 * valid and invalid instances, pre-parsed (cog__schema_check, stopping at
 * the first error or collecting all) and from text (cog_schema_validate).
 * The peer is ajv (tests/bench/peers/ajv, same schema and instances), run
 * in the same process tree when node and its node_modules are there:
 *
 *   npm install --prefix tests/bench/peers/ajv     (once)
 *   build/tests/bench/bench_schema [seconds-per-case=1]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "schema_int.h"

#ifndef COG_BENCH_DIR
#define COG_BENCH_DIR "tests/bench"
#endif

static const char *schema_text =
	"{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\",\"minLength\":1},"
	"\"content\":{\"type\":\"string\"},\"append\":{\"type\":\"boolean\"},"
	"\"mode\":{\"enum\":[\"text\",\"binary\"]},\"max\":{\"type\":\"integer\",\"minimum\":0}},"
	"\"required\":[\"path\",\"content\"],\"additionalProperties\":false}";
static const char *valid_text =
	"{\"path\":\"src/main.c\",\"content\":\"int main(void) { return 0; }\\n\","
	"\"append\":false,\"mode\":\"text\",\"max\":100}";
static const char *invalid_text =
	"{\"path\":\"\",\"content\":\"x\",\"mode\":\"hex\",\"max\":-1,\"extra\":true}";

#define NCASES 5
static const char *case_names[NCASES] = {
	"parsed valid", "parsed invalid first-error", "parsed invalid all-errors",
	"text valid", "text invalid all-errors",
};
static double ours[NCASES], peer[NCASES];

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_schema: %s: %s\n", what, cog_error_last());
	exit(EXIT_FAILURE);
}

typedef struct bench_case {
	const cog_schema *schema;
	const cJSON *instance;
	const char *text;
	bool collect;
} bench_case;

static int run_once(const bench_case *c)
{
	if (c->text) {
		char *errors = NULL;
		int rc = cog_schema_validate(c->schema, c->text, c->collect ? &errors : NULL);
		cog_free(errors);
		return rc;
	}
	cJSON *errors = NULL;
	int rc = cog__schema_check(c->schema, c->instance, c->collect ? &errors : NULL);
	cJSON_Delete(errors);
	return rc;
}

static void measure(int index, const bench_case *c, int expect, double seconds)
{
	if (run_once(c) != expect)
		die(case_names[index]);
	long n = 0;
	double start = now_s(), elapsed = 0;
	while (elapsed < seconds) {
		for (int i = 0; i < 1000; i++)
			run_once(c);
		n += 1000;
		elapsed = now_s() - start;
	}
	ours[index] = (double)n / elapsed;
	printf("libcognition %s: %.0f validations/s\n", case_names[index], ours[index]);
}

static void run_peer(double seconds)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "cd '%s/peers/ajv' && test -d node_modules/ajv && "
	         "node bench_ajv.js %g 2>&1", COG_BENCH_DIR, seconds);
	FILE *p = popen(cmd, "r");
	if (!p)
		return;
	char line[512];
	while (fgets(line, sizeof(line), p)) {
		fputs(line, stdout);
		for (int i = 0; i < NCASES; i++) {
			char prefix[128];
			snprintf(prefix, sizeof(prefix), "ajv %s: ", case_names[i]);
			if (strncmp(line, prefix, strlen(prefix)) == 0)
				peer[i] = atof(line + strlen(prefix));
		}
	}
	if (pclose(p) != 0)
		printf("peer: ajv did not run (install it: npm install --prefix %s/peers/ajv)\n",
		       COG_BENCH_DIR);
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 1.0;
	if (!(seconds > 0))
		seconds = 1.0;
	cog_schema *schema;
	if (cog_schema_new(&schema, schema_text, 0))
		die("compile");
	cJSON *valid, *invalid;
	if (cog_json_parse(&valid, valid_text, "valid") || cog_json_parse(&invalid, invalid_text, "invalid"))
		die("parse");
	bench_case cases[NCASES] = {
		{ schema, valid, NULL, false },
		{ schema, invalid, NULL, false },
		{ schema, invalid, NULL, true },
		{ schema, NULL, valid_text, false },
		{ schema, NULL, invalid_text, true },
	};
	static const int expect[NCASES] = { 0, COG_ESCHEMA, COG_ESCHEMA, 0, COG_ESCHEMA };
	printf("libcognition %s, 5-property tool schema, %.1f s per case\n", cog_version(), seconds);
	for (int i = 0; i < NCASES; i++)
		measure(i, &cases[i], expect[i], seconds);
	run_peer(seconds);
	for (int i = 0; i < NCASES; i++)
		if (peer[i] > 0)
			printf("ratio %s: libcognition/ajv = %.2f\n", case_names[i], ours[i] / peer[i]);
	cJSON_Delete(valid);
	cJSON_Delete(invalid);
	cog_schema_free(schema);
	return 0;
}
