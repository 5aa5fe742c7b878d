/*
 * Attestation certificates: loading x5c, the chain verdict against the
 * policy's trust anchors (OpenSSL X509_STORE, since libfido2 validates no
 * chains), and the per-format certificate checks they share.
 */
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "rp_cbor.h"
#include "rp_internal.h"

#define OID_FIDO_AAGUID "1.3.6.1.4.1.45724.1.1.4"

int
rp_x5c_load(const cbor_item_t *x5c, struct rp_x5c *out)
{
	cbor_item_t **items;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (!cbor_isa_array(x5c) || !cbor_array_is_definite(x5c))
		return RP_ERR_ATTESTATION_STATEMENT_MALFORMED;
	n = cbor_array_size(x5c);
	if (n == 0 || n > sizeof(out->certs) / sizeof(out->certs[0]))
		return RP_ERR_ATTESTATION_STATEMENT_MALFORMED;
	items = cbor_array_handle(x5c);
	for (size_t i = 0; i < n; i++) {
		const uint8_t *der, *p;
		size_t len;

		if (!rp_cbor_get_bytes(items[i], &der, &len) || len > LONG_MAX) {
			rp_x5c_clear(out);
			return RP_ERR_ATTESTATION_STATEMENT_MALFORMED;
		}
		p = der;
		/* d2i must consume the whole string: no bytes hidden after a cert. */
		if ((out->certs[i] = d2i_X509(NULL, &p, (long)len)) == NULL ||
		    p != der + len) {
			X509_free(out->certs[i]);	/* parsed, but bytes followed */
			rp_x5c_clear(out);
			ERR_clear_error();
			return RP_ERR_ATTESTATION_CERT_INVALID;
		}
		out->n = i + 1;
	}
	return RP_OK;
}

void
rp_x5c_clear(struct rp_x5c *x)
{
	for (size_t i = 0; i < x->n; i++)
		X509_free(x->certs[i]);
	memset(x, 0, sizeof(*x));
}

static int
map_verify_error(int e)
{
	switch (e) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CRL_HAS_EXPIRED:
		return RP_ERR_ATTESTATION_CERT_EXPIRED;
	case X509_V_ERR_CERT_NOT_YET_VALID:
	case X509_V_ERR_CRL_NOT_YET_VALID:
		return RP_ERR_ATTESTATION_CERT_NOT_YET_VALID;
	case X509_V_ERR_OUT_OF_MEM:
		return RP_ERR_NO_MEMORY;
	default:
		return RP_ERR_ATTESTATION_UNTRUSTED;
	}
}

/* Leaf first; the rest of x5c are untrusted intermediates. */
static int
verify_chain(const rp_policy_t *p, const struct rp_x5c *x5c)
{
	STACK_OF(X509) *chain = NULL;
	X509_STORE_CTX *ctx = NULL;
	int err = RP_ERR_NO_MEMORY;

	if ((chain = sk_X509_new_null()) == NULL ||
	    (ctx = X509_STORE_CTX_new()) == NULL)
		goto out;
	for (size_t i = 1; i < x5c->n; i++)
		if (!sk_X509_push(chain, x5c->certs[i]))
			goto out;
	if (X509_STORE_CTX_init(ctx, p->anchors, x5c->certs[0], chain) != 1)
		goto out;
	/* An anchor is trusted as given, even when it is not a self-signed root
	 * (vendors often publish an intermediate as their attestation root). */
	X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_PARTIAL_CHAIN);
	if (p->time_set)
		X509_STORE_CTX_set_time(ctx, 0, p->time);
	err = X509_verify_cert(ctx) == 1 ? RP_OK :
	    map_verify_error(X509_STORE_CTX_get_error(ctx));
out:
	X509_STORE_CTX_free(ctx);
	sk_X509_free(chain);
	ERR_clear_error();
	return err;
}

/*
 * Without anchors a chain proves nothing: it is recorded as untrusted.
 * With anchors, a chain that fails is refused unless the policy accepts
 * untrusted attestation, and then it is recorded as such.
 */
int
rp_x5c_chain_verdict(const rp_policy_t *p, const struct rp_x5c *x5c, int *attestation)
{
	int err = RP_ERR_ATTESTATION_UNTRUSTED;

	if (p->anchors != NULL && p->nanchors > 0)
		err = verify_chain(p, x5c);
	if (err == RP_OK) {
		*attestation = RP_ATTESTATION_TRUSTED;
		return RP_OK;
	}
	if (err == RP_ERR_NO_MEMORY ||
	    !(p->accepted_attestation & RP_ATTESTATION_UNTRUSTED))
		return err;
	*attestation = RP_ATTESTATION_UNTRUSTED;
	return RP_OK;
}

const ASN1_OCTET_STRING *
rp_x509_ext_value(X509 *cert, const char *oid)
{
	ASN1_OBJECT *obj;
	X509_EXTENSION *ext;
	int idx;

	if ((obj = OBJ_txt2obj(oid, 1)) == NULL)
		return NULL;
	idx = X509_get_ext_by_OBJ(cert, obj, -1);
	ASN1_OBJECT_free(obj);
	/* An extension given twice is ambiguous: treat it as unreadable. */
	if (idx < 0 || X509_get_ext_by_OBJ(cert, X509_EXTENSION_get_object(
	    X509_get_ext(cert, idx)), idx) >= 0)
		return NULL;
	ext = X509_get_ext(cert, idx);
	return X509_EXTENSION_get_data(ext);
}

/*
 * §8.2.1 (packed) and §8.3.1 (TPM AIK): "The Basic Constraints extension
 * MUST have the CA component set to false", so the extension must be
 * there (EXFLAG_BCONS): EXFLAG_CA alone passed a leaf without one, or
 * with one OpenSSL could not decode (EXFLAG_INVALID, which any known
 * extension that fails to decode sets; no real leaf surveyed has it).
 * Critical or not: Solo 2, ATKey and eWBM leaves mark it non-critical.
 * OpenSSL's own decoding, not strict DER: Chrome 89-90's virtual
 * authenticator encodes cA FALSE explicitly, and it decodes here.
 */
bool
rp_x509_is_end_entity(X509 *cert)
{
	uint32_t flags = X509_get_extension_flags(cert);

	return (flags & (EXFLAG_BCONS | EXFLAG_CA | EXFLAG_INVALID)) == EXFLAG_BCONS;
}

/*
 * id-fido-gen-ce-aaguid, when present, must be a non-critical OCTET STRING
 * holding the authenticator's AAGUID (WebAuthn L3 §8.2.1).
 */
int
rp_x509_check_aaguid(X509 *cert, const uint8_t *aaguid)
{
	const ASN1_OCTET_STRING *v;
	const unsigned char *p;
	ASN1_OCTET_STRING *inner;
	ASN1_OBJECT *obj;
	int idx, ok;

	if ((obj = OBJ_txt2obj(OID_FIDO_AAGUID, 1)) == NULL)
		return RP_ERR_NO_MEMORY;
	idx = X509_get_ext_by_OBJ(cert, obj, -1);
	ASN1_OBJECT_free(obj);
	if (idx < 0)
		return RP_OK;
	if (X509_EXTENSION_get_critical(X509_get_ext(cert, idx)) ||
	    (v = rp_x509_ext_value(cert, OID_FIDO_AAGUID)) == NULL)
		return RP_ERR_ATTESTATION_CERT_INVALID;
	p = ASN1_STRING_get0_data(v);
	inner = d2i_ASN1_OCTET_STRING(NULL, &p, ASN1_STRING_length(v));
	ok = inner != NULL && p == ASN1_STRING_get0_data(v) + ASN1_STRING_length(v) &&
	    ASN1_STRING_length(inner) == RP_AAGUID_LEN &&
	    memcmp(ASN1_STRING_get0_data(inner), aaguid, RP_AAGUID_LEN) == 0;
	ASN1_OCTET_STRING_free(inner);
	ERR_clear_error();
	return ok ? RP_OK : RP_ERR_ATTESTATION_CERT_INVALID;
}

bool
rp_x509_key_matches(X509 *cert, const rp_pubkey_t *k)
{
	EVP_PKEY *certkey = X509_get0_pubkey(cert);

	return certkey != NULL && EVP_PKEY_eq(certkey, k->pkey) == 1;
}
