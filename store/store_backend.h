/*
 * What a store backend provides; not part of the public API.
 *
 * store.c checks every argument before it reaches a backend, so backends
 * may assume valid users, credential IDs and non-NULL outputs that have
 * already been zeroed.  A backend's handle starts with a struct store, so
 * store.c can reach the operations without knowing the rest.
 */
#ifndef PASSKEY_STORE_BACKEND_H
#define PASSKEY_STORE_BACKEND_H

#include "store.h"

/* Longest attestation format name ("packed", "android-safetynet", ...). */
#define STORE_FMT_MAX		32
/* A ceremony's re-approval window, at most (a week; PostgreSQL's migration 3 too). */
#define STORE_REUSE_MAX		604800

struct store_ops {
	const char *name;
	void (*close)(store_t *);
	int (*schema_version)(const store_t *);
	store_err_t (*set_busy_timeout)(store_t *, int);
	store_err_t (*set_lazy_commit)(store_t *, int);	/* NULL: unsupported */
	store_err_t (*set_instance)(store_t *, const char *);	/* NULL: unsupported */
	store_err_t (*set_cache_kib)(store_t *, int);	/* NULL: unsupported */
	const char *(*errmsg)(store_t *);
	/* NULL, both: the backend cannot tell an error since a clear (store.h) */
	void (*errmsg_clear)(store_t *);
	const char *(*errmsg_new)(store_t *);

	store_err_t (*txn_begin)(store_t *);
	store_err_t (*txn_commit)(store_t *);
	void (*txn_rollback)(store_t *);
	store_err_t (*txn_mark)(store_t *);
	void (*txn_mark_end)(store_t *, int);

	store_err_t (*cred_add)(store_t *, const struct store_credential *);
	store_err_t (*cred_register)(store_t *, const struct store_credential *,
	    const unsigned char[STORE_USER_HANDLE_LEN], int, unsigned, int64_t);
	store_err_t (*cred_get)(store_t *, const unsigned char *, size_t,
	    struct store_credential *);
	/* cred_get and the user's handle (user_handle, create 0), in one query */
	store_err_t (*cred_get_for_login)(store_t *, const unsigned char *, size_t,
	    struct store_credential *, unsigned char[STORE_USER_HANDLE_LEN]);
	/* user NULL: every user's */
	store_err_t (*cred_list_user)(store_t *, const char *,
	    struct store_credential_list *);
	store_err_t (*cred_count_user)(store_t *, const char *, size_t *);
	store_err_t (*cred_page)(store_t *, const char *, int64_t, size_t,
	    struct store_credential_list *);
	store_err_t (*cred_find)(store_t *, const char *, const char *,
	    struct store_credential *, size_t *);
	store_err_t (*cred_record_use)(store_t *, const unsigned char *, size_t,
	    uint32_t, int, int, int64_t, const char *);
	/* NULL: store.c makes it of ceremony_move, cred_record_use and event_add */
	store_err_t (*login_approve)(store_t *, const unsigned char *, int64_t,
	    const struct store_cred_use *, const struct store_event *, int *);
	store_err_t (*cred_rename)(store_t *, const unsigned char *, size_t,
	    const char *);
	/* keep_last: refuse (STORE_ERR_LAST) to remove a user's only one */
	store_err_t (*cred_remove)(store_t *, const unsigned char *, size_t, int);

	store_err_t (*user_handle)(store_t *, const char *, int,
	    unsigned char[STORE_USER_HANDLE_LEN]);

	store_err_t (*enroll_add)(store_t *, const char *, int64_t, const char *);
	store_err_t (*enroll_pending)(store_t *, const char *, int64_t, int *);
	store_err_t (*enroll_remove)(store_t *, const char *);

	store_err_t (*event_add)(store_t *, const struct store_event *);
	store_err_t (*event_list)(store_t *, const char *, size_t, int64_t,
	    struct store_event_list *);
	store_err_t (*event_prune)(store_t *, int64_t, uint64_t, size_t, size_t *);
	store_err_t (*event_count)(store_t *, uint64_t *);

	/* re-approval windows; w->id is made by store.c */
	store_err_t (*window_open)(store_t *, const struct store_window *);
	store_err_t (*window_find)(store_t *, const char *, const char *, const char *,
	    const char *, const char *, int, int64_t, int64_t, struct store_window *);
	store_err_t (*window_use)(store_t *, const char *, int64_t);
	/* user NULL: everyone's */
	/* after is never NULL here; limit is at least 1 (INT64_MAX: all) */
	store_err_t (*window_page)(store_t *, const char *, int64_t,
	    const struct store_window_key *, int64_t, struct store_window_list *);
	/* id NULL: all; user NULL: anyone's */
	store_err_t (*window_revoke)(store_t *, const char *, const char *, size_t *);
	/* user, hostname, source: all given */
	store_err_t (*window_end_source)(store_t *, const char *, const char *, const char *,
	    size_t *);

	/* NULL in a backend without them (STORE_ERR_UNSUPPORTED) */
	store_err_t (*ceremony_add)(store_t *, const struct store_ceremony *, char *, size_t);
	store_err_t (*ceremony_get)(store_t *, const unsigned char[STORE_TOKEN_HASH_LEN],
	    struct store_ceremony *);
	store_err_t (*ceremony_move)(store_t *, const unsigned char[STORE_TOKEN_HASH_LEN],
	    const char *, const char *, const char *, int64_t);
	store_err_t (*ceremony_set_handle)(store_t *, const unsigned char[STORE_TOKEN_HASH_LEN],
	    const unsigned char[STORE_USER_HANDLE_LEN], unsigned char[STORE_USER_HANDLE_LEN]);
	store_err_t (*ceremony_sweep)(store_t *, int64_t, int64_t, size_t, size_t *, size_t *);
	store_err_t (*ceremony_listen)(store_t *);
	int (*notice_fd)(store_t *);
	store_err_t (*notices)(store_t *, void (*)(const unsigned char[STORE_TOKEN_HASH_LEN],
	    void *), void *);
	store_err_t (*set_announcer)(store_t *, store_t *);
	store_err_t (*announce)(store_t *);
	void (*announce_counts)(store_t *, uint64_t *, uint64_t *);
	store_err_t (*exec_script)(store_t *, const char *, char *, size_t);
};

struct store {
	const struct store_ops *ops;
};

/*
 * Backend constructors.  target is what follows the scheme: a file path
 * for SQLite, the whole URI for network backends.
 */
store_err_t store_sqlite_open(const char *target, store_t **out, char *why,
    size_t whylen);
store_err_t store_pg_open(const char *target, store_t **out, char *why,
    size_t whylen);
/* A PostgreSQL URI without its password; 1 if it had one. */
int store_pg_display(const char *uri, char *out, size_t outlen);

#endif /* PASSKEY_STORE_BACKEND_H */
