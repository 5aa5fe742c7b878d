/*
 * passkeyctl export-openssh [-o FILE] [--install] ID
 *
 * Turns a passkey into an OpenSSH security-key ("sk") key: the same public
 * key, application = the RP ID, key handle = the credential ID.  Stock ssh
 * with a roaming USB security key that holds the credential can then log
 * in by public key, without a browser (scp, VS Code, git...).  Platform and
 * phone passkeys cannot: ssh reaches security keys over USB HID through
 * libfido2 only, and a synced passkey lives in a phone or an OS keychain.
 *
 * Exit codes: 0 written, 1 refused or failed, 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "authorized_keys.h"
#include "ctl_client.h"
#include "openssh_key.h"
#include "passkey_rp.h"
#include "passkeyctl.h"
#include "rp_b64url.h"

enum { OPT_OUTPUT = 'o', OPT_INSTALL = 256, OPT_HELP };

static const struct option export_options[] = {
	{ "output", required_argument, NULL, OPT_OUTPUT },
	{ "install", no_argument, NULL, OPT_INSTALL },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static const char export_usage[] =
    "usage: passkeyctl export-openssh [-o FILE] [--install] ID\n"
    "Prints the passkey ID as an OpenSSH authorized_keys line (sk-ecdsa or sk-ed25519).\n"
    "  -o FILE    also write FILE, the key file for 'ssh -i FILE', and FILE.pub.\n"
    "             It holds no secret: the private key stays in the security key.\n"
    "  --install  add the line to the passkey owner's ~/.ssh/authorized_keys.\n"
    "Works with roaming USB security keys only (see README.md).\n";

/* Everything the key needs, decoded from the daemon's answer. */
struct exported {
	struct sk_key key;
	uint8_t pub[RP_PUBKEY_RAW_MAX];
	uint8_t *handle;
	char comment[64];
	const char *user;
};

/* quiet: no message (remove's look at the key, export_sk_public) */
static int
decode(const json_t *c, struct exported *e, int quiet)
{
	const char *id = json_string_value(json_object_get(c, "id"));
	const char *cose = json_string_value(json_object_get(c, "public_key_cose"));
	const char *rp_id = json_string_value(json_object_get(c, "rp_id"));
	const char *sid = json_string_value(json_object_get(c, "short_id"));
	uint8_t *cose_raw = NULL;
	size_t cose_len, handle_len, pub_len = sizeof(e->pub);
	rp_pubkey_t *pk = NULL;
	int rc;

	e->user = json_string_value(json_object_get(c, "user"));
	if (id == NULL || cose == NULL || rp_id == NULL || sid == NULL || e->user == NULL ||
	    rp_b64url_decode_alloc(id, strlen(id), &e->handle, &handle_len) != RP_OK ||
	    rp_b64url_decode_alloc(cose, strlen(cose), &cose_raw, &cose_len) != RP_OK) {
		if (!quiet)
			fprintf(stderr, "passkeyctl: passkeyd sent an invalid answer\n");
		return -1;
	}
	rc = rp_pubkey_from_cose(cose_raw, cose_len, &pk);
	free(cose_raw);
	if (rc == RP_OK && rp_pubkey_alg(pk) == RP_COSE_RS256) {
		if (!quiet)
			fprintf(stderr, "passkeyctl: this passkey is RS256; OpenSSH has no RSA "
		    "security-key type (only sk-ecdsa P-256 and sk-ed25519), so it cannot "
		    "be exported (rs256_not_supported)\n");
		rp_pubkey_free(&pk);
		return -1;
	}
	if (rc == RP_OK)
		rc = rp_pubkey_raw(pk, e->pub, &pub_len);
	if (rc != RP_OK) {
		if (!quiet)
			fprintf(stderr, "passkeyctl: the stored public key cannot be read: %s\n",
			    rp_err_str(rc));
		rp_pubkey_free(&pk);
		return -1;
	}
	e->key.alg = rp_pubkey_alg(pk);
	rp_pubkey_free(&pk);
	e->key.pub = e->pub;
	e->key.pub_len = pub_len;
	e->key.application = rp_id;
	e->key.flags = SK_FLAG_USER_PRESENCE |
	    (json_is_true(json_object_get(c, "user_verified")) ? SK_FLAG_USER_VERIFICATION : 0);
	e->key.key_handle = e->handle;
	e->key.key_handle_len = handle_len;
	snprintf(e->comment, sizeof(e->comment), "passkey:%s", sid);
	return 0;
}

/* Creates path, never over an existing file, holding text and a newline if nl. */
static int
write_new(const char *path, const char *text, int nl, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);

	if (fd < 0) {
		fprintf(stderr, "passkeyctl: cannot create %s: %s%s\n", path, strerror(errno),
		    errno == EEXIST ? " (remove it first)" : "");
		return -1;
	}
	if (write_all(fd, text, strlen(text)) != 0 || (nl && write_all(fd, "\n", 1) != 0) ||
	    fsync(fd) != 0 || close(fd) != 0) {
		fprintf(stderr, "passkeyctl: cannot write %s\n", path);
		unlink(path);
		return -1;
	}
	return 0;
}

/* FILE (the key file for ssh -i) and FILE.pub (the public line pub). */
static int
write_key_files(const char *file, const struct exported *e, const char *pub)
{
	char *priv = sk_private_file(&e->key, e->comment);
	char pubpath[4096];
	int r = -1;

	if ((size_t)snprintf(pubpath, sizeof(pubpath), "%s.pub", file) >= sizeof(pubpath))
		fprintf(stderr, "passkeyctl: path too long: %s\n", file);
	else if (priv != NULL && write_new(file, priv, 0, 0600) == 0) {
		if (write_new(pubpath, pub, 1, 0644) == 0)
			r = 0;
		else
			unlink(file);
	}
	if (r == 0)
		fprintf(stderr, "wrote %s and %s.  %s holds no secret: it names the "
		    "credential and its application; the private key stays in the "
		    "security key.\n", file, pubpath, file);
	free(priv);
	return r;
}

/* Adds line to the owner's authorized_keys, matched by pub's "TYPE BLOB". */
static int
install(const struct exported *e, const char *line, const char *pub)
{
	int r = authorized_keys_install(e->user, line, pub);

	if (r == 0)
		fprintf(stderr, "added to ~%s/.ssh/authorized_keys\n", e->user);
	else if (r == 1)
		fprintf(stderr, "already in ~%s/.ssh/authorized_keys; nothing changed\n", e->user);
	return r < 0 ? -1 : 0;
}

int
cmd_export_openssh(int argc, char **argv)
{
	const char *file = NULL;
	struct exported e;
	json_t *req, *resp;
	char *line = NULL, *pub = NULL;
	int opt, do_install = 0, r;

	optind = 1;
	opterr = 1;
	while ((opt = getopt_long(argc, argv, "o:", export_options, NULL)) != -1) {
		switch (opt) {
		case OPT_OUTPUT:
			if (optarg[0] == '\0')
				return usage_error(export_usage, "empty -o FILE");
			file = optarg;
			break;
		case OPT_INSTALL:
			do_install = 1;
			break;
		case OPT_HELP:
			fputs(export_usage, stdout);
			return EXIT_VERDICT_OK;
		default:
			return usage_error(export_usage, NULL);
		}
	}
	if (optind == argc)
		return usage_error(export_usage, "missing ID");
	if (optind + 1 != argc)
		return usage_error(export_usage, "unexpected argument '%s'", argv[optind + 1]);
	if ((req = json_pack("{s:s, s:s}", "op", "export", "id", argv[optind])) == NULL)
		return usage_error(export_usage, "the ID must be UTF-8");
	r = daemon_ask(daemon_socket(), req, &resp);
	json_decref(req);
	if (r != EXIT_VERDICT_OK)
		return r;
	memset(&e, 0, sizeof(e));
	r = EXIT_VERDICT_REJECTED;
	if (decode(json_object_get(resp, "credential"), &e, 0) == 0 &&
	    (line = sk_authorized_line(&e.key, e.comment)) != NULL &&
	    (pub = sk_public_line(&e.key, e.comment)) != NULL &&
	    (file == NULL || write_key_files(file, &e, pub) == 0) &&
	    (!do_install || install(&e, line, pub) == 0)) {
		printf("%s\n", line);
		r = fflush(stdout) == 0 ? EXIT_VERDICT_OK : EXIT_VERDICT_REJECTED;
	}
	free(line);
	free(pub);
	free(e.handle);
	json_decref(resp);
	return r;
}

int
export_sk_public(const char *sock, const char *id, char **pub, char **user)
{
	json_t *req = json_pack("{s:s, s:s}", "op", "export", "id", id), *resp = NULL;
	struct ctl_conn *c = NULL;
	struct exported e;
	int r = -1;

	*pub = *user = NULL;
	memset(&e, 0, sizeof(e));
	/* quietly: remove itself says what is wrong with the ID */
	if (req != NULL && daemon_connect(sock, &c, true) == EXIT_VERDICT_OK &&
	    ctl_request(c, req, &resp) == CTL_OK && ctl_resp_ok(resp) &&
	    decode(json_object_get(resp, "credential"), &e, 1) == 0 &&
	    (*pub = sk_public_line(&e.key, e.comment)) != NULL &&
	    (*user = strdup(e.user)) != NULL)
		r = 0;
	if (r != 0) {
		free(*pub);
		*pub = NULL;
	}
	ctl_close(c);
	free(e.handle);
	json_decref(resp);
	json_decref(req);
	return r;
}
