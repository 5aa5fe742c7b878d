/*
 * The control socket's request dispatcher: control_dispatch()
 * (passkeyd/control_ops.c) on a real struct passkeyd, built afresh for
 * every input: a config, an in-memory SQLite store holding a few fixture
 * passkeys and an enrollment, a ceremony table, a journal, the key cache,
 * the per-account rate table and a relying-party policy.  No socket: the call's server is
 * NULL, so control_answer() drops the answers that an op deferred until
 * the journal's commit (enroll, rename, remove, revoke_enrollment).
 *
 * Input:
 *
 *   byte 0     flags
 *                bit 0  the caller is uid 65534 (nobody), else root
 *                bit 1  flush the journal after every request, as the end
 *                       of a loop turn does (else only at the end, as the
 *                       daemon's shutdown drains it)
 *                bit 2  tight limits: 3 pending in all, 2 per user or
 *                       address, 1 per pair; 5 s ceremonies, 60 s enrollments
 *                bit 3  an empty store (no fixture passkeys, no enrollment)
 *                bit 4  the store stays locked at shutdown: what is still
 *                       queued is not committed, journal_free() gets it (as
 *                       after main.c's drain_journal gave up); else the
 *                       journal is drained first, as a clean shutdown does
 *   the rest   request lines, split on '\n' (the last one needs none), at
 *              most FUZZ_MAX_LINES, served in turn as one connection's
 *              would be, except that an answer deferred to the journal does
 *              not hold the next line back until the commit (as if that
 *              line came on another connection).  In each line:
 *                "$T"   becomes the token of the last answer that had one
 *                       (login_begin, register_begin), so sequences like
 *                       login_begin, status, cancel reach the ceremony ops;
 *                a leading '!' sends that line as the other uid (root or
 *                nobody);
 *                a line "+N" is no request: the clock moves N seconds on
 *                (N < 10^6) and the ceremonies are swept, as the daemon's
 *                loop does once a second.
 *
 * As control.c does: a line that is not a JSON object, or longer than
 * CONTROL_LINE_MAX, ends the connection (no later line is served); a
 * connection holds at most CONTROL_BOUND_MAX pending bound ceremonies;
 * when it ends, the ceremonies bound to it are cancelled.  At the end the
 * journal is drained as passkeyd's shutdown does (drain_journal), unless
 * bit 4 says the store stayed locked, then everything is freed.

 *
 * time() is replaced for the whole process by a clock that starts at
 * FUZZ_CONTROL_TIME for every input and moves only with "+N" lines, so
 * that expiry is reachable and an input replays the same way.  The
 * journal's clock stays the monotonic one; each flush is first tried at
 * the real time (lone audit rows may then wait for company, as
 * JOURNAL_ROWS_DELAY_MS allows) and then JOURNAL_ROWS_DELAY_MS later, as
 * main.c's drain_journal does, so what is committed does not depend on
 * how fast the input ran.
 *
 * Checks, besides the sanitizers:
 *   - every answer is a JSON object with a boolean "ok"; a refusal carries
 *     a code the protocol names (ctl_codes.h) and a message;
 *   - an op that deferred its answer returned none, and one that did not
 *     returned one; a line that is not a JSON object closes the connection
 *     with bad_request;
 *   - a token handed out has the shape of one and finds its ceremony;
 *   - no more ceremonies are pending than max_pending_total;
 *   - the root-only ops (login_begin, enroll, revoke_enrollment) never
 *     succeed or defer for another uid;
 *   - what list and export show nobody is nobody's own;
 *   - when no line ran as root, the passkeys of the other accounts and
 *     their nicknames are unchanged and bin's enrollment is still pending.
 *
 * The daemon's log lines go to /dev/null unless FUZZ_VERBOSE is set (then
 * every request and its answer are printed too).  Sanitizer reports still
 * reach fd 2.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "account_names.h"
#include "clock.h"
#include "control.h"
#include "control_ops.h"
#include "ctl_codes.h"
#include "ctl_text.h"
#include "flow.h"
#include "passkey_rp.h"
#include "passkeyd.h"

#define FUZZ_MAX_LINES		128
#define FUZZ_NOBODY_UID		65534
/* 2026-06-01T00:00:00Z, as in fuzz_common.h */
#define FUZZ_CONTROL_TIME	((time_t)1780272000)
#define FUZZ_MAX_STEP		1000000L	/* seconds one "+N" line may move */

#define F_NOBODY	0x01
#define F_FLUSH_EACH	0x02
#define F_TIGHT		0x04
#define F_EMPTY		0x08
#define F_NO_DRAIN	0x10

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* --- the clock ------------------------------------------------------- */

static time_t fuzz_now = FUZZ_CONTROL_TIME;

/* Replaces libc's time() for every caller in the process (see above). */
time_t
time(time_t *t)
{
	if (t != NULL)
		*t = fuzz_now;
	return fuzz_now;
}

/* --- fixtures -------------------------------------------------------- */

static const char config_normal[] =
    "rp_id = localhost\n"
    "origin = http://localhost:8080\n"
    "public_url = http://localhost:8080\n"
    "store = :memory:\n"
    "socket = /nonexistent/passkeyd-fuzz.sock\n";

static const char config_tight[] =
    "rp_id = localhost\n"
    "origin = http://localhost:8080\n"
    "origin = https://localhost\n"
    "public_url = http://localhost:8080/\n"
    "store = :memory:\n"
    "socket = /nonexistent/passkeyd-fuzz.sock\n"
    "ceremony_timeout = 5\n"
    "enroll_timeout = 60\n"
    "max_pending_total = 3\n"
    "max_pending_per_user = 2\n"
    "max_pending_per_address = 2\n"
    "max_pending_per_user_address = 1\n"
    "require_uv = no\n";

/* W3C vector 01's credential public key (ES256). */
static const unsigned char fixture_cose[] = {
	0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20, 0xaf, 0xef,
	0xa1, 0x6f, 0x97, 0xca, 0x9b, 0x2d, 0x23, 0xeb, 0x86, 0xcc, 0xb6, 0x40,
	0x98, 0xd2, 0x0d, 0xb9, 0x08, 0x56, 0x06, 0x2e, 0xb2, 0x49, 0xc3, 0x3a,
	0x9b, 0x67, 0x2f, 0x26, 0xdf, 0x61, 0x22, 0x58, 0x20, 0x93, 0x0a, 0x56,
	0xb8, 0x7a, 0x2f, 0xca, 0x66, 0x33, 0x4b, 0x03, 0x45, 0x8a, 0xbf, 0x87,
	0x97, 0x17, 0xc1, 0x2c, 0xc6, 0x8e, 0xd7, 0x32, 0x90, 0xaf, 0x2e, 0x26,
	0x64, 0x79, 0x6b, 0x92, 0x20,
};

/*
 * The fixture passkeys.  seeds.py names them by these IDs (base64url)
 * and by their short IDs (SHA-256 of the ID, 12 hex digits):
 *   fuzz-root-1         33ddd0f1d778
 *   fuzz-nobody-2999    0230cc4930c6  \ the same 6-digit prefix 0230cc,
 *   fuzz-nobody-5897    0230cc86bd47  / so that prefix is ambiguous_id
 *   fuzz-daemon-1       68d6633aaab8
 *   fuzz-alice-1        1ef1665e3fbd  (alice has no account here)
 * Keep the two lists in step.
 */
static const struct {
	const char *user, *id, *nickname, *fmt, *attestation, *last_addr;
	int alg;
	unsigned char aaguid0;	/* 0xfb: iCloud Keychain's AAGUID, else zeros */
} fixture_creds[] = {
	{ "root", "fuzz-root-1", "admin key", "packed", "self", "192.0.2.7", -7, 0 },
	{ "nobody", "fuzz-nobody-2999", NULL, "none", "none", NULL, -7, 0xfb },
	{ "nobody", "fuzz-nobody-5897", "second", "none", "none", "", -8, 0 },
	{ "daemon", "fuzz-daemon-1", "daemon's", "packed", "trusted", "2001:db8::1", -257, 0 },
	{ "alice", "fuzz-alice-1", NULL, "none", "untrusted", NULL, -7, 0 },
};
#define N_FIXTURE_CREDS	(sizeof(fixture_creds) / sizeof(fixture_creds[0]))

/* bin has no passkey and a pending enrollment (login_begin enroll=pending). */
#define FIXTURE_ENROLLED	"bin"

static const unsigned char icloud_aaguid[16] = {
	0xfb, 0xfc, 0x30, 0x07, 0x15, 0x4e, 0x4e, 0xcc,
	0x8c, 0x0b, 0x6e, 0x02, 0x05, 0x57, 0xd7, 0xbd,
};

static FILE *real_stderr;
static int verbose;
static char nobody_name[CTL_USER_MAX + 1];

static void
fuzz_fail(const char *what, const char *line, size_t len, json_t *answer)
{
	char *a = answer != NULL ? json_dumps(answer, JSON_COMPACT) : NULL;

	fprintf(real_stderr, "fuzz_control: %s\n  request: %.*s\n  answer: %s\n",
	    what, (int)(len > 400 ? 400 : len), line != NULL ? line : "",
	    a != NULL ? a : "(none)");
	free(a);
	abort();
}

static void
setup_fail(const char *what)
{
	fprintf(real_stderr, "fuzz_control harness setup: %s\n", what);
	abort();
}

static void
fill_store(store_t *st)
{
	for (size_t i = 0; i < N_FIXTURE_CREDS; i++) {
		struct store_credential c;

		memset(&c, 0, sizeof(c));
		c.user = (char *)fixture_creds[i].user;
		c.id = (unsigned char *)fixture_creds[i].id;
		c.id_len = strlen(fixture_creds[i].id);
		c.alg = fixture_creds[i].alg;
		c.pubkey_cose = (unsigned char *)fixture_cose;
		c.pubkey_len = sizeof(fixture_cose);
		c.sign_count = (uint32_t)i;
		c.fmt = (char *)fixture_creds[i].fmt;
		if (fixture_creds[i].aaguid0 == 0xfb)
			memcpy(c.aaguid, icloud_aaguid, sizeof(c.aaguid));
		c.uv = (int)(i & 1);
		c.be = c.bs = i == 1;
		c.attestation = (char *)fixture_creds[i].attestation;
		c.nickname = (char *)fixture_creds[i].nickname;
		c.created = (int64_t)FUZZ_CONTROL_TIME - 86400 * (int64_t)(i + 1);
		c.last_used = fixture_creds[i].last_addr != NULL ?
		    (int64_t)FUZZ_CONTROL_TIME - 60 : 0;
		c.last_addr = (char *)fixture_creds[i].last_addr;
		if (store_cred_add(st, &c) != STORE_OK)
			setup_fail("store_cred_add");
	}
	if (store_enroll_add(st, FIXTURE_ENROLLED,
	    (int64_t)FUZZ_CONTROL_TIME + 10LL * 365 * 86400, "root") != STORE_OK)
		setup_fail("store_enroll_add");
	for (int i = 0; i < 3; i++) {
		struct store_event ev = { .time = (int64_t)FUZZ_CONTROL_TIME - 100 + i,
		    .event = i == 0 ? "daemon_started" : "login_approved",
		    .user = i == 0 ? NULL : i == 1 ? "nobody" : "root",
		    .addr = i == 2 ? "192.0.2.7" : "", .verdict = i == 0 ? "info" : "ok",
		    .reason = NULL, .detail = i == 0 ? "0.1.0" : NULL };

		if (store_event_add(st, &ev) != STORE_OK)
			setup_fail("store_event_add");
	}
}

/* --- the daemon ------------------------------------------------------ */

static void
daemon_new(struct passkeyd *d, unsigned flags)
{
	char err[256];
	struct ceremony_limits limits;

	memset(d, 0, sizeof(*d));
	if (config_parse(flags & F_TIGHT ? config_tight : config_normal, &d->cfg,
	    err, sizeof(err)) != 0)
		setup_fail(err);
	if ((d->policy = rp_policy_new()) == NULL ||
	    rp_policy_set_rp_id(d->policy, d->cfg.rp_id) != RP_OK ||
	    rp_policy_set_require_uv(d->policy, d->cfg.require_uv) != RP_OK)
		setup_fail("policy");
	for (size_t i = 0; i < d->cfg.n_origins; i++)
		if (rp_policy_add_origin(d->policy, d->cfg.origins[i]) != RP_OK)
			setup_fail("policy origin");
	if (store_open(":memory:", &d->store) != STORE_OK)
		setup_fail("store_open(:memory:)");
	if (!(flags & F_EMPTY))
		fill_store(d->store);
	limits.total = d->cfg.max_pending_total;
	limits.per_user = d->cfg.max_pending_per_user;
	limits.per_address = d->cfg.max_pending_per_address;
	limits.per_user_address = d->cfg.max_pending_per_user_address;
	limits.lifetime = d->cfg.ceremony_timeout;
	if ((d->ceremonies = ceremony_table_new(limits)) == NULL ||
	    (d->journal = journal_new()) == NULL ||
	    (d->keys = keycache_new()) == NULL ||
	    (d->control_rates = rate_table_new()) == NULL)
		setup_fail("out of memory");
}

/*
 * The end of a loop turn: commits what is queued, lone audit rows
 * included (see the top of this file).
 */
static void
flush(struct passkeyd *d)
{
	(void)journal_flush(d->journal, d, d->store, clock_monotonic_ms());
	(void)journal_flush(d->journal, d, d->store,
	    clock_monotonic_ms() + JOURNAL_ROWS_DELAY_MS);
}

/* What passkeyd's shutdown does first (main.c drain_journal). */
static void
drain(struct passkeyd *d)
{
	int rounds = 0;

	while (journal_flush(d->journal, d, d->store,
	    clock_monotonic_ms() + JOURNAL_ROWS_DELAY_MS) >= 0)
		if (++rounds > 64)
			fuzz_fail("the journal does not drain (an in-memory store is "
			    "never busy)", NULL, 0, NULL);
}

static void
daemon_free(struct passkeyd *d)
{
	journal_free(d->journal, d);
	d->journal = NULL;
	ceremony_table_free(d->ceremonies);
	keycache_free(d->keys);
	rate_table_free(d->control_rates);
	rp_policy_free(&d->policy);
	store_close(d->store);
	config_free(&d->cfg);
}

/* --- one connection -------------------------------------------------- */

struct conn {
	char bound[CONTROL_BOUND_MAX][CEREMONY_TOKEN_LEN + 1];
	size_t n_bound;
	char token[CEREMONY_TOKEN_LEN + 1];	/* the last one handed out */
};

#define CONN_SERIAL	1

/* control.c room_to_bind: forgets ended ones; 1 when another fits. */
static int
room_to_bind(struct passkeyd *d, struct conn *c)
{
	size_t kept = 0;

	for (size_t i = 0; i < c->n_bound; i++) {
		struct ceremony *cer = ceremony_find(d->ceremonies, c->bound[i]);

		if (cer != NULL && cer->state == CTL_STATE_PENDING)
			memmove(c->bound[kept++], c->bound[i], sizeof(c->bound[i]));
	}
	c->n_bound = kept;
	return kept < CONTROL_BOUND_MAX;
}

/* control.c cancel_bound: the connection is gone. */
static void
cancel_bound(struct passkeyd *d, struct conn *c)
{
	for (size_t i = 0; i < c->n_bound; i++) {
		struct ceremony *cer = ceremony_find(d->ceremonies, c->bound[i]);

		if (cer != NULL && cer->conn == CONN_SERIAL)
			flow_cancel(d, cer, "client_gone");
	}
	c->n_bound = 0;
}

/* The line with every "$T" replaced by the last token; malloc'd. */
static char *
substitute(const char *line, size_t len, const char *token, size_t *outlen)
{
	size_t tlen = strlen(token), n = 0, cap = len + 1;
	char *out;

	for (size_t i = 0; i + 1 < len; i++)
		if (line[i] == '$' && line[i + 1] == 'T')
			cap += tlen;
	if ((out = malloc(cap)) == NULL)
		setup_fail("out of memory");
	for (size_t i = 0; i < len; i++) {
		if (i + 1 < len && line[i] == '$' && line[i + 1] == 'T') {
			memcpy(out + n, token, tlen);
			n += tlen;
			i++;
		} else
			out[n++] = line[i];
	}
	out[n] = '\0';
	*outlen = n;
	return out;
}

static const char *
request_op(const char *line, size_t len)
{
	static char op[32];
	json_t *req = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
	const char *s = json_string_value(json_object_get(req, "op"));

	snprintf(op, sizeof(op), "%s", s != NULL ? s : "");
	json_decref(req);
	return op;
}

/* 1 when the credential object's "user" is name. */
static int
is_user(json_t *cred, const char *name)
{
	const char *u = json_string_value(json_object_get(cred, "user"));

	return u != NULL && strcmp(u, name) == 0;
}

/* The checks on one answer (see the top of this file). */
static void
check_answer(struct passkeyd *d, const struct control_call *call, const char *line,
    size_t len, json_t *ans, struct conn *c)
{
	json_t *ok = json_object_get(ans, "ok");
	const char *op, *token;

	if (call->deferred) {
		if (ans != NULL)
			fuzz_fail("an answer from an op that deferred it", line, len, ans);
	} else if (ans == NULL)
		fuzz_fail("no answer and nothing deferred", line, len, NULL);
	if (ceremony_pending_count(d->ceremonies) > d->cfg.max_pending_total)
		fuzz_fail("more ceremonies pending than max_pending_total", line, len, ans);
	if (call->uid != 0 && (call->deferred || json_is_true(ok))) {
		op = request_op(line, len);
		if (strcmp(op, "login_begin") == 0 || strcmp(op, "enroll") == 0 ||
		    strcmp(op, "revoke_enrollment") == 0)
			fuzz_fail("a root-only op ran for another uid", line, len, ans);
	}
	if (ans == NULL)
		return;
	if (!json_is_object(ans) || !json_is_boolean(ok))
		fuzz_fail("an answer without a boolean \"ok\"", line, len, ans);
	if (call->close_after) {
		const char *e = json_string_value(json_object_get(ans, "error"));

		if (json_is_true(ok) || e == NULL || strcmp(e, "bad_request") != 0)
			fuzz_fail("a closing answer that is not bad_request", line, len, ans);
	}
	if (json_is_false(ok)) {
		const char *e = json_string_value(json_object_get(ans, "error"));

		if (e == NULL || ctl_refusal_from_code(e) == CTL_REFUSAL__COUNT ||
		    ctl_refusal_from_code(e) == CTL_REFUSAL_NONE ||
		    !json_is_string(json_object_get(ans, "message")))
			fuzz_fail("a refusal without a protocol code", line, len, ans);
		return;
	}
	if ((token = json_string_value(json_object_get(ans, "token"))) != NULL) {
		if (!ceremony_token_valid(token) || ceremony_find(d->ceremonies, token) == NULL)
			fuzz_fail("a token that finds no ceremony", line, len, ans);
		snprintf(c->token, sizeof(c->token), "%s", token);
	}
	if (call->uid != 0) {
		/* what a user is shown must be the user's own */
		json_t *list = json_object_get(ans, "credentials"), *v;
		json_t *one = json_object_get(ans, "credential");
		size_t i;

		json_array_foreach(list, i, v)
			if (!is_user(v, call->name))
				fuzz_fail("list shows another account's passkey", line, len, ans);
		if (one != NULL && !is_user(one, call->name))
			fuzz_fail("export of another account's passkey", line, len, ans);
	}
}

/* No root line ran: nobody cannot have changed what others own. */
static void
check_others_intact(struct passkeyd *d)
{
	struct store_credential_list list;
	int pending = 0;

	if (store_cred_list_all(d->store, &list) != STORE_OK)
		setup_fail("store_cred_list_all");
	for (size_t f = 0; f < N_FIXTURE_CREDS; f++) {
		size_t i;

		if (strcmp(fixture_creds[f].user, nobody_name) == 0)
			continue;
		for (i = 0; i < list.count; i++)
			if (list.items[i].id_len == strlen(fixture_creds[f].id) &&
			    memcmp(list.items[i].id, fixture_creds[f].id, list.items[i].id_len) == 0)
				break;
		if (i == list.count)
			fuzz_fail("another account's passkey is gone", fixture_creds[f].id,
			    strlen(fixture_creds[f].id), NULL);
		if (strcmp(list.items[i].user, fixture_creds[f].user) != 0 ||
		    (list.items[i].nickname == NULL) != (fixture_creds[f].nickname == NULL) ||
		    (list.items[i].nickname != NULL &&
		    strcmp(list.items[i].nickname, fixture_creds[f].nickname) != 0))
			fuzz_fail("another account's passkey was changed", fixture_creds[f].id,
			    strlen(fixture_creds[f].id), NULL);
	}
	store_credential_list_free(&list);
	if (store_enroll_pending(d->store, FIXTURE_ENROLLED, (int64_t)fuzz_now,
	    &pending) != STORE_OK || !pending)
		fuzz_fail("bin's enrollment was revoked", FIXTURE_ENROLLED,
		    strlen(FIXTURE_ENROLLED), NULL);
}

/* "+N": moves the clock and sweeps, as the loop does each second. */
static void
advance(struct passkeyd *d, const char *p, size_t len)
{
	long n = 0;

	for (size_t i = 0; i < len && p[i] >= '0' && p[i] <= '9' && n < FUZZ_MAX_STEP; i++)
		n = n * 10 + (p[i] - '0');
	if (n > FUZZ_MAX_STEP)
		n = FUZZ_MAX_STEP;
	fuzz_now += n;
	ceremony_sweep(d->ceremonies, fuzz_now, flow_on_expire, d);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	real_stderr = stderr;
	verbose = getenv("FUZZ_VERBOSE") != NULL;
	/* the daemon's log lines (daemon_log writes to stderr) */
	if (!verbose && (stderr = fopen("/dev/null", "w")) == NULL)
		stderr = real_stderr;
	account_name_lookup(FUZZ_NOBODY_UID, nobody_name, sizeof(nobody_name));
	if (nobody_name[0] == '\0')
		setup_fail("uid 65534 has no account name");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct passkeyd d;
	struct conn c;
	const char *p, *end;
	unsigned flags;
	int lines = 0, root_ran = 0;

	if (size == 0)
		return 0;
	flags = data[0];
	fuzz_now = FUZZ_CONTROL_TIME;
	daemon_new(&d, flags);
	memset(&c, 0, sizeof(c));
	p = (const char *)data + 1;
	end = (const char *)data + size;
	while (p < end && lines++ < FUZZ_MAX_LINES) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((nl != NULL ? nl : end) - p);
		const char *seg = p;
		struct control_call call;
		char *line;
		size_t line_len;
		json_t *ans;
		uid_t uid = flags & F_NOBODY ? FUZZ_NOBODY_UID : 0;

		p = nl != NULL ? nl + 1 : end;
		if (len > 0 && seg[0] == '!') {
			uid = uid == 0 ? FUZZ_NOBODY_UID : 0;
			seg++;
			len--;
		}
		if (len > 0 && seg[0] == '+') {
			advance(&d, seg + 1, len - 1);
			continue;
		}
		line = substitute(seg, len, c.token, &line_len);
		if (line_len > CONTROL_LINE_MAX) {
			/* control.c answers bad_request and closes, unparsed */
			free(line);
			break;
		}
		memset(&call, 0, sizeof(call));
		call.server = NULL;
		call.uid = uid;
		call.name = uid == 0 ? "" : nobody_name;
		call.conn = CONN_SERIAL;
		call.can_bind = room_to_bind(&d, &c);
		root_ran |= uid == 0;
		ans = control_dispatch(&d, &call, line, line_len);
		/* a page the op serialized itself: it must be one JSON object, as control.c sends it */
		if (call.text != NULL) {
			if (ans != NULL)
				fuzz_fail("both an answer and a serialized one", line, line_len, ans);
			if ((ans = json_loads(call.text, JSON_REJECT_DUPLICATES, NULL)) == NULL ||
			    strchr(call.text, '\n') != NULL || strlen(call.text) > CONTROL_LINE_MAX)
				fuzz_fail("a serialized answer that is not one JSON line", line, line_len,
				    NULL);
			free(call.text);
			call.text = NULL;
		}
		if (verbose) {
			char *a = ans != NULL ? json_dumps(ans, JSON_COMPACT) : NULL;

			fprintf(real_stderr, "uid %u> %s\n< %s\n", (unsigned)uid, line,
			    a != NULL ? a : call.deferred ? "(deferred)" : "(none)");
			free(a);
		}
		check_answer(&d, &call, line, line_len, ans, &c);
		json_decref(ans);
		free(line);
		if (call.bind_token[0] != '\0' && c.n_bound < CONTROL_BOUND_MAX)
			memcpy(c.bound[c.n_bound++], call.bind_token, sizeof(call.bind_token));
		if (flags & F_FLUSH_EACH)
			flush(&d);
		if (call.close_after)
			break;
	}
	cancel_bound(&d, &c);
	if (!(flags & F_NO_DRAIN))
		drain(&d);
	if (!root_ran && !(flags & F_EMPTY))
		check_others_intact(&d);
	daemon_free(&d);
	return 0;
}
