/*
 * Negative tests for the relying-party core.
 *
 * Every case starts from a genuine response (a W3C §16 vector, a Chromium
 * capture or a synthetic attestation statement), changes ONE thing, and
 * expects ONE exact rp_err verdict.  Where the change would otherwise be
 * caught by the assertion signature instead of the check under test, the
 * assertion is re-signed with the credential's private key, which the
 * browser captures carry (private_key_pkcs8_b64).
 *
 * A case marked "Regression" found a core bug when it was written; the
 * expected code states the correct behaviour, never the core's.
 *
 * Step numbers are those of WebAuthn L3 §7.1 (registration) and §7.2
 * (authentication); drafts have shifted them by one here and there, so
 * every comment names the step as well.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <cbor.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "rp_b64url.h"
#include "vector.h"

/* Frees nothing: callers release what they hold before asserting. */
#define assert_verdict(got, want) do {					\
	int got_ = (got), want_ = (want);				\
	if (got_ != want_)						\
		print_error("verdict %s (%d), want %s (%d)\n",		\
		    rp_err_code(got_), got_, rp_err_code(want_), want_);	\
	assert_int_equal(got_, want_);					\
} while (0)

/* ------------------------------------------------------------------ */
/* Vectors and their base64url members                                */
/* ------------------------------------------------------------------ */

static json_t *
load(const char *rel)
{
	return vector_load(vector_path(rel));
}

/* The PublicKeyCredential (v.response) and its inner response. */
static json_t *
outer(json_t *v)
{
	json_t *o = json_object_get(v, "response");

	assert_true(json_is_object(o));
	return o;
}

static json_t *
inner(json_t *v)
{
	json_t *i = json_object_get(outer(v), "response");

	assert_true(json_is_object(i));
	return i;
}

static bool
is_registration(const json_t *v)
{
	return strcmp(json_string_value(json_object_get(v, "kind")), "registration") == 0;
}

static uint8_t *
b64_decode(const json_t *s, size_t *len)
{
	uint8_t *p;

	assert_true(json_is_string(s));
	assert_int_equal(rp_b64url_decode_alloc(json_string_value(s),
	    json_string_length(s), &p, len), RP_OK);
	return p;
}

static void
b64_set(json_t *obj, const char *name, const uint8_t *p, size_t len)
{
	char *s = rp_b64url_encode_alloc(p, len);

	assert_non_null(s);
	assert_int_equal(json_object_set_new(obj, name, json_string(s)), 0);
	free(s);
}

/* response.response[name], decoded; the caller frees it. */
static uint8_t *
field(json_t *v, const char *name, size_t *len)
{
	return b64_decode(json_object_get(inner(v), name), len);
}

static void
set_field(json_t *v, const char *name, const uint8_t *p, size_t len)
{
	b64_set(inner(v), name, p, len);
}

/* Standard base64 (the private keys in the captures) to bytes. */
static uint8_t *
std_b64_decode(const char *s, size_t *len)
{
	size_t n = strlen(s), pad = 0;
	uint8_t *p = malloc(n / 4 * 3 + 3);
	int r;

	assert_non_null(p);
	r = EVP_DecodeBlock(p, (const unsigned char *)s, (int)n);
	assert_true(r >= 0);
	while (pad < 2 && n > pad && s[n - 1 - pad] == '=')
		pad++;
	*len = (size_t)r - pad;
	return p;
}

/* ------------------------------------------------------------------ */
/* clientDataJSON                                                     */
/* ------------------------------------------------------------------ */

static json_t *
cd_load(json_t *v)
{
	size_t len;
	uint8_t *p = field(v, "clientDataJSON", &len);
	json_t *cd = json_loadb((const char *)p, len, 0, NULL);

	free(p);
	assert_true(json_is_object(cd));
	return cd;
}

static void
cd_set_raw(json_t *v, const char *text)
{
	set_field(v, "clientDataJSON", (const uint8_t *)text, strlen(text));
}

/* Re-encodes clientDataJSON with member set to value (stolen), or deleted. */
static void
cd_set(json_t *v, const char *member, json_t *value)
{
	json_t *cd = cd_load(v);
	char *s;

	if (value == NULL)
		assert_int_equal(json_object_del(cd, member), 0);
	else
		assert_int_equal(json_object_set_new(cd, member, value), 0);
	s = json_dumps(cd, JSON_COMPACT);
	assert_non_null(s);
	cd_set_raw(v, s);
	free(s);
	json_decref(cd);
}

/* The challenge string of the clientDataJSON, copied. */
static char *
cd_challenge(json_t *v)
{
	json_t *cd = cd_load(v);
	char *s = strdup(json_string_value(json_object_get(cd, "challenge")));

	json_decref(cd);
	assert_non_null(s);
	return s;
}

/* ------------------------------------------------------------------ */
/* A small CBOR writer, for items libcbor will not build (indefinite  */
/* maps, repeated keys, deep nesting)                                  */
/* ------------------------------------------------------------------ */

struct cw {
	uint8_t b[8192];
	size_t n;
};

static void
cw_raw(struct cw *w, const void *p, size_t n)
{
	assert_true(n <= sizeof(w->b) - w->n);
	if (n > 0)
		memcpy(w->b + w->n, p, n);
	w->n += n;
}

static void
cw_u8(struct cw *w, uint8_t c)
{
	cw_raw(w, &c, 1);
}

static void
cw_head(struct cw *w, unsigned major, uint64_t arg)
{
	uint8_t mt = (uint8_t)(major << 5);

	if (arg < 24) {
		cw_u8(w, mt | (uint8_t)arg);
	} else if (arg <= UINT8_MAX) {
		cw_u8(w, mt | 24);
		cw_u8(w, (uint8_t)arg);
	} else if (arg <= UINT16_MAX) {
		cw_u8(w, mt | 25);
		cw_u8(w, (uint8_t)(arg >> 8));
		cw_u8(w, (uint8_t)arg);
	} else {
		assert_true(arg <= UINT32_MAX);
		cw_u8(w, mt | 26);
		for (int s = 24; s >= 0; s -= 8)
			cw_u8(w, (uint8_t)(arg >> s));
	}
}

static void
cw_int(struct cw *w, int64_t v)
{
	if (v >= 0)
		cw_head(w, 0, (uint64_t)v);
	else
		cw_head(w, 1, (uint64_t)(-1 - v));
}

static void
cw_bytes(struct cw *w, const void *p, size_t n)
{
	cw_head(w, 2, n);
	cw_raw(w, p, n);
}

static void
cw_text(struct cw *w, const char *s)
{
	cw_head(w, 3, strlen(s));
	cw_raw(w, s, strlen(s));
}

/* ------------------------------------------------------------------ */
/* attestationObject, through libcbor                                 */
/* ------------------------------------------------------------------ */

static cbor_item_t *
ao_load(json_t *v)
{
	struct cbor_load_result res;
	size_t len;
	uint8_t *p = field(v, "attestationObject", &len);
	cbor_item_t *ao = cbor_load(p, len, &res);

	free(p);
	assert_non_null(ao);
	assert_true(cbor_isa_map(ao));
	return ao;
}

static void
ao_store(json_t *v, const cbor_item_t *ao)
{
	unsigned char *buf = NULL;
	size_t alloc, len = cbor_serialize_alloc(ao, &buf, &alloc);

	assert_true(len > 0);
	set_field(v, "attestationObject", buf, len);
	free(buf);
}

static bool
text_is(const cbor_item_t *item, const char *s)
{
	return cbor_isa_string(item) && cbor_string_is_definite(item) &&
	    cbor_string_length(item) == strlen(s) &&
	    memcmp(cbor_string_handle(item), s, strlen(s)) == 0;
}

static cbor_item_t *
map_get(const cbor_item_t *map, const char *key)
{
	struct cbor_pair *kv = cbor_map_handle(map);

	for (size_t i = 0; i < cbor_map_size(map); i++)
		if (text_is(kv[i].key, key))
			return kv[i].value;
	return NULL;
}

/* A copy of map with key's value replaced by val (borrowed), or removed
 * when val is NULL; a key not present is appended. */
static cbor_item_t *
map_with(const cbor_item_t *map, const char *key, cbor_item_t *val)
{
	struct cbor_pair *kv = cbor_map_handle(map);
	size_t n = cbor_map_size(map), want = n;
	bool found = map_get(map, key) != NULL;
	cbor_item_t *m, *k;

	if (found && val == NULL)
		want--;
	else if (!found && val != NULL)
		want++;
	assert_non_null(m = cbor_new_definite_map(want));
	for (size_t i = 0; i < n; i++) {
		if (!text_is(kv[i].key, key))
			assert_true(cbor_map_add(m, kv[i]));
		else if (val != NULL)
			assert_true(cbor_map_add(m, (struct cbor_pair){ kv[i].key, val }));
	}
	if (!found && val != NULL) {
		assert_non_null(k = cbor_build_string(key));
		assert_true(cbor_map_add(m, (struct cbor_pair){ k, val }));
		cbor_decref(&k);
	}
	return m;
}

/* attestationObject[key] := val (moved in; NULL removes). */
static void
ao_set(json_t *v, const char *key, cbor_item_t *val)
{
	cbor_item_t *ao = ao_load(v), *m = map_with(ao, key, val);

	ao_store(v, m);
	cbor_decref(&m);
	cbor_decref(&ao);
	if (val != NULL)
		cbor_decref(&val);
}

/* attestationObject.attStmt[key] := val (moved in; NULL removes). */
static void
stmt_set(json_t *v, const char *key, cbor_item_t *val)
{
	cbor_item_t *ao = ao_load(v), *stmt = map_get(ao, "attStmt"), *s2, *m;

	assert_non_null(stmt);
	s2 = map_with(stmt, key, val);
	m = map_with(ao, "attStmt", s2);
	ao_store(v, m);
	cbor_decref(&m);
	cbor_decref(&s2);
	cbor_decref(&ao);
	if (val != NULL)
		cbor_decref(&val);
}

/* A byte-string member of attStmt, copied. */
static uint8_t *
stmt_bytes(json_t *v, const char *key, size_t *len)
{
	cbor_item_t *ao = ao_load(v), *b = map_get(map_get(ao, "attStmt"), key);
	uint8_t *p;

	assert_true(b != NULL && cbor_isa_bytestring(b));
	*len = cbor_bytestring_length(b);
	assert_non_null(p = malloc(*len));
	memcpy(p, cbor_bytestring_handle(b), *len);
	cbor_decref(&ao);
	return p;
}

/* Flips one bit of a byte-string member of attStmt. */
static void
stmt_flip(json_t *v, const char *key, size_t byte, uint8_t mask)
{
	size_t len;
	uint8_t *p = stmt_bytes(v, key, &len);

	assert_true(byte < len);
	p[byte] ^= mask;
	stmt_set(v, key, cbor_build_bytestring(p, len));
	free(p);
}

/* ------------------------------------------------------------------ */
/* Authenticator data of either ceremony                              */
/* ------------------------------------------------------------------ */

static uint8_t *
ad_get(json_t *v, size_t *len)
{
	cbor_item_t *ao, *b;
	uint8_t *p;

	if (!is_registration(v))
		return field(v, "authenticatorData", len);
	ao = ao_load(v);
	b = map_get(ao, "authData");
	assert_true(b != NULL && cbor_isa_bytestring(b));
	*len = cbor_bytestring_length(b);
	assert_non_null(p = malloc(*len + 1));
	memcpy(p, cbor_bytestring_handle(b), *len);
	cbor_decref(&ao);
	return p;
}

static void
ad_set(json_t *v, const uint8_t *p, size_t len)
{
	if (is_registration(v))
		ao_set(v, "authData", cbor_build_bytestring(p, len));
	else
		set_field(v, "authenticatorData", p, len);
}

/* authData[byte] ^= mask. */
static void
ad_flip(json_t *v, size_t byte, uint8_t mask)
{
	size_t len;
	uint8_t *p = ad_get(v, &len);

	assert_true(byte < len);
	p[byte] ^= mask;
	ad_set(v, p, len);
	free(p);
}

#define AD_FLAGS	32
#define AD_COUNT	33
#define AD_AAGUID	37
#define AD_CREDID_LEN	53
#define AD_CREDID	55

/* Where the parts of an attested authData (no extensions) lie. */
struct ad_parts {
	size_t cred_id_len;
	size_t cose_off;
	size_t cose_len;
};

static void
ad_split(const uint8_t *ad, size_t len, struct ad_parts *pp)
{
	struct cbor_load_result res;
	cbor_item_t *cose;

	assert_true(len > AD_CREDID && (ad[AD_FLAGS] & RP_FLAG_AT));
	pp->cred_id_len = (size_t)ad[AD_CREDID_LEN] << 8 | ad[AD_CREDID_LEN + 1];
	pp->cose_off = AD_CREDID + pp->cred_id_len;
	assert_true(pp->cose_off < len);
	cose = cbor_load(ad + pp->cose_off, len - pp->cose_off, &res);
	assert_non_null(cose);
	cbor_decref(&cose);
	pp->cose_len = res.read;
}

/* Replaces the credential public key inside a registration's authData. */
static void
reg_set_cose(json_t *v, const uint8_t *cose, size_t cose_len)
{
	struct ad_parts pp;
	size_t len;
	uint8_t *ad = ad_get(v, &len), *out;

	ad_split(ad, len, &pp);
	assert_non_null(out = malloc(pp.cose_off + cose_len + (len - pp.cose_off - pp.cose_len)));
	memcpy(out, ad, pp.cose_off);
	memcpy(out + pp.cose_off, cose, cose_len);
	memcpy(out + pp.cose_off + cose_len, ad + pp.cose_off + pp.cose_len,
	    len - pp.cose_off - pp.cose_len);
	ad_set(v, out, pp.cose_off + cose_len + (len - pp.cose_off - pp.cose_len));
	free(out);
	free(ad);
}

/* A byte-string parameter of the registration's COSE key, copied. */
static void
reg_cose_param(json_t *v, int64_t label, uint8_t *out, size_t want)
{
	struct cbor_load_result res;
	struct ad_parts pp;
	size_t len;
	uint8_t *ad = ad_get(v, &len);
	cbor_item_t *cose;
	struct cbor_pair *kv;
	bool found = false;

	ad_split(ad, len, &pp);
	cose = cbor_load(ad + pp.cose_off, pp.cose_len, &res);
	assert_true(cose != NULL && cbor_isa_map(cose));
	kv = cbor_map_handle(cose);
	for (size_t i = 0; i < cbor_map_size(cose); i++) {
		int64_t k;

		if (cbor_isa_uint(kv[i].key))
			k = (int64_t)cbor_get_int(kv[i].key);
		else if (cbor_isa_negint(kv[i].key))
			k = -1 - (int64_t)cbor_get_int(kv[i].key);
		else
			continue;
		if (k != label)
			continue;
		assert_true(cbor_isa_bytestring(kv[i].value));
		assert_int_equal(cbor_bytestring_length(kv[i].value), want);
		memcpy(out, cbor_bytestring_handle(kv[i].value), want);
		found = true;
	}
	cbor_decref(&cose);
	free(ad);
	assert_true(found);
}

/* An EC2/OKP-shaped COSE key; y is left out when NULL. */
static void
cw_cose_key(struct cw *w, int64_t kty, int64_t alg, int64_t crv,
    const uint8_t *x, size_t xlen, const uint8_t *y, size_t ylen)
{
	cw_head(w, 5, y != NULL ? 5 : 4);
	cw_int(w, 1);
	cw_int(w, kty);
	cw_int(w, 3);
	cw_int(w, alg);
	cw_int(w, -1);
	cw_int(w, crv);
	cw_int(w, -2);
	cw_bytes(w, x, xlen);
	if (y != NULL) {
		cw_int(w, -3);
		cw_bytes(w, y, ylen);
	}
}

/* A "none" attestationObject, by hand: {fmt, attStmt, authData}. */
static void
cw_ao_none(struct cw *w, const uint8_t *ad, size_t adlen)
{
	cw_head(w, 5, 3);
	cw_text(w, "fmt");
	cw_text(w, "none");
	cw_text(w, "attStmt");
	cw_head(w, 5, 0);
	cw_text(w, "authData");
	cw_bytes(w, ad, adlen);
}

/* ------------------------------------------------------------------ */
/* Signing assertions with a capture's private key                    */
/* ------------------------------------------------------------------ */

static EVP_PKEY *
capture_key(const json_t *keyv)
{
	const char *b = json_string_value(json_object_get(keyv, "private_key_pkcs8_b64"));
	const unsigned char *q;
	EVP_PKEY *k;
	uint8_t *der;
	size_t len;

	assert_non_null(b);
	der = std_b64_decode(b, &len);
	q = der;
	k = d2i_AutoPrivateKey(NULL, &q, (long)len);
	free(der);
	assert_non_null(k);
	return k;
}

/* sig over m with the key's WebAuthn algorithm (ES256, EdDSA or RS256). */
static uint8_t *
sign_msg(EVP_PKEY *k, const uint8_t *m, size_t mlen, size_t *siglen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	const EVP_MD *md = EVP_PKEY_get_base_id(k) == EVP_PKEY_ED25519 ? NULL : EVP_sha256();
	uint8_t *sig;

	assert_non_null(ctx);
	assert_int_equal(EVP_DigestSignInit(ctx, NULL, md, NULL, k), 1);
	assert_int_equal(EVP_DigestSign(ctx, NULL, siglen, m, mlen), 1);
	assert_non_null(sig = malloc(*siglen));
	assert_int_equal(EVP_DigestSign(ctx, sig, siglen, m, mlen), 1);
	EVP_MD_CTX_free(ctx);
	return sig;
}

/* The signature a WebAuthn authenticator makes: over ad || SHA-256(cdj). */
static uint8_t *
webauthn_sign(const json_t *keyv, const uint8_t *ad, size_t adlen,
    const uint8_t *cdj, size_t cdjlen, size_t *siglen)
{
	EVP_PKEY *k = capture_key(keyv);
	uint8_t *m, *sig;

	assert_non_null(m = malloc(adlen + SHA256_DIGEST_LENGTH));
	memcpy(m, ad, adlen);
	SHA256(cdj, cdjlen, m + adlen);
	sig = sign_msg(k, m, adlen + SHA256_DIGEST_LENGTH, siglen);
	free(m);
	EVP_PKEY_free(k);
	return sig;
}

/* Re-signs the assertion in v with keyv's private key. */
static void
resign_with(json_t *v, const json_t *keyv)
{
	size_t adlen, cdjlen, siglen;
	uint8_t *ad = field(v, "authenticatorData", &adlen);
	uint8_t *cdj = field(v, "clientDataJSON", &cdjlen);
	uint8_t *sig = webauthn_sign(keyv, ad, adlen, cdj, cdjlen, &siglen);

	set_field(v, "signature", sig, siglen);
	free(sig);
	free(cdj);
	free(ad);
}

static void
resign(json_t *v)
{
	resign_with(v, v);
}

/* ------------------------------------------------------------------ */
/* Verdicts                                                           */
/* ------------------------------------------------------------------ */

/* Runs v's ceremony on its (mutated) response, frees v, checks the code. */
static void
check(json_t *v, int want)
{
	int got = vector_verify(v, NULL);

	json_decref(v);
	assert_verdict(got, want);
}

/* The same under an explicit policy, which is freed too. */
static void
check_policy(json_t *v, rp_policy_t *p, int want)
{
	int got = vector_verify_ex(v, NULL, p, NULL, 0, -1);

	rp_policy_free(&p);
	json_decref(v);
	assert_verdict(got, want);
}

static void
set_stored_count(json_t *v, json_int_t n)
{
	assert_int_equal(json_object_set_new(json_object_get(v, "credential"),
	    "stored_sign_count", json_integer(n)), 0);
}

/* ================================================================== */
/* Controls: the mutation plumbing itself changes nothing             */
/* ================================================================== */

static void
control_reencoded_registration(void **state)
{
	json_t *v = load("browser/es256_reg.json");
	size_t len;
	uint8_t *ad = ad_get(v, &len);

	(void)state;
	ad_set(v, ad, len);		/* libcbor re-encoding of the object */
	free(ad);
	cd_set(v, "type", json_string("webauthn.create"));	/* JSON re-encoding */
	check(v, RP_OK);
}

static void
control_resigned_assertions(void **state)
{
	static const char *files[] = { "browser/es256_auth.json",
	    "browser/eddsa_auth.json", "browser/rs256_auth.json" };

	(void)state;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		json_t *v = load(files[i]);

		cd_set(v, "type", json_string("webauthn.get"));
		resign(v);
		check(v, RP_OK);
	}
}

static void
control_handmade_none_object(void **state)
{
	json_t *v = load("browser/es256_reg.json");
	struct cw w = { .n = 0 };
	size_t len;
	uint8_t *ad = ad_get(v, &len);

	(void)state;
	cw_ao_none(&w, ad, len);
	free(ad);
	set_field(v, "attestationObject", w.b, w.n);
	check(v, RP_OK);
}

/* ================================================================== */
/* clientDataJSON: §7.1 steps 5-10 and §7.2 steps 8-13                */
/* (JSON parse, type, challenge, origin, crossOrigin/topOrigin)       */
/* ================================================================== */

/* §7.1 step 8 / §7.2 step 11: C.challenge is the one issued. */
static void
cd_reg_challenge_one_char(void **state)
{
	json_t *v = load("browser/es256_reg.json");
	char *c = cd_challenge(v);

	(void)state;
	c[0] = c[0] == 'A' ? 'B' : 'A';
	cd_set(v, "challenge", json_string(c));
	free(c);
	check(v, RP_ERR_CHALLENGE_MISMATCH);
}

static void
cd_reg_challenge_longer(void **state)
{
	json_t *v = load("w3c/01_w3c_none_es256_reg.json");
	char *c = cd_challenge(v), *c2;

	(void)state;
	assert_true(asprintf(&c2, "%sAA", c) > 0);
	cd_set(v, "challenge", json_string(c2));
	free(c2);
	free(c);
	check(v, RP_ERR_CHALLENGE_MISMATCH);
}

/* Padded base64url is another string: the comparison is of strings. */
static void
cd_reg_challenge_padded(void **state)
{
	json_t *v = load("browser/es256_reg.json");
	char *c = cd_challenge(v), *c2;

	(void)state;
	assert_true(asprintf(&c2, "%s=", c) > 0);
	cd_set(v, "challenge", json_string(c2));
	free(c2);
	free(c);
	check(v, RP_ERR_CHALLENGE_MISMATCH);
}

static void
cd_auth_challenge_one_char(void **state)
{
	json_t *v = load("browser/es256_auth.json");
	char *c = cd_challenge(v);

	(void)state;
	c[5] = c[5] == 'A' ? 'B' : 'A';
	cd_set(v, "challenge", json_string(c));
	free(c);
	resign(v);
	check(v, RP_ERR_CHALLENGE_MISMATCH);
}

static void
cd_auth_challenge_shorter(void **state)
{
	json_t *v = load("browser/eddsa_auth.json");
	char *c = cd_challenge(v);

	(void)state;
	c[strlen(c) - 1] = '\0';
	cd_set(v, "challenge", json_string(c));
	free(c);
	resign(v);
	check(v, RP_ERR_CHALLENGE_MISMATCH);
}

/*
 * WebAuthn sets only a minimum challenge length; Windows Hello TPM
 * registrations from deployments that put a signed JWT in the challenge
 * carry several hundred bytes.  Up to RP_MAX_CHALLENGE_LEN is accepted;
 * beyond it, or under the minimum, is a caller's error.
 */
static void
long_challenge(json_t *v, size_t n)
{
	uint8_t *c = malloc(n);

	assert_non_null(c);
	for (size_t i = 0; i < n; i++)
		c[i] = (uint8_t)(i * 131 + 7);
	b64_set(v, "challenge_b64url", c, n);
	cd_set(v, "challenge", json_string(json_string_value(json_object_get(v,
	    "challenge_b64url"))));
	if (!is_registration(v))
		resign(v);
	free(c);
}

static void
cd_challenge_1k_accepted(void **state)
{
	json_t *v = load("browser/es256_auth.json");

	(void)state;
	long_challenge(v, 1024);
	check(v, RP_OK);
	v = load("browser/es256_auth.json");
	long_challenge(v, RP_MAX_CHALLENGE_LEN);
	check(v, RP_OK);
	/* the registration side checks its clientDataJSON the same way */
	v = load("browser/es256_reg.json");
	long_challenge(v, 700);
	cd_set(v, "type", json_string("webauthn.create"));
	check(v, RP_OK);
}

static void
cd_challenge_over_max_refused(void **state)
{
	json_t *v = load("browser/es256_auth.json");

	(void)state;
	long_challenge(v, RP_MAX_CHALLENGE_LEN + 1);
	check(v, RP_ERR_INVALID_ARGUMENT);
	v = load("browser/es256_auth.json");
	long_challenge(v, RP_MIN_CHALLENGE_LEN - 1);
	check(v, RP_ERR_INVALID_ARGUMENT);
}

/* The challenge of another ceremony (the pair's registration). */
static void
cd_auth_challenge_replayed(void **state)
{
	json_t *v = load("browser/es256_auth.json");
	json_t *reg = load("browser/es256_reg.json");

	(void)state;
	cd_set(v, "challenge", json_string(json_string_value(
	    json_object_get(reg, "challenge_b64url"))));
	json_decref(reg);
	resign(v);
	check(v, RP_ERR_CHALLENGE_MISMATCH);
}

/* §7.1 step 9 / §7.2 step 12: C.origin is one the RP expects, exactly. */
static void
cd_reg_origin_other_port(void **state)
{
	json_t *v = load("browser/es256_reg.json");

	(void)state;
	cd_set(v, "origin", json_string("http://localhost:43280"));
	check(v, RP_ERR_ORIGIN_NOT_ALLOWED);
}

static void
cd_reg_origin_unlisted(void **state)
{
	json_t *v = load("w3c/01_w3c_none_es256_reg.json");

	(void)state;
	cd_set(v, "origin", json_string("https://evil.example"));
	check(v, RP_ERR_ORIGIN_NOT_ALLOWED);
}

static void
cd_reg_origin_https_for_http(void **state)
{
	json_t *v = load("browser/es256_reg.json");

	(void)state;
	cd_set(v, "origin", json_string("https://localhost:43279"));
	check(v, RP_ERR_ORIGIN_NOT_ALLOWED);
}

static void
cd_reg_origin_http_for_https(void **state)
{
	json_t *v = load("w3c/01_w3c_none_es256_reg.json");

	(void)state;
	cd_set(v, "origin", json_string("http://example.org"));
	check(v, RP_ERR_ORIGIN_NOT_ALLOWED);
}

static void
cd_reg_origin_trailing_slash(void **state)
{
	json_t *v = load("w3c/01_w3c_none_es256_reg.json");

	(void)state;
	cd_set(v, "origin", json_string("https://example.org/"));
	check(v, RP_ERR_ORIGIN_NOT_ALLOWED);
}

static void
cd_reg_origin_subdomain(void **state)
{
	json_t *v = load("w3c/01_w3c_none_es256_reg.json");

	(void)state;
	cd_set(v, "origin", json_string("https://sub.example.org"));
	check(v, RP_ERR_ORIGIN_NOT_ALLOWED);
}

static void
cd_auth_origin_unlisted(void **state)
{
	json_t *v = load("browser/rs256_auth.json");

	(void)state;
	cd_set(v, "origin", json_string("http://localhost.evil.example:43279"));
	resign(v);
	check(v, RP_ERR_ORIGIN_NOT_ALLOWED);
}

/* §7.1 step 7 / §7.2 step 10: C.type names this ceremony. */
static void
cd_reg_type_get(void **state)
{
	json_t *v = load("browser/es256_reg.json");

	(void)state;
	cd_set(v, "type", json_string("webauthn.get"));
	check(v, RP_ERR_CLIENT_DATA_TYPE_MISMATCH);
}

static void
cd_auth_type_create(void **state)
{
	json_t *v = load("browser/es256_auth.json");

	(void)state;
	cd_set(v, "type", json_string("webauthn.create"));
	resign(v);
	check(v, RP_ERR_CLIENT_DATA_TYPE_MISMATCH);
}

static void
cd_reg_type_missing(void **state)
{
	json_t *v = load("browser/es256_reg.json");

	(void)state;
	cd_set(v, "type", NULL);
	check(v, RP_ERR_CLIENT_DATA_MALFORMED);
}

static void
cd_auth_type_not_string(void **state)
{
	json_t *v = load("browser/es256_auth.json");

	(void)state;
	cd_set(v, "type", json_integer(1));
	resign(v);
	check(v, RP_ERR_CLIENT_DATA_MALFORMED);
}

/* §7.1 step 10 / §7.2 step 13: crossOrigin/topOrigin; our pages are
 * never framed. */
static void
cd_reg_cross_origin_true(void **state)
{
	json_t *v = load("browser/es256_reg.json");

	(void)state;
	cd_set(v, "crossOrigin", json_true());
	check(v, RP_ERR_CROSS_ORIGIN_NOT_ALLOWED);
}

static void
cd_auth_cross_origin_true(void **state)
{
	/* The W3C vector has no private key; the check precedes the signature. */
	json_t *v = load("w3c/01_w3c_none_es256_auth.json");

	(void)state;
	cd_set(v, "crossOrigin", json_true());
	check(v, RP_ERR_CROSS_ORIGIN_NOT_ALLOWED);
}

static void
cd_reg_cross_origin_not_boolean(void **state)
{
	json_t *v = load("browser/es256_reg.json");

	(void)state;
	cd_set(v, "crossOrigin", json_string("false"));
	check(v, RP_ERR_CLIENT_DATA_MALFORMED);
}

static void
cd_auth_top_origin_present(void **state)
{
	json_t *v = load("browser/es256_auth.json");

	(void)state;
	cd_set(v, "crossOrigin", json_false());
	cd_set(v, "topOrigin", json_string("http://localhost:43279"));
	resign(v);
	check(v, RP_ERR_CROSS_ORIGIN_NOT_ALLOWED);
}

/* §7.1 steps 5-6 / §7.2 steps 8-9: decode and JSON-parse clientDataJSON. */
static void
cd_reg_not_json(void **state)
{
	json_t *v = load("browser/es256_reg.json");

	(void)state;
	cd_set_raw(v, "{\"type\":\"webauthn.create\",");
	check(v, RP_ERR_CLIENT_DATA_MALFORMED);
}

static void
cd_reg_not_object(void **state)
{
	json_t *v = load("browser/es256_reg.json");

	(void)state;
	cd_set_raw(v, "[\"webauthn.create\"]");
	check(v, RP_ERR_CLIENT_DATA_MALFORMED);
}

static void
cd_reg_empty(void **state)
{
	json_t *v = load("browser/es256_reg.json");

	(void)state;
	cd_set_raw(v, "");
	check(v, RP_ERR_CLIENT_DATA_MALFORMED);
}

/* Two "challenge" members: the first one is the genuine one. */
static void
cd_reg_duplicate_challenge(void **state)
{
	json_t *v = load("browser/es256_reg.json");
	json_t *cd = cd_load(v);
	char *s;

	(void)state;
	assert_true(asprintf(&s, "{\"type\":\"webauthn.create\",\"challenge\":\"%s\","
	    "\"challenge\":\"%s\",\"origin\":\"%s\",\"crossOrigin\":false}",
	    json_string_value(json_object_get(cd, "challenge")),
	    json_string_value(json_object_get(cd, "challenge")),
	    json_string_value(json_object_get(cd, "origin"))) > 0);
	json_decref(cd);
	cd_set_raw(v, s);
	free(s);
	check(v, RP_ERR_CLIENT_DATA_MALFORMED);
}

static void
cd_reg_missing_challenge(void **state)
{
	json_t *v = load("browser/es256_reg.json");

	(void)state;
	cd_set(v, "challenge", NULL);
	check(v, RP_ERR_CLIENT_DATA_MALFORMED);
}

static void
cd_auth_challenge_not_string(void **state)
{
	json_t *v = load("browser/es256_auth.json");

	(void)state;
	cd_set(v, "challenge", json_null());
	resign(v);
	check(v, RP_ERR_CLIENT_DATA_MALFORMED);
}

static void
cd_auth_missing_origin(void **state)
{
	json_t *v = load("browser/es256_auth.json");

	(void)state;
	cd_set(v, "origin", NULL);
	resign(v);
	check(v, RP_ERR_CLIENT_DATA_MALFORMED);
}

/* An unknown member passes the checks (the spec says to ignore it), but
 * it is covered by the signature through clientDataHash. */
static void
cd_auth_extra_member_not_resigned(void **state)
{
	json_t *v = load("browser/es256_auth.json");

	(void)state;
	cd_set(v, "other_keys_can_be_added_here", json_string("x"));
	check(v, RP_ERR_BAD_SIGNATURE);
}

/* ================================================================== */
/* Authenticator data (§6.1 layout): §7.1 steps 13-16 and the        */
/* credentialId length step,                                         */
/* §7.2 steps 14-17 (rpIdHash, UP, UV, BE/BS, AT/ED, credential ID)  */
/* ================================================================== */

/* §7.1 step 13 / §7.2 step 14: rpIdHash. */
static void
ad_reg_rp_id_hash_bit(void **state)
{
	json_t *v = load("browser/es256_reg.json");

	(void)state;
	ad_flip(v, 0, 0x01);
	check(v, RP_ERR_RP_ID_HASH_MISMATCH);
}

static void
ad_auth_rp_id_hash_bit(void **state)
{
	json_t *v = load("browser/eddsa_auth.json");

	(void)state;
	ad_flip(v, 31, 0x80);
	resign(v);
	check(v, RP_ERR_RP_ID_HASH_MISMATCH);
}

/* The hash of another RP ID (the policy's, not the data's, changes). */
static void
ad_auth_policy_other_rp_id(void **state)
{
	json_t *v = load("browser/es256_auth.json");
	rp_policy_t *p = vector_policy(v);

	(void)state;
	assert_int_equal(rp_policy_set_rp_id(p, "localhost.localdomain"), RP_OK);
	check_policy(v, p, RP_ERR_RP_ID_HASH_MISMATCH);
}

/* §7.1 step 14 / §7.2 step 15: UP. */
static void
ad_reg_up_cleared(void **state)
{
	json_t *v = load("browser/es256_reg.json");

	(void)state;
	ad_flip(v, AD_FLAGS, RP_FLAG_UP);
	check(v, RP_ERR_USER_PRESENCE_MISSING);
}

static void
ad_auth_up_cleared(void **state)
{
	json_t *v = load("browser/es256_nouv_auth.json");

	(void)state;
	ad_flip(v, AD_FLAGS, RP_FLAG_UP);
	resign(v);
	check(v, RP_ERR_USER_PRESENCE_MISSING);
}

/* §7.1 step 15 / §7.2 step 16: UV when the RP requires it. */
static void
ad_reg_uv_cleared(void **state)
{
	json_t *v = load("browser/rs256_reg.json");

	(void)state;
	ad_flip(v, AD_FLAGS, RP_FLAG_UV);
	check(v, RP_ERR_USER_VERIFICATION_MISSING);
}

static void
ad_auth_uv_cleared(void **state)
{
	json_t *v = load("browser/es256_auth.json");

	(void)state;
	ad_flip(v, AD_FLAGS, RP_FLAG_UV);
	resign(v);
	check(v, RP_ERR_USER_VERIFICATION_MISSING);
}

/* A genuine UV-less assertion under a policy that requires UV. */
static void
ad_auth_uv_required_by_policy(void **state)
{
	json_t *v = load("browser/es256_nouv_auth.json");
	rp_policy_t *p = vector_policy(v);

	(void)state;
	rp_policy_set_require_uv(p, true);
	check_policy(v, p, RP_ERR_USER_VERIFICATION_MISSING);
}

/* §7.1 step 16 / §7.2 step 17: BS implies BE. */
static void
ad_reg_bs_without_be(void **state)
{
	json_t *v = load("browser/es256_reg.json");

	(void)state;
	ad_flip(v, AD_FLAGS, RP_FLAG_BS);
	check(v, RP_ERR_BACKUP_STATE_INVALID);
}

static void
ad_auth_bs_without_be(void **state)
{
	json_t *v = load("browser/es256_auth.json");

	(void)state;
	ad_flip(v, AD_FLAGS, RP_FLAG_BS);
	resign(v);
	check(v, RP_ERR_BACKUP_STATE_INVALID);
}

/* AT cleared: the attested data that still follows is trailing bytes
 * (§6.1: nothing may follow the last field the flags announce). */
static void
ad_reg_at_cleared(void **state)
{
	json_t *v = load("browser/es256_reg.json");

	(void)state;
	ad_flip(v, AD_FLAGS, RP_FLAG_AT);
	check(v, RP_ERR_AUTHDATA_TRAILING_BYTES);
}

/* AT cleared and the attested data gone: a well-formed authData that
 * simply lacks the credential that §7.1 steps 19 onwards need. */
static void
ad_reg_at_cleared_no_data(void **state)
{
	json_t *v = load("browser/es256_reg.json");
	size_t len;
	uint8_t *ad = ad_get(v, &len);

	(void)state;
	ad[AD_FLAGS] &= (uint8_t)~RP_FLAG_AT;
	ad_set(v, ad, AD_AAGUID);
	free(ad);
	check(v, RP_ERR_ATTESTED_DATA_MISSING);
}

/* AT set on an assertion, with a real attested block (the pair's). */
static void
ad_auth_at_set(void **state)
{
	json_t *v = load("browser/es256_auth.json");
	json_t *reg = load("browser/es256_reg.json");
	size_t alen, rlen;
	uint8_t *a = ad_get(v, &alen), *r = ad_get(reg, &rlen), *out;

	(void)state;
	assert_int_equal(alen, AD_AAGUID);
	assert_non_null(out = malloc(alen + rlen - AD_AAGUID));
	memcpy(out, a, alen);
	memcpy(out + alen, r + AD_AAGUID, rlen - AD_AAGUID);
	out[AD_FLAGS] |= RP_FLAG_AT;
	ad_set(v, out, alen + rlen - AD_AAGUID);
	free(out);
	free(r);
	free(a);
	json_decref(reg);
	resign(v);
	check(v, RP_ERR_ATTESTED_DATA_UNEXPECTED);
}

/* AT set on an assertion without the block: the parse runs out first. */
static void
ad_auth_at_set_no_data(void **state)
{
	json_t *v = load("browser/es256_auth.json");

	(void)state;
	ad_flip(v, AD_FLAGS, RP_FLAG_AT);
	resign(v);
	check(v, RP_ERR_AUTHDATA_TRUNCATED);
}

/* ED set, nothing follows. */
static void
ad_reg_ed_without_extensions(void **state)
{
	json_t *v = load("browser/es256_reg.json");

	(void)state;
	ad_flip(v, AD_FLAGS, RP_FLAG_ED);
	check(v, RP_ERR_EXTENSION_FLAG_MISMATCH);
}

static void
ad_auth_ed_without_extensions(void **state)
{
	json_t *v = load("browser/rs256_auth.json");

	(void)state;
	ad_flip(v, AD_FLAGS, RP_FLAG_ED);
	resign(v);
	check(v, RP_ERR_EXTENSION_FLAG_MISMATCH);
}

/* Extensions must be a CBOR map. */
static void
ad_auth_extensions_not_map(void **state)
{
	json_t *v = load("browser/es256_auth.json");
	size_t len;
	uint8_t *ad = ad_get(v, &len);

	(void)state;
	ad = realloc(ad, len + 1);
	assert_non_null(ad);
	ad[AD_FLAGS] |= RP_FLAG_ED;
	ad[len] = 0x80;		/* an empty array */
	ad_set(v, ad, len + 1);
	free(ad);
	resign(v);
	check(v, RP_ERR_CBOR_MALFORMED);
}

/* One byte after the last field. */
static void
ad_reg_trailing_byte(void **state)
{
	json_t *v = load("browser/es256_reg.json");
	size_t len;
	uint8_t *ad = ad_get(v, &len);	/* allocated with one spare byte */

	(void)state;
	ad[len] = 0x00;
	ad_set(v, ad, len + 1);
	free(ad);
	check(v, RP_ERR_AUTHDATA_TRAILING_BYTES);
}

static void
ad_auth_trailing_byte(void **state)
{
	json_t *v = load("browser/es256_auth.json");
	size_t len;
	uint8_t *ad = ad_get(v, &len);

	(void)state;
	ad = realloc(ad, len + 1);
	assert_non_null(ad);
	ad[len] = 0xa0;		/* even a valid empty map: ED is clear */
	ad_set(v, ad, len + 1);
	free(ad);
	resign(v);
	check(v, RP_ERR_AUTHDATA_TRAILING_BYTES);
}

/* Truncations: shorter than the fixed 37 bytes, and inside the ID. */
static void
ad_reg_truncated_36(void **state)
{
	json_t *v = load("browser/es256_reg.json");
	size_t len;
	uint8_t *ad = ad_get(v, &len);

	(void)state;
	ad_set(v, ad, 36);
	free(ad);
	check(v, RP_ERR_AUTHDATA_TRUNCATED);
}

static void
ad_auth_truncated_36(void **state)
{
	json_t *v = load("browser/es256_auth.json");
	size_t len;
	uint8_t *ad = ad_get(v, &len);

	(void)state;
	ad_set(v, ad, 36);
	free(ad);
	resign(v);
	check(v, RP_ERR_AUTHDATA_TRUNCATED);
}

static void
ad_reg_truncated_in_cred_id(void **state)
{
	json_t *v = load("browser/es256_reg.json");
	size_t len;
	uint8_t *ad = ad_get(v, &len);

	(void)state;
	ad_set(v, ad, AD_CREDID + 10);
	free(ad);
	check(v, RP_ERR_AUTHDATA_TRUNCATED);
}

static void
ad_reg_truncated_in_aaguid(void **state)
{
	json_t *v = load("w3c/01_w3c_none_es256_reg.json");
	size_t len;
	uint8_t *ad = ad_get(v, &len);

	(void)state;
	ad_set(v, ad, AD_AAGUID + 8);
	free(ad);
	check(v, RP_ERR_AUTHDATA_TRUNCATED);
}

/* §7.1 credentialId length step (24 in passkey_rp.h's count): at most
 * 1023 bytes; W3C vector 04 holds exactly 1023. */
static void
ad_reg_cred_id_1024(void **state)
{
	json_t *v = load("w3c/04_w3c_long_credid_1023_reg.json");
	struct ad_parts pp;
	size_t len;
	uint8_t *ad = ad_get(v, &len), *out;

	(void)state;
	ad_split(ad, len, &pp);
	assert_int_equal(pp.cred_id_len, 1023);
	assert_non_null(out = malloc(len + 1));
	memcpy(out, ad, pp.cose_off);
	out[pp.cose_off] = 0x42;	/* the 1024th byte of the ID */
	memcpy(out + pp.cose_off + 1, ad + pp.cose_off, len - pp.cose_off);
	out[AD_CREDID_LEN] = 0x04;
	out[AD_CREDID_LEN + 1] = 0x00;
	ad_set(v, out, len + 1);
	free(out);
	free(ad);
	check(v, RP_ERR_CREDENTIAL_ID_TOO_LONG);
}

static void
ad_reg_cred_id_empty(void **state)
{
	json_t *v = load("browser/es256_reg.json");
	struct ad_parts pp;
	size_t len;
	uint8_t *ad = ad_get(v, &len), *out;

	(void)state;
	ad_split(ad, len, &pp);
	assert_non_null(out = malloc(len));
	memcpy(out, ad, AD_CREDID);
	memcpy(out + AD_CREDID, ad + pp.cose_off, len - pp.cose_off);
	out[AD_CREDID_LEN] = 0;
	out[AD_CREDID_LEN + 1] = 0;
	ad_set(v, out, AD_CREDID + len - pp.cose_off);
	free(out);
	free(ad);
	check(v, RP_ERR_CREDENTIAL_ID_EMPTY);
}

/* The credential ID in authData differs from rawId (and id). */
static void
ad_reg_cred_id_not_raw_id(void **state)
{
	json_t *v = load("browser/eddsa_reg.json");

	(void)state;
	ad_flip(v, AD_CREDID + 5, 0x10);
	check(v, RP_ERR_CREDENTIAL_ID_MISMATCH);
}

/* Every strict prefix of a registration's authData is truncated,
 * wherever the cut falls (fixed part, AAGUID, ID length, ID, COSE key). */
static void
ad_reg_every_truncation(void **state)
{
	json_t *v = load("browser/es256_reg.json");
	size_t len;
	uint8_t *ad = ad_get(v, &len);

	(void)state;
	for (size_t cut = 0; cut < len; cut++) {
		json_t *m = json_deep_copy(v);
		int got;

		assert_non_null(m);
		ad_set(m, ad, cut);
		got = vector_verify(m, NULL);
		json_decref(m);
		if (got != RP_ERR_AUTHDATA_TRUNCATED) {
			free(ad);
			json_decref(v);
			fail_msg("cut at %zu/%zu: %s", cut, len, rp_err_code(got));
		}
	}
	free(ad);
	json_decref(v);
}

/*
 * Every single-bit change to an assertion's authenticator data is refused,
 * NOT re-signed: the flag checks of §7.2 steps 14-17 come first, and the
 * signature (step 21) covers everything else.  es256_auth: flags UP|UV,
 * require UV, stored BE unknown to vector_verify().
 */
static int
flip_verdict(size_t byte, int bit)
{
	if (byte < AD_FLAGS)
		return RP_ERR_RP_ID_HASH_MISMATCH;
	if (byte > AD_FLAGS)
		return RP_ERR_BAD_SIGNATURE;
	switch (1 << bit) {
	case RP_FLAG_UP: return RP_ERR_USER_PRESENCE_MISSING;
	case RP_FLAG_UV: return RP_ERR_USER_VERIFICATION_MISSING;
	case RP_FLAG_BS: return RP_ERR_BACKUP_STATE_INVALID;
	case RP_FLAG_AT: return RP_ERR_AUTHDATA_TRUNCATED;
	case RP_FLAG_ED: return RP_ERR_EXTENSION_FLAG_MISMATCH;
	default: return RP_ERR_BAD_SIGNATURE;	/* RFU1, RFU2, BE */
	}
}

static void
ad_auth_every_bit_flip(void **state)
{
	json_t *v = load("browser/es256_auth.json");
	size_t len;
	uint8_t *ad = ad_get(v, &len);

	(void)state;
	assert_int_equal(len, AD_AAGUID);
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			json_t *m = json_deep_copy(v);
			int got, want = flip_verdict(i, bit);

			assert_non_null(m);
			ad[i] ^= (uint8_t)(1 << bit);
			ad_set(m, ad, len);
			ad[i] ^= (uint8_t)(1 << bit);
			got = vector_verify(m, NULL);
			json_decref(m);
			if (got != want) {
				free(ad);
				json_decref(v);
				fail_msg("byte %zu bit %d: %s, want %s", i, bit,
				    rp_err_code(got), rp_err_code(want));
			}
		}
	}
	free(ad);
	json_decref(v);
}

/* ================================================================== */
/* Assertion signature: §7.2 steps 20-21 (hash, signature over       */
/* authData || hash)                                                  */
/* ================================================================== */

static void
sig_flip(const char *file, size_t byte_from_end, uint8_t mask)
{
	json_t *v = load(file);
	size_t len;
	uint8_t *sig = field(v, "signature", &len);

	assert_true(byte_from_end < len);
	sig[len - 1 - byte_from_end] ^= mask;
	set_field(v, "signature", sig, len);
	free(sig);
	check(v, RP_ERR_BAD_SIGNATURE);
}

static void
sig_es256_bit(void **state)
{
	(void)state;
	sig_flip("browser/es256_auth.json", 0, 0x01);
}

static void
sig_eddsa_bit(void **state)
{
	(void)state;
	sig_flip("browser/eddsa_auth.json", 40, 0x04);
}

static void
sig_rs256_bit(void **state)
{
	(void)state;
	sig_flip("browser/rs256_auth.json", 100, 0x20);
}

static void
sig_w3c_es256_bit(void **state)
{
	(void)state;
	sig_flip("w3c/01_w3c_none_es256_auth.json", 3, 0x80);
}

static void
sig_empty(void **state)
{
	json_t *v = load("browser/es256_auth.json");

	(void)state;
	json_object_set_new(inner(v), "signature", json_string(""));
	check(v, RP_ERR_BAD_SIGNATURE);
}

static void
sig_missing(void **state)
{
	json_t *v = load("browser/es256_auth.json");

	(void)state;
	json_object_del(inner(v), "signature");
	check(v, RP_ERR_FIELD_MISSING);
}

/* ECDSA DER with a byte after the SEQUENCE: not the signature made. */
static void
sig_es256_der_trailing_byte(void **state)
{
	json_t *v = load("browser/es256_auth.json");
	size_t len;
	uint8_t *sig = field(v, "signature", &len);

	(void)state;
	sig = realloc(sig, len + 1);
	assert_non_null(sig);
	sig[len] = 0x00;
	set_field(v, "signature", sig, len + 1);
	free(sig);
	check(v, RP_ERR_BAD_SIGNATURE);
}

/* A genuine signature by the right key, over other authenticator data. */
static void
sig_over_other_data(void **state)
{
	json_t *v = load("browser/eddsa_auth.json");
	size_t adlen, cdjlen, siglen;
	uint8_t *ad = field(v, "authenticatorData", &adlen);
	uint8_t *cdj = field(v, "clientDataJSON", &cdjlen), *sig;

	(void)state;
	ad[AD_COUNT + 3] ^= 0x01;	/* sign a different counter ... */
	sig = webauthn_sign(v, ad, adlen, cdj, cdjlen, &siglen);
	set_field(v, "signature", sig, siglen);	/* ... and keep the data */
	free(sig);
	free(cdj);
	free(ad);
	check(v, RP_ERR_BAD_SIGNATURE);
}

/* authData changed after signing (the count), not re-signed. */
static void
sig_auth_count_changed_not_resigned(void **state)
{
	json_t *v = load("browser/rs256_auth.json");

	(void)state;
	ad_flip(v, AD_COUNT + 3, 0x08);
	check(v, RP_ERR_BAD_SIGNATURE);
}

/* A valid signature by ANOTHER credential's key (another capture). */
static void
sig_es256_other_key(void **state)
{
	json_t *v = load("browser/es256_auth.json");
	json_t *other = load("browser/es256_nouv_auth.json");

	(void)state;
	resign_with(v, other);
	json_decref(other);
	check(v, RP_ERR_BAD_SIGNATURE);
}

/* ================================================================== */
/* credentialPublicKey and its algorithm: §7.1 step 19 (alg among     */
/* pubKeyCredParams) and the COSE_Key it rests on,                   */
/* RFC 9052 §7 / RFC 9053 (registrations, fmt "none")                 */
/* ================================================================== */

static void
cose_es256_variant(const char *file, int64_t kty, int64_t alg, int64_t crv,
    size_t xlen, bool flip_y, int want)
{
	json_t *v = load(file);
	uint8_t x[32], y[32];
	struct cw w = { .n = 0 };

	reg_cose_param(v, -2, x, 32);
	reg_cose_param(v, -3, y, 32);
	if (flip_y)
		y[31] ^= 0x01;
	cw_cose_key(&w, kty, alg, crv, x, xlen, y, 32);
	reg_set_cose(v, w.b, w.n);
	check(v, want);
}

/* Plumbing control: the hand-written key equals the genuine one. */
static void
cose_control_rebuilt_key(void **state)
{
	(void)state;
	cose_es256_variant("browser/es256_reg.json", 2, -7, 1, 32, false, RP_OK);
}

static void
cose_alg_not_allowed(void **state)
{
	json_t *v = load("browser/es256_reg.json");
	rp_policy_t *p = vector_policy(v);
	int algs[] = { RP_COSE_EDDSA, RP_COSE_RS256 };

	(void)state;
	assert_int_equal(rp_policy_set_allowed_algs(p, algs, 2), RP_OK);
	check_policy(v, p, RP_ERR_ALG_NOT_ALLOWED);
}

static void
cose_alg_es384_unsupported(void **state)
{
	(void)state;
	cose_es256_variant("browser/es256_reg.json", 2, -35, 1, 32, false,
	    RP_ERR_ALG_UNSUPPORTED);
}

static void
cose_alg_es512_unsupported(void **state)
{
	(void)state;
	cose_es256_variant("browser/es256_reg.json", 2, -36, 1, 32, false,
	    RP_ERR_ALG_UNSUPPORTED);
}

static void
cose_ec2_key_eddsa_alg(void **state)
{
	(void)state;
	cose_es256_variant("browser/es256_reg.json", 2, RP_COSE_EDDSA, 1, 32, false,
	    RP_ERR_KEY_TYPE_MISMATCH);
}

static void
cose_p256_crv_2(void **state)
{
	(void)state;
	cose_es256_variant("browser/es256_reg.json", 2, RP_COSE_ES256, 2, 32, false,
	    RP_ERR_KEY_TYPE_MISMATCH);
}

static void
cose_x_31_bytes(void **state)
{
	(void)state;
	cose_es256_variant("browser/es256_reg.json", 2, RP_COSE_ES256, 1, 31, false,
	    RP_ERR_COSE_KEY_MALFORMED);
}

static void
cose_point_not_on_curve(void **state)
{
	(void)state;
	cose_es256_variant("browser/es256_reg.json", 2, RP_COSE_ES256, 1, 32, true,
	    RP_ERR_KEY_INVALID);
}

static void
cose_okp_key_es256_alg(void **state)
{
	json_t *v = load("browser/eddsa_reg.json");
	uint8_t x[32];
	struct cw w = { .n = 0 };

	(void)state;
	reg_cose_param(v, -2, x, 32);
	cw_cose_key(&w, 1, RP_COSE_ES256, 6, x, 32, NULL, 0);
	reg_set_cose(v, w.b, w.n);
	check(v, RP_ERR_KEY_TYPE_MISMATCH);
}

static void
cose_okp_crv_ed448(void **state)
{
	json_t *v = load("browser/eddsa_reg.json");
	uint8_t x[32];
	struct cw w = { .n = 0 };

	(void)state;
	reg_cose_param(v, -2, x, 32);
	cw_cose_key(&w, 1, RP_COSE_EDDSA, 7, x, 32, NULL, 0);
	reg_set_cose(v, w.b, w.n);
	check(v, RP_ERR_KEY_TYPE_MISMATCH);
}

static void
cose_alg_missing(void **state)
{
	json_t *v = load("browser/es256_reg.json");
	uint8_t x[32], y[32];
	struct cw w = { .n = 0 };

	(void)state;
	reg_cose_param(v, -2, x, 32);
	reg_cose_param(v, -3, y, 32);
	cw_head(&w, 5, 4);
	cw_int(&w, 1), cw_int(&w, 2);
	cw_int(&w, -1), cw_int(&w, 1);
	cw_int(&w, -2), cw_bytes(&w, x, 32);
	cw_int(&w, -3), cw_bytes(&w, y, 32);
	reg_set_cose(v, w.b, w.n);
	check(v, RP_ERR_COSE_KEY_MALFORMED);
}

static void
cose_not_a_map(void **state)
{
	json_t *v = load("browser/es256_reg.json");
	uint8_t x[32];
	struct cw w = { .n = 0 };

	(void)state;
	reg_cose_param(v, -2, x, 32);
	cw_head(&w, 4, 2);
	cw_int(&w, -7);
	cw_bytes(&w, x, 32);
	reg_set_cose(v, w.b, w.n);
	check(v, RP_ERR_COSE_KEY_MALFORMED);
}

/* The alg label given twice: our CBOR profile refuses repeated keys. */
static void
cose_duplicate_key(void **state)
{
	json_t *v = load("browser/es256_reg.json");
	uint8_t x[32], y[32];
	struct cw w = { .n = 0 };

	(void)state;
	reg_cose_param(v, -2, x, 32);
	reg_cose_param(v, -3, y, 32);
	cw_head(&w, 5, 6);
	cw_int(&w, 1), cw_int(&w, 2);
	cw_int(&w, 3), cw_int(&w, -7);
	cw_int(&w, 3), cw_int(&w, -8);
	cw_int(&w, -1), cw_int(&w, 1);
	cw_int(&w, -2), cw_bytes(&w, x, 32);
	cw_int(&w, -3), cw_bytes(&w, y, 32);
	reg_set_cose(v, w.b, w.n);
	check(v, RP_ERR_CBOR_DUPLICATE_KEY);
}

static void
cose_indefinite_map(void **state)
{
	json_t *v = load("browser/es256_reg.json");
	uint8_t x[32], y[32];
	struct cw w = { .n = 0 };

	(void)state;
	reg_cose_param(v, -2, x, 32);
	reg_cose_param(v, -3, y, 32);
	cw_u8(&w, 0xbf);
	cw_int(&w, 1), cw_int(&w, 2);
	cw_int(&w, 3), cw_int(&w, -7);
	cw_int(&w, -1), cw_int(&w, 1);
	cw_int(&w, -2), cw_bytes(&w, x, 32);
	cw_int(&w, -3), cw_bytes(&w, y, 32);
	cw_u8(&w, 0xff);
	reg_set_cose(v, w.b, w.n);
	check(v, RP_ERR_CBOR_INDEFINITE_LENGTH);
}

/* authData ends inside the COSE key. */
static void
cose_truncated_in_authdata(void **state)
{
	json_t *v = load("browser/es256_reg.json");
	size_t len;
	uint8_t *ad = ad_get(v, &len);

	(void)state;
	ad_set(v, ad, len - 10);
	free(ad);
	check(v, RP_ERR_AUTHDATA_TRUNCATED);
}

/* RS256 with a 2040-bit modulus (one byte dropped). */
static void
cose_rsa_short_modulus(void **state)
{
	json_t *v = load("browser/rs256_reg.json");
	uint8_t n[256], e[3];
	struct cw w = { .n = 0 };

	(void)state;
	reg_cose_param(v, -1, n, 256);
	reg_cose_param(v, -2, e, 3);
	cw_head(&w, 5, 4);
	cw_int(&w, 1), cw_int(&w, 3);
	cw_int(&w, 3), cw_int(&w, RP_COSE_RS256);
	cw_int(&w, -1), cw_bytes(&w, n + 1, 255);
	cw_int(&w, -2), cw_bytes(&w, e, 3);
	reg_set_cose(v, w.b, w.n);
	check(v, RP_ERR_KEY_INVALID);
}

/* An RS256 key with the genuine registration's n and e, edited; fmt "none". */
static void
cose_rsa_variant(void (*edit)(uint8_t n[256], uint8_t *e, size_t *elen), int want)
{
	json_t *v = load("browser/rs256_reg.json");
	uint8_t n[256], e[4];
	size_t elen = 3;
	struct cw w = { .n = 0 };

	reg_cose_param(v, -1, n, 256);
	reg_cose_param(v, -2, e, 3);
	if (edit != NULL)
		edit(n, e, &elen);
	cw_head(&w, 5, 4);
	cw_int(&w, 1), cw_int(&w, 3);
	cw_int(&w, 3), cw_int(&w, RP_COSE_RS256);
	cw_int(&w, -1), cw_bytes(&w, n, 256);
	cw_int(&w, -2), cw_bytes(&w, e, elen);
	reg_set_cose(v, w.b, w.n);
	check(v, want);
}

static void
rsa_2044_bits(uint8_t n[256], uint8_t *e, size_t *elen)
{
	(void)e, (void)elen;
	n[0] = (uint8_t)((n[0] & 0x0f) | 0x08);	/* 256 bytes, 2044 bits */
}

static void
rsa_even_modulus(uint8_t n[256], uint8_t *e, size_t *elen)
{
	(void)e, (void)elen;
	n[255] &= 0xfe;
}

static void
rsa_exponent_3(uint8_t n[256], uint8_t *e, size_t *elen)
{
	(void)n;
	e[0] = 3;
	*elen = 1;
}

static void
rsa_exponent_65535(uint8_t n[256], uint8_t *e, size_t *elen)
{
	(void)n;
	e[0] = 0xff, e[1] = 0xff;
	*elen = 2;
}

static void
rsa_exponent_32_bits(uint8_t n[256], uint8_t *e, size_t *elen)
{
	(void)n;
	e[0] = 0x80, e[1] = 0x00, e[2] = 0x00, e[3] = 0x01;
	*elen = 4;
}

/* Plumbing control: the genuine key, rebuilt by hand, registers. */
static void
cose_rsa_control(void **state)
{
	(void)state;
	cose_rsa_variant(NULL, RP_OK);
}

/*
 * A modulus of 2041 to 2047 bits registered, and rp_sig.c (2048 bits at
 * least) then refused every one of its assertions: a passkey that locks
 * its user out.  An even modulus or a small exponent: no key.
 */
static void
cose_rsa_weak(void **state)
{
	(void)state;
	cose_rsa_variant(rsa_2044_bits, RP_ERR_KEY_INVALID);
	cose_rsa_variant(rsa_even_modulus, RP_ERR_KEY_INVALID);
	cose_rsa_variant(rsa_exponent_3, RP_ERR_KEY_INVALID);
	cose_rsa_variant(rsa_exponent_65535, RP_ERR_KEY_INVALID);
	cose_rsa_variant(rsa_exponent_32_bits, RP_OK);	/* odd, over 65537: a key */
}

/* An Ed25519 COSE key with x as given, through rp_pubkey_from_cose. */
static int
ed25519_parse(const uint8_t x[32])
{
	struct cw w = { .n = 0 };
	rp_pubkey_t *pk = NULL;
	int err;

	cw_cose_key(&w, 1, RP_COSE_EDDSA, 6, x, 32, NULL, 0);
	err = rp_pubkey_from_cose(w.b, w.n, &pk);
	rp_pubkey_free(&pk);
	return err;
}

/*
 * The Ed25519 keys of small order: with one, R = identity and S = 0
 * verify any message (OpenSSL 3.0 accepts both), so the passkey would
 * let anyone in.  y, little-endian: 0, 1, p - 1, and the order-8 pair;
 * each with either sign of x.  Then y >= p, the non-canonical encodings
 * (p is 0, p + 1 is the identity again).
 */
static void
cose_ed25519_small_order(void **state)
{
	static const char *const small[] = {
		"0000000000000000000000000000000000000000000000000000000000000000",
		"0100000000000000000000000000000000000000000000000000000000000000",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
		"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
		"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	};
	json_t *v = load("browser/eddsa_reg.json");
	uint8_t x[32], genuine[32];
	struct cw w = { .n = 0 };

	(void)state;
	reg_cose_param(v, -2, genuine, 32);
	assert_verdict(ed25519_parse(genuine), RP_OK);
	for (size_t i = 0; i < sizeof(small) / sizeof(small[0]); i++) {
		for (size_t j = 0; j < 32; j++)
			assert_int_equal(sscanf(small[i] + 2 * j, "%2hhx", &x[j]), 1);
		assert_verdict(ed25519_parse(x), RP_ERR_KEY_INVALID);
		x[31] |= 0x80;		/* the other sign of x */
		assert_verdict(ed25519_parse(x), RP_ERR_KEY_INVALID);
	}
	/* and a registration that carries the identity is refused */
	memset(x, 0, sizeof(x));
	x[0] = 1;
	cw_cose_key(&w, 1, RP_COSE_EDDSA, 6, x, 32, NULL, 0);
	reg_set_cose(v, w.b, w.n);
	check(v, RP_ERR_KEY_INVALID);
}

/*
 * A credential key with its private part: the bytes would be stored,
 * listed and exported as they came.  EC2 and OKP: d (-4); RSA: d (-3).
 */
static void
cose_private_part(void **state)
{
	json_t *ec = load("browser/es256_reg.json"), *ed = load("browser/eddsa_reg.json");
	json_t *rsa = load("browser/rs256_reg.json");
	uint8_t x[32], y[32], d[32], n[256], e[3];
	struct cw w = { .n = 0 };

	(void)state;
	memset(d, 0x5a, sizeof(d));
	reg_cose_param(ec, -2, x, 32);
	reg_cose_param(ec, -3, y, 32);
	cw_head(&w, 5, 6);
	cw_int(&w, 1), cw_int(&w, 2);
	cw_int(&w, 3), cw_int(&w, RP_COSE_ES256);
	cw_int(&w, -1), cw_int(&w, 1);
	cw_int(&w, -2), cw_bytes(&w, x, 32);
	cw_int(&w, -3), cw_bytes(&w, y, 32);
	cw_int(&w, -4), cw_bytes(&w, d, 32);
	reg_set_cose(ec, w.b, w.n);
	check(ec, RP_ERR_COSE_KEY_MALFORMED);

	w.n = 0;
	reg_cose_param(ed, -2, x, 32);
	cw_head(&w, 5, 5);
	cw_int(&w, 1), cw_int(&w, 1);
	cw_int(&w, 3), cw_int(&w, RP_COSE_EDDSA);
	cw_int(&w, -1), cw_int(&w, 6);
	cw_int(&w, -2), cw_bytes(&w, x, 32);
	cw_int(&w, -4), cw_bytes(&w, d, 32);
	reg_set_cose(ed, w.b, w.n);
	check(ed, RP_ERR_COSE_KEY_MALFORMED);

	w.n = 0;
	reg_cose_param(rsa, -1, n, 256);
	reg_cose_param(rsa, -2, e, 3);
	cw_head(&w, 5, 5);
	cw_int(&w, 1), cw_int(&w, 3);
	cw_int(&w, 3), cw_int(&w, RP_COSE_RS256);
	cw_int(&w, -1), cw_bytes(&w, n, 256);
	cw_int(&w, -2), cw_bytes(&w, e, 3);
	cw_int(&w, -3), cw_bytes(&w, n, 256);	/* "d": any bytes */
	reg_set_cose(rsa, w.b, w.n);
	check(rsa, RP_ERR_COSE_KEY_MALFORMED);
}

/* rp_pubkey_from_cose() on a stored key: a byte too many. */
static void
cose_stored_key_trailing_byte(void **state)
{
	json_t *v = load("browser/es256_auth.json");
	size_t len;
	uint8_t *cose = b64_decode(json_object_get(json_object_get(v, "credential"),
	    "public_key_cose_b64url"), &len);
	rp_pubkey_t *pk = NULL;
	int got_trailing, got_truncated;

	(void)state;
	cose = realloc(cose, len + 1);
	assert_non_null(cose);
	cose[len] = 0x00;
	got_trailing = rp_pubkey_from_cose(cose, len + 1, &pk);
	rp_pubkey_free(&pk);
	got_truncated = rp_pubkey_from_cose(cose, len - 1, &pk);
	rp_pubkey_free(&pk);
	free(cose);
	json_decref(v);
	assert_verdict(got_trailing, RP_ERR_CBOR_TRAILING_BYTES);
	assert_verdict(got_truncated, RP_ERR_CBOR_TRUNCATED);
}

/* ================================================================== */
/* attestationObject: §7.1 step 12 (CBOR decoding to fmt, authData,   */
/* attStmt) and the fmt step that follows the alg check              */
/* ================================================================== */

static void
set_ao_raw(json_t *v, const struct cw *w)
{
	set_field(v, "attestationObject", w->b, w->n);
}

static void
ao_not_cbor(void **state)
{
	json_t *v = load("browser/es256_reg.json");
	struct cw w = { .n = 0 };

	(void)state;
	cw_u8(&w, 0xbc);	/* major type 5 with reserved additional info 28 */
	cw_raw(&w, "not cbor", 8);
	set_ao_raw(v, &w);
	check(v, RP_ERR_CBOR_MALFORMED);
}

static void
ao_truncated(void **state)
{
	json_t *v = load("browser/es256_reg.json");
	size_t len;
	uint8_t *ao = field(v, "attestationObject", &len);

	(void)state;
	set_field(v, "attestationObject", ao, len / 2);
	free(ao);
	check(v, RP_ERR_CBOR_TRUNCATED);
}

static void
ao_empty(void **state)
{
	json_t *v = load("browser/es256_reg.json");

	(void)state;
	json_object_set_new(inner(v), "attestationObject", json_string(""));
	check(v, RP_ERR_CBOR_TRUNCATED);
}

static void
ao_indefinite_map(void **state)
{
	json_t *v = load("browser/es256_reg.json");
	size_t len;
	uint8_t *ao = field(v, "attestationObject", &len);

	(void)state;
	assert_int_equal(ao[0], 0xa3);
	ao = realloc(ao, len + 1);
	assert_non_null(ao);
	ao[0] = 0xbf;
	ao[len] = 0xff;
	set_field(v, "attestationObject", ao, len + 1);
	free(ao);
	check(v, RP_ERR_CBOR_INDEFINITE_LENGTH);
}

static void
ao_duplicate_fmt(void **state)
{
	json_t *v = load("browser/es256_reg.json");
	struct cw w = { .n = 0 };
	size_t len;
	uint8_t *ad = ad_get(v, &len);

	(void)state;
	cw_head(&w, 5, 4);
	cw_text(&w, "fmt");
	cw_text(&w, "none");
	cw_text(&w, "fmt");
	cw_text(&w, "packed");
	cw_text(&w, "attStmt");
	cw_head(&w, 5, 0);
	cw_text(&w, "authData");
	cw_bytes(&w, ad, len);
	free(ad);
	set_ao_raw(v, &w);
	check(v, RP_ERR_CBOR_DUPLICATE_KEY);
}

static void
ao_trailing_bytes(void **state)
{
	json_t *v = load("browser/es256_reg.json");
	size_t len;
	uint8_t *ao = field(v, "attestationObject", &len);

	(void)state;
	ao = realloc(ao, len + 1);
	assert_non_null(ao);
	ao[len] = 0xa0;
	set_field(v, "attestationObject", ao, len + 1);
	free(ao);
	check(v, RP_ERR_CBOR_TRAILING_BYTES);
}

static void
ao_missing_authdata(void **state)
{
	json_t *v = load("browser/es256_reg.json");

	(void)state;
	ao_set(v, "authData", NULL);
	check(v, RP_ERR_ATTESTATION_OBJECT_MALFORMED);
}

static void
ao_missing_fmt(void **state)
{
	json_t *v = load("browser/es256_reg.json");

	(void)state;
	ao_set(v, "fmt", NULL);
	check(v, RP_ERR_ATTESTATION_OBJECT_MALFORMED);
}

static void
ao_authdata_text(void **state)
{
	json_t *v = load("browser/es256_reg.json");

	(void)state;
	ao_set(v, "authData", cbor_build_string("authData"));
	check(v, RP_ERR_ATTESTATION_OBJECT_MALFORMED);
}

static void
ao_not_a_map(void **state)
{
	json_t *v = load("browser/es256_reg.json");
	struct cw w = { .n = 0 };
	size_t len;
	uint8_t *ad = ad_get(v, &len);

	(void)state;
	cw_head(&w, 4, 3);
	cw_text(&w, "none");
	cw_head(&w, 5, 0);
	cw_bytes(&w, ad, len);
	free(ad);
	set_ao_raw(v, &w);
	check(v, RP_ERR_ATTESTATION_OBJECT_MALFORMED);
}

static void
ao_fmt_unknown(void **state)
{
	json_t *v = load("browser/es256_reg.json");

	(void)state;
	ao_set(v, "fmt", cbor_build_string("foo"));
	check(v, RP_ERR_ATTESTATION_FORMAT_UNSUPPORTED);
}

/*
 * §8.1: a format identifier is at most 32 octets of VCHAR.  A 32-octet
 * identifier is well formed and merely unknown here.
 * Regression: parse_att_object() once refused exactly 32 octets (its
 * buffer had no room for the NUL) and answered attestation_object_malformed.
 */
static void
ao_fmt_32_octets(void **state)
{
	json_t *v = load("browser/es256_reg.json");
	const char *fmt = "org.example.attestation-format32";

	(void)state;
	assert_int_equal(strlen(fmt), 32);
	ao_set(v, "fmt", cbor_build_string(fmt));
	check(v, RP_ERR_ATTESTATION_FORMAT_UNSUPPORTED);
}

/* 33 octets breaks §8.1's MUST. */
static void
ao_fmt_33_octets(void **state)
{
	json_t *v = load("browser/es256_reg.json");
	const char *fmt = "org.example.attestation-format-33";

	(void)state;
	assert_int_equal(strlen(fmt), 33);
	ao_set(v, "fmt", cbor_build_string(fmt));
	check(v, RP_ERR_ATTESTATION_OBJECT_MALFORMED);
}

/* "none" followed by a NUL is not "none" (nor VCHAR). */
static void
ao_fmt_embedded_nul(void **state)
{
	json_t *v = load("browser/es256_reg.json");

	(void)state;
	ao_set(v, "fmt", cbor_build_stringn("none\0", 5));
	check(v, RP_ERR_ATTESTATION_OBJECT_MALFORMED);
}

static void
ao_fmt_bytes(void **state)
{
	json_t *v = load("browser/es256_reg.json");

	(void)state;
	ao_set(v, "fmt", cbor_build_bytestring((const uint8_t *)"none", 4));
	check(v, RP_ERR_ATTESTATION_OBJECT_MALFORMED);
}

/* §8.7: "none" has an empty statement. */
static void
ao_none_nonempty_stmt(void **state)
{
	json_t *v = load("browser/es256_reg.json");
	uint8_t zero = 0;

	(void)state;
	stmt_set(v, "sig", cbor_build_bytestring(&zero, 1));
	check(v, RP_ERR_ATTESTATION_STATEMENT_MALFORMED);
}

/* 17 nested containers: the root map, attStmt and 15 arrays. */
static void
ao_nesting_17(void **state)
{
	json_t *v = load("browser/es256_reg.json");
	struct cw w = { .n = 0 };
	size_t len;
	uint8_t *ad = ad_get(v, &len);

	(void)state;
	cw_head(&w, 5, 3);
	cw_text(&w, "fmt");
	cw_text(&w, "none");
	cw_text(&w, "attStmt");
	cw_head(&w, 5, 1);
	cw_text(&w, "x");
	for (int i = 0; i < 15; i++)
		cw_head(&w, 4, 1);
	cw_int(&w, 0);
	cw_text(&w, "authData");
	cw_bytes(&w, ad, len);
	free(ad);
	set_ao_raw(v, &w);
	check(v, RP_ERR_CBOR_TOO_DEEP);
}

static void
ao_field_missing(void **state)
{
	json_t *v = load("browser/es256_reg.json");

	(void)state;
	json_object_del(inner(v), "attestationObject");
	check(v, RP_ERR_FIELD_MISSING);
}

/* ================================================================== */
/* Attestation statements: §7.1's attStmt verification, trust-anchor  */
/* and trustworthiness steps; the procedures of §8.2-§8.8           */
/* ================================================================== */

/* Packed, full attestation, Chromium's virtual authenticator. */
static void
att_packed_browser_sig_bit(void **state)
{
	json_t *v = load("browser/es256_direct_reg.json");

	(void)state;
	stmt_flip(v, "sig", 20, 0x01);
	check(v, RP_ERR_ATTESTATION_SIGNATURE_INVALID);
}

static void
att_packed_chain_sig_bit(void **state)
{
	json_t *v = load("attestation/packed_chain_ok.json");

	(void)state;
	stmt_flip(v, "sig", 10, 0x40);
	check(v, RP_ERR_ATTESTATION_SIGNATURE_INVALID);
}

/* alg names RS256 while the attestation key is P-256: no RS256 key. */
static void
att_packed_alg_changed(void **state)
{
	json_t *v = load("attestation/packed_chain_ok.json");

	(void)state;
	stmt_set(v, "alg", cbor_build_negint16(256));	/* -257 */
	check(v, RP_ERR_ATTESTATION_CERT_INVALID);
}

/* RS1 (-65535): libfido2 answered FIDO_ERR_INTERNAL, counted as ours. */
static void
att_packed_alg_rs1(void **state)
{
	json_t *v = load("attestation/packed_chain_ok.json");

	(void)state;
	stmt_set(v, "alg", cbor_build_negint16(65534));	/* -65535 */
	check(v, RP_ERR_ALG_UNSUPPORTED);
}

/* A v3 leaf with §8.2.1's subject, not a CA, self-signed with key k. */
static X509 *
packed_leaf(EVP_PKEY *k)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	X509_EXTENSION *bc;

	assert_true(x != NULL && n != NULL);
	assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 7), 1);
	assert_non_null(X509_time_adj_ex(X509_getm_notBefore(x), -1, 0, NULL));
	assert_non_null(X509_time_adj_ex(X509_getm_notAfter(x), 365, 0, NULL));
	assert_int_equal(X509_NAME_add_entry_by_txt(n, "C", MBSTRING_ASC,
	    (const unsigned char *)"SE", -1, -1, 0), 1);
	assert_int_equal(X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC,
	    (const unsigned char *)"Test Vendor", -1, -1, 0), 1);
	assert_int_equal(X509_NAME_add_entry_by_txt(n, "OU", MBSTRING_ASC,
	    (const unsigned char *)"Authenticator Attestation", -1, -1, 0), 1);
	assert_int_equal(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)"Test Leaf", -1, -1, 0), 1);
	assert_int_equal(X509_set_subject_name(x, n), 1);
	assert_int_equal(X509_set_issuer_name(x, n), 1);
	assert_non_null(bc = X509V3_EXT_conf_nid(NULL, NULL, NID_basic_constraints, "CA:FALSE"));
	assert_int_equal(X509_add_ext(x, bc, -1), 1);
	X509_EXTENSION_free(bc);
	assert_int_equal(X509_set_pubkey(x, k), 1);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	X509_NAME_free(n);
	return x;
}

/*
 * The statement signed as alg says, by a leaf whose key is not of that
 * alg: libfido2 checked only the key's type, and took a P-384 leaf for
 * ES256 and a 1024-bit RSA leaf for RS256 (the reviewer chained both to
 * an anchor and got "trusted").  Both are refused at the leaf now.
 */
static void
packed_leaf_case(EVP_PKEY *k, int64_t alg, int want)
{
	json_t *v = load("attestation/packed_chain_ok.json");
	size_t adlen, cdjlen, siglen, derlen;
	uint8_t *ad = ad_get(v, &adlen), *cdj = field(v, "clientDataJSON", &cdjlen);
	uint8_t *m, *sig, *der = NULL;
	X509 *leaf = packed_leaf(k);
	cbor_item_t *a = cbor_new_definite_array(1), *b;

	assert_non_null(m = malloc(adlen + SHA256_DIGEST_LENGTH));
	memcpy(m, ad, adlen);
	SHA256(cdj, cdjlen, m + adlen);
	sig = sign_msg(k, m, adlen + SHA256_DIGEST_LENGTH, &siglen);
	assert_true((derlen = (size_t)i2d_X509(leaf, &der)) > 0);
	assert_non_null(a);
	assert_non_null(b = cbor_build_bytestring(der, derlen));
	assert_true(cbor_array_push(a, b));
	cbor_decref(&b);
	stmt_set(v, "x5c", a);
	stmt_set(v, "sig", cbor_build_bytestring(sig, siglen));
	stmt_set(v, "alg", alg < 0 ? cbor_build_negint16((uint16_t)(-1 - alg)) :
	    cbor_build_uint16((uint16_t)alg));
	OPENSSL_free(der);
	X509_free(leaf);
	free(sig);
	free(m);
	free(cdj);
	free(ad);
	check(v, want);
}

static void
att_packed_leaf_p384(void **state)
{
	EVP_PKEY *k = EVP_EC_gen("P-384");

	(void)state;
	assert_non_null(k);
	packed_leaf_case(k, RP_COSE_ES256, RP_ERR_ATTESTATION_CERT_INVALID);
	EVP_PKEY_free(k);
}

static void
att_packed_leaf_rsa1024(void **state)
{
	EVP_PKEY *k = EVP_RSA_gen(1024);

	(void)state;
	assert_non_null(k);
	packed_leaf_case(k, RP_COSE_RS256, RP_ERR_ATTESTATION_CERT_INVALID);
	EVP_PKEY_free(k);
}

/*
 * Plumbing control: a P-256 leaf made the same way passes the leaf
 * checks and the signature, and fails only where it should, at the
 * chain (it is its own issuer, and no anchor).
 */
static void
att_packed_leaf_p256_control(void **state)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");

	(void)state;
	assert_non_null(k);
	packed_leaf_case(k, RP_COSE_ES256, RP_ERR_ATTESTATION_UNTRUSTED);
	EVP_PKEY_free(k);
}

static void
att_packed_x5c_garbage(void **state)
{
	json_t *v = load("attestation/packed_chain_ok.json");
	static const uint8_t garbage[] = { 0x30, 0x82, 0x01, 0x00, 0x02, 0x01 };
	cbor_item_t *a = cbor_new_definite_array(1), *b;

	(void)state;
	assert_non_null(a);
	assert_non_null(b = cbor_build_bytestring(garbage, sizeof(garbage)));
	assert_true(cbor_array_push(a, b));
	cbor_decref(&b);
	stmt_set(v, "x5c", a);
	check(v, RP_ERR_ATTESTATION_CERT_INVALID);
}

/*
 * A genuine leaf with a byte hidden after it in the same x5c entry.
 * Regression: rp_x5c_load() once leaked the X509 that d2i_X509() parsed
 * before the trailing byte was noticed (valgrind and ASan catch it).
 */
static void
att_packed_x5c_trailing_byte(void **state)
{
	json_t *v = load("browser/es256_direct_reg.json");
	cbor_item_t *ao = ao_load(v), *x5c = map_get(map_get(ao, "attStmt"), "x5c");
	cbor_item_t *leaf, *a, *b;
	uint8_t *der;
	size_t len;

	(void)state;
	assert_true(x5c != NULL && cbor_isa_array(x5c) && cbor_array_size(x5c) == 1);
	leaf = cbor_array_handle(x5c)[0];
	len = cbor_bytestring_length(leaf);
	assert_non_null(der = malloc(len + 1));
	memcpy(der, cbor_bytestring_handle(leaf), len);
	der[len] = 0x00;
	cbor_decref(&ao);
	assert_non_null(a = cbor_new_definite_array(1));
	assert_non_null(b = cbor_build_bytestring(der, len + 1));
	assert_true(cbor_array_push(a, b));
	cbor_decref(&b);
	free(der);
	stmt_set(v, "x5c", a);
	check(v, RP_ERR_ATTESTATION_CERT_INVALID);
}

/* x5c holds at most what a real chain needs (8 here). */
static void
att_packed_x5c_too_many(void **state)
{
	json_t *v = load("browser/es256_direct_reg.json");
	cbor_item_t *ao = ao_load(v), *x5c = map_get(map_get(ao, "attStmt"), "x5c");
	cbor_item_t *a = cbor_new_definite_array(9);

	(void)state;
	assert_non_null(a);
	for (int i = 0; i < 9; i++)
		assert_true(cbor_array_push(a, cbor_array_handle(x5c)[0]));
	cbor_decref(&ao);
	stmt_set(v, "x5c", a);
	check(v, RP_ERR_ATTESTATION_STATEMENT_MALFORMED);
}

/* fido-u2f: exactly one certificate (§8.6.2). */
static void
att_fido_u2f_two_certs(void **state)
{
	json_t *v = load("browser/u2f_reg.json");
	cbor_item_t *ao = ao_load(v), *x5c = map_get(map_get(ao, "attStmt"), "x5c");
	cbor_item_t *a = cbor_new_definite_array(2);

	(void)state;
	assert_non_null(a);
	assert_true(cbor_array_push(a, cbor_array_handle(x5c)[0]));
	assert_true(cbor_array_push(a, cbor_array_handle(x5c)[0]));
	cbor_decref(&ao);
	stmt_set(v, "x5c", a);
	check(v, RP_ERR_ATTESTATION_CERT_INVALID);
}

/* The chain is anchored elsewhere: the W3C vector's root is the only anchor. */
static void
att_packed_untrusted_root(void **state)
{
	json_t *v = load("attestation/packed_chain_ok.json");
	json_t *w3c = load("w3c/02_w3c_packed_ed25519_reg.json");

	(void)state;
	json_object_set(v, "trust_anchors_pem", json_object_get(w3c, "trust_anchors_pem"));
	json_decref(w3c);
	check(v, RP_ERR_ATTESTATION_UNTRUSTED);
}

/* ecdaaKeyId: removed from L3; a statement carrying it is malformed. */
static void
att_packed_ecdaa(void **state)
{
	json_t *v = load("browser/es256_direct_reg.json");
	uint8_t id[16] = { 0 };

	(void)state;
	stmt_set(v, "ecdaaKeyId", cbor_build_bytestring(id, sizeof(id)));
	check(v, RP_ERR_ATTESTATION_STATEMENT_MALFORMED);
}

static void
att_packed_sig_missing(void **state)
{
	json_t *v = load("attestation/packed_chain_ok.json");

	(void)state;
	stmt_set(v, "sig", NULL);
	check(v, RP_ERR_ATTESTATION_STATEMENT_MALFORMED);
}

static time_t
utc(int y, int mo, int d)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d };

	return timegm(&tm);
}

/* W3C vector 02's chain (valid 2024 to 3024), checked after it expired ... */
static void
att_cert_expired(void **state)
{
	json_t *v = load("w3c/02_w3c_packed_ed25519_reg.json");
	rp_policy_t *p = vector_policy(v);

	(void)state;
	rp_policy_set_time(p, utc(3025, 1, 1));
	check_policy(v, p, RP_ERR_ATTESTATION_CERT_EXPIRED);
}

/* ... and before it was issued. */
static void
att_cert_not_yet_valid(void **state)
{
	json_t *v = load("w3c/02_w3c_packed_ed25519_reg.json");
	rp_policy_t *p = vector_policy(v);

	(void)state;
	rp_policy_set_time(p, utc(2000, 1, 1));
	check_policy(v, p, RP_ERR_ATTESTATION_CERT_NOT_YET_VALID);
}

/* Packed self attestation, made here with the capture's private key. */
static void
make_packed_self(json_t *v, int64_t alg)
{
	size_t adlen, cdjlen, siglen;
	uint8_t *ad = ad_get(v, &adlen), *cdj = field(v, "clientDataJSON", &cdjlen);
	uint8_t *sig = webauthn_sign(v, ad, adlen, cdj, cdjlen, &siglen);
	cbor_item_t *ao = cbor_new_definite_map(3), *stmt = cbor_new_definite_map(2);

	assert_non_null(ao);
	assert_non_null(stmt);
	assert_true(cbor_map_add(stmt, (struct cbor_pair){
	    cbor_move(cbor_build_string("alg")),
	    cbor_move(alg < 0 ? cbor_build_negint16((uint16_t)(-1 - alg)) :
	    cbor_build_uint16((uint16_t)alg)) }));
	assert_true(cbor_map_add(stmt, (struct cbor_pair){
	    cbor_move(cbor_build_string("sig")),
	    cbor_move(cbor_build_bytestring(sig, siglen)) }));
	assert_true(cbor_map_add(ao, (struct cbor_pair){
	    cbor_move(cbor_build_string("fmt")), cbor_move(cbor_build_string("packed")) }));
	assert_true(cbor_map_add(ao, (struct cbor_pair){
	    cbor_move(cbor_build_string("attStmt")), stmt }));
	assert_true(cbor_map_add(ao, (struct cbor_pair){
	    cbor_move(cbor_build_string("authData")),
	    cbor_move(cbor_build_bytestring(ad, adlen)) }));
	cbor_decref(&stmt);
	ao_store(v, ao);
	cbor_decref(&ao);
	free(sig);
	free(cdj);
	free(ad);
}

static void
att_packed_self_control(void **state)
{
	json_t *v = load("browser/eddsa_reg.json");

	(void)state;
	make_packed_self(v, RP_COSE_EDDSA);
	check(v, RP_OK);
}

static void
att_packed_self_sig_bit(void **state)
{
	json_t *v = load("browser/es256_reg.json");

	(void)state;
	make_packed_self(v, RP_COSE_ES256);
	stmt_flip(v, "sig", 12, 0x02);
	check(v, RP_ERR_ATTESTATION_SIGNATURE_INVALID);
}

/* §8.2: self attestation's alg must be the credential's. */
static void
att_packed_self_alg_mismatch(void **state)
{
	json_t *v = load("browser/es256_reg.json");

	(void)state;
	make_packed_self(v, RP_COSE_ES256);
	stmt_set(v, "alg", cbor_build_negint8(7));	/* -8 */
	check(v, RP_ERR_ATTESTATION_STATEMENT_INVALID);
}

static void
att_fido_u2f_sig_bit(void **state)
{
	json_t *v = load("browser/u2f_reg.json");

	(void)state;
	stmt_flip(v, "sig", 30, 0x10);
	check(v, RP_ERR_ATTESTATION_SIGNATURE_INVALID);
}

static void
att_fido_u2f_x5c_missing(void **state)
{
	json_t *v = load("browser/u2f_reg.json");

	(void)state;
	stmt_set(v, "x5c", NULL);
	check(v, RP_ERR_ATTESTATION_STATEMENT_MALFORMED);
}

/* §8.3.2: certInfo.magic is TPM_GENERATED_VALUE. */
static void
att_tpm_magic(void **state)
{
	json_t *v = load("attestation/tpm_es256_ok.json");

	(void)state;
	stmt_flip(v, "certInfo", 3, 0x01);
	check(v, RP_ERR_ATTESTATION_STATEMENT_INVALID);
}

/* A certInfo byte the signature covers but no field check reads
 * (clockInfo): only the AIK signature notices. */
static void
att_tpm_certinfo_clock(void **state)
{
	json_t *v = load("attestation/tpm_rs256_ok.json");
	size_t len;
	uint8_t *ci = stmt_bytes(v, "certInfo", &len);
	size_t off;

	(void)state;
	/* magic(4) type(2) qualifiedSigner(2+n) extraData(2+m) clockInfo */
	off = 6;
	off += 2 + ((size_t)ci[off] << 8 | ci[off + 1]);
	off += 2 + ((size_t)ci[off] << 8 | ci[off + 1]);
	assert_true(off < len);
	free(ci);
	stmt_flip(v, "certInfo", off + 2, 0x01);
	check(v, RP_ERR_ATTESTATION_SIGNATURE_INVALID);
}

static void
att_tpm_ver(void **state)
{
	json_t *v = load("attestation/tpm_es256_ok.json");

	(void)state;
	stmt_set(v, "ver", cbor_build_string("1.2"));
	check(v, RP_ERR_ATTESTATION_STATEMENT_MALFORMED);
}

/* §8.4.2: alg is the credential's (ES256 here). */
static void
att_android_key_wrong_alg(void **state)
{
	json_t *v = load("attestation/android_key_ok.json");

	(void)state;
	stmt_set(v, "alg", cbor_build_negint16(256));	/* -257 */
	check(v, RP_ERR_ATTESTATION_STATEMENT_INVALID);
}

static void
att_android_key_sig_bit(void **state)
{
	json_t *v = load("attestation/android_key_ok.json");

	(void)state;
	stmt_flip(v, "sig", 15, 0x01);
	check(v, RP_ERR_ATTESTATION_SIGNATURE_INVALID);
}

static void
att_apple_x5c_missing(void **state)
{
	json_t *v = load("attestation/apple_ok.json");

	(void)state;
	stmt_set(v, "x5c", NULL);
	check(v, RP_ERR_ATTESTATION_STATEMENT_MALFORMED);
}

/* §7.1's trustworthiness step: the policy decides which kinds of
 * attestation it takes. */
static void
att_none_not_accepted(void **state)
{
	json_t *v = load("browser/es256_reg.json");
	rp_policy_t *p = vector_policy(v);

	(void)state;
	assert_int_equal(rp_policy_set_accepted_attestation(p, RP_ATTESTATION_TRUSTED), RP_OK);
	check_policy(v, p, RP_ERR_ATTESTATION_NOT_ACCEPTED);
}

/* ================================================================== */
/* The PublicKeyCredential envelope (§5.1 toJSON form)                */
/* ================================================================== */

struct b64_case {
	const char *member;	/* in response.response, or id/rawId at the top */
	bool top;
	const char *file;
	char how;		/* '+', '/', '=', ' ', '1' (1 mod 4), 'b' (leftover bits) */
};

static void
env_bad_b64(void **state)
{
	const struct b64_case *c = *state;
	json_t *v = load(c->file);
	json_t *obj = c->top ? outer(v) : inner(v);
	const char *s = json_string_value(json_object_get(obj, c->member));
	char *t;
	size_t n;

	assert_non_null(s);
	n = strlen(s);
	assert_true(n >= 4);
	assert_non_null(t = malloc(n + 2));
	memcpy(t, s, n + 1);
	switch (c->how) {
	case '+': case '/': case ' ': case '=':
		t[n / 2] = c->how;
		break;
	case '1':	/* one character more: a length of 1 mod 4 */
		if (n % 4 == 0)
			t[n++] = 'A';
		else
			n -= n % 4 - 1;
		t[n] = '\0';
		break;
	case 'b':	/* non-zero leftover bits in the last character */
		assert_true(n % 4 == 2 || n % 4 == 3);
		t[n - 1] = 'B';		/* 000001: the low bit is left over */
		break;
	default:
		fail();
	}
	json_object_set_new(obj, c->member, json_string(t));
	free(t);
	check(v, RP_ERR_BAD_BASE64URL);
}

static const struct b64_case b64_id = { "id", true, "browser/es256_reg.json", '+' };
static const struct b64_case b64_raw_id = { "rawId", true, "browser/es256_auth.json", '/' };
static const struct b64_case b64_cdj = { "clientDataJSON", false, "browser/es256_reg.json", '=' };
static const struct b64_case b64_ao = { "attestationObject", false, "browser/es256_reg.json", '1' };
static const struct b64_case b64_ad = { "authenticatorData", false, "browser/es256_auth.json", 'b' };
static const struct b64_case b64_sig = { "signature", false, "browser/eddsa_auth.json", ' ' };
static const struct b64_case b64_uh = { "userHandle", false, "browser/es256_auth.json", 'b' };

static void
env_id_not_raw_id(void **state)
{
	json_t *v = load("browser/es256_reg.json");
	json_t *other = load("browser/eddsa_reg.json");

	(void)state;
	json_object_set(outer(v), "id", json_object_get(outer(other), "id"));
	json_decref(other);
	check(v, RP_ERR_CREDENTIAL_ID_MISMATCH);
}

static void
env_type_foo(void **state)
{
	json_t *v = load("browser/es256_auth.json");

	(void)state;
	json_object_set_new(outer(v), "type", json_string("foo"));
	check(v, RP_ERR_CREDENTIAL_TYPE_INVALID);
}

static void
env_type_missing(void **state)
{
	json_t *v = load("browser/es256_reg.json");

	(void)state;
	json_object_del(outer(v), "type");
	check(v, RP_ERR_FIELD_MISSING);
}

static void
env_response_missing(void **state)
{
	json_t *v = load("browser/es256_reg.json");

	(void)state;
	json_object_del(outer(v), "response");
	check(v, RP_ERR_FIELD_MISSING);
}

static void
env_raw_id_missing(void **state)
{
	json_t *v = load("browser/es256_auth.json");

	(void)state;
	json_object_del(outer(v), "rawId");
	check(v, RP_ERR_FIELD_MISSING);
}

static void
env_client_data_missing(void **state)
{
	json_t *v = load("browser/es256_auth.json");

	(void)state;
	json_object_del(inner(v), "clientDataJSON");
	check(v, RP_ERR_FIELD_MISSING);
}

static void
env_authenticator_data_missing(void **state)
{
	json_t *v = load("browser/es256_auth.json");

	(void)state;
	json_object_del(inner(v), "authenticatorData");
	check(v, RP_ERR_FIELD_MISSING);
}

static void
env_too_large(void **state)
{
	json_t *v = load("browser/es256_reg.json");
	char *pad = malloc(RP_MAX_RESPONSE_LEN + 1);

	(void)state;
	assert_non_null(pad);
	memset(pad, 'a', RP_MAX_RESPONSE_LEN);
	pad[RP_MAX_RESPONSE_LEN] = '\0';
	json_object_set_new(outer(v), "padding", json_string(pad));
	free(pad);
	check(v, RP_ERR_RESPONSE_TOO_LARGE);
}

/* 64 KiB is the limit: exactly that many bytes still verify, one more not. */
static int
verify_padded_to(const char *file, size_t total)
{
	json_t *v = load(file);
	char *s;
	size_t base;
	char *pad;
	int got;

	json_object_set_new(outer(v), "padding", json_string(""));
	s = json_dumps(outer(v), JSON_COMPACT);
	assert_non_null(s);
	base = strlen(s);
	free(s);
	assert_true(total > base);
	assert_non_null(pad = malloc(total - base + 1));
	memset(pad, 'p', total - base);
	pad[total - base] = '\0';
	json_object_set_new(outer(v), "padding", json_string(pad));
	free(pad);
	s = json_dumps(outer(v), JSON_COMPACT);
	assert_int_equal(strlen(s), total);
	free(s);
	got = vector_verify(v, NULL);
	json_decref(v);
	return got;
}

static void
env_size_boundary(void **state)
{
	(void)state;
	assert_verdict(verify_padded_to("browser/es256_auth.json", RP_MAX_RESPONSE_LEN), RP_OK);
	assert_verdict(verify_padded_to("browser/es256_auth.json", RP_MAX_RESPONSE_LEN + 1),
	    RP_ERR_RESPONSE_TOO_LARGE);
}

/* Straight through rp_response_from_json(): the JSON text itself. */
static int
parse_response_text(const char *text)
{
	rp_response_t *r = NULL;
	int err = rp_response_from_json(text, strlen(text), &r);

	rp_response_free(&r);
	return err;
}

static void
env_not_object(void **state)
{
	(void)state;
	assert_verdict(parse_response_text("[{\"type\":\"public-key\"}]"),
	    RP_ERR_JSON_MALFORMED);
	assert_verdict(parse_response_text("{\"type\":\"public-key\""),
	    RP_ERR_JSON_MALFORMED);
}

static void
env_duplicate_member(void **state)
{
	json_t *v = load("browser/es256_reg.json");
	char *s = json_dumps(outer(v), JSON_COMPACT), *t;
	int got;

	(void)state;
	assert_non_null(s);
	assert_int_equal(s[0], '{');
	assert_true(asprintf(&t, "{\"type\":\"public-key\",%s", s + 1) > 0);
	got = parse_response_text(t);
	free(t);
	free(s);
	json_decref(v);
	assert_verdict(got, RP_ERR_JSON_MALFORMED);
}

/* ================================================================== */
/* The credential in an assertion: §7.2 step 5 (allowCredentials),   */
/* 6 (userHandle), 18 (BE as recorded), 22 (signCount)               */
/* ================================================================== */

/* §7.2 step 5: rawId is not the credential this ceremony allows. */
static void
cred_not_allowed(void **state)
{
	json_t *v = load("browser/es256_auth.json");
	json_t *other = load("browser/rs256_auth.json");

	(void)state;
	json_object_set(outer(v), "id", json_object_get(outer(other), "id"));
	json_object_set(outer(v), "rawId", json_object_get(outer(other), "rawId"));
	json_decref(other);
	check(v, RP_ERR_CREDENTIAL_NOT_ALLOWED);
}

static uint8_t *
stored_user_handle(json_t *v, size_t *len)
{
	return b64_decode(json_object_get(json_object_get(v, "credential"),
	    "user_handle_b64url"), len);
}

/* §7.2 step 6: the userHandle names another user. */
static void
cred_user_handle_mismatch(void **state)
{
	json_t *v = load("browser/es256_auth.json");
	size_t len;
	uint8_t *uh = stored_user_handle(v, &len);
	int ok, got;

	(void)state;
	ok = vector_verify_ex(v, NULL, NULL, uh, len, -1);	/* control */
	json_object_set_new(inner(v), "userHandle", json_string("b3RoZXItdXNlcg"));
	got = vector_verify_ex(v, NULL, NULL, uh, len, -1);
	free(uh);
	json_decref(v);
	assert_verdict(ok, RP_OK);
	assert_verdict(got, RP_ERR_USER_HANDLE_MISMATCH);
}

/* The same user handle but one byte longer. */
static void
cred_user_handle_longer(void **state)
{
	json_t *v = load("browser/eddsa_auth.json");
	size_t len;
	uint8_t *uh = stored_user_handle(v, &len), *uh2;
	int got;

	(void)state;
	assert_non_null(uh2 = malloc(len + 1));
	memcpy(uh2, uh, len);
	uh2[len] = 0;
	set_field(v, "userHandle", uh2, len + 1);
	got = vector_verify_ex(v, NULL, NULL, uh, len, -1);
	free(uh2);
	free(uh);
	json_decref(v);
	assert_verdict(got, RP_ERR_USER_HANDLE_MISMATCH);
}

/* §7.2 step 22: the new count (2) is below the stored one. */
static void
cred_sign_count_went_back(void **state)
{
	json_t *v = load("browser/es256_auth.json");

	(void)state;
	set_stored_count(v, 5);
	check(v, RP_ERR_SIGN_COUNT_REGRESSED);
}

/* Equal, non-zero counts did not grow either. */
static void
cred_sign_count_equal(void **state)
{
	json_t *v = load("browser/rs256_auth2.json");
	size_t len;
	uint8_t *ad = field(v, "authenticatorData", &len);
	uint32_t now = (uint32_t)ad[33] << 24 | (uint32_t)ad[34] << 16 |
	    (uint32_t)ad[35] << 8 | ad[36];

	(void)state;
	free(ad);
	assert_true(now != 0);
	set_stored_count(v, now);
	check(v, RP_ERR_SIGN_COUNT_REGRESSED);
}

/* A counter that dropped to zero after being used. */
static void
cred_sign_count_zero_after_use(void **state)
{
	json_t *v = load("w3c/02_w3c_packed_ed25519_auth.json");

	(void)state;
	set_stored_count(v, 7);
	check(v, RP_ERR_SIGN_COUNT_REGRESSED);
}

/* §7.2 step 18: BE is fixed at registration. */
static void
cred_backup_eligibility_gained(void **state)
{
	json_t *v = load("browser/es256_auth.json");
	int got = vector_verify_ex(v, NULL, NULL, NULL, 0, 1);

	(void)state;
	json_decref(v);
	assert_verdict(got, RP_ERR_BACKUP_ELIGIBILITY_CHANGED);
}

static void
cred_backup_eligibility_lost(void **state)
{
	json_t *v = load("w3c/01_w3c_none_es256_auth.json");
	int ok = vector_verify_ex(v, NULL, NULL, NULL, 0, 1);	/* control */
	int got = vector_verify_ex(v, NULL, NULL, NULL, 0, 0);

	(void)state;
	json_decref(v);
	assert_verdict(ok, RP_OK);
	assert_verdict(got, RP_ERR_BACKUP_ELIGIBILITY_CHANGED);
}

/* With the policy letting regressions pass, the result says so. */
static void
cred_sign_count_regression_reported(void **state)
{
	json_t *v = load("browser/es256_auth.json");
	json_t *c = json_object_get(v, "credential");
	rp_policy_t *p = vector_policy(v);
	struct rp_assertion_result res;
	struct rp_known_credential k = { 0 };
	rp_response_t *resp = NULL;
	rp_pubkey_t *pk = NULL;
	size_t idlen, coselen, chlen;
	uint8_t *id = b64_decode(json_object_get(c, "id_b64url"), &idlen);
	uint8_t *cose = b64_decode(json_object_get(c, "public_key_cose_b64url"), &coselen);
	uint8_t *chal = b64_decode(json_object_get(v, "challenge_b64url"), &chlen);
	char *json = json_dumps(outer(v), JSON_COMPACT);
	int err_pk, err_resp, got = -1;

	(void)state;
	assert_non_null(json);
	rp_policy_set_reject_sign_count_regression(p, false);
	memset(&res, 0xaa, sizeof(res));
	err_pk = rp_pubkey_from_cose(cose, coselen, &pk);
	err_resp = rp_response_from_json(json, strlen(json), &resp);
	if (err_pk == RP_OK && err_resp == RP_OK) {
		k.id = id;
		k.id_len = idlen;
		k.pubkey = pk;
		k.sign_count = 9;	/* the authenticator says 2 */
		k.backup_eligible = 0;
		got = rp_verify_assertion(p, chal, chlen, resp, &k, &res);
	}
	rp_response_free(&resp);
	rp_pubkey_free(&pk);
	rp_policy_free(&p);
	free(json);
	free(chal);
	free(cose);
	free(id);
	json_decref(v);
	assert_verdict(err_pk, RP_OK);
	assert_verdict(err_resp, RP_OK);
	assert_verdict(got, RP_OK);
	assert_true(res.sign_count_regressed);
	assert_int_equal(res.sign_count, 2);
	assert_int_equal(res.flags, RP_FLAG_UP | RP_FLAG_UV);
}

/* ================================================================== */

#define CASE(f)		cmocka_unit_test(f)
#define CASE_P(f, p)	{ #f "(" #p ")", f, NULL, NULL, (void *)&(p) }

int
main(void)
{
	const struct CMUnitTest tests[] = {
		/* controls */
		CASE(control_reencoded_registration),
		CASE(control_resigned_assertions),
		CASE(control_handmade_none_object),
		CASE(cose_control_rebuilt_key),
		CASE(att_packed_self_control),
		/* clientDataJSON */
		CASE(cd_reg_challenge_one_char),
		CASE(cd_reg_challenge_longer),
		CASE(cd_reg_challenge_padded),
		CASE(cd_auth_challenge_one_char),
		CASE(cd_auth_challenge_shorter),
		CASE(cd_challenge_1k_accepted),
		CASE(cd_challenge_over_max_refused),
		CASE(cd_auth_challenge_replayed),
		CASE(cd_reg_origin_other_port),
		CASE(cd_reg_origin_unlisted),
		CASE(cd_reg_origin_https_for_http),
		CASE(cd_reg_origin_http_for_https),
		CASE(cd_reg_origin_trailing_slash),
		CASE(cd_reg_origin_subdomain),
		CASE(cd_auth_origin_unlisted),
		CASE(cd_reg_type_get),
		CASE(cd_auth_type_create),
		CASE(cd_reg_type_missing),
		CASE(cd_auth_type_not_string),
		CASE(cd_reg_cross_origin_true),
		CASE(cd_auth_cross_origin_true),
		CASE(cd_reg_cross_origin_not_boolean),
		CASE(cd_auth_top_origin_present),
		CASE(cd_reg_not_json),
		CASE(cd_reg_not_object),
		CASE(cd_reg_empty),
		CASE(cd_reg_duplicate_challenge),
		CASE(cd_reg_missing_challenge),
		CASE(cd_auth_challenge_not_string),
		CASE(cd_auth_missing_origin),
		CASE(cd_auth_extra_member_not_resigned),
		/* authenticator data */
		CASE(ad_reg_rp_id_hash_bit),
		CASE(ad_auth_rp_id_hash_bit),
		CASE(ad_auth_policy_other_rp_id),
		CASE(ad_reg_up_cleared),
		CASE(ad_auth_up_cleared),
		CASE(ad_reg_uv_cleared),
		CASE(ad_auth_uv_cleared),
		CASE(ad_auth_uv_required_by_policy),
		CASE(ad_reg_bs_without_be),
		CASE(ad_auth_bs_without_be),
		CASE(ad_reg_at_cleared),
		CASE(ad_reg_at_cleared_no_data),
		CASE(ad_auth_at_set),
		CASE(ad_auth_at_set_no_data),
		CASE(ad_reg_ed_without_extensions),
		CASE(ad_auth_ed_without_extensions),
		CASE(ad_auth_extensions_not_map),
		CASE(ad_reg_trailing_byte),
		CASE(ad_auth_trailing_byte),
		CASE(ad_reg_truncated_36),
		CASE(ad_auth_truncated_36),
		CASE(ad_reg_truncated_in_cred_id),
		CASE(ad_reg_truncated_in_aaguid),
		CASE(ad_reg_cred_id_1024),
		CASE(ad_reg_cred_id_empty),
		CASE(ad_reg_cred_id_not_raw_id),
		CASE(ad_reg_every_truncation),
		CASE(ad_auth_every_bit_flip),
		/* assertion signature */
		CASE(sig_es256_bit),
		CASE(sig_eddsa_bit),
		CASE(sig_rs256_bit),
		CASE(sig_w3c_es256_bit),
		CASE(sig_empty),
		CASE(sig_missing),
		CASE(sig_es256_der_trailing_byte),
		CASE(sig_over_other_data),
		CASE(sig_auth_count_changed_not_resigned),
		CASE(sig_es256_other_key),
		/* COSE keys and algorithms */
		CASE(cose_alg_not_allowed),
		CASE(cose_alg_es384_unsupported),
		CASE(cose_alg_es512_unsupported),
		CASE(cose_ec2_key_eddsa_alg),
		CASE(cose_okp_key_es256_alg),
		CASE(cose_p256_crv_2),
		CASE(cose_okp_crv_ed448),
		CASE(cose_x_31_bytes),
		CASE(cose_point_not_on_curve),
		CASE(cose_alg_missing),
		CASE(cose_not_a_map),
		CASE(cose_duplicate_key),
		CASE(cose_indefinite_map),
		CASE(cose_truncated_in_authdata),
		CASE(cose_rsa_short_modulus),
		CASE(cose_rsa_control),
		CASE(cose_rsa_weak),
		CASE(cose_ed25519_small_order),
		CASE(cose_private_part),
		CASE(cose_stored_key_trailing_byte),
		/* attestationObject */
		CASE(ao_not_cbor),
		CASE(ao_truncated),
		CASE(ao_empty),
		CASE(ao_indefinite_map),
		CASE(ao_duplicate_fmt),
		CASE(ao_trailing_bytes),
		CASE(ao_missing_authdata),
		CASE(ao_missing_fmt),
		CASE(ao_authdata_text),
		CASE(ao_not_a_map),
		CASE(ao_fmt_unknown),
		CASE(ao_fmt_32_octets),
		CASE(ao_fmt_33_octets),
		CASE(ao_fmt_embedded_nul),
		CASE(ao_fmt_bytes),
		CASE(ao_none_nonempty_stmt),
		CASE(ao_nesting_17),
		CASE(ao_field_missing),
		/* attestation statements */
		CASE(att_packed_browser_sig_bit),
		CASE(att_packed_chain_sig_bit),
		CASE(att_packed_alg_changed),
		CASE(att_packed_x5c_garbage),
		CASE(att_packed_alg_rs1),
		CASE(att_packed_leaf_p384),
		CASE(att_packed_leaf_rsa1024),
		CASE(att_packed_leaf_p256_control),
		CASE(att_packed_x5c_trailing_byte),
		CASE(att_packed_x5c_too_many),
		CASE(att_packed_untrusted_root),
		CASE(att_packed_ecdaa),
		CASE(att_packed_sig_missing),
		CASE(att_cert_expired),
		CASE(att_cert_not_yet_valid),
		CASE(att_packed_self_sig_bit),
		CASE(att_packed_self_alg_mismatch),
		CASE(att_fido_u2f_sig_bit),
		CASE(att_fido_u2f_x5c_missing),
		CASE(att_fido_u2f_two_certs),
		CASE(att_tpm_magic),
		CASE(att_tpm_certinfo_clock),
		CASE(att_tpm_ver),
		CASE(att_android_key_wrong_alg),
		CASE(att_android_key_sig_bit),
		CASE(att_apple_x5c_missing),
		CASE(att_none_not_accepted),
		/* envelope */
		CASE_P(env_bad_b64, b64_id),
		CASE_P(env_bad_b64, b64_raw_id),
		CASE_P(env_bad_b64, b64_cdj),
		CASE_P(env_bad_b64, b64_ao),
		CASE_P(env_bad_b64, b64_ad),
		CASE_P(env_bad_b64, b64_sig),
		CASE_P(env_bad_b64, b64_uh),
		CASE(env_id_not_raw_id),
		CASE(env_type_foo),
		CASE(env_type_missing),
		CASE(env_response_missing),
		CASE(env_raw_id_missing),
		CASE(env_client_data_missing),
		CASE(env_authenticator_data_missing),
		CASE(env_too_large),
		CASE(env_size_boundary),
		CASE(env_not_object),
		CASE(env_duplicate_member),
		/* the credential in an assertion */
		CASE(cred_not_allowed),
		CASE(cred_user_handle_mismatch),
		CASE(cred_user_handle_longer),
		CASE(cred_sign_count_went_back),
		CASE(cred_sign_count_equal),
		CASE(cred_sign_count_zero_after_use),
		CASE(cred_backup_eligibility_gained),
		CASE(cred_backup_eligibility_lost),
		CASE(cred_sign_count_regression_reported),
	};

	/* e.g. CMOCKA_TEST_FILTER='att_*' to run one group alone */
	if (getenv("CMOCKA_TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("CMOCKA_TEST_FILTER"));
	if (getenv("CMOCKA_SKIP_FILTER") != NULL)
		cmocka_set_skip_filter(getenv("CMOCKA_SKIP_FILTER"));
	return cmocka_run_group_tests_name("negative", tests, NULL, NULL);
}
