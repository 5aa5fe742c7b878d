#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prompt.h"

static const char *
heading(enum prompt_kind k)
{
	return k == PROMPT_REGISTER ? "Register a passkey for this account:" :
	    "Approve this login with your passkey:";
}

static const char *
verb(enum prompt_kind k)
{
	return k == PROMPT_REGISTER ? "registering" : "approving";
}

char *
prompt_first(const struct prompt_args *a)
{
	char *s;

	if (asprintf(&s, "%s\n%s%s\ncode: %s\nPress Enter after %s (expires in %ld s): ",
	    heading(a->kind), a->qr != NULL ? a->qr : "", a->url, a->code,
	    verb(a->kind), a->seconds) == -1)
		return NULL;
	return s;
}

char *
prompt_again(const struct prompt_args *a)
{
	char *s;

	if (asprintf(&s, "%s Open this link and %s with your passkey:\n%s\n"
	    "code: %s\nPress Enter after %s (%ld s left): ",
	    a->kind == PROMPT_REGISTER ? "Not registered yet." : "Not approved yet.",
	    a->kind == PROMPT_REGISTER ? "register" : "approve",
	    a->url, a->code, verb(a->kind), a->seconds) == -1)
		return NULL;
	return s;
}

int
prompt_qr_lines(const char *url)
{
	size_t n = strlen(url);
	int url_lines = n == 0 ? 1 : (int)((n + PROMPT_COLUMNS - 1) / PROMPT_COLUMNS);

	/* heading, URL (wrapped by the terminal), code, "Press Enter" */
	return PROMPT_MAX_LINES - 3 - url_lines;
}
