/*
 * The fast path for the whole (non-streamed) answer almost every OpenAI
 * chat completion is:
 *
 *   {"id":"…","object":"chat.completion","created":…,"model":"…",
 *    "choices":[{"index":0,"message":{"role":"assistant","content":"…",
 *    "refusal":null},"logprobs":null,"finish_reason":"stop"}],
 *    "usage":{"prompt_tokens":…,"completion_tokens":…,…}}
 *
 * read into the assembly with no tree. It runs only on text that
 * cog_json_validate has accepted, so it skips what it does not need by
 * counting brackets and quotes. It takes what openai.c's chat_parse would
 * take from the same answer, and gives up (0, nothing changed) on anything
 * it does not handle: an error member, a content that is not a string or
 * null, a refusal, tool or function calls, a member it reads that appears
 * twice or has an escaped name, a \u escape in the content, an escape in
 * the model or finish reason. cJSON then reads the answer.
 * tests/unit/llm/test_assemble.c compares the two on random answers.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "openai_int.h"

typedef struct ascan {
	const char *p, *end;
	bool bail;                    /* a shape we leave to cJSON */
} ascan;

typedef struct span {
	const char *p;
	size_t n;
	bool escaped;
} span;

typedef struct fast_answer {
	span content, finish, model;
	bool have_content, have_finish, have_model, have_usage;
	uint64_t input, output, cached;
} fast_answer;

static void ws(ascan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' ||
	                         *s->p == '\t'))
		s->p++;
}

static char peek(ascan *s)
{
	ws(s);
	return s->p < s->end ? *s->p : '\0';
}

/* A string (the text is valid JSON): its bytes between the quotes. */
static bool string(ascan *s, span *out)
{
	if (peek(s) != '"')
		return false;
	/* Local copies: the compiler need not reload s->p after each byte. */
	const char *b = ++s->p, *p = b, *end = s->end;
	bool escaped = false;
	while (p < end && *p != '"') {
		if (*p == '\\') {
			escaped = true;
			p++;
		}
		p++;
	}
	s->p = p;
	if (p >= end)
		return false;
	out->p = b;
	out->n = (size_t)(p - b);
	out->escaped = escaped;
	s->p++;
	return true;
}

/* Any value, not looked at. */
static void skip(ascan *s)
{
	span ignored;
	char c = peek(s);
	if (c == '"') {
		string(s, &ignored);
		return;
	}
	if (c != '{' && c != '[') {
		while (s->p < s->end && !strchr(",}] \n\r\t", *s->p))
			s->p++;
		return;
	}
	int depth = 0;
	do {
		c = *s->p;
		if (c == '"') {
			string(s, &ignored);
			continue;
		}
		if (c == '{' || c == '[')
			depth++;
		else if (c == '}' || c == ']')
			depth--;
		s->p++;
	} while (depth > 0 && s->p < s->end);
}

static bool is_null(ascan *s)
{
	if (peek(s) == 'n') {
		s->p += 4;
		return true;
	}
	return false;
}

/* Members of an object one by one: false at its end. The name must be
 * plain (an escaped name might spell one we read). */
static bool member(ascan *s, span *name, bool *first)
{
	char c = peek(s);
	if (*first) {
		s->p++;           /* the '{' */
		*first = false;
		c = peek(s);
	} else if (c == ',') {
		s->p++;
		c = peek(s);
	}
	if (c == '}') {
		s->p++;
		return false;
	}
	if (!string(s, name) || name->escaped) {
		s->bail = true;
		return false;
	}
	peek(s);
	s->p++;                   /* the ':' */
	return true;
}

static bool is(const span *name, const char *w)
{
	return name->n == strlen(w) && memcmp(name->p, w, name->n) == 0;
}

/* Seen twice: bail. */
static bool once(ascan *s, unsigned *seen, unsigned bit)
{
	if (*seen & bit)
		s->bail = true;
	*seen |= bit;
	return !s->bail;
}

/* count_of() in openai.c: a number's value, 0 for anything else. */
static uint64_t count(ascan *s)
{
	char c = peek(s), text[64];
	if (c != '-' && (c < '0' || c > '9')) {
		skip(s);
		return 0;
	}
	const char *b = s->p;
	skip(s);
	size_t n = (size_t)(s->p - b);
	if (n >= sizeof(text)) {
		s->bail = true;
		return 0;
	}
	memcpy(text, b, n);
	text[n] = '\0';
	double v = strtod(text, NULL);
	if (!isfinite(v) || v < 0)
		return 0;
	return v > 9e15 ? (uint64_t)9e15 : (uint64_t)v;
}

static void usage(ascan *s, fast_answer *f)
{
	if (peek(s) != '{') {
		skip(s);          /* not an object: no usage */
		return;
	}
	f->have_usage = true;
	unsigned seen = 0;
	bool first = true;
	span name;
	while (!s->bail && member(s, &name, &first)) {
		if (is(&name, "prompt_tokens") && once(s, &seen, 1)) {
			f->input = count(s);
		} else if (is(&name, "completion_tokens") && once(s, &seen, 2)) {
			f->output = count(s);
		} else if (is(&name, "prompt_tokens_details") && once(s, &seen, 4) &&
		           peek(s) == '{') {
			unsigned inner = 0;
			bool first_inner = true;
			span n2;
			while (!s->bail && member(s, &n2, &first_inner)) {
				if (is(&n2, "cached_tokens") && once(s, &inner, 1))
					f->cached = count(s);
				else
					skip(s);
			}
		} else {
			skip(s);
		}
	}
}

static void message(ascan *s, fast_answer *f)
{
	unsigned seen = 0;
	bool first = true;
	span name;
	while (!s->bail && member(s, &name, &first)) {
		if (is(&name, "content") && once(s, &seen, 1)) {
			if (!is_null(s) && !(f->have_content = string(s, &f->content)))
				s->bail = true;
		} else if ((is(&name, "refusal") && once(s, &seen, 2)) ||
		           (is(&name, "tool_calls") && once(s, &seen, 4)) ||
		           (is(&name, "function_call") && once(s, &seen, 8))) {
			if (!is_null(s))
				s->bail = true;
		} else {
			skip(s);
		}
	}
}

static void choice(ascan *s, fast_answer *f)
{
	unsigned seen = 0;
	bool first = true;
	span name;
	while (!s->bail && member(s, &name, &first)) {
		if (is(&name, "message") && once(s, &seen, 1)) {
			if (peek(s) == '{')
				message(s, f);
			else
				s->bail = true;
		} else if (is(&name, "finish_reason") && once(s, &seen, 2)) {
			if (peek(s) == '"') {
				f->have_finish = string(s, &f->finish);
				s->bail = s->bail || f->finish.escaped;
			} else {
				skip(s);  /* not a string: no finish reason */
			}
		} else {
			skip(s);
		}
	}
	if (!(seen & 1))
		s->bail = true;
}

static void choices(ascan *s, fast_answer *f)
{
	if (peek(s) != '[') {
		s->bail = true;
		return;
	}
	s->p++;
	if (peek(s) != '{') {
		s->bail = true;   /* empty, or the first is not an object */
		return;
	}
	choice(s, f);
	while (!s->bail && peek(s) == ',') {
		s->p++;
		skip(s);
	}
	if (!s->bail)
		s->p++;           /* the ']' */
}

/* The content's text, escapes decoded (no \u: bailed before). */
static int decode(const span *in, cog_buf *out)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	cog_buf_clear(out);
	cog_buf_reserve(out, in->n);
	for (size_t i = 0; i < in->n; i++) {
		char c = in->p[i];
		if (c == '\\') {
			const char *k = strchr(from, in->p[++i]);
			if (!k)
				return 0;
			c = to[k - from];
		}
		cog_buf_putc(out, c);
	}
	return out->failed ? COG_ENOMEM : 1;
}

int llm_openai_fast_answer(const char *body, size_t len, llm_asm *a)
{
	ascan s = { body, body + len, false };
	fast_answer f;
	memset(&f, 0, sizeof(f));
	if (peek(&s) != '{')
		return 0;
	unsigned seen = 0;
	bool first = true;
	span name;
	while (!s.bail && member(&s, &name, &first)) {
		if (is(&name, "error") && once(&s, &seen, 1)) {
			if (!is_null(&s))
				s.bail = true;
		} else if (is(&name, "choices") && once(&s, &seen, 2)) {
			choices(&s, &f);
		} else if (is(&name, "usage") && once(&s, &seen, 4)) {
			usage(&s, &f);
		} else if (is(&name, "model") && once(&s, &seen, 8) && peek(&s) == '"') {
			f.have_model = string(&s, &f.model);
			s.bail = s.bail || f.model.escaped;
		} else {
			skip(&s);
		}
	}
	if (s.bail || !(seen & 2))
		return 0;
	cog_buf text = COG_BUF_INIT;
	int rc = 1;
	if (f.have_content && f.content.n)
		rc = f.content.escaped ? decode(&f.content, &text)
		                       : (cog_buf_put(&text, f.content.p, f.content.n) ? COG_ENOMEM : 1);
	if (rc != 1) {
		cog_buf_dispose(&text);
		return rc == 0 ? 0 : cog__oom("openai: answer");
	}
	/* From here on as chat_parse: text, finish reason, usage, model. */
	rc = COG_OK;
	if (text.len)
		rc = llm_asm_text(a, text.ptr, text.len);
	cog_buf_dispose(&text);
	char reason[32];
	if (!rc && f.have_finish && f.finish.n < sizeof(reason)) {
		memcpy(reason, f.finish.p, f.finish.n);
		reason[f.finish.n] = '\0';
		if (llm_openai_finish_reason(reason))
			rc = llm_asm_set_finish(a, llm_openai_finish_reason(reason));
	}
	if (f.have_usage) {
		a->input_tokens = f.input;
		a->output_tokens = f.output;
		a->cached_tokens = f.cached;
		a->have_usage = true;
	}
	if (!rc && f.have_model)
		rc = llm_openai_model(a, f.model.p, f.model.n);
	if (rc)
		return rc == COG_ENOMEM ? cog__oom("openai: answer") : rc;
	return 1;
}
