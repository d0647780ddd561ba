/* JSON: a strict validator that allocates nothing, and thin helpers over
 * cJSON for the rest of the library. */
#include <stdio.h>
#include <string.h>

#include "core_int.h"

#define JSON_MAX_DEPTH 512

typedef struct json_scan {
	const unsigned char *s;
	size_t len;
	size_t pos;
	const char *error;
} json_scan;

static void skip_ws(json_scan *js)
{
	while (js->pos < js->len) {
		unsigned char c = js->s[js->pos];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		js->pos++;
	}
}

static bool fail(json_scan *js, const char *why)
{
	js->error = why;
	return false;
}

static bool hex4(json_scan *js, unsigned int *value)
{
	*value = 0;
	if (js->len - js->pos < 4)
		return fail(js, "truncated \\u escape");
	for (int i = 0; i < 4; i++) {
		unsigned char c = js->s[js->pos++];
		unsigned int d;
		if (c >= '0' && c <= '9') d = c - '0';
		else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
		else return fail(js, "bad hex digit in \\u escape");
		*value = *value << 4 | d;
	}
	return true;
}

/* The bytes a string's fast loop passes over: ASCII from 0x20 but '"'
 * and '\\' (bytes from 0x80 stop it once, to note that UTF-8 needs a
 * check). */
static const unsigned char plain[256] = {
#define R16(v) v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v
	R16(0), R16(0),
	1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,   /* 0x22 '"' */
	R16(1), R16(1),
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,   /* 0x5c '\\' */
	R16(1), R16(1),
	R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), R16(0),
#undef R16
};

static bool scan_string(json_scan *js)
{
	js->pos++; /* opening quote */
	size_t start = js->pos;
	unsigned char seen = 0; /* 0x80 once a byte >= 0x80 passed: UTF-8 to check */
	while (js->pos < js->len) {
		/* A run of plain ASCII bytes, with local copies the compiler keeps
		 * in registers. */
		const unsigned char *s = js->s;
		size_t i = js->pos, n = js->len;
		while (i < n && plain[s[i]])
			i++;
		js->pos = i;
		if (i >= n)
			break;
		unsigned char c = s[i];
		if (c >= 0x80) {
			seen = 0x80;
			js->pos++;
			continue;
		}
		if (c == '"') {
			size_t bad;
			if ((seen & 0x80) &&
			    !cog_utf8_valid((const char *)js->s + start, js->pos - start, &bad)) {
				js->pos = start + bad;
				return fail(js, "invalid UTF-8 in string");
			}
			js->pos++;
			return true;
		}
		if (c < 0x20)
			return fail(js, "control character in string");
		js->pos++;
		if (js->pos >= js->len)
			break;
		c = js->s[js->pos++];
		if (c == 'u') {
			unsigned int u;
			if (!hex4(js, &u))
				return false;
			if (u >= 0xD800 && u <= 0xDBFF) {
				unsigned int low;
				if (js->len - js->pos < 2 || js->s[js->pos] != '\\' ||
				    js->s[js->pos + 1] != 'u')
					return fail(js, "lone high surrogate in \\u escape");
				js->pos += 2;
				if (!hex4(js, &low))
					return false;
				if (low < 0xDC00 || low > 0xDFFF)
					return fail(js, "bad low surrogate in \\u escape");
			} else if (u >= 0xDC00 && u <= 0xDFFF) {
				return fail(js, "lone low surrogate in \\u escape");
			}
		} else if (!strchr("\"\\/bfnrt", c) || c == '\0') {
			js->pos--;
			return fail(js, "bad escape in string");
		}
	}
	return fail(js, "unterminated string");
}

static bool digits(json_scan *js)
{
	size_t start = js->pos;
	while (js->pos < js->len && js->s[js->pos] >= '0' && js->s[js->pos] <= '9')
		js->pos++;
	return js->pos > start;
}

static bool scan_number(json_scan *js)
{
	if (js->s[js->pos] == '-')
		js->pos++;
	if (js->pos < js->len && js->s[js->pos] == '0')
		js->pos++;
	else if (!digits(js))
		return fail(js, "bad number");
	if (js->pos < js->len && js->s[js->pos] == '.') {
		js->pos++;
		if (!digits(js))
			return fail(js, "bad number: digits expected after '.'");
	}
	if (js->pos < js->len && (js->s[js->pos] == 'e' || js->s[js->pos] == 'E')) {
		js->pos++;
		if (js->pos < js->len && (js->s[js->pos] == '+' || js->s[js->pos] == '-'))
			js->pos++;
		if (!digits(js))
			return fail(js, "bad number: digits expected in exponent");
	}
	return true;
}

static bool scan_literal(json_scan *js, const char *word)
{
	size_t n = strlen(word);
	if (js->len - js->pos < n || memcmp(js->s + js->pos, word, n) != 0)
		return fail(js, "unexpected character");
	js->pos += n;
	return true;
}

/* One scalar, or the opening of a container (pushed on the stack). */
static bool scan_value_start(json_scan *js, char *stack, int *depth)
{
	skip_ws(js);
	if (js->pos >= js->len)
		return fail(js, "value expected");
	unsigned char c = js->s[js->pos];
	switch (c) {
	case '{':
	case '[':
		if (*depth >= JSON_MAX_DEPTH)
			return fail(js, "nesting deeper than 512");
		stack[(*depth)++] = (char)c;
		js->pos++;
		return true;
	case '"': return scan_string(js);
	case 't': return scan_literal(js, "true");
	case 'f': return scan_literal(js, "false");
	case 'n': return scan_literal(js, "null");
	default:
		if (c == '-' || (c >= '0' && c <= '9'))
			return scan_number(js);
		return fail(js, "unexpected character");
	}
}

static bool scan_document(json_scan *js)
{
	char stack[JSON_MAX_DEPTH];
	int depth = 0;

	if (!scan_value_start(js, stack, &depth))
		return false;
	/* After each value or container opening: expect a key, a separator
	 * or a closing bracket, until the stack is empty. */
	bool just_opened = depth > 0;
	while (depth > 0) {
		skip_ws(js);
		if (js->pos >= js->len)
			return fail(js, "unexpected end of text");
		char top = stack[depth - 1];
		unsigned char c = js->s[js->pos];
		char close = top == '{' ? '}' : ']';
		if (c == (unsigned char)close) {
			js->pos++;
			depth--;
			just_opened = false;
			continue;
		}
		if (!just_opened) {
			if (c != ',')
				return fail(js, top == '{' ? "',' or '}' expected" : "',' or ']' expected");
			js->pos++;
			skip_ws(js);
		}
		if (top == '{') {
			if (js->pos >= js->len || js->s[js->pos] != '"')
				return fail(js, "object key (a string) expected");
			if (!scan_string(js))
				return false;
			skip_ws(js);
			if (js->pos >= js->len || js->s[js->pos] != ':')
				return fail(js, "':' expected after object key");
			js->pos++;
		}
		int before = depth;
		if (!scan_value_start(js, stack, &depth))
			return false;
		just_opened = depth > before;
	}
	return true;
}

int cog_json_validate(const char *text, size_t len, const char *what)
{
	json_scan js = { (const unsigned char *)text, len, 0, NULL };

	if (!text)
		return cog__error(COG_EINVAL, "%s: JSON text is NULL", what);
	if (scan_document(&js)) {
		skip_ws(&js);
		if (js.pos == js.len)
			return COG_OK;
		js.error = "trailing characters after the JSON value";
	}
	return cog__error(COG_EINVAL, "%s: invalid JSON at byte %zu: %s",
		what, js.pos, js.error);
}

static void *cjson_malloc(size_t size)
{
	return cog_malloc(size);
}

static pthread_once_t json_once = PTHREAD_ONCE_INIT;

static void json_install_hooks(void)
{
	if (cog__allocator_is_custom()) {
		cJSON_Hooks hooks = { cjson_malloc, cog_free };
		cJSON_InitHooks(&hooks);
	}
}

void cog__json_init(void)
{
	pthread_once(&json_once, json_install_hooks);
}

int cog_json_parse(cJSON **out, const char *text, const char *what)
{
	*out = NULL;
	if (!text)
		return cog__error(COG_EINVAL, "%s: JSON text is NULL", what);
	int rc = cog_json_validate(text, strlen(text), what);
	if (rc)
		return rc;
	cog__json_init();
	*out = cJSON_Parse(text);
	if (!*out)
		return cog__oom(what); /* the text is valid, so this is memory */
	return COG_OK;
}

const char *cog_json_get_string(const cJSON *object, const char *name)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, name);
	return cJSON_IsString(item) ? item->valuestring : NULL;
}

double cog_json_get_number(const cJSON *object, const char *name, double fallback)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, name);
	return cJSON_IsNumber(item) ? item->valuedouble : fallback;
}

int cog_json_add_string(cJSON *object, const char *name, const char *value)
{
	cog__json_init();
	return cJSON_AddStringToObject(object, name, value) ? COG_OK : cog__oom("json");
}

int cog_json_add_number(cJSON *object, const char *name, double value)
{
	cog__json_init();
	return cJSON_AddNumberToObject(object, name, value) ? COG_OK : cog__oom("json");
}

int cog_json_add_bool(cJSON *object, const char *name, bool value)
{
	cog__json_init();
	return cJSON_AddBoolToObject(object, name, value) ? COG_OK : cog__oom("json");
}

/* Compare one reference token (escaped, len bytes) with a member name. */
static bool token_equals(const char *token, size_t len, const char *name)
{
	size_t i = 0;
	for (; i < len; i++, name++) {
		char c = token[i];
		if (c == '~') {
			if (i + 1 >= len || (token[i + 1] != '0' && token[i + 1] != '1'))
				return false;
			c = token[++i] == '0' ? '~' : '/';
		}
		if (*name != c)
			return false;
	}
	return *name == '\0';
}

const cJSON *cog_json_pointer_get(const cJSON *root, const char *pointer)
{
	if (!pointer || (*pointer && *pointer != '/'))
		return NULL;
	const cJSON *at = root;
	while (at && *pointer) {
		const char *token = pointer + 1;
		size_t len = strcspn(token, "/");
		pointer = token + len;
		if (cJSON_IsArray(at)) {
			/* "0" or digits without a leading zero, nothing else */
			if (len == 0 || len > 9 || (token[0] == '0' && len > 1))
				return NULL;
			int index = 0;
			for (size_t i = 0; i < len; i++) {
				if (token[i] < '0' || token[i] > '9')
					return NULL;
				index = index * 10 + (token[i] - '0');
			}
			at = cJSON_GetArrayItem(at, index);
		} else if (cJSON_IsObject(at)) {
			const cJSON *member = at->child;
			while (member && !token_equals(token, len, member->string))
				member = member->next;
			at = member;
		} else {
			return NULL;
		}
	}
	return at;
}
