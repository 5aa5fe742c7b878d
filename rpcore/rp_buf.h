/*
 * A bounded, read-only view over untrusted bytes (the sshbuf idea).
 *
 * Every structure that arrives from a browser or an authenticator is read
 * through this type.  A read either succeeds entirely or leaves the view
 * untouched and returns RP_ERR_AUTHDATA_TRUNCATED-style "short" status; no
 * caller ever does pointer arithmetic on untrusted lengths itself.
 */
#ifndef RP_BUF_H
#define RP_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

struct rp_buf {
	const uint8_t *ptr;
	size_t len;
	size_t off;
};

void rp_buf_init(struct rp_buf *b, const void *ptr, size_t len);
size_t rp_buf_left(const struct rp_buf *b);
const uint8_t *rp_buf_cur(const struct rp_buf *b);

/* These return false, and consume nothing, when fewer bytes remain. */
bool rp_buf_get_u8(struct rp_buf *b, uint8_t *v);
bool rp_buf_get_u16(struct rp_buf *b, uint16_t *v);   /* big-endian */
bool rp_buf_get_u32(struct rp_buf *b, uint32_t *v);   /* big-endian */
bool rp_buf_get_u64(struct rp_buf *b, uint64_t *v);   /* big-endian */
bool rp_buf_get_bytes(struct rp_buf *b, size_t n, const uint8_t **out);
bool rp_buf_skip(struct rp_buf *b, size_t n);
/* A TPM2B: a big-endian u16 length, then that many bytes. */
bool rp_buf_get_tpm2b(struct rp_buf *b, const uint8_t **out, size_t *n);

#endif /* RP_BUF_H */
