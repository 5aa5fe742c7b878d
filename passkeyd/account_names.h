/*
 * The account names of the control socket's unprivileged callers.
 *
 * A non-root caller's ops act on its own account (list, register_begin,
 * ...), named by NSS from the uid SO_PEERCRED gave.  That lookup runs on
 * the loop, and with a slow directory (LDAP through nslcd, no nscd) one
 * takes as long as the directory does: a local user who opened new
 * connections in a loop would hold the loop in NSS, and every login on
 * the host with it.  So answers, found or not, are kept per uid for
 * ACCOUNT_NAMES_TTL_S: a uid costs the loop one lookup per TTL, however
 * many connections it opens.  A local user presents only its own uid, so
 * it cannot make the loop look up more than that.
 *
 * The price is freshness: a uid renamed, or deleted and given to another
 * account, keeps its old name here for up to ACCOUNT_NAMES_TTL_S (nscd's
 * default keeps it 600 s).  The cache is direct-mapped and bounded
 * (ACCOUNT_NAMES_SLOTS); two uids in one slot just look up more often.
 */
#ifndef PASSKEYD_ACCOUNT_NAMES_H
#define PASSKEYD_ACCOUNT_NAMES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ACCOUNT_NAMES_SLOTS	256
#define ACCOUNT_NAMES_TTL_S	30

struct account_names;

struct account_names *account_names_new(void);
void account_names_free(struct account_names *n);

/*
 * uid's account name into out ("" when it has none, or an unsafe one):
 * the cached answer while it is at most ACCOUNT_NAMES_TTL_S old at now_ms
 * (a monotonic clock), else NSS's, kept.  Without a cache (n == NULL),
 * NSS's every time.
 */
void account_names_get(struct account_names *n, uid_t uid, int64_t now_ms, char *out,
    size_t len);
/* Lookups that went to NSS since account_names_new (for tests). */
uint64_t account_names_lookups(const struct account_names *n);

#endif
