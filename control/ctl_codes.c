#include <string.h>

#include "ctl_codes.h"

static const struct {
	const char *code;
	const char *text;
} refusals[] = {
#define CTL_REFUSAL_ROW(sym, code, text) { code, text },
	CTL_REFUSAL_LIST(CTL_REFUSAL_ROW)
#undef CTL_REFUSAL_ROW
};

static const struct {
	const char *name;
	int final;
} states[] = {
#define CTL_STATE_ROW(sym, name, final) { name, final },
	CTL_STATE_LIST(CTL_STATE_ROW)
#undef CTL_STATE_ROW
};

const char *
ctl_refusal_code(enum ctl_refusal r)
{
	if ((unsigned)r >= CTL_REFUSAL__COUNT)
		r = CTL_REFUSAL_INTERNAL_ERROR;
	return refusals[r].code;
}

const char *
ctl_refusal_text(enum ctl_refusal r)
{
	if ((unsigned)r >= CTL_REFUSAL__COUNT)
		r = CTL_REFUSAL_INTERNAL_ERROR;
	return refusals[r].text;
}

enum ctl_refusal
ctl_refusal_from_code(const char *code)
{
	for (unsigned i = 0; code != NULL && i < CTL_REFUSAL__COUNT; i++)
		if (strcmp(refusals[i].code, code) == 0)
			return (enum ctl_refusal)i;
	return CTL_REFUSAL__COUNT;
}

json_t *
ctl_refusal_json(enum ctl_refusal r)
{
	return json_pack("{s:b, s:s, s:s}", "ok", 0, "error", ctl_refusal_code(r),
	    "message", ctl_refusal_text(r));
}

const char *
ctl_state_name(enum ctl_state s)
{
	return (unsigned)s < CTL_STATE__COUNT ? states[s].name : "unknown";
}

enum ctl_state
ctl_state_from_name(const char *name)
{
	for (unsigned i = 0; name != NULL && i < CTL_STATE__COUNT; i++)
		if (strcmp(states[i].name, name) == 0)
			return (enum ctl_state)i;
	return CTL_STATE__COUNT;
}

int
ctl_state_is_final(enum ctl_state s)
{
	return (unsigned)s < CTL_STATE__COUNT && states[s].final;
}
