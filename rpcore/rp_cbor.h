/*
 * CBOR under the profile WebAuthn needs, on top of libcbor.
 *
 * libcbor decodes permissively: indefinite lengths, repeated map keys and
 * unbounded nesting all load.  The scanner here walks the encoded item
 * first, through the bounded reader, and refuses each of those with a named
 * code; only an item that passed is handed to cbor_load().  Map keys must be
 * integers or strings in shortest form, so equal keys have equal bytes.
 * Tags, unassigned simple values and text that is not UTF-8 are refused:
 * CTAP2 forbids the first, and libcbor rejects all three.
 */
#ifndef RP_CBOR_H
#define RP_CBOR_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <cbor.h>

#define RP_CBOR_MAX_DEPTH	16	/* nested arrays, maps and tags */
#define RP_CBOR_MAX_MAP_PAIRS	64	/* no WebAuthn map comes close */

/* Checks the one item at the start of p; *item_len is its encoded size. */
int rp_cbor_scan(const uint8_t *p, size_t len, size_t *item_len);
/* Scans and loads the item at the start of p; *used is its size. */
int rp_cbor_load_prefix(const uint8_t *p, size_t len, cbor_item_t **item, size_t *used);
/* Scans and loads an item that must fill p exactly. */
int rp_cbor_load(const uint8_t *p, size_t len, cbor_item_t **item);

/* Map look-ups; NULL when absent.  The map must have passed the scanner. */
cbor_item_t *rp_cbor_map_get_str(const cbor_item_t *map, const char *key);
cbor_item_t *rp_cbor_map_get_int(const cbor_item_t *map, int64_t key);
/* An integer item (major type 0 or 1) as int64; false if out of range. */
bool rp_cbor_get_int(const cbor_item_t *item, int64_t *v);
/* A definite byte string's bytes; false if the item is not one. */
bool rp_cbor_get_bytes(const cbor_item_t *item, const uint8_t **p, size_t *len);
/* True if the item is a text string equal to s. */
bool rp_cbor_is_text(const cbor_item_t *item, const char *s);

#endif /* RP_CBOR_H */
