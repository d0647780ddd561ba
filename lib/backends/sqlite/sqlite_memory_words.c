/*
 * The user's match text as an FTS5 expression that can mean nothing else.
 *
 * The text is never handed to FTS5's query syntax: it is split into words
 * by the rule of the core's cog_text_words (runs of ASCII letters and
 * digits and of non-ASCII UTF-8 characters; bytes that are not UTF-8 and
 * all other ASCII separate words; words cut at 64 bytes on a character
 * boundary), and each distinct word becomes a quoted FTS5 string ("..."
 * with any '"' doubled). FTS5 then tokenizes inside the quotes with the
 * index's own tokenizer, so "Café" finds "cafe", and a word that holds
 * Unicode punctuation becomes a phrase. A word that was cut matches as a
 * prefix ("..." *): the index holds the whole word.
 *
 * At most SQLMEM_QUERY_WORDS_MAX (256) distinct words of a match text take
 * part: the first 256 distinct words in the order of the text; later new
 * words are ignored. A longer query would cost the FTS5 OR and the
 * ranking that much more per row for little gain in what it finds.
 */
#include <stdlib.h>
#include <string.h>

#include "sqlite_memory_int.h"

typedef sqlmem_word word;
typedef sqlmem_words word_list;

/* Bytes in the well-formed UTF-8 character at p[0..n), or 0 if there is
 * none (a stray continuation byte, an overlong form, a surrogate, a value
 * past U+10FFFF, or a truncated sequence). p[0] >= 0x80. */
static size_t utf8_char(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];
	size_t len;
	unsigned char lo = 0x80, hi = 0xBF;   /* range of the second byte */
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else {
		return 0;
	}
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xBF)
			return 0;
	return len;
}

static bool ascii_alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		(c >= 'A' && c <= 'Z');
}

static int push_word(word_list *l, const char *text, size_t len, bool cut)
{
	if (l->count == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		word *bigger = cog_realloc(l->items, cap * sizeof(*bigger));
		if (!bigger)
			return COG_ENOMEM;
		l->items = bigger;
		l->cap = cap;
	}
	l->items[l->count] = (word){ text, len, cut, l->count };
	l->count++;
	return COG_OK;
}

/* Split the lower-cased copy `t` (ASCII folded in place) into words. */
static int split(char *t, size_t n, word_list *out)
{
	size_t i = 0;
	while (i < n) {
		size_t start = i, kept = 0;
		bool cut = false;
		for (;;) {
			if (i >= n)
				break;
			unsigned char c = (unsigned char)t[i];
			size_t step = c < 0x80 ? (ascii_alnum(c) ? 1 : 0) :
				utf8_char((const unsigned char *)t + i, n - i);
			if (step == 0)
				break;
			if (c >= 'A' && c <= 'Z')
				t[i] = (char)(c - 'A' + 'a');
			if (!cut && kept + step <= SQLMEM_WORD_MAX)
				kept += step;
			else
				cut = true;
			i += step;
		}
		if (kept > 0 && push_word(out, t + start, kept, cut))
			return COG_ENOMEM;
		if (i == start)
			i++;   /* a separator */
	}
	return COG_OK;
}

static int compare_words(const void *a, const void *b)
{
	const word *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->text, y->text, n);
	if (c != 0)
		return c;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return (int)x->cut - (int)y->cut;
}

/* First in the text first. */
static int compare_at(const void *a, const void *b)
{
	const word *x = a, *y = b;
	return x->at < y->at ? -1 : x->at > y->at;
}

/* Words equal, the first in the text first. */
static int compare_words_at(const void *a, const void *b)
{
	int c = compare_words(a, b);
	return c ? c : compare_at(a, b);
}

void sqlmem_append_word(sqlite3_str *out, const sqlmem_word *w)
{
	sqlite3_str_appendchar(out, 1, '"');
	for (size_t i = 0; i < w->len; i++) {
		if (w->text[i] == '"')
			sqlite3_str_appendchar(out, 1, '"');
		sqlite3_str_appendchar(out, 1, w->text[i]);
	}
	sqlite3_str_appendchar(out, 1, '"');
	if (w->cut)
		sqlite3_str_appendall(out, " *");
}

int sqlmem_words_split(sqlmem_words *l, const char *text, size_t len)
{
	memset(l, 0, sizeof(*l));
	l->copy = cog_malloc(len + 1);
	if (!l->copy)
		return COG_ENOMEM;
	memcpy(l->copy, text, len);
	l->copy[len] = '\0';
	int rc = split(l->copy, len, l);
	if (rc != COG_OK || l->count == 0)
		return rc;
	/* Each distinct word once, at its first place in the text: a
	 * repeated word is one term of the query, not a heavier one. */
	qsort(l->items, l->count, sizeof(*l->items), compare_words_at);
	size_t n = 1;
	for (size_t i = 1; i < l->count; i++)
		if (compare_words(&l->items[n - 1], &l->items[i]) != 0)
			l->items[n++] = l->items[i];
	if (n > SQLMEM_QUERY_WORDS_MAX) {
		qsort(l->items, n, sizeof(*l->items), compare_at);
		n = SQLMEM_QUERY_WORDS_MAX;
		qsort(l->items, n, sizeof(*l->items), compare_words);
	}
	l->count = n;
	return COG_OK;
}

void sqlmem_words_dispose(sqlmem_words *l)
{
	cog_free(l->items);
	cog_free(l->copy);
	memset(l, 0, sizeof(*l));
}

/* The tags come first in a keyword search's expression: cog_bm25 skips
 * them. */
void sqlmem_append_tags(sqlite3_str *out, const cog_storage_memory_query *q)
{
	sqlite3_str_appendall(out, "ns_tag : (");
	for (size_t i = 0; i < q->ns_count; i++) {
		sqlite3_str_appendall(out, i ? " OR \"" : "\"");
		for (const unsigned char *p = (const unsigned char *)q->ns[i]; *p; p++)
			sqlite3_str_appendf(out, "%02X", *p);
		sqlite3_str_appendchar(out, 1, '"');
	}
	sqlite3_str_appendchar(out, 1, ')');
}
