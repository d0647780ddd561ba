/* The "format" values asserted under COG_SCHEMA_FORMAT_ASSERT: date-time,
 * date and time (RFC 3339), email (RFC 5321 mailbox, simplified), uri
 * (RFC 3986 absolute URI), uuid (RFC 4122 text form), ipv4 and ipv6. */
#include <arpa/inet.h>
#include <string.h>

#include "schema_impl.h"

static const char *const format_names[] = {
	[FMT_DATE_TIME] = "date-time", [FMT_DATE] = "date", [FMT_TIME] = "time",
	[FMT_EMAIL] = "email", [FMT_URI] = "uri", [FMT_UUID] = "uuid",
	[FMT_IPV4] = "ipv4", [FMT_IPV6] = "ipv6",
};

int format_lookup(const char *name)
{
	for (size_t i = 0; i < COG_ARRAY_LEN(format_names); i++)
		if (strcmp(format_names[i], name) == 0)
			return (int)i;
	return -1;
}

const char *format_name(int format)
{
	return format_names[format];
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static bool is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* `n` digits at *s as a number, advancing; -1 if they are not digits. */
static int digits(const char **s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!is_digit((*s)[i]))
			return -1;
		v = v * 10 + ((*s)[i] - '0');
	}
	*s += n;
	return v;
}

static bool parse_date(const char **s)
{
	static const int days[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y = digits(s, 4);
	if (y < 0 || *(*s)++ != '-')
		return false;
	int m = digits(s, 2);
	if (m < 1 || m > 12 || *(*s)++ != '-')
		return false;
	int d = digits(s, 2);
	if (d < 1 || d > days[m - 1])
		return false;
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return !(m == 2 && d == 29 && !leap);
}

static bool parse_time(const char **s)
{
	int h = digits(s, 2);
	if (h < 0 || h > 23 || *(*s)++ != ':')
		return false;
	int mi = digits(s, 2);
	if (mi < 0 || mi > 59 || *(*s)++ != ':')
		return false;
	int sec = digits(s, 2);
	if (sec < 0 || sec > 60)
		return false;
	if (**s == '.') {
		(*s)++;
		if (!is_digit(**s))
			return false;
		while (is_digit(**s))
			(*s)++;
	}
	int offset = 0;
	if (**s == 'Z' || **s == 'z') {
		(*s)++;
	} else if (**s == '+' || **s == '-') {
		int sign = **s == '+' ? 1 : -1;
		(*s)++;
		int oh = digits(s, 2);
		if (oh < 0 || oh > 23 || *(*s)++ != ':')
			return false;
		int om = digits(s, 2);
		if (om < 0 || om > 59)
			return false;
		offset = sign * (oh * 60 + om);
	} else {
		return false;
	}
	if (sec == 60) { /* a leap second happens at 23:59:60 UTC only */
		int utc = ((h * 60 + mi - offset) % 1440 + 1440) % 1440;
		if (utc != 23 * 60 + 59)
			return false;
	}
	return true;
}

static bool check_date_time(const char *s, int which)
{
	if (which != FMT_TIME && !parse_date(&s))
		return false;
	if (which == FMT_DATE_TIME) {
		if (*s != 'T' && *s != 't')
			return false;
		s++;
	}
	if (which != FMT_DATE && !parse_time(&s))
		return false;
	return *s == '\0';
}

static bool check_hostname(const char *s, size_t len)
{
	if (len == 0 || len > 253)
		return false;
	size_t label = 0;
	for (size_t i = 0; i <= len; i++) {
		char c = i < len ? s[i] : '.';
		if (c == '.') {
			if (label == 0 || label > 63 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!is_alpha(c) && !is_digit(c) && c != '-')
			return false;
		if (label == 0 && c == '-')
			return false;
		label++;
	}
	return true;
}

static bool check_ip(const char *s, size_t len, int family)
{
	char buf[64];
	unsigned char out[16];
	if (len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return inet_pton(family, buf, out) == 1;
}

static bool check_ipv4(const char *s)
{
	int parts = 0;
	while (parts < 4) {
		if (!is_digit(*s) || (s[0] == '0' && is_digit(s[1])))
			return false;
		int v = 0, n = 0;
		while (is_digit(*s) && n < 4) {
			v = v * 10 + (*s++ - '0');
			n++;
		}
		if (v > 255 || is_digit(*s))
			return false;
		parts++;
		if (parts < 4 && *s++ != '.')
			return false;
	}
	return *s == '\0';
}

static bool check_email(const char *s)
{
	const char *at = strrchr(s, '@');
	if (!at || at == s)
		return false;
	size_t local = (size_t)(at - s);
	if (s[0] == '"') {
		if (local < 2 || s[local - 1] != '"')
			return false;
		for (size_t i = 1; i < local - 1; i++) {
			if (s[i] == '\\' && i + 1 < local - 1)
				i++;
			else if (s[i] == '"' || s[i] == '\\')
				return false;
		}
	} else {
		static const char atext[] = "!#$%&'*+-/=?^_`{|}~";
		for (size_t i = 0; i < local; i++) {
			char c = s[i];
			if (c == '.') {
				if (i == 0 || i == local - 1 || s[i + 1] == '.')
					return false;
			} else if (!is_alpha(c) && !is_digit(c) && !strchr(atext, c)) {
				return false;
			}
		}
	}
	const char *domain = at + 1;
	size_t dlen = strlen(domain);
	if (dlen >= 2 && domain[0] == '[' && domain[dlen - 1] == ']') {
		if (strncmp(domain + 1, "IPv6:", 5) == 0)
			return check_ip(domain + 6, dlen - 7, AF_INET6);
		char buf[32];
		if (dlen - 2 >= sizeof(buf))
			return false;
		memcpy(buf, domain + 1, dlen - 2);
		buf[dlen - 2] = '\0';
		return check_ipv4(buf);
	}
	return check_hostname(domain, dlen);
}

static bool uri_char(char c)
{
	return is_alpha(c) || is_digit(c) || (c && strchr("-._~:/?#@!$&'()*+,;=", c));
}

static bool check_uri(const char *s)
{
	if (!is_alpha(*s))
		return false;
	while (is_alpha(*s) || is_digit(*s) || *s == '+' || *s == '-' || *s == '.')
		s++;
	if (*s++ != ':')
		return false;
	if (s[0] == '/' && s[1] == '/') {
		s += 2;
		size_t alen = strcspn(s, "/?#");
		const char *at = NULL;
		for (size_t i = 0; i < alen; i++)
			if (s[i] == '@')
				at = s + i;
		const char *host = at ? at + 1 : s;
		for (const char *p = s; p < host; p++)
			if (*p == '[' || *p == ']')
				return false;
		const char *end = s + alen;
		if (*host == '[') {
			const char *close = memchr(host, ']', (size_t)(end - host));
			if (!close)
				return false;
			for (const char *p = host + 1; p < close; p++)
				if (!is_hex(*p) && *p != ':' && *p != '.' && !is_alpha(*p))
					return false;
			host = close + 1;
			if (host < end && *host != ':')
				return false;
		}
		for (const char *p = host; p < end; p++)
			if (*p == '[' || *p == ']' || (!uri_char(*p) && *p != '%'))
				return false;
		for (const char *p = s; at && p < at; p++)
			if (!uri_char(*p) && *p != '%')
				return false;
		s = end;
	}
	bool fragment = false;
	for (; *s; s++) {
		if (*s == '%') {
			if (!is_hex(s[1]) || !is_hex(s[2]))
				return false;
			s += 2;
		} else if (*s == '#') {
			if (fragment)
				return false;
			fragment = true;
		} else if (!uri_char(*s) || *s == '[' || *s == ']') {
			return false;
		}
	}
	return true;
}

static bool check_uuid(const char *s)
{
	for (int i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? s[i] != '-' : !is_hex(s[i]))
			return false;
	}
	return s[36] == '\0';
}

bool format_check(int format, const char *s)
{
	switch (format) {
	case FMT_DATE_TIME: case FMT_DATE: case FMT_TIME:
		return check_date_time(s, format);
	case FMT_EMAIL: return check_email(s);
	case FMT_URI: return check_uri(s);
	case FMT_UUID: return check_uuid(s);
	case FMT_IPV4: return check_ipv4(s);
	case FMT_IPV6: return check_ip(s, strlen(s), AF_INET6);
	default: return true;
	}
}
