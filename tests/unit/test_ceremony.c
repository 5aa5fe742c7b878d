#include <stdio.h>
/*
 * The ceremony table (passkeyd/ceremony.c): tokens, limits, expiry and the
 * memory bound on remembered final states.  Pure code, driven by a fake
 * clock passed in as `now`.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ceremony.h"

static const struct ceremony_limits limits = { .total = 6, .per_user = 2, .per_address = 3 };

static struct ceremony *
begin_ok(struct ceremony_table *t, const char *user, const char *rhost, time_t now)
{
	struct ceremony *c = NULL;

	assert_int_equal(ceremony_begin(t, CEREMONY_LOGIN, user, rhost, "sshd", 0,
	    now, 90, &c), CEREMONY_OK);
	assert_non_null(c);
	return c;
}

static void
test_tokens_are_distinct_and_findable(void **state)
{
	struct ceremony_table *t = ceremony_table_new(limits);
	struct ceremony *a = begin_ok(t, "a", "h1", 1000);
	struct ceremony *b = begin_ok(t, "b", "h2", 1000);

	assert_int_equal(strlen(a->token), CEREMONY_TOKEN_LEN);
	assert_true(ceremony_token_valid(a->token));
	assert_string_not_equal(a->token, b->token);
	assert_memory_not_equal(a->challenge, b->challenge, CEREMONY_CHALLENGE_LEN);
	assert_ptr_equal(ceremony_find(t, a->token), a);
	assert_ptr_equal(ceremony_find(t, b->token), b);
	assert_null(ceremony_find(t, "AAAAAAAAAAAAAAAAAAAAAAAA"));
	assert_null(ceremony_find(t, "short"));
	assert_false(ceremony_token_valid("AAAAAAAAAAAAAAAAAAAAAAA/"));
	assert_int_equal(strlen(a->code), 7);
	assert_int_equal(a->code[3], '-');
	ceremony_table_free(t);
}

static void
test_limits(void **state)
{
	struct ceremony_table *t = ceremony_table_new(limits);
	struct ceremony *c;

	begin_ok(t, "u", "h1", 1000);
	begin_ok(t, "u", "h2", 1000);
	assert_int_equal(ceremony_begin(t, CEREMONY_LOGIN, "u", "h3", "sshd", 0,
	    1000, 90, &c), CEREMONY_LIMIT_USER);
	assert_null(c);
	begin_ok(t, "v", "h1", 1000);
	begin_ok(t, "w", "h1", 1000);
	assert_int_equal(ceremony_begin(t, CEREMONY_LOGIN, "x", "h1", "sshd", 0,
	    1000, 90, &c), CEREMONY_LIMIT_ADDRESS);
	/* an empty address (sudo, the CLI) is not one shared address */
	begin_ok(t, "x", "", 1000);
	begin_ok(t, "y", "", 1000);
	assert_int_equal(ceremony_pending_count(t), 6);
	assert_int_equal(ceremony_begin(t, CEREMONY_LOGIN, "z", "", "sshd", 0,
	    1000, 90, &c), CEREMONY_LIMIT_TOTAL);
	ceremony_table_free(t);
}

static void
test_finish_frees_a_place(void **state)
{
	struct ceremony_table *t = ceremony_table_new(limits);
	struct ceremony *a = begin_ok(t, "u", "h1", 1000), *c;

	begin_ok(t, "u", "h2", 1000);
	ceremony_finish(t, a, CEREMONY_DENIED, "denied", 1001);
	assert_int_equal(ceremony_pending_count(t), 1);
	assert_int_equal(ceremony_begin(t, CEREMONY_LOGIN, "u", "h3", "sshd", 0,
	    1001, 90, &c), CEREMONY_OK);
	/* the spent challenge is gone */
	uint8_t zero[CEREMONY_CHALLENGE_LEN] = { 0 };
	assert_memory_equal(a->challenge, zero, sizeof(zero));
	ceremony_table_free(t);
}

static int expired_calls;

static void
on_expire(struct ceremony *c, void *arg)
{
	assert_int_equal(c->state, CEREMONY_EXPIRED);
	expired_calls++;
}

static void
test_sweep_expires_then_forgets(void **state)
{
	struct ceremony_table *t = ceremony_table_new(limits);
	struct ceremony *a = begin_ok(t, "u", "h1", 1000);
	char token[CEREMONY_TOKEN_LEN + 1];

	strcpy(token, a->token);
	expired_calls = 0;
	ceremony_sweep(t, 1089, on_expire, NULL);
	assert_int_equal(a->state, CEREMONY_PENDING);
	ceremony_sweep(t, 1090, on_expire, NULL);
	assert_int_equal(expired_calls, 1);
	assert_int_equal(a->state, CEREMONY_EXPIRED);
	assert_int_equal(ceremony_pending_count(t), 0);
	/* remembered for a while, so the page can say "expired" */
	ceremony_sweep(t, 1090 + CEREMONY_KEEP_FINAL - 1, on_expire, NULL);
	assert_non_null(ceremony_find(t, token));
	ceremony_sweep(t, 1090 + CEREMONY_KEEP_FINAL, on_expire, NULL);
	assert_null(ceremony_find(t, token));
	assert_int_equal(ceremony_count(t), 0);
	assert_int_equal(expired_calls, 1);
	ceremony_table_free(t);
}

static void
test_final_states_are_bounded(void **state)
{
	struct ceremony_table *t = ceremony_table_new(limits);

	/* many finished ceremonies within the remembering window */
	for (int i = 0; i < 40; i++) {
		char user[16];
		snprintf(user, sizeof(user), "u%d", i);
		struct ceremony *c = begin_ok(t, user, "", 1000 + i);
		ceremony_finish(t, c, CEREMONY_USED, NULL, 1000 + i);
	}
	ceremony_sweep(t, 1050, NULL, NULL);
	assert_true(ceremony_count(t) <= 2 * limits.total);
	ceremony_table_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tokens_are_distinct_and_findable),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_finish_frees_a_place),
		cmocka_unit_test(test_sweep_expires_then_forgets),
		cmocka_unit_test(test_final_states_are_bounded),
	};

	return cmocka_run_group_tests_name("ceremony", tests, NULL, NULL);
}
