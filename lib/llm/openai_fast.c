/*
 * The fast path for the chunk almost every OpenAI stream is made of:
 *
 *   {"id":"…","object":"chat.completion.chunk","created":…,"model":"…",
 *    "choices":[{"index":0,"delta":{"content":"piece"},"logprobs":null,
 *                "finish_reason":null}]}
 *
 * read in one pass with no tree and no allocation. The scanner is strict
 * and conservative: it accepts only well-formed JSON of that shape, with
 * members it does not need skipped by the JSON grammar, and gives up (0,
 * nothing changed) on anything else: another shape, a duplicate member, a
 * non-ASCII byte or escape in a string it skips, a surrogate or NUL escape,
 * invalid UTF-8 in the text. The cJSON path then reads the chunk, so the
 * result is the same for every input, only slower for the unusual ones.
 */
#include <string.h>

#include "openai_int.h"

typedef struct fscan {
	const unsigned char *p, *end;
} fscan;

enum { MAX_DEPTH = 16 };

/* Byte classes: 1 ends a run of plain string bytes (quote, backslash,
 * control); 2 is non-ASCII (UTF-8, checked where it is allowed). */
#define C1X16 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1
#define C0X16 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
#define C2X16 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2
static const unsigned char byte_class[256] = {
	C1X16, C1X16,
	0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,       /* 0x22 " */
	C0X16, C0X16,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,       /* 0x5C \ */
	C0X16, C0X16,
	C2X16, C2X16, C2X16, C2X16, C2X16, C2X16, C2X16, C2X16,
};

static inline void ws(fscan *s)
{
	while (s->p < s->end && *s->p <= ' ' &&
	       (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
		s->p++;
}

static inline bool eat(fscan *s, char c)
{
	ws(s);
	if (s->p < s->end && *s->p == (unsigned char)c) {
		s->p++;
		return true;
	}
	return false;
}

static bool word(fscan *s, const char *w, size_t n)
{
	if ((size_t)(s->end - s->p) < n || memcmp(s->p, w, n) != 0)
		return false;
	s->p += n;
	return true;
}

/* A string of printable ASCII without escapes (keys, ids, names); *start
 * and *len give its bytes. The opening quote is next. */
static bool plain_string(fscan *s, const char **start, size_t *len)
{
	if (!eat(s, '"'))
		return false;
	const unsigned char *b = s->p;
	while (s->p < s->end && byte_class[*s->p] == 0)
		s->p++;
	if (s->p >= s->end || *s->p != '"')
		return false;
	*start = (const char *)b;
	*len = (size_t)(s->p - b);
	s->p++;
	return true;
}

static bool digits(fscan *s)
{
	const unsigned char *b = s->p;
	while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
		s->p++;
	return s->p > b;
}

/* RFC 8259 number; *zero tells whether it was exactly "0". */
static bool number(fscan *s, bool *zero)
{
	const unsigned char *b = s->p;
	if (s->p < s->end && *s->p == '-')
		s->p++;
	if (s->p < s->end && *s->p == '0')
		s->p++;
	else if (s->p >= s->end || *s->p < '1' || *s->p > '9' || !digits(s))
		return false;
	if (s->p < s->end && *s->p == '.' && (s->p++, !digits(s)))
		return false;
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (!digits(s))
			return false;
	}
	*zero = s->p - b == 1 && *b == '0';
	return true;
}

static bool skip_value(fscan *s, int depth);

static bool skip_container(fscan *s, int depth, char close, bool object)
{
	if (depth >= MAX_DEPTH)
		return false;
	if (eat(s, close))
		return true;
	do {
		const char *k;
		size_t n;
		if (object && (!plain_string(s, &k, &n) || !eat(s, ':')))
			return false;
		if (!skip_value(s, depth + 1))
			return false;
	} while (eat(s, ','));
	return eat(s, close);
}

static bool skip_value(fscan *s, int depth)
{
	ws(s);
	if (s->p >= s->end)
		return false;
	const char *str;
	size_t len;
	bool zero;
	switch (*s->p) {
	case '"': return plain_string(s, &str, &len);
	case '{': s->p++; return skip_container(s, depth, '}', true);
	case '[': s->p++; return skip_container(s, depth, ']', false);
	case 't': return word(s, "true", 4);
	case 'f': return word(s, "false", 5);
	case 'n': return word(s, "null", 4);
	default: return number(s, &zero);
	}
}

static bool is_null(fscan *s)
{
	ws(s);
	return word(s, "null", 4);
}

static int hex4(const unsigned char *p)
{
	int v = 0;
	for (int i = 0; i < 4; i++) {
		int c = p[i], d;
		if (c >= '0' && c <= '9') d = c - '0';
		else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
		else return -1;
		v = v * 16 + d;
	}
	return v;
}

/* One escape after the backslash, decoded into out. */
static bool unescape(fscan *s, cog_buf *out)
{
	if (s->p >= s->end)
		return false;
	unsigned char c = *s->p++;
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *at = c ? strchr(from, c) : NULL;
	if (at)
		return cog_buf_putc(out, to[at - from]) == COG_OK;
	if (c != 'u' || s->end - s->p < 4)
		return false;
	long u = hex4(s->p);
	s->p += 4;
	/* NUL and surrogates: rare, and the cJSON path knows what to do. */
	if (u <= 0 || (u >= 0xD800 && u <= 0xDFFF))
		return false;
	char utf8[3];
	size_t n;
	if (u < 0x80) {
		utf8[0] = (char)u, n = 1;
	} else if (u < 0x800) {
		utf8[0] = (char)(0xC0 | (u >> 6));
		utf8[1] = (char)(0x80 | (u & 0x3F)), n = 2;
	} else {
		utf8[0] = (char)(0xE0 | (u >> 12));
		utf8[1] = (char)(0x80 | ((u >> 6) & 0x3F));
		utf8[2] = (char)(0x80 | (u & 0x3F)), n = 3;
	}
	return cog_buf_put(out, utf8, n) == COG_OK;
}

/* The text of a string (quote next): where it lies when it has no escape,
 * else decoded into scratch. Must be UTF-8 without NUL. */
static bool text_string(fscan *s, cog_buf *scratch, const char **text, size_t *len)
{
	if (!eat(s, '"'))
		return false;
	const unsigned char *b = s->p;
	bool decoded = false;
	for (;;) {
		if (s->p >= s->end)
			return false;
		while (s->p < s->end && byte_class[*s->p] != 1)
			s->p++;
		if (s->p >= s->end)
			return false;
		unsigned char c = *s->p;
		if (c == '"')
			break;
		if (c < 0x20)
			return false;
		if (!decoded) {
			cog_buf_clear(scratch);
			if (cog_buf_put(scratch, b, (size_t)(s->p - b)))
				return false;
			decoded = true;
		}
		s->p++;
		if (!unescape(s, scratch))
			return false;
		/* Copy the plain run up to the next backslash or quote. */
		const unsigned char *run = s->p;
		while (s->p < s->end && byte_class[*s->p] != 1)
			s->p++;
		if (cog_buf_put(scratch, run, (size_t)(s->p - run)))
			return false;
	}
	if (decoded) {
		*text = scratch->ptr;
		*len = scratch->len;
	} else {
		*text = (const char *)b;
		*len = (size_t)(s->p - b);
	}
	s->p++;
	return cog_utf8_valid(*text, *len, NULL);
}

static bool key_is(const char *k, size_t n, const char *name)
{
	return strlen(name) == n && memcmp(k, name, n) == 0;
}

/* What the chunk says, once the whole of it has been read. */
typedef struct fast_chunk {
	const char *model, *text;
	size_t model_len, text_len;
	bool have_model, have_choices, have_delta, have_text, have_index;
} fast_chunk;

/* delta: content (string or null), role, refusal null; nothing else. */
static bool read_delta(fscan *s, cog_buf *scratch, fast_chunk *fc)
{
	if (fc->have_delta || !eat(s, '{'))
		return false;
	fc->have_delta = true;
	if (eat(s, '}'))
		return true;
	do {
		const char *k, *v;
		size_t n, vn;
		if (!plain_string(s, &k, &n) || !eat(s, ':'))
			return false;
		if (key_is(k, n, "content")) {
			if (fc->have_text)
				return false;
			fc->have_text = true;
			if (!is_null(s) && !text_string(s, scratch, &fc->text, &fc->text_len))
				return false;
		} else if (key_is(k, n, "role")) {
			if (!is_null(s) && !plain_string(s, &v, &vn))
				return false;
		} else if (!key_is(k, n, "refusal") || !is_null(s)) {
			return false;
		}
	} while (eat(s, ','));
	return eat(s, '}');
}

/* choices: exactly one, index 0, no finish reason. */
static bool read_choices(fscan *s, cog_buf *scratch, fast_chunk *fc)
{
	if (fc->have_choices || !eat(s, '[') || !eat(s, '{'))
		return false;
	fc->have_choices = true;
	do {
		const char *k;
		size_t n;
		bool zero = false;
		if (!plain_string(s, &k, &n) || !eat(s, ':'))
			return false;
		if (key_is(k, n, "delta")) {
			if (!read_delta(s, scratch, fc))
				return false;
		} else if (key_is(k, n, "index")) {
			ws(s);
			if (fc->have_index || !number(s, &zero) || !zero)
				return false;
			fc->have_index = true;
		} else if (key_is(k, n, "finish_reason")) {
			if (!is_null(s))
				return false;
		} else if (!skip_value(s, 2)) {
			return false;
		}
	} while (eat(s, ','));
	return eat(s, '}') && eat(s, ']');
}

static bool read_chunk(fscan *s, cog_buf *scratch, fast_chunk *fc)
{
	if (!eat(s, '{'))
		return false;
	do {
		const char *k;
		size_t n;
		if (!plain_string(s, &k, &n) || !eat(s, ':'))
			return false;
		if (key_is(k, n, "choices")) {
			if (!read_choices(s, scratch, fc))
				return false;
		} else if (key_is(k, n, "model")) {
			if (fc->have_model || !plain_string(s, &fc->model, &fc->model_len))
				return false;
			fc->have_model = true;
		} else if (key_is(k, n, "usage") || key_is(k, n, "error")) {
			if (!is_null(s))
				return false;
		} else if (!skip_value(s, 1)) {
			return false;
		}
	} while (eat(s, ','));
	if (!eat(s, '}'))
		return false;
	ws(s);
	return s->p == s->end && fc->have_choices;
}

int llm_openai_fast_chunk(const char *data, size_t len, cog_buf *scratch, llm_asm *a)
{
	fscan s = { (const unsigned char *)data, (const unsigned char *)data + len };
	fast_chunk fc;
	memset(&fc, 0, sizeof(fc));
	if (!read_chunk(&s, scratch, &fc)) {
		if (scratch->failed)
			return a->status = cog__oom("openai: stream");
		return 0;
	}
	int rc = COG_OK;
	if (fc.have_model)
		rc = llm_openai_model(a, fc.model, fc.model_len);
	if (!rc && fc.text_len)
		rc = llm_asm_text(a, fc.text, fc.text_len);
	return rc ? rc : 1;
}
