/*
 * The built-in redaction rules: PCRE2 patterns compiled once per process,
 * the checks that a pattern alone cannot make (the Luhn digit of card
 * numbers, the mod-97 check digits of IBANs, how many digits a phone number
 * has), run as callouts so that PCRE2 backtracks to a shorter candidate
 * when a check fails, and a cheap scan that skips rules which cannot match.
 */
#include <string.h>
#include <strings.h>

#include "redact_int.h"

/* Neighbours that would make a match part of a longer word or number. */
#define ALNUM "A-Za-z0-9"
#define TOKEN "A-Za-z0-9_-"

static const char email_pattern[] =
	"(?<![\\p{L}\\p{N}._%+-])[\\p{L}\\p{N}._%+-]++"
	"@[\\p{L}\\p{N}](?:[\\p{L}\\p{N}-]*+\\.)+\\p{L}{2,63}+(?![\\p{L}\\p{N}-])";

/*
 * International numbers start with '+' and a country code; national ones
 * need a shape: an area code in parentheses, a trunk 0 with the same
 * separator between every group ("020 7946 0958", "06.12.34.56.78"), or
 * the North American 3-3-4. Digit runs are possessive, so a long number
 * splits into groups one way only and backtracking stays linear. A plain
 * run of digits (an id) is never a phone number; dates, versions and IPs
 * lack these shapes or the 9 digits (callouts 1 and 2). A national form
 * right after a group of two or more digits is part of a longer number
 * (the middle of an IBAN whose check digits are wrong).
 */
static const char phone_pattern[] =
	"(?<![\\w+])\\+[1-9]\\d*+(?:[ .-]?(?:\\(\\d{1,5}\\)[ .-]?)?\\d++)*"
	"(?!\\w|[.-]\\d)(?C1)"
	"|(?<![\\w.+/-])(?<!\\d\\d[ .-])"
	"(?:\\(\\d{2,5}\\)[ .-]?\\d{2,8}+(?:[ .-]\\d{2,8}+){0,3}"
	"|0\\d{1,4}+([ .-])\\d{2,8}+(?:\\1\\d{2,8}+){0,4}"
	"|\\d{3}([ .-])\\d{3}\\2\\d{4})"
	"(?!\\w|[.-]\\d)(?C2)";

/* 13-19 digits from a card network's first digit (2-6), with optional
 * single spaces or dashes; callout 3 checks the Luhn digit. */
static const char card_pattern[] =
	"(?<![" ALNUM "])[2-6](?:[ -]?\\d){12,18}(?![" ALNUM "])(?C3)";

/* Country, check digits, then up to 30 characters, compact or in groups
 * of four; callout 4 checks mod 97. */
static const char iban_pattern[] =
	"(?<![" ALNUM "])[A-Z]{2}\\d{2}"
	"(?:[A-Z0-9]{11,30}+|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,3})?)"
	"(?![" ALNUM "])(?C4)";

static const char api_key_pattern[] =
	"(?<![" TOKEN "])"
	"(?:sk-[" TOKEN "]{20,}"                 /* OpenAI, Anthropic (sk-ant-) */
	"|(?:AKIA|ASIA)[A-Z0-9]{16}"             /* AWS access key ids */
	"|gh[pousr]_[A-Za-z0-9]{30,}"            /* GitHub */
	"|github_pat_[A-Za-z0-9_]{30,}"
	"|xox[abprs]-[A-Za-z0-9-]{10,}"          /* Slack */
	"|AIza[" TOKEN "]{35})"                  /* Google */
	"(?![" TOKEN "])"
	/* the token of "Bearer <token>", not the word */
	"|(?<![A-Za-z])(?i:bearer)[ \\t]++\\K[A-Za-z0-9._~+/-]{16,}+=*+";

static const char jwt_pattern[] =
	"(?<![" TOKEN "])eyJ[" TOKEN "]{5,}+\\.[" TOKEN "]{5,}+\\.[" TOKEN "]*+"
	"(?![" TOKEN "])";

/* BEGIN through END (PEM, OpenSSH, PGP), scanned by possessive runs that
 * leave PCRE2 nothing to backtrack into (a lazy .*? needs stack per byte);
 * a key cut short, without its END line, goes from BEGIN through the lines
 * of base64 (real or JSON-escaped newlines) that follow. */
static const char private_key_pattern[] =
	"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
	"(?:(?:[^-]++|-(?!----END ))*+-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
	"|(?:(?:\\r?\\n|(?:\\\\r)?\\\\n)[A-Za-z0-9+/=:, -]*+)*+)";

static const struct {
	const char *name;
	const char *replacement;
	const char *pattern;
} builtin_source[COG_REDACT_BUILTINS] = {
	[COG_REDACT_EMAIL] = { "email", "[EMAIL]", email_pattern },
	[COG_REDACT_PHONE] = { "phone", "[PHONE]", phone_pattern },
	[COG_REDACT_CARD] = { "card", "[CARD]", card_pattern },
	[COG_REDACT_IBAN] = { "iban", "[IBAN]", iban_pattern },
	[COG_REDACT_API_KEY] = { "api_key", "[API_KEY]", api_key_pattern },
	[COG_REDACT_JWT] = { "jwt", "[JWT]", jwt_pattern },
	[COG_REDACT_PRIVATE_KEY] = { "private_key", "[PRIVATE_KEY]", private_key_pattern },
};

static cog_redact_rule builtins[COG_REDACT_BUILTINS];
static bool builtins_ok;
static pcre2_general_context *gctx;
static pcre2_match_context *builtin_mctx;
static pcre2_match_context *custom_mctx;
static pthread_once_t builtins_once = PTHREAD_ONCE_INIT;

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static size_t count_digits(const unsigned char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += is_digit(s[i]);
	return n;
}

static bool luhn_valid(const unsigned char *s, size_t len)
{
	unsigned int sum = 0;
	bool twice = false;
	for (size_t i = len; i-- > 0;) {
		if (!is_digit(s[i]))
			continue;
		unsigned int d = s[i] - '0';
		if (twice)
			d = d * 2 > 9 ? d * 2 - 9 : d * 2;
		sum += d;
		twice = !twice;
	}
	return sum % 10 == 0;
}

static unsigned int iban_value(unsigned char c)
{
	return is_digit(c) ? (unsigned int)(c - '0') : (unsigned int)(c - 'A') + 10;
}

/* ISO 13616: the first four characters move to the end, letters count as
 * 10..35, and the number must be 1 modulo 97. */
static bool iban_valid(const unsigned char *s, size_t len)
{
	unsigned char chars[34];
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ') {
			if (n == sizeof(chars))
				return false;
			chars[n++] = s[i];
		}
	if (n < 15)
		return false;
	unsigned int rest = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned int v = iban_value(chars[(i + 4) % n]);
		rest = (rest * (v > 9 ? 100 : 10) + v) % 97;
	}
	return rest == 1;
}

/* "01 02 2024 ...": day, month, four-digit year as the first groups. */
static bool starts_like_date(const unsigned char *s, size_t len)
{
	size_t group[3] = { 0, 0, 0 }, start[3] = { 0, 0, 0 }, g = 0;
	for (size_t i = 0; i < len && g < 3; i++) {
		if (is_digit(s[i])) {
			if (group[g] == 0)
				start[g] = i;
			group[g]++;
		} else if (group[g] > 0) {
			g++;
		}
	}
	if (group[0] < 1 || group[0] > 2 || group[1] < 1 || group[1] > 2 || group[2] != 4)
		return false;
	const unsigned char *year = s + start[2];
	return (year[0] == '1' && year[1] == '9') || (year[0] == '2' && year[1] == '0');
}

/* A non-zero return makes PCRE2 backtrack as if the pattern failed here. */
static int check_callout(pcre2_callout_block *block, void *data)
{
	(void)data;
	const unsigned char *s = block->subject + block->start_match;
	size_t len = block->current_position - block->start_match;
	size_t digits = count_digits(s, len);
	switch (block->callout_number) {
	case 1: { /* international phone: E.164 allows 15 digits, plus "(0)" */
		bool trunk = len >= 3 && memmem(s, len, "(0)", 3) != NULL;
		return digits >= 9 && digits <= 15u + trunk ? 0 : 1;
	}
	case 2: /* national phone, or international after 00 */
		return digits >= 9 && digits <= 15 && !starts_like_date(s, len) ? 0 : 1;
	case 3:
		return digits >= 13 && digits <= 19 && luhn_valid(s, len) ? 0 : 1;
	case 4:
		return iban_valid(s, len) ? 0 : 1;
	default:
		return 0;
	}
}

static void *pcre_alloc(size_t size, void *data)
{
	(void)data;
	return cog_malloc(size);
}

static void pcre_free(void *ptr, void *data)
{
	(void)data;
	cog_free(ptr);
}

/* Compiled once for the life of the process; read-only afterwards, so
 * every thread may match with them at once. */
static void compile_builtins(void)
{
	gctx = pcre2_general_context_create(pcre_alloc, pcre_free, NULL);
	builtin_mctx = pcre2_match_context_create(gctx);
	custom_mctx = pcre2_match_context_create(gctx);
	pcre2_compile_context *cctx = pcre2_compile_context_create(gctx);
	if (!gctx || !builtin_mctx || !custom_mctx || !cctx) {
		pcre2_compile_context_free(cctx);
		return;
	}
	pcre2_set_callout(builtin_mctx, check_callout, NULL);
	/* Ours are linear in the text: no limit that could let a long text
	 * through unredacted. */
	pcre2_set_match_limit(builtin_mctx, UINT32_MAX);
	/* The host's patterns run on text we do not choose: bound them. */
	pcre2_set_match_limit(custom_mctx, 1000000);
	bool ok = true;
	for (size_t i = 0; i < COG_REDACT_BUILTINS; i++) {
		int err;
		PCRE2_SIZE offset;
		cog_redact_rule *r = &builtins[i];
		r->name = builtin_source[i].name;
		r->replacement = builtin_source[i].replacement;
		r->replacement_len = strlen(r->replacement);
		r->re = pcre2_compile((PCRE2_SPTR)builtin_source[i].pattern,
			PCRE2_ZERO_TERMINATED, PCRE2_UTF, &err, &offset, cctx);
		if (!r->re) {
			ok = false;
			continue;
		}
		pcre2_jit_compile(r->re, PCRE2_JIT_COMPLETE); /* a speed-up if present */
	}
	pcre2_compile_context_free(cctx);
	builtins_ok = ok;
}

const cog_redact_rule *cog__redact_builtins(void)
{
	pthread_once(&builtins_once, compile_builtins);
	return builtins_ok ? builtins : NULL;
}

pcre2_match_context *cog__redact_builtin_mctx(void)
{
	return builtin_mctx;
}

pcre2_match_context *cog__redact_custom_mctx(void)
{
	pthread_once(&builtins_once, compile_builtins);
	return custom_mctx;
}

pcre2_general_context *cog__redact_gctx(void)
{
	pthread_once(&builtins_once, compile_builtins);
	return gctx;
}

static bool has_at(const char *s, size_t len, size_t i, const char *word)
{
	size_t n = strlen(word);
	return len - i >= n && memcmp(s + i, word, n) == 0;
}

static bool upper(unsigned char c)
{
	return c >= 'A' && c <= 'Z';
}

unsigned int cog__redact_candidates(const char *text, size_t len)
{
	const unsigned char *s = (const unsigned char *)text;
	unsigned int bits = 0;
	size_t digits = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = s[i];
		if (is_digit(c)) {
			digits++;
			continue;
		}
		switch (c) {
		case '@':
			bits |= 1u << COG_REDACT_EMAIL;
			break;
		case '-':
			if (has_at(text, len, i, "-----BEGIN "))
				bits |= 1u << COG_REDACT_PRIVATE_KEY;
			break;
		case 'e':
			if (has_at(text, len, i, "eyJ"))
				bits |= 1u << COG_REDACT_JWT;
			break;
		case 's':
			if (has_at(text, len, i, "sk-"))
				bits |= 1u << COG_REDACT_API_KEY;
			break;
		case 'g':
			if ((len - i >= 4 && s[i + 1] == 'h' && s[i + 2] && strchr("pousr", s[i + 2]) &&
			     s[i + 3] == '_') || has_at(text, len, i, "github_pat_"))
				bits |= 1u << COG_REDACT_API_KEY;
			break;
		case 'x':
			if (has_at(text, len, i, "xox"))
				bits |= 1u << COG_REDACT_API_KEY;
			break;
		case 'b':
		case 'B':
			if (len - i >= 6 && strncasecmp(text + i + 1, "earer", 5) == 0)
				bits |= 1u << COG_REDACT_API_KEY;
			break;
		case 'A':
			if (has_at(text, len, i, "AKIA") || has_at(text, len, i, "ASIA") ||
			    has_at(text, len, i, "AIza"))
				bits |= 1u << COG_REDACT_API_KEY;
			break;
		default:
			break;
		}
		if (upper(c) && len - i >= 4 && upper(s[i + 1]) && is_digit(s[i + 2]) &&
		    is_digit(s[i + 3]))
			bits |= 1u << COG_REDACT_IBAN;
	}
	if (digits >= 9)
		bits |= 1u << COG_REDACT_PHONE;
	if (digits >= 13)
		bits |= 1u << COG_REDACT_CARD;
	return bits;
}
