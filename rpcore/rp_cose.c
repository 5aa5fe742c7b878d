/*
 * COSE_Key (RFC 9052 §7, RFC 9053) to a verifying key.
 *
 * The CBOR is read under our strict profile; the key objects come from
 * libfido2's es256/eddsa/rs256 constructors, so a credential key means the
 * same thing here as in the rest of the FIDO stack (libfido2 checks that
 * P-256 points lie on the curve; its RS256 keys are 2048-bit).
 */
#include <stdlib.h>
#include <string.h>

#include <fido.h>
#include <fido/es256.h>
#include <fido/eddsa.h>
#include <fido/rs256.h>
#include <openssl/err.h>

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

static int
es256_key(const cbor_item_t *map, EVP_PKEY **pkey)
{
	const uint8_t *x, *y;
	uint8_t xy[64];
	es256_pk_t *pk;
	int err;

	if ((err = expect_kty_crv(map, COSE_KTY_EC2, COSE_CRV_P256)) != RP_OK ||
	    (err = get_coord(map, COSE_X, 32, &x)) != RP_OK ||
	    (err = get_coord(map, COSE_Y, 32, &y)) != RP_OK)
		return err;
	memcpy(xy, x, 32);
	memcpy(xy + 32, y, 32);
	if ((pk = es256_pk_new()) == NULL)
		return RP_ERR_NO_MEMORY;
	err = RP_ERR_KEY_INVALID;
	if (es256_pk_from_ptr(pk, xy, sizeof(xy)) == FIDO_OK &&
	    (*pkey = es256_pk_to_EVP_PKEY(pk)) != NULL)
		err = RP_OK;
	es256_pk_free(&pk);
	return err;
}

static int
eddsa_key(const cbor_item_t *map, EVP_PKEY **pkey)
{
	const uint8_t *x;
	eddsa_pk_t *pk;
	int err;

	if ((err = expect_kty_crv(map, COSE_KTY_OKP, COSE_CRV_ED25519)) != RP_OK ||
	    (err = get_coord(map, COSE_X, 32, &x)) != RP_OK)
		return err;
	if ((pk = eddsa_pk_new()) == NULL)
		return RP_ERR_NO_MEMORY;
	err = RP_ERR_KEY_INVALID;
	if (eddsa_pk_from_ptr(pk, x, 32) == FIDO_OK &&
	    (*pkey = eddsa_pk_to_EVP_PKEY(pk)) != NULL)
		err = RP_OK;
	eddsa_pk_free(&pk);
	return err;
}

/* libfido2 takes n || e with a 256-byte n and a 3-byte e (65537 and kin). */
static int
rs256_key(const cbor_item_t *map, EVP_PKEY **pkey)
{
	const uint8_t *n, *e;
	size_t nlen, elen;
	uint8_t ne[259];
	rs256_pk_t *pk;
	int err;

	if ((err = expect_kty_crv(map, COSE_KTY_RSA, 0)) != RP_OK)
		return err;
	if (!rp_cbor_get_bytes(rp_cbor_map_get_int(map, -1), &n, &nlen) ||
	    !rp_cbor_get_bytes(rp_cbor_map_get_int(map, -2), &e, &elen))
		return RP_ERR_COSE_KEY_MALFORMED;
	if (nlen != 256 || elen != 3 || (n[0] & 0x80) == 0 || (e[2] & 1) == 0)
		return RP_ERR_KEY_INVALID;
	memcpy(ne, n, 256);
	memcpy(ne + 256, e, 3);
	if ((pk = rs256_pk_new()) == NULL)
		return RP_ERR_NO_MEMORY;
	err = RP_ERR_KEY_INVALID;
	if (rs256_pk_from_ptr(pk, ne, sizeof(ne)) == FIDO_OK &&
	    (*pkey = rs256_pk_to_EVP_PKEY(pk)) != NULL)
		err = RP_OK;
	rs256_pk_free(&pk);
	return err;
}

static int
key_from_map(const cbor_item_t *map, rp_pubkey_t *k)
{
	int64_t alg;

	if (!cbor_isa_map(map) ||
	    !rp_cbor_get_int(rp_cbor_map_get_int(map, COSE_ALG), &alg))
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
