/*
 * The account names of the control socket's unprivileged callers, and
 * the accounts root's requests name, looked up off the loop and kept.
 *
 * A non-root caller's ops act on its own account (list, register_begin,
 * ...), named by NSS from the uid SO_PEERCRED gave.  With a slow
 * directory (LDAP through nslcd, no nscd) one lookup takes as long as the
 * directory does, and a hung one as long as its timeout.  On the loop,
 * that let a local user stall every login on the host by opening
 * connections (and with /etc/subuid, as many uids as it owns).  So:
 *   - a resolver thread does the lookups, one at a time, started on the
 *     first (a thread does not cross the daemon's fork);
 *   - the loop asks the table: a known name answers at once; an unknown
 *     one is queued, and the caller's request waits in its buffer
 *     (ACCOUNT_NAME_WAIT) until the resolver answers through its pipe;
 *   - the wait is bounded: a full queue, or a lookup out longer than
 *     ACCOUNT_NAMES_WAIT_MS, makes the request ACCOUNT_NAME_BUSY (the
 *     caller is answered `directory_busy`); root never needs its own.
 * Answers are kept per uid for ACCOUNT_NAMES_TTL_S, "no such account"
 * too; a failed lookup (an NSS error) is BUSY for ACCOUNT_NAMES_ERROR_TTL_S.
 * The resolver takes the newest queued job first; a full queue gives its
 * oldest queued job's place to a new uid once that job is older than the
 * wait (its askers were answered already): after a flood of uids, a
 * new caller is not made to wait behind the flood's abandoned lookups.
 * The price is freshness: a uid renamed, or deleted and given to another
 * account, keeps its old name for up to ACCOUNT_NAMES_TTL_S (nscd's
 * default keeps it 600 s).  The table is direct-mapped and bounded
 * (ACCOUNT_NAMES_SLOTS); uids that share a slot just look up more often,
 * on the resolver, not on the loop.
 *
 * Root's requests that name an account in "user" (enroll, a listing of
 * one user, a login_begin the caller did not resolve) need the account's
 * own spelling (pw_name: a case-insensitive NSS maps "ALICE" to "alice")
 * or to know it has none: a second resolver looks the name up, with a
 * queue of its own (no local account's lookups can hold root's back or
 * fill its queue) and the same bounds.  An account found is kept
 * ACCOUNT_NAMES_TTL_S, as a uid's name (root paging through one user's
 * passkeys asks again for every page); "no such account", or a failure,
 * only ACCOUNT_NAMES_BY_NAME_TTL_MS (an account root has just added is
 * seen at once).
 */
#ifndef PASSKEYD_ACCOUNT_NAMES_H
#define PASSKEYD_ACCOUNT_NAMES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ACCOUNT_NAMES_SLOTS	256
#define ACCOUNT_NAMES_QUEUE	64	/* uids being looked up at once, queued or running */
#define ACCOUNT_NAMES_TTL_S	30
#define ACCOUNT_NAMES_ERROR_TTL_S 2
#define ACCOUNT_NAMES_WAIT_MS	3000
#define ACCOUNT_NAMES_BY_NAME_SLOTS ACCOUNT_NAMES_QUEUE	/* a whole queue's answers at once */
#define ACCOUNT_NAMES_BY_NAME_TTL_MS 1000
#define ACCOUNT_NAMES_STOP_MS	500

enum account_name_state {
	ACCOUNT_NAME_KNOWN,	/* out holds it ("" for no account) */
	ACCOUNT_NAME_WAIT,	/* being looked up: ask again after account_names_collect */
	ACCOUNT_NAME_BUSY,	/* the queue is full, this uid's lookup runs too long, or NSS failed */
	ACCOUNT_NAME_UNSURE,	/* by name only: no entry, but said with ENOENT or ESRCH,
				 * which is "no such account" or a directory down */
};

struct account_names;

struct account_names *account_names_new(void);
/*
 * Stops the resolvers.  A lookup in flight is waited for at most
 * ACCOUNT_NAMES_STOP_MS (a stop or restart must not wait for a directory
 * that hangs); past that, the last resolver to end frees n, and this
 * returns 1: a process that ends now must do so with _exit(2), since
 * exit(3)'s destructors would race with the resolver still inside NSS.
 */
int account_names_free(struct account_names *n);

/*
 * uid's account name into out ("" when it has none, or an unsafe one) at
 * now_ms (a monotonic clock): KNOWN while the kept answer is fresh, else
 * the lookup is queued (or already out) and the answer is WAIT or BUSY.
 */
enum account_name_state account_names_get(struct account_names *n, uid_t uid,
    int64_t now_ms, char *out, size_t len);
/* The same from the table alone: WAIT (and out "") where get would ask NSS. */
enum account_name_state account_names_peek(struct account_names *n, uid_t uid,
    int64_t now_ms, char *out, size_t len);
/*
 * The account the name asked gives, into out: its pw_name, "" when there
 * is no such account (or it has an unsafe name); states as above.
 */
enum account_name_state account_names_get_account(struct account_names *n,
    const char *asked, int64_t now_ms, char *out, size_t len);
/* Readable when the resolver has answered; -1 before it started. */
int account_names_poll_fd(const struct account_names *n);
/* Keeps the resolver's answers; returns how many came. */
size_t account_names_collect(struct account_names *n, int64_t now_ms);
/* Lookups the resolver has done (for tests). */
uint64_t account_names_lookups(struct account_names *n);

/* NSS's answers now, on the calling thread, nothing kept (the fuzzer). */
void account_name_lookup(uid_t uid, char *out, size_t len);
enum account_name_state account_lookup(const char *asked, char *out, size_t len);

#endif
