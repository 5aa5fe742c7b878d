/*
 * The account names of unprivileged control callers (passkeyd/
 * account_names.c): looked up by the resolver thread, kept per uid for
 * ACCOUNT_NAMES_TTL_S, found or not, in a bounded table; a full queue or
 * a lookup out too long is "busy".  Names come from this machine's NSS
 * (uid 0 is root everywhere; NO_UID is no account).  tests/meson.build
 * runs it under nss_wrapper with tests/daemon/nss_slow.c, a directory
 * whose uids 72000.. are searched for slowly (NSS_SLOW_MS) and not found;
 * without it (run by hand) the tests that need it are skipped.
 * tests/daemon/test_availability.py shows what it is for, on the daemon.
 */
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "account_names.h"
#include "clock.h"
#include "ctl_text.h"

#define NO_UID		3999999u	/* no account on a test machine */
#define SLOW_UID	72000u		/* nss_slow.c: searched for slowly, not found */
#define FAILING_UID	73000u		/* nss_slow.c: the directory fails, slowly */
#define T0		1000000		/* a monotonic clock's ms */
#define TTL_MS		(ACCOUNT_NAMES_TTL_S * 1000)

/*
 * Asks until the answer is known, waiting on the resolver's pipe between:
 * for uid's name, or with asked, for the account that name gives.
 */
static enum account_name_state
answer_for(struct account_names *n, uid_t uid, const char *asked, int64_t now_ms, char *out,
    size_t len)
{
	enum account_name_state st;

	for (int i = 0; i < 50 && (st = asked != NULL ?
	    account_names_get_account(n, asked, now_ms, out, len) :
	    account_names_get(n, uid, now_ms, out, len)) == ACCOUNT_NAME_WAIT; i++) {
		struct pollfd p = { .fd = account_names_poll_fd(n), .events = POLLIN };

		assert_true(p.fd >= 0);
		(void)poll(&p, 1, 200);
		account_names_collect(n, now_ms);
	}
	return st;
}

static enum account_name_state
answer(struct account_names *n, uid_t uid, int64_t now_ms, char *out, size_t len)
{
	return answer_for(n, uid, NULL, now_ms, out, len);
}

static enum account_name_state
answer_account(struct account_names *n, const char *asked, int64_t now_ms, char *out,
    size_t len)
{
	return answer_for(n, 0, asked, now_ms, out, len);
}

static void
test_found_then_kept(void **state)
{
	struct account_names *n = account_names_new();
	char name[CTL_USER_MAX + 1];

	(void)state;
	assert_non_null(n);
	/* peek asks nothing: no thread, no lookup */
	assert_int_equal(account_names_peek(n, 0, T0, name, sizeof(name)), ACCOUNT_NAME_WAIT);
	assert_int_equal(account_names_poll_fd(n), -1);	/* no thread before a lookup */
	assert_int_equal(account_names_get(n, 0, T0, name, sizeof(name)), ACCOUNT_NAME_WAIT);
	assert_int_equal(answer(n, 0, T0, name, sizeof(name)), ACCOUNT_NAME_KNOWN);
	assert_string_equal(name, "root");
	assert_int_equal(account_names_lookups(n), 1);
	assert_int_equal(account_names_peek(n, 0, T0, name, sizeof(name)), ACCOUNT_NAME_KNOWN);
	assert_int_equal(account_names_get(n, 0, T0 + TTL_MS - 1, name, sizeof(name)),
	    ACCOUNT_NAME_KNOWN);
	assert_string_equal(name, "root");
	assert_int_equal(account_names_lookups(n), 1);
	/* at the TTL NSS is asked again, and when the clock runs back */
	assert_int_equal(account_names_get(n, 0, T0 + TTL_MS, name, sizeof(name)),
	    ACCOUNT_NAME_WAIT);
	assert_int_equal(answer(n, 0, T0 + TTL_MS, name, sizeof(name)), ACCOUNT_NAME_KNOWN);
	assert_int_equal(account_names_lookups(n), 2);
	assert_int_equal(account_names_get(n, 0, T0, name, sizeof(name)), ACCOUNT_NAME_WAIT);
	assert_int_equal(answer(n, 0, T0, name, sizeof(name)), ACCOUNT_NAME_KNOWN);
	assert_int_equal(account_names_lookups(n), 3);
	assert_string_equal(name, "root");
	assert_int_equal(account_names_free(n), 0);	/* nothing in flight: all stopped */
}

/* A uid without an account costs one lookup per TTL too. */
static void
test_not_found_is_kept(void **state)
{
	struct account_names *n = account_names_new();
	char name[CTL_USER_MAX + 1];

	(void)state;
	assert_int_equal(answer(n, NO_UID, T0, name, sizeof(name)), ACCOUNT_NAME_KNOWN);
	assert_string_equal(name, "");
	for (int i = 0; i < 100; i++) {
		strcpy(name, "stale");
		assert_int_equal(account_names_get(n, NO_UID, T0 + i, name, sizeof(name)),
		    ACCOUNT_NAME_KNOWN);
		assert_string_equal(name, "");
	}
	assert_int_equal(account_names_lookups(n), 1);
	account_names_free(n);
}

/*
 * The table is bounded: some other uid takes root's slot, and then root
 * is looked up again (and is still root).  Found by trying uids, so the
 * test does not restate the hash.  Yet it is a table: of 64 consecutive
 * uids (one site's accounts) most stay known side by side.
 */
static void
test_bounded_table(void **state)
{
	struct account_names *n = account_names_new();
	char name[CTL_USER_MAX + 1];
	uid_t other = 0;
	int kept = 0;

	(void)state;
	for (uid_t u = 1; u <= 64; u++)
		assert_int_equal(answer(n, NO_UID + u, T0, name, sizeof(name)), ACCOUNT_NAME_KNOWN);
	for (uid_t u = 1; u <= 64; u++)
		kept += account_names_get(n, NO_UID + u, T0, name, sizeof(name)) ==
		    ACCOUNT_NAME_KNOWN;
	assert_true(kept >= 48);
	assert_int_equal(answer(n, 0, T0, name, sizeof(name)), ACCOUNT_NAME_KNOWN);
	for (uid_t u = 1; u < 5000 && other == 0; u++) {
		assert_int_equal(answer(n, NO_UID + u, T0, name, sizeof(name)), ACCOUNT_NAME_KNOWN);
		if (account_names_get(n, 0, T0, name, sizeof(name)) == ACCOUNT_NAME_WAIT)
			other = NO_UID + u;
	}
	assert_int_not_equal(other, 0);
	assert_int_equal(answer(n, 0, T0, name, sizeof(name)), ACCOUNT_NAME_KNOWN);
	assert_string_equal(name, "root");
	account_names_free(n);
}

/* The slow directory's uids SLOW_UID.. fill the callers' queue: one more is busy. */
static void
fill_callers_queue(struct account_names *n, int64_t now_ms)
{
	char name[CTL_USER_MAX + 1];

	for (uid_t u = 0; u < ACCOUNT_NAMES_QUEUE; u++)
		assert_int_equal(account_names_get(n, SLOW_UID + u, now_ms, name, sizeof(name)),
		    ACCOUNT_NAME_WAIT);
	assert_int_equal(account_names_get(n, SLOW_UID + ACCOUNT_NAMES_QUEUE, now_ms, name,
	    sizeof(name)), ACCOUNT_NAME_BUSY);
}

static int
slow_directory(void)
{
	return getenv("NSS_WRAPPER_MODULE_SO_PATH") != NULL && getenv("NSS_SLOW_MS") != NULL;
}

/*
 * With the directory slow, the loop never waits: a full queue is busy at
 * once, and a uid whose lookup is out ACCOUNT_NAMES_WAIT_MS is busy.
 */
static void
test_slow_directory_busy(void **state)
{
	struct account_names *n;
	char name[CTL_USER_MAX + 1];

	(void)state;
	if (!slow_directory())
		skip();
	n = account_names_new();
	assert_int_equal(answer(n, 0, T0, name, sizeof(name)), ACCOUNT_NAME_KNOWN);
	fill_callers_queue(n, T0);
	assert_int_equal(account_names_lookups(n), 1);	/* root's: the directory is slow */
	for (uid_t u = 0; u < ACCOUNT_NAMES_QUEUE; u++)
		assert_int_equal(account_names_get(n, SLOW_UID + u, T0 + ACCOUNT_NAMES_WAIT_MS - 1,
		    name, sizeof(name)), ACCOUNT_NAME_WAIT);
	/* a known name is answered while the resolver is busy */
	assert_int_equal(account_names_get(n, 0, T0, name, sizeof(name)), ACCOUNT_NAME_KNOWN);
	assert_string_equal(name, "root");
	/* once the queued jobs are older than the wait, a new uid takes one's place */
	assert_int_equal(account_names_get(n, SLOW_UID + 500, T0 + ACCOUNT_NAMES_WAIT_MS, name,
	    sizeof(name)), ACCOUNT_NAME_WAIT);
	assert_int_equal(account_names_get(n, SLOW_UID + 501, T0 + ACCOUNT_NAMES_WAIT_MS - 1,
	    name, sizeof(name)), ACCOUNT_NAME_BUSY);
	account_names_free(n);
}

/*
 * After a flood of uids, a new caller's lookup is the next one done, not
 * the 64th (each takes NSS_SLOW_MS: a second in tests/meson.build); and
 * so is that of a flooded uid asked again after the wait.  The one
 * lookup running longer than the wait is busy: the directory is stuck.
 */
static void
test_newest_first(void **state)
{
	struct account_names *n;
	char name[CTL_USER_MAX + 1];
	const int64_t later = T0 + ACCOUNT_NAMES_WAIT_MS;
	uint64_t before;
	int busy = 0;

	(void)state;
	if (!slow_directory())
		skip();
	n = account_names_new();
	fill_callers_queue(n, T0);
	before = account_names_lookups(n);
	/* no entry, said with ENOENT (nss_wrapper): a caller's uid acts as no account */
	assert_int_equal(answer(n, SLOW_UID + 500, later, name, sizeof(name)), ACCOUNT_NAME_KNOWN);
	assert_string_equal(name, "");
	/* at most the lookup that was running, then its own */
	assert_in_range(account_names_lookups(n) - before, 1, 2);
	before = account_names_lookups(n);
	assert_int_equal(answer(n, SLOW_UID + 10, later + ACCOUNT_NAMES_WAIT_MS, name,
	    sizeof(name)), ACCOUNT_NAME_KNOWN);
	assert_in_range(account_names_lookups(n) - before, 1, 2);
	/* of the rest, only the one running is busy: a queued one is asked anew */
	for (uid_t u = 0; u < ACCOUNT_NAMES_QUEUE; u++)
		busy += account_names_get(n, SLOW_UID + u, later + 2 * ACCOUNT_NAMES_WAIT_MS, name,
		    sizeof(name)) == ACCOUNT_NAME_BUSY;
	assert_in_range(busy, 0, 1);
	account_names_free(n);
}

/*
 * The account a name root's request gives: its own spelling, kept as long
 * as a uid's name; looked up by root's own resolver.
 */
static void
test_account_by_name(void **state)
{
	struct account_names *n;
	char name[CTL_USER_MAX + 1];
	const int64_t stale = T0 + TTL_MS;

	(void)state;
	n = account_names_new();
	assert_int_equal(account_names_get_account(n, "root", T0, name, sizeof(name)),
	    ACCOUNT_NAME_WAIT);
	assert_int_equal(answer_account(n, "root", T0, name, sizeof(name)), ACCOUNT_NAME_KNOWN);
	assert_int_equal(account_names_get_account(n, "root", stale - 1, name, sizeof(name)),
	    ACCOUNT_NAME_KNOWN);
	assert_string_equal(name, "root");
	assert_int_equal(account_names_lookups(n), 1);
	/* a uid's name is another table: root's uid is looked up on its own */
	assert_int_equal(account_names_get(n, 0, T0, name, sizeof(name)), ACCOUNT_NAME_WAIT);
	/* past the short time "no such account" is kept: root's pages ask no more */
	assert_int_equal(account_names_get_account(n, "root", T0 + ACCOUNT_NAMES_BY_NAME_TTL_MS,
	    name, sizeof(name)), ACCOUNT_NAME_KNOWN);
	assert_int_equal(account_names_get_account(n, "root", stale, name, sizeof(name)),
	    ACCOUNT_NAME_WAIT);
	assert_string_equal(name, "");
	account_names_free(n);
}

/*
 * No such account, and a directory that fails: kept only
 * ACCOUNT_NAMES_BY_NAME_TTL_MS (an account root has just added is seen
 * at once).  nss_wrapper says a miss with ENOENT, as glibc passes on a
 * module that is down (nss-pam-ldapd with nslcd stopped): unsure, not
 * known; an outright failure is busy.
 */
static void
test_account_by_name_missing(void **state)
{
	struct account_names *n;
	char name[CTL_USER_MAX + 1];
	const int64_t stale = T0 + ACCOUNT_NAMES_BY_NAME_TTL_MS;

	(void)state;
	if (!slow_directory())
		skip();
	n = account_names_new();
	assert_int_equal(answer_account(n, "dir-5000", T0, name, sizeof(name)),
	    ACCOUNT_NAME_UNSURE);
	assert_string_equal(name, "");
	assert_int_equal(answer_account(n, "broken-1", T0, name, sizeof(name)), ACCOUNT_NAME_BUSY);
	assert_int_equal(account_names_lookups(n), 2);
	assert_int_equal(account_names_get_account(n, "dir-5000", stale - 1, name, sizeof(name)),
	    ACCOUNT_NAME_UNSURE);
	assert_int_equal(account_names_get_account(n, "broken-1", stale - 1, name, sizeof(name)),
	    ACCOUNT_NAME_BUSY);
	assert_int_equal(account_names_lookups(n), 2);
	/* the callers' queue full of slow lookups: root's names have a queue of their own */
	fill_callers_queue(n, T0);
	assert_int_equal(answer_account(n, "root", T0, name, sizeof(name)), ACCOUNT_NAME_KNOWN);
	assert_string_equal(name, "root");
	assert_in_range(account_names_lookups(n), 3, 4);	/* root's, and a slow one at most */
	assert_int_equal(account_lookup("broken-2", name, sizeof(name)), ACCOUNT_NAME_BUSY);
	assert_int_equal(account_lookup("root", name, sizeof(name)), ACCOUNT_NAME_KNOWN);
	assert_string_equal(name, "root");
	/* then both are asked again */
	assert_int_equal(account_names_get_account(n, "broken-1", stale, name, sizeof(name)),
	    ACCOUNT_NAME_WAIT);
	assert_int_equal(answer_account(n, "dir-5000", stale, name, sizeof(name)),
	    ACCOUNT_NAME_UNSURE);
	assert_string_equal(name, "");
	account_names_free(n);
}

/* A directory that fails: busy (not "no account") until it is asked again. */
static void
test_failed_lookup_is_busy(void **state)
{
	struct account_names *n;
	char name[CTL_USER_MAX + 1];
	uint64_t before;

	(void)state;
	if (!slow_directory())
		skip();
	n = account_names_new();
	assert_int_equal(answer(n, FAILING_UID, T0, name, sizeof(name)), ACCOUNT_NAME_BUSY);
	assert_int_equal(account_names_lookups(n), 1);
	assert_int_equal(account_names_get(n, FAILING_UID, T0 + ACCOUNT_NAMES_ERROR_TTL_S * 1000 - 1,
	    name, sizeof(name)), ACCOUNT_NAME_BUSY);
	before = account_names_lookups(n);
	assert_int_equal(account_names_get(n, FAILING_UID, T0 + ACCOUNT_NAMES_ERROR_TTL_S * 1000,
	    name, sizeof(name)), ACCOUNT_NAME_WAIT);
	assert_int_equal(before, 1);
	account_names_free(n);
}

/*
 * A stop does not wait for a directory that hangs: a lookup of 1.5 s in
 * flight holds account_names_free back ACCOUNT_NAMES_STOP_MS, and it says
 * the resolver was left running (the daemon then ends with _exit).  The
 * test waits for that lookup to end, as exit's destructors must not race
 * with it (nss_slow.c reads NSS_SLOW_MS on each call).
 */
static void
test_stop_does_not_wait_for_hung_lookup(void **state)
{
	struct account_names *n;
	char name[CTL_USER_MAX + 1];
	struct timespec running = { .tv_nsec = 200 * 1000000L };
	struct timespec rest = { .tv_sec = 1, .tv_nsec = 500 * 1000000L };
	int64_t t0, took;
	int stuck;

	(void)state;
	if (!slow_directory())
		skip();
	setenv("NSS_SLOW_MS", "1500", 1);
	n = account_names_new();
	assert_int_equal(account_names_get(n, SLOW_UID + 900, T0, name, sizeof(name)),
	    ACCOUNT_NAME_WAIT);
	nanosleep(&running, NULL);	/* the resolver has taken it */
	t0 = clock_monotonic_ms();
	stuck = account_names_free(n);
	took = clock_monotonic_ms() - t0;
	nanosleep(&rest, NULL);	/* the lookup left behind ends */
	setenv("NSS_SLOW_MS", "1000", 1);
	assert_int_equal(stuck, 1);
	assert_in_range(took, ACCOUNT_NAMES_STOP_MS - 50, 1200);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_found_then_kept),
		cmocka_unit_test(test_not_found_is_kept),
		cmocka_unit_test(test_bounded_table),
		cmocka_unit_test(test_slow_directory_busy),
		cmocka_unit_test(test_newest_first),
		cmocka_unit_test(test_failed_lookup_is_busy),
		cmocka_unit_test(test_account_by_name),
		cmocka_unit_test(test_account_by_name_missing),
		cmocka_unit_test(test_stop_does_not_wait_for_hung_lookup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
