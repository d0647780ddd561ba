/* placeholder stubs: being written (the owner replaces this file) */
#include "agent_int.h"

int agent_journal_open(agent_journal **out, cog_ctx *ctx, const char *k, unsigned int a) { (void)ctx; (void)k; (void)a; *out = NULL; return cog__error(COG_EUNAVAILABLE, "not written yet: %s", __func__); }
unsigned int agent_journal_attempt(const agent_journal *j) { (void)j; return 0; }
int agent_journal_find(agent_journal *j, const char *k, unsigned int t, unsigned int i, const char *h, int *s, cJSON **r) { (void)j; (void)k; (void)t; (void)i; (void)h; (void)s; (void)r; return COG_ENOTFOUND; }
int agent_journal_put(agent_journal *j, const char *k, unsigned int t, unsigned int i, const char *h, int s, const cJSON *r) { (void)j; (void)k; (void)t; (void)i; (void)h; (void)s; (void)r; return cog__error(COG_EUNAVAILABLE, "not written yet: %s", __func__); }
int agent_journal_end(agent_journal *j, int s) { (void)j; (void)s; return 0; }
void agent_journal_close(agent_journal *j) { (void)j; }
void agent_journal_hash(const cJSON *v, char out[33]) { (void)v; out[0] = 0; }
