/*
 * "fido-u2f" attestation (WebAuthn L3 §8.6): a U2F device's batch
 * certificate, one only, with a P-256 key, signs
 * 0x00 || rpIdHash || clientDataHash || credentialId || 0x04 || x || y.
 * libfido2 builds that message and checks the signature.
 */
#include <string.h>

#include "rp_cbor.h"
#include "rp_fido2.h"
#include "rp_internal.h"

int
rp_attest_fido_u2f(const struct rp_attest_ctx *ctx, int *attestation)
{
	const cbor_item_t *st = ctx->att_stmt;
	const uint8_t *sig;
	size_t siglen;
	struct rp_x5c certs;
	EVP_PKEY *leafkey;
	char group[32];
	size_t glen;
	int err;

	if (!rp_cbor_get_bytes(rp_cbor_map_get_str(st, "sig"), &sig, &siglen) ||
	    rp_cbor_map_get_str(st, "x5c") == NULL)
		return RP_ERR_ATTESTATION_STATEMENT_MALFORMED;
	/* U2F keys are P-256 only. */
	if (ctx->cred_key->alg != RP_COSE_ES256)
		return RP_ERR_ATTESTATION_STATEMENT_INVALID;
	if ((err = rp_x5c_load(rp_cbor_map_get_str(st, "x5c"), &certs)) != RP_OK)
		return err;
	leafkey = X509_get0_pubkey(certs.certs[0]);
	if (certs.n != 1 || leafkey == NULL ||
	    EVP_PKEY_get_base_id(leafkey) != EVP_PKEY_EC ||
	    EVP_PKEY_get_group_name(leafkey, group, sizeof(group), &glen) != 1 ||
	    strcmp(group, "prime256v1") != 0)
		err = RP_ERR_ATTESTATION_CERT_INVALID;
	else if ((err = rp_fido2_verify_cred(ctx, false)) == RP_OK)
		err = rp_x5c_chain_verdict(ctx->policy, &certs, attestation);
	rp_x5c_clear(&certs);
	return err;
}
