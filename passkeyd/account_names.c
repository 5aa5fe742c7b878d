/*
 * The account names of control callers, and the accounts root's requests
 * name: looked up by a resolver thread, kept a while (account_names.h
 * says why).
 *
 * The loop owns the tables of answers (slots) alone.  The jobs are shared
 * with the resolvers under mu: the loop queues a job and frees it once
 * done; a resolver takes the newest queued one of its lane, looks it up
 * without the lock, and writes a byte to the pipe when it is done.  A
 * running job is never freed, so the resolver's pointer to it stays good.
 *
 * Two lanes, each with its own queue and thread: the callers' uids, and
 * the names root's requests give.  Any local account can fill the first
 * (with a subuid range, as thousands of uids); it must not make root's
 * lookups wait or be refused (an admin's enroll, an older module's
 * login_begin).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "account_names.h"
#include "ctl_text.h"

#define LOOKUP_BUF	16384	/* a directory entry with a long gecos fits */

/* What NSS answered, kept until until_ms: a uid's name, or a name's account. */
struct answer {
	int used;
	int failed;			/* NSS failed: busy until it is asked again */
	int unsure;			/* no entry, with ENOENT or ESRCH (nss_lookup) */
	int64_t until_ms;		/* fresh before this */
	char name[CTL_USER_MAX + 1];	/* pw_name; "" when there is none */
};

struct slot {
	struct answer a;
	uid_t uid;
};

/* What a name root's request gave resolves to. */
struct account_slot {
	struct answer a;
	uint64_t written;		/* the order answers were kept in */
	char asked[CTL_USER_MAX + 1];	/* the name as the request gave it */
};

/* A lookup: of a uid's name, or of the account a name gives. */
struct job_key {
	int by_name;
	uid_t uid;
	const char *asked;
};

enum job_state { JOB_FREE, JOB_QUEUED, JOB_RUNNING, JOB_DONE };

struct job {
	enum job_state state;
	int by_name;
	uid_t uid;
	char asked[CTL_USER_MAX + 1];	/* by_name: the name to look up */
	uint64_t seq;			/* the queue's order */
	int64_t asked_ms;
	int failed;			/* NSS failed: not "no such account" */
	int unsure;			/* no entry, with ENOENT or ESRCH (nss_lookup) */
	char name[CTL_USER_MAX + 1];
};

enum lane_kind { LANE_CALLERS, LANE_ROOT, LANES };

struct lane {
	struct account_names *n;
	struct job jobs[ACCOUNT_NAMES_QUEUE];	/* under n->mu */
	pthread_cond_t work;
	int started;
	pthread_t thread;
};

struct account_names {
	struct slot slots[ACCOUNT_NAMES_SLOTS];
	struct account_slot accounts[ACCOUNT_NAMES_BY_NAME_SLOTS];
	pthread_mutex_t mu;
	struct lane lanes[LANES];
	uint64_t next_seq;
	uint64_t accounts_written;		/* the loop's, as the slots are */
	uint64_t lookups;			/* under mu */
	int stop;				/* under mu */
	int alive;				/* resolvers running; under mu */
	int orphaned;				/* freed by the last to end; under mu */
	int pipe_rd, pipe_wr;			/* made with the first resolver */
};

struct account_names *
account_names_new(void)
{
	struct account_names *n = calloc(1, sizeof(*n));

	if (n == NULL)
		return NULL;
	if (pthread_mutex_init(&n->mu, NULL) != 0) {
		free(n);
		return NULL;
	}
	for (int l = 0; l < LANES; l++) {
		n->lanes[l].n = n;
		if (pthread_cond_init(&n->lanes[l].work, NULL) != 0) {
			while (l-- > 0)
				pthread_cond_destroy(&n->lanes[l].work);
			pthread_mutex_destroy(&n->mu);
			free(n);
			return NULL;
		}
	}
	n->pipe_rd = n->pipe_wr = -1;
	return n;
}

static void
destroy(struct account_names *n)
{
	for (int l = 0; l < LANES; l++)
		pthread_cond_destroy(&n->lanes[l].work);
	if (n->pipe_rd >= 0) {
		close(n->pipe_rd);
		close(n->pipe_wr);
	}
	pthread_mutex_destroy(&n->mu);
	free(n);
}

int
account_names_free(struct account_names *n)
{
	struct timespec until;
	int stuck = 0, last;

	if (n == NULL)
		return 0;
	pthread_mutex_lock(&n->mu);
	n->stop = 1;
	for (int l = 0; l < LANES; l++)
		pthread_cond_signal(&n->lanes[l].work);
	pthread_mutex_unlock(&n->mu);
	clock_gettime(CLOCK_REALTIME, &until);	/* pthread_timedjoin_np's clock */
	until.tv_sec += ACCOUNT_NAMES_STOP_MS / 1000;
	until.tv_nsec += (ACCOUNT_NAMES_STOP_MS % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	for (int l = 0; l < LANES; l++)
		if (n->lanes[l].started && pthread_timedjoin_np(n->lanes[l].thread, NULL,
		    &until) != 0) {
			pthread_detach(n->lanes[l].thread);
			stuck = 1;
		}
	if (!stuck) {
		destroy(n);
		return 0;
	}
	/*
	 * A lookup still out (a directory that hangs) keeps using n: the
	 * last resolver to end frees it, unless the process ends first (a
	 * hung NSS must not hold a stop back).
	 */
	pthread_mutex_lock(&n->mu);
	n->orphaned = 1;
	last = n->alive == 0;	/* or they all ended meanwhile */
	pthread_mutex_unlock(&n->mu);
	if (last)
		destroy(n);
	return !last;
}

/*
 * The account's pw_name (for a name: its own spelling, which a
 * case-insensitive NSS may change) with 0, or "" when there is no such
 * account; -1 when NSS failed.  1, with "", for no entry and ENOENT or
 * ESRCH: getpwnam_r(3) allows them for "not found" (nss_wrapper says it
 * so), but glibc also hands them on from a module that is unavailable
 * (nss-pam-ldapd with nslcd down), as pam_passkey's canonical_user knows.
 */
static int
nss_lookup(const struct job_key *k, char *out, size_t len)
{
	struct passwd pw, *res = NULL;
	char buf[LOOKUP_BUF];
	int rc;

	out[0] = '\0';
	rc = k->by_name ? getpwnam_r(k->asked, &pw, buf, sizeof(buf), &res) :
	    getpwuid_r(k->uid, &pw, buf, sizeof(buf), &res);
	if (rc == 0 && res != NULL && ctl_user_name_valid(res->pw_name))
		snprintf(out, len, "%s", res->pw_name);
	if (rc == 0)
		return 0;
	return rc == ENOENT || rc == ESRCH ? 1 : -1;
}

void
account_name_lookup(uid_t uid, char *out, size_t len)
{
	(void)nss_lookup(&(struct job_key){ .uid = uid }, out, len);
}

enum account_name_state
account_lookup(const char *asked, char *out, size_t len)
{
	int rc = nss_lookup(&(struct job_key){ .by_name = 1, .asked = asked }, out, len);

	return rc == 0 ? ACCOUNT_NAME_KNOWN : rc > 0 ? ACCOUNT_NAME_UNSURE : ACCOUNT_NAME_BUSY;
}

/*
 * The newest queued job (under mu).  Newest first, because a job's asker
 * waits only ACCOUNT_NAMES_WAIT_MS: after a flood of uids the oldest jobs
 * are the flood's, whose askers were answered busy long ago, and taking
 * them first would make every new caller wait behind a whole queue of
 * slow lookups (64 of 300 ms: 19 s).  A caller that gave up and asks
 * again is moved to the front (ask()).
 */
static struct job *
next_queued(struct lane *lane)
{
	struct job *newest = NULL;

	for (size_t i = 0; i < ACCOUNT_NAMES_QUEUE; i++)
		if (lane->jobs[i].state == JOB_QUEUED &&
		    (newest == NULL || lane->jobs[i].seq > newest->seq))
			newest = &lane->jobs[i];
	return newest;
}

static void *
resolver_main(void *arg)
{
	struct lane *lane = arg;
	struct account_names *n = lane->n;
	char name[CTL_USER_MAX + 1], asked[CTL_USER_MAX + 1];
	struct job_key k;
	struct job *j;
	ssize_t woke;
	int rc, last;

	pthread_mutex_lock(&n->mu);
	while (!n->stop) {
		if ((j = next_queued(lane)) == NULL) {
			pthread_cond_wait(&lane->work, &n->mu);
			continue;
		}
		j->state = JOB_RUNNING;
		memcpy(asked, j->asked, sizeof(asked));
		k = (struct job_key){ .by_name = j->by_name, .uid = j->uid, .asked = asked };
		pthread_mutex_unlock(&n->mu);
		rc = nss_lookup(&k, name, sizeof(name));
		pthread_mutex_lock(&n->mu);
		memcpy(j->name, name, sizeof(name));
		j->failed = rc < 0;
		j->unsure = rc > 0;
		j->state = JOB_DONE;
		n->lookups++;
		/* a full pipe (EAGAIN) is readable already: the loop will look */
		woke = write(n->pipe_wr, "", 1);
		(void)woke;
	}
	last = --n->alive == 0 && n->orphaned;
	pthread_mutex_unlock(&n->mu);
	if (last)
		destroy(n);	/* account_names_free left it to us */
	return NULL;
}

/*
 * A lane's resolver, on its first lookup: after the daemon's fork, with
 * signals left to the loop.  The pipe comes with the first.
 */
static int
start_resolver(struct lane *lane)
{
	struct account_names *n = lane->n;
	sigset_t all, was;
	int fds[2], started;

	if (lane->started)
		return 0;
	if (n->pipe_rd < 0) {
		if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0)
			return -1;
		n->pipe_rd = fds[0];
		n->pipe_wr = fds[1];
	}
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &was);
	pthread_mutex_lock(&n->mu);
	started = pthread_create(&lane->thread, NULL, resolver_main, lane) == 0;
	n->alive += started;
	pthread_mutex_unlock(&n->mu);
	pthread_sigmask(SIG_SETMASK, &was, NULL);
	if (!started)
		return -1;
	lane->started = 1;
	return 0;
}

_Static_assert(ACCOUNT_NAMES_SLOTS == 1 << 8, "slot_of takes the hash's top 8 bits");

/* Fibonacci hashing: consecutive uids (one site's accounts) spread out. */
static struct slot *
slot_of(struct account_names *n, uid_t uid)
{
	return &n->slots[(uint32_t)(uid * 2654435761u) >> 24];
}

static int
is_job_for(const struct job *j, const struct job_key *k)
{
	return j->by_name == k->by_name &&
	    (k->by_name ? strcmp(j->asked, k->asked) == 0 : j->uid == k->uid);
}

/*
 * Queues k's lookup in its lane, or says how the one out for it stands
 * (under mu).  A full queue gives the place of its oldest job still
 * queued once that is older than the wait: whoever asked for it was
 * answered busy already.  A job for k still queued after the wait is
 * asked anew: to the front.  One running that long is busy: the
 * directory is stuck on it.
 */
static enum account_name_state
ask(struct account_names *n, struct lane *lane, const struct job_key *k, int64_t now_ms)
{
	struct job *free_job = NULL, *stale = NULL;

	for (size_t i = 0; i < ACCOUNT_NAMES_QUEUE; i++) {
		struct job *j = &lane->jobs[i];

		if (j->state == JOB_FREE) {
			if (free_job == NULL)
				free_job = j;
		} else if (is_job_for(j, k)) {
			if (j->state == JOB_QUEUED && now_ms - j->asked_ms >= ACCOUNT_NAMES_WAIT_MS) {
				j->seq = n->next_seq++;
				j->asked_ms = now_ms;
			}
			return j->state == JOB_RUNNING && now_ms - j->asked_ms >= ACCOUNT_NAMES_WAIT_MS ?
			    ACCOUNT_NAME_BUSY : ACCOUNT_NAME_WAIT;
		} else if (j->state == JOB_QUEUED && now_ms - j->asked_ms >= ACCOUNT_NAMES_WAIT_MS &&
		    (stale == NULL || j->seq < stale->seq))
			stale = j;
	}
	if (free_job == NULL)
		free_job = stale;
	if (free_job == NULL)
		return ACCOUNT_NAME_BUSY;
	*free_job = (struct job){ .state = JOB_QUEUED, .by_name = k->by_name, .uid = k->uid,
	    .seq = n->next_seq++, .asked_ms = now_ms };
	if (k->by_name)
		snprintf(free_job->asked, sizeof(free_job->asked), "%s", k->asked);
	pthread_cond_signal(&lane->work);
	return ACCOUNT_NAME_WAIT;
}

/* Queues k's lookup unless it is out already: root's names in a lane of their own. */
static enum account_name_state
look_up(struct account_names *n, const struct job_key *k, int64_t now_ms)
{
	struct lane *lane = &n->lanes[k->by_name ? LANE_ROOT : LANE_CALLERS];
	enum account_name_state state;

	if (start_resolver(lane) != 0)
		return ACCOUNT_NAME_BUSY;
	pthread_mutex_lock(&n->mu);
	state = ask(n, lane, k, now_ms);
	pthread_mutex_unlock(&n->mu);
	return state;
}

/* A kept answer, while fresh (one kept for longer than any lifetime: a clock gone back). */
static enum account_name_state
answer_read(const struct answer *a, int64_t now_ms, char *out, size_t len)
{
	out[0] = '\0';
	if (!a->used || now_ms >= a->until_ms || a->until_ms - now_ms > ACCOUNT_NAMES_TTL_S * 1000)
		return ACCOUNT_NAME_WAIT;
	if (a->failed)
		return ACCOUNT_NAME_BUSY;
	if (a->unsure)
		return ACCOUNT_NAME_UNSURE;
	snprintf(out, len, "%s", a->name);
	return ACCOUNT_NAME_KNOWN;
}

static void
answer_keep(struct answer *a, const struct job *j, int64_t until_ms)
{
	*a = (struct answer){ .used = 1, .failed = j->failed, .unsure = j->unsure,
	    .until_ms = until_ms };
	memcpy(a->name, j->name, sizeof(a->name));
}

enum account_name_state
account_names_peek(struct account_names *n, uid_t uid, int64_t now_ms, char *out, size_t len)
{
	struct slot *s = slot_of(n, uid);

	enum account_name_state state = ACCOUNT_NAME_WAIT;

	out[0] = '\0';
	if (s->uid == uid)
		state = answer_read(&s->a, now_ms, out, len);
	/* a caller with no entry acts as no account: it is refused (fails closed) */
	return state == ACCOUNT_NAME_UNSURE ? ACCOUNT_NAME_KNOWN : state;
}

enum account_name_state
account_names_get(struct account_names *n, uid_t uid, int64_t now_ms, char *out, size_t len)
{
	enum account_name_state state = account_names_peek(n, uid, now_ms, out, len);

	if (state != ACCOUNT_NAME_WAIT)
		return state;
	return look_up(n, &(struct job_key){ .uid = uid }, now_ms);
}

static struct account_slot *
account_slot_of(struct account_names *n, const char *asked)
{
	for (size_t i = 0; i < ACCOUNT_NAMES_BY_NAME_SLOTS; i++)
		if (n->accounts[i].a.used && strcmp(n->accounts[i].asked, asked) == 0)
			return &n->accounts[i];
	return NULL;
}

/* Where an answer for a name goes: its own slot, else a free one, else the one kept first. */
static struct account_slot *
account_slot_for(struct account_names *n, const char *asked)
{
	struct account_slot *s = account_slot_of(n, asked), *oldest = &n->accounts[0];

	if (s != NULL)
		return s;
	for (size_t i = 0; i < ACCOUNT_NAMES_BY_NAME_SLOTS; i++) {
		if (!n->accounts[i].a.used)
			return &n->accounts[i];
		if (n->accounts[i].written < oldest->written)
			oldest = &n->accounts[i];
	}
	return oldest;
}

enum account_name_state
account_names_get_account(struct account_names *n, const char *asked, int64_t now_ms,
    char *out, size_t len)
{
	struct account_slot *s = account_slot_of(n, asked);
	enum account_name_state state;

	out[0] = '\0';
	if (s != NULL && (state = answer_read(&s->a, now_ms, out, len)) != ACCOUNT_NAME_WAIT)
		return state;
	return look_up(n, &(struct job_key){ .by_name = 1, .asked = asked }, now_ms);
}

int
account_names_poll_fd(const struct account_names *n)
{
	return n->pipe_rd;
}

/* Keeps a done job's answer (under mu): a uid's name, or what a name gave */
static void
keep_answer(struct account_names *n, struct job *j, int64_t now_ms)
{
	struct account_slot *a;
	struct slot *s;

	if (j->by_name) {
		/* found: as long as a uid's name; none or failed: briefly */
		int found = !j->failed && j->name[0] != '\0';

		a = account_slot_for(n, j->asked);
		answer_keep(&a->a, j, now_ms + (found ? ACCOUNT_NAMES_TTL_S * 1000 :
		    ACCOUNT_NAMES_BY_NAME_TTL_MS));
		a->written = ++n->accounts_written;
		memcpy(a->asked, j->asked, sizeof(a->asked));
		return;
	}
	s = slot_of(n, j->uid);
	answer_keep(&s->a, j, now_ms +
	    (j->failed ? ACCOUNT_NAMES_ERROR_TTL_S : ACCOUNT_NAMES_TTL_S) * 1000);
	s->uid = j->uid;
}

size_t
account_names_collect(struct account_names *n, int64_t now_ms)
{
	char drain[64];
	size_t got = 0;

	if (n->pipe_rd < 0)
		return 0;
	while (read(n->pipe_rd, drain, sizeof(drain)) > 0)
		;
	pthread_mutex_lock(&n->mu);
	for (int l = 0; l < LANES; l++)
		for (size_t i = 0; i < ACCOUNT_NAMES_QUEUE; i++) {
			struct job *j = &n->lanes[l].jobs[i];

			if (j->state != JOB_DONE)
				continue;
			keep_answer(n, j, now_ms);
			j->state = JOB_FREE;
			got++;
		}
	pthread_mutex_unlock(&n->mu);
	return got;
}

uint64_t
account_names_lookups(struct account_names *n)
{
	uint64_t got;

	pthread_mutex_lock(&n->mu);
	got = n->lookups;
	pthread_mutex_unlock(&n->mu);
	return got;
}
