/*
 * The login and registration flow, independent of transport: the control
 * socket (PAM module, CLI) and the HTTP API (the browser) both call these.
 * Functions that can refuse return NULL on success or a stable error code
 * (PROTOCOL.md, HTTP.md).
 */
#ifndef PASSKEYD_FLOW_H
#define PASSKEYD_FLOW_H

#include <jansson.h>
#include <sys/types.h>

#include "passkeyd.h"

enum enroll_mode { ENROLL_NONE, ENROLL_PENDING, ENROLL_AFTER_AUTH };

const char *flow_login_begin(struct passkeyd *d, const char *user,
    const char *rhost, const char *service, enum enroll_mode mode,
    struct ceremony **out);
const char *flow_enroll(struct passkeyd *d, const char *user,
    unsigned lifetime, const char *by, struct ceremony **out);
const char *flow_register_begin(struct passkeyd *d, const char *user,
    uid_t owner, struct ceremony **out);

/* Expires c first when its time is up. */
void flow_refresh(struct passkeyd *d, struct ceremony *c);

/*
 * The verdict for the PAM module: the state name.  The first call that
 * sees "approved" consumes the ceremony.
 */
const char *flow_status(struct passkeyd *d, struct ceremony *c);
void flow_cancel(struct passkeyd *d, struct ceremony *c);

/* For the page: the PublicKeyCredential*OptionsJSON, or NULL with *err. */
json_t *flow_options(struct passkeyd *d, struct ceremony *c, const char **err);
/* The browser's answer; returns NULL when approved, else the reason. */
const char *flow_finish(struct passkeyd *d, struct ceremony *c,
    const char *body, size_t len);
void flow_deny(struct passkeyd *d, struct ceremony *c);
void flow_client_cancelled(struct passkeyd *d, struct ceremony *c,
    const char *dom_error);

/* ceremony_sweep callback: logs the expiry. */
void flow_on_expire(struct ceremony *c, void *passkeyd);

#endif
