/*
 * OpenSSH key fingerprints (client_key.h).  Written here because none of
 * our libraries parses an OpenSSH public key line: OpenSSL does the
 * base64 and the SHA-256, and the only structure read is the blob's
 * first string (RFC 4253 §6.6: string key type, then the key's fields).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "client_key.h"

#define KEY_TYPE_MAX	64

/* A key type name: "ssh-ed25519", "sk-ecdsa-sha2-nistp256@openssh.com", ... */
static int
valid_type(const char *s, size_t n)
{
	return n >= 1 && n <= KEY_TYPE_MAX && strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@.-") >= n;
}

/* Decodes padded base64; -1 unless it is all well formed. */
static int
decode_b64(const char *b64, size_t n, unsigned char **out, size_t *outlen)
{
	size_t pad = 0;
	int len;

	if (n == 0 || n % 4 != 0 || n > CLIENT_KEY_TEXT_MAX ||
	    strspn(b64, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") < n)
		return -1;
	while (pad < 2 && b64[n - 1 - pad] == '=')
		pad++;
	/* '=' only as padding at the end */
	if (memchr(b64, '=', n - pad) != NULL)
		return -1;
	if ((*out = malloc(n / 4 * 3)) == NULL)
		return -1;
	if ((len = EVP_DecodeBlock(*out, (const unsigned char *)b64, (int)n)) < 0 ||
	    (size_t)len < pad) {
		free(*out);
		*out = NULL;
		return -1;
	}
	*outlen = (size_t)len - pad;
	return 0;
}

/* The blob's first field is the key type, and it must be the one the line names. */
static int
blob_names(const unsigned char *blob, size_t len, const char *type, size_t tlen)
{
	uint32_t n;

	if (len < 4)
		return 0;
	n = (uint32_t)blob[0] << 24 | (uint32_t)blob[1] << 16 | (uint32_t)blob[2] << 8 | blob[3];
	return n == tlen && len - 4 > n && memcmp(blob + 4, type, tlen) == 0;
}

int
client_key_fingerprint(const char *text, char fp[CLIENT_KEY_FP_LEN + 1])
{
	unsigned char *blob = NULL, digest[SHA256_DIGEST_LENGTH], b64[48];
	const char *sp;
	size_t blen = 0, tlen, klen;
	int ok;

	if (text == NULL || (sp = strchr(text, ' ')) == NULL)
		return -1;
	tlen = (size_t)(sp - text);
	klen = strlen(sp + 1);
	if (!valid_type(text, tlen) || decode_b64(sp + 1, klen, &blob, &blen) != 0)
		return -1;
	ok = blob_names(blob, blen, text, tlen);
	if (ok)
		SHA256(blob, blen, digest);
	free(blob);
	if (!ok)
		return -1;
	/* 32 bytes are 44 base64 characters, the last one '=': OpenSSH drops it */
	if (EVP_EncodeBlock(b64, digest, sizeof(digest)) != 44)
		return -1;
	memcpy(fp, "SHA256:", 7);
	memcpy(fp + 7, b64, 43);
	fp[CLIENT_KEY_FP_LEN] = '\0';
	return 0;
}
