/*
 * Authenticator data (WebAuthn L3 §6.1), read through the bounded reader.
 *
 *   rpIdHash(32) flags(1) signCount(4)
 *   [AT] aaguid(16) credIdLen(2) credId(credIdLen) credentialPublicKey(CBOR)
 *   [ED] extensions(CBOR map)
 *
 * Nothing may follow the last field: a parser that tolerated trailing bytes
 * would sign off on data the authenticator never produced.
 */
#include <string.h>

#include <openssl/crypto.h>

#include "rp_buf.h"
#include "rp_cbor.h"
#include "rp_internal.h"

static int
parse_attested(struct rp_buf *b, struct rp_authdata *ad)
{
	uint16_t idlen;
	int err;

	if (!rp_buf_get_bytes(b, RP_AAGUID_LEN, &ad->aaguid) ||
	    !rp_buf_get_u16(b, &idlen))
		return RP_ERR_AUTHDATA_TRUNCATED;
	if (idlen > RP_MAX_CREDENTIAL_ID_LEN)
		return RP_ERR_CREDENTIAL_ID_TOO_LONG;
	if (idlen == 0)
		return RP_ERR_CREDENTIAL_ID_EMPTY;
	if (!rp_buf_get_bytes(b, idlen, &ad->cred_id))
		return RP_ERR_AUTHDATA_TRUNCATED;
	ad->cred_id_len = idlen;
	ad->cose_key = rp_buf_cur(b);
	if ((err = rp_cbor_scan(ad->cose_key, rp_buf_left(b), &ad->cose_key_len)) != RP_OK)
		return err == RP_ERR_CBOR_TRUNCATED ? RP_ERR_AUTHDATA_TRUNCATED : err;
	rp_buf_skip(b, ad->cose_key_len);
	return RP_OK;
}

static int
parse_extensions(struct rp_buf *b, struct rp_authdata *ad)
{
	int err;

	if (rp_buf_left(b) == 0)
		return RP_ERR_EXTENSION_FLAG_MISMATCH;
	if ((*rp_buf_cur(b) >> 5) != 5)		/* major type 5: map */
		return RP_ERR_CBOR_MALFORMED;
	ad->ext = rp_buf_cur(b);
	if ((err = rp_cbor_scan(ad->ext, rp_buf_left(b), &ad->ext_len)) != RP_OK)
		return err == RP_ERR_CBOR_TRUNCATED ? RP_ERR_AUTHDATA_TRUNCATED : err;
	rp_buf_skip(b, ad->ext_len);
	return RP_OK;
}

int
rp_authdata_parse(const uint8_t *p, size_t len, struct rp_authdata *ad)
{
	struct rp_buf b;
	int err;

	memset(ad, 0, sizeof(*ad));
	rp_buf_init(&b, p, len);
	ad->raw = p;
	ad->len = len;
	if (!rp_buf_get_bytes(&b, RP_SHA256_LEN, &ad->rp_id_hash) ||
	    !rp_buf_get_u8(&b, &ad->flags) ||
	    !rp_buf_get_u32(&b, &ad->sign_count))
		return RP_ERR_AUTHDATA_TRUNCATED;
	if ((ad->flags & RP_FLAG_AT) && (err = parse_attested(&b, ad)) != RP_OK)
		return err;
	if ((ad->flags & RP_FLAG_ED) && (err = parse_extensions(&b, ad)) != RP_OK)
		return err;
	if (rp_buf_left(&b) != 0)
		return RP_ERR_AUTHDATA_TRAILING_BYTES;
	return RP_OK;
}

/* §7.1 steps 13-17 and §7.2 steps 15-18, in the spec's order. */
int
rp_authdata_check_flags(const rp_policy_t *p, const struct rp_authdata *ad,
    bool registration)
{
	if (CRYPTO_memcmp(ad->rp_id_hash, p->rp_id_hash, RP_SHA256_LEN) != 0)
		return RP_ERR_RP_ID_HASH_MISMATCH;
	if (!(ad->flags & RP_FLAG_UP))
		return RP_ERR_USER_PRESENCE_MISSING;
	if (p->require_uv && !(ad->flags & RP_FLAG_UV))
		return RP_ERR_USER_VERIFICATION_MISSING;
	if ((ad->flags & RP_FLAG_BS) && !(ad->flags & RP_FLAG_BE))
		return RP_ERR_BACKUP_STATE_INVALID;
	if (registration && !(ad->flags & RP_FLAG_AT))
		return RP_ERR_ATTESTED_DATA_MISSING;
	if (!registration && (ad->flags & RP_FLAG_AT))
		return RP_ERR_ATTESTED_DATA_UNEXPECTED;
	return RP_OK;
}
