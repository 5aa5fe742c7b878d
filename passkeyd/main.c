/*
 * passkeyd: the challenge web server, relying party and store keeper of
 * ssh-passkeys.  Startup order is the security design: read the config, the
 * trust anchors and the TLS key, bind the HTTP port and the control socket
 * while privileged, drop to the configured account, and only then open the
 * store and read any network input.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "flow.h"
#include "http.h"
#include "passkeyd.h"

static volatile sig_atomic_t stop_signal;

static void
on_signal(int sig)
{
	stop_signal = sig;
}

static int
usage(FILE *f)
{
	fprintf(f, "usage: passkeyd --config FILE [--foreground] [--check-config]\n");
	return f == stdout ? 0 : 2;
}

static char *
read_small_file(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *buf;
	size_t n;

	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if ((buf = calloc(1, 65537)) == NULL) {
		fclose(f);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	n = fread(buf, 1, 65536, f);
	fclose(f);
	if (n == 0 || n == 65536) {
		snprintf(err, errlen, "%s: empty or larger than 64 KiB", path);
		free(buf);
		return NULL;
	}
	return buf;
}

static int
drop_privileges(const char *user, char *err, size_t errlen)
{
	struct passwd *pw;

	if (user == NULL)
		return 0;
	if ((pw = getpwnam(user)) == NULL) {
		snprintf(err, errlen, "user '%s' does not exist", user);
		return -1;
	}
	if (getuid() != 0 && geteuid() != 0) {
		if (getuid() == pw->pw_uid)
			return 0;
		snprintf(err, errlen, "must start as root or as '%s'", user);
		return -1;
	}
	if (pw->pw_uid == 0) {
		snprintf(err, errlen, "refusing to run as root: set user to an unprivileged account");
		return -1;
	}
	if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 ||
	    setuid(pw->pw_uid) != 0) {
		snprintf(err, errlen, "cannot become '%s': %s", user, strerror(errno));
		return -1;
	}
	/* make sure there is no way back */
	if (setuid(0) == 0) {
		snprintf(err, errlen, "privileges were not dropped");
		return -1;
	}
	return 0;
}

#define ANCHOR_FILE_MAX (1024 * 1024)

/* *.pem and *.crt, not hidden: what trust_anchors loads from its folder. */
static int
anchor_file_name(const struct dirent *e)
{
	size_t n = strlen(e->d_name);

	return e->d_name[0] != '.' && n > 4 &&
	    (strcmp(e->d_name + n - 4, ".pem") == 0 ||
	    strcmp(e->d_name + n - 4, ".crt") == 0);
}

static char *
read_anchor_file(const char *path, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0 ||
	    fstat(fd, &st) != 0) {
		snprintf(err, errlen, "trust_anchors: %s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > ANCHOR_FILE_MAX) {
		snprintf(err, errlen, "trust_anchors: %s: not a regular file of at most 1 MiB", path);
		goto fail;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	while (got < (size_t)st.st_size &&
	    (n = read(fd, buf + got, (size_t)st.st_size - got)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "trust_anchors: %s: %s", path, strerror(errno));
			goto fail;
		}
		got += (size_t)n;
	}
	buf[got] = '\0';
	if (memchr(buf, '\0', got) != NULL) {
		snprintf(err, errlen, "trust_anchors: %s: not PEM text (a DER certificate? convert it "
		    "with openssl x509 -inform der)", path);
		goto fail;
	}
	close(fd);
	return buf;
fail:
	if (fd >= 0)
		close(fd);
	free(buf);
	return NULL;
}

/*
 * Every PEM block of the file must be a certificate the RP core accepts:
 * it is given one block at a time, so that a damaged second certificate
 * cannot be skipped silently.  Text outside the blocks is ignored.
 */
static int
add_anchor_text(rp_policy_t *p, const char *path, const char *text,
    size_t *count, char *err, size_t errlen)
{
	static const char begin[] = "-----BEGIN CERTIFICATE-----";
	static const char end[] = "-----END CERTIFICATE-----";
	const char *b, *e;
	size_t n = 0;
	int rc;

	while ((b = strstr(text, "-----BEGIN ")) != NULL) {
		n++;
		if (strncmp(b, begin, sizeof(begin) - 1) != 0) {
			snprintf(err, errlen, "trust_anchors: %s: PEM block %zu is not a CERTIFICATE", path, n);
			return -1;
		}
		if ((e = strstr(b, end)) == NULL) {
			snprintf(err, errlen, "trust_anchors: %s: certificate %zu has no END line", path, n);
			return -1;
		}
		e += sizeof(end) - 1;
		if ((rc = rp_policy_add_trust_anchor_pem(p, b, (size_t)(e - b))) != RP_OK) {
			snprintf(err, errlen, "trust_anchors: %s: certificate %zu: %s (%s)", path, n,
			    rp_err_str(rc), rp_err_code(rc));
			return -1;
		}
		text = e;
	}
	if (n == 0) {
		snprintf(err, errlen, "trust_anchors: %s: no PEM certificate in it", path);
		return -1;
	}
	*count += n;
	return 0;
}

/* Read as the starting user, before the privilege drop, like the TLS key. */
static int
load_trust_anchors(rp_policy_t *p, const char *dir, size_t *count, char *err,
    size_t errlen)
{
	struct dirent **names = NULL;
	int n, rc = 0;

	*count = 0;
	if ((n = scandir(dir, &names, anchor_file_name, alphasort)) < 0) {
		snprintf(err, errlen, "trust_anchors: %s: %s", dir, strerror(errno));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		size_t len = strlen(dir) + 1 + strlen(names[i]->d_name) + 1;
		char *path = NULL, *text = NULL;

		if (rc == 0 && (path = malloc(len)) == NULL) {
			snprintf(err, errlen, "out of memory");
			rc = -1;
		}
		if (rc == 0) {
			snprintf(path, len, "%s/%s", dir, names[i]->d_name);
			if ((text = read_anchor_file(path, err, errlen)) == NULL ||
			    add_anchor_text(p, path, text, count, err, errlen) != 0)
				rc = -1;
		}
		free(text);
		free(path);
		free(names[i]);
	}
	free(names);
	return rc;
}

/*
 * The relying-party policy from the config, trust anchors included.  Built
 * before the privilege drop (and by --check-config), so an unreadable or
 * broken anchor stops the daemon at once, naming the file.
 */
static rp_policy_t *
make_policy(const struct config *cfg, char *err, size_t errlen)
{
	rp_policy_t *p = rp_policy_new();
	size_t anchors = 0;

	snprintf(err, errlen, "out of memory");
	if (p == NULL || rp_policy_set_rp_id(p, cfg->rp_id) != RP_OK ||
	    rp_policy_set_require_uv(p, cfg->require_uv) != RP_OK ||
	    rp_policy_set_reject_sign_count_regression(p,
	    cfg->reject_sign_count_regression) != RP_OK ||
	    rp_policy_set_allowed_algs(p, cfg->algs, cfg->n_algs) != RP_OK ||
	    rp_policy_set_accepted_attestation(p, cfg->accepted_attestation) != RP_OK)
		goto fail;
	for (size_t i = 0; i < cfg->n_origins; i++)
		if (rp_policy_add_origin(p, cfg->origins[i]) != RP_OK)
			goto fail;
	if (cfg->trust_anchors != NULL) {
		if (load_trust_anchors(p, cfg->trust_anchors, &anchors, err, errlen) != 0)
			goto fail;
		if (anchors == 0 && cfg->accepted_attestation == RP_ATTESTATION_TRUSTED) {
			snprintf(err, errlen, "trust_anchors: %s holds no *.pem or *.crt "
			    "file, and accept_attestation accepts only trusted "
			    "attestation: no passkey could ever be registered",
			    cfg->trust_anchors);
			goto fail;
		}
		if (anchors == 0)
			fprintf(stderr, "passkeyd: warning: trust_anchors: %s holds no "
			    "*.pem or *.crt file\n", cfg->trust_anchors);
	}
	return p;
fail:
	rp_policy_free(&p);
	return NULL;
}

static void
run_loop(struct passkeyd *d, struct http_server *h, struct control_server *s)
{
	struct pollfd fds[1 + 1 + CONTROL_MAX_CLIENTS];
	time_t last_sweep = 0;

	while (!stop_signal) {
		size_t n;
		int timeout;

		fds[0] = (struct pollfd){ .fd = http_poll_fd(h), .events = POLLIN };
		n = 1 + control_fill_poll(s, fds + 1, sizeof(fds) / sizeof(fds[0]) - 1);
		timeout = http_timeout_ms(h);
		if (timeout < 0 || timeout > 1000)
			timeout = 1000;
		if (poll(fds, n, timeout) < 0 && errno != EINTR) {
			daemon_log(d, "poll: %s", strerror(errno));
			break;
		}
		http_run(h);
		control_handle(s, fds + 1, n - 1);
		if (time(NULL) != last_sweep) {
			last_sweep = time(NULL);
			ceremony_sweep(d->ceremonies, last_sweep, flow_on_expire, d);
		}
	}
}

int
main(int argc, char **argv)
{
	const char *config_path = NULL;
	int foreground = 0, check_only = 0, rc = 1;
	char err[512], *cert = NULL, *key = NULL;
	struct passkeyd d;
	struct http_server *h = NULL;
	struct control_server *s = NULL;
	struct ceremony_limits limits;
	store_err_t serr;

	memset(&d, 0, sizeof(d));
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			config_path = argv[++i];
		else if (strcmp(argv[i], "--foreground") == 0)
			foreground = 1;
		else if (strcmp(argv[i], "--check-config") == 0)
			check_only = 1;
		else if (strcmp(argv[i], "--help") == 0)
			return usage(stdout);
		else
			return usage(stderr);
	}
	if (config_path == NULL)
		return usage(stderr);
	if (config_load(config_path, &d.cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "passkeyd: %s: %s\n", config_path, err);
		return 2;
	}
	if ((d.policy = make_policy(&d.cfg, err, sizeof(err))) == NULL) {
		fprintf(stderr, "passkeyd: %s: %s\n", config_path, err);
		config_free(&d.cfg);
		return 2;
	}
	if (check_only) {
		printf("passkeyd: %s: ok\n", config_path);
		rp_policy_free(&d.policy);
		config_free(&d.cfg);
		return 0;
	}
	if (d.cfg.tls_cert != NULL &&
	    ((cert = read_small_file(d.cfg.tls_cert, err, sizeof(err))) == NULL ||
	    (key = read_small_file(d.cfg.tls_key, err, sizeof(err))) == NULL)) {
		fprintf(stderr, "passkeyd: %s\n", err);
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	if ((h = http_start(&d, cert, key, err, sizeof(err))) == NULL ||
	    (s = control_start(&d, err, sizeof(err))) == NULL ||
	    drop_privileges(d.cfg.user, err, sizeof(err)) != 0) {
		fprintf(stderr, "passkeyd: %s\n", err);
		goto out;
	}
	if (key != NULL)
		explicit_bzero(key, strlen(key));
	if ((serr = store_open(d.cfg.store, &d.store)) != STORE_OK) {
		fprintf(stderr, "passkeyd: store %s: %s\n", d.cfg.store, store_err_str(serr));
		goto out;
	}
	limits.total = d.cfg.max_pending_total;
	limits.per_user = d.cfg.max_pending_per_user;
	limits.per_address = d.cfg.max_pending_per_address;
	if ((d.ceremonies = ceremony_table_new(limits)) == NULL) {
		fprintf(stderr, "passkeyd: out of memory\n");
		goto out;
	}
	if (!foreground) {
		if (daemon(0, 0) != 0) {
			fprintf(stderr, "passkeyd: daemon: %s\n", strerror(errno));
			goto out;
		}
		openlog("passkeyd", LOG_PID, LOG_AUTHPRIV);
		d.log_to_syslog = 1;
	}
	daemon_log(&d, "listening on %s (%s), control socket %s, store %s, rp_id %s",
	    d.cfg.listen, cert ? "https" : "http", d.cfg.socket_path, d.cfg.store,
	    d.cfg.rp_id);
	run_loop(&d, h, s);
	daemon_log(&d, "stopping on signal %d", (int)stop_signal);
	rc = 0;
out:
	control_stop(s);
	http_stop(h);
	ceremony_table_free(d.ceremonies);
	rp_policy_free(&d.policy);
	store_close(d.store);
	free(cert);
	free(key);
	config_free(&d.cfg);
	return rc;
}
