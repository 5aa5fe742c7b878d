/*
 * The web side of passkeyd: pages, assets and the JSON API of HTTP.md,
 * served by libmicrohttpd in external-polling mode inside the main loop.
 *
 * Every connection is tracked here, from accept to close (docs/DESIGN.md
 * "Availability"): each must send a whole request within
 * http_request_timeout seconds of its start or of its previous answer
 * (slowloris: trickling bytes does not keep it); an IPv4 address or an
 * IPv6 /64 holds at most http_max_per_address; and when the pool
 * (http_max_connections) is full, a new connection takes the place of
 * the one nearest to its deadline, so a few addresses cannot take it.
 */
#ifndef PASSKEYD_HTTP_H
#define PASSKEYD_HTTP_H

#include <poll.h>
#include <stdint.h>

#include "passkeyd.h"

/*
 * GnuTLS priorities: TLS 1.2 and 1.3 only; on 1.2 ECDHE key exchange only
 * (forward secrecy, no RSA key transport); AEAD ciphers only (no CBC, no
 * SHA-1 MACs); elliptic-curve groups only (a 1.3 client offering only
 * finite-field groups is refused); and the server's order, not the
 * client's.
 */
#define HTTP_TLS_PRIORITIES \
	"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:" \
	"-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305:-MAC-ALL:+AEAD:" \
	"-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:+GROUP-SECP384R1:%SERVER_PRECEDENCE"

/*
 * Per-connection memory: libmicrohttpd zeroes about 1.5 times this on
 * every keep-alive request, so it is kept near what a request needs:
 * browser headers of up to ~7 KB (cookies included), the body streamed
 * to the handler in pieces.
 */
#define HTTP_CONNECTION_MEMORY	(20 * 1024)

/* The largest TLS certificate chain or key file read. */
#define HTTP_TLS_FILE_MAX	(64 * 1024)

struct http_server;

/* Binds and listens (call while still privileged).  NULL with a message. */
struct http_server *http_start(struct passkeyd *d, const char *tls_cert_pem,
    const char *tls_key_pem, char *err, size_t errlen);
/* A descriptor to poll for input; call http_run when it is ready. */
int http_poll_fd(struct http_server *h);
/* Milliseconds until it wants to run again, or -1 for no deadline. */
int http_timeout_ms(struct http_server *h);
/*
 * 1 when a suspended finish was resumed since the last http_run: MHD
 * serves it only in its next run, and its descriptor does not wake poll.
 */
int http_wants_run(const struct http_server *h);
/*
 * Serves what is ready, and closes connections past their deadline.
 * ready: http_poll_fd was readable (else MHD runs only for a resumed
 * request or a due timeout).
 */
void http_run(struct http_server *h, int64_t now_ms, int ready);
void http_stop(struct http_server *h);
size_t http_connection_count(const struct http_server *h);
/*
 * SIGHUP: reads tls_cert and tls_key again (as the daemon's account) and
 * serves new connections with them; connections already open finish on
 * the old ones, and no ceremony is touched.  On any error the old
 * certificate stays, and the reason is logged.
 */
void http_reload_tls(struct http_server *h);

#endif
