/* See share.h: token buckets of loop time, open while the loop has time to spare. */
#include "share.h"

void
share_init(struct share *s, int64_t now_us)
{
	*s = (struct share){ .window_us = now_us };
	for (int i = 0; i < SHARE_WHO; i++)
		s->bucket[i] = (struct share_bucket){ SHARE_BURST_US, now_us };
}

void
share_turn(struct share *s, int64_t now_us, int64_t busy_us)
{
	int64_t other = busy_us - s->read_us, span = now_us - s->window_us;

	s->read_us = 0;
	s->other_us += other > 0 ? other : 0;
	if (span < SHARE_WINDOW_US)
		return;
	s->busy_percent = (int)(s->other_us * 100 / span);
	s->window_us = now_us;
	s->other_us = 0;
}

static void
refill(struct share_bucket *b, int64_t now_us)
{
	int64_t grown;

	if (now_us <= b->refilled_us)
		return;
	grown = (now_us - b->refilled_us) * SHARE_PERCENT / 100;
	/* the time turned into tokens, not more: no rounding is lost */
	b->refilled_us += grown * 100 / SHARE_PERCENT;
	b->tokens_us += grown;
	if (b->tokens_us >= SHARE_BURST_US) {
		b->tokens_us = SHARE_BURST_US;
		b->refilled_us = now_us;
	}
}

int64_t
share_wait_us(struct share *s, enum share_who who, int64_t now_us)
{
	struct share_bucket *b = &s->bucket[who];

	refill(b, now_us);
	if (s->busy_percent < SHARE_BUSY_PERCENT) {
		/* time to spare: nothing to yield to, and no debt for later */
		b->tokens_us = SHARE_BURST_US;
		b->refilled_us = now_us;
		return 0;
	}
	if (b->tokens_us >= 0)
		return 0;
	/* until the budget is above zero again, at SHARE_PERCENT of real time */
	s->held++;
	return (-b->tokens_us * 100 + SHARE_PERCENT - 1) / SHARE_PERCENT;
}

void
share_charge(struct share *s, enum share_who who, int64_t spent_us)
{
	struct share_bucket *b = &s->bucket[who];

	if (spent_us <= 0)
		return;
	s->read_us += spent_us;
	b->tokens_us -= spent_us;
	if (b->tokens_us < -SHARE_MAX_DEBT_US)
		b->tokens_us = -SHARE_MAX_DEBT_US;
}
