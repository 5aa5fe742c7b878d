/*
 * A test NSS module that behaves like a slow directory (LDAP through
 * nss-pam-ldapd, no nscd in front): each answer it gives, found or not,
 * takes NSS_SLOW_MS milliseconds (default 300).  Loaded by nss_wrapper
 * (NSS_WRAPPER_MODULE_SO_PATH, NSS_WRAPPER_MODULE_FN_PREFIX=slow), after
 * nss_wrapper's own files, for tests/daemon/test_availability.py; never
 * installed.
 *
 * Accounts: "dir-N" (N = 0..999) is uid 71000 + N; the directory finds
 * it by any case ("DIR-7" is dir-7), as SSSD and winbind do.  Uids 72000..72999 are
 * searched for and not found, as slowly, as are names "dir-N" past 999;
 * for uids 73000..73999 and names "broken-..." the directory fails, as
 * slowly (UNAVAIL, EIO); for names "gone-..." it is unavailable with
 * ENOENT, as nss-pam-ldapd says it when nslcd is down (glibc hands
 * getpwnam_r's caller that ENOENT, which getpwnam_r(3) also allows for
 * "not found").  Any other name or uid is not
 * found at once: those are the files' (root, the test users), which must
 * stay as fast as they are.
 */
#include <errno.h>
#include <nss.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <time.h>

#define DIR_UID_BASE	71000
#define MISSING_UID_BASE 72000
#define FAILING_UID_BASE 73000
#define ROWS		1000

enum nss_status _nss_slow_getpwnam_r(const char *, struct passwd *, char *, size_t, int *);
enum nss_status _nss_slow_getpwuid_r(uid_t, struct passwd *, char *, size_t, int *);

/* The directory's round trip. */
static void
directory_wait(void)
{
	const char *env = getenv("NSS_SLOW_MS");
	long ms = env != NULL ? strtol(env, NULL, 10) : 300;
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static enum nss_status
fill(unsigned n, struct passwd *pw, char *buf, size_t len, int *errnop)
{
	int w = snprintf(buf, len, "dir-%u%cx%c%c/nonexistent%c/bin/false", n, 0, 0, 0, 0);
	size_t name_len = strlen(buf);

	if (w < 0 || (size_t)w >= len) {
		*errnop = ERANGE;
		return NSS_STATUS_TRYAGAIN;
	}
	*pw = (struct passwd){ .pw_uid = DIR_UID_BASE + n, .pw_gid = DIR_UID_BASE + n };
	pw->pw_name = buf;
	pw->pw_passwd = buf + name_len + 1;
	pw->pw_gecos = pw->pw_passwd + 2;
	pw->pw_dir = pw->pw_gecos + 1;
	pw->pw_shell = pw->pw_dir + strlen(pw->pw_dir) + 1;
	return NSS_STATUS_SUCCESS;
}

static enum nss_status
not_found(int *errnop)
{
	*errnop = ENOENT;
	return NSS_STATUS_NOTFOUND;
}

enum nss_status
_nss_slow_getpwnam_r(const char *name, struct passwd *pw, char *buf, size_t len,
    int *errnop)
{
	char *end;
	unsigned long n;

	if (name != NULL && strncmp(name, "broken-", 7) == 0) {
		directory_wait();
		*errnop = EIO;
		return NSS_STATUS_UNAVAIL;
	}
	/* nss-pam-ldapd with nslcd down: its socket is not there */
	if (name != NULL && strncmp(name, "gone-", 5) == 0) {
		directory_wait();
		*errnop = ENOENT;
		return NSS_STATUS_UNAVAIL;
	}
	if (name == NULL || strncasecmp(name, "dir-", 4) != 0)
		return not_found(errnop);
	directory_wait();
	n = strtoul(name + 4, &end, 10);
	if (end == name + 4 || *end != '\0' || n >= ROWS)
		return not_found(errnop);
	return fill((unsigned)n, pw, buf, len, errnop);
}

enum nss_status
_nss_slow_getpwuid_r(uid_t uid, struct passwd *pw, char *buf, size_t len, int *errnop)
{
	if (uid >= DIR_UID_BASE && uid < DIR_UID_BASE + ROWS) {
		directory_wait();
		return fill(uid - DIR_UID_BASE, pw, buf, len, errnop);
	}
	if (uid >= MISSING_UID_BASE && uid < MISSING_UID_BASE + ROWS)
		directory_wait();
	if (uid >= FAILING_UID_BASE && uid < FAILING_UID_BASE + ROWS) {
		directory_wait();
		*errnop = EIO;
		return NSS_STATUS_UNAVAIL;
	}
	return not_found(errnop);
}
