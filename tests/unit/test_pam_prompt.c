/*
 * Unit tests for what pam_passkey.so shows: the prompt texts and the QR
 * code in half blocks.  The rules are the ones pam/prompt.h states: the
 * URL alone on its line, the code after it, the first prompt with its QR
 * code within 80x23, and a QR code that is exactly qrencode's symbol
 * with its quiet zone.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <qrencode.h>

#include "ctl_text.h"
#include "prompt.h"
#include "qr.h"

/* 60 characters, the shape passkeyd gives on http://localhost. */
#define URL60	"http://localhost:8080/l/Zk3rQ9x_b2-LmN0pT7vW8yA1cD4eF5gH6jK2"

#define MAX_LINES	64

struct lines {
	int n;
	char *line[MAX_LINES];
	char *buf;
};

/* Splits at '\n'; a text not ending in '\n' has a last, partial line. */
static void
split(const char *s, struct lines *l)
{
	char *p;

	l->n = 0;
	l->buf = strdup(s);
	assert_non_null(l->buf);
	for (p = l->buf; l->n < MAX_LINES; ) {
		char *nl = strchr(p, '\n');

		l->line[l->n++] = p;
		if (nl == NULL)
			break;
		*nl = '\0';
		p = nl + 1;
		if (*p == '\0')
			break;
	}
	assert_true(l->n < MAX_LINES);
}

/* UTF-8 code points: one terminal column each for what we draw. */
static size_t
columns(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

/* Lines the text takes on an 80-column terminal, wrapping included. */
static int
screen_lines(const struct lines *l)
{
	int n = 0;

	for (int i = 0; i < l->n; i++) {
		size_t c = columns(l->line[i]);

		n += c == 0 ? 1 : (int)((c + PROMPT_COLUMNS - 1) / PROMPT_COLUMNS);
	}
	return n;
}

static int
find_line(const struct lines *l, const char *want)
{
	for (int i = 0; i < l->n; i++)
		if (strcmp(l->line[i], want) == 0)
			return i;
	return -1;
}

static void
test_first_prompt_layout(void **state)
{
	struct prompt_args a = { .kind = PROMPT_LOGIN, .url = URL60,
	    .code = "4F7-K2Q", .seconds = 90 };
	char *s = prompt_first(&a);
	struct lines l;
	int u;

	assert_non_null(s);
	split(s, &l);
	assert_int_equal(l.n, 4);
	/* ssh puts "(user@host) " before line one: a heading, not the QR. */
	assert_string_equal(l.line[0], "Approve this login with your passkey:");
	assert_int_not_equal(u = find_line(&l, URL60), -1);
	assert_string_equal(l.line[u + 1], "code: 4F7-K2Q");
	assert_string_equal(l.line[l.n - 1],
	    "Press Enter after approving (expires in 90 s): ");
	/* The answer goes right after the prompt: no newline at the end. */
	assert_true(s[strlen(s) - 1] == ' ');
	free(l.buf);
	free(s);
}

/* The heading names the server as the page does, when it is given. */
static void
test_heading_names_host(void **state)
{
	struct prompt_args a = { .kind = PROMPT_LOGIN, .url = URL60,
	    .code = "4F7-K2Q", .seconds = 90, .host = "vm" };
	char *s = prompt_first(&a);

	(void)state;
	assert_non_null(s);
	assert_true(strncmp(s, "Approve this login to vm with your passkey:\n", 44) == 0);
	free(s);
	a.kind = PROMPT_REGISTER;
	s = prompt_first(&a);
	assert_non_null(s);
	assert_true(strncmp(s, "Register a passkey for this account on vm:\n", 43) == 0);
	free(s);
}

/*
 * flow=info: the link, the code and "Waiting" come before the QR code,
 * so that an older client's logger (1024 bytes, escaped) still shows them.
 */
static void
test_info_text_link_first(void **state)
{
	struct prompt_args a = { .kind = PROMPT_LOGIN, .url = URL60,
	    .code = "4F7-K2Q", .seconds = 90, .qr = "QRQRQR\nQRQRQR\n" };
	char *s = prompt_info(&a);
	const char *url, *wait, *qr;

	(void)state;
	assert_non_null(s);
	assert_non_null(url = strstr(s, "\n" URL60 "\n"));
	assert_non_null(wait = strstr(s, "\nWaiting for your approval (expires in 90 s)..."));
	assert_non_null(qr = strstr(s, "QRQRQR"));
	assert_true(url < wait && wait < qr);
	assert_null(strstr(s, "Press Enter"));
	free(s);
}

/* An ending stays on screen: a prompt of its own, two short lines. */
static void
test_held_ending(void **state)
{
	char *s = prompt_held("passkey: login denied in the browser");

	(void)state;
	assert_non_null(s);
	assert_string_equal(s, "passkey: login denied in the browser\nPress Enter to continue: ");
	free(s);
}

static void
test_register_wording(void **state)
{
	struct prompt_args a = { .kind = PROMPT_REGISTER, .url = URL60,
	    .code = "4F7-K2Q", .seconds = 90 };
	char *s = prompt_first(&a), *t = prompt_again(&a);
	struct lines l;

	assert_non_null(s);
	assert_non_null(t);
	split(s, &l);
	assert_string_equal(l.line[0], "Register a passkey for this account:");
	assert_int_not_equal(find_line(&l, URL60), -1);
	free(l.buf);
	assert_non_null(strstr(t, "Not registered yet."));
	free(s);
	free(t);
}

static void
test_again_prompt_repeats_url(void **state)
{
	struct prompt_args a = { .kind = PROMPT_LOGIN, .url = URL60,
	    .code = "4F7-K2Q", .seconds = 71 };
	char *s = prompt_again(&a);
	struct lines l;
	int u;

	assert_non_null(s);
	split(s, &l);
	assert_true(strncmp(l.line[0], "Not approved yet.", 17) == 0);
	assert_int_not_equal(u = find_line(&l, URL60), -1);
	assert_string_equal(l.line[u + 1], "code: 4F7-K2Q");
	assert_string_equal(l.line[l.n - 1], "Press Enter after approving (71 s left): ");
	assert_true(screen_lines(&l) <= 5);
	free(l.buf);
	free(s);
}

/* Whether module (x, y) of the drawn code, quiet zone included, is light. */
static bool
drawn_light(const struct lines *l, int x, int y)
{
	const char *p = l->line[y / 2];
	bool top;

	/* Each cell is one code point: a space or a 3-byte block. */
	for (int i = 0; i < x; i++)
		p += *p == ' ' ? 1 : 3;
	if (*p == ' ')
		return false;
	top = strncmp(p, "\xe2\x96\x80", 3) == 0;	/* ▀ */
	if (strncmp(p, "\xe2\x96\x88", 3) == 0)		/* █ */
		return true;
	assert_true(top || strncmp(p, "\xe2\x96\x84", 3) == 0);	/* ▄ */
	return y % 2 == 0 ? top : !top;
}

/* Compares the drawing with qrencode's symbol at one level. */
static bool
same_symbol(const struct lines *l, int n, QRecLevel level)
{
	QRcode *q = QRcode_encodeString(URL60, 0, level, QR_MODE_8, 1);
	bool same;

	assert_non_null(q);
	same = q->width + 2 * QR_QUIET == n;
	for (int y = 0; same && y < q->width; y++)
		for (int x = 0; same && x < q->width; x++)
			same = drawn_light(l, x + QR_QUIET, y + QR_QUIET) ==
			    !(q->data[y * q->width + x] & 1);
	QRcode_free(q);
	return same;
}

static void
test_qr_is_the_symbol_with_quiet_zone(void **state)
{
	struct lines l;
	int cols, nl;
	char *s = qr_render(URL60, PROMPT_COLUMNS, prompt_qr_lines(URL60), &cols, &nl);

	assert_true(QR_QUIET >= 2);	/* less does not scan reliably */
	assert_non_null(s);
	split(s, &l);
	assert_int_equal(l.n, nl);
	assert_int_equal(nl, (cols + 1) / 2);
	assert_true(cols <= PROMPT_COLUMNS);
	for (int i = 0; i < l.n; i++)
		assert_int_equal(columns(l.line[i]), cols);
	/* The module count is qrencode's width (at M or, if need be, L). */
	assert_true(same_symbol(&l, cols, QR_ECLEVEL_M) ||
	    same_symbol(&l, cols, QR_ECLEVEL_L));
	/* Quiet zone: QR_QUIET light modules on every side. */
	for (int y = 0; y < cols; y++)
		for (int x = 0; x < cols; x++)
			if (x < QR_QUIET || y < QR_QUIET || x >= cols - QR_QUIET ||
			    y >= cols - QR_QUIET)
				assert_true(drawn_light(&l, x, y));
	/* Under an odd number of rows, the half line stays background. */
	if (cols % 2 == 1)
		for (int x = 0; x < cols; x++)
			assert_false(drawn_light(&l, x, cols));
	free(l.buf);
	free(s);
}

static void
test_first_prompt_with_qr_fits_80x24(void **state)
{
	struct prompt_args a = { .kind = PROMPT_LOGIN, .url = URL60,
	    .code = "4F7-K2Q", .seconds = 90 };
	struct lines l;
	char *s;
	int u;

	assert_int_equal(strlen(URL60), 60);
	a.qr = qr_render(URL60, PROMPT_COLUMNS, prompt_qr_lines(URL60), NULL, NULL);
	assert_non_null(a.qr);
	s = prompt_first(&a);
	assert_non_null(s);
	split(s, &l);
	assert_true(screen_lines(&l) <= PROMPT_MAX_LINES);
	for (int i = 0; i < l.n; i++)
		assert_true(columns(l.line[i]) <= PROMPT_COLUMNS);
	/* Heading first, then the code, then the URL alone, then the code. */
	assert_string_equal(l.line[0], "Approve this login with your passkey:");
	assert_non_null(strstr(l.line[1], "\xe2\x96\x88"));
	assert_int_not_equal(u = find_line(&l, URL60), -1);
	assert_string_equal(l.line[u + 1], "code: 4F7-K2Q");
	assert_int_equal(u + 3, l.n);
	free(l.buf);
	free(s);
	free((char *)a.qr);
}

/* Whatever the URL's length, a QR code that is drawn leaves room. */
static void
test_qr_left_out_when_too_big(void **state)
{
	char url[CTL_URL_MAX + 1];

	for (size_t len = 30; len <= 400; len += 7) {
		struct prompt_args a = { .kind = PROMPT_LOGIN, .url = url,
		    .code = "4F7-K2Q", .seconds = 90 };
		struct lines l;
		char *s;

		memset(url, 'a', len);
		memcpy(url, "https://ssh.example.com/l/", 26);
		url[len] = '\0';
		a.qr = qr_render(url, PROMPT_COLUMNS, prompt_qr_lines(url), NULL, NULL);
		if (len > 78)	/* past version 4 at level L: over 19 lines */
			assert_null(a.qr);
		s = prompt_first(&a);
		assert_non_null(s);
		split(s, &l);
		assert_true(screen_lines(&l) <= PROMPT_MAX_LINES);
		free(l.buf);
		free(s);
		free((char *)a.qr);
	}
	assert_null(qr_render(URL60, PROMPT_COLUMNS, 10, NULL, NULL));
	assert_null(qr_render(URL60, 20, 40, NULL, NULL));
	assert_null(qr_render("", PROMPT_COLUMNS, 40, NULL, NULL));
	assert_null(qr_render(NULL, PROMPT_COLUMNS, 40, NULL, NULL));
}

static void
test_daemon_text_checks(void **state)
{
	char big[CTL_URL_MAX + 2];

	assert_true(ctl_url_ok(URL60));
	assert_true(ctl_url_ok("https://h.example/r/a?b=c&d=%41#x"));
	assert_false(ctl_url_ok(NULL));
	assert_false(ctl_url_ok(""));
	assert_false(ctl_url_ok("http://x/l/a b"));
	assert_false(ctl_url_ok("http://x/l/\x1b[2J"));
	assert_false(ctl_url_ok("http://x/l/a\nb"));
	assert_false(ctl_url_ok("http://x/l/\x7f"));
	assert_false(ctl_url_ok("http://x/l/\xc3\xa9"));
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_false(ctl_url_ok(big));
	big[CTL_URL_MAX] = '\0';
	assert_true(ctl_url_ok(big));

	assert_true(ctl_word_ok("4F7-K2Q", CTL_CODE_MAX));
	assert_true(ctl_word_ok("bad_signature", 64));
	assert_false(ctl_word_ok("", 8));
	assert_false(ctl_word_ok(NULL, 8));
	assert_false(ctl_word_ok("123456789", 8));
	assert_false(ctl_word_ok("a b", 8));
	assert_false(ctl_word_ok("a\x1b", 8));
	assert_false(ctl_word_ok("a/b", 8));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_prompt_layout),
		cmocka_unit_test(test_register_wording),
		cmocka_unit_test(test_held_ending),
		cmocka_unit_test(test_heading_names_host),
		cmocka_unit_test(test_info_text_link_first),
		cmocka_unit_test(test_again_prompt_repeats_url),
		cmocka_unit_test(test_qr_is_the_symbol_with_quiet_zone),
		cmocka_unit_test(test_first_prompt_with_qr_fits_80x24),
		cmocka_unit_test(test_qr_left_out_when_too_big),
		cmocka_unit_test(test_daemon_text_checks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
