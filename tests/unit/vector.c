#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "rp_b64url.h"
#include "vector.h"

json_t *
vector_load(const char *path)
{
	json_error_t err;
	json_t *v = json_load_file(path, 0, &err);

	if (v == NULL)
		fail_msg("cannot load %s: %s", path, err.text);
	return v;
}

static time_t
parse_time(const char *s)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm) == NULL)
		fail_msg("bad time %s", s);
	return timegm(&tm);
}

rp_policy_t *
vector_policy(const json_t *v)
{
	rp_policy_t *p = rp_policy_new();
	json_t *opts = json_object_get(v, "verifier_options");
	json_t *algs = json_object_get(opts, "allowed_algs");
	json_t *anchors = json_object_get(v, "trust_anchors_pem");
	json_t *t = json_object_get(v, "attestation_time");
	size_t i;
	json_t *x;

	assert_non_null(p);
	assert_int_equal(rp_policy_set_rp_id(p, json_string_value(json_object_get(v, "rp_id"))), RP_OK);
	assert_int_equal(rp_policy_add_origin(p, json_string_value(json_object_get(v, "origin"))), RP_OK);
	/* the RP core never allows framing: a vector that needs it cannot run */
	if (json_is_true(json_object_get(opts, "allow_cross_origin")))
		fail_msg("verifier_options.allow_cross_origin is true: no policy allows that");
	if (json_is_true(json_object_get(opts, "require_user_verification")))
		rp_policy_set_require_uv(p, true);
	if (json_array_size(algs) > 0) {
		int a[8];
		size_t n = 0;

		json_array_foreach(algs, i, x)
			if (n < 8)
				a[n++] = (int)json_integer_value(x);
		assert_int_equal(rp_policy_set_allowed_algs(p, a, n), RP_OK);
	}
	json_array_foreach(anchors, i, x) {
		assert_int_equal(rp_policy_add_trust_anchor_pem(p, json_string_value(x),
		    json_string_length(x)), RP_OK);
		rp_policy_set_accepted_attestation(p, RP_ATTESTATION_NONE |
		    RP_ATTESTATION_SELF | RP_ATTESTATION_TRUSTED);
	}
	/* The W3C chain is checked inside its CA's validity, as the spec did. */
	if (json_is_string(t))
		rp_policy_set_time(p, parse_time(json_string_value(t)));
	else if (json_array_size(anchors) > 0)
		rp_policy_set_time(p, parse_time("2025-06-01T00:00:00Z"));
	return p;
}

static uint8_t *
b64(const json_t *s, size_t *len)
{
	uint8_t *out = NULL;

	if (!json_is_string(s) || rp_b64url_decode_alloc(json_string_value(s),
	    json_string_length(s), &out, len) != RP_OK)
		fail_msg("bad base64url in vector");
	return out;
}

static int
verify_assertion(const json_t *v, const rp_policy_t *p, const uint8_t *chal,
    size_t clen, const rp_response_t *resp, const uint8_t *uh, size_t uhlen, int be)
{
	json_t *c = json_object_get(v, "credential");
	struct rp_assertion_result res;
	struct rp_known_credential k = { 0 };
	rp_pubkey_t *pk = NULL;
	uint8_t *id, *cose;
	size_t idlen, coselen;
	int err;

	id = b64(json_object_get(c, "id_b64url"), &idlen);
	cose = b64(json_object_get(c, "public_key_cose_b64url"), &coselen);
	if ((err = rp_pubkey_from_cose(cose, coselen, &pk)) == RP_OK) {
		k.id = id;
		k.id_len = idlen;
		k.pubkey = pk;
		k.sign_count = (uint32_t)json_integer_value(json_object_get(c, "stored_sign_count"));
		k.user_handle = uh;
		k.user_handle_len = uhlen;
		k.backup_eligible = be;
		err = rp_verify_assertion(p, chal, clen, resp, &k, &res);
	}
	rp_pubkey_free(&pk);
	free(id);
	free(cose);
	return err;
}

int
vector_verify_ex(const json_t *v, const json_t *response, const rp_policy_t *policy,
    const uint8_t *uh, size_t uhlen, int be)
{
	rp_policy_t *own = NULL;
	rp_response_t *resp = NULL;
	rp_credential_t *cred = NULL;
	uint8_t *chal;
	size_t clen;
	char *json;
	int err;

	if (response == NULL)
		response = json_object_get(v, "response");
	if (policy == NULL)
		policy = own = vector_policy(v);
	chal = b64(json_object_get(v, "challenge_b64url"), &clen);
	json = json_dumps(response, JSON_COMPACT);
	assert_non_null(json);
	if ((err = rp_response_from_json(json, strlen(json), &resp)) == RP_OK) {
		if (strcmp(json_string_value(json_object_get(v, "kind")), "registration") == 0)
			err = rp_verify_registration(policy, chal, clen, resp, &cred);
		else
			err = verify_assertion(v, policy, chal, clen, resp, uh, uhlen, be);
	}
	rp_credential_free(&cred);
	rp_response_free(&resp);
	rp_policy_free(&own);
	free(json);
	free(chal);
	return err;
}

int
vector_verify(const json_t *v, const json_t *response)
{
	return vector_verify_ex(v, response, NULL, NULL, 0, -1);
}

int
vector_expected(const json_t *v)
{
	const char *e = json_string_value(json_object_get(v, "expect"));
	const char *code = json_string_value(json_object_get(v, "expect_error"));

	if (e != NULL && strcmp(e, "ok") == 0)
		return RP_OK;
	if (e == NULL || strcmp(e, "fail") != 0)
		fail_msg("\"expect\" is neither \"ok\" nor \"fail\"");
	/* any rejection would do: the wrong reason would pass */
	if (code == NULL)
		fail_msg("a \"fail\" vector must name its expect_error");
	for (int i = 1; i < RP_ERR__COUNT; i++)
		if (strcmp(rp_err_code(i), code) == 0)
			return i;
	fail_msg("expect_error \"%s\" is not an rp_err code", code);
	return -1;
}

const char *
vector_path(const char *rel)
{
	static char buf[4096];
	const char *dir = getenv("TEST_DATA_DIR");

	snprintf(buf, sizeof(buf), "%s/%s", dir != NULL ? dir : "tests/data", rel);
	return buf;
}
