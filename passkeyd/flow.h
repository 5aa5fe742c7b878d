/*
 * The login and registration flow, independent of transport: the control
 * socket (PAM module, CLI) and the HTTP API (the browser) both call these.
 * Begins return CTL_REFUSAL_NONE or the refusal (control/ctl_codes.h);
 * a finish ends with NULL (approved) or a stable reason code (an RP core
 * code, or PROTOCOL.md's).
 *
 * What the store must hold before an answer may be given goes through
 * the journal: an enrollment before its link is handed out, a counter
 * update and its audit row before a login is approved.  Those calls
 * answer through a callback once the journal has committed.
 */
#ifndef PASSKEYD_FLOW_H
#define PASSKEYD_FLOW_H

#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>

#include "hostaddrs.h"
#include "page_reads.h"
#include "passkeyd.h"

enum enroll_mode { ENROLL_NONE, ENROLL_PENDING, ENROLL_AFTER_AUTH };

/*
 * Whether a client address (PAM_RHOST) is this host: loopback, the host's
 * name, or one of its interfaces' addresses (hostaddrs.h).  The first
 * time the interfaces cannot be read it logs why.
 */
enum host_self flow_rhost_is_this_host(struct passkeyd *d, const char *rhost);

struct login_request {
	const char *user, *rhost, *service;
	enum enroll_mode enroll;
	uint64_t conn;		/* the control connection to bind it to, or 0 */
	/*
	 * A re-approval window, as the module's service asks (reuse=):
	 * seconds (0: none; capped by reuse_max), the client's SSH key
	 * fingerprint ("" when sshd exposed none) and whether a key is
	 * required for one.
	 */
	unsigned reuse;
	const char *client_key;
	int key_required;
	const char *requester;	/* who asked on this host (ceremony.h), or "" / NULL */
};

/*
 * The ceremony a page's token names: this instance's, or in a fleet any
 * instance's (fleet_find).  NULL for none; *unavailable when the store
 * could not be asked.  pre, here and below: what page_reads_start read
 * off the loop for this step, or NULL to read it now.
 */
struct ceremony *flow_find(struct passkeyd *d, const char *token, const struct page_reads *pre,
    int *unavailable);

enum ctl_refusal flow_login_begin(struct passkeyd *d, const struct login_request *r,
    struct ceremony **out);
/*
 * The same with its store calls off the loop (offload.h), the client's
 * open re-approval window first (flow_login_reuse's): returns 1 when they
 * were handed off, and then either reused(d, arg, ...) follows, when a
 * window let the login in, or done(d, arg, refusal, c) (c NULL when
 * refused); done returns whether the answer reached its client: when not,
 * the ceremony is cancelled.  0 when nothing can be handed off: call
 * flow_login_reuse, then flow_login_begin.
 */
typedef int (*flow_begin_fn)(struct passkeyd *d, void *arg, enum ctl_refusal r,
    struct ceremony *c);
/*
 * Called once a reuse is decided: w is the window whose use (and audit
 * row) the store now holds, or NULL with the refusal when it ended
 * meanwhile (CTL_REFUSAL_REUSE_ENDED) or the store could not record it.
 */
typedef void (*flow_reuse_fn)(struct passkeyd *d, void *arg, const struct store_window *w,
    enum ctl_refusal refused);
int flow_login_begin_later(struct passkeyd *d, const struct login_request *r,
    flow_begin_fn done, flow_reuse_fn reused, void *arg);
/*
 * A login that an open re-approval window of this user, service and
 * client lets in without the browser.  Returns 1 when a window matched
 * and `done` will be called; 0 when none did (begin a ceremony).
 */
int flow_login_reuse(struct passkeyd *d, const struct login_request *r,
    flow_reuse_fn done, void *arg);

/* Called once the enrollment is durable (CTL_REFUSAL_NONE, c set) or refused. */
typedef void (*flow_enroll_fn)(struct passkeyd *d, void *arg, enum ctl_refusal r,
    struct ceremony *c);
/*
 * A ceremony first, under the limits; only then the enrollment row, so a
 * refused enroll leaves nothing behind.  Returns CTL_REFUSAL_NONE when
 * `done` will be called, else the refusal (and `done` is not called).
 */
enum ctl_refusal flow_enroll(struct passkeyd *d, const char *user, unsigned lifetime,
    const char *by, flow_enroll_fn done, void *arg);
enum ctl_refusal flow_register_begin(struct passkeyd *d, const char *user, uid_t owner,
    struct ceremony **out);
/*
 * The same with its row written off the loop (a fleet's, offload.h):
 * returns 1 when it was dealt with here, and then either *refused says
 * why not (done is not called), or done(d, arg, refusal, c) follows once
 * the row is written (flow_login_begin_later's `done`: when the answer
 * did not reach its client, the ceremony is cancelled); 0 when nothing
 * can be handed off: call flow_register_begin.
 */
int flow_register_begin_later(struct passkeyd *d, const char *user, uid_t owner,
    flow_begin_fn done, void *arg, enum ctl_refusal *refused);

/* Expires c first when its time is up; in a fleet, reads its row first. */
void flow_refresh(struct passkeyd *d, struct ceremony *c);
/* The same before the page's options and finish: reads only another instance's row. */
void flow_refresh_page(struct passkeyd *d, struct ceremony *c, const struct page_reads *pre);

/*
 * The verdict for the PAM module: the state.  The first call that sees
 * "approved" consumes the ceremony (the answer is APPROVED, c becomes
 * USED).  A ceremony whose approval is still being written is PENDING.
 */
enum ctl_state flow_status(struct passkeyd *d, struct ceremony *c);
/*
 * The same with its store calls off the loop (offload.h): returns 1 when
 * they were handed off, and done(d, arg, c, state) follows (c NULL when
 * the ceremony is gone by then); 0 when the status needs no store call or
 * none can be handed off: call flow_status.
 *
 * The one store call a login still makes on the loop is an approval's
 * use (approved -> used, one UPDATE by key), for the user's Enter: at 16
 * logins at once here, its hand-off took the server's part of Enter ->
 * PAM_SUCCESS from about 0.9 ms to 2.4 ms (p50).  Once a use takes longer
 * than FLOW_USE_SLOW_MS, or any store call finds the server busy or gone,
 * the uses go off the loop for FLOW_USE_OFF_LOOP_MS.  A use off the loop
 * that is slow too opens that window again, so a server that stays slow
 * holds the loop once, for at most one statement's bound, not once a
 * window.  Only the use's own time counts: a begin's row or a sweep may
 * take longer on a healthy server with many pending ceremonies.
 */
#define FLOW_USE_SLOW_MS	20
#define FLOW_USE_OFF_LOOP_MS	10000
/*
 * A store call (on the loop or off it) found the server busy or gone: opens
 * the window of flow_store_slow.  store_refusal calls it for every store
 * error it logs; calls whose errors it does not see call it themselves.
 */
void flow_store_trouble(struct passkeyd *d, store_err_t err);
/*
 * Whether the server was found slow or gone within FLOW_USE_OFF_LOOP_MS.
 * Then the loop does not wait on the server for a login's step:
 * - an approval's use goes off the loop (flow_status_later);
 * - flow_refresh keeps what is known here rather than read the row (every
 *   move made from here is conditional on pending, so a verdict given
 *   elsewhere still wins in the store);
 * - a failed finish ends its ceremony here at once and hands its row's
 *   move (pending -> failed) off, or leaves the row to expire;
 * - a page's deny is refused store_busy (try again): a denial the store
 *   does not hold would deny nothing.
 * The cost of not waiting for a failure's move, only then: a ceremony
 * another instance decided first still says failed here (the row and the
 * other instances keep the first decision; a host that ended it so fails
 * its login closed), and its audit log says failed besides the approval.
 */
int flow_store_slow(const struct passkeyd *d);
typedef void (*flow_status_fn)(struct passkeyd *d, void *arg, struct ceremony *c,
    enum ctl_state state);
int flow_status_later(struct passkeyd *d, struct ceremony *c, flow_status_fn done,
    void *arg);
/* The module gave up, or its connection closed (why: "cancelled", "client_gone"). */
void flow_cancel(struct passkeyd *d, struct ceremony *c, const char *why);
/*
 * The same with its store calls off the loop (offload.h): 1 when handed
 * off, and done(d, arg, c, state) follows (done may be NULL: nobody waits
 * for the answer); 0 when there is nothing to move in the store, or
 * nothing can be handed off: call flow_cancel.  why must be static.
 */
int flow_cancel_later(struct passkeyd *d, struct ceremony *c, const char *why,
    flow_status_fn done, void *arg);

/*
 * A registration's user handle: the user's own when the store has one,
 * else fresh random bytes.  In a fleet (row_hash: the ceremony row's key)
 * the first instance to offer one fixes it in the row for all, and out is
 * the one fixed.  No I/O but the store's: page_reads.c calls it off the
 * loop.
 */
store_err_t flow_choose_handle(store_t *st, const char *user, const uint8_t *row_hash,
    unsigned char out[STORE_USER_HANDLE_LEN]);

/* For the page: the PublicKeyCredential*OptionsJSON, or NULL with *err. */
json_t *flow_options(struct passkeyd *d, struct ceremony *c, const struct page_reads *pre,
    const char **err);

/* Called when a finish that went to the journal is decided (see c->state). */
typedef void (*flow_finish_fn)(struct passkeyd *d, void *arg);
/*
 * The browser's answer, for a ceremony its caller has just brought up to
 * date (flow_refresh: expired, or decided elsewhere in a fleet).
 * Returns 1 when verification passed and the
 * approval is being written, or, in a fleet, when it failed and the
 * failure's row is being moved off the loop (pending -> failed): `done`
 * is called once it is decided, and c->state then tells approved or
 * failed (or what another instance decided first); *reason is NULL for
 * an approval, else the failure's code.  Returns 0 when it is
 * decided now: *reason is NULL never here; it is the failure's code, or
 * the state's name for a ceremony no longer pending.
 */
int flow_finish(struct passkeyd *d, struct ceremony *c, const char *body,
    size_t len, struct page_reads *pre, flow_finish_fn done, void *arg,
    const char **reason);
/* A page's deny: NULL when done (or nothing to do), else the refusal's code (store_busy). */
const char *flow_deny(struct passkeyd *d, struct ceremony *c);
/*
 * The same with its store calls off the loop (offload.h): the row's move
 * (pending -> denied), and, when another instance decided first, the row
 * to follow.  Returns 1 when handed off, and done(d, arg, c, held,
 * refused) follows: c NULL when the ceremony is gone by then, held when
 * the store took this denial (c may still say pending while an approval
 * here is being written: that approval will fail), refused as
 * flow_deny's; 0 when there is nothing to move, the server is found slow
 * or nothing can be handed off: call flow_deny.
 */
typedef void (*flow_deny_fn)(struct passkeyd *d, void *arg, struct ceremony *c,
    int held, const char *refused);
int flow_deny_later(struct passkeyd *d, struct ceremony *c, flow_deny_fn done, void *arg);
void flow_client_cancelled(struct passkeyd *d, struct ceremony *c,
    const char *dom_error);

/*
 * The re-approval window c's approval opens here: what the ceremony asks
 * (in a fleet, the host that began it), capped by this instance's
 * reuse_max; 0 for none.
 */
unsigned flow_window_seconds(const struct passkeyd *d, const struct ceremony *c);

/* ceremony_sweep callback: logs the expiry. */
void flow_on_expire(struct ceremony *c, void *passkeyd);
/*
 * The table's on_forget (ceremony_table_on_forget): an approval the
 * module never collected ends its re-approval window.
 */
void flow_on_forget(struct ceremony *c, void *passkeyd);

#endif
