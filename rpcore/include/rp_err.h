/*
 * Named verdicts of the relying-party core.
 *
 * Every rejection has a stable code name (what logs, JSON output and tests
 * match on) and a human-readable sentence.  Codes are never renumbered or
 * renamed once shipped: add new ones at the end of their group.
 */
#ifndef RP_ERR_H
#define RP_ERR_H

#define RP_ERR_LIST(X) \
	X(RP_OK, "ok", "verified") \
	/* caller mistakes and resources */ \
	X(RP_ERR_INVALID_ARGUMENT, "invalid_argument", "invalid argument from the caller") \
	X(RP_ERR_NO_MEMORY, "out_of_memory", "out of memory") \
	X(RP_ERR_INTERNAL, "internal_error", "internal error in a cryptographic library") \
	/* the response envelope (PublicKeyCredential JSON) */ \
	X(RP_ERR_RESPONSE_TOO_LARGE, "response_too_large", "response is larger than 64 KiB") \
	X(RP_ERR_JSON_MALFORMED, "json_malformed", "response is not a well-formed JSON object") \
	X(RP_ERR_FIELD_MISSING, "field_missing", "a required member of the response is missing or has the wrong type") \
	X(RP_ERR_BAD_BASE64URL, "bad_base64url", "a binary member is not valid unpadded base64url") \
	X(RP_ERR_CREDENTIAL_TYPE_INVALID, "credential_type_invalid", "credential type is not \"public-key\"") \
	X(RP_ERR_CREDENTIAL_ID_MISMATCH, "credential_id_mismatch", "id, rawId and the authenticator's credential ID disagree") \
	/* clientDataJSON */ \
	X(RP_ERR_CLIENT_DATA_MALFORMED, "client_data_malformed", "clientDataJSON is not a well-formed JSON object with the required members") \
	X(RP_ERR_CLIENT_DATA_TYPE_MISMATCH, "client_data_type_mismatch", "clientDataJSON type is not the one this ceremony expects") \
	X(RP_ERR_CHALLENGE_MISMATCH, "challenge_mismatch", "clientDataJSON challenge differs from the one issued") \
	X(RP_ERR_ORIGIN_NOT_ALLOWED, "origin_not_allowed", "clientDataJSON origin is not in the allowed list") \
	X(RP_ERR_CROSS_ORIGIN_NOT_ALLOWED, "cross_origin_not_allowed", "the ceremony ran in a cross-origin frame (crossOrigin true or topOrigin present)") \
	/* CBOR */ \
	X(RP_ERR_CBOR_TRUNCATED, "cbor_truncated", "CBOR item is cut short") \
	X(RP_ERR_CBOR_INDEFINITE_LENGTH, "cbor_indefinite_length", "CBOR item uses indefinite-length encoding") \
	X(RP_ERR_CBOR_DUPLICATE_KEY, "cbor_duplicate_map_key", "CBOR map repeats a key") \
	X(RP_ERR_CBOR_MALFORMED, "cbor_malformed", "CBOR item is not well formed") \
	X(RP_ERR_CBOR_TOO_DEEP, "cbor_too_deep", "CBOR nesting or map size exceeds the limit") \
	X(RP_ERR_CBOR_TRAILING_BYTES, "cbor_trailing_bytes", "bytes follow the CBOR item") \
	X(RP_ERR_ATTESTATION_OBJECT_MALFORMED, "attestation_object_malformed", "attestationObject lacks fmt, attStmt or authData, or has the wrong types") \
	/* authenticator data */ \
	X(RP_ERR_AUTHDATA_TRUNCATED, "authdata_truncated", "authenticator data is cut short") \
	X(RP_ERR_AUTHDATA_TRAILING_BYTES, "authdata_trailing_bytes", "bytes follow the authenticator data's last field") \
	X(RP_ERR_RP_ID_HASH_MISMATCH, "rp_id_hash_mismatch", "rpIdHash is not SHA-256 of the RP ID") \
	X(RP_ERR_USER_PRESENCE_MISSING, "user_presence_missing", "the UP flag is not set") \
	X(RP_ERR_USER_VERIFICATION_MISSING, "user_verification_missing", "user verification is required but the UV flag is not set") \
	X(RP_ERR_BACKUP_STATE_INVALID, "backup_state_invalid", "BS flag set while BE flag is clear") \
	X(RP_ERR_ATTESTED_DATA_MISSING, "attested_data_missing", "registration without attested credential data (AT flag)") \
	X(RP_ERR_ATTESTED_DATA_UNEXPECTED, "attested_data_unexpected", "assertion carries attested credential data (AT flag)") \
	X(RP_ERR_EXTENSION_FLAG_MISMATCH, "extension_flag_mismatch", "ED flag set but no extensions follow") \
	X(RP_ERR_CREDENTIAL_ID_TOO_LONG, "credential_id_too_long", "credential ID is longer than 1023 bytes") \
	X(RP_ERR_CREDENTIAL_ID_EMPTY, "credential_id_empty", "credential ID is empty") \
	/* COSE keys and algorithms */ \
	X(RP_ERR_COSE_KEY_MALFORMED, "cose_key_malformed", "credential public key is not a well-formed COSE key") \
	X(RP_ERR_ALG_UNSUPPORTED, "alg_unsupported", "algorithm is not ES256, EdDSA or RS256") \
	X(RP_ERR_ALG_NOT_ALLOWED, "alg_not_allowed", "algorithm is not in the allowed list") \
	X(RP_ERR_KEY_TYPE_MISMATCH, "key_type_mismatch", "COSE key type or curve does not match its algorithm") \
	X(RP_ERR_KEY_INVALID, "key_invalid", "public key is not a valid key for its algorithm") \
	/* attestation */ \
	X(RP_ERR_ATTESTATION_FORMAT_UNSUPPORTED, "attestation_format_unsupported", "attestation format is not supported") \
	X(RP_ERR_ATTESTATION_STATEMENT_MALFORMED, "attestation_statement_malformed", "attestation statement lacks members or has the wrong types") \
	X(RP_ERR_ATTESTATION_STATEMENT_INVALID, "attestation_statement_invalid", "attestation statement does not bind this credential and request") \
	X(RP_ERR_ATTESTATION_SIGNATURE_INVALID, "attestation_signature_invalid", "attestation signature does not verify") \
	X(RP_ERR_ATTESTATION_CERT_INVALID, "attestation_cert_invalid", "attestation certificate is unparsable or breaks the format's requirements") \
	X(RP_ERR_ATTESTATION_UNTRUSTED, "attestation_untrusted", "attestation chain does not reach a trust anchor") \
	X(RP_ERR_ATTESTATION_CERT_EXPIRED, "attestation_cert_expired", "a certificate in the attestation chain has expired") \
	X(RP_ERR_ATTESTATION_CERT_NOT_YET_VALID, "attestation_cert_not_yet_valid", "a certificate in the attestation chain is not yet valid") \
	X(RP_ERR_ATTESTATION_NOT_ACCEPTED, "attestation_not_accepted", "policy does not accept this kind of attestation") \
	/* assertion */ \
	X(RP_ERR_BAD_SIGNATURE, "bad_signature", "assertion signature does not verify") \
	X(RP_ERR_CREDENTIAL_NOT_ALLOWED, "credential_not_allowed", "the credential does not belong to this ceremony's user") \
	X(RP_ERR_USER_HANDLE_MISMATCH, "user_handle_mismatch", "userHandle does not match the ceremony's user") \
	X(RP_ERR_SIGN_COUNT_REGRESSED, "sign_count_regressed", "signature counter did not increase: possible cloned authenticator") \
	X(RP_ERR_BACKUP_ELIGIBILITY_CHANGED, "backup_eligibility_changed", "BE flag differs from the one recorded at registration") \
	X(RP_ERR_TRUST_ANCHOR_INVALID, "trust_anchor_invalid", "a trust anchor is not a readable PEM certificate")

enum rp_err {
#define RP_ERR_ENUM(sym, code, text) sym,
	RP_ERR_LIST(RP_ERR_ENUM)
#undef RP_ERR_ENUM
	RP_ERR__COUNT
};

/* Stable machine name of a verdict, e.g. "challenge_mismatch". */
const char *rp_err_code(int err);
/* One sentence for humans. */
const char *rp_err_str(int err);

#endif /* RP_ERR_H */
