/*
 * Shared fixtures for the libFuzzer harnesses: the relying parties inputs
 * are verified against, and the ceremonies of the test vectors
 * (fuzz_vectors.h, generated from tests/data by seeds.py --header).
 *
 * Policies are built once per process and kept in statics (LeakSanitizer
 * treats them as reachable); everything a single input allocates is freed
 * before LLVMFuzzerTestOneInput returns.
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passkey_rp.h"
#include "rp_b64url.h"
#include "fuzz_vectors.h"

#define FUZZ_RP_ID	"example.org"
#define FUZZ_ORIGIN	"https://example.org"
/* 2026-06-01T00:00:00Z: the attestation_time of tests/data/attestation/. */
#define FUZZ_TIME	((time_t)1780272000)

/* W3C vector 01 (none, ES256): the default known credential and challenge. */
#define FUZZ_W3C01_AUTH_CHALLENGE "OcDnUhQXulTUPo3JUXT0I97pvzzYBP9tZchXyav01Ag"
#define FUZZ_W3C01_CRED_ID	"-R85HbTJsv3g6nAYnLo_tj9Xm6YSKzOtlP8-wzAIS-Q"
/* W3C vector 02 (packed, Ed25519, x5c): the default registration. */
#define FUZZ_W3C02_REG_CHALLENGE "qKv52r3GsN9jRms5vanoo0o04YUzelnxxXmZBnbTs70"
#define FUZZ_W3C02_CRED_ID	"zp-EDtllmVgM0UD7x7syMGM_UPYQQa_3Mwiuccqoor0"

/* A setup failure is a broken harness, not a finding: stop loudly. */
static inline void
fuzz_check(int err, const char *what)
{
	if (err != RP_OK) {
		fprintf(stderr, "fuzz harness setup: %s: %s\n", what,
		    rp_err_str(err));
		abort();
	}
}

/*
 * Every verdict must be one of the named codes in rp_err.h.  With
 * FUZZ_VERBOSE set in the environment, each verdict is printed too (handy
 * when replaying single inputs: ./fuzz_x FILE).
 */
static inline void
fuzz_known_err(int err)
{
	static int verbose = -1;

	if (verbose < 0)
		verbose = getenv("FUZZ_VERBOSE") != NULL;
	if (verbose)
		fprintf(stderr, "verdict: %s\n", rp_err_code(err));
	if (strcmp(rp_err_code(err), "unknown_error") == 0) {
		fprintf(stderr, "core returned unnamed error code %d\n", err);
		abort();
	}
}

/* Decodes a compile-time base64url constant; aborts on failure. */
static inline uint8_t *
fuzz_b64(const char *s, size_t *len)
{
	uint8_t *p = NULL;

	fuzz_check(rp_b64url_decode_alloc(s, strlen(s), &p, len), s);
	return p;
}

/*
 * A relying party for rp_id and origin.  with_anchors adds every trust
 * anchor of the test vectors (the W3C vector 02 root among them) and pins
 * the certificate time, so the x5c chain code runs deterministically.
 */
static inline rp_policy_t *
fuzz_policy_new(const char *rp_id, const char *origin, bool with_anchors,
    bool require_uv)
{
	rp_policy_t *p;

	if ((p = rp_policy_new()) == NULL)
		abort();
	fuzz_check(rp_policy_set_rp_id(p, rp_id), "rp_id");
	fuzz_check(rp_policy_add_origin(p, origin), "origin");
	fuzz_check(rp_policy_set_require_uv(p, require_uv), "require_uv");
	if (with_anchors) {
		for (size_t i = 0; i < FUZZ_NANCHORS; i++)
			fuzz_check(rp_policy_add_trust_anchor_pem(p,
			    fuzz_anchor_pems[i], strlen(fuzz_anchor_pems[i])),
			    "trust anchor");
		fuzz_check(rp_policy_set_time(p, FUZZ_TIME), "time");
	}
	return p;
}

/* The (cached) policy, with anchors, for a vector's rp_id and origin. */
static inline const rp_policy_t *
fuzz_policy_for(const struct fuzz_vector *v)
{
	static struct {
		const char *rp_id, *origin;
		rp_policy_t *p;
	} cache[8];

	for (size_t i = 0; i < sizeof(cache) / sizeof(cache[0]); i++) {
		if (cache[i].p == NULL) {
			cache[i].rp_id = v->rp_id;
			cache[i].origin = v->origin;
			cache[i].p = fuzz_policy_new(v->rp_id, v->origin, true, false);
		}
		if (strcmp(cache[i].rp_id, v->rp_id) == 0 &&
		    strcmp(cache[i].origin, v->origin) == 0)
			return cache[i].p;
	}
	abort();	/* more relying parties than the cache holds */
}

/*
 * The vector of this kind ('r' or 'a') whose credential ID is id, else the
 * one whose credential ID is dflt (a base64url constant).
 */
static inline const struct fuzz_vector *
fuzz_vector_for(char kind, const uint8_t *id, size_t id_len, const char *dflt)
{
	char enc[1400];
	const char *want = dflt;

	if (id != NULL && id_len > 0 && id_len <= RP_MAX_CREDENTIAL_ID_LEN) {
		rp_b64url_encode(id, id_len, enc);
		want = enc;
	}
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < FUZZ_NVECTORS; i++)
			if (fuzz_vectors[i].kind == kind &&
			    strcmp(fuzz_vectors[i].cred_id, want) == 0)
				return &fuzz_vectors[i];
		want = dflt;
	}
	abort();	/* dflt is not in the table */
}

/* A credential record must be sound, and be the one the response named. */
static inline void
fuzz_check_credential(const rp_credential_t *c, const rp_response_t *resp)
{
	int alg = rp_credential_alg(c);
	int att = rp_credential_attestation(c);
	rp_pubkey_t *k = NULL;

	/* The record is the credential the response named. */
	if (rp_credential_id_len(c) != rp_response_raw_id_len(resp) ||
	    memcmp(rp_credential_id_ptr(c), rp_response_raw_id_ptr(resp),
	    rp_credential_id_len(c)) != 0)
		abort();
	if (rp_credential_id_len(c) == 0 ||
	    rp_credential_id_len(c) > RP_MAX_CREDENTIAL_ID_LEN ||
	    (alg != RP_COSE_ES256 && alg != RP_COSE_EDDSA && alg != RP_COSE_RS256) ||
	    (att & RP_ATTESTATION_ALL) == 0 || (att & (att - 1)) != 0 ||
	    !(rp_credential_flags(c) & RP_FLAG_UP) ||
	    !(rp_credential_flags(c) & RP_FLAG_AT) ||
	    strlen(rp_credential_fmt(c)) == 0)
		abort();
	(void)rp_credential_aaguid_ptr(c)[15];
	(void)rp_credential_sign_count(c);
	/* The stored key must load again, as the same algorithm. */
	if (rp_pubkey_from_cose(rp_credential_pubkey_cose_ptr(c),
	    rp_credential_pubkey_cose_len(c), &k) != RP_OK ||
	    rp_pubkey_alg(k) != alg)
		abort();
	rp_pubkey_free(&k);
}

/*
 * A registration for the vector's challenge and relying party: the verdict
 * is a named code, a credential exists exactly when it is RP_OK, and the
 * record is sound.
 */
static inline void
fuzz_register(const struct fuzz_vector *v, const rp_response_t *resp)
{
	rp_credential_t *cred = NULL;
	uint8_t *challenge;
	size_t challenge_len;
	int err;

	challenge = fuzz_b64(v->challenge, &challenge_len);
	err = rp_verify_registration(fuzz_policy_for(v), challenge,
	    challenge_len, resp, &cred);
	fuzz_known_err(err);
	if ((err == RP_OK) != (cred != NULL))
		abort();
	if (cred != NULL)
		fuzz_check_credential(cred, resp);
	rp_credential_free(&cred);
	free(challenge);
}

#endif /* FUZZ_COMMON_H */
