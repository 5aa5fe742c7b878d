/*
 * Re-approval windows on the control socket (PROTOCOL.md "sessions",
 * "sessions_revoke"): a user lists and ends their own windows, root
 * anyone's.  The op table (control_ops.c) has already said who may call.
 */
#ifndef PASSKEYD_SESSIONS_H
#define PASSKEYD_SESSIONS_H

#include <jansson.h>

#include "control_ops.h"

json_t *sessions_list(struct op_ctx *x);
json_t *sessions_revoke(struct op_ctx *x);

#endif
