/*
 * The web side of passkeyd: pages, assets and the JSON API of HTTP.md,
 * served by libmicrohttpd in external-polling mode inside the main loop.
 */
#ifndef PASSKEYD_HTTP_H
#define PASSKEYD_HTTP_H

#include "passkeyd.h"

struct http_server;

/* Binds and listens (call while still privileged).  NULL with a message. */
struct http_server *http_start(struct passkeyd *d, const char *tls_cert_pem,
    const char *tls_key_pem, char *err, size_t errlen);
/* A descriptor to poll for input; call http_run when it is ready. */
int http_poll_fd(struct http_server *h);
/* Milliseconds until libmicrohttpd wants to run again, or -1 for no deadline. */
int http_timeout_ms(struct http_server *h);
void http_run(struct http_server *h);
void http_stop(struct http_server *h);

#endif
