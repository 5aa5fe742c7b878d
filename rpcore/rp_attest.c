/*
 * Attestation statement dispatch (WebAuthn L3 §7.1 steps 19-22) and the
 * "none" format.  Each other format lives in a file of its own.
 */
#include <string.h>

#include "rp_cbor.h"
#include "rp_internal.h"

static const struct {
	const char *fmt;
	int (*verify)(const struct rp_attest_ctx *, int *);
} formats[] = {
	{ "none", rp_attest_none },
	{ "packed", rp_attest_packed },
	{ "fido-u2f", rp_attest_fido_u2f },
	{ "tpm", rp_attest_tpm },
	{ "android-key", rp_attest_android_key },
	{ "apple", rp_attest_apple },
};

int
rp_attest_verify(const struct rp_attest_ctx *ctx, int *attestation)
{
	int err;

	if (!cbor_isa_map(ctx->att_stmt))
		return RP_ERR_ATTESTATION_STATEMENT_MALFORMED;
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		if (strcmp(ctx->fmt, formats[i].fmt) != 0)
			continue;
		if ((err = formats[i].verify(ctx, attestation)) != RP_OK)
			return err;
		if (!(ctx->policy->accepted_attestation & *attestation))
			return RP_ERR_ATTESTATION_NOT_ACCEPTED;
		return RP_OK;
	}
	return RP_ERR_ATTESTATION_FORMAT_UNSUPPORTED;
}

/* §8.7: the statement must be an empty map. */
int
rp_attest_none(const struct rp_attest_ctx *ctx, int *attestation)
{
	if (cbor_map_size(ctx->att_stmt) != 0)
		return RP_ERR_ATTESTATION_STATEMENT_MALFORMED;
	*attestation = RP_ATTESTATION_NONE;
	return RP_OK;
}
