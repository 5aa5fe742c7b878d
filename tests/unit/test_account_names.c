/*
 * The account names of unprivileged control callers (passkeyd/
 * account_names.c): kept per uid for ACCOUNT_NAMES_TTL_S, found or not,
 * in a bounded table.  Names come from this machine's NSS: uid 0 is root
 * everywhere, and NO_UID is no account.  tests/daemon/test_availability.py
 * shows what the cache is for, against a slow directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "account_names.h"
#include "ctl_text.h"

#define NO_UID	3999999u	/* no account on a test machine */
#define T0	1000000		/* a monotonic clock's ms */
#define TTL_MS	(ACCOUNT_NAMES_TTL_S * 1000)

static void
test_found_then_kept(void **state)
{
	struct account_names *n = account_names_new();
	char name[CTL_USER_MAX + 1];

	(void)state;
	assert_non_null(n);
	account_names_get(n, 0, T0, name, sizeof(name));
	assert_string_equal(name, "root");
	assert_int_equal(account_names_lookups(n), 1);
	account_names_get(n, 0, T0 + TTL_MS - 1, name, sizeof(name));
	assert_string_equal(name, "root");
	assert_int_equal(account_names_lookups(n), 1);
	/* at the TTL, and when the clock runs back, NSS is asked again */
	account_names_get(n, 0, T0 + TTL_MS, name, sizeof(name));
	assert_int_equal(account_names_lookups(n), 2);
	account_names_get(n, 0, T0, name, sizeof(name));
	assert_int_equal(account_names_lookups(n), 3);
	assert_string_equal(name, "root");
	account_names_free(n);
}

/* A uid without an account costs one lookup per TTL too. */
static void
test_not_found_is_kept(void **state)
{
	struct account_names *n = account_names_new();
	char name[CTL_USER_MAX + 1] = "stale";

	(void)state;
	account_names_get(n, NO_UID, T0, name, sizeof(name));
	assert_string_equal(name, "");
	for (int i = 0; i < 100; i++)
		account_names_get(n, NO_UID, T0 + i, name, sizeof(name));
	assert_string_equal(name, "");
	assert_int_equal(account_names_lookups(n), 1);
	account_names_free(n);
}

/*
 * The table is bounded: some other uid takes root's slot, and then root
 * is looked up again (and is still root).  Found by trying uids, so the
 * test does not restate the hash.
 */
static void
test_bounded(void **state)
{
	struct account_names *n = account_names_new();
	char name[CTL_USER_MAX + 1];
	uid_t other = 0;

	(void)state;
	account_names_get(n, 0, T0, name, sizeof(name));
	for (uid_t u = 1; u < 100000 && other == 0; u++) {
		uint64_t before = account_names_lookups(n);

		account_names_get(n, NO_UID + u, T0, name, sizeof(name));
		account_names_get(n, 0, T0, name, sizeof(name));
		if (account_names_lookups(n) == before + 2)
			other = NO_UID + u;
	}
	assert_int_not_equal(other, 0);
	assert_string_equal(name, "root");
	account_names_free(n);
}

/* Without a table (the fuzzer): NSS's answer, every time. */
static void
test_no_table(void **state)
{
	char name[CTL_USER_MAX + 1];

	(void)state;
	account_names_get(NULL, 0, T0, name, sizeof(name));
	assert_string_equal(name, "root");
	account_names_get(NULL, NO_UID, T0, name, sizeof(name));
	assert_string_equal(name, "");
	assert_int_equal(account_names_lookups(NULL), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_found_then_kept),
		cmocka_unit_test(test_not_found_is_kept),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_no_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
