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

/*
 * The account root's request names, as NSS spells it (pw_name), into out:
 * CTL_REFUSAL_NONE; unknown_user when there is no such account;
 * directory_busy when NSS failed or is too slow; bad_request for a name
 * that is not one.  NSS is asked off the loop (account_names.h): while it
 * is, this returns CTL_REFUSAL_NONE with x->call->needs_account set, and
 * the handler must return NULL at once, having changed nothing (its line
 * is served again when the answer has come).  *unsure (op_account_unsure)
 * is set when NSS could not say for sure: directory_busy, or unknown_user
 * said with ENOENT (ACCOUNT_NAME_UNSURE: maybe a directory down).
 */
enum ctl_refusal op_account(const struct op_ctx *x, const char *name, char out[CTL_USER_MAX + 1]);
enum ctl_refusal op_account_unsure(const struct op_ctx *x, const char *name,
    char out[CTL_USER_MAX + 1], int *unsure);

/* {"ok":true} and friends, for handlers. */
json_t *op_ok(void);
json_t *op_refuse(enum ctl_refusal r);

/*
 * For an op whose answer waits for a write: defers the call's answer,
 * setting *reply (in arg, for done to answer through) before the write
 * is queued in the journal.  NULL when queued (the handler returns it);
 * else the refusal, with nothing deferred or queued and arg still the
 * caller's to free.
 */
json_t *op_defer_write(struct op_ctx *x, struct control_reply **reply,
    journal_apply_fn apply, journal_done_fn done, void *arg);

/*
 * A read for a person (a listing's page, an export), its store calls off
 * the loop in a fleet (offload.h): read(st, arg) runs on an offload
 * worker, the call's answer deferred meanwhile, then answer(d, arg,
 * result, &text) on the loop gives the answer, or NULL with a page's
 * text, and frees arg.  `result` is read's, or why it never ran.  Without
 * a worker (SQLite) both run here at once.  The loop's share for such
 * reads (share.h) is charged what they cost the loop: there, building
 * the page.  Returns what the handler returns.
 */
typedef store_err_t (*op_read_fn)(store_t *st, void *arg);
typedef json_t *(*op_answer_fn)(struct passkeyd *d, void *arg, store_err_t result,
    char **text);
json_t *op_read(struct op_ctx *x, op_read_fn read, op_answer_fn answer, void *arg);

#endif
