/* What peer.c and peer_util.c share; not for tests. */
#ifndef TEST_PEER_INT_H
#define TEST_PEER_INT_H

#include <stddef.h>

/* Set the text peer_error() returns. */
void peer_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
long long peer_now_ms(void);
void peer_sleep_ms(unsigned int ms);

/* argv[0] as execve() wants it: itself when it has a '/', else from PATH.
 * 0, or -1 when there is no such executable. */
int peer_find_program(const char *program, char *out, size_t size);
/* A port on 127.0.0.1 that was free a moment ago (bind port 0, close). */
int peer_free_port(unsigned short *port);
/* A malloc'd copy of argv with every "{port}" replaced; NULL on OOM. */
char **peer_child_argv(const char *const *argv, unsigned short port);
void peer_free_argv(char **argv);
/* The child's environment: ours, minus what `extra` and `port_entry`
 * replace, plus those (strings borrowed; free only the array). */
char **peer_child_env(const char *const *extra, const char *port_entry);
/* $COG_TEST_BUILD_ROOT/meson-logs (else $TMPDIR or /tmp) /
 * peer-<name>-<pid>.log */
void peer_default_log_path(char *out, size_t size, const char *name);
/* The last bytes of a log, for messages (static buffer). */
const char *peer_log_tail(const char *path);
/* One GET of path on 127.0.0.1:port; the HTTP status, or -1 when nothing
 * answered. */
int peer_probe(unsigned short port, const char *path);

#endif
