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
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "control.h"
#include "ctl_text.h"
#include "manage.h"
#include "rp_b64url.h"

/* Answers stay under the protocol's line bound (CTL_MAX_LINE, 8192). */
#define PAGE_BUDGET		6500
#define EVENTS_LIMIT_MAX	10000
#define EVENTS_LIMIT_DEFAULT	50

/* The caller: its uid and, unless root, the account it names. */
struct caller {
	uid_t uid;
	char name[CTL_USER_MAX + 1];
};

static int
caller_init(uid_t uid, struct caller *who)
{
	struct passwd *pw;

	who->uid = uid;
	who->name[0] = '\0';
	if (uid == 0)
		return 0;
	if ((pw = getpwuid(uid)) == NULL || !ctl_user_name_valid(pw->pw_name))
		return -1;
	snprintf(who->name, sizeof(who->name), "%s", pw->pw_name);
	return 0;
}

/*
 * The user a request is about: the caller itself when absent; another
 * account only for root.  Returns NULL for all users (root, absent).
 */
static const char *
subject(const struct caller *who, json_t *req, const char **refused)
{
	json_t *u = json_object_get(req, "user");
	const char *user = json_string_value(u);

	*refused = NULL;
	if (u != NULL && !ctl_user_name_valid(user)) {
		*refused = "bad_request";
		return NULL;
	}
	if (who->uid == 0)
		return user;
	if (user != NULL && strcmp(user, who->name) != 0) {
		*refused = "not_permitted";
		return NULL;
	}
	return who->name;
}

/* The whole hex SHA-256 of a credential ID; short IDs are its prefix. */
static void
id_hash_hex(const unsigned char *id, size_t len, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	memset(md, 0, sizeof(md));
	EVP_Digest(id, len, md, &mdlen, EVP_sha256(), NULL);
	for (size_t i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
}

void
manage_short_id(const unsigned char *id, size_t len, char out[MANAGE_ID_HEX + 1])
{
	char full[65];

	id_hash_hex(id, len, full);
	memcpy(out, full, MANAGE_ID_HEX);
	out[MANAGE_ID_HEX] = '\0';
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
	    "authenticator", aaguid_name(c->aaguid), "fmt", c->fmt,
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

/* 1 when the full hex SHA-256 of the credential ID starts with prefix. */
static int
hash_matches(const struct store_credential *c, const char *prefix)
{
	char full[65];

	id_hash_hex(c->id, c->id_len, full);
	return strncmp(full, prefix, strlen(prefix)) == 0;
}

/*
 * Resolves the request's "id" among the passkeys the caller may see: a
 * prefix (at least MANAGE_ID_MIN hex digits) of the passkey's short ID, or
 * its whole credential ID in base64url.  On success *out is a copy the
 * caller frees with store_credential_free.
 */
static const char *
resolve(struct passkeyd *d, const struct caller *who, json_t *req,
    struct store_credential *out)
{
	const char *id = json_string_value(json_object_get(req, "id"));
	struct store_credential_list list;
	const char *err = "unknown_credential";
	size_t found = 0, at = 0;
	uint8_t *raw = NULL;
	size_t raw_len = 0;
	store_err_t se;

	memset(out, 0, sizeof(*out));
	if (id == NULL || strlen(id) == 0 || strlen(id) > 2048)
		return "bad_request";
	se = who->uid == 0 ? store_cred_list_all(d->store, &list) :
	    store_cred_list_user(d->store, who->name, &list);
	if (se != STORE_OK)
		return "store_error";
	if (is_hex_prefix(id)) {
		for (size_t i = 0; i < list.count; i++)
			if (hash_matches(&list.items[i], id)) {
				found++;
				at = i;
			}
	}
	if (found == 0 && rp_b64url_decode_alloc(id, strlen(id), &raw, &raw_len) == 0) {
		for (size_t i = 0; i < list.count; i++)
			if (list.items[i].id_len == raw_len &&
			    memcmp(list.items[i].id, raw, raw_len) == 0) {
				found = 1;
				at = i;
			}
		free(raw);
	}
	if (found == 1) {
		/* hand over the one item; the list frees the rest */
		*out = list.items[at];
		memset(&list.items[at], 0, sizeof(list.items[at]));
		err = NULL;
	} else if (found > 1)
		err = "ambiguous_id";
	store_credential_list_free(&list);
	return err;
}

/* Appends items from *cursor on while the answer stays under budget. */
static json_t *
page(json_t *all, json_int_t cursor, const char *key)
{
	json_t *items = json_array(), *out;
	size_t used = 64, n = json_array_size(all), i;

	for (i = (size_t)cursor; items != NULL && i < n; i++) {
		char *s = json_dumps(json_array_get(all, i), JSON_COMPACT);
		size_t len = s ? strlen(s) : 0;

		free(s);
		if (s == NULL || (used + len + 1 > PAGE_BUDGET && json_array_size(items) > 0))
			break;
		used += len + 1;
		json_array_append(items, json_array_get(all, i));
	}
	out = json_pack("{s:b, s:o}", "ok", 1, key, items);
	if (out != NULL && i < n)
		json_object_set_new(out, "next", json_integer((json_int_t)i));
	json_decref(all);
	return out;
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

/* An account that neither exists here nor has passkeys is a typo. */
static int
unknown_user(struct passkeyd *d, const char *user)
{
	size_t n = 0;

	if (getpwnam(user) != NULL)
		return 0;
	return store_cred_count_user(d->store, user, &n) == STORE_OK && n == 0;
}

json_t *
manage_list(struct passkeyd *d, uid_t uid, json_t *req)
{
	struct store_credential_list list;
	const char *user, *refused;
	struct caller who;
	json_int_t cursor;
	json_t *all;

	if (caller_init(uid, &who) != 0)
		return control_refusal("not_permitted");
	user = subject(&who, req, &refused);
	if (refused != NULL)
		return control_refusal(refused);
	if (get_cursor(req, &cursor) != 0)
		return control_refusal("bad_request");
	if (user != NULL && uid == 0 && unknown_user(d, user))
		return control_refusal("unknown_user");
	if ((user != NULL ? store_cred_list_user(d->store, user, &list) :
	    store_cred_list_all(d->store, &list)) != STORE_OK)
		return control_refusal("store_error");
	all = json_array();
	for (size_t i = 0; all != NULL && i < list.count; i++)
		if (json_array_append_new(all, credential_json(d, &list.items[i])) != 0) {
			json_decref(all);
			all = NULL;
		}
	store_credential_list_free(&list);
	if (all == NULL)
		return control_refusal("internal_error");
	return page(all, cursor, "credentials");
}

static void
log_change(struct passkeyd *d, const char *event, const struct caller *who,
    const struct store_credential *c, const char *verdict, const char *reason)
{
	char sid[MANAGE_ID_HEX + 1], detail[128];

	manage_short_id(c->id, c->id_len, sid);
	snprintf(detail, sizeof(detail), "id=%s by=%s", sid,
	    who->uid == 0 ? "root" : who->name);
	event_log(d, event, c->user, "", verdict, reason, NULL, detail);
}

json_t *
manage_rename(struct passkeyd *d, uid_t uid, json_t *req)
{
	const char *name = json_string_value(json_object_get(req, "name"));
	struct store_credential c;
	struct caller who;
	const char *err;
	store_err_t se;

	if (caller_init(uid, &who) != 0)
		return control_refusal("not_permitted");
	/* the store's rule for what a name may hold; empty is no name at all */
	if (name == NULL || name[0] == '\0' || !store_nickname_valid(name))
		return control_refusal("bad_name");
	if ((err = resolve(d, &who, req, &c)) != NULL)
		return control_refusal(err);
	se = store_cred_rename(d->store, c.id, c.id_len, name);
	if (se == STORE_OK)
		log_change(d, "credential_renamed", &who, &c, "ok", NULL);
	store_credential_free(&c);
	if (se == STORE_ERR_NOT_FOUND)	/* removed meanwhile by another daemon */
		return control_refusal("unknown_credential");
	if (se != STORE_OK)
		return control_refusal("store_error");
	return json_pack("{s:b}", "ok", 1);
}

json_t *
manage_remove(struct passkeyd *d, uid_t uid, json_t *req)
{
	json_t *force = json_object_get(req, "force");
	char sid[MANAGE_ID_HEX + 1];
	struct store_credential c;
	struct caller who;
	const char *err;
	store_err_t se;
	json_t *out;

	if (caller_init(uid, &who) != 0)
		return control_refusal("not_permitted");
	if (force != NULL && !json_is_boolean(force))
		return control_refusal("bad_request");
	if ((err = resolve(d, &who, req, &c)) != NULL)
		return control_refusal(err);
	/* A user locks themselves out only when they say so; root may. */
	if (uid == 0 || json_is_true(force))
		se = store_cred_remove(d->store, c.id, c.id_len);
	else
		se = store_cred_remove_not_last(d->store, c.id, c.id_len);
	if (se == STORE_OK)
		log_change(d, "credential_removed", &who, &c, "ok", NULL);
	else if (se == STORE_ERR_LAST)
		log_change(d, "credential_removed", &who, &c, "refused", "last_passkey");
	manage_short_id(c.id, c.id_len, sid);
	out = json_pack("{s:b, s:s, s:s}", "ok", 1, "short_id", sid, "user", c.user);
	store_credential_free(&c);
	if (se == STORE_OK)
		return out;
	json_decref(out);
	if (se == STORE_ERR_LAST)
		return control_refusal("last_passkey");
	if (se == STORE_ERR_NOT_FOUND)
		return control_refusal("unknown_credential");
	return control_refusal("store_error");
}

json_t *
manage_export(struct passkeyd *d, uid_t uid, json_t *req)
{
	struct store_credential c;
	struct caller who;
	const char *err;
	json_t *o;
	char *cose;

	if (caller_init(uid, &who) != 0)
		return control_refusal("not_permitted");
	if ((err = resolve(d, &who, req, &c)) != NULL)
		return control_refusal(err);
	o = credential_json(d, &c);
	cose = rp_b64url_encode_alloc(c.pubkey_cose, c.pubkey_len);
	if (o == NULL || cose == NULL ||
	    json_object_set_new(o, "public_key_cose", json_string(cose)) != 0) {
		json_decref(o);
		o = NULL;
	}
	free(cose);
	store_credential_free(&c);
	if (o == NULL)
		return control_refusal("internal_error");
	return json_pack("{s:b, s:o}", "ok", 1, "credential", o);
}

json_t *
manage_events(struct passkeyd *d, uid_t uid, json_t *req)
{
	json_t *lim = json_object_get(req, "limit"), *all;
	json_int_t limit = EVENTS_LIMIT_DEFAULT, cursor;
	struct store_event_list list;
	const char *user, *refused;
	struct caller who;

	if (caller_init(uid, &who) != 0)
		return control_refusal("not_permitted");
	user = subject(&who, req, &refused);
	if (refused != NULL)
		return control_refusal(refused);
	if (lim != NULL) {
		if (!json_is_integer(lim) || json_integer_value(lim) < 1 ||
		    json_integer_value(lim) > EVENTS_LIMIT_MAX)
			return control_refusal("bad_request");
		limit = json_integer_value(lim);
	}
	if (get_cursor(req, &cursor) != 0)
		return control_refusal("bad_request");
	if (user != NULL && uid == 0 && unknown_user(d, user))
		return control_refusal("unknown_user");
	if (store_event_list(d->store, user, (size_t)limit, &list) != STORE_OK)
		return control_refusal("store_error");
	all = json_array();
	for (size_t i = 0; all != NULL && i < list.count; i++) {
		const struct store_event *e = &list.items[i];
		json_t *o = json_pack("{s:I, s:s, s:s?, s:s?, s:s, s:s?, s:s?}",
		    "time", (json_int_t)e->time, "event", e->event, "user", e->user,
		    "address", e->addr != NULL && e->addr[0] ? e->addr : NULL,
		    "verdict", e->verdict, "reason", e->reason, "detail", e->detail);
		if (json_array_append_new(all, o) != 0) {
			json_decref(all);
			all = NULL;
		}
	}
	store_event_list_free(&list);
	if (all == NULL)
		return control_refusal("internal_error");
	return page(all, cursor, "events");
}

json_t *
manage_revoke_enrollment(struct passkeyd *d, uid_t uid, json_t *req)
{
	const char *user = json_string_value(json_object_get(req, "user"));
	store_err_t se;

	if (uid != 0)
		return control_refusal("not_permitted");
	if (!ctl_user_name_valid(user))
		return control_refusal("bad_request");
	se = store_enroll_remove(d->store, user);
	if (se == STORE_ERR_NOT_FOUND)
		return control_refusal("no_enrollment");
	if (se != STORE_OK)
		return control_refusal("store_error");
	/*
	 * A registration link already handed out dies with the enrollment:
	 * flow_finish refuses it (enrollment_not_pending).
	 */
	event_log(d, "enrollment_revoked", user, "", "ok", NULL, NULL, "by=root");
	return json_pack("{s:b}", "ok", 1);
}

int
manage_user_exists(const char *user)
{
	return getpwnam(user) != NULL;
}
