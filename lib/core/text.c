/*
 * Words and BM25: the keyword side of memory search. Every backend that
 * searches memory records itself (the in-memory one, the core's fallback
 * over documents) splits text with cog_text_words, so a word means the same
 * thing in the text that was stored and in the query that looks for it.
 */
#include <math.h>
#include <string.h>

#include "core_int.h"

/* Bit 0: ASCII letter or digit (part of a word). Folding is done apart. */
static const unsigned char ascii_word[128] = {
	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1,
	['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
	['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
	['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1,
	['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
	['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
	['Y'] = 1, ['Z'] = 1,
	['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
	['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1,
	['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
	['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
	['y'] = 1, ['z'] = 1,
};

/* Length (2..4) of the well-formed non-ASCII UTF-8 character at p, or 0
 * when the bytes there are not one (overlong, surrogate, past U+10FFFF,
 * truncated, or a stray continuation byte). */
static size_t utf8_char_len(const unsigned char *p, size_t avail)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xBF;
	size_t need;
	if (c >= 0xC2 && c <= 0xDF) {
		need = 2;
	} else if (c >= 0xE0 && c <= 0xEF) {
		need = 3;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else {
		return 0;
	}
	if (avail < need || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t k = 2; k < need; k++)
		if ((p[k] & 0xC0) != 0x80)
			return 0;
	return need;
}

int cog_text_words(const char *text, size_t len, cog_text_word_fn fn, void *user_data)
{
	const unsigned char *p = (const unsigned char *)text;
	char word[COG_TEXT_WORD_MAX + 1];
	size_t n = 0;        /* bytes in word */
	bool in_word = false;
	bool full = false;   /* the word reached its cap: the rest of the run is cut */
	size_t i = 0;
	if (!text || !fn)
		return 0;
	while (i <= len) {
		size_t step = 1;
		bool part = false;
		if (i < len) {
			unsigned char c = p[i];
			if (c < 0x80) {
				part = ascii_word[c] != 0;
				if (part && !full) {
					if (n < COG_TEXT_WORD_MAX)
						word[n++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
					else
						full = true;
				}
			} else if ((step = utf8_char_len(p + i, len - i)) != 0) {
				part = true;
				if (!full) {
					if (n + step <= COG_TEXT_WORD_MAX) {
						memcpy(word + n, p + i, step);
						n += step;
					} else {
						full = true;
					}
				}
			} else {
				step = 1; /* not UTF-8: a separator */
			}
		}
		if (part) {
			in_word = true;
		} else if (in_word) {
			word[n] = '\0';
			int rc = fn(word, n, user_data);
			if (rc)
				return rc;
			n = 0;
			in_word = full = false;
		}
		i += step;
	}
	return 0;
}

double cog_text_bm25(double tf, double df, double n_docs, double doc_len, double avg_len)
{
	const double k1 = 1.2, b = 0.75;
	if (tf <= 0)
		return 0.0;
	double idf = log(1.0 + (n_docs - df + 0.5) / (df + 0.5));
	double ratio = avg_len > 0 ? doc_len / avg_len : 1.0;
	return idf * tf * (k1 + 1.0) / (tf + k1 * (1.0 - b + b * ratio));
}
