/*
 * passkeyctl add | list | rename | remove: a user's passkeys, through
 * passkeyd (control/PROTOCOL.md).  The daemon decides who may do what
 * from the caller's uid; these commands only ask and show.
 *
 * Exit codes: 0 done, 1 passkeyd refused or could not be asked, 2 usage.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "authorized_keys.h"
#include "ctl_client.h"
#include "ctl_text.h"
#include "passkeyctl.h"

enum { OPT_JSON = 256, OPT_FORCE, OPT_NO_WAIT, OPT_KEEP_KEYS, OPT_HELP };

static const struct option long_options[] = {
	{ "json", no_argument, NULL, OPT_JSON },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "no-wait", no_argument, NULL, OPT_NO_WAIT },
	{ "keep-authorized-keys", no_argument, NULL, OPT_KEEP_KEYS },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

struct opts {
	int json, force, no_wait, keep_keys;
};

/*
 * Parses the options `allowed` names (a string of 'j', 'f', 'w', 'k') and
 * leaves optind at the first operand.  Returns -1 to go on, else an exit code.
 */
static int
parse(int argc, char **argv, const char *usage, const char *allowed, struct opts *o)
{
	int opt;

	memset(o, 0, sizeof(*o));
	optind = 1;
	opterr = 1;
	while ((opt = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
		if (opt == OPT_HELP) {
			fputs(usage, stdout);
			return EXIT_VERDICT_OK;
		}
		if (opt == OPT_JSON && strchr(allowed, 'j'))
			o->json = 1;
		else if (opt == OPT_FORCE && strchr(allowed, 'f'))
			o->force = 1;
		else if (opt == OPT_NO_WAIT && strchr(allowed, 'w'))
			o->no_wait = 1;
		else if (opt == OPT_KEEP_KEYS && strchr(allowed, 'k'))
			o->keep_keys = 1;
		else
			return usage_error(usage, opt == '?' ? NULL : "option not valid here: '%s'",
			    argv[optind - 1]);
	}
	return -1;
}

/* Checks the operand count: between min and max operands after the options. */
static int
operands(int argc, const char *usage, int min, int max, char **argv)
{
	int n = argc - optind;

	if (n < min)
		return usage_error(usage, "missing operand");
	if (n > max)
		return usage_error(usage, "unexpected argument '%s'", argv[optind + max]);
	return -1;
}

/* ---- add ------------------------------------------------------------- */

static const char add_usage[] =
    "usage: passkeyctl add [--no-wait]\n"
    "Prints a one-time link that registers a new passkey for your account,\n"
    "then waits until it is used (unless --no-wait).\n";

static int
wait_for_registration(const char *sock, const char *token)
{
	json_t *req = json_pack("{s:s, s:s}", "op", "status", "token", token), *resp;
	const char *state = "pending";
	int r = EXIT_VERDICT_REJECTED;

	if (req == NULL)
		return r;
	fprintf(stderr, "waiting for the passkey (Ctrl-C to stop waiting)...\n");
	while (strcmp(state, "pending") == 0) {
		sleep(1);
		if (daemon_ask(sock, req, &resp) != EXIT_VERDICT_OK)
			break;
		state = ctl_resp_str(resp, "state");
		if (state == NULL || strcmp(state, "pending") != 0) {
			const char *reason = ctl_resp_str(resp, "reason");

			if (state != NULL && strcmp(state, "approved") == 0) {
				printf("passkey registered\n");
				r = EXIT_VERDICT_OK;
			} else {
				fputs("passkeyctl: registration ", stderr);
				print_safe(stderr, state != NULL ? state : "failed");
				if (reason != NULL) {
					fputs(": ", stderr);
					print_safe(stderr, reason);
				}
				fputc('\n', stderr);
			}
			json_decref(resp);
			break;
		}
		json_decref(resp);
	}
	json_decref(req);
	return r;
}

int
cmd_add(int argc, char **argv)
{
	const char *sock = daemon_socket();
	json_t *req, *resp;
	char token[128];
	struct opts o;
	int r;

	if ((r = parse(argc, argv, add_usage, "w", &o)) >= 0 ||
	    (r = operands(argc, add_usage, 0, 0, argv)) >= 0)
		return r;
	if ((req = json_pack("{s:s}", "op", "register_begin")) == NULL)
		return EXIT_VERDICT_REJECTED;
	r = daemon_ask(sock, req, &resp);
	json_decref(req);
	if (r != EXIT_VERDICT_OK)
		return r;
	if ((r = show_link(resp)) == EXIT_VERDICT_OK) {
		const char *t = ctl_resp_str(resp, "token");

		if (!ctl_word_ok(t, sizeof(token) - 1)) {
			fprintf(stderr, "passkeyctl: passkeyd sent an invalid answer\n");
			r = EXIT_VERDICT_REJECTED;
		} else
			snprintf(token, sizeof(token), "%s", t);
	}
	json_decref(resp);
	if (r == EXIT_VERDICT_OK && !o.no_wait)
		r = wait_for_registration(sock, token);
	explicit_bzero(token, sizeof(token));
	return r;
}

/* ---- list ------------------------------------------------------------ */

static const char list_usage[] =
    "usage: passkeyctl list [--json] [USER]\n"
    "Shows your passkeys; root may name a USER, or leave it out for every user's.\n";

static void
print_time(const char *label, json_t *t)
{
	char buf[32];
	time_t when;

	if (!json_is_integer(t)) {
		printf("%snever", label);
		return;
	}
	when = (time_t)json_integer_value(t);
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M", localtime(&when));
	printf("%s%s", label, buf);
}

static const char *
str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : "?";
}

static const char *
backup_state(const json_t *c)
{
	if (!json_is_true(json_object_get(c, "backup_eligible")))
		return "device-bound (cannot be backed up)";
	if (json_is_true(json_object_get(c, "backed_up")))
		return "synced (backed up)";
	return "may be synced (not backed up yet)";
}

static void
print_credential(const json_t *c)
{
	const char *nick = json_string_value(json_object_get(c, "nickname"));
	const char *name = json_string_value(json_object_get(c, "authenticator"));
	const char *addr = json_string_value(json_object_get(c, "last_address"));

	fputs("  ", stdout);
	print_safe(stdout, str(c, "short_id"));
	fputs("  ", stdout);
	print_safe(stdout, nick != NULL ? nick : "(no name)");
	fputs("\n      ", stdout);
	print_safe(stdout, str(c, "alg"));
	fputs(", ", stdout);
	if (name != NULL) {
		print_safe(stdout, name);
		fputs(" (", stdout);
		print_safe(stdout, str(c, "aaguid"));
		fputs(")", stdout);
	} else {
		fputs("authenticator ", stdout);
		print_safe(stdout, str(c, "aaguid"));
	}
	print_time("\n      created ", json_object_get(c, "created"));
	print_time(", last used ", json_object_get(c, "last_used"));
	if (addr != NULL) {
		printf(" from ");
		print_safe(stdout, addr);
	}
	printf("\n      backup: %s; %s\n", backup_state(c),
	    json_is_true(json_object_get(c, "user_verified")) ?
	    "user verified" : "user not verified");
}

/* By user, then oldest first; ties keep the daemon's creation order. */
struct listed {
	json_t *c;
	size_t at;
};

static int
by_user_then_age(const void *a, const void *b)
{
	const struct listed *x = a, *y = b;
	int c = strcmp(str(x->c, "user"), str(y->c, "user"));
	json_int_t tx = json_integer_value(json_object_get(x->c, "created"));
	json_int_t ty = json_integer_value(json_object_get(y->c, "created"));

	if (c != 0)
		return c;
	if (tx != ty)
		return (tx > ty) - (tx < ty);
	return (x->at > y->at) - (x->at < y->at);
}

static json_t *
sorted(json_t *items)
{
	size_t n = json_array_size(items);
	struct listed *v = calloc(n + 1, sizeof(*v));
	json_t *out = json_array();

	if (v == NULL || out == NULL) {
		free(v);
		json_decref(out);
		json_decref(items);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		v[i] = (struct listed){ json_array_get(items, i), i };
	qsort(v, n, sizeof(*v), by_user_then_age);
	for (size_t i = 0; i < n; i++)
		json_array_append(out, v[i].c);
	free(v);
	json_decref(items);
	return out;
}

int
cmd_list(int argc, char **argv)
{
	json_t *req, *items;
	const char *last_user = NULL;
	struct opts o;
	size_t i;
	int r;

	if ((r = parse(argc, argv, list_usage, "j", &o)) >= 0 ||
	    (r = operands(argc, list_usage, 0, 1, argv)) >= 0)
		return r;
	if (optind < argc && !ctl_user_name_valid(argv[optind]))
		return usage_error(list_usage, "not a valid user name: '%s'", argv[optind]);
	req = json_pack("{s:s, s:s*}", "op", "list", "user",
	    optind < argc ? argv[optind] : NULL);
	if (req == NULL)
		return usage_error(list_usage, "user name is not UTF-8");
	r = daemon_ask_all(daemon_socket(), req, "credentials", &items);
	json_decref(req);
	if (r != EXIT_VERDICT_OK)
		return r;
	if ((items = sorted(items)) == NULL)
		return EXIT_VERDICT_REJECTED;
	if (o.json) {
		r = print_json_pretty(items);
		json_decref(items);
		return r;
	}
	if (json_array_size(items) == 0)
		printf("no passkeys\n");
	/* sorted above: by user, then oldest first */
	for (i = 0; i < json_array_size(items); i++) {
		const json_t *c = json_array_get(items, i);
		const char *user = str(c, "user");

		if (last_user == NULL || strcmp(last_user, user) != 0) {
			print_safe(stdout, user);
			printf(":\n");
			last_user = user;
		}
		print_credential(c);
	}
	json_decref(items);
	if (fflush(stdout) == EOF) {
		perror("passkeyctl: stdout");
		return EXIT_VERDICT_REJECTED;
	}
	return EXIT_VERDICT_OK;
}

/* ---- rename, remove -------------------------------------------------- */

static const char rename_usage[] =
    "usage: passkeyctl rename ID NAME\n"
    "Gives the passkey ID (its short ID from 'passkeyctl list', or a unique\n"
    "prefix of at least 6 digits) a name of up to 128 bytes.\n";

static const char remove_usage[] =
    "usage: passkeyctl remove [--force] [--keep-authorized-keys] ID\n"
    "Removes the passkey ID.  Removing your last passkey needs --force: without\n"
    "a passkey you cannot log in with one.  A line export-openssh --install put\n"
    "in the owner's ~/.ssh/authorized_keys for it goes too (it would still let the\n"
    "security key in by public key), unless --keep-authorized-keys.\n";

static int
id_ok(const char *id, const char *usage)
{
	if (id[0] == '\0' || strlen(id) > 2048)
		return usage_error(usage, "not a passkey ID: '%.40s'", id);
	return -1;
}

int
cmd_rename(int argc, char **argv)
{
	json_t *req, *resp;
	struct opts o;
	int r;

	if ((r = parse(argc, argv, rename_usage, "", &o)) >= 0 ||
	    (r = operands(argc, rename_usage, 2, 2, argv)) >= 0 ||
	    (r = id_ok(argv[optind], rename_usage)) >= 0)
		return r;
	req = json_pack("{s:s, s:s, s:s}", "op", "rename", "id", argv[optind],
	    "name", argv[optind + 1]);
	if (req == NULL)
		return usage_error(rename_usage, "the ID and NAME must be UTF-8");
	r = daemon_ask(daemon_socket(), req, &resp);
	json_decref(req);
	json_decref(resp);
	if (r == EXIT_VERDICT_OK)
		printf("renamed\n");
	return r;
}

/*
 * A removed passkey's exported line (export-openssh --install) would still
 * let its security key in over public-key SSH, with no page and no audit
 * row: it goes from the owner's authorized_keys too.  When that fails the
 * removal stands, and the caller is told which line to remove by hand.
 */
static int
drop_exported(const char *owner, const char *pub)
{
	int r = authorized_keys_drop(owner, pub);

	if (r == 0)
		fprintf(stderr, "also removed its line from ~%s/.ssh/authorized_keys\n", owner);
	else if (r < 0)
		fprintf(stderr, "passkeyctl: ~%s/.ssh/authorized_keys may still let this "
		    "security key in: remove the line holding %s by hand\n", owner, pub);
	return r < 0 ? EXIT_VERDICT_REJECTED : EXIT_VERDICT_OK;
}

int
cmd_remove(int argc, char **argv)
{
	json_t *req, *resp;
	char *pub = NULL, *owner = NULL;
	struct opts o;
	int r;

	if ((r = parse(argc, argv, remove_usage, "fk", &o)) >= 0 ||
	    (r = operands(argc, remove_usage, 1, 1, argv)) >= 0 ||
	    (r = id_ok(argv[optind], remove_usage)) >= 0)
		return r;
	req = json_pack("{s:s, s:s, s:b}", "op", "remove", "id", argv[optind],
	    "force", o.force);
	if (req == NULL)
		return usage_error(remove_usage, "the ID must be UTF-8");
	/* the key as export-openssh would write it, read while it is still there */
	if (!o.keep_keys)
		(void)export_sk_public(daemon_socket(), argv[optind], &pub, &owner);
	r = daemon_ask(daemon_socket(), req, &resp);
	json_decref(req);
	if (r == EXIT_VERDICT_OK) {
		fputs("removed passkey ", stdout);
		print_safe(stdout, str(resp, "short_id"));
		fputs(" of ", stdout);
		print_safe(stdout, str(resp, "user"));
		printf("\n");
		/* the owner the export named, and the one removed: the same account */
		if (pub != NULL && owner != NULL && str(resp, "user") != NULL &&
		    strcmp(owner, str(resp, "user")) == 0)
			r = drop_exported(owner, pub);
	}
	json_decref(resp);
	free(pub);
	free(owner);
	return r;
}
