/*
 * tool_workspace_open() against a real directory tree: every way out of the
 * workspace, once through openat2(2) and once through the user-space walk
 * used on kernels without it (tool__workspace_open_walk), plus a race in
 * which a directory of the path is swapped for a symlink leading out while
 * files are opened through it.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builtin_int.h"

typedef int (*open_fn)(int, const char *, int, mode_t);

/* _i of the loop tests: 0 openat2 (with the walk as fallback), 1 the walk. */
static const open_fn modes[] = { tool_workspace_open, tool__workspace_open_walk };
static const char *const mode_names[] = { "openat2", "walk" };

static char root[PATH_MAX];      /* holds ws/ and outside/ */
static char ws_path[PATH_MAX];
static char out_path[PATH_MAX];
static int ws_fd = -1;

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_msg(f != NULL, "fopen %s: %s", path, strerror(errno));
	fputs(text, f);
	fclose(f);
}

static void at(char *out, const char *dir, const char *name)
{
	int n = snprintf(out, PATH_MAX, "%s/%s", dir, name);

	ck_assert(n > 0 && n < PATH_MAX);
}

static void link_at(const char *target, const char *name)
{
	char path[PATH_MAX];

	at(path, ws_path, name);
	ck_assert_msg(symlink(target, path) == 0, "symlink %s: %s", path,
	              strerror(errno));
}

static void setup(void)
{
	char path[PATH_MAX];
	const char *tmp = getenv("TMPDIR");

	snprintf(root, sizeof(root), "%s/cog-ws-XXXXXX", tmp != NULL ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(root));
	at(ws_path, root, "ws");
	at(out_path, root, "outside");
	ck_assert_int_eq(mkdir(ws_path, 0700), 0);
	ck_assert_int_eq(mkdir(out_path, 0700), 0);
	at(path, out_path, "secret");
	write_text(path, "outside secret");
	at(path, ws_path, "real.txt");
	write_text(path, "inside");
	at(path, ws_path, "sub");
	ck_assert_int_eq(mkdir(path, 0700), 0);
	at(path, ws_path, "sub/inner.txt");
	write_text(path, "inner");
	ws_fd = open(ws_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(ws_fd, 0);
}

static void teardown(void)
{
	char cmd[PATH_MAX + 16];

	if (ws_fd >= 0)
		close(ws_fd);
	ws_fd = -1;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", root);
}

/* Open relpath read-only in mode _i and expect status `expected` with a
 * message mentioning `mention` (when not NULL). */
static void expect_refused(int mode, const char *relpath, int expected,
                           const char *mention)
{
	int fd = modes[mode](ws_fd, relpath, O_RDONLY, 0);

	if (fd >= 0)
		close(fd);
	ck_assert_msg(fd == expected, "%s: \"%s\" gave %d (%s), expected %d",
	              mode_names[mode], relpath, fd, cog_error_last(), expected);
	if (mention != NULL)
		ck_assert_msg(strstr(cog_error_last(), mention) != NULL,
		              "%s: \"%s\": message \"%s\" lacks \"%s\"",
		              mode_names[mode], relpath, cog_error_last(), mention);
}

/* Open relpath and expect `content`. */
static void expect_content(int mode, const char *relpath, const char *content)
{
	char buf[256];
	int fd = modes[mode](ws_fd, relpath, O_RDONLY, 0);

	ck_assert_msg(fd >= 0, "%s: \"%s\": %d %s", mode_names[mode], relpath, fd,
	              cog_error_last());
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	ck_assert_str_eq(buf, content);
}

START_TEST(test_plain_paths)
{
	expect_content(_i, "real.txt", "inside");
	expect_content(_i, "./real.txt", "inside");
	expect_content(_i, "sub/inner.txt", "inner");
	expect_content(_i, "sub//./inner.txt", "inner");
	expect_refused(_i, "missing.txt", COG_ENOTFOUND, "missing.txt");
	expect_refused(_i, "real.txt/x", COG_EINVAL, "real.txt/x");
	int fd = modes[_i](ws_fd, ".", O_RDONLY | O_DIRECTORY, 0);
	ck_assert_int_ge(fd, 0);
	close(fd);
}
END_TEST

START_TEST(test_dotdot_refused)
{
	expect_refused(_i, "../x", COG_EDENIED, "\"../x\"");
	expect_refused(_i, "..", COG_EDENIED, "..");
	expect_refused(_i, "a/../../x", COG_EDENIED, "a/../../x");
	/* Even a ".." that would stay inside: the rule is simple on purpose. */
	expect_refused(_i, "sub/../real.txt", COG_EDENIED, "sub/../real.txt");
	expect_refused(_i, "../outside/secret", COG_EDENIED, "..");
}
END_TEST

START_TEST(test_absolute_and_empty_refused)
{
	expect_refused(_i, "/etc/passwd", COG_EDENIED, "/etc/passwd");
	expect_refused(_i, "/", COG_EDENIED, "absolute");
	expect_refused(_i, "", COG_EDENIED, "empty");
	ck_assert_int_eq(modes[_i](ws_fd, NULL, O_RDONLY, 0), COG_EDENIED);
}
END_TEST

START_TEST(test_symlink_to_file_outside)
{
	link_at("/etc/passwd", "passwd");
	expect_refused(_i, "passwd", COG_EDENIED, "leaves the workspace");
	char secret[PATH_MAX];
	at(secret, out_path, "secret");
	link_at(secret, "abs-secret");
	expect_refused(_i, "abs-secret", COG_EDENIED, "abs-secret");
	link_at("../outside/secret", "rel-secret");
	expect_refused(_i, "rel-secret", COG_EDENIED, "rel-secret");
}
END_TEST

START_TEST(test_symlink_to_dir_outside)
{
	link_at(out_path, "outdir");
	expect_refused(_i, "outdir/secret", COG_EDENIED, "outdir/secret");
	link_at("..", "parent");
	expect_refused(_i, "parent/outside/secret", COG_EDENIED, "parent");
	int fd = modes[_i](ws_fd, "outdir", O_RDONLY | O_DIRECTORY, 0);
	ck_assert_int_eq(fd, COG_EDENIED);
}
END_TEST

START_TEST(test_symlink_chain)
{
	/* A chain that ends outside... */
	link_at("c2", "c1");
	link_at("sub/c3", "c2");
	link_at("../c4", "sub/c3");
	link_at("../outside/secret", "c4");
	expect_refused(_i, "c1", COG_EDENIED, "c1");
	/* ...one that stays inside, through ".." in targets... */
	link_at("i2", "i1");
	link_at("sub/up", "i2");
	link_at("../real.txt", "sub/up");
	expect_content(_i, "i1", "inside");
	/* ...and a loop. */
	link_at("loop2", "loop1");
	link_at("loop1", "loop2");
	expect_refused(_i, "loop1", COG_EDENIED, "loop1");
}
END_TEST

START_TEST(test_symlinks_inside_followed)
{
	link_at("real.txt", "alias");
	link_at("sub", "subdir");
	expect_content(_i, "alias", "inside");
	expect_content(_i, "subdir/inner.txt", "inner");
	link_at("../real.txt", "sub/back");
	expect_content(_i, "sub/back", "inside");
}
END_TEST

START_TEST(test_create_through_dangling_link)
{
	char path[PATH_MAX];
	struct stat st;

	/* A dangling link leading out must not create the file outside. */
	link_at("../outside/created", "dangling-out");
	int fd = modes[_i](ws_fd, "dangling-out", O_WRONLY | O_CREAT, 0600);
	ck_assert_int_eq(fd, COG_EDENIED);
	at(path, out_path, "created");
	ck_assert_int_ne(stat(path, &st), 0);
	/* One that stays inside creates its target. */
	link_at("sub/made", "dangling-in");
	fd = modes[_i](ws_fd, "dangling-in", O_WRONLY | O_CREAT, 0600);
	ck_assert_msg(fd >= 0, "%d %s", fd, cog_error_last());
	close(fd);
	at(path, ws_path, "sub/made");
	ck_assert_int_eq(stat(path, &st), 0);
	/* O_EXCL never follows. */
	fd = modes[_i](ws_fd, "alias-excl", O_WRONLY | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	fd = modes[_i](ws_fd, "alias-excl", O_WRONLY | O_CREAT | O_EXCL, 0600);
	ck_assert_int_eq(fd, COG_EEXISTS);
}
END_TEST

START_TEST(test_magic_links_refused)
{
	/* With /proc/self as the "workspace", its fd and root links are magic
	 * links: following them would jump anywhere. */
	int proc = open("/proc/self", O_PATH | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(proc, 0);
	int fd = modes[_i](proc, "root/etc/passwd", O_RDONLY, 0);
	ck_assert_int_eq(fd, COG_EDENIED);
	fd = modes[_i](proc, "cwd", O_RDONLY | O_DIRECTORY, 0);
	ck_assert_int_eq(fd, COG_EDENIED);
	char name[32];
	snprintf(name, sizeof(name), "fd/%d", ws_fd);
	fd = modes[_i](proc, name, O_RDONLY | O_DIRECTORY, 0);
	ck_assert_msg(fd < 0, "%s opened /proc/self/%s", mode_names[_i], name);
	close(proc);
}
END_TEST

/* ---- a directory swapped for a symlink while we open through it ---- */

typedef struct swapper {
	atomic_bool stop;
	char dir[PATH_MAX];       /* ws/swap */
	char parked[PATH_MAX];    /* ws/parked: the real directory, when away */
	char link[PATH_MAX];      /* ws/swaplink -> outside */
} swapper;

static void *swap_loop(void *arg)
{
	swapper *s = arg;

	while (!atomic_load(&s->stop)) {
		/* swap is the real directory -> swap is a link outside -> back */
		if (rename(s->dir, s->parked) == 0) {
			if (rename(s->link, s->dir) != 0)
				rename(s->parked, s->dir);
		}
		if (rename(s->dir, s->link) == 0)
			rename(s->parked, s->dir);
	}
	return NULL;
}

START_TEST(test_swapped_directory_race)
{
	swapper s;
	pthread_t thread;
	char path[PATH_MAX];
	int inside = 0, refused = 0;

	memset(&s, 0, sizeof(s));
	at(s.dir, ws_path, "swap");
	at(s.parked, ws_path, "parked");
	at(s.link, ws_path, "swaplink");
	ck_assert_int_eq(mkdir(s.dir, 0700), 0);
	at(path, s.dir, "secret");
	write_text(path, "inside");
	ck_assert_int_eq(symlink(out_path, s.link), 0);
	ck_assert_int_eq(pthread_create(&thread, NULL, swap_loop, &s), 0);
	for (int i = 0; i < 3000; i++) {
		char buf[64];
		int fd = modes[_i](ws_fd, "swap/secret", O_RDONLY, 0);
		if (fd < 0) {
			refused++;
			continue;
		}
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		buf[n > 0 ? n : 0] = '\0';
		ck_assert_msg(strcmp(buf, "outside secret") != 0,
		              "%s read the file outside the workspace", mode_names[_i]);
		inside++;
	}
	atomic_store(&s.stop, true);
	pthread_join(thread, NULL);
	ck_assert_int_gt(inside + refused, 0);
}
END_TEST

/* ---- the runner's helpers ---- */

START_TEST(test_add_data_encodings)
{
	cJSON *obj = cJSON_CreateObject();
	size_t used = 0;

	ck_assert_int_eq(builtin_add_data(obj, "a", "a_enc", "h\xc3\xa9llo", 6,
	                                  100, false, &used), 0);
	ck_assert_uint_eq(used, 6);
	ck_assert_str_eq(cog_json_get_string(obj, "a_enc"), "utf-8");
	/* Invalid UTF-8 and NUL bytes come as base64. */
	ck_assert_int_eq(builtin_add_data(obj, "b", "b_enc", "\xff\x00x", 3, 100,
	                                  false, &used), 0);
	ck_assert_str_eq(cog_json_get_string(obj, "b_enc"), "base64");
	ck_assert_str_eq(cog_json_get_string(obj, "b"), "/wB4");
	/* A multi-byte character cut at the end of a prefix is not an
	 * encoding error: it is left out. */
	ck_assert_int_eq(builtin_add_data(obj, "c", "c_enc", "ab\xc3", 3, 100,
	                                  true, &used), 0);
	ck_assert_str_eq(cog_json_get_string(obj, "c_enc"), "utf-8");
	ck_assert_uint_eq(used, 2);
	/* The budget counts escapes: 10 quotes need 20 bytes. */
	ck_assert_int_eq(builtin_add_data(obj, "d", NULL, "\"\"\"\"\"\"\"\"\"\"",
	                                  10, 9, false, &used), 0);
	ck_assert_uint_eq(used, 4);
	/* ...and never splits a character. */
	ck_assert_int_eq(builtin_add_data(obj, "e", NULL, "\xe2\x82\xac\xe2\x82\xac",
	                                  6, 4, false, &used), 0);
	ck_assert_uint_eq(used, 3);
	cJSON_Delete(obj);
}
END_TEST

static Suite *workspace_suite(void)
{
	Suite *s = suite_create("builtins-workspace");
	TCase *tc = tcase_create("open");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_plain_paths, 0, 2);
	tcase_add_loop_test(tc, test_dotdot_refused, 0, 2);
	tcase_add_loop_test(tc, test_absolute_and_empty_refused, 0, 2);
	tcase_add_loop_test(tc, test_symlink_to_file_outside, 0, 2);
	tcase_add_loop_test(tc, test_symlink_to_dir_outside, 0, 2);
	tcase_add_loop_test(tc, test_symlink_chain, 0, 2);
	tcase_add_loop_test(tc, test_symlinks_inside_followed, 0, 2);
	tcase_add_loop_test(tc, test_create_through_dangling_link, 0, 2);
	tcase_add_loop_test(tc, test_magic_links_refused, 0, 2);
	tcase_add_loop_test(tc, test_swapped_directory_race, 0, 2);
	tcase_add_test(tc, test_add_data_encodings);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *runner = srunner_create(workspace_suite());
	int failed;

	srunner_run_all(runner, CK_NORMAL);
	failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
