/*
 * The control socket server (control.h says what is bounded and why).
 * Clients are non-blocking; each has a bounded line buffer, and a line
 * over CONTROL_LINE_MAX or that is not JSON ends the connection after a
 * bad_request answer.  Permissions are decided from the uid SO_PEERCRED
 * gave at accept time, never from the request (control_ops.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "account_names.h"
#include "clock.h"
#include "control.h"
#include "control_ops.h"
#include "ctl_text.h"
#include "flow.h"

#define ACCEPTS_PER_TURN	64

struct client {
	int fd;
	uid_t uid;
	uint64_t serial;
	int64_t accepted_ms;
	int64_t last_ms;	/* accept, or the last answer */
	int64_t line_ms;	/* when the current partial line began; 0: none */
	int closing;		/* drop at the end of this turn */
	int eof;		/* the peer will send nothing more */
	int waiting;		/* a deferred answer is outstanding */
	int64_t held_ms;	/* its next line waits for the loop's share (share.h) until */
	/*
	 * What the socket would not take yet: the client reads slower than it
	 * asks.  Nothing more of its requests is served until it is sent, and
	 * it must be within CONTROL_LINE_SECONDS, so a reader that stops holds
	 * no memory beyond one answer and no connection for long.
	 */
	char *out;
	size_t out_len, out_off;
	int64_t out_ms;
	char name[CTL_USER_MAX + 1];	/* a non-root caller's, for this line; "" none */
	int64_t naming_ms;	/* its line waits for a name (account_names.h) since; 0: not */
	uint64_t names_seen;	/* ... and was last tried when the resolver had answered so often */
	char bound[CONTROL_BOUND_MAX][CEREMONY_TOKEN_LEN + 1];
	size_t n_bound;
	size_t len;
	char buf[CONTROL_LINE_MAX + 1];	/* one whole line and its '\n' fit */
};

struct control_server {
	struct passkeyd *d;
	int listen_fd;
	uint64_t next_serial;
	struct client *clients[CONTROL_MAX_CLIENTS];
	size_t n_clients;
	size_t polled;		/* clients[0..polled) were given to poll this turn */
	struct account_names *names;	/* non-root callers' (account_names.h) */
	size_t names_at;	/* the resolver's fd in this turn's fds; 0: not there */
	uint64_t names_collected;	/* turns in which the resolver had answers */
};

/*
 * bind() creates the socket node with mode 0777 & ~umask, so the umask
 * gives it 0666 at birth: no chmod(path) afterwards, which would follow
 * a symlink swapped in meanwhile and could make root chmod any file.
 * bind() itself never follows a symlink (an existing name is EADDRINUSE).
 */
static int
listen_socket(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	mode_t old;
	int fd, rc;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "socket path too long: %s", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	/* a socket left by a previous run; a live daemon still holds its port */
	(void)unlink(path);
	old = umask(0111);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc != 0 || listen(fd, SOMAXCONN) != 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

struct control_server *
control_start(struct passkeyd *d, char *err, size_t errlen)
{
	struct control_server *s = calloc(1, sizeof(*s));

	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->d = d;
	s->next_serial = 1;
	if ((s->names = account_names_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		free(s);
		return NULL;
	}
	if ((s->listen_fd = listen_socket(d->cfg.socket_path, err, errlen)) < 0) {
		account_names_free(s->names);
		free(s);
		return NULL;
	}
	return s;
}

/* Ceremonies this connection began end with it (sshd killed the module). */
static void
cancel_bound(struct control_server *s, struct client *c)
{
	for (size_t i = 0; i < c->n_bound; i++) {
		struct ceremony *cer = ceremony_find(s->d->ceremonies, c->bound[i]);

		/* off the loop in a fleet: a flood of dropped connections costs it nothing */
		if (cer != NULL && cer->conn == c->serial &&
		    !flow_cancel_later(s->d, cer, "client_gone", NULL, NULL))
			flow_cancel(s->d, cer, "client_gone");
	}
	c->n_bound = 0;
}

static void
drop_client(struct control_server *s, size_t i)
{
	struct client *c = s->clients[i];

	cancel_bound(s, c);
	if (c->out != NULL) {
		explicit_bzero(c->out, c->out_len);
		free(c->out);
	}
	close(c->fd);
	explicit_bzero(c, sizeof(*c));	/* requests carry tokens */
	free(c);
	s->clients[i] = s->clients[--s->n_clients];
}

static size_t
count_uid(const struct control_server *s, uid_t uid)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n_clients; i++)
		n += s->clients[i]->uid == uid;
	return n;
}

/* The oldest non-root connection, or -1. */
static ssize_t
oldest_unprivileged(const struct control_server *s)
{
	ssize_t best = -1;

	for (size_t i = 0; i < s->n_clients; i++)
		if (s->clients[i]->uid != 0 && (best < 0 ||
		    s->clients[i]->accepted_ms < s->clients[best]->accepted_ms))
			best = (ssize_t)i;
	return best;
}

static void
send_line(int fd, json_t *obj)
{
	char *text = json_dumps(obj, JSON_COMPACT);

	json_decref(obj);
	if (text != NULL) {
		size_t n = strlen(text);

		text[n] = '\n';	/* over the NUL: sent by length */
		(void)send(fd, text, n + 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		free(text);
	}
}

/*
 * Whether a new connection gets a place.  Only connections polled this
 * turn are evicted, so the poll descriptors still match clients[].
 */
static int
admit(struct control_server *s, int fd, uid_t uid)
{
	ssize_t victim;

	if (uid != 0 && count_uid(s, uid) >= CONTROL_MAX_PER_UID) {
		send_line(fd, ctl_refusal_json(CTL_REFUSAL_BUSY));
		return 0;
	}
	if (s->n_clients < CONTROL_MAX_CLIENTS)
		return 1;
	if (uid == 0 && (victim = oldest_unprivileged(s)) >= 0) {
		s->clients[victim]->closing = 1;
		return 2;	/* after the victim is dropped */
	}
	send_line(fd, ctl_refusal_json(CTL_REFUSAL_BUSY));
	return 0;
}

static void drop_closing(struct control_server *s);

static void
accept_clients(struct control_server *s, int64_t now_ms)
{
	struct ucred cred;
	socklen_t len;
	struct client *c;
	int fd, verdict;

	for (int n = 0; n < ACCEPTS_PER_TURN; n++) {
		fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		len = sizeof(cred);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
		    (verdict = admit(s, fd, cred.uid)) == 0 ||
		    (c = calloc(1, sizeof(*c))) == NULL) {
			close(fd);
			continue;
		}
		if (verdict == 2)
			drop_closing(s);
		c->fd = fd;
		c->uid = cred.uid;
		c->serial = s->next_serial++;
		c->accepted_ms = c->last_ms = now_ms;
		s->clients[s->n_clients++] = c;
	}
}

/* Sends what the socket takes of the pending answer; 0 once all is sent. */
static int
flush_out(struct client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
		    MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 1;
		if (n <= 0) {
			c->closing = 1;
			break;
		}
		c->out_off += (size_t)n;
	}
	explicit_bzero(c->out, c->out_len);	/* answers carry tokens */
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_off = 0;
	return 0;
}

/*
 * Queues one answer line and sends what the socket takes at once; s is
 * malloc'd JSON text (consumed), NULL when there is none.
 */
static void
reply_text(struct client *c, char *s)
{
	size_t len;

	if (s == NULL || c->out != NULL) {	/* one answer at a time, by design */
		free(s);
		c->closing = 1;
		return;
	}
	len = strlen(s);
	s[len++] = '\n';	/* over the NUL: sent by length */
	c->out = s;
	c->out_len = len;
	c->out_off = 0;
	c->out_ms = clock_monotonic_ms();
	flush_out(c);
}

/* The same for obj (consumed). */
static void
reply(struct client *c, json_t *obj)
{
	char *s = obj != NULL ? json_dumps(obj, JSON_COMPACT) : NULL;

	json_decref(obj);
	reply_text(c, s);
}

static struct client *
find_serial(struct control_server *s, uint64_t serial)
{
	for (size_t i = 0; i < s->n_clients; i++)
		if (s->clients[i]->serial == serial)
			return s->clients[i];
	return NULL;
}

struct control_reply *
control_defer(struct control_call *call)
{
	struct control_reply *r = malloc(sizeof(*r));

	if (r != NULL) {
		r->server = call->server;
		r->conn = call->conn;
		call->deferred = 1;
	}
	return r;
}

/* The client a deferred answer goes to (r freed), or NULL when it is gone. */
static struct client *
reply_client(struct control_reply *r)
{
	struct client *c = r->server != NULL ? find_serial(r->server, r->conn) : NULL;

	free(r);
	if (c == NULL || c->closing)
		return NULL;
	c->waiting = 0;
	c->last_ms = clock_monotonic_ms();
	return c;
}

int
control_answer_bound(struct control_reply *r, json_t *answer, const char *token)
{
	struct client *c = reply_client(r);

	if (c == NULL) {
		json_decref(answer);
		return 0;
	}
	/* room was checked when the request was served (can_bind) */
	if (token != NULL && c->n_bound < CONTROL_BOUND_MAX)
		memcpy(c->bound[c->n_bound++], token, sizeof(c->bound[0]));
	reply(c, answer);
	return 1;
}

void
control_answer_text(struct control_reply *r, char *text)
{
	struct client *c = reply_client(r);

	if (c != NULL)
		reply_text(c, text);
	else
		free(text);
}

void
control_answer(struct control_reply *r, json_t *answer)
{
	(void)control_answer_bound(r, answer, NULL);
}

void
control_undefer(struct control_call *call, struct control_reply *r)
{
	call->deferred = 0;
	free(r);
}

/*
 * Drops bound tokens whose ceremonies ended; 1 when there is room for one
 * more.  An approval not yet collected, or one with a store call out (a
 * status using its row off the loop), is kept: if the connection closes
 * before its status says approved, the window it opened ends
 * (cancel_bound, flow.c end_uncollected).
 */
static int
room_to_bind(struct control_server *s, struct client *c)
{
	size_t kept = 0;

	for (size_t i = 0; i < c->n_bound; i++) {
		struct ceremony *cer = ceremony_find(s->d->ceremonies, c->bound[i]);

		if (cer != NULL && (cer->state == CTL_STATE_PENDING ||
		    cer->state == CTL_STATE_APPROVED || cer->calls > 0))
			memmove(c->bound[kept++], c->bound[i], sizeof(c->bound[i]));
	}
	c->n_bound = kept;
	return kept < CONTROL_BOUND_MAX;
}

/*
 * A line waits for a name: a non-root caller's own (c->name), for an op
 * that acts on the caller's account (account_names.h; the others run
 * without it), or the account root's request names (control_account).
 * It waits at most ACCOUNT_NAMES_WAIT_MS, however the resolver's jobs
 * come and go meanwhile (a colliding uid's answer can push this one out
 * and queue it again): then it is BUSY.
 */
static enum account_name_state
name_wait(struct client *c, enum account_name_state st, int64_t now_ms)
{
	if (st == ACCOUNT_NAME_WAIT && c->naming_ms == 0)
		c->naming_ms = c->line_ms = now_ms;	/* its wait is ours, not a trickle */
	else if (st == ACCOUNT_NAME_WAIT && now_ms - c->naming_ms >= ACCOUNT_NAMES_WAIT_MS)
		st = ACCOUNT_NAME_BUSY;
	if (st != ACCOUNT_NAME_WAIT)
		c->naming_ms = 0;
	return st;
}

enum account_name_state
control_account(struct control_call *call, const char *asked, char out[CTL_USER_MAX + 1])
{
	enum account_name_state st;

	if (call->server == NULL)
		return account_lookup(asked, out, CTL_USER_MAX + 1);
	st = account_names_get_account(call->server->names, asked, clock_monotonic_ms(), out,
	    CTL_USER_MAX + 1);
	call->needs_account = st == ACCOUNT_NAME_WAIT;
	return st;
}

/* 0 when the line was not served yet: it waits for the loop's share or a name */
static int
serve_line(struct control_server *s, struct client *c, const char *line, size_t len,
    int64_t now_ms)
{
	struct control_call call = { .server = s, .uid = c->uid, .conn = c->serial };
	json_t *answer;

	/* a non-root caller's name as the table has it; looked up only for an op that needs it */
	call.name_pending = c->uid != 0 && account_names_peek(s->names, c->uid, now_ms, c->name,
	    sizeof(c->name)) != ACCOUNT_NAME_KNOWN;
	call.name = c->name;
	call.can_bind = room_to_bind(s, c);
	/* held once already, or waiting for a name: its wait is not made longer */
	call.due = c->held_ms != 0 || c->naming_ms != 0;
	answer = control_dispatch(s->d, &call, line, len);
	if (call.needs_name || call.needs_account) {
		enum account_name_state st = !call.needs_name ? ACCOUNT_NAME_WAIT :
		    account_names_get(s->names, c->uid, now_ms, c->name, sizeof(c->name));

		json_decref(answer);
		c->names_seen = s->names_collected;
		if (name_wait(c, st, now_ms) != ACCOUNT_NAME_BUSY)
			return 0;	/* in its buffer, until the resolver answers */
		answer = ctl_refusal_json(CTL_REFUSAL_DIRECTORY_BUSY);
	} else if (call.later_us > 0) {
		c->held_ms = now_ms + (call.later_us + 999) / 1000;
		c->line_ms = now_ms;	/* whole: its wait is ours, not the client's trickle */
		return 0;
	}
	/* served: whatever it waited for is over (a wait left set would stop the reading) */
	c->held_ms = 0;
	c->naming_ms = 0;
	if (call.bind_token[0] != '\0' && c->n_bound < CONTROL_BOUND_MAX)
		memcpy(c->bound[c->n_bound++], call.bind_token, sizeof(call.bind_token));
	if (call.deferred) {
		c->waiting = 1;
		return 1;
	}
	if (answer == NULL && call.text != NULL)
		reply_text(c, call.text);
	else {
		free(call.text);
		reply(c, answer);
	}
	c->last_ms = clock_monotonic_ms();
	if (call.close_after)
		c->closing = 1;
	return 1;
}

/*
 * A line waiting for a name is parsed again only once the resolver has
 * answered (its name, or another's) or its wait is over: not on every
 * turn, where a thousand waiting lines of 8 KiB would cost the loop 8 MiB
 * of JSON each time.
 */
static int
still_naming(const struct control_server *s, const struct client *c, int64_t now_ms)
{
	return c->naming_ms != 0 && c->names_seen == s->names_collected &&
	    now_ms - c->naming_ms < ACCOUNT_NAMES_WAIT_MS;
}

/* Serves up to `budget` whole lines already in the buffer. */
static void
serve_buffered(struct control_server *s, struct client *c, int budget, int64_t now_ms)
{
	char *nl;

	while (budget-- > 0 && !c->closing && !c->waiting && !c->eof && c->out == NULL &&
	    c->held_ms <= now_ms && !still_naming(s, c, now_ms) &&
	    (nl = memchr(c->buf, '\n', c->len)) != NULL) {
		size_t line = (size_t)(nl - c->buf);

		if (!serve_line(s, c, c->buf, line, now_ms))
			break;
		explicit_bzero(c->buf, line + 1);
		memmove(c->buf, nl + 1, c->len - line - 1);
		c->len -= line + 1;
		c->line_ms = c->len > 0 ? now_ms : 0;
	}
	if (!c->closing && !c->waiting && c->out == NULL && c->len == sizeof(c->buf) &&
	    memchr(c->buf, '\n', c->len) == NULL) {
		reply(c, ctl_refusal_json(CTL_REFUSAL_BAD_REQUEST));
		c->closing = 1;
	}
}

/* One read per turn, into what is left of the buffer. */
static void
read_client(struct client *c, int64_t now_ms)
{
	ssize_t n;

	if (c->len == sizeof(c->buf) || c->eof)
		return;
	do
		n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (n <= 0) {
		/* gone: nobody would read an answer, so none is computed */
		c->eof = 1;
		c->closing = 1;
		return;
	}
	if (c->len == 0)
		c->line_ms = now_ms;
	c->len += (size_t)n;
}

/*
 * 1 while a ceremony this connection began is still known: the module is
 * waiting for its user, who may press Enter only after the ceremony
 * expired and must then be told "expired".  sshd's LoginGraceTime bounds
 * how long the module waits; the table forgets final ceremonies after
 * CEREMONY_KEEP_FINAL.
 */
static int
holds_ceremony(struct control_server *s, struct client *c)
{
	for (size_t i = 0; i < c->n_bound; i++)
		if (ceremony_find(s->d->ceremonies, c->bound[i]) != NULL)
			return 1;
	return 0;
}

static int
timed_out(struct control_server *s, struct client *c, int64_t now_ms)
{
	int64_t idle = c->uid == 0 ? CONTROL_IDLE_SECONDS : CONTROL_IDLE_SECONDS_USER;

	if (c->line_ms != 0 && now_ms - c->line_ms > CONTROL_LINE_SECONDS * 1000)
		return 1;	/* a request that trickles in */
	if (c->out != NULL && now_ms - c->out_ms > CONTROL_LINE_SECONDS * 1000)
		return 1;	/* an answer it does not read */
	if (c->len > 0 || c->waiting || c->out != NULL || now_ms - c->last_ms <= idle * 1000)
		return 0;
	return !holds_ceremony(s, c);
}

static void
drop_closing(struct control_server *s)
{
	for (size_t i = s->n_clients; i-- > 0;)
		if (s->clients[i]->closing)
			drop_client(s, i);
}

size_t
control_fill_poll(struct control_server *s, struct pollfd *fds, size_t max)
{
	size_t n = 0;

	s->polled = 0;
	s->names_at = 0;
	if (max == 0)
		return 0;
	fds[n++] = (struct pollfd){ .fd = s->listen_fd, .events = POLLIN };
	for (size_t i = 0; i < s->n_clients && n < max; i++) {
		struct client *c = s->clients[i];

		/*
		 * A full buffer, an answer outstanding or a line waiting for its
		 * name or its share of the loop: read nothing more yet (a
		 * half-closed client's end of file would drop it before its
		 * answer).
		 */
		fds[n++] = (struct pollfd){ .fd = c->fd, .events = (short)(c->out != NULL ?
		    POLLOUT : c->len < sizeof(c->buf) && !c->waiting && c->naming_ms == 0 &&
		    c->held_ms == 0 ? POLLIN : 0) };
		s->polled++;
	}
	if (n < max && account_names_poll_fd(s->names) >= 0) {
		fds[n] = (struct pollfd){ .fd = account_names_poll_fd(s->names), .events = POLLIN };
		s->names_at = n++;
	}
	return n;
}

void
control_handle(struct control_server *s, const struct pollfd *fds, size_t n,
    int64_t now_ms)
{
	/*
	 * control_fill_poll put clients[i] at fds[1 + i], and nothing has
	 * added or dropped a client since; accept and drop only come after.
	 */
	for (size_t i = 0; i + 1 < n && i < s->polled && i < s->n_clients; i++) {
		struct client *c = s->clients[i];

		if (c->out != NULL && (fds[1 + i].revents & (POLLOUT | POLLHUP | POLLERR)))
			flush_out(c);
		else if (!(fds[1 + i].events & POLLIN) && (fds[1 + i].revents & (POLLHUP | POLLERR)))
			c->eof = c->closing = 1;	/* gone; poll would report it every turn */
		else if (fds[1 + i].revents & (POLLIN | POLLHUP | POLLERR))
			read_client(c, now_ms);
	}
	/* names looked up: their callers' lines are served below */
	if (s->names_at != 0 && s->names_at < n && (fds[s->names_at].revents & POLLIN) &&
	    account_names_collect(s->names, now_ms) > 0)
		s->names_collected++;
	for (size_t i = 0; i < s->n_clients; i++) {
		struct client *c = s->clients[i];

		serve_buffered(s, c, c->uid == 0 ? CONTROL_TURN_REQUESTS_ROOT :
		    CONTROL_TURN_REQUESTS_USER, now_ms);
		if (timed_out(s, c, now_ms))
			c->closing = 1;
	}
	drop_closing(s);
	s->polled = 0;
	if (n > 0 && (fds[0].revents & POLLIN))
		accept_clients(s, now_ms);
}

int
control_timeout_ms(const struct control_server *s)
{
	int64_t now = clock_monotonic_ms();
	int wait = -1;

	for (size_t i = 0; i < s->n_clients; i++) {
		const struct client *c = s->clients[i];

		if (!c->waiting && !c->closing && c->out == NULL && memchr(c->buf, '\n', c->len) != NULL) {
			/* waiting for its name: the resolver's pipe, or its bound (then busy) */
			int64_t due = c->naming_ms != 0 ? c->naming_ms + ACCOUNT_NAMES_WAIT_MS :
			    c->held_ms;

			if (due <= now)
				return 0;
			wait = wait < 0 || due - now < wait ? (int)(due - now) : wait;
		}
	}
	return wait;
}

size_t
control_client_count(const struct control_server *s)
{
	return s->n_clients;
}

void
control_close_clients(struct control_server *s)
{
	while (s != NULL && s->n_clients > 0)
		drop_client(s, s->n_clients - 1);
}

int
control_stop(struct control_server *s)
{
	int stuck;

	if (s == NULL)
		return 0;
	control_close_clients(s);
	close(s->listen_fd);
	stuck = account_names_free(s->names);
	free(s);
	return stuck;
}
