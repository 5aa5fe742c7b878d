/*
 * A page step's store reads, done off the loop before the step runs
 * (offload.h).  On a fleet's instance, a page's options need the user's
 * passkeys, a login's finish needs the passkey its assertion names, and a
 * step on another instance's ceremony needs its row: page_reads_start
 * hands those reads to an offload worker, and the HTTP layer suspends the
 * request until they return.  The step then runs on the loop as it would
 * have, with what was read (flow.h's functions take it; NULL there means
 * "read now").  What is read is only as old as the hand-off: the
 * ceremony's state is checked again on the loop, the row is only ever
 * followed forward (fleet.c), and an approval is decided by the store
 * in its own transaction (a counter's compare-and-set, pending -> approved).
 */
#ifndef PASSKEYD_PAGE_READS_H
#define PASSKEYD_PAGE_READS_H

#include <stddef.h>

#include "ceremony.h"
#include "passkey_rp.h"
#include "store.h"

struct passkeyd;

/* The page's steps, as far as their reads go. */
enum page_step {
	PAGE_OPTIONS,
	PAGE_FINISH,
	PAGE_DENY,	/* only an unknown ceremony's row: its move reads a decided one */
	PAGE_CANCEL,	/* the browser gave up: the row of one not begun here */
};

struct page_reads {
	char token[CEREMONY_TOKEN_LEN + 1];
	uint8_t hash[CEREMONY_HASH_LEN];
	enum page_step step;
	char *user;		/* the ceremony's user, when it is known here */
	int kind;		/* enum ceremony_kind when known here, else -1 */
	/*
	 * What was read (*_read) and the store's answer: the ceremony's row
	 * (another instance's ceremony), the passkeys of creds_user (options),
	 * the passkey the assertion names and its user's handle (a login's
	 * finish).  Set by the worker; the loop reads them after done.
	 */
	int want_row, row_read;
	store_err_t row_err;
	struct store_ceremony row;
	int creds_read;
	const char *creds_user;
	store_err_t creds_err;
	struct store_credential_list creds;
	int cred_read;
	store_err_t cred_err;
	struct store_credential cred;
	unsigned char handle[STORE_USER_HANDLE_LEN];	/* also a registration's, below */
	/*
	 * A registration's options: its user handle, chosen and fixed in the
	 * row (flow_choose_handle) when the ceremony had none (want_handle).
	 */
	int want_handle, handle_read;
	store_err_t handle_err;
	rp_response_t *resp;	/* finish: the body, parsed once */
	/*
	 * A finish for a token unknown here: its body, parsed by the worker
	 * only once the row says a login is pending (the suspended request
	 * keeps it until done).  On the loop a made-up token's 64 KiB of
	 * JSON would cost milliseconds a request.
	 */
	const char *body;
	size_t body_len;
	char *words;		/* the worker's connection's words for an error, or NULL */
	void (*done)(struct passkeyd *d, void *arg);
	void *arg;
};

/*
 * Hands the step's reads off: returns 1 and done(d, arg) follows on the
 * loop, with *out set (the caller frees it once the step has run); 0
 * when the step reads nothing off the loop (not a fleet, no worker,
 * nothing to read): run it as it is; -1 when a token unknown here would
 * have its row read but the workers' queue is full (a slow server, or a
 * flood): answer store_busy, never read it on the loop, where anyone's
 * made-up tokens would each hold every login for a statement's bound.
 */
int page_reads_start(struct passkeyd *d, const char *token, enum page_step step,
    const char *body, size_t len, void (*done)(struct passkeyd *d, void *arg), void *arg,
    struct page_reads **out);
void page_reads_free(struct page_reads *p);
/*
 * The words of the worker's connection for an error its reads met (NULL:
 * none, or p is): the step that uses what was read logs them
 * (d->store_words), not the loop connection's.
 */
const char *page_reads_words(const struct page_reads *p);

#endif
