/*
 * "packed" attestation (WebAuthn L3 §8.2).  With x5c the statement is
 * signed by an attestation certificate whose form §8.2.1 fixes; libfido2
 * checks that signature.  Without x5c it is self attestation: signed by the
 * credential key under the credential's own algorithm.
 */
#include <string.h>

#include <openssl/x509v3.h>

#include "rp_cbor.h"
#include "rp_fido2.h"
#include "rp_internal.h"

/* §8.2.1: v3, subject C/O/OU="Authenticator Attestation"/CN, basicConstraints cA FALSE. */
static int
check_leaf(X509 *leaf, const uint8_t *aaguid)
{
	X509_NAME *subj = X509_get_subject_name(leaf);
	char ou[64];

	if (X509_get_version(leaf) != X509_VERSION_3 ||
	    X509_NAME_get_index_by_NID(subj, NID_countryName, -1) < 0 ||
	    X509_NAME_get_index_by_NID(subj, NID_organizationName, -1) < 0 ||
	    X509_NAME_get_index_by_NID(subj, NID_commonName, -1) < 0 ||
	    X509_NAME_get_text_by_NID(subj, NID_organizationalUnitName, ou, sizeof(ou)) < 0 ||
	    strcmp(ou, "Authenticator Attestation") != 0 ||
	    !rp_x509_is_end_entity(leaf))
		return RP_ERR_ATTESTATION_CERT_INVALID;
	return rp_x509_check_aaguid(leaf, aaguid);
}

/*
 * The statement's alg, and a leaf key it signs with.  libfido2 checks
 * only the key's type: it took a P-384 leaf for ES256 and a 1024-bit
 * RSA leaf for RS256, and answered an alg it does not know (RS1) with
 * FIDO_ERR_INTERNAL, which a client could then make us count as ours.
 */
static int
check_leaf_key(X509 *leaf, int64_t alg)
{
	if (!rp_alg_known((int)alg) || (int64_t)(int)alg != alg)
		return RP_ERR_ALG_UNSUPPORTED;
	return rp_key_fits_alg(X509_get0_pubkey(leaf), (int)alg) ? RP_OK :
	    RP_ERR_ATTESTATION_CERT_INVALID;
}

static int
packed_x5c(const struct rp_attest_ctx *ctx, int64_t alg, const cbor_item_t *x5c,
    int *attestation)
{
	struct rp_x5c certs;
	int err;

	if ((err = rp_x5c_load(x5c, &certs)) != RP_OK)
		return err;
	if ((err = check_leaf(certs.certs[0], ctx->ad->aaguid)) == RP_OK &&
	    (err = check_leaf_key(certs.certs[0], alg)) == RP_OK &&
	    (err = rp_fido2_verify_cred(ctx, false)) == RP_OK)
		err = rp_x5c_chain_verdict(ctx->policy, &certs, attestation);
	rp_x5c_clear(&certs);
	return err;
}

/*
 * Self attestation goes through rp_sig_verify() rather than libfido2's
 * fido_cred_verify_self(): the latter signs into a fixed 1 KiB buffer and
 * so refuses EdDSA credentials with long IDs, and the check is exactly the
 * one assertions already use.
 */
static int
packed_self(const struct rp_attest_ctx *ctx, int64_t alg, const uint8_t *sig,
    size_t siglen, int *attestation)
{
	int err;

	if (alg != ctx->cred_key->alg)
		return RP_ERR_ATTESTATION_STATEMENT_INVALID;
	err = rp_sig_verify(ctx->cred_key->pkey, ctx->cred_key->alg, ctx->ad->raw,
	    ctx->ad->len, ctx->cdh, RP_SHA256_LEN, sig, siglen);
	if (err == RP_ERR_BAD_SIGNATURE)
		return RP_ERR_ATTESTATION_SIGNATURE_INVALID;
	if (err == RP_OK)
		*attestation = RP_ATTESTATION_SELF;
	return err;
}

int
rp_attest_packed(const struct rp_attest_ctx *ctx, int *attestation)
{
	const cbor_item_t *st = ctx->att_stmt, *x5c;
	const uint8_t *sig;
	size_t siglen;
	int64_t alg;

	if (!rp_cbor_get_int(rp_cbor_map_get_str(st, "alg"), &alg) ||
	    !rp_cbor_get_bytes(rp_cbor_map_get_str(st, "sig"), &sig, &siglen) ||
	    rp_cbor_map_get_str(st, "ecdaaKeyId") != NULL)
		return RP_ERR_ATTESTATION_STATEMENT_MALFORMED;
	if ((x5c = rp_cbor_map_get_str(st, "x5c")) != NULL)
		return packed_x5c(ctx, alg, x5c, attestation);
	return packed_self(ctx, alg, sig, siglen, attestation);
}
