/*
 * A program of someone else's, built by tests/dist/test_debian.sh against
 * the unpacked libpasskey-rp-dev package: it includes only the installed
 * public headers and links with pkg-config's flags.  Prints "ok".
 */
#include <stdio.h>
#include <string.h>

#include <passkey_rp.h>
#include <rp_b64url.h>

int
main(void)
{
	rp_policy_t *p = rp_policy_new();
	rp_response_t *r = NULL;
	uint8_t out[8];
	size_t n = 0;
	const char *bad = "{\"id\":\"x\"}";

	if (p == NULL || rp_policy_set_rp_id(p, "example.com") != RP_OK ||
	    rp_b64url_decode("AAEC", 4, out, &n) != RP_OK || n != 3 || out[2] != 2)
		return 1;
	/* a named refusal, not a crash, for a response that is not one */
	if (rp_response_from_json(bad, strlen(bad), &r) == RP_OK)
		return 1;
	rp_policy_free(&p);
	if (p != NULL)
		return 1;
	printf("%s\n", rp_err_code(RP_OK));
	return 0;
}
