/*
 * Memory records for backends without the version 2 members. A record is a
 * document of the collection "cog.memory" under "<ns>#<id as 16 hex
 * digits>": namespaces have no '#', so the prefix "<ns>#" is exactly one
 * namespace (the storage's own prefix scan enforces it) and key order is id
 * order. Ids are the sequence numbers of appends to the log
 * "cog.memory.ids", which are never reused. The document keeps the record's
 * expiry, so the backend hides and purges expired records like documents.
 * A search reads the namespaces it names (storage_memfall_query.c).
 *
 * This file: the document layout, and put.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "storage_int.h"

#define ID_LIMIT (UINT64_C(1) << 53)

void cog__memfall_key(char key[COG_MEMFALL_KEY_MAX], const char *ns, uint64_t id)
{
	snprintf(key, COG_MEMFALL_KEY_MAX, "%s#%016llx", ns, (unsigned long long)id);
}

/* ---- a record as a document ---- */

static void put_embedding(cog_buf *b, const float *v, uint32_t dim)
{
	size_t bytes = (size_t)dim * 4;
	size_t b64 = sodium_base64_encoded_len(bytes, sodium_base64_VARIANT_ORIGINAL);
	unsigned char *raw = cog_malloc(bytes);
	if (!raw || cog_buf_reserve(b, b64 + 2)) {
		cog_free(raw);
		b->failed = true;
		return;
	}
	for (uint32_t i = 0; i < dim; i++) {
		uint32_t u;
		memcpy(&u, &v[i], 4);
		raw[4 * i] = (unsigned char)u;
		raw[4 * i + 1] = (unsigned char)(u >> 8);
		raw[4 * i + 2] = (unsigned char)(u >> 16);
		raw[4 * i + 3] = (unsigned char)(u >> 24);
	}
	cog_buf_putc(b, '"');
	sodium_bin2base64(b->ptr + b->len, b64, raw, bytes, sodium_base64_VARIANT_ORIGINAL);
	b->len += b64 - 1;
	cog_buf_putc(b, '"');
	cog_free(raw);
}

static int encode(cog_buf *b, const cog_storage_memory_record *r)
{
	cog_buf_printf(b, "{\"id\":%llu,\"ns\":", (unsigned long long)r->id);
	cog_buf_put_json_string(b, r->ns, strlen(r->ns));
	cog_buf_printf(b, ",\"layer\":%u,\"text\":", r->layer);
	cog_buf_put_json_string(b, r->text, r->text_len);
	/* Metadata as a string: it comes back byte for byte. */
	cog_buf_puts(b, ",\"metadata\":");
	cog_buf_put_json_string(b, r->metadata, r->metadata_len);
	cog_buf_printf(b, ",\"importance\":%.17g,\"created_at\":%lld,\"updated_at\":%lld,"
		"\"expires_at\":%lld,\"embed_model\":", r->importance,
		(long long)r->created_at, (long long)r->updated_at, (long long)r->expires_at);
	cog_buf_put_json_string(b, r->embed_model, strlen(r->embed_model));
	cog_buf_printf(b, ",\"dim\":%u,\"embedding\":", r->embedding ? r->dim : 0);
	if (r->embedding)
		put_embedding(b, r->embedding, r->dim);
	else
		cog_buf_puts(b, "null");
	cog_buf_putc(b, '}');
	return b->failed ? cog__oom("cog_storage_memory_put") : COG_OK;
}

static int64_t get_int(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : -1;
}

int cog__memfall_decode(const cJSON *root, const char *key, bool embedding,
                  cog_storage_memory_record *r, float **vec)
{
	const cJSON *text = cJSON_GetObjectItemCaseSensitive(root, "text");
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "metadata");
	const cJSON *ns = cJSON_GetObjectItemCaseSensitive(root, "ns");
	const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "embed_model");
	const cJSON *imp = cJSON_GetObjectItemCaseSensitive(root, "importance");
	memset(r, 0, sizeof(*r));
	int64_t id = get_int(root, "id");
	if (!cJSON_IsObject(root) || id <= 0 || !cJSON_IsString(text) ||
	    !cJSON_IsString(meta) || !cJSON_IsString(ns) || !cJSON_IsString(model) ||
	    !cJSON_IsNumber(imp))
		return cog__error(COG_EIO,
			"memory records: document '%s' of collection '" COG_MEMFALL_COLLECTION
			"' is not a memory record", key);
	r->id = (uint64_t)id;
	r->ns = ns->valuestring;
	r->layer = (unsigned int)get_int(root, "layer");
	r->text = text->valuestring;
	r->text_len = strlen(text->valuestring);
	r->metadata = meta->valuestring;
	r->metadata_len = strlen(meta->valuestring);
	r->importance = imp->valuedouble;
	r->created_at = get_int(root, "created_at");
	r->updated_at = get_int(root, "updated_at");
	r->expires_at = get_int(root, "expires_at");
	r->embed_model = model->valuestring;
	if (!embedding)
		return COG_OK;
	const cJSON *b64 = cJSON_GetObjectItemCaseSensitive(root, "embedding");
	int64_t dim = get_int(root, "dim");
	if (!cJSON_IsString(b64) || dim <= 0)
		return COG_OK;
	size_t bytes = (size_t)dim * 4, got = 0;
	unsigned char *raw = cog_malloc(bytes);
	float *v = cog_malloc(bytes);
	if (!raw || !v) {
		cog_free(raw);
		cog_free(v);
		return cog__oom("cog_storage_memory_find");
	}
	if (sodium_base642bin(raw, bytes, b64->valuestring, strlen(b64->valuestring), NULL,
	                      &got, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 || got != bytes) {
		cog_free(raw);
		cog_free(v);
		return cog__error(COG_EIO, "memory records: document '%s' has a damaged embedding",
			key);
	}
	for (size_t i = 0; i < (size_t)dim; i++) {
		uint32_t u = (uint32_t)raw[4 * i] | (uint32_t)raw[4 * i + 1] << 8 |
			(uint32_t)raw[4 * i + 2] << 16 | (uint32_t)raw[4 * i + 3] << 24;
		memcpy(&v[i], &u, 4);
	}
	cog_free(raw);
	*vec = v;
	r->embedding = v;
	r->dim = (uint32_t)dim;
	return COG_OK;
}

/* ---- put ---- */

static int put_doc(const cog_storage_vtable *vt, const cog_storage_memory_record *r)
{
	cog_buf b = COG_BUF_INIT;
	char key[COG_MEMFALL_KEY_MAX];
	int rc = encode(&b, r);
	if (!rc) {
		cog__memfall_key(key, r->ns, r->id);
		rc = vt->put(vt->self, COG_MEMFALL_COLLECTION, key, b.ptr, b.len, r->expires_at);
	}
	cog_buf_dispose(&b);
	return rc;
}

static int insert(const cog_storage_vtable *vt, cog_storage_memory_record *r)
{
	uint64_t seq = 0;
	int rc = vt->append(vt->self, COG_MEMFALL_IDS_LOG, "{}", 2, &seq);
	if (rc)
		return rc;
	if (seq == 0 || seq >= ID_LIMIT)
		return cog__error(COG_ERANGE, "cog_storage_memory_put: ids are used up");
	r->id = seq;
	if ((rc = put_doc(vt, r)))
		return rc;
	/* The log only numbers records: keep its last entry (truncation keeps
	 * the numbering). */
	return vt->truncate ? vt->truncate(vt->self, COG_MEMFALL_IDS_LOG, seq) : COG_OK;
}

int cog__memfall_put(const cog_storage_vtable *vt, bool in_txn,
                     cog_storage_memory_record *rec)
{
	if (rec->id != 0) {
		/* Replace: one write, after checking that the record is there
		 * (expired or not: until purged it still holds its id). */
		char key[COG_MEMFALL_KEY_MAX], *old = NULL;
		size_t old_len = 0;
		cog__memfall_key(key, rec->ns, rec->id);
		int rc = vt->get(vt->self, COG_MEMFALL_COLLECTION, key, 0, &old, &old_len);
		cog_free(old);
		return rc ? rc : put_doc(vt, rec);
	}
	int rc = in_txn ? COG_OK : vt->begin(vt->self);
	if (rc)
		return rc;
	rc = insert(vt, rec);
	if (!in_txn) {
		if (!rc)
			rc = vt->commit(vt->self);
		if (rc)
			vt->rollback(vt->self);
	}
	if (rc)
		rec->id = 0;
	return rc;
}
