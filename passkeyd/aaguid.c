/*
 * Names of common authenticators by AAGUID, for `passkeyctl list`.  Only a
 * handful that users meet most, checked against the community list of
 * passkey provider AAGUIDs (github.com/passkeydeveloper/
 * passkey-authenticator-aaguids); a name is a label for people, never an
 * input to a security decision (attestation is).
 */
#include <string.h>

#include "manage.h"

static const struct {
	const char *aaguid;	/* lower-case, with dashes */
	const char *name;
} known[] = {
	{ "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4", "Google Password Manager" },
	{ "adce0002-35bc-c60a-648b-0b25f1f05503", "Chrome on Mac" },
	{ "fbfc3007-154e-4ecc-8c0b-6e020557d7bd", "iCloud Keychain" },
	{ "08987058-cadc-4b81-b6e1-30de50dcbe96", "Windows Hello" },
	{ "9ddd1817-af5a-4672-a2b9-3e3dd95000a9", "Windows Hello" },
	{ "6028b017-b1d4-4c02-b4b3-afcdafc96bb2", "Windows Hello" },
	{ "bada5566-a7aa-401f-bd96-45619a55120d", "1Password" },
	{ "d548826e-79b4-db40-a3d8-11116f7e8349", "Bitwarden" },
	{ "531126d6-e717-415c-9320-3d9aa6981239", "Dashlane" },
	{ "cb69481e-8ff7-4039-93ec-0a2729a154a8", "YubiKey 5 Series" },
	{ "ee882879-721c-4913-9775-3dfcce97072a", "YubiKey 5 Series" },
	{ "fa2b99dc-9e39-4257-8f92-4a30d23c4118", "YubiKey 5 Series with NFC" },
};

void
aaguid_format(const unsigned char a[16], char out[37])
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (size_t i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[a[i] >> 4];
		out[o++] = hex[a[i] & 15];
	}
	out[o] = '\0';
}

const char *
aaguid_name(const unsigned char a[16])
{
	char text[37];

	aaguid_format(a, text);
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(known[i].aaguid, text) == 0)
			return known[i].name;
	return NULL;
}
