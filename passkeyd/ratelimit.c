#include <stdlib.h>

#include "ratelimit.h"

int
rate_take(struct rate *r, const struct rate_rule *rule, int64_t now_ms)
{
	if (r->last_ms == 0) {
		r->tokens = rule->burst;
	} else if (now_ms > r->last_ms) {
		r->tokens += (double)(now_ms - r->last_ms) * rule->per_second / 1000.0;
		if (r->tokens > rule->burst)
			r->tokens = rule->burst;
	}
	r->last_ms = now_ms > 0 ? now_ms : 1;
	if (r->tokens >= 1.0) {
		r->tokens -= 1.0;
		return 1;
	}
	r->suppressed++;
	return 0;
}

struct slot {
	uid_t uid;
	int used;
	struct rate bucket[RATE_CLASSES];
	int64_t last_ms;
};

struct rate_table {
	struct slot slot[RATE_TABLE_SLOTS];
};

struct rate_table *
rate_table_new(void)
{
	return calloc(1, sizeof(struct rate_table));
}

void
rate_table_free(struct rate_table *t)
{
	free(t);
}

#define PROBES 8

/* The uid's slot: found, free, or the stalest of the probed ones. */
static struct slot *
slot_of(struct rate_table *t, uid_t uid)
{
	unsigned h = (unsigned)uid * 2654435761u;
	struct slot *stalest = NULL;

	for (unsigned i = 0; i < PROBES; i++) {
		struct slot *s = &t->slot[(h + i) % RATE_TABLE_SLOTS];

		if (s->used && s->uid == uid)
			return s;
		if (!s->used || stalest == NULL || (stalest->used && s->last_ms < stalest->last_ms))
			stalest = s;
	}
	*stalest = (struct slot){ .uid = uid, .used = 1 };
	return stalest;
}

int
rate_table_take(struct rate_table *t, uid_t uid, unsigned cls,
    const struct rate_rule *rule, int64_t now_ms)
{
	struct slot *s;

	if (cls >= RATE_CLASSES)
		return 0;
	s = slot_of(t, uid);
	s->last_ms = now_ms;
	return rate_take(&s->bucket[cls], rule, now_ms);
}
