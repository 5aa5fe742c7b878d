/*
 * The text pam_passkey shows (what the daemon sends is checked first, with
 * control/ctl_text.h).  Pure functions: unit-tested.
 *
 * Layout rules (sshd 9.2 shows nothing but prompts while the module
 * waits, so everything is in one PAM_PROMPT_ECHO_ON prompt):
 * - the first line is a heading, because ssh prefixes "(user@host) " to
 *   it, which would shear a QR code placed there;
 * - the URL has a line of its own, so it can be copied or clicked;
 * - the whole first prompt fits in PROMPT_MAX_LINES lines of
 *   PROMPT_COLUMNS columns (an 80x24 terminal, one line for the command
 *   that started ssh); the QR code is left out when it would not.
 */
#ifndef PK_PROMPT_H
#define PK_PROMPT_H

#include <stddef.h>

#define PROMPT_COLUMNS		80
#define PROMPT_MAX_LINES	23

enum prompt_kind {
	PROMPT_LOGIN,
	PROMPT_REGISTER,
};

struct prompt_args {
	enum prompt_kind kind;
	const char *url;	/* checked with ctl_url_ok() */
	const char *code;	/* checked with ctl_word_ok() */
	const char *qr;		/* qr_render() output, or NULL */
	long seconds;		/* until the module gives up */
};

/* The first prompt: heading, QR code, URL, code, "Press Enter". */
char *prompt_first(const struct prompt_args *a);
/* Each later one: "Not approved yet", URL, code, "Press Enter". */
char *prompt_again(const struct prompt_args *a);

/* Lines left for a QR code in the first prompt for this URL (may be <= 0). */
int prompt_qr_lines(const char *url);

#endif /* PK_PROMPT_H */
