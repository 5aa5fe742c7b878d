/*
 * What sshd says about the authentication so far: SSH_AUTH_INFO_0 in the
 * PAM environment, one line per method that succeeded ("publickey
 * ssh-ed25519 AAAA..."), set by sshd before keyboard-interactive starts.
 * With "AuthenticationMethods publickey,keyboard-interactive" the client
 * has proven its key before the module runs; the key then names the
 * client for a re-approval window.  The module only picks the text out;
 * passkeyd checks it and keeps its fingerprint (the module has no crypto).
 */
#ifndef PAM_PASSKEY_AUTH_INFO_H
#define PAM_PASSKEY_AUTH_INFO_H

#include <stddef.h>

#define PK_CLIENT_KEY_MAX	4096	/* "TYPE BASE64"; passkeyd's bound too */

/*
 * The key of the last "publickey" line of info as "TYPE BASE64" in out.
 * Returns 0, or -1 when there is none or it is not plainly a key (then
 * out is "").
 */
int pk_auth_info_key(const char *info, char *out, size_t outlen);

#endif
