/*
 * The client's SSH key on its way to a re-approval window: picked out of
 * SSH_AUTH_INFO_0 by the PAM module (pam/auth_info.c) and fingerprinted
 * by passkeyd (passkeyd/client_key.c).  The expected fingerprints are
 * what `ssh-keygen -lf` printed for these keys (made for this test).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "auth_info.h"
#include "client_key.h"

#define ED_KEY	"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMc+Mw9R2giRSnzHN1uSX1QD5eFfJiA38TJGbY85M/dC"
#define ED_FP	"SHA256:s3Yoi7GUBvN/HiJAMbRmTKqSg7M4UR2OuEDKEp5dzFg"
#define RSA_KEY	"ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQC2tsJuXL2AoFBh97vOi1pJEf2LeOxqsQ+5It1c5gz3" \
	"Z2r6T852CLn5+q+ItKKkxKAKi5ZqBhw6bEOnhNLKzDLOHXoQ2r2JFJRnNwyeP+voFzQmMX5zeqy3BtIv/PHmzcv" \
	"aKOo2hVIQyNiPftdYflo5atL70BfdzVAF6OXUhBjWmw=="
#define RSA_FP	"SHA256:RadSdC/g4bEgyHPqwcSb5z9LntObIuTiHDzqeGCNMbY"

static void
test_fingerprints_match_ssh_keygen(void **state)
{
	char fp[CLIENT_KEY_FP_LEN + 1];

	(void)state;
	assert_int_equal(client_key_fingerprint(ED_KEY, fp), 0);
	assert_string_equal(fp, ED_FP);
	assert_int_equal(client_key_fingerprint(RSA_KEY, fp), 0);
	assert_string_equal(fp, RSA_FP);
}

static void
test_fingerprint_refuses(void **state)
{
	static const char *const bad[] = {
		"", "ssh-ed25519", "ssh-ed25519 ", " AAAA", "ssh-ed25519 AAAA",
		/* the blob names another type than the line */
		"ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIMc+Mw9R2giRSnzHN1uSX1QD5eFfJiA38TJGbY85M/dC",
		/* not base64, padding inside, a trailing word */
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMc+Mw9R2giRSnzHN1uSX1QD5eFfJiA38TJGbY85M/d!",
		"ssh-ed25519 AAAA=AAA", ED_KEY " comment", "ssh ed25519 AAAA",
		/* cut short: the type only, no key fields after it */
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5",
	};
	char fp[CLIENT_KEY_FP_LEN + 1];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (client_key_fingerprint(bad[i], fp) == 0)
			fail_msg("accepted: \"%s\"", bad[i]);
	assert_int_equal(client_key_fingerprint(NULL, fp), -1);
}

static void
test_auth_info_last_publickey(void **state)
{
	char out[PK_CLIENT_KEY_MAX + 1];

	(void)state;
	assert_int_equal(pk_auth_info_key("publickey " RSA_KEY "\npublickey " ED_KEY "\n",
	    out, sizeof(out)), 0);
	assert_string_equal(out, ED_KEY);
	/* fields after the key (a certificate's) are not part of it */
	assert_int_equal(pk_auth_info_key("publickey " ED_KEY " more\n", out, sizeof(out)), 0);
	assert_string_equal(out, ED_KEY);
	assert_int_equal(pk_auth_info_key("password\npublickey " ED_KEY, out, sizeof(out)), 0);
	assert_string_equal(out, ED_KEY);
}

static void
test_auth_info_none(void **state)
{
	static const char *const none[] = {
		"", "\n", "keyboard-interactive\n", "publickey\n", "publickey \n",
		"publickeyssh-ed25519 AAAA\n", " publickey " ED_KEY "\n",
		"publickey ssh-ed25519 AAAA$(id)\n",
		"publickey ssh-ed25519\tAAAA\n",
	};
	char out[PK_CLIENT_KEY_MAX + 1];

	(void)state;
	for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
		memset(out, 'x', sizeof(out));
		if (pk_auth_info_key(none[i], out, sizeof(out)) == 0)
			fail_msg("picked \"%s\" out of \"%s\"", out, none[i]);
		assert_string_equal(out, "");
	}
	/* too long for the output: none, never a cut key */
	assert_int_equal(pk_auth_info_key("publickey " ED_KEY, out, 20), -1);
	assert_string_equal(out, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fingerprints_match_ssh_keygen),
		cmocka_unit_test(test_fingerprint_refuses),
		cmocka_unit_test(test_auth_info_last_publickey),
		cmocka_unit_test(test_auth_info_none),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
