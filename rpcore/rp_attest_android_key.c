/*
 * "android-key" attestation (WebAuthn L3 §8.4).  The credential key itself
 * signs; its certificate carries the Android KeyDescription extension,
 * which must bind this request (attestationChallenge = clientDataHash), be
 * scoped to this app (no allApplications), and describe a key generated in
 * the keystore for signing only.  The union of softwareEnforced and
 * teeEnforced is read, as §8.4.2 allows when TEE-only is not demanded.
 */
#include <string.h>

#include <openssl/crypto.h>

#include "rp_cbor.h"
#include "rp_der.h"
#include "rp_internal.h"

#define OID_ANDROID_KEY_DESC	"1.3.6.1.4.1.11129.2.1.17"
#define KM_TAG_PURPOSE		1
#define KM_TAG_ALL_APPLICATIONS	600
#define KM_TAG_ORIGIN		702
#define KM_PURPOSE_SIGN		2
#define KM_ORIGIN_GENERATED	0

struct key_auth {
	bool all_applications;
	int purposes;		/* how many purposes were listed */
	int sign_purposes;	/* how many of them were SIGN */
	int origins;
	int generated_origins;
};

/*
 * A purpose or an origin: an INTEGER in the schema, so universal,
 * primitive and number 2.  ENUMERATED (10), which the KeyDescription
 * uses for fields this reader does not read (the security levels,
 * verifiedBootState), is some other type here.
 */
static bool
der_small_int(struct rp_der *d, long *v)
{
	const uint8_t *p;
	size_t n = rp_buf_left(&d->body);

	if (!rp_der_is_universal_primitive(d, 2) ||
	    n == 0 || n > 4 || !rp_buf_get_bytes(&d->body, n, &p))
		return false;
	*v = (p[0] & 0x80) ? -1 : 0;
	for (size_t i = 0; i < n; i++)
		*v = (long)(((unsigned long)*v << 8) | p[i]);
	return true;
}

static bool
read_purposes(struct rp_der *tagged, struct key_auth *ka)
{
	struct rp_der set, v;
	long x;

	/* purpose [1] EXPLICIT SET OF INTEGER */
	if (!rp_der_explicit_inner(tagged, &set) ||
	    !rp_der_is_universal_constructed(&set, 17))
		return false;
	while (rp_buf_left(&set.body) > 0) {
		if (!rp_der_next(&set.body, &v) || !der_small_int(&v, &x))
			return false;
		ka->purposes++;
		ka->sign_purposes += x == KM_PURPOSE_SIGN;
	}
	return true;
}

static bool
read_auth_list(struct rp_der *list, struct key_auth *ka)
{
	struct rp_der f, v;
	long x;

	if (!rp_der_is_universal_constructed(list, 16))	/* AuthorizationList */
		return false;
	while (rp_buf_left(&list->body) > 0) {
		if (!rp_der_next(&list->body, &f))
			return false;
		if (f.cls != RP_DER_CLASS_CONTEXT)
			continue;
		if (f.tag == KM_TAG_ALL_APPLICATIONS) {
			ka->all_applications = true;
		} else if (f.tag == KM_TAG_PURPOSE) {
			if (!read_purposes(&f, ka))
				return false;
		} else if (f.tag == KM_TAG_ORIGIN) {
			if (!rp_der_explicit_inner(&f, &v) || !der_small_int(&v, &x))
				return false;
			ka->origins++;
			ka->generated_origins += x == KM_ORIGIN_GENERATED;
		}
	}
	return true;
}

static int
check_key_description(X509 *cert, const uint8_t *cdh)
{
	const ASN1_OCTET_STRING *ext = rp_x509_ext_value(cert, OID_ANDROID_KEY_DESC);
	struct rp_der seq, f[8];
	struct key_auth ka = { 0 };
	struct rp_buf b;

	if (ext == NULL)
		return RP_ERR_ATTESTATION_CERT_INVALID;
	rp_buf_init(&b, ASN1_STRING_get0_data(ext), (size_t)ASN1_STRING_length(ext));
	if (!rp_der_next(&b, &seq) || !rp_der_is_universal_constructed(&seq, 16) ||
	    rp_buf_left(&b) != 0)
		return RP_ERR_ATTESTATION_CERT_INVALID;
	for (size_t i = 0; i < 8; i++)
		if (!rp_der_next(&seq.body, &f[i]))
			return RP_ERR_ATTESTATION_CERT_INVALID;
	/*
	 * f[4] attestationChallenge OCTET STRING, f[6] softwareEnforced,
	 * f[7] teeEnforced.  The versions and security levels before the
	 * challenge, and uniqueId after it, are stepped over unread.
	 */
	if (!rp_der_is_universal_primitive(&f[4], 4) ||
	    !read_auth_list(&f[6], &ka) || !read_auth_list(&f[7], &ka))
		return RP_ERR_ATTESTATION_CERT_INVALID;
	if (rp_buf_left(&f[4].body) != RP_SHA256_LEN ||
	    CRYPTO_memcmp(rp_buf_cur(&f[4].body), cdh, RP_SHA256_LEN) != 0)
		return RP_ERR_ATTESTATION_STATEMENT_INVALID;
	if (ka.all_applications ||
	    ka.purposes == 0 || ka.sign_purposes != ka.purposes ||
	    ka.origins == 0 || ka.generated_origins != ka.origins)
		return RP_ERR_ATTESTATION_STATEMENT_INVALID;
	return RP_OK;
}

int
rp_attest_android_key(const struct rp_attest_ctx *ctx, int *attestation)
{
	const cbor_item_t *st = ctx->att_stmt;
	const uint8_t *sig;
	size_t siglen;
	int64_t alg;
	struct rp_x5c certs;
	int err;

	if (!rp_cbor_get_int(rp_cbor_map_get_str(st, "alg"), &alg) ||
	    !rp_cbor_get_bytes(rp_cbor_map_get_str(st, "sig"), &sig, &siglen) ||
	    rp_cbor_map_get_str(st, "x5c") == NULL)
		return RP_ERR_ATTESTATION_STATEMENT_MALFORMED;
	if (alg != ctx->cred_key->alg)
		return RP_ERR_ATTESTATION_STATEMENT_INVALID;
	if ((err = rp_x5c_load(rp_cbor_map_get_str(st, "x5c"), &certs)) != RP_OK)
		return err;
	err = rp_sig_verify(X509_get0_pubkey(certs.certs[0]), (int)alg,
	    ctx->ad->raw, ctx->ad->len, ctx->cdh, RP_SHA256_LEN, sig, siglen);
	if (err == RP_ERR_BAD_SIGNATURE)
		err = RP_ERR_ATTESTATION_SIGNATURE_INVALID;
	else if (err == RP_ERR_KEY_TYPE_MISMATCH)
		err = RP_ERR_ATTESTATION_STATEMENT_INVALID;
	if (err == RP_OK && !rp_x509_key_matches(certs.certs[0], ctx->cred_key))
		err = RP_ERR_ATTESTATION_STATEMENT_INVALID;
	if (err == RP_OK && (err = check_key_description(certs.certs[0], ctx->cdh)) == RP_OK)
		err = rp_x5c_chain_verdict(ctx->policy, &certs, attestation);
	rp_x5c_clear(&certs);
	return err;
}
