/*
 * A test NSS module that behaves like a case-insensitive directory (SSSD,
 * winbind): getpwnam_r("ALICE") and getpwnam_r("alice ") find the account
 * "alice" and return the table's spelling in pw_name.  Loaded by
 * nss_wrapper (NSS_WRAPPER_MODULE_SO_PATH, NSS_WRAPPER_MODULE_FN_PREFIX=
 * casefold) for tests/unit/test_pam_module.c; never installed.
 *
 * The match ignores ASCII case and trailing spaces, as those services do.
 * Two rows exist to test the module's own checks: "Carol" is spelt with a
 * capital by the directory, and "mallory" resolves to a pw_name that is no
 * valid user name.  "bigentry" needs a buffer of BIG_ENTRY bytes (ERANGE
 * before), "broken" fails as a directory that is down (EIO), and
 * "nslcd-down" as nss-pam-ldapd does when nslcd is down (ENOENT).
 * nss_casefold_lookups() counts the getpwnam_r calls, so a test can tell
 * that a name never reached NSS.
 */
#include <errno.h>
#include <nss.h>
#include <pwd.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

static const struct row {
	const char *key;	/* what is matched, case-insensitively */
	const char *pw_name;	/* what the directory calls the account */
	uid_t uid;
} rows[] = {
	{ "alice", "alice", 5001 },
	{ "carol", "Carol", 5002 },
	{ "mallory", "mal/lory", 5003 },
	{ "bigentry", "bigentry", 5004 },	/* needs BIG_ENTRY bytes of buffer */
};

#define BIG_ENTRY	4096	/* more than a first getpwnam_r buffer of 1 KiB */

static unsigned lookups;

unsigned nss_casefold_lookups(void);
enum nss_status _nss_casefold_getpwnam_r(const char *, struct passwd *, char *,
    size_t, int *);
enum nss_status _nss_casefold_getpwuid_r(uid_t, struct passwd *, char *,
    size_t, int *);

unsigned
nss_casefold_lookups(void)
{
	return lookups;
}

static bool
matches(const char *key, const char *name)
{
	size_t n = strlen(name);

	while (n > 0 && name[n - 1] == ' ')
		n--;
	return n == strlen(key) && strncasecmp(key, name, n) == 0;
}

/* Copies s into buf at *used; NULL when it does not fit. */
static char *
put(char *buf, size_t len, size_t *used, const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = buf + *used;

	if (n > len - *used)
		return NULL;
	memcpy(p, s, n);
	*used += n;
	return p;
}

static enum nss_status
fill(const struct row *r, struct passwd *pw, char *buf, size_t len, int *errnop)
{
	size_t used = 0;

	if (strcmp(r->pw_name, "bigentry") == 0 && len < BIG_ENTRY) {
		*errnop = ERANGE;
		return NSS_STATUS_TRYAGAIN;
	}

	*pw = (struct passwd){ .pw_uid = r->uid, .pw_gid = r->uid };
	if ((pw->pw_name = put(buf, len, &used, r->pw_name)) == NULL ||
	    (pw->pw_passwd = put(buf, len, &used, "x")) == NULL ||
	    (pw->pw_gecos = put(buf, len, &used, "")) == NULL ||
	    (pw->pw_dir = put(buf, len, &used, "/nonexistent")) == NULL ||
	    (pw->pw_shell = put(buf, len, &used, "/bin/false")) == NULL) {
		*errnop = ERANGE;
		return NSS_STATUS_TRYAGAIN;
	}
	return NSS_STATUS_SUCCESS;
}

enum nss_status
_nss_casefold_getpwnam_r(const char *name, struct passwd *pw, char *buf,
    size_t len, int *errnop)
{
	lookups++;
	if (name != NULL && matches("broken", name)) {	/* the directory is down */
		*errnop = EIO;
		return NSS_STATUS_UNAVAIL;
	}
	if (name != NULL && matches("nslcd-down", name)) {	/* nss-pam-ldapd's way */
		*errnop = ENOENT;
		return NSS_STATUS_UNAVAIL;
	}
	for (size_t i = 0; name != NULL && i < sizeof(rows) / sizeof(rows[0]); i++)
		if (matches(rows[i].key, name))
			return fill(&rows[i], pw, buf, len, errnop);
	*errnop = ENOENT;
	return NSS_STATUS_NOTFOUND;
}

enum nss_status
_nss_casefold_getpwuid_r(uid_t uid, struct passwd *pw, char *buf, size_t len,
    int *errnop)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (rows[i].uid == uid)
			return fill(&rows[i], pw, buf, len, errnop);
	*errnop = ENOENT;
	return NSS_STATUS_NOTFOUND;
}
