/*
 * "apple" anonymous attestation (WebAuthn L3 §8.8).  No signature: Apple's
 * CA issues a certificate for the credential key whose extension
 * 1.2.840.113635.100.8.2 holds SHA-256(authData || clientDataHash).
 */
#include <string.h>

#include <openssl/crypto.h>

#include "rp_cbor.h"
#include "rp_der.h"
#include "rp_internal.h"

#define OID_APPLE_NONCE "1.2.840.113635.100.8.2"

/*
 * SEQUENCE { [1] EXPLICIT OCTET STRING nonce }, read as DER with the
 * checks the android-key KeyDescription gets (rp_der.h): the SEQUENCE is
 * universal and constructed, the [1] is constructed and holds exactly
 * one value, and that value is a universal, primitive OCTET STRING.
 * Apple publishes no schema; what follows the [1] in the SEQUENCE is
 * left unread, as what follows teeEnforced is in the KeyDescription.
 */
static int
read_nonce(X509 *cert, const uint8_t **nonce)
{
	const ASN1_OCTET_STRING *ext = rp_x509_ext_value(cert, OID_APPLE_NONCE);
	struct rp_der seq, tagged, oct;
	struct rp_buf b;

	if (ext == NULL)
		return RP_ERR_ATTESTATION_CERT_INVALID;
	rp_buf_init(&b, ASN1_STRING_get0_data(ext), (size_t)ASN1_STRING_length(ext));
	if (!rp_der_next(&b, &seq) || !rp_der_is_universal_constructed(&seq, 16) ||
	    rp_buf_left(&b) != 0 ||
	    !rp_der_next(&seq.body, &tagged) || tagged.cls != RP_DER_CLASS_CONTEXT ||
	    tagged.tag != 1 || !rp_der_explicit_inner(&tagged, &oct) ||
	    !rp_der_is_universal_primitive(&oct, 4) ||
	    rp_buf_left(&oct.body) != RP_SHA256_LEN)
		return RP_ERR_ATTESTATION_CERT_INVALID;
	*nonce = rp_buf_cur(&oct.body);
	return RP_OK;
}

int
rp_attest_apple(const struct rp_attest_ctx *ctx, int *attestation)
{
	uint8_t expect[RP_SHA256_LEN];
	const uint8_t *nonce;
	struct rp_x5c certs;
	int err;

	if (rp_cbor_map_get_str(ctx->att_stmt, "x5c") == NULL)
		return RP_ERR_ATTESTATION_STATEMENT_MALFORMED;
	if ((err = rp_x5c_load(rp_cbor_map_get_str(ctx->att_stmt, "x5c"), &certs)) != RP_OK)
		return err;
	if ((err = rp_digest2(EVP_sha256(), ctx->ad->raw, ctx->ad->len, ctx->cdh,
	    RP_SHA256_LEN, expect, NULL)) == RP_OK &&
	    (err = read_nonce(certs.certs[0], &nonce)) == RP_OK &&
	    (CRYPTO_memcmp(nonce, expect, sizeof(expect)) != 0 ||
	    !rp_x509_key_matches(certs.certs[0], ctx->cred_key)))
		err = RP_ERR_ATTESTATION_STATEMENT_INVALID;
	if (err == RP_OK)
		err = rp_x5c_chain_verdict(ctx->policy, &certs, attestation);
	rp_x5c_clear(&certs);
	return err;
}
