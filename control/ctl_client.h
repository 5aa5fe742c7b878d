/*
 * The client side of passkeyd's control socket (PROTOCOL.md): one JSON
 * object per line each way, at most CTL_MAX_LINE bytes.
 *
 * Used by pam_passkey.so, which runs inside sshd's authentication child.
 * So: no signals raised (a dead daemon gives an error, not SIGPIPE), no
 * descriptor leaked across exec, no read without a bound or a deadline.
 */
#ifndef CTL_CLIENT_H
#define CTL_CLIENT_H

#include <stdbool.h>
#include <sys/types.h>

#include <jansson.h>

#define CTL_DEFAULT_SOCKET	"/run/passkeyd/control.sock"
/* The account passkeyd runs as when packaged: it may serve the socket. */
#define CTL_DEFAULT_DAEMON_USER	"passkeyd"
/* Longest line either side may send, not counting its '\n'. */
#define CTL_MAX_LINE		8192

#define CTL_ERR_LIST(X) \
	X(CTL_OK, "ok", "success") \
	X(CTL_ERR_CONNECT, "connect", "cannot connect to the control socket (is passkeyd running?)") \
	X(CTL_ERR_TIMEOUT, "timeout", "passkeyd did not answer in time") \
	X(CTL_ERR_IO, "io", "reading from or writing to the control socket failed") \
	X(CTL_ERR_PROTOCOL, "protocol", "passkeyd's answer is not one JSON object on one line of at most 8192 bytes") \
	X(CTL_ERR_NOMEM, "out_of_memory", "out of memory") \
	X(CTL_ERR_INVALID, "invalid_argument", "invalid argument from the caller") \
	X(CTL_ERR_UNTRUSTED, "untrusted_peer", "the control socket is served by an account that is neither root nor passkeyd's")

enum ctl_err {
#define CTL_ERR_ENUM(sym, code, text) sym,
	CTL_ERR_LIST(CTL_ERR_ENUM)
#undef CTL_ERR_ENUM
	CTL_ERR__COUNT
};

struct ctl_conn;

/* Stable machine name of an error, e.g. "timeout". */
const char *ctl_err_code(int err);
/* One sentence for humans. */
const char *ctl_err_str(int err);

/*
 * Connects to the unix socket at path.  timeout_ms (> 0) bounds the
 * connect and, later, each ctl_request() as a whole.
 */
int ctl_connect(const char *path, int timeout_ms, struct ctl_conn **out);

/*
 * Sends req (a JSON object) as one line and reads one line back.  On
 * CTL_OK, *resp is a JSON object the caller must json_decref(); it may
 * still be a refusal ({"ok":false,...}): see ctl_resp_ok().  After any
 * error the connection is unusable: close it.
 */
int ctl_request(struct ctl_conn *c, const json_t *req, json_t **resp);

/* Closes and frees; NULL is fine. */
void ctl_close(struct ctl_conn *c);

/*
 * The uid of the process serving the socket (SO_PEERCRED at connect).  A
 * client that will trust the answers checks it: whoever could replace
 * the socket file could otherwise answer "approved".
 */
int ctl_peer_uid(const struct ctl_conn *c, uid_t *uid);

/* No account: a daemon_uid that trusts nobody beyond root. */
#define CTL_NO_UID	((uid_t)-1)

/*
 * Whether the answers may be believed.  CTL_OK when the socket is served
 * by root, by daemon_uid (the account passkeyd runs as) or by self_uid (a
 * caller's own process gains nothing by lying to it); CTL_ERR_UNTRUSTED
 * otherwise.  *peer says who served it whenever SO_PEERCRED answered, and
 * is CTL_NO_UID when it did not (CTL_ERR_IO).
 */
int ctl_peer_trusted(const struct ctl_conn *c, uid_t daemon_uid, uid_t self_uid, uid_t *peer);

/* Connect, one request, close: what a client with one question needs. */
int ctl_call(const char *path, int timeout_ms, const json_t *req, json_t **resp);

/* True when the response's "ok" member is JSON true. */
bool ctl_resp_ok(const json_t *resp);

/* The string member key of resp, or NULL when absent or not a string. */
const char *ctl_resp_str(const json_t *resp, const char *key);

#endif /* CTL_CLIENT_H */
