/*
 * pam_passkey.so's option parser: pk_opts_parse() (pam/options.c) on the
 * words of a pam.d line.  The input is split into argv words at every NUL
 * byte and '\n' (empty words included: PAM never passes them, the parser
 * must still refuse them), at most FUZZ_MAX_WORDS of them; the rest of the
 * input is ignored.
 *
 * Checks, besides the sanitizers:
 *   - success: *bad is -1; socket is the default or an absolute path under
 *     108 bytes taken from argv; timeout is 1..3600; enroll is none,
 *     pending or after-auth; daemon_user is the default or a valid user
 *     name from argv; reuse is 0..604800; qr, nullok, debug, flow and
 *     reuse_key are what the last words said;
 *   - refusal: *bad names a word, the words before it parse on their own,
 *     and that word alone is refused: the first bad word is the one named.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_client.h"
#include "ctl_text.h"
#include "options.h"

#define FUZZ_MAX_WORDS	32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
bad(const char *what, int argc, const char **argv)
{
	fprintf(stderr, "fuzz_pam_options: %s\n  argv:", what);
	for (int i = 0; i < argc; i++)
		fprintf(stderr, " [%s]", argv[i]);
	fprintf(stderr, "\n");
	abort();
}

/* 1 when p points into one of the words. */
static int
in_argv(const char *p, int argc, const char **argv)
{
	for (int i = 0; i < argc; i++)
		if (p >= argv[i] && p <= argv[i] + strlen(argv[i]))
			return 1;
	return 0;
}

/* 1 when word i names the same option (the part before '=') as an earlier word. */
static int
repeats_earlier(int i, const char **argv)
{
	size_t n = strcspn(argv[i], "=");

	for (int j = 0; j < i; j++)
		if (strcspn(argv[j], "=") == n && strncmp(argv[j], argv[i], n) == 0)
			return 1;
	return 0;
}

static void
check_ok(const struct pk_opts *o, int argc, const char **argv)
{
	bool qr = false, nullok = false, debug = false, key_required = true;
	enum pk_flow flow = PK_FLOW_PROMPT;

	if (o->socket == NULL || (strcmp(o->socket, CTL_DEFAULT_SOCKET) != 0 &&
	    (!in_argv(o->socket, argc, argv) || o->socket[0] != '/' ||
	    strlen(o->socket) >= 108)))
		bad("a socket path that is not absolute, too long or not from argv",
		    argc, argv);
	if (o->timeout < 1 || o->timeout > PK_MAX_TIMEOUT)
		bad("a timeout out of 1..3600", argc, argv);
	if (o->enroll == NULL || (strcmp(o->enroll, "none") != 0 &&
	    strcmp(o->enroll, "pending") != 0 && strcmp(o->enroll, "after-auth") != 0))
		bad("an enroll mode that is not none, pending or after-auth", argc, argv);
	if (o->daemon_user == NULL || (strcmp(o->daemon_user, PK_DEFAULT_DAEMON_USER) != 0 &&
	    (!in_argv(o->daemon_user, argc, argv) || !ctl_user_name_valid(o->daemon_user))))
		bad("a daemon_user that is not a valid name from argv", argc, argv);
	if (o->reuse < 0 || o->reuse > PK_MAX_REUSE)
		bad("a reuse out of 0..604800", argc, argv);
	for (int i = 0; i < argc; i++)
		if (repeats_earlier(i, argv))
			bad("success with an option given twice", argc, argv);
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "nullok") == 0)
			nullok = true;
		else if (strcmp(argv[i], "debug") == 0)
			debug = true;
		else if (strcmp(argv[i], "qr=yes") == 0)
			qr = true;
		else if (strcmp(argv[i], "qr=no") == 0)
			qr = false;
		else if (strcmp(argv[i], "flow=info") == 0)
			flow = PK_FLOW_INFO;
		else if (strcmp(argv[i], "flow=prompt") == 0)
			flow = PK_FLOW_PROMPT;
		else if (strcmp(argv[i], "reuse_key=required") == 0)
			key_required = true;
		else if (strcmp(argv[i], "reuse_key=optional") == 0)
			key_required = false;
	}
	if (o->qr != qr || o->nullok != nullok || o->debug != debug || o->flow != flow ||
	    o->reuse_key_required != key_required)
		bad("qr, nullok, debug, flow or reuse_key not as the words said", argc, argv);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *argv[FUZZ_MAX_WORDS];
	struct pk_opts o;
	char *buf;
	int argc = 0, b = -2, rc;
	size_t start = 0;

	if ((buf = malloc(size + 1)) == NULL)
		abort();
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (size_t i = 0; i <= size && argc < FUZZ_MAX_WORDS; i++)
		if (i == size || buf[i] == '\0' || buf[i] == '\n') {
			buf[i] = '\0';
			if (i < size || i > start || argc == 0)
				argv[argc++] = buf + start;
			start = i + 1;
		}
	if (size == 0)
		argc = 0;	/* no words at all: the defaults */
	memset(&o, 0xa5, sizeof(o));	/* pk_opts_parse must set every field */
	rc = pk_opts_parse(argc, argv, &o, &b);
	if (rc == 0) {
		if (b != -1)
			bad("success with *bad set", argc, argv);
		check_ok(&o, argc, argv);
	} else {
		struct pk_opts o2;
		int b2 = -2;

		if (rc != -1 || b < 0 || b >= argc)
			bad("a refusal that names no word", argc, argv);
		if (pk_opts_parse(b, argv, &o2, &b2) != 0 || b2 != -1)
			bad("the words before the bad one do not parse", argc, argv);
		check_ok(&o2, b, argv);
		/* refused alone, or a repeat of an option the words before it gave */
		if (pk_opts_parse(1, argv + b, &o2, &b2) == 0 ? !repeats_earlier(b, argv) : b2 != 0)
			bad("the named word parses on its own and repeats no earlier one",
			    argc, argv);
	}
	free(buf);
	return 0;
}
