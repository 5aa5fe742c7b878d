#include <stdlib.h>
#include <string.h>

#include "ctl_client.h"
#include "ctl_text.h"
#include "options.h"

static int
parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return -1;
	v = strtol(s, &end, 10);
	if (*end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* The value of "name=value" when a starts with name and '=', else NULL. */
static const char *
value_of(const char *a, const char *name)
{
	size_t n = strlen(name);

	return strncmp(a, name, n) == 0 && a[n] == '=' ? a + n + 1 : NULL;
}

static int
parse_one(const char *a, struct pk_opts *o)
{
	const char *v;

	if (strcmp(a, "nullok") == 0)
		o->nullok = true;
	else if (strcmp(a, "debug") == 0)
		o->debug = true;
	else if ((v = value_of(a, "socket")) != NULL)
		/* absolute, and fits sun_path with its NUL */
		return v[0] == '/' && strlen(v) < 108 ? (o->socket = v, 0) : -1;
	else if ((v = value_of(a, "timeout")) != NULL)
		return parse_long(v, 1, PK_MAX_TIMEOUT, &o->timeout);
	else if ((v = value_of(a, "enroll")) != NULL) {
		if (strcmp(v, "none") != 0 && strcmp(v, "pending") != 0 &&
		    strcmp(v, "after-auth") != 0)
			return -1;
		o->enroll = v;
	} else if ((v = value_of(a, "qr")) != NULL) {
		if (strcmp(v, "yes") != 0 && strcmp(v, "no") != 0)
			return -1;
		o->qr = v[0] == 'y';
	} else if ((v = value_of(a, "flow")) != NULL) {
		if (strcmp(v, "prompt") == 0)
			o->flow = PK_FLOW_PROMPT;
		else if (strcmp(v, "info") == 0)
			o->flow = PK_FLOW_INFO;
		else
			return -1;
	} else if ((v = value_of(a, "reuse")) != NULL) {
		return parse_long(v, 0, PK_MAX_REUSE, &o->reuse);
	} else if ((v = value_of(a, "reuse_key")) != NULL) {
		if (strcmp(v, "required") != 0 && strcmp(v, "optional") != 0)
			return -1;
		o->reuse_key_required = v[0] == 'r';
	} else if ((v = value_of(a, "daemon_user")) != NULL) {
		if (!ctl_user_name_valid(v))
			return -1;
		o->daemon_user = v;
	} else
		return -1;
	return 0;
}

/* The options parse_one knows, by the word before any '='. */
static const char *const option_names[] = {
	"nullok", "debug", "socket", "timeout", "enroll", "qr", "flow", "reuse",
	"reuse_key", "daemon_user",
};

/* Which of option_names a word names, or -1. */
static int
option_index(const char *a)
{
	size_t n = strcspn(a, "=");

	for (size_t i = 0; i < sizeof(option_names) / sizeof(option_names[0]); i++)
		if (strlen(option_names[i]) == n && strncmp(a, option_names[i], n) == 0)
			return (int)i;
	return -1;
}

int
pk_opts_parse(int argc, const char **argv, struct pk_opts *o, int *bad)
{
	unsigned seen = 0;
	int k;

	*o = (struct pk_opts){ .socket = CTL_DEFAULT_SOCKET,
	    .timeout = PK_DEFAULT_TIMEOUT, .enroll = "none", .flow = PK_FLOW_PROMPT, .reuse_key_required = true,
	    .daemon_user = PK_DEFAULT_DAEMON_USER };
	*bad = -1;
	for (int i = 0; i < argc; i++) {
		/*
		 * An option given twice is refused: with the last one winning,
		 * a word added at the end of a stack ("reuse_key=optional")
		 * would quietly undo the one the admin read first.
		 */
		k = argv[i] != NULL ? option_index(argv[i]) : -1;
		if (argv[i] == NULL || (k >= 0 && (seen & 1u << k)) || parse_one(argv[i], o) != 0) {
			*bad = i;
			return -1;
		}
		seen |= k >= 0 ? 1u << k : 0;
	}
	return 0;
}
