/* See share.h: a token bucket of loop time, open while the loop has time to spare. */
#include "share.h"

void
share_init(struct share *s, int64_t now_us)
{
	*s = (struct share){ .tokens_us = SHARE_BURST_US, .refilled_us = now_us,
	    .window_us = now_us };
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
refill(struct share *s, int64_t now_us)
{
	int64_t grown;

	if (now_us <= s->refilled_us)
		return;
	grown = (now_us - s->refilled_us) * SHARE_PERCENT / 100;
	s->tokens_us = s->tokens_us + grown > SHARE_BURST_US ? SHARE_BURST_US :
	    s->tokens_us + grown;
	s->refilled_us = now_us;
}

int64_t
share_wait_us(struct share *s, int64_t now_us)
{
	refill(s, now_us);
	if (s->busy_percent < SHARE_BUSY_PERCENT) {
		/* time to spare: nothing to yield to, and no debt for later */
		s->tokens_us = SHARE_BURST_US;
		return 0;
	}
	if (s->tokens_us >= 0)
		return 0;
	/* until the budget is above zero again, at SHARE_PERCENT of real time */
	s->held++;
	return (-s->tokens_us * 100) / SHARE_PERCENT + 1;
}

void
share_charge(struct share *s, int64_t spent_us)
{
	if (spent_us <= 0)
		return;
	s->read_us += spent_us;
	s->tokens_us -= spent_us;
	if (s->tokens_us < -SHARE_MAX_DEBT_US)
		s->tokens_us = -SHARE_MAX_DEBT_US;
}
