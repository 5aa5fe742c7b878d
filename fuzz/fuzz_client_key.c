/*
 * The client's SSH key on its way to a re-approval window: the PAM
 * module picks it out of SSH_AUTH_INFO_0 (pk_auth_info_key, pam/auth_info.c)
 * and passkeyd fingerprints it (client_key_fingerprint, passkeyd/client_key.c).
 * The input is the whole SSH_AUTH_INFO_0 text (up to its first NUL).
 *
 * Checks, besides the sanitizers:
 *   - a key picked out is one "TYPE BASE64" word pair that occurs in the
 *     input right after "publickey ", with no newline in it;
 *   - none picked out leaves out empty;
 *   - a fingerprint is "SHA256:" and 43 base64 characters, and the same
 *     text always gives the same one;
 *   - the fingerprint of the input itself (as a key line) never reads
 *     past it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_info.h"
#include "client_key.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_fp(const char *text)
{
	char fp[CLIENT_KEY_FP_LEN + 1], again[CLIENT_KEY_FP_LEN + 1];

	if (client_key_fingerprint(text, fp) != 0)
		return;
	if (strlen(fp) != CLIENT_KEY_FP_LEN || strncmp(fp, "SHA256:", 7) != 0 ||
	    strspn(fp + 7, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") != 43)
		abort();
	if (client_key_fingerprint(text, again) != 0 || strcmp(fp, again) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *info = malloc(size + 1), key[PK_CLIENT_KEY_MAX + 1], *at;
	char pattern[PK_CLIENT_KEY_MAX + 16];

	if (info == NULL)
		return 0;
	memcpy(info, data, size);
	info[size] = '\0';
	if (pk_auth_info_key(info, key, sizeof(key)) == 0) {
		snprintf(pattern, sizeof(pattern), "publickey %s", key);
		if (strchr(key, '\n') != NULL || strchr(key, ' ') == NULL ||
		    (at = strstr(info, pattern)) == NULL)
			abort();
		check_fp(key);
	} else if (key[0] != '\0')
		abort();
	check_fp(info);
	free(info);
	return 0;
}
