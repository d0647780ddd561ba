/* Output helpers shared by cog's commands. */
#include <stdarg.h>
#include <stdio.h>

#include "cli.h"

void cli_json_string(const char *s)
{
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", stdout);
		else if (*p < 0x20)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

int cli_fail(const cli *c, int exit_code, const char *fmt, ...)
{
	char message[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	if (c->json) {
		fputs("{\"ok\":false,\"error\":", stdout);
		cli_json_string(message);
		fputs("}\n", stdout);
	}
	fprintf(stderr, "%s: error: %s\n", c->program, message);
	return exit_code;
}

void cli_print_safe(const char *s, int width)
{
	int n = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++, n++) {
		if (*p < 0x20 || *p == 0x7f)
			printf("\\x%02x", *p);   /* no terminal control from stored data */
		else
			putchar(*p);
	}
	for (; n < width; n++)
		putchar(' ');
}
