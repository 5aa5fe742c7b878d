/*
 * What a control request may do: one table (control_ops.c, after
 * OpenSSH's mon_dispatch_proto20[]) gives each operation its name, who may
 * call it, its per-account budget and its handler.  The dispatcher checks
 * the first two before a handler runs, so no handler repeats a uid check
 * and none can forget one.
 */
#ifndef PASSKEYD_CONTROL_OPS_H
#define PASSKEYD_CONTROL_OPS_H

#include <jansson.h>
#include <stddef.h>

#include "control.h"
#include "passkeyd.h"

/* A request as a handler sees it, after the table's checks. */
struct op_ctx {
	struct passkeyd *d;
	struct control_call *call;
	json_t *req;
	uid_t uid;
	/* the caller's own account (WHO_SELF ops): its name, "" for root */
	const char *self;
	/* WHO_OWNER ops: the ceremony "token" names, which the caller owns */
	struct ceremony *c;
};

/*
 * Parses one request line and runs it.  Returns the answer, or NULL when
 * the op deferred it (call->deferred).  A line that is not a JSON object
 * sets call->close_after.
 */
json_t *control_dispatch(struct passkeyd *d, struct control_call *call,
    const char *line, size_t len);

/* The account name of uid into out ("" when it has none or an unsafe one). */
void control_account_name(uid_t uid, char *out, size_t len);

/* {"ok":true} and friends, for handlers. */
json_t *op_ok(void);
json_t *op_refuse(enum ctl_refusal r);

#endif
