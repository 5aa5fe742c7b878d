/*
 * Strict "key = value" parsing for passkeyd.conf.  A table maps each key to
 * a typed setter so that adding a key is one line.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "store.h"
#include "passkey_rp.h"

#define CONFIG_MAX_BYTES (64 * 1024)

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static int
set_string(char **slot, const char *v, char *err, size_t errlen)
{
	if (*slot != NULL)
		return fail(err, errlen, "given twice");
	if (*v == '\0')
		return fail(err, errlen, "empty value");
	if ((*slot = strdup(v)) == NULL)
		return fail(err, errlen, "out of memory");
	return 0;
}

static int
set_uint(unsigned *slot, const char *v, unsigned min, unsigned max, char *err,
    size_t errlen)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (!isdigit((unsigned char)*v) || *end != '\0' || errno != 0 ||
	    n < min || n > max)
		return fail(err, errlen, "expected a whole number from %u to %u",
		    min, max);
	*slot = (unsigned)n;
	return 0;
}

static int
set_bool(int *slot, const char *v, char *err, size_t errlen)
{
	if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0)
		*slot = 1;
	else if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0)
		*slot = 0;
	else
		return fail(err, errlen, "expected yes or no");
	return 0;
}

/* A web origin as clientDataJSON carries it: scheme://host[:port], no path. */
static int
valid_origin(const char *v)
{
	const char *host;

	if (strncmp(v, "https://", 8) == 0)
		host = v + 8;
	else if (strncmp(v, "http://", 7) == 0)
		host = v + 7;
	else
		return 0;
	if (*host == '\0' || strchr(host, '/') != NULL)
		return 0;
	for (const char *p = host; *p; p++)
		if (!isalnum((unsigned char)*p) && strchr(".-:[]", *p) == NULL)
			return 0;
	return 1;
}

static int
parse_address(const char *v, struct sockaddr_storage *ss, socklen_t *sslen, int *loopback,
    char *err, size_t errlen)
{
	char host[64];
	const char *colon;
	unsigned port;
	size_t hlen;

	if (v[0] == '[') {
		const char *close = strchr(v, ']');
		if (close == NULL || close[1] != ':')
			return fail(err, errlen, "expected [IPv6]:PORT");
		hlen = (size_t)(close - v - 1);
		if (hlen >= sizeof(host))
			return fail(err, errlen, "address too long");
		memcpy(host, v + 1, hlen);
		colon = close + 1;
	} else {
		if ((colon = strrchr(v, ':')) == NULL)
			return fail(err, errlen, "expected ADDRESS:PORT");
		hlen = (size_t)(colon - v);
		if (hlen >= sizeof(host))
			return fail(err, errlen, "address too long");
		memcpy(host, v, hlen);
	}
	host[hlen] = '\0';
	if (set_uint(&port, colon + 1, 1, 65535, err, errlen) != 0)
		return -1;
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		*sslen = sizeof(*in4);
		*loopback = (ntohl(in4->sin_addr.s_addr) >> 24) == 127;
	} else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*sslen = sizeof(*in6);
		*loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
	} else
		return fail(err, errlen, "'%s' is not a numeric IPv4 or IPv6 address", host);
	return 0;
}

static int
parse_listen(struct config *cfg, const char *v, char *err, size_t errlen)
{
	if (parse_address(v, &cfg->listen_addr, &cfg->listen_addr_len, &cfg->listen_loopback,
	    err, errlen) != 0)
		return -1;
	return set_string(&cfg->listen, v, err, errlen);
}

/* The metrics listener: an address of its own, never the pages' (fill_and_check). */
static int
parse_metrics_listen(struct config *cfg, const char *v, char *err, size_t errlen)
{
	int loopback;

	if (parse_address(v, &cfg->metrics_addr, &cfg->metrics_addr_len, &loopback,
	    err, errlen) != 0)
		return -1;
	return set_string(&cfg->metrics_listen, v, err, errlen);
}

/*
 * The next word of a list value: words are separated by spaces, tabs or
 * commas.  Returns 1 with the word in buf, 0 at the end, -1 if too long.
 */
static int
next_word(const char **p, char *buf, size_t len)
{
	size_t n;

	*p += strspn(*p, " \t,");
	if (**p == '\0')
		return 0;
	n = strcspn(*p, " \t,");
	if (n >= len)
		return -1;
	memcpy(buf, *p, n);
	buf[n] = '\0';
	*p += n;
	return 1;
}

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/*
 * A list value whose words come from names[]: sets bit i of *set for
 * names[i]; an unknown word or one given twice is an error naming `what`.
 */
static int
word_set(const char *v, const char *const names[], size_t n, const char *what,
    const char *expected, unsigned *set, char *err, size_t errlen)
{
	char word[32];
	int r;

	*set = 0;
	while ((r = next_word(&v, word, sizeof(word))) != 0) {
		size_t i = 0;

		while (r > 0 && i < n && strcmp(word, names[i]) != 0)
			i++;
		if (r < 0 || i == n)
			return fail(err, errlen, "unknown %s '%s' (expected %s)", what,
			    r < 0 ? "(too long)" : word, expected);
		if (*set & (1u << i))
			return fail(err, errlen, "'%s' listed twice", word);
		*set |= 1u << i;
	}
	return 0;
}

static int
set_algs(struct config *cfg, const char *v, char *err, size_t errlen)
{
	/* the order here is the order offered in pubKeyCredParams */
	static const char *const names[] = { "es256", "eddsa", "rs256" };
	static const int algs[] = { RP_COSE_ES256, RP_COSE_EDDSA, RP_COSE_RS256 };
	unsigned set;

	if (word_set(v, names, NELEM(names), "algorithm", "es256, eddsa or rs256", &set,
	    err, errlen) != 0)
		return -1;
	if (set == 0)
		return fail(err, errlen, "empty list: name at least one of "
		    "es256, eddsa, rs256");
	cfg->n_algs = 0;
	for (size_t i = 0; i < NELEM(names); i++)
		if (set & (1u << i))
			cfg->algs[cfg->n_algs++] = algs[i];
	return 0;
}

/* none, self, untrusted; trusted is always accepted (and may be named). */
static int
set_attestation(struct config *cfg, const char *v, char *err, size_t errlen)
{
	static const char *const names[] = { "none", "self", "untrusted", "trusted" };
	static const int bits[] = { RP_ATTESTATION_NONE, RP_ATTESTATION_SELF,
	    RP_ATTESTATION_UNTRUSTED, RP_ATTESTATION_TRUSTED };
	int mask = RP_ATTESTATION_TRUSTED;
	unsigned set;

	if (word_set(v, names, NELEM(names), "attestation kind", "none, self, untrusted or trusted",
	    &set, err, errlen) != 0)
		return -1;
	for (size_t i = 0; i < NELEM(names); i++)
		if (set & (1u << i))
			mask |= bits[i];
	cfg->accepted_attestation = mask;
	return 0;
}

static int
set_trust_anchors(struct config *cfg, const char *v, char *err, size_t errlen)
{
	struct stat st;

	if (cfg->trust_anchors == NULL && *v != '\0') {
		if (stat(v, &st) != 0)
			return fail(err, errlen, "%s: %s", v, strerror(errno));
		if (!S_ISDIR(st.st_mode))
			return fail(err, errlen, "%s: not a folder", v);
	}
	return set_string(&cfg->trust_anchors, v, err, errlen);
}

/* One more value of a key that may repeat (origin, http_trusted_proxy). */
static int
append_string(char **list, size_t *n, size_t max, const char *what, const char *v,
    char *err, size_t errlen)
{
	if (*n == max)
		return fail(err, errlen, "more than %zu %s", max, what);
	if ((list[*n] = strdup(v)) == NULL)
		return fail(err, errlen, "out of memory");
	(*n)++;
	return 0;
}

/*
 * A reverse proxy or load balancer in front: every client's connection
 * comes from its address.  One IP address a line (the key may repeat).
 */
static int
add_trusted_proxy(struct config *cfg, const char *v, char *err, size_t errlen)
{
	unsigned char buf[sizeof(struct in6_addr)];

	if (inet_pton(AF_INET, v, buf) != 1 && inet_pton(AF_INET6, v, buf) != 1)
		return fail(err, errlen, "'%s' is not an IP address", v);
	return append_string(cfg->trusted_proxies, &cfg->n_trusted_proxies, CONFIG_MAX_PROXIES,
	    "proxies", v, err, errlen);
}

/* Keys that set one value: a second line for them is a mistake. */
static const char *const single_keys[] = {
	"ceremony_timeout", "enroll_timeout", "max_pending_total",
	"max_pending_per_user", "max_pending_per_address", "require_uv",
	"sign_count_regression", "allowed_algorithms", "accept_attestation",
	"max_pending_per_user_address", "audit_retention_days", "audit_max_rows",
	"http_max_connections", "http_max_per_address", "http_request_timeout",
	"aaguid_names", "metrics_listen", "reuse_max", "reuse_across_hosts",
	"max_passkeys_per_user",
};

static int
apply(struct config *cfg, const char *key, const char *v, char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof(single_keys) / sizeof(single_keys[0]); i++)
		if (strcmp(key, single_keys[i]) == 0) {
			if (cfg->seen & (1u << i))
				return fail(err, errlen, "given twice");
			cfg->seen |= 1u << i;
		}
	if (strcmp(key, "rp_id") == 0)
		return set_string(&cfg->rp_id, v, err, errlen);
	if (strcmp(key, "rp_name") == 0)
		return set_string(&cfg->rp_name, v, err, errlen);
	if (strcmp(key, "origin") == 0) {
		if (!valid_origin(v))
			return fail(err, errlen, "'%s' is not scheme://host[:port]", v);
		return append_string(cfg->origins, &cfg->n_origins, CONFIG_MAX_ORIGINS,
		    "origins", v, err, errlen);
	}
	if (strcmp(key, "listen") == 0) {
		if (cfg->listen != NULL)
			return fail(err, errlen, "given twice");
		return parse_listen(cfg, v, err, errlen);
	}
	if (strcmp(key, "public_url") == 0) {
		const char *host = strncmp(v, "https://", 8) == 0 ? v + 8 :
		    strncmp(v, "http://", 7) == 0 ? v + 7 : NULL;

		if (host == NULL)
			return fail(err, errlen, "must start with https:// or http://");
		/* every link is this and a path: it needs a host to point at */
		if (*host == '\0' || *host == '/')
			return fail(err, errlen, "no host after the scheme");
		if (set_string(&cfg->public_url, v, err, errlen) != 0)
			return -1;
		size_t n = strlen(cfg->public_url);
		while (n > 0 && cfg->public_url[n - 1] == '/')
			cfg->public_url[--n] = '\0';
		return 0;
	}
	if (strcmp(key, "tls_cert") == 0)
		return set_string(&cfg->tls_cert, v, err, errlen);
	if (strcmp(key, "tls_key") == 0)
		return set_string(&cfg->tls_key, v, err, errlen);
	if (strcmp(key, "hostname") == 0)
		return set_string(&cfg->hostname, v, err, errlen);
	if (strcmp(key, "store") == 0)
		return set_string(&cfg->store, v, err, errlen);
	if (strcmp(key, "socket") == 0)
		return set_string(&cfg->socket_path, v, err, errlen);
	if (strcmp(key, "user") == 0)
		return set_string(&cfg->user, v, err, errlen);
	if (strcmp(key, "ceremony_timeout") == 0)
		return set_uint(&cfg->ceremony_timeout, v, 5, 3600, err, errlen);
	if (strcmp(key, "enroll_timeout") == 0)
		return set_uint(&cfg->enroll_timeout, v, 60, 30 * 86400, err, errlen);
	if (strcmp(key, "reuse_max") == 0)
		return set_uint(&cfg->reuse_max, v, 0, 604800, err, errlen);	/* CONFIG_REUSE_MAX */
	if (strcmp(key, "max_pending_total") == 0)
		return set_uint(&cfg->max_pending_total, v, 1, 1000000, err, errlen);
	if (strcmp(key, "max_pending_per_user") == 0)
		return set_uint(&cfg->max_pending_per_user, v, 1, 1000000, err, errlen);
	if (strcmp(key, "max_pending_per_address") == 0)
		return set_uint(&cfg->max_pending_per_address, v, 1, 1000000, err, errlen);
	if (strcmp(key, "max_pending_per_user_address") == 0)
		return set_uint(&cfg->max_pending_per_user_address, v, 1, 1000000, err, errlen);
	if (strcmp(key, "http_trusted_proxy") == 0)
		return add_trusted_proxy(cfg, v, err, errlen);
	if (strcmp(key, "max_passkeys_per_user") == 0)
		return set_uint(&cfg->max_passkeys_per_user, v, 1, 100000, err, errlen);
	if (strcmp(key, "audit_retention_days") == 0)
		return set_uint(&cfg->audit_retention_days, v, 0, 36500, err, errlen);
	if (strcmp(key, "audit_max_rows") == 0)
		return set_uint(&cfg->audit_max_rows, v, 0, 4000000000u, err, errlen);
	if (strcmp(key, "http_max_connections") == 0)
		return set_uint(&cfg->http_max_connections, v, 16, 60000, err, errlen);
	if (strcmp(key, "http_max_per_address") == 0)
		return set_uint(&cfg->http_max_per_address, v, 1, 60000, err, errlen);
	if (strcmp(key, "http_request_timeout") == 0)
		return set_uint(&cfg->http_request_timeout, v, 1, 300, err, errlen);
	if (strcmp(key, "reuse_across_hosts") == 0)
		return set_bool(&cfg->reuse_across_hosts, v, err, errlen);
	if (strcmp(key, "require_uv") == 0)
		return set_bool(&cfg->require_uv, v, err, errlen);
	if (strcmp(key, "sign_count_regression") == 0) {
		if (strcmp(v, "reject") == 0)
			cfg->reject_sign_count_regression = 1;
		else if (strcmp(v, "log") == 0)
			cfg->reject_sign_count_regression = 0;
		else
			return fail(err, errlen, "expected reject or log");
		return 0;
	}
	if (strcmp(key, "allowed_algorithms") == 0)
		return set_algs(cfg, v, err, errlen);
	if (strcmp(key, "accept_attestation") == 0)
		return set_attestation(cfg, v, err, errlen);
	if (strcmp(key, "trust_anchors") == 0)
		return set_trust_anchors(cfg, v, err, errlen);
	if (strcmp(key, "aaguid_names") == 0)
		return set_string(&cfg->aaguid_names, v, err, errlen);
	if (strcmp(key, "metrics_listen") == 0)
		return parse_metrics_listen(cfg, v, err, errlen);
	return fail(err, errlen, "unknown key '%s'", key);
}

static void
set_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->ceremony_timeout = 90;
	cfg->enroll_timeout = 86400;
	cfg->reuse_max = CONFIG_REUSE_DEFAULT;
	cfg->max_pending_total = 10000;
	cfg->max_pending_per_user = 32;
	cfg->max_pending_per_address = 16;
	cfg->max_pending_per_user_address = 4;
	cfg->max_passkeys_per_user = 100;
	cfg->audit_retention_days = 365;
	cfg->audit_max_rows = 1000000;
	cfg->http_max_connections = 512;
	cfg->http_max_per_address = 16;
	cfg->http_request_timeout = 10;
	cfg->require_uv = 1;
	cfg->reject_sign_count_regression = 1;
	cfg->algs[0] = RP_COSE_ES256;
	cfg->algs[1] = RP_COSE_EDDSA;
	cfg->algs[2] = RP_COSE_RS256;
	cfg->n_algs = 3;
	cfg->accepted_attestation = RP_ATTESTATION_ALL;
}

static int
fill_and_check(struct config *cfg, char *err, size_t errlen)
{
	static const char *defaults[][2] = {
		{ "rp_name", "ssh-passkeys" },
		{ "store", "/var/lib/passkeyd/passkeys.db" },
		{ "socket", "/run/passkeyd/control.sock" },
	};
	char **slots[] = { &cfg->rp_name, &cfg->store, &cfg->socket_path };
	char host[256];

	if (cfg->rp_id == NULL || cfg->n_origins == 0 || cfg->public_url == NULL)
		return fail(err, errlen, "rp_id, origin and public_url are required");
	if ((cfg->tls_cert == NULL) != (cfg->tls_key == NULL))
		return fail(err, errlen, "tls_cert and tls_key go together");
	if (cfg->listen == NULL &&
	    parse_listen(cfg, "127.0.0.1:8080", err, errlen) != 0)
		return -1;
	if (cfg->tls_cert == NULL && !cfg->listen_loopback)
		return fail(err, errlen, "plain HTTP is allowed only on a loopback "
		    "listen address; set tls_cert and tls_key");
	/* the numbers are for the operator's scraper, never on the public page port */
	if (cfg->metrics_listen != NULL && cfg->metrics_addr_len == cfg->listen_addr_len &&
	    memcmp(&cfg->metrics_addr, &cfg->listen_addr, cfg->listen_addr_len) == 0)
		return fail(err, errlen, "metrics_listen must not be the pages' listen address");
	char shown[512];

	for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++)
		if (*slots[i] == NULL && (*slots[i] = strdup(defaults[i][1])) == NULL)
			return fail(err, errlen, "out of memory");
	store_spec_display(cfg->store, shown, sizeof(shown));
	if ((cfg->store_shown = strdup(shown)) == NULL)
		return fail(err, errlen, "out of memory");
	if (cfg->hostname == NULL) {
		if (gethostname(host, sizeof(host)) != 0)
			snprintf(host, sizeof(host), "%s", cfg->rp_id);
		host[sizeof(host) - 1] = '\0';
		if ((cfg->hostname = strdup(host)) == NULL)
			return fail(err, errlen, "out of memory");
	}
	if (cfg->max_pending_per_user > cfg->max_pending_total ||
	    cfg->max_pending_per_address > cfg->max_pending_total)
		return fail(err, errlen, "a per-user or per-address limit exceeds max_pending_total");
	/* a pair never holds more than its user may */
	if (cfg->max_pending_per_user_address > cfg->max_pending_per_user)
		cfg->max_pending_per_user_address = cfg->max_pending_per_user;
	if (cfg->http_max_per_address > cfg->http_max_connections)
		return fail(err, errlen, "http_max_per_address exceeds http_max_connections");
	if (cfg->accepted_attestation == RP_ATTESTATION_TRUSTED &&
	    cfg->trust_anchors == NULL)
		return fail(err, errlen, "accept_attestation accepts only trusted "
		    "attestation but no trust_anchors folder is set: no passkey "
		    "could ever be registered");
	return 0;
}

static int
plain_key(const char *k)
{
	return *k != '\0' && strspn(k, "abcdefghijklmnopqrstuvwxyz0123456789_") == strlen(k);
}

static char *
trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

int
config_parse(const char *text, struct config *cfg, char *err, size_t errlen)
{
	char *copy, *line, *save = NULL, msg[200];
	unsigned lineno = 0;
	int rc = 0;

	set_defaults(cfg);
	if ((copy = strdup(text)) == NULL)
		return fail(err, errlen, "out of memory");
	/* strtok_r would skip empty lines and so miscount them: walk by hand */
	for (line = copy; line != NULL && rc == 0; line = save) {
		char *nl = strchr(line, '\n'), *eq, *key, *val;
		save = nl ? nl + 1 : NULL;
		if (nl)
			*nl = '\0';
		lineno++;
		line = trim(line);
		if (*line == '\0' || *line == '#')
			continue;
		if ((eq = strchr(line, '=')) == NULL) {
			rc = fail(err, errlen, "line %u: expected key = value", lineno);
			break;
		}
		*eq = '\0';
		key = trim(line);
		val = trim(eq + 1);
		for (const char *p = val; *p; p++)
			if (iscntrl((unsigned char)*p))
				rc = fail(msg, sizeof(msg), "control character in value");
		/* a key is echoed in errors: it must not drive the terminal */
		if (!plain_key(key)) {
			rc = fail(err, errlen, "line %u: not a key (keys are letters, digits and '_')",
			    lineno);
			break;
		}
		if (rc == 0 && apply(cfg, key, val, msg, sizeof(msg)) != 0)
			rc = -1;
		if (rc != 0)
			fail(err, errlen, "line %u: %s: %s", lineno, key, msg);
	}
	free(copy);
	if (rc == 0)
		rc = fill_and_check(cfg, err, errlen);
	if (rc != 0)
		config_free(cfg);
	return rc;
}

int
config_load(const char *path, struct config *cfg, char *err, size_t errlen)
{
	struct stat sb;
	FILE *f;
	char *buf;
	size_t n;
	int rc;

	if ((f = fopen(path, "re")) == NULL)
		return fail(err, errlen, "%s: %s", path, strerror(errno));
	if (fstat(fileno(f), &sb) != 0) {
		fclose(f);
		return fail(err, errlen, "%s: %s", path, strerror(errno));
	}
	if ((buf = malloc(CONFIG_MAX_BYTES + 1)) == NULL) {
		fclose(f);
		return fail(err, errlen, "out of memory");
	}
	n = fread(buf, 1, CONFIG_MAX_BYTES + 1, f);
	fclose(f);
	if (n > CONFIG_MAX_BYTES) {
		free(buf);
		return fail(err, errlen, "%s: larger than %d bytes", path, CONFIG_MAX_BYTES);
	}
	buf[n] = '\0';
	if (memchr(buf, '\0', n) != NULL) {
		free(buf);
		return fail(err, errlen, "%s: contains a NUL byte", path);
	}
	rc = config_parse(buf, cfg, err, errlen);
	explicit_bzero(buf, n);	/* it may hold the store's password */
	free(buf);
	/* a password everyone can read is no secret: refuse, and say how to fix it */
	if (rc == 0 && (sb.st_mode & S_IROTH) && store_spec_has_password(cfg->store)) {
		config_free(cfg);
		return fail(err, errlen, "%s: the store URI holds a password and the file is "
		    "readable by everyone: make it readable by the daemon's group only "
		    "(chgrp passkeyd; chmod 0640), or keep the password in a passfile "
		    "(libpq's passfile=)", path);
	}
	return rc;
}

static void
free_strings(char **list, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		free(list[i]);
	*n = 0;
}

void
config_free(struct config *cfg)
{
	char **strings[] = { &cfg->rp_id, &cfg->rp_name, &cfg->listen,
	    &cfg->public_url, &cfg->tls_cert, &cfg->tls_key, &cfg->hostname,
	    &cfg->store, &cfg->store_shown, &cfg->socket_path, &cfg->user, &cfg->trust_anchors,
	    &cfg->aaguid_names, &cfg->metrics_listen };

	if (cfg->store != NULL)
		explicit_bzero(cfg->store, strlen(cfg->store));	/* may hold a password */
	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
		free(*strings[i]);
		*strings[i] = NULL;
	}
	free_strings(cfg->origins, &cfg->n_origins);
	free_strings(cfg->trusted_proxies, &cfg->n_trusted_proxies);
}
