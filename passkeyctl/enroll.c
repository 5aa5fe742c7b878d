/*
 * passkeyctl enroll USER: asks passkeyd (control/PROTOCOL.md, op
 * "enroll", root only) for a one-time registration link.  The link alone
 * goes to stdout, so `passkeyctl enroll bob | mail bob` sends nothing
 * else; the code and the expiry go to stderr for the admin.
 *
 * Exit codes: 0 link printed, 1 passkeyd refused or could not be asked,
 * 2 usage.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "ctl_client.h"
#include "ctl_text.h"
#include "passkeyctl.h"

#define ENROLL_TIMEOUT_MS	10000
#define ENROLL_MAX_EXPIRES	(366L * 86400)

enum { OPT_SOCKET = 256, OPT_EXPIRES, OPT_HELP };

static const struct option enroll_options[] = {
	{ "socket", required_argument, NULL, OPT_SOCKET },
	{ "expires", required_argument, NULL, OPT_EXPIRES },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static const char enroll_usage[] =
    "usage: passkeyctl [--socket PATH] enroll [--socket PATH] [--expires SECONDS] USER\n"
    "Prints a one-time link that registers a passkey for USER (needs root).\n";



/* A refusal's message and code, with anything unprintable replaced. */
static void
print_refusal(const json_t *resp)
{
	const char *msg = ctl_resp_str(resp, "message");
	const char *code = ctl_resp_str(resp, "error");
	char m[256], c[65];
	size_t i;

	for (i = 0; msg != NULL && msg[i] != '\0' && i < sizeof(m) - 1; i++)
		m[i] = msg[i] >= 0x20 && msg[i] < 0x7f ? msg[i] : '?';
	m[i] = '\0';
	for (i = 0; code != NULL && code[i] != '\0' && i < sizeof(c) - 1; i++)
		c[i] = code[i] > 0x20 && code[i] < 0x7f ? code[i] : '?';
	c[i] = '\0';
	fprintf(stderr, "passkeyctl: %s (%s)\n", m[0] != '\0' ? m :
	    "passkeyd refused the request", c[0] != '\0' ? c : "unknown");
}

static int
show_link(const json_t *resp)
{
	const char *url = ctl_resp_str(resp, "url");
	const char *code = ctl_resp_str(resp, "code");
	json_t *exp = json_object_get(resp, "expires_in");
	char when[64] = "";
	time_t t;

	if (!ctl_url_ok(url) || !ctl_word_ok(code, CTL_CODE_MAX) ||
	    !json_is_integer(exp) || json_integer_value(exp) < 1 ||
	    json_integer_value(exp) > ENROLL_MAX_EXPIRES) {
		fprintf(stderr, "passkeyctl: passkeyd sent an invalid answer\n");
		return EXIT_VERDICT_REJECTED;
	}
	printf("%s\n", url);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		perror("passkeyctl: stdout");
		return EXIT_VERDICT_REJECTED;
	}
	t = time(NULL) + (time_t)json_integer_value(exp);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %Z", localtime(&t));
	fprintf(stderr, "code: %s\nexpires: %s (in %lld s)\n", code, when,
	    (long long)json_integer_value(exp));
	return EXIT_VERDICT_OK;
}

int
cmd_enroll(int argc, char **argv)
{
	const char *sock = passkeyctl_socket != NULL ? passkeyctl_socket :
	    CTL_DEFAULT_SOCKET;
	long long expires = 0;
	json_t *req, *resp = NULL;
	char *end;
	int opt, err, r;

	optind = 1;
	opterr = 1;
	while ((opt = getopt_long(argc, argv, "", enroll_options, NULL)) != -1) {
		switch (opt) {
		case OPT_SOCKET:
			sock = optarg;
			break;
		case OPT_EXPIRES:
			if (optarg[0] < '0' || optarg[0] > '9' ||
			    (expires = strtoll(optarg, &end, 10)) < 1 ||
			    expires > ENROLL_MAX_EXPIRES || *end != '\0')
				return usage_error(enroll_usage, "--expires must be 1..%ld seconds: '%s'",
				    ENROLL_MAX_EXPIRES, optarg);
			break;
		case OPT_HELP:
			fputs(enroll_usage, stdout);
			return EXIT_VERDICT_OK;
		default:
			return usage_error(enroll_usage, NULL);
		}
	}
	if (optind == argc)
		return usage_error(enroll_usage, "missing USER");
	if (optind + 1 != argc)
		return usage_error(enroll_usage, "unexpected argument '%s'", argv[optind + 1]);
	if (!ctl_user_name_valid(argv[optind]))
		return usage_error(enroll_usage, "not a valid user name: '%s'", argv[optind]);
	if (sock[0] == '\0')
		return usage_error(enroll_usage, "empty --socket");

	/* json_pack refuses user names that are not UTF-8. */
	if ((req = json_pack("{s:s, s:s}", "op", "enroll", "user", argv[optind])) == NULL)
		return usage_error(enroll_usage, "user name is not UTF-8: '%s'", argv[optind]);
	if (expires > 0 && json_object_set_new(req, "expires_in",
	    json_integer((json_int_t)expires)) != 0) {
		json_decref(req);
		fprintf(stderr, "passkeyctl: out of memory\n");
		return EXIT_VERDICT_REJECTED;
	}
	err = ctl_call(sock, ENROLL_TIMEOUT_MS, req, &resp);
	json_decref(req);
	if (err != CTL_OK) {
		fprintf(stderr, "passkeyctl: %s: %s\n", sock, ctl_err_str(err));
		return EXIT_VERDICT_REJECTED;
	}
	if (!ctl_resp_ok(resp)) {
		print_refusal(resp);
		r = EXIT_VERDICT_REJECTED;
	} else
		r = show_link(resp);
	json_decref(resp);
	return r;
}
