/* URI reference resolution (RFC 3986 section 5), enough for $id and $ref:
 * relative paths, dot segments, URNs, fragments. No normalisation beyond
 * what the RFC's algorithm does. */
#include <string.h>

#include "schema_impl.h"

typedef struct span {
	const char *p;
	size_t len;
	bool set;
} span;

typedef struct uri_parts {
	span scheme, authority, path, query, fragment;
} uri_parts;

static bool is_scheme_char(char c, bool first)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return true;
	return !first && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.');
}

static void uri_split(const char *s, uri_parts *u)
{
	memset(u, 0, sizeof(*u));
	size_t i = 0;
	while (s[i] && is_scheme_char(s[i], i == 0))
		i++;
	if (i > 0 && s[i] == ':') {
		u->scheme = (span){ s, i, true };
		s += i + 1;
	}
	if (s[0] == '/' && s[1] == '/') {
		s += 2;
		size_t n = strcspn(s, "/?#");
		u->authority = (span){ s, n, true };
		s += n;
	}
	size_t n = strcspn(s, "?#");
	u->path = (span){ s, n, true };
	s += n;
	if (*s == '?') {
		s++;
		n = strcspn(s, "#");
		u->query = (span){ s, n, true };
		s += n;
	}
	if (*s == '#')
		u->fragment = (span){ s + 1, strlen(s + 1), true };
}

/* RFC 3986 5.2.4, on a NUL-terminated copy, in place. */
static void remove_dot_segments(char *path)
{
	char *in = path, *out = path;
	while (*in) {
		if (strncmp(in, "../", 3) == 0) {
			in += 3;
		} else if (strncmp(in, "./", 2) == 0) {
			in += 2;
		} else if (strncmp(in, "/./", 3) == 0) {
			in += 2;
		} else if (strcmp(in, "/.") == 0) {
			in[1] = '\0';
		} else if (strncmp(in, "/../", 4) == 0 || strcmp(in, "/..") == 0) {
			in += 3;
			if (*in == '\0') {
				in--;
				*in = '/';
			}
			while (out > path && *--out != '/')
				;
		} else if (strcmp(in, ".") == 0 || strcmp(in, "..") == 0) {
			break;
		} else {
			do {
				*out++ = *in++;
			} while (*in && *in != '/');
		}
	}
	*out = '\0';
}

static void put_span(cog_buf *b, const char *prefix, span s)
{
	if (!s.set)
		return;
	cog_buf_puts(b, prefix);
	cog_buf_put(b, s.p, s.len);
}

char *uri_resolve(const char *base, const char *ref)
{
	uri_parts B, R;
	uri_split(base, &B);
	uri_split(ref, &R);
	span scheme = B.scheme, authority = B.authority, query = B.query;
	cog_buf path = COG_BUF_INIT;
	if (R.scheme.set) {
		scheme = R.scheme;
		authority = R.authority;
		query = R.query;
		cog_buf_put(&path, R.path.p, R.path.len);
	} else if (R.authority.set) {
		authority = R.authority;
		query = R.query;
		cog_buf_put(&path, R.path.p, R.path.len);
	} else if (R.path.len == 0) {
		cog_buf_put(&path, B.path.p, B.path.len);
		if (R.query.set)
			query = R.query;
	} else {
		query = R.query;
		if (R.path.p[0] == '/') {
			cog_buf_put(&path, R.path.p, R.path.len);
		} else if (B.authority.set && B.path.len == 0) {
			cog_buf_putc(&path, '/');
			cog_buf_put(&path, R.path.p, R.path.len);
		} else {
			size_t keep = B.path.len;
			while (keep > 0 && B.path.p[keep - 1] != '/')
				keep--;
			cog_buf_put(&path, B.path.p, keep);
			cog_buf_put(&path, R.path.p, R.path.len);
		}
	}
	cog_buf out = COG_BUF_INIT;
	if (path.ptr)
		remove_dot_segments(path.ptr);
	if (scheme.set) {
		cog_buf_put(&out, scheme.p, scheme.len);
		cog_buf_putc(&out, ':');
	}
	put_span(&out, "//", authority);
	if (path.ptr)
		cog_buf_puts(&out, path.ptr);
	put_span(&out, "?", query);
	put_span(&out, "#", R.fragment);
	bool failed = path.failed;
	cog_buf_dispose(&path);
	if (failed) {
		cog_buf_dispose(&out);
		return NULL;
	}
	return cog_buf_detach(&out);
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

bool uri_percent_decode(char *s)
{
	char *out = s;
	for (; *s; s++) {
		if (*s != '%') {
			*out++ = *s;
			continue;
		}
		int hi = hex_value(s[1]);
		int lo = hi < 0 ? -1 : hex_value(s[2]);
		if (lo < 0)
			return false;
		*out++ = (char)(hi << 4 | lo);
		s += 2;
	}
	*out = '\0';
	return true;
}
