/*
 * Authenticator data: rp_authdata_parse on the raw input, then
 * rp_authdata_check_flags for registration and for assertion, with and
 * without a user-verification requirement.  A successful parse is checked
 * for internal consistency: every field lies inside the input, in order,
 * and the fields account for every byte.
 */
#include "fuzz_common.h"
#include "rp_cbor.h"
#include "rp_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define INSIDE(p, n) ((p) != NULL && (p) >= data && (size_t)((p) - data) <= size && \
	(n) <= size - (size_t)((p) - data))

/*
 * An item the scanner passed goes to libcbor, and libcbor must load it:
 * whole, and a map where one began.  (The scanner once admitted the
 * unassigned simple values that libcbor refuses; see fuzz/regress.)
 */
static void
load_scanned(const uint8_t *p, size_t len, bool want_map)
{
	cbor_item_t *item = NULL;

	if (rp_cbor_load(p, len, &item) != RP_OK || item == NULL)
		abort();
	if (want_map && !cbor_isa_map(item))
		abort();
	cbor_decref(&item);
}

static void
check_parsed(const uint8_t *data, size_t size, const struct rp_authdata *ad)
{
	size_t end = 37;

	if (ad->raw != data || ad->len != size || size < 37 ||
	    ad->rp_id_hash != data || ad->flags != data[32])
		abort();
	if (ad->flags & RP_FLAG_AT) {
		if (!INSIDE(ad->aaguid, RP_AAGUID_LEN) || ad->aaguid != data + 37 ||
		    ad->cred_id_len == 0 ||
		    ad->cred_id_len > RP_MAX_CREDENTIAL_ID_LEN ||
		    ad->cred_id != data + 55 ||
		    !INSIDE(ad->cred_id, ad->cred_id_len) ||
		    ad->cose_key != ad->cred_id + ad->cred_id_len ||
		    ad->cose_key_len == 0 ||
		    !INSIDE(ad->cose_key, ad->cose_key_len))
			abort();
		end = (size_t)(ad->cose_key - data) + ad->cose_key_len;
		load_scanned(ad->cose_key, ad->cose_key_len, false);
	} else if (ad->cred_id != NULL || ad->cose_key != NULL) {
		abort();
	}
	if (ad->flags & RP_FLAG_ED) {
		if (ad->ext != data + end || ad->ext_len == 0 ||
		    !INSIDE(ad->ext, ad->ext_len))
			abort();
		end += ad->ext_len;
		load_scanned(ad->ext, ad->ext_len, true);
	} else if (ad->ext != NULL) {
		abort();
	}
	if (end != size)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static rp_policy_t *policy, *policy_uv;
	struct rp_authdata ad;
	int err;

	if (policy == NULL) {
		policy = fuzz_policy_new(FUZZ_RP_ID, FUZZ_ORIGIN, false, false);
		policy_uv = fuzz_policy_new(FUZZ_RP_ID, FUZZ_ORIGIN, false, true);
	}
	err = rp_authdata_parse(data, size, &ad);
	fuzz_known_err(err);
	if (err != RP_OK)
		return 0;
	check_parsed(data, size, &ad);
	fuzz_known_err(rp_authdata_check_flags(policy, &ad, true));
	fuzz_known_err(rp_authdata_check_flags(policy, &ad, false));
	fuzz_known_err(rp_authdata_check_flags(policy_uv, &ad, true));
	fuzz_known_err(rp_authdata_check_flags(policy_uv, &ad, false));
	return 0;
}
