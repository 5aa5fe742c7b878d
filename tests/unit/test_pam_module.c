/*
 * pam_passkey.so through the real libpam, against a scripted passkeyd.
 *
 * Each case writes a PAM service file into a temporary folder and runs
 * pam_start_confdir() + pam_authenticate() on it, so the real module is
 * loaded and driven by the real libpam, without root and without touching
 * /etc/pam.d.  The stack is
 *
 *   auth [success=done ignore=ignore default=die] MODULE socket=... OPTIONS
 *   auth requisite pam_echo.so MARK
 *   auth required pam_deny.so
 *
 * so each of the module's answers is told apart: PAM_SUCCESS and the
 * failures come back from pam_authenticate() as they are, and PAM_IGNORE
 * (only) shows MARK and then fails on pam_deny.
 *
 * The daemon is a thread of this test (a forked child for the case where
 * it must run under another uid): it listens on the socket, answers each
 * JSON line from the case's script and records what the module sent and
 * on which connection.  The conversation function answers each prompt
 * with Enter (or fails, when the case says so) and records the prompts
 * and the messages.  Every case checks the PAM result, the line the user
 * was told and the requests the module sent.
 *
 *   test_pam_module plain      everything, with the system's NSS
 *   test_pam_module casefold   user names through nss_wrapper and
 *                              nss_casefold.c, a case-insensitive NSS module
 *
 * PAM_PASSKEY_MODULE names the module to load (an absolute path);
 * TEST_FILTER='verdict: *' runs only the matching cases;
 * PAM_PASSKEY_DEBUG_STDERR=1 shows the module's log lines.
 */
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>
#include <security/pam_appl.h>

#define SERVICE		"passkey-test"
#define RHOST		"192.0.2.7"
#define MARK		"pam_passkey-returned-PAM_IGNORE"

#define TOKEN		"Zk3rQ9x_b2-LmN0pT7vW8yA1cD4eF5gH"
#define URL		"http://localhost:8080/l/" TOKEN
#define RURL		"http://localhost:8080/r/" TOKEN
#define CODE		"ABC-DEF"

/* login_begin answers; BEGIN_AS(kind, url, expires_in) for the others */
#define BEGIN_AS(kind, url, exp) "{\"ok\":true,\"kind\":\"" kind "\",\"token\":\"" \
	TOKEN "\",\"url\":\"" url "\",\"code\":\"" CODE "\",\"expires_in\":" exp "}"
#define BEGIN		BEGIN_AS("login", URL, "90")
#define BEGIN_REG	BEGIN_AS("register", RURL, "90")
#define STATE(s)	"{\"ok\":true,\"state\":\"" s "\"}"
#define REFUSE(code)	"{\"ok\":false,\"error\":\"" code "\",\"message\":\"text\"}"

/* what the user is told */
#define NA		"passkey: the passkey service is not available"
#define NOPK		"passkey: no passkey is registered for this account"
#define LIMIT		"passkey: too many pending logins, try again later"
#define BUSY		"passkey: the passkey service is busy, try again"

#define A10		"aaaaaaaaaa"
#define A64		A10 A10 A10 A10 A10 A10 "aaaa"
#define SP10		"          "
#define SP60		SP10 SP10 SP10 SP10 SP10 SP10
#define SP1020		SP60 SP60 SP60 SP60 SP60 SP60 SP60 SP60 SP60 SP60 SP60 SP60 SP60 SP60 \
			SP60 SP60 SP60

static const char *module_path;
static char dir[64];		/* the case's files: service file, socket */
static char sock_path[128];
static char me[128];		/* an account with our uid: daemon_user */

/* ------------------------------------------------------------------ */
/* One run of pam_authenticate and what it did                         */

enum { RAW = 1, CLOSE = 2, SILENT = 4 };

struct step {
	const char *send;	/* a line; '\n' is added unless RAW */
	unsigned flags;		/* RAW, CLOSE (hang up after), SILENT (never answer) */
};

enum peer_kind {
	PEER_THREAD,		/* the scripted daemon */
	PEER_NONE,		/* no socket file */
	PEER_STALE,		/* a socket file nobody listens on */
	PEER_FOREIGN,		/* served by a uid that is neither root nor daemon_user */
};

#define MAX_MSGS	16
#define MAX_REQS	16
#define MAX_STEPS	8

struct req {
	int conn;		/* which accepted connection, from 0 */
	long long ms;		/* when it arrived */
	char *line;
	json_t *json;
};

struct run {
	/* the case */
	const char *user;	/* PAM_USER; NULL: me */
	const char *extra;	/* options after socket=, daemon_user=, timeout=5 */
	const char *daemon_user; /* NULL: me */
	bool no_rhost;
	const char *rhost;	/* PAM_RHOST; NULL: RHOST */
	const char *tty;	/* PAM_TTY, or NULL */
	const char *auth_info;	/* SSH_AUTH_INFO_0 as sshd sets it, or NULL */
	struct step steps[MAX_STEPS];
	size_t nsteps;
	int conv_fail_at;	/* that prompt (from 1) fails with PAM_CONV_ERR */
	bool conv_no_resp;	/* prompts get PAM_SUCCESS and no answer */
	int conv_delay_ms;	/* the user takes this long to press Enter */
	enum peer_kind peer;

	/* the outcome */
	int rc;			/* pam_authenticate() */
	int module_rc;		/* the module's, PAM_IGNORE told apart */
	long long ms;
	int nprompts, nerrors, ninfos;
	char *prompts[MAX_MSGS], *errors[MAX_MSGS], *infos[MAX_MSGS];
	int nconns, nreqs;
	struct req reqs[MAX_REQS];
	bool overflow;		/* a request line longer than the peer reads */
	size_t foreign_bytes;	/* what the foreign peer received */

	/* the peer */
	int lfd, stop[2];
	size_t next;
	pthread_t th;
	char *owned[MAX_STEPS];	/* generated step texts */
};

static struct run R;		/* the current case's */

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
script(struct run *r, const char *send, unsigned flags)
{
	assert_true(r->nsteps < MAX_STEPS);
	r->steps[r->nsteps++] = (struct step){ send, flags };
}

/* A step whose text is fmt with its one %s replaced by n copies of c. */
static void
script_fill(struct run *r, const char *fmt, char c, size_t n, unsigned flags)
{
	const char *at = strstr(fmt, "%s");
	size_t head, tail;
	char *s;

	assert_true(r->nsteps < MAX_STEPS);
	assert_non_null(at);
	head = (size_t)(at - fmt);
	tail = strlen(at + 2);
	s = malloc(head + n + tail + 1);
	assert_non_null(s);
	memcpy(s, fmt, head);
	memset(s + head, c, n);
	memcpy(s + head + n, at + 2, tail + 1);
	r->owned[r->nsteps] = s;
	script(r, s, flags);
}

static void
run_free(struct run *r)
{
	for (int i = 0; i < r->nprompts; i++)
		free(r->prompts[i]);
	for (int i = 0; i < r->nerrors; i++)
		free(r->errors[i]);
	for (int i = 0; i < r->ninfos; i++)
		free(r->infos[i]);
	for (int i = 0; i < r->nreqs; i++) {
		free(r->reqs[i].line);
		json_decref(r->reqs[i].json);
	}
	for (int i = 0; i < MAX_STEPS; i++)
		free(r->owned[i]);
	memset(r, 0, sizeof(*r));
}

static void
send_all(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);

		if (w > 0) {
			s += w;
			n -= (size_t)w;
		} else if (w == -1 && errno == EINTR)
			continue;
		else
			return;		/* the module hung up: what it does is checked */
	}
}

/* Answers one request from the script; a request beyond it is hung up on. */
static void
answer(struct run *r, int *cfd)
{
	const struct step *s = r->next < r->nsteps ? &r->steps[r->next++] : NULL;

	if (s == NULL) {
		close(*cfd);
		*cfd = -1;
		return;
	}
	if (!(s->flags & SILENT)) {
		send_all(*cfd, s->send, strlen(s->send));
		if (!(s->flags & RAW))
			send_all(*cfd, "\n", 1);
	}
	if (s->flags & CLOSE) {
		close(*cfd);
		*cfd = -1;
	}
}

/* The scripted daemon: one connection at a time, until told to stop. */
static void *
peer_main(void *arg)
{
	struct run *r = arg;
	static char buf[4 * 8192];
	size_t have = 0;
	int cfd = -1;

	for (;;) {
		struct pollfd pf[2] = {
			{ .fd = r->stop[0], .events = POLLIN },
			{ .fd = cfd >= 0 ? cfd : r->lfd, .events = POLLIN },
		};
		char *nl;
		ssize_t n;

		if (poll(pf, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pf[0].revents != 0)
			break;
		if (pf[1].revents == 0)
			continue;
		if (cfd < 0) {
			if ((cfd = accept4(r->lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
				r->nconns++;
			have = 0;
			continue;
		}
		n = recv(cfd, buf + have, sizeof(buf) - have, 0);
		if (n <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			close(cfd);
			cfd = -1;
			continue;
		}
		have += (size_t)n;
		while (cfd >= 0 && (nl = memchr(buf, '\n', have)) != NULL) {
			size_t len = (size_t)(nl - buf);

			if (r->nreqs < MAX_REQS) {
				struct req *q = &r->reqs[r->nreqs++];

				q->conn = r->nconns - 1;
				q->ms = now_ms();
				q->line = strndup(buf, len);
			}
			memmove(buf, nl + 1, have - len - 1);
			have -= len + 1;
			answer(r, &cfd);
		}
		if (cfd >= 0 && have == sizeof(buf)) {
			r->overflow = true;
			close(cfd);
			cfd = -1;
		}
	}
	if (cfd >= 0)
		close(cfd);
	return NULL;
}

static int
listener(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_true(strlen(sock_path) < sizeof(sun.sun_path));
	strcpy(sun.sun_path, sock_path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return fd;
}

/*
 * The foreign daemon: listens as another uid (SO_PEERCRED gives the
 * client the listener's credentials as of listen()), accepts one
 * connection and reports how many bytes the module sent on it.
 */
static void
foreign_child(int lfd, int rep)
{
	struct pollfd p = { .fd = lfd, .events = POLLIN };
	size_t got = 0;
	char buf[512];

	if (geteuid() == 0 && (setgroups(0, NULL) != 0 ||
	    setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0))
		_exit(2);
	if (listen(lfd, 8) != 0 || write(rep, "r", 1) != 1)
		_exit(3);
	if (poll(&p, 1, 10000) == 1) {
		int c = accept(lfd, NULL, NULL);

		for (p.fd = c; c >= 0 && poll(&p, 1, 10000) == 1; ) {
			ssize_t n = recv(c, buf, sizeof(buf), 0);

			if (n <= 0)
				break;
			got += (size_t)n;
			if (memchr(buf, '\n', (size_t)n) != NULL)
				break;
		}
		if (c >= 0)
			close(c);
	}
	if (write(rep, &got, sizeof(got)) != sizeof(got))
		_exit(4);
	_exit(0);
}

/* A name for a uid other than ours and root's: the foreign case's daemon_user. */
static const char *
other_account(void)
{
	static const char *names[] = { "nobody", "daemon", "bin", "sys" };

	if (geteuid() == 0)
		return me;	/* the foreign peer drops to 65534 */
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct passwd pw, *res = NULL;
		char buf[1024];

		if (getpwnam_r(names[i], &pw, buf, sizeof(buf), &res) == 0 && res != NULL &&
		    res->pw_uid != 0 && res->pw_uid != getuid())
			return names[i];
	}
	return NULL;
}

static int
conv(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	struct run *r = data;
	struct pam_response *out = calloc((size_t)n, sizeof(*out));

	if (out == NULL)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++) {
		const char *m = msg[i]->msg != NULL ? msg[i]->msg : "(null)";

		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_ON:
		case PAM_PROMPT_ECHO_OFF:
			if (r->nprompts < MAX_MSGS)
				r->prompts[r->nprompts++] = strdup(m);
			if (r->conv_delay_ms > 0) {
				struct timespec ts = { r->conv_delay_ms / 1000,
				    (r->conv_delay_ms % 1000) * 1000000L };

				while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
					;
			}
			if (r->nprompts == r->conv_fail_at || r->conv_no_resp) {
				for (int j = 0; j < i; j++)
					free(out[j].resp);
				free(out);
				return r->conv_no_resp ? PAM_SUCCESS : PAM_CONV_ERR;
			}
			out[i].resp = strdup("");	/* Enter */
			break;
		case PAM_ERROR_MSG:
			if (r->nerrors < MAX_MSGS)
				r->errors[r->nerrors++] = strdup(m);
			break;
		case PAM_TEXT_INFO:
			if (r->ninfos < MAX_MSGS)
				r->infos[r->ninfos++] = strdup(m);
			break;
		default:
			break;
		}
	}
	*resp = out;
	return PAM_SUCCESS;
}

static void
write_service(const struct run *r)
{
	char path[192];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, SERVICE);
	f = fopen(path, "w");
	assert_non_null(f);
	/* timeout=5 unless the test gives its own: an option given twice is refused */
	fprintf(f, "auth [success=done ignore=ignore default=die] %s socket=%s "
	    "daemon_user=%s %s %s\n", module_path, sock_path,
	    r->daemon_user != NULL ? r->daemon_user : me,
	    r->extra != NULL && strstr(r->extra, "timeout=") != NULL ? "" : "timeout=5",
	    r->extra != NULL ? r->extra : "");
	fprintf(f, "auth requisite pam_echo.so %s\n", MARK);
	fprintf(f, "auth required pam_deny.so\n");
	assert_int_equal(fclose(f), 0);
}

/* SSH_AUTH_INFO_0 in the PAM environment, as sshd puts it there. */
static int
put_auth_info(pam_handle_t *h, const char *info)
{
	char *kv = NULL;
	int rc;

	if (asprintf(&kv, "SSH_AUTH_INFO_0=%s", info) < 0)
		return PAM_BUF_ERR;
	rc = pam_putenv(h, kv);
	free(kv);
	return rc;
}

static void
run_pam(struct run *r)
{
	struct pam_conv c = { conv, r };
	pam_handle_t *h = NULL;
	int rep[2] = { -1, -1 };
	pid_t child = -1;
	long long t0;
	char ready;
	int start;

	write_service(r);
	unlink(sock_path);
	r->lfd = -1;
	switch (r->peer) {
	case PEER_THREAD:
		r->lfd = listener();
		assert_int_equal(listen(r->lfd, 8), 0);
		assert_int_equal(pipe2(r->stop, O_CLOEXEC), 0);
		assert_int_equal(pthread_create(&r->th, NULL, peer_main, r), 0);
		break;
	case PEER_NONE:
		break;
	case PEER_STALE:
		close(listener());
		break;
	case PEER_FOREIGN:
		r->lfd = listener();
		assert_int_equal(pipe2(rep, O_CLOEXEC), 0);
		child = fork();
		assert_true(child >= 0);
		if (child == 0)
			foreign_child(r->lfd, rep[1]);
		close(rep[1]);
		close(r->lfd);
		r->lfd = -1;
		assert_int_equal(read(rep[0], &ready, 1), 1);
		break;
	}

	/* no assertion until the peer is stopped: a failure must not leave it running */
	start = pam_start_confdir(SERVICE, r->user != NULL ? r->user : me, &c, dir, &h);
	if (start == PAM_SUCCESS) {
		if (!r->no_rhost && pam_set_item(h, PAM_RHOST, r->rhost != NULL ? r->rhost :
		    RHOST) != PAM_SUCCESS)
			start = PAM_SYSTEM_ERR;
		if (r->auth_info != NULL && put_auth_info(h, r->auth_info) != PAM_SUCCESS)
			start = PAM_SYSTEM_ERR;
		if (r->tty != NULL && pam_set_item(h, PAM_TTY, r->tty) != PAM_SUCCESS)
			start = PAM_SYSTEM_ERR;
		t0 = now_ms();
		r->rc = start == PAM_SUCCESS ? pam_authenticate(h, 0) : start;
		r->ms = now_ms() - t0;
		pam_end(h, r->rc);
	}

	if (r->peer == PEER_THREAD) {
		assert_int_equal(write(r->stop[1], "x", 1), 1);
		assert_int_equal(pthread_join(r->th, NULL), 0);
		close(r->stop[0]);
		close(r->stop[1]);
		close(r->lfd);
	}
	if (r->peer == PEER_FOREIGN) {
		int st;

		assert_int_equal(read(rep[0], &r->foreign_bytes, sizeof(r->foreign_bytes)),
		    sizeof(r->foreign_bytes));
		close(rep[0]);
		assert_int_equal(waitpid(child, &st, 0), child);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	unlink(sock_path);
	assert_int_equal(start, PAM_SUCCESS);

	/* PAM_IGNORE is the one answer that reaches pam_echo */
	r->module_rc = r->rc;
	for (int i = 0; i < r->ninfos; i++)
		if (strcmp(r->infos[i], MARK) == 0) {
			assert_int_equal(r->rc, PAM_AUTH_ERR);	/* pam_deny's */
			r->module_rc = PAM_IGNORE;
		}
}

/* ------------------------------------------------------------------ */
/* What the module sent and what the user saw                          */

static json_t *
req_json(struct run *r, int i)
{
	json_error_t e;

	assert_true(i < r->nreqs);
	if (r->reqs[i].json == NULL)
		r->reqs[i].json = json_loads(r->reqs[i].line, JSON_REJECT_DUPLICATES, &e);
	assert_non_null(r->reqs[i].json);
	assert_true(json_is_object(r->reqs[i].json));
	return r->reqs[i].json;
}

static const char *
req_str(struct run *r, int i, const char *key)
{
	const char *s = json_string_value(json_object_get(req_json(r, i), key));

	return s != NULL ? s : "(absent)";
}

/*
 * The module sent exactly these ops, all on one connection; status and
 * cancel for the token login_begin gave and nothing else.
 */
static void
expect_ops_v(struct run *r, const char *const *ops)
{
	int n = 0;

	while (ops[n] != NULL)
		n++;
	if (r->nreqs != n) {
		for (int i = 0; i < r->nreqs; i++)
			print_error("sent: %s\n", r->reqs[i].line);
	}
	assert_int_equal(r->nreqs, n);
	assert_false(r->overflow);
	if (n == 0) {
		assert_int_equal(r->nconns, 0);
		return;
	}
	assert_int_equal(r->nconns, 1);
	for (int i = 0; i < n; i++) {
		assert_string_equal(req_str(r, i, "op"), ops[i]);
		assert_int_equal(r->reqs[i].conn, 0);
		if (strcmp(ops[i], "status") == 0 || strcmp(ops[i], "cancel") == 0) {
			assert_string_equal(req_str(r, i, "token"), TOKEN);
			assert_int_equal(json_object_size(req_json(r, i)), 2);
		}
	}
}
#define expect_ops(r, ...) expect_ops_v(r, (const char *const[]){ __VA_ARGS__, NULL })

static void
expect_no_request(struct run *r)
{
	expect_ops_v(r, (const char *const[]){ NULL });
}

/*
 * The first request is this login_begin and has nothing else.  "resolved":
 * the module looked the name up (user is pw_name), so passkeyd need not.
 */
static void
expect_begin(struct run *r, const char *user, const char *rhost, const char *enroll)
{
	json_t *j = req_json(r, 0);

	assert_string_equal(req_str(r, 0, "op"), "login_begin");
	assert_string_equal(req_str(r, 0, "user"), user);
	assert_string_equal(req_str(r, 0, "rhost"), rhost);
	assert_string_equal(req_str(r, 0, "service"), SERVICE);
	assert_string_equal(req_str(r, 0, "enroll"), enroll);
	assert_true(json_is_true(json_object_get(j, "resolved")));
	/* with no client address, who asked on the host (test_requester) */
	if (rhost[0] == '\0')
		assert_true(json_is_object(json_object_get(j, "requester")));
	assert_int_equal(json_object_size(j), rhost[0] == '\0' ? 7 : 6);
}

/* The user was told exactly this one line (NULL: nothing). */
static void
expect_told(struct run *r, const char *line)
{
	if (r->nerrors != (line != NULL)) {
		for (int i = 0; i < r->nerrors; i++)
			print_error("told: %s\n", r->errors[i]);
	}
	assert_int_equal(r->nerrors, line != NULL);
	if (line != NULL)
		assert_string_equal(r->errors[0], line);
	/* no informational text either, but pam_echo's mark */
	for (int i = 0; i < r->ninfos; i++)
		assert_string_equal(r->infos[i], MARK);
}

/*
 * How a ceremony ended (denied, failed, expired, used, cancelled) is said
 * in a prompt of its own that waits for Enter (pam/prompt.c prompt_held),
 * so that the next attempt's prompt cannot scroll it away; the service's
 * troubles (not available, busy...) stay error messages.
 */
static bool
held_line(const char *told)
{
	static const char *const ends[] = { " denied in the browser", " request expired",
	    " failed (", " was already used", " was cancelled" };

	for (size_t i = 0; told != NULL && i < sizeof(ends) / sizeof(ends[0]); i++)
		if (strstr(told, ends[i]) != NULL)
			return true;
	return false;
}

/* expect_told, or for an ending, the last prompt says it and nothing else does. */
static void
expect_outcome(struct run *r, const char *line)
{
	char want[256];

	if (!held_line(line)) {
		expect_told(r, line);
		return;
	}
	snprintf(want, sizeof(want), "%s\nPress Enter to continue: ", line);
	assert_true(r->nprompts >= 2);
	assert_string_equal(r->prompts[r->nprompts - 1], want);
	expect_told(r, NULL);
}

static const char *
rc_name(int rc)
{
	switch (rc) {
	case PAM_SUCCESS: return "PAM_SUCCESS";
	case PAM_IGNORE: return "PAM_IGNORE";
	case PAM_AUTH_ERR: return "PAM_AUTH_ERR";
	case PAM_SERVICE_ERR: return "PAM_SERVICE_ERR";
	case PAM_PERM_DENIED: return "PAM_PERM_DENIED";
	default: return "another code";
	}
}

static void
expect_rc(struct run *r, int want)
{
	if (r->module_rc != want)
		fail_msg("the module returned %s (%d), expected %s (%d)",
		    rc_name(r->module_rc), r->module_rc, rc_name(want), want);
}

static int
setup(void **state)
{
	memset(&R, 0, sizeof(R));
	return 0;
}

static int
teardown(void **state)
{
	run_free(&R);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Verdicts: the status answer after a valid login_begin               */

struct verdict_case {
	const char *name;
	const char *begin;	/* login_begin's answer */
	const char *status;	/* status's; one %s is filled up to fill_to bytes */
	size_t fill_to;
	unsigned flags;		/* how status is answered */
	int rc;
	const char *told;
	bool cancel;		/* the module cancels after this answer */
};

#define V_FAIL(n, st, msg)	{ n, BEGIN, st, 0, 0, PAM_AUTH_ERR, msg, true }
#define V_BROKEN(n, st, fl)	{ n, BEGIN, st, 0, fl, PAM_AUTH_ERR, NA, false }

static const struct verdict_case verdicts[] = {
	{ "approved", BEGIN, STATE("approved"), 0, 0, PAM_SUCCESS, NULL, false },
	{ "approved (registration)", BEGIN_REG, STATE("approved"), 0, 0, PAM_SUCCESS, NULL, false },
	{ "approved with more members", BEGIN,
	    "{\"ok\":true,\"state\":\"approved\",\"expires_in\":3,\"x\":[1]}", 0, 0,
	    PAM_SUCCESS, NULL, false },
	V_FAIL("denied", STATE("denied"), "passkey: login denied in the browser"),
	{ "denied (registration)", BEGIN_REG, STATE("denied"), 0, 0, PAM_AUTH_ERR,
	    "passkey: registration denied in the browser", true },
	V_FAIL("failed bad_signature",
	    "{\"ok\":true,\"state\":\"failed\",\"reason\":\"bad_signature\"}",
	    "passkey: verification failed (bad_signature)"),
	V_FAIL("failed challenge_mismatch",
	    "{\"ok\":true,\"state\":\"failed\",\"reason\":\"challenge_mismatch\"}",
	    "passkey: verification failed (challenge_mismatch)"),
	{ "failed (registration)", BEGIN_REG,
	    "{\"ok\":true,\"state\":\"failed\",\"reason\":\"credential_exists\"}", 0, 0,
	    PAM_AUTH_ERR, "passkey: registration failed (credential_exists)", true },
	V_FAIL("failed without reason", STATE("failed"), "passkey: verification failed (unknown)"),
	V_FAIL("failed, reason with ESC",
	    "{\"ok\":true,\"state\":\"failed\",\"reason\":\"\\u001b[2Jx\"}",
	    "passkey: verification failed (unknown)"),
	V_FAIL("failed, reason not a string",
	    "{\"ok\":true,\"state\":\"failed\",\"reason\":7}",
	    "passkey: verification failed (unknown)"),
	V_FAIL("expired", STATE("expired"), "passkey: the login request expired"),
	{ "expired (registration)", BEGIN_REG, STATE("expired"), 0, 0, PAM_AUTH_ERR,
	    "passkey: the registration request expired", true },
	V_FAIL("used", STATE("used"), "passkey: the login request was already used"),
	V_FAIL("cancelled", STATE("cancelled"), "passkey: the login request was cancelled"),
	V_FAIL("status refused: unknown_ceremony", REFUSE("unknown_ceremony"),
	    "passkey: the login request expired"),
	V_FAIL("status refused: store_error", REFUSE("store_error"), NA),
	V_FAIL("status refused: not_permitted", REFUSE("not_permitted"), NA),
	V_FAIL("ok false with state approved", "{\"ok\":false,\"state\":\"approved\"}", NA),
	V_FAIL("ok 1 with state approved", "{\"ok\":1,\"state\":\"approved\"}", NA),
	V_FAIL("ok \"true\" with state approved", "{\"ok\":\"true\",\"state\":\"approved\"}", NA),
	V_FAIL("no ok, state approved", "{\"state\":\"approved\"}", NA),
	V_FAIL("state unknown", STATE("accepted"), NA),
	V_FAIL("state APPROVED", STATE("APPROVED"), NA),
	V_FAIL("state approved with a space", STATE("approved "), NA),
	V_FAIL("state approvedx", STATE("approvedx"), NA),
	V_FAIL("state empty", STATE(""), NA),
	V_FAIL("state a number", "{\"ok\":true,\"state\":1}", NA),
	V_FAIL("state true", "{\"ok\":true,\"state\":true}", NA),
	V_FAIL("state null", "{\"ok\":true,\"state\":null}", NA),
	V_FAIL("state an array", "{\"ok\":true,\"state\":[\"approved\"]}", NA),
	V_FAIL("state an object", "{\"ok\":true,\"state\":{\"approved\":true}}", NA),
	V_FAIL("state missing", "{\"ok\":true}", NA),
	V_BROKEN("garbage", "approved", 0),
	V_BROKEN("empty line", "", 0),
	V_BROKEN("a JSON array", "[\"approved\"]", 0),
	V_BROKEN("a JSON string", "\"approved\"", 0),
	V_BROKEN("unterminated JSON", "{\"ok\":true,\"state\":\"approved\"", 0),
	V_BROKEN("JSON and trailing text", STATE("approved") " x", 0),
	V_BROKEN("duplicate state", "{\"ok\":true,\"state\":\"pending\",\"state\":\"approved\"}", 0),
	V_BROKEN("NUL in state", "{\"ok\":true,\"state\":\"approved\\u0000\"}", 0),
	V_BROKEN("invalid UTF-8", "{\"ok\":true,\"state\":\"approved\",\"x\":\"\xff\"}", 0),
	V_BROKEN("two lines for one request", STATE("approved") "\n" STATE("approved"), 0),
	V_BROKEN("a line and a half", STATE("approved") "\n{\"ok\"", RAW),
	V_BROKEN("closes mid-line", "{\"ok\":true,\"state\":\"appro", RAW | CLOSE),
	V_BROKEN("closes before the newline", STATE("approved"), RAW | CLOSE),
	V_BROKEN("closes without answering", "", SILENT | CLOSE),
	{ "a line of 8192 bytes", BEGIN, "{\"ok\":true,\"state\":\"approved\",\"pad\":\"%s\"}",
	    8192, 0, PAM_SUCCESS, NULL, false },
	{ "a line of 8193 bytes", BEGIN, "{\"ok\":true,\"state\":\"approved\",\"pad\":\"%s\"}",
	    8193, 0, PAM_AUTH_ERR, NA, false },
	{ "a line of 20000 bytes", BEGIN, "{\"ok\":true,\"state\":\"approved\",\"pad\":\"%s\"}",
	    20000, 0, PAM_AUTH_ERR, NA, false },
};

static void
test_verdict(void **state)
{
	const struct verdict_case *v = *state;
	struct run *r = &R;

	script(r, v->begin, 0);
	if (v->fill_to > 0)
		script_fill(r, v->status, 'x', v->fill_to - (strlen(v->status) - 2), v->flags);
	else
		script(r, v->status, v->flags);
	if (v->cancel)
		script(r, STATE("cancelled"), 0);
	run_pam(r);

	expect_rc(r, v->rc);
	expect_outcome(r, v->told);
	expect_begin(r, me, RHOST, "none");
	if (v->cancel)
		expect_ops(r, "login_begin", "status", "cancel");
	else
		expect_ops(r, "login_begin", "status");
	assert_int_equal(r->nprompts, 1 + held_line(v->told));
}

/* ------------------------------------------------------------------ */
/* login_begin answers: refusals and malformed ceremonies              */

struct begin_case {
	const char *name;
	const char *answer;	/* one %s is filled with fill_len bytes of 'a' */
	size_t fill_len;	/* or as many as make the line fill_to bytes */
	size_t fill_to;
	unsigned flags;
	bool nullok;
	int rc;			/* PAM_SUCCESS: a valid ceremony, approved next */
	const char *told;
};

#define B_REFUSE(code, msg)	{ "refused: " code, REFUSE(code), 0, 0, 0, false, PAM_AUTH_ERR, msg }
#define B_BAD(n, ans)		{ n, ans, 0, 0, 0, false, PAM_AUTH_ERR, NA }
#define B_FILL(n, ans, len, rc)	{ n, ans, len, 0, 0, false, rc, rc == PAM_SUCCESS ? NULL : NA }

static const struct begin_case begins[] = {
	B_REFUSE("no_passkey", NOPK),
	{ "refused: no_passkey, nullok", REFUSE("no_passkey"), 0, 0, 0, true, PAM_IGNORE, NULL },
	B_REFUSE("unknown_user", NOPK),
	{ "refused: unknown_user, nullok", REFUSE("unknown_user"), 0, 0, 0, true, PAM_IGNORE, NULL },
	B_REFUSE("limit_user", LIMIT),
	B_REFUSE("limit_user_address", LIMIT),
	B_REFUSE("limit_address", LIMIT),
	B_REFUSE("limit_total", LIMIT),
	B_REFUSE("limit_host", LIMIT),
	B_REFUSE("limit_connection", LIMIT),
	B_REFUSE("rate_limited", BUSY),
	B_REFUSE("busy", BUSY),
	B_REFUSE("store_busy", BUSY),
	B_REFUSE("directory_busy", BUSY),
	B_REFUSE("store_error", NA),
	B_REFUSE("store_unavailable", NA),
	B_REFUSE("not_permitted", NA),
	B_REFUSE("bad_request", NA),
	B_REFUSE("internal_error", NA),
	B_REFUSE("unknown_ceremony", NA),
	B_REFUSE("frobnicated", NA),
	{ "refused: frobnicated, nullok", REFUSE("frobnicated"), 0, 0, 0, true, PAM_AUTH_ERR, NA },
	{ "refused: limit_user, nullok", REFUSE("limit_user"), 0, 0, 0, true, PAM_AUTH_ERR, LIMIT },
	{ "refused: NO_PASSKEY, nullok", REFUSE("NO_PASSKEY"), 0, 0, 0, true, PAM_AUTH_ERR, NA },
	{ "refused: no_passkey + ESC, nullok", REFUSE("no_passkey\\u001b"), 0, 0, 0, true,
	    PAM_AUTH_ERR, NA },
	{ "refused: no error code, nullok", "{\"ok\":false}", 0, 0, 0, true, PAM_AUTH_ERR, NA },
	{ "refused: error not a string, nullok", "{\"ok\":false,\"error\":3}", 0, 0, 0, true,
	    PAM_AUTH_ERR, NA },
	B_BAD("ok missing", "{\"kind\":\"login\",\"token\":\"" TOKEN "\",\"url\":\"" URL
	    "\",\"code\":\"" CODE "\",\"expires_in\":90}"),
	B_BAD("token missing", "{\"ok\":true,\"kind\":\"login\",\"url\":\"" URL
	    "\",\"code\":\"" CODE "\",\"expires_in\":90}"),
	B_BAD("url missing", "{\"ok\":true,\"kind\":\"login\",\"token\":\"" TOKEN
	    "\",\"code\":\"" CODE "\",\"expires_in\":90}"),
	B_BAD("code missing", "{\"ok\":true,\"kind\":\"login\",\"token\":\"" TOKEN
	    "\",\"url\":\"" URL "\",\"expires_in\":90}"),
	B_BAD("expires_in missing", "{\"ok\":true,\"kind\":\"login\",\"token\":\"" TOKEN
	    "\",\"url\":\"" URL "\",\"code\":\"" CODE "\"}"),
	B_BAD("kind missing", "{\"ok\":true,\"token\":\"" TOKEN "\",\"url\":\"" URL
	    "\",\"code\":\"" CODE "\",\"expires_in\":90}"),
	B_BAD("kind unknown", BEGIN_AS("enroll", URL, "90")),
	B_BAD("kind LOGIN", BEGIN_AS("LOGIN", URL, "90")),
	B_BAD("token empty", "{\"ok\":true,\"kind\":\"login\",\"token\":\"\",\"url\":\"" URL
	    "\",\"code\":\"" CODE "\",\"expires_in\":90}"),
	B_BAD("token with a slash", "{\"ok\":true,\"kind\":\"login\",\"token\":\"ab/cd\",\"url\":\""
	    URL "\",\"code\":\"" CODE "\",\"expires_in\":90}"),
	B_BAD("token a number", "{\"ok\":true,\"kind\":\"login\",\"token\":12345,\"url\":\"" URL
	    "\",\"code\":\"" CODE "\",\"expires_in\":90}"),
	B_BAD("url with a space", BEGIN_AS("login", "http://localhost:8080/l/a b", "90")),
	B_BAD("url with a BEL", BEGIN_AS("login", "http://localhost:8080/l/a\\u0007b", "90")),
	B_BAD("url with ESC", BEGIN_AS("login", "http://localhost:8080/l/\\u001b[2J", "90")),
	B_BAD("url with a newline", BEGIN_AS("login", "http://localhost:8080/l/a\\nb", "90")),
	B_BAD("url with DEL", BEGIN_AS("login", "http://localhost:8080/l/a\\u007fb", "90")),
	B_BAD("url not ASCII", BEGIN_AS("login", "http://localhost:8080/l/\xc3\xa9", "90")),
	B_BAD("url empty", BEGIN_AS("login", "", "90")),
	B_BAD("code with a space", "{\"ok\":true,\"kind\":\"login\",\"token\":\"" TOKEN
	    "\",\"url\":\"" URL "\",\"code\":\"ABC DEF\",\"expires_in\":90}"),
	B_BAD("code with ESC", "{\"ok\":true,\"kind\":\"login\",\"token\":\"" TOKEN
	    "\",\"url\":\"" URL "\",\"code\":\"\\u001b[31m\",\"expires_in\":90}"),
	B_BAD("expires_in 0", BEGIN_AS("login", URL, "0")),
	B_BAD("expires_in -1", BEGIN_AS("login", URL, "-1")),
	B_BAD("expires_in 31 days + 1 s", BEGIN_AS("login", URL, "2678401")),
	B_BAD("expires_in huge", BEGIN_AS("login", URL, "9223372036854775807")),
	B_BAD("expires_in a string", BEGIN_AS("login", URL, "\"90\"")),
	B_BAD("expires_in a real", BEGIN_AS("login", URL, "90.0")),
	B_BAD("expires_in null", BEGIN_AS("login", URL, "null")),
	B_BAD("garbage", "login"),
	B_BAD("a JSON array", "[]"),
	B_BAD("duplicate token", "{\"ok\":true,\"kind\":\"login\",\"token\":\"" TOKEN
	    "\",\"token\":\"other\",\"url\":\"" URL "\",\"code\":\"" CODE "\",\"expires_in\":90}"),
	{ "two lines", BEGIN "\n" REFUSE("no_passkey"), 0, 0, 0, true, PAM_AUTH_ERR, NA },
	{ "closes mid-line", "{\"ok\":true,\"kind\":\"log", 0, 0, RAW | CLOSE, false,
	    PAM_AUTH_ERR, NA },
	{ "closes without answering", "", 0, 0, SILENT | CLOSE, true, PAM_AUTH_ERR, NA },
	{ "expires_in 1", BEGIN_AS("login", URL, "1"), 0, 0, 0, false, PAM_SUCCESS, NULL },
	{ "expires_in 31 days", BEGIN_AS("login", URL, "2678400"), 0, 0, 0, false, PAM_SUCCESS, NULL },
	B_FILL("token of 256 bytes", "{\"ok\":true,\"kind\":\"login\",\"token\":\"%s\",\"url\":\""
	    URL "\",\"code\":\"" CODE "\",\"expires_in\":90}", 256, PAM_SUCCESS),
	B_FILL("token of 257 bytes", "{\"ok\":true,\"kind\":\"login\",\"token\":\"%s\",\"url\":\""
	    URL "\",\"code\":\"" CODE "\",\"expires_in\":90}", 257, PAM_AUTH_ERR),
	B_FILL("url of 2048 bytes", BEGIN_AS("login", "http://h/%s", "90"), 2048 - 9, PAM_SUCCESS),
	B_FILL("url of 2049 bytes", BEGIN_AS("login", "http://h/%s", "90"), 2049 - 9, PAM_AUTH_ERR),
	B_FILL("code of 32 bytes", "{\"ok\":true,\"kind\":\"login\",\"token\":\"" TOKEN
	    "\",\"url\":\"" URL "\",\"code\":\"%s\",\"expires_in\":90}", 32, PAM_SUCCESS),
	B_FILL("code of 33 bytes", "{\"ok\":true,\"kind\":\"login\",\"token\":\"" TOKEN
	    "\",\"url\":\"" URL "\",\"code\":\"%s\",\"expires_in\":90}", 33, PAM_AUTH_ERR),
	{ "a line of 8193 bytes", "{\"ok\":false,\"error\":\"no_passkey\",\"m\":\"%s\"}",
	    0, 8193, 0, true, PAM_AUTH_ERR, NA },
};

static void
test_begin(void **state)
{
	const struct begin_case *b = *state;
	struct run *r = &R;
	bool fill_token = b->fill_len > 0 && strstr(b->answer, "\"token\":\"%s\"") != NULL;

	if (b->fill_len > 0)
		script_fill(r, b->answer, 'a', b->fill_len, b->flags);
	else if (b->fill_to > 0)
		script_fill(r, b->answer, 'a', b->fill_to - (strlen(b->answer) - 2), b->flags);
	else
		script(r, b->answer, b->flags);
	if (b->rc == PAM_SUCCESS)
		script(r, STATE("approved"), 0);
	r->extra = b->nullok ? "nullok" : "";
	run_pam(r);

	expect_rc(r, b->rc);
	expect_told(r, b->told);
	expect_begin(r, me, RHOST, "none");
	if (b->rc != PAM_SUCCESS) {
		expect_ops(r, "login_begin");
		assert_int_equal(r->nprompts, 0);
	} else if (fill_token) {
		assert_int_equal(r->nreqs, 2);	/* the status names the long token */
		assert_string_equal(req_str(r, 1, "op"), "status");
		assert_int_equal(strlen(req_str(r, 1, "token")), b->fill_len);
	} else {
		expect_ops(r, "login_begin", "status");
		assert_int_equal(r->nprompts, 1);
	}
}

/* ------------------------------------------------------------------ */
/* The whole conversation                                              */

/* A typical approval: what is prompted and what is sent. */
static void
test_prompt_and_request(void **state)
{
	struct run *r = &R;

	script(r, BEGIN, 0);
	script(r, STATE("approved"), 0);
	run_pam(r);

	expect_rc(r, PAM_SUCCESS);
	expect_told(r, NULL);
	expect_begin(r, me, RHOST, "none");
	expect_ops(r, "login_begin", "status");
	assert_int_equal(r->nprompts, 1);
	assert_true(strncmp(r->prompts[0], "Approve this login with your passkey:\n", 38) == 0);
	assert_non_null(strstr(r->prompts[0], "\n" URL "\n"));
	assert_non_null(strstr(r->prompts[0], "\ncode: " CODE "\n"));
	assert_non_null(strstr(r->prompts[0], "(expires in 5 s)"));	/* timeout=5 < 90 */
	assert_null(strstr(r->prompts[0], "\xe2\x96"));	/* no QR code by default */
}

/*
 * The heading names the server as the page does ("host" of login_begin),
 * when that is a short host name; anything else is left out, never shown.
 */
static void
test_prompt_names_host(void **state)
{
	static const struct { const char *host, *heading; } cases[] = {
		{ "vm", "Approve this login to vm with your passkey:\n" },
		{ "db7.example.com", "Approve this login to db7.example.com with your passkey:\n" },
		{ "", "Approve this login with your passkey:\n" },
		{ "a b", "Approve this login with your passkey:\n" },
		{ "evil\\u001b[2J", "Approve this login with your passkey:\n" },
		{ "-rf", "Approve this login with your passkey:\n" },
		{ "host-name-of-25-bytes.xyz", "Approve this login with your passkey:\n" },
		{ "host-name-of-24-bytes.xy", "Approve this login to host-name-of-24-bytes.xy with your passkey:\n" },
	};
	struct run *r = &R;
	char begin[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		run_free(r);
		memset(r, 0, sizeof(*r));
		snprintf(begin, sizeof(begin), "{\"ok\":true,\"kind\":\"login\",\"token\":\"" TOKEN
		    "\",\"url\":\"" URL "\",\"code\":\"" CODE "\",\"expires_in\":90,\"host\":\"%s\"}",
		    cases[i].host);
		script(r, begin, 0);
		script(r, STATE("approved"), 0);
		run_pam(r);
		expect_rc(r, PAM_SUCCESS);
		assert_int_equal(r->nprompts, 1);
		if (strncmp(r->prompts[0], cases[i].heading, strlen(cases[i].heading)) != 0)
			fail_msg("host \"%s\": prompt begins \"%.80s\"", cases[i].host, r->prompts[0]);
	}
}

static void
test_register_prompt(void **state)
{
	struct run *r = &R;

	script(r, BEGIN_REG, 0);
	script(r, STATE("approved"), 0);
	run_pam(r);

	expect_rc(r, PAM_SUCCESS);
	expect_told(r, NULL);
	expect_ops(r, "login_begin", "status");
	assert_true(strncmp(r->prompts[0], "Register a passkey for this account:\n", 37) == 0);
	assert_non_null(strstr(r->prompts[0], "\n" RURL "\n"));
}

/* Every option at a valid value: accepted, and enroll= is passed on. */
static void
test_all_options(void **state)
{
	struct run *r = &R;

	script(r, BEGIN, 0);
	script(r, STATE("approved"), 0);
	r->extra = "nullok enroll=pending qr=yes debug";
	r->no_rhost = true;
	run_pam(r);

	expect_rc(r, PAM_SUCCESS);
	expect_told(r, NULL);
	expect_begin(r, me, "", "pending");
	expect_ops(r, "login_begin", "status");
	assert_non_null(strstr(r->prompts[0], "\xe2\x96"));	/* a QR code in half blocks */
	assert_non_null(strstr(r->prompts[0], "\n" URL "\n"));
}

/*
 * flow=info (sshd 10.3+): the link goes out as one info message and the
 * module waits by itself: no prompt at all, no Enter.  Approved after two
 * "pending" answers.
 */
static void
test_info_flow_approved(void **state)
{
	struct run *r = &R;
	int info = -1;

	script(r, BEGIN, 0);
	script(r, STATE("pending"), 0);
	script(r, STATE("pending"), 0);
	script(r, STATE("approved"), 0);
	r->extra = "flow=info";
	run_pam(r);

	expect_rc(r, PAM_SUCCESS);
	assert_int_equal(r->nprompts, 0);
	assert_int_equal(r->nerrors, 0);
	expect_ops(r, "login_begin", "status", "status", "status");
	for (int i = 0; i < r->ninfos; i++)
		if (strstr(r->infos[i], "\n" URL "\n") != NULL)
			info = i;
	assert_int_not_equal(info, -1);
	assert_true(strncmp(r->infos[info], "Approve this login with your passkey:\n", 38) == 0);
	assert_non_null(strstr(r->infos[info], "\ncode: " CODE "\n"));
	assert_non_null(strstr(r->infos[info], "\nWaiting for your approval (expires in 5 s)..."));
	assert_null(strstr(r->infos[info], "Press Enter"));
}

/* flow=info, denied: said at once as an error line, no prompt to press. */
static void
test_info_flow_denied(void **state)
{
	struct run *r = &R;

	script(r, BEGIN, 0);
	script(r, STATE("denied"), 0);
	script(r, STATE("cancelled"), 0);
	r->extra = "flow=info";
	run_pam(r);

	expect_rc(r, PAM_AUTH_ERR);
	assert_int_equal(r->nprompts, 0);
	assert_int_equal(r->nerrors, 1);
	assert_string_equal(r->errors[0], "passkey: login denied in the browser");
	expect_ops(r, "login_begin", "status", "cancel");
}

/* flow=info: the module's own timeout ends the wait, said as an error line. */
static void
test_info_flow_timeout(void **state)
{
	struct run *r = &R;
	int n;

	script(r, BEGIN, 0);
	for (n = 0; n < 5; n++)
		script(r, STATE("pending"), 0);
	script(r, STATE("cancelled"), 0);
	r->extra = "flow=info timeout=1";
	run_pam(r);

	expect_rc(r, PAM_AUTH_ERR);
	assert_int_equal(r->nprompts, 0);
	assert_int_equal(r->nerrors, 1);
	assert_string_equal(r->errors[0], "passkey: the login request timed out");
	/* one status about every 300 ms for a second: 3 or 4, then the cancel */
	assert_true(r->nreqs >= 4 && r->nreqs <= 7);
	assert_string_equal(req_str(r, r->nreqs - 1, "op"), "cancel");
}

/*
 * A request made on the host itself (no PAM_RHOST: su, login, sudo) names
 * who asked: the real uid, its account's name, the terminal without
 * "/dev/".  One over the network does not (expect_begin: six members).
 */
static void
test_requester(void **state)
{
	struct run *r = &R;
	json_t *q;

	script(r, BEGIN, 0);
	script(r, STATE("approved"), 0);
	r->no_rhost = true;
	r->tty = "/dev/pts/7";
	run_pam(r);
	expect_rc(r, PAM_SUCCESS);
	q = json_object_get(req_json(r, 0), "requester");
	assert_true(json_is_object(q));
	assert_int_equal(json_integer_value(json_object_get(q, "uid")), (json_int_t)getuid());
	assert_string_equal(json_string_value(json_object_get(q, "name")), me);
	assert_string_equal(json_string_value(json_object_get(q, "tty")), "pts/7");
	assert_int_equal(json_object_size(q), 3);
}

/* A terminal name that is not plainly one is left out, never sent as it came. */
static void
test_requester_odd_tty(void **state)
{
	struct run *r = &R;
	json_t *q;

	script(r, BEGIN, 0);
	script(r, STATE("approved"), 0);
	r->no_rhost = true;
	r->tty = "pts/7\x1b[2J";
	run_pam(r);
	expect_rc(r, PAM_SUCCESS);
	q = json_object_get(req_json(r, 0), "requester");
	assert_true(json_is_object(q));
	assert_null(json_object_get(q, "tty"));
	assert_int_equal(json_object_size(q), 2);
}

/* Over the network (PAM_RHOST set) the address names the client: no requester. */
static void
test_requester_not_with_rhost(void **state)
{
	struct run *r = &R;

	script(r, BEGIN, 0);
	script(r, STATE("approved"), 0);
	r->tty = "ssh";
	run_pam(r);
	expect_rc(r, PAM_SUCCESS);
	expect_begin(r, me, RHOST, "none");
	assert_null(json_object_get(req_json(r, 0), "requester"));
}

/*
 * sudo's `Defaults pam_rhost` sets PAM_RHOST to the host's own name: who
 * asked is named as with no rhost (passkeyd keeps it when it finds that
 * name to be its host too).  The short name of a full one, in any case,
 * counts; a longer name under the host's does not.
 */
static void
test_requester_with_own_name(void **state)
{
	struct run *r = &R;
	char host[256], upper_short[256], under[300];
	json_t *q;

	assert_int_equal(gethostname(host, sizeof(host)), 0);
	host[sizeof(host) - 1] = '\0';
	snprintf(upper_short, sizeof(upper_short), "%.*s", (int)strcspn(host, "."), host);
	for (char *p = upper_short; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	snprintf(under, sizeof(under), "%s.attacker.example", upper_short);
	for (int i = 0; i < 3; i++) {
		const char *rhost = i == 0 ? host : i == 1 ? upper_short : under;

		run_free(r);
		script(r, BEGIN, 0);
		script(r, STATE("approved"), 0);
		r->rhost = rhost;
		r->tty = "/dev/pts/3";
		run_pam(r);
		expect_rc(r, PAM_SUCCESS);
		q = json_object_get(req_json(r, 0), "requester");
		if (i < 2) {
			assert_true(json_is_object(q));
			assert_int_equal(json_integer_value(json_object_get(q, "uid")),
			    (json_int_t)getuid());
			assert_string_equal(json_string_value(json_object_get(q, "tty")), "pts/3");
		} else {
			assert_null(q);
		}
	}
}

static void
test_enroll_after_auth(void **state)
{
	struct run *r = &R;

	script(r, BEGIN_REG, 0);
	script(r, STATE("approved"), 0);
	r->extra = "enroll=after-auth";
	run_pam(r);

	expect_rc(r, PAM_SUCCESS);
	expect_begin(r, me, RHOST, "after-auth");
	expect_ops(r, "login_begin", "status");
}

/*
 * Pending, pending, approved: three prompts (the later ones say "not
 * approved yet"), three status requests at least a second apart.
 */
static void
test_pending_then_approved(void **state)
{
	struct run *r = &R;

	script(r, BEGIN, 0);
	script(r, "{\"ok\":true,\"state\":\"pending\",\"expires_in\":80}", 0);
	script(r, STATE("pending"), 0);
	script(r, STATE("approved"), 0);
	run_pam(r);

	expect_rc(r, PAM_SUCCESS);
	expect_told(r, NULL);
	expect_ops(r, "login_begin", "status", "status", "status");
	assert_int_equal(r->nprompts, 3);
	assert_true(strncmp(r->prompts[0], "Approve this login", 18) == 0);
	for (int i = 1; i < 3; i++) {
		assert_true(strncmp(r->prompts[i], "Not approved yet. ", 18) == 0);
		assert_non_null(strstr(r->prompts[i], "\n" URL "\n"));
		assert_non_null(strstr(r->prompts[i], "\ncode: " CODE "\n"));
		assert_non_null(strstr(r->prompts[i], " s left)"));
	}
	/* paced: a conversation answering at once does not flood the daemon */
	for (int i = 2; i < 4; i++)
		if (r->reqs[i].ms - r->reqs[i - 1].ms < 900)
			fail_msg("status %d came %lld ms after the one before", i,
			    r->reqs[i].ms - r->reqs[i - 1].ms);
}

static void
test_pending_then_denied(void **state)
{
	struct run *r = &R;

	script(r, BEGIN, 0);
	script(r, STATE("pending"), 0);
	script(r, STATE("denied"), 0);
	script(r, STATE("cancelled"), 0);
	run_pam(r);

	expect_rc(r, PAM_AUTH_ERR);
	expect_outcome(r, "passkey: login denied in the browser");
	expect_ops(r, "login_begin", "status", "status", "cancel");
	assert_int_equal(r->nprompts, 3);
}

/*
 * The ceremony's own expiry (1 s) ends the wait: the user took 50 ms to
 * press Enter, so less than a second is left after the first "pending":
 * timed out, cancelled.
 */
static void
test_timeout_by_expiry(void **state)
{
	struct run *r = &R;

	script(r, BEGIN_AS("login", URL, "1"), 0);
	script(r, STATE("pending"), 0);
	script(r, STATE("cancelled"), 0);
	r->conv_delay_ms = 50;
	run_pam(r);

	expect_rc(r, PAM_AUTH_ERR);
	expect_told(r, "passkey: the login request timed out");
	expect_ops(r, "login_begin", "status", "cancel");
	assert_int_equal(r->nprompts, 1);
	assert_non_null(strstr(r->prompts[0], "(expires in 1 s)"));
}

/* The same with the module's own timeout=1 and a ceremony of 90 s. */
static void
test_timeout_by_option(void **state)
{
	struct run *r = &R;

	script(r, BEGIN, 0);
	script(r, STATE("pending"), 0);
	script(r, STATE("cancelled"), 0);
	r->conv_delay_ms = 50;
	r->extra = "timeout=1";
	run_pam(r);

	expect_rc(r, PAM_AUTH_ERR);
	expect_told(r, "passkey: the login request timed out");
	expect_ops(r, "login_begin", "status", "cancel");
	assert_int_equal(r->nprompts, 1);
	assert_non_null(strstr(r->prompts[0], "(expires in 1 s)"));
}

/*
 * The module's own timeout=1 is over when Enter comes (1.2 s): the
 * approval the daemon would give is not asked for, the ceremony is
 * cancelled.  Before, the status came first and an approval given after
 * the module's timeout let the login in.
 */
static void
test_timeout_by_option_late_approval(void **state)
{
	struct run *r = &R;

	script(r, BEGIN, 0);
	script(r, STATE("cancelled"), 0);
	r->conv_delay_ms = 1200;
	r->extra = "timeout=1";
	run_pam(r);

	expect_rc(r, PAM_AUTH_ERR);
	expect_told(r, "passkey: the login request timed out");
	expect_ops(r, "login_begin", "cancel");
}

/* Control: the same Enter within timeout=2 collects the approval. */
static void
test_timeout_by_option_in_time(void **state)
{
	struct run *r = &R;

	script(r, BEGIN, 0);
	script(r, STATE("approved"), 0);
	r->conv_delay_ms = 1200;
	r->extra = "timeout=2";
	run_pam(r);

	expect_rc(r, PAM_SUCCESS);
	expect_ops(r, "login_begin", "status");
}

/*
 * When the ceremony's life (1 s here) is shorter than the module's
 * timeout, passkeyd's expiry decides: an approval given in time counts
 * though Enter comes after the second.
 */
static void
test_late_enter_ceremony_bound(void **state)
{
	struct run *r = &R;

	script(r, BEGIN_AS("login", URL, "1"), 0);
	script(r, STATE("approved"), 0);
	r->conv_delay_ms = 1200;
	run_pam(r);

	expect_rc(r, PAM_SUCCESS);
	expect_ops(r, "login_begin", "status");
}

/* The daemon says no time is left: the module believes it. */
static void
test_timeout_by_status(void **state)
{
	struct run *r = &R;

	script(r, BEGIN_REG, 0);
	script(r, "{\"ok\":true,\"state\":\"pending\",\"expires_in\":0}", 0);
	script(r, STATE("cancelled"), 0);
	run_pam(r);

	expect_rc(r, PAM_AUTH_ERR);
	expect_told(r, "passkey: the registration request timed out");
	expect_ops(r, "login_begin", "status", "cancel");
}

/* A daemon that never answers costs the module's I/O timeout (5 s), no more. */
static void
test_status_never_answered(void **state)
{
	struct run *r = &R;

	script(r, BEGIN, 0);
	script(r, NULL, SILENT);
	run_pam(r);

	expect_rc(r, PAM_AUTH_ERR);
	expect_told(r, NA);
	expect_ops(r, "login_begin", "status");
	if (r->ms < 4500 || r->ms > 12000)
		fail_msg("the module waited %lld ms for an answer", r->ms);
}

static void
test_conv_fails_first(void **state)
{
	struct run *r = &R;

	script(r, BEGIN, 0);
	script(r, STATE("cancelled"), 0);
	r->conv_fail_at = 1;
	run_pam(r);

	expect_rc(r, PAM_AUTH_ERR);
	expect_told(r, NULL);
	expect_ops(r, "login_begin", "cancel");
}

static void
test_conv_fails_later(void **state)
{
	struct run *r = &R;

	script(r, BEGIN, 0);
	script(r, STATE("pending"), 0);
	script(r, STATE("cancelled"), 0);
	r->conv_fail_at = 2;
	run_pam(r);

	expect_rc(r, PAM_AUTH_ERR);
	expect_told(r, NULL);
	expect_ops(r, "login_begin", "status", "cancel");
	assert_int_equal(r->nprompts, 2);
}

/* PAM_SUCCESS with no answer is a broken conversation too. */
static void
test_conv_no_response(void **state)
{
	struct run *r = &R;

	script(r, BEGIN, 0);
	script(r, STATE("cancelled"), 0);
	r->conv_no_resp = true;
	run_pam(r);

	expect_rc(r, PAM_AUTH_ERR);
	expect_told(r, NULL);
	expect_ops(r, "login_begin", "cancel");
}

/* The cancel's own answer does not matter, not even a refusal. */
static void
test_cancel_refused(void **state)
{
	struct run *r = &R;

	script(r, BEGIN, 0);
	script(r, STATE("denied"), 0);
	script(r, REFUSE("unknown_ceremony"), 0);
	run_pam(r);

	expect_rc(r, PAM_AUTH_ERR);
	expect_outcome(r, "passkey: login denied in the browser");
	expect_ops(r, "login_begin", "status", "cancel");
}

/* ------------------------------------------------------------------ */
/* The daemon's socket                                                 */

static void
test_no_daemon(void **state)
{
	struct run *r = &R;

	r->peer = PEER_NONE;
	run_pam(r);
	expect_rc(r, PAM_AUTH_ERR);
	expect_told(r, NA);
	assert_int_equal(r->nprompts, 0);
}

static void
test_stale_socket(void **state)
{
	struct run *r = &R;

	r->peer = PEER_STALE;
	run_pam(r);
	expect_rc(r, PAM_AUTH_ERR);
	expect_told(r, NA);
	assert_int_equal(r->nprompts, 0);
}

static void
test_nullok_no_daemon(void **state)
{
	struct run *r = &R;

	r->peer = PEER_NONE;
	r->extra = "nullok";
	run_pam(r);
	expect_rc(r, PAM_AUTH_ERR);	/* no daemon is no reason to skip the passkey */
	expect_told(r, NA);
}

/*
 * Served by neither root nor daemon_user: the module connects, sees the
 * peer's uid and hangs up without a word.  (As root the peer drops to
 * uid 65534 and daemon_user is root; otherwise the peer is us and
 * daemon_user another account.)
 */
static void
test_foreign_daemon(void **state)
{
	struct run *r = &R;
	const char *other = other_account();

	if (other == NULL)
		skip();
	r->peer = PEER_FOREIGN;
	r->daemon_user = other;
	run_pam(r);
	expect_rc(r, PAM_AUTH_ERR);
	expect_told(r, NA);
	assert_int_equal(r->foreign_bytes, 0);
	assert_int_equal(r->nprompts, 0);
}

/* daemon_user naming no account: only root may serve the socket then. */
static void
test_daemon_user_unknown(void **state)
{
	struct run *r = &R;

	script(r, BEGIN, 0);
	script(r, STATE("approved"), 0);
	r->daemon_user = "pk-no-such-daemon";
	run_pam(r);
	if (geteuid() == 0) {
		expect_rc(r, PAM_SUCCESS);
		expect_ops(r, "login_begin", "status");
	} else {
		expect_rc(r, PAM_AUTH_ERR);
		expect_told(r, NA);
		/* connected, then hung up before a request */
		assert_int_equal(r->nreqs, 0);
	}
}

/* ------------------------------------------------------------------ */
/* Re-approval windows                                                 */

#define KEY_A	"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOmJx9jHx0Nc2o3xRk7hTQ3yE3vYF1lZl2QwxJbTq5k1"
#define REUSED	"{\"ok\":true,\"kind\":\"reused\",\"window\":\"0123456789abcdef\"," \
	"\"source\":\"AbC-12\",\"expires_in\":290,\"host\":\"h\"}"

/*
 * reuse=: the request asks for a window and names the client by the key
 * sshd exposed (the last publickey line); a "reused" answer lets the
 * login in at once, with no prompt and no status round.
 */
static void
test_reuse_answered(void **state)
{
	struct run *r = &R;

	script(r, REUSED, 0);
	r->extra = "reuse=300";
	r->auth_info = "publickey ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQC=\npublickey " KEY_A "\n";
	run_pam(r);

	expect_rc(r, PAM_SUCCESS);
	expect_ops(r, "login_begin");
	assert_int_equal(r->nprompts, 0);
	assert_int_equal(json_integer_value(json_object_get(req_json(r, 0), "reuse")), 300);
	assert_string_equal(req_str(r, 0, "reuse_key"), "required");
	assert_string_equal(req_str(r, 0, "client_key"), KEY_A);
}

/* No key from sshd (or not plainly one): the request carries none; a ceremony follows. */
static void
test_reuse_without_key(void **state)
{
	struct run *r = &R;

	script(r, BEGIN, 0);
	script(r, STATE("approved"), 0);
	r->extra = "reuse=60 reuse_key=optional";
	r->auth_info = "keyboard-interactive\npublickey ssh-ed25519 AAAA$(x)\n";
	run_pam(r);

	expect_rc(r, PAM_SUCCESS);
	expect_ops(r, "login_begin", "status");
	assert_string_equal(req_str(r, 0, "reuse_key"), "optional");
	assert_null(json_object_get(req_json(r, 0), "client_key"));
}

/* A "reused" answer that is not plainly one fails closed. */
static void
test_reuse_bad_answer(void **state)
{
	struct run *r = &R;

	script(r, "{\"ok\":true,\"kind\":\"reused\",\"window\":\"a b\",\"source\":\"x\"}", 0);
	r->extra = "reuse=60 reuse_key=optional";
	run_pam(r);

	expect_rc(r, PAM_AUTH_ERR);
	expect_told(r, NA);
}

/*
 * A "reused" answer the module did not ask for (no reuse=), or one that
 * would need a client key the request did not carry: not understood,
 * fail closed.
 */
static void
test_reuse_not_asked(void **state)
{
	struct run *r = &R;

	script(r, REUSED, 0);
	run_pam(r);
	expect_rc(r, PAM_AUTH_ERR);
	expect_told(r, NA);
	expect_ops(r, "login_begin");
}

static void
test_reuse_without_key_refused(void **state)
{
	struct run *r = &R;

	script(r, REUSED, 0);
	r->extra = "reuse=60";
	run_pam(r);
	expect_rc(r, PAM_AUTH_ERR);
	expect_told(r, NA);
	assert_null(json_object_get(req_json(r, 0), "client_key"));
}

/* ------------------------------------------------------------------ */
/* Options                                                             */

static const char *const bad_options[] = {
	"nullokk", "NULLOK", "nullok=1", "debug=yes", "socket", "socket=", "socket=relative/c.sock",
	"socket=/" A64 A64, "timeout=0", "timeout=-1", "timeout=", "timeout=5s", "timeout=3601",
	"timeout=+5", "timeout=99999999999999999999", "enroll=", "enroll=always", "enroll=NONE",
	"qr=", "qr=maybe", "qr=YES", "flow=", "flow=INFO", "flow=auto", "flow", "daemon_user=", "daemon_user=a/b", "daemon_user=" A64 "a",
	"timeout", "=", "sockets=/tmp/x", "reuse=", "reuse=-1", "reuse=604801", "reuse=1h",
	"reuse_key=", "reuse_key=maybe", "reuse_key=REQUIRED", "reuse",
	/* each valid alone, given twice: the last would win */
	"reuse=60 reuse_key=required reuse_key=optional", "nullok nullok", "timeout=60 timeout=1",
	"qr=yes qr=no", "flow=info flow=prompt", "enroll=none enroll=pending",
	"debug debug", "qr=no qr=no", "reuse=0 reuse=60",
};

static void
test_bad_option(void **state)
{
	const char *opt = *state;
	struct run *r = &R;

	script(r, BEGIN, 0);
	script(r, STATE("approved"), 0);
	r->extra = opt;
	run_pam(r);
	expect_rc(r, PAM_SERVICE_ERR);
	expect_told(r, NULL);
	expect_no_request(r);
	assert_int_equal(r->nprompts, 0);
}

/* ------------------------------------------------------------------ */
/* User names                                                          */

struct name_case {
	const char *name;
	const char *user;
	bool nullok;
};

static const struct name_case bad_names[] = {
	{ "control character", "ro\x01ot", false },
	{ "control character, nullok", "ro\x01ot", true },
	{ "ESC", "\x1b[31mroot", false },
	{ "newline", "root\n", false },
	{ "C1 CSI", "root\xc2\x9b", false },
	{ "bidi override", "ro\xe2\x80\xaeot", false },
	{ "invalid UTF-8", "root\xff", false },
	{ "invalid UTF-8, nullok", "root\xff", true },
	{ "slash", "a/b", false },
	{ "slash, nullok", "a/b", true },
	{ "dot dot slash", "../root", false },
	{ "65 bytes", A64 "a", false },
	{ "65 bytes, nullok", A64 "a", true },
	{ "empty", "", false },
	{ "no such account", "pk-no-such-user", false },
	{ "no such account, nullok", "pk-no-such-user", true },
	{ "64 bytes, no such account", A64, false },
};

/* Nothing is asked of the daemon; the user hears "no passkey" (or nothing, nullok). */
static void
test_bad_name(void **state)
{
	const struct name_case *n = *state;
	struct run *r = &R;

	script(r, BEGIN, 0);
	script(r, STATE("approved"), 0);
	r->user = n->user;
	r->extra = n->nullok ? "nullok" : "";
	run_pam(r);
	expect_rc(r, n->nullok ? PAM_IGNORE : PAM_AUTH_ERR);
	expect_told(r, n->nullok ? NULL : NOPK);
	expect_no_request(r);
	assert_int_equal(r->nprompts, 0);
}

/*
 * With a case-sensitive NSS (files), the upper-case spelling of an
 * account is no account: no request.
 */
static void
test_upper_case_name(void **state)
{
	struct run *r = &R;
	struct passwd pw, *res = NULL;
	char upper[sizeof(me)], buf[1024];
	bool differs = false;

	for (size_t i = 0; i < sizeof(upper); i++) {
		upper[i] = (char)(me[i] >= 'a' && me[i] <= 'z' ? me[i] - 'a' + 'A' : me[i]);
		differs |= upper[i] != me[i];
	}
	if (!differs || (getpwnam_r(upper, &pw, buf, sizeof(buf), &res) == 0 && res != NULL))
		skip();		/* no lower case, or this host's NSS folds case */
	script(r, BEGIN, 0);
	script(r, STATE("approved"), 0);
	r->user = upper;
	run_pam(r);
	expect_rc(r, PAM_AUTH_ERR);
	expect_told(r, NOPK);
	expect_no_request(r);
}

/* ------------------------------------------------------------------ */
/* User names through a case-insensitive NSS (nss_casefold.c)          */

struct fold_case {
	const char *user;	/* typed */
	const char *sent;	/* the account's name, or NULL: no account */
	bool nullok;
	bool too_long;		/* over 1024 bytes: never looked up, fails closed */
	bool failed;		/* NSS failed: closed, nullok or not */
};

static const struct fold_case folds[] = {
	{ "alice", "alice", false, false, false },
	{ "ALICE", "alice", false, false, false },
	{ "Alice", "alice", false, false, false },
	{ "alice ", "alice", false, false, false },
	{ "ALICE   ", "alice", false, false, false },
	{ "carol", "Carol", false, false, false },	/* the directory's spelling, not lower case */
	{ "CAROL ", "Carol", false, false, false },
	{ "PKDAEMON", NULL, false, false, false },	/* files: case-sensitive */
	/* nss_wrapper says "not found" with ENOENT, as an unavailable module can */
	{ "PKDAEMON", NULL, true, false, true },
	{ "DAEMONX", NULL, false, false, false },
	{ "mallory", NULL, false, false, false },	/* resolves to "mal/lory": no valid name */
	{ "MALLORY", NULL, true, false, false },
	/* no valid name as typed, so looked up as sshd does: the account's name is used */
	{ "ALICE\x01", NULL, false, false, false },
	{ "alice\x1b", NULL, true, false, true },	/* ENOENT, as "PKDAEMON" above */
	{ "alice/", NULL, false, false, false },
	{ A64 " ", NULL, false, false, false },
	{ "alice" SP60, "alice", true, false, false },	/* 65 bytes: was PAM_IGNORE */
	{ "ALICE" SP60 SP60, "alice", false, false, false },
	{ "alice" SP1020, NULL, true, true, false },
	{ "alice" SP1020, NULL, false, true, false },
	{ "BIGENTRY", "bigentry", false, false, false },	/* asked again with a bigger buffer */
	{ "broken", NULL, false, false, true },		/* the directory is down */
	{ "broken", NULL, true, false, true },
	{ "nslcd-down", NULL, false, false, false },	/* said as "no account", not ignored */
	{ "nslcd-down", NULL, true, false, true },
};

static unsigned (*nss_lookups)(void);	/* nss_casefold.c's counter */

static void
test_fold(void **state)
{
	const struct fold_case *f = *state;
	struct run *r = &R;
	unsigned before = nss_lookups();

	script(r, BEGIN, 0);
	script(r, STATE("approved"), 0);
	r->user = f->user;
	r->extra = f->nullok ? "nullok" : "";
	run_pam(r);
	if (f->sent != NULL) {
		expect_rc(r, PAM_SUCCESS);
		expect_told(r, NULL);
		expect_begin(r, f->sent, RHOST, "none");
		expect_ops(r, "login_begin", "status");
	} else if (f->failed || f->too_long) {
		expect_rc(r, PAM_AUTH_ERR);
		expect_told(r, f->too_long ? NOPK : NA);
		expect_no_request(r);
	} else {
		expect_rc(r, f->nullok ? PAM_IGNORE : PAM_AUTH_ERR);
		expect_told(r, f->nullok ? NULL : NOPK);
		expect_no_request(r);
	}
	if (f->too_long)
		assert_int_equal(nss_lookups(), before);
	else
		assert_true(nss_lookups() > before);
}

/* ------------------------------------------------------------------ */

struct tests {
	struct CMUnitTest *t;
	size_t n, cap;
	char *names[512];
	size_t nnames;
};

static void
add(struct tests *ts, const char *name, CMUnitTestFunction f, const void *arg)
{
	if (ts->n == ts->cap) {
		ts->cap = ts->cap ? ts->cap * 2 : 64;
		ts->t = realloc(ts->t, ts->cap * sizeof(*ts->t));
		if (ts->t == NULL)
			abort();
	}
	ts->t[ts->n++] = (struct CMUnitTest){ name, f, setup, teardown, (void *)arg };
}

static void addf(struct tests *, CMUnitTestFunction, const void *, const char *, ...)
    __attribute__((format(printf, 4, 5)));

static void
addf(struct tests *ts, CMUnitTestFunction f, const void *arg, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0 || ts->nnames == 512)
		abort();
	va_end(ap);
	ts->names[ts->nnames++] = s;
	add(ts, s, f, arg);
}

static int
run_group(const char *group, struct tests *ts)
{
	int fails = _cmocka_run_group_tests(group, ts->t, ts->n, NULL, NULL);

	for (size_t i = 0; i < ts->nnames; i++)
		free(ts->names[i]);
	free(ts->t);
	return fails;
}

/* A printable label for a user name in a test's name. */
static const char *
label(const char *s, char *out, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (; *s != '\0' && o + 5 < len; s++) {
		unsigned char c = (unsigned char)*s;

		if (c > 0x20 && c < 0x7f) {
			out[o++] = (char)c;
			continue;
		}
		out[o++] = '\\';
		out[o++] = 'x';
		out[o++] = hex[c >> 4];
		out[o++] = hex[c & 15];
	}
	out[o] = '\0';
	return out;
}

static int
plain_main(void)
{
	struct passwd pw, *res = NULL;
	struct tests ts = { 0 };
	char buf[1024];

	if (getpwuid_r(getuid(), &pw, buf, sizeof(buf), &res) != 0 || res == NULL) {
		fprintf(stderr, "test_pam_module: uid %u has no account name: skipped\n",
		    (unsigned)getuid());
		return 77;
	}
	snprintf(me, sizeof(me), "%s", res->pw_name);

	for (size_t i = 0; i < sizeof(verdicts) / sizeof(verdicts[0]); i++)
		addf(&ts, test_verdict, &verdicts[i], "verdict: %s", verdicts[i].name);
	for (size_t i = 0; i < sizeof(begins) / sizeof(begins[0]); i++)
		addf(&ts, test_begin, &begins[i], "login_begin: %s", begins[i].name);
	add(&ts, "prompt and request", test_prompt_and_request, NULL);
	add(&ts, "register prompt", test_register_prompt, NULL);
	add(&ts, "prompt names the host", test_prompt_names_host, NULL);
	add(&ts, "all options", test_all_options, NULL);
	add(&ts, "reuse: a window's answer lets in at once", test_reuse_answered, NULL);
	add(&ts, "reuse: no plain key, none sent", test_reuse_without_key, NULL);
	add(&ts, "reuse: a bad reused answer fails closed", test_reuse_bad_answer, NULL);
	add(&ts, "reuse: a reused answer not asked for fails closed", test_reuse_not_asked, NULL);
	add(&ts, "reuse: a reused answer without the required key fails closed",
	    test_reuse_without_key_refused, NULL);
	add(&ts, "enroll=after-auth", test_enroll_after_auth, NULL);
	add(&ts, "requester: a request made on the host names who asked", test_requester, NULL);
	add(&ts, "requester: an odd PAM_TTY is left out", test_requester_odd_tty, NULL);
	add(&ts, "requester: none over the network", test_requester_not_with_rhost, NULL);
	add(&ts, "requester: with the host's own name as rhost (sudo pam_rhost)",
	    test_requester_with_own_name, NULL);
	add(&ts, "flow=info: approved, no prompt", test_info_flow_approved, NULL);
	add(&ts, "flow=info: denied", test_info_flow_denied, NULL);
	add(&ts, "flow=info: the module's timeout", test_info_flow_timeout, NULL);
	add(&ts, "pending, pending, approved", test_pending_then_approved, NULL);
	add(&ts, "pending, denied", test_pending_then_denied, NULL);
	add(&ts, "timeout by expiry", test_timeout_by_expiry, NULL);
	add(&ts, "timeout by the timeout option", test_timeout_by_option, NULL);
	add(&ts, "timeout option over: a late approval is not collected",
	    test_timeout_by_option_late_approval, NULL);
	add(&ts, "timeout option: Enter in time collects the approval",
	    test_timeout_by_option_in_time, NULL);
	add(&ts, "ceremony-bound: a late Enter after a timely approval counts",
	    test_late_enter_ceremony_bound, NULL);
	add(&ts, "timeout by status", test_timeout_by_status, NULL);
	add(&ts, "status never answered", test_status_never_answered, NULL);
	add(&ts, "conversation fails at once", test_conv_fails_first, NULL);
	add(&ts, "conversation fails later", test_conv_fails_later, NULL);
	add(&ts, "conversation without response", test_conv_no_response, NULL);
	add(&ts, "cancel refused", test_cancel_refused, NULL);
	add(&ts, "no daemon", test_no_daemon, NULL);
	add(&ts, "stale socket", test_stale_socket, NULL);
	add(&ts, "no daemon, nullok", test_nullok_no_daemon, NULL);
	add(&ts, "socket served by another uid", test_foreign_daemon, NULL);
	add(&ts, "daemon_user without account", test_daemon_user_unknown, NULL);
	for (size_t i = 0; i < sizeof(bad_options) / sizeof(bad_options[0]); i++)
		addf(&ts, test_bad_option, bad_options[i], "bad option: %.40s", bad_options[i]);
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++)
		addf(&ts, test_bad_name, &bad_names[i], "user name: %s", bad_names[i].name);
	add(&ts, "user name: upper case, case-sensitive NSS", test_upper_case_name, NULL);
	return run_group("pam_passkey.so", &ts);
}

/*
 * nss_wrapper reads its variables at its first call: set them before any
 * NSS function runs.  Its files hold one account, pkdaemon, with our uid
 * (the daemon_user); nss_casefold.c adds alice, Carol and mallory.
 */
static int
casefold_main(void)
{
	struct passwd pw, *res = NULL;
	struct tests ts = { 0 };
	char path[192], buf[1024], l[96];
	void *nss;
	FILE *f;
	int rc;

	if (dlsym(RTLD_DEFAULT, "nss_wrapper_enabled") == NULL) {
		fprintf(stderr, "test_pam_module: nss_wrapper is not preloaded: skipped\n");
		return 77;
	}
	snprintf(path, sizeof(path), "%s/passwd", dir);
	if ((f = fopen(path, "w")) == NULL)
		return 1;
	fprintf(f, "pkdaemon:x:%u:%u:test daemon:/nonexistent:/bin/false\n",
	    (unsigned)getuid(), (unsigned)getgid());
	fclose(f);
	setenv("NSS_WRAPPER_PASSWD", path, 1);
	snprintf(path, sizeof(path), "%s/group", dir);
	if ((f = fopen(path, "w")) == NULL)
		return 1;
	fprintf(f, "pkdaemon:x:%u:\n", (unsigned)getgid());
	fclose(f);
	setenv("NSS_WRAPPER_GROUP", path, 1);
	snprintf(me, sizeof(me), "pkdaemon");

	/* the set-up itself: nss_wrapper answers, and the module folds case */
	if (getpwnam_r("ALICE ", &pw, buf, sizeof(buf), &res) != 0 || res == NULL ||
	    strcmp(res->pw_name, "alice") != 0 ||
	    getpwnam_r("pkdaemon", &pw, buf, sizeof(buf), &res) != 0 || res == NULL ||
	    res->pw_uid != getuid()) {
		fprintf(stderr, "test_pam_module: nss_wrapper with nss_casefold does not "
		    "answer (NSS_WRAPPER_MODULE_SO_PATH, NSS_WRAPPER_MODULE_FN_PREFIX)\n");
		return 1;
	}
	/* loaded by nss_wrapper by now; this only finds it */
	if ((nss = dlopen(getenv("NSS_WRAPPER_MODULE_SO_PATH"), RTLD_NOW | RTLD_NOLOAD)) == NULL ||
	    (*(void **)&nss_lookups = dlsym(nss, "nss_casefold_lookups")) == NULL) {
		fprintf(stderr, "test_pam_module: nss_casefold_lookups not found\n");
		return 1;
	}
	for (size_t i = 0; i < sizeof(folds) / sizeof(folds[0]); i++)
		addf(&ts, test_fold, &folds[i], "case-insensitive NSS: \"%s\"%s -> %s",
		    label(folds[i].user, l, sizeof(l)), folds[i].nullok ? " (nullok)" : "",
		    folds[i].sent != NULL ? folds[i].sent :
		    folds[i].failed || folds[i].too_long ? "fails closed" :
		    "no account");
	rc = run_group("pam_passkey.so, case-insensitive NSS", &ts);
	dlclose(nss);
	return rc;
}

int
main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "plain";
	void *keep;
	int rc;

	signal(SIGPIPE, SIG_IGN);
	if (getenv("TEST_FILTER") != NULL)	/* e.g. TEST_FILTER='verdict: *' */
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	module_path = getenv("PAM_PASSKEY_MODULE");
	if (module_path == NULL || module_path[0] != '/') {
		fprintf(stderr, "test_pam_module: set PAM_PASSKEY_MODULE to the module's "
		    "absolute path\n");
		return 1;
	}
	snprintf(dir, sizeof(dir), "/tmp/pk-pam-test.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(sock_path, sizeof(sock_path), "%s/c.sock", dir);
	/*
	 * Held loaded across the cases: libpam's dlopen and dlclose of each
	 * case then only count references, which keeps valgrind's run short
	 * (it reads a library's symbols at every load).
	 */
	keep = dlopen(module_path, RTLD_NOW);
	if (strcmp(mode, "casefold") == 0)
		rc = casefold_main();
	else if (strcmp(mode, "plain") == 0)
		rc = plain_main();
	else {
		fprintf(stderr, "usage: test_pam_module [plain|casefold]\n");
		rc = 2;
	}
	{
		char path[192];
		const char *files[] = { SERVICE, "passwd", "group", "c.sock" };

		for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
			snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
			unlink(path);
		}
		rmdir(dir);
	}
	if (keep != NULL)
		dlclose(keep);
	return rc;
}
