/*
 * Strict base64url (RFC 4648 §5), as WebAuthn's JSON forms use it.
 *
 * Written by hand because none of our libraries decodes the URL alphabet
 * strictly: OpenSSL's EVP_DecodeBlock is standard base64 and skips
 * whitespace.  Decoding rejects characters outside the alphabet, a length
 * of 1 mod 4, and non-zero leftover bits, so each value has exactly one
 * encoding; '=' padding is accepted only when complete and correct.
 */
#ifndef RP_B64URL_H
#define RP_B64URL_H

#include <stddef.h>
#include <stdint.h>

/* Bytes needed to decode a string of n characters (an upper bound). */
size_t rp_b64url_decoded_max(size_t n);
/* Characters needed to encode n bytes, without padding, plus a NUL. */
size_t rp_b64url_encoded_size(size_t n);

/* Returns RP_OK or RP_ERR_BAD_BASE64URL. out must hold decoded_max(len). */
int rp_b64url_decode(const char *in, size_t len, uint8_t *out, size_t *outlen);
/* Same, into a fresh malloc'd buffer (never NULL on success, even if empty). */
int rp_b64url_decode_alloc(const char *in, size_t len, uint8_t **out, size_t *outlen);
/* Writes unpadded base64url and a terminating NUL. */
void rp_b64url_encode(const uint8_t *in, size_t len, char *out);
/* Same, malloc'd; NULL when out of memory. */
char *rp_b64url_encode_alloc(const uint8_t *in, size_t len);

#endif /* RP_B64URL_H */
