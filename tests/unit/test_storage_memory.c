/* The in-memory backend against the storage conformance suite, plus the
 * vtable rules that cog_storage_new enforces for every backend. */
#include <stdlib.h>
#include <string.h>

#include "storage_conformance.h"

static int open_memory(cog_storage **out, void *state)
{
	return cog_storage_memory_new(out);
}

static void reset_nothing(void *state)
{
}

static int closed;

static void count_close(void *self)
{
	closed++;
}

static int fake_put(void *self, const char *c, const char *k, const char *v,
                    size_t n, int64_t e)
{
	return 0;
}

START_TEST(vtable_versions_and_members)
{
	cog_storage *s = NULL;
	cog_storage_vtable vt;
	ck_assert_int_eq(cog_storage_vtable_init(&vt, 0), COG_EVERSION);
	ck_assert_int_eq(cog_storage_vtable_init(&vt, COG_STORAGE_VTABLE_VERSION + 1),
		COG_EVERSION);
	ck_assert_int_eq(cog_storage_vtable_init(&vt, COG_STORAGE_VTABLE_VERSION), 0);
	vt.version = 99;
	ck_assert_int_eq(cog_storage_new(&s, &vt), COG_EVERSION);
	ck_assert_ptr_null(s);
	vt.version = COG_STORAGE_VTABLE_VERSION;
	vt.close = count_close;
	vt.put = fake_put;
	closed = 0;
	ck_assert_int_eq(cog_storage_new(&s, &vt), COG_EINVAL);
	ck_assert_msg(strstr(cog_error_last(), "'get'"), "%s", cog_error_last());
	ck_assert_int_eq(closed, 1); /* ownership of self was taken, then released */
	ck_assert_int_eq(cog_storage_new(NULL, &vt), COG_EINVAL);
	ck_assert_int_eq(cog_storage_new(&s, NULL), COG_EINVAL);
	cog_storage_free(NULL);
}
END_TEST

int main(void)
{
	conformance_backend memory = { "memory", open_memory, reset_nothing, false, NULL };
	SRunner *sr = srunner_create(storage_conformance_suite(&memory));
	Suite *extra = suite_create("storage/vtable");
	TCase *tc = tcase_create("vtable");
	tcase_add_test(tc, vtable_versions_and_members);
	suite_add_tcase(extra, tc);
	srunner_add_suite(sr, extra);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
