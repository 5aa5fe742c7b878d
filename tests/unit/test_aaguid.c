/*
 * passkeyd/aaguid.c: the built-in authenticator names, an admin's table
 * over them, and the refusal of every malformed line with its number.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

#include "aaguid.h"

static const unsigned char windows_hello[16] = { 0x08, 0x98, 0x70, 0x58, 0xca, 0xdc,
	0x4b, 0x81, 0xb6, 0xe1, 0x30, 0xde, 0x50, 0xdc, 0xbe, 0x96 };
static const unsigned char made_up[16] = { 0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3, 4, 5,
	6, 7, 8, 9, 10, 11 };

/* The shipped data file's entries: every non-comment line. */
static size_t
builtin_lines(void)
{
	size_t n = 0;

	for (const char *p = aaguid_builtin_tsv; *p != '\0'; ) {
		const char *end = strchr(p, '\n');

		if (*p != '#' && *p != '\n')
			n++;
		if (end == NULL)
			break;
		p = end + 1;
	}
	return n;
}

static void
test_builtin(void **state)
{
	char err[200] = "";
	struct aaguid_table *t = aaguid_table_load(NULL, err, sizeof(err));

	(void)state;
	assert_non_null(t);
	assert_int_equal(builtin_lines(), 52);
	assert_int_equal(aaguid_table_count(t), 52);
	assert_string_equal(aaguid_table_name(t, windows_hello), "Windows Hello");
	assert_null(aaguid_table_name(t, made_up));
	assert_null(aaguid_table_name(NULL, windows_hello));
	aaguid_table_free(t);
}

static void
test_override_and_extend(void **state)
{
	char err[200] = "";
	struct aaguid_table *t = aaguid_table_load(NULL, err, sizeof(err));

	(void)state;
	assert_int_equal(aaguid_table_add_text(t,
	    "# ours\r\n"
	    "\n"
	    "08987058-CADC-4B81-B6E1-30DE50DCBE96\tCorp laptops\r\n"
	    "deadbeef-0001-0203-0405-060708090a0b\tLab key\n"
	    "deadbeef-0001-0203-0405-060708090a0b\tLab key (2nd batch)", err, sizeof(err)), 0);
	assert_string_equal(aaguid_table_name(t, windows_hello), "Corp laptops");
	/* the later of two lines wins */
	assert_string_equal(aaguid_table_name(t, made_up), "Lab key (2nd batch)");
	assert_int_equal(aaguid_table_count(t), 53);
	aaguid_table_free(t);
}

static void
expect_refused(const char *text, const char *want)
{
	char err[200] = "";
	struct aaguid_table *t = aaguid_table_new();

	assert_int_equal(aaguid_table_add_text(t, "deadbeef-0001-0203-0405-060708090a0b\tok\n",
	    err, sizeof(err)), 0);
	assert_int_equal(aaguid_table_add_text(t, text, err, sizeof(err)), -1);
	if (strstr(err, want) == NULL)
		fail_msg("%s: got \"%s\", want \"%s\"", text, err, want);
	/* nothing of the refused text went in; what was there stays */
	assert_int_equal(aaguid_table_count(t), 1);
	assert_string_equal(aaguid_table_name(t, made_up), "ok");
	aaguid_table_free(t);
}

static void
test_refusals(void **state)
{
	char big[200];

	(void)state;
	expect_refused("08987058-cadc-4b81-b6e1-30de50dcbe96\tfine\nnonsense\n",
	    "line 2: expected an AAGUID");
	expect_refused("08987058-cadc-4b81-b6e1-30de50dcbe9\tshort\n", "line 1: expected");
	expect_refused("08987058xcadc-4b81-b6e1-30de50dcbe96\tx\n", "line 1: not an AAGUID");
	expect_refused("08987058-cadc-4b81-b6e1-30de50dcbeZZ\tx\n", "line 1: not an AAGUID");
	expect_refused("08987058-cadc-4b81-b6e1-30de50dcbe96 x\n", "line 1: expected");
	expect_refused("08987058-cadc-4b81-b6e1-30de50dcbe96\t\n", "line 1: no name");
	expect_refused("# c\n08987058-cadc-4b81-b6e1-30de50dcbe96\ta\tb\n",
	    "line 2: name is not printable");
	expect_refused("08987058-cadc-4b81-b6e1-30de50dcbe96\tevil\x1b[2J\n",
	    "name is not printable");
	expect_refused("08987058-cadc-4b81-b6e1-30de50dcbe96\tabc\xe2\x80\xae" "cba\n",
	    "name is not printable");		/* U+202E, right-to-left override */
	expect_refused("08987058-cadc-4b81-b6e1-30de50dcbe96\t\xc2\x9b" "31m\n",
	    "name is not printable");		/* U+009B CSI */
	expect_refused("08987058-cadc-4b81-b6e1-30de50dcbe96\t\xff\xfe\n",
	    "name is not printable");
	snprintf(big, sizeof(big), "08987058-cadc-4b81-b6e1-30de50dcbe96\t%065d\n", 0);
	expect_refused(big, "longer than 64");
}

static void
test_too_many_lines(void **state)
{
	size_t n = AAGUID_MAX_LINES + 1;
	char *text = malloc(n + 1), err[200] = "";
	struct aaguid_table *t = aaguid_table_new();

	(void)state;
	memset(text, '\n', n);
	text[n] = '\0';
	assert_int_equal(aaguid_table_add_text(t, text, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "more than 10000 lines"));
	text[n - 1] = '\0';	/* exactly the limit: empty lines are fine */
	assert_int_equal(aaguid_table_add_text(t, text, err, sizeof(err)), 0);
	free(text);
	aaguid_table_free(t);
}

static void
test_load_file(void **state)
{
	char path[] = "/tmp/aaguid-test.XXXXXX", err[300] = "";
	const char *good = "deadbeef-0001-0203-0405-060708090a0b\tFrom a file\n";
	struct aaguid_table *t;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, good, strlen(good)), (ssize_t)strlen(good));
	close(fd);
	t = aaguid_table_load(path, err, sizeof(err));
	assert_non_null(t);
	assert_string_equal(aaguid_table_name(t, made_up), "From a file");
	assert_string_equal(aaguid_table_name(t, windows_hello), "Windows Hello");
	aaguid_table_free(t);
	/* a bad line stops the load, naming the file and the line */
	fd = open(path, O_WRONLY | O_APPEND);
	assert_int_equal(write(fd, "junk\n", 5), 5);
	close(fd);
	assert_null(aaguid_table_load(path, err, sizeof(err)));
	assert_non_null(strstr(err, "aaguid_names: "));
	assert_non_null(strstr(err, "line 2: expected"));
	unlink(path);
	assert_null(aaguid_table_load(path, err, sizeof(err)));
	assert_non_null(strstr(err, "aaguid_names: "));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_builtin),
		cmocka_unit_test(test_override_and_extend),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_too_many_lines),
		cmocka_unit_test(test_load_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
