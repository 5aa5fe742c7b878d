/*
 * Credential management over the control socket: list, rename, remove,
 * export, the audit log and enrollment revocation (PROTOCOL.md).
 *
 * Who may do what is decided here, from the uid SO_PEERCRED gave, never
 * from the request: root may act on anyone; any other uid only on the
 * account its uid names, and only through IDs that resolve among that
 * account's own passkeys.  So a user probing someone else's passkey ID
 * learns exactly what probing a made-up one tells: unknown_credential.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_text.h"
#include "flow.h"
#include "manage.h"
#include "rp_b64url.h"

#define EVENTS_LIMIT_MAX	10000
#define EVENTS_LIMIT_DEFAULT	50
#define EVENTS_PAGE_ROWS	200	/* rows read for one page */
#define LIST_PAGE_ROWS		24	/* passkeys read for one page: what fits MANAGE_PAGE_BUDGET */

/*
 * The user a request is about: the caller itself when absent; another
 * account only for root.  Returns NULL for all users (root, absent).
 */
const char *
manage_subject(const struct op_ctx *x, enum ctl_refusal *refused)
{
	json_t *u = json_object_get(x->req, "user");
	const char *user = json_string_value(u);

	*refused = CTL_REFUSAL_NONE;
	if (u != NULL && !ctl_user_name_valid(user)) {
		*refused = CTL_REFUSAL_BAD_REQUEST;
		return NULL;
	}
	if (x->uid == 0)
		return user;
	if (user != NULL && strcmp(user, x->self) != 0) {
		*refused = CTL_REFUSAL_NOT_PERMITTED;
		return NULL;
	}
	return x->self;
}

/*
 * Rows are kept under the account's own spelling (pw_name), so root's
 * "ALICE" on a case-insensitive NSS (SSSD, winbind) must act on alice's:
 * else a revocation would find nothing and answer as if done.  A name NSS
 * does not know, or cannot answer for, is kept as typed: an account
 * removed from the directory may still have rows.
 */
enum ctl_refusal
manage_account(const struct op_ctx *x, const char *typed, char out[CTL_USER_MAX + 1],
    int *unsure)
{
	enum ctl_refusal refused = op_account_unsure(x, typed, out, unsure);

	if (out[0] == '\0' && !x->call->needs_account)
		snprintf(out, CTL_USER_MAX + 1, "%s", typed);
	return refused;
}

void
manage_short_id(const unsigned char *id, size_t len, char out[MANAGE_ID_HEX + 1])
{
	char full[STORE_ID_HASH_LEN + 1];

	store_id_hash(id, len, full);
	memcpy(out, full, MANAGE_ID_HEX);
	out[MANAGE_ID_HEX] = '\0';
}

void
manage_page_start(struct manage_page *p, const char *key)
{
	*p = (struct manage_page){ .used = 64 };
	strbuf_printf(&p->b, "{\"ok\":true,\"%s\":[", key);
}

int
manage_page_add(struct manage_page *p, json_t *o)
{
	char *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
	size_t len = text != NULL ? strlen(text) : 0;
	int fits = text != NULL && (p->n == 0 || p->used + len + 1 <= MANAGE_PAGE_BUDGET);

	json_decref(o);
	if (fits) {
		strbuf_printf(&p->b, "%s%s", p->n > 0 ? "," : "", text);
		p->used += len + 1;
		p->n++;
	}
	free(text);
	return fits && !p->b.failed;
}

json_t *
manage_page_end(struct manage_page *p, const char *tail, char **text)
{
	strbuf_printf(&p->b, "]%s%s}", tail != NULL ? "," : "", tail != NULL ? tail : "");
	if ((*text = strbuf_take(&p->b, NULL)) == NULL)
		return op_refuse(CTL_REFUSAL_INTERNAL_ERROR);
	return NULL;
}

static const char *
alg_name(int alg)
{
	switch (alg) {
	case -7: return "ES256";
	case -8: return "EdDSA";
	case -257: return "RS256";
	default: return "unknown";
	}
}

static json_t *
credential_json(const struct passkeyd *d, const struct store_credential *c)
{
	char sid[MANAGE_ID_HEX + 1], aaguid[37];
	char *id = rp_b64url_encode_alloc(c->id, c->id_len);
	json_t *o;

	if (id == NULL)
		return NULL;
	manage_short_id(c->id, c->id_len, sid);
	aaguid_format(c->aaguid, aaguid);
	o = json_pack("{s:s, s:s, s:s, s:s?, s:s, s:i, s:s, s:s?, s:s, s:s,"
	    " s:I, s:o?, s:s?, s:b, s:b, s:b, s:I, s:s}",
	    "short_id", sid, "id", id, "user", c->user, "nickname", c->nickname,
	    "alg", alg_name(c->alg), "cose_alg", c->alg, "aaguid", aaguid,
	    "authenticator", aaguid_table_name(d->aaguids, c->aaguid), "fmt", c->fmt,
	    "attestation", c->attestation, "created", (json_int_t)c->created,
	    "last_used", c->last_used ? json_integer((json_int_t)c->last_used) : NULL,
	    "last_address", c->last_addr != NULL && c->last_addr[0] ? c->last_addr : NULL,
	    "user_verified", c->uv != 0, "backup_eligible", c->be != 0,
	    "backed_up", c->bs != 0, "sign_count", (json_int_t)c->sign_count,
	    "rp_id", d->cfg.rp_id);
	free(id);
	return o;
}

static int
is_hex_prefix(const char *s)
{
	size_t n = strlen(s);

	if (n < MANAGE_ID_MIN || n > 64)
		return 0;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return 0;
	return 1;
}

/*
 * A passkey a request's "id" names, among those the caller may see: a
 * prefix (at least MANAGE_ID_MIN hex digits) of the passkey's short ID,
 * or its whole credential ID in base64url.  Both are one indexed lookup
 * in the store, however many passkeys it holds.  The request is checked
 * on the loop (lookup_prepare); the lookup itself (lookup_read) runs
 * where the op's store calls run: on an offload worker or in the journal.
 */
struct lookup {
	char owner[CTL_USER_MAX + 1];	/* "" for root: anyone's */
	char prefix[65];		/* a short ID's prefix, or "" */
	uint8_t *raw;			/* the whole credential ID, or NULL */
	size_t raw_len;
	enum ctl_refusal refused;	/* none such, or more than one */
	struct store_credential c;	/* the passkey, when found */
};

static enum ctl_refusal
lookup_prepare(const struct op_ctx *x, struct lookup *k)
{
	const char *id = json_string_value(json_object_get(x->req, "id"));

	memset(k, 0, sizeof(*k));
	if (id == NULL || strlen(id) == 0 || strlen(id) > 2048)
		return CTL_REFUSAL_BAD_REQUEST;
	if (x->uid != 0)
		snprintf(k->owner, sizeof(k->owner), "%s", x->self);
	if (is_hex_prefix(id))
		snprintf(k->prefix, sizeof(k->prefix), "%s", id);
	if (rp_b64url_decode_alloc(id, strlen(id), &k->raw, &k->raw_len) != 0 ||
	    k->raw_len == 0 || k->raw_len > STORE_CRED_ID_MAX) {
		free(k->raw);
		k->raw = NULL;
	}
	return k->prefix[0] != '\0' || k->raw != NULL ? CTL_REFUSAL_NONE :
	    CTL_REFUSAL_UNKNOWN_CREDENTIAL;
}

/* STORE_OK with k->c filled, or with k->refused; else the store's error. */
static store_err_t
lookup_read(store_t *st, struct lookup *k)
{
	const char *owner = k->owner[0] != '\0' ? k->owner : NULL;
	size_t matches = 0;
	store_err_t se;

	if (k->prefix[0] != '\0') {
		if ((se = store_cred_find(st, owner, k->prefix, &k->c, &matches)) != STORE_OK)
			return se;
		if (matches == 1)
			return STORE_OK;
		if (matches > 1) {
			k->refused = CTL_REFUSAL_AMBIGUOUS_ID;
			return STORE_OK;
		}
	}
	k->refused = CTL_REFUSAL_UNKNOWN_CREDENTIAL;
	if (k->raw == NULL)
		return STORE_OK;
	se = store_cred_get(st, k->raw, k->raw_len, &k->c);
	if (se == STORE_ERR_NOT_FOUND)
		return STORE_OK;
	if (se != STORE_OK)
		return se;
	/* someone else's: the same answer as for a made-up ID */
	if (owner != NULL && strcmp(k->c.user, owner) != 0) {
		store_credential_free(&k->c);
		memset(&k->c, 0, sizeof(k->c));
		return STORE_OK;
	}
	k->refused = CTL_REFUSAL_NONE;
	return STORE_OK;
}

static void
lookup_free(struct lookup *k)
{
	free(k->raw);
	store_credential_free(&k->c);
}

static int
get_cursor(json_t *req, json_int_t *cursor)
{
	json_t *c = json_object_get(req, "cursor");

	*cursor = 0;
	if (c == NULL)
		return 0;
	if (!json_is_integer(c) || json_integer_value(c) < 0)
		return -1;
	*cursor = json_integer_value(c);
	return 0;
}

/*
 * The user a listing is about, checked on the loop: "" for every user's
 * (root).  Root naming an account this system does not know is told
 * unknown_user when it has no passkeys either (a typo), which the read
 * learns from the store.
 */
struct subject {
	char user[CTL_USER_MAX + 1];
	int check_unknown;
	int unknown;
};

static enum ctl_refusal
subject_prepare(const struct op_ctx *x, int first_page, struct subject *s)
{
	enum ctl_refusal refused;
	const char *user = manage_subject(x, &refused);

	memset(s, 0, sizeof(*s));
	if (refused != CTL_REFUSAL_NONE)
		return refused;
	if (user != NULL)
		snprintf(s->user, sizeof(s->user), "%s", user);
	if (user != NULL && x->uid == 0) {
		int unsure;

		refused = manage_account(x, user, s->user, &unsure);
		s->check_unknown = first_page && refused == CTL_REFUSAL_UNKNOWN_USER;
		if (refused == CTL_REFUSAL_UNKNOWN_USER)
			refused = CTL_REFUSAL_NONE;	/* a typo only if it has no passkeys either */
	}
	return refused;
}

/* The user to read for, NULL for all; 1 (and s->unknown) for a typo. */
static int
subject_read(store_t *st, struct subject *s, const char **user)
{
	size_t n = 0;

	*user = s->user[0] != '\0' ? s->user : NULL;
	s->unknown = s->check_unknown && store_cred_count_user(st, *user, &n) == STORE_OK &&
	    n == 0;
	return s->unknown;
}

/* The refusal a read ended with: the store's, or the request's. */
static json_t *
read_refusal(struct passkeyd *d, store_err_t se, enum ctl_refusal refused)
{
	return op_refuse(se != STORE_OK ? store_refusal(d, se) : refused);
}

/*
 * Closes a page whose items are keyed by an integer: "next" (the key of
 * the last item sent) when more may follow.
 */
static json_t *
page_close(struct manage_page *page, int64_t last, int more, char **text)
{
	char tail[40] = "";

	if (last > 0 && more)
		snprintf(tail, sizeof(tail), "\"next\":%lld", (long long)last);
	return manage_page_end(page, tail[0] != '\0' ? tail : NULL, text);
}

/* A page of passkeys being read (manage_list). */
struct list_read {
	struct subject who;
	json_int_t cursor;
	struct store_credential_list list;
};

static store_err_t
list_read(store_t *st, void *arg)
{
	struct list_read *l = arg;
	const char *user;

	if (subject_read(st, &l->who, &user))
		return STORE_OK;
	return store_cred_page(st, user, l->cursor, LIST_PAGE_ROWS, &l->list);
}

static json_t *
list_answer(struct passkeyd *d, void *arg, store_err_t se, char **text)
{
	struct list_read *l = arg;
	struct manage_page page;
	json_t *out;
	size_t i;
	int64_t last = 0;

	if (se != STORE_OK || l->who.unknown)
		out = read_refusal(d, se, CTL_REFUSAL_UNKNOWN_USER);
	else {
		manage_page_start(&page, "credentials");
		for (i = 0; i < l->list.count && manage_page_add(&page,
		    credential_json(d, &l->list.items[i])); i++)
			last = l->list.items[i].seq;
		/* cut by the budget, or a full page: more may follow */
		out = page_close(&page, last, i < l->list.count ||
		    l->list.count == LIST_PAGE_ROWS, text);
	}
	store_credential_list_free(&l->list);
	free(l);
	return out;
}

/*
 * Keyset pages in creation order: "cursor" is the place of the last
 * passkey sent, so a page costs one indexed query of LIST_PAGE_ROWS rows
 * however large the inventory; root listing every user's passkeys holds
 * the loop for one page at a time, and in a fleet not even for its query
 * (op_read).
 */
json_t *
manage_list(struct op_ctx *x)
{
	struct list_read *l = calloc(1, sizeof(*l));
	enum ctl_refusal refused;
	int bad_cursor;

	if (l == NULL)
		return op_refuse(CTL_REFUSAL_INTERNAL_ERROR);
	bad_cursor = get_cursor(x->req, &l->cursor) != 0;
	refused = subject_prepare(x, l->cursor == 0, &l->who);
	if (x->call->needs_account) {
		free(l);
		return NULL;	/* served again once NSS has answered */
	}
	if (refused == CTL_REFUSAL_NONE && bad_cursor)
		refused = CTL_REFUSAL_BAD_REQUEST;
	if (refused != CTL_REFUSAL_NONE) {
		free(l);
		return op_refuse(refused);
	}
	return op_read(x, list_read, list_answer, l);
}

/*
 * A change to one passkey, written with its audit row in one transaction
 * of the journal; the answer waits for the commit.  The passkey the
 * request names is looked up there too, first (change_find): the loop
 * does not wait on the store for it, and what is changed is what was
 * found in the same transaction.
 */
struct change {
	struct lookup k;		/* rename, remove: the passkey named */
	enum ctl_refusal refused;	/* by the lookup: nothing was written */
	struct store_credential c;	/* the passkey (revoke: only its user) */
	char by[CTL_USER_MAX + 1];
	char sid[MANAGE_ID_HEX + 1];
	char detail[128];
	char name[STORE_NICKNAME_MAX + 1];	/* rename */
	int keep_last;				/* remove: refuse the last one */
	store_err_t kept;			/* remove: STORE_ERR_LAST when refused */
	int typed_only;				/* revoke: NSS could not say how the name is spelled */
	const char *event;
	struct control_reply *reply;
};

static void
change_free(struct change *ch)
{
	lookup_free(&ch->k);
	store_credential_free(&ch->c);
	free(ch);
}

/*
 * In the journal, before the change: the passkey, or ch->refused (and
 * nothing to write).  STORE_OK unless the store failed.
 */
static store_err_t
change_find(store_t *st, struct change *ch)
{
	store_err_t se = lookup_read(st, &ch->k);

	if (se != STORE_OK || (ch->refused = ch->k.refused) != CTL_REFUSAL_NONE)
		return se;
	ch->c = ch->k.c;
	memset(&ch->k.c, 0, sizeof(ch->k.c));
	manage_short_id(ch->c.id, ch->c.id_len, ch->sid);
	snprintf(ch->detail, sizeof(ch->detail), "id=%s by=%s", ch->sid, ch->by);
	return STORE_OK;
}

static store_err_t
change_row(store_t *st, struct change *ch, const char *verdict, const char *reason)
{
	struct store_event row;

	event_to_store(&(struct event_rec){ .event = ch->event, .user = ch->c.user,
	    .rhost = "", .verdict = verdict, .reason = reason, .detail = ch->detail }, &row);
	return store_event_add(st, &row);
}

static void
change_print(struct passkeyd *d, struct change *ch, const char *verdict,
    const char *reason)
{
	event_print(d, &(struct event_rec){ .event = ch->event, .user = ch->c.user,
	    .verdict = verdict, .reason = reason, .detail = ch->detail });
}

static enum ctl_refusal
refusal_of(struct passkeyd *d, store_err_t se)
{
	switch (se) {
	case STORE_OK:
		return CTL_REFUSAL_NONE;
	case STORE_ERR_LAST:
		return CTL_REFUSAL_LAST_PASSKEY;
	case STORE_ERR_NOT_FOUND:	/* removed meanwhile by another daemon */
		return CTL_REFUSAL_UNKNOWN_CREDENTIAL;
	default:
		return store_refusal(d, se);
	}
}

/* Prepares a change of the passkey the request names; NULL with *refused. */
static struct change *
change_new(struct op_ctx *x, const char *event, enum ctl_refusal *refused)
{
	struct change *ch = calloc(1, sizeof(*ch));

	*refused = CTL_REFUSAL_INTERNAL_ERROR;
	if (ch == NULL)
		return NULL;
	if ((*refused = lookup_prepare(x, &ch->k)) != CTL_REFUSAL_NONE) {
		change_free(ch);
		return NULL;
	}
	ch->event = event;
	snprintf(ch->by, sizeof(ch->by), "%s", x->uid == 0 ? "root" : x->self);
	return ch;
}

/* Queues the change; the handler returns NULL (deferred) or a refusal. */
static json_t *
change_queue(struct op_ctx *x, struct change *ch, journal_apply_fn apply,
    journal_done_fn done)
{
	json_t *refused = op_defer_write(x, &ch->reply, apply, done, ch);

	if (refused != NULL)
		change_free(ch);
	return refused;
}

static store_err_t
rename_apply(store_t *st, void *arg)
{
	struct change *ch = arg;
	store_err_t se = change_find(st, ch);

	if (se != STORE_OK || ch->refused != CTL_REFUSAL_NONE)
		return se;
	se = store_cred_rename(st, ch->c.id, ch->c.id_len, ch->name);
	return se == STORE_OK ? change_row(st, ch, "ok", NULL) : se;
}

static void
rename_done(struct passkeyd *d, void *arg, store_err_t se)
{
	struct change *ch = arg;

	if (se == STORE_OK && ch->refused != CTL_REFUSAL_NONE)
		control_answer(ch->reply, op_refuse(ch->refused));
	else {
		if (se == STORE_OK)
			change_print(d, ch, "ok", NULL);
		control_answer(ch->reply, se == STORE_OK ? op_ok() :
		    op_refuse(refusal_of(d, se)));
	}
	change_free(ch);
}

json_t *
manage_rename(struct op_ctx *x)
{
	const char *name = json_string_value(json_object_get(x->req, "name"));
	enum ctl_refusal err;
	struct change *ch;

	/* the store's rule for what a name may hold; empty is no name at all */
	if (name == NULL || name[0] == '\0' || !store_nickname_valid(name))
		return op_refuse(CTL_REFUSAL_BAD_NAME);
	if ((ch = change_new(x, "credential_renamed", &err)) == NULL)
		return op_refuse(err);
	snprintf(ch->name, sizeof(ch->name), "%s", name);
	return change_queue(x, ch, rename_apply, rename_done);
}

static store_err_t
remove_apply(store_t *st, void *arg)
{
	struct change *ch = arg;
	store_err_t se = change_find(st, ch);

	if (se != STORE_OK || ch->refused != CTL_REFUSAL_NONE)
		return se;
	se = ch->keep_last ? store_cred_remove_not_last(st, ch->c.id, ch->c.id_len) :
	    store_cred_remove(st, ch->c.id, ch->c.id_len);
	if (se == STORE_OK)
		return change_row(st, ch, "ok", NULL);
	/*
	 * The kept last passkey is worth a row too, with nothing removed: the
	 * row is this entry's whole change, so apply succeeds and done() learns
	 * the refusal from ch->kept.
	 */
	if (se == STORE_ERR_LAST) {
		ch->kept = se;
		return change_row(st, ch, "refused", "last_passkey");
	}
	return se;
}

static void
remove_done(struct passkeyd *d, void *arg, store_err_t se)
{
	struct change *ch = arg;
	json_t *out;

	if (se == STORE_OK && ch->refused != CTL_REFUSAL_NONE) {
		control_answer(ch->reply, op_refuse(ch->refused));
		change_free(ch);
		return;
	}
	if (se == STORE_OK && ch->kept != STORE_OK)
		se = ch->kept;
	if (se == STORE_OK)
		keycache_forget(d->keys, ch->c.id, ch->c.id_len);
	if (se == STORE_OK || se == STORE_ERR_LAST)
		change_print(d, ch, se == STORE_OK ? "ok" : "refused",
		    se == STORE_OK ? NULL : "last_passkey");
	out = se != STORE_OK ? op_refuse(refusal_of(d, se)) :
	    json_pack("{s:b, s:s, s:s}", "ok", 1, "short_id", ch->sid, "user", ch->c.user);
	control_answer(ch->reply, out);
	change_free(ch);
}

json_t *
manage_remove(struct op_ctx *x)
{
	json_t *force = json_object_get(x->req, "force");
	enum ctl_refusal err;
	struct change *ch;

	if (force != NULL && !json_is_boolean(force))
		return op_refuse(CTL_REFUSAL_BAD_REQUEST);
	if ((ch = change_new(x, "credential_removed", &err)) == NULL)
		return op_refuse(err);
	/* A user locks themselves out only when they say so; root may. */
	ch->keep_last = x->uid != 0 && !json_is_true(force);
	return change_queue(x, ch, remove_apply, remove_done);
}

static store_err_t
export_read(store_t *st, void *arg)
{
	return lookup_read(st, arg);
}

static json_t *
export_answer(struct passkeyd *d, void *arg, store_err_t se, char **text)
{
	struct lookup *k = arg;
	json_t *o = NULL;
	char *cose = NULL;

	(void)text;
	if (se != STORE_OK || k->refused != CTL_REFUSAL_NONE) {
		o = read_refusal(d, se, k->refused);
		lookup_free(k);
		free(k);
		return o;
	}
	o = credential_json(d, &k->c);
	cose = rp_b64url_encode_alloc(k->c.pubkey_cose, k->c.pubkey_len);
	if (o == NULL || cose == NULL ||
	    json_object_set_new(o, "public_key_cose", json_string(cose)) != 0) {
		json_decref(o);
		o = NULL;
	}
	free(cose);
	lookup_free(k);
	free(k);
	if (o == NULL)
		return op_refuse(CTL_REFUSAL_INTERNAL_ERROR);
	return json_pack("{s:b, s:o}", "ok", 1, "credential", o);
}

json_t *
manage_export(struct op_ctx *x)
{
	struct lookup *k = calloc(1, sizeof(*k));
	enum ctl_refusal err;

	if (k == NULL)
		return op_refuse(CTL_REFUSAL_INTERNAL_ERROR);
	if ((err = lookup_prepare(x, k)) != CTL_REFUSAL_NONE) {
		lookup_free(k);
		free(k);
		return op_refuse(err);
	}
	return op_read(x, export_read, export_answer, k);
}

static json_t *
event_json(const struct store_event *e)
{
	return json_pack("{s:I, s:s, s:s?, s:s?, s:s, s:s?, s:s?}",
	    "time", (json_int_t)e->time, "event", e->event, "user", e->user,
	    "address", e->addr != NULL && e->addr[0] ? e->addr : NULL,
	    "verdict", e->verdict, "reason", e->reason, "detail", e->detail);
}

/* A page of the audit log being read (manage_events). */
struct events_read {
	struct subject who;
	json_int_t cursor, limit;
	struct store_event_list list;
};

static store_err_t
events_read(store_t *st, void *arg)
{
	struct events_read *e = arg;
	const char *user = e->who.user[0] != '\0' ? e->who.user : NULL;
	store_err_t se = store_event_list(st, user, (size_t)(e->limit < EVENTS_PAGE_ROWS ?
	    e->limit : EVENTS_PAGE_ROWS), e->cursor, &e->list);

	/* a typo only with no events either: a removed account's are still kept */
	if (se == STORE_OK && e->list.count == 0)
		(void)subject_read(st, &e->who, &user);
	return se;
}

static json_t *
events_answer(struct passkeyd *d, void *arg, store_err_t se, char **text)
{
	struct events_read *e = arg;
	struct manage_page page;
	json_t *out;
	size_t i;
	int64_t last = 0;

	if (se != STORE_OK || e->who.unknown)
		out = read_refusal(d, se, CTL_REFUSAL_UNKNOWN_USER);
	else {
		manage_page_start(&page, "events");
		for (i = 0; i < e->list.count && manage_page_add(&page,
		    event_json(&e->list.items[i])); i++)
			last = e->list.items[i].id;
		/* cut by the budget, or a full page while the client wants more */
		out = page_close(&page, last, i < e->list.count ||
		    (e->list.count == EVENTS_PAGE_ROWS && (json_int_t)i < e->limit), text);
	}
	store_event_list_free(&e->list);
	free(e);
	return out;
}

/*
 * Keyset pages, newest first: "cursor" is the id the previous page ended
 * at, so each page costs the same however deep it is.  "limit" is what
 * the client still wants; "next" comes when more may follow.
 */
json_t *
manage_events(struct op_ctx *x)
{
	json_t *lim = json_object_get(x->req, "limit");
	struct events_read *e = calloc(1, sizeof(*e));
	enum ctl_refusal refused;

	if (e == NULL)
		return op_refuse(CTL_REFUSAL_INTERNAL_ERROR);
	e->limit = EVENTS_LIMIT_DEFAULT;
	refused = subject_prepare(x, json_object_get(x->req, "cursor") == NULL, &e->who);
	if (x->call->needs_account) {
		free(e);
		return NULL;	/* served again once NSS has answered */
	}
	if (refused == CTL_REFUSAL_NONE && ((lim != NULL && (!json_is_integer(lim) ||
	    json_integer_value(lim) < 1 || json_integer_value(lim) > EVENTS_LIMIT_MAX)) ||
	    get_cursor(x->req, &e->cursor) != 0))
		refused = CTL_REFUSAL_BAD_REQUEST;
	if (refused != CTL_REFUSAL_NONE) {
		free(e);
		return op_refuse(refused);
	}
	if (lim != NULL)
		e->limit = json_integer_value(lim);
	return op_read(x, events_read, events_answer, e);
}

static store_err_t
revoke_apply(store_t *st, void *arg)
{
	struct change *ch = arg;
	store_err_t se = store_enroll_remove(st, ch->c.user);

	return se == STORE_OK ? change_row(st, ch, "ok", NULL) : se;
}

static void
revoke_done(struct passkeyd *d, void *arg, store_err_t se)
{
	struct change *ch = arg;

	/*
	 * A registration link already handed out dies with the enrollment:
	 * its finish is refused (enrollment_not_pending).
	 */
	if (se == STORE_OK)
		change_print(d, ch, "ok", NULL);
	/* nothing under the name as typed: it may be spelled otherwise */
	control_answer(ch->reply, se == STORE_OK ? op_ok() :
	    op_refuse(se != STORE_ERR_NOT_FOUND ? refusal_of(d, se) : ch->typed_only ?
	    CTL_REFUSAL_DIRECTORY_BUSY : CTL_REFUSAL_NO_ENROLLMENT));
	change_free(ch);
}

json_t *
manage_revoke_enrollment(struct op_ctx *x)
{
	const char *user = json_string_value(json_object_get(x->req, "user"));
	char account[CTL_USER_MAX + 1];
	struct change *ch;
	int unsure;

	if (!ctl_user_name_valid(user))
		return op_refuse(CTL_REFUSAL_BAD_REQUEST);
	(void)manage_account(x, user, account, &unsure);
	if (x->call->needs_account)
		return NULL;	/* served again once NSS has answered */
	if ((ch = calloc(1, sizeof(*ch))) == NULL ||
	    (ch->c.user = strdup(account)) == NULL) {
		free(ch);
		return op_refuse(CTL_REFUSAL_INTERNAL_ERROR);
	}
	/* a directory outage does not block a revocation (revoke_done) */
	ch->typed_only = unsure;
	ch->event = "enrollment_revoked";
	snprintf(ch->detail, sizeof(ch->detail), "by=root");
	return change_queue(x, ch, revoke_apply, revoke_done);
}
