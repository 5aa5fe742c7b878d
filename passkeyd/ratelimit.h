/*
 * Token buckets: what an unprivileged or unauthenticated party may make
 * the daemon do per second.  A bucket holds up to `burst` tokens and
 * refills at `per_second`; an action takes one token or is refused and
 * counted (suppressed), so a flood costs the daemon a comparison, not the
 * work it asked for.
 */
#ifndef PASSKEYD_RATELIMIT_H
#define PASSKEYD_RATELIMIT_H

#include <stdint.h>
#include <sys/types.h>

struct rate {
	double tokens;
	int64_t last_ms;	/* 0: never used, starts full */
	uint64_t suppressed;	/* refusals since the counter was last taken */
};

struct rate_rule {
	double per_second;
	double burst;
};

/* 1: allowed (a token taken); 0: refused (counted in r->suppressed). */
int rate_take(struct rate *r, const struct rate_rule *rule, int64_t now_ms);

/*
 * Buckets per (uid, class) for the control socket, in a bounded table:
 * when it is full the least recently used bucket is reused, which can
 * only reset some account's bucket to full, never take one from root
 * (root is not limited).
 */
#define RATE_TABLE_SLOTS	1024
#define RATE_CLASSES		4

struct rate_table;

struct rate_table *rate_table_new(void);
void rate_table_free(struct rate_table *t);
int rate_table_take(struct rate_table *t, uid_t uid, unsigned cls,
    const struct rate_rule *rule, int64_t now_ms);

#endif
