/*
 * The control protocol's vocabulary (PROTOCOL.md): every refusal code and
 * every ceremony state, once, as X-macro tables.  passkeyd answers with
 * them, pam_passkey.so and passkeyctl read them back; none of the three
 * types these strings by hand, so a code cannot be misspelt on one side.
 */
#ifndef CTL_CODES_H
#define CTL_CODES_H

#include <jansson.h>

/* X(symbol, code on the wire, one line for a human) */
#define CTL_REFUSAL_LIST(X) \
	X(CTL_REFUSAL_NONE, "ok", "success") \
	X(CTL_REFUSAL_BAD_REQUEST, "bad_request", "malformed request") \
	X(CTL_REFUSAL_NOT_PERMITTED, "not_permitted", "not permitted for this caller") \
	X(CTL_REFUSAL_RATE_LIMITED, "rate_limited", \
	    "too many requests from this account; try again in a few seconds") \
	X(CTL_REFUSAL_BUSY, "busy", "passkeyd is at its connection limit; try again") \
	X(CTL_REFUSAL_NO_PASSKEY, "no_passkey", "no passkey is registered for this account") \
	X(CTL_REFUSAL_UNKNOWN_USER, "unknown_user", "no such user") \
	X(CTL_REFUSAL_DIRECTORY_BUSY, "directory_busy", \
	    "the account directory (NSS) failed or is slow to answer; try again") \
	X(CTL_REFUSAL_LIMIT_USER, "limit_user", "too many pending logins for this user") \
	X(CTL_REFUSAL_LIMIT_USER_ADDRESS, "limit_user_address", \
	    "too many pending logins for this user from this address") \
	X(CTL_REFUSAL_LIMIT_ADDRESS, "limit_address", "too many pending logins from this address") \
	X(CTL_REFUSAL_LIMIT_TOTAL, "limit_total", "too many pending logins") \
	X(CTL_REFUSAL_LIMIT_HOST, "limit_host", "too many pending logins on this host") \
	X(CTL_REFUSAL_LIMIT_CONNECTION, "limit_connection", \
	    "too many pending logins on one control connection") \
	X(CTL_REFUSAL_UNKNOWN_CEREMONY, "unknown_ceremony", "no such login request") \
	X(CTL_REFUSAL_BOUND_ELSEWHERE, "bound_elsewhere", \
	    "that login belongs to another control connection") \
	X(CTL_REFUSAL_STORE_ERROR, "store_error", "the credential store failed") \
	X(CTL_REFUSAL_STORE_BUSY, "store_busy", \
	    "the credential store stayed locked by another program; try again") \
	X(CTL_REFUSAL_STORE_UNAVAILABLE, "store_unavailable", \
	    "the credential store cannot be reached; try again") \
	X(CTL_REFUSAL_UNKNOWN_CREDENTIAL, "unknown_credential", "no such passkey") \
	X(CTL_REFUSAL_AMBIGUOUS_ID, "ambiguous_id", \
	    "that ID prefix matches more than one passkey; give more digits") \
	X(CTL_REFUSAL_LAST_PASSKEY, "last_passkey", \
	    "this is the account's last passkey; removing it locks the account out " \
	    "of passkey logins (use --force to remove it anyway)") \
	X(CTL_REFUSAL_NO_ENROLLMENT, "no_enrollment", "the user has no pending enrollment") \
	X(CTL_REFUSAL_LIMIT_PASSKEYS, "limit_passkeys", \
	    "the account has as many passkeys as it may have (max_passkeys_per_user)") \
	X(CTL_REFUSAL_REUSE_ENDED, "reuse_ended", \
	    "the re-approval window ended as it was used; log in again") \
	X(CTL_REFUSAL_UNKNOWN_WINDOW, "unknown_window", "no such re-approval window") \
	X(CTL_REFUSAL_BAD_NAME, "bad_name", \
	    "a name is 1 to 128 bytes of UTF-8 without control or bidirectional-override characters") \
	X(CTL_REFUSAL_INTERNAL_ERROR, "internal_error", "internal error")

enum ctl_refusal {
#define CTL_REFUSAL_ENUM(sym, code, text) sym,
	CTL_REFUSAL_LIST(CTL_REFUSAL_ENUM)
#undef CTL_REFUSAL_ENUM
	CTL_REFUSAL__COUNT
};

/*
 * Ceremony states (PROTOCOL.md "status").  X(symbol, name, final):
 * a final state never changes again, except approved → used.
 */
#define CTL_STATE_LIST(X) \
	X(CTL_STATE_PENDING, "pending", 0) \
	X(CTL_STATE_APPROVED, "approved", 1) \
	X(CTL_STATE_USED, "used", 1) \
	X(CTL_STATE_DENIED, "denied", 1) \
	X(CTL_STATE_FAILED, "failed", 1) \
	X(CTL_STATE_EXPIRED, "expired", 1) \
	X(CTL_STATE_CANCELLED, "cancelled", 1)

enum ctl_state {
#define CTL_STATE_ENUM(sym, name, final) sym,
	CTL_STATE_LIST(CTL_STATE_ENUM)
#undef CTL_STATE_ENUM
	CTL_STATE__COUNT
};

/* The wire code, e.g. "limit_user"; "internal_error" for a bad value. */
const char *ctl_refusal_code(enum ctl_refusal r);
const char *ctl_refusal_text(enum ctl_refusal r);
/* The refusal a wire code names; CTL_REFUSAL__COUNT when none does. */
enum ctl_refusal ctl_refusal_from_code(const char *code);
/* {"ok":false,"error":CODE,"message":TEXT}; NULL only when out of memory. */
json_t *ctl_refusal_json(enum ctl_refusal r);

const char *ctl_state_name(enum ctl_state s);
/* The state a wire name names; CTL_STATE__COUNT when none does. */
enum ctl_state ctl_state_from_name(const char *name);
int ctl_state_is_final(enum ctl_state s);

#endif /* CTL_CODES_H */
