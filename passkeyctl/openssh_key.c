/*
 * Writes OpenSSH sk keys.  Written here rather than taken from a library:
 * no Debian library writes OpenSSH's key formats (libssh has no sk-key
 * writer), and the formats are a few length-prefixed fields.  Every field
 * goes through one growing buffer whose errors are sticky, so a failed
 * allocation anywhere ends in NULL, never in a half-written key.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/evp.h>

#include "openssh_key.h"

#define KEY_V1_MAGIC	"openssh-key-v1"	/* followed by its NUL */
#define PEM_BEGIN	"-----BEGIN OPENSSH PRIVATE KEY-----\n"
#define PEM_END		"-----END OPENSSH PRIVATE KEY-----\n"
#define PEM_LINE	70	/* base64 characters per line, as ssh-keygen writes */
#define BLOCK_SIZE	8	/* the private section pads to this ("none" cipher) */

struct wbuf {
	uint8_t *p;
	size_t len, cap;
	int failed;
};

static void
put(struct wbuf *b, const void *p, size_t n)
{
	if (b->failed)
		return;
	if (n > b->cap - b->len) {
		size_t cap = b->cap ? b->cap : 256;
		uint8_t *np;

		while (cap - b->len < n) {
			if (cap > SIZE_MAX / 2) {
				b->failed = 1;
				return;
			}
			cap *= 2;
		}
		if ((np = realloc(b->p, cap)) == NULL) {
			b->failed = 1;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void
put_u32(struct wbuf *b, uint32_t v)
{
	uint8_t be[4] = { v >> 24, v >> 16, v >> 8, v };

	put(b, be, 4);
}

static void
put_string(struct wbuf *b, const void *p, size_t n)
{
	if (n > UINT32_MAX) {
		b->failed = 1;
		return;
	}
	put_u32(b, (uint32_t)n);
	put(b, p, n);
}

static void
put_cstring(struct wbuf *b, const char *s)
{
	put_string(b, s, strlen(s));
}

static void
wbuf_free(struct wbuf *b)
{
	if (b->p != NULL)
		explicit_bzero(b->p, b->cap);
	free(b->p);
	memset(b, 0, sizeof(*b));
}

const char *
sk_key_type(int alg)
{
	switch (alg) {
	case -7: return "sk-ecdsa-sha2-nistp256@openssh.com";
	case -8: return "sk-ssh-ed25519@openssh.com";
	default: return NULL;
	}
}

static int
key_ok(const struct sk_key *k)
{
	if (k == NULL || k->pub == NULL || k->application == NULL ||
	    k->application[0] == '\0' || k->key_handle == NULL ||
	    k->key_handle_len == 0)
		return 0;
	if (k->alg == -7)
		return k->pub_len == 65 && k->pub[0] == 0x04;
	if (k->alg == -8)
		return k->pub_len == 32;
	return 0;
}

/* The public part, as both the blob and the head of the private key. */
static void
put_public_fields(struct wbuf *b, const struct sk_key *k)
{
	put_cstring(b, sk_key_type(k->alg));
	if (k->alg == -7)
		put_cstring(b, "nistp256");
	put_string(b, k->pub, k->pub_len);
	put_cstring(b, k->application);
}

static char *
base64(const uint8_t *p, size_t n)
{
	char *out;

	if (n > (size_t)INT32_MAX / 2 || (out = malloc(4 * ((n + 2) / 3) + 1)) == NULL)
		return NULL;
	EVP_EncodeBlock((unsigned char *)out, p, (int)n);
	return out;
}

static char *
line(const struct sk_key *k, const char *comment, int with_options)
{
	const char *opts = with_options && (k->flags & SK_FLAG_USER_VERIFICATION) ?
	    "verify-required " : "";
	struct wbuf b = { 0 };
	char *blob, *out = NULL;
	size_t n;

	if (!key_ok(k) || comment == NULL || strpbrk(comment, "\r\n") != NULL)
		return NULL;
	put_public_fields(&b, k);
	if (b.failed || (blob = base64(b.p, b.len)) == NULL) {
		wbuf_free(&b);
		return NULL;
	}
	wbuf_free(&b);
	n = strlen(opts) + strlen(sk_key_type(k->alg)) + strlen(blob) + strlen(comment) + 3;
	if ((out = malloc(n)) != NULL) {
		strcpy(out, opts);
		strcat(out, sk_key_type(k->alg));
		strcat(out, " ");
		strcat(out, blob);
		if (comment[0] != '\0') {
			strcat(out, " ");
			strcat(out, comment);
		}
	}
	free(blob);
	return out;
}

char *
sk_authorized_line(const struct sk_key *k, const char *comment)
{
	return line(k, comment, 1);
}

char *
sk_public_line(const struct sk_key *k, const char *comment)
{
	return line(k, comment, 0);
}

/* The private section: check words, the key with its sk fields, comment, padding. */
static void
put_private_section(struct wbuf *b, const struct sk_key *k, const char *comment)
{
	uint32_t check;
	size_t start = b->len;
	uint8_t pad = 1;

	/* the check words only tell a wrong passphrase; random like ssh-keygen */
	if (getrandom(&check, sizeof(check), 0) != sizeof(check)) {
		b->failed = 1;
		return;
	}
	put_u32(b, check);
	put_u32(b, check);
	put_public_fields(b, k);
	put(b, &k->flags, 1);
	put_string(b, k->key_handle, k->key_handle_len);
	put_string(b, "", 0);		/* reserved */
	put_cstring(b, comment);
	while ((b->len - start) % BLOCK_SIZE != 0) {
		put(b, &pad, 1);
		pad++;
	}
}

char *
sk_private_file(const struct sk_key *k, const char *comment)
{
	struct wbuf pub = { 0 }, priv = { 0 }, file = { 0 };
	char *b64 = NULL, *out = NULL;
	size_t n, o;

	if (!key_ok(k) || comment == NULL || strpbrk(comment, "\r\n") != NULL)
		return NULL;
	put_public_fields(&pub, k);
	put_private_section(&priv, k, comment);
	put(&file, KEY_V1_MAGIC, sizeof(KEY_V1_MAGIC));	/* with its NUL */
	put_cstring(&file, "none");		/* cipher */
	put_cstring(&file, "none");		/* kdf */
	put_string(&file, "", 0);		/* kdf options */
	put_u32(&file, 1);			/* one key */
	put_string(&file, pub.p, pub.len);
	put_string(&file, priv.p, priv.len);
	if (pub.failed || priv.failed || file.failed ||
	    (b64 = base64(file.p, file.len)) == NULL)
		goto out;
	n = strlen(b64);
	if ((out = malloc(strlen(PEM_BEGIN) + n + n / PEM_LINE + 2 + strlen(PEM_END))) == NULL)
		goto out;
	strcpy(out, PEM_BEGIN);
	o = strlen(out);
	for (size_t i = 0; i < n; i += PEM_LINE) {
		size_t chunk = n - i < PEM_LINE ? n - i : PEM_LINE;

		memcpy(out + o, b64 + i, chunk);
		o += chunk;
		out[o++] = '\n';
	}
	strcpy(out + o, PEM_END);
out:
	free(b64);
	wbuf_free(&pub);
	wbuf_free(&priv);
	wbuf_free(&file);
	return out;
}
