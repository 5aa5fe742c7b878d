/*
 * pam_passkey.so's options (the words after the module in a pam.d line),
 * parsed in one place with its own tests and fuzzer, as pam-u2f keeps
 * cfg.c: a typo in an authentication stack must fail closed, never fall
 * back to a default.
 *
 *   socket=PATH            passkeyd's control socket (absolute, < 108 bytes)
 *   timeout=SECONDS        the module's whole wait, 1..3600 (default 120)
 *   nullok                 a user with no passkey gets PAM_IGNORE
 *   enroll=none|pending|after-auth
 *   qr=yes|no              a QR code of the link in the prompt
 *   flow=prompt|info       prompt: the link in a prompt, Enter after approving
 *                          (default; any sshd); info: the link as info text and
 *                          the module waits by itself, no Enter (sshd 10.3+,
 *                          which sends info text at once)
 *   reuse=SECONDS          a re-approval window: after a passkey approval,
 *                          this service's further logins of the user from the
 *                          same client skip the browser for SECONDS (0..604800,
 *                          default 0: off; passkeyd's reuse_max caps it)
 *   reuse_key=required|optional
 *                          required (default): a window needs the SSH key the
 *                          client authenticated with (SSH_AUTH_INFO_0); the
 *                          address alone is never enough
 *   daemon_user=NAME       the account passkeyd runs as (default passkeyd):
 *                          the socket must be served by it or by root
 *   debug                  log details
 */
#ifndef PAM_PASSKEY_OPTIONS_H
#define PAM_PASSKEY_OPTIONS_H

#include <stdbool.h>

#include "ctl_client.h"

#define PK_DEFAULT_TIMEOUT	120	/* s, the module's whole wait */
#define PK_MAX_TIMEOUT		3600
#define PK_DEFAULT_DAEMON_USER	CTL_DEFAULT_DAEMON_USER
#define PK_MAX_REUSE		604800	/* s, a week: passkeyd's ceiling too */

enum pk_flow {
	PK_FLOW_PROMPT,
	PK_FLOW_INFO,
};

struct pk_opts {
	const char *socket;	/* the strings point into argv */
	long timeout;
	bool nullok;
	const char *enroll;	/* "none", "pending" or "after-auth" */
	bool qr;
	enum pk_flow flow;
	long reuse;		/* seconds, 0: no re-approval window */
	bool reuse_key_required;
	bool debug;
	const char *daemon_user;
};

/*
 * Fills o from argv, defaults first.  Returns 0, or -1 with *bad set to
 * the index of the first argument that is unknown, has a bad value, or
 * repeats an option an earlier one gave.
 */
int pk_opts_parse(int argc, const char **argv, struct pk_opts *o, int *bad);

#endif
