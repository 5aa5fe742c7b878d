#ifndef RP_FIDO2_H
#define RP_FIDO2_H
#include <stdbool.h>
struct rp_attest_ctx;
/* libfido2's check of a packed (x5c or self) or fido-u2f statement. */
int rp_fido2_verify_cred(const struct rp_attest_ctx *, bool self);
#endif
