/*
 * Authentication ceremony verification, WebAuthn L3 §7.2, in the spec's
 * order.  The caller looked the credential up and passes what it stored;
 * the caller updates the stored count, BS and last use only after RP_OK.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "rp_internal.h"

/* Steps 5-6: the credential must be the one allowed, for the same user. */
static int
check_credential(const rp_response_t *r, const struct rp_known_credential *k)
{
	if (r->raw_id_len != k->id_len ||
	    CRYPTO_memcmp(r->raw_id, k->id, k->id_len) != 0)
		return RP_ERR_CREDENTIAL_NOT_ALLOWED;
	if (r->user_handle != NULL && k->user_handle != NULL &&
	    (r->user_handle_len != k->user_handle_len ||
	    CRYPTO_memcmp(r->user_handle, k->user_handle, k->user_handle_len) != 0))
		return RP_ERR_USER_HANDLE_MISMATCH;
	return RP_OK;
}

/* Step 22: a count that did not grow signals a cloned authenticator. */
static bool
sign_count_regressed(uint32_t stored, uint32_t now)
{
	return (stored != 0 || now != 0) && now <= stored;
}

int
rp_verify_assertion(const rp_policy_t *p, const uint8_t *challenge,
    size_t challenge_len, const rp_response_t *resp,
    const struct rp_known_credential *k, struct rp_assertion_result *out)
{
	struct rp_authdata ad;
	uint8_t cdh[RP_SHA256_LEN];
	int err;

	if (!rp_policy_ready(p) || challenge == NULL || resp == NULL ||
	    k == NULL || k->id == NULL || k->pubkey == NULL || out == NULL)
		return RP_ERR_INVALID_ARGUMENT;
	memset(out, 0, sizeof(*out));
	if (resp->authenticator_data == NULL || resp->signature == NULL)
		return RP_ERR_FIELD_MISSING;
	if ((err = check_credential(resp, k)) != RP_OK ||
	    (err = rp_clientdata_verify(p, resp->client_data_json,
	    resp->client_data_json_len, "webauthn.get", challenge,
	    challenge_len)) != RP_OK ||
	    (err = rp_authdata_parse(resp->authenticator_data,
	    resp->authenticator_data_len, &ad)) != RP_OK ||
	    (err = rp_authdata_check_flags(p, &ad, false)) != RP_OK)
		return err;
	if (k->backup_eligible >= 0 &&
	    !!(ad.flags & RP_FLAG_BE) != !!k->backup_eligible)
		return RP_ERR_BACKUP_ELIGIBILITY_CHANGED;
	SHA256(resp->client_data_json, resp->client_data_json_len, cdh);
	if ((err = rp_sig_verify(k->pubkey->pkey, k->pubkey->alg, ad.raw, ad.len,
	    cdh, sizeof(cdh), resp->signature, resp->signature_len)) != RP_OK)
		return err;
	out->sign_count = ad.sign_count;
	out->flags = ad.flags;
	out->sign_count_regressed = sign_count_regressed(k->sign_count, ad.sign_count);
	if (out->sign_count_regressed && p->reject_sign_count_regression)
		return RP_ERR_SIGN_COUNT_REGRESSED;
	return RP_OK;
}
