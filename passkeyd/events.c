/*
 * Events go to two places: the daemon's log (stderr under systemd or in
 * the foreground, else syslog) for operators, and the store's audit log
 * for `passkeyctl events`.  Values in log lines are escaped so that a user
 * name or address cannot forge a second field or line.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "passkeyd.h"

static void
escape(char *out, size_t outlen, const char *in)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (in == NULL || *in == '\0')
		in = "-";
	for (; *in && o + 5 < outlen; in++) {
		unsigned char ch = (unsigned char)*in;
		if (ch > 0x20 && ch < 0x7f && ch != '=' && ch != '\\') {
			out[o++] = (char)ch;
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	out[o] = '\0';
}

void
daemon_log(struct passkeyd *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (d != NULL && d->log_to_syslog) {
		vsyslog(LOG_AUTHPRIV | LOG_INFO, fmt, ap);
	} else {
		fputs("passkeyd: ", stderr);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		fflush(stderr);
	}
	va_end(ap);
}

void
event_log(struct passkeyd *d, const char *event, const char *user,
    const char *rhost, const char *verdict, const char *reason,
    const struct ceremony *c, const char *detail)
{
	char u[4 * 64 + 8], h[4 * 255 + 8], sv[4 * 64 + 8], r[128], tok[8] = "-";
	struct store_event ev;
	store_err_t err;

	escape(u, sizeof(u), user);
	escape(h, sizeof(h), rhost);
	escape(r, sizeof(r), reason);
	escape(sv, sizeof(sv), c ? c->service : NULL);
	/* enough of the token to correlate lines, too little to use it */
	if (c != NULL)
		snprintf(tok, sizeof(tok), "%.6s", c->token);
	daemon_log(d, "event=%s user=%s rhost=%s service=%s verdict=%s reason=%s token=%s",
	    event, u, h, sv, verdict, r, tok);
	if (d->store == NULL)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.time = (int64_t)time(NULL);
	ev.event = event;
	ev.user = user;
	ev.addr = rhost;
	ev.verdict = verdict;
	ev.reason = reason;
	ev.detail = detail;
	if ((err = store_event_add(d->store, &ev)) != STORE_OK)
		daemon_log(d, "audit log write failed: %s", store_err_str(err));
}
