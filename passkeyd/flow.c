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

#include "clock.h"
#include "fleet.h"
#include "flow.h"
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

static void
log_ceremony(struct passkeyd *d, struct ceremony *c, const char *what,
    const char *verdict, const char *reason, int noisy)
{
	char ev[40];

	event_log(d, &(struct event_rec){ .event = kind_event(c, what, ev, sizeof(ev)),
	    .user = c->user, .rhost = c->rhost, .verdict = verdict,
	    .reason = reason, .c = c, .noisy = noisy });
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

	spec.hostname = d->cfg.hostname;
	if ((r = ceremony_begin(d->ceremonies, &spec, time(NULL), out)) != CTL_REFUSAL_NONE)
		return r;
	(*out)->consumes_enrollment = (uint8_t)consumes_enrollment;
	if (d->fleet && (r = fleet_publish(d, *out)) != CTL_REFUSAL_NONE) {
		/* never handed out: it holds no place here either */
		ceremony_finish(d->ceremonies, *out, CTL_STATE_CANCELLED, ctl_refusal_code(r),
		    time(NULL));
		*out = NULL;
	}
	return r;
}

static const char *
store_reason(struct passkeyd *d, store_err_t err)
{
	return ctl_refusal_code(store_refusal(d, err));
}

/* Which ceremony a login gets (PROTOCOL.md login_begin). */
static enum ctl_refusal
login_kind(struct passkeyd *d, const struct login_request *r,
    enum ceremony_kind *kind, int *enrolling)
{
	size_t n = 0;
	int pending = 0;
	store_err_t err;

	*kind = CEREMONY_LOGIN;
	*enrolling = 0;
	if ((err = store_cred_count_user(d->store, r->user, &n)) != STORE_OK)
		return store_refusal(d, err);
	if (n > 0)
		return CTL_REFUSAL_NONE;
	*kind = CEREMONY_REGISTER;
	if (r->enroll == ENROLL_PENDING) {
		if ((err = store_enroll_pending(d->store, r->user, time(NULL), &pending)) != STORE_OK)
			return store_refusal(d, err);
		*enrolling = pending;
		return pending ? CTL_REFUSAL_NONE : CTL_REFUSAL_NO_PASSKEY;
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
 * may not.  With no address there is no client to name; a key the
 * service requires must be there; a client, service or host name the
 * store cannot keep opens none (rather than failing the approval).
 */
static unsigned
reuse_seconds(struct passkeyd *d, const struct login_request *r)
{
	unsigned s = r->reuse < d->cfg.reuse_max ? r->reuse : d->cfg.reuse_max;

	if (s == 0 || !store_window_client_ok(r->service, r->rhost) ||
	    (r->key_required && client_key_of(r)[0] == '\0') ||
	    !text_hostname_chars(d->cfg.hostname, 253))
		return 0;
	return s;
}

enum ctl_refusal
flow_login_begin(struct passkeyd *d, const struct login_request *r,
    struct ceremony **out)
{
	enum ceremony_kind kind;
	enum ctl_refusal err;
	int enrolling;

	*out = NULL;
	err = login_kind(d, r, &kind, &enrolling);
	if (err == CTL_REFUSAL_NONE)
		err = begin(d, (struct ceremony_spec){ .kind = kind, .user = r->user,
		    .rhost = r->rhost, .service = r->service, .owner = 0,
		    .conn = r->conn, .lifetime = d->cfg.ceremony_timeout,
		    .reuse = reuse_seconds(d, r), .client_key = client_key_of(r) }, enrolling, out);
	/* a refusal can be repeated at will by whoever reaches sshd: budgeted */
	event_log(d, &(struct event_rec){
	    .event = kind == CEREMONY_LOGIN || err ? "login_begin" : "register_begin",
	    .user = r->user, .rhost = r->rhost, .service = r->service,
	    .verdict = err ? "refused" : "ok",
	    .reason = err ? ctl_refusal_code(err) : NULL, .c = *out,
	    .noisy = err != CTL_REFUSAL_NONE });
	return err;
}

/* Re-approval windows -------------------------------------------------- */

/* A window found for a login, on its way to the store as used. */
struct reuse_use {
	struct store_window w;
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
	if ((err = store_window_use(st, u->w.id, (int64_t)time(NULL))) != STORE_OK || !u->audit)
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

int
flow_login_reuse(struct passkeyd *d, const struct login_request *r,
    flow_reuse_fn done, void *arg)
{
	unsigned s = reuse_seconds(d, r);
	time_t now = time(NULL);
	struct reuse_use *u;
	store_err_t err;

	if (s == 0 || (u = calloc(1, sizeof(*u))) == NULL)
		return 0;
	/* opened no longer ago than this service allows now, whatever it allowed then */
	err = store_window_find(d->store, r->user, r->service, r->rhost, client_key_of(r),
	    d->cfg.hostname, d->fleet && d->cfg.reuse_across_hosts, (int64_t)now,
	    (int64_t)now - s, &u->w);
	if (err != STORE_OK) {
		if (err != STORE_ERR_NOT_FOUND)
			(void)store_refusal(d, err);	/* logged; the browser decides */
		store_window_free(&u->w);
		free(u);
		return 0;
	}
	u->audit = d->audit_rows;
	u->done = done;
	u->arg = arg;
	if (journal_add(d->journal, reuse_apply, reuse_done, u) != 0) {
		store_window_free(&u->w);
		free(u);
		return 0;
	}
	return 1;
}

/* An enrollment row, written before its link is handed out. */
struct enroll_write {
	struct ceremony *c;
	int64_t expires;
	char by[64];
	flow_enroll_fn done;
	void *arg;
};

static store_err_t
enroll_apply(store_t *st, void *arg)
{
	struct enroll_write *w = arg;

	return store_enroll_add(st, w->c->user, w->expires, w->by);
}

static void
enroll_done(struct passkeyd *d, void *arg, store_err_t result)
{
	struct enroll_write *w = arg;
	enum ctl_refusal r = CTL_REFUSAL_NONE;

	w->c->committing = 0;
	if (result != STORE_OK) {
		r = store_refusal(d, result);
		/* never handed out: it must hold no place and open nothing */
		ceremony_finish(d->ceremonies, w->c, CTL_STATE_CANCELLED,
		    ctl_refusal_code(r), time(NULL));
	}
	event_log(d, &(struct event_rec){ .event = "enroll", .user = w->c->user,
	    .service = "passkeyctl", .verdict = r ? "refused" : "ok",
	    .reason = r ? ctl_refusal_code(r) : NULL, .c = w->c, .detail = w->by });
	w->done(d, w->arg, r, r == CTL_REFUSAL_NONE ? w->c : NULL);
	free(w);
}

enum ctl_refusal
flow_enroll(struct passkeyd *d, const char *user, unsigned lifetime,
    const char *by, flow_enroll_fn done, void *arg)
{
	struct enroll_write *w;
	struct ceremony *c;
	enum ctl_refusal err;

	err = begin(d, (struct ceremony_spec){ .kind = CEREMONY_REGISTER,
	    .user = user, .rhost = "", .service = "passkeyctl", .owner = 0,
	    .lifetime = lifetime }, 1, &c);
	if (err == CTL_REFUSAL_NONE && (w = calloc(1, sizeof(*w))) == NULL) {
		ceremony_finish(d->ceremonies, c, CTL_STATE_CANCELLED, "internal_error",
		    time(NULL));
		err = CTL_REFUSAL_INTERNAL_ERROR;
	}
	if (err != CTL_REFUSAL_NONE) {
		event_log(d, &(struct event_rec){ .event = "enroll", .user = user,
		    .service = "passkeyctl", .verdict = "refused",
		    .reason = ctl_refusal_code(err), .detail = by });
		return err;
	}
	*w = (struct enroll_write){ .c = c, .expires = (int64_t)c->expires,
	    .done = done, .arg = arg };
	snprintf(w->by, sizeof(w->by), "%s", by);
	/* the sweep leaves a committing ceremony alone until it is decided */
	c->committing = 1;
	if (journal_add(d->journal, enroll_apply, enroll_done, w) != 0) {
		c->committing = 0;
		enroll_done(d, w, STORE_ERR_BUSY);
	}
	return CTL_REFUSAL_NONE;
}

enum ctl_refusal
flow_register_begin(struct passkeyd *d, const char *user, uid_t owner,
    struct ceremony **out)
{
	enum ctl_refusal err;

	err = begin(d, (struct ceremony_spec){ .kind = CEREMONY_REGISTER,
	    .user = user, .rhost = "", .service = "passkeyctl", .owner = owner,
	    .lifetime = d->cfg.ceremony_timeout }, 0, out);
	event_log(d, &(struct event_rec){ .event = "register_begin", .user = user,
	    .service = "passkeyctl", .verdict = err ? "refused" : "ok",
	    .reason = err ? ctl_refusal_code(err) : NULL, .c = *out,
	    .detail = "passkeyctl add", .noisy = err != CTL_REFUSAL_NONE });
	return err;
}

struct ceremony *
flow_find(struct passkeyd *d, const char *token, int *unavailable)
{
	*unavailable = 0;
	return d->fleet ? fleet_find(d, token, unavailable) : ceremony_find(d->ceremonies, token);
}

static void
expire_if_due(struct passkeyd *d, struct ceremony *c)
{
	time_t now = time(NULL);

	if (c->state == CTL_STATE_PENDING && !c->committing && now >= c->expires) {
		ceremony_finish(d->ceremonies, c, CTL_STATE_EXPIRED, "expired", now);
		flow_on_expire(c, d);
	}
}

void
flow_refresh(struct passkeyd *d, struct ceremony *c)
{
	/* in a fleet the store's row says first: decided or expired elsewhere */
	if (d->fleet && c->state == CTL_STATE_PENDING && !c->committing)
		(void)fleet_refresh(d, c);
	expire_if_due(d, c);
}

void
flow_refresh_page(struct passkeyd *d, struct ceremony *c)
{
	/*
	 * A ceremony begun here needs no read of its row before a step of
	 * the page: a verdict given elsewhere meanwhile is announced on this
	 * host's channel (fleet_notices), and an approval here moves the row
	 * only from pending (decide_row), so the store's verdict wins anyway.
	 * That is two reads of the store fewer per login on the event loop.
	 */
	if (d->fleet && c->foreign) {
		flow_refresh(d, c);
		return;
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

enum ctl_state
flow_status(struct passkeyd *d, struct ceremony *c)
{
	store_err_t err;
	const char *why;

	flow_refresh(d, c);
	if (c->state != CTL_STATE_APPROVED)
		return (enum ctl_state)c->state;
	/* in a fleet, single use is the store's: no approval leaves here without it */
	if (d->fleet && (err = fleet_move(d->store, c, CTL_STATE_APPROVED, CTL_STATE_USED,
	    NULL)) != STORE_OK) {
		why = err == STORE_ERR_CONFLICT ? "ceremony_used" : store_reason(d, err);
		ceremony_finish(d->ceremonies, c, CTL_STATE_FAILED, why, time(NULL));
		log_ceremony(d, c, "failed", "fail", why, 0);
		return CTL_STATE_FAILED;
	}
	c->state = CTL_STATE_USED;
	return CTL_STATE_APPROVED;
}

void
flow_cancel(struct passkeyd *d, struct ceremony *c, const char *why)
{
	flow_refresh(d, c);
	/* a committing approval is decided by the store, not by a cancel */
	if (c->state != CTL_STATE_PENDING || c->committing)
		return;
	/*
	 * Decided elsewhere meanwhile: follow that.  A store that cannot be
	 * reached cancels nothing there, but the link's row expires, and
	 * nobody waits for its verdict here any more.
	 */
	if (d->fleet && fleet_move(d->store, c, CTL_STATE_PENDING, CTL_STATE_CANCELLED,
	    why) == STORE_ERR_CONFLICT) {
		(void)fleet_refresh(d, c);
		return;
	}
	ceremony_finish(d->ceremonies, c, CTL_STATE_CANCELLED, why, time(NULL));
	log_ceremony(d, c, "cancelled", "fail", why, 0);
}

void
flow_deny(struct passkeyd *d, struct ceremony *c)
{
	store_err_t err;

	flow_refresh(d, c);
	if (c->state != CTL_STATE_PENDING || c->committing)
		return;
	/* a denial that the store does not hold denies nothing: the host would not know */
	if (d->fleet && (err = fleet_move(d->store, c, CTL_STATE_PENDING, CTL_STATE_DENIED,
	    "denied")) != STORE_OK) {
		if (err == STORE_ERR_CONFLICT)
			(void)fleet_refresh(d, c);
		else
			(void)store_refusal(d, err);	/* logged */
		return;
	}
	ceremony_finish(d->ceremonies, c, CTL_STATE_DENIED, "denied", time(NULL));
	/* someone the user did not expect tried to log in: say so loudly */
	log_ceremony(d, c, "denied", "deny", "denied", 0);
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
registration_handle(struct passkeyd *d, struct ceremony *c)
{
	store_err_t err;

	if (c->has_handle)
		return STORE_OK;
	err = store_user_handle(d->store, c->user, 0, c->user_handle);
	if (err == STORE_ERR_NOT_FOUND)
		err = store_random_handle(c->user_handle);
	/* in a fleet, the first instance to offer one fixes it for all */
	if (err == STORE_OK && d->fleet)
		err = fleet_set_handle(d, c);
	if (err == STORE_OK)
		c->has_handle = 1;
	return err;
}

json_t *
flow_options(struct passkeyd *d, struct ceremony *c, const char **err)
{
	struct store_credential_list creds = { 0 };
	json_int_t timeout_ms;
	json_t *pk = NULL;
	store_err_t serr;

	*err = "internal_error";
	timeout_ms = (json_int_t)(c->expires - time(NULL)) * 1000;
	if (timeout_ms < 1000)
		timeout_ms = 1000;
	if ((serr = store_cred_list_user(d->store, c->user, &creds)) != STORE_OK) {
		*err = store_reason(d, serr);
		return NULL;
	}
	if (c->kind == CEREMONY_LOGIN)
		pk = login_options(d, c, timeout_ms, &creds);
	else if ((serr = registration_handle(d, c)) != STORE_OK)
		*err = store_reason(d, serr);
	else
		pk = register_options(d, c, timeout_ms, &creds);
	store_credential_list_free(&creds);
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
	int lost;		/* and another instance had decided it first */
	/* login */
	unsigned char *cred_id;
	size_t cred_id_len;
	uint32_t sign_count;
	int must_grow, bs, regressed;
	/* registration */
	rp_credential_t *cred;
	struct store_credential rec;
	/*
	 * The re-approval window it opens: seconds, 0 for none (the
	 * ceremony's ask, capped by this instance's reuse_max: in a fleet
	 * the host that began it asked), and its ID once opened.
	 */
	unsigned reuse;
	char window[STORE_WINDOW_ID_LEN + 1];
};

static void
approval_free(struct approval *a)
{
	free(a->cred_id);
	rp_credential_free(&a->cred);
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
	store_err_t err;

	c->committing = 0;
	if (d->fleet && ((err = fleet_move(d->store, c, CTL_STATE_PENDING, CTL_STATE_FAILED,
	    reason)) == STORE_ERR_CONFLICT || err == STORE_ERR_NOT_FOUND) &&
	    fleet_refresh(d, c) && c->state != CTL_STATE_PENDING)
		return;
	ceremony_finish(d->ceremonies, c, CTL_STATE_FAILED, reason, time(NULL));
	log_ceremony(d, c, "failed", "fail", reason, 0);
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

/* The approval's audit row, in the approval's own transaction. */
static store_err_t
add_approved_row(store_t *st, const struct ceremony *c)
{
	char ev[40];
	struct store_event row;

	event_to_store(&(struct event_rec){ .event = kind_event(c, "approved", ev,
	    sizeof(ev)), .user = c->user, .rhost = c->rhost, .verdict = "ok" }, &row);
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
	int64_t now = (int64_t)time(NULL);
	struct store_window w;
	struct store_event row;
	char source[8], detail[160];
	store_err_t err;

	if (a->reuse == 0)
		return STORE_OK;
	snprintf(source, sizeof(source), "%.6s", c->token);
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

static store_err_t
login_apply(store_t *st, void *arg)
{
	struct approval *a = arg;
	struct ceremony *c = a->c;
	struct store_event row;
	store_err_t err;

	if ((err = decide_row(st, a)) != STORE_OK)
		return err;
	err = store_cred_record_use(st, a->cred_id, a->cred_id_len, a->sign_count,
	    a->must_grow, a->bs, (int64_t)time(NULL), c->rhost);
	if (err == STORE_OK && a->regressed) {
		event_to_store(&(struct event_rec){ .event = "sign_count_regressed",
		    .user = c->user, .rhost = c->rhost, .verdict = "warn",
		    .reason = "sign_count_regressed", .detail = "allowed by policy" }, &row);
		err = store_event_add(st, &row);
	}
	if (err == STORE_OK)
		err = add_approved_row(st, c);
	if (err == STORE_OK)
		err = open_window(st, a, a->cred_id, a->cred_id_len);
	return err;
}

static store_err_t
register_apply(store_t *st, void *arg)
{
	struct approval *a = arg;
	struct ceremony *c = a->c;
	store_err_t err;

	if ((err = decide_row(st, a)) != STORE_OK)
		return err;
	a->rec.created = (int64_t)time(NULL);
	err = store_cred_register(st, &a->rec, c->user_handle, c->consumes_enrollment,
	    (int64_t)time(NULL));
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
	char ev[40];

	if (result == STORE_OK) {
		ceremony_finish(d->ceremonies, c, CTL_STATE_APPROVED, NULL, time(NULL));
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
	} else if (a->lost) {
		/* decided elsewhere first: this instance follows the store's verdict */
		c->committing = 0;
		(void)fleet_refresh(d, c);
	} else {
		/* in a fleet the row's approval was rolled back with the rest */
		fail_everywhere(d, c, reason_of(d, result));
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
    struct approval *a)
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
    flow_finish_fn done, void *arg, const char **reason)
{
	rp_response_t *resp = NULL;
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
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		*reason = "internal_error";
	} else if ((rc = rp_response_from_json(body, len, &resp)) != RP_OK) {
		*reason = rp_err_code(rc);
	} else {
		a->c = c;
		a->done = done;
		a->arg = arg;
		a->fleet = d->fleet;
		a->reuse = flow_window_seconds(d, c);
		*reason = c->kind == CEREMONY_LOGIN ? verify_login(d, c, resp, a) :
		    verify_register(d, c, resp, a);
	}
	rp_response_free(&resp);
	if (*reason == NULL) {
		if (commit(d, a, c->kind == CEREMONY_LOGIN ? login_apply : register_apply))
			return 1;
		*reason = "store_busy";
	}
	if (a != NULL)
		approval_free(a);
	fail_everywhere(d, c, *reason);
	return 0;
}
