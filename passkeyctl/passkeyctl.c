/*
 * passkeyctl: the command line of ssh-passkeys.  One table of commands;
 * each lives in a file named for what it does.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "passkeyctl.h"

static const struct {
	const char *name;
	int (*run)(int, char **);
	const char *summary;
} commands[] = {
	{ "verify-registration", cmd_verify_registration,
	  "verify a WebAuthn registration response offline" },
	{ "verify-assertion", cmd_verify_assertion,
	  "verify a WebAuthn authentication response offline" },
	{ "add", cmd_add,
	  "register a new passkey for your account (prints a one-time link)" },
	{ "list", cmd_list,
	  "show passkeys: yours, or (root) a user's or everyone's" },
	{ "rename", cmd_rename, "name a passkey" },
	{ "remove", cmd_remove, "remove a passkey" },
	{ "export-openssh", cmd_export_openssh,
	  "a passkey as an OpenSSH security-key line and key file" },
	{ "events", cmd_events, "the audit log: logins, failures, changes" },
	{ "sessions", cmd_sessions,
	  "re-approval windows: list them, or end them (revoke ID|--all)" },
	{ "enroll", cmd_enroll,
	  "print a one-time passkey registration link for a user" },
	{ "revoke-enrollment", cmd_revoke_enrollment,
	  "withdraw a user's pending enrollment" },
	{ "fleet", cmd_fleet,
	  "the SQL of a fleet's PostgreSQL roles; applied with --store" },
};

const char *passkeyctl_socket;

int
usage_error(const char *usage, const char *fmt, ...)
{
	va_list ap;

	if (fmt != NULL) {
		va_start(ap, fmt);
		fprintf(stderr, "passkeyctl: ");
		vfprintf(stderr, fmt, ap);
		fprintf(stderr, "\n");
		va_end(ap);
	}
	fputs(usage, stderr);
	return EXIT_USAGE;
}

static int
usage(FILE *f)
{
	fprintf(f, "usage: passkeyctl [--socket PATH] COMMAND [OPTIONS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-22s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nRun 'passkeyctl COMMAND --help' for a command's options.\n");
	return f == stdout ? 0 : EXIT_USAGE;
}

int
main(int argc, char **argv)
{
	/* Options of every command that talks to passkeyd may come first. */
	while (argc >= 2 && strncmp(argv[1], "--socket", 8) == 0) {
		int used;

		if (argv[1][8] == '=') {
			passkeyctl_socket = argv[1] + 9;
			used = 1;
		} else if (argv[1][8] == '\0' && argc >= 3) {
			passkeyctl_socket = argv[2];
			used = 2;
		} else {
			fprintf(stderr, "passkeyctl: bad option '%s'\n", argv[1]);
			return usage(stderr);
		}
		argc -= used;
		argv += used;
	}
	if (argc < 2)
		return usage(stderr);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return usage(stdout);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "passkeyctl: unknown command '%s'\n", argv[1]);
	return usage(stderr);
}
