/*
 * Cross-file helpers of the key and token files (jwk.c, keys.c, jws.c,
 * token.c) that auth_int.h does not declare (yet): the lead may move them
 * there.
 */
#ifndef COG_AUTH_JWK_H
#define COG_AUTH_JWK_H

#include "auth_int.h"

/* AUTH_ALG_* of a JWS "alg" ("EdDSA" and "Ed25519" both name Ed25519);
 * 0 for any other (including "none"). jwk.c */
int auth_alg_of_name(const char *name);

/* Overwrite the private members ("d", "k") of a parsed JWK with zeros
 * before it is deleted. jwk.c */
void auth_jwk_wipe(cJSON *jwk);

/* Wipe and remove an Ed25519 JWK's "d" (NULL-safe): what is left parses
 * as the public key. jwk.c */
void auth_jwk_drop_private(cJSON *jwk);

/* auth_keys_find for verifying only: the private part of an Ed25519 key is
 * not loaded (no key derivation on the verify path; can_sign is false for
 * it). keys.c */
int auth_keys_find_public(cog_ctx *ctx, const char *kid, auth_key *out);

/* b64.c: auth_b64url_decode for a secret (a JWK's "d" or "k"): a failure
 * says only "<what>: not base64url" (no offset, byte or length). */
int auth_b64url_decode_secret(const char *s, size_t len, const char *what,
                              unsigned char **out, size_t *out_len);

#endif
