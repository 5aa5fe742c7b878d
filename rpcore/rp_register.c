/*
 * Registration ceremony verification, WebAuthn L3 §7.1, in the spec's
 * order so that a response with several faults reports the first one the
 * spec names.  Steps the store owns (is the credential ID already taken?)
 * are left to the caller.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "rp_cbor.h"
#include "rp_internal.h"

struct att_object {
	cbor_item_t *root;
	const char *fmt;		/* NUL-terminated copy in fmt_buf */
	char fmt_buf[32 + 1];		/* §8.1: identifiers are at most 32 octets */
	const cbor_item_t *att_stmt;
	const uint8_t *auth_data;
	size_t auth_data_len;
};

static int
parse_att_object(const uint8_t *p, size_t len, struct att_object *ao)
{
	const cbor_item_t *fmt;
	int err;

	memset(ao, 0, sizeof(*ao));
	if ((err = rp_cbor_load(p, len, &ao->root)) != RP_OK)
		return err;
	if (!cbor_isa_map(ao->root))
		return RP_ERR_ATTESTATION_OBJECT_MALFORMED;
	fmt = rp_cbor_map_get_str(ao->root, "fmt");
	ao->att_stmt = rp_cbor_map_get_str(ao->root, "attStmt");
	if (fmt == NULL || !cbor_isa_string(fmt) ||
	    cbor_string_length(fmt) >= sizeof(ao->fmt_buf) ||
	    ao->att_stmt == NULL || !cbor_isa_map(ao->att_stmt) ||
	    !rp_cbor_get_bytes(rp_cbor_map_get_str(ao->root, "authData"),
	    &ao->auth_data, &ao->auth_data_len))
		return RP_ERR_ATTESTATION_OBJECT_MALFORMED;
	memcpy(ao->fmt_buf, cbor_string_handle(fmt), cbor_string_length(fmt));
	ao->fmt_buf[cbor_string_length(fmt)] = '\0';
	if (strlen(ao->fmt_buf) != cbor_string_length(fmt))
		return RP_ERR_ATTESTATION_OBJECT_MALFORMED;	/* embedded NUL */
	ao->fmt = ao->fmt_buf;
	return RP_OK;
}

static int
make_credential(const struct rp_authdata *ad, const rp_pubkey_t *key,
    const char *fmt, int attestation, rp_credential_t **out)
{
	rp_credential_t *c;

	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->id = malloc(ad->cred_id_len)) == NULL ||
	    (c->cose = malloc(ad->cose_key_len)) == NULL) {
		rp_credential_free(&c);
		return RP_ERR_NO_MEMORY;
	}
	memcpy(c->id, ad->cred_id, ad->cred_id_len);
	c->id_len = ad->cred_id_len;
	memcpy(c->cose, ad->cose_key, ad->cose_key_len);
	c->cose_len = ad->cose_key_len;
	c->alg = key->alg;
	c->sign_count = ad->sign_count;
	snprintf(c->fmt, sizeof(c->fmt), "%s", fmt);
	memcpy(c->aaguid, ad->aaguid, RP_AAGUID_LEN);
	c->flags = ad->flags;
	c->attestation = attestation;
	*out = c;
	return RP_OK;
}

static int
verify_authenticator(const rp_policy_t *p, const rp_response_t *resp,
    const struct att_object *ao, const uint8_t *cdh, rp_credential_t **out)
{
	struct rp_authdata ad;
	rp_pubkey_t *key = NULL;
	int attestation = 0, err;

	if ((err = rp_authdata_parse(ao->auth_data, ao->auth_data_len, &ad)) != RP_OK ||
	    (err = rp_authdata_check_flags(p, &ad, true)) != RP_OK)
		return err;
	if (ad.cred_id_len != resp->raw_id_len ||
	    memcmp(ad.cred_id, resp->raw_id, ad.cred_id_len) != 0)
		return RP_ERR_CREDENTIAL_ID_MISMATCH;
	if ((err = rp_pubkey_from_cose(ad.cose_key, ad.cose_key_len, &key)) != RP_OK)
		return err == RP_ERR_CBOR_TRUNCATED ? RP_ERR_COSE_KEY_MALFORMED : err;
	if (!rp_policy_alg_allowed(p, key->alg)) {
		err = RP_ERR_ALG_NOT_ALLOWED;
	} else {
		struct rp_attest_ctx ctx = { p, ao->fmt, ao->att_stmt, &ad, cdh, key };

		if ((err = rp_attest_verify(&ctx, &attestation)) == RP_OK)
			err = make_credential(&ad, key, ao->fmt, attestation, out);
	}
	rp_pubkey_free(&key);
	return err;
}

int
rp_verify_registration(const rp_policy_t *p, const uint8_t *challenge,
    size_t challenge_len, const rp_response_t *resp, rp_credential_t **out)
{
	struct att_object ao;
	uint8_t cdh[RP_SHA256_LEN];
	int err;

	if (out == NULL)
		return RP_ERR_INVALID_ARGUMENT;
	*out = NULL;
	if (!rp_policy_ready(p) || challenge == NULL || resp == NULL)
		return RP_ERR_INVALID_ARGUMENT;
	if (resp->attestation_object == NULL)
		return RP_ERR_FIELD_MISSING;
	if ((err = rp_clientdata_verify(p, resp->client_data_json,
	    resp->client_data_json_len, "webauthn.create", challenge,
	    challenge_len)) != RP_OK)
		return err;
	SHA256(resp->client_data_json, resp->client_data_json_len, cdh);
	if ((err = parse_att_object(resp->attestation_object,
	    resp->attestation_object_len, &ao)) == RP_OK)
		err = verify_authenticator(p, resp, &ao, cdh, out);
	if (ao.root != NULL)
		cbor_decref(&ao.root);
	return err;
}

void
rp_credential_free(rp_credential_t **cp)
{
	if (cp == NULL || *cp == NULL)
		return;
	free((*cp)->id);
	free((*cp)->cose);
	free(*cp);
	*cp = NULL;
}

const uint8_t *rp_credential_id_ptr(const rp_credential_t *c) { return c->id; }
size_t rp_credential_id_len(const rp_credential_t *c) { return c->id_len; }
int rp_credential_alg(const rp_credential_t *c) { return c->alg; }
const uint8_t *rp_credential_pubkey_cose_ptr(const rp_credential_t *c) { return c->cose; }
size_t rp_credential_pubkey_cose_len(const rp_credential_t *c) { return c->cose_len; }
uint32_t rp_credential_sign_count(const rp_credential_t *c) { return c->sign_count; }
const char *rp_credential_fmt(const rp_credential_t *c) { return c->fmt; }
const uint8_t *rp_credential_aaguid_ptr(const rp_credential_t *c) { return c->aaguid; }
uint8_t rp_credential_flags(const rp_credential_t *c) { return c->flags; }
int rp_credential_attestation(const rp_credential_t *c) { return c->attestation; }
