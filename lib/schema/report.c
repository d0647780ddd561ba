/* Failures: instance pointers are only rendered when something failed, and
 * nothing at all is recorded while probing a branch (anyOf, not, ...).
 * Collected failures are plain records in a log on the caller's stack (the
 * keyword and schema pointer borrowed from the compiled schema, the
 * instance pointer and message in the log's text), and become cJSON error
 * objects once, at the end. Stopping at the first failure records nothing:
 * it only sets cog_error_last(), with one formatting of the message. */
#include <stdio.h>
#include <string.h>

#include "schema_impl.h"

const char *type_name(unsigned t)
{
	switch (t) {
	case T_NULL: return "null";
	case T_BOOL: return "boolean";
	case T_INT: return "integer";
	case T_NUM: return "number";
	case T_STR: return "string";
	case T_ARR: return "array";
	case T_OBJ: return "object";
	default: return "an unknown kind of value";
	}
}

/* ---- instance pointers ---- */

static size_t index_digits(size_t i)
{
	size_t n = 1;
	while (i >= 10) {
		i /= 10;
		n++;
	}
	return n;
}

/* Bytes of the rendered pointer ("" for the root). */
static size_t ipath_length(const ipath *p)
{
	size_t n = 0;
	for (; p; p = p->up) {
		n++;
		if (!p->key) {
			n += index_digits(p->index);
		} else {
			for (const char *k = p->key; *k; k++)
				n += (*k == '~' || *k == '/') ? 2 : 1;
		}
	}
	return n;
}

/* Write the pointer (exactly ipath_length() bytes) ending at `end`. */
static void ipath_write(const ipath *p, char *end)
{
	for (; p; p = p->up) {
		if (!p->key) {
			size_t i = p->index;
			do {
				*--end = (char)('0' + i % 10);
				i /= 10;
			} while (i);
		} else {
			size_t len = strlen(p->key);
			for (const char *k = p->key + len; k > p->key;) {
				char c = *--k;
				if (c == '~' || c == '/') {
					*--end = c == '~' ? '0' : '1';
					*--end = '~';
				} else {
					*--end = c;
				}
			}
		}
		*--end = '/';
	}
}

/* ---- the log of MODE_COLLECT ---- */

void vlog_init(vlog *log)
{
	log->text = log->inline_text;
	log->len = 0;
	log->cap = sizeof(log->inline_text);
	log->count = 0;
}

void vlog_dispose(vlog *log)
{
	if (log->text != log->inline_text)
		cog_free(log->text);
	vlog_init(log);
}

static bool vlog_reserve(vlog *log, size_t extra)
{
	if (log->cap - log->len >= extra)
		return true;
	if (extra > SIZE_MAX / 2 - log->len)
		return false;
	size_t cap = log->cap * 2;
	if (cap < log->len + extra)
		cap = log->len + extra;
	char *text;
	if (log->text == log->inline_text) {
		text = cog_malloc(cap);
		if (text)
			memcpy(text, log->text, log->len);
	} else {
		text = cog_realloc(log->text, cap);
	}
	if (!text)
		return false;
	log->text = text;
	log->cap = cap;
	return true;
}

static bool add_string(cJSON *obj, const char *name, const char *value)
{
	cJSON *s = cJSON_CreateString(value);
	if (!s)
		return false;
	if (!cJSON_AddItemToObjectCS(obj, name, s)) { /* name: a literal */
		cJSON_Delete(s);
		return false;
	}
	return true;
}

cJSON *vlog_finish(vlog *log)
{
	cog__json_init();
	cJSON *arr = cJSON_CreateArray();
	for (size_t i = 0; arr && i < log->count; i++) {
		const verr *r = &log->errs[i];
		cJSON *e = cJSON_CreateObject();
		if (!e || !add_string(e, "instance", log->text + r->inst) ||
		    !add_string(e, "keyword", r->keyword) ||
		    !add_string(e, "schema", r->where) ||
		    !add_string(e, "message", log->text + r->msg) ||
		    !cJSON_AddItemToArray(arr, e)) {
			cJSON_Delete(e);
			cJSON_Delete(arr);
			arr = NULL;
		}
	}
	vlog_dispose(log);
	return arr;
}

/* ---- reporting ---- */

static void put(char *buf, size_t size, size_t *len, const char *s, size_t n)
{
	size_t room = size - 1 - *len;
	if (n > room)
		n = room;
	memcpy(buf + *len, s, n);
	*len += n;
}

/* MODE_FIRST: the text cog__error(COG_ESCHEMA, "schema: %s: %s: %s",
 * pointer or "(root)", keyword, message) would make, formatted once. */
static COG_PRINTF(4, 0) void first_failure(vctx *v, const ipath *p,
                                            const char *keyword,
                                            const char *fmt, va_list ap)
{
	char text[1024];
	size_t len = 0;
	put(text, sizeof(text), &len, "schema: ", 8);
	size_t plen = ipath_length(p);
	if (plen == 0) {
		put(text, sizeof(text), &len, "(root)", 6);
	} else if (plen < sizeof(text) - len) {
		ipath_write(p, text + len + plen);
		len += plen;
	} else {
		char *ptr = cog_malloc(plen + 1);
		if (!ptr) {
			v->oom = true;
			return;
		}
		ipath_write(p, ptr + plen);
		put(text, sizeof(text), &len, ptr, plen);
		cog_free(ptr);
	}
	put(text, sizeof(text), &len, ": ", 2);
	put(text, sizeof(text), &len, keyword, strlen(keyword));
	put(text, sizeof(text), &len, ": ", 2);
	size_t room = sizeof(text) - len;
	int n = vsnprintf(text + len, room < SCHEMA_MSG_MAX ? room : SCHEMA_MSG_MAX, fmt, ap);
	if (n < 0)
		text[len] = '\0';
	cog__error(COG_ESCHEMA, "%s", text);
}

static COG_PRINTF(5, 0) void collect(vctx *v, const ipath *p,
                                      const char *keyword, const char *where,
                                      const char *fmt, va_list ap)
{
	vlog *log = v->log;
	size_t plen = ipath_length(p);
	if (plen > SIZE_MAX - SCHEMA_MSG_MAX - 1 ||
	    !vlog_reserve(log, plen + 1 + SCHEMA_MSG_MAX)) {
		v->oom = true;
		return;
	}
	verr *r = &log->errs[log->count++];
	r->keyword = keyword;
	r->where = where;
	r->inst = log->len;
	char *ptr = log->text + log->len;
	ipath_write(p, ptr + plen);
	ptr[plen] = '\0';
	log->len += plen + 1;
	r->msg = log->len;
	char *msg = log->text + log->len;
	int n = vsnprintf(msg, SCHEMA_MSG_MAX, fmt, ap);
	if (n < 0) {
		msg[0] = '\0';
		n = 0;
	}
	log->len += (n < SCHEMA_MSG_MAX ? (size_t)n : SCHEMA_MSG_MAX - 1) + 1;
	if (v->nerrors == 0)
		cog__error(COG_ESCHEMA, "schema: %s: %s: %s",
		           plen ? ptr : "(root)", keyword, msg);
}

void report(vctx *v, const ipath *p, const char *keyword, const char *where,
            const char *fmt, ...)
{
	if (v->mode == MODE_PROBE || v->full)
		return;
	va_list ap;
	va_start(ap, fmt);
	if (v->mode == MODE_COLLECT)
		collect(v, p, keyword, where, fmt, ap);
	else
		first_failure(v, p, keyword, fmt, ap);
	va_end(ap);
	if (v->oom) {
		v->full = true;
		return;
	}
	/* MODE_FIRST keeps its first failure only. */
	if (++v->nerrors >= SCHEMA_MAX_ERRORS || v->mode == MODE_FIRST)
		v->full = true;
}
