/* Validation of the keywords on numbers and strings (minimum, maximum,
 * exclusive bounds, multipleOf, minLength and maxLength in code points,
 * pattern, format) and the texts of type and value messages: the part of
 * validate.c that needs nothing but the instance and the op. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "schema_impl.h"

void validate_types_text(unsigned mask, char *out, size_t size)
{
	static const unsigned order[] = { T_NULL, T_BOOL, T_INT, T_NUM, T_STR, T_ARR, T_OBJ };
	out[0] = '\0';
	size_t len = 0;
	for (size_t i = 0; i < COG_ARRAY_LEN(order); i++) {
		unsigned bit = order[i];
		if (!(mask & bit) || (bit == T_INT && (mask & T_NUM)))
			continue;
		const char *name = bit == T_NUM ? "number" : type_name(bit);
		int n = snprintf(out + len, size - len, "%s%s", len ? " or " : "", name);
		if (n < 0 || (size_t)n >= size - len)
			return;
		len += (size_t)n;
	}
}

/* Short JSON text of a keyword's value for a message; false on OOM (then
 * a placeholder text). */
bool validate_value_text(const cJSON *value, char *out, size_t size)
{
	char *text = cog_json_print(value);
	snprintf(out, size, "%s", text ? text : "(the schema's value)");
	if (text && strlen(text) >= size && size > 4)
		memcpy(out + size - 4, "...", 4);
	cog_free(text);
	return text != NULL;
}

static size_t utf8_length(const char *s, size_t stop_after)
{
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p & 0xC0) != 0x80 && ++n > stop_after)
			break;
	return n;
}

static bool multiple_of(double x, double m)
{
	if (floor(m) == m) /* fmod is exact */
		return fmod(x, m) == 0;
	double q = x / m;
	if (!isfinite(q))
		return false;
	double r = nearbyint(q);
	if (r == 0)
		return x == 0;
	return fabs(q - r) <= fmax(1e-9, 8 * DBL_EPSILON * fabs(q));
}

/* The "%.17g" text of x into buf[32]: integers below 1e17 (the common
 * case) without going through printf, where %.17g prints them in full. */
static const char *number_text(double x, char *buf)
{
	if (!(fabs(x) < 1e17) || floor(x) != x || (x == 0 && signbit(x))) {
		snprintf(buf, 32, "%.17g", x);
		return buf;
	}
	char *end = buf + 31;
	*end = '\0';
	unsigned long long u = (unsigned long long)fabs(x);
	do {
		*--end = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (x < 0)
		*--end = '-';
	return end;
}

#if defined(__GNUC__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE
#endif

/* Failures and multipleOf are out of line: validate_number then needs no
 * stack frame on its passing path. */
static NOINLINE bool number_failed(vctx *v, const sop *op, const cJSON *inst,
                                   const ipath *p, const char *what)
{
	if (!report_quiet(v)) {
		char a[32], b[32];
		report(v, p, op->keyword, op->where, "%s is %s %s",
		       number_text(inst->valuedouble, a), what, number_text(op->u.num, b));
	}
	return false;
}

static NOINLINE bool check_multiple(vctx *v, const sop *op, const cJSON *inst,
                                    const ipath *p)
{
	if (multiple_of(inst->valuedouble, op->u.num))
		return true;
	return number_failed(v, op, inst, p, "not a multiple of");
}

bool validate_number(vctx *v, const sop *op, const cJSON *inst, const ipath *p)
{
	double x = inst->valuedouble, lim = op->u.num;
	const char *what = NULL;
	switch (op->kind) {
	case OP_MINIMUM: if (x < lim) what = "less than the minimum"; break;
	case OP_MAXIMUM: if (x > lim) what = "greater than the maximum"; break;
	case OP_EXMIN: if (x <= lim) what = "not greater than the exclusive minimum"; break;
	case OP_EXMAX: if (x >= lim) what = "not less than the exclusive maximum"; break;
	default: return check_multiple(v, op, inst, p);
	}
	if (!what)
		return true;
	return number_failed(v, op, inst, p, what);
}

bool validate_string(vctx *v, const sop *op, const cJSON *inst, const ipath *p)
{
	const char *s = inst->valuestring;
	switch (op->kind) {
	case OP_MINLEN: {
		size_t n = utf8_length(s, op->u.count);
		if (n >= op->u.count)
			return true;
		report(v, p, op->keyword, op->where, "string has %zu characters, at least %zu required",
		       n, op->u.count);
		return false;
	}
	case OP_MAXLEN: {
		size_t n = utf8_length(s, op->u.count);
		if (n <= op->u.count)
			return true;
		report(v, p, op->keyword, op->where, "string has more than %zu characters", op->u.count);
		return false;
	}
	case OP_PATTERN: {
		int rc = regex_search(op->u.pattern.re, s, strlen(s));
		if (rc == 1)
			return true;
		report(v, p, op->keyword, op->where, rc == 0 ? "string does not match the pattern \"%s\""
		                                             : "the pattern \"%s\" could not be evaluated",
		       op->u.pattern.source);
		return false;
	}
	default: /* OP_FORMAT */
		if (format_check(op->u.format, s))
			return true;
		report(v, p, op->keyword, op->where, "string is not a valid %s", format_name(op->u.format));
		return false;
	}
}

