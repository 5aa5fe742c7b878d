#ifndef PASSKEYCTL_H
#define PASSKEYCTL_H

/* Exit codes shared by every command (DESIGN.md, "Offline verifier"). */
#define EXIT_VERDICT_OK		0
#define EXIT_VERDICT_REJECTED	1
#define EXIT_USAGE		2

int cmd_verify_registration(int argc, char **argv);
int cmd_verify_assertion(int argc, char **argv);
int cmd_enroll(int argc, char **argv);

/* --socket given before the command, or NULL: passkeyd's control socket. */
extern const char *passkeyctl_socket;

/* Prints "passkeyctl: MESSAGE" (when fmt is not NULL) and usage; returns EXIT_USAGE. */
int usage_error(const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
