/*
 * The vector index of a handle (lib/memory/index.c, index_sync.c) over a
 * real in-memory storage: memories are written straight into the storage
 * (as another handle or process would) and the index must load exactly the
 * handle's namespace chain, pick up new rows at the next sync, never return
 * forgotten rows, honour slot and layer masks, find near duplicates only in
 * the handle's own namespace and layer, and re-embed (and write back) rows
 * made by another embedder.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index_int.h"

#define DIM 64

static cog_ctx *ctx;
static cog_storage *store;   /* owned by ctx */

static void setup(void)
{
	ck_assert_int_eq(cog_ctx_new(&ctx, NULL), 0);
	cog_storage *s = NULL;
	ck_assert_int_eq(cog_storage_memory_new(&s), 0);
	ck_assert_int_eq(cog_ctx_set_storage(ctx, s), 0);
	store = s;
}

static void teardown(void)
{
	cog_ctx_free(ctx);
	ctx = NULL;
	store = NULL;
}

static cog_memory *open_mem(const char *ns)
{
	cog_memory_options o;
	ck_assert_int_eq(cog_memory_options_init(&o, COG_MEMORY_OPTIONS_VERSION), 0);
	o.embedder = "hashing";
	o.hashing_dim = DIM;
	o.no_redact = 1;
	cog_memory *m = NULL;
	int rc = cog_memory_open_with(&m, ctx, ns, &o);
	ck_assert_msg(rc == 0, "open %s: %s", ns, cog_error_last());
	return m;
}

/* A memory written directly to the storage; vec NULL: the hashing
 * embedder's vector of text at `dim` (0: no embedding at all). */
static uint64_t store_raw(const char *ns, unsigned int layer, const char *text,
                          const char *model, const float *vec, size_t dim)
{
	float own[DIM * 2];
	if (!vec && dim) {
		ck_assert_uint_le(dim, DIM * 2);
		ck_assert_int_eq(mem_hash_embed(text, strlen(text), own, dim), 0);
		vec = own;
	}
	cog_storage_memory_record r = { 0 };
	r.ns = ns;
	r.layer = layer;
	r.text = text;
	r.text_len = strlen(text);
	r.metadata = "{}";
	r.metadata_len = 2;
	r.importance = 0.5;
	r.created_at = r.updated_at = 1700000000000;
	r.embed_model = dim ? model : "";
	r.embedding = dim ? vec : NULL;
	r.dim = (uint32_t)dim;
	int rc = cog_storage_memory_put(store, &r);
	ck_assert_msg(rc == 0, "put: %s", cog_error_last());
	return r.id;
}

static uint64_t store_text(const char *ns, unsigned int layer, const char *text)
{
	return store_raw(ns, layer, text, "hash-64", NULL, DIM);
}

static void sync_ok(cog_memory *m)
{
	int rc = mem_index_sync(m);
	ck_assert_msg(rc == 0, "sync: %d %s", rc, cog_error_last());
	ck_assert_ptr_nonnull(m->index);
}

/* Every id a search with these masks returns (k = 1000), as a bitmap over
 * ids below 4096. */
static size_t search_ids(cog_memory *m, const char *query, unsigned int slots,
                         unsigned int layers, uint8_t seen[512])
{
	float q[DIM];
	ck_assert_int_eq(mem_hash_embed(query, strlen(query), q, DIM), 0);
	mem_vec_hit *hits = malloc(1000 * sizeof(*hits));
	size_t n = 99;
	int rc = mem_index_search(m, q, 1000, slots, layers, hits, &n);
	ck_assert_msg(rc == 0, "search: %s", cog_error_last());
	memset(seen, 0, 512);
	for (size_t i = 0; i < n; i++) {
		ck_assert_uint_lt(hits[i].id, 4096);
		ck_assert_msg(!(seen[hits[i].id / 8] >> (hits[i].id % 8) & 1), "id twice");
		seen[hits[i].id / 8] |= (uint8_t)(1u << (hits[i].id % 8));
		if (i)
			ck_assert(hits[i].score <= hits[i - 1].score);
	}
	free(hits);
	return n;
}

static bool has(const uint8_t seen[512], uint64_t id)
{
	return seen[id / 8] >> (id % 8) & 1;
}

START_TEST(sync_loads_the_chain_only)
{
	cog_memory *m = open_mem("acme/alice/helper");
	uint64_t own = store_text("acme/alice/helper", COG_MEMORY_LONG_TERM, "own note about invoices");
	uint64_t parent = store_text("acme/alice", COG_MEMORY_LONG_TERM, "alice note about invoices");
	uint64_t tenant = store_text("acme", COG_MEMORY_LONG_TERM, "tenant note about invoices");
	uint64_t others[] = {
		store_text("acme/bob", COG_MEMORY_LONG_TERM, "bob note about invoices"),
		store_text("acme/alice/helper/s1", COG_MEMORY_LONG_TERM, "child note about invoices"),
		store_text("acme/alice/other", COG_MEMORY_LONG_TERM, "sibling note about invoices"),
		store_text("evil", COG_MEMORY_LONG_TERM, "other tenant note about invoices"),
		store_text("acme/alice/helperx", COG_MEMORY_LONG_TERM, "prefix note about invoices"),
	};
	sync_ok(m);
	ck_assert_uint_eq(m->index->vs->count, 3);
	uint8_t seen[512];
	ck_assert_uint_eq(search_ids(m, "note about invoices", 0x7, COG_MEMORY_LAYERS_ALL, seen), 3);
	ck_assert(has(seen, own) && has(seen, parent) && has(seen, tenant));
	for (size_t i = 0; i < COG_ARRAY_LEN(others); i++)
		ck_assert(!has(seen, others[i]));
	/* each row knows its slot */
	ck_assert_uint_eq(search_ids(m, "note", 0x1, COG_MEMORY_LAYERS_ALL, seen), 1);
	ck_assert(has(seen, own));
	ck_assert_uint_eq(search_ids(m, "note", 0x2, COG_MEMORY_LAYERS_ALL, seen), 1);
	ck_assert(has(seen, parent));
	ck_assert_uint_eq(search_ids(m, "note", 0x4, COG_MEMORY_LAYERS_ALL, seen), 1);
	ck_assert(has(seen, tenant));
	ck_assert_uint_eq(search_ids(m, "note", 0x8, COG_MEMORY_LAYERS_ALL, seen), 0);
	ck_assert_uint_eq(m->index->reembedded, 0);
	cog_memory_free(m);
}
END_TEST

START_TEST(refresh_picks_up_new_rows)
{
	cog_memory *m = open_mem("acme/alice");
	store_text("acme/alice", COG_MEMORY_LONG_TERM, "first");
	sync_ok(m);
	ck_assert_uint_eq(m->index->vs->count, 1);
	uint64_t before = m->index->max_id;
	/* nothing new: nothing changes */
	sync_ok(m);
	ck_assert_uint_eq(m->index->vs->count, 1);
	ck_assert_uint_eq(m->index->max_id, before);
	/* another writer's rows (and one elsewhere) */
	uint64_t a = store_text("acme/alice", COG_MEMORY_LONG_TERM, "second memory");
	store_text("acme/bob", COG_MEMORY_LONG_TERM, "not ours");
	uint64_t b = store_text("acme", COG_MEMORY_SHORT_TERM, "tenant wide");
	sync_ok(m);
	ck_assert_uint_eq(m->index->vs->count, 3);
	ck_assert(ix_has(m->index, a) && ix_has(m->index, b));
	ck_assert_uint_ge(m->index->max_id, b);
	/* this handle's own write, added at once and not loaded twice */
	float v[DIM];
	ck_assert_int_eq(mem_hash_embed("third memory", 12, v, DIM), 0);
	uint64_t c = store_text("acme/alice", COG_MEMORY_LONG_TERM, "third memory");
	ck_assert_int_eq(mem_index_add(m, c, 0, COG_MEMORY_LONG_TERM, v, NULL), 0);
	ck_assert_uint_eq(m->index->vs->count, 4);
	sync_ok(m);
	ck_assert_uint_eq(m->index->vs->count, 4);
	/* a row without an embedding is not in the index */
	uint64_t bare = store_raw("acme/alice", COG_MEMORY_LONG_TERM, "no vector", "", NULL, 0);
	sync_ok(m);
	ck_assert_uint_eq(m->index->vs->count, 4);
	ck_assert(!ix_has(m->index, bare));
	ck_assert_uint_ge(m->index->max_id, bare);
	/* an index that does not exist yet is made by add (and loads the rest) */
	cog_memory *m2 = open_mem("acme/alice");
	ck_assert_int_eq(mem_index_add(m2, c, 0, COG_MEMORY_LONG_TERM, v, NULL), 0);
	ck_assert_ptr_nonnull(m2->index);
	ck_assert_uint_eq(m2->index->vs->count, 4);
	cog_memory_free(m2);
	cog_memory_free(m);
}
END_TEST

START_TEST(killed_rows_never_return)
{
	cog_memory *m = open_mem("t/u");
	uint64_t ids[20];
	char text[64];
	for (int i = 0; i < 20; i++) {
		snprintf(text, sizeof(text), "memory number %d about the garden", i);
		ids[i] = store_text("t/u", COG_MEMORY_LONG_TERM, text);
	}
	sync_ok(m);
	for (int i = 0; i < 20; i += 2)
		mem_index_kill(m, ids[i]);
	mem_index_kill(m, ids[0]);            /* twice: no harm */
	mem_index_kill(m, 999999);            /* unknown: no harm */
	uint8_t seen[512];
	ck_assert_uint_eq(search_ids(m, "garden", 0x1, COG_MEMORY_LAYERS_ALL, seen), 10);
	for (int i = 0; i < 20; i++)
		ck_assert(has(seen, ids[i]) == (i % 2 == 1));
	/* the exact vector of a forgotten memory is no near duplicate */
	float v[DIM];
	snprintf(text, sizeof(text), "memory number %d about the garden", 4);
	ck_assert_int_eq(mem_hash_embed(text, strlen(text), v, DIM), 0);
	uint64_t dup = 1;
	float cos = 0;
	ck_assert_int_eq(mem_index_near_duplicate(m, v, COG_MEMORY_LONG_TERM, 0.99, NULL,
	                                           &dup, &cos), 0);
	ck_assert_uint_eq(dup, 0);
	/* a forgotten row stays off after a refresh */
	sync_ok(m);
	ck_assert_uint_eq(search_ids(m, "garden", 0x1, COG_MEMORY_LAYERS_ALL, seen), 10);
	/* a memory re-added under its id (new vector) gets a new live row */
	ck_assert_int_eq(mem_index_add(m, ids[4], 0, COG_MEMORY_LONG_TERM, v, NULL), 0);
	ck_assert_uint_eq(search_ids(m, "garden", 0x1, COG_MEMORY_LAYERS_ALL, seen), 11);
	ck_assert(has(seen, ids[4]));
	ck_assert_int_eq(mem_index_add(m, ids[5], 0, COG_MEMORY_LONG_TERM, v, NULL), 0);
	ck_assert_uint_eq(search_ids(m, "garden", 0x1, COG_MEMORY_LAYERS_ALL, seen), 11);
	cog_memory_free(m);
}
END_TEST

START_TEST(layer_and_slot_masks)
{
	cog_memory *m = open_mem("t/u/a");
	uint64_t s = store_text("t/u/a", COG_MEMORY_SHORT_TERM, "deploy notes short");
	uint64_t l = store_text("t/u/a", COG_MEMORY_LONG_TERM, "deploy notes long");
	uint64_t e = store_text("t/u/a", COG_MEMORY_EPISODIC, "deploy notes episode");
	uint64_t pl = store_text("t/u", COG_MEMORY_LONG_TERM, "deploy notes parent long");
	uint64_t pe = store_text("t/u", COG_MEMORY_EPISODIC, "deploy notes parent episode");
	sync_ok(m);
	uint8_t seen[512];
	ck_assert_uint_eq(search_ids(m, "deploy", 0x1, COG_MEMORY_SHORT_TERM, seen), 1);
	ck_assert(has(seen, s));
	ck_assert_uint_eq(search_ids(m, "deploy", 0x1,
	                             COG_MEMORY_LONG_TERM | COG_MEMORY_EPISODIC, seen), 2);
	ck_assert(has(seen, l) && has(seen, e));
	ck_assert_uint_eq(search_ids(m, "deploy", 0x3, COG_MEMORY_EPISODIC, seen), 2);
	ck_assert(has(seen, e) && has(seen, pe));
	ck_assert_uint_eq(search_ids(m, "deploy", 0x2, COG_MEMORY_LAYERS_ALL, seen), 2);
	ck_assert(has(seen, pl) && has(seen, pe));
	ck_assert_uint_eq(search_ids(m, "deploy", 0x7, COG_MEMORY_LAYERS_ALL, seen), 5);
	ck_assert_uint_eq(search_ids(m, "deploy", 0x1, COG_MEMORY_WORKING, seen), 0);
	ck_assert_uint_eq(search_ids(m, "deploy", 0x0, COG_MEMORY_LAYERS_ALL, seen), 0);
	/* k smaller than the matches: the best k, best first */
	float q[DIM];
	ck_assert_int_eq(mem_hash_embed("deploy notes long", 17, q, DIM), 0);
	mem_vec_hit hits[2];
	size_t n = 0;
	ck_assert_int_eq(mem_index_search(m, q, 2, 0x3, COG_MEMORY_LAYERS_ALL, hits, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(hits[0].id, l);
	ck_assert_float_eq_tol(hits[0].score, 1.0f, 1e-5f);
	cog_memory_free(m);
}
END_TEST

START_TEST(near_duplicates)
{
	cog_memory *m = open_mem("t/u");
	const char *base = "the customer asked for a refund of the second invoice from march "
	                   "because it was paid twice by mistake";
	/* host vectors (the hashing embedder's, kept as they are): no words,
	 * so every row goes through the LSH and the cosine decides alone */
	uint64_t id = store_raw("t/u", COG_MEMORY_LONG_TERM, base, "host", NULL, DIM);
	store_text("t/u", COG_MEMORY_LONG_TERM, "completely different: the garden needs water");
	uint64_t parent = store_text("t", COG_MEMORY_LONG_TERM, "parent copy: a b c d e f g");
	store_text("t/u", COG_MEMORY_SHORT_TERM, "short copy: a b c d e f g");
	sync_ok(m);
	float v[DIM], w[DIM];
	ck_assert_int_eq(mem_hash_embed(base, strlen(base), v, DIM), 0);
	uint64_t dup = 0;
	float cos = 0;
	/* the same text: found, cosine 1 */
	ck_assert_int_eq(mem_index_near_duplicate(m, v, COG_MEMORY_LONG_TERM, 0.95, NULL,
	                                           &dup, &cos), 0);
	ck_assert_uint_eq(dup, id);
	ck_assert_float_eq_tol(cos, 1.0f, 1e-5f);
	/* a vector that is not of unit length still compares by cosine */
	for (size_t i = 0; i < DIM; i++)
		w[i] = 3 * v[i];
	ck_assert_int_eq(mem_index_near_duplicate(m, w, COG_MEMORY_LONG_TERM, 0.95, NULL,
	                                           &dup, &cos), 0);
	ck_assert_uint_eq(dup, id);
	/* one word changed: a cosine between the two thresholds below */
	const char *edit = "the customer asked for a refund of the third invoice from march "
	                   "because it was paid twice by mistake";
	ck_assert_int_eq(mem_hash_embed(edit, strlen(edit), w, DIM), 0);
	double exact = 0;
	for (size_t i = 0; i < DIM; i++)
		exact += (double)v[i] * w[i];
	ck_assert_msg(exact > 0.7 && exact < 0.99, "cosine %.3f", exact);
	ck_assert_int_eq(mem_index_near_duplicate(m, w, COG_MEMORY_LONG_TERM, exact + 0.005,
	                                          NULL, &dup, &cos), 0);
	ck_assert_uint_eq(dup, 0);
	ck_assert_float_eq(cos, 0);
	ck_assert_int_eq(mem_index_near_duplicate(m, w, COG_MEMORY_LONG_TERM, exact - 0.005,
	                                          NULL, &dup, &cos), 0);
	ck_assert_uint_eq(dup, id);
	ck_assert_float_eq_tol(cos, (float)exact, 1e-4f);
	/* another layer, or an ancestor's memory, is never a duplicate */
	ck_assert_int_eq(mem_index_near_duplicate(m, v, COG_MEMORY_SHORT_TERM, 0.5, NULL,
	                                           &dup, &cos), 0);
	ck_assert_uint_eq(dup, 0);
	ck_assert_int_eq(mem_hash_embed("parent copy: a b c d e f g", 26, w, DIM), 0);
	ck_assert_int_eq(mem_index_near_duplicate(m, w, COG_MEMORY_LONG_TERM, 0.9, NULL,
	                                           &dup, &cos), 0);
	ck_assert_uint_eq(dup, 0);
	(void)parent;
	/* threshold above 1: never */
	ck_assert_int_eq(mem_index_near_duplicate(m, v, COG_MEMORY_LONG_TERM, 2.0, NULL,
	                                           &dup, &cos), 0);
	ck_assert_uint_eq(dup, 0);
	/* of two equal candidates the lower id wins */
	uint64_t again = store_raw("t/u", COG_MEMORY_LONG_TERM, base, "host", NULL, DIM);
	sync_ok(m);
	ck_assert_uint_gt(again, id);
	ck_assert_int_eq(mem_index_near_duplicate(m, v, COG_MEMORY_LONG_TERM, 0.95, NULL,
	                                           &dup, &cos), 0);
	ck_assert_uint_eq(dup, id);
	/* a zero vector is refused */
	memset(w, 0, sizeof(w));
	ck_assert_int_eq(mem_index_near_duplicate(m, w, COG_MEMORY_LONG_TERM, 0.95, NULL,
	                                           &dup, &cos),
	                 COG_EINVAL);
	cog_memory_free(m);
}
END_TEST

/* The stored record of id: its model, dim and first floats. */
typedef struct stored {
	char model[64];
	uint32_t dim;
	float vec[DIM];
	char metadata[128];
	double importance;
	int64_t updated_at;
	int found;
} stored;

static int keep_stored(const cog_storage_memory_record *rec, double score, void *ud)
{
	(void)score;
	stored *s = ud;
	snprintf(s->model, sizeof(s->model), "%s", rec->embed_model);
	s->dim = rec->dim;
	snprintf(s->metadata, sizeof(s->metadata), "%s", rec->metadata);
	s->importance = rec->importance;
	s->updated_at = rec->updated_at;
	if (rec->embedding)
		memcpy(s->vec, rec->embedding, (rec->dim < DIM ? rec->dim : DIM) * sizeof(float));
	s->found++;
	return 0;
}

static stored read_back(const char *ns, uint64_t id)
{
	stored s = { 0 };
	cog_storage_memory_query q = { 0 };
	q.ns = &ns;
	q.ns_count = 1;
	q.ids = &id;
	q.id_count = 1;
	q.with_embedding = 1;
	ck_assert_int_eq(cog_storage_memory_find(store, &q, keep_stored, &s), 0);
	ck_assert_int_eq(s.found, 1);
	return s;
}

START_TEST(reembeds_other_models)
{
	float odd[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	float same_dim[DIM];
	for (size_t i = 0; i < DIM; i++)
		same_dim[i] = (float)(i % 7) - 3;
	uint64_t ok = store_text("r/s", COG_MEMORY_LONG_TERM, "already hashed at 64");
	uint64_t other = store_raw("r/s", COG_MEMORY_LONG_TERM, "made by another model",
	                           "text-embedding-3-small", odd, 8);
	uint64_t same = store_raw("r/s", COG_MEMORY_SHORT_TERM, "same size, other model",
	                          "old-model", same_dim, DIM);
	uint64_t host = store_raw("r", COG_MEMORY_LONG_TERM, "the host's own vector", "host",
	                          same_dim, DIM);
	uint64_t host_odd = store_raw("r/s", COG_MEMORY_LONG_TERM, "host vector, wrong size",
	                              "host", odd, 8);
	uint64_t hashed128 = store_raw("r/s", COG_MEMORY_LONG_TERM, "hashed at another size",
	                               "hash-128", NULL, 128);
	cog_memory *m = open_mem("r/s");
	sync_ok(m);
	ck_assert_uint_eq(m->index->vs->count, 5);   /* all but the host's odd one */
	ck_assert_uint_eq(m->index->reembedded, 3);
	ck_assert(!ix_has(m->index, host_odd));
	static const struct { const char *text; int which; } redone[] = {
		{ "made by another model", 1 }, { "same size, other model", 2 },
		{ "hashed at another size", 5 },
	};
	uint64_t ids[] = { ok, other, same, host, host_odd, hashed128 };
	for (size_t i = 0; i < COG_ARRAY_LEN(redone); i++) {
		stored s = read_back("r/s", ids[redone[i].which]);
		ck_assert_str_eq(s.model, "hash-64");
		ck_assert_uint_eq(s.dim, DIM);
		float want[DIM];
		ck_assert_int_eq(mem_hash_embed(redone[i].text, strlen(redone[i].text), want, DIM), 0);
		for (size_t j = 0; j < DIM; j++)
			ck_assert_float_eq_tol(s.vec[j], want[j], 1e-6f);
	}
	/* the host's vectors are never replaced */
	stored ho = read_back("r/s", host_odd);
	ck_assert_str_eq(ho.model, "host");
	ck_assert_uint_eq(ho.dim, 8);
	/* the host's vector of the right size is kept as it was */
	stored h = read_back("r", host);
	ck_assert_str_eq(h.model, "host");
	ck_assert_float_eq(h.vec[0], same_dim[0]);
	/* the re-embedded rows are searchable with their new vectors */
	uint8_t seen[512];
	ck_assert_uint_eq(search_ids(m, "another model", 0x3, COG_MEMORY_LAYERS_ALL, seen), 5);
	float q[DIM];
	ck_assert_int_eq(mem_hash_embed("made by another model", 21, q, DIM), 0);
	mem_vec_hit hit;
	size_t n = 0;
	ck_assert_int_eq(mem_index_search(m, q, 1, 0x1, COG_MEMORY_LAYERS_ALL, &hit, &n), 0);
	ck_assert_uint_eq(hit.id, other);
	/* a second handle finds nothing left to re-embed */
	cog_memory *m2 = open_mem("r/s");
	sync_ok(m2);
	ck_assert_uint_eq(m2->index->reembedded, 0);
	ck_assert_uint_eq(m2->index->vs->count, 5);
	cog_memory_free(m2);
	/* the embedder changing (here: another hashing size) rebuilds the index
	 * at the next sync and re-embeds every row but the host's, which no
	 * longer fit */
	m->emb.decided = false;
	m->emb.hashing_dim = 32;
	sync_ok(m);
	ck_assert_str_eq(m->emb.model, "hash-32");
	ck_assert_uint_eq(m->index->vs->dim, 32);
	ck_assert_uint_eq(m->index->vs->count, 4);
	ck_assert_uint_eq(m->index->reembedded, 4);
	ck_assert_str_eq(read_back("r", host).model, "host");
	stored s = read_back("r/s", ok);
	ck_assert_str_eq(s.model, "hash-32");
	ck_assert_uint_eq(s.dim, 32);
	cog_memory_free(m);
}
END_TEST

/* A row that cannot be re-embedded (no word in its text) stays out of the
 * index, counted as skipped; the load, searches and deduplicating puts go
 * on, and the row is left as it was in storage. */
START_TEST(unembeddable_rows_are_skipped)
{
	float vec[DIM];
	for (size_t i = 0; i < DIM; i++)
		vec[i] = (float)(i % 5) - 2;
	uint64_t bad = store_raw("k/l", COG_MEMORY_LONG_TERM, "!!! ???", "old-model", vec, DIM);
	uint64_t bad_parent = store_raw("k", COG_MEMORY_LONG_TERM, "...", "old-model", vec, DIM);
	uint64_t good = store_raw("k/l", COG_MEMORY_LONG_TERM, "a plain old memory", "old-model",
	                          vec, DIM);
	uint64_t fresh = store_text("k/l", COG_MEMORY_LONG_TERM, "already hashed");
	cog_memory *m = open_mem("k/l");
	sync_ok(m);
	ck_assert_uint_eq(ix_impl(m->index)->skipped, 2);
	ck_assert_uint_eq(m->index->reembedded, 1);
	ck_assert(!ix_has(m->index, bad) && !ix_has(m->index, bad_parent));
	ck_assert(ix_has(m->index, good) && ix_has(m->index, fresh));
	stored s = read_back("k/l", bad);
	ck_assert_str_eq(s.model, "old-model");
	ck_assert_float_eq(s.vec[1], vec[1]);
	ck_assert_str_eq(read_back("k/l", good).model, "hash-64");
	uint8_t seen[512];
	ck_assert_uint_eq(search_ids(m, "plain memory", 0x3, COG_MEMORY_LAYERS_ALL, seen), 2);
	/* a refresh does not count them again; a new such row is counted */
	sync_ok(m);
	ck_assert_uint_eq(ix_impl(m->index)->skipped, 2);
	store_raw("k/l", COG_MEMORY_SHORT_TERM, "?!", "old-model", vec, DIM);
	sync_ok(m);
	ck_assert_uint_eq(ix_impl(m->index)->skipped, 3);
	/* the public path: a deduplicating put and a search work */
	cog_memory *m2 = open_mem("k/l");
	uint64_t id = 0;
	int rc = cog_memory_put(m2, "a plain old memory", NULL, &id);
	ck_assert_msg(rc == 0 || rc == COG_MEMORY_MERGED, "put: %d %s", rc, cog_error_last());
	ck_assert_uint_eq(id, good);
	char *out = NULL;
	rc = cog_memory_search(m2, "{\"text\":\"plain\",\"k\":5}", &out);
	ck_assert_msg(rc == 0, "search: %s", cog_error_last());
	ck_assert_ptr_nonnull(strstr(out, "\"results\""));
	cog_free(out);
	cog_memory_free(m2);
	cog_memory_free(m);
}
END_TEST

/* Rows of a caller's own vector ("host:<model>" as put.c records it) are
 * never re-embedded nor rewritten: in the index when their dimension fits,
 * left out otherwise. */
START_TEST(host_named_rows_are_never_rewritten)
{
	float vec[DIM], odd[8] = { 1, 0, 0, 0, 0, 0, 0, 0 };
	for (size_t i = 0; i < DIM; i++)
		vec[i] = (float)(i % 3) - 1;
	uint64_t fits = store_raw("h/i", COG_MEMORY_LONG_TERM, "!!! ???", "host:my-model", vec,
	                          DIM);
	uint64_t other = store_raw("h/i", COG_MEMORY_LONG_TERM, "words here", "host:my-model",
	                           odd, 8);
	uint64_t hostish = store_raw("h/i", COG_MEMORY_LONG_TERM, "hostile takeover", "hostile",
	                             vec, DIM);
	cog_memory *m = open_mem("h/i");
	sync_ok(m);
	ck_assert(ix_has(m->index, fits));
	ck_assert(!ix_has(m->index, other));
	ck_assert(ix_has(m->index, hostish));       /* not a host model: re-embedded */
	ck_assert_uint_eq(m->index->reembedded, 1);
	ck_assert_uint_eq(ix_impl(m->index)->skipped, 1);
	stored s = read_back("h/i", fits);
	ck_assert_str_eq(s.model, "host:my-model");
	ck_assert_uint_eq(s.dim, DIM);
	for (size_t i = 0; i < DIM; i++)
		ck_assert_float_eq(s.vec[i], vec[i]);
	s = read_back("h/i", other);
	ck_assert_str_eq(s.model, "host:my-model");
	ck_assert_uint_eq(s.dim, 8);
	ck_assert_float_eq(s.vec[0], 1);
	ck_assert_str_eq(read_back("h/i", hostish).model, "hash-64");
	/* the host's vector is what the index searches with */
	mem_vec_hit hit;
	size_t n = 0;
	ck_assert_int_eq(mem_index_search(m, vec, 1, 0x1, COG_MEMORY_LAYERS_ALL, &hit, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(hit.id, fits);
	cog_memory_free(m);
}
END_TEST

static ix_stale_row stale_of(char *ns, char *text, uint64_t id, int64_t updated_at)
{
	ix_stale_row r = { 0 };
	r.id = id;
	r.ns = ns;
	r.layer = COG_MEMORY_LONG_TERM;
	r.text = text;
	r.text_len = strlen(text);
	r.updated_at = updated_at;
	return r;
}

static void update_raw(const char *ns, uint64_t id, const char *text, const char *metadata,
                       double importance, int64_t updated_at)
{
	float v[DIM];
	for (size_t i = 0; i < DIM; i++)
		v[i] = (float)(i % 4) - 1.5f;
	cog_storage_memory_record r = { 0 };
	r.id = id;
	r.ns = ns;
	r.layer = COG_MEMORY_LONG_TERM;
	r.text = text;
	r.text_len = strlen(text);
	r.metadata = metadata;
	r.metadata_len = strlen(metadata);
	r.importance = importance;
	r.created_at = 1700000000000;
	r.updated_at = updated_at;
	r.embed_model = "old-model";
	r.embedding = v;
	r.dim = DIM;
	ck_assert_msg(cog_storage_memory_put(store, &r) == 0, "%s", cog_error_last());
}

/* The write-back reads each row again and changes only its vector: a
 * change made after the row was read for re-embedding (here: made before
 * the write-back is given the stale copy) is kept. */
START_TEST(write_back_keeps_concurrent_updates)
{
	float old[DIM];
	for (size_t i = 0; i < DIM; i++)
		old[i] = (float)(i % 4) - 1.5f;
	char ns[] = "w/b";
	char ta[] = "alpha text", tb[] = "beta text", tc[] = "gamma text", td[] = "delta text";
	uint64_t a = store_raw(ns, COG_MEMORY_LONG_TERM, ta, "old-model", old, DIM);
	uint64_t b = store_raw(ns, COG_MEMORY_LONG_TERM, tb, "old-model", old, DIM);
	uint64_t c = store_raw(ns, COG_MEMORY_LONG_TERM, tc, "old-model", old, DIM);
	uint64_t d = store_raw(ns, COG_MEMORY_LONG_TERM, td, "old-model", old, DIM);
	const int64_t t = 1700000000000;
	ix_stale_row rows[4] = { stale_of(ns, ta, a, t), stale_of(ns, tb, b, t),
	                         stale_of(ns, tc, c, t), stale_of(ns, td, d, t) };
	/* meanwhile: a's metadata and importance change (same updated_at), b is
	 * merged (updated_at moves), c's text changes, d is forgotten */
	update_raw(ns, a, ta, "{\"topic\":\"billing\"}", 0.9, t);
	update_raw(ns, b, tb, "{\"merged\":true}", 0.7, t + 5);
	update_raw(ns, c, "gamma, rewritten", "{}", 0.5, t + 5);
	cog_storage_memory_query dq = { 0 };
	const char *dns = ns;
	dq.ns = &dns;
	dq.ns_count = 1;
	dq.ids = &d;
	dq.id_count = 1;
	ck_assert_int_eq(cog_storage_memory_delete(store, &dq, NULL), 0);
	cog_memory *m = open_mem(ns);
	ck_assert_int_eq(mem_embed_decide(m), 0);
	float vecs[4 * DIM];
	for (size_t i = 0; i < 4; i++)
		ck_assert_int_eq(mem_hash_embed(rows[i].text, rows[i].text_len, vecs + i * DIM, DIM),
		                 0);
	uint8_t state[4] = { IX_ROW_WRITE, IX_ROW_WRITE, IX_ROW_WRITE, IX_ROW_WRITE };
	int rc = ix_write_back(m, rows, 4, vecs, DIM, state);
	ck_assert_msg(rc == 0, "write back: %s", cog_error_last());
	ck_assert_int_eq(state[0], IX_ROW_INDEX);
	ck_assert_int_eq(state[1], IX_ROW_INDEX);
	ck_assert_int_eq(state[2], IX_ROW_CHANGED);
	ck_assert_int_eq(state[3], IX_ROW_GONE);
	/* a: the new vector, and the update kept */
	stored s = read_back(ns, a);
	ck_assert_str_eq(s.model, "hash-64");
	ck_assert_str_eq(s.metadata, "{\"topic\":\"billing\"}");
	ck_assert_double_eq(s.importance, 0.9);
	ck_assert_int_eq(s.updated_at, t);
	for (size_t i = 0; i < DIM; i++)
		ck_assert_float_eq_tol(s.vec[i], vecs[i], 1e-6f);
	/* b and c: not written (b waits for a later load) */
	s = read_back(ns, b);
	ck_assert_str_eq(s.model, "old-model");
	ck_assert_str_eq(s.metadata, "{\"merged\":true}");
	ck_assert_double_eq(s.importance, 0.7);
	ck_assert_str_eq(read_back(ns, c).model, "old-model");
	/* a later load re-embeds b and c, still keeping their updates */
	sync_ok(m);
	ck_assert_uint_eq(m->index->reembedded, 2);   /* a is up to date */
	s = read_back(ns, b);
	ck_assert_str_eq(s.model, "hash-64");
	ck_assert_str_eq(s.metadata, "{\"merged\":true}");
	ck_assert_int_eq(s.updated_at, t + 5);
	ck_assert_str_eq(read_back(ns, c).model, "hash-64");
	/* nothing to write: nothing happens */
	uint8_t none[1] = { IX_ROW_INDEX };
	ck_assert_int_eq(ix_write_back(m, rows, 1, vecs, DIM, none), 0);
	ck_assert_int_eq(none[0], IX_ROW_INDEX);
	cog_memory_free(m);
}
END_TEST

START_TEST(many_rows_in_pages)
{
	enum { N = 3000 };
	cog_memory *m = open_mem("big/ns");
	uint64_t *ids = malloc(N * sizeof(*ids));
	char text[80];
	for (int i = 0; i < N; i++) {
		snprintf(text, sizeof(text), "row %d says w%d and w%d", i, i * 7 % 1000, i % 13);
		ids[i] = store_raw(i % 3 ? "big/ns" : "big", COG_MEMORY_LONG_TERM, text,
		                   i % 5 ? "hash-64" : "stale", NULL, DIM);
	}
	sync_ok(m);
	ck_assert_uint_eq(m->index->vs->count, N);
	ck_assert_uint_eq(m->index->reembedded, N / 5);
	ck_assert_uint_eq(m->index->max_id, ids[N - 1]);
	/* stale rows are written back in the handle's own namespace only */
	ck_assert_str_eq(read_back("big/ns", ids[5]).model, "hash-64");
	ck_assert_str_eq(read_back("big", ids[15]).model, "stale");
	ck_assert_str_eq(read_back("big", ids[3]).model, "hash-64");
	for (int i = 0; i < N; i += 97) {
		snprintf(text, sizeof(text), "row %d says w%d and w%d", i, i * 7 % 1000, i % 13);
		float q[DIM];
		ck_assert_int_eq(mem_hash_embed(text, strlen(text), q, DIM), 0);
		mem_vec_hit hit;
		size_t n = 0;
		ck_assert_int_eq(mem_index_search(m, q, 1, 0x3, COG_MEMORY_LAYERS_ALL, &hit, &n), 0);
		ck_assert_uint_eq(n, 1);
		ck_assert_uint_eq(hit.id, ids[i]);
		uint64_t dup = 0;
		float cos;
		/* hashing rows this short are found by their word multiset */
		mem_words_key w;
		ck_assert_int_eq(mem_words_key_of(text, strlen(text), true, &w), 0);
		ck_assert_int_eq(mem_index_near_duplicate(m, q, COG_MEMORY_LONG_TERM, 0.999,
		                                          NULL, &dup, &cos), 0);
		ck_assert_uint_eq(dup, 0);
		ck_assert_int_eq(mem_index_near_duplicate(m, q, COG_MEMORY_LONG_TERM, 0.999,
		                                          &w, &dup, &cos), 0);
		ck_assert_uint_eq(dup, i % 3 ? ids[i] : 0);
	}
	free(ids);
	cog_memory_free(m);
}
END_TEST

START_TEST(bad_input)
{
	cog_memory *m = open_mem("x/y");
	float v[DIM] = { 1 };
	mem_vec_hit hits[4];
	size_t n = 7;
	ck_assert_int_eq(mem_index_search(m, v, 0, 1, COG_MEMORY_LAYERS_ALL, hits, &n), COG_EINVAL);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(mem_index_search(m, v, 1001, 1, COG_MEMORY_LAYERS_ALL, hits, &n),
	                 COG_EINVAL);
	ck_assert_int_eq(mem_index_search(m, NULL, 1, 1, COG_MEMORY_LAYERS_ALL, hits, &n),
	                 COG_EINVAL);
	ck_assert_int_eq(mem_index_search(NULL, v, 1, 1, COG_MEMORY_LAYERS_ALL, hits, &n),
	                 COG_EINVAL);
	/* an empty namespace: nothing, no error */
	ck_assert_int_eq(mem_index_search(m, v, 4, 1, COG_MEMORY_LAYERS_ALL, hits, &n), 0);
	ck_assert_uint_eq(n, 0);
	uint64_t dup = 5;
	float cos = 1;
	ck_assert_int_eq(mem_index_near_duplicate(m, v, COG_MEMORY_LONG_TERM, 0.9, NULL,
	                                           &dup, &cos), 0);
	ck_assert_uint_eq(dup, 0);
	/* slot outside the chain, bad layer, bad id, zero vector */
	ck_assert_int_eq(mem_index_add(m, 5, 2, COG_MEMORY_LONG_TERM, v, NULL), COG_EINVAL);
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "slot 2"));
	ck_assert_int_eq(mem_index_add(m, 5, 0, 0x3, v, NULL), COG_EINVAL);
	ck_assert_int_eq(mem_index_add(m, 0, 0, COG_MEMORY_LONG_TERM, v, NULL), COG_EINVAL);
	ck_assert_int_eq(mem_index_add(m, 5, 0, COG_MEMORY_LONG_TERM, NULL, NULL), COG_EINVAL);
	float zero[DIM] = { 0 };
	ck_assert_int_eq(mem_index_add(m, 5, 0, COG_MEMORY_LONG_TERM, zero, NULL), COG_EINVAL);
	ck_assert_uint_eq(m->index->vs->count, 0);
	mem_index_kill(NULL, 1);
	mem_index_free(NULL);
	cog_memory_free(m);
}
END_TEST

/* From IX_I8_MIN_ROWS rows on, a search takes its candidates from the int8
 * rows and scores them exactly: compared with the exact float32 search over
 * the same rows (recall@10 and the scores of what both return). */
START_TEST(large_index_int8_then_exact)
{
	cog_memory *m = open_mem("big");
	size_t rows = IX_I8_MIN_ROWS + 3000;
	uint64_t seed = 0x9e3779b97f4a7c15u;
	float v[DIM];
	ck_assert_int_eq(cog_storage_begin(store), 0);
	for (size_t r = 0; r < rows; r++) {
		for (size_t i = 0; i < DIM; i++) {
			seed = seed * 6364136223846793005u + 1442695040888963407u;
			v[i] = (float)((double)(seed >> 11) / 9007199254740992.0 - 0.5);
		}
		store_raw("big", COG_MEMORY_LONG_TERM, "row", "hash-64", v, DIM);
	}
	ck_assert_int_eq(cog_storage_commit(store), 0);
	sync_ok(m);
	ck_assert_uint_eq(m->index->vs->count, rows);
	size_t found = 0, total = 0;
	for (int t = 0; t < 40; t++) {
		for (size_t i = 0; i < DIM; i++) {
			seed = seed * 6364136223846793005u + 1442695040888963407u;
			v[i] = (float)((double)(seed >> 11) / 9007199254740992.0 - 0.5);
		}
		mem_vec_hit got[10], exact[10];
		size_t ngot = 0, nexact = 0;
		ck_assert_int_eq(mem_index_search(m, v, 10, 1u, COG_MEMORY_LONG_TERM, got, &ngot), 0);
		ck_assert_int_eq(mem_vec_search(m->index->vs, v, DIM, 10, NULL, exact, &nexact), 0);
		ck_assert_uint_eq(ngot, 10);
		ck_assert_uint_eq(nexact, 10);
		for (size_t i = 0; i < 10; i++) {
			if (i)
				ck_assert(got[i].score <= got[i - 1].score);
			for (size_t j = 0; j < 10; j++) {
				if (got[i].id != exact[j].id)
					continue;
				found++;
				ck_assert_float_eq_tol(got[i].score, exact[j].score, 1e-5f);
			}
		}
		total += 10;
	}
	double recall = (double)found / (double)total;
	ck_assert_msg(recall >= 0.98, "recall@10 %.3f against exact search", recall);
	cog_memory_free(m);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("memory-index");
	TCase *tc = tcase_create("index");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, sync_loads_the_chain_only);
	tcase_add_test(tc, refresh_picks_up_new_rows);
	tcase_add_test(tc, killed_rows_never_return);
	tcase_add_test(tc, layer_and_slot_masks);
	tcase_add_test(tc, near_duplicates);
	tcase_add_test(tc, reembeds_other_models);
	tcase_add_test(tc, unembeddable_rows_are_skipped);
	tcase_add_test(tc, host_named_rows_are_never_rewritten);
	tcase_add_test(tc, write_back_keeps_concurrent_updates);
	tcase_add_test(tc, many_rows_in_pages);
	tcase_add_test(tc, bad_input);
	tcase_add_test(tc, large_index_int8_then_exact);
	suite_add_tcase(su, tc);
	SRunner *sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
