/*
 * The browser's PublicKeyCredential in its WebAuthn L3 JSON form
 * (credential.toJSON()), decoded into bytes.  Unknown members are ignored;
 * repeated members are refused, since two readers could pick different ones.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "rp_b64url.h"
#include "rp_internal.h"

/* Decodes obj[name]; absent (or JSON null when nullable) leaves *out NULL. */
static int
get_b64(json_t *obj, const char *name, bool nullable, uint8_t **out, size_t *len)
{
	json_t *v = json_object_get(obj, name);

	if (v == NULL || (nullable && json_is_null(v)))
		return RP_OK;
	if (!json_is_string(v))
		return RP_ERR_FIELD_MISSING;
	return rp_b64url_decode_alloc(json_string_value(v), json_string_length(v), out, len);
}

static int
check_ids(json_t *root, rp_response_t *r)
{
	uint8_t *id = NULL;
	size_t id_len = 0;
	int err;

	if ((err = get_b64(root, "rawId", false, &r->raw_id, &r->raw_id_len)) != RP_OK ||
	    (err = get_b64(root, "id", false, &id, &id_len)) != RP_OK)
		goto out;
	if (r->raw_id == NULL || id == NULL) {
		err = RP_ERR_FIELD_MISSING;
		goto out;
	}
	if (id_len != r->raw_id_len || memcmp(id, r->raw_id, id_len) != 0)
		err = RP_ERR_CREDENTIAL_ID_MISMATCH;
out:
	free(id);
	return err;
}

static int
decode_response(json_t *root, rp_response_t *r)
{
	json_t *resp, *type;
	int err;

	type = json_object_get(root, "type");
	if (!json_is_string(type))
		return RP_ERR_FIELD_MISSING;
	if (strcmp(json_string_value(type), "public-key") != 0)
		return RP_ERR_CREDENTIAL_TYPE_INVALID;
	if ((err = check_ids(root, r)) != RP_OK)
		return err;
	if (!json_is_object(resp = json_object_get(root, "response")))
		return RP_ERR_FIELD_MISSING;
	if ((err = get_b64(resp, "clientDataJSON", false, &r->client_data_json,
	    &r->client_data_json_len)) != RP_OK ||
	    (err = get_b64(resp, "attestationObject", false, &r->attestation_object,
	    &r->attestation_object_len)) != RP_OK ||
	    (err = get_b64(resp, "authenticatorData", false, &r->authenticator_data,
	    &r->authenticator_data_len)) != RP_OK ||
	    (err = get_b64(resp, "signature", false, &r->signature,
	    &r->signature_len)) != RP_OK ||
	    (err = get_b64(resp, "userHandle", true, &r->user_handle,
	    &r->user_handle_len)) != RP_OK)
		return err;
	if (r->client_data_json == NULL)
		return RP_ERR_FIELD_MISSING;
	return RP_OK;
}

int
rp_response_from_json(const char *json, size_t len, rp_response_t **out)
{
	rp_response_t *r;
	json_t *root;
	json_error_t jerr;
	int err;

	if (out == NULL || json == NULL)
		return RP_ERR_INVALID_ARGUMENT;
	*out = NULL;
	if (len > RP_MAX_RESPONSE_LEN)
		return RP_ERR_RESPONSE_TOO_LARGE;
	if ((root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL)
		return RP_ERR_JSON_MALFORMED;
	if (!json_is_object(root)) {
		json_decref(root);
		return RP_ERR_JSON_MALFORMED;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		json_decref(root);
		return RP_ERR_NO_MEMORY;
	}
	err = decode_response(root, r);
	json_decref(root);
	if (err != RP_OK) {
		rp_response_free(&r);
		return err;
	}
	*out = r;
	return RP_OK;
}

void
rp_response_free(rp_response_t **rp)
{
	rp_response_t *r;

	if (rp == NULL || (r = *rp) == NULL)
		return;
	free(r->raw_id);
	free(r->client_data_json);
	free(r->attestation_object);
	free(r->authenticator_data);
	free(r->signature);
	free(r->user_handle);
	free(r);
	*rp = NULL;
}

const uint8_t *
rp_response_raw_id_ptr(const rp_response_t *r)
{
	return r->raw_id;
}

size_t
rp_response_raw_id_len(const rp_response_t *r)
{
	return r->raw_id_len;
}
