#ifndef PASSKEYCTL_H
#define PASSKEYCTL_H

/* Exit codes shared by every command (DESIGN.md, "Offline verifier"). */
#define EXIT_VERDICT_OK		0
#define EXIT_VERDICT_REJECTED	1
#define EXIT_USAGE		2

int cmd_verify_registration(int argc, char **argv);
int cmd_verify_assertion(int argc, char **argv);

#endif
