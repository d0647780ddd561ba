/*
 * Compact JWS (RFC 7515 §7.1): BASE64URL(header) "." BASE64URL(payload)
 * "." BASE64URL(signature), signed with Ed25519 (RFC 8037) or
 * HMAC-SHA-256. The header is signed as the bytes given (never
 * re-serialised), and the signature is checked over the bytes received.
 * The key decides the algorithm: the header's "alg" must be the key's, so a
 * token cannot pick a weaker check ("none", or HS256 keyed with a public
 * key).
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "auth_int.h"
#include "auth_jwk.h"

#define B64_VARIANT sodium_base64_VARIANT_URLSAFE_NO_PADDING
#define JWS_MAX (1024u * 1024u)

static void mac_hs256(const auth_key *k, const void *data, size_t len,
                      unsigned char mac[crypto_auth_hmacsha256_BYTES])
{
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, k->hmac, k->hmac_len);
	crypto_auth_hmacsha256_update(&st, data, len);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_memzero(&st, sizeof(st));
}

int auth_jws_sign_key(const auth_key *k, const char *header, size_t header_len,
                      const void *payload, size_t payload_len, char **compact)
{
	*compact = NULL;
	if (!k->can_sign)
		return cog__error(COG_EINVAL, "JWS sign: the key%s%s has no private part",
			k->kid[0] ? " " : "", k->kid);
	if (header_len > JWS_MAX || payload_len > JWS_MAX)
		return cog__error(COG_EINVAL, "JWS sign: header or payload over %u bytes", JWS_MAX);
	size_t sig_len = k->alg == AUTH_ALG_EDDSA ? crypto_sign_BYTES
		: crypto_auth_hmacsha256_BYTES;
	size_t eh = sodium_base64_ENCODED_LEN(header_len, B64_VARIANT);
	size_t ep = sodium_base64_ENCODED_LEN(payload_len, B64_VARIANT);
	size_t es = sodium_base64_ENCODED_LEN(sig_len, B64_VARIANT);
	/* Each ENCODED_LEN counts a NUL: two of them become the dots. */
	char *out = cog_malloc(eh + ep + es);
	if (!out)
		return cog__oom("JWS sign");
	sodium_bin2base64(out, eh, (const unsigned char *)header, header_len, B64_VARIANT);
	size_t pos = strlen(out);
	out[pos++] = '.';
	sodium_bin2base64(out + pos, ep, payload, payload_len, B64_VARIANT);
	pos += strlen(out + pos);
	size_t signing_len = pos;
	unsigned char sig[crypto_sign_BYTES];
	if (k->alg == AUTH_ALG_EDDSA)
		crypto_sign_detached(sig, NULL, (const unsigned char *)out, signing_len, k->sk);
	else
		mac_hs256(k, out, signing_len, sig);
	out[pos++] = '.';
	sodium_bin2base64(out + pos, es, sig, sig_len, B64_VARIANT);
	*compact = out;
	return COG_OK;
}

void auth_jws_dispose(auth_jws *j)
{
	if (!j)
		return;
	cJSON_Delete(j->header);
	cog_free(j->payload);
	cog_free(j->sig);
	memset(j, 0, sizeof(*j));
}

int auth_jws_parse(const char *compact, auth_jws *out)
{
	memset(out, 0, sizeof(*out));
	if (!compact)
		return cog__error(COG_EINVAL, "JWS: NULL text");
	size_t len = strnlen(compact, JWS_MAX + 1);
	if (len > JWS_MAX)
		return cog__error(COG_EINVAL, "JWS: longer than %u bytes", JWS_MAX);
	const char *dot1 = memchr(compact, '.', len);
	const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - compact)) : NULL;
	if (!dot2)
		return cog__error(COG_EINVAL, "JWS: not compact JWS (three base64url parts "
			"separated by '.' expected, found %s)", dot1 ? "two" : "one");
	const char *sig = dot2 + 1;
	if (memchr(sig, '.', len - (size_t)(sig - compact)))
		return cog__error(COG_EINVAL, "JWS: not compact JWS (more than three parts; "
			"JWE is not supported)");
	size_t hlen = (size_t)(dot1 - compact);
	if (hlen == 0)
		return cog__error(COG_EINVAL, "JWS: the header is empty");
	unsigned char *hdr = NULL;
	size_t hdr_len = 0;
	int rc = auth_b64url_decode(compact, hlen, "JWS header", &hdr, &hdr_len);
	if (rc)
		return rc;
	out->header = cJSON_ParseWithLength((const char *)hdr, hdr_len);
	cog_free(hdr);
	if (!cJSON_IsObject(out->header)) {
		auth_jws_dispose(out);
		return cog__error(COG_EINVAL, "JWS: the header is not a JSON object");
	}
	rc = auth_b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), "JWS payload",
		&out->payload, &out->payload_len);
	if (!rc)
		rc = auth_b64url_decode(sig, len - (size_t)(sig - compact), "JWS signature",
			&out->sig, &out->sig_len);
	if (rc) {
		auth_jws_dispose(out);
		return rc;
	}
	out->signing_len = (size_t)(dot2 - compact);
	return COG_OK;
}

int auth_jws_check(const auth_key *k, const char *compact, const auth_jws *j)
{
	const cJSON *alg = cJSON_GetObjectItemCaseSensitive(j->header, "alg");
	if (!cJSON_IsString(alg) || !alg->valuestring)
		return cog__error(COG_EDENIED, "JWS: the header has no \"alg\"");
	const char *name = alg->valuestring;
	if (auth_alg_of_name(name) != k->alg) {
		if (strcmp(name, "none") == 0)
			return cog__error(COG_EDENIED, "JWS: algorithm none is refused (unsigned)");
		return cog__error(COG_EDENIED, "JWS: algorithm %.32s is not the key's (%s)", name,
			auth_alg_name(k->alg));
	}
	if (cJSON_GetObjectItemCaseSensitive(j->header, "crit"))
		return cog__error(COG_EDENIED, "JWS: the header has \"crit\" (no extension is "
			"understood here)");
	if (cJSON_GetObjectItemCaseSensitive(j->header, "b64"))
		return cog__error(COG_EDENIED, "JWS: the header has \"b64\" (unencoded payloads "
			"are refused)");
	const unsigned char *input = (const unsigned char *)compact;
	bool good;
	if (k->alg == AUTH_ALG_EDDSA) {
		good = j->sig_len == crypto_sign_BYTES &&
			crypto_sign_verify_detached(j->sig, input, j->signing_len, k->pub) == 0;
	} else {
		unsigned char mac[crypto_auth_hmacsha256_BYTES];
		mac_hs256(k, input, j->signing_len, mac);
		good = j->sig_len == sizeof(mac) && sodium_memcmp(mac, j->sig, sizeof(mac)) == 0;
		sodium_memzero(mac, sizeof(mac));
	}
	if (!good)
		return cog__error(COG_EDENIED, "JWS: bad signature");
	return COG_OK;
}

/* Parse jwk_json into k (fn for messages). */
static int key_from_json(const char *fn, const char *jwk_json, auth_key *k)
{
	memset(k, 0, sizeof(*k));
	cJSON *jwk = NULL;
	int rc = cog_json_parse(&jwk, jwk_json, fn);
	if (rc) {
		/* The parse error quotes no text, but say it is the key. */
		return cog__error(COG_EINVAL, "%s: the JWK is not valid JSON", fn);
	}
	char what[64];
	snprintf(what, sizeof(what), "%s: JWK", fn);
	rc = auth_jwk_parse(jwk, k, what);
	auth_jwk_wipe(jwk);
	cJSON_Delete(jwk);
	return rc;
}

int cog_jws_sign(const char *jwk_json, const char *header_json, const void *payload,
                 size_t payload_len, char **compact)
{
	static const char fn[] = "cog_jws_sign";
	COG_CHECK_ARG(compact, fn, "compact is NULL");
	*compact = NULL;
	COG_CHECK_ARG(jwk_json, fn, "jwk_json is NULL");
	COG_CHECK_ARG(header_json, fn, "header_json is NULL");
	COG_CHECK_ARG(payload || payload_len == 0, fn, "payload is NULL");
	cJSON *header = NULL;
	int rc = cog_json_parse(&header, header_json, "cog_jws_sign: header");
	if (rc)
		return rc;
	const char *alg = cog_json_get_string(header, "alg");
	int hdr_alg = cJSON_IsObject(header) ? auth_alg_of_name(alg) : -1;
	cJSON_Delete(header);
	if (hdr_alg < 0)
		return cog__error(COG_EINVAL, "%s: the header must be a JSON object", fn);
	auth_key k;
	rc = key_from_json(fn, jwk_json, &k);
	if (rc)
		return rc;
	if (!k.can_sign)
		rc = cog__error(COG_EINVAL, "%s: the key has no private part (\"d\")", fn);
	else if (hdr_alg != k.alg)
		rc = cog__error(COG_EINVAL, "%s: the header's \"alg\" must be the key's (%s%s)",
			fn, auth_alg_name(k.alg), k.alg == AUTH_ALG_EDDSA ? " or Ed25519" : "");
	else
		rc = auth_jws_sign_key(&k, header_json, strlen(header_json), payload, payload_len,
			compact);
	auth_key_dispose(&k);
	return rc;
}

int cog_jws_verify(const char *jwk_json, const char *compact, char **payload,
                   size_t *payload_len)
{
	static const char fn[] = "cog_jws_verify";
	if (payload)
		*payload = NULL;
	if (payload_len)
		*payload_len = 0;
	COG_CHECK_ARG(jwk_json, fn, "jwk_json is NULL");
	COG_CHECK_ARG(compact, fn, "compact is NULL");
	auth_key k;
	int rc = key_from_json(fn, jwk_json, &k);
	if (rc)
		return rc;
	auth_jws j;
	rc = auth_jws_parse(compact, &j);
	if (!rc) {
		rc = auth_jws_check(&k, compact, &j);
		if (!rc && payload) {
			*payload = (char *)j.payload;
			j.payload = NULL;
		}
		if (!rc && payload_len)
			*payload_len = j.payload_len;
		auth_jws_dispose(&j);
	}
	if (rc)
		cog__error_wrap(rc, "%s", fn);
	auth_key_dispose(&k);
	return rc;
}
