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

/*
 * The type checks both extension readers make, kept here so that each
 * rule is written once.  A type is its class and number together, and
 * DER fixes whether its encoding is constructed: a value that differs in
 * any of the three is some other type, and its contents are not read as
 * the field the schema puts there.
 */

/*
 * A SEQUENCE (16) or SET OF (17): universal and constructed (X.690
 * §8.9.1, §8.12.1).
 */
bool rp_der_is_universal_constructed(const struct rp_der *d, uint32_t tag);

/*
 * An INTEGER (2) or OCTET STRING (4): universal and primitive (X.690
 * §8.3.1; §10.2, DER has no constructed OCTET STRING).
 */
bool rp_der_is_universal_primitive(const struct rp_der *d, uint32_t tag);

/*
 * The value under an [n] EXPLICIT tag, whose class and number the caller
 * has matched.  Its encoding is constructed and its contents are the
 * complete encoding of exactly one value (X.690 §8.14).  Anything after
 * that value, a second origin or a second nonce, would go unread, so it
 * is refused rather than skipped.
 */
bool rp_der_explicit_inner(struct rp_der *tagged, struct rp_der *inner);

#endif
