/*
 * The control protocol's rule for a user name (PROTOCOL.md): 1..64 bytes,
 * no control characters, no '/'.  One definition for the daemon, the PAM
 * module and the CLI, so that no side accepts a name another refuses.
 */
#ifndef CTL_NAME_H
#define CTL_NAME_H

#include <stdbool.h>

#define CTL_USER_MAX 64

bool ctl_user_name_valid(const char *name);

#endif
