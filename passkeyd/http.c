/*
 * HTTP with libmicrohttpd.  Every answer carries the same strict headers
 * (HTTP.md); POST bodies are collected up to the RP core's 64 KiB limit and
 * must come with an allowed Origin.  Nothing here verifies anything: the
 * flow and the RP core do.
 *
 * Connections are tracked from MHD's STARTED notice to its CLOSED one
 * (http.h says what is bounded).  libmicrohttpd has no call to close a
 * connection from outside, so one past its deadline is shut down at the
 * socket (shutdown(2)); MHD then sees the end of the stream and closes it
 * as it would any other.
 *
 * A finish whose approval waits for the store (flow_finish returned 1)
 * suspends its connection; the journal's callback resumes it, and MHD
 * calls the handler again to send the verdict.  In a fleet, a page step
 * whose reads go off the loop (page_reads.h) is suspended the same way
 * until they return, then handled again with what they read.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "addrkey.h"
#include "assets.h"
#include "clock.h"
#include "countmap.h"
#include "ctl_text.h"
#include "file.h"
#include "flow.h"
#include "http.h"

#define BODY_MAX RP_MAX_RESPONSE_LEN
#define OLD_DAEMON_GRACE_MS	(5 * 60 * 1000)

/* One TCP connection, from STARTED to CLOSED. */
struct http_conn {
	struct http_conn *prev, *next;	/* the deadline queue, earliest first */
	struct http_server *h;
	int fd;
	int queued;		/* in the queue: not suspended, not killed */
	int killed;
	int64_t deadline_ms;
	char addr[ADDR_KEY_MAX];
};

/* An MHD daemon replaced by a TLS reload, serving out its connections. */
struct old_daemon {
	struct MHD_Daemon *mhd;
	int64_t since_ms;
};

struct http_server {
	struct MHD_Daemon *mhd;
	struct passkeyd *d;
	struct old_daemon old;		/* at most one draining daemon */
	unsigned flags;
	struct countmap *per_addr;
	struct http_conn *head, *tail;
	size_t conns;
	char *tls_cert, *tls_key;	/* what the current daemon serves */
	int resumed;			/* a finish was resumed: run MHD again */
	uint64_t tls_failures;		/* handshakes that failed, not yet reported */
};

enum phase { RECEIVING, READING, READ, COMMITTING, DECIDED, DENYING, DENIED };

/* Per request: the POST body as it arrives, and a finish under way. */
struct request {
	char *body;
	size_t len;
	int too_large;
	enum phase phase;
	struct MHD_Connection *conn;
	struct http_server *h;
	struct page_reads *pre;		/* READ: what the step's reads returned */
	const char *failed;		/* COMMITTING a failure: its reason (static) */
	/* DENIED: the ceremony as its deny left it (gone: -1), and the refusal */
	int denied_state;
	const char *denied_reason, *refused;
};

static const char csp[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/* ---- connection deadlines ---------------------------------------------- */

static void
queue_remove(struct http_server *h, struct http_conn *c)
{
	if (!c->queued)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		h->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		h->tail = c->prev;
	c->prev = c->next = NULL;
	c->queued = 0;
}

/* The 4 or 16 bytes of sa's address (an IPv4-mapped one as IPv4); 0 for none. */
static size_t
sockaddr_ip(const struct sockaddr *sa, unsigned char out[16])
{
	const struct sockaddr_in6 *v6 = (const void *)sa;

	if (sa != NULL && sa->sa_family == AF_INET) {
		memcpy(out, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
		return 4;
	}
	if (sa == NULL || sa->sa_family != AF_INET6)
		return 0;
	if (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) {
		memcpy(out, v6->sin6_addr.s6_addr + 12, 4);
		return 4;
	}
	memcpy(out, v6->sin6_addr.s6_addr, 16);
	return 16;
}

/*
 * A reverse proxy or load balancer (http_trusted_proxy): every client
 * comes from its address, so its connections share only the pool; the
 * proxy bounds each client's own (nginx: limit_conn, client timeouts).
 * Its exact address, never the /64 its connections would be counted in:
 * a neighbour in that /64 (hosting that shares one among customers) stays
 * held to http_max_per_address.
 */
static int
trusted_proxy(const struct http_server *h, const unsigned char *ip, size_t len)
{
	unsigned char proxy[16];

	for (size_t i = 0; len > 0 && i < h->d->cfg.n_trusted_proxies; i++) {
		const char *text = h->d->cfg.trusted_proxies[i];

		if (len == 4 ? inet_pton(AF_INET, text, proxy) == 1 :
		    inet_pton(AF_INET6, text, proxy) == 1 &&
		    !IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)(const void *)proxy)) {
			if (memcmp(ip, proxy, len) == 0)
				return 1;
		}
	}
	return 0;
}

/* What a trusted proxy's key starts with: no client key has a space. */
#define PROXY_KEY	"proxy "

/*
 * The key a connection is counted under: a trusted proxy's own (its exact
 * address after PROXY_KEY), so that the clients of its /64 are counted
 * without it.
 */
static void
conn_addr_key(const struct http_server *h, const struct sockaddr *sa, char out[ADDR_KEY_MAX])
{
	char text[INET6_ADDRSTRLEN];
	unsigned char ip[16];
	size_t len = sockaddr_ip(sa, ip);

	if (trusted_proxy(h, ip, len) &&
	    inet_ntop(len == 4 ? AF_INET : AF_INET6, ip, text, sizeof(text)) != NULL) {
		snprintf(out, ADDR_KEY_MAX, PROXY_KEY "%s", text);
		return;
	}
	addr_key_from_sockaddr(sa, out);
}

/* (Re)starts the connection's clock: a whole request within the timeout. */
static void
queue_arm(struct http_server *h, struct http_conn *c, int64_t now_ms)
{
	queue_remove(h, c);
	if (c->killed)
		return;
	c->deadline_ms = now_ms + (int64_t)h->d->cfg.http_request_timeout * 1000;
	c->prev = h->tail;
	if (h->tail)
		h->tail->next = c;
	else
		h->head = c;
	h->tail = c;
	c->queued = 1;
}

static void
kill_conn(struct http_server *h, struct http_conn *c)
{
	queue_remove(h, c);
	if (!c->killed) {
		c->killed = 1;
		shutdown(c->fd, SHUT_RDWR);
	}
}

static struct http_conn *
conn_of(struct MHD_Connection *mc)
{
	const union MHD_ConnectionInfo *ci;

	ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci != NULL ? ci->socket_context : NULL;
}

static void
conn_started(struct http_server *h, struct MHD_Connection *mc, void **ctx)
{
	const union MHD_ConnectionInfo *fd, *addr;
	struct http_conn *c = calloc(1, sizeof(*c));

	*ctx = c;
	fd = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
	addr = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (c == NULL || fd == NULL) {
		/* cannot be tracked, so cannot be bounded: not served */
		if (fd != NULL)
			shutdown(fd->connect_fd, SHUT_RDWR);
		free(c);
		*ctx = NULL;
		return;
	}
	c->h = h;
	c->fd = fd->connect_fd;
	conn_addr_key(h, addr != NULL ? addr->client_addr : NULL, c->addr);
	if (countmap_inc(h->per_addr, c->addr, strlen(c->addr)) != 0)
		c->addr[0] = '\0';	/* uncounted, and killed below */
	h->conns++;
	queue_arm(h, c, clock_monotonic_ms());
	if (c->addr[0] == '\0' || (countmap_get(h->per_addr, c->addr, strlen(c->addr)) >
	    h->d->cfg.http_max_per_address &&
	    strncmp(c->addr, PROXY_KEY, sizeof(PROXY_KEY) - 1) != 0)) {
		daemon_log_noisy(h->d, "http: %s holds %u connections: refusing another",
		    c->addr, countmap_get(h->per_addr, c->addr, strlen(c->addr)));
		kill_conn(h, c);
		return;
	}
	/* the pool is full: the connection nearest its deadline makes room */
	if (h->conns > h->d->cfg.http_max_connections && h->head != NULL && h->head != c) {
		daemon_log_noisy(h->d, "http: %zu connections: closing the oldest request "
		    "(from %s)", h->conns, h->head->addr);
		kill_conn(h, h->head);
	}
}

static void
conn_closed(struct http_server *h, void **ctx)
{
	struct http_conn *c = *ctx;

	if (c == NULL)
		return;
	queue_remove(h, c);
	if (c->addr[0] != '\0')
		countmap_dec(h->per_addr, c->addr, strlen(c->addr));
	h->conns--;
	free(c);
	*ctx = NULL;
}

static void
on_connection(void *cls, struct MHD_Connection *mc, void **socket_context,
    enum MHD_ConnectionNotificationCode toe)
{
	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
		conn_started(cls, mc, socket_context);
	else
		conn_closed(cls, socket_context);
}

static void
expire_conns(struct http_server *h, int64_t now_ms)
{
	while (h->head != NULL && h->head->deadline_ms <= now_ms)
		kill_conn(h, h->head);
}

/* ---- answers ------------------------------------------------------------ */

static int
served_over_tls(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci;
	const union MHD_DaemonInfo *di;

	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_DAEMON);
	di = ci != NULL ? MHD_get_daemon_info(ci->daemon, MHD_DAEMON_INFO_FLAGS) : NULL;
	return di != NULL && (di->flags & MHD_USE_TLS) != 0;
}

static enum MHD_Result
send_bytes(struct MHD_Connection *conn, unsigned status, const char *ctype,
    const void *data, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, (void *)data, mode);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", ctype);
	MHD_add_response_header(r, "Content-Security-Policy", csp);
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "Cross-Origin-Opener-Policy", "same-origin");
	MHD_add_response_header(r, "Cross-Origin-Resource-Policy", "same-origin");
	/* over TLS only: HSTS is meaningless, and ignored, over plain HTTP */
	if (served_over_tls(conn))
		MHD_add_response_header(r, "Strict-Transport-Security", "max-age=31536000");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
send_json(struct MHD_Connection *conn, unsigned status, json_t *obj)
{
	char *s = obj ? json_dumps(obj, JSON_COMPACT) : NULL;

	json_decref(obj);
	if (s == NULL)
		return send_bytes(conn, 500, "application/json",
		    "{\"state\":\"error\",\"error\":\"internal_error\"}", 43,
		    MHD_RESPMEM_PERSISTENT);
	return send_bytes(conn, status, "application/json", s, strlen(s),
	    MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result
send_state(struct MHD_Connection *conn, unsigned status, const char *state,
    const char *error)
{
	return send_json(conn, status, json_pack("{s:s, s:s*}", "state", state,
	    "error", error));
}

static enum MHD_Result
send_asset(struct MHD_Connection *conn, const char *name)
{
	for (const struct asset *a = assets; a->name != NULL; a++)
		if (strcmp(a->name, name) == 0)
			return send_bytes(conn, 200, a->content_type, a->data,
			    a->len, MHD_RESPMEM_PERSISTENT);
	return send_bytes(conn, 404, "text/plain; charset=utf-8", "not found\n",
	    10, MHD_RESPMEM_PERSISTENT);
}

static enum MHD_Result
handle_get(struct MHD_Connection *conn, const char *url)
{
	if (strcmp(url, "/healthz") == 0)
		return send_bytes(conn, 200, "text/plain; charset=utf-8", "ok\n", 3,
		    MHD_RESPMEM_PERSISTENT);
	/* browsers ask for it unprompted; answer without a 404 in the log */
	if (strcmp(url, "/favicon.ico") == 0)
		return send_bytes(conn, 204, "image/x-icon", "", 0,
		    MHD_RESPMEM_PERSISTENT);
	if (strcmp(url, "/static/passkey.js") == 0)
		return send_asset(conn, "passkey.js");
	if (strcmp(url, "/static/style.css") == 0)
		return send_asset(conn, "style.css");
	/* the page is the same for every well-formed token: it reveals nothing */
	if (strncmp(url, "/l/", 3) == 0 && ceremony_token_valid(url + 3))
		return send_asset(conn, "login.html");
	if (strncmp(url, "/r/", 3) == 0 && ceremony_token_valid(url + 3))
		return send_asset(conn, "register.html");
	return send_bytes(conn, 404, "text/plain; charset=utf-8", "not found\n",
	    10, MHD_RESPMEM_PERSISTENT);
}

static int
origin_allowed(struct http_server *h, struct MHD_Connection *conn)
{
	const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    "Origin");

	if (origin == NULL)
		return 0;
	for (size_t i = 0; i < h->d->cfg.n_origins; i++)
		if (strcmp(origin, h->d->cfg.origins[i]) == 0)
			return 1;
	return 0;
}

/* A final ceremony's answer: 410 Gone with its state. */
static enum MHD_Result
send_final_state(struct MHD_Connection *conn, enum ctl_state s, const char *reason)
{
	const char *state = ctl_state_name(s);

	if (s == CTL_STATE_APPROVED)
		state = "used";	/* the page must not suggest it can approve again */
	return send_state(conn, 410, state, s == CTL_STATE_FAILED ? reason : NULL);
}

static enum MHD_Result
send_final(struct MHD_Connection *conn, struct ceremony *c)
{
	return send_final_state(conn, (enum ctl_state)c->state, c->reason);
}

/*
 * Who asked on the host itself ("UID TTY NAME", ceremony.h), for the
 * page: {"uid": N, "tty": ..., "name": ...}, tty and name only when
 * known.  NULL for none, and for text that is not that: in a fleet the
 * row is another host's writing.
 */
static json_t *
requester_json(const char *text)
{
	char tty[CTL_TTY_MAX + 1];
	const char *sp, *name;
	unsigned long uid;
	char *end;
	json_t *r;

	if (text == NULL || text[0] < '0' || text[0] > '9')
		return NULL;
	uid = strtoul(text, &end, 10);
	if (*end != ' ' || uid > UINT32_MAX - 1 || (sp = strchr(end + 1, ' ')) == NULL ||
	    (size_t)(sp - end - 1) > CTL_TTY_MAX)
		return NULL;
	memcpy(tty, end + 1, (size_t)(sp - end - 1));
	tty[sp - end - 1] = '\0';
	name = sp + 1;
	if ((strcmp(tty, "?") != 0 && !ctl_tty_ok(tty)) ||
	    (name[0] != '\0' && !ctl_user_name_valid(name)) ||
	    (r = json_pack("{s:I}", "uid", (json_int_t)uid)) == NULL)
		return NULL;
	if (strcmp(tty, "?") != 0)
		json_object_set_new(r, "tty", json_string(tty));
	if (name[0] != '\0')
		json_object_set_new(r, "name", json_string(name));
	return r;
}

static enum MHD_Result
api_options(struct http_server *h, struct MHD_Connection *conn, struct ceremony *c,
    const struct request *req)
{
	unsigned window = flow_window_seconds(h->d, c);
	char created[32];
	const char *err;
	struct tm tm;
	json_t *pk, *out;

	if ((pk = flow_options(h->d, c, req->pre, &err)) == NULL)
		return send_state(conn, 500, "error", err);
	gmtime_r(&c->created, &tm);
	strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
	out = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:o}",
	    "state", "pending",
	    "kind", c->kind == CEREMONY_LOGIN ? "login" : "register",
	    "user", c->user, "host", c->hostname, "rhost", c->rhost,
	    "service", c->service, "created", created,
	    "expires_in", (json_int_t)(c->expires - time(NULL)),
	    "code", c->code, "publicKey", pk);
	/*
	 * an address that is the host itself: as local as su.  Its interfaces'
	 * addresses only the host that began it knows (hostaddrs.h, c->local);
	 * loopback and its name any instance can tell, for an older host's row too
	 */
	if (out != NULL && (c->local || addr_is_this_host(c->rhost, c->hostname)))
		json_object_set_new(out, "local", json_true());
	/* who asked, for a request made on the host itself */
	if (out != NULL && c->requester != NULL && c->requester[0] != '\0')
		json_object_set_new(out, "requester", requester_json(c->requester));
	/* the re-approval window the approval opens, said before it is given */
	if (out != NULL && window > 0) {
		json_object_set_new(out, "reuse", json_integer((json_int_t)window));
		json_object_set_new(out, "client_key", json_string(c->client_key));
	}
	return send_json(conn, 200, out);
}

static enum MHD_Result
api_cancel(struct http_server *h, struct MHD_Connection *conn,
    struct ceremony *c, const struct request *req)
{
	json_t *body = json_loadb(req->body ? req->body : "{}", req->len, 0, NULL);
	const char *name = json_string_value(json_object_get(body, "error"));
	char clean[64];
	size_t n = 0;

	/* a DOMException name (letters only): keep it short and plain for the log */
	for (; name && name[n] && n < sizeof(clean) - 1; n++)
		clean[n] = ((name[n] >= 'A' && name[n] <= 'Z') || (name[n] >= 'a' && name[n] <= 'z')) ?
		    name[n] : '?';
	clean[n] = '\0';
	flow_client_cancelled(h->d, c, n ? clean : "unknown");
	json_decref(body);
	return send_state(conn, 200, "pending", NULL);
}

/* A suspended request goes on: MHD calls the handler again. */
static void
resume(struct request *req, enum phase phase)
{
	struct http_conn *c = conn_of(req->conn);

	req->phase = phase;
	if (c != NULL)
		queue_arm(req->h, c, clock_monotonic_ms());
	MHD_resume_connection(req->conn);
	req->h->resumed = 1;
}

/* Waiting for us, not for the client: no deadline meanwhile. */
static void
suspend(struct http_server *h, struct MHD_Connection *conn, struct request *req,
    enum phase phase)
{
	struct http_conn *hc;

	req->phase = phase;
	req->conn = conn;
	if ((hc = conn_of(conn)) != NULL)
		queue_remove(h, hc);
	MHD_suspend_connection(conn);
}

/* The journal decided a suspended finish. */
static void
finish_decided(struct passkeyd *d, void *arg)
{
	(void)d;
	resume(arg, DECIDED);
}

/* A deny handed off returned (flow_deny_later): what to answer. */
static void
deny_returned(struct passkeyd *d, void *arg, struct ceremony *c, int held,
    const char *refused)
{
	struct request *req = arg;

	(void)d;
	req->denied_state = held ? CTL_STATE_DENIED : c != NULL ? c->state : -1;
	req->denied_reason = c != NULL ? c->reason : NULL;
	req->refused = refused;
	resume(req, DENIED);
}

/* A step's reads returned (page_reads.h). */
static void
reads_returned(struct passkeyd *d, void *arg)
{
	(void)d;
	resume(arg, READ);
}

/*
 * A finish the journal decided.  Its approval may have lost to a verdict
 * given elsewhere first (another instance's deny, or the expiry): the
 * page is told that verdict, as a finish that came after it would be, and
 * not that this finish failed.
 */
static enum MHD_Result
finish_decided_reply(struct MHD_Connection *conn, struct ceremony *c)
{
	switch (c->state) {
	case CTL_STATE_APPROVED:
	case CTL_STATE_USED:
		return send_state(conn, 200, "approved", NULL);
	case CTL_STATE_DENIED:
	case CTL_STATE_EXPIRED:
	case CTL_STATE_CANCELLED:
		return send_final(conn, c);
	default:	/* this finish's own failure, or a row that could not be read */
		return send_state(conn, 400, "failed", c->reason);
	}
}

static enum MHD_Result
api_finish(struct http_server *h, struct MHD_Connection *conn, struct ceremony *c,
    struct request *req)
{
	const char *reason = NULL;
	int was_pending;

	if (req->phase == DECIDED)
		return finish_decided_reply(conn, c);
	flow_refresh_page(h->d, c, req->pre);
	was_pending = c->state == CTL_STATE_PENDING && !c->committing;
	/* called on a finished ceremony too: a replay is logged there */
	if (flow_finish(h->d, c, req->body ? req->body : "", req->len, req->pre,
	    finish_decided, req, &reason)) {
		req->failed = reason;
		suspend(h, conn, req, COMMITTING);
		return MHD_YES;
	}
	if (c->committing)
		return send_state(conn, 409, "pending", reason);
	if (!was_pending)
		return send_final(conn, c);
	return send_state(conn, 400, "failed", reason);
}

/* A deny's answer, from the state it left its ceremony in. */
static enum MHD_Result
deny_reply(struct MHD_Connection *conn, int state, const char *reason, const char *refused)
{
	if (state < 0)	/* forgotten meanwhile */
		return send_state(conn, 404, "unknown", NULL);
	if (state == CTL_STATE_DENIED)
		return send_state(conn, 200, "denied", NULL);
	/* decided elsewhere first, or expired: what it is now */
	if (state != CTL_STATE_PENDING)
		return send_final_state(conn, (enum ctl_state)state, reason);
	return refused != NULL ? send_state(conn, 503, "error", refused) :
	    send_state(conn, 409, "pending", "ceremony_in_progress");
}

static enum MHD_Result
api_deny(struct http_server *h, struct MHD_Connection *conn, struct ceremony *c,
    struct request *req)
{
	const char *refused;

	/* in a fleet, its move off the loop, with no read first: the move is conditional */
	if (flow_deny_later(h->d, c, deny_returned, req)) {
		suspend(h, conn, req, DENYING);
		return MHD_YES;
	}
	/* decided already (a second deny too): what it is */
	if (c->state != CTL_STATE_PENDING)
		return send_final(conn, c);
	refused = flow_deny(h->d, c);
	return deny_reply(conn, c->state, c->reason, refused);
}

/* The step, on what its reads found (or reading now). */
static enum MHD_Result
api_step(struct http_server *h, struct MHD_Connection *conn, struct request *req,
    const char *token, enum page_step step)
{
	struct ceremony *c;
	int unavailable;

	if ((c = flow_find(h->d, token, req->pre, &unavailable)) == NULL)
		return unavailable ? send_state(conn, 503, "error", "store_unavailable") :
		    send_state(conn, 404, "unknown", NULL);
	if (step == PAGE_FINISH)
		return api_finish(h, conn, c, req);
	if (step == PAGE_DENY)
		return api_deny(h, conn, c, req);
	/* another instance's row was read off the loop first (page_reads.h) */
	flow_refresh_page(h->d, c, req->pre);
	if (c->state != CTL_STATE_PENDING)
		return send_final(conn, c);
	if (step == PAGE_OPTIONS)
		return api_options(h, conn, c, req);
	return api_cancel(h, conn, c, req);
}

static enum MHD_Result
handle_api(struct http_server *h, struct MHD_Connection *conn, const char *url,
    struct request *req)
{
	char token[CEREMONY_TOKEN_LEN + 1];
	const char *op, *slash;
	enum page_step step;
	enum MHD_Result ret;
	int handed;

	if (!origin_allowed(h, conn))
		return send_state(conn, 403, "error", "origin_not_allowed");
	if (req->too_large)
		return send_state(conn, 413, "error", "response_too_large");
	slash = strchr(url + 5, '/');
	if (slash == NULL || (size_t)(slash - (url + 5)) != CEREMONY_TOKEN_LEN)
		return send_state(conn, 404, "unknown", NULL);
	memcpy(token, url + 5, CEREMONY_TOKEN_LEN);
	token[CEREMONY_TOKEN_LEN] = '\0';
	op = slash + 1;
	step = strcmp(op, "options") == 0 ? PAGE_OPTIONS :
	    strcmp(op, "finish") == 0 ? PAGE_FINISH :
	    strcmp(op, "deny") == 0 ? PAGE_DENY : PAGE_CANCEL;
	/* nothing else: an unknown step costs the store nothing */
	if (step == PAGE_CANCEL && strcmp(op, "cancel") != 0)
		return send_state(conn, 404, "unknown", NULL);
	/* a fleet's: the step's reads off the loop first (page_reads.h) */
	if (req->phase == RECEIVING && (handed = page_reads_start(h->d, token, step,
	    req->body ? req->body : "", req->len, reads_returned, req, &req->pre)) != 0) {
		if (handed < 0)
			return send_state(conn, 503, "error", "store_busy");
		suspend(h, conn, req, READING);
		return MHD_YES;
	}
	/* an error the reads met is logged in their connection's words */
	h->d->store_words = page_reads_words(req->pre);
	ret = api_step(h, conn, req, token, step);
	h->d->store_words = NULL;
	return ret;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct http_server *h = cls;
	struct request *req = *con_cls;

	(void)version;
	if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
		return handle_get(conn, url);
	if (strcmp(method, "POST") != 0 || strncmp(url, "/api/", 5) != 0)
		return send_bytes(conn, 405, "text/plain; charset=utf-8",
		    "method not allowed\n", 19, MHD_RESPMEM_PERSISTENT);
	if (req == NULL) {
		if ((req = calloc(1, sizeof(*req))) == NULL)
			return MHD_NO;
		req->h = h;
		*con_cls = req;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		if (req->too_large || req->len + *upload_data_size > BODY_MAX) {
			req->too_large = 1;
		} else {
			char *nb = realloc(req->body, req->len + *upload_data_size + 1);
			if (nb == NULL)
				return MHD_NO;
			memcpy(nb + req->len, upload_data, *upload_data_size);
			req->body = nb;
			req->len += *upload_data_size;
			req->body[req->len] = '\0';
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	/* resumed before its reads returned or it was decided: wait on */
	if (req->phase == READING || req->phase == COMMITTING || req->phase == DENYING)
		return MHD_YES;
	if (req->phase == DENIED)
		return deny_reply(conn, req->denied_state, req->denied_reason, req->refused);
	/*
	 * This finish failed: so it says, whatever the store held (as when
	 * answered at once), and even if its ceremony was forgotten meanwhile.
	 */
	if (req->phase == DECIDED && req->failed != NULL)
		return send_state(conn, 400, "failed", req->failed);
	return handle_api(h, conn, url, req);
}

/* A request ended: its body goes, and keep-alive starts a new deadline. */
static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct http_server *h = cls;
	struct request *req = *con_cls;
	struct http_conn *c;

	(void)toe;
	if (req != NULL) {
		page_reads_free(req->pre);
		free(req->body);
		free(req);
		*con_cls = NULL;
	}
	if ((c = conn_of(conn)) != NULL && c->queued)
		queue_arm(h, c, clock_monotonic_ms());
}

/*
 * MHD's own messages: a failed TLS handshake writes one each, so a client
 * can cause them at will; they share the noisy-log budget.  fmt is MHD's
 * (the attribute tells the compiler so, and checks the call below).
 */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct http_server *h = cls;
	char line[256];

	/* one per port scan or plain-HTTP probe: counted, reported as a sum */
	if (strcmp(fmt, "Error: received handshake message out of context.\n") == 0) {
		h->tls_failures++;
		return;
	}
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	daemon_log_noisy(h->d, "http: %s", line);
}

/*
 * Refuses, before any TLS or memory is spent on it, a connection from an
 * address that already holds its share.  Only reads the counts: they are
 * kept by the STARTED and CLOSED notices (MHD may drop an accepted
 * connection after this callback without any notice).
 */
static enum MHD_Result
on_accept(void *cls, const struct sockaddr *sa, socklen_t len)
{
	struct http_server *h = cls;
	char key[ADDR_KEY_MAX];
	unsigned char ip[16];

	(void)len;
	if (trusted_proxy(h, ip, sockaddr_ip(sa, ip)))
		return MHD_YES;
	addr_key_from_sockaddr(sa, key);
	return countmap_get(h->per_addr, key, strlen(key)) >=
	    h->d->cfg.http_max_per_address ? MHD_NO : MHD_YES;
}

static struct MHD_Daemon *
start_mhd(struct http_server *h, int listen_fd, const char *cert_pem, const char *key_pem)
{
	struct passkeyd *d = h->d;
	unsigned limit = d->cfg.http_max_connections + 64;

	/*
	 * MHD's own bounds sit above ours (http.h): its pool refuses without
	 * telling us, and its per-address limit knows nothing of /64s.
	 */
	return MHD_start_daemon(h->flags, 0, on_accept, h, on_request, h,
	    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h,
	    listen_fd >= 0 ? MHD_OPTION_LISTEN_SOCKET : MHD_OPTION_SOCK_ADDR,
	    listen_fd >= 0 ? (void *)(intptr_t)listen_fd : (void *)&d->cfg.listen_addr,
	    MHD_OPTION_CONNECTION_LIMIT, limit,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)d->cfg.http_request_timeout,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONNECTION_MEMORY,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
	    MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
	    cert_pem ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, cert_pem,
	    MHD_OPTION_HTTPS_MEM_KEY, key_pem,
	    MHD_OPTION_HTTPS_PRIORITIES, HTTP_TLS_PRIORITIES,
	    MHD_OPTION_END);
}

struct http_server *
http_start(struct passkeyd *d, const char *cert_pem, const char *key_pem,
    char *err, size_t errlen)
{
	struct http_server *h = calloc(1, sizeof(*h));
	int family = ((struct sockaddr *)&d->cfg.listen_addr)->sa_family;

	if (h == NULL || (h->per_addr = countmap_new()) == NULL) {
		free(h);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	h->d = d;
	h->flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
	if (family == AF_INET6)
		h->flags |= MHD_USE_IPv6;
	if (cert_pem != NULL)
		h->flags |= MHD_USE_TLS;
	if ((cert_pem != NULL && ((h->tls_cert = strdup(cert_pem)) == NULL ||
	    (h->tls_key = strdup(key_pem)) == NULL)) ||
	    (h->mhd = start_mhd(h, -1, cert_pem, key_pem)) == NULL) {
		snprintf(err, errlen, "cannot listen on %s%s", d->cfg.listen,
		    cert_pem ? " with TLS (check tls_cert and tls_key)" : "");
		countmap_free(h->per_addr);
		if (h->tls_key != NULL)
			explicit_bzero(h->tls_key, strlen(h->tls_key));
		free(h->tls_cert);
		free(h->tls_key);
		free(h);
		return NULL;
	}
	return h;
}

int
http_poll_fd(struct http_server *h)
{
	const union MHD_DaemonInfo *info;

	info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	return info ? info->epoll_fd : -1;
}

int
http_timeout_ms(struct http_server *h)
{
	MHD_UNSIGNED_LONG_LONG ms;
	int64_t until;

	if (h->resumed)
		return 0;
	if (MHD_get_timeout(h->mhd, &ms) != MHD_YES)
		ms = ULLONG_MAX;
	if (h->head != NULL) {
		until = h->head->deadline_ms - clock_monotonic_ms();
		if (until < 0)
			until = 0;
		if ((MHD_UNSIGNED_LONG_LONG)until < ms)
			ms = (MHD_UNSIGNED_LONG_LONG)until;
	}
	/* a draining old daemon is run every turn: wake up now and then */
	if (h->old.mhd != NULL && ms > 100)
		ms = 100;
	if (ms == ULLONG_MAX)
		return -1;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* Whether a timeout of MHD's is due (or a connection has input it read already). */
static int
mhd_due(struct MHD_Daemon *mhd)
{
	MHD_UNSIGNED_LONG_LONG ms;

	return MHD_get_timeout(mhd, &ms) == MHD_YES && ms == 0;
}

static void
run_old(struct http_server *h, int64_t now_ms)
{
	const union MHD_DaemonInfo *info;

	if (h->old.mhd == NULL)
		return;
	MHD_run(h->old.mhd);
	info = MHD_get_daemon_info(h->old.mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
	if ((info != NULL && info->num_connections == 0) ||
	    now_ms - h->old.since_ms > OLD_DAEMON_GRACE_MS) {
		MHD_stop_daemon(h->old.mhd);
		h->old.mhd = NULL;
	}
}

static unsigned
mhd_connections(struct MHD_Daemon *mhd)
{
	const union MHD_DaemonInfo *info;

	info = MHD_get_daemon_info(mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
	return info != NULL ? info->num_connections : 0;
}

void
http_run(struct http_server *h, int64_t now_ms, int ready)
{
	unsigned before = mhd_connections(h->mhd);
	int resumed = h->resumed;

	h->resumed = 0;
	expire_conns(h, now_ms);
	/*
	 * MHD's run costs an epoll_wait: only when it may find something.  Its
	 * descriptor (level-triggered) stays readable until it runs, and a
	 * connection closed by expire_conns makes it readable, so nothing
	 * skipped here waits longer than the next turn's poll.
	 */
	if (ready || resumed || mhd_due(h->mhd)) {
		MHD_run(h->mhd);
		/*
		 * At its connection limit MHD stops listening, and starts again
		 * only in the run after one closes: run again now, or queued
		 * clients wait for the next wake-up.
		 */
		if (mhd_connections(h->mhd) < before)
			MHD_run(h->mhd);
	}
	run_old(h, now_ms);
	if (h->tls_failures > 0 && rate_take(&h->d->log_noise,
	    &(struct rate_rule){ 0.1, 1.0 }, now_ms)) {
		daemon_log(h->d, "http: %llu TLS handshakes failed (plain HTTP, old "
		    "protocols or ciphers, or port probes)", (unsigned long long)h->tls_failures);
		h->tls_failures = 0;
	}
}

int
http_wants_run(const struct http_server *h)
{
	return h->resumed;
}

size_t
http_connection_count(const struct http_server *h)
{
	return h->conns;
}

void
http_reload_tls(struct http_server *h)
{
	struct passkeyd *d = h->d;
	char err[400], *cert = NULL, *key = NULL;
	struct MHD_Daemon *next = NULL;
	MHD_socket fd;
	int copy;

	if (d->cfg.tls_cert == NULL) {
		daemon_log(d, "SIGHUP: no tls_cert configured: nothing to reload");
		return;
	}
	if (h->old.mhd != NULL) {
		daemon_log(d, "SIGHUP: a reload is still draining; try again later");
		return;
	}
	if ((cert = file_read_text(d->cfg.tls_cert, HTTP_TLS_FILE_MAX, 0, err, sizeof(err))) == NULL ||
	    (key = file_read_text(d->cfg.tls_key, HTTP_TLS_FILE_MAX, 0, err, sizeof(err))) == NULL) {
		daemon_log(d, "SIGHUP: keeping the current certificate: %s", err);
		free(cert);
		return;
	}
	/* the old daemon hands its listening socket over and keeps its connections */
	if ((fd = MHD_quiesce_daemon(h->mhd)) == MHD_INVALID_SOCKET) {
		daemon_log(d, "SIGHUP: keeping the current certificate: cannot hand over the listener");
		goto out;
	}
	/* a daemon that fails to start closes the socket it was given: give a copy */
	if ((copy = dup(fd)) >= 0 && (next = start_mhd(h, copy, cert, key)) != NULL)
		close(fd);
	else {
		/* nothing listens now: take the socket back with the old certificate */
		next = start_mhd(h, fd, h->tls_cert != NULL ? h->tls_cert : cert,
		    h->tls_key != NULL ? h->tls_key : key);
		daemon_log(d, "SIGHUP: the new certificate and key were refused (do they "
		    "match?); %s", next != NULL ? "keeping the current ones" :
		    "and the listener could not be restarted");
		if (next == NULL)
			goto out;
		h->old = (struct old_daemon){ h->mhd, clock_monotonic_ms() };
		h->mhd = next;
		goto out;
	}
	h->old = (struct old_daemon){ h->mhd, clock_monotonic_ms() };
	h->mhd = next;
	if (h->tls_key != NULL)
		explicit_bzero(h->tls_key, strlen(h->tls_key));
	free(h->tls_cert);
	free(h->tls_key);
	h->tls_cert = cert;
	h->tls_key = key;
	cert = key = NULL;
	daemon_log(d, "SIGHUP: serving the certificate from %s; open connections finish "
	    "on the old one", d->cfg.tls_cert);
out:
	if (key != NULL)
		explicit_bzero(key, strlen(key));
	free(cert);
	free(key);
}

void
http_stop(struct http_server *h)
{
	if (h == NULL)
		return;
	if (h->old.mhd != NULL)
		MHD_stop_daemon(h->old.mhd);
	MHD_stop_daemon(h->mhd);
	countmap_free(h->per_addr);
	if (h->tls_key != NULL)
		explicit_bzero(h->tls_key, strlen(h->tls_key));
	free(h->tls_cert);
	free(h->tls_key);
	free(h);
}
