/* Structures shared by the core's own files; not part of the public API. */
#ifndef RP_INTERNAL_H
#define RP_INTERNAL_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <cbor.h>

#include "passkey_rp.h"

#define RP_MAX_ORIGINS	32
#define RP_SHA256_LEN	32
#define RP_AAGUID_LEN	16
/* SHA-1 RSA: accepted only inside TPM attestation statements (Windows Hello). */
#define RP_COSE_RS1	(-65535)

struct rp_policy {
	char *rp_id;
	uint8_t rp_id_hash[RP_SHA256_LEN];
	char *origins[RP_MAX_ORIGINS];
	size_t norigins;
	bool require_uv;
	int algs[8];
	size_t nalgs;
	X509_STORE *anchors;
	size_t nanchors;
	bool time_set;
	time_t time;
	int accepted_attestation;
	bool reject_sign_count_regression;
};

struct rp_response {
	uint8_t *raw_id;
	size_t raw_id_len;
	uint8_t *client_data_json;
	size_t client_data_json_len;
	uint8_t *attestation_object;	/* registration */
	size_t attestation_object_len;
	uint8_t *authenticator_data;	/* authentication */
	size_t authenticator_data_len;
	uint8_t *signature;
	size_t signature_len;
	uint8_t *user_handle;		/* NULL when absent or null */
	size_t user_handle_len;
};

struct rp_pubkey {
	int alg;
	EVP_PKEY *pkey;
};

/* Parsed authenticator data; pointers alias the caller's bytes. */
struct rp_authdata {
	const uint8_t *raw;
	size_t len;
	const uint8_t *rp_id_hash;
	uint8_t flags;
	uint32_t sign_count;
	const uint8_t *aaguid;		/* AT only */
	const uint8_t *cred_id;
	size_t cred_id_len;
	const uint8_t *cose_key;
	size_t cose_key_len;
	const uint8_t *ext;		/* ED only: a CBOR map */
	size_t ext_len;
};

struct rp_credential {
	uint8_t *id;
	size_t id_len;
	int alg;
	uint8_t *cose;
	size_t cose_len;
	uint32_t sign_count;
	char fmt[32 + 1];
	uint8_t aaguid[RP_AAGUID_LEN];
	uint8_t flags;
	int attestation;
};

/* What an attestation format's verifier gets. */
struct rp_attest_ctx {
	const rp_policy_t *policy;
	const char *fmt;
	const cbor_item_t *att_stmt;
	const struct rp_authdata *ad;
	const uint8_t *cdh;		/* SHA-256 of clientDataJSON */
	const rp_pubkey_t *cred_key;
};

/* rp_clientdata.c */
int rp_clientdata_verify(const rp_policy_t *, const uint8_t *cdj, size_t len,
    const char *type, const uint8_t *challenge, size_t challenge_len);
/* rp_authdata.c */
int rp_authdata_parse(const uint8_t *p, size_t len, struct rp_authdata *ad);
int rp_authdata_check_flags(const rp_policy_t *, const struct rp_authdata *, bool registration);
/* rp_policy.c */
bool rp_policy_alg_allowed(const rp_policy_t *, int alg);
bool rp_policy_ready(const rp_policy_t *);
/* rp_sig.c: verify sig over (m1 || m2) */
int rp_sig_verify(EVP_PKEY *pkey, int alg, const uint8_t *m1, size_t l1,
    const uint8_t *m2, size_t l2, const uint8_t *sig, size_t siglen);
bool rp_alg_known(int alg);
/* pkey is a key alg signs with: type, curve, RSA at least 2048 bits; false for NULL */
bool rp_key_fits_alg(EVP_PKEY *pkey, int alg);
/* out = H(m1 || m2); outlen may be NULL. */
int rp_digest2(const EVP_MD *md, const uint8_t *m1, size_t l1,
    const uint8_t *m2, size_t l2, uint8_t *out, unsigned int *outlen);
/* rp_attest.c and one file per format */
int rp_attest_verify(const struct rp_attest_ctx *, int *attestation);
int rp_attest_none(const struct rp_attest_ctx *, int *attestation);
int rp_attest_packed(const struct rp_attest_ctx *, int *attestation);
int rp_attest_fido_u2f(const struct rp_attest_ctx *, int *attestation);
int rp_attest_tpm(const struct rp_attest_ctx *, int *attestation);
int rp_attest_android_key(const struct rp_attest_ctx *, int *attestation);
int rp_attest_apple(const struct rp_attest_ctx *, int *attestation);
/* rp_x509.c */
struct rp_x5c {
	X509 *certs[8];
	size_t n;
};
int rp_x5c_load(const cbor_item_t *x5c, struct rp_x5c *out);
void rp_x5c_clear(struct rp_x5c *);
int rp_x5c_chain_verdict(const rp_policy_t *, const struct rp_x5c *, int *attestation);
int rp_x509_check_aaguid(X509 *, const uint8_t *aaguid);
bool rp_x509_is_end_entity(X509 *);
const ASN1_OCTET_STRING *rp_x509_ext_value(X509 *, const char *oid);
bool rp_x509_key_matches(X509 *, const rp_pubkey_t *);

#endif /* RP_INTERNAL_H */
