#include <string.h>
#include <strings.h>

#include "ctl_text.h"
#include "text.h"

bool
ctl_user_name_valid(const char *u)
{
	return text_is_safe(u, 1, CTL_USER_MAX) && strchr(u, '/') == NULL;
}

bool
ctl_url_ok(const char *s)
{
	size_t n;

	if (s == NULL || (n = strlen(s)) == 0 || n > CTL_URL_MAX)
		return false;
	/* No control bytes: the daemon must not be able to drive the terminal. */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

bool
ctl_host_ok(const char *s, size_t max)
{
	return text_hostname_chars(s, max) && s[0] != '.' && s[0] != '-';
}

bool
ctl_names_host(const char *name, const char *host)
{
	size_t len = name != NULL ? strlen(name) : 0;

	return len > 0 && host != NULL && host[0] != '\0' &&
	    (len == strlen(host) || len == strcspn(host, ".")) &&
	    strncasecmp(name, host, len) == 0;
}

bool
ctl_word_ok(const char *s, size_t max)
{
	size_t n;

	if (s == NULL || (n = strlen(s)) == 0 || n > max)
		return false;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789_-") == n;
}

bool
ctl_tty_ok(const char *s)
{
	size_t n;

	if (s == NULL || (n = strlen(s)) == 0 || n > CTL_TTY_MAX)
		return false;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789/._:-") == n;
}
