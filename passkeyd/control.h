/*
 * The control socket (control/PROTOCOL.md): JSON lines over a unix socket,
 * the caller known by SO_PEERCRED.  This file is the connection side: who
 * may hold how many connections, how much of the loop a client may use,
 * and how long a request may take to arrive.  What a request may do is
 * control_ops.c's table.
 *
 * The socket is open to every local account, so every resource a client
 * holds is bounded per account, with room kept for root (the PAM module
 * in sshd and sudo, and the admin's passkeyctl):
 *   - a non-root account holds at most CONTROL_MAX_PER_UID connections;
 *     when the table is full, a root connection takes the place of the
 *     oldest non-root one, so no account can keep root out;
 *   - a started request line must be complete within CONTROL_LINE_SECONDS
 *     (trickling bytes does not keep a connection), and an idle one is
 *     closed after CONTROL_IDLE_SECONDS (root) or CONTROL_IDLE_SECONDS_USER,
 *     unless a ceremony it began is still known (the module is waiting);
 *   - each turn of the loop serves at most CONTROL_TURN_REQUESTS_USER
 *     requests of each non-root connection, so pipelining buys no share
 *     of the loop (root: CONTROL_TURN_REQUESTS_ROOT);
 *   - the answers of one connection come in order: a request whose answer
 *     waits for the store (control_defer) holds back the next one;
 *   - while other work keeps the loop busy, a listing's pages wait their
 *     turn (share.h): the request stays in its buffer until the loop's
 *     share for it has grown back, then runs.
 */
#ifndef PASSKEYD_CONTROL_H
#define PASSKEYD_CONTROL_H

#include <jansson.h>
#include <poll.h>
#include <stdint.h>

#include "account_names.h"
#include "ctl_text.h"
#include "passkeyd.h"

#define CONTROL_MAX_CLIENTS		1024
#define CONTROL_MAX_PER_UID		16
#define CONTROL_LINE_MAX		8192	/* bytes, without the '\n' */
#define CONTROL_LINE_SECONDS		5
#define CONTROL_IDLE_SECONDS		30
#define CONTROL_IDLE_SECONDS_USER	10
#define CONTROL_TURN_REQUESTS_ROOT	8
#define CONTROL_TURN_REQUESTS_USER	1
#define CONTROL_BOUND_MAX		4	/* ceremonies bound to one connection */

struct control_server;

/* One request being answered: what the op table needs of its connection. */
struct control_call {
	struct control_server *server;	/* NULL in the fuzzer: answers are dropped */
	uid_t uid;
	const char *name;	/* the caller's account name; "" when it has none */
	uint64_t conn;		/* the connection's serial number */
	int close_after;	/* answer, then close (a malformed line) */
	int deferred;		/* control_defer was called */
	int can_bind;		/* the connection has room for another bound ceremony */
	/* a ceremony the op bound to this connection (cancelled when it closes) */
	char bind_token[CEREMONY_TOKEN_LEN + 1];
	/*
	 * An answer the op serialized itself (one JSON object, no newline),
	 * sent as it is when the op returns NULL: a listing page, built from
	 * items serialized once (manage_page), is not serialized again.
	 */
	char *text;
	/*
	 * The op can wait and the loop's share for it is spent (share.h): it
	 * did not run, and its line is served again after this many
	 * microseconds.
	 */
	int64_t later_us;
	int due;		/* a line held once, or waiting for a name: not held (again) */
	/*
	 * The caller's name is not known yet (account_names.h): an op that
	 * acts on the caller's own account does not run, and sets needs_name.
	 */
	int name_pending;
	int needs_name;
	/*
	 * The op asked for the account a name gives (control_account) and
	 * the lookup is out: it returned NULL having changed nothing, and
	 * its line is served again once the answer has come.
	 */
	int needs_account;
};

/* Where a deferred answer goes: the connection, if it is still there. */
struct control_reply {
	struct control_server *server;
	uint64_t conn;
};

/* Binds the socket (mode 0666: the daemon authorizes per request). */
struct control_server *control_start(struct passkeyd *d, char *err, size_t errlen);
/* Appends the descriptors to poll; returns how many were added. */
size_t control_fill_poll(struct control_server *s, struct pollfd *fds, size_t max);
/* Handles what poll reported for the descriptors it filled. */
void control_handle(struct control_server *s, const struct pollfd *fds, size_t n,
    int64_t now_ms);
/*
 * How long poll may sleep for the control side: 0 when a buffered line
 * can be served now, the milliseconds until the first held line's or
 * name wait's end, or -1 (nothing to wait for).
 */
int control_timeout_ms(const struct control_server *s);
/*
 * passkeyd stops: every connection is closed as a module's close is, so
 * what they began ends the usual way (a pending login cancelled, an
 * approval never collected ends its window), while the journal still
 * commits.  The listener stays until control_stop.
 */
void control_close_clients(struct control_server *s);
/* 1 when a name lookup was still out: end with _exit (account_names_free) */
int control_stop(struct control_server *s);
size_t control_client_count(const struct control_server *s);

/*
 * For an op whose answer waits (for the journal): returns where to send
 * it later with control_answer, and holds the connection's next request
 * back until then.  NULL when out of memory.
 */
struct control_reply *control_defer(struct control_call *call);
/* Sends the deferred answer (consumed) and frees r; a gone client loses it. */
void control_answer(struct control_reply *r, json_t *answer);
/*
 * The same, binding the ceremony `token` to the connection (cancelled
 * when it closes); 0 when the client was gone: nobody has its link.
 */
int control_answer_bound(struct control_reply *r, json_t *answer, const char *token);
/* The same with an answer the op serialized itself (control_call's text; consumed). */
void control_answer_text(struct control_reply *r, char *text);
/* The op answers now after all: undoes control_defer (r is freed). */
void control_undefer(struct control_call *call, struct control_reply *r);

/*
 * The account `asked` gives, as NSS spells it (pw_name), into out ("" when
 * there is none), looked up off the loop (account_names.h): KNOWN; BUSY
 * when NSS failed or the resolver's queue is full; WAIT while the lookup
 * is out, with call->needs_account set.  In the fuzzer (no server) NSS
 * answers at once.
 */
enum account_name_state control_account(struct control_call *call, const char *asked,
    char out[CTL_USER_MAX + 1]);

#endif
