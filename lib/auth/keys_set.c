/*
 * The key set, write side: cog_auth_key_add / generate / retire / remove
 * and the public JWK set. A stored key is its JWK (private part included:
 * it never leaves storage except as a parsed, wiped auth_key) plus
 * {"retired","created","added"}; keys.c reads them.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "auth_int.h"
#include "auth_jwk.h"

#define KEYS "auth.keys"

static void doc_free(cJSON *doc)
{
	auth_jwk_wipe(doc);
	cJSON_Delete(doc);
}
/* ---- the public calls ---- */

/* Store k under its kid (COG_EEXISTS when taken): fn for messages. */
/* Documents read and written inside a transaction go to the storage
 * handle itself: auth_doc_* would ask for the storage again, which for a
 * context without one takes the auth state's lock, and others take that
 * lock before a transaction (lock order). The text is wiped: it holds the
 * private part. */
static int doc_read(cog_storage *st, const char *kid, cJSON **doc)
{
	char *text = NULL;
	*doc = NULL;
	int rc = cog_storage_get(st, KEYS, kid, &text);
	if (rc)
		return rc;
	*doc = cJSON_Parse(text);
	sodium_memzero(text, strlen(text));
	cog_free(text);
	if (!cJSON_IsObject(*doc)) {
		doc_free(*doc);
		*doc = NULL;
		return cog__error(COG_EINTEGRITY, "auth.keys: key '%.128s' is not a JSON object",
			kid);
	}
	return COG_OK;
}

static int doc_write(cog_storage *st, const char *kid, const cJSON *doc)
{
	char *text = cog_json_print(doc);
	if (!text)
		return cog__oom("auth.keys");
	int rc = cog_storage_put(st, KEYS, kid, text, 0);
	sodium_memzero(text, strlen(text));
	cog_free(text);
	return rc;
}

/* Commit when rc is 0, else roll back; the first failure is returned. */
static int txn_end(cog_storage *st, int rc)
{
	if (rc) {
		cog_storage_rollback(st);
		return rc;
	}
	return cog_storage_commit(st);
}

static int key_store(cog_ctx *ctx, const char *fn, const auth_key *k)
{
	cog_storage *st;
	int rc = auth_storage(ctx, &st);
	if (rc)
		return rc;
	cJSON *doc = auth_jwk_export(k, true);
	if (!doc)
		return cog__oom(fn);
	cog_id id;
	char added[33];
	cog_id_new(&id);
	cog_id_to_hex(&id, added);
	if (!cJSON_AddBoolToObject(doc, "retired", false) ||
	    !cJSON_AddNumberToObject(doc, "created", (double)auth_now_s()) ||
	    !cJSON_AddStringToObject(doc, "added", added)) {
		doc_free(doc);
		return cog__oom(fn);
	}
	/* A transaction makes the check and the write one step. */
	cJSON *old = NULL;
	rc = cog_storage_begin(st);
	if (!rc) {
		rc = doc_read(st, k->kid, &old);
		if (rc == COG_OK)
			rc = cog__error(COG_EEXISTS, "%s: key id '%s' is taken", fn, k->kid);
		else if (rc == COG_ENOTFOUND)
			rc = doc_write(st, k->kid, doc);
		rc = txn_end(st, rc);
	}
	doc_free(old);
	doc_free(doc);
	return rc;
}

int cog_auth_key_add(cog_ctx *ctx, const char *jwk_json)
{
	static const char fn[] = "cog_auth_key_add";
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	COG_CHECK_ARG(jwk_json, fn, "jwk_json is NULL");
	cJSON *jwk = cJSON_Parse(jwk_json);
	if (!jwk)
		return cog__error(COG_EINVAL, "%s: the JWK is not valid JSON", fn);
	auth_key k;
	int rc = auth_jwk_parse(jwk, &k, fn);
	doc_free(jwk);
	if (rc)
		return rc;
	if (!k.kid[0])
		rc = cog__error(COG_EINVAL, "%s: the JWK has no \"kid\"", fn);
	else
		rc = key_store(ctx, fn, &k);
	auth_key_dispose(&k);
	return rc;
}

int cog_auth_key_generate(cog_ctx *ctx, const char *alg, const char *kid, char **public_jwk)
{
	static const char fn[] = "cog_auth_key_generate";
	if (public_jwk)
		*public_jwk = NULL;
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	COG_CHECK_ARG(alg, fn, "alg is NULL");
	auth_key k;
	memset(&k, 0, sizeof(k));
	k.alg = auth_alg_of_name(alg);
	if (!k.alg)
		return cog__error(COG_EINVAL, "%s: alg must be \"EdDSA\" or \"HS256\", not "
			"\"%.32s\"", fn, alg);
	if (kid) {
		size_t len = strnlen(kid, sizeof(k.kid));
		if (len == 0 || len >= sizeof(k.kid))
			return cog__error(COG_EINVAL, "%s: kid must be 1..%zu bytes", fn,
				sizeof(k.kid) - 1);
		for (size_t i = 0; i < len; i++)
			if (kid[i] < 0x20 || kid[i] > 0x7e)
				return cog__error(COG_EINVAL, "%s: kid must be printable ASCII (byte "
					"%zu is not)", fn, i);
		memcpy(k.kid, kid, len + 1);
	} else {
		char *r = auth_random_token("", 16);
		if (!r)
			return cog__oom(fn);
		snprintf(k.kid, sizeof(k.kid), "%s", r);
		cog_free(r);
	}
	k.can_sign = true;
	if (k.alg == AUTH_ALG_EDDSA) {
		crypto_sign_keypair(k.pub, k.sk);
	} else {
		k.hmac_len = 32;
		k.hmac = cog_malloc(k.hmac_len);
		if (!k.hmac)
			return cog__oom(fn);
		randombytes_buf(k.hmac, k.hmac_len);
	}
	int rc = key_store(ctx, fn, &k);
	if (!rc && public_jwk) {
		cJSON *pub = auth_jwk_export(&k, false);
		*public_jwk = pub ? cog_json_print(pub) : NULL;
		cJSON_Delete(pub);
		if (!*public_jwk)
			rc = cog__oom(fn);
	}
	auth_key_dispose(&k);
	return rc;
}

int cog_auth_key_retire(cog_ctx *ctx, const char *kid)
{
	static const char fn[] = "cog_auth_key_retire";
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	COG_CHECK_ARG(kid && kid[0], fn, "kid is NULL or empty");
	cog_storage *st;
	int rc = auth_storage(ctx, &st);
	if (rc)
		return rc;
	rc = cog_storage_begin(st);
	if (rc)
		return rc;
	cJSON *doc = NULL;
	rc = doc_read(st, kid, &doc);
	if (rc == COG_ENOTFOUND)
		rc = cog__error(COG_ENOTFOUND, "%s: no key '%.128s'", fn, kid);
	if (!rc) {
		cJSON_DeleteItemFromObjectCaseSensitive(doc, "retired");
		if (!cJSON_AddTrueToObject(doc, "retired"))
			rc = cog__oom(fn);
	}
	if (!rc)
		rc = doc_write(st, kid, doc);
	rc = txn_end(st, rc);
	doc_free(doc);
	return rc;
}

int cog_auth_key_remove(cog_ctx *ctx, const char *kid)
{
	static const char fn[] = "cog_auth_key_remove";
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	COG_CHECK_ARG(kid && kid[0], fn, "kid is NULL or empty");
	int rc = auth_doc_del(ctx, KEYS, kid);
	if (rc == COG_ENOTFOUND)
		rc = cog__error(COG_ENOTFOUND, "%s: no key '%.128s'", fn, kid);
	return rc;
}

static int on_jwks(const char *key, const char *value, size_t len, int64_t expires_at,
                   void *user_data)
{
	(void)expires_at;
	cJSON *jwks = user_data;
	cJSON *doc = cJSON_ParseWithLength(value, len);
	auth_jwk_drop_private(doc);
	auth_key k;
	char what[160];
	snprintf(what, sizeof(what), "auth.keys: stored key '%.128s'", key);
	int rc = auth_jwk_parse(doc, &k, what);
	doc_free(doc);
	if (rc)
		return rc == COG_ENOMEM ? rc : COG_EINTEGRITY;
	if (k.alg == AUTH_ALG_EDDSA) {
		cJSON *pub = auth_jwk_export(&k, false);
		if (!pub || !cJSON_AddStringToObject(pub, "use", "sig") ||
		    !cJSON_AddItemToArray(jwks, pub)) {
			cJSON_Delete(pub);
			rc = cog__oom("cog_auth_jwks");
		}
	}
	auth_key_dispose(&k);
	return rc;
}

int cog_auth_jwks(cog_ctx *ctx, char **json)
{
	static const char fn[] = "cog_auth_jwks";
	COG_CHECK_ARG(json, fn, "json is NULL");
	*json = NULL;
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	cog_storage *st;
	int rc = auth_storage(ctx, &st);
	if (rc)
		return rc;
	cJSON *set = cJSON_CreateObject();
	cJSON *keys = cJSON_AddArrayToObject(set, "keys");
	if (!keys) {
		cJSON_Delete(set);
		return cog__oom(fn);
	}
	rc = cog_storage_scan(st, KEYS, NULL, on_jwks, keys);
	if (!rc) {
		*json = cog_json_print(set);
		if (!*json)
			rc = cog__oom(fn);
	}
	cJSON_Delete(set);
	return rc;
}
