/*
 * The flow: which ceremony a login gets, what the browser is asked, and
 * what a verified answer changes in the store.  The RP core decides
 * whether a response is valid; this file decides what it is valid *for*
 * (this user, this ceremony, a credential not already taken) and writes
 * the store only after the core said RP_OK, through the journal, so that
 * "approved" is said only once the store holds the change.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addrkey.h"
#include "client_key.h"
#include "clock.h"
#include "ctl_text.h"
#include "fleet.h"
#include "flow.h"
#include "hostaddrs.h"
#include "page_reads.h"
#include "rp_b64url.h"
#include "text.h"

static const char *
kind_name(const struct ceremony *c)
{
	return c->kind == CEREMONY_LOGIN ? "login" : "register";
}

static const char *
kind_event(const struct ceremony *c, const char *what, char *buf, size_t len)
{
	snprintf(buf, len, "%s_%s", kind_name(c), what);
	return buf;
}

#define REQUESTER_DETAIL_LEN	(CEREMONY_REQUESTER_MAX + 16)	/* "requester UID TTY NAME" */

/* The audit detail that names who asked on the host itself, or NULL. */
static const char *
requester_detail(const char *requester, char out[REQUESTER_DETAIL_LEN])
{
	if (requester == NULL || requester[0] == '\0')
		return NULL;
	snprintf(out, REQUESTER_DETAIL_LEN, "requester %s", requester);
	return out;
}

/* "host=NAME requester UID TTY NAME": a hostname is at most 253 bytes */
#define CEREMONY_DETAIL_LEN	(sizeof("host= requester ") + 253 + CEREMONY_REQUESTER_MAX)

/*
 * The audit detail of a ceremony's approval or end: who asked on the
 * host, and for another instance's ceremony (a web instance writing a
 * host's), which host, by the name the fleet registered for its role
 * (the admit trigger writes it on the row).  A host writes its own rows,
 * user and address included, so a row a web instance writes for one
 * must say whose it was: a red-team pass had web instances write "root's
 * login from ... denied" for rows a host made up.  NULL when none.
 */
static const char *
ceremony_detail(const struct ceremony *c, char out[CEREMONY_DETAIL_LEN])
{
	const char *q = c->requester != NULL ? c->requester : "";

	if (!c->foreign)
		return requester_detail(q, out);
	snprintf(out, CEREMONY_DETAIL_LEN, "host=%s%s%s", c->hostname,
	    q[0] != '\0' ? " requester " : "", q);
	return out;
}

static void
log_ceremony(struct passkeyd *d, struct ceremony *c, const char *what,
    const char *verdict, const char *reason, int noisy)
{
	char ev[40], detail[CEREMONY_DETAIL_LEN];

	/* another instance's ceremony: whose (ceremony_detail) */
	event_log(d, &(struct event_rec){ .event = kind_event(c, what, ev, sizeof(ev)),
	    .user = c->user, .rhost = c->rhost, .verdict = verdict, .reason = reason,
	    .detail = c->foreign ? ceremony_detail(c, detail) : NULL, .c = c, .noisy = noisy });
}

/* A new ceremony under this instance's limits, its row (in a fleet) not written yet. */
static enum ctl_refusal
begin_here(struct passkeyd *d, struct ceremony_spec spec, int consumes_enrollment,
    struct ceremony **out)
{
	enum ctl_refusal r;

	spec.hostname = d->cfg.hostname;
	if ((r = ceremony_begin(d->ceremonies, &spec, time(NULL), out)) == CTL_REFUSAL_NONE)
		(*out)->consumes_enrollment = (uint8_t)consumes_enrollment;
	return r;
}

/*
 * A ceremony whose row or enrollment the store did not take (r says why):
 * never handed out, so it holds no place here either and opens nothing.
 */
static void
withdraw(struct passkeyd *d, struct ceremony *c, enum ctl_refusal r)
{
	ceremony_finish(d->ceremonies, c, CTL_STATE_CANCELLED, ctl_refusal_code(r), time(NULL));
}

/*
 * A new ceremony under this instance's limits; in a fleet also written to
 * the store, under the fleet's, before anyone is given its link.
 */
static enum ctl_refusal
begin(struct passkeyd *d, struct ceremony_spec spec, int consumes_enrollment,
    struct ceremony **out)
{
	enum ctl_refusal r;

	if ((r = begin_here(d, spec, consumes_enrollment, out)) != CTL_REFUSAL_NONE)
		return r;
	if (d->fleet && (r = fleet_publish(d, *out)) != CTL_REFUSAL_NONE) {
		withdraw(d, *out, r);
		*out = NULL;
	}
	return r;
}

/*
 * begin() with the row written off the loop (a fleet's, offload.h): the
 * ceremony is made here under this instance's limits, pinned (calls,
 * committing: no answer, deny, cancel or expiry acts on it) while its
 * row's INSERT is handed off, then then(d, arg, refusal, c) follows on
 * the loop (c NULL when refused).  A refusal here is returned at once,
 * and `then` is not called.  When nothing can be handed off, the INSERT
 * runs here if `here` says it may (`then` follows at once: not from a
 * control op, whose answer is not deferred yet), else store_busy is
 * returned.  Call it only when offload_ready.
 */
typedef void (*published_fn)(struct passkeyd *d, void *arg, enum ctl_refusal r,
    struct ceremony *c);
struct publish {
	struct ceremony *c;
	struct store_ceremony row;
	unsigned max_passkeys;	/* a registration's bound; 0: none checked here */
	int over_bound;		/* reached: no row added */
	store_err_t add_err;
	char refusal[32];
	published_fn then;
	void *arg;
};

/*
 * Every options page lists all of the user's passkeys, on the loop: with
 * no bound a local user could register passkeys by the thousand
 * (passkeyctl add and a scripted authenticator) until each of its pages
 * held the loop for a second, and stall everyone's logins.  1 when the
 * user has bound passkeys or more; 0 when the count failed, which leaves
 * it to the registration's own (store_cred_register).  One indexed count,
 * small now that the bound keeps it so.
 */
static int
passkeys_at_bound(store_t *st, const char *user, unsigned bound)
{
	return store_cred_below_bound(st, user, bound) == STORE_ERR_LIMIT;
}

static store_err_t
publish_call(store_t *st, void *arg)
{
	struct publish *p = arg;

	/* a registration past the bound would fail at its finish: say so now */
	p->over_bound = passkeys_at_bound(st, p->row.user, p->max_passkeys);
	if (p->over_bound)
		return STORE_OK;
	p->add_err = store_ceremony_add(st, &p->row, p->refusal, sizeof(p->refusal));
	return STORE_OK;
}

static void
publish_done(struct passkeyd *d, void *arg, store_err_t result)
{
	struct publish *p = arg;
	struct ceremony *c = p->c;
	enum ctl_refusal r;

	if (result != STORE_OK)	/* not run at all */
		p->add_err = result;
	flow_store_trouble(d, p->add_err);
	c->calls--;
	c->committing = 0;
	r = p->over_bound ? CTL_REFUSAL_LIMIT_PASSKEYS :
	    fleet_published(d, p->add_err, p->refusal);
	if (r != CTL_REFUSAL_NONE) {
		withdraw(d, c, r);
		c = NULL;
	}
	explicit_bzero(p->row.challenge, sizeof(p->row.challenge));
	p->then(d, p->arg, r, c);
	free(p);
}

static enum ctl_refusal
begin_later(struct passkeyd *d, struct ceremony_spec spec, int consumes_enrollment,
    published_fn then, void *arg, int here, unsigned max_passkeys)
{
	struct publish *p = calloc(1, sizeof(*p));
	enum ctl_refusal r;

	if (p == NULL)
		return CTL_REFUSAL_INTERNAL_ERROR;
	if ((r = begin_here(d, spec, consumes_enrollment, &p->c)) != CTL_REFUSAL_NONE) {
		free(p);
		return r;
	}
	fleet_row_of(p->c, &p->row);
	p->max_passkeys = max_passkeys;
	p->then = then;
	p->arg = arg;
	p->c->calls++;
	p->c->committing = 1;
	if (here) {
		offload_call(d->offload, d, d->store, publish_call, publish_done, p);
		return CTL_REFUSAL_NONE;
	}
	if (offload_add(d->offload, publish_call, publish_done, p) == 0)
		return CTL_REFUSAL_NONE;
	p->c->calls--;
	p->c->committing = 0;
	withdraw(d, p->c, CTL_REFUSAL_STORE_BUSY);
	explicit_bzero(p->row.challenge, sizeof(p->row.challenge));
	free(p);
	return CTL_REFUSAL_STORE_BUSY;
}

static const char *
store_reason(struct passkeyd *d, store_err_t err)
{
	return ctl_refusal_code(store_refusal(d, err));
}

/*
 * What a login's begin reads: the user's passkeys (how many), and with
 * none, under enroll=pending, whether an enrollment is pending for them.
 */
struct begin_reads {
	store_err_t count_err, pending_err;
	size_t n;
	int pending;
};

static void
read_for_begin(store_t *st, const struct login_request *r, int64_t now,
    struct begin_reads *b)
{
	b->n = 0;
	b->pending = 0;
	b->pending_err = STORE_OK;
	b->count_err = store_cred_count_user(st, r->user, &b->n);
	if (b->count_err == STORE_OK && b->n == 0 && r->enroll == ENROLL_PENDING)
		b->pending_err = store_enroll_pending(st, r->user, now, &b->pending);
}

/* Which ceremony a login gets (PROTOCOL.md login_begin), from what was read. */
static enum ctl_refusal
login_kind(struct passkeyd *d, const struct login_request *r, const struct begin_reads *b,
    enum ceremony_kind *kind, int *enrolling)
{
	*kind = CEREMONY_LOGIN;
	*enrolling = 0;
	if (b->count_err != STORE_OK)
		return store_refusal(d, b->count_err);
	if (b->n > 0)
		return CTL_REFUSAL_NONE;
	*kind = CEREMONY_REGISTER;
	if (r->enroll == ENROLL_PENDING) {
		if (b->pending_err != STORE_OK)
			return store_refusal(d, b->pending_err);
		*enrolling = b->pending;
		return b->pending ? CTL_REFUSAL_NONE : CTL_REFUSAL_NO_PASSKEY;
	}
	return r->enroll == ENROLL_AFTER_AUTH ? CTL_REFUSAL_NONE : CTL_REFUSAL_NO_PASSKEY;
}

static const char *
client_key_of(const struct login_request *r)
{
	return r->client_key != NULL ? r->client_key : "";
}

/*
 * The re-approval window a login may open or use: seconds, or 0 when it
 * may not.  With no address there is no client to name, and an address
 * that is the host itself names none either: every local account comes
 * from there (sudo's pam_rhost, ssh to localhost or to its LAN address),
 * so there only a key can name the client, whatever reuse_key says; nor
 * does an address passkeyd cannot tell from the host's own, nor a DNS
 * name (sshd's UseDNS): the host's own full name is one whenever the
 * configured hostname is its short one, and no DNS is asked here.  A key
 * the service requires must be there; a client, service or host name the
 * store cannot keep opens none (rather than failing the approval).
 */
static unsigned
reuse_seconds(struct passkeyd *d, const struct login_request *r)
{
	unsigned s = r->reuse < d->cfg.reuse_max ? r->reuse : d->cfg.reuse_max;
	int keyless = client_key_of(r)[0] == '\0';
	struct in6_addr literal;

	if (s == 0 || !store_window_client_ok(r->service, r->rhost) ||
	    (keyless && (r->key_required || !addr_literal_v6(r->rhost, &literal) ||
	    flow_rhost_is_this_host(d, r->rhost) != HOST_SELF_NO)) ||
	    !text_hostname_chars(d->cfg.hostname, 253))
		return 0;
	return s;
}

enum host_self
flow_rhost_is_this_host(struct passkeyd *d, const char *rhost)
{
	enum host_self self = hostaddrs_is_this_host(d->hostaddrs, rhost, d->cfg.hostname,
	    clock_monotonic_ms());
	const char *why;

	if (self == HOST_SELF_UNKNOWN && (why = hostaddrs_trouble(d->hostaddrs)) != NULL)
		daemon_log(d, "warning: cannot read this host's own addresses (%s): a client"
		    " address is not taken for a remote one, so it gets no re-approval window"
		    " without a key, and pages do not call it local", why);
	return self;
}

static struct ceremony_spec
login_spec(struct passkeyd *d, const struct login_request *r, enum ceremony_kind kind)
{
	return (struct ceremony_spec){ .kind = kind, .user = r->user,
	    .rhost = r->rhost, .service = r->service, .owner = 0,
	    .conn = r->conn, .lifetime = d->cfg.ceremony_timeout,
	    .reuse = reuse_seconds(d, r), .client_key = client_key_of(r),
	    .requester = r->requester,
	    .local = flow_rhost_is_this_host(d, r->rhost) == HOST_SELF_YES };
}

/* A login's begin, said in the log (and the audit log) either way. */
static void
log_login_begin(struct passkeyd *d, const struct login_request *r, enum ceremony_kind kind,
    enum ctl_refusal err, struct ceremony *c)
{
	char who[REQUESTER_DETAIL_LEN];

	/* a refusal can be repeated at will by whoever reaches sshd: budgeted */
	event_log(d, &(struct event_rec){
	    .event = kind == CEREMONY_LOGIN || err ? "login_begin" : "register_begin",
	    .user = r->user, .rhost = r->rhost, .service = r->service,
	    .verdict = err ? "refused" : "ok",
	    .reason = err ? ctl_refusal_code(err) : NULL, .c = c,
	    .detail = requester_detail(r->requester, who),
	    .noisy = err != CTL_REFUSAL_NONE });
}

enum ctl_refusal
flow_login_begin(struct passkeyd *d, const struct login_request *r,
    struct ceremony **out)
{
	struct begin_reads b;
	enum ceremony_kind kind;
	enum ctl_refusal err;
	int enrolling;

	*out = NULL;
	read_for_begin(d->store, r, (int64_t)time(NULL), &b);
	err = login_kind(d, r, &b, &kind, &enrolling);
	if (err == CTL_REFUSAL_NONE)
		err = begin(d, login_spec(d, r, kind), enrolling, out);
	log_login_begin(d, r, kind, err, *out);
	return err;
}

/* Re-approval windows -------------------------------------------------- */

/* A window found for a login, on its way to the store as used. */
struct reuse_use {
	struct store_window w;
	int64_t now;		/* the windows' clock when it was found (wallclock.h) */
	int audit;		/* this instance's role writes the audit log */
	flow_reuse_fn done;
	void *arg;
};

/* login_reused names the window and, as its token, the approval it came from. */
static void
reused_event(const struct store_window *w, char *detail, size_t len, struct event_rec *e)
{
	snprintf(detail, len, "window=%s from=%s", w->id, w->source);
	*e = (struct event_rec){ .event = "login_reused", .user = w->user, .rhost = w->rhost,
	    .service = w->service, .verdict = "ok", .detail = detail, .token = w->source };
}

static store_err_t
reuse_apply(store_t *st, void *arg)
{
	struct reuse_use *u = arg;
	struct store_event row;
	struct event_rec e;
	char detail[64];
	store_err_t err;

	/* gone or ended since it was found: no use is counted, nobody gets in */
	if ((err = store_window_use(st, u->w.id, u->now)) != STORE_OK || !u->audit)
		return err;
	reused_event(&u->w, detail, sizeof(detail), &e);
	event_to_store(&e, &row);
	return store_event_add(st, &row);
}

static void
reuse_done(struct passkeyd *d, void *arg, store_err_t result)
{
	struct reuse_use *u = arg;
	enum ctl_refusal refused = CTL_REFUSAL_NONE;
	struct event_rec e;
	char detail[64];

	reused_event(&u->w, detail, sizeof(detail), &e);
	if (result != STORE_OK) {
		refused = result == STORE_ERR_NOT_FOUND ? CTL_REFUSAL_REUSE_ENDED :
		    store_refusal(d, result);
		e.verdict = "refused";
		e.reason = ctl_refusal_code(refused);
	}
	event_print(d, &e);	/* a use's row went with it */
	u->done(d, u->arg, result == STORE_OK ? &u->w : NULL, refused);
	store_window_free(&u->w);
	free(u);
}

/*
 * The open window of r's user, service and client that lets it in, opened
 * no longer ago than `seconds` (what the service allows now, whatever it
 * allowed then), at `now` on the windows' clock (wallclock.h): on the
 * loop, or on an offload worker (a fleet's begin).
 */
static store_err_t
find_window(store_t *st, const struct login_request *r, unsigned seconds, int64_t now,
    const char *hostname, int any_host, struct store_window *w)
{
	return store_window_find(st, r->user, r->service, r->rhost, client_key_of(r),
	    hostname, any_host, now, now - seconds, w);
}

/* Hands window w's use (taken from it) to the journal; 0 when it is full. */
static int
reuse_queue(struct passkeyd *d, struct store_window *w, flow_reuse_fn done, void *arg)
{
	struct reuse_use *u = calloc(1, sizeof(*u));

	if (u == NULL)
		return 0;
	u->w = *w;
	u->now = wallclock_now(&d->wall);
	u->audit = d->audit_rows;
	u->done = done;
	u->arg = arg;
	if (journal_add(d->journal, reuse_apply, reuse_done, u) != 0) {
		free(u);
		return 0;
	}
	memset(w, 0, sizeof(*w));
	return 1;
}

int
flow_login_reuse(struct passkeyd *d, const struct login_request *r,
    flow_reuse_fn done, void *arg)
{
	unsigned s = reuse_seconds(d, r);
	struct store_window w = { 0 };
	store_err_t err;

	if (s == 0)
		return 0;
	err = find_window(d->store, r, s, wallclock_now(&d->wall), d->cfg.hostname,
	    d->fleet && d->cfg.reuse_across_hosts, &w);
	if (err == STORE_OK && reuse_queue(d, &w, done, arg))
		return 1;
	if (err != STORE_OK && err != STORE_ERR_NOT_FOUND)
		(void)store_refusal(d, err);	/* logged; the browser decides */
	store_window_free(&w);
	return 0;
}

/*
 * A fleet's login begin, its store calls off the loop (offload.h): the
 * client's open re-approval window and the reads first, then, once the
 * ceremony is made here under this instance's limits, its row.  The
 * request's strings are copied: the control request they came with is
 * gone by then.
 */
struct begin_call {
	struct login_request r;
	char user[CTL_USER_MAX + 1], rhost[256], service[65];
	char client_key[CLIENT_KEY_FP_LEN + 1];
	char requester[CEREMONY_REQUESTER_MAX + 1];
	int64_t now;
	/* the window looked for first (reuse_s > 0), as flow_login_reuse does */
	unsigned reuse_s;
	int any_host;
	char hostname[254];
	struct store_window w;
	store_err_t window_err;	/* STORE_OK: found, and nothing else was read */
	flow_reuse_fn reused;
	struct begin_reads reads;
	enum ceremony_kind kind;
	flow_begin_fn done;
	void *arg;
};

static store_err_t
begin_reads_call(store_t *st, void *arg)
{
	struct begin_call *b = arg;

	if (b->reuse_s > 0)
		b->window_err = find_window(st, &b->r, b->reuse_s, b->now, b->hostname,
		    b->any_host, &b->w);
	if (b->window_err != STORE_OK)
		read_for_begin(st, &b->r, b->now, &b->reads);
	return STORE_OK;
}

/* A row moved from pending off the loop, its ceremony already ended here. */
struct row_end {
	uint8_t hash[CEREMONY_HASH_LEN];
	const char *to;		/* static: "cancelled", "denied", "failed" */
	const char *why;	/* static */
	int64_t now;
	store_err_t err;
};

static store_err_t
row_end_call(store_t *st, void *arg)
{
	struct row_end *e = arg;

	e->err = store_ceremony_move(st, e->hash, "pending", e->to, e->why, e->now);
	return STORE_OK;
}

static void
row_end_done(struct passkeyd *d, void *arg, store_err_t result)
{
	struct row_end *e = arg;

	/* not moved: the row expires, and holds its place till then */
	flow_store_trouble(d, result != STORE_OK ? result : e->err);
	free(e);
}

/*
 * Ends c here as `state` and hands its row's move off.  When it cannot
 * be handed off, the move runs here if `here` says it may; else the row
 * is left to expire.
 */
static void
end_here_row_later(struct passkeyd *d, struct ceremony *c, enum ctl_state state,
    const char *to, const char *why, int here)
{
	struct row_end *e = calloc(1, sizeof(*e));

	ceremony_finish(d->ceremonies, c, state, why, time(NULL));
	if (e == NULL)
		return;
	ceremony_token_hash(c->token, e->hash);
	e->to = to;
	e->why = why;
	e->now = (int64_t)time(NULL);
	if (here)
		offload_call(d->offload, d, d->store, row_end_call, row_end_done, e);
	else if (offload_add(d->offload, row_end_call, row_end_done, e) != 0)
		free(e);
}

/*
 * A ceremony begun here whose link was never handed out (its module gave
 * up first): nobody elsewhere can have decided it, so it ends here at
 * once, and its row follows off the loop.
 */
static void
cancel_unseen(struct passkeyd *d, struct ceremony *c, const char *why)
{
	end_here_row_later(d, c, CTL_STATE_CANCELLED, "cancelled", why, 1);
	log_ceremony(d, c, "cancelled", "fail", why, 0);
}

/*
 * A begin handed off, answered through done(); when the answer reached
 * nobody, nobody has its link: it holds no place.
 */
static void
hand_out(struct passkeyd *d, flow_begin_fn done, void *arg, enum ctl_refusal err,
    struct ceremony *c)
{
	if (!done(d, arg, err, c) && c != NULL)
		cancel_unseen(d, c, "client_gone");
}

/* The end of a begin handed off: logged, answered, and the call freed. */
static void
begin_answer(struct passkeyd *d, struct begin_call *b, enum ctl_refusal err,
    struct ceremony *c)
{
	log_login_begin(d, &b->r, b->kind, err, c);
	hand_out(d, b->done, b->arg, err, c);
	store_window_free(&b->w);
	free(b);
}

static void begin_reads_done(struct passkeyd *d, void *arg, store_err_t result);

/*
 * The window found lets the login in without the browser: its use goes
 * to the journal, and reuse_answer follows.  A full journal begins a
 * ceremony instead, as on the loop: the reads, off the loop again.
 */
static void
begin_reused(struct passkeyd *d, struct begin_call *b)
{
	if (reuse_queue(d, &b->w, b->reused, b->arg)) {
		free(b);
		return;
	}
	store_window_free(&b->w);
	memset(&b->w, 0, sizeof(b->w));
	b->reuse_s = 0;
	b->window_err = STORE_ERR_NOT_FOUND;
	b->now = wallclock_now(&d->wall);
	if (offload_add(d->offload, begin_reads_call, begin_reads_done, b) != 0)
		begin_answer(d, b, CTL_REFUSAL_STORE_BUSY, NULL);
}

/* The ceremony's row is written (or refused): the answer. */
static void
begin_published(struct passkeyd *d, void *arg, enum ctl_refusal r, struct ceremony *c)
{
	begin_answer(d, arg, r, c);
}

static void
begin_reads_done(struct passkeyd *d, void *arg, store_err_t result)
{
	struct begin_call *b = arg;
	enum ctl_refusal err;
	int enrolling;

	if (result != STORE_OK) {	/* not run at all (the daemon stopping) */
		b->window_err = STORE_ERR_NOT_FOUND;
		b->reads.count_err = result;
	}
	if (b->window_err == STORE_OK) {
		begin_reused(d, b);
		return;
	}
	if (b->window_err != STORE_ERR_NOT_FOUND)
		(void)store_refusal(d, b->window_err);	/* logged; the browser decides */
	flow_store_trouble(d, b->reads.count_err);
	err = login_kind(d, &b->r, &b->reads, &b->kind, &enrolling);
	/* made here under this instance's limits; its row off the loop too */
	if (err == CTL_REFUSAL_NONE)
		err = begin_later(d, login_spec(d, &b->r, b->kind), enrolling, begin_published,
		    b, 1, 0);	/* a first login's registration: the user has none */
	if (err != CTL_REFUSAL_NONE)
		begin_answer(d, b, err, NULL);
}

int
flow_login_begin_later(struct passkeyd *d, const struct login_request *r,
    flow_begin_fn done, flow_reuse_fn reused, void *arg)
{
	const char *key = client_key_of(r), *requester = r->requester != NULL ? r->requester : "";
	struct begin_call *b;

	if (!d->fleet || !offload_ready(d->offload) || (b = calloc(1, sizeof(*b))) == NULL)
		return 0;
	b->r = *r;
	b->r.user = b->user;
	b->r.rhost = b->rhost;
	b->r.service = b->service;
	b->r.client_key = b->client_key;
	b->r.requester = b->requester;
	b->now = wallclock_now(&d->wall);
	b->done = done;
	b->reused = reused;
	b->arg = arg;
	b->reuse_s = reuse_seconds(d, r);
	b->any_host = d->cfg.reuse_across_hosts;
	b->window_err = STORE_ERR_NOT_FOUND;
	/* what the control request checked fits; anything else is begun here */
	if (strlen(r->user) >= sizeof(b->user) || strlen(r->rhost) >= sizeof(b->rhost) ||
	    strlen(r->service) >= sizeof(b->service) || strlen(key) >= sizeof(b->client_key) ||
	    strlen(requester) >= sizeof(b->requester) ||
	    strlen(d->cfg.hostname) >= sizeof(b->hostname)) {
		free(b);
		return 0;
	}
	memcpy(b->user, r->user, strlen(r->user) + 1);
	memcpy(b->rhost, r->rhost, strlen(r->rhost) + 1);
	memcpy(b->service, r->service, strlen(r->service) + 1);
	memcpy(b->client_key, key, strlen(key) + 1);
	memcpy(b->requester, requester, strlen(requester) + 1);
	memcpy(b->hostname, d->cfg.hostname, strlen(d->cfg.hostname) + 1);
	if (offload_add(d->offload, begin_reads_call, begin_reads_done, b) != 0) {
		free(b);
		return 0;
	}
	return 1;
}

/* An enrollment row, written before its link is handed out. */
struct enroll_write {
	struct ceremony *c;
	int64_t expires;
	char by[64];
	char user[CTL_USER_MAX + 1];
	flow_enroll_fn done;
	void *arg;
};

static store_err_t
enroll_apply(store_t *st, void *arg)
{
	struct enroll_write *w = arg;

	return store_enroll_add(st, w->c->user, w->expires, w->by);
}

/*
 * An enrollment's ceremony whose enrollment was not written: nobody has
 * its link.  In a fleet its row is in the store already, where it would
 * hold a place in the user's limits until it expired: it is cancelled
 * there too (off the loop; left to expire when nothing can be handed off).
 */
static void
enroll_withdraw(struct passkeyd *d, struct ceremony *c, enum ctl_refusal r)
{
	if (d->fleet)
		end_here_row_later(d, c, CTL_STATE_CANCELLED, "cancelled", ctl_refusal_code(r), 0);
	else
		withdraw(d, c, r);
}

static void
enroll_done(struct passkeyd *d, void *arg, store_err_t result)
{
	struct enroll_write *w = arg;
	enum ctl_refusal r = CTL_REFUSAL_NONE;

	w->c->committing = 0;
	if (result != STORE_OK) {
		r = store_refusal(d, result);
		enroll_withdraw(d, w->c, r);
	}
	event_log(d, &(struct event_rec){ .event = "enroll", .user = w->c->user,
	    .service = "passkeyctl", .verdict = r ? "refused" : "ok",
	    .reason = r ? ctl_refusal_code(r) : NULL, .c = w->c, .detail = w->by });
	w->done(d, w->arg, r, r == CTL_REFUSAL_NONE ? w->c : NULL);
	free(w);
}

static void
enroll_refused(struct passkeyd *d, const char *user, const char *by, enum ctl_refusal err)
{
	event_log(d, &(struct event_rec){ .event = "enroll", .user = user,
	    .service = "passkeyctl", .verdict = "refused", .reason = ctl_refusal_code(err),
	    .detail = by });
}

/*
 * The ceremony is made (and in a fleet its row written): the enrollment
 * row next.  -1 when the journal is full: nothing was queued.
 */
static int
enroll_write(struct passkeyd *d, struct enroll_write *w, struct ceremony *c)
{
	w->c = c;
	w->expires = (int64_t)c->expires;
	/* the sweep leaves a committing ceremony alone until it is decided */
	c->committing = 1;
	if (journal_add(d->journal, enroll_apply, enroll_done, w) == 0)
		return 0;
	c->committing = 0;
	return -1;
}

/* A fleet's: the ceremony's row was written off the loop, or refused. */
static void
enroll_published(struct passkeyd *d, void *arg, enum ctl_refusal r, struct ceremony *c)
{
	struct enroll_write *w = arg;

	if (r == CTL_REFUSAL_NONE) {
		if (enroll_write(d, w, c) != 0)
			enroll_done(d, w, STORE_ERR_BUSY);
		return;
	}
	enroll_refused(d, w->user, w->by, r);
	w->done(d, w->arg, r, NULL);
	free(w);
}

enum ctl_refusal
flow_enroll(struct passkeyd *d, const char *user, unsigned lifetime,
    const char *by, flow_enroll_fn done, void *arg)
{
	struct ceremony_spec spec = { .kind = CEREMONY_REGISTER, .user = user, .rhost = "",
	    .service = "passkeyctl", .owner = 0, .lifetime = lifetime };
	struct enroll_write *w = calloc(1, sizeof(*w));
	struct ceremony *c;
	enum ctl_refusal err = CTL_REFUSAL_INTERNAL_ERROR;

	if (w != NULL) {
		*w = (struct enroll_write){ .done = done, .arg = arg };
		snprintf(w->by, sizeof(w->by), "%s", by);
		snprintf(w->user, sizeof(w->user), "%s", user);
		/* a fleet's: the ceremony's row off the loop (offload.h) */
		if (d->fleet && offload_ready(d->offload)) {
			if ((err = begin_later(d, spec, 1, enroll_published, w, 0, 0)) ==
			    CTL_REFUSAL_NONE)
				return CTL_REFUSAL_NONE;
		} else if ((err = begin(d, spec, 1, &c)) == CTL_REFUSAL_NONE) {
			if (enroll_write(d, w, c) == 0)
				return CTL_REFUSAL_NONE;
			/*
			 * Refused now, not through `done`: the caller's answer
			 * is not deferred yet (a control op's would hang).
			 */
			err = CTL_REFUSAL_STORE_BUSY;
			enroll_withdraw(d, c, err);
		}
	}
	enroll_refused(d, user, by, err);
	free(w);
	return err;
}

static struct ceremony_spec
register_spec(struct passkeyd *d, const char *user, uid_t owner)
{
	return (struct ceremony_spec){ .kind = CEREMONY_REGISTER, .user = user, .rhost = "",
	    .service = "passkeyctl", .owner = owner, .lifetime = d->cfg.ceremony_timeout };
}

static void
log_register_begin(struct passkeyd *d, const char *user, enum ctl_refusal err,
    struct ceremony *c)
{
	event_log(d, &(struct event_rec){ .event = "register_begin", .user = user,
	    .service = "passkeyctl", .verdict = err ? "refused" : "ok",
	    .reason = err ? ctl_refusal_code(err) : NULL, .c = c,
	    .detail = "passkeyctl add", .noisy = err != CTL_REFUSAL_NONE });
}

enum ctl_refusal
flow_register_begin(struct passkeyd *d, const char *user, uid_t owner,
    struct ceremony **out)
{
	enum ctl_refusal err;

	/*
	 * A registration past max_passkeys_per_user would fail at its finish,
	 * after the user touched the authenticator.  A read that fails leaves
	 * it to that check, which is in the registration's own transaction.
	 */
	*out = NULL;
	if (passkeys_at_bound(d->store, user, d->cfg.max_passkeys_per_user))
		err = CTL_REFUSAL_LIMIT_PASSKEYS;
	else
		err = begin(d, register_spec(d, user, owner), 0, out);
	log_register_begin(d, user, err, *out);
	return err;
}

/* A registration begun off the loop, on its way to its answer. */
struct register_later {
	char user[CTL_USER_MAX + 1];
	flow_begin_fn done;
	void *arg;
};

static void
register_published(struct passkeyd *d, void *arg, enum ctl_refusal r, struct ceremony *c)
{
	struct register_later *g = arg;

	log_register_begin(d, g->user, r, c);
	hand_out(d, g->done, g->arg, r, c);
	free(g);
}

int
flow_register_begin_later(struct passkeyd *d, const char *user, uid_t owner,
    flow_begin_fn done, void *arg, enum ctl_refusal *refused)
{
	struct register_later *g;

	*refused = CTL_REFUSAL_NONE;
	if (!d->fleet || !offload_ready(d->offload) || (g = calloc(1, sizeof(*g))) == NULL)
		return 0;
	snprintf(g->user, sizeof(g->user), "%s", user);
	g->done = done;
	g->arg = arg;
	if ((*refused = begin_later(d, register_spec(d, g->user, owner), 0,
	    register_published, g, 0, d->cfg.max_passkeys_per_user)) != CTL_REFUSAL_NONE) {
		log_register_begin(d, user, *refused, NULL);
		free(g);
	}
	return 1;
}

struct ceremony *
flow_find(struct passkeyd *d, const char *token, const struct page_reads *pre,
    int *unavailable)
{
	*unavailable = 0;
	if (!d->fleet)
		return ceremony_find(d->ceremonies, token);
	/* another instance's, read off the loop: taken in from that row */
	if (pre != NULL && pre->row_read && ceremony_find(d->ceremonies, token) == NULL)
		return fleet_adopt(d, token, pre->row_err, &pre->row, unavailable);
	return fleet_find(d, token, unavailable);
}

static void
expire_if_due(struct passkeyd *d, struct ceremony *c)
{
	time_t now = time(NULL);

	/* a row being read off the loop may say approved: it says first */
	if (c->state == CTL_STATE_PENDING && !c->committing && !c->calls && now >= c->expires) {
		ceremony_finish(d->ceremonies, c, CTL_STATE_EXPIRED, "expired", now);
		flow_on_expire(c, d);
	}
}

void
flow_refresh(struct passkeyd *d, struct ceremony *c)
{
	/*
	 * In a fleet the store's row says first: decided or expired
	 * elsewhere.  Not while the server is found slow (flow_store_slow):
	 * then what is known here stands, as every move made from here is
	 * conditional on the row being pending, so a verdict given elsewhere
	 * still wins in the store.
	 */
	if (d->fleet && c->state == CTL_STATE_PENDING && !c->committing && !flow_store_slow(d))
		(void)fleet_refresh(d, c);
	expire_if_due(d, c);
}

void
flow_refresh_page(struct passkeyd *d, struct ceremony *c, const struct page_reads *pre)
{
	/*
	 * A ceremony begun here needs no read of its row before a step of
	 * the page: a verdict given elsewhere meanwhile is announced on this
	 * host's channel (fleet_notices), and an approval here moves the row
	 * only from pending (decide_row), so the store's verdict wins anyway.
	 * That is two reads of the store fewer per login on the event loop.
	 */
	if (d->fleet && c->foreign) {
		if (pre != NULL && pre->row_read && c->state == CTL_STATE_PENDING && !c->committing)
			(void)fleet_follow_row(d, c, pre->row_err, &pre->row);	/* read off the loop */
		else
			flow_refresh(d, c);
	}
	expire_if_due(d, c);
}

unsigned
flow_window_seconds(const struct passkeyd *d, const struct ceremony *c)
{
	return c->reuse < d->cfg.reuse_max ? c->reuse : d->cfg.reuse_max;
}

void
flow_on_expire(struct ceremony *c, void *arg)
{
	if (!c->foreign)	/* another instance's: its own says so */
		log_ceremony(arg, c, "expired", "fail", "expired", 0);
}

static void
store_found_slow(struct passkeyd *d)
{
	d->store_slow_until_ms = clock_monotonic_ms() + FLOW_USE_OFF_LOOP_MS;
}

/* A use took ms: a slow one (here or off the loop) keeps the window open (flow.h). */
static void
use_took(struct passkeyd *d, int64_t ms)
{
	if (ms > FLOW_USE_SLOW_MS)
		store_found_slow(d);
}

/* An approved ceremony's use, as the store answered it (err). */
static enum ctl_state
status_used(struct passkeyd *d, struct ceremony *c, store_err_t err)
{
	const char *why;

	if (err != STORE_OK) {
		why = err == STORE_ERR_CONFLICT ? "ceremony_used" : store_reason(d, err);
		ceremony_finish(d->ceremonies, c, CTL_STATE_FAILED, why, time(NULL));
		log_ceremony(d, c, "failed", "fail", why, 0);
		return CTL_STATE_FAILED;
	}
	c->state = CTL_STATE_USED;
	return CTL_STATE_APPROVED;
}

enum ctl_state
flow_status(struct passkeyd *d, struct ceremony *c)
{
	int64_t t0;
	store_err_t err;

	/*
	 * Another status's read of the row is out (flow_status_later): it
	 * brings the ceremony up to date, and expiry waits for it (calls),
	 * so this one reads nothing on the loop.  Before, a second connection
	 * polling the same pending ceremony read the row here each time.
	 */
	if (c->using_row && c->state == CTL_STATE_PENDING)
		return CTL_STATE_PENDING;
	flow_refresh(d, c);
	if (c->state != CTL_STATE_APPROVED)
		return (enum ctl_state)c->state;
	/* another status is using it (flow_status_later): that one answers approved */
	if (c->using_row)
		return CTL_STATE_PENDING;
	/* in a fleet, single use is the store's: no approval leaves here without it */
	if (!d->fleet)
		return status_used(d, c, STORE_OK);
	t0 = clock_monotonic_ms();
	err = fleet_move(d->store, c, CTL_STATE_APPROVED, CTL_STATE_USED, NULL);
	/*
	 * Slow: the next uses go off the loop for a while.  No answer does the
	 * same through status_used's store_refusal (flow_store_trouble).
	 */
	use_took(d, clock_monotonic_ms() - t0);
	return status_used(d, c, err);
}

int
flow_store_slow(const struct passkeyd *d)
{
	return clock_monotonic_ms() < d->store_slow_until_ms;
}

void
flow_store_trouble(struct passkeyd *d, store_err_t err)
{
	if (err == STORE_ERR_BUSY || err == STORE_ERR_UNAVAILABLE)
		store_found_slow(d);
}

/* A status's store calls, off the loop: the row read, then its use. */
struct status_call {
	char token[CEREMONY_TOKEN_LEN + 1];
	uint8_t hash[CEREMONY_HASH_LEN];
	int read;		/* pending here: read the row (flow_refresh) */
	int use;		/* approved (here, or in the row read): approved -> used */
	int used;		/* the use was tried */
	int64_t use_ms;		/* how long it took */
	int64_t now;
	store_err_t read_err, use_err;
	struct store_ceremony row;
	flow_status_fn done;
	void *arg;
};

static store_err_t
status_call(store_t *st, void *arg)
{
	struct status_call *s = arg;

	if (s->read) {
		s->read_err = store_ceremony_get(st, s->hash, &s->row);
		/* approved elsewhere: this status is its use, in the same hand-off */
		if (s->read_err == STORE_OK && strcmp(s->row.state, "approved") == 0)
			s->use = 1;
	}
	if (s->use) {
		int64_t t0 = clock_monotonic_ms();

		s->used = 1;
		s->use_err = store_ceremony_move(st, s->hash, "approved", "used", NULL, s->now);
		s->use_ms = clock_monotonic_ms() - t0;
	}
	return STORE_OK;
}

static void
status_call_done(struct passkeyd *d, void *arg, store_err_t result)
{
	struct status_call *s = arg;
	struct ceremony *c = ceremony_find(d->ceremonies, s->token);
	enum ctl_state state;
	int used_here = 0;

	/*
	 * Not run at all (it waited too long, or the daemon is stopping):
	 * nothing was read, and an approval still waits for its use, which
	 * the module's next status tries again.
	 */
	if (result != STORE_OK) {
		s->read_err = result;
		s->used = 0;
	}
	flow_store_trouble(d, result);
	flow_store_trouble(d, s->read ? s->read_err : STORE_OK);
	flow_store_trouble(d, s->used ? s->use_err : STORE_OK);
	if (s->used)
		use_took(d, s->use_ms);
	if (c != NULL) {
		c->calls--;
		c->using_row = 0;
		/* as flow_refresh: an approval being written here is the store's to decide */
		if (s->read && c->state == CTL_STATE_PENDING && !c->committing)
			(void)fleet_follow_row(d, c, s->read_err, &s->row);
		/*
		 * Used in the store, so approved there, whatever this instance
		 * knows yet: its own approval may have committed while the row
		 * was read, before the journal's answer reached the loop.  That
		 * approval's answer is still on its way, and holds the ceremony
		 * (committing) until it comes: it is left to it.
		 */
		if (s->used && s->use_err == STORE_OK && c->state == CTL_STATE_PENDING) {
			if (c->committing)
				used_here = c->used_early = 1;
			else
				ceremony_finish(d->ceremonies, c, CTL_STATE_APPROVED, NULL,
				    time(NULL));
		}
		expire_if_due(d, c);
	}
	if (used_here)
		state = CTL_STATE_APPROVED;
	else if (c == NULL || c->state != CTL_STATE_APPROVED)
		state = c != NULL ? (enum ctl_state)c->state : CTL_STATE_EXPIRED;
	else if (s->used)
		state = status_used(d, c, s->use_err);
	else if (result != STORE_OK)
		state = CTL_STATE_PENDING;
	/* approved here while the row was read: the use is another hand-off */
	else if (flow_status_later(d, c, s->done, s->arg))
		goto out;
	else
		state = flow_status(d, c);
	s->done(d, s->arg, c, state);
out:
	if (s->read && s->read_err == STORE_OK)
		store_ceremony_free(&s->row);
	free(s);
}

int
flow_status_later(struct passkeyd *d, struct ceremony *c, flow_status_fn done, void *arg)
{
	struct status_call *s;
	int read, use;

	/* one status at a time hands off: another meanwhile is answered here */
	if (!d->fleet || !offload_ready(d->offload) || c->using_row || c->calls == UINT8_MAX)
		return 0;
	/* the row first, then the clock, as flow_refresh does (status_call_done) */
	read = c->state == CTL_STATE_PENDING && !c->committing;
	use = c->state == CTL_STATE_APPROVED;
	/*
	 * An approval known here is used on the loop (flow_status) while the
	 * server answers fast: one UPDATE by key, whose hand-off would cost
	 * the user's Enter more than its round trip (flow.h).
	 */
	if (!read && use && !flow_store_slow(d))
		return 0;
	if ((!read && !use) || (s = calloc(1, sizeof(*s))) == NULL)
		return 0;
	memcpy(s->token, c->token, sizeof(s->token));
	ceremony_token_hash(c->token, s->hash);
	s->read = read;
	s->use = use;
	s->now = (int64_t)time(NULL);
	s->done = done;
	s->arg = arg;
	if (offload_add(d->offload, status_call, status_call_done, s) != 0) {
		free(s);
		return 0;
	}
	c->calls++;
	/* a pending one may turn out approved: its use is tried in the same call */
	c->using_row = 1;
	return 1;
}

/*
 * What names the approval a window came from (store_window.source): the
 * token's first six characters, too few to use it.  Written by
 * open_window, matched by end_uncollected.
 */
static void
window_source(const struct ceremony *c, char out[8])
{
	snprintf(out, 8, "%.6s", c->token);
}

/* The window of an approval nobody collected, on its way to the store. */
struct window_end {
	char user[CTL_USER_MAX + 1];
	char hostname[254];
	char source[8];
	int audit;		/* this instance's role writes the audit log */
	size_t n;
};

static store_err_t
window_end_apply(store_t *st, void *arg)
{
	struct window_end *e = arg;
	struct store_event row;
	char detail[64];
	store_err_t err;

	err = store_window_end_source(st, e->user, e->hostname, e->source, &e->n);
	if (err != STORE_OK || e->n == 0 || !e->audit)
		return err;
	snprintf(detail, sizeof(detail), "from=%s count=%zu", e->source, e->n);
	event_to_store(&(struct event_rec){ .event = "window_revoked", .user = e->user,
	    .rhost = "", .verdict = "ok", .reason = "not_collected", .detail = detail }, &row);
	return store_event_add(st, &row);
}

static void
window_end_done(struct passkeyd *d, void *arg, store_err_t err)
{
	struct window_end *e = arg;

	if (err != STORE_OK)
		(void)store_refusal(d, err);	/* logged; the window runs out on its own */
	else if (e->n > 0)
		event_print(d, &(struct event_rec){ .event = "window_revoked", .user = e->user,
		    .rhost = "", .verdict = "ok", .reason = "not_collected", .token = e->source });
	free(e);
}

/*
 * An approval the module will never collect (it cancelled, or its
 * connection closed, before a status said approved): the login did not
 * happen, so the re-approval window the approval opened ends, through
 * the journal (committed as every journal write is, not lazily: a lost
 * end would bring a window back).  On one host the ceremony's state here
 * says whether it was approved.  In a fleet a web instance approved it
 * and the row says so, whatever this host has heard (a cancel whose move
 * failed, a status whose use failed, a local expiry): every ceremony its
 * module leaves uncollected ends the windows of its source, which ends
 * none when nothing was approved.  The host's role may end windows.
 */
static void
end_uncollected(struct passkeyd *d, struct ceremony *c)
{
	struct window_end *e;

	if (c->uncollected_ended || c->reuse == 0 || c->foreign)
		return;
	/* denied: the row said so, and a denied row was never approved */
	if (d->fleet ? c->state == CTL_STATE_USED || c->used_early ||
	    c->state == CTL_STATE_DENIED : c->state != CTL_STATE_APPROVED)
		return;
	c->uncollected_ended = 1;
	if ((e = calloc(1, sizeof(*e))) != NULL) {
		snprintf(e->user, sizeof(e->user), "%s", c->user);
		snprintf(e->hostname, sizeof(e->hostname), "%s", c->hostname);
		window_source(c, e->source);
		e->audit = d->audit_rows;
		if (journal_add(d->journal, window_end_apply, window_end_done, e) == 0)
			return;
		free(e);
	}
	daemon_log(d, "warning: the re-approval window of an approval that user %s never"
	    " collected could not be ended now: it runs out on its own", c->user);
}

/*
 * The table forgets c (its end kept 10 minutes, or the oldest dropped
 * under churn): an approval still not collected never will be.  Its
 * module, if it is still there, now gets unknown_ceremony.  In a fleet
 * the row may say approved whatever this host has heard (a web
 * instance's approval just before the host's own expiry, a lost
 * notice): as for a module's close, every ceremony not used ends the
 * windows of its source (end_uncollected), except one this host
 * cancelled, whose row its move took from pending (else the end was
 * queued then).
 */
void
flow_on_forget(struct ceremony *c, void *passkeyd)
{
	const struct passkeyd *d = passkeyd;

	if (c->state == CTL_STATE_APPROVED || (d->fleet && c->state != CTL_STATE_CANCELLED))
		end_uncollected(passkeyd, c);
}

void
flow_cancel(struct passkeyd *d, struct ceremony *c, const char *why)
{
	store_err_t err = STORE_OK;

	flow_refresh(d, c);
	/*
	 * A committing approval is decided by the store, not by a cancel; the
	 * module has gone, so the window it opens ends after it (approval_done).
	 */
	if (c->committing) {
		c->uncollected = c->reuse > 0;
		return;
	}
	/* approved and not collected: no window for it (end_uncollected) */
	if (c->state != CTL_STATE_PENDING) {
		end_uncollected(d, c);
		return;
	}
	/*
	 * Decided elsewhere meanwhile: follow that.  A store that cannot be
	 * reached cancels nothing there, but the link's row expires, and
	 * nobody waits for its verdict here any more.  Stopping, with the
	 * server found slow, no more moves are tried: each of the closes
	 * would wait out its timeout on the loop before the journal's last
	 * commit (a review), and a supervisor's stop timeout is shorter.
	 */
	if (d->fleet && d->stopping && flow_store_slow(d))
		err = STORE_ERR_UNAVAILABLE;
	else if (d->fleet && (err = fleet_move(d->store, c, CTL_STATE_PENDING,
	    CTL_STATE_CANCELLED, why)) == STORE_ERR_CONFLICT) {
		(void)fleet_refresh(d, c);
		end_uncollected(d, c);	/* approved meanwhile, at a web instance */
		return;
	}
	flow_store_trouble(d, err);
	ceremony_finish(d->ceremonies, c, CTL_STATE_CANCELLED, why, time(NULL));
	log_ceremony(d, c, "cancelled", "fail", why, 0);
	/* the row not moved (no server): it may say approved all the same */
	if (err != STORE_OK)
		end_uncollected(d, c);
}

/*
 * A cancel's, a page's deny's or a failed finish's store calls off the
 * loop: the row's pending -> cancelled, denied or failed, and, when
 * another instance decided first, the row to follow.  One round trip
 * where flow_cancel and flow_deny read first: the move is conditional
 * anyway.
 */
struct end_call {
	char token[CEREMONY_TOKEN_LEN + 1];
	uint8_t hash[CEREMONY_HASH_LEN];
	enum ctl_state to;	/* CTL_STATE_CANCELLED, _DENIED or _FAILED */
	const char *why;	/* static */
	int64_t now;
	store_err_t move_err, row_err;
	int row_read;
	struct store_ceremony row;
	flow_status_fn cancelled;	/* one of the three */
	flow_deny_fn denied;
	flow_finish_fn failed;
	void *arg;
};

static store_err_t
end_call(store_t *st, void *arg)
{
	struct end_call *k = arg;

	k->move_err = store_ceremony_move(st, k->hash, "pending", ctl_state_name(k->to),
	    k->why, k->now);
	if (k->move_err == STORE_ERR_CONFLICT) {
		k->row_read = 1;
		k->row_err = store_ceremony_get(st, k->hash, &k->row);
	}
	return STORE_OK;
}

/*
 * The ceremony the call was for, unpinned; NULL when it is gone.  Also
 * whether the store's answer is still news to it: an approval begun here
 * meanwhile is the store's to decide, and a notice may have told the end
 * first.
 */
static struct ceremony *
end_call_returned(struct passkeyd *d, struct end_call *k, store_err_t result, int *news)
{
	struct ceremony *c = ceremony_find(d->ceremonies, k->token);

	if (result != STORE_OK)	/* not run */
		k->move_err = result;
	flow_store_trouble(d, k->move_err);
	*news = 0;
	if (c != NULL) {
		c->calls--;
		*news = c->state == CTL_STATE_PENDING && !c->committing;
	}
	return c;
}

static void
end_call_free(struct end_call *k)
{
	if (k->row_read && k->row_err == STORE_OK)
		store_ceremony_free(&k->row);
	free(k);
}

/* Another instance's verdict came first (or its row is gone): follow the row. */
static void
end_call_follow(struct passkeyd *d, struct ceremony *c, struct end_call *k)
{
	(void)fleet_follow_row(d, c, k->row_read ? k->row_err : k->move_err, &k->row);
}

static void
cancel_call_done(struct passkeyd *d, void *arg, store_err_t result)
{
	struct end_call *k = arg;
	int news;
	struct ceremony *c = end_call_returned(d, k, result, &news);

	/* a store that cannot be reached cancels here only, as flow_cancel would */
	if (news && k->move_err == STORE_ERR_CONFLICT)
		end_call_follow(d, c, k);
	else if (news) {
		ceremony_finish(d->ceremonies, c, CTL_STATE_CANCELLED, k->why, time(NULL));
		log_ceremony(d, c, "cancelled", "fail", k->why, 0);
	}
	/*
	 * Approved meanwhile at a web instance, or the row not moved: the
	 * module has gone, no window for it.  A row the move cancelled had
	 * no approval, and a flood of dropped connections writes nothing.
	 */
	if (c != NULL && k->move_err != STORE_OK)
		end_uncollected(d, c);
	if (k->cancelled != NULL)
		k->cancelled(d, k->arg, c, c != NULL ? (enum ctl_state)c->state :
		    CTL_STATE_CANCELLED);
	end_call_free(k);
}

static void
deny_call_done(struct passkeyd *d, void *arg, store_err_t result)
{
	struct end_call *k = arg;
	const char *refused = NULL;
	int news;
	struct ceremony *c = end_call_returned(d, k, result, &news);

	/*
	 * A denial the store does not hold denies nothing (flow_deny); one it
	 * holds is logged even when an approval here is still being written
	 * (news 0): that approval's move from pending will find it denied.
	 */
	if (c != NULL && k->move_err == STORE_OK) {
		if (news)
			ceremony_finish(d->ceremonies, c, CTL_STATE_DENIED, "denied", time(NULL));
		log_ceremony(d, c, "denied", "deny", "denied", 0);
	} else if (news && (k->move_err == STORE_ERR_CONFLICT ||
	    k->move_err == STORE_ERR_NOT_FOUND))
		end_call_follow(d, c, k);
	else if (news)
		refused = ctl_refusal_code(store_refusal(d, k->move_err));	/* logged */
	k->denied(d, k->arg, c, c != NULL && k->move_err == STORE_OK, refused);
	end_call_free(k);
}

/* Hands c's end off (end_call); 0 when it cannot be. */
static int
end_later(struct passkeyd *d, struct ceremony *c, enum ctl_state to, const char *why,
    struct end_call *k, offload_done_fn done)
{
	memcpy(k->token, c->token, sizeof(k->token));
	ceremony_token_hash(c->token, k->hash);
	k->to = to;
	k->why = why;
	k->now = (int64_t)time(NULL);
	if (offload_add(d->offload, end_call, done, k) != 0) {
		free(k);
		return 0;
	}
	c->calls++;
	return 1;
}

/* Whether c's row can be moved from pending off the loop now. */
static int
end_can_go_later(struct passkeyd *d, const struct ceremony *c)
{
	return d->fleet && offload_ready(d->offload) && c->calls < UINT8_MAX &&
	    c->state == CTL_STATE_PENDING && !c->committing;
}

int
flow_cancel_later(struct passkeyd *d, struct ceremony *c, const char *why,
    flow_status_fn done, void *arg)
{
	struct end_call *k;

	/* nothing to move: flow_cancel answers from here */
	if (!end_can_go_later(d, c) || (k = calloc(1, sizeof(*k))) == NULL)
		return 0;
	k->cancelled = done;
	k->arg = arg;
	return end_later(d, c, CTL_STATE_CANCELLED, why, k, cancel_call_done);
}

int
flow_deny_later(struct passkeyd *d, struct ceremony *c, flow_deny_fn done, void *arg)
{
	struct end_call *k;

	/*
	 * Nothing to move, or the server found slow (flow_deny refuses at
	 * once then): flow_deny answers from here.
	 */
	expire_if_due(d, c);
	if (!end_can_go_later(d, c) || flow_store_slow(d) ||
	    (k = calloc(1, sizeof(*k))) == NULL)
		return 0;
	k->denied = done;
	k->arg = arg;
	return end_later(d, c, CTL_STATE_DENIED, "denied", k, deny_call_done);
}

const char *
flow_deny(struct passkeyd *d, struct ceremony *c)
{
	store_err_t err;

	flow_refresh(d, c);
	if (c->state != CTL_STATE_PENDING || c->committing)
		return NULL;
	/*
	 * A denial that the store does not hold denies nothing: the host
	 * would not know, and another instance could still approve.  While
	 * the server is found slow the loop does not wait for it: the user
	 * is told to try again, and the ceremony stays as it is (flow.h).
	 */
	if (d->fleet && flow_store_slow(d))
		return "store_busy";
	if (d->fleet && (err = fleet_move(d->store, c, CTL_STATE_PENDING, CTL_STATE_DENIED,
	    "denied")) != STORE_OK) {
		/* decided elsewhere, or forgotten (expired long ago): the row says */
		if (err == STORE_ERR_CONFLICT || err == STORE_ERR_NOT_FOUND)
			(void)fleet_refresh(d, c);
		else
			return ctl_refusal_code(store_refusal(d, err));	/* logged */
		return NULL;
	}
	ceremony_finish(d->ceremonies, c, CTL_STATE_DENIED, "denied", time(NULL));
	/* someone the user did not expect tried to log in: say so loudly */
	log_ceremony(d, c, "denied", "deny", "denied", 0);
	return NULL;
}

void
flow_client_cancelled(struct passkeyd *d, struct ceremony *c, const char *dom_error)
{
	/* the page may say it as often as it likes; the log hears it once */
	if (c->client_cancelled)
		return;
	c->client_cancelled = 1;
	event_log(d, &(struct event_rec){ .event = "client_cancelled", .user = c->user,
	    .rhost = c->rhost, .verdict = "info", .reason = "client_cancelled",
	    .c = c, .detail = dom_error, .noisy = 1 });
}

/* JSON helpers ---------------------------------------------------------- */

static int
set_b64(json_t *obj, const char *key, const uint8_t *p, size_t len)
{
	char *s = rp_b64url_encode_alloc(p, len);
	int rc;

	if (s == NULL)
		return -1;
	rc = json_object_set_new(obj, key, json_string(s));
	free(s);
	return rc;
}

static json_t *
credential_descriptors(const struct store_credential_list *list)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr != NULL && i < list->count; i++) {
		json_t *o = json_pack("{s:s}", "type", "public-key");
		if (o == NULL || set_b64(o, "id", list->items[i].id,
		    list->items[i].id_len) != 0 || json_array_append_new(arr, o) != 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

static json_t *
login_options(struct passkeyd *d, struct ceremony *c, json_int_t timeout_ms,
    const struct store_credential_list *creds)
{
	json_t *pk;

	pk = json_pack("{s:s, s:I, s:s, s:o?}", "rpId", d->cfg.rp_id,
	    "timeout", timeout_ms,
	    "userVerification", d->cfg.require_uv ? "required" : "preferred",
	    "allowCredentials", credential_descriptors(creds));
	if (pk != NULL && set_b64(pk, "challenge", c->challenge, sizeof(c->challenge)) != 0) {
		json_decref(pk);
		pk = NULL;
	}
	return pk;
}

static json_t *
register_options(struct passkeyd *d, struct ceremony *c, json_int_t timeout_ms,
    const struct store_credential_list *creds)
{
	json_t *pk, *user, *params;

	user = json_pack("{s:s, s:s}", "name", c->user, "displayName", c->user);
	if (user == NULL || set_b64(user, "id", c->user_handle, sizeof(c->user_handle)) != 0) {
		json_decref(user);
		return NULL;
	}
	/* only the algorithms the config allows (allowed_algorithms) */
	params = json_array();
	for (size_t i = 0; params != NULL && i < d->cfg.n_algs; i++)
		if (json_array_append_new(params, json_pack("{s:s, s:i}", "type",
		    "public-key", "alg", d->cfg.algs[i])) != 0) {
			json_decref(params);
			params = NULL;
		}
	pk = json_pack("{s:{s:s, s:s}, s:o, s:o, s:I, s:o?, s:{s:s, s:s}, s:s}",
	    "rp", "id", d->cfg.rp_id, "name", d->cfg.rp_name,
	    "user", user,
	    "pubKeyCredParams", params,
	    "timeout", timeout_ms,
	    "excludeCredentials", credential_descriptors(creds),
	    "authenticatorSelection", "residentKey", "preferred",
	    "userVerification", d->cfg.require_uv ? "required" : "preferred",
	    "attestation", "direct");
	if (pk != NULL && set_b64(pk, "challenge", c->challenge, sizeof(c->challenge)) != 0) {
		json_decref(pk);
		pk = NULL;
	}
	return pk;
}

/*
 * The user.id a registration offers: the user's handle from the store,
 * or a fresh one kept with the ceremony and written only with the
 * credential itself (store_cred_register), so that an options request,
 * which anyone with the link can send, writes nothing.
 */
static store_err_t
registration_handle(struct passkeyd *d, struct ceremony *c, const struct page_reads *pre)
{
	uint8_t hash[CEREMONY_HASH_LEN];
	store_err_t err;

	if (c->has_handle)
		return STORE_OK;
	if (pre != NULL && pre->handle_read) {	/* chosen off the loop */
		if ((err = pre->handle_err) == STORE_OK)
			memcpy(c->user_handle, pre->handle, sizeof(c->user_handle));
	} else {
		if (d->fleet)	/* the row's key: only a fleet has rows */
			ceremony_token_hash(c->token, hash);
		err = flow_choose_handle(d->store, c->user, d->fleet ? hash : NULL,
		    c->user_handle);
	}
	if (err == STORE_OK)
		c->has_handle = 1;
	return err;
}

store_err_t
flow_choose_handle(store_t *st, const char *user, const uint8_t *row_hash,
    unsigned char out[STORE_USER_HANDLE_LEN])
{
	unsigned char mine[STORE_USER_HANDLE_LEN];
	store_err_t err;

	err = store_user_handle(st, user, 0, mine);
	if (err == STORE_ERR_NOT_FOUND)
		err = store_random_handle(mine);
	if (err != STORE_OK)
		return err;
	/* in a fleet, the first instance to offer one fixes it for all */
	if (row_hash != NULL)
		return store_ceremony_set_handle(st, row_hash, mine, out);
	memcpy(out, mine, sizeof(mine));
	return STORE_OK;
}

json_t *
flow_options(struct passkeyd *d, struct ceremony *c, const struct page_reads *pre,
    const char **err)
{
	struct store_credential_list own = { 0 };
	const struct store_credential_list *creds = &own;
	json_int_t timeout_ms;
	json_t *pk = NULL;
	store_err_t serr;

	*err = "internal_error";
	timeout_ms = (json_int_t)(c->expires - time(NULL)) * 1000;
	if (timeout_ms < 1000)
		timeout_ms = 1000;
	/* read off the loop: the same user's, a moment ago */
	if (pre != NULL && pre->creds_read && strcmp(pre->creds_user, c->user) == 0) {
		serr = pre->creds_err;
		creds = &pre->creds;
	} else
		serr = store_cred_list_user(d->store, c->user, &own);
	if (serr != STORE_OK) {
		*err = store_reason(d, serr);
		return NULL;
	}
	if (c->kind == CEREMONY_LOGIN)
		pk = login_options(d, c, timeout_ms, creds);
	else if ((serr = registration_handle(d, c, pre)) != STORE_OK)
		*err = store_reason(d, serr);
	else
		pk = register_options(d, c, timeout_ms, creds);
	store_credential_list_free(&own);
	if (pk != NULL)
		*err = NULL;
	return pk;
}

/* Finishing ------------------------------------------------------------- */

/* A verified answer on its way to the store. */
struct approval {
	struct ceremony *c;
	flow_finish_fn done;
	void *arg;
	int fleet;		/* the ceremony's row moves to approved in the same transaction */
	int lost;		/* and another instance had decided it first: */
	int row_read;		/* its row, read in the journal's transaction (lost_row) */
	store_err_t row_err;
	struct store_ceremony row;
	/* login */
	unsigned char *cred_id;
	size_t cred_id_len;
	uint32_t sign_count;
	int must_grow, bs, regressed;
	/* registration */
	rp_credential_t *cred;
	struct store_credential rec;
	unsigned max_passkeys;	/* the user's bound (max_passkeys_per_user) */
	int over_bound;		/* reached: nothing was written */
	/*
	 * The re-approval window it opens: seconds, 0 for none (the
	 * ceremony's ask, capped by this instance's reuse_max: in a fleet
	 * the host that began it asked), and its ID once opened.
	 */
	unsigned reuse;
	int64_t window_now;	/* the windows' clock at the finish (wallclock.h) */
	char window[STORE_WINDOW_ID_LEN + 1];
};

static void
approval_free(struct approval *a)
{
	free(a->cred_id);
	rp_credential_free(&a->cred);
	if (a->row_read && a->row_err == STORE_OK)
		store_ceremony_free(&a->row);
	free(a);
}

static const char *
reason_of(struct passkeyd *d, store_err_t err)
{
	switch (err) {
	case STORE_ERR_CONFLICT:	/* login: a concurrent use took this count */
		return "sign_count_regressed";
	case STORE_ERR_NOT_FOUND:	/* login: the passkey was removed meanwhile */
		return "credential_not_allowed";
	case STORE_ERR_EXISTS:
		return "credential_exists";
	case STORE_ERR_NO_ENROLLMENT:
		return "enrollment_not_pending";
	default:
		return store_reason(d, err);
	}
}

/*
 * A failure here ends the ceremony everywhere: one verification attempt
 * per challenge.  In a fleet, unless the store says another instance
 * decided it first, a verdict this one had not read yet (it reads its own
 * ceremony's row before no page step, flow_refresh_page, and a notice may
 * still be on its way): then it follows the store's verdict instead.
 */
static void
fail_everywhere(struct passkeyd *d, struct ceremony *c, const char *reason)
{
	store_err_t err = STORE_OK;

	c->committing = 0;
	/*
	 * The server found slow: failed here at once, the row follows (flow.h).
	 * Not a ceremony a status here already used in the store (used_early):
	 * its row is the truth, and is followed below.
	 */
	if (d->fleet && flow_store_slow(d) && !c->used_early) {
		end_here_row_later(d, c, CTL_STATE_FAILED, "failed", reason, 0);
		log_ceremony(d, c, "failed", "fail", reason, 0);
		return;
	}
	if (d->fleet && ((err = fleet_move(d->store, c, CTL_STATE_PENDING, CTL_STATE_FAILED,
	    reason)) == STORE_ERR_CONFLICT || err == STORE_ERR_NOT_FOUND) &&
	    fleet_refresh(d, c) && c->state != CTL_STATE_PENDING)
		return;
	flow_store_trouble(d, err);
	ceremony_finish(d->ceremonies, c, CTL_STATE_FAILED, reason, time(NULL));
	log_ceremony(d, c, "failed", "fail", reason, 0);
}

/*
 * fail_everywhere with its store calls off the loop (end_call): the row's
 * pending -> failed, and the row when another instance decided first.
 * The ceremony stays `committing` meanwhile, as under an approval, so no
 * second attempt at its challenge is verified here, and the finish waits
 * for its done, as an approval's does.
 */
static void
fail_call_done(struct passkeyd *d, void *arg, store_err_t result)
{
	struct end_call *k = arg;
	struct ceremony *c = ceremony_find(d->ceremonies, k->token);
	int news;

	if (c != NULL)
		c->committing = 0;	/* fail_later's */
	c = end_call_returned(d, k, result, &news);
	if (news && (k->move_err == STORE_ERR_CONFLICT || k->move_err == STORE_ERR_NOT_FOUND))
		end_call_follow(d, c, k);
	/* as fail_everywhere: a store that cannot be reached fails it here anyway */
	if (news && c->state == CTL_STATE_PENDING) {
		ceremony_finish(d->ceremonies, c, CTL_STATE_FAILED, k->why, time(NULL));
		log_ceremony(d, c, "failed", "fail", k->why, 0);
	}
	k->failed(d, k->arg);
	end_call_free(k);
}

/* 1 when c's failure went off the loop (reason: static), and done follows. */
static int
fail_later(struct passkeyd *d, struct ceremony *c, const char *reason, flow_finish_fn done,
    void *arg)
{
	struct end_call *k;

	/* found slow, or used by a status here: fail_everywhere's own paths */
	if (!end_can_go_later(d, c) || flow_store_slow(d) || c->used_early ||
	    (k = calloc(1, sizeof(*k))) == NULL)
		return 0;
	k->failed = done;
	k->arg = arg;
	if (!end_later(d, c, CTL_STATE_FAILED, reason, k, fail_call_done))
		return 0;
	c->committing = 1;
	return 1;
}

/*
 * In a fleet, the ceremony's row moves to approved first, in the same
 * transaction: another instance that decided it first makes this a
 * conflict (a->lost), and nothing of this approval is written.
 */
static store_err_t
decide_row(store_t *st, struct approval *a)
{
	store_err_t err;

	if (!a->fleet)
		return STORE_OK;
	err = fleet_move(st, a->c, CTL_STATE_PENDING, CTL_STATE_APPROVED, NULL);
	if (err == STORE_ERR_CONFLICT || err == STORE_ERR_NOT_FOUND)
		a->lost = 1;
	return err;
}

/*
 * The approval's audit row (its event name goes in ev, its detail in
 * detail): with who asked on the host, the lasting record of "alice
 * approved a su that mallory started", in a fleet too, where the web
 * instance writes it and the host writes no begin row.
 */
static void
approved_row(const struct ceremony *c, char ev[40], char detail[CEREMONY_DETAIL_LEN],
    struct store_event *row)
{
	event_to_store(&(struct event_rec){ .event = kind_event(c, "approved", ev, 40),
	    .user = c->user, .rhost = c->rhost, .verdict = "ok",
	    .detail = ceremony_detail(c, detail) }, row);
}

/* The approval's audit row, in the approval's own transaction. */
static store_err_t
add_approved_row(store_t *st, const struct ceremony *c)
{
	char ev[40], detail[CEREMONY_DETAIL_LEN];
	struct store_event row;

	approved_row(c, ev, detail, &row);
	return store_event_add(st, &row);
}

/*
 * The re-approval window a module's login opens when it is approved, in
 * the approval's own transaction: it exists only if the approval does,
 * and names the passkey that approved it (removing it ends the window).
 */
static store_err_t
open_window(store_t *st, struct approval *a, const unsigned char *cred_id, size_t cred_id_len)
{
	const struct ceremony *c = a->c;
	int64_t now = a->window_now;
	struct store_window w;
	struct store_event row;
	char source[8], detail[160];
	store_err_t err;

	if (a->reuse == 0)
		return STORE_OK;
	window_source(c, source);
	memset(&w, 0, sizeof(w));
	w.user = c->user;
	w.service = c->service;
	w.rhost = c->rhost;
	w.client_key = c->client_key;
	w.hostname = (char *)c->hostname;
	w.source = source;
	w.cred_id = (unsigned char *)cred_id;
	w.cred_id_len = cred_id_len;
	w.opened = now;
	w.expires = now + a->reuse;
	if ((err = store_window_open(st, &w)) != STORE_OK)
		return err;
	memcpy(a->window, w.id, sizeof(a->window));
	snprintf(detail, sizeof(detail), "window=%s from=%s service=%.16s seconds=%u key=%s",
	    w.id, source, c->service, a->reuse, c->client_key[0] != '\0' ? c->client_key : "none");
	event_to_store(&(struct event_rec){ .event = "window_opened", .user = c->user,
	    .rhost = c->rhost, .verdict = "ok", .detail = detail }, &row);
	return store_event_add(st, &row);
}

/* A use whose counter went back, allowed by policy: its warning, then the approval's row. */
static store_err_t
regressed_use(store_t *st, struct approval *a)
{
	struct ceremony *c = a->c;
	struct store_event row;
	store_err_t err;

	if ((err = decide_row(st, a)) != STORE_OK)
		return err;
	err = store_cred_record_use(st, a->cred_id, a->cred_id_len, a->sign_count,
	    a->must_grow, a->bs, (int64_t)time(NULL), c->rhost);
	if (err == STORE_OK) {
		event_to_store(&(struct event_rec){ .event = "sign_count_regressed",
		    .user = c->user, .rhost = c->rhost, .verdict = "warn",
		    .reason = "sign_count_regressed", .detail = "allowed by policy" }, &row);
		err = store_event_add(st, &row);
	}
	if (err == STORE_OK)
		err = add_approved_row(st, c);
	return err;
}

/*
 * The usual approval: the ceremony's row (a fleet's, as decide_row), the
 * passkey's use and the approval's audit row, in one store call (one
 * statement on PostgreSQL, where they were three round trips).
 */
static store_err_t
approve_in_one(store_t *st, struct approval *a)
{
	struct ceremony *c = a->c;
	uint8_t hash[CEREMONY_HASH_LEN];
	char ev[40], detail[CEREMONY_DETAIL_LEN];
	struct store_event row;
	store_err_t err;
	int64_t now = (int64_t)time(NULL);
	int failed;

	approved_row(c, ev, detail, &row);
	if (a->fleet)
		ceremony_token_hash(c->token, hash);
	err = store_login_approve(st, a->fleet ? hash : NULL, now, &(struct store_cred_use){
	    .id = a->cred_id, .id_len = a->cred_id_len, .sign_count = a->sign_count,
	    .must_grow = a->must_grow, .bs = a->bs, .when = now, .addr = c->rhost }, &row, &failed);
	/* the row was decided elsewhere, or is gone: as decide_row says */
	if (failed == 0 && (err == STORE_ERR_CONFLICT || err == STORE_ERR_NOT_FOUND))
		a->lost = 1;
	return err;
}

/*
 * An approval another instance beat: its row, read here, on the journal's
 * connection, so that approval_done follows it without a store call on
 * the loop.  Rare (two verdicts at once), yet a server that froze just
 * then held the loop for the statement's bound.  Read inside the
 * approval's mark, before the journal rolls back to it: a read changes
 * nothing, and the locks the approval took still hold, so a session
 * queued for the whole table does not make it wait.  (The backend read
 * the row too, to tell "gone" from "decided", and kept nothing of it.)
 */
static store_err_t
lost_row(store_t *st, struct approval *a, store_err_t err)
{
	uint8_t hash[CEREMONY_HASH_LEN];

	if (a->lost && !a->row_read) {
		ceremony_token_hash(a->c->token, hash);
		a->row_err = store_ceremony_get(st, hash, &a->row);
		a->row_read = 1;
	}
	return err;
}

static store_err_t
login_apply(store_t *st, void *arg)
{
	struct approval *a = arg;
	store_err_t err;

	err = a->regressed ? regressed_use(st, a) : approve_in_one(st, a);
	if (err == STORE_OK)
		err = open_window(st, a, a->cred_id, a->cred_id_len);
	return lost_row(st, a, err);
}

static store_err_t
register_apply(store_t *st, void *arg)
{
	struct approval *a = arg;
	struct ceremony *c = a->c;
	store_err_t err;

	if ((err = decide_row(st, a)) != STORE_OK)
		return lost_row(st, a, err);
	a->rec.created = (int64_t)time(NULL);
	/*
	 * The bound is counted by the store where the row is added, under
	 * the user's lock, so every way in (passkeyctl add, an enrollment
	 * link, a first login) and every instance of a fleet meets it.
	 */
	err = store_cred_register(st, &a->rec, c->user_handle, c->consumes_enrollment,
	    a->max_passkeys, (int64_t)time(NULL));
	if (err == STORE_ERR_LIMIT) {
		a->over_bound = 1;
		return err;
	}
	if (err == STORE_OK)
		err = add_approved_row(st, c);
	if (err == STORE_OK)
		err = open_window(st, a, a->rec.id, a->rec.id_len);
	return err;
}

static void
approval_done(struct passkeyd *d, void *arg, store_err_t result)
{
	struct approval *a = arg;
	struct ceremony *c = a->c;
	const char *reason;
	char ev[40];

	/*
	 * A status here that used the row (used_early) saw this approval
	 * committed, whatever the journal heard back (a COMMIT whose answer
	 * was lost): PAM was told approved, and so is the log.
	 */
	if (result == STORE_OK || (c->used_early && !a->lost)) {
		/* a status may have found the row approved and used it already */
		if (c->state == CTL_STATE_PENDING)
			ceremony_finish(d->ceremonies, c, CTL_STATE_APPROVED, NULL, time(NULL));
		if (c->used_early && c->state == CTL_STATE_APPROVED)
			c->state = CTL_STATE_USED;
		/* the row went with the change; this is its log line */
		event_print(d, &(struct event_rec){ .event = kind_event(c, "approved", ev,
		    sizeof(ev)), .user = c->user, .rhost = c->rhost, .verdict = "ok", .c = c });
		if (a->regressed)
			event_print(d, &(struct event_rec){ .event = "sign_count_regressed",
			    .user = c->user, .rhost = c->rhost, .verdict = "warn",
			    .reason = "sign_count_regressed", .c = c });
		if (a->window[0] != '\0')
			event_print(d, &(struct event_rec){ .event = "window_opened",
			    .user = c->user, .rhost = c->rhost, .verdict = "ok", .c = c });
		/* the module left while this was written (flow_cancel) */
		if (c->uncollected)
			end_uncollected(d, c);
	} else if (a->lost) {
		/* decided elsewhere first: this instance follows the store's verdict */
		c->committing = 0;
		if (a->row_read)
			(void)fleet_follow_row(d, c, a->row_err, &a->row);
		else
			(void)fleet_refresh(d, c);	/* not reached: lost_row reads it */
	} else {
		/*
		 * In a fleet the row's approval was rolled back with the rest;
		 * its failure goes off the loop where it can (fail_later),
		 * and the finish waits for it, as a failed verification's does.
		 */
		reason = a->over_bound ? ctl_refusal_code(CTL_REFUSAL_LIMIT_PASSKEYS) :
		    reason_of(d, result);
		c->committing = 0;
		if (fail_later(d, c, reason, a->done, a->arg)) {
			approval_free(a);
			return;
		}
		fail_everywhere(d, c, reason);
	}
	a->done(d, a->arg);
	approval_free(a);
}

static int
commit(struct passkeyd *d, struct approval *a, journal_apply_fn apply)
{
	a->c->committing = 1;
	if (journal_add(d->journal, apply, approval_done, a) == 0)
		return 1;
	a->c->committing = 0;
	return 0;
}

static const char *
verify_login(struct passkeyd *d, struct ceremony *c, const rp_response_t *resp,
    struct page_reads *pre, struct approval *a)
{
	struct store_credential cred;
	struct rp_known_credential known;
	struct rp_assertion_result result;
	uint8_t handle[STORE_USER_HANDLE_LEN];
	const rp_pubkey_t *pubkey = NULL;
	const char *reason = NULL;
	store_err_t serr;
	double t0;
	int rc;

	memset(&cred, 0, sizeof(cred));
	/* read off the loop, for this very assertion (pre->resp): taken over */
	if (pre != NULL && pre->cred_read && pre->resp == resp) {
		serr = pre->cred_err;
		if (serr == STORE_OK) {
			cred = pre->cred;
			memset(&pre->cred, 0, sizeof(pre->cred));
			memcpy(handle, pre->handle, sizeof(handle));
		}
		pre->cred_read = 0;
	} else
		serr = store_cred_get_for_login(d->store, rp_response_raw_id_ptr(resp),
		    rp_response_raw_id_len(resp), &cred, handle);
	if (serr == STORE_ERR_NOT_FOUND)
		return "credential_not_allowed";
	if (serr != STORE_OK)
		return store_reason(d, serr);
	/* a passkey of someone else proves nothing about this user */
	if (strcmp(cred.user, c->user) != 0) {
		reason = "credential_not_allowed";
		goto out;
	}
	/* parsed once per credential, and again only when its stored key changed */
	if ((rc = keycache_get(d->keys, cred.id, cred.id_len, cred.pubkey_cose,
	    cred.pubkey_len, &pubkey)) != RP_OK) {
		reason = rp_err_code(rc);
		goto out;
	}
	memset(&known, 0, sizeof(known));
	known.id = cred.id;
	known.id_len = cred.id_len;
	known.pubkey = pubkey;
	known.sign_count = cred.sign_count;
	known.user_handle = handle;
	known.user_handle_len = sizeof(handle);
	known.backup_eligible = cred.be;
	rp_policy_set_time(d->policy, time(NULL));
	t0 = clock_monotonic_s();
	rc = rp_verify_assertion(d->policy, c->challenge, sizeof(c->challenge),
	    resp, &known, &result);
	metrics_verify(d->metrics, clock_monotonic_s() - t0);
	if (rc != RP_OK) {
		reason = rp_err_code(rc);
		goto out;
	}
	/*
	 * Under sign_count_regression = reject the stored count is a
	 * compare-and-set (store_cred_record_use): another daemon storing the
	 * same or a higher count first fails this one.  Under "log" the
	 * count only never goes down (WebAuthn §7.2 step 22).
	 */
	a->cred_id = cred.id;
	a->cred_id_len = cred.id_len;
	cred.id = NULL;
	a->sign_count = result.sign_count;
	a->must_grow = d->cfg.reject_sign_count_regression;
	a->bs = (result.flags & RP_FLAG_BS) != 0;
	a->regressed = result.sign_count_regressed;
out:
	store_credential_free(&cred);
	return reason;
}

static const char *
verify_register(struct passkeyd *d, struct ceremony *c, const rp_response_t *resp,
    struct approval *a)
{
	struct store_credential *rec = &a->rec;
	uint8_t flags;
	double t0;
	int rc;

	rp_policy_set_time(d->policy, time(NULL));
	t0 = clock_monotonic_s();
	rc = rp_verify_registration(d->policy, c->challenge, sizeof(c->challenge),
	    resp, &a->cred);
	metrics_verify(d->metrics, clock_monotonic_s() - t0);
	if (rc != RP_OK)
		return rp_err_code(rc);
	if (!c->has_handle)	/* no options were asked for: no user.id was offered */
		return "challenge_mismatch";
	flags = rp_credential_flags(a->cred);
	memset(rec, 0, sizeof(*rec));
	rec->user = c->user;
	rec->id = (unsigned char *)rp_credential_id_ptr(a->cred);
	rec->id_len = rp_credential_id_len(a->cred);
	rec->alg = rp_credential_alg(a->cred);
	rec->pubkey_cose = (unsigned char *)rp_credential_pubkey_cose_ptr(a->cred);
	rec->pubkey_len = rp_credential_pubkey_cose_len(a->cred);
	rec->sign_count = rp_credential_sign_count(a->cred);
	rec->fmt = (char *)rp_credential_fmt(a->cred);
	memcpy(rec->aaguid, rp_credential_aaguid_ptr(a->cred), sizeof(rec->aaguid));
	rec->uv = (flags & RP_FLAG_UV) != 0;
	rec->be = (flags & RP_FLAG_BE) != 0;
	rec->bs = (flags & RP_FLAG_BS) != 0;
	rec->attestation = (char *)rp_attestation_name(rp_credential_attestation(a->cred));
	return NULL;
}

/* A ceremony that is not pending: what its state says to a second answer. */
static const char *
not_pending(struct passkeyd *d, struct ceremony *c)
{
	if (c->state == CTL_STATE_APPROVED || c->state == CTL_STATE_USED) {
		if (!c->replayed) {	/* logged once: a replay loop writes one row */
			c->replayed = 1;
			event_log(d, &(struct event_rec){ .event = "ceremony_replayed",
			    .user = c->user, .rhost = c->rhost, .verdict = "refused",
			    .reason = "ceremony_used", .c = c, .noisy = 1 });
		}
		return "ceremony_used";
	}
	return ctl_state_name((enum ctl_state)c->state);
}

int
flow_finish(struct passkeyd *d, struct ceremony *c, const char *body, size_t len,
    struct page_reads *pre, flow_finish_fn done, void *arg, const char **reason)
{
	rp_response_t *resp = NULL, *parsed = NULL;
	struct approval *a;
	int rc;

	if (c->committing) {
		*reason = "ceremony_in_progress";
		return 0;
	}
	if (c->state != CTL_STATE_PENDING) {
		*reason = not_pending(d, c);
		return 0;
	}
	/* parsed once, before its passkey was read off the loop */
	if (pre != NULL && pre->resp != NULL)
		resp = pre->resp;
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		*reason = "internal_error";
	} else if (resp == NULL && (rc = rp_response_from_json(body, len, &parsed)) != RP_OK) {
		*reason = rp_err_code(rc);
	} else {
		if (resp == NULL)
			resp = parsed;
		a->c = c;
		a->done = done;
		a->arg = arg;
		a->fleet = d->fleet;
		a->reuse = flow_window_seconds(d, c);
		a->window_now = wallclock_now(&d->wall);
		a->max_passkeys = d->cfg.max_passkeys_per_user;
		*reason = c->kind == CEREMONY_LOGIN ? verify_login(d, c, resp, pre, a) :
		    verify_register(d, c, resp, a);
	}
	rp_response_free(&parsed);
	if (*reason == NULL) {
		if (commit(d, a, c->kind == CEREMONY_LOGIN ? login_apply : register_apply))
			return 1;
		*reason = "store_busy";
	}
	if (a != NULL)
		approval_free(a);
	if (fail_later(d, c, *reason, done, arg))
		return 1;
	fail_everywhere(d, c, *reason);
	return 0;
}
