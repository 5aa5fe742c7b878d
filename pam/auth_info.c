#include <string.h>

#include "auth_info.h"

#define TYPE_CHARS	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@.-"
#define B64_CHARS	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
#define METHOD		"publickey "

/* "TYPE BASE64" at the start of line (up to end), else 0; its length in *len. */
static int
key_at(const char *line, const char *end, size_t *len)
{
	size_t t = strspn(line, TYPE_CHARS), b;

	if (t == 0 || t > 64 || line + t >= end || line[t] != ' ')
		return 0;
	b = strspn(line + t + 1, B64_CHARS);
	/* the key ends the line or is followed by more fields */
	if (b == 0 || (line + t + 1 + b != end && line[t + 1 + b] != ' '))
		return 0;
	*len = t + 1 + b;
	return 1;
}

int
pk_auth_info_key(const char *info, char *out, size_t outlen)
{
	const char *line, *end, *found = NULL;
	size_t len = 0, n;

	if (outlen > 0)
		out[0] = '\0';
	for (line = info; line != NULL && *line != '\0'; line = *end ? end + 1 : NULL) {
		if ((end = strchr(line, '\n')) == NULL)
			end = line + strlen(line);
		/* sshd appends in the order methods succeeded: the last one is this connection's */
		if ((size_t)(end - line) > strlen(METHOD) &&
		    strncmp(line, METHOD, strlen(METHOD)) == 0 &&
		    key_at(line + strlen(METHOD), end, &n)) {
			found = line + strlen(METHOD);
			len = n;
		}
	}
	if (found == NULL || len >= outlen || len > PK_CLIENT_KEY_MAX)
		return -1;
	memcpy(out, found, len);
	out[len] = '\0';
	return 0;
}
