/*
 * pam_passkey: authentication by a passkey approved in a browser.
 *
 * The module is thin on purpose: it runs inside sshd's authentication
 * child as root, so it has no crypto, no HTTP and no database.  It asks
 * passkeyd (control/PROTOCOL.md) to begin a ceremony, shows the URL in a
 * prompt, and after each reply asks for the verdict.  It returns
 * PAM_SUCCESS only when the daemon said "approved" for the token it was
 * given; everything unexpected fails closed.
 *
 *   auth required pam_passkey.so [socket=PATH] [timeout=SECONDS] [nullok]
 *       [enroll=none|pending|after-auth] [qr=yes|no] [daemon_user=NAME] [debug]
 *
 * An unknown option or a bad value is a configuration error (options.c):
 * it is logged and the module returns PAM_SERVICE_ERR, a failure under
 * every control value that does not name it.  It never degrades to
 * "ignore".
 *
 * One control connection carries the whole ceremony: passkeyd binds the
 * ceremony to it, so when sshd kills this process on a client disconnect
 * the ceremony is cancelled at once and holds no place under the limits.
 * The connection must be served by root or daemon_user (SO_PEERCRED):
 * whoever could replace the socket file could otherwise say "approved".
 */
#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define PAM_SM_AUTH
#include <security/pam_appl.h>
#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "auth_info.h"
#include "clock.h"
#include "ctl_client.h"
#include "ctl_codes.h"
#include "ctl_text.h"
#include "options.h"
#include "prompt.h"
#include "qr.h"

#define PK_MAX_EXPIRES		(31L * 86400)
#define PK_IO_TIMEOUT_MS	5000	/* one request to the daemon */
#define PK_MAX_TOKEN		256
#define PK_PWBUF_MAX		(1024 * 1024)	/* a passwd entry bigger than this: NSS failed */
#define PK_TYPED_NAME_MAX	1024	/* bytes of a user name the module looks up */
#define PK_PWBUF_FIRST		1024	/* bytes: a passwd entry's first buffer */

/* canonical_user's answers other than 0 */
#define PK_NO_ACCOUNT		(-1)
#define PK_NO_ACCOUNT_MAYBE	(-2)	/* or NSS failed: never ignored (nullok) */
#define PK_NSS_FAILED		(-3)
/*
 * A conversation that answers at once (a client at EOF, a script) must
 * not turn the loop into a flood of status requests: at most one a
 * second, and a bound on rounds no person pressing Enter reaches.
 */
#define PK_MIN_POLL_MS		1000
/* flow=info: the module asks by itself; this often, so approval is felt at once */
#define PK_INFO_POLL_MS		300
#define PK_MAX_ROUNDS		200

struct pk_ceremony {
	struct ctl_conn *conn;	/* the one connection the ceremony lives on */
	json_t *resp;		/* owns the strings below */
	enum prompt_kind kind;
	const char *token;
	const char *url;
	const char *code;
	const char *host;	/* the server the page names, or NULL */
	long expires_in;
	bool reused;		/* let in by a re-approval window: no ceremony */
};

/*
 * PAM_PASSKEY_DEBUG_STDERR=1 copies log lines to stderr, for `sshd -D -e`
 * where there is no syslog.  sshd empties the environment of the child
 * that runs pam_authenticate, but it loads this module earlier, at
 * pam_start, in a process that still has it: read it at load time too.
 * secure_getenv: in sudo or su (setuid) the caller's environment is not
 * the admin's, and must not choose where the module's log lines go.
 */
static bool pk_stderr_at_load;

__attribute__((constructor)) static void
pk_load(void)
{
	const char *e = secure_getenv("PAM_PASSKEY_DEBUG_STDERR");

	pk_stderr_at_load = e != NULL && strcmp(e, "1") == 0;
}

static bool
pk_stderr(void)
{
	const char *e = secure_getenv("PAM_PASSKEY_DEBUG_STDERR");

	return pk_stderr_at_load || (e != NULL && strcmp(e, "1") == 0);
}

static void pk_vlog(pam_handle_t *, int, const char *, va_list)
    __attribute__((format(printf, 3, 0)));
static void pk_log(pam_handle_t *, int, const char *, ...)
    __attribute__((format(printf, 3, 4)));
static void pk_debug(pam_handle_t *, const struct pk_opts *, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static void
pk_vlog(pam_handle_t *pamh, int prio, const char *fmt, va_list ap)
{
	va_list ap2;

	va_copy(ap2, ap);
	pam_vsyslog(pamh, prio, fmt, ap);
	if (pk_stderr()) {
		fprintf(stderr, "pam_passkey: ");
		vfprintf(stderr, fmt, ap2);
		fputc('\n', stderr);
	}
	va_end(ap2);
}

/* Errors and verdicts: always logged. */
static void
pk_log(pam_handle_t *pamh, int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pk_vlog(pamh, prio, fmt, ap);
	va_end(ap);
}

/* Details: only with the debug option. */
static void
pk_debug(pam_handle_t *pamh, const struct pk_opts *o, const char *fmt, ...)
{
	va_list ap;

	if (!o->debug)
		return;
	va_start(ap, fmt);
	pk_vlog(pamh, LOG_DEBUG, fmt, ap);
	va_end(ap);
}

/* One line the user sees (sshd shows it with the next prompt or at the end). */
static void
pk_say(pam_handle_t *pamh, const char *msg)
{
	pam_error(pamh, "%s", msg);
}

static int
parse_opts(pam_handle_t *pamh, int argc, const char **argv, struct pk_opts *o)
{
	int bad;

	if (pk_opts_parse(argc, argv, o, &bad) == 0)
		return PAM_SUCCESS;
	pk_log(pamh, LOG_ERR, "bad or repeated option '%s': refusing to authenticate "
	    "(see the module's documentation)", bad >= 0 && argv[bad] != NULL ? argv[bad] : "?");
	return PAM_SERVICE_ERR;
}

/*
 * One PAM_PROMPT_ECHO_ON prompt.  The reply means only "look now"; it is
 * wiped and dropped unread.
 */
static int
converse(pam_handle_t *pamh, const char *text)
{
	const struct pam_conv *conv = NULL;
	struct pam_message msg = { .msg_style = PAM_PROMPT_ECHO_ON, .msg = text };
	const struct pam_message *msgp = &msg;
	struct pam_response *resp = NULL;
	int r;

	r = pam_get_item(pamh, PAM_CONV, (const void **)&conv);
	if (r != PAM_SUCCESS || conv == NULL || conv->conv == NULL)
		return PAM_CONV_ERR;
	r = conv->conv(1, &msgp, &resp, conv->appdata_ptr);
	if (resp != NULL) {
		if (resp[0].resp != NULL) {
			explicit_bzero(resp[0].resp, strlen(resp[0].resp));
			free(resp[0].resp);
		}
		free(resp);
	} else if (r == PAM_SUCCESS)
		r = PAM_CONV_ERR;
	return r;
}

/* Sleeps until at least ms after *last, then sets *last. */
static void
pace(long long *last, long ms)
{
	long long wait = *last + ms - clock_monotonic_ms();

	if (wait > 0) {
		struct timespec ts = { .tv_sec = wait / 1000,
		    .tv_nsec = (wait % 1000) * 1000000 };

		while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
			;
	}
	*last = clock_monotonic_ms();
}

/* What a refusal code may look like before it is printed or logged. */
static const char *
safe_code(const char *s)
{
	return ctl_word_ok(s, 64) ? s : "unknown";
}

static int passwd_lookup(const char *, uid_t, struct passwd *, char **, struct passwd **);

/*
 * Connects, and checks who answers: root, or the account passkeyd runs
 * as.  Anything else serving the socket is treated as no service.
 */
static int
connect_daemon(pam_handle_t *pamh, const struct pk_opts *o, struct ctl_conn **out)
{
	struct passwd pw, *res = NULL;
	char *buf = NULL;
	uid_t daemon_uid = CTL_NO_UID, peer;
	int err;

	if ((err = ctl_connect(o->socket, PK_IO_TIMEOUT_MS, out)) != CTL_OK) {
		pk_log(pamh, LOG_ERR, "control socket %s: %s", o->socket, ctl_err_str(err));
		return -1;
	}
	if (passwd_lookup(o->daemon_user, 0, &pw, &buf, &res) == 0 && res != NULL)
		daemon_uid = res->pw_uid;
	free(buf);
	/* No self_uid beyond root: the module's caller is whoever logs in. */
	if ((err = ctl_peer_trusted(*out, daemon_uid, 0, &peer)) == CTL_OK)
		return 0;
	if (peer == CTL_NO_UID)
		pk_log(pamh, LOG_ERR, "control socket %s: %s", o->socket, ctl_err_str(err));
	else
		pk_log(pamh, LOG_ERR, "control socket %s is served by uid %ld, not by root "
		    "or %s: refusing to trust it", o->socket, (long)peer, o->daemon_user);
	ctl_close(*out);
	*out = NULL;
	return -1;
}

/* One request on the ceremony's connection. */
static int
call(pam_handle_t *pamh, const struct pk_opts *o, struct pk_ceremony *c,
    json_t *req, json_t **resp)
{
	int err;

	*resp = NULL;
	if (req == NULL) {
		pk_log(pamh, LOG_ERR, "cannot build a request (invalid UTF-8 or out of memory)");
		return CTL_ERR_INVALID;
	}
	err = ctl_request(c->conn, req, resp);
	json_decref(req);
	if (err != CTL_OK)
		pk_log(pamh, LOG_ERR, "control socket %s: %s", o->socket, ctl_err_str(err));
	return err;
}

/*
 * Best effort: closing the connection cancels the ceremony anyway; the
 * request only makes it immediate while the connection stays open.
 */
static void
cancel(pam_handle_t *pamh, const struct pk_opts *o, struct pk_ceremony *c)
{
	json_t *resp = NULL;

	if (call(pamh, o, c, json_pack("{s:s, s:s}", "op", "cancel", "token", c->token),
	    &resp) == CTL_OK)
		pk_debug(pamh, o, "cancel: %s", ctl_resp_ok(resp) ? "done" :
		    safe_code(ctl_resp_str(resp, "error")));
	json_decref(resp);
}

/* Checks a login_begin answer; the strings stay owned by c->resp. */
static bool
ceremony_ok(struct pk_ceremony *c)
{
	const char *kind = ctl_resp_str(c->resp, "kind");
	json_t *exp = json_object_get(c->resp, "expires_in");

	if (kind == NULL || (strcmp(kind, "login") != 0 && strcmp(kind, "register") != 0))
		return false;
	c->kind = strcmp(kind, "register") == 0 ? PROMPT_REGISTER : PROMPT_LOGIN;
	c->token = ctl_resp_str(c->resp, "token");
	c->url = ctl_resp_str(c->resp, "url");
	c->code = ctl_resp_str(c->resp, "code");
	/* only shown, and only when it is a short host name */
	c->host = ctl_resp_str(c->resp, "host");
	if (!ctl_host_ok(c->host, PROMPT_HOST_MAX))
		c->host = NULL;
	if (!json_is_integer(exp) || json_integer_value(exp) < 1 ||
	    json_integer_value(exp) > PK_MAX_EXPIRES)
		return false;
	c->expires_in = (long)json_integer_value(exp);
	return ctl_word_ok(c->token, PK_MAX_TOKEN) && ctl_url_ok(c->url) &&
	    ctl_word_ok(c->code, CTL_CODE_MAX);
}

/* What the user is told when passkeyd refuses to begin. */
static const char *
refusal_message(enum ctl_refusal r)
{
	switch (r) {
	case CTL_REFUSAL_NO_PASSKEY:
	case CTL_REFUSAL_UNKNOWN_USER:	/* said the same way: no account oracle */
		return "passkey: no passkey is registered for this account";
	case CTL_REFUSAL_LIMIT_USER:
	case CTL_REFUSAL_LIMIT_USER_ADDRESS:
	case CTL_REFUSAL_LIMIT_ADDRESS:
	case CTL_REFUSAL_LIMIT_TOTAL:
	case CTL_REFUSAL_LIMIT_HOST:
	case CTL_REFUSAL_LIMIT_CONNECTION:
		return "passkey: too many pending logins, try again later";
	case CTL_REFUSAL_RATE_LIMITED:
	case CTL_REFUSAL_BUSY:
	case CTL_REFUSAL_STORE_BUSY:
	case CTL_REFUSAL_DIRECTORY_BUSY:
		return "passkey: the passkey service is busy, try again";
	case CTL_REFUSAL_REUSE_ENDED:
		return "passkey: this client's earlier approval just ended, try again";
	default:
		return "passkey: the passkey service is not available";
	}
}

/*
 * getpwnam_r(name), or getpwuid_r(uid) when name is NULL, into *buf (the
 * caller frees it), asked again with a bigger buffer past ERANGE, up to
 * PK_PWBUF_MAX.  The call's answer, or PK_NSS_FAILED when out of room
 * or memory (*buf is then NULL).
 */
static int
passwd_lookup(const char *name, uid_t uid, struct passwd *pw, char **buf, struct passwd **res)
{
	size_t size = PK_PWBUF_FIRST;
	char *more;
	int rc;

	*buf = NULL;
	do {
		if (size > PK_PWBUF_MAX || (more = realloc(*buf, size)) == NULL) {
			free(*buf);
			*buf = NULL;
			return PK_NSS_FAILED;
		}
		*buf = more;
		rc = name != NULL ? getpwnam_r(name, pw, *buf, size, res) :
		    getpwuid_r(uid, pw, *buf, size, res);
		size *= 2;
	} while (rc == ERANGE);
	return rc;
}

/*
 * Who asked, for a request made on this host (no client address: su,
 * login, sudo): the process's real uid, which a setuid su or sudo keeps
 * as its caller's, that account's name, and the terminal.  Without it the
 * page could say only "on the host": mallory's "su alice" reached alice
 * as a request from nowhere in particular, and her approval let mallory
 * in.  The uid is always sent; a name or terminal that is not plainly one
 * is left out.
 */
static json_t *
requester(pam_handle_t *pamh)
{
	struct passwd pw, *res = NULL;
	char *buf = NULL;
	const void *item;
	const char *tty = NULL;
	uid_t uid = getuid();
	json_t *r = json_pack("{s:I}", "uid", (json_int_t)uid);

	if (r == NULL)
		return NULL;
	/* left out, a name would read as "another account" on alice's own sudo */
	if (passwd_lookup(NULL, uid, &pw, &buf, &res) == 0 && res != NULL &&
	    ctl_user_name_valid(res->pw_name))
		json_object_set_new(r, "name", json_string(res->pw_name));
	free(buf);
	if (pam_get_item(pamh, PAM_TTY, &item) == PAM_SUCCESS && item != NULL)
		tty = strncmp(item, "/dev/", 5) == 0 ? (const char *)item + 5 : item;
	if (ctl_tty_ok(tty))
		json_object_set_new(r, "tty", json_string(tty));
	return r;
}

/*
 * Whether PAM_RHOST is this host's own name, as sudo's `Defaults pam_rhost`
 * sets it: then who asked is as worth naming as with no rhost at all.  The
 * whole name or the short one of the full name, in any case; passkeyd
 * keeps the requester only for a name it finds to be this host too.
 */
static bool
rhost_is_this_host(const char *rhost)
{
	char host[256];

	if (gethostname(host, sizeof(host)) != 0)
		return false;
	host[sizeof(host) - 1] = '\0';
	return ctl_names_host(rhost, host);
}

/*
 * The login_begin request.  With reuse= it asks for a re-approval window,
 * naming the client by the SSH key sshd says it authenticated with (the
 * address is passkeyd's to add).  A key that is not plainly one is left
 * out: then reuse_key=required gets no window, never a wrong one.
 */
static json_t *
begin_request(pam_handle_t *pamh, const struct pk_opts *o, const char *user,
    const char *rhost, const char *service)
{
	/* resolved: user is pw_name, looked up here (canonical_user), not again on passkeyd's loop */
	json_t *req = json_pack("{s:s, s:s, s:b, s:s, s:s, s:s}", "op", "login_begin",
	    "user", user, "resolved", 1, "rhost", rhost, "service", service, "enroll", o->enroll);
	const char *info;
	char key[PK_CLIENT_KEY_MAX + 1];

	if (req != NULL && (rhost[0] == '\0' || rhost_is_this_host(rhost)))
		json_object_set_new(req, "requester", requester(pamh));
	if (req == NULL || o->reuse == 0)
		return req;
	json_object_set_new(req, "reuse", json_integer(o->reuse));
	json_object_set_new(req, "reuse_key", json_string(o->reuse_key_required ?
	    "required" : "optional"));
	info = pam_getenv(pamh, "SSH_AUTH_INFO_0");
	if (info != NULL && pk_auth_info_key(info, key, sizeof(key)) == 0)
		json_object_set_new(req, "client_key", json_string(key));
	else
		pk_debug(pamh, o, "no client key from sshd (SSH_AUTH_INFO_0)");
	return req;
}

/*
 * An answer that lets the login in on an open re-approval window: only
 * when this service asked for one, and with reuse_key=required only when
 * the request named the client's key.  Anything else that says "reused"
 * is not understood, and fails closed (ceremony_ok refuses the kind).
 */
static bool
reused(const struct pk_opts *o, json_t *req, json_t *resp)
{
	const char *kind = ctl_resp_str(resp, "kind");

	if (kind == NULL || strcmp(kind, "reused") != 0 || o->reuse == 0 ||
	    (o->reuse_key_required && json_object_get(req, "client_key") == NULL))
		return false;
	return ctl_word_ok(ctl_resp_str(resp, "window"), 16) &&
	    ctl_word_ok(ctl_resp_str(resp, "source"), 16);
}

static int
begin(pam_handle_t *pamh, const struct pk_opts *o, const char *user,
    struct pk_ceremony *c)
{
	const void *item;
	const char *rhost = "", *service = "", *err;
	enum ctl_refusal r;
	json_t *req;
	int rc;

	if (pam_get_item(pamh, PAM_RHOST, &item) == PAM_SUCCESS && item != NULL)
		rhost = item;
	if (pam_get_item(pamh, PAM_SERVICE, &item) == PAM_SUCCESS && item != NULL)
		service = item;
	pk_debug(pamh, o, "login_begin user=%s rhost=%s service=%s enroll=%s reuse=%ld",
	    user, rhost, service, o->enroll, o->reuse);
	req = begin_request(pamh, o, user, rhost, service);
	rc = connect_daemon(pamh, o, &c->conn) != 0 ||
	    call(pamh, o, c, json_incref(req), &c->resp) != CTL_OK;
	if (rc == 0)
		c->reused = ctl_resp_ok(c->resp) && reused(o, req, c->resp);
	json_decref(req);
	if (rc != 0) {
		pk_say(pamh, "passkey: the passkey service is not available");
		return PAM_AUTH_ERR;
	}
	if (c->reused) {
		pk_log(pamh, LOG_INFO, "login approved for user %s by re-approval window %s "
		    "(from approval %s)", user, safe_code(ctl_resp_str(c->resp, "window")),
		    safe_code(ctl_resp_str(c->resp, "source")));
		(void)pam_info(pamh, "passkey: approved by this client's earlier passkey approval");
		return PAM_SUCCESS;
	}
	if (ctl_resp_ok(c->resp)) {
		if (ceremony_ok(c))
			return PAM_SUCCESS;
		pk_log(pamh, LOG_ERR, "login_begin: invalid answer from passkeyd");
		pk_say(pamh, "passkey: the passkey service is not available");
		return PAM_AUTH_ERR;
	}
	err = safe_code(ctl_resp_str(c->resp, "error"));
	r = ctl_refusal_from_code(err);
	if ((r == CTL_REFUSAL_NO_PASSKEY || r == CTL_REFUSAL_UNKNOWN_USER) && o->nullok) {
		pk_debug(pamh, o, "user %s has no passkey: ignored (nullok)", user);
		return PAM_IGNORE;
	}
	pk_log(pamh, LOG_NOTICE, "login_begin for user %s refused: %s", user, err);
	pk_say(pamh, refusal_message(r));
	return PAM_AUTH_ERR;
}

/*
 * Says why a final state other than "approved" ends the login: with
 * flow=prompt in a prompt that waits for Enter (prompt_held), else (or
 * when the conversation is gone) as an error message, which sshd 10.3+
 * shows at once.
 */
static void
say_final(pam_handle_t *pamh, const struct pk_opts *o, const struct pk_ceremony *c,
    enum ctl_state state, const char *reason)
{
	const char *what = c->kind == PROMPT_REGISTER ? "registration" : "login";
	char line[160], *text;

	switch (state) {
	case CTL_STATE_DENIED:
		snprintf(line, sizeof(line), "passkey: %s denied in the browser", what);
		break;
	case CTL_STATE_FAILED:
		snprintf(line, sizeof(line), "passkey: %s failed (%s)",
		    c->kind == PROMPT_REGISTER ? "registration" : "verification",
		    safe_code(reason));
		break;
	case CTL_STATE_EXPIRED:
		snprintf(line, sizeof(line), "passkey: the %s request expired", what);
		break;
	case CTL_STATE_USED:
		snprintf(line, sizeof(line), "passkey: the %s request was already used", what);
		break;
	default:
		snprintf(line, sizeof(line), "passkey: the %s request was cancelled", what);
		break;
	}
	text = o->flow == PK_FLOW_PROMPT ? prompt_held(line) : NULL;
	if (text == NULL || converse(pamh, text) != PAM_SUCCESS)
		pk_say(pamh, line);
	free(text);
}

/*
 * One status round: PAM_SUCCESS (approved), PAM_AUTH_ERR (final, said and
 * logged), or PAM_INCOMPLETE (still pending; *left is the time it has).
 */
static int
check_status(pam_handle_t *pamh, const struct pk_opts *o, const char *user,
    struct pk_ceremony *c, long *left)
{
	json_t *resp = NULL, *exp;
	enum ctl_state state;
	const char *err;

	if (call(pamh, o, c, json_pack("{s:s, s:s}", "op", "status", "token", c->token),
	    &resp) != CTL_OK) {
		pk_say(pamh, "passkey: the passkey service is not available");
		return PAM_AUTH_ERR;
	}
	if (!ctl_resp_ok(resp)) {
		err = safe_code(ctl_resp_str(resp, "error"));
		pk_log(pamh, LOG_NOTICE, "status for user %s refused: %s", user, err);
		/* Forgotten after expiry: for the user, it expired. */
		if (ctl_refusal_from_code(err) == CTL_REFUSAL_UNKNOWN_CEREMONY)
			say_final(pamh, o, c, CTL_STATE_EXPIRED, NULL);
		else
			pk_say(pamh, "passkey: the passkey service is not available");
		json_decref(resp);
		return PAM_AUTH_ERR;
	}
	state = ctl_state_from_name(ctl_resp_str(resp, "state"));
	if (state == CTL_STATE_APPROVED) {
		pk_log(pamh, LOG_INFO, "%s approved for user %s",
		    c->kind == PROMPT_REGISTER ? "registration" : "login", user);
		json_decref(resp);
		return PAM_SUCCESS;
	}
	if (ctl_state_is_final(state)) {
		pk_log(pamh, LOG_NOTICE, "%s for user %s: %s%s%s",
		    c->kind == PROMPT_REGISTER ? "registration" : "login", user,
		    ctl_state_name(state), state == CTL_STATE_FAILED ? " " : "",
		    state == CTL_STATE_FAILED ? safe_code(ctl_resp_str(resp, "reason")) : "");
		say_final(pamh, o, c, state, ctl_resp_str(resp, "reason"));
		json_decref(resp);
		return PAM_AUTH_ERR;
	}
	if (state != CTL_STATE_PENDING) {
		pk_log(pamh, LOG_ERR, "status: invalid answer from passkeyd");
		pk_say(pamh, "passkey: the passkey service is not available");
		json_decref(resp);
		return PAM_AUTH_ERR;
	}
	exp = json_object_get(resp, "expires_in");
	if (json_is_integer(exp) && json_integer_value(exp) < *left)
		*left = (long)json_integer_value(exp);
	json_decref(resp);
	return PAM_INCOMPLETE;
}

/* How long the module waits: its own timeout, or the ceremony's life if shorter. */
static long
wait_window(const struct pk_opts *o, const struct pk_ceremony *c)
{
	return c->expires_in < o->timeout ? c->expires_in : o->timeout;
}

/* The first text the user sees (make: prompt_first or prompt_info), QR code and all. */
static char *
first_text(pam_handle_t *pamh, const struct pk_opts *o, struct prompt_args *pa,
    char *(*make)(const struct prompt_args *))
{
	char *qr = NULL, *text;

	if (o->qr && (qr = qr_render(pa->url, PROMPT_COLUMNS,
	    prompt_qr_lines(pa->url), NULL, NULL)) == NULL)
		pk_debug(pamh, o, "QR code left out: it does not fit the terminal");
	pa->qr = qr;
	text = make(pa);
	pa->qr = NULL;
	free(qr);
	return text;
}

/* What the user is told when the module's own wait runs out. */
static void
say_timed_out(pam_handle_t *pamh, const struct pk_ceremony *c)
{
	pk_say(pamh, c->kind == PROMPT_REGISTER ?
	    "passkey: the registration request timed out" :
	    "passkey: the login request timed out");
}

/*
 * The module's own timeout= is over, and it is what bounds this wait
 * (shorter than the ceremony's life): an approval given after it is not
 * collected, so it is checked before the status.  When the ceremony's
 * life is the bound, passkeyd's expiry decides: an approval given in time
 * still counts when Enter comes late.
 */
static bool
own_timeout_over(const struct pk_opts *o, const struct pk_ceremony *c, long long deadline)
{
	return o->timeout < c->expires_in && clock_monotonic_ms() >= deadline;
}

/* The wait is over: said, logged, the ceremony cancelled. */
static int
timed_out(pam_handle_t *pamh, const struct pk_opts *o, const char *user,
    struct pk_ceremony *c)
{
	pk_log(pamh, LOG_NOTICE, "no verdict for user %s in time: cancelling", user);
	say_timed_out(pamh, c);
	cancel(pamh, o, c);
	return PAM_AUTH_ERR;
}

/*
 * Prompts until the daemon gives a final verdict or time runs out.  The
 * conversation blocks until the user answers, so the deadline is checked
 * after each answer; sshd's LoginGraceTime bounds the wait itself.
 */
static int
wait_verdict(pam_handle_t *pamh, const struct pk_opts *o, const char *user,
    struct pk_ceremony *c)
{
	long window = wait_window(o, c);
	long long deadline = clock_monotonic_ms() + window * 1000LL, last = 0;
	struct prompt_args pa = { .kind = c->kind, .url = c->url, .code = c->code,
	    .host = c->host, .seconds = window };
	char *text = first_text(pamh, o, &pa, prompt_first);
	int r;

	for (int round = 0;; round++) {
		long left;

		if (text == NULL) {
			pk_log(pamh, LOG_ERR, "out of memory");
			cancel(pamh, o, c);
			return PAM_AUTH_ERR;
		}
		r = converse(pamh, text);
		free(text);
		text = NULL;
		if (r != PAM_SUCCESS) {
			pk_log(pamh, LOG_NOTICE, "conversation failed for user %s (%s): "
			    "cancelling", user, pam_strerror(pamh, r));
			cancel(pamh, o, c);
			return PAM_AUTH_ERR;
		}
		pace(&last, PK_MIN_POLL_MS);
		if (own_timeout_over(o, c, deadline))
			return timed_out(pamh, o, user, c);
		left = (long)((deadline - clock_monotonic_ms()) / 1000);
		if ((r = check_status(pamh, o, user, c, &left)) != PAM_INCOMPLETE) {
			if (r != PAM_SUCCESS)
				cancel(pamh, o, c);
			return r;
		}
		if (left <= 0 || round + 1 >= PK_MAX_ROUNDS)
			return timed_out(pamh, o, user, c);
		pk_debug(pamh, o, "still pending, %ld s left", left);
		pa.seconds = left;
		text = prompt_again(&pa);
	}
}

/*
 * flow=info, for sshd 10.3 and later, which sends PAM info text to the
 * client at once: the link goes out as one info message, and the module
 * asks passkeyd by itself until a verdict, with no prompt.  The user
 * approves and is in; there is no Enter to press.  sshd's LoginGraceTime
 * and a client that goes away (sshd ends the module, and passkeyd cancels
 * the ceremony bound to its connection) bound the wait too.
 */
static int
wait_verdict_info(pam_handle_t *pamh, const struct pk_opts *o, const char *user,
    struct pk_ceremony *c)
{
	long window = wait_window(o, c);
	long long deadline = clock_monotonic_ms() + window * 1000LL, last;
	struct prompt_args pa = { .kind = c->kind, .url = c->url, .code = c->code,
	    .host = c->host, .seconds = window };
	char *text = first_text(pamh, o, &pa, prompt_info);
	int r;

	if (text == NULL) {
		pk_log(pamh, LOG_ERR, "out of memory");
		cancel(pamh, o, c);
		return PAM_AUTH_ERR;
	}
	r = pam_info(pamh, "%s", text);
	free(text);
	if (r != PAM_SUCCESS) {
		pk_log(pamh, LOG_NOTICE, "conversation failed for user %s (%s): "
		    "cancelling", user, pam_strerror(pamh, r));
		cancel(pamh, o, c);
		return PAM_AUTH_ERR;
	}
	last = clock_monotonic_ms();
	for (;;) {
		long left;

		pace(&last, PK_INFO_POLL_MS);
		if (own_timeout_over(o, c, deadline))
			return timed_out(pamh, o, user, c);
		left = (long)((deadline - clock_monotonic_ms()) / 1000);
		if ((r = check_status(pamh, o, user, c, &left)) != PAM_INCOMPLETE) {
			if (r != PAM_SUCCESS)
				cancel(pamh, o, c);
			return r;
		}
		if (clock_monotonic_ms() >= deadline)
			return timed_out(pamh, o, user, c);
	}
}

/*
 * The account the PAM user names, as the system spells it.  sshd (and a
 * case-insensitive NSS such as SSSD or winbind) accepts "DAEMON" or
 * "daemon " as the account "daemon"; the passkeys checked must be those of
 * the account that will be logged in, not of the string typed.  Returns
 * 0 with the name in out; PK_NO_ACCOUNT when NSS said "no such account"
 * the only way glibc and musl say it (0, no entry), or gave one with no
 * valid name; PK_NO_ACCOUNT_MAYBE for ENOENT or ESRCH without an entry,
 * which getpwnam_r(3) allows for "not found" (nss_wrapper says it so) but
 * which glibc also returns when a module is unavailable (nss-pam-ldapd
 * with nslcd down); PK_NSS_FAILED for any other error: the directory is
 * down, and the account may well have passkeys.  An entry bigger than
 * the buffer (ERANGE) is asked for again with a bigger one.
 */
static int
canonical_user(const char *name, char *out, size_t len)
{
	struct passwd pw, *res = NULL;
	char *buf = NULL;
	int rc = passwd_lookup(name, 0, &pw, &buf, &res);

	if (rc == PK_NSS_FAILED)
		return PK_NSS_FAILED;
	if (rc == 0 && res != NULL && ctl_user_name_valid(res->pw_name)) {
		snprintf(out, len, "%s", res->pw_name);
		free(buf);
		return 0;
	}
	free(buf);
	if (rc == 0)
		return PK_NO_ACCOUNT;
	return rc == ENOENT || rc == ESRCH ? PK_NO_ACCOUNT_MAYBE : PK_NSS_FAILED;
}

PAM_EXTERN int
pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct pk_ceremony c = { 0 };
	struct pk_opts o;
	const char *typed = NULL;
	char user[CTL_USER_MAX + 1];
	int r, found;

	if ((r = parse_opts(pamh, argc, argv, &o)) != PAM_SUCCESS)
		return r;
	if ((r = pam_get_user(pamh, &typed, NULL)) != PAM_SUCCESS || typed == NULL) {
		pk_log(pamh, LOG_ERR, "cannot get the user name: %s",
		    pam_strerror(pamh, r));
		return PAM_AUTH_ERR;
	}
	/*
	 * The name comes from the SSH client.  It is looked up whatever it
	 * holds, as sshd looks it up: a directory that ignores case or
	 * trailing spaces takes "alice" and 60 spaces for alice, and that
	 * name, refused unread, was "no account" (PAM_IGNORE under nullok:
	 * alice's passkey skipped).  Only the account's own name, checked,
	 * is used or logged.  A name too long to look up fails closed.
	 */
	if (strnlen(typed, PK_TYPED_NAME_MAX + 1) > PK_TYPED_NAME_MAX) {
		pk_log(pamh, LOG_NOTICE, "the user name given is over %d bytes: refused",
		    PK_TYPED_NAME_MAX);
		pk_say(pamh, "passkey: no passkey is registered for this account");
		return PAM_AUTH_ERR;
	}
	found = canonical_user(typed, user, sizeof(user));
	if (found == PK_NSS_FAILED || (found == PK_NO_ACCOUNT_MAYBE && o.nullok)) {
		/* fails closed, nullok or not: the account may have passkeys */
		pk_log(pamh, LOG_ERR, "cannot look the user name up: the name service %s",
		    found == PK_NSS_FAILED ? "failed" : "said ENOENT, maybe unavailable");
		pk_say(pamh, "passkey: the passkey service is not available");
		return PAM_AUTH_ERR;
	}
	if (found != 0) {
		/* No such account can have a passkey; say no more than that. */
		pk_log(pamh, LOG_NOTICE, "no account for the user name given");
		if (o.nullok)
			return PAM_IGNORE;
		pk_say(pamh, "passkey: no passkey is registered for this account");
		return PAM_AUTH_ERR;
	}
	if ((r = begin(pamh, &o, user, &c)) == PAM_SUCCESS && !c.reused) {
		pk_debug(pamh, &o, "%s ceremony %.6s... for user %s, expires in %ld s",
		    c.kind == PROMPT_REGISTER ? "register" : "login", c.token, user,
		    c.expires_in);
		r = o.flow == PK_FLOW_INFO ? wait_verdict_info(pamh, &o, user, &c) :
		    wait_verdict(pamh, &o, user, &c);
	}
	json_decref(c.resp);
	ctl_close(c.conn);
	explicit_bzero(user, sizeof(user));
	/*
	 * Only these leave the module; PAM_SUCCESS only from "approved", or
	 * from a re-approval window this service asked for.
	 */
	return r == PAM_SUCCESS || r == PAM_IGNORE ? r : PAM_AUTH_ERR;
}

PAM_EXTERN int
pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	return PAM_SUCCESS;
}
