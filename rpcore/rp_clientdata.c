/*
 * clientDataJSON checks, WebAuthn L3 §7.1 steps 7-10 and §7.2 steps 10-13.
 * Unknown members are ignored, as the spec requires; repeated members are
 * refused, because the spec's limited verification and a full JSON parser
 * could otherwise read different values.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "rp_b64url.h"
#include "rp_internal.h"

static int
check_challenge(json_t *cd, const uint8_t *challenge, size_t challenge_len)
{
	json_t *v = json_object_get(cd, "challenge");
	/* base64url of the longest challenge: 4 characters per 3 bytes, and a NUL */
	char expect[(RP_MAX_CHALLENGE_LEN + 2) / 3 * 4 + 1];

	if (!json_is_string(v))
		return RP_ERR_CLIENT_DATA_MALFORMED;
	rp_b64url_encode(challenge, challenge_len, expect);
	if (json_string_length(v) != strlen(expect) ||
	    CRYPTO_memcmp(json_string_value(v), expect, strlen(expect)) != 0)
		return RP_ERR_CHALLENGE_MISMATCH;
	return RP_OK;
}

static int
check_origin(const rp_policy_t *p, json_t *cd)
{
	json_t *v = json_object_get(cd, "origin");

	if (!json_is_string(v))
		return RP_ERR_CLIENT_DATA_MALFORMED;
	for (size_t i = 0; i < p->norigins; i++)
		if (json_string_length(v) == strlen(p->origins[i]) &&
		    strcmp(json_string_value(v), p->origins[i]) == 0)
			return RP_OK;
	return RP_ERR_ORIGIN_NOT_ALLOWED;
}

/* Our pages are never framed, so any cross-origin ceremony is refused. */
static int
check_not_framed(json_t *cd)
{
	json_t *v = json_object_get(cd, "crossOrigin");

	if (v != NULL && !json_is_boolean(v))
		return RP_ERR_CLIENT_DATA_MALFORMED;
	if (json_is_true(v) || json_object_get(cd, "topOrigin") != NULL)
		return RP_ERR_CROSS_ORIGIN_NOT_ALLOWED;
	return RP_OK;
}

int
rp_clientdata_verify(const rp_policy_t *p, const uint8_t *cdj, size_t len,
    const char *type, const uint8_t *challenge, size_t challenge_len)
{
	json_t *cd, *t;
	json_error_t jerr;
	int err;

	if (challenge_len < RP_MIN_CHALLENGE_LEN || challenge_len > RP_MAX_CHALLENGE_LEN)
		return RP_ERR_INVALID_ARGUMENT;
	if (cdj == NULL || len == 0 ||
	    (cd = json_loadb((const char *)cdj, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL)
		return RP_ERR_CLIENT_DATA_MALFORMED;
	if (!json_is_object(cd)) {
		err = RP_ERR_CLIENT_DATA_MALFORMED;
	} else if (!json_is_string(t = json_object_get(cd, "type"))) {
		err = RP_ERR_CLIENT_DATA_MALFORMED;
	} else if (strcmp(json_string_value(t), type) != 0 ||
	    json_string_length(t) != strlen(type)) {
		err = RP_ERR_CLIENT_DATA_TYPE_MISMATCH;
	} else if ((err = check_challenge(cd, challenge, challenge_len)) == RP_OK &&
	    (err = check_origin(p, cd)) == RP_OK) {
		err = check_not_framed(cd);
	}
	json_decref(cd);
	return err;
}
