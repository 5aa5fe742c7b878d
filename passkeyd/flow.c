/*
 * The flow: which ceremony a login gets, what the browser is asked, and
 * what a verified answer changes in the store.  The RP core decides
 * whether a response is valid; this file decides what it is valid *for*
 * (this user, this ceremony, a credential not already taken) and writes
 * the store only after the core said RP_OK.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flow.h"
#include "rp_b64url.h"

static const char *
kind_event(const struct ceremony *c, const char *what, char *buf, size_t len)
{
	snprintf(buf, len, "%s_%s", c->kind == CEREMONY_LOGIN ? "login" : "register", what);
	return buf;
}

static void
log_ceremony(struct passkeyd *d, struct ceremony *c, const char *what,
    const char *verdict, const char *reason)
{
	char ev[40];

	event_log(d, kind_event(c, what, ev, sizeof(ev)), c->user, c->rhost,
	    verdict, reason, c, NULL);
}

static const char *
begin(struct passkeyd *d, enum ceremony_kind kind, const char *user,
    const char *rhost, const char *service, uid_t owner, unsigned lifetime,
    struct ceremony **out)
{
	enum ceremony_refusal r;

	r = ceremony_begin(d->ceremonies, kind, user, rhost, service, owner,
	    time(NULL), lifetime, out);
	return r == CEREMONY_OK ? NULL : ceremony_refusal_str(r);
}

const char *
flow_login_begin(struct passkeyd *d, const char *user, const char *rhost,
    const char *service, enum enroll_mode mode, struct ceremony **out)
{
	enum ceremony_kind kind = CEREMONY_LOGIN;
	const char *err = NULL;
	int pending = 0, enrolling = 0;
	size_t n = 0;

	*out = NULL;
	if (store_cred_count_user(d->store, user, &n) != STORE_OK) {
		err = "store_error";
	} else if (n == 0) {
		kind = CEREMONY_REGISTER;
		if (mode == ENROLL_PENDING &&
		    store_enroll_pending(d->store, user, time(NULL), &pending) != STORE_OK)
			err = "store_error";
		else if (mode == ENROLL_PENDING && pending)
			enrolling = 1;
		else if (mode != ENROLL_AFTER_AUTH)
			err = "no_passkey";
	}
	if (err == NULL)
		err = begin(d, kind, user, rhost, service, 0,
		    d->cfg.ceremony_timeout, out);
	if (err == NULL)
		(*out)->consumes_enrollment = enrolling;
	event_log(d, kind == CEREMONY_LOGIN || err ? "login_begin" : "register_begin",
	    user, rhost, err ? "refused" : "ok", err, *out, service);
	return err;
}

const char *
flow_enroll(struct passkeyd *d, const char *user, unsigned lifetime,
    const char *by, struct ceremony **out)
{
	const char *err = NULL;
	time_t now = time(NULL);

	*out = NULL;
	if (store_enroll_add(d->store, user, (int64_t)now + lifetime, by) != STORE_OK)
		err = "store_error";
	else if ((err = begin(d, CEREMONY_REGISTER, user, "", "passkeyctl", 0,
	    lifetime, out)) == NULL)
		(*out)->consumes_enrollment = 1;
	event_log(d, "enroll", user, "", err ? "refused" : "ok", err, *out, by);
	return err;
}

const char *
flow_register_begin(struct passkeyd *d, const char *user, uid_t owner,
    struct ceremony **out)
{
	const char *err;

	err = begin(d, CEREMONY_REGISTER, user, "", "passkeyctl", owner,
	    d->cfg.ceremony_timeout, out);
	event_log(d, "register_begin", user, "", err ? "refused" : "ok", err,
	    *out, "passkeyctl add");
	return err;
}

void
flow_refresh(struct passkeyd *d, struct ceremony *c)
{
	time_t now = time(NULL);

	if (c->state == CEREMONY_PENDING && now >= c->expires) {
		ceremony_finish(d->ceremonies, c, CEREMONY_EXPIRED, "expired", now);
		flow_on_expire(c, d);
	}
}

void
flow_on_expire(struct ceremony *c, void *arg)
{
	log_ceremony(arg, c, "expired", "fail", "expired");
}

const char *
flow_status(struct passkeyd *d, struct ceremony *c)
{
	flow_refresh(d, c);
	if (c->state == CEREMONY_APPROVED) {
		c->state = CEREMONY_USED;
		return "approved";
	}
	return ceremony_state_str(c->state);
}

void
flow_cancel(struct passkeyd *d, struct ceremony *c)
{
	flow_refresh(d, c);
	if (c->state != CEREMONY_PENDING)
		return;
	ceremony_finish(d->ceremonies, c, CEREMONY_CANCELLED, "cancelled", time(NULL));
	log_ceremony(d, c, "cancelled", "fail", "cancelled");
}

void
flow_deny(struct passkeyd *d, struct ceremony *c)
{
	flow_refresh(d, c);
	if (c->state != CEREMONY_PENDING)
		return;
	ceremony_finish(d->ceremonies, c, CEREMONY_DENIED, "denied", time(NULL));
	/* someone the user did not expect tried to log in: say so loudly */
	log_ceremony(d, c, "denied", "deny", "denied");
}

void
flow_client_cancelled(struct passkeyd *d, struct ceremony *c, const char *dom_error)
{
	event_log(d, "client_cancelled", c->user, c->rhost, "info",
	    "client_cancelled", c, dom_error);
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
    const struct store_credential_list *creds, const uint8_t *handle)
{
	json_t *pk, *user, *params;

	user = json_pack("{s:s, s:s}", "name", c->user, "displayName", c->user);
	if (user == NULL || set_b64(user, "id", handle, STORE_USER_HANDLE_LEN) != 0) {
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

json_t *
flow_options(struct passkeyd *d, struct ceremony *c, const char **err)
{
	struct store_credential_list creds = { 0 };
	uint8_t handle[STORE_USER_HANDLE_LEN];
	json_int_t timeout_ms;
	json_t *pk = NULL;

	*err = "internal_error";
	timeout_ms = (json_int_t)(c->expires - time(NULL)) * 1000;
	if (timeout_ms < 1000)
		timeout_ms = 1000;
	if (store_cred_list_user(d->store, c->user, &creds) != STORE_OK) {
		*err = "store_error";
		return NULL;
	}
	if (c->kind == CEREMONY_LOGIN) {
		pk = login_options(d, c, timeout_ms, &creds);
	} else if (store_user_handle(d->store, c->user, 1, handle) != STORE_OK) {
		*err = "store_error";
	} else {
		pk = register_options(d, c, timeout_ms, &creds, handle);
	}
	store_credential_list_free(&creds);
	if (pk != NULL)
		*err = NULL;
	return pk;
}

/* Finishing ------------------------------------------------------------- */

static void
refresh_policy_time(struct passkeyd *d)
{
	rp_policy_set_time(d->policy, time(NULL));
}

static const char *
finish_login(struct passkeyd *d, struct ceremony *c, const rp_response_t *resp)
{
	struct store_credential cred;
	struct rp_known_credential known;
	struct rp_assertion_result result;
	uint8_t handle[STORE_USER_HANDLE_LEN];
	rp_pubkey_t *pubkey = NULL;
	const char *reason = NULL;
	store_err_t serr;
	int rc;

	memset(&cred, 0, sizeof(cred));
	serr = store_cred_get(d->store, rp_response_raw_id_ptr(resp),
	    rp_response_raw_id_len(resp), &cred);
	if (serr == STORE_ERR_NOT_FOUND)
		return "credential_not_allowed";
	if (serr != STORE_OK)
		return "store_error";
	/* a passkey of someone else proves nothing about this user */
	if (strcmp(cred.user, c->user) != 0) {
		reason = "credential_not_allowed";
		goto out;
	}
	if ((serr = store_user_handle(d->store, c->user, 0, handle)) != STORE_OK) {
		reason = "store_error";
		goto out;
	}
	if ((rc = rp_pubkey_from_cose(cred.pubkey_cose, cred.pubkey_len, &pubkey)) != RP_OK) {
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
	refresh_policy_time(d);
	rc = rp_verify_assertion(d->policy, c->challenge, sizeof(c->challenge),
	    resp, &known, &result);
	if (rc != RP_OK) {
		reason = rp_err_code(rc);
		goto out;
	}
	if (result.sign_count_regressed)
		event_log(d, "sign_count_regressed", c->user, c->rhost, "warn",
		    "sign_count_regressed", c, "allowed by policy");
	/*
	 * A regression let through by policy must not lower the stored count
	 * (WebAuthn §7.2 step 22): the next clone would look fresh again.
	 */
	if (store_cred_record_use(d->store, cred.id, cred.id_len,
	    result.sign_count > cred.sign_count ? result.sign_count : cred.sign_count,
	    (result.flags & RP_FLAG_BS) != 0, (int64_t)time(NULL), c->rhost) != STORE_OK)
		reason = "store_error";
out:
	rp_pubkey_free(&pubkey);
	store_credential_free(&cred);
	return reason;
}

static const char *
finish_register(struct passkeyd *d, struct ceremony *c, const rp_response_t *resp)
{
	struct store_credential rec;
	rp_credential_t *cred = NULL;
	const char *reason = NULL;
	uint8_t flags;
	store_err_t serr;
	int rc, pending = 1;

	refresh_policy_time(d);
	rc = rp_verify_registration(d->policy, c->challenge, sizeof(c->challenge),
	    resp, &cred);
	if (rc != RP_OK)
		return rp_err_code(rc);
	/* a revoked or already used enrollment ends its outstanding links */
	if (c->consumes_enrollment &&
	    store_enroll_pending(d->store, c->user, time(NULL), &pending) != STORE_OK)
		reason = "store_error";
	else if (!pending)
		reason = "enrollment_not_pending";
	if (reason != NULL)
		goto out;
	flags = rp_credential_flags(cred);
	memset(&rec, 0, sizeof(rec));
	rec.user = c->user;
	rec.id = (unsigned char *)rp_credential_id_ptr(cred);
	rec.id_len = rp_credential_id_len(cred);
	rec.alg = rp_credential_alg(cred);
	rec.pubkey_cose = (unsigned char *)rp_credential_pubkey_cose_ptr(cred);
	rec.pubkey_len = rp_credential_pubkey_cose_len(cred);
	rec.sign_count = rp_credential_sign_count(cred);
	rec.fmt = (char *)rp_credential_fmt(cred);
	memcpy(rec.aaguid, rp_credential_aaguid_ptr(cred), sizeof(rec.aaguid));
	rec.uv = (flags & RP_FLAG_UV) != 0;
	rec.be = (flags & RP_FLAG_BE) != 0;
	rec.bs = (flags & RP_FLAG_BS) != 0;
	rec.attestation = (char *)rp_attestation_name(rp_credential_attestation(cred));
	rec.created = (int64_t)time(NULL);
	serr = store_cred_add(d->store, &rec);
	if (serr == STORE_ERR_EXISTS)
		reason = "credential_exists";
	else if (serr != STORE_OK)
		reason = "store_error";
	else if (c->consumes_enrollment &&
	    store_enroll_remove(d->store, c->user) != STORE_OK)
		daemon_log(d, "could not clear the enrollment of a registered user");
out:
	rp_credential_free(&cred);
	return reason;
}

const char *
flow_finish(struct passkeyd *d, struct ceremony *c, const char *body, size_t len)
{
	rp_response_t *resp = NULL;
	const char *reason;
	int rc;

	flow_refresh(d, c);
	if (c->state != CEREMONY_PENDING) {
		if (c->state == CEREMONY_APPROVED || c->state == CEREMONY_USED) {
			c->replayed = 1;
			event_log(d, "ceremony_replayed", c->user, c->rhost, "refused",
			    "ceremony_used", c, NULL);
			return "ceremony_used";
		}
		return ceremony_state_str(c->state);
	}
	if ((rc = rp_response_from_json(body, len, &resp)) != RP_OK)
		reason = rp_err_code(rc);
	else if (c->kind == CEREMONY_LOGIN)
		reason = finish_login(d, c, resp);
	else
		reason = finish_register(d, c, resp);
	rp_response_free(&resp);
	if (reason == NULL) {
		ceremony_finish(d->ceremonies, c, CEREMONY_APPROVED, NULL, time(NULL));
		log_ceremony(d, c, "approved", "ok", NULL);
	} else {
		/* one verification attempt per challenge: a failure ends it */
		ceremony_finish(d->ceremonies, c, CEREMONY_FAILED, reason, time(NULL));
		log_ceremony(d, c, "failed", "fail", reason);
	}
	return reason;
}
