/*
 * Attestation object: rp_cbor_load on the raw input, then a whole
 * registration through the public API with the input as the
 * attestationObject.
 *
 * The PublicKeyCredential JSON around it is built here: id and rawId are
 * the credential ID the input's own authData names (so inputs get past the
 * ID comparison into the COSE key and the attestation-statement
 * verifiers), and clientDataJSON, challenge and relying party are those of
 * the test-vector registration with that credential ID (fuzz_vectors.h),
 * else those of W3C vector 02.  So a mutated vector keeps its valid
 * signature over authData || hash(clientDataJSON) while its certificates
 * and statement are mutated, and the checks after the signature (AAGUID,
 * Android key description, Apple nonce, TPM AIK, chain) see fuzzed data.
 * The policies trust every root of the test vectors at a fixed time.
 */
#include "fuzz_common.h"
#include "rp_cbor.h"
#include "rp_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The credential ID in the input's authData, if it gets that far. */
static void
find_cred_id(cbor_item_t *root, const uint8_t **id, size_t *id_len)
{
	const uint8_t *ad_bytes;
	size_t ad_len;
	struct rp_authdata ad;

	*id = NULL;
	*id_len = 0;
	if (root != NULL &&
	    rp_cbor_get_bytes(rp_cbor_map_get_str(root, "authData"), &ad_bytes, &ad_len)) {
		(void)rp_authdata_parse(ad_bytes, ad_len, &ad);
		if (ad.cred_id != NULL && ad.cred_id_len > 0) {
			*id = ad.cred_id;
			*id_len = ad.cred_id_len;
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char fmt[] =
	    "{\"id\":\"%s\",\"rawId\":\"%s\",\"type\":\"public-key\","
	    "\"response\":{\"clientDataJSON\":\"%s\","
	    "\"attestationObject\":\"%s\"},\"clientExtensionResults\":{}}";
	const struct fuzz_vector *v;
	const uint8_t *id_bytes;
	size_t id_len, json_len;
	cbor_item_t *root = NULL;
	rp_response_t *resp = NULL;
	char *id = NULL, *ao = NULL, *json = NULL;
	int err;

	/* 1. The strict CBOR loader on its own. */
	err = rp_cbor_load(data, size, &root);
	fuzz_known_err(err);
	if ((err == RP_OK) != (root != NULL))
		abort();

	/* 2. A whole registration. */
	find_cred_id(root, &id_bytes, &id_len);
	v = fuzz_vector_for('r', id_bytes, id_len, FUZZ_W3C02_CRED_ID);
	if (id_bytes == NULL)
		id = strdup(v->cred_id);
	else
		id = rp_b64url_encode_alloc(id_bytes, id_len);
	if (id == NULL || (ao = rp_b64url_encode_alloc(data, size)) == NULL)
		goto out;
	json_len = sizeof(fmt) + 2 * strlen(id) + strlen(v->client_data_json) +
	    strlen(ao);
	if ((json = malloc(json_len)) == NULL)
		goto out;
	json_len = (size_t)snprintf(json, json_len, fmt, id, id,
	    v->client_data_json, ao);
	err = rp_response_from_json(json, json_len, &resp);
	fuzz_known_err(err);
	if (err != RP_OK)
		goto out;	/* only when the input is too large */
	fuzz_register(v, resp);
out:
	rp_response_free(&resp);
	if (root != NULL)
		cbor_decref(&root);
	free(json);
	free(ao);
	free(id);
	return 0;
}
