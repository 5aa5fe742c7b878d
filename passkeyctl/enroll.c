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



int
cmd_enroll(int argc, char **argv)
{
	const char *sock = daemon_socket();
	long long expires = 0;
	json_t *req, *resp = NULL;
	char *end;
	int opt, r;

	optind = 1;
	opterr = 1;
	while ((opt = getopt_long(argc, argv, "", enroll_options, NULL)) != -1) {
		switch (opt) {
		case OPT_SOCKET:
			sock = optarg;
			break;
		case OPT_EXPIRES:
			if (optarg[0] < '0' || optarg[0] > '9' ||
			    (expires = strtoll(optarg, &end, 10)) < CTL_ENROLL_MIN_EXPIRES ||
			    expires > CTL_ENROLL_MAX_EXPIRES || *end != '\0')
				return usage_error(enroll_usage, "--expires must be %d..%ld seconds: '%s'",
				    CTL_ENROLL_MIN_EXPIRES, CTL_ENROLL_MAX_EXPIRES, optarg);
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
	r = daemon_ask(sock, req, &resp);
	json_decref(req);
	if (r == EXIT_VERDICT_OK)
		r = show_link(resp);
	json_decref(resp);
	return r;
}

static const char revoke_usage[] =
    "usage: passkeyctl revoke-enrollment USER\n"
    "Withdraws USER's pending enrollment; a link already sent stops working (needs root).\n";

int
cmd_revoke_enrollment(int argc, char **argv)
{
	json_t *req, *resp;
	int r;

	if (argc == 2 && strcmp(argv[1], "--help") == 0) {
		fputs(revoke_usage, stdout);
		return EXIT_VERDICT_OK;
	}
	if (argc != 2)
		return usage_error(revoke_usage, argc < 2 ? "missing USER" :
		    "unexpected argument '%s'", argv[argc < 2 ? 0 : 2]);
	if (!ctl_user_name_valid(argv[1]) || argv[1][0] == '-')
		return usage_error(revoke_usage, "not a valid user name: '%s'", argv[1]);
	if ((req = json_pack("{s:s, s:s}", "op", "revoke_enrollment", "user", argv[1])) == NULL)
		return usage_error(revoke_usage, "user name is not UTF-8: '%s'", argv[1]);
	r = daemon_ask(daemon_socket(), req, &resp);
	json_decref(req);
	json_decref(resp);
	if (r == EXIT_VERDICT_OK)
		printf("enrollment of %s revoked\n", argv[1]);
	return r;
}
