/*
 * HTTP with libmicrohttpd.  Every answer carries the same strict headers
 * (HTTP.md); POST bodies are collected up to the RP core's 64 KiB limit and
 * must come with an allowed Origin.  Nothing here verifies anything: the
 * flow and the RP core do.
 */
#include <limits.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "assets.h"
#include "flow.h"
#include "http.h"

#define BODY_MAX RP_MAX_RESPONSE_LEN

struct http_server {
	struct MHD_Daemon *mhd;
	struct passkeyd *d;
};

/* Per request: the POST body as it arrives. */
struct request {
	char *body;
	size_t len;
	int too_large;
};

static const char csp[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

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
handle_get(struct http_server *h, struct MHD_Connection *conn, const char *url)
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
	(void)h;
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
send_final(struct MHD_Connection *conn, struct ceremony *c)
{
	const char *state = ceremony_state_str(c->state);

	if (c->state == CEREMONY_APPROVED)
		state = "used";	/* the page must not suggest it can approve again */
	return send_state(conn, 410, state,
	    c->state == CEREMONY_FAILED ? c->reason : NULL);
}

static enum MHD_Result
api_options(struct http_server *h, struct MHD_Connection *conn, struct ceremony *c)
{
	char created[32];
	const char *err;
	struct tm tm;
	json_t *pk, *out;

	if ((pk = flow_options(h->d, c, &err)) == NULL)
		return send_state(conn, 500, "error", err);
	gmtime_r(&c->created, &tm);
	strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
	out = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:o}",
	    "state", "pending",
	    "kind", c->kind == CEREMONY_LOGIN ? "login" : "register",
	    "user", c->user, "host", h->d->cfg.hostname, "rhost", c->rhost,
	    "service", c->service, "created", created,
	    "expires_in", (json_int_t)(c->expires - time(NULL)),
	    "code", c->code, "publicKey", pk);
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

	/* a DOMException name: keep it short and plain for the log */
	for (; name && name[n] && n < sizeof(clean) - 1; n++)
		clean[n] = (name[n] >= 'A' && name[n] <= 'z') ? name[n] : '?';
	clean[n] = '\0';
	flow_client_cancelled(h->d, c, n ? clean : "unknown");
	json_decref(body);
	return send_state(conn, 200, "pending", NULL);
}

static enum MHD_Result
handle_api(struct http_server *h, struct MHD_Connection *conn, const char *url,
    const struct request *req)
{
	char token[CEREMONY_TOKEN_LEN + 1];
	const char *op, *slash;
	struct ceremony *c;
	const char *reason;

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
	if ((c = ceremony_find(h->d->ceremonies, token)) == NULL)
		return send_state(conn, 404, "unknown", NULL);
	flow_refresh(h->d, c);
	if (strcmp(op, "finish") == 0) {
		int was_pending = c->state == CEREMONY_PENDING;

		/* called on a finished ceremony too: a replay is logged there */
		reason = flow_finish(h->d, c, req->body ? req->body : "", req->len);
		if (!was_pending)
			return send_final(conn, c);
		if (reason == NULL)
			return send_state(conn, 200, "approved", NULL);
		return send_state(conn, 400, "failed", reason);
	}
	if (c->state != CEREMONY_PENDING)
		return send_final(conn, c);
	if (strcmp(op, "options") == 0)
		return api_options(h, conn, c);
	if (strcmp(op, "deny") == 0) {
		flow_deny(h->d, c);
		return send_state(conn, 200, "denied", NULL);
	}
	if (strcmp(op, "cancel") == 0)
		return api_cancel(h, conn, c, req);
	return send_state(conn, 404, "unknown", NULL);
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct http_server *h = cls;
	struct request *req = *con_cls;

	if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
		return handle_get(h, conn, url);
	if (strcmp(method, "POST") != 0 || strncmp(url, "/api/", 5) != 0)
		return send_bytes(conn, 405, "text/plain; charset=utf-8",
		    "method not allowed\n", 19, MHD_RESPMEM_PERSISTENT);
	if (req == NULL) {
		if ((req = calloc(1, sizeof(*req))) == NULL)
			return MHD_NO;
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
	(void)version;
	return handle_api(h, conn, url, req);
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct request *req = *con_cls;

	if (req != NULL) {
		free(req->body);
		free(req);
		*con_cls = NULL;
	}
}

static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[256];

	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	daemon_log(cls, "http: %s", line);
}

struct http_server *
http_start(struct passkeyd *d, const char *cert_pem, const char *key_pem,
    char *err, size_t errlen)
{
	struct http_server *h = calloc(1, sizeof(*h));
	unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	int family = ((struct sockaddr *)&d->cfg.listen_addr)->sa_family;

	if (h == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	h->d = d;
	if (family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (cert_pem != NULL)
		flags |= MHD_USE_TLS;
	h->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h,
	    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, d,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&d->cfg.listen_addr,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)256,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)32,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)15,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
	    cert_pem ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, cert_pem,
	    MHD_OPTION_HTTPS_MEM_KEY, key_pem,
	    MHD_OPTION_END);
	if (h->mhd == NULL) {
		snprintf(err, errlen, "cannot listen on %s%s", d->cfg.listen,
		    cert_pem ? " with TLS (check tls_cert and tls_key)" : "");
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

	if (MHD_get_timeout(h->mhd, &ms) != MHD_YES)
		return -1;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

void
http_run(struct http_server *h)
{
	MHD_run(h->mhd);
}

void
http_stop(struct http_server *h)
{
	if (h == NULL)
		return;
	MHD_stop_daemon(h->mhd);
	free(h);
}
