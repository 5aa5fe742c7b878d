/*
 * Control socket client.  The socket is non-blocking from the start and
 * every wait goes through poll() against one monotonic deadline, so a
 * daemon that stalls, floods or dies costs the caller at most the
 * timeout it asked for and never a signal.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "ctl_client.h"

struct ctl_conn {
	int fd;
	int timeout_ms;
	bool broken;		/* an earlier request failed half-way */
	char buf[CTL_MAX_LINE + 1];	/* one line and its '\n' */
};

static const struct {
	const char *code;
	const char *text;
} ctl_err_table[] = {
#define CTL_ERR_ROW(sym, code, text) { code, text },
	CTL_ERR_LIST(CTL_ERR_ROW)
#undef CTL_ERR_ROW
};

const char *
ctl_err_code(int err)
{
	if (err < 0 || err >= CTL_ERR__COUNT)
		return "unknown_error";
	return ctl_err_table[err].code;
}

const char *
ctl_err_str(int err)
{
	if (err < 0 || err >= CTL_ERR__COUNT)
		return "unknown error";
	return ctl_err_table[err].text;
}


/*
 * Waits until fd is ready for events or the deadline passes.  Readiness
 * includes errors and hangups: the next send() or recv() reports them.
 */
static int
wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int64_t left = deadline - clock_monotonic_ms();
		int n;

		if (left <= 0)
			return CTL_ERR_TIMEOUT;
		n = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (n > 0)
			return CTL_OK;
		if (n < 0 && errno != EINTR)
			return CTL_ERR_IO;
		/* n == 0 or EINTR: the loop head decides whether time is up. */
	}
}

static void
pause_ms(int64_t ms)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = ms * 1000000 };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static int
connect_until(int fd, const struct sockaddr_un *sun, int64_t deadline)
{
	socklen_t len;
	int err;

	for (;;) {
		if (connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0)
			return CTL_OK;
		switch (errno) {
		case EISCONN:		/* an interrupted attempt completed */
			return CTL_OK;
		case EINTR:
			continue;
		case EAGAIN:
			/*
			 * The daemon's listen backlog is full: it is alive but
			 * busy.  Unix sockets cannot be polled for this, so try
			 * again shortly, within the deadline.
			 */
			if (clock_monotonic_ms() + 10 >= deadline)
				return CTL_ERR_TIMEOUT;
			pause_ms(10);
			continue;
		case EINPROGRESS:
		case EALREADY:
			if ((err = wait_fd(fd, POLLOUT, deadline)) != CTL_OK)
				return err;
			len = sizeof(err);
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 ||
			    err != 0)
				return CTL_ERR_CONNECT;
			return CTL_OK;
		default:
			/* ENOENT, ECONNREFUSED, EACCES...: nobody to talk to. */
			return CTL_ERR_CONNECT;
		}
	}
}

int
ctl_connect(const char *path, int timeout_ms, struct ctl_conn **out)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct ctl_conn *c;
	int err;

	if (out == NULL)
		return CTL_ERR_INVALID;
	*out = NULL;
	if (path == NULL || path[0] == '\0' || timeout_ms <= 0 ||
	    strlen(path) >= sizeof(sun.sun_path))
		return CTL_ERR_INVALID;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return CTL_ERR_NOMEM;
	c->timeout_ms = timeout_ms;
	/* CLOEXEC: sshd's child may exec helpers; they get no daemon socket. */
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->fd == -1) {
		free(c);
		return errno == ENOMEM || errno == ENOBUFS ? CTL_ERR_NOMEM : CTL_ERR_IO;
	}
	if ((err = connect_until(c->fd, &sun, clock_monotonic_ms() + timeout_ms)) != CTL_OK) {
		ctl_close(c);
		return err;
	}
	*out = c;
	return CTL_OK;
}

int
ctl_peer_uid(const struct ctl_conn *c, uid_t *uid)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (c == NULL || uid == NULL)
		return CTL_ERR_INVALID;
	if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
		return CTL_ERR_IO;
	*uid = cred.uid;
	return CTL_OK;
}

int
ctl_peer_trusted(const struct ctl_conn *c, uid_t daemon_uid, uid_t self_uid, uid_t *peer)
{
	int err;

	*peer = CTL_NO_UID;	/* ctl_peer_uid sets it only when it answers */
	if ((err = ctl_peer_uid(c, peer)) != CTL_OK)
		return err;
	if (*peer == 0 || (*peer != CTL_NO_UID &&
	    (*peer == daemon_uid || *peer == self_uid)))
		return CTL_OK;
	return CTL_ERR_UNTRUSTED;
}

void
ctl_close(struct ctl_conn *c)
{
	if (c == NULL)
		return;
	if (c->fd != -1)
		close(c->fd);
	/* Responses carry ceremony tokens; leave none behind in the heap. */
	explicit_bzero(c, sizeof(*c));
	free(c);
}

static int
send_all(int fd, const char *p, size_t n, int64_t deadline)
{
	int err;

	while (n > 0) {
		/* MSG_NOSIGNAL: a daemon gone away is EPIPE, not SIGPIPE. */
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if ((err = wait_fd(fd, POLLOUT, deadline)) != CTL_OK)
				return err;
			continue;
		}
		return CTL_ERR_IO;
	}
	return CTL_OK;
}

/*
 * Reads one line into c->buf and sets *len to its length without the
 * '\n'.  Never reads more than the buffer holds: a longer line is a
 * protocol error, not a reason to allocate.
 */
static int
recv_line(struct ctl_conn *c, size_t *len, int64_t deadline)
{
	size_t have = 0;
	int err;

	for (;;) {
		ssize_t r = recv(c->fd, c->buf + have, sizeof(c->buf) - have, 0);
		char *nl;

		if (r > 0) {
			nl = memchr(c->buf + have, '\n', (size_t)r);
			have += (size_t)r;
			if (nl != NULL) {
				/*
				 * One request, one line: the daemon has no
				 * reason to send more, so anything after the
				 * line is an error rather than a next answer.
				 */
				if (nl != c->buf + have - 1)
					return CTL_ERR_PROTOCOL;
				*len = (size_t)(nl - c->buf);
				return CTL_OK;
			}
			if (have == sizeof(c->buf))
				return CTL_ERR_PROTOCOL;
			continue;
		}
		if (r == 0)		/* closed before a whole line */
			return CTL_ERR_IO;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return CTL_ERR_IO;
		if ((err = wait_fd(c->fd, POLLIN, deadline)) != CTL_OK)
			return err;
	}
}

static int
request(struct ctl_conn *c, const json_t *req, json_t **resp)
{
	int64_t deadline = clock_monotonic_ms() + c->timeout_ms;
	json_error_t jerr;
	size_t n, len;
	char *line;
	int err;

	/* Compact jansson output escapes every control character: one line. */
	if ((line = json_dumps(req, JSON_COMPACT)) == NULL)
		return CTL_ERR_NOMEM;
	n = strlen(line);
	if (n > CTL_MAX_LINE) {
		free(line);
		return CTL_ERR_INVALID;
	}
	line[n] = '\n';		/* over the NUL: the length is known */
	err = send_all(c->fd, line, n + 1, deadline);
	explicit_bzero(line, n + 1);
	free(line);
	if (err != CTL_OK)
		return err;
	if ((err = recv_line(c, &len, deadline)) != CTL_OK)
		return err;
	*resp = json_loadb(c->buf, len, JSON_REJECT_DUPLICATES, &jerr);
	explicit_bzero(c->buf, sizeof(c->buf));
	if (*resp == NULL)
		return CTL_ERR_PROTOCOL;
	if (!json_is_object(*resp)) {
		json_decref(*resp);
		*resp = NULL;
		return CTL_ERR_PROTOCOL;
	}
	return CTL_OK;
}

int
ctl_request(struct ctl_conn *c, const json_t *req, json_t **resp)
{
	int err;

	if (resp == NULL)
		return CTL_ERR_INVALID;
	*resp = NULL;
	if (c == NULL || req == NULL || !json_is_object(req))
		return CTL_ERR_INVALID;
	if (c->broken)
		return CTL_ERR_IO;
	/*
	 * After a failure half-way, the next line on the socket may be the
	 * answer to this request: never pair it with another one.
	 */
	err = request(c, req, resp);
	if (err == CTL_ERR_TIMEOUT || err == CTL_ERR_IO || err == CTL_ERR_PROTOCOL)
		c->broken = true;
	return err;
}

int
ctl_call(const char *path, int timeout_ms, const json_t *req, json_t **resp)
{
	struct ctl_conn *c;
	int err;

	if (resp == NULL)
		return CTL_ERR_INVALID;
	*resp = NULL;
	if ((err = ctl_connect(path, timeout_ms, &c)) != CTL_OK)
		return err;
	err = ctl_request(c, req, resp);
	ctl_close(c);
	return err;
}

bool
ctl_resp_ok(const json_t *resp)
{
	return json_is_true(json_object_get(resp, "ok"));
}

const char *
ctl_resp_str(const json_t *resp, const char *key)
{
	return json_string_value(json_object_get(resp, key));
}
