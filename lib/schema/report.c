/* Failures: instance pointers are only rendered when something failed, and
 * nothing at all is recorded while probing a branch (anyOf, not, ...). */
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

int ipath_render(const ipath *p, cog_buf *buf)
{
	if (!p)
		return buf->failed ? COG_ENOMEM : 0;
	ipath_render(p->up, buf);
	cog_buf_putc(buf, '/');
	if (!p->key) {
		cog_buf_printf(buf, "%zu", p->index);
	} else {
		for (const char *k = p->key; *k; k++) {
			if (*k == '~')
				cog_buf_puts(buf, "~0");
			else if (*k == '/')
				cog_buf_puts(buf, "~1");
			else
				cog_buf_putc(buf, *k);
		}
	}
	return buf->failed ? COG_ENOMEM : 0;
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

void report(vctx *v, const ipath *p, const char *keyword, const char *where,
            const char *fmt, ...)
{
	if (v->mode == MODE_PROBE || v->full)
		return;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cog_buf ptr = COG_BUF_INIT;
	if (ipath_render(p, &ptr) || cog_buf_reserve(&ptr, 0)) {
		cog_buf_dispose(&ptr);
		v->oom = true;
		v->full = true;
		return;
	}
	if (v->nerrors == 0)
		cog__error(COG_ESCHEMA, "schema: %s: %s: %s",
		           ptr.len ? ptr.ptr : "(root)", keyword, msg);
	if (v->mode == MODE_COLLECT) {
		cJSON *e = cJSON_CreateObject();
		if (!e || !add_string(e, "instance", ptr.ptr) ||
		    !add_string(e, "keyword", keyword) ||
		    !add_string(e, "schema", where) ||
		    !add_string(e, "message", msg) ||
		    !cJSON_AddItemToArray(v->errors, e)) {
			cJSON_Delete(e);
			v->oom = true;
			v->full = true;
		}
	}
	cog_buf_dispose(&ptr);
	if (++v->nerrors >= SCHEMA_MAX_ERRORS)
		v->full = true;
}
