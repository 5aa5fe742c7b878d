/*
 * "tpm" attestation (WebAuthn L3 §8.3; TPM 2.0 Part 2 structures).
 *
 * Parsed here rather than by libfido2: libfido2 1.12 accepts only the one
 * shape Windows Hello produced early on (SHA-1 extraData, a 2048-bit RSA
 * pubArea with fixed attributes), and refuses ECC and SHA-256 statements.
 *
 * The AIK signs certInfo (TPMS_ATTEST); certInfo's extraData binds this
 * request, and its attested name binds pubArea (TPMT_PUBLIC), whose key
 * must be the credential key from authenticator data.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "rp_buf.h"
#include "rp_cbor.h"
#include "rp_internal.h"

#define TPM_GENERATED_VALUE	0xff544347
#define TPM_ST_ATTEST_CERTIFY	0x8017
#define TPM_ALG_RSA		0x0001
#define TPM_ALG_SHA1		0x0004
#define TPM_ALG_SHA256		0x000b
#define TPM_ALG_SHA384		0x000c
#define TPM_ALG_SHA512		0x000d
#define TPM_ALG_NULL		0x0010
#define TPM_ALG_ECC		0x0023
#define TPM_ECC_NIST_P256	0x0003
#define OID_TCG_KP_AIK		"2.23.133.8.3"
#define OID_TCG_AT_TPM_MANUFACTURER	"2.23.133.2.1"
#define OID_TCG_AT_TPM_MODEL		"2.23.133.2.2"
#define OID_TCG_AT_TPM_VERSION		"2.23.133.2.3"

struct tpm_public {
	uint16_t type;
	uint16_t name_alg;
	uint32_t exponent;		/* RSA; 0 means 65537 */
	uint16_t curve;			/* ECC */
	const uint8_t *unique;		/* RSA modulus, or ECC x */
	size_t unique_len;
	const uint8_t *y;		/* ECC y */
	size_t y_len;
};

static const EVP_MD *
tpm_hash(uint16_t alg)
{
	switch (alg) {
	case TPM_ALG_SHA1: return EVP_sha1();
	case TPM_ALG_SHA256: return EVP_sha256();
	case TPM_ALG_SHA384: return EVP_sha384();
	case TPM_ALG_SHA512: return EVP_sha512();
	default: return NULL;
	}
}

/* A TPMT_*_SCHEME / TPMT_KDF_SCHEME: an alg, then a hash unless NULL. */
static bool
skip_scheme(struct rp_buf *b)
{
	uint16_t alg;

	return rp_buf_get_u16(b, &alg) && (alg == TPM_ALG_NULL || rp_buf_skip(b, 2));
}

/* TPMT_PUBLIC for the two key types WebAuthn credentials use. */
static int
parse_pubarea(const uint8_t *p, size_t len, struct tpm_public *pub)
{
	struct rp_buf b;
	const uint8_t *policy;
	size_t policy_len;
	uint16_t sym, bits;
	uint32_t attrs;

	memset(pub, 0, sizeof(*pub));
	rp_buf_init(&b, p, len);
	if (!rp_buf_get_u16(&b, &pub->type) || !rp_buf_get_u16(&b, &pub->name_alg) ||
	    !rp_buf_get_u32(&b, &attrs) || !rp_buf_get_tpm2b(&b, &policy, &policy_len) ||
	    !rp_buf_get_u16(&b, &sym) || sym != TPM_ALG_NULL || !skip_scheme(&b))
		return RP_ERR_ATTESTATION_STATEMENT_MALFORMED;
	if (pub->type == TPM_ALG_RSA) {
		if (!rp_buf_get_u16(&b, &bits) || !rp_buf_get_u32(&b, &pub->exponent) ||
		    !rp_buf_get_tpm2b(&b, &pub->unique, &pub->unique_len))
			return RP_ERR_ATTESTATION_STATEMENT_MALFORMED;
	} else if (pub->type == TPM_ALG_ECC) {
		if (!rp_buf_get_u16(&b, &pub->curve) || !skip_scheme(&b) ||
		    !rp_buf_get_tpm2b(&b, &pub->unique, &pub->unique_len) ||
		    !rp_buf_get_tpm2b(&b, &pub->y, &pub->y_len))
			return RP_ERR_ATTESTATION_STATEMENT_MALFORMED;
	} else {
		return RP_ERR_ATTESTATION_STATEMENT_INVALID;
	}
	if (rp_buf_left(&b) != 0 || tpm_hash(pub->name_alg) == NULL)
		return RP_ERR_ATTESTATION_STATEMENT_MALFORMED;
	return RP_OK;
}

static bool
bn_param_equals(EVP_PKEY *pkey, const char *name, const uint8_t *be, size_t len)
{
	BIGNUM *have = NULL, *want = BN_bin2bn(be, (int)len, NULL);
	bool eq;

	eq = want != NULL && EVP_PKEY_get_bn_param(pkey, name, &have) == 1 &&
	    BN_cmp(have, want) == 0;
	BN_free(have);
	BN_free(want);
	return eq;
}

/* Compares the uncompressed point 0x04 || x || y. */
static bool
ec_point_equals(EVP_PKEY *pkey, const uint8_t *x, const uint8_t *y)
{
	unsigned char *enc = NULL;
	size_t len = EVP_PKEY_get1_encoded_public_key(pkey, &enc);
	bool eq;

	eq = len == 65 && enc[0] == 0x04 && memcmp(enc + 1, x, 32) == 0 &&
	    memcmp(enc + 33, y, 32) == 0;
	OPENSSL_free(enc);
	return eq;
}

/* §8.3.2: pubArea's parameters and unique must be the credential key. */
static bool
pubarea_matches_key(const struct tpm_public *pub, const rp_pubkey_t *k)
{
	uint8_t e[4];
	uint32_t exp = pub->exponent == 0 ? 65537 : pub->exponent;

	if (pub->type == TPM_ALG_RSA && k->alg == RP_COSE_RS256) {
		e[0] = exp >> 24, e[1] = exp >> 16, e[2] = exp >> 8, e[3] = exp;
		return bn_param_equals(k->pkey, OSSL_PKEY_PARAM_RSA_N, pub->unique, pub->unique_len) &&
		    bn_param_equals(k->pkey, OSSL_PKEY_PARAM_RSA_E, e, sizeof(e));
	}
	if (pub->type == TPM_ALG_ECC && k->alg == RP_COSE_ES256 &&
	    pub->curve == TPM_ECC_NIST_P256 && pub->unique_len == 32 && pub->y_len == 32)
		return ec_point_equals(k->pkey, pub->unique, pub->y);
	return false;
}

/* TPMS_ATTEST of type certify: magic, extraData, and the attested name. */
static int
check_certinfo(const struct rp_attest_ctx *ctx, const uint8_t *ci, size_t cilen,
    const uint8_t *pubarea, size_t pubarea_len, uint16_t name_alg, const EVP_MD *sig_md)
{
	uint8_t want[EVP_MAX_MD_SIZE], name_digest[EVP_MAX_MD_SIZE];
	unsigned int want_len, name_len;
	const uint8_t *signer, *extra, *name, *qname;
	size_t signer_len, extra_len, nlen, qlen;
	struct rp_buf b;
	uint32_t magic;
	uint16_t type;

	rp_buf_init(&b, ci, cilen);
	if (!rp_buf_get_u32(&b, &magic) || !rp_buf_get_u16(&b, &type) ||
	    !rp_buf_get_tpm2b(&b, &signer, &signer_len) ||
	    !rp_buf_get_tpm2b(&b, &extra, &extra_len) ||
	    !rp_buf_skip(&b, 17 + 8) ||		/* clockInfo, firmwareVersion */
	    !rp_buf_get_tpm2b(&b, &name, &nlen) ||
	    !rp_buf_get_tpm2b(&b, &qname, &qlen) || rp_buf_left(&b) != 0)
		return RP_ERR_ATTESTATION_STATEMENT_MALFORMED;
	if (magic != TPM_GENERATED_VALUE || type != TPM_ST_ATTEST_CERTIFY)
		return RP_ERR_ATTESTATION_STATEMENT_INVALID;
	if (rp_digest2(sig_md, ctx->ad->raw, ctx->ad->len, ctx->cdh, RP_SHA256_LEN,
	    want, &want_len) != RP_OK ||
	    rp_digest2(tpm_hash(name_alg), pubarea, pubarea_len, NULL, 0,
	    name_digest, &name_len) != RP_OK)
		return RP_ERR_INTERNAL;
	if (extra_len != want_len || CRYPTO_memcmp(extra, want, want_len) != 0)
		return RP_ERR_ATTESTATION_STATEMENT_INVALID;
	/* name = nameAlg (big-endian u16) || H_nameAlg(pubArea) */
	if (nlen != 2 + name_len || name[0] != (name_alg >> 8) ||
	    name[1] != (name_alg & 0xff) || CRYPTO_memcmp(name + 2, name_digest, name_len) != 0)
		return RP_ERR_ATTESTATION_STATEMENT_INVALID;
	return RP_OK;
}

static bool
has_aik_eku(X509 *cert)
{
	EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(cert, NID_ext_key_usage, NULL, NULL);
	ASN1_OBJECT *aik = OBJ_txt2obj(OID_TCG_KP_AIK, 1);
	bool found = false;

	for (int i = 0; eku != NULL && aik != NULL && i < sk_ASN1_OBJECT_num(eku); i++)
		found |= OBJ_cmp(sk_ASN1_OBJECT_value(eku, i), aik) == 0;
	EXTENDED_KEY_USAGE_free(eku);
	ASN1_OBJECT_free(aik);
	return found;
}

/* name holds the attribute oid, with a value that is not empty. */
static bool
name_has_attr(X509_NAME *name, const char *oid)
{
	ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
	int i = obj != NULL ? X509_NAME_get_index_by_OBJ(name, obj, -1) : -1;

	ASN1_OBJECT_free(obj);
	return i >= 0 &&
	    ASN1_STRING_length(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i))) > 0;
}

/*
 * §8.3.1: the SAN is "set as defined in [TPMv2-EK-Profile] section 3.2.9",
 * a directoryName naming the TPM's manufacturer, model and version; being
 * there is not enough.  Both encodings Windows AIK certificates carry are
 * read: three RDNs, or one multi-valued RDN.  The subject is empty, so the
 * SAN must be critical (RFC 5280 §4.2.1.6), as it is in every one of them.
 * The manufacturer is not matched against the TCG vendor list: the AIK CA
 * that the trust anchors vouch for asserts it, and the list grows.
 */
static bool
has_tpm_san(X509 *cert)
{
	GENERAL_NAMES *san;
	GENERAL_NAME *gn;
	bool found = false;
	int crit;

	/* NULL, and crit -2, when the extension is given twice */
	san = X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, NULL);
	for (int i = 0; san != NULL && crit == 1 && i < sk_GENERAL_NAME_num(san); i++) {
		gn = sk_GENERAL_NAME_value(san, i);
		found |= gn->type == GEN_DIRNAME &&
		    name_has_attr(gn->d.directoryName, OID_TCG_AT_TPM_MANUFACTURER) &&
		    name_has_attr(gn->d.directoryName, OID_TCG_AT_TPM_MODEL) &&
		    name_has_attr(gn->d.directoryName, OID_TCG_AT_TPM_VERSION);
	}
	GENERAL_NAMES_free(san);
	ERR_clear_error();
	return found;
}

/* §8.3.1 AIK certificate requirements. */
static int
check_aik_cert(X509 *aik, const uint8_t *aaguid)
{
	if (X509_get_version(aik) != X509_VERSION_3 ||
	    X509_NAME_entry_count(X509_get_subject_name(aik)) != 0 ||
	    !has_tpm_san(aik) || !has_aik_eku(aik) || !rp_x509_is_end_entity(aik))
		return RP_ERR_ATTESTATION_CERT_INVALID;
	return rp_x509_check_aaguid(aik, aaguid);
}

static const EVP_MD *
sig_digest(int64_t alg)
{
	switch (alg) {
	case RP_COSE_RS256:
	case RP_COSE_ES256:
		return EVP_sha256();
	case RP_COSE_RS1:
		return EVP_sha1();
	default:
		return NULL;
	}
}

int
rp_attest_tpm(const struct rp_attest_ctx *ctx, int *attestation)
{
	const cbor_item_t *st = ctx->att_stmt;
	const uint8_t *sig, *ci, *pa;
	size_t siglen, cilen, palen;
	struct tpm_public pub;
	struct rp_x5c certs;
	int64_t alg;
	int err;

	if (!rp_cbor_is_text(rp_cbor_map_get_str(st, "ver"), "2.0") ||
	    !rp_cbor_get_int(rp_cbor_map_get_str(st, "alg"), &alg) ||
	    !rp_cbor_get_bytes(rp_cbor_map_get_str(st, "sig"), &sig, &siglen) ||
	    !rp_cbor_get_bytes(rp_cbor_map_get_str(st, "certInfo"), &ci, &cilen) ||
	    !rp_cbor_get_bytes(rp_cbor_map_get_str(st, "pubArea"), &pa, &palen) ||
	    rp_cbor_map_get_str(st, "x5c") == NULL)
		return RP_ERR_ATTESTATION_STATEMENT_MALFORMED;
	if (sig_digest(alg) == NULL)
		return RP_ERR_ATTESTATION_STATEMENT_INVALID;
	if ((err = parse_pubarea(pa, palen, &pub)) != RP_OK)
		return err;
	if (!pubarea_matches_key(&pub, ctx->cred_key))
		return RP_ERR_ATTESTATION_STATEMENT_INVALID;
	if ((err = check_certinfo(ctx, ci, cilen, pa, palen, pub.name_alg,
	    sig_digest(alg))) != RP_OK)
		return err;
	if ((err = rp_x5c_load(rp_cbor_map_get_str(st, "x5c"), &certs)) != RP_OK)
		return err;
	err = rp_sig_verify(X509_get0_pubkey(certs.certs[0]), (int)alg, ci, cilen,
	    NULL, 0, sig, siglen);
	if (err == RP_ERR_BAD_SIGNATURE)
		err = RP_ERR_ATTESTATION_SIGNATURE_INVALID;
	else if (err == RP_ERR_KEY_TYPE_MISMATCH)
		err = RP_ERR_ATTESTATION_STATEMENT_INVALID;
	if (err == RP_OK && (err = check_aik_cert(certs.certs[0], ctx->ad->aaguid)) == RP_OK)
		err = rp_x5c_chain_verdict(ctx->policy, &certs, attestation);
	rp_x5c_clear(&certs);
	return err;
}
