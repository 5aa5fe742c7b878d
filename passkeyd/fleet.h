/*
 * The fleet: with a PostgreSQL store, ceremonies live in the database as
 * well as here, so that any passkeyd instance can take any step of any
 * host's login.  The SSH host's own instance begins the ceremony (and
 * keeps it in its table, where its PAM module asks); a web instance
 * serving the page reads it from the store ("adopts" it, ceremony.h) and
 * decides it there; the decision reaches the host by a change notice, or
 * by reading the row again when the module asks.
 *
 * The store is the referee: a state changes only by a conditional update
 * from the state seen (store_ceremony_move), so two instances acting on
 * one ceremony cannot both succeed, and the fleet's limits are the
 * database's.  What is here is the translation between the two copies.
 * With SQLite, d->fleet is 0 and none of this runs.
 */
#ifndef PASSKEYD_FLEET_H
#define PASSKEYD_FLEET_H

#include "passkeyd.h"

/*
 * Writes a new ceremony of ours to the store, under the fleet's limits:
 * CTL_REFUSAL_NONE, a limit's refusal, or the store's failure.
 */
enum ctl_refusal fleet_publish(struct passkeyd *d, struct ceremony *c);
/* The row fleet_publish writes (its strings are c's). */
void fleet_row_of(const struct ceremony *c, struct store_ceremony *row);
/* What the row's INSERT answered (err, and the admit trigger's refusal code). */
enum ctl_refusal fleet_published(struct passkeyd *d, store_err_t err, const char *refusal);

/*
 * A ceremony by token: ours, or another instance's read from the store
 * and taken into the table.  One known here is returned as it is: the
 * caller brings it up to date (flow_refresh) before acting on it.  NULL
 * for none, with *unavailable set when the store could not be asked.
 */
struct ceremony *fleet_find(struct passkeyd *d, const char *token, int *unavailable);
/*
 * Takes in another instance's ceremony from its row, read off the loop
 * (err: the read's result); NULL as fleet_find says it.
 */
struct ceremony *fleet_adopt(struct passkeyd *d, const char *token, store_err_t err,
    const struct store_ceremony *row, int *unavailable);

/* Reads the ceremony's row again and follows it; 0 when it could not. */
int fleet_refresh(struct passkeyd *d, struct ceremony *c);
/*
 * Follows a row read off the loop (err: the read's result, row valid
 * when STORE_OK), as fleet_refresh does; 0 when there was no row.
 */
int fleet_follow_row(struct passkeyd *d, struct ceremony *c, store_err_t err,
    const struct store_ceremony *row);

/* store_ceremony_move for c, at now (on st: inside a journal entry too). */
store_err_t fleet_move(store_t *st, const struct ceremony *c, enum ctl_state from,
    enum ctl_state to, const char *reason);

/* The change notices that arrived: each of ours named is read again. */
void fleet_notices(struct passkeyd *d);
int fleet_notice_fd(struct passkeyd *d);

/*
 * This process's name for the store (store_set_instance), drawn at
 * start: every connection of one passkeyd says the same, so that a
 * ceremony it made and then decided itself wakes no listener.
 * fleet_instance_of gives it to a connection; with SQLite it does nothing.
 */
int fleet_instance_init(struct passkeyd *d);
void fleet_instance_of(struct passkeyd *d, store_t *st);
/*
 * Sends the notices of what this instance decided, on any of its
 * connections, without waiting (store_announce): each turn of the loop.
 */
void fleet_announce(struct passkeyd *d);

/* Once a second: expires what is past due and forgets old final rows. */
void fleet_tick(struct passkeyd *d);

#endif
