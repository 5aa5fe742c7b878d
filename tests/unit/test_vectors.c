/*
 * Every vector file named on the command line gets the verdict it states:
 * the W3C §16 vectors, the Chromium captures and the synthetic attestation
 * statements.  A "fail" vector must fail with exactly the code its
 * expect_error names; one without expect_error is itself a failure.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vector.h"

static void
run_vector(void **state)
{
	const char *path = *state;
	json_t *v = vector_load(path);
	int want = vector_expected(v), got = vector_verify(v, NULL);

	if (got != want)
		fail_msg("%s: got %s, want %s", path, rp_err_code(got), rp_err_code(want));
	json_decref(v);
}

int
main(int argc, char **argv)
{
	struct CMUnitTest *tests;
	int r;

	if (argc < 2) {
		fprintf(stderr, "usage: test_vectors FILE.json ...\n");
		return 2;
	}
	if ((tests = calloc((size_t)argc - 1, sizeof(*tests))) == NULL)
		return 2;
	for (int i = 1; i < argc; i++) {
		const char *base = strrchr(argv[i], '/');

		tests[i - 1].name = base != NULL ? base + 1 : argv[i];
		tests[i - 1].test_func = run_vector;
		tests[i - 1].initial_state = argv[i];
	}
	r = _cmocka_run_group_tests("vectors", tests, (size_t)argc - 1, NULL, NULL);
	free(tests);
	return r;
}
