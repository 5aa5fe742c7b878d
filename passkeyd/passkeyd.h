/*
 * The daemon's shared state.  passkeyd is one thread with one event loop:
 * HTTP (libmicrohttpd, external polling) and the control socket are served
 * in turn, so the ceremony table and the store need no locks.  Store
 * writes are queued in the journal and committed once per loop turn.
 */
#ifndef PASSKEYD_H
#define PASSKEYD_H

#include <stdint.h>
#include <time.h>

#include "aaguid.h"
#include "ceremony.h"
#include "config.h"
#include "journal.h"
#include "offload.h"
#include "keycache.h"
#include "metrics.h"
#include "passkey_rp.h"
#include "ratelimit.h"
#include "share.h"
#include "store.h"
#include "wallclock.h"

struct control_server;
struct http_server;

#define HOST_BUDGETS	64	/* hosts past it share the least recently used budgets */

struct passkeyd {
	struct config cfg;
	store_t *store;
	rp_policy_t *policy;
	struct ceremony_table *ceremonies;
	struct journal *journal;
	struct offload *offload;	/* a fleet's store calls off the loop, or NULL */
	/*
	 * While an offload worker's or a journal writer's answer is handled:
	 * what its own connection said (store_errmsg_new), for the log; else
	 * NULL, and errors are d->store's.
	 */
	const char *store_words;
	struct keycache *keys;		/* parsed public keys per credential */
	/* the host's own addresses (hostaddrs.h); NULL: not looked at (the fuzzers) */
	struct hostaddrs *hostaddrs;
	struct wallclock wall;		/* windows' clock (wallclock.h), on the loop only */
	struct aaguid_table *aaguids;	/* authenticator names, for people */
	struct metrics *metrics;	/* numbers for Prometheus (metrics.h) */
	struct metrics_server *metrics_server;	/* its listener, or NULL */
	struct control_server *control;
	struct share manage_share;	/* the loop's time for listings (share.h) */
	struct http_server *http;
	int log_to_syslog;
	/* audit rows that outside input causes (refusals, replays, page reports) */
	struct rate audit_noise;
	/* repeated log lines (failed TLS handshakes, store failures) */
	struct rate log_noise;
	/*
	 * In a fleet, the ends written here of another instance's ceremonies
	 * (a Deny at the page, a failed finish), per host: a host makes its
	 * own rows, so it could drive such rows at will (events.c)
	 */
	struct host_budget {
		char host[254];
		struct rate r;
	} host_budgets[HOST_BUDGETS];
	int64_t last_report_ms;	/* when suppressed counts were last reported */
	/* per-account budgets of the control socket (control_ops.c) */
	struct rate_table *control_rates;
	uint64_t control_rate_refusals;
	uid_t control_rate_last_uid;
	/* the store holds the ceremonies too (PostgreSQL: fleet.h) */
	int fleet;
	int stopping;	/* the loop has ended: what is left is closing down (main.c) */
	char instance[STORE_INSTANCE_MAX + 1];	/* fleet_instance_init */
	int fleet_sweeping;	/* its expiry is off the loop (fleet_tick) */
	int64_t store_slow_until_ms;	/* flow_store_slow (flow.h) */
	/* this instance's role may write the audit log (a host's may not) */
	int audit_rows;
};

/* One audit event: a line in the daemon's log and a row in the store. */
struct event_rec {
	const char *event;	/* e.g. "login_approved" */
	const char *user, *rhost, *service;
	const char *verdict;	/* ok, refused, fail, deny, info, warn */
	const char *reason;	/* a stable code, or NULL */
	const char *detail;	/* free text, or NULL */
	const struct ceremony *c;	/* gives the token prefix; NULL for none */
	const char *token;	/* else this token prefix (a reuse names its approval's) */
	/*
	 * Caused by outside input that can repeat at will (a refused begin, a
	 * replayed finish, a page's report): such rows share a rate budget,
	 * and what is over it is counted in one audit_suppressed row instead.
	 */
	int noisy;
};

/* events.c */
void event_log(struct passkeyd *d, const struct event_rec *e);
/* The log line only: for a row written with other changes (event_to_store). */
void event_print(struct passkeyd *d, const struct event_rec *e);
void event_to_store(const struct event_rec *e, struct store_event *out);
/* Once a second: reports what budgets suppressed and rows that were lost. */
void events_tick(struct passkeyd *d, int64_t now_ms);
void daemon_log(struct passkeyd *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/*
 * The refusal a failed store call means (busy, unavailable, or an error);
 * the store's own reason goes to the log, under the log's noise budget.
 */
enum ctl_refusal store_refusal(struct passkeyd *d, store_err_t err);
/* daemon_log under the log_noise budget: for lines a client can cause. */
void daemon_log_noisy(struct passkeyd *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
