/*
 * Test-vector plumbing shared by the unit tests: a vector file (the form of
 * shared/vectors/README.md) becomes a policy, a response and a verdict.
 */
#ifndef TEST_VECTOR_H
#define TEST_VECTOR_H

#include <jansson.h>

#include "passkey_rp.h"

json_t *vector_load(const char *path);		/* aborts the test on failure */
rp_policy_t *vector_policy(const json_t *v);
/* Runs the vector's ceremony on `response` (a PublicKeyCredential JSON
 * object; the vector's own when NULL).  Returns the rp_err verdict. */
int vector_verify(const json_t *v, const json_t *response);
/* The same, with the expected user handle for assertions (may be NULL). */
int vector_verify_ex(const json_t *v, const json_t *response,
    const rp_policy_t *policy, const uint8_t *user_handle, size_t uh_len,
    int backup_eligible);
/* The verdict the vector names: RP_OK for "ok", else its expect_error's
 * code.  Fails the test when a "fail" vector names no code or an unknown one
 * (it would pass on any rejection, for the wrong reason too). */
int vector_expected(const json_t *v);
/* Path of a test-data file: $TEST_DATA_DIR/rel, or tests/data/rel. */
const char *vector_path(const char *rel);

#endif
