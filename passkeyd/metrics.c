/*
 * Prometheus numbers (metrics.h): counters kept on the loop, rendered on
 * the loop, served by a second libmicrohttpd daemon polled by the loop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostaddrs.h"
#include "metrics.h"
#include "strbuf.h"
#include "passkeyd.h"

/* (event, verdict, reason) series kept; beyond, they are summed in "other". */
#define METRICS_MAX_SERIES	512
#define METRICS_MAX_UIDS	64

#define STORE_ERR_PLUS_ONE(name, str) +1
enum { STORE_ERR_COUNT = 0 STORE_ERRORS(STORE_ERR_PLUS_ONE) };
#undef STORE_ERR_PLUS_ONE

struct histogram {
	const double *le;	/* upper bounds, ascending; +Inf is implied */
	size_t n;
	uint64_t bucket[16];	/* per bound, not cumulative */
	uint64_t count;
	double sum;
};

/* Copies: an event's name may be built on the caller's stack (kind_event). */
struct series {
	char event[40], verdict[16], reason[48];	/* codes; reason may be "" */
	uint64_t n;
};

struct metrics {
	struct series s[METRICS_MAX_SERIES];
	size_t ns;
	uint64_t other_events;
	struct histogram verify, commit;
	uint64_t commits[STORE_ERR_COUNT];
	uint64_t store_errors[STORE_ERR_COUNT];
	struct { uid_t uid; uint64_t n; } throttled[METRICS_MAX_UIDS];
	size_t nthrottled;
	uint64_t throttled_other;
};

static const double verify_le[] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
	0.025, 0.1 };
static const double commit_le[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
	0.25, 1, 5 };

struct metrics *
metrics_new(void)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	m->verify = (struct histogram){ .le = verify_le,
	    .n = sizeof(verify_le) / sizeof(verify_le[0]) };
	m->commit = (struct histogram){ .le = commit_le,
	    .n = sizeof(commit_le) / sizeof(commit_le[0]) };
	return m;
}

void
metrics_free(struct metrics *m)
{
	free(m);
}

static void
observe(struct histogram *h, double v)
{
	size_t i = 0;

	while (i < h->n && v > h->le[i])
		i++;
	if (i < h->n)
		h->bucket[i]++;
	h->count++;
	h->sum += v;
}

/* A label value we may print: a code of [a-z0-9_] (the code's own tables). */
static int
is_code(const char *s, size_t max)
{
	size_t n = s != NULL ? strlen(s) : 0;

	return n <= max && strspn(s != NULL ? s : "", "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

void
metrics_event(struct metrics *m, const struct event_rec *e)
{
	const char *reason = e->reason != NULL ? e->reason : "";
	struct series *s;

	if (m == NULL || e->event == NULL || e->verdict == NULL)
		return;
	if (!is_code(e->event, sizeof(s->event) - 1) || !is_code(e->verdict, sizeof(s->verdict) - 1))
		return;
	if (!is_code(reason, sizeof(s->reason) - 1))
		reason = "other";
	for (size_t i = 0; i < m->ns; i++) {
		s = &m->s[i];
		if (strcmp(s->event, e->event) == 0 && strcmp(s->verdict, e->verdict) == 0 &&
		    strcmp(s->reason, reason) == 0) {
			s->n++;
			return;
		}
	}
	if (m->ns == METRICS_MAX_SERIES) {
		m->other_events++;
		return;
	}
	s = &m->s[m->ns++];
	snprintf(s->event, sizeof(s->event), "%s", e->event);
	snprintf(s->verdict, sizeof(s->verdict), "%s", e->verdict);
	snprintf(s->reason, sizeof(s->reason), "%s", reason);
	s->n = 1;
}

void
metrics_verify(struct metrics *m, double seconds)
{
	if (m != NULL)
		observe(&m->verify, seconds);
}

void
metrics_commit(struct metrics *m, double seconds, store_err_t result)
{
	if (m == NULL)
		return;
	observe(&m->commit, seconds);
	if ((unsigned)result < STORE_ERR_COUNT)
		m->commits[result]++;
}

void
metrics_store_error(struct metrics *m, store_err_t err)
{
	if (m != NULL && (unsigned)err < STORE_ERR_COUNT)
		m->store_errors[err]++;
}

void
metrics_throttled(struct metrics *m, uid_t uid)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->nthrottled; i++)
		if (m->throttled[i].uid == uid) {
			m->throttled[i].n++;
			return;
		}
	if (m->nthrottled == METRICS_MAX_UIDS) {
		m->throttled_other++;
		return;
	}
	m->throttled[m->nthrottled].uid = uid;
	m->throttled[m->nthrottled++].n = 1;
}

/* ---- rendering ------------------------------------------------------------ */

static void
family(struct strbuf *t, const char *name, const char *type, const char *help)
{
	strbuf_printf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
put_histogram(struct strbuf *t, const char *name, const char *help, const struct histogram *h)
{
	uint64_t cum = 0;

	family(t, name, "histogram", help);
	for (size_t i = 0; i < h->n; i++) {
		cum += h->bucket[i];
		strbuf_printf(t, "%s_bucket{le=\"%g\"} %llu\n", name, h->le[i], (unsigned long long)cum);
	}
	strbuf_printf(t, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)h->count);
	strbuf_printf(t, "%s_sum %.9g\n%s_count %llu\n", name, h->sum, name, (unsigned long long)h->count);
}

/* "login_approved" -> kind "login", outcome "approved" for a ceremony's end. */
static int
ceremony_end(const char *event, char *kind, size_t klen, const char **outcome)
{
	static const char *const ends[] = { "approved", "denied", "failed", "expired",
	    "cancelled" };
	const char *us = strchr(event, '_');

	if (us == NULL)
		return 0;
	if (!((us - event == 5 && strncmp(event, "login", 5) == 0) ||
	    (us - event == 8 && strncmp(event, "register", 8) == 0)))
		return 0;
	for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++)
		if (strcmp(us + 1, ends[i]) == 0) {
			snprintf(kind, klen, "%.*s", (int)(us - event), event);
			*outcome = ends[i];
			return 1;
		}
	return 0;
}

static void
put_events(struct strbuf *t, const struct metrics *m)
{
	char kind[16];
	const char *outcome;

	family(t, "passkeyd_ceremonies_total", "counter",
	    "Ceremonies ended, by kind (login, register), outcome and reason.");
	for (size_t i = 0; i < m->ns; i++)
		if (ceremony_end(m->s[i].event, kind, sizeof(kind), &outcome))
			strbuf_printf(t, "passkeyd_ceremonies_total{kind=\"%s\",outcome=\"%s\",reason=\"%s\"} "
			    "%llu\n", kind, outcome, m->s[i].reason, (unsigned long long)m->s[i].n);
	family(t, "passkeyd_refusals_total", "counter",
	    "Requests refused, by the event refused and the named reason (limits among them).");
	for (size_t i = 0; i < m->ns; i++)
		if (strcmp(m->s[i].verdict, "refused") == 0)
			strbuf_printf(t, "passkeyd_refusals_total{event=\"%s\",reason=\"%s\"} %llu\n",
			    m->s[i].event, m->s[i].reason, (unsigned long long)m->s[i].n);
	family(t, "passkeyd_events_total", "counter",
	    "Audit events, by event, verdict and reason.");
	for (size_t i = 0; i < m->ns; i++)
		strbuf_printf(t, "passkeyd_events_total{event=\"%s\",verdict=\"%s\",reason=\"%s\"} %llu\n",
		    m->s[i].event, m->s[i].verdict, m->s[i].reason, (unsigned long long)m->s[i].n);
	family(t, "passkeyd_events_unlabelled_total", "counter",
	    "Audit events beyond the series kept (counted, not labelled).");
	strbuf_printf(t, "passkeyd_events_unlabelled_total %llu\n", (unsigned long long)m->other_events);
}

static void
put_store(struct strbuf *t, const struct metrics *m)
{
	family(t, "passkeyd_store_commits_total", "counter",
	    "Store transactions of the journal, by result.");
	for (int i = 0; i < STORE_ERR_COUNT; i++)
		if (m->commits[i] > 0 || i == STORE_OK)
			strbuf_printf(t, "passkeyd_store_commits_total{result=\"%s\"} %llu\n",
			    store_err_str((store_err_t)i), (unsigned long long)m->commits[i]);
	put_histogram(t, "passkeyd_store_commit_seconds",
	    "Time to commit one journal batch (one transaction for many writes).", &m->commit);
	family(t, "passkeyd_store_errors_total", "counter",
	    "Store errors answered to a caller, by error.");
	for (int i = 1; i < STORE_ERR_COUNT; i++)
		strbuf_printf(t, "passkeyd_store_errors_total{error=\"%s\"} %llu\n",
		    store_err_str((store_err_t)i), (unsigned long long)m->store_errors[i]);
}

static void
put_control(struct strbuf *t, const struct metrics *m)
{
	family(t, "passkeyd_control_throttled_total", "counter",
	    "Control-socket requests refused by the caller's budget, by uid.");
	for (size_t i = 0; i < m->nthrottled; i++)
		strbuf_printf(t, "passkeyd_control_throttled_total{uid=\"%lu\"} %llu\n",
		    (unsigned long)m->throttled[i].uid, (unsigned long long)m->throttled[i].n);
	if (m->throttled_other > 0)
		strbuf_printf(t, "passkeyd_control_throttled_total{uid=\"other\"} %llu\n",
		    (unsigned long long)m->throttled_other);
}

/* A fleet's change notices this instance sent its hosts, or lost (store_announce). */
static void
put_notices(struct strbuf *t, store_t *st)
{
	uint64_t sent, dropped;

	store_announce_counts(st, &sent, &dropped);
	family(t, "passkeyd_fleet_notices_total", "counter",
	    "Change notices sent to the hosts of ceremonies decided here, or dropped"
	    " (a full queue, a refused batch: the host reads its row at the next status).");
	strbuf_printf(t, "passkeyd_fleet_notices_total{result=\"sent\"} %llu\n",
	    (unsigned long long)sent);
	strbuf_printf(t, "passkeyd_fleet_notices_total{result=\"dropped\"} %llu\n",
	    (unsigned long long)dropped);
}

char *
metrics_render(struct passkeyd *d, size_t *len)
{
	struct strbuf t = { 0 };
	const struct metrics *m = d->metrics;

	if (m == NULL)
		return NULL;
	put_events(&t, m);
	put_histogram(&t, "passkeyd_verify_seconds",
	    "Time the relying-party core took to verify one browser answer.", &m->verify);
	family(&t, "passkeyd_ceremonies_pending", "gauge", "Ceremonies pending now.");
	strbuf_printf(&t, "passkeyd_ceremonies_pending %zu\n", ceremony_pending_count(d->ceremonies));
	family(&t, "passkeyd_ceremonies_held", "gauge",
	    "Ceremonies held in memory, pending or final (kept 10 minutes after the end).");
	strbuf_printf(&t, "passkeyd_ceremonies_held %zu\n", ceremony_count(d->ceremonies));
	family(&t, "passkeyd_store_writes_queued", "gauge", "Store writes waiting for a commit.");
	strbuf_printf(&t, "passkeyd_store_writes_queued %zu\n", journal_queued(d->journal));
	put_store(&t, m);
	if (d->fleet)
		put_notices(&t, d->store);
	put_control(&t, m);
	family(&t, "passkeyd_loop_busy_percent", "gauge",
	    "Share of the loop's time taken by work other than listings, over the last 100 ms.");
	strbuf_printf(&t, "passkeyd_loop_busy_percent %d\n", d->manage_share.busy_percent);
	family(&t, "passkeyd_control_reads_held_total", "counter",
	    "Times a listing's request waited for the loop's share while the loop was busy.");
	strbuf_printf(&t, "passkeyd_control_reads_held_total %llu\n",
	    (unsigned long long)d->manage_share.held);
	family(&t, "passkeyd_host_address_reads_failed_total", "counter",
	    "Reads of this host's interface addresses that failed: meanwhile no client"
	    " address opens a keyless re-approval window (logged once per run of failures).");
	strbuf_printf(&t, "passkeyd_host_address_reads_failed_total %llu\n",
	    (unsigned long long)hostaddrs_failed_reads(d->hostaddrs));
	return strbuf_take(&t, len);
}
