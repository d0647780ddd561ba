/* BLAKE2b through libsodium, and hex encoding. */
#include <sodium.h>

#include "core_int.h"

int cog_hash_blake2b(uint8_t *out, size_t out_len, const void *data,
                     size_t len, const uint8_t *key, size_t key_len)
{
	COG_CHECK_ARG(out != NULL, "cog_hash_blake2b", "out is NULL");
	COG_CHECK_ARG(data != NULL || len == 0, "cog_hash_blake2b",
		"data is NULL");
	if (out_len < crypto_generichash_BYTES_MIN ||
	    out_len > crypto_generichash_BYTES_MAX)
		return cog__error(COG_EINVAL,
			"cog_hash_blake2b: out_len must be %u..%u, got %zu",
			(unsigned int)crypto_generichash_BYTES_MIN,
			(unsigned int)crypto_generichash_BYTES_MAX, out_len);
	/* A short key weakens the MAC, and a NULL key with a length is a
	 * caller bug that would otherwise silently hash without a key. */
	if (key == NULL && key_len != 0)
		return cog__error(COG_EINVAL,
			"cog_hash_blake2b: key is NULL but key_len is %zu",
			key_len);
	if (key != NULL && (key_len < crypto_generichash_KEYBYTES_MIN ||
	                    key_len > crypto_generichash_KEYBYTES_MAX))
		return cog__error(COG_EINVAL,
			"cog_hash_blake2b: key_len must be %u..%u, got %zu",
			(unsigned int)crypto_generichash_KEYBYTES_MIN,
			(unsigned int)crypto_generichash_KEYBYTES_MAX, key_len);

	if (crypto_generichash(out, out_len, data, (unsigned long long)len,
	                       key, key_len) != 0)
		return cog__error(COG_ERROR,
			"cog_hash_blake2b: crypto_generichash failed");
	return COG_OK;
}

void cog_hex_encode(const uint8_t *bytes, size_t len, char *out)
{
	/* sodium_bin2hex runs in constant time: the bytes may be key
	 * material or token secrets. */
	sodium_bin2hex(out, 2 * len + 1, bytes, len);
}
