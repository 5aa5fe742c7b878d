/*
 * Numbers for Prometheus (the text exposition format, version 0.0.4), on
 * a listener of their own (config key metrics_listen), never on the page
 * port.  Everything is counted on the loop and read on the loop, so no
 * counter is shared with another thread: the journal's writers hand their
 * commit times back with their batches.
 *
 * What is counted comes from the places every outcome already passes:
 * the audit events (events.c) give the ceremonies by kind, outcome and
 * reason and the refusals by reason; the verifier's time, the store's
 * commits and errors, and the control socket's throttling are observed
 * where they happen.  Label values are codes from the code's own tables;
 * anything else is counted as "other", so a client cannot grow the set.
 */
#ifndef PASSKEYD_METRICS_H
#define PASSKEYD_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "store.h"

struct passkeyd;
struct metrics;
struct event_rec;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/* An audit event (every ceremony end, every refusal passes here). */
void metrics_event(struct metrics *m, const struct event_rec *e);
/* The RP core's verification of one browser answer, in seconds. */
void metrics_verify(struct metrics *m, double seconds);
/* One journal batch: its commit time, and its result. */
void metrics_commit(struct metrics *m, double seconds, store_err_t result);
/* A store error answered to someone (store_refusal). */
void metrics_store_error(struct metrics *m, store_err_t err);
/* A control request refused by the caller's budget. */
void metrics_throttled(struct metrics *m, uid_t uid);

/* The exposition text (the caller frees it), or NULL. */
char *metrics_render(struct passkeyd *d, size_t *len);

/* The listener: NULL with err when it cannot start. */
struct metrics_server;
struct metrics_server *metrics_server_start(struct passkeyd *d, char *err, size_t errlen);
void metrics_server_stop(struct metrics_server *s);
int metrics_server_poll_fd(struct metrics_server *s);
void metrics_server_run(struct metrics_server *s);

#endif
