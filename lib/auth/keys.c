/*
 * The key set, read side: JWKs in the storage collection "auth.keys" under
 * their kid, each with {"retired","created","added"} (keys_set.c writes
 * them). "added" is a time-ordered id (UUIDv7 hex), so the key added or
 * generated last is found by comparing strings even when two keys arrive
 * within one second. Keys read to verify skip the private part (no key
 * derivation per verification); auth_key structs are wiped after use.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "auth_int.h"
#include "auth_jwk.h"

#define KEYS "auth.keys"

/* Wipe the private members of doc and delete it. */
static void doc_free(cJSON *doc)
{
	auth_jwk_wipe(doc);
	cJSON_Delete(doc);
}

/* Parse a stored document; public_only drops "d" first (no derivation). */
static int key_of_doc(cJSON *doc, bool public_only, const char *kid, auth_key *out)
{
	if (public_only)
		auth_jwk_drop_private(doc);
	char what[160];
	snprintf(what, sizeof(what), "auth: stored key '%.128s'", kid);
	int rc = auth_jwk_parse(doc, out, what);
	if (rc)
		return cog__error_wrap(COG_EINTEGRITY, "auth.keys");
	return COG_OK;
}

static int load(cog_ctx *ctx, const char *kid, bool public_only, auth_key *out)
{
	memset(out, 0, sizeof(*out));
	if (!kid || !kid[0])
		return cog__error(COG_ENOTFOUND, "auth: no key id");
	cJSON *doc = NULL;
	int rc = auth_doc_get(ctx, KEYS, kid, &doc);
	if (rc == COG_ENOTFOUND)
		return cog__error(COG_ENOTFOUND, "auth: unknown key id '%.128s'", kid);
	if (rc)
		return rc;
	rc = key_of_doc(doc, public_only, kid, out);
	doc_free(doc);
	return rc;
}

int auth_keys_find(cog_ctx *ctx, const char *kid, auth_key *out)
{
	return load(ctx, kid, false, out);
}

int auth_keys_find_public(cog_ctx *ctx, const char *kid, auth_key *out)
{
	return load(ctx, kid, true, out);
}

/* ---- scans ---- */

typedef struct scan_state scan_state;
struct scan_state {
	/* what to do with each stored key (a parsed object, freed after) */
	int (*visit)(scan_state *s, const char *key, cJSON *doc);
	int alg;                 /* of_alg: the wanted AUTH_ALG_* */
	auth_key *keys;          /* of_alg: the keys found */
	size_t count, cap;
	char best_kid[129];      /* signing: the newest signing key so far */
	char best_added[64];
};

static int on_doc(const char *key, const char *value, size_t len, int64_t expires_at,
                  void *user_data)
{
	(void)expires_at;
	scan_state *s = user_data;
	cJSON *doc = cJSON_ParseWithLength(value, len);
	int rc = cJSON_IsObject(doc) ? s->visit(s, key, doc) :
		cog__error(COG_EINTEGRITY, "auth.keys: stored key '%.128s' is not a JSON "
			"object", key);
	doc_free(doc);
	return rc;
}

/* Visit every stored key with s->visit. */
static int scan_keys(cog_ctx *ctx, scan_state *s)
{
	cog_storage *st;
	int rc = auth_storage(ctx, &st);
	return rc ? rc : cog_storage_scan(st, KEYS, NULL, on_doc, s);
}

static int on_signing(scan_state *s, const char *key, cJSON *doc)
{
	const char *kty = cog_json_get_string(doc, "kty");
	bool can_sign = kty && ((strcmp(kty, "OKP") == 0 && cJSON_GetObjectItem(doc, "d")) ||
		(strcmp(kty, "oct") == 0 && cJSON_GetObjectItem(doc, "k")));
	const char *added = cog_json_get_string(doc, "added");
	if (!added)
		added = "";
	if (can_sign && !cJSON_IsTrue(cJSON_GetObjectItem(doc, "retired")) &&
	    strlen(key) < sizeof(s->best_kid) && strlen(added) < sizeof(s->best_added) &&
	    (!s->best_kid[0] || strcmp(added, s->best_added) > 0)) {
		strcpy(s->best_kid, key);
		strcpy(s->best_added, added);
	}
	return 0;
}

int auth_keys_signing(cog_ctx *ctx, auth_key *out)
{
	memset(out, 0, sizeof(*out));
	scan_state s;
	memset(&s, 0, sizeof(s));
	s.visit = on_signing;
	int rc = scan_keys(ctx, &s);
	if (rc)
		return rc;
	if (!s.best_kid[0])
		return cog__error(COG_ENOTFOUND, "auth: no key can sign tokens: add one "
			"(cog_auth_key_add) or generate one (cog_auth_key_generate)");
	rc = load(ctx, s.best_kid, false, out);
	if (rc == COG_OK && (!out->can_sign || out->retired)) {
		/* Changed between the scan and the read (another thread). */
		auth_key_dispose(out);
		rc = cog__error(COG_ENOTFOUND, "auth: the signing key changed while it was "
			"read; try again");
	}
	return rc;
}

static int on_of_alg(scan_state *s, const char *key, cJSON *doc)
{
	int rc = COG_OK;
	const char *alg = cog_json_get_string(doc, "alg");
	if (alg && auth_alg_of_name(alg) == s->alg) {
		if (s->count == s->cap) {
			size_t cap = s->cap ? s->cap * 2 : 4;
			auth_key *grown = cog__calloc(cap, sizeof(*grown));
			if (!grown)
				return cog__oom("auth keys");
			if (s->count)
				memcpy(grown, s->keys, s->count * sizeof(*grown));
			sodium_memzero(s->keys, s->cap * sizeof(*s->keys));
			cog_free(s->keys);
			s->keys = grown;
			s->cap = cap;
		}
		rc = key_of_doc(doc, true, key, &s->keys[s->count]);
		if (!rc)
			s->count++;
	}
	return rc;
}

int auth_keys_of_alg(cog_ctx *ctx, int alg, auth_key **keys, size_t *count)
{
	*keys = NULL;
	*count = 0;
	scan_state s;
	memset(&s, 0, sizeof(s));
	s.visit = on_of_alg;
	s.alg = alg;
	int rc = scan_keys(ctx, &s);
	if (rc) {
		auth_keys_dispose(s.keys, s.count);
		return rc;
	}
	*keys = s.keys;
	*count = s.count;
	return COG_OK;
}

void auth_keys_dispose(auth_key *keys, size_t count)
{
	if (!keys)
		return;
	for (size_t i = 0; i < count; i++)
		auth_key_dispose(&keys[i]);
	cog_free(keys);
}

