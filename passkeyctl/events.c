/*
 * passkeyctl events [--json] [--limit N] [USER]: the audit log kept by
 * passkeyd (logins, failures with their reason, registrations, removals,
 * enrollments).  Users see their own; root anyone's, or everyone's.
 * Shown oldest first, like a log: the last N events.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl_text.h"
#include "passkeyctl.h"
#include "text.h"

#define EVENTS_MAX 10000

enum { OPT_JSON = 256, OPT_LIMIT, OPT_HELP };

static const struct option events_options[] = {
	{ "json", no_argument, NULL, OPT_JSON },
	{ "limit", required_argument, NULL, OPT_LIMIT },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static const char events_usage[] =
    "usage: passkeyctl events [--json] [--limit N] [USER]\n"
    "Shows the last N (default 50, at most 10000) audit events: yours, or as\n"
    "root USER's or everyone's.\n";

/* One column: the value made safe to show, spaces as '?' (one word). */
static void
field(const json_t *e, const char *key, int width)
{
	const char *s = json_string_value(json_object_get(e, key));
	char buf[1024];
	int n = 0;

	if (s == NULL || *s == '\0')
		s = "-";
	text_sanitize(s, buf, sizeof(buf));
	for (char *p = buf; *p; p++)
		if (*p == ' ')
			*p = '?';
	fputs(buf, stdout);
	n = (int)strlen(buf);
	for (; n < width; n++)
		putchar(' ');
	putchar(' ');
}

static void
print_event(const json_t *e)
{
	json_t *t = json_object_get(e, "time");
	time_t when = json_is_integer(t) ? (time_t)json_integer_value(t) : 0;
	char buf[32];

	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", localtime(&when));
	printf("%s  ", buf);
	field(e, "event", 20);
	field(e, "user", 10);
	field(e, "address", 15);
	field(e, "verdict", 7);
	field(e, "reason", 0);
	if (json_string_value(json_object_get(e, "detail")) != NULL) {
		fputs(" ", stdout);
		print_safe(stdout, json_string_value(json_object_get(e, "detail")));
	}
	putchar('\n');
}

int
cmd_events(int argc, char **argv)
{
	long long limit = 50;
	json_t *req, *items;
	int opt, json = 0, r;
	char *end;

	optind = 1;
	opterr = 1;
	while ((opt = getopt_long(argc, argv, "", events_options, NULL)) != -1) {
		switch (opt) {
		case OPT_JSON:
			json = 1;
			break;
		case OPT_LIMIT:
			if (optarg[0] < '0' || optarg[0] > '9' ||
			    (limit = strtoll(optarg, &end, 10)) < 1 ||
			    limit > EVENTS_MAX || *end != '\0')
				return usage_error(events_usage, "--limit must be 1..%d: '%s'",
				    EVENTS_MAX, optarg);
			break;
		case OPT_HELP:
			fputs(events_usage, stdout);
			return EXIT_VERDICT_OK;
		default:
			return usage_error(events_usage, NULL);
		}
	}
	if (argc - optind > 1)
		return usage_error(events_usage, "unexpected argument '%s'", argv[optind + 1]);
	if (optind < argc && !ctl_user_name_valid(argv[optind]))
		return usage_error(events_usage, "not a valid user name: '%s'", argv[optind]);
	req = json_pack("{s:s, s:s*, s:I}", "op", "events", "user",
	    optind < argc ? argv[optind] : NULL, "limit", (json_int_t)limit);
	if (req == NULL)
		return usage_error(events_usage, "user name is not UTF-8");
	r = daemon_ask_all(daemon_socket(), req, "events", &items);
	json_decref(req);
	if (r != EXIT_VERDICT_OK)
		return r;
	if (json) {
		r = print_json_pretty(items);
	} else {
		/* the daemon sends newest first; a log reads oldest first */
		for (size_t i = json_array_size(items); i-- > 0;)
			print_event(json_array_get(items, i));
		if (json_array_size(items) == 0)
			printf("no events\n");
		if (fflush(stdout) == EOF) {
			perror("passkeyctl: stdout");
			r = EXIT_VERDICT_REJECTED;
		}
	}
	json_decref(items);
	return r;
}
