/*
 * The control operations: the table that says, per request, who may call
 * it and how often, and the ceremony ops (begin, status, cancel, enroll).
 * The passkey management ops are in manage.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addrkey.h"
#include "client_key.h"
#include "clock.h"
#include "config.h"
#include "control_ops.h"
#include "ctl_text.h"
#include "flow.h"
#include "manage.h"
#include "offload.h"
#include "sessions.h"
#include "text.h"

/* Who may call an op. */
enum op_who {
	WHO_ROOT,	/* uid 0 only */
	WHO_SELF,	/* any uid with an account, for that account (root: anyone) */
	WHO_OWNER,	/* root, or the uid that owns the ceremony "token" names */
	WHO_ANY,	/* any uid */
};

/* Per-account budgets of non-root callers (root is not limited). */
enum op_rate { RATE_POLL, RATE_READ, RATE_WRITE, RATE_BEGIN };

static const struct rate_rule rate_rules[RATE_CLASSES] = {
	[RATE_POLL] = { 20.0, 60.0 },	/* status, cancel, ping */
	[RATE_READ] = { 10.0, 50.0 },	/* list, events, export */
	[RATE_WRITE] = { 5.0, 20.0 },	/* rename, remove */
	[RATE_BEGIN] = { 2.0, 20.0 },	/* register_begin */
};

typedef json_t *(*op_fn)(struct op_ctx *);

/* The loop's share for reads for people (share.h): who waits. */
enum op_share {
	SHARE_NONE,
	SHARE_WAITS,	/* a read for a person: runs while the share lasts */
};

struct control_op {
	const char *name;
	enum op_who who;
	enum op_rate rate;
	enum op_share share;
	op_fn run;
};

json_t *
op_ok(void)
{
	return json_pack("{s:b}", "ok", 1);
}

json_t *
op_refuse(enum ctl_refusal r)
{
	return ctl_refusal_json(r);
}

json_t *
op_defer_write(struct op_ctx *x, struct control_reply **reply, journal_apply_fn apply,
    journal_done_fn done, void *arg)
{
	if ((*reply = control_defer(x->call)) == NULL)
		return op_refuse(CTL_REFUSAL_INTERNAL_ERROR);
	if (journal_add(x->d->journal, apply, done, arg) != 0) {
		control_undefer(x->call, *reply);
		*reply = NULL;
		return op_refuse(CTL_REFUSAL_STORE_BUSY);
	}
	return NULL;
}

static enum share_who
share_who(uid_t uid)
{
	return uid == 0 ? SHARE_ROOT : SHARE_USERS;
}

/* A read handed off: its answer waits for it (op_read). */
struct read_later {
	op_read_fn read;
	op_answer_fn answer;
	void *arg;
	struct control_reply *reply;
	enum share_who who;
};

static store_err_t
read_later_call(store_t *st, void *arg)
{
	struct read_later *l = arg;

	return l->read(st, l->arg);
}

/* On the loop: the answer, sent to the client if it is still there. */
static json_t *
answer_of(struct passkeyd *d, op_answer_fn answer, void *arg, store_err_t result,
    char **text)
{
	json_t *out;

	*text = NULL;
	out = answer(d, arg, result, text);
	if (out == NULL && *text == NULL)
		out = op_refuse(CTL_REFUSAL_INTERNAL_ERROR);
	return out;
}

static void
read_later_done(struct passkeyd *d, void *arg, store_err_t result)
{
	struct read_later *l = arg;
	int64_t t0 = clock_monotonic_us();
	char *text;
	json_t *out = answer_of(d, l->answer, l->arg, result, &text);

	/* the loop's part: the share measures the loop's time (share.h) */
	share_charge(&d->manage_share, l->who, clock_monotonic_us() - t0);
	if (out == NULL)
		control_answer_text(l->reply, text);
	else
		control_answer(l->reply, out);
	free(l);
}

json_t *
op_read(struct op_ctx *x, op_read_fn read, op_answer_fn answer, void *arg)
{
	struct read_later *l;

	if (x->d->fleet && offload_ready(x->d->offload) &&
	    (l = calloc(1, sizeof(*l))) != NULL) {
		*l = (struct read_later){ .read = read, .answer = answer, .arg = arg,
		    .who = share_who(x->uid) };
		if ((l->reply = control_defer(x->call)) != NULL &&
		    offload_add(x->d->offload, read_later_call, read_later_done, l) == 0)
			return NULL;
		if (l->reply != NULL)
			control_undefer(x->call, l->reply);
		free(l);
	}
	return answer_of(x->d, answer, arg, read(x->d->store, arg), &x->call->text);
}

/*
 * The account a name resolves to, as the system spells it (pw_name): a
 * case-insensitive NSS (SSSD, winbind) maps "DAEMON" to "daemon", and the
 * passkeys checked must be the account's, whatever the client typed.
 */
enum ctl_refusal
op_account_unsure(const struct op_ctx *x, const char *name, char out[CTL_USER_MAX + 1],
    int *unsure)
{
	out[0] = '\0';
	*unsure = 0;
	if (!ctl_user_name_valid(name))
		return CTL_REFUSAL_BAD_REQUEST;
	switch (control_account(x->call, name, out)) {
	case ACCOUNT_NAME_KNOWN:
		return out[0] != '\0' ? CTL_REFUSAL_NONE : CTL_REFUSAL_UNKNOWN_USER;
	case ACCOUNT_NAME_UNSURE:
		*unsure = 1;
		return CTL_REFUSAL_UNKNOWN_USER;	/* fails closed: nobody to act for */
	case ACCOUNT_NAME_WAIT:
		return CTL_REFUSAL_NONE;	/* x->call->needs_account: not run yet */
	case ACCOUNT_NAME_BUSY:
		break;
	}
	*unsure = 1;
	return CTL_REFUSAL_DIRECTORY_BUSY;
}

enum ctl_refusal
op_account(const struct op_ctx *x, const char *name, char out[CTL_USER_MAX + 1])
{
	int unsure;

	return op_account_unsure(x, name, out, &unsure);
}

static const char *
str(json_t *req, const char *key)
{
	return json_string_value(json_object_get(req, key));
}

/*
 * The account login_begin names.  The PAM module has resolved it through
 * NSS already, in sshd's process for this one connection, and sends
 * pw_name with "resolved": true.  Looking it up again here would put the
 * directory's time on the loop: with a slow directory, unauthenticated
 * clients naming real accounts would hold the loop in NSS and stall every
 * other login on the host.  Only root may begin a login, and root's
 * lookup in its own process is as good as ours.  A caller that does not
 * say so (an older module, a tool) has the name resolved here, as enroll
 * does.
 */
static enum ctl_refusal
begin_user(struct op_ctx *x, char out[CTL_USER_MAX + 1])
{
	json_t *resolved = json_object_get(x->req, "resolved");
	const char *name = str(x->req, "user");

	if (resolved != NULL && !json_is_boolean(resolved))
		return CTL_REFUSAL_BAD_REQUEST;
	if (!json_is_true(resolved))
		return op_account(x, name, out);
	if (!ctl_user_name_valid(name))
		return CTL_REFUSAL_BAD_REQUEST;
	snprintf(out, CTL_USER_MAX + 1, "%s", name);
	return CTL_REFUSAL_NONE;
}

/* A service name: printable, no spaces, no '/', not empty. */
static int
valid_service(const char *s)
{
	return s != NULL && text_is_safe(s, 1, 64) && strpbrk(s, " /") == NULL;
}

/* PAM_RHOST: may be empty (sudo, a local login); safe text, no spaces. */
static int
valid_rhost(const char *s)
{
	return s != NULL && text_is_safe(s, 0, 255) && strchr(s, ' ') == NULL;
}

static json_t *
ceremony_answer(struct passkeyd *d, const struct ceremony *c)
{
	char url[1024];

	snprintf(url, sizeof(url), "%s/%s/%s", d->cfg.public_url,
	    c->kind == CEREMONY_LOGIN ? "l" : "r", c->token);
	return json_pack("{s:b, s:s, s:s, s:s, s:s, s:I, s:s}", "ok", 1,
	    "kind", c->kind == CEREMONY_LOGIN ? "login" : "register",
	    "token", c->token, "url", url, "code", c->code,
	    "expires_in", (json_int_t)(c->expires - time(NULL)),
	    "host", c->hostname != NULL ? c->hostname : "");
}

/*
 * The re-approval window the module's service asks for (pam_passkey's
 * reuse= and reuse_key=) and the client's SSH key as sshd exposed it,
 * kept as its fingerprint in fp.
 */
static enum ctl_refusal
reuse_request(json_t *req, struct login_request *r, char fp[CLIENT_KEY_FP_LEN + 1])
{
	json_t *reuse = json_object_get(req, "reuse"), *key = json_object_get(req, "client_key");
	const char *need = str(req, "reuse_key");

	fp[0] = '\0';
	r->client_key = fp;
	r->key_required = 1;
	if (reuse != NULL && (!json_is_integer(reuse) || json_integer_value(reuse) < 0 ||
	    json_integer_value(reuse) > CONFIG_REUSE_MAX))
		return CTL_REFUSAL_BAD_REQUEST;
	r->reuse = reuse != NULL ? (unsigned)json_integer_value(reuse) : 0;
	if (need != NULL && strcmp(need, "required") != 0 && strcmp(need, "optional") != 0)
		return CTL_REFUSAL_BAD_REQUEST;
	if (json_object_get(req, "reuse_key") != NULL && need == NULL)
		return CTL_REFUSAL_BAD_REQUEST;
	r->key_required = need == NULL || strcmp(need, "required") == 0;
	if (key != NULL && (!json_is_string(key) ||
	    client_key_fingerprint(json_string_value(key), fp) != 0))
		return CTL_REFUSAL_BAD_REQUEST;
	return CTL_REFUSAL_NONE;
}

/*
 * Who asked on this host (pam_passkey's "requester", for su, login or
 * sudo): {"uid": N, "name": ..., "tty": ...}, name and tty optional, as
 * the page shows it ("UID TTY NAME", ceremony.h).  Absent: "".  Checked
 * whenever it is sent, kept only for a request with no rhost or one that
 * is this host itself (sudo's `Defaults pam_rhost`, hostaddrs.h): over the
 * network the address names the client, and the page shows that.
 */
static enum ctl_refusal
requester_request(struct passkeyd *d, json_t *req, const char *rhost,
    char out[CEREMONY_REQUESTER_MAX + 1])
{
	json_t *v = json_object_get(req, "requester"), *uid;
	const char *name, *tty;

	out[0] = '\0';
	if (v == NULL)
		return CTL_REFUSAL_NONE;
	uid = json_object_get(v, "uid");
	name = str(v, "name");
	tty = str(v, "tty");
	if (!json_is_object(v) || !json_is_integer(uid) || json_integer_value(uid) < 0 ||
	    json_integer_value(uid) > UINT32_MAX - 1 ||
	    (json_object_get(v, "name") != NULL && !ctl_user_name_valid(name)) ||
	    (json_object_get(v, "tty") != NULL && !ctl_tty_ok(tty)))
		return CTL_REFUSAL_BAD_REQUEST;
	if (rhost[0] == '\0' || flow_rhost_is_this_host(d, rhost) == HOST_SELF_YES)
		snprintf(out, CEREMONY_REQUESTER_MAX + 1, "%lld %s %s",
		    (long long)json_integer_value(uid), tty != NULL ? tty : "?",
		    name != NULL ? name : "");
	return CTL_REFUSAL_NONE;
}

/* A login a window let in: the answer, once its use is written. */
static void
reuse_answer(struct passkeyd *d, void *arg, const struct store_window *w,
    enum ctl_refusal refused)
{
	int64_t left = w != NULL ? w->expires - wallclock_now(&d->wall) : 0;

	control_answer(arg, w == NULL ? op_refuse(refused) :
	    json_pack("{s:b, s:s, s:s, s:s, s:I, s:s}", "ok", 1, "kind", "reused",
	    "window", w->id, "source", w->source, "expires_in",
	    (json_int_t)(left > 0 ? left : 0), "host", w->hostname));
}

/* A begin handed off, answered (bound to its connection, or not). */
static int
begun_bound(struct passkeyd *d, void *arg, enum ctl_refusal r, struct ceremony *c)
{
	return control_answer_bound(arg, r == CTL_REFUSAL_NONE ? ceremony_answer(d, c) :
	    op_refuse(r), c != NULL ? c->token : NULL);
}

/* Answered to the caller alone: 0 when it was gone (nobody has its link). */
static int
begun_for_caller(struct passkeyd *d, void *arg, enum ctl_refusal r, struct ceremony *c)
{
	return control_answer_bound(arg, r == CTL_REFUSAL_NONE ? ceremony_answer(d, c) :
	    op_refuse(r), NULL);
}

static int
begun(struct passkeyd *d, void *arg, enum ctl_refusal r, struct ceremony *c)
{
	(void)control_answer_bound(arg, r == CTL_REFUSAL_NONE ? ceremony_answer(d, c) :
	    op_refuse(r), NULL);
	return 1;	/* unbound: it lives on for whoever has its link */
}

static json_t *
op_login_begin(struct op_ctx *x)
{
	const char *rhost = str(x->req, "rhost"), *service = str(x->req, "service");
	const char *mode = str(x->req, "enroll");
	json_t *bind = json_object_get(x->req, "bind");
	struct login_request r = { .rhost = rhost, .service = service,
	    .conn = x->call->conn };
	char user[CTL_USER_MAX + 1], fp[CLIENT_KEY_FP_LEN + 1];
	char requester[CEREMONY_REQUESTER_MAX + 1];
	struct control_reply *later;
	enum ctl_refusal err;
	struct ceremony *c;

	if (!valid_rhost(rhost) || !valid_service(service) ||
	    (bind != NULL && !json_is_boolean(bind)) ||
	    reuse_request(x->req, &r, fp) != CTL_REFUSAL_NONE ||
	    requester_request(x->d, x->req, rhost, requester) != CTL_REFUSAL_NONE)
		return op_refuse(CTL_REFUSAL_BAD_REQUEST);
	r.requester = requester;
	/* unbound: lives until its expiry, for a tool that hands it on */
	if (json_is_false(bind))
		r.conn = 0;
	if (mode == NULL || strcmp(mode, "none") == 0)
		r.enroll = ENROLL_NONE;
	else if (strcmp(mode, "pending") == 0)
		r.enroll = ENROLL_PENDING;
	else if (strcmp(mode, "after-auth") == 0)
		r.enroll = ENROLL_AFTER_AUTH;
	else
		return op_refuse(CTL_REFUSAL_BAD_REQUEST);
	if ((err = begin_user(x, user)) == CTL_REFUSAL_BAD_REQUEST)
		return op_refuse(err);
	if (x->call->needs_account)
		return NULL;	/* served again once NSS has answered */
	if (err == CTL_REFUSAL_NONE && r.conn != 0 && !x->call->can_bind)
		err = CTL_REFUSAL_LIMIT_CONNECTION;
	if (err != CTL_REFUSAL_NONE) {
		/* under the account's own spelling when NSS gave one (its events list it) */
		event_log(x->d, &(struct event_rec){ .event = "login_begin",
		    .user = user[0] != '\0' ? user : str(x->req, "user"), .rhost = rhost,
		    .service = service,
		    .verdict = "refused", .reason = ctl_refusal_code(err), .noisy = 1 });
		return op_refuse(err);
	}
	r.user = user;
	/* a fleet's: the window, the reads and the ceremony's row off the loop (offload.h) */
	if (x->d->fleet && offload_ready(x->d->offload) &&
	    (later = control_defer(x->call)) != NULL) {
		if (flow_login_begin_later(x->d, &r, r.conn != 0 ? begun_bound : begun,
		    reuse_answer, later))
			return NULL;
		control_undefer(x->call, later);
	}
	/* this client's earlier approval, while its window is open: no browser */
	if (r.reuse > 0 && (later = control_defer(x->call)) != NULL) {
		if (flow_login_reuse(x->d, &r, reuse_answer, later))
			return NULL;
		control_undefer(x->call, later);
	}
	if ((err = flow_login_begin(x->d, &r, &c)) != CTL_REFUSAL_NONE)
		return op_refuse(err);
	if (r.conn != 0)
		memcpy(x->call->bind_token, c->token, sizeof(c->token));
	return ceremony_answer(x->d, c);
}

static void
enroll_answer(struct passkeyd *d, void *arg, enum ctl_refusal r, struct ceremony *c)
{
	control_answer(arg, r == CTL_REFUSAL_NONE ? ceremony_answer(d, c) : op_refuse(r));
}

static json_t *
op_enroll(struct op_ctx *x)
{
	json_t *exp = json_object_get(x->req, "expires_in");
	json_int_t lifetime = x->d->cfg.enroll_timeout;
	char user[CTL_USER_MAX + 1];
	struct control_reply *later;
	enum ctl_refusal err;

	if ((err = op_account(x, str(x->req, "user"), user)) != CTL_REFUSAL_NONE)
		return op_refuse(err);
	if (x->call->needs_account)
		return NULL;	/* served again once NSS has answered */
	if (exp != NULL) {
		if (!json_is_integer(exp) || json_integer_value(exp) < CTL_ENROLL_MIN_EXPIRES ||
		    json_integer_value(exp) > CTL_ENROLL_MAX_EXPIRES)
			return op_refuse(CTL_REFUSAL_BAD_REQUEST);
		lifetime = json_integer_value(exp);
	}
	if ((later = control_defer(x->call)) == NULL)
		return op_refuse(CTL_REFUSAL_INTERNAL_ERROR);
	err = flow_enroll(x->d, user, (unsigned)lifetime, "root", enroll_answer, later);
	if (err != CTL_REFUSAL_NONE) {
		control_undefer(x->call, later);
		return op_refuse(err);
	}
	return NULL;
}

static json_t *
op_register_begin(struct op_ctx *x)
{
	struct control_reply *later;
	struct ceremony *c;
	enum ctl_refusal err;

	if (x->uid == 0)	/* root has `enroll` for any account */
		return op_refuse(CTL_REFUSAL_NOT_PERMITTED);
	/* a fleet's: the ceremony's row off the loop (offload.h) */
	if (x->d->fleet && offload_ready(x->d->offload) &&
	    (later = control_defer(x->call)) != NULL) {
		if (flow_register_begin_later(x->d, x->self, x->uid, begun_for_caller, later,
		    &err)) {
			if (err == CTL_REFUSAL_NONE)
				return NULL;
			control_undefer(x->call, later);
			return op_refuse(err);
		}
		control_undefer(x->call, later);
	}
	if ((err = flow_register_begin(x->d, x->self, x->uid, &c)) != CTL_REFUSAL_NONE)
		return op_refuse(err);
	return ceremony_answer(x->d, c);
}

static json_t *
status_answer(struct ceremony *c, enum ctl_state state)
{
	time_t left = c != NULL ? c->expires - time(NULL) : 0;
	json_t *out;

	out = json_pack("{s:b, s:s, s:I}", "ok", 1, "state", ctl_state_name(state),
	    "expires_in", (json_int_t)(left > 0 ? left : 0));
	if (out != NULL && c != NULL && state == CTL_STATE_FAILED && c->reason != NULL)
		json_object_set_new(out, "reason", json_string(c->reason));
	return out;
}

static void
status_later(struct passkeyd *d, void *arg, struct ceremony *c, enum ctl_state state)
{
	(void)d;
	control_answer(arg, status_answer(c, state));
}

static json_t *
op_status(struct op_ctx *x)
{
	struct control_reply *later;

	/* a fleet's: the row's read and its use off the loop (offload.h) */
	if (x->d->fleet && offload_ready(x->d->offload) &&
	    (later = control_defer(x->call)) != NULL) {
		if (flow_status_later(x->d, x->c, status_later, later))
			return NULL;
		control_undefer(x->call, later);
	}
	return status_answer(x->c, flow_status(x->d, x->c));
}

static json_t *
cancel_answer(enum ctl_state state)
{
	return json_pack("{s:b, s:s}", "ok", 1, "state", ctl_state_name(state));
}

static void
cancel_later(struct passkeyd *d, void *arg, struct ceremony *c, enum ctl_state state)
{
	(void)d;
	(void)c;
	control_answer(arg, cancel_answer(state));
}

static json_t *
op_cancel(struct op_ctx *x)
{
	struct control_reply *later;

	/* a fleet's: the row's move off the loop (offload.h) */
	if (x->d->fleet && offload_ready(x->d->offload) &&
	    (later = control_defer(x->call)) != NULL) {
		if (flow_cancel_later(x->d, x->c, "cancelled", cancel_later, later))
			return NULL;
		control_undefer(x->call, later);
	}
	flow_cancel(x->d, x->c, "cancelled");
	return cancel_answer((enum ctl_state)x->c->state);
}

static json_t *
op_ping(struct op_ctx *x)
{
	(void)x;
	return json_pack("{s:b, s:s}", "ok", 1, "version", PASSKEYD_VERSION);
}

/* Who may do what, in one place (PROTOCOL.md "Who is asking"). */
static const struct control_op control_ops[] = {
	{ "login_begin",	WHO_ROOT,	RATE_BEGIN,	SHARE_NONE,	op_login_begin },
	{ "status",		WHO_OWNER,	RATE_POLL,	SHARE_NONE,	op_status },
	{ "cancel",		WHO_OWNER,	RATE_POLL,	SHARE_NONE,	op_cancel },
	{ "enroll",		WHO_ROOT,	RATE_WRITE,	SHARE_NONE,	op_enroll },
	{ "register_begin",	WHO_SELF,	RATE_BEGIN,	SHARE_NONE,	op_register_begin },
	{ "list",		WHO_SELF,	RATE_READ,	SHARE_WAITS,	manage_list },
	{ "rename",		WHO_SELF,	RATE_WRITE,	SHARE_NONE,	manage_rename },
	{ "remove",		WHO_SELF,	RATE_WRITE,	SHARE_NONE,	manage_remove },
	{ "export",		WHO_SELF,	RATE_READ,	SHARE_WAITS,	manage_export },
	{ "events",		WHO_SELF,	RATE_READ,	SHARE_WAITS,	manage_events },
	{ "revoke_enrollment",	WHO_ROOT,	RATE_WRITE,	SHARE_NONE,	manage_revoke_enrollment },
	{ "sessions",		WHO_SELF,	RATE_READ,	SHARE_WAITS,	sessions_list },
	{ "sessions_revoke",	WHO_SELF,	RATE_WRITE,	SHARE_NONE,	sessions_revoke },
	{ "ping",		WHO_ANY,	RATE_POLL,	SHARE_NONE,	op_ping },
};

static const struct control_op *
find_op(const char *name)
{
	for (size_t i = 0; name != NULL && i < sizeof(control_ops) / sizeof(control_ops[0]); i++)
		if (strcmp(control_ops[i].name, name) == 0)
			return &control_ops[i];
	return NULL;
}

/*
 * WHO_OWNER: root for every ceremony; another uid for its own registration.
 * A bound ceremony answers only on its own connection: another root
 * connection (any root process on the host) could otherwise collect the
 * approval a user gave to the module's login, which then reads `used`.
 */
static enum ctl_refusal
owned_ceremony(struct op_ctx *x)
{
	const char *token = str(x->req, "token");

	if (token == NULL)
		return CTL_REFUSAL_BAD_REQUEST;
	if ((x->c = ceremony_find(x->d->ceremonies, token)) == NULL)
		return CTL_REFUSAL_UNKNOWN_CEREMONY;
	if (x->uid != 0 && (x->uid != x->c->owner_uid || x->c->kind == CEREMONY_LOGIN))
		return CTL_REFUSAL_NOT_PERMITTED;
	if (x->c->conn != 0 && x->c->conn != x->call->conn)
		return CTL_REFUSAL_BOUND_ELSEWHERE;
	return CTL_REFUSAL_NONE;
}

static enum ctl_refusal
permitted(struct op_ctx *x, const struct control_op *op)
{
	switch (op->who) {
	case WHO_ROOT:
		return x->uid == 0 ? CTL_REFUSAL_NONE : CTL_REFUSAL_NOT_PERMITTED;
	case WHO_SELF:
		/* an account the system cannot name cannot own passkeys */
		return x->uid == 0 || x->self[0] != '\0' ? CTL_REFUSAL_NONE :
		    CTL_REFUSAL_NOT_PERMITTED;
	case WHO_OWNER:
		return owned_ceremony(x);
	case WHO_ANY:
		return CTL_REFUSAL_NONE;
	}
	return CTL_REFUSAL_NOT_PERMITTED;
}

/*
 * A read for a person (a listing's page, the audit log) runs only while
 * the loop's share for such reads lasts: logins first (share.h).  Asked
 * before anything else about the request, so that a request held back
 * and served again later is counted once by the per-account rates.
 */
static int
must_wait(struct passkeyd *d, struct control_call *call, const struct control_op *op)
{
	if (op->share == SHARE_WAITS && !call->due)
		call->later_us = share_wait_us(&d->manage_share, share_who(call->uid),
		    clock_monotonic_us());
	return call->later_us > 0;
}

static json_t *
run_op(struct op_ctx *x, const struct control_op *op)
{
	int64_t t0 = clock_monotonic_us();
	json_t *out;

	out = op->run(x);
	if (op->share == SHARE_WAITS)
		share_charge(&x->d->manage_share, share_who(x->uid), clock_monotonic_us() - t0);
	return out;
}

json_t *
control_dispatch(struct passkeyd *d, struct control_call *call, const char *line,
    size_t len)
{
	struct op_ctx x = { .d = d, .call = call, .uid = call->uid,
	    .self = call->uid == 0 ? "" : call->name };
	const struct control_op *op;
	enum ctl_refusal err;
	json_t *out;

	x.req = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
	if (x.req == NULL || !json_is_object(x.req)) {
		json_decref(x.req);
		call->close_after = 1;
		return op_refuse(CTL_REFUSAL_BAD_REQUEST);
	}
	if ((op = find_op(str(x.req, "op"))) == NULL)
		err = CTL_REFUSAL_BAD_REQUEST;
	else if (must_wait(d, call, op)) {
		json_decref(x.req);
		return NULL;	/* not run: its line is served again later */
	} else if (op->who == WHO_SELF && x.uid != 0 && call->name_pending) {
		call->needs_name = 1;
		json_decref(x.req);
		return NULL;	/* not run: served again once the name is known */
	} else if (x.uid != 0 && !rate_table_take(d->control_rates, x.uid, op->rate,
	    &rate_rules[op->rate], clock_monotonic_ms())) {
		d->control_rate_refusals++;
		d->control_rate_last_uid = x.uid;
		metrics_throttled(d->metrics, x.uid);
		err = CTL_REFUSAL_RATE_LIMITED;
	} else
		err = permitted(&x, op);
	out = err == CTL_REFUSAL_NONE ? run_op(&x, op) : op_refuse(err);
	json_decref(x.req);
	if (out == NULL && !call->deferred && call->text == NULL && !call->needs_account)
		out = op_refuse(CTL_REFUSAL_INTERNAL_ERROR);
	return out;
}
