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
	int err;

	err = rp_response_from_json((const char *)data, size, &resp);
	fuzz_known_err(err);
	if ((err == RP_OK) != (resp != NULL))
		abort();
	if (resp == NULL)
		return 0;
	v = fuzz_vector_for('r', rp_response_raw_id_ptr(resp),
	    rp_response_raw_id_len(resp), FUZZ_W3C02_CRED_ID);
	fuzz_register(v, resp);
	rp_response_free(&resp);
	return 0;
}
