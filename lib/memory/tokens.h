/*
 * Token estimation below mem_tok_* (memory_int.h): the same estimate in
 * milli-tokens, before the calibrated ratio is applied, for code that must
 * add up the parts of a request exactly (context*.c): integer sums are
 * exact, and ceil(sum × ratio) of the whole is what mem_tok_messages()
 * gives for the whole.
 *
 * The text estimate is additive across a newline: for texts a and b,
 * milli(a "\n" b) == milli(a) + milli("\n") + milli(b), since no run of
 * the scanner crosses a newline.
 */
#ifndef COG_MEMORY_TOKENS_H
#define COG_MEMORY_TOKENS_H

#include "memory_int.h"

/* Tokens the reply is primed with, once per request (OpenAI counts 3). */
#define MEM_TOK_REQUEST_MILLI 3000u

/* Unscaled estimate of text[0..len), in thousandths of a token. */
uint64_t mem_tok_text_milli(const char *text, size_t len);
/* One request message: per-message overhead, role, name, content (text,
 * or the parts' text), tool_call_id and tool calls as their JSON. A
 * message that is not an object counts as its JSON text. */
uint64_t mem_tok_message_milli(const cJSON *message);
/* A whole request: its messages, its tools and response_format as their
 * JSON, and MEM_TOK_REQUEST_MILLI. */
uint64_t mem_tok_request_milli(const cJSON *request);
/* A message of this role with empty content; a message with string content
 * is exactly this plus the content's mem_tok_text_milli(). */
uint64_t mem_tok_message_base_milli(const char *role);
/* Tokens for a milli-token sum with t's ratio: ceil(milli × ratio / 1000). */
size_t mem_tok_scale(const mem_tokens *t, uint64_t milli);
/* The largest milli-token sum that scales to at most `tokens`. */
uint64_t mem_tok_milli_cap(const mem_tokens *t, size_t tokens);

#endif
