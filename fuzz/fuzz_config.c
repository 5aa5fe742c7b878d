/*
 * passkeyd's config parser: config_parse() + config_free()
 * (passkeyd/config.c) on the input as the config file's text.
 *
 * As config_load() does, an input over 64 KiB or with a NUL byte is
 * refused before parsing (returns at once here).  trust_anchors makes the
 * parser stat() the path it names: the seeds use /tmp and paths that do
 * not exist.
 *
 * Checks, besides the sanitizers:
 *   - a refusal has a one-line reason in err and leaves no string behind
 *     (config_parse frees what it had set);
 *   - an accepted config is complete and within its documented bounds:
 *     rp_id, 1..CONFIG_MAX_ORIGINS origins that are scheme://host[:port],
 *     public_url without a trailing '/', a numeric listen address that is
 *     loopback unless TLS is set, tls_cert and tls_key together, every
 *     default filled in, the limits ordered as fill_and_check() demands,
 *     1..3 algorithms in the order ES256, EdDSA, RS256, and trusted
 *     attestation always accepted;
 *   - an accepted config makes a relying-party policy the way
 *     passkeyd's make_policy() does (without reading trust anchors).
 */
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "config.h"
#include "passkey_rp.h"

#define CONFIG_MAX_BYTES (64 * 1024)	/* config.c */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
bad(const char *what, const char *text)
{
	fprintf(stderr, "fuzz_config: %s\n--- config ---\n%.2000s\n", what, text);
	abort();
}

static int
origin_ok(const char *o)
{
	const char *host = strncmp(o, "https://", 8) == 0 ? o + 8 :
	    strncmp(o, "http://", 7) == 0 ? o + 7 : NULL;

	return host != NULL && *host != '\0' && strchr(host, '/') == NULL;
}

static void
check_accepted(const struct config *c, const char *text)
{
	static const int order[] = { RP_COSE_ES256, RP_COSE_EDDSA, RP_COSE_RS256 };
	size_t k = 0, n;
	rp_policy_t *p;

	if (c->rp_id == NULL || c->rp_id[0] == '\0' || c->rp_name == NULL ||
	    c->public_url == NULL || c->listen == NULL || c->hostname == NULL ||
	    c->store == NULL || c->socket_path == NULL)
		bad("an accepted config without a required value", text);
	if (c->n_origins == 0 || c->n_origins > CONFIG_MAX_ORIGINS)
		bad("an accepted config with a bad number of origins", text);
	for (size_t i = 0; i < c->n_origins; i++)
		if (c->origins[i] == NULL || !origin_ok(c->origins[i]))
			bad("an accepted origin that is not scheme://host[:port]", text);
	n = strlen(c->public_url);
	/* a host after the scheme (regress/fuzz_config/public-url-no-host) */
	if (((strncmp(c->public_url, "https://", 8) != 0 &&
	    strncmp(c->public_url, "http://", 7) != 0) || c->public_url[n - 1] == '/' ||
	    c->public_url[c->public_url[4] == 's' ? 8 : 7] == '\0' ||
	    c->public_url[c->public_url[4] == 's' ? 8 : 7] == '/'))
		bad("public_url not http(s)://host or with a trailing '/'", text);
	if ((c->tls_cert == NULL) != (c->tls_key == NULL))
		bad("tls_cert without tls_key or the other way", text);
	if (c->tls_cert == NULL && !c->listen_loopback)
		bad("plain HTTP on an address that is not loopback", text);
	if (!(c->listen_addr.ss_family == AF_INET &&
	    c->listen_addr_len == sizeof(struct sockaddr_in)) &&
	    !(c->listen_addr.ss_family == AF_INET6 &&
	    c->listen_addr_len == sizeof(struct sockaddr_in6)))
		bad("listen address of an unknown family or length", text);
	if (c->ceremony_timeout < 5 || c->ceremony_timeout > 3600 ||
	    c->enroll_timeout < 60 || c->enroll_timeout > 30 * 86400 ||
	    c->max_pending_total < 1 ||
	    c->max_pending_per_user < 1 || c->max_pending_per_user > c->max_pending_total ||
	    c->max_pending_per_address < 1 ||
	    c->max_pending_per_address > c->max_pending_total ||
	    c->max_pending_per_user_address < 1 ||
	    c->max_pending_per_user_address > c->max_pending_per_user ||
	    c->http_max_connections < 16 || c->http_max_connections > 60000 ||
	    c->http_max_per_address < 1 ||
	    c->http_max_per_address > c->http_max_connections ||
	    c->http_request_timeout < 1 || c->http_request_timeout > 300 ||
	    c->audit_retention_days > 36500 ||
	    (c->require_uv != 0 && c->require_uv != 1) ||
	    (c->reject_sign_count_regression != 0 && c->reject_sign_count_regression != 1))
		bad("an accepted value out of its bounds", text);
	if (c->n_algs < 1 || c->n_algs > CONFIG_MAX_ALGS)
		bad("no algorithm, or too many", text);
	for (size_t i = 0; i < c->n_algs; i++) {
		while (k < 3 && order[k] != c->algs[i])
			k++;
		if (k++ == 3)
			bad("algorithms repeated, unknown or out of order", text);
	}
	if (!(c->accepted_attestation & RP_ATTESTATION_TRUSTED) ||
	    (c->accepted_attestation & ~RP_ATTESTATION_ALL) != 0)
		bad("accepted attestation without trusted, or unknown bits", text);
	if (c->accepted_attestation == RP_ATTESTATION_TRUSTED && c->trust_anchors == NULL)
		bad("trusted attestation only, and no trust_anchors", text);

	/* main.c make_policy(), without the trust anchors */
	if ((p = rp_policy_new()) == NULL)
		abort();
	if (rp_policy_set_rp_id(p, c->rp_id) != RP_OK ||
	    rp_policy_set_require_uv(p, c->require_uv) != RP_OK ||
	    rp_policy_set_reject_sign_count_regression(p,
	    c->reject_sign_count_regression) != RP_OK ||
	    rp_policy_set_allowed_algs(p, c->algs, c->n_algs) != RP_OK ||
	    rp_policy_set_accepted_attestation(p, c->accepted_attestation) != RP_OK)
		bad("an accepted config the relying party refuses", text);
	for (size_t i = 0; i < c->n_origins; i++)
		if (rp_policy_add_origin(p, c->origins[i]) != RP_OK)
			bad("an accepted origin the relying party refuses", text);
	rp_policy_free(&p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg;
	char err[512], *text;

	if (size > CONFIG_MAX_BYTES || memchr(data, '\0', size) != NULL)
		return 0;	/* config_load refuses these before parsing */
	if ((text = malloc(size + 1)) == NULL)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	memset(&cfg, 0xa5, sizeof(cfg));	/* config_parse must set every field */
	err[0] = '\0';
	if (config_parse(text, &cfg, err, sizeof(err)) == 0) {
		check_accepted(&cfg, text);
	} else {
		if (err[0] == '\0' || memchr(err, '\0', sizeof(err)) == NULL ||
		    strchr(err, '\n') != NULL)
			bad("a refusal without a one-line reason", text);
		if (cfg.rp_id != NULL || cfg.public_url != NULL || cfg.listen != NULL ||
		    cfg.store != NULL || cfg.n_origins != 0 || cfg.trust_anchors != NULL ||
		    cfg.aaguid_names != NULL)
			bad("a refused config that kept a value", text);
	}
	config_free(&cfg);
	free(text);
	return 0;
}
