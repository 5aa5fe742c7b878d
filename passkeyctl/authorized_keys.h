#ifndef PASSKEYCTL_AUTHORIZED_KEYS_H
#define PASSKEYCTL_AUTHORIZED_KEYS_H

/*
 * Adds line (an authorized_keys line) to user's ~/.ssh/authorized_keys,
 * unless a line holding pub's key is already there: pub is the same key as
 * a .pub line, "TYPE BLOB [COMMENT]", and TYPE BLOB is what is matched.  Runs as that user (root forks a child that drops to the
 * user first), so every file it makes is the user's own and a symlink the
 * user planted cannot point root's writes elsewhere.  The file is replaced
 * atomically (written beside it, fsync'd, renamed) under a lock on ~/.ssh.
 *
 * Returns 0 added, 1 already present, -1 failed (a message was printed).
 */
int authorized_keys_install(const char *user, const char *line, const char *pub);

/*
 * Drops every line holding pub's "TYPE BLOB" from user's ~/.ssh/authorized_keys,
 * the same way (as the user, atomically, under the lock).
 *
 * Returns 0 dropped, 1 none there (no such file, or no such account here),
 * -1 failed (a message was printed).
 */
int authorized_keys_drop(const char *user, const char *pub);

#endif
