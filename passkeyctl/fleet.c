/*
 * passkeyctl fleet [--store URI] [--prefix P] [--host ROLE=HOSTNAME]...
 *                  [--web ROLE]... [--host-connections N]
 * A fleet's database roles (store/store_fleet.c): printed as SQL for an
 * admin to read and run, or, with --store, applied there at once: the
 * schema is created or migrated first (as the URI's user, who must own
 * it), then the roles, grants and row-level security policies, in one
 * transaction.  Run again to add hosts: nothing else changes.  Passwords
 * are not set here: give the login roles theirs (ALTER ROLE ... PASSWORD,
 * or certificates) as the database's own administration does.  The
 * server's warnings (an owner that is no superuser gets one) go to stderr.
 */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passkeyctl.h"
#include "store.h"

#define FLEET_MAX_ROLES 1024

enum {
	OPT_STORE = 256, OPT_PREFIX, OPT_HOST, OPT_WEB, OPT_HOST_CONNS, OPT_HOST_ENROLL,
	OPT_HELP
};

static const struct option fleet_options[] = {
	{ "store", required_argument, NULL, OPT_STORE },
	{ "prefix", required_argument, NULL, OPT_PREFIX },
	{ "host", required_argument, NULL, OPT_HOST },
	{ "web", required_argument, NULL, OPT_WEB },
	{ "host-connections", required_argument, NULL, OPT_HOST_CONNS },
	{ "host-enrollment", required_argument, NULL, OPT_HOST_ENROLL },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static const char fleet_usage[] =
    "usage: passkeyctl fleet [--store URI] [--prefix P] [--host ROLE=HOSTNAME]...\n"
    "                        [--web ROLE]... [--host-connections N]\n"
    "                        [--host-enrollment enrolled|trusted]\n"
    "The SQL for a fleet's PostgreSQL roles: PREFIX_hosts (each SSH host's\n"
    "passkeyd: its own ceremonies, read passkeys) and PREFIX_web (the approval\n"
    "pages), their grants and row-level security policies, and a login role\n"
    "per --host (bound to the host name its pages show) and per --web.\n"
    "Every host role may hold N connections at most (default 16, at least 6).\n"
    "A host's first-login registration needs an enrollment made at a web\n"
    "instance (enrolled, a new fleet's), or none (trusted: any host may then\n"
    "add a first passkey for any user who has none); left as it is if not given.\n"
    "Printed; with --store (the owner's postgresql:// URI) applied there,\n"
    "after the schema.  PREFIX defaults to passkey.\n";

static int
apply(const char *uri, const char *sql)
{
	char why[512], shown[512], warn[1024];
	store_t *st;
	store_err_t err;

	store_spec_display(uri, shown, sizeof(shown));
	if ((err = store_open_why(uri, &st, why, sizeof(why))) != STORE_OK) {
		fprintf(stderr, "passkeyctl: store %s: %s%s%s\n", shown, store_err_str(err),
		    why[0] ? ": " : "", why);
		return EXIT_VERDICT_REJECTED;
	}
	err = store_exec_script(st, sql, warn, sizeof(warn));
	for (const char *line = warn; *line != '\0'; ) {
		size_t n = strcspn(line, "\n");	/* the last may be cut short: no '\n' */

		fprintf(stderr, "passkeyctl: warning: %.*s\n", (int)n, line);
		line += n + (line[n] == '\n');
	}
	if (err != STORE_OK)
		fprintf(stderr, "passkeyctl: store %s: %s: %s\n", shown, store_err_str(err),
		    store_errmsg(st));
	else
		printf("fleet roles applied to %s\n", shown);
	store_close(st);
	return err == STORE_OK ? EXIT_VERDICT_OK : EXIT_VERDICT_REJECTED;
}

int
cmd_fleet(int argc, char **argv)
{
	const char *hosts[FLEET_MAX_ROLES], *webs[FLEET_MAX_ROLES];
	struct store_fleet_spec spec = { .prefix = "passkey", .hosts = hosts, .webs = webs,
	    .host_conns = STORE_FLEET_HOST_CONNS_DEFAULT };
	const char *store = NULL;
	char why[256], *sql, *end;
	long n;
	int opt, rc;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", fleet_options, NULL)) != -1) {
		switch (opt) {
		case OPT_STORE:
			store = optarg;
			break;
		case OPT_PREFIX:
			spec.prefix = optarg;
			break;
		case OPT_HOST_CONNS:
			n = strtol(optarg, &end, 10);
			if (!isdigit((unsigned char)*optarg) || *end != '\0' ||
			    n < STORE_FLEET_HOST_CONNS_MIN ||
			    n > STORE_FLEET_HOST_CONNS_MAX)
				return usage_error(fleet_usage, "--host-connections must be %d-%d",
				    STORE_FLEET_HOST_CONNS_MIN, STORE_FLEET_HOST_CONNS_MAX);
			spec.host_conns = (int)n;
			break;
		case OPT_HOST_ENROLL:
			if (strcmp(optarg, "enrolled") == 0)
				spec.host_enrollment = STORE_FLEET_ENROLL_ENROLLED;
			else if (strcmp(optarg, "trusted") == 0)
				spec.host_enrollment = STORE_FLEET_ENROLL_TRUSTED;
			else
				return usage_error(fleet_usage,
				    "--host-enrollment must be enrolled or trusted");
			break;
		case OPT_HOST:
			if (spec.n_hosts == FLEET_MAX_ROLES)
				return usage_error(fleet_usage, "at most %d hosts at once",
				    FLEET_MAX_ROLES);
			hosts[spec.n_hosts++] = optarg;
			break;
		case OPT_WEB:
			if (spec.n_webs == FLEET_MAX_ROLES)
				return usage_error(fleet_usage, "at most %d web roles at once",
				    FLEET_MAX_ROLES);
			webs[spec.n_webs++] = optarg;
			break;
		case OPT_HELP:
			fputs(fleet_usage, stdout);
			return EXIT_VERDICT_OK;
		default:
			return usage_error(fleet_usage, NULL);
		}
	}
	if (optind != argc)
		return usage_error(fleet_usage, "unexpected argument '%s'", argv[optind]);
	if (store != NULL && strncmp(store, "postgresql://", 13) != 0 &&
	    strncmp(store, "postgres://", 11) != 0)
		return usage_error(fleet_usage, "--store must be a postgresql:// URI");
	if ((sql = store_fleet_sql(&spec, why, sizeof(why))) == NULL)
		return usage_error(fleet_usage, "%s", why);
	if (store == NULL) {
		fputs(sql, stdout);
		rc = EXIT_VERDICT_OK;
	} else {
		rc = apply(store, sql);
	}
	free(sql);
	return rc;
}
