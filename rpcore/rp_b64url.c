#include <stdlib.h>

#include "rp_b64url.h"
#include "rp_err.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int
sextet(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

size_t
rp_b64url_decoded_max(size_t n)
{
	return n / 4 * 3 + 3;
}

size_t
rp_b64url_encoded_size(size_t n)
{
	return (n + 2) / 3 * 4 + 1;
}

/* Strips correct '=' padding; returns the unpadded length or SIZE_MAX. */
static size_t
unpadded_len(const char *in, size_t len)
{
	size_t pad = 0;

	while (pad < len && in[len - 1 - pad] == '=')
		pad++;
	if (pad == 0)
		return len;
	if (pad > 2 || len % 4 != 0 || (len - pad) % 4 != 4 - pad)
		return SIZE_MAX;
	return len - pad;
}

int
rp_b64url_decode(const char *in, size_t len, uint8_t *out, size_t *outlen)
{
	uint32_t acc = 0;
	size_t bits = 0, o = 0;

	if ((len = unpadded_len(in, len)) == SIZE_MAX || len % 4 == 1)
		return RP_ERR_BAD_BASE64URL;
	for (size_t i = 0; i < len; i++) {
		int v = sextet((unsigned char)in[i]);

		if (v < 0)
			return RP_ERR_BAD_BASE64URL;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	/* Leftover bits must be zero, or two strings would decode alike. */
	if ((acc & ((1u << bits) - 1)) != 0)
		return RP_ERR_BAD_BASE64URL;
	*outlen = o;
	return RP_OK;
}

int
rp_b64url_decode_alloc(const char *in, size_t len, uint8_t **out, size_t *outlen)
{
	uint8_t *buf;
	int r;

	*out = NULL;
	*outlen = 0;
	if ((buf = malloc(rp_b64url_decoded_max(len))) == NULL)
		return RP_ERR_NO_MEMORY;
	if ((r = rp_b64url_decode(in, len, buf, outlen)) != RP_OK) {
		free(buf);
		return r;
	}
	*out = buf;
	return RP_OK;
}

void
rp_b64url_encode(const uint8_t *in, size_t len, char *out)
{
	size_t i, o = 0;

	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[o++] = alphabet[v >> 18];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = alphabet[(v >> 6) & 63];
		out[o++] = alphabet[v & 63];
	}
	if (len - i == 1) {
		out[o++] = alphabet[in[i] >> 2];
		out[o++] = alphabet[(in[i] & 3) << 4];
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)in[i] << 8 | in[i + 1];

		out[o++] = alphabet[v >> 10];
		out[o++] = alphabet[(v >> 4) & 63];
		out[o++] = alphabet[(v & 15) << 2];
	}
	out[o] = '\0';
}

char *
rp_b64url_encode_alloc(const uint8_t *in, size_t len)
{
	char *out;

	if ((out = malloc(rp_b64url_encoded_size(len))) != NULL)
		rp_b64url_encode(in, len, out);
	return out;
}
