/*
 * Helpers shared by the files of unit/auth-crypto (defined in
 * test_auth_crypto.c).
 */
#ifndef AUTH_CRYPTO_TEST_H
#define AUTH_CRYPTO_TEST_H

#include <stddef.h>

#include <check.h>
#include <cjson/cJSON.h>

#include "auth_int.h"

#define ck_assert_cog(expr) do { \
	int rc_ = (expr); \
	ck_assert_msg(rc_ == 0, "%s: %d %s", #expr, rc_, cog_error_last()); \
} while (0)

/* crypto.json (COG_VECTORS), parsed; fails the test when it cannot be. */
cJSON *vectors(void);
/* The string member `name` of o (fails the test when absent). */
const char *vstr(const cJSON *o, const char *name);
/* Hex into out; the byte count. */
size_t unhex(const char *hex, unsigned char *out, size_t cap);
/* base64url of data (cog_free), and back (cog_free; NUL-terminated). */
char *b64(const void *data, size_t len);
unsigned char *unb64(const char *s, size_t len, size_t *out_len);

/* The cases of auth_crypto_jws.c. */
TCase *crypto_jws_tcase(void);

#endif
