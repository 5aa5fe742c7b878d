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
 *       [enroll=none|pending|after-auth] [qr=yes|no] [debug]
 *
 * An unknown option or a bad value is a configuration error: it is
 * logged and the module returns PAM_SERVICE_ERR, a failure under every
 * control value that does not name it.  It never degrades to "ignore".
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#define PAM_SM_AUTH
#include <security/pam_appl.h>
#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "ctl_client.h"
#include "ctl_text.h"
#include "prompt.h"
#include "qr.h"

#define PK_DEFAULT_TIMEOUT	120	/* s, the module's whole wait */
#define PK_MAX_TIMEOUT		3600
#define PK_MAX_EXPIRES		(31L * 86400)
#define PK_IO_TIMEOUT_MS	5000	/* one request to the daemon */
#define PK_CANCEL_TIMEOUT_MS	2000	/* giving up should not hang */
#define PK_MAX_TOKEN		256
/*
 * A conversation that answers at once (a client at EOF, a script) must
 * not turn the loop into a flood of status requests: at most one a
 * second, and a bound on rounds no person pressing Enter reaches.
 */
#define PK_MIN_POLL_MS		1000
#define PK_MAX_ROUNDS		200

struct pk_opts {
	const char *socket;
	long timeout;
	bool nullok;
	const char *enroll;
	bool qr;
	bool debug;
};

struct pk_ceremony {
	json_t *resp;		/* owns the strings below */
	enum prompt_kind kind;
	const char *token;
	const char *url;
	const char *code;
	long expires_in;
};

/*
 * PAM_PASSKEY_DEBUG_STDERR=1 copies log lines to stderr, for `sshd -D -e`
 * where there is no syslog.  sshd empties the environment of the child
 * that runs pam_authenticate, but it loads this module earlier, at
 * pam_start, in a process that still has it: read it at load time too.
 */
static bool pk_stderr_at_load;

__attribute__((constructor)) static void
pk_load(void)
{
	const char *e = getenv("PAM_PASSKEY_DEBUG_STDERR");

	pk_stderr_at_load = e != NULL && strcmp(e, "1") == 0;
}

static bool
pk_stderr(void)
{
	const char *e = getenv("PAM_PASSKEY_DEBUG_STDERR");

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

static int
parse_opts(pam_handle_t *pamh, int argc, const char **argv, struct pk_opts *o)
{
	*o = (struct pk_opts){ .socket = CTL_DEFAULT_SOCKET,
	    .timeout = PK_DEFAULT_TIMEOUT, .enroll = "none" };
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "nullok") == 0)
			o->nullok = true;
		else if (strcmp(a, "debug") == 0)
			o->debug = true;
		else if (strncmp(a, "socket=", 7) == 0 && a[7] == '/' &&
		    strlen(a + 7) < 108)	/* sizeof(sun_path) */
			o->socket = a + 7;
		else if (strncmp(a, "timeout=", 8) == 0 &&
		    parse_long(a + 8, 1, PK_MAX_TIMEOUT, &o->timeout) == 0)
			;
		else if (strcmp(a, "enroll=none") == 0 ||
		    strcmp(a, "enroll=pending") == 0 ||
		    strcmp(a, "enroll=after-auth") == 0)
			o->enroll = a + 7;
		else if (strcmp(a, "qr=yes") == 0 || strcmp(a, "qr=no") == 0)
			o->qr = a[3] == 'y';
		else {
			pk_log(pamh, LOG_ERR, "bad option '%s': refusing to "
			    "authenticate (see the module's documentation)", a);
			return PAM_SERVICE_ERR;
		}
	}
	return PAM_SUCCESS;
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

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleeps until at least PK_MIN_POLL_MS after *last, then sets *last. */
static void
pace(long long *last)
{
	long long wait = *last + PK_MIN_POLL_MS - now_ms();

	if (wait > 0) {
		struct timespec ts = { .tv_sec = wait / 1000,
		    .tv_nsec = (wait % 1000) * 1000000 };

		while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
			;
	}
	*last = now_ms();
}

/* What a refusal code may look like before it is printed or logged. */
static const char *
safe_code(const char *s)
{
	return ctl_word_ok(s, 64) ? s : "unknown";
}

static int
call(pam_handle_t *pamh, const struct pk_opts *o, json_t *req, int timeout_ms,
    json_t **resp)
{
	int err;

	if (req == NULL) {
		pk_log(pamh, LOG_ERR, "cannot build a request (invalid UTF-8 or out of memory)");
		return CTL_ERR_INVALID;
	}
	err = ctl_call(o->socket, timeout_ms, req, resp);
	json_decref(req);
	if (err != CTL_OK)
		pk_log(pamh, LOG_ERR, "control socket %s: %s", o->socket, ctl_err_str(err));
	return err;
}

/* Best effort: the daemon expires the ceremony anyway. */
static void
cancel(pam_handle_t *pamh, const struct pk_opts *o, const struct pk_ceremony *c)
{
	json_t *resp = NULL;

	if (call(pamh, o, json_pack("{s:s, s:s}", "op", "cancel", "token", c->token),
	    PK_CANCEL_TIMEOUT_MS, &resp) == CTL_OK)
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
	if (!json_is_integer(exp) || json_integer_value(exp) < 1 ||
	    json_integer_value(exp) > PK_MAX_EXPIRES)
		return false;
	c->expires_in = (long)json_integer_value(exp);
	return ctl_word_ok(c->token, PK_MAX_TOKEN) && ctl_url_ok(c->url) &&
	    ctl_word_ok(c->code, CTL_CODE_MAX);
}

static int
begin(pam_handle_t *pamh, const struct pk_opts *o, const char *user,
    struct pk_ceremony *c)
{
	const void *item;
	const char *rhost = "", *service = "", *err;

	if (pam_get_item(pamh, PAM_RHOST, &item) == PAM_SUCCESS && item != NULL)
		rhost = item;
	if (pam_get_item(pamh, PAM_SERVICE, &item) == PAM_SUCCESS && item != NULL)
		service = item;
	pk_debug(pamh, o, "login_begin user=%s rhost=%s service=%s enroll=%s",
	    user, rhost, service, o->enroll);
	if (call(pamh, o, json_pack("{s:s, s:s, s:s, s:s, s:s}", "op", "login_begin",
	    "user", user, "rhost", rhost, "service", service, "enroll", o->enroll),
	    PK_IO_TIMEOUT_MS, &c->resp) != CTL_OK) {
		pk_say(pamh, "passkey: the passkey service is not available");
		return PAM_AUTH_ERR;
	}
	if (ctl_resp_ok(c->resp)) {
		if (ceremony_ok(c))
			return PAM_SUCCESS;
		pk_log(pamh, LOG_ERR, "login_begin: invalid answer from passkeyd");
		pk_say(pamh, "passkey: the passkey service is not available");
		return PAM_AUTH_ERR;
	}
	err = safe_code(ctl_resp_str(c->resp, "error"));
	if (strcmp(err, "no_passkey") == 0 && o->nullok) {
		pk_debug(pamh, o, "user %s has no passkey: ignored (nullok)", user);
		return PAM_IGNORE;
	}
	pk_log(pamh, LOG_NOTICE, "login_begin for user %s refused: %s", user, err);
	if (strcmp(err, "no_passkey") == 0)
		pk_say(pamh, "passkey: no passkey is registered for this account");
	else if (strncmp(err, "limit_", 6) == 0)
		pk_say(pamh, "passkey: too many pending logins, try again later");
	else
		pk_say(pamh, "passkey: the passkey service is not available");
	return PAM_AUTH_ERR;
}

/* Says why a final state other than "approved" ends the login. */
static void
say_final(pam_handle_t *pamh, const struct pk_ceremony *c, const char *state,
    const char *reason)
{
	const char *what = c->kind == PROMPT_REGISTER ? "registration" : "login";
	char line[160];

	if (strcmp(state, "denied") == 0)
		snprintf(line, sizeof(line), "passkey: %s denied in the browser", what);
	else if (strcmp(state, "failed") == 0)
		snprintf(line, sizeof(line), "passkey: %s failed (%s)",
		    c->kind == PROMPT_REGISTER ? "registration" : "verification",
		    safe_code(reason));
	else if (strcmp(state, "expired") == 0)
		snprintf(line, sizeof(line), "passkey: the %s request expired", what);
	else if (strcmp(state, "used") == 0)
		snprintf(line, sizeof(line), "passkey: the %s request was already used", what);
	else
		snprintf(line, sizeof(line), "passkey: the %s request was cancelled", what);
	pk_say(pamh, line);
}

/*
 * Prompts until the daemon gives a final verdict or time runs out.  The
 * conversation blocks until the user answers, so the deadline is checked
 * after each answer; sshd's LoginGraceTime bounds the wait itself.
 */
static int
wait_verdict(pam_handle_t *pamh, const struct pk_opts *o, const char *user,
    const struct pk_ceremony *c)
{
	long window = c->expires_in < o->timeout ? c->expires_in : o->timeout;
	long long deadline = now_ms() + window * 1000LL, last = 0;
	struct prompt_args pa = { .kind = c->kind, .url = c->url, .code = c->code,
	    .seconds = window };
	char *qr = NULL, *text;
	int r;

	if (o->qr && (qr = qr_render(c->url, PROMPT_COLUMNS,
	    prompt_qr_lines(c->url), NULL, NULL)) == NULL)
		pk_debug(pamh, o, "QR code left out: it does not fit the terminal");
	pa.qr = qr;
	text = prompt_first(&pa);
	free(qr);
	for (int round = 0;; round++) {
		json_t *resp = NULL;
		const char *state;
		json_t *exp;
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
		pace(&last);
		if (call(pamh, o, json_pack("{s:s, s:s}", "op", "status", "token", c->token),
		    PK_IO_TIMEOUT_MS, &resp) != CTL_OK) {
			pk_say(pamh, "passkey: the passkey service is not available");
			cancel(pamh, o, c);
			return PAM_AUTH_ERR;
		}
		if (!ctl_resp_ok(resp)) {
			const char *err = safe_code(ctl_resp_str(resp, "error"));

			pk_log(pamh, LOG_NOTICE, "status for user %s refused: %s", user, err);
			/* Forgotten after expiry: for the user, it expired. */
			if (strcmp(err, "unknown_ceremony") == 0)
				say_final(pamh, c, "expired", NULL);
			else {
				pk_say(pamh, "passkey: the passkey service is not available");
				cancel(pamh, o, c);
			}
			json_decref(resp);
			return PAM_AUTH_ERR;
		}
		state = ctl_resp_str(resp, "state");
		if (state != NULL && strcmp(state, "approved") == 0) {
			pk_log(pamh, LOG_INFO, "%s approved for user %s",
			    c->kind == PROMPT_REGISTER ? "registration" : "login", user);
			json_decref(resp);
			return PAM_SUCCESS;
		}
		if (state != NULL && (strcmp(state, "denied") == 0 ||
		    strcmp(state, "failed") == 0 || strcmp(state, "expired") == 0 ||
		    strcmp(state, "used") == 0 || strcmp(state, "cancelled") == 0)) {
			pk_log(pamh, LOG_NOTICE, "%s for user %s: %s%s%s",
			    c->kind == PROMPT_REGISTER ? "registration" : "login", user,
			    state, strcmp(state, "failed") == 0 ? " " : "",
			    strcmp(state, "failed") == 0 ?
			    safe_code(ctl_resp_str(resp, "reason")) : "");
			say_final(pamh, c, state, ctl_resp_str(resp, "reason"));
			json_decref(resp);
			return PAM_AUTH_ERR;
		}
		if (state == NULL || strcmp(state, "pending") != 0) {
			pk_log(pamh, LOG_ERR, "status: invalid answer from passkeyd");
			pk_say(pamh, "passkey: the passkey service is not available");
			json_decref(resp);
			cancel(pamh, o, c);
			return PAM_AUTH_ERR;
		}
		left = (long)((deadline - now_ms()) / 1000);
		exp = json_object_get(resp, "expires_in");
		if (json_is_integer(exp) && json_integer_value(exp) < left)
			left = (long)json_integer_value(exp);
		json_decref(resp);
		if (left <= 0 || round + 1 >= PK_MAX_ROUNDS) {
			pk_log(pamh, LOG_NOTICE, "no verdict for user %s in time: cancelling", user);
			pk_say(pamh, c->kind == PROMPT_REGISTER ?
			    "passkey: the registration request timed out" :
			    "passkey: the login request timed out");
			cancel(pamh, o, c);
			return PAM_AUTH_ERR;
		}
		pk_debug(pamh, o, "still pending, %ld s left", left);
		pa.qr = NULL;
		pa.seconds = left;
		text = prompt_again(&pa);
	}
}


PAM_EXTERN int
pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct pk_ceremony c = { 0 };
	struct pk_opts o;
	const char *user = NULL;
	int r;

	if ((r = parse_opts(pamh, argc, argv, &o)) != PAM_SUCCESS)
		return r;
	if ((r = pam_get_user(pamh, &user, NULL)) != PAM_SUCCESS || user == NULL) {
		pk_log(pamh, LOG_ERR, "cannot get the user name: %s",
		    pam_strerror(pamh, r));
		return PAM_AUTH_ERR;
	}
	/* the name comes from the SSH client: check it before it is sent or logged */
	if (!ctl_user_name_valid(user)) {
		/* Such a name can have no passkey; say no more than that. */
		pk_log(pamh, LOG_NOTICE, "refusing an invalid user name");
		pk_say(pamh, "passkey: no passkey is registered for this account");
		return PAM_AUTH_ERR;
	}
	if ((r = begin(pamh, &o, user, &c)) == PAM_SUCCESS) {
		pk_debug(pamh, &o, "%s ceremony %.6s... for user %s, expires in %ld s",
		    c.kind == PROMPT_REGISTER ? "register" : "login", c.token, user,
		    c.expires_in);
		r = wait_verdict(pamh, &o, user, &c);
	}
	json_decref(c.resp);
	/* Only these leave the module; PAM_SUCCESS only from "approved". */
	return r == PAM_SUCCESS || r == PAM_IGNORE ? r : PAM_AUTH_ERR;
}

PAM_EXTERN int
pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	return PAM_SUCCESS;
}
