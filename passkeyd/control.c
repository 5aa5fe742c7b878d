/*
 * The control socket server.  Clients are non-blocking; each has a bounded
 * line buffer, and a line over CONTROL_LINE_MAX or that is not JSON ends
 * the connection after a bad_request answer.  Permissions are decided from
 * the uid SO_PEERCRED gave at accept time, never from the request.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "ctl_text.h"
#include "flow.h"
#include "manage.h"

struct client {
	int fd;
	uid_t uid;
	time_t last;
	size_t len;
	char buf[CONTROL_LINE_MAX + 1];
	int closing;
};

struct control_server {
	struct passkeyd *d;
	int listen_fd;
	struct client *clients[CONTROL_MAX_CLIENTS];
	size_t n_clients;
};

struct control_server *
control_start(struct passkeyd *d, char *err, size_t errlen)
{
	struct control_server *s = calloc(1, sizeof(*s));
	struct sockaddr_un sun;
	const char *path = d->cfg.socket_path;
	mode_t old;

	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->d = d;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "socket path too long: %s", path);
		free(s);
		return NULL;
	}
	strcpy(sun.sun_path, path);
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->listen_fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		free(s);
		return NULL;
	}
	/* a socket left by a previous run; a live daemon still holds its port */
	unlink(path);
	old = umask(0);
	if (bind(s->listen_fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    chmod(path, 0666) != 0 || listen(s->listen_fd, 128) != 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", path, strerror(errno));
		umask(old);
		close(s->listen_fd);
		free(s);
		return NULL;
	}
	umask(old);
	return s;
}

static void
drop_client(struct control_server *s, size_t i)
{
	close(s->clients[i]->fd);
	free(s->clients[i]);
	s->clients[i] = s->clients[--s->n_clients];
}

static void
accept_clients(struct control_server *s)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct client *c;
	int fd;

	while ((fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		if (s->n_clients == CONTROL_MAX_CLIENTS ||
		    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
		    (c = calloc(1, sizeof(*c))) == NULL) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->uid = cred.uid;
		c->last = time(NULL);
		s->clients[s->n_clients++] = c;
	}
}

static void
reply(struct client *c, json_t *obj)
{
	char *s = json_dumps(obj, JSON_COMPACT);
	size_t len, off = 0;

	json_decref(obj);
	if (s == NULL) {
		c->closing = 1;
		return;
	}
	len = strlen(s);
	s[len++] = '\n';	/* over the NUL: sent by length */
	/*
	 * Answers are small (< 1 KiB) and clients read them at once; a client
	 * that does not read loses its connection rather than stalling the loop.
	 */
	while (off < len) {
		ssize_t n = send(c->fd, s + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			c->closing = 1;
			break;
		}
		off += (size_t)n;
	}
	free(s);
}

json_t *
control_refusal(const char *code)
{
	static const struct { const char *code, *message; } messages[] = {
		{ "bad_request", "malformed request" },
		{ "not_permitted", "not permitted for this caller" },
		{ "no_passkey", "no passkey is registered for this account" },
		{ "limit_user", "too many pending logins for this user" },
		{ "limit_address", "too many pending logins from this address" },
		{ "limit_total", "too many pending logins" },
		{ "unknown_ceremony", "no such login request" },
		{ "store_error", "the credential store failed" },
		{ "unknown_credential", "no such passkey" },
		{ "ambiguous_id", "that ID prefix matches more than one passkey; give more digits" },
		{ "last_passkey", "this is the account's last passkey; removing it locks the "
		  "account out of passkey logins (use --force to remove it anyway)" },
		{ "unknown_user", "no such user" },
		{ "no_enrollment", "the user has no pending enrollment" },
		{ "bad_name", "a name is 1 to 128 bytes of UTF-8 without control characters" },
	};
	const char *msg = "internal error";

	for (size_t i = 0; i < sizeof(messages) / sizeof(messages[0]); i++)
		if (strcmp(messages[i].code, code) == 0)
			msg = messages[i].message;
	return json_pack("{s:b, s:s, s:s}", "ok", 0, "error", code, "message", msg);
}

static json_t *
ceremony_reply(struct passkeyd *d, const struct ceremony *c)
{
	char url[1024];

	snprintf(url, sizeof(url), "%s/%s/%s", d->cfg.public_url,
	    c->kind == CEREMONY_LOGIN ? "l" : "r", c->token);
	return json_pack("{s:b, s:s, s:s, s:s, s:s, s:I}", "ok", 1,
	    "kind", c->kind == CEREMONY_LOGIN ? "login" : "register",
	    "token", c->token, "url", url, "code", c->code,
	    "expires_in", (json_int_t)(c->expires - time(NULL)));
}

/* A service name: printable, no spaces, no '/', not empty. */
static int
valid_name(const char *s, size_t max)
{
	size_t n;

	if (s == NULL || (n = strlen(s)) == 0 || n > max)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x21 || *s == 0x7f || *s == '/')
			return 0;
	return 1;
}

static int
valid_rhost(const char *s)
{
	if (s == NULL || strlen(s) > 255)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x21 || *s == 0x7f)
			return 0;
	return 1;
}

static json_t *
op_login_begin(struct passkeyd *d, struct client *cl, json_t *req)
{
	const char *user = json_string_value(json_object_get(req, "user"));
	const char *rhost = json_string_value(json_object_get(req, "rhost"));
	const char *service = json_string_value(json_object_get(req, "service"));
	const char *mode = json_string_value(json_object_get(req, "enroll"));
	enum enroll_mode em = ENROLL_NONE;
	struct ceremony *c;
	const char *err;

	if (cl->uid != 0)
		return control_refusal("not_permitted");
	if (!ctl_user_name_valid(user) || !valid_rhost(rhost) || !valid_name(service, 64))
		return control_refusal("bad_request");
	if (mode == NULL || strcmp(mode, "none") == 0)
		em = ENROLL_NONE;
	else if (strcmp(mode, "pending") == 0)
		em = ENROLL_PENDING;
	else if (strcmp(mode, "after-auth") == 0)
		em = ENROLL_AFTER_AUTH;
	else
		return control_refusal("bad_request");
	if ((err = flow_login_begin(d, user, rhost, service, em, &c)) != NULL)
		return control_refusal(err);
	return ceremony_reply(d, c);
}

static json_t *
op_enroll(struct passkeyd *d, struct client *cl, json_t *req)
{
	const char *user = json_string_value(json_object_get(req, "user"));
	json_t *exp = json_object_get(req, "expires_in");
	json_int_t lifetime = d->cfg.enroll_timeout;
	struct ceremony *c;
	const char *err;

	if (cl->uid != 0)
		return control_refusal("not_permitted");
	if (!ctl_user_name_valid(user))
		return control_refusal("bad_request");
	if (!manage_user_exists(user))
		return control_refusal("unknown_user");
	if (exp != NULL) {
		if (!json_is_integer(exp) || json_integer_value(exp) < 60 ||
		    json_integer_value(exp) > 30 * 86400)
			return control_refusal("bad_request");
		lifetime = json_integer_value(exp);
	}
	if ((err = flow_enroll(d, user, (unsigned)lifetime, "root", &c)) != NULL)
		return control_refusal(err);
	return ceremony_reply(d, c);
}

static json_t *
op_register_begin(struct passkeyd *d, struct client *cl)
{
	struct passwd *pw = getpwuid(cl->uid);
	struct ceremony *c;
	const char *err;

	if (pw == NULL || !ctl_user_name_valid(pw->pw_name))
		return control_refusal("not_permitted");
	if ((err = flow_register_begin(d, pw->pw_name, cl->uid, &c)) != NULL)
		return control_refusal(err);
	return ceremony_reply(d, c);
}

/* status and cancel: root for login ceremonies, else the owner. */
static struct ceremony *
owned_ceremony(struct passkeyd *d, struct client *cl, json_t *req, json_t **refused)
{
	const char *token = json_string_value(json_object_get(req, "token"));
	struct ceremony *c;

	*refused = NULL;
	if (token == NULL) {
		*refused = control_refusal("bad_request");
		return NULL;
	}
	if ((c = ceremony_find(d->ceremonies, token)) == NULL) {
		*refused = control_refusal("unknown_ceremony");
		return NULL;
	}
	if (cl->uid != 0 && (cl->uid != c->owner_uid || c->kind == CEREMONY_LOGIN)) {
		*refused = control_refusal("not_permitted");
		return NULL;
	}
	return c;
}

static json_t *
op_status(struct passkeyd *d, struct client *cl, json_t *req)
{
	json_t *refused, *out;
	struct ceremony *c;
	const char *state;
	time_t left;

	if ((c = owned_ceremony(d, cl, req, &refused)) == NULL)
		return refused;
	state = flow_status(d, c);
	left = c->expires - time(NULL);
	out = json_pack("{s:b, s:s, s:I}", "ok", 1, "state", state,
	    "expires_in", (json_int_t)(left > 0 ? left : 0));
	if (out != NULL && c->state == CEREMONY_FAILED && c->reason != NULL)
		json_object_set_new(out, "reason", json_string(c->reason));
	return out;
}

static json_t *
op_cancel(struct passkeyd *d, struct client *cl, json_t *req)
{
	json_t *refused;
	struct ceremony *c;

	if ((c = owned_ceremony(d, cl, req, &refused)) == NULL)
		return refused;
	flow_cancel(d, c);
	return json_pack("{s:b, s:s}", "ok", 1, "state", ceremony_state_str(c->state));
}

static json_t *
dispatch(struct passkeyd *d, struct client *cl, const char *line, size_t len)
{
	json_t *req, *out;
	const char *op;

	req = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
	if (req == NULL || !json_is_object(req)) {
		json_decref(req);
		cl->closing = 1;
		return control_refusal("bad_request");
	}
	op = json_string_value(json_object_get(req, "op"));
	if (op == NULL)
		out = control_refusal("bad_request");
	else if (strcmp(op, "login_begin") == 0)
		out = op_login_begin(d, cl, req);
	else if (strcmp(op, "status") == 0)
		out = op_status(d, cl, req);
	else if (strcmp(op, "cancel") == 0)
		out = op_cancel(d, cl, req);
	else if (strcmp(op, "enroll") == 0)
		out = op_enroll(d, cl, req);
	else if (strcmp(op, "register_begin") == 0)
		out = op_register_begin(d, cl);
	else if (strcmp(op, "list") == 0)
		out = manage_list(d, cl->uid, req);
	else if (strcmp(op, "rename") == 0)
		out = manage_rename(d, cl->uid, req);
	else if (strcmp(op, "remove") == 0)
		out = manage_remove(d, cl->uid, req);
	else if (strcmp(op, "export") == 0)
		out = manage_export(d, cl->uid, req);
	else if (strcmp(op, "events") == 0)
		out = manage_events(d, cl->uid, req);
	else if (strcmp(op, "revoke_enrollment") == 0)
		out = manage_revoke_enrollment(d, cl->uid, req);
	else if (strcmp(op, "ping") == 0)
		out = json_pack("{s:b, s:s}", "ok", 1, "version", PASSKEYD_VERSION);
	else
		out = control_refusal("bad_request");
	json_decref(req);
	return out;
}

static void
read_client(struct control_server *s, struct client *c)
{
	for (;;) {
		ssize_t n = recv(c->fd, c->buf + c->len, CONTROL_LINE_MAX - c->len, 0);
		char *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			c->closing = 1;
			return;
		}
		c->len += (size_t)n;
		c->last = time(NULL);
		while (!c->closing && (nl = memchr(c->buf, '\n', c->len)) != NULL) {
			size_t line = (size_t)(nl - c->buf);
			reply(c, dispatch(s->d, c, c->buf, line));
			memmove(c->buf, nl + 1, c->len - line - 1);
			c->len -= line + 1;
		}
		if (c->len == CONTROL_LINE_MAX) {
			reply(c, control_refusal("bad_request"));
			c->closing = 1;
		}
		if (c->closing)
			return;
	}
}

size_t
control_fill_poll(struct control_server *s, struct pollfd *fds, size_t max)
{
	size_t n = 0;

	if (max == 0)
		return 0;
	fds[n++] = (struct pollfd){ .fd = s->listen_fd, .events = POLLIN };
	for (size_t i = 0; i < s->n_clients && n < max; i++)
		fds[n++] = (struct pollfd){ .fd = s->clients[i]->fd, .events = POLLIN };
	return n;
}

void
control_handle(struct control_server *s, const struct pollfd *fds, size_t n)
{
	time_t now = time(NULL);

	/*
	 * control_fill_poll put clients[i] at fds[1 + i], and nothing has
	 * added or dropped a client since; accept and drop only come after.
	 */
	for (size_t i = 0; i + 1 < n && i < s->n_clients; i++)
		if (fds[1 + i].revents & (POLLIN | POLLHUP | POLLERR))
			read_client(s, s->clients[i]);
	for (size_t i = s->n_clients; i-- > 0;)
		if (s->clients[i]->closing || now - s->clients[i]->last > CONTROL_IDLE_SECONDS)
			drop_client(s, i);
	if (n > 0 && (fds[0].revents & POLLIN))
		accept_clients(s);
}

void
control_stop(struct control_server *s)
{
	if (s == NULL)
		return;
	while (s->n_clients > 0)
		drop_client(s, s->n_clients - 1);
	close(s->listen_fd);
	free(s);
}
