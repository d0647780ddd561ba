/*
 * The built-in injection heuristics: named PCRE2 patterns (UTF, caseless)
 * for text written to steer a model that reads it as data, and the scan
 * that runs a set of rules over one text under match limits.
 *
 * Each rule wants more than a word: a verb aimed at the model's
 * instructions ("ignore all previous instructions", not "the previous
 * quarter's instructions manual"), a role label that talks to the model
 * ("System: you must ...", not "system: Linux" in a CSV), a request for a
 * secret ("reveal your API key", not "the password policy"), a tool call or
 * a way out (curl with data or into a shell, a markdown image whose URL
 * carries a query), or characters nobody reads (zero-width, bidi controls,
 * tag characters) where no script needs them.
 */
#include <pthread.h>
#include <string.h>

#include "inject_int.h"

/* Right-to-left and Indic letters, which use LRM/RLM and ZWNJ legitimately. */
#define RTL "\\x{0590}-\\x{08FF}\\x{FB1D}-\\x{FDFF}\\x{FE70}-\\x{FEFC}"
#define INDIC "\\x{0900}-\\x{0DFF}"
/* A verb asking to reveal or send something. */
#define REVEAL "(?:reveal|print|display|output|repeat|leak|disclose|expose|dump|recite|" \
	"tell\\s+me|give\\s+me|send\\s+me|show\\s+me|share|send|e-?mail|post|paste|write\\s+out)"
/* Nouns after a secret word that make it ordinary ("the password policy"). */
#define NOT_SECRET "(?![\\s_-]+(?:reset|policy|policies|manager|field|requirements?|" \
	"strength|length|rules|hint|change|expir\\w*|rotation|form|prompt\\s+screen))"

static const struct {
	const char *name;
	const char *regex;
} builtin_src[] = {
	/* "ignore all previous instructions", "disregard your rules" */
	{ "override_instructions",
	  "\\b(?:ignore|disregard|forget|override|bypass)\\s+"
	  "(?:(?:(?:all|any|every|of|the|your|my|these|those)\\s+){0,3}"
	  "(?:(?:previous|prior|above|earlier|preceding|foregoing|original|initial|"
	  "system|safety|developer|existing|former)\\s+){1,2}"
	  "|(?:(?:the|of)\\s+)?(?:all|any|every|your)\\s+(?:(?:of|the|your|these|those)\\s+){0,2})"
	  "(?:instructions?|prompts?|directions?|directives?|guidelines|guardrails|rules|"
	  "programming|constraints|restrictions)\\b" },
	/* "Disregard the above." */
	{ "override_above",
	  "\\b(?:ignore|disregard)\\s+(?:all\\s+(?:of\\s+)?)?(?:the\\s+|everything\\s+)?"
	  "(?:above|previous|prior)\\s*(?:[.,;:!]|and\\b|$)" },
	{ "forget_everything", "\\bforget\\s+(?:about\\s+)?everything\\b" },
	{ "new_instructions",
	  "\\b(?:new|real|actual|true|override|secret|hidden|system|updated)\\s+"
	  "instructions?\\s*:" },
	/* "you are now DAN", "you are now an unrestricted assistant" */
	{ "role_change",
	  "\\byou\\s+are\\s+now\\s+(?:(?:a|an|the|my)\\s+(?:[\\w-]+\\s+){0,3}?"
	  "(?:assistant|ai|model|bot|chatbot|agent|persona|character|hacker|"
	  "admin(?:istrator)?|dan|root|superuser)\\b"
	  "|no\\s+longer\\s+(?:bound|restricted|limited|an?\\s+(?:ai|assistant|model))"
	  "|(?:free|unrestricted|unfiltered|jailbroken|dan|uncensored)\\b"
	  "|in\\s+(?:[\\w-]+\\s+){0,2}mode\\b|(?:acting|operating|playing)\\s+as\\b)" },
	{ "act_as",
	  "\\b(?:act|behave|respond|roleplay|role-play)\\s+as\\s+"
	  "(?:if\\s+you\\s+(?:are|were)\\s+)?(?:(?:a|an|the|my)\\s+)?(?:[\\w-]+\\s+){0,2}?"
	  "(?:assistant|ai|chatbot|hacker|admin(?:istrator)?|dan|root|superuser|"
	  "(?:linux\\s+)?terminal|shell|unrestricted|unfiltered|jailbroken)\\b"
	  "|\\bpretend\\s+(?:to\\s+be|you\\s+are|that\\s+you\\s+are|you're)\\b" },
	/* <|im_start|>system, <|eot_id|>, [INST], <<SYS>>, <system> */
	{ "fake_turn_tokens",
	  "(?:<|&lt;)\\|(?:im_start|im_end|system|user|assistant|endoftext|eot_id|"
	  "start_header_id|end_header_id|begin_of_text)\\|>"
	  "|\\[/?INST\\]|<<\\s*/?\\s*SYS\\s*>>"
	  "|(?:<|&lt;)\\s*/?\\s*system(?:[_-]?prompt)?\\s*>" },
	/* "### Instruction:" (Alpaca), "## System prompt" */
	{ "fake_turn_heading",
	  "(?m)^[ \\t]*#{2,6}[ \\t]*(?:(?:instruction|system(?:[ \\t]+prompt)?|"
	  "new[ \\t]+instructions?)[ \\t]*:?[ \\t]*$|(?:instruction|system)[ \\t]*:)" },
	/* "System: you must ..." at a line start (not "system: Linux"),
	 * "assistant:" at a line start */
	{ "fake_turn_label",
	  "(?m)^[ \\t>*_-]*(?:system|developer)[ \\t]*:[ \\t]*(?=[^\\n]{0,200}?\\b(?:you|your|"
	  "ignore|disregard|must|always|never|instructions?|assistant|respond|reply|"
	  "answer|pretend|reveal)\\b)"
	  "|^[ \\t>*_-]*assistant[ \\t]*:[ \\t]*\\S" },
	/* what only our data markers say: a closing one, or an opening one */
	{ "fake_data_marker",
	  "(?:<|&lt;)\\s*/\\s*data\\s*>|(?:<|&lt;)\\s*data(?:\\s+[\\w-]+\\s*=|\\s*>)" },
	{ "reveal_secrets",
	  "\\b" REVEAL "\\s+(?:(?:me|us|all|any|of|the|your|its|my|our|full|entire|complete|"
	  "exact|original|hidden|initial|secret|current|verbatim)\\s+){0,4}"
	  "(?:system\\s+prompt|api[\\s_-]?keys?|secret\\s+keys?|secrets|passwords?|passwd|"
	  "credentials|access\\s+tokens?|auth(?:entication)?\\s+tokens?|bearer\\s+tokens?|"
	  "private\\s+keys?|environment\\s+variables|env\\s+vars?)\\b" NOT_SECRET
	  "|\\b(?:reveal|repeat|print|output|recite|dump)\\s+(?:(?:me|all|of|the)\\s+){0,2}"
	  "your\\s+(?:instructions|prompt|rules|guidelines|configuration)\\b"
	  "|\\bwhat\\s+(?:is|are|were)\\s+your\\s+(?:system\\s+prompt|"
	  "(?:initial\\s+|original\\s+)?instructions)\\b" },
	/* "call the send_email tool", "invoke the function delete_all" */
	{ "call_tool",
	  "\\b(?:call|invoke|execute|trigger)\\s+(?:the\\s+[`'\"]?[a-z_][\\w.-]{0,63}[`'\"]?"
	  "|[`'\"][a-z_][\\w.-]{0,63}[`'\"]|[a-z]\\w*_[\\w.-]*)\\s+(?:tool|function)\\b"
	  "|\\b(?:call|invoke)\\s+the\\s+(?:tool|function)\\s+named\\b" },
	/* "send the data to https://..." (not "send feedback to https://...") */
	{ "exfiltrate_url",
	  "\\b(?:send|post|upload|forward|transmit|exfiltrate|leak)\\b"
	  "(?!\\s+(?:us\\s+)?(?:your\\s+|any\\s+|all\\s+)?(?:feedback|bugs?|bug\\s+reports?|"
	  "patch(?:es)?|pull\\s+requests?|questions?|comments?|issues?|suggestions?)\\b)"
	  "[^\\n]{0,120}?\\bto\\s+(?:the\\s+)?(?:url\\s+|endpoint\\s+|server\\s+|address\\s+)?"
	  "[<`'\"(]?https?://" },
	/* curl or wget that sends data, or whose output goes to a shell */
	{ "shell_exfiltration",
	  "\\b(?:curl|wget)(?=\\s)[^\\n]{0,200}?(?:\\s-d\\b|\\s--data|\\s-F\\b|\\s--form|\\s-T\\b|"
	  "\\s--upload-file|\\s-X\\s*(?:POST|PUT)\\b|--post-(?:data|file)|\\$\\(|"
	  "\\$\\{?\\w*(?:KEY|TOKEN|SECRET|PASS)|\\|\\s*(?:sudo\\s+)?(?:ba|z|da)?sh\\b)" },
	/* an image the renderer fetches, its URL carrying data */
	{ "image_exfiltration",
	  "!\\[[^\\]\\n]{0,200}\\]\\(\\s*<?https?://[^\\s)]*\\?[^\\s)]*="
	  "|(?:<|&lt;)img\\s[^>]{0,200}src\\s*=\\s*['\"]?https?://[^\\s'\">]*\\?[^\\s'\">]*=" },
	/* zero-width and bidi controls, tag characters; not ZWJ inside emoji,
	 * not ZWNJ/LRM/RLM next to the scripts that need them, not the tags of
	 * a subdivision flag */
	{ "invisible_text",
	  "[\\x{200B}\\x{202A}-\\x{202E}\\x{2066}-\\x{2069}]"
	  "|(?<![" RTL INDIC "])\\x{200C}(?![" RTL INDIC "])"
	  "|\\x{200D}(?![\\x{2600}-\\x{27BF}\\x{1F000}-\\x{1FAFF}])"
	  "|(?<![" RTL "]|[" RTL "][\\s\\p{P}])[\\x{200E}\\x{200F}](?![\\s\\p{P}]?[" RTL "])"
	  "|(?<![\\x{1F3F4}\\x{E0020}-\\x{E007E}])[\\x{E0000}-\\x{E007F}]" },
};

#define BUILTIN_COUNT COG_ARRAY_LEN(builtin_src)

static inject_rule builtins[BUILTIN_COUNT];
static bool builtins_ok;
static pthread_once_t builtins_once = PTHREAD_ONCE_INIT;

static pcre2_general_context *gctx;
static pcre2_match_context *mctx;
static pcre2_compile_context *cctx;
static pthread_once_t ctx_once = PTHREAD_ONCE_INIT;

static void *pcre_alloc(size_t size, void *ud)
{
	(void)ud;
	return cog_malloc(size);
}

static void pcre_free(void *p, void *ud)
{
	(void)ud;
	cog_free(p);
}

/* The limits: a hostile text costs at most this much per rule and start. */
static void make_contexts(void)
{
	gctx = pcre2_general_context_create(pcre_alloc, pcre_free, NULL);
	if (!gctx)
		return;
	mctx = pcre2_match_context_create(gctx);
	cctx = pcre2_compile_context_create(gctx);
	if (mctx) {
		pcre2_set_match_limit(mctx, 200000);
		pcre2_set_depth_limit(mctx, 2000);
		pcre2_set_heap_limit(mctx, 8192);   /* KiB */
	}
	if (cctx)
		pcre2_set_max_pattern_length(cctx, INJECT_REGEX_MAX);
}

int inject_compile(const char *name, const char *regex, pcre2_code **re)
{
	pthread_once(&ctx_once, make_contexts);
	*re = NULL;
	if (!gctx || !mctx || !cctx)
		return cog__oom("cog_injection_configure: PCRE2 contexts");
	int err = 0;
	PCRE2_SIZE offset = 0;
	pcre2_code *code = pcre2_compile((PCRE2_SPTR)regex, PCRE2_ZERO_TERMINATED,
		PCRE2_UTF | PCRE2_CASELESS | PCRE2_MATCH_INVALID_UTF, &err, &offset, cctx);
	if (!code) {
		if (err == PCRE2_ERROR_NOMEMORY)
			return cog__oom("cog_injection_configure: compiling a pattern");
		PCRE2_UCHAR msg[256];
		if (pcre2_get_error_message(err, msg, sizeof(msg)) < 0)
			strcpy((char *)msg, "unknown error");
		return cog__error(COG_EINVAL, "cog_injection_configure: pattern '%s' does not "
			"compile at offset %zu: %s", name, (size_t)offset, (const char *)msg);
	}
	pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  /* when there is a JIT */
	*re = code;
	return COG_OK;
}

static void compile_builtins(void)
{
	for (size_t i = 0; i < BUILTIN_COUNT; i++) {
		builtins[i].name = (char *)builtin_src[i].name;
		if (inject_compile(builtin_src[i].name, builtin_src[i].regex, &builtins[i].re)) {
			/* a mistake in a built-in shows in the tests; OOM leaves none */
			for (size_t k = 0; k < i; k++)
				pcre2_code_free(builtins[k].re);
			return;
		}
	}
	builtins_ok = true;
}

const inject_rule *inject_builtins(size_t *count)
{
	pthread_once(&builtins_once, compile_builtins);
	*count = builtins_ok ? BUILTIN_COUNT : 0;
	return builtins_ok ? builtins : NULL;
}

/* ---- scanning ---- */

static size_t utf8_back(const char *s, size_t at)
{
	while (at > 0 && ((unsigned char)s[at] & 0xC0) == 0x80)
		at--;
	return at;
}

/* An invisible or control character at s (its length in *n), or 0. */
static uint32_t hidden_char(const unsigned char *s, size_t left, size_t *n)
{
	uint32_t c;
	if (s[0] < 0x20 || s[0] == 0x7F) {
		*n = 1;
		return s[0] == '\n' || s[0] == '\t' ? 0 : s[0] + 0u;
	}
	if (s[0] == 0xE2 && left >= 3) {
		c = ((s[0] & 0x0Fu) << 12) | ((s[1] & 0x3Fu) << 6) | (s[2] & 0x3Fu);
		*n = 3;
		return (c >= 0x200B && c <= 0x200F) || (c >= 0x202A && c <= 0x202E) ||
		       (c >= 0x2066 && c <= 0x2069) ? c : 0;
	}
	if (s[0] == 0xF3 && left >= 4 && s[1] == 0xA0 && (s[2] == 0x80 || s[2] == 0x81)) {
		c = ((s[1] & 0x3Fu) << 12) | ((s[2] & 0x3Fu) << 6) | (s[3] & 0x3Fu);
		*n = 4;
		return 0xE0000u | c;
	}
	*n = 1;
	return 0;
}

/* The excerpt of a match: its start (at least 40 bytes, at most
 * INJECT_EXCERPT_MAX), invisible characters written as <U+XXXX>, then
 * redacted (secrets never leave in a report). NULL on OOM. */
static char *excerpt(const char *text, size_t len, size_t start, size_t end)
{
	size_t want = end - start;
	if (want < 40)
		want = 40;
	if (want > INJECT_EXCERPT_MAX)
		want = INJECT_EXCERPT_MAX;
	size_t stop = start + want > len ? len : start + want;
	if (stop < len)
		stop = utf8_back(text, stop);
	cog_buf b = COG_BUF_INIT;
	for (size_t i = start; i < stop;) {
		size_t n;
		uint32_t c = hidden_char((const unsigned char *)text + i, stop - i, &n);
		if (c)
			cog_buf_printf(&b, "<U+%04X>", (unsigned int)c);
		else
			cog_buf_put(&b, text + i, n);
		i += n;
	}
	char *raw = cog_buf_detach(&b);
	if (!raw)
		return NULL;
	char *clean = cog__redact_text(raw);
	cog_free(raw);
	return clean;
}

static int add_match(cJSON *matches, const char *rule, const char *text, size_t len,
                     size_t start, size_t end)
{
	if (!matches)
		return COG_OK;
	char *ex = excerpt(text, len, start, end);
	cJSON *m = cJSON_CreateObject();
	bool ok = ex && m && cJSON_AddStringToObject(m, "rule", rule) &&
		cJSON_AddNumberToObject(m, "offset", (double)start) &&
		cJSON_AddStringToObject(m, "excerpt", ex);
	cog_free(ex);
	if (!ok || !cJSON_AddItemToArray(matches, m)) {
		cJSON_Delete(m);
		return cog__oom("injection scan: a match");
	}
	return COG_OK;
}

static int scan_rule(const inject_rule *rule, const char *text, size_t len,
                     pcre2_match_data *md, cJSON *matches, size_t *n)
{
	size_t pos = 0, found = 0;
	uint32_t opts = PCRE2_NOTEMPTY;
	while (pos <= len && found < INJECT_MATCHES_PER_RULE && *n < INJECT_MATCHES_MAX) {
		int rc = pcre2_match(rule->re, (PCRE2_SPTR)text, len, pos, opts, md, mctx);
		if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
			rc = pcre2_match(rule->re, (PCRE2_SPTR)text, len, pos, opts | PCRE2_NO_JIT,
			                 md, mctx);
		if (rc == PCRE2_ERROR_NOMEMORY)
			return cog__oom("injection scan");
		if (rc < 0)
			return COG_OK;  /* no (more) match, or a limit: stop this rule */
		const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
		size_t start = ov[0], end = ov[1] > ov[0] ? ov[1] : ov[0];
		int arc = add_match(matches, rule->name, text, len, start, end);
		if (arc)
			return arc;
		found++;
		(*n)++;
		pos = end > pos ? end : pos + 1;
		while (pos < len && ((unsigned char)text[pos] & 0xC0) == 0x80)
			pos++;
	}
	return COG_OK;
}

int inject_scan_rules(const inject_rule *rules, size_t count, const char *text,
                      size_t len, cJSON *matches, size_t *n)
{
	pthread_once(&ctx_once, make_contexts);
	if (!gctx || !mctx)
		return cog__oom("injection scan: PCRE2 contexts");
	pcre2_match_data *md = pcre2_match_data_create(1, gctx);
	if (!md)
		return cog__oom("injection scan: match data");
	int rc = COG_OK;
	for (size_t i = 0; i < count && !rc && *n < INJECT_MATCHES_MAX; i++)
		rc = scan_rule(&rules[i], text, len, md, matches, n);
	pcre2_match_data_free(md);
	return rc;
}
