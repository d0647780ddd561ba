/*
 * What an HTTP error answer of a provider means: the cog status for its
 * HTTP status (see cog_llm_vtable: the router retries on what these say),
 * the provider's own words for the message, and how long it asked us to
 * wait (Retry-After, RFC 9110 section 10.2.3, or OpenAI's retry-after-ms).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "provider_int.h"

#define RETRY_CAP_MS 3600000u
#define MESSAGE_MAX 300

/* ---- Retry-After ---- */

/* A non-negative decimal ("2", "1.5") in units of `scale` ms; false for
 * anything else. */
static bool parse_delay(const char *s, double scale, double *ms)
{
	while (*s == ' ' || *s == '\t')
		s++;
	double v = 0;
	bool any = false;
	for (; isdigit((unsigned char)*s); s++, any = true)
		v = v < 1e12 ? v * 10 + (*s - '0') : v;
	if (*s == '.') {
		double f = 0.1;
		for (s++; isdigit((unsigned char)*s); s++, f /= 10, any = true)
			v += (*s - '0') * f;
	}
	while (*s == ' ' || *s == '\t')
		s++;
	if (!any || *s)
		return false;
	*ms = v * scale;
	return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int month_number(const char *name)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	for (int i = 0; i < 12; i++)
		if (strncmp(name, months + 3 * i, 3) == 0 && name[3] == '\0')
			return i + 1;
	return 0;
}

/* The three HTTP-date forms recipients must accept: IMF-fixdate
 * "Sun, 06 Nov 1994 08:49:37 GMT", RFC 850 "Sunday, 06-Nov-94 08:49:37
 * GMT" and asctime "Sun Nov  6 08:49:37 1994". Unix ms, or -1. */
static int64_t parse_http_date(const char *s)
{
	char wday[16], mon[4];
	int d, y, hh, mm, ss, end = 0;
	if (sscanf(s, "%15[A-Za-z], %2d %3s %4d %2d:%2d:%2d GMT%n",
	           wday, &d, mon, &y, &hh, &mm, &ss, &end) == 7 && end) {
		/* IMF-fixdate */
	} else if (end = 0, sscanf(s, "%15[A-Za-z], %2d-%3s-%2d %2d:%2d:%2d GMT%n",
	           wday, &d, mon, &y, &hh, &mm, &ss, &end) == 7 && end) {
		y += y < 70 ? 2000 : 1900;
	} else if (end = 0, sscanf(s, "%3s %3s %2d %2d:%2d:%2d %4d%n",
	           wday, mon, &d, &hh, &mm, &ss, &y, &end) == 7 && end) {
		/* asctime */
	} else {
		return -1;
	}
	while (s[end] == ' ' || s[end] == '\t')
		end++;
	int m = month_number(mon);
	if (s[end] || !m || d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 60 ||
	    y < 1970 || hh < 0 || mm < 0 || ss < 0)
		return -1;
	return (days_from_civil(y, m, d) * 86400 + hh * 3600 + mm * 60 + ss) * 1000;
}

unsigned int llm_retry_after_ms(const char *retry_after, const char *retry_after_ms,
                                int64_t now_unix_ms)
{
	double ms = -1;
	if (retry_after_ms && !parse_delay(retry_after_ms, 1, &ms))
		ms = -1;
	if (ms < 0 && retry_after && !parse_delay(retry_after, 1000, &ms)) {
		int64_t when = parse_http_date(retry_after);
		ms = when < 0 ? -1 : (double)(when - now_unix_ms);
	}
	if (ms <= 0)
		return 0;
	if (ms >= RETRY_CAP_MS)
		return RETRY_CAP_MS;
	return (unsigned int)(ms + 0.999);
}

/* ---- error answers ---- */

static int status_code(int http_status)
{
	switch (http_status) {
	case 401: case 403:
		return COG_EDENIED;
	case 408:
		return COG_ETIMEOUT;
	case 429:
		return COG_EBUSY;
	default:
		if (http_status >= 500 && http_status <= 599)
			return COG_EUNAVAILABLE;
		if (http_status >= 400 && http_status <= 499)
			return COG_EINVAL;
		return COG_EPROTO;    /* 1xx, 3xx: not what a provider answers */
	}
}

/* The provider's words: its error message if the body is JSON that has
 * one, else the start of the body. A copy (cog_free), or NULL. */
static char *provider_text(const llm_provider *p, const char *body, size_t len)
{
	if (len > ((size_t)64 << 10))
		len = (size_t)64 << 10;
	char *text = cog_utf8_lossy(body, len);
	if (!text)
		return NULL;
	cJSON *answer = NULL;
	const char *said = NULL;
	if (p->wire->error_message && cog_json_validate(text, strlen(text), "error") == COG_OK) {
		cog__json_init();
		answer = cJSON_Parse(text);
		said = answer ? p->wire->error_message(answer) : NULL;
	}
	cog_error_clear();
	char *out = cog__strdup(said ? said : text);
	cJSON_Delete(answer);
	cog_free(text);
	return out;
}

/* One line of at most MESSAGE_MAX bytes, cut at a character boundary. */
static void tidy(char *text)
{
	size_t w = 0;
	bool space = true;
	for (size_t r = 0; text[r]; r++) {
		unsigned char c = (unsigned char)text[r];
		if (c < 0x20 || c == 0x7F || c == ' ') {
			if (!space)
				text[w++] = ' ';
			space = true;
		} else {
			text[w++] = (char)c;
			space = false;
		}
	}
	while (w > 0 && text[w - 1] == ' ')
		w--;
	if (w > MESSAGE_MAX) {
		w = MESSAGE_MAX;
		while (w > 0 && ((unsigned char)text[w] & 0xC0) == 0x80)
			w--;
	}
	text[w] = '\0';
}

int llm_http_error(const llm_provider *p, int http_status, const char *body,
                   size_t body_len)
{
	int code = status_code(http_status);
	/* The key, should the provider quote it, is masked in every failure's
	 * message by provider_chat.c. */
	char *raw = provider_text(p, body ? body : "", body ? body_len : 0);
	char *text = raw ? cog__redact_text(raw) : NULL;
	cog_free(raw);
	if (text)
		tidy(text);
	int rc;
	if (text && *text)
		rc = cog__error(code, "%s: HTTP %d: %s", p->wire->name, http_status, text);
	else
		rc = cog__error(code, "%s: HTTP %d (%s)", p->wire->name, http_status,
			text ? "no error message" : "out of memory for the message");
	cog_free(text);
	return rc;
}
