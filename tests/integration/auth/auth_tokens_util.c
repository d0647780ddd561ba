/* Helpers of the auth-tokens test (auth_tokens_test.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth_tokens_test.h"
#include "cognition/sqlite.h"

static const char alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

cog_ctx *tt_ctx(const char *path, const char *config)
{
	cog_ctx_options co = COG_CTX_OPTIONS_INIT;
	co.log_level = COG_LOG_WARN;
	cog_ctx *ctx = NULL;
	ck_assert_cog(cog_ctx_new(&ctx, &co));
	cog_sqlite_options so = COG_SQLITE_OPTIONS_INIT;
	cog_storage *st = NULL;
	ck_assert_cog(cog_sqlite_storage_open(&st, path, &so));
	ck_assert_cog(cog_ctx_set_storage(ctx, st));
	ck_assert_cog(cog_auth_configure(ctx, "{\"password\":{\"opslimit\":1,\"memlimit\":8192}}"));
	if (config)
		ck_assert_cog(cog_auth_configure(ctx, config));
	return ctx;
}

char *tt_b64(const void *data, size_t len)
{
	const unsigned char *p = data;
	char *out = malloc(len / 3 * 4 + 5);
	size_t o = 0, i = 0;
	for (; i + 2 < len; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
		out[o++] = alphabet[v >> 18];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = alphabet[(v >> 6) & 63];
		out[o++] = alphabet[v & 63];
	}
	if (len - i == 1) {
		out[o++] = alphabet[p[i] >> 2];
		out[o++] = alphabet[(p[i] & 3) << 4];
	} else if (len - i == 2) {
		unsigned v = (unsigned)p[i] << 8 | p[i + 1];
		out[o++] = alphabet[v >> 10];
		out[o++] = alphabet[(v >> 4) & 63];
		out[o++] = alphabet[(v & 15) << 2];
	}
	out[o] = '\0';
	return out;
}

cJSON *tt_part(const char *token, int part)
{
	const char *s = token;
	for (int i = 0; i < part; i++) {
		s = strchr(s, '.');
		ck_assert_ptr_nonnull(s);
		s++;
	}
	size_t len = strcspn(s, ".");
	char *text = malloc(len + 1);
	size_t n = 0;
	unsigned acc = 0, bits = 0;
	for (size_t i = 0; i < len; i++) {
		const char *c = strchr(alphabet, s[i]);
		ck_assert_msg(c && s[i], "not base64url at %zu", i);
		acc = acc << 6 | (unsigned)(c - alphabet);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			text[n++] = (char)((acc >> bits) & 0xff);
		}
	}
	text[n] = '\0';
	cJSON *j = cJSON_Parse(text);
	free(text);
	ck_assert_ptr_nonnull(j);
	return j;
}

const char *tt_kid(const char *token)
{
	static char kid[160];
	cJSON *h = tt_part(token, 0);
	const cJSON *k = cJSON_GetObjectItem(h, "kid");
	snprintf(kid, sizeof(kid), "%s", cJSON_IsString(k) ? k->valuestring : "");
	cJSON_Delete(h);
	return kid;
}

char *tt_forge(const char *header, const char *claims)
{
	char *token = NULL;
	ck_assert_cog(cog_jws_sign(TT_FORGE_JWK, header, claims, strlen(claims), &token));
	return token;
}

long long tt_now(void)
{
	return (long long)time(NULL);
}
