/*
 * What text in the control protocol may look like (PROTOCOL.md).  One
 * definition for the daemon, the PAM module and the CLI, so that no side
 * accepts what another refuses, and nothing the daemon sends can drive a
 * terminal when a client prints it.
 */
#ifndef CTL_TEXT_H
#define CTL_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#define CTL_USER_MAX	64
#define CTL_URL_MAX	2048
#define CTL_CODE_MAX	32
/* `enroll`'s expires_in: a minute to 30 days (the CLI checks the same) */
#define CTL_ENROLL_MIN_EXPIRES	60
#define CTL_ENROLL_MAX_EXPIRES	(30L * 86400)

/*
 * A user name: 1..CTL_USER_MAX bytes of text that is safe to show
 * (common/text.h: valid UTF-8, no control or bidi characters), no '/'.
 */
bool ctl_user_name_valid(const char *name);
/* A URL safe to print: 1..CTL_URL_MAX bytes of printable ASCII, no space. */
bool ctl_url_ok(const char *s);
/* 1..max bytes of [A-Za-z0-9_-]: tokens, codes, error and reason codes. */
bool ctl_word_ok(const char *s, size_t max);
/* 1..max bytes of [A-Za-z0-9.-], not starting with '.' or '-': a host name to show. */
bool ctl_host_ok(const char *s, size_t max);
/*
 * name is host, whole or as the short name of a full one, in any case;
 * never a first label alone ("srv.attacker.example" is not "srv").  Both
 * the module (PAM_RHOST against gethostname) and passkeyd (against its
 * hostname) ask it, so that they agree.
 */
bool ctl_names_host(const char *name, const char *host);
/*
 * A terminal's name as PAM_TTY gives it, "/dev/" left off: 1..CTL_TTY_MAX
 * bytes of [A-Za-z0-9/._:-] ("pts/7", "tty1", ":0").
 */
#define CTL_TTY_MAX	32
bool ctl_tty_ok(const char *s);

#endif
