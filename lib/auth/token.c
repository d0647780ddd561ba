/*
 * JWTs (RFC 7519) over the key set: issue with the signing key, verify with
 * the key the header's kid names (the algorithm is that key's), then the
 * claims: exp (required), nbf and iat against the clock with the configured
 * skew, iss and aud against the configuration, sub, and revocation of the
 * jti and of the session. The verify path reads each key once and parses
 * header and claims once; messages say which check failed, never the token.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "auth_int.h"
#include "auth_jwk.h"

#define JTI_BYTES 16

/* ---- issue ---- */

static int check_claim_types(const cJSON *c, const char *fn)
{
	static const char *const numbers[] = { "exp", "nbf", "iat" };
	static const char *const strings[] = { "iss", "sub", "jti", "sid", "tenant" };
	for (size_t i = 0; i < COG_ARRAY_LEN(numbers); i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, numbers[i]);
		if (v && !cJSON_IsNumber(v))
			return cog__error(COG_EINVAL, "%s: claim \"%s\" must be a number (Unix "
				"seconds)", fn, numbers[i]);
	}
	for (size_t i = 0; i < COG_ARRAY_LEN(strings); i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, strings[i]);
		if (v && (!cJSON_IsString(v) || !v->valuestring[0]))
			return cog__error(COG_EINVAL, "%s: claim \"%s\" must be a non-empty string",
				fn, strings[i]);
	}
	const cJSON *aud = cJSON_GetObjectItemCaseSensitive(c, "aud"), *a;
	if (aud && !cJSON_IsString(aud) && !cJSON_IsArray(aud))
		return cog__error(COG_EINVAL, "%s: claim \"aud\" must be a string or an array "
			"of strings", fn);
	const cJSON *list = cJSON_IsArray(aud) ? aud : NULL;
	cJSON_ArrayForEach(a, list)
		if (!cJSON_IsString(a))
			return cog__error(COG_EINVAL, "%s: claim \"aud\" must be a string or an "
				"array of strings", fn);
	if (!cJSON_GetObjectItemCaseSensitive(c, "sub"))
		return cog__error(COG_EINVAL, "%s: the claims need a \"sub\"", fn);
	return COG_OK;
}

/* Fill iat, exp, jti, iss, aud when absent. */
static int complete_claims(cJSON *c, const auth_config *cfg, const char *fn)
{
	int64_t now = auth_now_s();
	bool ok = true;
	if (!cJSON_GetObjectItemCaseSensitive(c, "iat"))
		ok = cJSON_AddNumberToObject(c, "iat", (double)now) != NULL;
	if (ok && !cJSON_GetObjectItemCaseSensitive(c, "exp"))
		ok = cJSON_AddNumberToObject(c, "exp", (double)(now + cfg->access_ttl_s)) != NULL;
	if (ok && !cJSON_GetObjectItemCaseSensitive(c, "jti")) {
		char *jti = auth_random_token("", JTI_BYTES);
		ok = jti && cJSON_AddStringToObject(c, "jti", jti) != NULL;
		cog_free(jti);
	}
	if (ok && cfg->issuer && !cJSON_GetObjectItemCaseSensitive(c, "iss"))
		ok = cJSON_AddStringToObject(c, "iss", cfg->issuer) != NULL;
	if (ok && cfg->audience && !cJSON_GetObjectItemCaseSensitive(c, "aud"))
		ok = cJSON_AddStringToObject(c, "aud", cfg->audience) != NULL;
	return ok ? COG_OK : cog__oom(fn);
}

static int sign_claims(const auth_key *k, const cJSON *claims, const char *fn, char **token)
{
	cog_buf h = COG_BUF_INIT;
	cog_buf_puts(&h, "{\"alg\":\"");
	cog_buf_puts(&h, auth_alg_name(k->alg));
	cog_buf_puts(&h, "\",\"kid\":");
	cog_buf_put_json_string(&h, k->kid, strlen(k->kid));
	cog_buf_puts(&h, ",\"typ\":\"JWT\"}");
	char *payload = cog_json_print(claims);
	int rc;
	if (h.failed || !payload)
		rc = cog__oom(fn);
	else
		rc = auth_jws_sign_key(k, h.ptr, h.len, payload, strlen(payload), token);
	cog_free(payload);
	cog_buf_dispose(&h);
	return rc;
}

int auth_token_issue(cog_ctx *ctx, const cJSON *claims, char **token, cJSON **final)
{
	static const char fn[] = "cog_token_issue";
	*token = NULL;
	if (final)
		*final = NULL;
	if (!cJSON_IsObject(claims))
		return cog__error(COG_EINVAL, "%s: the claims must be a JSON object", fn);
	int rc = check_claim_types(claims, fn);
	if (rc)
		return rc;
	auth_config cfg;
	rc = auth_config_get(ctx, &cfg);
	if (rc)
		return rc;
	cJSON *c = cJSON_Duplicate(claims, true);
	rc = c ? complete_claims(c, &cfg, fn) : cog__oom(fn);
	auth_config_dispose(&cfg);
	auth_key k;
	memset(&k, 0, sizeof(k));
	if (!rc)
		rc = auth_keys_signing(ctx, &k);
	if (!rc)
		rc = sign_claims(&k, c, fn, token);
	auth_key_dispose(&k);
	if (!rc && final) {
		*final = c;
		c = NULL;
	}
	cJSON_Delete(c);
	return rc;
}

/* ---- verify ---- */

/* Check j's signature with the key its kid names, or without a kid with
 * each key of its algorithm. */
static int check_signature(cog_ctx *ctx, const char *token, const auth_jws *j)
{
	const cJSON *kid = cJSON_GetObjectItemCaseSensitive(j->header, "kid");
	auth_key k;
	int rc;
	if (kid) {
		if (!cJSON_IsString(kid))
			return cog__error(COG_EDENIED, "the header's \"kid\" is not a string");
		rc = auth_keys_find_public(ctx, kid->valuestring, &k);
		if (rc == COG_ENOTFOUND)
			return cog__error(COG_EDENIED, "unknown key id '%.64s'", kid->valuestring);
		if (rc)
			return rc;
		rc = auth_jws_check(&k, token, j);
		auth_key_dispose(&k);
		return rc;
	}
	const char *alg_name = cog_json_get_string(j->header, "alg");
	int alg = auth_alg_of_name(alg_name);
	if (!alg)
		return cog__error(COG_EDENIED, "algorithm %.32s is refused (EdDSA or HS256)",
			alg_name ? alg_name : "(none given)");
	auth_key *keys = NULL;
	size_t count = 0;
	rc = auth_keys_of_alg(ctx, alg, &keys, &count);
	if (rc)
		return rc;
	rc = cog__error(COG_EDENIED, "no key id, and no %s key in the key set",
		auth_alg_name(alg));
	for (size_t i = 0; i < count && rc == COG_EDENIED; i++)
		rc = auth_jws_check(&keys[i], token, j);
	auth_keys_dispose(keys, count);
	return rc;
}

static bool aud_matches(const cJSON *aud, const char *want)
{
	if (cJSON_IsString(aud))
		return strcmp(aud->valuestring, want) == 0;
	const cJSON *a, *list = cJSON_IsArray(aud) ? aud : NULL;
	cJSON_ArrayForEach(a, list)
		if (cJSON_IsString(a) && strcmp(a->valuestring, want) == 0)
			return true;
	return false;
}

static int time_claim(const cJSON *c, const char *name, bool *present, double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, name);
	*present = v != NULL;
	if (v && !cJSON_IsNumber(v))
		return cog__error(COG_EDENIED, "claim \"%s\" is not a number", name);
	*out = v ? v->valuedouble : 0;
	return COG_OK;
}

/* The claim checks; *expired is set when exp is the (first) one failing. */
static int check_claims(cog_ctx *ctx, const cJSON *c, bool check_revoked, bool *expired)
{
	auth_config cfg;
	int rc = auth_config_get(ctx, &cfg);
	if (rc)
		return rc;
	double now = (double)auth_now_s(), skew = (double)cfg.clock_skew_s;
	double exp = 0, nbf = 0, iat = 0;
	bool has_exp, has_nbf, has_iat;
	rc = time_claim(c, "exp", &has_exp, &exp);
	if (!rc)
		rc = time_claim(c, "nbf", &has_nbf, &nbf);
	if (!rc)
		rc = time_claim(c, "iat", &has_iat, &iat);
	if (!rc && !has_exp)
		rc = cog__error(COG_EDENIED, "the token has no \"exp\"");
	if (!rc && now >= exp + skew) {
		char when[32] = "?";
		if (exp > -1e11 && exp < 1e11)
			cog_clock_format_iso8601((int64_t)exp * 1000, when);
		*expired = true;
		rc = cog__error(COG_EDENIED, "expired at %s", when);
	}
	if (!rc && has_nbf && nbf > now + skew)
		rc = cog__error(COG_EDENIED, "not yet valid (nbf is %.0f s ahead)", nbf - now);
	if (!rc && has_iat && iat > now + skew)
		rc = cog__error(COG_EDENIED, "not yet valid (iat is %.0f s in the future)",
			iat - now);
	const cJSON *iss = cJSON_GetObjectItemCaseSensitive(c, "iss");
	if (!rc && cfg.issuer && (!cJSON_IsString(iss) || strcmp(iss->valuestring, cfg.issuer)))
		rc = cog__error(COG_EDENIED, "issuer: the token's \"iss\" is not the "
			"configured issuer");
	if (!rc && cfg.audience &&
	    !aud_matches(cJSON_GetObjectItemCaseSensitive(c, "aud"), cfg.audience))
		rc = cog__error(COG_EDENIED, "audience: the token's \"aud\" does not hold the "
			"configured audience");
	auth_config_dispose(&cfg);
	const char *sub = cog_json_get_string(c, "sub");
	if (!rc && (!sub || !sub[0]))
		rc = cog__error(COG_EDENIED, "the token has no \"sub\" string");
	if (rc || !check_revoked)
		return rc;
	const cJSON *jti = cJSON_GetObjectItemCaseSensitive(c, "jti");
	if (jti && !cJSON_IsString(jti))
		return cog__error(COG_EDENIED, "claim \"jti\" is not a string");
	int r = jti ? auth_jti_revoked(ctx, jti->valuestring) : 0;
	if (r > 0)
		return cog__error(COG_EDENIED, "revoked (its jti)");
	if (r < 0)
		return r;
	const cJSON *sid = cJSON_GetObjectItemCaseSensitive(c, "sid");
	if (!sid)
		return COG_OK;
	const char *tenant = cog_json_get_string(c, "tenant");
	if (!cJSON_IsString(sid) || !tenant)
		return cog__error(COG_EDENIED, "a session (\"sid\") needs string \"sid\" and "
			"\"tenant\" claims");
	r = auth_session_revoked(ctx, tenant, sub, sid->valuestring);
	if (r > 0)
		return cog__error(COG_EDENIED, "revoked (its session)");
	/* The claims are the token's, untrusted: names no session can have
	 * are a refusal, not a bad argument of the caller's. */
	if (r == COG_EINVAL)
		return cog__error(COG_EDENIED, "claims \"tenant\", \"sub\" and \"sid\" name no "
			"session (not 1..128 of [A-Za-z0-9_.@+-], sid 1..64)");
	return r < 0 ? r : COG_OK;
}

/* Verify token; on success *claims (may be NULL) and *text (may be NULL:
 * the claims as received). */
static int verify(cog_ctx *ctx, const char *fn, const char *token, bool check_revoked,
                  bool *expired, cJSON **claims, char **text)
{
	*expired = false;
	auth_jws j;
	int rc = auth_jws_parse(token, &j);
	if (!rc)
		rc = check_signature(ctx, token, &j);
	cJSON *c = NULL;
	if (!rc) {
		c = cJSON_ParseWithLength((const char *)j.payload, j.payload_len);
		if (!cJSON_IsObject(c))
			rc = cog__error(COG_EDENIED, "the claims are not a JSON object");
	}
	if (!rc)
		rc = check_claims(ctx, c, check_revoked, expired);
	if (!rc && text) {
		*text = (char *)j.payload;
		j.payload = NULL;
	}
	/* an expired token, signature good: its claims too (for logout) */
	if ((!rc || *expired) && claims) {
		*claims = c;
		c = NULL;
	}
	cJSON_Delete(c);
	auth_jws_dispose(&j);
	if (rc)
		cog__error_wrap(rc, "%s", fn);
	return rc;
}

int auth_token_verify_ex(cog_ctx *ctx, const char *token, bool check_revoked,
                         cJSON **claims, bool *expired)
{
	*claims = NULL;
	*expired = false;
	if (!token)
		return cog__error(COG_EINVAL, "cog_token_verify: token is NULL");
	return verify(ctx, "cog_token_verify", token, check_revoked, expired, claims, NULL);
}

int auth_token_verify(cog_ctx *ctx, const char *token, bool check_revoked, cJSON **claims)
{
	bool expired;
	cJSON *c = NULL;
	int rc = auth_token_verify_ex(ctx, token, check_revoked, &c, &expired);
	if (rc || !claims)
		cJSON_Delete(c);
	else
		*claims = c;
	if (claims && rc)
		*claims = NULL;
	return rc;
}

int cog_token_issue(cog_ctx *ctx, const char *claims_json, char **token)
{
	static const char fn[] = "cog_token_issue";
	COG_CHECK_ARG(token, fn, "token is NULL");
	*token = NULL;
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	COG_CHECK_ARG(claims_json, fn, "claims_json is NULL");
	cJSON *claims = NULL;
	int rc = cog_json_parse(&claims, claims_json, "cog_token_issue: claims");
	if (!rc)
		rc = auth_token_issue(ctx, claims, token, NULL);
	cJSON_Delete(claims);
	return rc;
}

int cog_token_verify(cog_ctx *ctx, const char *token, char **claims_json)
{
	static const char fn[] = "cog_token_verify";
	if (claims_json)
		*claims_json = NULL;
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	COG_CHECK_ARG(token, fn, "token is NULL");
	bool expired;
	return verify(ctx, fn, token, true, &expired, NULL, claims_json);
}

int cog_token_revoke(cog_ctx *ctx, const char *token)
{
	static const char fn[] = "cog_token_revoke";
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	COG_CHECK_ARG(token, fn, "token is NULL");
	if (!strchr(token, '.'))
		return auth_refresh_revoke(ctx, token);
	bool expired;
	cJSON *claims = NULL;
	int rc = verify(ctx, fn, token, false, &expired, &claims, NULL);
	if (rc) {
		cJSON_Delete(claims);
		return expired ? COG_OK : rc;
	}
	const char *jti = cog_json_get_string(claims, "jti");
	double exp = cog_json_get_number(claims, "exp", 0);
	if (!jti || !jti[0])
		rc = cog__error(COG_EINVAL, "%s: the token has no \"jti\" to revoke it by", fn);
	else
		rc = auth_revoke_jti(ctx, jti, exp > 0 && exp < 1e15 ? (int64_t)exp : 0);
	cJSON_Delete(claims);
	return rc;
}
