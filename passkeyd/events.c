/*
 * Events go to two places: the daemon's log (stderr under systemd or in
 * the foreground, else syslog) for operators, and the store's audit log
 * for `passkeyctl events`, through the journal.  Values in log lines are
 * escaped so that a user name or address cannot forge a second field or
 * line.  What outside input can repeat at will is budgeted, so that a
 * flood fills neither the disk nor the log (docs/DESIGN.md "Availability").
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "clock.h"
#include "flow.h"
#include "passkeyd.h"

/* Audit rows from outside input: 20 a second, bursts of 200. */
static const struct rate_rule audit_noise_rule = { 20.0, 200.0 };
/* Log lines a client can cause: 5 a second, bursts of 50. */
static const struct rate_rule log_noise_rule = { 5.0, 50.0 };
/* Another instance's ceremonies ended here denied or failed: per host, as log lines. */
static const struct rate_rule host_end_rule = { 5.0, 50.0 };
#define REPORT_EVERY_MS	10000

static void
escape(char *out, size_t outlen, const char *in)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (in == NULL || *in == '\0')
		in = "-";
	for (; *in && o + 5 < outlen; in++) {
		unsigned char ch = (unsigned char)*in;
		if (ch > 0x20 && ch < 0x7f && ch != '=' && ch != '\\') {
			out[o++] = (char)ch;
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	out[o] = '\0';
}

/* Room for any event line (escaped fields at their longest) in one piece. */
#define LOG_LINE_MAX	4096

/*
 * A line goes out in one write: stderr is unbuffered, and the prefix, the
 * text and the newline written apart were three system calls (and, under
 * systemd, three messages for journald to read) per event.  A longer line
 * than the buffer holds is written the old way.
 */
static void vlog(struct passkeyd *d, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
vlog(struct passkeyd *d, const char *fmt, va_list ap)
{
	static const char prefix[] = "passkeyd: ";
	char line[LOG_LINE_MAX];
	size_t pl = sizeof(prefix) - 1;
	va_list aq;
	int n;

	if (d != NULL && d->log_to_syslog) {
		vsyslog(LOG_AUTHPRIV | LOG_INFO, fmt, ap);
		return;
	}
	va_copy(aq, ap);
	n = vsnprintf(line + pl, sizeof(line) - pl - 1, fmt, aq);
	va_end(aq);
	if (n >= 0 && (size_t)n < sizeof(line) - pl - 1) {
		memcpy(line, prefix, pl);
		line[pl + (size_t)n] = '\n';
		fwrite(line, 1, pl + (size_t)n + 1, stderr);
	} else {
		fputs(prefix, stderr);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
	fflush(stderr);
}

void
daemon_log(struct passkeyd *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(d, fmt, ap);
	va_end(ap);
}

void
daemon_log_noisy(struct passkeyd *d, const char *fmt, ...)
{
	va_list ap;

	if (!rate_take(&d->log_noise, &log_noise_rule, clock_monotonic_ms()))
		return;
	va_start(ap, fmt);
	vlog(d, fmt, ap);
	va_end(ap);
}

void
event_print(struct passkeyd *d, const struct event_rec *e)
{
	char u[4 * 64 + 8], h[4 * 255 + 8], sv[4 * 64 + 8], r[128], tok[4 * 6 + 8] = "-";
	const char *service = e->service;

	if (service == NULL && e->c != NULL)
		service = e->c->service;
	metrics_event(d->metrics, e);
	escape(u, sizeof(u), e->user);
	escape(h, sizeof(h), e->rhost);
	escape(r, sizeof(r), e->reason);
	escape(sv, sizeof(sv), service);
	/* enough of the token to correlate lines, too little to use it */
	if (e->c != NULL)
		snprintf(tok, sizeof(tok), "%.6s", e->c->token);
	else if (e->token != NULL) {
		char six[8];

		snprintf(six, sizeof(six), "%.6s", e->token);
		escape(tok, sizeof(tok), six);
	}
	daemon_log(d, "event=%s user=%s rhost=%s service=%s verdict=%s reason=%s token=%s",
	    e->event, u, h, sv, e->verdict, r, tok);
}

void
event_to_store(const struct event_rec *e, struct store_event *out)
{
	memset(out, 0, sizeof(*out));
	out->time = (int64_t)time(NULL);
	out->event = e->event;
	out->user = e->user;
	out->addr = e->rhost;
	out->verdict = e->verdict;
	out->reason = e->reason;
	out->detail = e->detail;
}

/*
 * The budget of the host whose ceremony e ends here, when it is another
 * instance's ending denied or failed; else NULL.  A web instance writes
 * those rows, but the host wrote the row's user and address, and may
 * make rows at will: without a budget of its own, a host could push the
 * fleet's genuine rows out past audit_max_rows (a red-team finding).  A
 * host's name is the one the fleet registered for its role.  Past
 * HOST_BUDGETS hosts, the least recently used budget is taken over,
 * full: that can only let a host write more, never make one write less.
 */
static struct rate *
host_budget(struct passkeyd *d, const struct event_rec *e)
{
	struct host_budget *b, *oldest = &d->host_budgets[0];

	if (e->c == NULL || !e->c->foreign || (strcmp(e->verdict, "deny") != 0 &&
	    strcmp(e->verdict, "fail") != 0))
		return NULL;
	for (size_t i = 0; i < HOST_BUDGETS; i++) {
		b = &d->host_budgets[i];
		if (strcmp(b->host, e->c->hostname) == 0)
			return &b->r;
		if (b->r.last_ms < oldest->r.last_ms)
			oldest = b;
	}
	snprintf(oldest->host, sizeof(oldest->host), "%s", e->c->hostname);
	oldest->r = (struct rate){ 0 };
	return &oldest->r;
}

void
event_log(struct passkeyd *d, const struct event_rec *e)
{
	struct store_event ev;
	struct rate *host = host_budget(d, e);
	int64_t now_ms = clock_monotonic_ms();
	int over = e->noisy && !rate_take(&d->audit_noise, &audit_noise_rule, now_ms);

	if (!over && host != NULL && !rate_take(host, &host_end_rule, now_ms)) {
		over = 1;
		d->audit_noise.suppressed++;	/* reported with the rest (events_tick) */
	}
	if (over) {
		metrics_event(d->metrics, e);	/* not logged, still counted */
		return;
	}
	event_print(d, e);
	if (d->journal == NULL || !d->audit_rows)
		return;
	event_to_store(e, &ev);
	(void)journal_event(d->journal, &ev);	/* a full queue counts the loss */
}

/*
 * The store's own words (the OS's or the server's): the loop's
 * connection's, or else those of the journal writer's, whose batches
 * fail on a connection of their own.
 */
static const char *
store_words(struct passkeyd *d)
{
	const char *why = d->store_words != NULL ? d->store_words : store_errmsg(d->store);

	if ((why == NULL || why[0] == '\0') && d->journal != NULL)
		why = journal_errmsg(d->journal);
	return why != NULL ? why : "";
}

void
events_tick(struct passkeyd *d, int64_t now_ms)
{
	uint64_t suppressed, lost;
	char detail[96];

	if (now_ms - d->last_report_ms < REPORT_EVERY_MS)
		return;
	d->last_report_ms = now_ms;
	suppressed = d->audit_noise.suppressed;
	d->audit_noise.suppressed = 0;
	if (suppressed > 0) {
		snprintf(detail, sizeof(detail), "count=%llu", (unsigned long long)suppressed);
		event_log(d, &(struct event_rec){ .event = "audit_suppressed",
		    .verdict = "warn", .reason = "rate_limited", .detail = detail });
	}
	if (d->control_rate_refusals > 0) {
		snprintf(detail, sizeof(detail), "count=%llu last_uid=%lu",
		    (unsigned long long)d->control_rate_refusals,
		    (unsigned long)d->control_rate_last_uid);
		d->control_rate_refusals = 0;
		event_log(d, &(struct event_rec){ .event = "control_rate_limited",
		    .verdict = "warn", .reason = "rate_limited", .detail = detail });
	}
	if (d->log_noise.suppressed > 0) {
		daemon_log(d, "%llu log lines suppressed (rate limit)",
		    (unsigned long long)d->log_noise.suppressed);
		d->log_noise.suppressed = 0;
	}
	if (d->journal != NULL && (lost = journal_take_dropped(d->journal)) > 0)
		daemon_log(d, "audit log: %llu rows could not be written (%s)",
		    (unsigned long long)lost, d->store ? store_words(d) : "no store");
}

enum ctl_refusal
store_refusal(struct passkeyd *d, store_err_t err)
{
	if (err != STORE_OK && d != NULL) {
		metrics_store_error(d->metrics, err);
		/* a server found busy or gone: the loop stops waiting on it (flow.h) */
		flow_store_trouble(d, err);
	}
	/* the store's own words (the OS's or the server's) are for the log */
	if (err != STORE_OK && d != NULL && d->store != NULL)
		daemon_log_noisy(d, "store: %s: %s", store_err_str(err), store_words(d));
	switch (err) {
	case STORE_OK:
		return CTL_REFUSAL_NONE;
	case STORE_ERR_BUSY:
		return CTL_REFUSAL_STORE_BUSY;
	case STORE_ERR_UNAVAILABLE:
		return CTL_REFUSAL_STORE_UNAVAILABLE;
	default:
		return CTL_REFUSAL_STORE_ERROR;
	}
}
