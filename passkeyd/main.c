/*
 * passkeyd: the challenge web server, relying party and store keeper of
 * ssh-passkeys.  Startup order is the security design: read the config, the
 * trust anchors and the TLS key, bind the HTTP port and the control socket
 * while privileged, drop to the configured account, and only then open the
 * store and read any network input.
 */
#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "file.h"
#include "control.h"
#include "fleet.h"
#include "flow.h"
#include "hostaddrs.h"
#include "http.h"
#include "passkeyd.h"

/*
 * Signals only set flags; the loop acts on them.  SIGHUP reloads the TLS
 * certificate (a certbot deploy hook sends it), SIGUSR1 logs the state,
 * SIGUSR2 is ignored: none of them may end the only way into the host.
 */
static volatile sig_atomic_t stop_signal, reload_signal, status_signal;

static void
on_stop(int sig)
{
	stop_signal = sig;
}

static void
on_hup(int sig)
{
	(void)sig;
	reload_signal = 1;
}

static void
on_usr1(int sig)
{
	(void)sig;
	status_signal = 1;
}

static void
set_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGUSR2, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	/* a store on a size-limited file system must fail a write, not kill us */
	sigaction(SIGXFSZ, &sa, NULL);
}

/*
 * Room for the connection pools (control.h, http_max_connections): the
 * soft descriptor limit is often 1024, far below what the hard limit allows.
 */
static void
raise_fd_limit(const struct config *cfg)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)cfg->http_max_connections + CONTROL_MAX_CLIENTS + 128;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
	(void)setrlimit(RLIMIT_NOFILE, &rl);
}

static int
usage(FILE *f)
{
	fprintf(f, "usage: passkeyd --config FILE [--foreground] [--check-config]\n");
	return f == stdout ? 0 : 2;
}

static int
drop_privileges(const char *user, char *err, size_t errlen)
{
	struct passwd *pw;

	if (user == NULL) {
		if (geteuid() == 0)
			fprintf(stderr, "passkeyd: warning: running as root: set \"user\" "
			    "in the config to an unprivileged account (the daemon parses "
			    "everything the network sends)\n");
		return 0;
	}
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

static char *
read_anchor(const char *path, char *err, size_t errlen)
{
	char why[400];
	char *text = file_read_text(path, ANCHOR_FILE_MAX, 1, why, sizeof(why));

	if (text == NULL)
		snprintf(err, errlen, "trust_anchors: %s%s", why,
		    strstr(why, "NUL") != NULL ? ": not PEM text (a DER certificate? "
		    "convert it with openssl x509 -inform der)" : "");
	return text;
}

/* *.pem and *.crt, not hidden: what trust_anchors loads from its folder. */
static int
anchor_file_name(const struct dirent *e)
{
	size_t n = strlen(e->d_name);

	return e->d_name[0] != '.' && n > 4 &&
	    (strcmp(e->d_name + n - 4, ".pem") == 0 ||
	    strcmp(e->d_name + n - 4, ".crt") == 0);
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
			if ((text = read_anchor(path, err, errlen)) == NULL ||
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

/* Retention: a small batch each time, never a long delete (journal.h). */
#define PRUNE_BATCH	500

struct prune_job {
	int queued;
	int64_t before_time;
	uint64_t max_rows;
	size_t removed;
};

static store_err_t
prune_apply(store_t *st, void *arg)
{
	struct prune_job *p = arg;

	return store_event_prune(st, p->before_time, p->max_rows, PRUNE_BATCH, &p->removed);
}

static void
prune_done(struct passkeyd *d, void *arg, store_err_t result)
{
	struct prune_job *p = arg;

	(void)d;
	(void)result;
	p->queued = 0;
}

static void
queue_prune(struct passkeyd *d, struct prune_job *p)
{
	if (p->queued || !d->audit_rows ||
	    (d->cfg.audit_retention_days == 0 && d->cfg.audit_max_rows == 0))
		return;
	p->before_time = d->cfg.audit_retention_days == 0 ? 0 :
	    (int64_t)time(NULL) - (int64_t)d->cfg.audit_retention_days * 86400;
	p->max_rows = d->cfg.audit_max_rows;
	p->removed = 0;
	if (journal_add_background(d->journal, prune_apply, prune_done, p) == 0)
		p->queued = 1;
}

static void
log_status(struct passkeyd *d)
{
	daemon_log(d, "status: %zu ceremonies (%zu pending), %zu control connections, "
	    "%zu http connections, %zu store writes queued",
	    ceremony_count(d->ceremonies), ceremony_pending_count(d->ceremonies),
	    control_client_count(d->control), http_connection_count(d->http),
	    journal_queued(d->journal));
}

/* The shortest of the waits the parts ask for, at most a second. */
static int
loop_timeout(int a, int b)
{
	if (a < 0)
		return b;
	if (b < 0)
		return a;
	return a < b ? a : b;
}

/* Until a signal stops it (0), or poll() fails (-1: exit 1, so a supervisor restarts it). */
static int
run_loop(struct passkeyd *d)
{
	/* HTTP, the control socket, its clients and its name resolver, the store's change notices */
	/* ... the journal's writer saying a batch is committed, the metrics listener, */
	/* an offloaded store call returned */
	struct pollfd fds[1 + 1 + CONTROL_MAX_CLIENTS + 1 + 1 + 1 + 1 + 1];
	/*
	 * Static: a prune queued on the journal may still be run by its
	 * writer after this returns (on SIGTERM), until main frees the
	 * journal.  On the stack it was read out of scope (ASan,
	 * stack-use-after-scope in prune_apply).  One loop per process.
	 */
	static struct prune_job prune;
	int journal_wait = -1;
	time_t last_sweep = 0;

	while (!stop_signal) {
		size_t n, controls, notice = 0, scrape = 0, offloaded = 0;
		int timeout = 1000;
		int64_t now_ms, woke_us, done_us;

		fds[0] = (struct pollfd){ .fd = http_poll_fd(d->http), .events = POLLIN };
		n = 1 + control_fill_poll(d->control, fds + 1, sizeof(fds) / sizeof(fds[0]) - 5);
		controls = n - 1;
		if ((fds[n].fd = journal_poll_fd(d->journal)) >= 0) {
			fds[n].events = POLLIN;
			fds[n].revents = 0;
			n++;	/* journal_flush runs every turn anyway */
		}
		if ((fds[n].fd = metrics_server_poll_fd(d->metrics_server)) >= 0) {
			fds[n].events = POLLIN;
			fds[n].revents = 0;
			scrape = n++;
		}
		if (d->fleet && (fds[n].fd = fleet_notice_fd(d)) >= 0) {
			fds[n].events = POLLIN;
			fds[n].revents = 0;
			notice = n++;
		}
		if ((fds[n].fd = offload_poll_fd(d->offload)) >= 0) {
			fds[n].events = POLLIN;
			fds[n].revents = 0;
			offloaded = n++;
		}
		timeout = loop_timeout(timeout, http_timeout_ms(d->http));
		timeout = loop_timeout(timeout, control_timeout_ms(d->control));
		timeout = loop_timeout(timeout, journal_wait);
		if (poll(fds, n, timeout) < 0 && errno != EINTR) {
			daemon_log(d, "poll: %s", strerror(errno));
			return -1;
		}
		now_ms = clock_monotonic_ms();
		woke_us = clock_monotonic_us();
		http_run(d->http, now_ms, fds[0].revents != 0);
		control_handle(d->control, fds + 1, controls, now_ms);
		/*
		 * A scrape is read and answered here, on the loop, like a page:
		 * when its listener has something, and each second for its
		 * connections' timeouts (below), not on every turn.
		 */
		if (scrape && fds[scrape].revents)
			metrics_server_run(d->metrics_server);
		if (notice && fds[notice].revents)
			fleet_notices(d);
		/* steps whose store call returned go on (an approval's commit is queued) */
		if (offloaded && fds[offloaded].revents)
			offload_flush(d->offload, d);
		/* one transaction for this turn's writes; answers follow the commit */
		journal_wait = journal_flush(d->journal, d, d->store, now_ms);
		/*
		 * Finishes the commit decided, and steps whose reads returned:
		 * MHD runs them only when it runs.  A step that went on may have
		 * queued its approval: it is committed in this turn too.
		 */
		if (http_wants_run(d->http)) {
			http_run(d->http, now_ms, 1);
			journal_wait = journal_flush(d->journal, d, d->store, now_ms);
		}
		if (time(NULL) != last_sweep) {
			last_sweep = time(NULL);
			ceremony_sweep(d->ceremonies, last_sweep, flow_on_expire, d);
			if (d->metrics_server != NULL)
				metrics_server_run(d->metrics_server);
			if (d->fleet)
				fleet_tick(d);
			queue_prune(d, &prune);
			events_tick(d, now_ms);
			if (journal_wait < 0 && journal_queued(d->journal) > 0)
				journal_wait = 0;
		}
		/* what this turn (and the writers since the last) decided, told its hosts */
		if (d->fleet)
			fleet_announce(d);
		/* how busy the turn kept the loop: listings yield when it is (share.h) */
		done_us = clock_monotonic_us();
		share_turn(&d->manage_share, done_us, done_us - woke_us);
		if (reload_signal) {
			reload_signal = 0;
			http_reload_tls(d->http);
		}
		if (status_signal) {
			status_signal = 0;
			log_status(d);
		}
	}
	return 0;
}

/* Writes queued at the end get a last chance, for a bounded time. */
static void
drain_journal(struct passkeyd *d)
{
	if (journal_drain(d->journal, d, d->store, JOURNAL_MAX_WAIT_MS) != 0)
		daemon_log(d, "stopping with %zu store writes not committed",
		    journal_queued(d->journal));
}

/*
 * A journal writer commits on a connection of its own, so that no
 * commit holds up the loop (journal.h).  A store that cannot be opened
 * twice (an in-memory one) keeps committing on the loop.
 */
static int
add_journal_writer(struct passkeyd *d)
{
	/*
	 * One malloc arena for the loop and the writers: glibc would give each
	 * writer thread an arena of its own, whose pages (the store's
	 * statements and rows) add to every pending ceremony's share of memory.
	 * The writers allocate little and seldom contend with the loop.
	 */
	(void)mallopt(M_ARENA_MAX, 1);
	char why[256] = "";
	store_t *own;
	store_err_t se;

	if ((se = store_open_why(d->cfg.store, &own, why, sizeof(why))) != STORE_OK) {
		daemon_log(d, "store writer: another connection: %s%s%s", store_err_str(se),
		    why[0] ? ": " : "", why);
		return -1;
	}
	/* it appends rows and updates a counter: its pages need not stay cached */
	(void)store_set_cache_kib(own, 256);
	fleet_instance_of(d, own);
	if (journal_start_writer(d->journal, own) != 0) {
		daemon_log(d, "store writer: no thread");
		return -1;
	}
	return 0;
}

/*
 * SQLite takes one writer at a time: one writer thread.  A fleet's
 * server takes many, and a second writer keeps a batch held up by a row
 * lock from holding up the next (each writer is a server connection).
 */
#define FLEET_JOURNAL_WRITERS	2

static void
start_journal_writers(struct passkeyd *d)
{
	size_t n = strlen(d->cfg.store);
	store_err_t se;

	/* another connection to an in-memory store would be another store */
	if (n >= 8 && strcmp(d->cfg.store + n - 8, ":memory:") == 0)
		return;
	if (add_journal_writer(d) != 0) {
		daemon_log(d, "store writes stay on the loop");
		return;
	}
	for (int i = 1; d->fleet && i < FLEET_JOURNAL_WRITERS; i++)
		(void)add_journal_writer(d);
	/*
	 * What is left on the loop's connection are the fleet's ceremony
	 * rows, whose loss in a server crash fails closed (store.h): their
	 * commits need not wait for the disk, the journal's still do.
	 */
	if (d->fleet && (se = store_set_lazy_commit(d->store, 1)) != STORE_OK)
		daemon_log(d, "store: lazy commits for ceremony rows: %s", store_err_str(se));
}

/*
 * A fleet's login steps hand their store calls to threads with server
 * connections of their own (offload.h), so the loop never waits on the
 * server for them.  Two: a call held up by a row lock or a slow statement
 * leaves the other worker to the other logins.  Without them (no second
 * connection) the steps call the store on the loop, each call bounded by
 * the statement timeout.
 */
#define FLEET_OFFLOAD_WORKERS	2
/*
 * A fleet instance's connections: the loop's and its listening one, the
 * writers' and the workers'.  A host's role may not be limited to fewer
 * (passkeyctl fleet --host-connections); a daemon that holds more needs
 * that minimum raised first.
 */
#define FLEET_CONNECTIONS	(2 + FLEET_JOURNAL_WRITERS + FLEET_OFFLOAD_WORKERS)
_Static_assert(FLEET_CONNECTIONS <= STORE_FLEET_HOST_CONNS_MIN,
    "a host's role must be allowed every connection its passkeyd holds");
/* How long the loop's store calls, and the offload's, wait for a lock. */
#define LOOP_LOCK_WAIT_MS	200

static void
start_offload_workers(struct passkeyd *d)
{
	char why[256] = "";
	store_t *own;
	store_err_t se;

	if (!d->fleet || (d->offload = offload_new()) == NULL)
		return;
	for (int i = 0; i < FLEET_OFFLOAD_WORKERS; i++) {
		if ((se = store_open_why(d->cfg.store, &own, why, sizeof(why))) != STORE_OK) {
			daemon_log(d, "store calls off the loop: another connection: %s%s%s",
			    store_err_str(se), why[0] ? ": " : "", why);
			break;
		}
		/* the loop's timeouts: a call waits on a lock no longer than the loop would */
		store_set_busy_timeout(own, LOOP_LOCK_WAIT_MS);
		/* and its commits: ceremony rows, whose loss fails closed (store.h) */
		(void)store_set_lazy_commit(own, 1);
		fleet_instance_of(d, own);
		if (offload_start_worker(d->offload, own) != 0) {
			daemon_log(d, "store calls off the loop: no thread");
			break;
		}
	}
	if (!offload_ready(d->offload))
		daemon_log(d, "store calls stay on the loop");
}

/*
 * The store must take writes, or nothing can ever be approved: one
 * durable row now, before the first login, says so or stops the daemon
 * with the store's reason (a read-only file, a full disk...).
 */
static int
check_store_writable(struct passkeyd *d, char *err, size_t errlen)
{
	struct store_event ev;
	store_err_t se;

	event_to_store(&(struct event_rec){ .event = "daemon_started", .verdict = "info",
	    .detail = PASSKEYD_VERSION }, &ev);
	d->audit_rows = 1;
	se = store_event_add(d->store, &ev);
	/*
	 * An SSH host's role in a fleet may not write the audit log (it may
	 * only make and read its own ceremonies): its events go to its log,
	 * and the web instances write the rows of what they decide.
	 */
	if (se == STORE_ERR_DENIED && d->fleet) {
		d->audit_rows = 0;
		daemon_log(d, "the store's role may not write the audit log: this host's events"
		    " go to its log only");
		return 0;
	}
	if (se != STORE_OK) {
		snprintf(err, errlen, "store %s cannot be written (%s): %s", d->cfg.store_shown,
		    store_err_str(se), store_errmsg(d->store));
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	const char *config_path = NULL;
	int foreground = 0, check_only = 0, names_stuck = 0, rc = 1;
	char err[512], *cert = NULL, *key = NULL;
	struct passkeyd d;
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
	if ((d.aaguids = aaguid_table_load(d.cfg.aaguid_names, err, sizeof(err))) == NULL) {
		fprintf(stderr, "passkeyd: %s: %s\n", config_path, err);
		rp_policy_free(&d.policy);
		config_free(&d.cfg);
		return 2;
	}
	if (check_only) {
		printf("passkeyd: %s: ok\n", config_path);
		aaguid_table_free(d.aaguids);
		rp_policy_free(&d.policy);
		config_free(&d.cfg);
		return 0;
	}
	if (d.cfg.tls_cert != NULL &&
	    ((cert = file_read_text(d.cfg.tls_cert, HTTP_TLS_FILE_MAX, 0, err, sizeof(err))) == NULL ||
	    (key = file_read_text(d.cfg.tls_key, HTTP_TLS_FILE_MAX, 0, err, sizeof(err))) == NULL)) {
		fprintf(stderr, "passkeyd: %s\n", err);
		goto out;
	}
	set_signals();
	raise_fd_limit(&d.cfg);
	if ((d.http = http_start(&d, cert, key, err, sizeof(err))) == NULL ||
	    (d.cfg.metrics_listen != NULL &&
	    (d.metrics_server = metrics_server_start(&d, err, sizeof(err))) == NULL) ||
	    (d.control = control_start(&d, err, sizeof(err))) == NULL ||
	    drop_privileges(d.cfg.user, err, sizeof(err)) != 0) {
		fprintf(stderr, "passkeyd: %s\n", err);
		goto out;
	}
	if (key != NULL)
		explicit_bzero(key, strlen(key));
	if (fleet_instance_init(&d) != 0) {
		fprintf(stderr, "passkeyd: no random bytes for the instance's name\n");
		goto out;
	}
	if ((serr = store_open_why(d.cfg.store, &d.store, err, sizeof(err))) != STORE_OK) {
		fprintf(stderr, "passkeyd: store %s: %s%s%s\n", d.cfg.store_shown, store_err_str(serr),
		    err[0] ? ": " : "", err);
		goto out;
	}
	/* the loop must not stall behind another program's lock (journal.h) */
	store_set_busy_timeout(d.store, LOOP_LOCK_WAIT_MS);
	fleet_instance_of(&d, d.store);
	/* a store that keeps ceremonies makes this instance one of a fleet */
	if ((serr = store_ceremony_listen(d.store)) == STORE_OK) {
		d.fleet = 1;
	} else if (serr != STORE_ERR_UNSUPPORTED) {
		fprintf(stderr, "passkeyd: store %s: change notices: %s: %s\n", d.cfg.store_shown,
		    store_err_str(serr), store_errmsg(d.store));
		goto out;
	}
	if (check_store_writable(&d, err, sizeof(err)) != 0) {
		fprintf(stderr, "passkeyd: %s\n", err);
		goto out;
	}
	share_init(&d.manage_share, clock_monotonic_us());
	limits.total = d.cfg.max_pending_total;
	limits.per_user = d.cfg.max_pending_per_user;
	limits.per_address = d.cfg.max_pending_per_address;
	limits.per_user_address = d.cfg.max_pending_per_user_address;
	limits.lifetime = d.cfg.ceremony_timeout;
	if ((d.ceremonies = ceremony_table_new(limits)) == NULL ||
	    (d.fleet && ceremony_table_index_hashes(d.ceremonies) != 0) ||
	    (d.journal = journal_new()) == NULL ||
	    (d.keys = keycache_new()) == NULL ||
	    (d.hostaddrs = hostaddrs_new()) == NULL ||
	    (d.metrics = metrics_new()) == NULL ||
	    (d.control_rates = rate_table_new()) == NULL) {
		fprintf(stderr, "passkeyd: out of memory\n");
		goto out;
	}
	ceremony_table_on_forget(d.ceremonies, flow_on_forget, &d);
	if (!foreground) {
		if (daemon(0, 0) != 0) {
			fprintf(stderr, "passkeyd: daemon: %s\n", strerror(errno));
			goto out;
		}
		openlog("passkeyd", LOG_PID, LOG_AUTHPRIV);
		d.log_to_syslog = 1;
	}
	/* after daemon(): a thread does not cross fork() */
	start_journal_writers(&d);
	start_offload_workers(&d);
	daemon_log(&d, "listening on %s (%s), control socket %s, store %s, rp_id %s",
	    d.cfg.listen, cert ? "https" : "http", d.cfg.socket_path, d.cfg.store_shown,
	    d.cfg.rp_id);
	if (run_loop(&d) == 0) {
		daemon_log(&d, "stopping on signal %d", (int)stop_signal);
		rc = 0;
	}
out:
	/* before the journal: a step that goes on may still queue a write */
	offload_free(d.offload, &d);
	d.offload = NULL;
	/* while the journal commits: their ends may write (flow_cancel) */
	d.stopping = 1;
	control_close_clients(d.control);
	if (d.journal != NULL) {
		drain_journal(&d);
		journal_free(d.journal, &d);
		d.journal = NULL;
	}
	names_stuck = control_stop(d.control);
	metrics_server_stop(d.metrics_server);
	http_stop(d.http);
	ceremony_table_free(d.ceremonies);
	keycache_free(d.keys);
	hostaddrs_free(d.hostaddrs);
	metrics_free(d.metrics);
	aaguid_table_free(d.aaguids);
	rate_table_free(d.control_rates);
	rp_policy_free(&d.policy);
	store_close(d.store);
	free(cert);
	free(key);
	config_free(&d.cfg);
	if (names_stuck) {
		/* a resolver is still inside NSS: exit(3)'s destructors would race with it */
		fflush(stdout);	/* not fflush(NULL): NSS may hold a stream of its own */
		fflush(stderr);
		_exit(rc);
	}
	return rc;
}
