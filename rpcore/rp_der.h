/*
 * A minimal DER reader over rp_buf, for the few attestation extensions
 * (Android KeyDescription, Apple nonce) whose ASN.1 OpenSSL has no type
 * for.  Definite lengths only, as DER requires.
 */
#ifndef RP_DER_H
#define RP_DER_H

#include <stdbool.h>
#include "rp_buf.h"

#define RP_DER_CLASS_UNIVERSAL	0x00
#define RP_DER_CLASS_CONTEXT	0x80

struct rp_der {
	uint8_t cls;		/* top two bits of the identifier */
	bool constructed;
	uint32_t tag;		/* number, high-tag form decoded */
	struct rp_buf body;	/* the contents, bounded */
};

/* Reads one TLV; false on any malformation or overrun. */
bool rp_der_next(struct rp_buf *b, struct rp_der *out);

#endif
