#include <stdlib.h>
#include <string.h>

#include "flow.h"
#include "offload.h"
#include "page_reads.h"
#include "passkeyd.h"

/*
 * The step's passkey reads did not happen (err): say so, so that the step
 * fails with the store's reason rather than read them on the loop.  Only
 * for a ceremony known here (its user): one read from its row alone has
 * no step left once its row is missing.
 */
static void
reads_failed(struct page_reads *p, store_err_t err)
{
	if (p->user == NULL)
		return;
	if (p->step == PAGE_OPTIONS) {
		p->creds_read = 1;
		p->creds_user = p->user;
		p->creds_err = err;
	} else if (p->step == PAGE_FINISH && p->kind == CEREMONY_LOGIN && p->resp != NULL) {
		p->cred_read = 1;
		p->cred_err = err;
	}
}

/* On an offload worker: only p and the store. */
static store_err_t
reads_call(store_t *st, void *arg)
{
	struct page_reads *p = arg;
	const char *user = p->user;
	int kind = p->kind;

	if (p->want_row) {
		p->row_read = 1;
		if ((p->row_err = store_ceremony_get(st, p->hash, &p->row)) != STORE_OK) {
			if (p->row_err != STORE_ERR_NOT_FOUND)
				reads_failed(p, p->row_err);
			return STORE_OK;
		}
		/* decided already: the step answers without passkeys */
		if (strcmp(p->row.state, "pending") != 0)
			return STORE_OK;
		user = p->row.user;
		kind = p->row.kind ? CEREMONY_REGISTER : CEREMONY_LOGIN;
		/* pure (the RP core has no I/O): no worse here than on the loop */
		if (p->step == PAGE_FINISH && kind == CEREMONY_LOGIN && p->body != NULL)
			(void)rp_response_from_json(p->body, p->body_len, &p->resp);
	}
	if (user == NULL)
		return STORE_OK;
	if (p->step == PAGE_OPTIONS) {
		p->creds_read = 1;
		p->creds_user = user;
		p->creds_err = store_cred_list_user(st, user, &p->creds);
		if (p->creds_err == STORE_OK && kind == CEREMONY_REGISTER &&
		    (p->want_row ? !p->row.has_handle : p->want_handle)) {
			p->handle_read = 1;
			p->handle_err = flow_choose_handle(st, user, p->hash, p->handle);
		}
	} else if (p->step == PAGE_FINISH && kind == CEREMONY_LOGIN && p->resp != NULL) {
		p->cred_read = 1;
		p->cred_err = store_cred_get_for_login(st, rp_response_raw_id_ptr(p->resp),
		    rp_response_raw_id_len(p->resp), &p->cred, p->handle);
	}
	return STORE_OK;
}

static void
reads_done(struct passkeyd *d, void *arg, store_err_t result)
{
	struct page_reads *p = arg;

	/* not run at all (it waited too long, the daemon stopping): nothing was read */
	if (result != STORE_OK) {
		p->row_read = p->want_row;
		p->row_err = result;
		reads_failed(p, result);
	}
	flow_store_trouble(d, p->row_read ? p->row_err : STORE_OK);
	flow_store_trouble(d, p->creds_read ? p->creds_err : STORE_OK);
	flow_store_trouble(d, p->cred_read ? p->cred_err : STORE_OK);
	flow_store_trouble(d, p->handle_read ? p->handle_err : STORE_OK);
	if (d->store_words != NULL)
		p->words = strdup(d->store_words);
	p->done(d, p->arg);
}

/*
 * Whether the step on this ceremony reads the store at all (flow.c).  A
 * token nobody here knows is read off the loop for every step, so that
 * made-up tokens cost the loop nothing.  A deny on a known one reads
 * nothing first: its move, off the loop too, is conditional, and reads
 * the row only when another instance decided first (flow_deny_later).
 */
static int
reads_anything(const struct passkeyd *d, const struct ceremony *c, enum page_step step)
{
	if (c == NULL)
		return 1;	/* its row */
	if (step == PAGE_DENY)
		return 0;
	if (step == PAGE_CANCEL)	/* flow_refresh_page's read, which skips it when slow */
		return c->foreign && c->state == CTL_STATE_PENDING && !c->committing &&
		    !flow_store_slow(d);
	if (c->foreign)
		return 1;
	if (c->state != CTL_STATE_PENDING || c->committing)
		return 0;	/* answered from its state */
	return step == PAGE_OPTIONS || c->kind == CEREMONY_LOGIN;
}

int
page_reads_start(struct passkeyd *d, const char *token, enum page_step step,
    const char *body, size_t len, void (*done)(struct passkeyd *d, void *arg), void *arg,
    struct page_reads **out)
{
	struct ceremony *c;
	struct page_reads *p;

	*out = NULL;
	if (!d->fleet || !offload_ready(d->offload) || !ceremony_token_valid(token))
		return 0;
	c = ceremony_find(d->ceremonies, token);
	if (!reads_anything(d, c, step) || (p = calloc(1, sizeof(*p))) == NULL)
		return 0;
	memcpy(p->token, token, sizeof(p->token));
	ceremony_token_hash(token, p->hash);
	p->step = step;
	p->kind = c != NULL ? c->kind : -1;
	p->want_row = c == NULL || c->foreign;
	p->want_handle = c != NULL && c->kind == CEREMONY_REGISTER && !c->has_handle;
	p->done = done;
	p->arg = arg;
	/*
	 * A body that does not parse is refused by the step, with its reason:
	 * no passkey to read for it, but the row still is (flow_refresh_page).
	 * A token unknown here has its body parsed by the worker, only when
	 * its row is a pending login: made-up tokens cost the loop nothing.
	 */
	if (step == PAGE_FINISH && c == NULL) {
		p->body = body;
		p->body_len = len;
	} else if (step == PAGE_FINISH && rp_response_from_json(body, len, &p->resp) != RP_OK &&
	    !p->want_row) {
		page_reads_free(p);
		return 0;
	}
	if ((c != NULL && (p->user = strdup(c->user)) == NULL) ||
	    offload_add(d->offload, reads_call, reads_done, p) != 0) {
		page_reads_free(p);
		return c == NULL ? -1 : 0;
	}
	*out = p;
	return 1;
}

void
page_reads_free(struct page_reads *p)
{
	if (p == NULL)
		return;
	if (p->row_read && p->row_err == STORE_OK)
		store_ceremony_free(&p->row);
	if (p->creds_read && p->creds_err == STORE_OK)
		store_credential_list_free(&p->creds);
	if (p->cred_read && p->cred_err == STORE_OK)
		store_credential_free(&p->cred);
	explicit_bzero(p->handle, sizeof(p->handle));
	rp_response_free(&p->resp);
	free(p->words);
	free(p->user);
	free(p);
}

const char *
page_reads_words(const struct page_reads *p)
{
	return p != NULL ? p->words : NULL;
}
