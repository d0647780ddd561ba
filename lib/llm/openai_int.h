/*
 * What the files of the OpenAI wire format share (openai.c: request, whole
 * answers; openai_embed.c: embeddings; openai_stream.c: stream chunks;
 * openai_fast.c: the fast path for the common text chunk). Not installed.
 */
#ifndef COG_LLM_OPENAI_INT_H
#define COG_LLM_OPENAI_INT_H

#include "provider_int.h"

/* Our finish reason for OpenAI's, or NULL for one we do not know (the
 * assembler then picks stop or tool_calls). */
const char *llm_openai_finish_reason(const char *reason);
/* usage {prompt_tokens, completion_tokens, prompt_tokens_details:
 * {cached_tokens}} into the assembly (an absent or null usage: nothing). */
void llm_openai_usage(const cJSON *usage, llm_asm *a);
/* The answer's model, kept only when it differs from the one we have (a
 * stream repeats it in every chunk). */
int llm_openai_model(llm_asm *a, const char *model, size_t len);

/* ---- openai_embed.c ---- */

int llm_openai_embed_body(const llm_provider *p, const cJSON *request, cog_buf *body);
int llm_openai_embed_parse(const llm_provider *p, const cJSON *answer, cJSON **response);

/* ---- openai_stream.c ---- */

void *llm_openai_stream_state_new(const llm_provider *p, const cJSON *request);
void llm_openai_stream_state_free(void *state);
int llm_openai_stream_event(const llm_provider *p, void *state, const char *type,
                            const char *data, size_t len, llm_asm *a, bool *done);

/* ---- openai_body.c ---- */

/* The chat body of a plain request appended to buf, as openai.c's tree
 * builder would write it: 0, or 1 (buf unchanged unless it has failed)
 * when the request needs the builder. */
int llm_openai_body_direct(const cJSON *request, bool stream, cog_buf *buf);

/* ---- openai.c ---- */

/* The chat body through a cJSON tree (every request). */
int llm_openai_body_tree(const cJSON *request, bool stream, cog_buf *buf);

/* ---- openai_fast.c ---- */

/*
 * A chat.completion.chunk of the common shape (one choice whose delta holds
 * only content and role, no finish reason, no usage, no tool calls) read
 * without building a tree: 1 when the chunk was taken into the assembly,
 * 0 when it is of another shape or anything in it is unusual (nothing was
 * changed: the caller reads it with cJSON, which also explains what is
 * wrong with a malformed one), or the assembly's negative status. scratch
 * holds decoded text (reused, no allocation once grown).
 */
int llm_openai_fast_chunk(const char *data, size_t len, cog_buf *scratch,
                          llm_asm *a);

/* ---- openai_fast_answer.c ---- */

/* A whole chat.completion of the common shape (text content, no tool
 * calls, no refusal, no error) read from validated JSON text into the
 * assembly as chat_parse would: 1 taken, 0 of another shape (nothing
 * changed), or a negative status (message set). */
int llm_openai_fast_answer(const char *body, size_t len, llm_asm *a);

#endif /* COG_LLM_OPENAI_INT_H */
