/*
 * passkeyd's configuration: "key = value" lines (passkeyd.conf.sample
 * documents every key).  Parsing is strict: an unknown key, a repeated
 * single-valued key or a bad value stops the daemon with the line number,
 * because a typo in an authentication server's config must not silently
 * fall back to a default.
 */
#ifndef PASSKEYD_CONFIG_H
#define PASSKEYD_CONFIG_H

#include <stddef.h>
#include <sys/socket.h>

#define CONFIG_MAX_ORIGINS 16
#define CONFIG_MAX_PROXIES 16
#define CONFIG_MAX_ALGS 3		/* ES256, EdDSA, RS256 */
/* re-approval windows: the PAM module asks for one (reuse=); these cap it */
#define CONFIG_REUSE_DEFAULT	43200	/* 12 h */
#define CONFIG_REUSE_MAX	604800	/* 7 days */

struct config {
	char *rp_id;
	char *rp_name;
	char *origins[CONFIG_MAX_ORIGINS];
	size_t n_origins;
	/* http_trusted_proxy: addresses whose connections are not held to http_max_per_address */
	char *trusted_proxies[CONFIG_MAX_PROXIES];
	size_t n_trusted_proxies;
	char *listen;			/* as written */
	struct sockaddr_storage listen_addr;
	socklen_t listen_addr_len;
	int listen_loopback;		/* 1 if the address is loopback */
	char *public_url;		/* without a trailing '/' */
	char *tls_cert, *tls_key;	/* paths, both or neither */
	char *hostname;
	char *store;
	char *store_shown;	/* for logs: without a password (store_spec_display) */
	char *socket_path;
	char *user;			/* NULL: do not change user */
	unsigned ceremony_timeout;	/* seconds */
	unsigned enroll_timeout;	/* seconds */
	unsigned reuse_max;		/* seconds a re-approval window may last; 0: none */
	int reuse_across_hosts;		/* a fleet's windows opened by other hosts count here */
	unsigned max_pending_total;
	unsigned max_pending_per_user;
	unsigned max_pending_per_address;
	unsigned max_pending_per_user_address;
	unsigned max_passkeys_per_user;	/* a registration past it fails (limit_passkeys) */
	unsigned audit_retention_days;	/* 0: keep by age forever */
	unsigned audit_max_rows;	/* 0: no row bound */
	unsigned http_max_connections;	/* the pool every client shares */
	unsigned http_max_per_address;	/* per IPv4 address or IPv6 /64 */
	unsigned http_request_timeout;	/* seconds to send a whole request */
	int require_uv;
	int reject_sign_count_regression;	/* sign_count_regression: 1 reject, 0 log */
	int algs[CONFIG_MAX_ALGS];	/* allowed_algorithms: COSE ids, always in */
	size_t n_algs;			/* the order ES256, EdDSA, RS256 */
	int accepted_attestation;	/* enum rp_attestation mask; TRUSTED always set */
	char *trust_anchors;		/* folder of PEM files, or NULL */
	char *aaguid_names;		/* an admin's authenticator names (aaguid.h), or NULL */
	char *metrics_listen;		/* the Prometheus endpoint's address, or NULL: none */
	struct sockaddr_storage metrics_addr;
	socklen_t metrics_addr_len;
	unsigned seen;			/* keys given once, for "given twice" */
};

/* Returns 0, or -1 with a one-line reason in err. */
int config_load(const char *path, struct config *cfg, char *err, size_t errlen);
int config_parse(const char *text, struct config *cfg, char *err, size_t errlen);
void config_free(struct config *cfg);

#endif
