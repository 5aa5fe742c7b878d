#ifndef PASSKEYCTL_H
#define PASSKEYCTL_H

/* Exit codes shared by every command (README.md, "The offline verifier"). */
#define EXIT_VERDICT_OK		0
#define EXIT_VERDICT_REJECTED	1
#define EXIT_USAGE		2

int cmd_verify_registration(int argc, char **argv);
int cmd_verify_assertion(int argc, char **argv);
int cmd_enroll(int argc, char **argv);
int cmd_revoke_enrollment(int argc, char **argv);
int cmd_add(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_rename(int argc, char **argv);
int cmd_remove(int argc, char **argv);
int cmd_events(int argc, char **argv);
int cmd_export_openssh(int argc, char **argv);
int cmd_fleet(int argc, char **argv);
int cmd_sessions(int argc, char **argv);

/* --socket given before the command, or NULL: passkeyd's control socket. */
extern const char *passkeyctl_socket;

/* Prints "passkeyctl: MESSAGE" (when fmt is not NULL) and usage; returns EXIT_USAGE. */
int usage_error(const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* daemon.c: talking to passkeyd. */
#include <stdbool.h>
#include <stdio.h>
#include <jansson.h>

/* How long a request to passkeyd may take, connection included. */
#define DAEMON_TIMEOUT_MS	10000

/* --socket, or the default. */
const char *daemon_socket(void);
struct ctl_conn;
/*
 * Connects to sock and checks that root, passkeyd's account or we serve it;
 * EXIT_VERDICT_OK, or EXIT_VERDICT_REJECTED after saying why (unless quiet).
 */
int daemon_connect(const char *sock, struct ctl_conn **c, bool quiet);
/*
 * One request; on an ok answer returns EXIT_VERDICT_OK with *resp set,
 * else prints why (unreachable, or the refusal) and returns EXIT_VERDICT_REJECTED.
 */
int daemon_ask(const char *sock, const json_t *req, json_t **resp);
/* Follows "next" cursors and gathers every page's array `key`. */
int daemon_ask_all(const char *sock, json_t *req, const char *key, json_t **items);
void print_refusal(const json_t *resp);
/* A registration link on stdout; its code and expiry on stderr. */
int show_link(const json_t *resp);
/* Writes s with control characters shown as '?'. */
void print_safe(FILE *f, const char *s);
/* authorized_keys.c: all n bytes to fd, retrying short writes; 0 or -1. */
int write_all(int fd, const char *p, size_t n);
/* Pretty JSON on stdout. */
int print_json_pretty(const json_t *j);
/*
 * export.c: the passkey ID as an OpenSSH security key, "TYPE BLOB
 * passkey:SID" (*pub), and its owner (*user), both the caller's to free;
 * -1 quietly when it cannot be one (unknown, RS256, passkeyd down).
 */
int export_sk_public(const char *sock, const char *id, char **pub, char **user);

#endif
