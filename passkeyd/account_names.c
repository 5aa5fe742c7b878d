/*
 * The account names of unprivileged control callers: looked up by a
 * resolver thread, kept per uid (account_names.h says why).
 *
 * The loop owns the table of answers (slots) alone.  The jobs are shared
 * with the resolver under mu: the loop queues a job and frees it once
 * done; the resolver takes the newest queued one, looks it up without
 * the lock, and writes a byte to the pipe when it is done.  A running job
 * is never freed, so the resolver's pointer to it stays good.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "account_names.h"
#include "ctl_text.h"

#define LOOKUP_BUF	16384	/* a directory entry with a long gecos fits */

struct slot {
	int used;
	int failed;			/* NSS failed: busy until it is asked again */
	uid_t uid;
	int64_t until_ms;		/* fresh before this */
	char name[CTL_USER_MAX + 1];	/* "" when it has none */
};

enum job_state { JOB_FREE, JOB_QUEUED, JOB_RUNNING, JOB_DONE };

struct job {
	enum job_state state;
	uid_t uid;
	uint64_t seq;			/* the queue's order */
	int64_t asked_ms;
	int failed;			/* NSS failed: not "no such account" */
	char name[CTL_USER_MAX + 1];
};

struct account_names {
	struct slot slots[ACCOUNT_NAMES_SLOTS];
	pthread_mutex_t mu;
	pthread_cond_t work;
	struct job jobs[ACCOUNT_NAMES_QUEUE];	/* under mu */
	uint64_t next_seq;
	uint64_t lookups;			/* under mu */
	int stop;				/* under mu */
	int started;
	pthread_t thread;
	int pipe_rd, pipe_wr;
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
	if (pthread_cond_init(&n->work, NULL) != 0) {
		pthread_mutex_destroy(&n->mu);
		free(n);
		return NULL;
	}
	n->pipe_rd = n->pipe_wr = -1;
	return n;
}

void
account_names_free(struct account_names *n)
{
	if (n == NULL)
		return;
	if (n->started) {
		pthread_mutex_lock(&n->mu);
		n->stop = 1;
		pthread_cond_signal(&n->work);
		pthread_mutex_unlock(&n->mu);
		pthread_join(n->thread, NULL);
		close(n->pipe_rd);
		close(n->pipe_wr);
	}
	pthread_cond_destroy(&n->work);
	pthread_mutex_destroy(&n->mu);
	free(n);
}

/*
 * 0 with the name, or "" when there is no such account (getpwuid_r(3):
 * modules say so with 0, ENOENT or ESRCH); -1 when NSS failed.
 */
static int
nss_name(uid_t uid, char *out, size_t len)
{
	struct passwd pw, *res = NULL;
	char buf[LOOKUP_BUF];
	int rc;

	out[0] = '\0';
	rc = getpwuid_r(uid, &pw, buf, sizeof(buf), &res);
	if (rc == 0 && res != NULL && ctl_user_name_valid(res->pw_name))
		snprintf(out, len, "%s", res->pw_name);
	return rc == 0 || rc == ENOENT || rc == ESRCH ? 0 : -1;
}

void
account_name_lookup(uid_t uid, char *out, size_t len)
{
	(void)nss_name(uid, out, len);
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
next_queued(struct account_names *n)
{
	struct job *newest = NULL;

	for (size_t i = 0; i < ACCOUNT_NAMES_QUEUE; i++)
		if (n->jobs[i].state == JOB_QUEUED &&
		    (newest == NULL || n->jobs[i].seq > newest->seq))
			newest = &n->jobs[i];
	return newest;
}

static void *
resolver_main(void *arg)
{
	struct account_names *n = arg;
	char name[CTL_USER_MAX + 1];
	struct job *j;
	ssize_t woke;
	uid_t uid;
	int rc;

	pthread_mutex_lock(&n->mu);
	while (!n->stop) {
		if ((j = next_queued(n)) == NULL) {
			pthread_cond_wait(&n->work, &n->mu);
			continue;
		}
		j->state = JOB_RUNNING;
		uid = j->uid;
		pthread_mutex_unlock(&n->mu);
		rc = nss_name(uid, name, sizeof(name));
		pthread_mutex_lock(&n->mu);
		memcpy(j->name, name, sizeof(name));
		j->failed = rc != 0;
		j->state = JOB_DONE;
		n->lookups++;
		/* a full pipe (EAGAIN) is readable already: the loop will look */
		woke = write(n->pipe_wr, "", 1);
		(void)woke;
	}
	pthread_mutex_unlock(&n->mu);
	return NULL;
}

/* The resolver, on the first lookup: after the daemon's fork, with signals left to the loop. */
static int
start_resolver(struct account_names *n)
{
	sigset_t all, was;
	int fds[2], started;

	if (n->started)
		return 0;
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0)
		return -1;
	n->pipe_rd = fds[0];
	n->pipe_wr = fds[1];
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &was);
	started = pthread_create(&n->thread, NULL, resolver_main, n) == 0;
	pthread_sigmask(SIG_SETMASK, &was, NULL);
	if (!started) {
		close(fds[0]);
		close(fds[1]);
		n->pipe_rd = n->pipe_wr = -1;
		return -1;
	}
	n->started = 1;
	return 0;
}

_Static_assert(ACCOUNT_NAMES_SLOTS == 1 << 8, "slot_of takes the hash's top 8 bits");

/* Fibonacci hashing: consecutive uids (one site's accounts) spread out. */
static struct slot *
slot_of(struct account_names *n, uid_t uid)
{
	return &n->slots[(uint32_t)(uid * 2654435761u) >> 24];
}

/*
 * Queues uid's lookup, or says how the one out for it stands (under mu).
 * A full queue gives the place of its oldest job still queued once that
 * is older than the wait: whoever asked for it was answered busy already.
 * A job of uid's still queued after the wait is asked anew: to the front.
 * One running that long is busy: the directory is stuck on it.
 */
static enum account_name_state
ask(struct account_names *n, uid_t uid, int64_t now_ms)
{
	struct job *free_job = NULL, *stale = NULL;

	for (size_t i = 0; i < ACCOUNT_NAMES_QUEUE; i++) {
		struct job *j = &n->jobs[i];

		if (j->state == JOB_FREE) {
			if (free_job == NULL)
				free_job = j;
		} else if (j->uid == uid && j->state == JOB_QUEUED &&
		    now_ms - j->asked_ms >= ACCOUNT_NAMES_WAIT_MS) {
			j->seq = n->next_seq++;
			j->asked_ms = now_ms;
			return ACCOUNT_NAME_WAIT;
		} else if (j->uid == uid)
			return j->state == JOB_RUNNING && now_ms - j->asked_ms >= ACCOUNT_NAMES_WAIT_MS ?
			    ACCOUNT_NAME_BUSY : ACCOUNT_NAME_WAIT;
		else if (j->state == JOB_QUEUED && now_ms - j->asked_ms >= ACCOUNT_NAMES_WAIT_MS &&
		    (stale == NULL || j->seq < stale->seq))
			stale = j;
	}
	if (free_job == NULL)
		free_job = stale;
	if (free_job == NULL)
		return ACCOUNT_NAME_BUSY;
	*free_job = (struct job){ .state = JOB_QUEUED, .uid = uid, .seq = n->next_seq++,
	    .asked_ms = now_ms };
	pthread_cond_signal(&n->work);
	return ACCOUNT_NAME_WAIT;
}

enum account_name_state
account_names_peek(struct account_names *n, uid_t uid, int64_t now_ms, char *out, size_t len)
{
	struct slot *s = slot_of(n, uid);

	out[0] = '\0';
	if (!s->used || s->uid != uid || now_ms >= s->until_ms ||
	    s->until_ms - now_ms > ACCOUNT_NAMES_TTL_S * 1000)
		return ACCOUNT_NAME_WAIT;
	if (s->failed)
		return ACCOUNT_NAME_BUSY;
	snprintf(out, len, "%s", s->name);
	return ACCOUNT_NAME_KNOWN;
}

enum account_name_state
account_names_get(struct account_names *n, uid_t uid, int64_t now_ms, char *out, size_t len)
{
	enum account_name_state state = account_names_peek(n, uid, now_ms, out, len);

	if (state != ACCOUNT_NAME_WAIT)
		return state;
	if (start_resolver(n) != 0)
		return ACCOUNT_NAME_BUSY;
	pthread_mutex_lock(&n->mu);
	state = ask(n, uid, now_ms);
	pthread_mutex_unlock(&n->mu);
	return state;
}

int
account_names_poll_fd(const struct account_names *n)
{
	return n->started ? n->pipe_rd : -1;
}

size_t
account_names_collect(struct account_names *n, int64_t now_ms)
{
	char drain[64];
	size_t got = 0;

	if (!n->started)
		return 0;
	while (read(n->pipe_rd, drain, sizeof(drain)) > 0)
		;
	pthread_mutex_lock(&n->mu);
	for (size_t i = 0; i < ACCOUNT_NAMES_QUEUE; i++) {
		struct job *j = &n->jobs[i];
		struct slot *s;

		if (j->state != JOB_DONE)
			continue;
		s = slot_of(n, j->uid);
		*s = (struct slot){ .used = 1, .failed = j->failed, .uid = j->uid,
		    .until_ms = now_ms +
		    (j->failed ? ACCOUNT_NAMES_ERROR_TTL_S : ACCOUNT_NAMES_TTL_S) * 1000 };
		memcpy(s->name, j->name, sizeof(s->name));
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
