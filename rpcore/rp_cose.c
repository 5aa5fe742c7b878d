/*
 * COSE_Key (RFC 9052 §7, RFC 9053) to a verifying key.
 *
 * The CBOR is read under our strict profile.  Keys are built as OpenSSL
 * provider-native keys with EVP_PKEY_fromdata, not through libfido2's
 * es256/rs256 constructors: those make legacy EC_KEY/RSA objects, and
 * OpenSSL 3 pays for a legacy key at every EVP_DigestVerifyInit (3x the
 * instructions of a native key under callgrind; see bench/).  A key is
 * parsed once and verifies many times, so the parse may cost, the
 * verification may not.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>

#include "rp_cbor.h"
#include "rp_internal.h"

#define COSE_KTY	1
#define COSE_ALG	3
#define COSE_CRV	(-1)
#define COSE_X		(-2)	/* RSA: n is -1, e is -2 */
#define COSE_Y		(-3)
#define COSE_KTY_OKP	1
#define COSE_KTY_EC2	2
#define COSE_KTY_RSA	3
#define COSE_CRV_P256	1
#define COSE_CRV_ED25519 6
#define COSE_EC_D	(-4)	/* EC2 and OKP: the private key */
#define COSE_RSA_D	(-3)	/* RSA: d, then p, q, dP, dQ, qInv, other, r_i, d_i, t_i */
#define COSE_RSA_T_I	(-12)

static int
get_coord(const cbor_item_t *map, int64_t label, size_t want, const uint8_t **p)
{
	size_t len;

	if (!rp_cbor_get_bytes(rp_cbor_map_get_int(map, label), p, &len) ||
	    len != want)
		return RP_ERR_COSE_KEY_MALFORMED;
	return RP_OK;
}

static int
expect_kty_crv(const cbor_item_t *map, int64_t kty, int64_t crv)
{
	int64_t v;

	if (!rp_cbor_get_int(rp_cbor_map_get_int(map, COSE_KTY), &v))
		return RP_ERR_COSE_KEY_MALFORMED;
	if (v != kty)
		return RP_ERR_KEY_TYPE_MISMATCH;
	if (crv == 0)
		return RP_OK;
	if (!rp_cbor_get_int(rp_cbor_map_get_int(map, COSE_CRV), &v))
		return RP_ERR_COSE_KEY_MALFORMED;
	return v == crv ? RP_OK : RP_ERR_KEY_TYPE_MISMATCH;
}

/* Builds a provider-native key from OSSL_PARAMs; OpenSSL validates them. */
static int
key_fromdata(const char *type, OSSL_PARAM_BLD *bld, EVP_PKEY **pkey)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	int err = RP_ERR_KEY_INVALID;

	if (params == NULL || ctx == NULL)
		err = RP_ERR_NO_MEMORY;
	else if (EVP_PKEY_fromdata_init(ctx) == 1 &&
	    EVP_PKEY_fromdata(ctx, pkey, EVP_PKEY_PUBLIC_KEY, params) == 1)
		err = RP_OK;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return err;
}

/* P-256: OpenSSL refuses a point that is not on the curve. */
static int
es256_key(const cbor_item_t *map, EVP_PKEY **pkey)
{
	const uint8_t *x, *y;
	uint8_t point[65];
	OSSL_PARAM_BLD *bld;
	int err;

	if ((err = expect_kty_crv(map, COSE_KTY_EC2, COSE_CRV_P256)) != RP_OK ||
	    (err = get_coord(map, COSE_X, 32, &x)) != RP_OK ||
	    (err = get_coord(map, COSE_Y, 32, &y)) != RP_OK)
		return err;
	point[0] = 0x04;
	memcpy(point + 1, x, 32);
	memcpy(point + 33, y, 32);
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)) != 1)
		err = RP_ERR_NO_MEMORY;
	else
		err = key_fromdata("EC", bld, pkey);
	OSSL_PARAM_BLD_free(bld);
	return err;
}

/*
 * y of the eight Ed25519 points whose order divides 8, little-endian,
 * the sign bit of x left out: 0 and p - 1 (orders 4 and 2), 1 (the
 * identity), and the order-8 pair y8 and p - y8.  RFC 8032 and OpenSSL
 * 3.0 accept such a key, and with it R = identity, S = 0 verifies any
 * message: a passkey anyone could use.
 */
static const uint8_t ed25519_small_order_y[][32] = {
	{ 0 },
	{ 1 },
	{ 0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f },
	{ 0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76,
	  0x0d, 0x10, 0x67, 0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6,
	  0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a },
	{ 0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89,
	  0xf2, 0xef, 0x98, 0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39,
	  0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05 },
};

/* y < p = 2^255 - 19: the one encoding of each y (RFC 8032 §5.1.3). */
static int
ed25519_y_canonical(const uint8_t y[32])
{
	if ((y[31] & 0x7f) != 0x7f || y[0] < 0xed)
		return 1;
	for (int i = 1; i < 31; i++)
		if (y[i] != 0xff)
			return 1;
	return 0;
}

static int
ed25519_key_acceptable(const uint8_t x[32])
{
	uint8_t y[32];
	int small = 0;

	memcpy(y, x, 32);
	y[31] &= 0x7f;
	for (size_t i = 0; i < sizeof(ed25519_small_order_y) / 32; i++)
		small |= memcmp(y, ed25519_small_order_y[i], 32) == 0;
	return ed25519_y_canonical(y) && !small;
}

static int
eddsa_key(const cbor_item_t *map, EVP_PKEY **pkey)
{
	const uint8_t *x;
	int err;

	if ((err = expect_kty_crv(map, COSE_KTY_OKP, COSE_CRV_ED25519)) != RP_OK ||
	    (err = get_coord(map, COSE_X, 32, &x)) != RP_OK)
		return err;
	if (!ed25519_key_acceptable(x))
		return RP_ERR_KEY_INVALID;
	*pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, 32);
	return *pkey != NULL ? RP_OK : RP_ERR_KEY_INVALID;
}

/*
 * An odd modulus of 2048 to 4096 bits (rp_sig.c's rp_key_fits_alg verifies
 * with no fewer: a 2044-bit key would register and never log in); a
 * public exponent that is odd and at least 65537 (FIPS 186-5 §A.1.1).
 */
static int
rsa_modulus_acceptable(const uint8_t *n, size_t nlen)
{
	/* bytes and top byte: 256 bytes from 0x80 up is 2048 bits */
	if (nlen < 256 || nlen > 512 || n[0] == 0 || (nlen == 256 && n[0] < 0x80))
		return 0;
	return n[nlen - 1] & 1;
}

static int
rsa_exponent_acceptable(const uint8_t *e, size_t elen)
{
	uint32_t v = 0;

	if (elen == 0 || elen > 4 || e[0] == 0)
		return 0;
	for (size_t i = 0; i < elen; i++)
		v = v << 8 | e[i];
	return (v & 1) && v >= 65537;
}

static int
rs256_key(const cbor_item_t *map, EVP_PKEY **pkey)
{
	const uint8_t *n, *e;
	size_t nlen, elen;
	BIGNUM *bn_n = NULL, *bn_e = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	int err;

	if ((err = expect_kty_crv(map, COSE_KTY_RSA, 0)) != RP_OK)
		return err;
	if (!rp_cbor_get_bytes(rp_cbor_map_get_int(map, -1), &n, &nlen) ||
	    !rp_cbor_get_bytes(rp_cbor_map_get_int(map, -2), &e, &elen))
		return RP_ERR_COSE_KEY_MALFORMED;
	if (!rsa_modulus_acceptable(n, nlen) || !rsa_exponent_acceptable(e, elen))
		return RP_ERR_KEY_INVALID;
	err = RP_ERR_NO_MEMORY;
	if ((bn_n = BN_bin2bn(n, (int)nlen, NULL)) != NULL &&
	    (bn_e = BN_bin2bn(e, (int)elen, NULL)) != NULL &&
	    (bld = OSSL_PARAM_BLD_new()) != NULL &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) == 1 &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) == 1)
		err = key_fromdata("RSA", bld, pkey);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn_n);
	BN_free(bn_e);
	return err;
}

/*
 * A credential's public key with its private part (RFC 9053 §7.1.1, §7.2;
 * RFC 8230 §4): refused, since the bytes are stored, listed and exported
 * as they came, and no store should ever hold a private key.
 */
static int
has_private_part(const cbor_item_t *map)
{
	int64_t kty;

	if (!rp_cbor_get_int(rp_cbor_map_get_int(map, COSE_KTY), &kty))
		return 0;	/* the key's own parse says what is wrong */
	if (kty == COSE_KTY_EC2 || kty == COSE_KTY_OKP)
		return rp_cbor_map_get_int(map, COSE_EC_D) != NULL;
	if (kty == COSE_KTY_RSA)
		for (int64_t label = COSE_RSA_D; label >= COSE_RSA_T_I; label--)
			if (rp_cbor_map_get_int(map, label) != NULL)
				return 1;
	return 0;
}

static int
key_from_map(const cbor_item_t *map, rp_pubkey_t *k)
{
	int64_t alg;

	if (!cbor_isa_map(map) ||
	    !rp_cbor_get_int(rp_cbor_map_get_int(map, COSE_ALG), &alg) ||
	    has_private_part(map))
		return RP_ERR_COSE_KEY_MALFORMED;
	switch (alg) {
	case RP_COSE_ES256:
		k->alg = RP_COSE_ES256;
		return es256_key(map, &k->pkey);
	case RP_COSE_EDDSA:
		k->alg = RP_COSE_EDDSA;
		return eddsa_key(map, &k->pkey);
	case RP_COSE_RS256:
		k->alg = RP_COSE_RS256;
		return rs256_key(map, &k->pkey);
	default:
		return RP_ERR_ALG_UNSUPPORTED;
	}
}

int
rp_pubkey_from_cose(const uint8_t *cose, size_t len, rp_pubkey_t **out)
{
	cbor_item_t *item = NULL;
	rp_pubkey_t *k;
	int err;

	if (out == NULL || cose == NULL)
		return RP_ERR_INVALID_ARGUMENT;
	*out = NULL;
	if ((err = rp_cbor_load(cose, len, &item)) != RP_OK)
		return err;
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		cbor_decref(&item);
		return RP_ERR_NO_MEMORY;
	}
	err = key_from_map(item, k);
	cbor_decref(&item);
	ERR_clear_error();
	if (err != RP_OK) {
		rp_pubkey_free(&k);
		return err;
	}
	*out = k;
	return RP_OK;
}

void
rp_pubkey_free(rp_pubkey_t **kp)
{
	if (kp == NULL || *kp == NULL)
		return;
	EVP_PKEY_free((*kp)->pkey);
	free(*kp);
	*kp = NULL;
}

int
rp_pubkey_alg(const rp_pubkey_t *k)
{
	return k->alg;
}

int
rp_pubkey_raw(const rp_pubkey_t *k, uint8_t *out, size_t *len)
{
	size_t need;
	int ok;

	if (k == NULL || out == NULL || len == NULL)
		return RP_ERR_INVALID_ARGUMENT;
	switch (k->alg) {
	case RP_COSE_ES256:
		ok = EVP_PKEY_get_octet_string_param(k->pkey,
		    OSSL_PKEY_PARAM_PUB_KEY, out, *len, &need) == 1 && need == 65 &&
		    out[0] == 0x04;
		break;
	case RP_COSE_EDDSA:
		need = *len;
		ok = EVP_PKEY_get_raw_public_key(k->pkey, out, &need) == 1 &&
		    need == 32;
		break;
	default:
		return RP_ERR_ALG_UNSUPPORTED;
	}
	ERR_clear_error();
	if (!ok)
		return RP_ERR_INTERNAL;
	*len = need;
	return RP_OK;
}
