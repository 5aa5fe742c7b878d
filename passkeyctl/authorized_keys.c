/*
 * Installs a key line into a user's authorized_keys: no duplicates,
 * the user's ownership, modes sshd's StrictModes accepts, atomic.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "authorized_keys.h"
#include "passkeyctl.h"

#define AK_MAX	(4 * 1024 * 1024)	/* larger is not an authorized_keys file */

static int
fail(const char *what, const char *path)
{
	fprintf(stderr, "passkeyctl: %s: %s: %s\n", what, path, strerror(errno));
	return -1;
}

/* Next whitespace-separated token of an authorized_keys line; quotes group. */
static const char *
token(const char *p, const char *end, size_t *len)
{
	const char *start;
	int quoted = 0;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	start = p;
	for (; p < end && (quoted || (*p != ' ' && *p != '\t')); p++) {
		if (*p == '\\' && p + 1 < end)
			p++;
		else if (*p == '"')
			quoted = !quoted;
	}
	*len = (size_t)(p - start);
	return start;
}

/* 1 when some line of buf has the tokens "type blob" next to each other. */
static int
has_key(const char *buf, size_t n, const char *type, const char *blob)
{
	const char *p = buf, *end = buf + n;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *t, *prev = NULL;
		size_t len, prev_len = 0;

		if (eol == NULL)
			eol = end;
		for (t = token(p, eol, &len); len > 0; t = token(t + len, eol, &len)) {
			if (prev != NULL && prev_len == strlen(type) &&
			    memcmp(prev, type, prev_len) == 0 &&
			    len == strlen(blob) && memcmp(t, blob, len) == 0)
				return 1;
			prev = t;
			prev_len = len;
		}
		p = eol + 1;
	}
	return 0;
}

static int
read_file(const char *path, char **buf, size_t *n, mode_t *mode)
{
	struct stat st;
	ssize_t r;
	int fd;

	*buf = NULL;
	*n = 0;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return 0;
		if (errno == ELOOP) {
			fprintf(stderr, "passkeyctl: %s is a symbolic link; add the line "
			    "to the file it points to by hand\n", path);
			return -1;
		}
		return fail("cannot open", path);
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > AK_MAX) {
		fprintf(stderr, "passkeyctl: %s is not a regular file of at most 4 MiB\n", path);
		close(fd);
		return -1;
	}
	*mode = st.st_mode & 0644;	/* never group- or world-writable */
	if ((*buf = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return -1;
	}
	while (*n < (size_t)st.st_size &&
	    (r = read(fd, *buf + *n, (size_t)st.st_size - *n)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			close(fd);
			return fail("cannot read", path);
		}
		*n += (size_t)r;
	}
	close(fd);
	return 0;
}

int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The .ssh folder: made 0700 when missing; refused when others may write it. */
static int
ssh_dir(const char *dir, uid_t uid)
{
	struct stat st;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return fail("cannot create", dir);
	if (lstat(dir, &st) != 0)
		return fail("cannot stat", dir);
	if (!S_ISDIR(st.st_mode) || st.st_uid != uid || (st.st_mode & 022) != 0) {
		fprintf(stderr, "passkeyctl: %s must be a folder owned by the user and "
		    "writable only by them (sshd would ignore the key otherwise)\n", dir);
		return -1;
	}
	return 0;
}

/* The whole install, already running as the user. */
static int
install_as_user(const struct passwd *pw, const char *line, const char *type,
    const char *blob)
{
	char dir[4096], path[4096 + 32], tmp[4096 + 32];
	mode_t mode = 0600;
	char *old = NULL;
	size_t n = 0;
	int dfd = -1, fd = -1, r = -1;

	if ((size_t)snprintf(dir, sizeof(dir), "%s/.ssh", pw->pw_dir) >= sizeof(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/authorized_keys", dir);
	snprintf(tmp, sizeof(tmp), "%s/.authorized_keys.XXXXXX", dir);
	if (ssh_dir(dir, pw->pw_uid) != 0)
		return -1;
	/* concurrent installers take turns; the rename keeps readers safe */
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    flock(dfd, LOCK_EX) != 0) {
		r = fail("cannot lock", dir);
		goto out;
	}
	if (read_file(path, &old, &n, &mode) != 0)
		goto out;
	if (has_key(old != NULL ? old : "", n, type, blob)) {
		r = 1;
		goto out;
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		r = fail("cannot create a file in", dir);
		goto out;
	}
	if (fchmod(fd, mode) != 0 || write_all(fd, old != NULL ? old : "", n) != 0 ||
	    (n > 0 && old[n - 1] != '\n' && write_all(fd, "\n", 1) != 0) ||
	    write_all(fd, line, strlen(line)) != 0 || write_all(fd, "\n", 1) != 0 ||
	    fsync(fd) != 0 || close(fd) != 0) {
		fd = -1;
		unlink(tmp);
		r = fail("cannot write", tmp);
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		unlink(tmp);
		r = fail("cannot replace", path);
		goto out;
	}
	fsync(dfd);
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	free(old);
	return r;
}

int
authorized_keys_install(const char *user, const char *line, const char *type,
    const char *blob)
{
	struct passwd *pw = getpwnam(user);
	pid_t pid;
	int status;

	if (pw == NULL || pw->pw_dir == NULL || pw->pw_dir[0] != '/') {
		fprintf(stderr, "passkeyctl: %s has no account with a home folder here\n", user);
		return -1;
	}
	if (geteuid() != 0 || pw->pw_uid == 0) {
		if (geteuid() != pw->pw_uid) {
			fprintf(stderr, "passkeyctl: only %s or root may install %s's keys\n",
			    user, user);
			return -1;
		}
		return install_as_user(pw, line, type, blob);
	}
	fflush(NULL);
	if ((pid = fork()) < 0)
		return fail("cannot fork", user);
	if (pid == 0) {
		/* become the user wholly, and make sure there is no way back */
		if (initgroups(pw->pw_name, pw->pw_gid) != 0 ||
		    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) != 0 ||
		    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) != 0 ||
		    setuid(0) == 0) {
			fprintf(stderr, "passkeyctl: cannot become %s\n", user);
			_exit(3);
		}
		switch (install_as_user(pw, line, type, blob)) {
		case 0: _exit(0);
		case 1: _exit(1);
		default: _exit(3);
		}
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return fail("cannot wait for the child of", user);
	if (!WIFEXITED(status) || WEXITSTATUS(status) > 1)
		return -1;
	return WEXITSTATUS(status);
}
