/*
 * What every passkeyctl command that talks to passkeyd shares: which
 * socket and who may serve it, one request and its answer, and how a
 * refusal is shown.
 * Strings from the daemon are shown with anything unprintable replaced,
 * so a hostile name in the store cannot drive the terminal.
 */
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl_client.h"
#include "ctl_text.h"
#include "passkeyctl.h"
#include "text.h"

#define LINK_MAX_EXPIRES	(366L * 86400)

const char *
daemon_socket(void)
{
	return passkeyctl_socket != NULL ? passkeyctl_socket : CTL_DEFAULT_SOCKET;
}

/*
 * The shared rule (common/text.h): valid UTF-8 is kept, so names in any
 * script show as they are; control characters (C0 and C1, such as U+009B
 * CSI), bidirectional overrides (U+202E) and invalid bytes become '?'.
 */
void
print_safe(FILE *f, const char *s)
{
	size_t n = s != NULL ? strlen(s) + 1 : 1;
	char stack[512], *buf = n <= sizeof(stack) ? stack : malloc(n);

	if (buf == NULL)
		return;
	fputs(text_sanitize(s, buf, n), f);
	if (buf != stack)
		free(buf);
}

void
print_refusal(const json_t *resp)
{
	const char *msg = ctl_resp_str(resp, "message");
	const char *code = ctl_resp_str(resp, "error");

	fputs("passkeyctl: ", stderr);
	print_safe(stderr, msg != NULL ? msg : "passkeyd refused the request");
	fputs(" (", stderr);
	print_safe(stderr, code != NULL ? code : "unknown");
	fputs(")\n", stderr);
}

/* One request on an open connection (daemon_ask's answer rules). */
static int
ask_on(struct ctl_conn *c, const char *sock, const json_t *req, json_t **resp)
{
	int err;

	*resp = NULL;
	if ((err = ctl_request(c, req, resp)) != CTL_OK) {
		fprintf(stderr, "passkeyctl: %s: %s\n", sock, ctl_err_str(err));
		return EXIT_VERDICT_REJECTED;
	}
	if (!ctl_resp_ok(*resp)) {
		print_refusal(*resp);
		json_decref(*resp);
		*resp = NULL;
		return EXIT_VERDICT_REJECTED;
	}
	return EXIT_VERDICT_OK;
}

/*
 * The uid of passkeyd's account, or CTL_NO_UID when there is none.  A
 * fixed name, never one from the command line: a sudo rule that lets a
 * user choose --socket would let them name their own account too.
 */
static uid_t
daemon_uid(void)
{
	struct passwd *pw = getpwnam(CTL_DEFAULT_DAEMON_USER);

	return pw != NULL ? pw->pw_uid : CTL_NO_UID;
}

/*
 * Connects and checks who serves the socket: root, passkeyd's account or
 * ourselves.  Root acts on the answers (export --install and remove edit
 * the owner's authorized_keys), so a socket anyone else serves, such as
 * one a sudo rule lets a user name with --socket, is not believed.  A
 * daemon started as root listens as root, whatever account it drops to.
 */
int
daemon_connect(const char *sock, struct ctl_conn **c, bool quiet)
{
	uid_t peer;
	int err;

	*c = NULL;
	if (sock[0] == '\0') {
		if (!quiet)
			fprintf(stderr, "passkeyctl: empty --socket\n");
		return EXIT_VERDICT_REJECTED;
	}
	if ((err = ctl_connect(sock, DAEMON_TIMEOUT_MS, c)) == CTL_OK &&
	    (err = ctl_peer_trusted(*c, daemon_uid(), geteuid(), &peer)) == CTL_OK)
		return EXIT_VERDICT_OK;
	if (!quiet && err == CTL_ERR_UNTRUSTED)
		fprintf(stderr, "passkeyctl: %s is served by uid %ld, not by root, %s or "
		    "you: refusing to trust it\n", sock, (long)peer, CTL_DEFAULT_DAEMON_USER);
	else if (!quiet)
		fprintf(stderr, "passkeyctl: %s: %s\n", sock, ctl_err_str(err));
	ctl_close(*c);
	*c = NULL;
	return EXIT_VERDICT_REJECTED;
}

int
daemon_ask(const char *sock, const json_t *req, json_t **resp)
{
	struct ctl_conn *c;
	int r;

	*resp = NULL;
	if ((r = daemon_connect(sock, &c, false)) != EXIT_VERDICT_OK)
		return r;
	r = ask_on(c, sock, req, resp);
	ctl_close(c);
	return r;
}

/*
 * The next page's request: the cursor the answer gave, and, when the
 * request says how many items it wants ("limit"), that many fewer.
 * Returns 0 when there is nothing more to ask.
 */
static int
next_page(json_t *req, json_t *next, size_t got)
{
	json_t *limit = json_object_get(req, "limit");

	if (limit != NULL) {
		json_int_t left = json_integer_value(limit) - (json_int_t)got;

		if (left <= 0)
			return 0;
		json_object_set_new(req, "limit", json_integer(left));
	}
	json_object_set(req, "cursor", next);
	return 1;
}

int
daemon_ask_all(const char *sock, json_t *req, const char *key, json_t **items)
{
	json_t *resp, *page, *next, *cursor;
	struct ctl_conn *c;
	int r;

	if ((*items = json_array()) == NULL)
		return EXIT_VERDICT_REJECTED;
	/* one connection for every page: a listing of 100k is thousands of pages */
	if ((r = daemon_connect(sock, &c, false)) != EXIT_VERDICT_OK) {
		json_decref(*items);
		*items = NULL;
		return r;
	}
	for (;;) {
		if ((r = ask_on(c, sock, req, &resp)) != EXIT_VERDICT_OK)
			break;
		page = json_object_get(resp, key);
		next = json_object_get(resp, "next");
		cursor = json_object_get(req, "cursor");
		/* a cursor is a number (list, events) or a string (sessions), never empty */
		if (!json_is_array(page) || json_array_extend(*items, page) != 0 ||
		    (next != NULL && ((!json_is_integer(next) && (!json_is_string(next) ||
		    json_string_length(next) == 0)) || json_array_size(page) == 0 ||
		    (cursor != NULL && json_equal(next, cursor))))) {
			/* a page that brings nothing, or a cursor that does not move, loops */
			fprintf(stderr, "passkeyctl: passkeyd sent an invalid answer\n");
			r = EXIT_VERDICT_REJECTED;
		}
		if (r != EXIT_VERDICT_OK || next == NULL ||
		    !next_page(req, next, json_array_size(page))) {
			json_decref(resp);
			break;
		}
		json_decref(resp);
	}
	ctl_close(c);
	if (r != EXIT_VERDICT_OK) {
		json_decref(*items);
		*items = NULL;
	}
	return r;
}

int
show_link(const json_t *resp)
{
	const char *url = ctl_resp_str(resp, "url");
	const char *code = ctl_resp_str(resp, "code");
	json_t *exp = json_object_get(resp, "expires_in");
	char when[64] = "";
	time_t t;

	if (!ctl_url_ok(url) || !ctl_word_ok(code, CTL_CODE_MAX) ||
	    !json_is_integer(exp) || json_integer_value(exp) < 1 ||
	    json_integer_value(exp) > LINK_MAX_EXPIRES) {
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

/*
 * ASCII only: jansson escapes C0 controls but passes C1 (U+009B is a CSI
 * to xterm), bidi overrides and the rest as they are, and in a fleet the
 * audit rows are other hosts' writing.  Still the same JSON for jq.
 */
int
print_json_pretty(const json_t *j)
{
	if (json_dumpf(j, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII) != 0 ||
	    fputc('\n', stdout) == EOF ||
	    fflush(stdout) == EOF) {
		perror("passkeyctl: stdout");
		return EXIT_VERDICT_REJECTED;
	}
	return EXIT_VERDICT_OK;
}
