/*
 * Parsed public keys, kept per credential so that a login does not rebuild
 * the key and its curve from the stored COSE bytes each time (a tenth of
 * a login's instructions).  Bounded (KEYCACHE_MAX entries, the oldest goes
 * first), and never stale: an entry is used only when the COSE bytes the
 * store holds now are the bytes it was parsed from, so a credential that
 * changed is parsed again and one that was removed is never looked up.
 */
#ifndef PASSKEYD_KEYCACHE_H
#define PASSKEYD_KEYCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "passkey_rp.h"

#define KEYCACHE_MAX	4096

struct keycache;

struct keycache *keycache_new(void);
void keycache_free(struct keycache *k);

/*
 * The key for credential id whose stored COSE_Key is cose: from the cache
 * when it was parsed from the same bytes, else parsed now (and kept).
 * Returns an RP core code; *out is borrowed until the next keycache call.
 */
int keycache_get(struct keycache *k, const uint8_t *id, size_t id_len,
    const uint8_t *cose, size_t cose_len, const rp_pubkey_t **out);
/* Drops the credential's entry (removed or replaced). */
void keycache_forget(struct keycache *k, const uint8_t *id, size_t id_len);
size_t keycache_size(const struct keycache *k);

#endif
