/*
 * Unit tests for PII and secret redaction (lib/core/redact*.c): each
 * built-in rule both ways, overlaps, UTF-8, counters, the host's patterns,
 * bad configurations, threads, and the log. Card numbers are the networks'
 * published test numbers; IBANs are the examples of the ISO 13616 registry.
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "core_int.h"
#include "cognition/ctx.h"
#include "cognition/memory.h"

/* log.c: cog__log_format with a context's rules. */
char *cog__log_format_ctx(struct cog_ctx *ctx, int level, const char *trace_id,
                          const char *span_id, const char *message, cJSON *fields);

typedef struct { const char *in, *out; } case_t;

static void check_cases(cog_ctx *ctx, const case_t *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char *out = NULL;
		size_t count = 99;
		ck_assert_int_eq(cog_redact(ctx, cases[i].in, &out, &count), COG_OK);
		ck_assert_msg(strcmp(out, cases[i].out) == 0, "in:  %s\nout: %s\nwant: %s",
			cases[i].in, out, cases[i].out);
		size_t want = 0;
		for (const char *p = cases[i].out; (p = strchr(p, '[')); p++)
			want += strncmp(p, "[REDACTED]", 10) != 0;
		ck_assert_msg(count == want, "%s: %zu replacements, want %zu", cases[i].in, count, want);
		cog_free(out);
	}
}

#define CHECK(ctx, cases) check_cases(ctx, cases, COG_ARRAY_LEN(cases))

START_TEST(emails)
{
	static const case_t cases[] = {
		{ "write to john.doe+tag@example.com today", "write to [EMAIL] today" },
		{ "a_b-c@sub.example.co.uk, next", "[EMAIL], next" },
		{ "mail x@example.com.", "mail [EMAIL]." },
		{ "Café ☕ → jöhn@exämple.de 😀 ok", "Café ☕ → [EMAIL] 😀 ok" },
		{ "<b>é@b.io</b>", "<b>[EMAIL]</b>" },
		{ "not: a@b, user@localhost, @foo.com, x@y.c, x@example.com2",
		  "not: a@b, user@localhost, @foo.com, x@y.c, x@example.com2" },
		{ "", "" },
	};
	CHECK(NULL, cases);
}
END_TEST

START_TEST(phones)
{
	static const case_t cases[] = {
		{ "call +1 (415) 555-2671 now", "call [PHONE] now" },
		{ "+44 20 7946 0958", "[PHONE]" },
		{ "+44 (0)20 7946 0958", "[PHONE]" },
		{ "tel:+14155552671;", "tel:[PHONE];" },
		{ "+33 6 12 34 56 78 and +49-30-1234567", "[PHONE] and [PHONE]" },
		{ "020 7946 0958 or 0044 20 7946 0958", "[PHONE] or [PHONE]" },
		{ "06.12.34.56.78 / 06 12 34 56 78", "[PHONE] / [PHONE]" },
		{ "(415) 555-2671, 415-555-2671, 415.555.2671", "[PHONE], [PHONE], [PHONE]" },
		{ "{\"phone\":\"+34 612 345 678\"}", "{\"phone\":\"[PHONE]\"}" },
	};
	static const case_t not_phones[] = {
		{ "dates 2024-01-15, 15.01.2024, 01/02/2024 12:30, 2024-01-15T10:30:00Z",
		  "dates 2024-01-15, 15.01.2024, 01/02/2024 12:30, 2024-01-15T10:30:00Z" },
		{ "released 2024-01-15 with 3 fixes; on 01.02.2024 12:30; 01 02 2024 10",
		  "released 2024-01-15 with 3 fixes; on 01.02.2024 12:30; 01 02 2024 10" },
		{ "versions 1.2.3, 10.0.19041.1234, 1.22.333.4444, 2023.10.15.1234",
		  "versions 1.2.3, 10.0.19041.1234, 1.22.333.4444, 2023.10.15.1234" },
		{ "ips 192.168.100.200 10.0.0.1 2001:0db8:85a3:0000:0000:8a2e:0370:7334",
		  "ips 192.168.100.200 10.0.0.1 2001:0db8:85a3:0000:0000:8a2e:0370:7334" },
		{ "ids 5551234567 123456789012 1700000000000 20240115103000",
		  "ids 5551234567 123456789012 1700000000000 20240115103000" },
		{ "1 234 567 890 and 12 345 678 901 and $1,234,567.89 and +1234",
		  "1 234 567 890 and 12 345 678 901 and $1,234,567.89 and +1234" },
		{ "isbn 978-3-16-148410-0 uuid 123e4567-e89b-12d3-a456-426614174000",
		  "isbn 978-3-16-148410-0 uuid 123e4567-e89b-12d3-a456-426614174000" },
	};
	CHECK(NULL, cases);
	CHECK(NULL, not_phones);
}
END_TEST

START_TEST(cards_need_luhn)
{
	static const case_t cases[] = {
		{ "visa 4111 1111 1111 1111 ok", "visa [CARD] ok" },
		{ "4111-1111-1111-1111", "[CARD]" },
		{ "mc 5500000000000004, disc 6011111111111117", "mc [CARD], disc [CARD]" },
		{ "amex 3782 822463 10005.", "amex [CARD]." },
		{ "card 4111 1111 1111 1111 2024", "card [CARD] 2024" },
		/* one digit off: the Luhn check fails */
		{ "visa 4111 1111 1111 1112 no", "visa 4111 1111 1111 1112 no" },
		{ "5500000000000005 378282246310006", "5500000000000005 378282246310006" },
		/* passes Luhn but is part of a longer token or too short */
		{ "x4111111111111111 41111111111", "x4111111111111111 41111111111" },
	};
	CHECK(NULL, cases);
}
END_TEST

START_TEST(ibans_need_mod97)
{
	static const case_t cases[] = {
		{ "iban DE89 3704 0044 0532 0130 00 done", "iban [IBAN] done" },
		{ "DE89370400440532013000", "[IBAN]" },
		{ "GB82 WEST 1234 5698 7654 32; NO9386011117947", "[IBAN]; [IBAN]" },
		{ "FR14 2004 1010 0505 0001 3M02 606 EUR", "[IBAN] EUR" },
		{ "BE68 5390 0754 7034 SENT", "[IBAN] SENT" },
		/* check digits changed */
		{ "iban DE88 3704 0044 0532 0130 00 bad", "iban DE88 3704 0044 0532 0130 00 bad" },
		{ "GB83WEST12345698765432", "GB83WEST12345698765432" },
		{ "AB12 short", "AB12 short" },
	};
	CHECK(NULL, cases);
}
END_TEST

START_TEST(keys_and_tokens)
{
	static const case_t cases[] = {
		{ "key sk-proj-abcdefghijklmnopqrstuvwxyz0123456789 here", "key [API_KEY] here" },
		{ "sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789-AAAA", "[API_KEY]" },
		{ "OPENAI=sk-abcdefghijklmnopqrst1234", "OPENAI=[API_KEY]" },
		{ "aws AKIAIOSFODNN7EXAMPLE / ASIAIOSFODNN7EXAMPLE", "aws [API_KEY] / [API_KEY]" },
		{ "gh ghp_abcdefghijklmnopqrstuvwxyz0123456789 gho_abcdefghijklmnopqrstuvwxyz0123456789",
		  "gh [API_KEY] [API_KEY]" },
		{ "ghs_abcdefghijklmnopqrstuvwxyz0123456789 github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
		  "[API_KEY] [API_KEY]" },
		{ "slack xoxb-123456789012-abcdefghijkl", "slack [API_KEY]" },
		{ "google AIzaSyA1234567890abcdefghijklmnopqrstuv", "google [API_KEY]" },
		{ "Authorization: Bearer abcdefghijklmnopqrstuvwxyz123456",
		  "Authorization: Bearer [API_KEY]" },
		{ "jwt eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
		  "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U end", "jwt [JWT] end" },
		{ "none eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0. end", "none [JWT] end" },
	};
	static const case_t not_keys[] = {
		{ "the bearer of bad news; sk-learn; sk-short-key", "the bearer of bad news; sk-learn; sk-short-key" },
		{ "AKIAIOSFODNN7EXAMPL XAKIAIOSFODNN7EXAMPLE ghp_short xoxq-123456789012",
		  "AKIAIOSFODNN7EXAMPL XAKIAIOSFODNN7EXAMPLE ghp_short xoxq-123456789012" },
		{ "eyJhbGciOiJIUzI1NiJ9.only-two", "eyJhbGciOiJIUzI1NiJ9.only-two" },
	};
	CHECK(NULL, cases);
	CHECK(NULL, not_keys);
}
END_TEST

START_TEST(private_keys)
{
	static const case_t cases[] = {
		{ "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8Pb\n"
		  "nGy0AHB7MhgHcTz6sE2I2yPB\n-----END RSA PRIVATE KEY-----\nafter",
		  "key:\n[PRIVATE_KEY]\nafter" },
		{ "{\"k\":\"-----BEGIN OPENSSH PRIVATE KEY-----\\nb3BlbnNzaC1rZXk\\n"
		  "-----END OPENSSH PRIVATE KEY-----\"}", "{\"k\":\"[PRIVATE_KEY]\"}" },
		{ "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBF\n-----END PGP PRIVATE KEY BLOCK-----",
		  "[PRIVATE_KEY]" },
		/* cut short: the body still goes */
		{ "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nMIIEvQIBADANBgkq",
		  "[PRIVATE_KEY]" },
		{ "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkq\n-----END PUBLIC KEY-----",
		  "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkq\n-----END PUBLIC KEY-----" },
	};
	CHECK(NULL, cases);
	/* Far past a real key's size (a lazy .*? ran out of PCRE2's stack and
	 * heap here and let the key through): still one replacement. */
	cog_buf b = COG_BUF_INIT;
	cog_buf_puts(&b, "x -----BEGIN PRIVATE KEY-----\n");
	for (int i = 0; i < 420000; i++)
		cog_buf_puts(&b, "MIIJQgIBADANBgkqhkiG9w0BAQEFAASCCSwwggkoAgEAAoICAQC7\n");
	cog_buf_puts(&b, "-----END PRIVATE KEY----- y");
	char *out = NULL;
	ck_assert_int_eq(cog_redact(NULL, b.ptr, &out, NULL), COG_OK);
	ck_assert_str_eq(out, "x [PRIVATE_KEY] y");
	cog_free(out);
	cog_buf_dispose(&b);
}
END_TEST

START_TEST(overlaps)
{
	static const case_t cases[] = {
		/* the bearer token is a JWT: one replacement, the more precise one */
		{ "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl",
		  "Authorization: Bearer [JWT]" },
		/* digits inside an email or an IBAN are not phones or cards */
		{ "4155552671@example.com", "[EMAIL]" },
		{ "DE89 3704 0044 0532 0130 00", "[IBAN]" },
		{ "iban DE88 3704 0044 0532 0130 00 bad", "iban DE88 3704 0044 0532 0130 00 bad" },
		{ "a@b.io+1 415 555 2671x", "[EMAIL]+1 415 555 2671x" },
		{ "a@b.io +1 415 555 2671", "[EMAIL] [PHONE]" },
	};
	CHECK(NULL, cases);
	/* The host's pattern overlaps an email: both go, nothing of either is left. */
	cog_ctx *ctx;
	ck_assert_int_eq(cog_ctx_new(&ctx, NULL), COG_OK);
	ck_assert_int_eq(cog_redact_configure(ctx, "{\"patterns\":[{\"name\":\"ref\","
		"\"regex\":\"ref [a-z]+\"}]}"), COG_OK);
	static const case_t custom[] = {
		{ "see ref john@example.com now", "see [REF][EMAIL] now" },
		{ "ref abc", "[REF]" },
	};
	CHECK(ctx, custom);
	cog_ctx_free(ctx);
}
END_TEST

/* A counter of a stats object; a name that never counted may be absent. */
static unsigned long long stat_or(const char *json, const char *name, bool required)
{
	cJSON *root = cJSON_Parse(json);
	ck_assert_ptr_nonnull(root);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, name);
	ck_assert_msg(cJSON_IsNumber(v) || (!v && !required), "no \"%s\" in %s", name, json);
	unsigned long long n = v ? (unsigned long long)v->valuedouble : 0;
	cJSON_Delete(root);
	return n;
}

static unsigned long long stat_of(const char *json, const char *name)
{
	return stat_or(json, name, true);
}

START_TEST(counts_and_stats)
{
	cog_ctx *ctx;
	ck_assert_int_eq(cog_ctx_new(&ctx, NULL), COG_OK);
	char *json = NULL;
	ck_assert_int_eq(cog_redact_stats(ctx, &json), COG_OK);
	ck_assert_str_eq(json, "{\"total\":0,\"email\":0,\"phone\":0,\"card\":0,\"iban\":0,"
		"\"api_key\":0,\"jwt\":0,\"private_key\":0}");
	cog_free(json);
	char *out = NULL;
	size_t n = 0;
	ck_assert_int_eq(cog_redact(ctx, "a@b.io c@d.io +44 20 7946 0958 4111111111111111",
		&out, &n), COG_OK);
	ck_assert_uint_eq(n, 4);
	cog_free(out);
	ck_assert_int_eq(cog_redact(ctx, "nothing here", &out, &n), COG_OK);
	ck_assert_uint_eq(n, 0);
	cog_free(out);
	ck_assert_int_eq(cog_redact_configure(ctx, "{\"patterns\":[{\"name\":\"ticket\","
		"\"regex\":\"TCK-[0-9]{6}\"}]}"), COG_OK);
	ck_assert_int_eq(cog_redact(ctx, "TCK-123456 TCK-654321 e@x.io", &out, &n), COG_OK);
	ck_assert_str_eq(out, "[TICKET] [TICKET] [EMAIL]");
	ck_assert_uint_eq(n, 3);
	cog_free(out);
	/* ctx NULL: the built-ins, and no ctx's totals move */
	ck_assert_int_eq(cog_redact(NULL, "TCK-123456 e@x.io", &out, NULL), COG_OK);
	ck_assert_str_eq(out, "TCK-123456 [EMAIL]");
	cog_free(out);
	ck_assert_int_eq(cog_redact_stats(ctx, &json), COG_OK);
	ck_assert_uint_eq(stat_of(json, "total"), 7);
	ck_assert_uint_eq(stat_of(json, "email"), 3);
	ck_assert_uint_eq(stat_of(json, "phone"), 1);
	ck_assert_uint_eq(stat_of(json, "card"), 1);
	ck_assert_uint_eq(stat_of(json, "ticket"), 2);
	ck_assert_uint_eq(stat_of(json, "iban"), 0);
	cog_free(json);
	/* Counters outlive a reconfiguration that drops the pattern. */
	ck_assert_int_eq(cog_redact_configure(ctx, "{}"), COG_OK);
	ck_assert_int_eq(cog_redact_stats(ctx, &json), COG_OK);
	ck_assert_uint_eq(stat_of(json, "ticket"), 2);
	cog_free(json);
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(custom_patterns_and_rules)
{
	cog_ctx *ctx;
	ck_assert_int_eq(cog_ctx_new(&ctx, NULL), COG_OK);
	ck_assert_int_eq(cog_redact_configure(ctx,
		"{\"rules\":{\"email\":false,\"phone\":true},\"patterns\":["
		"{\"name\":\"ticket\",\"regex\":\"TCK-[0-9]{6}\",\"replacement\":\"<ticket>\"},"
		"{\"name\":\"greek\",\"regex\":\"\\\\p{Greek}+\"},"
		"{\"name\":\"word\",\"regex\":\"(?i)\\\\bsecret\\\\b\",\"replacement\":\"\"}]}"), COG_OK);
	static const case_t cases[] = {
		{ "TCK-123456 x@y.io +44 20 7946 0958", "<ticket> x@y.io [PHONE]" },
		{ "é αβγ é, a SECRET plan", "é [GREEK] é, a  plan" },
	};
	for (size_t i = 0; i < COG_ARRAY_LEN(cases); i++) {
		char *out = NULL;
		ck_assert_int_eq(cog_redact(ctx, cases[i].in, &out, NULL), COG_OK);
		ck_assert_str_eq(out, cases[i].out);
		cog_free(out);
	}
	/* Every built-in off, no pattern: text comes back as it was. */
	ck_assert_int_eq(cog_redact_configure(ctx, "{\"rules\":{\"email\":false,\"phone\":false,"
		"\"card\":false,\"iban\":false,\"api_key\":false,\"jwt\":false,\"private_key\":false}}"),
		COG_OK);
	static const case_t off[] = {
		{ "x@y.io 4111111111111111 AKIAIOSFODNN7EXAMPLE", "x@y.io 4111111111111111 AKIAIOSFODNN7EXAMPLE" },
	};
	CHECK(ctx, off);
	/* Only lookarounds: accepted (PCRE2 cannot tell), never replaces. */
	ck_assert_int_eq(cog_redact_configure(ctx, "{\"patterns\":[{\"name\":\"look\","
		"\"regex\":\"(?=x)\"},{\"name\":\"k\",\"regex\":\"x(?=y)\\\\K\"}]}"), COG_OK);
	static const case_t looks[] = { { "xxy x", "xxy x" } };
	CHECK(ctx, looks);
	/* A pattern that backtracks without end stops at PCRE2's match limit. */
	ck_assert_int_eq(cog_redact_configure(ctx, "{\"patterns\":[{\"name\":\"slow\","
		"\"regex\":\"(a+)+b\"}]}"), COG_OK);
	char *out = NULL;
	ck_assert_int_eq(cog_redact(ctx, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaac b x@y.io", &out,
		NULL), COG_OK);
	ck_assert_str_eq(out, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaac b [EMAIL]");
	cog_free(out);
	cog_ctx_free(ctx);
}
END_TEST

static void expect_einval(cog_ctx *ctx, const char *config, const char *words)
{
	ck_assert_msg(cog_redact_configure(ctx, config) == COG_EINVAL, "%s was taken", config);
	ck_assert_msg(strstr(cog_error_last(), words), "%s -> %s", config, cog_error_last());
}

START_TEST(bad_configurations)
{
	cog_ctx *ctx;
	ck_assert_int_eq(cog_ctx_new(&ctx, NULL), COG_OK);
	ck_assert_int_eq(cog_redact_configure(ctx, "{\"patterns\":[{\"name\":\"t\","
		"\"regex\":\"T-[0-9]+\"}],\"rules\":{\"email\":false}}"), COG_OK);
	expect_einval(ctx, "{\"patterns\":[{\"name\":\"broken\",\"regex\":\"ab(c\"}]}",
		"pattern \"broken\" does not compile at offset 4");
	expect_einval(ctx, "{\"patterns\":[{\"name\":\"empty\",\"regex\":\"a*\"}]}",
		"\"empty\" can match empty text");
	expect_einval(ctx, "{\"patterns\":[{\"name\":\"maybe\",\"regex\":\"x?|y\"}]}",
		"\"maybe\" can match empty text");
	expect_einval(ctx, "{\"rules\":{\"emails\":true}}", "unknown rule \"emails\"");
	expect_einval(ctx, "{\"rules\":{\"email\":1}}", "rule \"email\" must be true or false");
	expect_einval(ctx, "{\"rules\":[\"email\"]}", "\"rules\" must be an object");
	expect_einval(ctx, "{\"patterns\":{}}", "\"patterns\" must be an array");
	expect_einval(ctx, "{\"patterns\":[\"x\"]}", "patterns[0] must be an object");
	expect_einval(ctx, "{\"patterns\":[{\"name\":\"a\"}]}", "needs a \"regex\"");
	expect_einval(ctx, "{\"patterns\":[{\"name\":\"a\",\"regex\":\"\"}]}", "needs a \"regex\"");
	expect_einval(ctx, "{\"patterns\":[{\"regex\":\"x\"}]}", "needs a \"name\"");
	expect_einval(ctx, "{\"patterns\":[{\"name\":\"a b\",\"regex\":\"x\"}]}", "needs a \"name\"");
	expect_einval(ctx, "{\"patterns\":[{\"name\":5,\"regex\":\"x\"}]}", "name must be a string");
	expect_einval(ctx, "{\"patterns\":[{\"name\":\"a\",\"regex\":\"x\",\"flags\":\"i\"}]}",
		"unknown member \"flags\"");
	expect_einval(ctx, "{\"patterns\":[{\"name\":\"a\",\"regex\":\"x\"},{\"name\":\"a\","
		"\"regex\":\"y\"}]}", "\"a\" is used twice");
	expect_einval(ctx, "{\"patterns\":[{\"name\":\"email\",\"regex\":\"x\"}]}", "taken by a built-in");
	expect_einval(ctx, "{\"patterns\":[{\"name\":\"total\",\"regex\":\"x\"}]}", "taken by a built-in");
	expect_einval(ctx, "{\"rule\":{}}", "unknown member \"rule\"");
	expect_einval(ctx, "[]", "must be a JSON object");
	expect_einval(ctx, "{\"rules\":", "cog_redact_configure");
	cog_buf b = COG_BUF_INIT;
	cog_buf_puts(&b, "{\"patterns\":[");
	for (int i = 0; i < 65; i++)
		cog_buf_printf(&b, "%s{\"name\":\"p%d\",\"regex\":\"x%d\"}", i ? "," : "", i, i);
	cog_buf_puts(&b, "]}");
	expect_einval(ctx, b.ptr, "65 patterns, at most 64");
	cog_buf_dispose(&b);
	/* Every failure left the configuration as it was. */
	char *out = NULL;
	ck_assert_int_eq(cog_redact(ctx, "T-42 x@y.io", &out, NULL), COG_OK);
	ck_assert_str_eq(out, "[T] x@y.io");
	cog_free(out);
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(null_and_bad_arguments)
{
	char *out = (char *)"untouched";
	size_t n;
	ck_assert_int_eq(cog_redact(NULL, NULL, &out, &n), COG_EINVAL);
	ck_assert_ptr_null(out);
	ck_assert_int_eq(cog_redact(NULL, "x", NULL, &n), COG_EINVAL);
	ck_assert_int_eq(cog_redact(NULL, "bad \xff byte", &out, &n), COG_EINVAL);
	ck_assert_msg(strstr(cog_error_last(), "byte 4"), "%s", cog_error_last());
	ck_assert_int_eq(cog_redact_configure(NULL, "{}"), COG_EINVAL);
	char *json = (char *)"untouched";
	ck_assert_int_eq(cog_redact_stats(NULL, &json), COG_EINVAL);
	ck_assert_ptr_null(json);
	cog_ctx *ctx;
	ck_assert_int_eq(cog_ctx_new(&ctx, NULL), COG_OK);
	ck_assert_int_eq(cog_redact_configure(ctx, NULL), COG_EINVAL);
	ck_assert_int_eq(cog_redact_stats(ctx, NULL), COG_EINVAL);
	/* The internal entry never fails on text: bad bytes become U+FFFD; a
	 * NUL inside the length is text like any other. */
	size_t len = 0;
	ck_assert_int_eq(cog__redact_pii(ctx, "a@b.io \xc3 x", 10, &out, &len, &n), COG_OK);
	ck_assert_str_eq(out, "[EMAIL] \xef\xbf\xbd x");
	ck_assert_uint_eq(len, strlen(out));
	ck_assert_uint_eq(n, 1);
	cog_free(out);
	ck_assert_int_eq(cog__redact_pii(ctx, "x\0a@b.io", 8, &out, &len, NULL), COG_OK);
	ck_assert_uint_eq(len, 9);
	ck_assert_int_eq(memcmp(out, "x\0[EMAIL]", 10), 0);
	cog_free(out);
	ck_assert_int_eq(cog__redact_pii(ctx, NULL, 0, &out, &len, &n), COG_OK);
	ck_assert_str_eq(out, "");
	cog_free(out);
	ck_assert_int_eq(cog__redact_pii(ctx, NULL, 3, &out, NULL, NULL), COG_EINVAL);
	cog_ctx_free(ctx);
}
END_TEST

/* Several threads redact through one ctx while it is reconfigured: each
 * result comes from one whole configuration, and the totals add up. */
#define WORKERS 4
#define ROUNDS 3000

typedef struct worker {
	cog_ctx *ctx;
	size_t replaced;
	int bad;
	atomic_int *running;
} worker;

static void *redact_loop(void *arg)
{
	worker *w = arg;
	for (int i = 0; i < ROUNDS; i++) {
		char *out = NULL;
		size_t n = 0;
		if (cog_redact(w->ctx, "TCK-123456 to a@b.io", &out, &n) != COG_OK) {
			w->bad++;
			continue;
		}
		/* config A: [A] and emails; config B: [B], emails kept */
		if (!(strcmp(out, "[A] to [EMAIL]") == 0 && n == 2) &&
		    !(strcmp(out, "[B] to a@b.io") == 0 && n == 1))
			w->bad++;
		w->replaced += n;
		cog_free(out);
	}
	atomic_fetch_sub(w->running, 1);
	return NULL;
}

START_TEST(threads_while_reconfiguring)
{
	static const char *const configs[2] = {
		"{\"patterns\":[{\"name\":\"a\",\"regex\":\"TCK-[0-9]{6}\",\"replacement\":\"[A]\"}]}",
		"{\"rules\":{\"email\":false},\"patterns\":[{\"name\":\"b\",\"regex\":\"TCK-\\\\d+\","
		"\"replacement\":\"[B]\"}]}",
	};
	cog_ctx *ctx;
	ck_assert_int_eq(cog_ctx_new(&ctx, NULL), COG_OK);
	ck_assert_int_eq(cog_redact_configure(ctx, configs[0]), COG_OK);
	pthread_t threads[WORKERS];
	worker workers[WORKERS];
	atomic_int running = WORKERS;
	for (int i = 0; i < WORKERS; i++) {
		workers[i] = (worker){ ctx, 0, 0, &running };
		ck_assert_int_eq(pthread_create(&threads[i], NULL, redact_loop, &workers[i]), 0);
	}
	/* Reconfigure for as long as any worker runs. */
	for (int i = 1; atomic_load(&running) > 0; i++)
		ck_assert_int_eq(cog_redact_configure(ctx, configs[i % 2]), COG_OK);
	size_t replaced = 0;
	for (int i = 0; i < WORKERS; i++) {
		pthread_join(threads[i], NULL);
		ck_assert_int_eq(workers[i].bad, 0);
		replaced += workers[i].replaced;
	}
	char *json = NULL;
	ck_assert_int_eq(cog_redact_stats(ctx, &json), COG_OK);
	ck_assert_uint_eq(stat_of(json, "total"), replaced);
	ck_assert_uint_eq(stat_or(json, "a", false) + stat_or(json, "b", false),
		(size_t)WORKERS * ROUNDS);
	cog_free(json);
	cog_ctx_free(ctx);
}
END_TEST

static char log_line[4096];

static void capture_log(int level, const char *line, void *ud)
{
	(void)level;
	(void)ud;
	snprintf(log_line, sizeof(log_line), "%s", line);
}

START_TEST(log_lines_lose_pii)
{
	cog_ctx_options o = COG_CTX_OPTIONS_INIT;
	o.log_fn = capture_log;
	cog_ctx *ctx;
	ck_assert_int_eq(cog_ctx_new(&ctx, &o), COG_OK);
	ck_assert_int_eq(cog_ctx_log(ctx, COG_LOG_WARN, "mail from jane@example.com failed",
		"{\"to\":\"bob@example.org\",\"nested\":{\"phone\":\"+44 20 7946 0958\"},"
		"\"password\":\"hunter2\",\"n\":3}"), COG_OK);
	ck_assert_msg(!strstr(log_line, "example") && !strstr(log_line, "7946") &&
		!strstr(log_line, "hunter2"), "leaked: %s", log_line);
	ck_assert_msg(strstr(log_line, "\"message\":\"mail from [EMAIL] failed\"") &&
		strstr(log_line, "\"to\":\"[EMAIL]\"") && strstr(log_line, "\"phone\":\"[PHONE]\"") &&
		strstr(log_line, "\"password\":\"[REDACTED]\"") && strstr(log_line, "\"n\":3"),
		"%s", log_line);
	/* With the ctx's rules: its own pattern applies to the line too. */
	ck_assert_int_eq(cog_redact_configure(ctx, "{\"patterns\":[{\"name\":\"ticket\","
		"\"regex\":\"TCK-[0-9]{6}\"}]}"), COG_OK);
	cJSON *fields = cJSON_Parse("{\"t\":\"TCK-123456\",\"e\":\"x@y.io\"}");
	char *line = cog__log_format_ctx(ctx, COG_LOG_INFO, NULL, NULL,
		"about TCK-654321 api_key=sk-abcdefghijklmnopqrstuvwxyz", fields);
	ck_assert_ptr_nonnull(line);
	ck_assert_msg(strstr(line, "\"message\":\"about [TICKET] api_key=[REDACTED]\"") &&
		strstr(line, "\"t\":\"[TICKET]\"") && strstr(line, "\"e\":\"[EMAIL]\""), "%s", line);
	cog_free(line);
	cJSON_Delete(fields);
	char *json = NULL;
	ck_assert_int_eq(cog_redact_stats(ctx, &json), COG_OK);
	ck_assert_uint_eq(stat_of(json, "ticket"), 2);
	cog_free(json);
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(many_matches_in_long_text)
{
	cog_buf b = COG_BUF_INIT, want = COG_BUF_INIT;
	for (int i = 0; i < 5000; i++) {
		cog_buf_printf(&b, "user%d@example.com and 4111 1111 1111 1111, ", i);
		cog_buf_puts(&want, "[EMAIL] and [CARD], ");
	}
	char *out = NULL;
	size_t n = 0;
	ck_assert_int_eq(cog_redact(NULL, b.ptr, &out, &n), COG_OK);
	ck_assert_uint_eq(n, 10000);
	ck_assert_str_eq(out, want.ptr);
	cog_free(out);
	cog_buf_dispose(&b);
	cog_buf_dispose(&want);
}
END_TEST

static Suite *redact_suite(void)
{
	Suite *s = suite_create("redact");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, emails);
	tcase_add_test(tc, phones);
	tcase_add_test(tc, cards_need_luhn);
	tcase_add_test(tc, ibans_need_mod97);
	tcase_add_test(tc, keys_and_tokens);
	tcase_add_test(tc, private_keys);
	tcase_add_test(tc, overlaps);
	tcase_add_test(tc, counts_and_stats);
	tcase_add_test(tc, custom_patterns_and_rules);
	tcase_add_test(tc, bad_configurations);
	tcase_add_test(tc, null_and_bad_arguments);
	tcase_add_test(tc, threads_while_reconfiguring);
	tcase_add_test(tc, log_lines_lose_pii);
	tcase_add_test(tc, many_matches_in_long_text);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(redact_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures != 0;
}
