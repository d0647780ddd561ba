/* Log records as JSON lines, with secrets and PII redacted before they
 * leave. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <string.h>

#include "core_int.h"
#include "redact_secret.h"
#include "cognition/ctx.h"

static const char *const level_names[] = {
	"trace", "debug", "info", "warn", "error", "off"
};

const char *cog__log_level_name(int level)
{
	return level >= 0 && level <= COG_LOG_OFF ? level_names[level] : "unknown";
}

/* Field names whose values are never logged: a name with one of these
 * words as a component ("api_key", "X-Api-Key", "client_secret",
 * "access_token"), but not merely containing it ("max_tokens"). */
static const char secret_name_pattern[] =
	"(?i)(^|[_.-])(authorization|auth|api[_-]?key|apikey|passw(or)?d|secret|"
	"token|cookie|set-cookie|credentials?|private[_-]?key|session[_-]?id|"
	"signature)([_.-]|$)";

/* Secrets that show up inside free text, including JSON-shaped text. */
#define KEY_EDGE "(?<![A-Za-z0-9])"
static const struct {
	const char *pattern;
	const char *replacement;
} secret_text[] = {
	/* "Authorization: Basic ...", "Proxy-Authorization=...": any scheme */
	{ "(?i)" KEY_EDGE "((?:proxy-)?authorization)(\"?\\s*[:=]\\s*\"?)[^\"\\r\\n]+",
	  "${1}${2}[REDACTED]" },
	{ "(?i)" KEY_EDGE "bearer\\s+[A-Za-z0-9._~+/=-]+", "Bearer [REDACTED]" },
	{ KEY_EDGE "(sk|pk|rk)-[A-Za-z0-9_-]{16,}", "[REDACTED]" },
	/* key=value, key: value and "key":"value" */
	{ "(?i)" KEY_EDGE "(api[_-]?key|apikey|password|passwd|secret|client[_-]?secret|"
	  "token|access[_-]?token|refresh[_-]?token|cookie)(\"?\\s*[=:]\\s*\"?)"
	  "[^\\s,;&\"'}]+", "${1}${2}[REDACTED]" },
};

static pcre2_code *secret_name_re;
static pcre2_code *secret_text_re[COG_ARRAY_LEN(secret_text)];
static pthread_once_t redact_once = PTHREAD_ONCE_INIT;

static pcre2_code *compile(const char *pattern)
{
	int err;
	PCRE2_SIZE offset;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
		PCRE2_UTF, &err, &offset, NULL);
	if (re)
		pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* optional speed-up */
	return re;
}

/* The patterns are constants: compiled once, read-only afterwards. */
static void compile_patterns(void)
{
	secret_name_re = compile(secret_name_pattern);
	for (size_t i = 0; i < COG_ARRAY_LEN(secret_text); i++)
		secret_text_re[i] = compile(secret_text[i].pattern);
}

bool cog__is_secret_name(const char *name)
{
	pthread_once(&redact_once, compile_patterns);
	if (!secret_name_re)
		return true; /* fail closed */
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(secret_name_re, NULL);
	if (!md)
		return true;
	int rc = pcre2_match(secret_name_re, (PCRE2_SPTR)name, PCRE2_ZERO_TERMINATED,
		0, 0, md, NULL);
	pcre2_match_data_free(md);
	return rc >= 0;
}

char *cog__redact_text(const char *text)
{
	pthread_once(&redact_once, compile_patterns);
	char *cur = NULL;
	/* the literal secrets of the contexts first, then the patterns */
	if (cog__redact_secrets_any())
		cog__redact_secrets(text, strlen(text), &cur, NULL, NULL);
	else
		cur = cog__strdup(text);
	for (size_t i = 0; cur && i < COG_ARRAY_LEN(secret_text); i++) {
		if (!secret_text_re[i]) {
			cog_free(cur);
			return cog__strdup("[REDACTED: redaction unavailable]");
		}
		size_t len = strlen(cur);
		PCRE2_SIZE out_len = len + 64;
		for (int attempt = 0; attempt < 2; attempt++) {
			char *out = cog_malloc(out_len + 1);
			if (!out) {
				cog_free(cur);
				return NULL;
			}
			int rc = pcre2_substitute(secret_text_re[i], (PCRE2_SPTR)cur, len, 0,
				PCRE2_SUBSTITUTE_GLOBAL | PCRE2_SUBSTITUTE_OVERFLOW_LENGTH, NULL, NULL,
				(PCRE2_SPTR)secret_text[i].replacement, PCRE2_ZERO_TERMINATED,
				(PCRE2_UCHAR *)out, &out_len);
			if (rc >= 0) {
				cog_free(cur);
				cur = out;
				break;
			}
			cog_free(out);
			if (rc != PCRE2_ERROR_NOMEMORY || attempt == 1) {
				cog_free(cur);
				return cog__strdup("[REDACTED: redaction failed]");
			}
			/* out_len now holds the size needed; go round once more. */
		}
	}
	return cur;
}

/* Put a string in place of *child, keeping its member name. */
static int replace_value(cJSON *parent, cJSON **child, const char *text,
                         const char *what)
{
	cJSON *masked = cJSON_CreateString(text);
	if (!masked)
		return cog__oom(what);
	/* cJSON_ReplaceItemViaPointer does not carry the key over: move it. */
	masked->string = (*child)->string;
	(*child)->string = NULL;
	if (!cJSON_ReplaceItemViaPointer(parent, *child, masked)) {
		(*child)->string = masked->string;
		masked->string = NULL;
		cJSON_Delete(masked);
		return cog__oom(what);
	}
	*child = masked;
	return COG_OK;
}

/* Secret masking, then (for log lines) the PII rules of ctx, or of the
 * built-ins when there is no ctx. NULL on OOM. */
static char *log_clean_text(struct cog_ctx *ctx, const char *text, bool pii)
{
	char *masked = cog__redact_text(text);
	if (!masked || !pii)
		return masked;
	char *clean = NULL;
	int rc = cog__redact_pii(ctx, masked, strlen(masked), &clean, NULL, NULL);
	cog_free(masked);
	return rc ? NULL : clean;
}

static int redact_tree(struct cog_ctx *ctx, cJSON *item, bool pii, const char *what)
{
	for (cJSON *child = item ? item->child : NULL; child; child = child->next) {
		int rc = COG_OK;
		if (child->string && cog__is_secret_name(child->string)) {
			rc = replace_value(item, &child, "[REDACTED]", what);
		} else if (cJSON_IsString(child)) {
			char *clean = log_clean_text(ctx, child->valuestring, pii);
			if (!clean)
				return cog__oom(what);
			/* Only a changed string is replaced: most are not. */
			if (strcmp(clean, child->valuestring) != 0)
				rc = replace_value(item, &child, clean, what);
			cog_free(clean);
		} else if (cJSON_IsObject(child) || cJSON_IsArray(child)) {
			rc = redact_tree(ctx, child, pii, what);
		}
		if (rc)
			return rc;
	}
	return COG_OK;
}

int cog__redact_json(cJSON *item, const char *what)
{
	return redact_tree(NULL, item, false, what);
}

char *cog__log_format(int level, const char *trace_id, const char *span_id,
                      const char *message, cJSON *fields)
{
	return cog__log_format_ctx(NULL, level, trace_id, span_id, message, fields);
}

char *cog__log_format_ctx(struct cog_ctx *ctx, int level, const char *trace_id,
                          const char *span_id, const char *message, cJSON *fields)
{
	char time_text[32];
	cog_buf b = COG_BUF_INIT;
	char *clean = log_clean_text(ctx, message ? message : "", true);
	if (!clean || (fields && redact_tree(ctx, fields, true, "log redaction"))) {
		cog_free(clean);
		return NULL;
	}
	cog_clock_format_iso8601(cog_clock_realtime_ms(), time_text);
	cog_buf_printf(&b, "{\"time\":\"%s\",\"level\":\"%s\",\"trace_id\":",
		time_text, cog__log_level_name(level));
	if (trace_id && *trace_id)
		cog_buf_put_json_string(&b, trace_id, strlen(trace_id));
	else
		cog_buf_puts(&b, "null");
	cog_buf_puts(&b, ",\"span_id\":");
	if (span_id && *span_id)
		cog_buf_put_json_string(&b, span_id, strlen(span_id));
	else
		cog_buf_puts(&b, "null");
	cog_buf_puts(&b, ",\"message\":");
	cog_buf_put_json_string(&b, clean, strlen(clean));
	cog_free(clean);
	cog_buf_puts(&b, ",\"fields\":");
	if (fields) {
		char *text = cog_json_print(fields);
		if (!text) {
			cog_buf_dispose(&b);
			return NULL;
		}
		cog_buf_puts(&b, text);
		cog_free(text);
	} else {
		cog_buf_puts(&b, "{}");
	}
	cog_buf_putc(&b, '}');
	return cog_buf_detach(&b);
}
