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
/* A longer host name is left out of the heading, which must stay one line. */
#define PROMPT_HOST_MAX		24

enum prompt_kind {
	PROMPT_LOGIN,
	PROMPT_REGISTER,
};

struct prompt_args {
	enum prompt_kind kind;
	const char *url;	/* checked with ctl_url_ok() */
	const char *code;	/* checked with ctl_word_ok() */
	const char *qr;		/* qr_render() output, or NULL */
	const char *host;	/* the server the page names (ctl_host_ok), or NULL */
	long seconds;		/* until the module gives up */
};

/* The first prompt: heading, QR code, URL, code, "Press Enter". */
char *prompt_first(const struct prompt_args *a);
/* Each later one: "Not approved yet", URL, code, "Press Enter". */
char *prompt_again(const struct prompt_args *a);
/*
 * flow=info: the heading, URL, code and "Waiting for your approval
 * (expires in N s)..." as one info text, the QR code last: sshd 10.3 and
 * later send it at once, and the module waits with no prompt.  (An older
 * ssh client prints info text through its logger, escaping non-ASCII and
 * keeping 1024 bytes: the QR code there is noise, cut short after the
 * link.)
 */
char *prompt_info(const struct prompt_args *a);

/*
 * How a ceremony ended (denied, failed, expired...), as a prompt of its
 * own: sshd 9.2 shows pam_error() text only with the next prompt, and the
 * next attempt's prompt (up to 23 lines) would scroll it off an 80x24
 * terminal at once.  A prompt stays until the user presses Enter.
 */
char *prompt_held(const char *line);

/* Lines left for a QR code in the first prompt for this URL (may be <= 0). */
int prompt_qr_lines(const char *url);

#endif /* PK_PROMPT_H */
