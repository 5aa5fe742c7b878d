/*
 * Authentication end to end: the input is a PublicKeyCredential JSON;
 * rp_response_from_json, then rp_verify_assertion.  The known credential
 * (ID, COSE key, stored sign count, backup eligibility, user handle),
 * challenge and relying party are those of the test-vector authentication
 * whose credential ID equals the input's rawId (fuzz_vectors.h), else
 * W3C vector 01's: its ES256 credential, challenge, rp_id example.org and
 * origin https://example.org.
 */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Decoded once per table row: the stored side of each ceremony. */
struct known {
	uint8_t *challenge, *id, *user_handle;
	size_t challenge_len, id_len, user_handle_len;
	rp_pubkey_t *key;
};

static const struct known *
known_for(const struct fuzz_vector *v)
{
	static struct known cache[FUZZ_NVECTORS];
	struct known *k = &cache[v - fuzz_vectors];
	uint8_t *cose;
	size_t cose_len;

	if (k->key != NULL)
		return k;
	k->challenge = fuzz_b64(v->challenge, &k->challenge_len);
	k->id = fuzz_b64(v->cred_id, &k->id_len);
	if (v->user_handle != NULL)
		k->user_handle = fuzz_b64(v->user_handle, &k->user_handle_len);
	cose = fuzz_b64(v->cose_key, &cose_len);
	fuzz_check(rp_pubkey_from_cose(cose, cose_len, &k->key), v->name);
	free(cose);
	return k;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct fuzz_vector *v;
	const struct known *k;
	struct rp_known_credential known;
	struct rp_assertion_result res;
	rp_response_t *resp = NULL;
	int err;

	err = rp_response_from_json((const char *)data, size, &resp);
	fuzz_known_err(err);
	if ((err == RP_OK) != (resp != NULL))
		abort();
	if (resp == NULL)
		return 0;
	v = fuzz_vector_for('a', rp_response_raw_id_ptr(resp),
	    rp_response_raw_id_len(resp), FUZZ_W3C01_CRED_ID);
	k = known_for(v);
	memset(&known, 0, sizeof(known));
	known.id = k->id;
	known.id_len = k->id_len;
	known.pubkey = k->key;
	known.sign_count = v->sign_count;
	known.user_handle = k->user_handle;
	known.user_handle_len = k->user_handle_len;
	known.backup_eligible = v->backup_eligible;
	err = rp_verify_assertion(fuzz_policy_for(v), k->challenge,
	    k->challenge_len, resp, &known, &res);
	fuzz_known_err(err);
	/* Verified means: user present, and (the policy rejecting clones)
	 * a sign count that grew or is zero on both sides. */
	if (err == RP_OK && (!(res.flags & RP_FLAG_UP) || res.sign_count_regressed ||
	    !(res.sign_count > v->sign_count ||
	    (res.sign_count == 0 && v->sign_count == 0))))
		abort();
	rp_response_free(&resp);
	return 0;
}
