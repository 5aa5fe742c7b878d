#include <string.h>

#include "text.h"

size_t
text_utf8_next(const char *s, size_t n, uint32_t *cp)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t c, min;
	size_t len;

	if (n == 0)
		return 0;
	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2;
		c = p[0] & 0x1f;
		min = 0x80;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		c = p[0] & 0x0f;
		min = 0x800;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		c = p[0] & 0x07;
		min = 0x10000;
	} else
		return 0;	/* a continuation byte, 0xc0/0xc1 or above 0xf4 */
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

bool
text_char_unsafe(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c ||
	    cp == 0x200e || cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) ||
	    (cp >= 0x2066 && cp <= 0x2069) || cp == 0x2028 || cp == 0x2029 ||
	    cp == 0xfeff;
}

bool
text_is_safe(const char *s, size_t min, size_t max)
{
	size_t n, i, len;
	uint32_t cp;

	if (s == NULL)
		return false;
	n = strnlen(s, max + 1);
	if (n < min || n > max)
		return false;
	for (i = 0; i < n; i += len)
		if ((len = text_utf8_next(s + i, n - i, &cp)) == 0 ||
		    text_char_unsafe(cp))
			return false;
	return true;
}

char *
text_sanitize(const char *s, char *out, size_t outlen)
{
	size_t n = s != NULL ? strlen(s) : 0, i = 0, o = 0, len;
	uint32_t cp;

	while (i < n) {
		len = text_utf8_next(s + i, n - i, &cp);
		if (len == 0 || text_char_unsafe(cp)) {
			if (o + 1 >= outlen)
				break;
			out[o++] = '?';
			i += len == 0 ? 1 : len;
			continue;
		}
		if (o + len >= outlen)
			break;
		memcpy(out + o, s + i, len);
		o += len;
		i += len;
	}
	out[o] = '\0';
	return out;
}

bool
text_hostname_chars(const char *s, size_t max)
{
	size_t n;

	if (s == NULL || (n = strlen(s)) == 0 || n > max)
		return false;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789.-") == n;
}
