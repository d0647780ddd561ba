/*
 * cog_json_print: compact JSON text of a cJSON tree, byte for byte what
 * cJSON_PrintUnformatted (cJSON 1.7.15) prints, written straight into a
 * cog_buf. The journal and audit hash chains hash printed bytes, so the
 * output must not change: tests/unit/core/test_json_print.c compares the
 * two on random trees.
 *
 * What differs is the cost of numbers: cJSON formats every finite number
 * with sprintf("%1.15g") and reads it back with sscanf to see whether 15
 * digits were enough (else "%1.17g"). An integral value below 10^15 prints as
 * its digits under "%1.15g" (the exponent is below the precision, and the
 * value is exact), so those are written with an integer formatter here,
 * and so are short decimals (put_short_decimal); every other number goes
 * the way cJSON goes.
 */
#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_int.h"

/* Deeper trees are left to cJSON (whose recursion they share). */
#define MAX_DEPTH 256

static void put_int(cog_buf *b, long long v)
{
	char digits[24];
	size_t n = sizeof(digits);
	unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
	do {
		digits[--n] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		digits[--n] = '-';
	cog_buf_put(b, digits + n, sizeof(digits) - n);
}

/* cJSON's test that 15 digits read back: equal within a relative
 * DBL_EPSILON. */
static bool close_enough(double a, double b)
{
	double max = fabs(a) > fabs(b) ? fabs(a) : fabs(b);
	return fabs(a - b) <= max * DBL_EPSILON;
}

/* A short decimal: |d| in [10^-4, 10^6) the double nearest m / 10^k for
 * some k <= 9 (so m < 10^15: at most 15 significant digits). Rounding d
 * to 15 significant digits gives back m / 10^k exactly (d is within a
 * relative 2^-53 of it, far below half a unit in the 15th digit), "%1.15g"
 * writes it in fixed notation (the exponent is between -4 and 14) without
 * trailing zeros, and it reads back as d: so that text, written here with
 * integer arithmetic. Temperatures, probabilities, latencies in ms. */
static bool put_short_decimal(cog_buf *b, double d)
{
	double a = fabs(d), scale = 1;
	if (!(a >= 1e-4 && a < 1e6))
		return false;
	for (int k = 1; k <= 9; k++) {
		scale *= 10;
		double m = nearbyint(a * scale);
		if (m / scale != a)
			continue;
		unsigned long long u = (unsigned long long)m, p = (unsigned long long)scale;
		char frac[10];
		int n = 0;
		for (unsigned long long f = u % p, q = p / 10; q > 0; q /= 10)
			frac[n++] = (char)('0' + f / q % 10);
		while (n > 0 && frac[n - 1] == '0')
			n--;
		if (d < 0)
			cog_buf_putc(b, '-');
		put_int(b, (long long)(u / p));
		if (n > 0) {
			cog_buf_putc(b, '.');
			cog_buf_put(b, frac, (size_t)n);
		}
		return true;
	}
	return false;
}

static bool put_number(cog_buf *b, const cJSON *item)
{
	double d = item->valuedouble;
	if (isnan(d) || isinf(d)) {
		cog_buf_put(b, "null", 4);
		return true;
	}
	/* -0 prints "-0" under "%1.15g". */
	if (d == floor(d) && fabs(d) < 1e15 && !(d == 0 && signbit(d))) {
		put_int(b, (long long)d);
		return true;
	}
	if (put_short_decimal(b, d))
		return true;
	/* Read back with strtod, which is what sscanf's %lg does (minus the
	 * stream set-up; a printed finite number always converts). */
	char text[26];
	int n = snprintf(text, sizeof(text), "%1.15g", d);
	if (n < 0 || n > (int)sizeof(text) - 1 || !close_enough(strtod(text, NULL), d))
		n = snprintf(text, sizeof(text), "%1.17g", d);
	if (n < 0 || n > (int)sizeof(text) - 1)
		return false;
	/* The locale's decimal point, as cJSON does, becomes '.'. */
	const struct lconv *lc = localeconv();
	char point = lc && lc->decimal_point ? lc->decimal_point[0] : '.';
	for (int i = 0; point != '.' && i < n; i++)
		if (text[i] == point)
			text[i] = '.';
	cog_buf_put(b, text, (size_t)n);
	return true;
}

/* A string as cJSON writes it: ", \ and the short escapes escaped, other
 * bytes below 0x20 as \u00xx (lowercase hex), everything else as it is;
 * a NULL string is "". */
static void put_string(cog_buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	cog_buf_putc(b, '"');
	if (s) {
		const char *run = s;
		for (const char *c = s; *c; c++) {
			unsigned char u = (unsigned char)*c;
			if (u > 31 && u != '"' && u != '\\')
				continue;
			cog_buf_put(b, run, (size_t)(c - run));
			run = c + 1;
			char esc[6] = { '\\', 0 };
			size_t n = 2;
			switch (u) {
			case '"': esc[1] = '"'; break;
			case '\\': esc[1] = '\\'; break;
			case '\b': esc[1] = 'b'; break;
			case '\f': esc[1] = 'f'; break;
			case '\n': esc[1] = 'n'; break;
			case '\r': esc[1] = 'r'; break;
			case '\t': esc[1] = 't'; break;
			default:
				memcpy(esc + 1, "u00", 3);
				esc[4] = hex[u >> 4];
				esc[5] = hex[u & 15];
				n = 6;
			}
			cog_buf_put(b, esc, n);
		}
		cog_buf_put(b, run, strlen(run));
	}
	cog_buf_putc(b, '"');
}

/* False where cJSON would fail the whole print (unknown type, raw without
 * text, a number it cannot format) or the tree is too deep for us. */
static bool put_value(cog_buf *b, const cJSON *item, int depth)
{
	if (depth > MAX_DEPTH)
		return false;
	switch (item->type & 0xFF) {
	case cJSON_NULL:
		cog_buf_put(b, "null", 4);
		return true;
	case cJSON_False:
		cog_buf_put(b, "false", 5);
		return true;
	case cJSON_True:
		cog_buf_put(b, "true", 4);
		return true;
	case cJSON_Number:
		return put_number(b, item);
	case cJSON_Raw:
		if (!item->valuestring)
			return false;
		cog_buf_puts(b, item->valuestring);
		return true;
	case cJSON_String:
		put_string(b, item->valuestring);
		return true;
	case cJSON_Array:
	case cJSON_Object: {
		bool object = (item->type & 0xFF) == cJSON_Object;
		cog_buf_putc(b, object ? '{' : '[');
		for (const cJSON *c = item->child; c; c = c->next) {
			if (object) {
				put_string(b, c->string);
				cog_buf_putc(b, ':');
			}
			if (!put_value(b, c, depth + 1))
				return false;
			if (c->next)
				cog_buf_putc(b, ',');
		}
		cog_buf_putc(b, object ? '}' : ']');
		return true;
	}
	default:
		return false;
	}
}

/* What cJSON itself prints, in cog_malloc memory (the fallback). */
static char *print_with_cjson(const cJSON *item)
{
	char *text = cJSON_PrintUnformatted(item);
	if (!text)
		return NULL;
	/* cJSON allocates with its hooks; hand the caller cog_malloc memory. */
	if (cog__allocator_is_custom())
		return text;
	char *copy = cog__strdup(text);
	cJSON_free(text);
	return copy;
}

char *cog_json_print(const cJSON *item)
{
	cog__json_init();
	char *text = NULL;
	if (item) {
		cog_buf b = COG_BUF_INIT;
		cog_buf_reserve(&b, 255);
		if (put_value(&b, item, 0))
			text = cog_buf_detach(&b);
		else
			text = (cog_buf_dispose(&b), print_with_cjson(item));
	}
	if (!text)
		cog__oom("json print");
	return text;
}

int cog__json_print_into(cog_buf *b, const cJSON *item)
{
	cog__json_init();
	size_t mark = b->len;
	if (!item)
		return COG_EINVAL;
	if (put_value(b, item, 0))
		return b->failed ? COG_ENOMEM : COG_OK;
	b->len = mark;
	char *text = print_with_cjson(item);
	if (!text)
		return COG_ENOMEM;
	int rc = cog_buf_puts(b, text);
	cog_free(text);
	return rc;
}

void cog__json_put_string(cog_buf *b, const char *s)
{
	put_string(b, s);
}
