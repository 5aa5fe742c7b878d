#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prompt.h"

/*
 * The first line, naming the server as the page does (ssh's own
 * "(user@host)" prefix names it as the client typed it: "localhost" for
 * a page that says "vm").
 */
static char *
heading(const struct prompt_args *a)
{
	char *s;
	int host = a->host != NULL && a->host[0] != '\0';

	if (a->kind == PROMPT_REGISTER) {
		if (asprintf(&s, "Register a passkey for this account%s%s:", host ? " on " : "",
		    host ? a->host : "") == -1)
			return NULL;
	} else if (asprintf(&s, "Approve this login%s%s with your passkey:", host ? " to " : "",
	    host ? a->host : "") == -1)
		return NULL;
	return s;
}

static const char *
verb(enum prompt_kind k)
{
	return k == PROMPT_REGISTER ? "registering" : "approving";
}

char *
prompt_first(const struct prompt_args *a)
{
	char *s, *head = heading(a);

	if (head == NULL)
		return NULL;
	if (asprintf(&s, "%s\n%s%s\ncode: %s\nPress Enter after %s (expires in %ld s): ",
	    head, a->qr != NULL ? a->qr : "", a->url, a->code,
	    verb(a->kind), a->seconds) == -1)
		s = NULL;
	free(head);
	return s;
}

char *
prompt_info(const struct prompt_args *a)
{
	char *s, *head = heading(a);

	if (head == NULL)
		return NULL;
	/*
	 * The link before the QR code: an ssh client before 10.3 prints this
	 * through its logger, escapes the QR code's UTF-8 (four bytes for one)
	 * and keeps 1024 bytes: what comes first must be what is needed.
	 */
	if (asprintf(&s, "%s\n%s\ncode: %s\nWaiting for your %s (expires in %ld s)...%s%s",
	    head, a->url, a->code, a->kind == PROMPT_REGISTER ? "registration" : "approval",
	    a->seconds, a->qr != NULL ? "\n" : "", a->qr != NULL ? a->qr : "") == -1)
		s = NULL;
	free(head);
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

char *
prompt_held(const char *line)
{
	char *s;

	if (asprintf(&s, "%s\nPress Enter to continue: ", line) == -1)
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
