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

/* A passkey's short ID: the first hex digits of SHA-256(credential ID). */
#define MANAGE_ID_HEX	12
/* The shortest prefix of it a command accepts. */
#define MANAGE_ID_MIN	6

/*
 * The account a request is about: the caller's own; another one (or all,
 * NULL when "user" is absent) only for root.  *refused says why not.
 */
const char *manage_subject(const struct op_ctx *x, enum ctl_refusal *refused);

void manage_short_id(const unsigned char *id, size_t len, char out[MANAGE_ID_HEX + 1]);

json_t *manage_list(struct op_ctx *x);
json_t *manage_rename(struct op_ctx *x);
json_t *manage_remove(struct op_ctx *x);
json_t *manage_export(struct op_ctx *x);
json_t *manage_events(struct op_ctx *x);
json_t *manage_revoke_enrollment(struct op_ctx *x);


#endif
