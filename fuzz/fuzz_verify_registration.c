/*
 * Registration end to end: the input is a PublicKeyCredential JSON;
 * rp_response_from_json, then rp_verify_registration.  The challenge and
 * relying party are those of the test-vector registration whose credential
 * ID equals the input's rawId (fuzz_vectors.h), else W3C vector 02's
 * (rp_id example.org, origin https://example.org).  The policies trust
 * every root of the test vectors at a fixed time.
 */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct fuzz_vector *v;
	rp_response_t *resp = NULL;
	rp_credential_t *cred = NULL;
	uint8_t *challenge;
	size_t challenge_len;
	int err;

	err = rp_response_from_json((const char *)data, size, &resp);
	fuzz_known_err(err);
	if ((err == RP_OK) != (resp != NULL))
		abort();
	if (resp == NULL)
		return 0;
	v = fuzz_vector_for('r', rp_response_raw_id_ptr(resp),
	    rp_response_raw_id_len(resp), FUZZ_W3C02_CRED_ID);
	challenge = fuzz_b64(v->challenge, &challenge_len);
	err = rp_verify_registration(fuzz_policy_for(v), challenge,
	    challenge_len, resp, &cred);
	fuzz_known_err(err);
	if ((err == RP_OK) != (cred != NULL))
		abort();
	if (cred != NULL &&
	    (rp_credential_id_len(cred) != rp_response_raw_id_len(resp) ||
	    memcmp(rp_credential_id_ptr(cred), rp_response_raw_id_ptr(resp),
	    rp_credential_id_len(cred)) != 0))
		abort();
	rp_credential_free(&cred);
	rp_response_free(&resp);
	free(challenge);
	return 0;
}
