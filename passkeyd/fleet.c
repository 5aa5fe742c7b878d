/*
 * The fleet's ceremonies: the local table and the store's rows kept in
 * step (fleet.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fleet.h"
#include "rp_err.h"

#define FLEET_SWEEP_BATCH	256

/*
 * A reason read from the store, as one of ours: c->reason points at
 * static codes only, and only codes we know may reach a page or the log.
 */
static const char *
known_reason(const char *r)
{
	static const char *const fixed[] = { "expired", "denied", "cancelled", "client_gone",
	    "credential_not_allowed", "credential_exists", "enrollment_not_pending",
	    "ceremony_used", "internal_error" };
	enum ctl_refusal cr;

	if (r == NULL)
		return NULL;
	if ((cr = ctl_refusal_from_code(r)) != CTL_REFUSAL__COUNT)
		return ctl_refusal_code(cr);
	for (int i = 0; i < RP_ERR__COUNT; i++)
		if (strcmp(rp_err_code(i), r) == 0)
			return rp_err_code(i);
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (strcmp(fixed[i], r) == 0)
			return fixed[i];
	return "failed";
}

void
fleet_row_of(const struct ceremony *c, struct store_ceremony *row)
{
	memset(row, 0, sizeof(*row));
	ceremony_token_hash(c->token, row->token_hash);
	row->hostname = (char *)c->hostname;
	row->kind = c->kind == CEREMONY_REGISTER;
	snprintf(row->code, sizeof(row->code), "%s", c->code);
	row->user = c->user;
	row->rhost = c->rhost;
	row->service = c->service;
	row->addr_key = c->addr_key;
	memcpy(row->challenge, c->challenge, sizeof(row->challenge));
	row->consumes_enrollment = c->consumes_enrollment;
	row->reuse = (int)c->reuse;
	snprintf(row->client_key, sizeof(row->client_key), "%s", c->client_key);
	row->requester = c->requester;
	row->local = c->local;
	row->created = (int64_t)c->created;
	row->expires = (int64_t)c->expires;
}

enum ctl_refusal
fleet_published(struct passkeyd *d, store_err_t err, const char *refusal)
{
	enum ctl_refusal r;

	if (err == STORE_OK)
		return CTL_REFUSAL_NONE;
	if (err == STORE_ERR_LIMIT)
		return (r = ctl_refusal_from_code(refusal)) != CTL_REFUSAL__COUNT ? r :
		    CTL_REFUSAL_LIMIT_TOTAL;
	return store_refusal(d, err);
}

enum ctl_refusal
fleet_publish(struct passkeyd *d, struct ceremony *c)
{
	struct store_ceremony row;
	char refusal[32] = "";
	store_err_t err;

	fleet_row_of(c, &row);
	err = store_ceremony_add(d->store, &row, refusal, sizeof(refusal));
	explicit_bzero(row.challenge, sizeof(row.challenge));
	return fleet_published(d, err, refusal);
}

/* The row's secrets and times, for a ceremony another instance began. */
static void
take_row(struct ceremony *c, const struct store_ceremony *row)
{
	c->kind = row->kind ? CEREMONY_REGISTER : CEREMONY_LOGIN;
	snprintf(c->code, sizeof(c->code), "%.*s", CEREMONY_CODE_LEN, row->code);
	memcpy(c->challenge, row->challenge, sizeof(c->challenge));
	if ((c->has_handle = (uint8_t)row->has_handle))
		memcpy(c->user_handle, row->user_handle, sizeof(c->user_handle));
	c->consumes_enrollment = (uint8_t)row->consumes_enrollment;
	c->reuse = row->reuse > 0 ? (uint32_t)row->reuse : 0;
	c->local = row->local != 0;
	c->created = (time_t)row->created;
	c->expires = (time_t)row->expires;
}

/* Follows the row's state: an end decided elsewhere ends it here too. */
static void
follow_state(struct passkeyd *d, struct ceremony *c, const struct store_ceremony *row)
{
	enum ctl_state s = ctl_state_from_name(row->state);
	char ev[40];

	if (s == CTL_STATE__COUNT || s == (enum ctl_state)c->state)
		return;
	if (c->state == CTL_STATE_PENDING && s != CTL_STATE_PENDING) {
		ceremony_finish(d->ceremonies, c, s, known_reason(row->reason),
		    row->finished > 0 ? (time_t)row->finished : time(NULL));
		if (!c->foreign) {	/* our host's log says how its login ended */
			snprintf(ev, sizeof(ev), "%s_%s", c->kind == CEREMONY_LOGIN ? "login" :
			    "register", ctl_state_name(s));
			event_print(d, &(struct event_rec){ .event = ev, .user = c->user,
			    .rhost = c->rhost, .verdict = s == CTL_STATE_APPROVED ? "ok" : "fail",
			    .reason = c->reason, .detail = "decided by the fleet", .c = c });
		}
	} else if (c->state == CTL_STATE_APPROVED && s == CTL_STATE_USED) {
		c->state = CTL_STATE_USED;
	}
}

int
fleet_follow_row(struct passkeyd *d, struct ceremony *c, store_err_t err,
    const struct store_ceremony *row)
{
	if (err != STORE_OK) {
		/* another instance's row, forgotten: it ended long ago */
		if (err == STORE_ERR_NOT_FOUND && c->foreign && c->state == CTL_STATE_PENDING)
			ceremony_finish(d->ceremonies, c, CTL_STATE_EXPIRED, "expired", time(NULL));
		else if (err != STORE_ERR_NOT_FOUND)
			(void)store_refusal(d, err);	/* logged */
		return 0;
	}
	if (c->foreign && c->state == CTL_STATE_PENDING)
		take_row(c, row);
	follow_state(d, c, row);
	return 1;
}

int
fleet_refresh(struct passkeyd *d, struct ceremony *c)
{
	struct store_ceremony row;
	store_err_t err;
	uint8_t hash[CEREMONY_HASH_LEN];
	int followed;

	ceremony_token_hash(c->token, hash);
	err = store_ceremony_get(d->store, hash, &row);
	followed = fleet_follow_row(d, c, err, &row);
	if (err == STORE_OK)
		store_ceremony_free(&row);
	return followed;
}

struct ceremony *
fleet_adopt(struct passkeyd *d, const char *token, store_err_t err,
    const struct store_ceremony *row, int *unavailable)
{
	struct ceremony *c;

	*unavailable = 0;
	if (err != STORE_OK) {
		if (err != STORE_ERR_NOT_FOUND) {
			*unavailable = 1;
			(void)store_refusal(d, err);	/* logged */
		}
		return NULL;
	}
	c = ceremony_adopt(d->ceremonies, token, row->user, row->rhost, row->service,
	    row->hostname, row->client_key, row->requester != NULL ? row->requester : "");
	if (c != NULL) {
		take_row(c, row);
		follow_state(d, c, row);
	}
	return c;
}

struct ceremony *
fleet_find(struct passkeyd *d, const char *token, int *unavailable)
{
	struct store_ceremony row;
	struct ceremony *c = ceremony_find(d->ceremonies, token);
	uint8_t hash[CEREMONY_HASH_LEN];
	store_err_t err;

	*unavailable = 0;
	/*
	 * Known here: its caller brings it up to date (flow_refresh, which
	 * reads the row; before a page step, only another instance's).
	 */
	if (c != NULL)
		return c;
	if (!ceremony_token_valid(token))
		return NULL;
	ceremony_token_hash(token, hash);
	err = store_ceremony_get(d->store, hash, &row);
	c = fleet_adopt(d, token, err, &row, unavailable);
	if (err == STORE_OK)
		store_ceremony_free(&row);
	return c;
}

store_err_t
fleet_move(store_t *st, const struct ceremony *c, enum ctl_state from, enum ctl_state to,
    const char *reason)
{
	uint8_t hash[CEREMONY_HASH_LEN];

	ceremony_token_hash(c->token, hash);
	return store_ceremony_move(st, hash, ctl_state_name(from), ctl_state_name(to), reason,
	    (int64_t)time(NULL));
}

/* A row read off the loop for a notice (offload.h). */
struct notice_read {
	char token[CEREMONY_TOKEN_LEN + 1];
	uint8_t hash[CEREMONY_HASH_LEN];
	store_err_t err;
	struct store_ceremony row;
};

static store_err_t
notice_read_call(store_t *st, void *arg)
{
	struct notice_read *n = arg;

	n->err = store_ceremony_get(st, n->hash, &n->row);
	return STORE_OK;
}

static void
notice_read_done(struct passkeyd *d, void *arg, store_err_t result)
{
	struct notice_read *n = arg;
	struct ceremony *c = ceremony_find(d->ceremonies, n->token);

	if (result != STORE_OK)	/* not run at all (the daemon stopping) */
		n->err = result;
	if (c != NULL) {
		c->calls--;
		/* what happened here meanwhile stands: the row is followed only from pending */
		if (c->state == CTL_STATE_PENDING && !c->committing)
			(void)fleet_follow_row(d, c, n->err, &n->row);
	}
	if (n->err == STORE_OK)
		store_ceremony_free(&n->row);
	free(n);
}

/* Reads c's row off the loop when it can (1), else not at all (0). */
static int
refresh_later(struct passkeyd *d, struct ceremony *c)
{
	struct notice_read *n;

	if (!offload_ready(d->offload) || c->calls == UINT8_MAX ||
	    (n = calloc(1, sizeof(*n))) == NULL)
		return 0;
	memcpy(n->token, c->token, sizeof(n->token));
	ceremony_token_hash(c->token, n->hash);
	if (offload_add(d->offload, notice_read_call, notice_read_done, n) != 0) {
		free(n);
		return 0;
	}
	c->calls++;
	return 1;
}

static void
on_notice(const unsigned char hash[STORE_TOKEN_HASH_LEN], void *arg)
{
	struct passkeyd *d = arg;
	struct ceremony *c = ceremony_find_hash(d->ceremonies, hash);

	/* a notice is a hint, anyone may send one: only the row is believed */
	if (c != NULL && !c->foreign && c->state == CTL_STATE_PENDING && !c->committing &&
	    !refresh_later(d, c))
		(void)fleet_refresh(d, c);
}

void
fleet_notices(struct passkeyd *d)
{
	(void)store_notices(d->store, on_notice, d);
}

int
fleet_notice_fd(struct passkeyd *d)
{
	return store_notice_fd(d->store);
}

int
fleet_instance_init(struct passkeyd *d)
{
	return store_instance_new(d->instance) == STORE_OK ? 0 : -1;
}

void
fleet_instance_of(struct passkeyd *d, store_t *st)
{
	/* a failure is the connection's: the setting is made again with it */
	(void)store_set_instance(st, d->instance);
	/* what it decides is announced from the loop's listening connection */
	if (d->store != NULL && st != d->store)
		(void)store_set_announcer(st, d->store);
}

void
fleet_announce(struct passkeyd *d)
{
	/* unavailable: the listening connection is being made again (fleet_notices) */
	(void)store_announce(d->store);
}

/* The fleet's expiry, each second, off the loop when it can be. */
struct sweep {
	int64_t now;
	size_t expired, forgotten;
	store_err_t err;
};

static store_err_t
sweep_call(store_t *st, void *arg)
{
	struct sweep *w = arg;

	w->err = store_ceremony_sweep(st, w->now, w->now - CEREMONY_KEEP_FINAL,
	    FLEET_SWEEP_BATCH, &w->expired, &w->forgotten);
	return STORE_OK;
}

static void
sweep_done(struct passkeyd *d, void *arg, store_err_t result)
{
	struct sweep *w = arg;

	if (result != STORE_OK)	/* not run at all (the daemon stopping) */
		w->err = result;
	d->fleet_sweeping = 0;
	if (w->err != STORE_OK && w->err != STORE_ERR_UNAVAILABLE)
		(void)store_refusal(d, w->err);	/* logged */
	free(w);
}

void
fleet_tick(struct passkeyd *d)
{
	struct sweep *w;

	/* one at a time: a slow one is not joined by the next second's */
	if (!d->fleet_sweeping && (w = calloc(1, sizeof(*w))) != NULL) {
		w->now = (int64_t)time(NULL);
		d->fleet_sweeping = 1;
		offload_call(d->offload, d, d->store, sweep_call, sweep_done, w);
	}
	/* a notice lost while the listening connection was down: read again */
	fleet_notices(d);
}
