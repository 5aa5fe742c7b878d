/*
 * passkeyctl sessions [--json] [--user USER]
 * passkeyctl sessions revoke ID|--all [--user USER]
 *
 * Re-approval windows: after a passkey approval, a service with reuse=
 * lets the same client (address, and SSH key when required) in again
 * without the browser until the window ends.  Users see and end their
 * own; root anyone's (no --user: everyone's).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ctl_text.h"
#include "passkeyctl.h"
#include "text.h"

enum { OPT_JSON = 256, OPT_USER, OPT_ALL, OPT_HELP };

static const struct option sessions_options[] = {
	{ "json", no_argument, NULL, OPT_JSON },
	{ "user", required_argument, NULL, OPT_USER },
	{ "all", no_argument, NULL, OPT_ALL },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static const char sessions_usage[] =
    "usage: passkeyctl sessions [--json] [--user USER]\n"
    "       passkeyctl sessions revoke ID|--all [--user USER]\n"
    "Lists or ends re-approval windows: yours, or as root USER's or everyone's.\n";

static const char *
text_of(const json_t *w, const char *key)
{
	const char *s = json_string_value(json_object_get(w, key));

	return s != NULL && *s != '\0' ? s : "-";
}

static long long
int_of(const json_t *w, const char *key)
{
	return (long long)json_integer_value(json_object_get(w, key));
}

static void
print_window(const json_t *w, time_t now)
{
	char when[32], safe[256];
	time_t opened = (time_t)int_of(w, "opened");
	long long left = int_of(w, "expires") - (long long)now;

	strftime(when, sizeof(when), "%Y-%m-%d %H:%M", localtime(&opened));
	if (left < 0)
		left = 0;
	/* every field came from the store: shown safe, one word each */
	text_sanitize(text_of(w, "id"), safe, sizeof(safe));
	printf("%-16s ", safe);
	text_sanitize(text_of(w, "user"), safe, sizeof(safe));
	printf("%-10s ", safe);
	text_sanitize(text_of(w, "service"), safe, sizeof(safe));
	printf("%-8s ", safe);
	text_sanitize(text_of(w, "rhost"), safe, sizeof(safe));
	printf("%-15s %s  %2lldh%02lldm  %4lld  ", safe, when, left / 3600, left % 3600 / 60,
	    int_of(w, "uses"));
	text_sanitize(text_of(w, "client_key"), safe, sizeof(safe));
	printf("%s\n", safe);
}

static int
list(const char *user, int json)
{
	json_t *req, *items;
	time_t now = time(NULL);
	int r;

	req = json_pack("{s:s, s:s*}", "op", "sessions", "user", user);
	if (req == NULL)
		return usage_error(sessions_usage, "user name is not UTF-8");
	/* every page, on one connection */
	r = daemon_ask_all(daemon_socket(), req, "sessions", &items);
	json_decref(req);
	if (r != EXIT_VERDICT_OK)
		return r;
	if (json)
		r = print_json_pretty(items);
	else if (json_array_size(items) == 0)
		printf("no re-approval windows\n");
	else {
		printf("%-16s %-10s %-8s %-15s %-16s  %-6s  %4s  %s\n", "ID", "USER", "SERVICE",
		    "ADDRESS", "OPENED", "LEFT", "USES", "CLIENT KEY");
		for (size_t i = 0; i < json_array_size(items); i++)
			print_window(json_array_get(items, i), now);
	}
	json_decref(items);
	return r;
}

static int
revoke(const char *user, const char *id, int all)
{
	json_t *req, *resp = NULL;
	int r;

	if ((id != NULL) == all)
		return usage_error(sessions_usage, "give a window ID or --all");
	req = id != NULL ? json_pack("{s:s, s:s*, s:s}", "op", "sessions_revoke", "user", user,
	    "id", id) : json_pack("{s:s, s:s*, s:b}", "op", "sessions_revoke", "user", user,
	    "all", 1);
	if (req == NULL)
		return usage_error(sessions_usage, "not UTF-8");
	r = daemon_ask(daemon_socket(), req, &resp);
	json_decref(req);
	if (r == EXIT_VERDICT_OK)
		printf("ended %lld re-approval window%s\n", int_of(resp, "revoked"),
		    int_of(resp, "revoked") == 1 ? "" : "s");
	json_decref(resp);
	return r;
}

int
cmd_sessions(int argc, char **argv)
{
	const char *user = NULL;
	int opt, json = 0, all = 0;

	optind = 1;
	opterr = 1;
	while ((opt = getopt_long(argc, argv, "", sessions_options, NULL)) != -1) {
		switch (opt) {
		case OPT_JSON:
			json = 1;
			break;
		case OPT_USER:
			if (!ctl_user_name_valid(optarg))
				return usage_error(sessions_usage, "not a valid user name: '%s'",
				    optarg);
			user = optarg;
			break;
		case OPT_ALL:
			all = 1;
			break;
		case OPT_HELP:
			fputs(sessions_usage, stdout);
			return EXIT_VERDICT_OK;
		default:
			return usage_error(sessions_usage, NULL);
		}
	}
	if (optind < argc && strcmp(argv[optind], "revoke") == 0) {
		if (json)
			return usage_error(sessions_usage, "--json is for the listing");
		if (argc - optind > 2)
			return usage_error(sessions_usage, "unexpected argument '%s'",
			    argv[optind + 2]);
		return revoke(user, optind + 1 < argc ? argv[optind + 1] : NULL, all);
	}
	if (optind < argc)
		return usage_error(sessions_usage, "unexpected argument '%s'", argv[optind]);
	if (all)
		return usage_error(sessions_usage, "--all is for revoke");
	return list(user, json);
}
