/*
 * Adds a key line to a user's authorized_keys, or drops it: no duplicates,
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

/* 1 when the line p..eol has the tokens "type blob" next to each other. */
static int
line_has_key(const char *p, const char *eol, const char *type, const char *blob)
{
	const char *t, *prev = NULL;
	size_t len, prev_len = 0;

	for (t = token(p, eol, &len); len > 0; t = token(t + len, eol, &len)) {
		if (prev != NULL && prev_len == strlen(type) && memcmp(prev, type, prev_len) == 0 &&
		    len == strlen(blob) && memcmp(t, blob, len) == 0)
			return 1;
		prev = t;
		prev_len = len;
	}
	return 0;
}

/*
 * buf without the lines that hold "type blob", in out (n bytes at most);
 * returns how many lines went.
 */
static size_t
drop_key(const char *buf, size_t n, const char *type, const char *blob, char *out,
    size_t *out_n)
{
	const char *p = buf, *end = buf + n;
	size_t dropped = 0;

	*out_n = 0;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *next = eol != NULL ? eol + 1 : end;

		if (line_has_key(p, eol != NULL ? eol : end, type, blob)) {
			dropped++;
		} else {
			memcpy(out + *out_n, p, (size_t)(next - p));
			*out_n += (size_t)(next - p);
		}
		p = next;
	}
	return dropped;
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
			fprintf(stderr, "passkeyctl: %s is a symbolic link; edit the file "
			    "it points to by hand\n", path);
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

/* The new file in tmp, beside path, then renamed over it. */
static int
replace_file(const char *dir, const char *path, const char *text, size_t n, mode_t mode)
{
	char tmp[4096 + 32];
	int fd;

	snprintf(tmp, sizeof(tmp), "%s/.authorized_keys.XXXXXX", dir);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0)
		return fail("cannot create a file in", dir);
	if (fchmod(fd, mode) != 0 || write_all(fd, text, n) != 0 || fsync(fd) != 0) {
		close(fd);
		unlink(tmp);
		return fail("cannot write", tmp);
	}
	if (close(fd) != 0) {
		unlink(tmp);
		return fail("cannot write", tmp);
	}
	if (rename(tmp, path) != 0) {
		unlink(tmp);
		return fail("cannot replace", path);
	}
	return 0;
}

/*
 * The whole edit, already running as the user: line added (unless its key
 * is there), or with line NULL every line holding the key dropped.
 * 0 changed, 1 nothing to change, -1 failed.
 */
static int
edit_as_user(const struct passwd *pw, const char *line, const char *type, const char *blob)
{
	char dir[4096], path[4096 + 32];
	mode_t mode = 0600;
	char *old = NULL, *text = NULL;
	size_t n = 0, len;
	struct stat st;
	int dfd = -1, r = -1;

	if ((size_t)snprintf(dir, sizeof(dir), "%s/.ssh", pw->pw_dir) >= sizeof(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/authorized_keys", dir);
	if (line == NULL && lstat(dir, &st) != 0 && errno == ENOENT)
		return 1;	/* nothing to drop */
	if (ssh_dir(dir, pw->pw_uid) != 0)
		return -1;
	/* concurrent editors take turns; the rename keeps readers safe */
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    flock(dfd, LOCK_EX) != 0) {
		r = fail("cannot lock", dir);
		goto out;
	}
	if (read_file(path, &old, &n, &mode) != 0)
		goto out;
	len = line != NULL ? strlen(line) : 0;
	if ((text = malloc(n + len + 2)) == NULL)
		goto out;
	if (line == NULL) {
		r = drop_key(old != NULL ? old : "", n, type, blob, text, &len) == 0;
	} else if (old != NULL && drop_key(old, n, type, blob, text, &len) > 0) {
		r = 1;	/* there already */
	} else {
		memcpy(text, old != NULL ? old : "", n);
		len = n;
		if (n > 0 && old[n - 1] != '\n')
			text[len++] = '\n';
		memcpy(text + len, line, strlen(line));
		len += strlen(line);
		text[len++] = '\n';
		r = 0;
	}
	if (r == 0 && (r = replace_file(dir, path, text, len, mode)) == 0)
		fsync(dfd);
out:
	if (dfd >= 0)
		close(dfd);
	free(old);
	free(text);
	return r;
}

/* edit_as_user as the user: root forks a child that becomes the user first. */
static int
edit_as(const char *user, const char *line, const char *type, const char *blob)
{
	struct passwd *pw;
	pid_t pid;
	int status;

	errno = 0;
	pw = getpwnam(user);
	/*
	 * Nothing to drop for an account this host does not have (a fleet's
	 * passkey of another host's user); a directory that failed is not
	 * that, and the caller is told to look.
	 */
	if (line == NULL && ((pw == NULL && (errno == 0 || errno == ENOENT || errno == ESRCH ||
	    errno == EBADF || errno == EPERM)) ||
	    (pw != NULL && (pw->pw_dir == NULL || pw->pw_dir[0] != '/'))))
		return 1;
	if (pw == NULL || pw->pw_dir == NULL || pw->pw_dir[0] != '/') {
		fprintf(stderr, "passkeyctl: %s has no account with a home folder here\n", user);
		return -1;
	}
	if (geteuid() != 0 || pw->pw_uid == 0) {
		if (geteuid() != pw->pw_uid) {
			fprintf(stderr, "passkeyctl: only %s or root may edit %s's keys\n",
			    user, user);
			return -1;
		}
		return edit_as_user(pw, line, type, blob);
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
		switch (edit_as_user(pw, line, type, blob)) {
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

/* edit_as for the key of pub ("TYPE BLOB COMMENT", a .pub line). */
static int
edit_key_as(const char *user, const char *line, const char *pub)
{
	char *type = strdup(pub), *blob, *end;
	int r = -1;

	if (type != NULL && (blob = strchr(type, ' ')) != NULL) {
		*blob++ = '\0';
		if ((end = strchr(blob, ' ')) != NULL)
			*end = '\0';
		r = edit_as(user, line, type, blob);
	}
	free(type);
	return r;
}

int
authorized_keys_install(const char *user, const char *line, const char *pub)
{
	return edit_key_as(user, line, pub);
}

int
authorized_keys_drop(const char *user, const char *pub)
{
	return edit_key_as(user, NULL, pub);
}
