/*
 * JWKs (RFC 7517) of the two kinds auth signs with: OKP Ed25519 (RFC 8037:
 * "x" the public key, "d" the 32-byte seed) and oct (RFC 7518 §6.4: "k" the
 * HMAC key). Parsing pins the algorithm to the key type, so nothing later
 * can pair an Ed25519 key with HS256 (algorithm confusion).
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "auth_int.h"
#include "auth_jwk.h"

#define HMAC_MIN 32
#define HMAC_MAX 4096

const char *auth_alg_name(int alg)
{
	switch (alg) {
	case AUTH_ALG_EDDSA:
		return "EdDSA";
	case AUTH_ALG_HS256:
		return "HS256";
	default:
		return "unknown";
	}
}

int auth_alg_of_name(const char *name)
{
	if (!name)
		return 0;
	if (strcmp(name, "EdDSA") == 0 || strcmp(name, "Ed25519") == 0)
		return AUTH_ALG_EDDSA;
	if (strcmp(name, "HS256") == 0)
		return AUTH_ALG_HS256;
	return 0;
}

void auth_key_dispose(auth_key *k)
{
	if (!k)
		return;
	if (k->hmac) {
		sodium_memzero(k->hmac, k->hmac_len);
		cog_free(k->hmac);
	}
	sodium_memzero(k, sizeof(*k));
}

void auth_jwk_wipe(cJSON *jwk)
{
	static const char *const secret[] = { "d", "k" };
	for (size_t i = 0; i < COG_ARRAY_LEN(secret); i++) {
		cJSON *v = cJSON_GetObjectItemCaseSensitive(jwk, secret[i]);
		if (cJSON_IsString(v) && v->valuestring)
			sodium_memzero(v->valuestring, strlen(v->valuestring));
	}
}

void auth_jwk_drop_private(cJSON *jwk)
{
	cJSON *d = cJSON_GetObjectItemCaseSensitive(jwk, "d");
	if (cJSON_IsString(d) && d->valuestring)
		sodium_memzero(d->valuestring, strlen(d->valuestring));
	cJSON_DeleteItemFromObjectCaseSensitive(jwk, "d");
}

/* The member `name` as a string, or NULL; COG_EINVAL when present and of
 * another type. */
static int member_string(const cJSON *jwk, const char *name, const char *what,
                         const char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(jwk, name);
	*out = NULL;
	if (!v)
		return COG_OK;
	if (!cJSON_IsString(v) || !v->valuestring)
		return cog__error(COG_EINVAL, "%s: \"%s\" must be a string", what, name);
	*out = v->valuestring;
	return COG_OK;
}

/* Decode base64url member `name` of exactly `want` bytes (0: min..max).
 * The private members ("d", "k") are secrets: their messages say what is
 * wrong but nothing of the value (no offset, byte or length). */
static int member_bytes(const char *text, const char *name, const char *what, size_t want,
                        size_t min, size_t max, unsigned char **out, size_t *out_len)
{
	bool secret = strcmp(name, "d") == 0 || strcmp(name, "k") == 0;
	char where[160];
	snprintf(where, sizeof(where), "%s: \"%s\"", what, name);
	int rc = secret ? auth_b64url_decode_secret(text, strlen(text), where, out, out_len) :
		auth_b64url_decode(text, strlen(text), where, out, out_len);
	if (rc)
		return rc;
	bool ok = want ? *out_len == want : (*out_len >= min && *out_len <= max);
	if (ok)
		return COG_OK;
	size_t got = *out_len;
	sodium_memzero(*out, *out_len);
	cog_free(*out);
	*out = NULL;
	*out_len = 0;
	char size[64];
	if (want)
		snprintf(size, sizeof(size), "%zu bytes", want);
	else
		snprintf(size, sizeof(size), "%zu..%zu bytes", min, max);
	if (secret)
		return cog__error(COG_EINVAL, "%s must be %s", where, size);
	return cog__error(COG_EINVAL, "%s must be %s, not %zu", where, size, got);
}

static int parse_okp(const cJSON *jwk, auth_key *out, const char *what)
{
	const char *crv, *x, *d;
	int rc = member_string(jwk, "crv", what, &crv);
	if (!rc)
		rc = member_string(jwk, "x", what, &x);
	if (!rc)
		rc = member_string(jwk, "d", what, &d);
	if (rc)
		return rc;
	if (!crv || strcmp(crv, "Ed25519") != 0)
		return cog__error(COG_EINVAL, "%s: an OKP key must have \"crv\":\"Ed25519\"", what);
	if (!x)
		return cog__error(COG_EINVAL, "%s: the OKP key has no \"x\"", what);
	unsigned char *bytes = NULL;
	size_t n = 0;
	rc = member_bytes(x, "x", what, crypto_sign_PUBLICKEYBYTES, 0, 0, &bytes, &n);
	if (rc)
		return rc;
	memcpy(out->pub, bytes, sizeof(out->pub));
	cog_free(bytes);
	out->alg = AUTH_ALG_EDDSA;
	if (!d)
		return COG_OK;
	rc = member_bytes(d, "d", what, crypto_sign_SEEDBYTES, 0, 0, &bytes, &n);
	if (rc)
		return rc;
	unsigned char pub[crypto_sign_PUBLICKEYBYTES];
	crypto_sign_seed_keypair(pub, out->sk, bytes);
	sodium_memzero(bytes, n);
	cog_free(bytes);
	if (sodium_memcmp(pub, out->pub, sizeof(pub)) != 0)
		return cog__error(COG_EINVAL, "%s: \"d\" does not give \"x\" (the private and "
			"public parts are of different keys)", what);
	out->can_sign = true;
	return COG_OK;
}

static int parse_oct(const cJSON *jwk, auth_key *out, const char *what)
{
	const char *k;
	int rc = member_string(jwk, "k", what, &k);
	if (rc)
		return rc;
	if (!k)
		return cog__error(COG_EINVAL, "%s: the oct key has no \"k\"", what);
	rc = member_bytes(k, "k", what, 0, HMAC_MIN, HMAC_MAX, &out->hmac, &out->hmac_len);
	if (rc)
		return rc;
	out->alg = AUTH_ALG_HS256;
	out->can_sign = true;
	return COG_OK;
}

static int parse_kid(const cJSON *jwk, auth_key *out, const char *what)
{
	const char *kid;
	int rc = member_string(jwk, "kid", what, &kid);
	if (rc || !kid)
		return rc;
	size_t len = strnlen(kid, sizeof(out->kid));
	if (len == 0 || len >= sizeof(out->kid))
		return cog__error(COG_EINVAL, "%s: \"kid\" must be 1..%zu bytes", what,
			sizeof(out->kid) - 1);
	for (size_t i = 0; i < len; i++)
		if (kid[i] < 0x20 || kid[i] > 0x7e)
			return cog__error(COG_EINVAL, "%s: \"kid\" must be printable ASCII "
				"(byte %zu is not)", what, i);
	memcpy(out->kid, kid, len + 1);
	return COG_OK;
}

int auth_jwk_parse(const cJSON *jwk, auth_key *out, const char *what)
{
	memset(out, 0, sizeof(*out));
	if (!what)
		what = "JWK";
	if (!cJSON_IsObject(jwk))
		return cog__error(COG_EINVAL, "%s: a JWK must be a JSON object", what);
	const char *kty, *alg;
	int rc = member_string(jwk, "kty", what, &kty);
	if (!rc)
		rc = member_string(jwk, "alg", what, &alg);
	if (!rc)
		rc = parse_kid(jwk, out, what);
	if (rc)
		return rc;
	if (!kty)
		return cog__error(COG_EINVAL, "%s: the JWK has no \"kty\"", what);
	if (strcmp(kty, "OKP") == 0)
		rc = parse_okp(jwk, out, what);
	else if (strcmp(kty, "oct") == 0)
		rc = parse_oct(jwk, out, what);
	else
		rc = cog__error(COG_EINVAL, "%s: key type \"%.16s\" is not supported (OKP "
			"Ed25519 or oct)", what, kty);
	if (!rc && alg && auth_alg_of_name(alg) != out->alg)
		rc = cog__error(COG_EINVAL, "%s: \"alg\" \"%.32s\" does not fit a%s key (%s)",
			what, alg, out->alg == AUTH_ALG_EDDSA ? "n Ed25519" : "n oct",
			out->alg == AUTH_ALG_EDDSA ? "EdDSA or Ed25519" : "HS256");
	const cJSON *retired = cJSON_GetObjectItemCaseSensitive(jwk, "retired");
	out->retired = cJSON_IsTrue(retired);
	out->created = auth_json_int(jwk, "created", 0);
	if (rc)
		auth_key_dispose(out);
	return rc;
}

/* Add base64url of bytes as `name`; false on OOM. The temporary text is
 * wiped: it may be a private part. */
static bool add_b64(cJSON *obj, const char *name, const unsigned char *bytes, size_t len)
{
	char *text = auth_b64url_encode(bytes, len);
	if (!text)
		return false;
	bool ok = cJSON_AddStringToObject(obj, name, text) != NULL;
	sodium_memzero(text, strlen(text));
	cog_free(text);
	return ok;
}

cJSON *auth_jwk_export(const auth_key *k, bool with_private)
{
	cJSON *o = cJSON_CreateObject();
	bool ok = o != NULL;
	if (ok && k->alg == AUTH_ALG_EDDSA) {
		ok = cJSON_AddStringToObject(o, "kty", "OKP") &&
			cJSON_AddStringToObject(o, "crv", "Ed25519") &&
			add_b64(o, "x", k->pub, sizeof(k->pub));
		if (ok && with_private && k->can_sign)
			ok = add_b64(o, "d", k->sk, crypto_sign_SEEDBYTES);
	} else if (ok) {
		ok = cJSON_AddStringToObject(o, "kty", "oct") != NULL;
		if (ok && with_private && k->hmac)
			ok = add_b64(o, "k", k->hmac, k->hmac_len);
	}
	if (ok && k->kid[0])
		ok = cJSON_AddStringToObject(o, "kid", k->kid) != NULL;
	if (ok)
		ok = cJSON_AddStringToObject(o, "alg", auth_alg_name(k->alg)) != NULL;
	if (!ok) {
		auth_jwk_wipe(o);
		cJSON_Delete(o);
		cog__oom("JWK export");
		return NULL;
	}
	return o;
}
