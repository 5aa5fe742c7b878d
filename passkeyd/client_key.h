/*
 * The SSH client's public key, as sshd exposes it to PAM (SSH_AUTH_INFO_0,
 * "publickey TYPE BASE64"): the module hands on "TYPE BASE64" as text, and
 * the daemon keeps only its OpenSSH fingerprint, the one `ssh-keygen -lf`
 * prints ("SHA256:" and 43 base64 characters), as the client's name in a
 * re-approval window.  The module has no crypto; this is where it is done.
 */
#ifndef PASSKEYD_CLIENT_KEY_H
#define PASSKEYD_CLIENT_KEY_H

#include <stddef.h>

#define CLIENT_KEY_TEXT_MAX	4096	/* base64 of a 16384-bit RSA key fits; a request line is 8192 */
#define CLIENT_KEY_FP_LEN	50	/* "SHA256:" + 43 */

/*
 * Checks "TYPE BASE64" (the blob must decode and name TYPE itself) and
 * writes its fingerprint.  Returns 0, or -1 for anything malformed.
 */
int client_key_fingerprint(const char *text, char fp[CLIENT_KEY_FP_LEN + 1]);

#endif
