/*
 * Listing and ending re-approval windows (sessions.h).  A window is
 * opened only by an approval (flow.c); here it is shown or ended, and an
 * end is written with its audit row before it is answered.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl_text.h"
#include "manage.h"
#include "sessions.h"


static json_t *
window_json(const struct store_window *w)
{
	char sid[MANAGE_ID_HEX + 1];

	manage_short_id(w->cred_id, w->cred_id_len, sid);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I}",
	    "id", w->id, "user", w->user, "service", w->service, "rhost", w->rhost,
	    "client_key", w->client_key, "host", w->hostname, "source", w->source,
	    "credential", sid, "opened", (json_int_t)w->opened,
	    "expires", (json_int_t)w->expires, "last_used", (json_int_t)w->last_used,
	    "uses", (json_int_t)w->uses);
}

/* Windows read for one page: about what fits MANAGE_PAGE_BUDGET (some 330 bytes each). */
#define SESSIONS_PAGE_ROWS	20

/*
 * "cursor": "OPENED:ID", the last window of the page before, as "next"
 * gave it (0: the request has none; -1: it is malformed).
 */
static int
get_window_cursor(json_t *req, struct store_window_key *key)
{
	json_t *c = json_object_get(req, "cursor");
	const char *s = json_string_value(c), *colon;
	char *end;
	long long opened;

	if (c == NULL)
		return 0;
	if (s == NULL || (colon = strchr(s, ':')) == NULL || colon == s || colon - s > 19 ||
	    strspn(s, "0123456789") != (size_t)(colon - s))
		return -1;
	opened = strtoll(s, &end, 10);
	if (end != colon || !store_window_id_ok(colon + 1))
		return -1;
	key->opened = opened;
	memcpy(key->id, colon + 1, sizeof(key->id));
	return 1;
}

/* A page of windows being read (sessions_list). */
struct page_read {
	char user[CTL_USER_MAX + 1];	/* "" for everyone's (root) */
	int has;			/* a cursor: the page starts after `after` */
	struct store_window_key after;
	struct store_window_list list;
	int64_t now;			/* the windows' clock when asked (wallclock.h) */
};

static store_err_t
page_read(store_t *st, void *arg)
{
	struct page_read *p = arg;

	return store_window_page(st, p->user[0] != '\0' ? p->user : NULL, p->now,
	    p->has ? &p->after : NULL, SESSIONS_PAGE_ROWS, &p->list);
}

static json_t *
page_answer(struct passkeyd *d, void *arg, store_err_t se, char **text)
{
	struct page_read *p = arg;
	struct store_window_key last;
	struct manage_page page;
	char tail[64] = "";
	json_t *out;
	size_t i;

	if (se != STORE_OK)
		out = op_refuse(store_refusal(d, se));
	else {
		manage_page_start(&page, "sessions");
		for (i = 0; i < p->list.count && manage_page_add(&page,
		    window_json(&p->list.items[i])); i++) {
			last.opened = p->list.items[i].opened;
			memcpy(last.id, p->list.items[i].id, sizeof(last.id));
		}
		/* cut by the budget, or a full page: more may follow */
		if (i > 0 && (i < p->list.count || p->list.count == SESSIONS_PAGE_ROWS))
			snprintf(tail, sizeof(tail), "\"next\":\"%lld:%s\"",
			    (long long)last.opened, last.id);
		out = manage_page_end(&page, tail[0] != '\0' ? tail : NULL, text);
	}
	store_window_list_free(&p->list);
	free(p);
	return out;
}

/*
 * Keyset pages oldest first: a page is one indexed range of
 * SESSIONS_PAGE_ROWS windows (store_window_page) however many there are,
 * so root listing everyone's holds the loop for one page at a time, and
 * in a fleet not even for its query (op_read).
 */
json_t *
sessions_list(struct op_ctx *x)
{
	struct page_read *p = calloc(1, sizeof(*p));
	enum ctl_refusal refused;
	const char *user;
	int unsure;

	if (p == NULL)
		return op_refuse(CTL_REFUSAL_INTERNAL_ERROR);
	p->now = wallclock_now(&x->d->wall);
	user = manage_subject(x, &refused);
	if (refused == CTL_REFUSAL_NONE && user != NULL && x->uid == 0)
		refused = manage_account(x, user, p->user, &unsure);
	else if (user != NULL)
		snprintf(p->user, sizeof(p->user), "%s", user);
	if (x->call->needs_account) {
		free(p);
		return NULL;	/* served again once NSS has answered */
	}
	if (refused == CTL_REFUSAL_UNKNOWN_USER)
		refused = CTL_REFUSAL_NONE;	/* a removed account's windows, or none */
	if (refused == CTL_REFUSAL_NONE && (p->has = get_window_cursor(x->req, &p->after)) < 0)
		refused = CTL_REFUSAL_BAD_REQUEST;
	if (refused != CTL_REFUSAL_NONE) {
		free(p);
		return op_refuse(refused);
	}
	return op_read(x, page_read, page_answer, p);
}

/* An end of windows on its way to the store. */
struct revoke {
	char id[STORE_WINDOW_ID_LEN + 1];	/* "" for all */
	char user[CTL_USER_MAX + 1];		/* "" for anyone's */
	char detail[128];
	size_t n;
	int audit;		/* this instance's role writes the audit log (a host's does not) */
	int typed_only;		/* root's user: NSS could not say how it is spelled */
	struct control_reply *reply;
};

static store_err_t
revoke_apply(store_t *st, void *arg)
{
	struct revoke *r = arg;
	struct store_event row;
	char *at;
	store_err_t se;

	se = store_window_revoke(st, r->id[0] != '\0' ? r->id : NULL,
	    r->user[0] != '\0' ? r->user : NULL, &r->n);
	if (se != STORE_OK || r->n == 0 || !r->audit)
		return se;
	at = r->detail + strlen(r->detail);
	snprintf(at, sizeof(r->detail) - (size_t)(at - r->detail), " count=%zu", r->n);
	event_to_store(&(struct event_rec){ .event = "window_revoked",
	    .user = r->user[0] != '\0' ? r->user : NULL, .rhost = "", .verdict = "ok",
	    .detail = r->detail }, &row);
	return store_event_add(st, &row);
}

static void
revoke_done(struct passkeyd *d, void *arg, store_err_t se)
{
	struct revoke *r = arg;

	if (se == STORE_OK && r->n > 0)
		event_print(d, &(struct event_rec){ .event = "window_revoked",
		    .user = r->user[0] != '\0' ? r->user : NULL, .verdict = "ok" });
	if (se != STORE_OK)
		control_answer(r->reply, op_refuse(store_refusal(d, se)));
	else if (r->n == 0 && r->typed_only)	/* the name may be spelled otherwise */
		control_answer(r->reply, op_refuse(CTL_REFUSAL_DIRECTORY_BUSY));
	else if (r->n == 0 && r->id[0] != '\0')
		control_answer(r->reply, op_refuse(CTL_REFUSAL_UNKNOWN_WINDOW));
	else
		control_answer(r->reply, json_pack("{s:b, s:I}", "ok", 1, "revoked",
		    (json_int_t)r->n));
	free(r);
}

/* {"id": ID} ends one window, {"all": true} all of the subject's (root, no user: everyone's). */
json_t *
sessions_revoke(struct op_ctx *x)
{
	const char *id = json_string_value(json_object_get(x->req, "id")), *user;
	json_t *all = json_object_get(x->req, "all"), *refused_json;
	char account[CTL_USER_MAX + 1];
	enum ctl_refusal refused;
	int typed_only = 0;
	struct revoke *r;

	user = manage_subject(x, &refused);
	if (refused != CTL_REFUSAL_NONE)
		return op_refuse(refused);
	/* exactly one of the two */
	if ((id != NULL) == json_is_true(all) || (id != NULL && !store_window_id_ok(id)) ||
	    (all != NULL && !json_is_boolean(all)) ||
	    (json_object_get(x->req, "id") != NULL && id == NULL))
		return op_refuse(CTL_REFUSAL_BAD_REQUEST);
	if (user != NULL && x->uid == 0) {
		(void)manage_account(x, user, account, &typed_only);
		if (x->call->needs_account)
			return NULL;	/* served again once NSS has answered */
		/* a directory outage does not block a revocation (revoke_done) */
		user = account;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return op_refuse(CTL_REFUSAL_INTERNAL_ERROR);
	snprintf(r->id, sizeof(r->id), "%s", id != NULL ? id : "");
	snprintf(r->user, sizeof(r->user), "%s", user != NULL ? user : "");
	snprintf(r->detail, sizeof(r->detail), "id=%s by=%s", id != NULL ? id : "all",
	    x->uid == 0 ? "root" : x->self);
	r->audit = x->d->audit_rows;
	r->typed_only = typed_only;
	if ((refused_json = op_defer_write(x, &r->reply, revoke_apply, revoke_done, r)) != NULL)
		free(r);
	return refused_json;
}
