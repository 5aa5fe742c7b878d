/*
 * The Prometheus listener (metrics.h): a second libmicrohttpd daemon on
 * metrics_listen, polled by the loop like the pages' one, answering only
 * GET /metrics.  Few connections, short timeouts, a small memory pool:
 * a scraper shares nothing with the pages' clients.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "addrkey.h"
#include "metrics.h"
#include "passkeyd.h"

/* ---- the listener ------------------------------------------------------------ */

struct metrics_server {
	struct passkeyd *d;
	struct MHD_Daemon *mhd;
};

static enum MHD_Result
reply(struct MHD_Connection *conn, unsigned status, const char *type, char *body, size_t len,
    enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
	enum MHD_Result ret;

	if (r == NULL)
		return MHD_NO;
	(void)MHD_add_response_header(r, "Content-Type", type);
	(void)MHD_add_response_header(r, "Cache-Control", "no-store");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

/*
 * Which Host a scrape may name: an address literal, a loopback name, or
 * this host's own name (the config's `hostname`, addrkey.h), with or
 * without a port.
 * A web page that rebinds its own name to this listener's address (DNS
 * rebinding) reaches it with that name as Host, same-origin and without
 * CORS, and would read login activity from an admin's browser.  No Host at
 * all (HTTP/1.0) is no browser's.
 */
static int
metrics_host_ok(const char *value, const char *hostname)
{
	char name[256], addr[sizeof(struct in6_addr)];
	const char *end, *port;
	size_t len;

	if (value == NULL)
		return 1;
	if (value[0] == '[') {
		if ((end = strchr(value, ']')) == NULL)
			return 0;
		value++;
		port = end + 1;
	} else {
		end = strchr(value, ':');
		port = end != NULL ? end : value + strlen(value);
		end = port;
	}
	if (*port == ':' && (port[1] == '\0' || strspn(port + 1, "0123456789") != strlen(port + 1)))
		return 0;
	if (*port != '\0' && *port != ':')
		return 0;
	if ((len = (size_t)(end - value)) == 0 || len >= sizeof(name))
		return 0;
	memcpy(name, value, len);
	name[len] = '\0';
	if (inet_pton(AF_INET, name, addr) == 1 || inet_pton(AF_INET6, name, addr) == 1)
		return 1;
	if (name[len - 1] == '.')	/* a fully qualified name's root */
		name[--len] = '\0';
	return addr_is_this_host(name, hostname);
}

static char misdirected[] =
    "misdirected request: Host must be an address, localhost or this host's name\n";

static enum MHD_Result
on_metrics_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
    const char *version, const char *upload, size_t *upload_size, void **state)
{
	struct metrics_server *s = cls;
	size_t len;
	char *body;

	(void)version;
	(void)upload;
	/* no body is read: a POST or a body is simply not what this serves */
	if (*upload_size != 0) {
		*upload_size = 0;
		return MHD_YES;
	}
	if (*state == NULL) {
		*state = s;	/* headers first; answer on the next call */
		return MHD_YES;
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply(conn, 405, "text/plain; charset=utf-8", "method not allowed\n", 19,
		    MHD_RESPMEM_PERSISTENT);
	if (!metrics_host_ok(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host"),
	    s->d->cfg.hostname))
		return reply(conn, 421, "text/plain; charset=utf-8", misdirected,
		    sizeof(misdirected) - 1, MHD_RESPMEM_PERSISTENT);
	if (strcmp(url, "/metrics") != 0)
		return reply(conn, 404, "text/plain; charset=utf-8", "not found\n", 10,
		    MHD_RESPMEM_PERSISTENT);
	if ((body = metrics_render(s->d, &len)) == NULL)
		return reply(conn, 500, "text/plain; charset=utf-8", "out of memory\n", 14,
		    MHD_RESPMEM_PERSISTENT);
	return reply(conn, 200, "text/plain; version=0.0.4; charset=utf-8", body, len,
	    MHD_RESPMEM_MUST_FREE);
}

struct metrics_server *
metrics_server_start(struct passkeyd *d, char *err, size_t errlen)
{
	struct metrics_server *s = calloc(1, sizeof(*s));
	unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;

	if (s == NULL) {
		snprintf(err, errlen, "metrics: out of memory");
		return NULL;
	}
	s->d = d;
	if (((struct sockaddr *)&d->cfg.metrics_addr)->sa_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/* a scraper or two: few connections, short timeouts, nothing shared with the pages */
	s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_metrics_request, s,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&d->cfg.metrics_addr,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)8,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)4,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)5,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)8192,
	    MHD_OPTION_END);
	if (s->mhd == NULL) {
		snprintf(err, errlen, "metrics_listen %s: cannot listen there", d->cfg.metrics_listen);
		free(s);
		return NULL;
	}
	return s;
}

void
metrics_server_stop(struct metrics_server *s)
{
	if (s == NULL)
		return;
	MHD_stop_daemon(s->mhd);
	free(s);
}

int
metrics_server_poll_fd(struct metrics_server *s)
{
	const union MHD_DaemonInfo *info;

	if (s == NULL)
		return -1;
	info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	return info != NULL ? info->epoll_fd : -1;
}

void
metrics_server_run(struct metrics_server *s)
{
	if (s != NULL)
		(void)MHD_run(s->mhd);
}
