/*
 * Hands a registration to libfido2's fido_cred_verify() / _verify_self(),
 * which check the packed and fido-u2f attestation signatures.  libfido2
 * re-parses the authenticator data and insists that every extension it
 * finds there was "requested"; we declare what the data itself carries.
 */
#include <stdlib.h>

#include <fido.h>

#include "rp_cbor.h"
#include "rp_fido2.h"
#include "rp_internal.h"

static int
declare_extension(fido_cred_t *c, const struct cbor_pair *kv)
{
	int64_t v;

	if (rp_cbor_is_text(kv->key, "credProtect") && rp_cbor_get_int(kv->value, &v))
		return fido_cred_set_prot(c, (int)v);
	if (rp_cbor_is_text(kv->key, "minPinLength") && rp_cbor_get_int(kv->value, &v))
		return v >= 0 ? fido_cred_set_pin_minlen(c, (size_t)v) : FIDO_ERR_INVALID_ARGUMENT;
	if (!cbor_isa_float_ctrl(kv->value) || !cbor_get_bool(kv->value))
		return FIDO_OK;
	if (rp_cbor_is_text(kv->key, "hmac-secret"))
		return fido_cred_set_extensions(c, FIDO_EXT_HMAC_SECRET);
	if (rp_cbor_is_text(kv->key, "credBlob"))
		return fido_cred_set_extensions(c, FIDO_EXT_CRED_BLOB);
	return FIDO_OK;
}

static int
declare_extensions(fido_cred_t *c, const struct rp_authdata *ad)
{
	cbor_item_t *map = NULL;
	int r = FIDO_OK;

	if (ad->ext == NULL)
		return FIDO_OK;
	if (rp_cbor_load(ad->ext, ad->ext_len, &map) != RP_OK)
		return FIDO_ERR_INVALID_ARGUMENT;
	for (size_t i = 0; i < cbor_map_size(map) && r == FIDO_OK; i++)
		r = declare_extension(c, &cbor_map_handle(map)[i]);
	cbor_decref(&map);
	return r;
}

int
rp_fido2_verify_cred(const struct rp_attest_ctx *ctx, bool self)
{
	fido_cred_t *c;
	unsigned char *stmt = NULL;
	size_t stmt_len, alloc_len;
	int r, err = RP_ERR_ATTESTATION_STATEMENT_MALFORMED;

	if ((c = fido_cred_new()) == NULL)
		return RP_ERR_NO_MEMORY;
	if ((stmt_len = cbor_serialize_alloc(ctx->att_stmt, &stmt, &alloc_len)) == 0) {
		err = RP_ERR_NO_MEMORY;
		goto out;
	}
	if (fido_cred_set_type(c, ctx->cred_key->alg) != FIDO_OK ||
	    fido_cred_set_authdata_raw(c, ctx->ad->raw, ctx->ad->len) != FIDO_OK ||
	    declare_extensions(c, ctx->ad) != FIDO_OK ||
	    fido_cred_set_clientdata_hash(c, ctx->cdh, RP_SHA256_LEN) != FIDO_OK ||
	    fido_cred_set_rp(c, ctx->policy->rp_id, NULL) != FIDO_OK ||
	    fido_cred_set_fmt(c, ctx->fmt) != FIDO_OK ||
	    fido_cred_set_attstmt(c, stmt, stmt_len) != FIDO_OK)
		goto out;
	r = self ? fido_cred_verify_self(c) : fido_cred_verify(c);
	if (r == FIDO_OK)
		err = RP_OK;
	else if (r == FIDO_ERR_INVALID_SIG)
		err = RP_ERR_ATTESTATION_SIGNATURE_INVALID;
	else if (r == FIDO_ERR_INTERNAL)
		err = RP_ERR_INTERNAL;
	else
		err = RP_ERR_ATTESTATION_STATEMENT_INVALID;
out:
	free(stmt);
	fido_cred_free(&c);
	return err;
}
