/*
 * Credential management ops of the control socket (PROTOCOL.md): list,
 * rename, remove, export, the audit log and enrollment revocation.  The
 * op table (control_ops.c) has already decided who may call them; each
 * handler decides which passkeys its caller may name.
 */
#ifndef PASSKEYD_MANAGE_H
#define PASSKEYD_MANAGE_H

#include <jansson.h>
#include <sys/types.h>

#include "control_ops.h"
#include "strbuf.h"

/* A passkey's short ID: the first hex digits of SHA-256(credential ID). */
#define MANAGE_ID_HEX	12
/* The shortest prefix of it a command accepts. */
#define MANAGE_ID_MIN	6

/*
 * The account a request is about: the caller's own; another one (or all,
 * NULL when "user" is absent) only for root.  *refused says why not.
 */
const char *manage_subject(const struct op_ctx *x, enum ctl_refusal *refused);

/*
 * The account root's request names, into out: as NSS spells it
 * (op_account), else as typed.  Returns op_account's refusal: NONE,
 * UNKNOWN_USER or DIRECTORY_BUSY (out holds the typed name), or NONE
 * with x->call->needs_account set (out empty: not run yet, return NULL).
 * *unsure: the typed name is used because NSS could not say for sure
 * (op_account_unsure), so finding nothing under it proves nothing.
 */
enum ctl_refusal manage_account(const struct op_ctx *x, const char *typed,
    char out[CTL_USER_MAX + 1], int *unsure);

/*
 * One page of a listing as one answer line, {"ok":true,"KEY":[...],...},
 * each item serialized once: it goes into the line as it is, and the
 * control layer sends the line without serializing the page again.  An
 * item is left out (and the page ends) when it would take the line past
 * MANAGE_PAGE_BUDGET bytes, unless it is the first.
 */
#define MANAGE_PAGE_BUDGET	6500	/* of the 8192 a line may hold */
struct manage_page {
	struct strbuf b;
	size_t n, used;
};
void manage_page_start(struct manage_page *p, const char *key);
/* Adds o (consumed): 1, or 0 when it does not fit or memory ran out. */
int manage_page_add(struct manage_page *p, json_t *o);
/*
 * Closes the page, with `tail` (further members as JSON text, or NULL)
 * after the array, into *text (the answer's line): NULL, or a refusal.
 */
json_t *manage_page_end(struct manage_page *p, const char *tail, char **text);

void manage_short_id(const unsigned char *id, size_t len, char out[MANAGE_ID_HEX + 1]);

json_t *manage_list(struct op_ctx *x);
json_t *manage_rename(struct op_ctx *x);
json_t *manage_remove(struct op_ctx *x);
json_t *manage_export(struct op_ctx *x);
json_t *manage_events(struct op_ctx *x);
json_t *manage_revoke_enrollment(struct op_ctx *x);


#endif
