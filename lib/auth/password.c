/*
 * Passwords: argon2id strings ("$argon2id$v=19$m=..,t=..,p=..$salt$tag")
 * made and checked by libsodium. Verification is libsodium's, which
 * compares the tags in constant time. libsodium runs argon2id with one
 * lane only, so a string with p other than 1 (made elsewhere) can never
 * verify here: it is refused as unusable (COG_EINVAL) rather than reported
 * as a wrong password.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "auth_int.h"

#define PASSWORD_MAX 4096
#define PREFIX "$argon2id$"

static void resolve_limits(unsigned long long *ops, size_t *mem)
{
	if (*ops == 0)
		*ops = crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE;
	if (*mem == 0)
		*mem = crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE;
}

static int check_limits(const char *fn, unsigned long long ops, size_t mem)
{
	if (ops < crypto_pwhash_argon2id_OPSLIMIT_MIN || ops > crypto_pwhash_argon2id_OPSLIMIT_MAX)
		return cog__error(COG_EINVAL, "%s: opslimit %llu is outside argon2id's %llu..%llu",
			fn, ops, (unsigned long long)crypto_pwhash_argon2id_OPSLIMIT_MIN,
			(unsigned long long)crypto_pwhash_argon2id_OPSLIMIT_MAX);
	if (mem < crypto_pwhash_argon2id_MEMLIMIT_MIN || mem > crypto_pwhash_argon2id_MEMLIMIT_MAX)
		return cog__error(COG_EINVAL, "%s: memlimit %zu is outside argon2id's %zu..%zu",
			fn, mem, (size_t)crypto_pwhash_argon2id_MEMLIMIT_MIN,
			(size_t)crypto_pwhash_argon2id_MEMLIMIT_MAX);
	return COG_OK;
}

/* COG_OK when hash looks like an argon2id string libsodium can use: the
 * prefix, a bounded length, and p=1. The rest is libsodium's to judge. */
static int check_hash(const char *fn, const char *hash)
{
	if (!hash)
		return cog__error(COG_EINVAL, "%s: hash is NULL", fn);
	size_t len = strnlen(hash, crypto_pwhash_argon2id_STRBYTES);
	if (len >= crypto_pwhash_argon2id_STRBYTES)
		return cog__error(COG_EINVAL, "%s: the hash is longer than an argon2id string "
			"(%d bytes at most)", fn, (int)crypto_pwhash_argon2id_STRBYTES - 1);
	if (strncmp(hash, PREFIX, strlen(PREFIX)) != 0)
		return cog__error(COG_EINVAL, "%s: the hash is not an argon2id string (it must "
			"start with \"" PREFIX "\")", fn);
	const char *p = strstr(hash, ",p=");
	if (p) {
		char *end = NULL;
		errno = 0;
		unsigned long lanes = strtoul(p + 3, &end, 10);
		if (errno == 0 && end != p + 3 && *end == '$' && lanes != 1)
			return cog__error(COG_EINVAL, "%s: the hash uses parallelism p=%lu; "
				"libsodium verifies argon2id with p=1 only", fn, lanes);
	}
	return COG_OK;
}

int cog_password_hash(const char *password, unsigned long long opslimit, size_t memlimit,
                      char **hash)
{
	static const char fn[] = "cog_password_hash";
	COG_CHECK_ARG(hash, fn, "hash is NULL");
	*hash = NULL;
	COG_CHECK_ARG(password, fn, "password is NULL");
	size_t len = strnlen(password, PASSWORD_MAX + 1);
	if (len == 0 || len > PASSWORD_MAX)
		return cog__error(COG_EINVAL, "%s: the password must be 1..%d bytes", fn,
			PASSWORD_MAX);
	resolve_limits(&opslimit, &memlimit);
	int rc = check_limits(fn, opslimit, memlimit);
	if (rc)
		return rc;
	char *out = cog_malloc(crypto_pwhash_argon2id_STRBYTES);
	if (!out)
		return cog__oom(fn);
	if (crypto_pwhash_argon2id_str(out, password, len, opslimit, memlimit) != 0) {
		cog_free(out);
		return cog__error(COG_ENOMEM, "%s: argon2id could not allocate its %zu bytes "
			"of memory", fn, memlimit);
	}
	*hash = out;
	return COG_OK;
}

int cog_password_verify(const char *hash, const char *password)
{
	static const char fn[] = "cog_password_verify";
	int rc = check_hash(fn, hash);
	if (rc)
		return rc;
	COG_CHECK_ARG(password, fn, "password is NULL");
	/* The string's own parameters must parse before the verdict means
	 * anything; needs_rehash parses them without hashing. */
	if (crypto_pwhash_argon2id_str_needs_rehash(hash, crypto_pwhash_argon2id_OPSLIMIT_MIN,
	                                            crypto_pwhash_argon2id_MEMLIMIT_MIN) < 0)
		return cog__error(COG_EINVAL, "%s: the hash is not a well-formed argon2id string", fn);
	size_t len = strnlen(password, PASSWORD_MAX + 1);
	if (len > PASSWORD_MAX)
		return cog__error(COG_EDENIED, "%s: the password does not match", fn);
	errno = 0;
	if (crypto_pwhash_argon2id_str_verify(hash, password, len) == 0)
		return COG_OK;
	if (errno == ENOMEM)
		return cog__error(COG_ENOMEM, "%s: argon2id could not allocate the memory the "
			"hash asks for", fn);
	return cog__error(COG_EDENIED, "%s: the password does not match", fn);
}

int cog_password_needs_rehash(const char *hash, unsigned long long opslimit, size_t memlimit)
{
	static const char fn[] = "cog_password_needs_rehash";
	int rc = check_hash(fn, hash);
	if (rc)
		return rc;
	resolve_limits(&opslimit, &memlimit);
	rc = check_limits(fn, opslimit, memlimit);
	if (rc)
		return rc;
	int r = crypto_pwhash_argon2id_str_needs_rehash(hash, opslimit, memlimit);
	if (r < 0)
		return cog__error(COG_EINVAL, "%s: the hash is not a well-formed argon2id string", fn);
	return r ? 1 : 0;
}
