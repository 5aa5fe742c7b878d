/*
 * The daemon's shared state.  passkeyd is one thread with one event loop:
 * HTTP (libmicrohttpd, external polling) and the control socket are served
 * in turn, so the ceremony table and the store need no locks.
 */
#ifndef PASSKEYD_H
#define PASSKEYD_H

#include <time.h>

#include "ceremony.h"
#include "config.h"
#include "passkey_rp.h"
#include "store.h"

struct passkeyd {
	struct config cfg;
	store_t *store;
	rp_policy_t *policy;
	struct ceremony_table *ceremonies;
	int log_to_syslog;
};

/* events.c: one line per event on the log, one row in the store's audit log. */
void event_log(struct passkeyd *d, const char *event, const char *user,
    const char *rhost, const char *verdict, const char *reason,
    const struct ceremony *c, const char *detail);
void daemon_log(struct passkeyd *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
