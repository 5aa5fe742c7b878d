/*
 * OpenSSH security-key ("sk") keys made from a passkey: the public key
 * blob, the authorized_keys line and the openssh-key-v1 key file
 * (PROTOCOL.u2f, PROTOCOL.key of OpenSSH).  Pure formatting, no I/O.
 *
 * The key file of an sk key holds no secret: the private key never leaves
 * the authenticator.  The file names the credential (the key handle, here
 * the WebAuthn credential ID) and the application (here the RP ID) that
 * ssh asks the security key to sign with.
 */
#ifndef PASSKEYCTL_OPENSSH_KEY_H
#define PASSKEYCTL_OPENSSH_KEY_H

#include <stddef.h>
#include <stdint.h>

#define SK_FLAG_USER_PRESENCE		0x01
#define SK_FLAG_USER_VERIFICATION	0x04

struct sk_key {
	int alg;			/* COSE: -7 (ES256) or -8 (EdDSA) */
	const uint8_t *pub;		/* 0x04||x||y (65 bytes) or the Ed25519 key (32) */
	size_t pub_len;
	const char *application;	/* the RP ID */
	uint8_t flags;			/* SK_FLAG_* */
	const uint8_t *key_handle;	/* the credential ID */
	size_t key_handle_len;
};

/* The OpenSSH key type name, or NULL for an algorithm OpenSSH has no sk type for. */
const char *sk_key_type(int alg);

/*
 * The authorized_keys line, without '\n': "verify-required " when the key
 * demands user verification, the type, the base64 blob, the comment.
 * NULL for a key that cannot be written (bad alg or sizes) or no memory.
 */
char *sk_authorized_line(const struct sk_key *k, const char *comment);

/* The same key as a .pub file line: type, blob, comment (no options). */
char *sk_public_line(const struct sk_key *k, const char *comment);

/* The whole openssh-key-v1 file, PEM-armoured, unencrypted; NULL on error. */
char *sk_private_file(const struct sk_key *k, const char *comment);

#endif
