/*
 * The one place signatures are checked: assertions, self attestation and
 * every certificate-signed attestation statement.  The key's type must
 * match the algorithm named beside the signature, or an RSA key could be
 * made to "verify" under an ECDSA label.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "rp_internal.h"

bool
rp_alg_known(int alg)
{
	return alg == RP_COSE_ES256 || alg == RP_COSE_EDDSA || alg == RP_COSE_RS256;
}

bool
rp_key_fits_alg(EVP_PKEY *pkey, int alg)
{
	char group[32];
	size_t glen;

	/* a certificate's key OpenSSL could not decode (X509_get0_pubkey) */
	if (pkey == NULL)
		return false;
	switch (alg) {
	case RP_COSE_ES256:
		return EVP_PKEY_get_base_id(pkey) == EVP_PKEY_EC &&
		    EVP_PKEY_get_group_name(pkey, group, sizeof(group), &glen) == 1 &&
		    strcmp(group, "prime256v1") == 0;
	case RP_COSE_EDDSA:
		return EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519;
	case RP_COSE_RS256:
	case RP_COSE_RS1:
		return EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA &&
		    EVP_PKEY_get_bits(pkey) >= 2048;
	default:
		return false;
	}
}

static const EVP_MD *
alg_digest(int alg)
{
	switch (alg) {
	case RP_COSE_ES256:
	case RP_COSE_RS256:
		return EVP_sha256();
	case RP_COSE_RS1:
		return EVP_sha1();
	default:
		return NULL;	/* EdDSA hashes inside the signature scheme */
	}
}

/* Ed25519 signs the whole message at once, so it must be contiguous. */
static int
verify_oneshot(EVP_MD_CTX *ctx, EVP_PKEY *pkey, const uint8_t *m1, size_t l1,
    const uint8_t *m2, size_t l2, const uint8_t *sig, size_t siglen)
{
	uint8_t stackbuf[1024], *msg = stackbuf;
	int ok;

	if (l1 > SIZE_MAX - l2)
		return -1;
	if (l1 + l2 > sizeof(stackbuf) && (msg = malloc(l1 + l2)) == NULL)
		return -1;
	if (l1 != 0)
		memcpy(msg, m1, l1);
	if (l2 != 0)
		memcpy(msg + l1, m2, l2);
	ok = EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pkey) == 1 &&
	    EVP_DigestVerify(ctx, sig, siglen, msg, l1 + l2) == 1;
	if (msg != stackbuf)
		free(msg);
	return ok ? 0 : 1;
}

static int
verify_streamed(EVP_MD_CTX *ctx, EVP_PKEY *pkey, const EVP_MD *md,
    const uint8_t *m1, size_t l1, const uint8_t *m2, size_t l2,
    const uint8_t *sig, size_t siglen)
{
	return EVP_DigestVerifyInit(ctx, NULL, md, NULL, pkey) == 1 &&
	    EVP_DigestVerifyUpdate(ctx, m1, l1) == 1 &&
	    EVP_DigestVerifyUpdate(ctx, m2, l2) == 1 &&
	    EVP_DigestVerifyFinal(ctx, sig, siglen) == 1 ? 0 : 1;
}

int
rp_sig_verify(EVP_PKEY *pkey, int alg, const uint8_t *m1, size_t l1,
    const uint8_t *m2, size_t l2, const uint8_t *sig, size_t siglen)
{
	EVP_MD_CTX *ctx;
	int r;

	if (pkey == NULL || !rp_key_fits_alg(pkey, alg))
		return RP_ERR_KEY_TYPE_MISMATCH;
	if (sig == NULL || siglen == 0)
		return RP_ERR_BAD_SIGNATURE;
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return RP_ERR_NO_MEMORY;
	if (alg == RP_COSE_EDDSA)
		r = verify_oneshot(ctx, pkey, m1, l1, m2, l2, sig, siglen);
	else
		r = verify_streamed(ctx, pkey, alg_digest(alg), m1, l1, m2, l2, sig, siglen);
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	if (r < 0)
		return RP_ERR_NO_MEMORY;
	return r == 0 ? RP_OK : RP_ERR_BAD_SIGNATURE;
}

int
rp_digest2(const EVP_MD *md, const uint8_t *m1, size_t l1, const uint8_t *m2,
    size_t l2, uint8_t *out, unsigned int *outlen)
{
	EVP_MD_CTX *ctx;
	int ok;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return RP_ERR_NO_MEMORY;
	ok = EVP_DigestInit_ex(ctx, md, NULL) == 1 &&
	    EVP_DigestUpdate(ctx, m1, l1) == 1 &&
	    EVP_DigestUpdate(ctx, m2, l2) == 1 &&
	    EVP_DigestFinal_ex(ctx, out, outlen) == 1;
	EVP_MD_CTX_free(ctx);
	return ok ? RP_OK : RP_ERR_INTERNAL;
}
