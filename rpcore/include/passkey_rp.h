/*
 * passkey_rp: the WebAuthn relying-party core of ssh-passkeys.
 *
 * Bytes in, verdict or credential record out.  No I/O, no globals, no
 * clock unless the caller leaves the attestation time unset.  Every
 * function returns an rp_err code (RP_OK on success); rp_err_code() names
 * it and rp_err_str() explains it.  Types are opaque with _new/_free and
 * accessors, in the manner of libfido2.
 */
#ifndef PASSKEY_RP_H
#define PASSKEY_RP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "rp_err.h"

#define RP_COSE_ES256	(-7)
#define RP_COSE_EDDSA	(-8)
#define RP_COSE_RS256	(-257)

#define RP_MAX_RESPONSE_LEN	65536	/* a PublicKeyCredential JSON */
#define RP_MAX_CREDENTIAL_ID_LEN 1023	/* WebAuthn L3 §7.1 step 24 */
#define RP_MIN_CHALLENGE_LEN	16	/* WebAuthn L3 §13.4.3 */
/*
 * WebAuthn sets only a minimum.  Real relying parties send much longer
 * challenges (Windows Hello TPM registrations from deployments that put a
 * signed JWT in the challenge carry several hundred bytes); accept up to
 * 4 KiB.
 */
#define RP_MAX_CHALLENGE_LEN	4096

/* authenticator data flags (WebAuthn L3 §6.1) */
#define RP_FLAG_UP	0x01
#define RP_FLAG_UV	0x04
#define RP_FLAG_BE	0x08
#define RP_FLAG_BS	0x10
#define RP_FLAG_AT	0x40
#define RP_FLAG_ED	0x80

/* What an attestation proved; a policy accepts a set of these. */
enum rp_attestation {
	RP_ATTESTATION_NONE = 1 << 0,		/* fmt "none" */
	RP_ATTESTATION_SELF = 1 << 1,		/* signed by the credential itself */
	RP_ATTESTATION_TRUSTED = 1 << 2,	/* chain reaches a trust anchor */
	RP_ATTESTATION_UNTRUSTED = 1 << 3,	/* chain present, not verified to an anchor */
};
#define RP_ATTESTATION_ALL 0x0f
const char *rp_attestation_name(int attestation);

/* --- policy: what this relying party expects ------------------------- */
typedef struct rp_policy rp_policy_t;

rp_policy_t *rp_policy_new(void);
void rp_policy_free(rp_policy_t **);
int rp_policy_set_rp_id(rp_policy_t *, const char *rp_id);
int rp_policy_add_origin(rp_policy_t *, const char *origin);
int rp_policy_set_require_uv(rp_policy_t *, bool);
/* Default: ES256, EdDSA, RS256. */
int rp_policy_set_allowed_algs(rp_policy_t *, const int *algs, size_t n);
/* One or more PEM certificates; each becomes a trust anchor. */
int rp_policy_add_trust_anchor_pem(rp_policy_t *, const char *pem, size_t len);
/* The time at which certificates are checked (default: now). */
int rp_policy_set_time(rp_policy_t *, time_t);
/* A mask of enum rp_attestation; default RP_ATTESTATION_ALL. */
int rp_policy_set_accepted_attestation(rp_policy_t *, int mask);
/* Default true: a sign count that did not grow rejects the assertion. */
int rp_policy_set_reject_sign_count_regression(rp_policy_t *, bool);

/* --- response: a browser's PublicKeyCredential (toJSON form) --------- */
typedef struct rp_response rp_response_t;

int rp_response_from_json(const char *json, size_t len, rp_response_t **out);
void rp_response_free(rp_response_t **);
const uint8_t *rp_response_raw_id_ptr(const rp_response_t *);
size_t rp_response_raw_id_len(const rp_response_t *);

/* --- registration ------------------------------------------------------ */
typedef struct rp_credential rp_credential_t;

int rp_verify_registration(const rp_policy_t *, const uint8_t *challenge,
    size_t challenge_len, const rp_response_t *, rp_credential_t **out);
void rp_credential_free(rp_credential_t **);
const uint8_t *rp_credential_id_ptr(const rp_credential_t *);
size_t rp_credential_id_len(const rp_credential_t *);
int rp_credential_alg(const rp_credential_t *);
const uint8_t *rp_credential_pubkey_cose_ptr(const rp_credential_t *);
size_t rp_credential_pubkey_cose_len(const rp_credential_t *);
uint32_t rp_credential_sign_count(const rp_credential_t *);
const char *rp_credential_fmt(const rp_credential_t *);
const uint8_t *rp_credential_aaguid_ptr(const rp_credential_t *);	/* 16 bytes */
uint8_t rp_credential_flags(const rp_credential_t *);
int rp_credential_attestation(const rp_credential_t *);

/* --- public keys (parse once from a stored COSE key, verify many) ----- */
typedef struct rp_pubkey rp_pubkey_t;

int rp_pubkey_from_cose(const uint8_t *cose, size_t len, rp_pubkey_t **out);
void rp_pubkey_free(rp_pubkey_t **);
int rp_pubkey_alg(const rp_pubkey_t *);
/*
 * The key's raw public bytes, as other formats (OpenSSH) write them:
 * ES256 the uncompressed point 0x04||x||y (65 bytes), EdDSA the 32-byte
 * key.  RS256: RP_ERR_ALG_UNSUPPORTED.  *len is the size of out on entry.
 */
#define RP_PUBKEY_RAW_MAX 65
int rp_pubkey_raw(const rp_pubkey_t *, uint8_t *out, size_t *len);

/* --- authentication ---------------------------------------------------- */
struct rp_known_credential {
	const uint8_t *id;		/* the credential this ceremony allows */
	size_t id_len;
	const rp_pubkey_t *pubkey;
	uint32_t sign_count;		/* as stored */
	const uint8_t *user_handle;	/* NULL: not checked */
	size_t user_handle_len;
	int backup_eligible;		/* -1 unknown, else 0 or 1 as registered */
};

struct rp_assertion_result {
	uint32_t sign_count;		/* the authenticator's new count */
	uint8_t flags;
	bool sign_count_regressed;	/* clone signal, when policy lets it pass */
};

int rp_verify_assertion(const rp_policy_t *, const uint8_t *challenge,
    size_t challenge_len, const rp_response_t *,
    const struct rp_known_credential *, struct rp_assertion_result *out);

#endif /* PASSKEY_RP_H */
