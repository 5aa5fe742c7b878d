/*
 * The offline verifier: the RP core behind a stable command-line contract
 * (docs/DESIGN.md).  Other tools drive it, so its flags, its one JSON object on
 * stdout and its exit codes (0 ok, 1 rejected, 2 usage or unreadable
 * input) do not change.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "file.h"
#include "passkey_rp.h"
#include "passkeyctl.h"
#include "rp_b64url.h"

/* A PEM file of trust anchors: a few certificates (passkeyd allows the same). */
#define VERIFY_ANCHOR_MAX	(1024 * 1024)

struct verify_args {
	rp_policy_t *policy;
	uint8_t *challenge;
	size_t challenge_len;
	uint8_t *credential_id;		/* assertion */
	size_t credential_id_len;
	rp_pubkey_t *pubkey;		/* assertion */
	int pubkey_err;
	uint32_t sign_count;
	bool have_rp_id, have_origin;
};

enum { OPT_RP_ID = 256, OPT_ORIGIN, OPT_CHALLENGE, OPT_REQUIRE_UV,
	OPT_TRUST_ANCHOR, OPT_TIME, OPT_CREDENTIAL_ID, OPT_PUBLIC_KEY,
	OPT_SIGN_COUNT, OPT_HELP };

static const struct option reg_options[] = {
	{ "rp-id", required_argument, NULL, OPT_RP_ID },
	{ "origin", required_argument, NULL, OPT_ORIGIN },
	{ "challenge", required_argument, NULL, OPT_CHALLENGE },
	{ "require-uv", no_argument, NULL, OPT_REQUIRE_UV },
	{ "trust-anchor", required_argument, NULL, OPT_TRUST_ANCHOR },
	{ "time", required_argument, NULL, OPT_TIME },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static const struct option assert_options[] = {
	{ "rp-id", required_argument, NULL, OPT_RP_ID },
	{ "origin", required_argument, NULL, OPT_ORIGIN },
	{ "challenge", required_argument, NULL, OPT_CHALLENGE },
	{ "require-uv", no_argument, NULL, OPT_REQUIRE_UV },
	{ "credential-id", required_argument, NULL, OPT_CREDENTIAL_ID },
	{ "public-key", required_argument, NULL, OPT_PUBLIC_KEY },
	{ "sign-count", required_argument, NULL, OPT_SIGN_COUNT },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static const char reg_usage[] =
    "usage: passkeyctl verify-registration --rp-id ID --origin ORIGIN [--origin ...]\n"
    "           --challenge B64URL [--require-uv] [--trust-anchor FILE.pem ...]\n"
    "           [--time RFC3339] < PublicKeyCredential.json\n";
static const char assert_usage[] =
    "usage: passkeyctl verify-assertion --rp-id ID --origin ORIGIN [--origin ...]\n"
    "           --challenge B64URL --credential-id B64URL --public-key COSE_B64URL\n"
    "           [--sign-count N] [--require-uv] < PublicKeyCredential.json\n";



/* RFC 3339: 2026-06-01T00:00:00Z, with optional fraction and offset. */
static bool
parse_rfc3339(const char *s, time_t *out)
{
	struct tm tm;
	const char *p;
	int sign, oh, om;

	memset(&tm, 0, sizeof(tm));
	if ((p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL)
		return false;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	*out = timegm(&tm);
	if ((*p == 'Z' || *p == 'z') && p[1] == '\0')
		return true;
	if ((*p != '+' && *p != '-') || sscanf(p + 1, "%2d:%2d", &oh, &om) != 2 ||
	    strlen(p) != 6 || oh > 23 || om > 59)
		return false;
	sign = *p == '+' ? 1 : -1;
	*out -= sign * (oh * 3600 + om * 60);
	return true;
}

/* Reads stdin, at most one byte past the core's limit so it can say so. */
static bool
read_stdin(char **buf, size_t *len)
{
	size_t cap = RP_MAX_RESPONSE_LEN + 1, n;

	if ((*buf = malloc(cap)) == NULL)
		return false;
	*len = 0;
	while (*len < cap && (n = fread(*buf + *len, 1, cap - *len, stdin)) > 0)
		*len += n;
	if (ferror(stdin)) {
		free(*buf);
		return false;
	}
	return true;
}

static int
print_json(json_t *obj, int code)
{
	/* ASCII only, as print_json_pretty: the file verified is anyone's */
	char *s = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);

	json_decref(obj);
	if (s == NULL)
		return EXIT_USAGE;
	printf("%s\n", s);
	free(s);
	return code;
}

static int
print_rejection(int err)
{
	return print_json(json_pack("{s:b, s:s, s:s}", "ok", 0,
	    "error", rp_err_code(err), "detail", rp_err_str(err)), EXIT_VERDICT_REJECTED);
}

static json_t *
flags_json(uint8_t f)
{
	return json_pack("{s:b, s:b, s:b, s:b}", "up", !!(f & RP_FLAG_UP),
	    "uv", !!(f & RP_FLAG_UV), "be", !!(f & RP_FLAG_BE), "bs", !!(f & RP_FLAG_BS));
}

static json_t *
b64_json(const uint8_t *p, size_t n)
{
	char *s = rp_b64url_encode_alloc(p, n);
	json_t *j = s != NULL ? json_string(s) : NULL;

	free(s);
	return j;
}

static json_t *
aaguid_json(const uint8_t *a)
{
	char s[37];

	snprintf(s, sizeof(s), "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", a[0], a[1], a[2], a[3], a[4], a[5],
	    a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13], a[14], a[15]);
	return json_string(s);
}

static int
decode_flag(const char *usage, const char *flag, const char *v, uint8_t **out, size_t *len)
{
	free(*out);
	if (rp_b64url_decode_alloc(v, strlen(v), out, len) != RP_OK)
		return usage_error(usage, "%s is not base64url: '%s'", flag, v);
	return 0;
}

static int
add_anchor(rp_policy_t *p, const char *path)
{
	char *pem, why[512];
	int err;

	/* the one bounded reader (common/file.h), as passkeyd reads its anchors */
	if ((pem = file_read_text(path, VERIFY_ANCHOR_MAX, 0, why, sizeof(why))) == NULL) {
		fprintf(stderr, "passkeyctl: cannot read trust anchor: %s\n", why);
		return EXIT_USAGE;
	}
	err = rp_policy_add_trust_anchor_pem(p, pem, strlen(pem));
	free(pem);
	if (err != RP_OK) {
		fprintf(stderr, "passkeyctl: %s: %s\n", path, rp_err_str(err));
		return EXIT_USAGE;
	}
	/* Anchors given means the caller demands a chain that reaches them. */
	rp_policy_set_accepted_attestation(p, RP_ATTESTATION_NONE |
	    RP_ATTESTATION_SELF | RP_ATTESTATION_TRUSTED);
	return 0;
}

static int
parse_option(struct verify_args *a, int opt, const char *usage)
{
	char *end;
	unsigned long long n;
	time_t t;

	switch (opt) {
	case OPT_RP_ID:
		a->have_rp_id = true;
		return rp_policy_set_rp_id(a->policy, optarg) == RP_OK ? 0 :
		    usage_error(usage, "bad --rp-id '%s'", optarg);
	case OPT_ORIGIN:
		a->have_origin = true;
		return rp_policy_add_origin(a->policy, optarg) == RP_OK ? 0 :
		    usage_error(usage, "bad or too many --origin '%s'", optarg);
	case OPT_CHALLENGE:
		return decode_flag(usage, "--challenge", optarg,
		    &a->challenge, &a->challenge_len);
	case OPT_REQUIRE_UV:
		rp_policy_set_require_uv(a->policy, true);
		return 0;
	case OPT_TRUST_ANCHOR:
		return add_anchor(a->policy, optarg);
	case OPT_TIME:
		if (!parse_rfc3339(optarg, &t))
			return usage_error(usage, "--time is not RFC 3339: '%s'", optarg);
		rp_policy_set_time(a->policy, t);
		return 0;
	case OPT_CREDENTIAL_ID:
		return decode_flag(usage, "--credential-id", optarg, &a->credential_id, &a->credential_id_len);
	case OPT_PUBLIC_KEY: {
		uint8_t *cose = NULL;
		size_t len;
		int r;

		if ((r = decode_flag(usage, "--public-key", optarg, &cose, &len)) != 0)
			return r;
		rp_pubkey_free(&a->pubkey);
		a->pubkey_err = rp_pubkey_from_cose(cose, len, &a->pubkey);
		free(cose);
		return 0;
	}
	case OPT_SIGN_COUNT:
		errno = 0;
		n = strtoull(optarg, &end, 10);
		if (errno != 0 || *end != '\0' || end == optarg || optarg[0] == '-' ||
		    n > UINT32_MAX)
			return usage_error(usage, "--sign-count is not a 32-bit count: '%s'", optarg);
		a->sign_count = (uint32_t)n;
		return 0;
	case OPT_HELP:
		fputs(usage, stdout);
		return -1;
	default:
		return usage_error(usage, NULL);
	}
}

/* Returns 0 to go on, -1 for --help, else an exit code. */
static int
parse_args(int argc, char **argv, const struct option *opts, const char *usage,
    struct verify_args *a)
{
	int opt, r;

	if ((a->policy = rp_policy_new()) == NULL)
		return EXIT_USAGE;
	optind = 1;
	opterr = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1)
		if ((r = parse_option(a, opt, usage)) != 0)
			return r;
	if (optind != argc)
		return usage_error(usage, "unexpected argument '%s'", argv[optind]);
	if (!a->have_rp_id || !a->have_origin || a->challenge == NULL)
		return usage_error(usage, "--rp-id, --origin and --challenge are required");
	if (a->challenge_len < RP_MIN_CHALLENGE_LEN || a->challenge_len > RP_MAX_CHALLENGE_LEN)
		return usage_error(usage, "--challenge must decode to %d..%d bytes",
		    RP_MIN_CHALLENGE_LEN, RP_MAX_CHALLENGE_LEN);
	return 0;
}

static void
free_args(struct verify_args *a)
{
	rp_policy_free(&a->policy);
	free(a->challenge);
	free(a->credential_id);
	rp_pubkey_free(&a->pubkey);
}

/* Reads and decodes the response; returns an exit code or -1 to go on. */
static int
load_response(rp_response_t **resp)
{
	char *json;
	size_t len;
	int err;

	if (!read_stdin(&json, &len)) {
		fprintf(stderr, "passkeyctl: cannot read the response from stdin\n");
		return EXIT_USAGE;
	}
	err = rp_response_from_json(json, len, resp);
	free(json);
	return err == RP_OK ? -1 : print_rejection(err);
}

static int
registration_verdict(const struct verify_args *a, const rp_response_t *resp)
{
	rp_credential_t *c = NULL;
	json_t *cred;
	int err;

	if ((err = rp_verify_registration(a->policy, a->challenge, a->challenge_len,
	    resp, &c)) != RP_OK)
		return print_rejection(err);
	cred = json_pack("{s:o, s:i, s:o, s:I, s:s, s:o, s:o, s:s}",
	    "id", b64_json(rp_credential_id_ptr(c), rp_credential_id_len(c)),
	    "alg", rp_credential_alg(c),
	    "public_key_cose", b64_json(rp_credential_pubkey_cose_ptr(c),
	    rp_credential_pubkey_cose_len(c)),
	    "sign_count", (json_int_t)rp_credential_sign_count(c),
	    "fmt", rp_credential_fmt(c),
	    "aaguid", aaguid_json(rp_credential_aaguid_ptr(c)),
	    "flags", flags_json(rp_credential_flags(c)),
	    "attestation", rp_attestation_name(rp_credential_attestation(c)));
	rp_credential_free(&c);
	if (cred == NULL)
		return print_rejection(RP_ERR_NO_MEMORY);
	return print_json(json_pack("{s:b, s:o}", "ok", 1, "credential", cred),
	    EXIT_VERDICT_OK);
}

int
cmd_verify_registration(int argc, char **argv)
{
	struct verify_args a = { 0 };
	rp_response_t *resp = NULL;
	int r;

	if ((r = parse_args(argc, argv, reg_options, reg_usage, &a)) == 0 &&
	    (r = load_response(&resp)) == -1)
		r = registration_verdict(&a, resp);
	rp_response_free(&resp);
	free_args(&a);
	return r < 0 ? 0 : r;
}

static int
assertion_verdict(const struct verify_args *a, const rp_response_t *resp)
{
	struct rp_known_credential k = {
		.id = a->credential_id, .id_len = a->credential_id_len,
		.pubkey = a->pubkey, .sign_count = a->sign_count,
		.backup_eligible = -1,
	};
	struct rp_assertion_result res;
	int err;

	if (a->pubkey_err != RP_OK)
		return print_rejection(a->pubkey_err);
	if ((err = rp_verify_assertion(a->policy, a->challenge, a->challenge_len,
	    resp, &k, &res)) != RP_OK)
		return print_rejection(err);
	return print_json(json_pack("{s:b, s:I, s:o}", "ok", 1,
	    "sign_count", (json_int_t)res.sign_count, "flags", flags_json(res.flags)),
	    EXIT_VERDICT_OK);
}

int
cmd_verify_assertion(int argc, char **argv)
{
	struct verify_args a = { 0 };
	rp_response_t *resp = NULL;
	int r;

	if ((r = parse_args(argc, argv, assert_options, assert_usage, &a)) == 0) {
		if (a.credential_id == NULL || (a.pubkey == NULL && a.pubkey_err == RP_OK))
			r = usage_error(assert_usage,
			    "--credential-id and --public-key are required");
		else if ((r = load_response(&resp)) == -1)
			r = assertion_verdict(&a, resp);
	}
	rp_response_free(&resp);
	free_args(&a);
	return r < 0 ? 0 : r;
}
