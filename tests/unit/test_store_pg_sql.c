/*
 * The PostgreSQL backend's statement table (store/store_pg.h), checked
 * without a server: which statements may be sent again on a new
 * connection.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "store_pg.h"

/* The SQL of one statement without its quoted literals. */
static void
sql_unquoted(const char *sql, char *out, size_t len)
{
	size_t n = 0;
	int quoted = 0;

	for (; *sql != '\0' && n + 1 < len; sql++) {
		if (*sql == '\'')
			quoted = !quoted;
		else if (!quoted)
			out[n++] = *sql;
	}
	out[n] = '\0';
}

/*
 * Only a statement marked PG_READ is sent again when its connection is
 * lost under it (pg_run): none of them may write, lock or call a
 * function of ours, whose SELECT may write (the recount, the windows' end).
 */
static void
test_pg_reads_are_reads(void **state)
{
	static const char *const writes[] = { "INSERT", "UPDATE", "DELETE", " FOR ",
	    "pk_", "nextval", "setval", "advisory", "set_config" };
	char text[4096];
	int reads = 0;

	(void)state;
	for (int i = 0; i < PG_STMT__COUNT; i++) {
		if (pg_sql[i].kind != PG_READ)
			continue;
		reads++;
		sql_unquoted(pg_sql[i].sql, text, sizeof(text));
		if (strncmp(text, "SELECT ", 7) != 0)
			fail_msg("%s is marked a read but is no SELECT", pg_sql[i].name);
		for (size_t w = 0; w < sizeof(writes) / sizeof(writes[0]); w++)
			if (strstr(text, writes[w]) != NULL)
				fail_msg("%s is marked a read but has \"%s\"", pg_sql[i].name,
				    writes[w]);
	}
	assert_true(reads > 10);
	assert_int_equal(pg_sql[PG_CER_RECOUNT].kind, PG_WRITE);
	assert_int_equal(pg_sql[PG_WINDOW_REVOKE].kind, PG_WRITE);
	assert_int_equal(pg_sql[PG_CRED_GET_LOGIN].kind, PG_READ);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pg_reads_are_reads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
