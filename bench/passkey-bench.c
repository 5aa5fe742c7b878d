/*
 * passkey-bench: assertion verification through the RP core's public entry
 * points, against raw OpenSSL EVP_DigestVerify on the same signatures and
 * data, measured in the same run.
 *
 * Both sides run in alternating short rounds on one thread, so a burst of
 * load on this (noisy, shared) machine hits both alike; the ratio is what
 * carries meaning, not the absolute rate.  The core's side starts from the
 * browser's JSON, as the daemon will: rp_response_from_json() then
 * rp_verify_assertion() with a key parsed once from its stored COSE form.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "passkey_rp.h"
#include "rp_b64url.h"

#define RP_ID		"bench.example"
#define ORIGIN		"https://bench.example"
#define ROUNDS		10
#define ROUND_SECONDS	0.12

struct fixture {
	const char *name;
	int alg;
	EVP_PKEY *pkey;
	uint8_t cose[300];
	size_t cose_len;
	uint8_t challenge[32];
	uint8_t cred_id[32];
	uint8_t authdata[37];
	uint8_t cdh[32];
	uint8_t signed_data[37 + 32];	/* authData || SHA-256(clientDataJSON) */
	uint8_t sig[512];
	size_t sig_len;
	char *json;			/* the PublicKeyCredential */
	rp_response_t *decoded;		/* the same, decoded once */
	rp_pubkey_t *pubkey;
	rp_policy_t *policy;
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *what)
{
	fprintf(stderr, "passkey-bench: %s\n", what);
	exit(1);
}

/* COSE_Key in CTAP2 canonical form; see RFC 9053. */
static void
make_cose(struct fixture *f)
{
	uint8_t raw[512];
	size_t n = sizeof(raw), o = 0;
	uint8_t *c = f->cose;

	if (f->alg == RP_COSE_ES256) {
		if (!EVP_PKEY_get_octet_string_param(f->pkey, OSSL_PKEY_PARAM_PUB_KEY, raw, n, &n) || n != 65)
			die("P-256 public key");
		memcpy(c, "\xa5\x01\x02\x03\x26\x20\x01\x21\x58\x20", 10), o = 10;
		memcpy(c + o, raw + 1, 32), o += 32;
		memcpy(c + o, "\x22\x58\x20", 3), o += 3;
		memcpy(c + o, raw + 33, 32), o += 32;
	} else if (f->alg == RP_COSE_EDDSA) {
		if (!EVP_PKEY_get_raw_public_key(f->pkey, raw, &n) || n != 32)
			die("Ed25519 public key");
		memcpy(c, "\xa4\x01\x01\x03\x27\x20\x06\x21\x58\x20", 10), o = 10;
		memcpy(c + o, raw, 32), o += 32;
	} else {
		BIGNUM *bn = NULL;

		if (!EVP_PKEY_get_bn_param(f->pkey, OSSL_PKEY_PARAM_RSA_N, &bn) ||
		    BN_bn2binpad(bn, raw, 256) != 256)
			die("RSA public key");
		BN_free(bn);
		memcpy(c, "\xa4\x01\x03\x03\x39\x01\x00\x20\x59\x01\x00", 11), o = 11;
		memcpy(c + o, raw, 256), o += 256;
		memcpy(c + o, "\x21\x43\x01\x00\x01", 5), o += 5;
	}
	f->cose_len = o;
}

/* Signs data as a credential of alg does: Ed25519 whole, else over SHA-256. */
static void
sign(EVP_PKEY *pkey, int alg, const uint8_t *data, size_t len, uint8_t *sig,
    size_t *siglen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	const EVP_MD *md = alg == RP_COSE_EDDSA ? NULL : EVP_sha256();

	if (ctx == NULL || EVP_DigestSignInit(ctx, NULL, md, NULL, pkey) != 1 ||
	    EVP_DigestSign(ctx, sig, siglen, data, len) != 1)
		die("signing");
	EVP_MD_CTX_free(ctx);
}

static char *
b64(const void *p, size_t n)
{
	char *s = rp_b64url_encode_alloc(p, n);

	if (s == NULL)
		die("out of memory");
	return s;
}

static void
make_assertion(struct fixture *f)
{
	char cdj[256], *chal, *cd64, *ad64, *sig64, *id64;
	int n;

	RAND_bytes(f->challenge, sizeof(f->challenge));
	RAND_bytes(f->cred_id, sizeof(f->cred_id));
	chal = b64(f->challenge, sizeof(f->challenge));
	n = snprintf(cdj, sizeof(cdj), "{\"type\":\"webauthn.get\",\"challenge\":\"%s\","
	    "\"origin\":\"%s\",\"crossOrigin\":false}", chal, ORIGIN);
	SHA256((const unsigned char *)RP_ID, strlen(RP_ID), f->authdata);
	f->authdata[32] = RP_FLAG_UP | RP_FLAG_UV;	/* sign count 0 */
	SHA256((const unsigned char *)cdj, (size_t)n, f->cdh);
	memcpy(f->signed_data, f->authdata, sizeof(f->authdata));
	memcpy(f->signed_data + sizeof(f->authdata), f->cdh, sizeof(f->cdh));
	f->sig_len = sizeof(f->sig);
	sign(f->pkey, f->alg, f->signed_data, sizeof(f->signed_data), f->sig, &f->sig_len);
	cd64 = b64(cdj, (size_t)n);
	ad64 = b64(f->authdata, sizeof(f->authdata));
	sig64 = b64(f->sig, f->sig_len);
	id64 = b64(f->cred_id, sizeof(f->cred_id));
	if ((f->json = malloc(4096)) == NULL)
		die("out of memory");
	snprintf(f->json, 4096, "{\"id\":\"%s\",\"rawId\":\"%s\",\"type\":\"public-key\","
	    "\"response\":{\"clientDataJSON\":\"%s\",\"authenticatorData\":\"%s\","
	    "\"signature\":\"%s\"},\"clientExtensionResults\":{},"
	    "\"authenticatorAttachment\":\"platform\"}", id64, id64, cd64, ad64, sig64);
	free(chal), free(cd64), free(ad64), free(sig64), free(id64);
}

static void
setup(struct fixture *f)
{
	if (f->alg == RP_COSE_ES256)
		f->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	else if (f->alg == RP_COSE_EDDSA)
		f->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	else
		f->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	if (f->pkey == NULL)
		die("key generation");
	make_cose(f);
	make_assertion(f);
	if (rp_pubkey_from_cose(f->cose, f->cose_len, &f->pubkey) != RP_OK ||
	    rp_response_from_json(f->json, strlen(f->json), &f->decoded) != RP_OK ||
	    (f->policy = rp_policy_new()) == NULL ||
	    rp_policy_set_rp_id(f->policy, RP_ID) != RP_OK ||
	    rp_policy_add_origin(f->policy, ORIGIN) != RP_OK ||
	    rp_policy_set_require_uv(f->policy, true) != RP_OK)
		die("fixture");
}

/* The verification entry point: every WebAuthn check and the signature. */
static int
core_verify_response(const struct fixture *f, const rp_response_t *resp)
{
	struct rp_known_credential k = { f->cred_id, sizeof(f->cred_id), f->pubkey,
	    0, NULL, 0, -1 };
	struct rp_assertion_result res;

	return rp_verify_assertion(f->policy, f->challenge, sizeof(f->challenge),
	    resp, &k, &res);
}

static int
core_verify(const void *ctx)
{
	const struct fixture *f = ctx;

	return core_verify_response(f, f->decoded);
}

/* The same, starting from the browser's JSON as the daemon receives it. */
static int
core_verify_json(const void *ctx)
{
	const struct fixture *f = ctx;
	rp_response_t *resp;
	int err;

	if ((err = rp_response_from_json(f->json, strlen(f->json), &resp)) != RP_OK)
		return err;
	err = core_verify_response(f, resp);
	rp_response_free(&resp);
	return err;
}

/* The floor: OpenSSL alone, key already built, data already concatenated. */
static int
evp_verify(EVP_PKEY *pkey, int alg, const uint8_t *sig, size_t siglen,
    const uint8_t *data, size_t len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	const EVP_MD *md = alg == RP_COSE_EDDSA ? NULL : EVP_sha256();
	int ok;

	ok = ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, md, NULL, pkey) == 1 &&
	    EVP_DigestVerify(ctx, sig, siglen, data, len) == 1;
	EVP_MD_CTX_free(ctx);
	return ok ? RP_OK : RP_ERR_BAD_SIGNATURE;
}

static int
openssl_verify(const void *ctx)
{
	const struct fixture *f = ctx;

	return evp_verify(f->pkey, f->alg, f->sig, f->sig_len, f->signed_data,
	    sizeof(f->signed_data));
}

/* Runs fn for about `seconds`; returns calls made and adds time spent. */
static uint64_t
run_for(int (*fn)(const void *), const void *f, double seconds, double *spent)
{
	double start = now(), t;
	uint64_t n = 0;

	do {
		for (int i = 0; i < 16; i++, n++)
			if (fn(f) != RP_OK)
				die("a genuine signature failed to verify");
	} while ((t = now()) - start < seconds);
	*spent += t - start;
	return n;
}

static void
compare(const char *label, int (*ours)(const void *), int (*base)(const void *),
    const void *f)
{
	uint64_t n_ours = 0, n_base = 0;
	double t_ours = 0, t_base = 0, r_ours, r_base;

	run_for(ours, f, 0.05, &t_ours);	/* warm caches and allocators */
	run_for(base, f, 0.05, &t_base);
	t_ours = t_base = 0;
	for (int i = 0; i < ROUNDS; i++) {
		n_ours += run_for(ours, f, ROUND_SECONDS, &t_ours);
		n_base += run_for(base, f, ROUND_SECONDS, &t_base);
	}
	r_ours = (double)n_ours / t_ours;
	r_base = (double)n_base / t_base;
	printf("%s verify_per_s=%.0f openssl_per_s=%.0f ratio=%.3f\n", label,
	    r_ours, r_base, r_ours / r_base);
	fflush(stdout);
}

/*
 * Registration: packed self attestation, ES256, from the browser's JSON to a
 * credential record, against OpenSSL on the attestation signature alone.
 */
/* authData: 37 + AAGUID 16 + length 2 + ID 32 + P-256 COSE key 77 */
#define REG_AUTHDATA_MAX (37 + 16 + 2 + 32 + 77)

struct reg_fixture {
	const struct fixture *key;
	uint8_t challenge[32];
	uint8_t authdata[REG_AUTHDATA_MAX];
	size_t authdata_len;
	uint8_t signed_data[REG_AUTHDATA_MAX + 32];
	size_t signed_len;
	uint8_t sig[80];
	size_t sig_len;
	char *json;
	rp_policy_t *policy;
};

static size_t
make_reg_authdata(struct reg_fixture *r)
{
	uint8_t *a = r->authdata;
	size_t o = 0;

	SHA256((const unsigned char *)RP_ID, strlen(RP_ID), a);
	o = 32;
	a[o++] = RP_FLAG_UP | RP_FLAG_UV | RP_FLAG_AT;
	memset(a + o, 0, 4 + 16), o += 4 + 16;		/* count, AAGUID */
	a[o++] = 0, a[o++] = 32;
	memcpy(a + o, r->key->cred_id, 32), o += 32;
	memcpy(a + o, r->key->cose, r->key->cose_len), o += r->key->cose_len;
	return o;
}

static size_t
make_att_object(const struct reg_fixture *r, uint8_t *out)
{
	size_t o = 0;

	static const char head[] = "\xa3\x63" "fmt" "\x66" "packed" "\x67" "attStmt"
	    "\xa2\x63" "alg" "\x26\x63" "sig" "\x58";

	memcpy(out, head, sizeof(head) - 1), o = sizeof(head) - 1;
	out[o++] = (uint8_t)r->sig_len;
	memcpy(out + o, r->sig, r->sig_len), o += r->sig_len;
	memcpy(out + o, "\x68" "authData" "\x58", 10), o += 10;
	out[o++] = (uint8_t)r->authdata_len;
	memcpy(out + o, r->authdata, r->authdata_len), o += r->authdata_len;
	return o;
}

static void
setup_registration(struct reg_fixture *r, const struct fixture *key)
{
	char cdj[256], *chal, *cd64, *ao64, *id64;
	uint8_t ao[512];
	size_t aolen;
	int n;

	r->key = key;
	RAND_bytes(r->challenge, sizeof(r->challenge));
	chal = b64(r->challenge, sizeof(r->challenge));
	n = snprintf(cdj, sizeof(cdj), "{\"type\":\"webauthn.create\",\"challenge\":\"%s\","
	    "\"origin\":\"%s\",\"crossOrigin\":false}", chal, ORIGIN);
	r->authdata_len = make_reg_authdata(r);
	memcpy(r->signed_data, r->authdata, r->authdata_len);
	SHA256((const unsigned char *)cdj, (size_t)n, r->signed_data + r->authdata_len);
	r->signed_len = r->authdata_len + 32;
	r->sig_len = sizeof(r->sig);
	sign(key->pkey, key->alg, r->signed_data, r->signed_len, r->sig, &r->sig_len);
	aolen = make_att_object(r, ao);
	cd64 = b64(cdj, (size_t)n);
	ao64 = b64(ao, aolen);
	id64 = b64(key->cred_id, 32);
	if ((r->json = malloc(4096)) == NULL)
		die("out of memory");
	snprintf(r->json, 4096, "{\"id\":\"%s\",\"rawId\":\"%s\",\"type\":\"public-key\","
	    "\"response\":{\"clientDataJSON\":\"%s\",\"attestationObject\":\"%s\"},"
	    "\"clientExtensionResults\":{}}", id64, id64, cd64, ao64);
	free(chal), free(cd64), free(ao64), free(id64);
	r->policy = key->policy;
}

static int
core_register(const void *ctx)
{
	const struct reg_fixture *r = ctx;
	rp_credential_t *c = NULL;
	rp_response_t *resp;
	int err;

	if ((err = rp_response_from_json(r->json, strlen(r->json), &resp)) != RP_OK)
		return err;
	err = rp_verify_registration(r->policy, r->challenge, sizeof(r->challenge), resp, &c);
	if (err == RP_OK && rp_credential_attestation(c) != RP_ATTESTATION_SELF)
		err = RP_ERR_INTERNAL;
	rp_credential_free(&c);
	rp_response_free(&resp);
	return err;
}

static int
openssl_register(const void *ctx)
{
	const struct reg_fixture *r = ctx;

	return evp_verify(r->key->pkey, RP_COSE_ES256, r->sig, r->sig_len,
	    r->signed_data, r->signed_len);
}

static int
bench_registration(const struct fixture *es256)
{
	struct reg_fixture r;

	memset(&r, 0, sizeof(r));
	setup_registration(&r, es256);
	compare("registration fmt=packed-self alg=ES256", core_register, openssl_register, &r);
	free(r.json);
	return 0;
}

int main(void);

int
main(void)
{
	struct fixture fx[] = {
		{ .name = "ES256", .alg = RP_COSE_ES256 },
		{ .name = "EdDSA", .alg = RP_COSE_EDDSA },
		{ .name = "RS256", .alg = RP_COSE_RS256 },
	};
	char label[64];

	for (size_t i = 0; i < sizeof(fx) / sizeof(fx[0]); i++) {
		setup(&fx[i]);
		snprintf(label, sizeof(label), "alg=%s", fx[i].name);
		compare(label, core_verify, openssl_verify, &fx[i]);
	}
	for (size_t i = 0; i < sizeof(fx) / sizeof(fx[0]); i++) {
		snprintf(label, sizeof(label), "alg=%s from_json=1", fx[i].name);
		compare(label, core_verify_json, openssl_verify, &fx[i]);
	}
	bench_registration(&fx[0]);
	for (size_t i = 0; i < sizeof(fx) / sizeof(fx[0]); i++) {
		rp_pubkey_free(&fx[i].pubkey);
		rp_response_free(&fx[i].decoded);
		rp_policy_free(&fx[i].policy);
		EVP_PKEY_free(fx[i].pkey);
		free(fx[i].json);
	}
	return 0;
}
