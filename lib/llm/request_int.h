/*
 * Shared by the request checks: request.c (the request as a whole),
 * request_msg.c (its messages), request_tools.c (its tool definitions),
 * request_embed.c, request_util.c (these helpers) and response.c. Not
 * installed.
 */
#ifndef COG_LLM_REQUEST_INT_H
#define COG_LLM_REQUEST_INT_H

#include "llm_int.h"

/* request_util.c */

/* COG_EINVAL "<fn>: <what>: <pointer>: <message>" (no pointer part when
 * pointer is ""); `what` is "request" or "embed request". */
int llm_req_fail(const char *fn, const char *what, const char *pointer,
                 const char *fmt, ...) COG_PRINTF(4, 5);
/* A short description of a value for "(got ...)": a string quoted and cut
 * at 40 bytes, a number, or the kind of value. */
void llm_req_got(const cJSON *value, char out[80]);
/* The same, returning out: for a message argument, so that the
 * description is made only once a check has failed. */
const char *llm_req_gots(const cJSON *value, char out[80]);
/* A JSON pointer formatted into a temporary of the calling block, for a
 * message argument once a check has failed: LLM_REQ_AT("%s/id", ptr). */
const char *llm_req_at(char *out, size_t size, const char *fmt, ...) COG_PRINTF(3, 4);
#define LLM_REQ_AT(...) llm_req_at((char[160]){ 0 }, 160, __VA_ARGS__)
/* A value described in a temporary of the calling block (llm_req_got). */
#define LLM_REQ_GOT(v) llm_req_gots((v), (char[80]){ 0 })
/* Every member of object is one of allowed (NULL-terminated) and appears
 * once; else COG_EINVAL naming the member and the known ones. */
int llm_req_members(const cJSON *object, const char *const *allowed,
                    const char *fn, const char *what, const char *pointer);
/* Members whose value is null are taken as absent (many clients send
 * "tools":null): delete them, except those named in keep. */
void llm_req_drop_nulls(cJSON *object, const char *const *keep);
/* ^[A-Za-z0-9_-]{1,64}$: what OpenAI and Anthropic accept for tool and
 * schema names (they answer 400 to anything else, '.' included). */
bool llm_req_name_ok(const char *name);
/* The rule above in words, for error messages. */
#define LLM_REQ_NAME_RULE \
	"must be 1 to 64 characters, each a letter A-Z a-z, a digit 0-9, '_' or '-'"

/* request_msg.c */
int llm_req_messages(cJSON *request, const char *fn);

/* request_tools.c */
int llm_req_tools(cJSON *request, const char *fn);

#endif /* COG_LLM_REQUEST_INT_H */
