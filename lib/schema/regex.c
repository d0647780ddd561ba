/* "pattern" and "patternProperties": PCRE2 in UTF mode with the ECMA-262
 * spellings it offers (\uXXXX, \u{...}, $ only at the very end), compiled
 * once with the schema (JIT when available). Matching needs scratch space:
 * one pcre2_match_data per thread, kept in a thread-specific slot, so a
 * shared schema has no mutable state and valid instances allocate nothing. */
#include <pthread.h>
#include <string.h>

#include "schema_impl.h"

static pthread_once_t regex_once = PTHREAD_ONCE_INIT;
static pthread_key_t match_key;
static bool match_key_ok;
static pcre2_general_context *regex_memory; /* routes PCRE2 to cog_malloc */

static void *regex_malloc(PCRE2_SIZE size, void *unused)
{
	(void)unused;
	return cog_malloc(size);
}

static void regex_free(void *ptr, void *unused)
{
	(void)unused;
	cog_free(ptr);
}

static void free_match_data(void *md)
{
	pcre2_match_data_free(md);
}

static void regex_init(void)
{
	regex_memory = pcre2_general_context_create(regex_malloc, regex_free, NULL);
	match_key_ok = pthread_key_create(&match_key, free_match_data) == 0;
}

/* ECMA-262 spells Unicode general categories by their long names
 * (\p{Letter}); this PCRE2 knows the short ones. */
static const struct { const char *name, *abbrev; } categories[] = {
	{ "Letter", "L" }, { "Cased_Letter", "L&" }, { "Uppercase_Letter", "Lu" },
	{ "Lowercase_Letter", "Ll" }, { "Titlecase_Letter", "Lt" },
	{ "Modifier_Letter", "Lm" }, { "Other_Letter", "Lo" }, { "Mark", "M" },
	{ "Combining_Mark", "M" }, { "Nonspacing_Mark", "Mn" },
	{ "Spacing_Mark", "Mc" }, { "Enclosing_Mark", "Me" }, { "Number", "N" },
	{ "Decimal_Number", "Nd" }, { "digit", "Nd" }, { "Letter_Number", "Nl" },
	{ "Other_Number", "No" }, { "Punctuation", "P" }, { "punct", "P" },
	{ "Connector_Punctuation", "Pc" }, { "Dash_Punctuation", "Pd" },
	{ "Open_Punctuation", "Ps" }, { "Close_Punctuation", "Pe" },
	{ "Initial_Punctuation", "Pi" }, { "Final_Punctuation", "Pf" },
	{ "Other_Punctuation", "Po" }, { "Symbol", "S" }, { "Math_Symbol", "Sm" },
	{ "Currency_Symbol", "Sc" }, { "Modifier_Symbol", "Sk" },
	{ "Other_Symbol", "So" }, { "Separator", "Z" }, { "Space_Separator", "Zs" },
	{ "Line_Separator", "Zl" }, { "Paragraph_Separator", "Zp" },
	{ "Other", "C" }, { "Control", "Cc" }, { "cntrl", "Cc" }, { "Format", "Cf" },
	{ "Surrogate", "Cs" }, { "Private_Use", "Co" }, { "Unassigned", "Cn" },
};

static const char *category_abbrev(const char *name, size_t len)
{
	static const char *const prefixes[] = { "General_Category=", "gc=", "Script=", "sc=" };
	for (size_t i = 0; i < COG_ARRAY_LEN(prefixes); i++) {
		size_t plen = strlen(prefixes[i]);
		if (len > plen && strncmp(name, prefixes[i], plen) == 0) {
			name += plen;
			len -= plen;
			break;
		}
	}
	for (size_t i = 0; i < COG_ARRAY_LEN(categories); i++)
		if (strlen(categories[i].name) == len && strncmp(categories[i].name, name, len) == 0)
			return categories[i].abbrev;
	return NULL;
}

/* A copy of source with \p{Long_Name} rewritten (cog_malloc'd). */
static char *translate_pattern(const char *source)
{
	cog_buf out = COG_BUF_INIT;
	for (const char *p = source; *p; p++) {
		if (p[0] == '\\' && (p[1] == 'p' || p[1] == 'P') && p[2] == '{') {
			const char *end = strchr(p + 3, '}');
			const char *abbrev = end ? category_abbrev(p + 3, (size_t)(end - p - 3)) : NULL;
			if (abbrev) {
				cog_buf_printf(&out, "\\%c{%s}", p[1], abbrev);
				p = end;
				continue;
			}
		}
		if (p[0] == '\\' && p[1]) /* keep escapes whole: \\p is not \p */
			cog_buf_putc(&out, *p++);
		cog_buf_putc(&out, *p);
	}
	return cog_buf_detach(&out);
}

int regex_compile(cog_schema *s, const char *source, const char *where,
                  pcre2_code **out)
{
	pthread_once(&regex_once, regex_init);
	char *pattern = translate_pattern(source);
	if (!pattern)
		return cog__oom("schema pattern");
	pcre2_compile_context *cctx = pcre2_compile_context_create(regex_memory);
	if (!cctx) {
		cog_free(pattern);
		return cog__oom("schema pattern");
	}
#ifdef PCRE2_EXTRA_ALT_BSUX
	pcre2_set_compile_extra_options(cctx, PCRE2_EXTRA_ALT_BSUX);
#endif
	int errcode;
	PCRE2_SIZE erroffset;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
	                               PCRE2_UTF | PCRE2_ALT_BSUX | PCRE2_DOLLAR_ENDONLY,
	                               &errcode, &erroffset, cctx);
	pcre2_compile_context_free(cctx);
	cog_free(pattern);
	if (!re) {
		if (errcode == PCRE2_ERROR_NOMEMORY)
			return cog__oom("schema pattern");
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(errcode, msg, sizeof(msg));
		return cog__error(COG_EINVAL, "schema: %s: bad regular expression at offset %zu: %s",
		                  where, (size_t)erroffset, (const char *)msg);
	}
	pcre2_code **list = cog_realloc(s->regexes, (s->nregexes + 1) * sizeof(*list));
	if (!list) {
		pcre2_code_free(re);
		return cog__oom("schema pattern");
	}
	s->regexes = list;
	s->regexes[s->nregexes++] = re;
	(void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* the interpreter is fine too */
	*out = re;
	return 0;
}

static pcre2_match_data *thread_match_data(void)
{
	if (!match_key_ok)
		return NULL;
	pcre2_match_data *md = pthread_getspecific(match_key);
	if (md)
		return md;
	md = pcre2_match_data_create(1, regex_memory);
	if (md && pthread_setspecific(match_key, md) != 0) {
		pcre2_match_data_free(md);
		md = NULL;
	}
	return md;
}

int regex_search(const pcre2_code *re, const char *subject, size_t len)
{
	pcre2_match_data *md = thread_match_data();
	if (!md) {
		cog__oom("schema pattern");
		return -1;
	}
	int rc = pcre2_match(re, (PCRE2_SPTR)subject, len, 0, 0, md, NULL);
	if (rc >= 0)
		return 1;
	if (rc == PCRE2_ERROR_NOMATCH)
		return 0;
	PCRE2_UCHAR msg[256];
	pcre2_get_error_message(rc, msg, sizeof(msg));
	cog__error(COG_ERROR, "schema: pattern matching failed: %s", (const char *)msg);
	return -1;
}
