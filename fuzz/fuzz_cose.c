/*
 * COSE_Key: rp_pubkey_from_cose on the raw input.  A key that loads is
 * then used once, to check a (wrong) signature, so the EVP_PKEY the core
 * built from attacker-chosen parameters is exercised too.
 */
#include "fuzz_common.h"
#include "rp_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t msg[] = "fuzz";
	uint8_t sig[256];
	rp_pubkey_t *k = NULL;
	int alg, err;

	err = rp_pubkey_from_cose(data, size, &k);
	fuzz_known_err(err);
	if ((err == RP_OK) != (k != NULL))
		abort();
	if (k == NULL)
		return 0;
	alg = rp_pubkey_alg(k);
	if ((alg != RP_COSE_ES256 && alg != RP_COSE_EDDSA && alg != RP_COSE_RS256) ||
	    k->pkey == NULL)
		abort();
	/* Signature bytes: the start of the input, zero-padded. */
	memset(sig, 0, sizeof(sig));
	memcpy(sig, data, size < sizeof(sig) ? size : sizeof(sig));
	err = rp_sig_verify(k->pkey, alg, msg, sizeof(msg) - 1, msg,
	    sizeof(msg) - 1, sig, alg == RP_COSE_RS256 ? 256 : 64);
	fuzz_known_err(err);
	if (err == RP_OK)
		abort();	/* a forged signature verified */
	rp_pubkey_free(&k);
	return 0;
}
