/*
 * Canonical JSON and request keys. The recorder, the replay backend and the
 * router's cache all find an exchange again by a hash of its request, so
 * two requests that mean the same must print the same bytes: object
 * members sorted by name (byte order, a stable sort so duplicate names keep
 * their order), no whitespace, numbers as cJSON prints them and strings
 * escaped as cJSON escapes them (so a canonical text parsed by cJSON and
 * printed compactly with sorted members is the same text).
 */
#include <stdlib.h>
#include <string.h>

#include "llm_int.h"

typedef struct canon_member {
	const cJSON *item;
	size_t order;                 /* position in the object: stable ties */
} canon_member;

static int member_compare(const void *a, const void *b)
{
	const canon_member *x = a, *y = b;
	int c = strcmp(x->item->string ? x->item->string : "",
	               y->item->string ? y->item->string : "");
	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* A string literal as cJSON's print_string_ptr writes it. */
static int put_string(cog_buf *buf, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	int rc = cog_buf_putc(buf, '"');
	const char *run = s;
	for (const char *p = s; !rc && *p; p++) {
		unsigned char c = (unsigned char)*p;
		const char *esc = NULL;
		char uni[7];
		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		default:
			if (c >= 0x20)
				continue;
			uni[0] = '\\'; uni[1] = 'u'; uni[2] = '0'; uni[3] = '0';
			uni[4] = hex[c >> 4]; uni[5] = hex[c & 15]; uni[6] = '\0';
			esc = uni;
		}
		rc = cog_buf_put(buf, run, (size_t)(p - run));
		if (!rc)
			rc = cog_buf_puts(buf, esc);
		run = p + 1;
	}
	if (!rc)
		rc = cog_buf_puts(buf, run);
	if (!rc)
		rc = cog_buf_putc(buf, '"');
	return rc;
}

static int put_number(cog_buf *buf, const cJSON *item)
{
	/* cJSON itself prints the number (no allocation into a preallocated
	 * buffer), so the canonical form follows whatever cJSON does. */
	char text[64];
	cJSON copy = *item;
	copy.next = copy.prev = copy.child = NULL;
	copy.string = NULL;
	if (!cJSON_PrintPreallocated(&copy, text, (int)sizeof(text), 0))
		return cog_buf_puts(buf, "null");
	return cog_buf_puts(buf, text);
}

static int put_value(cog_buf *buf, const cJSON *item, bool drop_metadata);

static int put_object(cog_buf *buf, const cJSON *object, bool drop_metadata)
{
	size_t n = 0;
	for (const cJSON *m = object->child; m; m = m->next)
		n++;
	if (n == 0)
		return cog_buf_puts(buf, "{}");
	canon_member *members = cog__calloc(n, sizeof(*members));
	if (!members) {
		buf->failed = true;
		return cog__oom("canonical JSON");
	}
	size_t i = 0;
	for (const cJSON *m = object->child; m; m = m->next, i++) {
		members[i].item = m;
		members[i].order = i;
	}
	qsort(members, n, sizeof(*members), member_compare);
	int rc = cog_buf_putc(buf, '{');
	bool first = true;
	for (i = 0; i < n && !rc; i++) {
		const cJSON *m = members[i].item;
		const char *name = m->string ? m->string : "";
		if (drop_metadata && strcmp(name, "metadata") == 0)
			continue;
		if (!first)
			rc = cog_buf_putc(buf, ',');
		first = false;
		if (!rc)
			rc = put_string(buf, name);
		if (!rc)
			rc = cog_buf_putc(buf, ':');
		if (!rc)
			rc = put_value(buf, m, false);
	}
	if (!rc)
		rc = cog_buf_putc(buf, '}');
	cog_free(members);
	return rc;
}

static int put_value(cog_buf *buf, const cJSON *item, bool drop_metadata)
{
	if (cJSON_IsObject(item))
		return put_object(buf, item, drop_metadata);
	if (cJSON_IsArray(item)) {
		int rc = cog_buf_putc(buf, '[');
		for (const cJSON *e = item->child; e && !rc; e = e->next) {
			rc = put_value(buf, e, false);
			if (!rc && e->next)
				rc = cog_buf_putc(buf, ',');
		}
		return rc ? rc : cog_buf_putc(buf, ']');
	}
	if (cJSON_IsString(item))
		return put_string(buf, item->valuestring ? item->valuestring : "");
	if (cJSON_IsNumber(item))
		return put_number(buf, item);
	if (cJSON_IsTrue(item))
		return cog_buf_puts(buf, "true");
	if (cJSON_IsFalse(item))
		return cog_buf_puts(buf, "false");
	if (cJSON_IsRaw(item) && item->valuestring)
		return cog_buf_puts(buf, item->valuestring);
	return cog_buf_puts(buf, "null");
}

char *llm_canonical_json(const cJSON *item, bool drop_metadata)
{
	cog_buf buf = COG_BUF_INIT;
	if (put_value(&buf, item, drop_metadata)) {
		cog_buf_dispose(&buf);
		return NULL;
	}
	return cog_buf_detach(&buf);
}

int llm_request_key(const cJSON *request, const char *kind, char out[65])
{
	static const char fn[] = "llm_request_key";
	out[0] = '\0';
	if (!request || !kind)
		return cog__error(COG_EINVAL, "%s: %s is NULL", fn,
			request ? "kind" : "request");
	cog_buf buf = COG_BUF_INIT;
	int rc = cog_buf_puts(&buf, kind);
	if (!rc)
		rc = cog_buf_putc(&buf, '\0');
	if (!rc)
		rc = put_value(&buf, request, true);
	uint8_t hash[COG_HASH_BYTES];
	if (!rc)
		rc = cog_hash_blake2b(hash, sizeof(hash), buf.ptr, buf.len, NULL, 0);
	cog_buf_dispose(&buf);
	if (rc)
		return cog__error_wrap(rc, "%s", fn);
	cog_hex_encode(hash, sizeof(hash), out);
	return COG_OK;
}
