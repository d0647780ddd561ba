/*
 * Fuzz target for token parsing (libFuzzer entry point). The first byte
 * chooses the check, the rest is the token:
 *   0: cog_jws_verify() with the Ed25519 public key of RFC 8037 A.1;
 *   1: cog_jws_verify() with the HS256 key of RFC 7515 A.1;
 *   2: cog_token_verify() on a context holding both keys (kids "ed" and
 *      "hs"; the same keys, so a token of either RFC verifies up to its
 *      claims);
 *   3: the same, then, when it verifies, cog_token_revoke() and the token
 *      must no longer verify.
 * Besides not crashing or leaking, it checks that a payload or claims come
 * back only on success, with the length said, and that a revoked token no
 * longer verifies.
 */
#include <stdlib.h>
#include <string.h>

#include "core_int.h"
#include "cognition/auth.h"
#include "cognition/storage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* RFC 8037 A.1 (RFC 8032 TEST 1) and RFC 7515 A.1. */
#define ED_X "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
#define ED_D "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
#define HS_K "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"

static const char ed_public[] = "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" ED_X "\"}";
static const char ed_private[] = "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"ed\","
	"\"d\":\"" ED_D "\",\"x\":\"" ED_X "\"}";
static const char hs_key[] = "{\"kty\":\"oct\",\"k\":\"" HS_K "\"}";
static const char hs_key_kid[] = "{\"kty\":\"oct\",\"kid\":\"hs\",\"k\":\"" HS_K "\"}";

static cog_ctx *ctx;

static void setup(void)
{
	cog_storage *storage = NULL;
	if (cog_ctx_new(&ctx, NULL) != COG_OK || cog_storage_memory_new(&storage) != COG_OK ||
	    cog_ctx_set_storage(ctx, storage) != COG_OK ||
	    cog_auth_key_add(ctx, ed_private) != COG_OK ||
	    cog_auth_key_add(ctx, hs_key_kid) != COG_OK)
		abort();
}

static void jws(const char *jwk, const char *token)
{
	char *payload = NULL;
	size_t len = 12345;
	int rc = cog_jws_verify(jwk, token, &payload, &len);
	if (rc != COG_OK && payload)
		abort();  /* a payload of a token that did not verify */
	if (rc == COG_OK && (!payload || strlen(payload) > len))
		abort();
	cog_free(payload);
}

static void token(const char *text, bool revoke)
{
	char *claims = NULL;
	int rc = cog_token_verify(ctx, text, &claims);
	if (rc != COG_OK && claims)
		abort();
	cog_free(claims);
	if (rc == COG_OK && revoke && cog_token_revoke(ctx, text) == COG_OK &&
	    cog_token_verify(ctx, text, NULL) == COG_OK)
		abort();  /* a revoked token still verifies */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!ctx)
		setup();
	if (size < 1)
		return 0;
	char *text = cog__strndup((const char *)data + 1, size - 1);
	if (!text)
		abort();
	switch (data[0] & 3) {
	case 0:
		jws(ed_public, text);
		break;
	case 1:
		jws(hs_key, text);
		break;
	default:
		token(text, (data[0] & 3) == 3);
		break;
	}
	cog_free(text);
	return 0;
}
