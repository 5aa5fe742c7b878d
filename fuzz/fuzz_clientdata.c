/*
 * clientDataJSON: rp_clientdata_verify on the raw input, for both ceremony
 * types, against rp_id example.org / origin https://example.org and a
 * fixed 32-byte challenge (the W3C vector 01 authentication challenge).
 */
#include "fuzz_common.h"
#include "rp_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static rp_policy_t *policy;
	static uint8_t *challenge;
	static size_t challenge_len;
	int e1, e2;

	if (policy == NULL) {
		policy = fuzz_policy_new(FUZZ_RP_ID, FUZZ_ORIGIN, false, false);
		challenge = fuzz_b64(FUZZ_W3C01_AUTH_CHALLENGE, &challenge_len);
	}
	e1 = rp_clientdata_verify(policy, data, size, "webauthn.create",
	    challenge, challenge_len);
	e2 = rp_clientdata_verify(policy, data, size, "webauthn.get",
	    challenge, challenge_len);
	fuzz_known_err(e1);
	fuzz_known_err(e2);
	/* One document cannot be valid for both ceremonies. */
	if (e1 == RP_OK && e2 == RP_OK)
		abort();
	return 0;
}
