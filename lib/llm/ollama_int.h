/*
 * What the two halves of Ollama's wire format share: ollama.c (request
 * bodies, the wire table) and ollama_answer.c (answers and streams). Not
 * installed.
 */
#ifndef COG_LLM_OLLAMA_INT_H
#define COG_LLM_OLLAMA_INT_H

#include "provider_int.h"

/* Print root (consumed) into body unless rc already failed; returns the
 * status. */
int llm_ollama_print_body(cJSON *root, int rc, cog_buf *body);

/* ollama_answer.c */
int llm_ollama_chat_parse(const llm_provider *p, const cJSON *request,
                          const cJSON *answer, llm_asm *a);
int llm_ollama_stream_event(const llm_provider *p, void *state, const char *type,
                            const char *data, size_t len, llm_asm *a, bool *done);
void *llm_ollama_stream_state_new(const llm_provider *p, const cJSON *request);
void llm_ollama_stream_state_free(void *state);
int llm_ollama_embed_parse(const llm_provider *p, const cJSON *answer,
                           cJSON **response);

#endif /* COG_LLM_OLLAMA_INT_H */
