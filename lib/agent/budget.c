/* placeholder stubs: being written (the owner replaces this file) */
#include "agent_int.h"

int budget_limits_from_json(budget_limits *out, const cJSON *j, const char *w) { (void)out; (void)j; (void)w; return cog__error(COG_EUNAVAILABLE, "not written yet: %s", __func__); }
cJSON *budget_limits_to_json(const budget_limits *l) { (void)l; return NULL; }
int budget_init(agents_state *st) { (void)st; return cog__error(COG_EUNAVAILABLE, "not written yet: %s", __func__); }
void budget_dispose(agents_state *st) { (void)st; }
int budget_node_get(agents_state *st, budget_node *p, const char *k, const budget_limits *l, int64_t s, budget_node **out) { (void)st; (void)p; (void)k; (void)l; (void)s; *out = NULL; return cog__error(COG_EUNAVAILABLE, "not written yet: %s", __func__); }
void budget_node_release(agents_state *st, budget_node *n) { (void)st; (void)n; }
int budget_reserve(agents_state *st, budget_node *l, uint64_t t, double c, budget_resv *out) { (void)st; (void)l; (void)t; (void)c; (void)out; return cog__error(COG_EUNAVAILABLE, "not written yet: %s", __func__); }
void budget_settle(agents_state *st, budget_resv *r, uint64_t i, uint64_t o, double c, const char *a) { (void)st; (void)r; (void)i; (void)o; (void)c; (void)a; }
void budget_release(agents_state *st, budget_resv *r) { (void)st; (void)r; }
uint64_t budget_remaining_ms(agents_state *st, budget_node *l) { (void)st; (void)l; return UINT64_MAX; }
uint64_t budget_remaining_tokens(agents_state *st, budget_node *l) { (void)st; (void)l; return UINT64_MAX; }
uint64_t budget_input_bound(cog_ctx *ctx, const cJSON *r) { (void)ctx; (void)r; return 0; }
int cog__llm_worst_cost(cog_ctx *ctx, const char *r, const char *m, uint64_t i, uint64_t o, double *c, bool *p) { (void)ctx; (void)r; (void)m; (void)i; (void)o; *c = 0; *p = false; return cog__error(COG_EUNAVAILABLE, "not written yet: %s", __func__); }
