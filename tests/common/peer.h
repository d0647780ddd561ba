/*
 * A third-party server ("peer") that a test starts as a child process:
 * @dwmkerr/mock-llm, MCP servers, anything with a command line. The peer
 * gets a free port on 127.0.0.1 (chosen by binding port 0, then closing,
 * and passed through an environment variable, PORT unless told otherwise,
 * and wherever "{port}" appears in argv), its output goes to a log file,
 * and peer_start() returns once it answers an HTTP GET of a readiness path
 * (or, for a stdio peer, once it runs). peer_stop() stops it by the PID
 * peer_start() got: SIGTERM, then SIGKILL after a grace period.
 *
 * Failures are loud: peer_start() returns -1 and peer_error() says what is
 * missing (the program, a package's file) and how to install it, or, when
 * the peer started and died or never answered, the end of its log.
 *
 * The child gets PR_SET_PDEATHSIG(SIGTERM), so a test binary that dies
 * (a crash, a timeout) does not leave its peer running.
 *
 * Not thread-safe: start and stop peers from the test's main thread (an
 * unchecked fixture, or main()); forked tests may use a running peer.
 */
#ifndef TEST_PEER_H
#define TEST_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct peer peer;

typedef struct peer_options {
	const char *name;             /* for messages and the log file name */
	const char *const *argv;      /* NULL-terminated; argv[0] looked up in
	                                 PATH unless it has a '/' */
	const char *const *env;       /* extra "NAME=value" entries, NULL-
	                                 terminated, or NULL; they replace
	                                 inherited ones of the same name */
	const char *cwd;              /* NULL: the test's */
	/* The variable that carries the port; NULL: "PORT". */
	const char *port_env;
	/* Path probed with GET until the answer is 2xx, e.g. "/health";
	 * NULL: "/" and any HTTP status counts (the server answers). */
	const char *ready_path;
	unsigned int ready_timeout_ms; /* 0: 30000 (node starts slowly under
	                                 load) */
	/* A stdio peer (e.g. an MCP server over stdin/stdout): no port, no
	 * probe; its stdin and stdout are pipes (peer_stdin_fd(),
	 * peer_stdout_fd()), its stderr goes to the log. */
	bool stdio;
	/* Where the output goes; NULL: $COG_TEST_BUILD_ROOT/meson-logs (else
	 * $TMPDIR or /tmp) / peer-<name>-<test pid>.log. Kept after a failed
	 * start; removed by peer_stop() unless keep_log or the environment
	 * variable COG_TEST_KEEP_PEER_LOGS is set. */
	const char *log_path;
	bool keep_log;
	/* Appended to "cannot start" messages: how to install what is
	 * missing. */
	const char *install_hint;
} peer_options;

/* Start a peer and wait until it is ready. 0, or -1 with peer_error(). */
int peer_start(peer **out, const peer_options *options);

/* Why the last peer_start() or peer_node_module() failed. */
const char *peer_error(void);

pid_t peer_pid(const peer *p);
unsigned short peer_port(const peer *p);      /* 0 for a stdio peer */
const char *peer_url(const peer *p);          /* "http://127.0.0.1:<port>" */
const char *peer_log_path(const peer *p);
int peer_stdin_fd(const peer *p);             /* stdio peers; else -1 */
int peer_stdout_fd(const peer *p);

/* Whether the process is still running (it has not exited). */
bool peer_alive(peer *p);

/*
 * Stop it (a stdio peer: close its stdin and give it 0.5 s to end; then
 * SIGTERM, and SIGKILL after 5 s), reap it, close its pipes, free.
 * Returns its exit status as waitpid() gave it (a signal number + 128 when
 * it was killed by one), or -1 for NULL. NULL-safe.
 */
int peer_stop(peer *p);

/*
 * The path of `relative` (e.g. "@dwmkerr/mock-llm/dist/main.js") under
 * $COG_TEST_SOURCE_ROOT/tests/peers/node_modules, written to out. -1 with
 * peer_error() (naming the path and saying how to install the peers) when
 * the file is missing or the variable is unset.
 */
int peer_node_module(char *out, size_t size, const char *relative);

/* What to install for Node peers; a ready install_hint. */
#define PEER_NODE_HINT "install Node.js and the test peers: .ci/deps does it " \
	"(apt-get install nodejs npm; npm ci --prefix tests/peers)"

#endif /* TEST_PEER_H */
