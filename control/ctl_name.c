#include <string.h>

#include "ctl_name.h"

bool
ctl_user_name_valid(const char *u)
{
	size_t n;

	if (u == NULL || (n = strlen(u)) == 0 || n > CTL_USER_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)u[i] < 0x20 || u[i] == 0x7f || u[i] == '/')
			return false;
	return true;
}
